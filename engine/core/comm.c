/* engine/core/comm.c — the context's communicator and the helpers every
 * distributed step shares: agreeing on a status, splitting rows over ranks.
 * Invariant: no MPI here; the collectives are the communicator's callbacks. */
#include "comm.h"

#include <string.h>

const strata_comm *strata_ctx_comm(const strata_ctx *ctx)
{
    return ctx ? ctx->comm : NULL;
}

void strata_ctx_set_comm(strata_ctx *ctx, const strata_comm *comm)
{
    if (ctx)
        ctx->comm = comm;
}

size_t strata_comm_split(size_t n, int size, int r, size_t align)
{
    size_t lo;
    if (r <= 0)
        return 0;
    if (r >= size)
        return n;
    lo = (size_t)((unsigned long long)n * (unsigned)r / (unsigned)size);
    return lo / align * align;
}

strata_status strata_comm_agree(strata_ctx *ctx, strata_status st)
{
    return strata_comm_agree_first(ctx, st, 0);
}

/* What each rank shows the others: its status and, failing, its key. */
typedef struct agree_part {
    int64_t st;
    uint64_t key;
} agree_part;

strata_status strata_comm_agree_first(strata_ctx *ctx, strata_status st, uint64_t key)
{
    const strata_comm *c = strata_ctx_comm(ctx);
    agree_part parts[64], *all = parts;
    int first = -1;
    size_t counts[64] = {0}, displs[64] = {0}, *cn = counts, *dp = displs;
    char msg[STRATA_ERRMSG_MAX];
    strata_status out = STRATA_OK;
    if (!c)
        return st;
    if (c->size > 64) {
        all = strata_alloc(ctx, (size_t)c->size * sizeof *all);
        cn = strata_alloc(ctx, (size_t)c->size * sizeof *cn);
        dp = strata_alloc(ctx, (size_t)c->size * sizeof *dp);
        if (!all || !cn || !dp) {
            STRATA_FREE_ALL(ctx, all, cn, dp);
            return STRATA_ENOMEM;
        }
    }
    for (int r = 0; r < c->size; r++)
        cn[r] = sizeof *all, dp[r] = (size_t)r * sizeof *all;
    all[c->rank].st = (int64_t)st;
    all[c->rank].key = key;
    if (c->allgatherv(c->ud, NULL, all, cn, dp) != STRATA_OK)
        out = STRATA_EIO;
    for (int r = 0; out == STRATA_OK && r < c->size; r++) /* the least key; among equals, the lowest rank */
        if (all[r].st != STRATA_OK && (first < 0 || all[r].key < all[first].key))
            first = r;
    if (first >= 0) {
        out = (strata_status)all[first].st;
        snprintf(msg, sizeof msg, "%s", ctx->errmsg);
        if (c->bcast(c->ud, msg, sizeof msg, first) != STRATA_OK)
            out = STRATA_EIO;
        else if (first != c->rank)
            out = STRATA_FAIL(ctx, out, "%s", msg);
    }
    if (all != parts)
        STRATA_FREE_ALL(ctx, all, cn, dp);
    return out;
}

strata_status strata_comm_rounds(strata_ctx *ctx, size_t nq, strata_status st,
                                 const strata_comm_rounds_ops *ops, void *ud)
{
    const strata_comm *c = strata_ctx_comm(ctx);
    const size_t K = c ? (size_t)c->size : 1, me = c ? (size_t)c->rank : 0; /* no ranks: in order */
    for (size_t q0 = 0; q0 < nq; q0 += K) { /* every rank takes every round's agreement */
        if (q0 + me < nq && st == STRATA_OK)
            st = ops->make(ud, q0 + me);
        if ((st = strata_comm_agree(ctx, st)) != STRATA_OK)
            break;
        for (size_t j = 0; j < K && q0 + j < nq; j++) {
            if (j == 0 && me == 0) {
                st = ops->keep(ud, q0);
            } else if (me == 0) {
                strata_status ts = ops->take(ud, c, q0 + j, (int)j, st == STRATA_OK);
                if (st == STRATA_OK)
                    st = ts;
            } else if (me == j) {
                st = ops->send(ud, c, q0 + j);
            }
        }
        if (st == STRATA_OK && me == 0 && ops->written)
            ops->written(ud, q0 + K < nq ? q0 + K : nq);
    }
    return strata_comm_agree(ctx, st);
}
