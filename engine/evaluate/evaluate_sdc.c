/* engine/evaluate/evaluate_sdc.c — the evaluation report as disclosure-controlled
 * aggregate tables (strata_table + strata_disclose_set, docs/stratify.md §6):
 * summary, risk groups, yield, net benefit and calibration curve.
 * Invariant: the report itself is never changed; every written count is 0,
 * hidden, or rounded, and a value that would give a hidden count back is hidden. */
#include "evaluate_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One population: "overall"/"all" or a level of a by-column. */
typedef struct ev_pop {
    const char *by, *level;
    const strata_eval_metrics *m;
} ev_pop;

/* A block: the overall population, or one by-column (overall + its levels, the
 * levels partitioning the overall row). Sub-tables per kind; srow[k][i] = the
 * block's summary row that row i of kind k belongs to. */
typedef struct ev_block {
    size_t npop;
    ev_pop *pop;
    strata_table *t[EV_NKIND];
    int32_t *srow[EV_NKIND];
} ev_block;

static size_t rows_of(int kind, const strata_eval_metrics *m)
{
    switch (kind) {
    case EV_SUMMARY: return 1;
    case EV_BINS: return m->n_bins > 0 ? (size_t)m->n_bins : 0;
    case EV_YIELD: return m->n_top;
    case EV_NB: return m->n_nb;
    default: return m->n_curve;
    }
}

static const char *const KIND_NAME[EV_NKIND] = {"summary", "risk_groups", "yield",
                                                 "net_benefit", "calibration_curve"};

typedef struct col_spec {
    const char *name;
    strata_col_kind kind;
    const char *base; /* MEAN: gating count column */
} col_spec;

#define C_(n) {n, STRATA_COL_COUNT, NULL}
#define R_(n) {n, STRATA_COL_RATIO, NULL}
#define M_(n, b) {n, STRATA_COL_MEAN, b}
#define F_(n) {n, STRATA_COL_FLAG, NULL}

static const col_spec SUMMARY[] = {
    C_("n_rows"), C_("n"), C_("observed"), M_("expected", "n"), C_("n_events"), R_("c"),
    R_("c_se"), R_("c_lo"), R_("c_hi"), R_("oe"), R_("oe_lo"), R_("oe_hi"), R_("citl"),
    R_("citl_se"), R_("citl_lo"), R_("citl_hi"), R_("cal_intercept"), R_("cal_intercept_se"),
    R_("slope"), R_("slope_se"), R_("slope_lo"), R_("slope_hi"), M_("brier", "n"),
    R_("brier_scaled"), M_("deviance", "n"), R_("null_deviance"), R_("pseudo_r2"),
    R_("hl_chi2"), F_("hl_df"), R_("hl_p"), F_("small"), F_("oe_differs"), F_("slope_differs"),
    F_("c_differs"), F_("noconv")};
static const col_spec BINS[] = {F_("group"), C_("n"), C_("observed"), M_("expected", "n"),
                                R_("p_min"), R_("p_max")};
static const col_spec YIELD[] = {R_("top_frac"), C_("n_flagged"), C_("observed"),
                                 R_("sensitivity"), R_("ppv"), R_("nns"), R_("p_cut")};
static const col_spec NB[] = {R_("threshold"), R_("nb_model"), R_("nb_all"), R_("nb_none")};
static const col_spec CURVE[] = {F_("point"), C_("n"), C_("observed"), M_("lp_mean", "n"),
                                 M_("p_pred", "n"), M_("obs_bin", "observed"), R_("obs_smooth")};

static const col_spec *spec_of(int kind, size_t *n)
{
    static const col_spec *const s[EV_NKIND] = {SUMMARY, BINS, YIELD, NB, CURVE};
    static const size_t c[EV_NKIND] = {sizeof SUMMARY / sizeof *SUMMARY,
                                       sizeof BINS / sizeof *BINS, sizeof YIELD / sizeof *YIELD,
                                       sizeof NB / sizeof *NB, sizeof CURVE / sizeof *CURVE};
    *n = c[kind];
    return s[kind];
}

/* Gamma and Gaussian outcomes are sums of a measure (e.g. cost), not counts:
 * "observed" is a total over people, gated by the people it sums (MEAN); the
 * curve has no event count. */
