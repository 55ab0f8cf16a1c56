/* models/glm/glm_pass.c — one IRLS pass over the complete-case columns as R's
 * glm.fit computes it: per fixed row block, the design in L2-sized sub-blocks,
 * eta, mu, working weights and the extended Gram [sX, s z]^T [sX, s z] in one
 * fused sweep (models/linalg/gram.c kernels), partials kept per block.
 * Invariant: partials and their block-order reduction ignore the thread count. */
#include "glm_fit.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

strata_status glm_pass_alloc(strata_ctx *ctx, fitdata *d)
{
    size_t nv = d->f->nvars, p = d->p;
    d->ld = la_gram_ld(p + 1);
    la_kernels_get(LA_ISA_AUTO, &d->k);
    d->rowk = d->fam == STRATA_FAMILY_BINOMIAL && glm_rowstep_avx512();
    /* per thread: X, work, s, the kernel's sub-block A (aligned), the deviance terms */
    d->tsize = GLM_SUB * (p + 1 + d->width + 1) + GLM_SUB * d->ld + 8 + GLM_SUB;
    d->tbuf = strata_alloc(ctx, (size_t)d->nt * d->tsize * sizeof *d->tbuf);
    d->rawb = strata_calloc(ctx, (size_t)d->nt * nv, sizeof *d->rawb);
    d->colsb = strata_calloc(ctx, (size_t)d->nt * p + 1, sizeof *d->colsb);
    d->rawcol = strata_alloc(ctx, (p + 1) * sizeof *d->rawcol);
    /* the dense path keeps a Gram per block; the categorical-aware one compact group partials */
    d->Gp = d->fmode ? NULL : strata_alloc(ctx, d->nblocks * d->ld * d->ld * sizeof *d->Gp);
    d->eta = strata_alloc(ctx, (d->stream ? 0 : d->n) * sizeof *d->eta + 1); /* streamed: per chunk */
    d->part = strata_calloc(ctx, d->nblocks * 4, sizeof *d->part);
    if (!d->tbuf || !d->rawb || !d->colsb || !d->rawcol || (!d->Gp && !d->fmode) || !d->eta || !d->part)
        return STRATA_ENOMEM;
    for (size_t j = 0; j < p; j++)
        d->rawcol[j] = glm_design_col_raw(d->f, j);
    return STRATA_OK;
}

void glm_pass_free(strata_ctx *ctx, fitdata *d)
{
    strata_free(ctx, d->tbuf, 0);
    strata_free(ctx, (void *)d->rawb, 0);
    strata_free(ctx, (void *)d->colsb, 0);
    strata_free(ctx, d->rawcol, 0);
    strata_free(ctx, d->Gp, 0);
    strata_free(ctx, d->eta, 0);
    strata_free(ctx, d->part, 0);
    glm_fpass_free(ctx, d);
}

size_t glm_warm_rows(const fitdata *d)
{
    size_t r = 0;
    for (size_t b = 0; b < d->nblocks; b += GLM_WARM_STRIDE)
        r += b * d->nb + d->nb <= d->n ? d->nb : d->n - b * d->nb;
    return r;
}

/* One row of IRLS at eta e: deviance term, sqrt working weight *s and *v = s z. */
static inline double irls_row(strata_family fam, double y, double wt, double e, double o,
                              double *s, double *v)
{
    double mu, me, vr;
    if (fam == STRATA_FAMILY_BINOMIAL) {
        /* R's logit linkinv and mu.eta sharing one exp() */
        double t = exp(e), opexp = 1 + t;
        double tc = e < -30.0 ? DBL_EPSILON : e > 30.0 ? 1.0 / DBL_EPSILON : t;
        mu = tc / (1 + tc);
        me = (e > 30.0 || e < -30.0) ? DBL_EPSILON : t / (opexp * opexp);
        vr = mu * (1 - mu);
    } else {
        mu = glm_linkinv(fam, e);
        me = glm_mu_eta(fam, e);
        vr = glm_variance(fam, mu);
    }
    if (wt > 0 && me != 0) {
        *s = sqrt(wt * me * me / vr);
        *v = *s * ((e - o) + (y - mu) / me);
    } else {
        *s = 0;
        *v = 0;
    }
    return glm_dev_resid(fam, y, mu, wt);
}

/* The linear predictor is summed in a fixed order: the plain numeric columns
 * over a whole block first (column by column: one memory stream at a time, which
 * also brings the block into cache for the sub-block passes), then per
 * sub-block the built columns (factors, transforms, interactions) in column
 * order, then the offset. */
static void lp_raw_block(const fitdata *d, size_t r0, size_t nb, const double *beta, double *eta)
{
    memset(eta, 0, nb * sizeof *eta);
    for (size_t j = 0; j < d->p; j++) {
        if (d->rawcol[j] < 0)
            continue;
        const double *x = d->raw[d->rawcol[j]] + r0;
        d->k.axpy(nb, beta[j], x, eta);
    }
}

