/* models/elnet/elnet_point.c — the solution at one lambda (Friedman, Hastie &
 * Tibshirani 2010): IRLS steps, each a weighted quadratic approximation solved
 * by coordinate descent with covariance updates over the strong set S (Gram of
 * S from the fused kernel), then a KKT check of every column outside S.
 * Invariant: every row sum runs over ELNET_NCHUNK fixed row ranges combined in
 * range order, so the bits do not depend on the thread count. */
#include "elnet_internal.h"
#include "glm_internal.h"
#include "linalg.h"

#include <math.h>
#include <string.h>

#define BIN_PMIN 1e-9 /* glmnet.control()$pmin */

static void chunk_range(size_t n, size_t c, size_t *r0, size_t *r1)
{
    *r0 = n * c / ELNET_NCHUNK;
    *r1 = n * (c + 1) / ELNET_NCHUNK;
}

/* mu, IRLS weight v = w V(mu) (canonical links), score r = w (y - mu) and the
 * deviance contribution of row i at linear predictor eta. */
static double row_update(const elnet_prob *pb, size_t i, double eta, double *v, double *r)
{
    double w = pb->w[i], y = pb->y[i], mu, dev;
    switch (pb->fam) {
    case STRATA_FAMILY_BINOMIAL: {
        double lim = log(1.0 / BIN_PMIN - 1.0);
        double e = eta > lim ? lim : (eta < -lim ? -lim : eta);
        mu = 1.0 / (1.0 + exp(-e));
        *v = w * mu * (1.0 - mu);
        dev = (y > 0 ? y * log(y / mu) : 0) + (y < 1 ? (1 - y) * log((1 - y) / (1 - mu)) : 0);
        dev *= 2 * w;
        break;
    }
    case STRATA_FAMILY_POISSON:
        mu = exp(eta);
        *v = w * mu;
        dev = 2 * w * ((y > 0 ? y * log(y / mu) : 0) - (y - mu));
        break;
    default:
        mu = eta;
        *v = w;
        dev = w * (y - mu) * (y - mu);
        break;
    }
    *r = w * (y - mu);
    return dev;
}

/* eta, v, r and the deviance of chunk c's rows from (b0, beta). */
static void eta_chunk(const elnet_prob *pb, elnet_ws *ws, size_t c)
{
    size_t r0, r1;
    chunk_range(pb->n, c, &r0, &r1);
    for (size_t i = r0; i < r1; i++)
        ws->eta[i] = ws->b0 + (pb->off ? pb->off[i] : 0);
    for (size_t j = 0; j < pb->p; j++) {
        if (ws->beta[j] == 0)
            continue;
        const double *x = pb->X + j * pb->ldx;
        double b = ws->beta[j] / pb->xs[j], m = pb->xm[j];
        for (size_t i = r0; i < r1; i++)
            ws->eta[i] += b * (x[i] - m);
    }
    double dev = 0;
    for (size_t i = r0; i < r1; i++)
        dev += row_update(pb, i, ws->eta[i], &ws->v[i], &ws->r[i]);
    ws->dpart_dev[c] = dev;
}

static void sum_dev(elnet_ws *ws)
{
    ws->dev = 0;
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        ws->dev += ws->dpart_dev[c];
}

void elnet_eta_pass(const elnet_prob *pb, elnet_ws *ws)
{
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        eta_chunk(pb, ws, c);
    sum_dev(ws);
}

/* sum_i r_i (x_i - m) with 8 interleaved partial sums (vectorisable; a fixed
 * order, so the same bits on every run). */
static double dot_centred(const double *r, const double *x, double m, size_t n)
{
    double acc[8] = {0}, s = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += r[i + (size_t)l] * (x[i + (size_t)l] - m);
    for (; i < n; i++)
        s += r[i] * (x[i] - m);
    for (int l = 0; l < 8; l++)
        s += acc[l];
    return s;
}

/* g_j = sum_i r_i (x_ij - xm_j) / xs_j for the usable columns with sel[j]
 * (all when sel is NULL) and g0 = sum_i r_i (the intercept score). */
