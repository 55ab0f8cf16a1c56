/* engine/model_elnet_io.c — the elastic-net part of a model file (group
 * /elnet, docs/model-format.md): alpha, the selected step, the whole path
 * (lambda, intercept, coefficients per step, deviance ratio, non-zero count)
 * and, after CV, the curve. Invariant: doubles are stored as float64, so the
 * path loads back bit for bit. */
#include "model_elnet.h"
#include "cohort_internal.h"
#include "internal.h"

#include <hdf5.h>
#include <string.h>

static int put(hid_t g, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), d;
    int rc = -1;
    d = H5Dcreate2(g, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        rc = H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 ? 0 : -1;
        H5Dclose(d);
    }
    H5Sclose(space);
    return rc;
}

static int get(hid_t g, const char *name, hid_t type, size_t n, void *data)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), space;
    int rc = -1;
    if (d < 0)
        return -1;
    space = H5Dget_space(d);
    if (H5Sget_simple_extent_npoints(space) == (hssize_t)n &&
        (n == 0 || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
        rc = 0;
    H5Sclose(space);
    H5Dclose(d);
    return rc;
}

static const char *measure_name(elnet_measure m)
{
    return m == ELNET_MEASURE_AUC ? "auc" : m == ELNET_MEASURE_MSE ? "mse" : "deviance";
}

int elnet_store_write(hid_t file, const elnet_fitted *r)
{
    const elnet_path *pa = r->path;
    hsize_t dims[2] = {pa->nlam, pa->p};
    double scal[3] = {r->alpha, r->lambda, (double)r->selected};
    hsize_t three = 3;
    hid_t g = H5Gcreate2(file, "/elnet", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = g < 0 ? -1 : 0;
    if (rc)
        return rc;
    rc |= put(g, "alpha_lambda_selected", H5T_NATIVE_DOUBLE, 1, &three, scal);
    rc |= put(g, "lambda", H5T_NATIVE_DOUBLE, 1, dims, pa->lambda);
    rc |= put(g, "a0", H5T_NATIVE_DOUBLE, 1, dims, pa->a0);
    rc |= put(g, "dev_ratio", H5T_NATIVE_DOUBLE, 1, dims, pa->dev_ratio);
    rc |= put(g, "df", H5T_NATIVE_INT, 1, dims, pa->df);
    rc |= put(g, "beta", H5T_NATIVE_DOUBLE, 2, dims, pa->beta);
    if (r->cv.nlam) {
        hsize_t n = r->cv.nlam;
        rc |= strata_h5_write_attr_string(g, "cv_measure", measure_name(r->cv.measure));
        rc |= put(g, "cv_lambda", H5T_NATIVE_DOUBLE, 1, &n, r->cv.lambda);
        rc |= put(g, "cv_mean", H5T_NATIVE_DOUBLE, 1, &n, r->cv.cvm);
        rc |= put(g, "cv_sd", H5T_NATIVE_DOUBLE, 1, &n, r->cv.cvsd);
        rc |= put(g, "cv_nzero", H5T_NATIVE_INT, 1, &n, r->cv.nzero);
    }
    H5Gclose(g);
    return rc;
}

/* The CV curve of group g (n steps), when the file has one. */
static strata_status read_cv(strata_ctx *ctx, hid_t g, const char *path, size_t n, elnet_fitted *r)
{
    elnet_cv *cv = &r->cv;
    char *ms = strata_h5_attr_string(ctx, g, "cv_measure");
    if (!ms)
        return STRATA_OK; /* no CV */
    cv->measure = !strcmp(ms, "auc") ? ELNET_MEASURE_AUC : !strcmp(ms, "mse") ? ELNET_MEASURE_MSE
                                                                           : ELNET_MEASURE_DEVIANCE;
    strata_free(ctx, ms, 0);
    cv->lambda = strata_alloc(ctx, n * sizeof *cv->lambda + 1);
    cv->cvm = strata_alloc(ctx, n * sizeof *cv->cvm + 1);
    cv->cvsd = strata_alloc(ctx, n * sizeof *cv->cvsd + 1);
    cv->nzero = strata_alloc(ctx, n * sizeof *cv->nzero + 1);
    if (!cv->lambda || !cv->cvm || !cv->cvsd || !cv->nzero)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory for the CV curve", path);
    if (get(g, "cv_lambda", H5T_NATIVE_DOUBLE, n, cv->lambda) || get(g, "cv_mean", H5T_NATIVE_DOUBLE, n, cv->cvm) ||
        get(g, "cv_sd", H5T_NATIVE_DOUBLE, n, cv->cvsd) || get(g, "cv_nzero", H5T_NATIVE_INT, n, cv->nzero))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet CV curve does not match the path's %zu steps", path, n);
    cv->nlam = n;
    return STRATA_OK;
}

strata_status elnet_store_read(strata_ctx *ctx, hid_t file, const char *path, size_t p, elnet_fitted *r)
{
    double scal[3];
    hid_t g, d, space;
    memset(r, 0, sizeof *r);
    if (H5Lexists(file, "/elnet", H5P_DEFAULT) <= 0)
        return STRATA_OK; /* a GLM */
    g = H5Gopen2(file, "/elnet", H5P_DEFAULT);
    d = g >= 0 ? H5Dopen2(g, "lambda", H5P_DEFAULT) : -1;
    if (d < 0) {
        if (g >= 0)
            H5Gclose(g);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet lacks its lambda dataset", path);
    }
    space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    H5Dclose(d);
    strata_status st = n > 0 ? elnet_path_alloc(ctx, p, (size_t)n, &r->path)
                             : STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet/lambda is empty", path);
    if (st == STRATA_OK) {
        elnet_path *pa = r->path;
        pa->nlam = (size_t)n;
        if (get(g, "alpha_lambda_selected", H5T_NATIVE_DOUBLE, 3, scal) ||
            get(g, "lambda", H5T_NATIVE_DOUBLE, pa->nlam, pa->lambda) ||
            get(g, "a0", H5T_NATIVE_DOUBLE, pa->nlam, pa->a0) ||
            get(g, "dev_ratio", H5T_NATIVE_DOUBLE, pa->nlam, pa->dev_ratio) ||
            get(g, "df", H5T_NATIVE_INT, pa->nlam, pa->df) ||
            get(g, "beta", H5T_NATIVE_DOUBLE, pa->nlam * p, pa->beta) || !(scal[2] >= 0 && scal[2] < (double)n))
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /elnet does not match the model's %zu terms", path, p + 1);
        r->alpha = scal[0], r->lambda = scal[1], r->selected = (size_t)scal[2];
    }
    if (st == STRATA_OK)
        st = read_cv(ctx, g, path, (size_t)n, r);
    H5Gclose(g);
    if (st != STRATA_OK)
        elnet_fitted_free(ctx, r);
    return st;
}
