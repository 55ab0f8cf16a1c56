/* engine/model/model_vars.c — a model's variables (strata_model_nvars,
 * strata_model_var, strata_model_term_vars): the cohort columns on the
 * formula's right-hand side and which of them each design column is made of,
 * so per-patient explanations can speak of "age" rather than
 * "rcs(age, 4)age'" (docs/stratify.md#reason-codes). The GLM keeps its
 * formula to itself (models/glm/glm_vars.c). */
#include "model_internal.h"

size_t strata_model_nvars(const strata_model *m) { return m ? glm_model_nvars(m->glm) : 0; }

const char *strata_model_var(const strata_model *m, size_t v, int *is_factor)
{
    return m ? glm_model_var(m->glm, v, is_factor) : NULL;
}

size_t strata_model_term_vars(const strata_model *m, size_t j, size_t *vars, size_t max)
{
    return m ? glm_model_term_vars(m->glm, j, vars, max) : 0;
}
