/* models/elnet/elnet_path.c — the lambda path on the standardised problem as
 * glmnet walks it: lambda_1 = "big" (only unpenalised terms), lambda_max from
 * the score there, then a geometric sequence (or the user's), each point warm
 * started from the last, with sequential strong rules (Tibshirani et al. 2012)
 * checked by KKT in elnet_point, and glmnet's early stop of the path.
 * Invariant: steps 0..out->nlam-1 hold (b0, beta) on the standardised scale. */
#include "elnet_internal.h"
#include "internal.h"

#include <math.h>
#include <string.h>

/* Sequential strong rule: column j joins S when |g_j| > alpha (2 lambda -
 * lambda_prev) vp_j at the previous solution; when any does, so does every
 * column above ELNET_STRONG_WIDE x that threshold (those likely to enter at
 * the next lambdas): S, whose every change costs a Gram pass, changes less
 * often. S is only a working set: the KKT check decides the solution. */
static void strong_rule(const elnet_prob *pb, elnet_ws *ws, double lambda, double lambda_prev)
{
    double tlam = pb->alpha * (2 * lambda - lambda_prev);
    size_t j = 0;
    while (j < pb->p && !(pb->ju[j] && !ws->inS[j] && fabs(ws->g[j]) > tlam * pb->vp[j]))
        j++;
    if (j == pb->p)
        return;
    tlam *= ELNET_STRONG_WIDE; /* a stale score (elnet_point) may decide this wider part */
    for (j = 0; j < pb->p; j++)
        if (pb->ju[j] && !ws->inS[j] && fabs(ws->g[j]) > tlam * pb->vp[j]) {
            ws->S[ws->nS++] = j;
            ws->inS[j] = 1;
            ws->gram_valid = 0;
        }
}

/* lambda_max: the smallest lambda with every penalised coefficient zero. */
static double lambda_max(const elnet_prob *pb, const elnet_ws *ws)
{
    double lm = 0;
    for (size_t j = 0; j < pb->p; j++)
        if (pb->ju[j] && pb->vp[j] > 0)
            lm = fmax(lm, fabs(ws->g[j]) / pb->vp[j]);
    return lm / fmax(pb->alpha, 1e-3);
}

/* glmnet's early stop (path/{gaussian,binomial,poisson}_base): the change of
 * the deviance ratio is relative for gaussian, absolute for binomial, and for
 * poisson relative over mnlam - 1 steps with 10 x fdev. */
static int early_stop(const elnet_prob *pb, const elnet_params *prm, const elnet_path *out, size_t m)
{
    const double *dr = out->dev_ratio;
    if (m + 1 < prm->mnlam || dr[m] > prm->devmax)
        return m + 1 >= prm->mnlam;
    double prev = m > 0 ? dr[m - 1] : 0;
    switch (pb->fam) {
    case STRATA_FAMILY_BINOMIAL:
        return dr[m] - prev < prm->fdev;
    case STRATA_FAMILY_POISSON: {
        double back = m + 1 >= prm->mnlam ? dr[m + 1 - prm->mnlam] : 0;
        return (dr[m] - back) / dr[m] < 10 * prm->fdev;
    }
    default:
        return dr[m] - prev < prm->fdev * dr[m];
    }
}

static void store_step(const elnet_prob *pb, const elnet_ws *ws, elnet_path *out, size_t m,
                       double lambda)
{
    int df = 0;
    out->lambda[m] = lambda;
    out->a0[m] = ws->b0;
    memcpy(out->beta + m * pb->p, ws->beta, pb->p * sizeof *ws->beta);
    for (size_t j = 0; j < pb->p; j++)
        df += ws->beta[j] != 0;
    out->df[m] = df;
    out->dev_ratio[m] = 1 - ws->dev / pb->dev0;
    out->nlam = m + 1;
}

strata_status elnet_run_path(strata_ctx *ctx, const elnet_prob *pb, const elnet_params *prm,
                             elnet_ws *ws, elnet_path *out)
{
    size_t nlam = prm->lambda ? prm->nuser : prm->nlambda;
    double lmr = prm->lambda_min_ratio > 0 ? prm->lambda_min_ratio : (pb->sl.nall < pb->p ? 1e-2 : 1e-4);
    double alf = nlam > 1 ? pow(fmax(1e-6, lmr), 1.0 / (double)(nlam - 1)) : 1;
    double lambda = 0, lambda_prev = 0;
    if (nlam > out->cap)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: path holds %zu steps, %zu lambdas asked",
                           out->cap, nlam);
    for (size_t j = 0; j < pb->p; j++)
        if (pb->ju[j] && pb->vp[j] <= 0 && !ws->inS[j]) {
            ws->S[ws->nS++] = j;
            ws->inS[j] = 1;
        }
    out->converged = 1;
    for (size_t m = 0; m < nlam; m++) {
        lambda_prev = lambda;
        if (prm->lambda) {
            lambda = prm->lambda[m] / pb->ys;
        } else if (m == 0) {
            lambda = ELNET_BIG;
        } else if (m == 1) {
            lambda_prev = lambda_max(pb, ws);
            lambda = lambda_prev * alf;
        } else {
            lambda *= alf;
        }
        strong_rule(pb, ws, lambda, lambda_prev);
        /* the next lambda's strong-rule threshold, as strong_rule computes it */
        double tnext = -1;
        if (prm->lambda && m + 1 < nlam)
            tnext = pb->alpha * (2 * (prm->lambda[m + 1] / pb->ys) - lambda);
        else if (!prm->lambda && m >= 1 && m + 1 < nlam)
            tnext = pb->alpha * (2 * (lambda * alf) - lambda);
        int ok = elnet_point(pb, ws, lambda, tnext, prm->maxit);
        if (ws->cst != STRATA_OK)
            return elnet_pass_status(ctx, pb, ws);
        if (!ok) {
            out->converged = 0;
            break;
        }
        store_step(pb, ws, out, m, lambda);
        if (!prm->lambda && early_stop(pb, prm, out, m))
            break;
    }
    out->npasses = ws->passes;
    out->ngram = ws->ngram;
    out->nscan = ws->nscan;
    out->nstale = ws->nstale;
    return STRATA_OK;
}
