/* engine/stratify/strat_internal.h — helpers shared by the stratification sources
 * (ranking rows within groups). Not installed. */
#ifndef STRATA_STRAT_INTERNAL_H
#define STRATA_STRAT_INTERNAL_H

#include "strata/core.h"
#include "strata/stratify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The ranking shared by tiers and intervention lists: rows in the order
 * (group, risk descending, row ascending), streamed in blocks through the one
 * external sort (engine/core/xsort.h) under half the context's memory budget,
 * or in memory when there is none or they fit (the same rows either way). */
typedef struct strat_ranking {
    struct strata_xsort *x;
    size_t n, n_groups;  /* n_groups: 1 when ungrouped */
    size_t *size;        /* rows in each group */
    uint64_t *key;       /* the current block: sort keys and rows */
    size_t *row;
} strat_ranking;

/* Ranks the source's rows (read twice in row order: checked and counted, then
 * pushed); skip_nan: rows whose risk is NaN are left out (not ranked, not
 * counted in size[]; the others keep their row numbers). Memory: the sort's
 * (32 bytes a row while sorting in memory, then 16; under a budget at most
 * half of it: engine/core/xsort.h), the group sizes and one block.
 * Non-finite risk or bad group: EDATA naming the row; budget below the
 * sort's floor: ENOMEM naming the sizes. */
strata_status strat_rank_source(strata_ctx *ctx, const strata_tier_source *src, strat_ranking *rk);
/* strata_tiers with skip_nan: a NaN risk gets tier 0 and is no part of the ranking. */
strata_status strat_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n, const double *risk,
                          const int32_t *group, size_t n_groups, int skip_nan, uint8_t *tier);
/* The next block of ranked rows (*rows valid until the next call); *got = 0 at the end. */
strata_status strat_rank_next(strata_ctx *ctx, strat_ranking *rk, const size_t **rows, size_t *got);
strata_status strat_rank_rewind(strata_ctx *ctx, strat_ranking *rk);
void strat_rank_close(strata_ctx *ctx, strat_ranking *rk);

/* SII in two parts so groups can run in parallel: validation (records the
 * error on ctx) and the computation on a caller-owned workspace of
 * strat_sii_ws_len(k, reps) doubles (no allocation, no ctx). */
strata_status strat_sii_check(strata_ctx *ctx, const strata_sii_params *p, size_t k,
                              const double *pop, const double *value, const double *se);
size_t strat_sii_ws_len(size_t k, size_t reps);
void strat_sii_core(const strata_sii_params *p, size_t k, const double *pop, const double *value,
                    const double *se, double *ws, strata_sii_result *out);

/* ---- per-group tables (strat_groups.c, strat_inequality.c) ---------------------- */
/* Exact sums of one cell: people, unscored, expected (sum risk), observed,
 * need, sum risk^2 (scored patients for all but n and u). */
typedef struct strat_cell {
    double n, u, e, o, w, e2;
} strat_cell;
void strat_cell_add(strat_cell *c, const strata_strat_input *in, size_t i, double need);

/* Columns of one n / n_unscored / n_observed / expected / mean risk / O/E block. */
typedef struct strat_block {
    int jn, ju, jo, je;
} strat_block;

/* Rows of in (row r0 + i + 1 in messages): EDATA naming the row and value. */
strata_status strat_check_input(strata_ctx *ctx, const strata_strat_input *in,
                                const int32_t *group, size_t n_groups, size_t r0);
/* A table with key column "group": one row per group + "ALL", the groups its members. */
strata_status strat_new_group_table(strata_ctx *ctx, const char *name, size_t n_groups,
                                    const char *const *group_names, strata_table **out);
strata_status strat_put(strata_ctx *ctx, strata_table *t, const char *name, strata_col_kind k,
                        int dec, int base, int den, int part_of, int grp, int *jo);
strata_status strat_derived(strata_ctx *ctx, strata_table *t, const char *name,
                            strata_recipe_op op, int a, int b, int c, int part, double mult,
                            double level, int dec, int *jo);
strata_status strat_fill(strata_ctx *ctx, strata_table *t, int j, const double *v, size_t stride,
                         size_t off);
strata_status strat_put_block(strata_ctx *ctx, const strata_group_params *p, strata_table *t,
                              const strata_strat_input *in, const strat_cell *c, size_t stride,
                              const char *sfx, int part_of, int grp, int with_unscored,
                              strat_block *b);

/* ---- the group tables from row blocks (strat_sums.c) ------------------------------- */
struct strat_sums_ops;
struct strata_group_sums {
    strata_group_kind kind;
    const struct strat_sums_ops *ops;
    strata_group_params p;
    strata_strat_input shape; /* presence and metadata of the inputs; n = rows in all */
    size_t G;                 /* groups (the table has G + 1 rows: ALL last) */
    int passes, pass;         /* passes the kind needs; the current one */
    size_t next;              /* the next row the current pass expects */
    void *st;                 /* the kind's sums */
};
/* One kind's sums: made (s->st), a block added in row order (its inputs
 * checked already), the table made from them, freed. */
typedef struct strat_sums_ops {
    strata_status (*init)(strata_ctx *ctx, strata_group_sums *s);
    void (*add)(strata_group_sums *s, int pass, const strata_strat_input *blk, const int32_t *group);
    strata_status (*table)(strata_ctx *ctx, strata_group_sums *s, const char *const *names,
                           strata_funnel *funnel, strata_table **out);
    void (*done)(strata_ctx *ctx, strata_group_sums *s);
} strat_sums_ops;
extern const strat_sums_ops strat_summary_ops, strat_c5_ops, strat_inequality_ops, strat_sii_ops;
/* The one-block call of the tables above: new, every pass on in, table. */
strata_status strat_sums_whole(strata_ctx *ctx, strata_group_kind kind, const strata_group_params *p,
                               const strata_strat_input *in, const int32_t *group,
                               size_t n_groups, const char *const *group_names,
                               strata_funnel *funnel, strata_table **out);

#endif
