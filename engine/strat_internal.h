/* engine/strat_internal.h — helpers shared by the stratification sources
 * (ranking rows within groups). Not installed. */
#ifndef STRATA_STRAT_INTERNAL_H
#define STRATA_STRAT_INTERNAL_H

#include "strata/core.h"

#include <stddef.h>
#include <stdint.h>

typedef struct strat_rank {
    double risk;
    int32_t group;
    size_t row;
} strat_rank;

/* Rows sorted by group, risk descending, row ascending (n entries, free with
 * strata_free(ctx, r, n * sizeof *r)). Non-finite risk or bad group: EDATA. */
strata_status strat_rank_rows(strata_ctx *ctx, size_t n, const double *risk, const int32_t *group,
                              size_t n_groups, strat_rank **out);

#endif
