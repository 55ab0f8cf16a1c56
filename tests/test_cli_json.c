/* labels: unit slow */
/* tests/test_cli_json.c — the `--json` summaries a pipeline parses: run, fit,
 * evaluate, validate and import (and import --dry-run) print one JSON
 * document on stdout (parsed here with Python's json module) whose values
 * equal what the program wrote (coefficients = `strata coef --csv`, patients
 * = the cohort's rows, the evaluation = evaluate.json), and a failure is JSON
 * too (status "error", its exit code and message); then the man page and the
 * bash completion made from --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_dir[4096];

/* Python expression over d = the JSON of file json; returns its str() (malloc'd, no newline). */
static char *jq(const char *json, const char *expr)
{
    char *out = NULL, path[4200];
    int rc;
    snprintf(path, sizeof path, "%s/%s", g_dir, json);
    rc = tu_run_sh(&out, "cd '%s' && /usr/bin/python3 -c \"import json; d = json.load(open('%s')); "
                         "print((%s))\"", g_dir, path, expr);
    if (rc != 0)
        fail_msg("%s: %s: %s", json, expr, out);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static void expect(const char *json, const char *expr, const char *want)
{
    char *got = jq(json, expr);
    if (strcmp(got, want))
        fail_msg("%s: %s = '%s', want '%s'", json, expr, got, want);
    free(got);
}

/* Runs "strata ARGS --json > FILE" in g_dir; returns the exit code. */
static int cli_json(const char *file, const char *args)
{
    char *out = NULL;
    int rc = tu_run_sh(&out, "cd '%s' && { '%s' %s --json > '%s'; }", g_dir, tu_cli(), args, file);
    free(out);
    return rc;
}

static int setup(void **state)
{
    char *out = NULL;
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmp("json"));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
    if (tu_run_sh(&out, "cd '%s' && '%s' synth --patients 20000 --seed 2 --quiet --out c.h5", g_dir,
                  tu_cli()) != 0)
        return -1;
    free(out);
    return 0;
}

static void test_json__fit_coefficients_are_coefs(void **state)
{
    char *csv = NULL, *save = NULL, *line;
    size_t k = 0;
    (void)state;
    assert_int_equal(cli_json("fit.json", "fit c.h5 --formula 'emergency_admission_12m ~ "
                                          "rcs(age, 4) + sex + ltc_count' --out m.h5"), 0);
    expect("fit.json", "d['command'], d['status'], d['exit'], d['converged']", "('fit', 'ok', 0, True)");
    expect("fit.json", "d['n_used'] + d['n_dropped']", "20000");
    assert_int_equal(tu_run_sh(&csv, "cd '%s' && '%s' coef m.h5 --csv", g_dir, tu_cli()), 0);
    strtok_r(csv, "\n", &save); /* header */
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char expr[160];
        char *f[8];
        size_t nf = tu_csv_split(line, f, 8);
        if (nf < 2)
            fail_msg("coef --csv line '%s'", line);
        snprintf(expr, sizeof expr, "d['coefficients'][%zu]['term'].replace(' ', '_') + ' ' + "
                 "repr(d['coefficients'][%zu]['estimate'])", k, k);
        {
            char *got = jq("fit.json", expr);
            char term[128];
            double v;
            assert_int_equal(sscanf(got, "%127s %lf", term, &v), 2);
            for (char *q = f[0]; *q; q++)
                *q = *q == ' ' ? '_' : *q;
            assert_string_equal(term, f[0]);
            assert_true(v == strtod(f[1], NULL)); /* %.17g both ways: the same double */
            free(got);
        }
        k++;
    }
    {
        char n[32];
        snprintf(n, sizeof n, "%zu", k);
        expect("fit.json", "len(d['coefficients'])", n);
    }
    free(csv);
}

/* Cox and elastic-net fits print the same document shape: the first estimate
 * is `strata coef --csv`'s, the Cox one carries hazard ratios and events, the
 * elastic net its selection; a Cox failure is JSON too. */
