/* models/elnet/elnet_source.c — an elastic-net path (and CV) from a formula
 * over a column source: the design comes from the GLM formula machinery
 * (factors, rcs, interactions, offsets, weights) on the complete cases, the
 * intercept column is left to the path's own unpenalised intercept, and the
 * selected lambda becomes an ordinary glm_model (coefficients in design
 * order, no standard errors). Across MPI ranks each rank reads and keeps only
 * the complete cases of its chunks (docs/scale.md, "The distributed elastic
 * net"). Invariant: the design is the GLM's, so a model saved from here scores
 * exactly as a GLM with these coefficients would. */
#include "elnet_internal.h"
#include "glm_internal.h"
#include "internal.h"
#include "strata/mpi.h"

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

/* Across MPI ranks (docs/scale.md#mpi): rank r reads source rows [lo, hi) of
 * every variable (collective reads, whatever fails), makes and checks their
 * complete-case mask as load_rows does; the ranks agree on any error and
 * gather the mask (one byte a row), so each knows the complete cases. */
static strata_status load_mask_dist(strata_ctx *ctx, const strata_comm *cm, const glm_source *src,
                                    const glm_formula *f, const glm_varbind *vb, const elnet_spec *sp,
                                    unsigned char *mask, size_t *n_used)
{
    size_t n = src->nrows, lo = strata_comm_split(n, cm->size, cm->rank, 1);
    size_t m = strata_comm_split(n, cm->size, cm->rank + 1, 1) - lo, used = 0;
    size_t cd[2 * STRATA_MPI_MAX_RANKS];
    strata_status st = STRATA_OK;
    double *col = strata_alloc(ctx, 2 * (m + 1) * sizeof *col), *y = col ? col + m + 1 : NULL;
    if (!col)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", m);
    memset(mask + lo, 1, m);
    for (size_t v = 0; v < f->nvars; v++) { /* collective: every rank reads every variable */
        strata_status sv = src->read_f64(ctx, src->ud, vb[v].src_col, lo, col ? m : 0, col);
        if (st == STRATA_OK)
            st = sv;
        for (size_t i = 0; st == STRATA_OK && i < m; i++) {
            if (col[i] == col[i])
                continue;
            if (sp->na_action == STRATA_NA_FAIL)
                st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                 src->name, f->vars[v].column, lo + i + 1);
            mask[lo + i] = 0;
        }
        if (st == STRATA_OK && (int)v == f->response)
            memcpy(y, col, m * sizeof *y);
    }
    for (size_t i = 0; st == STRATA_OK && i < m; i++)
        if (mask[lo + i] && !glm_valid_y(sp->prm.family, y[i]))
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s", src->name,
                             f->vars[f->response].column, lo + i + 1, y[i], glm_valid_y_text(sp->prm.family));
    strata_free(ctx, col, 0);
    STRATA_TRY(strata_comm_agree(ctx, st));
    for (int r = 0; r < cm->size; r++) {
        cd[STRATA_MPI_MAX_RANKS + (size_t)r] = strata_comm_split(n, cm->size, r, 1);
        cd[r] = strata_comm_split(n, cm->size, r + 1, 1) - cd[STRATA_MPI_MAX_RANKS + (size_t)r];
    }
    if (cm->allgatherv(cm->ud, NULL, mask, cd, cd + STRATA_MPI_MAX_RANKS) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: gathering the complete-case mask over the MPI ranks failed", src->name);
    for (size_t i = 0; i < n; i++)
        used += mask[i];
    if (used < 2)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: %zu complete cases for formula \"%s\" (need >= 2)", src->name,
                           used, f->text);
    *n_used = used;
    return STRATA_OK;
}

/* Levels and knots need whole columns: the factor and spline variables are
 * read whole on every rank (collectively), frozen, and freed. */
static strata_status freeze_dist(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                                 const unsigned char *mask)
{
    size_t n = src->nrows, nv = f->nvars;
    strata_status st = STRATA_OK;
    double **whole = strata_calloc(ctx, nv, sizeof *whole);
    if (!whole)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory freezing levels and knots");
    for (size_t v = 0; v < nv; v++) {
        if (!f->vars[v].is_factor && f->vars[v].tr != GT_RCS)
            continue;
        double *col = whole && st == STRATA_OK ? strata_alloc(ctx, (n + 1) * sizeof *col) : NULL;
        if (!col && st == STRATA_OK)
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", n);
        strata_status sv = src->read_f64(ctx, src->ud, vb[v].src_col, 0, col ? n : 0, col);
        if (st == STRATA_OK)
            st = sv;
        if (whole)
            whole[v] = col;
    }
    st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK)
        st = strata_comm_agree(ctx, glm_freeze(ctx, f, vb, whole, mask, n));
    for (size_t v = 0; whole && v < nv; v++)
        strata_free(ctx, whole[v], 0);
    strata_free(ctx, whole, 0);
    return st;
}

