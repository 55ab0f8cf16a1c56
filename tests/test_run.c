/* labels: unit determinism slow */
/* tests/test_run.c — `strata run` end to end on a synthetic PCN: every output
 * exists with the right mode, no aggregate shows a count of 1-7 or a patient
 * id, outputs are byte-identical with 1 and 2 threads (and under a 1 MB
 * memory budget), the report renders in
 * headless Chromium with its charts, a bad spec names key and line, the job's
 * per-patient values equal the library's (both Charlson weightings), the
 * caller's context keeps its thread count, and a gamma model is evaluated as
 * gamma. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "sdc_attack.h"
#include "testutil.h"

#include <ctype.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *AGGREGATES[] = {"pcn_summary.csv", "practice_summary.csv", "icb_summary.csv",
                                   "inequality.csv",  "sii.csv",              "fairness.csv"};
static const char *PATIENT_LEVEL[] = {"patients.csv", "intervention_list.csv", "cohort.h5"};

static void write_spec(const char *dir, int threads, const char *memory)
{
    char path[4096], text[2048];
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    snprintf(text, sizeof text,
             "synth:\n  patients: 30000\n  seed: 3\n"
             "model:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + "
             "prior_emergency_12m + age:sex\"\n"
             "evaluate:\n  by: [imd_quintile, sex, age_band, pcn]\n"
             "stratify:\n  capacity_per_1000: 5\n  budget: 500000\n"
             "report:\n  title: Test ICB\n"
             "threads: %d\n%s%s%s",
             threads, memory ? "memory: " : "", memory ? memory : "", memory ? "\n" : "");
    tu_write_file(path, text);
}

/* The job of write_spec run into dir (memory: NULL for no budget). */
static void run_into_mem(const char *dir, int threads, const char *memory)
{
    char *out = NULL;
    int rc;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    write_spec(dir, threads, memory);
    rc = tu_run_cli(&out, "run '%s/spec.yaml' --out '%s/out'", dir, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_contains(out, "report              open");
    free(out);
}

static void run_into(const char *dir, int threads)
{
    run_into_mem(dir, threads, NULL);
}

/* An empty folder dir holding spec.yaml = text; path = the spec's path. */
static void fresh_job(const char *dir, const char *text, char *path, size_t size)
{
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, size, "%s/spec.yaml", dir);
    tu_write_file(path, text);
}

static int is_count_column(const char *name)
{
    return !strcmp(name, "n") || !strncmp(name, "n_", 2) || !strcmp(name, "events");
}

/* Fails if a count column of an aggregate CSV shows 1..7 or a value not
 * rounded to 5; returns the number of count cells checked. */
static size_t scan_counts(const char *path)
{
    char *text = tu_read_file(path, NULL), *save = NULL, *line;
    char *head[256], *f[256];
    int is_count[256] = {0};
    size_t nh, checked = 0, lineno = 1;
    assert_non_null(text);
    line = strtok_r(text, "\r\n", &save);
    assert_non_null(line);
    nh = tu_csv_split(line, head, 256);
    for (size_t k = 0; k < nh; k++)
        is_count[k] = is_count_column(head[k]);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        size_t nf = tu_csv_split(line, f, 256);
        lineno++;
        for (size_t k = 0; k < nf && k < nh; k++) {
            char *end;
            double v;
            if (!is_count[k] || !*f[k] || !strcmp(f[k], "*"))
                continue;
            v = strtod(f[k], &end);
            if (*end)
                continue;
            checked++;
            if ((v >= 1 && v <= 7) || fmod(v, 5) != 0)
                fail_msg("%s line %zu column %s: count %s is not disclosure-controlled", path,
                         lineno, head[k], f[k]);
        }
    }
    free(text);
    return checked;
}

/* The HDF5 copy of the aggregates: every dataset of kind "count" shows no
 * value in 1..7 and only multiples of 5 (NaN = suppressed). */
