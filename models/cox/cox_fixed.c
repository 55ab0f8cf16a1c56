/* models/cox/cox_fixed.c — a Cox model at given coefficients (a penalised fit's
 * choice, models/elnet): the log partial likelihood at 0 and at beta, the LR
 * statistic, and no variance (standard errors NaN: no inference after selection).
 * Invariant: the last evaluation is at beta, so the baseline hazard (Breslow
 * increments for Breslow ties) and Harrell's C that follow are those of beta. */
#include "cox_internal.h"

#include <math.h>
#include <string.h>

strata_status cox_fixed(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const cox_params *prm, cox_result *res)
{
    size_t p = res->p;
    double ll0 = 0, ll = 0, *I = strata_alloc(ctx, (p * p + 1) * sizeof *I);
    double *zero = strata_calloc(ctx, p + 1, sizeof *zero);
    if (!I || !zero) {
        strata_free(ctx, I, 0);
        strata_free(ctx, zero, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "cox: out of memory for %zu coefficients", p);
    }
    strata_status st = cox_eval(d, ws, prm->ties, zero, &ll0, res->u, I);
    if (st == STRATA_OK)
        st = cox_eval(d, ws, prm->ties, prm->beta_at, &ll, res->u, I);
    strata_free(ctx, zero, 0);
    if (st != STRATA_OK) {
        strata_free(ctx, I, 0);
        return st;
    }
    res->evals += 2;
    memcpy(res->beta, prm->beta_at, p * sizeof *res->beta);
    for (size_t j = 0; j < p; j++) {
        res->se[j] = NAN;
        res->aliased[j] = 0;
        for (size_t k = 0; k < p; k++)
            res->vcov[j * p + k] = NAN;
    }
    res->loglik_null = ll0;
    res->loglik = ll;
    res->lr_test = 2 * (ll - ll0);
    res->wald_test = res->score_test = NAN;
    res->rank = 0; /* the non-zero coefficients: the "df" of the summary */
    for (size_t j = 0; j < p; j++)
        res->rank += res->beta[j] != 0;
    res->iter = 0;
    res->converged = 1;
    res->n = d->n;
    res->n_events = d->n_events;
    res->w_events = d->w_events;
    strata_free(ctx, I, 0);
    return STRATA_OK;
}
