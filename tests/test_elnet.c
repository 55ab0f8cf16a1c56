/* labels: unit golden determinism */
/* tests/test_elnet.c — elastic-net paths and CV against glmnet 4.1-6 on real
 * data (data/golden/elnet, made by make_elnet.R with thresh = 1e-14): the same
 * lambda sequence, coefficients at every lambda, deviance ratios, cv.glmnet's
 * curve and lambda.min / lambda.1se with the same fold ids; plus the KKT
 * conditions at every lambda, lasso at lambda -> 0 against the unpenalised
 * GLM, and 1 vs 2 threads byte-identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_internal.h"
#include "glm_internal.h"
#include "model_elnet.h"
#include "strata/elnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Coefficients: |got - want| <= RTOL * max(|want|, FLOOR * max_j |want_j| over
 * the step) — glmnet itself stops when a pass moves no standardised
 * coefficient by more than sqrt(thresh) = 1e-7, so entries far below the
 * step's largest are only that accurate (docs/elnet.md#accuracy). */
#define RTOL 1e-6
#define FLOOR 1e-2
/* dev.ratio: glmnet's refit at 1e-22 on the same lambdas. */
#define DEVTOL 1e-9
/* The fixtures' coefficients are glmnet's refit at 1e-22 (make_elnet.R). */
#define GOLDEN_THRESH 1e-22

/* ---- fixtures ------------------------------------------------------------ */

typedef struct table {
    size_t nrow, ncol;
    char **names;   /* ncol */
    char **cells;   /* nrow x ncol, strings */
} table;

static char *xstrdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    assert_non_null(d);
    strcpy(d, s);
    return d;
}

/* Splits a plain CSV line (no quotes) in place. */
static size_t split(char *line, char **f, size_t maxf)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *s = line; n < maxf;) {
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = 0;
        s = c + 1;
    }
    return n;
}

static table *table_read(const char *rel)
{
    static char line[1 << 16];
    char *f[512];
    FILE *fp = fopen(tu_src(rel), "r");
    assert_non_null(fp);
    table *t = calloc(1, sizeof *t);
    assert_non_null(fp && fgets(line, sizeof line, fp) ? t : NULL);
    t->ncol = split(line, f, 512);
    t->names = malloc(t->ncol * sizeof *t->names);
    for (size_t j = 0; j < t->ncol; j++)
        t->names[j] = xstrdup(f[j]);
    size_t cap = 1024;
    t->cells = malloc(cap * t->ncol * sizeof *t->cells);
    while (fgets(line, sizeof line, fp)) {
        size_t k = split(line, f, 512);
        assert_int_equal(k, t->ncol);
        if (t->nrow == cap) {
            cap *= 2;
            t->cells = realloc(t->cells, cap * t->ncol * sizeof *t->cells);
        }
        for (size_t j = 0; j < k; j++)
            t->cells[t->nrow * t->ncol + j] = xstrdup(f[j]);
        t->nrow++;
    }
    fclose(fp);
    return t;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cells[i]);
    for (size_t j = 0; j < t->ncol; j++)
        free(t->names[j]);
    free(t->names);
    free(t->cells);
    free(t);
}

static long col_of(const table *t, const char *name)
{
    for (size_t j = 0; j < t->ncol; j++)
        if (!strcmp(t->names[j], name))
            return (long)j;
    return -1;
}

static const char *cell(const table *t, size_t i, const char *name)
{
    long j = col_of(t, name);
    assert_true(j >= 0);
    return t->cells[i * t->ncol + (size_t)j];
}

static double num(const char *s) { return !*s || !strcmp(s, "NA") ? NAN : atof(s); }

/* One glmnet() call of elnet_cases.csv with its data on arrays. */
typedef struct gcase {
    char id[64], data[16];
    size_t n, p;
    double *X, *y, *w, *off, *pf, *lam;
    char **xnames;
    int *fold;
    elnet_params prm;
} gcase;

static double *column(const table *d, const char *name)
{
    double *v = malloc(d->nrow * sizeof *v);
    for (size_t i = 0; i < d->nrow; i++)
        v[i] = num(cell(d, i, name));
    return v;
}

