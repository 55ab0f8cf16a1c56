/* models/glm/glm_stream.c — the GLM's passes when the columns exceed the memory
 * budget: each pass reads the source in chunks of whole fixed row blocks (one
 * read of each chunk per pass), compacts the chunk's complete cases as the
 * in-memory load does, and runs the in-memory pass (glm_run_pass) on it as a
 * window of the fit's data, while the next chunk is read on a second thread.
 * Invariant: the block partials, and so every result,
 * are byte-identical to the in-memory fit's for any thread count. */
#include "glm_stream.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

void glm_stream_free(strata_ctx *ctx, glm_stream *s)
{
    if (!s)
        return;
    for (int k = 0; k < 2; k++) {
        glm_chunkbuf *c = &s->set[k];
        for (size_t v = 0; c->col && v < s->nv; v++)
            strata_free(ctx, c->col[v], 0);
        STRATA_FREE_ALL(ctx, c->col, c->wt1, c->off, c->eta);
    }
    STRATA_FREE_ALL(ctx, s->srow, s->cb);
    strata_free(ctx, s, sizeof *s);
}

strata_status glm_stream_buffers(strata_ctx *ctx, glm_stream *s, size_t span)
{
    if (span <= s->span && s->set[0].col)
        return STRATA_OK;
    for (int k = 0; k < 2; k++) {
        glm_chunkbuf *c = &s->set[k];
        if (!c->col && !(c->col = strata_calloc(ctx, s->nv, sizeof *c->col)))
            return STRATA_ENOMEM;
        for (size_t v = 0; v < s->nv; v++) {
            strata_free(ctx, c->col[v], 0);
            if (!(c->col[v] = strata_alloc(ctx, (span + 1) * sizeof **c->col)))
                return STRATA_ENOMEM;
        }
        STRATA_FREE_ALL(ctx, c->wt1, c->off, c->eta);
        c->wt1 = strata_alloc(ctx, (span + 1) * sizeof *c->wt1);
        c->off = strata_alloc(ctx, (span + 1) * sizeof *c->off);
        c->eta = strata_alloc(ctx, (span + 1) * sizeof *c->eta);
        if (!c->wt1 || !c->off || !c->eta)
            return STRATA_ENOMEM;
    }
    s->span = span;
    return STRATA_OK;
}

static strata_status read_rows(strata_ctx *ctx, glm_stream *s, double **col, size_t r0, size_t m)
{
    for (size_t v = 0; v < s->nv; v++)
        STRATA_TRY(s->src->read_f64(ctx, s->src->ud, s->vb[v].src_col, r0, m, col[v]));
    return STRATA_OK;
}

strata_status glm_stream_read(strata_ctx *ctx, glm_stream *s, size_t r0, size_t m)
{
    return read_rows(ctx, s, s->set[0].col, r0, m);
}

/* Groups the blocks into chunks of at most s->cap source rows (at least one
 * block each) and sizes the buffers for the widest. */
strata_status glm_stream_plan(strata_ctx *ctx, glm_stream *s, size_t nblocks)
{
    size_t span = 0, c = 0;
    s->nblocks = nblocks;
    if (!(s->cb = strata_alloc(ctx, (nblocks + 1) * sizeof *s->cb)))
        return STRATA_ENOMEM;
    for (size_t b0 = 0, b1; b0 < nblocks; b0 = b1) {
        b1 = b0 + 1;
        while (b1 < nblocks && s->srow[b1 + 1] - s->srow[b0] <= s->cap)
            b1++;
        if (s->srow[b1] - s->srow[b0] > span)
            span = s->srow[b1] - s->srow[b0];
        s->cb[c++] = b0;
    }
    s->cb[c] = nblocks;
    s->nchunks = c;
    return glm_stream_buffers(ctx, s, span);
}

void glm_rows_bind(fitdata *d, double **raw, size_t n, double *wt1, double *off)
{
    const glm_formula *f = d->f;
    d->raw = raw;
    d->y = raw[f->response];
    if (f->weights >= 0) {
        d->wt = raw[f->weights];
    } else {
        for (size_t i = 0; i < n; i++)
            wt1[i] = 1.0;
        d->wt = wt1;
    }
    d->off = NULL;
    if (f->noffsets) {
        for (size_t i = 0; i < n; i++)
            off[i] = glm_offset_value(f, raw, i);
        d->off = off;
    }
}

/* One chunk's read: blocks [b0, b1) into buffer set `set`, compacted to their
 * complete cases (the rows without a NaN in any variable, as the in-memory
 * mask). Runs on the prefetch thread while the previous chunk computes. */
typedef struct chunk_job {
    const fitdata *d;
    int set, pending;
    size_t b0, b1, k;
    strata_status st;
} chunk_job;

static void read_chunk(chunk_job *j)
{
    const fitdata *d = j->d;
    glm_stream *s = d->stream;
    double **col = s->set[j->set].col;
    size_t r0 = s->srow[j->b0], m = s->srow[j->b1] - r0, k = 0;
    size_t want = (j->b1 * d->nb < d->n ? j->b1 * d->nb : d->n) - j->b0 * d->nb;
    j->pending = 0;
    if ((j->st = read_rows(s->ctx, s, col, r0, m)) != STRATA_OK)
        return;
    for (size_t i = 0; i < m; i++) {
        size_t v = 0;
        while (v < s->nv && col[v][i] == col[v][i])
            v++;
        if (v < s->nv)
            continue;
        if (k != i)
            for (v = 0; v < s->nv; v++)
                col[v][k] = col[v][i];
        k++;
    }
    j->k = k;
    if (k != want)
        j->st = STRATA_FAIL(s->ctx, STRATA_EIO, "%s: rows %zu..%zu changed while the fit streamed them (%zu complete cases, %zu before)",
                            s->src->name, r0 + 1, r0 + m, k, want);
}

