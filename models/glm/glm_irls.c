/* models/glm/glm_irls.c — R's glm.fit iteration over the blocked pass: R's or a
 * warm start, the pivoted solve, step-halving on a non-finite or rising
 * deviance, R's convergence rule; and the null deviance with an offset.
 * Invariant: an iteration allocates nothing (glm_irls_ws is allocated once per fit). */
#include "glm_fit.h"

#include <math.h>
#include <string.h>

strata_status glm_irls_ws_alloc(strata_ctx *ctx, size_t p, size_t gsize, glm_irls_ws **out)
{
    glm_irls_ws *w = strata_calloc(ctx, 1, sizeof *w);
    *out = NULL;
    if (!w)
        return STRATA_ENOMEM;
    w->p = p;
    w->gsize = gsize;
    w->G = strata_alloc(ctx, gsize * sizeof *w->G + 1);
    w->Gold = strata_alloc(ctx, gsize * sizeof *w->Gold + 1);
    w->g = strata_alloc(ctx, p * sizeof *w->g);
    w->beta = strata_alloc(ctx, p * sizeof *w->beta);
    w->bold = strata_calloc(ctx, p, sizeof *w->bold);
    w->step = strata_calloc(ctx, p, sizeof *w->step);
    w->inv = strata_alloc(ctx, p * p * sizeof *w->inv);
    w->inv2 = strata_alloc(ctx, p * p * sizeof *w->inv2);
    w->al = strata_alloc(ctx, p);
    w->al2 = strata_alloc(ctx, p);
    w->solve = la_solve_ws_alloc(ctx, p);
    if (!w->G || !w->Gold || !w->g || !w->beta || !w->bold || !w->step || !w->inv || !w->inv2 || !w->al ||
        !w->al2 || !w->solve) {
        glm_irls_ws_free(ctx, w);
        return STRATA_ENOMEM;
    }
    *out = w;
    return STRATA_OK;
}

void glm_irls_ws_free(strata_ctx *ctx, glm_irls_ws *w)
{
    if (!w)
        return;
    strata_free(ctx, w->G, 0);
    strata_free(ctx, w->Gold, 0);
    strata_free(ctx, w->g, 0);
    strata_free(ctx, w->beta, 0);
    strata_free(ctx, w->bold, 0);
    strata_free(ctx, w->step, 0);
    strata_free(ctx, w->inv, 0);
    strata_free(ctx, w->inv2, 0);
    strata_free(ctx, w->al, 0);
    strata_free(ctx, w->al2, 0);
    la_solve_ws_free(ctx, w->solve);
    strata_free(ctx, w, sizeof *w);
}

/* After a warm start the covariance comes from the Gram at the final
 * coefficients (the last pass formed it), not the previous iterate's as R: the
 * previous iterate is fewer steps from the optimum than R's. Same rank and
 * aliasing required, else the last solve's inverse stays. (A Schur solve keeps
 * its inverse's factors in d->schur instead of inv2: the swap is then moot.) */
static int final_covariance(fitdata *d, glm_irls_ws *w, size_t p, int rank)
{
    double *t;
    if (glm_solve(d, w->solve, p, w->G, w->g, w->bold, w->al2, w->inv2) != rank ||
        memcmp(w->al2, w->al, p) != 0)
        return 0;
    t = w->inv, w->inv = w->inv2, w->inv2 = t; /* p x p both: swap, not copy */
    return 1;
}

/* The inverse of the last solve's Gram (Gold), when the iterations solved
 * without it: the same solve on the same Gram, so the same bytes as if each
 * iteration had formed it (the Schur solve's factors M = E S^-1 cost O(L q^2),
 * not needed by the iterations). beta goes to bold (scratch). */
static void last_inverse(fitdata *d, glm_irls_ws *w, size_t p)
{
    glm_solve(d, w->solve, p, w->Gold, w->g, w->bold, w->al2, w->inv);
}

