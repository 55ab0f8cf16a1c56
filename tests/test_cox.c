/* labels: unit golden determinism models */
/* tests/test_cox.c — the Cox estimator on arrays (models/cox): coefficients, SEs,
 * log-likelihoods, tests, baseline hazard, survival at a horizon and Harrell's C
 * against survival::coxph on real data (data/golden/cox, made by make_cox.R);
 * score = 0 at the optimum; recovery of known coefficients on Weibull PH data;
 * byte-identical results for 1 and 2 threads; bad input named clearly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cox_testdata.c"

/* ---- golden comparison ------------------------------------------------------ */

typedef struct gold_ctx {
    const cox_result *r;
    const design *d;
    size_t k;
    double hscale; /* R's basehaz is at the mean offset: exp(offset_mean) */
    double worst_beta, worst_se, worst_bh, worst_surv;
} gold_ctx;

static void check_coef(char **f, int nf, void *ud)
{
    gold_ctx *g = ud;
    size_t j = g->k++;
    assert_int_equal(nf, 5);
    assert_string_equal(f[1], g->d->names[j]);
    assert_rel_close(g->r->beta[j], atof(f[2]), 1e-6, "beta %s", f[1]);
    assert_rel_close(g->r->se[j], atof(f[3]), 1e-6, "se %s", f[1]);
    g->worst_beta = fmax(g->worst_beta, relerr(g->r->beta[j], atof(f[2])));
    g->worst_se = fmax(g->worst_se, relerr(g->r->se[j], atof(f[3])));
}

static void check_summary(char **f, int nf, void *ud)
{
    const cox_result *r = ((gold_ctx *)ud)->r;
    assert_int_equal(nf, 16);
    ((gold_ctx *)ud)->hscale = exp(atof(f[15]));
    assert_int_equal((long)r->n, atol(f[2]));
    assert_int_equal((long)r->n_events, atol(f[3]));
    assert_rel_close(r->loglik_null, atof(f[4]), 1e-8, "loglik null");
    assert_rel_close(r->loglik, atof(f[5]), 1e-8, "loglik");
    assert_int_equal(r->iter, atoi(f[6]));
    assert_rel_close(r->score_test, atof(f[7]), 1e-6, "score test");
    assert_rel_close(r->wald_test, atof(f[8]), 1e-6, "wald test");
    assert_rel_close(r->lr_test, atof(f[9]), 1e-6, "LR test");
    /* pair counts: R's lp (centred X) and ours (uncentred) are rounded differently,
     * so a pair whose lps agree to the last bit in one may differ in the other:
     * allow one such pair (weight <= 2 x 2) to move between tied and untied */
    assert_rel_close(r->concordance, atof(f[10]), 1e-6, "concordance");
    assert_abs_close(r->conc_count[0], atof(f[11]), 4, "concordant pairs");
    assert_abs_close(r->conc_count[1], atof(f[12]), 4, "discordant pairs");
    assert_abs_close(r->conc_count[2], atof(f[13]), 4, "tied lp pairs");
}

static void check_basehaz(char **f, int nf, void *ud)
{
    gold_ctx *g = ud;
    size_t s = (size_t)atoi(f[1]) - 1, k = g->k++;
    assert_int_equal(nf, 4);
    assert_true(s < g->r->nstrata);
    assert_true(k >= g->r->bh_start[s] && k < g->r->bh_start[s + 1]);
    assert_rel_close(g->r->bh_time[k], atof(f[2]), 0, "basehaz time %zu", k);
    assert_rel_close(g->r->bh_haz[k] * g->hscale, atof(f[3]), 1e-8, "basehaz stratum %zu time %s",
                     s + 1, f[2]);
    g->worst_bh = fmax(g->worst_bh, relerr(g->r->bh_haz[k] * g->hscale, atof(f[3])));
}

