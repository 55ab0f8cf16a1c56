/* models/elnet/elnet_driver.c — the elastic-net entry point: validates the
 * problem, normalises the weights to sum 1, standardises the columns (weighted
 * mean 0, variance 1; gaussian also the response), rescales the penalty
 * factors to sum to p, fits the null model, runs the path and reports it on
 * the original scale, as glmnet does. Invariant: the caller's arrays are never
 * modified and all memory is allocated here, before the path. */
#include "elnet_internal.h"
#include "glm_internal.h"
#include "linalg.h"
#include "internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else
static double omp_get_wtime(void) { return 0; }
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void elnet_params_init(elnet_params *prm)
{
    memset(prm, 0, sizeof *prm);
    prm->family = STRATA_FAMILY_GAUSSIAN;
    prm->alpha = 1;
    prm->nlambda = 100;
    prm->standardize = 1;
    prm->thresh = 1e-7;
    prm->maxit = 100000;
    prm->fdev = 1e-5;
    prm->devmax = 0.999;
    prm->mnlam = 5;
    prm->par_min = ELNET_PAR_MIN;
}

strata_status elnet_path_alloc(strata_ctx *ctx, size_t p, size_t cap, elnet_path **out)
{
    elnet_path *a = strata_calloc(ctx, 1, sizeof *a);
    if (!a)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for a path of %zu steps", cap);
    a->p = p;
    a->cap = cap;
    a->lambda = strata_calloc(ctx, cap, sizeof *a->lambda);
    a->a0 = strata_calloc(ctx, cap, sizeof *a->a0);
    a->beta = strata_calloc(ctx, cap * p + 1, sizeof *a->beta);
    a->dev_ratio = strata_calloc(ctx, cap, sizeof *a->dev_ratio);
    a->df = strata_calloc(ctx, cap, sizeof *a->df);
    if (!a->lambda || !a->a0 || !a->beta || !a->dev_ratio || !a->df) {
        elnet_path_free(ctx, a);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for a path of %zu x %zu", cap, p);
    }
    *out = a;
    return STRATA_OK;
}

void elnet_path_free(strata_ctx *ctx, elnet_path *a)
{
    if (!a)
        return;
    strata_free(ctx, a->lambda, 0);
    strata_free(ctx, a->a0, 0);
    strata_free(ctx, a->beta, 0);
    strata_free(ctx, a->dev_ratio, 0);
    strata_free(ctx, a->df, 0);
    strata_free(ctx, a, sizeof *a);
}

strata_status elnet_ws_alloc(strata_ctx *ctx, size_t n, size_t neta, size_t p, elnet_ws *ws)
{
    memset(ws, 0, sizeof *ws);
    ws->ld = la_gram_ld(p + 2);
    ws->eta = strata_alloc(ctx, (neta + 1) * sizeof *ws->eta);
    ws->v = strata_alloc(ctx, (n + 1) * sizeof *ws->v);
    ws->r = strata_calloc(ctx, n + 1, sizeof *ws->r); /* the first pass measures its drift */
    ws->beta = strata_calloc(ctx, p + 1, sizeof *ws->beta);
    ws->g = strata_calloc(ctx, p + 1, sizeof *ws->g);
    ws->G = strata_calloc(ctx, ws->ld * ws->ld, sizeof *ws->G);
    ws->part = strata_alloc(ctx, ELNET_NCHUNK * ws->ld * ws->ld * sizeof *ws->part);
    ws->pack_mem = strata_alloc(ctx, (ELNET_NCHUNK * ELNET_BLOCK * ws->ld + 8) * sizeof *ws->pack);
    ws->pack = ws->pack_mem ? (double *)(((uintptr_t)ws->pack_mem + 63) & ~(uintptr_t)63) : NULL;
    ws->cbuf = strata_alloc(ctx, ELNET_NCHUNK * (p + 3) * ELNET_BLOCK * sizeof *ws->cbuf);
    ws->cols = strata_alloc(ctx, ELNET_NCHUNK * (p + 2) * sizeof *ws->cols);
    ws->ones = strata_alloc(ctx, ELNET_BLOCK * sizeof *ws->ones);
    for (size_t i = 0; ws->ones && i < ELNET_BLOCK; i++)
        ws->ones[i] = 1;
    ws->dpart = strata_calloc(ctx, ELNET_NCHUNK * (p + 2), sizeof *ws->dpart);
    ws->dpart_dev = strata_calloc(ctx, ELNET_NCHUNK, sizeof *ws->dpart_dev);
    ws->dpart_drift = strata_calloc(ctx, ELNET_NCHUNK, sizeof *ws->dpart_drift);
    ws->T = strata_alloc(ctx, (p + 1) * sizeof *ws->T);
    ws->gb = strata_calloc(ctx, p + 1, sizeof *ws->gb);
    ws->S = strata_alloc(ctx, (p + 1) * sizeof *ws->S);
    ws->U = strata_alloc(ctx, (p + 1) * sizeof *ws->U);
    ws->inS = strata_calloc(ctx, p + 1, 1);
    ws->bS = strata_alloc(ctx, (p + 2) * sizeof *ws->bS);
    ws->gS = strata_alloc(ctx, (p + 2) * sizeof *ws->gS);
    if (!ws->eta || !ws->v || !ws->r || !ws->beta || !ws->g || !ws->G || !ws->part || !ws->pack ||
        !ws->cbuf || !ws->cols || !ws->ones || !ws->dpart_drift || !ws->T || !ws->gb ||
        !ws->dpart || !ws->dpart_dev || !ws->S || !ws->U || !ws->inS || !ws->bS || !ws->gS) {
        elnet_ws_free(ctx, ws);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for the workspace (%zu x %zu)", n, p);
    }
    return STRATA_OK;
}

