/* models/glm/glm_record.c — a GLM to and from the model record (record.h) that
 * engine/io writes as the model file: kind, family, formula, coefficients,
 * covariance, summary, frozen levels and knots, provenance. Invariant: doubles
 * copy bit for bit; import re-parses the formula and checks it reproduces the
 * stored variables and coefficient names exactly. */
#include "glm_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sum_keys[] = {"deviance", "null_deviance", "aic", "dispersion",
                                       "df_residual", "df_null", "rank", "iterations",
                                       "n_used", "n_dropped", "converged", "t_statistic"};
#define NSUM (sizeof sum_keys / sizeof sum_keys[0])

static void sum_get(const strata_fit_summary *s, double *v)
{
    v[0] = s->deviance, v[1] = s->null_deviance, v[2] = s->aic, v[3] = s->dispersion;
    v[4] = s->df_residual, v[5] = s->df_null, v[6] = s->rank, v[7] = s->iterations;
    v[8] = (double)s->n_used, v[9] = (double)s->n_dropped, v[10] = s->converged;
    v[11] = s->t_statistic;
}

/* The summary's counts (rank .. t_statistic) are whole numbers in range and
 * converged/t_statistic are 0 or 1; the deviances are finite: a file that says
 * otherwise did not come from a fit (issue 17 #7). Returns the bad index or -1. */
static int sum_bad(const double *v)
{
    for (int k = 0; k < 2; k++)
        if (!isfinite(v[k]) || v[k] < 0)
            return k;
    for (int k = 4; k < (int)NSUM; k++)
        if (!(v[k] >= 0 && v[k] <= 9007199254740992.0 && v[k] == floor(v[k])) ||
            ((k == 10 || k == 11) && v[k] > 1))
            return k;
    return -1;
}

static void sum_set(strata_fit_summary *s, const double *v)
{
    s->deviance = v[0], s->null_deviance = v[1], s->aic = v[2], s->dispersion = v[3];
    s->df_residual = v[4], s->df_null = v[5], s->rank = (int)v[6], s->iterations = (int)v[7];
    s->n_used = (size_t)v[8], s->n_dropped = (size_t)v[9], s->converged = (int)v[10];
    s->t_statistic = (int)v[11];
}

/* ---- export ------------------------------------------------------------------ */

static strata_status put_f64(strata_ctx *ctx, strata_record *r, const char *name, const double *x,
                             size_t rows, size_t cols)
{
    double *d = strata_rec_put_f64(ctx, r, name, rows, cols);
    if (!d)
        return STRATA_ENOMEM;
    memcpy(d, x, rows * (cols ? cols : 1) * sizeof *d);
    return STRATA_OK;
}

static strata_status export_attrs(strata_ctx *ctx, const glm_model *m, strata_record *r)
{
    const glm_formula *f = m->f;
    char buf[64];
    snprintf(buf, sizeof buf, "%zu", m->block_rows);
    /* the block covariance is version 2: a strata that reads version 1 only
     * refuses the file by its version instead of missing /coefficients/vcov */
    if (m->bv)
        STRATA_TRY(strata_rec_put_text(ctx, r, "schema_version", GLM_SCHEMA_BVCOV));
    STRATA_TRY(strata_rec_put_text(ctx, r, STRATA_REC_KIND, GLM_KIND));
    STRATA_TRY(strata_rec_put_text(ctx, r, "family", strata_family_name(m->family)));
    STRATA_TRY(strata_rec_put_text(ctx, r, "formula", f->text));
    STRATA_TRY(strata_rec_put_text(ctx, r, "weights", f->weights >= 0 ? f->vars[f->weights].column : ""));
    STRATA_TRY(strata_rec_put_text(ctx, r, "unseen", m->unseen == STRATA_UNSEEN_TO_REFERENCE ? "to-reference" : "error"));
    STRATA_TRY(strata_rec_put_text(ctx, r, "block_rows", buf));
    for (int k = 0; k < GLM_NPROV; k++)
        if (m->prov[k])
            STRATA_TRY(strata_rec_put_text(ctx, r, glm_prov_keys[k], m->prov[k]));
    return STRATA_OK;
}

