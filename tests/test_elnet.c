/* labels: unit golden determinism */
/* tests/test_elnet.c — elastic-net paths against glmnet 4.1-6 on real data
 * (data/golden/elnet, made by make_elnet.R): the same lambda sequence and
 * path length, coefficients and deviance ratios at every lambda; the KKT
 * conditions at every lambda; lasso at lambda -> 0 against the unpenalised
 * GLM; 1 vs 2 threads byte-identical. CV, the formula route, the model file
 * and the CLI are in test_elnet_cv.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_testdata.c"

/* ---- golden paths ---------------------------------------------------------- */

static void check_golden_path(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load(id, &c);
    c.prm.thresh = GOLDEN_THRESH;
    c.prm.maxit = 10000000;
    elnet_path *path = fit_case(ctx, &c);
    assert_int_equal(path->converged, 1);
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/elnet/elnet_%s_path.csv", c.data);
    table *g = table_read(rel);
    size_t steps = 0;
    double worst = 0;
    for (size_t i = 0; i < g->nrow; i++) {
        if (strcmp(cell(g, i, "id"), id))
            continue;
        size_t m = (size_t)atoi(cell(g, i, "step")) - 1;
        assert_true(m < path->nlam);
        /* lambda_max with unpenalised terms comes from their fit at lambda_1 */
        assert_rel_close(path->lambda[m], num(cell(g, i, "lambda")), 1e-10, "%s lambda[%zu]", id, m);
        assert_rel_close(path->nulldev, num(cell(g, i, "nulldev")), 1e-10, "%s nulldev", id);
        assert_abs_close(path->dev_ratio[m], num(cell(g, i, "dev_ratio")), DEVTOL, "%s dev.ratio[%zu]", id, m);
        double scale = fabs(num(cell(g, i, "a0")));
        for (size_t j = 0; j < c.p; j++)
            scale = fmax(scale, fabs(num(cell(g, i, c.xnames[j]))));
        double want = num(cell(g, i, "a0")), tol = RTOL * fmax(fabs(want), FLOOR * scale);
        worst = fmax(worst, fabs(path->a0[m] - want) / fmax(fabs(want), FLOOR * scale));
        assert_abs_close(path->a0[m], want, tol, "%s a0[%zu]", id, m);
        for (size_t j = 0; j < c.p; j++) {
            want = num(cell(g, i, c.xnames[j]));
            double got = path->beta[m * c.p + j], den = fmax(fabs(want), FLOOR * scale);
            worst = fmax(worst, fabs(got - want) / den);
            assert_abs_close(got, want, RTOL * den, "%s beta[%zu] %s", id, m, c.xnames[j]);
            if (want == 0)
                assert_true(fabs(got) < 1e-9 * scale);
        }
        steps++;
    }
    assert_int_equal(steps, path->nlam); /* the same early stop */
    printf("  %-20s %3zu lambdas, max scaled error %.2e, %d passes\n", id, steps, worst, path->npasses);
    table_free(g);
    elnet_path_free(ctx, path);
    case_free(&c);
    strata_ctx_free(ctx);
}

#define GOLDEN(name) \
    static void test_elnet_golden__##name(void **state) { (void)state; check_golden_path(#name); }
GOLDEN(dia_gaussian_a1)
GOLDEN(dia_gaussian_a05)
GOLDEN(dia_gaussian_a005)
GOLDEN(dia_binomial_a1)
GOLDEN(dia_binomial_a05)
GOLDEN(dia_binomial_a005)
GOLDEN(dia_poisson_a1)
GOLDEN(dia_poisson_a05)
GOLDEN(dia_poisson_a005)
GOLDEN(dia_gaussian_wpf)
GOLDEN(dia_binomial_wpf)
GOLDEN(dia_poisson_wpf)
GOLDEN(dia_binomial_ulam)
GOLDEN(fl_binomial_a1)
GOLDEN(fl_poisson_off_a05)

/* ---- the pass kernels --------------------------------------------------------- */

/* Every instruction-set variant of elnet_kern.c gives the C variant's bits,
 * on lengths with and without a tail; the binomial rows (own exp and log)
 * agree with libm: mu within 2 ulp, the deviance to its conditioning. */
