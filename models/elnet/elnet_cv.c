/* models/elnet/elnet_cv.c — K-fold cross-validation as cv.glmnet computes it:
 * each fold's own path is fitted with the held-out rows given weight 0 (the
 * same standardisation, null model and fit as dropping them, without copying
 * X); its coefficients interpolated at the full-data path's lambdas predict
 * the held-out rows; the per-fold weighted measure's weighted mean and
 * standard error over folds pick lambda.min and lambda.1se. The rows are
 * arrays in memory or, when the design exceeds the memory budget, read window
 * by window (d->rd, docs/scale.md "The elastic net under a budget"): every
 * fit streams as the full path does (a fold's rows at weight 0 as the reader
 * fills each window), one at a time, and the held-out measures of every fold
 * at every lambda take one more read; in memory the same code sees one window
 * of every row. The fold ids are one byte a row (K <= 255). AUC sorts the
 * held-out predictions by (prediction, row) through the one external sort
 * (engine/core/xsort.h). Across MPI ranks (docs/scale.md#mpi) every rank
 * holds (or streams) all rows and the fits are dealt round the ranks: task t
 * (0: the full path, k: fold k) on rank t mod K; rank 0's full path goes to
 * every rank, each rank measures its folds, and the folds' weights and
 * measures are gathered and summarised in fold order. Invariant: every sum
 * of a fold's measure runs over its held-out rows in row order, whatever the
 * windows, threads or ranks, so the curve is byte-identical. */
#include "comm.h"
#include "elnet_internal.h"
#include "internal.h"
#include "xsort.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CV_PMIN 1e-5      /* cv.lognet's prob_min */
#define CV_FOLD_BYTE 255  /* folds up to this many: one byte a row */
#define CV_SORT_READ 4096 /* records read from the sort at a time */

/* ---- fold ids ------------------------------------------------------------ */
/* The fold of each row: one byte a row (K <= CV_FOLD_BYTE), else ints (the
 * caller's, or dealt). */
typedef struct cv_ids {
    const unsigned char *b;
    const int *i;
} cv_ids;

static int fold_of(const cv_ids *f, size_t i) { return f->b ? f->b[i] : f->i[i]; }

/* Rows of class 0 then class 1 (one class when cls is NULL), each shuffled
 * (Fisher-Yates, the one generator of engine/core/rng.c keyed by seed and
 * class), dealt folds 1..K in turn so every fold gets its share; into b (one
 * byte a row) or ids. cls may be b (read before anything is written). The
 * order takes 4 bytes a row while it is dealt. */
static strata_status deal_folds(strata_ctx *ctx, size_t n, size_t K, unsigned long long seed,
                                const unsigned char *cls, unsigned char *b, int *ids)
{
    if (n > UINT32_MAX)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: %zu rows: folds are dealt for at most %u", n,
                           (unsigned)UINT32_MAX);
    uint32_t *order = strata_alloc(ctx, (n + 1) * sizeof *order);
    size_t m = 0, next = 0;
    if (!order)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu fold ids", n);
    for (int c = 0; c < (cls ? 2 : 1); c++) {
        size_t start = m;
        strata_rng rng = strata_rng_make(seed, (uint64_t)c, STRATA_STREAM_FOLDS);
        for (size_t i = 0; i < n; i++)
            if (!cls || cls[i] == c)
                order[m++] = (uint32_t)i;
        for (size_t i = m - start; i > 1; i--) {
            size_t j = strata_rng_below(&rng, i);
            uint32_t t = order[start + i - 1];
            order[start + i - 1] = order[start + j];
            order[start + j] = t;
        }
    }
    for (size_t k = 0; k < m; k++, next++)
        if (b)
            b[order[k]] = (unsigned char)(next % K + 1);
        else
            ids[order[k]] = (int)(next % K) + 1;
    strata_free(ctx, order, 0);
    return STRATA_OK;
}

strata_status elnet_folds(strata_ctx *ctx, size_t n, size_t K, unsigned long long seed,
                          const double *strat, int *foldid)
{
    unsigned char *cls = strat ? strata_alloc(ctx, n + 1) : NULL;
    if (strat && !cls)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu fold ids", n);
    for (size_t i = 0; cls && i < n; i++)
        cls[i] = strat[i] > 0.5;
    strata_status st = deal_folds(ctx, n, K, seed, cls, NULL, foldid);
    strata_free(ctx, cls, 0);
    return st;
}

