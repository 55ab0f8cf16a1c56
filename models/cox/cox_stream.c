/* models/cox/cox_stream.c — the Cox fit under a memory budget (docs/scale.md, "The
 * Cox fit under a budget"): the per-row vectors (time, event, weights, strata,
 * cluster) are read whole and sorted in memory as always; the design is built from
 * the source in chunks and written once, in sorted order, to an unnamed owner-only
 * scratch file (one pass over the source per write window); every pass of the fit
 * reads it back in windows of whole blocks, the next window read on a thread while
 * one computes. Invariant: every block holds the rows and values of the in-memory
 * fit and runs the same code, so the fit's bytes are the in-memory fit's. */
#include "cox_internal.h"
#include "scratch.h"
#include "xsort.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

#define NONE SIZE_MAX
#define SB 1024 /* rows per design block while writing */
#define MB(x) ((x) >> 20)

struct cox_xstream {
    strata_ctx *ctx;
    strata_scratch *f;
    size_t p, x0, x1, wrows, nw; /* sorted rows [x0, x1) of the file (across MPI ranks this
                                    rank's blocks; one process every row), rows per window
                                    (whole blocks), windows */
    double *buf[2];         /* wrows x p each (buf[1] NULL with one window) */
    size_t held[2];         /* the window in buf[k], or NONE */
    pthread_t th;
    int running, err;       /* a read of window pw into buf[pk] is in flight; its errno */
    size_t pk, pw;
    size_t reads;           /* windows read */
    double bytes;           /* bytes read */
    double read_s, t_read;  /* seconds the reads took; the one in flight */
    double wait_s;          /* seconds the fit waited for reads (the prefetch hides the rest) */
};

/* ---- reading windows back --------------------------------------------------- */

size_t cox_nwindows(const cox_data *d)
{
    return d->xs->nw;
}

static void win_rows(const cox_xstream *xs, size_t w, size_t *r0, size_t *r1)
{
    *r0 = xs->x0 + w * xs->wrows;
    *r1 = *r0 + xs->wrows < xs->x1 ? *r0 + xs->wrows : xs->x1;
}

/* Window w is rows [r0, r1) of every column, column-major with leading
 * dimension r1 - r0, at byte (r0 - x0) * p * 8 of the file: one contiguous read. */
static int read_win(cox_xstream *xs, size_t w, double *buf)
{
    size_t r0, r1;
    double t = omp_get_wtime();
    int e;
    win_rows(xs, w, &r0, &r1);
    e = strata_scratch_pread(xs->f, (uint64_t)(r0 - xs->x0) * xs->p * sizeof(double), buf,
                             (r1 - r0) * xs->p * sizeof(double));
    xs->t_read = omp_get_wtime() - t;
    xs->bytes += (double)(r1 - r0) * (double)xs->p * sizeof(double);
    return e;
}

static void *read_thread(void *arg)
{
    cox_xstream *xs = arg;
    xs->err = read_win(xs, xs->pw, xs->buf[xs->pk]);
    return NULL;
}

static strata_status read_failed(cox_xstream *xs, size_t w, int e)
{
    return STRATA_FAIL(xs->ctx, STRATA_EIO, "%s: reading window %zu of the Cox design's scratch file: %s",
                       strata_scratch_dir(xs->f), w + 1, strerror(e));
}

/* Waits for the read in flight, if any. */
static strata_status join(cox_xstream *xs)
{
    double t = omp_get_wtime();
    if (!xs->running)
        return STRATA_OK;
    pthread_join(xs->th, NULL);
    xs->wait_s += omp_get_wtime() - t;
    xs->running = 0;
    xs->reads++;
    xs->read_s += xs->t_read;
    if (xs->err)
        return read_failed(xs, xs->pw, xs->err);
    xs->held[xs->pk] = xs->pw;
    return STRATA_OK;
}

