/* engine/evaluate/evaluate.c — strata_evaluate: checks the scored rows, sorts them once
 * by predicted value (the one external sort, engine/core/xsort.h), then
 * evaluates the whole population and every level of every by-column as
 * independent jobs (OpenMP over jobs, each job serial).
 * Invariant: a level's rows are copied contiguously in the global (p, row)
 * order, so results are identical whatever the thread count — and whatever
 * the memory budget, which only moves the sorted rows to a scratch file read
 * in windows and cuts a by-column's levels into batches evaluated one after
 * another (docs/scale.md). The inputs are arrays or rows read in blocks
 * through the caller's callback (strata_evaluate_source): the values a sorted
 * row needs are placed in the sorted order range of rows by range (gather),
 * one range when they are arrays or there is no budget. */
#include "evaluate_internal.h"
#include "scratch.h"
#include "xsort.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void strata_eval_params_init(strata_eval_params *par)
{
    static const double top[6] = {0.005, 0.01, 0.02, 0.05, 0.10, 0.20};
    memset(par, 0, sizeof *par);
    par->family = STRATA_FAMILY_BINOMIAL;
    par->conf_level = 0.95;
    par->n_bins = 10;
    par->n_top = 6;
    memcpy(par->top_frac, top, sizeof top);
    par->nb_min = 0.01;
    par->nb_max = 0.50;
    par->nb_step = 0.01;
    par->curve_bins = 100;
    par->curve_bw = 0.0;
    par->min_level_n = 100.0;
    par->min_level_events = 10.0;
    par->max_iter = 50;
    par->tol = 1e-12;
    par->disclosure = 1;
    par->sdc_suppress_max = 7.0;
    par->sdc_round_to = 5.0;
}

