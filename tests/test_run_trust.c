/* labels: unit slow */
/* tests/test_run_trust.c — issue 15 on `strata run`: an invalid cohort stops
 * the run with the validate report (and --allow-invalid goes on, recorded);
 * nobody is dropped (the list sizes add up to the cohort, the unscored are
 * counted per PCN, and the outputs are the same bytes on one thread under
 * `memory: 1M`); every notice states the rules actually applied,
 * including off and 10/10; Core20PLUS5 from the spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sdc_attack.h"
#include "strata/strata.h"
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *FORMULA =
    "emergency_admission_12m ~ rcs(age, 4) + sex + ethnicity + ltc_count + prior_emergency_12m";

static int run_cli(const char *dir, const char *spec_text, const char *extra, char **out)
{
    char spec[4096];
    tu_run_sh(NULL, "rm -rf '%s/out' && mkdir -p '%s'", dir, dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    tu_write_file(spec, spec_text);
    return tu_run_cli(out, "run '%s' --out '%s/out' %s", spec, dir, extra ? extra : "");
}

/* Column col of a CSV as numbers (NaN for "*" or empty); returns rows read. */
static size_t csv_col(const char *path, const char *col, const char *key, double *v, size_t max,
                      char (*keys)[64])
{
    char *text = tu_read_file(path, NULL), *save = NULL, *line, *f[512];
    size_t nh, n = 0;
    int jc = -1, jk = -1;
    assert_non_null(text);
    line = strtok_r(text, "\r\n", &save);
    nh = sdc_csv_split(line, f, 512);
    for (size_t j = 0; j < nh; j++) {
        if (!strcmp(f[j], col))
            jc = (int)j;
        if (key && !strcmp(f[j], key))
            jk = (int)j;
    }
    assert_true(jc >= 0);
    while ((line = strtok_r(NULL, "\r\n", &save)) && n < max) {
        size_t nf = sdc_csv_split(line, f, 512);
        v[n] = (size_t)jc < nf && *f[jc] && strcmp(f[jc], "*") ? strtod(f[jc], NULL) : NAN;
        if (keys)
            snprintf(keys[n], 64, "%s", jk >= 0 && (size_t)jk < nf ? f[jk] : "");
        n++;
    }
    free(text);
    return n;
}

static size_t lines_of(const char *path)
{
    char *text = tu_read_file(path, NULL);
    size_t n = 0;
    assert_non_null(text);
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

/* An age of 150, an IMD decile of 12 and a duplicate patient id in a synthetic PCN. */
static void break_cohort(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d;
    int32_t a[3];
    int64_t id[4];
    hsize_t start[1] = {0}, count[1] = {3}, c4[1] = {4};
    hid_t fs, ms;
    assert_true(f >= 0);
    d = H5Dopen2(f, "/patients/age", H5P_DEFAULT);
    assert_true(d >= 0);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    H5Dread(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, a);
    a[0] = 150;
    H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, a);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
    d = H5Dopen2(f, "/patients/imd_decile", H5P_DEFAULT);
    assert_true(d >= 0);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    H5Dread(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, a);
    a[1] = 12;
    H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, a);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
    d = H5Dopen2(f, "/patients/patient_id", H5P_DEFAULT);
    assert_true(d >= 0);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, c4, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, c4, NULL);
    H5Dread(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, id);
    id[3] = id[2];
    H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, id);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
    H5Fclose(f);
}

static void test_run__invalid_cohort_stops_with_the_validate_report(void **state)
{
    const char *dir = tu_tmp("invalid");
    char cohort[4096], spec[4096], *out = NULL, *man;
    int rc;
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(cohort, sizeof cohort, "%s/bad.h5", dir);
    assert_int_equal(tu_run_cli(NULL, "synth --pcn U79722 --patients 1500 --seed 2 --quiet --out '%s'",
                                cohort),
                     0);
    break_cohort(cohort);
    assert_int_not_equal(tu_run_cli(NULL, "validate '%s'", cohort), 0); /* validate agrees */
    snprintf(spec, sizeof spec,
             "cohort: bad.h5\nmodel:\n  family: binomial\n  formula: \"emergency_admission_12m ~ "
             "age + sex + ltc_count\"\n");
    rc = run_cli(dir, spec, NULL, &out);
    print_message("%s\n", out);
    assert_int_not_equal(rc, 0);
    assert_contains(out, "INVALID: 3 problems");
    assert_contains(out, "range");
    assert_contains(out, "duplicate_id");
    assert_contains(out, "--allow-invalid");
    free(out);
    /* nothing aggregate was published */
    snprintf(spec, sizeof spec, "%s/out/pcn_summary.csv", dir);
    assert_null(tu_read_file(spec, NULL));
    /* --allow-invalid goes on, says so, and the manifest records it */
    snprintf(spec, sizeof spec,
             "cohort: bad.h5\nmodel:\n  family: binomial\n  formula: \"emergency_admission_12m ~ "
             "age + sex + ltc_count\"\n");
    rc = run_cli(dir, spec, "--allow-invalid", &out);
    assert_int_equal(rc, 0);
    assert_contains(out, "INVALID cohort      3 problems");
    free(out);
    snprintf(spec, sizeof spec, "%s/out/manifest.json", dir);
    man = tu_read_file(spec, NULL);
    assert_non_null(man);
    assert_contains(man, "\"allow_invalid\": 1");
    assert_contains(man, "\"problems\": 3");
    free(man);
}

