/* engine/io/model_file.h — the model file and the score file, the model stage's
 * only way to HDF5: a model file is a model record (engine/core/record.h) under
 * the strata-model schema (docs/model-format.md), stored by item type, knowing no
 * model. Invariant: published atomically; score files 0600, model files 0644. */
#ifndef STRATA_MODEL_FILE_H
#define STRATA_MODEL_FILE_H

#include "internal.h"
#include "record.h"

#include <stdint.h>

/* Writes rec as a model file at path: schema attributes, then every item in
 * order (TEXT as root attributes, arrays as datasets at their paths). */
strata_status strata_model_file_write(strata_ctx *ctx, const strata_record *rec, const char *path);
/* Reads a model file into rec (empty on entry): every string root attribute as
 * a TEXT item, every dataset as an array item. STRATA_EFORMAT naming path when
 * it is not HDF5 or not a strata model file, STRATA_EIO when it cannot be opened. */
strata_status strata_model_file_read(strata_ctx *ctx, const char *path, strata_record *rec);

/* SHA-256 of the file at path as 64 hex digits, read through buf (size
 * bytes), on no context, so a thread can hash an input while the caller
 * fits (engine/model/model_glm.c); on failure *err says why (engine/io/hash.c;
 * strata_file_sha256 is this on a context). */
strata_status strata_sha256_file_buf(const char *path, unsigned char *buf, size_t size, char out[65],
                                     const char **err);

/* A score file being written: "<path>" as HDF5 (.h5/.hdf5: datasets patient_id
 * when with_id, linear_predictor, response) or CSV (.csv), nrows rows. */
typedef struct strata_score_file strata_score_file;
/* STRATA_EINVAL for another extension. attrs: NULL-terminated key, value pairs
 * written as HDF5 root attributes after schema = "strata-scores" (CSV: unused). */
strata_status strata_score_file_open(strata_ctx *ctx, const char *path, size_t nrows, int with_id,
                                     const char *const *attrs, strata_score_file **out);
/* Rows [r0, r0 + k): id (when with_id), lp, resp. CSV writes NA,NA for a NaN lp. */
strata_status strata_score_file_write(strata_ctx *ctx, strata_score_file *sf, size_t r0, size_t k,
                                      const int64_t *id, const double *lp, const double *resp);
/* A score file of named float64 value columns (cols[ncols], 1..STRATA_SCORE_MAXCOLS),
 * after patient_id when with_id; meaning[c] (or meaning NULL) becomes an HDF5
 * attribute of column c. CSV writes NA for each NaN value. */
#define STRATA_SCORE_MAXCOLS 17
strata_status strata_score_file_open_cols(strata_ctx *ctx, const char *path, size_t nrows, int with_id,
                                          const char *const *attrs, const char *const *cols,
                                          const char *const *meaning, size_t ncols, strata_score_file **out);
/* Rows [r0, r0 + k): id (when with_id) and vals, k x ncols row-major. */
strata_status strata_score_file_write_cols(strata_ctx *ctx, strata_score_file *sf, size_t r0, size_t k,
                                           const int64_t *id, const double *vals);
/* Closes; publishes the file when st is STRATA_OK, else removes it. Returns st,
 * or the first error of closing and publishing. Accepts NULL (returns st). */
strata_status strata_score_file_close(strata_ctx *ctx, strata_score_file *sf, strata_status st);

#endif
