/* models/glm/glm_design.c — the design kernel, the hot path of every IRLS pass and
 * of scoring: one block's columns from the raw values (factor codes through the
 * binding's maps, log/log1p, spline bases, interaction products), and the offset;
 * no allocation. Invariant: a row's design depends only on that row's values. */
#include "glm_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

size_t glm_design_work(const glm_formula *f)
{
    size_t w = 0;
    for (size_t v = 0; v < f->nvars; v++)
        w += f->vars[v].is_factor ? 1 : f->vars[v].ncols;
    return w;
}

/* Value columns a variable keeps (computed or cached): a factor's level
 * indices, an rcs() basis without x itself (read in place), a transform's
 * values; a plain numeric variable's are its raw values. */
static size_t value_cols(const glm_var *v)
{
    return v->is_factor ? 1 : v->tr == GT_RCS ? v->ncols - 1 : v->ncols;
}

/* Value column sub of variable v: x itself (raw r) for an rcs() term's first,
 * else column sub of its values at vp (stride vs). */
static const double *value_col(const glm_var *v, const double *vp, size_t vs, const double *r, int sub)
{
    if (v->tr == GT_RCS && !v->is_factor)
        return sub == 0 ? r : vp + (size_t)(sub - 1) * vs;
    return vp + (size_t)sub * vs;
}

static double apply_tr(glm_transform tr, double x)
{
    return tr == GT_LOG ? log(x) : tr == GT_LOG1P ? log1p(x) : x;
}

double glm_offset_value(const glm_formula *f, double *const *raw, size_t i)
{
    double o = 0;
    for (size_t k = 0; k < f->noffsets; k++) {
        const glm_var *v = &f->vars[f->offsets[k]];
        o += apply_tr(v->tr, raw[f->offsets[k]][i]);
    }
    return o;
}

/* Factor codes of a block as level indices (NaN stays NaN); returns 0, or 1 +
 * the first row whose code has no level (unseen). */
static size_t factor_levels(const glm_varbind *b, const double *r, size_t nb, double *o)
{
    size_t bad = 0;
    for (size_t i = 0; i < nb; i++) {
        double c = r[i];
        if (c != c) {
            o[i] = c;
        } else {
            int l = (size_t)c < b->n_codes ? b->code_map[(size_t)c] : -1;
            if (l < 0 && !bad)
                bad = i + 1;
            o[i] = l;
        }
    }
    return bad;
}

/* Variables whose values design columns [js] (all p when js is NULL) use. */
static uint64_t needed_vars(const glm_formula *f, const size_t *js, size_t nj)
{
    uint64_t need = 0;
    for (size_t jj = 0; jj < (js ? nj : f->p); jj++) {
        const glm_col *c = &f->cols[js ? js[jj] : jj];
        for (int q = 0; q < c->nf; q++)
            need |= (uint64_t)1 << c->var[q];
    }
    return need;
}

/* Variable v's value columns for rows [0, nb) of raw r into o (column stride
 * ld): level indices (factor), the spline basis (rcs; x is read in place), the
 * transform, or nothing for a plain numeric variable (read in place). Returns
 * 0 or 1 + the row of the first unseen level. */
static size_t var_compute(const glm_var *v, const glm_varbind *b, const double *r, size_t nb,
                          size_t ld, double *o)
{
    if (v->is_factor)
        return factor_levels(b, r, nb, o);
    if (v->tr == GT_RCS) {
        glm_rcs_basis_rows(v->knots, v->rcs_k, r, nb, ld, o);
    } else if (v->tr != GT_NONE) {
        for (size_t i = 0; i < nb; i++)
            o[i] = apply_tr(v->tr, r[i]);
    }
    return 0;
}

/* Each needed variable's value columns for the block: vp[v] points at them
 * and vs[v] is their column stride: in the cache (rows row0.., computed once
 * per fit), in raw for a plain numeric variable (no copy), else computed into
 * work. Returns 0 or 1 + the row of the first unseen level, its variable in
 * *bad_var. */
