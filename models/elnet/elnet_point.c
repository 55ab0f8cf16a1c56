/* models/elnet/elnet_point.c — the solution at one lambda (Friedman, Hastie &
 * Tibshirani 2010): IRLS steps, each a weighted quadratic approximation solved
 * by coordinate descent with covariance updates over the strong set S (Gram of
 * S from the fused kernel), then a KKT check of every column outside S.
 * Invariant: every row sum runs over ELNET_NCHUNK fixed row ranges combined in
 * range order (across MPI ranks, each rank's ranges gathered first), so the bits
 * depend neither on the thread count nor on the number of ranks. */
#include "elnet_internal.h"
#include "glm_internal.h"
#include "linalg.h"

#include <math.h>
#include <string.h>

#define BIN_PMIN 1e-9 /* glmnet.control()$pmin */

/* Across MPI ranks: every rank's chunk partials of chunk-major a (stride
 * doubles a chunk) to every rank, before they are added in chunk order
 * (streamed rows: once the ranks agree that every read succeeded). */
static void gather(const elnet_prob *pb, elnet_ws *ws, double *a, size_t stride)
{
    if (pb->sl.comm && pb->st) /* streamed: a read failed on one rank is every rank's first */
        ws->cst = elnet_stream_agree(pb->st, ws->cst);
    if (pb->sl.comm && ws->cst == STRATA_OK)
        ws->cst = elnet_gather(&pb->sl, a, stride * sizeof *a);
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

/* eta, v, r of rows [r0, r1) from (b0, beta); returns their deviance and
 * adds sum (r - r before)^2 / w over rows with w > 0 to *drift. The pass
 * kernels (elnet_kern.c) add each non-zero column; binomial 0/1 rows take
 * the vector row kernel, other rows row_update. */
static double eta_rows(const elnet_prob *pb, elnet_ws *ws, size_t r0, size_t r1, double *drift)
{
    const elnet_kern *k = pb->kern;
    size_t m = r1 - r0;
    double *eta = ws->eta + r0;
    for (size_t i = r0; i < r1; i++)
        ws->eta[i] = ws->b0 + (pb->off ? pb->off[i] : 0);
    for (size_t j = 0; j < pb->p; j++) {
        if (ws->beta[j] == 0)
            continue;
        double b = ws->beta[j] / pb->xs[j], xm = pb->xm[j];
        if (pb->xb[j])
            k->axpyb(m, b, xm, pb->xb[j] + r0, eta);
        else
            k->axpy(m, b, xm, pb->X + j * pb->ldx + r0, eta);
    }
    if (pb->y01)
        return k->binom(m, eta, pb->w + r0, pb->y + r0, ws->v + r0, ws->r + r0, drift);
    double dev = 0, dr = 0;
    for (size_t i = r0; i < r1; i++) {
        double old = ws->r[i];
        dev += row_update(pb, i, ws->eta[i], &ws->v[i], &ws->r[i]);
        if (pb->w[i] > 0)
            dr += (ws->r[i] - old) * (ws->r[i] - old) / pb->w[i];
    }
    *drift += dr;
    return dev;
}

/* After a pass that recomputed r: the deviance and drift from the chunks'
 * partials (in chunk order), and each score outside S, not recomputed by the
 * pass, may have moved by cn_j drift^1/2 more (Cauchy-Schwarz:
 * |sum_i dr_i x~_ij| <= (sum dr^2 / w)^1/2 (sum w x~_j^2)^1/2); the caller
 * zeroes gb_j of the columns it scored. */
static void pass_done(const elnet_prob *pb, elnet_ws *ws)
{
    double drift = 0;
    gather(pb, ws, ws->dpart_dev, 1);
    gather(pb, ws, ws->dpart_drift, 1);
    ws->dev = 0;
    for (size_t c = 0; c < ELNET_NCHUNK; c++) {
        ws->dev += ws->dpart_dev[c];
        drift += ws->dpart_drift[c];
    }
    double step = sqrt(drift) * (1 + 1e-9);
    for (size_t t = 0; t < ws->nU; t++)
        ws->gb[ws->U[t]] += pb->cn[ws->U[t]] * step;
    ws->fin = 0;
}

static void eta_chunks(const elnet_prob *pb, elnet_ws *ws, void *arg)
{
    (void)arg;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = pb->sl.c0; c < pb->sl.c1; c++) {
        size_t r0, r1;
        elnet_chunk_rows(&pb->sl, c, &r0, &r1);
        ws->dpart_drift[c] = 0;
        ws->dpart_dev[c] = eta_rows(pb, ws, r0, r1, &ws->dpart_drift[c]);
    }
}

