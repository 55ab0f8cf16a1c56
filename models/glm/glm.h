/* models/glm/glm.h — the GLM as the stages see it: a column source, fit, a
 * per-call binding of a model to a source's columns for scoring and design
 * rows, accessors, and export/import through the model record (record.h).
 * Invariant: a returned model is never written (but for provenance set before
 * it is shared), so several threads may score it at once, each with a binding. */
#ifndef STRATA_GLM_H
#define STRATA_GLM_H

#include "internal.h"
#include "record.h"
#include "strata/cohort.h"
#include "strata/model.h"

#include <stddef.h>

/* ---- column source ----------------------------------------------------- */
typedef struct glm_source {
    void *ud;
    const char *name; /* file name for messages */
    size_t nrows;
    /* Finds a column; STRATA_ESPEC naming it when absent. */
    strata_status (*find)(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                          const strata_column_info **info);
    /* Rows [row0, row0+n) as doubles, NA -> NaN, categorical codes as doubles. */
    strata_status (*read_f64)(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n,
                              double *out);
    /* Optional (NULL: nothing to do). Across MPI ranks a source's reads are
     * collective: every rank makes the same reads in the same order. After
     * this call they are this rank's own (docs/scale.md#mpi: a rank streaming
     * its blocks under the memory budget reads them when it needs them). */
    strata_status (*own_reads)(strata_ctx *ctx, void *ud);
} glm_source;

typedef struct glm_model glm_model;     /* a fitted (or loaded) GLM */
typedef struct glm_binding glm_binding; /* a model bound to one source's columns and levels */

/* Rows per streamed chunk when scoring a whole source. */
#define GLM_SCORE_CHUNK ((size_t)1 << 19)
/* The model kind in the record (STRATA_REC_KIND). */
#define GLM_KIND "glm"
/* The model file's schema_version when the covariance is in block form
 * (docs/model-format.md); other GLM files are version 1. */
#define GLM_SCHEMA_BVCOV "2"

/* ---- fit ---------------------------------------------------------------- */
/* Fits p's formula to the source. On STRATA_ENOCONV *out holds the partial fit
 * (its summary says converged = 0); on any other error *out is NULL. */
strata_status glm_fit(strata_ctx *ctx, const glm_source *src, const strata_glm_params *p,
                      glm_model **out);
void glm_model_free(strata_ctx *ctx, glm_model *m); /* accepts NULL */

/* ---- accessors ---------------------------------------------------------- */
size_t glm_model_nterms(const glm_model *m);
const char *glm_model_term(const glm_model *m, size_t i); /* NULL when i >= nterms */
void glm_model_coef(const glm_model *m, size_t i, strata_coef *out);
const double *glm_model_vcov(const glm_model *m);
void glm_model_summary(const glm_model *m, strata_fit_summary *out);
const char *glm_model_weights(const glm_model *m); /* prior-weights column, or NULL */
/* The model's variables (glm_vars.c; strata_model_nvars in strata/model.h):
 * source columns numbered by first use in the design; the variables design
 * column j is a product of (at most max written, the count returned). */
size_t glm_model_nvars(const glm_model *m);
const char *glm_model_var(const glm_model *m, size_t v, int *is_factor);
size_t glm_model_term_vars(const glm_model *m, size_t j, size_t *vars, size_t max);
/* Provenance attribute (strata_model_provenance's keys), or NULL. */
const char *glm_model_provenance(const glm_model *m, const char *key);
/* Sets a provenance attribute (before the model is shared); STRATA_EINVAL for an
 * unknown key. */
strata_status glm_model_set_provenance(strata_ctx *ctx, glm_model *m, const char *key,
                                       const char *value);

/* ---- binding and scoring ------------------------------------------------ */
/* Binds the model to the source's columns: finds each column the model reads,
 * checks numeric vs categorical and maps the source's level codes onto the
 * model's levels (unseen ones per policy). The binding copies *src and reads
 * m: both must outlive it. m is only read, so several bindings may score one
 * model concurrently. */
strata_status glm_bind(strata_ctx *ctx, const glm_model *m, const glm_source *src,
                       strata_unseen_policy unseen, glm_binding **out);
void glm_binding_free(strata_ctx *ctx, glm_binding *b); /* accepts NULL */
/* Scores rows [row0, row0 + n) of the bound source: lp = linear predictor,
 * resp = inverse link (either may be NULL); rows with a missing model value get
 * NaN. Reads on the calling thread, computes fixed row blocks in parallel; the
 * bytes do not depend on the thread count. */
strata_status glm_score_rows(strata_ctx *ctx, const glm_binding *b, size_t row0, size_t n,
                             double *lp, double *resp);
/* Rows per chunk when scoring a whole source: GLM_SCORE_CHUNK, or under the
 * context's memory budget (strata_ctx_memory_budget) the largest whole number
 * of the model's row blocks whose buffers — the source columns the model reads
 * and `extra` more doubles a row (a caller's per-chunk outputs) — take at most
 * half of the budget left after each thread's block workspace; at least one
 * block. Whole blocks keep the blocks, so the bytes, of the unlimited run
 * (docs/scale.md). */
size_t glm_score_chunk(strata_ctx *ctx, const glm_binding *b, size_t extra);
/* Binds, then scores every row of the source in chunks of glm_score_chunk. */
strata_status glm_score(strata_ctx *ctx, const glm_model *m, const glm_source *src,
                        strata_unseen_policy unseen, double *lp, double *resp);
/* The design of rows [row0, row0 + n), row-major n x nterms into X, exactly as
 * scoring builds it; rows with a missing model value hold NaN. */
strata_status glm_design_rows(strata_ctx *ctx, const glm_binding *b, size_t row0, size_t n,
                              double *X);

/* ---- serialisation (docs/model-format.md) ------------------------------- */
/* Appends the model to rec: kind, spec, coefficients, summary, provenance. */
strata_status glm_model_export(strata_ctx *ctx, const glm_model *m, strata_record *rec);
/* Rebuilds a model from a record written by glm_model_export; STRATA_EFORMAT
 * naming `name` (the file) and the item when something is missing or does not
 * match the formula. */
strata_status glm_model_import(strata_ctx *ctx, const strata_record *rec, const char *name,
                               glm_model **out);

#endif