static void case_data(gcase *c, const table *cs, size_t row)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/elnet/elnet_%s_data.csv", c->data);
    table *d = table_read(rel);
    c->n = d->nrow;
    c->xnames = malloc(d->ncol * sizeof *c->xnames);
    c->X = malloc(d->nrow * d->ncol * sizeof *c->X);
    for (size_t j = 0; j < d->ncol; j++)
        if (!strncmp(d->names[j], "x_", 2)) {
            double *v = column(d, d->names[j]);
            memcpy(c->X + c->p * c->n, v, c->n * sizeof *v);
            free(v);
            c->xnames[c->p++] = xstrdup(d->names[j]);
        }
    c->y = column(d, cell(cs, row, "y"));
    c->w = *cell(cs, row, "weights") ? column(d, cell(cs, row, "weights")) : NULL;
    c->off = *cell(cs, row, "offset") ? column(d, cell(cs, row, "offset")) : NULL;
    double *fold = column(d, "fold");
    c->fold = malloc(c->n * sizeof *c->fold);
    for (size_t i = 0; i < c->n; i++)
        c->fold[i] = (int)fold[i];
    free(fold);
    table_free(d);
}

static void case_penalty(gcase *c, const char *spec)
{
    char buf[512];
    c->pf = malloc(c->p * sizeof *c->pf);
    for (size_t j = 0; j < c->p; j++)
        c->pf[j] = 1;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *kv = strtok(buf, ";"); kv; kv = strtok(NULL, ";")) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = 0;
        size_t j = 0;
        while (j < c->p && strcmp(c->xnames[j], kv))
            j++;
        assert_true(j < c->p);
        c->pf[j] = atof(eq + 1);
    }
}

static void case_load(const char *id, gcase *c)
{
    table *cs = table_read("data/golden/elnet/elnet_cases.csv");
    size_t row = 0;
    while (row < cs->nrow && strcmp(cell(cs, row, "id"), id))
        row++;
    assert_true(row < cs->nrow);
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->data, sizeof c->data, "%s", cell(cs, row, "data"));
    case_data(c, cs, row);
    case_penalty(c, cell(cs, row, "penalty"));
    elnet_params_init(&c->prm);
    const char *fam = cell(cs, row, "family");
    c->prm.family = !strcmp(fam, "binomial")  ? STRATA_FAMILY_BINOMIAL
                    : !strcmp(fam, "poisson") ? STRATA_FAMILY_POISSON
                                              : STRATA_FAMILY_GAUSSIAN;
    c->prm.alpha = atof(cell(cs, row, "alpha"));
    c->prm.nlambda = (size_t)atoi(cell(cs, row, "nlambda"));
    c->prm.lambda_min_ratio = *cell(cs, row, "lmr") ? atof(cell(cs, row, "lmr")) : 0;
    c->prm.penalty = c->pf;
    c->prm.thresh = 1e-14; /* as the fixtures' paths and CV runs */
    const char *lam = cell(cs, row, "lambda");
    if (*lam) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", lam);
        c->lam = malloc(64 * sizeof *c->lam);
        for (char *s = strtok(buf, ";"); s; s = strtok(NULL, ";"))
            c->lam[c->prm.nuser++] = atof(s);
        c->prm.lambda = c->lam;
    }
    table_free(cs);
}

static void case_free(gcase *c)
{
    for (size_t j = 0; j < c->p; j++)
        free(c->xnames[j]);
    free(c->xnames);
    free(c->X), free(c->y), free(c->w), free(c->off), free(c->pf), free(c->lam), free(c->fold);
}

static elnet_data case_arrays(const gcase *c)
{
    return (elnet_data){c->n, c->p, c->X, c->n, c->y, c->w, c->off};
}

static elnet_path *fit_case(strata_ctx *ctx, const gcase *c)
{
    elnet_path *path = NULL;
    elnet_data d = case_arrays(c);
    assert_status(ctx, elnet_path_alloc(ctx, c->p, 100, &path), STRATA_OK);
    assert_status(ctx, elnet_fit(ctx, &d, &c->prm, path), STRATA_OK);
    return path;
}

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

/* ---- KKT at every lambda --------------------------------------------------- */

/* glmnet's optimality conditions on the standardised scale, from the
 * original-scale fit: s_j = sum_i w_i (y_i - mu_i) (x_ij - xm_j) / xs_j (w summing
 * to 1) equals lambda vp_j ((1 - alpha) b_j xs_j / ys + alpha sign(b_j)) for a
 * non-zero b_j, and |s_j| <= lambda alpha vp_j for b_j = 0. Returns the largest
 * violation (standardised score units). */
