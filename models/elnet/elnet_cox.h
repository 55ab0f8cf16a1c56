/* models/elnet/elnet_cox.h — penalised Cox regression (glmnet's family = "cox",
 * Simon, Friedman, Hastie & Tibshirani 2011): the elastic-net path of the Breslow
 * partial likelihood on arrays, its K-fold CV (cv.glmnet's grouped partial-likelihood
 * deviance) and the hook that turns a Cox formula fit into a penalised one.
 * Invariant: the lambda path, early stop and CV follow glmnet 4.1-6's coxnet; all
 * work is serial in a fixed order, so results do not depend on the thread count. */
#ifndef STRATA_ELNET_COX_H
#define STRATA_ELNET_COX_H

#include "cox.h"
#include "elnet_internal.h"

/* Right-censored survival data on arrays, rows in the caller's order. */
typedef struct elnet_cox_data {
    size_t n, p;
    const double *X;      /* column-major n x p, leading dimension ldx */
    size_t ldx;
    const double *time;   /* >= 0 */
    const double *status; /* 1 event, 0 censored */
    const double *w;      /* n case weights >= 0, or NULL (all 1) */
    const double *offset; /* n, or NULL */
} elnet_cox_data;

/* The penalised Cox path (prm->family is ignored; no intercept: out->a0 is 0).
 * Coefficients on the original scale; dev_ratio = 1 - dev / nulldev with glmnet's
 * deviance 2 (saturated - fitted) Breslow log partial likelihood. */
strata_status elnet_cox_fit(strata_ctx *ctx, const elnet_cox_data *d, const elnet_params *prm,
                            elnet_path *out);

/* The rows sorted by time (descending) and grouped by equal time, for the deviance. */
typedef struct elnet_cox_order {
    size_t *ord, *gend; /* n: input row of sorted row i; one past each group's last sorted row */
    size_t ng;
} elnet_cox_order;
strata_status elnet_cox_order_make(strata_ctx *ctx, const elnet_cox_data *d, elnet_cox_order *o);
void elnet_cox_order_free(strata_ctx *ctx, elnet_cox_order *o);

/* Breslow deviance 2 (l_sat - l(eta)) of eta (n, input order) with the weights w
 * (NULL: 1) rescaled to sum to the number of rows with w > 0, as glmnet's
 * coxnet.deviance (std.weights = TRUE); rows of weight 0 take no part. */
double elnet_cox_deviance(const elnet_cox_data *d, const elnet_cox_order *o, const double *w, const double *eta);

/* K-fold CV as cv.glmnet(family = "cox", type.measure = "deviance", grouped =
 * TRUE): each fold's own path on the other folds' rows, interpolated at the full
 * path's lambdas; the fold's measure is (deviance of all rows - deviance of the
 * training rows) / the fold's event weight. foldid (n values 1..K) or folds from
 * seed (dealt within events and within censored rows). */
strata_status elnet_cox_cv_run(strata_ctx *ctx, const elnet_cox_data *d, const elnet_params *prm,
                               size_t K, const int *foldid, unsigned long long seed, elnet_path *full,
                               elnet_cv *out);

/* The penalised fit behind cox_model_fit_beta: the path (and CV) of sp's settings
 * over the Cox design in `in` (no strata or clusters), the selected step's
 * coefficients into beta (p) and the path and curve into res. */
strata_status elnet_cox_select(strata_ctx *ctx, const cox_input *in, const elnet_spec *sp,
                               elnet_fitted *res, double *beta);
/* A penalised Cox model of sp's settings from p's formula and weights (ties must be
 * Breslow, no robust) over src: *out is an ordinary Cox model at the selected
 * lambda (standard errors NaN), res the path and curve. */
strata_status elnet_cox_fit_source(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                   const elnet_spec *sp, cox_model **out, elnet_fitted *res);

#endif
