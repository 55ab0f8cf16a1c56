/* models/cox/cox_robust.c — the robust (sandwich) variance V B V of a Cox fit, as
 * coxph(robust = TRUE) or cluster(): B sums the clusters' case-weighted score
 * residuals' outer products (Lin & Wei 1989), built per fixed row block after one
 * more evaluation that keeps each event group's sums. Invariant: partials reduced in
 * block order (or cluster sums in sorted row order): bytes do not depend on threads. */
#include "cox_internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define SUB 256
#define NONE SIZE_MAX

typedef struct rob {
    size_t p, ld, ne, nc;
    size_t *nextev;   /* ng: slot of the first event group >= g in g's stratum, or NONE */
    size_t *cid;      /* n: dense cluster id of sorted row i, or NULL (each row its own) */
    double *csum, *csum0; /* nc x ld cluster sums (64-byte aligned), allocation */
    double *buf, *buf0;   /* nt x (SUB x ld) residual rows (64-byte aligned), allocation */
    double *u, *I, *beta, *work; /* p, p x p, p, 3p */
} rob;

static double *align64(double *x)
{
    return (double *)(((uintptr_t)x + 63) & ~(uintptr_t)63);
}

static void rob_free(strata_ctx *ctx, rob *r)
{
    strata_free(ctx, r->nextev, 0);
    strata_free(ctx, r->cid, 0);
    strata_free(ctx, r->csum0, 0);
    strata_free(ctx, r->buf0, 0);
    strata_free(ctx, r->u, 0);
    strata_free(ctx, r->I, 0);
    strata_free(ctx, r->beta, 0);
    strata_free(ctx, r->work, 0);
}

/* Dense ids of the cluster values in sorted row order. */
static strata_status cluster_ids(strata_ctx *ctx, const cox_data *d, const double *cluster, rob *r)
{
    double *v = strata_alloc(ctx, d->n * sizeof *v);
    strata_status st = v ? STRATA_OK : STRATA_ENOMEM;
    for (size_t i = 0; st == STRATA_OK && i < d->n; i++)
        v[i] = cluster[d->order[i]] == 0 ? 0.0 : cluster[d->order[i]]; /* -0 joins +0 */
    if (st == STRATA_OK)
        st = cox_dense_ranks(ctx, d->n, v, r->cid, &r->nc);
    for (size_t i = 0; st == STRATA_OK && i < d->n; i++)
        r->cid[i]--;
    strata_free(ctx, v, 0);
    return st;
}

static strata_status rob_alloc(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const double *cluster,
                               rob *r)
{
    size_t p = d->p, nbuf;
    memset(r, 0, sizeof *r);
    r->p = p;
    r->ld = ws->ld;
    for (size_t g = 0; g < d->ng; g++)
        r->ne += d->gm[g] > 0;
    ws->gstride = 2 + 3 * p; /* [S0, E0, S1, E1] in, [., ., acum, db, c] out */
    ws->gidx = strata_alloc(ctx, d->ng * sizeof *ws->gidx);
    ws->gstore = strata_calloc(ctx, r->ne * ws->gstride, sizeof *ws->gstore);
    r->nextev = strata_alloc(ctx, d->ng * sizeof *r->nextev);
    nbuf = ws->nt * SUB * r->ld + 8;
    r->buf0 = strata_calloc(ctx, nbuf, sizeof *r->buf0);
    r->u = strata_alloc(ctx, p * sizeof *r->u);
    r->I = strata_alloc(ctx, p * p * sizeof *r->I);
    r->beta = strata_alloc(ctx, p * sizeof *r->beta);
    r->work = strata_alloc(ctx, 3 * p * sizeof *r->work);
    if (!ws->gidx || !ws->gstore || !r->nextev || !r->buf0 || !r->u || !r->I || !r->beta || !r->work)
        return STRATA_ENOMEM;
    r->buf = align64(r->buf0);
    for (size_t g = 0, k = 0; g < d->ng; g++)
        ws->gidx[g] = d->gm[g] > 0 ? k++ : NONE;
    if (!cluster) {
        r->nc = d->n;
        return STRATA_OK;
    }
    if (!(r->cid = strata_alloc(ctx, d->n * sizeof *r->cid)))
        return STRATA_ENOMEM;
    STRATA_TRY(cluster_ids(ctx, d, cluster, r));
    if (!(r->csum0 = strata_calloc(ctx, r->nc * r->ld + 8, sizeof *r->csum0)))
        return STRATA_ENOMEM;
    r->csum = align64(r->csum0);
    return STRATA_OK;
}

