/* models/elnet/elnet_cox_cv.c — K-fold CV of the penalised Cox path as cv.glmnet
 * (family = "cox", type.measure = "deviance", grouped = TRUE; Verweij & van
 * Houwelingen 1993): fold k's own path is fitted with its rows at weight 0 (the same
 * standardisation and fit as dropping them), its coefficients interpolated at the
 * full path's lambdas (glmnet's lambda.interp), and the fold's measure is the
 * deviance of every row minus that of the training rows, over the fold's event
 * weight. The full fit and the K fold fits run at the same time, one thread
 * each (elnet_tasks: a queue over the context's threads, child contexts),
 * and the measures follow in fold order, so the curve is the same bits
 * whatever the thread count. */
#include "elnet_cox.h"
#include "internal.h"

#include <math.h>
#include <string.h>

/* Coefficients at s from the fold path's steps around it, linear in lambda on
 * glmnet's normalised scale (lambda_1 - lambda) / (lambda_1 - lambda_k), clamped to
 * the path's ends. */
static void interp_at(const elnet_path *fp, double s, double *b)
{
    size_t k = fp->nlam, p = fp->p, left = 0, right = 0;
    double frac = 1;
    if (k > 1) {
        double l1 = fp->lambda[0], span = l1 - fp->lambda[k - 1];
        double sf = fmin(fmax((l1 - s) / span, 0), 1), nr;
        while (right + 1 < k && (l1 - fp->lambda[right]) / span < sf)
            right++;
        nr = (l1 - fp->lambda[right]) / span;
        left = right > 0 && nr > sf ? right - 1 : right;
        double nl = (l1 - fp->lambda[left]) / span;
        frac = left == right || fabs(nl - nr) < 2.220446049250313e-16 ? 1 : (sf - nr) / (nl - nr);
    }
    for (size_t j = 0; j < p; j++)
        b[j] = fp->beta[left * p + j] * frac + fp->beta[right * p + j] * (1 - frac);
}

typedef struct cv_mem {
    int *foldid;
    double *eta, *b, *raw, *W;
    double *wk;        /* nw x n: each worker's training weights (the first n again for the measures) */
    elnet_path **fp;   /* K: the folds' own paths */
    elnet_cox_order ord;
} cv_mem;

static void cv_mem_free(strata_ctx *ctx, cv_mem *m, size_t K)
{
    void *ptrs[] = {m->foldid, m->eta, m->b, m->raw, m->W, m->wk};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++)
        strata_free(ctx, ptrs[i], 0);
    for (size_t k = 0; m->fp && k < K; k++)
        elnet_path_free(ctx, m->fp[k]);
    strata_free(ctx, m->fp, 0);
    elnet_cox_order_free(ctx, &m->ord);
}

/* Fold k's training weights (its rows at 0) into w; returns its held-out
 * event weight. */
static double fold_weights(const elnet_cox_data *d, const int *foldid, int k, double *w)
{
    double Wk = 0;
    for (size_t i = 0; i < d->n; i++) {
        double wi = d->w ? d->w[i] : 1;
        w[i] = foldid[i] == k ? 0 : wi;
        Wk += foldid[i] == k ? wi * d->status[i] : 0;
    }
    return Wk;
}

typedef struct cv_job {
    const elnet_cox_data *d;
    const elnet_params *prm;
    elnet_path *full;
    cv_mem *m;
} cv_job;

/* Task t: the full path (t = 0) or fold t's own path. */
static strata_status cv_fit(strata_ctx *ctx, void *ud, size_t t, int worker)
{
    const cv_job *j = ud;
    if (t == 0)
        return elnet_cox_fit(ctx, j->d, j->prm, j->full);
    elnet_cox_data D = *j->d;
    int k = (int)t;
    double *w = j->m->wk + (size_t)worker * j->d->n;
    if (!(fold_weights(j->d, j->m->foldid, k, w) > 0))
        return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet cv: fold %d has no events (use fewer folds)", k);
    D.w = w;
    elnet_path *fp = j->m->fp[k - 1];
    fp->nlam = 0;
    STRATA_TRY(elnet_cox_fit(ctx, &D, j->prm, fp));
    if (fp->nlam == 0)
        return STRATA_FAIL(ctx, STRATA_ENOCONV, "coxnet cv: fold %d did not converge at the first lambda", k);
    return STRATA_OK;
}

/* Fold k's measure at each of the full path's lambdas. */
static void cv_measure(const elnet_cox_data *d, int k, const elnet_path *full, cv_mem *m)
{
    const elnet_path *fp = m->fp[k - 1];
    double *wtrain = m->wk, Wk = fold_weights(d, m->foldid, k, wtrain);
    for (size_t s = 0; s < full->nlam; s++) {
        interp_at(fp, full->lambda[s], m->b);
        for (size_t i = 0; i < d->n; i++)
            m->eta[i] = d->offset ? d->offset[i] : 0;
        for (size_t j = 0; j < d->p; j++)
            if (m->b[j] != 0)
                for (size_t i = 0; i < d->n; i++)
                    m->eta[i] += m->b[j] * d->X[j * d->ldx + i];
        double all = elnet_cox_deviance(d, &m->ord, d->w, m->eta);
        double train = elnet_cox_deviance(d, &m->ord, wtrain, m->eta);
        m->raw[(size_t)(k - 1) * full->nlam + s] = (all - train) / Wk;
    }
    m->W[k - 1] = Wk;
}

