/* models/cox/cox_model.c — the Cox model behind models/cox/cox.h: the fit from a
 * column source with its formula, weights and ties kept, the coefficient table
 * with hazard ratios, the summary, provenance and a per-call scoring binding.
 * Invariant: scoring only reads the model; scores come from cox_score_rows in
 * fixed blocks, so a loaded model scores to the same bytes as the fitted one. */
#include "cox_internal.h"

#include <string.h>

const char *const cox_prov_keys[COX_NPROV] = {"input_path", "input_hash", "strata_version"};

void cox_model_free(strata_ctx *ctx, cox_model *m)
{
    if (!m)
        return;
    cox_fit_out_free(ctx, &m->fo);
    strata_free(ctx, m->weights, 0);
    strata_free(ctx, m->formula, 0);
    for (int k = 0; k < COX_NPROV; k++)
        strata_free(ctx, m->prov[k], 0);
    strata_free(ctx, m, sizeof *m);
}

strata_status cox_model_fit(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                            cox_model **out)
{
    return cox_model_fit_beta(ctx, src, p, NULL, NULL, out);
}

strata_status cox_model_fit_beta(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                 cox_beta_fn fn, void *ud, cox_model **out)
{
    cox_params prm;
    cox_model *m;
    strata_status st, s2;
    *out = NULL;
    cox_params_init(&prm);
    prm.ties = p->ties == STRATA_COX_BRESLOW ? COX_TIES_BRESLOW : COX_TIES_EFRON;
    prm.robust = p->robust;
    prm.eps = p->epsilon;
    prm.max_iter = p->max_iter;
    prm.beta_fn = fn;
    prm.beta_ud = ud;
    STRATA_TRY(cox_params_check(ctx, &prm));
    if (!(m = strata_calloc(ctx, 1, sizeof *m)))
        return STRATA_ENOMEM;
    m->ties = prm.ties;
    st = cox_fit_source(ctx, src, p->formula, p->weights, &prm, &m->fo);
    s2 = m->fo.res ? STRATA_OK : st;
    if (s2 == STRATA_OK && ((p->weights && !(m->weights = strata_strdup(ctx, p->weights))) ||
                            !(m->formula = strata_strdup(ctx, p->formula))))
        s2 = STRATA_ENOMEM;
    if (s2 != STRATA_OK) {
        cox_model_free(ctx, m);
        return s2;
    }
    *out = m;
    return st;
}

size_t cox_model_nterms(const cox_model *m)
{
    return m ? m->fo.res->p : 0;
}

const char *cox_model_term(const cox_model *m, size_t i)
{
    return m && i < m->fo.res->p ? m->fo.formula->colnames[i + 1] : NULL;
}

const char *cox_model_formula(const cox_model *m)
{
    return m ? m->formula : NULL;
}

const char *cox_model_time_column(const cox_model *m)
{
    return m ? m->fo.cf->time : NULL;
}

const char *cox_model_event_column(const cox_model *m)
{
    return m ? m->fo.cf->event : NULL;
}

const char *cox_model_strata_column(const cox_model *m)
{
    return m ? m->fo.cf->strata : NULL;
}

void cox_model_coef(const cox_model *m, size_t i, double conf_level, strata_cox_coef *out)
{
    cox_coef c;
    cox_coef_row(m->fo.res, i, 1, conf_level, &c);
    out->estimate = c.estimate;
    out->std_error = c.std_error;
    out->z = c.z;
    out->p_value = c.p_value;
    out->hr = c.hr;
    out->hr_low = c.hr_low;
    out->hr_high = c.hr_high;
    out->aliased = c.aliased;
    out->robust = c.robust;
}

void cox_model_summary(const cox_model *m, strata_cox_summary *o)
{
    const cox_result *r = m->fo.res;
    memset(o, 0, sizeof *o);
    o->formula = m->formula;
    o->ties = m->ties == COX_TIES_BRESLOW ? STRATA_COX_BRESLOW : STRATA_COX_EFRON;
    o->n_used = r->n;
    o->n_dropped = m->fo.n_dropped;
    o->n_events = r->n_events;
    o->n_strata = r->nstrata;
    o->n_clusters = r->rse ? r->nclusters : 0;
    o->loglik_null = r->loglik_null;
    o->loglik = r->loglik;
    o->lr_test = r->lr_test;
    o->wald_test = r->wald_test;
    o->score_test = r->score_test;
    o->df = r->rank;
    o->concordance = r->concordance;
    o->iterations = r->iter;
    o->converged = r->converged;
    o->robust = r->rse != NULL;
}

static int prov_index(const char *key)
{
    for (int k = 0; key && k < COX_NPROV; k++)
        if (!strcmp(key, cox_prov_keys[k]))
            return k;
    return -1;
}

