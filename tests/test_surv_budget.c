/* labels: unit determinism */
/* tests/test_surv_budget.c — survival (Cox) evaluation under a memory budget
 * (engine/evaluate/evaluate_surv*.c, docs/scale.md "Survival evaluation in memory and under a
 * budget"): streamed through scratch files and the external sort it gives the
 * bytes of the in-memory evaluation (1 vs 2 threads), holds no block of n x 4
 * bytes and peaks under the budget; below strata_surv_evaluate_bytes it refuses.
 * Tied times and lps, censoring, weights 0/0.5/1/2, three strata, by-levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "evaluate_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 30000
#define NLEV 40

typedef struct data {
    double t[N], e[N], lp[N], risk[N], w[N];
    int32_t s[N], code[N], big[N];
    const char *lev[NLEV], *lev2[2];
    char names[NLEV][8];
    strata_surv_input in;
    strata_eval_by by[2];
} data;

/* Times in whole days, lp on a 1/5,000 grid (ties, ~13,000 distinct: 13 chunks of
 * the trees), 70 % events, weights 0 (1 row in 13), 0.5, 1, 2, three strata; by
 * "grp" 40 levels (level 7 empty, every 17th row NA) and "big" (9 rows in 10 in one). */
static data *make(void)
{
    data *d = calloc(1, sizeof *d);
    uint64_t x = 4242;
    for (size_t i = 0; i < N; i++) {
        double u[4];
        for (int k = 0; k < 4; k++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            u[k] = (double)(x >> 11) / 9007199254740992.0;
        }
        d->lp[i] = round((u[0] * 4 - 2) * 5000) / 5000;
        d->t[i] = ceil(-log(1 - u[1]) * 800 / exp(d->lp[i]));
        d->e[i] = u[2] < 0.7;
        d->t[i] = d->e[i] ? d->t[i] : ceil(d->t[i] * u[3] + 1);
        d->risk[i] = 1 - exp(-0.2 * exp(d->lp[i]));
        d->w[i] = i % 13 == 5 ? 0 : (double)(1 + i % 3) / 2;
        d->s[i] = (int32_t)(i % 3);
        d->code[i] = i % 17 == 2 ? -1 : (int32_t)((i * 7 + (size_t)(u[3] * 5)) % NLEV);
        d->code[i] = d->code[i] == 7 ? 8 : d->code[i];
        d->big[i] = i % 10 == 3;
    }
    for (int l = 0; l < NLEV; l++) {
        snprintf(d->names[l], sizeof d->names[l], "L%d", l);
        d->lev[l] = d->names[l];
    }
    d->lev2[0] = "most";
    d->lev2[1] = "tenth";
    d->in = (strata_surv_input){N, d->t, d->e, d->lp, d->risk, d->w, d->s};
    d->by[0] = (strata_eval_by){"grp", d->code, NLEV, d->lev};
    d->by[1] = (strata_eval_by){"big", d->big, 2, d->lev2};
    return d;
}

/* The allocation hook's count, and the largest single block. */
typedef struct big_count {
    tu_alloc_count c;
    size_t largest;
} big_count;

static void *big_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    big_count *b = ud;
    if (new_size > b->largest)
        b->largest = new_size;
    return tu_count_alloc(&b->c, ptr, old_size, new_size);
}

/* One written evaluation into dir under budget (0: none) on th threads. */
static void write_eval(const data *d, size_t budget, int th, const char *dir, big_count *b)
{
    strata_ctx *ctx = tu_ctx();
    strata_eval_params par;
    strata_eval_params_init(&par);
    par.disclosure = 0;
    strata_ctx_set_threads(ctx, th);
    strata_ctx_set_memory_budget(ctx, budget);
    if (b)
        strata_ctx_set_alloc(ctx, big_alloc, b);
    assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, d->by, 2, &par, tu_tmp(dir)), STRATA_OK);
    if (b)
        assert_int_equal(b->c.live, 0);
    strata_ctx_free(ctx);
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = tu_read_file(tu_tmp(a), NULL), *y = tu_read_file(tu_tmp(b), NULL);
    assert_non_null(x);
    assert_non_null(y);
    assert_string_equal(x, y);
    free(x), free(y);
}

