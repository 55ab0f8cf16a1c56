/* engine/evaluate/evaluate_survwrite.c — the written survival evaluation:
 * surv_summary.csv (overall and per by-level: n, events, Harrell's and Uno's C with
 * CIs) and surv_calibration.csv (KM observed vs predicted per risk group), through
 * strata_disclose_set as every aggregate. Invariant: a by-level is its own rows
 * alone, the bits of the input with weight 0 outside it; observed risks sit on the
 * grid of the rounded counts. */
#include "evaluate_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { C_BY, C_LEVEL, C_N, C_EV, C_H, C_HSE, C_HLO, C_HHI, C_U, C_USE, C_ULO, C_UHI, NSC };
static const char *const sum_names[NSC] = {"by", "level", "n", "events", "c_harrell", "c_harrell_se",
                                           "c_harrell_lo", "c_harrell_hi", "c_uno", "c_uno_se",
                                           "c_uno_lo", "c_uno_hi"};

/* Adds the columns: keys, two counts, the rest gated by column `gate`. */
static strata_status add_cols(strata_ctx *ctx, strata_table *t, const char *const *names, int n, int gate)
{
    for (int k = 0, j; k < n; k++)
        STRATA_TRY(strata_table_add(ctx, t, names[k],
                                    k < 2 ? STRATA_COL_KEY : k < 4 ? STRATA_COL_COUNT : STRATA_COL_MEAN,
                                    4, k < 4 ? -1 : gate, -1, &j));
    return STRATA_OK;
}

/* One population (weights w): its row of the summary. */
static strata_status summary_row(strata_ctx *ctx, const strata_surv_input *in, double h, double conf,
                                 strata_table *t, size_t row)
{
    static const strata_conc_weight tw[2] = {STRATA_CONC_HARRELL, STRATA_CONC_UNO};
    double n = 0, ev = 0;
    strata_surv_conc c[2];
    strata_status each[2], st;
    for (size_t i = 0; i < in->n; i++) {
        double w = SV_W(in, i);
        n += w;
        ev += in->event[i] == 1 && in->time[i] <= h ? w : 0;
    }
    STRATA_TRY(strata_table_set(ctx, t, C_N, row, n));
    STRATA_TRY(strata_table_set(ctx, t, C_EV, row, ev));
    if ((st = ev_surv_concordances(ctx, in, tw, 2, conf, c, each)) == STRATA_ENOMEM)
        return st;
    if (st != STRATA_OK)
        strata_ctx_clear_error(ctx); /* an invalid row: NaN, as before (the calibration names a bad time,
                                        event, weight or stratum) */
    for (int k = 0; k < 2; k++) {
        if (st != STRATA_OK || each[k] != STRATA_OK) /* no comparable pair in this population: NaN */
            c[k].c = c[k].se = c[k].lo = c[k].hi = NAN;
        STRATA_TRY(strata_table_set(ctx, t, C_H + 4 * k, row, c[k].c));
        STRATA_TRY(strata_table_set(ctx, t, C_HSE + 4 * k, row, c[k].se));
        STRATA_TRY(strata_table_set(ctx, t, C_HLO + 4 * k, row, c[k].lo));
        STRATA_TRY(strata_table_set(ctx, t, C_HHI + 4 * k, row, c[k].hi));
    }
    return STRATA_OK;
}

/* A level's kept rows (weight != 0, in row order) gathered from in into
 * compact columns: the rows with weight 0 take no part in a concordance, its
 * sums or its lp ranks (strata_surv_concordance drops them first), so the
 * compact population gives the bits of the whole input with the other levels'
 * weights zeroed, at the level's size instead of n. */
typedef struct sv_level {
    double *t, *e, *lp, *w; /* cap rows each */
    int32_t *s;
    size_t cap;
    size_t *pos, *start;    /* n: rows grouped by level; n_levels + 1: the groups' starts */
} sv_level;

static void sv_level_free(strata_ctx *ctx, sv_level *c)
{
    STRATA_FREE_ALL(ctx, c->t, c->s, c->pos, c->start);
}

/* Groups the kept rows of by-column b by level (a counting sort: row order within
 * a level); *cap gets the largest level. */
static void level_groups(const strata_surv_input *in, const strata_eval_by *b, sv_level *c, size_t *cap)
{
    size_t L = b->n_levels;
    memset(c->start, 0, (L + 1) * sizeof *c->start);
    for (size_t i = 0; i < in->n; i++)
        if (SV_W(in, i) != 0 && b->codes[i] >= 0 && (size_t)b->codes[i] < L)
            c->start[b->codes[i] + 1]++;
    *cap = 0;
    for (size_t l = 0; l < L; l++) {
        *cap = c->start[l + 1] > *cap ? c->start[l + 1] : *cap;
        c->start[l + 1] += c->start[l];
    }
    for (size_t i = 0; i < in->n; i++) /* start[l] runs to the end of level l, then back below */
        if (SV_W(in, i) != 0 && b->codes[i] >= 0 && (size_t)b->codes[i] < L)
            c->pos[c->start[b->codes[i]]++] = i;
    for (size_t l = L; l > 0; l--)
        c->start[l] = c->start[l - 1];
    c->start[0] = 0;
}

