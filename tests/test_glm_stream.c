/* labels: unit determinism models */
/* tests/test_glm_stream.c — the GLM fit under a memory budget (docs/scale.md):
 * streamed row blocks give the in-memory fit's bytes (coefficients, SEs,
 * covariance, deviances, AIC, iterations), with missing values, factors,
 * splines, interactions, weights, offsets and the warm start, on 1 and 2
 * threads, on the dense and the categorical-aware pass (groups of blocks
 * split between chunks; the Schur solve); the budget holds for the allocations made through the context's
 * hook; a read error in a streamed pass is reported as itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_internal.h"
#include "thread_comm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a column source over arrays (the models layer reads only through one) ---- */
#define NCOLS 12
typedef struct arrsrc {
    size_t nrows, ncols;
    double *data[NCOLS];
    strata_column_info col[NCOLS];
    size_t fail_after; /* reads allowed before one fails (0: never) */
    size_t reads;
    size_t rows_read[NCOLS]; /* rows read of each column */
} arrsrc;

static strata_status arr_find(strata_ctx *ctx, void *ud, const char *name, size_t *j,
                              const strata_column_info **info)
{
    arrsrc *a = ud;
    for (*j = 0; *j < a->ncols; ++*j)
        if (strcmp(a->col[*j].name, name) == 0) {
            *info = &a->col[*j];
            return STRATA_OK;
        }
    return strata_fail_at(ctx, STRATA_ESPEC, __FILE__, __LINE__, "arrays: no column '%s'", name);
}

static strata_status arr_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    arrsrc *a = ud;
    if (a->fail_after && ++a->reads > a->fail_after)
        return strata_fail_at(ctx, STRATA_EIO, __FILE__, __LINE__, "arrays: injected read error at row %zu", row0 + 1);
    memcpy(out, a->data[j] + row0, n * sizeof *out);
    a->rows_read[j] += n;
    return STRATA_OK;
}

static const char *const GLEV[] = {"north", "east", "south", "west"};

static double *arr_col(arrsrc *a, const char *name, int factor)
{
    strata_column_info *c = &a->col[a->ncols];
    memset(c, 0, sizeof *c);
    c->group = "patients";
    c->name = name;
    c->dtype = factor ? STRATA_DT_INT32 : STRATA_DT_FLOAT64;
    c->categorical = factor;
    c->levels = factor ? GLEV : NULL;
    c->n_levels = factor ? 4 : 0;
    c->units = "";
    c->length = a->nrows;
    a->data[a->ncols] = calloc(a->nrows + 1, sizeof(double));
    return a->data[a->ncols++];
}

/* A factor of nlev levels named by lv. */
static double *arr_fcol(arrsrc *a, const char *name, const char *const *lv, size_t nlev)
{
    double *x = arr_col(a, name, 1);
    a->col[a->ncols - 1].levels = lv;
    a->col[a->ncols - 1].n_levels = nlev;
    return x;
}

static double unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

/* y (0/1), cnt (counts), x1 (3% missing), x2, g (4 levels, 2% missing), w, e,
 * xs (x2 / 40, missing in rows 3001..3020 only). */
static void make_data(arrsrc *a, size_t n)
{
    uint64_t s = 12345;
    double *y, *cnt, *x1, *x2, *g, *w, *e, *xs;
    memset(a, 0, sizeof *a);
    a->nrows = n;
    y = arr_col(a, "y", 0);
    cnt = arr_col(a, "cnt", 0);
    x1 = arr_col(a, "x1", 0);
    x2 = arr_col(a, "x2", 0);
    g = arr_col(a, "g", 1);
    w = arr_col(a, "w", 0);
    e = arr_col(a, "e", 0);
    for (size_t i = 0; i < n; i++) {
        double u = unif(&s), lp;
        x1[i] = 4 * unif(&s) - 2;
        x2[i] = 20 + 60 * unif(&s) * unif(&s);
        g[i] = (double)(size_t)(4 * unif(&s));
        w[i] = 0.5 + unif(&s);
        e[i] = 0.2 + 2 * unif(&s);
        lp = -1 + 0.7 * x1[i] + 0.03 * (x2[i] - 40) + 0.3 * g[i];
        y[i] = u < 1 / (1 + exp(-lp));
        cnt[i] = (double)(size_t)(3 * unif(&s) * e[i] * exp(0.3 * x1[i]));
        if (unif(&s) < 0.03)
            x1[i] = NAN;
        if (unif(&s) < 0.02)
            g[i] = NAN;
    }
    xs = arr_col(a, "xs", 0);
    for (size_t i = 0; i < n; i++)
        xs[i] = i >= 3000 && i < 3020 ? NAN : x2[i] / 40;
}

