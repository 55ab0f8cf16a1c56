/* labels: unit determinism */
/* tests/test_elnet_stream.c — the elastic net under a memory budget
 * (docs/scale.md, "The elastic net under a budget"): rows streamed window by
 * window must give the in-memory path byte for byte (every lambda,
 * intercept, coefficient, deviance ratio, df, the null deviance and the pass
 * counts) on 1 and 2 threads, with and without the prefetch thread; the KKT
 * conditions hold at the streamed solution (glmnet goldens' data); through a
 * formula (factor, spline, weights, missing values, offset) the streamed fit
 * and its model equal the in-memory ones, also on 2 and 3 threads as MPI
 * ranks each streaming its own chunks; a read error is the fit's error;
 * a budget too small for one chunk is refused naming the sizes. K-fold CV
 * under budgets of 16 windows and fewer: every fit streams, the held-out
 * measures (MSE, deviance, AUC through the external sort) take one more read,
 * and the curve, picks, path and model are the in-memory bytes on 1 and 2
 * threads and on 2 ranks (the fits dealt round them), within the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"
#include "elnet_testdata.c"
#include "thread_comm.h"

#include <stdint.h>

/* ---- the paths compared ------------------------------------------------------ */
static void same_path(const elnet_path *a, const elnet_path *b)
{
    assert_int_equal(a->nlam, b->nlam);
    assert_int_equal(a->p, b->p);
    assert_memory_equal(a->lambda, b->lambda, a->nlam * sizeof *a->lambda);
    assert_memory_equal(a->a0, b->a0, a->nlam * sizeof *a->a0);
    assert_memory_equal(a->beta, b->beta, a->nlam * a->p * sizeof *a->beta);
    assert_memory_equal(a->dev_ratio, b->dev_ratio, a->nlam * sizeof *a->dev_ratio);
    assert_memory_equal(a->df, b->df, a->nlam * sizeof *a->df);
    assert_memory_equal(&a->nulldev, &b->nulldev, sizeof a->nulldev);
    assert_int_equal(a->npasses, b->npasses);
    assert_int_equal(a->ngram, b->ngram);
    assert_int_equal(a->nscan, b->nscan);
    assert_int_equal(a->converged, b->converged);
}

/* ---- a reader over arrays ------------------------------------------------------ */
typedef struct arr_reader {
    const gcase *c;
    elnet_reader rd;
    int reads, fail_at; /* the fail_at-th read fails (0: none) */
} arr_reader;

static strata_status arr_read(strata_ctx *ctx, void *ud, int t, size_t r0, size_t r1)
{
    arr_reader *a = ud;
    const gcase *c = a->c;
    if (a->fail_at && ++a->reads == a->fail_at)
        return STRATA_FAIL(ctx, STRATA_EIO, "arrays: injected read error at row %zu", r0 + 1);
    for (size_t j = 0; j < c->p; j++)
        memcpy(a->rd.X[t] + j * a->rd.cap, c->X + j * c->n + r0, (r1 - r0) * sizeof *c->X);
    memcpy(a->rd.y[t], c->y + r0, (r1 - r0) * sizeof *c->y);
    if (c->w)
        memcpy(a->rd.w[t], c->w + r0, (r1 - r0) * sizeof *c->w);
    if (c->off)
        memcpy(a->rd.off[t], c->off + r0, (r1 - r0) * sizeof *c->off);
    return STRATA_OK;
}

/* Windows of `chunks` chunks (cap rows), nsets buffer sets. */
static void arr_open(arr_reader *a, const gcase *c, size_t chunks, int nsets)
{
    memset(a, 0, sizeof *a);
    a->c = c;
    a->rd.cap = (c->n + ELNET_NCHUNK - 1) / ELNET_NCHUNK * chunks;
    a->rd.nsets = nsets;
    for (int t = 0; t < nsets; t++) {
        a->rd.X[t] = malloc(a->rd.cap * c->p * sizeof(double));
        a->rd.y[t] = malloc(a->rd.cap * sizeof(double));
        a->rd.w[t] = c->w ? malloc(a->rd.cap * sizeof(double)) : NULL;
        a->rd.off[t] = c->off ? malloc(a->rd.cap * sizeof(double)) : NULL;
    }
    a->rd.read = arr_read;
    a->rd.ud = a;
}

