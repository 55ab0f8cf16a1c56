/* labels: unit golden */
/* tests/test_stratify_stats.c — distributions, exact Poisson CIs, funnel
 * limits and SII/RII against R (data/golden/stratify/make_stratify.R). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/stratify.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixture of data/golden/stratify as a row-major array (tu_load_numeric_csv). */
static size_t load_csv(const char *name, size_t *cols, double **out)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/stratify/%s", name);
    return tu_load_numeric_csv(rel, cols, out);
}

static void test_qgamma__matches_r(void **state)
{
    size_t nc, n = 0;
    double *v;
    (void)state;
    n = load_csv("qgamma.csv", &nc, &v);
    assert_int_equal(n, 49);
    for (size_t i = 0; i < n; i++) {
        double p = v[i * nc], a = v[i * nc + 1], q = v[i * nc + 2];
        assert_rel_close(strata_qgamma(p, a), q, 1e-10, "qgamma(%g, %g)", p, a);
        assert_rel_close(strata_pgamma(a, q), p, 1e-9, "pgamma(%g, %g)", a, q);
        assert_rel_close(strata_pgamma_upper(a, q), 1 - p, 1e-9, "upper pgamma(%g, %g)", a, q);
    }
    /* the upper tail where it is tiny: Q(1, x) = exp(-x), Q(1/2, x) = erfc(sqrt(x)) */
    assert_rel_close(strata_pgamma_upper(1, 40), exp(-40), 1e-13, "Q(1, 40)");
    assert_rel_close(strata_pgamma_upper(0.5, 30), erfc(sqrt(30.0)), 1e-13, "Q(1/2, 30)");
    free(v);
    n = load_csv("qnorm.csv", &nc, &v);
    for (size_t i = 0; i < n; i++)
        assert_rel_close(strata_qnorm(v[i * nc]), v[i * nc + 1], 1e-13, "qnorm(%g)", v[i * nc]);
    free(v);
    n = load_csv("qchisq.csv", &nc, &v);
    for (size_t i = 0; i < n; i++)
        assert_rel_close(strata_qchisq(v[i * nc], v[i * nc + 1]), v[i * nc + 2], 1e-10,
                         "qchisq(%g, %g)", v[i * nc], v[i * nc + 1]);
    free(v);
}

static void test_poisson_ci__matches_poisson_test(void **state)
{
    size_t nc, n;
    double *v, lo, hi, r;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    n = load_csv("poisson_ci.csv", &nc, &v);
    assert_int_equal(n, 18);
    for (size_t i = 0; i < n; i++) {
        double o = v[i * nc], l = v[i * nc + 1];
        assert_status(ctx, strata_poisson_ci(ctx, o, l, &lo, &hi), STRATA_OK);
        assert_abs_close(lo, v[i * nc + 2], 1e-10 * fmax(1, o), "lo O=%g level %g", o, l);
        assert_rel_close(hi, v[i * nc + 3], 1e-10, "hi O=%g level %g", o, l);
        assert_status(ctx, strata_oe_ci(ctx, o, 4.0, l, &r, &lo, &hi), STRATA_OK);
        assert_rel_close(hi, v[i * nc + 3] / 4.0, 1e-10, "O/E hi O=%g", o);
    }
    free(v);
    assert_status(ctx, strata_poisson_ci(ctx, -1, 0.95, &lo, &hi), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "observed count -1");
    assert_status(ctx, strata_oe_ci(ctx, 3, 0, 0.95, &r, &lo, &hi), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "expected 0");
    strata_ctx_free(ctx);
}