/* Step-halving towards the previous coefficients while the deviance is not
 * finite or rises beyond epsilon (there is a previous deviance from iteration
 * 2, or 1 after a warm start); *dev is the deviance at the accepted step. */
static strata_status halve_steps(strata_ctx *ctx, fitdata *d, const strata_glm_params *prm,
                                 const char *name, int started, int iter, double devold,
                                 glm_irls_ws *w, double *dev, int *nhalf)
{
    double tot[4];
    for (int half = 0; !isfinite(*dev) || ((iter > 1 || started) && (*dev - devold) / (fabs(*dev) + 0.1) > prm->epsilon); half++) {
        if ((iter == 1 && !started) || half >= prm->max_iter)
            return STRATA_FAIL(ctx, STRATA_ENOCONV, "%s: IRLS found no valid coefficients (deviance %g at iteration %d); check for separation or extreme values",
                               name, *dev, iter);
        for (size_t j = 0; j < d->p; j++)
            w->beta[j] = (w->beta[j] + w->bold[j]) / 2;
        glm_pass(d, PASS_ITER, w->beta);
        glm_reduce(d, 1, w->G, w->g, tot);
        *dev = tot[0];
        (*nhalf)++;
    }
    return STRATA_OK;
}

/* The Newton decrement delta' G delta of the step beta - bold over |devold| +
 * 0.1: the relative deviance change the next pass is expected to show (the
 * deviance's Hessian is 2 G; G's upper triangle, G[c p + r] with r <= c). */
static double predicted_change(const glm_irls_ws *w, size_t p, double devold)
{
    double q = 0;
    for (size_t c = 0; c < p; c++) {
        double dc = w->beta[c] - w->bold[c], acc = 0;
        for (size_t r = 0; r < c; r++)
            acc += w->G[c * p + r] * (w->beta[r] - w->bold[r]);
        q += dc * (2 * acc + w->G[c * p + c] * dc);
    }
    return fabs(q) / (fabs(devold) + 0.1);
}

/* The pass at w->beta; without its Gram when a cold start in memory (whose
 * covariance comes from the last solve, never from this pass) is expected to
 * converge here: if it then does not, the pass runs again with the Gram (the
 * same deviance, bit for bit). Returns the deviance. */
static double iter_pass(fitdata *d, const strata_glm_params *prm, int cold, double devold, glm_irls_ws *w)
{
    const size_t p = d->p;
    double tot[4];
    if (prm->final_gram <= 0 && cold && !d->stream && !d->schur && w->gsize == p * p &&
        (prm->final_gram < 0 || predicted_change(w, p, devold) < prm->epsilon / GLM_NOGRAM_MARGIN)) {
        d->nogram = 1;
        glm_pass(d, PASS_ITER, w->beta);
        d->nogram = 0;
        glm_reduce(d, 0, NULL, NULL, tot);
        if (isfinite(tot[0]) && fabs(tot[0] - devold) / (fabs(tot[0]) + 0.1) < prm->epsilon)
            return tot[0];
    }
    glm_pass(d, PASS_ITER, w->beta);
    glm_reduce(d, 1, w->G, w->g, tot);
    return tot[0];
}