strata_status cox_window(const cox_data *d, size_t w, size_t next, cox_data *view)
{
    cox_xstream *xs = d->xs;
    size_t k, r0, r1;
    int e;
    STRATA_TRY(join(xs));
    k = xs->held[0] == w ? 0 : xs->held[1] == w ? 1 : NONE;
    if (k == NONE) { /* not read ahead: read it now, keeping the buffer that holds next */
        k = xs->buf[1] && xs->held[0] == next ? 1 : 0;
        xs->held[k] = NONE;
        e = read_win(xs, w, xs->buf[k]);
        xs->reads++;
        xs->read_s += xs->t_read;
        xs->wait_s += xs->t_read;
        if (e)
            return read_failed(xs, w, e);
        xs->held[k] = w;
    }
    if (next != NONE && next != w && xs->buf[1] && xs->held[1 - k] != next) {
        xs->pk = 1 - k;
        xs->pw = next;
        xs->err = 0;
        xs->held[xs->pk] = NONE;
        /* no thread: the window is read when it is asked for */
        xs->running = pthread_create(&xs->th, NULL, read_thread, xs) == 0;
    }
    win_rows(xs, w, &r0, &r1);
    *view = *d;
    view->xs = NULL;
    view->X = xs->buf[k];
    view->x0 = r0;
    view->x1 = r1;
    view->ldx = r1 - r0;
    view->blo = r0 / d->nb;
    view->bhi = (r1 + d->nb - 1) / d->nb;
    return STRATA_OK;
}

void cox_xstream_free(cox_data *d)
{
    cox_xstream *xs = d->xs;
    if (!xs)
        return;
    if (xs->running)
        pthread_join(xs->th, NULL);
    if (xs->reads)
        strata_log(xs->ctx, STRATA_LOG_INFO,
                   "cox: read %zu windows of the sorted design back (%.1f MB) in %.2f s (%.0f MB/s); the fit waited %.2f s "
                   "for them",
                   xs->reads, xs->bytes / 1048576, xs->read_s, xs->read_s > 0 ? xs->bytes / 1048576 / xs->read_s : 0.0,
                   xs->wait_s);
    strata_free(xs->ctx, xs->buf[0], 0);
    strata_free(xs->ctx, xs->buf[1], 0);
    strata_scratch_close(xs->ctx, xs->f);
    strata_free(xs->ctx, xs, sizeof *xs);
    d->xs = NULL;
}

/* ---- what the budget must hold -------------------------------------------------- */

/* The per-row vectors of the streamed fit, read whole, compacted to the complete cases. */
typedef struct srows {
    size_t n, used, chunk; /* source rows, complete cases, source rows a read chunk */
    unsigned char *mask;   /* n */
    double *time, *event, *strat, *wt, *clus;
    double **raw;          /* nvars: one chunk of every variable */
    int32_t *sc;
    size_t nc;             /* distinct clusters */
    size_t inmem;          /* bytes the in-memory fit would hold (for the log) */
} srows;

/* Bytes from the layout on, beside the windows: cox_data, cox_ws, the robust
 * variance's sums (cox_robust.c) and the baseline; and *conc, what Harrell's C
 * holds beside its n-sized arrays (after the windows, the file and the risk
 * scores are freed; cox_concordance_x: eta, then the ranks, then the ranks and
 * the two trees, with the external sort's memory while eta or the ranks are
 * held). Sizes as the allocations make them. */
static size_t held_bytes(const cox_data *d, const cox_params *prm, const srows *s, int threads, size_t *conc)
{
    const size_t n = d->n, ng = d->ng, nbk = d->nblocks, p = d->p, p1 = p + 1, ld = la_gram_ld(p + 1);
    const size_t cpb = (d->nb + 255) / 256, nt = (size_t)threads < nbk ? (size_t)threads : nbk;
    const size_t tsize = 256 * p1 + 256 + 2 * p + 2 * p1 + 1 + 2 * 256 * ld + 24;
    size_t dat, ws, rob = 0, ne = 0;
    for (size_t g = 0; g < ng; g++)
        ne += d->gm[g] > 0;
    dat = n * (1 + (d->w ? 8 : 0) + (d->off ? 8 : 0) + (d->stratum ? 4 : 0) + (s->clus ? 16 : 0)) + ng * 33 +
          nbk * 16 + 8 * p1 + 64;
    ws = n * 16 + ng * 24 + (nbk + 1) * 8 * (2 + cpb + 2 * p1 + p1 + 1 + 1 + p1) + nbk * 2 * ld * ld * 8 +
         nt * tsize * 8;
    if (prm->robust || s->clus)
        rob = ng * 16 + ne * (2 + 3 * p) * 8 + (nt * 256 * ld + 8) * 8 + 8 * p * p * 8 +
              (s->clus ? n * 48 + (s->nc * ld + 8) * 8 : 0);
    /* Newton-Raphson's p x p matrices, the result, the baseline (2 doubles a group) */
    rob += 16 * p * p * 8 + ng * 24 + 4096;
    /* Harrell's C: eta and r freed (16), the read batches */
    *conc = dat + ws - n * 16 + 16 * p * p * 8 + ng * 24 + 4096 + 2 * 4096 * 16;
    return dat + ws + rob;
}

