/* engine/stratify/strat_tiers.c — risk tiers (Kaiser-style pyramid by percentile or
 * absolute thresholds) and the shared ranking (group, risk descending, row
 * ascending) used by tiers and intervention lists, streamed in blocks; the
 * rows come from row blocks (strata_tier_source; whole arrays are one block).
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

/* One block of rows: the source's risks and group codes (NULL: ungrouped). */
typedef struct rank_blk {
    double *rbuf;
    int32_t *gbuf;
    const double *risk;
    const int32_t *group;
} rank_blk;

static strata_status blk_read(strata_ctx *ctx, const strata_tier_source *src, size_t r0, size_t b,
                              rank_blk *k)
{
    k->risk = NULL;
    k->group = NULL;
    STRATA_TRY(src->read(ctx, src->ud, r0, b, k->rbuf, src->n_groups ? k->gbuf : NULL, &k->risk,
                         src->n_groups ? &k->group : NULL));
    if (!k->risk || (src->n_groups && !k->group))
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "tiers: rows %zu..%zu not read", r0 + 1, r0 + b);
    return STRATA_OK;
}

static size_t src_block(const strata_tier_source *src)
{
    return src->block && src->block < src->n ? src->block : src->n ? src->n : 1;
}

static strata_status blk_new(strata_ctx *ctx, const strata_tier_source *src, rank_blk *k)
{
    size_t b = src_block(src);
    memset(k, 0, sizeof *k);
    if (src->in_place)
        return STRATA_OK;
    k->rbuf = strata_alloc(ctx, b * sizeof *k->rbuf);
    k->gbuf = src->n_groups ? strata_alloc(ctx, b * sizeof *k->gbuf) : NULL;
    return k->rbuf && (k->gbuf || !src->n_groups) ? STRATA_OK : STRATA_ENOMEM;
}

static void blk_free(strata_ctx *ctx, rank_blk *k)
{
    STRATA_FREE_ALL(ctx, k->rbuf, k->gbuf);
}

/* Row r0 + i of a block ranked? EDATA naming a non-finite risk or a bad group. */
static strata_status rank_check(strata_ctx *ctx, const strata_tier_source *src, const rank_blk *k,
                                int grouped, size_t r0, size_t i, int *ranked)
{
    double x = k->risk[i];
    *ranked = !(src->skip_nan && isnan(x));
    if (!*ranked)
        return STRATA_OK;
    if (!isfinite(x))
        return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite", r0 + i + 1, x);
    if (grouped && k->group && (k->group[i] < 0 || (size_t)k->group[i] >= src->n_groups))
        return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", r0 + i + 1,
                           (int)k->group[i], src->n_groups ? src->n_groups - 1 : 0);
    return STRATA_OK;
}

/* The ranking from row blocks: a first pass checks the rows and counts each
 * group's, a second pushes them (their groups with them: no array of n) to
 * the external sort. */
