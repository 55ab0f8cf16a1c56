/* engine/run/run_reasons.c — the reasons on `strata run`'s intervention list,
 * for a GLM or a Cox model alike: per model variable (a spline's basis and the variable's share of each
 * interaction grouped), ranked by contribution to the patient's linear
 * predictor relative to the scored population's mean, written as text a
 * clinician reads ("age 87", "3 emergency admissions in the last 12 months",
 * "severe frailty (14 of 36 eFI deficits)"). One streamed pass over the cohort
 * computes the means and picks up the listed patients' design rows and raw
 * values. Invariant: the text depends only on the cohort, the model and the
 * list, never on the thread count. */
#include "internal.h"
#include "run_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REASON_BLOCK 8192
#define REASON_TEXT 112 /* bytes per reason */

typedef struct selrow {
    size_t orig; /* cohort row */
    size_t k;    /* position on the list */
} selrow;

static int cmp_selrow(const void *a, const void *b)
{
    const selrow *x = a, *y = b;
    return x->orig < y->orig ? -1 : x->orig > y->orig ? 1 : (x->k > y->k) - (x->k < y->k);
}

/* The model explained: a GLM (g) or a Cox model (c) — the same questions of
 * either, so a Cox list's reasons come from its linear predictor x'beta as a
 * GLM's do (its baseline hazard and strata scale every patient alike). */
typedef struct lp_model {
    const strata_model *g;
    const strata_cox *c;
} lp_model;

static size_t lm_nterms(const lp_model *m)
{
    return m->g ? strata_model_nterms(m->g) : strata_cox_nterms(m->c);
}

static size_t lm_nvars(const lp_model *m)
{
    return m->g ? strata_model_nvars(m->g) : strata_cox_nvars(m->c);
}

static const char *lm_var(const lp_model *m, size_t v, int *is_factor)
{
    return m->g ? strata_model_var(m->g, v, is_factor) : strata_cox_var(m->c, v, is_factor);
}

static size_t lm_term_vars(const lp_model *m, size_t j, size_t *vars, size_t max)
{
    return m->g ? strata_model_term_vars(m->g, j, vars, max)
                : strata_cox_term_vars(m->c, j, vars, max);
}

/* Coefficient j; an aliased one counts 0 (R's NA, as scoring does). */
static double lm_beta(const lp_model *m, size_t j)
{
    if (m->g) {
        strata_coef c;
        strata_model_coef(m->g, j, &c);
        return c.aliased ? 0 : c.estimate;
    } else {
        strata_cox_coef c;
        strata_cox_coef_row(m->c, j, 0.95, &c);
        return c.aliased ? 0 : c.estimate;
    }
}

static strata_status lm_design(strata_ctx *ctx, const lp_model *m, strata_cohort *cohort,
                               size_t r0, size_t nb, double *X)
{
    return m->g ? strata_model_design(ctx, m->g, cohort, STRATA_UNSEEN_TO_REFERENCE, r0, nb, X)
                : strata_cox_design(ctx, m->c, cohort, STRATA_UNSEEN_TO_REFERENCE, r0, nb, X);
}

/* share[j * nv + v]: the part of design column j's contribution that counts
 * for variable v (1 / the number of variables the column is a product of). */
static void shares(const lp_model *m, size_t p, size_t nv, double *share)
{
    for (size_t j = 0; j < p; j++) {
        size_t vars[STRATA_MODEL_MAX_TERM_VARS];
        size_t n = lm_term_vars(m, j, vars, STRATA_MODEL_MAX_TERM_VARS);
        if (n > STRATA_MODEL_MAX_TERM_VARS)
            n = STRATA_MODEL_MAX_TERM_VARS;
        for (size_t q = 0; q < n; q++)
            share[j * nv + vars[q]] = 1.0 / (double)n;
    }
}

/* The name the phrase table knows a column by: its role when it declares
 * one the table phrases (an imported "age_years" with role age reads "age
 * 87"), else its name. */
static const char *phrase_key(const strata_cohort *cohort, size_t j, const char *column)
{
    const strata_column_info *info = strata_cohort_column(cohort, j);
    switch (info->role) {
    case STRATA_ROLE_AGE:
    case STRATA_ROLE_SEX:
    case STRATA_ROLE_IMD_DECILE:
    case STRATA_ROLE_ETHNICITY:
        return strata_role_name(info->role);
    default:
        return column;
    }
}

/* Rows a block: REASON_BLOCK, or what mem holds of the design, raw values
 * and risk a row (at least 64). */
static size_t reason_block(size_t p, size_t nv, size_t mem)
{
    size_t b = mem ? mem / (8 * (p + nv + 1)) : REASON_BLOCK;
    return b < 64 ? 64 : b > REASON_BLOCK ? REASON_BLOCK : b;
}