/* Turns group g's kept sums into acum = a_g = sum_l wt (S1 - f_l E1) / D_l^2 (the
 * hazard-weighted mean row), db = b_g - a_g (the event rows' own-group
 * correction: their weight 1 - f_l at step l) and c = the mean of the m
 * means (S1 - f_l E1) / D_l that the events' score subtracts. Breslow: D_l = S0. */
static void group_terms(const cox_data *d, cox_ties ties, size_t g, double *o, double *t)
{
    const size_t p = d->p;
    const double m = d->gm[g], dw = d->gdw[g], S0 = o[0], E0 = o[1];
    const double *S1 = o + 2, *E1 = o + 2 + p;
    double hs = 0, cs = 0, al = 0, be = 0, ga = 0;
    if (ties == COX_TIES_EFRON && m > 1) {
        const double wt = dw / m;
        for (size_t l = 0; l < (size_t)m; l++) {
            double f = (double)l / m, D = S0 - f * E0;
            hs += wt / D;
            cs += wt * f / D;
            al += wt / (D * D);
            be += wt * f / (D * D);
            ga += wt * f * f / (D * D);
        }
    } else {
        hs = dw / S0;
        al = dw / (S0 * S0);
    }
    for (size_t j = 0; j < p; j++) {
        t[j] = al * S1[j] - be * E1[j];
        t[p + j] = -be * S1[j] + ga * E1[j];
        t[2 * p + j] = (hs * S1[j] - cs * E1[j]) / dw;
    }
    memcpy(o + 2, t, 3 * p * sizeof *o);
}

/* Per event group: acum = suffix sum of a over the stratum's event groups at or
 * before its time (later in sorted order); nextev for every group. */
static void suffix_terms(const cox_data *d, const cox_ws *ws, cox_ties ties, rob *r)
{
    const size_t p = d->p, gs = ws->gstride;
    size_t last = NONE;
    for (size_t g = d->ng; g-- > 0;) {
        if (ws->gidx[g] != NONE) {
            double *o = ws->gstore + ws->gidx[g] * gs;
            group_terms(d, ties, g, o, r->work);
            if (last != NONE)
                for (size_t j = 0; j < p; j++)
                    o[2 + j] += ws->gstore[last * gs + 2 + j];
            last = ws->gidx[g];
        }
        r->nextev[g] = last;
        if (d->gnew[g])
            last = NONE;
    }
}

/* Weighted score residual rows of sorted rows [q0, q0 + m) into L (m x ld):
 * w_i d_i (x_i - c_g) - r_i (x_i H_i - A_i), H_i and A_i the cumulative hazard
 * and hazard-weighted mean row up to t_i (Efron events: their own group at
 * weight 1 - f_l). *g walks the groups. */
static void resid_rows(const cox_data *d, const cox_ws *ws, const rob *r, size_t q0, size_t m,
                       size_t *g, double *L)
{
    const size_t p = d->p, ld = r->ld, gs = ws->gstride;
    for (size_t k = 0; k < m; k++) {
        size_t i = q0 + k, e;
        const double *A = NULL, *o;
        double rH, ri = ws->r[i], *row = L + k * ld;
        int ev = d->status[i] == 1;
        while (d->gend[*g] <= i)
            (*g)++;
        e = r->nextev[*g];
        rH = ri * (ws->H[*g] - (ev ? ws->ce[*g] : 0));
        A = e != NONE ? ws->gstore + e * gs + 2 : NULL;
        o = ev ? ws->gstore + ws->gidx[*g] * gs + 2 : NULL;
        for (size_t j = 0; j < p; j++) {
            double x = *cox_xat(d, j, i), v = -rH * x;
            if (A)
                v += ri * A[j];
            if (ev)
                v += ri * o[p + j] + cox_w(d, i) * (x - o[2 * p + j]);
            row[j] = v;
        }
        for (size_t j = p; j < ld; j++)
            row[j] = 0;
    }
}