/* ---- the rows, window by window ------------------------------------------ */
/* What a read of the rows computes on a window: rows [row0, row0 + w->n). */
typedef void (*cv_window_fn)(void *arg, const elnet_data *w, size_t row0);

/* fn on d's rows: in memory one window of every row; streamed, the windows of
 * whole chunks the reader's first set holds, in row order. */
static strata_status cv_windows(strata_ctx *ctx, const elnet_data *d, cv_window_fn fn, void *arg)
{
    const elnet_reader *rd = d->rd;
    if (!rd) {
        fn(arg, d, 0);
        return STRATA_OK;
    }
    for (size_t c = 0, e; c < ELNET_NCHUNK; c = e) {
        size_t r0 = d->n * c / ELNET_NCHUNK, r1;
        e = c + 1;
        while (e < ELNET_NCHUNK && d->n * (e + 1) / ELNET_NCHUNK - r0 <= rd->cap)
            e++;
        r1 = d->n * e / ELNET_NCHUNK;
        if (r1 - r0 > rd->cap)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: a chunk of %zu rows does not fit the reader's %zu rows",
                               r1 - r0, rd->cap);
        STRATA_TRY(rd->read(ctx, rd->ud, 0, r0, r1));
        elnet_data w = {r1 - r0, d->p, rd->X[0], rd->cap, rd->y[0], rd->w[0], rd->off[0], {0}, NULL};
        fn(arg, &w, r0);
    }
    return STRATA_OK;
}

static void class_window(void *arg, const elnet_data *w, size_t row0)
{
    unsigned char *cls = arg;
    for (size_t i = 0; i < w->n; i++)
        cls[row0 + i] = w->y[i] > 0.5;
}

/* The fold ids: the caller's (checked to lie in 1..K) or dealt from seed
 * (stratified by y > 0.5 for binomial: streamed, one read of the rows). */
static strata_status cv_foldid(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, size_t K,
                               const int *given, unsigned long long seed, cv_ids *ids, void **mem)
{
    size_t n = d->n;
    *mem = NULL;
    if (given) {
        for (size_t i = 0; i < n; i++)
            if (given[i] < 1 || (size_t)given[i] > K)
                return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: fold id of row %zu is %d, outside 1..%zu", i,
                                   given[i], K);
        ids->i = given;
        return STRATA_OK;
    }
    int byte = K <= CV_FOLD_BYTE, strat = prm->family == STRATA_FAMILY_BINOMIAL;
    unsigned char *b = byte ? strata_alloc(ctx, n + 1) : NULL, *cls = NULL;
    int *iv = byte ? NULL : strata_alloc(ctx, (n + 1) * sizeof *iv);
    *mem = byte ? (void *)b : (void *)iv;
    cls = strat ? byte ? b : strata_alloc(ctx, n + 1) : NULL;
    if (!*mem || (strat && !cls)) {
        if (cls != b)
            strata_free(ctx, cls, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu fold ids", n);
    }
    strata_status st = strat ? cv_windows(ctx, d, class_window, cls) : STRATA_OK;
    if (st == STRATA_OK)
        st = deal_folds(ctx, n, K, seed, cls, b, iv);
    if (cls != b)
        strata_free(ctx, cls, 0);
    ids->b = b;
    ids->i = iv;
    return st;
}

/* Fold k's training weights of rows [r0, r0 + m): 0 in the fold, else w
 * (NULL: 1). out may be w. */
static void train_weights(const cv_ids *f, int k, const double *w, size_t r0, size_t m, double *out)
{
    for (size_t i = 0; i < m; i++)
        out[i] = fold_of(f, r0 + i) == k ? 0 : w ? w[i] : 1;
}

/* A fold's fit on streamed rows: the data's reader, each window's weights
 * made the fold's training weights as it is read. */
typedef struct fold_reader {
    elnet_reader rd;
    const elnet_reader *in;
    const cv_ids *ids;
    int k;
} fold_reader;

static strata_status fold_read(strata_ctx *ctx, void *ud, int t, size_t r0, size_t r1)
{
    fold_reader *f = ud;
    STRATA_TRY(f->in->read(ctx, f->in->ud, t, r0, r1));
    train_weights(f->ids, f->k, f->in->w[t], r0, r1 - r0, f->rd.w[t]);
    return STRATA_OK;
}

/* ---- the held-out measures ------------------------------------------------ */
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

/* One read of the rows measuring this rank's folds at lambdas [l0, l0 + L)
 * of the full path (cv.glmnet's default alignment = "lambda"). */
