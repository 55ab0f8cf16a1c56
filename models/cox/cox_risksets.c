/* models/cox/cox_risksets.c — one evaluation of the Cox partial likelihood, its
 * score and information over the sorted data: risk-set sums as running sums over
 * fixed row blocks (block carries combined in block order), Efron's or Breslow's
 * tie handling per tied-time group (a group straddling blocks is summed over its
 * rows, its part in earlier blocks taken from their spill sums, in block order), and
 * the information as a weighted Gram of X minus the Gram of at most two mean rows per
 * group (docs/cox.md). Invariant: each block's partials depend only on the data and
 * the block size, and are reduced in block order, so the result is byte-identical
 * whatever the thread count or the number of MPI ranks (each rank computes its own
 * blocks; the partials are gathered to every rank: docs/scale.md#mpi). */
#include "cox_internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Rows per sub-block: the running sums and the packed weighted rows of a
 * sub-block stay in L2; also the capacity of the mean-row buffer. */
#define SUB 256

typedef struct tview {
    double *cum;   /* SUB x (p + 1) row-major running sums [S0, S1] */
    double *s;     /* SUB */
    double *e1;    /* p */
    double *acc;   /* p + 1: the block's running sums */
    double *sp;    /* p + 2: a group's event sums from earlier blocks */
    double *A;     /* SUB x ld, 64-byte aligned */
    double *U;     /* SUB x ld, 64-byte aligned */
    const double **cols; /* p */
} tview;

/* sum r[i] x[i] and sum r[i] over [0, n): eight partial sums in a fixed pattern
 * (independent chains, so no add waits on the last), added in a fixed order. */