/* Bytes a source row while reading and sorting (before the layout), the largest of:
 * the mask and the whole vectors with the factor and spline columns being frozen;
 * with the strata codes' scratch; with the cluster count's; with the sorted copies
 * being made beside them (the external sort's own memory is added by sort_memory;
 * the groups, made once the input's vectors are freed, are checked by plan). */
static size_t sort_bytes(const glm_formula *f, const cox_formula *cf, size_t n)
{
    size_t w = f->weights >= 0, st = cf->strata != NULL, cl = cf->cluster != NULL, nfreeze = 0;
    size_t whole = 1 + 8 * (2 + w + cl), most;
    for (size_t v = 0; v < f->nvars; v++)
        nfreeze += f->vars[v].is_factor || f->vars[v].tr == GT_RCS;
    most = whole + 8 * st + 8 * nfreeze;                            /* load and freeze */
    most = st && whole + 8 + 44 > most ? whole + 8 + 44 : most;     /* strata codes */
    most = cl && whole + 4 * st + 40 > most ? whole + 4 * st + 40 : most; /* clusters */
    most = whole + 4 * st + 1 + 8 + 8 * w + 4 * st > most ? whole + 4 * st + 1 + 8 + 8 * w + 4 * st : most;
    return n * most;
}

size_t cox_inmem_bytes(const glm_formula *f, const cox_formula *cf, size_t n)
{
    size_t nv = f->nvars + 1 + (cf->strata != NULL) + (cf->cluster != NULL);
    size_t p = f->nvars > 1 ? f->nvars - 1 : 1;
    /* the formula's columns and the mask, the design and its sorted copy, the
     * sorted vectors and workspace (~60 bytes a row) */
    return n * (nv * 8 + 1 + 2 * p * 8 + 60);
}

static strata_status refuse(strata_ctx *ctx, const glm_source *src, size_t need, size_t budget, size_t rows,
                            const char *what)
{
    return STRATA_FAIL(ctx, STRATA_ENOMEM,
                       "%s: the Cox fit needs %zu MB for %s of %zu rows (%zu bytes a row; its design streams "
                       "through a scratch file), over the memory budget of %zu MB: give it at least %zu MB "
                       "(--mem-limit, memory:)",
                       src->name, MB(need) + 1, what, rows, need / (rows ? rows : 1), MB(budget), MB(need) + 1);
}

/* ---- reading the per-row vectors --------------------------------------------------- */

static void rows_free(strata_ctx *ctx, const glm_formula *f, srows *s)
{
    for (size_t v = 0; s->raw && v < f->nvars; v++)
        strata_free(ctx, s->raw[v], 0);
    STRATA_FREE_ALL(ctx, s->raw, s->mask, s->time, s->event, s->strat, s->wt, s->clus, s->sc);
    memset(s, 0, sizeof *s);
}

/* Source rows [r0, r0 + m) of every variable into s->raw. */
static strata_status read_chunk(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                                const glm_varbind *vb, srows *s, size_t r0, size_t m)
{
    for (size_t v = 0; v < f->nvars; v++)
        STRATA_TRY(src->read_f64(ctx, src->ud, vb[v].src_col, r0, m, s->raw[v]));
    return STRATA_OK;
}

