/* labels: unit determinism */
/* tests/test_thread_comm.c — the test harness that runs K ranks as threads
 * (tests/thread_comm.c), which the distributed tests (test_derive_dist,
 * test_cox_dist, test_glm_stream, ...) rely on. Ranks that diverge must break
 * the world at once, from the ranks' states, with every later collective
 * failing; ranks that are merely slow must not. Before this was so, a rank
 * that spent over 10 s between collectives under ASan on a loaded CI machine
 * broke the world by its clock, and the barrier then let the others through
 * out of step (stop 29's CI: a null memcpy, then a 600 s ctest timeout). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"
#include "thread_comm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    int mode;
    strata_status st[4][2]; /* each rank's first and second collective */
    int got;                /* rank 1's received value */
} job;

enum { SLOW, SKIP, RECV_FROM_GONE, SENT_THEN_GONE };

static void body(strata_ctx *ctx, int rank, void *arg)
{
    job *j = arg;
    const strata_comm *c = strata_ctx_comm(ctx);
    struct timespec nap = {0, 300 * 1000 * 1000};
    int v = 41;
    switch (j->mode) {
    case SLOW: /* rank 0 is late to both collectives: the others just wait */
        if (rank == 0)
            nanosleep(&nap, NULL);
        j->st[rank][0] = strata_comm_agree(ctx, STRATA_OK);
        if (rank == 0)
            nanosleep(&nap, NULL);
        j->st[rank][1] = strata_comm_agree(ctx, STRATA_OK);
        break;
    case SKIP: /* the last rank leaves without the collectives */
        if (rank == c->size - 1)
            return;
        j->st[rank][0] = strata_comm_agree(ctx, STRATA_OK);
        j->st[rank][1] = strata_comm_agree(ctx, STRATA_OK); /* broken for good */
        break;
    case RECV_FROM_GONE: /* rank 1 waits for a message rank 0 never sends */
        if (rank == 1)
            j->st[1][0] = c->recv(c->ud, &j->got, sizeof j->got, 0);
        break;
    case SENT_THEN_GONE: /* rank 0 sends and leaves: the message still arrives */
        if (rank == 0)
            j->st[0][0] = c->send(c->ud, &v, sizeof v, 1);
        else
            j->st[1][0] = c->recv(c->ud, &j->got, sizeof j->got, 0);
        break;
    }
}

static tc_stats run(job *j, int K)
{
    tc_stats s;
    for (int r = 0; r < 4; r++)
        j->st[r][0] = j->st[r][1] = (strata_status)-99;
    tc_run(K, body, j, &s);
    return s;
}

static void test_thread_comm__slow_ranks_wait_and_agree(void **state)
{
    (void)state;
    setenv("TC_WAIT_SECONDS", "100000", 1); /* no clock: states alone decide */
    for (int K = 2; K <= 3; K++) {
        job j = {SLOW, {{0}}, 0};
        tc_stats s = run(&j, K);
        assert_false(s.broken);
        for (int r = 0; r < K; r++) {
            assert_int_equal(j.st[r][0], STRATA_OK);
            assert_int_equal(j.st[r][1], STRATA_OK);
        }
        assert_int_equal(s.gathers, 2);
    }
}

/* Found without waiting for TC_WAIT_SECONDS (100,000 s: ctest's timeout
 * would end the test long before that clock). */
static void test_thread_comm__a_rank_that_skips_a_collective_breaks_the_world(void **state)
{
    (void)state;
    setenv("TC_WAIT_SECONDS", "100000", 1);
    for (int K = 2; K <= 4; K++) {
        job j = {SKIP, {{0}}, 0};
        tc_stats s = run(&j, K);
        assert_true(s.broken);
        for (int r = 0; r < K - 1; r++) {
            assert_int_equal(j.st[r][0], STRATA_EIO);
            assert_int_equal(j.st[r][1], STRATA_EIO); /* no barrier passes once broken */
        }
    }
}

static void test_thread_comm__a_receive_from_a_rank_that_left_fails(void **state)
{
    (void)state;
    setenv("TC_WAIT_SECONDS", "100000", 1);
    job j = {RECV_FROM_GONE, {{0}}, 0};
    tc_stats s = run(&j, 2);
    assert_true(s.broken);
    assert_int_equal(j.st[1][0], STRATA_EIO);
}

static void test_thread_comm__a_message_sent_before_leaving_is_received(void **state)
{
    (void)state;
    setenv("TC_WAIT_SECONDS", "100000", 1);
    job j = {SENT_THEN_GONE, {{0}}, 0};
    tc_stats s = run(&j, 2);
    assert_false(s.broken);
    assert_int_equal(j.st[0][0], STRATA_OK);
    assert_int_equal(j.st[1][0], STRATA_OK);
    assert_int_equal(j.got, 41);
    assert_int_equal(s.unread, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_comm__slow_ranks_wait_and_agree),
        cmocka_unit_test(test_thread_comm__a_rank_that_skips_a_collective_breaks_the_world),
        cmocka_unit_test(test_thread_comm__a_receive_from_a_rank_that_left_fails),
        cmocka_unit_test(test_thread_comm__a_message_sent_before_leaving_is_received),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
