/* labels: unit golden determinism */
/* tests/test_evaluate.c — evaluation engine against R golden values on real data
 * (data/golden/evaluate, made by make_evaluate.R with pROC and glm), weight
 * semantics, validation protocols with a logistic refit implemented here,
 * thread-count independence of the bootstrap, writers and error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "strata/evaluate.h"
#include "strata/model.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- fixtures ----------------------------------------------------------- */

#define NBY 3
static const char *by_names[NBY] = {"race", "sex", "ageband"};
static const char *level_names[16] = {"0", "1", "2", "3", "4", "5", "6", "7",
                                      "8", "9", "10", "11", "12", "13", "14", "15"};
static const size_t by_levels[NBY] = {5, 2, 10};

typedef struct scored {
    size_t n;
    double *y, *p;
    int32_t *codes[NBY];
    strata_eval_by by[NBY];
} scored;

static void scored_load(const char *tag, scored *s)
{
    char path[512], line[256];
    FILE *f;
    size_t cap = 32768;
    snprintf(path, sizeof path, "data/golden/evaluate/scored_%s.csv", tag);
    f = fopen(tu_src(path), "r");
    assert_non_null(f);
    memset(s, 0, sizeof *s);
    s->y = malloc(cap * sizeof *s->y);
    s->p = malloc(cap * sizeof *s->p);
    for (int b = 0; b < NBY; b++)
        s->codes[b] = malloc(cap * sizeof(int32_t));
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        int c0, c1, c2;
        assert_true(s->n < cap);
        assert_int_equal(sscanf(line, "%lf,%lf,%d,%d,%d", &s->y[s->n], &s->p[s->n], &c0, &c1, &c2),
                         5);
        s->codes[0][s->n] = c0;
        s->codes[1][s->n] = c1;
        s->codes[2][s->n] = c2;
        s->n++;
    }
    fclose(f);
    for (int b = 0; b < NBY; b++)
        s->by[b] = (strata_eval_by){by_names[b], s->codes[b], by_levels[b], level_names};
}

static void scored_free(scored *s)
{
    free(s->y);
    free(s->p);
    for (int b = 0; b < NBY; b++)
        free(s->codes[b]);
}

static const strata_eval_metrics *find_group(const strata_eval_report *r, const char *by,
                                             const char *level)
{
    if (strcmp(by, "overall") == 0)
        return &r->overall;
    for (size_t g = 0; g < r->n_groups; g++)
        if (strcmp(r->groups[g].by, by) == 0 && strcmp(r->groups[g].level, level) == 0)
            return &r->groups[g].m;
    return NULL;
}

/* Value of a golden metric name in m (idx is 1-based for tables). */
static int metric_value(const strata_eval_metrics *m, const char *name, int idx, double *v)
{
    struct {
        const char *name;
        double val;
    } sc[] = {{"n_rows", (double)m->n_rows},
              {"observed", m->observed},
              {"expected", m->expected},
              {"n_events", m->n_events},
              {"c", m->c},
              {"c_se", m->c_se},
              {"c_lo", m->c_lo},
              {"c_hi", m->c_hi},
              {"oe", m->oe},
              {"oe_lo", m->oe_lo},
              {"oe_hi", m->oe_hi},
              {"citl", m->citl},
              {"citl_se", m->citl_se},
              {"cal_a", m->cal_a},
              {"cal_a_se", m->cal_a_se},
              {"slope", m->slope},
              {"slope_se", m->slope_se},
              {"slope_lo", m->slope_lo},
              {"slope_hi", m->slope_hi},
              {"brier", m->brier},
              {"brier_scaled", m->brier_scaled},
              {"deviance", m->deviance},
              {"null_deviance", m->null_deviance},
              {"pseudo_r2", m->pseudo_r2},
              {"hl_chi2", m->hl_chi2},
              {"hl_df", (double)m->hl_df},
              {"hl_p", m->hl_p},
              {"small", (m->flags & STRATA_EVAL_FLAG_SMALL) ? 1.0 : 0.0},
              {"oe_differs", (m->flags & STRATA_EVAL_FLAG_OE_DIFFERS) ? 1.0 : 0.0},
              {"slope_differs", (m->flags & STRATA_EVAL_FLAG_SLOPE_DIFFERS) ? 1.0 : 0.0},
              {"c_differs", (m->flags & STRATA_EVAL_FLAG_C_DIFFERS) ? 1.0 : 0.0}};
    int j = idx - 1;
    if (!m)
        return 0;
    for (size_t k = 0; k < sizeof sc / sizeof sc[0]; k++)
        if (strcmp(name, sc[k].name) == 0) {
            *v = sc[k].val;
            return 1;
        }
    if (strncmp(name, "bin_", 4) == 0) {
        if (j < 0 || j >= m->n_bins)
            return 0;
        *v = strcmp(name, "bin_n") == 0          ? m->bins[j].n
             : strcmp(name, "bin_observed") == 0 ? m->bins[j].observed
                                                 : m->bins[j].expected;
        return 1;
    }
    if (strncmp(name, "top_", 4) == 0) {
        const strata_eval_yield *t;
        if (j < 0 || (size_t)j >= m->n_top)
            return 0;
        t = &m->top[j];
        *v = strcmp(name, "top_n") == 0          ? t->n_flagged
             : strcmp(name, "top_observed") == 0 ? t->observed
             : strcmp(name, "top_sens") == 0     ? t->sensitivity
             : strcmp(name, "top_ppv") == 0      ? t->ppv
             : strcmp(name, "top_nns") == 0      ? t->nns
                                                 : t->p_cut;
        return 1;
    }
    if (strncmp(name, "nb_", 3) == 0) {
        if (j < 0 || (size_t)j >= m->n_nb)
            return 0;
        *v = strcmp(name, "nb_model") == 0 ? m->nb[j].nb_model : m->nb[j].nb_all;
        return 1;
    }
    if (strncmp(name, "curve_", 6) == 0) {
        const strata_eval_curve_pt *c;
        if (j < 0 || (size_t)j >= m->n_curve)
            return 0;
        c = &m->curve[j];
        *v = strcmp(name, "curve_n") == 0      ? c->n
             : strcmp(name, "curve_lp") == 0   ? c->lp_mean
             : strcmp(name, "curve_p") == 0    ? c->p_pred
             : strcmp(name, "curve_obs") == 0  ? c->obs_bin
                                               : c->obs_smooth;
        return 1;
    }
    return 0;
}

