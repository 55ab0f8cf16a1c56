/* tests/fuzz/fuzz_mapping.c — the import mapping YAML (csv_mapping.c through
 * strata_yaml_check and libyaml's document loader). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    strata_csv_mapping *m = NULL;
    const char *path = fuzz_file("yaml", data, size);
    if (strata_csv_mapping_new(ctx, &m) == STRATA_OK)
        (void)strata_csv_mapping_load_yaml(m, path);
    strata_csv_mapping_free(m);
    strata_ctx_free(ctx);
    return 0;
}
