/* models/elnet/elnet_cv.c — K-fold cross-validation as cv.glmnet computes it:
 * each fold's own path is fitted with the held-out rows given weight 0 (the
 * same standardisation, null model and fit as dropping them, without copying
 * X); its coefficients interpolated at the full-data path's lambdas predict
 * the held-out rows; the per-fold weighted measure's weighted mean and
 * standard error over folds pick lambda.min and lambda.1se. Across MPI ranks
 * (docs/scale.md#mpi) every rank holds all rows and the fits are dealt round
 * the ranks: task t (0: the full path, k: fold k) on rank t mod K; rank 0's
 * full path goes to every rank, each rank measures its folds, and the folds'
 * weights and measures are gathered and summarised in fold order. Invariant:
 * folds run in order, so the curve is byte-identical whatever the thread or
 * rank count. */
#include "comm.h"
#include "elnet_internal.h"
#include "internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CV_PMIN 1e-5 /* cv.lognet's prob_min */

strata_status elnet_folds(strata_ctx *ctx, size_t n, size_t K, unsigned long long seed,
                          const double *strat, int *foldid)
{
    /* rows of class 0 then class 1 (one class without strat), each shuffled
     * (Fisher-Yates, the one generator of engine/core/rng.c keyed by seed and
     * class), dealt folds 1..K in turn so every fold gets its share */
    size_t *order = strata_alloc(ctx, (n + 1) * sizeof *order), m = 0, next = 0;
    if (!order)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu fold ids", n);
    for (int cls = 0; cls < (strat ? 2 : 1); cls++) {
        size_t start = m;
        strata_rng rng = strata_rng_make(seed, (uint64_t)cls, STRATA_STREAM_FOLDS);
        for (size_t i = 0; i < n; i++)
            if (!strat || (strat[i] > 0.5) == cls)
                order[m++] = i;
        for (size_t i = m - start; i > 1; i--) {
            size_t j = strata_rng_below(&rng, i), t = order[start + i - 1];
            order[start + i - 1] = order[start + j];
            order[start + j] = t;
        }
    }
    for (size_t k = 0; k < m; k++)
        foldid[order[k]] = (int)(next++ % K) + 1;
    strata_free(ctx, order, 0);
    return STRATA_OK;
}

/* Held-out loss of one row at linear predictor eta (cv.elnet / cv.lognet /
 * cv.fishnet): squared error, or deviance with cv.lognet's clamp. */
static double row_loss(strata_family f, elnet_measure ms, double y, double eta)
{
    if (f == STRATA_FAMILY_BINOMIAL) {
        double p = 1 / (1 + exp(-eta));
        if (ms == ELNET_MEASURE_MSE)
            return (y - p) * (y - p) * 2;
        p = fmin(fmax(p, CV_PMIN), 1 - CV_PMIN);
        if (y == 0 || y == 1) /* the same bits as below (ly = 0, 0 x log = -0), one log */
            return 2 * (0 - log(y == 1 ? p : 1 - p));
        double ly = (y > 0 ? y * log(y) : 0) + (y < 1 ? (1 - y) * log(1 - y) : 0);
        return 2 * (ly - (y * log(p) + (1 - y) * log(1 - p)));
    }
    if (f == STRATA_FAMILY_POISSON) {
        if (ms == ELNET_MEASURE_MSE)
            return (y - exp(eta)) * (y - exp(eta));
        return 2 * ((y > 0 ? y * log(y) - y : 0) - (y * eta - exp(eta)));
    }
    return (y - eta) * (y - eta);
}

typedef struct cv_pred {
    size_t idx;
    double p, w, y;
} cv_pred;

static int cmp_pred(const void *a, const void *b)
{
    double x = ((const cv_pred *)a)->p, y = ((const cv_pred *)b)->p;
    return (x > y) - (x < y);
}

/* Weighted AUC (survival::concordance with weights, ties 1/2) of m rows. */
static double auc(cv_pred *r, size_t m)
{
    double below = 0, conc = 0, wpos = 0, wneg = 0;
    qsort(r, m, sizeof *r, cmp_pred);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        double tp = 0, tn = 0;
        while (j < m && r[j].p == r[i].p) {
            tp += r[j].w * r[j].y;
            tn += r[j].w * (1 - r[j].y);
            j++;
        }
        conc += tp * (below + 0.5 * tn);
        below += tn;
        wpos += tp;
        wneg += tn;
        i = j;
    }
    return conc / (wpos * wneg);
}