strata_status strat_rank_source(strata_ctx *ctx, const strata_tier_source *src, strat_ranking *rk)
{
    strata_status st;
    size_t b = src_block(src), m = 0;
    rank_blk k = {NULL, NULL, NULL, NULL};
    memset(rk, 0, sizeof *rk);
    rk->n_groups = src->n_groups ? src->n_groups : 1;
    rk->size = strata_calloc(ctx, rk->n_groups + 1, sizeof *rk->size);
    rk->key = strata_alloc(ctx, RANK_BLOCK * sizeof *rk->key);
    rk->row = strata_alloc(ctx, RANK_BLOCK * sizeof *rk->row);
    st = rk->size && rk->key && rk->row ? blk_new(ctx, src, &k) : STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < src->n; r0 += b) {
        size_t nb = src->n - r0 < b ? src->n - r0 : b;
        st = blk_read(ctx, src, r0, nb, &k);
        for (size_t i = 0; st == STRATA_OK && i < nb; i++) {
            int ranked;
            if ((st = rank_check(ctx, src, &k, 1, r0, i, &ranked)) == STRATA_OK && ranked) {
                rk->size[k.group ? (size_t)k.group[i] : 0]++;
                m++;
            }
        }
    }
    rk->n = m;
    /* the rows kept are pushed with their own numbers: ascending, so the
     * order (group, risk descending, row) is that of the kept rows compacted */
    if (st == STRATA_OK)
        st = src->n_groups ? strata_xsort_begin_pushed(ctx, m, src->n_groups,
                                                       strata_ctx_memory_budget(ctx) / 2,
                                                       "ranking the patients by risk", &rk->x)
                           : strata_xsort_begin(ctx, m, NULL, 0, strata_ctx_memory_budget(ctx) / 2,
                                                "ranking the patients by risk", &rk->x);
    for (size_t r0 = 0; st == STRATA_OK && r0 < src->n; r0 += b) {
        size_t nb = src->n - r0 < b ? src->n - r0 : b;
        st = blk_read(ctx, src, r0, nb, &k);
        for (size_t i = 0; st == STRATA_OK && i < nb; i++) {
            if (src->skip_nan && isnan(k.risk[i]))
                continue;
            st = k.group ? strata_xsort_push_major(ctx, rk->x, k.group[i], desc_key(k.risk[i]), r0 + i)
                         : strata_xsort_push(ctx, rk->x, desc_key(k.risk[i]), r0 + i);
        }
    }
    blk_free(ctx, &k);
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, rk->x);
    if (st != STRATA_OK)
        strat_rank_close(ctx, rk);
    return st;
}

/* Whole arrays as one block (pointed to, not copied). */
typedef struct whole_src {
    const double *risk;
    const int32_t *group;
} whole_src;

static strata_status whole_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *rbuf,
                                int32_t *gbuf, const double **risk, const int32_t **group)
{
    const whole_src *w = ud;
    (void)ctx, (void)b, (void)rbuf, (void)gbuf;
    *risk = w->risk + r0;
    if (group)
        *group = w->group + r0;
    return STRATA_OK;
}

