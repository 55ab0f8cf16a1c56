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
    m->afn = ctx->alloc;
    m->aud = ctx->alloc_ud;
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
    if (m->bv && m->vcov) /* built by glm_model_vcov through the model's hook */
        m->afn(m->aud, m->vcov, 0, 0);
    else
        strata_free(ctx, m->vcov, 0);
    glm_bvcov_free(ctx, m->bv);
    for (int k = 0; k < GLM_NPROV; k++)
        strata_free(ctx, m->prov[k], 0);
    strata_free(ctx, m, sizeof *m);
}

size_t glm_model_nterms(const glm_model *m) { return m->p; }

const char *glm_model_term(const glm_model *m, size_t i)
{
    return i < m->p ? m->f->colnames[i] : NULL;
}

glm_bvcov *glm_bvcov_alloc(strata_ctx *ctx, size_t L, size_t q)
{
    glm_bvcov *bv = strata_calloc(ctx, 1, sizeof *bv);
    if (!bv)
        return NULL;
    bv->L = L, bv->q = q;
    bv->lcol = strata_alloc(ctx, (L + 1) * sizeof *bv->lcol);
    bv->rcol = strata_alloc(ctx, (q + 1) * sizeof *bv->rcol);
    bv->dense = strata_alloc(ctx, (q * q + 1) * sizeof *bv->dense);
    bv->cross = strata_alloc(ctx, (L * q + 1) * sizeof *bv->cross);
    bv->ldiag = strata_alloc(ctx, (L + 1) * sizeof *bv->ldiag);
    bv->lfac = strata_alloc(ctx, (L * q + 1) * sizeof *bv->lfac);
    if (!bv->lcol || !bv->rcol || !bv->dense || !bv->cross || !bv->ldiag || !bv->lfac) {
        glm_bvcov_free(ctx, bv);
        return NULL;
    }
    return bv;
}

void glm_bvcov_free(strata_ctx *ctx, glm_bvcov *bv)
{
    if (!bv)
        return;
    STRATA_FREE_ALL(ctx, bv->lcol, bv->rcol, bv->dense, bv->cross, bv->ldiag, bv->lfac);
    strata_free(ctx, bv, sizeof *bv);
}

/* Level a's entry with level b: (a == b) ldiag[a] - sum_k lfac[a][k] cross[b][k]. */
static double level_entry(const glm_bvcov *bv, size_t a, size_t b)
{
    const double *ea = bv->lfac + a * bv->q, *cb = bv->cross + b * bv->q;
    double t = a == b ? bv->ldiag[a] : 0;
    for (size_t k = 0; k < bv->q; k++)
        t -= ea[k] * cb[k];
    return t;
}

void glm_bvcov_se(const glm_bvcov *bv, double *se)
{
    for (size_t k = 0; k < bv->q; k++)
        se[bv->rcol[k]] = sqrt(bv->dense[k * bv->q + k]);
    for (size_t a = 0; a < bv->L; a++)
        se[bv->lcol[a]] = sqrt(level_entry(bv, a, a));
}

/* The p x p matrix from the block form: O(L^2 q), the lower level triangle
 * mirrored (so V is exactly symmetric). */
static void bvcov_fill(const glm_bvcov *bv, size_t p, double *v)
{
    const size_t L = bv->L, q = bv->q;
    for (size_t k = 0; k < q; k++)
        for (size_t l = 0; l < q; l++)
            v[bv->rcol[k] * p + bv->rcol[l]] = bv->dense[k * q + l];
    for (size_t a = 0; a < L; a++) {
        size_t ja = bv->lcol[a];
        for (size_t k = 0; k < q; k++)
            v[ja * p + bv->rcol[k]] = v[bv->rcol[k] * p + ja] = bv->cross[a * q + k];
        for (size_t b = 0; b <= a; b++)
            v[ja * p + bv->lcol[b]] = v[bv->lcol[b] * p + ja] = level_entry(bv, a, b);
    }
}

/* With the block form the matrix is made on first use, once: a reader that
 * loses the race frees its copy and takes the published one (the only write
 * to a returned model, invisible to its readers). NULL when memory runs out. */
const double *glm_model_vcov(const glm_model *m)
{
    glm_model *w = (glm_model *)(uintptr_t)m;
    double *v = __atomic_load_n(&w->vcov, __ATOMIC_ACQUIRE), *none = NULL;
    size_t bytes;
    if (v || !m->bv || !strata_mul_ok(m->p * m->p, sizeof *v, &bytes))
        return v;
    if (!(v = m->afn(m->aud, NULL, 0, bytes ? bytes : 1)))
        return NULL;
    bvcov_fill(m->bv, m->p, v);
    if (!__atomic_compare_exchange_n(&w->vcov, &none, v, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        m->afn(m->aud, v, bytes, 0);
        v = none;
    }
    return v;
}

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
