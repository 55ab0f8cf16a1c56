/* models/elnet/elnet_cox_source.c — a penalised Cox model from a formula over a
 * column source: the Cox code builds the complete-case design of
 * `Surv(time, event) ~ terms` (factors, rcs, interactions, offsets, weights) and
 * hands it to the hook here, which fits the elastic-net path (and CV) and returns
 * the selected coefficients; the Cox code then completes an ordinary Cox model at
 * them (frozen design, Breslow baseline hazard, concordance). Invariant: the model
 * scores exactly as a Cox fit with these coefficients would. */
#include "elnet_cox.h"
#include "cox_internal.h"
#include "internal.h"

#include <string.h>

typedef struct cox_hook {
    const elnet_spec *sp;
    elnet_fitted *res;
} cox_hook;

/* Penalty factors per design column from "term=w" pairs (names as coef prints them). */
static strata_status cox_penalties(strata_ctx *ctx, const cox_input *in, const elnet_spec *sp, double *pf)
{
    for (size_t j = 0; j < in->p; j++)
        pf[j] = 1;
    for (size_t k = 0; k < sp->npf; k++) {
        size_t j = 0;
        while (j < in->p && (!in->names || strcmp(in->names[j], sp->pf_term[k])))
            j++;
        if (j == in->p)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: the penalty factor names '%s', which is not a term of \"%s\"",
                               sp->pf_term[k], sp->formula ? sp->formula : "the formula");
        pf[j] = sp->pf_value[k];
    }
    return STRATA_OK;
}

strata_status elnet_cox_select(strata_ctx *ctx, const cox_input *in, const elnet_spec *sp, elnet_fitted *res,
                               double *beta)
{
    elnet_params prm = sp->prm;
    elnet_cox_data d = {in->n, in->p, in->X, in->n, in->time, in->status, in->weight, in->offset};
    size_t cap = prm.lambda ? prm.nuser : prm.nlambda;
    double *pf;
    strata_status st;
    if (in->stratum || in->cluster)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "coxnet: strata() and cluster() are not available with the elastic "
                           "net (glmnet's coxnet fits one baseline; drop them or fit without --alpha)");
    if (!(pf = strata_alloc(ctx, (in->p + 1) * sizeof *pf)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "coxnet: out of memory");
    st = cox_penalties(ctx, in, sp, pf);
    prm.penalty = pf;
    if (st == STRATA_OK)
        st = elnet_path_alloc(ctx, in->p, cap, &res->path);
    res->alpha = prm.alpha;
    if (st == STRATA_OK && sp->cv_folds)
        st = elnet_cox_cv_run(ctx, &d, &prm, sp->cv_folds, sp->foldid, sp->seed, res->path, &res->cv);
    else if (st == STRATA_OK)
        st = elnet_cox_fit(ctx, &d, &prm, res->path);
    if (st == STRATA_OK && (res->path->nlam == 0 || !res->path->converged))
        st = STRATA_FAIL(ctx, STRATA_ENOCONV, "coxnet: the path stopped after %zu of %zu lambdas (maxit)",
                         res->path->nlam, cap);
    if (st == STRATA_OK) {
        res->selected = !sp->cv_folds ? res->path->nlam - 1 : sp->select_min ? res->cv.idx_min : res->cv.idx_1se;
        res->lambda = res->path->lambda[res->selected];
        memcpy(beta, res->path->beta + res->selected * in->p, in->p * sizeof *beta);
    }
    strata_free(ctx, pf, 0);
    return st;
}

static strata_status select_beta(strata_ctx *ctx, void *ud, const cox_input *in, double *beta)
{
    const cox_hook *h = ud;
    return elnet_cox_select(ctx, in, h->sp, h->res, beta);
}

strata_status elnet_cox_fit_source(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                   const elnet_spec *sp, cox_model **out, elnet_fitted *res)
{
    cox_hook h = {sp, res};
    strata_status st;
    *out = NULL;
    memset(res, 0, sizeof *res);
    if (p->ties != STRATA_COX_BRESLOW)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "coxnet: the elastic net uses Breslow ties (glmnet 4.1-6's coxnet "
                           "has no Efron option): give ties breslow");
    if (p->robust)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "coxnet: no robust standard errors after penalised selection");
    st = cox_model_fit_beta(ctx, src, p, select_beta, &h, out);
    if (st != STRATA_OK) {
        cox_model_free(ctx, *out);
        *out = NULL;
        elnet_fitted_free(ctx, res);
    }
    return st;
}
