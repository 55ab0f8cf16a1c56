/* labels: unit golden */
/* tests/test_elnet_cv.c — cv.glmnet's curves, lambda.min and lambda.1se with
 * the same fold ids; seeded stratified folds; the fit through a formula over
 * a cohort; the model file's /elnet group; the public API (fit, save, load,
 * score) and `strata fit --alpha` / `strata coef --path` against glmnet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_testdata.c"
#include "model_file.h"
#include "strata/elnet.h"

/* ---- cv.glmnet with the same fold ids ------------------------------------------- */

static void check_cv(const char *id, const char *measure)
{
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load(id, &c);
    elnet_measure ms = !strcmp(measure, "auc") ? ELNET_MEASURE_AUC
                       : !strcmp(measure, "mse") ? ELNET_MEASURE_MSE
                                                 : ELNET_MEASURE_DEVIANCE;
    elnet_data d = case_arrays(&c);
    elnet_path *full = NULL;
    elnet_cv cv;
    assert_status(ctx, elnet_path_alloc(ctx, c.p, 100, &full), STRATA_OK);
    assert_status(ctx, elnet_cv_run(ctx, &d, &c.prm, 5, c.fold, 0, ms, full, &cv), STRATA_OK);
    table *g = table_read("data/golden/elnet/elnet_cv.csv");
    size_t rows = 0;
    double worst = 0;
    for (size_t i = 0; i < g->nrow; i++) {
        if (strcmp(cell(g, i, "id"), id) || strcmp(cell(g, i, "measure"), measure))
            continue;
        size_t m = (size_t)atoi(cell(g, i, "step")) - 1;
        assert_true(m < cv.nlam);
        double want = num(cell(g, i, "cvm"));
        worst = fmax(worst, fabs(cv.cvm[m] - want) / fabs(want));
        assert_rel_close(cv.lambda[m], num(cell(g, i, "lambda")), 1e-10, "%s lambda[%zu]", id, m);
        /* AUC: one pair of held-out predictions tied in R and not here (or the
         * reverse; sums in another order) moves it by ~1 / (2 n_pos n_neg) */
        assert_rel_close(cv.cvm[m], want, ms == ELNET_MEASURE_AUC ? 2e-5 : 1e-6, "%s %s cvm[%zu]", id, measure, m);
        assert_rel_close(cv.cvsd[m], num(cell(g, i, "cvsd")), ms == ELNET_MEASURE_AUC ? 1e-4 : 1e-5, "%s %s cvsd[%zu]", id, measure, m);
        assert_int_equal(cv.nzero[m], atoi(cell(g, i, "nzero")));
        rows++;
    }
    assert_int_equal(rows, cv.nlam);
    table_free(g);
    g = table_read("data/golden/elnet/elnet_cv_summary.csv");
    for (size_t i = 0; i < g->nrow; i++)
        if (!strcmp(cell(g, i, "id"), id) && !strcmp(cell(g, i, "measure"), measure)) {
            assert_int_equal(cv.idx_min + 1, atoi(cell(g, i, "index_min")));
            assert_int_equal(cv.idx_1se + 1, atoi(cell(g, i, "index_1se")));
            assert_rel_close(cv.lambda_min, num(cell(g, i, "lambda_min")), 1e-10, "%s lambda.min", id);
            assert_rel_close(cv.lambda_1se, num(cell(g, i, "lambda_1se")), 1e-10, "%s lambda.1se", id);
            printf("  %-20s %-8s cvm max rel error %.2e, lambda.min %g (#%zu), lambda.1se %g (#%zu)\n", id,
                   measure, worst, cv.lambda_min, cv.idx_min + 1, cv.lambda_1se, cv.idx_1se + 1);
        }
    table_free(g);
    elnet_cv_free(ctx, &cv);
    elnet_path_free(ctx, full);
    case_free(&c);
    strata_ctx_free(ctx);
}

static void test_elnet_cv__gaussian_mse(void **state) { (void)state; check_cv("dia_gaussian_a05", "mse"); }
static void test_elnet_cv__binomial_deviance(void **state) { (void)state; check_cv("dia_binomial_a05", "deviance"); }
static void test_elnet_cv__binomial_auc(void **state) { (void)state; check_cv("dia_binomial_a05", "auc"); }
static void test_elnet_cv__poisson_deviance(void **state) { (void)state; check_cv("dia_poisson_a1", "deviance"); }
static void test_elnet_cv__weighted_binomial_deviance(void **state) { (void)state; check_cv("dia_binomial_wpf", "deviance"); }
static void test_elnet_cv__weighted_binomial_auc(void **state) { (void)state; check_cv("dia_binomial_wpf", "auc"); }

