/* labels: golden */
/* tests/test_derive_synthea.c — the Synthea UK sample (string ids, SNOMED
 * conditions, RxNorm medications, deaths) imported with `strata import` and
 * `import events`, derived with data/golden/derive/synthea.yaml (polypharmacy
 * and the eFI with it from the medications), exported, and checked value by
 * value against data/golden/derive/synthea_derive.py's independent
 * computation from the raw CSVs; expected.csv is that script's committed output.
 * The second test runs issue 11's spec as written (data/golden/derive/issue11.yaml)
 * on the same sample: the sample has no encounters, so it is an extract with no
 * hospital activity — its spells table is imported from a header-only CSV
 * (synthea_no_spells.csv), and every spell-based item is 0 / censored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "test_columns.h"
#include "testutil.h"

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_synthea__import_derive_matches_independent_computation(void **state)
{
    char *out = NULL;
    char sy[1024]; /* tu_data's buffers rotate: keep a copy */
    (void)state;
    snprintf(sy, sizeof sy, "%s", tu_data("synthea_uk_sample"));
    if (tu_run_sh(NULL, "/usr/bin/python3 -c 'import csv' 2>/dev/null") != 0)
        fail_msg("python3 is needed to run data/golden/derive/synthea_derive.py");
    remove(tu_tmp("sy.h5"));
    assert_int_equal(tu_run_cli(&out, "import '%s/patients.csv' --out '%s' --role patient_id=Id "
                                      "--role birth_date=BIRTHDATE --role death_date=DEATHDATE "
                                      "--role sex=GENDER --quiet", sy, tu_tmp("sy.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s/conditions.csv' --cohort '%s' "
                                      "--table conditions --id PATIENT --date START --end-date STOP "
                                      "--code CODE --code-system snomed", sy, tu_tmp("sy.h5")), 0);
    assert_contains(out, "18819 events into /events/conditions");
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("sy.h5")), 0);
    assert_contains(out, "valid: 543 patients");
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s/medications.csv' --cohort '%s' "
                                      "--table medications --id PATIENT --date START --end-date STOP "
                                      "--code CODE --code-system rxnorm", sy, tu_tmp("sy.h5")), 0);
    assert_contains(out, "17225 events into /events/medications");
    free(out);
    assert_int_equal(tu_run_cli(&out, "derive '%s' --spec '%s' --out '%s'", tu_tmp("sy.h5"),
                                tu_src("data/golden/derive/synthea.yaml"), tu_tmp("syf.h5")), 0);
    assert_contains(out, "472 of 543 patients in the population; 30 features, 4 outcomes from "
                         "36044 events");
    assert_contains(out, "excluded not_born: 22");
    assert_contains(out, "excluded died: 49");
    free(out);
    assert_int_equal(tu_run_cli(&out, "export '%s' --out '%s'", tu_tmp("syf.h5"),
                                tu_tmp("syf.csv")), 0);
    free(out);
    assert_int_equal(tu_run_sh(&out, "cd '%s' && /usr/bin/python3 data/golden/derive/synthea_derive.py "
                                     "'%s' data/codelists --check '%s'",
                               tu_source_dir(), sy, tu_tmp("syf.csv")), 0);
    assert_contains(out, "checked 472 patients x 34 columns: 0 differences");
    free(out);
}

/* Issue 11's YAML exactly as written (data/golden/derive/issue11.yaml, index
 * 2025-04-01) on the Synthea sample. The sample's conditions (SNOMED) are the
 * GP coded events; the sample has no encounters, so it stands for an extract
 * with no hospital activity: /events/spells is imported through the ordinary
 * `import events` path from a header-only CSV (synthea_no_spells.csv: the SUS
 * columns admission_method, los_days, cost, diag_01..diag_20) and is empty.
 * Asserted for every patient in the population: hypertension and the eFI
 * equal synthea_derive.py --issue11's independent computation from the raw
 * CSVs (expected_issue11.csv); emergency admissions, bed days, Charlson and
 * the emergency admission outcome are exactly 0; time_to_emergency is the
 * censoring time (the day of death when it falls in [0, 364], else 365: the
 * sample has no registration dates) with event indicator 0. */