static void score_pass(const elnet_prob *pb, elnet_ws *ws, const unsigned char *sel, int want)
{
    size_t p = pb->p, st = p + 1;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = 0; c < ELNET_NCHUNK; c++) {
        size_t r0, r1;
        double *d = ws->dpart + c * st;
        chunk_range(pb->n, c, &r0, &r1);
        double s0 = 0;
        for (size_t i = r0; i < r1; i++)
            s0 += ws->r[i];
        d[p] = s0;
        for (size_t j = 0; j < p; j++) {
            if (!pb->ju[j] || (sel && (sel[j] != 0) != want))
                continue;
            d[j] = dot_centred(ws->r + r0, pb->X + j * pb->ldx + r0, pb->xm[j], r1 - r0);
        }
    }
    for (size_t j = 0; j <= p; j++) {
        if (j < p && (!pb->ju[j] || (sel && (sel[j] != 0) != want)))
            continue;
        double s = 0;
        for (size_t c = 0; c < ELNET_NCHUNK; c++)
            s += ws->dpart[c * st + j];
        if (j < p)
            ws->g[j] = s / pb->xs[j];
        else
            ws->g0 = s;
    }
}

/* Packs chunk rows [b0, b0 + m) as sqrt(v) [x~_S, 1 (, z)] into A, z = r / v
 * the working residual (so the z row of the Gram is the score of S). */
static void pack_block(const elnet_prob *pb, const elnet_ws *ws, size_t b0, size_t m, size_t q,
                       size_t ld, int with_z, double *A)
{
    double sv[ELNET_BLOCK];
    for (size_t i = 0; i < m; i++)
        sv[i] = sqrt(ws->v[b0 + i]);
    for (size_t t = 0; t < ws->nS; t++) {
        size_t j = ws->S[t];
        const double *x = pb->X + j * pb->ldx + b0;
        double xm = pb->xm[j], is = 1 / pb->xs[j];
        for (size_t i = 0; i < m; i++)
            A[i * ld + t] = sv[i] * ((x[i] - xm) * is);
    }
    for (size_t i = 0; i < m; i++) {
        A[i * ld + ws->nS] = sv[i];
        if (with_z)
            A[i * ld + ws->nS + 1] = sv[i] > 0 ? ws->r[b0 + i] / sv[i] : 0;
        for (size_t t = q; t < ld; t++)
            A[i * ld + t] = 0;
    }
}

/* G (lower triangle, G[j*ld + i], i >= j) = [X_S, 1]' V [X_S, 1] over the
 * standardised columns of S by the fused Gram kernel, ELNET_BLOCK rows at a
 * time. with_eta first refreshes each chunk's eta, v, r (one pass for the
 * IRLS update and the next Gram); with_z adds the working-residual column,
 * whose row gives the scores g_S and g0 at the same time. */
static void gram_pass(const elnet_prob *pb, elnet_ws *ws, const la_kernels *k, int with_eta, int with_z)
{
    size_t nS = ws->nS, q = nS + 1 + (with_z != 0), ld = la_gram_ld(q);
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = 0; c < ELNET_NCHUNK; c++) {
        size_t r0, r1;
        double *P = ws->part + c * ws->ld * ws->ld, *A = ws->pack + c * ELNET_BLOCK * ws->ld;
        if (with_eta)
            eta_chunk(pb, ws, c);
        chunk_range(pb->n, c, &r0, &r1);
        memset(P, 0, ld * ld * sizeof *P);
        for (size_t b0 = r0; b0 < r1; b0 += ELNET_BLOCK) {
            size_t m = r1 - b0 < ELNET_BLOCK ? r1 - b0 : ELNET_BLOCK;
            pack_block(pb, ws, b0, m, q, ld, with_z, A);
            k->gram(m, ld, A, P);
        }
    }
    if (with_eta)
        sum_dev(ws);
    for (size_t j = 0; j < q; j++)
        for (size_t i = j; i < q; i++) {
            double s = 0;
            for (size_t c = 0; c < ELNET_NCHUNK; c++)
                s += ws->part[c * ws->ld * ws->ld + j * ld + i];
            ws->G[j * ld + i] = s;
        }
    ws->gld = ld;
    for (size_t t = 0; with_z && t < nS; t++)
        ws->g[ws->S[t]] = ws->G[t * ld + nS + 1];
    if (with_z)
        ws->g0 = ws->G[nS * ld + nS + 1];
}

static double gget(const elnet_ws *ws, size_t i, size_t j)
{
    size_t ld = ws->gld;
    return i >= j ? ws->G[j * ld + i] : ws->G[i * ld + j];
}

/* One coordinate update of S member t (t == nS: the unpenalised intercept) on
 * the quadratic model; returns G_tt d^2 for the convergence rule. */
