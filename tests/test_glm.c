/* labels: unit determinism */
/* tests/test_glm.c — GLM behaviour beyond the R goldens: R names, truth recovery,
 * score equations, 1 vs 2 threads and save -> load -> score byte-identical, one
 * const model scored from several threads, SHA-256 provenance, no allocation in
 * IRLS iterations, unseen levels, ENOCONV, separation, every bad-input path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- simulated cohort ------------------------------------------------------ */

static uint64_t rng_state;
static double unif(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double rnorm(void) { return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()); }

/* Truth of the simulated outcome models: intercept, x, regionB, regionC, z, x:regionB. */
static const double TRUTH[6] = {-2.0, 0.5, 0.3, -0.4, 0.8, 0.25};
static const char *const TRUTH_NAMES[6] = {"(Intercept)", "x", "regionB", "regionC", "z", "x:regionB"};
static const char *const REGION_LEVELS[] = {"C", "A", "B"}; /* stored unsorted on purpose */

#define NSIM 200000

typedef struct sim {
    double *x, *z, *yb, *yg, *w;
    int32_t *region;
} sim;

static void simulate(sim *s, size_t n)
{
    rng_state = 20261124;
    s->x = malloc(n * sizeof *s->x), s->z = malloc(n * sizeof *s->z);
    s->yb = malloc(n * sizeof *s->yb), s->yg = malloc(n * sizeof *s->yg);
    s->w = malloc(n * sizeof *s->w);
    s->region = malloc(n * sizeof *s->region);
    for (size_t i = 0; i < n; i++) {
        int r = (int)(unif() * 3); /* code into REGION_LEVELS: 0 = C, 1 = A, 2 = B */
        double isB = r == 2, isC = r == 0, eta, mu, sh = 4;
        s->region[i] = r;
        s->x[i] = rnorm();
        s->z[i] = unif() < 0.3;
        eta = TRUTH[0] + TRUTH[1] * s->x[i] + TRUTH[2] * isB + TRUTH[3] * isC + TRUTH[4] * s->z[i] +
              TRUTH[5] * s->x[i] * isB;
        s->yb[i] = unif() < 1 / (1 + exp(-eta));
        /* gamma(shape 4) with mean exp(eta + 7): sum of 4 exponentials */
        mu = exp(eta + 7);
        s->yg[i] = 0;
        for (int k = 0; k < (int)sh; k++)
            s->yg[i] += -log(unif()) * mu / sh;
        s->w[i] = 1 + (double)(i % 3);
    }
}

static void sim_free(sim *s)
{
    free(s->x), free(s->z), free(s->yb), free(s->yg), free(s->w), free(s->region);
}

static const char *sim_cohort(strata_ctx *ctx, sim *s)
{
    static int made = 0;
    const char *path = tu_tmp("sim.h5");
    if (!made) {
        td_mem cols[6];
        memset(cols, 0, sizeof cols);
        cols[0].name = "x", cols[0].num = s->x;
        cols[1].name = "z", cols[1].num = s->z;
        cols[2].name = "yb", cols[2].num = s->yb;
        cols[3].name = "yg", cols[3].num = s->yg;
        cols[4].name = "w", cols[4].num = s->w;
        cols[5].name = "region", cols[5].codes = s->region, cols[5].levels = REGION_LEVELS;
        cols[5].n_levels = 3;
        assert_status(ctx, td_write_cohort(ctx, path, cols, 6, NSIM), STRATA_OK);
        made = 1;
    }
    return path;
}

static sim S;

static int setup_sim(void **state)
{
    (void)state;
    simulate(&S, NSIM);
    return 0;
}
static int teardown_sim(void **state)
{
    (void)state;
    sim_free(&S);
    return 0;
}

static double fit_eps = 1e-8;

static strata_status fit_formula(strata_ctx *ctx, const char *cohort, strata_family fam,
                                 const char *formula, strata_model **m)
{
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_status st;
    assert_status(ctx, strata_cohort_open(ctx, cohort, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.family = fam;
    p.formula = formula;
    p.epsilon = fit_eps;
    p.parallel_min_np = 1; /* the thread tests need both threads at this size */
    st = strata_glm_fit(ctx, c, &p, m);
    strata_cohort_close(c);
    return st;
}

static void test_sim__truth_recovered_within_4se(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    (void)state;
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_BINOMIAL, "yb ~ x*region + z", &m),
                  STRATA_OK);
    assert_int_equal(strata_model_nterms(m), 7); /* + x:regionC */
    for (size_t j = 0; j < 6; j++) {
        strata_coef c;
        size_t k = j < 5 ? j : 5;
        assert_string_equal(strata_model_term(m, k), TRUTH_NAMES[j]);
        strata_model_coef(m, k, &c);
        assert_true(fabs(c.estimate - TRUTH[j]) < 4 * c.std_error);
        assert_true(c.conf_low < c.estimate && c.estimate < c.conf_high);
    }
    assert_string_equal(strata_model_term(m, 6), "x:regionC");
    strata_model_free(ctx, m);
    /* gamma with log link: truth shifted by 7 in the intercept, dispersion 1/shape = 0.25 */
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_GAMMA, "yg ~ x + region + z + x:region", &m),
                  STRATA_OK);
    {
        strata_fit_summary fs;
        strata_coef c;
        strata_model_summary(m, &fs);
        assert_true(fabs(fs.dispersion - 0.25) < 0.01);
        assert_true(fs.t_statistic);
        strata_model_coef(m, 0, &c);
        assert_true(fabs(c.estimate - (TRUTH[0] + 7)) < 4 * c.std_error);
        strata_model_coef(m, 1, &c);
        assert_true(fabs(c.estimate - TRUTH[1]) < 4 * c.std_error);
    }
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