static size_t scan_h5_counts(const char *path)
{
    static const char *const groups[] = {"pcn_summary", "practice_summary", "inequality", "fairness"};
    size_t checked = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    for (size_t gi = 0; gi < sizeof groups / sizeof *groups; gi++) {
        hid_t g = H5Gopen2(f, groups[gi], H5P_DEFAULT);
        H5G_info_t info;
        assert_true(g >= 0);
        H5Gget_info(g, &info);
        for (hsize_t k = 0; k < info.nlinks; k++) {
            char name[256], kind[32] = "";
            hid_t d, a, t, sp;
            hssize_t n;
            H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name, H5P_DEFAULT);
            d = H5Dopen2(g, name, H5P_DEFAULT);
            if (H5Aexists(d, "kind") <= 0) {
                H5Dclose(d);
                continue;
            }
            a = H5Aopen(d, "kind", H5P_DEFAULT);
            t = H5Aget_type(a);
            H5Aread(a, t, kind);
            H5Tclose(t);
            H5Aclose(a);
            if (!strcmp(kind, "count")) {
                double *v;
                sp = H5Dget_space(d);
                n = H5Sget_simple_extent_npoints(sp);
                v = malloc((size_t)n * sizeof *v + 1);
                H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
                for (hssize_t i = 0; i < n; i++) {
                    if (isnan(v[i]))
                        continue;
                    checked++;
                    if ((v[i] >= 1 && v[i] <= 7) || fmod(v[i], 5) != 0)
                        fail_msg("%s:/%s/%s row %lld: count %g not disclosure-controlled", path,
                                 groups[gi], name, (long long)i + 1, v[i]);
                }
                free(v);
                H5Sclose(sp);
            }
            H5Dclose(d);
        }
        H5Gclose(g);
    }
    H5Fclose(f);
    return checked;
}

static void test_run__outputs_modes_and_disclosure(void **state)
{
    const char *dir = tu_tmp("run1");
    char path[4096];
    struct stat sb;
    size_t checked = 0;
    char *ids, *save = NULL, *line;
    (void)state;
    run_into(dir, 2);
    for (size_t k = 0; k < sizeof PATIENT_LEVEL / sizeof *PATIENT_LEVEL; k++) {
        snprintf(path, sizeof path, "%s/out/%s", dir, PATIENT_LEVEL[k]);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }
    for (size_t k = 0; k < sizeof AGGREGATES / sizeof *AGGREGATES; k++) {
        snprintf(path, sizeof path, "%s/out/%s", dir, AGGREGATES[k]);
        assert_int_equal(stat(path, &sb), 0);
        checked += scan_counts(path);
    }
    assert_true(checked > 100); /* the scan really looked at counts */
    snprintf(path, sizeof path, "%s/out/aggregates.h5", dir);
    assert_true(scan_h5_counts(path) > 100);
    snprintf(path, sizeof path, "%s/out/manifest.json", dir);
    {
        char *m = tu_read_file(path, NULL);
        assert_non_null(m);
        assert_contains(m, "\"sha256\"");
        assert_contains(m, "OpenBLAS");
        assert_contains(m, "\"threads\": 2");
        free(m);
    }
    /* No patient identifier appears in any aggregate output or the report. */
    snprintf(path, sizeof path, "%s/out/patients.csv", dir);
    ids = tu_read_file(path, NULL);
    assert_non_null(ids);
    strtok_r(ids, "\r\n", &save); /* header */
    {
        char *agg[8];
        size_t na = 0, n_ids = 0;
        for (size_t k = 0; k < sizeof AGGREGATES / sizeof *AGGREGATES; k++) {
            snprintf(path, sizeof path, "%s/out/%s", dir, AGGREGATES[k]);
            agg[na++] = tu_read_file(path, NULL);
        }
        snprintf(path, sizeof path, "%s/out/report.html", dir);
        agg[na++] = tu_read_file(path, NULL);
        while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && n_ids < 2000) {
            char id[32];
            snprintf(id, sizeof id, "%.*s", (int)strcspn(line, ","), line);
            for (size_t k = 0; k < na; k++)
                if (agg[k] && strstr(agg[k], id))
                    fail_msg("patient id %s appears in an aggregate output", id);
            n_ids++;
        }
        assert_true(n_ids >= 2000);
        for (size_t k = 0; k < na; k++)
            free(agg[k]);
    }
    free(ids);
    /* Each listed patient carries reasons as text (tests/test_reasons.c). */
    snprintf(path, sizeof path, "%s/out/intervention_list.csv", dir);
    {
        char *list = tu_read_file(path, NULL), *second;
        assert_non_null(list);
        assert_contains(list, ",reason_1,reason_2,reason_3\r\n1,");
        second = strstr(list, "\r\n") + 2;
        /* the top-ranked patient's first reason speaks of one of the formula's variables */
        assert_true(strstr(second, " emergency admission") || strstr(second, " long-term condition") ||
                    strstr(second, ",lives in IMD decile ") || strstr(second, ",age ") ||
                    strstr(second, ",male"));
        assert_null(strstr(second, "rcs("));
        free(list);
    }
}

