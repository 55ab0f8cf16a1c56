/* engine/core/rng.c — the one random number generator of libstrata (synth, bootstrap
 * resamples, CV folds, SII): a counter-based stream keyed by (seed, row, stream);
 * the per-draw steps are inline in internal.h, the rest is here. Invariant: a draw
 * depends only on (seed, row, stream, k), never on threads or call order, and the
 * streams are the ones `strata synth` always drew, so cohorts keep their bytes. */
#include "internal.h"

#include <math.h>

strata_rng strata_rng_make(uint64_t seed, uint64_t row, uint64_t stream)
{
    strata_rng r;
    r.key = strata_mix64(strata_mix64(seed ^ 0x5851f42d4c957f2dULL) ^ strata_mix64(row + 1) ^
                         (stream * STRATA_RNG_GOLDEN));
    r.ctr = 0;
    return r;
}

/* Box–Muller on two (0, 1) uniforms: both values of the pair. */
void strata_rng_norm2(strata_rng *r, double *z0, double *z1)
{
    double u1 = strata_rng_unif(r), u2 = strata_rng_unif(r), rad = sqrt(-2.0 * log(u1));
    *z0 = rad * cos(6.283185307179586 * u2);
    *z1 = rad * sin(6.283185307179586 * u2);
}

size_t strata_rng_below(strata_rng *r, size_t n)
{
    return (size_t)(((unsigned __int128)strata_rng_next(r) * n) >> 64); /* multiply-shift */
}