/* Score equations X^T W (y - mu) / (dmu/deta) = 0: for logit sum x (y - mu), for Gamma(log)
 * sum x (y - mu)/mu. Design columns rebuilt here from the raw simulated columns. */
static void test_sim__score_equations_zero_at_optimum(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    double *mu = malloc(NSIM * sizeof *mu);
    (void)state;
    fit_eps = 1e-13; /* Gamma(log) is Fisher scoring: converge tightly to test the optimum */
    for (int fam = 0; fam < 2; fam++) {
        double sc[6] = {0}, sa[6] = {0};
        assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), fam ? STRATA_FAMILY_GAMMA : STRATA_FAMILY_BINOMIAL,
                                       fam ? "yg ~ x + region + z" : "yb ~ x + region + z", &m),
                      STRATA_OK);
        assert_status(ctx, strata_cohort_open(ctx, sim_cohort(ctx, &S), &c), STRATA_OK);
        assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, NULL, mu), STRATA_OK);
        for (size_t i = 0; i < NSIM; i++) {
            double x[5] = {1, S.x[i], S.region[i] == 2, S.region[i] == 0, S.z[i]};
            double r = fam ? (S.yg[i] - mu[i]) / mu[i] : S.yb[i] - mu[i];
            for (int j = 0; j < 5; j++) {
                sc[j] += x[j] * r;
                sa[j] += fabs(x[j] * r);
            }
        }
        for (int j = 0; j < 5; j++)
            assert_abs_close(sc[j] / sa[j], 0, 1e-7, "family %d score equation %d", fam, j);
        strata_cohort_close(c);
        strata_model_free(ctx, m);
    }
    fit_eps = 1e-8;
    free(mu);
    strata_ctx_free(ctx);
}

static void test_determinism__1_vs_2_threads_identical(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m1 = NULL, *m2 = NULL;
    (void)state;
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_BINOMIAL, "yb ~ x*region + z + rcs(x, 4)", &m1),
                  STRATA_OK);
    strata_ctx_set_threads(ctx, 2);
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_BINOMIAL, "yb ~ x*region + z + rcs(x, 4)", &m2),
                  STRATA_OK);
    assert_int_equal(strata_model_nterms(m1), strata_model_nterms(m2));
    for (size_t j = 0; j < strata_model_nterms(m1); j++) {
        strata_coef a, b;
        strata_model_coef(m1, j, &a);
        strata_model_coef(m2, j, &b);
        assert_memory_equal(&a, &b, sizeof a);
    }
    {
        size_t p = strata_model_nterms(m1);
        assert_memory_equal(strata_model_vcov(m1), strata_model_vcov(m2), p * p * sizeof(double));
    }
    strata_model_free(ctx, m1);
    strata_model_free(ctx, m2);
    strata_ctx_free(ctx);
}

static const char *start_formula = "yb ~ x*region + z";