/* The same bytes with 1 and 2 threads, and under `memory: 1M` on 2 threads
 * (evaluation's sorted rows and the tier and list ranking then go through
 * scratch files: docs/scale.md). */
static void test_run__same_bytes_with_one_and_two_threads(void **state)
{
    const char *dirs[3] = {tu_tmp("run_t1"), tu_tmp("run_t2"), tu_tmp("run_t2_1M")};
    static const char *same[] = {"pcn_summary.csv", "practice_summary.csv", "inequality.csv",
                                 "sii.csv",         "fairness.csv",         "patients.csv",
                                 "intervention_list.csv", "report.html", "cohort.h5",
                                 "icb_summary.csv", "core20plus5.csv", "aggregates_long.csv"};
    (void)state;
    run_into(dirs[0], 1);
    run_into(dirs[1], 2);
    run_into_mem(dirs[2], 2, "1M");
    for (int d = 1; d < 3; d++)
        for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
            char pa[4096], pb[4096];
            snprintf(pa, sizeof pa, "%s/out/%s", dirs[0], same[k]);
            snprintf(pb, sizeof pb, "%s/out/%s", dirs[d], same[k]);
            if (!tu_files_equal(pa, pb))
                fail_msg("%s differs between 1 thread and %s", same[k], d == 1 ? "2" : "2 under memory: 1M");
        }
}

static void test_run__report_renders_with_charts(void **state)
{
    const char *dir = tu_tmp("run1");
    char *out = NULL, *dom;
    char html[4096], png[4096], dompath[4200];
    int rc, w, h, colours;
    double nonwhite;
    (void)state;
    snprintf(html, sizeof html, "%s/out/report.html", dir);
    if (access(html, R_OK) != 0)
        run_into(dir, 2);
    snprintf(png, sizeof png, "%s/report.png", dir);
    rc = tu_run_sh(&out, "sh '%s' '%s' '%s' 1280 3000", tu_src("tests/report/render.sh"), html, png);
    if (rc == 3)
        fail_msg("chromium is not installed (scripts/setup.sh --test installs it)");
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_sh(&out, "/usr/bin/python3 '%s' '%s'", tu_src("tests/report/png_stats.py"), png);
    assert_int_equal(rc, 0);
    assert_int_equal(sscanf(out, "%d %d %lf %d", &w, &h, &nonwhite, &colours), 4);
    free(out);
    assert_int_equal(w, 1280);
    assert_true(nonwhite > 0.02); /* not a blank page */
    assert_true(colours > 50);    /* charts, not only text */
    snprintf(dompath, sizeof dompath, "%s.dom.html", png);
    dom = tu_read_file(dompath, NULL);
    assert_non_null(dom);
    {
        size_t n_svg = 0;
        for (const char *p = dom; (p = strstr(p, "<svg")) != NULL; p++)
            n_svg++;
        assert_true(n_svg >= 4); /* pyramids, funnel, gradient, calibration */
    }
    assert_contains(dom, "Funnel");
    assert_contains(dom, "Test ICB");
    assert_null(strstr(dom, "http://"));
    assert_null(strstr(dom, "https://"));
    free(dom);
}