typedef struct cv_meas {
    strata_ctx *ctx;
    strata_family fam;
    elnet_measure ms;
    const cv_ids *ids;
    size_t nlam, p, me, nr;
    size_t l0, L;
    const double *B, *a0; /* K x nlam x p, K x nlam: the folds' coefficients at the full lambdas */
    double *s, *sw;       /* K x nlam weighted loss sums, K held-out weights (row order) */
    double *E;            /* L x ELNET_PRED_BLOCK: eta (AUC: the prediction) of a block's rows */
    double *xr;           /* ELNET_PRED_BLOCK x p: the block's rows of X, row by row */
    size_t *idx;          /* ELNET_PRED_BLOCK: the block's rows in the window */
    int nt;               /* threads over a block's lambdas */
    strata_xsort *x;      /* AUC: (prediction, row x L + l) */
    double *ya, *wa;      /* AUC: outcome and weight (wa NULL: 1) by row */
    strata_status st;
} cv_meas;

/* m held-out rows of a window (idx): eta at each lambda, a0 + offset, then
 * + b_j x_ij in column order (b_j = 0 skipped), with the row's fold's
 * coefficients; the losses summed per fold and lambda in row order (AUC: the
 * predictions kept in E). The lambdas over the threads: the same bits. */
static void meas_block(cv_meas *a, const elnet_data *w, size_t row0, size_t m)
{
    size_t p = a->p, L = a->L;
    for (size_t j = 0; j < p; j++)
        for (size_t i = 0; i < m; i++)
            a->xr[i * p + j] = w->X[j * w->ldx + a->idx[i]];
#pragma omp parallel for num_threads(a->nt) schedule(static) if (a->nt > 1)
    for (size_t l = 0; l < L; l++) {
        size_t lg = a->l0 + l;
        double *e = a->E + l * ELNET_PRED_BLOCK;
        for (size_t i = 0; i < m; i++) {
            size_t r = a->idx[i], k = (size_t)fold_of(a->ids, row0 + r) - 1;
            const double *b = a->B + (k * a->nlam + lg) * p, *x = a->xr + i * p;
            double eta = a->a0[k * a->nlam + lg] + (w->offset ? w->offset[r] : 0);
            for (size_t j = 0; j < p; j++)
                if (b[j] != 0) /* adds +-0: at most the sign of a zero eta, which no loss sees */
                    eta += b[j] * x[j];
            if (a->ms == ELNET_MEASURE_AUC)
                e[i] = 1 / (1 + exp(-eta));
            else
                a->s[k * a->nlam + lg] += (w->w ? w->w[r] : 1) * row_loss(a->fam, a->ms, w->y[r], eta);
        }
    }
    for (size_t i = 0; i < m; i++) {
        size_t r = a->idx[i], k = (size_t)fold_of(a->ids, row0 + r) - 1, row = row0 + r;
        a->sw[k] += w->w ? w->w[r] : 1;
        if (a->ms != ELNET_MEASURE_AUC)
            continue;
        a->ya[row] = w->y[r];
        if (a->wa)
            a->wa[row] = w->w[r];
        for (size_t l = 0; l < L && a->st == STRATA_OK; l++)
            a->st = strata_xsort_push(a->ctx, a->x, strata_f64_key(a->E[l * ELNET_PRED_BLOCK + i]), row * L + l);
    }
}

/* A window's rows of this rank's folds, in blocks of ELNET_PRED_BLOCK. */
static void meas_window(void *arg, const elnet_data *w, size_t row0)
{
    cv_meas *a = arg;
    size_t m = 0;
    for (size_t i = 0; i < w->n && a->st == STRATA_OK; i++) {
        if ((size_t)fold_of(a->ids, row0 + i) % a->nr != a->me)
            continue;
        a->idx[m++] = i;
        if (m == ELNET_PRED_BLOCK) {
            meas_block(a, w, row0, m);
            m = 0;
        }
    }
    if (m && a->st == STRATA_OK)
        meas_block(a, w, row0, m);
}

/* Weighted AUC (survival::concordance with weights, ties 1/2) of one fold at
 * one lambda, its predictions ascending (ties by row): per run of tied
 * predictions the positive and negative weights, then the run's pairs. */
typedef struct auc_acc {
    double p, tp, tn, below, conc, wpos, wneg;
    int any;
} auc_acc;

