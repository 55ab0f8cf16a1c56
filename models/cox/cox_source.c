/* models/cox/cox_source.c — the Cox fit from a column source (a cohort, or memory
 * in tests): reads the formula's columns, keeps the complete cases, builds the
 * design with the GLM machinery (factor dummies, rcs(), interactions, offsets;
 * the intercept column dropped, as coxph does) and fits on arrays. Invariant:
 * rows enter the fit in source order, so the result is that of cox_fit_arrays. */
#include "cox_internal.h"
#include "comm.h"

#include <math.h>
#include <string.h>

/* Raw columns of the GLM variables plus event, strata and cluster, and the complete-case mask. */
typedef struct src_cols {
    size_t n, used;
    double **raw;        /* nvars */
    double *event, *strat, *clus;
    unsigned char *mask;
} src_cols;

static strata_status read_named(strata_ctx *ctx, const glm_source *src, const char *col,
                                double *out)
{
    size_t j;
    const strata_column_info *info;
    STRATA_TRY(src->find(ctx, src->ud, col, &j, &info));
    return src->read_f64(ctx, src->ud, j, 0, src->nrows, out);
}

static strata_status load(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                          const glm_varbind *vb, const cox_formula *cf, src_cols *c)
{
    size_t n = src->nrows;
    c->n = n;
    c->raw = strata_calloc(ctx, f->nvars + 1, sizeof *c->raw);
    c->event = strata_alloc(ctx, (n + 1) * sizeof *c->event);
    c->strat = cf->strata ? strata_alloc(ctx, (n + 1) * sizeof *c->strat) : NULL;
    c->clus = cf->cluster ? strata_alloc(ctx, (n + 1) * sizeof *c->clus) : NULL;
    c->mask = strata_alloc(ctx, n + 1);
    if (!c->raw || !c->event || (cf->strata && !c->strat) || (cf->cluster && !c->clus) || !c->mask)
        return STRATA_ENOMEM;
    for (size_t v = 0; v < f->nvars; v++) {
        if (!(c->raw[v] = strata_alloc(ctx, (n + 1) * sizeof **c->raw)))
            return STRATA_ENOMEM;
        STRATA_TRY(src->read_f64(ctx, src->ud, vb[v].src_col, 0, n, c->raw[v]));
    }
    STRATA_TRY(read_named(ctx, src, cf->event, c->event));
    if (cf->strata)
        STRATA_TRY(read_named(ctx, src, cf->strata, c->strat));
    if (cf->cluster)
        STRATA_TRY(read_named(ctx, src, cf->cluster, c->clus));
    c->used = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = !isnan(c->event[i]) && (!c->strat || !isnan(c->strat[i])) &&
                 (!c->clus || !isnan(c->clus[i]));
        for (size_t v = 0; v < f->nvars && ok; v++)
            ok = !isnan(c->raw[v][i]);
        c->mask[i] = (unsigned char)ok;
        c->used += (size_t)ok;
    }
    if (c->used == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases for the cox formula", src->name);
    return STRATA_OK;
}

static void cols_free(strata_ctx *ctx, const glm_formula *f, src_cols *c)
{
    if (c->raw)
        for (size_t v = 0; v < f->nvars; v++)
            strata_free(ctx, c->raw[v], 0);
    strata_free(ctx, c->raw, 0);
    strata_free(ctx, c->event, 0);
    strata_free(ctx, c->strat, 0);
    strata_free(ctx, c->clus, 0);
    strata_free(ctx, c->mask, 0);
}

strata_status cox_build_design(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                               double *const *raw, size_t used, double *X, double *off)
{
    const size_t nb = 1024, p = f->p;
    double *Xb = strata_alloc(ctx, nb * p * sizeof *Xb);
    double *work = strata_alloc(ctx, (nb * glm_design_work(f) + 1) * sizeof *work);
    double **rb = strata_calloc(ctx, f->nvars + 1, sizeof *rb);
    strata_status st = Xb && work && rb ? STRATA_OK : STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < used; r0 += nb) {
        size_t m = r0 + nb <= used ? nb : used - r0;
        int bad = -1;
        for (size_t v = 0; v < f->nvars; v++)
            rb[v] = raw[v] + r0;
        if (glm_design_block(f, vb, rb, m, Xb, work, &bad))
            st = STRATA_FAIL(ctx, STRATA_EINTERNAL, "cox: unseen level while fitting");
        for (size_t j = 1; j < p; j++)
            memcpy(X + (j - 1) * used + r0, Xb + j * m, m * sizeof *X);
        for (size_t i = 0; i < m; i++)
            off[r0 + i] = glm_offset_value(f, rb, i);
    }
    strata_free(ctx, Xb, 0);
    strata_free(ctx, work, 0);
    strata_free(ctx, rb, 0);
    return st;
}

