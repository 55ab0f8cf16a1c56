/* tests/cox_testdata.c — the Cox tests' fixtures (#included by test_cox*.c, as
 * glm_testdata.c is): the design files and golden CSVs of data/golden/cox made by
 * make_cox.R, read into arrays in R's row order. Invariant: values are parsed as
 * written (17 significant digits), never recomputed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not every test file uses every helper. */
#define TD_UNUSED __attribute__((unused))

/* ---- fixtures --------------------------------------------------------------- */

#define MAXF 32

/* Splits a CSV line in place: fields may be double-quoted (holding commas). */
static TD_UNUSED int fields(char *line, char **f)
{
    int nf = 0, inq = 0;
    char *w = line;
    f[nf++] = w;
    for (char *s = line; *s && *s != '\n' && *s != '\r'; s++) {
        if (*s == '"')
            inq = !inq;
        else if (*s == ',' && !inq && nf < MAXF) {
            *w++ = 0;
            f[nf++] = w;
        } else
            *w++ = *s;
    }
    *w = 0;
    return nf;
}

/* A design file: time, status, stratum, weight, offset, x columns. */
typedef struct design {
    size_t n, p;
    double *time, *status, *w, *off, *X;
    int32_t *stratum;
    char names[MAXF][96];
    const char *np[MAXF];
} design;

static TD_UNUSED void design_load(const char *name, design *d)
{
    char path[256], line[4096], *f[MAXF];
    size_t cap = 16384;
    FILE *fp;
    snprintf(path, sizeof path, "data/golden/cox/design_%s.csv", name);
    fp = fopen(tu_src(path), "r");
    assert_non_null(fp);
    memset(d, 0, sizeof *d);
    assert_non_null(fgets(line, sizeof line, fp));
    d->p = (size_t)fields(line, f) - 5;
    for (size_t j = 0; j < d->p; j++) {
        snprintf(d->names[j], sizeof d->names[j], "%s", f[5 + j]);
        d->np[j] = d->names[j];
    }
    d->time = malloc(cap * sizeof(double));
    d->status = malloc(cap * sizeof(double));
    d->w = malloc(cap * sizeof(double));
    d->off = malloc(cap * sizeof(double));
    d->stratum = malloc(cap * sizeof(int32_t));
    d->X = malloc(cap * d->p * sizeof(double));
    while (fgets(line, sizeof line, fp)) {
        size_t i = d->n++;
        assert_true(i < cap);
        assert_int_equal(fields(line, f), (int)d->p + 5);
        d->time[i] = atof(f[0]);
        d->status[i] = atof(f[1]);
        d->stratum[i] = atoi(f[2]) - 1;
        d->w[i] = atof(f[3]);
        d->off[i] = atof(f[4]);
        for (size_t j = 0; j < d->p; j++)
            d->X[j * cap + i] = atof(f[5 + j]);
    }
    fclose(fp);
    /* compact the columns to leading dimension n */
    for (size_t j = 1; j < d->p; j++)
        memmove(d->X + j * d->n, d->X + j * cap, d->n * sizeof(double));
}

static TD_UNUSED void design_free(design *d)
{
    free(d->time);
    free(d->status);
    free(d->w);
    free(d->off);
    free(d->stratum);
    free(d->X);
}

static TD_UNUSED cox_input design_input(const design *d, int weights, int offset, int strata)
{
    cox_input in = {d->n, d->p, d->X, d->time, d->status, weights ? d->w : NULL,
                    offset ? d->off : NULL, strata ? d->stratum : NULL, d->np, NULL};
    return in;
}

/* Rows of a golden CSV whose first field is model; fills f for each via cb. */
typedef void (*row_fn)(char **f, int nf, void *ud);

static TD_UNUSED int golden_rows(const char *file, const char *model, row_fn cb, void *ud)
{
    char path[256], line[4096], *f[MAXF];
    int rows = 0;
    FILE *fp;
    snprintf(path, sizeof path, "data/golden/cox/%s", file);
    fp = fopen(tu_src(path), "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp)) {
        int nf = fields(line, f);
        if (!strcmp(f[0], model)) {
            cb(f, nf, ud);
            rows++;
        }
    }
    fclose(fp);
    return rows;
}

