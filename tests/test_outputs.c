/* labels: unit slow */
/* tests/test_outputs.c — the tables people open in Excel and Power BI: a
 * `strata run` writes outputs.xlsx (0644) and aggregates_long.csv (0644) and
 * the owner-only patient_lists.xlsx (0600), listed in manifest.json; their
 * contents are checked against the CSV tables with openpyxl
 * (tests/outputs/check_workbook.py: sheet names, typed numbers equal to the
 * CSVs, suppressed cells empty and flagged, area names, patient ids as exact
 * text); and they are byte-identical with 1 and 2 threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void run_into(const char *dir, int threads)
{
    char *out = NULL;
    int rc;
    char spec[4096];
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    tu_write_file(spec,
                  "synth:\n  patients: 30000\n  seed: 3\n"
                  "model:\n  family: binomial\n"
                  "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count + prior_emergency_12m\"\n"
                  "evaluate:\n  by: [imd_quintile, sex, pcn]\n"
                  "stratify:\n  capacity_per_1000: 5\n  budget: 500000\n"
                  "report:\n  title: Test ICB\n");
    rc = tu_run_cli(&out, "run '%s' --threads %d --out '%s/out'", spec, threads, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
}

static unsigned mode_of(const char *dir, const char *file)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/out/%s", dir, file);
    if (stat(p, &sb) != 0)
        fail_msg("%s was not written", p);
    return (unsigned)(sb.st_mode & 0777);
}

static void test_outputs__workbooks_and_long_table(void **state)
{
    const char *dir = tu_tmp("out1");
    char *out = NULL, *man, p[4096];
    int rc;
    (void)state;
    run_into(dir, 1);
    assert_int_equal(mode_of(dir, "outputs.xlsx"), 0644);
    assert_int_equal(mode_of(dir, "aggregates_long.csv"), 0644);
    assert_int_equal(mode_of(dir, "patient_lists.xlsx"), 0600);
    snprintf(p, sizeof p, "%s/out/manifest.json", dir);
    man = tu_read_file(p, NULL);
    assert_non_null(man);
    assert_contains(man, "\"outputs.xlsx\"");
    assert_contains(man, "\"aggregates_long.csv\"");
    assert_contains(man, "\"patient_lists.xlsx\"");
    free(man);
    /* no temporary left behind */
    assert_int_equal(tu_run_sh(NULL, "ls '%s/out' | grep -q tmp", dir), 1);
    if (tu_run_sh(NULL, "/usr/bin/python3 -c 'import openpyxl' 2>/dev/null") != 0)
        fail_msg("python3-openpyxl is not installed (scripts/setup.sh --test installs it)");
    rc = tu_run_sh(&out, "/usr/bin/python3 '%s' '%s/out'", tu_src("tests/outputs/check_workbook.py"),
                   dir);
    print_message("%s", out);
    assert_int_equal(rc, 0);
    assert_contains(out, "workbook ok: 8 sheets");
    assert_contains(out, "suppressed cells empty and flagged");
    free(out);
}

static void test_outputs__same_bytes_with_one_and_two_threads(void **state)
{
    const char *a = tu_tmp("out_t1"), *b = tu_tmp("out_t2");
    static const char *same[] = {"outputs.xlsx", "aggregates_long.csv", "patient_lists.xlsx"};
    (void)state;
    run_into(a, 1);
    run_into(b, 2);
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/out/%s", a, same[k]);
        snprintf(pb, sizeof pb, "%s/out/%s", b, same[k]);
        if (!tu_files_equal(pa, pb))
            fail_msg("%s differs between 1 and 2 threads", same[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs__workbooks_and_long_table),
        cmocka_unit_test(test_outputs__same_bytes_with_one_and_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
