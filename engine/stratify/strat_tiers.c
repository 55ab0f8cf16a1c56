/* engine/stratify/strat_tiers.c — risk tiers (Kaiser-style pyramid by percentile or
 * absolute thresholds) and the shared ranking (group, risk descending, row
 * ascending) used by tiers and intervention lists, streamed in blocks.
 * Invariant: ties in risk are always broken by row, so tiers never depend on
 * sort stability, thread count or the memory budget. */
#include "internal.h"
#include "strat_internal.h"
#include "xsort.h"
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

#define RANK_BLOCK 4096 /* rows a block of the ranking stream */

/* Memory: the sort's (32 bytes a row while sorting in memory, then 16; under
 * a budget, at most half of it: engine/core/xsort.h), the group sizes and one
 * block. */
strata_status strat_rank_open(strata_ctx *ctx, size_t n, const double *risk, const int32_t *group,
                              size_t n_groups, int skip_nan, strat_ranking *rk)
{
    strata_status st;
    size_t m = 0;
    memset(rk, 0, sizeof *rk);
    for (size_t i = 0; i < n; i++) {
        if (skip_nan && isnan(risk[i]))
            continue;
        if (!isfinite(risk[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite", i + 1,
                               risk[i]);
        if (group && (group[i] < 0 || (size_t)group[i] >= n_groups))
            return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", i + 1,
                               (int)group[i], n_groups ? n_groups - 1 : 0);
        m++;
    }
    rk->n = m;
    rk->n_groups = group ? n_groups : 1;
    rk->size = strata_calloc(ctx, rk->n_groups + 1, sizeof *rk->size);
    rk->key = strata_alloc(ctx, RANK_BLOCK * sizeof *rk->key);
    rk->row = strata_alloc(ctx, RANK_BLOCK * sizeof *rk->row);
    if (!rk->size || !rk->key || !rk->row) {
        strat_rank_close(ctx, rk);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (!(skip_nan && isnan(risk[i])))
            rk->size[group ? (size_t)group[i] : 0]++;
    /* the rows kept are pushed with their own numbers: ascending, so the
     * order (group, risk descending, row) is that of the kept rows compacted */
    st = strata_xsort_begin(ctx, m, group, n_groups, strata_ctx_memory_budget(ctx) / 2,
                            "ranking the patients by risk", &rk->x);
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        if (!(skip_nan && isnan(risk[i])))
            st = strata_xsort_push(ctx, rk->x, desc_key(risk[i]), i);
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, rk->x);
    if (st != STRATA_OK)
        strat_rank_close(ctx, rk);
    return st;
}

strata_status strat_rank_next(strata_ctx *ctx, strat_ranking *rk, const size_t **rows, size_t *got)
{
    *rows = rk->row;
    return strata_xsort_read(ctx, rk->x, rk->key, rk->row, RANK_BLOCK, got);
}

strata_status strat_rank_rewind(strata_ctx *ctx, strat_ranking *rk)
{
    return strata_xsort_rewind(ctx, rk->x);
}

void strat_rank_close(strata_ctx *ctx, strat_ranking *rk)
{
    strata_xsort_free(ctx, rk->x);
    STRATA_FREE_ALL(ctx, rk->size, rk->key, rk->row);
    memset(rk, 0, sizeof *rk);
}

/* The percentile tiers of one group's ranked rows as they stream past: the
 * top t tiers hold round_half_up(m * (f_1 + ... + f_t)) people of its m. */
typedef struct tier_walk {
    size_t g, j, cum[STRATA_MAX_TIERS];
} tier_walk;

static void tier_group(const strata_tier_params *p, size_t m, size_t g, tier_walk *w)
{
    double f = 0;
    w->g = g;
    w->j = 0;
    for (size_t t = 0; t < p->n_cuts; t++) {
        f += p->cut[t];
        w->cum[t] = (size_t)floor((double)m * f + 0.5);
    }
}

/* Tiers of rows [0, n); with skip_nan a NaN risk is no part of the ranking
 * (tier 0), as if the other rows were ranked alone. */
strata_status strat_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n, const double *risk,
                          const int32_t *group, size_t n_groups, int skip_nan, uint8_t *tier)
{
    strat_ranking rk;
    tier_walk w = {SIZE_MAX, 0, {0}};
    strata_status st;
    STRATA_TRY(strata_tier_params_check(ctx, p));
    if (p->mode == STRATA_TIER_ABSOLUTE) {
        for (size_t i = 0; i < n; i++) {
            size_t t = 0;
            if (skip_nan && isnan(risk[i])) {
                tier[i] = 0;
                continue;
            }
            if (!isfinite(risk[i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite",
                                   i + 1, risk[i]);
            while (t < p->n_cuts && risk[i] < p->cut[t])
                t++;
            tier[i] = (uint8_t)(t + 1);
        }
        return STRATA_OK;
    }
    STRATA_TRY(strat_rank_open(ctx, n, risk, group, n_groups, skip_nan, &rk));
    for (size_t i = 0; skip_nan && i < n; i++)
        if (isnan(risk[i]))
            tier[i] = 0;
    for (;;) {
        const size_t *rows;
        size_t got;
        if ((st = strat_rank_next(ctx, &rk, &rows, &got)) != STRATA_OK || got == 0)
            break;
        for (size_t k = 0; k < got; k++) {
            size_t i = rows[k], g = group ? (size_t)group[i] : 0, t = 0;
            if (g != w.g)
                tier_group(p, rk.size[g], g, &w);
            while (t < p->n_cuts && w.j >= w.cum[t])
                t++;
            tier[i] = (uint8_t)(t + 1);
            w.j++;
        }
    }
    strat_rank_close(ctx, &rk);
    return st;
}

strata_status strata_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n,
                           const double *risk, const int32_t *group, size_t n_groups,
                           uint8_t *tier)
{
    return strat_tiers(ctx, p, n, risk, group, n_groups, 0, tier);
}
