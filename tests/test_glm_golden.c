/* labels: golden */
/* tests/test_glm_golden.c — GLM coefficients, standard errors, z/t, p-values and
 * fit summary against R's glm() on real public data: the fixtures from
 * ../shared/data/reference_fits and data/golden/glm (made by make_glm.R).
 * Each real CSV is loaded into a temporary cohort by test code (glm_testdata.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-6

/* ---- fixtures ------------------------------------------------------------ */

typedef struct ref_row {
    char model[64], term[128];
    double est, se, stat, p;
} ref_row;

/* Splits one CSV line with quoted fields (no embedded quotes except "" pairs). */
static int split_csv(char *line, char **f, int maxf)
{
    int n = 0;
    char *s = line;
    while (*s && n < maxf) {
        if (*s == '"') {
            char *w = ++s;
            f[n++] = w;
            while (*s) {
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
            *w = 0;
        } else {
            f[n++] = s;
            while (*s && *s != ',' && *s != '\n' && *s != '\r')
                s++;
        }
        if (*s == ',') {
            *s++ = 0;
        } else {
            if (*s)
                *s = 0;
            break;
        }
    }
    return n;
}

static double num(const char *s) { return !strcmp(s, "NA") ? NAN : atof(s); }

/* Reads rows of data/golden/glm/glm_coef.csv for one model. */
static int read_golden(const char *model, ref_row *rows, int max)
{
    char line[4096], *f[16];
    int n = 0;
    FILE *fp = fopen(tu_src("data/golden/glm/glm_coef.csv"), "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        if (split_csv(line, f, 16) >= 6 && !strcmp(f[0], model) && n < max) {
            snprintf(rows[n].term, sizeof rows[n].term, "%s", f[1]);
            rows[n].est = num(f[2]);
            rows[n].se = num(f[3]);
            rows[n].stat = num(f[4]);
            rows[n].p = num(f[5]);
            n++;
        }
    fclose(fp);
    return n;
}

typedef struct ref_sum {
    double dev, nulldev, aic, disp, dfr;
    long n, iter;
} ref_sum;

static void read_summary(const char *model, ref_sum *s)
{
    char line[4096], *f[16];
    int found = 0;
    FILE *fp = fopen(tu_src("data/golden/glm/glm_summary.csv"), "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        if (split_csv(line, f, 16) >= 8 && !strcmp(f[0], model)) {
            s->dev = num(f[1]);
            s->nulldev = num(f[2]);
            s->aic = num(f[3]);
            s->disp = num(f[4]);
            s->dfr = num(f[5]);
            s->n = atol(f[6]);
            s->iter = atol(f[7]);
            found = 1;
        }
    fclose(fp);
    assert_true(found);
}

/* Rows of ../shared/data/reference_fits/r_reference_fits.csv: dataset + model prefix. */
static int read_reference(const char *dataset, const char *model_prefix, ref_row *rows, int max,
                          long *n_out)
{
    char line[4096], *f[16];
    int n = 0;
    FILE *fp = fopen(tu_data("reference_fits/r_reference_fits.csv"), "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        if (split_csv(line, f, 16) >= 9 && !strcmp(f[0], dataset) &&
            !strncmp(f[1], model_prefix, strlen(model_prefix)) && n < max) {
            snprintf(rows[n].term, sizeof rows[n].term, "%s", f[2]);
            rows[n].est = num(f[3]);
            rows[n].se = num(f[4]);
            rows[n].stat = num(f[5]);
            rows[n].p = num(f[6]);
            *n_out = atol(f[7]);
            n++;
        }
    fclose(fp);
    return n;
}

/* ---- comparison ------------------------------------------------------------ */

static double worst_rel = 0;

static void track(double got, double want)
{
    double r = fabs(got - want) / fmax(fabs(want), 1e-300);
    if (r > worst_rel)
        worst_rel = r;
}

static strata_model *fit_csv(strata_ctx *ctx, const char *csv_rel, const td_col *cols, int ncols,
                             const char *cohort_name, strata_family fam, const char *formula,
                             const char *weights)
{
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_glm_params p;
    const char *path = tu_tmp(cohort_name);
    assert_true(td_csv_to_cohort(ctx, tu_data(csv_rel), cols, ncols, path) > 0);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.family = fam;
    p.formula = formula;
    p.weights = weights;
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    strata_cohort_close(c);
    return m;
}

static void compare_rows(const strata_model *m, const ref_row *r, int n, const char *model)
{
    assert_int_equal(strata_model_nterms(m), (size_t)n);
    for (int i = 0; i < n; i++) {
        strata_coef c;
        assert_string_equal(strata_model_term(m, (size_t)i), r[i].term);
        strata_model_coef(m, (size_t)i, &c);
        if (isnan(r[i].est)) {
            assert_true(c.aliased);
            assert_true(isnan(c.estimate));
            continue;
        }
        assert_false(c.aliased);
        assert_rel_close(c.estimate, r[i].est, RTOL, "%s %s estimate", model, r[i].term);
        assert_rel_close(c.std_error, r[i].se, RTOL, "%s %s std_error", model, r[i].term);
        assert_rel_close(c.statistic, r[i].stat, RTOL, "%s %s statistic", model, r[i].term);
        if (r[i].p > 1e-290)
            assert_rel_close(c.p_value, r[i].p, RTOL, "%s %s p_value", model, r[i].term);
        track(c.estimate, r[i].est);
        track(c.std_error, r[i].se);
    }
}

static void compare_golden(const strata_model *m, const char *model)
{
    ref_row rows[64];
    ref_sum s = {0, 0, 0, 0, 0, 0, 0};
    strata_fit_summary fs;
    int n = read_golden(model, rows, 64);
    assert_true(n > 0);
    compare_rows(m, rows, n, model);
    read_summary(model, &s);
    strata_model_summary(m, &fs);
    assert_rel_close(fs.deviance, s.dev, 1e-9, "%s deviance", model);
    assert_rel_close(fs.null_deviance, s.nulldev, 1e-9, "%s null deviance", model);
    assert_rel_close(fs.aic, s.aic, 1e-9, "%s AIC", model);
    assert_rel_close(fs.dispersion, s.disp, 1e-8, "%s dispersion", model);
    assert_rel_close(fs.df_residual, s.dfr, 0, "%s df_residual", model);
    assert_int_equal(fs.n_used, (size_t)s.n);
    assert_int_equal(fs.iterations, s.iter); /* same IRLS path as R */
    assert_true(fs.converged);
    fprintf(stderr, "[ golden ] %-12s p=%zu n=%zu iter=%d worst rel diff so far %.2e\n", model,
            strata_model_nterms(m), fs.n_used, fs.iterations, worst_rel);
}

/* ---- UCI diabetes ---------------------------------------------------------- */

static const td_col dia_cols[] = {
    {"readmitted", "readmit30", TD_IND, "<30"}, {"race", "race", TD_CAT, NULL},
    {"gender", "gender", TD_CAT, NULL},         {"age", "age", TD_CAT, NULL},
    {"num_medications", "num_medications", TD_NUM, NULL},
    {"number_inpatient", "number_inpatient", TD_NUM, NULL},
    {"number_emergency", "number_emergency", TD_NUM, NULL},
    {"A1Cresult", "A1Cresult", TD_CAT, NULL},
    {"number_diagnoses", "number_diagnoses", TD_NUM, NULL},
    {"time_in_hospital", "time_in_hospital", TD_NUM, NULL},
    {"num_lab_procedures", "num_lab_procedures", TD_NUM, NULL},
};
#define NDIA ((int)(sizeof dia_cols / sizeof dia_cols[0]))

static void test_golden__diabetes_logit_factors_rcs_interaction(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m;
    (void)state;
    m = fit_csv(ctx, "uci_diabetes_130us/diabetic_data.csv", dia_cols, NDIA, "dia.h5",
                STRATA_FAMILY_BINOMIAL,
                "readmit30 ~ C(race, ref=Caucasian) + gender + age + rcs(num_medications, 4) + "
                "number_inpatient*gender + log1p(number_emergency) + A1Cresult",
                NULL);
    compare_golden(m, "dia_logit");
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

static void test_golden__diabetes_poisson_gamma_gaussian_weights(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m;
    (void)state;
    m = fit_csv(ctx, "uci_diabetes_130us/diabetic_data.csv", dia_cols, NDIA, "dia2.h5",
                STRATA_FAMILY_POISSON,
                "number_inpatient ~ age + gender + num_medications + number_diagnoses + time_in_hospital:gender",
                NULL);
    compare_golden(m, "dia_poisson");
    strata_model_free(ctx, m);
    {
        strata_cohort *c = NULL;
        strata_glm_params p;
        assert_status(ctx, strata_cohort_open(ctx, tu_tmp("dia2.h5"), &c), STRATA_OK);
        strata_glm_params_init(&p);
        p.family = STRATA_FAMILY_GAMMA;
        p.formula = "num_lab_procedures ~ time_in_hospital + gender + rcs(num_medications, 3) + log(number_diagnoses)";
        assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
        compare_golden(m, "dia_gamma");
        strata_model_free(ctx, m);
        p.family = STRATA_FAMILY_GAUSSIAN;
        p.formula = "num_medications ~ time_in_hospital + age + gender - 1";
        p.weights = "number_diagnoses";
        assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
        compare_golden(m, "dia_gauss_w");
        strata_model_free(ctx, m);
        strata_cohort_close(c);
    }
    strata_ctx_free(ctx);
}

/* The categorical-aware pass (factor main effects as level codes) and the dense
 * one-hot pass on the diabetes goldens: both match R; they agree with each other
 * to FACTOR_VS_DENSE relative (observed <= 1.5e-11 on dia_logit: the Gram sums
 * run in another order, and the dense path itself moves its coefficients by up
 * to 7.9e-12 when only block_rows changes from 8192 to 4096); the
 * categorical-aware pass gives the same bytes on 1 and 2 threads. */
#define FACTOR_VS_DENSE 5e-11
static strata_model *fit_pass(strata_ctx *ctx, strata_cohort *c, strata_family fam,
                              const char *formula, const char *weights, strata_glm_pass pass,
                              int threads)
{
    strata_model *m = NULL;
    strata_glm_params p;
    strata_glm_params_init(&p);
    p.family = fam;
    p.formula = formula;
    p.weights = weights;
    p.pass = pass;
    p.parallel_min_np = 1; /* both threads even at this size */
    strata_ctx_set_threads(ctx, threads);
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    return m;
}

static void test_golden__diabetes_factor_pass_equals_dense_pass_and_r(void **state)
{
    static const struct {
        const char *id, *formula, *weights;
        strata_family fam;
    } M[] = {
        {"dia_logit",
         "readmit30 ~ C(race, ref=Caucasian) + gender + age + rcs(num_medications, 4) + "
         "number_inpatient*gender + log1p(number_emergency) + A1Cresult",
         NULL, STRATA_FAMILY_BINOMIAL},
        {"dia_poisson", "number_inpatient ~ age + gender + num_medications + number_diagnoses + time_in_hospital:gender",
         NULL, STRATA_FAMILY_POISSON},
        {"dia_gauss_w", "num_medications ~ time_in_hospital + age + gender - 1", "number_diagnoses",
         STRATA_FAMILY_GAUSSIAN},
    };
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    (void)state;
    assert_true(td_csv_to_cohort(ctx, tu_data("uci_diabetes_130us/diabetic_data.csv"), dia_cols, NDIA,
                                 tu_tmp("dia3.h5")) > 0);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("dia3.h5"), &c), STRATA_OK);
    for (size_t k = 0; k < sizeof M / sizeof M[0]; k++) {
        strata_model *dn = fit_pass(ctx, c, M[k].fam, M[k].formula, M[k].weights, STRATA_GLM_PASS_DENSE, 1);
        strata_model *f1 = fit_pass(ctx, c, M[k].fam, M[k].formula, M[k].weights, STRATA_GLM_PASS_FACTOR, 1);
        strata_model *f2 = fit_pass(ctx, c, M[k].fam, M[k].formula, M[k].weights, STRATA_GLM_PASS_FACTOR, 2);
        size_t p = strata_model_nterms(dn);
        compare_golden(dn, M[k].id);
        compare_golden(f1, M[k].id);
        assert_int_equal(strata_model_nterms(f1), p);
        for (size_t j = 0; j < p; j++) {
            strata_coef a, b, b2;
            strata_model_coef(dn, j, &a);
            strata_model_coef(f1, j, &b);
            strata_model_coef(f2, j, &b2);
            assert_rel_close(b.estimate, a.estimate, FACTOR_VS_DENSE, "%s %s estimate factor vs dense", M[k].id,
                             strata_model_term(dn, j));
            assert_rel_close(b.std_error, a.std_error, FACTOR_VS_DENSE, "%s %s std_error factor vs dense", M[k].id,
                             strata_model_term(dn, j));
            assert_memory_equal(&b, &b2, sizeof b);
        }
        assert_memory_equal(strata_model_vcov(f1), strata_model_vcov(f2), p * p * sizeof(double));
        strata_model_free(ctx, dn);
        strata_model_free(ctx, f1);
        strata_model_free(ctx, f2);
    }
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* ---- flchain --------------------------------------------------------------- */

static const td_col fl_cols[] = {
    {"death", "death", TD_NUM, NULL},   {"age", "age", TD_NUM, NULL},
    {"sex", "sex", TD_CAT, NULL},       {"kappa", "kappa", TD_NUM, NULL},
    {"lambda", "lambda", TD_NUM, NULL}, {"futime", "futime", TD_POS, NULL},
    {"futime", "futime_years", TD_POSDIV, "365.25"},
    {"creatinine", "creatinine", TD_NUM, NULL}, {"flc.grp", "flc_grp", TD_CAT, NULL},
};
#define NFL ((int)(sizeof fl_cols / sizeof fl_cols[0]))

static void test_golden__flchain_poisson_offset_logit_aliased(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m;
    strata_cohort *c = NULL;
    strata_glm_params p;
    (void)state;
    m = fit_csv(ctx, "r_survival_datasets/flchain.csv", fl_cols, NFL, "fl.h5", STRATA_FAMILY_POISSON,
                "death ~ rcs(age, 4) + sex + log(kappa) + log(lambda) + age:sex + offset(log(futime))",
                NULL);
    compare_golden(m, "fl_poisson"); /* sexM:age is aliased in R too */
    strata_model_free(ctx, m);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("fl.h5"), &c), STRATA_OK);
    /* the categorical-aware pass with an offset and an aliased column (auto
     * keeps one binary factor dense) */
    m = fit_pass(ctx, c, STRATA_FAMILY_POISSON,
                 "death ~ rcs(age, 4) + sex + log(kappa) + log(lambda) + age:sex + offset(log(futime))",
                 NULL, STRATA_GLM_PASS_FACTOR, 2);
    compare_golden(m, "fl_poisson");
    strata_model_free(ctx, m);
    strata_glm_params_init(&p);
    p.formula = "death ~ age*sex + creatinine + flc_grp + rcs(kappa, 5)";
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    compare_golden(m, "fl_logit"); /* flc_grp levels in byte order: 1, 10, 2, ... */
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* ---- ../shared/data/reference_fits ---------------------------------------- */

