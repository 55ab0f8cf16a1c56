/* engine/stratify/strat_inequality.c — inequality breakdowns per group: blocks by
 * IMD quintile and ethnicity (every patient counted, scored or not), and the
 * SII/RII across IMD deciles of age-standardised values (2013 ESP): the mean
 * risk, and PHE's directly standardised observed rate. One sequential pass in
 * row order; SIIs of groups in parallel with per-thread workspaces and the
 * same seed, so the numbers do not depend on the thread count. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static strata_status finish(strata_ctx *ctx, strata_status s, strata_table *t, strata_table **out)
{
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    *out = t;
    return STRATA_OK;
}

/* Block k's suffix: _list, _imdq1.._imdq5, _imdq_unknown, _eth_<level>, _eth_unknown. */
static int block_sfx(const strata_strat_input *in, size_t k, size_t E, char *sfx, size_t size)
{
    if (k == 0)
        snprintf(sfx, size, "_list");
    else if (k <= 5)
        snprintf(sfx, size, "_imdq%zu", k);
    else if (k == 6)
        snprintf(sfx, size, "_imdq_unknown");
    else if (!in->ethnicity)
        return 0;
    else if (k - 7 < E)
        snprintf(sfx, size, "_eth_%s", in->ethnicity_names[k - 7]);
    else
        snprintf(sfx, size, "_eth_unknown");
    return 1;
}

static strata_status put_blocks(strata_ctx *ctx, const strata_group_params *p,
                                const strata_strat_input *in, strata_table *t, const strat_cell *c,
                                size_t nc, size_t G)
{
    const size_t E = in->ethnicity ? in->n_ethnicity : 0;
    int unsc = c[G * nc].u > 0; /* some patient unscored: the ALL row's count of them */
    strat_block all, b;
    char sfx[96];
    STRATA_TRY(strat_put_block(ctx, p, t, in, c, nc, "_list", -1, 0, unsc, &all));
    for (size_t k = 1; k < nc && block_sfx(in, k, E, sfx, sizeof sfx); k++) {
        int grp = k <= 6 ? 1 : 2;
        STRATA_TRY(strat_put_block(ctx, p, t, in, c + k, nc, sfx, all.jn, grp, unsc, &b));
        if (!p->measure)
            STRATA_TRY(strata_table_set_part(ctx, t, b.je, all.je, grp));
        if (b.jo >= 0 && !p->measure)
            STRATA_TRY(strata_table_set_part(ctx, t, b.jo, all.jo, grp));
        if (b.ju >= 0)
            STRATA_TRY(strata_table_set_part(ctx, t, b.ju, all.ju, grp));
    }
    return STRATA_OK;
}

/* cells: (G + 1) x nc, nc = 1 + 6 + E + 1: cell 0 = all; 1..5 IMD quintiles
 * (1 most deprived), 6 unknown; then ethnicity + unknown */
static size_t ineq_nc(const strata_strat_input *in)
{
    return 1 + 6 + (in->ethnicity ? in->n_ethnicity : 0) + 1;
}

static strata_status ineq_init(strata_ctx *ctx, strata_group_sums *s)
{
    s->st = strata_calloc(ctx, (s->G + 1) * ineq_nc(&s->shape), sizeof(strat_cell));
    return s->st ? STRATA_OK : STRATA_ENOMEM;
}

static void ineq_add(strata_group_sums *s, int pass, const strata_strat_input *in,
                     const int32_t *group)
{
    const size_t E = in->ethnicity ? in->n_ethnicity : 0, nc = ineq_nc(in), n_groups = s->G;
    strat_cell *c = s->st;
    (void)pass;
    for (size_t i = 0; i < in->n; i++) {
        size_t g = (size_t)group[i];
        int d = in->imd_decile ? in->imd_decile[i] : 0;
        size_t q = d >= 1 && d <= 10 ? (size_t)(d + 1) / 2 : 6;
        int e = in->ethnicity ? in->ethnicity[i] : -1;
        size_t ec = 7 + (e >= 0 && (size_t)e < E ? (size_t)e : E);
        for (int k = 0; k < 2; k++, g = n_groups) {
            strat_cell_add(&c[g * nc], in, i, 0);
            strat_cell_add(&c[g * nc + q], in, i, 0);
            if (in->ethnicity)
                strat_cell_add(&c[g * nc + ec], in, i, 0);
        }
    }
}

static strata_status ineq_table(strata_ctx *ctx, strata_group_sums *s, const char *const *names,
                                strata_funnel *funnel, strata_table **out)
{
    strata_table *t = NULL;
    (void)funnel;
    STRATA_TRY(strat_new_group_table(ctx, "inequality", s->G, names, &t));
    return finish(ctx, put_blocks(ctx, &s->p, &s->shape, t, s->st, ineq_nc(&s->shape), s->G), t,
                  out);
}

