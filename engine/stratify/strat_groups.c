/* engine/stratify/strat_groups.c — per-group summary (PCN, practice or ICB) and
 * the Core20PLUS5 table: list size (every patient, scored or not), age-sex
 * profile, tiers, segments, expected and observed events, age-sex ISR, DSR,
 * need and fair shares. Builds the table's exact inputs in one sequential pass
 * in row order (sums identical whatever the thread count); every rate, ratio,
 * share and interval is a derived column computed at disclosure from the
 * published counts (strata/table.h). The tables come out undisclosed. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_AGE 6
#define N_BAND (2 * STRATA_ESP_BANDS + 1) /* age (ESP) x sex, + unknown */
static const int age_lo[N_AGE] = {0, 18, 40, 65, 75, 85};
static const char *const age_name[N_AGE] = {"0_17", "18_39", "40_64", "65_74", "75_84", "85plus"};

void strata_group_params_init(strata_group_params *p)
{
    p->level = 0.95;
    strata_funnel_params_init(&p->funnel);
    p->budget = 0;
    strata_sii_params_init(&p->sii);
    p->measure = 0;
}

const char *strata_c5_name(int area)
{
    static const char *const n[STRATA_N_C5] = {"maternity", "smi", "respiratory", "cancer",
                                               "hypertension"};
    return area >= 0 && area < STRATA_N_C5 ? n[area] : NULL;
}

static int age_band(int age)
{
    int b = -1;
    for (int k = 0; k < N_AGE && age >= 0; k++)
        if (age >= age_lo[k])
            b = k;
    return age > 120 ? -1 : b;
}

/* Age (ESP band) x sex standardisation cell of patient i; N_BAND - 1 unknown. */
static size_t std_band(const strata_strat_input *in, size_t i)
{
    int a = in->age && in->age[i] <= 120 ? strata_esp_band(in->age[i]) : -1;
    int s = in->sex ? in->sex[i] : -1;
    return a >= 0 && (s == 0 || s == 1) ? (size_t)(s * STRATA_ESP_BANDS + a) : N_BAND - 1;
}

