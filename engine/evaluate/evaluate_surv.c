/* engine/evaluate/evaluate_surv.c — concordance of survival predictions: Harrell's C
 * and Uno's C (pairs weighted 1/G(t-)^2, G the censoring Kaplan-Meier) with the
 * infinitesimal-jackknife SE, as survival's concordance(timewt = "n" / "n/G2").
 * Invariant: one sequential sweep in sorted order (stratum, time descending,
 * censorings first), so results never depend on the thread count. */
#include "evaluate_internal.h"

#include "strata/dist.h"

#include <math.h>
#include <string.h>

/* The kept rows (weight > 0) in sweep order and the sweep's state. */
typedef struct sv {
    size_t m, nr;
    size_t *ord;   /* m: input row at sorted position k */
    size_t *rank;  /* m: dense rank of lp, 1..nr */
    double *tw;    /* m: time weight of an event at position k */
    double *inf;   /* 3m: concordant, discordant, tied-lp influence of position k */
    double *N, *Neq, *D, *Deq; /* nr + 1: Fenwick trees and per-rank sums of all rows / events */
    double *gxy;   /* nr + 1: events of the current tied time per lp rank */
} sv;


static void sv_free(strata_ctx *ctx, sv *s)
{
    STRATA_FREE_ALL(ctx, s->ord, s->rank, s->tw, s->inf, s->N);
}