static double cd_update(const elnet_prob *pb, elnet_ws *ws, size_t t, double ab, double dem)
{
    size_t q = ws->nS + 1;
    double *b = ws->bS, *g = ws->gS, h = gget(ws, t, t), old = b[t], nb;
    if (t == ws->nS) {
        nb = old + g[t] / h;
    } else {
        double vp = pb->vp[ws->S[t]], u = g[t] + h * old, a = fabs(u) - vp * ab;
        nb = a > 0 ? copysign(a, u) / (h + vp * dem) : 0;
    }
    if (nb == old)
        return 0;
    double d = nb - old;
    b[t] = nb;
    for (size_t s = 0; s < q; s++)
        g[s] -= gget(ws, s, t) * d;
    return h * d * d;
}

/* Coordinate descent on the quadratic model over S and the intercept: full
 * passes, each followed by cycling over the non-zero coefficients until they
 * settle. Returns 0 when maxit passes ran out. */
static int cd_solve(const elnet_prob *pb, elnet_ws *ws, double lambda, int maxit)
{
    double ab = lambda * pb->alpha, dem = lambda * (1 - pb->alpha);
    for (;;) {
        double dlx = 0;
        if (++ws->passes > maxit)
            return 0;
        for (size_t t = 0; t <= ws->nS; t++)
            dlx = fmax(dlx, cd_update(pb, ws, t, ab, dem));
        if (dlx < pb->thr)
            return 1;
        do {
            if (++ws->passes > maxit)
                return 0;
            dlx = 0;
            for (size_t t = 0; t <= ws->nS; t++)
                if (t == ws->nS || ws->bS[t] != 0)
                    dlx = fmax(dlx, cd_update(pb, ws, t, ab, dem));
        } while (dlx >= pb->thr);
    }
}

/* One IRLS step: Gram and scores at the current fit (unless still valid), CD
 * from it, then the new eta with (binomial, poisson) the next step's Gram in
 * the same pass. Returns the step's max G_tt (change)^2, or -1 when maxit ran out. */
static double irls_step(const elnet_prob *pb, elnet_ws *ws, double lambda, int maxit,
                        const la_kernels *k)
{
    size_t nS = ws->nS;
    int gauss = pb->fam == STRATA_FAMILY_GAUSSIAN;
    if (!ws->gram_valid)
        gram_pass(pb, ws, k, 0, !gauss);
    for (size_t t = 0; t < nS; t++) {
        ws->bS[t] = ws->beta[ws->S[t]];
        ws->gS[t] = ws->g[ws->S[t]];
    }
    ws->bS[nS] = ws->b0;
    ws->gS[nS] = ws->g0;
    if (!cd_solve(pb, ws, lambda, maxit))
        return -1;
    double dlx = 0;
    for (size_t t = 0; t <= nS; t++) {
        double old = t < nS ? ws->beta[ws->S[t]] : ws->b0, d = ws->bS[t] - old;
        dlx = fmax(dlx, gget(ws, t, t) * d * d);
    }
    for (size_t t = 0; t < nS; t++)
        ws->beta[ws->S[t]] = ws->bS[t];
    ws->b0 = ws->bS[nS];
    if (gauss) { /* V fixed: the Gram stays; new residuals and scores of S */
        elnet_eta_pass(pb, ws);
        score_pass(pb, ws, ws->inS, 1);
    } else {
        gram_pass(pb, ws, k, 1, 1);
    }
    ws->gram_valid = 1;
    return dlx;
}

void elnet_refresh(const elnet_prob *pb, elnet_ws *ws)
{
    elnet_eta_pass(pb, ws);
    score_pass(pb, ws, NULL, 0);
}

/* Adds columns outside S whose score breaks the KKT condition
 * |g_j| <= lambda alpha vp_j; returns how many. */
static size_t kkt_add(const elnet_prob *pb, elnet_ws *ws, double lambda)
{
    size_t added = 0;
    score_pass(pb, ws, ws->inS, 0);
    for (size_t j = 0; j < pb->p; j++)
        if (pb->ju[j] && !ws->inS[j] && fabs(ws->g[j]) > lambda * pb->alpha * pb->vp[j]) {
            ws->S[ws->nS++] = j;
            ws->inS[j] = 1;
            ws->gram_valid = 0;
            added++;
        }
    return added;
}

int elnet_point(const elnet_prob *pb, elnet_ws *ws, double lambda, int maxit)
{
    la_kernels k;
    la_kernels_get(LA_ISA_AUTO, &k);
    for (;;) {
        for (int it = 0;; it++) {
            double dlx = irls_step(pb, ws, lambda, maxit, &k);
            if (dlx < 0)
                return 0;
            if (pb->fam == STRATA_FAMILY_GAUSSIAN || dlx < pb->thr)
                break;
            if (it > maxit)
                return 0;
        }
        if (kkt_add(pb, ws, lambda) == 0)
            return 1;
    }
}