/* glmnet's lambda.interp: coefficients at s from the fold path's steps
 * around it, linear in lambda, clamped to the path's ends. */
static void interp(const elnet_path *fp, double s, size_t p, double *b, double *a0)
{
    size_t k = fp->nlam, left = 0, right = 0;
    double frac = 1;
    if (k > 1) {
        double l1 = fp->lambda[0], span = l1 - fp->lambda[k - 1];
        double sf = fmin(fmax((l1 - s) / span, 0), 1);
        while (right < k - 1 && (l1 - fp->lambda[right]) / span < sf)
            right++;
        left = right > 0 && (l1 - fp->lambda[right]) / span > sf ? right - 1 : right;
        double ll = (l1 - fp->lambda[left]) / span, lr = (l1 - fp->lambda[right]) / span;
        frac = left == right || fabs(ll - lr) < 2.220446049250313e-16 ? 1 : (sf - lr) / (ll - lr);
    }
    *a0 = fp->a0[left] * frac + fp->a0[right] * (1 - frac);
    for (size_t j = 0; j < p; j++)
        b[j] = fp->beta[left * p + j] * frac + fp->beta[right * p + j] * (1 - frac);
}

/* Buffers for the held-out predictions of one fold. */
typedef struct cv_buf {
    size_t *idx;     /* n: held-out rows, ascending */
    cv_pred *pred;   /* n: AUC's (prediction, weight, outcome) */
    double *B, *a0;  /* nlam x p, nlam: coefficients interpolated at the full lambdas */
    double *E;       /* nlam x ELNET_PRED_BLOCK: eta of a block of held-out rows */
    double *xb;      /* ELNET_PRED_BLOCK: one column of the block */
    double *s;       /* nlam: the weighted loss sums */
} cv_buf;

/* eta_m of held-out rows idx[0..m) at every lambda (E[l * ELNET_PRED_BLOCK + i]),
 * reading each column of X once per block: a0 + offset, then + b_j x_ij in
 * column order, as a row-by-row sum would (b_j = 0 skipped). */
static void block_eta(const elnet_data *d, const cv_buf *cb, const size_t *idx, size_t m,
                      size_t nlam)
{
    for (size_t l = 0; l < nlam; l++)
        for (size_t i = 0; i < m; i++)
            cb->E[l * ELNET_PRED_BLOCK + i] = cb->a0[l] + (d->offset ? d->offset[idx[i]] : 0);
    for (size_t j = 0; j < d->p; j++) {
        const double *x = d->X + j * d->ldx;
        for (size_t i = 0; i < m; i++)
            cb->xb[i] = x[idx[i]];
        for (size_t l = 0; l < nlam; l++) {
            double b = cb->B[l * d->p + j], *e = cb->E + l * ELNET_PRED_BLOCK;
            if (b == 0) /* adds +-0: at most the sign of a zero eta, which no loss sees */
                continue;
            for (size_t i = 0; i < m; i++)
                e[i] += b * cb->xb[i];
        }
    }
}

/* Fold k's measure at every lambda of the full path (cv.glmnet's default
 * alignment = "lambda"): raw[(k - 1) * nlam + l]. Held-out rows go in blocks
 * of ELNET_PRED_BLOCK, each block's columns read once for every lambda; the
 * losses are summed per lambda in row order. AUC keeps every prediction of a
 * lambda, so it runs one lambda at a time. */