/* Compares every golden row; tolerance 1e-8 * max(1, |want|). */
static void check_golden(const char *tag, strata_family fam)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    char path[512], line[512];
    FILE *f;
    size_t rows = 0;
    double worst = 0.0;
    char worst_what[256] = "";
    scored_load(tag, &s);
    strata_eval_params_init(&par);
    par.family = fam;
    in = (strata_eval_input){s.n, s.y, s.p, NULL, NBY, s.by};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    snprintf(path, sizeof path, "data/golden/evaluate/golden_%s.csv", tag);
    f = fopen(tu_src(path), "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        char by[64], level[64], metric[64];
        int idx;
        double want, got = NAN, tol;
        const strata_eval_metrics *m;
        assert_int_equal(sscanf(line, "%63[^,],%63[^,],%63[^,],%d,%lf", by, level, metric, &idx,
                                &want),
                         5);
        m = find_group(r, by, level);
        if (!m) {
            fail_msg("%s: no group %s=%s", tag, by, level);
            return;
        }
        if (!metric_value(m, metric, idx, &got)) {
            fail_msg("%s: %s=%s: metric %s[%d] missing", tag, by, level, metric, idx);
            return;
        }
        tol = 1e-8 * fmax(1.0, fabs(want));
        if (isnan(want)) {
            assert_true(isnan(got));
            continue;
        }
        if (fabs(got - want) / fmax(1.0, fabs(want)) > worst) {
            worst = fabs(got - want) / fmax(1.0, fabs(want));
            snprintf(worst_what, sizeof worst_what, "%s=%s %s[%d]", by, level, metric, idx);
        }
        assert_abs_close(got, want, tol, "%s: %s=%s %s[%d]", tag, by, level, metric, idx);
        rows++;
    }
    fclose(f);
    print_message("%s: %zu golden values, worst scaled difference %.3g at %s\n", tag, rows, worst,
                  worst_what);
    assert_true(rows > 10000);
    strata_eval_report_free(ctx, r);
    scored_free(&s);
    strata_ctx_free(ctx);
}

static void test_evaluate__binomial_matches_r(void **state)
{
    (void)state;
    check_golden("binomial", STRATA_FAMILY_BINOMIAL);
}

static void test_evaluate__binomial_with_ties_matches_r(void **state)
{
    (void)state;
    check_golden("binomial_ties", STRATA_FAMILY_BINOMIAL);
}

static void test_evaluate__poisson_matches_r(void **state)
{
    (void)state;
    check_golden("poisson", STRATA_FAMILY_POISSON);
}

static void test_evaluate__gaussian_matches_r(void **state)
{
    (void)state;
    check_golden("gaussian", STRATA_FAMILY_GAUSSIAN);
}

/* A gamma outcome (positive, cost-like) is evaluated with the gamma deviance
 * and the log link, against R's Gamma(link = "log") glm and dev.resids. */
static void test_evaluate__gamma_matches_r(void **state)
{
    (void)state;
    check_golden("gamma", STRATA_FAMILY_GAMMA);
}

/* Perfect separation: the slope fit cannot converge; it is flagged, not fatal. */
static void test_evaluate__separation_flags_noconv(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double y[200], p[200];
    strata_eval_params par;
    strata_eval_input in = {200, y, p, NULL, 0, NULL};
    strata_eval_report *r = NULL;
    (void)state;
    for (int i = 0; i < 200; i++) {
        p[i] = 0.2 + 0.003 * i;
        y[i] = i >= 150;
    }
    strata_eval_params_init(&par);
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    assert_true(r->overall.flags & STRATA_EVAL_FLAG_NOCONV);
    assert_rel_close(r->overall.c, 1.0, 0.0, "c");
    assert_rel_close(r->overall.observed, 50.0, 0.0, "observed");
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

/* Integer weights mean case multiplicities: same metrics as repeating rows. */
static void test_evaluate__weights_equal_row_repetition(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *rw = NULL, *rx = NULL;
    size_t n = 3000, nx = 0;
    double *w = malloc(n * sizeof *w), *yx = malloc(4 * n * sizeof *yx),
           *px = malloc(4 * n * sizeof *px);
    (void)state;
    scored_load("binomial_ties", &s);
    for (size_t i = 0; i < n; i++) {
        w[i] = (double)(i % 4); /* 0..3 */
        for (int k = 0; k < (int)w[i]; k++) {
            yx[nx] = s.y[i];
            px[nx++] = s.p[i];
        }
    }
    strata_eval_params_init(&par);
    in = (strata_eval_input){n, s.y, s.p, w, 0, NULL};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &rw), STRATA_OK);
    in = (strata_eval_input){nx, yx, px, NULL, 0, NULL};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &rx), STRATA_OK);
    assert_rel_close(rw->overall.n, (double)nx, 1e-15, "n");
    assert_rel_close(rw->overall.c, rx->overall.c, 1e-12, "c");
    assert_rel_close(rw->overall.c_se, rx->overall.c_se, 1e-10, "c_se");
    assert_rel_close(rw->overall.slope, rx->overall.slope, 1e-9, "slope");
    assert_rel_close(rw->overall.citl, rx->overall.citl, 1e-9, "citl");
    assert_rel_close(rw->overall.brier, rx->overall.brier, 1e-12, "brier");
    for (size_t j = 0; j < rw->overall.n_nb; j++)
        assert_abs_close(rw->overall.nb[j].nb_model, rx->overall.nb[j].nb_model, 1e-12, "nb %zu",
                         j);
    for (size_t j = 0; j < rw->overall.n_top; j++)
        assert_rel_close(rw->overall.top[j].observed, rx->overall.top[j].observed, 1e-12,
                         "top %zu", j);
    strata_eval_report_free(ctx, rw);
    strata_eval_report_free(ctx, rx);
    free(w);
    free(yx);
    free(px);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* ---- a logistic regression refit implemented here ------------------------ */

#define NX 4 /* intercept, logit(p) of the R model, sex, ageband */

typedef struct lr_data {
    size_t n;
    const double *y;
    double *x; /* n * NX, row major */
} lr_data;

/* Weighted logistic regression by Newton (Gauss–Jordan on NX x NX). */
static strata_status lr_refit(strata_ctx *ctx, void *ud, const double *tw, size_t n, double *lp)
{
    const lr_data *d = ud;
    double beta[NX] = {0};
    (void)ctx;
    for (int it = 0; it < 30; it++) {
        double h[NX][NX + 1] = {{0}}, step = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double *xi = d->x + i * NX;
            double eta = 0.0, mu, v;
            if (tw[i] <= 0.0)
                continue;
            for (int j = 0; j < NX; j++)
                eta += xi[j] * beta[j];
            mu = 1.0 / (1.0 + exp(-eta));
            v = tw[i] * mu * (1.0 - mu);
            for (int j = 0; j < NX; j++) {
                h[j][NX] += tw[i] * (d->y[i] - mu) * xi[j];
                for (int k = 0; k < NX; k++)
                    h[j][k] += v * xi[j] * xi[k];
            }
        }
        for (int j = 0; j < NX; j++) {
            double piv = h[j][j];
            if (!(fabs(piv) > 0.0))
                return STRATA_FAIL(ctx, STRATA_ESINGULAR, "lr_refit: singular");
            for (int k = 0; k <= NX; k++)
                h[j][k] /= piv;
            for (int r = 0; r < NX; r++)
                if (r != j) {
                    double fct = h[r][j];
                    for (int k = 0; k <= NX; k++)
                        h[r][k] -= fct * h[j][k];
                }
        }
        for (int j = 0; j < NX; j++) {
            beta[j] += h[j][NX];
            step = fmax(step, fabs(h[j][NX]));
        }
        if (step < 1e-13)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        lp[i] = 0.0;
        for (int j = 0; j < NX; j++)
            lp[i] += d->x[i * NX + j] * beta[j];
    }
    return STRATA_OK;
}

