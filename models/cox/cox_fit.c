/* models/cox/cox_fit.c — the Cox fit on arrays: checks parameters, sorts and lays
 * out the data once, runs Newton-Raphson, then the robust variance (when asked),
 * the baseline hazard and Harrell's C from the final evaluation. Invariant: on
 * STRATA_ENOCONV the partial fit is returned complete (coefficients, vcov,
 * baseline); on other errors *out is NULL. */
#include "cox_internal.h"
#include "strata/dist.h"

#include <float.h>
#include <omp.h>
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
    strata_free(ctx, r->rse, 0);
    strata_free(ctx, r->rvcov, 0);
    strata_free(ctx, r->aliased, 0);
    strata_free(ctx, r->bh_code, 0);
    strata_free(ctx, r->bh_start, 0);
    strata_free(ctx, r->bh_time, 0);
    strata_free(ctx, r->bh_haz, 0);
    strata_free(ctx, r, sizeof *r);
}

void cox_coef_row(const cox_result *res, size_t j, int robust, double conf, cox_coef *out)
{
    double q = strata_qnorm(0.5 + conf / 2);
    out->aliased = res->aliased[j];
    out->robust = robust && res->rse;
    out->estimate = res->beta[j];
    out->std_error = out->robust ? res->rse[j] : res->se[j];
    out->z = out->estimate / out->std_error;
    out->p_value = erfc(fabs(out->z) / sqrt(2.0));
    out->hr = exp(out->estimate);
    out->hr_low = exp(out->estimate - q * out->std_error);
    out->hr_high = exp(out->estimate + q * out->std_error);
}

cox_result *cox_result_alloc(strata_ctx *ctx, size_t p)
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

/* After the fit: robust variance (needs X), baseline, then X (or its scratch file) freed before
 * Harrell's C so that its scratch does not add to the peak (across ranks, the
 * linear predictor of every rank's rows first). */
static strata_status after_fit(strata_ctx *ctx, const cox_input *in, const cox_params *prm,
                               cox_data *d, cox_ws *ws, cox_result *res)
{
    strata_status st = STRATA_OK;
    if (prm->robust || in->cluster)
        st = cox_robust(ctx, d, ws, prm->ties, in->cluster, res);
    if (st == STRATA_OK)
        st = cox_baseline(ctx, d, ws, res);
    strata_free(ctx, d->X, 0);
    d->X = NULL;
    cox_xstream_free(d); /* streamed: the window buffers and the scratch file */
    strata_free(ctx, ws->r, 0); /* Harrell's C reads only eta */
    ws->r = NULL;
    if (d->comm && (st = strata_comm_agree(ctx, st)) == STRATA_OK && cox_gather_eta(d, ws) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_EIO, "cox: gathering the linear predictor over the MPI ranks failed");
    STRATA_TRY(st);
    if (d->conc_x) /* streamed: the ranks through the external sort, eta freed in it */
        return cox_concordance_x(ctx, d, &ws->eta, d->conc_mem, res);
    return cox_concordance(ctx, d, ws->eta, res);
}

strata_status cox_fit_data(strata_ctx *ctx, const cox_input *in, const cox_params *prm, cox_data *d,
                           double t0, cox_result **out)
{
    cox_ws *ws = NULL;
    cox_result *res = NULL;
    strata_status st, fit;
    double t1, t2;
    size_t d_n;
    *out = NULL;
    st = cox_ws_alloc(ctx, d, strata_threads(ctx), &ws);
    if (st == STRATA_OK && !(res = cox_result_alloc(ctx, in->p)))
        st = STRATA_ENOMEM;
    if (d->comm) /* no rank goes into the evaluations' gathers alone */
        st = strata_comm_agree(ctx, st);
    t1 = omp_get_wtime();
    fit = st != STRATA_OK ? st : prm->beta_at ? cox_fixed(ctx, d, ws, prm, res) : cox_newton(ctx, d, ws, prm, in->names, res);
    t2 = omp_get_wtime();
    st = fit == STRATA_OK || fit == STRATA_ENOCONV ? STRATA_OK : fit;
    if (st == STRATA_OK)
        st = after_fit(ctx, in, prm, d, ws, res);
    cox_ws_free(ctx, ws);
    d_n = d->n;
    cox_data_free(ctx, d);
    if (st != STRATA_OK) {
        cox_result_free(ctx, res);
        return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "cox: out of memory") : st;
    }
    res->seconds[0] = t1 - t0;
    res->seconds[1] = t2 - t1;
    res->seconds[2] = omp_get_wtime() - t2;
    strata_log(ctx, STRATA_LOG_INFO, "cox: %zu rows, %zu x %zu design: sort and layout %.3f s, %d evaluations in %.3f s (%.3f s each), robust, baseline and concordance %.3f s",
               d_n, d_n, in->p, res->seconds[0], res->evals, res->seconds[1],
               res->evals ? res->seconds[1] / res->evals : 0.0, res->seconds[2]);
    *out = res;
    return fit;
}

strata_status cox_fit_cols(strata_ctx *ctx, const cox_input *in, cox_col_fn col, void *ud,
                           const cox_params *prm, cox_result **out)
{
    cox_data *d = NULL;
    double t0 = omp_get_wtime();
    *out = NULL;
    STRATA_TRY(cox_params_check(ctx, prm));
    if (!in || in->p == 0 || !in->time || !in->status || !col)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox: input needs X (p >= 1), time and status");
    STRATA_TRY(cox_data_build_cols(ctx, in, col, ud, prm->block_rows, prm->x_ld, &d));
    return cox_fit_data(ctx, in, prm, d, t0, out);
}

static strata_status array_col(strata_ctx *ctx, void *ud, size_t j, double *col)
{
    const cox_input *in = ud;
    (void)ctx;
    memcpy(col, in->X + j * in->n, in->n * sizeof *col);
    return STRATA_OK;
}

strata_status cox_fit_arrays(strata_ctx *ctx, const cox_input *in, const cox_params *prm,
                             cox_result **out)
{
    if (!in || !in->X)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox: input needs X (p >= 1), time and status");
    if (prm && prm->beta_fn) { /* a penalised fit chooses the coefficients (cox_fixed.c) */
        cox_params P = *prm;
        double *beta = strata_alloc(ctx, (in->p + 1) * sizeof *beta);
        strata_status st = beta ? prm->beta_fn(ctx, prm->beta_ud, in, beta) : STRATA_FAIL(ctx, STRATA_ENOMEM, "cox: out of memory");
        P.beta_fn = NULL;
        P.beta_at = beta;
        if (st == STRATA_OK)
            st = cox_fit_cols(ctx, in, array_col, (void *)(uintptr_t)in, &P, out);
        strata_free(ctx, beta, 0);
        return st;
    }
    return cox_fit_cols(ctx, in, array_col, (void *)(uintptr_t)in, prm, out);
}