/* Compacts every column to the complete cases. */
static void compact(const glm_formula *f, src_cols *c)
{
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->mask[i])
            continue;
        for (size_t v = 0; v < f->nvars; v++)
            c->raw[v][w] = c->raw[v][i];
        c->event[w] = c->event[i];
        if (c->strat)
            c->strat[w] = c->strat[i];
        if (c->clus)
            c->clus[w] = c->clus[i];
        w++;
    }
}

strata_status cox_strata_codes(strata_ctx *ctx, size_t used, const double *strat, int32_t *sc,
                               cox_fit_out *out)
{
    size_t nr = 0, *rank = strata_alloc(ctx, (used + 1) * sizeof *rank);
    strata_status st = rank ? cox_dense_ranks(ctx, used, strat, rank, &nr) : STRATA_ENOMEM;
    if (st == STRATA_OK && nr > (size_t)INT32_MAX)
        st = STRATA_FAIL(ctx, STRATA_EDATA, "cox: %zu strata are too many", nr);
    if (st == STRATA_OK && !(out->strata_values = strata_alloc(ctx, nr * sizeof *out->strata_values)))
        st = STRATA_ENOMEM;
    for (size_t i = 0; st == STRATA_OK && i < used; i++) {
        sc[i] = (int32_t)(rank[i] - 1);
        out->strata_values[rank[i] - 1] = strat[i];
    }
    if (st == STRATA_OK)
        out->n_strata_values = nr;
    strata_free(ctx, rank, 0);
    return st;
}

static strata_status fit_design(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                                src_cols *c, const cox_params *prm, cox_fit_out *fo)
{
    size_t used = c->used, p = f->p - 1;
    double *X = strata_alloc(ctx, (used * p + 1) * sizeof *X);
    double *off = strata_alloc(ctx, (used + 1) * sizeof *off);
    int32_t *sc = c->strat ? strata_alloc(ctx, (used + 1) * sizeof *sc) : NULL;
    strata_status st = X && off && (!c->strat || sc) ? STRATA_OK : STRATA_ENOMEM;
    cox_result **out = &fo->res;
    if (st == STRATA_OK)
        st = cox_build_design(ctx, f, vb, c->raw, used, X, off);
    if (st == STRATA_OK && sc)
        st = cox_strata_codes(ctx, used, c->strat, sc, fo);
    if (st == STRATA_OK) {
        cox_input in = {used, p, X, c->raw[f->response], c->event,
                        f->weights >= 0 ? c->raw[f->weights] : NULL, f->noffsets ? off : NULL, sc,
                        (const char *const *)f->colnames + 1, c->clus};
        st = cox_fit_arrays(ctx, &in, prm, out);
    }
    strata_free(ctx, X, 0);
    strata_free(ctx, off, 0);
    strata_free(ctx, sc, 0);
    return st;
}

/* The in-memory fit: every column loaded, the design built, then sorted (2 x X). */
static strata_status fit_memory(strata_ctx *ctx, const glm_source *src, const char *formula, glm_formula *f,
                                glm_varbind *vb, const cox_formula *cf, const cox_params *prm, cox_fit_out *out,
                                src_cols *c)
{
    STRATA_TRY(load(ctx, src, f, vb, cf, c));
    STRATA_TRY(glm_freeze(ctx, f, vb, c->raw, c->mask, c->n));
    if (!f->intercept || f->p < 2)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": needs at least one term (and no -1)", formula);
    compact(f, c);
    return fit_design(ctx, f, vb, c, prm, out);
}

/* Whether the fit streams its design (the same answer on every MPI rank): the
 * tests' window_rows, or the in-memory fit (one process's, or a rank's part of
 * the distributed one) over the memory budget. */