static void check_surv(char **f, int nf, void *ud)
{
    gold_ctx *g = ud;
    const design *d = g->d;
    size_t i = (size_t)atoi(f[1]) - 1, s;
    double lp = d->off[i], sv;
    assert_int_equal(nf, 4);
    for (size_t j = 0; j < d->p; j++)
        lp += g->r->beta[j] * d->X[j * d->n + i];
    for (s = 0; s < g->r->nstrata && g->r->bh_code[s] != d->stratum[i]; s++)
        ;
    assert_true(s < g->r->nstrata);
    sv = exp(-cox_cumhaz_at(g->r, s, atof(f[2])) * exp(lp));
    assert_rel_close(sv, atof(f[3]), 1e-8, "survival row %zu at %s", i + 1, f[2]);
    g->worst_surv = fmax(g->worst_surv, relerr(sv, atof(f[3])));
}

static void golden(const char *model, const char *data, cox_ties ties, int wt, int off, int st,
                   size_t block_rows)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    cox_params prm;
    cox_result *r = NULL;
    gold_ctx g = {0};
    design_load(data, &d);
    cox_input in = design_input(&d, wt, off, st);
    cox_params_init(&prm);
    prm.ties = ties;
    prm.block_rows = block_rows;
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    g.r = r;
    g.d = &d;
    assert_int_equal(golden_rows("cox_coef.csv", model, check_coef, &g), (int)d.p);
    assert_int_equal(golden_rows("cox_summary.csv", model, check_summary, &g), 1);
    g.k = 0;
    assert_int_equal(golden_rows("cox_basehaz.csv", model, check_basehaz, &g),
                     (int)r->bh_start[r->nstrata]);
    assert_int_equal(golden_rows("cox_surv.csv", model, check_surv, &g), 5);
    /* the score is zero at the optimum: the next Newton step is tiny in SE units */
    for (size_t j = 0; j < d.p; j++) {
        double step = 0;
        for (size_t k = 0; k < d.p; k++)
            step += r->vcov[j * d.p + k] * r->u[k];
        assert_abs_close(step / r->se[j], 0, 1e-6, "Newton step / SE of %s", d.names[j]);
    }
    printf("    %-20s block %5zu: max rel err beta %.1e se %.1e basehaz %.1e surv %.1e\n", model,
           block_rows, g.worst_beta, g.worst_se, g.worst_bh, g.worst_surv);
    cox_result_free(ctx, r);
    design_free(&d);
    strata_ctx_free(ctx);
}

static void test_cox_golden__flchain_efron(void **state)
{
    (void)state;
    golden("fl_efron", "fl", COX_TIES_EFRON, 0, 0, 0, 8192);
}

static void test_cox_golden__flchain_breslow(void **state)
{
    (void)state;
    golden("fl_breslow", "fl", COX_TIES_BRESLOW, 0, 0, 0, 8192);
}

/* Blocks of 16 rows: most tied groups of deaths straddle a block boundary. */
static void test_cox_golden__flchain_efron_small_blocks(void **state)
{
    (void)state;
    golden("fl_efron", "fl", COX_TIES_EFRON, 0, 0, 0, 16);
}

static void test_cox_golden__colon_strata_factor(void **state)
{
    (void)state;
    golden("colon_strata", "colon_strata", COX_TIES_EFRON, 0, 0, 1, 8192);
    golden("colon_strata", "colon_strata", COX_TIES_EFRON, 0, 0, 1, 32);
}

static void test_cox_golden__pbc_weights_offset(void **state)
{
    (void)state;
    golden("pbc_wt_off", "pbc", COX_TIES_EFRON, 1, 1, 0, 8192);
    golden("pbc_wt_off_breslow", "pbc", COX_TIES_BRESLOW, 1, 1, 0, 8192);
    golden("pbc_wt_off", "pbc", COX_TIES_EFRON, 1, 1, 0, 16);
}

static void test_cox_golden__rotterdam_strata_breslow(void **state)
{
    (void)state;
    golden("rot_strata", "rot_strata", COX_TIES_BRESLOW, 0, 0, 1, 8192);
    golden("rot_strata", "rot_strata", COX_TIES_BRESLOW, 0, 0, 1, 100);
}