static size_t col_index(const arrsrc *a, const char *name)
{
    size_t j = 0;
    while (j < a->ncols && strcmp(a->col[j].name, name))
        j++;
    assert_true(j < a->ncols);
    return j;
}

/* Adds pr (NPR practices, over GLM_SCHUR_MIN_LEVELS: the Schur solve; 1%
 * missing) and h (4 levels: a factor x factor table with pr), and moves y by
 * a practice effect. */
#define NPR 80
static void add_practice(arrsrc *a)
{
    static char names[NPR][8];
    static const char *lv[NPR];
    uint64_t s = 777;
    double u[NPR], *pr, *h, *y = a->data[0];
    for (size_t k = 0; k < NPR; k++) {
        snprintf(names[k], sizeof names[k], "P%03zu", k);
        lv[k] = names[k];
        u[k] = 1.2 * unif(&s) - 0.6;
    }
    pr = arr_fcol(a, "pr", lv, NPR);
    h = arr_fcol(a, "h", GLEV, 4);
    for (size_t i = 0; i < a->nrows; i++) {
        pr[i] = (double)(size_t)(NPR * unif(&s));
        h[i] = (double)(size_t)(4 * unif(&s));
        if (unif(&s) < 0.4 * u[(size_t)pr[i]] + 0.25)
            y[i] = 1 - y[i];
        if (unif(&s) < 0.01)
            pr[i] = NAN;
    }
}

static void arr_free(arrsrc *a)
{
    for (size_t j = 0; j < a->ncols; j++)
        free(a->data[j]);
}

static glm_source arr_source(arrsrc *a)
{
    glm_source s = {a, "arrays", a->nrows, arr_find, arr_read, NULL};
    return s;
}

/* ---- runs counted through the context hook (tu_count_alloc) ---------------- */
static void note_stream(void *ud, strata_log_level level, const char *msg)
{
    (void)level;
    if (strstr(msg, "streaming chunks"))
        *(int *)ud |= 1;
    if (strstr(msg, "warm start on every") && strstr(msg, "iterations, used"))
        *(int *)ud |= 2;
    if (strstr(msg, "factors as combined codes"))
        *(int *)ud |= 4;
    if (strstr(msg, "transforms of small integers by table"))
        *(int *)ud |= 8;
    if (strstr(msg, "ranks streams its blocks"))
        *(int *)ud |= 16;
}

typedef struct fit_run {
    glm_model *m;
    strata_status st;
    int streamed;
    size_t peak;
} fit_run;

static fit_run run_fit(arrsrc *a, const strata_glm_params *prm, size_t budget, int threads)
{
    strata_ctx *ctx = NULL;
    tu_alloc_count c = {0, 0};
    fit_run r = {NULL, STRATA_OK, 0, 0};
    glm_source src = arr_source(a);
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
    strata_ctx_set_log(ctx, note_stream, &r.streamed, STRATA_LOG_INFO);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    assert_int_equal(strata_ctx_memory_budget(ctx), budget);
    r.st = glm_fit(ctx, &src, prm, &r.m);
    r.peak = c.peak;
    if (r.m) {
        /* keep the model past its context: copy out what is compared */
        glm_model *m = r.m;
        r.m = NULL;
        glm_model_free(ctx, m);
    }
    strata_ctx_free(ctx);
    return r;
}

/* Everything the fit reports, as bytes. */
typedef struct fit_bytes {
    size_t p;
    double v[16384];
    size_t nv;
    strata_status st;
    int streamed;
} fit_bytes;

/* The fit on ctx (its threads, budget and communicator), into out; out->st
 * its status, out->nv 0 when it returned no model. */