static void sums_done(strata_ctx *ctx, strata_group_sums *s)
{
    strata_free(ctx, s->st, 0);
    s->st = NULL;
}

const strat_sums_ops strat_inequality_ops = {ineq_init, ineq_add, ineq_table, sums_done};

strata_status strata_group_inequality(strata_ctx *ctx, const strata_group_params *p,
                                      const strata_strat_input *in, const int32_t *group,
                                      size_t n_groups, const char *const *group_names,
                                      strata_table **out)
{
    return strat_sums_whole(ctx, STRATA_GROUP_INEQUALITY, p, in, group, n_groups, group_names,
                            NULL, out);
}

/* ---- SII/RII of age-standardised values across IMD deciles ------------------------ */

/* Per group, decile and ESP band: people, sum risk, sum risk^2, events (scored). */
#define SLOT 4
#define PER_GROUP (10 * STRATA_ESP_BANDS * SLOT)

/* SII/RII of every group from q (31 doubles per group: 10 populations, 10
 * values, 10 se, count), groups in parallel: each uses its own workspace and
 * the same seed, so results do not depend on the thread count. */
static strata_status sii_groups(strata_ctx *ctx, const strata_sii_params *p, size_t n,
                                const double *q, double *res)
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
        double *o = res + g * 6;
        if (k < 2)
            continue;
        strat_sii_core(p, k, pop, pop + 10, pop + 20, ws + (size_t)omp_get_thread_num() * len, &r);
        o[0] = r.sii, o[1] = r.sii_lo, o[2] = r.sii_hi;
        o[3] = r.rii, o[4] = r.rii_lo, o[5] = r.rii_hi;
    }
    strata_free(ctx, ws, bytes);
    return STRATA_OK;
}

/* Age-standardised mean risk of one decile: ESP weights renormalised over the
 * bands present; se from the within-band variances. 0 when under 2 people. */
static int std_mean(const double *b, double *value, double *se)
{
    const double *w = strata_esp2013();
    double sw = 0, m = 0, v = 0, n = 0;
    for (int a = 0; a < STRATA_ESP_BANDS; a++) {
        const double *x = b + a * SLOT;
        double mean, var;
        if (x[0] < 1)
            continue;
        mean = x[1] / x[0];
        var = x[0] > 1 ? fmax(0, (x[2] - x[1] * mean) / (x[0] - 1)) : 0;
        sw += w[a];
        m += w[a] * mean;
        v += w[a] * w[a] * var / x[0];
        n += x[0];
    }
    if (n < 2 || !(sw > 0))
        return 0;
    *value = m / sw;
    *se = sqrt(v) / sw;
    return 1;
}

/* PHE's DSR of one decile and the se of its log from the Dobson limits. */
static strata_status std_rate(strata_ctx *ctx, const strata_group_params *p, const double *b,
                              int *ok, double *value, double *se)
{
    double x[STRATA_ESP_BANDS], n[STRATA_ESP_BANDS];
    strata_dsr_result r;
    for (int a = 0; a < STRATA_ESP_BANDS; a++) {
        n[a] = b[a * SLOT] > 0 ? b[a * SLOT] : 1; /* an empty band has rate 0 */
        x[a] = b[a * SLOT + 3];
    }
    STRATA_TRY(strata_dsr(ctx, STRATA_ESP_BANDS, x, n, strata_esp2013(), p->level, 1e5, &r));
    *ok = isfinite(r.value) && r.lo > 0;
    if (*ok) {
        *value = r.value;
        *se = (log(r.hi) - log(r.lo)) / (2 * strata_qnorm(0.5 + 0.5 * p->level));
    }
    return STRATA_OK;
}

static strata_status sii_measure(strata_ctx *ctx, const strata_group_params *gp, int measure,
                                 const double *cells, size_t n_groups, double *q, double *res,
                                 double *used)
{
    strata_sii_params sp = gp->sii;
    strata_status s = STRATA_OK;
    if (measure == 1)
        sp.scale = STRATA_SII_RATE;
    for (size_t g = 0; g <= n_groups && s == STRATA_OK; g++) {
        double *pop = q + g * 31, *val = pop + 10, *se = val + 10;
        size_t k = 0;
        for (size_t d = 0; d < 10 && s == STRATA_OK; d++) {
            const double *b = cells + g * PER_GROUP + d * STRATA_ESP_BANDS * SLOT;
            double npop = 0;
            int ok = 0;
            for (int a = 0; a < STRATA_ESP_BANDS; a++)
                npop += b[a * SLOT];
            if (measure == 0)
                ok = std_mean(b, &val[k], &se[k]);
            else
                s = std_rate(ctx, gp, b, &ok, &val[k], &se[k]);
            if (ok && npop >= 2)
                pop[k++] = npop;
        }
        pop[30] = (double)k;
        used[g] = (double)k;
        if (s == STRATA_OK && k >= 2)
            s = strat_sii_check(ctx, &sp, k, pop, val, se);
    }
    if (s == STRATA_OK)
        s = sii_groups(ctx, &sp, n_groups + 1, q, res);
    return s;
}

