/* engine/evaluate/evaluate_surv.c — concordance of survival predictions: Harrell's C
 * and Uno's C (pairs weighted 1/G(t-)^2, G the censoring Kaplan-Meier) with the
 * infinitesimal-jackknife SE, as survival's concordance(timewt = "n" / "n/G2").
 * Invariant: one sequential sweep in sorted order (stratum, time descending,
 * censorings first) over records held whole or window by window in a scratch
 * file, the lp ranks in fixed chunks of SV_R; every sum runs in position order,
 * so results never depend on the thread count, the memory budget or the file. */
#include "evaluate_internal.h"

#include "scratch.h"
#include "strata/dist.h"
#include "xsort.h"

#include <math.h>
#include <string.h>

#define SV_R 1024 /* lp ranks a chunk of the trees: fixed, so the sums are the same under any budget */
#define SV_CHUNK_BYTES ((size_t)5 * (SV_R + 1) * sizeof(double))
#define SV_MIN_WIN 16

/* One position of the sweep order. */
typedef struct sv_rec {
    uint64_t row;  /* input row */
    uint64_t rank; /* dense rank of lp in the population, 1..nr */
    double tw;     /* time weight of an event at this position */
    double inf[3]; /* concordant, discordant, tied-lp influence */
    double cnt[5]; /* this event's share of the five counts (0 for a censoring) */
} sv_rec;

/* The m records: all in w (f NULL), or window [k0, k0 + len) of a scratch file. */
typedef struct sv_store {
    size_t m, cap, k0, len;
    sv_rec *w;
    strata_scratch *f;
} sv_store;

/* The population's state: records, rank count and the trees of one chunk group. */
typedef struct sv {
    sv_store st;
    size_t nr, nch;   /* distinct lps; chunks of SV_R ranks */
    size_t g0, ng;    /* the chunks [g0, g0 + ng) held now */
    double **tree;    /* ng chunks, each five arrays of SV_R + 1: N, Neq, D, Deq, gxy */
    double *cn, *cd;  /* nch + 1: Fenwick trees of the chunks' totals */
    int32_t n_major;
} sv;

size_t ev_surv_min_bytes(size_t n)
{
    size_t xs = strata_xsort_floor(n + 1), tr = SV_CHUNK_BYTES + 2 * (n / SV_R + 2) * sizeof(double);
    size_t win = 2 * SV_MIN_WIN * sizeof(sv_rec);
    size_t q = xs > tr ? xs : tr;
    return EV_SV_SHARE * (q > win ? q : win) + ((size_t)64 << 10);
}

static void sv_free(strata_ctx *ctx, sv *s)
{
    for (size_t c = 0; s->tree && c < s->ng; c++)
        strata_free(ctx, s->tree[c], 0);
    STRATA_FREE_ALL(ctx, s->st.w, s->tree, s->cn);
    strata_scratch_close(ctx, s->st.f);
    memset(s, 0, sizeof *s);
}

/* The record at position k (down: a window ending at k), writing the window
 * back first; fresh: positions not yet written (nothing read). */
static strata_status st_at(strata_ctx *ctx, sv_store *s, size_t k, int down, int fresh, sv_rec **r)
{
    if (k < s->k0 || k >= s->k0 + s->len) {
        if (s->len)
            STRATA_TRY(strata_scratch_write(ctx, s->f, (uint64_t)s->k0 * sizeof *s->w, s->w, s->len * sizeof *s->w));
        s->k0 = down ? (k + 1 > s->cap ? k + 1 - s->cap : 0) : k;
        s->len = s->m - s->k0 < s->cap ? s->m - s->k0 : s->cap;
        if (!fresh)
            STRATA_TRY(strata_scratch_read(ctx, s->f, (uint64_t)s->k0 * sizeof *s->w, s->w, s->len * sizeof *s->w));
    }
    *r = s->w + (k - s->k0);
    return STRATA_OK;
}

/* The store for m records: in memory when they fit a tenth of the budget (half
 * a share: no single block near the budget's size), else windows of that. */