static strata_status fit_start(strata_ctx *ctx, const char *cohort, int warm, double eps,
                               strata_model **m)
{
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_status st;
    assert_status(ctx, strata_cohort_open(ctx, cohort, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.formula = start_formula;
    p.epsilon = eps;
    p.block_rows = 1024; /* 196 blocks: over the 64 that turn the warm start on */
    p.warm_start = warm;
    p.parallel_min_np = 1;
    st = strata_glm_fit(ctx, c, &p, m);
    strata_cohort_close(c);
    return st;
}

/* The warm start (every 8th block first) lands on the same optimum as R's start:
 * coefficients within 1e-6 standard errors of a fit converged to 1e-14, and
 * standard errors within 1e-8 of it (they come from the Gram at the final
 * coefficients); fewer full-data iterations; identical bytes with 1 and 2 threads. */
static void test_warm_start__same_optimum_fewer_iterations(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *w1 = NULL, *w2 = NULL, *r = NULL, *t = NULL;
    strata_fit_summary sw, sr;
    const char *path = sim_cohort(ctx, &S);
    (void)state;
    assert_status(ctx, fit_start(ctx, path, 1, 1e-8, &w1), STRATA_OK);
    assert_status(ctx, fit_start(ctx, path, 0, 1e-8, &r), STRATA_OK);
    assert_status(ctx, fit_start(ctx, path, 0, 1e-14, &t), STRATA_OK);
    strata_model_summary(w1, &sw);
    strata_model_summary(r, &sr);
    assert_true(sw.converged && sr.converged);
    assert_true(sw.iterations < sr.iterations);
    assert_int_equal(strata_model_nterms(w1), strata_model_nterms(t));
    for (size_t j = 0; j < strata_model_nterms(w1); j++) {
        strata_coef a, b;
        strata_model_coef(w1, j, &a);
        strata_model_coef(t, j, &b);
        assert_abs_close(a.estimate, b.estimate, 1e-6 * b.std_error, "term %zu estimate", j);
        assert_rel_close(a.std_error, b.std_error, 1e-8, "term %zu std error", j);
    }
    assert_rel_close(sw.deviance, sr.deviance, 1e-9, "deviance");
    strata_ctx_set_threads(ctx, 2);
    assert_status(ctx, fit_start(ctx, path, 1, 1e-8, &w2), STRATA_OK);
    for (size_t j = 0; j < strata_model_nterms(w1); j++) {
        strata_coef a, b;
        strata_model_coef(w1, j, &a);
        strata_model_coef(w2, j, &b);
        assert_memory_equal(&a, &b, sizeof a);
    }
    strata_model_free(ctx, w1);
    strata_model_free(ctx, w2);
    strata_model_free(ctx, r);
    strata_model_free(ctx, t);
    strata_ctx_free(ctx);
}

/* With an aliased column (x repeats the first column of rcs(x, 3)) the warm
 * start is still used, and lands on the tight optimum with the same aliasing. */
static void test_warm_start__aliased_column(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *w = NULL, *r = NULL, *t = NULL;
    strata_fit_summary sw, sr;
    const char *path = sim_cohort(ctx, &S);
    (void)state;
    start_formula = "yb ~ rcs(x, 3) + region + z + x";
    assert_status(ctx, fit_start(ctx, path, 1, 1e-8, &w), STRATA_OK);
    assert_status(ctx, fit_start(ctx, path, 0, 1e-8, &r), STRATA_OK);
    assert_status(ctx, fit_start(ctx, path, 0, 1e-14, &t), STRATA_OK);
    start_formula = "yb ~ x*region + z";
    strata_model_summary(w, &sw);
    strata_model_summary(r, &sr);
    assert_true(sw.converged && sw.iterations < sr.iterations);
    assert_int_equal(sw.rank, sr.rank);
    assert_true((size_t)sw.rank < strata_model_nterms(w)); /* x is aliased */
    for (size_t j = 0; j < strata_model_nterms(w); j++) {
        strata_coef a, b;
        strata_model_coef(w, j, &a);
        strata_model_coef(t, j, &b);
        assert_int_equal(isnan(a.estimate), isnan(b.estimate)); /* the same term aliased */
        if (isnan(b.estimate))
            continue;
        assert_abs_close(a.estimate, b.estimate, 1e-6 * b.std_error, "term %zu estimate", j);
        assert_rel_close(a.std_error, b.std_error, 1e-8, "term %zu std error", j);
    }
    strata_model_free(ctx, w);
    strata_model_free(ctx, r);
    strata_model_free(ctx, t);
    strata_ctx_free(ctx);
}

static void test_model__save_load_score_identical_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL, *l = NULL;
    strata_cohort *c = NULL;
    const char *mp = tu_tmp("sim_model.h5");
    double *lp1 = malloc(NSIM * sizeof *lp1), *lp2 = malloc(NSIM * sizeof *lp2);
    double *r1 = malloc(NSIM * sizeof *r1), *r2 = malloc(NSIM * sizeof *r2);
    struct stat sb;
    (void)state;
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_BINOMIAL,
                                   "yb ~ x*C(region, ref=B) + rcs(x, 5) + log1p(w) + z", &m),
                  STRATA_OK);
    assert_status(ctx, strata_model_save(ctx, m, mp), STRATA_OK);
    assert_status(ctx, strata_model_load(ctx, mp, &l), STRATA_OK);
    assert_int_equal(strata_model_nterms(l), strata_model_nterms(m));
    for (size_t j = 0; j < strata_model_nterms(m); j++) {
        strata_coef a, b;
        assert_string_equal(strata_model_term(l, j), strata_model_term(m, j));
        strata_model_coef(m, j, &a);
        strata_model_coef(l, j, &b);
        assert_memory_equal(&a, &b, sizeof a);
    }
    assert_string_equal(strata_model_term(m, 2), "regionA"); /* ref=B: A, C remain */
    assert_non_null(strata_model_provenance(l, "input_hash"));
    assert_contains(strata_model_provenance(l, "blas_config"), "threads=");
    assert_status(ctx, strata_cohort_open(ctx, sim_cohort(ctx, &S), &c), STRATA_OK);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp1, r1), STRATA_OK);
    strata_ctx_set_threads(ctx, 2);
    assert_status(ctx, strata_score(ctx, l, c, STRATA_UNSEEN_ERROR, lp2, r2), STRATA_OK);
    assert_memory_equal(lp1, lp2, NSIM * sizeof *lp1);
    assert_memory_equal(r1, r2, NSIM * sizeof *r1);
    /* score files: 0600, one row per patient, identical whatever the thread count */
    assert_status(ctx, strata_score_write(ctx, l, c, STRATA_UNSEEN_ERROR, tu_tmp("s2.csv")), STRATA_OK);
    strata_ctx_set_threads(ctx, 1);
    assert_status(ctx, strata_score_write(ctx, m, c, STRATA_UNSEEN_ERROR, tu_tmp("s1.csv")), STRATA_OK);
    assert_true(tu_files_equal(tu_tmp("s1.csv"), tu_tmp("s2.csv")));
    assert_int_equal(stat(tu_tmp("s1.csv"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_status(ctx, strata_score_write(ctx, l, c, STRATA_UNSEEN_ERROR, tu_tmp("s1.h5")), STRATA_OK);
    assert_int_equal(stat(tu_tmp("s1.h5"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    {
        char *txt = tu_read_file(tu_tmp("s1.csv"), NULL), line[128];
        assert_non_null(txt);
        assert_true(!strncmp(txt, "patient_id,linear_predictor,response\n1,", 39));
        snprintf(line, sizeof line, "\n%d,%.17g,%.17g\n", NSIM, lp1[NSIM - 1], r1[NSIM - 1]);
        assert_contains(txt, line);
        free(txt);
    }
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_model_free(ctx, l);
    free(lp1), free(lp2), free(r1), free(r2);
    strata_ctx_free(ctx);
}

/* ---- a factor with many levels: the Schur-complement solve ---------------- */

/* 120 practices (over GLM_SCHUR_MIN_LEVELS: the categorical-aware pass solves
 * through the Schur complement of the practice block) plus two numeric terms
 * and a small factor, one practice with zero weight (aliased): the same
 * aliasing and estimates as the dense one-hot pass and
 * pivoted solve (within 1e-8 SE), SEs to 1e-9, and the same bytes on 1 and 2
 * threads. */
static void test_fit__many_level_factor_schur_equals_dense(void **state)
{
    enum { N = 60000, NP = 120 };
    static char names[NP][8];
    static const char *lv[NP];
    static const char *const sex_lv[] = {"F", "M"};
    double *x1 = malloc(N * sizeof *x1), *x2 = malloc(N * sizeof *x2), *y = malloc(N * sizeof *y);
    double *w = malloc(N * sizeof *w);
    int32_t *pr = malloc(N * sizeof *pr), *sx = malloc(N * sizeof *sx);
    double u[NP];
    strata_ctx *ctx = tu_ctx();
    const char *path = tu_tmp("practice.h5");
    strata_model *m[3];
    td_mem cols[6];
    (void)state;
    rng_state = 19;
    for (int k = 0; k < NP; k++) {
        snprintf(names[k], sizeof names[k], "P%03d", k);
        lv[k] = names[k];
        u[k] = 0.3 * rnorm();
    }
    for (size_t i = 0; i < N; i++) {
        double eta;
        pr[i] = (int32_t)(unif() * NP);
        sx[i] = unif() < 0.5;
        x1[i] = rnorm();
        x2[i] = rnorm();
        eta = -2 + 0.4 * x1[i] - 0.2 * x2[i] + 0.3 * sx[i] + u[pr[i]];
        y[i] = unif() < 1 / (1 + exp(-eta));
        w[i] = pr[i] == 7 ? 0 : 1; /* practice P007 has no weight: aliased on both paths */
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x1", cols[1].num = x1;
    cols[2].name = "x2", cols[2].num = x2;
    cols[3].name = "practice", cols[3].codes = pr, cols[3].levels = lv, cols[3].n_levels = NP;
    cols[4].name = "sex", cols[4].codes = sx, cols[4].levels = sex_lv, cols[4].n_levels = 2;
    cols[5].name = "w", cols[5].num = w;
    assert_status(ctx, td_write_cohort(ctx, path, cols, 6, N), STRATA_OK);
    for (int k = 0; k < 3; k++) {
        strata_cohort *c = NULL;
        strata_glm_params p;
        assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
        strata_glm_params_init(&p);
        p.formula = "y ~ x1 + practice + sex + x2";
        p.weights = "w";
        p.pass = k == 0 ? STRATA_GLM_PASS_DENSE : STRATA_GLM_PASS_AUTO;
        p.parallel_min_np = 1;
        strata_ctx_set_threads(ctx, k == 2 ? 2 : 1);
        assert_status(ctx, strata_glm_fit(ctx, c, &p, &m[k]), STRATA_OK);
        strata_cohort_close(c);
    }
    assert_int_equal(strata_model_nterms(m[0]), 1 + 1 + (NP - 1) + 1 + 1);
    for (size_t j = 0; j < strata_model_nterms(m[0]); j++) {
        strata_coef a, b, b2;
        strata_model_coef(m[0], j, &a);
        strata_model_coef(m[1], j, &b);
        strata_model_coef(m[2], j, &b2);
        assert_int_equal(b.aliased, a.aliased);
        assert_int_equal(a.aliased, !strcmp(strata_model_term(m[0], j), "practiceP007"));
        assert_memory_equal(&b, &b2, sizeof b);
        if (a.aliased)
            continue;
        assert_abs_close(b.estimate, a.estimate, 1e-8 * a.std_error, "%s estimate", strata_model_term(m[0], j));
        assert_rel_close(b.std_error, a.std_error, 1e-9, "%s std error", strata_model_term(m[0], j));
    }
    for (int k = 0; k < 3; k++)
        strata_model_free(ctx, m[k]);
    free(x1), free(x2), free(y), free(w), free(pr), free(sx);
    strata_ctx_free(ctx);
}

/* ---- one const model, several threads ------------------------------------- */

#define NSCORERS 3

typedef struct scorer {
    strata_ctx *ctx;      /* its own context (errors, threads) ... */
    strata_cohort *c;     /* ... and its own cohort handle */
    const strata_model *m;
    double *lp, *resp;
    strata_status st;
} scorer;

static void *score_thread(void *arg)
{
    scorer *w = arg;
    for (int rep = 0; rep < 2 && w->st == STRATA_OK; rep++)
        w->st = strata_score(w->ctx, w->m, w->c, STRATA_UNSEEN_TO_REFERENCE, w->lp, w->resp);
    return NULL;
}

/* strata_score reads the model only: three threads scoring the same const model
 * at once (each with 2 OpenMP threads inside, so BLAS single-thread sections
 * overlap) give the bytes of the serial call, and the model is unchanged. */
static void test_score__one_const_model_from_threads_same_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    double *lp = malloc(NSIM * sizeof *lp), *resp = malloc(NSIM * sizeof *resp);
    scorer w[NSCORERS];
    pthread_t tid[NSCORERS];
    strata_coef before, after;
    (void)state;
    assert_status(ctx, fit_formula(ctx, sim_cohort(ctx, &S), STRATA_FAMILY_BINOMIAL,
                                   "yb ~ x*C(region, ref=B) + rcs(x, 5) + log1p(w) + z", &m),
                  STRATA_OK);
    strata_model_coef(m, 3, &before);
    assert_status(ctx, strata_cohort_open(ctx, sim_cohort(ctx, &S), &c), STRATA_OK);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_TO_REFERENCE, lp, resp), STRATA_OK);
    for (int t = 0; t < NSCORERS; t++) {
        w[t].m = m;
        w[t].lp = malloc(NSIM * sizeof *w[t].lp);
        w[t].resp = malloc(NSIM * sizeof *w[t].resp);
        w[t].st = STRATA_OK;
        assert_int_equal(strata_ctx_new(&w[t].ctx), STRATA_OK);
        strata_ctx_set_threads(w[t].ctx, 2);
        assert_status(w[t].ctx, strata_cohort_open(w[t].ctx, sim_cohort(ctx, &S), &w[t].c), STRATA_OK);
    }
    for (int t = 0; t < NSCORERS; t++)
        assert_int_equal(pthread_create(&tid[t], NULL, score_thread, &w[t]), 0);
    for (int t = 0; t < NSCORERS; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    for (int t = 0; t < NSCORERS; t++) {
        assert_status(w[t].ctx, w[t].st, STRATA_OK);
        assert_memory_equal(w[t].lp, lp, NSIM * sizeof *lp);
        assert_memory_equal(w[t].resp, resp, NSIM * sizeof *resp);
        strata_cohort_close(w[t].c);
        strata_ctx_free(w[t].ctx);
        free(w[t].lp), free(w[t].resp);
    }
    strata_model_coef(m, 3, &after);
    assert_memory_equal(&before, &after, sizeof before);
    /* and the BLAS thread count is back where it was (the sections nested) */
    {
        char a[512], b[512];
        strata_blas_config(a, sizeof a);
        assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_TO_REFERENCE, lp, NULL), STRATA_OK);
        strata_blas_config(b, sizeof b);
        assert_string_equal(a, b);
    }
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    free(lp), free(resp);
    strata_ctx_free(ctx);
}

/* The model's input_hash is the SHA-256 of the cohort file, as the manifests
 * and evaluation records carry it: "sha256:" + strata_file_sha256. */
static void test_provenance__input_hash_is_sha256_of_cohort(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    char hex[65], want[80];
    const char *path = sim_cohort(ctx, &S);
    (void)state;
    assert_status(ctx, fit_formula(ctx, path, STRATA_FAMILY_BINOMIAL, "yb ~ x + z", &m), STRATA_OK);
    assert_status(ctx, strata_file_sha256(ctx, path, hex), STRATA_OK);
    snprintf(want, sizeof want, "sha256:%s", hex);
    assert_string_equal(strata_model_provenance(m, "input_hash"), want);
    assert_int_equal(strlen(strata_model_provenance(m, "input_hash")), 7 + 64);
    assert_string_equal(strata_model_provenance(m, "input_path"), path);
    assert_null(strata_model_provenance(m, "no_such_key"));
    assert_null(strata_model_weights(m));
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

/* Allocations through the context during one fit at convergence tolerance eps. */
static long fit_allocations(strata_ctx *ctx, const char *path, double eps, strata_fit_summary *s)
{
    strata_model *m = NULL;
    long count;
    fit_eps = eps;
    tu_fault_arm(-1);
    assert_status(ctx, fit_formula(ctx, path, STRATA_FAMILY_GAMMA, "yg ~ x*region + z + rcs(x, 4)", &m), STRATA_OK);
    count = tu_fault_count();
    strata_model_summary(m, s);
    strata_model_free(ctx, m);
    fit_eps = 1e-8;
    return count;
}

/* GSL-style workspaces: a fit allocates the same number of blocks whether IRLS
 * runs 3 or 5 iterations, so no iteration allocates. */
static void test_fit__allocations_do_not_grow_with_iterations(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_fit_summary s1, s2;
    const char *path = sim_cohort(ctx, &S);
    long a1, a2;
    (void)state;
    tu_fault_install(ctx);
    a1 = fit_allocations(ctx, path, 1e-2, &s1);
    a2 = fit_allocations(ctx, path, 1e-14, &s2);
    assert_true(s2.iterations >= s1.iterations + 2); /* 3 and 5 */
    assert_int_equal(a1, a2);
    strata_ctx_free(ctx);
}

/* ---- small cohorts for the error paths ------------------------------------ */

#define NS 50
static const char *const AB[] = {"a", "b"};
static const char *const ABZ[] = {"a", "b", "z"};

static const char *small_cohort(strata_ctx *ctx, const char *name, double y_bad, size_t bad_row,
                                int with_new_level)
{
    static double y[NS], x[NS], k[NS], na[NS], cnt[NS];
    static int32_t g[NS];
    td_mem cols[6];
    const char *path = tu_tmp(name);
    for (size_t i = 0; i < NS; i++) {
        x[i] = (double)i / 10;
        y[i] = (double)((i * 7) % 3 == 0);
        cnt[i] = (double)(i % 4);
        k[i] = 3.0;
        na[i] = NAN;
        g[i] = (int32_t)(i % 2);
    }
    y[bad_row] = y_bad;
    cnt[bad_row] = y_bad;
    if (with_new_level)
        g[7] = 2;
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "k", cols[2].num = k;
    cols[3].name = "allna", cols[3].num = na;
    cols[4].name = "cnt", cols[4].num = cnt;
    cols[5].name = "g", cols[5].codes = g, cols[5].levels = with_new_level ? ABZ : AB;
    cols[5].n_levels = with_new_level ? 3 : 2;
    assert_status(ctx, td_write_cohort(ctx, path, cols, 6, NS), STRATA_OK);
    return path;
}

static void test_bad__outcomes_out_of_family_range(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    (void)state;
    assert_status(ctx, fit_formula(ctx, small_cohort(ctx, "b1.h5", 2.0, 11, 0), STRATA_FAMILY_BINOMIAL, "y ~ x", &m),
                  STRATA_EDATA);
    assert_null(m);
    assert_contains(strata_ctx_errmsg(ctx), "column 'y': row 12: value 2");
    assert_status(ctx, fit_formula(ctx, small_cohort(ctx, "b2.h5", -1.0, 4, 0), STRATA_FAMILY_POISSON, "cnt ~ x", &m),
                  STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'cnt': row 5: value -1");
    assert_contains(strata_ctx_errmsg(ctx), "non-negative");
    assert_status(ctx, fit_formula(ctx, small_cohort(ctx, "b3.h5", 1.0, 0, 0), STRATA_FAMILY_GAMMA, "cnt ~ x", &m),
                  STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'cnt': row 5: value 0"); /* cnt = i % 4, row 1 set to 1 */
    assert_contains(strata_ctx_errmsg(ctx), "positive");
    assert_status(ctx, fit_formula(ctx, small_cohort(ctx, "b4.h5", 0.0, 0, 0), STRATA_FAMILY_BINOMIAL, "y ~ log(cnt)", &m),
                  STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'cnt': row 1: value 0 outside the domain of log(cnt)");
    strata_ctx_free(ctx);
}

static void test_bad__columns_constant_missing_unknown_collinear(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_coef c;
    const char *p = small_cohort(ctx, "b5.h5", 0.0, 0, 0);
    (void)state;
    /* constant column: aliased with the intercept, reported like R's NA */
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ x + k", &m), STRATA_OK);
    assert_string_equal(strata_model_term(m, 2), "k");
    strata_model_coef(m, 2, &c);
    assert_true(c.aliased);
    assert_true(isnan(c.estimate));
    strata_model_free(ctx, m);
    /* all-missing column */
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ x + allna", &m), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'allna' is missing in all 50 rows");
    /* unknown column */
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ x + nosuch:g", &m), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "unknown column 'nosuch'");
    /* syntax errors name the position */
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ x + rcs(x, 9)", &m), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "rcs(x, k) needs k in 3..7");
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ x +", &m), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "position");
    assert_status(ctx, fit_formula(ctx, p, STRATA_FAMILY_BINOMIAL, "y ~ C(g, ref=q)", &m), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "reference level 'q' of column 'g'");
    strata_ctx_free(ctx);
}

static void test_bad__empty_cohort(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    td_mem cols[2];
    double none[1] = {0};
    (void)state;
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = none;
    cols[1].name = "x", cols[1].num = none;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("empty.h5"), cols, 2, 0), STRATA_OK);
    assert_status(ctx, fit_formula(ctx, tu_tmp("empty.h5"), STRATA_FAMILY_BINOMIAL, "y ~ x", &m), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "no rows");
    strata_ctx_free(ctx);
}

/* fl_collinear from data/golden/glm: kappa2 = 2 * kappa is aliased (NA in R). */
static void test_bad__perfectly_collinear_aliased_like_r(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_coef c;
    static double y[NS], x[NS], x2[NS], z[NS];
    td_mem cols[4];
    (void)state;
    rng_state = 7;
    for (size_t i = 0; i < NS; i++) {
        x[i] = rnorm();
        x2[i] = 2 * x[i];
        z[i] = rnorm();
        y[i] = unif() < 0.4;
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "x2", cols[2].num = x2;
    cols[3].name = "z", cols[3].num = z;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("col.h5"), cols, 4, NS), STRATA_OK);
    assert_status(ctx, fit_formula(ctx, tu_tmp("col.h5"), STRATA_FAMILY_BINOMIAL, "y ~ x + x2 + z", &m), STRATA_OK);
    strata_model_coef(m, 2, &c);
    assert_string_equal(strata_model_term(m, 2), "x2");
    assert_true(c.aliased);
    strata_model_coef(m, 3, &c);
    assert_false(c.aliased);
    {
        strata_fit_summary fs;
        strata_model_summary(m, &fs);
        assert_int_equal(fs.rank, 3);
        assert_rel_close(fs.df_residual, NS - 3, 0, "df");
    }
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

static void test_score__unseen_level_error_or_reference(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    double lp[NS];
    (void)state;
    assert_status(ctx, fit_formula(ctx, small_cohort(ctx, "u1.h5", 0.0, 0, 0), STRATA_FAMILY_BINOMIAL, "y ~ x + g", &m),
                  STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, small_cohort(ctx, "u2.h5", 0.0, 0, 1), &c), STRATA_OK);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp, NULL), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'g': row 8: level 'z' was not seen");
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_TO_REFERENCE, lp, NULL), STRATA_OK);
    {
        strata_coef b0, b1;
        strata_model_coef(m, 0, &b0);
        strata_model_coef(m, 1, &b1);
        assert_rel_close(lp[7], b0.estimate + b1.estimate * 0.7, 1e-14, "row 8 scored as reference");
    }
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

