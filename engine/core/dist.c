/* engine/core/dist.c — the one home of strata's distributions: normal and gamma
 * quantiles, exact Poisson intervals and O/E funnel limits (Spiegelhalter 2005),
 * and the normal / Student t tails of coefficient tests, without external
 * libraries. Invariant: every value is accurate to ~1e-12 relative against R's
 * qnorm/qgamma/qchisq/pt/pbeta (tests/test_stratify_stats.c, tests/test_glm_dist.c). */
#include "internal.h"
#include "dist_internal.h"
#include "strata/dist.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Wichura 1988, AS 241 (PPND16): full double precision. */
double strata_qnorm(double p)
{
    double q, r, v;
    if (!(p > 0.0 && p < 1.0))
        return p == 0.0 ? -INFINITY : p == 1.0 ? INFINITY : NAN;
    q = p - 0.5;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r +
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
        v = (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r +
                  0.24178072517745061177) * r + 1.27045825245236838258) * r +
                3.64784832476320460504) * r + 5.7694972214606914055) * r +
              4.6303378461565452959) * r + 1.42343711074968357734) /
            (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r +
                  0.0151986665636164571966) * r + 0.14810397642748007459) * r +
                0.68976733498510000455) * r + 1.6763848301838038494) * r +
              2.05319162663775882187) * r + 1.0);
    } else {
        r -= 5.0;
        v = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r +
                  0.0012426609473880784386) * r + 0.026532189526576123093) * r +
                0.29656057182850489123) * r + 1.7848265399172913358) * r +
              5.4637849111641143699) * r + 6.6579046435011037772) /
            (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r +
                  1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r +
                0.0148753612908506148525) * r + 0.13692988092273580531) * r +
              0.59983220655588793769) * r + 1.0);
    }
    return q < 0 ? -v : v;
}

/* P(a, x) by its series (x < a + 1) and Q(a, x) by Lentz's continued
 * fraction otherwise (Numerical Recipes 6.2); each tail is computed directly
 * where it is small so quantiles near 0 and 1 keep full relative accuracy. */
static void gamma_pq(double a, double x, double *P, double *Q)
{
    double lpre = a * log(x) - x - lgamma(a);
    if (x < a + 1.0) {
        double ap = a, del = 1.0 / a, sum = del;
        for (int it = 0; it < 100000; it++) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-17)
                break;
        }
        *P = sum * exp(lpre);
        *Q = 1.0 - *P;
    } else {
        double b = x + 1.0 - a, c = 1.0 / DBL_MIN, d = 1.0 / b, h = d;
        for (int i = 1; i < 100000; i++) {
            double an = -i * (i - a), del;
            b += 2.0;
            d = an * d + b;
            if (fabs(d) < DBL_MIN)
                d = DBL_MIN;
            c = b + an / c;
            if (fabs(c) < DBL_MIN)
                c = DBL_MIN;
            d = 1.0 / d;
            del = d * c;
            h *= del;
            if (fabs(del - 1.0) < 1e-16)
                break;
        }
        *Q = exp(lpre) * h;
        *P = 1.0 - *Q;
    }
}

