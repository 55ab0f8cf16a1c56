/* engine/evaluate_stats.c — numerical helpers of the evaluation engine: normal
 * quantile (AS 241), chi-square upper tail (regularised gamma), the
 * counter-based RNG and a stable radix sort of doubles.
 * Invariant: pure functions of their arguments; no state, no allocation. */
#include "evaluate_internal.h"

#include <math.h>
#include <string.h>

double ev_qnorm(double p)
{
    double q = p - 0.5, r, val;
    if (!(p > 0.0 && p < 1.0))
        return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q *
               (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r +
                     67265.770927008700853) * r + 45921.953931549871457) * r +
                   13731.693765509461125) * r + 1971.5909503065514427) * r +
                 133.14166789178437745) * r + 3.387132872796366608) /
               (((((((r * 5226.495278852545925 + 28729.085735721942674) * r +
                     39307.89580009271061) * r + 21213.794301586595867) * r +
                   5394.1960214247511077) * r + 687.1870074920579083) * r +
                 42.313330701600911252) * r + 1.0);
    }
    r = q < 0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    if (r <= 5.0) {
        r -= 1.6;
        val = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r +
                    0.24178072517745061177) * r + 1.27045825245236838258) * r +
                  3.64784832476320460504) * r + 5.7694972214606914055) * r +
                4.6303378461565452959) * r + 1.42343711074968357734) /
              (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r +
                    0.0151986665636164571966) * r + 0.14810397642748007459) * r +
                  0.68976733498510000455) * r + 1.6763848301838038494) * r +
                2.05319162663775882187) * r + 1.0);
    } else {
        r -= 5.0;
        val = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r +
                    0.0012426609473880784386) * r + 0.026532189526576123093) * r +
                  0.29656057182850489123) * r + 1.7848265399172913358) * r +
                5.4637849111641143699) * r + 6.6579046435011037772) /
              (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r +
                    1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
                  0.0148753612908506148525) * r + 0.13692988092273580531) * r +
                0.59983220655588793769) * r + 1.0);
    }
    return q < 0.0 ? -val : val;
}

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
