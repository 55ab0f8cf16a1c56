/* models/cox/cox_record.c — a Cox model to and from the model record (record.h)
 * that engine/io writes as the model file (docs/cox.md): kind "cox", formula,
 * weights, ties, provenance, coefficients (and robust ones), summary, frozen
 * design (/spec, glm_spec_export as the GLM's), strata keys and the baseline hazard per stratum. Invariant: doubles
 * copy bit for bit, so load -> score gives the fitted model's bytes. */
#include "cox_internal.h"

#include <math.h>
#include <string.h>

#define NSUM 15
static const char *const sum_keys[NSUM] = {
    "n", "n_events", "w_events", "loglik_null", "loglik", "score_test", "wald_test", "lr_test",
    "concordance", "iterations", "converged", "rank", "n_dropped", "n_clusters", "nstrata"};

static void sum_get(const cox_model *m, double *v)
{
    const cox_result *r = m->fo.res;
    double x[NSUM] = {(double)r->n, (double)r->n_events, r->w_events, r->loglik_null, r->loglik,
                      r->score_test, r->wald_test, r->lr_test, r->concordance, r->iter, r->converged,
                      r->rank, (double)m->fo.n_dropped, (double)r->nclusters, (double)r->nstrata};
    memcpy(v, x, sizeof x);
}

/* The summary's counts (n, n_events, iterations, converged, rank, n_dropped,
 * n_clusters, nstrata) are whole numbers, converged 0 or 1, nstrata 1..2^24
 * (it sizes the baseline's tables); a file that says otherwise did not come
 * from a fit (issue 17). Returns the bad index or -1. */
static int sum_bad(const double *v)
{
    static const int counts[] = {0, 1, 9, 10, 11, 12, 13, 14};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        int k = counts[i];
        if (!(v[k] >= 0 && v[k] <= 9007199254740992.0 && v[k] == floor(v[k])) ||
            (k == 10 && v[k] > 1) || (k == 14 && !(v[k] >= 1 && v[k] <= 16777216.0)))
            return k;
    }
    return -1;
}

static void sum_set(cox_model *m, const double *v)
{
    cox_result *r = m->fo.res;
    r->n = (size_t)v[0], r->n_events = (size_t)v[1], r->w_events = v[2];
    r->loglik_null = v[3], r->loglik = v[4], r->score_test = v[5], r->wald_test = v[6];
    r->lr_test = v[7], r->concordance = v[8], r->iter = (int)v[9], r->converged = (int)v[10];
    r->rank = (int)v[11], m->fo.n_dropped = (size_t)v[12], r->nclusters = (size_t)v[13];
    r->nstrata = (size_t)v[14];
}

/* ---- export ------------------------------------------------------------------ */

static strata_status put_f64(strata_ctx *ctx, strata_record *r, const char *name, const double *x,
                             size_t rows, size_t cols)
{
    double *d = strata_rec_put_f64(ctx, r, name, rows, cols);
    if (!d)
        return STRATA_ENOMEM;
    memcpy(d, x, rows * (cols ? cols : 1) * sizeof *d);
    return STRATA_OK;
}

static strata_status export_attrs(strata_ctx *ctx, const cox_model *m, strata_record *r)
{
    STRATA_TRY(strata_rec_put_text(ctx, r, STRATA_REC_KIND, COX_KIND));
    STRATA_TRY(strata_rec_put_text(ctx, r, "formula", m->formula));
    STRATA_TRY(strata_rec_put_text(ctx, r, "weights", m->weights ? m->weights : ""));
    STRATA_TRY(strata_rec_put_text(ctx, r, "ties", m->ties == COX_TIES_BRESLOW ? "breslow" : "efron"));
    for (int k = 0; k < COX_NPROV; k++)
        if (m->prov[k])
            STRATA_TRY(strata_rec_put_text(ctx, r, cox_prov_keys[k], m->prov[k]));
    return STRATA_OK;
}

