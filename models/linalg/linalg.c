/* models/linalg/linalg.c — the models' only CBLAS/LAPACK/openblas_* caller (la_probe.c
 * times DGEMM for strata bench): dgemv for
 * scoring, the Cholesky solve with R-order aliasing (as R's dqrdc2) in a
 * caller-owned workspace, the BLAS thread sections. Invariant: BLAS runs on one
 * thread inside our OpenMP regions, so every partial is bit-reproducible. */
#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* OpenBLAS keeps one thread count per process; this lock and depth make the
 * single-threaded sections of concurrent callers nest (linalg.h). */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_depth, blas_saved;
static int blas_pinned; /* strata_blas_pin_single: the count before it, else 0 */

/* A section already on one thread calls nothing: after a fork (the HDF5
 * probe's child), OpenBLAS 0.3.21 shut its pool down in the parent, and any
 * openblas_set_num_threads starts it again, a thread that spins (sched_yield)
 * for up to ~0.1 s waiting for work (issue 19: ~11 ms CPU of a diabetes fit). */
void la_blas_single_begin(void)
{
    pthread_mutex_lock(&blas_lock);
    if (blas_depth++ == 0) {
        blas_saved = openblas_get_num_threads();
        if (blas_saved != 1)
            openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&blas_lock);
}

void la_blas_single_end(void)
{
    pthread_mutex_lock(&blas_lock);
    if (blas_depth > 0 && --blas_depth == 0 && blas_saved != 1 && !blas_pinned)
        openblas_set_num_threads(blas_saved);
    pthread_mutex_unlock(&blas_lock);
}

void strata_blas_pin_single(void)
{
    pthread_mutex_lock(&blas_lock);
    if (!blas_pinned) {
        blas_pinned = blas_depth ? blas_saved : openblas_get_num_threads();
        if (blas_pinned < 1)
            blas_pinned = 1;
        if (!blas_depth && blas_pinned != 1)
            openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&blas_lock);
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

struct la_solve_ws {
    size_t p;      /* largest system */
    double *L, *R; /* p x p each: the sequential factor, then LAPACK's */
    double *b;     /* p: right-hand side of the kept system */
    size_t *keep;  /* p: kept (non-aliased) columns in order */
};

la_solve_ws *la_solve_ws_alloc(strata_ctx *ctx, size_t p)
{
    la_solve_ws *ws = strata_calloc(ctx, 1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->p = p;
    /* not zeroed: every entry is written before it is read (la_solve_pivoted),
     * and at p in the thousands zeroing would first-touch 2 p^2 doubles that a
     * Schur solve (models/glm/glm_schur.c) never uses */
    ws->L = strata_alloc(ctx, (p * p + 1) * sizeof *ws->L);
    ws->R = strata_alloc(ctx, (p * p + 1) * sizeof *ws->R);
    ws->b = strata_calloc(ctx, p + 1, sizeof *ws->b);
    ws->keep = strata_calloc(ctx, p + 1, sizeof *ws->keep);
    if (!ws->L || !ws->R || !ws->b || !ws->keep) {
        la_solve_ws_free(ctx, ws);
        return NULL;
    }
    return ws;
}

void la_solve_ws_free(strata_ctx *ctx, la_solve_ws *ws)
{
    if (!ws)
        return;
    strata_free(ctx, ws->L, 0);
    strata_free(ctx, ws->R, 0);
    strata_free(ctx, ws->b, 0);
    strata_free(ctx, ws->keep, 0);
    strata_free(ctx, ws, sizeof *ws);
}

int la_solve_pivoted(la_solve_ws *ws, size_t p, const double *G, const double *g, double *beta,
                     unsigned char *aliased, double *inv)
{
    /* Sequential (R-order) Cholesky on the upper triangle, column-major:
     * column j is aliased when its pivot is tiny relative to G_jj. The
     * workspace is reused: every entry read below is written first. */
    double *L = ws->L, *R = ws->R, *b = ws->b;
    size_t *keep = ws->keep, r = 0;
    int rank;
    if (p > ws->p)
        return -1;
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
    /* on one BLAS thread: OpenBLAS's threaded dpotrf/dpotri (large r, e.g. the
     * Schur solve's blocks) round differently with OPENBLAS_NUM_THREADS, and
     * the bytes must not depend on it */
    la_blas_single_begin();
    if (r > 0 && LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)r, R, (int)r) != 0) {
        rank = -2;
    } else if (r > 0) {
        LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (int)r, 1, R, (int)r, b, (int)r);
        LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', (int)r, R, (int)r);
    }
    la_blas_single_end();
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
    return rank;
}

void strata_blas_config(char *buf, size_t size)
{
    if (buf && size)
        snprintf(buf, size, "%s; threads=%d", openblas_get_config(),
                 blas_pinned ? blas_pinned : openblas_get_num_threads());
}