static void test_run__bad_spec_names_key_and_line(void **state)
{
    char *out = NULL;
    const char *spec = tu_tmp("bad_run.yaml");
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' '%s'", tu_tmp("bad_out"), tu_tmp("bad_out2")); /* re-runs */
    tu_write_file(spec, "synth:\n  patients: 1000\nmodel:\n  formula: y ~ x\nstratify:\n  tiers: [0.5, 0.7]\n");
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s'", spec, tu_tmp("bad_out")), 7);
    assert_contains(out, "bad_run.yaml: line 6: key \"tiers\"");
    free(out);
    tu_write_file(spec, "synth:\n  patients: 2000\nmodel:\n  formula: \"emergency_admission_12m ~ agee\"\n");
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s'", spec, tu_tmp("bad_out2")), 7);
    assert_contains(out, "agee");
    free(out);
    assert_int_equal(tu_run_cli(&out, "run '%s'", spec), 2);
    free(out);
}

/* Reads an int32 column of the cohort by name (NULL when absent). */
static int32_t *read_col(strata_ctx *ctx, strata_cohort *c, const char *name)
{
    size_t j, n = strata_cohort_nrows(c);
    int32_t *v;
    if (strata_cohort_find(ctx, c, name, &j) != STRATA_OK) {
        strata_ctx_clear_error(ctx);
        return NULL;
    }
    v = malloc(n * sizeof *v);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 0, n, v), STRATA_OK);
    return v;
}

/* The run's patients.csv against strata_stratify_patients on the same
 * patients (cohort.h5, risks from model.h5): tier, segment, frailty,
 * multimorbidity and Charlson agree row by row; the intervention list
 * carries the same values. */
static void check_patients_against_library(strata_ctx *ctx, const char *out,
                                           strata_charlson_weights w, int within_pcn)
{
    char path[4400], *text, *save = NULL, *line;
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_patient_params pp;
    strata_patient_cols pc;
    int32_t *flags[STRATA_N_CONDITIONS], *age, *efi, *pem, *pcn;
    size_t n, i = 0, listed = 0;
    double *lp, *risk;
    uint8_t *tier, *seg;
    int8_t *fr, *ltc;
    int16_t *ch;
    long jp;
    snprintf(path, sizeof path, "%s/cohort.h5", out);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    snprintf(path, sizeof path, "%s/model.h5", out);
    assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
    n = strata_cohort_nrows(c);
    lp = malloc(n * sizeof *lp), risk = malloc(n * sizeof *risk);
    tier = malloc(n), seg = malloc(n), fr = malloc(n), ltc = malloc(n);
    ch = malloc(n * sizeof *ch);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_TO_REFERENCE, lp, risk), STRATA_OK);
    age = read_col(ctx, c, "age"), efi = read_col(ctx, c, "efi_deficits");
    pem = read_col(ctx, c, "prior_emergency_12m"), pcn = read_col(ctx, c, "pcn");
    assert_non_null(age), assert_non_null(efi), assert_non_null(pem), assert_non_null(pcn);
    jp = strata_cohort_find_role(c, STRATA_ROLE_PCN);
    assert_true(jp >= 0);
    memset(&pc, 0, sizeof pc);
    pc.n = n, pc.risk = risk, pc.age = age, pc.efi_deficits = efi, pc.prior_emergency = pem;
    for (int k = 0; k < STRATA_N_CONDITIONS; k++) {
        flags[k] = read_col(ctx, c, strata_condition_name(k));
        assert_non_null(flags[k]);
        pc.flags[k] = flags[k];
    }
    strata_patient_params_init(&pp);
    pp.charlson = w;
    assert_status(ctx, strata_stratify_patients(ctx, &pp, &pc, within_pcn ? pcn : NULL,
                                                within_pcn ? strata_cohort_column(c, (size_t)jp)->n_levels : 0,
                                                tier, seg, fr, ch, ltc),
                  STRATA_OK);
    snprintf(path, sizeof path, "%s/patients.csv", out);
    text = tu_read_file(path, NULL);
    assert_non_null(text);
    line = strtok_r(text, "\r\n", &save);
    assert_string_equal(line, "patient_id,pcn,practice,risk,tier,segment,frailty,ltc_count,charlson,core20");
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *f[16], want[64];
        assert_int_equal(tu_csv_split(line, f, 16), 10);
        assert_true(i < n);
        snprintf(want, sizeof want, "%.9g", risk[i]);
        if (strcmp(f[3], want) || atoi(f[4]) != tier[i] ||
            strcmp(f[5], strata_segment_name(seg[i])) ||
            strcmp(f[6], fr[i] >= 0 ? strata_frailty_name(fr[i]) : "") || atoi(f[7]) != ltc[i] ||
            atoi(f[8]) != ch[i])
            fail_msg("patients.csv row %zu: job %s,%s,%s,%s,%s,%s; library %s,%d,%s,%s,%d,%d", i + 1,
                     f[3], f[4], f[5], f[6], f[7], f[8], want, tier[i],
                     strata_segment_name(seg[i]), fr[i] >= 0 ? strata_frailty_name(fr[i]) : "",
                     ltc[i], ch[i]);
        i++;
    }
    assert_int_equal(i, n); /* every patient scored and written, in cohort order */
    free(text);
    /* the list's patients carry the same per-patient values (joined on risk) */
    snprintf(path, sizeof path, "%s/intervention_list.csv", out);
    text = tu_read_file(path, NULL);
    save = NULL;
    line = strtok_r(text, "\r\n", &save);
    assert_string_equal(line, "rank,patient_id,pcn,practice,risk,tier,segment,frailty,ltc_count,"
                              "charlson,core20,imd_decile,reason_1,reason_2,reason_3");
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *f[16], want[64];
        size_t k;
        assert_int_equal(tu_csv_split(line, f, 16), 15);
        for (k = 0; k < n; k++) {
            snprintf(want, sizeof want, "%.9g", risk[k]);
            if (!strcmp(want, f[4]) && atoi(f[8]) == ltc[k] && atoi(f[9]) == ch[k] &&
                !strcmp(f[6], strata_segment_name(seg[k])) && atoi(f[5]) == tier[k])
                break;
        }
        if (k == n)
            fail_msg("intervention_list.csv: %s matches no patient's library values", line);
        listed++;
    }
    assert_true(listed > 50);
    free(text);
    for (int k = 0; k < STRATA_N_CONDITIONS; k++)
        free(flags[k]);
    free(age), free(efi), free(pem), free(pcn), free(lp), free(risk);
    free(tier), free(seg), free(fr), free(ltc), free(ch);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
}

