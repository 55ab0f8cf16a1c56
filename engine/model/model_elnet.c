/* engine/model/model_elnet.c — the public elastic-net API (strata/elnet.h) on a
 * cohort: the cohort as the models' column source, elnet_fit_source, and the
 * model file as one record: the GLM's items (glm_model_export) plus the
 * /elnet/... items (elnet_export), written by engine/io/model_file.c and
 * published atomically. Invariant: the model is a glm_model that strata_glm_fit
 * could have made, so score, evaluate and run use it unchanged; no HDF5 here. */
#include "cohort_dist.h"
#include "comm.h"
#include "model_elnet.h"
#include "model_file.h"
#include "model_internal.h"
#include "strata/elnet.h"

#include <stdio.h>
#include <string.h>

void model_elnet_spec(const strata_elnet_params *ep, const char *formula, elnet_spec *sp)
{
    elnet_spec_init(sp);
    sp->prm.alpha = ep->alpha;
    sp->prm.nlambda = ep->nlambda;
    sp->prm.lambda_min_ratio = ep->lambda_min_ratio;
    sp->prm.lambda = ep->lambda;
    sp->prm.nuser = ep->n_lambda;
    sp->prm.thresh = ep->thresh;
    sp->formula = formula;
    sp->pf_term = ep->penalty_term;
    sp->pf_value = ep->penalty_value;
    sp->npf = ep->n_penalty;
    sp->cv_folds = ep->cv_folds;
    sp->seed = ep->seed;
    sp->select_min = ep->select_min;
}

void strata_elnet_params_init(strata_elnet_params *p)
{
    memset(p, 0, sizeof *p);
    p->alpha = 1;
    p->nlambda = 100;
    p->thresh = 1e-7;
    p->seed = 1;
}

/* input_path, input_hash ("sha256:<hex>") and strata_version, as a GLM fit has. */
static strata_status elnet_provenance(strata_ctx *ctx, glm_model *g, const char *path)
{
    char hex[65], val[80], rec[4096];
    STRATA_TRY(model_input_hash(ctx, path, hex));
    snprintf(val, sizeof val, "sha256:%s", hex);
    STRATA_TRY(glm_model_set_provenance(ctx, g, "input_path",
                                        strata_recorded_path(ctx, path, rec, sizeof rec)));
    STRATA_TRY(glm_model_set_provenance(ctx, g, "input_hash", val));
    return glm_model_set_provenance(ctx, g, "strata_version", strata_version());
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
    glm_source src;
    glm_model *g = NULL;
    strata_cohort *dc = NULL;
    const strata_comm *cm = strata_ctx_comm(ctx);
    model_elnet_spec(ep, gp->formula, &sp);
    sp.prm.family = gp->family;
    sp.weights = gp->weights;
    sp.na_action = gp->na_action;
    sp.unseen = gp->unseen;
    if (!(e = strata_calloc(ctx, 1, sizeof *e)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "strata_elnet_fit: out of memory");
    strata_status st = STRATA_OK;
    if (cm && !sp.cv_folds) /* every rank: its slab of rows through collective parallel-HDF5
                             * reads on a handle of its own (docs/scale.md#mpi) */
        st = strata_comm_agree(ctx, strata_cohort_open_dist(ctx, strata_cohort_path(cohort), &dc));
    model_cohort_source(dc ? dc : cohort, &src);
    if (st == STRATA_OK)
        st = elnet_fit_source(ctx, &src, &sp, &g, &e->r);
    strata_cohort_close(dc);
    /* the input's hash for the provenance on the rank that writes the model */
    if (st == STRATA_OK && (!cm || cm->rank == 0) &&
        (st = elnet_provenance(ctx, g, strata_cohort_path(cohort))) != STRATA_OK)
        elnet_fitted_free(ctx, &e->r);
    if (st != STRATA_OK) {
        glm_model_free(ctx, g);
        strata_free(ctx, e, sizeof *e);
        return st;
    }
    if ((st = model_wrap_glm(ctx, g, model)) != STRATA_OK) {
        strata_elnet_free(ctx, e);
        return st;
    }
    *path = e;
    return STRATA_OK;
}

/* model_record_fn: the /elnet/... items beside the GLM's. */
static strata_status export_elnet(strata_ctx *ctx, const void *e, strata_record *rec)
{
    return elnet_export(ctx, &((const strata_elnet *)e)->r, rec);
}

strata_status strata_elnet_save(strata_ctx *ctx, const strata_model *m, const strata_elnet *e, const char *path)
{
    return model_save_glm(ctx, m, e ? export_elnet : NULL, e, path, "strata_elnet_save");
}

strata_status strata_elnet_load(strata_ctx *ctx, const char *path, const strata_model *m, strata_elnet **out)
{
    strata_record rec;
    strata_elnet *e;
    strata_status st;
    *out = NULL;
    if (!m || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_elnet_load: model or path is NULL");
    if (!(e = strata_calloc(ctx, 1, sizeof *e)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory", path);
    strata_record_init(&rec);
    st = strata_model_file_read(ctx, path, &rec);
    if (st == STRATA_OK)
        st = elnet_import(ctx, &rec, path, strata_model_nterms(m) - 1, &e->r);
    strata_record_free(ctx, &rec);
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

size_t strata_elnet_cv_min(const strata_elnet *e) { return e && e->r.cv.nlam ? e->r.cv.idx_min : 0; }
size_t strata_elnet_cv_1se(const strata_elnet *e) { return e && e->r.cv.nlam ? e->r.cv.idx_1se : 0; }