/* The block covariance (schema version 2): the levels' columns, then the
 * four blocks (glm_bvcov). */
static strata_status export_bvcov(strata_ctx *ctx, const glm_bvcov *bv, strata_record *r)
{
    int64_t *col = strata_rec_put_int(ctx, r, "/coefficients/vcov_level_column", STRATA_REC_I32, bv->L, 0);
    if (!col)
        return STRATA_ENOMEM;
    for (size_t a = 0; a < bv->L; a++)
        col[a] = (int64_t)bv->lcol[a];
    STRATA_TRY(put_f64(ctx, r, "/coefficients/vcov_dense", bv->dense, bv->q, bv->q));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/vcov_cross", bv->cross, bv->L, bv->q));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/vcov_level_diag", bv->ldiag, bv->L, 0));
    return put_f64(ctx, r, "/coefficients/vcov_level_factor", bv->lfac, bv->L, bv->q);
}

static strata_status export_coefficients(strata_ctx *ctx, const glm_model *m, strata_record *r)
{
    double sv[NSUM];
    int64_t *al;
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/coefficients/term", (const char *const *)m->f->colnames, m->p));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/estimate", m->beta, m->p, 0));
    STRATA_TRY(put_f64(ctx, r, "/coefficients/std_error", m->se, m->p, 0));
    if (!(al = strata_rec_put_int(ctx, r, "/coefficients/aliased", STRATA_REC_U8, m->p, 0)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < m->p; j++)
        al[j] = m->aliased[j];
    if (m->bv)
        STRATA_TRY(export_bvcov(ctx, m->bv, r));
    else
        STRATA_TRY(put_f64(ctx, r, "/coefficients/vcov", m->vcov, m->p, m->p));
    sum_get(&m->sum, sv);
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/summary/name", sum_keys, NSUM));
    return put_f64(ctx, r, "/summary/value", sv, NSUM, 0);
}

/* The formula's variables: levels and knots per variable, then label, column
 * and factor flag of all. */
strata_status glm_spec_export(strata_ctx *ctx, const glm_formula *f, strata_record *r)
{
    const char *labels[GLM_MAXVARS], *cols[GLM_MAXVARS];
    char name[64];
    int64_t *isf;
    for (size_t v = 0; v < f->nvars; v++) {
        const glm_var *gv = &f->vars[v];
        labels[v] = gv->label;
        cols[v] = gv->column;
        snprintf(name, sizeof name, "/spec/var%zu/levels", v);
        if (gv->is_factor)
            STRATA_TRY(strata_rec_put_strings(ctx, r, name, (const char *const *)gv->levels, gv->n_levels));
        snprintf(name, sizeof name, "/spec/var%zu/knots", v);
        if (gv->tr == GT_RCS)
            STRATA_TRY(put_f64(ctx, r, name, gv->knots, (size_t)gv->rcs_k, 0));
    }
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/spec/var_label", labels, f->nvars));
    STRATA_TRY(strata_rec_put_strings(ctx, r, "/spec/var_column", cols, f->nvars));
    if (!(isf = strata_rec_put_int(ctx, r, "/spec/var_factor", STRATA_REC_I8, f->nvars, 0)))
        return STRATA_ENOMEM;
    for (size_t v = 0; v < f->nvars; v++)
        isf[v] = f->vars[v].is_factor;
    return STRATA_OK;
}

strata_status glm_model_export(strata_ctx *ctx, const glm_model *m, strata_record *rec)
{
    STRATA_TRY(export_attrs(ctx, m, rec));
    STRATA_TRY(export_coefficients(ctx, m, rec));
    return glm_spec_export(ctx, m->f, rec);
}

/* ---- import ------------------------------------------------------------------ */

