/* labels: unit */
/* tests/test_surv_memory.c — survival evaluation's memory (engine/evaluate/evaluate_surv*.c,
 * docs/scale.md "Survival evaluation"): Harrell's and Uno's C share one sort of the
 * rows and give the bits of separate calls; without a budget the concordance's
 * allocation peak is its sort's records (32 bytes a row) beside the sweep's records
 * (88 a kept row, since survev14); the written evaluation's by-levels take their own
 * rows (a level's state at the level's size, not n), its peak that of the overall C,
 * and its bytes the same on 1 and 2 threads; under a budget it streams within it. Weighted, stratified, tied times and lps, rows of
 * weight 0, NA by-codes and an empty level. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "evaluate_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 20000
#define NLEV 60

typedef struct data {
    double t[N], e[N], lp[N], risk[N], w[N];
    int32_t s[N], code[N];
    const char *lev[NLEV];
    char names[NLEV][8];
    strata_surv_input in;
    strata_eval_by by;
} data;

/* Times in whole days (ties), lp on a 1/500 grid (ties), weights 0 (1 row in 13),
 * 0.5, 1 or 2, three strata, 60 levels: level 7 empty, every 17th row NA. */
static data *make(void)
{
    data *d = calloc(1, sizeof *d);
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        double u[4];
        for (int k = 0; k < 4; k++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            u[k] = (double)(x >> 11) / 9007199254740992.0;
        }
        d->lp[i] = round((u[0] * 4 - 2) * 500) / 500;
        d->t[i] = ceil(-log(1 - u[1]) * 800 / exp(d->lp[i]));
        d->e[i] = u[2] < 0.7;
        d->t[i] = d->e[i] ? d->t[i] : ceil(d->t[i] * u[3] + 1);
        d->risk[i] = 1 - exp(-0.2 * exp(d->lp[i]));
        d->w[i] = i % 13 == 5 ? 0 : (double)(1 + i % 3) / 2;
        d->s[i] = (int32_t)(i % 3);
        d->code[i] = i % 17 == 2 ? -1 : (int32_t)((i * 7 + (size_t)(u[3] * 5)) % NLEV);
        d->code[i] = d->code[i] == 7 ? 8 : d->code[i];
    }
    for (int l = 0; l < NLEV; l++) {
        snprintf(d->names[l], sizeof d->names[l], "L%d", l);
        d->lev[l] = d->names[l];
    }
    d->in = (strata_surv_input){N, d->t, d->e, d->lp, d->risk, d->w, d->s};
    d->by = (strata_eval_by){"grp", d->code, NLEV, d->lev};
    return d;
}

/* Both weightings over one sort: the bits of one call each. */
static void test_surv_conc__both_weightings_one_sort_same_bits(void **state)
{
    strata_ctx *ctx = tu_ctx();
    data *d = make();
    static const strata_conc_weight tw[2] = {STRATA_CONC_HARRELL, STRATA_CONC_UNO};
    strata_surv_conc both[2], one;
    strata_status each[2];
    (void)state;
    assert_status(ctx, ev_surv_concordances(ctx, &d->in, tw, 2, 0.95, both, each), STRATA_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(each[k], STRATA_OK);
        assert_status(ctx, strata_surv_concordance(ctx, &d->in, tw[k], 0.95, &one), STRATA_OK);
        assert_memory_equal(&both[k], &one, sizeof one);
        assert_true(one.c > 0.6 && one.c < 0.9); /* lp is the hazard's: well above 1/2 */
        assert_true(one.tied_x > 0 && one.tied_y > 0);
    }
    free(d);
    strata_ctx_free(ctx);
}

/* The concordance's peak without a budget: the sweep order's sort (32 bytes a
 * row at most; its keys and rows, 16, while read) beside the records (88 a kept row: row, rank, time weight,
 * three influences, five count shares); the trees (40 a distinct lp) come after. */