/* The whole vectors and the complete-case mask (every variable read in chunks). */
static strata_status load_rows(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const glm_varbind *vb,
                               const cox_formula *cf, srows *s)
{
    size_t n = s->n;
    if (!(s->mask = strata_alloc(ctx, n + 1)) || !(s->raw = strata_calloc(ctx, f->nvars + 1, sizeof *s->raw)))
        return STRATA_ENOMEM;
    STRATA_TRY(cox_read_col(ctx, src, NULL, vb[f->response].src_col, 0, n, &s->time));
    STRATA_TRY(cox_read_col(ctx, src, cf->event, 0, 0, n, &s->event));
    if (cf->strata)
        STRATA_TRY(cox_read_col(ctx, src, cf->strata, 0, 0, n, &s->strat));
    if (f->weights >= 0)
        STRATA_TRY(cox_read_col(ctx, src, NULL, vb[f->weights].src_col, 0, n, &s->wt));
    if (cf->cluster)
        STRATA_TRY(cox_read_col(ctx, src, cf->cluster, 0, 0, n, &s->clus));
    for (size_t v = 0; v < f->nvars; v++)
        if (!(s->raw[v] = strata_alloc(ctx, (s->chunk + 1) * sizeof **s->raw)))
            return STRATA_ENOMEM;
    s->used = 0;
    for (size_t r0 = 0; r0 < n; r0 += s->chunk) {
        size_t m = n - r0 < s->chunk ? n - r0 : s->chunk;
        STRATA_TRY(read_chunk(ctx, src, f, vb, s, r0, m));
        for (size_t i = 0; i < m; i++) {
            size_t r = r0 + i;
            int ok = !isnan(s->event[r]) && (!s->strat || !isnan(s->strat[r])) && (!s->clus || !isnan(s->clus[r]));
            for (size_t v = 0; v < f->nvars && ok; v++)
                ok = !isnan(s->raw[v][i]);
            s->mask[r] = (unsigned char)ok;
            s->used += (size_t)ok;
        }
    }
    if (s->used == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases for the cox formula", src->name);
    return STRATA_OK;
}

/* The whole vectors compacted to the complete cases (the fit's rows, source order). */
static void compact(srows *s)
{
    double *col[5] = {s->time, s->event, s->strat, s->wt, s->clus};
    for (int c = 0; c < 5; c++) {
        size_t k = 0;
        for (size_t i = 0; col[c] && i < s->n; i++)
            if (s->mask[i])
                col[c][k++] = col[c][i];
    }
}

/* Strata codes (the strata values freed) and the number of clusters (-0 joins
 * +0, as the robust variance counts them). */
static strata_status codes(strata_ctx *ctx, srows *s, cox_fit_out *out)
{
    size_t *rank;
    strata_status st;
    if (s->strat) {
        if (!(s->sc = strata_alloc(ctx, (s->used + 1) * sizeof *s->sc)))
            return STRATA_ENOMEM;
        STRATA_TRY(cox_strata_codes(ctx, s->used, s->strat, s->sc, out));
        strata_free(ctx, s->strat, 0);
        s->strat = NULL;
    }
    if (!s->clus)
        return STRATA_OK;
    for (size_t i = 0; i < s->used; i++)
        s->clus[i] = s->clus[i] == 0 ? 0.0 : s->clus[i];
    if (!(rank = strata_alloc(ctx, (s->used + 1) * sizeof *rank)))
        return STRATA_ENOMEM;
    st = cox_dense_ranks(ctx, s->used, s->clus, rank, &s->nc);
    strata_free(ctx, rank, 0);
    return st;
}

/* ---- writing the sorted design ------------------------------------------------------ */

/* One write window: sorted rows [k0, k1), whole read windows of xs laid out as
 * in the file; the events' sums of w x and the constant-column check carried
 * over the windows in row order. */
typedef struct wwin {
    size_t k0, k1;
    double *buf;
    size_t *inv;              /* complete case -> sorted row (d->order, inverse) */
    double *Xb, *work, **rb;  /* a design block */
    double *last;             /* p: the previous row's values */
    unsigned char *varies;    /* p */
} wwin;

static double *wat(const cox_xstream *xs, const wwin *ww, size_t s, size_t j)
{
    size_t w0 = xs->x0 + (s - xs->x0) / xs->wrows * xs->wrows, m = w0 + xs->wrows < xs->x1 ? xs->wrows : xs->x1 - w0;
    return ww->buf + (w0 - ww->k0) * xs->p + j * m + (s - w0);
}

/* The design rows of complete cases [c0, c0 + m) (their values in rb) that fall in
 * the window, checked as the in-memory fit checks them. */
static strata_status place_rows(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb, const cox_input *in,
                                cox_data *d, wwin *ww, size_t c0, size_t m)
{
    const size_t p = d->p;
    char name[32];
    int bad = -1;
    if (glm_design_block(f, vb, ww->rb, m, ww->Xb, ww->work, &bad))
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "cox: unseen level while fitting");
    for (size_t i = 0; i < m; i++) {
        size_t c = c0 + i, s = ww->inv[c];
        if (s < ww->k0 || s >= ww->k1)
            continue;
        if (d->off) {
            double o = glm_offset_value(f, ww->rb, i);
            if (!isfinite(o))
                return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: offset %g is not finite", c + 1, o);
            d->off[s] = o;
        }
        for (size_t j = 0; j < p; j++) {
            double x = ww->Xb[(j + 1) * m + i];
            if (!isfinite(x))
                return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: column '%s' value %g is not finite", c + 1,
                                   cox_colname(in, j, name, sizeof name), x);
            *wat(d->xs, ww, s, j) = x;
        }
    }
    return STRATA_OK;
}

