/* engine/io/events_sort.c — external merge sort of event records for `strata
 * import events`: records (patient row, day, then any payload) fill a run of
 * at most `cap` records; a full run is sorted (stable radix on (row, day)) and
 * spilled to an unlinked 0600 scratch file beside the output; at the end the
 * runs are merged through a heap keyed by (row, day, run). Invariant: records
 * come out sorted by (row, day) with ties in arrival order, and memory stays
 * at one run plus a fixed read buffer per run, however many records arrive. */
#include "events_internal.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MERGE_BUF_BYTES (1u << 20) /* read buffer per run while merging */
#define PREFETCH 16                 /* records fetched ahead when reading in sorted order */

static uint64_t rec_key(const unsigned char *r)
{
    int32_t row, day;
    memcpy(&row, r, 4);
    memcpy(&day, r + 4, 4);
    return ((uint64_t)(uint32_t)row << 32) | ((uint32_t)day ^ 0x80000000u);
}

strata_status strata_evsort_init(strata_ctx *ctx, strata_evsort *s, size_t rec, size_t cap,
                                 const char *near)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->rec = rec;
    s->cap = cap ? cap : 1;
    s->fd = -1;
    s->near = near;
    return STRATA_OK;
}

void strata_evsort_free(strata_evsort *s)
{
    if (s->fd >= 0)
        close(s->fd);
    STRATA_FREE_ALL(s->ctx, s->buf, s->run_off, s->run_n);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* Stable order of the run's records by (row, day). */
static strata_status sort_run(strata_evsort *s, size_t **perm)
{
    strata_ctx *ctx = s->ctx;
    size_t n = s->n ? s->n : 1;
    uint64_t *key = strata_alloc(ctx, n * sizeof *key), *k2 = strata_alloc(ctx, n * sizeof *k2);
    size_t *r = strata_alloc(ctx, n * sizeof *r), *r2 = strata_alloc(ctx, n * sizeof *r2);
    strata_status st = key && k2 && r && r2 ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK) {
        for (size_t i = 0; i < s->n; i++) {
            key[i] = rec_key(s->buf + i * s->rec);
            r[i] = i;
        }
        strata_radix_sort(s->n, key, r, k2, r2);
        *perm = r;
        r = NULL;
    }
    STRATA_FREE_ALL(ctx, key, k2, r, r2);
    return st;
}