static void test_surv_conc__peak_is_sort_or_sweep_not_both(void **state)
{
    strata_ctx *ctx = tu_ctx();
    data *d = make();
    tu_alloc_count c = {0, 0};
    strata_surv_conc out;
    size_t m = 0, nr = 1001 * 2; /* at most 2001 lp values on the grid */
    (void)state;
    for (size_t i = 0; i < N; i++)
        m += d->w[i] > 0;
    strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
    assert_status(ctx, strata_surv_concordance(ctx, &d->in, STRATA_CONC_UNO, 0.95, &out), STRATA_OK);
    assert_int_equal(c.live, 0);
    {
        size_t sort = 32 * (size_t)N, recs = 88 * (m + 1), trees = 40 * (nr / 1024 + 1) * 1025;
        size_t bound = sort + recs + (16u << 10);
        if (!(c.peak <= bound && c.peak >= sort / 2 + recs && recs + trees < bound))
            fail_msg("concordance peak %zu bytes for %d rows (%zu kept): not the sort's %zu beside the records' "
                     "%zu", c.peak, N, m, sort, recs);
        assert_true(c.peak < 115 * (size_t)N);
    }
    free(d);
    strata_ctx_free(ctx);
}

/* The written evaluation with 60 by-levels: its peak is the overall C's sort,
 * the calibration's or the levels' grouping (never n rows per level), and its
 * bytes the same on 1 and 2 threads. */
static void test_surv_write__levels_bounded_and_thread_free(void **state)
{
    data *d = make();
    strata_eval_params par;
    char *txt[2][2];
    size_t peak[2];
    (void)state;
    strata_eval_params_init(&par);
    par.disclosure = 0;
    for (int th = 0; th < 2; th++) {
        strata_ctx *ctx = tu_ctx();
        tu_alloc_count c = {0, 0};
        char dir[32];
        snprintf(dir, sizeof dir, "survmem%d", th + 1);
        strata_ctx_set_threads(ctx, th + 1);
        strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
        assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp(dir)), STRATA_OK);
        peak[th] = c.peak;
        strata_ctx_free(ctx);
        snprintf(dir, sizeof dir, "survmem%d/surv_summary.csv", th + 1);
        txt[th][0] = tu_read_file(tu_tmp(dir), NULL);
        snprintf(dir, sizeof dir, "survmem%d/surv_calibration.csv", th + 1);
        txt[th][1] = tu_read_file(tu_tmp(dir), NULL);
        assert_non_null(txt[th][0]);
        assert_non_null(txt[th][1]);
    }
    assert_string_equal(txt[0][0], txt[1][0]);
    assert_string_equal(txt[0][1], txt[1][1]);
    assert_contains(txt[0][0], "grp,L7,0,0,,,,,,,,\r\n");  /* the empty level */
    assert_contains(txt[0][0], "grp,L8,");
    /* the overall C's sort and records (32 a row, 88 a kept row), plus the tables */
    if (!(peak[0] < 120 * (size_t)N + (256u << 10)))
        fail_msg("evaluation peak %zu bytes for %d rows", peak[0], N);
    for (int th = 0; th < 2; th++)
        free(txt[th][0]), free(txt[th][1]);
    free(d);
}

/* Every allocation of the written evaluation may fail: STRATA_ENOMEM, never
 * a NaN row written for a population whose concordance ran out of memory (the
 * summary used to clear that error), and the first run that gets through
 * writes the bytes of an unhindered one. 1,000 rows, 60 levels. */