/* The events' sum of w x (in sorted row order, as cox_data_build_cols sums it)
 * and which columns vary within a stratum, over the window's rows. */
static void row_sums(cox_data *d, wwin *ww)
{
    for (size_t j = 0; j < d->p; j++) {
        double s = d->xd[j], prev = ww->last[j];
        for (size_t i = ww->k0; i < ww->k1; i++) {
            double x = *wat(d->xs, ww, i, j);
            if (d->status[i] == 1)
                s += cox_w(d, i) * x;
            if (i > 0 && cox_stratum(d, i) == cox_stratum(d, i - 1) && x != prev)
                ww->varies[j] = 1;
            prev = x;
        }
        d->xd[j] = s;
        ww->last[j] = prev;
    }
}

/* One pass over the source: every chunk's complete cases, their design rows that
 * fall in the window placed; then the window written and summed. */
static strata_status write_window(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const glm_varbind *vb,
                                  const cox_input *in, srows *s, cox_data *d, wwin *ww)
{
    size_t c = 0;
    for (size_t r0 = 0; r0 < s->n; r0 += s->chunk) {
        size_t m = s->n - r0 < s->chunk ? s->n - r0 : s->chunk, k = 0;
        STRATA_TRY(read_chunk(ctx, src, f, vb, s, r0, m));
        for (size_t i = 0; i < m; i++) /* compact to the complete cases, in place */
            if (s->mask[r0 + i]) {
                for (size_t v = 0; v < f->nvars; v++)
                    s->raw[v][k] = s->raw[v][i];
                k++;
            }
        for (size_t b0 = 0; b0 < k; b0 += SB) {
            for (size_t v = 0; v < f->nvars; v++)
                ww->rb[v] = s->raw[v] + b0;
            STRATA_TRY(place_rows(ctx, f, vb, in, d, ww, c + b0, k - b0 < SB ? k - b0 : SB));
        }
        c += k;
    }
    STRATA_TRY(strata_scratch_write(ctx, d->xs->f, (uint64_t)(ww->k0 - d->x0) * d->p * sizeof(double), ww->buf,
                                    (ww->k1 - ww->k0) * d->p * sizeof(double)));
    if (!d->comm) /* across ranks: carried rank to rank once every rank has written */
        row_sums(d, ww);
    return STRATA_OK;
}

/* Inverts the permutation a of 0..n-1 in place (a[a_old[k]] = k), cycle by
 * cycle, the top bit marking the entries done: the inverse without n more words. */
static void perm_invert(size_t *a, size_t n)
{
    const size_t mark = ~(SIZE_MAX >> 1);
    for (size_t i = 0; i < n; i++) {
        size_t k = i, next = a[i];
        if (a[i] & mark)
            continue;
        for (;;) {
            size_t after = a[next];
            a[next] = k | mark;
            k = next;
            if (k == i)
                break;
            next = after;
        }
    }
    for (size_t i = 0; i < n; i++)
        a[i] &= ~mark;
}

/* The sorted design into the scratch file, in write windows of wwrows sorted rows
 * (a whole number of read windows); then the constant-column check. Across MPI
 * ranks each rank writes its own rows [x0, x1) and the row sums are carried rank
 * to rank afterwards (cox_carry_row_sums). */