static strata_status add_cols(strata_ctx *ctx, strata_table *t, int kind, strata_family f,
                              double level)
{
    size_t n;
    const col_spec *s = spec_of(kind, &n);
    int j;
    STRATA_TRY(strata_table_add(ctx, t, kind == EV_SUMMARY ? "key" : s[0].name,
                                kind == EV_SUMMARY ? STRATA_COL_KEY : s[0].kind, 10, -1, -1, &j));
    STRATA_TRY(strata_table_add(ctx, t, "by", STRATA_COL_KEY, 0, -1, -1, &j));
    STRATA_TRY(strata_table_add(ctx, t, "level", STRATA_COL_KEY, 0, -1, -1, &j));
    for (size_t c = kind == EV_SUMMARY ? 0 : 1; c < n; c++) {
        strata_col_kind k = s[c].kind;
        const char *base = s[c].base;
        if (ev_measure_outcome(f) && strcmp(s[c].name, "observed") == 0) {
            if (kind == EV_CURVE)
                continue;
            k = STRATA_COL_MEAN;
            base = kind == EV_YIELD ? "n_flagged" : "n";
        }
        if (ev_measure_outcome(f) && base && strcmp(base, "observed") == 0)
            base = "n";
        if (kind == EV_SUMMARY && !ev_measure_outcome(f)) {
            if (!strcmp(s[c].name, "expected")) {
                /* E = O within a model factor's levels: a total, rounded like a count */
                STRATA_TRY(strata_table_add(ctx, t, "expected", STRATA_COL_TOTAL, 10,
                                            strata_table_find(t, "n"),
                                            strata_table_find(t, "observed"), &j));
                continue;
            }
            if (!strcmp(s[c].name, "oe") || !strcmp(s[c].name, "oe_lo") ||
                !strcmp(s[c].name, "oe_hi")) {
                STRATA_TRY(ev_add_oe(ctx, t, f, s[c].name, "observed", level, 10));
                continue;
            }
        }
        STRATA_TRY(strata_table_add(ctx, t, s[c].name, k, 10,
                                    base ? strata_table_find(t, base) : -1, -1, &j));
    }
    return STRATA_OK;
}

/* Sets a built value (a derived column is computed at disclosure instead). */
static void put(strata_table *t, const char *col, size_t i, double v)
{
    int j = strata_table_find(t, col);
    strata_col_kind k = strata_table_col_kind(t, j);
    if (j >= 0 && k != STRATA_COL_DERIVED && k != STRATA_COL_PCT)
        (void)strata_table_set(NULL, t, j, i, isfinite(v) ? v : NAN); /* cannot fail here */
}

static void fill_rows(strata_table *t, int kind, size_t i0, const strata_eval_metrics *m)
{
    size_t k, i;
    if (kind == EV_SUMMARY) {
        const double v[] = {(double)m->n_rows, m->n, m->observed, m->expected, m->n_events, m->c,
                            m->c_se, m->c_lo, m->c_hi, m->oe, m->oe_lo, m->oe_hi, m->citl,
                            m->citl_se, m->citl_lo, m->citl_hi, m->cal_a, m->cal_a_se, m->slope,
                            m->slope_se, m->slope_lo, m->slope_hi, m->brier, m->brier_scaled,
                            m->deviance, m->null_deviance, m->pseudo_r2, m->hl_chi2,
                            m->hl_df > 0 ? (double)m->hl_df : NAN, m->hl_p,
                            (m->flags & STRATA_EVAL_FLAG_SMALL) ? 1 : 0,
                            (m->flags & STRATA_EVAL_FLAG_OE_DIFFERS) ? 1 : 0,
                            (m->flags & STRATA_EVAL_FLAG_SLOPE_DIFFERS) ? 1 : 0,
                            (m->flags & STRATA_EVAL_FLAG_C_DIFFERS) ? 1 : 0,
                            (m->flags & STRATA_EVAL_FLAG_NOCONV) ? 1 : 0};
        for (k = 0; k < sizeof v / sizeof *v; k++)
            put(t, SUMMARY[k].name, i0, v[k]);
        return;
    }
    for (k = 0, i = i0; k < rows_of(kind, m); k++, i++) {
        if (kind == EV_BINS) {
            const strata_eval_bin *b = &m->bins[k];
            const double v[] = {(double)(k + 1), b->n, b->observed, b->expected, b->p_min,
                                b->p_max};
            for (size_t c = 0; c < sizeof v / sizeof *v; c++)
                put(t, BINS[c].name, i, v[c]);
        } else if (kind == EV_YIELD) {
            const strata_eval_yield *y = &m->top[k];
            const double v[] = {y->frac, y->n_flagged, y->observed, y->sensitivity, y->ppv,
                                y->nns, y->p_cut};
            for (size_t c = 0; c < sizeof v / sizeof *v; c++)
                put(t, YIELD[c].name, i, v[c]);
        } else if (kind == EV_NB) {
            const double v[] = {m->nb[k].threshold, m->nb[k].nb_model, m->nb[k].nb_all, 0.0};
            for (size_t c = 0; c < sizeof v / sizeof *v; c++)
                put(t, NB[c].name, i, v[c]);
        } else {
            const strata_eval_curve_pt *p = &m->curve[k];
            const double v[] = {(double)(k + 1), p->n, p->obs_bin * p->n, p->lp_mean,
                                p->p_pred, p->obs_bin, p->obs_smooth};
            for (size_t c = 0; c < sizeof v / sizeof *v; c++)
                put(t, CURVE[c].name, i, v[c]);
        }
    }
}

