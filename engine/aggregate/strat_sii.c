/* engine/aggregate/strat_sii.c — slope and relative index of inequality across ordered
 * deprivation quantiles (Low & Low 2004; PHEindicatormethods phe_sii):
 * population-weighted regression on cumulative-rank midpoints, CI by
 * simulating each quantile's value from N(value, se) with the library's
 * counter-based RNG (one stream per repetition, keyed by the seed), so the
 * same seed gives the same limits. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <string.h>

void strata_sii_params_init(strata_sii_params *p)
{
    p->reps = 100000;
    p->seed = 20240601u;
    p->level = 0.95;
    p->multiplier = 1.0;
    p->scale = STRATA_SII_OTHER;
}

strata_status strata_sii_params_check(strata_ctx *ctx, const strata_sii_params *p)
{
    if (p->reps < 1000)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: reps %zu below the minimum 1000", p->reps);
    if (!(p->level >= 0.5 && p->level < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: level %g outside [0.5, 1)", p->level);
    if (!(p->multiplier != 0) || !isfinite(p->multiplier))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: multiplier %g must be finite and non-zero",
                           p->multiplier);
    if (p->scale != STRATA_SII_OTHER && p->scale != STRATA_SII_RATE && p->scale != STRATA_SII_PROP)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: scale %d unknown", (int)p->scale);
    return STRATA_OK;
}

/* k-th smallest (0-based) of a[0..n-1] by quickselect (median-of-three pivot,
 * Hoare partition); reorders a. Same value as sorting then indexing. */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
        double x = a[lo], y = a[mid], z = a[hi], piv, t;
        piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        while (i <= j) {
            while (a[i] < piv)
                i++;
            while (a[j] > piv)
                j--;
            if (i <= j) {
                t = a[i], a[i] = a[j], a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j && j < hi)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

/* R's round() (half to even) of a position, clamped to 1..reps, 0-based. */
static size_t sim_pos(size_t reps, double q)
{
    double r = nearbyint((double)reps * q);
    if (r < 1)
        r = 1;
    if (r > (double)reps)
        r = (double)reps;
    return (size_t)r - 1;
}

strata_status strat_sii_check(strata_ctx *ctx, const strata_sii_params *p, size_t k,
                              const double *pop, const double *value, const double *se)
{
    STRATA_TRY(strata_sii_params_check(ctx, p));
    if (k < 2)
        return STRATA_FAIL(ctx, STRATA_EDATA, "sii: %zu quantiles, need at least 2", k);
    for (size_t i = 0; i < k; i++) {
        if (!(pop[i] > 0) || !isfinite(value[i]) || !(se[i] >= 0))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "sii: quantile %zu: population %g, value %g, se %g invalid", i + 1,
                               pop[i], value[i], se[i]);
        if ((p->scale == STRATA_SII_RATE && !(value[i] > 0)) ||
            (p->scale == STRATA_SII_PROP && !(value[i] > 0 && value[i] < 1)))
            return STRATA_FAIL(ctx, STRATA_EDATA, "sii: quantile %zu: value %g outside the scale",
                               i + 1, value[i]);
    }
    return STRATA_OK;
}

size_t strat_sii_ws_len(size_t k, size_t reps)
{
    return 4 * k + 2 * reps;
}

void strat_sii_core(const strata_sii_params *p, size_t k, const double *pop, const double *value,
                    const double *se, double *ws, strata_sii_result *out)
{
    double *a = ws, *b = a + k, *m0 = b + k, *m1 = m0 + k, *sii_s = m1 + k, *rii_s = sii_s + p->reps;
    double tot = 0, cum = 0, b0 = 0, b1 = 0, cv, s = 0, sb = 0, sbb = 0, det;
    /* a_i population share; b_i midpoint of the cumulative share */
    for (size_t i = 0; i < k; i++)
        tot += pop[i];
    for (size_t i = 0; i < k; i++) {
        a[i] = pop[i] / tot;
        b[i] = cum + 0.5 * a[i];
        cum += a[i];
    }
    /* weighted least squares y = b0 + b1 b with weights a: beta = M y with
     * M = (X'AX)^-1 X'A, fixed across repetitions (rows m0, m1) */
    for (size_t i = 0; i < k; i++)
        s += a[i], sb += a[i] * b[i], sbb += a[i] * b[i] * b[i];
    det = s * sbb - sb * sb;
    for (size_t i = 0; i < k; i++) {
        m0[i] = a[i] * (sbb - sb * b[i]) / det;
        m1[i] = a[i] * (s * b[i] - sb) / det;
        b0 += m0[i] * value[i];
        b1 += m1[i] * value[i];
    }
    out->sii = b1 * p->multiplier;
    out->rii = (b0 + b1) / b0;
    if (p->multiplier < 0)
        out->rii = 1.0 / out->rii;
    for (size_t rep = 0; rep < p->reps; rep++) {
        strata_rng r = strata_rng_make(p->seed, rep, STRATA_STREAM_SII);
        double z[2] = {0, 0};
        b0 = b1 = 0;
        for (size_t i = 0; i < k; i++) {
            double v, yi;
            if (i % 2 == 0)
                strata_rng_norm2(&r, &z[0], &z[1]); /* both values of each Box-Muller pair */
            v = z[i % 2] * se[i];
            if (p->scale == STRATA_SII_RATE)
                yi = exp(log(value[i]) + v);
            else if (p->scale == STRATA_SII_PROP)
                yi = 1.0 / (1.0 + exp(-(log(value[i] / (1.0 - value[i])) + v)));
            else
                yi = value[i] + v;
            b0 += m0[i] * yi;
            b1 += m1[i] * yi;
        }
        sii_s[rep] = b1 * p->multiplier;
        rii_s[rep] = (b0 + b1) / b0;
        if (p->multiplier < 0)
            rii_s[rep] = 1.0 / rii_s[rep];
    }
    cv = p->level + 0.5 * (1.0 - p->level);
    out->sii_lo = select_kth(sii_s, p->reps, sim_pos(p->reps, 1.0 - cv));
    out->sii_hi = select_kth(sii_s, p->reps, sim_pos(p->reps, cv));
    out->rii_lo = select_kth(rii_s, p->reps, sim_pos(p->reps, 1.0 - cv));
    out->rii_hi = select_kth(rii_s, p->reps, sim_pos(p->reps, cv));
}

strata_status strata_sii(strata_ctx *ctx, const strata_sii_params *p, size_t k, const double *pop,
                         const double *value, const double *se, strata_sii_result *out)
{
    double *ws;
    size_t bytes;
    STRATA_TRY(strat_sii_check(ctx, p, k, pop, value, se));
    if (!strata_mul_ok(strat_sii_ws_len(k, p->reps), sizeof(double), &bytes))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "sii: %zu repetitions overflow", p->reps);
    ws = strata_alloc(ctx, bytes);
    if (!ws)
        return STRATA_ENOMEM;
    strat_sii_core(p, k, pop, value, se, ws, out);
    strata_free(ctx, ws, bytes);
    return STRATA_OK;
}