static double cox_dot(const double *r, const double *x, size_t n)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += r[i + k] * x[i + k];
    for (; i < n; i++)
        a[0] += r[i] * x[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static double cox_sum(const double *r, size_t n)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += r[i + k];
    for (; i < n; i++)
        a[0] += r[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static double *align64(double *x)
{
    return (double *)(((uintptr_t)x + 63) & ~(uintptr_t)63);
}

/* Chunks of SUB rows per block (the last may be short). */
static size_t chunks_per_block(const cox_data *d)
{
    return (d->nb + SUB - 1) / SUB;
}

static tview thread_view(const cox_ws *ws, int t)
{
    tview v;
    size_t p = ws->p;
    double *b = ws->tbuf + (size_t)t * ws->tsize;
    v.cum = b;
    v.s = v.cum + SUB * (p + 1);
    v.e1 = v.s + SUB;
    v.acc = v.e1 + p;
    v.sp = v.acc + p + 1;
    v.A = align64(v.sp + p + 2);
    v.U = align64(v.A + SUB * ws->ld);
    v.cols = (const double **)(void *)align64(v.U + SUB * ws->ld);
    return v;
}

void cox_ws_free(strata_ctx *ctx, cox_ws *ws)
{
    if (!ws)
        return;
    strata_free(ctx, ws->eta, 0);
    strata_free(ctx, ws->r, 0);
    strata_free(ctx, ws->bmax, 0);
    strata_free(ctx, ws->tb, 0);
    strata_free(ctx, ws->cmax, 0);
    strata_free(ctx, ws->carry, 0);
    strata_free(ctx, ws->tail, 0);
    strata_free(ctx, ws->h, 0);
    strata_free(ctx, ws->ce, 0);
    strata_free(ctx, ws->H, 0);
    strata_free(ctx, ws->spill, 0);
    strata_free(ctx, ws->cnt, 0);
    strata_free(ctx, ws->bll, 0);
    strata_free(ctx, ws->bu, 0);
    strata_free(ctx, ws->G2, 0);
    strata_free(ctx, ws->GU, 0);
    strata_free(ctx, ws->tbuf, 0);
    strata_free(ctx, ws, sizeof *ws);
}

strata_status cox_ws_alloc(strata_ctx *ctx, const cox_data *d, int threads, cox_ws **out)
{
    size_t p = d->p, nbk = d->nblocks, p1 = p + 1, ldd;
    cox_ws *ws = strata_calloc(ctx, 1, sizeof *ws);
    *out = NULL;
    if (!ws)
        return STRATA_ENOMEM;
    ws->p = p;
    ws->ld = la_gram_ld(p + 1);
    ws->nt = threads < 1 ? 1 : (size_t)threads;
    if (ws->nt > nbk)
        ws->nt = nbk;
    la_kernels_get(LA_ISA_AUTO, &ws->k);
    ldd = ws->ld * ws->ld;
    /* cum, s, e1, acc, sp, A, U, cols (pointer room) + alignment slack */
    ws->tsize = SUB * p1 + SUB + p + p1 + p1 + 1 + 2 * SUB * ws->ld + p + 3 * 8;
    ws->eta = strata_alloc(ctx, d->n * sizeof *ws->eta);
    ws->r = strata_alloc(ctx, d->n * sizeof *ws->r);
    ws->bmax = strata_alloc(ctx, nbk * sizeof *ws->bmax);
    ws->tb = strata_alloc(ctx, nbk * sizeof *ws->tb);
    ws->cmax = strata_alloc(ctx, nbk * chunks_per_block(d) * sizeof *ws->cmax);
    ws->carry = strata_alloc(ctx, (nbk + 1) * p1 * sizeof *ws->carry);
    ws->tail = strata_alloc(ctx, nbk * p1 * sizeof *ws->tail);
    ws->h = strata_alloc(ctx, d->ng * sizeof *ws->h);
    ws->ce = strata_alloc(ctx, d->ng * sizeof *ws->ce);
    ws->H = strata_alloc(ctx, d->ng * sizeof *ws->H);
    ws->spill = strata_alloc(ctx, nbk * (p1 + 1) * sizeof *ws->spill);
    if (d->comm && (ws->cnt = strata_alloc(ctx, 2 * (size_t)d->comm->size * sizeof *ws->cnt)))
        ws->dsp = ws->cnt + d->comm->size;
    ws->bll = strata_alloc(ctx, nbk * sizeof *ws->bll);
    ws->bu = strata_alloc(ctx, nbk * p1 * sizeof *ws->bu);
    ws->G2 = strata_alloc(ctx, nbk * ldd * sizeof *ws->G2);
    ws->GU = strata_alloc(ctx, nbk * ldd * sizeof *ws->GU);
    ws->tbuf = strata_alloc(ctx, ws->nt * ws->tsize * sizeof *ws->tbuf);
    if (!ws->eta || !ws->r || !ws->bmax || !ws->tb || !ws->cmax || !ws->carry || !ws->tail || !ws->h || !ws->ce ||
        !ws->H || !ws->spill || (d->comm && !ws->cnt) || !ws->bll || !ws->bu || !ws->G2 || !ws->GU || !ws->tbuf) {
        cox_ws_free(ctx, ws);
        return STRATA_ENOMEM;
    }
    *out = ws;
    return STRATA_OK;
}

static void block_rows(const cox_data *d, size_t b, size_t *r0, size_t *r1)
{
    *r0 = b * d->nb;
    *r1 = *r0 + d->nb < d->n ? *r0 + d->nb : d->n;
}

/* Adds the chunk's sums s (on the scale exp(-mx)) into the block's tail t (on
 * the scale exp(-*tb)), moving t to the larger of the two scales. */
static void tail_add(size_t p1, double *t, double *tb, const double *s, double mx)
{
    if (mx > *tb) {
        double f = exp(*tb - mx);
        for (size_t j = 0; j < p1; j++)
            t[j] *= f;
        *tb = mx;
    }
    for (size_t j = 0; j < p1; j++)
        t[j] += s[j] * exp(mx - *tb);
}

/* Pass 1, one read of X: per chunk of SUB rows (in cache), eta = X beta + offset,
 * the chunk's maximum mx, r = w exp(eta - mx), and the sums [S0, S1] of the rows
 * from the block's last stratum opening (or its first row) to its end, gathered
 * on the block's scale (ws->tb[b]). r and the tails move to the global scale
 * exp(-c) later (pass_groups, scan_carry). */
static void pass_eta_tails(const cox_data *d, cox_ws *ws, const double *beta)
{
    const size_t p1 = d->p + 1, cpb = chunks_per_block(d);
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0, r1, ts, k = 0;
        double *tl = ws->tail + b * p1, *s = thread_view(ws, omp_get_thread_num()).acc;
        block_rows(d, b, &r0, &r1);
        ts = d->blast[b] != SIZE_MAX ? d->blast[b] : r0;
        memset(tl, 0, p1 * sizeof *tl);
        ws->tb[b] = -INFINITY;
        for (size_t q0 = r0; q0 < r1; q0 += SUB, k++) {
            size_t m = q0 + SUB <= r1 ? SUB : r1 - q0, t0 = ts > q0 ? ts : q0;
            double mx = -INFINITY, *eta = ws->eta + q0, *r = ws->r + q0;
            if (d->off)
                memcpy(eta, d->off + q0, m * sizeof *eta);
            else
                memset(eta, 0, m * sizeof *eta);
            for (size_t j = 0; j < d->p; j++)
                ws->k.axpy(m, beta[j], cox_xat(d, j, q0), eta);
            for (size_t i = 0; i < m; i++)
                mx = eta[i] > mx ? eta[i] : mx;
            for (size_t i = 0; i < m; i++)
                r[i] = cox_w(d, q0 + i) * exp(eta[i] - mx);
            ws->cmax[b * cpb + k] = mx;
            if (t0 >= q0 + m)
                continue;
            s[0] = cox_sum(ws->r + t0, q0 + m - t0);
            for (size_t j = 0; j < d->p; j++)
                s[1 + j] = cox_dot(ws->r + t0, cox_xat(d, j, t0), q0 + m - t0);
            tail_add(p1, tl, &ws->tb[b], s, mx);
        }
        ws->bmax[b] = -INFINITY;
        for (size_t q = 0; q < k; q++)
            ws->bmax[b] = ws->cmax[b * cpb + q] > ws->bmax[b] ? ws->cmax[b * cpb + q] : ws->bmax[b];
    }
}

/* r to the global scale exp(-c), chunk by chunk (before any pass reads r across
 * a block boundary: a tied group's rows may lie in the block before). */
static void pass_rescale(const cox_data *d, cox_ws *ws)
{
    const size_t cpb = chunks_per_block(d);
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0, r1, k = 0;
        block_rows(d, b, &r0, &r1);
        for (size_t q0 = r0; q0 < r1; q0 += SUB, k++) {
            size_t q1 = q0 + SUB <= r1 ? q0 + SUB : r1;
            double f = exp(ws->cmax[b * cpb + k] - ws->c);
            for (size_t i = q0; i < q1; i++)
                ws->r[i] *= f;
        }
    }
}