/* ---- synthetic data ---------------------------------------------------------- */

static uint64_t rng_state;

static double unif(void) /* splitmix64, (0, 1) */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

/* Weibull proportional hazards: h(t | x) = lambda_s k t^(k-1) exp(x beta), two
 * strata with their own lambda, uniform censoring, times rounded up to whole
 * days (many ties), weights and offset optional. */
typedef struct synth {
    size_t n, p;
    double *X, *time, *status, *w, *off;
    int32_t *stratum;
} synth;

static const double true_beta[3] = {0.7, -0.5, 1.2};

static void synth_make(synth *s, size_t n, uint64_t seed, int extras)
{
    rng_state = seed;
    s->n = n;
    s->p = 3;
    s->X = malloc(3 * n * sizeof(double));
    s->time = malloc(n * sizeof(double));
    s->status = malloc(n * sizeof(double));
    s->w = malloc(n * sizeof(double));
    s->off = malloc(n * sizeof(double));
    s->stratum = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        double x1 = gauss(), x2 = unif() < 0.4, x3 = 2 * unif() - 1, lp, t, c;
        int32_t st = unif() < 0.3;
        double lambda = st ? 0.004 : 0.002, k = 1.5;
        s->X[i] = x1;
        s->X[n + i] = x2;
        s->X[2 * n + i] = x3;
        s->off[i] = extras ? 0.1 * (double)(i % 5) : 0;
        lp = true_beta[0] * x1 + true_beta[1] * x2 + true_beta[2] * x3 + s->off[i];
        t = pow(-log(unif()) / (lambda * exp(lp)), 1 / k);
        c = 400 * unif();
        s->time[i] = ceil(t < c ? t : c);
        s->status[i] = t < c;
        s->w[i] = extras ? 0.5 + 1.5 * unif() : 1;
        s->stratum[i] = st;
    }
}

static void synth_free(synth *s)
{
    free(s->X);
    free(s->time);
    free(s->status);
    free(s->w);
    free(s->off);
    free(s->stratum);
}

static void test_cox_weibull__recovers_known_coefficients(void **state)
{
    strata_ctx *ctx = tu_ctx();
    synth s;
    cox_params prm;
    cox_result *r = NULL;
    const char *names[3] = {"x1", "x2", "x3"};
    (void)state;
    synth_make(&s, 20000, 42, 0);
    cox_input in = {s.n, s.p, s.X, s.time, s.status, NULL, NULL, s.stratum, names, NULL};
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    assert_true(r->n_events > 5000);
    for (size_t j = 0; j < 3; j++) {
        /* within 4 standard errors of the truth, and the SE about 1/sqrt(events) */
        assert_abs_close(r->beta[j], true_beta[j], 4 * r->se[j], "beta %s", names[j]);
        assert_true(r->se[j] > 0.005 && r->se[j] < 0.05);
    }
    assert_int_equal(r->nstrata, 2);
    assert_true(r->concordance > 0.6 && r->concordance < 0.8);
    cox_result_free(ctx, r);
    synth_free(&s);
    strata_ctx_free(ctx);
}

static cox_result *fit_threads(strata_ctx *ctx, const synth *s, int threads, cox_ties ties)
{
    cox_params prm;
    cox_result *r = NULL;
    cox_input in = {s->n, s->p, s->X, s->time, s->status, s->w, s->off, s->stratum, NULL, NULL};
    strata_ctx_set_threads(ctx, threads);
    cox_params_init(&prm);
    prm.ties = ties;
    prm.block_rows = 64; /* many blocks; tied groups straddle their boundaries */
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    return r;
}

