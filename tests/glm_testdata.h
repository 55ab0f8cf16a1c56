/* tests/glm_testdata.h — test-only helpers shared by the GLM tests: load the
 * columns a test needs from a real CSV (libcsv) into a temporary cohort with
 * the cohort writer, and write in-memory columns as a cohort. Kept in tests/
 * until `strata import` lands; not part of the library. */
#ifndef GLM_TESTDATA_H
#define GLM_TESTDATA_H

#include "strata/strata.h"

typedef enum td_kind {
    TD_NUM = 0,  /* float64; "?", "NA", "" missing */
    TD_CAT,      /* categorical int32, levels in order of first appearance (unsorted on purpose) */
    TD_IND,      /* 0/1 indicator of src == arg */
    TD_POS,      /* float64, values <= 0 missing */
    TD_POSDIV    /* float64 divided by atof(arg), values <= 0 missing */
} td_kind;

typedef struct td_col {
    const char *src;  /* CSV header name */
    const char *name; /* cohort column name */
    td_kind kind;
    const char *arg;
} td_col;

/* Reads csv_path and writes the columns (plus patient_id = row number, role
 * patient_id) as a cohort at out_path. Returns rows written, or -1. */
long td_csv_to_cohort(strata_ctx *ctx, const char *csv_path, const td_col *cols, int ncols,
                      const char *out_path);

/* In-memory column for td_write_cohort. */
typedef struct td_mem {
    const char *name;
    const double *num;           /* numeric column (float64), or NULL */
    const int32_t *codes;        /* categorical codes (-1 = NA) */
    const char *const *levels;
    size_t n_levels;
} td_mem;

strata_status td_write_cohort(strata_ctx *ctx, const char *path, const td_mem *cols, int ncols,
                              size_t n);

#endif
