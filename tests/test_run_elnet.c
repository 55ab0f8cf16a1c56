/* labels: unit slow */
/* tests/test_run_elnet.c — `strata run` with model: {alpha:, cv:, ...}: the
 * run's coefficients are byte-for-byte those of `strata fit --alpha --cv` with
 * the same seed on the same cohort (and under --mem-limit, the CV streaming);
 * the report draws the CV curve and states
 * the chosen lambda and the number of non-zero terms; the manifest records
 * alpha, the lambda, the folds and their seed; elastic-net keys without alpha
 * or out of range name key and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMULA "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + prior_emergency_12m"

static const char *run_dir(void)
{
    static int done;
    static char dir[2048];
    char path[4096], *out = NULL;
    if (done)
        return dir;
    snprintf(dir, sizeof dir, "%s", tu_tmp("run_elnet"));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    tu_write_file(path, "synth:\n  patients: 12000\n  seed: 5\n"
                        "model:\n  family: binomial\n  formula: \"" FORMULA "\"\n"
                        "  alpha: 0.5\n  cv: 5\n  seed: 7\n  select: 1se\n"
                        "  penalty_factor: {imd_decile: 0}\n"
                        "report:\n  title: Elnet ICB\n");
    int rc = tu_run_cli(&out, "run '%s/spec.yaml' --out '%s/out'", dir, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    done = 1;
    return dir;
}

/* The run's model against `strata fit` in memory, and (mem_limit) under a
 * budget the design exceeds: the CV streams, the same bytes. */
static void check_fit_bytes(const char *mem_limit)
{
    const char *dir = run_dir();
    char *out = NULL, a[4096], b[4096];
    int rc = tu_run_cli(&out, "fit '%s/out/cohort.h5' --formula '" FORMULA "' --family binomial --alpha 0.5 "
                              "--cv 5 --seed 7 --select 1se --penalty-factor imd_decile=0 --out '%s/fit.h5'%s%s",
                        dir, dir, mem_limit ? " --verbose --mem-limit " : "", mem_limit ? mem_limit : "");
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    if (mem_limit) /* (every fit streamed: the full path and 5 folds) */
        assert_non_null(strstr(out, "streaming windows of whole chunks"));
    for (const char *at = out; mem_limit && at; at = strstr(at + 1, "elnet: streamed:"))
        rc += at != out;
    assert_int_equal(rc, mem_limit ? 6 : 0);
    free(out);
    snprintf(a, sizeof a, "%s/out/model.h5", dir);
    snprintf(b, sizeof b, "%s/fit.h5", dir);
    strata_ctx *ctx = tu_ctx();
    strata_model *ma = NULL, *mb = NULL;
    strata_elnet *ea = NULL, *eb = NULL;
    assert_status(ctx, strata_model_load(ctx, a, &ma), STRATA_OK);
    assert_status(ctx, strata_model_load(ctx, b, &mb), STRATA_OK);
    assert_status(ctx, strata_elnet_load(ctx, a, ma, &ea), STRATA_OK);
    assert_status(ctx, strata_elnet_load(ctx, b, mb, &eb), STRATA_OK);
    assert_int_equal(strata_model_nterms(ma), strata_model_nterms(mb));
    size_t nz = 0;
    for (size_t i = 0; i < strata_model_nterms(ma); i++) {
        strata_coef ca, cb;
        strata_model_coef(ma, i, &ca);
        strata_model_coef(mb, i, &cb);
        assert_string_equal(strata_model_term(ma, i), strata_model_term(mb, i));
        assert_memory_equal(&ca.estimate, &cb.estimate, sizeof ca.estimate);
        nz += i > 0 && ca.estimate != 0;
    }
    assert_int_equal(strata_elnet_nsteps(ea), strata_elnet_nsteps(eb));
    assert_int_equal(strata_elnet_selected(ea), strata_elnet_selected(eb));
    assert_int_equal(strata_elnet_selected(ea), strata_elnet_cv_1se(ea));
    assert_int_equal(strata_elnet_df(ea, strata_elnet_selected(ea)), (int)nz);
    for (size_t k = 0; k < strata_elnet_cv_steps(ea); k++) {
        double x = strata_elnet_cv_mean(ea, k), y = strata_elnet_cv_mean(eb, k);
        assert_memory_equal(&x, &y, sizeof x);
    }
    strata_elnet_free(ctx, ea);
    strata_elnet_free(ctx, eb);
    strata_model_free(ctx, ma);
    strata_model_free(ctx, mb);
    strata_ctx_free(ctx);
}