/* Sum of a CSV column over the rows other than ALL (exact with control off). */
static double sum_rows(const char *dir, const char *file, const char *col)
{
    char path[4096], keys[8192][64];
    static double v[8192];
    double s = 0;
    size_t n;
    snprintf(path, sizeof path, "%s/out/%s", dir, file);
    n = csv_col(path, col, "group", v, 8192, keys);
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], "ALL") != 0)
            s += v[i];
    return s;
}

static void test_run__list_sizes_add_up_to_the_cohort(void **state)
{
    const char *dir = tu_tmp("everyone");
    char spec[4096], path[4096], *out = NULL;
    double n_cohort, n_unscored;
    (void)state;
    /* control off: the exact counts show that nobody is missing */
    snprintf(spec, sizeof spec,
             "synth:\n  icb: QOC\n  patients: 20000\n  seed: 4\nmodel:\n  family: binomial\n"
             "  formula: \"%s\"\nevaluate:\n  by: [ethnicity, pcn]\ndisclosure:\n  enabled: false\n"
             "threads: 2\n",
             FORMULA);
    assert_int_equal(run_cli(dir, spec, NULL, &out), 0);
    assert_contains(out, "not scored"); /* ethnicity is missing for some */
    free(out);
    snprintf(path, sizeof path, "%s/out/patients.csv", dir);
    n_cohort = (double)lines_of(path) - 1;
    snprintf(path, sizeof path, "%s/out/unscored.csv", dir);
    n_unscored = (double)lines_of(path) - 1;
    assert_true(n_cohort == 20000);
    assert_true(n_unscored > 100);
    assert_rel_close(sum_rows(dir, "pcn_summary.csv", "n_list"), n_cohort, 0, "PCN list sizes");
    assert_rel_close(sum_rows(dir, "practice_summary.csv", "n_list"), n_cohort, 0,
                     "practice list sizes");
    assert_rel_close(sum_rows(dir, "icb_summary.csv", "n_list"), n_cohort, 0, "ICB list sizes");
    assert_rel_close(sum_rows(dir, "inequality.csv", "n_list"), n_cohort, 0, "inequality");
    assert_rel_close(sum_rows(dir, "core20plus5.csv", "n_list"), n_cohort, 0, "Core20PLUS5");
    assert_rel_close(sum_rows(dir, "pcn_summary.csv", "n_unscored_list"), n_unscored, 0,
                     "unscored per PCN");
    /* every list-size partition holds the unscored too */
    {
        double seg = 0, tiers = 0, as = 0;
        static const char *const segs[] = {"end_of_life", "frailty", "complex_multimorbidity",
                                           "stable_ltc", "children", "generally_well"};
        for (int k = 0; k < 6; k++) {
            char c[64];
            snprintf(c, sizeof c, "n_seg_%s", segs[k]);
            seg += sum_rows(dir, "pcn_summary.csv", c);
        }
        for (int k = 1; k <= 4; k++) {
            char c[16];
            snprintf(c, sizeof c, "n_tier%d", k);
            tiers += sum_rows(dir, "pcn_summary.csv", c);
        }
        for (int s = 0; s < 2; s++)
            for (int b = 0; b < 6; b++) {
                static const char *const band[6] = {"0_17", "18_39", "40_64", "65_74", "75_84", "85plus"};
                char c[32];
                snprintf(c, sizeof c, "n_%s_%s", s ? "M" : "F", band[b]);
                as += sum_rows(dir, "pcn_summary.csv", c);
            }
        as += sum_rows(dir, "pcn_summary.csv", "n_agesex_unknown");
        assert_rel_close(seg, n_cohort, 0, "segments");
        assert_rel_close(tiers + n_unscored, n_cohort, 0, "tiers + unscored");
        assert_rel_close(as, n_cohort, 0, "age-sex bands");
    }
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    {
        char *html = tu_read_file(path, NULL);
        assert_non_null(html);
        assert_contains(html, "patients could not be scored");
        assert_contains(html, "Disclosure control was OFF");
        free(html);
    }
    /* with unscored patients, on one thread under `memory: 1M` (the ranking
     * leaves their NaN risks out itself, through sorted runs; the columns and
     * ids read per stage or per block): the same bytes as on two in memory */
    {
        const char *dir2 = tu_tmp("everyone_1M");
        static const char *const same[] = {"patients.csv", "intervention_list.csv", "unscored.csv",
                                           "pcn_summary.csv", "practice_summary.csv", "icb_summary.csv",
                                           "inequality.csv", "sii.csv", "core20plus5.csv", "fairness.csv",
                                           "report.html"};
        char *t = strstr(spec, "threads: 2\n");
        assert_non_null(t);
        snprintf(t, sizeof spec - (size_t)(t - spec), "threads: 1\nmemory: 1M\n");
        assert_int_equal(run_cli(dir2, spec, NULL, &out), 0);
        free(out);
        for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
            char pa[4096], pb[4096];
            snprintf(pa, sizeof pa, "%s/out/%s", dir, same[k]);
            snprintf(pb, sizeof pb, "%s/out/%s", dir2, same[k]);
            if (!tu_files_equal(pa, pb))
                fail_msg("%s differs between 2 threads in memory and 1 thread under memory: 1M", same[k]);
        }
    }
}

