/* engine/evaluate/evaluate_survcal.c — calibration at a horizon for survival
 * outcomes: risk groups cut at type-7 quantiles of the prediction (strata_evaluate's
 * rule), in each the weighted Kaplan-Meier observed risk with survfit's log-scale
 * Greenwood CI beside the mean prediction. Invariant: groups and sums follow the
 * stable sorted order of (risk, row), so results never depend on threads. */
#include "evaluate_internal.h"

#include "strata/dist.h"

#include <math.h>
#include <string.h>

typedef struct kmws {
    uint64_t *key;  /* 2(n + 1) */
    size_t *ord, *o2, *rows; /* n + 1 each */
} kmws;

/* Kaplan-Meier at h of rows[0..m) (input rows): observed risk and its CI into b. */
static void km_at(const strata_surv_input *in, size_t m, double h, double z, kmws *ws,
                  strata_surv_calib *b)
{
    double S = 1, v = 0, atrisk = 0;
    for (size_t k = 0; k < m; k++) {
        ws->key[k] = strata_f64_key(in->time[ws->rows[k]]);
        ws->ord[k] = ws->rows[k];
        atrisk += SV_W(in, ws->rows[k]);
    }
    strata_radix_sort(m, ws->key, ws->ord, ws->key + m, ws->o2);
    for (size_t k = 0; k < m;) {
        double t = in->time[ws->ord[k]], d = 0, wt = 0;
        size_t e = k;
        for (; e < m && in->time[ws->ord[e]] == t; e++) {
            wt += SV_W(in, ws->ord[e]);
            d += in->event[ws->ord[e]] == 1 ? SV_W(in, ws->ord[e]) : 0;
        }
        if (t > h)
            break;
        if (d > 0) {
            S *= 1 - d / atrisk;
            v += atrisk > d ? d / (atrisk * (atrisk - d)) : INFINITY;
            b->events += d;
        }
        atrisk -= wt;
        k = e;
    }
    b->obs = 1 - S;
    b->obs_lo = S > 0 ? 1 - fmin(1, S * exp(z * sqrt(v))) : NAN;
    b->obs_hi = S > 0 ? 1 - S * exp(-z * sqrt(v)) : NAN;
}

/* Type-7 quantile breaks of the sorted risks, as R's quantile(). */
static void breaks(const strata_surv_input *in, const size_t *ord, size_t m, int g, double *brk)
{
    for (int j = 0; j <= g; j++) {
        double hq = (double)(m - 1) * (double)j / (double)g;
        size_t lo = (size_t)floor(hq);
        double frac = hq - (double)lo, x = in->risk[ord[lo]];
        if (frac > 0 && lo + 1 < m)
            x += frac * (in->risk[ord[lo + 1]] - x);
        brk[j] = x;
    }
}

/* Sorts the kept rows by risk (stable: ties in row order) into ws->o2[0..*m). */
static void sort_by_risk(const strata_surv_input *in, kmws *ws, size_t *m)
{
    *m = 0;
    for (size_t i = 0; i < in->n; i++)
        if (SV_W(in, i) > 0) {
            ws->key[*m] = strata_f64_key(in->risk[i] == 0 ? 0.0 : in->risk[i]);
            ws->o2[(*m)++] = i;
        }
    strata_radix_sort(*m, ws->key, ws->o2, ws->key + *m, ws->ord);
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

/* One group: rows sorted[k0..k1) of the risk order; sums, then its Kaplan-Meier. */
static void one_group(const strata_surv_input *in, const size_t *sorted, size_t k0, size_t k1,
                      double horizon, double z, kmws *ws, strata_surv_calib *b)
{
    b->n = b->events = b->pred = 0;
    b->p_min = INFINITY;
    b->p_max = -INFINITY;
    for (size_t k = k0; k < k1; k++) {
        double r = in->risk[sorted[k]], w = SV_W(in, sorted[k]);
        b->n += w;
        b->pred += w * r;
        b->p_min = fmin(b->p_min, r);
        b->p_max = fmax(b->p_max, r);
    }
    b->pred /= b->n;
    memcpy(ws->rows, sorted + k0, (k1 - k0) * sizeof *ws->rows);
    km_at(in, k1 - k0, horizon, z, ws, b);
}

strata_status strata_surv_calibration(strata_ctx *ctx, const strata_surv_input *in, double horizon,
                                      int n_bins, double conf_level, strata_surv_calib *bins, int *n_out)
{
    kmws ws;
    size_t m = 0, k = 0, n, *sorted;
    double brk[257], z = strata_qnorm(0.5 + conf_level / 2);
    strata_status st = STRATA_OK;
    *n_out = 0;
    STRATA_TRY(check_risk(ctx, in, horizon, n_bins, conf_level));
    n = in->n + 1;
    ws.key = strata_alloc(ctx, 2 * n * sizeof *ws.key);
    ws.ord = strata_alloc(ctx, n * sizeof *ws.ord);
    ws.o2 = strata_alloc(ctx, n * sizeof *ws.o2);
    ws.rows = strata_alloc(ctx, n * sizeof *ws.rows);
    sorted = strata_alloc(ctx, n * sizeof *sorted);
    if (!ws.key || !ws.ord || !ws.o2 || !ws.rows || !sorted)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "survival calibration: out of memory");
    if (st == STRATA_OK) {
        sort_by_risk(in, &ws, &m);
        memcpy(sorted, ws.o2, m * sizeof *sorted);
        if (m == 0)
            st = STRATA_FAIL(ctx, STRATA_EDATA, "survival calibration: no rows with weight > 0");
    }
    if (st == STRATA_OK)
        breaks(in, sorted, m, n_bins, brk);
    for (int j = 1; st == STRATA_OK && j <= n_bins; j++) {
        size_t k0 = k;
        if (j < n_bins && brk[j] == brk[j + 1])
            continue; /* duplicate break: merged with the next group */
        while (k < m && (j == n_bins || in->risk[sorted[k]] <= brk[j]))
            k++;
        if (k > k0)
            one_group(in, sorted, k0, k, horizon, z, &ws, &bins[(*n_out)++]);
    }
    strata_free(ctx, ws.key, 0);
    strata_free(ctx, ws.ord, 0);
    strata_free(ctx, ws.o2, 0);
    strata_free(ctx, ws.rows, 0);
    strata_free(ctx, sorted, 0);
    return st;
}