static strata_status export_result(strata_ctx *ctx, const cox_model *m, strata_record *r)
{
    const cox_result *res = m->fo.res;
    size_t p = res->p, ns = res->nstrata, nh = res->bh_start[ns];
    double sv[NSUM];
    int64_t *al, *start, *code;
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/coefficients/term", (const char *const *)m->fo.formula->colnames + 1, p));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/estimate", res->beta, p, 0));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/std_error", res->se, p, 0));
    if (!(al = strata_rec_put_int(ctx, r, "/coefficients/aliased", STRATA_REC_U8, p, 0)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < p; j++)
        al[j] = res->aliased[j];
    STRATA_TRY(put_f64(ctx, r, "/coefficients/vcov", res->vcov, p, p));
    if (res->rse) {
        STRATA_TRY(put_f64(ctx, r, "/coefficients/robust_se", res->rse, p, 0));
        STRATA_TRY(put_f64(ctx, r, "/coefficients/robust_vcov", res->rvcov, p, p));
    }
    sum_get(m, sv);
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/summary/name", sum_keys, NSUM));
    STRATA_TRY(put_f64(ctx, r, "/summary/value", sv, NSUM, 0));
    if (!(start = strata_rec_put_int(ctx, r, "/baseline/stratum_start", STRATA_REC_I64, ns + 1, 0)))
        return STRATA_ENOMEM;
    for (size_t s = 0; s <= ns; s++)
        start[s] = (int64_t)res->bh_start[s];
    if (!(code = strata_rec_put_int(ctx, r, "/baseline/stratum_code", STRATA_REC_I32, ns, 0)))
        return STRATA_ENOMEM;
    for (size_t s = 0; s < ns; s++)
        code[s] = res->bh_code[s];
    STRATA_TRY(put_f64(ctx, r, "/baseline/time", res->bh_time, nh, 0));
    STRATA_TRY(put_f64(ctx, r, "/baseline/cumhaz", res->bh_haz, nh, 0));
    if (m->fo.n_strata_values)
        STRATA_TRY(put_f64(ctx, r, "/strata/value", m->fo.strata_values, m->fo.n_strata_values, 0));
    if (m->fo.strata_labels)
        STRATA_TRY(strata_rec_put_strings(ctx, r, "/strata/label", (const char *const *)m->fo.strata_labels,
                                          m->fo.n_strata_values));
    return STRATA_OK;
}

strata_status cox_model_export(strata_ctx *ctx, const cox_model *m, strata_record *rec)
{
    STRATA_TRY(export_attrs(ctx, m, rec));
    STRATA_TRY(export_result(ctx, m, rec));
    return glm_spec_export(ctx, m->fo.formula, rec);
}

/* ---- import ------------------------------------------------------------------ */

/* A float64 item of exactly n values, or NULL. */
static const double *f64_item(const strata_record *r, const char *name, size_t n)
{
    const strata_rec_item *it = strata_rec_find(r, name, STRATA_REC_F64);
    return it && strata_rec_count(it) == n ? it->f64 : NULL;
}

/* An integer item of exactly n values, or NULL. */
static const int64_t *int_item(const strata_record *r, const char *name, size_t n)
{
    const strata_rec_item *it = strata_rec_find(r, name, STRATA_REC_INT);
    return it && strata_rec_count(it) == n ? it->i64 : NULL;
}

static strata_status copy_f64(strata_ctx *ctx, const strata_record *r, const char *path, const char *name,
                              size_t n, double **out)
{
    const double *x = f64_item(r, name, n);
    if (!x)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read %s", path, name);
    if (!(*out = strata_alloc(ctx, (n + 1) * sizeof **out)))
        return STRATA_ENOMEM;
    memcpy(*out, x, n * sizeof **out);
    return STRATA_OK;
}

/* Within each stratum the baseline's event times are finite and increasing
 * and its cumulative hazard finite, >= 0 and non-decreasing (the horizon
 * lookup bisects the times; a hazard that falls gives risks above 1). */
static strata_status check_baseline(strata_ctx *ctx, const cox_result *res, const char *path)
{
    for (size_t s = 0; s < res->nstrata; s++)
        for (size_t k = res->bh_start[s]; k < res->bh_start[s + 1]; k++) {
            int first = k == res->bh_start[s];
            double t = res->bh_time[k], h = res->bh_haz[k];
            if (!isfinite(t) || (!first && !(t > res->bh_time[k - 1])))
                return STRATA_FAIL(ctx, STRATA_EFORMAT,
                                   "%s: /baseline/time[%zu] is %g (stratum %zu); baseline times "
                                   "are finite and increasing within a stratum",
                                   path, k, t, s + 1);
            if (!isfinite(h) || !(h >= 0) || (!first && !(h >= res->bh_haz[k - 1])))
                return STRATA_FAIL(ctx, STRATA_EFORMAT,
                                   "%s: /baseline/cumhaz[%zu] is %g (stratum %zu); a cumulative "
                                   "hazard is finite, >= 0 and non-decreasing",
                                   path, k, h, s + 1);
        }
    return STRATA_OK;
}

/* Stratum codes index the strata keys (0 without strata), each once; the
 * keys are finite and increasing (scoring bisects them). */
