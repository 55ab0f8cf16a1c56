/* labels: unit golden determinism */
/* tests/test_elnet_cox.c — penalised Cox paths (glmnet's family = "cox") against
 * glmnet 4.1-6 on lung and flchain (data/golden/elnet, made by make_coxnet.R): the
 * same lambda sequence, path length, deviance ratios and coefficients at every
 * lambda (alpha 1, 0.5, 0.8; weights; penalty factors; a user path); cv.glmnet's
 * deviance curve, lambda.min and lambda.1se with the same folds; the KKT conditions
 * at every lambda; lasso at lambda -> 0 against the unpenalised Breslow Cox fit;
 * 1 vs 2 threads byte-identical; the formula route and model file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_testdata.c"
#include "elnet_cox.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_cox_golden__lung_a1),
        cmocka_unit_test(test_elnet_cox_golden__lung_a05_wpf),
        cmocka_unit_test(test_elnet_cox_golden__fl_a1_w),
        cmocka_unit_test(test_elnet_cox_golden__fl_a05_pf),
        cmocka_unit_test(test_elnet_cox_golden__lung_ulam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
