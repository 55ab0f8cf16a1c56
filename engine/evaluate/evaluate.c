/* engine/evaluate/evaluate.c — strata_evaluate: checks the scored rows, sorts them once
 * by predicted value, then evaluates the whole population and every level of
 * every by-column as independent jobs (OpenMP over jobs, each job serial).
 * Invariant: a level's rows are copied contiguously in the global (p, row)
 * order, so results are identical whatever the thread count — and whatever
 * the memory budget, which only cuts a by-column's levels into batches
 * evaluated one after another (docs/scale.md). */
#include "evaluate_internal.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void strata_eval_params_init(strata_eval_params *par)
{
    static const double top[6] = {0.005, 0.01, 0.02, 0.05, 0.10, 0.20};
    memset(par, 0, sizeof *par);
    par->family = STRATA_FAMILY_BINOMIAL;
    par->conf_level = 0.95;
    par->n_bins = 10;
    par->n_top = 6;
    memcpy(par->top_frac, top, sizeof top);
    par->nb_min = 0.01;
    par->nb_max = 0.50;
    par->nb_step = 0.01;
    par->curve_bins = 100;
    par->curve_bw = 0.0;
    par->min_level_n = 100.0;
    par->min_level_events = 10.0;
    par->max_iter = 50;
    par->tol = 1e-12;
    par->disclosure = 1;
    par->sdc_suppress_max = 7.0;
    par->sdc_round_to = 5.0;
}

strata_status strata_eval_params_check(strata_ctx *ctx, const strata_eval_params *par)
{
    if (!par)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: params is NULL");
    if (par->family != STRATA_FAMILY_BINOMIAL && par->family != STRATA_FAMILY_POISSON &&
        par->family != STRATA_FAMILY_GAMMA && par->family != STRATA_FAMILY_GAUSSIAN)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: unknown family %d", (int)par->family);
    if (!(par->conf_level > 0.0 && par->conf_level < 1.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: conf_level %g outside (0, 1)",
                           par->conf_level);
    if (par->n_bins < 1 || par->n_bins > 256)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: n_bins %d outside [1, 256]",
                           par->n_bins);
    if (par->n_top > STRATA_EVAL_MAX_TOP)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: n_top %zu above %d", par->n_top,
                           STRATA_EVAL_MAX_TOP);
    for (size_t i = 0; i < par->n_top; i++)
        if (!(par->top_frac[i] > 0.0 && par->top_frac[i] <= 1.0))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: top_frac[%zu] = %g outside (0, 1]",
                               i, par->top_frac[i]);
    if (!(par->nb_step > 0.0 && par->nb_min > 0.0 && par->nb_max < 1.0 &&
          par->nb_min <= par->nb_max))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "evaluate: net-benefit grid %g..%g by %g must lie in (0, 1)",
                           par->nb_min, par->nb_max, par->nb_step);
    if (par->curve_bins < 1 || par->curve_bw < 0.0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: curve_bins %d / curve_bw %g invalid",
                           par->curve_bins, par->curve_bw);
    if (par->max_iter < 1 || !(par->tol > 0.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: max_iter %d / tol %g invalid",
                           par->max_iter, par->tol);
    if (!(par->sdc_suppress_max >= 0.0) || !(par->sdc_round_to >= 0.0))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "evaluate: sdc_suppress_max %g / sdc_round_to %g must be >= 0",
                           par->sdc_suppress_max, par->sdc_round_to);
    return STRATA_OK;
}

void strata_eval_inverse_link(strata_family f, const double *lp, size_t n, double *p)
{
    for (size_t i = 0; i < n; i++)
        p[i] = ev_inv_link(f, lp[i]);
}

