/* engine/evaluate/evaluate_survcal.c — calibration at a horizon for survival
 * outcomes: risk groups cut at type-7 quantiles of the prediction (strata_evaluate's
 * rule), in each the weighted Kaplan-Meier observed risk with survfit's log-scale
 * Greenwood CI beside the mean prediction. Invariant: groups and their sums follow
 * the order of (risk, row), the Kaplan-Meier that of (group, time, row), both from
 * the external sort, so results never depend on threads or the memory budget. */
#include "evaluate_internal.h"

#include "strata/dist.h"
#include "xsort.h"

#include <math.h>
#include <string.h>

enum { CB = 512 }; /* records read at a time */

static uint64_t risk_key(double r)
{
    return strata_f64_key(r == 0 ? 0.0 : r);
}

/* The kept rows (weight > 0) sorted by (risk, row); *m how many. */
static strata_status sort_by_risk(strata_ctx *ctx, const strata_surv_input *in, size_t mem, strata_xsort **x,
                                  size_t *m)
{
    *m = 0;
    for (size_t i = 0; i < in->n; i++)
        *m += SV_W(in, i) > 0;
    STRATA_TRY(strata_xsort_begin(ctx, *m, NULL, 0, mem, "survival calibration: the risk order", x));
    for (size_t i = 0; i < in->n; i++)
        if (SV_W(in, i) > 0)
            STRATA_TRY(strata_xsort_push(ctx, *x, risk_key(in->risk[i]), i));
    return strata_xsort_end(ctx, *x);
}

/* Type-7 quantile breaks of the sorted risks, as R's quantile(): one read of
 * the risk order for the positions they need. */
static strata_status breaks(strata_ctx *ctx, const strata_surv_input *in, strata_xsort *x, size_t m, int g,
                            double *brk)
{
    uint64_t kb[CB];
    size_t rb[CB], got, k = 0;
    for (int j = 0; j <= g; j++)
        brk[j] = NAN;
    strata_status st = strata_xsort_rewind(ctx, x);
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, kb, rb, CB, &got)) == STRATA_OK && got)
        for (size_t q = 0; q < got; q++, k++)
            for (int j = 0; j <= g; j++) {
                double hq = (double)(m - 1) * (double)j / (double)g, frac;
                size_t lo = (size_t)floor(hq);
                frac = hq - (double)lo;
                if (k == lo)
                    brk[j] = in->risk[rb[q]];
                else if (k == lo + 1 && frac > 0)
                    brk[j] += frac * (in->risk[rb[q]] - brk[j]);
            }
    return st;
}

static strata_status check_risk(strata_ctx *ctx, const strata_surv_input *in, double horizon,
                                int n_bins, double conf)
{
    if (!in || !in->time || !in->event || !in->risk || !(horizon > 0) || !isfinite(horizon) ||
        n_bins < 1 || n_bins > 256 || !(conf > 0 && conf < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "survival calibration: needs time, event, risk, a horizon "
                                               "> 0, 1..256 groups and a confidence level in (0, 1)");
    STRATA_TRY(ev_surv_check(ctx, in, in->risk, "predicted risk"));
    for (size_t i = 0; i < in->n; i++)
        if (SV_W(in, i) > 0 && !(in->risk[i] >= 0 && in->risk[i] <= 1))
            return STRATA_FAIL(ctx, STRATA_EDATA, "survival calibration: row %zu: predicted risk %g is "
                                                  "outside [0, 1]", i + 1, in->risk[i]);
    return STRATA_OK;
}

/* The group (1..g) of a risk: the first unmerged break at or above it, else the last. */
static int group_of(const double *brk, int g, double r)
{
    for (int j = 1; j < g; j++)
        if (brk[j] != brk[j + 1] && r <= brk[j])
            return j;
    return g;
}

/* Each group's weight, mean prediction and range in (risk, row) order; out[j]
 * the output index of group j (empty groups dropped). */
static strata_status group_sums(strata_ctx *ctx, const strata_surv_input *in, strata_xsort *x, const double *brk,
                                int g, strata_surv_calib *b, int *out, int *n_out)
{
    uint64_t kb[CB];
    size_t rb[CB], got;
    strata_surv_calib sums[257];
    for (int j = 1; j <= g; j++) {
        memset(&sums[j], 0, sizeof sums[j]);
        sums[j].p_min = INFINITY;
        sums[j].p_max = -INFINITY;
    }
    strata_status st = strata_xsort_rewind(ctx, x);
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, kb, rb, CB, &got)) == STRATA_OK && got)
        for (size_t q = 0; q < got; q++) {
            double r = in->risk[rb[q]], w = SV_W(in, rb[q]);
            strata_surv_calib *s = &sums[group_of(brk, g, r)];
            s->n += w;
            s->pred += w * r;
            s->p_min = fmin(s->p_min, r);
            s->p_max = fmax(s->p_max, r);
        }
    *n_out = 0;
    if (st != STRATA_OK)
        return st;
    for (int j = 1; j <= g; j++) {
        out[j] = -1;
        if (sums[j].p_min <= sums[j].p_max) { /* it has rows */
            out[j] = *n_out;
            b[*n_out] = sums[j];
            b[(*n_out)++].pred /= sums[j].n;
        }
    }
    return STRATA_OK;
}