static void fold_measure(const elnet_data *d, strata_family fam, elnet_measure ms, const int *foldid,
                         int k, const elnet_path *fp, const double *lambda, size_t nlam, double *raw,
                         const cv_buf *cb)
{
    size_t nh = 0;
    double sw = 0;
    for (size_t i = 0; i < d->n; i++)
        if (foldid[i] == k) {
            cb->idx[nh++] = i;
            sw += d->w ? d->w[i] : 1;
        }
    for (size_t l = 0; l < nlam; l++) {
        interp(fp, lambda[l], d->p, cb->B + l * d->p, &cb->a0[l]);
        cb->s[l] = 0;
    }
    size_t per = ms == ELNET_MEASURE_AUC ? 1 : nlam;
    for (size_t l0 = 0; l0 < nlam; l0 += per) {
        cv_buf at = *cb;
        at.B = cb->B + l0 * d->p;
        at.a0 = cb->a0 + l0;
        for (size_t b0 = 0; b0 < nh; b0 += ELNET_PRED_BLOCK) {
            size_t m = nh - b0 < ELNET_PRED_BLOCK ? nh - b0 : ELNET_PRED_BLOCK;
            block_eta(d, &at, cb->idx + b0, m, per);
            for (size_t l = 0; l < per; l++)
                for (size_t i = 0; i < m; i++) {
                    size_t r = cb->idx[b0 + i];
                    double eta = cb->E[l * ELNET_PRED_BLOCK + i], w = d->w ? d->w[r] : 1;
                    if (ms == ELNET_MEASURE_AUC)
                        cb->pred[b0 + i] = (cv_pred){r, 1 / (1 + exp(-eta)), w, d->y[r]};
                    else
                        cb->s[l0 + l] += w * row_loss(fam, ms, d->y[r], eta);
                }
        }
        if (ms == ELNET_MEASURE_AUC)
            raw[(size_t)(k - 1) * nlam + l0] = auc(cb->pred, nh);
    }
    for (size_t l = 0; ms != ELNET_MEASURE_AUC && l < nlam; l++)
        raw[(size_t)(k - 1) * nlam + l] = cb->s[l] / sw;
}

/* cvm, cvsd over folds (fold weights W_k) and glmnet's getOptcv. */
static void cv_summarise(const double *raw, const double *W, size_t K, size_t stride, elnet_cv *cv)
{
    double sW = 0;
    for (size_t k = 0; k < K; k++)
        sW += W[k];
    for (size_t m = 0; m < cv->nlam; m++) {
        double mean = 0, var = 0;
        for (size_t k = 0; k < K; k++)
            mean += W[k] * raw[k * stride + m];
        mean /= sW;
        for (size_t k = 0; k < K; k++)
            var += W[k] * (raw[k * stride + m] - mean) * (raw[k * stride + m] - mean);
        cv->cvm[m] = mean;
        cv->cvsd[m] = sqrt(var / sW / (double)(K - 1));
    }
    elnet_cv_pick(cv);
}

void elnet_cv_pick(elnet_cv *cv)
{
    double sign = cv->measure == ELNET_MEASURE_AUC ? -1 : 1, best = INFINITY;
    for (size_t m = 0; m < cv->nlam; m++)
        best = fmin(best, sign * cv->cvm[m]);
    cv->idx_min = 0;
    while (sign * cv->cvm[cv->idx_min] > best) /* the largest lambda at the minimum */
        cv->idx_min++;
    double semin = sign * cv->cvm[cv->idx_min] + cv->cvsd[cv->idx_min];
    cv->idx_1se = 0;
    while (sign * cv->cvm[cv->idx_1se] > semin)
        cv->idx_1se++;
    cv->lambda_min = cv->lambda[cv->idx_min];
    cv->lambda_1se = cv->lambda[cv->idx_1se];
}

void elnet_cv_free(strata_ctx *ctx, elnet_cv *cv)
{
    strata_free(ctx, cv->lambda, 0);
    strata_free(ctx, cv->cvm, 0);
    strata_free(ctx, cv->cvsd, 0);
    strata_free(ctx, cv->nzero, 0);
    memset(cv, 0, sizeof *cv);
}

/* The fold ids: the caller's (checked to lie in 1..K) or dealt from seed. */
static strata_status cv_foldid(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, size_t K,
                               const int *given, unsigned long long seed, int *foldid)
{
    if (!given)
        return elnet_folds(ctx, d->n, K, seed, prm->family == STRATA_FAMILY_BINOMIAL ? d->y : NULL, foldid);
    for (size_t i = 0; i < d->n; i++) {
        if (given[i] < 1 || (size_t)given[i] > K)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: fold id of row %zu is %d, outside 1..%zu",
                               i, given[i], K);
        foldid[i] = given[i];
    }
    return STRATA_OK;
}

/* One worker's buffers: the training weights of its fold fits and the
 * held-out predictions' buffers. */
typedef struct cv_work {
    double *wtrain; /* n */
    cv_buf cb;
} cv_work;

/* Allocates a worker's buffers for n rows, p columns and up to cap lambdas
 * (pred only for AUC); 0 when out of memory. */