static void arr_close(arr_reader *a)
{
    for (int t = 0; t < 2; t++)
        free(a->rd.X[t]), free(a->rd.y[t]), free(a->rd.w[t]), free(a->rd.off[t]);
}

static elnet_path *fit_with(strata_ctx *ctx, const gcase *c, const elnet_reader *rd, strata_status want)
{
    elnet_path *path = NULL;
    elnet_data d = case_arrays(c);
    if (rd) {
        d.X = d.y = d.w = d.offset = NULL;
        d.ldx = 0;
        d.rd = rd;
    }
    assert_status(ctx, elnet_path_alloc(ctx, c->p, 100, &path), STRATA_OK);
    assert_int_equal(elnet_fit(ctx, &d, &c->prm, path), want);
    return path;
}

/* The case streamed at thresh 1e-14 in windows of one chunk, prefetched: the
 * in-memory path's bytes and the KKT conditions; then at 1e-9 (fewer passes)
 * the first nruns of: windows of 1 chunk prefetched on 2 threads, of 3
 * chunks with 1 set (read in turn) on 2, of 16 (read once) on 1. */
static void check_case(const char *id, size_t nruns)
{
    static const int runs[][3] = {{1, 2, 1}, {1, 2, 2}, {3, 1, 2}, {16, 1, 1}};
    gcase c;
    case_load(id, &c);
    c.prm.par_min = 0; /* two threads even on these small data */
    strata_ctx *ctx = tu_ctx();
    elnet_path *mem = NULL;
    for (size_t k = 0; k <= nruns; k++) {
        arr_reader a;
        if (k <= 1) {
            elnet_path_free(ctx, mem);
            c.prm.thresh = k == 0 ? 1e-14 : 1e-9;
            strata_ctx_set_threads(ctx, 1);
            mem = fit_with(ctx, &c, NULL, STRATA_OK);
        }
        strata_ctx_set_threads(ctx, runs[k][2]);
        arr_open(&a, &c, (size_t)runs[k][0], runs[k][1]);
        elnet_path *st = fit_with(ctx, &c, &a.rd, STRATA_OK);
        same_path(mem, st);
        if (k == 0) {
            double worst = elnet_kkt_worst(&c, st);
            printf("  %-20s streamed: %zu lambdas, KKT largest violation %.2e\n", id, st->nlam, worst);
            assert_true(worst < 100 * sqrt(c.prm.thresh));
        }
        elnet_path_free(ctx, st);
        arr_close(&a);
    }
    elnet_path_free(ctx, mem);
    strata_ctx_free(ctx);
    case_free(&c);
}

static void test_elnet_stream__binomial_weights_penalty_same_bytes_kkt(void **state)
{
    (void)state;
    check_case("dia_binomial_wpf", 3);
}

static void test_elnet_stream__poisson_offset_same_bytes_kkt(void **state)
{
    (void)state;
    check_case("fl_poisson_off_a05", 2);
}

static void test_elnet_stream__gaussian_weights_penalty_same_bytes_kkt(void **state)
{
    (void)state;
    check_case("dia_gaussian_wpf", 1);
}

static void test_elnet_stream__read_error_is_the_fits_error(void **state)
{
    (void)state;
    gcase c;
    case_load("dia_binomial_wpf", &c);
    strata_ctx *ctx = tu_ctx();
    strata_ctx_set_threads(ctx, 2);
    arr_reader a;
    arr_open(&a, &c, 3, 2);
    a.fail_at = 40; /* within the path, on the prefetch thread or not */
    elnet_path *st = fit_with(ctx, &c, &a.rd, STRATA_EIO);
    assert_non_null(strstr(strata_ctx_errmsg(ctx), "injected read error"));
    elnet_path_free(ctx, st);
    arr_close(&a);
    strata_ctx_free(ctx);
    case_free(&c);
}

