/* engine/stratify/strat_groups.c — per-group aggregation (PCN, practice or ICB): list
 * size, age-sex profile, tiers, segments, expected/observed events, O/E with
 * exact Poisson CI and funnel flags, need-weighted population, fair shares,
 * Core20 high-risk share, inequality breakdowns and SII/RII. One sequential
 * pass in row order, so sums are identical whatever the thread count. The
 * tables come out undisclosed: callers run strata_disclose before writing. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_AGE 6
static const int age_lo[N_AGE] = {0, 18, 40, 65, 75, 85};
static const char *const age_name[N_AGE] = {"0_17", "18_39", "40_64", "65_74", "75_84", "85plus"};

void strata_group_params_init(strata_group_params *p)
{
    p->level = 0.95;
    strata_funnel_params_init(&p->funnel);
    p->budget = 0;
    strata_sii_params_init(&p->sii);
}

static int age_band(int age)
{
    int b = -1;
    for (int k = 0; k < N_AGE && age >= 0; k++)
        if (age >= age_lo[k])
            b = k;
    return age > 120 ? -1 : b;
}

/* Per-cell sums: people, expected (sum risk), observed, need, sum risk^2. */
typedef struct cell {
    double n, e, o, w, e2;
} cell;

static void add(cell *c, const strata_strat_input *in, size_t i, double need)
{
    c->n += 1;
    c->e += in->risk[i];
    c->e2 += in->risk[i] * in->risk[i];
    c->o += in->observed ? in->observed[i] : 0;
    c->w += need;
}

static strata_status check_input(strata_ctx *ctx, const strata_strat_input *in,
                                 const int32_t *group, size_t n_groups)
{
    for (size_t i = 0; i < in->n; i++) {
        if (!isfinite(in->risk[i]) || in->risk[i] < 0)
            return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not >= 0", i + 1,
                               in->risk[i]);
        if (group[i] < 0 || (size_t)group[i] >= n_groups)
            return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", i + 1,
                               (int)group[i], n_groups ? n_groups - 1 : 0);
        if (in->tier && (in->tier[i] < 1 || in->tier[i] > in->n_tiers))
            return STRATA_FAIL(ctx, STRATA_EDATA, "tier: row %zu: value %d outside 1..%zu", i + 1,
                               (int)in->tier[i], in->n_tiers);
        if (in->segment && in->segment[i] >= STRATA_N_SEGMENTS)
            return STRATA_FAIL(ctx, STRATA_EDATA, "segment: row %zu: value %d unknown", i + 1,
                               (int)in->segment[i]);
        if (in->need && !(in->need[i] >= 0 && isfinite(in->need[i])))
            return STRATA_FAIL(ctx, STRATA_EDATA, "need: row %zu: value %g is not >= 0", i + 1,
                               in->need[i]);
        if (in->observed && !(in->observed[i] >= 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "observed: row %zu: value %g is not >= 0",
                               i + 1, in->observed[i]);
    }
    return STRATA_OK;
}

/* Adds a column with its row-partition membership (part_of, grp). */
static strata_status put(strata_ctx *ctx, strata_table *t, const char *name, strata_col_kind k,
                         int dec, int base, int den, int part_of, int grp, int *jo)
{
    int j;
    STRATA_TRY(strata_table_add(ctx, t, name, k, dec, base, den, &j));
    t->cols[j].part_of = part_of;
    t->cols[j].part_grp = grp;
    if (jo)
        *jo = j;
    return STRATA_OK;
}

/* Hands the table out on success, frees it on failure. */
static strata_status finish(strata_ctx *ctx, strata_status s, strata_table *t, strata_table **out)
{
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    *out = t;
    return STRATA_OK;
}

static strata_status new_group_table(strata_ctx *ctx, const char *name, size_t n_groups,
                                     const char *const *group_names, strata_table **out)
{
    strata_table *t;
    int j;
    strata_status s;
    STRATA_TRY(strata_table_new(ctx, name, n_groups + 1, &t));
    s = strata_table_add(ctx, t, "group", STRATA_COL_KEY, 0, -1, -1, &j);
    for (size_t g = 0; s == STRATA_OK && g <= n_groups; g++) {
        s = strata_table_set_key(ctx, t, j, g, g < n_groups ? group_names[g] : "ALL");
        if (g < n_groups)
            t->total_of[g] = (int32_t)n_groups;
    }
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    *out = t;
    return STRATA_OK;
}