static int work_alloc(strata_ctx *ctx, size_t n, size_t p, size_t cap, elnet_measure ms, cv_work *wk)
{
    cv_buf *cb = &wk->cb;
    wk->wtrain = strata_alloc(ctx, n * sizeof *wk->wtrain + 1);
    cb->idx = strata_alloc(ctx, n * sizeof *cb->idx + 1);
    cb->pred = strata_alloc(ctx, (ms == ELNET_MEASURE_AUC ? n : 0) * sizeof *cb->pred + 1);
    cb->B = strata_alloc(ctx, (cap * p + 1) * sizeof *cb->B);
    cb->a0 = strata_alloc(ctx, (cap + 1) * sizeof *cb->a0);
    cb->E = strata_alloc(ctx, (cap + 1) * ELNET_PRED_BLOCK * sizeof *cb->E);
    cb->xb = strata_alloc(ctx, ELNET_PRED_BLOCK * sizeof *cb->xb);
    cb->s = strata_alloc(ctx, (cap + 1) * sizeof *cb->s);
    return wk->wtrain && cb->idx && cb->pred && cb->B && cb->a0 && cb->E && cb->xb && cb->s;
}

static void work_free(strata_ctx *ctx, cv_work *wk)
{
    STRATA_FREE_ALL(ctx, wk->wtrain, wk->cb.idx, wk->cb.pred, wk->cb.B, wk->cb.a0, wk->cb.E, wk->cb.xb,
                    wk->cb.s);
}

/* What the fits of a CV share: the data, the parameters (X checked), the
 * fold ids, the full path (task 0) and the folds' paths (tasks 1..K). */
typedef struct cv_fits {
    const elnet_data *d;
    const elnet_params *prm;
    const int *foldid;
    elnet_path *full;
    elnet_path **fold;
    double *W; /* K: the folds' held-out weights */
} cv_fits;

/* Task t: the full-data path (t = 0) or fold t's own path (held-out rows
 * weight 0; its own lambdas and early stop, as cv.glmnet's fold fits). */
static strata_status cv_task(strata_ctx *ctx, const cv_fits *f, size_t t, double *wtrain)
{
    if (t == 0)
        return elnet_fit(ctx, f->d, f->prm, f->full);
    const elnet_data *d = f->d;
    elnet_data D = *d;
    int k = (int)t;
    double Wk = 0;
    for (size_t i = 0; i < d->n; i++) {
        double w = d->w ? d->w[i] : 1;
        wtrain[i] = f->foldid[i] == k ? 0 : w;
        Wk += f->foldid[i] == k ? w : 0;
    }
    f->W[k - 1] = Wk;
    D.w = wtrain;
    elnet_path *fp = f->fold[k - 1];
    fp->nlam = 0;
    strata_status st = elnet_fit(ctx, &D, f->prm, fp);
    if (st == STRATA_OK && fp->nlam == 0)
        st = STRATA_FAIL(ctx, STRATA_ENOCONV, "elnet cv: fold %d did not converge at the first lambda", k);
    return st;
}

strata_status elnet_tasks(strata_ctx *ctx, size_t ntask, size_t nw, elnet_task_fn fn, void *ud,
                          strata_ctx *kids, strata_status *tst)
{
    if (nw <= 1) {
        for (size_t t = 0; t < ntask; t++)
            if ((tst[t] = fn(ctx, ud, t, 0)) != STRATA_OK)
                return tst[t];
        return STRATA_OK;
    }
    size_t next = 0;
    int stop = 0;
    for (size_t t = 0; t < ntask; t++) {
        strata_ctx_child(ctx, &kids[t]);
        tst[t] = STRATA_OK;
    }
#pragma omp parallel num_threads((int)nw)
    {
        int w = omp_get_thread_num();
        for (;;) {
            size_t t;
            int halt;
#pragma omp atomic read
            halt = stop;
            if (halt)
                break;
#pragma omp atomic capture
            t = next++;
            if (t >= ntask)
                break;
            if ((tst[t] = fn(&kids[t], ud, t, w)) != STRATA_OK) {
#pragma omp atomic write
                stop = 1;
            }
        }
    }
    strata_status st = STRATA_OK;
    for (size_t t = 0; t < ntask; t++) {
        strata_ctx_child_end(ctx, &kids[t], st == STRATA_OK && tst[t] != STRATA_OK);
        if (st == STRATA_OK)
            st = tst[t];
    }
    return st;
}