strata_status ev_surv_check(strata_ctx *ctx, const strata_surv_input *in, const double *x,
                            const char *xname)
{
    for (size_t i = 0; i < in->n; i++) {
        double t = in->time[i], e = in->event[i], w = SV_W(in, i);
        if (!(w >= 0) || !isfinite(w))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: weight %g is not >= 0", i + 1, w);
        if (w == 0)
            continue;
        if (!(t >= 0) || !isfinite(t))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: time %g is not >= 0", i + 1, t);
        if (e != 0 && e != 1)
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: event %g is not 0 or 1", i + 1, e);
        if (!isfinite(x[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: %s %g is not finite", i + 1,
                               xname, x[i]);
        if (SV_S(in, i) < 0)
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival evaluation: row %zu: stratum code %d is missing",
                               i + 1, (int)SV_S(in, i));
    }
    return STRATA_OK;
}

/* Sorts the kept rows by (stratum, time descending, censored before events) and
 * ranks x densely. */
static strata_status sv_sort(strata_ctx *ctx, const strata_surv_input *in, const double *x, sv *s)
{
    size_t n = in->n, m = 0;
    uint64_t *key = strata_alloc(ctx, (n + 1) * 2 * sizeof *key);
    size_t *r2 = strata_alloc(ctx, (n + 1) * sizeof *r2), *pos = strata_alloc(ctx, (n + 1) * sizeof *pos);
    strata_status st = key && r2 && pos ? STRATA_OK : STRATA_ENOMEM;
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        if (SV_W(in, i) > 0)
            s->ord[m++] = i;
    s->m = m;
    for (int pass = 0; st == STRATA_OK && pass < 3; pass++) {
        for (size_t k = 0; k < m; k++) {
            size_t r = s->ord[k];
            key[k] = pass == 0 ? (uint64_t)(in->event[r] == 1)
                     : pass == 1 ? ~strata_f64_key(in->time[r])
                                 : (uint64_t)(uint32_t)SV_S(in, r);
        }
        strata_radix_sort(m, key, s->ord, key + n + 1, r2);
    }
    if (st == STRATA_OK) {
        for (size_t k = 0; k < m; k++) {
            key[k] = strata_f64_key(x[s->ord[k]] == 0 ? 0.0 : x[s->ord[k]]);
            pos[k] = k;
        }
        strata_radix_sort(m, key, pos, key + n + 1, r2);
        s->nr = 0;
        for (size_t k = 0; k < m; k++) {
            s->nr += k == 0 || key[k] != key[k - 1];
            s->rank[pos[k]] = s->nr;
        }
    }
    strata_free(ctx, key, 0);
    strata_free(ctx, r2, 0);
    strata_free(ctx, pos, 0);
    return st;
}

/* End of the tied-time block starting at k (same stratum and time). */
static size_t block_end(const strata_surv_input *in, const sv *s, size_t k, size_t s1)
{
    size_t e = k + 1;
    while (e < s1 && in->time[s->ord[e]] == in->time[s->ord[k]])
        e++;
    return e;
}

/* Time weights of the events in stratum [s0, s1): 1 (Harrell), or 1/G(t-)^2 (Uno)
 * with G the weighted Kaplan-Meier of censoring, censorings at t after the events
 * at t (survival's fastkm1). Harrell's weights when the stratum has < 2 events. */
static void time_weights(const strata_surv_input *in, sv *s, size_t s0, size_t s1, int uno)
{
    size_t nev = 0;
    double cum = 0, g = 1;
    for (size_t k = s0; k < s1; k++) {
        s->tw[k] = 1;
        nev += in->event[s->ord[k]] == 1;
    }
    if (!uno || nev < 2)
        return;
    /* s->inf as scratch: per block, the prefix weight before it and after its censorings */
    for (size_t k = s0; k < s1;) {
        size_t e = block_end(in, s, k, s1);
        double wc = 0;
        for (size_t q = k; q < e; q++)
            wc += in->event[s->ord[q]] == 1 ? 0 : SV_W(in, s->ord[q]);
        s->inf[3 * k] = cum;
        s->inf[3 * k + 1] = cum + wc;
        for (size_t q = k; q < e; q++)
            cum += SV_W(in, s->ord[q]);
        k = e;
    }
    for (size_t k = s1; k > s0;) { /* blocks from the earliest time */
        size_t b = k - 1, e = k;
        while (b > s0 && in->time[s->ord[b - 1]] == in->time[s->ord[b]])
            b--;
        for (size_t q = b; q < e; q++)
            s->tw[q] = 1 / (g * g);
        if (s->inf[3 * b + 1] > s->inf[3 * b])
            g *= s->inf[3 * b] / s->inf[3 * b + 1];
        k = b;
    }
}

/* Weights of tree rows with rank below, equal to and above r. */
static void tree_split(const double *tree, const double *eq, size_t r, double tot, double out[3])
{
    out[0] = strata_fenwick_sum(tree, r - 1);
    out[1] = eq[r];
    out[2] = tot - out[0] - out[1];
}

/* Pass 1 over the events of one tied time: their pairs with everyone already in
 * the tree (later times, censorings at this time); counts and influence. */
static void events_pass1(const strata_surv_input *in, sv *s, size_t k, size_t e, double Ntot,
                         double *Dtot, double *cnt)
{
    double wgrp = 0;
    for (size_t q = k; q < e; q++) {
        size_t r = s->ord[q], rk = s->rank[q];
        double w = SV_W(in, r), tw = s->tw[q], a[3];
        if (in->event[r] != 1)
            continue;
        tree_split(s->N, s->Neq, rk, Ntot, a);
        s->inf[3 * q] += tw * a[0];     /* the later row has lower lp: concordant */
        s->inf[3 * q + 1] += tw * a[2];
        s->inf[3 * q + 2] += tw * a[1];
        cnt[0] += w * tw * a[0];
        cnt[1] += w * tw * a[2];
        cnt[2] += w * tw * a[1];
        cnt[3] += w * tw * wgrp;          /* tied on time */
        cnt[4] += w * tw * s->gxy[rk];    /* tied on time and lp */
        wgrp += w;
        s->gxy[rk] += w;
        strata_fenwick_add(s->D, s->nr, rk, tw * w);
        s->Deq[rk] += tw * w;
        *Dtot += tw * w;
    }
}

/* Removes from a row's influence the events already in the event tree (its
 * later-member pairs are those added after it); sign -1, or +1 at the end. */
static void later_member(sv *s, size_t q, double Dtot, double sign)
{
    double a[3];
    tree_split(s->D, s->Deq, s->rank[q], Dtot, a);
    s->inf[3 * q] += sign * a[2]; /* earlier event with higher lp: concordant */
    s->inf[3 * q + 1] += sign * a[0];
    s->inf[3 * q + 2] += sign * a[1];
}

/* One stratum [s0, s1): counts cnt[0..4] (concordant, discordant, tied lp, tied
 * time, tied both) and every row's influence; the trees are emptied after. */
static void sweep(const strata_surv_input *in, sv *s, size_t s0, size_t s1, double *cnt)
{
    double Ntot = 0, Dtot = 0;
    for (size_t k = s0; k < s1;) {
        size_t e = block_end(in, s, k, s1);
        for (size_t q = k; q < e; q++) /* censorings: at risk for this time's events */
            if (in->event[s->ord[q]] != 1) {
                later_member(s, q, Dtot, -1);
                strata_fenwick_add(s->N, s->nr, s->rank[q], SV_W(in, s->ord[q]));
                s->Neq[s->rank[q]] += SV_W(in, s->ord[q]);
                Ntot += SV_W(in, s->ord[q]);
            }
        events_pass1(in, s, k, e, Ntot, &Dtot, cnt);
        for (size_t q = k; q < e; q++)
            if (in->event[s->ord[q]] == 1) {
                s->gxy[s->rank[q]] = 0;
                later_member(s, q, Dtot, -1);
                strata_fenwick_add(s->N, s->nr, s->rank[q], SV_W(in, s->ord[q]));
                s->Neq[s->rank[q]] += SV_W(in, s->ord[q]);
                Ntot += SV_W(in, s->ord[q]);
            }
        k = e;
    }
    for (size_t q = s0; q < s1; q++)
        later_member(s, q, Dtot, +1);
    for (size_t q = s0; q < s1; q++) {
        strata_fenwick_clear(s->N, s->nr, s->rank[q]);
        strata_fenwick_clear(s->D, s->nr, s->rank[q]);
        s->Neq[s->rank[q]] = s->Deq[s->rank[q]] = 0;
    }
}

/* The sweep's state, allocated after the sort's scratch is freed; the trees
 * over the nr distinct lp ranks. */
static strata_status sv_alloc(strata_ctx *ctx, sv *s)
{
    s->tw = strata_alloc(ctx, (s->m + 1) * sizeof *s->tw);
    s->inf = strata_calloc(ctx, 3 * s->m + 3, sizeof *s->inf);
    s->N = strata_calloc(ctx, 5 * (s->nr + 1), sizeof *s->N);
    if (!s->tw || !s->inf || !s->N)
        return STRATA_ENOMEM;
    s->Neq = s->N + (s->nr + 1);
    s->D = s->Neq + (s->nr + 1);
    s->Deq = s->D + (s->nr + 1);
    s->gxy = s->Deq + (s->nr + 1);
    return STRATA_OK;
}

/* C, its infinitesimal-jackknife SE and CI from the counts and influence. */
static void conc_finish(const strata_surv_input *in, const sv *s, const double *cnt, double conf,
                        strata_surv_conc *out)
{
    double npair = cnt[0] + cnt[1] + cnt[2], somer = (cnt[0] - cnt[1]) / npair, v = 0;
    double z = strata_qnorm(0.5 + conf / 2);
    for (size_t q = 0; q < s->m; q++) {
        const double *f = s->inf + 3 * q;
        double d = SV_W(in, s->ord[q]) * ((f[0] - f[1]) / npair - somer / npair * (f[0] + f[1] + f[2]));
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
}

/* One weighting over the sorted rows: the strata's sweeps, then C and its SE;
 * STRATA_EDATA (not set in ctx) when there is no comparable pair. The sweep
 * leaves the trees empty, so weightings run one after the other. */
static strata_status conc_one(const strata_surv_input *in, sv *s, strata_conc_weight tw, double conf,
                              strata_surv_conc *out)
{
    double cnt[5] = {0, 0, 0, 0, 0};
    for (size_t s0 = 0; s0 < s->m;) {
        size_t s1 = s0 + 1;
        while (s1 < s->m && SV_S(in, s->ord[s1]) == SV_S(in, s->ord[s0]))
            s1++;
        time_weights(in, s, s0, s1, tw == STRATA_CONC_UNO);
        memset(s->inf + 3 * s0, 0, 3 * (s1 - s0) * sizeof *s->inf);
        sweep(in, s, s0, s1, cnt);
        s0 = s1;
    }
    if (cnt[0] + cnt[1] + cnt[2] <= 0)
        return STRATA_EDATA;
    conc_finish(in, s, cnt, conf, out);
    return STRATA_OK;
}

strata_status ev_surv_concordances(strata_ctx *ctx, const strata_surv_input *in, const strata_conc_weight *tw,
                                   int ntw, double conf_level, strata_surv_conc *out, strata_status *each)
{
    sv s;
    strata_status st;
    memset(&s, 0, sizeof s);
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
    s.ord = strata_alloc(ctx, (in->n + 1) * sizeof *s.ord);
    s.rank = strata_alloc(ctx, (in->n + 1) * sizeof *s.rank);
    st = s.ord && s.rank ? sv_sort(ctx, in, in->lp, &s) : STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = sv_alloc(ctx, &s);
    for (int k = 0; st == STRATA_OK && k < ntw; k++)
        each[k] = conc_one(in, &s, tw[k], conf_level, &out[k]);
    sv_free(ctx, &s);
    return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "survival concordance: out of memory") : st;
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
