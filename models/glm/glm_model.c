/* models/glm/glm_model.c — the fitted GLM as a value: allocation, the read-only
 * accessors behind strata_model_* (coefficient table with tests and Wald
 * intervals, covariance, summary, provenance) and the one setter, provenance,
 * used before the model is shared. Invariant: no accessor writes the model. */
#include "dist_internal.h"
#include "glm_internal.h"

#include <math.h>
#include <string.h>

const char *const glm_prov_keys[GLM_NPROV] = {"input_path", "input_hash", "created",
                                              "strata_version", "blas_config", "n_rows"};

static strata_status model_alloc(strata_ctx *ctx, glm_formula *f, int with_vcov, glm_model **out)
{
    glm_model *m = strata_calloc(ctx, 1, sizeof *m);
    size_t p = f->p;
    *out = NULL;
    if (!m)
        return STRATA_ENOMEM;
    m->f = f;
    m->p = p;
    m->beta = strata_calloc(ctx, p, sizeof *m->beta);
    m->se = strata_calloc(ctx, p, sizeof *m->se);
    m->aliased = strata_calloc(ctx, p, 1);
    m->vcov = with_vcov ? strata_calloc(ctx, p * p, sizeof *m->vcov) : NULL;
    if (!m->beta || !m->se || !m->aliased || (with_vcov && !m->vcov)) {
        m->f = NULL;
        glm_model_free(ctx, m);
        return STRATA_ENOMEM;
    }
    m->sum.formula = f->text;
    m->block_rows = 8192;
    *out = m;
    return STRATA_OK;
}

strata_status glm_model_alloc(strata_ctx *ctx, glm_formula *f, glm_model **out)
{
    return model_alloc(ctx, f, 1, out);
}

strata_status glm_model_alloc_novcov(strata_ctx *ctx, glm_formula *f, glm_model **out)
{
    return model_alloc(ctx, f, 0, out);
}

void glm_model_free(strata_ctx *ctx, glm_model *m)
{
    if (!m)
        return;
    glm_formula_free(ctx, m->f);
    strata_free(ctx, m->beta, 0);
    strata_free(ctx, m->se, 0);
    strata_free(ctx, m->aliased, 0);
    strata_free(ctx, m->vcov, 0);
    for (int k = 0; k < GLM_NPROV; k++)
        strata_free(ctx, m->prov[k], 0);
    strata_free(ctx, m, sizeof *m);
}

size_t glm_model_nterms(const glm_model *m) { return m->p; }

const char *glm_model_term(const glm_model *m, size_t i)
{
    return i < m->p ? m->f->colnames[i] : NULL;
}

const double *glm_model_vcov(const glm_model *m) { return m->vcov; }

void glm_model_summary(const glm_model *m, strata_fit_summary *out) { *out = m->sum; }

const char *glm_model_weights(const glm_model *m)
{
    return m->f->weights >= 0 ? m->f->vars[m->f->weights].column : NULL;
}

/* Statistic, p-value (t with df_residual or z) and R's confint.default interval. */
void glm_model_coef(const glm_model *m, size_t i, strata_coef *o)
{
    const double zq = 1.959963984540054; /* qnorm(0.975): R's confint.default */
    memset(o, 0, sizeof *o);
    if (i >= m->p)
        return;
    o->aliased = m->aliased[i];
    o->estimate = m->beta[i];
    o->std_error = m->se[i];
    if (o->aliased) {
        o->statistic = o->p_value = o->conf_low = o->conf_high = NAN;
        return;
    }
    o->statistic = o->estimate / o->std_error;
    o->p_value = m->sum.t_statistic ? strata_pt_upper2(o->statistic, m->sum.df_residual)
                                    : strata_pnorm_upper2(o->statistic);
    o->conf_low = o->estimate - zq * o->std_error;
    o->conf_high = o->estimate + zq * o->std_error;
}

static int prov_index(const char *key)
{
    for (int k = 0; key && k < GLM_NPROV; k++)
        if (!strcmp(key, glm_prov_keys[k]))
            return k;
    return -1;
}

const char *glm_model_provenance(const glm_model *m, const char *key)
{
    int k = prov_index(key);
    return k >= 0 ? m->prov[k] : NULL;
}

strata_status glm_model_set_provenance(strata_ctx *ctx, glm_model *m, const char *key,
                                       const char *value)
{
    int k = prov_index(key);
    char *v;
    if (k < 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "model provenance: unknown key '%s'", key ? key : "(null)");
    if (!(v = strata_strdup(ctx, value ? value : "")))
        return STRATA_ENOMEM;
    strata_free(ctx, m->prov[k], 0);
    m->prov[k] = v;
    return STRATA_OK;
}