/* ---- through a formula over a column source ----------------------------------------- */
typedef struct colsrc {
    size_t n;
    double *col[8];
    strata_column_info info[8];
    size_t ncol;
} colsrc;

static const char *const LEV[] = {"a", "b", "c", "d", "e"};

static strata_status cs_find(strata_ctx *ctx, void *ud, const char *name, size_t *j,
                             const strata_column_info **info)
{
    colsrc *s = ud;
    for (*j = 0; *j < s->ncol; ++*j)
        if (!strcmp(s->info[*j].name, name)) {
            *info = &s->info[*j];
            return STRATA_OK;
        }
    return STRATA_FAIL(ctx, STRATA_ESPEC, "columns: no '%s'", name);
}

static strata_status cs_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    (void)ctx;
    memcpy(out, ((colsrc *)ud)->col[j] + row0, n * sizeof *out);
    return STRATA_OK;
}

static double *cs_add(colsrc *s, const char *name, int factor)
{
    strata_column_info c;
    memset(&c, 0, sizeof c);
    c.group = "patients", c.name = name, c.units = "", c.length = s->n;
    if (factor)
        c.dtype = STRATA_DT_INT32, c.categorical = 1, c.levels = LEV, c.n_levels = 5;
    else
        c.dtype = STRATA_DT_FLOAT64;
    s->info[s->ncol] = c;
    s->col[s->ncol] = calloc(s->n, sizeof(double));
    return s->col[s->ncol++];
}

/* y (0/1), cnt (counts), x1 (2% missing), age, g (5 levels, 1% missing), w, e. */
static void cs_make(colsrc *s, size_t n)
{
    uint64_t r = 99;
    memset(s, 0, sizeof *s);
    s->n = n;
    double *y = cs_add(s, "y", 0), *cnt = cs_add(s, "cnt", 0), *x1 = cs_add(s, "x1", 0);
    double *age = cs_add(s, "age", 0), *g = cs_add(s, "g", 1), *w = cs_add(s, "w", 0), *e = cs_add(s, "e", 0);
    for (size_t i = 0; i < n; i++) {
#define U() ((double)((r = r * 6364136223846793005ULL + 1442695040888963407ULL) >> 11) / 9007199254740992.0)
        x1[i] = 4 * U() - 2;
        age[i] = 20 + 70 * U();
        g[i] = (double)(size_t)(5 * U());
        w[i] = 0.5 + U();
        e[i] = 0.5 + U();
        double lp = -1 + 0.6 * x1[i] + 0.02 * (age[i] - 50) + 0.25 * g[i];
        y[i] = U() < 1 / (1 + exp(-lp));
        cnt[i] = (double)(size_t)(2.5 * U() * e[i] * exp(0.4 * x1[i] + 0.1 * g[i]));
        if (U() < 0.02)
            x1[i] = NAN;
        if (U() < 0.01)
            g[i] = NAN;
#undef U
    }
}

typedef struct src_run {
    glm_model *m;
    elnet_fitted res;
    int streamed;
    char msg[STRATA_ERRMSG_MAX];
} src_run;

static void note(void *ud, strata_log_level level, const char *msg)
{
    (void)level;
    if (strstr(msg, "streaming windows of whole chunks"))
        *(int *)ud |= 1;
    if (strstr(msg, "elnet: streamed"))
        *(int *)ud |= 2;
}

static strata_status run_src(colsrc *cs, const elnet_spec *sp, size_t budget, int threads, src_run *r)
{
    strata_ctx *ctx = NULL;
    glm_source src = {cs, "columns", cs->n, cs_find, cs_read, NULL};
    memset(r, 0, sizeof *r);
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    strata_ctx_set_log(ctx, note, &r->streamed, STRATA_LOG_INFO);
    strata_status st = elnet_fit_source(ctx, &src, sp, &r->m, &r->res);
    snprintf(r->msg, sizeof r->msg, "%s", strata_ctx_errmsg(ctx));
    if (st == STRATA_OK) {
        glm_model_free(ctx, r->m);
        r->m = NULL;
    }
    elnet_fitted_free(ctx, &r->res); /* (the path is compared before, below) */
    strata_ctx_free(ctx);
    return st;
}

