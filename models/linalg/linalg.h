/* models/linalg/linalg.h — the linear-algebra layer: the only code that calls
 * CBLAS/LAPACKE/openblas_* (linalg.c) and strata's own Gram, pack and axpy
 * micro-kernels (gram.c, AVX-512/AVX2/C chosen at run time). Estimators in
 * models/ reach BLAS only through here. Depends on engine/core only. */
#ifndef STRATA_LINALG_H
#define STRATA_LINALG_H

#include "internal.h"

#include <stddef.h>

/* eta = X beta for a column-major nb x p block X (leading dimension nb): one
 * dgemv. Call it inside la_blas_single_begin/end when several threads run it. */
void la_gemv(size_t nb, size_t p, const double *X, const double *beta, double *eta);

/* Workspace of la_solve_pivoted for systems of up to p x p, allocated once per
 * fit (GSL style) so that an IRLS iteration allocates nothing. */
typedef struct la_solve_ws la_solve_ws;
/* NULL (ENOMEM recorded on ctx) when memory runs out. */
la_solve_ws *la_solve_ws_alloc(strata_ctx *ctx, size_t p);
void la_solve_ws_free(strata_ctx *ctx, la_solve_ws *ws); /* accepts NULL */
/* Solves G beta = g for the full-rank part, p <= the workspace's size. G (p x p,
 * upper) is not modified. aliased[j] = 1 for columns linearly dependent on
 * earlier ones (R's order, tol relative to the diagonal). inv (or NULL) receives
 * (G_kept)^-1 scattered into p x p (row-major, NaN for aliased). Returns the rank,
 * -1 when p exceeds the workspace, -2 when LAPACK finds the kept system not
 * positive definite. */
int la_solve_pivoted(la_solve_ws *ws, size_t p, const double *G, const double *g, double *beta,
                     unsigned char *aliased, double *inv);
/* models/linalg/gram.c: the Gram micro-kernel. A is row-major m x ld (ld = la_gram_ld(q),
 * columns q..ld-1 zero); C (ld x ld) gets C[j*ld + i] += sum_k A[k,i] A[k,j] for
 * every i >= j (entries with i < j inside a diagonal 8 x 8 tile are also written
 * and must be ignored). Each entry is summed over the m rows in row order from 0
 * and then added to C. */
typedef void (*la_gram_fn)(size_t m, size_t ld, const double *A, double *C);
/* A (row-major m x ld, 64-byte aligned, ld a multiple of 8) = [s_k cols[j][k]
 * for j < p, v_k, zeros]: the weighted design of a sub-block for la_gram_fn. */
typedef void (*la_pack_fn)(size_t m, size_t p, size_t ld, const double *const *cols,
                           const double *s, const double *v, double *A);
/* y[i] += b * x[i] (a multiply, then an add). */
typedef void (*la_axpy_fn)(size_t n, double b, const double *x, double *y);
/* Per-level sums of a factor (models/glm/glm_fpass.c): for each row i < m in
 * order with s[i] != 0, D[l] += s[i] s[i] and B[l ld + c] += s[i] A[i ld + c]
 * for c < ld, l = lev[i] (A as la_pack_fn makes it; a multiply, then an add). */
typedef void (*la_scatter_fn)(size_t m, size_t ld, const double *A, const double *s, const int *lev,
                              double *B, double *D);
typedef enum la_isa { LA_ISA_AUTO = 0, LA_ISA_AVX512, LA_ISA_AVX2, LA_ISA_C } la_isa;
typedef struct la_kernels {
    la_gram_fn gram;
    la_pack_fn pack;
    la_axpy_fn axpy;
    la_scatter_fn scatter;
    const char *name; /* "avx512", "avx2" or "c" */
} la_kernels;
/* Leading dimension for q columns: q rounded up to a multiple of 8. */
size_t la_gram_ld(size_t q);
/* The kernels for isa (AUTO: the best this CPU runs); 0 when the CPU lacks it. */
int la_kernels_get(la_isa isa, la_kernels *k);
/* Single-threaded BLAS inside our OpenMP regions. OpenBLAS's thread count is
 * process-wide, so the calls nest under a lock: the first begin saves the count
 * and sets 1, the last end restores it; callers on several threads at once
 * (scoring one model from several threads) never see a half-restored count. */
void la_blas_single_begin(void);
void la_blas_single_end(void);

/* la_probe.c: this node's limits for `strata bench`, best of reps after a
 * warm-up. DGEMM GFLOP/s (m x m x m, OpenBLAS on threads threads) and read
 * bandwidth in GB/s (sum of bytes of doubles on threads threads); 0 when the
 * buffers cannot be allocated. */
double la_probe_dgemm(strata_ctx *ctx, int m, int threads, int reps);
double la_probe_read(strata_ctx *ctx, size_t bytes, int threads, int reps);

#endif
