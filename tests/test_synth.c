/* labels: unit determinism fault */
/* tests/test_synth.c — `strata synth`: counter-based determinism (same bytes
 * for 1 and 2 threads, rows independent of block partition), the real
 * register structure (practice sex/age shares, PCN shares of an ICB), condition
 * prevalence against QOF and its age/deprivation gradients, events consistent
 * with the counts, the stored ground truth and its recovery by strata's GLM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/model.h"
#include "synth_internal.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_PCN "U79722" /* 5 practices, ~26,000 patients, in ICB QOC */

static strata_synth *make(strata_ctx *ctx, strata_synth_scope scope, const char *code,
                          int64_t n, uint64_t seed)
{
    strata_synth_params p;
    strata_synth *s = NULL;
    strata_synth_params_init(&p);
    p.scope = scope;
    p.code = code;
    p.n_patients = n;
    p.seed = seed;
    p.data_dir = tu_src("data/reference");
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_OK);
    return s;
}

/* Generates all rows into one block (small cohorts only). */
static void generate_all(strata_ctx *ctx, const strata_synth *s, synth_block *b, synth_events *ev)
{
    assert_status(ctx, synth_block_init(ctx, b, s->nrows), STRATA_OK);
    memset(ev, 0, sizeof *ev);
    assert_status(ctx, synth_generate(ctx, s, 0, s->nrows, b, 0, ev), STRATA_OK);
}

/* A generated cohort held in memory. */
typedef struct cohort_mem {
    strata_ctx *ctx;
    strata_synth *s;
    synth_block b;
    synth_events ev;
} cohort_mem;

static void mem_open(cohort_mem *m, strata_synth_scope scope, const char *code, int64_t n,
                     uint64_t seed)
{
    m->ctx = tu_ctx();
    m->s = make(m->ctx, scope, code, n, seed);
    generate_all(m->ctx, m->s, &m->b, &m->ev);
}

static void mem_close(cohort_mem *m)
{
    synth_block_free(m->ctx, &m->b);
    synth_events_free(m->ctx, &m->ev);
    strata_synth_free(m->s);
    strata_ctx_free(m->ctx);
}

/* The 200,000-patient PCN cohort (seed 3) that the structure, prevalence and
 * events tests read: generated once per executable, not once per test (it
 * was made three times, at 200,000, 200,000 and 50,000 rows); its size is
 * the point of the per-practice shares and prevalences, so kept; the events
 * test now checks 200,000 patients' events against their counts, not 50,000.
 * Freed by the group teardown. */
static cohort_mem pcn_200k;
static int pcn_200k_made;

static const cohort_mem *pcn_cohort(void)
{
    if (!pcn_200k_made) {
        mem_open(&pcn_200k, STRATA_SYNTH_PCN, TEST_PCN, 200000, 3);
        pcn_200k_made = 1;
    }
    return &pcn_200k;
}

static int free_pcn_cohort(void **state)
{
    (void)state;
    if (pcn_200k_made)
        mem_close(&pcn_200k);
    pcn_200k_made = 0;
    return 0;
}

/* ---- reference data ------------------------------------------------------- */

static void test_reference__derive_py_regenerates_shipped_tables(void **state)
{
    static const char *files[] = {"practices.csv", "icb_single_age.csv", "qof_prevalence.csv",
                                  "areas.csv"};
    char out[4096], *log = NULL;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("derived"));
    assert_int_equal(tu_run_sh(&log, "mkdir -p %s && /usr/bin/python3 %s %s %s", out,
                               tu_src("data/reference/derive.py"), tu_shared_data(), out),
                     0);
    free(log);
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/%s", out, files[k]);
        snprintf(b, sizeof b, "%s/data/reference/%s", tu_source_dir(), files[k]);
        if (!tu_files_equal(a, b))
            fail_msg("%s differs from the shipped table", files[k]);
    }
}

/* ---- parameters and errors ------------------------------------------------ */

