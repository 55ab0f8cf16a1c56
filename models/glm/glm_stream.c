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
    STRATA_FREE_ALL(ctx, s->srow, s->cb, s->rb);
    strata_free(ctx, s, sizeof *s);
}

strata_status glm_stream_buffers(strata_ctx *ctx, glm_stream *s, size_t span)
{
    if (span <= s->span && s->set[0].col)
        return STRATA_OK;
    /* distributed: one set, the rank's resident slab */
    for (int k = 0; k < (s->comm ? 1 : 2); k++) {
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

/* Moves the complete cases of m rows (no NaN in any variable, as the
 * in-memory mask) to the front of every column; returns their count. */
static size_t compact_rows(const glm_stream *s, double **col, size_t m)
{
    size_t k = 0;
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
    return k;
}

/* The end of the chunk that starts at block b0: whole blocks up to bend
 * spanning at most s->cap source rows (one block at least). */
static size_t chunk_end(const glm_stream *s, size_t b0, size_t bend)
{
    size_t b1 = b0 + 1;
    while (b1 < bend && s->srow[b1 + 1] - s->srow[b0] <= s->cap)
        b1++;
    return b1;
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
        b1 = chunk_end(s, b0, nblocks);
        if (s->srow[b1] - s->srow[b0] > span)
            span = s->srow[b1] - s->srow[b0];
        s->cb[c++] = b0;
    }
    s->cb[c] = nblocks;
    s->nchunks = c;
    return glm_stream_buffers(ctx, s, span);
}

/* What the largest rank would keep of its blocks: its source rows of the
 * nv columns and 3 work columns, and the whole mask. */
static size_t slab_bytes(const glm_stream *s)
{
    size_t m = 0;
    for (int r = 0; r < s->comm->size; r++)
        if (s->srow[s->rb[r + 1]] - s->srow[s->rb[r]] > m)
            m = s->srow[s->rb[r + 1]] - s->srow[s->rb[r]];
    return (s->nv + 3) * 8 * (m + 1) + s->src->nrows;
}

/* Every rank streams its blocks [blo, bhi) (m source rows): chunks of at most
 * cap source rows, a quarter of the budget for the one buffer set (a chunk
 * is read, then computed: only the main thread may call MPI, so nothing is
 * read ahead), sized for any chunk slab_visits makes. The same on every rank
 * (the sizes are every rank's), so the agreement below is collective. */
static strata_status plan_own(strata_ctx *ctx, glm_stream *s, size_t nb, size_t m)
{
    size_t span;
    strata_status st;
    s->own = 1;
    s->cap = s->budget / 4 / ((s->nv + 3) * 8) / nb * nb;
    if (s->cap < nb)
        s->cap = nb;
    span = s->cap;
    for (size_t b = s->blo; b < s->bhi; b++)
        if (s->srow[b + 1] - s->srow[b] > span)
            span = s->srow[b + 1] - s->srow[b];
    if (span > m)
        span = m;
    st = glm_stream_buffers(ctx, s, span);
    if (st == STRATA_OK && s->src->own_reads)
        st = s->src->own_reads(ctx, s->src->ud);
    if (s->comm->rank == 0)
        strata_log(ctx, STRATA_LOG_INFO, "%s: a rank's blocks of the model's %zu columns need %zu MB, over the memory budget of %zu MB: each of the %d ranks streams its blocks in chunks of about %zu rows",
                   s->src->name, s->nv, slab_bytes(s) >> 20, s->budget >> 20, s->comm->size, s->cap);
    return strata_comm_agree(ctx, st);
}

strata_status glm_stream_plan_dist(strata_ctx *ctx, glm_stream *s, size_t nblocks, size_t nb, size_t n)
{
    const strata_comm *c = s->comm;
    size_t r0, m, k = 0, want;
    strata_status st = STRATA_OK;
    double **col;
    s->nblocks = nblocks;
    if (!(s->rb = strata_alloc(ctx, ((size_t)c->size + 1) * sizeof *s->rb)))
        return STRATA_ENOMEM;
    /* whole multiples of the warm start's stride, so a rank's window visits
     * the same blocks as one process's strided pass */
    for (int r = 0; r <= c->size; r++)
        s->rb[r] = strata_comm_split(nblocks, c->size, r, GLM_WARM_STRIDE);
    s->blo = s->rb[c->rank];
    s->bhi = s->rb[c->rank + 1];
    r0 = s->srow[s->blo];
    m = s->srow[s->bhi] - r0;
    want = (s->bhi * nb < n ? s->bhi * nb : n) - s->blo * nb;
    if (s->budget && slab_bytes(s) > s->budget)
        return plan_own(ctx, s, nb, m);
    STRATA_TRY(glm_stream_buffers(ctx, s, m));
    col = s->set[0].col;
    /* collective: every rank reads every variable once (m may be 0) */
    for (size_t v = 0; v < s->nv; v++) {
        strata_status sv = s->src->read_f64(ctx, s->src->ud, s->vb[v].src_col, r0, m, col[v]);
        if (st == STRATA_OK)
            st = sv;
    }
    if (st == STRATA_OK)
        k = compact_rows(s, col, m);
    if (st == STRATA_OK && k != want)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: rows %zu..%zu changed while the fit read them (%zu complete cases, %zu before)",
                         s->src->name, r0 + 1, r0 + m, k, want);
    s->nres = k;
    return strata_comm_agree(ctx, st);
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
    int rows_only;      /* only y, weights and offsets are wanted (glm_rows) */
    size_t b0, b1, k;
    strata_status st;
} chunk_job;

