/* strata/model.h — generalised linear risk models: fit a formula to a cohort by
 * IRLS, read the coefficient table and fit summary, save/load the model file
 * (HDF5, docs/model-format.md) and score a cohort. Invariant: the same cohort
 * and parameters give byte-identical coefficients whatever the thread count,
 * save -> load -> score gives the same bytes as scoring the fitted model, and
 * a returned model is never modified (scoring it is safe from several threads). */
#ifndef STRATA_MODEL_H
#define STRATA_MODEL_H

#include "strata/cohort.h"
#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GLM family with its canonical strata link. */
typedef enum strata_family {
    STRATA_FAMILY_BINOMIAL = 0, /* logit link, variance mu(1-mu) */
    STRATA_FAMILY_POISSON = 1,  /* log link, variance mu */
    STRATA_FAMILY_GAMMA = 2,    /* log link, variance mu^2 */
    STRATA_FAMILY_GAUSSIAN = 3  /* identity link, variance 1 */
} strata_family;

/* "binomial", "poisson", "gamma", "gaussian". */
STRATA_API const char *strata_family_name(strata_family f);
/* Case-insensitive parse; STRATA_EINVAL naming the value when unknown. */
STRATA_API strata_status strata_family_parse(strata_ctx *ctx, const char *name, strata_family *out);

typedef enum strata_na_action {
    STRATA_NA_COMPLETE_CASES = 0, /* drop rows with a missing value in any model column */
    STRATA_NA_FAIL = 1            /* a missing value is STRATA_EDATA naming column and row */
} strata_na_action;

typedef enum strata_unseen_policy {
    STRATA_UNSEEN_ERROR = 0,       /* a category level the model never saw is STRATA_EDATA */
    STRATA_UNSEEN_TO_REFERENCE = 1 /* score it as the reference level (all dummies 0) */
} strata_unseen_policy;

/* How an IRLS pass treats factor main effects (docs/glm.md, "Categorical-aware pass"). */
typedef enum strata_glm_pass {
    STRATA_GLM_PASS_AUTO = 0,   /* categorical-aware when the factor main effects have >= 2 columns */
    STRATA_GLM_PASS_DENSE = 1,  /* every design column dense (one-hot dummies) */
    STRATA_GLM_PASS_FACTOR = 2  /* categorical-aware whenever there is a factor main effect */
} strata_glm_pass;

typedef struct strata_glm_params {
    strata_family family;        /* default binomial */
    const char *formula;         /* required: "y ~ a + b + ..." (docs/glm.md) */
    const char *weights;         /* prior (case) weights column, or NULL */
    double epsilon;              /* convergence: |dev - dev_old| / (|dev| + 0.1) < epsilon; 1e-8 */
    int max_iter;                /* IRLS iteration cap; 25 */
    strata_na_action na_action;  /* default complete cases */
    strata_unseen_policy unseen; /* used when scoring; stored in the model */
    size_t block_rows;           /* rows per block (fixed, thread-independent); 8192 */
    int warm_start;              /* 1 (default): with >= 64 blocks, start the full-data
                                    IRLS from a fit on every 8th block (docs/glm.md);
                                    0: R's start on all rows */
    strata_glm_pass pass;        /* default STRATA_GLM_PASS_AUTO; same coefficients to
                                    rounding either way */
    size_t parallel_min_np;      /* a pass below this n * p runs on one thread; 0 (default):
                                    the measured threshold (docs/glm.md); 1: always the
                                    context's thread count */
    int final_gram;              /* 0 (default): an iteration expected to converge (R's
                                    start, in memory) runs its pass without the Gram, which
                                    the covariance never uses, and again with it if it does
                                    not converge (docs/glm.md); 1: every pass forms its
                                    Gram; -1: every iteration tries first without (tests).
                                    The same bytes whichever */
} strata_glm_params;

STRATA_API void strata_glm_params_init(strata_glm_params *p);
/* STRATA_EINVAL naming the bad field. */
STRATA_API strata_status strata_glm_params_check(strata_ctx *ctx, const strata_glm_params *p);

typedef struct strata_model strata_model;

/* Fits the model. On STRATA_ENOCONV *out still holds the partial fit (its
 * summary says converged = 0); on any other error *out is NULL. */
STRATA_API strata_status strata_glm_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_glm_params *p,
                             strata_model **out);
STRATA_API void strata_model_free(strata_ctx *ctx, strata_model *m); /* accepts NULL */

/* One row of the coefficient table. Aliased coefficients (R's NA) have
 * aliased = 1 and NaN in every number. */
typedef struct strata_coef {
    double estimate, std_error, statistic, p_value, conf_low, conf_high;
    int aliased;
} strata_coef;

STRATA_API size_t strata_model_nterms(const strata_model *m);     /* coefficients, incl. aliased */
STRATA_API const char *strata_model_term(const strata_model *m, size_t i); /* R-style name */
STRATA_API void strata_model_coef(const strata_model *m, size_t i, strata_coef *out);
/* Unscaled-by-nothing covariance of the estimable coefficients: p x p row-major,
 * dispersion included, NaN rows/columns for aliased terms. A GLM with a
 * many-level factor keeps it in block form (docs/model-format.md, schema
 * version 2): the matrix is then built on the first call (safe from several
 * threads at once), and NULL is returned when memory runs out. */
STRATA_API const double *strata_model_vcov(const strata_model *m);