static void auc_close(auc_acc *g)
{
    g->conc += g->tp * (g->below + 0.5 * g->tn);
    g->below += g->tn;
    g->wpos += g->tp;
    g->wneg += g->tn;
    g->tp = g->tn = 0;
}

/* The sorted predictions of lambdas [l0, l0 + L), each to its fold's and
 * lambda's AUC: raw[(k - 1) * nlam + l]. */
static strata_status auc_read(strata_ctx *ctx, const cv_meas *a, size_t K, double *raw)
{
    size_t L = a->L, got = 0;
    auc_acc *acc = strata_calloc(ctx, K * L + 1, sizeof *acc);
    uint64_t *key = strata_alloc(ctx, CV_SORT_READ * sizeof *key);
    size_t *row = strata_alloc(ctx, CV_SORT_READ * sizeof *row);
    strata_status st = acc && key && row ? STRATA_OK
                                         : STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu AUCs", K * L);
    do {
        if (st == STRATA_OK)
            st = strata_xsort_read(ctx, a->x, key, row, CV_SORT_READ, &got);
        for (size_t q = 0; st == STRATA_OK && q < got; q++) {
            size_t i = row[q] / L, l = row[q] % L;
            auc_acc *g = acc + (size_t)(fold_of(a->ids, i) - 1) * L + l;
            double p = strata_key_f64(key[q]), w = a->wa ? a->wa[i] : 1, y = a->ya[i];
            if (g->any && p != g->p)
                auc_close(g);
            g->p = p;
            g->any = 1;
            g->tp += w * y;
            g->tn += w * (1 - y);
        }
    } while (st == STRATA_OK && got > 0);
    for (size_t k = 0; st == STRATA_OK && k < K; k++)
        for (size_t l = 0; (k + 1) % a->nr == a->me && l < L; l++) {
            auc_acc *g = acc + k * L + l;
            if (g->any)
                auc_close(g);
            raw[k * a->nlam + a->l0 + l] = g->conc / (g->wpos * g->wneg);
        }
    STRATA_FREE_ALL(ctx, acc, key, row);
    return st;
}

size_t elnet_cv_sort_mem(size_t records, size_t budget)
{
    size_t least = strata_xsort_floor(records);
    return budget / 8 > least ? budget / 8 : least;
}

/* This rank's folds' measures at every lambda of the full path and their
 * held-out weights W: one read of the rows (AUC in memory: one a lambda, the
 * predictions of one lambda sorted at a time; streamed: one read, every
 * lambda's predictions through the external sort under the budget). */
