/* models/gram.c — the IRLS Gram micro-kernel: C += A^T A (lower triangle) for a
 * row-major sub-block A (m rows, ld = q rounded up to 8 columns) held in cache,
 * in AVX-512 and AVX2 variants chosen at run time (__builtin_cpu_supports; no
 * global -march flag) and a portable C fallback. Invariant: every entry is one
 * fixed-order FMA chain over the sub-block's rows, started at 0 and then added
 * to C, so the AVX-512 and AVX2 variants give the same bits, and no variant
 * depends on the thread count. */
#include "glm_internal.h"

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

la_gram_fn la_gram_kernel(la_isa isa, const char **name)
{
    const char *dummy;
    if (!name)
        name = &dummy;
#if GRAM_X86
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX512) && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("fma")) {
        *name = "avx512";
        return gram_avx512;
    }
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX2) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        *name = "avx2";
        return gram_avx2;
    }
#endif
    if (isa == LA_ISA_AUTO || isa == LA_ISA_C) {
        *name = "c";
        return gram_c;
    }
    *name = "unsupported";
    return NULL;
}
