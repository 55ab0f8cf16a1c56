/* engine/evaluate/evaluate_metrics.c — metric kernels over one sorted view: AUROC with
 * DeLong SE, Newton recalibration fits, O/E, Brier, deviance, risk groups with
 * Hosmer–Lemeshow, top-k% yield, net benefit and the smoothed calibration curve
 * (formulas and citations in docs/evaluate.md).
 * Invariant: each kernel is a serial pass in view order; sums run in fixed
 * blocks of EV_BLOCK rows added in block order. No allocation. A kernel reads
 * its view through a cursor (EV_AT): in memory or window by window from a
 * scratch file, the same values in the same order, so the same bytes. */
#include "evaluate_internal.h"

#include "scratch.h"
#include "strata/stratify.h"

#include <math.h>
#include <string.h>

#define EV_BLOCK 8192

/* ---- reading a view ----------------------------------------------------- */

/* How a kernel reads a view: the window of positions [k0, k0 + n) as arrays
 * (a view in memory is one window, the whole of it). EV_AT(c, k) is the
 * index in the window's arrays of position k, loading the window that holds
 * it first when it is not there (forward, or backward when k is below the
 * window). An index is valid until the next EV_AT. The cursor is private to
 * this file (its address never leaves it), so its fields stay in registers
 * across the kernels' calls to libm. */
typedef struct ev_cur {
    const ev_view *v;
    size_t k0, n;
    const size_t *ix;
    const double *y, *p, *lp, *w;
} ev_cur;
static size_t ev_cur_load(ev_cur *c, size_t k);
#define EV_CW(c, q) ((c)->w ? (c)->w[(q)] : 1.0)

static ev_cur ev_cur_of(const ev_view *v)
{
    ev_cur c = {v, 0, v->m, v->ix, v->y, v->p, v->lp, v->w};
    const ev_file *f = v->file;
    if (f) { /* no window yet; the arrays are the window buffer's, always */
        c.n = 0;
        c.ix = NULL;
        c.y = f->buf + EV_COL_Y * f->cap;
        c.p = f->buf + EV_COL_P * f->cap;
        c.lp = f->buf + EV_COL_LP * f->cap;
        c.w = f->weighted ? f->buf + EV_COL_W * f->cap : NULL;
    }
    return c;
}

/* The window of a file view holding position k: [k, k + cap) going forward,
 * [k + 1 - cap, k + 1) going backward. A failed read is recorded on the
 * view's file and reads as NaN (the caller reports it after the job). */
static size_t ev_cur_load(ev_cur *c, size_t k)
{
    ev_file *f = c->v->file;
    size_t m = c->v->m, k0 = k, n;
    if (!f || k >= m)
        return 0; /* a view in memory is one window; kernels stay below m */
    if (k < c->k0)
        k0 = k + 1 > f->cap ? k + 1 - f->cap : 0;
    n = m - k0 < f->cap ? m - k0 : f->cap;
    for (int col = 0; col < (f->weighted ? EV_NWIN : EV_COL_W); col++) {
        double *dst = f->buf + (size_t)col * f->cap;
        int e = strata_scratch_pread(f->f, f->off[col] + k0 * sizeof(double), dst, n * sizeof(double));
        if (e) {
            f->err = e;
            for (size_t i = 0; i < n; i++)
                dst[i] = NAN;
        }
    }
    c->k0 = k0;
    c->n = n;
    return k - k0;
}

double ev_link(strata_family f, double p)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: return log(p) - log1p(-p);
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: return log(p);
    case STRATA_FAMILY_GAUSSIAN: return p;
    }
    return NAN;
}

int ev_p_valid(strata_family f, double p)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: return p > 0.0 && p < 1.0;
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: return p > 0.0 && isfinite(p);
    case STRATA_FAMILY_GAUSSIAN: return isfinite(p);
    }
    return 0;
}

int ev_measure_outcome(strata_family f)
{
    return f == STRATA_FAMILY_GAMMA || f == STRATA_FAMILY_GAUSSIAN;
}

double ev_inv_link(strata_family f, double eta)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        if (eta >= 0.0)
            return 1.0 / (1.0 + exp(-eta));
        else {
            double e = exp(eta);
            return e / (1.0 + e);
        }
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: return exp(eta);
    case STRATA_FAMILY_GAUSSIAN: return eta;
    }
    return NAN;
}

/* Unit deviance of one observation (R's family()$dev.resids). */
static double unit_dev(strata_family f, double y, double mu)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return -2.0 * (y > 0.5 ? log(mu) : log1p(-mu));
    case STRATA_FAMILY_POISSON:
        return 2.0 * ((y > 0.0 ? y * log(y / mu) : 0.0) - (y - mu));
    case STRATA_FAMILY_GAMMA:
        return -2.0 * (log(y / mu) - (y - mu) / mu);
    case STRATA_FAMILY_GAUSSIAN:
        return (y - mu) * (y - mu);
    }
    return NAN;
}

size_t ev_nb_count(const strata_eval_params *par)
{
    if (par->family != STRATA_FAMILY_BINOMIAL || !(par->nb_step > 0.0))
        return 0;
    return (size_t)floor((par->nb_max - par->nb_min) / par->nb_step + 1e-10) + 1;
}

static void clear_metrics(strata_eval_metrics *m)
{
    m->n_rows = 0;
    m->n = m->observed = m->expected = m->n_events = 0.0;
    m->c = m->c_se = m->c_lo = m->c_hi = NAN;
    m->oe = m->oe_lo = m->oe_hi = NAN;
    m->citl = m->citl_se = m->citl_lo = m->citl_hi = NAN;
    m->cal_a = m->cal_a_se = NAN;
    m->slope = m->slope_se = m->slope_lo = m->slope_hi = NAN;
    m->brier = m->brier_scaled = NAN;
    m->deviance = m->null_deviance = m->pseudo_r2 = NAN;
    m->hl_chi2 = m->hl_p = NAN;
    m->hl_df = 0;
    m->n_bins = 0;
    m->n_curve = 0;
    m->flags = 0;
}

/* The kernels for views in memory: a position is its index (or ix's). */
#define EVK(name) name##_mem
#define EV_AT(c, k) ((c)->ix ? (c)->ix[(k)] : (size_t)(k))
#include "evaluate_kernels.h"
#undef EVK
#undef EV_AT

/* The kernels for views on file: the window holding a position first. */
#define EVK(name) name##_file
#define EV_AT(c, k)                                                                                \
    ((size_t)((k) - (c)->k0) < (c)->n ? ((c)->ix ? (c)->ix[(k) - (c)->k0] : (size_t)((k) - (c)->k0)) \
                                      : ev_cur_load((c), (k)))
#include "evaluate_kernels.h"
#undef EVK
#undef EV_AT

void ev_auc(const ev_view *v, double *auc, double *se)
{
    if (v->file)
        ev_auc_file(v, auc, se);
    else
        ev_auc_mem(v, auc, se);
}

int ev_recal(const ev_view *v, strata_family f, int slope, int max_iter, double tol, double coef[2],
             double se[2])
{
    return v->file ? ev_recal_file(v, f, slope, max_iter, tol, coef, se)
                   : ev_recal_mem(v, f, slope, max_iter, tol, coef, se);
}

void ev_metrics(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m)
{
    if (v->file)
        ev_metrics_file(v, par, m);
    else
        ev_metrics_mem(v, par, m);
}
