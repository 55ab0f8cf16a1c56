/* models/glm/glm_layout.c — the design layout of a frozen formula: R's contrast
 * rules (TermCode: contrasts, or full dummy coding when a lower-order margin is
 * missing), column order (terms by degree, first variable fastest) and R's
 * coefficient names ("regionB", "x:regionC", "rcs(age, 4)age'"). Invariant: the
 * layout depends only on the formula text and the frozen levels and knots. */
#include "glm_internal.h"

#include <stdio.h>
#include <string.h>

/* R's TermCode: 1 = contrasts, 2 = full dummy coding for factor v in term t. */
static int term_code(const glm_formula *f, size_t t, int v)
{
    uint64_t rest = 0;
    for (int i = 0; i < f->terms[t].nv; i++)
        if (f->terms[t].var[i] != v)
            rest |= (uint64_t)1 << f->terms[t].var[i];
    if (!rest)
        return 1;
    for (size_t u = 0; u < t; u++) {
        uint64_t m = 0;
        for (int i = 0; i < f->terms[u].nv; i++)
            m |= (uint64_t)1 << f->terms[u].var[i];
        if ((rest & ~m) == 0)
            return 1;
    }
    return 2;
}

static size_t var_nopts(const glm_var *v, int code)
{
    if (!v->is_factor)
        return v->ncols;
    return code == 2 ? v->n_levels : v->n_levels - 1;
}

static int var_opt(const glm_var *v, int code, size_t o)
{
    if (!v->is_factor)
        return (int)o;
    return code == 2 ? (int)o : (int)o + 1; /* reference level is index 0 */
}

static void opt_name(const glm_var *v, int sub, char *buf, size_t size)
{
    if (v->is_factor) {
        snprintf(buf, size, "%s%s", v->label, v->levels[sub]);
    } else if (v->tr == GT_RCS) {
        int n = snprintf(buf, size, "%s%s", v->label, v->column);
        for (int q = 0; q < sub && n > 0 && (size_t)n + 1 < size; q++)
            buf[n++] = '\'', buf[n] = 0;
    } else {
        snprintf(buf, size, "%s", v->label);
    }
}

/* R's contrast code of every variable of every term (codes[t * GLM_MAXV + i]);
 * returns the number of design columns. */
static size_t term_codes(const glm_formula *f, int *codes)
{
    size_t p = f->intercept ? 1 : 0;
    int adjusted = f->intercept;
    for (size_t t = 0; t < f->nterms; t++) {
        size_t nc = 1;
        for (int i = 0; i < f->terms[t].nv; i++) {
            int v = f->terms[t].var[i];
            int *code = &codes[t * GLM_MAXV + (size_t)i];
            *code = f->vars[v].is_factor ? term_code(f, t, v) : 1;
            if (f->vars[v].is_factor && !adjusted) {
                *code = 2; /* no intercept: first factor gets all levels */
                adjusted = 1;
            }
            nc *= var_nopts(&f->vars[v], *code);
        }
        p += nc;
    }
    return p;
}

/* The design columns of term t from column *j on, with R's names: every
 * combination of the variables' options, first variable fastest. */
static strata_status layout_term(strata_ctx *ctx, glm_formula *f, size_t t, const int *codes,
                                 size_t *j)
{
    const glm_term *T = &f->terms[t];
    const int *tc = codes + t * GLM_MAXV;
    size_t idx[GLM_MAXV] = {0};
    for (int i = 0; i < T->nv; i++)
        if (var_nopts(&f->vars[T->var[i]], tc[i]) == 0)
            return STRATA_OK; /* a factor with no options: the term has no columns */
    for (;;) {
        char name[1024], part[512];
        size_t len = 0;
        glm_col *c = &f->cols[*j];
        int i = 0;
        c->nf = T->nv;
        name[0] = 0;
        for (i = 0; i < T->nv; i++) {
            const glm_var *v = &f->vars[T->var[i]];
            c->var[i] = T->var[i];
            c->sub[i] = var_opt(v, tc[i], idx[i]);
            opt_name(v, c->sub[i], part, sizeof part);
            len += (size_t)snprintf(name + len, len < sizeof name ? sizeof name - len : 0, "%s%s",
                                    i ? ":" : "", part);
            if (len >= sizeof name)
                len = sizeof name - 1;
        }
        if (!(f->colnames[(*j)++] = strata_strdup(ctx, name)))
            return STRATA_ENOMEM;
        /* odometer, first variable fastest */
        for (i = 0; i < T->nv; i++) {
            if (++idx[i] < var_nopts(&f->vars[T->var[i]], tc[i]))
                break;
            idx[i] = 0;
        }
        if (i == T->nv)
            return STRATA_OK;
    }
}

strata_status glm_design_layout(strata_ctx *ctx, glm_formula *f)
{
    int codes[GLM_MAXVARS * GLM_MAXV];
    size_t p, j = 0;
    if (f->nterms > GLM_MAXVARS)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": too many terms", f->text);
    p = term_codes(f, codes);
    if (p == 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": the model has no terms", f->text);
    if (f->colnames)
        for (size_t k = 0; k < f->p; k++)
            strata_free(ctx, f->colnames[k], 0);
    strata_free(ctx, f->colnames, 0);
    strata_free(ctx, f->cols, 0);
    f->p = 0;
    f->cols = strata_calloc(ctx, p, sizeof *f->cols);
    f->colnames = strata_calloc(ctx, p, sizeof *f->colnames);
    if (!f->cols || !f->colnames)
        return STRATA_ENOMEM;
    f->p = p;
    if (f->intercept) {
        f->cols[0].nf = 0;
        if (!(f->colnames[0] = strata_strdup(ctx, "(Intercept)")))
            return STRATA_ENOMEM;
        j = 1;
    }
    for (size_t t = 0; t < f->nterms; t++)
        STRATA_TRY(layout_term(ctx, f, t, codes, &j));
    if (j != p)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "design layout: %zu columns, expected %zu", j, p);
    return STRATA_OK;
}
