/* engine/evaluate/evaluate_fairness.c — the subgroup fairness table that
 * `strata run` publishes (fairness.csv), built and protected by the same rules
 * as `strata evaluate`'s own outputs (ev_protect_row, ev_add_oe): one part per
 * by-column so each partition of the population is its own relation, disclosed
 * by the caller together with its other tables, then protected and stacked. */
#include "evaluate_internal.h"

#include "strata/stratify.h"

#include <math.h>
#include <string.h>

/* ---- derived subgroups: the one rule of evaluate --by and a run's evaluate.by ---- */

static const char *const age_band_names[] = {"0-17", "18-39", "40-64", "65-74", "75-84", "85+"};
static const int age_band_lo[] = {0, 18, 40, 65, 75, 85};
static const char *const quintile_names[] = {"1 (most deprived)", "2", "3", "4",
                                             "5 (least deprived)"};
static const char *const core20_names[] = {"other", "Core20"};

size_t strata_eval_derived(const char *name, strata_role *source, const char *const **levels)
{
    int age = !strcmp(name, "age_band"), quint = !strcmp(name, "imd_quintile");
    if (!age && !quint && strcmp(name, "core20") != 0)
        return 0;
    *source = age ? STRATA_ROLE_AGE : STRATA_ROLE_IMD_DECILE;
    *levels = age ? age_band_names : quint ? quintile_names : core20_names;
    return age ? 6 : quint ? 5 : 2;
}

static int32_t derived_code(int age, int quint, int32_t v)
{
    int32_t b = -1;
    if (age) {
        for (int k = 0; k < 6 && v >= 0 && v <= 120; k++)
            if (v >= age_band_lo[k])
                b = k;
        return b;
    }
    if (v < 1 || v > 10) /* also STRATA_NA_INT32 */
        return -1;
    return quint ? (v - 1) / 2 : strata_core20(v);
}

void strata_eval_derived_codes(const char *name, const int32_t *src, size_t n, int32_t *codes)
{
    int age = !strcmp(name, "age_band"), quint = !strcmp(name, "imd_quintile");
    for (size_t i = 0; i < n; i++)
        codes[i] = src ? derived_code(age, quint, src[i]) : -1;
}

/* Rows of part k: the overall population, then by-column k's levels. */
static void part_range(const strata_eval_report *r, size_t k, size_t *g0, size_t *g1)
{
    size_t g = 0, seen = 0;
    *g0 = *g1 = 0;
    while (g < r->n_groups) {
        size_t e = g;
        while (e < r->n_groups && !strcmp(r->groups[e].by, r->groups[g].by))
            e++;
        if (seen++ == k) {
            *g0 = g, *g1 = e;
            return;
        }
        g = e;
    }
}

static size_t n_parts(const strata_eval_report *r)
{
    size_t n = 0;
    for (size_t g = 0; g < r->n_groups; g++)
        n += g == 0 || strcmp(r->groups[g].by, r->groups[g - 1].by) != 0;
    return n ? n : 1;
}

static strata_status part_cols(strata_ctx *ctx, strata_table *t, const strata_eval_params *par,
                               int *col)
{
    strata_family f = par->family;
    int count = !ev_measure_outcome(f), j;
    STRATA_TRY(strata_table_add(ctx, t, "subgroup", STRATA_COL_KEY, 0, -1, -1, &col[0]));
    STRATA_TRY(strata_table_add(ctx, t, "level", STRATA_COL_KEY, 0, -1, -1, &col[1]));
    STRATA_TRY(strata_table_add(ctx, t, "n", STRATA_COL_COUNT, 0, -1, -1, &col[2]));
    STRATA_TRY(strata_table_add(ctx, t, "events", STRATA_COL_COUNT, 0, -1, -1, &col[3]));
    /* a count outcome's O and E are totals; a cost's are sums over people, not rounded */
    STRATA_TRY(strata_table_add(ctx, t, "observed", count ? STRATA_COL_COUNT : STRATA_COL_MEAN,
                                count ? 0 : 2, count ? -1 : col[2], -1, &col[4]));
    STRATA_TRY(strata_table_add(ctx, t, "expected", count ? STRATA_COL_TOTAL : STRATA_COL_MEAN,
                                count ? 1 : 2, col[2], count ? col[4] : -1, &col[5]));
    STRATA_TRY(strata_table_add(ctx, t, "c_statistic", STRATA_COL_RATIO, 3, -1, -1, &col[6]));
    STRATA_TRY(strata_table_add(ctx, t, "c_lo", STRATA_COL_RATIO, 3, -1, -1, &col[7]));
    STRATA_TRY(strata_table_add(ctx, t, "c_hi", STRATA_COL_RATIO, 3, -1, -1, &col[8]));
    if (count) {
        STRATA_TRY(ev_add_oe(ctx, t, f, "oe", "observed", par->conf_level, 3));
        STRATA_TRY(ev_add_oe(ctx, t, f, "oe_lo", "observed", par->conf_level, 3));
        STRATA_TRY(ev_add_oe(ctx, t, f, "oe_hi", "observed", par->conf_level, 3));
        col[9] = col[10] = col[11] = -1;
    } else {
        STRATA_TRY(strata_table_add(ctx, t, "oe", STRATA_COL_RATIO, 3, -1, -1, &col[9]));
        STRATA_TRY(strata_table_add(ctx, t, "oe_lo", STRATA_COL_RATIO, 3, -1, -1, &col[10]));
        STRATA_TRY(strata_table_add(ctx, t, "oe_hi", STRATA_COL_RATIO, 3, -1, -1, &col[11]));
    }
    STRATA_TRY(strata_table_add(ctx, t, "calibration_slope", STRATA_COL_RATIO, 3, -1, -1, &col[12]));
    STRATA_TRY(strata_table_add(ctx, t, "flags", STRATA_COL_FLAG, 0, -1, -1, &j));
    col[13] = j;
    return STRATA_OK;
}

