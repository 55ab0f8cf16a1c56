/* engine/evaluate/evaluate_survwrite.c — the written survival evaluation:
 * surv_summary.csv (overall and per by-level: n, events, Harrell's and Uno's C with
 * CIs) and surv_calibration.csv (KM observed vs predicted per risk group), through
 * strata_disclose_set as every aggregate. Invariant: a by-level is its own rows
 * alone (from one external sort by level), the bits of the input with weight 0
 * outside it; observed risks sit on the grid of the rounded counts. */
#include "evaluate_internal.h"

#include "xsort.h"

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

/* One population (its rows from rows): its row of the summary. */
static strata_status summary_row(strata_ctx *ctx, const strata_surv_input *in, const ev_surv_rows *rows,
                                 int32_t n_major, double h, double conf, strata_table *t, size_t row)
{
    double n = 0, ev = 0;
    strata_surv_conc c[2];
    strata_status each[2], st;
    st = ev_surv_pop_concordances(ctx, in, rows, n_major, h, conf, c, each, &n, &ev);
    if (st != STRATA_OK && st != STRATA_EDATA)
        return st; /* no memory, or the scratch file's error */
    STRATA_TRY(strata_table_set(ctx, t, C_N, row, n));
    STRATA_TRY(strata_table_set(ctx, t, C_EV, row, ev));
    for (int k = 0; k < 2; k++) {
        if (st != STRATA_OK || each[k] != STRATA_OK) /* an invalid row (the calibration names it), or no
                                                         comparable pair in this population: NaN */
            c[k].c = c[k].se = c[k].lo = c[k].hi = NAN;
        STRATA_TRY(strata_table_set(ctx, t, C_H + 4 * k, row, c[k].c));
        STRATA_TRY(strata_table_set(ctx, t, C_HSE + 4 * k, row, c[k].se));
        STRATA_TRY(strata_table_set(ctx, t, C_HLO + 4 * k, row, c[k].lo));
        STRATA_TRY(strata_table_set(ctx, t, C_HHI + 4 * k, row, c[k].hi));
    }
    return STRATA_OK;
}

/* A by-column's kept rows (weight != 0) grouped by level through the external
 * sort (major: the level; rows ascending within it): level l's rows are the
 * next count[l] rows of the stream. A level's population is its own rows: the
 * rows with weight 0 take no part in a concordance, its sums or its lp ranks,
 * so it gives the bits of the whole input with the other levels' weights zeroed. */
typedef struct sv_levels {
    strata_xsort *x;
    size_t *count; /* n_levels */
    size_t left;   /* rows of the current level not yet given */
    uint64_t key[512];
} sv_levels;

static strata_status level_rows(strata_ctx *ctx, void *arg, size_t *rows, size_t max, size_t *got)
{
    sv_levels *g = arg;
    size_t want = g->left < max ? g->left : max;
    if (want > 512)
        want = 512;
    *got = 0;
    if (want)
        STRATA_TRY(strata_xsort_read(ctx, g->x, g->key, rows, want, got));
    if (*got != want)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "survival evaluation: the by-levels' stream ended early");
    g->left -= *got;
    return STRATA_OK;
}

static strata_status level_group(strata_ctx *ctx, const strata_surv_input *in, const strata_eval_by *b,
                                 sv_levels *g)
{
    size_t L = b->n_levels, m = 0, budget = strata_ctx_memory_budget(ctx);
    strata_status st = STRATA_OK;
    if (!(g->count = strata_calloc(ctx, L + 1, sizeof *g->count)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < in->n; i++)
        if (SV_W(in, i) != 0 && b->codes[i] >= 0 && (size_t)b->codes[i] < L) {
            g->count[b->codes[i]]++;
            m++;
        }
    STRATA_TRY(strata_xsort_begin_pushed(ctx, m, L ? L : 1, budget / EV_SV_SHARE,
                                         "survival evaluation: the by-levels", &g->x));
    for (size_t i = 0; st == STRATA_OK && i < in->n; i++)
        if (SV_W(in, i) != 0 && b->codes[i] >= 0 && (size_t)b->codes[i] < L)
            st = strata_xsort_push_major(ctx, g->x, b->codes[i], 0, i);
    return st == STRATA_OK ? strata_xsort_end(ctx, g->x) : st;
}

static strata_status summary_table(strata_ctx *ctx, const strata_surv_input *in, double h, const strata_eval_by *by,
                                   size_t n_by, double conf, strata_table **out)
{
    size_t rows = 1, r = 0, at[2] = {0, in->n};
    ev_surv_rows all = {ev_surv_all_rows, at, in->n};
    int32_t n_major = ev_surv_n_major(in);
    strata_table *t;
    strata_status st = STRATA_OK;
    for (size_t b = 0; b < n_by; b++)
        rows += by[b].n_levels;
    STRATA_TRY(strata_table_new(ctx, "surv_summary", rows, &t));
    *out = t;
    STRATA_TRY(add_cols(ctx, t, sum_names, NSC, C_EV));
    STRATA_TRY(strata_table_set_key(ctx, t, C_BY, r, "overall"));
    STRATA_TRY(strata_table_set_key(ctx, t, C_LEVEL, r, "all"));
    st = summary_row(ctx, in, &all, n_major, h, conf, t, r++);
    for (size_t b = 0; st == STRATA_OK && b < n_by; b++) {
        sv_levels g;
        ev_surv_rows lv = {level_rows, &g, 0};
        memset(&g, 0, sizeof g);
        st = level_group(ctx, in, &by[b], &g);
        for (size_t l = 0; st == STRATA_OK && l < by[b].n_levels; l++, r++) {
            lv.n = g.left = g.count[l];
            if ((st = strata_table_set_key(ctx, t, C_BY, r, by[b].name)) == STRATA_OK &&
                (st = strata_table_set_key(ctx, t, C_LEVEL, r, by[b].levels[l])) == STRATA_OK)
                st = summary_row(ctx, in, &lv, n_major, h, conf, t, r);
        }
        strata_xsort_free(ctx, g.x);
        strata_free(ctx, g.count, 0);
    }
    return st == STRATA_ENOMEM ? STRATA_FAIL(ctx, st, "survival evaluation: out of memory") : st;
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

/* The least memory budget the written evaluation runs in (docs/scale.md,
 * "Survival evaluation in memory and under a budget"): five shares, each at least the
 * external sort's floor for n rows, one chunk of the concordance's trees with
 * the chunks' totals, and a window of records; and 64 kB for the tables. */
size_t strata_surv_evaluate_bytes(size_t n)
{
    return ev_surv_min_bytes(n);
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
                           "survival evaluation of %zu rows (Harrell's and Uno's C, calibration): even streamed "
                           "through scratch files it needs %zu bytes, over the memory budget of %zu bytes",
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
