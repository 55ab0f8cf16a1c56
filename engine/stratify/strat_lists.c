/* engine/stratify/strat_lists.c — targeted intervention lists: per group, the highest
 * risk patients within a capacity (N per group or per 1,000 list size),
 * optionally guaranteeing the most deprived quintile (IMD deciles 1-2) at
 * least its share of the group's need (proportionate universalism).
 * Invariant: ranking is (risk descending, row ascending), so lists are
 * reproducible byte for byte. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <string.h>

void strata_list_params_init(strata_list_params *p)
{
    p->per_group = 0;
    p->per_1000 = 10.0;
    p->prop_univ = 0;
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

strata_status strata_intervention_select(strata_ctx *ctx, const strata_list_params *p, size_t n,
                                         const double *risk, const double *need,
                                         const int32_t *group, size_t n_groups,
                                         const int32_t *imd_decile, size_t *rows,
                                         uint32_t *rank, size_t *n_sel)
{
    strat_rank *r;
    uint8_t *sel;
    size_t out = 0;
    STRATA_TRY(strata_list_params_check(ctx, p));
    if (p->prop_univ && !imd_decile)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "intervention list: proportionate universalism needs imd_decile");
    STRATA_TRY(strat_rank_rows(ctx, n, risk, group, n_groups, &r));
    sel = strata_calloc(ctx, n ? n : 1, 1);
    if (!sel) {
        strata_free(ctx, r, 0);
        return STRATA_ENOMEM;
    }
    for (size_t s = 0; s < n;) {
        size_t e = s, m, cap, taken = 0;
        while (e < n && r[e].group == r[s].group)
            e++;
        m = e - s;
        cap = p->per_group ? p->per_group : (size_t)floor(p->per_1000 * (double)m / 1000.0 + 0.5);
        if (cap > m)
            cap = m;
        if (p->prop_univ) {
            /* the deprived quintile's share of need sets its minimum number of places */
            double nd = 0, nt = 0;
            size_t need_q1;
            for (size_t j = s; j < e; j++) {
                double w = need ? need[r[j].row] : r[j].risk;
                nt += w;
                if (deprived(imd_decile, r[j].row))
                    nd += w;
            }
            need_q1 = nt > 0 ? (size_t)ceil((double)cap * nd / nt - 1e-9) : 0;
            for (size_t j = s; j < e && taken < need_q1; j++)
                if (deprived(imd_decile, r[j].row))
                    sel[j] = 1, taken++;
        }
        for (size_t j = s; j < e && taken < cap; j++)
            if (!sel[j])
                sel[j] = 1, taken++;
        for (size_t j = s, k = 0; j < e; j++)
            if (sel[j]) {
                rows[out] = r[j].row;
                rank[out++] = (uint32_t)++k;
            }
        s = e;
    }
    *n_sel = out;
    strata_free(ctx, sel, n ? n : 1);
    strata_free(ctx, r, 0);
    return STRATA_OK;
}