static void test_fit__iteration_cap_enoconv_keeps_partial(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_fit_summary fs;
    (void)state;
    assert_status(ctx, strata_cohort_open(ctx, sim_cohort(ctx, &S), &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.formula = "yb ~ x + region";
    p.max_iter = 2;
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_ENOCONV);
    assert_non_null(m);
    strata_model_summary(m, &fs);
    assert_false(fs.converged);
    assert_int_equal(fs.iterations, 2);
    assert_true(strata_ctx_warnings(ctx) >= 1);
    strata_model_free(ctx, m);
    /* bad params */
    p.max_iter = 0;
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "max_iter");
    strata_cohort_close(c);
    {
        strata_family f;
        assert_status(ctx, strata_family_parse(ctx, "GaMMa", &f), STRATA_OK);
        assert_int_equal(f, STRATA_FAMILY_GAMMA);
        assert_status(ctx, strata_family_parse(ctx, "logit", &f), STRATA_EINVAL);
        assert_contains(strata_ctx_errmsg(ctx), "'logit'");
    }
    strata_ctx_free(ctx);
}

static void test_fit__separation_warns_naming_terms(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    static double y[NS], x[NS], z[NS];
    td_mem cols[3];
    strata_status st;
    (void)state;
    rng_state = 11;
    for (size_t i = 0; i < NS; i++) {
        x[i] = (double)i - 24.5;
        y[i] = x[i] > 0;
        z[i] = rnorm();
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "z", cols[2].num = z;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("sep.h5"), cols, 3, NS), STRATA_OK);
    st = fit_formula(ctx, tu_tmp("sep.h5"), STRATA_FAMILY_BINOMIAL, "y ~ x + z", &m);
    assert_true(st == STRATA_OK || st == STRATA_ENOCONV);
    assert_non_null(m);
    assert_contains(tu_last_warning(), "fitted probabilities numerically 0 or 1");
    assert_contains(tu_last_warning(), "x");
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

