/* tests/fuzz/fuzz_model.c — the model loaders on any bytes as a model file:
 * strata_model_load (engine/model/model_io.c, engine/io/model_file.c,
 * models/glm/glm_record.c), then on a GLM the elastic-net extras
 * (strata_elnet_load, models/elnet/elnet_record.c), and on a file that is not
 * a GLM strata_cox_load (models/cox/cox_record.c). The structure probe is off
 * (see fuzz_cohort.c). */
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
    if (strata_model_load(ctx, path, &m) == STRATA_OK) {
        strata_elnet *e = NULL;
        if (strata_elnet_load(ctx, path, m, &e) == STRATA_OK)
            strata_elnet_free(ctx, e);
        strata_model_free(ctx, m);
    } else {
        strata_cox *c = NULL;
        if (strata_cox_load(ctx, path, &c) == STRATA_OK)
            strata_cox_free(ctx, c);
    }
    strata_ctx_free(ctx);
    return 0;
}