/* One run per weighting, through the library API: the job equals the
 * library per patient, and the caller's context keeps its thread count. */
static void test_run__job_and_library_agree_per_patient(void **state)
{
    static const struct {
        const char *weights;
        strata_charlson_weights w;
        int within;
    } cases[2] = {{NULL, STRATA_CHARLSON_ORIGINAL, 0}, {"quan2011", STRATA_CHARLSON_QUAN, 1}};
    strata_ctx *ctx = tu_ctx();
    (void)state;
    strata_ctx_set_threads(ctx, 3);
    for (int k = 0; k < 2; k++) {
        char dir[4096], spec_path[4200], out[4200], text[4400], *m;
        strata_run_spec spec;
        strata_run_summary sum;
        snprintf(dir, sizeof dir, "%s", tu_tmp(k ? "agree_quan" : "agree_1987"));
        tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
        snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", dir);
        snprintf(out, sizeof out, "%s/out", dir);
        snprintf(text, sizeof text,
                 "synth:\n  patients: 12000\n  seed: 11\n"
                 "model:\n  formula: \"emergency_admission_12m ~ age + sex + ltc_count + "
                 "prior_emergency_12m\"\n"
                 "stratify:\n  tiers_within: %s\n%s%s%s"
                 "threads: 1\n",
                 cases[k].within ? "pcn" : "all", cases[k].weights ? "  charlson_weights: " : "",
                 cases[k].weights ? cases[k].weights : "", cases[k].weights ? "\n" : "");
        tu_write_file(spec_path, text);
        assert_status(ctx, strata_run_spec_load(ctx, spec_path, &spec), STRATA_OK);
        assert_status(ctx, strata_run(ctx, &spec, out, NULL, NULL, &sum), STRATA_OK);
        /* the spec's threads applied to the run only */
        assert_int_equal(sum.threads, 1);
        assert_int_equal(strata_ctx_threads(ctx), 3);
        snprintf(text, sizeof text, "%s/manifest.json", out);
        m = tu_read_file(text, NULL);
        assert_contains(m, "\"threads\": 1");
        assert_contains(m, k ? "\"charlson_weights\": \"quan2011\""
                             : "\"charlson_weights\": \"charlson1987\"");
        free(m);
        check_patients_against_library(ctx, out, cases[k].w, cases[k].within);
        strata_run_spec_free(ctx, &spec);
    }
    strata_ctx_free(ctx);
}