static size_t var_values(const glm_formula *f, const glm_varbind *vb, double *const *raw,
                         size_t nb, double *work, int *bad_var, uint64_t need,
                         const glm_vcache *vc, size_t row0, const double **vp, size_t *vs)
{
    size_t w = 0, bad = 0;
    for (size_t vi = 0; vi < f->nvars; vi++) {
        const glm_var *v = &f->vars[vi];
        const double *r = raw[vi];
        double *o = work + w * nb;
        w += value_cols(v);
        vp[vi] = o;
        vs[vi] = nb;
        if (!r || !(need >> vi & 1))
            continue;
        if (vc && vc->col[vi]) {
            vp[vi] = vc->col[vi] + row0;
            vs[vi] = vc->n;
        } else if (vc && vc->tab[vi]) {
            /* the values are integers in [0, GLM_VTAB_MAX): an int conversion */
            const double *t = vc->tab[vi];
            const size_t tn = vc->tabn[vi], nvc = value_cols(v);
            for (size_t j = 0; j < nvc; j++) {
                const double *tj = t + j * tn;
                double *oj = o + j * nb;
                for (size_t i = 0; i < nb; i++)
                    oj[i] = tj[(int)r[i]];
            }
        } else if (!v->is_factor && v->tr == GT_NONE) {
            vp[vi] = r; /* plain numeric: read in place, no copy */
        } else {
            size_t b = var_compute(v, &vb[vi], r, nb, nb, o);
            if (b && !bad) {
                bad = b;
                *bad_var = (int)vi;
            }
        }
    }
    return bad;
}

/* 1 + the largest of x[0..n) when all are integers in [0, GLM_VTAB_MAX) with
 * a positive sign (-0 would not be the table's +0), else 0. */
static size_t int_span(const double *x, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        double t = x[i];
        if (!(t >= 0 && t < GLM_VTAB_MAX) || t != (double)(size_t)t || signbit(t))
            return 0;
        if (t > mx)
            mx = t;
    }
    return (size_t)mx + 1;
}

size_t glm_vcache_tables(const glm_formula *f, double *const *raw, size_t n, const size_t *js, size_t nj,
                         size_t *tabn)
{
    uint64_t need = needed_vars(f, js, nj);
    size_t tot = 0;
    for (size_t vi = 0; vi < f->nvars; vi++) {
        const glm_var *v = &f->vars[vi];
        tabn[vi] = 0;
        if (!(need >> vi & 1) || v->is_factor || v->tr == GT_NONE || !raw[vi])
            continue;
        tabn[vi] = int_span(raw[vi], n);
        if (tabn[vi] > n)
            tabn[vi] = 0;
        tot += tabn[vi] * (1 + value_cols(v)); /* the integers, then the values */
    }
    return tot;
}

void glm_vcache_tab_fill(const glm_formula *f, const size_t *tabn, double *buf, glm_vcache *vc)
{
    for (size_t vi = 0; vi < f->nvars; vi++) {
        const size_t tn = tabn[vi];
        double *x = buf, *o = buf + tn;
        if (!tn)
            continue;
        for (size_t c = 0; c < tn; c++)
            x[c] = (double)c;
        var_compute(&f->vars[vi], NULL, x, tn, tn, o);
        vc->tab[vi] = o;
        vc->tabn[vi] = tn;
        buf += tn * (1 + value_cols(&f->vars[vi]));
    }
}

size_t glm_vcache_doubles(const glm_formula *f, const size_t *js, size_t nj, const size_t *tabn)
{
    uint64_t need = needed_vars(f, js, nj);
    size_t k = 0;
    for (size_t v = 0; v < f->nvars; v++)
        if ((need >> v & 1) && (f->vars[v].is_factor || f->vars[v].tr != GT_NONE) && !(tabn && tabn[v]))
            k += value_cols(&f->vars[v]);
    return k;
}

void glm_vcache_fill(const glm_formula *f, const glm_varbind *vb, double *const *raw, size_t n,
                     const size_t *js, size_t nj, const size_t *tabn, double *buf, int nt,
                     glm_vcache *vc)
{
    uint64_t need = needed_vars(f, js, nj);
    size_t off = 0;
    vc->n = n;
    for (size_t vi = 0; vi < f->nvars; vi++) {
        const glm_var *v = &f->vars[vi];
        vc->col[vi] = NULL;
        if (!(need >> vi & 1) || !(v->is_factor || v->tr != GT_NONE) || (tabn && tabn[vi]))
            continue;
        vc->col[vi] = buf + off * n;
        off += value_cols(v);
    }
    /* rows in chunks over the threads: a row's values depend on that row only,
     * so the bytes are those of one sweep */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (long c = 0; c < (long)((n + 4095) / 4096); c++) {
        size_t i0 = (size_t)c * 4096, m = n - i0 < 4096 ? n - i0 : 4096;
        for (size_t vi = 0; vi < f->nvars; vi++)
            if (vc->col[vi])
                var_compute(&f->vars[vi], &vb[vi], raw[vi] + i0, m, n, (double *)vc->col[vi] + i0);
    }
}