/* Columns n_<sfx>, mean_risk<sfx>, expected<sfx>, n_observed<sfx>, oe<sfx> + CI
 * from cells c[g * stride] (g = 0..G, G = ALL). */
static strata_status put_cells(strata_ctx *ctx, const strata_group_params *p, strata_table *t,
                               const strata_strat_input *in, const cell *c, size_t stride,
                               const char *sfx, int part_of, int grp, int *jn_out)
{
    char nm[5][128];
    int jn, jm, je, jo = -1, jr[3];
    const size_t G1 = t->n_rows;
    snprintf(nm[0], sizeof nm[0], "n%s", sfx);
    snprintf(nm[1], sizeof nm[1], "mean_risk%s", sfx);
    snprintf(nm[2], sizeof nm[2], "expected%s", sfx);
    snprintf(nm[3], sizeof nm[3], "n_observed%s", sfx);
    STRATA_TRY(put(ctx, t, nm[0], STRATA_COL_COUNT, 0, -1, -1, part_of, grp, &jn));
    STRATA_TRY(put(ctx, t, nm[1], STRATA_COL_MEAN, 4, jn, -1, -1, 0, &jm));
    STRATA_TRY(put(ctx, t, nm[2], STRATA_COL_MEAN, 1, jn, -1, -1, 0, &je));
    if (in->observed) {
        STRATA_TRY(put(ctx, t, nm[3], STRATA_COL_COUNT, 0, -1, -1, -1, 0, &jo));
        for (int k = 0; k < 3; k++) {
            static const char *const r[3] = {"oe", "oe_lo", "oe_hi"};
            snprintf(nm[4], sizeof nm[4], "%s%s", r[k], sfx);
            STRATA_TRY(put(ctx, t, nm[4], STRATA_COL_RATIO, 3, -1, -1, -1, 0, &jr[k]));
        }
    }
    for (size_t g = 0; g < G1; g++) {
        const cell *x = &c[g * stride];
        t->cols[jn].v[g] = x->n;
        t->cols[jm].v[g] = x->n > 0 ? x->e / x->n : NAN;
        t->cols[je].v[g] = x->e;
        if (jo >= 0) {
            t->cols[jo].v[g] = x->o;
            if (x->e > 0)
                STRATA_TRY(strata_oe_ci(ctx, x->o, x->e, p->level, &t->cols[jr[0]].v[g],
                                        &t->cols[jr[1]].v[g], &t->cols[jr[2]].v[g]));
        }
    }
    if (jn_out)
        *jn_out = jn;
    return STRATA_OK;
}

