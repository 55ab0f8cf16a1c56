/* strata/cox.h — Cox proportional-hazards models on a cohort (docs/cox.md): fit
 * `Surv(time, event) ~ terms [+ strata(x)] [+ cluster(id)]` (Efron or Breslow ties,
 * as survival::coxph), read hazard ratios and the fit summary, save and load the
 * model file (coefficients, frozen design, Breslow baseline hazard per stratum), and
 * score the linear predictor and the absolute risk 1 - S0_s(t)^exp(lp) at horizons.
 * Invariant: the same cohort and parameters give the same bytes whatever the thread
 * count, and save -> load -> score gives the bytes of scoring the fitted model. */
#ifndef STRATA_COX_H
#define STRATA_COX_H

#include "strata/cohort.h"
#include "strata/core.h"
#include "strata/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum strata_cox_ties {
    STRATA_COX_EFRON = 0,  /* Efron (1977), R's default */
    STRATA_COX_BRESLOW = 1 /* Breslow (1972) */
} strata_cox_ties;

typedef struct strata_cox_params {
    const char *formula;         /* required: "Surv(time, event) ~ a + b [+ strata(s)] [+ cluster(id)]" */
    const char *weights;         /* case weights column, or NULL */
    strata_cox_ties ties;        /* default Efron */
    int robust;                  /* 1: robust (sandwich) SEs; implied by cluster() */
    double epsilon;              /* |1 - loglik_old / loglik| convergence; 1e-9 */
    int max_iter;                /* Newton-Raphson iterations; 20 */
} strata_cox_params;

STRATA_API void strata_cox_params_init(strata_cox_params *p);

typedef struct strata_cox strata_cox;

/* Fits on the cohort's complete cases. On STRATA_ENOCONV *out holds the partial
 * fit (summary: converged = 0); on any other error *out is NULL. */
STRATA_API strata_status strata_cox_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_cox_params *p,
                                        strata_cox **out);
STRATA_API void strata_cox_free(strata_ctx *ctx, strata_cox *m); /* accepts NULL */

/* One row of the coefficient table, as summary.coxph: z, two-sided p, hazard ratio
 * exp(estimate) and its CI at conf_level; the robust SE when the model has one.
 * Aliased coefficients: aliased = 1 and NaN everywhere. */
typedef struct strata_cox_coef {
    double estimate, std_error, z, p_value, hr, hr_low, hr_high;
    int aliased, robust;
} strata_cox_coef;

STRATA_API size_t strata_cox_nterms(const strata_cox *m);
STRATA_API const char *strata_cox_term(const strata_cox *m, size_t i); /* R-style name */
/* The columns of Surv(time, event) and of strata(x) (NULL without strata). */
STRATA_API const char *strata_cox_time_column(const strata_cox *m);
STRATA_API const char *strata_cox_event_column(const strata_cox *m);
STRATA_API const char *strata_cox_strata_column(const strata_cox *m);
STRATA_API void strata_cox_coef_row(const strata_cox *m, size_t i, double conf_level, strata_cox_coef *out);
/* The model's variables and design rows, as strata_model_nvars, _var,
 * _term_vars and _design (strata/model.h): what the intervention list's
 * reasons are computed from (docs/stratify.md#reason-codes). X: n x nterms,
 * row-major. */
STRATA_API size_t strata_cox_nvars(const strata_cox *m);
STRATA_API const char *strata_cox_var(const strata_cox *m, size_t v, int *is_factor);
STRATA_API size_t strata_cox_term_vars(const strata_cox *m, size_t j, size_t *vars, size_t max);
STRATA_API strata_status strata_cox_design(strata_ctx *ctx, const strata_cox *m,
                                           strata_cohort *cohort, strata_unseen_policy unseen,
                                           size_t row0, size_t n, double *X);

typedef struct strata_cox_summary {
    const char *formula;
    strata_cox_ties ties;
    size_t n_used, n_dropped, n_events, n_strata, n_clusters; /* n_clusters 0 unless robust */
    double loglik_null, loglik;      /* log partial likelihood at beta = 0 and fitted */
    double lr_test, wald_test, score_test;
    int df;                          /* estimable coefficients */
    double concordance;              /* Harrell's C on the fitted data */
    int iterations, converged, robust;
} strata_cox_summary;

STRATA_API void strata_cox_summary_get(const strata_cox *m, strata_cox_summary *out);

/* Model file (HDF5, schema strata-model, model = "cox"; docs/cox.md). */
STRATA_API strata_status strata_cox_save(strata_ctx *ctx, const strata_cox *m, const char *path);
STRATA_API strata_status strata_cox_load(strata_ctx *ctx, const char *path, strata_cox **out);
/* 1 when path is a strata model file of a Cox model, 0 otherwise (any error). */
STRATA_API int strata_cox_is_model_file(const char *path);

/* Scores every row (cohort order): lp[i] = x'beta + offset, and for each of nh
 * horizons (in the time unit of the fit) risk[i * nh + k] = 1 - exp(-H0_s(h_k)
 * exp(lp[i])) in the row's stratum s. Missing model values give NaN; an unseen
 * level is STRATA_EDATA unless unseen maps it to the reference (factors only: an
 * unseen stratum is always EDATA). Either output may be NULL. With MPI ranks
 * on the context the call is collective, as strata_score's: rank 0's arrays
 * receive every row. */
STRATA_API strata_status strata_cox_score(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                          strata_unseen_policy unseen, const double *horizons, size_t nh,
                                          double *lp, double *risk);
/* strata_cox_score handing each chunk (lp, and n x nh risks) to sink in row
 * order instead of filling whole arrays: the same bits (strata_score_sink). */
STRATA_API strata_status strata_cox_score_sink(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                               strata_unseen_policy unseen, const double *horizons, size_t nh,
                                               strata_score_sink_fn sink, void *ud);
/* Scores and writes "<path>" (.h5 or .csv, mode 0600, atomically): patient_id (when
 * the cohort has one), linear_predictor, risk_<h> per horizon; cohort order. */
STRATA_API strata_status strata_cox_score_write(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                                strata_unseen_policy unseen, const double *horizons,
                                                size_t nh, const char *path);

#ifdef __cplusplus
}
#endif
#endif