/* A gamma cost model is evaluated as gamma: the run's deviance and pseudo-R²
 * are the gamma deviance of the scored patients (not the squared error). */
static void test_run__gamma_model_evaluated_as_gamma(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec spec;
    strata_run_summary sum;
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_fit_summary fs;
    char dir[4096], path[4400];
    double *y, *lp, *p, ybar = 0, D = 0, D0 = 0, sse = 0, sst = 0;
    size_t n, j;
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_tmp("gamma_run"));
    fresh_job(dir, "synth:\n  patients: 8000\n  seed: 4\n"
                   "model:\n  family: gamma\n"
                   "  formula: \"cost_next_12m ~ age + imd_decile + ltc_count + efi_deficits\"\n"
                   "evaluate:\n  by: [sex]\n",
              path, sizeof path);
    assert_status(ctx, strata_run_spec_load(ctx, path, &spec), STRATA_OK);
    snprintf(path, sizeof path, "%s/out", dir);
    assert_status(ctx, strata_run(ctx, &spec, path, NULL, NULL, &sum), STRATA_OK);
    snprintf(path, sizeof path, "%s/out/model.h5", dir);
    assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
    strata_model_summary(m, &fs);
    assert_int_equal(fs.family, STRATA_FAMILY_GAMMA);
    snprintf(path, sizeof path, "%s/out/cohort.h5", dir);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    n = strata_cohort_nrows(c);
    y = malloc(n * sizeof *y), lp = malloc(n * sizeof *lp), p = malloc(n * sizeof *p);
    assert_status(ctx, strata_cohort_find(ctx, c, "cost_next_12m", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, n, y), STRATA_OK);
    assert_status(ctx, strata_score(ctx, m, c, STRATA_UNSEEN_TO_REFERENCE, lp, p), STRATA_OK);
    for (size_t i = 0; i < n; i++)
        ybar += y[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        assert_true(y[i] > 0 && p[i] > 0);
        D += -2.0 * (log(y[i] / p[i]) - (y[i] - p[i]) / p[i]);
        D0 += -2.0 * (log(y[i] / ybar) - (y[i] - ybar) / ybar);
        sse += (y[i] - p[i]) * (y[i] - p[i]);
        sst += (y[i] - ybar) * (y[i] - ybar);
    }
    assert_rel_close(sum.deviance, D, 1e-9, "gamma deviance of the run");
    assert_rel_close(sum.pseudo_r2, 1.0 - D / D0, 1e-9, "pseudo-R2 from the gamma deviance");
    /* the Gaussian reading it replaced is a different number */
    assert_true(fabs(sum.pseudo_r2 - (1.0 - sse / sst)) > 1e-3);
    assert_true(fabs(sum.deviance - sse) > 1.0);
    free(y), free(lp), free(p);
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

/* A failing run reports on the caller's context and leaves its threads alone. */
static void test_run__failure_reported_on_callers_ctx_threads_kept(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec spec;
    strata_run_summary sum;
    const char *path = tu_tmp("missing_cohort.yaml");
    (void)state;
    strata_ctx_set_threads(ctx, 2);
    tu_write_file(path, "cohort: no-such-cohort.h5\nmodel:\n  formula: y ~ x\nthreads: 1\n");
    assert_status(ctx, strata_run_spec_load(ctx, path, &spec), STRATA_OK);
    assert_int_equal(strata_run(ctx, &spec, tu_tmp("missing_out"), NULL, NULL, &sum), STRATA_EIO);
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "no-such-cohort.h5");
    assert_int_equal(strata_ctx_threads(ctx), 2);
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