strata_status strat_check_input(strata_ctx *ctx, const strata_strat_input *in,
                                const int32_t *group, size_t n_groups, size_t r0)
{
    for (size_t i = 0; i < in->n; i++) {
        size_t row = r0 + i + 1;
        int scored = !isnan(in->risk[i]);
        if (scored && (!isfinite(in->risk[i]) || in->risk[i] < 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not >= 0", row,
                               in->risk[i]);
        if (group[i] < 0 || (size_t)group[i] >= n_groups)
            return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", row,
                               (int)group[i], n_groups ? n_groups - 1 : 0);
        if (in->tier && scored && (in->tier[i] < 1 || in->tier[i] > in->n_tiers))
            return STRATA_FAIL(ctx, STRATA_EDATA, "tier: row %zu: value %d outside 1..%zu", row,
                               (int)in->tier[i], in->n_tiers);
        if (in->segment && in->segment[i] >= STRATA_N_SEGMENTS)
            return STRATA_FAIL(ctx, STRATA_EDATA, "segment: row %zu: value %d unknown", row,
                               (int)in->segment[i]);
        if (in->need && scored && !(in->need[i] >= 0 && isfinite(in->need[i])))
            return STRATA_FAIL(ctx, STRATA_EDATA, "need: row %zu: value %g is not >= 0", row,
                               in->need[i]);
        if (in->observed && scored && !(in->observed[i] >= 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "observed: row %zu: value %g is not >= 0",
                               row, in->observed[i]);
    }
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

strata_status strat_new_group_table(strata_ctx *ctx, const char *name, size_t n_groups,
                                    const char *const *group_names, strata_table **out)
{
    strata_table *t;
    int j;
    strata_status s;
    STRATA_TRY(strata_table_new(ctx, name, n_groups + 1, &t));
    s = strata_table_add(ctx, t, "group", STRATA_COL_KEY, 0, -1, -1, &j);
    for (size_t g = 0; s == STRATA_OK && g <= n_groups; g++) {
        s = strata_table_set_key(ctx, t, j, g, g < n_groups ? group_names[g] : "ALL");
        if (s == STRATA_OK && g < n_groups)
            s = strata_table_set_total_row(ctx, t, g, n_groups);
    }
    return finish(ctx, s, t, out);
}

strata_status strat_put(strata_ctx *ctx, strata_table *t, const char *name, strata_col_kind k,
                        int dec, int base, int den, int part_of, int grp, int *jo)
{
    int j;
    STRATA_TRY(strata_table_add(ctx, t, name, k, dec, base, den, &j));
    if (part_of >= 0)
        STRATA_TRY(strata_table_set_part(ctx, t, j, part_of, grp));
    if (jo)
        *jo = j;
    return STRATA_OK;
}

strata_status strat_derived(strata_ctx *ctx, strata_table *t, const char *name,
                            strata_recipe_op op, int a, int b, int c, int part, double mult,
                            double level, int dec, int *jo)
{
    strata_recipe d;
    int j;
    strata_recipe_init(&d, op, a, b);
    d.c = c;
    d.part = part;
    d.mult = mult;
    d.level = level;
    STRATA_TRY(strata_table_add_derived(ctx, t, name, &d, dec, &j));
    if (jo)
        *jo = j;
    return STRATA_OK;
}

/* Sets column j from v[g * stride + off], g = 0..n_rows-1. */
strata_status strat_fill(strata_ctx *ctx, strata_table *t, int j, const double *v, size_t stride,
                         size_t off)
{
    for (size_t g = 0; g < strata_table_nrows(t); g++)
        STRATA_TRY(strata_table_set(ctx, t, j, g, v[g * stride + off]));
    return STRATA_OK;
}

/* The n / n_unscored / mean risk / expected / observed / O/E block with suffix
 * sfx from cells c[g * stride] (strat_cell); *jn, *je, *jo its columns. */
strata_status strat_put_block(strata_ctx *ctx, const strata_group_params *p, strata_table *t,
                              const strata_strat_input *in, const strat_cell *c, size_t stride,
                              const char *sfx, int part_of, int grp, int with_unscored,
                              strat_block *b)
{
    char nm[160];
    const size_t G1 = strata_table_nrows(t);
    static const char *const r[3] = {"oe", "oe_lo", "oe_hi"};
    b->ju = b->jo = -1;
    snprintf(nm, sizeof nm, "n%s", sfx);
    STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, part_of, grp, &b->jn));
    if (with_unscored) {
        snprintf(nm, sizeof nm, "n_unscored%s", sfx);
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, -1, 0, &b->ju));
    }
    if (in->observed && p->measure) {
        /* a cost: sums over people, published like means, never rounded like counts */
        snprintf(nm, sizeof nm, "observed%s", sfx);
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_MEAN, 2, b->jn, -1, -1, 0, &b->jo));
    } else if (in->observed) {
        snprintf(nm, sizeof nm, "n_observed%s", sfx);
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, -1, 0, &b->jo));
    }
    snprintf(nm, sizeof nm, "expected%s", sfx);
    STRATA_TRY(strat_put(ctx, t, nm, p->measure ? STRATA_COL_MEAN : STRATA_COL_TOTAL,
                         p->measure ? 2 : 1, b->jn, p->measure ? -1 : b->jo, -1, 0, &b->je));
    snprintf(nm, sizeof nm, "mean_risk%s", sfx);
    STRATA_TRY(strat_derived(ctx, t, nm, STRATA_RECIPE_RATIO, b->je, b->jn, b->ju, 0, 1, 0.95,
                             p->measure ? 2 : 4, NULL));
    for (int k = 0; b->jo >= 0 && k < (p->measure ? 1 : 3); k++) {
        snprintf(nm, sizeof nm, "%s%s", r[k], sfx);
        STRATA_TRY(strat_derived(ctx, t, nm,
                                 p->measure ? STRATA_RECIPE_RATIO : STRATA_RECIPE_OE_EXACT,
                                 b->jo, b->je, -1, k, 1, p->level, 3, NULL));
    }
    for (size_t g = 0; g < G1; g++) {
        const strat_cell *x = &c[g * stride];
        STRATA_TRY(strata_table_set(ctx, t, b->jn, g, x->n));
        if (b->ju >= 0)
            STRATA_TRY(strata_table_set(ctx, t, b->ju, g, x->u));
        STRATA_TRY(strata_table_set(ctx, t, b->je, g, x->e));
        if (b->jo >= 0)
            STRATA_TRY(strata_table_set(ctx, t, b->jo, g, x->o));
    }
    return STRATA_OK;
}

