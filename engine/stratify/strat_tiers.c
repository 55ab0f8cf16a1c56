/* engine/stratify/strat_tiers.c — risk tiers (Kaiser-style pyramid by percentile or
 * absolute thresholds) and the shared ranking (group, risk descending, row
 * ascending) used by tiers and intervention lists. Invariant: ties in risk
 * are always broken by row, so tiers never depend on sort stability or
 * thread count. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <string.h>

void strata_tier_params_init(strata_tier_params *p)
{
    memset(p, 0, sizeof *p);
    p->mode = STRATA_TIER_PERCENTILE;
    p->n_cuts = 3;
    p->cut[0] = 0.005;
    p->cut[1] = 0.045;
    p->cut[2] = 0.15;
}

strata_status strata_tier_params_check(strata_ctx *ctx, const strata_tier_params *p)
{
    double sum = 0;
    if (p->mode != STRATA_TIER_PERCENTILE && p->mode != STRATA_TIER_ABSOLUTE)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: mode %d unknown", (int)p->mode);
    if (p->n_cuts < 1 || p->n_cuts > STRATA_MAX_TIERS - 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: %zu cuts, need 1..%d", p->n_cuts,
                           STRATA_MAX_TIERS - 1);
    for (size_t t = 0; t < p->n_cuts; t++) {
        if (p->mode == STRATA_TIER_PERCENTILE) {
            if (!(p->cut[t] > 0 && p->cut[t] < 1))
                return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: fraction %zu = %g outside (0, 1)",
                                   t + 1, p->cut[t]);
            sum += p->cut[t];
        } else if (!isfinite(p->cut[t]) || (t > 0 && !(p->cut[t] < p->cut[t - 1]))) {
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "tiers: threshold %zu = %g not finite and strictly descending",
                               t + 1, p->cut[t]);
        }
    }
    if (p->mode == STRATA_TIER_PERCENTILE && !(sum < 1.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: fractions sum to %g, must be < 1", sum);
    return STRATA_OK;
}

/* Descending sort key of a finite double: the IEEE bits mapped to an
 * unsigned order (negatives flipped), then complemented; -0 counts as +0. */
static uint64_t desc_key(double x)
{
    return ~strata_f64_key(x == 0 ? 0.0 : x);
}

/* Peak 32 bytes a row: the radix sort's keys and rows (twice each), then the
 * sorted rows beside the result (24 bytes a row); the sort's buffers are freed
 * before the result is allocated. */
strata_status strat_rank_rows(strata_ctx *ctx, size_t n, const double *risk, const int32_t *group,
                              size_t n_groups, strat_rank **out)
{
    strat_rank *r;
    uint64_t *key, *k2;
    size_t *row, *r2, *off, ng = group ? n_groups : 1, bytes;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(risk[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite", i + 1,
                               risk[i]);
        if (group && (group[i] < 0 || (size_t)group[i] >= n_groups))
            return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", i + 1,
                               (int)group[i], n_groups ? n_groups - 1 : 0);
    }
    if (n == 0) {
        *out = strata_calloc(ctx, 1, sizeof **out);
        return *out ? STRATA_OK : STRATA_ENOMEM;
    }
    /* 1. rows by risk descending (ties by row): radix sort of (key, row) */
    if (!strata_mul_ok(n, sizeof *r, &bytes))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "ranking %zu rows overflows", n);
    key = strata_alloc(ctx, n * sizeof *key);
    k2 = strata_alloc(ctx, n * sizeof *k2);
    row = strata_alloc(ctx, n * sizeof *row);
    r2 = strata_alloc(ctx, n * sizeof *r2);
    if (!key || !k2 || !row || !r2) {
        STRATA_FREE_ALL(ctx, key, k2, row, r2);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        key[i] = desc_key(risk[i]), row[i] = i;
    strata_radix_sort(n, key, row, k2, r2);
    STRATA_FREE_ALL(ctx, key, k2, r2);
    /* 2. stable counting sort by group keeps that order within each group */
    off = strata_calloc(ctx, ng + 1, sizeof *off);
    r = off ? strata_alloc(ctx, bytes) : NULL;
    if (r) {
        for (size_t i = 0; i < n; i++)
            off[(group ? (size_t)group[i] : 0) + 1]++;
        for (size_t g = 0; g < ng; g++)
            off[g + 1] += off[g];
        for (size_t k = 0; k < n; k++) {
            size_t i = row[k], g = group ? (size_t)group[i] : 0;
            strat_rank *x = &r[off[g]++];
            x->risk = risk[i];
            x->group = (int32_t)g;
            x->row = i;
        }
    }
    STRATA_FREE_ALL(ctx, off, row);
    if (!r)
        return STRATA_ENOMEM;
    *out = r;
    return STRATA_OK;
}

strata_status strata_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n,
                           const double *risk, const int32_t *group, size_t n_groups,
                           uint8_t *tier)
{
    strat_rank *r;
    STRATA_TRY(strata_tier_params_check(ctx, p));
    if (p->mode == STRATA_TIER_ABSOLUTE) {
        for (size_t i = 0; i < n; i++) {
            size_t t = 0;
            if (!isfinite(risk[i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite",
                                   i + 1, risk[i]);
            while (t < p->n_cuts && risk[i] < p->cut[t])
                t++;
            tier[i] = (uint8_t)(t + 1);
        }
        return STRATA_OK;
    }
    STRATA_TRY(strat_rank_rows(ctx, n, risk, group, n_groups, &r));
    for (size_t s = 0; s < n;) {
        size_t e = s, m, cum[STRATA_MAX_TIERS];
        double f = 0;
        while (e < n && r[e].group == r[s].group)
            e++;
        m = e - s;
        /* the top t tiers hold round_half_up(m * (f_1 + ... + f_t)) people */
        for (size_t t = 0; t < p->n_cuts; t++) {
            f += p->cut[t];
            cum[t] = (size_t)floor((double)m * f + 0.5);
        }
        for (size_t j = 0; j < m; j++) {
            size_t t = 0;
            while (t < p->n_cuts && j >= cum[t])
                t++;
            tier[r[s + j].row] = (uint8_t)(t + 1);
        }
        s = e;
    }
    strata_free(ctx, r, 0);
    return STRATA_OK;
}
