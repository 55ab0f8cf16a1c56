/* models/glm/glm_score.c — scoring and design rows of a model through a binding
 * (glm.h), so the model is only read and may be scored from several threads.
 * Rows are read on the calling thread; fixed blocks are computed in parallel with
 * single-threaded BLAS. Invariant: the bytes depend on no thread count or chunking. */
#include "glm_internal.h"

#include <omp.h>
#include <string.h>

strata_status glm_bind(strata_ctx *ctx, const glm_model *m, const glm_source *src,
                       strata_unseen_policy unseen, glm_binding **out)
{
    glm_binding *b;
    strata_status st;
    *out = NULL;
    if (!(b = strata_calloc(ctx, 1, sizeof *b)))
        return STRATA_ENOMEM;
    b->m = m;
    b->f = m->f;
    b->src = *src;
    if (!(b->vb = strata_calloc(ctx, m->f->nvars + 1, sizeof *b->vb))) {
        glm_binding_free(ctx, b);
        return STRATA_ENOMEM;
    }
    if ((st = glm_bind_score(ctx, m->f, src, unseen, b->vb)) != STRATA_OK) {
        glm_binding_free(ctx, b);
        return st;
    }
    *out = b;
    return STRATA_OK;
}

void glm_binding_free(strata_ctx *ctx, glm_binding *b)
{
    if (!b)
        return;
    glm_varbind_free(ctx, b->vb, b->f->nvars);
    strata_free(ctx, b, sizeof *b);
}

/* The message for the first unseen level a block met. */
static strata_status unseen_level(strata_ctx *ctx, const glm_binding *b, int var, size_t row0,
                                  size_t r, double code_d)
{
    const glm_var *v = &b->f->vars[var];
    size_t code = (size_t)code_d, j;
    const strata_column_info *info = NULL;
    const char *lab = "?";
    if (b->src.find(ctx, b->src.ud, v->column, &j, &info) == STRATA_OK && code < info->n_levels)
        lab = info->levels[code];
    return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: level '%s' was not seen when the model was fitted (levels: %zu; map unseen levels to the reference with --unseen-to-reference)",
                       b->src.name, v->column, row0 + r + 1, lab, v->n_levels);
}

/* Buffers of one glm_score_rows call: the raw columns of its rows, per thread
 * a block's design, workspace and eta, and per block the first unseen level. */
typedef struct score_bufs {
    double **raw, *tbuf, *beta;
    const double **rawb;
    size_t *badrow, tsize;
    int *badvar;
} score_bufs;

static void score_bufs_free(strata_ctx *ctx, score_bufs *s, size_t nv)
{
    for (size_t v = 0; s->raw && v < nv; v++)
        strata_free(ctx, s->raw[v], 0);
    strata_free(ctx, s->raw, 0);
    strata_free(ctx, s->tbuf, 0);
    strata_free(ctx, (void *)s->rawb, 0);
    strata_free(ctx, s->beta, 0);
    strata_free(ctx, s->badrow, 0);
    strata_free(ctx, s->badvar, 0);
}

static strata_status score_bufs_alloc(strata_ctx *ctx, const glm_binding *b, size_t n, int nt,
                                      size_t nblocks, score_bufs *s)
{
    const glm_model *m = b->m;
    size_t nv = b->f->nvars, nb0 = m->block_rows;
    memset(s, 0, sizeof *s);
    s->tsize = nb0 * (m->p + glm_design_work(b->f) + 1);
    if (!(s->raw = strata_calloc(ctx, nv, sizeof *s->raw)))
        return STRATA_ENOMEM;
    for (size_t v = 0; v < nv; v++)
        if (b->vb[v].src_col != (size_t)-1 && !(s->raw[v] = strata_alloc(ctx, n * sizeof **s->raw)))
            return STRATA_ENOMEM;
    s->tbuf = strata_alloc(ctx, (size_t)nt * s->tsize * sizeof *s->tbuf);
    s->rawb = strata_calloc(ctx, (size_t)nt * nv, sizeof *s->rawb);
    s->beta = strata_alloc(ctx, m->p * sizeof *s->beta);
    s->badrow = strata_calloc(ctx, nblocks, sizeof *s->badrow);
    s->badvar = strata_calloc(ctx, nblocks, sizeof *s->badvar);
    if (!s->tbuf || !s->rawb || !s->beta || !s->badrow || !s->badvar)
        return STRATA_ENOMEM;
    return STRATA_OK;
}