/* The running sums entering each block, in block order. */
static void scan_carry(const cox_data *d, cox_ws *ws)
{
    const size_t p1 = d->p + 1;
    memset(ws->carry, 0, p1 * sizeof *ws->carry);
    for (size_t b = 0; b < d->nblocks; b++) {
        const double *in = ws->carry + b * p1, *tl = ws->tail + b * p1;
        double *o = ws->carry + (b + 1) * p1, f = exp(ws->tb[b] - ws->c); /* to the global scale */
        for (size_t j = 0; j < p1; j++)
            o[j] = d->blast[b] != SIZE_MAX ? tl[j] * f : in[j] + tl[j] * f;
    }
}

/* The risk-set sums at the ends of groups [g, g1), which end in rows [q0, q0 + m)
 * (group g holds row q0): per column, the running sum continues from acc
 * (updated), restarts where a group opens a stratum, and grows by each group's
 * segment sum; into S (row t - g, p + 1 wide). */
static void group_sums(const cox_data *d, const cox_ws *ws, size_t q0, size_t m, size_t g,
                       size_t g1, double *acc, double *S)
{
    const size_t p1 = d->p + 1, q1 = q0 + m;
    for (size_t j = 0; j < p1; j++) {
        double a = acc[j];
        for (size_t t = g, i = q0; i < q1; t++) {
            size_t e = d->gend[t] < q1 ? d->gend[t] : q1;
            if (d->gnew[t] && i == (t ? d->gend[t - 1] : 0))
                a = 0;
            a += j ? cox_dot(ws->r + i, cox_xat(d, j - 1, i), e - i) : cox_sum(ws->r + i, e - i);
            if (t < g1)
                S[(t - g) * p1 + j] = a;
            i = e;
        }
        acc[j] = a;
    }
}