/* A float64 item of exactly n values, or NULL. */
static const double *f64_item(const strata_record *r, const char *name, size_t n)
{
    const strata_rec_item *it = strata_rec_find(r, name, STRATA_REC_F64);
    return it && strata_rec_count(it) == n ? it->f64 : NULL;
}

/* Variable v's stored label, factor flag, levels and knots onto the parsed formula. */
static strata_status import_var(strata_ctx *ctx, const strata_record *r, const char *path,
                                const strata_rec_item *labels, const strata_rec_item *isf,
                                glm_var *gv, size_t v)
{
    char name[64];
    const strata_rec_item *lev;
    const double *knots;
    if (strcmp(labels->strings[v], gv->label))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec/var_label[%zu] '%s' does not match formula variable '%s'",
                           path, v, labels->strings[v], gv->label);
    gv->is_factor = isf->i64[v] != 0;
    if (gv->is_factor) {
        snprintf(name, sizeof name, "/spec/var%zu/levels", v);
        if (!(lev = strata_rec_find(r, name, STRATA_REC_STRINGS)))
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: missing string dataset %s", path, name);
        if (lev->dims[0] == 0)
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: %s: a categorical variable without levels", path, name);
        if (!(gv->levels = strata_calloc(ctx, lev->dims[0] + 1, sizeof *gv->levels)))
            return STRATA_ENOMEM;
        for (size_t l = 0; l < lev->dims[0]; l++) {
            if (!(gv->levels[l] = strata_strdup(ctx, lev->strings[l])))
                return STRATA_ENOMEM;
            gv->n_levels = l + 1;
        }
        gv->ref_index = 0;
    }
    if (gv->tr == GT_RCS) {
        snprintf(name, sizeof name, "/spec/var%zu/knots", v);
        if (!(knots = f64_item(r, name, (size_t)gv->rcs_k)))
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read %s", path, name);
        for (int k = 0; k < gv->rcs_k; k++)
            if (!isfinite(knots[k]) || (k > 0 && !(knots[k] > knots[k - 1])))
                return STRATA_FAIL(ctx, STRATA_EFORMAT,
                                   "%s: %s: knot %d is %g; knots are finite and increasing", path,
                                   name, k + 1, knots[k]);
        memcpy(gv->knots, knots, (size_t)gv->rcs_k * sizeof *knots);
        gv->knots_set = 1;
    }
    return STRATA_OK;
}

strata_status glm_spec_import(strata_ctx *ctx, const strata_record *r, const char *path, glm_formula *f)
{
    const strata_rec_item *labels = strata_rec_find(r, "/spec/var_label", STRATA_REC_STRINGS);
    const strata_rec_item *isf = strata_rec_find(r, "/spec/var_factor", STRATA_REC_INT);
    if (!labels)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: missing string dataset /spec/var_label", path);
    if (labels->dims[0] != f->nvars || !isf || strata_rec_count(isf) != f->nvars)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec does not match the formula's %zu variables", path, f->nvars);
    for (size_t v = 0; v < f->nvars; v++)
        STRATA_TRY(import_var(ctx, r, path, labels, isf, &f->vars[v], v));
    return glm_design_layout(ctx, f);
}

/* Parses the stored formula, restores levels and knots, lays out the design and
 * checks it reproduces /coefficients/term. */
static strata_status import_formula(strata_ctx *ctx, const strata_record *r, const char *path,
                                    glm_formula **out)
{
    const char *formula = strata_rec_text(r, "formula"), *weights = strata_rec_text(r, "weights");
    const strata_rec_item *terms = strata_rec_find(r, "/coefficients/term", STRATA_REC_STRINGS);
    glm_formula *f = NULL;
    strata_status st;
    int ok;
    STRATA_TRY(glm_formula_parse(ctx, formula, &f));
    if (*weights && (st = glm_formula_set_weights(ctx, f, weights)) != STRATA_OK)
        goto fail;
    if ((st = glm_spec_import(ctx, r, path, f)) != STRATA_OK)
        goto fail;
    ok = terms && terms->dims[0] == f->p;
    for (size_t j = 0; ok && j < f->p; j++)
        ok = !strcmp(terms->strings[j], f->colnames[j]);
    if (!ok) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/term does not match the design of the formula", path);
        goto fail;
    }
    *out = f;
    return STRATA_OK;
