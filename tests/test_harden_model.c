/* labels: unit harden */
/* tests/test_harden_model.c — issue 17 #2, #3, #7, #8: the formula parser and
 * the model loader check what they read. 30,000 nested parentheses (a stack
 * overflow) and more than 64 terms (a write past int codes[64*8]; above 128
 * terms the parser dropped terms silently) are named ESPEC errors; a model
 * file with block_rows "-5" (every patient scored 0, exit 0), a NaN
 * coefficient or knot (all-NA scores, exit 0), schema_version "99" (accepted),
 * an unknown unseen policy or family is EFORMAT naming the field; all-zero
 * weights are EDATA, not a "successful" fit with a NaN deviance; a run spec's
 * model.outcome that is not a column is ESPEC (it skipped evaluation, exit 0);
 * offset(sex) on a categorical column is ESPEC. No output is left by any. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cohort_internal.h"
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *cohort(void)
{
    static int made;
    const char *c = tu_tmp("g.h5");
    if (!made) {
        char *out = NULL;
        unlink(c);
        assert_int_equal(tu_run_cli(&out, "synth --patients 1500 --seed 2 --out '%s' --quiet", c), 0);
        free(out);
        made = 1;
    }
    return c;
}

/* strata fit with the formula in a fit spec (no argument-length limit). */
static int fit(const char *formula, const char *model, char **out)
{
    char spec[4096];
    FILE *f;
    snprintf(spec, sizeof spec, "%s.yaml", model);
    f = fopen(spec, "w");
    assert_non_null(f);
    fprintf(f, "formula: \"%s\"\n", formula);
    fclose(f);
    unlink(model);
    return tu_run_cli(out, "fit '%s' --spec '%s' --out '%s'", cohort(), spec, model);
}

static char *nested(int depth)
{
    const char *lhs = "emergency_admission_12m ~ ";
    size_t n = strlen(lhs) + 2 * (size_t)depth + 8;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "%s", lhs);
    memset(p, '(', (size_t)depth);
    p += depth;
    p += sprintf(p, "age");
    memset(p, ')', (size_t)depth);
    p[depth] = 0;
    return s;
}

static void test_formula__deep_parentheses_are_a_named_error(void **state)
{
    const char *model = tu_tmp("deep.h5");
    char *out = NULL, *f = nested(30000);
    (void)state;
    assert_int_equal(fit(f, model, &out), 7);
    assert_contains(out, "parentheses nested deeper than 64 at position 91");
    free(out);
    free(f);
    assert_int_equal(access(model, F_OK), -1);
    /* 64 deep is a formula like any other */
    f = nested(64);
    assert_int_equal(fit(f, model, &out), 0);
    free(out);
    free(f);
}

static void test_formula__more_than_64_terms_is_a_named_error(void **state)
{
    const char *model = tu_tmp("terms.h5");
    char *out = NULL;
    (void)state;
    assert_int_equal(fit("emergency_admission_12m ~ age*imd_decile*hypertension*diabetes*asthma*copd*chd",
                         model, &out),
                     7);
    assert_contains(out, "127 terms; a model has at most 64");
    free(out);
    /* 255 terms: more than the parser holds, said instead of dropped */
    assert_int_equal(fit("emergency_admission_12m ~ age*imd_decile*hypertension*diabetes*asthma*copd*chd*af",
                         model, &out),
                     7);
    assert_contains(out, "more than 128 terms");
    free(out);
    assert_int_equal(access(model, F_OK), -1);
}

static void test_formula__offset_of_a_categorical_is_refused(void **state)
{
    const char *model = tu_tmp("off.h5");
    char *out = NULL;
    (void)state;
    assert_int_equal(fit("emergency_admission_12m ~ age + offset(sex)", model, &out), 7);
    assert_contains(out, "column 'sex' is categorical");
    assert_contains(out, "offset");
    free(out);
    assert_int_equal(access(model, F_OK), -1);
}

/* ---- model files: a good one, then one field at a time made bad ---------- */

static const char *good_model(void)
{
    static int made;
    const char *m = tu_tmp("good.h5");
    if (!made) {
        char *out = NULL;
        assert_int_equal(fit("emergency_admission_12m ~ rcs(age, 4) + sex + ltc_count", m, &out), 0);
        free(out);
        made = 1;
    }
    return m;
}