void elnet_eta_pass(const elnet_prob *pb, elnet_ws *ws)
{
    ws->nscan++;
    elnet_windows(pb, ws, eta_chunks, NULL);
    pass_done(pb, ws);
}

/* Column j's score sum over rows [b0, b1). */
static double col_dot(const elnet_prob *pb, const double *r, size_t j, size_t b0, size_t b1)
{
    if (pb->xb[j])
        return pb->kern->dotb(b1 - b0, r + b0, pb->xb[j] + b0, pb->xm[j]);
    return pb->kern->dot(b1 - b0, r + b0, pb->X + j * pb->ldx + b0, pb->xm[j]);
}

/* The scores of columns L[0..nL) (and, with `icpt`, the intercept's) from the
 * chunks' partial sums in ws->dpart (stride p + 1), added in chunk order; the
 * columns' bounds gb are zeroed: their scores are exact at this pass. */
static void scores_done(const elnet_prob *pb, elnet_ws *ws, const size_t *L, size_t nL, int icpt)
{
    size_t p = pb->p, st = p + 1;
    if (nL + (icpt != 0))
        gather(pb, ws, ws->dpart, st);
    for (size_t t = 0; t < nL + (icpt != 0); t++) {
        size_t j = t < nL ? L[t] : p;
        double sum = 0;
        for (size_t c = 0; c < ELNET_NCHUNK; c++)
            sum += ws->dpart[c * st + j];
        if (j < p) {
            ws->g[j] = sum / pb->xs[j];
            ws->gb[j] = 0;
        } else {
            ws->g0 = sum;
        }
    }
}

/* One pass over the data at the current fit: per ELNET_SCAN_BLOCK rows of
 * each chunk (in cache while reused), eta, v, r and the deviance from (b0,
 * beta), then the scores of columns L[0..nL) and the intercept. Partial sums
 * are per chunk, added block by block in row order, then over chunks in
 * chunk order. */
typedef struct list_arg {
    const size_t *L;
    size_t nL;
} list_arg;

static void scan_chunks(const elnet_prob *pb, elnet_ws *ws, void *arg)
{
    const size_t *L = ((const list_arg *)arg)->L, nL = ((const list_arg *)arg)->nL;
    size_t p = pb->p, st = p + 1;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = pb->sl.c0; c < pb->sl.c1; c++) {
        size_t r0, r1;
        double *d = ws->dpart + c * st, dev = 0, dr = 0;
        elnet_chunk_rows(&pb->sl, c, &r0, &r1);
        d[p] = 0;
        for (size_t t = 0; t < nL; t++)
            d[L[t]] = 0;
        for (size_t b0 = r0; b0 < r1; b0 += ELNET_SCAN_BLOCK) {
            size_t b1 = r1 - b0 < ELNET_SCAN_BLOCK ? r1 : b0 + ELNET_SCAN_BLOCK;
            dev += eta_rows(pb, ws, b0, b1, &dr);
            for (size_t i = b0; i < b1; i++)
                d[p] += ws->r[i];
            for (size_t t = 0; t < nL; t++) {
                size_t j = L[t];
                d[j] += col_dot(pb, ws->r, j, b0, b1);
            }
        }
        ws->dpart_dev[c] = dev;
        ws->dpart_drift[c] = dr;
    }
}

