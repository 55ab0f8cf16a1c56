/* tests/fuzz/fuzz_formula.c — the model formula parser (models/glm/glm_formula.c)
 * on any text, NUL-terminated, and the design layout (glm_layout.c) of every
 * formula it accepts (its variables taken as numeric). */
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
    if (glm_formula_parse(ctx, text, &f) == STRATA_OK) {
        (void)glm_design_layout(ctx, f);
        glm_formula_free(ctx, f);
    }
    free(text);
    strata_ctx_free(ctx);
    return 0;
}
