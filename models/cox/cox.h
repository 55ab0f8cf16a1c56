/* models/cox/cox.h — the Cox model as the stages see it (mirrors glm.h): fit from
 * a column source, accessors in strata/cox.h's terms, a per-call binding to a
 * source for scoring at horizons, and export/import through the model record.
 * Invariant: a returned model is never written (but for provenance set before it
 * is shared), so several threads may score it at once, each with a binding. */
#ifndef STRATA_COX_MODEL_H
#define STRATA_COX_MODEL_H

#include "glm.h"
#include "internal.h"
#include "record.h"
#include "strata/cox.h"

#include <stddef.h>

typedef struct cox_model cox_model;     /* a fitted (or loaded) Cox model */
typedef struct cox_binding cox_binding; /* a model bound to one source's columns and levels */

/* The model kind in the record (STRATA_REC_KIND). */
#define COX_KIND "cox"
/* Rows per streamed chunk when scoring a whole source. */
#define COX_SCORE_CHUNK ((size_t)1 << 16)
/* Rows per scoring block (cox_score.c): blocks are scored alone, so any chunk of whole blocks gives the same bytes. */
#define COX_SCORE_BLOCK ((size_t)1024)

/* Fits p on the source's complete cases. On STRATA_ENOCONV *out holds the
 * partial fit; on any other error *out is NULL. */
strata_status cox_model_fit(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                            cox_model **out);
/* The complete-case design of a Cox formula (cox_internal.h), and a choice of
 * coefficients from it (p values into beta): the hook of a penalised fit. */
typedef struct cox_input cox_input;
typedef strata_status (*cox_beta_fn)(strata_ctx *ctx, void *ud, const cox_input *in, double *beta);
/* As cox_model_fit, with the coefficients from fn (models/elnet) in place of
 * Newton-Raphson; the rest of the model (frozen design, baseline hazard with p's
 * ties, concordance) as any fit's, standard errors NaN. */
strata_status cox_model_fit_beta(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                 cox_beta_fn fn, void *ud, cox_model **out);
void cox_model_free(strata_ctx *ctx, cox_model *m); /* accepts NULL */

/* ---- accessors (NULL-safe where they return pointers) -------------------- */
size_t cox_model_nterms(const cox_model *m);
const char *cox_model_term(const cox_model *m, size_t i);
const char *cox_model_formula(const cox_model *m);
const char *cox_model_time_column(const cox_model *m);
const char *cox_model_event_column(const cox_model *m);
const char *cox_model_strata_column(const cox_model *m);
void cox_model_coef(const cox_model *m, size_t i, double conf_level, strata_cox_coef *out);
void cox_model_summary(const cox_model *m, strata_cox_summary *out);
/* Provenance: input_path, input_hash, strata_version; NULL when unset. */
const char *cox_model_provenance(const cox_model *m, const char *key);
/* STRATA_EINVAL for an unknown key. */
strata_status cox_model_set_provenance(strata_ctx *ctx, cox_model *m, const char *key, const char *value);

/* ---- binding and scoring ------------------------------------------------- */
/* Binds the model to the source (levels per unseen; strata mapped by label or
 * value). The binding copies *src and reads m: both must outlive it. */
strata_status cox_bind(strata_ctx *ctx, const cox_model *m, const glm_source *src,
                       strata_unseen_policy unseen, cox_binding **out);
void cox_binding_free(strata_ctx *ctx, cox_binding *b); /* accepts NULL */
/* Rows a scoring chunk takes under the context's memory budget (docs/scale.md):
 * COX_SCORE_CHUNK without a budget; under one, the largest whole number of
 * 1,024-row scoring blocks whose buffers — the source columns the model reads,
 * the strata column, lp and nh risks, and `extra` doubles a row of the caller's —
 * take at most half the budget (at least one block). Scores do not depend on it. */
size_t cox_score_chunk(strata_ctx *ctx, const cox_binding *b, size_t nh, size_t extra);
/* Rows [row0, row0 + n): lp (n) and risk (n x nh, row-major) at the horizons;
 * see strata_cox_score. */
strata_status cox_score_rows_bound(strata_ctx *ctx, const cox_binding *b, size_t row0, size_t n,
                                   const double *horizons, size_t nh, double *lp, double *risk);

/* The model's variables (the cohort columns of the right-hand side, numbered
 * by first use; which of them design column j is made of) and rows
 * [row0, row0 + n) of its design, row-major n x nterms: the intervention
 * list's reasons, per variable as for a GLM (docs/stratify.md#reason-codes). */
size_t cox_model_nvars(const cox_model *m);
const char *cox_model_var(const cox_model *m, size_t v, int *is_factor);
size_t cox_model_term_vars(const cox_model *m, size_t j, size_t *vars, size_t max);
strata_status cox_design_rows_bound(strata_ctx *ctx, const cox_binding *b, size_t row0, size_t n,
                                    double *X);

/* ---- serialisation (docs/cox.md) ----------------------------------------- */
/* Appends the model to rec: kind, formula, ties, provenance, coefficients,
 * summary, frozen design, strata keys, baseline hazard per stratum. */
strata_status cox_model_export(strata_ctx *ctx, const cox_model *m, strata_record *rec);
/* Rebuilds a model from a record written by cox_model_export; STRATA_EFORMAT
 * naming `name` and the item when something is missing or does not match. */
strata_status cox_model_import(strata_ctx *ctx, const strata_record *rec, const char *name,
                               cox_model **out);

#endif
