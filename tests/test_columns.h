/* tests/test_columns.h — reading a cohort column back as doubles, for the
 * derive tests (test_derive.c, test_synth_derive.c), which link libstrata;
 * testutil.c is also linked by tests that do not, so it stays out of there. */
#ifndef STRATA_TEST_COLUMNS_H
#define STRATA_TEST_COLUMNS_H

#include "strata/strata.h"
#include "testutil.h"

#include <stdlib.h>

/* Column name (any group) of the cohort at path as doubles (malloc'd, *n rows). */
static double *tu_column_f64(const char *path, const char *name, size_t *n)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    double *v;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, c, name, &j), STRATA_OK);
    *n = strata_cohort_column(c, j)->length;
    v = calloc(*n + 1, sizeof *v);
    assert_non_null(v);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, *n, v), STRATA_OK);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    return v;
}

#endif
