/* labels: unit determinism models */
/* tests/test_cox_dist.c — the Cox fit across ranks (models/cox/cox_dist.c,
 * docs/scale.md "The distributed Cox fit") without MPI: K threads, each a rank
 * with its own context and a communicator of in-memory collectives
 * (tests/thread_comm.c), fit colon from a column source with small blocks, so every gather,
 * the spills of tied groups over whole blocks, the exchange of design rows, the
 * carried sums and the robust variance (per row and by cluster) run, here under
 * the sanitizers too. Every rank's result must equal the one-process fit's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include "cox_testdata.c"

#include "thread_comm.h"

#define KMAX 4

/* The fit every rank runs, and what each got. */
typedef struct job {
    const glm_source *src;
    const char *formula, *weights;
    const cox_params *prm;
    size_t budget;            /* each rank's memory budget (0: none) */
    cox_fit_out fo[KMAX];
    strata_status st[KMAX];
    int streamed[KMAX];       /* the rank logged its streaming plan */
    size_t windows[KMAX];     /* windows of its blocks */
} job;

/* A rank's streaming line: "..., W windows of R rows, ...". */
typedef struct rlog {
    job *j;
    int r;
} rlog;

static void rank_log(void *ud, strata_log_level level, const char *msg)
{
    rlog *l = ud;
    const char *at = strstr(msg, "streaming the sorted design");
    (void)level;
    if (at && (at = strstr(at, "scratch file in ")) && (at = strstr(at, ", "))) {
        l->j->streamed[l->r] = 1;
        l->j->windows[l->r] = (size_t)strtoul(at + 2, NULL, 10);
    }
}

static void run_rank(strata_ctx *ctx, int r, void *arg)
{
    job *j = arg;
    rlog l = {j, r};
    strata_ctx_set_log(ctx, rank_log, &l, STRATA_LOG_INFO);
    strata_ctx_set_memory_budget(ctx, j->budget);
    j->st[r] = cox_fit_source(ctx, j->src, j->formula, j->weights, j->prm, &j->fo[r]);
    /* the results outlive the context: freed with the default allocator below */
    if (j->st[r] != STRATA_OK)
        fprintf(stderr, "rank %d: %s\n", r, strata_ctx_errmsg(ctx));
}

/* Fits formula on K ranks (each under budget, or streaming in windows of
 * prm->window_rows rows when set; 0 and 0: in memory) and compares every rank
 * with one process in memory; min_windows: the windows each rank with rows must
 * have streamed at least in all (0: none streamed). */
static void across_ex(const glm_source *src, const char *formula, const char *weights, cox_params *prm, int K,
                      size_t budget, size_t min_windows)
{
    strata_ctx *ctx = tu_ctx();
    cox_fit_out one;
    cox_params mem = *prm;
    job j;
    tc_stats ts;
    size_t nw = 0;
    mem.window_rows = 0;
    assert_status(ctx, cox_fit_source(ctx, src, formula, weights, &mem, &one), STRATA_OK);
    memset(&j, 0, sizeof j);
    j.src = src;
    j.formula = formula;
    j.weights = weights;
    j.prm = prm;
    j.budget = budget;
    tc_run(K, run_rank, &j, &ts);
    for (int r = 0; r < K; r++) {
        assert_int_equal(j.streamed[r], min_windows > 0);
        nw += j.windows[r];
    }
    if (nw < min_windows)
        fail_msg("%zu windows over the %d ranks, expected at least %zu", nw, K, min_windows);
    assert_false(ts.broken);
    assert_int_equal(ts.bad_size, 0);
    assert_int_equal(ts.unread, 0); /* every message sent was received */
    /* the ranks did talk: each evaluation gathers 10 times; design rows and sums were sent */
    assert_true(ts.gathers >= 10 * one.res->evals);
    assert_true(ts.sends >= K - 1);
    for (int r = 0; r < K; r++) {
        assert_int_equal(j.st[r], STRATA_OK);
        same_bytes(one.res, j.fo[r].res, prm->robust || one.cf->cluster);
        assert_int_equal(j.fo[r].n_strata_values, one.n_strata_values);
        cox_fit_out_free(ctx, &j.fo[r]);
    }
    cox_fit_out_free(ctx, &one);
    strata_ctx_free(ctx);
}

static void across(const glm_source *src, const char *formula, const char *weights, cox_params *prm, int K)
{
    across_ex(src, formula, weights, prm, K, 0, 0);
}

/* Efron, strata, a factor, the robust variance per row; 64-row blocks on 2 and 3 ranks. */
static void test_cox_dist__efron_strata_robust_same_bytes_as_one_process(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 64;
    prm.robust = 1;
    across(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 2);
    across(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 3);
    /* each rank streams its blocks through its own scratch file: windows of 2 blocks */
    prm.window_rows = 128;
    across_ex(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 2, 0, 3);
    colon_free(&c);
}

/* Breslow, case weights, cluster(): the cluster sums carried from rank to rank;
 * 16-row blocks on 4 ranks. */
static void test_cox_dist__breslow_weights_cluster_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.ties = COX_TIES_BRESLOW;
    prm.block_rows = 16;
    across(&c.src, "Surv(time, status) ~ rx + age + nodes + cluster(cl) + strata(extent)", "w", &prm, 4);
    /* streamed, windows of 3 blocks: the cluster sums carried over windows and ranks */
    prm.window_rows = 48;
    across_ex(&c.src, "Surv(time, status) ~ rx + age + nodes + cluster(cl) + strata(extent)", "w", &prm, 4, 0, 3);
    colon_free(&c);
}

/* Efron with two tied groups of ~900 rows (a 0/1 time): each spans many 32-row
 * blocks, so the group's event sums come from the spills of whole blocks. */
static void test_cox_dist__tied_groups_over_whole_blocks_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 32;
    across(&c.src, "Surv(late, status) ~ rx + sex + age + nodes", NULL, &prm, 3);
    /* streamed: a group's spills over windows and ranks (the spill sweep) */
    prm.window_rows = 64;
    across_ex(&c.src, "Surv(late, status) ~ rx + sex + age + nodes", NULL, &prm, 3, 0, 5);
    /* two 512-row blocks on 3 ranks: a rank owns none (no window, no buffer) */
    prm.block_rows = prm.window_rows = 512;
    across_ex(&c.src, "Surv(late, status) ~ rx + sex + age + nodes", NULL, &prm, 3, 0, 2);
    colon_free(&c);
}

/* No window_rows: a budget per rank below what a rank of the in-memory fit
 * holds streams each rank's blocks through its own scratch file, in several
 * windows, with the one-process bytes (20,000 rows: Efron, strata, weights,
 * cluster() carried over windows and ranks, an interaction and a spline). */
static void test_cox_dist__ranks_stream_under_budget_same_bytes(void **state)
{
    syn y;
    cox_params prm;
    (void)state;
    syn_make(&y, 20000);
    cox_params_init(&prm);
    prm.block_rows = 1024;
    across_ex(&y.src, "Surv(t, e) ~ x1 * x2 * x3 * x4 + rcs(x4, 4) + strata(s) + cluster(cl)", "w", &prm, 2,
              (size_t)5 << 20, 2);
    syn_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_dist__efron_strata_robust_same_bytes_as_one_process),
        cmocka_unit_test(test_cox_dist__breslow_weights_cluster_same_bytes),
        cmocka_unit_test(test_cox_dist__tied_groups_over_whole_blocks_same_bytes),
        cmocka_unit_test(test_cox_dist__ranks_stream_under_budget_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
