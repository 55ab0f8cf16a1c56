/* models/linalg/linalg.c — the only code in strata that calls CBLAS/LAPACKE: the
 * linear predictor when scoring (dgemv) and the Cholesky solve with R-order aliasing (columns linearly dependent on
 * earlier ones are dropped, as R's dqrdc2 does). The IRLS pass itself runs
 * strata's own kernels (models/linalg/gram.c). Invariant: BLAS runs on one thread
 * inside our OpenMP regions, so every partial is bit-reproducible. */
#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

int la_blas_threads(int n)
{
    int old = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return old;
}

void la_gemv(size_t nb, size_t p, const double *X, const double *beta, double *eta)
{
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)nb, (int)p, 1.0, X, (int)nb, beta, 1, 0.0, eta,
                1);
}

/* Relative pivot below which a column counts as aliased: R's dqrdc2 drops a
 * column whose remaining norm is < 1e-7 of its original norm; Cholesky pivots
 * are squared norms, and we allow for the squared rounding of the Gram. */
#define ALIAS_TOL 1e-11

int la_solve_pivoted(strata_ctx *ctx, size_t p, const double *G, const double *g, double *beta,
                     unsigned char *aliased, double *inv)
{
    /* Sequential (R-order) Cholesky on the upper triangle, column-major:
     * column j is aliased when its pivot is tiny relative to G_jj. */
    double *L = strata_calloc(ctx, p * p + 1, sizeof *L);
    double *R = strata_calloc(ctx, p * p + 1, sizeof *R);
    double *b = strata_calloc(ctx, p + 1, sizeof *b);
    size_t *keep = strata_calloc(ctx, p + 1, sizeof *keep);
    size_t r = 0;
    int rank;
    if (!L || !R || !b || !keep) {
        strata_free(ctx, L, 0);
        strata_free(ctx, R, 0);
        strata_free(ctx, b, 0);
        strata_free(ctx, keep, 0);
        return -1;
    }
    /* U (upper, r x r over kept columns) with U^T U = G_kept, built column by column */
    for (size_t j = 0; j < p; j++) {
        double gjj = G[j * p + j], d;
        /* solve U^T u = G_kept,j for the new column */
        for (size_t a = 0; a < r; a++) {
            size_t ka = keep[a];
            double s = G[(ka <= j) ? j * p + ka : ka * p + j];
            for (size_t c = 0; c < a; c++)
                s -= L[a * p + c] * R[c];
            R[a] = s / L[a * p + a];
        }
        d = gjj;
        for (size_t a = 0; a < r; a++)
            d -= R[a] * R[a];
        aliased[j] = !(gjj > 0) || !(d > ALIAS_TOL * gjj);
        if (aliased[j])
            continue;
        /* store column r of U as row r of L (L = U^T, row-major r x r) */
        for (size_t a = 0; a < r; a++)
            L[r * p + a] = R[a];
        L[r * p + r] = sqrt(d);
        keep[r++] = j;
    }
    rank = (int)r;
    /* LAPACK: factor and solve the kept system, and invert it */
    for (size_t a = 0; a < r; a++)
        for (size_t c = 0; c < r; c++) {
            size_t ka = keep[a], kc = keep[c];
            R[c * r + a] = G[(ka <= kc) ? kc * p + ka : ka * p + kc]; /* col-major r x r */
        }
    for (size_t a = 0; a < r; a++)
        b[a] = g[keep[a]];
    if (r > 0 && LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)r, R, (int)r) != 0) {
        rank = -2;
    } else if (r > 0) {
        LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (int)r, 1, R, (int)r, b, (int)r);
        LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', (int)r, R, (int)r);
    }
    for (size_t j = 0; j < p; j++)
        beta[j] = NAN;
    if (inv)
        for (size_t j = 0; j < p * p; j++)
            inv[j] = NAN;
    if (rank >= 0) {
        for (size_t a = 0; a < r; a++) {
            beta[keep[a]] = b[a];
            if (inv)
                for (size_t c = 0; c < r; c++) {
                    double x = a <= c ? R[c * r + a] : R[a * r + c];
                    inv[keep[a] * p + keep[c]] = x;
                }
        }
    }
    strata_free(ctx, L, 0);
    strata_free(ctx, R, 0);
    strata_free(ctx, b, 0);
    strata_free(ctx, keep, 0);
    return rank;
}

void strata_blas_config(char *buf, size_t size)
{
    if (buf && size)
        snprintf(buf, size, "%s; threads=%d", openblas_get_config(), openblas_get_num_threads());
}
