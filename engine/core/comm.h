/* engine/core/comm.h — the communicator the models and io see: rank, size and
 * a few byte-level collectives behind function pointers, set on a context by
 * engine/mpi (the only MPI caller). Invariant: nothing here sums — every
 * reduction that needs a fixed order gathers the parts and sums them itself in
 * block (or rank) order, so results do not depend on the number of ranks. */
#ifndef STRATA_COMM_H
#define STRATA_COMM_H

#include "internal.h"

#include <stdint.h>

typedef struct strata_comm {
    int rank, size; /* this process and the number of processes (size > 1) */
    void *ud;
    /* Every rank's bytes to every rank, in rank order: rank r's counts[r]
     * bytes land at recv + displs[r]; send == NULL: in place (already there). */
    strata_status (*allgatherv)(void *ud, const void *send, void *recv, const size_t *counts,
                                const size_t *displs);
    /* n bytes of root's buf to every rank. */
    strata_status (*bcast)(void *ud, void *buf, size_t n, int root);
    /* Point to point, for row-order sums carried from rank to rank. */
    strata_status (*send)(void *ud, const void *buf, size_t n, int to);
    strata_status (*recv)(void *ud, void *buf, size_t n, int from);
    /* Parallel HDF5 property lists (hid_t as int64_t; the caller closes
     * them): a file access list on the MPI-IO driver and the row reads'
     * transfer list — collective (own = 0), or independent (own = 1: this
     * rank's own reads, which the others do not join). Used by engine/io only. */
    int64_t (*h5_fapl)(void *ud);
    int64_t (*h5_dxpl)(void *ud, int own);
    /* For the manifest: how the ranks were started ("srun (Slurm job 7,
     * step 0)", "mpirun (Open MPI)", ...) and where they run: the nodes in
     * order of their first rank, each with its rank count ("vm: 2 ranks";
     * "a: 4 ranks, b: 4 ranks"), and the number of nodes. */
    const char *launcher, *layout;
    int nodes;
} strata_comm;

/* The context's communicator, or NULL (one process: the serial paths). */
const strata_comm *strata_ctx_comm(const strata_ctx *ctx);
void strata_ctx_set_comm(strata_ctx *ctx, const strata_comm *comm);

/* Every rank's status of a collective step, agreed: STRATA_OK when all
 * succeeded, else the lowest failing rank's status and message on every rank
 * (so no rank goes on into a collective that another has left). */
strata_status strata_comm_agree(strata_ctx *ctx, strata_status st);
/* The same, but of the failing ranks the one with the least key speaks (the
 * lowest rank among equal keys): key = the first failing item (a fold, a
 * row) in one process's order, so K ranks report the error one process
 * gives. */
strata_status strata_comm_agree_first(strata_ctx *ctx, strata_status st, uint64_t key);

/* Work dealt round the ranks, written by rank 0 in order: item q (a block of
 * rows) is made by rank q mod K, from its own reads. After each round of K
 * items the ranks agree on its status (the lowest failing rank's message is
 * the earliest failing item's: the error one process gives); then rank 0
 * keeps its own item and takes the others' in item order, each sent by its
 * maker. Rank 0 takes every message even after its own write failed (append
 * = 0), so no sender waits; that failure is agreed at the next round. */
typedef struct strata_comm_rounds_ops {
    strata_status (*make)(void *ud, size_t q);                    /* this rank's item q */
    strata_status (*keep)(void *ud, size_t q);                    /* rank 0: write its own */
    strata_status (*send)(void *ud, const strata_comm *c, size_t q); /* maker: item q to rank 0 */
    strata_status (*take)(void *ud, const strata_comm *c, size_t q, int from, int append);
    void (*written)(void *ud, size_t nq);                         /* rank 0: items [0, nq) out */
} strata_comm_rounds_ops;

/* Runs nq items through ops on every rank (st: this rank's status so far);
 * returns the agreed status. */
strata_status strata_comm_rounds(strata_ctx *ctx, size_t nq, strata_status st,
                                 const strata_comm_rounds_ops *ops, void *ud);

/* Row ranges [lo[r], lo[r + 1]) of n rows (or blocks) split evenly over the
 * ranks, each start rounded down to a multiple of align (>= 1). */
size_t strata_comm_split(size_t n, int size, int r, size_t align);

#endif