static void lr_setup(const scored *s, size_t n, lr_data *d)
{
    d->n = n;
    d->y = s->y;
    d->x = malloc(n * NX * sizeof *d->x);
    for (size_t i = 0; i < n; i++) {
        d->x[i * NX + 0] = 1.0;
        d->x[i * NX + 1] = log(s->p[i] / (1.0 - s->p[i]));
        d->x[i * NX + 2] = s->codes[1][i];
        d->x[i * NX + 3] = s->codes[2][i];
    }
}

static void boot_run(int threads, const scored *s, lr_data *d, size_t n,
                     strata_bootstrap_result *res)
{
    strata_ctx *ctx = tu_ctx();
    strata_validate_params vp;
    strata_ctx_set_threads(ctx, threads);
    strata_validate_params_init(&vp);
    vp.B = 16;
    vp.seed = 42;
    assert_status(ctx,
                  strata_validate_bootstrap(ctx, STRATA_FAMILY_BINOMIAL, n, s->y, NULL, lr_refit,
                                            d, &vp, res),
                  STRATA_OK);
    strata_ctx_free(ctx);
}

static void test_bootstrap__same_numbers_with_1_and_2_threads(void **state)
{
    scored s;
    lr_data d;
    size_t n = 8000;
    strata_bootstrap_result r1, r2;
    (void)state;
    scored_load("binomial", &s);
    lr_setup(&s, n, &d);
    boot_run(1, &s, &d, n, &r1);
    boot_run(2, &s, &d, n, &r2);
    assert_memory_equal(r1.boot, r2.boot, 16 * sizeof *r1.boot);
    assert_memory_equal(r1.orig, r2.orig, 16 * sizeof *r1.orig);
    assert_memory_equal(&r1.corrected, &r2.corrected, sizeof r1.corrected);
    {
        strata_ctx *ctx = tu_ctx();
        strata_bootstrap_result_free(ctx, &r1);
        strata_bootstrap_result_free(ctx, &r2);
        strata_ctx_free(ctx);
    }
    free(d.x);
    scored_free(&s);
}

/* Apparent slope 1 / intercept 0 (score equations of the MLE), likewise slope
 * 1 on every resample; resample b's numbers equal a refit on
 * strata_eval_resample_weights(seed, b); optimism = mean(boot - orig). */