static void lp_built(const fitdata *d, size_t m, const double *const *cols, const double *beta,
                     const double *off, double *eta)
{
    /* the categorical-aware pass: only the dense columns (d->dj, in column
     * order); factor levels are added by glm_fpass_lp */
    for (size_t jj = 0; jj < (d->fmode ? d->qd : d->p); jj++) {
        size_t j = d->fmode ? d->dj[jj] : jj;
        if (d->rawcol[j] >= 0)
            continue; /* read in place (lp_raw_block) */
        d->k.axpy(m, beta[j], cols[j], eta);
    }
    if (off)
        for (size_t i = 0; i < m; i++)
            eta[i] += off[i];
}

/* PASS_FINAL over one sub-block: AIC and Pearson parts, and the count of
 * fitted values numerically at the boundary (separation), at the last eta.
 * (The deviance there is the last iteration's: its partial stays 0.) */
static inline void final_rows(const fitdata *d, size_t m, const double *y, const double *wt,
                              const double *eta, double *a, double *pear, double *ext)
{
    if (d->aic_dev) {
        /* binomial, 0/1 outcomes, integer weights: the AIC is the deviance's
         * (glm_fit.c) and the Pearson sum is not used; mu is within 10 eps of
         * 0 or 1 only where |eta| > 30 (R's clamp; at |eta| <= 29 it is
         * 2.5e-13 or more from both) */
        for (size_t i = 0; i < m; i++) {
            double mu;
            if (!(wt[i] > 0) || !(fabs(eta[i]) > 29.0))
                continue;
            mu = glm_linkinv(d->fam, eta[i]);
            *ext += mu > 1 - 10 * DBL_EPSILON || mu < 10 * DBL_EPSILON;
        }
        return;
    }
    for (size_t i = 0; i < m; i++) {
        double mu = glm_linkinv(d->fam, eta[i]);
        if (!(wt[i] > 0))
            continue;
        *a += glm_aic_row(d->fam, y[i], mu, wt[i], d->disp);
        *pear += wt[i] * (y[i] - mu) * (y[i] - mu) / glm_variance(d->fam, mu);
        if ((d->fam == STRATA_FAMILY_BINOMIAL && (mu > 1 - 10 * DBL_EPSILON || mu < 10 * DBL_EPSILON)) ||
            (d->fam == STRATA_FAMILY_POISSON && mu < 10 * DBL_EPSILON))
            *ext += 1;
    }
}

/* PASS_INIT over one sub-block: R's mustart, its deviance, sqrt working weight
 * s and s z. Everything but s z is a function of (y, w) alone, so it is kept
 * per (y, w) bits in a small direct-mapped memo (0/1 outcomes with unit
 * weights: two entries instead of a log, an exp and a log per row). */
typedef struct init_memo {
    uint64_t ky, kw;
    int ok;
    double mu, e, me, dr, s;
} init_memo;

static inline void init_rows(const fitdata *d, size_t q0, size_t m, const double *y,
                             const double *wt, double *dev, double *s, double *v)
{
    init_memo memo[16];
    for (int k = 0; k < 16; k++)
        memo[k].ok = 0;
    for (size_t i = 0; i < m; i++) {
        double o = d->off ? d->off[q0 + i] : 0;
        uint64_t by, bw;
        init_memo *t;
        memcpy(&by, &y[i], sizeof by);
        memcpy(&bw, &wt[i], sizeof bw);
        t = &memo[(by ^ by >> 31 ^ bw ^ bw >> 37) & 15];
        if (!t->ok || t->ky != by || t->kw != bw) {
            double mu = glm_mustart(d->fam, y[i], wt[i]);
            double e = glm_linkfun(d->fam, mu), me = glm_mu_eta(d->fam, e);
            double vr = glm_variance(d->fam, mu);
            t->ky = by, t->kw = bw, t->ok = 1;
            t->mu = mu, t->e = e, t->me = me;
            t->dr = glm_dev_resid(d->fam, y[i], mu, wt[i]);
            t->s = wt[i] > 0 && me != 0 ? sqrt(wt[i] * me * me / vr) : 0;
        }
        *dev += t->dr;
        if (wt[i] > 0 && t->me != 0) {
            s[i] = t->s;
            v[i] = s[i] * ((t->e - o) + (y[i] - t->mu) / t->me);
        } else {
            s[i] = v[i] = 0;
        }
    }
}

/* Blocks visited by a pass, and the slots their Gram partials go to: one per
 * block on the dense path, GLM_FGROUPS groups of consecutive blocks on the
 * categorical-aware one (fixed by the block count, never by the threads). */
