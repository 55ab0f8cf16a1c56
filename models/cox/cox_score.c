/* models/cox/cox_score.c — scoring with a fitted Cox model: the formula bound to a
 * new source, strata(x) values mapped to the fit's baselines (by label or value),
 * then per fixed 1,024-row block lp = x'beta + offset and the absolute risk
 * 1 - exp(-H0_s(t) exp(lp)) at each horizon. Invariant: blocks are independent, so a
 * saved and loaded model scores to the same bytes whatever the thread count. */
#include "cox_internal.h"

#include <math.h>
#include <string.h>

#define SB COX_SCORE_BLOCK /* rows per scoring block */

strata_status cox_strata_labels(strata_ctx *ctx, const glm_source *src, const char *col,
                                cox_fit_out *out)
{
    size_t j;
    const strata_column_info *info;
    STRATA_TRY(src->find(ctx, src->ud, col, &j, &info));
    if (!info->categorical)
        return STRATA_OK;
    if (!(out->strata_labels = strata_calloc(ctx, out->n_strata_values + 1, sizeof *out->strata_labels)))
        return STRATA_ENOMEM;
    for (size_t s = 0; s < out->n_strata_values; s++) {
        double v = out->strata_values[s];
        const char *lab = v >= 0 && v < (double)info->n_levels ? info->levels[(size_t)v] : "?";
        if (!(out->strata_labels[s] = strata_strdup(ctx, lab)))
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

void cox_smap_free(strata_ctx *ctx, cox_smap *sm)
{
    strata_free(ctx, sm->code, 0);
    glm_varbind_free(ctx, sm->vb, sm->nvars);
    memset(sm, 0, sizeof *sm);
}

strata_status cox_score_bind(strata_ctx *ctx, const cox_fit_out *m, const glm_source *src,
                             strata_unseen_policy unseen, cox_smap *sm)
{
    size_t j;
    const strata_column_info *info;
    memset(sm, 0, sizeof *sm);
    if (!(sm->vb = strata_calloc(ctx, m->formula->nvars + 1, sizeof *sm->vb)))
        return STRATA_ENOMEM;
    sm->nvars = m->formula->nvars;
    STRATA_TRY(glm_bind_score(ctx, m->formula, src, unseen, sm->vb));
    if (!m->cf->strata)
        return STRATA_OK;
    STRATA_TRY(src->find(ctx, src->ud, m->cf->strata, &j, &info));
    if (!info->categorical != !m->strata_labels)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: strata column '%s' is %s here but was %s when the model was fitted",
                           src->name, m->cf->strata, info->categorical ? "categorical" : "numeric",
                           m->strata_labels ? "categorical" : "numeric");
    if (!info->categorical)
        return STRATA_OK;
    sm->n_codes = info->n_levels;
    if (!(sm->code = strata_alloc(ctx, (sm->n_codes + 1) * sizeof *sm->code)))
        return STRATA_ENOMEM;
    for (size_t c = 0; c < sm->n_codes; c++) {
        sm->code[c] = -1;
        for (size_t s = 0; s < m->n_strata_values; s++)
            if (!strcmp(m->strata_labels[s], info->levels[c]))
                sm->code[c] = (long)s;
    }
    return STRATA_OK;
}

/* Baseline stratum of a strata-column value, or -1 (unseen); 0 without strata. */
static long stratum_of(const cox_fit_out *m, const cox_smap *sm, double v)
{
    size_t lo = 0, hi;
    if (!m->cf->strata)
        return 0;
    if (sm->code)
        return v >= 0 && v < (double)sm->n_codes ? sm->code[(size_t)v] : -1;
    hi = m->n_strata_values; /* values ascending: bisection */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->strata_values[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n_strata_values && m->strata_values[lo] == v ? (long)lo : -1;
}

/* The baseline index of stratum code k (bh_code; few strata, so a scan). */
static long baseline_index(const cox_result *r, long code)
{
    for (size_t s = 0; s < r->nstrata; s++)
        if (r->bh_code[s] == code)
            return (long)s;
    return -1;
}

typedef struct sblock {
    double *X, *work;   /* SB x p design, design scratch */
    const double **rb;  /* nvars */
} sblock;

/* One block of rows [r0, r0 + nb) of the chunk: lp and risk. Returns 0, or
 * 1 + row of the first unseen factor level or stratum (*what: 0 level, 1 stratum). */
static size_t score_block(const cox_fit_out *m, const cox_smap *sm, double *const *raw,
                          const double *strat, size_t r0, size_t nb, const double *h, size_t nh,
                          sblock *w, double *lp, double *risk, int *what, int *badvar)
{
    const glm_formula *f = m->formula;
    const cox_result *r = m->res;
    size_t p = f->p, bad;
    for (size_t v = 0; v < f->nvars; v++)
        w->rb[v] = raw[v] ? raw[v] + r0 : NULL;
    bad = glm_design_block(f, sm->vb, (double *const *)w->rb, nb, w->X, w->work, badvar);
    *what = 0;
    for (size_t i = 0; i < nb; i++) {
        double e = glm_offset_value(f, (double *const *)w->rb, i);
        long s = 0;
        for (size_t j = 1; j < p; j++)
            e += (r->aliased[j - 1] ? 0 : r->beta[j - 1]) * w->X[j * nb + i];
        lp[r0 + i] = e;
        if (strat && isnan(strat[r0 + i])) {
            s = -1; /* stratum missing: no baseline, risk NaN */
        } else if (strat) {
            s = stratum_of(m, sm, strat[r0 + i]);
            s = s >= 0 ? baseline_index(r, s) : -1;
            if (s < 0 && !bad) {
                bad = i + 1;
                *what = 1;
            }
        }
        for (size_t k = 0; k < nh; k++)
            risk[(r0 + i) * nh + k] = s < 0 || isnan(e) ? NAN : -expm1(-cox_cumhaz_at(r, (size_t)s, h[k]) * exp(e));
    }
    return bad;
}

/* Reads the chunk's raw columns (the formula's variables, the strata column). */
static strata_status read_chunk(strata_ctx *ctx, const cox_fit_out *m, const glm_source *src,
                                const cox_smap *sm, size_t row0, size_t n, double **raw, double *strat)
{
    const glm_formula *f = m->formula;
    for (size_t v = 0; v < f->nvars; v++)
        if (raw[v])
            STRATA_TRY(src->read_f64(ctx, src->ud, sm->vb[v].src_col, row0, n, raw[v]));
    if (strat) {
        size_t j;
        const strata_column_info *info;
        STRATA_TRY(src->find(ctx, src->ud, m->cf->strata, &j, &info));
        STRATA_TRY(src->read_f64(ctx, src->ud, j, row0, n, strat));
    }
    return STRATA_OK;
}

strata_status cox_score_rows(strata_ctx *ctx, const cox_fit_out *m, const glm_source *src,
                             const cox_smap *sm, size_t row0, size_t n, const double *horizons,
                             size_t nh, double *lp, double *risk)
{
    const glm_formula *f = m->formula;
    size_t nv = f->nvars, p = f->p, width = glm_design_work(f);
    double **raw = strata_calloc(ctx, nv + 1, sizeof *raw), *strat = NULL, *X = NULL;
    sblock w = {NULL, NULL, NULL};
    strata_status st = raw ? STRATA_OK : STRATA_ENOMEM;
    for (size_t v = 0; st == STRATA_OK && v < nv; v++)
        if (sm->vb[v].src_col != (size_t)-1 && !(raw[v] = strata_alloc(ctx, (n + 1) * sizeof **raw)))
            st = STRATA_ENOMEM;
    if (st == STRATA_OK && m->cf->strata && !(strat = strata_alloc(ctx, (n + 1) * sizeof *strat)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK && (!(X = strata_alloc(ctx, SB * (p + width + 1) * sizeof *X)) ||
                            !(w.rb = strata_calloc(ctx, nv + 1, sizeof *w.rb))))
        st = STRATA_ENOMEM;
    w.X = X;
    w.work = X ? X + SB * p : NULL;
    if (st == STRATA_OK)
        st = read_chunk(ctx, m, src, sm, row0, n, raw, strat);
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += SB) {
        size_t nb = r0 + SB <= n ? SB : n - r0, bad;
        int what, badvar = 0;
        bad = score_block(m, sm, raw, strat, r0, nb, horizons, nh, &w, lp, risk, &what, &badvar);
        if (bad && what)
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: row %zu: stratum %g of '%s' was not seen when the model was fitted",
                             src->name, row0 + r0 + bad, strat[r0 + bad - 1], m->cf->strata);
        else if (bad)
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: a level not seen when the model was "
                                                "fitted (map unseen levels to the reference with --unseen-to-reference)",
                             src->name, f->vars[badvar].column, row0 + r0 + bad);
    }
    for (size_t v = 0; raw && v < nv; v++)
        strata_free(ctx, raw[v], 0);
    strata_free(ctx, raw, 0);
    strata_free(ctx, strat, 0);
    strata_free(ctx, X, 0);
    strata_free(ctx, (void *)w.rb, 0);
    return st;
}