static TD_UNUSED double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}


/* ---- an in-memory column source ------------------------------------------- */

#define MEM_MAXC 12

/* An in-memory column source (the models layer reads cohorts only through one). */
typedef struct memsrc {
    size_t n, nc;
    const double *col[MEM_MAXC];
    strata_column_info info[MEM_MAXC];
} memsrc;

static TD_UNUSED strata_status mem_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                              const strata_column_info **info)
{
    memsrc *m = ud;
    for (size_t k = 0; k < m->nc; k++)
        if (!strcmp(m->info[k].name, col)) {
            *j = k;
            *info = &m->info[k];
            return STRATA_OK;
        }
    return STRATA_FAIL(ctx, STRATA_ESPEC, "memory: no column '%s'", col);
}

static TD_UNUSED strata_status mem_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n,
                              double *out)
{
    (void)ctx;
    memcpy(out, ((memsrc *)ud)->col[j] + row0, n * sizeof *out);
    return STRATA_OK;
}

static TD_UNUSED void mem_add(memsrc *m, const char *name, const double *x, const char *const *levels,
                    size_t nlev)
{
    strata_column_info *i = &m->info[m->nc];
    memset(i, 0, sizeof *i);
    i->group = "patients";
    i->name = name;
    i->dtype = levels ? STRATA_DT_INT32 : STRATA_DT_FLOAT64;
    i->categorical = levels != NULL;
    i->levels = levels;
    i->n_levels = nlev;
    i->units = "";
    i->length = m->n;
    m->col[m->nc++] = x;
}

static TD_UNUSED glm_source mem_source(memsrc *m)
{
    glm_source s = {m, "memory", m->n, mem_find, mem_read, NULL};
    return s;
}

/* colon as raw columns: the 3-level factor rx rebuilt from its dummies, extent
 * (the strata) as a factor; *rx and *ext are malloc'd for the caller to free. */
static TD_UNUSED void colon_source(const design *d, memsrc *m, double **rx, double **ext)
{
    static const char *const rx_levels[3] = {"Lev", "Lev+5FU", "Obs"};
    static const char *const ext_levels[4] = {"1", "2", "3", "4"};
    *rx = malloc(d->n * sizeof **rx);
    *ext = malloc(d->n * sizeof **ext);
    for (size_t i = 0; i < d->n; i++) {
        (*rx)[i] = d->X[i] == 1 ? 1 : d->X[d->n + i] == 1 ? 2 : 0;
        (*ext)[i] = d->stratum[i];
    }
    memset(m, 0, sizeof *m);
    m->n = d->n;
    mem_add(m, "time", d->time, NULL, 0);
    mem_add(m, "status", d->status, NULL, 0);
    mem_add(m, "rx", *rx, rx_levels, 3);
    mem_add(m, "sex", d->X + 2 * d->n, NULL, 0);
    mem_add(m, "age", d->X + 3 * d->n, NULL, 0);
    mem_add(m, "nodes", d->X + 4 * d->n, NULL, 0);
    mem_add(m, "extent", *ext, ext_levels, 4);
}

/* Every quantity of two fits' results byte for byte (the streamed and the
 * distributed fit against one process's in memory); robust: the robust
 * variance too. */
static TD_UNUSED void same_bytes(const cox_result *a, const cox_result *b, int robust)
{
    size_t p = a->p, nh = a->bh_start[a->nstrata];
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->iter, b->iter);
    assert_int_equal(a->evals, b->evals);
    assert_memory_equal(a->beta, b->beta, p * sizeof(double));
    assert_memory_equal(a->se, b->se, p * sizeof(double));
    assert_memory_equal(a->vcov, b->vcov, p * p * sizeof(double));
    assert_memory_equal(a->u, b->u, p * sizeof(double));
    assert_memory_equal(&a->loglik, &b->loglik, sizeof(double));
    assert_memory_equal(&a->loglik_null, &b->loglik_null, sizeof(double));
    assert_memory_equal(&a->score_test, &b->score_test, sizeof(double));
    assert_memory_equal(&a->wald_test, &b->wald_test, sizeof(double));
    assert_int_equal(nh, b->bh_start[b->nstrata]);
    assert_memory_equal(a->bh_time, b->bh_time, nh * sizeof(double));
    assert_memory_equal(a->bh_haz, b->bh_haz, nh * sizeof(double));
    assert_memory_equal(&a->concordance, &b->concordance, sizeof(double));
    assert_memory_equal(a->conc_count, b->conc_count, sizeof a->conc_count);
    if (robust) {
        assert_non_null(a->rse);
        assert_non_null(b->rse);
        assert_memory_equal(a->rse, b->rse, p * sizeof(double));
        assert_memory_equal(a->rvcov, b->rvcov, p * p * sizeof(double));
        assert_int_equal(a->nclusters, b->nclusters);
    }
}

