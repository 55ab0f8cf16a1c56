/* tests/fuzz/fuzz_csv.c — the CSV importer: type inference, then the cohort
 * written and, when the import succeeds, read back and validated. */
#include "fuzz_common.h"

#include <string.h>

/* The structure probe forks; a forked child inherits libFuzzer's handlers and
 * reports the child's exit as a crash. The files here are strata's own. */
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
    strata_csv_import_params p;
    strata_csv_import_report rep;
    char out[128];
    const char *path = fuzz_file("csv", data, size);
    snprintf(out, sizeof out, "/tmp/strata-fuzz-%ld.out.h5", (long)getpid());
    strata_csv_import_params_init(&p);
    p.skip_bad_rows = size > 0 && (data[0] & 1);
    if (strata_csv_import(ctx, path, out, &p, &rep) == STRATA_OK) {
        strata_validate_report vr;
        (void)strata_cohort_validate(ctx, out, NULL, NULL, &vr);
        unlink(out);
    }
    strata_ctx_free(ctx);
    return 0;
}
