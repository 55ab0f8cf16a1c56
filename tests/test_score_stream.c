/* labels: unit determinism */
/* tests/test_score_stream.c — scoring under a memory budget (docs/scale.md):
 * `strata_score_write` and `strata_score` stream chunks of whole row blocks
 * sized by the context's budget, with the unlimited run's bytes on 1 and 2
 * threads (CSV files byte for byte, HDF5 score files dataset by dataset,
 * lp/resp arrays); the allocations made
 * through the context's hook stay within the budget; `strata score --mem-limit`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "strata/strata.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PATIENTS 300000
static const char *FORMULA = "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + "
                             "efi_deficits + prior_emergency_12m + ae_attendances_12m + age:sex";

/* The cohort and the model fitted to it, made once for the file. */
static int setup(void **state)
{
    char *out = NULL;
    int rc;
    (void)state;
    rc = tu_run_cli(&out, "synth --england --patients %d --seed 7 --quiet --out '%s'", N_PATIENTS, tu_tmp("c.h5"));
    if (rc == 0) {
        free(out);
        rc = tu_run_cli(&out, "fit '%s' --formula '%s' --out '%s' --quiet", tu_tmp("c.h5"), FORMULA, tu_tmp("m.h5"));
    }
    if (rc)
        print_error("setup failed: %s\n", out ? out : "");
    free(out);
    return rc ? -1 : 0;
}

/* 1 when the score files a and b hold the same bytes in patient_id,
 * linear_predictor and response (the files themselves carry HDF5's object
 * modification times, so they are compared dataset by dataset). */
static int h5_scores_equal(const char *a, const char *b)
{
    static const char *const names[3] = {"patient_id", "linear_predictor", "response"};
    size_t bytes = N_PATIENTS * sizeof(double);
    char *x = malloc(bytes), *y = malloc(bytes);
    hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    int same = x && y && fa >= 0 && fb >= 0;
    for (int q = 0; q < 3 && same; q++) {
        hid_t da = H5Dopen2(fa, names[q], H5P_DEFAULT), db = H5Dopen2(fb, names[q], H5P_DEFAULT);
        hid_t t = q ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
        same = da >= 0 && db >= 0 && H5Dget_storage_size(da) == bytes && H5Dget_storage_size(db) == bytes &&
               H5Dread(da, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 &&
               H5Dread(db, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0 && memcmp(x, y, bytes) == 0;
        if (da >= 0)
            H5Dclose(da);
        if (db >= 0)
            H5Dclose(db);
    }
    if (fa >= 0)
        H5Fclose(fa);
    if (fb >= 0)
        H5Fclose(fb);
    free(x);
    free(y);
    return same;
}

/* ---- runs counted through the context hook (tu_count_alloc) ---------------- */
static void note_chunks(void *ud, strata_log_level level, const char *msg)
{
    (void)level;
    if (strstr(msg, "scoring under the memory budget"))
        *(int *)ud = 1;
}

/* One scoring run: a context with threads and budget (and the counting hook),
 * the model and cohort opened through it, then either strata_score_write to
 * path or (path NULL) strata_score into lp/resp. */
typedef struct score_run {
    strata_status st;
    size_t peak;
    int chunked; /* the budget log line was seen */
} score_run;

static score_run run_score(int threads, size_t budget, const char *path, double *lp, double *resp)
{
    strata_ctx *ctx = NULL;
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    tu_alloc_count cnt = {0, 0};
    score_run r = {STRATA_OK, 0, 0};
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_alloc(ctx, tu_count_alloc, &cnt);
    strata_ctx_set_log(ctx, note_chunks, &r.chunked, STRATA_LOG_INFO);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("m.h5"), &m), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("c.h5"), &c), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(c), N_PATIENTS);
    r.st = path ? strata_score_write(ctx, m, c, STRATA_UNSEEN_ERROR, path)
                : strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp, resp);
    assert_status(ctx, r.st, STRATA_OK);
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    r.peak = cnt.peak;
    strata_ctx_free(ctx);
    return r;
}

/* Budgets of one block's worth up to unlimited, 1 and 2 threads: the score
 * files (CSV and HDF5) and the arrays have the unlimited 1-thread run's bytes. */
