/* models/glm/glm_rowstep.c — the binomial (logit) IRLS row step of a sub-block
 * in AVX-512 lanes: mu, mu.eta, the sqrt working weight s, s z and the
 * deviance terms of 8 rows at once, the arithmetic of glm_pass.c's scalar
 * irls_row (R's clamps, divides and sqrt are the same correctly rounded
 * operations) with exp and log evaluated in the lanes (below, to about 1 ulp)
 * instead of by libm. Invariant: the deviance terms are summed in row order,
 * and which kernel runs depends on the CPU only (never on the thread count),
 * so a machine gives the same bytes on any number of threads. */
#include "glm_fit.h"

#include <float.h>
#include <math.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define ROW_AVX512 __attribute__((target("avx512f,avx512dq,fma")))

/* exp(x) for |x| <= 40 (callers clamp): x = n ln2 + r, |r| <= ln2 / 2, the
 * degree-13 Taylor polynomial of exp(r) (truncation < 1e-17 relative), then
 * scaled by 2^n. */
ROW_AVX512 static __m512d vexp(__m512d x)
{
    const __m512d ln2hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2lo = _mm512_set1_pd(1.90821492927058770002e-10);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634074)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, ln2lo, _mm512_fnmadd_pd(n, ln2hi, x));
    static const double c[14] = {1.0,
                                 1.0,
                                 0.5,
                                 1.66666666666666666667e-01,
                                 4.16666666666666666667e-02,
                                 8.33333333333333333333e-03,
                                 1.38888888888888888889e-03,
                                 1.98412698412698412698e-04,
                                 2.48015873015873015873e-05,
                                 2.75573192239858906526e-06,
                                 2.75573192239858906526e-07,
                                 2.50521083854417187751e-08,
                                 2.08767569878680989792e-09,
                                 1.60590438368216145994e-10};
    __m512d p = _mm512_set1_pd(c[13]);
    for (int k = 12; k >= 0; k--)
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[k]));
    return _mm512_scalef_pd(p, n);
}

/* log(x) for finite x > 0: x = m 2^k with m in [sqrt(1/2), sqrt(2)), log m =
 * 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^23. */
ROW_AVX512 static __m512d vlog(__m512d x)
{
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __m512d k = _mm512_getexp_pd(x);
    __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.41421356237309504880), _CMP_GE_OQ);
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    k = _mm512_mask_add_pd(k, big, k, one);
    __m512d s = _mm512_div_pd(_mm512_sub_pd(m, one), _mm512_add_pd(m, one)), s2 = _mm512_mul_pd(s, s);
    __m512d p = _mm512_set1_pd(1.0 / 23);
    for (int j = 21; j >= 1; j -= 2)
        p = _mm512_fmadd_pd(p, s2, _mm512_set1_pd(1.0 / j));
    __m512d lm = _mm512_mul_pd(_mm512_add_pd(s, s), p);
    return _mm512_fmadd_pd(k, _mm512_set1_pd(6.93147180369123816490e-01),
                           _mm512_fmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10), lm));
}

/* y log(y / mu), 0 where y = 0 (R's y_log_y). */
ROW_AVX512 static __m512d vylogy(__m512d y, __m512d mu)
{
    __mmask8 nz = _mm512_cmp_pd_mask(y, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    __m512d q = _mm512_mask_div_pd(_mm512_set1_pd(1.0), nz, y, mu);
    return _mm512_maskz_mul_pd(nz, y, vlog(q));
}

ROW_AVX512 static void logit_rows_avx512(size_t m, const double *y, const double *wt, const double *eta,
                                        const double *off, double *s, double *v, double *dv)
{
    const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
    const __m512d eps = _mm512_set1_pd(DBL_EPSILON), ieps = _mm512_set1_pd(1.0 / DBL_EPSILON);
    const __m512d hi = _mm512_set1_pd(30.0), lo = _mm512_set1_pd(-30.0);
    size_t i = 0;
    for (; i < m; i += 8) {
        __mmask8 ld = m - i >= 8 ? 0xff : (__mmask8)((1u << (m - i)) - 1);
        __m512d e = _mm512_maskz_loadu_pd(ld, eta + i), yv = _mm512_maskz_loadu_pd(ld, y + i);
        __m512d w = _mm512_maskz_loadu_pd(ld, wt + i);
        __m512d o = off ? _mm512_maskz_loadu_pd(ld, off + i) : zero;
        __m512d t = vexp(_mm512_max_pd(_mm512_min_pd(e, _mm512_set1_pd(40.0)), _mm512_set1_pd(-40.0)));
        /* a NaN eta stays NaN (the deviance then is not finite: step-halving) */
        t = _mm512_mask_mov_pd(t, _mm512_cmp_pd_mask(e, e, _CMP_UNORD_Q), e);
        __m512d opexp = _mm512_add_pd(one, t);
        __mmask8 above = _mm512_cmp_pd_mask(e, hi, _CMP_GT_OQ), below = _mm512_cmp_pd_mask(e, lo, _CMP_LT_OQ);
        __m512d tc = _mm512_mask_blend_pd(above, _mm512_mask_blend_pd(below, t, eps), ieps);
        __m512d mu = _mm512_div_pd(tc, _mm512_add_pd(one, tc));
        __m512d me = _mm512_mask_blend_pd(above | below, _mm512_div_pd(t, _mm512_mul_pd(opexp, opexp)), eps);
        __m512d vr = _mm512_mul_pd(mu, _mm512_sub_pd(one, mu));
        __mmask8 ok = _mm512_cmp_pd_mask(w, zero, _CMP_GT_OQ) & _mm512_cmp_pd_mask(me, zero, _CMP_NEQ_UQ) & ld;
        __m512d sv = _mm512_maskz_sqrt_pd(ok, _mm512_div_pd(_mm512_mul_pd(_mm512_mul_pd(w, me), me), vr));
        __m512d z = _mm512_add_pd(_mm512_sub_pd(e, o), _mm512_div_pd(_mm512_sub_pd(yv, mu), me));
        __m512d d = _mm512_add_pd(vylogy(yv, mu), vylogy(_mm512_sub_pd(one, yv), _mm512_sub_pd(one, mu)));
        d = _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(2.0), w), d);
        _mm512_mask_storeu_pd(s + i, ld, sv);
        _mm512_mask_storeu_pd(v + i, ld, _mm512_maskz_mul_pd(ok, sv, z));
        _mm512_mask_storeu_pd(dv + i, ld, d);
    }
}

int glm_rowstep_avx512(void)
{
    static int have = -1;
    if (have < 0)
        have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma");
    return have;
}

void glm_logit_rows(size_t m, const double *y, const double *wt, const double *eta, const double *off,
                    double *s, double *v, double *dv)
{
    logit_rows_avx512(m, y, wt, eta, off, s, v, dv);
}
#else
int glm_rowstep_avx512(void) { return 0; }

void glm_logit_rows(size_t m, const double *y, const double *wt, const double *eta, const double *off,
                    double *s, double *v, double *dv)
{
    (void)m, (void)y, (void)wt, (void)eta, (void)off, (void)s, (void)v, (void)dv;
}
#endif