static void test_elnet_kern__variants_same_bits_and_libm_accuracy(void **state)
{
    (void)state;
    enum { N = 1003 };
    static double x[N], e0[N], e1[N], r[N], w[N], y[N], eta[N], v0[N], v1[N], r0[N], r1[N];
    static unsigned char xb[N];
    elnet_kern kc, kv;
    assert_int_equal(elnet_kern_get(3, &kc), 1);
    for (size_t i = 0; i < N; i++) {
        double u = (double)((i * 7919) % N) / N;
        x[i] = 3 * u - 1;
        xb[i] = (unsigned char)(i % 3 == 0);
        r[i] = sin((double)i);
        w[i] = i % 11 == 0 ? 0 : 0.5 + u;
        y[i] = i % 5 == 0;
        eta[i] = 50 * u - 25; /* beyond glmnet's clamp at both ends */
        e0[i] = cos((double)i);
    }
    for (int isa = 1; isa <= 3; isa++) {
        if (!elnet_kern_get(isa, &kv))
            continue;
        for (size_t n = N - 3; n <= N; n += 3) {
            double d0 = 0, d1 = 0;
            memcpy(e1, e0, sizeof e0);
            double ec[N];
            memcpy(ec, e0, sizeof e0);
            kc.axpy(n, 0.7, 0.2, x, ec);
            kv.axpy(n, 0.7, 0.2, x, e1);
            kc.axpyb(n, -1.3, 0.4, xb, ec);
            kv.axpyb(n, -1.3, 0.4, xb, e1);
            assert_memory_equal(ec, e1, n * sizeof *ec);
            double a = kc.dot(n, r, x, 0.3), b = kv.dot(n, r, x, 0.3);
            assert_memory_equal(&a, &b, sizeof a);
            a = kc.dotb(n, r, xb, 0.3), b = kv.dotb(n, r, xb, 0.3);
            assert_memory_equal(&a, &b, sizeof a);
            kc.centre(n, x, 0.1, 2.5, ec);
            kv.centre(n, x, 0.1, 2.5, e1);
            assert_memory_equal(ec, e1, n * sizeof *ec);
            kc.centreb(n, xb, 0.1, 2.5, ec);
            kv.centreb(n, xb, 0.1, 2.5, e1);
            assert_memory_equal(ec, e1, n * sizeof *ec);
            memcpy(r0, r, sizeof r);
            memcpy(r1, r, sizeof r);
            a = kc.binom(n, eta, w, y, v0, r0, &d0);
            b = kv.binom(n, eta, w, y, v1, r1, &d1);
            assert_memory_equal(&a, &b, sizeof a);
            assert_memory_equal(&d0, &d1, sizeof d0);
            assert_memory_equal(v0, v1, n * sizeof *v0);
            assert_memory_equal(r0, r1, n * sizeof *r0);
        }
        printf("  kernels %s: the same bits as c\n", kv.name);
    }
    double dev = 0, drift = 0, want = 0;
    for (size_t i = 0; i < N; i++) {
        double lim = log(1 / 1e-9 - 1), et = fmin(fmax(eta[i], -lim), lim), mu = 1 / (1 + exp(-et));
        double v[1], rr[1] = {0}, d = 0, dv = kc.binom(1, &eta[i], &w[i], &y[i], v, rr, &d);
        double dl = -2 * w[i] * log(y[i] == 1 ? mu : 1 - mu);
        if (y[i] == 0 && w[i] > 0) /* r = -w mu: mu within 2 ulp of libm's */
            assert_true(fabs(-rr[0] / w[i] - mu) <= 4.5e-16 * mu);
        /* log(1 - mu) near mu = 1 inherits mu's rounding: an absolute bound */
        assert_true(fabs(dv - dl) <= 1e-13 * (w[i] + fabs(dl)));
        dev += dv;
        want += dl;
        drift += d;
    }
    printf("  binomial rows vs libm: deviance %.17g vs %.17g\n", dev, want);
    assert_true(drift > 0);
}

/* ---- KKT at every lambda --------------------------------------------------- */

static void check_kkt(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load(id, &c);
    c.prm.thresh = 1e-14;
    elnet_path *path = fit_case(ctx, &c);
    double worst = elnet_kkt_worst(&c, path);
    printf("  %-20s KKT: largest violation %.2e over %zu lambdas (%d scores outside S settled by the bound)\n",
           id, worst, path->nlam, path->nstale);
    /* CD stops when no pass moves a coefficient by more than sqrt(thresh) = 1e-7
     * (standardised); on near-collinear indicator columns CD converges slowly,
     * so scores are within 100 sqrt(thresh) of their optimum */
    assert_true(worst < 100 * sqrt(c.prm.thresh));
    elnet_path_free(ctx, path);
    case_free(&c);
    strata_ctx_free(ctx);
}

static void test_elnet_kkt__gaussian_penalty_factor_weights(void **state)
{
    (void)state;
    check_kkt("dia_gaussian_wpf");
}

static void test_elnet_kkt__binomial_penalty_factor_weights(void **state)
{
    (void)state;
    check_kkt("dia_binomial_wpf");
}

static void test_elnet_kkt__poisson_offset(void **state)
{
    (void)state;
    check_kkt("fl_poisson_off_a05");
}

/* ---- lasso at lambda -> 0 is the unpenalised GLM ----------------------------- */