static void scan_pass(const elnet_prob *pb, elnet_ws *ws, const size_t *L, size_t nL)
{
    list_arg a = {L, nL};
    ws->nscan++;
    elnet_windows(pb, ws, scan_chunks, &a);
    pass_done(pb, ws);
    scores_done(pb, ws, L, nL, 1);
}

/* Packs chunk c's rows [b0, b0 + m) as sqrt(v) [x~_S, 1 (, z)] into A, z =
 * r / v the working residual (so the z row of the Gram is the score of S):
 * the centred, scaled columns of S go to the chunk's buffer, then the pack
 * kernel scales and transposes them (rows past the last multiple of 8 here,
 * with the same products). */
static void pack_block(const elnet_prob *pb, elnet_ws *ws, size_t c, size_t b0, size_t m, size_t ld,
                       int with_z, double *A, const la_kernels *k)
{
    size_t nS = ws->nS, p = pb->p;
    double *buf = ws->cbuf + c * (p + 3) * ELNET_BLOCK, *sv = buf + (p + 1) * ELNET_BLOCK;
    double *z = buf + (p + 2) * ELNET_BLOCK;
    const double **cols = ws->cols + c * (p + 2);
    for (size_t i = 0; i < m; i++) {
        sv[i] = sqrt(ws->v[b0 + i]);
        z[i] = sv[i] > 0 ? ws->r[b0 + i] / sv[i] : 0;
    }
    for (size_t t = 0; t < nS; t++) {
        size_t j = ws->S[t];
        double *o = buf + t * ELNET_BLOCK;
        if (pb->xb[j])
            pb->kern->centreb(m, pb->xb[j] + b0, pb->xm[j], 1 / pb->xs[j], o);
        else
            pb->kern->centre(m, pb->X + j * pb->ldx + b0, pb->xm[j], 1 / pb->xs[j], o);
        cols[t] = o;
    }
    cols[nS] = ws->ones;
    size_t m8 = m & ~(size_t)7, pc = with_z ? nS + 1 : nS;
    if (m8)
        k->pack(m8, pc, ld, cols, sv, with_z ? z : sv, A);
    for (size_t i = m8; i < m; i++) {
        double *a = A + i * ld;
        for (size_t t = 0; t < pc; t++)
            a[t] = sv[i] * cols[t][i];
        a[pc] = with_z ? z[i] : sv[i];
        for (size_t t = pc + 1; t < ld; t++)
            a[t] = 0;
    }
}

/* G (lower triangle, G[j*ld + i], i >= j) = [X_S, 1]' V [X_S, 1] over the
 * standardised columns of S by the fused Gram kernel, ELNET_BLOCK rows at a
 * time. with_eta first refreshes each block's eta, v, r (one pass for the
 * IRLS update and the next Gram); with_z adds the working-residual column,
 * whose row gives the scores g_S and g0 at the same time. */
typedef struct gram_arg {
    const la_kernels *k;
    int with_eta, with_z;
    const size_t *L;
    size_t nL, ld;
} gram_arg;

