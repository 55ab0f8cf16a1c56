/* engine/core/xsort.c — the external sort (xsort.h): records are gathered in a
 * run buffer; a full buffer is sorted (the stable radix sort by key, then a
 * stable counting sort by major) and written to the scratch file as one run;
 * reading merges the runs through a binary heap of their heads. Invariant: a
 * run is in (major, key, row) order and rows are distinct, so the merged
 * stream is the one total order, the same as one run sorted in memory. */
#include "xsort.h"

#include "scratch.h"

#include <string.h>

#define XS_REC 32u       /* run-buffer bytes a record: key, row and the sort's copies */
#define XS_MIN_READ 1024 /* fewest records a run's merge buffer holds (16 kB) */
#define XS_MAX_READ 65536

typedef struct xs_run {
    uint64_t off;       /* byte offset of its keys; its rows, then majors, follow */
    size_t len, pos;    /* records; the next one to read from the file */
    size_t at, have;    /* in the buffer: next, and how many */
    uint64_t *key;      /* merge buffer (read records) */
    size_t *row;
    int32_t *maj;       /* the rows' majors, read with them (no random reads
                         * of major[] while merging); NULL without major */
} xs_run;

struct strata_xsort {
    size_t n, cap, fill, mem;       /* cap: records a run holds */
    const int32_t *major;
    size_t n_major;
    int pushed;                     /* majors pushed with the records (strata_xsort_push_major) */
    char what[64];
    uint64_t *key, *k2;             /* the run buffer */
    size_t *row, *r2, *count;       /* count: n_major + 1 offsets */
    strata_scratch *f;              /* NULL while nothing was written */
    uint64_t end;                   /* bytes written */
    xs_run *run;
    size_t nruns, max_runs, nread;  /* nread: merge-buffer records a run */
    size_t *heap, nheap;            /* run indices, least head first */
    size_t at;                      /* next record when held in memory */
    int ended;
};

