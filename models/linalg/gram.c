/* models/linalg/gram.c — the IRLS pass kernels, in AVX-512 and AVX2 variants chosen at
 * run time (__builtin_cpu_supports; no global -march flag) and a portable C
 * fallback:
 *   gram: C += A^T A (lower triangle) for a row-major sub-block A (m rows,
 *         ld = q rounded up to 8 columns) held in cache;
 *   pack: A = [diag(s) X, v, 0] from the design columns (a weighted transpose);
 *   axpy: y += b x.
 *   scatter: per-level sums of s-weighted rows of A (a factor's Gram parts).
 * Invariants: every Gram entry is one fixed-order FMA chain over the
 * sub-block's rows, started at 0 and then added to C, so the AVX-512 and AVX2
 * variants give the same bits; pack and axpy round each product and sum exactly
 * as the C code does (multiply, then add: no FMA), so all three variants give
 * the same bits; nothing depends on the thread count. */
#include "linalg.h"

#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GRAM_X86 1
#include <immintrin.h>
#else
#define GRAM_X86 0
#endif

size_t la_gram_ld(size_t q)
{
    return (q + 7) & ~(size_t)7;
}

/* ---- portable fallback ---------------------------------------------------- */
/* Same entry set and row order as the vector kernels; without FMA the
 * products are rounded before the add, so its last bits may differ from them. */
static void gram_c(size_t m, size_t ld, const double *A, double *C)
{
    double acc[8];
    for (size_t j = 0; j < ld; j++)
        for (size_t i0 = j & ~(size_t)7; i0 < ld; i0 += 8) {
            memset(acc, 0, sizeof acc);
            for (size_t k = 0; k < m; k++) {
                const double *a = A + k * ld;
                double b = a[j];
                for (int l = 0; l < 8; l++)
                    acc[l] += a[i0 + (size_t)l] * b;
            }
            for (int l = 0; l < 8; l++)
                C[j * ld + i0 + (size_t)l] += acc[l];
        }
}

static void pack_c(size_t m, size_t p, size_t ld, const double *const *cols, const double *s,
                   const double *v, double *A)
{
    for (size_t k0 = 0; k0 < m; k0 += 8) {
        size_t kn = k0 + 8 <= m ? 8 : m - k0;
        for (size_t j = 0; j < p; j++) {
            const double *x = cols[j] + k0;
            for (size_t k = 0; k < kn; k++)
                A[(k0 + k) * ld + j] = s[k0 + k] * x[k];
        }
        for (size_t k = 0; k < kn; k++) {
            double *a = A + (k0 + k) * ld;
            a[p] = v[k0 + k];
            for (size_t j = p + 1; j < ld; j++)
                a[j] = 0;
        }
    }
}

static void axpy_c(size_t n, double b, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += b * x[i];
}

static void scatter_c(size_t m, size_t ld, const double *A, const double *s, const int *lev, double *B,
                      double *D)
{
    for (size_t i = 0; i < m; i++) {
        double si = s[i];
        const double *a = A + i * ld;
        double *b = B + (size_t)lev[i] * ld;
        if (si == 0)
            continue;
        D[lev[i]] += si * si;
        for (size_t c = 0; c < ld; c++)
            b[c] += si * a[c];
    }
}

#if GRAM_X86
/* ---- AVX-512: tiles of (8 j columns broadcast) x (W vectors of 8 i rows) ---- */
/* 8*W accumulators (W <= 3: 24 of the 32 zmm registers), W loads and 8
 * broadcasts per row of A for 8*W FMAs. */