static strata_status st_open(strata_ctx *ctx, size_t m, sv_store *s)
{
    size_t budget = strata_ctx_memory_budget(ctx), q = budget / (2 * EV_SV_SHARE) / sizeof(sv_rec);
    s->m = m;
    s->k0 = s->len = 0;
    if (!budget || q >= m) {
        s->cap = s->len = m;
    } else {
        s->cap = q < SV_MIN_WIN ? SV_MIN_WIN : q;
        STRATA_TRY(strata_scratch_open(ctx, NULL, "the survival evaluation's sweep", &s->f));
    }
    s->w = strata_calloc(ctx, s->cap + 1, sizeof *s->w);
    return s->w ? STRATA_OK : STRATA_ENOMEM;
}

/* The sweep key: time descending, censorings before events (stratum: the major). */
static uint64_t sweep_key(const strata_surv_input *in, size_t r)
{
    return (~strata_f64_key(in->time[r] == 0 ? 0.0 : in->time[r]) << 1) | (uint64_t)(in->event[r] == 1);
}

static int row_bad(const strata_surv_input *in, size_t i, const double *x)
{
    double t = in->time[i], e = in->event[i], w = SV_W(in, i);
    if (!(w >= 0) || !isfinite(w))
        return 1;
    return w > 0 && (!(t >= 0) || !isfinite(t) || (e != 0 && e != 1) || !isfinite(x[i]) || SV_S(in, i) < 0);
}

strata_status ev_surv_check(strata_ctx *ctx, const strata_surv_input *in, const double *x,
                            const char *xname)
{
    for (size_t i = 0; i < in->n; i++) {
        double t = in->time[i], e = in->event[i], w = SV_W(in, i);
        if (!row_bad(in, i, x))
            continue;
        if (!(w >= 0) || !isfinite(w))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: weight %g is not >= 0", i + 1, w);
        if (!(t >= 0) || !isfinite(t))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: time %g is not >= 0", i + 1, t);
        if (e != 0 && e != 1)
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: event %g is not 0 or 1", i + 1, e);
        if (!isfinite(x[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: %s %g is not finite", i + 1,
                               xname, x[i]);
        return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: stratum code %d is missing", i + 1,
                           (int)SV_S(in, i));
    }
    return STRATA_OK;
}

/* The population's rows (ascending, from rows) with weight > 0 in sweep order
 * into the store through the external sort; *n, *ev the population's weight and
 * events by h in row order. STRATA_EDATA (not set) on an invalid row. */
static strata_status sv_order(strata_ctx *ctx, const strata_surv_input *in, const ev_surv_rows *rows,
                              size_t mem, sv *s, double h, double *n, double *ev)
{
    strata_xsort *x = NULL;
    uint64_t kb[512];
    size_t blk[512], got, m = 0, k = 0;
    int bad = 0;
    strata_status st = strata_xsort_begin_pushed(ctx, rows->n, (size_t)s->n_major, mem,
                                                 "survival evaluation: the sweep order", &x);
    *n = *ev = 0;
    while (st == STRATA_OK && (st = rows->next(ctx, rows->arg, blk, 512, &got)) == STRATA_OK && got)
        for (size_t j = 0; st == STRATA_OK && j < got; j++) {
            size_t i = blk[j];
            double w = SV_W(in, i);
            *n += w;
            *ev += in->event[i] == 1 && in->time[i] <= h ? w : 0;
            bad |= row_bad(in, i, in->lp);
            if (!bad && w > 0 && (st = strata_xsort_push_major(ctx, x, SV_S(in, i), sweep_key(in, i), i)) == STRATA_OK)
                m++;
        }
    if (st == STRATA_OK && bad)
        st = STRATA_EDATA; /* the population's sums are whole; its concordance is not defined */
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    if (st == STRATA_OK)
        st = st_open(ctx, m, &s->st);
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, kb, blk, 512, &got)) == STRATA_OK && got)
        for (size_t j = 0; st == STRATA_OK && j < got; j++, k++) {
            sv_rec *r;
            if ((st = st_at(ctx, &s->st, k, 0, 1, &r)) == STRATA_OK) {
                memset(r, 0, sizeof *r);
                r->row = blk[j];
            }
        }
    strata_xsort_free(ctx, x);
    return st;
}