static double kkt_worst(const gcase *c, const elnet_path *path)
{
    size_t n = c->n, p = c->p;
    double sw = 0, *w = malloc(n * sizeof *w), *res = malloc(n * sizeof *res), spf = 0, ys = 1;
    for (size_t i = 0; i < n; i++)
        sw += c->w ? c->w[i] : 1;
    for (size_t i = 0; i < n; i++)
        w[i] = (c->w ? c->w[i] : 1) / sw;
    for (size_t j = 0; j < p; j++)
        spf += c->pf[j];
    if (c->prm.family == STRATA_FAMILY_GAUSSIAN) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            m += w[i] * c->y[i];
        for (size_t i = 0; i < n; i++)
            v += w[i] * (c->y[i] - m) * (c->y[i] - m);
        ys = sqrt(v);
    }
    double worst = 0;
    for (size_t m = 0; m < path->nlam; m++) {
        const double *b = path->beta + m * p;
        for (size_t i = 0; i < n; i++) {
            double eta = path->a0[m] + (c->off ? c->off[i] : 0);
            for (size_t j = 0; j < p; j++)
                eta += b[j] * c->X[j * n + i];
            double mu = c->prm.family == STRATA_FAMILY_BINOMIAL  ? 1 / (1 + exp(-eta))
                        : c->prm.family == STRATA_FAMILY_POISSON ? exp(eta)
                                                                 : eta;
            res[i] = w[i] * (c->y[i] - mu);
        }
        double lam = path->lambda[m], a = c->prm.alpha;
        for (size_t j = 0; j < p; j++) {
            const double *x = c->X + j * n;
            double xm = 0, xv = 0, sj = 0;
            for (size_t i = 0; i < n; i++)
                xm += w[i] * x[i];
            for (size_t i = 0; i < n; i++)
                xv += w[i] * (x[i] - xm) * (x[i] - xm);
            for (size_t i = 0; i < n; i++)
                sj += res[i] * (x[i] - xm);
            double xs = sqrt(xv), vp = c->pf[j] * (double)p / spf, v;
            sj /= xs;
            if (b[j] != 0)
                v = fabs(sj - lam * vp * ((1 - a) * b[j] * xs / ys + a * (b[j] > 0 ? 1 : -1)));
            else
                v = fmax(0, fabs(sj) - lam * a * vp);
            if (m > 0 || vp == 0)
                worst = fmax(worst, v);
        }
    }
    free(w);
    free(res);
    return worst;
}

static void check_kkt(const char *id)
{
    strata_ctx *ctx = tu_ctx();
    gcase c;
    case_load(id, &c);
    c.prm.thresh = 1e-14;
    elnet_path *path = fit_case(ctx, &c);
    double worst = kkt_worst(&c, path);
    printf("  %-20s KKT: largest violation %.2e over %zu lambdas\n", id, worst, path->nlam);
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

/* ---- through a formula over a cohort --------------------------------------------- */

static strata_status co_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                             const strata_column_info **info)
{
    strata_status st = strata_cohort_find(ctx, ud, col, j);
    if (st == STRATA_OK)
        *info = strata_cohort_column(ud, *j);
    return st;
}

static strata_status co_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    return strata_cohort_read_f64(ctx, ud, j, row0, n, out);
}

/* Writes the case's columns (x_*, response "y", weights "w") as a cohort. */
static strata_cohort *case_cohort(strata_ctx *ctx, const gcase *c, char *formula, size_t size)
{
    td_mem *cols = calloc(c->p + 2, sizeof *cols);
    size_t len = (size_t)snprintf(formula, size, "y ~ ");
    for (size_t j = 0; j < c->p; j++) {
        cols[j] = (td_mem){c->xnames[j], c->X + j * c->n, NULL, NULL, 0};
        len += (size_t)snprintf(formula + len, size - len, "%s%s", j ? " + " : "", c->xnames[j]);
    }
    cols[c->p] = (td_mem){"y", c->y, NULL, NULL, 0};
    cols[c->p + 1] = (td_mem){"w", c->w ? c->w : c->y, NULL, NULL, 0};
    const char *h5 = tu_tmp("elnet_case.h5");
    assert_status(ctx, td_write_cohort(ctx, h5, cols, (int)c->p + 2, c->n), STRATA_OK);
    free(cols);
    strata_cohort *coh = NULL;
    assert_status(ctx, strata_cohort_open(ctx, h5, &coh), STRATA_OK);
    return coh;
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
    glm_source src = {coh, "elnet_case.h5", strata_cohort_nrows(coh), co_find, co_read};
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
    strata_model *m = NULL;
    elnet_fitted res;
    assert_status(ctx, elnet_fit_source(ctx, &src, &sp, &m, &res), STRATA_OK);
    elnet_path *direct = fit_case(ctx, &c);
    assert_int_equal(res.path->nlam, direct->nlam);
    assert_memory_equal(res.path->lambda, direct->lambda, direct->nlam * sizeof(double));
    assert_memory_equal(res.path->beta, direct->beta, direct->nlam * c.p * sizeof(double));
    assert_int_equal(res.selected, direct->nlam - 1);
    assert_int_equal(strata_model_nterms(m), c.p + 1);
    assert_string_equal(strata_model_term(m, 0), "(Intercept)");
    strata_coef k;
    strata_model_coef(m, 0, &k);
    assert_true(k.estimate == direct->a0[res.selected]);
    for (size_t j = 0; j < c.p; j++) {
        strata_model_coef(m, j + 1, &k);
        assert_string_equal(strata_model_term(m, j + 1), c.xnames[j]);
        assert_true(k.estimate == direct->beta[res.selected * c.p + j]);
        assert_true(isnan(k.std_error));
    }
    elnet_path_free(ctx, direct);
    elnet_fitted_free(ctx, &res);
    strata_model_free(ctx, m);
    strata_cohort_close(coh);
    case_free(&c);
    strata_ctx_free(ctx);
}