static void test_params__check_names_bad_field(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth_params p;
    (void)state;
    strata_synth_params_init(&p);
    assert_int_equal(p.block_rows, 8192);
    assert_int_equal(p.seed, 1);
    assert_status(ctx, strata_synth_params_check(ctx, &p), STRATA_OK);
    p.block_rows = 10;
    assert_status(ctx, strata_synth_params_check(ctx, &p), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "block_rows 10");
    strata_synth_params_init(&p);
    p.scope = STRATA_SYNTH_PCN;
    assert_status(ctx, strata_synth_params_check(ctx, &p), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "PCN code");
    strata_synth_params_init(&p);
    p.n_patients = -5;
    assert_status(ctx, strata_synth_params_check(ctx, &p), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "n_patients -5");
    strata_ctx_free(ctx);
}

static void test_new__unknown_code_and_missing_dir_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth_params p;
    strata_synth *s = NULL;
    (void)state;
    strata_synth_params_init(&p);
    p.data_dir = tu_src("data/reference");
    p.code = "QZZ";
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_EINVAL);
    assert_null(s);
    assert_contains(strata_ctx_errmsg(ctx), "ICB code 'QZZ'");
    p.code = NULL;
    p.data_dir = tu_tmp("no-such-dir");
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "no-such-dir/practices.csv");
    strata_ctx_free(ctx);
}

/* The reference tables go through the one CSV reader (libcsv): RFC 4180
 * quoting is accepted, and a malformed value is named by file, line and field. */
static void test_new__reference_csv_quoting_and_errors_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth_params p;
    strata_synth *s = NULL;
    const char *dir = tu_tmp("ref_quoted");
    (void)state;
    /* quote every field of practice U89141's rows and break one QOF count */
    tu_run_sh(NULL,
              "rm -rf '%s' && cp -r '%s' '%s' && cd '%s' && "
              "awk -F, 'BEGIN{OFS=\",\"} $2==\"U89141\"{for(i=1;i<=NF;i++)$i=\"\\\"\"$i\"\\\"\"}1' "
              "practices.csv > p && mv p practices.csv",
              dir, tu_src("data/reference"), dir, dir);
    strata_synth_params_init(&p);
    p.data_dir = dir;
    p.scope = STRATA_SYNTH_PCN;
    p.code = "U89141";
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_OK);
    assert_true(strata_synth_npractices(s) > 0);
    assert_string_equal(strata_synth_practice_code(s, 0), "A81001");
    strata_synth_free(s);
    s = NULL;
    tu_run_sh(NULL, "cd '%s' && sed -i '3s/^\\([^,]*\\),[0-9]*,/\\1,lots,/' qof_prevalence.csv", dir);
    assert_status(ctx, strata_synth_new(ctx, &p, &s), STRATA_EFORMAT);
    assert_null(s);
    assert_contains(strata_ctx_errmsg(ctx), "qof_prevalence.csv: line 3 field 2: 'lots' is not a count");
    strata_ctx_free(ctx);
}

/* ---- counter-based randomness -------------------------------------------- */

static void test_permute__bijection_on_odd_domain(void **state)
{
    enum { N = 1000 };
    unsigned char seen[N] = {0};
    (void)state;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t j = synth_permute(42, N, i);
        assert_true(j < N);
        seen[j]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
}

