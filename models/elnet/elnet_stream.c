/* models/elnet/elnet_stream.c — the elastic net's passes when its rows are
 * streamed under the memory budget (docs/scale.md, "The elastic net under a
 * budget"): the ELNET_NCHUNK fixed chunks are grouped into windows of whole
 * chunks that a reader's buffer set holds; every pass reads the windows in
 * chunk order (the next one on a second thread while one computes) and runs
 * the in-memory pass on each window's chunks. Across MPI ranks a rank's
 * windows are its own chunks' (read alone, one buffer set: only the main
 * thread may call MPI), and the ranks agree on a failed read. Invariant: a chunk's partials
 * come from the same rows by the same code as in memory and are added in chunk
 * order after the last window, so every result is byte-identical. */
#include "elnet_internal.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <string.h>

struct elnet_stream {
    strata_ctx *ctx;
    const elnet_reader *rd;
    strata_family fam;
    size_t n;                       /* rows of the problem (every rank's) */
    size_t row0;                    /* across MPI ranks: the problem's row of this rank's row 0 */
    const strata_comm *comm;        /* across MPI ranks: the windows are this rank's chunks' */
    size_t nwin;                    /* windows a pass reads */
    size_t cw[ELNET_NCHUNK + 1];    /* window k: chunks [cw[k], cw[k + 1]) */
    double *eta[2], *wn[2], *yn[2]; /* per set: eta, normalised weights, response as fitted */
    long hold[2];                   /* the window each set holds (-1: none) */
    pthread_t th;                   /* the read of window job_win into set job_set */
    int running;
    int job_set;
    size_t job_win;
    strata_status job_st;
    int reads;                      /* windows read */
    double wait_s;                  /* seconds the passes waited for reads */
    double sw, ym, ys;              /* elnet_stream_prep */
    strata_status st;               /* the first failed read */
    char msg[STRATA_ERRMSG_MAX];
};

static size_t chunk_row(size_t n, size_t c) { return n * c / ELNET_NCHUNK; }

