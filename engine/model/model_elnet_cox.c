/* engine/model/model_elnet_cox.c — penalised Cox regression on a cohort
 * (strata/elnet.h): the cohort as the models' column source, the elastic-net Cox
 * fit (models/elnet/elnet_cox_source.c) with provenance, and the model file as one
 * record: the Cox model's items (cox_model_export) plus the /elnet path and CV
 * curve (elnet_export). Invariant: the file is an ordinary Cox model file, so
 * score, evaluate and run read it as any; no HDF5 here. */
#include "elnet_cox.h"
#include "model_elnet.h"
#include "model_file.h"
#include "model_internal.h"
#include "strata/elnet.h"

#include <string.h>

strata_status strata_elnet_cox_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_cox_params *cp,
                                   const strata_elnet_params *ep, strata_cox **model, strata_elnet **path)
{
    elnet_spec sp;
    glm_source src;
    cox_model *cm = NULL;
    strata_elnet *e;
    strata_cox *m;
    strata_status st;
    *model = NULL;
    *path = NULL;
    if (!cohort || !cp || !ep || !cp->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_elnet_cox_fit: cohort, params and formula are required");
    model_elnet_spec(ep, cp->formula, &sp);
    if (!(e = strata_calloc(ctx, 1, sizeof *e)) || !(m = strata_calloc(ctx, 1, sizeof *m))) {
        strata_free(ctx, e, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "strata_elnet_cox_fit: out of memory");
    }
    model_cohort_source(cohort, &src);
    st = elnet_cox_fit_source(ctx, &src, cp, &sp, &cm, &e->r);
    if (st == STRATA_OK && (st = model_cox_provenance(ctx, cohort, cm)) != STRATA_OK)
        elnet_fitted_free(ctx, &e->r);
    if (st != STRATA_OK) {
        cox_model_free(ctx, cm);
        strata_free(ctx, e, sizeof *e);
        strata_free(ctx, m, sizeof *m);
        return st;
    }
    m->cox = cm;
    *model = m;
    *path = e;
    return STRATA_OK;
}

strata_status strata_elnet_cox_save(strata_ctx *ctx, const strata_cox *m, const strata_elnet *e, const char *path)
{
    strata_record rec;
    strata_status st;
    if (!m || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_elnet_cox_save: model or path is NULL");
    strata_record_init(&rec);
    st = cox_model_export(ctx, m->cox, &rec);
    if (st == STRATA_OK && e)
        st = elnet_export(ctx, &e->r, &rec);
    if (st == STRATA_OK)
        st = strata_model_file_write(ctx, &rec, path);
    strata_record_free(ctx, &rec);
    return st;
}

strata_status strata_elnet_cox_load(strata_ctx *ctx, const char *path, const strata_cox *m, strata_elnet **out)
{
    strata_record rec;
    strata_elnet *e;
    strata_status st;
    *out = NULL;
    if (!m || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_elnet_cox_load: model or path is NULL");
    if (!(e = strata_calloc(ctx, 1, sizeof *e)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory", path);
    strata_record_init(&rec);
    st = strata_model_file_read(ctx, path, &rec);
    if (st == STRATA_OK)
        st = elnet_import(ctx, &rec, path, strata_cox_nterms(m), &e->r);
    strata_record_free(ctx, &rec);
    if (st != STRATA_OK || !e->r.path) {
        strata_free(ctx, e, sizeof *e);
        return st;
    }
    *out = e;
    return STRATA_OK;
}