static size_t ceil_div(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

/* Merge-buffer records a run for n records in runs of cap under mem (20
 * bytes a record: key, row and major). */
static size_t read_len(size_t n, size_t cap, size_t mem)
{
    size_t k = ceil_div(n, cap), b = mem / 2 / (20 * k);
    return b > XS_MAX_READ ? XS_MAX_READ : b;
}

static int fits(size_t n, size_t mem)
{
    size_t cap = mem / XS_REC;
    if (mem == 0 || cap >= n)
        return 1;
    return cap > 0 && read_len(n, cap, mem) >= XS_MIN_READ;
}

size_t strata_xsort_floor(size_t n)
{
    size_t lo = 1, hi = XS_REC * (n ? n : 1);
    while (lo < hi) { /* fits() rises with mem: the least mem that fits */
        size_t mid = lo + (hi - lo) / 2;
        if (fits(n, mid))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static strata_status xs_begin(strata_ctx *ctx, size_t n, const int32_t *major, size_t n_major,
                              int pushed, size_t mem, const char *what, strata_xsort **out)
{
    strata_xsort *x;
    size_t cap = mem ? mem / XS_REC : n;
    *out = NULL;
    if (!fits(n, mem)) {
        size_t need = strata_xsort_floor(n);
        return STRATA_FAIL(ctx, STRATA_ENOMEM,
                           "%s: sorting %zu rows through a scratch file needs at least %.3g MB, over the %.3g MB "
                           "the memory budget gives it (half the budget): raise --mem-limit / memory: to %.3g MB or more",
                           what, n, (double)need / 1048576.0, (double)mem / 1048576.0,
                           2.0 * (double)need / 1048576.0);
    }
    if (cap > n)
        cap = n;
    if (cap == 0)
        cap = 1;
    if (!(x = strata_calloc(ctx, 1, sizeof *x)))
        return STRATA_ENOMEM;
    x->n = n;
    x->cap = cap;
    x->mem = mem;
    x->major = major;
    x->n_major = major || pushed ? n_major : 0;
    x->pushed = pushed;
    snprintf(x->what, sizeof x->what, "%s", what);
    x->max_runs = ceil_div(n ? n : 1, cap);
    x->key = strata_alloc(ctx, cap * sizeof *x->key);
    x->k2 = strata_alloc(ctx, cap * sizeof *x->k2);
    x->row = strata_alloc(ctx, cap * sizeof *x->row);
    x->r2 = strata_alloc(ctx, cap * sizeof *x->r2);
    x->count = strata_calloc(ctx, x->n_major + 1, sizeof *x->count);
    x->run = strata_calloc(ctx, x->max_runs, sizeof *x->run);
    x->heap = strata_calloc(ctx, x->max_runs, sizeof *x->heap);
    if (!x->key || !x->k2 || !x->row || !x->r2 || !x->count || !x->run || !x->heap) {
        strata_xsort_free(ctx, x);
        return STRATA_ENOMEM;
    }
    *out = x;
    return STRATA_OK;
}

/* Pushed majors ride in the row word's top bits while a run is sorted. */
#define XS_ROW_BITS 40
#define XS_ROW_MASK ((((size_t)1) << XS_ROW_BITS) - 1)

static size_t major_of(const strata_xsort *x, size_t i)
{
    return x->pushed ? x->row[i] >> XS_ROW_BITS : (size_t)x->major[x->row[i]];
}

/* Sorts the run buffer: by key (stable, rows were pushed ascending), then,
 * stably, by major. With pushed majors the rows are unpacked afterwards and
 * the run's majors, in its order, left in k2 (as int32) for spill. */
static void sort_run(strata_xsort *x)
{
    size_t m = x->fill;
    strata_radix_sort(m, x->key, x->row, x->k2, x->r2);
    if (x->n_major) {
        uint64_t *kt;
        size_t *rt, *c = x->count;
        memset(c, 0, (x->n_major + 1) * sizeof *c);
        for (size_t i = 0; i < m; i++)
            c[major_of(x, i) + 1]++;
        for (size_t g = 0; g < x->n_major; g++)
            c[g + 1] += c[g];
        for (size_t i = 0; i < m; i++) {
            size_t at = c[major_of(x, i)]++;
            x->k2[at] = x->key[i];
            x->r2[at] = x->row[i];
        }
        kt = x->key, x->key = x->k2, x->k2 = kt;
        rt = x->row, x->row = x->r2, x->r2 = rt;
    }
    if (x->pushed) {
        int32_t *mj = (int32_t *)(void *)x->k2;
        for (size_t i = 0; i < m; i++) {
            mj[i] = (int32_t)(x->row[i] >> XS_ROW_BITS);
            x->row[i] &= XS_ROW_MASK;
        }
    }
}

/* Sorts the run buffer and appends it to the scratch file as one run. */
static strata_status spill(strata_ctx *ctx, strata_xsort *x)
{
    xs_run *r = &x->run[x->nruns];
    if (!x->f)
        STRATA_TRY(strata_scratch_open(ctx, NULL, x->what, &x->f));
    sort_run(x);
    r->off = x->end;
    r->len = x->fill;
    STRATA_TRY(strata_scratch_write(ctx, x->f, x->end, x->key, x->fill * sizeof *x->key));
    STRATA_TRY(strata_scratch_write(ctx, x->f, x->end + x->fill * sizeof *x->key, x->row,
                                    x->fill * sizeof *x->row));
    x->end += x->fill * (sizeof *x->key + sizeof *x->row);
    if (x->n_major) { /* the majors of the run's rows, in its order (k2 as their buffer) */
        int32_t *m = (int32_t *)(void *)x->k2;
        for (size_t i = 0; i < x->fill && !x->pushed; i++)
            m[i] = x->major[x->row[i]];
        STRATA_TRY(strata_scratch_write(ctx, x->f, x->end, m, x->fill * sizeof *m));
        x->end += x->fill * sizeof *m;
    }
    x->nruns++;
    x->fill = 0;
    return STRATA_OK;
}

strata_status strata_xsort_push(strata_ctx *ctx, strata_xsort *x, uint64_t key, size_t row)
{
    if (x->fill == x->cap) {
        if (x->nruns == x->max_runs)
            return STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: more than %zu records pushed", x->what, x->n);
        STRATA_TRY(spill(ctx, x));
    }
    x->key[x->fill] = key;
    x->row[x->fill++] = row;
    return STRATA_OK;
}

strata_status strata_xsort_begin(strata_ctx *ctx, size_t n, const int32_t *major, size_t n_major,
                                 size_t mem, const char *what, strata_xsort **out)
{
    return xs_begin(ctx, n, major, n_major, 0, mem, what, out);
}

strata_status strata_xsort_begin_pushed(strata_ctx *ctx, size_t n, size_t n_major, size_t mem,
                                        const char *what, strata_xsort **out)
{
    return xs_begin(ctx, n, NULL, n_major, 1, mem, what, out);
}

strata_status strata_xsort_push_major(strata_ctx *ctx, strata_xsort *x, int32_t major, uint64_t key,
                                      size_t row)
{
    if (!x->pushed || major < 0 || (size_t)major >= x->n_major || row > XS_ROW_MASK)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: record (major %d, row %zu) outside 0..%zu, 0..%zu",
                           x->what, (int)major, row, x->n_major ? x->n_major - 1 : 0, (size_t)XS_ROW_MASK);
    return strata_xsort_push(ctx, x, key, row | (size_t)major << XS_ROW_BITS);
}

/* (major, key, row) of run a's head below run b's. */
static int head_less(const strata_xsort *x, size_t a, size_t b)
{
    const xs_run *ra = &x->run[a], *rb = &x->run[b];
    size_t ia = ra->row[ra->at], ib = rb->row[rb->at];
    uint64_t ka = ra->key[ra->at], kb = rb->key[rb->at];
    if (x->n_major && ra->maj[ra->at] != rb->maj[rb->at])
        return ra->maj[ra->at] < rb->maj[rb->at];
    if (ka != kb)
        return ka < kb;
    return ia < ib;
}

static void sift_down(strata_xsort *x, size_t i)
{
    size_t *h = x->heap, n = x->nheap;
    for (;;) {
        size_t l = 2 * i + 1, s = i, t;
        if (l < n && head_less(x, h[l], h[s]))
            s = l;
        if (l + 1 < n && head_less(x, h[l + 1], h[s]))
            s = l + 1;
        if (s == i)
            return;
        t = h[i], h[i] = h[s], h[s] = t;
        i = s;
    }
}

/* The next records of run i into its merge buffer; have = 0 at its end. */
static strata_status refill(strata_ctx *ctx, strata_xsort *x, size_t i)
{
    xs_run *r = &x->run[i];
    size_t k = r->len - r->pos < x->nread ? r->len - r->pos : x->nread;
    r->at = 0;
    r->have = k;
    if (k == 0)
        return STRATA_OK;
    STRATA_TRY(strata_scratch_read(ctx, x->f, r->off + r->pos * sizeof *r->key, r->key, k * sizeof *r->key));
    STRATA_TRY(strata_scratch_read(ctx, x->f, r->off + r->len * sizeof *r->key + r->pos * sizeof *r->row,
                                   r->row, k * sizeof *r->row));
    if (r->maj)
        STRATA_TRY(strata_scratch_read(ctx, x->f,
                                       r->off + r->len * (sizeof *r->key + sizeof *r->row) + r->pos * sizeof *r->maj,
                                       r->maj, k * sizeof *r->maj));
    r->pos += k;
    return STRATA_OK;
}

strata_status strata_xsort_rewind(strata_ctx *ctx, strata_xsort *x)
{
    x->at = 0;
    if (x->nruns == 0)
        return STRATA_OK;
    x->nheap = 0;
    for (size_t i = 0; i < x->nruns; i++) {
        x->run[i].pos = 0;
        STRATA_TRY(refill(ctx, x, i));
        if (x->run[i].have)
            x->heap[x->nheap++] = i;
    }
    for (size_t i = x->nheap / 2; i-- > 0;)
        sift_down(x, i);
    return STRATA_OK;
}

strata_status strata_xsort_end(strata_ctx *ctx, strata_xsort *x)
{
    x->ended = 1;
    if (x->nruns == 0) { /* everything fitted: one run, held in memory */
        sort_run(x);
        STRATA_FREE_ALL(ctx, x->k2, x->r2);
        x->k2 = NULL;
        x->r2 = NULL;
        return STRATA_OK;
    }
    if (x->fill)
        STRATA_TRY(spill(ctx, x));
    STRATA_FREE_ALL(ctx, x->key, x->k2, x->row, x->r2);
    x->key = x->k2 = NULL;
    x->row = x->r2 = NULL;
    x->nread = read_len(x->n, x->cap, x->mem);
    for (size_t i = 0; i < x->nruns; i++) {
        x->run[i].key = strata_alloc(ctx, x->nread * sizeof *x->run[i].key);
        x->run[i].row = strata_alloc(ctx, x->nread * sizeof *x->run[i].row);
        if (x->n_major)
            x->run[i].maj = strata_alloc(ctx, x->nread * sizeof *x->run[i].maj);
        if (!x->run[i].key || !x->run[i].row || (x->n_major && !x->run[i].maj))
            return STRATA_ENOMEM;
    }
    return strata_xsort_rewind(ctx, x);
}

strata_status strata_xsort_read(strata_ctx *ctx, strata_xsort *x, uint64_t *key, size_t *row,
                                size_t max, size_t *got)
{
    size_t k = 0;
    if (!x->ended)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: read before the sort ended", x->what);
    if (x->nruns == 0) {
        k = x->fill - x->at < max ? x->fill - x->at : max;
        memcpy(key, x->key + x->at, k * sizeof *key);
        memcpy(row, x->row + x->at, k * sizeof *row);
        x->at += k;
        *got = k;
        return STRATA_OK;
    }
    while (k < max && x->nheap) {
        size_t i = x->heap[0];
        xs_run *r = &x->run[i];
        key[k] = r->key[r->at];
        row[k++] = r->row[r->at++];
        if (r->at == r->have) {
            STRATA_TRY(refill(ctx, x, i));
            if (!r->have)
                x->heap[0] = x->heap[--x->nheap];
        }
        sift_down(x, 0);
    }
    *got = k;
    return STRATA_OK;
}

strata_status strata_xsort_take(strata_ctx *ctx, strata_xsort *x, uint64_t **key, size_t **row)
{
    if (!x->ended || x->nruns)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: the sorted records are not in memory", x->what);
    *key = x->key;
    *row = x->row;
    x->key = NULL;
    x->row = NULL;
    x->fill = x->at = 0;
    return STRATA_OK;
}

size_t strata_xsort_runs(const strata_xsort *x)
{
    return x->nruns;
}

void strata_xsort_free(strata_ctx *ctx, strata_xsort *x)
{
    if (!x)
        return;
    for (size_t i = 0; x->run && i < x->nruns; i++)
        STRATA_FREE_ALL(ctx, x->run[i].key, x->run[i].row, x->run[i].maj);
    STRATA_FREE_ALL(ctx, x->key, x->k2, x->row, x->r2, x->count, x->run, x->heap);
    strata_scratch_close(ctx, x->f);
    strata_free(ctx, x, sizeof *x);
}