fail:
    glm_formula_free(ctx, f);
    return st;
}

/* The block covariance of a version-2 file: the level columns distinct, in
 * range and increasing, the blocks of the sizes they imply (L levels, q = p - L
 * others); the other columns are the rest in design order. */
static strata_status import_bvcov(strata_ctx *ctx, const strata_record *r, const char *path,
                                  glm_model *m)
{
    const strata_rec_item *col = strata_rec_find(r, "/coefficients/vcov_level_column", STRATA_REC_INT);
    size_t L = col ? strata_rec_count(col) : 0, q = m->p - L, k = 0;
    const double *dense, *cross, *ldiag, *lfac;
    glm_bvcov *bv;
    if (!col || L == 0 || L > m->p)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: schema_version 2 without /coefficients/vcov_level_column (1..%zu columns)",
                           path, m->p);
    for (size_t a = 0; a < L; a++)
        if (col->i64[a] < (a ? col->i64[a - 1] + 1 : 0) || col->i64[a] >= (int64_t)m->p)
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: /coefficients/vcov_level_column[%zu] is %lld; the columns are increasing and below %zu",
                               path, a, (long long)col->i64[a], m->p);
    dense = f64_item(r, "/coefficients/vcov_dense", q * q);
    cross = f64_item(r, "/coefficients/vcov_cross", L * q);
    ldiag = f64_item(r, "/coefficients/vcov_level_diag", L);
    lfac = f64_item(r, "/coefficients/vcov_level_factor", L * q);
    if (!dense || !cross || !ldiag || !lfac)
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: cannot read /coefficients/vcov_dense (%zu x %zu), vcov_cross, vcov_level_factor (%zu x %zu) "
                           "and vcov_level_diag (%zu)",
                           path, q, q, L, q, L);
    if (!(bv = m->bv = glm_bvcov_alloc(ctx, L, q)))
        return STRATA_ENOMEM;
    for (size_t j = 0, a = 0; j < m->p; j++)
        if (a < L && col->i64[a] == (int64_t)j)
            bv->lcol[a++] = j;
        else
            bv->rcol[k++] = j;
    memcpy(bv->dense, dense, q * q * sizeof *dense);
    memcpy(bv->cross, cross, L * q * sizeof *cross);
    memcpy(bv->ldiag, ldiag, L * sizeof *ldiag);
    memcpy(bv->lfac, lfac, L * q * sizeof *lfac);
    return STRATA_OK;
}

/* The covariance by the file's version: 1 the full p x p, 2 the block form. */
static strata_status import_vcov(strata_ctx *ctx, const strata_record *r, const char *path,
                                 glm_model *m)
{
    const char *ver = strata_rec_text(r, "schema_version");
    const double *vcov;
    if (ver && !strcmp(ver, GLM_SCHEMA_BVCOV))
        return import_bvcov(ctx, r, path, m);
    if (!(vcov = f64_item(r, "/coefficients/vcov", m->p * m->p)))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /coefficients/vcov (%zu x %zu)", path, m->p, m->p);
    if (!(m->vcov = strata_alloc(ctx, (m->p * m->p + 1) * sizeof *m->vcov)))
        return STRATA_ENOMEM;
    memcpy(m->vcov, vcov, m->p * m->p * sizeof *vcov);
    return STRATA_OK;
}

