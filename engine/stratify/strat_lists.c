/* engine/stratify/strat_lists.c — targeted intervention lists: per group, the highest
 * risk patients within a capacity (N per group or per 1,000 list size),
 * optionally guaranteeing the most deprived quintile (IMD deciles 1-2) at
 * least its share of the group's need (proportionate universalism).
 * Invariant: ranking is (risk descending, row ascending), so lists are
 * reproducible byte for byte, whatever the threads or the memory budget (the
 * ranking streams past once, twice with proportionate universalism). */
#include "internal.h"
#include "strat_internal.h"
#include "xsort.h"
#include "strata/stratify.h"

#include <math.h>
#include <string.h>

void strata_list_params_init(strata_list_params *p)
{
    p->per_group = 0;
    p->per_1000 = 10.0;
    p->prop_univ = 0;
    p->skip_nan = 0;
}

strata_status strata_list_params_check(strata_ctx *ctx, const strata_list_params *p)
{
    if (p->per_group == 0 && !(p->per_1000 > 0 && p->per_1000 <= 1000))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "intervention list: per_1000 %g outside (0, 1000] and no per_group",
                           p->per_1000);
    return STRATA_OK;
}

static int deprived(const int32_t *imd, size_t row)
{
    return imd && strata_core20(imd[row]);
}

/* Per group: the need of everyone and of the deprived quintile, summed in
 * rank order, and how many are deprived (one pass over the ranking). */
typedef struct list_need {
    double *all, *dep;
    size_t *n_dep;
} list_need;

static strata_status need_pass(strata_ctx *ctx, strat_ranking *rk, const double *risk,
                               const double *need, const int32_t *group, const int32_t *imd,
                               list_need *q)
{
    strata_status st;
    for (;;) {
        const size_t *rows;
        size_t got;
        if ((st = strat_rank_next(ctx, rk, &rows, &got)) != STRATA_OK || got == 0)
            break;
        for (size_t k = 0; k < got; k++) {
            size_t i = rows[k], g = group ? (size_t)group[i] : 0;
            double w = need ? need[i] : risk[i];
            q->all[g] += w;
            if (deprived(imd, i))
                q->dep[g] += w, q->n_dep[g]++;
        }
    }
    return st == STRATA_OK ? strat_rank_rewind(ctx, rk) : st;
}

/* One group's places as its ranked rows stream past: the first need_q1
 * deprived rows, then the first cap - (places they took) of the others. */
typedef struct list_walk {
    size_t g, cap, need_q1, first, dseen, taken, rank;
} list_walk;

static void list_group(const strata_list_params *p, size_t m, size_t g, const list_need *q,
                       list_walk *w)
{
    memset(w, 0, sizeof *w);
    w->g = g;
    w->cap = p->per_group ? p->per_group : (size_t)floor(p->per_1000 * (double)m / 1000.0 + 0.5);
    if (w->cap > m)
        w->cap = m;
    if (p->prop_univ) {
        /* the deprived quintile's share of need sets its minimum number of places */
        w->need_q1 = q->all[g] > 0 ? (size_t)ceil((double)w->cap * q->dep[g] / q->all[g] - 1e-9) : 0;
        w->first = w->need_q1 < q->n_dep[g] ? w->need_q1 : q->n_dep[g];
    }
}

strata_status strata_intervention_select(strata_ctx *ctx, const strata_list_params *p, size_t n,
                                         const double *risk, const double *need,
                                         const int32_t *group, size_t n_groups,
                                         const int32_t *imd_decile, size_t *rows,
                                         uint32_t *rank, size_t *n_sel)
{
    strat_ranking rk;
    list_need q = {NULL, NULL, NULL};
    list_walk w;
    size_t out = 0;
    strata_status st = STRATA_OK;
    STRATA_TRY(strata_list_params_check(ctx, p));
    if (p->prop_univ && !imd_decile)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "intervention list: proportionate universalism needs imd_decile");
    STRATA_TRY(strat_rank_open(ctx, n, risk, group, n_groups, p->skip_nan, &rk));
    if (p->prop_univ) {
        q.all = strata_calloc(ctx, rk.n_groups, sizeof *q.all);
        q.dep = strata_calloc(ctx, rk.n_groups, sizeof *q.dep);
        q.n_dep = strata_calloc(ctx, rk.n_groups, sizeof *q.n_dep);
        st = q.all && q.dep && q.n_dep ? need_pass(ctx, &rk, risk, need, group, imd_decile, &q)
                                       : STRATA_ENOMEM;
    }
    w.g = SIZE_MAX;
    while (st == STRATA_OK) {
        const size_t *rr;
        size_t got;
        if ((st = strat_rank_next(ctx, &rk, &rr, &got)) != STRATA_OK || got == 0)
            break;
        for (size_t k = 0; k < got; k++) {
            size_t i = rr[k], g = group ? (size_t)group[i] : 0;
            int take = 0;
            if (g != w.g)
                list_group(p, rk.size[g], g, &q, &w);
            if (p->prop_univ && deprived(imd_decile, i) && w.dseen++ < w.need_q1)
                take = 1; /* among the deprived quintile's minimum */
            else if (w.taken + w.first < w.cap)
                take = 1, w.taken++;
            if (take) {
                rows[out] = i;
                rank[out++] = (uint32_t)++w.rank;
            }
        }
    }
    *n_sel = out;
    STRATA_FREE_ALL(ctx, q.all, q.dep, q.n_dep);
    strat_rank_close(ctx, &rk);
    return st;
}