/* Level l's rows as the population sub. */
static void level_gather(const strata_surv_input *in, const sv_level *c, size_t l, strata_surv_input *sub)
{
    size_t m = 0;
    for (size_t k = c->start[l]; k < c->start[l + 1]; k++, m++) {
        size_t i = c->pos[k];
        c->t[m] = in->time[i];
        c->e[m] = in->event[i];
        c->lp[m] = in->lp[i];
        c->w[m] = SV_W(in, i);
        if (in->stratum)
            c->s[m] = in->stratum[i];
    }
    *sub = (strata_surv_input){m, c->t, c->e, c->lp, NULL, c->w, in->stratum ? c->s : NULL};
}

/* The by-columns' grouping (n rows, the most levels). */
static strata_status level_alloc(strata_ctx *ctx, const strata_surv_input *in, const strata_eval_by *by,
                                 size_t n_by, sv_level *c)
{
    size_t L = 0;
    for (size_t b = 0; b < n_by; b++)
        L = by[b].n_levels > L ? by[b].n_levels : L;
    memset(c, 0, sizeof *c);
    c->pos = strata_alloc(ctx, (in->n + 1) * sizeof *c->pos);
    c->start = strata_alloc(ctx, (L + 2) * sizeof *c->start);
    return c->pos && c->start ? STRATA_OK : STRATA_ENOMEM;
}

/* The gathered columns grown to cap rows (the largest level so far). */
static strata_status level_grow(strata_ctx *ctx, size_t cap, sv_level *c)
{
    if (cap <= c->cap && c->t)
        return STRATA_OK;
    strata_free(ctx, c->t, 0);
    strata_free(ctx, c->s, 0);
    c->cap = cap;
    c->t = strata_alloc(ctx, 4 * (cap + 1) * sizeof *c->t);
    c->s = strata_alloc(ctx, (cap + 1) * sizeof *c->s);
    if (!c->t || !c->s)
        return STRATA_ENOMEM;
    c->e = c->t + (cap + 1);
    c->lp = c->e + (cap + 1);
    c->w = c->lp + (cap + 1);
    return STRATA_OK;
}

static strata_status summary_table(strata_ctx *ctx, const strata_surv_input *in, double h, const strata_eval_by *by,
                                   size_t n_by, double conf, strata_table **out)
{
    size_t rows = 1, r = 0, cap;
    strata_surv_input sub;
    sv_level c;
    strata_table *t;
    strata_status st = STRATA_OK;
    for (size_t b = 0; b < n_by; b++)
        rows += by[b].n_levels;
    STRATA_TRY(strata_table_new(ctx, "surv_summary", rows, &t));
    *out = t;
    STRATA_TRY(add_cols(ctx, t, sum_names, NSC, C_EV));
    STRATA_TRY(strata_table_set_key(ctx, t, C_BY, r, "overall"));
    STRATA_TRY(strata_table_set_key(ctx, t, C_LEVEL, r, "all"));
    STRATA_TRY(summary_row(ctx, in, h, conf, t, r++));
    st = n_by ? level_alloc(ctx, in, by, n_by, &c) : (memset(&c, 0, sizeof c), STRATA_OK);
    for (size_t b = 0; st == STRATA_OK && b < n_by; b++) {
        level_groups(in, &by[b], &c, &cap);
        if ((st = level_grow(ctx, cap, &c)) != STRATA_OK)
            break;
        for (size_t l = 0; st == STRATA_OK && l < by[b].n_levels; l++, r++) {
            level_gather(in, &c, l, &sub);
            if ((st = strata_table_set_key(ctx, t, C_BY, r, by[b].name)) == STRATA_OK &&
                (st = strata_table_set_key(ctx, t, C_LEVEL, r, by[b].levels[l])) == STRATA_OK)
                st = summary_row(ctx, &sub, h, conf, t, r);
        }
    }
    sv_level_free(ctx, &c);
    return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "survival evaluation: out of memory for the by-levels") : st;
}

enum { K_GROUP, K_RANGE, K_N, K_EV, K_PRED, K_RAW, K_RAWLO = K_RAW + 1, K_RAWHI = K_RAW + 2, NKC };
static const char *const cal_names[3] = {"observed", "observed_lo", "observed_hi"};

/* Observed risks onto the grid of the rounded counts (a derived column, computed
 * at disclosure from the published n): risk x n (published) is then a multiple of
 * the rounding base, so 1 - KM times n cannot give back the event count that
 * rounding hid (DESIGN 7: disclosure survives arithmetic). */