/* A copy of model file src named name, open for writing. */
static hid_t copy_of(const char *src, const char *name)
{
    hid_t f;
    assert_int_equal(tu_run_sh(NULL, "cp '%s' '%s'", src, tu_tmp(name)), 0);
    f = H5Fopen(tu_tmp(name), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

static hid_t bad_copy(const char *name)
{
    return copy_of(good_model(), name);
}

/* Sets element k of a numeric dataset (HDF5 converts to its integer type). */
static void set_f64(hid_t f, const char *path, size_t k, double v)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    double *x = malloc((size_t)n * sizeof *x);
    assert_true(d >= 0 && (hssize_t)k < n);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    x[k] = v;
    assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    free(x);
    H5Sclose(sp);
    H5Dclose(d);
}

/* Scoring with the model file name is refused: exit 5, the messages, no output. */
static void refused(const char *name, const char *want1, const char *want2)
{
    char *out = NULL, scores[4200];
    snprintf(scores, sizeof scores, "%s.scores.csv", tu_tmp(name));
    unlink(scores);
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --out '%s'", tu_tmp(name), cohort(), scores), 5);
    assert_contains(out, tu_tmp(name));
    assert_contains(out, want1);
    if (want2)
        assert_contains(out, want2);
    free(out);
    assert_int_equal(tu_run_sh(NULL, "ls '%s'* >/dev/null 2>&1", scores) != 0, 1);
    assert_int_equal(tu_run_cli(&out, "coef '%s'", tu_tmp(name)), 5);
    free(out);
}

static void test_model__every_field_is_checked_on_load(void **state)
{
    hid_t f;
    char *out = NULL, scores[4200];
    (void)state;
    /* the good one scores */
    snprintf(scores, sizeof scores, "%s.scores.csv", good_model());
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --out '%s'", good_model(), cohort(), scores), 0);
    free(out);

    f = bad_copy("block.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "block_rows", "-5"), 0);
    H5Fclose(f);
    refused("block.h5", "block_rows '-5' is not a block size (16..16777216)", NULL);

    f = bad_copy("block0.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "block_rows", "0"), 0);
    H5Fclose(f);
    refused("block0.h5", "block_rows '0' is not a block size", NULL);

    f = bad_copy("nan_coef.h5");
    set_f64(f, "/coefficients/estimate", 1, NAN);
    H5Fclose(f);
    refused("nan_coef.h5", "coefficient 1 (", "estimate nan");

    f = bad_copy("inf_coef.h5");
    set_f64(f, "/coefficients/estimate", 0, INFINITY);
    H5Fclose(f);
    refused("inf_coef.h5", "coefficient 0 ((Intercept)): estimate inf", NULL);

    f = bad_copy("nan_knot.h5");
    set_f64(f, "/spec/var1/knots", 2, NAN);
    H5Fclose(f);
    refused("nan_knot.h5", "/spec/var1/knots: knot 3 is nan; knots are finite and increasing", NULL);

    f = bad_copy("knot_order.h5");
    set_f64(f, "/spec/var1/knots", 1, -1000.0);
    H5Fclose(f);
    refused("knot_order.h5", "knot 2 is -1000", NULL);

    f = bad_copy("version.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "schema_version", "99"), 0);
    H5Fclose(f);
    refused("version.h5", "model file schema_version '99'; this strata reads versions 1 to 2 only", NULL);

    f = bad_copy("unseen.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "unseen", "bogus"), 0);
    H5Fclose(f);
    refused("unseen.h5", "unseen 'bogus' is neither", NULL);

    f = bad_copy("family.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "family", "weibull"), 0);
    H5Fclose(f);
    refused("family.h5", "family 'weibull' is not one strata fits", NULL);

    f = bad_copy("summary.h5");
    set_f64(f, "/summary/value", 8, -3.0); /* n_used */
    H5Fclose(f);
    refused("summary.h5", "/summary/value: n_used is -3", NULL);
}

/* ---- Cox and elastic-net model files: values checked on load ------------- */

enum { COEF, SCORE };

/* `strata coef name` or `strata score name COHORT --horizon 365` exits 5
 * naming the file and saying want. */
static void refused_by(int cmd, const char *name, const char *want)
{
    char *out = NULL;
    int rc = cmd == COEF ? tu_run_cli(&out, "coef '%s'", tu_tmp(name))
                         : tu_run_cli(&out, "score '%s' '%s' --horizon 365 --out '%s'", tu_tmp(name),
                                      cohort(), tu_tmp("refused.csv"));
    if (rc != 5)
        fail_msg("%s: exit %d, want 5: %s", name, rc, out);
    assert_contains(out, tu_tmp(name));
    assert_contains(out, want);
    free(out);
}

/* One value of a copy of a good model file made bad, and what loading it says. */
typedef struct bad_value {
    const char *file, *dataset;
    size_t k;
    double v;    /* converted to the dataset's type */
    int cmd;     /* COEF or SCORE */
    const char *want;
} bad_value;

static void refused_values(const char *good, const bad_value *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hid_t f = copy_of(good, b[i].file);
        set_f64(f, b[i].dataset, b[i].k, b[i].v);
        H5Fclose(f);
        refused_by(b[i].cmd, b[i].file, b[i].want);
    }
}

/* Issue 17: a Cox model file's values are checked on load (coef and score):
 * baseline times finite and increasing and cumulative hazard finite, >= 0
 * and non-decreasing within each stratum; strata that start at 0, ascend and
 * cover the baseline; stratum codes and keys; ties; coefficient count and
 * values; the summary's counts. Each bad file is EFORMAT naming the file,
 * the dataset and the bad value. */
static void test_model__cox_file_values_are_checked_on_load(void **state)
{
    static const bad_value bad[] = {
        {"cox_time_nan.h5", "/baseline/time", 3, NAN, COEF, "/baseline/time[3] is nan (stratum 1); baseline times are finite and increasing within a stratum"},
        {"cox_time_down.h5", "/baseline/time", 5, -1.0, COEF, "/baseline/time[5] is -1 (stratum 1)"},
        {"cox_haz_neg.h5", "/baseline/cumhaz", 0, -0.5, COEF, "/baseline/cumhaz[0] is -0.5 (stratum 1); a cumulative hazard is finite, >= 0 and non-decreasing"},
        {"cox_haz_down.h5", "/baseline/cumhaz", 6, 0.0, SCORE, "/baseline/cumhaz[6] is 0 (stratum 1); a cumulative hazard is finite, >= 0 and non-decreasing"},
        {"cox_haz_inf.h5", "/baseline/cumhaz", 7, INFINITY, COEF, "/baseline/cumhaz[7] is inf"},
        {"cox_start0.h5", "/baseline/stratum_start", 0, 1, COEF, "/baseline/stratum_start[0] is 1; strata start at 0 and ascend"},
        {"cox_start_end.h5", "/baseline/stratum_start", 2, 1000000, COEF, "values; /baseline/stratum_start ends at 1000000"},
        {"cox_code.h5", "/baseline/stratum_code", 1, 0, COEF, "/baseline/stratum_code[1] is 0; codes name one of the 2 strata, each once"},
        {"cox_strata_value.h5", "/strata/value", 1, -7.0, SCORE, "/strata/value[1] is -7; stratum values are finite and increasing"},
        {"cox_nstrata.h5", "/summary/value", 14, 1e300, COEF, "/summary/value: nstrata is 1e+300"},
        {"cox_n.h5", "/summary/value", 0, NAN, COEF, "/summary/value: n is nan"},
        {"cox_estimate.h5", "/coefficients/estimate", 1, NAN, SCORE, "coefficient 2 (ltc_count): estimate nan, standard error "},
        {"cox_se.h5", "/coefficients/std_error", 0, -1.0, COEF, "coefficient 1 (age): estimate "},
        {"cox_aliased.h5", "/coefficients/aliased", 0, 2, COEF, "/coefficients/aliased[0] is 2, not 0 or 1"},
    };
    char good[4200], *out = NULL;
    hid_t f;
    (void)state;
    snprintf(good, sizeof good, "%s", tu_tmp("cox_good.h5"));
    unlink(good);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --family cox --formula 'Surv(time_to_emergency_days, "
                                      "emergency_event) ~ age + ltc_count + strata(sex)' --out '%s'",
                                cohort(), good), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --horizon 365 --out '%s'", good, cohort(),
                                tu_tmp("cox_good.csv")), 0);
    free(out);
    refused_values(good, bad, sizeof bad / sizeof bad[0]);
    refused_by(SCORE, "cox_time_nan.h5", "/baseline/time[3] is nan");

    f = copy_of(good, "cox_ties.h5");
    assert_int_equal(strata_h5_write_attr_string(f, "ties", "exact"), 0);
    H5Fclose(f);
    refused_by(COEF, "cox_ties.h5", "ties 'exact' is neither 'efron' nor 'breslow'");

    f = copy_of(good, "cox_terms.h5");
    assert_true(H5Ldelete(f, "/coefficients/term", H5P_DEFAULT) >= 0);
    assert_int_equal(strata_h5_write_strings(f, "/coefficients/term", (const char *const[]){"age"}, 1), 0);
    H5Fclose(f);
    refused_by(COEF, "cox_terms.h5", "/coefficients/term has 1 terms; the formula's design has 2");
}

/* Issue 17: the elastic-net extras of a model file (path and CV curve) are
 * checked on load like the coefficients: lambdas finite, >= 0, decreasing;
 * coefficients, intercepts finite; dev_ratio <= 1; df and CV non-zero counts
 * 0..p; alpha in [0, 1]; the CV curve on the path's lambdas with standard
 * errors >= 0 and a known measure. */
static void test_model__elnet_path_and_cv_are_checked_on_load(void **state)
{
    static const bad_value bad[] = {
        {"en_lambda.h5", "/elnet/lambda", 2, 1e9, COEF, "/elnet/lambda at step 3 is 1e+09; a path has finite values, lambdas >= 0 and decreasing, dev_ratio <= 1, df 0..3"},
        {"en_beta.h5", "/elnet/beta", 5, NAN, COEF, "/elnet/beta at step 2 is nan"},
        {"en_a0.h5", "/elnet/a0", 0, INFINITY, COEF, "/elnet/a0 at step 1 is inf"},
        {"en_dev.h5", "/elnet/dev_ratio", 3, 1.5, COEF, "/elnet/dev_ratio at step 4 is 1.5"},
        {"en_df.h5", "/elnet/df", 0, 99, COEF, "/elnet/df at step 1 is 99"},
        {"en_alpha.h5", "/elnet/alpha_lambda_selected", 0, 2.0, COEF, "/elnet alpha is 2, not in [0, 1]"},
        {"en_selected.h5", "/elnet/alpha_lambda_selected", 2, 1.5, COEF, "/elnet does not match the model's 4 terms"},
        {"en_cvsd.h5", "/elnet/cv_sd", 0, -1.0, COEF, "/elnet/cv_sd at step 1 is -1; a CV curve has the path's lambdas, means that are not infinite, standard errors >= 0 and 0..3 non-zero terms"},
        {"en_cvlambda.h5", "/elnet/cv_lambda", 1, 123.0, COEF, "/elnet/cv_lambda at step 2 is 123"},
        {"en_cvnzero.h5", "/elnet/cv_nzero", 0, -1, COEF, "/elnet/cv_nzero at step 1 is -1"},
    };
    char good[4200], *out = NULL;
    hid_t f;
    (void)state;
    snprintf(good, sizeof good, "%s", tu_tmp("en_good.h5"));
    unlink(good);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --family binomial --formula 'emergency_admission_12m ~ "
                                      "age + ltc_count + sex' --alpha 0.5 --nlambda 20 --cv 3 --out '%s'",
                                cohort(), good), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "coef '%s'", good), 0);
    free(out);

    refused_values(good, bad, sizeof bad / sizeof bad[0]);

    f = copy_of(good, "en_measure.h5");
    assert_true(H5Ldelete(f, "/elnet/cv_measure", H5P_DEFAULT) >= 0);
    assert_int_equal(strata_h5_write_strings(f, "/elnet/cv_measure", (const char *const[]){"gini"}, 1), 0);
    H5Fclose(f);
    refused_by(COEF, "en_measure.h5", "/elnet/cv_measure 'gini' is not deviance, mse or auc");
}