static strata_status check_strata(strata_ctx *ctx, const cox_model *m, const char *path)
{
    const cox_result *res = m->fo.res;
    size_t ns = res->nstrata, nv = m->fo.cf->strata ? m->fo.n_strata_values : 1;
    for (size_t s = 0; s < ns; s++) {
        int32_t c = res->bh_code[s];
        int seen = 0;
        for (size_t q = 0; q < s; q++)
            seen |= res->bh_code[q] == c;
        if (c < 0 || (size_t)c >= nv || seen)
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: /baseline/stratum_code[%zu] is %d; codes name one of the %zu "
                               "strata, each once",
                               path, s, (int)c, nv);
    }
    for (size_t s = 0; m->fo.cf->strata && s < ns; s++)
        if (!isfinite(m->fo.strata_values[s]) ||
            (s > 0 && !(m->fo.strata_values[s] > m->fo.strata_values[s - 1])))
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: /strata/value[%zu] is %g; stratum values are finite and "
                               "increasing",
                               path, s, m->fo.strata_values[s]);
    return STRATA_OK;
}

/* Baseline hazard and strata keys. */
static strata_status import_baseline(strata_ctx *ctx, const strata_record *r, const char *path, cox_model *m)
{
    cox_result *res = m->fo.res;
    size_t ns = res->nstrata, nh;
    const int64_t *start = int_item(r, "/baseline/stratum_start", ns + 1);
    const int64_t *code = int_item(r, "/baseline/stratum_code", ns);
    const strata_rec_item *lab, *bt = strata_rec_find(r, "/baseline/time", STRATA_REC_F64);
    if (!start || !code)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /baseline/stratum_start and stratum_code do "
                           "not hold the %zu strata of /summary/value", path, ns);
    res->bh_start = strata_alloc(ctx, (ns + 1) * sizeof *res->bh_start);
    res->bh_code = strata_alloc(ctx, (ns + 1) * sizeof *res->bh_code);
    if (!res->bh_start || !res->bh_code)
        return STRATA_ENOMEM;
    for (size_t s = 0; s <= ns; s++) {
        if (start[s] < 0 || (s && start[s] < start[s - 1]) || (!s && start[s] != 0))
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /baseline/stratum_start[%zu] is %lld; "
                               "strata start at 0 and ascend", path, s, (long long)start[s]);
        res->bh_start[s] = (size_t)start[s];
    }
    for (size_t s = 0; s < ns; s++) {
        if (code[s] < INT32_MIN || code[s] > INT32_MAX)
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /baseline/stratum_code[%zu] is %lld", path, s,
                               (long long)code[s]);
        res->bh_code[s] = (int32_t)code[s];
    }
    nh = res->bh_start[ns];
    if (!bt || strata_rec_count(bt) != nh)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /baseline/time has %zu values; "
                           "/baseline/stratum_start ends at %zu", path, bt ? strata_rec_count(bt) : 0, nh);
    STRATA_TRY(copy_f64(ctx, r, path, "/baseline/time", nh, &res->bh_time));
    STRATA_TRY(copy_f64(ctx, r, path, "/baseline/cumhaz", nh, &res->bh_haz));
    STRATA_TRY(check_baseline(ctx, res, path));
    if (!m->fo.cf->strata)
        return check_strata(ctx, m, path);
    STRATA_TRY(copy_f64(ctx, r, path, "/strata/value", ns, &m->fo.strata_values));
    m->fo.n_strata_values = ns;
    STRATA_TRY(check_strata(ctx, m, path));
    if (!(lab = strata_rec_find(r, "/strata/label", STRATA_REC_STRINGS)))
        return STRATA_OK;
    if (lab->dims[0] != ns)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /strata/label has %zu labels for %zu strata", path, lab->dims[0], ns);
    if (!(m->fo.strata_labels = strata_calloc(ctx, ns + 1, sizeof *m->fo.strata_labels)))
        return STRATA_ENOMEM;
    for (size_t s = 0; s < ns; s++)
        if (!(m->fo.strata_labels[s] = strata_strdup(ctx, lab->strings[s])))
            return STRATA_ENOMEM;
    return STRATA_OK;
}

/* Aliased flags 0/1; the estimates of kept terms finite, their standard
 * errors (and robust ones) >= 0 or NaN, as the GLM's (issue 17 #7). */
static strata_status check_coefficients(strata_ctx *ctx, const cox_model *m, const int64_t *al,
                                        const char *path)
{
    const cox_result *res = m->fo.res;
    for (size_t j = 0; j < res->p; j++) {
        const char *term = m->fo.formula->colnames[j + 1];
        if (al[j] != 0 && al[j] != 1)
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/aliased[%zu] is %lld, not 0 or 1",
                               path, j, (long long)al[j]);
        if (!al[j] && (!isfinite(res->beta[j]) || !(res->se[j] >= 0 || isnan(res->se[j])) ||
                       (res->rse && !(res->rse[j] >= 0 || isnan(res->rse[j])))))
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: coefficient %zu (%s): estimate %g, standard error %g; a saved "
                               "model's estimates are finite",
                               path, j + 1, term, res->beta[j], res->se[j]);
    }
    return STRATA_OK;
}

