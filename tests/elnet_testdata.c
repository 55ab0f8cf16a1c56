/* tests/elnet_testdata.c — fixtures shared by the elastic-net tests
 * (test_elnet.c, test_elnet_cv.c): the glmnet golden cases of
 * data/golden/elnet on arrays, their fits, and a case written as a cohort.
 * Included (not compiled alone), after testutil.h and glm_testdata.c. */
#include "elnet_internal.h"
#include "glm_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETD_STATIC static __attribute__((unused))

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

ETD_STATIC char *xstrdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    assert_non_null(d);
    strcpy(d, s);
    return d;
}

/* Splits a plain CSV line (no quotes) in place. */
ETD_STATIC size_t split(char *line, char **f, size_t maxf)
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

ETD_STATIC table *table_read(const char *rel)
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

ETD_STATIC void table_free(table *t)
{
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cells[i]);
    for (size_t j = 0; j < t->ncol; j++)
        free(t->names[j]);
    free(t->names);
    free(t->cells);
    free(t);
}

ETD_STATIC long col_of(const table *t, const char *name)
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

ETD_STATIC double num(const char *s) { return !*s || !strcmp(s, "NA") ? NAN : atof(s); }

/* One glmnet() call of elnet_cases.csv with its data on arrays. */
typedef struct gcase {
    char id[64], data[16];
    size_t n, p;
    double *X, *y, *w, *off, *pf, *lam;
    char **xnames;
    int *fold;
    elnet_params prm;
} gcase;

ETD_STATIC double *column(const table *d, const char *name)
{
    double *v = malloc(d->nrow * sizeof *v);
    for (size_t i = 0; i < d->nrow; i++)
        v[i] = num(cell(d, i, name));
    return v;
}

ETD_STATIC void case_data(gcase *c, const table *cs, size_t row)
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

ETD_STATIC void case_penalty(gcase *c, const char *spec)
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

ETD_STATIC void case_load(const char *id, gcase *c)
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

ETD_STATIC void case_free(gcase *c)
{
    for (size_t j = 0; j < c->p; j++)
        free(c->xnames[j]);
    free(c->xnames);
    free(c->X), free(c->y), free(c->w), free(c->off), free(c->pf), free(c->lam), free(c->fold);
}

ETD_STATIC elnet_data case_arrays(const gcase *c)
{
    return (elnet_data){c->n, c->p, c->X, c->n, c->y, c->w, c->off, {NULL, 0, 0, 0, 0}, NULL};
}

/* ---- KKT at every lambda (test_elnet.c, test_elnet_stream.c) ---------------- */

/* glmnet's optimality conditions on the standardised scale, from the
 * original-scale fit: s_j = sum_i w_i (y_i - mu_i) (x_ij - xm_j) / xs_j (w summing
 * to 1) equals lambda vp_j ((1 - alpha) b_j xs_j / ys + alpha sign(b_j)) for a
 * non-zero b_j, and |s_j| <= lambda alpha vp_j for b_j = 0. Returns the largest
 * violation (standardised score units). */
ETD_STATIC double elnet_kkt_worst(const gcase *c, const elnet_path *path)
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

ETD_STATIC elnet_path *fit_case(strata_ctx *ctx, const gcase *c)
{
    elnet_path *path = NULL;
    elnet_data d = case_arrays(c);
    assert_status(ctx, elnet_path_alloc(ctx, c->p, 100, &path), STRATA_OK);
    assert_status(ctx, elnet_fit(ctx, &d, &c->prm, path), STRATA_OK);
    return path;
}

/* ---- through a formula over a cohort --------------------------------------------- */

ETD_STATIC strata_status co_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                             const strata_column_info **info)
{
    strata_status st = strata_cohort_find(ctx, ud, col, j);
    if (st == STRATA_OK)
        *info = strata_cohort_column(ud, *j);
    return st;
}

ETD_STATIC strata_status co_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    return strata_cohort_read_f64(ctx, ud, j, row0, n, out);
}

/* Writes the case's columns (x_*, response "y", weights "w") as a cohort. */
ETD_STATIC strata_cohort *case_cohort(strata_ctx *ctx, const gcase *c, char *formula, size_t size)
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
