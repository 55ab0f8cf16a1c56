/* models/cox/cox_newton.c — Newton-Raphson for the Cox partial likelihood as R's
 * coxph iterates it (survival's coxfit6): start at beta = 0; when the
 * log-likelihood falls, step back to (new + k old) / (k + 1) on the k-th try in a
 * row; convergence on |1 - loglik_best / loglik| <= eps; an LDL'
 * factor whose small pivots (R's toler.chol) mark aliased columns; then the score,
 * Wald and likelihood-ratio tests and R's warnings for infinite coefficients.
 * Invariant: all workspace is allocated before the first iteration. */
#include "cox_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int cox_ldl(double *A, size_t p, double toler)
{
    double eps = 0;
    int rank = 0;
    for (size_t i = 0; i < p; i++) {
        if (A[i * p + i] > eps)
            eps = A[i * p + i];
        for (size_t j = i + 1; j < p; j++)
            A[j * p + i] = A[i * p + j];
    }
    eps = eps == 0 ? toler : eps * toler;
    for (size_t i = 0; i < p; i++) {
        double pivot = A[i * p + i];
        if (!isfinite(pivot) || pivot < eps) {
            /* aliased: dropped from the factor (its column of L is zeroed so the
             * solves are those of the system without it) */
            A[i * p + i] = 0;
            for (size_t j = i + 1; j < p; j++)
                A[j * p + i] = 0;
            continue;
        }
        rank++;
        for (size_t j = i + 1; j < p; j++) {
            double t = A[j * p + i] / pivot;
            A[j * p + i] = t;
            A[j * p + j] -= t * t * pivot;
            for (size_t k = j + 1; k < p; k++)
                A[k * p + j] -= t * A[k * p + i];
        }
    }
    return rank;
}

void cox_ldl_solve(const double *L, size_t p, double *b)
{
    for (size_t i = 0; i < p; i++) {
        double t = b[i];
        for (size_t j = 0; j < i; j++)
            t -= b[j] * L[i * p + j];
        b[i] = t;
    }
    for (size_t i = p; i-- > 0;) {
        double t;
        if (L[i * p + i] == 0) {
            b[i] = 0;
            continue;
        }
        t = b[i] / L[i * p + i];
        for (size_t j = i + 1; j < p; j++)
            t -= b[j] * L[j * p + i];
        b[i] = t;
    }
}

void cox_ldl_inverse(const double *L, size_t p, double *inv, double *work)
{
    for (size_t k = 0; k < p; k++) {
        memset(work, 0, p * sizeof *work);
        work[k] = 1;
        cox_ldl_solve(L, p, work);
        for (size_t i = 0; i < p; i++)
            inv[i * p + k] = L[k * p + k] == 0 ? 0 : work[i];
    }
    /* exact symmetry: the upper triangle mirrors the lower */
    for (size_t i = 0; i < p; i++)
        for (size_t j = i + 1; j < p; j++)
            inv[i * p + j] = inv[j * p + i];
}

/* 1 when the log-likelihood, score and information are all finite. */
static int all_finite(size_t p, const double *ll, const double *u, const double *I)
{
    int ok = isfinite(*ll);
    for (size_t j = 0; j < p; j++)
        ok &= isfinite(u[j]);
    for (size_t j = 0; j < p * p; j++)
        ok &= isfinite(I[j]);
    return ok;
}

/* Newton workspace, allocated once. */
typedef struct nr_ws {
    double *I, *L, *u, *beta, *nbeta, *a, *work;
} nr_ws;

static void nr_free(strata_ctx *ctx, nr_ws *w)
{
    strata_free(ctx, w->I, 0);
    strata_free(ctx, w->L, 0);
    strata_free(ctx, w->u, 0);
    strata_free(ctx, w->beta, 0);
    strata_free(ctx, w->nbeta, 0);
    strata_free(ctx, w->a, 0);
    strata_free(ctx, w->work, 0);
}

static int nr_alloc(strata_ctx *ctx, size_t p, nr_ws *w)
{
    w->I = strata_calloc(ctx, p * p, sizeof *w->I);
    w->L = strata_calloc(ctx, p * p, sizeof *w->L);
    w->u = strata_calloc(ctx, p, sizeof *w->u);
    w->beta = strata_calloc(ctx, p, sizeof *w->beta);
    w->nbeta = strata_calloc(ctx, p, sizeof *w->nbeta);
    w->a = strata_calloc(ctx, p, sizeof *w->a);
    w->work = strata_calloc(ctx, p, sizeof *w->work);
    return w->I && w->L && w->u && w->beta && w->nbeta && w->a && w->work;
}

/* The Newton step a = I^-1 u from the current I and u; returns the rank. */
static int newton_step(const cox_params *prm, size_t p, nr_ws *w)
{
    int rank;
    memcpy(w->L, w->I, p * p * sizeof *w->L);
    rank = cox_ldl(w->L, p, prm->toler_chol);
    memcpy(w->a, w->u, p * sizeof *w->a);
    cox_ldl_solve(w->L, p, w->a);
    return rank;
}

/* R's warnings after the fit (coxph.fit): a coefficient whose next Newton step
 * is still large relative to it may be infinite (monotone likelihood). */
