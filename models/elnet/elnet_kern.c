/* models/elnet/elnet_kern.c — the per-row kernels of an elastic-net pass over
 * the data (eta, binomial mu / IRLS weight / score / deviance, column scores,
 * centred columns for the Gram), written once on 8-lane GCC vectors and
 * compiled for AVX-512, AVX2 and plain C; the best this CPU runs is chosen at
 * run time (no global -march). exp and log are evaluated here (Cody-Waite
 * reduction and a Taylor / atanh series, within 2 ulp) so a row costs a few
 * vector operations instead of two libm calls.
 * Invariants: ISO C mode (no FMA contraction), every lane and sum in a fixed
 * order, tails padded to a full vector: the three variants give the same bits,
 * whatever the thread count. */
#include "elnet_internal.h"
#include "linalg.h"

#include <string.h>

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));
typedef unsigned long long v8u __attribute__((vector_size(64)));
typedef int v8i __attribute__((vector_size(32)));
typedef unsigned char v8b __attribute__((vector_size(8)));

#define EK_LIM 20.72326583594641 /* log(1 / 1e-9 - 1): glmnet's pmin on the binomial eta */

/* Lane-wise a ? b : c for a comparison mask a (all ones or zeros). */
#define EK_SEL(a, b, c) ((v8d)(((v8l)(b) & (a)) | ((v8l)(c) & ~(a))))

/* Taylor coefficients of e^r, 1/13! down to 1/0!, and of atanh(s)/s in
 * z = s^2, 1/21 down to 1/3 (the leading 1 is added apart). */
static const double ek_exp_c[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                    1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                    1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                    1.0 / 24.0,         1.0 / 6.0,         0.5,
                                    1.0,                1.0};
static const double ek_log_c[10] = {1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
                                    1.0 / 11, 1.0 / 9,  1.0 / 7,  1.0 / 5,  1.0 / 3};

/* exp(x) for |x| <= 700: x = k ln2 + r (ln2 in two parts, |r| <= ln2 / 2),
 * e^r by its Taylor series to r^13 (Horner), times 2^k through the exponent
 * bits. The shift constant rounds x log2(e) to the nearest integer k and
 * leaves k in the low bits. */
#define EK_EXP(x, out)                                                                 \
    do {                                                                               \
        const v8d shift_ = (v8d){0} + 0x1.8p52;                                        \
        v8d t_ = (x) * 1.4426950408889634 + shift_, k_ = t_ - shift_;                  \
        v8d r_ = ((x) - k_ * 6.93147180369123816490e-01) - k_ * 1.90821492927058770002e-10; \
        v8d p_ = (v8d){0} + ek_exp_c[0];                                               \
        for (int c_ = 1; c_ < 14; c_++)                                                \
            p_ = p_ * r_ + ek_exp_c[c_];                                               \
        v8u kb_ = ((v8u)t_ - (v8u)shift_) << 52;                                        \
        (out) = (v8d)((v8u)p_ + kb_);                                                  \
    } while (0)