static void test_generate__rows_independent_of_block_partition(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth *s = make(ctx, STRATA_SYNTH_PCN, TEST_PCN, 0, 7);
    synth_block a, b;
    synth_events ea, eb1, eb2;
    (void)state;
    memset(&ea, 0, sizeof ea);
    memset(&eb1, 0, sizeof eb1);
    memset(&eb2, 0, sizeof eb2);
    assert_status(ctx, synth_block_init(ctx, &a, 3000), STRATA_OK);
    assert_status(ctx, synth_block_init(ctx, &b, 3000), STRATA_OK);
    assert_status(ctx, synth_generate(ctx, s, 5000, 3000, &a, 0, &ea), STRATA_OK);
    assert_status(ctx, synth_generate(ctx, s, 5000, 1234, &b, 0, &eb1), STRATA_OK);
    assert_status(ctx, synth_generate(ctx, s, 6234, 1766, &b, 1234, &eb2), STRATA_OK);
    for (size_t i = 0; i < 3000; i++) {
        assert_true(a.patient_id[i] == b.patient_id[i]);
        assert_int_equal(a.age[i], b.age[i]);
        assert_int_equal(a.ltc_count[i], b.ltc_count[i]);
        assert_int_equal(a.gp_appointments_12m[i], b.gp_appointments_12m[i]);
        assert_memory_equal(&a.cost_next_12m[i], &b.cost_next_12m[i], sizeof(float));
    }
    for (int t = 0; t < SYNTH_NEV; t++) /* every column of every event table, split or not */
        for (size_t c = 0; c < synth_evtabs[t].ncol; c++) {
            size_t es = strata_dtype_size(synth_evtabs[t].col[c].dtype), n1 = eb1.t[t].n;
            if (!strcmp(synth_evtabs[t].col[c].name, "record_id"))
                continue; /* numbered when the cohort is written */
            assert_int_equal(ea.t[t].n, n1 + eb2.t[t].n);
            assert_memory_equal(ea.t[t].col[c], eb1.t[t].col[c], n1 * es);
            assert_memory_equal((char *)ea.t[t].col[c] + n1 * es, eb2.t[t].col[c], eb2.t[t].n * es);
        }
    synth_block_free(ctx, &a);
    synth_block_free(ctx, &b);
    synth_events_free(ctx, &ea);
    synth_events_free(ctx, &eb1);
    synth_events_free(ctx, &eb2);
    strata_synth_free(s);
    strata_ctx_free(ctx);
}

/* ---- structure ------------------------------------------------------------ */

static void test_structure__practice_sex_age_shares_match_register(void **state)
{
    const cohort_mem *m = pcn_cohort();
    double pcn_list = 0;
    (void)state;
    const strata_synth *s = m->s;
    const synth_block *b = &m->b;
    assert_int_equal(strata_synth_nrows(s), 200000);
    for (size_t k = 0; k < strata_synth_npractices(s); k++)
        pcn_list += (double)strata_synth_practice_list(s, k);
    for (size_t k = 0; k < strata_synth_npractices(s); k++) {
        double n = (double)strata_synth_practice_rows(s, k), list = 0, cnt[2][20] = {{0}};
        int64_t r0 = s->pr[k].row0;
        for (int sx = 0; sx < 2; sx++)
            for (int band = 0; band < 20; band++)
                list += (double)strata_synth_practice_register(s, k, sx, band);
        /* the practice's share of rows is its share of the PCN list (largest remainder) */
        assert_abs_close(n / 200000.0, list / pcn_list, 1.0 / 200000.0, "practice %zu", k);
        for (int64_t r = r0; r < r0 + (int64_t)n; r++) {
            int a = b->age[r];
            cnt[b->sex[r]][a >= 95 ? 19 : a / 5]++;
        }
        for (int sx = 0; sx < 2; sx++)
            for (int band = 0; band < 20; band++) {
                double want = (double)strata_synth_practice_register(s, k, sx, band) / list;
                double se = sqrt(want * (1 - want) / n);
                assert_abs_close(cnt[sx][band] / n, want, 3 * se + 1.0 / n,
                                 "practice %s sex %d band %d", strata_synth_practice_code(s, k),
                                 sx, band);
            }
    }
}

static void test_structure__pcn_shares_of_icb_match_list_sizes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth *s = make(ctx, STRATA_SYNTH_ICB, NULL, 100000, 1);
    double list_total = 0, *pcn_list, *pcn_rows;
    (void)state;
    assert_string_equal(strata_synth_practice_icb(s, 0), STRATA_SYNTH_DEFAULT_ICB);
    pcn_list = calloc(s->n_pcn, sizeof *pcn_list);
    pcn_rows = calloc(s->n_pcn, sizeof *pcn_rows);
    for (size_t k = 0; k < s->npr; k++) {
        pcn_list[s->pr[k].pcn_i] += (double)s->pr[k].list;
        pcn_rows[s->pr[k].pcn_i] += (double)s->pr[k].nrows;
        list_total += (double)s->pr[k].list;
    }
    assert_int_equal(s->n_pcn, 11);
    assert_rel_close(list_total, 541595, 0, "QOC registered list");
    for (size_t j = 0; j < s->n_pcn; j++) /* largest remainder: within one row per practice */
        assert_abs_close(pcn_rows[j] / 100000.0, pcn_list[j] / list_total,
                         (double)s->npr / 100000.0, "PCN %s", s->lv_pcn[j]);
    free(pcn_list);
    free(pcn_rows);
    strata_synth_free(s);
    strata_ctx_free(ctx);
}