static size_t visited(const fitdata *d) { return (d->nblocks + d->bstride - 1) / d->bstride; }

static size_t slots_of(const fitdata *d, int mode, size_t nv)
{
    return d->fmode && mode != PASS_FINAL && nv > GLM_FGROUPS ? GLM_FGROUPS : nv;
}

static size_t slots(const fitdata *d, int mode) { return slots_of(d, mode, visited(d)); }

size_t glm_pass_slots(const fitdata *d, int mode) { return slots(d, mode); }

/* The group of visit v when nv visits go to ns groups: group k holds visits
 * [k nv / ns, (k + 1) nv / ns). */
size_t glm_group_of(size_t v, size_t nv, size_t ns)
{
    size_t k = v * ns / nv;
    while (k > 0 && k * nv / ns > v)
        k--;
    while ((k + 1) * nv / ns <= v)
        k++;
    return k;
}

/* One block b (rows r0 .. r0 + nb) on thread t into the Gram partial G. */
static void run_block(fitdata *d, int mode, const double *beta, size_t b, int t, double *G)
{
    const size_t p = d->p, nb0 = d->nb;
    size_t r0 = b * nb0, nb = r0 + nb0 <= d->n ? nb0 : d->n - r0;
    double *X = d->tbuf + (size_t)t * d->tsize;
    double *work = X + GLM_SUB * (p + 1);
    double *s = work + GLM_SUB * d->width;
    /* the kernel's sub-block, 64-byte aligned (tsize leaves room for it) */
    double *A = (double *)(((uintptr_t)(s + GLM_SUB) + 63) & ~(uintptr_t)63);
    double *dv = A + GLM_SUB * d->ld;
    const double **rb = d->rawb + (size_t)t * d->f->nvars;
    const double **cols = d->colsb + (size_t)t * p;
    int *levt = d->fmode ? d->levb + (size_t)t * d->nfac * GLM_SUB : NULL;
    const double **dcols = d->fmode ? d->dcolsb + (size_t)t * d->qd : NULL;
    int *codet = d->ncomb ? d->codeb + (size_t)t * GLM_SUB : NULL;
    double *part = d->part + b * 4;
    double dev = 0, a = 0, pear = 0, ext = 0;
    int bad = 0;
    if (mode == PASS_ITER)
        lp_raw_block(d, r0, nb, beta, d->eta + r0);
    for (size_t q0 = r0; q0 < r0 + nb; q0 += GLM_SUB) {
        size_t m = q0 + GLM_SUB <= r0 + nb ? GLM_SUB : r0 + nb - q0;
        const double *y = d->y + q0, *wt = d->wt + q0;
        double *eta = d->eta + q0, *v = X + p * m;
        const double *off = d->off ? d->off + q0 : NULL;
        const int *lev = NULL; /* factor a's level indices at lev + a * ls */
        const int *code = NULL; /* combined codes (d->ncomb) */
        size_t ls = GLM_SUB;
        if (mode == PASS_FINAL) {
            final_rows(d, m, y, wt, eta, &a, &pear, &ext);
            continue;
        }
        for (size_t q = 0; q < d->f->nvars; q++)
            rb[q] = d->raw[q] + q0;
        /* the design columns: plain numeric ones read in place, factor main
         * effects as level codes (categorical-aware pass), others from the
         * fit's cache or built */
        glm_design_block_list(d->f, d->vb, (double *const *)rb, m, X, work, &bad, cols,
                              d->fmode ? d->dj : NULL, d->qd, d->vc, q0);
        if (d->ncomb) {
            if (d->codec) {
                code = d->codec + q0;
            } else {
                glm_fpass_codes(d, q0, m, levt, codet);
                code = codet;
            }
        } else if (d->fmode && d->levc) {
            lev = d->levc + q0;
            ls = d->n;
        } else if (d->fmode) {
            glm_fpass_levels(d, q0, m, levt, GLM_SUB);
            lev = levt;
        }
        if (mode == PASS_INIT) {
            init_rows(d, q0, m, y, wt, &dev, s, v);
        } else {
            /* eta, then mu, deviance, sqrt weight s and s z per row */
            lp_built(d, m, cols, beta, d->fmode ? NULL : off, eta);
            if (d->fmode) {
                if (d->ncomb)
                    glm_fpass_lpc(d, m, code, eta);
                else
                    glm_fpass_lp(d, m, lev, ls, eta);
                for (size_t i = 0; off && i < m; i++)
                    eta[i] += off[i];
            }
            if (d->rowk) {
                glm_logit_rows(m, y, wt, eta, off, s, v, dv);
                for (size_t i = 0; i < m; i++)
                    dev += dv[i];
            } else {
                for (size_t i = 0; i < m; i++)
                    dev += irls_row(d->fam, y[i], wt[i], eta[i], off ? off[i] : 0, &s[i], &v[i]);
            }
            if (d->nogram)
                continue; /* the deviance alone (glm_irls) */
        }
        /* extended Gram [sX, s z]^T [sX, s z]: X^T W X and X^T W z in one
         * kernel call on the weighted row-major copy, while it is in cache */
        if (d->fmode) {
            for (size_t k = 0; k < d->qd; k++)
                dcols[k] = cols[d->dj[k]];
            d->k.pack(m, d->qd, d->ldd, dcols, s, v, A);
            if (d->ncomb)
                glm_fpass_accumc(d, t, m, code, s, A, G);
            else
                glm_fpass_accum(d, t, m, lev, ls, s, A, G);
        } else {
            d->k.pack(m, p, d->ld, cols, s, v, A);
            d->k.gram(m, d->ld, A, G);
        }
    }
    if (d->ncomb && mode != PASS_FINAL && !(d->nogram && mode == PASS_ITER))
        glm_fpass_fold(d, t, G); /* the block's sums per combination */
    part[0] = dev;
    part[1] = a;
    part[2] = pear;
    part[3] = ext;
}