/* Dense ranks of lp (-0 as 0) placed at their positions: the positions sorted by
 * lp, then one read of that stream per window of the store. */
static strata_status sv_ranks(strata_ctx *ctx, const strata_surv_input *in, size_t mem, sv *s)
{
    strata_xsort *x = NULL;
    uint64_t kb[512], prev = 0;
    size_t pb[512], got, m = s->st.m;
    sv_rec *r;
    strata_status st = strata_xsort_begin(ctx, m, NULL, 0, mem, "survival evaluation: the lp ranks", &x);
    for (size_t k = 0; st == STRATA_OK && k < m; k++)
        if ((st = st_at(ctx, &s->st, k, 0, 0, &r)) == STRATA_OK) {
            double lp = in->lp[r->row];
            st = strata_xsort_push(ctx, x, strata_f64_key(lp == 0 ? 0.0 : lp), k);
        }
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    for (size_t k0 = 0; st == STRATA_OK && k0 < m; k0 = s->st.k0 + s->st.len) {
        size_t nr = 0, j = 0;
        if ((st = st_at(ctx, &s->st, k0, 0, 0, &r)) != STRATA_OK || (st = strata_xsort_rewind(ctx, x)) != STRATA_OK)
            break;
        while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, kb, pb, 512, &got)) == STRATA_OK && got)
            for (size_t q = 0; q < got; q++, j++) {
                nr += j == 0 || kb[q] != prev;
                prev = kb[q];
                if (pb[q] >= s->st.k0 && pb[q] < s->st.k0 + s->st.len)
                    s->st.w[pb[q] - s->st.k0].rank = nr;
            }
        s->nr = nr;
    }
    strata_xsort_free(ctx, x);
    return st;
}

/* Time, event and weight of position k's row. */
typedef struct sv_pt {
    size_t row;
    double t, w;
    int ev;
} sv_pt;

static strata_status pt_at(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t k, int down,
                           sv_rec **r, sv_pt *p)
{
    STRATA_TRY(st_at(ctx, &s->st, k, down, 0, r));
    p->row = (*r)->row;
    p->t = in->time[p->row];
    p->w = SV_W(in, p->row);
    p->ev = in->event[p->row] == 1;
    return STRATA_OK;
}

/* End of the tied-time block starting at k (same stratum and time). */
static strata_status block_end(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t k, size_t s1,
                               size_t *e)
{
    sv_rec *r;
    sv_pt p, q;
    STRATA_TRY(pt_at(ctx, in, s, k, 0, &r, &p));
    for (*e = k + 1; *e < s1; ++*e) {
        STRATA_TRY(pt_at(ctx, in, s, *e, 0, &r, &q));
        if (q.t != p.t)
            break;
    }
    return STRATA_OK;
}

/* Time weights of the events in stratum [s0, s1): 1 (Harrell), or 1/G(t-)^2 (Uno)
 * with G the weighted Kaplan-Meier of censoring, censorings at t after the events
 * at t (survival's fastkm1). Harrell's weights when the stratum has < 2 events.
 * cnt[0..1] of a block's first position as scratch: the prefix weight before the
 * block and after its censorings. Leaves inf and cnt zero. */
