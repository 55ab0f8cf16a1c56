/* tests/fuzz/fuzz_derive.c — the derive spec reader and derive itself
 * (engine/derive/) on any text as a derive spec, over a fixed cohort with a
 * spells table and a code list htn.csv beside the spec (fuzz_base.h). */
#include "fuzz_base.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("STRATA_H5_PROBE", "0", 1); /* see fuzz_csv.c */
    fuzz_base(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    strata_derive_report rep;
    const char *spec = fuzz_path("d.yaml");
    const char *out = fuzz_path("out.h5");
    FILE *f = fopen(spec, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    if (strata_derive(ctx, fuzz_path("cohort.h5"), spec, out, &rep) == STRATA_OK)
        unlink(out);
    else if (getenv("STRATA_FUZZ_VERBOSE"))
        fprintf(stderr, "derive: %s\n", strata_ctx_errmsg(ctx));
    strata_ctx_free(ctx);
    return 0;
}