static void test_synthea__issue_spec_runs_with_no_hospital_activity(void **state)
{
    static const char *const zero[] = {"prior_emergency_12m", "bed_days_12m", "charlson",
                                       "emergency_admission_12m", "time_to_emergency_event"};
    char *out = NULL;
    char sy[1024], c[1024], f[1024];
    double *v, *tte, *death, *hyp, *efi;
    size_t n, n2, nh = 0, ne = 0;
    int32_t index;
    (void)state;
    snprintf(sy, sizeof sy, "%s", tu_data("synthea_uk_sample"));
    snprintf(c, sizeof c, "%s", tu_tmp("sy11.h5"));
    snprintf(f, sizeof f, "%s", tu_tmp("sy11f.h5"));
    if (tu_run_sh(NULL, "/usr/bin/python3 -c 'import csv' 2>/dev/null") != 0)
        fail_msg("python3 is needed to run data/golden/derive/synthea_derive.py");
    assert_int_equal(strata_date_parse("2025-04-01", STRATA_DATE_ISO, &index), 0);
    remove(c);
    assert_int_equal(tu_run_cli(&out, "import '%s/patients.csv' --out '%s' --role patient_id=Id "
                                      "--role birth_date=BIRTHDATE --role death_date=DEATHDATE "
                                      "--role sex=GENDER --quiet", sy, c), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s/conditions.csv' --cohort '%s' "
                                      "--table gp_events --id PATIENT --date START --end-date STOP "
                                      "--code CODE --code-system snomed", sy, c), 0);
    assert_contains(out, "18819 events into /events/gp_events");
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table spells "
                                      "--id PATIENT --date admission_date --end-date discharge_date "
                                      "--code diag_01,diag_02,diag_03,diag_04,diag_05,diag_06,"
                                      "diag_07,diag_08,diag_09,diag_10,diag_11,diag_12,diag_13,"
                                      "diag_14,diag_15,diag_16,diag_17,diag_18,diag_19,diag_20 "
                                      "--code-system icd10 --cat admission_method "
                                      "--value los_days,cost",
                                tu_src("data/golden/derive/synthea_no_spells.csv"), c), 0);
    assert_contains(out, "0 events into /events/spells");
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", c), 0);
    assert_contains(out, "valid: 543 patients");
    free(out);
    remove(f);
    assert_int_equal(tu_run_cli(&out, "derive '%s' --spec '%s' --out '%s'", c,
                                tu_src("data/golden/derive/issue11.yaml"), f), 0);
    assert_contains(out, "474 of 543 patients in the population; 7 features, 3 outcomes from "
                         "18819 events");
    assert_contains(out, "excluded died: 69");
    free(out);
    for (size_t k = 0; k < sizeof zero / sizeof zero[0]; k++) {
        v = tu_column_f64(f, zero[k], &n);
        assert_int_equal(n, 474);
        for (size_t i = 0; i < n; i++)
            if (v[i] != 0.0)
                fail_msg("%s row %zu: %g, want 0 (no spells)", zero[k], i, v[i]);
        free(v);
    }
    tte = tu_column_f64(f, "time_to_emergency", &n);
    death = tu_column_f64(f, "DEATHDATE", &n2);
    assert_int_equal(n, 474);
    assert_int_equal(n2, 474);
    for (size_t i = 0; i < n; i++) {
        double want = 365.0;
        if (!isnan(death[i]) && death[i] - index <= 364)
            want = death[i] - index;
        if (tte[i] != want)
            fail_msg("time_to_emergency row %zu: %g, want the censoring time %g", i, tte[i], want);
    }
    free(tte);
    free(death);
    /* the GP-code items are not trivially 0: 98 hypertensive, 16 with eFI deficits */
    hyp = tu_column_f64(f, "hypertension", &n);
    efi = tu_column_f64(f, "efi_deficits", &n2);
    for (size_t i = 0; i < n; i++) {
        nh += hyp[i] == 1.0;
        ne += efi[i] > 0;
    }
    assert_int_equal(nh, 98);
    assert_int_equal(ne, 16);
    free(hyp);
    free(efi);
    assert_int_equal(tu_run_cli(&out, "export '%s' --out '%s'", f, tu_tmp("sy11f.csv")), 0);
    free(out);
    assert_int_equal(tu_run_sh(&out, "cd '%s' && /usr/bin/python3 data/golden/derive/synthea_derive.py "
                                     "'%s' data/codelists --issue11 "
                                     "data/golden/derive/synthea_no_spells.csv --check '%s'",
                               tu_source_dir(), sy, tu_tmp("sy11f.csv")), 0);
    assert_contains(out, "checked 474 patients x 10 columns: 0 differences");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthea__import_derive_matches_independent_computation),
        cmocka_unit_test(test_synthea__issue_spec_runs_with_no_hospital_activity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
