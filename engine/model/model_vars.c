/* engine/model/model_vars.c — a fitted model's variables: the cohort columns
 * on the formula's right-hand side, and which of them each design column is
 * made of. A spline's basis, a factor's dummies, log(x) and every interaction
 * involving a column all belong to that column's variable, so per-patient
 * explanations can speak of "age" rather than "rcs(age, 4)age'" (reason
 * codes, docs/stratify.md#reason-codes). */
#include "internal.h"
#include "glm_internal.h"
#include "strata/model.h"

#include <string.h>

/* Index among the model's variables of formula variable fv (first appearance
 * of its column in design-column order), or -1 when no design column uses it. */
static long var_of(const strata_model *m, int fv, int *is_factor)
{
    const glm_formula *f = m->f;
    const char *col = f->vars[fv].column;
    long k = 0;
    for (size_t j = 0; j < f->p; j++)
        for (int i = 0; i < f->cols[j].nf; i++) {
            int u = f->cols[j].var[i], seen = 0;
            /* the first occurrence of u's column counts once */
            for (size_t jj = 0; jj <= j && !seen; jj++)
                for (int ii = 0; ii < f->cols[jj].nf && !seen; ii++) {
                    if (jj == j && ii == i)
                        break;
                    seen = !strcmp(f->vars[f->cols[jj].var[ii]].column, f->vars[u].column);
                }
            if (seen)
                continue;
            if (!strcmp(f->vars[u].column, col)) {
                if (is_factor)
                    *is_factor = f->vars[u].is_factor;
                return k;
            }
            k++;
        }
    return -1;
}

size_t strata_model_nvars(const strata_model *m)
{
    size_t n = 0;
    if (!m)
        return 0;
    for (size_t v = 0; v < m->f->nvars; v++) {
        long k = var_of(m, (int)v, NULL);
        if (k >= 0 && (size_t)k + 1 > n)
            n = (size_t)k + 1;
    }
    return n;
}

const char *strata_model_var(const strata_model *m, size_t v, int *is_factor)
{
    if (!m)
        return NULL;
    for (size_t u = 0; u < m->f->nvars; u++)
        if (var_of(m, (int)u, is_factor) == (long)v)
            return m->f->vars[u].column;
    return NULL;
}

size_t strata_model_term_vars(const strata_model *m, size_t j, size_t *vars, size_t max)
{
    size_t n = 0;
    if (!m || j >= m->f->p)
        return 0;
    for (int i = 0; i < m->f->cols[j].nf; i++) {
        long k = var_of(m, m->f->cols[j].var[i], NULL);
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
