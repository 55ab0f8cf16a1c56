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
    cox_fit_out fo[KMAX];
    strata_status st[KMAX];
} job;

static void run_rank(strata_ctx *ctx, int r, void *arg)
{
    job *j = arg;
    j->st[r] = cox_fit_source(ctx, j->src, j->formula, j->weights, j->prm, &j->fo[r]);
    /* the results outlive the context: freed with the default allocator below */
    if (j->st[r] != STRATA_OK)
        fprintf(stderr, "rank %d: %s\n", r, strata_ctx_errmsg(ctx));
}

/* Fits formula on K ranks and compares every rank with one process. */
static void across(const glm_source *src, const char *formula, const char *weights, cox_params *prm, int K)
{
    strata_ctx *ctx = tu_ctx();
    cox_fit_out one;
    job j;
    tc_stats ts;
    assert_status(ctx, cox_fit_source(ctx, src, formula, weights, prm, &one), STRATA_OK);
    memset(&j, 0, sizeof j);
    j.src = src;
    j.formula = formula;
    j.weights = weights;
    j.prm = prm;
    tc_run(K, run_rank, &j, &ts);
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
    colon_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_dist__efron_strata_robust_same_bytes_as_one_process),
        cmocka_unit_test(test_cox_dist__breslow_weights_cluster_same_bytes),
        cmocka_unit_test(test_cox_dist__tied_groups_over_whole_blocks_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