/* In memory on 2 threads, under 4 MB and under the least budget on 1 thread:
 * the same bytes; the least budget's run streams (its peak under the records
 * alone in memory, 88 bytes a kept row) within it, no block of n x 4 bytes. */
static void test_surv_budget__streamed_same_bytes_and_bounded(void **state)
{
    data *d = make();
    size_t need = strata_surv_evaluate_bytes(N);
    big_count b;
    char *txt;
    (void)state;
    memset(&b, 0, sizeof b);
    write_eval(d, 0, 2, "svb_mem", NULL);
    write_eval(d, 4u << 20, 1, "svb_4m", NULL);
    write_eval(d, need, 1, "svb_min", &b);
    assert_same_file("svb_mem/surv_summary.csv", "svb_4m/surv_summary.csv");
    assert_same_file("svb_mem/surv_summary.csv", "svb_min/surv_summary.csv");
    assert_same_file("svb_mem/surv_calibration.csv", "svb_4m/surv_calibration.csv");
    assert_same_file("svb_mem/surv_calibration.csv", "svb_min/surv_calibration.csv");
    if (!(b.c.peak <= need && b.c.peak < 88 * (size_t)N / 2 && b.largest < 4 * (size_t)N))
        fail_msg("streamed peak %zu bytes (budget %zu), largest block %zu, for %d rows", b.c.peak, need, b.largest,
                 N);
    print_message("streamed: peak %zu bytes under a budget of %zu, largest block %zu, %d rows\n", b.c.peak, need,
                  b.largest, N);
    assert_true(need < 40 * (size_t)N); /* the least budget: ~33 bytes a row here (the sorts' floor), not 132 */
    txt = tu_read_file(tu_tmp("svb_min/surv_summary.csv"), NULL);
    assert_non_null(txt);
    assert_contains(txt, "grp,L7,0,0,,,,,,,,\r\n"); /* the empty level */
    assert_contains(txt, "\r\nbig,tenth,");
    assert_contains(txt, "\r\noverall,all,27692,12239,0.7645,0.0021,0.7604,0.7685,0.7541,0.0019,"); /* n, events by 900, C */
    free(txt);
    free(d);
}

/* The library calls themselves: Harrell's and Uno's C and the calibration bins
 * under the least budget (13 chunks of lp ranks, 4 held a pass; records in a
 * file) are the bits of no budget; the C is the hazard's (well above 1/2). */
static void test_surv_budget__concordance_and_calibration_bits(void **state)
{
    data *d = make();
    strata_surv_conc mem[2], lim[2];
    strata_surv_calib bm[10], bl[10];
    int nm = 0, nl = 0;
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        strata_ctx *ctx = tu_ctx();
        strata_surv_conc *o = pass ? lim : mem;
        strata_ctx_set_memory_budget(ctx, pass ? strata_surv_evaluate_bytes(N) : 0);
        strata_ctx_set_threads(ctx, 2 - pass);
        assert_status(ctx, strata_surv_concordance(ctx, &d->in, STRATA_CONC_HARRELL, 0.95, &o[0]), STRATA_OK);
        assert_status(ctx, strata_surv_concordance(ctx, &d->in, STRATA_CONC_UNO, 0.95, &o[1]), STRATA_OK);
        assert_status(ctx, strata_surv_calibration(ctx, &d->in, 900, 10, 0.95, pass ? bl : bm, pass ? &nl : &nm),
                      STRATA_OK);
        strata_ctx_free(ctx);
    }
    assert_memory_equal(mem, lim, sizeof mem);
    assert_int_equal(nm, 10);
    assert_int_equal(nl, nm);
    assert_memory_equal(bm, bl, sizeof bm);
    for (int k = 0; k < 2; k++) {
        assert_true(mem[k].c > 0.6 && mem[k].c < 0.9);
        assert_true(mem[k].se > 0 && mem[k].se < 0.01);
        assert_true(mem[k].tied_x > 0 && mem[k].tied_y > 0);
    }
    for (int g = 1; g < nm; g++) /* risk groups in order, observed rising with predicted */
        assert_true(bm[g].p_min >= bm[g - 1].p_max && bm[g].obs > bm[0].obs);
    free(d);
}

