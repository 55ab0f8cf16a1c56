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
/* Runs fit on the cohort's rows as a column source: under MPI every rank
 * through a handle of its own, its slab read with collective parallel-HDF5
 * reads (docs/scale.md#mpi); with one process, through the cohort itself. */
typedef strata_status (*model_fit_fn)(strata_ctx *ctx, const glm_source *src, void *arg);
strata_status model_fit_rows(strata_ctx *ctx, strata_cohort *cohort, model_fit_fn fit, void *arg);
/* What an estimator's fit function gets through model_fit_rows: its
 * parameters and where its model goes. */
typedef struct model_fit_args {
    const void *p;
    void *out;
} model_fit_args;

/* A score file written chunk by chunk (engine/model/model_io.c): score()
 * fills the buffers with rows [r0, r0 + k), write() puts them in the file.
 * Under MPI chunk q is scored by rank q mod K and rank 0 writes each round's
 * chunks in row order (strata_comm_rounds), the buffers (row_bytes[i] a row;
 * NULL: not sent) travelling to it; with one process, in order. */
typedef struct model_chunks {
    strata_status (*score)(void *ud, size_t r0, size_t k);
    strata_status (*write)(void *ud, size_t r0, size_t k);
    void *ud;
    void *buf[3];
    size_t row_bytes[3];
} model_chunks;
/* st: this rank's status so far (agreed before the first chunk under MPI). */
strata_status model_write_chunks(strata_ctx *ctx, size_t n, size_t chunk, strata_status st,
                                 const model_chunks *mc);
/* Under MPI (the context's ranks; collective): chunk q of the GLM's scores of
 * cohort is scored by rank q mod K from its own reads, and rank 0's lp and
 * resp (either may be NULL; ignored on the other ranks) receive every row in
 * row order: the bytes of one process (engine/model/model_io.c). */
strata_status model_score_ranks(strata_ctx *ctx, const glm_model *m, strata_cohort *cohort,
                                strata_unseen_policy unseen, double *lp, double *resp);
/* Reads a model file and imports it by the record's kind: *out holds a GLM or
 * a Cox model (engine/model/model_io.c). want (MODEL_GLM, MODEL_COX, or -1 for
 * either): STRATA_EFORMAT naming path when the file holds another kind. */
strata_status model_load_kind(strata_ctx *ctx, const char *path, int want, strata_model **out);
/* Appends an estimator's own items to a model record (e.g. the elastic net's /elnet). */
typedef strata_status (*model_record_fn)(strata_ctx *ctx, const void *arg, strata_record *rec);
/* Writes m's GLM record, plus extra's items when extra is not NULL, to path
 * (engine/model/model_io.c); who names the public call in the NULL-argument error. */
strata_status model_save_glm(strata_ctx *ctx, const strata_model *m, model_record_fn extra, const void *arg,
                             const char *path, const char *who);
/* The SHA-256 (64 hex digits) of a fit's input for its provenance: the
 * context's input_hash when set (strata_ctx_set_input_hash: a hash the caller
 * already has, e.g. the run's manifest or the CLI supervisor's), else read and
 * hashed here (engine/model/model_io.c). */
strata_status model_input_hash(strata_ctx *ctx, const char *path, char hex[65]);
/* Sets a Cox fit's provenance from the cohort: input_path, input_hash
 * ("sha256:<hex>"), strata_version (engine/model/model_cox.c). */
strata_status model_cox_provenance(strata_ctx *ctx, strata_cohort *cohort, cox_model *m);

#endif
