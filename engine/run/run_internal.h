/* engine/run/run_internal.h — pieces of `strata run` kept in their own files:
 * the listed patients' reasons (run_reasons.c). */
#ifndef STRATA_RUN_INTERNAL_H
#define STRATA_RUN_INTERNAL_H

#include "strata/strata.h"

/* Reasons of the listed patients (docs/stratify.md#reason-codes): the k model
 * variables that raise each one's linear predictor most above the mean design
 * row of the scored patients, as text. scored[i] = 1 for the cohort rows that
 * were scored (n_scored of them); sel[q] is the cohort row of list entry q.
 * The model is glm, or (glm NULL) the Cox model cox: its linear predictor.
 * On success *text holds n_sel * k strings (NULL where fewer reasons), freed
 * with strata_free(ctx, *text, 0); var and contrib (n_sel * k, or NULL) get
 * the variable index and its contribution. */
strata_status run_reasons(strata_ctx *ctx, const strata_model *glm, const strata_cox *cox,
                          strata_cohort *cohort, const unsigned char *scored, size_t n_scored,
                          const size_t *sel, size_t n_sel, size_t k, char ***text, int32_t *var,
                          double *contrib);

#endif
