/* models/elnet/elnet_source.c — an elastic-net path (and CV) from a formula
 * over a column source: the design comes from the GLM formula machinery
 * (factors, rcs, interactions, offsets, weights) on the complete cases, the
 * intercept column is left to the path's own unpenalised intercept, and the
 * selected lambda becomes an ordinary glm_model (coefficients in design
 * order, no standard errors). Invariant: the design is the GLM's, so a model
 * saved from here scores exactly as a GLM with these coefficients would. */
#include "elnet_internal.h"
#include "glm_internal.h"
#include "internal.h"

#include <math.h>
#include <string.h>

#define SRC_BLOCK 8192 /* rows of design built at a time */

void elnet_spec_init(elnet_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    elnet_params_init(&sp->prm);
    sp->prm.family = STRATA_FAMILY_BINOMIAL;
    sp->seed = 1;
}

void elnet_fitted_free(strata_ctx *ctx, elnet_fitted *r)
{
    elnet_path_free(ctx, r->path);
    elnet_cv_free(ctx, &r->cv);
    memset(r, 0, sizeof *r);
}

/* The model's columns read, incomplete rows dropped (or refused) and the
 * response checked; raw[v] compacted to the n_used complete cases. */
static strata_status load_rows(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                               const glm_varbind *vb, const elnet_spec *sp, double **raw, unsigned char *mask,
                               size_t *n_used)
{
    size_t n = src->nrows, used = 0;
    if (n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    for (size_t v = 0; v < f->nvars; v++)
        STRATA_TRY(src->read_f64(ctx, src->ud, vb[v].src_col, 0, n, raw[v]));
    memset(mask, 1, n);
    for (size_t v = 0; v < f->nvars; v++)
        for (size_t i = 0; i < n; i++)
            if (raw[v][i] != raw[v][i]) {
                if (sp->na_action == STRATA_NA_FAIL)
                    return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                       src->name, f->vars[v].column, i + 1);
                mask[i] = 0;
            }
    for (size_t i = 0; i < n; i++) {
        double y = raw[f->response][i];
        if (mask[i] && !glm_valid_y(sp->prm.family, y))
            return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s", src->name,
                               f->vars[f->response].column, i + 1, y, glm_valid_y_text(sp->prm.family));
        used += mask[i];
    }
    if (used < 2)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: %zu complete cases for formula \"%s\" (need >= 2)", src->name,
                           used, f->text);
    *n_used = used;
    return STRATA_OK;
}

/* X (column-major n x (p - 1): the design without its intercept column 0),
 * y, weights and offset from the compacted raw columns. */
static strata_status build_design(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                                  double *const *raw, size_t n, double *X, double *y, double *w, double *off)
{
    size_t p = f->p, width = glm_design_work(f);
    double *blk = strata_alloc(ctx, SRC_BLOCK * p * sizeof *blk + 1);
    double *work = strata_alloc(ctx, SRC_BLOCK * width * sizeof *work + 1);
    double **rb = strata_alloc(ctx, (f->nvars + 1) * sizeof *rb);
    if (!blk || !work || !rb) {
        strata_free(ctx, blk, 0), strata_free(ctx, work, 0), strata_free(ctx, rb, 0);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory building the design (%zu x %zu)", n, p);
    }
    for (size_t r0 = 0; r0 < n; r0 += SRC_BLOCK) {
        size_t nb = n - r0 < SRC_BLOCK ? n - r0 : SRC_BLOCK;
        int bad = -1;
        for (size_t v = 0; v < f->nvars; v++)
            rb[v] = raw[v] + r0;
        glm_design_block(f, vb, rb, nb, blk, work, &bad);
        for (size_t j = 1; j < p; j++)
            memcpy(X + (j - 1) * n + r0, blk + j * nb, nb * sizeof *X);
    }
    for (size_t i = 0; i < n; i++) {
        y[i] = raw[f->response][i];
        w[i] = f->weights >= 0 ? raw[f->weights][i] : 1;
        off[i] = f->noffsets ? glm_offset_value(f, raw, i) : 0;
    }
    strata_free(ctx, blk, 0), strata_free(ctx, work, 0), strata_free(ctx, rb, 0);
    return STRATA_OK;
}

/* Penalty factors per design column from "term=w" pairs (R-style names). */
static strata_status penalties(strata_ctx *ctx, const glm_formula *f, const elnet_spec *sp, double *pf)
{
    for (size_t j = 1; j < f->p; j++)
        pf[j - 1] = 1;
    for (size_t k = 0; k < sp->npf; k++) {
        size_t j = 1;
        while (j < f->p && strcmp(f->colnames[j], sp->pf_term[k]))
            j++;
        if (j == f->p)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: --penalty-factor names '%s', which is not a term of \"%s\"",
                               sp->pf_term[k], f->text);
        pf[j - 1] = sp->pf_value[k];
    }
    return STRATA_OK;
}

/* The chosen step as a strata_model: beta = (a0, coefficients) in design
 * order, standard errors and covariance NaN (no inference after selection). */