void strat_cell_add(strat_cell *c, const strata_strat_input *in, size_t i, double need)
{
    c->n += 1;
    if (isnan(in->risk[i])) {
        c->u += 1;
        return;
    }
    c->e += in->risk[i];
    c->e2 += in->risk[i] * in->risk[i];
    c->o += in->observed ? in->observed[i] : 0;
    c->w += need;
}

/* ---- the summary ------------------------------------------------------------------ */

typedef struct summ {
    size_t G, K, S, nc;    /* groups, tiers, segments, count slots per group */
    strat_cell *tot;       /* (G+1) cells */
    double *cnt;           /* (G+1) x nc counts: age-sex, tiers, segments, core20, hr, hr&c20 */
    double *eas, *eisr;    /* (G+1): expected from the ALL row's age-sex risks / rates */
    double *dx, *dn;       /* (G+1) x 19: DSR events and population per ESP band */
    double ref_n[N_BAND], ref_r[N_BAND], ref_o[N_BAND]; /* pass 0: scored people, risk, events */
    double ref_risk[N_BAND], ref_obs[N_BAND];
    int ref_done;
    double wsum;
} summ;

/* Pass 0: the sums of the ALL row's mean risk and event rate per age-sex
 * band (scored patients), in row order. */
static void reference_add(const strata_strat_input *in, summ *m)
{
    for (size_t i = 0; i < in->n; i++) {
        size_t b = std_band(in, i);
        if (isnan(in->risk[i]))
            continue;
        m->ref_n[b] += 1;
        m->ref_r[b] += in->risk[i];
        m->ref_o[b] += in->observed ? in->observed[i] : 0;
    }
}

static void reference_rates(summ *m)
{
    if (m->ref_done)
        return;
    for (size_t b = 0; b < N_BAND; b++) {
        m->ref_risk[b] = m->ref_n[b] > 0 ? m->ref_r[b] / m->ref_n[b] : 0;
        m->ref_obs[b] = m->ref_n[b] > 0 ? m->ref_o[b] / m->ref_n[b] : 0;
    }
    m->ref_done = 1;
}

/* Pass 1: every count and sum of the table, in row order. */
static void summary_pass(const strata_strat_input *in, const int32_t *group, summ *m)
{
    const size_t o_t = 2 * N_AGE + 1, o_s = o_t + m->K, o_c = o_s + m->S;
    reference_rates(m);
    for (size_t i = 0; i < in->n; i++) {
        size_t g = (size_t)group[i], sb = std_band(in, i);
        int scored = !isnan(in->risk[i]);
        double w = !scored ? 0 : in->need ? in->need[i] : in->risk[i];
        int b = age_band(in->age ? in->age[i] : -1), sx = in->sex ? in->sex[i] : -1;
        size_t as = (b >= 0 && (sx == 0 || sx == 1)) ? (size_t)(sx * N_AGE + b) : 2 * N_AGE;
        int hr = scored && in->tier && in->tier[i] <= 2;
        int c20 = in->imd_decile && strata_core20(in->imd_decile[i]);
        int eb = in->age && in->age[i] <= 120 ? strata_esp_band(in->age[i]) : -1;
        for (int k = 0; k < 2; k++, g = m->G) {
            double *r = m->cnt + g * m->nc;
            strat_cell_add(&m->tot[g], in, i, w);
            r[as] += 1;
            if (m->K && scored)
                r[o_t + in->tier[i] - 1] += 1;
            if (m->S)
                r[o_s + in->segment[i]] += 1;
            r[o_c] += c20;
            r[o_c + 1] += hr;
            r[o_c + 2] += hr && c20;
            if (!scored)
                continue;
            m->eas[g] += m->ref_risk[sb];
            m->eisr[g] += m->ref_obs[sb];
            if (eb >= 0) {
                m->dx[g * STRATA_ESP_BANDS + (size_t)eb] += in->observed ? in->observed[i] : 0;
                m->dn[g * STRATA_ESP_BANDS + (size_t)eb] += 1;
            }
        }
        m->wsum += w;
    }
}