/* A chunk without incomplete cases, for glm_rows: reads only the response,
 * weights and offset columns (a row sum needs nothing else) — 3 of 62 columns
 * of a 60-variable fit. Returns 0 when another variable must be read (the
 * chunk has incomplete cases, or a NaN showed up where the load saw none:
 * the full read then reports the change). */
static int read_sum_cols(glm_stream *s, const fitdata *d, double **col, size_t r0, size_t m, strata_status *st)
{
    const glm_formula *f = d->f;
    int used[GLM_MAXVARS + 1] = {0};
    used[f->response] = 1;
    if (f->weights >= 0)
        used[f->weights] = 1;
    for (size_t k = 0; k < f->noffsets; k++)
        used[f->offsets[k]] = 1;
    for (size_t v = 0; v < s->nv; v++) {
        if (!used[v])
            continue;
        if ((*st = s->src->read_f64(s->ctx, s->src->ud, s->vb[v].src_col, r0, m, col[v])) != STRATA_OK)
            return 1;
        for (size_t i = 0; i < m; i++)
            if (col[v][i] != col[v][i])
                return 0;
    }
    return 1;
}

static void read_chunk(chunk_job *j)
{
    const fitdata *d = j->d;
    glm_stream *s = d->stream;
    double **col = s->set[j->set].col;
    size_t r0 = s->srow[j->b0], m = s->srow[j->b1] - r0, k = 0;
    size_t want = (j->b1 * d->nb < d->n ? j->b1 * d->nb : d->n) - j->b0 * d->nb;
    j->pending = 0;
    if (j->rows_only && want == m && read_sum_cols(s, d, col, r0, m, &j->st)) {
        j->k = m;
        return;
    }
    if ((j->st = read_rows(s->ctx, s, col, r0, m)) != STRATA_OK)
        return;
    j->k = k = compact_rows(s, col, m);
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

/* Visit k of a pass (rows_only 0) or of glm_rows (1: every chunk). */
static void visit_job(const fitdata *d, size_t k, int set, int rows_only, chunk_job *j)
{
    j->d = d;
    j->set = set;
    j->pending = 1;
    j->rows_only = rows_only;
    j->st = STRATA_OK;
    j->k = 0;
    if (d->bstride == 1 || rows_only) {
        j->b0 = d->stream->cb[k];
        j->b1 = d->stream->cb[k + 1];
    } else {
        j->b0 = k * d->bstride;
        j->b1 = j->b0 + 1;
    }
}

/* What a visit computes on the window of its chunk. */
typedef void (*visit_fn)(fitdata *w, void *arg);

typedef struct pass_arg {
    int mode;
    const double *beta;
} pass_arg;

static void pass_visit(fitdata *w, void *arg)
{
    const pass_arg *a = arg;
    /* the final pass reads the last pass's eta: recompute it (same beta, same bytes) */
    if (a->mode == PASS_FINAL)
        glm_run_pass(w, PASS_ITER, a->beta);
    glm_run_pass(w, a->mode, a->beta);
}

typedef struct rows_arg {
    glm_rows_fn fn;
    void *ud;
} rows_arg;

static void rows_visit(fitdata *w, void *arg)
{
    const rows_arg *a = arg;
    a->fn(a->ud, w->y, w->wt, w->off, w->n);
}

/* Keeps the first error (and its message, which later failures overwrite). */
static void stream_fail(glm_stream *s, strata_status st)
{
    if (s->st != STRATA_OK)
        return;
    s->st = st;
    snprintf(s->msg, sizeof s->msg, "%s", strata_ctx_errmsg(s->ctx));
}

/* The window of d over this rank's resident slab. */
static void bind_slab(const fitdata *d, fitdata *w)
{
    const glm_stream *s = d->stream;
    chunk_job j;
    memset(&j, 0, sizeof j);
    j.d = d;
    j.b0 = s->blo;
    j.b1 = s->bhi;
    j.k = s->nres;
    bind_chunk(d, &j, w);
    w->bstride = d->bstride;
}

/* The window of d over blocks [b0, b1) of this rank's slab; raw holds its nv
 * column pointers (the caller's, alive while the window is). */
static void bind_slab_part(const fitdata *d, size_t b0, size_t b1, const double **raw, fitdata *w)
{
    const glm_stream *s = d->stream;
    glm_chunkbuf *c = &d->stream->set[0];
    size_t o = (b0 - s->blo) * d->nb, e = b1 == s->bhi ? s->nres : (b1 - s->blo) * d->nb;
    bind_slab(d, w);
    for (size_t v = 0; v < s->nv; v++)
        raw[v] = c->col[v] + o;
    w->n = e - o;
    w->nblocks = b1 - b0;
    if ((size_t)w->nt > w->nblocks)
        w->nt = (int)w->nblocks;
    glm_rows_bind(w, (double **)raw, w->n, c->wt1 + o, c->off + o);
    w->eta = c->eta + o;
    w->Gp = d->Gp ? d->Gp + b0 * d->ld * d->ld : NULL;
    w->part = d->part + b0 * 4;
    w->vis0 = b0 / d->bstride;
}

/* Runs fn on this rank's blocks [b0, b1) in visit order: on their window of
 * the kept slab, or (s->own) chunk by chunk, each read with the rank's own
 * reads and then computed (the chunks of glm_stream_plan; the warm start's
 * strided pass, its blocks one by one). A chunk that fails to read is not
 * computed: a pass marks its blocks' partials NaN. */
static void slab_visits(const fitdata *d, size_t b0, size_t b1, int rows_only, visit_fn fn, void *arg)
{
    glm_stream *s = d->stream;
    const size_t bs = rows_only ? 1 : d->bstride;
    const double *raw[GLM_MAXVARS + 1];
    fitdata w;
    if (b1 <= b0)
        return;
    if (!s->own) {
        bind_slab_part(d, b0, b1, raw, &w);
        fn(&w, arg);
        return;
    }
    for (size_t c0 = (b0 + bs - 1) / bs * bs, c1; c0 < b1; c0 = bs > 1 ? c0 + bs : c1) {
        chunk_job j;
        c1 = bs > 1 ? c0 + 1 : chunk_end(s, c0, b1);
        memset(&j, 0, sizeof j);
        j.d = d;
        j.pending = 1;
        j.rows_only = rows_only;
        j.b0 = c0;
        j.b1 = c1;
        if (s->st == STRATA_OK)
            read_chunk(&j);
        if (s->st != STRATA_OK || j.pending || j.st != STRATA_OK) {
            stream_fail(s, j.pending ? STRATA_EIO : j.st);
            for (size_t b = c0; !rows_only && b < c1; b++)
                d->part[b * 4] = NAN;
            continue;
        }
        bind_chunk(d, &j, &w);
        fn(&w, arg);
    }
}

/* Streaming ranks: a read error on any rank becomes every rank's (its
 * message), so all stop the same way and rank 0 reports the read. */
static strata_status own_agree(glm_stream *s)
{
    strata_status st;
    if (!s->own)
        return STRATA_OK;
    if ((st = strata_comm_agree(s->ctx, s->st)) != STRATA_OK)
        stream_fail(s, st);
    return st;
}

/* The nearest rank before (dir -1) or after (+1) this one that has blocks, or -1. */
static int rank_with_blocks(const glm_stream *s, int dir)
{
    for (int r = s->comm->rank + dir; r >= 0 && r < s->comm->size; r += dir)
        if (s->rb[r + 1] > s->rb[r])
            return r;
    return -1;
}

/* The rank whose blocks hold visit v (bstride apart). */
static int owner_of(const glm_stream *s, size_t v, size_t bstride)
{
    int r = 0;
    while (r + 1 < s->comm->size && s->rb[r + 1] <= v * bstride)
        r++;
    return r;
}

/* The categorical-aware pass over ranks: its GLM_FGROUPS group partials are
 * sums over consecutive visits in visit order (glm_pass.c), so a group that
 * spans two ranks continues on the later one from the earlier one's partial.
 * Each rank first runs its visits after its first group's (fresh groups) and
 * sends on a group it leaves unfinished, then receives its first group's
 * partial if an earlier rank began it, runs that group's visits and sends it
 * on if it still continues. Then every group's final partial goes from the
 * rank of its last visit to every rank (MPI_Allgatherv), for glm_reduce. */
static strata_status dist_groups(fitdata *d, int mode, const double *beta)
{
    glm_stream *s = d->stream;
    const strata_comm *c = s->comm;
    const size_t bs = d->bstride, nv = (d->nblocks + bs - 1) / bs, ns = glm_pass_slots(d, mode);
    const size_t bytes = d->csize * sizeof *d->Pp;
    size_t cn[64] = {0}, dp[64] = {0}, *cnt = cn, *dsp = dp;
    strata_status st = STRATA_OK;
    if (s->bhi > s->blo) {
        size_t w0 = s->blo / bs, nvw = (s->bhi - s->blo + bs - 1) / bs;
        size_t ka = glm_group_of(w0, nv, ns), kb = glm_group_of(w0 + nvw - 1, nv, ns);
        int head = ka * nv / ns < w0, tail = (kb + 1) * nv / ns > w0 + nvw;
        size_t na = head ? ((ka + 1) * nv / ns < w0 + nvw ? (ka + 1) * nv / ns : w0 + nvw) - w0 : 0;
        pass_arg a = {mode, beta};
        if (na < nvw) { /* fresh groups */
            slab_visits(d, s->blo + na * bs, s->bhi, 0, pass_visit, &a);
            if (tail)
                st = c->send(c->ud, d->Pp + kb * d->csize, bytes, rank_with_blocks(s, 1));
        }
        if (head && st == STRATA_OK) { /* the group an earlier rank began */
            st = c->recv(c->ud, d->Pp + ka * d->csize, bytes, rank_with_blocks(s, -1));
            if (st == STRATA_OK)
                slab_visits(d, s->blo, s->blo + na * bs < s->bhi ? s->blo + na * bs : s->bhi, 0, pass_visit, &a);
            if (st == STRATA_OK && na == nvw && tail)
                st = c->send(c->ud, d->Pp + ka * d->csize, bytes, rank_with_blocks(s, 1));
        }
    }
    if (c->size > 64) {
        if (!(cnt = strata_alloc(s->ctx, 2 * (size_t)c->size * sizeof *cnt)))
            return STRATA_ENOMEM;
        dsp = cnt + c->size;
        memset(cnt, 0, (size_t)c->size * sizeof *cnt);
    }
    /* group k's final partial is on the rank of its last visit */
    for (size_t k = 0; k < ns; k++) {
        int r = owner_of(s, (k + 1) * nv / ns - 1, bs);
        if (!cnt[r])
            dsp[r] = k * bytes;
        cnt[r] += bytes;
    }
    for (int r = 0; r < c->size; r++)
        if (!cnt[r])
            dsp[r] = 0;
    if (st == STRATA_OK)
        st = c->allgatherv(c->ud, NULL, d->Pp, cnt, dsp);
    if (cnt != cn)
        strata_free(s->ctx, cnt, 0);
    return st;
}

/* Every rank's blocks [rb[r], rb[r + 1]) of a per-block array (per bytes a
 * block) to every rank, in place. */
static strata_status gather_blocks(const glm_stream *s, void *base, size_t per)
{
    const strata_comm *c = s->comm;
    size_t cn[64] = {0}, dp[64] = {0}, *cnt = cn, *dsp = dp;
    strata_status st;
    if (c->size > 64) {
        cnt = strata_alloc(s->ctx, 2 * (size_t)c->size * sizeof *cnt);
        if (!cnt)
            return STRATA_ENOMEM;
        dsp = cnt + c->size;
    }
    for (int r = 0; r < c->size; r++) {
        cnt[r] = (s->rb[r + 1] - s->rb[r]) * per;
        dsp[r] = s->rb[r] * per;
    }
    st = c->allgatherv(c->ud, NULL, base, cnt, dsp);
    if (cnt != cn)
        strata_free(s->ctx, cnt, 0);
    return st;
}

/* A distributed pass: this rank's blocks from its resident slab, then every
 * rank's block partials to every rank (MPI_Allgatherv of whole blocks), so
 * glm_reduce sums the same partials in the same block order as one process. */
static void dist_pass(fitdata *d, int mode, const double *beta)
{
    glm_stream *s = d->stream;
    strata_status st = STRATA_OK;
    pass_arg a = {mode, beta};
    if (d->fmode && mode != PASS_FINAL)
        st = dist_groups(d, mode, beta);
    else /* (the final pass's eta recomputed: on the categorical-aware path
          * the groups it leaves are not used) */
        slab_visits(d, s->blo, s->bhi, 0, pass_visit, &a);
    if (own_agree(s) != STRATA_OK) { /* every streaming rank calls it */
        for (size_t b = 0; b < d->nblocks; b++)
            d->part[b * 4] = NAN;
        return;
    }
    if (st == STRATA_OK && mode != PASS_FINAL && !d->fmode)
        st = gather_blocks(s, d->Gp, d->ld * d->ld * sizeof *d->Gp);
    if (st == STRATA_OK)
        st = gather_blocks(s, d->part, 4 * sizeof *d->part);
    if (st != STRATA_OK) {
        (void)STRATA_FAIL(s->ctx, st, "%s: gathering the block partials over the MPI ranks failed", s->src->name);
        stream_fail(s, st);
        for (size_t b = 0; b < d->nblocks; b++)
            d->part[b * 4] = NAN;
    }
}

/* Visits nv chunks in order: chunk k + 1 is read on a second thread while
 * chunk k computes (the source is only ever called from one thread at a
 * time); without the thread it is read before it computes. A chunk that fails
 * to read is not computed: a pass marks its blocks' partials NaN. */
static void stream_visits(const fitdata *d, size_t nv, int rows_only, visit_fn fn, void *arg)
{
    glm_stream *s = d->stream;
    chunk_job job[2];
    pthread_t th;
    int running = 0;
    visit_job(d, 0, 0, rows_only, &job[0]);
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
            for (size_t b = j->b0; !rows_only && b < j->b1; b++)
                d->part[b * 4] = NAN;
            if (k + 1 < nv)
                visit_job(d, k + 1, (int)((k + 1) & 1), rows_only, &job[(k + 1) & 1]);
            continue;
        }
        if (k + 1 < nv) {
            visit_job(d, k + 1, (int)((k + 1) & 1), rows_only, &job[(k + 1) & 1]);
            running = pthread_create(&th, NULL, read_chunk_thread, &job[(k + 1) & 1]) == 0;
        }
        bind_chunk(d, j, &w);
        fn(&w, arg);
    }
    if (running)
        pthread_join(th, NULL);
}