/* As run_src, keeping the path (copied) and the model's coefficients. */
typedef struct kept {
    elnet_path path;
    double beta[64], dev, nulldev;
    size_t nbeta, selected;
    elnet_cv cv; /* (cv.nlam 0 without CV; arrays copied) */
} kept;

/* The fit on ctx (its budget, threads and communicator) kept in k (copied
 * out of the context's allocations); *streamed from the log. */
static strata_status keep_fit(strata_ctx *ctx, colsrc *cs, const elnet_spec *sp, int *streamed, kept *k)
{
    glm_source src = {cs, "columns", cs->n, cs_find, cs_read, NULL};
    glm_model *m = NULL;
    elnet_fitted res;
    strata_ctx_set_log(ctx, note, streamed, STRATA_LOG_INFO);
    strata_status st = elnet_fit_source(ctx, &src, sp, &m, &res);
    if (st != STRATA_OK)
        return st;
    const elnet_path *pa = res.path;
    k->path = *pa;
    k->path.lambda = malloc(pa->nlam * sizeof(double));
    k->path.a0 = malloc(pa->nlam * sizeof(double));
    k->path.beta = malloc(pa->nlam * pa->p * sizeof(double));
    k->path.dev_ratio = malloc(pa->nlam * sizeof(double));
    k->path.df = malloc(pa->nlam * sizeof(int));
    memcpy(k->path.lambda, pa->lambda, pa->nlam * sizeof(double));
    memcpy(k->path.a0, pa->a0, pa->nlam * sizeof(double));
    memcpy(k->path.beta, pa->beta, pa->nlam * pa->p * sizeof(double));
    memcpy(k->path.dev_ratio, pa->dev_ratio, pa->nlam * sizeof(double));
    memcpy(k->path.df, pa->df, pa->nlam * sizeof(int));
    k->nbeta = m->p < 64 ? m->p : 64;
    memcpy(k->beta, m->beta, k->nbeta * sizeof(double));
    k->cv = res.cv;
    k->cv.lambda = calloc(res.cv.nlam + 1, sizeof(double));
    k->cv.cvm = calloc(res.cv.nlam + 1, sizeof(double));
    k->cv.cvsd = calloc(res.cv.nlam + 1, sizeof(double));
    k->cv.nzero = calloc(res.cv.nlam + 1, sizeof(int));
    if (res.cv.nlam) {
        memcpy(k->cv.lambda, res.cv.lambda, res.cv.nlam * sizeof(double));
        memcpy(k->cv.cvm, res.cv.cvm, res.cv.nlam * sizeof(double));
        memcpy(k->cv.cvsd, res.cv.cvsd, res.cv.nlam * sizeof(double));
        memcpy(k->cv.nzero, res.cv.nzero, res.cv.nlam * sizeof(int));
    }
    k->dev = m->sum.deviance;
    k->nulldev = m->sum.null_deviance;
    k->selected = res.selected;
    glm_model_free(ctx, m);
    elnet_fitted_free(ctx, &res);
    return STRATA_OK;
}

static void src_fit(colsrc *cs, const elnet_spec *sp, size_t budget, int threads, int want_streamed, kept *k)
{
    strata_ctx *ctx = NULL;
    int streamed = 0;
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    assert_status(ctx, keep_fit(ctx, cs, sp, &streamed, k), STRATA_OK);
    assert_int_equal(streamed, want_streamed ? 3 : 0);
    assert_true(k->nbeta < 64);
    strata_ctx_free(ctx);
}

static void kept_free(kept *k)
{
    free(k->path.lambda), free(k->path.a0), free(k->path.beta), free(k->path.dev_ratio), free(k->path.df);
    free(k->cv.lambda), free(k->cv.cvm), free(k->cv.cvsd), free(k->cv.nzero);
}