static void fit_collect_on(strata_ctx *ctx, arrsrc *a, const strata_glm_params *prm, fit_bytes *out)
{
    glm_model *m = NULL;
    glm_source src = arr_source(a);
    strata_fit_summary S;
    strata_ctx_set_log(ctx, note_stream, &out->streamed, STRATA_LOG_INFO);
    out->st = glm_fit(ctx, &src, prm, &m);
    if (!m)
        return;
    out->p = glm_model_nterms(m);
    for (size_t j = 0; j < out->p; j++) {
        strata_coef c;
        glm_model_coef(m, j, &c);
        out->v[out->nv++] = c.estimate;
        out->v[out->nv++] = c.std_error;
    }
    for (size_t j = 0; j < out->p * out->p; j++)
        out->v[out->nv++] = glm_model_vcov(m)[j];
    glm_model_summary(m, &S);
    out->v[out->nv++] = S.deviance;
    out->v[out->nv++] = S.null_deviance;
    out->v[out->nv++] = S.aic;
    out->v[out->nv++] = S.dispersion;
    out->v[out->nv++] = S.iterations;
    out->v[out->nv++] = (double)S.n_used;
    out->v[out->nv++] = (double)S.n_dropped;
    out->v[out->nv++] = S.converged;
    glm_model_free(ctx, m);
}

static void fit_collect(arrsrc *a, const strata_glm_params *prm, size_t budget, int threads,
                        fit_bytes *out)
{
    strata_ctx *ctx = NULL;
    memset(out, 0, sizeof *out);
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    fit_collect_on(ctx, a, prm, out);
    assert_true(out->nv > 0);
    assert_true(out->nv < 16384);
    strata_ctx_free(ctx);
}

static void assert_same_bytes(const fit_bytes *a, const fit_bytes *b, const char *what)
{
    assert_int_equal(a->st, b->st);
    assert_int_equal(a->nv, b->nv);
    for (size_t k = 0; k < a->nv; k++)
        if (memcmp(&a->v[k], &b->v[k], sizeof a->v[k]) != 0)
            fail_msg("%s: value %zu differs: %.17g vs %.17g", what, k, a->v[k], b->v[k]);
}

/* In memory (1 thread) vs streamed under a tiny budget (1 and 2 threads) and in
 * memory on 2 threads: byte-identical. */
static void same_bytes_budget(const strata_glm_params *prm, size_t n, int warm, int practice,
                              size_t budget)
{
    arrsrc a;
    static fit_bytes mem1, mem2, st1, st2;
    make_data(&a, n);
    if (practice)
        add_practice(&a);
    fit_collect(&a, prm, 0, 1, &mem1);
    fit_collect(&a, prm, 0, 2, &mem2);
    fit_collect(&a, prm, budget, 1, &st1);
    fit_collect(&a, prm, budget, 2, &st2);
    assert_int_equal(mem1.st, STRATA_OK);
    assert_false(mem1.streamed & 1);
    assert_true(st1.streamed & 1);
    assert_true(st2.streamed & 1);
    assert_int_equal(mem1.streamed & 2, warm ? 2 : 0); /* the warm start ran (or not) */
    assert_int_equal(st1.streamed & 2, warm ? 2 : 0);
    assert_true(mem1.v[mem1.nv - 4] >= 2); /* iterations */
    assert_true(mem1.v[mem1.nv - 2] > 0);  /* rows dropped for missing values */
    assert_same_bytes(&mem1, &mem2, "in memory, 1 vs 2 threads");
    assert_same_bytes(&mem1, &st1, "in memory vs streamed, 1 thread");
    assert_same_bytes(&mem1, &st2, "in memory vs streamed, 2 threads");
    arr_free(&a);
}

static void same_bytes(const strata_glm_params *prm, size_t n, int warm)
{
    same_bytes_budget(prm, n, warm, 0, 40000);
}

/* The categorical-aware pass streamed (docs/glm.md): a practice factor over
 * the Schur threshold, a second factor (contingency table with it), numeric
 * terms and an interaction, the warm start. Its partials are per fixed group
 * of blocks: chunks of one block (a group spans many chunks) and of ten
 * blocks (chunks straddle group boundaries) both give the in-memory bytes on
 * 1 and 2 threads. */