static void test_bootstrap__harrell_definitions_hold(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    lr_data d;
    size_t n = 8000;
    strata_bootstrap_result r;
    strata_eval_core boot3, orig3;
    double *tw = malloc(n * sizeof *tw), *lp = malloc(n * sizeof *lp), mean_c = 0.0;
    (void)state;
    scored_load("binomial", &s);
    lr_setup(&s, n, &d);
    boot_run(2, &s, &d, n, &r);
    assert_abs_close(r.apparent.slope, 1.0, 1e-8, "apparent slope");
    assert_abs_close(r.apparent.intercept, 0.0, 1e-8, "apparent intercept");
    assert_abs_close(r.apparent.citl, 0.0, 1e-8, "apparent citl");
    strata_eval_resample_weights(42, 3, n, NULL, tw);
    assert_status(ctx, lr_refit(ctx, &d, tw, n, lp), STRATA_OK);
    assert_status(ctx, strata_eval_core_measures(ctx, STRATA_FAMILY_BINOMIAL, n, s.y, lp, tw, &boot3),
                  STRATA_OK);
    assert_status(ctx,
                  strata_eval_core_measures(ctx, STRATA_FAMILY_BINOMIAL, n, s.y, lp, NULL, &orig3),
                  STRATA_OK);
    assert_rel_close(r.boot[3].c, boot3.c, 1e-14, "boot c");
    assert_rel_close(r.orig[3].slope, orig3.slope, 1e-14, "orig slope");
    assert_rel_close(r.orig[3].brier, orig3.brier, 1e-14, "orig brier");
    for (int b = 0; b < r.B; b++)
        mean_c += (r.boot[b].c - r.orig[b].c) / r.B;
    assert_rel_close(r.optimism.c, mean_c, 1e-12, "optimism c");
    assert_rel_close(r.corrected.c, r.apparent.c - r.optimism.c, 1e-15, "corrected c");
    assert_true(r.optimism.c > 0.0);
    for (int b = 0; b < r.B; b++) /* each refit is the MLE on its own resample */
        assert_abs_close(r.boot[b].slope, 1.0, 1e-8, "boot slope %d", b);
    {
        double tot = 0.0;
        for (size_t i = 0; i < n; i++)
            tot += tw[i];
        assert_rel_close(tot, (double)n, 0.0, "resample size");
    }
    strata_bootstrap_result_free(ctx, &r);
    free(tw);
    free(lp);
    free(d.x);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* Fails on any resample that draws row 1 three times or more. */
static strata_status picky_refit(strata_ctx *ctx, void *ud, const double *tw, size_t n, double *lp)
{
    if (tw[0] >= 3.0)
        return STRATA_FAIL(ctx, STRATA_ESINGULAR, "picky: row 1 drawn %g times", tw[0]);
    return lr_refit(ctx, ud, tw, n, lp);
}

/* A failing refit stops the bootstrap with its status and message, naming the
 * first failing resample in resample order, whatever the thread count. */
static void test_bootstrap__failing_refit_names_resample(void **state)
{
    scored s;
    lr_data d;
    size_t n = 50;
    strata_validate_params vp;
    strata_bootstrap_result res;
    char msg1[512];
    (void)state;
    scored_load("binomial", &s);
    lr_setup(&s, n, &d);
    strata_validate_params_init(&vp);
    vp.B = 200;
    for (int threads = 1; threads <= 2; threads++) {
        strata_ctx *ctx = tu_ctx();
        strata_ctx_set_threads(ctx, threads);
        assert_status(ctx,
                      strata_validate_bootstrap(ctx, STRATA_FAMILY_BINOMIAL, n, s.y, NULL,
                                                picky_refit, &d, &vp, &res),
                      STRATA_ESINGULAR);
        assert_contains(strata_ctx_errmsg(ctx), "validate: bootstrap resample ");
        assert_contains(strata_ctx_errmsg(ctx), ": picky: row 1 drawn");
        assert_null(res.boot);
        if (threads == 1)
            snprintf(msg1, sizeof msg1, "%s", strata_ctx_errmsg(ctx));
        else
            assert_string_equal(strata_ctx_errmsg(ctx), msg1);
        strata_ctx_free(ctx);
    }
    free(d.x);
    scored_free(&s);
}

static void test_kfold_and_split__held_out_rows_come_from_other_folds(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    lr_data d;
    size_t n = 5003, cnt[5] = {0}, ntest = 0;
    strata_validate_params vp;
    int32_t *fold = malloc(n * sizeof *fold);
    double *lpcv = malloc(n * sizeof *lpcv), *tw = malloc(n * sizeof *tw),
           *lp = malloc(n * sizeof *lp);
    uint8_t *is_test = malloc(n);
    (void)state;
    scored_load("binomial", &s);
    lr_setup(&s, n, &d);
    strata_validate_params_init(&vp);
    vp.k = 5;
    assert_status(ctx, strata_validate_kfold(ctx, n, NULL, lr_refit, &d, &vp, fold, lpcv),
                  STRATA_OK);
    for (size_t i = 0; i < n; i++)
        cnt[fold[i]]++;
    for (int f = 0; f < 5; f++)
        assert_true(cnt[f] == n / 5 || cnt[f] == n / 5 + 1);
    for (size_t i = 0; i < n; i++)
        tw[i] = fold[i] == 2 ? 0.0 : 1.0;
    assert_status(ctx, lr_refit(ctx, &d, tw, n, lp), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        if (fold[i] == 2)
            assert_rel_close(lpcv[i], lp[i], 0.0, "fold 3 row %zu", i + 1);
    assert_status(ctx, strata_validate_split(ctx, n, NULL, lr_refit, &d, &vp, is_test, lp),
                  STRATA_OK);
    for (size_t i = 0; i < n; i++)
        ntest += is_test[i];
    assert_abs_close((double)ntest / (double)n, 0.3, 0.03, "test share");
    free(fold);
    free(lpcv);
    free(tw);
    free(lp);
    free(is_test);
    free(d.x);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* ---- writers and errors -------------------------------------------------- */

static void test_write__csv_and_json_carry_values_and_hashes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    strata_eval_provenance prov = {"sha256:abc", "sha256:def", "glm-readmit", "cohort.h5"};
    const char *dir = tu_tmp("eval_out");
    char path[512], want[160], *txt;
    json_t *j;
    json_error_t err;
    struct stat sb;
    (void)state;
    scored_load("binomial", &s);
    strata_eval_params_init(&par);
    in = (strata_eval_input){s.n, s.y, s.p, NULL, NBY, s.by};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    assert_status(ctx, strata_eval_write(ctx, r, NULL, &prov, dir), STRATA_OK);
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    txt = tu_read_file(path, NULL);
    assert_non_null(txt);
    assert_contains(txt, "by,level,n_rows,n,observed,expected,n_events,c,");
    /* disclosure control (default): counts and expected events (E = O here:
     * the model's own data) rounded to 5, exempt C unrounded */
    snprintf(want, sizeof want, "overall,all,20000,20000,2295,%.0f,2295,%.10f",
             floor(r->overall.expected / 5 + 0.5) * 5, r->overall.c);
    assert_contains(txt, want);
    assert_contains(txt, "\r\nrace,NA,");
    free(txt);
    /* disclosure off: the raw counts */
    r->params.disclosure = 0;
    assert_status(ctx, strata_eval_write(ctx, r, NULL, &prov, dir), STRATA_OK);
    txt = tu_read_file(path, NULL);
    assert_non_null(txt);
    snprintf(want, sizeof want, "overall,all,20000,20000,2293,%.10f,2293,%.10f",
             r->overall.expected, r->overall.c);
    assert_contains(txt, want);
    free(txt);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    snprintf(path, sizeof path, "%s/evaluate.json", dir);
    j = json_load_file(path, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model_hash")), "sha256:abc");
    assert_string_equal(json_string_value(json_object_get(j, "cohort_hash")), "sha256:def");
    assert_abs_close(json_real_value(json_object_get(json_object_get(j, "overall"), "c")),
                     r->overall.c, 5e-11, "c as published (10 decimals)");
    assert_int_equal(json_array_size(json_object_get(j, "groups")), r->n_groups);
    json_decref(j);
    strata_eval_report_free(ctx, r);
    scored_free(&s);
    strata_ctx_free(ctx);
}

static void test_evaluate__bad_outcome_names_row(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double y[6] = {0, 1, 0, 1, 2, 0}, p[6] = {.1, .2, .3, .4, .5, .6};
    int32_t codes[6] = {0, 0, 1, 1, 7, 0};
    const char *lv[2] = {"F", "M"};
    strata_eval_by by = {"sex", codes, 2, lv};
    strata_eval_params par;
    strata_eval_input in = {6, y, p, NULL, 0, NULL};
    strata_eval_report *r = NULL;
    (void)state;
    strata_eval_params_init(&par);
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "row 5");
    assert_null(r);
    y[4] = 1;
    p[2] = 1.0;
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "row 3");
    p[2] = 0.3;
    in.n_by = 1;
    in.by = &by;
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "sex");
    assert_contains(strata_ctx_errmsg(ctx), "row 5");
    par.n_bins = 0;
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "n_bins");
    strata_ctx_free(ctx);
}

static void test_evaluate__allocation_failures_are_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double y[40], p[40];
    int32_t codes[40];
    const char *lv[2] = {"F", "M"};
    strata_eval_by by = {"sex", codes, 2, lv};
    strata_eval_params par;
    strata_eval_input in = {40, y, p, NULL, 1, &by};
    strata_eval_report *r = NULL;
    long k;
    (void)state;
    for (int i = 0; i < 40; i++) {
        y[i] = i % 3 == 0;
        p[i] = 0.05 + 0.02 * i;
        codes[i] = i % 2;
    }
    strata_eval_params_init(&par);
    tu_fault_install(ctx);
    for (k = 1;; k++) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_evaluate(ctx, &in, &par, &r);
        if (st == STRATA_OK)
            break;
        assert_int_equal(st, STRATA_ENOMEM);
        assert_null(r);
    }
    tu_fault_arm(-1);
    assert_true(k > 5);
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

/* ---- from a cohort file ------------------------------------------------- */

static const char *race_names[5] = {"AfricanAmerican", "Asian", "Caucasian", "Hispanic", "Other"};
static const char *sex_names[2] = {"F", "M"};

