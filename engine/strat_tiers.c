/* engine/strat_tiers.c — risk tiers (Kaiser-style pyramid by percentile or
 * absolute thresholds) and the shared ranking (group, risk descending, row
 * ascending) used by tiers and intervention lists. Invariant: ties in risk
 * are always broken by row, so tiers never depend on sort stability or
 * thread count. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void strata_tier_params_init(strata_tier_params *p)
{
    memset(p, 0, sizeof *p);
    p->mode = STRATA_TIER_PERCENTILE;
    p->n_cuts = 3;
    p->cut[0] = 0.005;
    p->cut[1] = 0.045;
    p->cut[2] = 0.15;
}

strata_status strata_tier_params_check(strata_ctx *ctx, const strata_tier_params *p)
{
    double sum = 0;
    if (p->mode != STRATA_TIER_PERCENTILE && p->mode != STRATA_TIER_ABSOLUTE)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: mode %d unknown", (int)p->mode);
    if (p->n_cuts < 1 || p->n_cuts > STRATA_MAX_TIERS - 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: %zu cuts, need 1..%d", p->n_cuts,
                           STRATA_MAX_TIERS - 1);
    for (size_t t = 0; t < p->n_cuts; t++) {
        if (p->mode == STRATA_TIER_PERCENTILE) {
            if (!(p->cut[t] > 0 && p->cut[t] < 1))
                return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: fraction %zu = %g outside (0, 1)",
                                   t + 1, p->cut[t]);
            sum += p->cut[t];
        } else if (!isfinite(p->cut[t]) || (t > 0 && !(p->cut[t] < p->cut[t - 1]))) {
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "tiers: threshold %zu = %g not finite and strictly descending",
                               t + 1, p->cut[t]);
        }
    }
    if (p->mode == STRATA_TIER_PERCENTILE && !(sum < 1.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "tiers: fractions sum to %g, must be < 1", sum);
    return STRATA_OK;
}

static int cmp_rank(const void *a, const void *b)
{
    const strat_rank *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->risk != y->risk)
        return x->risk > y->risk ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

strata_status strat_rank_rows(strata_ctx *ctx, size_t n, const double *risk, const int32_t *group,
                              size_t n_groups, strat_rank **out)
{
    strat_rank *r;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(risk[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite", i + 1,
                               risk[i]);
        if (group && (group[i] < 0 || (size_t)group[i] >= n_groups))
            return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", i + 1,
                               (int)group[i], n_groups ? n_groups - 1 : 0);
    }
    r = strata_calloc(ctx, n ? n : 1, sizeof *r);
    if (!r)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        r[i].risk = risk[i];
        r[i].group = group ? group[i] : 0;
        r[i].row = i;
    }
    qsort(r, n, sizeof *r, cmp_rank);
    *out = r;
    return STRATA_OK;
}

strata_status strata_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n,
                           const double *risk, const int32_t *group, size_t n_groups,
                           uint8_t *tier)
{
    strat_rank *r;
    STRATA_TRY(strata_tier_params_check(ctx, p));
    if (p->mode == STRATA_TIER_ABSOLUTE) {
        for (size_t i = 0; i < n; i++) {
            size_t t = 0;
            if (!isfinite(risk[i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite",
                                   i + 1, risk[i]);
            while (t < p->n_cuts && risk[i] < p->cut[t])
                t++;
            tier[i] = (uint8_t)(t + 1);
        }
        return STRATA_OK;
    }
    STRATA_TRY(strat_rank_rows(ctx, n, risk, group, n_groups, &r));
    for (size_t s = 0; s < n;) {
        size_t e = s, m, cum[STRATA_MAX_TIERS];
        double f = 0;
        while (e < n && r[e].group == r[s].group)
            e++;
        m = e - s;
        /* the top t tiers hold round_half_up(m * (f_1 + ... + f_t)) people */
        for (size_t t = 0; t < p->n_cuts; t++) {
            f += p->cut[t];
            cum[t] = (size_t)floor((double)m * f + 0.5);
        }
        for (size_t j = 0; j < m; j++) {
            size_t t = 0;
            while (t < p->n_cuts && j >= cum[t])
                t++;
            tier[r[s + j].row] = (uint8_t)(t + 1);
        }
        s = e;
    }
    strata_free(ctx, r, n * sizeof *r);
    return STRATA_OK;
}

strata_status strata_reason_codes(strata_ctx *ctx, const strata_reason_model *m, size_t n_rows,
                                  const size_t *rows, size_t k, int32_t *term, double *contrib)
{
    double *x;
    if (!m->X && !m->row_fn)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "reason codes: neither a design nor a row callback");
    if (k == 0 || m->p == 0)
        return STRATA_OK;
    x = strata_calloc(ctx, m->p, sizeof *x);
    if (!x)
        return STRATA_ENOMEM;
    for (size_t r = 0; r < n_rows; r++) {
        size_t row = rows ? rows[r] : r;
        int32_t *tt = term + r * k;
        double *cc = contrib + r * k;
        if (m->X) {
            memcpy(x, m->X + row * m->p, m->p * sizeof *x);
        } else {
            strata_status s = m->row_fn(m->ud, row, x);
            if (s != STRATA_OK) {
                strata_free(ctx, x, m->p * sizeof *x);
                return s;
            }
        }
        for (size_t q = 0; q < k; q++)
            tt[q] = -1, cc[q] = 0;
        /* insertion into the top-k list: larger contribution first, then lower j */
        for (size_t j = 0; j < m->p; j++) {
            double c = m->beta[j] * (x[j] - m->xbar[j]);
            size_t q;
            if (!(c > 0))
                continue;
            for (q = 0; q < k && tt[q] >= 0 && cc[q] >= c; q++)
                ;
            if (q == k)
                continue;
            memmove(tt + q + 1, tt + q, (k - q - 1) * sizeof *tt);
            memmove(cc + q + 1, cc + q, (k - q - 1) * sizeof *cc);
            tt[q] = (int32_t)j;
            cc[q] = c;
        }
    }
    strata_free(ctx, x, m->p * sizeof *x);
    return STRATA_OK;
}