/* Coefficients (the terms must be the design's), summary, then the baseline. */
static strata_status import_result(strata_ctx *ctx, const strata_record *r, const char *path, cox_model *m)
{
    const glm_formula *f = m->fo.formula;
    const strata_rec_item *terms = strata_rec_find(r, "/coefficients/term", STRATA_REC_STRINGS);
    const int64_t *al;
    const double *est, *se, *vcov, *sv;
    size_t p = f->p - 1;
    cox_result *res;
    int ok = terms && terms->dims[0] == p, bad;
    if (terms && !ok)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/term has %zu terms; the "
                           "formula's design has %zu", path, terms->dims[0], p);
    for (size_t j = 0; ok && j < p; j++)
        ok = !strcmp(terms->strings[j], f->colnames[j + 1]);
    if (!ok)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/term does not match the formula's design", path);
    if (!(res = m->fo.res = cox_result_alloc(ctx, p)))
        return STRATA_ENOMEM;
    est = f64_item(r, "/coefficients/estimate", p);
    se = f64_item(r, "/coefficients/std_error", p);
    vcov = f64_item(r, "/coefficients/vcov", p * p);
    sv = f64_item(r, "/summary/value", NSUM);
    al = int_item(r, "/coefficients/aliased", p);
    if (!est || !se || !vcov || !sv || !al)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /coefficients or /summary", path);
    if ((bad = sum_bad(sv)) >= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /summary/value: %s is %g", path, sum_keys[bad],
                           sv[bad]);
    memcpy(res->beta, est, p * sizeof *est);
    memcpy(res->se, se, p * sizeof *se);
    memcpy(res->vcov, vcov, p * p * sizeof *vcov);
    for (size_t j = 0; j < p; j++)
        res->aliased[j] = al[j] != 0;
    sum_set(m, sv);
    res->p = p;
    if (strata_rec_find(r, "/coefficients/robust_se", STRATA_REC_F64)) {
        STRATA_TRY(copy_f64(ctx, r, path, "/coefficients/robust_se", p, &res->rse));
        STRATA_TRY(copy_f64(ctx, r, path, "/coefficients/robust_vcov", p * p, &res->rvcov));
    }
    STRATA_TRY(check_coefficients(ctx, m, al, path));
    return import_baseline(ctx, r, path, m);
}

/* Attributes, formula, design, result. */
static strata_status import_body(strata_ctx *ctx, const strata_record *r, const char *path, cox_model *m)
{
    const char *formula = strata_rec_text(r, "formula"), *weights = strata_rec_text(r, "weights");
    const char *ties = strata_rec_text(r, "ties");
    if (!formula || !weights || !ties)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model file lacks its formula, weights or ties", path);
    if (strcmp(ties, "breslow") && strcmp(ties, "efron"))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: ties '%.32s' is neither 'efron' nor 'breslow'",
                           path, ties);
    m->ties = !strcmp(ties, "breslow") ? COX_TIES_BRESLOW : COX_TIES_EFRON;
    if (!(m->formula = strata_strdup(ctx, formula)) || (*weights && !(m->weights = strata_strdup(ctx, weights))))
        return STRATA_ENOMEM;
    for (int k = 0; k < COX_NPROV; k++) {
        const char *v = strata_rec_text(r, cox_prov_keys[k]);
        if (v)
            STRATA_TRY(cox_model_set_provenance(ctx, m, cox_prov_keys[k], v));
    }
    STRATA_TRY(cox_formula_parse(ctx, m->formula, &m->fo.cf));
    STRATA_TRY(glm_formula_parse(ctx, m->fo.cf->glm, &m->fo.formula));
    if (m->weights)
        STRATA_TRY(glm_formula_set_weights(ctx, m->fo.formula, m->weights));
    STRATA_TRY(glm_spec_import(ctx, r, path, m->fo.formula));
    return import_result(ctx, r, path, m);
}

strata_status cox_model_import(strata_ctx *ctx, const strata_record *rec, const char *name,
                               cox_model **out)
{
    const char *kind = strata_rec_text(rec, STRATA_REC_KIND);
    cox_model *m;
    strata_status st;
    *out = NULL;
    if (!kind || strcmp(kind, COX_KIND))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not a strata Cox model file (model '%s')", name,
                           kind ? kind : "?");
    if (!(m = strata_calloc(ctx, 1, sizeof *m)))
        return STRATA_ENOMEM;
    if ((st = import_body(ctx, rec, name, m)) != STRATA_OK) {
        cox_model_free(ctx, m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}