/* colon as a column source with the extra columns the streamed and
 * distributed tests fit: cl (a cluster id), w (case weights), late (a 0/1
 * time: two tied groups over many blocks) and o (an offset). */
typedef struct colon {
    design d;
    memsrc m;
    double *rx, *ext, *cl, *w, *one, *off;
    glm_source src;
} colon;

static TD_UNUSED void colon_make(colon *c)
{
    design_load("colon_strata", &c->d);
    colon_source(&c->d, &c->m, &c->rx, &c->ext);
    c->cl = malloc(c->d.n * sizeof *c->cl);
    c->w = malloc(c->d.n * sizeof *c->w);
    c->one = malloc(c->d.n * sizeof *c->one);
    c->off = malloc(c->d.n * sizeof *c->off);
    for (size_t i = 0; i < c->d.n; i++) {
        c->cl[i] = (double)((i * 7919) % 97);
        c->w[i] = 0.5 + (double)(i % 5) / 4;
        c->one[i] = (double)(c->d.time[i] > 1000); /* a 0/1 time: two groups over many blocks */
        c->off[i] = (double)(i % 7) / 10;
    }
    mem_add(&c->m, "cl", c->cl, NULL, 0);
    mem_add(&c->m, "w", c->w, NULL, 0);
    mem_add(&c->m, "late", c->one, NULL, 0);
    mem_add(&c->m, "o", c->off, NULL, 0);
    c->src = mem_source(&c->m);
}

static TD_UNUSED void colon_free(colon *c)
{
    free(c->rx);
    free(c->ext);
    free(c->cl);
    free(c->w);
    free(c->one);
    free(c->off);
    design_free(&c->d);
}

/* A synthetic cohort: n rows, four covariates, daily times (ties), three strata,
 * weights, ~300 clusters, a few missing values (dropped rows). */
typedef struct syn {
    size_t n;
    double *col[9];
    memsrc m;
    glm_source src;
} syn;

static TD_UNUSED double syn_unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static TD_UNUSED void syn_make(syn *y, size_t n)
{
    static const char *const names[9] = {"t", "e", "x1", "x2", "x3", "x4", "s", "w", "cl"};
    uint64_t seed = 42;
    memset(y, 0, sizeof *y);
    y->n = n;
    for (int k = 0; k < 9; k++)
        y->col[k] = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double x1 = syn_unif(&seed) * 2 - 1, x2 = syn_unif(&seed), x3 = (double)(syn_unif(&seed) < 0.3), x4 = syn_unif(&seed) * 10;
        double lp = 0.5 * x1 - 0.8 * x2 + 0.4 * x3 + 0.05 * x4, u = syn_unif(&seed);
        y->col[0][i] = floor(-log(u + 1e-12) * 300 / exp(lp)) + 1;
        y->col[1][i] = (double)(syn_unif(&seed) < 0.7);
        y->col[2][i] = i % 997 == 5 ? NAN : x1;
        y->col[3][i] = x2;
        y->col[4][i] = x3;
        y->col[5][i] = x4;
        y->col[6][i] = (double)(i % 3);
        y->col[7][i] = 0.5 + syn_unif(&seed);
        y->col[8][i] = (double)((i * 31) % 301);
    }
    y->m.n = n;
    for (int k = 0; k < 9; k++)
        mem_add(&y->m, names[k], y->col[k], NULL, 0);
    y->src = mem_source(&y->m);
}

static TD_UNUSED void syn_free(syn *y)
{
    for (int k = 0; k < 9; k++)
        free(y->col[k]);
}