strata_status strata_eval_params_check(strata_ctx *ctx, const strata_eval_params *par)
{
    if (!par)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: params is NULL");
    if (par->family != STRATA_FAMILY_BINOMIAL && par->family != STRATA_FAMILY_POISSON &&
        par->family != STRATA_FAMILY_GAMMA && par->family != STRATA_FAMILY_GAUSSIAN)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: unknown family %d", (int)par->family);
    if (!(par->conf_level > 0.0 && par->conf_level < 1.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: conf_level %g outside (0, 1)",
                           par->conf_level);
    if (par->n_bins < 1 || par->n_bins > 256)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: n_bins %d outside [1, 256]",
                           par->n_bins);
    if (par->n_top > STRATA_EVAL_MAX_TOP)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: n_top %zu above %d", par->n_top,
                           STRATA_EVAL_MAX_TOP);
    for (size_t i = 0; i < par->n_top; i++)
        if (!(par->top_frac[i] > 0.0 && par->top_frac[i] <= 1.0))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: top_frac[%zu] = %g outside (0, 1]",
                               i, par->top_frac[i]);
    if (!(par->nb_step > 0.0 && par->nb_min > 0.0 && par->nb_max < 1.0 &&
          par->nb_min <= par->nb_max))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "evaluate: net-benefit grid %g..%g by %g must lie in (0, 1)",
                           par->nb_min, par->nb_max, par->nb_step);
    if (par->curve_bins < 1 || par->curve_bw < 0.0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: curve_bins %d / curve_bw %g invalid",
                           par->curve_bins, par->curve_bw);
    if (par->max_iter < 1 || !(par->tol > 0.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: max_iter %d / tol %g invalid",
                           par->max_iter, par->tol);
    if (!(par->sdc_suppress_max >= 0.0) || !(par->sdc_round_to >= 0.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "evaluate: sdc_suppress_max %g / sdc_round_to %g must be >= 0",
                           par->sdc_suppress_max, par->sdc_round_to);
    return STRATA_OK;
}

void strata_eval_inverse_link(strata_family f, const double *lp, size_t n, double *p)
{
    for (size_t i = 0; i < n; i++)
        p[i] = ev_inv_link(f, lp[i]);
}

strata_status strata_eval_link(strata_ctx *ctx, strata_family f, const double *p, size_t n,
                               double *lp)
{
    for (size_t i = 0; i < n; i++) {
        if (!ev_p_valid(f, p[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "evaluate: predicted value at row %zu is %g, outside the %s range",
                               i + 1, p[i], strata_family_name(f));
        lp[i] = ev_link(f, p[i]);
    }
    return STRATA_OK;
}

strata_status ev_metrics_alloc(strata_ctx *ctx, const strata_eval_params *par,
                               strata_eval_metrics *m)
{
    size_t nnb = ev_nb_count(par);
    memset(m, 0, sizeof *m);
    m->bins = strata_calloc(ctx, (size_t)par->n_bins, sizeof *m->bins);
    m->top = strata_calloc(ctx, par->n_top ? par->n_top : 1, sizeof *m->top);
    m->nb = strata_calloc(ctx, nnb ? nnb : 1, sizeof *m->nb);
    m->curve = strata_calloc(ctx, (size_t)par->curve_bins, sizeof *m->curve);
    if (!m->bins || !m->top || !m->nb || !m->curve) {
        ev_metrics_free(ctx, m);
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

void ev_metrics_free(strata_ctx *ctx, strata_eval_metrics *m)
{
    strata_free(ctx, m->bins, 0);
    strata_free(ctx, m->top, 0);
    strata_free(ctx, m->nb, 0);
    strata_free(ctx, m->curve, 0);
    m->bins = NULL;
    m->top = NULL;
    m->nb = NULL;
    m->curve = NULL;
}

void strata_eval_report_free(strata_ctx *ctx, strata_eval_report *r)
{
    if (!r)
        return;
    ev_metrics_free(ctx, &r->overall);
    for (size_t g = 0; g < r->n_groups; g++) {
        strata_free(ctx, r->groups[g].by, 0);
        strata_free(ctx, r->groups[g].level, 0);
        ev_metrics_free(ctx, &r->groups[g].m);
    }
    strata_free(ctx, r->groups, 0);
    strata_free(ctx, r, sizeof *r);
}

/* The input's columns: the arrays given, or rows read block by block through
 * src->read (strata_evaluate_source). */
static int has_w(const strata_eval_source *src)
{
    return src->in.w != NULL || src->weighted;
}

static size_t clamp_rows(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static const void *col_array(const strata_eval_source *src, int col)
{
    return col == STRATA_EVAL_COL_Y   ? (const void *)src->in.y
           : col == STRATA_EVAL_COL_P ? (const void *)src->in.p
           : col == STRATA_EVAL_COL_W ? (const void *)src->in.w
                                      : (const void *)src->in.by[col].codes;
}

static size_t col_size(int col)
{
    return col >= 0 ? sizeof(int32_t) : sizeof(double);
}

/* Rows [r0, r0 + n) of column col: into the array given, or read into buf. */
static strata_status col_rows(strata_ctx *ctx, const strata_eval_source *src, int col, size_t r0, size_t n,
                              void *buf, const void **out)
{
    const void *a = col_array(src, col);
    if (a) {
        *out = (const char *)a + r0 * col_size(col);
        return STRATA_OK;
    }
    *out = buf;
    return n ? src->read(ctx, src->ud, col, r0, n, buf) : STRATA_OK;
}

/* Rows a block of the sequential passes over the input holds (a column read
 * through src->read: 8 bytes a row each, within a sixteenth of the budget). */
static size_t read_block(strata_ctx *ctx)
{
    size_t budget = strata_ctx_memory_budget(ctx);
    return budget ? clamp_rows(budget / 16 / 32, 256, 65536) : 65536;
}

/* Buffers of one block of y, p, w and a by-column's codes, for the columns read. */
typedef struct ev_rbuf {
    size_t blk;
    double *y, *p, *w;
    int32_t *codes;
} ev_rbuf;

static strata_status rbuf_alloc(strata_ctx *ctx, const strata_eval_source *src, ev_rbuf *b)
{
    int any_codes = 0;
    memset(b, 0, sizeof *b);
    b->blk = read_block(ctx);
    for (size_t k = 0; k < src->in.n_by; k++)
        any_codes |= src->in.by[k].codes == NULL;
    if (!src->in.y)
        b->y = strata_alloc(ctx, b->blk * sizeof *b->y);
    if (!src->in.p)
        b->p = strata_alloc(ctx, b->blk * sizeof *b->p);
    if (!src->in.w && src->weighted)
        b->w = strata_alloc(ctx, b->blk * sizeof *b->w);
    if (any_codes)
        b->codes = strata_alloc(ctx, b->blk * sizeof *b->codes);
    if ((!src->in.y && !b->y) || (!src->in.p && !b->p) || (!src->in.w && src->weighted && !b->w) ||
        (any_codes && !b->codes))
        return STRATA_ENOMEM;
    return STRATA_OK;
}

static void rbuf_free(strata_ctx *ctx, ev_rbuf *b)
{
    STRATA_FREE_ALL(ctx, b->y, b->p, b->w, b->codes);
    memset(b, 0, sizeof *b);
}

/* Rows [r0, r0 + n) of p and w (NULL: unweighted). */
static strata_status pw_rows(strata_ctx *ctx, const strata_eval_source *src, ev_rbuf *b, size_t r0, size_t n,
                             const double **p, const double **w)
{
    const void *v;
    *w = NULL;
    STRATA_TRY(col_rows(ctx, src, STRATA_EVAL_COL_P, r0, n, b->p, &v));
    *p = v;
    if (has_w(src)) {
        STRATA_TRY(col_rows(ctx, src, STRATA_EVAL_COL_W, r0, n, b->w, &v));
        *w = v;
    }
    return STRATA_OK;
}

/* Every row's y, p and w, and every code, checked in row order (one block at
 * a time); *m gets the rows of positive weight. */
static strata_status check_input(strata_ctx *ctx, const strata_eval_source *src, strata_family f, ev_rbuf *rb,
                                 size_t *m)
{
    const strata_eval_input *in = &src->in;
    *m = 0;
    if ((in->n_by && !in->by) || ((!in->y || !in->p) && !src->read))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: input arrays missing");
    for (size_t r0 = 0; r0 < in->n; r0 += rb->blk) {
        size_t nb = in->n - r0 < rb->blk ? in->n - r0 : rb->blk;
        const double *yb, *pb, *wb;
        const void *v;
        STRATA_TRY(pw_rows(ctx, src, rb, r0, nb, &pb, &wb));
        STRATA_TRY(col_rows(ctx, src, STRATA_EVAL_COL_Y, r0, nb, rb->y, &v));
        yb = v;
        for (size_t k = 0; k < nb; k++) {
            size_t i = r0 + k;
            double w = wb ? wb[k] : 1.0, y = yb[k], p = pb[k];
            if (!(w >= 0.0) || !isfinite(w))
                return STRATA_FAIL(ctx, STRATA_EDATA, "evaluate: weight at row %zu is %g", i + 1, w);
            if (w == 0.0)
                continue;
            ++*m;
            if (!isfinite(y) || (f == STRATA_FAMILY_BINOMIAL && y != 0.0 && y != 1.0) ||
                (f == STRATA_FAMILY_POISSON && y < 0.0) || (f == STRATA_FAMILY_GAMMA && !(y > 0.0)))
                return STRATA_FAIL(ctx, STRATA_EDATA,
                                   "evaluate: outcome at row %zu is %g, invalid for family %s", i + 1,
                                   y, strata_family_name(f));
            if (!ev_p_valid(f, p))
                return STRATA_FAIL(ctx, STRATA_EDATA,
                                   "evaluate: predicted value at row %zu is %g, outside the %s range",
                                   i + 1, p, strata_family_name(f));
        }
    }
    for (size_t b = 0; b < in->n_by; b++) {
        const strata_eval_by *by = &in->by[b];
        if (!by->name || (!by->codes && !src->read) || (by->n_levels && !by->levels) ||
            by->n_levels > (size_t)INT32_MAX)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: by-column %zu incomplete", b + 1);
        for (size_t r0 = 0; r0 < in->n; r0 += rb->blk) {
            size_t nb = in->n - r0 < rb->blk ? in->n - r0 : rb->blk;
            const int32_t *codes;
            const void *v;
            STRATA_TRY(col_rows(ctx, src, (int)b, r0, nb, rb->codes, &v));
            codes = v;
            for (size_t k = 0; k < nb; k++)
                if (codes[k] < -1 || codes[k] >= (int64_t)by->n_levels)
                    return STRATA_FAIL(ctx, STRATA_EDATA,
                                       "evaluate: by-column %s: row %zu: code %d outside [-1, %zu)",
                                       by->name, r0 + k + 1, (int)codes[k], by->n_levels);
        }
    }
    return STRATA_OK;
}

/* Rows with positive weight in ascending (p, row) order: parallel arrays in
 * memory, or — when those exceed half the memory budget — the columns of an
 * unnamed scratch file (y, p, lp, w and row at off[], m rows each), read
 * block by block and, by the metric kernels, window by window. */
typedef struct ev_sorted {
    size_t m;
    size_t *row; /* original row of each position (in memory) */
    double *y, *p, *lp, *w;
    int weighted;
    uint32_t *lvl;         /* level of each sorted row, current by-column (in
                            * memory: m; on file: a block's, the column at lvl_off) */
    strata_scratch *f;     /* non-NULL: the columns are in this file */
    uint64_t off[EV_NCOL];
    uint64_t lvl_off;      /* the level column (4 bytes a row) */
    uint64_t level_off;    /* where a level too large for the copies goes */
    size_t blk;            /* rows a block */
    double *bbuf;          /* a block's y, p, lp, w (blk each) */
    size_t *brow;          /* and its rows */
    uint64_t *bkey;
    ev_file win[2];        /* the windows of the whole population and of a level */
} ev_sorted;

/* Positions [k0, k0 + n) of the sorted rows (and their levels). */
typedef struct ev_block {
    size_t n;
    const size_t *row;
    const double *y, *p, *lp, *w;
    const uint32_t *lvl;
} ev_block;

static void sorted_free(strata_ctx *ctx, ev_sorted *s)
{
    STRATA_FREE_ALL(ctx, s->row, s->y, s->p, s->lp, s->w, s->lvl, s->bbuf, s->brow, s->bkey,
                    s->win[0].buf, s->win[1].buf);
    strata_scratch_close(ctx, s->f);
    memset(s, 0, sizeof *s);
}

/* The sorted positions [k0, ...): in memory, all of them; from the file, a
 * block of at most blk — its rows only (EV_ROWS), its values and levels
 * (EV_VALUES), or its levels only (EV_LEVELS). */
enum { EV_ROWS, EV_VALUES, EV_LEVELS };
static strata_status sorted_block(strata_ctx *ctx, ev_sorted *s, size_t k0, int what, ev_block *b)
{
    size_t n = s->m - k0;
    if (!s->f) {
        *b = (ev_block){n, s->row + k0, s->y + k0, s->p + k0, s->lp + k0, s->w ? s->w + k0 : NULL,
                        s->lvl ? s->lvl + k0 : NULL};
        return STRATA_OK;
    }
    n = n < s->blk ? n : s->blk;
    *b = (ev_block){n, s->brow, s->bbuf, s->bbuf + s->blk, s->bbuf + 2 * s->blk,
                    s->weighted ? s->bbuf + 3 * s->blk : NULL, s->lvl};
    if (what == EV_ROWS)
        return strata_scratch_read(ctx, s->f, s->off[EV_COL_ROW] + k0 * sizeof(size_t), s->brow,
                                   n * sizeof(size_t));
    for (int c = 0; what == EV_VALUES && c < (s->weighted ? EV_NWIN : EV_COL_W); c++)
        STRATA_TRY(strata_scratch_read(ctx, s->f, s->off[c] + k0 * sizeof(double), s->bbuf + (size_t)c * s->blk,
                                       n * sizeof(double)));
    return strata_scratch_read(ctx, s->f, s->lvl_off + k0 * sizeof *s->lvl, s->lvl, n * sizeof *s->lvl);
}

/* Positions [0, cnt) whose rows (rows[]) lie in [r0, r0 + len) take the
 * value of column col at their row (vals: the range's values); a by-column's
 * code becomes its level (missing: n_levels). */
static void place(const strata_eval_source *src, int col, const void *vals, size_t r0, size_t len,
                  const size_t *rows, size_t cnt, void *dst)
{
    if (col < 0) {
        const double *v = vals;
        double *d = dst;
        for (size_t k = 0; k < cnt; k++)
            if (rows[k] - r0 < len)
                d[k] = v[rows[k] - r0];
        return;
    }
    {
        const int32_t *v = vals;
        uint32_t *d = dst, na = (uint32_t)src->in.by[col].n_levels;
        for (size_t k = 0; k < cnt; k++)
            if (rows[k] - r0 < len)
                d[k] = v[rows[k] - r0] < 0 ? na : (uint32_t)v[rows[k] - r0];
    }
}

/* Column col of the input in the sorted order: position k gets the value of
 * row row[k] — into dst (in memory) or the file's column at off. The rows
 * are taken in ranges (the whole column when it is an array or there is no
 * budget, else at most a quarter of the budget of values: beside the
 * windows and copies, 5/8 of it), each range read once and placed by one pass over the sorted rows (on file, block by block:
 * the rows, and the column's block read, filled and written back). */
static strata_status gather(strata_ctx *ctx, ev_sorted *s, const strata_eval_source *src, int col, void *dst,
                            uint64_t off)
{
    size_t es = col_size(col), n = src->in.n, budget = strata_ctx_memory_budget(ctx);
    int arr = col_array(src, col) != NULL;
    size_t R = arr || !budget ? (n ? n : 1) : clamp_rows(budget / 4 / es, 1024, n ? n : 1);
    void *rbuf = arr ? NULL : strata_alloc(ctx, R * es);
    strata_status st = STRATA_OK;
    if (!arr && !rbuf)
        return STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += R) {
        size_t len = n - r0 < R ? n - r0 : R;
        const void *vals;
        ev_block b;
        if ((st = col_rows(ctx, src, col, r0, len, rbuf, &vals)) != STRATA_OK)
            break;
        if (!s->f) {
            place(src, col, vals, r0, len, s->row, s->m, dst);
            continue;
        }
        for (size_t k0 = 0; st == STRATA_OK && k0 < s->m; k0 += b.n) {
            if ((st = sorted_block(ctx, s, k0, EV_ROWS, &b)) != STRATA_OK)
                break;
            if (r0 > 0)
                st = strata_scratch_read(ctx, s->f, off + k0 * es, s->bbuf, b.n * es);
            if (st == STRATA_OK) {
                place(src, col, vals, r0, len, b.row, b.n, s->bbuf);
                st = strata_scratch_write(ctx, s->f, off + k0 * es, s->bbuf, b.n * es);
            }
        }
    }
    strata_free(ctx, rbuf, 0);
    return st;
}

/* In memory: the sort's keys and rows taken over, each key turned back into
 * its p in place (memcpy: the buffer's type is now double), then y, lp (and
 * w, and the level of each row) at 8 (4) bytes a row each. */
static strata_status sorted_in_memory(strata_ctx *ctx, const strata_eval_source *src, strata_family f,
                                      strata_xsort **xp, ev_sorted *s)
{
    size_t cnt = s->m ? s->m : 1;
    uint64_t *key = NULL;
    STRATA_TRY(strata_xsort_take(ctx, *xp, &key, &s->row));
    strata_xsort_free(ctx, *xp);
    *xp = NULL;
    for (size_t i = 0; i < s->m; i++) {
        double d = strata_key_f64(key[i]);
        memcpy(&key[i], &d, sizeof d);
    }
    s->p = (double *)(void *)key;
    s->y = strata_alloc(ctx, cnt * sizeof *s->y);
    s->lp = strata_alloc(ctx, cnt * sizeof *s->lp);
    if (s->weighted)
        s->w = strata_alloc(ctx, cnt * sizeof *s->w);
    if (src->in.n_by)
        s->lvl = strata_alloc(ctx, cnt * sizeof *s->lvl);
    if (!s->y || !s->lp || (s->weighted && !s->w) || (src->in.n_by && !s->lvl))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < s->m; i++)
        s->lp[i] = ev_link(f, s->p[i]);
    STRATA_TRY(gather(ctx, s, src, STRATA_EVAL_COL_Y, s->y, 0));
    return s->weighted ? gather(ctx, s, src, STRATA_EVAL_COL_W, s->w, 0) : STRATA_OK;
}

/* To the scratch file: the sort's stream block by block, each position's p,
 * lp and row written to its column, then y and w placed in the sorted order
 * (gather); then the two windows (a quarter of the budget together). */
static strata_status sorted_to_file(strata_ctx *ctx, const strata_eval_source *src, strata_family f,
                                    strata_xsort **xp, size_t budget, ev_sorted *s)
{
    strata_xsort *x = *xp;
    size_t got, k0 = 0, m = s->m;
    s->blk = clamp_rows(budget / 16 / 48, 1024, 8192);
    s->bbuf = strata_alloc(ctx, EV_NWIN * s->blk * sizeof *s->bbuf);
    s->brow = strata_alloc(ctx, s->blk * sizeof *s->brow);
    s->bkey = strata_alloc(ctx, s->blk * sizeof *s->bkey);
    s->lvl = strata_alloc(ctx, s->blk * sizeof *s->lvl);
    if (!s->bbuf || !s->brow || !s->bkey || !s->lvl)
        return STRATA_ENOMEM;
    STRATA_TRY(strata_scratch_open(ctx, NULL, "the sorted evaluation", &s->f));
    for (int c = 0; c < EV_NCOL; c++)
        s->off[c] = (uint64_t)c * m * sizeof(double);
    s->lvl_off = (uint64_t)EV_NCOL * m * sizeof(double);
    s->level_off = s->lvl_off + (uint64_t)m * sizeof *s->lvl;
    do {
        double *p = s->bbuf + s->blk, *lp = p + s->blk;
        STRATA_TRY(strata_xsort_read(ctx, x, s->bkey, s->brow, s->blk, &got));
        for (size_t i = 0; i < got; i++) {
            p[i] = strata_key_f64(s->bkey[i]);
            lp[i] = ev_link(f, p[i]);
        }
        for (int c = EV_COL_P; got && c <= EV_COL_LP; c++)
            STRATA_TRY(strata_scratch_write(ctx, s->f, s->off[c] + k0 * sizeof(double), s->bbuf + (size_t)c * s->blk,
                                            got * sizeof(double)));
        if (got)
            STRATA_TRY(strata_scratch_write(ctx, s->f, s->off[EV_COL_ROW] + k0 * sizeof(size_t), s->brow,
                                            got * sizeof(size_t)));
        k0 += got;
    } while (got);
    strata_xsort_free(ctx, x);
    *xp = NULL;
    STRATA_TRY(gather(ctx, s, src, STRATA_EVAL_COL_Y, NULL, s->off[EV_COL_Y]));
    if (s->weighted)
        STRATA_TRY(gather(ctx, s, src, STRATA_EVAL_COL_W, NULL, s->off[EV_COL_W]));
    for (int v = 0; v < 2; v++) {
        ev_file *wf = &s->win[v];
        wf->f = s->f;
        wf->weighted = s->weighted;
        wf->cap = clamp_rows(budget / 4 / 2 / (EV_NWIN * sizeof(double)), 1024, m ? m : 1);
        wf->buf = strata_alloc(ctx, EV_NWIN * wf->cap * sizeof *wf->buf);
        if (!wf->buf)
            return STRATA_ENOMEM;
        memcpy(wf->off, s->off, sizeof wf->off);
    }
    return STRATA_OK;
}

/* Rows with positive weight in ascending (p, row) order through the one
 * external sort (engine/core/xsort.h) of (key of p, row); each key becomes
 * its p again (the key is a bijection of p's bits, so p is the same bytes).
 * In memory 32 bytes a row while sorting, then row, p, y and lp (and w) at 8
 * bytes a row each — unless those exceed half the memory budget: then the
 * sort holds at most half the budget and the rows go to a scratch file.
 * p and w are read block by block (rb) where they are not arrays. */
static strata_status sort_rows(strata_ctx *ctx, const strata_eval_source *src, strata_family f, size_t m,
                               ev_rbuf *rb, ev_sorted *s)
{
    size_t n = src->in.n, budget = strata_ctx_memory_budget(ctx);
    size_t per_row = (has_w(src) ? 5 : 4) * sizeof(double) + (src->in.n_by ? sizeof(uint32_t) : 0);
    int on_file;
    strata_xsort *x = NULL;
    strata_status st;
    memset(s, 0, sizeof *s);
    s->m = m;
    s->weighted = has_w(src);
    on_file = budget && m > budget / 2 / per_row;
    st = strata_xsort_begin(ctx, m, NULL, 0, on_file ? budget / 2 : 0,
                            "evaluate: ranking the predicted values", &x);
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += rb->blk) {
        size_t nb = n - r0 < rb->blk ? n - r0 : rb->blk;
        const double *pb, *wb;
        st = pw_rows(ctx, src, rb, r0, nb, &pb, &wb);
        for (size_t k = 0; st == STRATA_OK && k < nb; k++)
            if (!wb || wb[k] > 0.0)
                st = strata_xsort_push(ctx, x, strata_f64_key(pb[k]), r0 + k);
    }
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    if (st == STRATA_OK) {
        rbuf_free(ctx, rb);
        if (on_file)
            strata_log(ctx, STRATA_LOG_INFO,
                       "evaluate: the %zu sorted rows need %zu MB, over half the memory budget of %zu MB: "
                       "they go through a scratch file",
                       m, (m * per_row) >> 20, budget >> 20);
        st = on_file ? sorted_to_file(ctx, src, f, &x, budget, s) : sorted_in_memory(ctx, src, f, &x, s);
        if (st == STRATA_OK)
            return STRATA_OK; /* the sort was freed once its stream was read */
    }
    strata_xsort_free(ctx, x);
    sorted_free(ctx, s);
    return st;
}

static void set_flags(const strata_eval_params *par, const strata_eval_metrics *all,
                      strata_eval_metrics *m)
{
    if ((double)m->n_rows < par->min_level_n || m->n_events < par->min_level_events) {
        m->flags |= STRATA_EVAL_FLAG_SMALL;
        return;
    }
    if (isfinite(m->oe_lo) && (all->oe < m->oe_lo || all->oe > m->oe_hi))
        m->flags |= STRATA_EVAL_FLAG_OE_DIFFERS;
    if (isfinite(m->slope_lo) && (all->slope < m->slope_lo || all->slope > m->slope_hi))
        m->flags |= STRATA_EVAL_FLAG_SLOPE_DIFFERS;
    if (isfinite(m->c_se) && (all->c < m->c_lo || all->c > m->c_hi))
        m->flags |= STRATA_EVAL_FLAG_C_DIFFERS;
}

/* The whole population as a view: its arrays, or its window on the file. */
static ev_view whole_view(ev_sorted *s)
{
    return s->f ? (ev_view){s->m, NULL, NULL, NULL, NULL, NULL, &s->win[0]}
                : (ev_view){s->m, NULL, s->y, s->p, s->lp, s->w, NULL};
}

/* Evaluates jobs[0..nj) (views) into out[] in parallel; each job is serial.
 * EIO when a view's window could not be read from the scratch file. */
static strata_status run_jobs(strata_ctx *ctx, const ev_sorted *s, const ev_view *views,
                              strata_eval_metrics **out, size_t nj, const strata_eval_params *par)
{
    long j;
#pragma omp parallel for schedule(dynamic, 1) num_threads(strata_threads(ctx))
    for (j = 0; j < (long)nj; j++)
        ev_metrics(&views[j], par, out[j]);
    for (int v = 0; s->f && v < 2; v++)
        if (s->win[v].err)
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: reading the scratch file of the sorted evaluation: %s",
                               strata_scratch_dir(s->f), strerror(s->win[v].err));
    return STRATA_OK;
}

/* Rows of the level copies a batch may hold: with a memory budget, an eighth
 * of it; without one, every row (each by-column is one batch, as it always
 * was). */
static size_t batch_cap(strata_ctx *ctx, size_t m, int weighted)
{
    size_t budget = strata_ctx_memory_budget(ctx), per_row = (weighted ? 4 : 3) * sizeof(double);
    size_t cap = budget ? budget / 8 / per_row : m;
    return cap ? cap : 1;
}

/* The level-contiguous copies of one batch (cap rows), and the positions of
 * a level too large for them (ix_cap). */
typedef struct ev_copies {
    size_t cap, ix_cap;
    double *y, *p, *lp, *w;
    size_t *ix;
} ev_copies;

static strata_status copies_reserve(strata_ctx *ctx, ev_copies *c, size_t rows, size_t ix_rows,
                                    int weighted)
{
    if (rows > c->cap) {
        STRATA_FREE_ALL(ctx, c->y, c->p, c->lp, c->w);
        c->y = strata_alloc(ctx, rows * sizeof *c->y);
        c->p = strata_alloc(ctx, rows * sizeof *c->p);
        c->lp = strata_alloc(ctx, rows * sizeof *c->lp);
        c->w = weighted ? strata_alloc(ctx, rows * sizeof *c->w) : NULL;
        c->cap = c->y && c->p && c->lp && (!weighted || c->w) ? rows : 0;
        if (!c->cap)
            return STRATA_ENOMEM;
    }
    if (ix_rows > c->ix_cap) {
        strata_free(ctx, c->ix, 0);
        c->ix = strata_alloc(ctx, ix_rows * sizeof *c->ix);
        c->ix_cap = c->ix ? ix_rows : 0;
        if (!c->ix)
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

/* Position k of block b to row at of the copies. */
static void copy_row(ev_copies *c, size_t at, const ev_block *b, size_t k)
{
    c->y[at] = b->y[k];
    c->p[at] = b->p[k];
    c->lp[at] = b->lp[k];
    if (c->w)
        c->w[at] = b->w[k];
}

/* The first fill rows of the copies to rows [done, done + fill) of the level region. */
static strata_status level_flush(strata_ctx *ctx, ev_sorted *s, const ev_copies *c, size_t done,
                                 size_t fill)
{
    const double *col[EV_NWIN] = {c->y, c->p, c->lp, c->w};
    for (int q = 0; fill && q < (c->w ? EV_NWIN : EV_COL_W); q++)
        STRATA_TRY(strata_scratch_write(ctx, s->f, s->win[1].off[q] + done * sizeof(double), col[q],
                                        fill * sizeof(double)));
    return STRATA_OK;
}

/* A level too large for the copies, when the rows are on file: its rows, in
 * (p, row) order, copied to the file's level region through the copies (a
 * buffer of c->cap rows), and its view a window on that region. */
static strata_status level_to_file(strata_ctx *ctx, ev_sorted *s, size_t lv, size_t cnt, ev_copies *c,
                                   ev_view *view)
{
    size_t fill = 0, done = 0;
    ev_block b;
    for (int q = 0; q < EV_NWIN; q++)
        s->win[1].off[q] = s->level_off + (uint64_t)q * cnt * sizeof(double);
    for (size_t k0 = 0; k0 < s->m; k0 += b.n) {
        STRATA_TRY(sorted_block(ctx, s, k0, EV_VALUES, &b));
        for (size_t k = 0; k < b.n; k++) {
            if (b.lvl[k] != lv)
                continue;
            copy_row(c, fill++, &b, k);
            if (fill < c->cap)
                continue;
            STRATA_TRY(level_flush(ctx, s, c, done, fill));
            done += fill;
            fill = 0;
        }
    }
    STRATA_TRY(level_flush(ctx, s, c, done, fill));
    *view = (ev_view){cnt, NULL, NULL, NULL, NULL, NULL, &s->win[1]};
    return STRATA_OK;
}

/* Evaluates levels [l0, l1) of by-column b (start[]: each level's first row
 * in the level order) after copying their rows, in (p, row) order, to the
 * front of c — or, for a single level larger than the copies, through the
 * positions of its rows in the sorted arrays (8 bytes a row instead of 24:
 * the same rows in the same order), or on file through a copy of its rows
 * in the file. The whole population joins the batch when overall is
 * non-NULL. Groups are appended to r in level order. */
static strata_status eval_batch(strata_ctx *ctx, ev_sorted *s, const strata_eval_by *by,
                                const size_t *start, size_t l0, size_t l1, ev_copies *c, size_t *cur,
                                strata_eval_metrics *overall, const strata_eval_params *par,
                                ev_view *views, strata_eval_metrics **targets, strata_eval_report *r)
{
    size_t nj = 0, g0 = r->n_groups, lv, k0;
    int alone = l1 == l0 + 1 && start[l1] - start[l0] > c->cap;
    ev_view level_file;
    ev_block b;
    if (overall) {
        views[nj] = whole_view(s);
        targets[nj++] = overall;
    }
    for (lv = l0; lv < l1; lv++)
        cur[lv] = start[lv] - start[l0];
    if (alone && s->f)
        STRATA_TRY(level_to_file(ctx, s, l0, start[l1] - start[l0], c, &level_file));
    for (k0 = 0; !(alone && s->f) && k0 < s->m; k0 += b.n) { /* sequential: keeps (p, row) order */
        STRATA_TRY(sorted_block(ctx, s, k0, EV_VALUES, &b));
        for (size_t k = 0; k < b.n; k++) {
            size_t l = b.lvl[k], at;
            if (l < l0 || l >= l1)
                continue;
            at = cur[l]++;
            if (alone)
                c->ix[at] = k0 + k;
            else
                copy_row(c, at, &b, k);
        }
    }
    for (lv = l0; lv < l1; lv++) {
        size_t cnt = start[lv + 1] - start[lv], off = start[lv] - start[l0];
        strata_eval_group *gr;
        if (lv == by->n_levels && cnt == 0)
            continue; /* no NA level when no code is missing */
        gr = &r->groups[r->n_groups++];
        gr->by = strata_strdup(ctx, by->name);
        gr->level = strata_strdup(ctx, lv < by->n_levels ? by->levels[lv] : "NA");
        if (!gr->by || !gr->level || ev_metrics_alloc(ctx, par, &gr->m) != STRATA_OK)
            return STRATA_ENOMEM;
        views[nj] = alone && s->f ? level_file
                    : alone       ? (ev_view){cnt, c->ix, s->y, s->p, s->lp, s->w, NULL}
                                  : (ev_view){cnt, NULL, c->y + off, c->p + off, c->lp + off,
                                              c->w ? c->w + off : NULL, NULL};
        targets[nj++] = &gr->m;
    }
    STRATA_TRY(run_jobs(ctx, s, views, targets, nj, par));
    for (size_t k = g0; k < r->n_groups; k++)
        set_flags(par, &r->overall, &r->groups[k].m);
    return STRATA_OK;
}

/* One by-column: the level of each sorted row (gather: its codes placed in
 * the sorted order, in memory or as the file's level column) and the rows of
 * each level (a pass over those levels), then its levels in batches of at
 * most cap rows (a larger level alone), each evaluated in turn. */
static strata_status eval_by(strata_ctx *ctx, ev_sorted *s, const strata_eval_source *src, size_t bi,
                             size_t *start, size_t *cur, ev_copies *c, size_t cap, strata_eval_metrics *overall,
                             const strata_eval_params *par, ev_view *views,
                             strata_eval_metrics **targets, strata_eval_report *r)
{
    const strata_eval_by *by = &src->in.by[bi];
    size_t L = by->n_levels + 1, lv, l0, big = 0;
    ev_block b;
    memset(start, 0, (L + 1) * sizeof *start);
    STRATA_TRY(gather(ctx, s, src, (int)bi, s->lvl, s->lvl_off));
    for (size_t k0 = 0; k0 < s->m; k0 += b.n) {
        STRATA_TRY(sorted_block(ctx, s, k0, EV_LEVELS, &b));
        for (size_t k = 0; k < b.n; k++)
            start[b.lvl[k] + 1]++;
    }
    for (lv = 0; lv < L; lv++) {
        big = start[lv + 1] > big ? start[lv + 1] : big;
        start[lv + 1] += start[lv];
    }
    if (cap > s->m)
        cap = s->m;
    STRATA_TRY(copies_reserve(ctx, c, cap ? cap : 1, !s->f && big > cap ? big : 0, s->weighted));
    for (l0 = 0; l0 < L;) {
        size_t l1 = l0 + 1;
        while (l1 < L && start[l1 + 1] - start[l0] <= cap)
            l1++;
        STRATA_TRY(eval_batch(ctx, s, by, start, l0, l1, c, cur, overall, par, views, targets, r));
        overall = NULL;
        l0 = l1;
    }
    return STRATA_OK;
}

strata_status strata_evaluate(strata_ctx *ctx, const strata_eval_input *in,
                              const strata_eval_params *par, strata_eval_report **out)
{
    strata_eval_source src;
    *out = NULL;
    if (!in)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: input arrays missing");
    src = (strata_eval_source){*in, in->w != NULL, NULL, NULL};
    return strata_evaluate_source(ctx, &src, par, out);
}

strata_status strata_evaluate_source(strata_ctx *ctx, const strata_eval_source *src,
                                     const strata_eval_params *par, strata_eval_report **out)
{
    strata_eval_report *r = NULL;
    ev_sorted s;
    ev_rbuf rb;
    ev_copies c = {0, 0, NULL, NULL, NULL, NULL, NULL}; /* copies of a batch's levels */
    size_t ng = 0, b, maxl = 0, *start = NULL, *cur = NULL, cap, m = 0, n = src ? src->in.n : 0;
    ev_view *views = NULL;
    strata_eval_metrics **targets = NULL;
    strata_status st = STRATA_OK;
    *out = NULL;
    memset(&s, 0, sizeof s);
    memset(&rb, 0, sizeof rb);
    if (!src)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: input arrays missing");
    STRATA_TRY(strata_eval_params_check(ctx, par));
    if ((st = rbuf_alloc(ctx, src, &rb)) != STRATA_OK || (st = check_input(ctx, src, par->family, &rb, &m)) != STRATA_OK ||
        (st = sort_rows(ctx, src, par->family, m, &rb, &s)) != STRATA_OK) {
        rbuf_free(ctx, &rb);
        if (st == STRATA_ENOMEM && strata_ctx_errcode(ctx) != STRATA_ENOMEM)
            goto nomem;
        return st;
    }
    for (b = 0; b < src->in.n_by; b++) {
        ng += src->in.by[b].n_levels + 1; /* + NA */
        if (src->in.by[b].n_levels + 2 > maxl)
            maxl = src->in.by[b].n_levels + 2;
    }
    cap = batch_cap(ctx, s.m, s.weighted);
    r = strata_calloc(ctx, 1, sizeof *r);
    views = strata_calloc(ctx, maxl + 1, sizeof *views);
    targets = strata_calloc(ctx, maxl + 1, sizeof *targets);
    start = strata_calloc(ctx, maxl + 1, sizeof *start);
    cur = strata_calloc(ctx, maxl + 1, sizeof *cur);
    if (!r || !views || !targets || !start || !cur)
        goto nomem;
    r->params = *par;
    if (ev_metrics_alloc(ctx, par, &r->overall) != STRATA_OK)
        goto nomem;
    r->groups = strata_calloc(ctx, ng ? ng : 1, sizeof *r->groups);
    if (!r->groups)
        goto nomem;
    /* the whole population joins the first batch of the first by-column */
    if (src->in.n_by == 0) {
        views[0] = whole_view(&s);
        targets[0] = &r->overall;
        st = run_jobs(ctx, &s, views, targets, 1, par);
    }
    for (b = 0; b < src->in.n_by && st == STRATA_OK; b++)
        st = eval_by(ctx, &s, src, b, start, cur, &c, cap, b == 0 ? &r->overall : NULL, par,
                     views, targets, r);
    if (st == STRATA_ENOMEM)
        goto nomem;
    if (st != STRATA_OK)
        goto done;
    *out = r;
    r = NULL;
    goto done;
nomem:
    st = STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu rows", n);
done:
    STRATA_FREE_ALL(ctx, views, targets, start, cur, c.y, c.p, c.lp, c.w, c.ix);
    sorted_free(ctx, &s);
    strata_eval_report_free(ctx, r); /* NULL on success: the report went to *out */
    return st;
}
