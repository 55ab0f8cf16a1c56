/* models/elnet/elnet_record.c — the elastic-net part of a model record (the
 * /elnet/... items, docs/model-format.md) beside the GLM's own: alpha, the
 * selected step, the whole path (lambda, intercept, coefficients per step,
 * deviance ratio, non-zero count) and, after CV, the curve with its measure.
 * engine/io writes them as datasets of group /elnet. Invariant: doubles copy
 * bit for bit, so the path loads back exactly. */
#include "elnet_internal.h"

#include <math.h>
#include <string.h>

#define EL_SCALARS "/elnet/alpha_lambda_selected"

static strata_status put_f64(strata_ctx *ctx, strata_record *rec, const char *name, const double *x,
                             size_t rows, size_t cols)
{
    double *d = strata_rec_put_f64(ctx, rec, name, rows, cols);
    if (!d)
        return STRATA_ENOMEM;
    memcpy(d, x, rows * (cols ? cols : 1) * sizeof *d);
    return STRATA_OK;
}

static strata_status put_int(strata_ctx *ctx, strata_record *rec, const char *name, const int *x, size_t n)
{
    int64_t *d = strata_rec_put_int(ctx, rec, name, STRATA_REC_I32, n, 0);
    if (!d)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return STRATA_OK;
}

static const char *measure_name(elnet_measure m)
{
    return m == ELNET_MEASURE_AUC ? "auc" : m == ELNET_MEASURE_MSE ? "mse" : "deviance";
}

strata_status elnet_export(strata_ctx *ctx, const elnet_fitted *r, strata_record *rec)
{
    const elnet_path *pa = r->path;
    double scal[3] = {r->alpha, r->lambda, (double)r->selected};
    STRATA_TRY(put_f64(ctx, rec, EL_SCALARS, scal, 3, 0));
    STRATA_TRY(put_f64(ctx, rec, "/elnet/lambda", pa->lambda, pa->nlam, 0));
    STRATA_TRY(put_f64(ctx, rec, "/elnet/a0", pa->a0, pa->nlam, 0));
    STRATA_TRY(put_f64(ctx, rec, "/elnet/dev_ratio", pa->dev_ratio, pa->nlam, 0));
    STRATA_TRY(put_int(ctx, rec, "/elnet/df", pa->df, pa->nlam));
    STRATA_TRY(put_f64(ctx, rec, "/elnet/beta", pa->beta, pa->nlam, pa->p));
    if (r->cv.nlam) {
        const char *ms = measure_name(r->cv.measure);
        size_t n = r->cv.nlam;
        STRATA_TRY(strata_rec_put_strings(ctx, rec, "/elnet/cv_measure", &ms, 1));
        STRATA_TRY(put_f64(ctx, rec, "/elnet/cv_lambda", r->cv.lambda, n, 0));
        STRATA_TRY(put_f64(ctx, rec, "/elnet/cv_mean", r->cv.cvm, n, 0));
        STRATA_TRY(put_f64(ctx, rec, "/elnet/cv_sd", r->cv.cvsd, n, 0));
        STRATA_TRY(put_int(ctx, rec, "/elnet/cv_nzero", r->cv.nzero, n));
    }
    return STRATA_OK;
}

/* Copies float64 item `name` of exactly n values into out; -1 when absent or
 * of another size. */
static int get_f64(const strata_record *rec, const char *name, size_t n, double *out)
{
    const strata_rec_item *it = strata_rec_find(rec, name, STRATA_REC_F64);
    if (!it || strata_rec_count(it) != n)
        return -1;
    if (n)
        memcpy(out, it->f64, n * sizeof *out);
    return 0;
}

static int get_int(const strata_rec_item *it, size_t n, int *out)
{
    if (!it || strata_rec_count(it) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (int)it->i64[i];
    return 0;
}

/* The CV curve (n steps), when the record has one. */
static strata_status import_cv(strata_ctx *ctx, const strata_record *rec, const char *name, size_t n,
                               elnet_fitted *r)
{
    elnet_cv *cv = &r->cv;
    const strata_rec_item *ms = strata_rec_find(rec, "/elnet/cv_measure", STRATA_REC_STRINGS);
    if (!ms)
        return STRATA_OK; /* no CV */
    if (ms->dims[0] != 1)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet/cv_measure is not one string", name);
    if (strcmp(ms->strings[0], "auc") && strcmp(ms->strings[0], "mse") &&
        strcmp(ms->strings[0], "deviance"))
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: /elnet/cv_measure '%.32s' is not deviance, mse or auc", name,
                           ms->strings[0]);
    cv->measure = !strcmp(ms->strings[0], "auc")   ? ELNET_MEASURE_AUC
                  : !strcmp(ms->strings[0], "mse") ? ELNET_MEASURE_MSE
                                                   : ELNET_MEASURE_DEVIANCE;
    cv->lambda = strata_alloc(ctx, n * sizeof *cv->lambda + 1);
    cv->cvm = strata_alloc(ctx, n * sizeof *cv->cvm + 1);
    cv->cvsd = strata_alloc(ctx, n * sizeof *cv->cvsd + 1);
    cv->nzero = strata_alloc(ctx, n * sizeof *cv->nzero + 1);
    if (!cv->lambda || !cv->cvm || !cv->cvsd || !cv->nzero)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory for the CV curve", name);
    if (get_f64(rec, "/elnet/cv_lambda", n, cv->lambda) || get_f64(rec, "/elnet/cv_mean", n, cv->cvm) ||
        get_f64(rec, "/elnet/cv_sd", n, cv->cvsd) ||
        get_int(strata_rec_find(rec, "/elnet/cv_nzero", STRATA_REC_INT), n, cv->nzero))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet CV curve does not match the path's %zu steps", name, n);
    cv->nlam = n;
    for (size_t k = 0; k < n; k++) {
        const char *what = NULL;
        double v = 0;
        if (!(cv->lambda[k] == r->path->lambda[k]))
            what = "cv_lambda", v = cv->lambda[k];
        else if (isinf(cv->cvm[k]))
            what = "cv_mean", v = cv->cvm[k];
        else if (!(cv->cvsd[k] >= 0 || isnan(cv->cvsd[k])))
            what = "cv_sd", v = cv->cvsd[k];
        else if (cv->nzero[k] < 0 || (size_t)cv->nzero[k] > r->path->p)
            what = "cv_nzero", v = cv->nzero[k];
        if (what)
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: /elnet/%s at step %zu is %g; a CV curve has the path's "
                               "lambdas, means that are not infinite, standard errors >= 0 and "
                               "0..%zu non-zero terms",
                               name, what, k + 1, v, r->path->p);
    }
    elnet_cv_pick(cv); /* lambda.min and lambda.1se follow from the curve */
    return STRATA_OK;
}