static strata_status time_weights(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t s0, size_t s1,
                                  int uno)
{
    size_t nev = 0;
    double cum = 0, g = 1;
    sv_rec *r;
    sv_pt p;
    for (size_t k = s0; k < s1; k++) {
        STRATA_TRY(pt_at(ctx, in, s, k, 0, &r, &p));
        memset(r->inf, 0, sizeof r->inf + sizeof r->cnt);
        r->tw = 1;
        nev += p.ev;
    }
    if (!uno || nev < 2)
        return STRATA_OK;
    for (size_t k = s0, e; k < s1; k = e) {
        double wc = 0;
        STRATA_TRY(block_end(ctx, in, s, k, s1, &e));
        for (size_t q = k; q < e; q++) {
            STRATA_TRY(pt_at(ctx, in, s, q, 0, &r, &p));
            wc += p.ev ? 0 : p.w;
        }
        STRATA_TRY(st_at(ctx, &s->st, k, 0, 0, &r));
        r->cnt[0] = cum;
        r->cnt[1] = cum + wc;
        for (size_t q = k; q < e; q++) {
            STRATA_TRY(pt_at(ctx, in, s, q, 0, &r, &p));
            cum += p.w;
        }
    }
    for (size_t k = s1; k > s0;) { /* blocks from the earliest time, windows going down */
        size_t b = k - 1;
        sv_pt pb;
        STRATA_TRY(pt_at(ctx, in, s, b, 1, &r, &pb));
        while (b > s0) {
            STRATA_TRY(pt_at(ctx, in, s, b - 1, 1, &r, &p));
            if (p.t != pb.t)
                break;
            b--;
        }
        for (size_t q = k; q-- > b;) {
            STRATA_TRY(st_at(ctx, &s->st, q, 1, 0, &r));
            r->tw = 1 / (g * g);
        }
        if (r->cnt[1] > r->cnt[0]) /* r: position b */
            g *= r->cnt[0] / r->cnt[1];
        r->cnt[0] = r->cnt[1] = 0;
        k = b;
    }
    return STRATA_OK;
}

/* The chunk of rank rk when it is held: its five arrays, *l its index there. */
static double *chunk_of(const sv *s, size_t rk, size_t *l)
{
    size_t c = (rk - 1) / SV_R;
    *l = (rk - 1) % SV_R + 1;
    if (c < s->g0 || c >= s->g0 + s->ng)
        return NULL;
    return s->tree[c - s->g0];
}

/* Weights of the rows in tree t (0 = N, 2 = D) with rank below, equal to and
 * above rk: the lower chunks' totals, then the chunk's own Fenwick prefix. */
static void tree_split(const sv *s, const double *ch, int t, size_t rk, size_t l, double tot, double out[3])
{
    out[0] = strata_fenwick_sum(t ? s->cd : s->cn, (rk - 1) / SV_R) +
             strata_fenwick_sum(ch + (size_t)t * (SV_R + 1), l - 1);
    out[1] = ch[(size_t)(t + 1) * (SV_R + 1) + l];
    out[2] = tot - out[0] - out[1];
}

/* Adds v at rank rk of tree t: its chunk's total always, the chunk when held. */
static void tree_add(sv *s, int t, size_t rk, double v)
{
    size_t l;
    double *ch = chunk_of(s, rk, &l);
    strata_fenwick_add(t ? s->cd : s->cn, s->nch, (rk - 1) / SV_R + 1, v);
    if (ch) {
        strata_fenwick_add(ch + (size_t)t * (SV_R + 1), SV_R, l, v);
        ch[(size_t)(t + 1) * (SV_R + 1) + l] += v;
    }
}

/* Removes from a row's influence the events already in the event tree (its
 * later-member pairs are those added after it); sign -1, or +1 at the end. */
static void later_member(const sv *s, sv_rec *r, const double *ch, size_t l, double Dtot, double sign)
{
    double a[3];
    tree_split(s, ch, 2, r->rank, l, Dtot, a);
    r->inf[0] += sign * a[2]; /* earlier event with higher lp: concordant */
    r->inf[1] += sign * a[0];
    r->inf[2] += sign * a[1];
}

/* Pass 1 over the events of one tied time: their pairs with everyone already in
 * the tree (later times, censorings at this time); counts and influence. */