static strata_status write_design(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const glm_varbind *vb,
                                  const cox_input *in, srows *s, cox_data *d, size_t wwrows)
{
    const size_t p = d->p, u = d->n, m = d->x1 - d->x0;
    wwin ww;
    strata_status st = STRATA_OK;
    memset(&ww, 0, sizeof ww);
    if (!d->order_inv) /* in place: complete case -> sorted row */
        perm_invert(d->order, u);
    d->order_inv = 1;
    ww.inv = d->order;
    ww.buf = strata_alloc(ctx, (wwrows < m ? wwrows : m) * p * sizeof *ww.buf + 8);
    ww.Xb = strata_alloc(ctx, SB * (p + 1) * sizeof *ww.Xb);
    ww.work = strata_alloc(ctx, (SB * glm_design_work(f) + 1) * sizeof *ww.work);
    ww.rb = strata_calloc(ctx, f->nvars + 1, sizeof *ww.rb);
    ww.last = strata_calloc(ctx, p + 1, sizeof *ww.last);
    ww.varies = strata_calloc(ctx, p + 1, 1);
    if (!ww.buf || !ww.Xb || !ww.work || !ww.rb || !ww.last || !ww.varies)
        st = STRATA_ENOMEM;
    memset(d->xd, 0, p * sizeof *d->xd);
    for (size_t k0 = d->x0; st == STRATA_OK && k0 < d->x1; k0 += wwrows) {
        ww.k0 = k0;
        ww.k1 = k0 + wwrows < d->x1 ? k0 + wwrows : d->x1;
        st = write_window(ctx, src, f, vb, in, s, d, &ww);
    }
    for (size_t j = 0; st == STRATA_OK && !d->comm && j < p; j++)
        if (!ww.varies[j])
            st = cox_constant_column(ctx, in, d, j);
    if (in->cluster) { /* the robust pass by cluster maps sorted rows back */
        perm_invert(d->order, u);
        d->order_inv = 0;
    }
    STRATA_FREE_ALL(ctx, ww.buf, ww.Xb, ww.work, (void *)ww.rb, ww.last, ww.varies);
    return st;
}

/* ---- the plan and the fit --------------------------------------------------------- */

/* Rows per read window (whole blocks) and per write window (whole read windows)
 * within the budget, or the refusal naming what the budget must be. */
static strata_status plan(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const cox_params *prm,
                          const srows *s, cox_data *d, size_t *wrows, size_t *wwrows)
{
    const size_t budget = strata_ctx_memory_budget(ctx), nb = d->nb, u = d->x1 - d->x0, row = d->p * sizeof(double);
    const size_t chunkbuf = f->nvars * (s->chunk + 1) * 8 + SB * (d->p + 1 + glm_design_work(f)) * 8;
    size_t conc, held = held_bytes(d, prm, s, strata_threads(ctx), &conc), need, cneed;
    size_t r = budget > held ? (budget - held) / 2 / row / nb * nb : 0;
    /* Harrell's C: its external sort gets what the budget leaves beside eta or the
     * ranks (8 bytes a row); the trees come after it (24 with the ranks) */
    cneed = conc + 8 * d->n + strata_xsort_floor(d->n);
    cneed = conc + 24 * d->n > cneed ? conc + 24 * d->n : cneed;
    d->conc_x = 1;
    d->conc_mem = budget > conc + 8 * d->n ? budget - conc - 8 * d->n : 0;
    if (prm->sort_mem && (!d->conc_mem || prm->sort_mem < d->conc_mem))
        d->conc_mem = prm->sort_mem;
    if (budget) {
        need = held + 2 * nb * row;
        need = cneed > need ? cneed : need;
        if (need > budget)
            return refuse(ctx, src, need, budget, d->n, "the sorted per-row vectors, two blocks of the design and Harrell's C");
    }
    if (prm->window_rows)
        r = budget && r < prm->window_rows ? r : prm->window_rows / nb * nb;
    r = r < nb ? nb : r;
    *wrows = r >= u && u ? u : r; /* a rank without rows: no window */
    /* while writing, the fit's workspace is not yet made: its room (and the
     * read windows') holds more rows at once, so fewer passes over the source */
    if (budget) {
        size_t used = held - d->n * 16 + d->n * 8 + chunkbuf, k = budget > used ? (budget - used) / row / *wrows : 1;
        *wwrows = (k < 1 ? 1 : k) * *wrows;
    } else {
        *wwrows = 3 * *wrows; /* the tests' window_rows: write windows of three read windows */
    }
    return STRATA_OK;
}

/* Rows a read chunk of the source: 65,536, fewer when its buffers would take
 * more than a sixteenth of the budget (at least 1,024). */