static void write_cohort(strata_ctx *ctx, const scored *s, const char *path)
{
    strata_cohort_writer *w = NULL;
    strata_column_spec sp;
    size_t n = s->n, jid, jrace, jsex, jage, jimd, jcost, jy;
    int64_t *id = malloc(n * sizeof *id);
    int8_t *race = malloc(n), *sex = malloc(n), *age = malloc(n), *imd = malloc(n), *y = malloc(n);
    float *cost = malloc(n * sizeof *cost);
    for (size_t i = 0; i < n; i++) {
        id[i] = (int64_t)i + 1;
        race[i] = (int8_t)s->codes[0][i];
        sex[i] = (int8_t)s->codes[1][i];
        age[i] = (int8_t)(s->codes[2][i] * 10 + 5);
        imd[i] = (int8_t)(i % 10 + 1);
        y[i] = (int8_t)s->y[i];
        cost[i] = (float)i;
    }
    y[6] = INT8_MIN; /* one missing outcome: left out with a warning */
    assert_status(ctx, strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
#define ADD(grp, nm, dt, cat, lev, nlev, rl, jj)                                     \
    do {                                                                              \
        memset(&sp, 0, sizeof sp);                                                    \
        sp.group = grp;                                                               \
        sp.name = nm;                                                                 \
        sp.dtype = dt;                                                                \
        sp.categorical = cat;                                                         \
        sp.levels = lev;                                                              \
        sp.n_levels = nlev;                                                           \
        sp.role = rl;                                                                 \
        assert_status(ctx, strata_cohort_writer_add(w, &sp, &jj), STRATA_OK);          \
    } while (0)
    ADD("patients", "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, jid);
    ADD("patients", "ethnicity", STRATA_DT_INT8, 1, race_names, 5, STRATA_ROLE_ETHNICITY, jrace);
    ADD("patients", "sex", STRATA_DT_INT8, 1, sex_names, 2, STRATA_ROLE_SEX, jsex);
    ADD("patients", "age", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_AGE, jage);
    ADD("patients", "imd_decile", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_IMD_DECILE, jimd);
    ADD("patients", "cost_12m", STRATA_DT_FLOAT32, 0, NULL, 0, STRATA_ROLE_NONE, jcost);
    ADD("outcomes", "emergency_admission_12m", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_NONE, jy);
#undef ADD
    assert_status(ctx, strata_cohort_writer_append(w, jid, id, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jrace, race, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jsex, sex, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jage, age, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jimd, imd, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jcost, cost, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, jy, y, n), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_finish(w), STRATA_OK);
    free(id);
    free(race);
    free(sex);
    free(age);
    free(imd);
    free(y);
    free(cost);
}

static double group_c(const strata_eval_report *r, const char *by, const char *level)
{
    const strata_eval_metrics *m = find_group(r, by, level);
    return m ? m->c : -1.0;
}

static double json_group_c(json_t *root, const char *by, const char *level)
{
    json_t *g = json_object_get(root, "groups"), *e;
    size_t i;
    json_array_foreach(g, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "by")), by) == 0 &&
            strcmp(json_string_value(json_object_get(e, "level")), level) == 0)
            return json_real_value(json_object_get(e, "c"));
    }
    return NAN;
}

/* The cohort path gives the same numbers as the arrays (row 7 left out), with
 * level names from the cohort, integer and derived by-columns. */
static void test_evaluate_scored__cohort_columns_match_arrays(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_cohort *c = NULL;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    const char *path = tu_tmp("scored.h5"), *dir = tu_tmp("scored_out");
    const char *by[4] = {"ethnicity", "sex", "age_band", "imd_decile"};
    const char *bad[1] = {"cost_12m"}, *missing[1] = {"deprivation"};
    double *w;
    char jpath[512];
    json_t *j;
    json_error_t err;
    (void)state;
    scored_load("binomial", &s);
    write_cohort(ctx, &s, path);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_eval_params_init(&par);
    assert_status(ctx,
                  strata_evaluate_scored(ctx, c, "emergency_admission_12m", s.p, by, 4, &par,
                                         NULL, NULL, dir),
                  STRATA_OK);
    assert_contains(tu_last_warning(), "1 of 20000 rows");
    w = malloc(s.n * sizeof *w);
    for (size_t i = 0; i < s.n; i++)
        w[i] = i == 6 ? 0.0 : 1.0;
    in = (strata_eval_input){s.n, s.y, s.p, w, NBY, s.by};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    snprintf(jpath, sizeof jpath, "%s/evaluate.json", dir);
    j = json_load_file(jpath, 0, &err);
    assert_non_null(j);
    assert_abs_close(json_real_value(json_object_get(json_object_get(j, "overall"), "c")),
                     r->overall.c, 5e-11, "c as published (10 decimals)");
    assert_abs_close(json_group_c(j, "ethnicity", "Caucasian"), group_c(r, "race", "2"), 5e-11,
                     "group c as published");
    /* ages are ageband * 10 + 5: the derived band 75-84 holds exactly ageband 7 */
    assert_abs_close(json_group_c(j, "age_band", "75-84"), group_c(r, "ageband", "7"), 5e-11,
                     "group c as published");
    assert_true(isnan(json_group_c(j, "age_band", "30-39"))); /* one rule: no ten-year bands */
    assert_true(isfinite(json_group_c(j, "imd_decile", "10")));
    assert_true(isnan(json_group_c(j, "imd_decile", "11")));
    json_decref(j);
    assert_status(ctx,
                  strata_evaluate_scored(ctx, c, "emergency_admission_12m", s.p, bad, 1, &par,
                                         NULL, NULL, dir),
                  STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "cost_12m is float32");
    assert_status(ctx,
                  strata_evaluate_scored(ctx, c, "emergency_admission_12m", s.p, missing, 1, &par,
                                         NULL, NULL, dir),
                  STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "deprivation");
    strata_cohort_close(c);
    strata_eval_report_free(ctx, r);
    free(w);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* Every allocation of the cohort path and of a sequential bootstrap fails in
 * turn: each ends in ENOMEM (or the reader's clean error), never a leak or crash. */
static void test_evaluate_scored__allocation_failures_are_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_cohort *c = NULL;
    strata_eval_params par;
    strata_validate_params vp;
    strata_bootstrap_result res;
    lr_data d;
    const char *path = tu_tmp("fault.h5"), *dir = tu_tmp("fault_out");
    const char *by[3] = {"ethnicity", "age_band", "imd_decile"};
    long k, ok_at = 0, total, stride, first;
    (void)state;
    scored_load("binomial", &s);
    s.n = 600;
    write_cohort(ctx, &s, path);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_eval_params_init(&par);
    tu_fault_install(ctx);
    /* A clean run counts the allocations; then allocation k fails, for k
     * from STRATA_ALLOC_OFFSET (default 1) to the count in steps of
     * STRATA_ALLOC_STRIDE (default: ~400 runs; each failing run redoes the
     * work up to its k, so the full sweep costs ~count^2/2 allocations' worth
     * of evaluation: minutes under ASan). STRATA_ALLOC_STRIDE=1 sweeps every
     * k (docs/reliability.md#allocation-sweep). */
    for (int warm = 0; warm < 2; warm++) { /* the first run also fills the cohort's caches */
        tu_fault_arm(-1);
        assert_status(ctx,
                      strata_evaluate_scored(ctx, c, "emergency_admission_12m", s.p, by, 3, &par,
                                             NULL, NULL, dir),
                      STRATA_OK);
    }
    total = tu_fault_count();
    tu_sweep_plan(total, 400, &first, &stride);
    print_message("evaluation sweep: %ld allocations, every %ld-th failed from %ld\n", total,
                  stride, first);
    assert_true(total > 10);
    for (k = first; k <= total; k += stride) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_evaluate_scored(ctx, c, "emergency_admission_12m", s.p, by, 3, &par, NULL,
                                    NULL, dir);
        tu_fault_arm(-1);
        if (st != STRATA_ENOMEM)
            fail_msg("evaluation, allocation %ld of %ld failed: status %s: %s", k, total,
                     strata_status_str(st), strata_ctx_errmsg(ctx));
    }
    lr_setup(&s, s.n, &d);
    strata_validate_params_init(&vp);
    vp.B = 3;
    vp.parallel = 0;
    for (k = 1, ok_at = 0; k < 100000 && !ok_at; k++) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_validate_bootstrap(ctx, STRATA_FAMILY_BINOMIAL, s.n, s.y, NULL, lr_refit, &d,
                                       &vp, &res);
        if (st == STRATA_OK)
            ok_at = k;
        else {
            assert_int_equal(st, STRATA_ENOMEM);
            assert_null(res.boot);
        }
    }
    tu_fault_arm(-1);
    assert_true(ok_at > 5);
    strata_bootstrap_result_free(ctx, &res);
    free(d.x);
    strata_cohort_close(c);
    s.n = 20000;
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* `strata evaluate MODEL COHORT --by ... --out DIR` equals the library on the
 * model's own scores and carries both SHA-256 hashes. */