static strata_status cv_measure(strata_ctx *ctx, const elnet_data *d, strata_family fam, cv_meas *a, size_t K,
                                elnet_path *const *fold, const double *lambda, double *raw, double *W)
{
    size_t nlam = a->nlam, p = a->p, mine = 0, budget = strata_ctx_memory_budget(ctx);
    double *B = (double *)a->B, *a0 = (double *)a->a0;
    strata_status st = STRATA_OK;
    for (size_t k = 1; k <= K; k++)
        if (k % a->nr == a->me)
            for (size_t l = 0; l < nlam; l++) {
                interp(fold[k - 1], lambda[l], p, B + ((k - 1) * nlam + l) * p, &a0[(k - 1) * nlam + l]);
                a->s[(k - 1) * nlam + l] = 0;
            }
    a->ctx = ctx;
    a->fam = fam;
    a->L = a->ms == ELNET_MEASURE_AUC && !d->rd ? 1 : nlam;
    for (size_t i = 0; a->ms == ELNET_MEASURE_AUC && i < d->n; i++)
        mine += (size_t)fold_of(a->ids, i) % a->nr == a->me;
    for (a->l0 = 0; st == STRATA_OK && a->l0 < nlam; a->l0 += a->L) {
        memset(a->sw, 0, K * sizeof *a->sw);
        if (a->ms == ELNET_MEASURE_AUC)
            st = strata_xsort_begin(ctx, mine * a->L, NULL, 0, d->rd ? elnet_cv_sort_mem(mine * a->L, budget) : 0,
                                    "elnet cv: the held-out predictions", &a->x);
        a->st = STRATA_OK;
        if (st == STRATA_OK)
            st = cv_windows(ctx, d, meas_window, a);
        if (st == STRATA_OK)
            st = a->st;
        if (st == STRATA_OK && a->x)
            st = strata_xsort_end(ctx, a->x);
        if (st == STRATA_OK && a->x)
            st = auc_read(ctx, a, K, raw);
        if (a->x && a->l0 == 0 && d->rd)
            strata_log(ctx, STRATA_LOG_INFO, "elnet cv: %zu held-out predictions sorted in %zu runs on file",
                       mine * a->L, strata_xsort_runs(a->x));
        strata_xsort_free(ctx, a->x);
        a->x = NULL;
    }
    for (size_t k = 1; st == STRATA_OK && k <= K; k++)
        if (k % a->nr == a->me) {
            W[k - 1] = a->sw[k - 1];
            for (size_t l = 0; a->ms != ELNET_MEASURE_AUC && l < nlam; l++)
                raw[(k - 1) * nlam + l] = a->s[(k - 1) * nlam + l] / a->sw[k - 1];
        }
    return st;
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

/* ---- the fits -------------------------------------------------------------- */
/* One worker's fold fits: in memory the training weights (n), streamed a
 * fold reader (weights of a window's rows when the data have none). */
typedef struct cv_work {
    double *wtrain;
    fold_reader fr;
} cv_work;

static int work_alloc(strata_ctx *ctx, const elnet_data *d, const cv_ids *ids, cv_work *wk)
{
    const elnet_reader *in = d->rd;
    if (!in)
        return (wk->wtrain = strata_alloc(ctx, d->n * sizeof *wk->wtrain + 1)) != NULL;
    wk->fr.rd = *in;
    wk->fr.in = in;
    wk->fr.ids = ids;
    wk->fr.rd.read = fold_read;
    wk->fr.rd.ud = &wk->fr;
    for (int t = 0; t < in->nsets; t++)
        if (!in->w[t] && !(wk->fr.rd.w[t] = strata_alloc(ctx, (in->cap + 1) * sizeof *wk->fr.rd.w[t])))
            return 0;
    return 1;
}

static void work_free(strata_ctx *ctx, cv_work *wk)
{
    strata_free(ctx, wk->wtrain, 0);
    for (int t = 0; wk->fr.in && t < wk->fr.in->nsets; t++)
        if (!wk->fr.in->w[t])
            strata_free(ctx, wk->fr.rd.w[t], 0);
}

/* What the fits of a CV share: the data, the parameters (X checked), the
 * fold ids, the full path (task 0) and the folds' paths (tasks 1..K). */
typedef struct cv_fits {
    const elnet_data *d;
    const elnet_params *prm;
    const cv_ids *ids;
    elnet_path *full;
    elnet_path **fold;
} cv_fits;

/* Task t: the full-data path (t = 0) or fold t's own path (held-out rows
 * weight 0; its own lambdas and early stop, as cv.glmnet's fold fits). */
static strata_status cv_task(strata_ctx *ctx, const cv_fits *f, size_t t, cv_work *wk)
{
    if (t == 0)
        return elnet_fit(ctx, f->d, f->prm, f->full);
    elnet_data D = *f->d;
    int k = (int)t;
    if (D.rd) {
        wk->fr.k = k;
        D.rd = &wk->fr.rd;
    } else {
        train_weights(f->ids, k, D.w, 0, D.n, wk->wtrain);
        D.w = wk->wtrain;
    }
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
    return cv_task(ctx, j->f, j->me + i * j->nr, &j->wk[worker]);
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

/* The measures' buffers (this rank's folds' coefficients at the full lambdas). */
static int meas_alloc(strata_ctx *ctx, size_t K, size_t cap, size_t p, cv_meas *a)
{
    a->B = strata_alloc(ctx, (K * cap * p + 1) * sizeof *a->B);
    a->a0 = strata_alloc(ctx, (K * cap + 1) * sizeof *a->a0);
    a->s = strata_alloc(ctx, (K * cap + 1) * sizeof *a->s);
    a->sw = strata_alloc(ctx, (K + 1) * sizeof *a->sw);
    a->E = strata_alloc(ctx, (cap + 1) * ELNET_PRED_BLOCK * sizeof *a->E);
    a->xr = strata_alloc(ctx, (p + 1) * ELNET_PRED_BLOCK * sizeof *a->xr);
    a->idx = strata_alloc(ctx, ELNET_PRED_BLOCK * sizeof *a->idx);
    return a->B && a->a0 && a->s && a->sw && a->E && a->xr && a->idx;
}

static void meas_free(strata_ctx *ctx, cv_meas *a)
{
    STRATA_FREE_ALL(ctx, (void *)a->B, (void *)a->a0, a->s, a->sw, a->E, a->xr, a->idx, a->ya, a->wa);
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
    if (d->sl.comm)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet cv: the rows must be whole on every MPI rank");
    strata_status st = elnet_check(ctx, d, prm); /* X once, before any fit (streamed: by every fit) */
    if (st != STRATA_OK)
        return st;
    elnet_params P = *prm;
    P.x_checked = !d->rd;
    /* across ranks (the context's; every rank holds all rows): this rank's
     * tasks t = me, me + nr, ... of 0..K */
    const strata_comm *c = strata_ctx_comm(ctx);
    size_t nr = c ? (size_t)c->size : 1, me = c ? (size_t)c->rank : 0, mine = me <= K ? (K - me) / nr + 1 : 0;
    int T = strata_threads(ctx);
    /* streamed: one fit at a time (one reader, and each fit's windows fill the budget) */
    size_t cap = full->cap, nw = T < 2 || mine < 2 || d->rd ? 1 : (size_t)T < mine ? (size_t)T : mine;
    double *g = c ? strata_alloc(ctx, K * (cap + 1) * sizeof *g) : NULL;
    size_t *cn = c ? strata_alloc(ctx, 2 * nr * sizeof *cn) : NULL;
    double *raw = strata_alloc(ctx, K * cap * sizeof *raw + 1), *W = strata_alloc(ctx, K * sizeof *W);
    elnet_path **fold = strata_calloc(ctx, K, sizeof *fold);
    cv_work *wk = strata_calloc(ctx, nw, sizeof *wk);
    strata_ctx *kids = strata_alloc(ctx, (nw > 1 ? K + 1 : 0) * sizeof *kids + 1);
    strata_status *tst = strata_alloc(ctx, (K + 1) * sizeof *tst);
    cv_ids ids = {NULL, NULL};
    void *idmem = NULL;
    cv_meas a;
    memset(&a, 0, sizeof a);
    memset(out, 0, sizeof *out);
    int ok = raw && W && fold && wk && kids && tst && (!c || (g && cn)) && meas_alloc(ctx, K, cap, d->p, &a);
    if (!ok)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for %zu folds x %zu lambdas", K, cap);
    for (size_t k = 0; st == STRATA_OK && k < K; k++)
        st = elnet_path_alloc(ctx, d->p, cap, &fold[k]);
    if (st == STRATA_OK)
        st = cv_foldid(ctx, d, prm, K, given, seed, &ids, &idmem);
    for (size_t w = 0; st == STRATA_OK && w < nw; w++)
        if (!work_alloc(ctx, d, &ids, &wk[w]))
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for the training weights of %zu rows", d->n);
    if (c) /* (allocations may fail on one rank alone) */
        st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK) {
        cv_fits f = {d, &P, &ids, full, fold};
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
    int weighted = d->rd ? d->rd->w[0] != NULL : d->w != NULL;
    if (st == STRATA_OK) {
        out->lambda = strata_alloc(ctx, nlam * sizeof *out->lambda);
        out->cvm = strata_alloc(ctx, nlam * sizeof *out->cvm);
        out->cvsd = strata_alloc(ctx, nlam * sizeof *out->cvsd);
        out->nzero = strata_alloc(ctx, nlam * sizeof *out->nzero);
        if (ms == ELNET_MEASURE_AUC) { /* (the fits' per-row vectors are freed by now) */
            a.ya = strata_alloc(ctx, d->n * sizeof *a.ya + 1);
            a.wa = weighted ? strata_alloc(ctx, d->n * sizeof *a.wa + 1) : NULL;
        }
        if (!out->lambda || !out->cvm || !out->cvsd || !out->nzero ||
            (ms == ELNET_MEASURE_AUC && (!a.ya || (weighted && !a.wa))))
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet cv: out of memory for a curve of %zu lambdas", nlam);
        if (c)
            st = strata_comm_agree(ctx, st);
    }
    if (st == STRATA_OK) {
        a.ms = ms;
        a.ids = &ids;
        a.nlam = nlam;
        a.p = d->p;
        a.me = me;
        a.nr = nr;
        a.nt = (double)d->n * (double)d->p * (double)nlam < prm->par_min ? 1 : T;
        st = cv_measure(ctx, d, prm->family, &a, K, fold, full->lambda, raw, W);
        if (c)
            st = strata_comm_agree(ctx, st);
        if (st == STRATA_OK && c)
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
    meas_free(ctx, &a);
    STRATA_FREE_ALL(ctx, idmem, raw, W, fold, wk, kids, tst, g, cn);
    return st;
}