static void whole_source(size_t n, const double *risk, const int32_t *group, size_t n_groups,
                         int skip_nan, whole_src *w, strata_tier_source *src)
{
    memset(src, 0, sizeof *src);
    src->n = n;
    src->n_groups = group ? n_groups : 0;
    src->skip_nan = skip_nan;
    src->in_place = 1;
    src->read = whole_read;
    src->ud = w;
    w->risk = risk;
    w->group = group;
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

/* Percentile tiers from the ranking: the top t tiers of a group of m hold
 * round_half_up(m * (f_1 + ... + f_t)) people, so a row is below cut t when
 * its place in the ranking is at least that count, that is when its (key,
 * row) is at least the one at that place: each group's cut records are
 * found in one walk of the ranking (n_groups x n_cuts of them). */
typedef struct tier_cut {
    uint64_t key;
    size_t row;
    int set; /* 0: the group has fewer rows than the cut's count */
} tier_cut;

static strata_status tier_cuts(strata_ctx *ctx, const strata_tier_params *p, strat_ranking *rk,
                               tier_cut *cut)
{
    size_t g = SIZE_MAX, j = 0, cum[STRATA_MAX_TIERS];
    strata_status st;
    for (;;) {
        size_t got;
        if ((st = strata_xsort_read(ctx, rk->x, rk->key, rk->row, RANK_BLOCK, &got)) != STRATA_OK ||
            got == 0)
            return st;
        for (size_t k = 0; k < got; k++, j++) {
            while (g == SIZE_MAX || j == rk->size[g]) { /* the next group with rows */
                double f = 0;
                g = g == SIZE_MAX ? 0 : g + 1;
                j = 0;
                for (size_t t = 0; t < p->n_cuts; t++) {
                    f += p->cut[t];
                    cum[t] = (size_t)floor((double)rk->size[g] * f + 0.5);
                }
            }
            for (size_t t = 0; t < p->n_cuts; t++)
                if (cum[t] == j && !cut[g * p->n_cuts + t].set)
                    cut[g * p->n_cuts + t] = (tier_cut){rk->key[k], rk->row[k], 1};
        }
    }
}

/* The tier of row i (risk x, group g) from the cuts, or the thresholds. */
static uint8_t tier_of(const strata_tier_params *p, const tier_cut *cut, size_t g, double x, size_t i)
{
    size_t t = 0;
    if (p->mode == STRATA_TIER_ABSOLUTE) {
        while (t < p->n_cuts && x < p->cut[t])
            t++;
    } else {
        uint64_t key = desc_key(x);
        for (size_t c = 0; c < p->n_cuts; c++) {
            const tier_cut *b = &cut[g * p->n_cuts + c];
            t += b->set && (key > b->key || (key == b->key && i >= b->row));
        }
    }
    return (uint8_t)(t + 1);
}

/* whole: the tiers of all n rows in place, else block by block to src->write. */
static strata_status tiers_of_source(strata_ctx *ctx, const strata_tier_params *p,
                                     const strata_tier_source *src, uint8_t *whole)
{
    strat_ranking rk;
    tier_cut *cut = NULL;
    rank_blk k = {NULL, NULL, NULL, NULL};
    uint8_t *tier;
    size_t b = src_block(src);
    strata_status st = STRATA_OK;
    STRATA_TRY(strata_tier_params_check(ctx, p));
    memset(&rk, 0, sizeof rk);
    if (p->mode == STRATA_TIER_PERCENTILE) {
        STRATA_TRY(strat_rank_source(ctx, src, &rk));
        cut = strata_calloc(ctx, rk.n_groups * p->n_cuts, sizeof *cut);
        st = cut ? tier_cuts(ctx, p, &rk, cut) : STRATA_ENOMEM;
        strat_rank_close(ctx, &rk);
    }
    tier = st == STRATA_OK && !whole ? strata_alloc(ctx, b) : NULL;
    if (st == STRATA_OK)
        st = tier || whole ? blk_new(ctx, src, &k) : STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < src->n; r0 += b) {
        size_t nb = src->n - r0 < b ? src->n - r0 : b;
        uint8_t *t = whole ? whole + r0 : tier;
        st = blk_read(ctx, src, r0, nb, &k);
        for (size_t i = 0; st == STRATA_OK && i < nb; i++) {
            int ranked;
            if ((st = rank_check(ctx, src, &k, p->mode == STRATA_TIER_PERCENTILE, r0, i, &ranked)) ==
                STRATA_OK)
                t[i] = ranked ? tier_of(p, cut, k.group ? (size_t)k.group[i] : 0, k.risk[i], r0 + i) : 0;
        }
        if (st == STRATA_OK && !whole)
            st = src->write(ctx, src->ud, r0, nb, t);
    }
    blk_free(ctx, &k);
    STRATA_FREE_ALL(ctx, cut, tier);
    return st;
}

strata_status strata_tiers_source(strata_ctx *ctx, const strata_tier_params *p,
                                  const strata_tier_source *src)
{
    if (!src->read || !src->write)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: a source needs read and write");
    return tiers_of_source(ctx, p, src, NULL);
}

/* Tiers of rows [0, n); with skip_nan a NaN risk is no part of the ranking
 * (tier 0), as if the other rows were ranked alone. */
strata_status strat_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n, const double *risk,
                          const int32_t *group, size_t n_groups, int skip_nan, uint8_t *tier)
{
    whole_src w = {NULL, NULL};
    strata_tier_source src;
    whole_source(n, risk, group, n_groups, skip_nan, &w, &src);
    return tiers_of_source(ctx, p, &src, tier);
}

strata_status strata_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n,
                           const double *risk, const int32_t *group, size_t n_groups,
                           uint8_t *tier)
{
    return strat_tiers(ctx, p, n, risk, group, n_groups, 0, tier);
}
