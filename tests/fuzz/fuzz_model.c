/* tests/fuzz/fuzz_model.c — the model loader (engine/model/model_io.c) on any
 * bytes as a model file; the structure probe is off (see fuzz_cohort.c). */
#include "fuzz_common.h"

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
    strata_model *m = NULL;
    const char *path = fuzz_file("h5", data, size);
    if (strata_model_load(ctx, path, &m) == STRATA_OK)
        strata_model_free(ctx, m);
    strata_ctx_free(ctx);
    return 0;
}