/* Coefficients, covariance and summary into an allocated model. */
static strata_status import_values(strata_ctx *ctx, const strata_record *r, const char *path,
                                   glm_model *m)
{
    const double *est = f64_item(r, "/coefficients/estimate", m->p);
    const double *se = f64_item(r, "/coefficients/std_error", m->p);
    const double *sv = f64_item(r, "/summary/value", NSUM);
    const strata_rec_item *al = strata_rec_find(r, "/coefficients/aliased", STRATA_REC_INT);
    int bad;
    if (!est || !se || !sv || !al || strata_rec_count(al) != m->p)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /coefficients or /summary", path);
    /* a NaN coefficient scored every patient NA with exit 0 (issue 17 #7) */
    for (size_t j = 0; j < m->p; j++) {
        if (al->i64[j] != 0 && al->i64[j] != 1)
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/aliased[%zu] is %lld, not 0 or 1",
                               path, j, (long long)al->i64[j]);
        if (!al->i64[j] && (!isfinite(est[j]) || !(se[j] >= 0 || isnan(se[j]))))
            return STRATA_FAIL(ctx, STRATA_EFORMAT,
                               "%s: coefficient %zu (%s): estimate %g, standard error %g; a saved "
                               "model's estimates are finite",
                               path, j, m->f->colnames[j], est[j], se[j]);
    }
    if ((bad = sum_bad(sv)) >= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /summary/value: %s is %g", path, sum_keys[bad],
                           sv[bad]);
    STRATA_TRY(import_vcov(ctx, r, path, m));
    memcpy(m->beta, est, m->p * sizeof *est);
    memcpy(m->se, se, m->p * sizeof *se);
    for (size_t j = 0; j < m->p; j++)
        m->aliased[j] = al->i64[j] != 0;
    sum_set(&m->sum, sv);
    return STRATA_OK;
}

/* Family, unseen policy, block size and provenance: each checked, since a
 * block size of "-5" scored every patient 0 with exit 0 (issue 17 #7). */
static strata_status import_attrs(strata_ctx *ctx, const strata_record *r, const char *path,
                                  glm_model *m)
{
    const char *unseen = strata_rec_text(r, "unseen"), *family = strata_rec_text(r, "family");
    const char *br = strata_rec_text(r, "block_rows");
    unsigned long long rows = 0;
    char *end = NULL;
    if (strata_family_parse(ctx, family, &m->family) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: family '%s' is not one strata fits (binomial, poisson, gamma, gaussian)",
                           path, family);
    m->sum.family = m->family;
    m->sum.formula = m->f->text;
    if (strcmp(unseen, "to-reference") && strcmp(unseen, "error"))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: unseen '%s' is neither 'to-reference' nor 'error'",
                           path, unseen);
    m->unseen = !strcmp(unseen, "to-reference") ? STRATA_UNSEEN_TO_REFERENCE : STRATA_UNSEEN_ERROR;
    if (isdigit((unsigned char)br[0]))
        rows = strtoull(br, &end, 10);
    if (!end || *end || rows < 16 || rows > ((unsigned long long)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: block_rows '%s' is not a block size (16..16777216)",
                           path, br);
    m->block_rows = (size_t)rows;
    for (int k = 0; k < GLM_NPROV; k++) {
        const char *v = strata_rec_text(r, glm_prov_keys[k]);
        if (v)
            STRATA_TRY(glm_model_set_provenance(ctx, m, glm_prov_keys[k], v));
    }
    return STRATA_OK;
}

strata_status glm_model_import(strata_ctx *ctx, const strata_record *rec, const char *name,
                               glm_model **out)
{
    glm_formula *f = NULL;
    glm_model *m = NULL;
    strata_status st;
    *out = NULL;
    if (!strata_rec_text(rec, "formula") || !strata_rec_text(rec, "family") ||
        !strata_rec_text(rec, "weights") || !strata_rec_text(rec, "unseen") ||
        !strata_rec_text(rec, "block_rows"))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model file lacks formula/family/weights/unseen/block_rows attributes", name);
    STRATA_TRY(import_formula(ctx, rec, name, &f));
    if ((st = glm_model_alloc_novcov(ctx, f, &m)) != STRATA_OK) {
        glm_formula_free(ctx, f);
        return st;
    }
    if ((st = import_values(ctx, rec, name, m)) != STRATA_OK ||
        (st = import_attrs(ctx, rec, name, m)) != STRATA_OK) {
        glm_model_free(ctx, m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}