static strata_status summary_fill(strata_ctx *ctx, const strata_group_params *p,
                                  const strata_strat_input *in, const int32_t *group, size_t G,
                                  cell *tot, double *cnt, size_t nc, strata_funnel *funnel,
                                  strata_table *t)
{
    const size_t K = in->tier ? in->n_tiers : 0, S = in->segment ? STRATA_N_SEGMENTS : 0;
    const size_t o_as = 0, o_t = 2 * N_AGE + 1, o_s = o_t + K, o_c = o_s + S;
    double wsum = 0, *obs = NULL, *ex = NULL;
    char nm[128];
    int jn, j, jf = -1, jhr, jhc;
    (void)nc;
    for (size_t i = 0; i < in->n; i++) {
        size_t g = (size_t)group[i];
        double w = in->need ? in->need[i] : in->risk[i];
        int b = age_band(in->age ? in->age[i] : -1), sx = in->sex ? in->sex[i] : -1;
        size_t as = (b >= 0 && (sx == 0 || sx == 1)) ? (size_t)(sx * N_AGE + b) : 2 * N_AGE;
        int hr = in->tier && in->tier[i] <= 2, c20 = in->imd_decile && strata_core20(in->imd_decile[i]);
        for (int k = 0; k < 2; k++, g = G) {
            double *r = cnt + g * nc;
            add(&tot[g], in, i, w);
            r[o_as + as] += 1;
            if (K)
                r[o_t + in->tier[i] - 1] += 1;
            if (S)
                r[o_s + in->segment[i]] += 1;
            r[o_c] += c20;
            r[o_c + 1] += hr;
            r[o_c + 2] += hr && c20;
        }
        wsum += w;
    }
    STRATA_TRY(put_cells(ctx, p, t, in, tot, 1, "_list", -1, 0, &jn));
    for (size_t k = 0; k <= 2 * N_AGE; k++) {
        if (k < 2 * N_AGE)
            snprintf(nm, sizeof nm, "n_%s_%s", k < N_AGE ? "F" : "M", age_name[k % N_AGE]);
        else
            snprintf(nm, sizeof nm, "n_agesex_unknown");
        STRATA_TRY(put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, jn, 0, &j));
        for (size_t g = 0; g <= G; g++)
            t->cols[j].v[g] = cnt[g * nc + o_as + k];
    }
    for (size_t k = 0; k < K + S; k++) {
        int jp;
        if (k < K)
            snprintf(nm, sizeof nm, "n_tier%zu", k + 1);
        else
            snprintf(nm, sizeof nm, "n_seg_%s", strata_segment_name((int)(k - K)));
        STRATA_TRY(put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, jn, k < K ? 1 : 2, &j));
        memmove(nm + 3, nm + 1, strlen(nm + 1) + 1);
        memcpy(nm, "pct", 3);
        STRATA_TRY(put(ctx, t, nm, STRATA_COL_PCT, 1, j, jn, -1, 0, &jp));
        for (size_t g = 0; g <= G; g++) {
            t->cols[j].v[g] = cnt[g * nc + o_t + k];
            t->cols[jp].v[g] = tot[g].n > 0 ? 100.0 * t->cols[j].v[g] / tot[g].n : NAN;
        }
    }
    /* funnel flags across the G groups */
    if (in->observed) {
        obs = strata_calloc(ctx, 2 * (G ? G : 1), sizeof *obs);
        if (!obs)
            return STRATA_ENOMEM;
        ex = obs + G;
        for (size_t g = 0; g < G; g++)
            obs[g] = tot[g].o, ex[g] = tot[g].e;
        {
            strata_status s = strata_funnel_fit(ctx, &p->funnel, G, obs, ex, funnel);
            strata_free(ctx, obs, 0);
            STRATA_TRY(s);
        }
        STRATA_TRY(put(ctx, t, "funnel_flag", STRATA_COL_FLAG, 0, -1, -1, -1, 0, &jf));
        for (size_t g = 0; g < G; g++)
            t->cols[jf].v[g] = strata_funnel_flag(funnel, tot[g].o, tot[g].e);
    }
    /* need: weighted population scaled to the total list size; index vs total */
    STRATA_TRY(put(ctx, t, "need_weighted_pop", STRATA_COL_MEAN, 1, jn, -1, -1, 0, &j));
    {
        int ji, jb = -1;
        STRATA_TRY(put(ctx, t, "need_index", STRATA_COL_MEAN, 3, jn, -1, -1, 0, &ji));
        if (p->budget > 0)
            STRATA_TRY(put(ctx, t, "fair_share", STRATA_COL_MEAN, 0, jn, -1, -1, 0, &jb));
        for (size_t g = 0; g <= G; g++) {
            double nw = wsum > 0 ? tot[g].w * (double)in->n / wsum : NAN;
            t->cols[j].v[g] = nw;
            t->cols[ji].v[g] = tot[g].n > 0 ? nw / tot[g].n : NAN;
            if (jb >= 0)
                t->cols[jb].v[g] = in->n ? p->budget * nw / (double)in->n : NAN;
        }
    }
    STRATA_TRY(put(ctx, t, "n_core20", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &j));
    STRATA_TRY(put(ctx, t, "n_high_risk", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &jhr));
    STRATA_TRY(put(ctx, t, "n_high_risk_core20", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &jhc));
    STRATA_TRY(put(ctx, t, "pct_high_risk_core20", STRATA_COL_PCT, 1, jhc, jhr, -1, 0, NULL));
    for (size_t g = 0; g <= G; g++) {
        t->cols[j].v[g] = cnt[g * nc + o_c];
        t->cols[jhr].v[g] = cnt[g * nc + o_c + 1];
        t->cols[jhc].v[g] = cnt[g * nc + o_c + 2];
        t->cols[jhc + 1].v[g] = cnt[g * nc + o_c + 1] > 0
                                    ? 100.0 * cnt[g * nc + o_c + 2] / cnt[g * nc + o_c + 1]
                                    : NAN;
    }
    return STRATA_OK;
}