/* One group's Kaplan-Meier at h (atrisk from its whole weight), step by step. */
typedef struct km_state {
    double S, v, atrisk, t, wt, d;
    int done, open;
} km_state;

static void km_close_time(km_state *k, double h, strata_surv_calib *b)
{
    if (!k->open || k->done)
        return;
    if (k->t > h) {
        k->done = 1;
        return;
    }
    if (k->d > 0) {
        k->S *= 1 - k->d / k->atrisk;
        k->v += k->atrisk > k->d ? k->d / (k->atrisk * (k->atrisk - k->d)) : INFINITY;
        b->events += k->d;
    }
    k->atrisk -= k->wt;
}

static void km_finish(const km_state *k, double z, strata_surv_calib *b)
{
    b->obs = 1 - k->S;
    b->obs_lo = k->S > 0 ? 1 - fmin(1, k->S * exp(z * sqrt(k->v))) : NAN;
    b->obs_hi = k->S > 0 ? 1 - k->S * exp(-z * sqrt(k->v)) : NAN;
}

/* Every group's Kaplan-Meier from one sort of the kept rows by (group, time, row). */
static strata_status km_all(strata_ctx *ctx, const strata_surv_input *in, size_t m, size_t mem, const double *brk,
                            int g, const int *out, double h, double z, strata_surv_calib *b, int nb)
{
    strata_xsort *x = NULL;
    uint64_t kb[CB];
    size_t rb[CB], got;
    int cur = -1;
    km_state k;
    strata_status st = strata_xsort_begin_pushed(ctx, m, (size_t)nb, mem, "survival calibration: the groups' times", &x);
    for (size_t i = 0; st == STRATA_OK && i < in->n; i++)
        if (SV_W(in, i) > 0)
            st = strata_xsort_push_major(ctx, x, out[group_of(brk, g, in->risk[i])], strata_f64_key(in->time[i]), i);
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    memset(&k, 0, sizeof k);
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, kb, rb, CB, &got)) == STRATA_OK && got)
        for (size_t q = 0; q < got; q++) {
            size_t i = rb[q];
            int gi = out[group_of(brk, g, in->risk[i])];
            double t = in->time[i], w = SV_W(in, i);
            if (gi != cur || !k.open || t != k.t)
                km_close_time(&k, h, cur >= 0 ? &b[cur] : NULL);
            if (gi != cur) {
                if (cur >= 0)
                    km_finish(&k, z, &b[cur]);
                memset(&k, 0, sizeof k);
                k.S = 1;
                k.atrisk = b[gi].n;
                b[gi].events = 0;
                cur = gi;
            }
            if (!k.open || t != k.t) {
                k.open = 1;
                k.t = t;
                k.wt = k.d = 0;
            }
            k.wt += w;
            k.d += in->event[i] == 1 ? w : 0;
        }
    if (st == STRATA_OK && cur >= 0) {
        km_close_time(&k, h, &b[cur]);
        km_finish(&k, z, &b[cur]);
    }
    strata_xsort_free(ctx, x);
    return st;
}

strata_status strata_surv_calibration(strata_ctx *ctx, const strata_surv_input *in, double horizon,
                                      int n_bins, double conf_level, strata_surv_calib *bins, int *n_out)
{
    strata_xsort *x = NULL;
    size_t m = 0, mem = strata_ctx_memory_budget(ctx) / EV_SV_SHARE;
    double brk[257], z = strata_qnorm(0.5 + conf_level / 2);
    int out[257];
    strata_status st;
    *n_out = 0;
    STRATA_TRY(check_risk(ctx, in, horizon, n_bins, conf_level));
    st = sort_by_risk(ctx, in, mem, &x, &m);
    if (st == STRATA_OK && m == 0)
        st = STRATA_FAIL(ctx, STRATA_EDATA, "survival calibration: no rows with weight > 0");
    if (st == STRATA_OK)
        st = breaks(ctx, in, x, m, n_bins, brk);
    if (st == STRATA_OK)
        st = group_sums(ctx, in, x, brk, n_bins, bins, out, n_out);
    strata_xsort_free(ctx, x);
    if (st == STRATA_OK)
        st = km_all(ctx, in, m, mem, brk, n_bins, out, horizon, z, bins, *n_out);
    if (st != STRATA_OK)
        *n_out = 0;
    return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "survival calibration: out of memory") : st;
}