static void test_stream__factor_pass_schur_groups_split_by_chunks_same_bytes(void **state)
{
    strata_glm_params prm;
    (void)state;
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + pr + h + x2 + x1:g";
    prm.pass = STRATA_GLM_PASS_FACTOR;
    prm.parallel_min_np = 1; /* 2 threads really run */
    prm.block_rows = 64;     /* ~137 blocks: 8 groups of ~17, the warm start runs */
    same_bytes_budget(&prm, 9000, 1, 1, 40000);
    same_bytes_budget(&prm, 9000, 1, 1, 480000);
}

/* The fit f (what) and the dense one-hot pass's fit dn: estimates within
 * 1e-10 standard errors, SEs to 1e-10 relative. */
static void assert_same_fit(const fit_bytes *f, const fit_bytes *dn, const char *what)
{
    for (size_t j = 0; j < f->p; j++) {
        double b = f->v[2 * j], bd = dn->v[2 * j], se = f->v[2 * j + 1], sed = dn->v[2 * j + 1];
        if (!(fabs(b - bd) <= 1e-10 * sed))
            fail_msg("term %zu: estimate %.17g (%s) vs %.17g (dense pass), SE %g", j, b, what, bd, sed);
        if (!(fabs(se - sed) <= 1e-10 * sed))
            fail_msg("term %zu: SE %.17g (%s) vs %.17g (dense pass)", j, se, what, sed);
    }
}

/* Streamed, the categorical-aware pass and the dense one-hot pass give the
 * same fit: estimates within 1e-10 standard errors, SEs to 1e-10 relative. */
static void test_stream__factor_pass_equals_dense_pass(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    static fit_bytes fd, fdense;
    (void)state;
    make_data(&a, 9000);
    add_practice(&a);
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + pr + h + x2";
    prm.block_rows = 64;
    prm.pass = STRATA_GLM_PASS_FACTOR;
    fit_collect(&a, &prm, 40000, 2, &fd);
    prm.pass = STRATA_GLM_PASS_DENSE;
    fit_collect(&a, &prm, 40000, 2, &fdense);
    assert_int_equal(fd.st, STRATA_OK);
    assert_true(fd.streamed & 1);
    assert_int_equal(fd.p, 1 + 1 + (NPR - 1) + 3 + 1);
    assert_int_equal(fd.p, fdense.p);
    assert_same_fit(&fd, &fdense, "factor pass");
    arr_free(&a);
}

/* Combined codes (docs/glm.md, GLM_FCOMB_MAX): two small factors (g, h: 16
 * combinations, a block of 128 rows holds at least 8 per combination) are
 * summed per combination and folded per block: in memory on 1 and 2 threads
 * and streamed in chunks of one and of several blocks, the same bytes (the
 * warm start runs: 70 blocks); and the same fit as the dense one-hot pass,
 * estimates within 1e-10 SE and SEs to 1e-10 relative. */
static void test_stream__factor_pass_combined_codes_same_bytes_and_dense(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    static fit_bytes fc, fdense;
    (void)state;
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + g + h + x2 + x1:g";
    prm.pass = STRATA_GLM_PASS_FACTOR;
    prm.parallel_min_np = 1;
    prm.block_rows = 128;
    same_bytes_budget(&prm, 9000, 1, 1, 40000);
    same_bytes_budget(&prm, 9000, 1, 1, 480000);
    make_data(&a, 9000);
    add_practice(&a);
    fit_collect(&a, &prm, 0, 2, &fc);
    assert_true(fc.streamed & 4); /* the combined codes ran */
    prm.pass = STRATA_GLM_PASS_DENSE;
    fit_collect(&a, &prm, 0, 2, &fdense);
    assert_int_equal(fc.st, STRATA_OK);
    assert_int_equal(fc.p, fdense.p);
    assert_same_fit(&fc, &fdense, "combined codes");
    arr_free(&a);
}

/* Transforms of a variable whose values are small integers (docs/glm.md,
 * "Values computed once per fit"): in memory looked up in a table of the
 * values per integer, streamed computed per block: the same bytes, on 1 and
 * 2 threads; one value that is not an integer (40.5) turns the table off. */
