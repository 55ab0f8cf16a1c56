/* labels: unit determinism models */
/* tests/test_kernels.c — the IRLS pass kernels (gram.c) in every variant this CPU
 * runs: pack and axpy byte-identical to the C code, the Gram against a plain sum
 * to 1e-13 and AVX-512 = AVX2 bytes, tails included; and linalg.c's pivoted solve
 * in a reused workspace and its nesting BLAS single-thread sections; the GLM's
 * AVX-512 binomial row step (glm_rowstep.c) against R's formulas with libm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "glm_fit.h"
#include <cblas.h>
#include "testutil.h"

#include <float.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2 - 1;
}

enum { M = 203, P = 13 }; /* M not a multiple of 8; P + 1 = 14 -> ld 16 */

typedef struct data {
    double *col[P], *s, *v, *A;
    size_t ld;
} data;

static void make(data *d)
{
    d->ld = la_gram_ld(P + 1);
    for (int j = 0; j < P; j++) {
        d->col[j] = malloc(M * sizeof(double));
        for (int k = 0; k < M; k++)
            d->col[j][k] = urand();
    }
    d->s = malloc(M * sizeof(double));
    d->v = malloc(M * sizeof(double));
    for (int k = 0; k < M; k++)
        d->s[k] = 0.5 + urand() * urand(), d->v[k] = urand();
    d->A = aligned_alloc(64, M * d->ld * sizeof(double) + 64);
}

static void drop(data *d)
{
    for (int j = 0; j < P; j++)
        free(d->col[j]);
    free(d->s), free(d->v), free(d->A);
}

static void test_kernels__pack_and_axpy_same_bytes_as_c(void **state)
{
    la_kernels c, k;
    data d;
    double *ref;
    (void)state;
    make(&d);
    assert_int_equal(la_kernels_get(LA_ISA_C, &c), 1);
    ref = aligned_alloc(64, M * d.ld * sizeof(double) + 64);
    memset(ref, 0xAB, M * d.ld * sizeof(double));
    c.pack(M, P, d.ld, (const double *const *)d.col, d.s, d.v, ref);
    for (int k0 = 0; k0 < M; k0++) {
        assert_true(ref[(size_t)k0 * d.ld + 2] == d.s[k0] * d.col[2][k0]);
        assert_true(ref[(size_t)k0 * d.ld + P] == d.v[k0]);
        assert_true(ref[(size_t)k0 * d.ld + P + 1] == 0.0);
    }
    for (la_isa isa = LA_ISA_AVX512; isa <= LA_ISA_C; isa++) {
        double y1[M], y2[M];
        if (!la_kernels_get(isa, &k))
            continue;
        memset(d.A, 0xCD, M * d.ld * sizeof(double));
        k.pack(M, P, d.ld, (const double *const *)d.col, d.s, d.v, d.A);
        assert_memory_equal(d.A, ref, M * d.ld * sizeof(double));
        for (int i = 0; i < M; i++)
            y1[i] = y2[i] = d.v[i];
        c.axpy(M, 0.37, d.col[0], y1);
        k.axpy(M, 0.37, d.col[0], y2);
        assert_memory_equal(y1, y2, sizeof y1);
    }
    free(ref);
    drop(&d);
}

/* The factor scatter (per-level sums of s-weighted rows): every ISA gives the
 * C code's bytes, and a level's sums are the plain row-order sums; rows with
 * s = 0 add nothing. */
static void test_kernels__scatter_same_bytes_as_c_and_plain_sums(void **state)
{
    enum { NL = 5 };
    la_kernels c, k;
    data d;
    int lev[M];
    double s[M], *Bref, *B, Dref[NL], D[NL];
    (void)state;
    make(&d);
    assert_int_equal(la_kernels_get(LA_ISA_C, &c), 1);
    c.pack(M, P, d.ld, (const double *const *)d.col, d.s, d.v, d.A);
    for (int i = 0; i < M; i++) {
        lev[i] = (i * 7) % NL;
        s[i] = i % 11 == 3 ? 0.0 : d.s[i];
    }
    Bref = calloc(NL * d.ld, sizeof *Bref);
    B = calloc(NL * d.ld, sizeof *B);
    memset(Dref, 0, sizeof Dref);
    c.scatter(M, d.ld, d.A, s, lev, Bref, Dref);
    for (int l = 0; l < NL; l++) {
        double b2 = 0, dd = 0;
        for (int i = 0; i < M; i++)
            if (lev[i] == l && s[i] != 0) {
                b2 += s[i] * d.A[(size_t)i * d.ld + 2];
                dd += s[i] * s[i];
            }
        assert_true(Bref[(size_t)l * d.ld + 2] == b2);
        assert_true(Dref[l] == dd);
    }
    for (la_isa isa = LA_ISA_AVX512; isa <= LA_ISA_C; isa++) {
        if (!la_kernels_get(isa, &k))
            continue;
        memset(B, 0, NL * d.ld * sizeof *B);
        memset(D, 0, sizeof D);
        k.scatter(M, d.ld, d.A, s, lev, B, D);
        assert_memory_equal(B, Bref, NL * d.ld * sizeof *B);
        assert_memory_equal(D, Dref, sizeof D);
    }
    free(Bref);
    free(B);
    drop(&d);
}