/* The path, the model's coefficients, deviances and selection: the same bytes. */
static void same_kept(const kept *a, const kept *b)
{
    same_path(&a->path, &b->path);
    assert_int_equal(a->nbeta, b->nbeta);
    assert_memory_equal(a->beta, b->beta, a->nbeta * sizeof *a->beta);
    assert_memory_equal(&a->dev, &b->dev, sizeof a->dev);
    assert_memory_equal(&a->nulldev, &b->nulldev, sizeof a->nulldev);
    assert_int_equal(a->selected, b->selected);
    /* the CV curve (its lambdas, means, standard errors, df) and its picks */
    assert_int_equal(a->cv.nlam, b->cv.nlam);
    assert_int_equal(a->cv.measure, b->cv.measure);
    assert_memory_equal(a->cv.lambda, b->cv.lambda, a->cv.nlam * sizeof *a->cv.lambda);
    assert_memory_equal(a->cv.cvm, b->cv.cvm, a->cv.nlam * sizeof *a->cv.cvm);
    assert_memory_equal(a->cv.cvsd, b->cv.cvsd, a->cv.nlam * sizeof *a->cv.cvsd);
    assert_memory_equal(a->cv.nzero, b->cv.nzero, a->cv.nlam * sizeof *a->cv.nzero);
    assert_int_equal(a->cv.idx_min, b->cv.idx_min);
    assert_int_equal(a->cv.idx_1se, b->cv.idx_1se);
    assert_memory_equal(&a->cv.lambda_min, &b->cv.lambda_min, sizeof a->cv.lambda_min);
    assert_memory_equal(&a->cv.lambda_1se, &b->cv.lambda_1se, sizeof a->cv.lambda_1se);
}

/* ---- K threads as MPI ranks (tests/thread_comm.c) ---------------------------- */
typedef struct ranks_job {
    colsrc *cs;
    const elnet_spec *sp;
    size_t budget;
    strata_status st[TC_MAX_RANKS];
    int streamed[TC_MAX_RANKS];
    kept k[TC_MAX_RANKS];
    char msg[TC_MAX_RANKS][STRATA_ERRMSG_MAX];
} ranks_job;

static void rank_fit(strata_ctx *ctx, int r, void *arg)
{
    ranks_job *j = arg;
    strata_ctx_set_memory_budget(ctx, j->budget);
    j->st[r] = keep_fit(ctx, j->cs, j->sp, &j->streamed[r], &j->k[r]);
    snprintf(j->msg[r], sizeof j->msg[r], "%s", strata_ctx_errmsg(ctx));
}

static void ranks_run(ranks_job *j, colsrc *cs, const elnet_spec *sp, int K, size_t budget)
{
    tc_stats ts;
    memset(j, 0, sizeof *j);
    j->cs = cs;
    j->sp = sp;
    j->budget = budget;
    tc_run(K, rank_fit, j, &ts);
    assert_false(ts.broken);
    assert_int_equal(ts.bad_size, 0);
    assert_int_equal(ts.unread, 0);
}

/* K ranks under a per-rank budget (0: the least that streams, from the
 * refusal of a smaller one, which every rank gives): each rank streams its
 * own chunks (want streamed) or keeps them, and every rank's path and model
 * are one's bytes. */
static void ranks_same(colsrc *cs, const elnet_spec *sp, int K, size_t budget, int want_streamed, const kept *one)
{
    static ranks_job j;
    if (!budget) {
        ranks_run(&j, cs, sp, K, 1000);
        for (int r = 0; r < K; r++) {
            const char *at = strstr(j.msg[r], "at least ");
            assert_int_equal(j.st[r], STRATA_ENOMEM);
            assert_non_null(strstr(j.msg[r], "on each MPI rank"));
            assert_non_null(at);
            assert_int_equal(sscanf(at, "at least %zu bytes", &budget), 1);
        }
    }
    ranks_run(&j, cs, sp, K, budget);
    for (int r = 0; r < K; r++) {
        if (j.st[r] != STRATA_OK)
            fail_msg("rank %d of %d under %zu bytes: %s", r, K, budget, j.msg[r]);
        assert_int_equal(j.streamed[r], want_streamed ? 3 : 0);
        same_kept(one, &j.k[r]);
        kept_free(&j.k[r]);
    }
}

