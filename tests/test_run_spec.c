/* labels: unit */
/* tests/test_run_spec.c — run specs load with defaults and values, and every
 * bad spec is refused with the key and line named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

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
        {"cohort: a.h5\nmodel: [1, 2\n", "line 3: YAML syntax error"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  tier_thresholds: [0.1, 0.2]\n",
         "line 5: key \"tier_thresholds\": thresholds must be strictly decreasing"},
        {"cohort: a.h5\nmodel:\n  formula: y ~ x\nstratify:\n  funnel_overdispersion: lots\n",
         "line 5: key \"funnel_overdispersion\": must be none, winsorise or shmi"},
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_spec__full_spec_and_defaults),
        cmocka_unit_test(test_run_spec__absolute_tiers_and_overdispersion),
        cmocka_unit_test(test_run_spec__errors_name_key_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