static void test_run_elnet__coefficients_equal_strata_fit_bytes(void **state)
{
    (void)state;
    check_fit_bytes(NULL);
}

static void test_run_elnet__cv_under_a_budget_equals_the_run_bytes(void **state)
{
    (void)state;
    check_fit_bytes("1700K"); /* (in memory it needs 2.1 MB; the least that streams, 1.6 MB) */
}

static void test_run_elnet__report_and_manifest_state_the_choice(void **state)
{
    (void)state;
    const char *dir = run_dir();
    char path[4096], want[256];
    snprintf(path, sizeof path, "%s/out/model.h5", dir);
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_elnet *e = NULL;
    assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
    assert_status(ctx, strata_elnet_load(ctx, path, m, &e), STRATA_OK);
    size_t k = strata_elnet_selected(e);
    assert_true(strata_elnet_cv_steps(e) == strata_elnet_nsteps(e));
    assert_true(strata_elnet_cv_1se(e) <= strata_elnet_cv_min(e));
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    char *html = tu_read_file(path, NULL);
    assert_non_null(html);
    assert_contains(html, "<svg class=\"cvcurve\"");
    snprintf(want, sizeof want, "Chosen: lambda = %.6g, with <strong>%d non-zero terms</strong> (alpha 0.5)",
             strata_elnet_lambda(e, k), strata_elnet_df(e, k));
    assert_contains(html, want);
    snprintf(want, sizeof want, "lambda.1se %.4g (%d terms)", strata_elnet_lambda(e, k), strata_elnet_df(e, k));
    assert_contains(html, want);
    snprintf(want, sizeof want, "<th>Non-zero terms</th><td class=\"metric\">%d</td>", strata_elnet_df(e, k));
    assert_contains(html, want);
    size_t bars = 0;
    for (const char *p = html; (p = strstr(p, "class=\"cvbar\"")) != NULL; p++)
        bars++;
    assert_int_equal(bars, strata_elnet_cv_steps(e));
    free(html);
    snprintf(path, sizeof path, "%s/out/manifest.json", dir);
    char *man = tu_read_file(path, NULL);
    assert_non_null(man);
    assert_contains(man, "\"elnet\": {\n    \"alpha\": 0.5,\n    \"cv_measure\": \"deviance\",\n    \"folds\": 5,");
    snprintf(want, sizeof want, "\"lambda\": %.17g,\n    \"lambda_step\": %zu,\n    \"nonzero\": %d,\n"
             "    \"select\": \"lambda.1se\"", strata_elnet_lambda(e, k), k + 1, strata_elnet_df(e, k));
    assert_contains(man, want);
    assert_contains(man, "\"elnet_folds\": 7");
    free(man);
    strata_elnet_free(ctx, e);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

static void test_run_elnet__bad_keys_name_key_and_line(void **state)
{
    (void)state;
    const char *dir = tu_tmp("run_elnet_bad");
    const char *bodies[][2] = {
        {"  cv: 5\n", "key \"cv\": is an elastic-net key: give model.alpha too"},
        {"  alpha: 1.5\n", "key \"alpha\": must be between 0 (ridge) and 1 (lasso)"},
        {"  alpha: 1\n  select: min\n", "key \"select\": selects by cross-validation: give model.cv too"},
        {"  alpha: 1\n  cv: 2\n", "key \"cv\": the number of folds is 3 to 100"},
        {"  alpha: 1\n  penalty_factor: {age: -1}\n", "key \"age\": a penalty factor is a number >= 0"},
    };
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        char path[4096], text[1024], *out = NULL;
        snprintf(path, sizeof path, "%s/spec%zu.yaml", dir, i);
        snprintf(text, sizeof text, "synth:\n  patients: 100\nmodel:\n  formula: \"y ~ age\"\n%s", bodies[i][0]);
        tu_write_file(path, text);
        assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s/out%zu'", path, dir, i), 7);
        assert_contains(out, bodies[i][1]);
        assert_contains(out, "line ");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_elnet__coefficients_equal_strata_fit_bytes),
        cmocka_unit_test(test_run_elnet__cv_under_a_budget_equals_the_run_bytes),
        cmocka_unit_test(test_run_elnet__report_and_manifest_state_the_choice),
        cmocka_unit_test(test_run_elnet__bad_keys_name_key_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
