/* engine/stratify/strat_internal.h — helpers shared by the stratification sources
 * (ranking rows within groups). Not installed. */
#ifndef STRATA_STRAT_INTERNAL_H
#define STRATA_STRAT_INTERNAL_H

#include "strata/core.h"
#include "strata/stratify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct strat_rank {
    double risk;
    int32_t group;
    size_t row;
} strat_rank;

/* Rows sorted by group, risk descending, row ascending (n entries, free with
 * strata_free(ctx, r, n * sizeof *r)). Non-finite risk or bad group: EDATA. */
strata_status strat_rank_rows(strata_ctx *ctx, size_t n, const double *risk, const int32_t *group,
                              size_t n_groups, strat_rank **out);

/* SII in two parts so groups can run in parallel: validation (records the
 * error on ctx) and the computation on a caller-owned workspace of
 * strat_sii_ws_len(k, reps) doubles (no allocation, no ctx). */
strata_status strat_sii_check(strata_ctx *ctx, const strata_sii_params *p, size_t k,
                              const double *pop, const double *value, const double *se);
size_t strat_sii_ws_len(size_t k, size_t reps);
void strat_sii_core(const strata_sii_params *p, size_t k, const double *pop, const double *value,
                    const double *se, double *ws, strata_sii_result *out);


#endif
