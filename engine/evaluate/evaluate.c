/* engine/evaluate/evaluate.c — strata_evaluate: checks the scored rows, sorts them once
 * by predicted value, then evaluates the whole population and every level of
 * every by-column as independent jobs (OpenMP over jobs, each job serial).
 * Invariant: a level's rows are copied contiguously in the global (p, row)
 * order, so results are identical whatever the thread count. */
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

static strata_status sort_rows(strata_ctx *ctx, const strata_eval_input *in, strata_family f,
                               ev_sorted *s)
{
    size_t m = 0, n = in->n, i;
    double *key = NULL;
    uint64_t *wk = NULL;
    size_t *wo = NULL, *ord = NULL;
    memset(s, 0, sizeof *s);
    for (i = 0; i < n; i++)
        m += !in->w || in->w[i] > 0.0;
    s->m = m;
    key = strata_calloc(ctx, m ? m : 1, sizeof *key);
    wk = strata_calloc(ctx, m ? 2 * m : 1, sizeof *wk);
    wo = strata_calloc(ctx, m ? m : 1, sizeof *wo);
    ord = strata_calloc(ctx, m ? m : 1, sizeof *ord);
    s->row = strata_calloc(ctx, m ? m : 1, sizeof *s->row);
    s->y = strata_calloc(ctx, m ? m : 1, sizeof *s->y);
    s->p = strata_calloc(ctx, m ? m : 1, sizeof *s->p);
    s->lp = strata_calloc(ctx, m ? m : 1, sizeof *s->lp);
    if (in->w)
        s->w = strata_calloc(ctx, m ? m : 1, sizeof *s->w);
    if (!key || !wk || !wo || !ord || !s->row || !s->y || !s->p || !s->lp || (in->w && !s->w)) {
        strata_free(ctx, key, 0);
        strata_free(ctx, wk, 0);
        strata_free(ctx, wo, 0);
        strata_free(ctx, ord, 0);
        sorted_free(ctx, s);
        return STRATA_ENOMEM;
    }
    for (i = 0, m = 0; i < n; i++)
        if (!in->w || in->w[i] > 0.0) {
            s->row[m] = i;
            key[m++] = in->p[i];
        }
    ev_sort_doubles(key, m, ord, wk, wo);
    strata_free(ctx, wk, 0);
    strata_free(ctx, key, 0);
    for (i = 0; i < m; i++)
        wo[i] = s->row[ord[i]];
    memcpy(s->row, wo, m * sizeof *wo);
    strata_free(ctx, wo, 0);
    strata_free(ctx, ord, 0);
    for (i = 0; i < m; i++) {
        size_t r = s->row[i];
        s->y[i] = in->y[r];
        s->p[i] = in->p[r];
        s->lp[i] = ev_link(f, in->p[r]);
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

strata_status strata_evaluate(strata_ctx *ctx, const strata_eval_input *in,
                              const strata_eval_params *par, strata_eval_report **out)
{
    strata_eval_report *r = NULL;
    ev_sorted s;
    size_t ng = 0, b, g, maxl = 0, *start = NULL;
    double *gy = NULL, *gp = NULL, *glp = NULL, *gw = NULL; /* level-contiguous copies */
    uint32_t *lvl = NULL; /* level of each sorted row, current by-column */
    ev_view *views = NULL;
    strata_eval_metrics **targets = NULL;
    strata_status st;
    *out = NULL;
    STRATA_TRY(strata_eval_params_check(ctx, par));
    STRATA_TRY(check_input(ctx, in, par->family));
    for (b = 0; b < in->n_by; b++) {
        ng += in->by[b].n_levels + 1; /* + NA */
        if (in->by[b].n_levels + 2 > maxl)
            maxl = in->by[b].n_levels + 2;
    }
    STRATA_TRY(sort_rows(ctx, in, par->family, &s));
    r = strata_calloc(ctx, 1, sizeof *r);
    views = strata_calloc(ctx, maxl + 1, sizeof *views);
    targets = strata_calloc(ctx, maxl + 1, sizeof *targets);
    start = strata_calloc(ctx, maxl + 1, sizeof *start);
    if (!r || !views || !targets || !start)
        goto nomem;
    if (in->n_by) {
        gy = strata_calloc(ctx, s.m ? s.m : 1, sizeof *gy);
        gp = strata_calloc(ctx, s.m ? s.m : 1, sizeof *gp);
        glp = strata_calloc(ctx, s.m ? s.m : 1, sizeof *glp);
        lvl = strata_calloc(ctx, s.m ? s.m : 1, sizeof *lvl);
        if (!gy || !gp || !glp || !lvl)
            goto nomem;
        if (s.w && !(gw = strata_calloc(ctx, s.m ? s.m : 1, sizeof *gw)))
            goto nomem;
    }
    r->params = *par;
    if (ev_metrics_alloc(ctx, par, &r->overall) != STRATA_OK)
        goto nomem;
    r->groups = strata_calloc(ctx, ng ? ng : 1, sizeof *r->groups);
    if (!r->groups)
        goto nomem;
    /* batch per by-column (the first batch also carries the whole population) */
    g = 0;
    for (b = 0; b <= in->n_by || b == 0; b++) {
        size_t nj = 0, L = 0, g0 = g, lv;
        if (b == 0) {
            views[nj] = (ev_view){s.m, NULL, s.y, s.p, s.lp, s.w};
            targets[nj++] = &r->overall;
        }
        if (b < in->n_by) {
            const strata_eval_by *by = &in->by[b];
            L = by->n_levels + 1;
            memset(start, 0, (L + 1) * sizeof *start);
            for (size_t k = 0; k < s.m; k++) { /* codes in sorted order: one random pass */
                int32_t c = by->codes[s.row[k]];
                size_t l = c < 0 ? by->n_levels : (size_t)c;
                lvl[k] = (uint32_t)l;
                start[l + 1]++;
            }
            for (lv = 0; lv < L; lv++)
                start[lv + 1] += start[lv];
            /* copy each level's rows contiguously, keeping (p, row) order */
            for (size_t k = 0; k < s.m; k++) {
                size_t at = start[lvl[k]]++;
                gy[at] = s.y[k];
                gp[at] = s.p[k];
                glp[at] = s.lp[k];
                if (gw)
                    gw[at] = s.w[k];
            }
            for (lv = L; lv > 0; lv--) /* restore starts shifted by the fill */
                start[lv] = start[lv - 1];
            start[0] = 0;
            for (lv = 0; lv < L; lv++) {
                size_t cnt = start[lv + 1] - start[lv];
                strata_eval_group *gr;
                if (lv == by->n_levels && cnt == 0)
                    continue; /* no NA level when no code is missing */
                gr = &r->groups[g++];
                r->n_groups = g;
                gr->by = strata_strdup(ctx, by->name);
                gr->level = strata_strdup(ctx, lv < by->n_levels ? by->levels[lv] : "NA");
                if (!gr->by || !gr->level || ev_metrics_alloc(ctx, par, &gr->m) != STRATA_OK)
                    goto nomem;
                views[nj] = (ev_view){cnt, NULL, gy + start[lv], gp + start[lv],
                                      glp + start[lv], gw ? gw + start[lv] : NULL};
                targets[nj++] = &gr->m;
            }
        }
        run_jobs(ctx, views, targets, nj, par);
        for (size_t k = g0; k < g; k++)
            set_flags(par, &r->overall, &r->groups[k].m);
        if (b >= in->n_by)
            break;
    }
    *out = r;
    r = NULL;
    st = STRATA_OK;
    goto done;
nomem:
    st = STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu rows", in->n);
done:
    STRATA_FREE_ALL(ctx, views, targets, start, gy, gp, glp, gw, lvl);
    sorted_free(ctx, &s);
    strata_eval_report_free(ctx, r); /* NULL on success: the report went to *out */
    return st;
}