/* Per block of d's blocks [blo, bhi): the Gram of its residual rows into ws->G2. */
static void block_grams(const cox_data *d, cox_ws *ws, const rob *r)
{
    const size_t ld = r->ld, ldd = ld * ld;
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0 = b * d->nb, r1 = r0 + d->nb < d->n ? r0 + d->nb : d->n;
        size_t g = d->bgroup[b];
        double *L = r->buf + (size_t)omp_get_thread_num() * SUB * ld, *G = ws->G2 + b * ldd;
        memset(G, 0, ldd * sizeof *G);
        for (size_t q0 = r0; q0 < r1; q0 += SUB) {
            size_t m = q0 + SUB <= r1 ? SUB : r1 - q0;
            resid_rows(d, ws, r, q0, m, &g, L);
            ws->k.gram(m, ld, L, G);
        }
    }
}

/* B without clusters: the blocks' Grams (streamed, cox_stream.c: window by window,
 * the same Grams), then summed in block order (across ranks, each rank's blocks
 * gathered to every rank first). */
static strata_status meat_rows(const cox_data *d, cox_ws *ws, const rob *r, double *B)
{
    const size_t ld = r->ld, ldd = ld * ld, p = d->p, nw = d->xs ? cox_nwindows(d) : 0;
    cox_data v;
    for (size_t w = 0; w < nw; w++) {
        STRATA_TRY(cox_window(d, w, w + 1 < nw ? w + 1 : SIZE_MAX, &v));
        block_grams(&v, ws, r);
    }
    if (!d->xs)
        block_grams(d, ws, r);
    STRATA_TRY(cox_gather_parts(d, ws, ws->G2, ldd * sizeof *ws->G2, NULL));
    memset(B, 0, p * p * sizeof *B);
    for (size_t b = 0; b < d->nblocks; b++)
        for (size_t i = 0; i < p; i++)
            for (size_t j = i; j < p; j++)
                B[i * p + j] += ws->G2[b * ldd + i * ld + j];
    return STRATA_OK;
}

/* n doubles to or from a peer rank, in messages under MPI's int count. */
static strata_status pass_on(const strata_comm *c, double *a, size_t n, int peer, int sending)
{
    const size_t piece = (size_t)1 << 24; /* doubles a message (128 MiB) */
    for (size_t o = 0; o < n; o += piece) {
        size_t k = n - o < piece ? n - o : piece;
        strata_status st = sending ? c->send(c->ud, a + o, k * sizeof *a, peer) : c->recv(c->ud, a + o, k * sizeof *a, peer);
        if (st != STRATA_OK)
            return st;
    }
    return STRATA_OK;
}

/* B with clusters: residual rows summed into their cluster in sorted row order,
 * then the Gram of the cluster sums in chunks, added in chunk order. Across
 * ranks the cluster sums are carried rank to rank (each goes on over its own
 * rows: the same additions in the same order) and the last rank forms B and
 * sends it to every rank. */
/* The residual rows of d's rows [x0, x1) added to their clusters in row order
 * (*g walks the groups). */
static void cluster_rows(const cox_data *d, const cox_ws *ws, const rob *r, size_t *g)
{
    const size_t ld = r->ld, p = d->p;
    for (size_t q0 = d->x0; q0 < d->x1; q0 += SUB) {
        size_t m = q0 + SUB <= d->x1 ? SUB : d->x1 - q0;
        resid_rows(d, ws, r, q0, m, g, r->buf);
        for (size_t k = 0; k < m; k++) {
            double *s = r->csum + r->cid[q0 + k] * ld;
            for (size_t j = 0; j < p; j++)
                s[j] += r->buf[k * ld + j];
        }
    }
}