/* Sums of one block's groups: log-likelihood, score part, mean rows. */
typedef struct gacc {
    double ll;
    double *u;    /* p */
    double *G;    /* ld x ld */
    size_t nu;    /* rows waiting in the mean-row buffer */
} gacc;

static void flush_rows(const cox_ws *ws, tview *v, gacc *a)
{
    if (a->nu)
        ws->k.gram(a->nu, ws->ld, v->U, a->G);
    a->nu = 0;
}

/* Appends c1 S1 + c2 E1 (E1 may be NULL) as a row of the mean-row buffer. */
static void push_row(const cox_ws *ws, tview *v, gacc *a, double c1, const double *S1, double c2,
                     const double *E1)
{
    double *row = v->U + a->nu * ws->ld;
    for (size_t j = 0; j < ws->p; j++)
        row[j] = E1 ? c1 * S1[j] + c2 * E1[j] : c1 * S1[j];
    for (size_t j = ws->p; j < ws->ld; j++)
        row[j] = 0;
    if (++a->nu == SUB)
        flush_rows(ws, v, a);
}

/* Keeps group g's risk-set and event sums for the robust variance (cox_robust.c). */
static void keep_group(const cox_ws *ws, size_t g, double S0, double E0, const double *S1,
                       const double *E1)
{
    double *o = ws->gstore + ws->gidx[g] * ws->gstride;
    o[0] = S0;
    o[1] = E0;
    memcpy(o + 2, S1, ws->p * sizeof *o);
    if (E1)
        memcpy(o + 2 + ws->p, E1, ws->p * sizeof *o);
    else
        memset(o + 2 + ws->p, 0, ws->p * sizeof *o);
}

/* The event sums [ll, E0, E1] over rows [i0, i1) of a group: w (eta - c), r and
 * r x of its events, each a sum in row order into o (p + 2). */
static void event_sums(const cox_data *d, const cox_ws *ws, size_t i0, size_t i1, double *o)
{
    double ll = 0, E0 = 0;
    for (size_t i = i0; i < i1; i++)
        if (d->status[i] == 1) {
            ll += cox_w(d, i) * (ws->eta[i] - ws->c);
            E0 += ws->r[i];
        }
    o[0] = ll;
    o[1] = E0;
    for (size_t j = 0; j < d->p; j++) {
        const double *x = cox_xat(d, j, i0);
        double e = 0;
        for (size_t i = i0; i < i1; i++)
            e += d->status[i] == 1 ? ws->r[i] * x[i - i0] : 0;
        o[2 + j] = e;
    }
}

/* After pass 1 and the rescale: per block, the event sums of its rows of the
 * group that goes on past its end (zeros when none does). The block holding
 * that group's end adds them in block order (one_group), so no block reads
 * rows of another: a rank reads only its own rows. */
static void pass_spill(const cox_data *d, cox_ws *ws)
{
    const size_t p2 = d->p + 2;
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0, r1, g = d->bgroup[b + 1], gs;
        double *o = ws->spill + b * p2;
        block_rows(d, b, &r0, &r1);
        gs = g >= d->ng ? r1 : g ? d->gend[g - 1] : 0;
        if (gs < r1 && d->gm[g] > 0)
            event_sums(d, ws, gs > r0 ? gs : r0, r1, o);
        else
            memset(o, 0, p2 * sizeof *o);
    }
}

