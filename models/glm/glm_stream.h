/* models/glm/glm_stream.h — the streamed fit's state, shared by the driver's
 * load step (glm_fit.c) and the streamed passes (glm_stream.c). Invariant:
 * compact block b is made of the complete cases among source rows
 * [srow[b], srow[b + 1]), so any chunk of whole blocks is read and compacted
 * alone, with the same rows in the same order as the in-memory columns. */
#ifndef STRATA_GLM_STREAM_H
#define STRATA_GLM_STREAM_H

#include "comm.h"
#include "glm_fit.h"

/* One chunk's buffers: nv columns (compacted in place), unit weights, offsets,
 * linear predictor, span rows each. */
typedef struct glm_chunkbuf {
    double **col;
    double *wt1, *off, *eta;
} glm_chunkbuf;

struct glm_stream {
    strata_ctx *ctx;
    const glm_source *src;
    const glm_varbind *vb;
    size_t nv;          /* variables read (the formula's) */
    size_t cap;         /* source rows a chunk aims at (from the budget) */
    size_t span;        /* rows each buffer set holds */
    glm_chunkbuf set[2]; /* a pass computes on one while the next chunk is read into the other */
    size_t nblocks;
    size_t *srow;       /* nblocks + 1 source rows where compact blocks start */
    size_t nchunks;
    size_t *cb;         /* nchunks + 1: chunk k is blocks [cb[k], cb[k + 1]) */
    /* Distributed (docs/scale.md#mpi): rank r owns blocks [rb[r], rb[r + 1]),
     * read once into set 0 (nres complete cases) and kept; comm NULL: one process.
     * own: the largest rank's blocks exceed the memory budget, so every rank
     * streams its own blocks instead, in chunks of at most cap source rows
     * read into set 0 with its own (independent) reads, once per pass. */
    const strata_comm *comm;
    size_t *rb;
    size_t blo, bhi, nres;
    size_t budget;      /* the context's memory budget (0: none) */
    int own;
    strata_status st;   /* first read error of a pass */
    char msg[STRATA_ERRMSG_MAX];
};

void glm_stream_free(strata_ctx *ctx, glm_stream *s); /* accepts NULL */
/* Makes both buffer sets hold at least span rows. */
strata_status glm_stream_buffers(strata_ctx *ctx, glm_stream *s, size_t span);
/* Reads source rows [r0, r0 + m) of every variable into buffer set 0. */
strata_status glm_stream_read(strata_ctx *ctx, glm_stream *s, size_t r0, size_t m);
/* Chunks of whole blocks of at most cap source rows (one block at least), from srow. */
strata_status glm_stream_plan(strata_ctx *ctx, glm_stream *s, size_t nblocks);
/* Points d at n compact rows of raw: y, the weights (wt1 filled with 1 without
 * a weights column) and the offsets (computed into off, or NULL without). */
void glm_rows_bind(fitdata *d, double **raw, size_t n, double *wt1, double *off);
/* Distributed: this rank's blocks of s->nblocks (whole multiples of the warm
 * start's stride), read collectively into set 0 and compacted; every rank
 * must call it (the read of a rank without blocks has no rows). When the
 * largest rank's blocks exceed s->budget every rank streams its blocks
 * instead (s->own; the source's reads become the rank's own). */
strata_status glm_stream_plan_dist(strata_ctx *ctx, glm_stream *s, size_t nblocks, size_t nb, size_t n);
/* STRATA_OK, or the first read error of the passes (its message restored on ctx). */
strata_status glm_stream_status(strata_ctx *ctx, const glm_stream *s);

#endif