static strata_status events_pass1(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t k, size_t e,
                                  double Ntot, double *Dtot)
{
    double wgrp = 0;
    for (size_t q = k; q < e; q++) {
        sv_rec *r;
        sv_pt p;
        size_t l;
        double *ch, a[3];
        STRATA_TRY(pt_at(ctx, in, s, q, 0, &r, &p));
        if (!p.ev)
            continue;
        if ((ch = chunk_of(s, r->rank, &l)) != NULL) {
            double tw = r->tw, w = p.w, *gxy = ch + 4 * (SV_R + 1);
            tree_split(s, ch, 0, r->rank, l, Ntot, a);
            r->inf[0] += tw * a[0]; /* the later row has lower lp: concordant */
            r->inf[1] += tw * a[2];
            r->inf[2] += tw * a[1];
            r->cnt[0] = w * tw * a[0];
            r->cnt[1] = w * tw * a[2];
            r->cnt[2] = w * tw * a[1];
            r->cnt[3] = w * tw * wgrp; /* tied on time */
            r->cnt[4] = w * tw * gxy[l]; /* tied on time and lp */
            gxy[l] += w;
        }
        wgrp += p.w;
        tree_add(s, 2, r->rank, r->tw * p.w);
        *Dtot += r->tw * p.w;
    }
    return STRATA_OK;
}

/* Rows of [k, e) with event ev enter the at-risk tree (after their later-member
 * correction; an event's tied-time count cleared). */
static strata_status enter(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t k, size_t e, int ev,
                           double *Ntot, double Dtot)
{
    for (size_t q = k; q < e; q++) {
        sv_rec *r;
        sv_pt p;
        size_t l;
        double *ch;
        STRATA_TRY(pt_at(ctx, in, s, q, 0, &r, &p));
        if (p.ev != ev)
            continue;
        if ((ch = chunk_of(s, r->rank, &l)) != NULL) {
            if (ev)
                ch[4 * (SV_R + 1) + l] = 0;
            later_member(s, r, ch, l, Dtot, -1);
        }
        tree_add(s, 0, r->rank, p.w);
        *Ntot += p.w;
    }
    return STRATA_OK;
}

/* One stratum [s0, s1) for the held chunks: the counts' shares and the
 * influence of the rows whose rank is held. The chunks' totals are emptied
 * first; the chunks are empty before and after (their rows' paths cleared). */
static strata_status sweep(strata_ctx *ctx, const strata_surv_input *in, sv *s, size_t s0, size_t s1)
{
    double Ntot = 0, Dtot = 0;
    memset(s->cn, 0, 2 * (s->nch + 1) * sizeof *s->cn);
    for (size_t k = s0, e; k < s1; k = e) {
        STRATA_TRY(block_end(ctx, in, s, k, s1, &e));
        STRATA_TRY(enter(ctx, in, s, k, e, 0, &Ntot, Dtot)); /* censorings: at risk for this time's events */
        STRATA_TRY(events_pass1(ctx, in, s, k, e, Ntot, &Dtot));
        STRATA_TRY(enter(ctx, in, s, k, e, 1, &Ntot, Dtot));
    }
    for (size_t q = s0; q < s1; q++) {
        sv_rec *r;
        size_t l;
        double *ch;
        STRATA_TRY(st_at(ctx, &s->st, q, 0, 0, &r));
        if ((ch = chunk_of(s, r->rank, &l)) != NULL)
            later_member(s, r, ch, l, Dtot, +1);
    }
    for (size_t q = s0; q < s1; q++) {
        sv_rec *r;
        size_t l;
        double *ch;
        STRATA_TRY(st_at(ctx, &s->st, q, 0, 0, &r));
        if ((ch = chunk_of(s, r->rank, &l)) != NULL) {
            strata_fenwick_clear(ch, SV_R, l);
            strata_fenwick_clear(ch + 2 * (SV_R + 1), SV_R, l);
            ch[SV_R + 1 + l] = ch[3 * (SV_R + 1) + l] = 0;
        }
    }
    return STRATA_OK;
}