strata_status run_reasons(strata_ctx *ctx, const strata_model *glm, const strata_cox *cox,
                          strata_cohort *cohort, run_risk_fn risk, void *ud, size_t n_scored,
                          size_t mem, const size_t *sel, size_t n_sel, size_t k, char ***text, int32_t *var,
                          double *contrib)
{
    const lp_model lm = {glm, glm ? NULL : cox}, *model = &lm;
    size_t p = lm_nterms(model), nv = lm_nvars(model);
    size_t N = strata_cohort_nrows(cohort), nb0 = reason_block(p, nv, mem);
    double *beta, *xbar, *Xsel, *Xb, *share, *raw, *rawb, *cc, *rbuf;
    size_t *colj;
    int32_t *vv;
    selrow *order;
    char **out = NULL;
    strata_reason_model rm;
    strata_status st = STRATA_ENOMEM;
    *text = NULL;
    beta = strata_calloc(ctx, p + 1, sizeof *beta);
    xbar = strata_calloc(ctx, p + 1, sizeof *xbar);
    share = strata_calloc(ctx, p * nv + 1, sizeof *share);
    Xsel = strata_calloc(ctx, n_sel * p + 1, sizeof *Xsel);
    Xb = strata_alloc(ctx, (nb0 * p + 1) * sizeof *Xb);
    raw = strata_calloc(ctx, n_sel * nv + 1, sizeof *raw);
    rawb = strata_alloc(ctx, (nb0 * nv + 1) * sizeof *rawb);
    rbuf = strata_alloc(ctx, nb0 * sizeof *rbuf);
    colj = strata_calloc(ctx, nv + 1, sizeof *colj);
    order = strata_calloc(ctx, n_sel + 1, sizeof *order);
    vv = strata_calloc(ctx, n_sel * k + 1, sizeof *vv);
    cc = strata_calloc(ctx, n_sel * k + 1, sizeof *cc);
    if (!beta || !xbar || !share || !Xsel || !Xb || !raw || !rawb || !rbuf || !colj || !order || !vv ||
        !cc)
        goto done;
    for (size_t j = 0; j < p; j++)
        beta[j] = lm_beta(model, j);
    shares(model, p, nv, share);
    st = STRATA_OK;
    for (size_t v = 0; v < nv && st == STRATA_OK; v++)
        st = strata_cohort_find(ctx, cohort, lm_var(model, v, NULL), &colj[v]);
    for (size_t q = 0; q < n_sel; q++) {
        order[q].orig = sel[q];
        order[q].k = q;
    }
    qsort(order, n_sel, sizeof *order, cmp_selrow);
    for (size_t r0 = 0, q = 0; r0 < N && st == STRATA_OK; r0 += nb0) {
        size_t nb = N - r0 < nb0 ? N - r0 : nb0;
        int listed = q < n_sel && order[q].orig < r0 + nb;
        const double *rb = NULL;
        st = risk(ctx, ud, r0, nb, rbuf, &rb);
        if (st == STRATA_OK)
            st = lm_design(ctx, model, cohort, r0, nb, Xb);
        for (size_t v = 0; v < nv && listed && st == STRATA_OK; v++)
            st = strata_cohort_read_f64(ctx, cohort, colj[v], r0, nb, rawb + v * nb);
        for (size_t i = 0; i < nb && st == STRATA_OK; i++) {
            const double *x = Xb + i * p;
            if (isnan(rb[i])) /* unscored */
                continue;
            for (size_t j = 0; j < p; j++)
                xbar[j] += x[j];
            for (; q < n_sel && order[q].orig == r0 + i; q++) {
                memcpy(Xsel + order[q].k * p, x, p * sizeof *x);
                for (size_t v = 0; v < nv; v++)
                    raw[order[q].k * nv + v] = rawb[v * nb + i];
            }
        }
    }
    if (st != STRATA_OK)
        goto done;
    for (size_t j = 0; j < p; j++)
        xbar[j] /= (double)n_scored;
    memset(&rm, 0, sizeof rm);
    rm.p = p;
    rm.beta = beta;
    rm.xbar = xbar;
    rm.X = Xsel;
    rm.n_groups = nv;
    rm.share = share;
    st = strata_reason_codes(ctx, &rm, n_sel, NULL, k, vv, cc);
    if (st != STRATA_OK)
        goto done;
    /* one block: n_sel * k pointers, then the texts */
    out = strata_calloc(ctx, n_sel * k * (sizeof *out + REASON_TEXT) + 1, 1);
    if (!out) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (size_t q = 0; q < n_sel * k; q++) {
        int is_factor = 0;
        const char *col, *level = NULL;
        char *buf = (char *)(out + n_sel * k) + q * REASON_TEXT;
        double value;
        if (vv[q] < 0)
            continue;
        col = lm_var(model, (size_t)vv[q], &is_factor);
        value = raw[(q / k) * nv + (size_t)vv[q]];
        if (is_factor) {
            const strata_column_info *info = strata_cohort_column(cohort, colj[vv[q]]);
            long code = isfinite(value) ? (long)value : -1;
            level = info->categorical && code >= 0 && (size_t)code < info->n_levels
                        ? info->levels[code]
                        : "unknown";
        }
        strata_reason_text(phrase_key(cohort, colj[vv[q]], col), value, level, buf, REASON_TEXT);
        out[q] = buf;
    }
    *text = out;
    if (var)
        memcpy(var, vv, n_sel * k * sizeof *vv);
    if (contrib)
        memcpy(contrib, cc, n_sel * k * sizeof *cc);
done:
    STRATA_FREE_ALL(ctx, beta, xbar, share, Xsel, Xb, raw, rawb, rbuf, colj, order, vv, cc);
    return st;
}
