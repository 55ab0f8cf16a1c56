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
        if (y == 0 || y == 1) /* one log per row for 0/1 outcomes */
            dev = -2 * w * log(y == 1 ? mu : 1 - mu);
        else
            dev = 2 * w * (y * log(y / mu) + (1 - y) * log((1 - y) / (1 - mu)));
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

/* eta, v, r of rows [r0, r1) from (b0, beta); returns their deviance. */
static double eta_rows(const elnet_prob *pb, elnet_ws *ws, size_t r0, size_t r1)
{
    for (size_t i = r0; i < r1; i++)
        ws->eta[i] = ws->b0 + (pb->off ? pb->off[i] : 0);
    for (size_t j = 0; j < pb->p; j++) {
        if (ws->beta[j] == 0)
            continue;
        const double *x = pb->X + j * pb->ldx;
        const unsigned char *xb = pb->xb[j];
        double b = ws->beta[j] / pb->xs[j], m = pb->xm[j];
        if (xb)
            for (size_t i = r0; i < r1; i++)
                ws->eta[i] += b * ((double)xb[i] - m);
        else
            for (size_t i = r0; i < r1; i++)
                ws->eta[i] += b * (x[i] - m);
    }
    double dev = 0;
    for (size_t i = r0; i < r1; i++)
        dev += row_update(pb, i, ws->eta[i], &ws->v[i], &ws->r[i]);
    return dev;
}

/* eta, v, r and the deviance of chunk c's rows from (b0, beta). */
static void eta_chunk(const elnet_prob *pb, elnet_ws *ws, size_t c)
{
    size_t r0, r1;
    chunk_range(pb->n, c, &r0, &r1);
    ws->dpart_dev[c] = eta_rows(pb, ws, r0, r1);
}

static void sum_dev(elnet_ws *ws)
{
    ws->dev = 0;
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        ws->dev += ws->dpart_dev[c];
}

void elnet_eta_pass(const elnet_prob *pb, elnet_ws *ws)
{
    ws->nscan++;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        eta_chunk(pb, ws, c);
    sum_dev(ws);
}

/* sum_i r_i (x_i - m) with 8 interleaved partial sums (vectorisable; a fixed
 * order, so the same bits on every run); T the stored type of x. */
#define DOT_CENTRED(name, T)                                                 \
    static double name(const double *r, const T *x, double m, size_t n)     \
    {                                                                        \
        double acc[8] = {0}, s = 0;                                          \
        size_t i = 0;                                                        \
        for (; i + 8 <= n; i += 8)                                           \
            for (int l = 0; l < 8; l++)                                      \
                acc[l] += r[i + (size_t)l] * ((double)x[i + (size_t)l] - m); \
        for (; i < n; i++)                                                   \
            s += r[i] * ((double)x[i] - m);                                  \
        for (int l = 0; l < 8; l++)                                          \
            s += acc[l];                                                     \
        return s;                                                            \
    }
DOT_CENTRED(dot_centred, double)
DOT_CENTRED(dot_centred_b, unsigned char) /* a 0/1 column's bytes: the same bits */

/* Column j's score sum over rows [b0, b1). */
static double col_dot(const elnet_prob *pb, const double *r, size_t j, size_t b0, size_t b1)
{
    if (pb->xb[j])
        return dot_centred_b(r + b0, pb->xb[j] + b0, pb->xm[j], b1 - b0);
    return dot_centred(r + b0, pb->X + j * pb->ldx + b0, pb->xm[j], b1 - b0);
}

/* One pass for an IRLS step on a kept Gram: per ELNET_SCAN_BLOCK rows of each
 * chunk (in cache while reused), eta, v, r and the deviance from (b0, beta),
 * then the scores of S (all usable columns when `all`) and the intercept. Partial sums are per chunk, added
 * block by block in row order, then over chunks in chunk order. */