static strata_status write_all(strata_evsort *s, const unsigned char *b, size_t len)
{
    while (len) {
        ssize_t w = write(s->fd, b, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return STRATA_FAIL(s->ctx, STRATA_EIO, "%s: writing the sort's scratch file: %s",
                               s->near, strerror(errno ? errno : ENOSPC));
        b += w;
        len -= (size_t)w;
    }
    return STRATA_OK;
}

/* Creates the scratch file beside s->near, unlinked at once (nothing is left
 * behind whatever happens). */
static strata_status open_scratch(strata_evsort *s)
{
    char near[4200], *tmp = NULL;
    struct stat a, b;
    int wfd;
    snprintf(near, sizeof near, "%s.sort", s->near);
    wfd = strata_tmp_create(s->ctx, near, 0600, &tmp); /* O_EXCL, write-only */
    if (wfd < 0)
        return s->ctx->last_status != STRATA_OK ? s->ctx->last_status : STRATA_EIO;
    s->fd = open(tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC); /* the merge reads it back */
    if (s->fd >= 0 && (fstat(wfd, &a) || fstat(s->fd, &b) || a.st_dev != b.st_dev ||
                       a.st_ino != b.st_ino)) { /* not the file we created */
        close(s->fd);
        s->fd = -1;
        errno = EEXIST;
    }
    if (s->fd < 0)
        STRATA_FAIL(s->ctx, STRATA_EIO, "%s: cannot open the sort's scratch file: %s", tmp,
                    strerror(errno));
    close(wfd);
    unlink(tmp);
    strata_free(s->ctx, tmp, 0);
    return s->fd >= 0 ? STRATA_OK : STRATA_EIO;
}

/* Sorts the records in buf and appends them to the scratch file as one run. */
static strata_status spill(strata_evsort *s)
{
    size_t *perm = NULL, cb = MERGE_BUF_BYTES / s->rec + 1, k = 0;
    unsigned char *out = NULL;
    strata_status st = STRATA_OK;
    if (s->fd < 0)
        STRATA_TRY(open_scratch(s));
    if (s->nruns == s->runs_cap) {
        size_t nc = s->runs_cap ? 2 * s->runs_cap : 16;
        uint64_t *o = strata_realloc(s->ctx, s->run_off, s->runs_cap * sizeof *o, nc * sizeof *o);
        size_t *nn = o ? strata_realloc(s->ctx, s->run_n, s->runs_cap * sizeof *nn, nc * sizeof *nn)
                       : NULL;
        if (o)
            s->run_off = o;
        if (!nn)
            return STRATA_ENOMEM;
        s->run_n = nn;
        s->runs_cap = nc;
    }
    STRATA_TRY(sort_run(s, &perm));
    if (!(out = strata_alloc(s->ctx, cb * s->rec)))
        st = STRATA_ENOMEM;
    for (size_t i = 0; st == STRATA_OK && i < s->n; i++) {
        if (i + PREFETCH < s->n) /* random reads: fetch ahead to hide the latency */
            __builtin_prefetch(s->buf + perm[i + PREFETCH] * s->rec);
        memcpy(out + k * s->rec, s->buf + perm[i] * s->rec, s->rec);
        if (++k == cb || i + 1 == s->n) {
            st = write_all(s, out, k * s->rec);
            k = 0;
        }
    }
    if (st == STRATA_OK) {
        s->run_off[s->nruns] = s->file_off;
        s->run_n[s->nruns++] = s->n;
        s->file_off += (uint64_t)s->n * s->rec;
        s->n = 0;
    }
    STRATA_FREE_ALL(s->ctx, perm, out);
    return st;
}

unsigned char *strata_evsort_slot(strata_evsort *s, strata_status *st)
{
    *st = STRATA_OK;
    if (s->n == s->cap && (*st = spill(s)) != STRATA_OK)
        return NULL;
    if (s->n == s->alloc) { /* runs grow to cap: small imports stay small */
        size_t nc = s->alloc ? 2 * s->alloc : 4096;
        unsigned char *b;
        nc = nc > s->cap ? s->cap : nc;
        if (!(b = strata_realloc(s->ctx, s->buf, s->alloc * s->rec, nc * s->rec))) {
            *st = STRATA_ENOMEM;
            return NULL;
        }
        s->buf = b;
        s->alloc = nc;
    }
    return s->buf + s->n * s->rec;
}

/* One run while merging: a window of its records read from the scratch file. */
typedef struct run_reader {
    uint64_t off;        /* file offset of the next record to read */
    size_t left;         /* records not yet read into the window */
    unsigned char *win;  /* window of records */
    size_t nwin, pos;
} run_reader;

static strata_status refill(strata_evsort *s, run_reader *r, size_t wcap)
{
    size_t n = r->left < wcap ? r->left : wcap, len = n * s->rec, got = 0;
    while (got < len) {
        ssize_t k = pread(s->fd, r->win + got, len - got, (off_t)(r->off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return STRATA_FAIL(s->ctx, STRATA_EIO, "%s: reading the sort's scratch file: %s",
                               s->near, k < 0 ? strerror(errno) : "short read");
        got += (size_t)k;
    }
    r->off += len;
    r->left -= n;
    r->nwin = n;
    r->pos = 0;
    return STRATA_OK;
}

/* Heap order: smaller (key, run) first; ties across runs in run (= file) order. */
static int heap_less(const strata_evsort *s, const run_reader *rd, size_t a, size_t b)
{
    uint64_t ka = rec_key(rd[a].win + rd[a].pos * s->rec), kb = rec_key(rd[b].win + rd[b].pos * s->rec);
    return ka < kb || (ka == kb && a < b);
}

static void sift_down(const strata_evsort *s, const run_reader *rd, size_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i, t;
        if (l < n && heap_less(s, rd, h[l], h[m]))
            m = l;
        if (l + 1 < n && heap_less(s, rd, h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        t = h[i], h[i] = h[m], h[m] = t;
        i = m;
    }
}

/* k-way merge of the spilled runs through emit. */
static strata_status merge_runs(strata_evsort *s, strata_evsort_fn emit, void *ud)
{
    strata_ctx *ctx = s->ctx;
    size_t k = s->nruns, wcap = MERGE_BUF_BYTES / s->rec + 1, nh = 0;
    run_reader *rd = strata_calloc(ctx, k, sizeof *rd);
    size_t *heap = strata_alloc(ctx, k * sizeof *heap);
    strata_status st = rd && heap ? STRATA_OK : STRATA_ENOMEM;
    for (size_t i = 0; st == STRATA_OK && i < k; i++) {
        rd[i].off = s->run_off[i];
        rd[i].left = s->run_n[i];
        if (!(rd[i].win = strata_alloc(ctx, wcap * s->rec)))
            st = STRATA_ENOMEM;
        else if ((st = refill(s, &rd[i], wcap)) == STRATA_OK && rd[i].nwin)
            heap[nh++] = i;
    }
    for (size_t i = nh; st == STRATA_OK && i-- > 0;)
        sift_down(s, rd, heap, nh, i);
    while (st == STRATA_OK && nh) {
        run_reader *r = &rd[heap[0]];
        st = emit(ud, r->win + r->pos * s->rec);
        if (st == STRATA_OK && ++r->pos == r->nwin)
            st = r->left ? refill(s, r, wcap) : STRATA_OK;
        if (st == STRATA_OK && r->pos == r->nwin) /* run exhausted */
            heap[0] = heap[--nh];
        sift_down(s, rd, heap, nh, 0);
    }
    for (size_t i = 0; rd && i < k; i++)
        strata_free(ctx, rd[i].win, 0);
    STRATA_FREE_ALL(ctx, rd, heap);
    return st;
}

strata_status strata_evsort_finish(strata_evsort *s, strata_evsort_fn emit, void *ud)
{
    size_t *perm = NULL;
    strata_status st = STRATA_OK;
    if (s->nruns == 0) { /* everything fit in one run: sort it in memory */
        STRATA_TRY(sort_run(s, &perm));
        for (size_t i = 0; st == STRATA_OK && i < s->n; i++) {
            if (i + PREFETCH < s->n)
                __builtin_prefetch(s->buf + perm[i + PREFETCH] * s->rec);
            st = emit(ud, s->buf + perm[i] * s->rec);
        }
        strata_free(s->ctx, perm, 0);
        return st;
    }
    if (s->n)
        STRATA_TRY(spill(s));
    strata_free(s->ctx, s->buf, 0); /* the run buffer is not needed while merging */
    s->buf = NULL;
    s->alloc = 0;
    return merge_runs(s, emit, ud);
}