static void test_stream__integer_transforms_by_table_same_bytes(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    static fit_bytes mem1, mem2, st1, st2;
    double *k, *x2;
    (void)state;
    make_data(&a, 9000);
    x2 = a.data[col_index(&a, "x2")];
    k = arr_col(&a, "k", 0);
    for (size_t i = 0; i < a.nrows; i++)
        k[i] = floor(x2[i]); /* 20 .. 79 */
    strata_glm_params_init(&prm);
    prm.formula = "y ~ rcs(k, 4) + log1p(k) + log(k) + x1 + g";
    prm.block_rows = 256;
    prm.parallel_min_np = 1;
    fit_collect(&a, &prm, 0, 1, &mem1);
    fit_collect(&a, &prm, 0, 2, &mem2);
    fit_collect(&a, &prm, 40000, 1, &st1);
    fit_collect(&a, &prm, 40000, 2, &st2);
    assert_int_equal(mem1.st, STRATA_OK);
    assert_true(mem1.streamed & 8);    /* the tables ran in memory */
    assert_false(st1.streamed & 8);    /* not when streamed */
    assert_true(st1.streamed & 1);
    assert_same_bytes(&mem1, &mem2, "tables, 1 vs 2 threads");
    assert_same_bytes(&mem1, &st1, "tables vs per block, 1 thread");
    assert_same_bytes(&mem1, &st2, "tables vs per block, 2 threads");
    k[17] = 40.5;
    fit_collect(&a, &prm, 0, 1, &mem2);
    assert_false(mem2.streamed & 8);
    arr_free(&a);
}

static void test_stream__binomial_factor_spline_weights_warm_start_same_bytes(void **state)
{
    strata_glm_params prm;
    (void)state;
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + rcs(x2, 4) + g + x1:g";
    prm.weights = "w";
    prm.block_rows = 64; /* ~135 blocks after the drop: the warm start runs */
    same_bytes(&prm, 9000, 1);
}

static void test_stream__poisson_offset_same_bytes(void **state)
{
    strata_glm_params prm;
    (void)state;
    strata_glm_params_init(&prm);
    prm.family = STRATA_FAMILY_POISSON;
    prm.formula = "cnt ~ x1 + g + offset(log(e))"; /* null deviance from the offset fit */
    prm.block_rows = 64;
    same_bytes(&prm, 9000, 1);
}

static void test_stream__r_start_gaussian_same_bytes(void **state)
{
    strata_glm_params prm;
    (void)state;
    strata_glm_params_init(&prm);
    prm.family = STRATA_FAMILY_GAUSSIAN;
    prm.formula = "x2 ~ x1 * g";
    prm.warm_start = 0;
    prm.block_rows = 100;
    same_bytes(&prm, 5000, 0);
}

/* The row sums (weight sums, the offset null fit, the null deviance) read
 * only the response, weights and offset columns of a chunk without
 * incomplete cases, and every column of the one chunk with them (xs): the
 * in-memory bytes, and the other columns read fewer rows. */
static void test_stream__row_sums_read_only_their_columns_same_bytes(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    static fit_bytes st;
    size_t ry, rw, re, rx, rs;
    (void)state;
    strata_glm_params_init(&prm);
    prm.family = STRATA_FAMILY_POISSON;
    prm.formula = "cnt ~ x2 + xs + offset(log(e))";
    prm.weights = "w";
    prm.block_rows = 64;
    same_bytes(&prm, 9000, 1);
    make_data(&a, 9000);
    fit_collect(&a, &prm, 40000, 2, &st);
    assert_int_equal(st.st, STRATA_OK);
    assert_true(st.streamed & 1);
    assert_int_equal(st.v[st.nv - 2], 20); /* rows dropped: xs's */
    ry = a.rows_read[col_index(&a, "cnt")];
    rw = a.rows_read[col_index(&a, "w")];
    re = a.rows_read[col_index(&a, "e")];
    rx = a.rows_read[col_index(&a, "x2")];
    rs = a.rows_read[col_index(&a, "xs")];
    assert_int_equal(ry, rw);
    assert_int_equal(ry, re);
    assert_int_equal(rx, rs);
    /* at least two row visits (weight sums, null deviance) skipped x2 and xs
     * everywhere but the chunk holding rows 3001..3020 */
    if (!(ry - rx >= 2 * (9000 - 1000)))
        fail_msg("row sums read x2 too: %zu rows of cnt, %zu of x2", ry, rx);
    arr_free(&a);
}