static void gram_chunks(const elnet_prob *pb, elnet_ws *ws, void *arg)
{
    const gram_arg *a = arg;
    const la_kernels *k = a->k;
    const int with_eta = a->with_eta, with_z = a->with_z;
    const size_t *L = a->L, nL = a->nL, ld = a->ld, st = pb->p + 1;
#pragma omp parallel for num_threads(pb->nthreads) schedule(static)
    for (size_t c = pb->sl.c0; c < pb->sl.c1; c++) {
        size_t r0, r1;
        double *P = ws->part + c * ws->ld * ws->ld, *A = ws->pack + c * ELNET_BLOCK * ws->ld, dev = 0;
        double dr = 0, *d = ws->dpart + c * st;
        elnet_chunk_rows(&pb->sl, c, &r0, &r1);
        memset(P, 0, ld * ld * sizeof *P);
        for (size_t t = 0; t < nL; t++)
            d[L[t]] = 0;
        for (size_t b0 = r0; b0 < r1; b0 += ELNET_BLOCK) {
            size_t m = r1 - b0 < ELNET_BLOCK ? r1 - b0 : ELNET_BLOCK;
            if (with_eta)
                dev += eta_rows(pb, ws, b0, b0 + m, &dr);
            for (size_t t = 0; t < nL; t++)
                d[L[t]] += col_dot(pb, ws->r, L[t], b0, b0 + m);
            pack_block(pb, ws, c, b0, m, ld, with_z, A, k);
            k->gram(m, ld, A, P);
        }
        ws->dpart_dev[c] = dev;
        ws->dpart_drift[c] = dr;
    }
}

