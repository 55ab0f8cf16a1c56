/* labels: unit cli determinism */
/* tests/test_cox_stream_cli.c — `strata fit --family cox --mem-limit` and `strata
 * score --mem-limit` on a Cox model (docs/scale.md, "The Cox fit under a budget"):
 * on a synthetic cohort the streamed fit (it says so under --verbose) writes a model
 * whose coefficients, variances, robust variances, summary and baseline are the
 * in-memory fit's bytes, on 1 and 2 threads; scoring under a budget writes the same
 * score file; a budget below the per-row vectors is refused with exit 3 naming sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMULA                                                                                                        \
    "Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + "   \
    "strata(smoking) + cluster(practice)"

/* The model's groups but provenance (h5dump of the datasets, without the line naming the file). */
static char *model_dump(const char *model)
{
    char *out = NULL;
    assert_int_equal(tu_run_sh(&out, "h5dump -g /coefficients -g /summary -g /baseline -g /strata '%s' 2>/dev/null | sed 1d", model), 0);
    return out;
}

static void test_cox_stream_cli__fit_and_score_under_budget_same_bytes(void **state)
{
    char *out = NULL, *a, *b;
    (void)state;
    assert_int_equal(tu_run_cli(NULL, "synth --pcn U60510 --patients 30000 --seed 11 --quiet --out %s",
                                tu_tmp("syn.h5")),
                     0);
    assert_int_equal(tu_run_cli(NULL, "fit %s --family cox --formula '%s' --threads 1 --quiet --out %s",
                                tu_tmp("syn.h5"), FORMULA, tu_tmp("mem.h5")),
                     0);
    a = model_dump(tu_tmp("mem.h5"));
    for (int t = 1; t <= 2; t++) {
        assert_int_equal(tu_run_cli(&out, "fit %s --family cox --formula '%s' --threads %d --mem-limit 4M --verbose --out %s",
                                    tu_tmp("syn.h5"), FORMULA, t, tu_tmp("st.h5")),
                         0);
        assert_contains(out, "streaming the sorted design");
        free(out);
        b = model_dump(tu_tmp("st.h5"));
        assert_string_equal(a, b);
        free(b);
    }
    free(a);
    assert_int_equal(tu_run_cli(NULL, "score %s %s --horizon 365 --quiet --out %s", tu_tmp("mem.h5"), tu_tmp("syn.h5"),
                                tu_tmp("s0.csv")),
                     0);
    assert_int_equal(tu_run_cli(&out, "score %s %s --horizon 365 --mem-limit 1M --threads 2 --verbose --out %s",
                                tu_tmp("st.h5"), tu_tmp("syn.h5"), tu_tmp("s1.csv")),
                     0);
    assert_contains(out, "scoring the Cox model under the memory budget of 1048576 bytes");
    free(out);
    assert_true(tu_files_equal(tu_tmp("s0.csv"), tu_tmp("s1.csv")));
    /* too small for the sorted per-row vectors: exit 3 (ENOMEM) naming the sizes */
    assert_int_equal(tu_run_cli(&out, "fit %s --family cox --formula '%s' --mem-limit 1M --out %s", tu_tmp("syn.h5"),
                                FORMULA, tu_tmp("no.h5")),
                     3);
    assert_contains(out, "over the memory budget of 1 MB: give it at least");
    free(out);
}

/* A run spec with family cox: `memory: 2M` (the model's columns need ~4 MB) gives the
 * unlimited run's model, scores, tiers and PCN tables. */
static void test_cox_stream_cli__run_with_memory_same_outputs(void **state)
{
    static const char *const files[] = {"patients.csv", "pcn_summary.csv", "intervention_list.csv"};
    char *a, *b;
    (void)state;
    for (int k = 0; k < 2; k++) {
        char spec[64], dir[64];
        snprintf(spec, sizeof spec, "run%d.yaml", k);
        snprintf(dir, sizeof dir, "run%d", k);
        tu_write_file(tu_tmp(spec), k ? "synth:\n  pcn: U60510\n  patients: 20000\n  seed: 5\nmodel:\n  family: cox\n"
                                        "  formula: \"Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + "
                                        "imd_decile + ltc_count + prior_emergency_12m\"\n  horizon: 365\nmemory: 2M\n"
                                      : "synth:\n  pcn: U60510\n  patients: 20000\n  seed: 5\nmodel:\n  family: cox\n"
                                        "  formula: \"Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + "
                                        "imd_decile + ltc_count + prior_emergency_12m\"\n  horizon: 365\n");
        tu_run_sh(NULL, "rm -rf '%s'", tu_tmp(dir));
        assert_int_equal(tu_run_cli(NULL, "run %s --out %s --quiet", tu_tmp(spec), tu_tmp(dir)), 0);
    }
    a = model_dump(tu_tmp("run0/model.h5"));
    b = model_dump(tu_tmp("run1/model.h5"));
    assert_string_equal(a, b);
    free(a);
    free(b);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char x[64], y[64];
        snprintf(x, sizeof x, "run0/%s", files[i]);
        snprintf(y, sizeof y, "run1/%s", files[i]);
        assert_true(tu_files_equal(tu_tmp(x), tu_tmp(y)));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_stream_cli__fit_and_score_under_budget_same_bytes),
        cmocka_unit_test(test_cox_stream_cli__run_with_memory_same_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
