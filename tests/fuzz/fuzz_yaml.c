/* tests/fuzz/fuzz_yaml.c — the run-spec YAML reader (engine/io/yaml_tree.c):
 * parse any text; every typed read on every top-level key. */
#include "fuzz_common.h"
#include "yaml_tree.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    ynode *root = NULL;
    if (strata_yaml_parse(ctx, "fuzz.yaml", (const char *)data, size, &root) == STRATA_OK) {
        for (size_t i = 0; i < root->n; i++) {
            const char *s = NULL;
            double d = 0;
            long l = 0;
            int b = 0;
            (void)strata_yaml_str(ctx, "f", root, root->keys[i], &s);
            (void)strata_yaml_double(ctx, "f", root, root->keys[i], &d);
            (void)strata_yaml_long(ctx, "f", root, root->keys[i], &l);
            (void)strata_yaml_bool(ctx, "f", root, root->keys[i], &b);
        }
    }
    strata_yaml_free(ctx, root);
    strata_ctx_free(ctx);
    return 0;
}