/* In memory (no budget, 1 thread) against streamed under budgets of one
 * chunk a window (prefetch) and of every row in one window (read once), on 1
 * and 2 threads. */
static void check_formula(const char *formula, strata_family fam, const char *weights, size_t n, size_t nlambda)
{
    colsrc cs;
    cs_make(&cs, n);
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.formula = formula;
    sp.weights = weights;
    sp.prm.family = fam;
    sp.prm.alpha = 0.6;
    sp.prm.nlambda = nlambda;
    sp.prm.par_min = 0;
    kept mem, st;
    src_run r;
    size_t least = 0, inmem = 0;
    src_fit(&cs, &sp, 0, 1, 0, &mem);
    /* the smallest budget that streams (one chunk a window), from the refusal of a smaller one */
    assert_int_equal(run_src(&cs, &sp, 1000, 1, &r), STRATA_ENOMEM);
    const char *at = strstr(r.msg, "at least ");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "at least %zu bytes are needed (%zu in memory)", &least, &inmem), 2);
    assert_true(least < inmem);
    size_t budgets[] = {least, (least + inmem) / 2};
    printf("  budgets %zu, %zu (in memory %zu, the raw columns %zu)\n", budgets[0], budgets[1], inmem,
           n * (8 * (weights ? 6 : 5) + 1));
    for (int threads = 1; threads <= 2; threads++)
        for (size_t b = 0; b < 2; b++) {
            src_fit(&cs, &sp, budgets[b], threads, 1, &st);
            same_kept(&mem, &st);
            kept_free(&st);
        }
    printf("  %s: %zu lambdas, streamed = in memory (1, 2 threads)\n", formula, mem.path.nlam);
    if (n >= 40000) { /* (fewer rows: a rank's rows fit in memory under its least budget) */
        ranks_same(&cs, &sp, 3, 0, 1, &mem);
        printf("  3 ranks, each streaming its chunks under the least budget = in memory\n");
    }
    kept_free(&mem);
    for (size_t j = 0; j < cs.ncol; j++)
        free(cs.col[j]);
}

static void test_elnet_stream__binomial_factor_spline_weights_missing_same_bytes(void **state)
{
    (void)state;
    check_formula("y ~ x1 + rcs(age, 3) + g + x1:g", STRATA_FAMILY_BINOMIAL, "w", 6000, 30);
}

static void test_elnet_stream__poisson_factor_weights_offset_same_bytes(void **state)
{
    (void)state;
    check_formula("cnt ~ x1 + age + g + offset(log(e))", STRATA_FAMILY_POISSON, "w", 6000, 30);
}

/* gaussian through a formula: the response's centre and scale from the
 * streamed sums (and, across ranks, from every rank's chunks). */
static void test_elnet_stream__gaussian_factor_same_bytes(void **state)
{
    (void)state;
    check_formula("age ~ x1 + g + x1:g", STRATA_FAMILY_GAUSSIAN, "w", 6000, 20);
}

/* Across 2 ranks, each streaming its chunks under the least budget that
 * streams: poisson with an offset (the null model's Newton steps over the
 * ranks' windows) and gaussian (the response's centre and scale from every
 * rank's chunks, the weights' sum carried rank to rank) give one process's
 * bytes in memory. */
