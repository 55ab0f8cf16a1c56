/* models/glm/glm_vars.c — a fitted GLM's variables: the source columns on the
 * formula's right-hand side, numbered by first use in the design, and which
 * of them each design column is a product of. A spline's basis, a factor's
 * dummies, log(x) and every interaction involving a column belong to that
 * column's variable (reason codes per variable, docs/stratify.md#reason-codes). */
#include "glm_internal.h"

#include <string.h>

/* 1 when formula variable u's column appeared in a design column before
 * position (j, i). */
static int seen_before(const glm_formula *f, size_t j, int i, int u)
{
    for (size_t jj = 0; jj <= j; jj++)
        for (int ii = 0; ii < f->cols[jj].nf; ii++) {
            if (jj == j && ii == i)
                return 0;
            if (!strcmp(f->vars[f->cols[jj].var[ii]].column, f->vars[u].column))
                return 1;
        }
    return 0;
}

/* Index among the model's variables of formula variable fv, or -1 when no
 * design column uses its column. */
static long var_of(const glm_formula *f, int fv, int *is_factor)
{
    long k = 0;
    for (size_t j = 0; j < f->p; j++)
        for (int i = 0; i < f->cols[j].nf; i++) {
            int u = f->cols[j].var[i];
            if (seen_before(f, j, i, u))
                continue;
            if (!strcmp(f->vars[u].column, f->vars[fv].column)) {
                if (is_factor)
                    *is_factor = f->vars[u].is_factor;
                return k;
            }
            k++;
        }
    return -1;
}

size_t glm_formula_nvars(const glm_formula *f)
{
    size_t n = 0;
    for (size_t v = 0; f && v < f->nvars; v++) {
        long k = var_of(f, (int)v, NULL);
        if (k >= 0 && (size_t)k + 1 > n)
            n = (size_t)k + 1;
    }
    return n;
}

const char *glm_formula_var(const glm_formula *f, size_t v, int *is_factor)
{
    for (size_t u = 0; f && u < f->nvars; u++)
        if (var_of(f, (int)u, is_factor) == (long)v)
            return f->vars[u].column;
    return NULL;
}

size_t glm_formula_term_vars(const glm_formula *f, size_t j, size_t *vars, size_t max)
{
    size_t n = 0;
    if (!f || j >= f->p)
        return 0;
    for (int i = 0; i < f->cols[j].nf; i++) {
        long k = var_of(f, f->cols[j].var[i], NULL);
        int dup = 0;
        for (size_t q = 0; q < n && q < max; q++)
            dup |= vars[q] == (size_t)k;
        if (k < 0 || dup)
            continue;
        if (n < max)
            vars[n] = (size_t)k;
        n++;
    }
    return n;
}

/* A GLM's variables are its formula's (the Cox model's too: cox_model_nvars). */
size_t glm_model_nvars(const glm_model *m) { return m ? glm_formula_nvars(m->f) : 0; }

const char *glm_model_var(const glm_model *m, size_t v, int *is_factor)
{
    return m ? glm_formula_var(m->f, v, is_factor) : NULL;
}

size_t glm_model_term_vars(const glm_model *m, size_t j, size_t *vars, size_t max)
{
    return m ? glm_formula_term_vars(m->f, j, vars, max) : 0;
}