/* Sub-table of one kind for a block. The summary carries the overall row first
 * (row 0) with the levels as its members; other kinds only the block's own
 * populations (the overall one in block 0), each row tied to its summary row. */
static strata_status build_sub(strata_ctx *ctx, const strata_eval_params *par, int kind, ev_block *b,
                               int first_pop)
{
    size_t nr = 0, i = 0;
    strata_table *t;
    int32_t *srow;
    for (size_t q = (size_t)first_pop; q < b->npop; q++)
        nr += rows_of(kind, b->pop[q].m);
    STRATA_TRY(strata_table_new(ctx, KIND_NAME[kind], nr, &b->t[kind]));
    t = b->t[kind];
    STRATA_TRY(add_cols(ctx, t, kind, par->family, par->conf_level));
    srow = b->srow[kind] = strata_alloc(ctx, (nr + 1) * sizeof *srow);
    if (!srow)
        return STRATA_ENOMEM;
    for (size_t q = (size_t)first_pop; q < b->npop; q++) {
        size_t nq = rows_of(kind, b->pop[q].m);
        fill_rows(t, kind, i, b->pop[q].m);
        for (size_t k = 0; k < nq; k++, i++) {
            srow[i] = (int32_t)q;
            if (kind == EV_SUMMARY) {
                char key[512];
                snprintf(key, sizeof key, "%s\x1f%s", b->pop[q].by, b->pop[q].level);
                STRATA_TRY(strata_table_set_key(ctx, t, 0, i, key));
                if (q > 0)
                    STRATA_TRY(strata_table_set_total_row(ctx, t, i, 0));
            }
            STRATA_TRY(strata_table_set_key(ctx, t, 1, i, b->pop[q].by));
            STRATA_TRY(strata_table_set_key(ctx, t, 2, i, b->pop[q].level));
        }
    }
    if (kind == EV_BINS || kind == EV_CURVE)
        STRATA_TRY(strata_table_set_parent(ctx, t, b->t[EV_SUMMARY], srow));
    return STRATA_OK;
}

static int hid(const strata_table *t, const char *col, size_t i)
{
    return strata_table_hidden(t, strata_table_find(t, col), i);
}

/* Withholds a further non-count cell of a published table (counts are the
 * disclosure path's alone: withholding one of them could open a relation). */
static void hide(strata_table *t, const char *col, size_t i)
{
    int j = strata_table_find(t, col);
    strata_col_kind k = strata_table_col_kind(t, j);
    if (j >= 0 && k != STRATA_COL_KEY && k != STRATA_COL_COUNT && k != STRATA_COL_TOTAL)
        (void)strata_table_hide(NULL, t, j, i); /* a published non-count cell: cannot fail */
}

static void hide_list(strata_table *t, const char *const *cols, size_t i)
{
    for (; *cols; cols++)
        hide(t, *cols, i);
}

/* A population of 1-7 people shows nothing but its keys, flags and counts
 * (the counts are withheld by the disclosure path itself). */
static void hide_row(strata_table *t, size_t i, const char *keep)
{
    for (size_t j = 0; j < strata_table_ncols(t); j++) {
        const char *nm = strata_table_col_name(t, (int)j);
        if ((keep && strcmp(nm, keep) == 0) ||
            (strata_table_col_kind(t, 0) == STRATA_COL_KEY &&
             strata_table_col_kind(t, (int)j) == STRATA_COL_FLAG))
            continue;
        hide(t, nm, i);
    }
}

void ev_sdc_params(const strata_eval_params *par, strata_sdc_params *sp)
{
    strata_sdc_params_init(sp);
    sp->enabled = par->disclosure != 0;
    sp->lo = 1e-9; /* weighted counts: anything that rounds to 1..max is small */
    sp->hi = par->sdc_suppress_max + 0.5;
    sp->round_to = par->sdc_round_to;
}