/* R's binomial AIC, -2 sum (wt/m) dbinom(round(m y), round(m), mu, log = TRUE)
 * + 2 rank with m = wt, from the fitted mu (strata_score) with libm. */
static double r_binomial_aic(const double *y, const double *wt, const double *mu, size_t n, size_t rank)
{
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        double m = wt ? wt[i] : 1, nn = nearbyint(m), k = nearbyint(m * y[i]);
        if (!(m > 0))
            continue;
        ll += (lgamma(nn + 1) - lgamma(k + 1) - lgamma(nn - k + 1) + (k > 0 ? k * log(mu[i]) : 0) +
               (nn - k > 0 ? (nn - k) * log1p(-mu[i]) : 0));
    }
    return -2 * ll + 2.0 * (double)rank;
}

/* The converging pass without its Gram (glm_irls.c; final_gram 0, the
 * default), with it (1), and every iteration trying without it first (-1:
 * each pass that does not converge runs again with its Gram): the same
 * coefficients, SEs, covariance, deviance and AIC, bit for bit, on the dense
 * and the categorical-aware pass (two factors: combined codes). */
static void check_final_gram(strata_ctx *ctx, strata_cohort *c)
{
    static const strata_glm_pass passes[] = {STRATA_GLM_PASS_DENSE, STRATA_GLM_PASS_FACTOR};
    for (size_t k = 0; k < 2; k++) {
        strata_model *m[3] = {NULL, NULL, NULL};
        strata_fit_summary s[3];
        for (int g = 0; g < 3; g++) {
            strata_glm_params p;
            strata_glm_params_init(&p);
            p.formula = "yb ~ x + ga + gb + x:ga";
            p.weights = "wi";
            p.pass = passes[k];
            p.final_gram = g - 1;
            assert_status(ctx, strata_glm_fit(ctx, c, &p, &m[g]), STRATA_OK);
            strata_model_summary(m[g], &s[g]);
        }
        for (int g = 0; g < 3; g += 2) {
            size_t pp = strata_model_nterms(m[1]);
            assert_true(s[g].deviance == s[1].deviance && s[g].aic == s[1].aic);
            assert_int_equal(s[g].iterations, s[1].iterations);
            assert_memory_equal(strata_model_vcov(m[g]), strata_model_vcov(m[1]), pp * pp * sizeof(double));
            for (size_t j = 0; j < pp; j++) {
                strata_coef a, b;
                strata_model_coef(m[g], j, &a);
                strata_model_coef(m[1], j, &b);
                assert_true(a.estimate == b.estimate && a.std_error == b.std_error);
            }
        }
        for (int g = 0; g < 3; g++)
            strata_model_free(ctx, m[g]);
    }
}

