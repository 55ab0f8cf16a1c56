/* models/elnet/elnet_dist.c — the elastic net across MPI ranks (docs/scale.md,
 * "The distributed elastic net"): rank r holds the rows of the fixed row
 * ranges (chunks) [c0, c1) of ELNET_NCHUNK; every sum over rows is a chunk
 * partial, gathered to every rank (engine/core/comm.h) and added in chunk order.
 * Invariant: the chunks are those of one process (ELNET_NCHUNK ranges of the
 * whole problem), so K ranks give the bytes of one process for any K. */
#include "elnet_internal.h"
#include "strata/mpi.h"

#include <string.h>

void elnet_slab_one(size_t n, elnet_slab *s)
{
    memset(s, 0, sizeof *s);
    s->nall = n;
    s->c1 = ELNET_NCHUNK;
}

void elnet_slab_make(const strata_comm *c, size_t nall, elnet_slab *s)
{
    elnet_slab_one(nall, s);
    if (!c)
        return;
    s->comm = c;
    s->c0 = strata_comm_split(ELNET_NCHUNK, c->size, c->rank, 1);
    s->c1 = strata_comm_split(ELNET_NCHUNK, c->size, c->rank + 1, 1);
    s->row0 = nall * s->c0 / ELNET_NCHUNK;
}

size_t elnet_slab_rows(const elnet_slab *s)
{
    return s->nall * s->c1 / ELNET_NCHUNK - s->row0;
}

void elnet_chunk_rows(const elnet_slab *s, size_t c, size_t *r0, size_t *r1)
{
    *r0 = s->nall * c / ELNET_NCHUNK - s->row0;
    *r1 = s->nall * (c + 1) / ELNET_NCHUNK - s->row0;
}

strata_status elnet_gather(const elnet_slab *s, void *a, size_t stride)
{
    const strata_comm *c = s->comm;
    size_t cd[2 * STRATA_MPI_MAX_RANKS];
    if (!c)
        return STRATA_OK;
    if (c->size > STRATA_MPI_MAX_RANKS)
        return STRATA_EINTERNAL;
    for (int r = 0; r < c->size; r++) {
        size_t lo = strata_comm_split(ELNET_NCHUNK, c->size, r, 1);
        size_t hi = strata_comm_split(ELNET_NCHUNK, c->size, r + 1, 1);
        cd[r] = (hi - lo) * stride;
        cd[STRATA_MPI_MAX_RANKS + (size_t)r] = lo * stride;
    }
    return c->allgatherv(c->ud, NULL, a, cd, cd + STRATA_MPI_MAX_RANKS);
}

strata_status elnet_carry_sum(const elnet_slab *s, const double *x, size_t n, double *sum)
{
    const strata_comm *c = s->comm;
    double t = 0;
    strata_status st = STRATA_OK;
    if (c && c->rank > 0)
        st = c->recv(c->ud, &t, sizeof t, c->rank - 1);
    for (size_t i = 0; i < n; i++)
        t += x ? x[i] : 1;
    if (st == STRATA_OK && c && c->rank + 1 < c->size)
        st = c->send(c->ud, &t, sizeof t, c->rank + 1);
    if (st == STRATA_OK && c)
        st = c->bcast(c->ud, &t, sizeof t, c->size - 1);
    *sum = t;
    return st;
}

strata_status elnet_all_ranks(const elnet_slab *s, int *flag)
{
    const strata_comm *c = s->comm;
    unsigned char f[STRATA_MPI_MAX_RANKS];
    size_t cd[2 * STRATA_MPI_MAX_RANKS];
    strata_status st;
    if (!c)
        return STRATA_OK;
    if (c->size > STRATA_MPI_MAX_RANKS)
        return STRATA_EINTERNAL;
    for (int r = 0; r < c->size; r++)
        cd[r] = 1, cd[STRATA_MPI_MAX_RANKS + (size_t)r] = (size_t)r;
    f[c->rank] = *flag != 0;
    if ((st = c->allgatherv(c->ud, NULL, f, cd, cd + STRATA_MPI_MAX_RANKS)) != STRATA_OK)
        return st;
    for (int r = 0; r < c->size; r++)
        *flag = *flag && f[r];
    return STRATA_OK;
}