/* Age-sex bands, tiers (+ n_unscored in the tier partition), segments. */
static strata_status put_profile(strata_ctx *ctx, strata_table *t, const summ *m, int jn, int ju)
{
    char nm[128];
    int j, jp;
    for (size_t k = 0; k <= 2 * N_AGE; k++) {
        if (k < 2 * N_AGE)
            snprintf(nm, sizeof nm, "n_%s_%s", k < N_AGE ? "F" : "M", age_name[k % N_AGE]);
        else
            snprintf(nm, sizeof nm, "n_agesex_unknown");
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, jn, 0, &j));
        STRATA_TRY(strat_fill(ctx, t, j, m->cnt, m->nc, k));
    }
    if (m->K)
        STRATA_TRY(strata_table_set_part(ctx, t, ju, jn, 1)); /* tiers + unscored = list */
    for (size_t k = 0; k < m->K + m->S; k++) {
        if (k < m->K)
            snprintf(nm, sizeof nm, "n_tier%zu", k + 1);
        else
            snprintf(nm, sizeof nm, "n_seg_%s", strata_segment_name((int)(k - m->K)));
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, jn, k < m->K ? 1 : 2, &j));
        STRATA_TRY(strat_fill(ctx, t, j, m->cnt, m->nc, 2 * N_AGE + 1 + k));
        memmove(nm + 3, nm + 1, strlen(nm + 1) + 1);
        memcpy(nm, "pct", 3);
        STRATA_TRY(strata_table_add(ctx, t, nm, STRATA_COL_PCT, 1, j, jn, &jp));
    }
    return STRATA_OK;
}

/* Funnel flag and limits at each group's published E (fitted at disclosure). */
static strata_status put_funnel(strata_ctx *ctx, const strata_group_params *p, strata_table *t,
                                const strat_block *b)
{
    static const char *const nm[5] = {"funnel_flag", "funnel_lo95", "funnel_hi95", "funnel_lo998",
                                      "funnel_hi998"};
    for (int k = 0; k < 5; k++) {
        strata_recipe d;
        int j;
        strata_recipe_init(&d, STRATA_RECIPE_FUNNEL, b->jo, b->je);
        d.part = k;
        d.od = (int)p->funnel.od;
        d.trim = p->funnel.trim;
        STRATA_TRY(strata_table_add_derived(ctx, t, nm[k], &d, k ? 3 : 0, &j));
    }
    return STRATA_OK;
}

/* ISR by age band and sex, and the DSR per 100,000 (2013 ESP, Dobson). */
static strata_status put_standardised(strata_ctx *ctx, const strata_group_params *p,
                                      strata_table *t, const summ *m, const strat_block *b)
{
    static const char *const isr[3] = {"isr", "isr_lo", "isr_hi"}, *dsr[3] = {"dsr", "dsr_lo", "dsr_hi"};
    int je, jr, jv;
    STRATA_TRY(strat_put(ctx, t, "expected_isr", STRATA_COL_TOTAL, 1, b->jn, b->jo, -1, 0, &je));
    STRATA_TRY(strat_fill(ctx, t, je, m->eisr, 1, 0));
    for (int k = 0; k < 3; k++)
        STRATA_TRY(strat_derived(ctx, t, isr[k], STRATA_RECIPE_OE_BYAR, b->jo, je, -1, k, 1,
                                 p->level, 3, NULL));
    STRATA_TRY(strata_table_add(ctx, t, "dsr_rate", STRATA_COL_INTERNAL, 6, -1, -1, &jr));
    STRATA_TRY(strata_table_add(ctx, t, "dsr_var", STRATA_COL_INTERNAL, 6, -1, -1, &jv));
    for (size_t g = 0; g <= m->G; g++) {
        double x[STRATA_ESP_BANDS], n[STRATA_ESP_BANDS];
        strata_dsr_result r;
        for (int a = 0; a < STRATA_ESP_BANDS; a++) {
            /* an empty band has rate 0 (its standard weight still counts) */
            n[a] = m->dn[g * STRATA_ESP_BANDS + (size_t)a] > 0 ? m->dn[g * STRATA_ESP_BANDS + (size_t)a] : 1;
            x[a] = m->dx[g * STRATA_ESP_BANDS + (size_t)a];
        }
        STRATA_TRY(strata_dsr(ctx, STRATA_ESP_BANDS, x, n, strata_esp2013(), p->level, 1e5, &r));
        STRATA_TRY(strata_table_set(ctx, t, jr, g, r.raw));
        STRATA_TRY(strata_table_set(ctx, t, jv, g, r.var));
    }
    for (int k = 0; k < 3; k++)
        STRATA_TRY(strat_derived(ctx, t, dsr[k], STRATA_RECIPE_DSR, b->jo, jr, jv, k, 1, p->level,
                                 1, NULL));
    return STRATA_OK;
}