strata_status elnet_stream_open(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                                elnet_stream **out)
{
    const elnet_reader *rd = d->rd;
    size_t n = d->sl.comm ? d->sl.nall : d->n, k = 0;
    size_t c0 = d->sl.comm ? d->sl.c0 : 0, c1 = d->sl.comm ? d->sl.c1 : ELNET_NCHUNK;
    elnet_stream *s;
    *out = NULL;
    for (size_t c = c0; c < c1; c++)
        if (chunk_row(n, c + 1) - chunk_row(n, c) > rd->cap)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: a chunk of %zu rows does not fit the reader's %zu rows",
                               chunk_row(n, c + 1) - chunk_row(n, c), rd->cap);
    if (!(s = strata_calloc(ctx, 1, sizeof *s)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory streaming rows");
    s->ctx = ctx;
    s->rd = rd;
    s->fam = prm->family;
    s->n = n;
    s->comm = d->sl.comm;
    s->row0 = d->sl.comm ? d->sl.row0 : 0;
    s->hold[0] = s->hold[1] = -1;
    for (size_t c = c0; c < c1;) { /* windows of whole chunks, at most cap rows */
        size_t e = c + 1;
        while (e < c1 && chunk_row(n, e + 1) - chunk_row(n, c) <= rd->cap)
            e++;
        s->cw[k++] = c;
        c = e;
    }
    s->cw[k] = c1;
    s->nwin = k;
    for (int t = 0; t < rd->nsets; t++) {
        s->eta[t] = strata_alloc(ctx, (rd->cap + 1) * sizeof *s->eta[t]);
        s->wn[t] = strata_alloc(ctx, (rd->cap + 1) * sizeof *s->wn[t]);
        s->yn[t] = strata_alloc(ctx, (rd->cap + 1) * sizeof *s->yn[t]);
        if (!s->eta[t] || !s->wn[t] || !s->yn[t]) {
            elnet_stream_close(ctx, s);
            return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for windows of %zu rows", rd->cap);
        }
    }
    *out = s;
    return STRATA_OK;
}

void elnet_stream_close(strata_ctx *ctx, elnet_stream *s)
{
    if (!s)
        return;
    if (s->running)
        pthread_join(s->th, NULL);
    for (int t = 0; t < 2; t++)
        STRATA_FREE_ALL(ctx, s->eta[t], s->wn[t], s->yn[t]);
    strata_free(ctx, s, sizeof *s);
}

void elnet_stream_prep(elnet_stream *s, double sw, double ym, double ys)
{
    s->sw = sw;
    s->ym = ym;
    s->ys = ys;
}

strata_status elnet_stream_status(strata_ctx *ctx, const elnet_stream *s)
{
    if (!s || s->st == STRATA_OK)
        return STRATA_OK;
    return STRATA_FAIL(ctx, s->st, "%s", s->msg);
}

strata_status elnet_stream_agree(elnet_stream *s, strata_status st)
{
    if (!s || !s->comm)
        return st;
    if ((st = strata_comm_agree(s->ctx, st)) != STRATA_OK && s->st == STRATA_OK) {
        s->st = st; /* another rank's failure, its message: this rank's from now on */
        snprintf(s->msg, sizeof s->msg, "%s", strata_ctx_errmsg(s->ctx));
    }
    return st;
}

int elnet_stream_reads(const elnet_stream *s) { return s ? s->reads : 0; }
double elnet_stream_wait(const elnet_stream *s) { return s ? s->wait_s : 0; }

static double now(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return 0;
#endif
}
size_t elnet_stream_nwin(const elnet_stream *s) { return s ? s->nwin : 1; }

/* Rows [*r0, *r1) of window k. */
static void win_rows(const elnet_stream *s, size_t k, size_t *r0, size_t *r1)
{
    *r0 = chunk_row(s->n, s->cw[k]);
    *r1 = chunk_row(s->n, s->cw[k + 1]);
}

static void read_job(elnet_stream *s)
{
    size_t r0, r1;
    win_rows(s, s->job_win, &r0, &r1);
    s->job_st = s->rd->read(s->ctx, s->rd->ud, s->job_set, r0, r1);
}

static void *read_thread(void *arg)
{
    read_job(arg);
    return NULL;
}

/* Keeps the first failure and its message (later ones overwrite the context's). */
static int job_done(elnet_stream *s)
{
    if (s->job_st == STRATA_OK) {
        s->hold[s->job_set] = (long)s->job_win;
        return 1;
    }
    if (s->st == STRATA_OK) {
        s->st = s->job_st;
        snprintf(s->msg, sizeof s->msg, "%s", strata_ctx_errmsg(s->ctx));
    }
    return 0;
}

static void join(elnet_stream *s)
{
    if (!s->running)
        return;
    pthread_join(s->th, NULL);
    s->running = 0;
    job_done(s);
}

/* The set holding window k, read now unless a set holds it or is reading it; -1 on failure. */
static int acquire(elnet_stream *s, size_t k)
{
    double t0 = now();
    int t = -1;
    join(s);
    for (int u = 0; s->st == STRATA_OK && u < s->rd->nsets; u++)
        if (s->hold[u] == (long)k)
            t = u;
    if (t < 0 && s->st == STRATA_OK) { /* into a set not holding the next window */
        s->job_set = s->rd->nsets > 1 && s->hold[0] == (long)((k + 1) % s->nwin) ? 1 : 0;
        s->job_win = k;
        s->hold[s->job_set] = -1;
        s->reads++;
        read_job(s);
        t = job_done(s) ? s->job_set : -1;
    }
    s->wait_s += now() - t0;
    return t;
}

/* Starts reading window k into set t on a second thread (or later, in acquire, when it cannot start). */
static void prefetch(elnet_stream *s, size_t k, int t)
{
    if (s->hold[t] == (long)k || s->st != STRATA_OK)
        return;
    s->job_set = t;
    s->job_win = k;
    s->hold[t] = -1;
    s->running = pthread_create(&s->th, NULL, read_thread, s) == 0;
    if (s->running)
        s->reads++;
}

/* The window's weights over sw and response as fitted (gaussian: y - offset,
 * then standardised once ys is known); before sw is known the raw rows. */
static void bind_window(elnet_stream *s, int t, size_t m, const elnet_prob *pb, elnet_prob *pw)
{
    const elnet_reader *rd = s->rd;
    const double *w = rd->w[t], *y = rd->y[t], *off = rd->off[t];
    pw->X = rd->X[t];
    pw->ldx = rd->cap;
    if (s->sw <= 0) {
        pw->w = w;
        pw->y = y;
        pw->off = off;
        return;
    }
    for (size_t i = 0; i < m; i++)
        s->wn[t][i] = (w ? w[i] : 1) / s->sw;
    pw->w = s->wn[t];
    pw->y = y;
    pw->off = pb->fam == STRATA_FAMILY_GAUSSIAN ? NULL : off;
    if (pb->fam != STRATA_FAMILY_GAUSSIAN)
        return;
    for (size_t i = 0; i < m; i++) {
        double v = y[i] - (off ? off[i] : 0);
        s->yn[t][i] = s->ys > 0 ? (v - s->ym) / s->ys : v;
    }
    pw->y = s->yn[t];
}

void elnet_windows(const elnet_prob *pb, elnet_ws *ws, elnet_chunks_fn fn, void *arg)
{
    elnet_stream *s = pb->st;
    if (!s) {
        fn(pb, ws, arg);
        return;
    }
    if (ws->cst != STRATA_OK)
        return;
    double *eta = ws->eta, *v = ws->v, *r = ws->r;
    for (size_t k = 0; k < s->nwin; k++) {
        size_t r0, r1;
        int t = acquire(s, k);
        if (t < 0) {
            ws->cst = s->st;
            return;
        }
        if (s->nwin > 1 && s->rd->nsets > 1)
            prefetch(s, (k + 1) % s->nwin, 1 - t);
        win_rows(s, k, &r0, &r1);
        elnet_prob pw = *pb;
        pw.sl.row0 = r0; /* (the window's buffers start at its first row) */
        pw.sl.c0 = s->cw[k];
        pw.sl.c1 = s->cw[k + 1];
        if ((size_t)pw.nthreads > pw.sl.c1 - pw.sl.c0) /* (no thread waits for a chunk it cannot have) */
            pw.nthreads = (int)(pw.sl.c1 - pw.sl.c0);
        bind_window(s, t, r1 - r0, pb, &pw);
        ws->eta = s->eta[t];
        ws->v = v + (r0 - s->row0); /* (this rank's rows) */
        ws->r = r + (r0 - s->row0);
        fn(&pw, ws, arg);
        ws->eta = eta;
        ws->v = v;
        ws->r = r;
    }
}