/* The scored fixture `tag` written as a cohort at cpath and opened, with a GLM
 * of family fam fitted on it and saved at mpath (the model is returned). */
static strata_model *fit_fixture(strata_ctx *ctx, const char *tag, strata_family fam,
                                 const char *formula, const char *cpath, const char *mpath,
                                 scored *s, strata_cohort **c)
{
    strata_glm_params gp;
    strata_model *m = NULL;
    scored_load(tag, s);
    write_cohort(ctx, s, cpath);
    assert_status(ctx, strata_cohort_open(ctx, cpath, c), STRATA_OK);
    strata_glm_params_init(&gp);
    gp.family = fam;
    gp.formula = formula;
    assert_status(ctx, strata_glm_fit(ctx, *c, &gp, &m), STRATA_OK);
    assert_status(ctx, strata_model_save(ctx, m, mpath), STRATA_OK);
    return m;
}

static void test_cli_evaluate__model_and_cohort_end_to_end(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_cohort *c = NULL;
    strata_model *m;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    const char *cpath = tu_tmp("cli_cohort.h5"), *mpath = tu_tmp("cli_model.h5"),
               *dir = tu_tmp("cli_out");
    char jpath[512], mhash[65], *out = NULL;
    double *p, *w;
    json_t *j;
    json_error_t err;
    int rc;
    (void)state;
    m = fit_fixture(ctx, "binomial", STRATA_FAMILY_BINOMIAL,
                    "emergency_admission_12m ~ age + sex + ethnicity", cpath, mpath, &s, &c);
    rc = tu_run_cli(&out, "evaluate '%s' '%s' --by ethnicity,sex,age_band --out '%s' --threads 2",
                    mpath, cpath, dir);
    if (rc != 0)
        fail_msg("strata evaluate exited %d: %s", rc, out);
    assert_contains(out, "evaluated 20000 rows (binomial, outcome emergency_admission_12m");
    free(out);
    p = malloc(s.n * sizeof *p);
    w = malloc(s.n * sizeof *w);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, NULL, p), STRATA_OK);
    for (size_t i = 0; i < s.n; i++)
        w[i] = i == 6 || isnan(p[i]) ? 0.0 : 1.0;
    for (size_t i = 0; i < s.n; i++)
        if (w[i] == 0.0)
            p[i] = 0.5; /* ignored: weight 0 */
    strata_eval_params_init(&par);
    in = (strata_eval_input){s.n, s.y, p, w, 0, NULL};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    snprintf(jpath, sizeof jpath, "%s/evaluate.json", dir);
    j = json_load_file(jpath, 0, &err);
    assert_non_null(j);
    assert_status(ctx, strata_file_sha256(ctx, mpath, mhash), STRATA_OK);
    assert_string_equal(json_string_value(json_object_get(j, "model_hash")), mhash);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "cohort_hash"))), 64);
    assert_abs_close(json_real_value(json_object_get(json_object_get(j, "overall"), "c")),
                     r->overall.c, 5e-11, "c as published (10 decimals)");
    assert_abs_close(json_real_value(json_object_get(json_object_get(j, "overall"), "slope")),
                     r->overall.slope, 5e-11, "slope as published (10 decimals)");
    assert_true(isfinite(json_group_c(j, "age_band", "65-74")));
    json_decref(j);
    /* bootstrap through the GLM refit: same bytes with 1 and 2 threads */
    {
        char d1[512], d2[512], f1[600], f2[600], *txt;
        snprintf(d1, sizeof d1, "%s_b1", dir);
        snprintf(d2, sizeof d2, "%s_b2", dir);
        rc = tu_run_cli(&out, "evaluate '%s' '%s' --bootstrap 4 --seed 9 --out '%s' --threads 1",
                        mpath, cpath, d1);
        assert_int_equal(rc, 0);
        assert_contains(out, "bootstrap B=4 seed=9");
        free(out);
        rc = tu_run_cli(&out, "evaluate '%s' '%s' --bootstrap 4 --seed 9 --out '%s' --threads 2",
                        mpath, cpath, d2);
        assert_int_equal(rc, 0);
        free(out);
        snprintf(f1, sizeof f1, "%s/bootstrap.csv", d1);
        snprintf(f2, sizeof f2, "%s/bootstrap.csv", d2);
        assert_true(tu_files_equal(f1, f2));
        txt = tu_read_file(f1, NULL);
        assert_non_null(txt);
        assert_contains(txt, "measure,apparent,optimism,corrected,B\r\nc,");
        assert_contains(txt, ",4\r\nslope,1.0000000"); /* apparent slope of the MLE */
        free(txt);
        snprintf(f1, sizeof f1, "%s/evaluate.json", d1);
        txt = tu_read_file(f1, NULL);
        assert_non_null(txt);
        assert_contains(txt, "\"seed\": 9");
        free(txt);
    }
    /* --no-disclosure writes the raw overall event count; the default rounds it */
    {
        char d3[512], f3[600], *txt;
        snprintf(d3, sizeof d3, "%s_raw", dir);
        rc = tu_run_cli(&out, "evaluate '%s' '%s' --by sex --no-disclosure --out '%s'", mpath,
                        cpath, d3);
        assert_int_equal(rc, 0);
        free(out);
        snprintf(f3, sizeof f3, "%s/summary.csv", d3);
        txt = tu_read_file(f3, NULL);
        assert_non_null(txt);
        snprintf(f3, sizeof f3, "\r\noverall,all,%zu,%.0f,%.0f,", r->overall.n_rows, r->overall.n,
                 r->overall.observed);
        assert_contains(txt, f3);
        free(txt);
        snprintf(f3, sizeof f3, "%s/summary.csv", dir);
        txt = tu_read_file(f3, NULL);
        assert_non_null(txt);
        snprintf(f3, sizeof f3, "\r\noverall,all,%.0f,%.0f,%.0f,",
                 floor((double)r->overall.n_rows / 5 + 0.5) * 5, floor(r->overall.n / 5 + 0.5) * 5,
                 floor(r->overall.observed / 5 + 0.5) * 5);
        assert_contains(txt, f3);
        free(txt);
    }
    rc = tu_run_cli(&out, "evaluate '%s' '%s' --by nosuchcol --out '%s'", mpath, cpath, dir);
    assert_int_equal(rc, STRATA_ESPEC);
    assert_contains(out, "nosuchcol");
    free(out);
    strata_eval_report_free(ctx, r);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    free(p);
    free(w);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* `strata evaluate --mem-limit`: under 600 kB the sorted rows go through a
 * scratch file (and big levels through it too), the outcome and by-columns
 * (categorical, integer coded by value, derived) are read in blocks and
 * placed in ranges, yet every output file is the unlimited run's bytes, on 1
 * and 2 threads; below the sort's floor, exit 3 naming the sizes. */