void glm_pass(fitdata *d, int mode, const double *beta)
{
    pass_arg a;
    if (!d->stream) {
        glm_run_pass(d, mode, beta);
        return;
    }
    if (d->stream->comm) {
        dist_pass(d, mode, beta);
        return;
    }
    a.mode = mode;
    a.beta = beta;
    stream_visits(d, nvisits(d), 0, pass_visit, &a);
}

/* Distributed row sums: rank r continues the sums of ranks 0..r-1 over its
 * rows, then hands them on; the last rank's are everyone's. */
static void dist_rows(const fitdata *d, glm_rows_fn fn, void *ud, size_t size)
{
    glm_stream *s = d->stream;
    const strata_comm *c = s->comm;
    strata_status st = STRATA_OK;
    rows_arg a = {fn, ud};
    if (c->rank > 0)
        st = c->recv(c->ud, ud, size, c->rank - 1);
    slab_visits(d, s->blo, s->bhi, 1, rows_visit, &a);
    if (st == STRATA_OK && c->rank + 1 < c->size)
        st = c->send(c->ud, ud, size, c->rank + 1);
    if (st == STRATA_OK)
        st = c->bcast(c->ud, ud, size, c->size - 1);
    if (own_agree(s) != STRATA_OK) /* every streaming rank calls it */
        return;
    if (st != STRATA_OK) {
        (void)STRATA_FAIL(s->ctx, st, "%s: passing row sums between the MPI ranks failed", s->src->name);
        stream_fail(s, st);
    }
}

/* Row sums visit every chunk in row order, prefetched, reading only the
 * columns the sums use where a chunk has no incomplete case. */
void glm_rows(const fitdata *d, glm_rows_fn fn, void *ud, size_t size)
{
    glm_stream *s = d->stream;
    rows_arg a;
    if (!s) {
        fn(ud, d->y, d->wt, d->off, d->n);
        return;
    }
    if (s->comm) {
        dist_rows(d, fn, ud, size);
        return;
    }
    a.fn = fn;
    a.ud = ud;
    stream_visits(d, s->nchunks, 1, rows_visit, &a);
}

strata_status glm_stream_status(strata_ctx *ctx, const glm_stream *s)
{
    if (!s || s->st == STRATA_OK)
        return STRATA_OK;
    return STRATA_FAIL(ctx, s->st, "%s", s->msg);
}