void elnet_ws_free(strata_ctx *ctx, elnet_ws *ws)
{
    void *ptrs[] = {ws->eta,   ws->v,    ws->r,          ws->beta, ws->g,  ws->G,
                    ws->part,  ws->pack_mem, ws->dpart,  ws->S,    ws->U,  ws->inS,
                    ws->bS,    ws->gS,   ws->dpart_dev,  ws->cbuf, (void *)ws->cols, ws->ones,
                    ws->dpart_drift, ws->T, ws->gb};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++)
        strata_free(ctx, ptrs[i], 0);
    memset(ws, 0, sizeof *ws);
}

static strata_status check_rows(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, size_t r0,
                                double *sw);

/* Refuses what glmnet refuses: NaN anywhere, negative or all-zero weights,
 * responses outside the family's range, bad alpha / lambda / penalty. */
strata_status elnet_check(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm)
{
    strata_family f = prm->family;
    if (f != STRATA_FAMILY_GAUSSIAN && f != STRATA_FAMILY_BINOMIAL && f != STRATA_FAMILY_POISSON)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: family %s is not supported (gaussian, binomial, poisson)",
                           strata_family_name(f));
    size_t nall = d->sl.comm ? d->sl.nall : d->n;
    if (nall < 2 || d->p < 1 || (!d->rd && d->ldx < d->n))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: need n >= 2 rows and p >= 1 columns (got %zu x %zu)",
                           nall, d->p);
    if (!(prm->alpha >= 0 && prm->alpha <= 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: alpha %g outside [0, 1]", prm->alpha);
    if (!prm->lambda && (prm->nlambda < 1 || prm->lambda_min_ratio >= 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: nlambda %zu must be >= 1 and lambda.min.ratio %g < 1",
                           prm->nlambda, prm->lambda_min_ratio);
    for (size_t k = 0; prm->lambda && k < prm->nuser; k++)
        if (!(prm->lambda[k] >= 0))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: lambda[%zu] = %g is not >= 0", k, prm->lambda[k]);
    double pmax = 0;
    for (size_t j = 0; j < d->p; j++) {
        double pf = prm->penalty ? prm->penalty[j] : 1;
        if (!(pf >= 0))
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: penalty factor of column %zu is %g (< 0)", j, pf);
        pmax = fmax(pmax, pf);
    }
    if (pmax <= 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: every penalty factor is 0");
    if (d->rd) /* streamed: the rows are checked window by window (check_window) */
        return STRATA_OK;
    double sw = 0;
    STRATA_TRY(check_rows(ctx, d, prm, d->sl.comm ? d->sl.row0 : 0, &sw));
    if (!(sw > 0) && !d->sl.comm) /* across ranks: the whole sum, in standardise */
        return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the weights sum to %g", sw);
    return STRATA_OK;
}

/* The rows of d (row r0 + i of the whole problem): weights, responses and
 * offsets, then X column by column; adds the weights to *sw in row order. */
static strata_status check_rows(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, size_t r0,
                                double *sw)
{
    strata_family f = prm->family;
    for (size_t i = 0; i < d->n; i++) {
        double w = d->w ? d->w[i] : 1, y = d->y[i];
        if (!(w >= 0) || !isfinite(w))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: weight of row %zu is %g (must be finite, >= 0)", r0 + i, w);
        if (!isfinite(y) || (f == STRATA_FAMILY_BINOMIAL && (y < 0 || y > 1)) ||
            (f == STRATA_FAMILY_POISSON && y < 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: response of row %zu is %g, invalid for %s",
                               r0 + i, y, strata_family_name(f));
        if (d->offset && !isfinite(d->offset[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: offset of row %zu is %g", r0 + i, d->offset[i]);
        *sw += w;
    }
    for (size_t j = 0; !prm->x_checked && j < d->p; j++)
        for (size_t i = 0; i < d->n; i++)
            if (!isfinite(d->X[j * d->ldx + i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: X[%zu, %zu] is %g (missing values are refused; drop incomplete rows)",
                                   r0 + i, j, d->X[j * d->ldx + i]);
    return STRATA_OK;
}

/* sum_i w_i (v_i - centre) (square: (v_i - centre)^2) over chunk c's rows, in
 * row order. */
static double wsum_chunk(const elnet_slab *sl, size_t c, const double *w, const double *v, double centre,
                         int square)
{
    size_t r0, r1;
    double s = 0;
    elnet_chunk_rows(sl, c, &r0, &r1);
    for (size_t i = r0; i < r1; i++) {
        double e = v[i] - centre;
        s += w[i] * (square ? e * e : e);
    }
    return s;
}

/* Weighted mean of v (sum w = 1) over the fixed row ranges, combined in
 * order (each rank's ranges gathered first). */
static strata_status wmean(const elnet_slab *sl, const double *w, const double *v, double centre, int square,
                           double *out)
{
    double part[ELNET_NCHUNK], s = 0;
    for (size_t c = sl->c0; c < sl->c1; c++)
        part[c] = wsum_chunk(sl, c, w, v, centre, square);
    STRATA_TRY(elnet_gather(sl, part, sizeof *part));
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        s += part[c];
    *out = s;
    return STRATA_OK;
}

/* Chunk partials of every column's weighted sum (sum w = 1) over the rows of
 * chunks [sl->c0, sl->c1) (X from sl->row0, leading dimension ldx). */
static void means_chunks(const double *X, size_t ldx, size_t p, const elnet_slab *sl, const double *w,
                         double *part)
{
    for (size_t c = sl->c0; c < sl->c1; c++)
        for (size_t j = 0; j < p; j++)
            part[c * p + j] = wsum_chunk(sl, c, w, X + j * ldx, 0, 0);
}

/* Chunk partials of sum w (x - xm)^2, min and max of x over w > 0 (xm where none). */
static void var_chunks(const double *X, size_t ldx, size_t p, const elnet_slab *sl, const double *w,
                       const double *xm, double *part)
{
    size_t st = 3 * p;
    for (size_t c = sl->c0; c < sl->c1; c++) {
        size_t r0, r1;
        elnet_chunk_rows(sl, c, &r0, &r1);
        for (size_t j = 0; j < p; j++) {
            const double *v = X + j * ldx;
            double sum = 0, centre = xm[j], lo = centre, hi = centre;
            for (size_t i = r0; i < r1; i++) {
                double e = v[i] - centre, x = w[i] > 0 ? v[i] : centre;
                sum += w[i] * (e * e);
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            part[c * st + 3 * j] = sum;
            part[c * st + 3 * j + 1] = lo;
            part[c * st + 3 * j + 2] = hi;
        }
    }
}

static void means_reduce(size_t p, const double *part, double *xm)
{
    for (size_t j = 0; j < p; j++) {
        double m = 0;
        for (size_t c = 0; c < ELNET_NCHUNK; c++)
            m += part[c * p + j];
        xm[j] = m;
    }
}

static void var_reduce(size_t p, const double *part, const double *xm, double *var, double *dev)
{
    size_t st = 3 * p;
    for (size_t j = 0; j < p; j++) {
        double sum = 0, centre = xm[j], lo = centre, hi = centre;
        for (size_t c = 0; c < ELNET_NCHUNK; c++) {
            const double *q = part + c * st + 3 * j;
            sum += q[0];
            lo = q[1] < lo ? q[1] : lo;
            hi = q[2] > hi ? q[2] : hi;
        }
        var[j] = sum;
        dev[j] = hi - centre > centre - lo ? hi - centre : centre - lo;
    }
}

/* Every column's weighted mean xm, variance var (the sums of wmean, in the
 * same order) and max |x_ij - xm_j| over the rows with w_i > 0 (dev): chunk
 * partials of all columns, gathered once for the means and once for the rest. */
static strata_status col_moments(const elnet_data *d, const elnet_slab *sl, const double *w, double *part,
                                 double *xm, double *var, double *dev)
{
    means_chunks(d->X, d->ldx, d->p, sl, w, part);
    STRATA_TRY(elnet_gather(sl, part, d->p * sizeof *part));
    means_reduce(d->p, part, xm);
    var_chunks(d->X, d->ldx, d->p, sl, w, xm, part);
    STRATA_TRY(elnet_gather(sl, part, 3 * d->p * sizeof *part));
    var_reduce(d->p, part, xm, var, dev);
    return STRATA_OK;
}

/* The standardised problem's arrays, owned by the driver. */
typedef struct std_arrays {
    double *w, *y, *xm, *xs, *vp, *lam, *cn, *xmax;
    double *part;                /* ELNET_NCHUNK x 3p: the columns' chunk partials */
    unsigned char *ju;
    unsigned char *bytes;        /* the 0/1 columns, n bytes each */
    const unsigned char **xb;    /* p: column j's bytes or NULL */
} std_arrays;

static void std_free(strata_ctx *ctx, std_arrays *s)
{
    void *ptrs[] = {s->w, s->y, s->xm, s->xs, s->vp, s->lam, s->cn, s->xmax, s->part, s->ju, s->bytes, (void *)s->xb};
    for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++)
        strata_free(ctx, ptrs[i], 0);
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Copies every column whose values are all 0 or 1 (code-list flags) into n
 * bytes: the passes then read an eighth of the memory for it, and since
 * (double)byte equals the value the results are the same bits. */
static strata_status pack_flags(strata_ctx *ctx, const elnet_data *d, std_arrays *s)
{
    size_t nb = 0, k = 0;
    unsigned char *flag = strata_calloc(ctx, d->p + 1, 1);
    s->xb = strata_calloc(ctx, d->p + 1, sizeof *s->xb);
    if (!flag || !s->xb) {
        strata_free(ctx, flag, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for %zu column flags", d->p);
    }
    for (size_t j = 0; j < d->p; j++) {
        const double *x = d->X + j * d->ldx;
        size_t i = 0;
        while (i < d->n && (x[i] == 0 || x[i] == 1))
            i++;
        flag[j] = d->n > 0 && i == d->n; /* (a rank may hold no rows) */
        nb += flag[j];
    }
    if (nb && !(s->bytes = strata_alloc(ctx, nb * d->n))) {
        strata_free(ctx, flag, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for %zu 0/1 columns of %zu rows", nb, d->n);
    }
    for (size_t j = 0; j < d->p; j++) {
        if (!flag[j])
            continue;
        unsigned char *b = s->bytes + k++ * d->n;
        const double *x = d->X + j * d->ldx;
        for (size_t i = 0; i < d->n; i++)
            b[i] = (unsigned char)(x[i] == 1);
        s->xb[j] = b;
    }
    strata_free(ctx, flag, 0);
    return STRATA_OK;
}

/* The driver's arrays: w and y of nw rows (0 when streamed: the windows
 * hold theirs), the columns' scales, penalty factors, the user's lambdas. */
static strata_status std_alloc(strata_ctx *ctx, size_t nw, size_t p, const elnet_params *prm, std_arrays *s)
{
    s->w = strata_alloc(ctx, (nw + 1) * sizeof *s->w);
    s->y = strata_alloc(ctx, (nw + 1) * sizeof *s->y);
    s->xm = strata_alloc(ctx, p * sizeof *s->xm);
    s->xs = strata_alloc(ctx, p * sizeof *s->xs);
    s->vp = strata_alloc(ctx, p * sizeof *s->vp);
    s->cn = strata_alloc(ctx, p * sizeof *s->cn);
    s->xmax = strata_alloc(ctx, p * sizeof *s->xmax);
    s->ju = strata_alloc(ctx, p);
    s->lam = strata_alloc(ctx, (prm->lambda ? prm->nuser : 0) * sizeof *s->lam + 1);
    s->part = strata_alloc(ctx, ELNET_NCHUNK * (3 * p + 2) * sizeof *s->part);
    if (!s->w || !s->y || !s->xm || !s->xs || !s->vp || !s->cn || !s->xmax || !s->ju || !s->lam || !s->part)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory standardising %zu x %zu", nw, p);
    return STRATA_OK;
}

/* From the columns' variances and extremes (in s->cn, s->xmax): the scales
 * xs, usable ju, cn, xmax, and penalty factors rescaled to sum to p; the
 * user's lambdas sorted decreasing. */
static void std_scales(size_t p, const elnet_params *prm, std_arrays *s)
{
    double spf = 0, *var = s->cn, *devs = s->xmax; /* overwritten column by column */
    for (size_t j = 0; j < p; j++) {
        double dev = devs[j], vj = var[j];
        s->xs[j] = prm->standardize ? sqrt(vj) : 1;
        s->ju[j] = s->xs[j] > 0 && (prm->standardize || vj > 0);
        s->cn[j] = s->ju[j] ? sqrt(vj) / s->xs[j] : 0;
        s->xmax[j] = s->ju[j] ? dev / s->xs[j] * (1 + 1e-12) : 0; /* max |x~_ij|, w_i > 0 */
        s->vp[j] = prm->penalty ? prm->penalty[j] : 1;
        spf += s->vp[j];
    }
    for (size_t j = 0; j < p; j++)
        s->vp[j] *= (double)p / spf;
    if (prm->lambda) {
        memcpy(s->lam, prm->lambda, prm->nuser * sizeof *s->lam);
        qsort(s->lam, prm->nuser, sizeof *s->lam, cmp_desc);
    }
}

/* Weights to sum 1; columns centred and scaled (ju = 0 for constant ones);
 * gaussian: y - offset centred and scaled to unit variance; penalty factors
 * rescaled to sum to p; the user's lambdas sorted decreasing. */
static strata_status standardise(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                                 const elnet_slab *sl, std_arrays *s, elnet_prob *pb, double *sw)
{
    size_t n = d->n, p = d->p;
    strata_status st = std_alloc(ctx, n, p, prm, s);
    if (sl->comm) /* no rank goes into the sums below while another has failed */
        st = strata_comm_agree(ctx, st);
    STRATA_TRY(st);
    if (elnet_carry_sum(sl, d->w, n, sw) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_EIO, "elnet: summing the weights over the MPI ranks failed");
    if (!(*sw > 0))
        return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the weights sum to %g", *sw);
    for (size_t i = 0; i < n; i++)
        s->w[i] = (d->w ? d->w[i] : 1) / *sw;
    if (col_moments(d, sl, s->w, s->part, s->xm, s->cn, s->xmax) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_EIO, "elnet: gathering the columns' sums over the MPI ranks failed");
    std_scales(p, prm, s);
    pb->ym = 0;
    pb->ys = 1;
    if (prm->family == STRATA_FAMILY_GAUSSIAN) {
        for (size_t i = 0; i < n; i++)
            s->y[i] = d->y[i] - (d->offset ? d->offset[i] : 0);
        double v2;
        STRATA_TRY(wmean(sl, s->w, s->y, 0, 0, &pb->ym));
        STRATA_TRY(wmean(sl, s->w, s->y, pb->ym, 1, &v2));
        pb->ys = sqrt(v2);
        if (!(pb->ys > 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the gaussian response is constant");
        for (size_t i = 0; i < n; i++)
            s->y[i] = (s->y[i] - pb->ym) / pb->ys;
    } else {
        memcpy(s->y, d->y, n * sizeof *s->y);
    }
    return STRATA_OK;
}

/* ---- the same steps on streamed rows (docs/scale.md, "The elastic net
 * under a budget"): each a pass over the windows, the same sums in the same
 * order as in memory. */
typedef struct sweep {
    strata_ctx *ctx;
    const elnet_params *prm;
    std_arrays *s;
    strata_status st;
    double sw;       /* the weights' sum, in row order */
    int y01;         /* every binomial y is 0 or 1 */
    double centre;   /* the response's centre for its variance (gaussian) */
} sweep;

/* Pass 1, serial in row order: the rows' checks (of several bad values it may
 * name another than the in-memory check), the weights' sum, 0/1 outcomes. */
static void check_window(const elnet_prob *pw, elnet_ws *ws, void *arg)
{
    sweep *a = arg;
    size_t r0, r1, dummy;
    (void)ws;
    elnet_chunk_rows(&pw->sl, pw->sl.c0, &r0, &dummy);
    elnet_chunk_rows(&pw->sl, pw->sl.c1 - 1, &dummy, &r1);
    elnet_data dw = {r1 - r0, pw->p, pw->X, pw->ldx, pw->y, pw->w, pw->off, {NULL, 0, 0, 0, 0}, NULL};
    if (a->st == STRATA_OK)
        a->st = check_rows(a->ctx, &dw, a->prm, pw->sl.row0, &a->sw);
    for (size_t i = 0; a->y01 && i < dw.n; i++)
        a->y01 = dw.y[i] == 0 || dw.y[i] == 1;
}

/* Pass 2: the columns' means and the response's (gaussian y - offset; else y
 * for the null model), chunk partials (the response's after the columns'). */
static void means_window(const elnet_prob *pw, elnet_ws *ws, void *arg)
{
    sweep *a = arg;
    size_t p = pw->p;
    double *yp = a->s->part + ELNET_NCHUNK * 3 * p;
    (void)ws;
    means_chunks(pw->X, pw->ldx, p, &pw->sl, pw->w, a->s->part);
    for (size_t c = pw->sl.c0; c < pw->sl.c1; c++)
        yp[c] = wsum_chunk(&pw->sl, c, pw->w, pw->y, 0, 0);
}

/* Pass 3: variances and extremes; gaussian: the response's variance. */
static void var_window(const elnet_prob *pw, elnet_ws *ws, void *arg)
{
    sweep *a = arg;
    size_t p = pw->p;
    double *yp = a->s->part + ELNET_NCHUNK * 3 * p + ELNET_NCHUNK;
    (void)ws;
    var_chunks(pw->X, pw->ldx, p, &pw->sl, pw->w, a->s->xm, a->s->part);
    for (size_t c = pw->sl.c0; pw->fam == STRATA_FAMILY_GAUSSIAN && c < pw->sl.c1; c++)
        yp[c] = wsum_chunk(&pw->sl, c, pw->w, pw->y, a->centre, 1);
}

static double chunk_total(const double *part)
{
    double s = 0;
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        s += part[c];
    return s;
}

/* After a pass of standardise_streamed: a failed read first, then the
 * pass's own failure st; across ranks (c failing: a collective step) agreed,
 * so every rank stops alike with the lowest failing rank's message. */
static strata_status window_status(strata_ctx *ctx, const elnet_prob *pb, strata_status st, strata_status c)
{
    strata_status sr = elnet_stream_status(ctx, pb->st);
    if (c != STRATA_OK)
        return STRATA_FAIL(ctx, c, "elnet: passing the streamed sums between the MPI ranks failed");
    if (sr != STRATA_OK)
        st = sr;
    return pb->sl.comm ? elnet_stream_agree(pb->st, st) : st;
}

/* standardise on streamed rows: three passes (checks and the weights' sum;
 * means; variances), the sums of the in-memory steps in the same order.
 * *ybar: the response's weighted mean for the null model (binomial, poisson). */
static strata_status standardise_streamed(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                                          std_arrays *s, elnet_prob *pb, elnet_ws *ws, double *sw,
                                          double *ybar)
{
    size_t p = d->p;
    const elnet_slab *sl = &pb->sl;
    const strata_comm *c = sl->comm;
    double *yp = s->part + ELNET_NCHUNK * 3 * p;
    sweep a = {ctx, prm, s, STRATA_OK, 0, pb->fam == STRATA_FAMILY_BINOMIAL, 0};
    strata_status sc = STRATA_OK;
    int nt = pb->nthreads;
    pb->nthreads = 1; /* (serial anyway: row order) */
    if (c && c->rank > 0) /* across ranks: the weights' sum goes on from the rank before */
        sc = c->recv(c->ud, &a.sw, sizeof a.sw, c->rank - 1);
    elnet_windows(pb, ws, check_window, &a);
    pb->nthreads = nt;
    if (c && sc == STRATA_OK && c->rank + 1 < c->size)
        sc = c->send(c->ud, &a.sw, sizeof a.sw, c->rank + 1);
    if (c && sc == STRATA_OK)
        sc = c->bcast(c->ud, &a.sw, sizeof a.sw, c->size - 1);
    if (sc == STRATA_OK && pb->fam == STRATA_FAMILY_BINOMIAL)
        sc = elnet_all_ranks(sl, &a.y01);
    STRATA_TRY(window_status(ctx, pb, a.st, sc));
    pb->y01 = a.y01;
    if (!(a.sw > 0))
        return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the weights sum to %g", a.sw);
    *sw = a.sw;
    elnet_stream_prep(pb->st, a.sw, 0, 0);
    elnet_windows(pb, ws, means_window, &a);
    STRATA_TRY(window_status(ctx, pb, STRATA_OK, STRATA_OK));
    if (elnet_gather(sl, s->part, p * sizeof *s->part) != STRATA_OK || elnet_gather(sl, yp, sizeof *yp) != STRATA_OK)
        return window_status(ctx, pb, STRATA_OK, STRATA_EIO);
    means_reduce(p, s->part, s->xm);
    pb->ym = 0;
    pb->ys = 1;
    *ybar = chunk_total(yp);
    a.centre = pb->fam == STRATA_FAMILY_GAUSSIAN ? *ybar : 0;
    elnet_windows(pb, ws, var_window, &a);
    STRATA_TRY(window_status(ctx, pb, STRATA_OK, STRATA_OK));
    if (elnet_gather(sl, s->part, 3 * p * sizeof *s->part) != STRATA_OK ||
        elnet_gather(sl, yp + ELNET_NCHUNK, sizeof *yp) != STRATA_OK)
        return window_status(ctx, pb, STRATA_OK, STRATA_EIO);
    var_reduce(p, s->part, s->xm, s->cn, s->xmax);
    std_scales(p, prm, s);
    if (pb->fam == STRATA_FAMILY_GAUSSIAN) {
        pb->ym = *ybar;
        pb->ys = sqrt(chunk_total(yp + ELNET_NCHUNK));
        if (!(pb->ys > 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the gaussian response is constant");
        elnet_stream_prep(pb->st, a.sw, pb->ym, pb->ys);
    }
    return STRATA_OK;
}

/* The intercept(+offset)-only fit: closed form without an offset, else
 * Newton steps on b0; leaves eta, v, r, dev and the full score in ws. */
static strata_status null_model(strata_ctx *ctx, const elnet_prob *pb, elnet_ws *ws, double ybar)
{
    for (size_t c = 0; c < ELNET_NCHUNK; c++)
        ws->dpart_dev[c] = 0;
    if (!pb->st) /* (streamed: from standardise_streamed's pass) */
        STRATA_TRY(wmean(&pb->sl, pb->w, pb->y, 0, 0, &ybar));
    ws->b0 = 0;
    if (pb->fam == STRATA_FAMILY_BINOMIAL) {
        if (!(ybar > 1e-9 && ybar < 1 - 1e-9))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the binomial response has mean %g (one class only)", ybar);
        ws->b0 = log(ybar / (1 - ybar));
    } else if (pb->fam == STRATA_FAMILY_POISSON) {
        if (!(ybar > 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "elnet: the poisson response is all 0");
        ws->b0 = log(ybar);
    }
    elnet_eta_pass(pb, ws);
    for (int it = 0; pb->off && pb->fam != STRATA_FAMILY_GAUSSIAN && it < 100; it++) {
        double sh[2 * ELNET_NCHUNK], s = 0, h = 0; /* per chunk: sum r, sum v */
        for (size_t c = pb->sl.c0; c < pb->sl.c1; c++) {
            size_t r0, r1;
            elnet_chunk_rows(&pb->sl, c, &r0, &r1);
            sh[2 * c] = sh[2 * c + 1] = 0;
            for (size_t i = r0; i < r1; i++) {
                sh[2 * c] += ws->r[i];
                sh[2 * c + 1] += ws->v[i];
            }
        }
        STRATA_TRY(elnet_gather(&pb->sl, sh, 2 * sizeof *sh));
        for (size_t c = 0; c < ELNET_NCHUNK; c++) {
            s += sh[2 * c];
            h += sh[2 * c + 1];
        }
        ws->b0 += s / h;
        elnet_eta_pass(pb, ws);
        if (fabs(s / h) < 1e-13 * (1 + fabs(ws->b0)))
            break;
    }
    elnet_refresh(pb, ws);
    return elnet_pass_status(ctx, pb, ws);
}

/* Standardised (b0, beta) per step -> original scale; lambda x ys; the first
 * lambda reported as glmnet's fix.lam does (exp(2 log l2 - log l3)). */
static void unscale(const elnet_prob *pb, const elnet_params *prm, elnet_path *out)
{
    size_t p = pb->p;
    for (size_t m = 0; m < out->nlam; m++) {
        double *b = out->beta + m * p, a0 = pb->fam == STRATA_FAMILY_GAUSSIAN ? pb->ym + pb->ys * out->a0[m] : out->a0[m];
        for (size_t j = 0; j < p; j++) {
            b[j] = pb->ju[j] ? pb->ys * b[j] / pb->xs[j] : 0;
            a0 -= b[j] * pb->xm[j];
        }
        out->a0[m] = a0;
        out->lambda[m] *= pb->ys;
    }
    if (!prm->lambda && out->nlam >= 3)
        out->lambda[0] = exp(2 * log(out->lambda[1]) - log(out->lambda[2]));
}

/* Threads for the passes over the data: one below prm->par_min values of X,
 * where a pass takes about a millisecond and a parallel region's fork and
 * barrier (and, on a loaded machine, waiting for a descheduled thread) cost
 * more than the second core saves. The bits do not depend on it. */
static int elnet_threads(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm)
{
    return (double)d->n * (double)d->p < prm->par_min ? 1 : strata_threads(ctx);
}

strata_status elnet_pass_status(strata_ctx *ctx, const elnet_prob *pb, const elnet_ws *ws)
{
    if (ws->cst == STRATA_OK)
        return STRATA_OK;
    if (pb->st)
        return elnet_stream_status(ctx, pb->st);
    return STRATA_FAIL(ctx, ws->cst, "elnet: gathering a pass's partial sums over the MPI ranks failed");
}

/* The fit on streamed rows (d->rd): the steps of elnet_fit, each pass over
 * the rows a read of the windows (docs/scale.md, "The elastic net under a
 * budget"); the per-row state kept is v and r (16 bytes a row). */
static strata_status fit_streamed(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                                  elnet_path *out)
{
    std_arrays s = {0};
    elnet_ws ws = {0};
    elnet_kern kern;
    elnet_params P = *prm;
    elnet_prob pb = {0};
    elnet_stream *es = NULL;
    double sw = 0, ybar = 0;
    elnet_slab sl = d->sl;
    if (!sl.comm)
        elnet_slab_one(d->n, &sl);
    strata_status st = elnet_check(ctx, d, prm);
    if (st == STRATA_OK)
        st = std_alloc(ctx, 0, d->p, prm, &s);
    if (st == STRATA_OK && !(s.xb = strata_calloc(ctx, d->p + 1, sizeof *s.xb))) /* no 0/1 bytes */
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for %zu column flags", d->p);
    if (st == STRATA_OK)
        st = elnet_ws_alloc(ctx, d->n, 0, d->p, &ws);
    if (st == STRATA_OK)
        st = elnet_stream_open(ctx, d, prm, &es);
    if (sl.comm) /* (any of these may fail on one rank alone) */
        st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK) {
        elnet_kern_get(0, &kern);
        /* off: only whether there is one (the null model's Newton steps); the
         * windows hold the values */
        const double *off = prm->family != STRATA_FAMILY_GAUSSIAN ? d->rd->off[0] : NULL;
        pb = (elnet_prob){prm->family, d->n, d->p, NULL, 0, NULL, off, NULL, s.xm, s.xs, s.ju,
                          s.vp, prm->alpha, 0, 1, 0, 0, elnet_threads(ctx, d, prm), s.xb,
                          &kern, s.cn, 0, s.xmax, sl, es};
        st = standardise_streamed(ctx, d, prm, &s, &pb, &ws, &sw, &ybar);
    }
    if (prm->lambda)
        P.lambda = s.lam;
    if (st == STRATA_OK)
        st = null_model(ctx, &pb, &ws, ybar);
    int pre = ws.nscan + 3, nwin = (int)elnet_stream_nwin(es);
    double t_path = omp_get_wtime();
    if (st == STRATA_OK) {
        pb.dev0 = ws.dev;
        pb.thr = prm->thresh * (pb.fam == STRATA_FAMILY_GAUSSIAN ? pb.dev0 : pb.dev0 / 2);
        out->nulldev = sw * pb.dev0 * pb.ys * pb.ys;
        st = elnet_run_path(ctx, &pb, &P, &ws, out);
    }
    if (st == STRATA_OK) {
        double path_s = omp_get_wtime() - t_path;
        unscale(&pb, &P, out);
        strata_log(ctx, STRATA_LOG_INFO,
                   "elnet: streamed: %d passes over the rows, %d of them before the path (checks, means, "
                   "variances, null model), then %d Gram passes and %d scans; %d window reads (%d windows a "
                   "pass, the last read ahead unused); path_s=%.3f pass_ms=%.1f wait_s=%.3f (the passes waiting "
                   "for reads)",
                   ws.ngram + ws.nscan + 3, pre, ws.ngram, ws.nscan - (pre - 3), elnet_stream_reads(es), nwin,
                   path_s, 1e3 * path_s / (ws.ngram + ws.nscan - (pre - 3) > 0 ? ws.ngram + ws.nscan - (pre - 3) : 1),
                   elnet_stream_wait(es));
    }
    elnet_stream_close(ctx, es);
    elnet_ws_free(ctx, &ws);
    std_free(ctx, &s);
    return st;
}

strata_status elnet_fit(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm, elnet_path *out)
{
    std_arrays s = {0};
    elnet_ws ws = {0};
    elnet_kern kern;
    elnet_params P = *prm;
    elnet_prob pb = {0};
    double sw = 0;
    elnet_slab sl = d->sl;
    if (d->rd)
        return fit_streamed(ctx, d, prm, out);
    if (!sl.comm)
        elnet_slab_one(d->n, &sl);
    strata_status st = elnet_check(ctx, d, prm);
    if (sl.comm) /* every rank checked its rows: the lowest failing row's rank speaks */
        st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK)
        st = standardise(ctx, d, prm, &sl, &s, &pb, &sw);
    if (st == STRATA_OK)
        st = pack_flags(ctx, d, &s);
    if (st == STRATA_OK)
        st = elnet_ws_alloc(ctx, d->n, d->n, d->p, &ws);
    if (sl.comm) /* (allocations may fail on one rank alone) */
        st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK) {
        pb = (elnet_prob){prm->family, d->n, d->p, d->X, d->ldx, s.y,
                          prm->family == STRATA_FAMILY_GAUSSIAN ? NULL : d->offset, s.w, s.xm, s.xs, s.ju,
                          s.vp, prm->alpha, pb.ym, pb.ys, 0, 0, elnet_threads(ctx, d, prm), s.xb,
                          &kern, s.cn, prm->family == STRATA_FAMILY_BINOMIAL, s.xmax, sl, NULL};
        elnet_kern_get(0, &kern);
        for (size_t i = 0; pb.y01 && i < d->n; i++)
            pb.y01 = d->y[i] == 0 || d->y[i] == 1;
        if (pb.fam == STRATA_FAMILY_BINOMIAL && elnet_all_ranks(&sl, &pb.y01) != STRATA_OK)
            st = STRATA_FAIL(ctx, STRATA_EIO, "elnet: agreeing on the outcomes over the MPI ranks failed");
        if (prm->lambda)
            P.lambda = s.lam;
        if (st == STRATA_OK)
            st = null_model(ctx, &pb, &ws, 0);
    }
    if (st == STRATA_OK) {
        pb.dev0 = ws.dev;
        pb.thr = prm->thresh * (pb.fam == STRATA_FAMILY_GAUSSIAN ? pb.dev0 : pb.dev0 / 2);
        out->nulldev = sw * pb.dev0 * pb.ys * pb.ys;
        st = elnet_run_path(ctx, &pb, &P, &ws, out);
    }
    if (st == STRATA_OK)
        unscale(&pb, &P, out);
    elnet_ws_free(ctx, &ws);
    std_free(ctx, &s);
    return st;
}
