/* models/elnet/elnet_cox.c — the penalised Cox path (glmnet's coxnet; Simon,
 * Friedman, Hastie & Tibshirani 2011): Breslow log partial likelihood with case
 * weights normalised to sum 1, columns standardised, no intercept. Each lambda is
 * solved by outer steps that replace the likelihood by its quadratic approximation
 * in eta with the diagonal of the Hessian, and cyclic coordinate descent on that;
 * warm starts, sequential strong rules, a KKT check, glmnet's lambda sequence and
 * early stop. Invariant: rows are sorted once by time (descending, ties in input
 * order) and every sum runs serially in that order, so the bits do not depend on
 * the thread count. */
#include "elnet_cox.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* The standardised problem in sorted order. */
typedef struct cx_prob {
    size_t n, p, ng;
    double *X;           /* n x p, sorted rows, standardised usable columns */
    double *w, *dq, *off; /* n: normalised weight, w x status, centred offset */
    size_t *gend;        /* ng: one past the last sorted row of each distinct time */
    double *dk;          /* ng: event weight at the time */
    double *xm, *xs, *vp;
    unsigned char *ju;
    double alpha, ll0, dev0, thr, fmax;
} cx_prob;

typedef struct cx_ws {
    double *f, *e, *wr, *v; /* n: eta, w exp(eta), score, Hessian diagonal (in eta) */
    double *u;              /* ng: risk-set sums */
    double *a, *as, *ga, *vj; /* p: coefficients, at the outer step's start, |score|, curvature */
    unsigned char *ixx, *mm; /* p: in the strong set; ever non-zero */
    size_t *m;              /* p: the ever non-zero columns in entry order */
    size_t nin;
    int nlp;
} cx_ws;

/* Sorted order (time descending, ties in input order) and the groups of equal
 * time into ord (n) and gend (n); returns the group count. scratch: 3n. */
static size_t sort_groups(size_t n, const double *time, size_t *ord, size_t *gend, size_t *scratch)
{
    uint64_t *key = (uint64_t *)(void *)scratch, *k2 = key + n;
    size_t *r2 = scratch + 2 * n, ng = 0;
    for (size_t i = 0; i < n; i++) {
        key[i] = ~strata_f64_key(time[i]);
        ord[i] = i;
    }
    strata_radix_sort(n, key, ord, k2, r2);
    for (size_t i = 1; i <= n; i++)
        if (i == n || time[ord[i]] != time[ord[i - 1]])
            gend[ng++] = i;
    return ng;
}

/* Risk-set sums u of e per group and the Breslow log partial likelihood of f. */
static double loglik(const cx_prob *pb, const double *f, const double *e, double *u)
{
    double s = 0, ll = 0;
    for (size_t g = 0, i = 0; g < pb->ng; g++) {
        for (; i < pb->gend[g]; i++) {
            s += e[i];
            ll += pb->dq[i] * f[i];
        }
        u[g] = s;
    }
    for (size_t g = 0; g < pb->ng; g++)
        if (pb->dk[g] > 0)
            ll -= pb->dk[g] * log(u[g]);
    return ll;
}

/* e = w exp(eta) (|eta| clamped as glmnet), then the score wr = dq - e H and the
 * Hessian diagonal v = e (H - e C) with H, C the running sums over event times up
 * to each row's time of dk / u and dk / u^2. Returns the log partial likelihood. */
static double outer(const cx_prob *pb, cx_ws *ws)
{
    double b = 0, c = 0, ll;
    for (size_t i = 0; i < pb->n; i++)
        ws->e[i] = pb->w[i] * exp(copysign(fmin(fabs(ws->f[i]), pb->fmax), ws->f[i]));
    ll = loglik(pb, ws->f, ws->e, ws->u);
    for (size_t g = pb->ng; g-- > 0;) {
        if (pb->dk[g] > 0) {
            b += pb->dk[g] / ws->u[g];
            c += pb->dk[g] / (ws->u[g] * ws->u[g]);
        }
        for (size_t i = g ? pb->gend[g - 1] : 0; i < pb->gend[g]; i++) {
            double e = ws->e[i];
            ws->v[i] = e * (b - e * c);
            ws->wr[i] = pb->dq[i] - e * b;
        }
    }
    return ll;
}

