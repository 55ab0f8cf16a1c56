/* labels: unit golden determinism */
/* tests/test_synth_derive.c — the synthetic truth read back from events:
 * `strata derive` with data/specs/derive_default.yaml on a `strata synth`
 * cohort recomputes every flat column the events carry (condition flags,
 * ltc_count, efi_deficits, bmi, sbp, prior activity (spells, bed days, GP
 * appointments, A&E, outpatients), cost and repeat medicines (prescriptions),
 * every outcome and the time to event) byte for byte, replacing them in place;
 * polypharmacy (>= 10 repeats) and the eFI with its 36th deficit (>= 5) from
 * the prescriptions; the same bytes for 1 and 2 threads; the default run job
 * runs from events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"
#include "test_columns.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The flat columns the default spec derives (group/name). */
static const char *const derived[] = {
    "patients/hypertension", "patients/diabetes", "patients/asthma", "patients/copd",
    "patients/chd", "patients/heart_failure", "patients/af", "patients/stroke_tia",
    "patients/ckd", "patients/cancer", "patients/dementia", "patients/depression",
    "patients/smi", "patients/learning_disability", "patients/epilepsy", "patients/ltc_count",
    "patients/efi_deficits", "patients/bmi", "patients/sbp", "patients/prior_emergency_12m",
    "patients/prior_elective_12m", "patients/bed_days_12m", "patients/ae_attendances_12m",
    "patients/gp_appointments_12m", "patients/outpatient_12m",
    "patients/cost_12m", "patients/repeat_medicines", "outcomes/emergency_admission_12m",
    "outcomes/emergency_admissions_12m", "outcomes/time_to_emergency_days",
    "outcomes/emergency_event", "outcomes/death_12m", "outcomes/cost_next_12m"};
#define NDERIVED (sizeof derived / sizeof derived[0])

static void synth_cohort(const char *path, const char *icb, int64_t n, uint64_t seed, int threads)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth_params p;
    strata_synth *s = NULL;
    strata_synth_params_init(&p);
    p.scope = STRATA_SYNTH_ICB;
    p.code = icb;
    p.n_patients = n;
    p.seed = seed;
    strata_ctx_set_threads(ctx, threads);
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_OK);
    assert_status(ctx, strata_synth_write(ctx, s, path, NULL), STRATA_OK);
    strata_synth_free(s);
    strata_ctx_free(ctx);
}

static void derive_default(const char *in, const char *out, int threads, strata_derive_report *rep)
{
    strata_ctx *ctx = tu_ctx();
    strata_ctx_set_threads(ctx, threads);
    assert_status(ctx, strata_derive(ctx, in, tu_src("data/specs/derive_default.yaml"), out, rep),
                  STRATA_OK);
    strata_ctx_free(ctx);
}

/* Raw bytes of column name of the cohort at path; *dt its type, *n its rows. */
static unsigned char *raw_column(const char *path, const char *name, strata_dtype *dt, size_t *n)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    unsigned char *v;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, c, name, &j), STRATA_OK);
    *dt = strata_cohort_column(c, j)->dtype;
    *n = strata_cohort_column(c, j)->length;
    v = malloc(*n * strata_dtype_size(*dt) + 1);
    assert_status(ctx, strata_cohort_read_native(ctx, c, j, 0, *n, v), STRATA_OK);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    return v;
}

/* Every derived column equals synth's, byte for byte (NaN bits included). */
static void expect_truth(const char *truth, const char *der)
{
    for (size_t k = 0; k < NDERIVED; k++) {
        strata_dtype ta, tb;
        size_t na, nb;
        unsigned char *a = raw_column(truth, derived[k], &ta, &na);
        unsigned char *b = raw_column(der, derived[k], &tb, &nb);
        size_t es = strata_dtype_size(ta);
        if (ta != tb || na != nb)
            fail_msg("%s: type %s/%s, rows %zu/%zu", derived[k], strata_dtype_name(ta),
                     strata_dtype_name(tb), na, nb);
        for (size_t i = 0; i < na; i++)
            if (memcmp(a + i * es, b + i * es, es))
                fail_msg("%s: row %zu differs from the synthetic truth", derived[k], i);
        free(a);
        free(b);
    }
}