static void *read_chunk_thread(void *arg)
{
    read_chunk(arg);
    return NULL;
}

/* The window w of d over a chunk read by j. */
static void bind_chunk(const fitdata *d, const chunk_job *j, fitdata *w)
{
    glm_chunkbuf *c = &d->stream->set[j->set];
    *w = *d;
    w->stream = NULL;
    w->n = j->k;
    w->nblocks = j->b1 - j->b0;
    w->bstride = 1;
    if ((size_t)w->nt > w->nblocks)
        w->nt = (int)w->nblocks;
    glm_rows_bind(w, c->col, j->k, c->wt1, c->off);
    w->eta = c->eta;
    w->Gp = d->Gp ? d->Gp + j->b0 * d->ld * d->ld : NULL; /* NULL: categorical-aware groups */
    w->vis0 = j->b0 / d->bstride;
    w->vis_tot = (d->nblocks + d->bstride - 1) / d->bstride;
    w->part = d->part + j->b0 * 4;
}

/* The chunks a pass visits: all of them, or every bstride-th block alone. */
static size_t nvisits(const fitdata *d)
{
    return d->bstride == 1 ? d->stream->nchunks : (d->nblocks + d->bstride - 1) / d->bstride;
}

static void visit_job(const fitdata *d, size_t k, int set, chunk_job *j)
{
    j->d = d;
    j->set = set;
    j->pending = 1;
    j->st = STRATA_OK;
    j->k = 0;
    if (d->bstride == 1) {
        j->b0 = d->stream->cb[k];
        j->b1 = d->stream->cb[k + 1];
    } else {
        j->b0 = k * d->bstride;
        j->b1 = j->b0 + 1;
    }
}

/* Keeps the first error (and its message, which later failures overwrite). */
static void stream_fail(glm_stream *s, strata_status st)
{
    if (s->st != STRATA_OK)
        return;
    s->st = st;
    snprintf(s->msg, sizeof s->msg, "%s", strata_ctx_errmsg(s->ctx));
}

/* Chunk k + 1 is read on a second thread while chunk k computes (the source is
 * only ever called from one thread at a time); without the thread it is read
 * before it computes. */
void glm_pass(fitdata *d, int mode, const double *beta)
{
    glm_stream *s = d->stream;
    chunk_job job[2];
    pthread_t th;
    int running = 0;
    size_t nv;
    if (!s) {
        glm_run_pass(d, mode, beta);
        return;
    }
    nv = nvisits(d);
    visit_job(d, 0, 0, &job[0]);
    for (size_t k = 0; k < nv; k++) {
        chunk_job *j = &job[k & 1];
        fitdata w;
        if (running) {
            pthread_join(th, NULL);
            running = 0;
        }
        if (j->pending && s->st == STRATA_OK)
            read_chunk(j);
        if (s->st != STRATA_OK || j->pending || j->st != STRATA_OK) {
            stream_fail(s, j->pending ? STRATA_EIO : j->st);
            for (size_t b = j->b0; b < j->b1; b++)
                d->part[b * 4] = NAN;
            if (k + 1 < nv)
                visit_job(d, k + 1, (int)((k + 1) & 1), &job[(k + 1) & 1]);
            continue;
        }
        if (k + 1 < nv) {
            visit_job(d, k + 1, (int)((k + 1) & 1), &job[(k + 1) & 1]);
            running = pthread_create(&th, NULL, read_chunk_thread, &job[(k + 1) & 1]) == 0;
        }
        bind_chunk(d, j, &w);
        /* the final pass reads the last pass's eta: recompute it (same beta, same bytes) */
        if (mode == PASS_FINAL)
            glm_run_pass(&w, PASS_ITER, beta);
        glm_run_pass(&w, mode, beta);
    }
    if (running)
        pthread_join(th, NULL);
}

void glm_rows(const fitdata *d, glm_rows_fn fn, void *ud)
{
    glm_stream *s = d->stream;
    if (!s) {
        fn(ud, d->y, d->wt, d->off, d->n);
        return;
    }
    for (size_t k = 0; k < s->nchunks && s->st == STRATA_OK; k++) {
        chunk_job j;
        fitdata w;
        visit_job(d, k, 0, &j);
        j.b0 = s->cb[k];
        j.b1 = s->cb[k + 1];
        read_chunk(&j);
        if (j.st != STRATA_OK) {
            stream_fail(s, j.st);
            return;
        }
        bind_chunk(d, &j, &w);
        fn(ud, w.y, w.wt, w.off, w.n);
    }
}

strata_status glm_stream_status(strata_ctx *ctx, const glm_stream *s)
{
    if (!s || s->st == STRATA_OK)
        return STRATA_OK;
    return STRATA_FAIL(ctx, s->st, "%s", s->msg);
}