static void fill_model(glm_model *m, const elnet_spec *sp, const elnet_fitted *r, size_t n_used,
                       size_t n_rows)
{
    size_t p = m->p, s = r->selected;
    const elnet_path *pa = r->path;
    m->beta[0] = pa->a0[s];
    for (size_t j = 1; j < p; j++)
        m->beta[j] = pa->beta[s * (p - 1) + j - 1];
    for (size_t j = 0; j < p; j++) {
        m->se[j] = NAN;
        m->aliased[j] = 0;
        for (size_t k = 0; k < p; k++)
            m->vcov[j * p + k] = NAN;
    }
    strata_fit_summary *S = &m->sum;
    S->family = sp->prm.family;
    S->null_deviance = pa->nulldev;
    S->deviance = pa->nulldev * (1 - pa->dev_ratio[s]);
    S->rank = pa->df[s] + 1;
    S->df_null = (double)n_used - 1;
    S->df_residual = (double)n_used - S->rank;
    S->dispersion = sp->prm.family == STRATA_FAMILY_GAUSSIAN ? S->deviance / S->df_residual : 1;
    S->aic = NAN;
    S->iterations = pa->npasses;
    S->n_used = n_used;
    S->n_dropped = n_rows - n_used;
    S->converged = pa->converged;
    S->t_statistic = sp->prm.family == STRATA_FAMILY_GAUSSIAN;
    m->family = sp->prm.family;
    m->unseen = sp->unseen;
}

/* The path (with CV when asked) on the arrays; picks the step to keep. */
static strata_status fit_arrays(strata_ctx *ctx, const elnet_spec *sp, const elnet_data *d, double *pf,
                                elnet_fitted *r)
{
    elnet_params prm = sp->prm;
    prm.penalty = pf;
    size_t cap = prm.lambda ? prm.nuser : prm.nlambda;
    STRATA_TRY(elnet_path_alloc(ctx, d->p, cap, &r->path));
    r->alpha = prm.alpha;
    if (sp->cv_folds) {
        STRATA_TRY(elnet_cv_run(ctx, d, &prm, sp->cv_folds, sp->foldid, sp->seed, sp->measure, r->path, &r->cv));
        r->selected = sp->select_min ? r->cv.idx_min : r->cv.idx_1se;
    } else {
        STRATA_TRY(elnet_fit(ctx, d, &prm, r->path));
        r->selected = r->path->nlam - 1;
    }
    if (r->path->nlam == 0)
        return STRATA_FAIL(ctx, STRATA_ENOCONV, "elnet: no lambda converged");
    r->lambda = r->path->lambda[r->selected];
    return STRATA_OK;
}

strata_status elnet_fit_source(strata_ctx *ctx, const glm_source *src, const elnet_spec *sp,
                               glm_model **out, elnet_fitted *res)
{
    glm_formula *f = NULL;
    glm_varbind *vb = NULL;
    double **raw = NULL, *X = NULL, *vec = NULL;
    unsigned char *mask = NULL;
    size_t n = src->nrows, n_used = 0, nv = 0;
    strata_status st;
    *out = NULL;
    memset(res, 0, sizeof *res);
    STRATA_TRY(glm_formula_parse(ctx, sp->formula, &f));
    if (sp->weights && (st = glm_formula_set_weights(ctx, f, sp->weights)) != STRATA_OK)
        goto done;
    nv = f->nvars;
    if (!(vb = strata_calloc(ctx, nv + 1, sizeof *vb))) {
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory binding the formula");
        goto done;
    }
    if ((st = glm_bind_fit(ctx, f, src, vb)) != STRATA_OK)
        goto done;
    if (!f->intercept) {
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "elnet: formula \"%s\" drops the intercept; the elastic net keeps its own, unpenalised",
                         f->text);
        goto done;
    }
    raw = strata_calloc(ctx, nv, sizeof *raw);
    mask = strata_alloc(ctx, n + 1);
    st = raw && mask ? STRATA_OK : STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", n);
    for (size_t v = 0; v < nv && st == STRATA_OK; v++)
        if (!(raw[v] = strata_alloc(ctx, (n + 1) * sizeof **raw)))
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", n);
    if (st == STRATA_OK)
        st = load_rows(ctx, src, f, vb, sp, raw, mask, &n_used);
    if (st == STRATA_OK)
        st = glm_freeze(ctx, f, vb, raw, mask, n);
    if (st != STRATA_OK)
        goto done;
    for (size_t v = 0; v < nv && n_used < n; v++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (mask[i])
                raw[v][k++] = raw[v][i];
    }
    size_t p = f->p - 1;
    if (p < 1) {
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "elnet: formula \"%s\" has no terms to penalise", f->text);
        goto done;
    }
    X = strata_alloc(ctx, n_used * p * sizeof *X);
    vec = strata_alloc(ctx, (3 * n_used + p) * sizeof *vec);
    if (!X || !vec) {
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for the %zu x %zu design", n_used, p);
        goto done;
    }
    double *y = vec, *w = vec + n_used, *off = vec + 2 * n_used, *pf = vec + 3 * n_used;
    if ((st = build_design(ctx, f, vb, raw, n_used, X, y, w, off)) != STRATA_OK ||
        (st = penalties(ctx, f, sp, pf)) != STRATA_OK)
        goto done;
    elnet_data d = {n_used, p, X, n_used, y, f->weights >= 0 ? w : NULL, f->noffsets ? off : NULL};
    if ((st = fit_arrays(ctx, sp, &d, pf, res)) != STRATA_OK)
        goto done;
    glm_model *m = NULL;
    if ((st = glm_model_alloc(ctx, f, &m)) != STRATA_OK)
        goto done;
    f = NULL; /* owned by m */
    fill_model(m, sp, res, n_used, n);
    *out = m;
done:
    if (st != STRATA_OK)
        elnet_fitted_free(ctx, res);
    for (size_t v = 0; raw && v < nv; v++)
        strata_free(ctx, raw[v], 0);
    strata_free(ctx, raw, 0);
    strata_free(ctx, mask, 0);
    strata_free(ctx, X, 0);
    strata_free(ctx, vec, 0);
    glm_varbind_free(ctx, vb, nv);
    glm_formula_free(ctx, f);
    return st;
}