/* lp / resp of every block: design, X beta (one dgemv), offset, inverse link. */
static void score_blocks(const glm_binding *b, score_bufs *s, size_t n, int nt, size_t nblocks,
                         double *lp, double *resp)
{
    const glm_model *m = b->m;
    const glm_formula *f = b->f;
    size_t nv = f->nvars, p = m->p, nb0 = m->block_rows, width = glm_design_work(f);
    la_blas_single_begin();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (long bl = 0; bl < (long)nblocks; bl++) {
        int t = omp_get_thread_num();
        size_t blk = (size_t)bl, r0 = blk * nb0, nb = r0 + nb0 <= n ? nb0 : n - r0;
        double *X = s->tbuf + (size_t)t * s->tsize, *work = X + nb0 * p, *eta = work + nb0 * width;
        const double **rb = s->rawb + (size_t)t * nv;
        for (size_t q = 0; q < nv; q++)
            rb[q] = s->raw[q] ? s->raw[q] + r0 : NULL;
        s->badrow[blk] = glm_design_block(f, b->vb, (double *const *)rb, nb, X, work, &s->badvar[blk]);
        la_gemv(nb, p, X, s->beta, eta);
        for (size_t i = 0; i < nb; i++) {
            double e = eta[i] + glm_offset_value(f, (double *const *)rb, i);
            if (lp)
                lp[r0 + i] = e;
            if (resp)
                resp[r0 + i] = e == e ? glm_linkinv(m->family, e) : e;
        }
    }
    la_blas_single_end();
}

strata_status glm_score_rows(strata_ctx *ctx, const glm_binding *b, size_t row0, size_t n,
                             double *lp, double *resp)
{
    const glm_model *m = b->m;
    size_t nv = b->f->nvars, nb0 = m->block_rows, nblocks = (n + nb0 - 1) / nb0;
    int nt = strata_threads(ctx);
    score_bufs s;
    strata_status st;
    if (n == 0)
        return STRATA_OK;
    if ((size_t)nt > nblocks)
        nt = (int)nblocks;
    if ((st = score_bufs_alloc(ctx, b, n, nt, nblocks, &s)) != STRATA_OK)
        goto done;
    for (size_t v = 0; v < nv; v++)
        if (s.raw[v] && (st = b->src.read_f64(ctx, b->src.ud, b->vb[v].src_col, row0, n, s.raw[v])) != STRATA_OK)
            goto done;
    for (size_t j = 0; j < m->p; j++)
        s.beta[j] = m->aliased[j] ? 0 : m->beta[j];
    score_blocks(b, &s, n, nt, nblocks, lp, resp);
    for (size_t blk = 0; blk < nblocks && st == STRATA_OK; blk++)
        if (s.badrow[blk]) {
            size_t r = blk * nb0 + s.badrow[blk] - 1;
            st = unseen_level(ctx, b, s.badvar[blk], row0, r, s.raw[s.badvar[blk]][r]);
        }
done:
    score_bufs_free(ctx, &s, nv);
    return st;
}