static void warn_infinite(strata_ctx *ctx, const cox_data *d, const cox_ws *ws,
                          const cox_params *prm, const char *const *names, const cox_result *res)
{
    size_t p = res->p;
    char buf[32];
    for (size_t j = 0; j < p; j++) {
        double inf = 0;
        const char *nm = names && names[j] ? names[j] : (snprintf(buf, sizeof buf, "x%zu", j + 1), buf);
        for (size_t k = 0; k < p; k++)
            inf += res->u[k] * res->vcov[k * p + j];
        inf = fabs(inf);
        if (res->aliased[j])
            strata_warn(ctx, "cox: column '%s' is aliased (a combination of earlier columns); "
                             "its coefficient is NA", nm);
        else if (!res->converged && !isfinite(inf))
            strata_warn(ctx, "cox: '%s': coefficient may be infinite", nm);
        else if (res->converged && prm->max_iter > 1 &&
                 (!isfinite(res->u[j]) || (inf > prm->eps && inf > prm->toler_inf * fabs(res->beta[j]))))
            strata_warn(ctx, "cox: loglik converged before variable '%s'; coefficient may be "
                             "infinite (monotone likelihood)", nm);
    }
    (void)d;
    (void)ws;
}

/* Fills res from the final evaluation held in w (beta at w->nbeta). */
static void finish(const cox_data *d, size_t p, nr_ws *w, cox_result *res)
{
    cox_ldl_inverse(w->L, p, res->vcov, w->work);
    res->rank = 0;
    res->wald_test = 0;
    for (size_t j = 0; j < p; j++) {
        res->aliased[j] = w->L[j * p + j] == 0;
        res->rank += !res->aliased[j];
        res->beta[j] = res->aliased[j] ? NAN : w->nbeta[j];
        res->se[j] = res->aliased[j] ? NAN : sqrt(res->vcov[j * p + j]);
        res->u[j] = w->u[j];
    }
    /* Wald: beta' I beta over the estimable coefficients (R's coxph.wtest) */
    for (size_t r = 0; r < p; r++)
        for (size_t c = 0; c < p; c++)
            if (!res->aliased[r] && !res->aliased[c])
                res->wald_test += w->nbeta[r] * w->I[r * p + c] * w->nbeta[c];
    for (size_t j = 0; j < p; j++)
        if (res->aliased[j])
            for (size_t k = 0; k < p; k++)
                res->vcov[j * p + k] = res->vcov[k * p + j] = NAN;
    res->lr_test = 2 * (res->loglik - res->loglik_null);
    res->n = d->n;
    res->n_events = d->n_events;
    res->w_events = d->w_events;
}

strata_status cox_newton(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const cox_params *prm,
                         const char *const *names, cox_result *res)
{
    const size_t p = d->p;
    nr_ws w;
    double oldll, newll;
    int halving = 0, iter;
    strata_status st = STRATA_OK;
    /* w.beta: the last accepted point; w.nbeta: the point evaluated next */
    if (!nr_alloc(ctx, p, &w)) {
        nr_free(ctx, &w);
        return STRATA_ENOMEM;
    }
    /* beta = 0: null log-likelihood, score test, first step */
    if ((st = cox_eval(d, ws, prm->ties, w.beta, &oldll, w.u, w.I)) != STRATA_OK) {
        nr_free(ctx, &w);
        return st;
    }
    res->evals++;
    res->loglik_null = oldll;
    newton_step(prm, p, &w);
    res->score_test = 0;
    for (size_t j = 0; j < p; j++) {
        res->score_test += w.u[j] * w.a[j];
        w.nbeta[j] = w.beta[j] + w.a[j];
    }
    newll = oldll;
    res->converged = 0;
    for (iter = 1; iter <= prm->max_iter; iter++) {
        int finite;
        if ((st = cox_eval(d, ws, prm->ties, w.nbeta, &newll, w.u, w.I)) != STRATA_OK)
            break;
        res->evals++;
        finite = all_finite(p, &newll, w.u, w.I);
        if (finite && fabs(1 - oldll / newll) <= prm->eps) {
            res->converged = 1;
            break;
        }
        if (iter == prm->max_iter)
            break;
        if (!finite || newll < oldll) {
            /* not converging: step back towards beta, more each time (R's rule) */
            halving++;
            for (size_t j = 0; j < p; j++)
                w.nbeta[j] = (w.nbeta[j] + halving * w.beta[j]) / (halving + 1.0);
        } else {
            halving = 0;
            oldll = newll;
            newton_step(prm, p, &w);
            memcpy(w.beta, w.nbeta, p * sizeof *w.beta);
            for (size_t j = 0; j < p; j++)
                w.nbeta[j] += w.a[j];
        }
    }
    res->iter = iter > prm->max_iter ? prm->max_iter : iter;
    if (!res->converged && prm->max_iter > 1) {
        /* out of iterations: the last accepted beta, re-evaluated */
        memcpy(w.nbeta, w.beta, p * sizeof *w.beta);
        if (st == STRATA_OK)
            st = cox_eval(d, ws, prm->ties, w.nbeta, &newll, w.u, w.I);
        res->evals++;
    }
    if (st != STRATA_OK) { /* a gather between the ranks failed */
        nr_free(ctx, &w);
        return st;
    }
    res->loglik = newll;
    newton_step(prm, p, &w); /* the factor of I at the final beta */
    finish(d, p, &w, res);
    warn_infinite(ctx, d, ws, prm, names, res);
    nr_free(ctx, &w);
    if (!res->converged)
        return STRATA_FAIL(ctx, STRATA_ENOCONV,
                           "cox: ran out of iterations (%d) and did not converge; loglik %.10g",
                           prm->max_iter, res->loglik);
    return STRATA_OK;
}