/* ---- prevalence ------------------------------------------------------------- */

static void test_prevalence__tracks_qof_per_practice(void **state)
{
    const cohort_mem *m = pcn_cohort();
    (void)state;
    const strata_synth *s = m->s;
    const synth_block *b = &m->b;
    for (size_t k = 0; k < s->npr; k++) {
        const synth_practice *p = &s->pr[k];
        for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
            int min_age;
            double want = strata_synth_practice_qof(s, k, c, &min_age), n = 0, x = 0, se;
            for (int64_t r = p->row0; r < p->row0 + p->nrows; r++)
                if (b->age[r] >= min_age) {
                    n++;
                    x += b->cond[c][r];
                }
            se = sqrt(want * (1 - want) / n);
            /* tuning integrates bands at their mid-age and deprivation at the
             * practice mean: allow 12% relative on top of sampling error */
            assert_abs_close(x / n, want, 0.12 * want + 4 * se, "practice %s %s",
                             p->code, strata_synth_condition_name(c));
        }
    }
}

static void test_prevalence__rises_with_age_and_deprivation(void **state)
{
    /* conditions whose model prevalence rises with age / with deprivation */
    static const char *by_age[] = {"hypertension", "diabetes", "copd", "chd", "heart_failure",
                                   "af", "stroke_tia", "ckd", "cancer", "dementia"};
    static const char *by_dep[] = {"diabetes", "copd", "chd", "heart_failure", "smi",
                                   "depression"};
    cohort_mem m;
    (void)state;
    mem_open(&m, STRATA_SYNTH_ICB, NULL, 300000, 11);
    const strata_synth *s = m.s;
    const synth_block *b = &m.b;
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        double n[3] = {0}, x[3] = {0}, nd[2] = {0}, xd[2] = {0};
        int age_rises = 0, dep_rises = 0;
        for (size_t i = 0; i < sizeof by_age / sizeof *by_age; i++)
            age_rises |= !strcmp(by_age[i], synth_cond[c].name);
        for (size_t i = 0; i < sizeof by_dep / sizeof *by_dep; i++)
            dep_rises |= !strcmp(by_dep[i], synth_cond[c].name);
        for (size_t r = 0; r < s->nrows; r++) {
            int g = b->age[r] < 40 ? 0 : b->age[r] < 70 ? 1 : 2;
            n[g]++;
            x[g] += b->cond[c][r];
            if (b->age[r] >= 40 && (b->imd_decile[r] <= 3 || b->imd_decile[r] >= 8)) {
                nd[b->imd_decile[r] >= 8]++;
                xd[b->imd_decile[r] >= 8] += b->cond[c][r];
            }
        }
        if (age_rises) {
            assert_true(x[1] / n[1] > 1.5 * x[0] / n[0]);
            assert_true(x[2] / n[2] > 1.2 * x[1] / n[1]);
        }
        if (dep_rises) /* most deprived 30% vs least deprived 30%, ages 40+ */
            assert_true(xd[0] / nd[0] > 1.1 * xd[1] / nd[1]);
    }
    mem_close(&m);
}

/* ---- events consistent with counts --------------------------------------- */