strata_status glm_irls(strata_ctx *ctx, fitdata *d, const strata_glm_params *prm, const char *name,
                       const double *start, glm_irls_ws *w, glm_irls_result *res)
{
    const size_t p = d->p;
    double tot[4], devold, dev = 0;
    int iter, conv = 0, rank = 0, nhalf = 0;
    strata_status st;
    if (start) {
        memcpy(w->bold, start, p * sizeof *start);
        glm_pass(d, PASS_ITER, start);
    } else {
        memset(w->bold, 0, p * sizeof *w->bold);
        glm_pass(d, PASS_INIT, NULL);
    }
    glm_reduce(d, 1, w->G, w->g, tot);
    devold = tot[0];
    for (iter = 1; iter <= prm->max_iter; iter++) {
        strata_progress(ctx, "fit", iter, 0); /* IRLS iterations: their number is not known */
        memcpy(w->Gold, w->G, w->gsize * sizeof *w->G);
        rank = glm_solve(d, w->solve, p, w->Gold, w->g, w->beta, w->al, d->schur ? NULL : w->inv);
        if (rank < 0)
            return STRATA_FAIL(ctx, STRATA_ESINGULAR, "%s: weighted Gram matrix not positive definite at iteration %d", name, iter);
        for (size_t j = 0; j < p; j++)
            if (w->al[j])
                w->beta[j] = 0;
        dev = iter_pass(d, prm, start == NULL, devold, w);
        st = halve_steps(ctx, d, prm, name, start != NULL, iter, devold, w, &dev, &nhalf);
        if (st != STRATA_OK) {
            if (d->schur)
                last_inverse(d, w, p); /* the partial fit's covariance */
            return st;
        }
        if (fabs(dev - devold) / (fabs(dev) + 0.1) < prm->epsilon) {
            conv = 1;
            break;
        }
        devold = dev;
        memcpy(w->bold, w->beta, p * sizeof *w->beta);
    }
    if (iter > prm->max_iter)
        iter = prm->max_iter;
    for (size_t j = 0; j < p; j++)
        w->step[j] = w->beta[j] - w->bold[j];
    if (!(start && conv && final_covariance(d, w, p, rank)) && d->schur)
        last_inverse(d, w, p);
    res->iter = iter;
    res->conv = conv;
    res->rank = rank;
    res->dev = dev;
    res->halvings = nhalf;
    return STRATA_OK;
}

/* The null fit's sums, visited row piece by row piece in order (glm_rows): the
 * same additions in the same order in memory and streamed. */
typedef struct null_acc {
    strata_family fam;
    int it;                 /* 0: R's start; else eta = b + offset */
    double b, sw, swz, dev;
} null_acc;

static void null_start_rows(void *ud, const double *y, const double *wt, const double *off, size_t m)
{
    null_acc *a = ud;
    (void)off;
    for (size_t i = 0; i < m; i++)
        a->dev += glm_dev_resid(a->fam, y[i], glm_mustart(a->fam, y[i], wt[i]), wt[i]);
}

static void null_step_rows(void *ud, const double *y, const double *wt, const double *off, size_t m)
{
    null_acc *a = ud;
    for (size_t i = 0; i < m; i++) {
        double e, mu, me, w2;
        if (a->it == 0) {
            mu = glm_mustart(a->fam, y[i], wt[i]);
            e = glm_linkfun(a->fam, mu);
        } else {
            e = a->b + off[i];
            mu = glm_linkinv(a->fam, e);
        }
        me = glm_mu_eta(a->fam, e);
        if (!(wt[i] > 0) || me == 0)
            continue;
        w2 = wt[i] * me * me / glm_variance(a->fam, mu);
        a->sw += w2;
        a->swz += w2 * ((e - off[i]) + (y[i] - mu) / me);
    }
}

static void null_dev_rows(void *ud, const double *y, const double *wt, const double *off, size_t m)
{
    null_acc *a = ud;
    for (size_t i = 0; i < m; i++)
        a->dev += glm_dev_resid(a->fam, y[i], glm_linkinv(a->fam, a->b + off[i]), wt[i]);
}

double glm_null_deviance_offset(const fitdata *d, double eps, int maxit)
{
    null_acc a = {d->fam, 0, 0, 0, 0, 0};
    double devold, dev = 0;
    glm_rows(d, null_start_rows, &a, sizeof a);
    devold = a.dev;
    for (int it = 0; it < maxit; it++) {
        a.it = it;
        a.sw = a.swz = 0;
        glm_rows(d, null_step_rows, &a, sizeof a);
        a.b = a.swz / a.sw;
        a.dev = 0;
        glm_rows(d, null_dev_rows, &a, sizeof a);
        dev = a.dev;
        if (fabs(dev - devold) / (fabs(dev) + 0.1) < eps)
            break;
        devold = dev;
    }
    return dev;
}
