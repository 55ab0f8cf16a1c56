/* engine/model/model_internal.h — the model stage's handles: a strata_model is a
 * kind and the estimator's own model (models/glm, models/cox; models/elnet adds
 * its own), a strata_cox the Cox model behind strata/cox.h, and a cohort seen as
 * the estimators' column source. Invariant: engine/model reaches an estimator
 * only through its stage header (glm.h, cox.h), never its internals, and HDF5
 * only through engine/io/model_file.h. */
#ifndef STRATA_MODEL_INTERNAL_H
#define STRATA_MODEL_INTERNAL_H

#include "cox.h"
#include "glm.h"
#include "internal.h"
#include "strata/model.h"

typedef enum model_kind { MODEL_GLM = 0, MODEL_COX } model_kind;

struct strata_model {
    model_kind kind;
    glm_model *glm; /* MODEL_GLM */
    cox_model *cox; /* MODEL_COX */
};

/* The public Cox handle (strata/cox.h). */
struct strata_cox {
    cox_model *cox;
};

/* Wraps a fitted or loaded GLM (taken over, also on failure). */
strata_status model_wrap_glm(strata_ctx *ctx, glm_model *g, strata_model **out);
/* The cohort as a column source (engine/model/model_glm.c). */
void model_cohort_source(strata_cohort *c, glm_source *s);
/* Reads a model file and imports it by the record's kind: *out holds a GLM or
 * a Cox model (engine/model/model_io.c). want (MODEL_GLM, MODEL_COX, or -1 for
 * either): STRATA_EFORMAT naming path when the file holds another kind. */
strata_status model_load_kind(strata_ctx *ctx, const char *path, int want, strata_model **out);
/* Sets a Cox fit's provenance from the cohort: input_path, input_hash
 * ("sha256:<hex>"), strata_version (engine/model/model_cox.c). */
strata_status model_cox_provenance(strata_ctx *ctx, strata_cohort *cohort, cox_model *m);

#endif
