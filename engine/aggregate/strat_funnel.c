/* engine/aggregate/strat_funnel.c — funnel-plot control limits for indirectly
 * standardised ratios O/E: exact Poisson limits, or additive random-effects
 * limits on log(O/E) with a DerSimonian-Laird tau^2 from winsorised or
 * truncated z-scores (Spiegelhalter 2005; FunnelPlotR). Pure functions of
 * their inputs: same units in, same limits out. */
#include "internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void strata_funnel_params_init(strata_funnel_params *p)
{
    p->od = STRATA_OD_NONE;
    p->trim = 0.1;
}

strata_status strata_funnel_params_check(strata_ctx *ctx, const strata_funnel_params *p)
{
    if (p->od != STRATA_OD_NONE && p->od != STRATA_OD_WINSORISE && p->od != STRATA_OD_SHMI)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "funnel: od method %d unknown", (int)p->od);
    if (!(p->trim >= 0 && p->trim < 0.5))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "funnel: trim %g outside [0, 0.5)", p->trim);
    return STRATA_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* R's quantile(type = 7) of sorted s[0..k-1]. */
static double quantile7(const double *s, size_t k, double q)
{
    double h = (double)(k - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= k)
        return s[k - 1];
    return s[i] + (h - (double)i) * (s[i + 1] - s[i]);
}

strata_status strata_funnel_fit(strata_ctx *ctx, const strata_funnel_params *p, size_t k,
                                const double *obs, const double *expected, strata_funnel *out)
{
    double *z, *zs, qlo = -INFINITY, qhi = INFINITY, sz2 = 0, sw = 0, sw2 = 0;
    size_t m = 0, used = 0;
    STRATA_TRY(strata_funnel_params_check(ctx, p));
    memset(out, 0, sizeof *out);
    out->od = p->od;
    if (p->od == STRATA_OD_NONE || k == 0)
        return STRATA_OK;
    z = strata_calloc(ctx, 2 * k, sizeof *z);
    if (!z)
        return STRATA_ENOMEM;
    zs = z + k;
    /* z_i = (log(O/E) - 0) / s_i with s_i = 1/sqrt(E_i); units with O = 0 or E = 0 skipped. */
    for (size_t i = 0; i < k; i++) {
        if (expected[i] > 0 && obs[i] > 0 && isfinite(expected[i]) && isfinite(obs[i]))
            z[m] = zs[m] = sqrt(expected[i]) * log(obs[i] / expected[i]), m++;
    }
    if (m >= 2) {
        qsort(zs, m, sizeof *zs, cmp_double);
        qlo = quantile7(zs, m, p->trim);
        qhi = quantile7(zs, m, 1.0 - p->trim);
    }
    m = 0;
    for (size_t i = 0; i < k; i++) {
        double zi, w;
        if (!(expected[i] > 0 && obs[i] > 0 && isfinite(expected[i]) && isfinite(obs[i])))
            continue;
        zi = z[m++];
        if (p->od == STRATA_OD_SHMI && (zi < qlo || zi > qhi))
            continue; /* truncation: the unit leaves phi and the weights */
        zi = fmin(fmax(zi, qlo), qhi);
        w = expected[i]; /* 1/s^2 */
        sz2 += zi * zi;
        sw += w;
        sw2 += w * w;
        used++;
    }
    strata_free(ctx, z, 2 * k * sizeof *z);
    out->k = used;
    if (used == 0)
        return STRATA_OK;
    out->phi = sz2 / (double)used;
    if ((double)used * out->phi > (double)used - 1.0 && sw - sw2 / sw > 0)
        out->tau2 = ((double)used * out->phi - ((double)used - 1.0)) / (sw - sw2 / sw);
    return STRATA_OK;
}

void strata_funnel_limits(const strata_funnel *f, double expected, double level, double *lo,
                          double *hi)
{
    if (!(expected > 0)) {
        *lo = *hi = NAN;
        return;
    }
    if (f && f->od != STRATA_OD_NONE && f->tau2 > 0) {
        double z = strata_qnorm(0.5 + 0.5 * level), s = sqrt(1.0 / expected + f->tau2);
        *lo = exp(-z * s);
        *hi = exp(z * s);
        return;
    }
    *lo = strata_qgamma(0.5 - 0.5 * level, expected) / expected;
    *hi = strata_qgamma(0.5 + 0.5 * level, expected + 1.0) / expected;
}

int strata_funnel_flag(const strata_funnel *f, double obs, double expected)
{
    double r, lo95, hi95, lo998, hi998;
    if (!(expected > 0) || !(obs >= 0))
        return 0;
    r = obs / expected;
    strata_funnel_limits(f, expected, 0.95, &lo95, &hi95);
    strata_funnel_limits(f, expected, 0.998, &lo998, &hi998);
    if (r > hi998)
        return 2;
    if (r > hi95)
        return 1;
    if (r < lo998)
        return -2;
    if (r < lo95)
        return -1;
    return 0;
}