/* Design column c into x: 1 for the intercept, else the product over its
 * variables of the value column (numeric) or the level dummy (factor; NaN kept). */
static void build_col(const glm_formula *f, const glm_col *c, const double *const *vp,
                      const size_t *vs, double *const *raw, size_t nb, double *x)
{
    if (c->nf == 0) {
        for (size_t i = 0; i < nb; i++)
            x[i] = 1.0;
        return;
    }
    for (int q = 0; q < c->nf; q++) {
        const glm_var *v = &f->vars[c->var[q]];
        const double *src;
        if (v->is_factor) {
            double lev = c->sub[q];
            src = vp[c->var[q]];
            if (q == 0)
                for (size_t i = 0; i < nb; i++)
                    x[i] = src[i] == lev ? 1.0 : (src[i] != src[i] ? src[i] : 0.0);
            else
                for (size_t i = 0; i < nb; i++)
                    x[i] *= src[i] == lev ? 1.0 : (src[i] != src[i] ? src[i] : 0.0);
        } else {
            src = value_col(v, vp[c->var[q]], vs[c->var[q]], raw[c->var[q]], c->sub[q]);
            if (q == 0)
                memcpy(x, src, nb * sizeof *x);
            else
                for (size_t i = 0; i < nb; i++)
                    x[i] *= src[i];
        }
    }
}

/* The design of a block; with cols, a column that is one numeric variable is
 * not copied into X: cols[j] points at its values (raw, cache or work) instead. */
static size_t design_block(const glm_formula *f, const glm_varbind *vb, double *const *raw,
                           size_t nb, double *X, double *work, int *bad_var, const double **cols,
                           const size_t *js, size_t nj, const glm_vcache *vc, size_t row0)
{
    const double *vp[GLM_MAXVARS]; /* per variable: its first value column (work, cache or raw) */
    size_t vs[GLM_MAXVARS];        /* and the stride of its value columns */
    size_t bad = var_values(f, vb, raw, nb, work, bad_var, needed_vars(f, js, nj), vc, row0, vp, vs);
    for (size_t jj = 0; jj < (js ? nj : f->p); jj++) {
        size_t j = js ? js[jj] : jj;
        const glm_col *c = &f->cols[j];
        double *x = X + j * nb;
        if (cols) {
            if (c->nf == 1 && !f->vars[c->var[0]].is_factor) {
                cols[j] = value_col(&f->vars[c->var[0]], vp[c->var[0]], vs[c->var[0]], raw[c->var[0]],
                                    c->sub[0]);
                continue;
            }
            cols[j] = x;
        }
        build_col(f, c, vp, vs, raw, nb, x);
    }
    return bad;
}

int glm_design_col_raw(const glm_formula *f, size_t j)
{
    const glm_col *c = &f->cols[j];
    const glm_var *v;
    if (c->nf != 1)
        return -1;
    v = &f->vars[c->var[0]];
    return !v->is_factor && v->tr == GT_NONE && c->sub[0] == 0 ? c->var[0] : -1;
}

size_t glm_design_block(const glm_formula *f, const glm_varbind *vb, double *const *raw, size_t nb,
                        double *X, double *work, int *bad_var)
{
    return design_block(f, vb, raw, nb, X, work, bad_var, NULL, NULL, 0, NULL, 0);
}

size_t glm_design_block_list(const glm_formula *f, const glm_varbind *vb, double *const *raw,
                             size_t nb, double *X, double *work, int *bad_var, const double **cols,
                             const size_t *js, size_t nj, const glm_vcache *vc, size_t row0)
{
    return design_block(f, vb, raw, nb, X, work, bad_var, cols, js, nj, vc, row0);
}

int glm_design_col_factor(const glm_formula *f, size_t j)
{
    const glm_col *c = &f->cols[j];
    return c->nf == 1 && f->vars[c->var[0]].is_factor ? c->var[0] : -1;
}
