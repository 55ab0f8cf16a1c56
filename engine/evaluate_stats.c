/* engine/evaluate_stats.c — numerical helpers of the evaluation engine (the normal
 * quantile is strata_qnorm of engine/strat_dist.c): chi-square upper tail, the
 * counter-based RNG and a stable radix sort of doubles.
 * Invariant: pure functions of their arguments; no state, no allocation. */
#include "evaluate_internal.h"

#include <math.h>
#include <string.h>

/* Q(a, x) = Gamma(a, x) / Gamma(a): series for x < a + 1, else Lentz's
 * continued fraction (Numerical Recipes 6.2), to double precision. */
static double gamma_q(double a, double x)
{
    const double eps = 1e-16, tiny = 1e-300;
    double lg = lgamma(a);
    if (x <= 0.0)
        return 1.0;
    if (x < a + 1.0) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int i = 0; i < 10000; i++) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * eps)
                break;
        }
        return 1.0 - sum * exp(-x + a * log(x) - lg);
    } else {
        double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
        for (int i = 1; i < 10000; i++) {
            double an = -i * (i - a), del;
            b += 2.0;
            d = an * d + b;
            if (fabs(d) < tiny)
                d = tiny;
            c = b + an / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1.0 / d;
            del = d * c;
            h *= del;
            if (fabs(del - 1.0) < eps)
                break;
        }
        return exp(-x + a * log(x) - lg) * h;
    }
}

double ev_pchisq_upper(double x, double df)
{
    if (!(df > 0.0) || isnan(x))
        return NAN;
    return gamma_q(0.5 * df, 0.5 * x);
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
