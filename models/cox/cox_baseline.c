/* models/cox/cox_baseline.c — the baseline cumulative hazard at x = 0, offset 0,
 * per stratum at every distinct time (as survival's basehaz(fit, centered =
 * FALSE)): increments deaths / risk-set sum (Breslow 1972) for Breslow ties, the
 * Efron-adjusted increments sum_l (w/m) / (S0 - (l/m) E0) for Efron ties (R's
 * default ctype follows the ties). Invariant: it reuses the final evaluation's
 * hazard sums, so it matches the fitted coefficients exactly. */
#include "cox_internal.h"

#include <math.h>
#include <string.h>

strata_status cox_baseline(strata_ctx *ctx, const cox_data *d, const cox_ws *ws,
                           cox_result *res)
{
    /* ws->H is on the exp(eta - c) scale: multiply by exp(-c) */
    const double scale = exp(-ws->c);
    size_t s = 0, k = 0;
    res->nstrata = d->nstrata;
    res->bh_code = strata_alloc(ctx, d->nstrata * sizeof *res->bh_code);
    res->bh_start = strata_alloc(ctx, (d->nstrata + 1) * sizeof *res->bh_start);
    res->bh_time = strata_alloc(ctx, d->ng * sizeof *res->bh_time);
    res->bh_haz = strata_alloc(ctx, d->ng * sizeof *res->bh_haz);
    if (!res->bh_code || !res->bh_start || !res->bh_time || !res->bh_haz)
        return STRATA_ENOMEM;
    /* groups run (stratum ascending, time descending): reverse each stratum */
    for (size_t g0 = 0; g0 < d->ng;) {
        size_t g1 = g0 + 1;
        while (g1 < d->ng && !d->gnew[g1])
            g1++;
        res->bh_code[s] = cox_stratum(d, g0 ? d->gend[g0 - 1] : 0);
        res->bh_start[s++] = k;
        for (size_t g = g1; g-- > g0;) {
            res->bh_time[k] = d->gtime[g];
            res->bh_haz[k++] = ws->H[g] * scale;
        }
        g0 = g1;
    }
    res->bh_start[s] = k;
    return STRATA_OK;
}

double cox_cumhaz_at(const cox_result *res, size_t s, double t)
{
    size_t lo = res->bh_start[s], hi = res->bh_start[s + 1];
    /* last time <= t by bisection: times ascending within the stratum */
    if (lo == hi || t < res->bh_time[lo])
        return 0;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (res->bh_time[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return res->bh_haz[lo];
}
