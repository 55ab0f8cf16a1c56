/* labels: golden */
/* tests/test_derive_synthea.c — the Synthea UK sample (string ids, SNOMED
 * conditions, RxNorm medications, deaths) imported with `strata import` and
 * `import events`, derived with data/golden/derive/synthea.yaml (polypharmacy
 * and the eFI with it from the medications), exported, and checked value by
 * value against data/golden/derive/synthea_derive.py's independent
 * computation from the raw CSVs; expected.csv is that script's committed output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthea__import_derive_matches_independent_computation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
