/* models/glm/glm_schur.c — the IRLS solve when one factor has many levels:
 * its block of X^T W X is diagonal (D), so the system is solved through the
 * Schur complement S = C - B^T D^-1 B of the other q columns (O(L q^2) instead
 * of O(p^3)), and the inverse assembled from S^-1. A level without weight is
 * a zero column, aliased as the pivoted solve aliases it (it touches no other
 * pivot). Invariant: used only when S has full rank (then the rest of the
 * solution is unique and R's aliasing order cannot matter); otherwise the
 * pivoted dense solve runs, exactly as without it. */
#include "glm_fit.h"

#include <math.h>
#include <string.h>

struct glm_schur {
    size_t L, q;        /* level columns of the big factor; the other columns */
    size_t *fcol, *rcol;
    double *D, *B, *E;  /* L; L x q (then E S^-1); L x q: D^-1 B */
    double *S, *invS;   /* q x q */
    double *gR, *bR;    /* q */
    unsigned char *alR; /* q */
    double *Gd;         /* p x p: the Gram scattered for the pivoted solve (touched only then) */
    int have_inv;       /* 1: the last solve was a Schur one asked for its inverse (M in B) */
};

strata_status glm_schur_alloc(strata_ctx *ctx, fitdata *d)
{
    size_t big = 0, L = 0, q;
    glm_schur *s;
    for (size_t a = 0; a < d->nfac; a++)
        if (d->fac[a].L > L)
            L = d->fac[a].L, big = a;
    if (L < GLM_SCHUR_MIN_LEVELS)
        return STRATA_OK;
    if (!(s = d->schur = strata_calloc(ctx, 1, sizeof *s)))
        return STRATA_ENOMEM;
    s->fcol = strata_alloc(ctx, (d->p + 1) * sizeof *s->fcol);
    s->rcol = strata_alloc(ctx, (d->p + 1) * sizeof *s->rcol);
    if (!s->fcol || !s->rcol)
        return STRATA_ENOMEM;
    for (size_t j = 0; j < d->p; j++) {
        if (d->jfac[j] == (int)big)
            s->fcol[s->L++] = j;
        else
            s->rcol[s->q++] = j;
    }
    L = s->L, q = s->q;
    s->D = strata_alloc(ctx, (L + 1) * sizeof *s->D);
    s->B = strata_alloc(ctx, (L * q + 1) * sizeof *s->B);
    s->E = strata_alloc(ctx, (L * q + 1) * sizeof *s->E);
    s->S = strata_alloc(ctx, (q * q + 1) * sizeof *s->S);
    s->invS = strata_alloc(ctx, (q * q + 1) * sizeof *s->invS);
    s->gR = strata_alloc(ctx, (q + 1) * sizeof *s->gR);
    s->bR = strata_alloc(ctx, (q + 1) * sizeof *s->bR);
    s->alR = strata_alloc(ctx, q + 1);
    s->Gd = strata_alloc(ctx, (d->p * d->p + 1) * sizeof *s->Gd);
    if (!s->D || !s->B || !s->E || !s->S || !s->invS || !s->gR || !s->bR || !s->alR || !s->Gd)
        return STRATA_ENOMEM;
    return STRATA_OK;
}

void glm_schur_free(strata_ctx *ctx, glm_schur *s)
{
    if (!s)
        return;
    strata_free(ctx, s->fcol, 0);
    strata_free(ctx, s->rcol, 0);
    strata_free(ctx, s->D, 0);
    strata_free(ctx, s->B, 0);
    strata_free(ctx, s->E, 0);
    strata_free(ctx, s->S, 0);
    strata_free(ctx, s->invS, 0);
    strata_free(ctx, s->gR, 0);
    strata_free(ctx, s->bR, 0);
    strata_free(ctx, s->alR, 0);
    strata_free(ctx, s->Gd, 0);
    strata_free(ctx, s, sizeof *s);
}

/* The inverse's factors from S^-1: M = E S^-1 (into B). The inverse is then
 * [[D^-1 + M E^T, -M], [-M^T, S^-1]]; glm_schur_bvcov hands it to the model
 * in that block form (L q^2 here, never the L x L block). */
static void schur_inverse(glm_schur *s)
{
    const size_t L = s->L, q = s->q;
    for (size_t a = 0; a < L; a++)
        for (size_t l = 0; l < q; l++) {
            double t = 0;
            for (size_t k = 0; k < q; k++)
                t += s->E[a * q + k] * s->invS[k * q + l];
            s->B[a * q + l] = t;
        }
    s->have_inv = 1;
}

/* The Schur solve from the compact total T (glm_fpass_reduce) and g: the
 * rank, or 0 when it does not apply (S not of full rank). */
