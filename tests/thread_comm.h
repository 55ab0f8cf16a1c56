/* tests/thread_comm.h — K ranks without MPI: K threads of one process, each
 * with its own context and a communicator (engine/core/comm.h) of in-memory
 * collectives (barriers, all-gather, broadcast, ordered mailboxes), so the
 * distributed paths run in the ordinary and sanitizer suites. Ranks that
 * diverge (one waits for a collective or a message the others never give) do
 * not hang the test: when every rank has returned or waits and no wait can end,
 * the world breaks and every later collective fails with STRATA_EIO. That is
 * found from the ranks' states, not a clock, so a rank slowed by a sanitizer
 * or a loaded machine never breaks it (TC_WAIT_SECONDS, default 900, caps any
 * one wait as a last resort). */
#ifndef STRATA_TEST_THREAD_COMM_H
#define STRATA_TEST_THREAD_COMM_H

#include "comm.h"

#define TC_MAX_RANKS 32

typedef struct tc_stats {
    long gathers;  /* all-gathers (counted on rank 0) */
    long sends;    /* point-to-point messages, every rank */
    int bad_size;  /* a message received with another size than sent */
    int unread;    /* messages left in a mailbox when the ranks returned */
    int broken;    /* the ranks deadlocked: they diverged */
} tc_stats;

/* Rank `rank`'s work on its context ctx (1 thread, the communicator set;
 * freed when body returns, so copy results out with the default allocator). */
typedef void (*tc_body)(strata_ctx *ctx, int rank, void *arg);

/* Runs body on K ranks (2 <= K <= TC_MAX_RANKS) and waits for all; returns
 * what the collectives saw (stats may be NULL). */
void tc_run(int K, tc_body body, void *arg, tc_stats *stats);

#endif