static void scan_pass(const elnet_prob *pb, elnet_ws *ws, int all)
{
    size_t p = pb->p, st = p + 1, nS = all ? ws->nU : ws->nS;
    const size_t *S = all ? ws->U : ws->S;
    ws->nscan++;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = 0; c < ELNET_NCHUNK; c++) {
        size_t r0, r1;
        double *d = ws->dpart + c * st, dev = 0;
        chunk_range(pb->n, c, &r0, &r1);
        d[p] = 0;
        for (size_t t = 0; t < nS; t++)
            d[S[t]] = 0;
        for (size_t b0 = r0; b0 < r1; b0 += ELNET_SCAN_BLOCK) {
            size_t b1 = r1 - b0 < ELNET_SCAN_BLOCK ? r1 : b0 + ELNET_SCAN_BLOCK;
            dev += eta_rows(pb, ws, b0, b1);
            for (size_t i = b0; i < b1; i++)
                d[p] += ws->r[i];
            for (size_t t = 0; t < nS; t++) {
                size_t j = S[t];
                d[j] += col_dot(pb, ws->r, j, b0, b1);
            }
        }
        ws->dpart_dev[c] = dev;
    }
    sum_dev(ws);
    for (size_t t = 0; t <= nS; t++) {
        size_t j = t < nS ? S[t] : p;
        double sum = 0;
        for (size_t c = 0; c < ELNET_NCHUNK; c++)
            sum += ws->dpart[c * st + j];
        if (j < p)
            ws->g[j] = sum / pb->xs[j];
        else
            ws->g0 = sum;
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
        const unsigned char *xb = pb->xb[j] ? pb->xb[j] + b0 : NULL;
        double xm = pb->xm[j], is = 1 / pb->xs[j];
        if (xb)
            for (size_t i = 0; i < m; i++)
                A[i * ld + t] = sv[i] * (((double)xb[i] - xm) * is);
        else
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
    ws->ngram++;
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

/* Coordinate descent on the quadratic model at the current fit (Gram and
 * scores; the Gram rebuilt first when S changed) into bS. Returns the move's
 * max G_tt (change)^2, or -1 when maxit ran out. */
static double cd_step(const elnet_prob *pb, elnet_ws *ws, double lambda, int maxit,
                      const la_kernels *k)
{
    size_t nS = ws->nS;
    if (!ws->gram_valid) { /* moved: eta and the scores at the fit first */
        gram_pass(pb, ws, k, ws->moved, pb->fam != STRATA_FAMILY_GAUSSIAN || ws->moved);
        ws->moved = 0;
    }
    ws->gram_valid = 1;
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
    return dlx;
}

/* Takes the move: (b0, beta) from bS, then eta, v, r, deviance and the
 * scores of S at the new fit in one pass. The Gram (the Hessian of the
 * quadratic model) is rebuilt in that pass only when `fresh`; otherwise the
 * next move keeps it: with exact scores the moves still converge to the same
 * solution, linearly at a rate set by how far the IRLS weights moved
 * (docs/elnet.md, "Kept Gram"). Gaussian: V is fixed, the Gram stays exact. */
static void irls_move(const elnet_prob *pb, elnet_ws *ws, const la_kernels *k, int fresh)
{
    size_t nS = ws->nS;
    for (size_t t = 0; t < nS; t++)
        ws->beta[ws->S[t]] = ws->bS[t];
    ws->b0 = ws->bS[nS];
    if (pb->fam == STRATA_FAMILY_GAUSSIAN || !fresh)
        scan_pass(pb, ws, 0);
    else
        gram_pass(pb, ws, k, 1, 1);
    ws->moved = 0;
}

/* Accepts the converged move without a pass (the pass at the next lambda's
 * first move follows): (b0, beta) from bS, the scores of S and the deviance
 * from the quadratic model, dev - 2 (g'd - d'Gd / 2), whose error is of the
 * order of the move's own (below the threshold). eta, v and r stay at the
 * last pass's fit (ws->moved) until the next pass. */
static void accept_move(const elnet_prob *pb, elnet_ws *ws)
{
    size_t nS = ws->nS;
    double gd = 0, dgd = 0;
    (void)pb;
    for (size_t t = 0; t <= nS; t++) {
        double dt = ws->bS[t] - (t < nS ? ws->beta[ws->S[t]] : ws->b0);
        if (dt == 0)
            continue;
        gd += (t < nS ? ws->g[ws->S[t]] : ws->g0) * dt;
        for (size_t u = 0; u <= nS; u++) {
            double du = ws->bS[u] - (u < nS ? ws->beta[ws->S[u]] : ws->b0);
            dgd += dt * gget(ws, t, u) * du;
        }
        ws->moved = 1;
    }
    ws->dev -= 2 * gd - dgd;
    for (size_t t = 0; t < nS; t++) {
        ws->beta[ws->S[t]] = ws->bS[t];
        ws->g[ws->S[t]] = ws->gS[t];
    }
    ws->b0 = ws->bS[nS];
    ws->g0 = ws->gS[nS];
}

void elnet_refresh(const elnet_prob *pb, elnet_ws *ws)
{
    ws->nU = 0;
    for (size_t j = 0; j < pb->p; j++)
        if (pb->ju[j])
            ws->U[ws->nU++] = j;
    scan_pass(pb, ws, 1);
}

/* Adds columns outside S whose score breaks the KKT condition
 * |g_j| <= lambda alpha vp_j; returns how many. The scores come from one pass
 * at the fit over every usable column (so eta, deviance and all scores are
 * exact there); none when S already holds every usable column. */
static size_t kkt_add(const elnet_prob *pb, elnet_ws *ws, double lambda)
{
    size_t added = 0;
    if (ws->nS == ws->nU)
        return 0;
    scan_pass(pb, ws, 1);
    ws->moved = 0;
    for (size_t j = 0; j < pb->p; j++)
        if (pb->ju[j] && !ws->inS[j] && fabs(ws->g[j]) > lambda * pb->alpha * pb->vp[j]) {
            ws->S[ws->nS++] = j;
            ws->inS[j] = 1;
            ws->gram_valid = 0;
            added++;
        }
    return added;
}

/* Whether the next move keeps the Gram: binomial only (poisson's weights
 * mu move too fast, gaussian's are fixed), a strong set of at least
 * ELNET_KEEP_MIN columns (below it a Gram costs about what a scan does), and
 * moves shrinking fast (this one's squared change < ELNET_KEEP_RATE x the last). */
static int keep_gram(const elnet_prob *pb, const elnet_ws *ws, double dlx, double last)
{
    return pb->fam == STRATA_FAMILY_BINOMIAL && ws->nS >= ELNET_KEEP_MIN && dlx < ELNET_KEEP_RATE * last;
}

int elnet_point(const elnet_prob *pb, elnet_ws *ws, double lambda, int maxit)
{
    la_kernels k;
    la_kernels_get(LA_ISA_AUTO, &k);
    for (;;) {
        /* A fit is the solution when the next move would change no
         * coefficient by more than the threshold: it is kept as it is, and
         * the pass at it (eta, deviance, scores) serves the next lambda. The
         * Gram is kept while the moves shrink fast (each move's squared
         * change below ELNET_KEEP_RATE of the last), else rebuilt. */
        double last = INFINITY;
        for (int it = 0;; it++) {
            double dlx = cd_step(pb, ws, lambda, maxit, &k);
            if (dlx < 0 || it > maxit)
                return 0;
            if (dlx < pb->thr) {
                accept_move(pb, ws);
                break;
            }
            irls_move(pb, ws, &k, !keep_gram(pb, ws, dlx, last));
            last = dlx;
        }
        if (kkt_add(pb, ws, lambda) == 0)
            return 1;
    }
}