/* One tied-time group g with full risk-set sums S = [S0, S1], in the block
 * that starts at row r0. Efron 1977: the m events' denominators are S0 - (l/m) E0,
 * l = 0..m-1, each weighted by the mean event weight; Breslow 1972: all m use S0.
 * A group that began in earlier blocks starts its event sums from their spills,
 * added in block order, and goes on over its rows from r0. */
static void one_group(const cox_data *d, cox_ws *ws, tview *v, cox_ties ties, size_t g, size_t r0,
                      const double *S, gacc *a)
{
    const size_t p = d->p, ge = d->gend[g];
    size_t gs = g ? d->gend[g - 1] : 0;
    const double m = d->gm[g], dw = d->gdw[g], S0 = S[0];
    const double *S1 = S + 1;
    double E0 = 0, hs = 0, cs = 0, al = 0, be = 0, ga = 0;
    int split = gs < r0;
    ws->h[g] = ws->ce[g] = 0;
    if (m == 0)
        return;
    if (split) {
        memcpy(v->sp, ws->spill + gs / d->nb * (p + 2), (p + 2) * sizeof *v->sp);
        for (size_t b = gs / d->nb + 1; b < r0 / d->nb; b++)
            for (size_t j = 0; j < p + 2; j++)
                v->sp[j] += ws->spill[b * (p + 2) + j];
        a->ll += v->sp[0];
        gs = r0;
    }
    for (size_t i = gs; i < ge; i++)
        if (d->status[i] == 1)
            a->ll += cox_w(d, i) * (ws->eta[i] - ws->c);
    if (ties == COX_TIES_EFRON && m > 1) {
        const double wt = dw / m;
        E0 = split ? v->sp[1] : 0;
        for (size_t i = gs; i < ge; i++)
            E0 += d->status[i] == 1 ? ws->r[i] : 0;
        for (size_t j = 0; j < p; j++) {
            const double *x = cox_xat(d, j, gs);
            double e = split ? v->sp[2 + j] : 0;
            for (size_t i = gs; i < ge; i++)
                e += d->status[i] == 1 ? ws->r[i] * x[i - gs] : 0;
            v->e1[j] = e;
        }
        for (size_t l = 0; l < (size_t)m; l++) {
            double f = (double)l / m, D = S0 - f * E0;
            a->ll -= wt * log(D);
            hs += wt / D;
            cs += wt * f / D;
            al += wt / (D * D);
            be += wt * f / (D * D);
            ga += wt * f * f / (D * D);
        }
        for (size_t j = 0; j < p; j++)
            a->u[j] -= hs * S1[j] - cs * v->e1[j];
        push_row(ws, v, a, sqrt(al), S1, -be / sqrt(al), v->e1);
        ga -= be * be / al;
        if (ga > 0)
            push_row(ws, v, a, 0, S1, sqrt(ga), v->e1);
        if (ws->gstore)
            keep_group(ws, g, S0, E0, S1, v->e1);
    } else {
        a->ll -= dw * log(S0);
        hs = dw / S0;
        for (size_t j = 0; j < p; j++)
            a->u[j] -= hs * S1[j];
        push_row(ws, v, a, sqrt(dw) / S0, S1, 0, NULL);
        if (ws->gstore)
            keep_group(ws, g, S0, 0, S1, NULL);
    }
    ws->h[g] = hs;
    ws->ce[g] = cs;
}

/* Pass 3: per block, the running risk-set sums and every group ending in it. */
static void pass_groups(const cox_data *d, cox_ws *ws, cox_ties ties)
{
    const size_t p1 = d->p + 1, ldd = ws->ld * ws->ld;
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0, r1, g = d->bgroup[b];
        tview v = thread_view(ws, omp_get_thread_num());
        gacc a = {0, ws->bu + b * p1, ws->GU + b * ldd, 0};
        block_rows(d, b, &r0, &r1);
        memcpy(v.acc, ws->carry + b * p1, p1 * sizeof *v.acc);
        memset(a.u, 0, d->p * sizeof *a.u);
        memset(a.G, 0, ldd * sizeof *a.G);
        for (size_t q0 = r0; q0 < r1; q0 += SUB) {
            size_t m = q0 + SUB <= r1 ? SUB : r1 - q0, g1 = g;
            while (g1 < d->bgroup[b + 1] && d->gend[g1] <= q0 + m)
                g1++;
            group_sums(d, ws, q0, m, g, g1, v.acc, v.cum);
            for (size_t t = g; t < g1; t++)
                one_group(d, ws, &v, ties, t, r0, v.cum + (t - g) * p1, &a);
            g = g1;
        }
        flush_rows(ws, &v, &a);
        ws->bll[b] = a.ll;
    }
}