static int schur_solve(const fitdata *d, la_solve_ws *ws, size_t p, const double *T, const double *g,
                       double *beta, unsigned char *al, double *inv)
{
    glm_schur *s = d->schur;
    const size_t L = s->L, q = s->q;
    size_t nzero = 0;
    for (size_t a = 0; a < L; a++) {
        double da = glm_fpass_entry(d, T, s->fcol[a], s->fcol[a]);
        s->D[a] = da > 0 ? da : 0; /* 0: a level without weight (aliased) */
        nzero += !(da > 0);
        for (size_t k = 0; k < q; k++) {
            s->B[a * q + k] = da > 0 ? glm_fpass_entry(d, T, s->fcol[a], s->rcol[k]) : 0;
            s->E[a * q + k] = da > 0 ? s->B[a * q + k] / da : 0;
        }
    }
    /* S = C - B^T D^-1 B and its right-hand side g_R - E^T g_F (upper, as G) */
    for (size_t k = 0; k < q; k++) {
        for (size_t l = 0; l < q; l++)
            s->S[l * q + k] = glm_fpass_entry(d, T, s->rcol[k], s->rcol[l]);
        s->gR[k] = g[s->rcol[k]];
    }
    for (size_t a = 0; a < L; a++) {
        const double *Ba = s->B + a * q, *Ea = s->E + a * q;
        double gf = g[s->fcol[a]];
        for (size_t l = 0; l < q; l++) {
            double *Sl = s->S + l * q;
            for (size_t k = 0; k <= l; k++)
                Sl[k] -= Ba[k] * Ea[l];
            s->gR[l] -= Ea[l] * gf;
        }
    }
    if (la_solve_pivoted(ws, q, s->S, s->gR, s->bR, s->alR, s->invS) != (int)q)
        return 0;
    /* beta_R from S; beta_F = D^-1 (g_F - B beta_R) */
    memset(al, 0, p);
    for (size_t k = 0; k < q; k++)
        beta[s->rcol[k]] = s->bR[k];
    for (size_t a = 0; a < L; a++) {
        double t = g[s->fcol[a]];
        for (size_t k = 0; k < q; k++)
            t -= s->B[a * q + k] * s->bR[k];
        al[s->fcol[a]] = s->D[a] == 0;
        beta[s->fcol[a]] = s->D[a] > 0 ? t / s->D[a] : NAN;
    }
    if (inv)
        schur_inverse(s);
    return (int)(p - nzero);
}

int glm_solve(fitdata *d, la_solve_ws *ws, size_t p, const double *G, const double *g, double *beta,
              unsigned char *al, double *inv)
{
    int rank;
    if (!d->schur)
        return la_solve_pivoted(ws, p, G, g, beta, al, inv);
    d->schur->have_inv = 0;
    if ((rank = schur_solve(d, ws, p, G, g, beta, al, inv)) > 0)
        return rank;
    /* S not of full rank: the pivoted solve on the scattered Gram */
    for (size_t c = 0; c < p; c++)
        for (size_t r = 0; r <= c; r++)
            d->schur->Gd[c * p + r] = glm_fpass_entry(d, G, r, c);
    return la_solve_pivoted(ws, p, d->schur->Gd, g, beta, al, inv);
}

int glm_schur_has_inverse(const fitdata *d) { return d->schur && d->schur->have_inv; }

/* The block covariance of the last solve, phi included (glm_bvcov in
 * glm_internal.h): dense = phi S^-1, cross = -phi M, ldiag = phi / D and
 * lfac = E; an aliased level's rows NaN. */
glm_bvcov *glm_schur_bvcov(strata_ctx *ctx, const fitdata *d, double phi)
{
    const glm_schur *s = d->schur;
    const size_t L = s->L, q = s->q;
    glm_bvcov *bv = glm_bvcov_alloc(ctx, L, q);
    if (!bv)
        return NULL;
    memcpy(bv->lcol, s->fcol, L * sizeof *bv->lcol);
    memcpy(bv->rcol, s->rcol, q * sizeof *bv->rcol);
    for (size_t k = 0; k < q; k++)
        for (size_t l = 0; l < q; l++)
            bv->dense[k * q + l] = s->invS[k * q + l] * phi;
    for (size_t a = 0; a < L; a++) {
        int ok = s->D[a] > 0;
        bv->ldiag[a] = ok ? phi / s->D[a] : NAN;
        for (size_t k = 0; k < q; k++) {
            bv->cross[a * q + k] = ok ? -(s->B[a * q + k] * phi) : NAN;
            bv->lfac[a * q + k] = ok ? s->E[a * q + k] : NAN;
        }
    }
    return bv;
}
