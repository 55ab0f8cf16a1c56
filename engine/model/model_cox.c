/* engine/model/model_cox.c — the Cox model on a cohort (strata/cox.h): the cohort
 * as the estimator's column source, the fit with provenance (path, SHA-256), the
 * coefficient table with hazard ratios, the summary and scoring at horizons.
 * Invariant: the estimator is reached through models/cox only; scores come from
 * cox_score_rows in fixed blocks, so a loaded model scores to the same bytes. */
#include "model_cox.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static strata_status co_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                             const strata_column_info **info)
{
    strata_cohort *c = ud;
    STRATA_TRY(strata_cohort_find(ctx, c, col, j));
    *info = strata_cohort_column(c, *j);
    return STRATA_OK;
}

static strata_status co_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    return strata_cohort_read_f64(ctx, (strata_cohort *)ud, j, row0, n, out);
}

void model_cox_source(strata_cohort *c, glm_source *s)
{
    s->ud = c;
    s->name = strata_cohort_path(c);
    s->nrows = strata_cohort_nrows(c);
    s->find = co_find;
    s->read_f64 = co_read;
}

const char *const cox_prov_keys[COX_NPROV] = {"input_path", "input_hash", "strata_version"};

void strata_cox_params_init(strata_cox_params *p)
{
    cox_params q;
    cox_params_init(&q);
    memset(p, 0, sizeof *p);
    p->ties = STRATA_COX_EFRON;
    p->epsilon = q.eps;
    p->max_iter = q.max_iter;
}

void strata_cox_free(strata_ctx *ctx, strata_cox *m)
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

/* input_path, input_hash ("sha256:<hex>"), strata_version. */
static strata_status provenance(strata_ctx *ctx, strata_cohort *cohort, strata_cox *m)
{
    char hex[65], val[80];
    STRATA_TRY(strata_file_sha256(ctx, strata_cohort_path(cohort), hex));
    snprintf(val, sizeof val, "sha256:%s", hex);
    m->prov[0] = strata_strdup(ctx, strata_cohort_path(cohort));
    m->prov[1] = strata_strdup(ctx, val);
    m->prov[2] = strata_strdup(ctx, strata_version());
    return m->prov[0] && m->prov[1] && m->prov[2] ? STRATA_OK : STRATA_ENOMEM;
}

strata_status strata_cox_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_cox_params *p,
                             strata_cox **out)
{
    glm_source src;
    cox_params prm;
    strata_cox *m;
    strata_status st, s2;
    *out = NULL;
    if (!cohort || !p || !p->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_cox_fit: cohort, params and formula are required");
    cox_params_init(&prm);
    prm.ties = p->ties == STRATA_COX_BRESLOW ? COX_TIES_BRESLOW : COX_TIES_EFRON;
    prm.robust = p->robust;
    prm.eps = p->epsilon;
    prm.max_iter = p->max_iter;
    STRATA_TRY(cox_params_check(ctx, &prm));
    if (!(m = strata_calloc(ctx, 1, sizeof *m)))
        return STRATA_ENOMEM;
    m->ties = prm.ties;
    model_cox_source(cohort, &src);
    st = cox_fit_source(ctx, &src, p->formula, p->weights, &prm, &m->fo);
    s2 = m->fo.res ? provenance(ctx, cohort, m) : st;
    if (s2 == STRATA_OK && ((p->weights && !(m->weights = strata_strdup(ctx, p->weights))) ||
                            !(m->formula = strata_strdup(ctx, p->formula))))
        s2 = STRATA_ENOMEM;
    if (s2 != STRATA_OK) {
        strata_cox_free(ctx, m);
        return s2;
    }
    *out = m;
    return st;
}

size_t strata_cox_nterms(const strata_cox *m)
{
    return m ? m->fo.res->p : 0;
}

const char *strata_cox_term(const strata_cox *m, size_t i)
{
    return m && i < m->fo.res->p ? m->fo.formula->colnames[i + 1] : NULL;
}

const char *strata_cox_time_column(const strata_cox *m)
{
    return m ? m->fo.cf->time : NULL;
}

const char *strata_cox_event_column(const strata_cox *m)
{
    return m ? m->fo.cf->event : NULL;
}

const char *strata_cox_strata_column(const strata_cox *m)
{
    return m ? m->fo.cf->strata : NULL;
}

void strata_cox_coef_row(const strata_cox *m, size_t i, double conf_level, strata_cox_coef *out)
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

void strata_cox_summary_get(const strata_cox *m, strata_cox_summary *o)
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

strata_status strata_cox_score(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                               strata_unseen_policy unseen, const double *horizons, size_t nh,
                               double *lp, double *risk)
{
    glm_source src;
    cox_smap sm;
    size_t n = strata_cohort_nrows(cohort), chunk = (size_t)1 << 19;
    double *lpb = NULL, *rb = NULL;
    strata_status st;
    model_cox_source(cohort, &src);
    STRATA_TRY(cox_score_bind(ctx, &m->fo, &src, unseen, &sm));
    lpb = strata_alloc(ctx, (chunk < n ? chunk : n + 1) * sizeof *lpb);
    rb = strata_alloc(ctx, ((chunk < n ? chunk : n + 1) * nh + 1) * sizeof *rb);
    st = lpb && rb ? STRATA_OK : STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        st = cox_score_rows(ctx, &m->fo, &src, &sm, r0, k, horizons, nh, lpb, rb);
        if (st == STRATA_OK && lp)
            memcpy(lp + r0, lpb, k * sizeof *lp);
        if (st == STRATA_OK && risk && nh)
            memcpy(risk + r0 * nh, rb, k * nh * sizeof *risk);
    }
    strata_free(ctx, lpb, 0);
    strata_free(ctx, rb, 0);
    cox_smap_free(ctx, &sm);
    return st;
}