static void test_synth_derive__default_spec_reproduces_the_flat_columns(void **state)
{
    const char *c = tu_tmp("qoc.h5"), *d = tu_tmp("qoc_derived.h5");
    strata_derive_report rep;
    (void)state;
    synth_cohort(c, "QOC", 60000, 11, 2);
    derive_default(c, d, 2, &rep);
    assert_int_equal(rep.n_patients, 60000);
    assert_int_equal(rep.n_included, 60000); /* alive and registered at the index date */
    assert_int_equal(rep.n_replaced, NDERIVED); /* each column recomputed, not copied */
    expect_truth(c, d);
}

/* A second ICB and seed (London: other ages, deprivation and prevalences). */
static void test_synth_derive__another_icb_and_seed(void **state)
{
    const char *c = tu_tmp("qmj.h5"), *d = tu_tmp("qmj_derived.h5");
    strata_derive_report rep;
    (void)state;
    synth_cohort(c, "QMJ", 40000, 20260101, 1);
    derive_default(c, d, 1, &rep);
    assert_int_equal(rep.n_replaced, NDERIVED);
    expect_truth(c, d);
}

/* Polypharmacy from the prescriptions: >= 10 current repeats is exactly
 * repeat_medicines >= 10; the eFI with polypharmacy (>= 5 repeats) as its
 * 36th deficit is efi_deficits + [repeat_medicines >= 5]; all drugs of the
 * year (stopped repeats and acute issues too) are at least the current ones. */
static void test_synth_derive__polypharmacy_and_efi_from_prescriptions(void **state)
{
    const char *c = tu_tmp("rx.h5"), *y = tu_tmp("rx.yaml");
    char d[4096];
    size_t n, n2, n3, n4, n5, n10 = 0, more = 0;
    double *meds, *efi, *p10, *efi36, *all;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    snprintf(d, sizeof d, "%s", tu_tmp("rx_derived.h5"));
    synth_cohort(c, "QOC", 30000, 5, 2);
    tu_write_file(y, "index_date: 2025-12-01\nfeatures:\n"
                     "  - {name: poly10, kind: distinct, table: prescriptions, codes: bnf_code, "
                     "where: \"issue == repeat\", window: [-84, -1], at_least: 10}\n"
                     "  - {name: poly5, kind: distinct, table: prescriptions, codes: bnf_code, "
                     "where: \"issue == repeat\", window: [-84, -1], at_least: 5}\n"
                     "  - {name: efi36, kind: efi, table: gp_events, polypharmacy: poly5}\n"
                     "  - {name: drugs_12m, kind: distinct, table: prescriptions, window: [-365, -1]}\n");
    assert_status(ctx, strata_derive(ctx, c, y, d, NULL), STRATA_OK);
    meds = tu_column_f64(c, "repeat_medicines", &n);
    efi = tu_column_f64(c, "efi_deficits", &n2);
    p10 = tu_column_f64(d, "poly10", &n3);
    efi36 = tu_column_f64(d, "efi36", &n4);
    all = tu_column_f64(d, "drugs_12m", &n5);
    assert_int_equal(n, 30000);
    assert_true(n2 == n && n3 == n && n4 == n && n5 == n);
    for (size_t i = 0; i < n; i++) {
        if (p10[i] != (meds[i] >= 10))
            fail_msg("row %zu: poly10 %g, repeat_medicines %g", i, p10[i], meds[i]);
        if (efi36[i] != efi[i] + (meds[i] >= 5))
            fail_msg("row %zu: efi36 %g, efi_deficits %g, repeat_medicines %g", i, efi36[i],
                     efi[i], meds[i]);
        if (all[i] < meds[i])
            fail_msg("row %zu: %g drugs in the year, %g current repeats", i, all[i], meds[i]);
        n10 += p10[i] == 1;
        more += all[i] > meds[i];
    }
    assert_true(n10 > 100);  /* about 2 % of QOC's patients take 10 or more */
    assert_true(more > 1000); /* stopped repeats and acute issues are left out */
    free(meds);
    free(efi);
    free(p10);
    free(efi36);
    free(all);
    strata_ctx_free(ctx);
}