static strata_status part_row(strata_ctx *ctx, strata_table *t, const int *col, size_t row,
                              const char *by, const char *level, const strata_eval_metrics *m)
{
    const double v[14] = {0, 0, m->n, m->n_events, m->observed, m->expected, m->c, m->c_lo,
                          m->c_hi, m->oe, m->oe_lo, m->oe_hi, m->slope, (double)m->flags};
    STRATA_TRY(strata_table_set_key(ctx, t, col[0], row, by));
    STRATA_TRY(strata_table_set_key(ctx, t, col[1], row, level));
    for (int k = 2; k < 14; k++)
        if (col[k] >= 0)
            STRATA_TRY(strata_table_set(ctx, t, col[k], row, isfinite(v[k]) ? v[k] : NAN));
    return STRATA_OK;
}

strata_status strata_eval_fairness_parts(strata_ctx *ctx, const strata_eval_report *r,
                                         size_t *np, strata_table ***parts)
{
    size_t n = n_parts(r);
    strata_table **p = strata_calloc(ctx, n, sizeof *p);
    strata_status st = p ? STRATA_OK : STRATA_ENOMEM;
    *np = 0;
    *parts = NULL;
    for (size_t k = 0; st == STRATA_OK && k < n; k++) {
        size_t g0, g1;
        int col[14];
        part_range(r, k, &g0, &g1);
        st = strata_table_new(ctx, "fairness", 1 + g1 - g0, &p[k]);
        if (st == STRATA_OK)
            st = part_cols(ctx, p[k], &r->params, col);
        if (st == STRATA_OK)
            st = part_row(ctx, p[k], col, 0, "all", "all", &r->overall);
        for (size_t g = g0; st == STRATA_OK && g < g1; g++) {
            st = part_row(ctx, p[k], col, 1 + g - g0, r->groups[g].by, r->groups[g].level,
                          &r->groups[g].m);
            if (st == STRATA_OK)
                st = strata_table_set_total_row(ctx, p[k], 1 + g - g0, 0);
        }
    }
    if (st != STRATA_OK) {
        for (size_t k = 0; p && k < n; k++)
            strata_table_free(ctx, p[k]);
        strata_free(ctx, p, 0);
        return st;
    }
    *np = n;
    *parts = p;
    return STRATA_OK;
}

strata_status strata_eval_fairness_publish(strata_ctx *ctx, const strata_eval_report *r,
                                           size_t np, strata_table **parts, strata_table **out)
{
    static const char *const cols[] = {"subgroup", "level", "n", "events", "observed",
                                       "expected", "c_statistic", "c_lo", "c_hi", "oe",
                                       "oe_lo", "oe_hi", "calibration_slope", "flags"};
    strata_sdc_params sp;
    size_t *first;
    strata_status st;
    ev_sdc_params(&r->params, &sp);
    if (np && strata_table_disclosed(parts[0]))
        STRATA_TRY(strata_table_rules(ctx, parts[0], &sp));
    for (size_t k = 0; k < np; k++) {
        size_t g0, g1;
        if (!strata_table_disclosed(parts[k]))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "fairness: part %zu is not published yet", k + 1);
        part_range(r, k, &g0, &g1);
        ev_protect_row(parts[k], 0, &sp, r->overall.n, r->overall.n_events);
        for (size_t g = g0; g < g1; g++)
            ev_protect_row(parts[k], 1 + g - g0, &sp, r->groups[g].m.n, r->groups[g].m.n_events);
    }
    first = strata_calloc(ctx, np + 1, sizeof *first);
    if (!first)
        return STRATA_ENOMEM;
    for (size_t k = 1; k < np; k++)
        first[k] = 1; /* the overall row once */
    st = strata_table_stack(ctx, "fairness", np, (const strata_table *const *)parts, first, cols,
                            sizeof cols / sizeof *cols, out);
    strata_free(ctx, first, 0);
    return st;
}
