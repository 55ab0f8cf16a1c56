/* labels: unit golden determinism */
/* tests/test_elnet_cox.c — penalised Cox paths (glmnet's family = "cox") against
 * glmnet 4.1-6 on lung and flchain (data/golden/elnet, made by make_coxnet.R): the
 * same lambda sequence, path length, deviance ratios and coefficients at every
 * lambda (alpha 1, 0.5, 0.8; weights; penalty factors; a user path); cv.glmnet's
 * deviance curve, lambda.min and lambda.1se with the same folds; the KKT conditions
 * at every lambda; lasso at lambda -> 0 against the unpenalised Breslow Cox fit;
 * 1 vs 2 threads byte-identical; the formula route, model file, baseline hazard,
 * CLI and `strata run`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_testdata.c"
#include "elnet_cox.h"
#include "cox_internal.h"

/* One glmnet() call of coxnet_cases.csv with its data on arrays: the GLM case's
 * fields (y is the status), plus the times. */
typedef struct ccase {
    gcase g;
    double *time;
} ccase;

static void ccase_load(const char *id, ccase *c)
{
    table *cs = table_read("data/golden/elnet/coxnet_cases.csv");
    size_t row = 0;
    while (row < cs->nrow && strcmp(cell(cs, row, "id"), id))
        row++;
    assert_true(row < cs->nrow);
    memset(c, 0, sizeof *c);
    gcase *g = &c->g;
    snprintf(g->id, sizeof g->id, "%s", id);
    snprintf(g->data, sizeof g->data, "%s", cell(cs, row, "data"));
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/elnet/coxnet_%s_data.csv", g->data);
    table *d = table_read(rel);
    g->n = d->nrow;
    g->xnames = malloc(d->ncol * sizeof *g->xnames);
    g->X = malloc(d->nrow * d->ncol * sizeof *g->X);
    for (size_t j = 0; j < d->ncol; j++)
        if (!strncmp(d->names[j], "x_", 2)) {
            double *v = column(d, d->names[j]);
            memcpy(g->X + g->p * g->n, v, g->n * sizeof *v);
            free(v);
            g->xnames[g->p++] = xstrdup(d->names[j]);
        }
    c->time = column(d, "time");
    g->y = column(d, "status");
    g->w = atoi(cell(cs, row, "weights")) ? column(d, "w") : NULL;
    double *fold = column(d, "fold");
    g->fold = malloc(g->n * sizeof *g->fold);
    for (size_t i = 0; i < g->n; i++)
        g->fold[i] = (int)fold[i];
    free(fold);
    table_free(d);
    case_penalty(g, cell(cs, row, "penalty"));
    elnet_params_init(&g->prm);
    g->prm.alpha = atof(cell(cs, row, "alpha"));
    g->prm.penalty = g->pf;
    g->prm.thresh = 1e-14;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", cell(cs, row, "lambda"));
    if (*buf) {
        g->lam = malloc(64 * sizeof *g->lam);
        for (char *s = strtok(buf, ";"); s; s = strtok(NULL, ";"))
            g->lam[g->prm.nuser++] = atof(s);
        g->prm.lambda = g->lam;
    }
    table_free(cs);
}

static void ccase_free(ccase *c)
{
    case_free(&c->g);
    free(c->time);
}

static elnet_cox_data ccase_arrays(const ccase *c)
{
    return (elnet_cox_data){c->g.n, c->g.p, c->g.X, c->g.n, c->time, c->g.y, c->g.w, NULL};
}

static elnet_path *ccase_fit(strata_ctx *ctx, const ccase *c)
{
    elnet_path *path = NULL;
    elnet_cox_data d = ccase_arrays(c);
    assert_status(ctx, elnet_path_alloc(ctx, c->g.p, 100, &path), STRATA_OK);
    assert_status(ctx, elnet_cox_fit(ctx, &d, &c->g.prm, path), STRATA_OK);
    assert_int_equal(path->converged, 1);
    return path;
}

/* ---- golden paths ---------------------------------------------------------- */

/* As the fixtures were made: the path (lambdas, early stop, deviance ratios) at
 * thresh 1e-14, then the coefficients and deviance ratios of a refit on those
 * lambdas at 1e-22 (glmnet at 1e-14 is itself only within ~1e-5 of its optimum). */