#define TILE512(W)                                                                      \
    __attribute__((target("avx512f,fma"))) static void tile512_##W(                     \
        size_t m, size_t ld, const double *A, double *C, size_t j0, size_t i0)          \
    {                                                                                   \
        __m512d c[W][8];                                                                \
        for (int v = 0; v < W; v++)                                                     \
            for (int l = 0; l < 8; l++)                                                 \
                c[v][l] = _mm512_setzero_pd();                                          \
        for (size_t k = 0; k < m; k++) {                                                \
            const double *a = A + k * ld;                                               \
            __m512d x[W];                                                               \
            for (int v = 0; v < W; v++)                                                 \
                x[v] = _mm512_loadu_pd(a + i0 + 8 * (size_t)v);                         \
            for (int l = 0; l < 8; l++) {                                               \
                __m512d b = _mm512_set1_pd(a[j0 + (size_t)l]);                          \
                for (int v = 0; v < W; v++)                                             \
                    c[v][l] = _mm512_fmadd_pd(x[v], b, c[v][l]);                        \
            }                                                                           \
        }                                                                               \
        for (int l = 0; l < 8; l++)                                                     \
            for (int v = 0; v < W; v++) {                                               \
                double *o = C + (j0 + (size_t)l) * ld + i0 + 8 * (size_t)v;              \
                _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), c[v][l]));         \
            }                                                                           \
    }
TILE512(1)
TILE512(2)
TILE512(3)

__attribute__((target("avx512f,fma"))) static void gram_avx512(size_t m, size_t ld,
                                                              const double *A, double *C)
{
    size_t nv = ld / 8;
    for (size_t jb = 0; jb < nv; jb++)
        for (size_t iv = jb; iv < nv; iv += 3) {
            size_t w = nv - iv < 3 ? nv - iv : 3;
            if (w == 3)
                tile512_3(m, ld, A, C, 8 * jb, 8 * iv);
            else if (w == 2)
                tile512_2(m, ld, A, C, 8 * jb, 8 * iv);
            else
                tile512_1(m, ld, A, C, 8 * jb, 8 * iv);
        }
}

/* pack: 8 rows x 8 columns at a time, each column scaled by s and the 8 x 8
 * tile transposed in registers (unpack, then two 128-bit lane shuffles); rows
 * past the last multiple of 8 go through the C code. */
__attribute__((target("avx512f"))) static void pack_avx512(size_t m, size_t p, size_t ld,
                                                         const double *const *cols,
                                                         const double *s, const double *v,
                                                         double *A)
{
    size_t m8 = m & ~(size_t)7;
    for (size_t k0 = 0; k0 < m8; k0 += 8) {
        __m512d sv = _mm512_loadu_pd(s + k0);
        for (size_t j0 = 0; j0 < ld; j0 += 8) {
            __m512d r[8], t[8], u[8];
            for (size_t l = 0; l < 8; l++) {
                size_t j = j0 + l;
                if (j < p)
                    r[l] = _mm512_mul_pd(sv, _mm512_loadu_pd(cols[j] + k0));
                else if (j == p)
                    r[l] = _mm512_loadu_pd(v + k0);
                else
                    r[l] = _mm512_setzero_pd();
            }
            for (int l = 0; l < 8; l += 2) {
                t[l] = _mm512_unpacklo_pd(r[l], r[l + 1]);
                t[l + 1] = _mm512_unpackhi_pd(r[l], r[l + 1]);
            }
            u[0] = _mm512_shuffle_f64x2(t[0], t[2], 0x88);
            u[1] = _mm512_shuffle_f64x2(t[1], t[3], 0x88);
            u[2] = _mm512_shuffle_f64x2(t[0], t[2], 0xDD);
            u[3] = _mm512_shuffle_f64x2(t[1], t[3], 0xDD);
            u[4] = _mm512_shuffle_f64x2(t[4], t[6], 0x88);
            u[5] = _mm512_shuffle_f64x2(t[5], t[7], 0x88);
            u[6] = _mm512_shuffle_f64x2(t[4], t[6], 0xDD);
            u[7] = _mm512_shuffle_f64x2(t[5], t[7], 0xDD);
            for (int l = 0; l < 4; l++) {
                _mm512_store_pd(A + (k0 + (size_t)l) * ld + j0,
                                _mm512_shuffle_f64x2(u[l], u[l + 4], 0x88));
                _mm512_store_pd(A + (k0 + (size_t)l + 4) * ld + j0,
                                _mm512_shuffle_f64x2(u[l], u[l + 4], 0xDD));
            }
        }
    }
    if (m8 < m) {
        const double *tail[256];
        size_t pp = p < 256 ? p : 256;
        for (size_t j = 0; j < pp; j++)
            tail[j] = cols[j] + m8;
        pack_c(m - m8, pp, ld, tail, s + m8, v + m8, A + m8 * ld);
    }
}

