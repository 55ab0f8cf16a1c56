/* engine/run/run_internal.h — pieces of `strata run` kept in their own files:
 * the listed patients' reasons (run_reasons.c). */
#ifndef STRATA_RUN_INTERNAL_H
#define STRATA_RUN_INTERNAL_H

#include "strata/strata.h"

/* The risks of rows [r0, r0 + b): filled into buf or pointed to (NaN = unscored). */
typedef strata_status (*run_risk_fn)(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *buf,
                                     const double **risk);

/* Reasons of the listed patients (docs/stratify.md#reason-codes): the k model
 * variables that raise each one's linear predictor most above the mean design
 * row of the scored patients, as text. The scored rows (n_scored of them) are
 * those whose risk (read through risk with ud, block by block) is not NaN;
 * sel[q] is the cohort row of list entry q. mem: the bytes its blocks may
 * take (0: blocks of 8,192 rows); the text is the same whatever the blocks.
 * The model is glm, or (glm NULL) the Cox model cox: its linear predictor.
 * On success *text holds n_sel * k strings (NULL where fewer reasons), freed
 * with strata_free(ctx, *text, 0); var and contrib (n_sel * k, or NULL) get
 * the variable index and its contribution. */
strata_status run_reasons(strata_ctx *ctx, const strata_model *glm, const strata_cox *cox,
                          strata_cohort *cohort, run_risk_fn risk, void *ud, size_t n_scored,
                          size_t mem, const size_t *sel, size_t n_sel, size_t k, char ***text, int32_t *var,
                          double *contrib);

#endif