/* The /elnet group of a model file gives the path and CV curve back bit for bit. */
static void check_store_roundtrip(strata_ctx *ctx, const elnet_fitted *res, size_t p)
{
    const char *h5 = tu_tmp("elnet_store.h5");
    hid_t file = H5Fcreate(h5, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_int_equal(elnet_store_write(file, res), 0);
    H5Fclose(file);
    elnet_fitted back;
    file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_status(ctx, elnet_store_read(ctx, file, h5, p, &back), STRATA_OK);
    H5Fclose(file);
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
    glm_source src = {coh, "elnet_case.h5", strata_cohort_nrows(coh), co_find, co_read};
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.prm = c.prm;
    sp.prm.penalty = NULL;
    sp.formula = formula;
    sp.cv_folds = 5;
    sp.foldid = c.fold;
    table *g = table_read("data/golden/elnet/elnet_cv_summary.csv");
    for (int pick = 0; pick < 2; pick++) {
        strata_model *m = NULL;
        elnet_fitted res;
        sp.select_min = pick;
        assert_status(ctx, elnet_fit_source(ctx, &src, &sp, &m, &res), STRATA_OK);
        for (size_t i = 0; i < g->nrow; i++)
            if (!strcmp(cell(g, i, "id"), c.id) && !strcmp(cell(g, i, "measure"), "deviance")) {
                assert_int_equal(res.selected + 1, atoi(cell(g, i, pick ? "index_min" : "index_1se")));
                assert_rel_close(res.lambda, num(cell(g, i, pick ? "lambda_min" : "lambda_1se")), 1e-10, "lambda");
            }
        check_store_roundtrip(ctx, &res, c.p);
        elnet_fitted_free(ctx, &res);
        strata_model_free(ctx, m);
    }
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
        cmocka_unit_test(test_elnet_kkt__gaussian_penalty_factor_weights),
        cmocka_unit_test(test_elnet_kkt__binomial_penalty_factor_weights),
        cmocka_unit_test(test_elnet_kkt__poisson_offset),
        cmocka_unit_test(test_elnet_lasso_lambda0__reaches_unpenalised_glm),
        cmocka_unit_test(test_elnet_cv__gaussian_mse),
        cmocka_unit_test(test_elnet_cv__binomial_deviance),
        cmocka_unit_test(test_elnet_cv__binomial_auc),
        cmocka_unit_test(test_elnet_cv__poisson_deviance),
        cmocka_unit_test(test_elnet_cv__weighted_binomial_deviance),
        cmocka_unit_test(test_elnet_cv__weighted_binomial_auc),
        cmocka_unit_test(test_elnet_folds__seeded_stratified_partition),
        cmocka_unit_test(test_elnet_source__formula_matches_arrays),
        cmocka_unit_test(test_elnet_source__cv_selects_glmnet_lambda),
        cmocka_unit_test(test_elnet_api__fit_save_load_score),
        cmocka_unit_test(test_elnet_cli__fit_and_coef_path_match_glmnet),
        cmocka_unit_test(test_elnet_threads__binomial_1_vs_2_byte_identical),
        cmocka_unit_test(test_elnet_threads__poisson_offset_1_vs_2_byte_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