__attribute__((target("avx512f"))) static void scatter_avx512(size_t m, size_t ld, const double *A,
                                                            const double *s, const int *lev,
                                                            double *B, double *D)
{
    for (size_t i = 0; i < m; i++) {
        double si = s[i];
        const double *a = A + i * ld;
        double *b = B + (size_t)lev[i] * ld;
        __m512d sv = _mm512_set1_pd(si);
        if (si == 0)
            continue;
        D[lev[i]] += si * si;
        for (size_t c = 0; c < ld; c += 8)
            _mm512_storeu_pd(b + c, _mm512_add_pd(_mm512_loadu_pd(b + c),
                                                  _mm512_mul_pd(sv, _mm512_loadu_pd(a + c))));
    }
}

__attribute__((target("avx512f"))) static void axpy_avx512(size_t n, double b, const double *x,
                                                         double *y)
{
    __m512d bv = _mm512_set1_pd(b);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(y + i, _mm512_add_pd(_mm512_loadu_pd(y + i),
                                              _mm512_mul_pd(bv, _mm512_loadu_pd(x + i))));
    for (; i < n; i++)
        y[i] += b * x[i];
}

/* ---- AVX2: tiles of (4 j columns broadcast) x (W vectors of 4 i rows) ---- */
/* 4*W accumulators (W <= 3: 12 of the 16 ymm registers). */
#define TILE256(W)                                                                      \
    __attribute__((target("avx2,fma"))) static void tile256_##W(                        \
        size_t m, size_t ld, const double *A, double *C, size_t j0, size_t i0)          \
    {                                                                                   \
        __m256d c[W][4];                                                                \
        for (int v = 0; v < W; v++)                                                     \
            for (int l = 0; l < 4; l++)                                                 \
                c[v][l] = _mm256_setzero_pd();                                          \
        for (size_t k = 0; k < m; k++) {                                                \
            const double *a = A + k * ld;                                               \
            __m256d x[W];                                                               \
            for (int v = 0; v < W; v++)                                                 \
                x[v] = _mm256_loadu_pd(a + i0 + 4 * (size_t)v);                         \
            for (int l = 0; l < 4; l++) {                                               \
                __m256d b = _mm256_broadcast_sd(a + j0 + (size_t)l);                    \
                for (int v = 0; v < W; v++)                                             \
                    c[v][l] = _mm256_fmadd_pd(x[v], b, c[v][l]);                        \
            }                                                                           \
        }                                                                               \
        for (int l = 0; l < 4; l++)                                                     \
            for (int v = 0; v < W; v++) {                                               \
                double *o = C + (j0 + (size_t)l) * ld + i0 + 4 * (size_t)v;              \
                _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), c[v][l]));         \
            }                                                                           \
    }
TILE256(1)
TILE256(2)
TILE256(3)

__attribute__((target("avx2,fma"))) static void gram_avx2(size_t m, size_t ld, const double *A,
                                                         double *C)
{
    size_t nv = ld / 4;
    for (size_t jb = 0; jb < nv; jb++)
        for (size_t iv = jb; iv < nv; iv += 3) {
            size_t w = nv - iv < 3 ? nv - iv : 3;
            if (w == 3)
                tile256_3(m, ld, A, C, 4 * jb, 4 * iv);
            else if (w == 2)
                tile256_2(m, ld, A, C, 4 * jb, 4 * iv);
            else
                tile256_1(m, ld, A, C, 4 * jb, 4 * iv);
        }
}
#endif

int la_kernels_get(la_isa isa, la_kernels *k)
{
#if GRAM_X86
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX512) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("fma")) {
        *k = (la_kernels){gram_avx512, pack_avx512, axpy_avx512, scatter_avx512, "avx512"};
        return 1;
    }
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX2) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        *k = (la_kernels){gram_avx2, pack_c, axpy_c, scatter_c, "avx2"};
        return 1;
    }
#endif
    if (isa == LA_ISA_AUTO || isa == LA_ISA_C) {
        *k = (la_kernels){gram_c, pack_c, axpy_c, scatter_c, "c"};
        return 1;
    }
    return 0;
}
