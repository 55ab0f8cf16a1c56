/* models/cox/cox_data.c — validates the Cox input and sorts it once by (stratum
 * ascending, time descending) with the stable radix sort, lays out the tied-time
 * groups and the fixed row blocks the passes run over, then streams X in, one
 * column at a time, into its sorted copy. Invariant: the layout depends only on
 * the input values and block_rows (ties keep input order); X is held once. */
#include "cox_internal.h"
#include "xsort.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *cox_colname(const cox_input *in, size_t j, char *buf, size_t size)
{
    if (in->names && in->names[j])
        return in->names[j];
    snprintf(buf, size, "x%zu", j + 1);
    return buf;
}

/* All events at one time leave one risk set: nothing orders the event times
 * (usually a time column that is not follow-up time). */
static strata_status one_event_time(strata_ctx *ctx, const cox_input *in, size_t events)
{
    double t0 = NAN;
    for (size_t i = 0; i < in->n; i++)
        if (in->status[i] == 1) {
            if (isnan(t0))
                t0 = in->time[i];
            else if (in->time[i] != t0)
                return STRATA_OK;
        }
    return STRATA_FAIL(ctx, STRATA_EDATA,
                       "cox: all %zu event%s at one time (%g): the partial likelihood compares no "
                       "event times; is the time column the follow-up time?",
                       events, events == 1 ? " is" : "s are", t0);
}

/* A column constant within every stratum cancels from the partial likelihood
 * (the stratum's baseline absorbs it): named, as coxph's NA would hide it. */
strata_status cox_constant_column(strata_ctx *ctx, const cox_input *in, const cox_data *d, size_t j)
{
    char buf[32];
    return STRATA_FAIL(ctx, STRATA_EDATA,
                       "cox: column '%s' is constant within every stratum%s: it cancels from "
                       "the partial likelihood and has no coefficient; drop the term",
                       cox_colname(in, j, buf, sizeof buf),
                       d->nstrata > 1 ? " (the strata's baselines absorb it)" : "");
}

static strata_status constant_columns(strata_ctx *ctx, const cox_input *in, const cox_data *d)
{
    for (size_t j = 0; j < d->p; j++) {
        const double *x = cox_xat(d, j, 0);
        int varies = 0;
        for (size_t i = 1; i < d->n && !varies; i++)
            varies = cox_stratum(d, i) == cox_stratum(d, i - 1) && x[i] != x[i - 1];
        if (!varies)
            return cox_constant_column(ctx, in, d, j);
    }
    return STRATA_OK;
}