static void check_notices(const char *dir, const char *cli, const char *want)
{
    char path[4096], *text;
    const char *files[] = {"report.html", "manifest.json"};
    assert_contains(cli, want);
    for (size_t k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/out/%s", dir, files[k]);
        text = tu_read_file(path, NULL);
        assert_non_null(text);
        assert_contains(text, want);
        free(text);
    }
    /* the workbook's README states them too */
    assert_int_equal(tu_run_sh(&text,
                               "/usr/bin/python3 -c \"import openpyxl,sys; wb=openpyxl.load_workbook("
                               "sys.argv[1]); print(' '.join(str(c.value) for r in wb['README'].rows "
                               "for c in r if c.value))\" '%s/out/outputs.xlsx'",
                               dir),
                     0);
    assert_contains(text, want);
    free(text);
}

static void test_run__every_notice_states_the_rules_applied(void **state)
{
    const char *dir = tu_tmp("notices");
    char spec[4096], *out = NULL;
    (void)state;
    snprintf(spec, sizeof spec,
             "synth:\n  pcn: U79722\n  patients: 3000\n  seed: 6\nmodel:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
             "disclosure:\n  enabled: false\n");
    assert_int_equal(run_cli(dir, spec, NULL, &out), 0);
    check_notices(dir, out, "OFF (no_disclosure)");
    assert_null(strstr(out, "disclosure-controlled"));
    free(out);
    snprintf(spec, sizeof spec,
             "synth:\n  pcn: U79722\n  patients: 3000\n  seed: 6\nmodel:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
             "disclosure:\n  suppress_max: 10\n  round_to: 10\n");
    assert_int_equal(run_cli(dir, spec, NULL, &out), 0);
    check_notices(dir, out, "counts 1-10 withheld (*); other counts and expected events rounded "
                            "to the nearest 10");
    free(out);
}

static void test_run__core20plus5_groups_from_the_spec(void **state)
{
    const char *dir = tu_tmp("c20p5");
    char spec[4096], path[4096], *out = NULL, keys[64][64];
    double any[64], eth[64], smi[64], c20[64], cp[64];
    size_t n;
    (void)state;
    snprintf(spec, sizeof spec,
             "synth:\n  pcn: U79722\n  patients: 6000\n  seed: 8\nmodel:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
             "stratify:\n  plus:\n    ethnic_minority: {column: ethnicity, levels: [Asian, Black, Mixed, Other]}\n"
             "    learning_disability: {column: learning_disability}\n"
             "disclosure:\n  enabled: false\n");
    assert_int_equal(run_cli(dir, spec, NULL, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/out/core20plus5.csv", dir);
    n = csv_col(path, "n_plus_any", "group", any, 64, keys);
    csv_col(path, "n_plus_ethnic_minority", NULL, eth, 64, NULL);
    csv_col(path, "n_smi", NULL, smi, 64, NULL);
    csv_col(path, "n_core20", NULL, c20, 64, NULL);
    csv_col(path, "n_core20plus", NULL, cp, 64, NULL);
    assert_true(n == 2);
    assert_true(eth[1] > 0 && any[1] >= eth[1]); /* any group covers each group */
    assert_true(cp[1] >= c20[1] && cp[1] >= any[1] && cp[1] <= c20[1] + any[1]);
    assert_true(smi[1] > 0); /* SMI from the condition flag */
    assert_string_equal(keys[1], "ALL");
    /* a level the column does not have is an error naming it */
    snprintf(spec, sizeof spec,
             "synth:\n  pcn: U79722\n  patients: 600\n  seed: 8\nmodel:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ age\"\n"
             "stratify:\n  plus:\n    x: {column: ethnicity, levels: [Martian]}\n");
    assert_int_not_equal(run_cli(dir, spec, NULL, &out), 0);
    assert_contains(out, "level \"Martian\" is not a level of column ethnicity");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run__invalid_cohort_stops_with_the_validate_report),
        cmocka_unit_test(test_run__list_sizes_add_up_to_the_cohort),
        cmocka_unit_test(test_run__every_notice_states_the_rules_applied),
        cmocka_unit_test(test_run__core20plus5_groups_from_the_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