/* This rank's tasks: its i-th is task me + i * nr (one process: all, in order). */
typedef struct cv_job {
    const cv_fits *f;
    cv_work *wk;
    size_t me, nr;
} cv_job;

static strata_status cv_job_task(strata_ctx *ctx, void *ud, size_t i, int worker)
{
    const cv_job *j = ud;
    return cv_task(ctx, j->f, j->me + i * j->nr, j->wk[worker].wtrain);
}

/* Rank 0's full path (task 0) to every rank: its scalars, then nlam steps. */
static strata_status share_full(const strata_comm *c, elnet_path *full)
{
    elnet_path h = *full; /* only the scalars are taken from it */
    STRATA_TRY(c->bcast(c->ud, &h, sizeof h, 0));
    if (h.nlam > full->cap)
        return STRATA_EINTERNAL;
    full->nlam = h.nlam, full->nulldev = h.nulldev, full->npasses = h.npasses, full->ngram = h.ngram;
    full->nscan = h.nscan, full->nstale = h.nstale, full->converged = h.converged;
    STRATA_TRY(c->bcast(c->ud, full->lambda, h.nlam * sizeof *full->lambda, 0));
    STRATA_TRY(c->bcast(c->ud, full->a0, h.nlam * sizeof *full->a0, 0));
    STRATA_TRY(c->bcast(c->ud, full->beta, h.nlam * full->p * sizeof *full->beta, 0));
    STRATA_TRY(c->bcast(c->ud, full->dev_ratio, h.nlam * sizeof *full->dev_ratio, 0));
    return c->bcast(c->ud, full->df, h.nlam * sizeof *full->df, 0);
}

/* Every fold's held-out weight W and measures raw (nlam a fold) to every
 * rank: each rank packs its folds (k mod nr = rank, ascending) as 1 + nlam
 * doubles into g, the parts are gathered in rank order and unpacked in fold
 * order. cn, dp: nr counts and displacements. */
static strata_status gather_folds(const strata_comm *c, size_t K, size_t nlam, double *raw, double *W, double *g,
                                  size_t *cn, size_t *dp)
{
    size_t nr = (size_t)c->size, row = 1 + nlam, at = 0;
    for (size_t r = 0; r < nr; r++) {
        size_t m = r == 0 ? K / nr : r <= K ? (K - r) / nr + 1 : 0; /* folds k in 1..K with k mod nr = r */
        cn[r] = m * row * sizeof *g;
        dp[r] = at;
        at += cn[r];
    }
    double *mine = g + dp[c->rank] / sizeof *g;
    for (size_t k = (size_t)c->rank ? (size_t)c->rank : nr; k <= K; k += nr, mine += row) {
        mine[0] = W[k - 1];
        memcpy(mine + 1, raw + (k - 1) * nlam, nlam * sizeof *raw);
    }
    STRATA_TRY(c->allgatherv(c->ud, NULL, g, cn, dp));
    for (size_t r = 0; r < nr; r++) {
        const double *part = g + dp[r] / sizeof *g;
        for (size_t k = r ? r : nr; k <= K; k += nr, part += row) {
            W[k - 1] = part[0];
            memcpy(raw + (k - 1) * nlam, part + 1, nlam * sizeof *raw);
        }
    }
    return STRATA_OK;
}