static void test_json__cox_and_elnet_fits(void **state)
{
    char *csv = NULL, *save = NULL, *line, *f[8], want[64];
    (void)state;
    assert_int_equal(cli_json("cox.json", "fit c.h5 --family cox --formula 'Surv(time_to_emergency_days, "
                                          "emergency_event) ~ age + sex' --out cm.h5"), 0);
    expect("cox.json", "d['status'], d['family'], d['ties'], d['converged']", "('ok', 'cox', 'efron', True)");
    expect("cox.json", "d['n_used'] + d['n_dropped']", "20000");
    expect("cox.json", "[c['term'] for c in d['coefficients']]", "['age', 'sexM']");
    expect("cox.json", "abs(d['coefficients'][0]['hazard_ratio'] - __import__('math').exp("
                       "d['coefficients'][0]['estimate'])) < 1e-12", "True");
    assert_int_equal(tu_run_sh(&csv, "cd '%s' && '%s' coef cm.h5 --csv", g_dir, tu_cli()), 0);
    strtok_r(csv, "\n", &save);
    line = strtok_r(NULL, "\n", &save);
    assert_non_null(line);
    assert_true(tu_csv_split(line, f, 8) >= 2);
    assert_string_equal(f[0], "age");
    snprintf(want, sizeof want, "%.17g", strtod(f[1], NULL));
    expect("cox.json", "'%.17g' % d['coefficients'][0]['estimate']", want);
    free(csv);
    assert_int_equal(cli_json("coxbad.json", "fit c.h5 --family cox --formula 'Surv(nope, emergency_event) "
                                             "~ age' --out x.h5"), 7);
    expect("coxbad.json", "d['status'], d['exit'], d['error_code']", "('error', 7, 'ESPEC')");

    assert_int_equal(cli_json("en.json", "fit c.h5 --formula 'emergency_admission_12m ~ age + sex + "
                                         "ltc_count' --alpha 0.5 --cv 3 --out em.h5"), 0);
    expect("en.json", "d['status'], d['family'], d['elastic_net']['alpha'], d['elastic_net']['selection']",
           "('ok', 'binomial', 0.5, 'cv_1se')");
    expect("en.json", "1 <= d['elastic_net']['selected_step'] <= d['elastic_net']['n_lambda']", "True");
    expect("en.json", "d['elastic_net']['nonzero'] == sum(1 for c in d['coefficients'][1:] if c['estimate'] "
                      "!= 0)", "True");
    assert_int_equal(tu_run_sh(&csv, "cd '%s' && '%s' coef em.h5 --csv", g_dir, tu_cli()), 0);
    save = NULL;
    strtok_r(csv, "\n", &save);
    line = strtok_r(NULL, "\n", &save);
    assert_non_null(line);
    assert_true(tu_csv_split(line, f, 8) >= 2);
    snprintf(want, sizeof want, "%.17g", strtod(f[1], NULL));
    expect("en.json", "'%.17g' % d['coefficients'][0]['estimate']", want);
    free(csv);
}

static void test_json__run_summary_and_failure(void **state)
{
    char spec[4200];
    (void)state;
    snprintf(spec, sizeof spec, "%s/job.yaml", g_dir);
    tu_write_file(spec, "cohort: c.h5\nmodel:\n  formula: \"emergency_admission_12m ~ age + sex + "
                        "ltc_count\"\nevaluate:\n  by: [sex]\ndisclosure:\n  round_to: 10\n");
    assert_int_equal(cli_json("run.json", "run job.yaml --out job"), 0);
    expect("run.json", "d['command'], d['status'], d['patients'], d['pcns'], d['evaluated']",
           "('run', 'ok', 20000, 11, True)");
    expect("run.json", "0.5 < d['c_statistic'] < 1 and 0.8 < d['observed_expected'] < 1.2", "True");
    expect("run.json", "d['disclosure']['enabled'], d['disclosure']['suppress_max'], "
                       "d['disclosure']['round_to']", "(True, 7, 10)");
    /* the rules are the manifest's disclosure block, word for word */
    expect("run.json", "d['disclosure']['rules'] == json.load(open('job/manifest.json'))"
                       "['disclosure']['rules']", "True");
    expect("run.json", "d['report'].endswith('job/report.html'), d['pcn_packs']", "(True, None)");
    /* counts as published: on the run's rounding grid (the exact ones stay in the text summary) */
    expect("run.json", "d['offered_proactive_care'] > 0 and d['offered_proactive_care'] % 10 == 0 "
                       "and d['patients'] % 10 == 0", "True");
    tu_write_file(spec, "cohort: c.h5\nmodel:\n  formula: \"y ~ x\"\n  colour: blue\n");
    assert_int_equal(cli_json("bad.json", "run job.yaml --out job2"), 7);
    expect("bad.json", "d['command'], d['status'], d['exit'], d['error_code']",
           "('run', 'error', 7, 'ESPEC')");
    expect("bad.json", "'colour' in d['error']", "True");
}