/* 200,000 rows x 5 columns (12.8 MB loaded) under a 2 MB budget: the
 * allocations through the context's hook peak below the budget; unlimited,
 * the same fit holds the columns. */
static void test_stream__budget_holds(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    fit_run mem, st;
    const size_t budget = (size_t)2 << 20;
    (void)state;
    make_data(&a, 200000);
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + x2 + log(e)";
    prm.weights = "w";
    mem = run_fit(&a, &prm, 0, 2);
    st = run_fit(&a, &prm, budget, 2);
    assert_int_equal(mem.st, STRATA_OK);
    assert_int_equal(st.st, STRATA_OK);
    assert_false(mem.streamed & 1);
    assert_true(st.streamed & 1);
    print_message("peak through the hook: in memory %zu bytes, streamed %zu (budget %zu)\n", mem.peak,
                  st.peak, budget);
    if (!(mem.peak > (size_t)10 << 20))
        fail_msg("in memory: peak %zu bytes, expected the columns (> 10 MB)", mem.peak);
    if (!(st.peak <= budget))
        fail_msg("streamed: peak %zu bytes over the budget of %zu", st.peak, budget);
    arr_free(&a);
}

/* A read failing in the middle of a streamed pass is the fit's error. */
static void test_stream__read_error_is_reported(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    strata_ctx *ctx = NULL;
    glm_model *m = NULL;
    glm_source src;
    (void)state;
    make_data(&a, 9000);
    src = arr_source(&a);
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + x2";
    prm.block_rows = 64;
    a.fail_after = 800; /* past the load, inside the IRLS passes */
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_memory_budget(ctx, 40000);
    assert_status(ctx, glm_fit(ctx, &src, &prm, &m), STRATA_EIO);
    assert_null(m);
    assert_contains(strata_ctx_errmsg(ctx), "injected read error");
    strata_ctx_free(ctx);
    arr_free(&a);
}

/* ---- ranks: K threads as MPI ranks (tests/thread_comm.c) ------------------ */
typedef struct ranks_job {
    const arrsrc *a;      /* the data every rank reads (its own copy of the counters) */
    const strata_glm_params *prm;
    size_t budget;        /* per rank */
    int fail_rank;        /* this rank's reads fail after fail_after (-1: none) */
    size_t fail_after;
    fit_bytes *out[TC_MAX_RANKS];
    char msg[TC_MAX_RANKS][STRATA_ERRMSG_MAX];
} ranks_job;

static void rank_fit(strata_ctx *ctx, int r, void *arg)
{
    ranks_job *j = arg;
    arrsrc a = *j->a;
    if (r == j->fail_rank)
        a.fail_after = j->fail_after;
    strata_ctx_set_memory_budget(ctx, j->budget);
    fit_collect_on(ctx, &a, j->prm, j->out[r]);
    snprintf(j->msg[r], sizeof j->msg[r], "%s", strata_ctx_errmsg(ctx));
}

/* Runs the fit on K ranks under the budget; every rank must hold one's bytes
 * (own: the ranks streamed their blocks, else kept them). */
static void ranks_same_bytes(arrsrc *a, const strata_glm_params *prm, const fit_bytes *one, int K,
                             size_t budget, int own)
{
    ranks_job j;
    tc_stats ts;
    char what[64];
    memset(&j, 0, sizeof j);
    j.a = a;
    j.prm = prm;
    j.budget = budget;
    j.fail_rank = -1;
    for (int r = 0; r < K; r++)
        j.out[r] = calloc(1, sizeof *j.out[r]);
    tc_run(K, rank_fit, &j, &ts);
    assert_false(ts.broken);
    assert_int_equal(ts.bad_size, 0);
    assert_int_equal(ts.unread, 0);
    assert_int_equal(j.out[0]->streamed & 16, own ? 16 : 0);
    for (int r = 0; r < K; r++) {
        snprintf(what, sizeof what, "one process vs rank %d of %d, budget %zu", r, K, budget);
        assert_same_bytes(one, j.out[r], what);
        free(j.out[r]);
    }
}

