/* labels: unit */
/* tests/test_glm_warm.c — the warm start with a many-level factor whose levels
 * (the reference among them) have no events in the warm start's subsample: the
 * subsample fit runs those levels off towards -infinity; the full fit must
 * still reach R's optimum (issue 19: from the raw subsample coefficients the
 * 1 M x 6,200-practice fit diverged, took 54 step-halving passes and stopped
 * on a false convergence 738 deviance units above the optimum, one practice
 * at -4e14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 40000, NP = 300, BLOCK = 512 }; /* 79 blocks: over the 64 that turn the warm start on */

static uint64_t rng_state = 7;
static double unif(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double rnorm(void) { return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()); }

/* y ~ practice + x: 300 practices of ~133 rows, ~6 % events; the reference
 * practice P000 and every tenth one rare (~1 %), so that the subsample (every
 * 8th block, ~17 rows a practice) has no events in them. */
static const char *rare_cohort(strata_ctx *ctx)
{
    static char names[NP][8];
    static const char *lv[NP];
    static double x[N], y[N], u[NP];
    static int32_t pr[N];
    const char *path = tu_tmp("warm_rare.h5");
    td_mem cols[3];
    for (int k = 0; k < NP; k++) {
        snprintf(names[k], sizeof names[k], "P%03d", k);
        lv[k] = names[k];
        u[k] = k % 10 == 0 ? -1.9 : 0.3 * rnorm();
    }
    for (size_t i = 0; i < N; i++) {
        pr[i] = (int32_t)(unif() * NP);
        x[i] = rnorm();
        y[i] = unif() < 1 / (1 + exp(-(-2.8 + 0.5 * x[i] + u[pr[i]])));
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "practice", cols[2].codes = pr, cols[2].levels = lv, cols[2].n_levels = NP;
    assert_status(ctx, td_write_cohort(ctx, path, cols, 3, N), STRATA_OK);
    return path;
}

/* The step-halving passes of the last fit, from its timings log line. */
static int last_halvings = -1;
static void on_log(void *ud, strata_log_level level, const char *msg)
{
    const char *h = strstr(msg, "glm timings:") ? strstr(msg, " halvings=") : NULL;
    (void)ud, (void)level;
    if (h)
        last_halvings = atoi(h + 10);
}

static strata_model *fit(strata_ctx *ctx, const char *path, int warm)
{
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_model *m = NULL;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.formula = "y ~ practice + x";
    p.block_rows = BLOCK;
    p.warm_start = warm;
    p.parallel_min_np = 1;
    last_halvings = -1;
    strata_ctx_set_log(ctx, on_log, NULL, STRATA_LOG_INFO);
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    strata_cohort_close(c);
    return m;
}

/* The warm-started fit needs no step-halving (from the raw subsample
 * coefficients it took 64 here) and ends at R's optimum: deviance within 1e-7
 * relative of the fit from R's start, and every coefficient that is estimable
 * (SE < 3; the levels without events drift to -infinity on both paths, by R's
 * rule) within 1e-3 of its SE. */
static void test_warm_start__levels_without_events_in_subsample_same_optimum(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = rare_cohort(ctx);
    strata_model *w = fit(ctx, path, 1), *r;
    strata_fit_summary sw, sr;
    size_t checked = 0;
    (void)state;
    assert_int_equal(last_halvings, 0);
    r = fit(ctx, path, 0);
    strata_model_summary(w, &sw);
    strata_model_summary(r, &sr);
    assert_rel_close(sw.deviance, sr.deviance, 1e-7, "deviance warm vs R's start");
    for (size_t j = 0; j < strata_model_nterms(r); j++) {
        strata_coef a, b;
        strata_model_coef(r, j, &a);
        strata_model_coef(w, j, &b);
        assert_int_equal(a.aliased, b.aliased);
        if (a.aliased || !(a.std_error < 3))
            continue;
        assert_abs_close(b.estimate, a.estimate, 1e-3 * a.std_error, "%s", strata_model_term(r, j));
        checked++;
    }
    assert_true(checked > NP / 2);
    strata_model_free(ctx, w);
    strata_model_free(ctx, r);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_start__levels_without_events_in_subsample_same_optimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