strata_status ev_add_oe(strata_ctx *ctx, strata_table *t, strata_family f, const char *name,
                        const char *obs_col, double level, int decimals)
{
    strata_recipe d;
    int j;
    strata_recipe_init(&d, STRATA_RECIPE_OE_LOG, strata_table_find(t, obs_col),
                       strata_table_find(t, "expected"));
    d.c = f == STRATA_FAMILY_BINOMIAL ? strata_table_find(t, "n") : -1;
    d.part = !strcmp(name, "oe") ? 0 : !strcmp(name, "oe_lo") ? 1 : 2;
    d.level = level;
    return strata_table_add_derived(ctx, t, name, &d, decimals, &j);
}

/* A population (or event count) the rules call small: 0 < x < max + 0.5. */
static int small_pop(const strata_sdc_params *sp, double x)
{
    return x >= sp->lo && x <= sp->hi;
}

/* The evaluation's rule for one row of a subgroup table (summary, or the run's
 * fairness table): a population of 1-7 people shows only keys, flags and
 * counts; where the events are withheld, every measure of the event rate. */
void ev_protect_row(strata_table *t, size_t i, const strata_sdc_params *sp, double n_raw,
                    double events_raw)
{
    static const char *const by_events[] = {
        "oe", "oe_lo", "oe_hi", "c", "c_se", "c_lo", "c_hi", "c_statistic", "brier_scaled",
        "null_deviance", "pseudo_r2", "hl_chi2", "hl_df", "hl_p", NULL};
    if (!sp->enabled)
        return;
    if (small_pop(sp, n_raw))
        hide_row(t, i, NULL);
    if (small_pop(sp, events_raw) || hid(t, "observed", i) || hid(t, "n_events", i) ||
        hid(t, "events", i))
        hide_list(t, by_events, i);
}

/* Values that give a withheld count back (the stratify module's rules, extended
 * to the evaluation measures), applied after disclosure. */
static void protect_block(ev_block *b, const strata_sdc_params *sp)
{
    static const char *const yield_obs[] = {"sensitivity", "ppv", "nns", NULL};
    strata_table *s = b->t[EV_SUMMARY];
    for (size_t i = 0; i < strata_table_nrows(s); i++)
        ev_protect_row(s, i, sp, b->pop[i].m->n, b->pop[i].m->n_events);
    for (int k = EV_BINS; k < EV_NKIND; k++) {
        strata_table *t = b->t[k];
        for (size_t i = 0; i < strata_table_nrows(t); i++) {
            size_t q = (size_t)b->srow[k][i];
            int pop_n = small_pop(sp, b->pop[q].m->n);
            int pop_e = hid(s, "observed", q) || hid(s, "n_events", q) ||
                        small_pop(sp, b->pop[q].m->n_events);
            if (pop_n)
                hide_row(t, i, strata_table_col_name(t, 0));
            if (k == EV_BINS && hid(t, "observed", i))
                hide(t, "expected", i);
            if (k == EV_YIELD) {
                if (pop_e)
                    hide(t, "sensitivity", i);
                if (hid(t, "observed", i))
                    hide_list(t, yield_obs, i);
                if (hid(t, "n_flagged", i)) {
                    hide(t, "ppv", i);
                    hide(t, "nns", i);
                }
            }
            if (k == EV_NB && pop_e) {
                hide(t, "nb_model", i);
                hide(t, "nb_all", i);
            }
            if (k == EV_CURVE) {
                if (pop_e)
                    hide(t, "obs_smooth", i);
                if (hid(t, "n", i))
                    hide(t, "obs_bin", i);
            }
        }
    }
}

/* The written table of one kind: by, level, then the blocks' columns (without
 * the summary's internal key and the by-blocks' copies of the overall row). */
static strata_status concat(strata_ctx *ctx, int kind, size_t nb, ev_block *b, strata_table **out)
{
    const strata_table *s0 = b[0].t[kind];
    size_t nc = 0, ncols = strata_table_ncols(s0);
    const char **cols = strata_calloc(ctx, ncols + 1, sizeof *cols);
    const strata_table **parts = strata_calloc(ctx, nb + 1, sizeof *parts);
    size_t *first = strata_calloc(ctx, nb + 1, sizeof *first);
    strata_status st = STRATA_ENOMEM;
    if (cols && parts && first) {
        cols[nc++] = strata_table_col_name(s0, 1); /* by, level, [first column], the rest */
        cols[nc++] = strata_table_col_name(s0, 2);
        if (kind != EV_SUMMARY)
            cols[nc++] = strata_table_col_name(s0, 0);
        for (size_t c = 3; c < ncols; c++)
            cols[nc++] = strata_table_col_name(s0, (int)c);
        for (size_t k = 0; k < nb; k++) {
            parts[k] = b[k].t[kind];
            first[k] = kind == EV_SUMMARY && k > 0;
        }
        st = strata_table_stack(ctx, KIND_NAME[kind], nb, parts, first, cols, nc, out);
    }
    STRATA_FREE_ALL(ctx, (void *)cols, (void *)parts, first);
    return st;
}