/* Cumulative hazard per group on the exp(eta - c) scale: sums of h over the
 * group and every later row of its stratum (earlier-or-equal times). */
static void scan_hazard(const cox_data *d, cox_ws *ws)
{
    for (size_t g = d->ng; g-- > 0;)
        ws->H[g] = ws->h[g] + (g + 1 < d->ng && !d->gnew[g + 1] ? ws->H[g + 1] : 0);
}

/* Pass 4: the weighted Gram sum_i r_i (H_i - d_i ce_i) x_i x_i' per block: the
 * risk-set second moments summed over event times, rearranged per row. */
static void pass_gram(const cox_data *d, cox_ws *ws)
{
    const size_t p = d->p, ldd = ws->ld * ws->ld;
#pragma omp parallel for num_threads((int)ws->nt) schedule(static)
    for (long bl = (long)d->blo; bl < (long)d->bhi; bl++) {
        size_t b = (size_t)bl, r0, r1, g = d->bgroup[b];
        tview v = thread_view(ws, omp_get_thread_num());
        double *G = ws->G2 + b * ldd;
        block_rows(d, b, &r0, &r1);
        memset(G, 0, ldd * sizeof *G);
        for (size_t q0 = r0; q0 < r1; q0 += SUB) {
            size_t m = q0 + SUB <= r1 ? SUB : r1 - q0;
            for (size_t k = 0; k < m; k++) {
                size_t i = q0 + k;
                double wv;
                while (d->gend[g] <= i)
                    g++;
                wv = ws->r[i] * (ws->H[g] - (d->status[i] == 1 ? ws->ce[g] : 0));
                v.s[k] = wv > 0 ? sqrt(wv) : 0;
            }
            for (size_t j = 0; j < p; j++)
                v.cols[j] = cox_xat(d, j, q0);
            ws->k.pack(m, p, ws->ld, v.cols, v.s, v.s, v.A);
            ws->k.gram(m, ws->ld, v.A, G);
        }
    }
}

/* Block partials in block order: I = sum G2 - sum GU (entry (r, c), r <= c, at r * ld + c). */
static void reduce(const cox_data *d, const cox_ws *ws, double *ll, double *u, double *I)
{
    const size_t p = d->p, ld = ws->ld, p1 = p + 1;
    *ll = 0;
    memcpy(u, d->xd, p * sizeof *u);
    memset(I, 0, p * p * sizeof *I);
    for (size_t b = 0; b < d->nblocks; b++) {
        const double *G2 = ws->G2 + b * ld * ld, *GU = ws->GU + b * ld * ld;
        *ll += ws->bll[b];
        for (size_t j = 0; j < p; j++)
            u[j] += ws->bu[b * p1 + j];
        for (size_t r = 0; r < p; r++)
            for (size_t c = r; c < p; c++)
                I[r * p + c] += G2[r * ld + c] - GU[r * ld + c];
    }
    for (size_t r = 0; r < p; r++)
        for (size_t c = 0; c < r; c++)
            I[r * p + c] = I[c * p + r];
}

/* Across ranks: every rank's part of a (elements [map[rb[r]], map[rb[r + 1]])
 * of `size` bytes each, map NULL: the blocks themselves) to every rank, in place. */
