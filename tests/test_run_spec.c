/* labels: unit */
/* tests/test_run_spec.c — run specs and fit specs load with defaults and
 * values, every bad spec is refused with the key and line named, and the CLI
 * reads YAML only through the library's loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static strata_status load_text(strata_ctx *ctx, const char *name, const char *text,
                               strata_run_spec *s)
{
    const char *path = tu_tmp(name);
    tu_write_file(path, text);
    return strata_run_spec_load(ctx, path, s);
}

static void test_run_spec__full_spec_and_defaults(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec s;
    char buf[512];
    (void)state;
    assert_status(ctx,
                  load_text(ctx, "full.yaml",
                            "synth:\n  icb: QWO\n  patients: 50000\n  seed: 7\n"
                            "model:\n  family: binomial\n"
                            "  formula: \"emergency_admission_12m ~ age + sex\"\n"
                            "evaluate:\n  by: [imd_quintile, ethnicity]\n  bootstrap: 20\n"
                            "stratify:\n  tiers: [0.01, 0.09]\n  tiers_within: pcn\n"
                            "  capacity: 40\n  budget: 250000\n"
                            "disclosure:\n  round_to: 10\n"
                            "report:\n  title: West Yorkshire\n"
                            "threads: 2\n",
                            &s),
                  STRATA_OK);
    assert_string_equal(s.synth_scope, "icb");
    assert_string_equal(s.synth_code, "QWO");
    assert_int_equal(s.synth_patients, 50000);
    assert_int_equal(s.synth_seed, 7);
    assert_string_equal(s.formula, "emergency_admission_12m ~ age + sex");
    assert_int_equal(s.n_by, 2);
    assert_string_equal(s.by[1], "ethnicity");
    assert_int_equal(s.bootstrap, 20);
    assert_int_equal(s.n_tiers, 2);
    assert_rel_close(s.tiers[1], 0.09, 0, "tier 2");
    assert_int_equal(s.tiers_within_pcn, 1);
    assert_int_equal(s.capacity, 40);
    assert_rel_close(s.budget, 250000, 0, "budget");
    assert_int_equal(s.disclosure, 1);     /* default on */
    assert_int_equal(s.suppress_max, 7);   /* default NHS Digital rule */
    assert_int_equal(s.round_to, 10);
    assert_string_equal(s.title, "West Yorkshire");
    assert_int_equal(s.threads, 2);
    assert_int_equal(s.tiers_absolute, 0);
    assert_string_equal(s.funnel_od, "none");
    assert_string_equal(s.charlson_weights, "charlson1987"); /* default: Charlson 1987 */
    strata_run_spec_path(&s, "model.h5", buf, sizeof buf);
    assert_string_equal(buf, tu_tmp("model.h5"));
    strata_run_spec_free(ctx, &s);
    strata_ctx_free(ctx);
}

static void test_run_spec__absolute_tiers_and_overdispersion(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec s;
    (void)state;
    assert_status(ctx,
                  load_text(ctx, "abs.yaml",
                            "cohort: c.h5\nmodel:\n  formula: y ~ x\nstratify:\n"
                            "  tier_thresholds: [0.5, 0.2, 0.05]\n  funnel_overdispersion: shmi\n"
                            "  charlson_weights: quan2011\n",
                            &s),
                  STRATA_OK);
    assert_int_equal(s.tiers_absolute, 1);
    assert_int_equal(s.n_tiers, 3);
    assert_rel_close(s.tiers[2], 0.05, 0, "threshold 3");
    assert_string_equal(s.funnel_od, "shmi");
    assert_string_equal(s.charlson_weights, "quan2011");
    strata_run_spec_free(ctx, &s);
    strata_ctx_free(ctx);
}