static void test_golden__reference_fits(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ref_row rows[16];
    long nref = 0;
    int n;
    strata_model *m;
    strata_fit_summary fs;
    static const td_col fram[] = {
        {"TenYearCHD", "TenYearCHD", TD_NUM, NULL}, {"Gender", "Gender", TD_NUM, NULL},
        {"age", "age", TD_NUM, NULL},               {"cigsPerDay", "cigsPerDay", TD_NUM, NULL},
        {"totChol", "totChol", TD_NUM, NULL},       {"sysBP", "sysBP", TD_NUM, NULL},
        {"glucose", "glucose", TD_NUM, NULL}};
    static const td_col hf[] = {
        {"DEATH_EVENT", "DEATH_EVENT", TD_NUM, NULL}, {"age", "age", TD_NUM, NULL},
        {"ejection_fraction", "ejection_fraction", TD_NUM, NULL},
        {"serum_creatinine", "serum_creatinine", TD_NUM, NULL},
        {"serum_sodium", "serum_sodium", TD_NUM, NULL},
        {"high_blood_pressure", "high_blood_pressure", TD_NUM, NULL},
        {"anaemia", "anaemia", TD_NUM, NULL}};
    (void)state;
    n = read_reference("framingham/framingham_10yr_chd.csv", "glm", rows, 16, &nref);
    assert_int_equal(n, 7);
    m = fit_csv(ctx, "framingham/framingham_10yr_chd.csv", fram, 7, "fram.h5", STRATA_FAMILY_BINOMIAL,
                "TenYearCHD ~ Gender + age + cigsPerDay + totChol + sysBP + glucose", NULL);
    compare_rows(m, rows, n, "framingham");
    strata_model_summary(m, &fs);
    assert_int_equal(fs.n_used, (size_t)nref);
    strata_model_free(ctx, m);

    n = read_reference("heart_failure_clinical_records/heart_failure_clinical_records_dataset.csv",
                       "glm", rows, 16, &nref);
    assert_int_equal(n, 7);
    m = fit_csv(ctx, "heart_failure_clinical_records/heart_failure_clinical_records_dataset.csv", hf, 7,
                "hf.h5", STRATA_FAMILY_BINOMIAL,
                "DEATH_EVENT ~ age + ejection_fraction + serum_creatinine + serum_sodium + high_blood_pressure + anaemia",
                NULL);
    compare_rows(m, rows, n, "heart_failure");
    strata_model_free(ctx, m);

    n = read_reference("r_survival_datasets/flchain.csv", "glm poisson", rows, 16, &nref);
    assert_int_equal(n, 3);
    m = fit_csv(ctx, "r_survival_datasets/flchain.csv", fl_cols, NFL, "fl2.h5", STRATA_FAMILY_POISSON,
                "death ~ age + sex + offset(log(futime_years))", NULL);
    compare_rows(m, rows, n, "flchain_poisson");
    strata_model_summary(m, &fs);
    assert_int_equal(fs.n_used, (size_t)nref);
    strata_model_free(ctx, m);
    fprintf(stderr, "[ golden ] reference_fits: worst rel diff %.2e\n", worst_rel);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden__reference_fits),
        cmocka_unit_test(test_golden__flchain_poisson_offset_logit_aliased),
        cmocka_unit_test(test_golden__diabetes_logit_factors_rcs_interaction),
        cmocka_unit_test(test_golden__diabetes_poisson_gamma_gaussian_weights),
        cmocka_unit_test(test_golden__diabetes_factor_pass_equals_dense_pass_and_r),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