static void test_cli_evaluate__mem_limit_gives_the_same_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s;
    strata_cohort *c = NULL;
    strata_model *m;
    const char *cpath = tu_tmp("mem_cohort.h5"), *mpath = tu_tmp("mem_model.h5");
    static const char *limit[3] = {"", "--mem-limit 600K", "--mem-limit 600K"};
    char dir[3][512], *out = NULL;
    int rc;
    (void)state;
    m = fit_fixture(ctx, "binomial", STRATA_FAMILY_BINOMIAL,
                    "emergency_admission_12m ~ age + sex + ethnicity", cpath, mpath, &s, &c);
    for (int k = 0; k < 3; k++) {
        snprintf(dir[k], sizeof dir[k], "%s%d", tu_tmp("mem_out"), k);
        rc = tu_run_cli(&out, "evaluate '%s' '%s' --by ethnicity,sex,age_band,imd_decile,imd_quintile --out '%s' --threads %d %s",
                        mpath, cpath, dir[k], k == 2 ? 2 : 1, limit[k]);
        if (rc != 0)
            fail_msg("strata evaluate %s exited %d: %s", limit[k], rc, out);
        free(out);
        out = NULL;
        if (k > 0 && tu_run_sh(&out, "diff -r '%s' '%s'", dir[0], dir[k]) != 0)
            fail_msg("%s: outputs differ from the unlimited run's: %s", limit[k], out);
        free(out);
        out = NULL;
    }
    rc = tu_run_cli(&out, "evaluate '%s' '%s' --out '%s' --mem-limit 100K", mpath, cpath, dir[0]);
    assert_int_equal(rc, STRATA_ENOMEM);
    assert_contains(out, "sorting 19677 rows through a scratch file needs at least");
    free(out);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* The allocation hook's count, and the largest block asked for. */
typedef struct big_count {
    tu_alloc_count c;
    size_t largest, n, columns; /* the largest block; blocks of n or n + 1 doubles */
} big_count;

static void *big_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    big_count *b = ud;
    b->largest = new_size > b->largest ? new_size : b->largest;
    b->columns += new_size >= b->n * sizeof(double) && new_size <= (b->n + 1) * sizeof(double);
    return tu_count_alloc(&b->c, ptr, old_size, new_size);
}

/* A scorer under a 200 kB budget scores ranges of any size and start, in
 * order or not, with strata_score's bits; strata_evaluate_scorer under 400 kB
 * (what `strata evaluate --mem-limit` calls) writes the files of
 * strata_evaluate_scored on the whole predictions, in blocks that do not grow
 * with n. */