static void gram_pass(const elnet_prob *pb, elnet_ws *ws, const la_kernels *k, int with_eta, int with_z,
                      const size_t *L, size_t nL)
{
    size_t nS = ws->nS, q = nS + 1 + (with_z != 0), ld = la_gram_ld(q);
    gram_arg a = {k, with_eta, with_z, L, nL, ld};
    ws->ngram++;
    elnet_windows(pb, ws, gram_chunks, &a);
    if (with_eta)
        pass_done(pb, ws);
    scores_done(pb, ws, L, nL, 0);
    gather(pb, ws, ws->part, ws->ld * ws->ld);
    ws->mg = 0;
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
        gram_pass(pb, ws, k, ws->moved, pb->fam != STRATA_FAMILY_GAUSSIAN || ws->moved, NULL, 0);
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

/* Whether the stale score of column j (outside S) settles both the KKT check
 * at lambda and the next lambda's strong rule when its distance from the
 * exact score is at most b: out of both (|g_j| + b <= tnext vp_j), or in the
 * next strong set for sure and within the KKT bound (|g_j| - b > tnext vp_j,
 * |g_j| + b <= lambda alpha vp_j). tnext < 0 (unknown): never. */
static int settled(const elnet_prob *pb, const elnet_ws *ws, size_t j, double b, double lambda,
                   double tnext)
{
    double a = fabs(ws->g[j]), vp = pb->vp[j];
    if (tnext < 0)
        return 0;
    return a + b <= tnext * vp || (a - b > tnext * vp && a + b <= lambda * pb->alpha * vp);
}

/* ws->T = S, then the columns outside S that a move's pass scores as well:
 * those whose stale score would not be settled at the KKT check after a drift
 * of the residuals by `drift` (the move's bound, with room for the moves
 * after it). The KKT check after the last move then needs no pass of its own
 * for them. None without a bound (poisson): its KKT check scores them all.
 * Returns the length. */
static size_t move_list(const elnet_prob *pb, elnet_ws *ws, double lambda, double tnext, double drift)
{
    size_t nL = ws->nS;
    memcpy(ws->T, ws->S, ws->nS * sizeof *ws->S);
    for (size_t t = 0; tnext >= 0 && drift < INFINITY && t < ws->nU; t++) {
        size_t j = ws->U[t];
        if (!ws->inS[j] && !settled(pb, ws, j, ws->gb[j] + pb->cn[j] * (ws->fin + drift), lambda, tnext))
            ws->T[nL++] = j;
    }
    return nL;
}

/* max_i |d eta_i| of the move bS - (beta, b0) is at most |d_0| + sum_t |d_t| xmax_t. */
static double move_eta_max(const elnet_prob *pb, const elnet_ws *ws)
{
    size_t nS = ws->nS;
    double m = fabs(ws->bS[nS] - ws->b0);
    for (size_t t = 0; t < nS; t++)
        m += fabs(ws->bS[t] - ws->beta[ws->S[t]]) * pb->xmax[ws->S[t]];
    return m * (1 + 1e-9);
}

/* A bound on how far the move bS - (beta, b0) moves the residuals r from
 * the current fit, D = (sum_i (d r_i)^2 / w_i)^1/2, given that the current
 * fit is within mg (in max |eta|) of the fit where the Gram's weights were
 * taken. Two bounds, the smaller kept:
 * - Lipschitz: D <= L ||d eta||_w <= L (|d_0| + sum_t |d_t| cn_t), L = 1/4
 *   binomial, 1 gaussian, none for poisson (INFINITY);
 * - curvature: gaussian d r = -w d eta, so D = (d'Gd)^1/2 (G has weights w);
 *   binomial d r_i = -w_i f(xi_i) d eta_i, f = mu (1 - mu) <= 1/4 and, since
 *   |(log f)'| <= 1, f(xi_i) <= f_i e^(mg + M), f_i at the Gram's fit (its
 *   weights v_i = w_i f_i), M = max |d eta| of the move: D^2 = sum_i v_i
 *   d eta_i^2 f(xi_i)^2 / f_i <= d'Gd e^(mg + M) / 4.
 * d'Gd gets a rounding margin of 1e-10 (sum_t |d_t| G_tt^1/2)^2. Sets *dgd. */
static double move_bound(const elnet_prob *pb, const elnet_ws *ws, double mv, double *dgd)
{
    size_t nS = ws->nS;
    double deta = 0, dabs = 0, q = 0;
    for (size_t t = 0; t <= nS; t++) {
        double dt = ws->bS[t] - (t < nS ? ws->beta[ws->S[t]] : ws->b0);
        if (dt == 0)
            continue;
        for (size_t u = 0; u <= nS; u++)
            q += dt * gget(ws, t, u) * (ws->bS[u] - (u < nS ? ws->beta[ws->S[u]] : ws->b0));
        deta += fabs(dt) * (t < nS ? pb->cn[ws->S[t]] : 1);
        dabs += fabs(dt) * sqrt(gget(ws, t, t));
    }
    *dgd = q;
    if (deta == 0)
        return 0;
    double quad = sqrt(fmax(q, 0) + 1e-10 * dabs * dabs);
    if (pb->fam == STRATA_FAMILY_BINOMIAL)
        return fmin(0.25 * deta, 0.5 * exp(0.5 * (ws->mg + mv)) * quad) * (1 + 1e-9);
    if (pb->fam == STRATA_FAMILY_GAUSSIAN)
        return fmin(deta, quad) * (1 + 1e-9);
    return INFINITY;
}

/* Takes the move: (b0, beta) from bS, then eta, v, r, deviance and the
 * scores of S (and of the columns outside S in move_list) at the new fit in
 * one pass. The Gram (the Hessian of the quadratic model) is rebuilt in that
 * pass only when `fresh`; otherwise the next move keeps it: with exact scores
 * the moves still converge to the same solution, linearly at a rate set by
 * how far the IRLS weights moved (docs/elnet.md, "Kept Gram"). Gaussian: V is
 * fixed, the Gram stays exact. */
static void irls_move(const elnet_prob *pb, elnet_ws *ws, const la_kernels *k, int fresh, double lambda,
                      double tnext)
{
    size_t nS = ws->nS;
    double dgd, mv = move_eta_max(pb, ws), drift = move_bound(pb, ws, mv, &dgd);
    size_t nL = move_list(pb, ws, lambda, tnext, 1.5 * drift);
    if (nL - nS > nS) /* many: cheaper read once, by the KKT check, than by every move */
        nL = nS;
    for (size_t t = 0; t < nS; t++)
        ws->beta[ws->S[t]] = ws->bS[t];
    ws->b0 = ws->bS[nS];
    if (pb->fam == STRATA_FAMILY_GAUSSIAN || !fresh) {
        scan_pass(pb, ws, ws->T, nL);
        ws->mg += mv;
    } else {
        gram_pass(pb, ws, k, 1, 1, ws->T + nS, nL - nS);
    }
    ws->moved = 0;
}

/* Accepts the converged move without a pass (the pass at the next lambda's
 * first move follows): (b0, beta) from bS, the scores of S and the deviance
 * from the quadratic model, dev - 2 (g'd - d'Gd / 2), whose error is of the
 * order of the move's own (below the threshold). eta, v and r stay at the
 * last pass's fit (ws->moved) until the next pass; ws->fin bounds how far r
 * is from there, (sum (r - r there)^2 / w)^1/2 (move_bound). */
static void accept_move(const elnet_prob *pb, elnet_ws *ws)
{
    size_t nS = ws->nS;
    double gd = 0, dgd = 0, mv = move_eta_max(pb, ws), bound = move_bound(pb, ws, mv, &dgd);
    for (size_t t = 0; t <= nS; t++) {
        double dt = ws->bS[t] - (t < nS ? ws->beta[ws->S[t]] : ws->b0);
        if (dt == 0)
            continue;
        gd += (t < nS ? ws->g[ws->S[t]] : ws->g0) * dt;
        ws->moved = 1;
    }
    ws->fin += bound;
    ws->mg += mv;
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
    scan_pass(pb, ws, ws->U, ws->nU);
    ws->moved = 0;
}

/* Adds columns outside S whose score breaks the KKT condition
 * |g_j| <= lambda alpha vp_j at the solution; returns how many (none when S
 * holds every usable column). A score outside S is exact only when it was
 * computed at the last pass; gb_j (+ cn_j fin, since that pass) bounds how
 * far it may be from the exact one (pass_done). A column whose bound rules it
 * out for the KKT check and for the next lambda's strong rule (|g_j| +
 * bound <= tnext vp_j, tnext <= lambda alpha) keeps its stale score; if every
 * column is ruled out, no pass runs at all. Otherwise one pass at the
 * solution makes eta, the deviance and the scores of S and of the columns not
 * ruled out exact (docs/elnet.md, "Lazy scores"). The decisions are the ones
 * exact scores would give. */
static size_t kkt_add(const elnet_prob *pb, elnet_ws *ws, double lambda, double tnext)
{
    size_t added = 0, nL = ws->nS;
    if (ws->nS == ws->nU)
        return 0;
    memcpy(ws->T, ws->S, ws->nS * sizeof *ws->S);
    for (size_t t = 0; t < ws->nU; t++) {
        size_t j = ws->U[t];
        if (ws->inS[j])
            continue;
        if (!settled(pb, ws, j, ws->gb[j] + pb->cn[j] * ws->fin, lambda, tnext))
            ws->T[nL++] = j;
        else
            ws->nstale++;
    }
    if (nL == ws->nS)
        return 0;
    scan_pass(pb, ws, ws->T, nL);
    ws->moved = 0;
    for (size_t t = ws->nS; t < nL; t++) {
        size_t j = ws->T[t];
        if (fabs(ws->g[j]) > lambda * pb->alpha * pb->vp[j]) {
            ws->S[ws->nS++] = j;
            ws->inS[j] = 1;
            ws->gram_valid = 0;
            added++;
        }
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

int elnet_point(const elnet_prob *pb, elnet_ws *ws, double lambda, double tnext, int maxit)
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
            if (dlx < 0 || it > maxit || ws->cst != STRATA_OK) /* (a failed gather or read) */
                return 0;
            if (dlx < pb->thr) {
                accept_move(pb, ws);
                break;
            }
            irls_move(pb, ws, &k, !keep_gram(pb, ws, dlx, last), lambda, tnext);
            last = dlx;
        }
        if (kkt_add(pb, ws, lambda, tnext) == 0)
            return 1;
    }
}
