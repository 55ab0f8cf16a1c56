/* models/cox/cox_data.c — validates the Cox input and sorts it once by (stratum
 * ascending, time descending) with the stable radix sort, then lays out the
 * tied-time groups and the fixed row blocks the passes run over. Invariant: the
 * layout depends only on the input values and block_rows (ties keep input order). */
#include "cox_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *colname(const cox_input *in, size_t j, char *buf, size_t size)
{
    if (in->names && in->names[j])
        return in->names[j];
    snprintf(buf, size, "x%zu", j + 1);
    return buf;
}

/* Every value a fit needs, named by row (1-based, input order) and column. */
static strata_status validate(strata_ctx *ctx, const cox_input *in)
{
    size_t events = 0;
    char buf[32];
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
        if (in->stratum && in->stratum[i] < 0)
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: stratum code %d is missing", i + 1,
                               (int)in->stratum[i]);
        events += e == 1;
    }
    for (size_t j = 0; j < in->p; j++)
        for (size_t i = 0; i < in->n; i++)
            if (!isfinite(in->X[j * in->n + i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: column '%s' value %g is not finite",
                                   i + 1, colname(in, j, buf, sizeof buf), in->X[j * in->n + i]);
    if (events == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "cox: no events (every status is 0) in %zu rows", in->n);
    return STRATA_OK;
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

/* Copies every column in sorted order. */
static void gather(const cox_input *in, cox_data *d)
{
    size_t n = in->n;
    for (size_t i = 0; i < n; i++) {
        size_t o = d->order[i];
        d->time[i] = in->time[o];
        d->status[i] = in->status[o];
        d->w[i] = in->weight ? in->weight[o] : 1.0;
        d->stratum[i] = in->stratum ? in->stratum[o] : 0;
        if (d->off)
            d->off[i] = in->offset[o];
    }
    for (size_t j = 0; j < in->p; j++) {
        const double *x = in->X + j * n;
        double *y = d->X + j * n;
        for (size_t i = 0; i < n; i++)
            y[i] = x[d->order[i]];
    }
}

/* Tied groups, blocks, and the event sums that stay fixed over iterations. */
static void layout(cox_data *d)
{
    size_t n = d->n, g = 0;
    for (size_t i = 0; i < n; i++) {
        int opens = i == 0 || d->stratum[i] != d->stratum[i - 1];
        if (opens || d->time[i] != d->time[i - 1]) {
            if (i > 0)
                d->gend[g++] = i;
            d->gnew[g] = (unsigned char)opens;
            d->gm[g] = d->gdw[g] = 0;
            d->nstrata += (size_t)opens;
        }
        if (d->status[i] == 1) {
            d->gm[g] += 1;
            d->gdw[g] += d->w[i];
        }
    }
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
            if (i == 0 || d->stratum[i] != d->stratum[i - 1])
                d->blast[b] = i;
    }
    d->bgroup[d->nblocks] = d->ng;
    for (size_t j = 0; j < d->p; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            if (d->status[i] == 1)
                s += d->w[i] * d->X[j * n + i];
        d->xd[j] = s;
    }
    for (size_t i = 0; i < n; i++)
        if (d->status[i] == 1) {
            d->n_events++;
            d->w_events += d->w[i];
            if (d->off)
                d->wd_off += d->w[i] * d->off[i];
        }
}

void cox_data_free(strata_ctx *ctx, cox_data *d)
{
    if (!d)
        return;
    strata_free(ctx, d->X, 0);
    strata_free(ctx, d->time, 0);
    strata_free(ctx, d->status, 0);
    strata_free(ctx, d->w, 0);
    strata_free(ctx, d->off, 0);
    strata_free(ctx, d->stratum, 0);
    strata_free(ctx, d->order, 0);
    strata_free(ctx, d->gend, 0);
    strata_free(ctx, d->gm, 0);
    strata_free(ctx, d->gdw, 0);
    strata_free(ctx, d->gnew, 0);
    strata_free(ctx, d->bgroup, 0);
    strata_free(ctx, d->blast, 0);
    strata_free(ctx, d->xd, 0);
    strata_free(ctx, d, sizeof *d);
}

strata_status cox_data_build(strata_ctx *ctx, const cox_input *in, size_t block_rows,
                             cox_data **out)
{
    size_t n = in->n, p = in->p, np;
    cox_data *d;
    strata_status st;
    *out = NULL;
    STRATA_TRY(validate(ctx, in));
    if (!strata_mul_ok(n, p + 1, &np))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "cox: %zu x %zu design overflows", n, p);
    d = strata_calloc(ctx, 1, sizeof *d);
    if (!d)
        return STRATA_ENOMEM;
    d->n = n;
    d->p = p;
    d->nb = block_rows;
    d->nblocks = (n + block_rows - 1) / block_rows;
    d->X = strata_alloc(ctx, (p ? n * p : 1) * sizeof *d->X);
    d->time = strata_alloc(ctx, n * sizeof *d->time);
    d->status = strata_alloc(ctx, n * sizeof *d->status);
    d->w = strata_alloc(ctx, n * sizeof *d->w);
    d->off = in->offset ? strata_alloc(ctx, n * sizeof *d->off) : NULL;
    d->stratum = strata_alloc(ctx, n * sizeof *d->stratum);
    d->order = strata_alloc(ctx, n * sizeof *d->order);
    d->gend = strata_alloc(ctx, n * sizeof *d->gend);
    d->gm = strata_alloc(ctx, n * sizeof *d->gm);
    d->gdw = strata_alloc(ctx, n * sizeof *d->gdw);
    d->gnew = strata_alloc(ctx, n);
    d->bgroup = strata_alloc(ctx, (d->nblocks + 1) * sizeof *d->bgroup);
    d->blast = strata_alloc(ctx, d->nblocks * sizeof *d->blast);
    d->xd = strata_calloc(ctx, p + 1, sizeof *d->xd);
    if (!d->X || !d->time || !d->status || !d->w || (in->offset && !d->off) || !d->stratum ||
        !d->order || !d->gend || !d->gm || !d->gdw || !d->gnew || !d->bgroup ||
        !d->blast || !d->xd) {
        cox_data_free(ctx, d);
        return STRATA_ENOMEM;
    }
    st = sort_rows(ctx, in, d->order);
    if (st != STRATA_OK) {
        cox_data_free(ctx, d);
        return st;
    }
    gather(in, d);
    layout(d);
    *out = d;
    return STRATA_OK;
}