static void test_kernels__gram_matches_plain_sum_and_isas_agree(void **state)
{
    la_kernels c, k;
    data d;
    size_t ld;
    double *G[3] = {NULL, NULL, NULL};
    int have[3] = {0, 0, 0};
    (void)state;
    make(&d);
    ld = d.ld;
    assert_int_equal(la_kernels_get(LA_ISA_C, &c), 1);
    c.pack(M, P, ld, (const double *const *)d.col, d.s, d.v, d.A);
    for (int v = 0; v < 3; v++) {
        if (!la_kernels_get((la_isa)(LA_ISA_AVX512 + v), &k))
            continue;
        have[v] = 1;
        G[v] = calloc(ld * ld, sizeof(double));
        for (size_t i = 0; i < ld * ld; i++)
            G[v][i] = 1.0; /* the kernel adds to C */
        k.gram(M, ld, d.A, G[v]);
        /* entry (i, j), i >= j, at j * ld + i */
        for (size_t j = 0; j < P + 1; j++)
            for (size_t i = j; i < P + 1; i++) {
                double want = 0, mag = 0;
                for (size_t r = 0; r < M; r++) {
                    want += d.A[r * ld + i] * d.A[r * ld + j];
                    mag += fabs(d.A[r * ld + i] * d.A[r * ld + j]);
                }
                assert_abs_close(G[v][j * ld + i] - 1.0, want, 1e-13 * mag, "isa %d entry %zu,%zu",
                                 v, i, j);
            }
    }
    assert_true(have[2]);
    if (have[0] && have[1])
        for (size_t j = 0; j < ld; j++)
            for (size_t i = j; i < ld; i++)
                assert_true(G[0][j * ld + i] == G[1][j * ld + i]);
    for (int v = 0; v < 3; v++)
        free(G[v]);
    drop(&d);
}

/* X = [1, x, 1 + x] for x = 0..4, y = (1, 3, 2, 5, 4): the third column is
 * aliased (R: NA); the rest is the least-squares line 1.4 + 0.8 x with
 * (X^T X)^-1 = [[0.6, -0.2], [-0.2, 0.1]]. One workspace serves both sizes. */
/* R's binomial row with libm (glm_pass.c's irls_row): s, s z and the deviance term. */
static double logit_row_ref(double y, double wt, double e, double o, double *s, double *v)
{
    double t = exp(e), opexp = 1 + t;
    double tc = e < -30.0 ? DBL_EPSILON : e > 30.0 ? 1.0 / DBL_EPSILON : t;
    double mu = tc / (1 + tc), me = (e > 30.0 || e < -30.0) ? DBL_EPSILON : t / (opexp * opexp);
    double vr = mu * (1 - mu), d = 0;
    *s = *v = 0;
    if (wt > 0 && me != 0) {
        *s = sqrt(wt * me * me / vr);
        *v = *s * ((e - o) + (y - mu) / me);
    }
    if (y != 0)
        d += y * log(y / mu);
    if (1 - y != 0)
        d += (1 - y) * log((1 - y) / (1 - mu));
    return 2 * wt * d;
}

static void test_kernels__logit_rowstep_matches_libm_rows(void **state)
{
    enum { R = 203 };
    double y[R], wt[R], eta[R], off[R], s[R], v[R], dv[R];
    (void)state;
    if (!glm_rowstep_avx512())
        skip();
    for (int i = 0; i < R; i++) {
        /* eta over [-36, 36] with the clamps at +-30 exactly, a NaN; y 0, 1 or a
         * proportion; weights 0, 1 or 2.5 */
        eta[i] = i == 7 ? 30.0 : i == 8 ? -30.0 : i == 9 ? NAN : 36.0 * urand();
        y[i] = i % 3 == 0 ? 0.0 : i % 3 == 1 ? 1.0 : 0.5 + 0.4 * urand();
        wt[i] = i % 11 == 0 ? 0.0 : i % 5 == 0 ? 2.5 : 1.0;
        off[i] = 0.25 * urand();
    }
    for (int with_off = 0; with_off < 2; with_off++) {
        glm_logit_rows(R, y, wt, eta, with_off ? off : NULL, s, v, dv);
        for (int i = 0; i < R; i++) {
            double rs, rv, rd = logit_row_ref(y[i], wt[i], eta[i], with_off ? off[i] : 0, &rs, &rv);
            if (isnan(eta[i])) {
                assert_true(isnan(dv[i])); /* a NaN eta: a non-finite deviance (step-halving) */
                continue;
            }
            if (fabs(s[i] - rs) > 1e-14 * fabs(rs) || fabs(v[i] - rv) > 1e-14 * fabs(rv) + 1e-300 ||
                fabs(dv[i] - rd) > 1e-14 * fabs(rd) + 1e-300)
                fail_msg("row %d (eta %g y %g wt %g): s %.17g / %.17g, v %.17g / %.17g, dev %.17g / %.17g", i,
                         eta[i], y[i], wt[i], s[i], rs, v[i], rv, dv[i], rd);
        }
    }
}