static size_t chunk_rows(strata_ctx *ctx, const glm_formula *f)
{
    size_t c = (size_t)1 << 16, budget = strata_ctx_memory_budget(ctx);
    while (budget && c > SB && f->nvars * c * 8 > budget / 16)
        c /= 2;
    return c;
}

static strata_status stream_open(strata_ctx *ctx, cox_data *d, size_t wrows)
{
    cox_xstream *xs = strata_calloc(ctx, 1, sizeof *xs);
    if (!(d->xs = xs))
        return STRATA_ENOMEM;
    xs->ctx = ctx;
    xs->p = d->p;
    xs->x0 = d->x0;
    xs->x1 = d->x1;
    xs->wrows = wrows;
    xs->nw = (d->x1 - d->x0 + wrows - 1) / wrows;
    xs->held[0] = xs->held[1] = NONE;
    return strata_scratch_open(ctx, NULL, "the sorted Cox design", &xs->f);
}

/* The read windows' buffers (one when a single window holds every row). */
static strata_status stream_buffers(strata_ctx *ctx, cox_data *d)
{
    cox_xstream *xs = d->xs;
    /* (a rank that owns no blocks has no window: no buffer to speak of) */
    xs->buf[0] = strata_alloc(ctx, (xs->nw ? xs->wrows * xs->p * sizeof(double) : 0) + 8);
    if (xs->nw > 1)
        xs->buf[1] = strata_alloc(ctx, xs->wrows * xs->p * sizeof(double) + 8);
    return xs->buf[0] && (xs->nw <= 1 || xs->buf[1]) ? STRATA_OK : STRATA_ENOMEM;
}

