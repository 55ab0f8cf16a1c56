/* engine/model/model_internal.h — the model stage's handle: a strata_model is a
 * kind and the estimator's own model (models/glm today; models/cox and
 * models/elnet add theirs), and a cohort seen as the estimators' column source.
 * Invariant: engine/model reaches an estimator only through its stage header
 * (glm.h), never its internals, and HDF5 only through engine/io/model_file.h. */
#ifndef STRATA_MODEL_INTERNAL_H
#define STRATA_MODEL_INTERNAL_H

#include "glm.h"
#include "internal.h"
#include "strata/model.h"

typedef enum model_kind { MODEL_GLM = 0 } model_kind;

struct strata_model {
    model_kind kind;
    glm_model *glm; /* MODEL_GLM */
};

/* Wraps a fitted or loaded GLM (taken over, also on failure). */
strata_status model_wrap_glm(strata_ctx *ctx, glm_model *g, strata_model **out);
/* The cohort as a column source (engine/model/model_glm.c). */
void model_cohort_source(strata_cohort *c, glm_source *s);

#endif