static void test_solve__aliased_column_exact_solution_reused_workspace(void **state)
{
    strata_ctx *ctx = NULL;
    la_solve_ws *ws;
    const double G[9] = {5, 10, 15, 10, 30, 40, 15, 40, 55}, g[3] = {15, 38, 53};
    const double G2[4] = {5, 10, 10, 30};
    double beta[3], inv[9];
    unsigned char al[3];
    (void)state;
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    ws = la_solve_ws_alloc(ctx, 3);
    assert_non_null(ws);
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(la_solve_pivoted(ws, 3, G, g, beta, al, inv), 2);
        assert_int_equal(al[0], 0), assert_int_equal(al[1], 0), assert_int_equal(al[2], 1);
        assert_rel_close(beta[0], 1.4, 1e-14, "intercept (rep %d)", rep);
        assert_rel_close(beta[1], 0.8, 1e-14, "slope (rep %d)", rep);
        assert_true(isnan(beta[2]));
        assert_rel_close(inv[0], 0.6, 1e-14, "inv[0,0]");
        assert_rel_close(inv[1], -0.2, 1e-14, "inv[0,1]");
        assert_rel_close(inv[4], 0.1, 1e-14, "inv[1,1]");
        assert_true(isnan(inv[2]) && isnan(inv[8]));
        /* a smaller system in the same workspace: the same answer, full rank */
        assert_int_equal(la_solve_pivoted(ws, 2, G2, g, beta, al, NULL), 2);
        assert_rel_close(beta[0], 1.4, 1e-14, "intercept, p = 2");
        assert_rel_close(beta[1], 0.8, 1e-14, "slope, p = 2");
    }
    assert_int_equal(la_solve_pivoted(ws, 4, G, g, beta, al, NULL), -1); /* larger than the workspace */
    la_solve_ws_free(ctx, ws);
    la_solve_ws_free(ctx, NULL);
    strata_ctx_free(ctx);
}

/* Single-thread sections nest: BLAS runs on 1 thread until the outermost ends,
 * then the count is what it was. */
static void test_blas__single_thread_sections_nest(void **state)
{
    char before[512], in[512], after[512];
    (void)state;
    strata_blas_config(before, sizeof before);
    la_blas_single_begin();
    la_blas_single_begin();
    la_blas_single_end();
    strata_blas_config(in, sizeof in);
    assert_contains(in, "threads=1");
    la_blas_single_end();
    strata_blas_config(after, sizeof after);
    assert_string_equal(before, after);
    la_blas_single_end(); /* an unmatched end changes nothing */
    strata_blas_config(after, sizeof after);
    assert_string_equal(before, after);
}

/* After strata_blas_pin_single (the CLI's, once per process) OpenBLAS stays on
 * one thread: single-thread sections neither set nor restore its count (after
 * a fork any set would start its idle-spinning pool again), and the reported
 * configuration is the one before the pin. Runs last: the pin is for good. */
static void test_blas__pin_single_keeps_one_thread_and_the_report(void **state)
{
    char before[512], in[512], after[512];
    (void)state;
    strata_blas_config(before, sizeof before);
    strata_blas_pin_single();
    assert_int_equal(openblas_get_num_threads(), 1);
    la_blas_single_begin();
    assert_int_equal(openblas_get_num_threads(), 1);
    strata_blas_config(in, sizeof in);
    la_blas_single_end();
    assert_int_equal(openblas_get_num_threads(), 1);
    strata_blas_pin_single(); /* a second pin changes nothing */
    strata_blas_config(after, sizeof after);
    assert_string_equal(before, in);
    assert_string_equal(before, after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels__pack_and_axpy_same_bytes_as_c),
        cmocka_unit_test(test_kernels__scatter_same_bytes_as_c_and_plain_sums),
        cmocka_unit_test(test_kernels__gram_matches_plain_sum_and_isas_agree),
        cmocka_unit_test(test_kernels__logit_rowstep_matches_libm_rows),
        cmocka_unit_test(test_solve__aliased_column_exact_solution_reused_workspace),
        cmocka_unit_test(test_blas__single_thread_sections_nest),
        cmocka_unit_test(test_blas__pin_single_keeps_one_thread_and_the_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