/* From the sorted layout on: the plan, the scratch file, the design written, the fit. */
static strata_status fit_sorted(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const glm_varbind *vb,
                                const cox_params *prm, cox_input *in, srows *s, cox_data *d, double t0,
                                cox_fit_out *out)
{
    size_t wrows = 0, wwrows = 0, budget = strata_ctx_memory_budget(ctx);
    strata_status st = plan(ctx, src, f, prm, s, d, &wrows, &wwrows);
    if (st == STRATA_OK && f->noffsets && !(d->off = strata_calloc(ctx, d->n, sizeof *d->off)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = stream_open(ctx, d, wrows);
    if (st == STRATA_OK) {
        strata_log(ctx, STRATA_LOG_INFO,
                   "%s: the Cox model's columns need %.1f MB, over the memory budget of %.1f MB%s: streaming the "
                   "sorted design (%.1f MB) through a scratch file in %s, %zu windows of %zu rows, written in %zu "
                   "passes over the source",
                   src->name, (double)s->inmem / 1048576, (double)budget / 1048576, budget ? "" : " (window_rows)",
                   (double)d->n * (double)d->p * 8 / 1048576, strata_scratch_dir(d->xs->f), d->xs->nw, wrows,
                   (d->x1 - d->x0 + wwrows - 1) / wwrows);
        if (d->comm && d->comm->rank == 0)
            strata_log(ctx, STRATA_LOG_INFO,
                       "%s: each of the %d ranks streams its blocks of the sorted Cox design through its own scratch "
                       "file (its own reads of the source)",
                       src->name, d->comm->size);
        st = write_design(ctx, src, f, vb, in, s, d, wwrows);
    }

    for (size_t v = 0; s->raw && v < f->nvars; v++) /* the source is not read again */
        strata_free(ctx, s->raw[v], 0);
    STRATA_FREE_ALL(ctx, s->raw, s->mask);
    s->raw = NULL;
    s->mask = NULL;
    if (st == STRATA_OK && !in->cluster) { /* only the robust pass with clusters maps rows back */
        strata_free(ctx, d->order, 0);
        d->order = NULL;
    }
    if (st == STRATA_OK)
        st = stream_buffers(ctx, d);
    /* across ranks: each wrote its rows; the events' sums and the constant-column
     * check carried rank to rank over the written windows (agreed inside) */
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK && d->comm)
        st = cox_carry_row_sums(ctx, in, d);
    if (st != STRATA_OK) {
        cox_data_free(ctx, d);
        return st;
    }
    return cox_fit_data(ctx, in, prm, d, t0, &out->res); /* takes d over */
}

/* The bytes the external sort of the times may hold: what the budget leaves
 * beside the mask, the whole vectors, the chunk buffers and the sorted vectors
 * being made (status, weights, strata, the row order), or the refusal naming
 * what the budget must be; prm->sort_mem in tests; 0 without a budget. */
static strata_status sort_memory(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const cox_params *prm,
                                 const srows *s, size_t *mem)
{
    const size_t budget = strata_ctx_memory_budget(ctx), u = s->used;
    size_t held = s->n * (1 + 8 * (2 + (s->wt != NULL) + (s->clus != NULL))) + (s->sc ? u * 4 : 0) +
                  f->nvars * (s->chunk + 1) * 8 + u * (1 + 8 + (s->wt ? 8 : 0) + (s->sc ? 4 : 0)) +
                  2 * 4096 * 16 + 65536, need = held + strata_xsort_floor(u);
    *mem = prm->sort_mem;
    if (!budget)
        return STRATA_OK;
    if (need > budget)
        return refuse(ctx, src, need, budget, s->n, "sorting the times, events, weights and strata");
    if (!*mem || *mem > budget - held)
        *mem = budget - held;
    return STRATA_OK;
}

strata_status cox_fit_stream(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                             const cox_formula *cf, const cox_params *prm, cox_fit_out *out, size_t *n,
                             size_t *used)
{
    size_t budget = strata_ctx_memory_budget(ctx), need;
    double t0 = omp_get_wtime();
    cox_data *d = NULL;
    cox_input in;
    srows s;
    strata_status st;
    memset(&s, 0, sizeof s);
    *n = s.n = src->nrows;
    *used = 0;
    if (s.n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    s.chunk = chunk_rows(ctx, f);
    s.inmem = strata_ctx_comm(ctx) ? cox_dist_bytes(f, cf, s.n, strata_ctx_comm(ctx)->size) : cox_inmem_bytes(f, cf, s.n);
    need = sort_bytes(f, cf, s.n) + f->nvars * (s.chunk + 1) * 8;
    if (budget && need > budget)
        return refuse(ctx, src, need, budget, s.n, "reading and sorting the times, events, weights and strata");
    /* across MPI ranks every rank reads what one process reads, alone (its own
     * reads: the ranks read their windows' rows at different times) */
    st = strata_ctx_comm(ctx) && src->own_reads ? src->own_reads(ctx, src->ud) : STRATA_OK;
    if (st == STRATA_OK)
        st = load_rows(ctx, src, f, vb, cf, &s);
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK)
        st = cox_freeze_whole(ctx, src, f, vb, s.mask, s.n);
    if (st == STRATA_OK && (!f->intercept || f->p < 2))
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula: needs at least one term (and no -1)");
    if (st == STRATA_OK) {
        compact(&s);
        *used = s.used;
        st = codes(ctx, &s, out);
    }
    in = (cox_input){s.used, f->p - 1, NULL, s.time, s.event, s.wt, NULL, s.sc,
                     (const char *const *)f->colnames + 1, s.clus};
    if (st == STRATA_OK) { /* the sort through the external sort, in what the budget leaves it */
        void **drop[4] = {(void **)&s.time, (void **)&s.event, (void **)&s.wt, (void **)&s.sc};
        size_t xmem = 0;
        st = sort_memory(ctx, src, f, prm, &s, &xmem);
        double ts = omp_get_wtime();
        if (st == STRATA_OK)
            st = cox_data_build_rows_x(ctx, &in, prm->block_rows, xmem, drop, 4, &d);
        if (st == STRATA_OK)
            strata_log(ctx, STRATA_LOG_INFO,
                       "cox: read the per-row vectors in %.2f s; sorted %zu rows (the external sort in %.1f MB) and "
                       "laid out %zu tied groups in %.2f s",
                       ts - t0, d->n, (double)xmem / 1048576, d->ng, omp_get_wtime() - ts);
    }
    /* across ranks: this rank's blocks of the sorted rows (the same layout on every rank) */
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK && strata_ctx_comm(ctx))
        st = cox_rank_blocks(ctx, d);
    /* the sorted copies are made: the source-order vectors go but the cluster column */
    STRATA_FREE_ALL(ctx, s.time, s.event, s.wt, s.sc);
    s.time = s.event = s.wt = NULL;
    s.sc = NULL;
    in.time = in.status = in.weight = NULL;
    in.stratum = NULL;
    if (st == STRATA_OK)
        st = fit_sorted(ctx, src, f, vb, prm, &in, &s, d, t0, out); /* takes d over */
    rows_free(ctx, f, &s);
    return st;
}