/* cvm: the folds' measures weighted by their event weights; cvsd their standard
 * error (cv.glmnet's cvstats). */
static void summarise(const cv_mem *m, size_t K, elnet_cv *cv)
{
    double sW = 0;
    for (size_t k = 0; k < K; k++)
        sW += m->W[k];
    for (size_t s = 0; s < cv->nlam; s++) {
        double mean = 0, var = 0;
        for (size_t k = 0; k < K; k++)
            mean += m->W[k] * m->raw[k * cv->nlam + s];
        mean /= sW;
        for (size_t k = 0; k < K; k++) {
            double e = m->raw[k * cv->nlam + s] - mean;
            var += m->W[k] * e * e;
        }
        cv->cvm[s] = mean;
        cv->cvsd[s] = sqrt(var / sW / (double)(K - 1));
    }
    elnet_cv_pick(cv);
}

strata_status elnet_cox_cv_run(strata_ctx *ctx, const elnet_cox_data *d, const elnet_params *prm, size_t K,
                               const int *given, unsigned long long seed, elnet_path *full, elnet_cv *out)
{
    cv_mem m;
    strata_status st = STRATA_OK;
    memset(&m, 0, sizeof m);
    memset(out, 0, sizeof *out);
    if (K < 3 || K > d->n)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet cv: %zu folds (need 3 <= K <= n = %zu)", K, d->n);
    int T = strata_threads(ctx);
    size_t n = d->n, cap = full->cap, nw = T < 2 ? 1 : (size_t)T < K + 1 ? (size_t)T : K + 1;
    strata_ctx *kids = strata_alloc(ctx, (nw > 1 ? K + 1 : 0) * sizeof *kids + 1);
    strata_status *tst = strata_alloc(ctx, (K + 1) * sizeof *tst);
    m.foldid = strata_alloc(ctx, n * sizeof *m.foldid);
    m.eta = strata_alloc(ctx, n * sizeof *m.eta);
    m.wk = strata_alloc(ctx, nw * n * sizeof *m.wk);
    m.b = strata_alloc(ctx, d->p * sizeof *m.b), m.W = strata_alloc(ctx, K * sizeof *m.W);
    m.fp = strata_calloc(ctx, K, sizeof *m.fp);
    if (!(kids && tst && m.foldid && m.eta && m.wk && m.b && m.W && m.fp))
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "coxnet cv: out of memory for %zu folds of %zu rows", K, n);
    for (size_t k = 0; st == STRATA_OK && k < K; k++)
        st = elnet_path_alloc(ctx, d->p, cap, &m.fp[k]);
    for (size_t i = 0; st == STRATA_OK && given && i < n; i++)
        if (given[i] < 1 || (size_t)given[i] > K)
            st = STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet cv: fold id of row %zu is %d, outside 1..%zu", i + 1,
                             given[i], K);
        else
            m.foldid[i] = given[i];
    if (st == STRATA_OK && !given) /* dealt within events and within censored rows */
        st = elnet_folds(ctx, n, K, seed, d->status, m.foldid);
    if (st == STRATA_OK) {
        cv_job job = {d, prm, full, &m};
        st = elnet_tasks(ctx, K + 1, nw, cv_fit, &job, kids, tst);
    }
    size_t nlam = full->nlam;
    if (st == STRATA_OK) {
        m.raw = strata_alloc(ctx, K * nlam * sizeof *m.raw + 1);
        out->lambda = strata_alloc(ctx, nlam * sizeof *out->lambda + 1);
        out->cvm = strata_alloc(ctx, nlam * sizeof *out->cvm + 1);
        out->cvsd = strata_alloc(ctx, nlam * sizeof *out->cvsd + 1);
        out->nzero = strata_alloc(ctx, nlam * sizeof *out->nzero + 1);
        if (!m.raw || !out->lambda || !out->cvm || !out->cvsd || !out->nzero)
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "coxnet cv: out of memory for %zu folds x %zu lambdas", K, nlam);
    }
    if (st == STRATA_OK)
        st = elnet_cox_order_make(ctx, d, &m.ord);
    if (st == STRATA_OK) {
        for (int k = 1; (size_t)k <= K; k++)
            cv_measure(d, k, full, &m);
        out->nlam = nlam;
        out->measure = ELNET_MEASURE_DEVIANCE;
        memcpy(out->lambda, full->lambda, nlam * sizeof *out->lambda);
        memcpy(out->nzero, full->df, nlam * sizeof *out->nzero);
        summarise(&m, K, out);
    } else {
        elnet_cv_free(ctx, out);
    }
    cv_mem_free(ctx, &m, K);
    strata_free(ctx, kids, 0);
    strata_free(ctx, tst, 0);
    return st;
}
