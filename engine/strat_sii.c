/* engine/strat_sii.c — slope and relative index of inequality across ordered
 * deprivation quantiles (Low & Low 2004; PHEindicatormethods phe_sii):
 * population-weighted regression on cumulative-rank midpoints, CI by
 * simulating each quantile's value from N(value, se) with a seeded
 * xoshiro256** stream, so the same seed gives the same limits. */
#include "internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdlib.h>
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

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;
    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return res;
}

/* Standard normal by Box-Muller on (0, 1] uniforms; one value per call. */
static double rng_norm(rng *r)
{
    double u1 = ((double)(rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = (double)(rng_next(r) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Weighted least squares of y on (1, b) with weights a: beta0, beta1. */
static void wls(size_t k, const double *a, const double *b, const double *y, double *b0,
                double *b1)
{
    double s = 0, sb = 0, sbb = 0, sy = 0, sby = 0, det;
    for (size_t i = 0; i < k; i++) {
        s += a[i];
        sb += a[i] * b[i];
        sbb += a[i] * b[i] * b[i];
        sy += a[i] * y[i];
        sby += a[i] * b[i] * y[i];
    }
    det = s * sbb - sb * sb;
    *b0 = (sbb * sy - sb * sby) / det;
    *b1 = (s * sby - sb * sy) / det;
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

strata_status strata_sii(strata_ctx *ctx, const strata_sii_params *p, size_t k, const double *pop,
                         const double *value, const double *se, strata_sii_result *out)
{
    double *a, *b, *y, *sii_s, *rii_s, tot = 0, cum = 0, b0, b1, cv;
    size_t bytes;
    rng r;
    uint64_t sd;
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
        tot += pop[i];
    }
    if (!strata_mul_ok(3 * k + 2 * p->reps, sizeof(double), &bytes))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "sii: %zu repetitions overflow", p->reps);
    a = strata_alloc(ctx, bytes);
    if (!a)
        return STRATA_ENOMEM;
    b = a + k;
    y = b + k;
    sii_s = y + k;
    rii_s = sii_s + p->reps;
    /* a_i population share; b_i midpoint of the cumulative share. */
    for (size_t i = 0; i < k; i++) {
        a[i] = pop[i] / tot;
        b[i] = cum + 0.5 * a[i];
        cum += a[i];
    }
    wls(k, a, b, value, &b0, &b1);
    out->sii = b1 * p->multiplier;
    out->rii = (b0 + b1) / b0;
    if (p->multiplier < 0)
        out->rii = 1.0 / out->rii;
    sd = p->seed;
    for (int j = 0; j < 4; j++)
        r.s[j] = splitmix64(&sd);
    for (size_t rep = 0; rep < p->reps; rep++) {
        for (size_t i = 0; i < k; i++) {
            double v = rng_norm(&r) * se[i];
            if (p->scale == STRATA_SII_RATE)
                y[i] = exp(log(value[i]) + v);
            else if (p->scale == STRATA_SII_PROP)
                y[i] = 1.0 / (1.0 + exp(-(log(value[i] / (1.0 - value[i])) + v)));
            else
                y[i] = value[i] + v;
        }
        wls(k, a, b, y, &b0, &b1);
        sii_s[rep] = b1 * p->multiplier;
        rii_s[rep] = (b0 + b1) / b0;
        if (p->multiplier < 0)
            rii_s[rep] = 1.0 / rii_s[rep];
    }
    qsort(sii_s, p->reps, sizeof *sii_s, cmp_double);
    qsort(rii_s, p->reps, sizeof *rii_s, cmp_double);
    cv = p->level + 0.5 * (1.0 - p->level);
    out->sii_lo = sii_s[sim_pos(p->reps, 1.0 - cv)];
    out->sii_hi = sii_s[sim_pos(p->reps, cv)];
    out->rii_lo = rii_s[sim_pos(p->reps, 1.0 - cv)];
    out->rii_hi = rii_s[sim_pos(p->reps, cv)];
    strata_free(ctx, a, bytes);
    return STRATA_OK;
}