static void test_score_stream__same_bytes_any_budget_and_threads(void **state)
{
    const size_t budgets[] = {0, (size_t)1 << 20, (size_t)5 << 20, (size_t)64 << 20};
    size_t bytes = N_PATIENTS * sizeof(double);
    double *lp0 = malloc(bytes), *resp0 = malloc(bytes), *lp = malloc(bytes), *resp = malloc(bytes);
    char name[64];
    (void)state;
    assert_non_null(lp0);
    assert_non_null(resp0);
    assert_non_null(lp);
    assert_non_null(resp);
    run_score(1, 0, tu_tmp("ref.csv"), NULL, NULL);
    run_score(1, 0, tu_tmp("ref.h5"), NULL, NULL);
    run_score(1, 0, NULL, lp0, resp0);
    for (int t = 1; t <= 2; t++)
        for (size_t k = 0; k < sizeof budgets / sizeof *budgets; k++) {
            score_run r;
            snprintf(name, sizeof name, "s_%d_%zu.csv", t, k);
            r = run_score(t, budgets[k], tu_tmp(name), NULL, NULL);
            /* under 1 and 5 MB the 300,000 rows cannot be one chunk */
            assert_int_equal(r.chunked, k == 1 || k == 2);
            if (!tu_files_equal(tu_tmp("ref.csv"), tu_tmp(name)))
                fail_msg("%s: threads %d, budget %zu: CSV bytes differ from the unlimited run", name, t, budgets[k]);
            snprintf(name, sizeof name, "s_%d_%zu.h5", t, k);
            run_score(t, budgets[k], tu_tmp(name), NULL, NULL);
            if (!h5_scores_equal(tu_tmp("ref.h5"), tu_tmp(name)))
                fail_msg("%s: threads %d, budget %zu: HDF5 bytes differ from the unlimited run", name, t, budgets[k]);
            memset(lp, 0, bytes);
            memset(resp, 0, bytes);
            run_score(t, budgets[k], NULL, lp, resp);
            assert_memory_equal(lp, lp0, bytes);
            assert_memory_equal(resp, resp0, bytes);
        }
    free(lp0);
    free(resp0);
    free(lp);
    free(resp);
}

/* Every allocation through the context's hook, model and cohort included:
 * unlimited, the 300,000-row chunk holds the 7 model columns and lp, resp and
 * id (24 MB); under an 8 MB budget the peak stays within it. */
static void test_score_stream__budget_holds(void **state)
{
    const size_t budget = (size_t)8 << 20;
    score_run mem, st;
    (void)state;
    mem = run_score(2, 0, tu_tmp("peak0.h5"), NULL, NULL);
    st = run_score(2, budget, tu_tmp("peak1.h5"), NULL, NULL);
    print_message("peak through the hook: unlimited %zu bytes, under %zu: %zu\n", mem.peak, budget, st.peak);
    assert_false(mem.chunked);
    assert_true(st.chunked);
    if (!(mem.peak > (size_t)20 << 20))
        fail_msg("unlimited: peak %zu bytes, expected the whole cohort's columns (> 20 MB)", mem.peak);
    if (!(st.peak <= budget))
        fail_msg("under the budget: peak %zu bytes over %zu", st.peak, budget);
    assert_true(h5_scores_equal(tu_tmp("peak0.h5"), tu_tmp("peak1.h5")));
}

/* The CLI: --mem-limit gives the same file, --verbose says it streamed, and a
 * bad size is a usage error (Cox models: tests/test_cox_stream_cli.c). */
static void test_score_stream__cli_mem_limit(void **state)
{
    char *out = NULL;
    (void)state;
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --out '%s' --quiet", tu_tmp("m.h5"), tu_tmp("c.h5"),
                                tu_tmp("cli0.csv")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --out '%s' --mem-limit 2M --threads 2 --verbose", tu_tmp("m.h5"),
                                tu_tmp("c.h5"), tu_tmp("cli1.csv")), 0);
    assert_contains(out, "scoring under the memory budget of 2097152 bytes");
    free(out);
    assert_true(tu_files_equal(tu_tmp("cli0.csv"), tu_tmp("cli1.csv")));
    assert_int_equal(tu_run_cli(&out, "score '%s' '%s' --out '%s' --mem-limit 4X", tu_tmp("m.h5"), tu_tmp("c.h5"),
                                tu_tmp("cli2.csv")), 2);
    assert_contains(out, "--mem-limit");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_stream__same_bytes_any_budget_and_threads),
        cmocka_unit_test(test_score_stream__budget_holds),
        cmocka_unit_test(test_score_stream__cli_mem_limit),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