strata_status elnet_cv_run(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, size_t K,
                           const int *given, unsigned long long seed, elnet_measure ms,
                           elnet_path *full, elnet_cv *out)
{
    if (K < 3 || K > d->n)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: %zu folds (need 3 <= K <= n = %zu)", K, d->n);
    if (ms == ELNET_MEASURE_DEFAULT)
        ms = prm->family == STRATA_FAMILY_GAUSSIAN ? ELNET_MEASURE_MSE : ELNET_MEASURE_DEVIANCE;
    if (ms == ELNET_MEASURE_AUC && prm->family != STRATA_FAMILY_BINOMIAL)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: AUC needs the binomial family");
    strata_status st = elnet_check(ctx, d, prm); /* X once, before any fit */
    if (st != STRATA_OK)
        return st;
    elnet_params P = *prm;
    P.x_checked = 1;
    /* across ranks (the context's; every rank holds all rows): this rank's
     * tasks t = me, me + nr, ... of 0..K */
    const strata_comm *c = d->sl.comm ? NULL : strata_ctx_comm(ctx);
    size_t nr = c ? (size_t)c->size : 1, me = c ? (size_t)c->rank : 0, mine = me <= K ? (K - me) / nr + 1 : 0;
    int T = strata_threads(ctx);
    size_t cap = full->cap, nw = T < 2 || mine < 2 ? 1 : (size_t)T < mine ? (size_t)T : mine;
    double *g = c ? strata_alloc(ctx, K * (cap + 1) * sizeof *g) : NULL;
    size_t *cn = c ? strata_alloc(ctx, 2 * nr * sizeof *cn) : NULL;
    int *foldid = strata_alloc(ctx, d->n * sizeof *foldid + 1);
    double *raw = strata_alloc(ctx, K * cap * sizeof *raw + 1), *W = strata_alloc(ctx, K * sizeof *W);
    elnet_path **fold = strata_calloc(ctx, K, sizeof *fold);
    cv_work *wk = strata_calloc(ctx, nw, sizeof *wk);
    strata_ctx *kids = strata_alloc(ctx, (nw > 1 ? K + 1 : 0) * sizeof *kids + 1);
    strata_status *tst = strata_alloc(ctx, (K + 1) * sizeof *tst);
    memset(out, 0, sizeof *out);
    int ok = foldid && raw && W && fold && wk && kids && tst && (!c || (g && cn));
    for (size_t w = 0; ok && w < nw; w++)
        ok = work_alloc(ctx, d->n, d->p, cap, ms, &wk[w]);
    if (!ok)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu folds x %zu lambdas", K, cap);
    for (size_t k = 0; st == STRATA_OK && k < K; k++)
        st = elnet_path_alloc(ctx, d->p, cap, &fold[k]);
    if (st == STRATA_OK)
        st = cv_foldid(ctx, d, prm, K, given, seed, foldid);
    if (c) /* (allocations may fail on one rank alone) */
        st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK) {
        cv_fits f = {d, &P, foldid, full, fold, W};
        cv_job job = {&f, wk, me, nr};
        st = elnet_tasks(ctx, mine, nw, cv_job_task, &job, kids, tst);
        if (c) { /* the first failing task speaks, as in one process */
            uint64_t key = UINT64_MAX;
            for (size_t i = 0; st != STRATA_OK && i < mine && key == UINT64_MAX; i++)
                if (tst[i] != STRATA_OK)
                    key = me + i * nr;
            st = strata_comm_agree_first(ctx, st, key);
        }
    }
    if (st == STRATA_OK && c)
        st = share_full(c, full);
    size_t nlam = full->nlam;
    if (st == STRATA_OK) {
        out->lambda = strata_alloc(ctx, nlam * sizeof *out->lambda);
        out->cvm = strata_alloc(ctx, nlam * sizeof *out->cvm);
        out->cvsd = strata_alloc(ctx, nlam * sizeof *out->cvsd);
        out->nzero = strata_alloc(ctx, nlam * sizeof *out->nzero);
        if (!out->lambda || !out->cvm || !out->cvsd || !out->nzero)
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for a curve of %zu lambdas", nlam);
        if (c)
            st = strata_comm_agree(ctx, st);
    }
    if (st == STRATA_OK) {
        /* each fold's measure at the full path's lambdas (this rank's folds),
         * folds over the workers */
#pragma omp parallel for num_threads((int)nw) schedule(dynamic, 1)
        for (size_t k = 1; k <= K; k++)
            if (k % nr == me)
                fold_measure(d, prm->family, ms, foldid, (int)k, fold[k - 1], full->lambda, nlam, raw,
                             &wk[omp_get_thread_num()].cb);
        if (c)
            st = gather_folds(c, K, nlam, raw, W, g, cn, cn + nr);
    }
    if (st == STRATA_OK) {
        out->nlam = nlam;
        out->measure = ms;
        memcpy(out->lambda, full->lambda, nlam * sizeof *out->lambda);
        memcpy(out->nzero, full->df, nlam * sizeof *out->nzero);
        cv_summarise(raw, W, K, nlam, out);
    } else {
        elnet_cv_free(ctx, out);
    }
    for (size_t k = 0; fold && k < K; k++)
        elnet_path_free(ctx, fold[k]);
    for (size_t w = 0; wk && w < nw; w++)
        work_free(ctx, &wk[w]);
    STRATA_FREE_ALL(ctx, foldid, raw, W, fold, wk, kids, tst, g, cn);
    return st;
}