static void test_run_spec__errors_name_key_and_line(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec s;
    struct {
        const char *text, *want;
    } cases[] = {
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratfy:\n  tiers: [0.1]\n",
         "line 4: unknown key \"stratfy\" in the spec"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\n  famly: poisson\n",
         "line 4: unknown key \"famly\" in model"},
        {"model:\n  formula: y ~ x\n", "needs \"cohort: FILE\" or a \"synth:\" section"},
        {"cohort: a.h5\n", "needs a \"model:\" mapping"},
        {"cohort: a.h5\nsynth:\n  icb: QWO\nmodel:\n  formula: y ~ x\n",
         "line 2: key \"synth\": give either cohort or synth"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  tiers: [0.5, 0.6]\n",
         "line 5: key \"tiers\": the tier fractions must add up to less than 1"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  tiers_within: ward\n",
         "line 5: key \"tiers_within\": must be \"all\" or \"pcn\""},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nevaluate:\n  by: sex\n",
         "line 5: key \"by\": must be a list"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nthreads: lots\n",
         "line 4: key \"threads\": \"lots\" is not a whole number"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\ndisclosure:\n  round_to: 0\n",
         "line 5: key \"round_to\": must be between 1 and 1000"},
        /* passed the load, then the run failed: "disclosure: range [1, 0] invalid" */
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\ndisclosure: {suppress_max: 0}\n",
         "line 4: key \"suppress_max\": 0 is out of range: counts 1 to suppress_max are "
         "withheld, so it is between 1 and 100 (to publish exact counts: enabled: false)"},
        {"cohort: a.h5\nmodel: [1, 2\n", "line 3: YAML syntax error"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  tier_thresholds: [0.1, 0.2]\n",
         "line 5: key \"tier_thresholds\": thresholds must be strictly decreasing"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  funnel_overdispersion: lots\n",
         "line 5: key \"funnel_overdispersion\": must be none, winsorise or shmi"},
        {"cohort: a.h5\nderive: [a, b]\nmodel:\n  formula: y ~ x\n",
         "line 2: key \"derive\": must be a derive spec file or a mapping"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  tiers: [0.1]\n  charlson_weights: quan\n",
         "line 6: key \"charlson_weights\": must be charlson1987 (Charlson 1987, the default) or "
         "quan2011"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_status(ctx, load_text(ctx, "bad.yaml", cases[i].text, &s), STRATA_ESPEC);
        assert_contains(strata_ctx_errmsg(ctx), "bad.yaml");
        assert_contains(strata_ctx_errmsg(ctx), cases[i].want);
    }
    assert_status(ctx, strata_run_spec_load(ctx, tu_tmp("absent.yaml"), &s), STRATA_EIO);
    strata_ctx_free(ctx);
}

static void test_fit_spec__keys_defaults_and_overrides(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_fit_spec f;
    strata_glm_params d;
    const char *path = tu_tmp("fit.yaml");
    (void)state;
    strata_glm_params_init(&d);
    tu_write_file(path, "family: Gamma\nformula: cost ~ age + sex\nweights: w\nepsilon: 1e-10\n"
                        "max_iter: 40\nna_action: fail\nstart: r\nout: m.h5\n");
    assert_status(ctx, strata_fit_spec_load(ctx, path, &f), STRATA_OK);
    assert_int_equal(f.glm.family, STRATA_FAMILY_GAMMA);
    assert_string_equal(f.glm.formula, "cost ~ age + sex");
    assert_string_equal(f.glm.weights, "w");
    assert_rel_close(f.glm.epsilon, 1e-10, 0, "epsilon");
    assert_int_equal(f.glm.max_iter, 40);
    assert_int_equal(f.glm.na_action, STRATA_NA_FAIL);
    assert_int_equal(f.glm.warm_start, 0);
    assert_string_equal(f.out, "m.h5");
    assert_int_equal(f.glm.block_rows, d.block_rows); /* untouched keys keep the defaults */
    /* a command-line value overrides the file with the same rules */
    assert_status(ctx, strata_fit_spec_set(ctx, &f, "family", "poisson"), STRATA_OK);
    assert_status(ctx, strata_fit_spec_set(ctx, &f, "out", "other.h5"), STRATA_OK);
    assert_int_equal(f.glm.family, STRATA_FAMILY_POISSON);
    assert_string_equal(f.out, "other.h5");
    assert_status(ctx, strata_fit_spec_set(ctx, &f, "max_iter", "0"), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "key \"max_iter\": \"0\" is not a whole number in 1..10000");
    assert_status(ctx, strata_fit_spec_set(ctx, &f, "famly", "x"), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "unknown fit key \"famly\"");
    strata_fit_spec_free(ctx, &f);
    /* no file: the GLM defaults */
    strata_fit_spec_init(&f);
    assert_int_equal(f.glm.family, d.family);
    assert_int_equal(f.glm.max_iter, d.max_iter);
    assert_null(f.out);
    strata_fit_spec_free(ctx, &f);
    strata_ctx_free(ctx);
}

