/* labels: unit slow */
/* tests/test_notices.c — what a run says about its disclosure control is
 * what it applied: the report's disclosure paragraph and top note, the
 * workbook's README sheet, the CLI summary and --json state the run's own
 * rules in one wording, strata_sdc_describe's (manifest.json's
 * disclosure.rules) — the defaults (1-7 withheld, rounded to 5), 10/10, 1-3
 * without rounding, and disclosure off (exact counts, never called
 * disclosure-controlled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a small job with the given disclosure block; returns the CLI's
 * output; *report and *readme get the report and the README sheet's text. */
static char *run_with(const char *name, const char *disclosure, char **report, char **readme)
{
    const char *dir = tu_tmp(name);
    char spec[4096], path[4096], *out = NULL;
    int rc;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    snprintf(path, sizeof path,
             "synth:\n  patients: 12000\n  seed: 4\n"
             "model:\n  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
             "evaluate:\n  by: [sex]\n"
             "%s"
             "report:\n  title: Notices\n",
             disclosure);
    tu_write_file(spec, path);
    rc = tu_run_cli(&out, "run '%s' --out '%s/out'", spec, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    *report = tu_read_file(path, NULL);
    assert_non_null(*report);
    rc = tu_run_sh(readme, "/usr/bin/python3 -c \"import zipfile,sys; z = zipfile.ZipFile("
                           "'%s/out/outputs.xlsx'); sys.stdout.write(''.join(z.read(n).decode() "
                           "for n in z.namelist() if n.startswith('xl/worksheets/')))\"",
                   dir);
    assert_int_equal(rc, 0);
    return out;
}

static void test_notices__default_rules(void **state)
{
    const char *want = "counts 1-7 withheld (*); other counts and expected events rounded to the "
                       "nearest 5; complementary suppression";
    char *report, *readme, *out = run_with("default", "", &report, &readme);
    (void)state;
    assert_contains(out, want);
    assert_contains(report, want);
    assert_contains(report, "All counts are disclosure-controlled");
    assert_contains(readme, want);
    free(out), free(report), free(readme);
}

static void test_notices__ten_and_ten(void **state)
{
    const char *want = "counts 1-10 withheld (*); other counts and expected events rounded to the "
                       "nearest 10";
    char *report, *readme,
        *out = run_with("ten", "disclosure:\n  suppress_max: 10\n  round_to: 10\n", &report, &readme);
    (void)state;
    assert_contains(out, want);
    assert_contains(report, want);
    assert_null(strstr(report, "1-7 withheld"));
    assert_null(strstr(report, "nearest 5"));
    assert_contains(readme, want);
    free(out), free(report), free(readme);
}

static void test_notices__no_rounding(void **state)
{
    const char *want = "counts 1-3 withheld (*); other counts exact (no rounding)";
    char *report, *readme,
        *out = run_with("exact", "disclosure:\n  suppress_max: 3\n  round_to: 1\n", &report, &readme);
    (void)state;
    assert_contains(out, want);
    assert_contains(report, want);
    assert_contains(readme, want);
    free(out), free(report), free(readme);
}

static void test_notices__disclosure_off(void **state)
{
    char *report, *readme,
        *out = run_with("off", "disclosure:\n  enabled: false\n", &report, &readme);
    (void)state;
    assert_contains(out, "OFF (no_disclosure): counts, expected events, rates and intervals are "
                         "exact; not for publication");
    assert_null(strstr(out, "disclosure-controlled"));
    assert_contains(report, "Disclosure control was OFF for this run");
    assert_contains(report, "OFF (no_disclosure)");
    assert_null(strstr(report, "All counts are disclosure-controlled"));
    assert_null(strstr(report, "withheld (*)"));
    assert_contains(readme, "Disclosure control was switched OFF for this run");
    free(out), free(report), free(readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notices__default_rules),
        cmocka_unit_test(test_notices__ten_and_ten),
        cmocka_unit_test(test_notices__no_rounding),
        cmocka_unit_test(test_notices__disclosure_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