static strata_status meat_clusters(const cox_data *d, cox_ws *ws, const rob *r, double *B)
{
    const size_t ld = r->ld, p = d->p, nw = d->xs ? cox_nwindows(d) : 0;
    const strata_comm *c = d->comm;
    size_t g = d->bgroup[d->blo];
    double *G = ws->G2;
    cox_data v;
    memset(B, 0, p * p * sizeof *B);
    if (c && c->rank > 0)
        STRATA_TRY(pass_on(c, r->csum, r->nc * ld, c->rank - 1, 0));
    for (size_t w = 0; w < nw; w++) { /* streamed: window by window, in row order */
        STRATA_TRY(cox_window(d, w, w + 1 < nw ? w + 1 : SIZE_MAX, &v));
        cluster_rows(&v, ws, r, &g);
    }
    if (!d->xs)
        cluster_rows(d, ws, r, &g);
    if (c && c->rank + 1 < c->size)
        return pass_on(c, r->csum, r->nc * ld, c->rank + 1, 1) == STRATA_OK && c->bcast(c->ud, B, p * p * sizeof *B, c->size - 1) == STRATA_OK
                   ? STRATA_OK
                   : STRATA_EIO;
    memset(G, 0, ld * ld * sizeof *G);
    for (size_t c0 = 0; c0 < r->nc; c0 += SUB)
        ws->k.gram(c0 + SUB <= r->nc ? SUB : r->nc - c0, ld, r->csum + c0 * ld, G);
    for (size_t i = 0; i < p; i++)
        for (size_t j = i; j < p; j++)
            B[i * p + j] = G[i * ld + j];
    return c ? c->bcast(c->ud, B, p * p * sizeof *B, c->size - 1) : STRATA_OK;
}

/* rvcov = V B V (B upper triangle filled), aliased rows and columns NaN. */
static void sandwich(const cox_result *res, double *B, double *T)
{
    const size_t p = res->p;
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < i; j++)
            B[i * p + j] = B[j * p + i];
    for (size_t i = 0; i < p; i++) /* T = V B */
        for (size_t j = 0; j < p; j++) {
            double s = 0;
            for (size_t k = 0; k < p; k++)
                if (!res->aliased[i] && !res->aliased[k])
                    s += res->vcov[i * p + k] * B[k * p + j];
            T[i * p + j] = s;
        }
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double s = 0;
            for (size_t k = 0; k < p; k++)
                if (!res->aliased[k] && !res->aliased[j])
                    s += T[i * p + k] * res->vcov[k * p + j];
            res->rvcov[i * p + j] = res->aliased[i] || res->aliased[j] ? NAN : s;
        }
    for (size_t j = 0; j < p; j++)
        res->rse[j] = res->aliased[j] ? NAN : sqrt(res->rvcov[j * p + j]);
}

strata_status cox_robust(strata_ctx *ctx, const cox_data *d, cox_ws *ws, cox_ties ties,
                         const double *cluster, cox_result *res)
{
    const size_t p = d->p;
    double ll, *B = NULL, *T = NULL;
    rob r;
    strata_status st = rob_alloc(ctx, d, ws, cluster, &r);
    if (st == STRATA_OK) {
        res->rse = strata_alloc(ctx, p * sizeof *res->rse);
        res->rvcov = strata_alloc(ctx, p * p * sizeof *res->rvcov);
        B = strata_alloc(ctx, p * p * sizeof *B);
        T = strata_alloc(ctx, p * p * sizeof *T);
        st = res->rse && res->rvcov && B && T ? STRATA_OK : STRATA_ENOMEM;
    }
    if (st == STRATA_OK) {
        for (size_t j = 0; j < p; j++)
            r.beta[j] = res->aliased[j] ? 0 : res->beta[j];
        st = cox_eval(d, ws, ties, r.beta, &ll, r.u, r.I); /* keeps the group sums */
    }
    if (st == STRATA_OK) {
        suffix_terms(d, ws, ties, &r);
        if (cluster)
            st = meat_clusters(d, ws, &r, B);
        else
            st = meat_rows(d, ws, &r, B);
    }
    if (st == STRATA_OK) {
        sandwich(res, B, T);
        res->nclusters = r.nc;
    }
    strata_free(ctx, ws->gstore, 0);
    strata_free(ctx, ws->gidx, 0);
    ws->gstore = NULL;
    ws->gidx = NULL;
    strata_free(ctx, B, 0);
    strata_free(ctx, T, 0);
    rob_free(ctx, &r);
    return st;
}