static void test_funnel__tau2_and_limits_match_r(void **state)
{
    size_t nc, n, k, nt;
    double *u, *t, *lim, *obs, *ex;
    strata_funnel_params p;
    strata_funnel f, f0;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    k = load_csv("funnel_units.csv", &nc, &u);
    obs = malloc(k * sizeof *obs);
    ex = malloc(k * sizeof *ex);
    for (size_t i = 0; i < k; i++)
        obs[i] = u[i * 2], ex[i] = u[i * 2 + 1];
    nt = load_csv("funnel_tau2.csv", &nc, &t);
    assert_int_equal(nt, 2);
    strata_funnel_params_init(&p);
    p.od = STRATA_OD_WINSORISE;
    assert_status(ctx, strata_funnel_fit(ctx, &p, k, obs, ex, &f), STRATA_OK);
    assert_rel_close(f.phi, t[1], 1e-12, "phi winsorised");
    assert_rel_close(f.tau2, t[2], 1e-12, "tau2 winsorised");
    assert_int_equal(f.k, (size_t)t[3]);
    p.od = STRATA_OD_SHMI;
    assert_status(ctx, strata_funnel_fit(ctx, &p, k, obs, ex, &f0), STRATA_OK);
    assert_rel_close(f0.phi, t[nc + 1], 1e-12, "phi shmi");
    assert_rel_close(f0.tau2, t[nc + 2], 1e-12, "tau2 shmi");
    assert_int_equal(f0.k, (size_t)t[nc + 3]);
    n = load_csv("funnel_limits.csv", &nc, &lim);
    assert_int_equal(n, 12);
    memset(&f0, 0, sizeof f0);
    for (size_t i = 0; i < n; i++) {
        double e = lim[i * nc], l = lim[i * nc + 1], lo, hi;
        strata_funnel_limits(&f0, e, l, &lo, &hi);
        assert_rel_close(lo, lim[i * nc + 2], 1e-10, "poisson lo E=%g level %g", e, l);
        assert_rel_close(hi, lim[i * nc + 3], 1e-10, "poisson hi E=%g level %g", e, l);
        strata_funnel_limits(&f, e, l, &lo, &hi);
        assert_rel_close(lo, lim[i * nc + 4], 1e-12, "od lo E=%g level %g", e, l);
        assert_rel_close(hi, lim[i * nc + 5], 1e-12, "od hi E=%g level %g", e, l);
    }
    /* flags follow the limits: O/E = 2 at E = 50 is beyond 99.8% Poisson, inside OD 95% */
    assert_int_equal(strata_funnel_flag(&f0, 100, 50), 2);
    assert_int_equal(strata_funnel_flag(&f0, 10, 50), -2);
    assert_int_equal(strata_funnel_flag(&f, 60, 50), 0);
    p.trim = 0.7;
    assert_status(ctx, strata_funnel_fit(ctx, &p, k, obs, ex, &f), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "trim 0.7");
    free(u), free(t), free(lim), free(obs), free(ex);
    strata_ctx_free(ctx);
}

static void test_sii__point_matches_r_ci_within_tolerance(void **state)
{
    size_t nc, k, ne;
    double *d, *e, pop[10], val[10], se[10], se_log[10];
    strata_sii_params p;
    strata_sii_result r, r2;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    k = load_csv("sii_data.csv", &nc, &d);
    assert_int_equal(k, 10);
    for (size_t i = 0; i < k; i++) {
        pop[i] = d[i * nc + 1], val[i] = d[i * nc + 2], se[i] = d[i * nc + 3];
        se_log[i] = se[i] / val[i];
    }
    ne = load_csv("sii_expected.csv", &nc, &e);
    assert_int_equal(ne, 2);
    strata_sii_params_init(&p);
    assert_status(ctx, strata_sii(ctx, &p, k, pop, val, se, &r), STRATA_OK);
    assert_rel_close(r.sii, e[3], 1e-12, "sii");
    assert_rel_close(r.rii, e[6], 1e-12, "rii");
    /* simulated limits: R and strata use different generators; 1e5 reps agree to ~1% */
    assert_rel_close(r.sii_lo, e[4], 0.01, "sii lo");
    assert_rel_close(r.sii_hi, e[5], 0.01, "sii hi");
    assert_rel_close(r.rii_lo, e[7], 0.01, "rii lo");
    assert_rel_close(r.rii_hi, e[8], 0.01, "rii hi");
    assert_status(ctx, strata_sii(ctx, &p, k, pop, val, se, &r2), STRATA_OK);
    assert_true(memcmp(&r, &r2, sizeof r) == 0); /* same seed, same bytes */
    p.scale = STRATA_SII_RATE;
    p.multiplier = -100;
    assert_status(ctx, strata_sii(ctx, &p, k, pop, val, se_log, &r), STRATA_OK);
    assert_rel_close(r.sii, e[nc + 3], 1e-12, "sii x-100");
    assert_rel_close(r.rii, e[nc + 6], 1e-12, "rii inverted");
    assert_rel_close(r.sii_lo, e[nc + 4], 0.01, "sii lo rate");
    assert_rel_close(r.rii_hi, e[nc + 8], 0.01, "rii hi rate");
    p.reps = 10;
    assert_status(ctx, strata_sii(ctx, &p, k, pop, val, se, &r), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "reps 10");
    strata_sii_params_init(&p);
    pop[3] = 0;
    assert_status(ctx, strata_sii(ctx, &p, k, pop, val, se, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "quantile 4");
    free(d), free(e);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qgamma__matches_r),
        cmocka_unit_test(test_poisson_ci__matches_poisson_test),
        cmocka_unit_test(test_funnel__tau2_and_limits_match_r),
        cmocka_unit_test(test_sii__point_matches_r_ci_within_tolerance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
