/* strata/elnet.h — elastic-net regularisation paths with cross-validation
 * (glmnet's conventions, docs/elnet.md) for gaussian, binomial and poisson
 * models written as GLM formulas. The selected fit is an ordinary strata_model
 * (score, evaluate and run use it unchanged); the path and CV curve travel
 * beside it as a strata_elnet and in the model file's /elnet group. */
#ifndef STRATA_ELNET_H
#define STRATA_ELNET_H

#include "strata/cox.h"
#include "strata/model.h"

typedef struct strata_elnet_params {
    double alpha;                       /* 0 ridge .. 1 lasso; default 1 */
    size_t nlambda;                     /* 100 */
    double lambda_min_ratio;            /* <= 0: 1e-4 when n > p, else 1e-2 */
    const double *lambda;               /* user path, or NULL */
    size_t n_lambda;                    /* its length */
    const char *const *penalty_term;    /* penalty factors by term name (R style) */
    const double *penalty_value;        /* 0 leaves a term unpenalised */
    size_t n_penalty;
    double thresh;                      /* 1e-7 (glmnet's) */
    size_t cv_folds;                    /* 0: no CV, the model keeps the smallest lambda */
    unsigned long long seed;            /* folds (stratified for binomial); 1 */
    int select_min;                     /* 1: lambda.min; 0: lambda.1se (default) */
} strata_elnet_params;

typedef struct strata_elnet strata_elnet;

STRATA_API void strata_elnet_params_init(strata_elnet_params *p);
/* Fits the path (and CV) of gp's formula, family, weights and na_action over
 * the cohort; *model is the fit at the selected lambda, *path the path. */
STRATA_API strata_status strata_elnet_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_glm_params *gp,
                               const strata_elnet_params *ep, strata_model **model, strata_elnet **path);
/* The model file (docs/model-format.md) with the /elnet group, published atomically. */
STRATA_API strata_status strata_elnet_save(strata_ctx *ctx, const strata_model *m, const strata_elnet *e,
                                const char *path);
/* The /elnet group of a model file; *out = NULL for a plain GLM. */
STRATA_API strata_status strata_elnet_load(strata_ctx *ctx, const char *path, const strata_model *m,
                                strata_elnet **out);
STRATA_API void strata_elnet_free(strata_ctx *ctx, strata_elnet *e); /* accepts NULL */

/* Penalised Cox regression (glmnet's family = "cox", docs/elnet.md#cox): the path
 * (and CV: partial-likelihood deviance) of cp's formula "Surv(time, event) ~ terms"
 * and weights over the cohort, Breslow ties (cp->ties must be STRATA_COX_BRESLOW);
 * *model is an ordinary Cox model at the selected lambda (score, evaluate and run
 * use it unchanged; standard errors NaN), *path the path (intercepts 0). */
STRATA_API strata_status strata_elnet_cox_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_cox_params *cp,
                                              const strata_elnet_params *ep, strata_cox **model,
                                              strata_elnet **path);
/* The Cox model file with the /elnet group, published atomically. */
STRATA_API strata_status strata_elnet_cox_save(strata_ctx *ctx, const strata_cox *m, const strata_elnet *e,
                                               const char *path);
/* The /elnet group of a Cox model file; *out = NULL for a plain Cox fit. */
STRATA_API strata_status strata_elnet_cox_load(strata_ctx *ctx, const char *path, const strata_cox *m,
                                               strata_elnet **out);

STRATA_API size_t strata_elnet_nsteps(const strata_elnet *e);
STRATA_API double strata_elnet_alpha(const strata_elnet *e);
STRATA_API size_t strata_elnet_selected(const strata_elnet *e);     /* 0-based step kept in the model */
STRATA_API double strata_elnet_lambda(const strata_elnet *e, size_t k);
/* Coefficient j (0 = intercept, then the model's terms) at step k. */
STRATA_API double strata_elnet_coef(const strata_elnet *e, size_t k, size_t j);
STRATA_API double strata_elnet_dev_ratio(const strata_elnet *e, size_t k);
STRATA_API int strata_elnet_df(const strata_elnet *e, size_t k);
/* CV curve at step k (0 when the path had no CV): mean and standard error. */
STRATA_API size_t strata_elnet_cv_steps(const strata_elnet *e);
STRATA_API double strata_elnet_cv_mean(const strata_elnet *e, size_t k);
STRATA_API double strata_elnet_cv_sd(const strata_elnet *e, size_t k);
STRATA_API const char *strata_elnet_cv_measure(const strata_elnet *e); /* "deviance", "mse", "auc" or "" */
/* 0-based steps of lambda.min and lambda.1se (0 without CV). */
STRATA_API size_t strata_elnet_cv_min(const strata_elnet *e);
STRATA_API size_t strata_elnet_cv_1se(const strata_elnet *e);

#endif