static void test_cox_threads__one_and_two_give_identical_bytes(void **state)
{
    synth s;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    synth_make(&s, 6000, 7, 1);
    for (int t = 0; t < 2; t++) {
        cox_result *a = fit_threads(ctx, &s, 1, (cox_ties)t), *b = fit_threads(ctx, &s, 2, (cox_ties)t);
        size_t p = a->p, nh = a->bh_start[a->nstrata];
        assert_memory_equal(a->beta, b->beta, p * sizeof(double));
        assert_memory_equal(a->vcov, b->vcov, p * p * sizeof(double));
        assert_memory_equal(a->u, b->u, p * sizeof(double));
        assert_memory_equal(&a->loglik, &b->loglik, sizeof(double));
        assert_memory_equal(&a->loglik_null, &b->loglik_null, sizeof(double));
        assert_int_equal(nh, b->bh_start[b->nstrata]);
        assert_memory_equal(a->bh_haz, b->bh_haz, nh * sizeof(double));
        assert_memory_equal(&a->concordance, &b->concordance, sizeof(double));
        cox_result_free(ctx, a);
        cox_result_free(ctx, b);
    }
    synth_free(&s);
    strata_ctx_free(ctx);
}

/* Block size changes only rounding: 64-row and 8192-row blocks agree closely. */
static void test_cox_blocks__block_size_changes_only_rounding(void **state)
{
    synth s;
    strata_ctx *ctx = tu_ctx();
    cox_params prm;
    cox_result *a = NULL, *b = NULL;
    (void)state;
    synth_make(&s, 6000, 11, 1);
    cox_input in = {s.n, s.p, s.X, s.time, s.status, s.w, s.off, s.stratum, NULL, NULL};
    cox_params_init(&prm);
    prm.block_rows = 64;
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &a), STRATA_OK);
    prm.block_rows = 8192;
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &b), STRATA_OK);
    for (size_t j = 0; j < s.p; j++) {
        assert_rel_close(a->beta[j], b->beta[j], 1e-11, "beta %zu", j);
        assert_rel_close(a->se[j], b->se[j], 1e-11, "se %zu", j);
    }
    assert_rel_close(a->loglik, b->loglik, 1e-13, "loglik");
    cox_result_free(ctx, a);
    cox_result_free(ctx, b);
    synth_free(&s);
    strata_ctx_free(ctx);
}

/* ---- bad input and warnings -------------------------------------------------- */

static void expect_edata(double *time, double *status, double *w, double *x, const char *msg)
{
    strata_ctx *ctx = tu_ctx();
    cox_params prm;
    cox_result *r = NULL;
    const char *names[1] = {"age"};
    cox_input in = {6, 1, x, time, status, w, NULL, NULL, names, NULL};
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_EDATA);
    assert_null(r);
    assert_contains(strata_ctx_errmsg(ctx), msg);
    strata_ctx_free(ctx);
}

static void test_cox_input__bad_values_named(void **state)
{
    double t[6] = {5, 3, 8, 1, 9, 2}, e[6] = {1, 0, 1, 1, 0, 1}, w[6] = {1, 1, 1, 1, 1, 1};
    double x[6] = {1, 2, 3, 4, 5, 6};
    (void)state;
    t[2] = -1;
    expect_edata(t, e, NULL, x, "row 3: time -1 is negative");
    t[2] = NAN;
    expect_edata(t, e, NULL, x, "row 3: time nan is missing");
    t[2] = 8;
    e[4] = 2;
    expect_edata(t, e, NULL, x, "row 5: event 2 is not 0 or 1");
    e[4] = 0;
    w[1] = 0;
    expect_edata(t, e, w, x, "row 2: weight 0 is not a positive number");
    x[5] = NAN;
    expect_edata(t, e, NULL, x, "row 6: column 'age' value nan is not finite");
    x[5] = 6;
    memset(e, 0, sizeof e);
    expect_edata(t, e, NULL, x, "no events");
}

/* Events only among x = 1, all before any x = 0 row leaves the risk set: the
 * likelihood rises for ever with beta (monotone likelihood). */