static void blocks_free(strata_ctx *ctx, ev_block *b, size_t nb)
{
    for (size_t k = 0; b && k < nb; k++) {
        for (int kind = EV_NKIND - 1; kind >= 0; kind--) { /* children before their parent */
            strata_table_free(ctx, b[k].t[kind]);
            strata_free(ctx, b[k].srow[kind], 0);
        }
        strata_free(ctx, b[k].pop, 0);
    }
    strata_free(ctx, b, 0);
}

void ev_out_free(strata_ctx *ctx, ev_out *o)
{
    for (int k = 0; k < EV_NKIND; k++) {
        strata_table_free(ctx, o->t[k]);
        strata_free(ctx, o->start[k], 0);
        o->t[k] = NULL;
        o->start[k] = NULL;
    }
}

static strata_status make_blocks(strata_ctx *ctx, const strata_eval_report *r, ev_block **out,
                                 size_t *nb_out)
{
    size_t nb = 1, g, k;
    ev_block *b;
    for (g = 0; g < r->n_groups; g++)
        nb += g == 0 || strcmp(r->groups[g].by, r->groups[g - 1].by) != 0;
    *out = b = strata_calloc(ctx, nb, sizeof *b);
    *nb_out = 0;
    if (!b)
        return STRATA_ENOMEM;
    *nb_out = nb;
    for (k = 0, g = 0; k < nb; k++) {
        size_t g1 = g;
        if (k > 0)
            while (g1 < r->n_groups && strcmp(r->groups[g1].by, r->groups[g].by) == 0)
                g1++;
        b[k].npop = 1 + (g1 - g);
        b[k].pop = strata_calloc(ctx, b[k].npop, sizeof *b[k].pop);
        if (!b[k].pop)
            return STRATA_ENOMEM;
        b[k].pop[0] = (ev_pop){"overall", "all", &r->overall};
        for (size_t q = 1; q < b[k].npop; q++, g++)
            b[k].pop[q] = (ev_pop){r->groups[g].by, r->groups[g].level, &r->groups[g].m};
    }
    return STRATA_OK;
}

strata_status ev_out_build(strata_ctx *ctx, const strata_eval_report *r, ev_out *o)
{
    const strata_eval_params *par = &r->params;
    strata_sdc_params sp;
    ev_block *b = NULL;
    strata_table **set = NULL;
    size_t nb = 0, ns = 0, npop = 1 + r->n_groups;
    strata_status st;
    memset(o, 0, sizeof *o);
    ev_sdc_params(par, &sp);
    if ((st = make_blocks(ctx, r, &b, &nb)) != STRATA_OK)
        goto done;
    for (size_t k = 0; k < nb; k++)
        for (int kind = 0; kind < EV_NKIND; kind++)
            if ((st = build_sub(ctx, par, kind, &b[k], kind != EV_SUMMARY && k > 0)) !=
                STRATA_OK)
                goto done;
    if (!(set = strata_calloc(ctx, nb * EV_NKIND, sizeof *set))) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (int kind = 0; kind < EV_NKIND; kind++)
        for (size_t k = 0; k < nb; k++)
            set[ns++] = b[k].t[kind];
    if ((st = strata_disclose_set(ctx, &sp, ns, set)) != STRATA_OK)
        goto done;
    for (size_t k = 0; sp.enabled && k < nb; k++)
        protect_block(&b[k], &sp);
    for (int kind = 0; kind < EV_NKIND; kind++) {
        size_t row = 0;
        if ((st = concat(ctx, kind, nb, b, &o->t[kind])) != STRATA_OK)
            goto done;
        if (!(o->start[kind] = strata_alloc(ctx, (npop + 1) * sizeof *o->start[kind]))) {
            st = STRATA_ENOMEM;
            goto done;
        }
        for (size_t q = 0; q < npop; q++) {
            o->start[kind][q] = row;
            row += rows_of(kind, q ? &r->groups[q - 1].m : &r->overall);
        }
        o->start[kind][npop] = row;
    }
done:
    strata_free(ctx, set, 0);
    blocks_free(ctx, b, nb);
    if (st != STRATA_OK)
        ev_out_free(ctx, o);
    return st;
}