static void test_fit_spec__errors_name_key_and_line(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_fit_spec f;
    struct {
        const char *text, *want;
    } cases[] = {
        {"family: gamma\nformla: y ~ x\n", "line 2: unknown key \"formla\" in the fit spec"},
        {"formula: y ~ x\nfamily: weibull\n",
         "line 2: key \"family\": \"weibull\" is not binomial, poisson, gamma or gaussian"},
        {"formula: y ~ x\nmax_iter: many\n", "line 2: key \"max_iter\": \"many\" is not a whole number"},
        {"formula: y ~ x\nepsilon: -1\n", "line 2: key \"epsilon\": \"-1\" is not a positive number"},
        {"formula: y ~ x\nna_action: drop\n", "line 2: key \"na_action\": \"drop\" is not complete or fail"},
        {"formula: y ~ x\nstart: warm\n", "line 2: key \"start\": \"warm\" is not auto or r"},
        {"formula:\n  lhs: y\n", "line 1: key \"formula\" must be a single value"},
        {"formula: [y, x\n", "YAML syntax error"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_write_file(tu_tmp("badfit.yaml"), cases[i].text);
        assert_status(ctx, strata_fit_spec_load(ctx, tu_tmp("badfit.yaml"), &f), STRATA_ESPEC);
        assert_contains(strata_ctx_errmsg(ctx), "badfit.yaml");
        assert_contains(strata_ctx_errmsg(ctx), cases[i].want);
        assert_null(f.priv_); /* nothing left to free */
    }
    assert_status(ctx, strata_fit_spec_load(ctx, tu_tmp("absent-fit.yaml"), &f), STRATA_EIO);
    strata_ctx_free(ctx);
}

/* The CLI parses no YAML of its own: every spec goes through strata/run.h. */
static void test_cli__no_yaml_parser_outside_the_library(void **state)
{
    char dir[4096], path[4400], line[512];
    DIR *d;
    struct dirent *e;
    size_t files = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_src("engine/cli"));
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f))
            if (strstr(line, "yaml.h") || strstr(line, "yaml_parser_"))
                fail_msg("%s parses YAML itself: %s", path, line);
        fclose(f);
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

/* derive: a derive spec file (resolved beside the spec when the job runs) or
 * an inline mapping, which the job reads from the spec file under "derive". */
static void test_run_spec__derive_file_or_inline(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec s;
    (void)state;
    assert_status(ctx, load_text(ctx, "dfile.yaml", "cohort: a.h5\nderive: d.yaml\n"
                                                    "model:\n  formula: y ~ x\n", &s), STRATA_OK);
    assert_string_equal(s.derive, "d.yaml");
    assert_null(s.derive_key);
    strata_run_spec_free(ctx, &s);
    assert_status(ctx, load_text(ctx, "dinline.yaml",
                                 "cohort: a.h5\nderive:\n  index_date: 2025-04-01\n"
                                 "  features:\n    - {name: a, kind: count, table: t}\n"
                                 "model:\n  formula: y ~ a\n", &s), STRATA_OK);
    assert_string_equal(s.derive_key, "derive");
    assert_contains(s.derive, "dinline.yaml");
    strata_run_spec_free(ctx, &s);
    assert_null(s.derive);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_spec__full_spec_and_defaults),
        cmocka_unit_test(test_run_spec__absolute_tiers_and_overdispersion),
        cmocka_unit_test(test_run_spec__errors_name_key_and_line),
        cmocka_unit_test(test_run_spec__derive_file_or_inline),
        cmocka_unit_test(test_fit_spec__keys_defaults_and_overrides),
        cmocka_unit_test(test_fit_spec__errors_name_key_and_line),
        cmocka_unit_test(test_cli__no_yaml_parser_outside_the_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
