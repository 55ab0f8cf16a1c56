/* engine/evaluate/evaluate_glm.c — the refit callback for a saved GLM: refits its
 * formula and family with per-row weights (bootstrap multiplicities, fold
 * membership) as a virtual weights column, and scores every row. Invariant: the
 * only coupling of evaluation to the GLM, through models/glm/glm.h; resamples
 * run in order (HDF5 reads and the GLM's OpenMP/BLAS threads one call at a time). */
#include "evaluate_internal.h"
#include "glm.h"
#include "strata/model.h"

#include <math.h>
#include <string.h>

#define VIRTUAL_W "(strata evaluate row weights)"

typedef struct glm_refit_ud {
    strata_cohort *cohort;
    strata_glm_params gp;
    const double *tw;          /* weights of the current refit */
    strata_column_info vinfo;  /* the virtual weights column */
} glm_refit_ud;

static strata_status rf_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                             const strata_column_info **info)
{
    glm_refit_ud *u = ud;
    if (strcmp(col, VIRTUAL_W) == 0) {
        *j = SIZE_MAX;
        *info = &u->vinfo;
        return STRATA_OK;
    }
    STRATA_TRY(strata_cohort_find(ctx, u->cohort, col, j));
    *info = strata_cohort_column(u->cohort, *j);
    return STRATA_OK;
}

static strata_status rf_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n,
                             double *out)
{
    glm_refit_ud *u = ud;
    if (j == SIZE_MAX) {
        memcpy(out, u->tw + row0, n * sizeof *out);
        return STRATA_OK;
    }
    return strata_cohort_read_f64(ctx, u->cohort, j, row0, n, out);
}

static strata_status glm_refit(strata_ctx *ctx, void *ud, const double *tw, size_t n, double *lp)
{
    glm_refit_ud *u = ud;
    glm_source src;
    glm_model *fit = NULL;
    strata_status st;
    memset(&src, 0, sizeof src); /* every optional hook (own_reads, ...) unset */
    u->tw = tw;
    src.ud = u;
    src.name = strata_cohort_path(u->cohort);
    src.nrows = n;
    src.find = rf_find;
    src.read_f64 = rf_read;
    st = glm_fit(ctx, &src, &u->gp, &fit);
    if (st == STRATA_ENOCONV) /* keep the partial fit, as R's glm does with a warning */
        strata_warn(ctx, "evaluate: a refit did not converge: %s", strata_ctx_errmsg(ctx));
    else if (st != STRATA_OK)
        return st;
    /* the refit scores the same source: the virtual weights column is not read */
    st = glm_score(ctx, fit, &src, STRATA_UNSEEN_TO_REFERENCE, lp, NULL);
    glm_model_free(ctx, fit);
    /* rows the model cannot score (missing covariates) carry weight 0 */
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        if (isnan(lp[i]))
            lp[i] = 0.0;
    return st;
}

strata_status strata_evaluate_bootstrap_glm(strata_ctx *ctx, const strata_model *m,
                                            strata_cohort *cohort, const char *outcome,
                                            const double *p, strata_family fam,
                                            const strata_validate_params *vp,
                                            strata_bootstrap_result *res)
{
    glm_refit_ud u;
    strata_fit_summary sum;
    size_t n, dropped;
    double *y = NULL, *w = NULL;
    strata_status st;
    strata_validate_params seq;
    memset(res, 0, sizeof *res);
    if (!m || !cohort || !outcome || !p || !vp)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: bootstrap needs model, cohort, outcome");
    if (strata_model_weights(m))
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "evaluate: bootstrap of a model fitted with prior weights (%s) is not "
                           "supported yet",
                           strata_model_weights(m));
    strata_model_summary(m, &sum);
    n = strata_cohort_nrows(cohort);
    STRATA_TRY(ev_read_outcome(ctx, cohort, outcome, p, &y, &w, &dropped));
    memset(&u, 0, sizeof u);
    u.cohort = cohort;
    strata_glm_params_init(&u.gp);
    u.gp.family = sum.family;
    u.gp.formula = sum.formula;
    u.gp.weights = VIRTUAL_W;
    u.vinfo.group = "patients";
    u.vinfo.name = VIRTUAL_W;
    u.vinfo.dtype = STRATA_DT_FLOAT64;
    u.vinfo.units = "";
    u.vinfo.length = n;
    seq = *vp;
    seq.parallel = 0;
    st = strata_validate_bootstrap(ctx, fam, n, y, w, glm_refit, &u, &seq, res);
    strata_free(ctx, y, 0);
    strata_free(ctx, w, 0);
    return st;
}