static void test_json__evaluate_embeds_its_evaluation(void **state)
{
    (void)state;
    if (cli_json("fit2.json", "fit c.h5 --formula 'emergency_admission_12m ~ age + sex' --out m2.h5"))
        fail_msg("fit failed");
    assert_int_equal(cli_json("ev.json", "evaluate m2.h5 c.h5 --by sex,imd_quintile --out ev"), 0);
    expect("ev.json", "d['command'], d['status'], d['rows'], d['by'], d['disclosure']",
           "('evaluate', 'ok', 20000, ['sex', 'imd_quintile'], True)");
    expect("ev.json", "d['evaluation'] == json.load(open(d['evaluate_json']))", "True");
    expect("ev.json", "0.5 < d['evaluation']['overall']['c'] < 1", "True");
}

static void test_json__validate_and_import(void **state)
{
    char csv[4200];
    (void)state;
    assert_int_equal(cli_json("val.json", "validate c.h5"), 0);
    expect("val.json", "d['exit'], d['files'][0]['valid'], d['files'][0]['patients'], "
                       "d['files'][0]['problems']", "(0, True, 20000, [])");
    snprintf(csv, sizeof csv, "%s/x.csv", g_dir);
    {   /* 300 ages and one word: a stray value, the import stops */
        char text[8192];
        size_t len = (size_t)snprintf(text, sizeof text, "id,age,sex\n");
        for (int i = 1; i <= 301; i++)
            len += (size_t)snprintf(text + len, sizeof text - len, i == 2 ? "%d,sixty,M\n" : "%d,%d,F\n",
                                    i, 20 + i % 60);
        tu_write_file(csv, text);
    }
    assert_int_equal(cli_json("dry.json", "import x.csv --dry-run"), 6);
    expect("dry.json", "d['status'], d['exit'], [c['name'] for c in d['columns']]",
           "('would_stop', 6, ['id', 'age', 'sex'])");
    expect("dry.json", "d['columns'][1]['odd_listed']", "[{'line': 3, 'value': 'sixty'}]");
    assert_int_equal(cli_json("imp.json", "import x.csv --out x.h5 --na NA,,sixty"), 0);
    expect("imp.json", "d['status'], d['rows'], d['columns'], d['bad_rows'], d['out']",
           "('ok', 301, 3, 0, 'x.h5')");
    /* no patient_id role: validate says why, as JSON, exit 1 */
    assert_int_equal(cli_json("val2.json", "validate x.h5"), 1);
    expect("val2.json", "d['exit'], d['files'][0]['valid'], d['files'][0]['counts']",
           "(1, False, {'structure': 1})");
    expect("val2.json", "'patient_id' in d['files'][0]['problems'][0]['message']", "True");
}

static void test_man_and_completion_from_help(void **state)
{
    char *man = NULL, *help = NULL, *comp = NULL;
    static const char *const cmds[] = {"run", "synth", "import", "export", "validate", "info",
                                       "derive", "fit", "coef", "score", "evaluate"};
    (void)state;
    assert_int_equal(tu_run_sh(&man, "cd '%s' && '%s' --man > strata.1 && MANWIDTH=120 man -l "
                                     "strata.1 2>/dev/null", g_dir, tu_cli()), 0);
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        char first[512];
        assert_int_equal(tu_run_cli(&help, "%s --help", cmds[k]), 0);
        /* the usage line of each command's --help is on the rendered page */
        snprintf(first, sizeof first, "%.*s", (int)strcspn(help, "\n"), help);
        assert_contains(man, first);
        free(help);
    }
    assert_contains(man, "strata import events");
    assert_int_equal(tu_run_sh(&comp, "cd '%s' && '%s' --completion bash > c.bash && bash -c '. ./c.bash; "
                                      "COMP_WORDS=(strata va); COMP_CWORD=1; _strata; echo \"${COMPREPLY[*]}\"; "
                                      "COMP_WORDS=(strata import --dr); COMP_CWORD=2; _strata; echo \"${COMPREPLY[*]}\"; "
                                      "COMP_WORDS=(strata fit --js); COMP_CWORD=2; _strata; echo \"${COMPREPLY[*]}\"'",
                                      g_dir, tu_cli()), 0);
    assert_string_equal(comp, "validate\n--dry-run\n--json\n");
    free(man);
    free(comp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__fit_coefficients_are_coefs),
        cmocka_unit_test(test_json__cox_and_elnet_fits),
        cmocka_unit_test(test_json__run_summary_and_failure),
        cmocka_unit_test(test_json__evaluate_embeds_its_evaluation),
        cmocka_unit_test(test_json__validate_and_import),
        cmocka_unit_test(test_man_and_completion_from_help),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
