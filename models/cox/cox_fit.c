/* models/cox/cox_fit.c — the Cox fit on arrays: checks parameters, sorts and lays
 * out the data once, runs Newton-Raphson, then the baseline hazard and Harrell's
 * C from the final evaluation. Invariant: on STRATA_ENOCONV the partial fit is
 * returned complete (coefficients, vcov, baseline); on other errors *out is NULL. */
#include "cox_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

void cox_params_init(cox_params *p)
{
    memset(p, 0, sizeof *p);
    p->ties = COX_TIES_EFRON;
    p->eps = 1e-9;
    p->max_iter = 20;
    p->toler_chol = pow(DBL_EPSILON, 0.75);
    p->toler_inf = sqrt(p->eps);
    p->block_rows = 8192;
}

strata_status cox_params_check(strata_ctx *ctx, const cox_params *p)
{
    if (!p)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: NULL");
    if (p->ties != COX_TIES_EFRON && p->ties != COX_TIES_BRESLOW)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: ties %d is not efron or breslow", (int)p->ties);
    if (!(p->eps > 0 && p->eps < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: eps %g outside (0, 1)", p->eps);
    if (p->max_iter < 1 || p->max_iter > 10000)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: max_iter %d outside 1..10000", p->max_iter);
    if (!(p->toler_chol > 0 && p->toler_chol < 1) || !(p->toler_inf > 0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: toler_chol %g / toler_inf %g out of range",
                           p->toler_chol, p->toler_inf);
    if (p->block_rows < 16 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox params: block_rows %zu outside 16..2^24", p->block_rows);
    return STRATA_OK;
}

void cox_result_free(strata_ctx *ctx, cox_result *r)
{
    if (!r)
        return;
    strata_free(ctx, r->beta, 0);
    strata_free(ctx, r->se, 0);
    strata_free(ctx, r->vcov, 0);
    strata_free(ctx, r->u, 0);
    strata_free(ctx, r->aliased, 0);
    strata_free(ctx, r->bh_code, 0);
    strata_free(ctx, r->bh_start, 0);
    strata_free(ctx, r->bh_time, 0);
    strata_free(ctx, r->bh_haz, 0);
    strata_free(ctx, r, sizeof *r);
}

static cox_result *result_alloc(strata_ctx *ctx, size_t p)
{
    cox_result *r = strata_calloc(ctx, 1, sizeof *r);
    if (!r)
        return NULL;
    r->p = p;
    r->beta = strata_calloc(ctx, p, sizeof *r->beta);
    r->se = strata_calloc(ctx, p, sizeof *r->se);
    r->vcov = strata_calloc(ctx, p * p, sizeof *r->vcov);
    r->u = strata_calloc(ctx, p, sizeof *r->u);
    r->aliased = strata_calloc(ctx, p, 1);
    if (!r->beta || !r->se || !r->vcov || !r->u || !r->aliased) {
        cox_result_free(ctx, r);
        return NULL;
    }
    return r;
}

strata_status cox_fit_arrays(strata_ctx *ctx, const cox_input *in, const cox_params *prm,
                             cox_result **out)
{
    cox_data *d = NULL;
    cox_ws *ws = NULL;
    cox_result *res = NULL;
    strata_status st, fit;
    *out = NULL;
    STRATA_TRY(cox_params_check(ctx, prm));
    if (!in || in->p == 0 || !in->X || !in->time || !in->status)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox: input needs X (p >= 1), time and status");
    STRATA_TRY(cox_data_build(ctx, in, prm->block_rows, &d));
    st = cox_ws_alloc(ctx, d, strata_threads(ctx), &ws);
    if (st == STRATA_OK && !(res = result_alloc(ctx, in->p)))
        st = STRATA_ENOMEM;
    fit = st == STRATA_OK ? cox_newton(ctx, d, ws, prm, in->names, res) : st;
    st = fit == STRATA_OK || fit == STRATA_ENOCONV ? STRATA_OK : fit;
    if (st == STRATA_OK)
        st = cox_baseline(ctx, d, ws, res);
    if (st == STRATA_OK)
        st = cox_concordance(ctx, d, ws->eta, res);
    cox_ws_free(ctx, ws);
    cox_data_free(ctx, d);
    if (st != STRATA_OK) {
        cox_result_free(ctx, res);
        return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "cox: out of memory") : st;
    }
    *out = res;
    return fit;
}