strata_status cox_gather_parts(const cox_data *d, cox_ws *ws, void *a, size_t size, const size_t *map)
{
    const strata_comm *c = d->comm;
    if (!c)
        return STRATA_OK;
    for (int r = 0; r < c->size; r++) {
        size_t lo = map ? map[d->rb[r]] : d->rb[r], hi = map ? map[d->rb[r + 1]] : d->rb[r + 1];
        ws->dsp[r] = lo * size;
        ws->cnt[r] = (hi - lo) * size;
    }
    return c->allgatherv(c->ud, NULL, a, ws->cnt, ws->dsp);
}

strata_status cox_gather_eta(const cox_data *d, cox_ws *ws)
{
    const strata_comm *c = d->comm;
    for (int r = 0; c && r < c->size; r++) {
        size_t lo = d->rb[r] * d->nb, hi = d->rb[r + 1] * d->nb;
        lo = lo < d->n ? lo : d->n;
        hi = hi < d->n ? hi : d->n;
        ws->dsp[r] = lo * sizeof *ws->eta;
        ws->cnt[r] = (hi - lo) * sizeof *ws->eta;
    }
    return c ? c->allgatherv(c->ud, NULL, ws->eta, ws->cnt, ws->dsp) : STRATA_OK;
}

/* Across ranks, for the robust variance: every rank's kept sums of the event
 * groups that end in its blocks (ws->gstore slots in group order) to every rank. */
static strata_status gather_groups(const cox_data *d, cox_ws *ws)
{
    const strata_comm *c = d->comm;
    size_t g = 0, k = 0, sz = ws->gstride * sizeof *ws->gstore;
    if (!c || !ws->gstore)
        return STRATA_OK;
    for (int r = 0; r < c->size; r++) {
        size_t k0 = k;
        for (; g < d->bgroup[d->rb[r + 1]]; g++)
            k += d->gm[g] > 0;
        ws->dsp[r] = k0 * sz;
        ws->cnt[r] = (k - k0) * sz;
    }
    return c->allgatherv(c->ud, NULL, ws->gstore, ws->cnt, ws->dsp);
}

/* The largest eta of all blocks: the common shift c. */
static void shift(const cox_data *d, cox_ws *ws)
{
    ws->c = -INFINITY;
    for (size_t b = 0; b < d->nblocks; b++)
        ws->c = ws->bmax[b] > ws->c ? ws->bmax[b] : ws->c;
}

/* Whether a block of view v's (a window's) spills: the group after its last row's
 * begins inside it and has events (pass_spill). */
static int window_spills(const cox_data *d, const cox_data *v)
{
    for (size_t b = v->blo; b < v->bhi; b++) {
        size_t r1 = (b + 1) * d->nb < d->n ? (b + 1) * d->nb : d->n, g = d->bgroup[b + 1];
        if (g < d->ng && (g ? d->gend[g - 1] : 0) < r1 && d->gm[g] > 0)
            return 1;
    }
    return 0;
}

/* The gathers after pass 1 and after the group pass (no-ops with one process). */
static strata_status gather_tails(const cox_data *d, cox_ws *ws)
{
    const size_t dz = sizeof(double);
    STRATA_TRY(cox_gather_parts(d, ws, ws->bmax, dz, NULL));
    STRATA_TRY(cox_gather_parts(d, ws, ws->tb, dz, NULL));
    return cox_gather_parts(d, ws, ws->tail, (d->p + 1) * dz, NULL);
}

static strata_status gather_hazards(const cox_data *d, cox_ws *ws)
{
    STRATA_TRY(cox_gather_parts(d, ws, ws->h, sizeof(double), d->bgroup));
    STRATA_TRY(cox_gather_parts(d, ws, ws->ce, sizeof(double), d->bgroup));
    return gather_groups(d, ws);
}

static strata_status gather_grams(const cox_data *d, cox_ws *ws)
{
    const size_t dz = sizeof(double), ldd = ws->ld * ws->ld;
    STRATA_TRY(cox_gather_parts(d, ws, ws->bll, dz, NULL));
    STRATA_TRY(cox_gather_parts(d, ws, ws->bu, (d->p + 1) * dz, NULL));
    STRATA_TRY(cox_gather_parts(d, ws, ws->G2, ldd * dz, NULL));
    return cox_gather_parts(d, ws, ws->GU, ldd * dz, NULL);
}