/* K threads as MPI ranks, each with its own memory budget: when the largest
 * rank's blocks exceed it every rank streams its blocks chunk by chunk
 * (docs/scale.md#mpi) and the fit is one process's, byte for byte — the
 * warm start's strided passes, the row sums carried rank to rank (poisson's
 * offset null fit), and the categorical-aware pass whose groups continue
 * from rank to rank (12 ranks of 8 or 16 blocks: some inside one group of
 * ~17) — as when they keep
 * them (no budget). */
static void test_stream__ranks_stream_their_blocks_same_bytes(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    static fit_bytes one;
    (void)state;
    make_data(&a, 9000);
    add_practice(&a);
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + rcs(x2, 4) + g + x1:g";
    prm.weights = "w";
    prm.block_rows = 64; /* ~135 blocks: the warm start runs */
    fit_collect(&a, &prm, 0, 1, &one);
    ranks_same_bytes(&a, &prm, &one, 2, 40000, 1);
    ranks_same_bytes(&a, &prm, &one, 3, 40000, 1);
    ranks_same_bytes(&a, &prm, &one, 3, 0, 0);
    prm.formula = "y ~ x1 + pr + h + x2 + x1:g";
    prm.weights = NULL;
    prm.pass = STRATA_GLM_PASS_FACTOR;
    fit_collect(&a, &prm, 0, 1, &one);
    ranks_same_bytes(&a, &prm, &one, 3, 40000, 1);
    ranks_same_bytes(&a, &prm, &one, 12, 60000, 1);
    strata_glm_params_init(&prm);
    prm.family = STRATA_FAMILY_POISSON;
    prm.formula = "cnt ~ x1 + g + offset(log(e))";
    prm.block_rows = 64;
    fit_collect(&a, &prm, 0, 1, &one);
    ranks_same_bytes(&a, &prm, &one, 2, 40000, 1);
    arr_free(&a);
}

/* A read failing on one streaming rank in the middle of the passes is every
 * rank's error, with its message (rank 0 reports it), and no rank waits. */
static void test_stream__ranks_read_error_is_every_ranks(void **state)
{
    arrsrc a;
    strata_glm_params prm;
    ranks_job j;
    tc_stats ts;
    (void)state;
    make_data(&a, 9000);
    strata_glm_params_init(&prm);
    prm.formula = "y ~ x1 + x2";
    prm.block_rows = 64;
    memset(&j, 0, sizeof j);
    j.a = &a;
    j.prm = &prm;
    j.budget = 40000;
    j.fail_rank = 1;
    j.fail_after = 400; /* past the load, inside the IRLS passes */
    for (int r = 0; r < 3; r++)
        j.out[r] = calloc(1, sizeof *j.out[r]);
    tc_run(3, rank_fit, &j, &ts);
    assert_false(ts.broken);
    assert_int_equal(ts.unread, 0);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(j.out[r]->st, STRATA_EIO);
        assert_int_equal(j.out[r]->nv, 0);
        assert_contains(j.msg[r], "injected read error");
        free(j.out[r]);
    }
    arr_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream__binomial_factor_spline_weights_warm_start_same_bytes),
        cmocka_unit_test(test_stream__poisson_offset_same_bytes),
        cmocka_unit_test(test_stream__r_start_gaussian_same_bytes),
        cmocka_unit_test(test_stream__factor_pass_schur_groups_split_by_chunks_same_bytes),
        cmocka_unit_test(test_stream__factor_pass_combined_codes_same_bytes_and_dense),
        cmocka_unit_test(test_stream__integer_transforms_by_table_same_bytes),
        cmocka_unit_test(test_stream__factor_pass_equals_dense_pass),
        cmocka_unit_test(test_stream__row_sums_read_only_their_columns_same_bytes),
        cmocka_unit_test(test_stream__budget_holds),
        cmocka_unit_test(test_stream__read_error_is_reported),
        cmocka_unit_test(test_stream__ranks_stream_their_blocks_same_bytes),
        cmocka_unit_test(test_stream__ranks_read_error_is_every_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
