/* engine/model/model_design.c — the design matrix of a fitted model for a range of
 * cohort rows, exactly as the model sees them when scoring (same dummy
 * coding, spline bases and interactions). Used for reason codes: each term's
 * contribution beta_j (x_ij - mean_j) to a patient's linear predictor. */
#include "internal.h"
#include "glm_internal.h"
#include "strata/model.h"

#include <math.h>
#include <string.h>

strata_status strata_model_design(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                  strata_unseen_policy unseen, size_t row0, size_t n, double *X)
{
    glm_source src;
    const glm_formula *f;
    size_t nv, p, nb0, width;
    double **raw = NULL, *Xb = NULL, *work = NULL;
    strata_status st = STRATA_ENOMEM;
    if (!m || !cohort || !X)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_model_design: NULL argument");
    STRATA_TRY(glm_score_bind(ctx, m, cohort, unseen, &src));
    if (row0 > src.nrows || n > src.nrows - row0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: rows %zu..%zu outside 1..%zu", src.name,
                           row0 + 1, row0 + n, src.nrows);
    f = m->f;
    nv = f->nvars;
    p = m->p;
    nb0 = m->block_rows ? m->block_rows : 8192;
    width = glm_design_work(f);
    raw = strata_calloc(ctx, nv ? nv : 1, sizeof *raw);
    Xb = strata_alloc(ctx, nb0 * p * sizeof *Xb);
    work = strata_alloc(ctx, (nb0 * width + 1) * sizeof *work);
    if (!raw || !Xb || !work)
        goto done;
    for (size_t v = 0; v < nv; v++)
        if (f->vars[v].src_col != (size_t)-1 && !(raw[v] = strata_alloc(ctx, nb0 * sizeof **raw)))
            goto done;
    st = STRATA_OK;
    for (size_t r0 = 0; r0 < n && st == STRATA_OK; r0 += nb0) {
        size_t nb = n - r0 < nb0 ? n - r0 : nb0;
        int badvar = 0;
        for (size_t v = 0; v < nv && st == STRATA_OK; v++)
            if (raw[v])
                st = src.read_f64(ctx, src.ud, f->vars[v].src_col, row0 + r0, nb, raw[v]);
        if (st != STRATA_OK)
            break;
        if (glm_design_block(f, raw, nb, Xb, work, &badvar) != 0) {
            /* an unseen level under the ERROR policy: score it through the
             * scorer to get its precise message */
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': a level in rows %zu..%zu was not seen when the model was fitted",
                             src.name, f->vars[badvar].column, row0 + r0 + 1, row0 + r0 + nb);
            break;
        }
        /* column-major block -> row-major rows of X */
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < p; j++)
                X[(r0 + i) * p + j] = Xb[j * nb + i];
    }
done:
    for (size_t v = 0; raw && v < nv; v++)
        strata_free(ctx, raw[v], 0);
    strata_free(ctx, raw, 0);
    strata_free(ctx, Xb, 0);
    strata_free(ctx, work, 0);
    return st;
}