/* The spec of issue 11 as written (qof code list by its path in the source
 * tree, ever / count with where / sum / charlson over diag_* / efi / any /
 * time_to_first censored at death and deregistration) on a synthetic cohort:
 * hypertension, prior emergency admissions, bed days and the outcomes equal
 * the flat truth; the eFI of the last 5 years is at most the lifetime one;
 * the spells' ICD-10 comorbidities give Charlson scores. */
static void test_synth_derive__issue_spec_runs_on_a_synthetic_cohort(void **state)
{
    static const char *const same[][2] = {
        {"hypertension", "hypertension"},
        {"prior_emergency_12m", "prior_emergency_12m"},
        {"bed_days_12m", "bed_days_12m"},
        {"emergency_admission_12m", "emergency_admission_12m"},
        {"time_to_emergency", "time_to_emergency_days"},
        {"time_to_emergency_event", "emergency_event"}};
    const char *c = tu_tmp("issue.h5"), *y = tu_tmp("issue.yaml");
    char d[4096];
    strata_ctx *ctx = tu_ctx();
    strata_derive_report rep;
    size_t n, n2, n3, pos = 0;
    double *efi, *efi5, *ch;
    (void)state;
    snprintf(d, sizeof d, "%s", tu_tmp("issue_derived.h5"));
    synth_cohort(c, "QOC", 20000, 8, 2);
    tu_write_file(y, "index_date: 2025-12-01\n"
                     "codelists:\n"
                     "  qof: data/codelists/qof_clusters_snomed.csv     # columns code,category\n"
                     "features:\n"
                     "  - {name: hypertension,        kind: ever,  table: gp_events, codelist: qof/HYP_COD}\n"
                     "  - {name: prior_emergency_12m, kind: count, table: spells, where: \"admission_method == emergency\", window: [-365, -1]}\n"
                     "  - {name: bed_days_12m,        kind: sum,   table: spells, value: los_days, window: [-365, -1]}\n"
                     "  - {name: charlson,            kind: charlson, table: spells, codes: diag_*, weights: quan2011, window: [-730, -1]}\n"
                     "  - {name: efi_deficits,        kind: efi, table: gp_events, window: [-1825, -1]}\n"
                     "outcomes:\n"
                     "  - {name: emergency_admission_12m, kind: any, table: spells, where: \"admission_method == emergency\", window: [0, 364]}\n"
                     "  - {name: time_to_emergency, kind: time_to_first, table: spells, where: \"admission_method == emergency\", window: [0, 364], censor: [death_date, deregistration_date]}\n");
    assert_status(ctx, strata_derive(ctx, c, y, d, &rep), STRATA_OK);
    assert_int_equal(rep.n_included, 20000);
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        double *a = tu_column_f64(c, same[k][1], &n);
        double *b = tu_column_f64(d, same[k][0], &n2);
        assert_int_equal(n, n2);
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                fail_msg("%s row %zu: derived %g, flat %s %g", same[k][0], i, b[i], same[k][1],
                         a[i]);
        free(a);
        free(b);
    }
    efi = tu_column_f64(c, "efi_deficits", &n);
    efi5 = tu_column_f64(d, "efi_deficits", &n2);
    ch = tu_column_f64(d, "charlson", &n3);
    for (size_t i = 0; i < n; i++) {
        if (efi5[i] > efi[i])
            fail_msg("row %zu: eFI of 5 years %g > lifetime %g", i, efi5[i], efi[i]);
        pos += ch[i] > 0;
    }
    assert_true(pos > 100); /* comorbidities coded on spells give Charlson scores */
    free(efi);
    free(efi5);
    free(ch);
    strata_ctx_free(ctx);
}

