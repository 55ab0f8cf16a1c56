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

/* Order-preserving map of a double's bits onto uint64. */
static uint64_t dkey(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

void ev_sort_doubles(const double *key, size_t n, size_t *ord, uint64_t *ws_keys, size_t *ws_ord)
{
    uint64_t *k1 = ws_keys, *k2 = ws_keys + n;
    size_t *o1 = ord, *o2 = ws_ord;
    size_t count[65536];
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        k1[i] = dkey(key[i]);
        o1[i] = i;
    }
    for (int pass = 0; pass < 4; pass++) {
        int shift = 16 * pass;
        size_t sum = 0;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(k1[i] >> shift) & 0xffff]++;
        if (count[(k1[0] >> shift) & 0xffff] == n)
            continue; /* this digit is constant: nothing to move */
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t at = count[(k1[i] >> shift) & 0xffff]++;
            k2[at] = k1[i];
            o2[at] = o1[i];
        }
        {
            uint64_t *tk = k1;
            size_t *to = o1;
            k1 = k2;
            k2 = tk;
            o1 = o2;
            o2 = to;
        }
    }
    if (o1 != ord)
        memcpy(ord, o1, n * sizeof *ord);
}
