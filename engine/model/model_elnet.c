/* engine/model_elnet.c — the public elastic-net API (strata/elnet.h) on a
 * cohort: adapts the cohort to the models/ column source, runs
 * elnet_fit_source, and saves / loads the model file with its /elnet group
 * (published atomically: the GLM part and /elnet are written to one temporary,
 * then renamed). Invariant: the model is exactly what strata_glm_fit would
 * save, so score, evaluate and run use it unchanged. */
#include "cohort_internal.h"
#include "glm_internal.h"
#include "internal.h"
#include "model_elnet.h"
#include "outfile.h"
#include "strata/elnet.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

struct strata_elnet {
    elnet_fitted r;
};

void strata_elnet_params_init(strata_elnet_params *p)
{
    memset(p, 0, sizeof *p);
    p->alpha = 1;
    p->nlambda = 100;
    p->thresh = 1e-7;
    p->seed = 1;
}

static strata_status src_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                              const strata_column_info **info)
{
    STRATA_TRY(strata_cohort_find(ctx, ud, col, j));
    *info = strata_cohort_column(ud, *j);
    return STRATA_OK;
}

static strata_status src_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n, double *out)
{
    return strata_cohort_read_f64(ctx, ud, j, row0, n, out);
}

strata_status strata_elnet_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_glm_params *gp,
                               const strata_elnet_params *ep, strata_model **model, strata_elnet **path)
{
    elnet_spec sp;
    strata_elnet *e;
    *model = NULL;
    *path = NULL;
    if (!cohort || !gp || !ep || !gp->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_elnet_fit: cohort, params and formula are required");
    glm_source src = {cohort, strata_cohort_path(cohort), strata_cohort_nrows(cohort), src_find, src_read};
    elnet_spec_init(&sp);
    sp.prm.family = gp->family;
    sp.prm.alpha = ep->alpha;
    sp.prm.nlambda = ep->nlambda;
    sp.prm.lambda_min_ratio = ep->lambda_min_ratio;
    sp.prm.lambda = ep->lambda;
    sp.prm.nuser = ep->n_lambda;
    sp.prm.thresh = ep->thresh;
    sp.formula = gp->formula;
    sp.weights = gp->weights;
    sp.na_action = gp->na_action;
    sp.unseen = gp->unseen;
    sp.pf_term = ep->penalty_term;
    sp.pf_value = ep->penalty_value;
    sp.npf = ep->n_penalty;
    sp.cv_folds = ep->cv_folds;
    sp.seed = ep->seed;
    sp.select_min = ep->select_min;
    if (!(e = strata_calloc(ctx, 1, sizeof *e)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "strata_elnet_fit: out of memory");
    strata_status st = elnet_fit_source(ctx, &src, &sp, model, &e->r);
    if (st != STRATA_OK) {
        strata_free(ctx, e, sizeof *e);
        return st;
    }
    strata_model *m = *model;
    m->prov[0] = strata_strdup(ctx, strata_cohort_path(cohort));
    m->prov[3] = strata_strdup(ctx, strata_version());
    *path = e;
    return STRATA_OK;
}

strata_status strata_elnet_save(strata_ctx *ctx, const strata_model *m, const strata_elnet *e, const char *path)
{
    char *tmp = strata_tmp_path(ctx, path);
    if (!tmp)
        return STRATA_ENOMEM;
    strata_status st = strata_model_save(ctx, m, tmp);
    if (st == STRATA_OK && e) {
        strata_h5_quiet();
        hid_t file = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
        int rc = file < 0 ? -1 : elnet_store_write(file, &e->r);
        if (file >= 0 && H5Fclose(file) < 0)
            rc = -1;
        if (rc)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write the /elnet group of the model file", path);
    }
    if (st == STRATA_OK)
        st = strata_publish(ctx, tmp, path, 0644);
    else
        remove(tmp);
    strata_free(ctx, tmp, 0);
    return st;
}

strata_status strata_elnet_load(strata_ctx *ctx, const char *path, const strata_model *m, strata_elnet **out)
{
    strata_elnet *e;
    *out = NULL;
    strata_h5_quiet();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open model file", path);
    if (!(e = strata_calloc(ctx, 1, sizeof *e))) {
        H5Fclose(file);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory", path);
    }
    strata_status st = elnet_store_read(ctx, file, path, strata_model_nterms(m) - 1, &e->r);
    H5Fclose(file);
    if (st != STRATA_OK || !e->r.path) {
        strata_free(ctx, e, sizeof *e);
        return st;
    }
    *out = e;
    return STRATA_OK;
}

void strata_elnet_free(strata_ctx *ctx, strata_elnet *e)
{
    if (!e)
        return;
    elnet_fitted_free(ctx, &e->r);
    strata_free(ctx, e, sizeof *e);
}

size_t strata_elnet_nsteps(const strata_elnet *e) { return e ? e->r.path->nlam : 0; }
double strata_elnet_alpha(const strata_elnet *e) { return e->r.alpha; }
size_t strata_elnet_selected(const strata_elnet *e) { return e->r.selected; }
double strata_elnet_lambda(const strata_elnet *e, size_t k) { return e->r.path->lambda[k]; }
double strata_elnet_dev_ratio(const strata_elnet *e, size_t k) { return e->r.path->dev_ratio[k]; }
int strata_elnet_df(const strata_elnet *e, size_t k) { return e->r.path->df[k]; }
size_t strata_elnet_cv_steps(const strata_elnet *e) { return e ? e->r.cv.nlam : 0; }
double strata_elnet_cv_mean(const strata_elnet *e, size_t k) { return e->r.cv.cvm[k]; }
double strata_elnet_cv_sd(const strata_elnet *e, size_t k) { return e->r.cv.cvsd[k]; }

double strata_elnet_coef(const strata_elnet *e, size_t k, size_t j)
{
    const elnet_path *pa = e->r.path;
    return j == 0 ? pa->a0[k] : pa->beta[k * pa->p + j - 1];
}

const char *strata_elnet_cv_measure(const strata_elnet *e)
{
    if (!e || !e->r.cv.nlam)
        return "";
    return e->r.cv.measure == ELNET_MEASURE_AUC ? "auc" : e->r.cv.measure == ELNET_MEASURE_MSE ? "mse" : "deviance";
}