static int over_budget(strata_ctx *ctx, const glm_source *src, const glm_formula *f, const cox_formula *cf,
                       const cox_params *prm)
{
    const strata_comm *cm = strata_ctx_comm(ctx);
    size_t budget = strata_ctx_memory_budget(ctx);
    size_t need = cm ? cox_dist_bytes(f, cf, src->nrows, cm->size) : cox_inmem_bytes(f, cf, src->nrows);
    return prm->window_rows || (budget && need > budget);
}

strata_status cox_fit_source(strata_ctx *ctx, const glm_source *src, const char *formula,
                             const char *weights, const cox_params *prm, cox_fit_out *out)
{
    cox_formula *cf = NULL;
    glm_formula *f = NULL;
    glm_varbind *vb = NULL;
    src_cols c;
    strata_status st;
    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    STRATA_TRY(cox_formula_parse(ctx, formula, &cf));
    st = glm_formula_parse(ctx, cf->glm, &f);
    if (st == STRATA_OK && weights)
        st = glm_formula_set_weights(ctx, f, weights);
    if (st == STRATA_OK && !(vb = strata_calloc(ctx, f->nvars + 1, sizeof *vb)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = glm_bind_fit(ctx, f, src, vb);
    if (st == STRATA_OK && !prm->beta_fn && over_budget(ctx, src, f, cf, prm))
        /* over the memory budget: the design through a scratch file (cox_stream.c);
         * across MPI ranks each rank's blocks through its own */
        st = cox_fit_stream(ctx, src, f, vb, cf, prm, out, &c.n, &c.used);
    else if (st == STRATA_OK && strata_ctx_comm(ctx) && !prm->beta_fn) /* across MPI ranks */
        st = cox_fit_dist(ctx, src, f, vb, cf, prm, out, &c.n, &c.used);
    else if (st == STRATA_OK)
        st = fit_memory(ctx, src, formula, f, vb, cf, prm, out, &c);
    if ((st == STRATA_OK || st == STRATA_ENOCONV) && cf->strata) {
        strata_status s2 = cox_strata_labels(ctx, src, cf->strata, out);
        st = s2 != STRATA_OK ? s2 : st;
    }
    cols_free(ctx, f, &c);
    if (f)
        glm_varbind_free(ctx, vb, f->nvars);
    if (st != STRATA_OK && st != STRATA_ENOCONV) { /* a result only from a fit that ran through */
        cox_result_free(ctx, out->res);
        out->res = NULL;
    }
    out->n_dropped = c.n - c.used;
    out->formula = f;
    out->cf = cf;
    return st;
}

void cox_fit_out_free(strata_ctx *ctx, cox_fit_out *o)
{
    strata_free(ctx, o->strata_values, 0);
    if (o->strata_labels)
        for (size_t s = 0; s < o->n_strata_values; s++)
            strata_free(ctx, o->strata_labels[s], 0);
    strata_free(ctx, o->strata_labels, 0);
    cox_result_free(ctx, o->res);
    glm_formula_free(ctx, o->formula);
    cox_formula_free(ctx, o->cf);
    memset(o, 0, sizeof *o);
}

strata_status cox_read_col(strata_ctx *ctx, const glm_source *src, const char *name, size_t j,
                           size_t row0, size_t n, double **out)
{
    const strata_column_info *info;
    if (!(*out = strata_alloc(ctx, (n + 1) * sizeof **out)))
        return STRATA_ENOMEM;
    if (name)
        STRATA_TRY(src->find(ctx, src->ud, name, &j, &info));
    return src->read_f64(ctx, src->ud, j, row0, n, *out);
}

strata_status cox_freeze_whole(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                               const unsigned char *mask, size_t n)
{
    double **w = strata_calloc(ctx, f->nvars + 1, sizeof *w);
    strata_status st = w ? STRATA_OK : STRATA_ENOMEM;
    for (size_t v = 0; st == STRATA_OK && v < f->nvars; v++)
        if (f->vars[v].is_factor || f->vars[v].tr == GT_RCS)
            st = cox_read_col(ctx, src, NULL, vb[v].src_col, 0, n, &w[v]);
    st = strata_comm_agree(ctx, st); /* no-op with one process */
    if (st == STRATA_OK)
        st = glm_freeze(ctx, f, vb, w, mask, n);
    for (size_t v = 0; w && v < f->nvars; v++)
        strata_free(ctx, w[v], 0);
    strata_free(ctx, w, 0);
    return st;
}