/* Need: expected events from the ALL row's age-sex mean risks; need-weighted
 * population = N x E_g / E_all; need index crude and age-sex adjusted; fair
 * share = budget x E_g / E_all — all from the published totals. */
static strata_status put_need(strata_ctx *ctx, const strata_group_params *p,
                              const strata_strat_input *in, strata_table *t, const summ *m,
                              const strat_block *b)
{
    int jas, jw = b->je, jnw, j;
    STRATA_TRY(strat_put(ctx, t, "expected_agesex", STRATA_COL_TOTAL, 1, b->jn, -1, -1, 0, &jas));
    STRATA_TRY(strat_fill(ctx, t, jas, m->eas, 1, 0));
    if (in->need) { /* a need weight of its own: its sum is a total like E */
        STRATA_TRY(strat_put(ctx, t, "need_sum", STRATA_COL_TOTAL, 1, b->jn, -1, -1, 0, &jw));
        for (size_t g = 0; g <= m->G; g++)
            STRATA_TRY(strata_table_set(ctx, t, jw, g, m->tot[g].w));
    }
    STRATA_TRY(strat_derived(ctx, t, "need_weighted_pop", STRATA_RECIPE_SCALE, jw, b->jn, -1, 0, 1,
                             0.95, 1, &jnw));
    STRATA_TRY(strat_derived(ctx, t, "need_index", STRATA_RECIPE_RATIO, jnw, b->jn, -1, 0, 1, 0.95,
                             3, NULL));
    STRATA_TRY(strat_derived(ctx, t, "need_index_agesex", STRATA_RECIPE_RATIO, b->je, jas, -1, 0,
                             1, 0.95, 3, NULL));
    if (p->budget > 0)
        STRATA_TRY(strat_derived(ctx, t, "fair_share", STRATA_RECIPE_SHARE, jw, -1, -1, 0,
                                 p->budget, 0.95, 0, &j));
    return STRATA_OK;
}

static strata_status put_core20(strata_ctx *ctx, strata_table *t, const summ *m)
{
    const size_t o_c = 2 * N_AGE + 1 + m->K + m->S;
    int j, jhr, jhc;
    STRATA_TRY(strat_put(ctx, t, "n_core20", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &j));
    STRATA_TRY(strat_fill(ctx, t, j, m->cnt, m->nc, o_c));
    /* tiers 1-2 as the sum of the published tier counts: no relation of its own */
    if (m->K >= 2)
        STRATA_TRY(strat_derived(ctx, t, "n_high_risk", STRATA_RECIPE_SUM,
                                 strata_table_find(t, "n_tier1"), strata_table_find(t, "n_tier2"),
                                 -1, 0, 1, 0.95, 0, &jhr));
    else {
        STRATA_TRY(strat_put(ctx, t, "n_high_risk", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &jhr));
        STRATA_TRY(strat_fill(ctx, t, jhr, m->cnt, m->nc, o_c + 1));
    }
    STRATA_TRY(strat_put(ctx, t, "n_high_risk_core20", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &jhc));
    STRATA_TRY(strat_fill(ctx, t, jhc, m->cnt, m->nc, o_c + 2));
    return strata_table_add(ctx, t, "pct_high_risk_core20", STRATA_COL_PCT, 1, jhc, jhr, &j);
}