static double dot(size_t n, const double *x, const double *y)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* One coordinate update of column j; returns v_j d^2 (0 when unchanged). */
static double cd_step(const cx_prob *pb, cx_ws *ws, size_t j, double sa, double omal)
{
    const double *x = pb->X + j * pb->n;
    double u = ws->a[j] * ws->vj[j] + dot(pb->n, ws->wr, x), at = 0, den = ws->vj[j] + pb->vp[j] * omal;
    if (fabs(u) > pb->vp[j] * sa && den > 0) /* den 0: the column meets no risk set */
        at = copysign(fabs(u) - pb->vp[j] * sa, u) / den;
    if (at == ws->a[j])
        return 0;
    double del = at - ws->a[j];
    ws->a[j] = at;
    for (size_t i = 0; i < pb->n; i++) {
        ws->wr[i] -= del * ws->v[i] * x[i];
        ws->f[i] += del * x[i];
    }
    if (!ws->mm[j]) {
        ws->mm[j] = 1;
        ws->m[ws->nin++] = j;
    }
    return ws->vj[j] * del * del;
}

/* Coordinate descent on the quadratic model: a pass over the strong set, then
 * passes over the non-zero columns until they settle, until a whole pass moves
 * nothing by more than the threshold. 0 when maxit passes ran out. */
static int cd_solve(const cx_prob *pb, cx_ws *ws, double sa, double omal, int maxit)
{
    for (;;) {
        double dli = 0;
        ws->nlp++;
        for (size_t j = 0; j < pb->p; j++)
            if (ws->ixx[j])
                dli = fmax(dli, cd_step(pb, ws, j, sa, omal));
        if (dli < pb->thr)
            return 1;
        if (ws->nlp > maxit)
            return 0;
        do {
            ws->nlp++;
            dli = 0;
            for (size_t l = 0; l < ws->nin; l++)
                dli = fmax(dli, cd_step(pb, ws, ws->m[l], sa, omal));
            if (ws->nlp > maxit)
                return 0;
        } while (dli >= pb->thr);
    }
}

/* Solves at one lambda from the warm start: outer steps until the non-zero
 * coefficients stop moving, then the KKT check over the columns outside the
 * strong set (violators join it and the solve repeats). Leaves e, wr, v at the
 * solution and returns its log partial likelihood, or NAN when maxit ran out. */
static double solve_lambda(const cx_prob *pb, cx_ws *ws, double al, int maxit)
{
    double sa = pb->alpha * al, omal = (1 - pb->alpha) * al, ll = 0;
    for (;;) {
        int moved = 0;
        if (ws->nlp > maxit)
            return NAN;
        for (size_t l = 0; l < ws->nin; l++)
            ws->as[ws->m[l]] = ws->a[ws->m[l]];
        for (size_t j = 0; j < pb->p; j++)
            if (ws->ixx[j]) {
                const double *x = pb->X + j * pb->n;
                double s = 0;
                for (size_t i = 0; i < pb->n; i++)
                    s += ws->v[i] * x[i] * x[i];
                ws->vj[j] = s;
            }
        if (!cd_solve(pb, ws, sa, omal, maxit))
            return NAN;
        ll = outer(pb, ws);
        for (size_t l = 0; l < ws->nin && !moved; l++) {
            size_t k = ws->m[l];
            moved = ws->vj[k] * (ws->a[k] - ws->as[k]) * (ws->a[k] - ws->as[k]) >= pb->thr;
        }
        if (moved)
            continue;
        for (size_t k = 0; k < pb->p; k++) {
            if (ws->ixx[k] || !pb->ju[k])
                continue;
            ws->ga[k] = fabs(dot(pb->n, ws->wr, pb->X + k * pb->n));
            if (ws->ga[k] > sa * pb->vp[k]) {
                ws->ixx[k] = 1;
                moved = 1;
            }
        }
        if (!moved)
            return ll;
    }
}

/* glmnet's early stop for cox (coxnet: 100 x fdev over mnlam - 1 steps, and
 * devmax x 0.99 / 0.999), from the mnlam-th lambda on. */