const char *cox_model_provenance(const cox_model *m, const char *key)
{
    int k = prov_index(key);
    return m && k >= 0 ? m->prov[k] : NULL;
}

strata_status cox_model_set_provenance(strata_ctx *ctx, cox_model *m, const char *key, const char *value)
{
    int k = prov_index(key);
    char *v;
    if (k < 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox provenance: unknown key '%s'", key ? key : "(null)");
    if (!(v = strata_strdup(ctx, value)))
        return STRATA_ENOMEM;
    strata_free(ctx, m->prov[k], 0);
    m->prov[k] = v;
    return STRATA_OK;
}

strata_status cox_bind(strata_ctx *ctx, const cox_model *m, const glm_source *src,
                       strata_unseen_policy unseen, cox_binding **out)
{
    cox_binding *b;
    strata_status st;
    *out = NULL;
    if (!(b = strata_calloc(ctx, 1, sizeof *b)))
        return STRATA_ENOMEM;
    b->m = m;
    b->src = *src;
    st = cox_score_bind(ctx, &m->fo, &b->src, unseen, &b->sm);
    if (st != STRATA_OK) {
        cox_binding_free(ctx, b);
        return st;
    }
    *out = b;
    return STRATA_OK;
}

void cox_binding_free(strata_ctx *ctx, cox_binding *b)
{
    if (!b)
        return;
    cox_smap_free(ctx, &b->sm);
    strata_free(ctx, b, sizeof *b);
}

size_t cox_score_chunk(strata_ctx *ctx, const cox_binding *b, size_t nh, size_t extra)
{
    const glm_formula *f = b->m->fo.formula;
    size_t budget = strata_ctx_memory_budget(ctx), ncol = b->m->fo.cf->strata != NULL, rows;
    size_t fixed = COX_SCORE_BLOCK * (f->p + glm_design_work(f) + 1) * sizeof(double) + f->nvars * sizeof(double *);
    if (budget == 0)
        return COX_SCORE_CHUNK;
    for (size_t v = 0; v < b->sm.nvars; v++)
        ncol += b->sm.vb[v].src_col != (size_t)-1;
    /* half of what the block workspace leaves: the other half for what the caller holds */
    rows = budget > fixed ? (budget - fixed) / 2 / ((ncol + 1 + nh + extra) * sizeof(double)) : 0;
    rows = rows / COX_SCORE_BLOCK * COX_SCORE_BLOCK;
    rows = rows < COX_SCORE_BLOCK ? COX_SCORE_BLOCK : rows;
    if (rows >= COX_SCORE_CHUNK)
        return COX_SCORE_CHUNK;
    if (rows < b->src.nrows)
        strata_log(ctx, STRATA_LOG_INFO, "%s: scoring the Cox model under the memory budget of %zu bytes: chunks of %zu rows",
                   b->src.name, budget, rows);
    return rows;
}

strata_status cox_score_rows_bound(strata_ctx *ctx, const cox_binding *b, size_t row0, size_t n,
                                   const double *horizons, size_t nh, double *lp, double *risk)
{
    return cox_score_rows(ctx, &b->m->fo, &b->src, &b->sm, row0, n, horizons, nh, lp, risk);
}

/* ---- variables and design rows: the reasons on an intervention list ----- */

size_t cox_model_nvars(const cox_model *m) { return m ? glm_formula_nvars(m->fo.formula) : 0; }

const char *cox_model_var(const cox_model *m, size_t v, int *is_factor)
{
    return m ? glm_formula_var(m->fo.formula, v, is_factor) : NULL;
}

/* Coefficient j is design column j + 1: the formula's column 0 is the
 * intercept, which a Cox model has not (cox_score.c). */
size_t cox_model_term_vars(const cox_model *m, size_t j, size_t *vars, size_t max)
{
    return m ? glm_formula_term_vars(m->fo.formula, j + 1, vars, max) : 0;
}

strata_status cox_design_rows_bound(strata_ctx *ctx, const cox_binding *b, size_t row0, size_t n,
                                    double *X)
{
    size_t pf = b->m->fo.formula->p, p = cox_model_nterms(b->m);
    double *full;
    strata_status st;
    if (pf != p + 1)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "cox: design of %zu columns for %zu terms", pf, p);
    if (!(full = strata_alloc(ctx, (n * pf + 1) * sizeof *full)))
        return STRATA_ENOMEM;
    st = glm_formula_design_rows(ctx, b->m->fo.formula, b->sm.vb, &b->src, 8192, row0, n, full);
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        memcpy(X + i * p, full + i * pf + 1, p * sizeof *X);
    strata_free(ctx, full, 0);
    return st;
}