static void check_golden_path(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load(id, &c);
    c.g.prm.maxit = 10000000;
    elnet_path *path = ccase_fit(ctx, &c);
    double *lam = malloc(path->nlam * sizeof *lam);
    memcpy(lam, path->lambda, path->nlam * sizeof *lam);
    c.g.prm.lambda = lam;
    c.g.prm.nuser = path->nlam;
    c.g.prm.thresh = GOLDEN_THRESH;
    elnet_path *refit = ccase_fit(ctx, &c);
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/elnet/coxnet_%s_path.csv", c.g.data);
    table *g = table_read(rel);
    size_t steps = 0;
    double worst = 0, worst_dev = 0;
    for (size_t i = 0; i < g->nrow; i++) {
        if (strcmp(cell(g, i, "id"), id))
            continue;
        size_t m = (size_t)atoi(cell(g, i, "step")) - 1;
        char bn[32];
        assert_true(m < path->nlam);
        assert_rel_close(path->lambda[m], num(cell(g, i, "lambda")), 1e-10, "%s lambda[%zu]", id, m);
        assert_rel_close(path->nulldev, num(cell(g, i, "nulldev")), 1e-10, "%s nulldev", id);
        assert_abs_close(path->dev_ratio[m], num(cell(g, i, "dev_ratio_path")), 1e-7, "%s dev.ratio (1e-14)[%zu]",
                         id, m);
        assert_abs_close(refit->dev_ratio[m], num(cell(g, i, "dev_ratio")), DEVTOL, "%s dev.ratio[%zu]", id, m);
        worst_dev = fmax(worst_dev, fabs(refit->dev_ratio[m] - num(cell(g, i, "dev_ratio"))));
        double scale = 0;
        for (size_t j = 0; j < c.g.p; j++) {
            snprintf(bn, sizeof bn, "b%zu", j + 1);
            scale = fmax(scale, fabs(num(cell(g, i, bn))));
        }
        for (size_t j = 0; j < c.g.p; j++) {
            snprintf(bn, sizeof bn, "b%zu", j + 1);
            double want = num(cell(g, i, bn)), got = refit->beta[m * c.g.p + j];
            double den = fmax(fmax(fabs(want), FLOOR * scale), 1e-9); /* glmnet: 1e-17 at lambda_max */
            worst = fmax(worst, fabs(got - want) / den);
            assert_abs_close(got, want, RTOL * den, "%s beta[%zu] %s", id, m, c.g.xnames[j]);
            if (want == 0)
                assert_true(fabs(got) <= 1e-9 * fmax(scale, 1e-6));
        }
        steps++;
    }
    assert_int_equal(steps, path->nlam); /* the same early stop */
    printf("  %-14s %3zu lambdas, max scaled error %.2e, dev.ratio %.1e, %d passes\n", id, steps, worst,
           worst_dev, path->npasses);
    table_free(g);
    elnet_path_free(ctx, path);
    elnet_path_free(ctx, refit);
    free(lam);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

#define GOLDEN(name) \
    static void test_elnet_cox_golden__##name(void **state) { (void)state; check_golden_path(#name); }
GOLDEN(lung_a1)
GOLDEN(lung_a05_wpf)
GOLDEN(fl_a1_w)
GOLDEN(fl_a05_pf)
GOLDEN(lung_ulam)

/* ---- cross-validation --------------------------------------------------------- */

/* cv.glmnet(foldid = fold, type.measure = "deviance") with glmnet's folds: the
 * same lambdas, curve and standard errors, lambda.min and lambda.1se. */
static void check_golden_cv(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    ccase c;
    elnet_path *full = NULL;
    elnet_cv cv;
    ccase_load(id, &c);
    elnet_cox_data d = ccase_arrays(&c);
    assert_status(ctx, elnet_path_alloc(ctx, c.g.p, 100, &full), STRATA_OK);
    assert_status(ctx, elnet_cox_cv_run(ctx, &d, &c.g.prm, 5, c.g.fold, 1, full, &cv), STRATA_OK);
    table *g = table_read("data/golden/elnet/coxnet_cv.csv");
    size_t steps = 0;
    double worst = 0;
    for (size_t i = 0; i < g->nrow; i++) {
        if (strcmp(cell(g, i, "id"), id))
            continue;
        size_t m = (size_t)atoi(cell(g, i, "step")) - 1;
        assert_true(m < cv.nlam);
        assert_rel_close(cv.lambda[m], num(cell(g, i, "lambda")), 1e-10, "%s cv lambda[%zu]", id, m);
        assert_rel_close(cv.cvm[m], num(cell(g, i, "cvm")), 1e-10, "%s cvm[%zu]", id, m);
        assert_rel_close(cv.cvsd[m], num(cell(g, i, "cvsd")), 1e-8, "%s cvsd[%zu]", id, m);
        assert_int_equal(cv.nzero[m], atoi(cell(g, i, "nzero")));
        worst = fmax(worst, fabs(cv.cvm[m] / num(cell(g, i, "cvm")) - 1));
        steps++;
    }
    assert_int_equal(steps, cv.nlam);
    table_free(g);
    g = table_read("data/golden/elnet/coxnet_cv_summary.csv");
    size_t r = 0;
    while (r < g->nrow && strcmp(cell(g, r, "id"), id))
        r++;
    assert_true(r < g->nrow);
    assert_int_equal(cv.idx_min + 1, atoi(cell(g, r, "index_min")));
    assert_int_equal(cv.idx_1se + 1, atoi(cell(g, r, "index_1se")));
    assert_rel_close(cv.lambda_min, num(cell(g, r, "lambda_min")), 1e-10, "%s lambda.min", id);
    printf("  %-14s %3zu lambdas, cvm max rel error %.2e, lambda.min step %zu, lambda.1se step %zu\n", id, steps,
           worst, cv.idx_min + 1, cv.idx_1se + 1);
    table_free(g);
    elnet_cv_free(ctx, &cv);
    elnet_path_free(ctx, full);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

static void test_elnet_cox_cv__lung_matches_cv_glmnet(void **state)
{
    (void)state;
    check_golden_cv("lung_a1");
}

static void test_elnet_cox_cv__flchain_weights_match_cv_glmnet(void **state)
{
    (void)state;
    check_golden_cv("fl_a1_w");
}

/* ---- KKT at every lambda -------------------------------------------------------- */

typedef struct trow {
    double t;
    size_t i;
} trow;

static int cmp_time_desc(const void *a, const void *b)
{
    double x = ((const trow *)a)->t, y = ((const trow *)b)->t;
    return (x < y) - (x > y);
}

/* The score of the Breslow log partial likelihood (weights summing to 1) on the
 * standardised columns xs (n x p) at eta: sum over event times of the event rows'
 * w x minus dk S1 / S0 over the risk set {t_j >= t} (running sums in time order). */
static void breslow_score(size_t n, size_t p, const double *xs, const double *time, const double *status,
                          const double *w, const double *eta, double *g)
{
    trow *r = malloc(n * sizeof *r);
    double S0 = 0, *S1 = calloc(p, sizeof *S1);
    for (size_t i = 0; i < n; i++)
        r[i] = (trow){time[i], i};
    qsort(r, n, sizeof *r, cmp_time_desc);
    memset(g, 0, p * sizeof *g);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        double dk = 0;
        while (b < n && r[b].t == r[a].t) {
            size_t i = r[b++].i;
            S0 += w[i] * exp(eta[i]);
            for (size_t j = 0; j < p; j++)
                S1[j] += w[i] * exp(eta[i]) * xs[j * n + i];
        }
        for (size_t k = a; k < b; k++) {
            size_t i = r[k].i;
            dk += w[i] * status[i];
            for (size_t j = 0; j < p; j++)
                g[j] += w[i] * status[i] * xs[j * n + i];
        }
        for (size_t j = 0; j < p && dk > 0; j++)
            g[j] -= dk * S1[j] / S0;
        a = b;
    }
    free(r);
    free(S1);
}

/* The largest violation of glmnet's optimality conditions over the path, on the
 * standardised scale: g_j = lambda vp_j ((1 - alpha) b_j xs_j + alpha sign b_j) for a
 * non-zero coefficient, |g_j| <= lambda alpha vp_j for a zero one. */
static double kkt_worst(const ccase *c, const elnet_path *path)
{
    const gcase *g = &c->g;
    size_t n = g->n, p = g->p;
    double sw = 0, spf = 0, worst = 0;
    double *w = malloc(n * sizeof *w), *xs = malloc(n * p * sizeof *xs), *sd = malloc(p * sizeof *sd);
    double *eta = malloc(n * sizeof *eta), *sc = malloc(p * sizeof *sc);
    for (size_t i = 0; i < n; i++)
        sw += g->w ? g->w[i] : 1;
    for (size_t i = 0; i < n; i++)
        w[i] = (g->w ? g->w[i] : 1) / sw;
    for (size_t j = 0; j < p; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            m += w[i] * g->X[j * n + i];
        for (size_t i = 0; i < n; i++)
            v += w[i] * (g->X[j * n + i] - m) * (g->X[j * n + i] - m);
        sd[j] = sqrt(v);
        for (size_t i = 0; i < n; i++)
            xs[j * n + i] = (g->X[j * n + i] - m) / sd[j];
        spf += g->pf[j];
    }
    for (size_t m = 1; m < path->nlam; m++) { /* step 0: the all-zero lambda_max */
        const double *b = path->beta + m * p;
        double lam = path->lambda[m], a = g->prm.alpha;
        for (size_t i = 0; i < n; i++) {
            eta[i] = 0;
            for (size_t j = 0; j < p; j++)
                eta[i] += b[j] * sd[j] * xs[j * n + i];
        }
        breslow_score(n, p, xs, c->time, g->y, w, eta, sc);
        for (size_t j = 0; j < p; j++) {
            double vp = g->pf[j] * (double)p / spf, bs = b[j] * sd[j], v;
            if (bs != 0)
                v = fabs(sc[j] - lam * vp * ((1 - a) * bs + a * (bs > 0 ? 1 : -1)));
            else
                v = fmax(0, fabs(sc[j]) - lam * a * vp);
            worst = fmax(worst, v);
        }
    }
    free(w), free(xs), free(sd), free(eta), free(sc);
    return worst;
}

static void check_kkt(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load(id, &c);
    elnet_path *path = ccase_fit(ctx, &c);
    double worst = kkt_worst(&c, path);
    printf("  %-14s KKT: largest violation %.2e over %zu lambdas\n", id, worst, path->nlam);
    /* CD stops when no pass moves a standardised coefficient by more than
     * sqrt(thresh x null deviance / curvature): scores within ~1e-7 of optimal */
    assert_true(worst < 10 * sqrt(c.g.prm.thresh));
    elnet_path_free(ctx, path);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

#define KKT(name, id) \
    static void test_elnet_cox_kkt__##name(void **state) { (void)state; check_kkt(id); }
KKT(lasso_every_lambda, "lung_a1")
KKT(weights_penalty_factor_every_lambda, "lung_a05_wpf")
KKT(flchain_ties_every_lambda, "fl_a05_pf")

/* ---- lasso at lambda -> 0 is the unpenalised Breslow Cox fit -------------------- */

static void test_elnet_cox_lasso_lambda0__reaches_unpenalised_breslow(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load("lung_a05_wpf", &c); /* weights */
    static const double lam[] = {0.1, 0.01, 1e-3, 1e-4, 1e-6, 1e-9};
    c.g.prm.alpha = 1;
    c.g.prm.penalty = NULL;
    c.g.prm.lambda = lam;
    c.g.prm.nuser = sizeof lam / sizeof *lam;
    c.g.prm.thresh = 1e-22;
    c.g.prm.maxit = 10000000;
    elnet_path *path = ccase_fit(ctx, &c);
    assert_int_equal(path->nlam, 6);
    cox_params prm;
    cox_result *r = NULL;
    cox_params_init(&prm);
    prm.ties = COX_TIES_BRESLOW;
    prm.eps = 1e-14;
    cox_input in = {c.g.n, c.g.p, c.g.X, c.time, c.g.y, c.g.w, NULL, NULL, NULL, NULL};
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    double worst = 0;
    for (size_t j = 0; j < c.g.p; j++) {
        double got = path->beta[5 * c.g.p + j];
        worst = fmax(worst, fabs(got / r->beta[j] - 1));
        assert_rel_close(got, r->beta[j], 1e-6, "beta %s at lambda 1e-9", c.g.xnames[j]);
    }
    printf("  lambda 1e-9 vs coxph(ties = \"breslow\"): max rel difference %.2e\n", worst);
    cox_result_free(ctx, r);
    elnet_path_free(ctx, path);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

/* ---- determinism ------------------------------------------------------------------ */

static void test_elnet_cox_threads__1_vs_2_byte_identical(void **state)
{
    (void)state;
    elnet_path *path[2];
    elnet_cv cv[2];
    strata_ctx *ctx[2];
    ccase c;
    ccase_load("lung_a05_wpf", &c);
    elnet_cox_data d = ccase_arrays(&c);
    for (int t = 0; t < 2; t++) {
        ctx[t] = tu_ctx();
        strata_ctx_set_threads(ctx[t], t + 1);
        assert_status(ctx[t], elnet_path_alloc(ctx[t], c.g.p, 100, &path[t]), STRATA_OK);
        assert_status(ctx[t], elnet_cox_cv_run(ctx[t], &d, &c.g.prm, 5, NULL, 7, path[t], &cv[t]), STRATA_OK);
    }
    assert_int_equal(path[0]->nlam, path[1]->nlam);
    assert_memory_equal(path[0]->beta, path[1]->beta, path[0]->nlam * c.g.p * sizeof(double));
    assert_memory_equal(path[0]->lambda, path[1]->lambda, path[0]->nlam * sizeof(double));
    assert_memory_equal(cv[0].cvm, cv[1].cvm, cv[0].nlam * sizeof(double));
    assert_memory_equal(cv[0].cvsd, cv[1].cvsd, cv[0].nlam * sizeof(double));
    for (int t = 0; t < 2; t++) {
        elnet_cv_free(ctx[t], &cv[t]);
        elnet_path_free(ctx[t], path[t]);
        strata_ctx_free(ctx[t]);
    }
    ccase_free(&c);
}

/* The K + 1 fits run concurrently on 2 threads; the error is still the
 * first failing fold in order, as on one thread: folds 2 and 4 hold only
 * censored rows. */
static void test_elnet_cox_cv__first_failing_fold_in_order_on_any_threads(void **state)
{
    (void)state;
    ccase c;
    ccase_load("lung_a05_wpf", &c);
    elnet_cox_data d = ccase_arrays(&c);
    int *fold = malloc(d.n * sizeof *fold);
    for (size_t i = 0, e = 0, z = 0; i < d.n; i++)
        fold[i] = d.status[i] > 0 ? 1 + (int)(e++ % 3) * 2 : 1 + (int)(z++ % 5);
    for (int t = 1; t <= 2; t++) {
        strata_ctx *ctx = tu_ctx();
        elnet_path *path;
        elnet_cv cv;
        strata_ctx_set_threads(ctx, t);
        assert_status(ctx, elnet_path_alloc(ctx, c.g.p, 100, &path), STRATA_OK);
        assert_status(ctx, elnet_cox_cv_run(ctx, &d, &c.g.prm, 5, fold, 1, path, &cv), STRATA_EDATA);
        assert_non_null(strstr(strata_ctx_errmsg(ctx), "coxnet cv: fold 2 has no events"));
        elnet_path_free(ctx, path);
        strata_ctx_free(ctx);
    }
    free(fold);
    ccase_free(&c);
}

/* ---- the formula route, the model file, scoring, the CLI --------------------------- */

/* The case's columns (x_*, time, status, w) as a cohort and its Cox formula. */
static strata_cohort *ccase_cohort(strata_ctx *ctx, const ccase *c, const char *file, char *formula, size_t size)
{
    const gcase *g = &c->g;
    td_mem *cols = calloc(g->p + 3, sizeof *cols);
    size_t len = (size_t)snprintf(formula, size, "Surv(time, status) ~ ");
    for (size_t j = 0; j < g->p; j++) {
        cols[j] = (td_mem){g->xnames[j], g->X + j * g->n, NULL, NULL, 0};
        len += (size_t)snprintf(formula + len, size - len, "%s%s", j ? " + " : "", g->xnames[j]);
    }
    cols[g->p] = (td_mem){"time", c->time, NULL, NULL, 0};
    cols[g->p + 1] = (td_mem){"status", g->y, NULL, NULL, 0};
    cols[g->p + 2] = (td_mem){"w", g->w ? g->w : c->time, NULL, NULL, 0};
    assert_status(ctx, td_write_cohort(ctx, file, cols, (int)g->p + 3, g->n), STRATA_OK);
    free(cols);
    strata_cohort *coh = NULL;
    assert_status(ctx, strata_cohort_open(ctx, file, &coh), STRATA_OK);
    return coh;
}

/* strata_elnet_cox_fit over a cohort: the same path and CV curve as on arrays (same
 * folds), the selected coefficients in an ordinary Cox model file that loads back
 * bit for bit, and risk by a horizon from the Breslow baseline hazard at the
 * selected beta: H0(t) = sum over event times <= t of dk / sum_{risk set} w exp(x'b). */
static void test_elnet_cox_model__formula_file_and_breslow_baseline(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load("lung_a05_wpf", &c);
    char formula[4096];
    strata_cohort *coh = ccase_cohort(ctx, &c, tu_tmp("coxnet_lung.h5"), formula, sizeof formula);
    strata_cox_params cp;
    strata_cox_params_init(&cp);
    cp.formula = formula;
    cp.weights = "w";
    cp.ties = STRATA_COX_BRESLOW;
    strata_elnet_params ep;
    strata_elnet_params_init(&ep);
    const char *pft[] = {"x_age", "x_sex"};
    const double pfv[] = {0, 2};
    ep.alpha = 0.5;
    ep.penalty_term = pft, ep.penalty_value = pfv, ep.n_penalty = 2;
    ep.thresh = 1e-14;
    ep.cv_folds = 5;
    ep.seed = 3;
    ep.select_min = 1;
    strata_cox *m = NULL, *m2 = NULL;
    strata_elnet *e = NULL, *e2 = NULL;
    assert_status(ctx, strata_elnet_cox_fit(ctx, coh, &cp, &ep, &m, &e), STRATA_OK);
    /* the arrays' fit with the same folds */
    elnet_path *full = NULL;
    elnet_cv cv;
    elnet_cox_data d = ccase_arrays(&c);
    assert_status(ctx, elnet_path_alloc(ctx, c.g.p, 100, &full), STRATA_OK);
    assert_status(ctx, elnet_cox_cv_run(ctx, &d, &c.g.prm, 5, NULL, 3, full, &cv), STRATA_OK);
    size_t K = strata_elnet_nsteps(e), p = c.g.p, sel = strata_elnet_selected(e);
    assert_int_equal(K, full->nlam);
    assert_int_equal(sel, cv.idx_min);
    for (size_t k = 0; k < K; k++) {
        assert_true(strata_elnet_lambda(e, k) == full->lambda[k]);
        assert_true(strata_elnet_cv_mean(e, k) == cv.cvm[k]);
        for (size_t j = 0; j < p; j++)
            assert_true(strata_elnet_coef(e, k, j + 1) == full->beta[k * p + j]);
    }
    assert_int_equal(strata_cox_nterms(m), p);
    for (size_t j = 0; j < p; j++) {
        strata_cox_coef co;
        strata_cox_coef_row(m, j, 0.95, &co);
        assert_true(co.estimate == full->beta[sel * p + j]);
        assert_true(isnan(co.std_error));
    }
    const char *file = tu_tmp("coxnet_model.h5");
    assert_status(ctx, strata_elnet_cox_save(ctx, m, e, file), STRATA_OK);
    assert_int_equal(strata_cox_is_model_file(file), 1);
    assert_status(ctx, strata_cox_load(ctx, file, &m2), STRATA_OK);
    assert_status(ctx, strata_elnet_cox_load(ctx, file, m2, &e2), STRATA_OK);
    assert_non_null(e2);
    assert_int_equal(strata_elnet_selected(e2), sel);
    assert_string_equal(strata_elnet_cv_measure(e2), "deviance");
    /* risk by 365 days from the loaded model against the Breslow baseline computed here */
    const double h = 365;
    double *lp = malloc(c.g.n * sizeof *lp), *risk = malloc(c.g.n * sizeof *risk), S0 = 0, H0 = 0;
    assert_status(ctx, strata_cox_score(ctx, m2, coh, STRATA_UNSEEN_ERROR, &h, 1, lp, risk), STRATA_OK);
    for (size_t i = 0; i < c.g.n; i++) {
        double want = 0;
        for (size_t j = 0; j < p; j++)
            want += full->beta[sel * p + j] * c.g.X[j * c.g.n + i];
        assert_rel_close(lp[i], want, 1e-12, "lp[%zu]", i);
    }
    for (size_t a = 0; a < c.g.n; a++) { /* event times t <= h: dk(t) / S0(t), O(n^2) */
        if (c.g.y[a] != 1 || c.time[a] > h)
            continue;
        S0 = 0;
        for (size_t i = 0; i < c.g.n; i++)
            if (c.time[i] >= c.time[a])
                S0 += c.g.w[i] * exp(lp[i]);
        H0 += c.g.w[a] / S0;
    }
    for (size_t i = 0; i < c.g.n; i += 13)
        assert_rel_close(risk[i], 1 - exp(-H0 * exp(lp[i])), 1e-10, "risk[%zu] by %g", i, h);
    free(lp), free(risk);
    elnet_cv_free(ctx, &cv);
    elnet_path_free(ctx, full);
    strata_elnet_free(ctx, e), strata_elnet_free(ctx, e2);
    strata_cox_free(ctx, m), strata_cox_free(ctx, m2);
    strata_cohort_close(coh);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

/* The penalised Cox fit does not stream: under a budget below what it holds it is
 * refused before reading, naming the budget and the bytes it needs (with CV, the
 * fits at once on 2 threads); under that many bytes it runs. */
static void test_elnet_cox_model__over_budget_refused_naming_the_need(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load("lung_a05_wpf", &c);
    char formula[4096];
    strata_cohort *coh = ccase_cohort(ctx, &c, tu_tmp("coxnet_budget.h5"), formula, sizeof formula);
    strata_cox_params cp;
    strata_cox_params_init(&cp);
    cp.formula = formula;
    cp.weights = "w";
    cp.ties = STRATA_COX_BRESLOW;
    strata_elnet_params ep;
    strata_elnet_params_init(&ep);
    ep.alpha = 0.5;
    ep.cv_folds = 3;
    strata_cox *m = NULL;
    strata_elnet *e = NULL;
    size_t need = 0, perrow = 0, rows = 0;
    strata_ctx_set_threads(ctx, 2);
    strata_ctx_set_memory_budget(ctx, 10000);
    assert_int_equal(strata_elnet_cox_fit(ctx, coh, &cp, &ep, &m, &e), STRATA_ENOMEM);
    const char *msg = strata_ctx_errmsg(ctx), *at = strstr(msg, "its ");
    printf("  %s\n", msg);
    assert_null(m);
    assert_non_null(strstr(msg, "does not stream under a memory budget"));
    assert_non_null(strstr(msg, "over the memory budget of 10000 bytes"));
    assert_non_null(strstr(msg, "2 path fits at once with the CV's fold ids"));
    assert_non_null(at);
    assert_int_equal(sscanf(at, "its %zu rows need about %zu bytes in memory (%zu bytes a row", &rows, &need, &perrow), 3);
    assert_int_equal(rows, c.g.n);
    assert_true(need > 10000 && perrow == need / rows);
    strata_ctx_set_memory_budget(ctx, need);
    assert_status(ctx, strata_elnet_cox_fit(ctx, coh, &cp, &ep, &m, &e), STRATA_OK);
    assert_true(strata_elnet_nsteps(e) > 0);
    strata_elnet_free(ctx, e);
    strata_cox_free(ctx, m);
    strata_cohort_close(coh);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

/* `strata fit --family cox --alpha --lambda` then `strata coef --path`: glmnet's
 * coefficients on the user path (lung_ulam) through the CLI; Efron ties refused. */
static void test_elnet_cox_cli__fit_and_coef_path_match_glmnet(void **state)
{
    (void)state;
    strata_ctx *ctx = tu_ctx();
    ccase c;
    ccase_load("lung_ulam", &c);
    char formula[4096], *out = NULL;
    const char *h5 = tu_tmp("coxnet_cli.h5"), *model = tu_tmp("coxnet_cli_model.h5");
    strata_cohort_close(ccase_cohort(ctx, &c, h5, formula, sizeof formula));
    int rc = tu_run_cli(&out, "fit '%s' --family cox --formula '%s' --ties efron --alpha 0.8 --lambda 0.1 --out '%s'",
                        h5, formula, model);
    assert_int_not_equal(rc, 0);
    assert_contains(out, "Breslow");
    free(out);
    rc = tu_run_cli(&out, "fit '%s' --family cox --formula '%s' --alpha 0.8 --lambda 0.2,0.1,0.05,0.02,0.01,0.005 "
                    "--thresh 1e-22 --out '%s'", h5, formula, model);
    assert_int_equal(rc, 0);
    assert_contains(out, "6 lambdas");
    free(out);
    rc = tu_run_cli(&out, "coef '%s' --path --csv", model);
    assert_int_equal(rc, 0);
    table *g = table_read("data/golden/elnet/coxnet_lung_path.csv");
    size_t checked = 0;
    for (char *line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double lam = atof(line + 1);
        char term[64] = "", bn[32];
        const char *q = strchr(line + 1, '"');
        assert_non_null(q);
        size_t tl = strcspn(q + 1, "\"");
        memcpy(term, q + 1, tl);
        double est = atof(q + tl + 3);
        size_t j = 0;
        while (j < c.g.p && strcmp(c.g.xnames[j], term))
            j++;
        assert_true(j < c.g.p);
        snprintf(bn, sizeof bn, "b%zu", j + 1);
        for (size_t i = 0; i < g->nrow; i++)
            if (!strcmp(cell(g, i, "id"), "lung_ulam") && num(cell(g, i, "lambda")) == lam) {
                double want = num(cell(g, i, bn));
                assert_abs_close(est, want, 1e-6 * fmax(fabs(want), 1e-4), "cli %s at %g", term, lam);
                checked++;
            }
    }
    assert_int_equal(checked, 6 * c.g.p);
    table_free(g);
    free(out);
    ccase_free(&c);
    strata_ctx_free(ctx);
}

/* ---- strata run with model: {family: cox, alpha:, cv:} ------------------------------ */

#define RUN_FORMULA "Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + imd_decile + ltc_count"

/* The run's Cox model is byte for byte `strata fit --family cox --alpha --cv` with
 * the same seed on the run's cohort; the card names Breslow ties and the chosen
 * lambda, the report draws the CV curve, the manifest records the choice; ties:
 * efron with alpha names the key. */
static void test_elnet_cox_run__equals_strata_fit_and_reports_choice(void **state)
{
    (void)state;
    char dir[2048], path[4096], a[4096], b[4096], *out = NULL;
    snprintf(dir, sizeof dir, "%s", tu_tmp("coxnet_run"));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    tu_write_file(path, "synth:\n  pcn: U60510\n  patients: 1000\n  seed: 5\nmodel:\n  family: cox\n"
                        "  formula: \"" RUN_FORMULA "\"\n  horizon: 365\n  alpha: 1\n  cv: 3\n  seed: 7\n"
                        "  select: min\n");
    int rc = tu_run_cli(&out, "run '%s' --out '%s/out'", path, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_cli(&out, "fit '%s/out/cohort.h5' --family cox --formula '" RUN_FORMULA "' --alpha 1 --cv 3 --seed 7 "
                          "--select min --out '%s/fit.h5'", dir, dir);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(a, sizeof a, "%s/out/model.h5", dir);
    snprintf(b, sizeof b, "%s/fit.h5", dir);
    strata_ctx *ctx = tu_ctx();
    strata_cox *ma = NULL, *mb = NULL;
    strata_elnet *ea = NULL;
    assert_status(ctx, strata_cox_load(ctx, a, &ma), STRATA_OK);
    assert_status(ctx, strata_cox_load(ctx, b, &mb), STRATA_OK);
    assert_status(ctx, strata_elnet_cox_load(ctx, a, ma, &ea), STRATA_OK);
    assert_non_null(ea);
    assert_int_equal(strata_cox_nterms(ma), strata_cox_nterms(mb));
    for (size_t j = 0; j < strata_cox_nterms(ma); j++) {
        strata_cox_coef ca, cb;
        strata_cox_coef_row(ma, j, 0.95, &ca);
        strata_cox_coef_row(mb, j, 0.95, &cb);
        assert_memory_equal(&ca.estimate, &cb.estimate, sizeof ca.estimate);
    }
    size_t k = strata_elnet_selected(ea);
    assert_int_equal(k, strata_elnet_cv_min(ea));
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    char *html = tu_read_file(path, NULL), want[256];
    assert_non_null(html);
    assert_contains(html, "Cox PH (Breslow ties): absolute risk by 365");
    assert_contains(html, "<svg class=\"cvcurve\"");
    snprintf(want, sizeof want, "Chosen: lambda = %.6g", strata_elnet_lambda(ea, k));
    assert_contains(html, want);
    free(html);
    snprintf(path, sizeof path, "%s/out/manifest.json", dir);
    char *man = tu_read_file(path, NULL);
    assert_contains(man, "\"elnet\": {\n    \"alpha\": 1.0,\n    \"cv_measure\": \"deviance\",\n    \"folds\": 3,");
    free(man);
    snprintf(path, sizeof path, "%s/efron.yaml", dir);
    tu_write_file(path, "synth:\n  patients: 100\nmodel:\n  family: cox\n  formula: \"" RUN_FORMULA "\"\n"
                        "  horizon: 365\n  ties: efron\n  alpha: 1\n");
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s/out2'", path, dir), 7);
    assert_contains(out, "key \"ties\": the Cox elastic net uses Breslow ties");
    free(out);
    strata_elnet_free(ctx, ea);
    strata_cox_free(ctx, ma), strata_cox_free(ctx, mb);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_cox_golden__lung_a1),
        cmocka_unit_test(test_elnet_cox_golden__lung_a05_wpf),
        cmocka_unit_test(test_elnet_cox_golden__fl_a1_w),
        cmocka_unit_test(test_elnet_cox_golden__fl_a05_pf),
        cmocka_unit_test(test_elnet_cox_golden__lung_ulam),
        cmocka_unit_test(test_elnet_cox_cv__lung_matches_cv_glmnet),
        cmocka_unit_test(test_elnet_cox_cv__flchain_weights_match_cv_glmnet),
        cmocka_unit_test(test_elnet_cox_kkt__lasso_every_lambda),
        cmocka_unit_test(test_elnet_cox_kkt__weights_penalty_factor_every_lambda),
        cmocka_unit_test(test_elnet_cox_kkt__flchain_ties_every_lambda),
        cmocka_unit_test(test_elnet_cox_lasso_lambda0__reaches_unpenalised_breslow),
        cmocka_unit_test(test_elnet_cox_threads__1_vs_2_byte_identical),
        cmocka_unit_test(test_elnet_cox_cv__first_failing_fold_in_order_on_any_threads),
        cmocka_unit_test(test_elnet_cox_model__formula_file_and_breslow_baseline),
        cmocka_unit_test(test_elnet_cox_model__over_budget_refused_naming_the_need),
        cmocka_unit_test(test_elnet_cox_cli__fit_and_coef_path_match_glmnet),
        cmocka_unit_test(test_elnet_cox_run__equals_strata_fit_and_reports_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