static void test_elnet_lasso_lambda0__reaches_unpenalised_glm(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("fl_binomial_a1", &c);
    /* strata's GLM (tested against R's glm) on the same design */
    td_mem *cols = calloc(c.p + 1, sizeof *cols);
    char formula[4096] = "y_death ~ ";
    for (size_t j = 0; j < c.p; j++) {
        cols[j] = (td_mem){c.xnames[j], c.X + j * c.n, NULL, NULL, 0};
        strcat(formula, j ? " + " : "");
        strcat(formula, c.xnames[j]);
    }
    cols[c.p] = (td_mem){"y_death", c.y, NULL, NULL, 0};
    const char *h5 = tu_tmp("fl_design.h5");
    assert_status(ctx, td_write_cohort(ctx, h5, cols, (int)c.p + 1, c.n), STRATA_OK);
    strata_cohort *coh = NULL;
    strata_model *glm = NULL;
    strata_glm_params gp;
    strata_glm_params_init(&gp);
    gp.family = STRATA_FAMILY_BINOMIAL;
    gp.formula = formula;
    gp.epsilon = 1e-14;
    assert_status(ctx, strata_cohort_open(ctx, h5, &coh), STRATA_OK);
    assert_status(ctx, strata_glm_fit(ctx, coh, &gp, &glm), STRATA_OK);
    /* the lasso down to lambda = 1e-12 */
    double lam[] = {1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12};
    c.prm.lambda = lam;
    c.prm.nuser = sizeof lam / sizeof *lam;
    c.prm.thresh = 1e-20;
    elnet_path *path = fit_case(ctx, &c);
    size_t last = path->nlam - 1;
    strata_coef k;
    strata_model_coef(glm, 0, &k);
    assert_rel_close(path->a0[last], k.estimate, 1e-6, "intercept");
    for (size_t j = 0; j < c.p; j++) {
        strata_model_coef(glm, j + 1, &k);
        assert_string_equal(strata_model_term(glm, j + 1), c.xnames[j]);
        assert_rel_close(path->beta[last * c.p + j], k.estimate, 1e-6, "%s", c.xnames[j]);
    }
    elnet_path_free(ctx, path);
    strata_model_free(ctx, glm);
    strata_cohort_close(coh);
    free(cols);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* ---- determinism --------------------------------------------------------------- */

static void check_threads(const char *id)
{
    elnet_path *pth[2];
    strata_ctx *ctxs[2];
    gcase c;
    case_load(id, &c);
    c.prm.par_min = 0; /* two threads even on these small data */
    for (int t = 0; t < 2; t++) {
        ctxs[t] = tu_ctx();
        strata_ctx_set_threads(ctxs[t], t + 1);
        pth[t] = fit_case(ctxs[t], &c);
    }
    assert_int_equal(pth[0]->nlam, pth[1]->nlam);
    assert_memory_equal(pth[0]->lambda, pth[1]->lambda, pth[0]->nlam * sizeof(double));
    assert_memory_equal(pth[0]->a0, pth[1]->a0, pth[0]->nlam * sizeof(double));
    assert_memory_equal(pth[0]->beta, pth[1]->beta, pth[0]->nlam * c.p * sizeof(double));
    assert_memory_equal(pth[0]->dev_ratio, pth[1]->dev_ratio, pth[0]->nlam * sizeof(double));
    for (int t = 0; t < 2; t++) {
        elnet_path_free(ctxs[t], pth[t]);
        strata_ctx_free(ctxs[t]);
    }
    case_free(&c);
}

static void test_elnet_threads__binomial_1_vs_2_byte_identical(void **state)
{
    (void)state;
    check_threads("dia_binomial_wpf");
}

static void test_elnet_threads__poisson_offset_1_vs_2_byte_identical(void **state)
{
    (void)state;
    check_threads("fl_poisson_off_a05");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_golden__dia_gaussian_a1),
        cmocka_unit_test(test_elnet_golden__dia_gaussian_a05),
        cmocka_unit_test(test_elnet_golden__dia_gaussian_a005),
        cmocka_unit_test(test_elnet_golden__dia_binomial_a1),
        cmocka_unit_test(test_elnet_golden__dia_binomial_a05),
        cmocka_unit_test(test_elnet_golden__dia_binomial_a005),
        cmocka_unit_test(test_elnet_golden__dia_poisson_a1),
        cmocka_unit_test(test_elnet_golden__dia_poisson_a05),
        cmocka_unit_test(test_elnet_golden__dia_poisson_a005),
        cmocka_unit_test(test_elnet_golden__dia_gaussian_wpf),
        cmocka_unit_test(test_elnet_golden__dia_binomial_wpf),
        cmocka_unit_test(test_elnet_golden__dia_poisson_wpf),
        cmocka_unit_test(test_elnet_golden__dia_binomial_ulam),
        cmocka_unit_test(test_elnet_golden__fl_binomial_a1),
        cmocka_unit_test(test_elnet_golden__fl_poisson_off_a05),
        cmocka_unit_test(test_elnet_kern__variants_same_bits_and_libm_accuracy),
        cmocka_unit_test(test_elnet_kkt__gaussian_penalty_factor_weights),
        cmocka_unit_test(test_elnet_kkt__binomial_penalty_factor_weights),
        cmocka_unit_test(test_elnet_kkt__poisson_offset),
        cmocka_unit_test(test_elnet_lasso_lambda0__reaches_unpenalised_glm),
        cmocka_unit_test(test_elnet_threads__binomial_1_vs_2_byte_identical),
        cmocka_unit_test(test_elnet_threads__poisson_offset_1_vs_2_byte_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