/* Every value a fit needs, named by row (1-based, input order) and column. */
static strata_status validate(strata_ctx *ctx, const cox_input *in)
{
    size_t events = 0;
    if (in->n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "cox: no rows to fit");
    for (size_t i = 0; i < in->n; i++) {
        double t = in->time[i], e = in->status[i];
        if (!(t >= 0) || !isfinite(t))
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: time %g is %s", i + 1, t,
                               isnan(t) ? "missing" : t < 0 ? "negative" : "not finite");
        if (e != 0 && e != 1)
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: event %g is not 0 or 1", i + 1, e);
        if (in->weight && !(in->weight[i] > 0 && isfinite(in->weight[i])))
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: weight %g is not a positive number",
                               i + 1, in->weight[i]);
        if (in->offset && !isfinite(in->offset[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: offset %g is not finite", i + 1,
                               in->offset[i]);
        if (in->cluster && !isfinite(in->cluster[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: cluster %g is missing", i + 1,
                               in->cluster[i]);
        if (in->stratum && in->stratum[i] < 0)
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: stratum code %d is missing", i + 1,
                               (int)in->stratum[i]);
        events += e == 1;
    }
    if (events == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "cox: no events (every status is 0) in %zu rows", in->n);
    return one_event_time(ctx, in, events);
}

/* order: stable sort by time descending, then stably by stratum ascending. */
static strata_status sort_rows(strata_ctx *ctx, const cox_input *in, size_t *order)
{
    size_t n = in->n;
    uint64_t *key = strata_alloc(ctx, n * sizeof *key), *k2 = strata_alloc(ctx, n * sizeof *k2);
    size_t *r2 = strata_alloc(ctx, n * sizeof *r2);
    if (!key || !k2 || !r2) {
        strata_free(ctx, key, 0);
        strata_free(ctx, k2, 0);
        strata_free(ctx, r2, 0);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        key[i] = ~strata_f64_key(in->time[i]);
        order[i] = i;
    }
    strata_radix_sort(n, key, order, k2, r2);
    if (in->stratum) {
        for (size_t i = 0; i < n; i++)
            key[i] = (uint64_t)(uint32_t)in->stratum[order[i]];
        strata_radix_sort(n, key, order, k2, r2);
    }
    strata_free(ctx, key, 0);
    strata_free(ctx, k2, 0);
    strata_free(ctx, r2, 0);
    return STRATA_OK;
}

/* Sorted row i is input row o: its status, weight, stratum and offset. */
static void gather_row(const cox_input *in, cox_data *d, size_t i, size_t o)
{
    d->status[i] = in->status[o] == 1;
    if (d->w)
        d->w[i] = in->weight[o];
    if (d->stratum)
        d->stratum[i] = in->stratum[o];
    if (d->off)
        d->off[i] = in->offset[o];
}

/* Copies the row vectors in sorted order (time into the caller's scratch). */
static void gather(const cox_input *in, cox_data *d, double *time)
{
    for (size_t i = 0; i < in->n; i++) {
        time[i] = in->time[d->order[i]];
        gather_row(in, d, i, d->order[i]);
    }
}

/* X column by column: read in input order into tmp, checked, scattered to the
 * sorted copy; then the events' sum of w x (fixed over iterations). */
static strata_status gather_x(strata_ctx *ctx, const cox_input *in, cox_col_fn col, void *ud,
                              cox_data *d, double *tmp)
{
    char buf[32];
    for (size_t j = 0; j < d->p; j++) {
        double *y = cox_xat(d, j, 0), s = 0;
        STRATA_TRY(col(ctx, ud, j, tmp));
        for (size_t i = 0; i < d->n; i++)
            if (!isfinite(tmp[i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: column '%s' value %g is not finite",
                                   i + 1, cox_colname(in, j, buf, sizeof buf), tmp[i]);
        /* the sort scatters the rows: fetch ahead, two threads' loads in flight */
#pragma omp parallel for num_threads(strata_threads(ctx)) schedule(static)
        for (long il = 0; il < (long)d->n; il++) {
            size_t i = (size_t)il;
            if (i + 16 < d->n)
                __builtin_prefetch(tmp + d->order[i + 16]);
            y[i] = tmp[d->order[i]];
        }
        for (size_t i = 0; i < d->n; i++)
            if (d->status[i] == 1)
                s += cox_w(d, i) * y[i];
        d->xd[j] = s;
    }
    return STRATA_OK;
}

/* Sorted row i (time t; tp the time of row i - 1) into the groups: a new one
 * where the stratum or the time changes; its events counted. *g: the group. */
static void group_row(cox_data *d, size_t i, double t, double tp, size_t *g)
{
    int opens = i == 0 || cox_stratum(d, i) != cox_stratum(d, i - 1);
    if (opens || t != tp) {
        if (i > 0)
            d->gend[(*g)++] = i;
        d->gtime[*g] = t;
        d->gnew[*g] = (unsigned char)opens;
        d->gm[*g] = d->gdw[*g] = 0;
        d->nstrata += (size_t)opens;
    }
    if (d->status[i] == 1) {
        d->gm[*g] += 1;
        d->gdw[*g] += cox_w(d, i);
    }
}

/* Once every row is grouped (g: the last group): blocks and the event sums
 * that stay fixed over iterations. */
static void layout_blocks(cox_data *d, size_t g)
{
    size_t n = d->n;
    d->gend[g++] = n;
    d->ng = g;
    /* blocks: a group belongs to the block holding its last row */
    g = 0;
    for (size_t b = 0; b < d->nblocks; b++) {
        size_t r0 = b * d->nb, r1 = r0 + d->nb < n ? r0 + d->nb : n;
        while (d->gend[g] <= r0)
            g++;
        d->bgroup[b] = g;
        d->blast[b] = SIZE_MAX;
        for (size_t i = r0; i < r1; i++)
            if (i == 0 || cox_stratum(d, i) != cox_stratum(d, i - 1))
                d->blast[b] = i;
    }
    d->bgroup[d->nblocks] = d->ng;
    for (size_t i = 0; i < n; i++)
        if (d->status[i] == 1) {
            d->n_events++;
            d->w_events += cox_w(d, i);
            if (d->off)
                d->wd_off += cox_w(d, i) * d->off[i];
        }
}

/* Tied groups, blocks, and the event sums that stay fixed over iterations. */
static void layout(cox_data *d, const double *time)
{
    size_t g = 0;
    for (size_t i = 0; i < d->n; i++)
        group_row(d, i, time[i], i ? time[i - 1] : 0, &g);
    layout_blocks(d, g);
}

void cox_data_free(strata_ctx *ctx, cox_data *d)
{
    if (!d)
        return;
    strata_free(ctx, d->X, 0);
    strata_free(ctx, d->status, 0);
    strata_free(ctx, d->w, 0);
    strata_free(ctx, d->off, 0);
    strata_free(ctx, d->stratum, 0);
    strata_free(ctx, d->order, 0);
    strata_free(ctx, d->gend, 0);
    strata_free(ctx, d->gtime, 0);
    strata_free(ctx, d->gm, 0);
    strata_free(ctx, d->gdw, 0);
    strata_free(ctx, d->gnew, 0);
    strata_free(ctx, d->bgroup, 0);
    strata_free(ctx, d->blast, 0);
    strata_free(ctx, d->xd, 0);
    strata_free(ctx, d->rb, 0);
    cox_xstream_free(d);
    strata_free(ctx, d, sizeof *d);
}

/* Tied groups of the sorted rows: maximal runs of equal (stratum, time). */
static size_t count_groups(const cox_data *d, const double *time)
{
    size_t g = 0;
    for (size_t i = 0; i < d->n; i++)
        g += i == 0 || cox_stratum(d, i) != cox_stratum(d, i - 1) || time[i] != time[i - 1];
    return g;
}

/* The group arrays, once their number is known (after the sort's scratch is gone). */
static strata_status alloc_groups(strata_ctx *ctx, cox_data *d, size_t ng)
{
    d->gend = strata_alloc(ctx, ng * sizeof *d->gend);
    d->gtime = strata_alloc(ctx, ng * sizeof *d->gtime);
    d->gm = strata_alloc(ctx, ng * sizeof *d->gm);
    d->gdw = strata_alloc(ctx, ng * sizeof *d->gdw);
    d->gnew = strata_alloc(ctx, ng);
    return d->gend && d->gtime && d->gm && d->gdw && d->gnew ? STRATA_OK : STRATA_ENOMEM;
}

/* The sorted vectors' arrays (as the input has them), the row order and the blocks'. */
static strata_status alloc_rows(strata_ctx *ctx, const cox_input *in, cox_data *d)
{
    size_t n = in->n;
    d->status = strata_alloc(ctx, n * sizeof *d->status);
    d->w = in->weight ? strata_alloc(ctx, n * sizeof *d->w) : NULL;
    d->off = in->offset ? strata_alloc(ctx, n * sizeof *d->off) : NULL;
    d->stratum = in->stratum ? strata_alloc(ctx, n * sizeof *d->stratum) : NULL;
    d->order = strata_alloc(ctx, n * sizeof *d->order);
    d->bgroup = strata_alloc(ctx, (d->nblocks + 1) * sizeof *d->bgroup);
    d->blast = strata_alloc(ctx, d->nblocks * sizeof *d->blast);
    d->xd = strata_calloc(ctx, d->p + 1, sizeof *d->xd);
    return d->status && (!in->weight || d->w) && (!in->offset || d->off) && (!in->stratum || d->stratum) &&
                   d->order && d->bgroup && d->blast && d->xd
               ? STRATA_OK
               : STRATA_ENOMEM;
}

/* An empty layout of in's rows in blocks of block_rows (one process: every block). */
static cox_data *data_new(strata_ctx *ctx, const cox_input *in, size_t block_rows)
{
    cox_data *d = strata_calloc(ctx, 1, sizeof *d);
    if (!d)
        return NULL;
    d->n = in->n;
    d->p = in->p;
    d->nb = block_rows;
    d->nblocks = (in->n + block_rows - 1) / block_rows;
    d->bhi = d->nblocks;
    d->x1 = d->ldx = in->n;
    return d;
}

/* Everything but X: row vectors sorted, groups and blocks laid out (the row
 * times only while grouping; the groups allocated after the sort, ng of them). */
static strata_status build_rows(strata_ctx *ctx, const cox_input *in, cox_data *d)
{
    size_t n = in->n;
    double *time = strata_alloc(ctx, n * sizeof *time);
    strata_status st;
    st = !time || alloc_rows(ctx, in, d) != STRATA_OK ? STRATA_ENOMEM : sort_rows(ctx, in, d->order);
    if (st == STRATA_OK) {
        gather(in, d, time);
        st = alloc_groups(ctx, d, count_groups(d, time));
    }
    if (st == STRATA_OK)
        layout(d, time);
    strata_free(ctx, time, 0);
    return st;
}

strata_status cox_data_build_rows(strata_ctx *ctx, const cox_input *in, size_t block_rows,
                                  cox_data **out)
{
    cox_data *d;
    strata_status st;
    *out = NULL;
    STRATA_TRY(validate(ctx, in));
    if (!(d = data_new(ctx, in, block_rows)))
        return STRATA_ENOMEM;
    if ((st = build_rows(ctx, in, d)) != STRATA_OK) {
        cox_data_free(ctx, d);
        return st;
    }
    *out = d;
    return STRATA_OK;
}

/* ---- the sort through the external sort (a memory budget: cox_stream.c) ---- */

#define XBATCH 4096 /* records a read of the sorted stream */

/* The time of a sort key (~strata_f64_key(time)): the bits of the time. */
static double key_time(uint64_t k)
{
    return strata_key_f64(~k);
}

/* Every record of the sorted stream, in order, to fn (row i of the sorted rows:
 * key, input row). */
typedef void (*rec_fn)(cox_data *d, const cox_input *in, size_t i, uint64_t key, size_t row, void *acc);

static strata_status each_record(strata_ctx *ctx, strata_xsort *x, cox_data *d, const cox_input *in, rec_fn fn,
                                 void *acc, uint64_t *key, size_t *row)
{
    size_t got, i = 0;
    STRATA_TRY(strata_xsort_rewind(ctx, x));
    while (1) {
        STRATA_TRY(strata_xsort_read(ctx, x, key, row, XBATCH, &got));
        if (got == 0)
            return STRATA_OK;
        for (size_t k = 0; k < got; k++, i++)
            fn(d, in, i, key[k], row[k], acc);
    }
}

/* The walk over the sorted stream: a count (groups, or the group being made)
 * and the time of the last row. */
typedef struct walk {
    size_t g;
    double tp;
} walk;

/* Pass 1: the row order (its inverse) and the sorted vectors (gather's), and the groups counted. */
static void sorted_row(cox_data *d, const cox_input *in, size_t i, uint64_t key, size_t o, void *accv)
{
    walk *a = accv;
    double t = key_time(key);
    d->order[o] = i; /* the inverse, as the design's write wants it (d->order_inv) */
    gather_row(in, d, i, o);
    a->g += i == 0 || cox_stratum(d, i) != cox_stratum(d, i - 1) || t != a->tp;
    a->tp = t;
}

/* Pass 2: the groups laid out (layout's, the times from the keys). */
static void grouped_row(cox_data *d, const cox_input *in, size_t i, uint64_t key, size_t o, void *accv)
{
    walk *a = accv;
    double t = key_time(key);
    (void)in;
    (void)o;
    group_row(d, i, t, a->tp, &a->g);
    a->tp = t;
}

/* build_rows with the sort through the external sort in mem bytes (0: no
 * limit): (stratum, time descending, input row) is the order of the stable
 * radix sorts, so every array is build_rows's. */
static strata_status build_rows_x(strata_ctx *ctx, const cox_input *in, cox_data *d, size_t mem, void **drop[],
                                  size_t ndrop)
{
    size_t n = in->n, nmaj = 0;
    uint64_t *key = strata_alloc(ctx, XBATCH * sizeof *key);
    size_t *row = strata_alloc(ctx, XBATCH * sizeof *row);
    strata_xsort *x = NULL;
    walk ca = {0, 0}, ga = {0, 0};
    strata_status st;
    st = !key || !row || alloc_rows(ctx, in, d) != STRATA_OK ? STRATA_ENOMEM : STRATA_OK;
    for (size_t i = 0; in->stratum && i < n; i++)
        nmaj = (size_t)in->stratum[i] + 1 > nmaj ? (size_t)in->stratum[i] + 1 : nmaj;
    if (st == STRATA_OK)
        st = strata_xsort_begin(ctx, n, in->stratum, nmaj, mem, "the Cox fit's times", &x);
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        st = strata_xsort_push(ctx, x, ~strata_f64_key(in->time[i]), i);
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    d->order_inv = 1;
    if (st == STRATA_OK)
        st = each_record(ctx, x, d, in, sorted_row, &ca, key, row);
    /* the input's vectors are in the sorted ones (the times in the keys): freed
     * before the groups are made */
    for (size_t k = 0; st == STRATA_OK && k < ndrop; k++) {
        strata_free(ctx, *drop[k], 0);
        *drop[k] = NULL;
    }
    if (st == STRATA_OK)
        st = alloc_groups(ctx, d, ca.g);
    if (st == STRATA_OK)
        st = each_record(ctx, x, d, in, grouped_row, &ga, key, row);
    if (st == STRATA_OK)
        layout_blocks(d, ga.g);
    strata_xsort_free(ctx, x);
    strata_free(ctx, key, 0);
    strata_free(ctx, row, 0);
    return st;
}

strata_status cox_data_build_rows_x(strata_ctx *ctx, const cox_input *in, size_t block_rows, size_t mem,
                                    void **drop[], size_t ndrop, cox_data **out)
{
    cox_data *d;
    strata_status st;
    *out = NULL;
    STRATA_TRY(validate(ctx, in));
    if (!(d = data_new(ctx, in, block_rows)))
        return STRATA_ENOMEM;
    if ((st = build_rows_x(ctx, in, d, mem, drop, ndrop)) != STRATA_OK) {
        cox_data_free(ctx, d);
        return st;
    }
    *out = d;
    return STRATA_OK;
}

strata_status cox_data_build_cols(strata_ctx *ctx, const cox_input *in, cox_col_fn col, void *ud,
                                  size_t block_rows, size_t x_ld, cox_data **out)
{
    size_t n = in->n, p = in->p, nx;
    cox_data *d;
    double *tmp = NULL;
    strata_status st;
    *out = NULL;
    x_ld = x_ld ? x_ld : n;
    if (x_ld < n || !strata_mul_ok(x_ld, p, &nx) || !strata_mul_ok(nx, sizeof(double), &nx))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "cox: %zu x %zu design overflows", x_ld, p);
    STRATA_TRY(cox_data_build_rows(ctx, in, block_rows, &d));
    d->ldx = x_ld;
    /* X after the sort's scratch is gone: the peak holds X once, plus one column */
    st = !(d->X = strata_alloc(ctx, nx)) || !(tmp = strata_alloc(ctx, n * sizeof *tmp)) ? STRATA_ENOMEM : STRATA_OK;
    if (st == STRATA_OK)
        st = gather_x(ctx, in, col, ud, d, tmp);
    strata_free(ctx, tmp, 0);
    if (!in->cluster) { /* only the robust pass with clusters maps rows back */
        strata_free(ctx, d->order, 0);
        d->order = NULL;
    }
    if (st == STRATA_OK)
        st = constant_columns(ctx, in, d);
    if (st != STRATA_OK) {
        cox_data_free(ctx, d);
        return st;
    }
    *out = d;
    return STRATA_OK;
}