static void test_events__spells_and_ae_match_counts(void **state)
{
    const cohort_mem *m = pcn_cohort();
    size_t k = 0, a = 0;
    const int32_t idx = STRATA_SYNTH_INDEX_DAY;
    (void)state;
    const strata_synth *s = m->s;
    const synth_block *b = &m->b;
    const synth_events *ev = &m->ev;
    const synth_tab *sp = &ev->t[SYNTH_EV_SPELLS], *ae = &ev->t[SYNTH_EV_AE];
    const int32_t *sp_row = sp->col[EV_ROW], *sp_day = sp->col[EV_DAY];
    const int8_t *sp_type = sp->col[SP_METHOD];
    const int16_t *sp_los = sp->col[SP_LOS];
    const int32_t *ae_row = ae->col[EV_ROW], *ae_day = ae->col[EV_DAY];
    for (size_t r = 0; r < s->nrows; r++) {
        int pe = 0, pel = 0, fe = 0, bed = 0, nae = 0, first = -1;
        for (; k < sp->n && sp_row[k] == (int32_t)r; k++) {
            if (k > 0 && sp_row[k - 1] == (int32_t)r)
                assert_true(sp_day[k] >= sp_day[k - 1]);
            if (sp_day[k] < idx) {
                assert_true(sp_day[k] >= idx - 365);
                pe += sp_type[k] == 0;
                pel += sp_type[k] == 1;
                bed += sp_los[k];
            } else {
                assert_true(sp_day[k] < idx + 365 && sp_type[k] == 0);
                if (first < 0)
                    first = sp_day[k] - idx;
                fe++;
            }
        }
        for (; a < ae->n && ae_row[a] == (int32_t)r; a++) {
            assert_true(ae_day[a] < idx && ae_day[a] >= idx - 365);
            nae++;
        }
        assert_int_equal(pe, b->prior_emergency_12m[r]);
        assert_int_equal(pel, b->prior_elective_12m[r]);
        assert_int_equal(bed, b->bed_days_12m[r]);
        assert_int_equal(nae, b->ae_attendances_12m[r]);
        assert_int_equal(fe, b->emergency_admissions_12m[r]);
        assert_int_equal(fe > 0, b->emergency_admission_12m[r]);
        assert_int_equal(b->emergency_event[r], b->emergency_admission_12m[r]);
        if (fe)
            assert_int_equal(first, b->time_to_emergency_days[r]);
        else
            assert_true(b->time_to_emergency_days[r] == 365 || b->death_12m[r]);
    }
    assert_int_equal(k, sp->n);
    assert_int_equal(a, ae->n);
}

/* ---- ground truth ------------------------------------------------------------ */

/* Fits `formula` with strata's GLM to the cohort at path and checks every
 * coefficient against the stored truth rows [t0, t0 + nterms) within 4 SE. */
static void glm_recovers(const char *path, const char *formula, size_t t0, size_t nterms)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    strata_glm_params gp;
    strata_model *m = NULL;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_glm_params_init(&gp);
    gp.formula = formula;
    assert_status(ctx, strata_glm_fit(ctx, c, &gp, &m), STRATA_OK);
    assert_int_equal(strata_model_nterms(m), nterms);
    for (size_t i = 0; i < nterms; i++) {
        strata_coef k;
        strata_model_coef(m, i, &k);
        assert_string_equal(strata_model_term(m, i), synth_truth[t0 + i].term);
        assert_abs_close(k.estimate, synth_truth[t0 + i].beta, 4 * k.std_error, "%s: %s",
                         synth_truth[t0 + i].model, synth_truth[t0 + i].term);
    }
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_truth__strata_glm_recovers_emergency_and_death_models(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char path[4096];
    strata_synth *s;
    strata_synth_summary sum;
    (void)state;
    snprintf(path, sizeof path, "%s", tu_tmp("truth.h5"));
    s = make(ctx, STRATA_SYNTH_ICB, NULL, 300000, 31);
    assert_status(ctx, strata_synth_write(ctx, s, path, &sum), STRATA_OK);
    assert_true(sum.emergency_rate > 0.05 && sum.emergency_rate < 0.10);
    assert_true(sum.death_rate > 0.005 && sum.death_rate < 0.02);
    strata_synth_free(s);
    strata_ctx_free(ctx);
    glm_recovers(path,
                 "emergency_admission_12m ~ age + sex + imd_decile + ltc_count + efi_deficits + "
                 "prior_emergency_12m + ae_attendances_12m",
                 SYNTH_T_EMERG, SYNTH_T_EXTRA - SYNTH_T_EMERG);
    glm_recovers(path,
                 "death_12m ~ age + sex + imd_decile + ltc_count + efi_deficits + "
                 "emergency_admission_12m",
                 SYNTH_T_DEATH, SYNTH_T_COST - SYNTH_T_DEATH);
}