/* Below the least budget: STRATA_ENOMEM naming the need, nothing written. */
static void test_surv_budget__below_the_least_refuses(void **state)
{
    data *d = make();
    strata_ctx *ctx = tu_ctx();
    strata_eval_params par;
    size_t need = strata_surv_evaluate_bytes(N);
    char msg[160];
    (void)state;
    strata_eval_params_init(&par);
    strata_ctx_set_memory_budget(ctx, need - 1);
    assert_status(ctx, strata_surv_evaluate_write(ctx, &d->in, 900, d->by, 2, &par, tu_tmp("svb_no")), STRATA_ENOMEM);
    snprintf(msg, sizeof msg, "it needs %zu bytes, over the memory budget of %zu bytes", need, need - 1);
    assert_contains(strata_ctx_errmsg(ctx), msg);
    assert_null(tu_read_file(tu_tmp("svb_no/surv_summary.csv"), NULL));
    strata_ctx_free(ctx);
    free(d);
}

/* strata evaluate of a Cox model: no limit on 2 threads and the least limit on
 * 1 thread (its columns, 48 bytes a row here, and the streamed evaluation's
 * least) write the same files; 1 byte less exits 3 naming the need. */
static void test_surv_budget__cli_mem_limit_streams_or_exits_3(void **state)
{
    const char *f = "Surv(time_to_emergency_days, emergency_event) ~ age + sex + imd_decile + strata(pcn)";
    size_t n = 3000, lim = 48 * (n + 1) + strata_surv_evaluate_bytes(n);
    char *out = NULL, want[200];
    (void)state;
    assert_int_equal(tu_run_cli(NULL, "synth --pcn U60510 --patients %zu --seed 11 --quiet --out %s", n,
                                tu_tmp("svb.h5")), 0);
    assert_int_equal(tu_run_cli(NULL, "fit %s --family cox --formula '%s' --quiet --out %s", tu_tmp("svb.h5"), f,
                                tu_tmp("svbm.h5")), 0);
    assert_int_equal(tu_run_cli(NULL, "evaluate %s %s --horizon 365 --by sex --threads 2 --quiet --out %s",
                                tu_tmp("svbm.h5"), tu_tmp("svb.h5"), tu_tmp("svb_c0")), 0);
    assert_int_equal(tu_run_cli(NULL, "evaluate %s %s --horizon 365 --by sex --threads 1 --mem-limit %zu --quiet "
                                      "--out %s",
                                tu_tmp("svbm.h5"), tu_tmp("svb.h5"), lim, tu_tmp("svb_c1")), 0);
    assert_same_file("svb_c0/surv_summary.csv", "svb_c1/surv_summary.csv");
    assert_same_file("svb_c0/surv_calibration.csv", "svb_c1/surv_calibration.csv");
    assert_int_equal(tu_run_cli(&out, "evaluate %s %s --horizon 365 --by sex --mem-limit %zu --out %s",
                                tu_tmp("svbm.h5"), tu_tmp("svb.h5"), lim - 1, tu_tmp("svb_c2")), 3);
    snprintf(want, sizeof want, "the evaluation, streamed, needs at least %zu more: over the memory budget of %zu "
                                "bytes", strata_surv_evaluate_bytes(n), lim - 1);
    assert_contains(out, want);
    assert_null(tu_read_file(tu_tmp("svb_c2/surv_summary.csv"), NULL));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surv_budget__streamed_same_bytes_and_bounded),
        cmocka_unit_test(test_surv_budget__concordance_and_calibration_bits),
        cmocka_unit_test(test_surv_budget__below_the_least_refuses),
        cmocka_unit_test(test_surv_budget__cli_mem_limit_streams_or_exits_3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
