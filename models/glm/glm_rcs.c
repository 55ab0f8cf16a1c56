/* models/glm/glm_rcs.c — restricted cubic splines as Hmisc computes them: the
 * default knots of rcspline.eval (quantiles, with heavily tied end values taken
 * as knots themselves, fractied = 0.05) and the norm-2 basis. Invariant: knots
 * depend only on the sorted non-missing values, so they equal Hmisc's. */
#include "glm_internal.h"

#include <math.h>
#include <string.h>

/* R's quantile type 7 of sorted xs. */
static double quantile7(const double *xs, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)h;
    double frac = h - (double)lo;
    if (lo + 1 >= n)
        return xs[n - 1];
    return xs[lo] + frac * (xs[lo + 1] - xs[lo]);
}

/* The values the quantile knots come from, xs[lo, hi), and the end knots that
 * heavy ties at the minimum / maximum turn into knots of their own. */
typedef struct rcs_ends {
    size_t lo, hi;
    double fk, lk;            /* first / last tie knots when have_first / have_last */
    int have_first, have_last;
    int nke;                  /* knots still to take as quantiles */
} rcs_ends;

/* Hmisc: when no interior value is tied in >= 5 % of rows, an end value tied in
 * >= 5 % of rows is dropped and the next value inward becomes a knot. */
static void tie_ends(const double *xs, size_t n, int k, rcs_ends *e)
{
    size_t first = 0, last = 0, run = 1, maxint = 0;
    memset(e, 0, sizeof *e);
    e->hi = n;
    e->nke = k;
    /* tie fractions: first, last and max over interior distinct values */
    while (first + 1 < n && xs[first + 1] == xs[0])
        first++;
    while (last + 1 < n && xs[n - 2 - last] == xs[n - 1])
        last++;
    for (size_t i = first + 2; i + last + 1 < n; i++) {
        run = xs[i] == xs[i - 1] ? run + 1 : 1;
        if (run > maxint)
            maxint = run;
    }
    if (first + 1 < n && maxint == 0)
        maxint = 1;
    if (!((double)maxint / (double)n < 0.05))
        return;
    if ((double)(first + 1) / (double)n >= 0.05) {
        e->fk = xs[first + 1]; /* min(xx[xx > min(xx)]) */
        e->lo = first + 1;
        while (e->lo < n && xs[e->lo] <= e->fk)
            e->lo++;
        e->nke--;
        e->have_first = 1;
    }
    if ((double)(last + 1) / (double)n >= 0.05) {
        /* max(xx[xx < max(xx)]) over the remaining values */
        e->lk = xs[n - 2 - last];
        e->hi = n - 1 - last;
        while (e->hi > e->lo && xs[e->hi - 1] >= e->lk)
            e->hi--;
        e->nke--;
        e->have_last = 1;
    }
}

/* sort(unique(c(fk, q, lk))) into all; returns how many. */
static int sorted_unique(const rcs_ends *e, const double *q, int nq, double *all)
{
    int na = 0, m = 0;
    if (e->have_first)
        all[na++] = e->fk;
    for (int i = 0; i < nq; i++)
        all[na++] = q[i];
    if (e->have_last)
        all[na++] = e->lk;
    for (int i = 1; i < na; i++)
        for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
            double t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    for (int i = 0; i < na; i++)
        if (i == 0 || all[i] != all[i - 1])
            all[m++] = all[i];
    return m;
}

strata_status glm_rcs_knots(strata_ctx *ctx, const double *xs, size_t n, int k, double *knots,
                            const char *label)
{
    /* Hmisc::rcspline.eval defaults (fractied = 0.05), xs sorted ascending */
    size_t nxu = 0, nn;
    double outer = k > 6 ? 0.025 : k > 3 ? 0.05 : 0.1, q[2 * GLM_RCS_MAXK], all[2 * GLM_RCS_MAXK + 2];
    const double *xx;
    rcs_ends e;
    int m;
    if (n < 6)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: fewer than 6 non-missing values for knots", label);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || xs[i] != xs[i - 1])
            nxu++;
    if ((long)nxu - 2 <= k)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: only %zu distinct values for %d knots", label, nxu, k);
    tie_ends(xs, n, k, &e);
    xx = xs + e.lo;
    nn = e.hi - e.lo;
    if (nn < 2)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: too few values for knots", label);
    for (int i = 0; i < e.nke; i++) {
        double p = e.nke == 2 ? 0.5 + (1 - outer - 0.5) * i / (e.nke - 1)
                              : outer + (1 - 2 * outer) * i / (e.nke - 1);
        q[i] = quantile7(xx, nn, p);
    }
    if (nn < 100) {
        if (!e.have_first)
            q[0] = xx[4];
        if (!e.have_last)
            q[e.nke - 1] = xx[nn - 5];
    }
    m = sorted_unique(&e, q, e.nke, all);
    if (m != k)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: Harrell's default quantiles give %d distinct knots, not %d (too many ties); use fewer knots", label, m, k);
    memcpy(knots, all, (size_t)k * sizeof *knots);
    return STRATA_OK;
}

static double pos3(double x, double kd)
{
    double t = x / kd;
    return t > 0 ? t * t * t : 0.0;
}

void glm_rcs_basis_rows(const double *t, int k, const double *x, size_t n, size_t ld, double *out)
{
    /* Hmisc::rcspline.eval, norm = 2: kd = (t_k - t_1)^(2/3), once for the
     * rows; the two terms of the last knots once per row (the same values) */
    double kd = cbrt((t[k - 1] - t[0]) * (t[k - 1] - t[0]));
    double tk = t[k - 1], tk1 = t[k - 2];
    for (size_t i = 0; i < n; i++) {
        double pk = pos3(x[i] - tk, kd), pk1 = pos3(x[i] - tk1, kd);
        for (int j = 0; j < k - 2; j++)
            out[(size_t)j * ld + i] = pos3(x[i] - t[j], kd) + ((tk1 - t[j]) * pk - (tk - t[j]) * pk1) / (tk - tk1);
    }
}