static void test_fit__all_zero_weights_are_an_error(void **state)
{
    const char *csv = tu_tmp("w0.csv"), *h5 = tu_tmp("w0.h5"), *model = tu_tmp("w0_model.h5");
    char *out = NULL;
    (void)state;
    tu_write_file(csv, "id,y,x,w\n1,0,1.5,0\n2,1,2.5,0\n3,0,0.5,0\n4,1,3.0,0\n5,1,2.0,0\n");
    unlink(h5);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id --quiet", csv, h5), 0);
    free(out);
    unlink(model);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula 'y ~ x' --weights w --family binomial --out '%s'",
                                h5, model),
                     6);
    assert_contains(out, "weights column 'w': every weight of the 5 rows used is 0");
    free(out);
    assert_int_equal(access(model, F_OK), -1);
}

static void test_run__named_outcome_that_is_not_a_column_is_refused(void **state)
{
    char spec[4200], dir[4200], *out = NULL;
    (void)state;
    snprintf(spec, sizeof spec, "%s", tu_tmp("outcome.yaml"));
    snprintf(dir, sizeof dir, "%s", tu_tmp("outcome_out"));
    tu_run_sh(NULL, "rm -rf '%s'", dir);
    {
        char text[4400];
        snprintf(text, sizeof text,
                 "cohort: %s\nmodel:\n  formula: \"emergency_admission_12m ~ age\"\n"
                 "  outcome: nope\nthreads: 1\n",
                 cohort());
        tu_write_file(spec, text);
    }
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 7);
    assert_contains(out, "model.outcome: \"nope\" is not a column of");
    free(out);
    assert_int_equal(tu_run_sh(NULL, "test -z \"$(ls -A '%s')\"", dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula__deep_parentheses_are_a_named_error),
        cmocka_unit_test(test_formula__more_than_64_terms_is_a_named_error),
        cmocka_unit_test(test_formula__offset_of_a_categorical_is_refused),
        cmocka_unit_test(test_model__every_field_is_checked_on_load),
        cmocka_unit_test(test_model__cox_file_values_are_checked_on_load),
        cmocka_unit_test(test_model__elnet_path_and_cv_are_checked_on_load),
        cmocka_unit_test(test_fit__all_zero_weights_are_an_error),
        cmocka_unit_test(test_run__named_outcome_that_is_not_a_column_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