double strata_pgamma_upper(double a, double x)
{
    double P, Q;
    if (!(a > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    gamma_pq(a, x, &P, &Q);
    return Q;
}

double strata_pgamma(double a, double x)
{
    double P, Q;
    if (!(a > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0.0;
    if (isinf(x))
        return 1.0;
    gamma_pq(a, x, &P, &Q);
    return P;
}

/* Inverse of P(a, .): Wilson-Hilferty (or small-x series) start, then Newton
 * on f = P - p (computed as (1-p) - Q in the upper half), kept inside a
 * bracket that shrinks with every evaluation; bisection when Newton leaves it. */
double strata_qgamma(double p, double a)
{
    double x, lo = 0.0, hi = INFINITY, z, t;
    if (!(a > 0) || !(p >= 0 && p <= 1))
        return NAN;
    if (p == 0)
        return 0.0;
    if (p == 1)
        return INFINITY;
    z = strata_qnorm(p);
    t = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * sqrt(a));
    x = a * t * t * t;
    if (!(x > 0) || p < 0.05)
        x = fmax(x > 0 ? x : 0, exp((log(p) + lgamma(a + 1.0)) / a));
    for (int it = 0; it < 400; it++) {
        double P, Q, f, dens, xn;
        gamma_pq(a, x, &P, &Q);
        f = p <= 0.5 ? P - p : (1.0 - p) - Q;
        if (f == 0)
            return x;
        if (f < 0)
            lo = x;
        else
            hi = x;
        dens = exp((a - 1.0) * log(x) - x - lgamma(a));
        xn = dens > 0 ? x - f / dens : NAN;
        if (!(xn > lo && xn < hi))
            xn = isinf(hi) ? 2.0 * x + 1.0 : 0.5 * (lo + hi);
        if (fabs(xn - x) <= 4e-16 * x)
            return xn;
        x = xn;
    }
    return x;
}

double strata_qchisq(double p, double df)
{
    return 2.0 * strata_qgamma(p, 0.5 * df);
}

strata_status strata_poisson_ci(strata_ctx *ctx, double obs, double level, double *lo, double *hi)
{
    double alpha;
    if (!(obs >= 0) || isinf(obs))
        return STRATA_FAIL(ctx, STRATA_EDATA, "poisson_ci: observed count %g is not >= 0", obs);
    if (!(level > 0 && level < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "poisson_ci: level %g outside (0, 1)", level);
    alpha = 1.0 - level;
    *lo = obs > 0 ? strata_qgamma(0.5 * alpha, obs) : 0.0;
    *hi = strata_qgamma(1.0 - 0.5 * alpha, obs + 1.0);
    return STRATA_OK;
}

void strata_byar_ci(double obs, double level, double *lo, double *hi)
{
    double z = strata_qnorm(0.5 + 0.5 * level), o1 = obs + 1.0;
    *lo = obs > 0 ? obs * pow(1.0 - 1.0 / (9.0 * obs) - z / (3.0 * sqrt(obs)), 3) : 0.0;
    *hi = o1 * pow(1.0 - 1.0 / (9.0 * o1) + z / (3.0 * sqrt(o1)), 3);
}

strata_status strata_oe_ci(strata_ctx *ctx, double obs, double expected, double level,
                           double *ratio, double *lo, double *hi)
{
    if (!(expected > 0) || isinf(expected))
        return STRATA_FAIL(ctx, STRATA_EDATA, "oe_ci: expected %g is not > 0", expected);
    STRATA_TRY(strata_poisson_ci(ctx, obs, level, lo, hi));
    *ratio = obs / expected;
    *lo /= expected;
    *hi /= expected;
    return STRATA_OK;
}

void strata_oe_log_ci(double ratio, double obs, double n, double level, double *lo, double *hi)
{
    int binary = n > 0;
    double z = strata_qnorm(0.5 + 0.5 * level), s;
    *lo = *hi = NAN;
    if (!(obs > 0) || (binary && !(n >= obs)))
        return;
    s = binary ? sqrt(1.0 / obs - 1.0 / n) : sqrt(1.0 / obs);
    *lo = ratio * exp(-z * s);
    *hi = ratio * exp(z * s);
}

/* ---- tail probabilities of coefficient tests (dist_internal.h) -------------- */

double strata_pnorm_upper2(double z)
{
    return erfc(fabs(z) / M_SQRT2);
}

/* One step of the modified Lentz algorithm with partial numerator aa: updates
 * c and d and returns the factor d c that multiplies the fraction's value. */
static double lentz_step(double aa, double *c, double *d)
{
    const double tiny = 1e-300;
    *d = 1 + aa * *d;
    if (fabs(*d) < tiny)
        *d = tiny;
    *c = 1 + aa / *c;
    if (fabs(*c) < tiny)
        *c = tiny;
    *d = 1 / *d;
    return *d * *c;
}

/* Continued fraction for the incomplete beta (modified Lentz; Numerical Recipes 6.4). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap, h;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m, del;
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &c, &d);
        del = lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), &c, &d);
        h *= del;
        if (fabs(del - 1) < 1e-16)
            break;
    }
    return h;
}

double strata_pbeta(double x, double a, double b)
{
    double lbt;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

double strata_pt_upper2(double t, double df)
{
    if (!isfinite(t))
        return t != t ? t : 0;
    if (!(df > 0))
        return NAN;
    return strata_pbeta(df / (df + t * t), df / 2, 0.5);
}