static void test_elnet_stream__ranks_poisson_offset_gaussian_same_bytes(void **state)
{
    (void)state;
    const char *formula[2] = {"cnt ~ x1 + age + g + offset(log(e))", "age ~ x1 + g"};
    strata_family fam[2] = {STRATA_FAMILY_POISSON, STRATA_FAMILY_GAUSSIAN};
    colsrc cs;
    cs_make(&cs, 30000);
    for (int k = 0; k < 2; k++) {
        elnet_spec sp;
        kept mem;
        elnet_spec_init(&sp);
        sp.formula = formula[k];
        sp.weights = "w";
        sp.prm.family = fam[k];
        sp.prm.alpha = 0.6;
        sp.prm.nlambda = 6;
        sp.prm.par_min = 0;
        src_fit(&cs, &sp, 0, 1, 0, &mem);
        ranks_same(&cs, &sp, 2, 0, 1, &mem);
        kept_free(&mem);
    }
    for (size_t j = 0; j < cs.ncol; j++)
        free(cs.col[j]);
}

/* More rows, so that the raw columns alone exceed the smallest budget that
 * streams: the mask is then made by a streamed read too. */
static void test_elnet_stream__binomial_raw_columns_over_budget_same_bytes(void **state)
{
    (void)state;
    check_formula("y ~ x1 + age + g", STRATA_FAMILY_BINOMIAL, NULL, 60000, 12);
}

/* ---- cross-validation under a budget ------------------------------------------ */
/* The peak of the bytes the fit holds through the context (allocation hook). */
static size_t fit_peak(colsrc *cs, const elnet_spec *sp, size_t budget, int threads)
{
    strata_ctx *ctx = NULL;
    tu_alloc_count c = {0, 0};
    int streamed = 0;
    kept k;
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    assert_status(ctx, keep_fit(ctx, cs, sp, &streamed, &k), STRATA_OK);
    assert_int_equal(streamed, 3);
    kept_free(&k);
    strata_ctx_free(ctx);
    return c.peak;
}

/* 5-fold CV (seeded folds) in memory against streamed under the least budget
 * that streams (windows of one chunk, 2 threads) and a larger one (1 thread):
 * the same curve, picks, path and model; under the least budget the peak of
 * the bytes held stays within it (+1 %); on 2 ranks (the fits dealt round them, each
 * streaming its own) the same bytes. */
static void check_cv(const char *formula, strata_family fam, const char *weights, elnet_measure ms, int ranks,
                     size_t n)
{
    colsrc cs;
    cs_make(&cs, n);
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.formula = formula;
    sp.weights = weights;
    sp.prm.family = fam;
    sp.prm.alpha = 0.6;
    sp.prm.nlambda = 15;
    sp.prm.par_min = 0;
    sp.cv_folds = 5;
    sp.seed = 3;
    sp.measure = ms;
    kept mem, st;
    src_run r;
    size_t least = 0, inmem = 0;
    src_fit(&cs, &sp, 0, 1, 0, &mem);
    assert_true(mem.cv.nlam == mem.path.nlam && mem.cv.nlam >= 10);
    assert_int_equal(mem.cv.measure, ms);
    assert_true(mem.cv.idx_1se < mem.cv.idx_min && mem.selected == mem.cv.idx_1se);
    assert_true(isfinite(mem.cv.cvm[mem.cv.idx_min]) && mem.cv.cvsd[mem.cv.idx_min] > 0);
    assert_int_equal(run_src(&cs, &sp, 1000, 1, &r), STRATA_ENOMEM);
    const char *at = strstr(r.msg, "at least ");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "at least %zu bytes are needed (%zu in memory)", &least, &inmem), 2);
    assert_true(least < inmem);
    size_t budgets[] = {least, (least + inmem) / 2};
    for (size_t b = 0; b < 2; b++) { /* the least budget on 2 threads, the larger on 1 */
        src_fit(&cs, &sp, budgets[b], 2 - (int)b, 1, &st);
        same_kept(&mem, &st);
        kept_free(&st);
    }
    size_t peak = fit_peak(&cs, &sp, least, 1);
    printf("  %s: cvm[min #%zu] %.6g, 1se #%zu; streamed = in memory (1, 2 threads); peak %zu bytes under "
           "the least budget %zu (in memory %zu)\n",
           formula, mem.cv.idx_min + 1, mem.cv.cvm[mem.cv.idx_min], mem.cv.idx_1se + 1, peak, least, inmem);
    /* (the streamed fit's own plan runs up to ~1 % over its least budget: the
     * CV's fold ids, folds' paths, coefficients, predictions and sort are
     * counted in it, cv_bytes in models/elnet/elnet_source.c) */
    assert_true(peak <= least + least / 100);
    if (ranks) {
        ranks_same(&cs, &sp, 2, budgets[1], 1, &mem);
        printf("  2 ranks, the fits dealt round them, each streaming = in memory\n");
    }
    kept_free(&mem);
    for (size_t j = 0; j < cs.ncol; j++)
        free(cs.col[j]);
}

