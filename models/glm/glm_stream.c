/* models/glm/glm_stream.c — the GLM's passes when the columns exceed the memory
 * budget: each pass reads the source in chunks of whole fixed row blocks (one
 * read of each chunk per pass), compacts the chunk's complete cases as the
 * in-memory load does, and runs the in-memory pass (glm_run_pass) on it as a
 * window of the fit's data. Invariant: the block partials, and so every result,
 * are byte-identical to the in-memory fit's for any thread count. */
#include "glm_stream.h"

#include <math.h>
#include <string.h>

void glm_stream_free(strata_ctx *ctx, glm_stream *s)
{
    if (!s)
        return;
    for (size_t v = 0; s->buf && v < s->nv; v++)
        strata_free(ctx, s->buf[v], 0);
    STRATA_FREE_ALL(ctx, s->buf, s->wt1, s->off, s->eta, s->srow, s->cb);
    strata_free(ctx, s, sizeof *s);
}

strata_status glm_stream_buffers(strata_ctx *ctx, glm_stream *s, size_t span)
{
    if (span <= s->span && s->buf)
        return STRATA_OK;
    if (!s->buf && !(s->buf = strata_calloc(ctx, s->nv, sizeof *s->buf)))
        return STRATA_ENOMEM;
    for (size_t v = 0; v < s->nv; v++) {
        strata_free(ctx, s->buf[v], 0);
        if (!(s->buf[v] = strata_alloc(ctx, (span + 1) * sizeof **s->buf)))
            return STRATA_ENOMEM;
    }
    STRATA_FREE_ALL(ctx, s->wt1, s->off, s->eta);
    s->wt1 = strata_alloc(ctx, (span + 1) * sizeof *s->wt1);
    s->off = strata_alloc(ctx, (span + 1) * sizeof *s->off);
    s->eta = strata_alloc(ctx, (span + 1) * sizeof *s->eta);
    if (!s->wt1 || !s->off || !s->eta)
        return STRATA_ENOMEM;
    s->span = span;
    return STRATA_OK;
}

strata_status glm_stream_read(strata_ctx *ctx, glm_stream *s, size_t r0, size_t m)
{
    for (size_t v = 0; v < s->nv; v++)
        STRATA_TRY(s->src->read_f64(ctx, s->src->ud, s->vb[v].src_col, r0, m, s->buf[v]));
    return STRATA_OK;
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

/* Reads blocks [b0, b1) and compacts their complete cases (the rows without a
 * NaN in any variable, as the in-memory mask) into the buffers; sets up w as
 * the window of d over them. */
static strata_status load_chunk(const fitdata *d, size_t b0, size_t b1, fitdata *w)
{
    glm_stream *s = d->stream;
    size_t r0 = s->srow[b0], m = s->srow[b1] - r0, k = 0;
    size_t want = (b1 * d->nb < d->n ? b1 * d->nb : d->n) - b0 * d->nb;
    STRATA_TRY(glm_stream_read(s->ctx, s, r0, m));
    for (size_t i = 0; i < m; i++) {
        size_t v = 0;
        while (v < s->nv && s->buf[v][i] == s->buf[v][i])
            v++;
        if (v < s->nv)
            continue;
        if (k != i)
            for (v = 0; v < s->nv; v++)
                s->buf[v][k] = s->buf[v][i];
        k++;
    }
    if (k != want)
        return STRATA_FAIL(s->ctx, STRATA_EIO, "%s: rows %zu..%zu changed while the fit streamed them (%zu complete cases, %zu before)",
                           s->src->name, r0 + 1, r0 + m, k, want);
    *w = *d;
    w->stream = NULL;
    w->n = k;
    w->nblocks = b1 - b0;
    w->bstride = 1;
    if ((size_t)w->nt > w->nblocks)
        w->nt = (int)w->nblocks;
    glm_rows_bind(w, s->buf, k, s->wt1, s->off);
    w->eta = s->eta;
    w->Gp = d->Gp + b0 * d->ld * d->ld;
    w->part = d->part + b0 * 4;
    return STRATA_OK;
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

/* The chunks a pass visits: all of them, or every bstride-th block alone. */
static size_t nvisits(const fitdata *d)
{
    return d->bstride == 1 ? d->stream->nchunks : (d->nblocks + d->bstride - 1) / d->bstride;
}

static void visit_blocks(const fitdata *d, size_t k, size_t *b0, size_t *b1)
{
    if (d->bstride == 1) {
        *b0 = d->stream->cb[k];
        *b1 = d->stream->cb[k + 1];
    } else {
        *b0 = k * d->bstride;
        *b1 = *b0 + 1;
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

void glm_pass(fitdata *d, int mode, const double *beta)
{
    glm_stream *s = d->stream;
    if (!s) {
        glm_run_pass(d, mode, beta);
        return;
    }
    for (size_t k = 0; k < nvisits(d); k++) {
        size_t b0, b1;
        fitdata w;
        strata_status st = STRATA_EIO;
        visit_blocks(d, k, &b0, &b1);
        if (s->st == STRATA_OK && (st = load_chunk(d, b0, b1, &w)) == STRATA_OK) {
            /* the final pass reads the last pass's eta: recompute it (same beta, same bytes) */
            if (mode == PASS_FINAL)
                glm_run_pass(&w, PASS_ITER, beta);
            glm_run_pass(&w, mode, beta);
            continue;
        }
        stream_fail(s, st);
        for (size_t b = b0; b < b1; b++)
            d->part[b * 4] = NAN;
    }
}

void glm_rows(const fitdata *d, glm_rows_fn fn, void *ud)
{
    glm_stream *s = d->stream;
    if (!s) {
        fn(ud, d->y, d->wt, d->off, d->n);
        return;
    }
    for (size_t k = 0; k < s->nchunks; k++) {
        fitdata w;
        strata_status st = STRATA_EIO;
        if (s->st == STRATA_OK && (st = load_chunk(d, s->cb[k], s->cb[k + 1], &w)) == STRATA_OK) {
            fn(ud, w.y, w.wt, w.off, w.n);
            continue;
        }
        stream_fail(s, st);
        return;
    }
}

strata_status glm_stream_status(strata_ctx *ctx, const glm_stream *s)
{
    if (!s || s->st == STRATA_OK)
        return STRATA_OK;
    return STRATA_FAIL(ctx, s->st, "%s", s->msg);
}