/* The binomial AIC: with 0/1 outcomes and integer weights it is the deviance
 * plus 2 rank (the final pass skips R's per-row log terms: docs/glm.md), else
 * the per-row terms (proportions, fractional weights); each against R's
 * formula evaluated here from the fitted values. */
static void test_fit__binomial_aic_deviance_shortcut_and_per_row(void **state)
{
    enum { N = 3000 };
    static double x[N], yb[N], yp[N], wi[N], wf[N], mu[N];
    static int32_t ga[N], gb[N];
    static const char *const LA[] = {"a0", "a1", "a2"}, *const LB[] = {"b0", "b1", "b2", "b3"};
    static const struct {
        const char *y, *w;
        int shortcut;
    } cases[] = {{"yb", NULL, 1}, {"yb", "wi", 1}, {"yp", "wi", 0}, {"yb", "wf", 0}};
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    td_mem cols[7];
    (void)state;
    rng_state = 19;
    for (size_t i = 0; i < N; i++) {
        double p;
        x[i] = rnorm();
        p = 1 / (1 + exp(-(-0.5 + 0.8 * x[i])));
        yb[i] = unif() < p;
        wi[i] = (double)(1 + i % 4);
        yp[i] = 0;
        for (int k = 0; k < (int)wi[i]; k++)
            yp[i] += unif() < p;
        yp[i] /= wi[i];
        wf[i] = 0.5 + 0.25 * (double)(i % 5);
        ga[i] = (int32_t)(unif() * 3);
        gb[i] = (int32_t)(unif() * 4);
        if (unif() < 0.3 + 0.1 * ga[i] + 0.05 * gb[i]) /* the factors matter a little */
            yb[i] = 1 - yb[i];
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "x", cols[0].num = x;
    cols[1].name = "yb", cols[1].num = yb;
    cols[2].name = "yp", cols[2].num = yp;
    cols[3].name = "wi", cols[3].num = wi;
    cols[4].name = "wf", cols[4].num = wf;
    cols[5].name = "ga", cols[5].codes = ga, cols[5].levels = LA, cols[5].n_levels = 3;
    cols[6].name = "gb", cols[6].codes = gb, cols[6].levels = LB, cols[6].n_levels = 4;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("aic.h5"), cols, 7, N), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("aic.h5"), &c), STRATA_OK);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        strata_glm_params p;
        strata_model *m = NULL;
        strata_fit_summary fs;
        char formula[32];
        double want;
        snprintf(formula, sizeof formula, "%s ~ x", cases[k].y);
        strata_glm_params_init(&p);
        p.family = STRATA_FAMILY_BINOMIAL;
        p.formula = formula;
        p.weights = cases[k].w;
        assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
        strata_model_summary(m, &fs);
        assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, NULL, mu), STRATA_OK);
        want = r_binomial_aic(cases[k].y[1] == 'b' ? yb : yp, !cases[k].w ? NULL : cases[k].w[1] == 'i' ? wi : wf, mu,
                              N, (size_t)fs.rank);
        assert_rel_close(fs.aic, want, 1e-12, "%s weights %s AIC", formula, cases[k].w ? cases[k].w : "1");
        if (cases[k].shortcut)
            assert_true(fs.aic == fs.deviance + 2.0 * fs.rank); /* the same bits */
        else /* the lchoose or rounded-weight terms: the deviance is another number */
            assert_true(fabs(fs.aic - (fs.deviance + 2.0 * fs.rank)) > 1e-6 * fs.aic);
        strata_model_free(ctx, m);
    }
    check_final_gram(ctx, c);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_cli__fit_coef_score(void **state)
{
    char *out = NULL, coh[1024];
    strata_ctx *ctx = tu_ctx();
    (void)state;
    snprintf(coh, sizeof coh, "%s", sim_cohort(ctx, &S));
    assert_int_equal(tu_run_cli(&out, "fit %s --family BINOMIAL --formula 'yb ~ x*region + z' --threads 2 --out %s", coh,
                                tu_tmp("cli_m.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "coef %s --csv", tu_tmp("cli_m.h5")), 0);
    assert_true(!strncmp(out, "term,estimate,std_error,statistic,p_value,conf_low,conf_high\n(Intercept),", 70));
    assert_contains(out, "\nx:regionC,");
    free(out);
    tu_write_file(tu_tmp("spec.yaml"), "family: gamma\nformula: yg ~ x + region\nout: ignored.h5\n");
    assert_int_equal(tu_run_cli(&out, "fit %s --spec %s --out %s", coh, tu_tmp("spec.yaml"), tu_tmp("cli_g.h5")), 0);
    assert_contains(out, "gamma GLM");
    free(out);
    tu_write_file(tu_tmp("bad.yaml"), "family: gamma\nformla: yg ~ x\n");
    assert_int_equal(tu_run_cli(&out, "fit %s --spec %s --out x.h5", coh, tu_tmp("bad.yaml")), 7);
    assert_contains(out, "bad.yaml: line 2: unknown key \"formla\" in the fit spec");
    free(out);
    assert_int_equal(tu_run_cli(&out, "fit %s --formula 'yb ~ nope' --out %s", coh, tu_tmp("x.h5")), 7);
    assert_contains(out, "unknown column 'nope'");
    free(out);
    assert_int_equal(tu_run_cli(&out, "score %s %s --out %s", tu_tmp("cli_m.h5"), coh, tu_tmp("cli_s.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "score %s %s --out %s", tu_tmp("cli_m.h5"), coh, tu_tmp("cli_s.txt")), 2);
    free(out);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim__truth_recovered_within_4se),
        cmocka_unit_test(test_sim__score_equations_zero_at_optimum),
        cmocka_unit_test(test_determinism__1_vs_2_threads_identical),
        cmocka_unit_test(test_fit__many_level_factor_schur_equals_dense),
        cmocka_unit_test(test_warm_start__same_optimum_fewer_iterations),
        cmocka_unit_test(test_warm_start__aliased_column),
        cmocka_unit_test(test_model__save_load_score_identical_bytes),
        cmocka_unit_test(test_score__one_const_model_from_threads_same_bytes),
        cmocka_unit_test(test_provenance__input_hash_is_sha256_of_cohort),
        cmocka_unit_test(test_fit__allocations_do_not_grow_with_iterations),
        cmocka_unit_test(test_bad__outcomes_out_of_family_range),
        cmocka_unit_test(test_bad__columns_constant_missing_unknown_collinear),
        cmocka_unit_test(test_bad__empty_cohort),
        cmocka_unit_test(test_bad__perfectly_collinear_aliased_like_r),
        cmocka_unit_test(test_score__unseen_level_error_or_reference),
        cmocka_unit_test(test_fit__iteration_cap_enoconv_keeps_partial),
        cmocka_unit_test(test_fit__separation_warns_naming_terms),
        cmocka_unit_test(test_fit__binomial_aic_deviance_shortcut_and_per_row),
        cmocka_unit_test(test_cli__fit_coef_score),
    };
    return cmocka_run_group_tests(tests, setup_sim, teardown_sim);
}