/* This rank's rows: the complete cases of its chunks (elnet_slab_make), read
 * from the source rows that hold them (collectively) and compacted into raw. */
static strata_status load_slab(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                               const glm_varbind *vb, const unsigned char *mask, const elnet_slab *sl,
                               double **raw)
{
    size_t n = src->nrows, k0 = sl->row0, k1 = k0 + elnet_slab_rows(sl), s0 = 0, s1 = 0, k = 0;
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < n && k < k1; i++) { /* source rows of compact rows [k0, k1) */
        if (!mask[i])
            continue;
        if (k == k0)
            s0 = i;
        s1 = i + 1;
        k++;
    }
    if (k1 == k0)
        s0 = s1 = 0;
    for (size_t v = 0; v < f->nvars; v++) {
        strata_status sv = src->read_f64(ctx, src->ud, vb[v].src_col, s0, s1 - s0, raw[v]);
        if (st == STRATA_OK)
            st = sv;
    }
    for (size_t v = 0; st == STRATA_OK && v < f->nvars; v++) {
        size_t w = 0;
        for (size_t i = s0; i < s1; i++)
            if (mask[i])
                raw[v][w++] = raw[v][i - s0];
    }
    return strata_comm_agree(ctx, st);
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
            return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: the penalty factor names '%s', which is not a term of \"%s\"",
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
    strata_status st = elnet_path_alloc(ctx, d->p, cap, &r->path);
    STRATA_TRY(d->sl.comm ? strata_comm_agree(ctx, st) : st);
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
    size_t n = src->nrows, n_used = 0, nv = 0, nrow = 0;
    const strata_comm *cm = strata_ctx_comm(ctx);
    elnet_slab sl;
    strata_status st;
    *out = NULL;
    memset(res, 0, sizeof *res);
    memset(&sl, 0, sizeof sl);
    if (cm && sp->cv_folds) /* every rank refuses, before any collective step */
        return STRATA_FAIL(ctx, STRATA_EINVAL, "elnet: cross-validation does not run across MPI ranks yet "
                           "(docs/scale.md#mpi): fit with --cv in one process, or without --cv under mpirun");
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
    if (cm) { /* across MPI ranks: the mask, levels and knots, then this rank's rows */
        if (st == STRATA_OK && n == 0)
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
        st = strata_comm_agree(ctx, st);
        if (st == STRATA_OK)
            st = load_mask_dist(ctx, cm, src, f, vb, sp, mask, &n_used);
        if (st == STRATA_OK)
            st = freeze_dist(ctx, src, f, vb, mask);
        if (st != STRATA_OK)
            goto done;
        elnet_slab_make(cm, n_used, &sl);
        nrow = elnet_slab_rows(&sl);
        size_t span = 0, k = 0; /* source rows spanning this rank's complete cases */
        for (size_t i = 0, first = n; i < n && k < sl.row0 + nrow; i++)
            if (mask[i] && k++ >= sl.row0) {
                first = first < i ? first : i;
                span = i + 1 - first;
            }
        for (size_t v = 0; v < nv && st == STRATA_OK; v++)
            if (!(raw[v] = strata_alloc(ctx, (span + 1) * sizeof **raw)))
                st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", span);
        st = strata_comm_agree(ctx, st);
        if (st == STRATA_OK)
            st = load_slab(ctx, src, f, vb, mask, &sl, raw);
        if (st != STRATA_OK)
            goto done;
    } else {
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
        nrow = n_used;
    }
    size_t p = f->p - 1;
    if (p < 1) {
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "elnet: formula \"%s\" has no terms to penalise", f->text);
        goto done;
    }
    X = strata_alloc(ctx, nrow * p * sizeof *X + 1);
    vec = strata_alloc(ctx, (3 * nrow + p) * sizeof *vec);
    st = X && vec ? STRATA_OK : STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for the %zu x %zu design", nrow, p);
    double *y = vec, *w = vec + nrow, *off = vec + 2 * nrow, *pf = vec + 3 * nrow;
    if (st == STRATA_OK)
        st = build_design(ctx, f, vb, raw, nrow, X, y, w, off);
    if (cm)
        st = strata_comm_agree(ctx, st);
    if (st != STRATA_OK || (st = penalties(ctx, f, sp, pf)) != STRATA_OK)
        goto done;
    elnet_data d = {nrow, p, X, nrow, y, f->weights >= 0 ? w : NULL, f->noffsets ? off : NULL, sl};
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