static void test_cox_warn__monotone_likelihood_names_the_term(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double t[200], e[200], x[400];
    const char *names[2] = {"age", "marker"};
    cox_params prm;
    cox_result *r = NULL;
    strata_status st;
    (void)state;
    for (size_t i = 0; i < 200; i++) {
        t[i] = (double)(i + 1);
        e[i] = i < 100 ? (i % 3 != 0) : (i % 4 == 0);
        x[i] = (double)((i * 37) % 23);   /* age: unrelated noise */
        x[200 + i] = i < 100 && e[i] ? 1 : 0; /* marker: 1 exactly for the early events */
    }
    cox_input in = {200, 2, x, t, e, NULL, NULL, NULL, names, NULL};
    cox_params_init(&prm);
    st = cox_fit_arrays(ctx, &in, &prm, &r);
    assert_true(st == STRATA_OK || st == STRATA_ENOCONV);
    assert_non_null(r);
    assert_contains(tu_last_warning(), "'marker'");
    assert_contains(tu_last_warning(), "infinite");
    assert_true(r->beta[1] > 5);
    cox_result_free(ctx, r);
    strata_ctx_free(ctx);
}

/* A column that is a multiple of another is aliased: NA, named in a warning. */
static void test_cox_warn__aliased_column_is_na(void **state)
{
    strata_ctx *ctx = tu_ctx();
    synth s;
    double *X;
    const char *names[4] = {"x1", "x2", "x3", "x1_twice"};
    cox_params prm;
    cox_result *r = NULL;
    (void)state;
    synth_make(&s, 3000, 5, 0);
    X = malloc(4 * s.n * sizeof(double));
    memcpy(X, s.X, 3 * s.n * sizeof(double));
    for (size_t i = 0; i < s.n; i++)
        X[3 * s.n + i] = 2 * s.X[i];
    cox_input in = {s.n, 4, X, s.time, s.status, NULL, NULL, s.stratum, names, NULL};
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    assert_true(r->aliased[3] && isnan(r->beta[3]) && isnan(r->se[3]));
    assert_false(r->aliased[0]);
    assert_int_equal(r->rank, 3);
    assert_contains(tu_last_warning(), "'x1_twice' is aliased");
    cox_result_free(ctx, r);
    free(X);
    synth_free(&s);
    strata_ctx_free(ctx);
}

/* ---- formula on a column source -------------------------------------------- */

/* Compares a formula fit with the golden coefficients, SEs and log-likelihood. */
static void formula_vs_golden(const glm_source *src, const char *formula, const char *weights,
                              const char *model, const design *d)
{
    strata_ctx *ctx = tu_ctx();
    cox_params prm;
    cox_fit_out fo;
    gold_ctx g = {0};
    design names_from_fit;
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_source(ctx, src, formula, weights, &prm, &fo), STRATA_OK);
    assert_int_equal(fo.res->p, d->p);
    memcpy(&names_from_fit, d, sizeof *d);
    for (size_t j = 0; j < d->p; j++) /* the design's names, from the formula machinery */
        snprintf(names_from_fit.names[j], sizeof names_from_fit.names[j], "%s", fo.formula->colnames[j + 1]);
    g.r = fo.res;
    g.d = &names_from_fit;
    assert_int_equal(golden_rows("cox_coef.csv", model, check_coef, &g), (int)d->p);
    assert_int_equal(golden_rows("cox_summary.csv", model, check_summary, &g), 1);
    cox_fit_out_free(ctx, &fo);
    strata_ctx_free(ctx);
}

/* colon: a 3-level factor rebuilt from the dummies, strata(extent). */
static void test_cox_formula__factor_and_strata_match_coxph(void **state)
{
    design d;
    memsrc m;
    double *rx, *ext;
    (void)state;
    design_load("colon_strata", &d);
    colon_source(&d, &m, &rx, &ext);
    glm_source src = mem_source(&m);
    formula_vs_golden(&src, "Surv(time, status) ~ rx + sex + strata(extent) + age + nodes", NULL,
                      "colon_strata", &d);
    free(rx);
    free(ext);
    design_free(&d);
}

