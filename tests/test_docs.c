/* labels: unit slow */
/* tests/test_docs.c — the docs say what the program does. Every fenced
 * `sh runnable` block of README.md and the docs/ pages runs as a reader would paste
 * it (tests/docs/run_examples.py, a scratch directory per document); and the
 * mismatches found by a new user stay fixed: the roles `strata import --help`
 * and docs/import.md name are the ones the parser accepts (registration_status,
 * not reg_status); the flchain import of docs/import.md gives a cohort
 * `validate` accepts; a run with model.load is evaluated against the loaded
 * model's outcome without model.outcome; `evaluate --by ethnicity` finds a
 * column called race by its role, as `strata run` does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_docs__runnable_examples_run(void **state)
{
    const char *dir = tu_tmp("examples");
    char *out = NULL;
    int rc, ran = -1, skipped = -1, docs = -1;
    const char *build = getenv("STRATA_BUILD_DIR");
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    setenv("STRATA_SANITIZE", "1", 1);
#endif
    rc = tu_run_sh(&out, "/usr/bin/python3 '%s' '%s' '%s' '%s' '%s' '%s'",
                   tu_src("tests/docs/run_examples.py"), tu_source_dir(), build ? build : ".",
                   tu_cli(), tu_shared_data(), dir);
    print_message("%s", out);
    assert_int_equal(rc, 0);
    {
        const char *last = strstr(out, "docs examples: ");
        assert_non_null(last);
        assert_int_equal(sscanf(last, "docs examples: %d blocks ran, %d skipped in %d documents",
                                &ran, &skipped, &docs), 3);
    }
    /* import, synthetic, glm, evaluate, run-spec, python: none may go unrun */
    assert_true(ran + skipped >= 6);
    assert_true(docs >= 6);
    free(out);
}

static void test_docs__import_roles_are_the_parsers(void **state)
{
    char *help = NULL, *doc = tu_read_file(tu_src("docs/import.md"), NULL);
    (void)state;
    assert_int_equal(tu_run_cli(&help, "import --help"), 0);
    assert_non_null(doc);
    assert_null(strstr(help, "reg_status"));
    assert_null(strstr(doc, "reg_status"));
    for (int r = 1; r < STRATA_ROLE_COUNT_; r++) {
        const char *name = strata_role_name((strata_role)r);
        assert_int_equal(strata_role_parse(name), r);
        assert_contains(help, name);
        assert_contains(doc, name);
    }
    free(help);
    free(doc);
}

/* A synthetic cohort, a model fitted to it, exported with ethnicity renamed
 * race and imported back with role ethnicity=race. */
static const char *fixture(void)
{
    static char dir[4096];
    char *out = NULL;
    int rc;
    if (*dir)
        return dir;
    snprintf(dir, sizeof dir, "%s", tu_tmp("fixture"));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    rc = tu_run_cli(&out, "synth --icb QOC --patients 15000 --seed 7 --out '%s/c.h5' --quiet", dir);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_cli(&out, "fit '%s/c.h5' --formula \"emergency_admission_12m ~ age + sex + "
                          "ltc_count\" --out '%s/m.h5' --quiet", dir, dir);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_cli(&out, "export '%s/c.h5' --out '%s/x.csv' --columns "
                          "patient_id,age,sex,ltc_count,ethnicity,emergency_admission_12m", dir, dir);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_sh(&out, "sed '1s/ethnicity/race/' '%s/x.csv' > '%s/race.csv'", dir, dir);
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_cli(&out, "import '%s/race.csv' --out '%s/race.h5' --role patient_id=patient_id "
                          "--role age=age --role sex=sex --role ethnicity=race "
                          "--outcome emergency_admission_12m --quiet", dir, dir);
    assert_int_equal(rc, 0);
    free(out);
    return dir;
}

static void test_docs__evaluate_by_ethnicity_finds_race_by_role(void **state)
{
    const char *dir = fixture();
    char *out = NULL, path[4096], *summary;
    int rc;
    (void)state;
    rc = tu_run_cli(&out, "evaluate '%s/m.h5' '%s/race.h5' --by ethnicity --out '%s/ev'", dir, dir, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(path, sizeof path, "%s/ev/summary.csv", dir);
    summary = tu_read_file(path, NULL);
    assert_non_null(summary);
    /* one row per ethnic group, labelled by the by-name asked for */
    assert_contains(summary, "\nethnicity,White,");
    assert_contains(summary, "\nethnicity,Asian,");
    free(summary);
    rc = tu_run_cli(&out, "evaluate '%s/m.h5' '%s/race.h5' --by nosuch --out '%s/ev2'", dir, dir, dir);
    assert_int_equal(rc, 7);
    assert_contains(out, "by-column nosuch not found");
    free(out);
}

static void test_docs__model_load_is_evaluated_against_its_outcome(void **state)
{
    const char *dir = fixture();
    char *out = NULL, path[4096], *text;
    int rc;
    (void)state;
    snprintf(path, sizeof path, "%s/load.yaml", dir);
    tu_write_file(path, "cohort: c.h5\nmodel:\n  load: m.h5\nevaluate:\n  by: [sex]\n");
    rc = tu_run_cli(&out, "run '%s' --out '%s/run'", path, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_contains(out, "C-statistic");
    free(out);
    snprintf(path, sizeof path, "%s/run/fairness.csv", dir);
    text = tu_read_file(path, NULL);
    assert_non_null(text); /* evaluated: the fairness table exists */
    assert_contains(text, "\nsex,");
    free(text);
    /* a cohort without the outcome is scored, and the warning says why it is not evaluated */
    snprintf(path, sizeof path, "%s/noy.yaml", dir);
    tu_write_file(path, "cohort: c.h5\nmodel:\n  load: m.h5\n  outcome: no_such_outcome\n");
    rc = tu_run_cli(&out, "run '%s' --out '%s/run2'", path, dir);
    assert_int_equal(rc, 7);
    assert_contains(out, "model.outcome");
    assert_contains(out, "no_such_outcome");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs__runnable_examples_run),
        cmocka_unit_test(test_docs__import_roles_are_the_parsers),
        cmocka_unit_test(test_docs__evaluate_by_ethnicity_finds_race_by_role),
        cmocka_unit_test(test_docs__model_load_is_evaluated_against_its_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
