/* models/glm/glm_bind.c — a formula bound to a column source (which column each
 * variable reads, how the source's level codes map onto the model's levels) and,
 * when fitting, the freezing of observed levels and Harrell's knots. Invariant:
 * a binding lives outside the formula, so scoring only reads a frozen formula. */
#include "glm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void glm_varbind_free(strata_ctx *ctx, glm_varbind *vb, size_t nvars)
{
    if (!vb)
        return;
    for (size_t v = 0; v < nvars; v++)
        strata_free(ctx, vb[v].code_map, 0);
    strata_free(ctx, vb, 0);
}

/* Finds variable v's column in the source (STRATA_ESPEC naming an unknown one). */
static strata_status find_column(strata_ctx *ctx, const glm_formula *f, const glm_var *v,
                                 const glm_source *src, glm_varbind *b,
                                 const strata_column_info **info)
{
    if (src->find(ctx, src->ud, v->column, &b->src_col, info) != STRATA_OK)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": %s: unknown column '%s'",
                           f->text, src->name, v->column);
    return STRATA_OK;
}

/* A factor variable's code map of n_codes entries (filled by the caller). */
static strata_status new_code_map(strata_ctx *ctx, glm_varbind *b, size_t n_codes)
{
    b->n_codes = n_codes;
    b->code_map = strata_calloc(ctx, n_codes + 1, sizeof *b->code_map);
    return b->code_map ? STRATA_OK : STRATA_ENOMEM;
}

/* Provisional levels of a factor being fitted: the source's, in code order. */
static strata_status take_source_levels(strata_ctx *ctx, glm_var *v, const strata_column_info *info)
{
    for (size_t l = 0; l < v->n_levels; l++)
        strata_free(ctx, v->levels[l], 0);
    strata_free(ctx, v->levels, 0);
    v->n_levels = 0;
    v->levels = strata_calloc(ctx, info->n_levels + 1, sizeof *v->levels);
    if (!v->levels)
        return STRATA_ENOMEM;
    for (size_t c = 0; c < info->n_levels; c++) {
        if (!(v->levels[c] = strata_strdup(ctx, info->levels[c])))
            return STRATA_ENOMEM;
        v->n_levels = c + 1;
    }
    return STRATA_OK;
}

static int is_offset(const glm_formula *f, size_t v)
{
    for (size_t k = 0; k < f->noffsets; k++)
        if ((size_t)f->offsets[k] == v)
            return 1;
    return 0;
}

strata_status glm_bind_fit(strata_ctx *ctx, glm_formula *f, const glm_source *src, glm_varbind *vb)
{
    for (size_t i = 0; i < f->nvars; i++) {
        glm_var *v = &f->vars[i];
        const strata_column_info *info = NULL;
        STRATA_TRY(find_column(ctx, f, v, src, &vb[i], &info));
        v->is_factor = info->categorical;
        if (!v->is_factor)
            continue;
        if ((int)i == f->response || (int)i == f->weights || v->tr != GT_NONE ||
            is_offset(f, i))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": column '%s' is categorical; it cannot be the response, weights, offset or inside log/rcs",
                               f->text, v->column);
        STRATA_TRY(new_code_map(ctx, &vb[i], info->n_levels));
        STRATA_TRY(take_source_levels(ctx, v, info));
        for (size_t c = 0; c < info->n_levels; c++)
            vb[i].code_map[c] = (int)c; /* provisional: source codes until glm_freeze */
    }
    return STRATA_OK;
}

strata_status glm_bind_score(strata_ctx *ctx, const glm_formula *f, const glm_source *src,
                             strata_unseen_policy unseen, glm_varbind *vb)
{
    for (size_t i = 0; i < f->nvars; i++) {
        const glm_var *v = &f->vars[i];
        const strata_column_info *info = NULL;
        if ((int)i == f->response || (int)i == f->weights) {
            vb[i].src_col = (size_t)-1; /* not needed to score */
            continue;
        }
        STRATA_TRY(find_column(ctx, f, v, src, &vb[i], &info));
        if (v->is_factor != info->categorical)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: column '%s' is %s here but was %s when the model was fitted",
                               src->name, v->column, info->categorical ? "categorical" : "numeric",
                               v->is_factor ? "categorical" : "numeric");
        if (!v->is_factor)
            continue;
        STRATA_TRY(new_code_map(ctx, &vb[i], info->n_levels));
        for (size_t c = 0; c < info->n_levels; c++) {
            int li = -1;
            for (size_t l = 0; l < v->n_levels; l++)
                if (!strcmp(v->levels[l], info->levels[c]))
                    li = (int)l;
            if (li < 0 && unseen == STRATA_UNSEEN_TO_REFERENCE)
                li = (int)v->ref_index;
            vb[i].code_map[c] = li;
        }
    }
    return STRATA_OK;
}

/* ---- freezing the data-dependent parts --------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Observed levels of a factor over the fitting rows, byte-wise sorted, the
 * reference level moved first (R's factor() under LC_COLLATE=C, then relevel);
 * the code map goes from source codes to the new level indices. */