static void test_synth_derive__same_bytes_for_1_and_2_threads(void **state)
{
    const char *c = tu_tmp("t.h5"), *c2 = tu_tmp("t2.h5");
    const char *d1 = tu_tmp("t_d1.h5"), *d2 = tu_tmp("t_d2.h5");
    strata_derive_report rep;
    (void)state;
    synth_cohort(c, "QOC", 20000, 3, 1);
    synth_cohort(c2, "QOC", 20000, 3, 2);
    assert_true(tu_files_equal(c, c2));
    derive_default(c, d1, 1, &rep);
    derive_default(c, d2, 2, &rep);
    assert_true(tu_files_equal(d1, d2));
}

/* Runs a job (synthetic QOC, 20,000 patients, the default model) with the
 * given derive: lines into dir. */
static void run_job(const char *name, const char *derive, const char *dir)
{
    char spec[8192], path[4096], *out = NULL;
    snprintf(path, sizeof path, "%s", tu_tmp(name));
    snprintf(spec, sizeof spec,
             "synth:\n  icb: QOC\n  patients: 20000\n  seed: 4\n%s"
             "model:\n  family: binomial\n  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + "
             "imd_decile + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m\"\n"
             "evaluate:\n  by: [imd_quintile, sex, pcn]\n", derive);
    tu_write_file(path, spec);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --overwrite", path, dir), 0);
    free(out);
}

/* The whole job from events (derive: a file, or inline) gives the same
 * patients, PCN tables and fairness table as the job on the flat columns. */
static void test_synth_derive__run_job_from_events_equals_flat_job(void **state)
{
    char flat[4096], file[4096], inl[4096], derive[4096];
    const char *files[] = {"patients.csv", "pcn_summary.csv", "fairness.csv", "inequality.csv"};
    (void)state;
    snprintf(flat, sizeof flat, "%s", tu_tmp("run_flat"));
    snprintf(file, sizeof file, "%s", tu_tmp("run_file"));
    snprintf(inl, sizeof inl, "%s", tu_tmp("run_inline"));
    run_job("flat.yaml", "", flat);
    snprintf(derive, sizeof derive, "derive: %s\n", tu_src("data/specs/derive_default.yaml"));
    run_job("file.yaml", derive, file);
    snprintf(derive, sizeof derive,
             "derive:\n  index_date: 2025-12-01\n  codelists:\n    ltc: %s\n  features:\n"
             "    - {name: ltc_count, kind: multimorbidity, table: gp_events, codelist: ltc}\n"
             "    - {name: efi_deficits, kind: efi, table: gp_events}\n"
             "    - {name: prior_emergency_12m, kind: count, table: spells, where: \"admission_method"
             " == emergency\", window: [-365, -1]}\n"
             "    - {name: ae_attendances_12m, kind: count, table: ae, window: [-365, -1]}\n"
             "  outcomes:\n"
             "    - {name: emergency_admission_12m, kind: any, table: spells, where: "
             "\"admission_method == emergency\", window: [0, 364]}\n",
             tu_src("data/codelists/ltc15_snomed.csv"));
    run_job("inline.yaml", derive, inl);
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char a[4200], b[4200], c[4200];
        snprintf(a, sizeof a, "%s/%s", flat, files[k]);
        snprintf(b, sizeof b, "%s/%s", file, files[k]);
        snprintf(c, sizeof c, "%s/%s", inl, files[k]);
        if (!tu_files_equal(a, b) || !tu_files_equal(a, c))
            fail_msg("%s differs between the flat job and the jobs from events", files[k]);
    }
    {
        char m[4200], *text;
        snprintf(m, sizeof m, "%s/manifest.json", file);
        text = tu_read_file(m, NULL);
        assert_non_null(text);
        assert_contains(text, "\"path\": \"features.h5\"");
        assert_contains(text, "\"included\": 20000"); /* derive.included */
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_derive__default_spec_reproduces_the_flat_columns),
        cmocka_unit_test(test_synth_derive__another_icb_and_seed),
        cmocka_unit_test(test_synth_derive__polypharmacy_and_efi_from_prescriptions),
        cmocka_unit_test(test_synth_derive__issue_spec_runs_on_a_synthetic_cohort),
        cmocka_unit_test(test_synth_derive__same_bytes_for_1_and_2_threads),
        cmocka_unit_test(test_synth_derive__run_job_from_events_equals_flat_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