/* log(x) for normal x > 0: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), by its series to s^21. */
#define EK_LOG(x, out)                                                                 \
    do {                                                                               \
        v8u b_ = (v8u)(x);                                                             \
        v8d m_ = (v8d)((b_ & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);           \
        v8d e_ = (v8d)((b_ >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0);          \
        v8l big_ = (v8l)(m_ > 1.4142135623730951);                                            \
        m_ = EK_SEL(big_, m_ * 0.5, m_);                                               \
        e_ = EK_SEL(big_, e_ + 1.0, e_);                                               \
        v8d f_ = m_ - 1.0, s_ = f_ / (f_ + 2.0), z_ = s_ * s_;                         \
        v8d q_ = (v8d){0} + ek_log_c[0];                                               \
        for (int c_ = 1; c_ < 10; c_++)                                                \
            q_ = q_ * z_ + ek_log_c[c_];                                               \
        v8d lm_ = 2 * s_ + 2 * s_ * (q_ * z_);                                         \
        (out) = e_ * 6.93147180369123816490e-01 + (lm_ + e_ * 1.90821492927058770002e-10); \
    } while (0)

/* Loads and stores through memcpy (any alignment, no aliasing questions);
 * macros rather than functions, so no vector crosses a call (the ABI of
 * 64-byte vectors differs between the targets). */
#define LD8(v, p) memcpy(&(v), (p), sizeof(v))
#define ST8(p, v) memcpy((p), &(v), sizeof(v))
#define LDB8(v, p)                                                   \
    do {                                                             \
        v8b b8_;                                                     \
        memcpy(&b8_, (p), sizeof b8_);                               \
        (v) = __builtin_convertvector(__builtin_convertvector(b8_, v8i), v8d); \
    } while (0)

/* Asks for column data EK_AHEAD bytes ahead of x + i (no effect on the
 * results): a pass streams many columns a few pages at a time, and the
 * hardware prefetcher stops at each 4 KB page; for byte columns once per
 * cache line. */
#define EK_AHEAD 8192
#define EK_PREFETCH(x, i)                                                          do {                                                                               if (sizeof *(x) == sizeof(double) || (i) % 64 == 0)                                __builtin_prefetch((const char *)((x) + (i)) + EK_AHEAD);              } while (0)

/* Sum of the 8 lanes of a stored vector, in lane order. */
static double hsum(const double *a)
{
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += a[l];
    return s;
}

/* The column kernels for columns stored as T (doubles, or a 0/1 column's
 * bytes read through LOAD); B names the byte variants. */
#define EK_COLUMN(SUF, ATTR, B, T, LOAD)                                                  \
    ATTR static void axpy##B##_##SUF(size_t n, double b, double m, const T *x, double *e) \
    {                                                                                     \
        size_t i = 0;                                                                     \
        for (; i + 8 <= n; i += 8) {                                                      \
            v8d ev, xv;                                                                   \
            EK_PREFETCH(x, i);                                                            \
            LD8(ev, e + i);                                                               \
            LOAD(xv, x + i);                                                              \
            ev += b * (xv - m);                                                           \
            ST8(e + i, ev);                                                               \
        }                                                                                 \
        for (; i < n; i++)                                                                \
            e[i] += b * ((double)x[i] - m);                                               \
    }                                                                                     \
    ATTR static double dot##B##_##SUF(size_t n, const double *r, const T *x, double m)    \
    {                                                                                     \
        v8d a0 = {0}, a1 = {0}, r0, r1, x0, x1;                                           \
        double acc[8];                                                                    \
        size_t i = 0;                                                                     \
        for (; i + 16 <= n; i += 16) {                                                    \
            EK_PREFETCH(x, i);                                                            \
            EK_PREFETCH(x, i + 8);                                                        \
            LD8(r0, r + i);                                                               \
            LD8(r1, r + i + 8);                                                           \
            LOAD(x0, x + i);                                                              \
            LOAD(x1, x + i + 8);                                                          \
            a0 += r0 * (x0 - m);                                                          \
            a1 += r1 * (x1 - m);                                                          \
        }                                                                                 \
        a0 += a1;                                                                         \
        ST8(acc, a0);                                                                     \
        double s = hsum(acc);                                                             \
        for (; i < n; i++)                                                                \
            s += r[i] * ((double)x[i] - m);                                               \
        return s;                                                                         \
    }                                                                                     \
    ATTR static void centre##B##_##SUF(size_t n, const T *x, double m, double is,         \
                                       double *out)                                       \
    {                                                                                     \
        size_t i = 0;                                                                     \
        for (; i + 8 <= n; i += 8) {                                                      \
            v8d xv;                                                                       \
            EK_PREFETCH(x, i);                                                            \
            LOAD(xv, x + i);                                                              \
            xv = (xv - m) * is;                                                           \
            ST8(out + i, xv);                                                             \
        }                                                                                 \
        for (; i < n; i++)                                                                \
            out[i] = ((double)x[i] - m) * is;                                             \
    }

/* The kernels, instantiated per target. The binomial tail of n % 8 rows is
 * copied into a padded vector (weight 0) so it takes the same arithmetic;
 * binom also adds sum (r_new - r_old)^2 / w over rows with w > 0 to *drift. */
#define EK_DEFINE(SUF, ATTR)                                                              \
    EK_COLUMN(SUF, ATTR, , double, LD8)                                                   \
    EK_COLUMN(SUF, ATTR, b, unsigned char, LDB8)                                          \
    ATTR static double binom_##SUF(size_t n, const double *eta, const double *w,          \
                                   const double *y, double *v, double *r, double *drift)  \
    {                                                                                     \
        v8d dev = {0}, dr = {0};                                                          \
        double acc[8];                                                                    \
        for (size_t i = 0; i < n; i += 8) {                                               \
            v8d et, wt, yt, rt, ex, lq, mu, q, vo, ro, dd;                                \
            v8l hi, lo, one, pos;                                                         \
            size_t k = n - i < 8 ? n - i : 8;                                             \
            if (k == 8) {                                                                 \
                LD8(et, eta + i);                                                         \
                LD8(wt, w + i);                                                           \
                LD8(yt, y + i);                                                           \
                LD8(rt, r + i);                                                           \
            } else {                                                                      \
                double pad[4][8] = {{0}};                                                 \
                memcpy(pad[0], eta + i, k * sizeof *eta);                                 \
                memcpy(pad[1], w + i, k * sizeof *w);                                     \
                memcpy(pad[2], y + i, k * sizeof *y);                                     \
                memcpy(pad[3], r + i, k * sizeof *r);                                     \
                LD8(et, pad[0]);                                                          \
                LD8(wt, pad[1]);                                                          \
                LD8(yt, pad[2]);                                                          \
                LD8(rt, pad[3]);                                                          \
            }                                                                             \
            hi = (v8l)(et > EK_LIM);                                                      \
            lo = (v8l)(et < -EK_LIM);                                                     \
            et = EK_SEL(hi, (v8d){0} + EK_LIM, et);                                       \
            et = EK_SEL(lo, (v8d){0} - EK_LIM, et);                                       \
            et = -et;                                                                     \
            EK_EXP(et, ex);                                                               \
            mu = 1.0 / (1.0 + ex);                                                        \
            one = (v8l)(yt == 1.0);                                                       \
            q = EK_SEL(one, mu, 1.0 - mu);                                                \
            EK_LOG(q, lq);                                                                \
            dev += -2 * wt * lq;                                                          \
            vo = wt * mu * (1.0 - mu);                                                    \
            ro = wt * (yt - mu);                                                          \
            dd = ro - rt;                                                                 \
            pos = (v8l)(wt > 0.0);                                                        \
            dr += EK_SEL(pos, dd * dd / wt, (v8d){0});                                    \
            if (k == 8) {                                                                 \
                ST8(v + i, vo);                                                           \
                ST8(r + i, ro);                                                           \
            } else {                                                                      \
                double pad[2][8];                                                         \
                ST8(pad[0], vo);                                                          \
                ST8(pad[1], ro);                                                          \
                memcpy(v + i, pad[0], k * sizeof *v);                                     \
                memcpy(r + i, pad[1], k * sizeof *r);                                     \
            }                                                                             \
        }                                                                                 \
        ST8(acc, dr);                                                                     \
        *drift += hsum(acc);                                                              \
        ST8(acc, dev);                                                                    \
        return hsum(acc);                                                                 \
    }

EK_DEFINE(c, )
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define EK_X86 1
EK_DEFINE(avx2, __attribute__((target("avx2"))))
EK_DEFINE(avx512, __attribute__((target("avx512f"))))
#else
#define EK_X86 0
#endif

#define EK_TABLE(SUF) \
    (elnet_kern){axpy_##SUF, axpyb_##SUF, dot_##SUF, dotb_##SUF, centre_##SUF, centreb_##SUF, binom_##SUF, #SUF}

int elnet_kern_get(int isa, elnet_kern *k)
{
#if EK_X86
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX512) && __builtin_cpu_supports("avx512f")) {
        *k = EK_TABLE(avx512);
        return 1;
    }
    if ((isa == LA_ISA_AUTO || isa == LA_ISA_AVX2) && __builtin_cpu_supports("avx2")) {
        *k = EK_TABLE(avx2);
        return 1;
    }
#endif
    if (isa == LA_ISA_AUTO || isa == LA_ISA_C) {
        *k = EK_TABLE(c);
        return 1;
    }
    return 0;
}
