/* engine/evaluate/evaluate_validate.c — validation protocols around a refit callback:
 * split sample, k-fold cross-validation and Harrell's bootstrap optimism
 * correction. Resample b draws row k as hash(seed, b + 1, k) mod n, so every
 * number depends only on (seed, b, k): results are identical whatever the
 * thread count or the order in which resamples run. */
#include "evaluate_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void strata_validate_params_init(strata_validate_params *vp)
{
    memset(vp, 0, sizeof *vp);
    vp->seed = 20240101u;
    vp->B = 200;
    vp->k = 10;
    vp->train_frac = 0.7;
    vp->parallel = 1;
}

strata_status strata_validate_params_check(strata_ctx *ctx, const strata_validate_params *vp)
{
    if (!vp)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: params is NULL");
    if (vp->B < 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: B = %d, need at least 1", vp->B);
    if (vp->k < 2)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: k = %d folds, need at least 2", vp->k);
    if (!(vp->train_frac > 0.0 && vp->train_frac < 1.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: train_frac %g outside (0, 1)",
                           vp->train_frac);
    return STRATA_OK;
}

/* Scratch for one evaluation of core measures on n rows. */
typedef struct core_ws {
    size_t n;
    size_t *ord, *wo;
    uint64_t *wk;
    double *key, *ys, *ps, *lps, *w1, *w2, *tw, *lp;
} core_ws;

static void core_ws_free(strata_ctx *ctx, core_ws *ws)
{
    STRATA_FREE_ALL(ctx, ws->ord, ws->wo, ws->wk, ws->key, ws->ys, ws->lps, ws->ps, ws->w1, ws->w2,
                    ws->tw, ws->lp);
    memset(ws, 0, sizeof *ws);
}

static strata_status core_ws_alloc(strata_ctx *ctx, size_t n, core_ws *ws)
{
    size_t m = n ? n : 1;
    memset(ws, 0, sizeof *ws);
    ws->n = n;
    ws->ord = strata_calloc(ctx, m, sizeof *ws->ord);
    ws->wo = strata_calloc(ctx, m, sizeof *ws->wo);
    ws->wk = strata_calloc(ctx, 2 * m, sizeof *ws->wk);
    ws->key = strata_calloc(ctx, m, sizeof *ws->key);
    ws->ys = strata_calloc(ctx, m, sizeof *ws->ys);
    ws->lps = strata_calloc(ctx, m, sizeof *ws->lps);
    ws->ps = strata_calloc(ctx, m, sizeof *ws->ps);
    ws->w1 = strata_calloc(ctx, m, sizeof *ws->w1);
    ws->w2 = strata_calloc(ctx, m, sizeof *ws->w2);
    ws->tw = strata_calloc(ctx, m, sizeof *ws->tw);
    ws->lp = strata_calloc(ctx, m, sizeof *ws->lp);
    if (!ws->ord || !ws->wo || !ws->wk || !ws->key || !ws->ys || !ws->lps || !ws->ps || !ws->w1 ||
        !ws->w2 || !ws->tw || !ws->lp) {
        core_ws_free(ctx, ws);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "validate: out of memory for %zu rows", n);
    }
    return STRATA_OK;
}

/* Brier score of p against y under the view's weights. */
static double brier_of(const ev_view *v)
{
    double s = 0.0, sw = 0.0;
    for (size_t k = 0; k < v->m; k++) {
        double wq = EV_W(v, k), d;
        if (wq <= 0.0)
            continue;
        d = v->y[k] - v->p[k];
        s += wq * d * d;
        sw += wq;
    }
    return sw > 0.0 ? s / sw : NAN;
}

static void core_of_view(strata_family f, const ev_view *v, strata_eval_core *out)
{
    double coef[2], se[2], sd;
    ev_auc(v, &out->c, &sd);
    ev_recal(v, f, 1, 50, 1e-12, coef, se);
    out->intercept = coef[0];
    out->slope = coef[1];
    ev_recal(v, f, 0, 50, 1e-12, coef, se);
    out->citl = coef[0];
    out->brier = brier_of(v);
}

/* Sorts rows by lp once and measures under up to two weightings. */
static void core_two(strata_family f, size_t n, const double *y, const double *lp,
                     const double *wa, const double *wb, core_ws *ws, strata_eval_core *ra,
                     strata_eval_core *rb)
{
    ev_view v;
    ev_sort_doubles(lp, n, ws->ord, ws->wk, ws->wo);
    for (size_t k = 0; k < n; k++) {
        size_t i = ws->ord[k];
        ws->ys[k] = y[i];
        ws->lps[k] = lp[i];
        ws->ps[k] = ev_inv_link(f, lp[i]);
        ws->w1[k] = wa ? wa[i] : 1.0;
        ws->w2[k] = wb ? wb[i] : 1.0;
    }
    v = (ev_view){n, NULL, ws->ys, ws->ps, ws->lps, ws->w1, NULL};
    core_of_view(f, &v, ra);
    if (rb) {
        v.w = ws->w2;
        core_of_view(f, &v, rb);
    }
}

strata_status strata_eval_core_measures(strata_ctx *ctx, strata_family f, size_t n,
                                        const double *y, const double *lp, const double *w,
                                        strata_eval_core *out)
{
    core_ws ws;
    STRATA_TRY(core_ws_alloc(ctx, n, &ws));
    core_two(f, n, y, lp, w, NULL, &ws, out, NULL);
    core_ws_free(ctx, &ws);
    return STRATA_OK;
}

static strata_status check_lp(strata_ctx *ctx, const double *lp, size_t n, const char *what,
                              long b)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(lp[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "validate: %s %ld: refit returned lp = %g at row %zu", what, b,
                               lp[i], i + 1);
    return STRATA_OK;
}

/* Multinomial resample b as multiplicities times the caller's weights: n
 * draws of one stream of the core RNG keyed by (seed, b + 1). */
void strata_eval_resample_weights(uint64_t seed, long b, size_t n, const double *w, double *tw)
{
    strata_rng r = strata_rng_make(seed, (uint64_t)b + 1u, STRATA_STREAM_RESAMPLE);
    memset(tw, 0, n * sizeof *tw);
    for (size_t k = 0; k < n; k++)
        tw[strata_rng_below(&r, n)] += 1.0;
    if (w)
        for (size_t i = 0; i < n; i++)
            tw[i] *= w[i];
}

static void core_sub(const strata_eval_core *a, const strata_eval_core *b, strata_eval_core *d)
{
    d->c = a->c - b->c;
    d->slope = a->slope - b->slope;
    d->intercept = a->intercept - b->intercept;
    d->citl = a->citl - b->citl;
    d->brier = a->brier - b->brier;
}

void strata_bootstrap_result_free(strata_ctx *ctx, strata_bootstrap_result *res)
{
    if (!res)
        return;
    strata_free(ctx, res->boot, 0);
    strata_free(ctx, res->orig, 0);
    res->boot = res->orig = NULL;
}

strata_status strata_validate_bootstrap(strata_ctx *ctx, strata_family f, size_t n,
                                        const double *y, const double *w, strata_refit_fn refit,
                                        void *ud, const strata_validate_params *vp,
                                        strata_bootstrap_result *res)
{
    int nt = 1, t;
    core_ws *ws = NULL;
    strata_ctx **sub = NULL;
    strata_status *bst = NULL, st = STRATA_OK;
    int *who = NULL, *failed = NULL;
    long b, n_done = 0;
    memset(res, 0, sizeof *res);
    STRATA_TRY(strata_validate_params_check(ctx, vp));
    if (!refit || !y || n < 2)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: bootstrap needs a refit and n >= 2");
    if (vp->parallel)
        nt = strata_threads(ctx) < vp->B ? strata_threads(ctx) : vp->B;
    res->B = vp->B;
    res->seed = vp->seed;
    res->boot = strata_calloc(ctx, (size_t)vp->B, sizeof *res->boot);
    res->orig = strata_calloc(ctx, (size_t)vp->B, sizeof *res->orig);
    ws = strata_calloc(ctx, (size_t)nt, sizeof *ws);
    sub = strata_calloc(ctx, (size_t)nt, sizeof *sub);
    bst = strata_calloc(ctx, (size_t)vp->B, sizeof *bst);
    who = strata_calloc(ctx, (size_t)vp->B, sizeof *who);
    failed = strata_calloc(ctx, (size_t)nt, sizeof *failed);
    if (!res->boot || !res->orig || !ws || !sub || !bst || !who || !failed) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (t = 0; t < nt; t++) {
        if ((st = core_ws_alloc(ctx, n, &ws[t])) != STRATA_OK)
            goto done;
        if (nt == 1) {
            sub[t] = ctx;
            continue;
        }
        if (strata_ctx_new(&sub[t]) != STRATA_OK) {
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "validate: cannot create worker context");
            goto done;
        }
        strata_ctx_set_alloc(sub[t], ctx->alloc, ctx->alloc_ud);
        strata_ctx_set_threads(sub[t], 1);
    }
    strata_progress(ctx, "bootstrap", 0, vp->B); /* before the apparent fit: the line is the bootstrap's */
    /* apparent performance: fit and evaluate on the data as given */
    if (w)
        memcpy(ws[0].tw, w, n * sizeof *w);
    else
        for (size_t i = 0; i < n; i++)
            ws[0].tw[i] = 1.0;
    if ((st = refit(ctx, ud, ws[0].tw, n, ws[0].lp)) != STRATA_OK)
        goto done;
    if ((st = check_lp(ctx, ws[0].lp, n, "apparent fit", 0)) != STRATA_OK)
        goto done;
    core_two(f, n, y, ws[0].lp, w, NULL, &ws[0], &res->apparent, NULL);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (b = 0; b < vp->B; b++) {
#ifdef _OPENMP
        int me = omp_get_thread_num();
#else
        int me = 0;
#endif
        core_ws *my = &ws[me];
        /* a worker takes resamples in increasing b and stops at its first failure,
         * so the first failing b overall keeps its own message on that worker */
        if (failed[me])
            continue;
        who[b] = me;
        strata_eval_resample_weights(vp->seed, b, n, w, my->tw);
        bst[b] = refit(sub[me], ud, my->tw, n, my->lp);
        if (bst[b] == STRATA_OK)
            bst[b] = check_lp(sub[me], my->lp, n, "resample", b + 1);
        if (bst[b] != STRATA_OK) {
            failed[me] = 1;
            continue;
        }
        core_two(f, n, y, my->lp, my->tw, w, my, &res->boot[b], &res->orig[b]);
        {
            long k;
#pragma omp atomic capture
            k = ++n_done;
            if (k < vp->B) /* the end is reported once, below */
                strata_progress(ctx, "bootstrap", (double)k, vp->B);
        }
    }
    for (b = 0; b < vp->B; b++)
        if (bst[b] != STRATA_OK) { /* first failing resample in b order */
            char msg[STRATA_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", strata_ctx_errmsg(sub[who[b]]));
            st = STRATA_FAIL(ctx, bst[b], "validate: bootstrap resample %ld: %s", b + 1, msg);
            goto done;
        }
    {
        strata_eval_core sum = {0, 0, 0, 0, 0}, d;
        for (b = 0; b < vp->B; b++) {
            core_sub(&res->boot[b], &res->orig[b], &d);
            sum.c += d.c;
            sum.slope += d.slope;
            sum.intercept += d.intercept;
            sum.citl += d.citl;
            sum.brier += d.brier;
        }
        res->optimism.c = sum.c / vp->B;
        res->optimism.slope = sum.slope / vp->B;
        res->optimism.intercept = sum.intercept / vp->B;
        res->optimism.citl = sum.citl / vp->B;
        res->optimism.brier = sum.brier / vp->B;
        core_sub(&res->apparent, &res->optimism, &res->corrected);
    }
done:
    strata_progress(ctx, "bootstrap", vp->B, vp->B);
    if (st == STRATA_ENOMEM && strata_ctx_errcode(ctx) != STRATA_ENOMEM)
        STRATA_FAIL(ctx, STRATA_ENOMEM, "validate: out of memory for %zu rows", n);
    for (t = 0; ws && sub && t < nt; t++) {
        core_ws_free(ctx, &ws[t]);
        if (sub[t] && sub[t] != ctx)
            strata_ctx_free(sub[t]);
    }
    strata_free(ctx, ws, 0);
    strata_free(ctx, sub, 0);
    strata_free(ctx, bst, 0);
    strata_free(ctx, who, 0);
    strata_free(ctx, failed, 0);
    if (st != STRATA_OK)
        strata_bootstrap_result_free(ctx, res);
    return st;
}

/* Row i's uniform for fold and split assignment. */
static double fold_draw(uint64_t seed, size_t i)
{
    strata_rng r = strata_rng_make(seed, i, STRATA_STREAM_FOLDS);
    return strata_rng_unif(&r);
}

strata_status strata_validate_kfold(strata_ctx *ctx, size_t n, const double *w,
                                    strata_refit_fn refit, void *ud,
                                    const strata_validate_params *vp, int32_t *fold,
                                    double *lp_cv)
{
    core_ws ws;
    strata_status st = STRATA_OK;
    STRATA_TRY(strata_validate_params_check(ctx, vp));
    if (!refit || (size_t)vp->k > n)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: %d folds for %zu rows", vp->k, n);
    STRATA_TRY(core_ws_alloc(ctx, n, &ws));
    /* balanced folds: rows in random order (by seed), dealt round-robin */
    for (size_t i = 0; i < n; i++)
        ws.key[i] = fold_draw(vp->seed, i);
    ev_sort_doubles(ws.key, n, ws.ord, ws.wk, ws.wo);
    for (size_t r = 0; r < n; r++)
        fold[ws.ord[r]] = (int32_t)(r % (size_t)vp->k);
    strata_progress(ctx, "cv", 0, vp->k);
    for (int f = 0; f < vp->k && st == STRATA_OK; f++) {
        strata_progress(ctx, "cv", f, vp->k);
        for (size_t i = 0; i < n; i++)
            ws.tw[i] = fold[i] == f ? 0.0 : (w ? w[i] : 1.0);
        st = refit(ctx, ud, ws.tw, n, ws.lp);
        if (st == STRATA_OK)
            st = check_lp(ctx, ws.lp, n, "fold", f + 1);
        for (size_t i = 0; st == STRATA_OK && i < n; i++)
            if (fold[i] == f)
                lp_cv[i] = ws.lp[i];
    }
    strata_progress(ctx, "cv", vp->k, vp->k);
    core_ws_free(ctx, &ws);
    return st;
}

strata_status strata_validate_split(strata_ctx *ctx, size_t n, const double *w,
                                    strata_refit_fn refit, void *ud,
                                    const strata_validate_params *vp, uint8_t *is_test,
                                    double *lp)
{
    double *tw;
    strata_status st;
    STRATA_TRY(strata_validate_params_check(ctx, vp));
    if (!refit)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "validate: split sample needs a refit");
    tw = strata_calloc(ctx, n ? n : 1, sizeof *tw);
    if (!tw)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        is_test[i] = fold_draw(vp->seed, i) >= vp->train_frac;
        tw[i] = is_test[i] ? 0.0 : (w ? w[i] : 1.0);
    }
    st = refit(ctx, ud, tw, n, lp);
    if (st == STRATA_OK)
        st = check_lp(ctx, lp, n, "split", 1);
    strata_free(ctx, tw, 0);
    return st;
}