/* The categorical-aware pass over a window of the visits (all of them in
 * memory, a chunk's when streamed): each group the window meets continues
 * its partial in visit order and is cleared at its first visit, so a group
 * split between chunks gets the same sums in the same order as in memory. */
static void run_groups(fitdata *d, int mode, const double *beta)
{
    const size_t nvw = visited(d), nv = d->vis_tot ? d->vis_tot : nvw, w0 = d->vis_tot ? d->vis0 : 0;
    const size_t ns = slots_of(d, mode, nv), ka = glm_group_of(w0, nv, ns);
    const size_t nk = glm_group_of(w0 + nvw - 1, nv, ns) + 1 - ka;
#pragma omp parallel for num_threads(d->nt) schedule(static) if (d->nt > 1)
    for (long kk = 0; kk < (long)nk; kk++) {
        int t = omp_get_thread_num();
        size_t k = ka + (size_t)kk, g0 = k * nv / ns, g1 = (k + 1) * nv / ns;
        double *G = d->Pp + k * d->csize;
        if (g0 >= w0)
            memset(G, 0, d->csize * sizeof *G);
        if (g0 < w0)
            g0 = w0;
        if (g1 > w0 + nvw)
            g1 = w0 + nvw;
        for (size_t v = g0; v < g1; v++)
            run_block(d, mode, beta, (v - w0) * d->bstride, t, G);
    }
}

void glm_run_pass(fitdata *d, int mode, const double *beta)
{
    const size_t nv = visited(d);
    const size_t gsize = d->ld * d->ld;
    if (d->fmode && mode == PASS_ITER)
        glm_fpass_table(d, beta);
    if (d->fmode && mode != PASS_FINAL) {
        run_groups(d, mode, beta);
        return;
    }
    /* one slot per visited block: its Gram partial (none in the final pass) */
#pragma omp parallel for num_threads(d->nt) schedule(static) if (d->nt > 1)
    for (long k = 0; k < (long)nv; k++) {
        int t = omp_get_thread_num();
        size_t b = (size_t)k * d->bstride;
        double *G = mode == PASS_FINAL ? NULL : d->Gp + b * gsize;
        if (G)
            memset(G, 0, gsize * sizeof *G);
        run_block(d, mode, beta, b, t, G);
    }
}

void glm_reduce(fitdata *d, int with_gram, double *G, double *g, double tot[4])
{
    const size_t p = d->p, ld = d->ld;
    memset(tot, 0, 4 * sizeof *tot);
    if (with_gram && d->fmode) {
        for (size_t b = 0; b < d->nblocks; b += d->bstride)
            for (int k = 0; k < 4; k++)
                tot[k] += d->part[b * 4 + (size_t)k];
        glm_fpass_reduce(d, slots(d, PASS_ITER), G, g);
        return;
    }
    if (with_gram) {
        memset(G, 0, p * p * sizeof *G);
        memset(g, 0, p * sizeof *g);
    }
    for (size_t b = 0; b < d->nblocks; b += d->bstride) {
        const double *Gb;
        for (int k = 0; k < 4; k++)
            tot[k] += d->part[b * 4 + (size_t)k];
        if (!with_gram)
            continue;
        Gb = d->Gp + b * ld * ld; /* entry (r, c), r <= c, at r * ld + c */
        for (size_t c = 0; c < p; c++)
            for (size_t r = 0; r <= c; r++)
                G[c * p + r] += Gb[r * ld + c];
        for (size_t r = 0; r < p; r++)
            g[r] += Gb[r * ld + p];
    }
}