/* ---- whole files ------------------------------------------------------------- */

static void write_cohort(const char *path, uint64_t seed, int threads)
{
    strata_ctx *ctx = tu_ctx();
    strata_synth *s;
    strata_synth_summary sum;
    strata_ctx_set_threads(ctx, threads);
    s = make(ctx, STRATA_SYNTH_PCN, TEST_PCN, 40000, seed);
    assert_status(ctx, strata_synth_write(ctx, s, path, &sum), STRATA_OK);
    assert_int_equal(sum.nrows, 40000);
    strata_synth_free(s);
    strata_ctx_free(ctx);
}

/* The 40,000-row cohort of seed 4 written with 2 threads: the byte-identity
 * test compares it with 1 thread's, the validate test validates it and reads
 * its truth back (it wrote a cohort of its own, seed 8, the same way). */
static const char *seed4_t2_cohort(void)
{
    static char path[4096];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_tmp("seed4_t2.h5"));
        write_cohort(path, 4, 2);
    }
    return path;
}

static void test_write__same_seed_same_bytes_for_1_and_2_threads(void **state)
{
    char a[4096], b[4096], c[4096]; /* tu_* buffers rotate: keep copies */
    (void)state;
    snprintf(a, sizeof a, "%s", tu_tmp("seed4_t1.h5"));
    snprintf(b, sizeof b, "%s", seed4_t2_cohort());
    snprintf(c, sizeof c, "%s", tu_tmp("seed5.h5"));
    write_cohort(a, 4, 1);
    write_cohort(c, 5, 2);
    assert_true(tu_files_equal(a, b));
    assert_false(tu_files_equal(a, c));
}

static void test_write__cohort_validates_and_stores_truth(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = seed4_t2_cohort();
    strata_validate_report rep;
    strata_cohort *c = NULL;
    char **term = NULL, **model = NULL;
    size_t nt = 0, nm = 0, j;
    double beta[SYNTH_T_END];
    (void)state;
    assert_status(ctx, strata_cohort_validate(ctx, path, NULL, NULL, &rep), STRATA_OK);
    assert_int_equal(rep.total, 0);
    assert_int_equal(rep.nrows, 40000);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_status(ctx, strata_cohort_read_strings(ctx, c, "/truth/term", &term, &nt), STRATA_OK);
    assert_status(ctx, strata_cohort_read_strings(ctx, c, "/truth/model", &model, &nm), STRATA_OK);
    assert_int_equal(nt, SYNTH_T_END);
    assert_int_equal(nm, SYNTH_T_END);
    assert_status(ctx, strata_cohort_find(ctx, c, "truth/beta", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, SYNTH_T_END, beta), STRATA_OK);
    for (size_t k = 0; k < nt; k++) {
        assert_string_equal(term[k], synth_truth[k].term);
        assert_string_equal(model[k], synth_truth[k].model);
        assert_true(beta[k] == synth_truth[k].beta);
    }
    assert_string_equal(strata_cohort_attr(c, "seed"), "4");
    assert_int_equal(strata_cohort_find_role(c, STRATA_ROLE_PCN) >= 0, 1);
    strata_strings_free(ctx, term, nt);
    strata_strings_free(ctx, model, nm);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static strata_status new_small(strata_ctx *ctx, strata_synth **s)
{
    strata_synth_params p;
    strata_synth_params_init(&p);
    p.scope = STRATA_SYNTH_PCN;
    p.code = TEST_PCN;
    p.n_patients = 2000;
    p.block_rows = 256; /* 8 blocks in one group */
    p.data_dir = tu_src("data/reference");
    return strata_synth_new(ctx, &p, s);
}

static void test_fault__every_allocation_failure_is_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char path[4096];
    strata_synth *s = NULL;
    long total;
    (void)state;
    snprintf(path, sizeof path, "%s", tu_tmp("fault.h5")); /* tu_* buffers rotate */
    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, new_small(ctx, &s), STRATA_OK);
    strata_synth_free(s);
    total = tu_fault_count();
    assert_true(total > 5);
    for (long k = 1; k <= total; k++) {
        tu_fault_arm(k);
        assert_status(ctx, new_small(ctx, &s), STRATA_ENOMEM);
        assert_null(s);
    }
    tu_fault_arm(-1);
    assert_status(ctx, new_small(ctx, &s), STRATA_OK);
    tu_fault_arm(-1);
    assert_status(ctx, strata_synth_write(ctx, s, path, NULL), STRATA_OK);
    total = tu_fault_count();
    assert_true(total > 5);
    for (long k = 1; k <= total; k++) {
        unlink(path);
        tu_fault_arm(k);
        assert_status(ctx, strata_synth_write(ctx, s, path, NULL), STRATA_ENOMEM);
        assert_int_equal(access(path, F_OK), -1);
    }
    tu_fault_arm(-1);
    strata_synth_free(s);
    strata_ctx_free(ctx);
}

