/* engine/model/model_cox.h — what the Cox files of the model stage share: the
 * strata_cox handle (the estimator's fit output, the formula as given, ties and
 * provenance) and the cohort as a column source. Invariant: the handle owns
 * everything it points to; model_cox_io.c writes and reads exactly these fields. */
#ifndef STRATA_MODEL_COX_H
#define STRATA_MODEL_COX_H

#include "cox_internal.h"
#include "strata/cox.h"

#define COX_NPROV 3
extern const char *const cox_prov_keys[COX_NPROV]; /* input_path, input_hash, strata_version */

struct strata_cox {
    cox_fit_out fo;         /* result, frozen formula (levels, knots), strata keys */
    char *formula;          /* "Surv(t, e) ~ ..." as given */
    char *weights;          /* case weights column or NULL */
    cox_ties ties;
    char *prov[COX_NPROV];
};

/* The cohort as the estimators' column source. */
void model_cox_source(strata_cohort *c, glm_source *s);

#endif