size_t glm_score_chunk(strata_ctx *ctx, const glm_binding *b, size_t extra)
{
    const glm_model *m = b->m;
    size_t budget = strata_ctx_memory_budget(ctx), nv = b->f->nvars, nsrc = 0, rows;
    size_t nb0 = m->block_rows ? m->block_rows : 8192, nt = (size_t)strata_threads(ctx);
    size_t fixed, per_row;
    if (budget == 0)
        return GLM_SCORE_CHUNK;
    for (size_t v = 0; v < nv; v++)
        nsrc += b->vb[v].src_col != (size_t)-1;
    /* score_bufs: per thread a block's design, workspace and eta and the column
     * pointers, the coefficients; per row the columns, the caller's outputs and
     * (rounded up) the per-block first-unseen records */
    fixed = nt * (nb0 * (m->p + glm_design_work(b->f) + 1) * sizeof(double) + nv * sizeof(double *)) +
            m->p * sizeof(double) + 2 * (sizeof(size_t) + sizeof(int));
    per_row = (nsrc + extra) * sizeof(double) + 1;
    /* the rows take at most half of what the workspace leaves: the other half
     * is for what the caller holds (model, cohort handle, output file) */
    rows = budget > fixed ? (budget - fixed) / 2 / per_row / nb0 * nb0 : 0;
    if (rows < nb0)
        rows = nb0;
    if (rows >= GLM_SCORE_CHUNK)
        return GLM_SCORE_CHUNK;
    if (rows < b->src.nrows)
        strata_log(ctx, STRATA_LOG_INFO, "%s: scoring under the memory budget of %zu bytes: chunks of %zu rows (%zu blocks)",
                   b->src.name, budget, rows, rows / nb0);
    return rows;
}

strata_status glm_score(strata_ctx *ctx, const glm_model *m, const glm_source *src,
                        strata_unseen_policy unseen, double *lp, double *resp)
{
    glm_binding *b = NULL;
    strata_status st = glm_bind(ctx, m, src, unseen, &b);
    size_t chunk = st == STRATA_OK ? glm_score_chunk(ctx, b, 0) : 1;
    for (size_t r0 = 0; st == STRATA_OK && r0 < src->nrows; r0 += chunk) {
        size_t k = src->nrows - r0 < chunk ? src->nrows - r0 : chunk;
        st = glm_score_rows(ctx, b, r0, k, lp ? lp + r0 : NULL, resp ? resp + r0 : NULL);
    }
    glm_binding_free(ctx, b);
    return st;
}

strata_status glm_design_rows(strata_ctx *ctx, const glm_binding *b, size_t row0, size_t n,
                              double *X)
{
    return glm_formula_design_rows(ctx, b->f, b->vb, &b->src,
                                   b->m->block_rows ? b->m->block_rows : 8192, row0, n, X);
}

strata_status glm_formula_design_rows(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                                      const glm_source *src, size_t nb0, size_t row0, size_t n,
                                      double *X)
{
    size_t nv = f->nvars, p = f->p;
    size_t width = glm_design_work(f);
    double **raw = NULL, *Xb = NULL, *work = NULL;
    strata_status st = STRATA_ENOMEM;
    if (row0 > src->nrows || n > src->nrows - row0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: rows %zu..%zu outside 1..%zu", src->name,
                           row0 + 1, row0 + n, src->nrows);
    raw = strata_calloc(ctx, nv ? nv : 1, sizeof *raw);
    Xb = strata_alloc(ctx, nb0 * p * sizeof *Xb);
    work = strata_alloc(ctx, (nb0 * width + 1) * sizeof *work);
    if (!raw || !Xb || !work)
        goto done;
    for (size_t v = 0; v < nv; v++)
        if (vb[v].src_col != (size_t)-1 && !(raw[v] = strata_alloc(ctx, nb0 * sizeof **raw)))
            goto done;
    st = STRATA_OK;
    for (size_t r0 = 0; r0 < n && st == STRATA_OK; r0 += nb0) {
        size_t nb = n - r0 < nb0 ? n - r0 : nb0;
        int badvar = 0;
        for (size_t v = 0; v < nv && st == STRATA_OK; v++)
            if (raw[v])
                st = src->read_f64(ctx, src->ud, vb[v].src_col, row0 + r0, nb, raw[v]);
        if (st != STRATA_OK)
            break;
        if (glm_design_block(f, vb, raw, nb, Xb, work, &badvar) != 0) {
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': a level in rows %zu..%zu was not seen when the model was fitted",
                             src->name, f->vars[badvar].column, row0 + r0 + 1, row0 + r0 + nb);
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