static void test_elnet_stream__cv_gaussian_weights_mse_same_bytes(void **state)
{
    (void)state;
    check_cv("cnt ~ x1 + age + g + x1:g", STRATA_FAMILY_GAUSSIAN, "w", ELNET_MEASURE_MSE, 0, 6000);
}

static void test_elnet_stream__cv_binomial_deviance_same_bytes_ranks(void **state)
{
    (void)state;
    check_cv("y ~ x1 + rcs(age, 3) + g", STRATA_FAMILY_BINOMIAL, NULL, ELNET_MEASURE_DEVIANCE, 1, 6000);
}

static void test_elnet_stream__cv_binomial_weights_auc_same_bytes_ranks(void **state)
{
    (void)state;
    check_cv("y ~ x1 + age + g", STRATA_FAMILY_BINOMIAL, "w", ELNET_MEASURE_AUC, 1, 20000);
}

static void test_elnet_stream__refusals_name_the_sizes(void **state)
{
    (void)state;
    colsrc cs;
    cs_make(&cs, 6000);
    elnet_spec sp;
    elnet_spec_init(&sp);
    sp.formula = "y ~ x1 + age + g";
    sp.prm.nlambda = 10;
    src_run r;
    /* one chunk does not fit: names the budget and what is needed */
    assert_int_equal(run_src(&cs, &sp, 150000, 1, &r), STRATA_ENOMEM);
    printf("  %s\n", r.msg);
    assert_non_null(strstr(r.msg, "memory budget of 150000 bytes cannot hold the streamed elastic net"));
    assert_non_null(strstr(r.msg, "bytes are needed"));
    /* CV: what it keeps besides (the fold ids, 1 byte a row) is named too */
    sp.cv_folds = 3;
    assert_int_equal(run_src(&cs, &sp, 150000, 1, &r), STRATA_ENOMEM);
    printf("  %s\n", r.msg);
    assert_non_null(strstr(r.msg, "memory budget of 150000 bytes cannot hold the streamed elastic net"));
    assert_non_null(strstr(r.msg, "cross-validation's fold ids, 1 byte a row"));
    for (size_t j = 0; j < cs.ncol; j++)
        free(cs.col[j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elnet_stream__binomial_weights_penalty_same_bytes_kkt),
        cmocka_unit_test(test_elnet_stream__poisson_offset_same_bytes_kkt),
        cmocka_unit_test(test_elnet_stream__gaussian_weights_penalty_same_bytes_kkt),
        cmocka_unit_test(test_elnet_stream__read_error_is_the_fits_error),
        cmocka_unit_test(test_elnet_stream__binomial_factor_spline_weights_missing_same_bytes),
        cmocka_unit_test(test_elnet_stream__poisson_factor_weights_offset_same_bytes),
        cmocka_unit_test(test_elnet_stream__gaussian_factor_same_bytes),
        cmocka_unit_test(test_elnet_stream__ranks_poisson_offset_gaussian_same_bytes),
        cmocka_unit_test(test_elnet_stream__binomial_raw_columns_over_budget_same_bytes),
        cmocka_unit_test(test_elnet_stream__refusals_name_the_sizes),
        cmocka_unit_test(test_elnet_stream__cv_gaussian_weights_mse_same_bytes),
        cmocka_unit_test(test_elnet_stream__cv_binomial_deviance_same_bytes_ranks),
        cmocka_unit_test(test_elnet_stream__cv_binomial_weights_auc_same_bytes_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