/* The trees: every chunk (no budget), else as many as a fifth of it holds (at least one). */
static strata_status sv_alloc(strata_ctx *ctx, sv *s)
{
    size_t budget = strata_ctx_memory_budget(ctx), top;
    s->nch = s->nr / SV_R + 1;
    s->ng = s->nch;
    top = budget / EV_SV_SHARE > 2 * (s->nch + 1) * sizeof(double) ? budget / EV_SV_SHARE - 2 * (s->nch + 1) * sizeof(double) : 0;
    if (budget && top / SV_CHUNK_BYTES < s->ng)
        s->ng = top / SV_CHUNK_BYTES ? top / SV_CHUNK_BYTES : 1;
    s->cn = strata_alloc(ctx, 2 * (s->nch + 1) * sizeof *s->cn);
    s->tree = strata_calloc(ctx, s->ng, sizeof *s->tree);
    if (!s->cn || !s->tree)
        return STRATA_ENOMEM;
    s->cd = s->cn + s->nch + 1;
    for (size_t c = 0; c < s->ng; c++) /* a block a chunk: none near the budget's size */
        if (!(s->tree[c] = strata_calloc(ctx, 1, SV_CHUNK_BYTES)))
            return STRATA_ENOMEM;
    return STRATA_OK;
}

/* C, its infinitesimal-jackknife SE and CI from the positions' shares and
 * influence, summed in position order. */
static strata_status conc_finish(strata_ctx *ctx, const strata_surv_input *in, sv *s, double conf,
                                 strata_surv_conc *out)
{
    double cnt[5] = {0, 0, 0, 0, 0}, npair, somer, v = 0, z = strata_qnorm(0.5 + conf / 2);
    sv_rec *r;
    for (size_t q = 0; q < s->st.m; q++) {
        STRATA_TRY(st_at(ctx, &s->st, q, 0, 0, &r));
        for (int j = 0; j < 5; j++)
            cnt[j] += r->cnt[j];
    }
    npair = cnt[0] + cnt[1] + cnt[2];
    if (npair <= 0)
        return STRATA_EDATA;
    somer = (cnt[0] - cnt[1]) / npair;
    for (size_t q = 0; q < s->st.m; q++) {
        const double *f;
        double d;
        STRATA_TRY(st_at(ctx, &s->st, q, 0, 0, &r));
        f = r->inf;
        d = SV_W(in, r->row) * ((f[0] - f[1]) / npair - somer / npair * (f[0] + f[1] + f[2]));
        v += d * d;
    }
    out->concordant = cnt[0];
    out->discordant = cnt[1];
    out->tied_x = cnt[2];
    out->tied_y = cnt[3] - cnt[4];
    out->c = (somer + 1) / 2;
    out->se = sqrt(v / 4);
    out->lo = out->c - z * out->se;
    out->hi = out->c + z * out->se;
    return STRATA_OK;
}

/* One weighting over the sorted rows: per stratum the time weights, then the
 * sweeps of each group of held chunks; then C and its SE. */
static strata_status conc_one(strata_ctx *ctx, const strata_surv_input *in, sv *s, strata_conc_weight tw,
                              double conf, strata_surv_conc *out)
{
    sv_rec *r;
    for (size_t s0 = 0, s1; s0 < s->st.m; s0 = s1) {
        int32_t code;
        STRATA_TRY(st_at(ctx, &s->st, s0, 0, 0, &r));
        code = SV_S(in, r->row);
        for (s1 = s0 + 1; s1 < s->st.m; s1++) {
            STRATA_TRY(st_at(ctx, &s->st, s1, 0, 0, &r));
            if (SV_S(in, r->row) != code)
                break;
        }
        STRATA_TRY(time_weights(ctx, in, s, s0, s1, tw == STRATA_CONC_UNO));
        for (s->g0 = 0; s->g0 < s->nch; s->g0 += s->ng)
            STRATA_TRY(sweep(ctx, in, s, s0, s1));
    }
    return conc_finish(ctx, in, s, conf, out);
}

