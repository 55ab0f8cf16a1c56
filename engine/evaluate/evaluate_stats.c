/* engine/evaluate/evaluate_stats.c — numerical helpers of the evaluation engine (the normal
 * quantile, incomplete gamma, RNG and radix sort are engine/core's): chi-square upper
 * tail, the public uniform draw and the sort order of doubles.
 * Invariant: pure functions of their arguments; no state, no allocation. */
#include "evaluate_internal.h"

#include <math.h>
#include <string.h>

double ev_pchisq_upper(double x, double df)
{
    if (!(df > 0.0) || isnan(x))
        return NAN;
    return strata_pgamma_upper(0.5 * df, 0.5 * x);
}

double strata_eval_uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    strata_rng r = strata_rng_make(seed, i, stream);
    return strata_rng_unif(&r);
}

void ev_sort_doubles(const double *key, size_t n, size_t *ord, uint64_t *ws_keys, size_t *ws_ord)
{
    for (size_t i = 0; i < n; i++) {
        ws_keys[i] = strata_f64_key(key[i]);
        ord[i] = i;
    }
    strata_radix_sort(n, ws_keys, ord, ws_keys + n, ws_ord);
}