/* ---- the fits of a CV run at the same time (one per thread) --------------------- */

/* A small binomial problem: n x p uniform columns, y from a logistic model
 * on the first 3, from a fixed generator. */
static void toy_binomial(size_t n, size_t p, double *X, double *y)
{
    unsigned long long s = 12345;
    for (size_t i = 0; i < n; i++) {
        double eta = -0.5;
        for (size_t j = 0; j < p; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            X[j * n + i] = (double)(s >> 11) / 9007199254740992.0 * 3.4 - 1.7;
            eta += (j < 3 ? 0.8 : 0) * X[j * n + i];
        }
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        y[i] = (double)(s >> 11) / 9007199254740992.0 < 1 / (1 + exp(-eta));
    }
}

/* The toy problem as arrays; binomial, alpha 0.5, glmnet's other defaults. */
static void toy_problem(size_t n, size_t p, double *X, double *y, elnet_data *d, elnet_params *prm)
{
    toy_binomial(n, p, X, y);
    *d = (elnet_data){n, p, X, n, y, NULL, NULL, {NULL, 0, 0, 0, 0}, NULL};
    elnet_params_init(prm);
    prm->family = STRATA_FAMILY_BINOMIAL;
    prm->alpha = 0.5;
}

/* 1 and 2 threads (with 2 the fits run concurrently, each on one thread with
 * its own child context): the same curve, path and choice to the bit. */
static void test_elnet_cv__concurrent_fits_byte_identical(void **state)
{
    (void)state;
    enum { N = 2000, P = 8 };
    double *X = malloc(N * P * sizeof *X), *y = malloc(N * sizeof *y);
    elnet_data d;
    elnet_params prm;
    toy_problem(N, P, X, y, &d, &prm);
    elnet_path *full[2];
    elnet_cv cv[2];
    strata_ctx *ctx[2];
    for (int t = 0; t < 2; t++) {
        ctx[t] = tu_ctx();
        strata_ctx_set_threads(ctx[t], t + 1);
        assert_status(ctx[t], elnet_path_alloc(ctx[t], P, 100, &full[t]), STRATA_OK);
        assert_status(ctx[t], elnet_cv_run(ctx[t], &d, &prm, 5, NULL, 7, ELNET_MEASURE_DEVIANCE, full[t], &cv[t]),
                      STRATA_OK);
    }
    assert_int_equal(cv[1].nlam, cv[0].nlam);
    assert_int_equal(full[1]->nlam, full[0]->nlam);
    assert_memory_equal(cv[1].cvm, cv[0].cvm, cv[0].nlam * sizeof(double));
    assert_memory_equal(cv[1].cvsd, cv[0].cvsd, cv[0].nlam * sizeof(double));
    assert_memory_equal(cv[1].lambda, cv[0].lambda, cv[0].nlam * sizeof(double));
    assert_memory_equal(full[1]->beta, full[0]->beta, full[0]->nlam * P * sizeof(double));
    assert_memory_equal(full[1]->dev_ratio, full[0]->dev_ratio, full[0]->nlam * sizeof(double));
    assert_int_equal(cv[1].idx_min, cv[0].idx_min);
    assert_int_equal(cv[1].idx_1se, cv[0].idx_1se);
    /* the curve has its minimum inside the path, below the null model's */
    assert_true(cv[0].idx_min > 0 && cv[0].idx_min >= cv[0].idx_1se && cv[0].cvm[cv[0].idx_min] < cv[0].cvm[0]);
    for (int t = 0; t < 2; t++) {
        elnet_cv_free(ctx[t], &cv[t]);
        elnet_path_free(ctx[t], full[t]);
        strata_ctx_free(ctx[t]);
    }
    free(X);
    free(y);
}

/* Two folds fail (fold 2's training rows are all 0s, fold 3's all 1s): with
 * one thread or fits running concurrently, the error is fold 2's, the first
 * failing fit in order. */
