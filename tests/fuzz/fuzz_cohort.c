/* tests/fuzz/fuzz_cohort.c — the cohort reader and validator on any bytes:
 * open strictly and read every column in every type, then validate. The
 * structure probe is off so the fuzzer reaches strata's own code; crashes
 * inside libhdf5 are recorded apart (docs/reliability.md#fuzzing). */
#include "fuzz_common.h"

#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("STRATA_H5_PROBE", "0", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    strata_cohort *c = NULL;
    strata_validate_report vr;
    const char *path = fuzz_file("h5", data, size);
    if (strata_cohort_open(ctx, path, &c) == STRATA_OK) {
        for (size_t j = 0; j < strata_cohort_ncols(c); j++) {
            const strata_column_info *ci = strata_cohort_column(c, j);
            size_t n = ci->length < 4096 ? ci->length : 4096;
            double *d = malloc((n ? n : 1) * sizeof *d);
            int64_t *l = malloc((n ? n : 1) * sizeof *l);
            int32_t *k = malloc((n ? n : 1) * sizeof *k);
            (void)strata_cohort_read_f64(ctx, c, j, 0, n, d);
            (void)strata_cohort_read_i64(ctx, c, j, 0, n, l);
            (void)strata_cohort_read_i32(ctx, c, j, 0, n, k);
            free(d);
            free(l);
            free(k);
        }
        strata_cohort_close(c);
    }
    (void)strata_cohort_validate(ctx, path, NULL, NULL, &vr);
    strata_ctx_free(ctx);
    return 0;
}