strata_status strata_eval_link(strata_ctx *ctx, strata_family f, const double *p, size_t n,
                               double *lp)
{
    for (size_t i = 0; i < n; i++) {
        if (!ev_p_valid(f, p[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "evaluate: predicted value at row %zu is %g, outside the %s range",
                               i + 1, p[i], strata_family_name(f));
        lp[i] = ev_link(f, p[i]);
    }
    return STRATA_OK;
}

strata_status ev_metrics_alloc(strata_ctx *ctx, const strata_eval_params *par,
                               strata_eval_metrics *m)
{
    size_t nnb = ev_nb_count(par);
    memset(m, 0, sizeof *m);
    m->bins = strata_calloc(ctx, (size_t)par->n_bins, sizeof *m->bins);
    m->top = strata_calloc(ctx, par->n_top ? par->n_top : 1, sizeof *m->top);
    m->nb = strata_calloc(ctx, nnb ? nnb : 1, sizeof *m->nb);
    m->curve = strata_calloc(ctx, (size_t)par->curve_bins, sizeof *m->curve);
    if (!m->bins || !m->top || !m->nb || !m->curve) {
        ev_metrics_free(ctx, m);
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

void ev_metrics_free(strata_ctx *ctx, strata_eval_metrics *m)
{
    strata_free(ctx, m->bins, 0);
    strata_free(ctx, m->top, 0);
    strata_free(ctx, m->nb, 0);
    strata_free(ctx, m->curve, 0);
    m->bins = NULL;
    m->top = NULL;
    m->nb = NULL;
    m->curve = NULL;
}

void strata_eval_report_free(strata_ctx *ctx, strata_eval_report *r)
{
    if (!r)
        return;
    ev_metrics_free(ctx, &r->overall);
    for (size_t g = 0; g < r->n_groups; g++) {
        strata_free(ctx, r->groups[g].by, 0);
        strata_free(ctx, r->groups[g].level, 0);
        ev_metrics_free(ctx, &r->groups[g].m);
    }
    strata_free(ctx, r->groups, 0);
    strata_free(ctx, r, sizeof *r);
}

static strata_status check_input(strata_ctx *ctx, const strata_eval_input *in,
                                 strata_family f)
{
    if (!in || !in->y || !in->p || (in->n_by && !in->by))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: input arrays missing");
    for (size_t i = 0; i < in->n; i++) {
        double w = in->w ? in->w[i] : 1.0, y = in->y[i], p = in->p[i];
        if (!(w >= 0.0) || !isfinite(w))
            return STRATA_FAIL(ctx, STRATA_EDATA, "evaluate: weight at row %zu is %g", i + 1, w);
        if (w == 0.0)
            continue;
        if (!isfinite(y) || (f == STRATA_FAMILY_BINOMIAL && y != 0.0 && y != 1.0) ||
            (f == STRATA_FAMILY_POISSON && y < 0.0) || (f == STRATA_FAMILY_GAMMA && !(y > 0.0)))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "evaluate: outcome at row %zu is %g, invalid for family %s", i + 1,
                               y, strata_family_name(f));
        if (!ev_p_valid(f, p))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "evaluate: predicted value at row %zu is %g, outside the %s range",
                               i + 1, p, strata_family_name(f));
    }
    for (size_t b = 0; b < in->n_by; b++) {
        const strata_eval_by *by = &in->by[b];
        if (!by->name || !by->codes || (by->n_levels && !by->levels) ||
            by->n_levels > (size_t)INT32_MAX)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: by-column %zu incomplete", b + 1);
        for (size_t i = 0; i < in->n; i++)
            if (by->codes[i] < -1 || by->codes[i] >= (int64_t)by->n_levels)
                return STRATA_FAIL(ctx, STRATA_EDATA,
                                   "evaluate: by-column %s: row %zu: code %d outside [-1, %zu)",
                                   by->name, i + 1, (int)by->codes[i], by->n_levels);
    }
    return STRATA_OK;
}

/* Rows with positive weight in ascending (p, row) order, as parallel arrays. */
typedef struct ev_sorted {
    size_t m;
    size_t *row; /* original row of each position */
    double *y, *p, *lp, *w;
} ev_sorted;

static void sorted_free(strata_ctx *ctx, ev_sorted *s)
{
    STRATA_FREE_ALL(ctx, s->row, s->y, s->p, s->lp, s->w);
}

/* Rows with positive weight in ascending (p, row) order: a stable radix sort
 * of (key of p, row), after which each key becomes its p again in place (the
 * key is a bijection of p's bits, so p is the same bytes). 32 bytes a row
 * while sorting; then row, p, y and lp (and w) at 8 bytes a row each. */
static strata_status sort_rows(strata_ctx *ctx, const strata_eval_input *in, strata_family f,
                               ev_sorted *s)
{
    size_t m = 0, n = in->n, i, cnt;
    uint64_t *key, *k2;
    size_t *r2;
    memset(s, 0, sizeof *s);
    for (i = 0; i < n; i++)
        m += !in->w || in->w[i] > 0.0;
    s->m = m;
    cnt = m ? m : 1;
    key = strata_alloc(ctx, cnt * sizeof *key);
    k2 = strata_alloc(ctx, cnt * sizeof *k2);
    s->row = strata_alloc(ctx, cnt * sizeof *s->row);
    r2 = strata_alloc(ctx, cnt * sizeof *r2);
    if (!key || !k2 || !s->row || !r2) {
        STRATA_FREE_ALL(ctx, key, k2, r2);
        sorted_free(ctx, s);
        return STRATA_ENOMEM;
    }
    for (i = 0, m = 0; i < n; i++)
        if (!in->w || in->w[i] > 0.0) {
            s->row[m] = i;
            key[m++] = strata_f64_key(in->p[i]);
        }
    strata_radix_sort(m, key, s->row, k2, r2);
    STRATA_FREE_ALL(ctx, k2, r2);
    for (i = 0; i < m; i++) { /* the keys become p (memcpy: the buffer's type is now double) */
        double d = strata_key_f64(key[i]);
        memcpy(&key[i], &d, sizeof d);
    }
    s->p = (double *)(void *)key;
    s->y = strata_alloc(ctx, cnt * sizeof *s->y);
    s->lp = strata_alloc(ctx, cnt * sizeof *s->lp);
    if (in->w)
        s->w = strata_alloc(ctx, cnt * sizeof *s->w);
    if (!s->y || !s->lp || (in->w && !s->w)) {
        sorted_free(ctx, s);
        return STRATA_ENOMEM;
    }
    for (i = 0; i < m; i++) {
        size_t r = s->row[i];
        s->y[i] = in->y[r];
        s->lp[i] = ev_link(f, s->p[i]);
        if (s->w)
            s->w[i] = in->w[r];
    }
    return STRATA_OK;
}

static void set_flags(const strata_eval_params *par, const strata_eval_metrics *all,
                      strata_eval_metrics *m)
{
    if ((double)m->n_rows < par->min_level_n || m->n_events < par->min_level_events) {
        m->flags |= STRATA_EVAL_FLAG_SMALL;
        return;
    }
    if (isfinite(m->oe_lo) && (all->oe < m->oe_lo || all->oe > m->oe_hi))
        m->flags |= STRATA_EVAL_FLAG_OE_DIFFERS;
    if (isfinite(m->slope_lo) && (all->slope < m->slope_lo || all->slope > m->slope_hi))
        m->flags |= STRATA_EVAL_FLAG_SLOPE_DIFFERS;
    if (isfinite(m->c_se) && (all->c < m->c_lo || all->c > m->c_hi))
        m->flags |= STRATA_EVAL_FLAG_C_DIFFERS;
}

/* Evaluates jobs[0..nj) (views) into out[] in parallel; each job is serial. */
static void run_jobs(strata_ctx *ctx, const ev_view *views, strata_eval_metrics **out, size_t nj,
                     const strata_eval_params *par)
{
    long j;
#pragma omp parallel for schedule(dynamic, 1) num_threads(strata_threads(ctx))
    for (j = 0; j < (long)nj; j++)
        ev_metrics(&views[j], par, out[j]);
}

/* Rows of the level copies a batch may hold: with a memory budget, an eighth
 * of it; without one, every row (each by-column is one batch, as it always
 * was). */
static size_t batch_cap(strata_ctx *ctx, size_t m, int weighted)
{
    size_t budget = strata_ctx_memory_budget(ctx), per_row = (weighted ? 4 : 3) * sizeof(double);
    size_t cap = budget ? budget / 8 / per_row : m;
    return cap ? cap : 1;
}

/* The level-contiguous copies of one batch (cap rows), and the positions of
 * a level too large for them (ix_cap). */
typedef struct ev_copies {
    size_t cap, ix_cap;
    double *y, *p, *lp, *w;
    size_t *ix;
} ev_copies;

static strata_status copies_reserve(strata_ctx *ctx, ev_copies *c, size_t rows, size_t ix_rows,
                                    int weighted)
{
    if (rows > c->cap) {
        STRATA_FREE_ALL(ctx, c->y, c->p, c->lp, c->w);
        c->y = strata_alloc(ctx, rows * sizeof *c->y);
        c->p = strata_alloc(ctx, rows * sizeof *c->p);
        c->lp = strata_alloc(ctx, rows * sizeof *c->lp);
        c->w = weighted ? strata_alloc(ctx, rows * sizeof *c->w) : NULL;
        c->cap = c->y && c->p && c->lp && (!weighted || c->w) ? rows : 0;
        if (!c->cap)
            return STRATA_ENOMEM;
    }
    if (ix_rows > c->ix_cap) {
        strata_free(ctx, c->ix, 0);
        c->ix = strata_alloc(ctx, ix_rows * sizeof *c->ix);
        c->ix_cap = c->ix ? ix_rows : 0;
        if (!c->ix)
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

/* Evaluates levels [l0, l1) of by-column b (start[]: each level's first row
 * in the level order; lvl: the level of each sorted row) after copying their
 * rows, in (p, row) order, to the front of c — or, for a single level larger
 * than the copies, through the positions of its rows in the sorted arrays
 * (8 bytes a row instead of 24: the same rows in the same order). The whole
 * population joins the batch when overall is non-NULL. Groups are appended
 * to r in level order. */
static strata_status eval_batch(strata_ctx *ctx, const ev_sorted *s, const strata_eval_by *by,
                                const uint32_t *lvl, const size_t *start, size_t l0, size_t l1,
                                ev_copies *c, size_t *cur, strata_eval_metrics *overall,
                                const strata_eval_params *par, ev_view *views,
                                strata_eval_metrics **targets, strata_eval_report *r)
{
    size_t nj = 0, g0 = r->n_groups, lv;
    int by_ix = l1 == l0 + 1 && start[l1] - start[l0] > c->cap;
    if (overall) {
        views[nj] = (ev_view){s->m, NULL, s->y, s->p, s->lp, s->w};
        targets[nj++] = overall;
    }
    for (lv = l0; lv < l1; lv++)
        cur[lv] = start[lv] - start[l0];
    for (size_t k = 0; k < s->m; k++) { /* one sequential pass keeps (p, row) order */
        size_t at;
        if (lvl[k] < l0 || lvl[k] >= l1)
            continue;
        at = cur[lvl[k]]++;
        if (by_ix) {
            c->ix[at] = k;
            continue;
        }
        c->y[at] = s->y[k];
        c->p[at] = s->p[k];
        c->lp[at] = s->lp[k];
        if (c->w)
            c->w[at] = s->w[k];
    }
    for (lv = l0; lv < l1; lv++) {
        size_t cnt = start[lv + 1] - start[lv], off = start[lv] - start[l0];
        strata_eval_group *gr;
        if (lv == by->n_levels && cnt == 0)
            continue; /* no NA level when no code is missing */
        gr = &r->groups[r->n_groups++];
        gr->by = strata_strdup(ctx, by->name);
        gr->level = strata_strdup(ctx, lv < by->n_levels ? by->levels[lv] : "NA");
        if (!gr->by || !gr->level || ev_metrics_alloc(ctx, par, &gr->m) != STRATA_OK)
            return STRATA_ENOMEM;
        views[nj] = by_ix ? (ev_view){cnt, c->ix, s->y, s->p, s->lp, s->w}
                          : (ev_view){cnt, NULL, c->y + off, c->p + off, c->lp + off,
                                      c->w ? c->w + off : NULL};
        targets[nj++] = &gr->m;
    }
    run_jobs(ctx, views, targets, nj, par);
    for (size_t k = g0; k < r->n_groups; k++)
        set_flags(par, &r->overall, &r->groups[k].m);
    return STRATA_OK;
}

/* One by-column: the level of every sorted row (one random pass over the
 * codes), then its levels in batches of at most cap rows (a larger level
 * alone, through its positions), each evaluated in turn. */
static strata_status eval_by(strata_ctx *ctx, const ev_sorted *s, const strata_eval_by *by,
                             uint32_t *lvl, size_t *start, size_t *cur, ev_copies *c, size_t cap,
                             strata_eval_metrics *overall, const strata_eval_params *par,
                             ev_view *views, strata_eval_metrics **targets, strata_eval_report *r)
{
    size_t L = by->n_levels + 1, lv, l0, big = 0;
    memset(start, 0, (L + 1) * sizeof *start);
    for (size_t k = 0; k < s->m; k++) { /* codes in sorted order: one random pass */
        int32_t code = by->codes[s->row[k]];
        size_t l = code < 0 ? by->n_levels : (size_t)code;
        lvl[k] = (uint32_t)l;
        start[l + 1]++;
    }
    for (lv = 0; lv < L; lv++) {
        big = start[lv + 1] > big ? start[lv + 1] : big;
        start[lv + 1] += start[lv];
    }
    if (cap > s->m)
        cap = s->m;
    STRATA_TRY(copies_reserve(ctx, c, cap ? cap : 1, big > cap ? big : 0, s->w != NULL));
    for (l0 = 0; l0 < L;) {
        size_t l1 = l0 + 1;
        while (l1 < L && start[l1 + 1] - start[l0] <= cap)
            l1++;
        STRATA_TRY(eval_batch(ctx, s, by, lvl, start, l0, l1, c, cur, overall, par, views,
                              targets, r));
        overall = NULL;
        l0 = l1;
    }
    return STRATA_OK;
}

strata_status strata_evaluate(strata_ctx *ctx, const strata_eval_input *in,
                              const strata_eval_params *par, strata_eval_report **out)
{
    strata_eval_report *r = NULL;
    ev_sorted s;
    ev_copies c = {0, 0, NULL, NULL, NULL, NULL, NULL}; /* copies of a batch's levels */
    size_t ng = 0, b, maxl = 0, *start = NULL, *cur = NULL, cap;
    uint32_t *lvl = NULL; /* level of each sorted row, current by-column */
    ev_view *views = NULL;
    strata_eval_metrics **targets = NULL;
    strata_status st = STRATA_OK;
    *out = NULL;
    STRATA_TRY(strata_eval_params_check(ctx, par));
    STRATA_TRY(check_input(ctx, in, par->family));
    for (b = 0; b < in->n_by; b++) {
        ng += in->by[b].n_levels + 1; /* + NA */
        if (in->by[b].n_levels + 2 > maxl)
            maxl = in->by[b].n_levels + 2;
    }
    STRATA_TRY(sort_rows(ctx, in, par->family, &s));
    cap = batch_cap(ctx, s.m, s.w != NULL);
    r = strata_calloc(ctx, 1, sizeof *r);
    views = strata_calloc(ctx, maxl + 1, sizeof *views);
    targets = strata_calloc(ctx, maxl + 1, sizeof *targets);
    start = strata_calloc(ctx, maxl + 1, sizeof *start);
    cur = strata_calloc(ctx, maxl + 1, sizeof *cur);
    if (!r || !views || !targets || !start || !cur)
        goto nomem;
    if (in->n_by && !(lvl = strata_alloc(ctx, (s.m ? s.m : 1) * sizeof *lvl)))
        goto nomem;
    r->params = *par;
    if (ev_metrics_alloc(ctx, par, &r->overall) != STRATA_OK)
        goto nomem;
    r->groups = strata_calloc(ctx, ng ? ng : 1, sizeof *r->groups);
    if (!r->groups)
        goto nomem;
    /* the whole population joins the first batch of the first by-column */
    if (in->n_by == 0) {
        views[0] = (ev_view){s.m, NULL, s.y, s.p, s.lp, s.w};
        targets[0] = &r->overall;
        run_jobs(ctx, views, targets, 1, par);
    }
    for (b = 0; b < in->n_by && st == STRATA_OK; b++)
        st = eval_by(ctx, &s, &in->by[b], lvl, start, cur, &c, cap, b == 0 ? &r->overall : NULL,
                     par, views, targets, r);
    if (st != STRATA_OK)
        goto nomem;
    *out = r;
    r = NULL;
    goto done;
nomem:
    st = STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu rows", in->n);
done:
    STRATA_FREE_ALL(ctx, views, targets, start, cur, lvl, c.y, c.p, c.lp, c.w, c.ix);
    sorted_free(ctx, &s);
    strata_eval_report_free(ctx, r); /* NULL on success: the report went to *out */
    return st;
}