strata_status strata_group_summary(strata_ctx *ctx, const strata_group_params *p,
                                   const strata_strat_input *in, const int32_t *group,
                                   size_t n_groups, const char *const *group_names,
                                   strata_funnel *funnel_out, strata_table **out)
{
    const size_t nc = 2 * N_AGE + 1 + (in->tier ? in->n_tiers : 0) + STRATA_N_SEGMENTS + 3;
    strata_funnel fdummy;
    strata_table *t = NULL;
    cell *tot;
    double *cnt;
    strata_status s;
    *out = NULL;
    if (funnel_out)
        memset(funnel_out, 0, sizeof *funnel_out); /* no outcomes: Poisson limits, tau2 = 0 */
    STRATA_TRY(check_input(ctx, in, group, n_groups));
    STRATA_TRY(new_group_table(ctx, "summary", n_groups, group_names, &t));
    tot = strata_calloc(ctx, n_groups + 1, sizeof *tot);
    cnt = strata_calloc(ctx, (n_groups + 1) * nc, sizeof *cnt);
    if (!tot || !cnt)
        s = STRATA_ENOMEM;
    else
        s = summary_fill(ctx, p, in, group, n_groups, tot, cnt, nc,
                         funnel_out ? funnel_out : &fdummy, t);
    strata_free(ctx, tot, 0);
    strata_free(ctx, cnt, 0);
    return finish(ctx, s, t, out);
}

strata_status strata_group_inequality(strata_ctx *ctx, const strata_group_params *p,
                                      const strata_strat_input *in, const int32_t *group,
                                      size_t n_groups, const char *const *group_names,
                                      strata_table **out)
{
    const size_t E = in->ethnicity ? in->n_ethnicity : 0, nc = 1 + 6 + E + 1;
    strata_table *t = NULL;
    cell *c;
    strata_status s = STRATA_OK;
    int jn = -1;
    *out = NULL;
    STRATA_TRY(check_input(ctx, in, group, n_groups));
    STRATA_TRY(new_group_table(ctx, "inequality", n_groups, group_names, &t));
    c = strata_calloc(ctx, (n_groups + 1) * nc, sizeof *c);
    if (!c) {
        strata_table_free(ctx, t);
        return STRATA_ENOMEM;
    }
    /* cell 0 = all; 1..5 IMD quintiles (1 most deprived), 6 unknown; then ethnicity + unknown */
    for (size_t i = 0; i < in->n; i++) {
        size_t g = (size_t)group[i];
        int d = in->imd_decile ? in->imd_decile[i] : 0;
        size_t q = d >= 1 && d <= 10 ? (size_t)(d + 1) / 2 : 6;
        int e = in->ethnicity ? in->ethnicity[i] : -1;
        size_t ec = 7 + (e >= 0 && (size_t)e < E ? (size_t)e : E);
        for (int k = 0; k < 2; k++, g = n_groups) {
            add(&c[g * nc], in, i, 0);
            add(&c[g * nc + q], in, i, 0);
            if (in->ethnicity)
                add(&c[g * nc + ec], in, i, 0);
        }
    }
    s = put_cells(ctx, p, t, in, c, nc, "_list", -1, 0, &jn);
    for (size_t k = 1; s == STRATA_OK && k < nc; k++) {
        char sfx[96];
        if (k <= 5)
            snprintf(sfx, sizeof sfx, "_imdq%zu", k);
        else if (k == 6)
            snprintf(sfx, sizeof sfx, "_imdq_unknown");
        else if (!in->ethnicity)
            break;
        else if (k - 7 < E)
            snprintf(sfx, sizeof sfx, "_eth_%s", in->ethnicity_names[k - 7]);
        else
            snprintf(sfx, sizeof sfx, "_eth_unknown");
        s = put_cells(ctx, p, t, in, c + k, nc, sfx, jn, k <= 6 ? 1 : 2, NULL);
    }
    strata_free(ctx, c, 0);
    return finish(ctx, s, t, out);
}

/* SII/RII for each group from q (31 doubles per group: 10 populations, 10
 * values, 10 se, count), groups in parallel: each uses its own workspace and
 * the same seed, so results do not depend on the thread count. */
static strata_status sii_groups(strata_ctx *ctx, const strata_sii_params *p, size_t n,
                                const double *q, strata_table *t, int j0)
{
    int nt = strata_threads(ctx);
    size_t len = strat_sii_ws_len(10, p->reps), bytes;
    double *ws;
    if (nt < 1)
        nt = 1;
    if (!strata_mul_ok(len * (size_t)nt, sizeof(double), &bytes))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "sii: %zu repetitions overflow", p->reps);
    ws = strata_alloc(ctx, bytes);
    if (!ws)
        return STRATA_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (long g = 0; g < (long)n; g++) {
        const double *pop = q + g * 31;
        size_t k = (size_t)pop[30];
        strata_sii_result r;
        if (k < 2)
            continue;
        strat_sii_core(p, k, pop, pop + 10, pop + 20, ws + (size_t)omp_get_thread_num() * len, &r);
        t->cols[j0 + 0].v[g] = r.sii;
        t->cols[j0 + 1].v[g] = r.sii_lo;
        t->cols[j0 + 2].v[g] = r.sii_hi;
        t->cols[j0 + 3].v[g] = r.rii;
        t->cols[j0 + 4].v[g] = r.rii_lo;
        t->cols[j0 + 5].v[g] = r.rii_hi;
    }
    strata_free(ctx, ws, bytes);
    return STRATA_OK;
}