static void test_elnet_cv__first_failing_fold_reported(void **state)
{
    (void)state;
    enum { N = 60, P = 3 };
    double X[N * P], y[N];
    int fold[N];
    toy_binomial(N, P, X, y);
    for (size_t i = 0; i < N; i++) {
        y[i] = i < 20;
        fold[i] = i < 20 ? 2 : 3; /* fold 1 holds no rows: its fit uses them all */
    }
    elnet_data d = {N, P, X, N, y, NULL, NULL, {NULL, 0, 0, 0, 0}, NULL};
    elnet_params prm;
    elnet_params_init(&prm);
    prm.family = STRATA_FAMILY_BINOMIAL;
    prm.nlambda = 10;
    for (int t = 1; t <= 2; t++) {
        strata_ctx *ctx = tu_ctx();
        elnet_path *full = NULL;
        elnet_cv cv;
        strata_ctx_set_threads(ctx, t);
        assert_status(ctx, elnet_path_alloc(ctx, P, 10, &full), STRATA_OK);
        assert_int_equal(elnet_cv_run(ctx, &d, &prm, 3, fold, 0, ELNET_MEASURE_DEFAULT, full, &cv), STRATA_EDATA);
        assert_contains(strata_ctx_errmsg(ctx), "response has mean 0 (one class only)");
        elnet_path_free(ctx, full);
        strata_ctx_free(ctx);
    }
}

/* An allocation hook failing the k-th new block (k > 0), counting the bytes
 * live (tu_count_alloc); the CV's threads call it under the context's lock. */
typedef struct fault_count {
    long at, count;
    tu_alloc_count live;
} fault_count;

static void *fault_live(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    fault_count *f = ud;
    if (!ptr && new_size && ++f->count == f->at)
        return NULL;
    return tu_count_alloc(&f->live, ptr, old_size, new_size);
}

/* Every failed allocation of a CV whose fits run concurrently (2 threads)
 * is a clean STRATA_ENOMEM: its message, nothing left allocated. */
static void test_elnet_cv__concurrent_failed_allocations_are_enomem(void **state)
{
    (void)state;
    enum { N = 300, P = 6 };
    double *X = malloc(N * P * sizeof *X), y[N];
    elnet_data d;
    elnet_params prm;
    toy_problem(N, P, X, y, &d, &prm);
    prm.nlambda = 8;
    prm.par_min = 0;
    fault_count f = {-1, 0, {0, 0}};
    strata_ctx *ctx = tu_ctx();
    strata_ctx_set_threads(ctx, 2);
    strata_ctx_set_alloc(ctx, fault_live, &f);
    elnet_cv cv;
    elnet_path *full = NULL;
    assert_status(ctx, elnet_path_alloc(ctx, P, 8, &full), STRATA_OK);
    size_t base = f.live.live;
    f.count = 0;
    assert_status(ctx, elnet_cv_run(ctx, &d, &prm, 3, NULL, 5, ELNET_MEASURE_AUC, full, &cv), STRATA_OK);
    assert_true(cv.nlam >= 5 && cv.cvm[cv.idx_min] > 0.6); /* AUC: the 3 effects are found */
    elnet_cv_free(ctx, &cv);
    assert_int_equal(f.live.live, base);
    long total = f.count; /* allocations of the CV run */
    assert_true(total > 50);
    for (long k = 1; k <= total; k++) {
        f.count = 0;
        f.at = k;
        strata_status st = elnet_cv_run(ctx, &d, &prm, 3, NULL, 5, ELNET_MEASURE_AUC, full, &cv);
        f.at = -1;
        if (st != STRATA_ENOMEM || !strstr(strata_ctx_errmsg(ctx), "out of memory"))
            fail_msg("allocation %ld of %ld: status %s, message: %s", k, total, strata_status_str(st),
                     strata_ctx_errmsg(ctx));
        if (f.live.live != base)
            fail_msg("allocation %ld of %ld: %zu bytes left allocated", k, total, f.live.live - base);
    }
    elnet_path_free(ctx, full);
    assert_int_equal(f.live.live, 0);
    strata_ctx_free(ctx);
    free(X);
}

/* Folds from a seed: a partition into K near-equal folds, each holding its
 * share of the binomial events, the same for the same seed. */