/* pbc: case weights and offset() through the formula. */
static void test_cox_formula__weights_and_offset_match_coxph(void **state)
{
    design d;
    memsrc m = {0};
    double *bili;
    (void)state;
    design_load("pbc", &d);
    bili = malloc(d.n * sizeof *bili);
    for (size_t i = 0; i < d.n; i++)
        bili[i] = exp(d.X[d.n + i]);
    m.n = d.n;
    mem_add(&m, "time", d.time, NULL, 0);
    mem_add(&m, "dead", d.status, NULL, 0);
    mem_add(&m, "age", d.X, NULL, 0);
    mem_add(&m, "bili", bili, NULL, 0);
    mem_add(&m, "albumin", d.X + 2 * d.n, NULL, 0);
    mem_add(&m, "edema", d.X + 3 * d.n, NULL, 0);
    mem_add(&m, "w", d.w, NULL, 0);
    mem_add(&m, "off", d.off, NULL, 0);
    glm_source src = mem_source(&m);
    formula_vs_golden(&src, "Surv(time, dead) ~ age + log(bili) + albumin + edema + offset(off)", "w",
                      "pbc_wt_off", &d);
    free(bili);
    design_free(&d);
}

static void expect_espec(const char *formula, const char *msg)
{
    strata_ctx *ctx = tu_ctx();
    cox_formula *cf = NULL;
    assert_status(ctx, cox_formula_parse(ctx, formula, &cf), STRATA_ESPEC);
    assert_null(cf);
    assert_contains(strata_ctx_errmsg(ctx), msg);
    strata_ctx_free(ctx);
}

static void test_cox_formula__parts_and_errors(void **state)
{
    strata_ctx *ctx = tu_ctx();
    cox_formula *cf = NULL;
    (void)state;
    assert_status(ctx, cox_formula_parse(ctx, " Surv( t_days , died ) ~ rcs(age, 4) + strata(sex) + x:y ", &cf),
                  STRATA_OK);
    assert_string_equal(cf->time, "t_days");
    assert_string_equal(cf->event, "died");
    assert_string_equal(cf->strata, "sex");
    assert_string_equal(cf->glm, "t_days ~  rcs(age, 4)  + x:y ");
    cox_formula_free(ctx, cf);
    strata_ctx_free(ctx);
    expect_espec("died ~ age", "the left side must be Surv(time, event)");
    expect_espec("Surv(t) ~ age", "the left side must be Surv(time, event)");
    expect_espec("Surv(t, e) ~ strata(a) + strata(b) + x", "one strata() term at most");
    expect_espec("Surv(t, e) ~ strata(a)", "no terms besides strata()");
    expect_espec("Surv(t, e)", "expected Surv(time, event) ~ terms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_golden__flchain_efron),
        cmocka_unit_test(test_cox_golden__flchain_breslow),
        cmocka_unit_test(test_cox_golden__flchain_efron_small_blocks),
        cmocka_unit_test(test_cox_golden__colon_strata_factor),
        cmocka_unit_test(test_cox_golden__pbc_weights_offset),
        cmocka_unit_test(test_cox_golden__rotterdam_strata_breslow),
        cmocka_unit_test(test_cox_weibull__recovers_known_coefficients),
        cmocka_unit_test(test_cox_threads__one_and_two_give_identical_bytes),
        cmocka_unit_test(test_cox_blocks__block_size_changes_only_rounding),
        cmocka_unit_test(test_cox_input__bad_values_named),
        cmocka_unit_test(test_cox_warn__monotone_likelihood_names_the_term),
        cmocka_unit_test(test_cox_warn__aliased_column_is_na),
        cmocka_unit_test(test_cox_formula__parts_and_errors),
        cmocka_unit_test(test_cox_formula__factor_and_strata_match_coxph),
        cmocka_unit_test(test_cox_formula__weights_and_offset_match_coxph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