/* Per-decile inputs of one measure into q (31 doubles per group), then the
 * SII/RII of every group into columns j0..j0+6. Measure 0: mean risk, se of
 * the mean; measure 1: observed event rate O/n on the log scale, se 1/sqrt(O)
 * (PHE's rate convention; deciles with O = 0 are left out). Deciles with
 * fewer than 2 people are left out. */
static strata_status sii_measure(strata_ctx *ctx, const strata_sii_params *sp0, int measure,
                                 const cell *c, size_t n_groups, double *q, strata_table *t,
                                 int j0)
{
    strata_sii_params sp = *sp0;
    strata_status s = STRATA_OK;
    if (measure == 1)
        sp.scale = STRATA_SII_RATE;
    for (size_t g = 0; g <= n_groups && s == STRATA_OK; g++) {
        double *pop = q + g * 31, *val = pop + 10, *se = val + 10;
        size_t k = 0;
        for (size_t d = 0; d < 10; d++) {
            const cell *x = &c[g * 10 + d];
            if (x->n < 2 || (measure == 1 && !(x->o > 0)))
                continue;
            pop[k] = x->n;
            val[k] = measure == 1 ? x->o / x->n : x->e / x->n;
            se[k] = measure == 1 ? 1.0 / sqrt(x->o)
                                 : sqrt(fmax(0, (x->e2 - x->e * x->e / x->n) / (x->n - 1)) / x->n);
            k++;
        }
        pop[30] = (double)k;
        t->cols[j0 + 6].v[g] = (double)k;
        if (k >= 2)
            s = strat_sii_check(ctx, &sp, k, pop, val, se);
    }
    if (s == STRATA_OK)
        s = sii_groups(ctx, &sp, n_groups + 1, q, t, j0);
    return s;
}

strata_status strata_group_sii(strata_ctx *ctx, const strata_group_params *p,
                               const strata_strat_input *in, const int32_t *group,
                               size_t n_groups, const char *const *group_names,
                               strata_table **out)
{
    static const char *const names[7] = {"sii", "sii_lo", "sii_hi", "rii", "rii_lo", "rii_hi",
                                         "deciles_used"};
    strata_table *t = NULL;
    cell *c;
    double *q = NULL;
    int j0[2] = {-1, -1}, jk, nm = in->observed ? 2 : 1;
    strata_status s = STRATA_OK;
    *out = NULL;
    if (!in->imd_decile)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: no imd_decile column");
    STRATA_TRY(check_input(ctx, in, group, n_groups));
    STRATA_TRY(new_group_table(ctx, "sii", n_groups, group_names, &t));
    for (int m = 0; m < nm; m++)
        for (int k = 0; k < 7 && s == STRATA_OK; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s%s", names[k], m ? "_obs" : "");
            s = strata_table_add(ctx, t, name, k < 6 ? STRATA_COL_RATIO : STRATA_COL_FLAG, 5, -1,
                                 -1, k == 0 ? &j0[m] : &jk);
        }
    c = s == STRATA_OK ? strata_calloc(ctx, (n_groups + 1) * 10, sizeof *c) : NULL;
    q = c ? strata_calloc(ctx, (n_groups + 1) * 31, sizeof *q) : NULL;
    if (!q)
        s = s == STRATA_OK ? STRATA_ENOMEM : s;
    for (size_t i = 0; s == STRATA_OK && i < in->n; i++) {
        int d = in->imd_decile[i];
        if (d >= 1 && d <= 10) {
            add(&c[(size_t)group[i] * 10 + (size_t)(d - 1)], in, i, 0);
            add(&c[n_groups * 10 + (size_t)(d - 1)], in, i, 0);
        }
    }
    for (int m = 0; m < nm && s == STRATA_OK; m++)
        s = sii_measure(ctx, &p->sii, m, c, n_groups, q, t, j0[m]);
    strata_free(ctx, q, 0);
    strata_free(ctx, c, 0);
    return finish(ctx, s, t, out);
}
