/* labels: unit slow */
/* tests/test_sdc_attack.c — the differencing suite (tests/sdc_attack.h) over
 * every aggregate `strata run` writes, on the bundled default run, on a
 * 2,000-patient synthetic PCN and on an England-scaled run: no withheld or
 * rounded count can be worked back, no twin (HDF5, long CSV, report) shows
 * more than the CSVs, no visible count breaks the rules. SDC_ATTACK_DIR=DIR
 * attacks an existing output directory instead (and prints the findings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sdc_attack.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report(const sdc_attack_result *r, const char *label)
{
    print_message("%s: %zu tables, %zu unknowns (%zu secret), %zu relations; recovered %zu "
                  "(%zu checked against patients.csv, %zu false), twin mismatches %zu, rule "
                  "breaks %zu, refuted hypotheses %zu\n",
                  label, r->n_tables, r->n_vars, r->n_secret, r->n_relations, r->recovered,
                  r->checked_truth, r->false_recovery, r->twin_mismatch, r->rule_breaks,
                  r->contradictions);
    for (size_t k = 0; k < r->n_findings; k++)
        print_message("  %s\n", r->finding[k]);
}

static void attack(const char *outdir, const char *label, int factors_sex)
{
    sdc_attack_opts o;
    sdc_attack_result r;
    sdc_attack_opts_init(&o);
    o.practices_csv = tu_src("data/reference/practices.csv");
    o.verbose = getenv("SDC_ATTACK_VERBOSE") != NULL;
    if (factors_sex)
        o.factors[o.n_factors++] = "sex";
    assert_int_equal(sdc_attack_outdir(outdir, &o, &r), 0);
    report(&r, label);
    assert_true(r.n_secret > 50); /* the attack really had something to attack */
    assert_int_equal(r.false_recovery, 0); /* the attack's own hypotheses hold */
    assert_int_equal(r.false_recovery, 0); /* the attack's own hypotheses hold */
    assert_int_equal(r.rule_breaks, 0);
    assert_int_equal(r.twin_mismatch, 0);
    assert_int_equal(r.recovered, 0);
}

static void run_spec(const char *dir, const char *spec_text)
{
    char *out = NULL, spec[4096];
    int rc;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    tu_write_file(spec, spec_text);
    rc = tu_run_cli(&out, "run '%s' --out '%s/out'", spec, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
}

static void test_sdc_attack__existing_dir(void **state)
{
    (void)state;
    attack(getenv("SDC_ATTACK_DIR"), getenv("SDC_ATTACK_DIR"), 1);
}

static void test_sdc_attack__default_run_recovers_nothing(void **state)
{
    const char *dir = tu_tmp("default");
    char *out = NULL, path[4096];
    int rc;
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    rc = tu_run_cli(&out, "run '%s' --out '%s/out'", tu_src("data/specs/default.yaml"), dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(path, sizeof path, "%s/out", dir);
    attack(path, "default run", 1);
}

static void test_sdc_attack__pcn_of_2000_recovers_nothing(void **state)
{
    const char *dir = tu_tmp("pcn2000");
    char path[4096];
    (void)state;
    run_spec(dir, "synth:\n  pcn: U79722\n  patients: 2000\n  seed: 5\n"
                  "model:\n  family: binomial\n"
                  "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count + prior_emergency_12m\"\n"
                  "evaluate:\n  by: [imd_quintile, ethnicity, sex, age_band, practice]\n"
                  "stratify:\n  budget: 100000\n");
    snprintf(path, sizeof path, "%s/out", dir);
    attack(path, "2,000-patient PCN", 1);
}

static void test_sdc_attack__england_scaled_recovers_nothing(void **state)
{
    const char *dir = tu_tmp("england");
    char path[4096];
    (void)state;
    run_spec(dir, "synth:\n  england: true\n  patients: 200000\n  seed: 7\n"
                  "model:\n  family: binomial\n"
                  "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count + prior_emergency_12m\"\n"
                  "evaluate:\n  by: [imd_quintile, ethnicity, sex, age_band, icb]\n"
                  "stratify:\n  budget: 1000000\n");
    snprintf(path, sizeof path, "%s/out", dir);
    attack(path, "England-scaled", 1);
}

int main(void)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test(test_sdc_attack__default_run_recovers_nothing),
        cmocka_unit_test(test_sdc_attack__pcn_of_2000_recovers_nothing),
        cmocka_unit_test(test_sdc_attack__england_scaled_recovers_nothing),
    };
    const struct CMUnitTest one[] = {cmocka_unit_test(test_sdc_attack__existing_dir)};
    if (getenv("SDC_ATTACK_DIR"))
        return cmocka_run_group_tests(one, NULL, NULL);
    return cmocka_run_group_tests(all, NULL, NULL);
}
