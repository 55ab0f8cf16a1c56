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

/* The penalised Cox fit holds its rows in memory (it does not stream): the Cox
 * code's columns, design and sorted copy (cox_inmem_bytes), then per running
 * fit its own copy of the design and 14 vectors (8p + 112 bytes a row); with
 * CV up to min(threads, K + 1) fits at once, each worker's training weights,
 * the fold ids and a held-out eta (12 + 8 a worker). Over the budget it is
 * refused before anything is read, naming the budget and the need (p counted
 * as one column a variable: factors' levels make it larger). */
static strata_status cox_budget(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                const elnet_spec *sp)
{
    size_t budget = strata_ctx_memory_budget(ctx), N = src->nrows;
    cox_formula *cf = NULL;
    glm_formula *f = NULL;
    if (!budget || !p->formula || cox_formula_parse(ctx, p->formula, &cf) != STRATA_OK)
        return STRATA_OK; /* (a bad formula is the fit's error) */
    if (glm_formula_parse(ctx, cf->glm, &f) != STRATA_OK) {
        cox_formula_free(ctx, cf);
        return STRATA_OK;
    }
    int T = strata_threads(ctx);
    size_t K = sp->cv_folds, nw = !K || T < 2 ? 1 : (size_t)T < K + 1 ? (size_t)T : K + 1;
    size_t q = f->nvars > 1 ? f->nvars - 1 : 1, row = nw * (8 * q + 112) + (K ? 12 + 8 * nw : 0);
    size_t need = cox_inmem_bytes(f, cf, N) + N * row;
    glm_formula_free(ctx, f);
    cox_formula_free(ctx, cf);
    if (need <= budget)
        return STRATA_OK;
    return STRATA_FAIL(ctx, STRATA_ENOMEM,
                       "%s: the penalised Cox fit (--family cox --alpha) does not stream under a memory budget: "
                       "its %zu rows need about %zu bytes in memory (%zu bytes a row: the Cox design and its sorted "
                       "copy, and %zu bytes a row for %zu path fit%s at once%s), over the memory budget of %zu bytes; "
                       "raise --mem-limit (memory:) to at least that, or fit without --alpha",
                       src->name, N, need, need / (N ? N : 1), row, nw, nw > 1 ? "s" : "",
                       K ? " with the CV's fold ids and weights" : "", budget);
}

strata_status elnet_cox_fit_source(strata_ctx *ctx, const glm_source *src, const strata_cox_params *p,
                                   const elnet_spec *sp, cox_model **out, elnet_fitted *res)
{
    cox_hook h = {sp, res};
    strata_status st;
    *out = NULL;
    memset(res, 0, sizeof *res);
    STRATA_TRY(cox_budget(ctx, src, p, sp));
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
