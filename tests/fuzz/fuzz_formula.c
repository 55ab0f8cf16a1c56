/* tests/fuzz/fuzz_formula.c — the model formula parser (models/glm/formula.c):
 * any text, NUL-terminated. Fixes belong to the GLM code's owner; this
 * harness only finds. */
#include "fuzz_common.h"
#include "glm_internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strata_ctx *ctx = fuzz_ctx();
    glm_formula *f = NULL;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (glm_formula_parse(ctx, text, &f) == STRATA_OK)
        glm_formula_free(ctx, f);
    free(text);
    strata_ctx_free(ctx);
    return 0;
}