static strata_status sii_put(strata_ctx *ctx, strata_table *t, int m, const double *res,
                             const double *used, size_t G1)
{
    static const char *const names[7] = {"sii", "sii_lo", "sii_hi", "rii", "rii_lo", "rii_hi",
                                         "deciles_used"};
    for (int k = 0; k < 7; k++) {
        char name[32];
        int j;
        snprintf(name, sizeof name, "%s%s", names[k], m ? "_obs" : "");
        STRATA_TRY(strata_table_add(ctx, t, name, k < 6 ? STRATA_COL_RATIO : STRATA_COL_FLAG,
                                    m ? -5 : 5, -1, -1, &j));
        for (size_t g = 0; g < G1; g++)
            STRATA_TRY(strata_table_set(ctx, t, j, g, k < 6 ? res[g * 6 + (size_t)k] : used[g]));
    }
    return STRATA_OK;
}

static strata_status sii_init(strata_ctx *ctx, strata_group_sums *s)
{
    s->st = strata_calloc(ctx, (s->G + 1) * PER_GROUP, sizeof(double));
    return s->st ? STRATA_OK : STRATA_ENOMEM;
}

/* Per group, IMD decile and ESP band of the scored: people, sum risk, sum
 * risk^2, events, in row order. */
static void sii_add(strata_group_sums *s, int pass, const strata_strat_input *in,
                    const int32_t *group)
{
    const size_t n_groups = s->G;
    double *cells = s->st;
    (void)pass;
    for (size_t i = 0; i < in->n; i++) {
        int d = in->imd_decile[i], a = in->age && in->age[i] <= 120 ? strata_esp_band(in->age[i]) : -1;
        size_t g = (size_t)group[i];
        if (d < 1 || d > 10 || a < 0 || isnan(in->risk[i]))
            continue;
        for (int k = 0; k < 2; k++, g = n_groups) {
            double *b = cells + g * PER_GROUP + ((size_t)(d - 1) * STRATA_ESP_BANDS + (size_t)a) * SLOT;
            b[0] += 1;
            b[1] += in->risk[i];
            b[2] += in->risk[i] * in->risk[i];
            b[3] += in->observed ? in->observed[i] : 0;
        }
    }
}

static strata_status sii_table(strata_ctx *ctx, strata_group_sums *s, const char *const *names,
                               strata_funnel *funnel, strata_table **out)
{
    const strata_group_params *p = &s->p;
    const size_t n_groups = s->G, G1 = n_groups + 1;
    strata_table *t = NULL;
    double *q, *res, *used;
    int nm = s->shape.observed && !p->measure ? 2 : 1; /* a DSR is for counts */
    strata_status st = STRATA_OK;
    (void)funnel;
    STRATA_TRY(strat_new_group_table(ctx, "sii", n_groups, names, &t));
    q = strata_calloc(ctx, G1 * (31 + 7), sizeof *q);
    if (!q) {
        strata_table_free(ctx, t);
        return STRATA_ENOMEM;
    }
    res = q + G1 * 31;
    used = res + G1 * 6;
    for (int m = 0; m < nm && st == STRATA_OK; m++) {
        for (size_t k = 0; k < G1 * 6; k++)
            res[k] = NAN;
        st = sii_measure(ctx, p, m, s->st, n_groups, q, res, used);
        if (st == STRATA_OK)
            st = sii_put(ctx, t, m, res, used, G1);
    }
    strata_free(ctx, q, 0);
    return finish(ctx, st, t, out);
}

const strat_sums_ops strat_sii_ops = {sii_init, sii_add, sii_table, sums_done};

strata_status strata_group_sii(strata_ctx *ctx, const strata_group_params *p,
                               const strata_strat_input *in, const int32_t *group,
                               size_t n_groups, const char *const *group_names,
                               strata_table **out)
{
    return strat_sums_whole(ctx, STRATA_GROUP_SII, p, in, group, n_groups, group_names, NULL,
                            out);
}