static strata_status summary_fill(strata_ctx *ctx, const strata_group_params *p,
                                  const strata_strat_input *in, summ *m,
                                  strata_funnel *funnel, strata_table *t)
{
    strat_block b;
    reference_rates(m); /* no rows: every rate 0 */
    STRATA_TRY(strat_put_block(ctx, p, t, in, m->tot, 1, "_list", -1, 0, 1, &b));
    STRATA_TRY(put_profile(ctx, t, m, b.jn, b.ju));
    if (in->observed) {
        double *o = strata_calloc(ctx, 2 * (m->G + 1), sizeof *o);
        strata_status s;
        if (!o)
            return STRATA_ENOMEM;
        for (size_t g = 0; g < m->G; g++)
            o[g] = m->tot[g].o, o[m->G + 1 + g] = m->tot[g].e;
        s = p->measure ? STRATA_OK
                       : strata_funnel_fit(ctx, &p->funnel, m->G, o, o + m->G + 1, funnel);
        strata_free(ctx, o, 0);
        STRATA_TRY(s);
        if (!p->measure) { /* Poisson methods: counts only */
            STRATA_TRY(put_funnel(ctx, p, t, &b));
            STRATA_TRY(put_standardised(ctx, p, t, m, &b));
        }
    }
    STRATA_TRY(put_need(ctx, p, in, t, m, &b));
    return put_core20(ctx, t, m);
}

static strata_status summary_init(strata_ctx *ctx, strata_group_sums *s)
{
    const size_t G1 = s->G + 1;
    summ *m = strata_calloc(ctx, 1, sizeof *m);
    if (!m)
        return STRATA_ENOMEM;
    m->G = s->G;
    m->K = s->shape.tier ? s->shape.n_tiers : 0;
    m->S = s->shape.segment ? STRATA_N_SEGMENTS : 0;
    m->nc = 2 * N_AGE + 1 + m->K + m->S + 3;
    m->tot = strata_calloc(ctx, G1, sizeof *m->tot);
    m->cnt = strata_calloc(ctx, G1 * m->nc, sizeof *m->cnt);
    m->eas = strata_calloc(ctx, 2 * G1 + 2 * G1 * STRATA_ESP_BANDS, sizeof *m->eas);
    s->st = m;
    if (!m->tot || !m->cnt || !m->eas)
        return STRATA_ENOMEM; /* the caller frees through summary_done */
    m->eisr = m->eas + G1;
    m->dx = m->eisr + G1;
    m->dn = m->dx + G1 * STRATA_ESP_BANDS;
    return STRATA_OK;
}

static void summary_add(strata_group_sums *s, int pass, const strata_strat_input *blk,
                        const int32_t *group)
{
    if (pass == 0)
        reference_add(blk, s->st);
    else
        summary_pass(blk, group, s->st);
}

static strata_status summary_table(strata_ctx *ctx, strata_group_sums *s,
                                   const char *const *names, strata_funnel *funnel,
                                   strata_table **out)
{
    strata_table *t = NULL;
    STRATA_TRY(strat_new_group_table(ctx, "summary", s->G, names, &t));
    return finish(ctx, summary_fill(ctx, &s->p, &s->shape, s->st, funnel, t), t, out);
}

static void summary_done(strata_ctx *ctx, strata_group_sums *s)
{
    summ *m = s->st;
    if (m)
        STRATA_FREE_ALL(ctx, m->tot, m->cnt, m->eas, m);
    s->st = NULL;
}

const strat_sums_ops strat_summary_ops = {summary_init, summary_add, summary_table, summary_done};

strata_status strata_group_summary(strata_ctx *ctx, const strata_group_params *p,
                                   const strata_strat_input *in, const int32_t *group,
                                   size_t n_groups, const char *const *group_names,
                                   strata_funnel *funnel_out, strata_table **out)
{
    return strat_sums_whole(ctx, STRATA_GROUP_SUMMARY, p, in, group, n_groups, group_names,
                            funnel_out, out);
}

/* ---- Core20PLUS5 -------------------------------------------------------------------- */

/* Columns: n_list, n_core20, n_plus_<name>..., n_plus_any, n_core20plus, then per
 * clinical area with a source n_<area>, n_core20plus_<area>. */