strata_status ev_surv_pop_concordances(strata_ctx *ctx, const strata_surv_input *in, const ev_surv_rows *rows,
                                       int32_t n_major, double h, double conf, strata_surv_conc out[2],
                                       strata_status each[2], double *n, double *ev)
{
    static const strata_conc_weight tw[2] = {STRATA_CONC_HARRELL, STRATA_CONC_UNO};
    size_t budget = strata_ctx_memory_budget(ctx);
    sv s;
    strata_status st;
    memset(&s, 0, sizeof s);
    s.n_major = n_major;
    for (int k = 0; k < 2; k++) {
        memset(&out[k], 0, sizeof out[k]);
        each[k] = STRATA_EDATA;
    }
    st = sv_order(ctx, in, rows, budget / EV_SV_SHARE, &s, h, n, ev);
    if (st == STRATA_OK && s.st.m > 0)
        st = sv_ranks(ctx, in, budget / EV_SV_SHARE, &s);
    if (st == STRATA_OK)
        st = sv_alloc(ctx, &s);
    for (int k = 0; st == STRATA_OK && k < 2; k++)
        if ((each[k] = conc_one(ctx, in, &s, tw[k], conf, &out[k])) != STRATA_OK && each[k] != STRATA_EDATA)
            st = each[k];
    sv_free(ctx, &s);
    return st;
}

/* Stratum codes 0..max: the sweep order's majors. */
int32_t ev_surv_n_major(const strata_surv_input *in)
{
    int32_t top = 0;
    for (size_t i = 0; in->stratum && i < in->n; i++)
        top = in->stratum[i] > top ? in->stratum[i] : top;
    return top + 1;
}

strata_status ev_surv_all_rows(strata_ctx *ctx, void *arg, size_t *rows, size_t max, size_t *got)
{
    size_t *at = arg;
    (void)ctx;
    for (*got = 0; *got < max && at[0] < at[1]; ++*got)
        rows[*got] = at[0]++;
    return STRATA_OK;
}

strata_status ev_surv_concordances(strata_ctx *ctx, const strata_surv_input *in, const strata_conc_weight *tw,
                                   int ntw, double conf_level, strata_surv_conc *out, strata_status *each)
{
    strata_surv_conc both[2];
    strata_status e2[2], st;
    size_t at[2] = {0, in ? in->n : 0};
    ev_surv_rows rows = {ev_surv_all_rows, at, in ? in->n : 0};
    double n, ev;
    for (int k = 0; k < ntw; k++) {
        memset(&out[k], 0, sizeof out[k]);
        each[k] = STRATA_EDATA;
        if (tw[k] != STRATA_CONC_HARRELL && tw[k] != STRATA_CONC_UNO)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "survival concordance: unknown weighting %d", (int)tw[k]);
    }
    if (!in || !in->time || !in->event || !in->lp || !(conf_level > 0 && conf_level < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "survival concordance: needs time, event, lp, a weighting "
                                               "and a confidence level in (0, 1)");
    STRATA_TRY(ev_surv_check(ctx, in, in->lp, "lp"));
    st = ev_surv_pop_concordances(ctx, in, &rows, ev_surv_n_major(in), 0, conf_level, both, e2, &n, &ev);
    if (st == STRATA_ENOMEM)
        return STRATA_FAIL(ctx, st, "survival concordance: out of memory");
    if (st != STRATA_OK)
        return st;
    for (int k = 0; k < ntw; k++) {
        int j = tw[k] == STRATA_CONC_UNO;
        out[k] = both[j];
        each[k] = e2[j];
    }
    return STRATA_OK;
}

strata_status strata_surv_concordance(strata_ctx *ctx, const strata_surv_input *in, strata_conc_weight tw,
                                      double conf_level, strata_surv_conc *out)
{
    strata_status each;
    STRATA_TRY(ev_surv_concordances(ctx, in, &tw, 1, conf_level, out, &each));
    if (each != STRATA_OK)
        return STRATA_FAIL(ctx, each, "survival concordance: no comparable pairs (no event before "
                                      "another row's time within a stratum)");
    return STRATA_OK;
}