/* Reads a CSV's rows as "<col a>|<col b>" -> the value of col n (by name). */
static size_t csv_counts(const char *path, const char *ka, const char *kb, const char *kn,
                         char keys[][64], double *vals, size_t max)
{
    char *text = tu_read_file(path, NULL), *save = NULL, *line, *f[64];
    size_t nh, m = 0;
    long ia = -1, ib = -1, in = -1;
    assert_non_null(text);
    nh = tu_csv_split(strtok_r(text, "\r\n", &save), f, 64);
    for (size_t k = 0; k < nh; k++) {
        ia = strcmp(f[k], ka) ? ia : (long)k;
        ib = strcmp(f[k], kb) ? ib : (long)k;
        in = strcmp(f[k], kn) ? in : (long)k;
    }
    assert_true(ia >= 0 && ib >= 0 && in >= 0);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && m < max) {
        size_t nf = tu_csv_split(line, f, 64);
        assert_true(nf > (size_t)in);
        snprintf(keys[m], 64, "%s|%s", f[ia], f[ib]);
        vals[m++] = strtod(f[in], NULL);
    }
    free(text);
    return m;
}

/* age_band and imd_quintile are one rule: the run's fairness table and
 * `strata evaluate --by` on the run's model and cohort show the same levels
 * with the same counts (evaluate had ten-year bands and its own quintile
 * labels). */
static void test_run__fairness_groups_equal_evaluate_by(void **state)
{
    const char *dir = tu_tmp("run_groups");
    char path[4096], fair[4200], summ[4200], fk[64][64], sk[256][64], *out = NULL;
    double fv[64], sv[256];
    size_t nf, ns, bands = 0;
    (void)state;
    fresh_job(dir, "synth:\n  patients: 2000\n  seed: 5\nmodel:\n  formula: "
                   "\"emergency_admission_12m ~ age + sex + ltc_count\"\n"
                   "evaluate:\n  by: [age_band, imd_quintile, core20]\n"
                   "disclosure:\n  enabled: false\n",
              path, sizeof path);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s/out' --quiet", path, dir), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "evaluate '%s/out/model.h5' '%s/out/cohort.h5' --by "
                                      "age_band,imd_quintile,core20 --no-disclosure --quiet "
                                      "--out '%s/ev'",
                                dir, dir, dir),
                     0);
    free(out);
    snprintf(fair, sizeof fair, "%s/out/fairness.csv", dir);
    snprintf(summ, sizeof summ, "%s/ev/summary.csv", dir);
    nf = csv_counts(fair, "subgroup", "level", "n", fk, fv, 64);
    ns = csv_counts(summ, "by", "level", "n", sk, sv, 256);
    for (size_t i = 0; i < nf; i++) {
        size_t k = 0;
        if (!strncmp(fk[i], "all|", 4))
            continue;
        while (k < ns && strcmp(sk[k], fk[i]) != 0)
            k++;
        if (k == ns)
            fail_msg("fairness row %s: no such group in strata evaluate's summary.csv", fk[i]);
        if (fv[i] != sv[k])
            fail_msg("%s: n %g in fairness.csv, %g in strata evaluate's summary.csv", fk[i], fv[i], sv[k]);
        bands += !strncmp(fk[i], "age_band|", 9);
    }
    assert_true(bands >= 5); /* 0-17 .. 85+ (a 2,000-patient PCN may lack one) */
    assert_true(nf >= bands + 5 + 2);
    tu_run_sh(NULL, "rm -rf '%s'", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run__outputs_modes_and_disclosure),
        cmocka_unit_test(test_run__same_bytes_with_one_and_two_threads),
        cmocka_unit_test(test_run__report_renders_with_charts),
        cmocka_unit_test(test_run__bad_spec_names_key_and_line),
        cmocka_unit_test(test_run__job_and_library_agree_per_patient),
        cmocka_unit_test(test_run__failure_reported_on_callers_ctx_threads_kept),
        cmocka_unit_test(test_run__gamma_model_evaluated_as_gamma),
        cmocka_unit_test(test_run__fairness_groups_equal_evaluate_by),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