static strata_status c5_cols(strata_ctx *ctx, const strata_strat_input *in, strata_table *t,
                             int *col, size_t *ncol)
{
    char nm[160];
    size_t k = 0;
    STRATA_TRY(strat_put(ctx, t, "n_list", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    STRATA_TRY(strat_put(ctx, t, "n_core20", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    for (size_t r = 0; r < in->n_plus; r++) {
        snprintf(nm, sizeof nm, "n_plus_%s", in->plus_names[r]);
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    }
    STRATA_TRY(strat_put(ctx, t, "n_plus_any", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    STRATA_TRY(strat_put(ctx, t, "n_core20plus", STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    for (int a = 0; in->c5_mask && a < STRATA_N_C5; a++) {
        if (a == STRATA_C5_MATERNITY)
            continue; /* no source in a GP extract */
        snprintf(nm, sizeof nm, "n_%s", strata_c5_name(a));
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
        snprintf(nm, sizeof nm, "n_core20plus_%s", strata_c5_name(a));
        STRATA_TRY(strat_put(ctx, t, nm, STRATA_COL_COUNT, 0, -1, -1, -1, 0, &col[k++]));
    }
    *ncol = k;
    return STRATA_OK;
}

/* The columns c5_cols makes. */
static size_t c5_ncol(const strata_strat_input *in)
{
    return 4 + in->n_plus + (in->c5_mask ? 2 * (STRATA_N_C5 - 1) : 0);
}

static strata_status c5_init(strata_ctx *ctx, strata_group_sums *s)
{
    s->st = strata_calloc(ctx, (s->G + 1) * c5_ncol(&s->shape) + 1, sizeof(double));
    return s->st ? STRATA_OK : STRATA_ENOMEM;
}

static void c5_add(strata_group_sums *s, int pass, const strata_strat_input *in,
                   const int32_t *group)
{
    const size_t ncol = c5_ncol(in), n_groups = s->G;
    double *v = s->st;
    (void)pass;
    for (size_t i = 0; i < in->n; i++) {
        int c20 = in->imd_decile && strata_core20(in->imd_decile[i]);
        uint32_t pm = in->plus_mask ? in->plus_mask[i] : 0;
        int cp = c20 || pm;
        for (size_t g = (size_t)group[i], k = 0; k < 2; k++, g = n_groups) {
            double *r = v + g * ncol;
            size_t q = 0;
            r[q++] += 1;
            r[q++] += c20;
            for (size_t b = 0; b < in->n_plus; b++)
                r[q++] += (pm >> b) & 1u;
            r[q++] += pm != 0;
            r[q++] += cp;
            for (int a = 0; in->c5_mask && a < STRATA_N_C5; a++) {
                int has = (in->c5_mask[i] >> a) & 1;
                if (a == STRATA_C5_MATERNITY)
                    continue;
                r[q++] += has;
                r[q++] += has && cp;
            }
        }
    }
}

static strata_status c5_table(strata_ctx *ctx, strata_group_sums *s, const char *const *names,
                              strata_funnel *funnel, strata_table **out)
{
    int col[2 * 32 + 16];
    size_t ncol = 0;
    strata_table *t = NULL;
    strata_status st;
    (void)funnel;
    STRATA_TRY(strat_new_group_table(ctx, "core20plus5", s->G, names, &t));
    st = c5_cols(ctx, &s->shape, t, col, &ncol);
    for (size_t k = 0; st == STRATA_OK && k < ncol; k++)
        st = strat_fill(ctx, t, col[k], s->st, ncol, k);
    return finish(ctx, st, t, out);
}

static void c5_done(strata_ctx *ctx, strata_group_sums *s)
{
    strata_free(ctx, s->st, 0);
    s->st = NULL;
}

const strat_sums_ops strat_c5_ops = {c5_init, c5_add, c5_table, c5_done};

strata_status strata_group_core20plus5(strata_ctx *ctx, const strata_strat_input *in,
                                       const int32_t *group, size_t n_groups,
                                       const char *const *group_names, strata_table **out)
{
    return strat_sums_whole(ctx, STRATA_GROUP_CORE20PLUS5, NULL, in, group, n_groups,
                            group_names, NULL, out);
}