static void test_elnet_folds__seeded_stratified_partition(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("dia_binomial_a1", &c);
    int *f1 = malloc(c.n * sizeof *f1), *f2 = malloc(c.n * sizeof *f2);
    assert_status(ctx, elnet_folds(ctx, c.n, 5, 42, c.y, f1), STRATA_OK);
    assert_status(ctx, elnet_folds(ctx, c.n, 5, 42, c.y, f2), STRATA_OK);
    assert_memory_equal(f1, f2, c.n * sizeof *f1);
    size_t cnt[6] = {0}, ev[6] = {0}, events = 0;
    for (size_t i = 0; i < c.n; i++) {
        assert_true(f1[i] >= 1 && f1[i] <= 5);
        cnt[f1[i]]++;
        ev[f1[i]] += c.y[i] > 0.5;
        events += c.y[i] > 0.5;
    }
    for (int k = 1; k <= 5; k++) {
        assert_true(cnt[k] == c.n / 5 || cnt[k] == c.n / 5 + 1);
        assert_true(ev[k] == events / 5 || ev[k] == events / 5 + 1);
    }
    free(f1);
    free(f2);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* The formula route builds the same design as the arrays: the same path to the
 * bit, and the model holds (a0, beta) at the selected step in design order. */
static void test_elnet_source__formula_matches_arrays(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("dia_binomial_wpf", &c);
    char formula[8192];
    strata_cohort *coh = case_cohort(ctx, &c, formula, sizeof formula);
    glm_source src = {coh, "elnet_case.h5", strata_cohort_nrows(coh), co_find, co_read, NULL};
    const char *terms[] = {"x_number_inpatient", "x_time_in_hospital", "x_gender_Male"};
    double vals[] = {0, 2, 0.5};
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.prm = c.prm;
    sp.prm.penalty = NULL;
    sp.formula = formula;
    sp.weights = "w";
    sp.pf_term = terms;
    sp.pf_value = vals;
    sp.npf = 3;
    glm_model *m = NULL;
    elnet_fitted res;
    assert_status(ctx, elnet_fit_source(ctx, &src, &sp, &m, &res), STRATA_OK);
    elnet_path *direct = fit_case(ctx, &c);
    assert_int_equal(res.path->nlam, direct->nlam);
    assert_memory_equal(res.path->lambda, direct->lambda, direct->nlam * sizeof(double));
    assert_memory_equal(res.path->beta, direct->beta, direct->nlam * c.p * sizeof(double));
    assert_int_equal(res.selected, direct->nlam - 1);
    assert_int_equal(glm_model_nterms(m), c.p + 1);
    assert_string_equal(glm_model_term(m, 0), "(Intercept)");
    strata_coef k;
    glm_model_coef(m, 0, &k);
    assert_true(k.estimate == direct->a0[res.selected]);
    for (size_t j = 0; j < c.p; j++) {
        glm_model_coef(m, j + 1, &k);
        assert_string_equal(glm_model_term(m, j + 1), c.xnames[j]);
        assert_true(k.estimate == direct->beta[res.selected * c.p + j]);
        assert_true(isnan(k.std_error));
    }
    elnet_path_free(ctx, direct);
    elnet_fitted_free(ctx, &res);
    glm_model_free(ctx, m);
    strata_cohort_close(coh);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* The /elnet items of a model file give the path and CV curve back bit for bit. */
static void check_store_roundtrip(strata_ctx *ctx, const elnet_fitted *res, size_t p)
{
    const char *h5 = tu_tmp("elnet_store.h5");
    strata_record rec;
    strata_record_init(&rec);
    assert_status(ctx, elnet_export(ctx, res, &rec), STRATA_OK);
    assert_status(ctx, strata_rec_put_text(ctx, &rec, STRATA_REC_KIND, "elnet-test"), STRATA_OK);
    assert_status(ctx, strata_model_file_write(ctx, &rec, h5), STRATA_OK);
    strata_record_free(ctx, &rec);
    elnet_fitted back;
    assert_status(ctx, strata_model_file_read(ctx, h5, &rec), STRATA_OK);
    assert_status(ctx, elnet_import(ctx, &rec, h5, p, &back), STRATA_OK);
    strata_record_free(ctx, &rec);
    const elnet_path *a = res->path, *b = back.path;
    assert_int_equal(b->nlam, a->nlam);
    assert_int_equal(back.selected, res->selected);
    assert_true(back.alpha == res->alpha && back.lambda == res->lambda);
    assert_memory_equal(b->lambda, a->lambda, a->nlam * sizeof(double));
    assert_memory_equal(b->a0, a->a0, a->nlam * sizeof(double));
    assert_memory_equal(b->beta, a->beta, a->nlam * p * sizeof(double));
    assert_memory_equal(b->df, a->df, a->nlam * sizeof(int));
    assert_int_equal(back.cv.nlam, res->cv.nlam);
    assert_int_equal(back.cv.measure, res->cv.measure);
    assert_memory_equal(back.cv.cvm, res->cv.cvm, res->cv.nlam * sizeof(double));
    assert_memory_equal(back.cv.cvsd, res->cv.cvsd, res->cv.nlam * sizeof(double));
    elnet_fitted_free(ctx, &back);
}

/* --cv with the fixture's folds keeps cv.glmnet's lambda.1se (or lambda.min). */
static void test_elnet_source__cv_selects_glmnet_lambda(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("dia_binomial_a05", &c);
    char formula[8192];
    strata_cohort *coh = case_cohort(ctx, &c, formula, sizeof formula);
    glm_source src = {coh, "elnet_case.h5", strata_cohort_nrows(coh), co_find, co_read, NULL};
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.prm = c.prm;
    sp.prm.penalty = NULL;
    sp.formula = formula;
    sp.cv_folds = 5;
    sp.foldid = c.fold;
    table *g = table_read("data/golden/elnet/elnet_cv_summary.csv");
    glm_model *m = NULL;
    elnet_fitted res;
    assert_status(ctx, elnet_fit_source(ctx, &src, &sp, &m, &res), STRATA_OK);
    for (size_t i = 0; i < g->nrow; i++)
        if (!strcmp(cell(g, i, "id"), c.id) && !strcmp(cell(g, i, "measure"), "deviance")) {
            assert_int_equal(res.selected + 1, atoi(cell(g, i, "index_1se"))); /* the default */
            assert_rel_close(res.lambda, num(cell(g, i, "lambda_1se")), 1e-10, "lambda.1se");
            assert_int_equal(res.cv.idx_min + 1, atoi(cell(g, i, "index_min")));
            assert_rel_close(res.cv.lambda_min, num(cell(g, i, "lambda_min")), 1e-10, "lambda.min");
        }
    check_store_roundtrip(ctx, &res, c.p);
    elnet_fitted_free(ctx, &res);
    glm_model_free(ctx, m);
    table_free(g);
    strata_cohort_close(coh);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* The public API: fit on a cohort, save, load, score. The loaded model scores
 * with the selected step's coefficients; the path and CV curve load back. */
static void test_elnet_api__fit_save_load_score(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("dia_binomial_a05", &c);
    char formula[8192];
    strata_cohort *coh = case_cohort(ctx, &c, formula, sizeof formula);
    strata_glm_params gp;
    strata_elnet_params ep;
    strata_glm_params_init(&gp);
    strata_elnet_params_init(&ep);
    gp.family = STRATA_FAMILY_BINOMIAL;
    gp.formula = formula;
    ep.alpha = 0.5;
    ep.cv_folds = 5;
    ep.seed = 7;
    strata_model *m = NULL, *m2 = NULL;
    strata_elnet *e = NULL, *e2 = NULL;
    assert_status(ctx, strata_elnet_fit(ctx, coh, &gp, &ep, &m, &e), STRATA_OK);
    const char *file = tu_tmp("elnet_model.h5");
    assert_status(ctx, strata_elnet_save(ctx, m, e, file), STRATA_OK);
    assert_status(ctx, strata_model_load(ctx, file, &m2), STRATA_OK);
    assert_status(ctx, strata_elnet_load(ctx, file, m2, &e2), STRATA_OK);
    assert_non_null(e2);
    size_t p = strata_model_nterms(m2), k = strata_elnet_selected(e2);
    assert_int_equal(strata_elnet_nsteps(e2), strata_elnet_nsteps(e));
    assert_int_equal(k, strata_elnet_selected(e));
    assert_int_equal(strata_elnet_cv_steps(e2), strata_elnet_nsteps(e));
    assert_string_equal(strata_elnet_cv_measure(e2), "deviance");
    for (size_t j = 0; j < p; j++) {
        strata_coef co;
        strata_model_coef(m2, j, &co);
        assert_true(co.estimate == strata_elnet_coef(e2, k, j));
    }
    double *lp = malloc(c.n * sizeof *lp);
    assert_status(ctx, strata_score(ctx, m2, coh, STRATA_UNSEEN_ERROR, lp, NULL), STRATA_OK);
    for (size_t i = 0; i < c.n; i += 97) {
        double want = strata_elnet_coef(e2, k, 0);
        for (size_t j = 1; j < p; j++)
            want += strata_elnet_coef(e2, k, j) * c.X[(j - 1) * c.n + i];
        assert_rel_close(lp[i], want, 1e-12, "lp[%zu]", i);
    }
    free(lp);
    strata_elnet_free(ctx, e);
    strata_elnet_free(ctx, e2);
    strata_model_free(ctx, m);
    strata_model_free(ctx, m2);
    strata_cohort_close(coh);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* `strata fit --alpha --lambda` then `strata coef --path --csv`: glmnet's
 * coefficients on the user path (dia_binomial_ulam), through the CLI. */
static void test_elnet_cli__fit_and_coef_path_match_glmnet(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load("dia_binomial_ulam", &c);
    char formula[8192], *out = NULL;
    strata_cohort *coh = case_cohort(ctx, &c, formula, sizeof formula);
    strata_cohort_close(coh);
    const char *model = tu_tmp("elnet_cli.h5");
    int rc = tu_run_cli(&out, "fit '%s' --formula '%s' --family binomial --alpha 0.3 --lambda 0.2,0.1,0.05,0.02,0.01,0.005,0.002,0.001 --thresh 1e-22 --out '%s'",
                        tu_tmp("elnet_case.h5"), formula, model);
    assert_int_equal(rc, 0);
    assert_contains(out, "8 lambdas");
    free(out);
    rc = tu_run_cli(&out, "coef '%s' --path --csv", model);
    assert_int_equal(rc, 0);
    table *g = table_read("data/golden/elnet/elnet_dia_path.csv");
    size_t checked = 0;
    char *line = strchr(out, '\n');
    for (; line && line[1]; line = strchr(line + 1, '\n')) {
        double lam = atof(line + 1), est;
        char term[256];
        const char *c1 = strchr(line + 1, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        assert_non_null(c2);
        snprintf(term, sizeof term, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
        est = atof(c2 + 1);
        for (size_t i = 0; i < g->nrow; i++) {
            if (strcmp(cell(g, i, "id"), c.id) || fabs(num(cell(g, i, "lambda")) / lam - 1) > 1e-12)
                continue;
            double scale = 0;
            for (size_t j = 0; j < c.p; j++)
                scale = fmax(scale, fabs(num(cell(g, i, c.xnames[j]))));
            double want = num(cell(g, i, strcmp(term, "(Intercept)") ? term : "a0"));
            assert_abs_close(est, want, RTOL * fmax(fabs(want), FLOOR * fmax(scale, fabs(num(cell(g, i, "a0"))))),
                             "cli %s at lambda %g", term, lam);
            checked++;
        }
    }
    assert_int_equal(checked, 8 * (c.p + 1));
    free(out);
    table_free(g);
    case_free(&c);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_cv__gaussian_mse),
        cmocka_unit_test(test_elnet_cv__binomial_deviance),
        cmocka_unit_test(test_elnet_cv__binomial_auc),
        cmocka_unit_test(test_elnet_cv__poisson_deviance),
        cmocka_unit_test(test_elnet_cv__weighted_binomial_deviance),
        cmocka_unit_test(test_elnet_cv__weighted_binomial_auc),
        cmocka_unit_test(test_elnet_cv__concurrent_fits_byte_identical),
        cmocka_unit_test(test_elnet_cv__first_failing_fold_reported),
        cmocka_unit_test(test_elnet_cv__concurrent_failed_allocations_are_enomem),
        cmocka_unit_test(test_elnet_folds__seeded_stratified_partition),
        cmocka_unit_test(test_elnet_source__formula_matches_arrays),
        cmocka_unit_test(test_elnet_source__cv_selects_glmnet_lambda),
        cmocka_unit_test(test_elnet_api__fit_save_load_score),
        cmocka_unit_test(test_elnet_cli__fit_and_coef_path_match_glmnet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