static strata_status calibration_cols(strata_ctx *ctx, strata_table *t)
{
    int j;
    STRATA_TRY(strata_table_add(ctx, t, "group", STRATA_COL_KEY, 0, -1, -1, &j));
    STRATA_TRY(strata_table_add(ctx, t, "predicted_range", STRATA_COL_KEY, 0, -1, -1, &j));
    STRATA_TRY(strata_table_add(ctx, t, "n", STRATA_COL_COUNT, 0, -1, -1, &j));
    STRATA_TRY(strata_table_add(ctx, t, "events", STRATA_COL_COUNT, 0, -1, -1, &j));
    /* predictions are not outcomes: gated by the rows */
    STRATA_TRY(strata_table_add(ctx, t, "mean_predicted", STRATA_COL_MEAN, 4, K_N, -1, &j));
    for (int k = 0; k < 3; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "%s_exact", cal_names[k]); /* never written */
        STRATA_TRY(strata_table_add(ctx, t, nm, STRATA_COL_INTERNAL, 4, -1, -1, &j));
    }
    for (int k = 0; k < 3; k++) {
        strata_recipe d;
        strata_recipe_init(&d, STRATA_RECIPE_GRID, K_RAW + k, K_N);
        d.c = K_EV; /* withheld with the events */
        STRATA_TRY(strata_table_add_derived(ctx, t, cal_names[k], &d, 4, &j));
    }
    return STRATA_OK;
}

static strata_status calibration_table(strata_ctx *ctx, const strata_surv_input *in, double h, int n_bins,
                                       double conf, strata_table **out)
{
    strata_surv_calib bins[256];
    int nb = 0;
    char key[64];
    strata_table *t;
    STRATA_TRY(strata_surv_calibration(ctx, in, h, n_bins, conf, bins, &nb));
    STRATA_TRY(strata_table_new(ctx, "surv_calibration", (size_t)nb, &t));
    *out = t;
    STRATA_TRY(calibration_cols(ctx, t));
    for (int g = 0; g < nb; g++) {
        const double v[6] = {bins[g].n, bins[g].events, bins[g].pred,
                             bins[g].obs, bins[g].obs_lo, bins[g].obs_hi};
        snprintf(key, sizeof key, "%d", g + 1);
        STRATA_TRY(strata_table_set_key(ctx, t, K_GROUP, (size_t)g, key));
        snprintf(key, sizeof key, "%.4f-%.4f", bins[g].p_min, bins[g].p_max);
        STRATA_TRY(strata_table_set_key(ctx, t, K_RANGE, (size_t)g, key));
        for (int k = 0; k < 6; k++)
            STRATA_TRY(strata_table_set(ctx, t, K_N + k, (size_t)g, v[k]));
    }
    return STRATA_OK;
}

/* The most the written evaluation allocates (docs/scale.md, "Survival evaluation
 * in memory"): a by-level holding every row — the grouping 8, the gathered level
 * 36 and its concordance 88 bytes a row (the overall C's 88 and the calibration's
 * 48 are less) — and 1 MiB for the tables. */
size_t strata_surv_evaluate_bytes(size_t n)
{
    return 132 * (n + 1) + ((size_t)1 << 20);
}

strata_status strata_surv_evaluate_write(strata_ctx *ctx, const strata_surv_input *in, double horizon,
                                         const strata_eval_by *by, size_t n_by, const strata_eval_params *par,
                                         const char *outdir)
{
    strata_table *t[2] = {NULL, NULL};
    strata_sdc_params sp;
    struct stat sb;
    strata_status st;
    size_t budget = strata_ctx_memory_budget(ctx), need;
    STRATA_TRY(strata_eval_params_check(ctx, par));
    need = strata_surv_evaluate_bytes(in ? in->n : 0);
    if (budget && need > budget) /* refused before anything is written */
        return STRATA_FAIL(ctx, STRATA_ENOMEM,
                           "survival evaluation of %zu rows holds its rows in memory (it does not stream): it "
                           "may take %zu bytes, over the memory budget of %zu bytes",
                           in->n, need, budget);
    if (stat(outdir, &sb) != 0 && mkdir(outdir, 0755) != 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create directory: %s", outdir, strerror(errno));
    st = summary_table(ctx, in, horizon, by, n_by, par->conf_level, &t[0]);
    if (st == STRATA_OK)
        st = calibration_table(ctx, in, horizon, par->n_bins, par->conf_level, &t[1]);
    strata_sdc_params_init(&sp);
    sp.enabled = par->disclosure != 0;
    sp.lo = 1e-9; /* weighted counts: anything that rounds to 1..max is small */
    sp.hi = par->sdc_suppress_max + 0.5;
    sp.round_to = par->sdc_round_to;
    if (st == STRATA_OK)
        st = strata_disclose_set(ctx, &sp, 2, t);
    for (int k = 0; st == STRATA_OK && k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.csv", outdir, strata_table_name(t[k]));
        st = strata_table_write_csv(ctx, t[k], path);
    }
    strata_table_free(ctx, t[0]);
    strata_table_free(ctx, t[1]);
    return st;
}