/* The path's values: alpha in [0, 1], the selected lambda finite and >= 0;
 * per step lambda finite, >= 0 and decreasing, intercept and coefficients
 * finite, dev_ratio finite and <= 1, df 0..p (issue 17). */
static strata_status check_path(strata_ctx *ctx, const elnet_fitted *r, const char *name)
{
    const elnet_path *pa = r->path;
    if (!(r->alpha >= 0 && r->alpha <= 1))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet alpha is %g, not in [0, 1]", name, r->alpha);
    if (!isfinite(r->lambda) || !(r->lambda >= 0))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet selected lambda is %g", name, r->lambda);
    for (size_t k = 0; k < pa->nlam; k++) {
        const char *what = NULL;
        double v = 0;
        if (!isfinite(pa->lambda[k]) || !(pa->lambda[k] >= 0) ||
            (k > 0 && !(pa->lambda[k] < pa->lambda[k - 1])))
            what = "lambda", v = pa->lambda[k];
        else if (!isfinite(pa->a0[k]))
            what = "a0", v = pa->a0[k];
        else if (!isfinite(pa->dev_ratio[k]) || pa->dev_ratio[k] > 1)
            what = "dev_ratio", v = pa->dev_ratio[k];
        else if (pa->df[k] < 0 || (size_t)pa->df[k] > pa->p)
            what = "df", v = pa->df[k];
        for (size_t j = 0; !what && j < pa->p; j++)
            if (!isfinite(pa->beta[k * pa->p + j]))
                what = "beta", v = pa->beta[k * pa->p + j];
        if (what)
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: /elnet/%s at step %zu is %g; a path has finite values, "
                               "lambdas >= 0 and decreasing, dev_ratio <= 1, df 0..%zu",
                               name, what, k + 1, v, pa->p);
    }
    return STRATA_OK;
}

strata_status elnet_import(strata_ctx *ctx, const strata_record *rec, const char *name, size_t p,
                           elnet_fitted *r)
{
    const strata_rec_item *lam = strata_rec_find(rec, "/elnet/lambda", STRATA_REC_F64);
    double scal[3];
    size_t n;
    strata_status st;
    memset(r, 0, sizeof *r);
    if (!lam) {
        for (size_t i = 0; i < rec->n; i++)
            if (!strncmp(rec->items[i].name, "/elnet/", 7))
                return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet lacks its lambda dataset", name);
        return STRATA_OK; /* a GLM */
    }
    n = strata_rec_count(lam);
    st = n > 0 ? elnet_path_alloc(ctx, p, n, &r->path)
               : STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet/lambda is empty", name);
    if (st == STRATA_OK) {
        elnet_path *pa = r->path;
        const strata_rec_item *beta = strata_rec_find(rec, "/elnet/beta", STRATA_REC_F64);
        pa->nlam = n;
        if (get_f64(rec, EL_SCALARS, 3, scal) || get_f64(rec, "/elnet/lambda", n, pa->lambda) ||
            get_f64(rec, "/elnet/a0", n, pa->a0) || get_f64(rec, "/elnet/dev_ratio", n, pa->dev_ratio) ||
            get_int(strata_rec_find(rec, "/elnet/df", STRATA_REC_INT), n, pa->df) ||
            (p > 0 && (!beta || beta->rank != 2 || beta->dims[1] != p)) ||
            get_f64(rec, "/elnet/beta", n * p, pa->beta) ||
            !(scal[2] >= 0 && scal[2] < (double)n && scal[2] == floor(scal[2])))
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet does not match the model's %zu terms", name, p + 1);
        else
            r->alpha = scal[0], r->lambda = scal[1], r->selected = (size_t)scal[2];
    }
    if (st == STRATA_OK)
        st = check_path(ctx, r, name);
    if (st == STRATA_OK)
        st = import_cv(ctx, rec, name, n, r);
    if (st != STRATA_OK)
        elnet_fitted_free(ctx, r);
    return st;
}
