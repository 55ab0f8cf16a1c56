/* engine/evaluate/evaluate_stats.c — numerical helpers of the evaluation engine (the normal
 * quantile and incomplete gamma are engine/core/dist.c's): chi-square upper tail, the
 * counter-based RNG and the sort order of doubles (engine/core/radix.c).
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

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ev_hash(uint64_t seed, uint64_t stream, uint64_t i)
{
    return mix64(mix64(mix64(seed) ^ stream) ^ i);
}

double strata_eval_uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    return (double)(ev_hash(seed, stream, i) >> 11) * 0x1.0p-53;
}

void ev_sort_doubles(const double *key, size_t n, size_t *ord, uint64_t *ws_keys, size_t *ws_ord)
{
    for (size_t i = 0; i < n; i++) {
        ws_keys[i] = strata_f64_key(key[i]);
        ord[i] = i;
    }
    strata_radix_sort(n, ws_keys, ord, ws_keys + n, ws_ord);
}
