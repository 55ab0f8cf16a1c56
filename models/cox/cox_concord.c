/* models/cox/cox_concord.c — Harrell's C of the linear predictor within strata,
 * case-weighted, as survival::concordance counts it: a pair is comparable when
 * one has the event strictly before the other's time (a censoring at the event's
 * time counts as later); concordant when the earlier one has the larger lp; lp
 * ties count one half; tied event times are not comparable. O(n log n) with a
 * Fenwick tree over lp ranks (engine/core/fenwick.c; Harrell et al. 1982).
 * Invariant: one sequential pass in sorted order, so the sums do not depend on
 * threads. */
#include "cox_internal.h"
#include "xsort.h"

#include <string.h>

strata_status cox_dense_ranks(strata_ctx *ctx, size_t n, const double *lp, size_t *rank,
                              size_t *nr)
{
    uint64_t *key = strata_alloc(ctx, n * sizeof *key), *k2 = strata_alloc(ctx, n * sizeof *k2);
    size_t *row = strata_alloc(ctx, n * sizeof *row), *r2 = strata_alloc(ctx, n * sizeof *r2);
    strata_status st = STRATA_OK;
    if (!key || !k2 || !row || !r2) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        key[i] = strata_f64_key(lp[i]);
        row[i] = i;
    }
    strata_radix_sort(n, key, row, k2, r2);
    *nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || key[i] != key[i - 1])
            (*nr)++;
        rank[row[i]] = *nr;
    }
done:
    strata_free(ctx, key, 0);
    strata_free(ctx, k2, 0);
    strata_free(ctx, row, 0);
    strata_free(ctx, r2, 0);
    return st;
}

/* Counts one group's events against everyone at risk after its censorings. */
static void count_group(const cox_data *d, const size_t *rank, const double *tree,
                        const double *atr, double tot, size_t gs, size_t ge, double *cnt)
{
    for (size_t i = gs; i < ge; i++) {
        double less, eq;
        if (d->status[i] != 1)
            continue;
        less = strata_fenwick_sum(tree, rank[i] - 1);
        eq = atr[rank[i]];
        cnt[0] += cox_w(d, i) * less;
        cnt[1] += cox_w(d, i) * (tot - less - eq);
        cnt[2] += cox_w(d, i) * eq;
    }
}

/* Harrell's C from the dense ranks (nr of them) of the linear predictor, which it
 * frees: the two Fenwick trees, one sequential pass over the groups. */
static strata_status count_ranks(strata_ctx *ctx, const cox_data *d, size_t *rank, size_t nr, cox_result *res)
{
    size_t n = d->n;
    double *tree = NULL, *atr = NULL, tot = 0;
    strata_status st = STRATA_OK;
    if (!(tree = strata_calloc(ctx, n + 1, sizeof *tree)) || !(atr = strata_calloc(ctx, n + 1, sizeof *atr)))
        st = STRATA_ENOMEM;
    memset(res->conc_count, 0, sizeof res->conc_count);
    for (size_t g = 0, s0 = 0; st == STRATA_OK && g < d->ng; g++) {
        size_t gs = g ? d->gend[g - 1] : 0, ge = d->gend[g];
        if (d->gnew[g]) { /* a new stratum: empty the tree of the last one's rows */
            for (size_t i = s0; i < gs; i++) {
                strata_fenwick_clear(tree, nr, rank[i]);
                atr[rank[i]] = 0;
            }
            s0 = gs;
            tot = 0;
        }
        for (size_t i = gs; i < ge; i++) /* censorings at this time are still at risk */
            if (d->status[i] != 1) {
                strata_fenwick_add(tree, nr, rank[i], cox_w(d, i));
                atr[rank[i]] += cox_w(d, i);
                tot += cox_w(d, i);
            }
        count_group(d, rank, tree, atr, tot, gs, ge, res->conc_count);
        for (size_t i = gs; i < ge; i++)
            if (d->status[i] == 1) {
                strata_fenwick_add(tree, nr, rank[i], cox_w(d, i));
                atr[rank[i]] += cox_w(d, i);
                tot += cox_w(d, i);
            }
    }
    if (st == STRATA_OK) {
        const double *c = res->conc_count;
        res->concordance = (c[0] + c[2] / 2) / (c[0] + c[1] + c[2]);
    }
    strata_free(ctx, rank, 0);
    strata_free(ctx, tree, 0);
    strata_free(ctx, atr, 0);
    return st;
}

strata_status cox_concordance(strata_ctx *ctx, const cox_data *d, const double *lp,
                              cox_result *res)
{
    size_t n = d->n, nr = 0, *rank = strata_alloc(ctx, n * sizeof *rank);
    /* the ranks' sort scratch is freed before the trees are made: 40 bytes a row at the peak, not 56 */
    strata_status st = rank ? cox_dense_ranks(ctx, n, lp, rank, &nr) : STRATA_ENOMEM;
    if (st != STRATA_OK) {
        strata_free(ctx, rank, 0);
        return st;
    }
    return count_ranks(ctx, d, rank, nr, res);
}

#define XBATCH 4096 /* records a read of the sorted linear predictor */

strata_status cox_concordance_x(strata_ctx *ctx, const cox_data *d, double **lp, size_t mem, cox_result *res)
{
    size_t n = d->n, nr = 0, got, *rank = NULL, *row = strata_alloc(ctx, XBATCH * sizeof *row);
    uint64_t *key = strata_alloc(ctx, XBATCH * sizeof *key), last = 0;
    strata_xsort *x = NULL;
    strata_status st = key && row ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = strata_xsort_begin(ctx, n, NULL, 0, mem, "the Cox fit's linear predictor", &x);
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        st = strata_xsort_push(ctx, x, strata_f64_key((*lp)[i]), i);
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    if (st == STRATA_OK) { /* the predictor is in the keys: its n doubles go before the ranks come */
        strata_free(ctx, *lp, 0);
        *lp = NULL;
        if (!(rank = strata_alloc(ctx, (n + 1) * sizeof *rank)))
            st = STRATA_ENOMEM;
    }
    /* in (key, row) order: a rank a distinct key, as cox_dense_ranks gives them */
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, key, row, XBATCH, &got)) == STRATA_OK && got)
        for (size_t k = 0; k < got; k++) {
            if (nr == 0 || key[k] != last)
                nr++;
            last = key[k];
            rank[row[k]] = nr;
        }
    strata_xsort_free(ctx, x);
    strata_free(ctx, key, 0);
    strata_free(ctx, row, 0);
    if (st != STRATA_OK) {
        strata_free(ctx, rank, 0);
        return st;
    }
    return count_ranks(ctx, d, rank, nr, res);
}