static int early_stop(const elnet_params *prm, const elnet_path *out, size_t m)
{
    const double *dr = out->dev_ratio;
    if (m + 1 < prm->mnlam)
        return 0;
    if ((dr[m] - dr[m + 1 - prm->mnlam]) / dr[m] < 100 * prm->fdev)
        return 1;
    return dr[m] > prm->devmax * 0.99 / 0.999;
}

static void store(const cx_prob *pb, const cx_ws *ws, elnet_path *out, size_t m, double al, double ll)
{
    int df = 0;
    out->lambda[m] = al;
    out->a0[m] = 0;
    for (size_t j = 0; j < pb->p; j++) {
        out->beta[m * pb->p + j] = ws->a[j];
        df += ws->a[j] != 0;
    }
    out->df[m] = df;
    out->dev_ratio[m] = (ll - pb->ll0) / pb->dev0;
    out->nlam = m + 1;
}

/* The lambda path from the null fit in ws (glmnet's coxnet1): "big" first, then
 * lambda_max x r^k, or the user's; strong rule, solve, early stop. */
static void run_path(const cx_prob *pb, const elnet_params *prm, const double *ulam, cx_ws *ws, elnet_path *out)
{
    size_t nlam = ulam ? prm->nuser : prm->nlambda;
    double lmr = prm->lambda_min_ratio > 0 ? prm->lambda_min_ratio : (pb->n < pb->p ? 1e-2 : 1e-4);
    /* coxnet computes the exponent 1 / (nlam - 1) in single precision (a default-real
     * literal in its Fortran): so do we, or lambda_k drifts by ~1e-10 k from glmnet's */
    double alf = nlam > 1 ? pow(fmax(1e-6, lmr), (double)(1.0f / (float)(nlam - 1))) : 1, al = 0;
    for (size_t j = 0; j < pb->p; j++)
        ws->ga[j] = pb->ju[j] ? fabs(dot(pb->n, ws->wr, pb->X + j * pb->n)) : 0;
    out->converged = 1;
    for (size_t m = 0; m < nlam; m++) {
        double al0 = al;
        if (ulam) {
            al = ulam[m];
        } else if (m == 0) {
            al = ELNET_BIG;
        } else if (m == 1) {
            al0 = 0;
            for (size_t j = 0; j < pb->p; j++)
                if (pb->ju[j] && pb->vp[j] > 0)
                    al0 = fmax(al0, ws->ga[j] / pb->vp[j]);
            al0 /= fmax(pb->alpha, 1e-3);
            al = alf * al0;
        } else {
            al *= alf;
        }
        double tlam = pb->alpha * (2 * al - al0); /* sequential strong rule */
        for (size_t k = 0; k < pb->p; k++)
            if (!ws->ixx[k] && pb->ju[k] && ws->ga[k] > tlam * pb->vp[k])
                ws->ixx[k] = 1;
        double ll = solve_lambda(pb, ws, al, prm->maxit);
        if (isnan(ll)) {
            out->converged = 0;
            break;
        }
        store(pb, ws, out, m, al, ll);
        if (!ulam && early_stop(prm, out, m))
            break;
    }
    out->npasses = ws->nlp;
}

/* What glmnet refuses, by row and column: NaN anywhere, negative weights or
 * times, status other than 0/1, no event with weight. */