static void test_cli__synth_writes_and_rejects_bad_options(void **state)
{
    char *out = NULL;
    const char *path = tu_tmp("cli.h5");
    (void)state;
    assert_int_equal(tu_run_cli(&out, "synth --pcn %s --patients 3000 --seed 2 --data %s --out %s",
                                TEST_PCN, tu_src("data/reference"), path),
                     0);
    assert_contains(out, "3000 patients in 5 practices");
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate %s", path), 0);
    free(out);
    /* without --data: found beside the executable (build/strata -> data/reference) */
    assert_int_equal(tu_run_sh(&out, "env -u STRATA_DATA_DIR %s synth --pcn %s --patients 500 "
                                     "--out %s", tu_cli(), TEST_PCN, path),
                     0);
    assert_contains(out, "500 patients in 5 practices");
    free(out);
    /* STRATA_DATA_DIR may name data/ (its reference/ subdirectory is used) */
    assert_int_equal(tu_run_sh(&out, "STRATA_DATA_DIR=%s %s synth --pcn %s --patients 500 "
                                     "--out %s", tu_src("data"), tu_cli(), TEST_PCN, path),
                     0);
    free(out);
    assert_int_equal(tu_run_sh(&out, "STRATA_DATA_DIR=/nonexistent %s synth --out %s", tu_cli(),
                               path),
                     4);
    assert_contains(out, "STRATA_DATA_DIR=/nonexistent");
    free(out);
    assert_int_equal(tu_run_cli(&out, "synth --pcn %s --icb QOC --out %s", TEST_PCN, path), 2);
    assert_contains(out, "at most one of");
    free(out);
    assert_int_equal(tu_run_cli(&out, "synth --icb QZZ --data %s --out %s",
                                tu_src("data/reference"), path),
                     2);
    assert_contains(out, "'QZZ'");
    free(out);
    assert_int_equal(tu_run_cli(&out, "synth --patients many --out %s", path), 2);
    assert_contains(out, "--patients 'many'");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference__derive_py_regenerates_shipped_tables),
        cmocka_unit_test(test_params__check_names_bad_field),
        cmocka_unit_test(test_new__unknown_code_and_missing_dir_named),
        cmocka_unit_test(test_new__reference_csv_quoting_and_errors_named),
        cmocka_unit_test(test_permute__bijection_on_odd_domain),
        cmocka_unit_test(test_generate__rows_independent_of_block_partition),
        cmocka_unit_test(test_structure__practice_sex_age_shares_match_register),
        cmocka_unit_test(test_structure__pcn_shares_of_icb_match_list_sizes),
        cmocka_unit_test(test_prevalence__tracks_qof_per_practice),
        cmocka_unit_test(test_prevalence__rises_with_age_and_deprivation),
        cmocka_unit_test(test_events__spells_and_ae_match_counts),
        cmocka_unit_test(test_truth__strata_glm_recovers_emergency_and_death_models),
        cmocka_unit_test(test_write__same_seed_same_bytes_for_1_and_2_threads),
        cmocka_unit_test(test_write__cohort_validates_and_stores_truth),
        cmocka_unit_test(test_fault__every_allocation_failure_is_clean),
        cmocka_unit_test(test_cli__synth_writes_and_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, free_pcn_cohort);
}
