/* labels: unit */
/* tests/test_format_doc.c — the h5py example in docs/cohort-format.md, run
 * exactly as printed, writes a cohort that strata reads and validates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Extracts the first ```python block of the doc into path. */
static void extract_example(const char *doc, const char *path)
{
    char *text = tu_read_file(doc, NULL), *start, *end;
    FILE *f;
    assert_non_null(text);
    start = strstr(text, "```python\n");
    assert_non_null(start);
    start += strlen("```python\n");
    end = strstr(start, "```");
    assert_non_null(end);
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(start, 1, (size_t)(end - start), f);
    fclose(f);
    free(text);
}

static void test_doc_example__h5py_cohort_validates_and_reads(void **state)
{
    char *out = NULL;
    const char *script = tu_tmp("example.py");
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    double v[4];
    int rc;
    (void)state;
    if (tu_run_sh(NULL, "/usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null") != 0) {
        /* scripts/setup.sh --test installs python3-h5py; without it this test cannot run. */
        fail_msg("python3-h5py is not installed (scripts/setup.sh --test installs it)");
    }
    extract_example(tu_src("docs/cohort-format.md"), script);
    rc = tu_run_sh(&out, "cd '%s' && /usr/bin/python3 '%s'", tu_tmp(""), script);
    assert_int_equal(rc, 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("cohort.h5")), 0);
    assert_contains(out, "valid: 4 patients");
    free(out);

    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("cohort.h5"), &c), STRATA_OK);
    assert_string_equal(strata_cohort_attr(c, "extract_date"), "2025-12-31");
    assert_int_equal(strata_cohort_find_role(c, STRATA_ROLE_PCN) >= 0, 1);
    assert_status(ctx, strata_cohort_find(ctx, c, "imd_decile", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 4, v), STRATA_OK);
    assert_true(v[0] == 1 && v[1] == 10 && isnan(v[2]) && v[3] == 4);
    assert_status(ctx, strata_cohort_find(ctx, c, "ethnicity", &j), STRATA_OK);
    assert_string_equal(strata_cohort_column(c, j)->levels[4], "White");
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 4, v), STRATA_OK);
    assert_true(v[0] == 4 && isnan(v[2]));
    assert_status(ctx, strata_cohort_find(ctx, c, "bmi", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 4, v), STRATA_OK);
    assert_rel_close(v[0], 24.1, 1e-6, "bmi[0] (float32)");
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_example__h5py_cohort_validates_and_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