static strata_status validate(strata_ctx *ctx, const elnet_cox_data *d, const elnet_params *prm)
{
    double wev = 0, pmax = 0;
    if (d->n < 2 || d->p < 1 || d->ldx < d->n)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: need n >= 2 rows and p >= 1 columns (got %zu x %zu)",
                           d->n, d->p);
    if (!(prm->alpha >= 0 && prm->alpha <= 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: alpha %g outside [0, 1]", prm->alpha);
    if (!prm->lambda && (prm->nlambda < 1 || prm->lambda_min_ratio >= 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: nlambda %zu must be >= 1 and lambda.min.ratio %g < 1",
                           prm->nlambda, prm->lambda_min_ratio);
    for (size_t k = 0; prm->lambda && k < prm->nuser; k++)
        if (!(prm->lambda[k] >= 0) || !isfinite(prm->lambda[k]))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: lambda[%zu] = %g is not >= 0", k, prm->lambda[k]);
    for (size_t j = 0; j < d->p; j++) {
        double pf = prm->penalty ? prm->penalty[j] : 1;
        if (!(pf >= 0) || !isfinite(pf))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: penalty factor of column %zu is %g", j + 1, pf);
        pmax = fmax(pmax, pf);
    }
    if (pmax <= 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: every penalty factor is 0");
    for (size_t i = 0; i < d->n; i++) {
        double w = d->w ? d->w[i] : 1, t = d->time[i], s = d->status[i];
        if (!(w >= 0) || !isfinite(w))
            return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: row %zu: weight %g (must be finite, >= 0)", i + 1, w);
        if (!(t >= 0) || !isfinite(t)) /* glmnet also refuses events at 0; coxph and strata do not */
            return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: row %zu: time %g (must be finite, >= 0)", i + 1, t);
        if (s != 0 && s != 1)
            return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: row %zu: status %g is not 0 or 1", i + 1, s);
        if (d->offset && !isfinite(d->offset[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: row %zu: offset %g", i + 1, d->offset[i]);
        wev += w * s;
    }
    if (!(wev > 0))
        return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: no event with a positive weight in %zu rows", d->n);
    for (size_t j = 0; j < d->p; j++)
        for (size_t i = 0; i < d->n; i++)
            if (!isfinite(d->X[j * d->ldx + i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "coxnet: row %zu, column %zu: value %g (missing values are "
                                   "refused; drop incomplete rows)", i + 1, j + 1, d->X[j * d->ldx + i]);
    return STRATA_OK;
}

/* Every allocation of a fit, freed together. */
typedef struct cx_mem {
    cx_prob pb;
    cx_ws ws;
    size_t *ord, *scratch;
    double *lam;
} cx_mem;

static void mem_free(strata_ctx *ctx, cx_mem *mm)
{
    void *ptrs[] = {mm->pb.X, mm->pb.w, mm->pb.dq, mm->pb.off, mm->pb.gend, mm->pb.dk, mm->pb.xm, mm->pb.xs,
                    mm->pb.vp, mm->pb.ju, mm->ws.f, mm->ws.e, mm->ws.wr, mm->ws.v, mm->ws.u, mm->ws.a,
                    mm->ws.as, mm->ws.ga, mm->ws.vj, mm->ws.ixx, mm->ws.mm, mm->ws.m, mm->ord, mm->scratch,
                    mm->lam};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++)
        strata_free(ctx, ptrs[i], 0);
}

static strata_status mem_alloc(strata_ctx *ctx, size_t n, size_t p, size_t nuser, cx_mem *mm)
{
    cx_prob *pb = &mm->pb;
    cx_ws *ws = &mm->ws;
    memset(mm, 0, sizeof *mm);
    pb->X = strata_alloc(ctx, n * p * sizeof *pb->X);
    pb->w = strata_alloc(ctx, n * sizeof *pb->w), pb->dq = strata_alloc(ctx, n * sizeof *pb->dq);
    pb->off = strata_alloc(ctx, n * sizeof *pb->off), pb->gend = strata_alloc(ctx, n * sizeof *pb->gend);
    pb->dk = strata_calloc(ctx, n, sizeof *pb->dk);
    pb->xm = strata_alloc(ctx, p * sizeof *pb->xm), pb->xs = strata_alloc(ctx, p * sizeof *pb->xs);
    pb->vp = strata_alloc(ctx, p * sizeof *pb->vp), pb->ju = strata_alloc(ctx, p);
    ws->f = strata_alloc(ctx, n * sizeof *ws->f), ws->e = strata_alloc(ctx, n * sizeof *ws->e);
    ws->wr = strata_alloc(ctx, n * sizeof *ws->wr), ws->v = strata_alloc(ctx, n * sizeof *ws->v);
    ws->u = strata_alloc(ctx, n * sizeof *ws->u);
    ws->a = strata_calloc(ctx, p, sizeof *ws->a), ws->as = strata_calloc(ctx, p, sizeof *ws->as);
    ws->ga = strata_calloc(ctx, p, sizeof *ws->ga), ws->vj = strata_calloc(ctx, p, sizeof *ws->vj);
    ws->ixx = strata_calloc(ctx, p, 1), ws->mm = strata_calloc(ctx, p, 1);
    ws->m = strata_alloc(ctx, p * sizeof *ws->m);
    mm->ord = strata_alloc(ctx, n * sizeof *mm->ord);
    mm->scratch = strata_alloc(ctx, 3 * n * sizeof *mm->scratch);
    mm->lam = strata_alloc(ctx, (nuser + 1) * sizeof *mm->lam);
    if (!pb->X || !pb->w || !pb->dq || !pb->off || !pb->gend || !pb->dk || !pb->xm || !pb->xs || !pb->vp ||
        !pb->ju || !ws->f || !ws->e || !ws->wr || !ws->v || !ws->u || !ws->a || !ws->as || !ws->ga || !ws->vj ||
        !ws->ixx || !ws->mm || !ws->m || !mm->ord || !mm->scratch || !mm->lam) {
        mem_free(ctx, mm);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "coxnet: out of memory for %zu x %zu", n, p);
    }
    return STRATA_OK;
}

/* Column j's weighted mean and standard deviation (sorted weights w, sum 1);
 * usable when two rows of positive weight differ (glmnet's chkvars). */
static void standardise_column(const elnet_cox_data *d, const size_t *ord, cx_prob *pb, size_t j, int standardize)
{
    const double *x = d->X + j * d->ldx;
    double *xs = pb->X + j * pb->n, m = 0, v = 0, first = NAN;
    int varies = 0;
    for (size_t i = 0; i < pb->n; i++) {
        xs[i] = x[ord[i]];
        m += pb->w[i] * xs[i];
        if (pb->w[i] > 0) {
            varies |= !isnan(first) && xs[i] != first;
            first = isnan(first) ? xs[i] : first;
        }
    }
    for (size_t i = 0; i < pb->n; i++)
        v += pb->w[i] * (xs[i] - m) * (xs[i] - m);
    pb->xm[j] = m;
    pb->xs[j] = standardize ? sqrt(v) : 1;
    pb->ju[j] = (unsigned char)(varies && v > 0);
    for (size_t i = 0; i < pb->n; i++)
        xs[i] = pb->ju[j] ? (xs[i] - m) / pb->xs[j] : 0;
}

/* Sorted, normalised, standardised problem and the null fit (eta = offset). */
static void setup(const elnet_cox_data *d, const elnet_params *prm, cx_mem *mm, double *sw)
{
    cx_prob *pb = &mm->pb;
    cx_ws *ws = &mm->ws;
    size_t n = d->n, p = d->p;
    double spf = 0, og = 0, lsat = 0;
    pb->n = n, pb->p = p, pb->alpha = prm->alpha, pb->fmax = log(DBL_MAX * 0.1);
    pb->ng = sort_groups(n, d->time, mm->ord, pb->gend, mm->scratch);
    *sw = 0;
    for (size_t i = 0; i < n; i++)
        *sw += d->w ? d->w[i] : 1;
    for (size_t i = 0; i < n; i++) {
        size_t r = mm->ord[i];
        pb->w[i] = (d->w ? d->w[r] : 1) / *sw;
        pb->dq[i] = pb->w[i] * d->status[r];
        og += pb->w[i] * (d->offset ? d->offset[r] : 0);
    }
    for (size_t i = 0; i < n; i++)
        ws->f[i] = pb->off[i] = (d->offset ? d->offset[mm->ord[i]] : 0) - og;
    for (size_t g = 0, i = 0; g < pb->ng; g++)
        for (; i < pb->gend[g]; i++)
            pb->dk[g] += pb->dq[i];
    for (size_t j = 0; j < p; j++) {
        standardise_column(d, mm->ord, pb, j, prm->standardize);
        pb->vp[j] = prm->penalty ? prm->penalty[j] : 1;
        spf += pb->vp[j];
    }
    for (size_t j = 0; j < p; j++)
        pb->vp[j] *= (double)p / spf;
    for (size_t g = 0; g < pb->ng; g++)
        if (pb->dk[g] > 0)
            lsat -= pb->dk[g] * log(pb->dk[g]);
    pb->ll0 = outer(pb, ws);
    pb->dev0 = lsat - pb->ll0;
    pb->thr = prm->thresh * pb->dev0;
}

strata_status elnet_cox_fit(strata_ctx *ctx, const elnet_cox_data *d, const elnet_params *prm, elnet_path *out)
{
    cx_mem mm;
    double sw = 0;
    size_t nlam = prm->lambda ? prm->nuser : prm->nlambda;
    STRATA_TRY(validate(ctx, d, prm));
    if (nlam > out->cap)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "coxnet: path holds %zu steps, %zu lambdas asked", out->cap, nlam);
    STRATA_TRY(mem_alloc(ctx, d->n, d->p, prm->lambda ? prm->nuser : 0, &mm));
    setup(d, prm, &mm, &sw);
    if (prm->lambda) {
        memcpy(mm.lam, prm->lambda, prm->nuser * sizeof *mm.lam);
        for (size_t a = 1; a < prm->nuser; a++) /* decreasing (insertion sort: short) */
            for (size_t b = a; b > 0 && mm.lam[b] > mm.lam[b - 1]; b--) {
                double t = mm.lam[b];
                mm.lam[b] = mm.lam[b - 1], mm.lam[b - 1] = t;
            }
    }
    out->nlam = 0;
    out->nulldev = 2 * sw * mm.pb.dev0;
    run_path(&mm.pb, prm, prm->lambda ? mm.lam : NULL, &mm.ws, out);
    for (size_t m = 0; m < out->nlam; m++) /* original scale; glmnet's fix.lam */
        for (size_t j = 0; j < d->p; j++)
            out->beta[m * d->p + j] = mm.pb.ju[j] ? out->beta[m * d->p + j] / mm.pb.xs[j] : 0;
    if (!prm->lambda && out->nlam >= 3)
        out->lambda[0] = exp(2 * log(out->lambda[1]) - log(out->lambda[2]));
    mem_free(ctx, &mm);
    return STRATA_OK;
}

/* The deviance of eta over rows already sorted (ord, gend: ng groups). */
static double deviance_sorted(const elnet_cox_data *d, const double *w, const double *eta, const size_t *ord,
                              const size_t *gend, size_t ng)
{
    size_t npos = 0;
    double sw = 0, ll = 0, lsat = 0, s = 0, fmax = log(DBL_MAX * 0.1);
    for (size_t i = 0; i < d->n; i++) {
        double wi = w ? w[i] : 1;
        sw += wi;
        npos += wi > 0;
    }
    for (size_t g = 0, i = 0; g < ng; g++) {
        double dk = 0;
        for (; i < gend[g]; i++) {
            size_t r = ord[i];
            double wi = (w ? w[r] : 1) * (double)npos / sw;
            s += wi * exp(copysign(fmin(fabs(eta[r]), fmax), eta[r]));
            if (d->status[r] == 1) {
                dk += wi;
                ll += wi * eta[r];
            }
        }
        if (dk > 0) {
            ll -= dk * log(s);
            lsat -= dk * log(dk);
        }
    }
    return 2 * (lsat - ll);
}

strata_status elnet_cox_order_make(strata_ctx *ctx, const elnet_cox_data *d, elnet_cox_order *o)
{
    size_t *scratch = strata_alloc(ctx, 3 * d->n * sizeof *scratch);
    o->ord = strata_alloc(ctx, d->n * sizeof *o->ord);
    o->gend = strata_alloc(ctx, d->n * sizeof *o->gend);
    if (!scratch || !o->ord || !o->gend) {
        strata_free(ctx, scratch, 0);
        elnet_cox_order_free(ctx, o);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "coxnet: out of memory sorting %zu rows", d->n);
    }
    o->ng = sort_groups(d->n, d->time, o->ord, o->gend, scratch);
    strata_free(ctx, scratch, 0);
    return STRATA_OK;
}

void elnet_cox_order_free(strata_ctx *ctx, elnet_cox_order *o)
{
    strata_free(ctx, o->ord, 0);
    strata_free(ctx, o->gend, 0);
    memset(o, 0, sizeof *o);
}

double elnet_cox_deviance(const elnet_cox_data *d, const elnet_cox_order *o, const double *w, const double *eta)
{
    return deviance_sorted(d, w, eta, o->ord, o->gend, o->ng);
}