static void test_surv_write__allocation_failures_reported(void **state)
{
    data *d = make();
    strata_eval_params par;
    strata_ctx *ctx = tu_ctx();
    char *want, *got;
    long k, first, stride, total, failed = 0, passed = 0;
    (void)state;
    d->in.n = 1000;
    strata_eval_params_init(&par);
    par.disclosure = 0;
    assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survfault0")), STRATA_OK);
    want = tu_read_file(tu_tmp("survfault0/surv_summary.csv"), NULL);
    assert_non_null(want);
    tu_fault_install(ctx);
    tu_fault_arm(1 << 30);
    assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survfault0")), STRATA_OK);
    total = tu_fault_count();
    assert_true(total > 60); /* a level's concordance allocates */
    tu_sweep_plan(total, 60, &first, &stride);
    for (k = first; k <= total; k += stride) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survfault1"));
        tu_fault_arm(-1);
        if (st != STRATA_OK && st != STRATA_ENOMEM)
            fail_msg("allocation %ld: %s", k, strata_ctx_errmsg(ctx));
        failed += st == STRATA_ENOMEM;
        if (st == STRATA_OK) {
            passed++;
            got = tu_read_file(tu_tmp("survfault1/surv_summary.csv"), NULL);
            assert_non_null(got);
            assert_string_equal(got, want);
            free(got);
        }
    }
    printf("    %ld allocations, %ld failed runs, %ld runs through (an allocation not needed)\n", total, failed, passed);
    assert_true(failed > 0);
    free(want);
    free(d);
    strata_ctx_free(ctx);
}

/* Under a memory budget of strata_surv_evaluate_bytes (the least it streams
 * in), one by-level holding every row, the written evaluation streams through
 * scratch files within it and gives the bytes of no budget; a budget one byte
 * smaller is refused (STRATA_ENOMEM naming both) before the folder is made. */
static void test_surv_write__budget_holds_or_refuses(void **state)
{
    data *d = make();
    strata_eval_params par;
    size_t need = strata_surv_evaluate_bytes(N);
    char *want, *got;
    (void)state;
    for (size_t i = 0; i < N; i++)
        d->code[i] = 0;
    strata_eval_params_init(&par);
    par.disclosure = 0;
    {
        strata_ctx *ctx = tu_ctx();
        assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survbud0")), STRATA_OK);
        strata_ctx_free(ctx);
    }
    {
        strata_ctx *ctx = tu_ctx();
        tu_alloc_count c = {0, 0};
        strata_ctx_set_memory_budget(ctx, need);
        strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
        assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survbud1")), STRATA_OK);
        if (!(c.peak <= need && c.peak < 88 * (size_t)N)) /* within the budget, under the in-memory records */
            fail_msg("peak %zu bytes for %d rows in one level: not within the stated %zu", c.peak, N, need);
        strata_ctx_free(ctx);
    }
    want = tu_read_file(tu_tmp("survbud0/surv_summary.csv"), NULL);
    got = tu_read_file(tu_tmp("survbud1/surv_summary.csv"), NULL);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_contains(got, "grp,L0,");
    free(want), free(got);
    {
        strata_ctx *ctx = tu_ctx();
        char msg[160];
        strata_ctx_set_memory_budget(ctx, need - 1);
        assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, &d->by, 1, &par, tu_tmp("survbud2")), STRATA_ENOMEM);
        snprintf(msg, sizeof msg, "survival evaluation of %d rows (Harrell's and Uno's C, calibration): even "
                                  "streamed through scratch files", N);
        assert_contains(strata_ctx_errmsg(ctx), msg);
        snprintf(msg, sizeof msg, "it needs %zu bytes, over the memory budget of %zu bytes", need, need - 1);
        assert_contains(strata_ctx_errmsg(ctx), msg);
        assert_null(tu_read_file(tu_tmp("survbud2/surv_summary.csv"), NULL));
        strata_ctx_free(ctx);
    }
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surv_conc__both_weightings_one_sort_same_bits),
        cmocka_unit_test(test_surv_conc__peak_is_sort_or_sweep_not_both),
        cmocka_unit_test(test_surv_write__levels_bounded_and_thread_free),
        cmocka_unit_test(test_surv_write__allocation_failures_reported),
        cmocka_unit_test(test_surv_write__budget_holds_or_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