typedef struct strata_fit_summary {
    strata_family family;
    const char *formula;
    double deviance, null_deviance, aic, dispersion;
    double df_residual, df_null;
    int rank;          /* estimable coefficients */
    int iterations;
    size_t n_used;     /* complete-case rows fitted */
    size_t n_dropped;  /* rows dropped for missing values */
    int converged;
    int t_statistic;   /* 1: t statistics with df_residual (gamma, gaussian); 0: z */
} strata_fit_summary;

STRATA_API void strata_model_summary(const strata_model *m, strata_fit_summary *out);
/* The prior-weights column the model was fitted with, or NULL. */
STRATA_API const char *strata_model_weights(const strata_model *m);
/* Provenance string attribute ("input_path", "input_hash" = "sha256:<64 hex>" of
 * the cohort file, "created", "strata_version", "blas_config", "n_rows"); NULL
 * when absent. */
STRATA_API const char *strata_model_provenance(const strata_model *m, const char *key);

/* Model file (HDF5, docs/model-format.md). save publishes atomically, mode 0644. */
STRATA_API strata_status strata_model_save(strata_ctx *ctx, const strata_model *m, const char *path);
STRATA_API strata_status strata_model_load(strata_ctx *ctx, const char *path, strata_model **out);

/* Scores every row of the cohort (cohort order): lp[i] = linear predictor,
 * resp[i] = inverse link (probability, expected count or cost). Rows with a
 * missing model column get NaN. Either output may be NULL. Arrays hold nrows.
 * The model is only read: several threads may score one model at once, each
 * with its own context and cohort handle. With MPI ranks on the context
 * (strata_mpi_attach) the call is collective: every rank scores its chunks
 * and rank 0's arrays receive every row, the bytes of one process; the other
 * ranks may pass NULL (docs/scale.md#mpi). */
STRATA_API strata_status strata_score(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                           strata_unseen_policy unseen, double *lp, double *resp);
/* A receiver of scores, chunk by chunk in row order: rows [row0, row0 + n),
 * their linear predictors and responses (a Cox model's: n x nh risks). A
 * status other than STRATA_OK stops the scoring with it. */
typedef strata_status (*strata_score_sink_fn)(strata_ctx *ctx, void *ud, size_t row0, size_t n, const double *lp,
                                              const double *resp);
/* strata_score handing each chunk to sink instead of filling whole arrays:
 * the same bits, no column of n rows held. With MPI ranks the call is
 * collective and rank 0's sink receives every chunk in row order (the other
 * ranks' sink may be NULL). */
STRATA_API strata_status strata_score_sink(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                           strata_unseen_policy unseen, strata_score_sink_fn sink, void *ud);

/* A scorer: a GLM bound to a cohort once, scoring row ranges on demand in the
 * chunks strata_score takes under the context's memory budget (whole blocks;
 * the chunk's rows allow for about six more doubles a row beside the model's
 * columns), so every row gets strata_score's bits; the last chunk scored is
 * kept, so ranges read in row order score each row once. For use without a
 * whole column of scores (strata_evaluate_scorer). One process: under MPI ranks
 * each scores alone. lp or resp may be NULL. */
typedef struct strata_scorer strata_scorer;
STRATA_API strata_status strata_scorer_open(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                            strata_unseen_policy unseen, strata_scorer **out);
STRATA_API strata_status strata_scorer_rows(strata_ctx *ctx, strata_scorer *s, size_t row0, size_t n, double *lp,
                                            double *resp);
STRATA_API void strata_scorer_free(strata_ctx *ctx, strata_scorer *s); /* accepts NULL */

/* Scores and writes "<path>" as HDF5 (.h5) or CSV (.csv): patient_id (when
 * the cohort has one), linear_predictor, response; one row per patient in
 * cohort order; streamed in row blocks; file mode 0600. */
STRATA_API strata_status strata_score_write(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                 strata_unseen_policy unseen, const char *path);

/* Design matrix of rows [row0, row0+n) of a cohort as the model scores them
 * (dummy coding, spline bases, interactions), row-major n x nterms into X.
 * Rows with a missing model value hold NaN. (models/glm/glm_score.c) */
STRATA_API strata_status strata_model_design(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                  strata_unseen_policy unseen, size_t row0, size_t n, double *X);

/* ---- model variables (engine/model/model_vars.c) ----------------------------
 * A variable is one cohort column on the formula's right-hand side however it
 * enters: the basis of rcs(age, 4), a factor's dummies, log(x) and every
 * interaction involving the column belong to its variable. Numbered
 * 0..nvars-1 in order of first use by the design; the response, weights and
 * offsets are not variables. */
#define STRATA_MODEL_MAX_TERM_VARS 8 /* variables one design column can involve */
STRATA_API size_t strata_model_nvars(const strata_model *m);
/* Cohort column of variable v, or NULL when v >= nvars; *is_factor (when not
 * NULL) says whether it enters as a factor. */
STRATA_API const char *strata_model_var(const strata_model *m, size_t v, int *is_factor);
/* The distinct variables design column j is a product of (0 for the
 * intercept, 2 for age:sex), written into vars (at most max of them); returns
 * their count. */
STRATA_API size_t strata_model_term_vars(const strata_model *m, size_t j, size_t *vars, size_t max);

#ifdef __cplusplus
}
#endif
#endif