static strata_status freeze_levels(strata_ctx *ctx, const glm_formula *f, glm_var *v,
                                   glm_varbind *b, const double *raw, const unsigned char *mask,
                                   size_t n)
{
    size_t nc = b->n_codes, nl = 0;
    unsigned char *seen = strata_calloc(ctx, nc + 1, 1);
    char **lev = strata_calloc(ctx, nc + 1, sizeof *lev);
    strata_status st = STRATA_OK;
    if (!seen || !lev) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (mask[i])
            seen[(size_t)raw[i]] = 1;
    for (size_t c = 0; c < nc; c++)
        if (seen[c])
            lev[nl++] = v->levels[c];
    qsort(lev, nl, sizeof *lev, cmp_str);
    if (v->ref) {
        size_t r = nl;
        for (size_t l = 0; l < nl; l++)
            if (!strcmp(lev[l], v->ref))
                r = l;
        if (r == nl) {
            st = STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": reference level '%s' of column '%s' does not occur in the fitting rows",
                             f->text, v->ref, v->column);
            goto done;
        }
        for (char *t = lev[r]; r > 0; r--)
            lev[r] = lev[r - 1], lev[r - 1] = t;
    }
    /* remap codes, then keep only the observed labels in the new order */
    for (size_t c = 0; c < nc; c++) {
        b->code_map[c] = -1;
        for (size_t l = 0; l < nl; l++)
            if (lev[l] == v->levels[c])
                b->code_map[c] = (int)l;
    }
    for (size_t c = 0; c < nc; c++)
        if (!seen[c])
            strata_free(ctx, v->levels[c], 0);
    memcpy(v->levels, lev, nl * sizeof *lev);
    v->n_levels = nl;
    v->ref_index = 0;
done:
    strata_free(ctx, seen, 0);
    strata_free(ctx, lev, 0);
    return st;
}

/* Harrell's knots of an rcs() variable. R's model.frame evaluates rcs() on every
 * row before na.omit: the knots come from all non-missing x, not only the
 * complete cases. */
/* Counts of the non-missing values of raw when every one is an integer in
 * [0, KNOT_COUNT_MAX) with a positive sign (cnt zeroed by the caller);
 * returns 1 + the largest, or 0 (then cnt is garbage). */
#define KNOT_COUNT_MAX 4096
static size_t int_counts(const double *raw, size_t n, size_t *cnt)
{
    size_t top = 0;
    for (size_t i = 0; i < n; i++) {
        double t = raw[i];
        size_t c;
        if (t != t)
            continue;
        if (!(t >= 0 && t < KNOT_COUNT_MAX) || t != (double)(c = (size_t)t) || signbit(t))
            return 0;
        cnt[c]++;
        if (c + 1 > top)
            top = c + 1;
    }
    return top ? top : 1;
}

static strata_status freeze_knots(strata_ctx *ctx, glm_var *v, const double *raw, size_t n)
{
    size_t m = 0, *cnt = strata_calloc(ctx, KNOT_COUNT_MAX, sizeof *cnt), top;
    uint64_t *ks = NULL;
    double *xs;
    strata_status st;
    if (!cnt)
        return STRATA_ENOMEM;
    top = int_counts(raw, n, cnt);
    if (top) {
        /* small integers (counts, ages in years): the sorted values by counting */
        if (!(xs = strata_alloc(ctx, (n + 1) * sizeof *xs))) {
            strata_free(ctx, cnt, 0);
            return STRATA_ENOMEM;
        }
        for (size_t c = 0; c < top; c++)
            for (size_t k = 0; k < cnt[c]; k++)
                xs[m++] = (double)c;
        ks = (uint64_t *)xs;
    } else {
        if (!(ks = strata_alloc(ctx, 2 * (n + 1) * sizeof *ks))) {
            strata_free(ctx, cnt, 0);
            return STRATA_ENOMEM;
        }
        xs = (double *)(ks + n + 1); /* the sort's scratch half, free after it */
        for (size_t i = 0; i < n; i++)
            if (raw[i] == raw[i])
                ks[m++] = strata_f64_key(raw[i]);
        strata_radix_sort(m, ks, NULL, ks + n + 1, NULL);
        for (size_t i = 0; i < m; i++)
            xs[i] = strata_key_f64(ks[i]);
    }
    st = glm_rcs_knots(ctx, xs, m, v->rcs_k, v->knots, v->label);
    strata_free(ctx, ks, 0);
    strata_free(ctx, cnt, 0);
    STRATA_TRY(st);
    v->knots_set = 1;
    return STRATA_OK;
}

strata_status glm_freeze(strata_ctx *ctx, glm_formula *f, glm_varbind *vb, double *const *raw,
                         const unsigned char *mask, size_t n)
{
    for (size_t vi = 0; vi < f->nvars; vi++) {
        glm_var *v = &f->vars[vi];
        if (v->is_factor)
            STRATA_TRY(freeze_levels(ctx, f, v, &vb[vi], raw[vi], mask, n));
        else if (v->tr == GT_RCS)
            STRATA_TRY(freeze_knots(ctx, v, raw[vi], n));
    }
    return glm_design_layout(ctx, f);
}