/* Across ranks, streamed: the spills of this rank's windows (only those with a
 * block that spills; the others' are zeros), backwards from the window pass 1
 * ended on, then gathered: a rank's first groups may need an earlier rank's. */
static strata_status spills_stream(const cox_data *d, cox_ws *ws)
{
    const size_t nw = cox_nwindows(d), p2 = d->p + 2;
    cox_data v;
    for (size_t w = nw; w-- > 0;) {
        STRATA_TRY(cox_window(d, w, w ? w - 1 : 0, &v));
        if (window_spills(d, &v))
            pass_spill(&v, ws);
        else
            memset(ws->spill + v.blo * p2, 0, (v.bhi - v.blo) * p2 * sizeof *ws->spill);
    }
    return cox_gather_parts(d, ws, ws->spill, p2 * sizeof(double), NULL);
}

/* The evaluation with X read back in windows of whole blocks (cox_stream.c): the
 * same passes on the same blocks, three sweeps of the scratch file — pass 1; the
 * spills with the group pass (a block's groups need the spills of earlier blocks
 * only, and the carries come from pass 1); the Gram pass, backwards, so that each
 * sweep starts on the window the last one ended on (still in memory). Across MPI
 * ranks (each rank its own blocks' windows) the spills are a sweep of their own,
 * gathered before the group pass, and the partials are gathered between sweeps as
 * in memory. Every block partial is the in-memory one, reduced in block order: the
 * same bytes. */
static strata_status eval_stream(const cox_data *d, cox_ws *ws, cox_ties ties, const double *beta,
                                 double *ll, double *u, double *I)
{
    const size_t nw = cox_nwindows(d);
    cox_data v;
    for (size_t w = 0; w < nw; w++) {
        STRATA_TRY(cox_window(d, w, w + 1 < nw ? w + 1 : d->comm ? w : 0, &v));
        pass_eta_tails(&v, ws, beta);
    }
    STRATA_TRY(gather_tails(d, ws));
    shift(d, ws);
    pass_rescale(d, ws);
    if (d->comm)
        STRATA_TRY(spills_stream(d, ws));
    scan_carry(d, ws);
    for (size_t w = 0; w < nw; w++) {
        STRATA_TRY(cox_window(d, w, w + 1 < nw ? w + 1 : nw - 1, &v));
        if (!d->comm)
            pass_spill(&v, ws);
        pass_groups(&v, ws, ties);
    }
    STRATA_TRY(gather_hazards(d, ws));
    scan_hazard(d, ws);
    for (size_t w = nw; w-- > 0;) {
        STRATA_TRY(cox_window(d, w, w ? w - 1 : 0, &v));
        pass_gram(&v, ws);
    }
    STRATA_TRY(gather_grams(d, ws));
    reduce(d, ws, ll, u, I);
    return STRATA_OK;
}

strata_status cox_eval(const cox_data *d, cox_ws *ws, cox_ties ties, const double *beta, double *ll,
                       double *u, double *I)
{
    if (d->xs)
        return eval_stream(d, ws, ties, beta, ll, u, I);
    pass_eta_tails(d, ws, beta);
    STRATA_TRY(gather_tails(d, ws));
    /* shift so that the largest risk score is exp(0): no overflow; the partial
     * likelihood is unchanged by a common shift of eta */
    shift(d, ws);
    pass_rescale(d, ws);
    pass_spill(d, ws);
    STRATA_TRY(cox_gather_parts(d, ws, ws->spill, (d->p + 2) * sizeof(double), NULL));
    scan_carry(d, ws);
    pass_groups(d, ws, ties);
    STRATA_TRY(gather_hazards(d, ws));
    scan_hazard(d, ws);
    pass_gram(d, ws);
    STRATA_TRY(gather_grams(d, ws));
    reduce(d, ws, ll, u, I);
    return STRATA_OK;
}