static void test_scorer__ranges_and_evaluation_without_a_column(void **state)
{
    strata_ctx *ctx = tu_ctx(), *bctx = tu_ctx();
    scored s;
    strata_cohort *c = NULL;
    strata_model *m;
    strata_scorer *sc = NULL;
    strata_eval_params par;
    big_count bc = {{0, 0}, 0, 0, 0};
    static const size_t len[] = {1, 4999, 8192, 12345, 3, 8191, 70000};
    const char *by[2] = {"sex", "age_band"};
    char *out = NULL;
    double *lp, *resp, *glp, *gresp;
    size_t n, r0 = 0;
    (void)state;
    m = fit_fixture(ctx, "binomial", STRATA_FAMILY_BINOMIAL, "emergency_admission_12m ~ age + sex + ethnicity",
                    tu_tmp("scorer_cohort.h5"), tu_tmp("scorer_model.h5"), &s, &c);
    n = bc.n = strata_cohort_nrows(c);
    lp = malloc(n * sizeof *lp), resp = malloc(n * sizeof *resp);
    glp = calloc(n, sizeof *glp), gresp = calloc(n, sizeof *gresp);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp, resp), STRATA_OK);
    strata_ctx_set_memory_budget(bctx, 200000);
    assert_status(bctx, strata_scorer_open(bctx, m, c, STRATA_UNSEEN_ERROR, &sc), STRATA_OK);
    for (size_t k = 0; r0 < n; k++) { /* forwards, in uneven ranges */
        size_t b = n - r0 < len[k % 7] ? n - r0 : len[k % 7];
        assert_status(bctx, strata_scorer_rows(bctx, sc, r0, b, glp + r0, gresp + r0), STRATA_OK);
        r0 += b;
    }
    assert_memory_equal(glp, lp, n * sizeof *lp);
    assert_memory_equal(gresp, resp, n * sizeof *resp);
    memset(gresp, 0, n * sizeof *gresp); /* backwards, responses only */
    for (size_t r1 = n; r1 > 0;) {
        size_t b = r1 < 9000 ? r1 : 9000;
        assert_status(bctx, strata_scorer_rows(bctx, sc, r1 - b, b, NULL, gresp + r1 - b), STRATA_OK);
        r1 -= b;
    }
    assert_memory_equal(gresp, resp, n * sizeof *resp);
    assert_status(bctx, strata_scorer_rows(bctx, sc, n - 1, 2, NULL, gresp), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(bctx), "outside the cohort");
    strata_scorer_free(bctx, sc);
    sc = NULL;
    strata_ctx_free(bctx);

    strata_eval_params_init(&par);
    assert_status(ctx, strata_evaluate_scored(ctx, c, "emergency_admission_12m", resp, by, 2, &par, NULL, NULL,
                                              tu_tmp("scorer_whole")), STRATA_OK);
    bctx = tu_ctx();
    strata_ctx_set_memory_budget(bctx, 400000);
    strata_ctx_set_alloc(bctx, big_alloc, &bc);
    assert_status(bctx, strata_scorer_open(bctx, m, c, STRATA_UNSEEN_ERROR, &sc), STRATA_OK);
    assert_status(bctx, strata_evaluate_scorer(bctx, c, "emergency_admission_12m", sc, by, 2, &par, NULL,
                                               tu_tmp("scorer_blocks")), STRATA_OK);
    strata_scorer_free(bctx, sc);
    strata_ctx_free(bctx);
    if (tu_run_sh(&out, "diff -r '%s' '%s'", tu_tmp("scorer_whole"), tu_tmp("scorer_blocks")) != 0)
        fail_msg("scored as read: outputs differ from the whole predictions': %s", out);
    free(out);
    /* what is allocated does not grow with n: reading blocks of at most 65,536
     * rows (here n = 20,000 rows: the two blocks of n doubles are a reading
     * block of the weights and one of the predictions, both capped at 65,536
     * rows; the scored chunk is 8,192 rows under this budget), and the largest block a
     * thread's design block of 8,192 rows (12 doubles a row: 786,432 bytes) */
    assert_true(bc.columns <= 2);
    if (!(bc.largest <= 8192 * 12 * sizeof(double)))
        fail_msg("a block of %zu bytes for %zu rows", bc.largest, n);
    free(lp), free(resp), free(glp), free(gresp);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    scored_free(&s);
    strata_ctx_free(ctx);
}

/* `strata evaluate` on a gamma model evaluates it as gamma (it used the Poisson
 * formulas): evaluate.json's family, deviance and pseudo-R² are the library's
 * gamma values for the model's predictions. */
static void test_cli_evaluate__gamma_model_evaluated_as_gamma(void **state)
{
    strata_ctx *ctx = tu_ctx();
    scored s; /* y = length of stay, 1..14 days: positive */
    strata_cohort *c = NULL;
    strata_model *m = fit_fixture(ctx, "gamma", STRATA_FAMILY_GAMMA,
                                  "emergency_admission_12m ~ age + sex", tu_tmp("cli_gamma.h5"),
                                  tu_tmp("cli_gamma_model.h5"), &s, &c);
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    char jpath[512], *out = NULL;
    double *p = malloc(s.n * sizeof *p), *w = malloc(s.n * sizeof *w);
    json_t *j, *o;
    json_error_t err;
    int rc;
    (void)state;
    rc = tu_run_cli(&out, "evaluate '%s' '%s' --out '%s'", tu_tmp("cli_gamma_model.h5"),
                    tu_tmp("cli_gamma.h5"), tu_tmp("cli_gamma_out"));
    if (rc != 0)
        fail_msg("strata evaluate exited %d: %s", rc, out);
    assert_contains(out, "(gamma, outcome emergency_admission_12m");
    free(out);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, NULL, p), STRATA_OK);
    for (size_t i = 0; i < s.n; i++) {
        w[i] = i == 6 ? 0.0 : 1.0; /* the cohort's one missing outcome */
        if (i == 6)
            s.y[i] = 1.0;
    }
    strata_eval_params_init(&par);
    par.family = STRATA_FAMILY_GAMMA;
    in = (strata_eval_input){s.n, s.y, p, w, 0, NULL};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    snprintf(jpath, sizeof jpath, "%s/evaluate.json", tu_tmp("cli_gamma_out"));
    j = json_load_file(jpath, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "family")),
                        "gamma");
    o = json_object_get(j, "overall");
    assert_abs_close(json_real_value(json_object_get(o, "deviance")), r->overall.deviance, 5e-11,
                     "gamma deviance (10 decimals published)");
    assert_abs_close(json_real_value(json_object_get(o, "pseudo_r2")), r->overall.pseudo_r2, 5e-11,
                     "pseudo-R2 (10 decimals published)");
    assert_abs_close(json_real_value(json_object_get(o, "slope")), r->overall.slope, 5e-11,
                     "log-link calibration slope");
    json_decref(j);
    strata_eval_report_free(ctx, r);
    free(p), free(w);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    scored_free(&s);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluate__binomial_matches_r),
        cmocka_unit_test(test_evaluate__binomial_with_ties_matches_r),
        cmocka_unit_test(test_evaluate__poisson_matches_r),
        cmocka_unit_test(test_evaluate__gaussian_matches_r),
        cmocka_unit_test(test_evaluate__gamma_matches_r),
        cmocka_unit_test(test_evaluate__separation_flags_noconv),
        cmocka_unit_test(test_evaluate__weights_equal_row_repetition),
        cmocka_unit_test(test_bootstrap__same_numbers_with_1_and_2_threads),
        cmocka_unit_test(test_bootstrap__harrell_definitions_hold),
        cmocka_unit_test(test_bootstrap__failing_refit_names_resample),
        cmocka_unit_test(test_kfold_and_split__held_out_rows_come_from_other_folds),
        cmocka_unit_test(test_write__csv_and_json_carry_values_and_hashes),
        cmocka_unit_test(test_evaluate__bad_outcome_names_row),
        cmocka_unit_test(test_evaluate__allocation_failures_are_clean),
        cmocka_unit_test(test_evaluate_scored__cohort_columns_match_arrays),
        cmocka_unit_test(test_evaluate_scored__allocation_failures_are_clean),
        cmocka_unit_test(test_cli_evaluate__model_and_cohort_end_to_end),
        cmocka_unit_test(test_cli_evaluate__gamma_model_evaluated_as_gamma),
        cmocka_unit_test(test_cli_evaluate__mem_limit_gives_the_same_bytes),
        cmocka_unit_test(test_scorer__ranges_and_evaluation_without_a_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
