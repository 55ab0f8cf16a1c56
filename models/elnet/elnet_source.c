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
 * gather the mask (one byte a row), so each knows the complete cases. Under
 * a memory budget the rows are read in slices (of an eighth of the budget,
 * 1,024 rows at least), every rank as many as the largest rank's. */
static strata_status load_mask_dist(strata_ctx *ctx, const strata_comm *cm, const glm_source *src,
                                    const glm_formula *f, const glm_varbind *vb, const elnet_spec *sp,
                                    size_t budget, unsigned char *mask, size_t *n_used)
{
    size_t n = src->nrows, lo = strata_comm_split(n, cm->size, cm->rank, 1);
    size_t m = strata_comm_split(n, cm->size, cm->rank + 1, 1) - lo, used = 0, most = 0;
    size_t cd[2 * STRATA_MPI_MAX_RANKS];
    strata_status st = STRATA_OK;
    for (int r = 0; r < cm->size; r++)
        if (strata_comm_split(n, cm->size, r + 1, 1) - strata_comm_split(n, cm->size, r, 1) > most)
            most = strata_comm_split(n, cm->size, r + 1, 1) - strata_comm_split(n, cm->size, r, 1);
    size_t slice = budget ? budget / 8 / 16 : most;
    slice = slice < 1024 ? 1024 : slice;
    slice = slice > most ? most : slice;
    size_t rounds = most ? (most + slice - 1) / slice : 0, cap = slice < m ? slice : m;
    double *col = strata_alloc(ctx, 2 * (cap + 1) * sizeof *col), *y = col ? col + cap + 1 : NULL;
    if (!col)
        st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", cap);
    memset(mask + lo, 1, m);
    for (size_t q = 0; q < rounds; q++) {
        size_t s0 = lo + (q * slice < m ? q * slice : m), k = lo + m - s0 < slice ? lo + m - s0 : slice;
        for (size_t v = 0; v < f->nvars; v++) { /* collective: every rank reads every variable */
            strata_status sv = src->read_f64(ctx, src->ud, vb[v].src_col, s0, col ? k : 0, col);
            if (st == STRATA_OK)
                st = sv;
            for (size_t i = 0; st == STRATA_OK && i < k; i++) {
                if (col[i] == col[i])
                    continue;
                if (sp->na_action == STRATA_NA_FAIL)
                    st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                     src->name, f->vars[v].column, s0 + i + 1);
                mask[s0 + i] = 0;
            }
            if (st == STRATA_OK && (int)v == f->response)
                memcpy(y, col, k * sizeof *y);
        }
        for (size_t i = 0; st == STRATA_OK && i < k; i++)
            if (mask[s0 + i] && !glm_valid_y(sp->prm.family, y[i]))
                st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s", src->name,
                                 f->vars[f->response].column, s0 + i + 1, y[i], glm_valid_y_text(sp->prm.family));
    }
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

/* ---- under the memory budget (docs/scale.md, "The elastic net under a budget") ---- */

#define SRC_SLICE 65536 /* source rows read per call while streaming (at most) */

/* The streamed rows' reader over the source: window rows [r0, r1) of the
 * complete cases are read slice by slice from the source rows that hold them,
 * compacted by the mask and turned into the design, as build_design does. */
typedef struct src_reader {
    const glm_source *src;
    const glm_formula *f;
    const glm_varbind *vb;
    const unsigned char *mask;
    size_t N, n, slice;
    size_t dblk;                   /* rows of a design block: min(SRC_BLOCK, slice) (the design is per row) */
    size_t srow[ELNET_NCHUNK + 1]; /* source row of the first complete case of chunk c (N at the end) */
    double **raw;                  /* nv x slice */
    double *blk, *work, **rb;      /* one design block */
    elnet_reader rd;
} src_reader;

static void src_reader_free(strata_ctx *ctx, src_reader *r)
{
    for (size_t v = 0; r->raw && v < r->f->nvars; v++)
        strata_free(ctx, r->raw[v], 0);
    for (int t = 0; t < 2; t++)
        STRATA_FREE_ALL(ctx, r->rd.X[t], r->rd.y[t], r->rd.w[t], r->rd.off[t]);
    STRATA_FREE_ALL(ctx, r->raw, r->blk, r->work, r->rb);
}

/* Compact rows [r0, r1) (whole chunks) into set t. */
static strata_status src_read(strata_ctx *ctx, void *ud, int t, size_t r0, size_t r1)
{
    src_reader *r = ud;
    const glm_formula *f = r->f;
    size_t c = 0, k = 0, m = r1 - r0, p = f->p, cap = r->rd.cap;
    size_t e = ELNET_NCHUNK;
    while (c < ELNET_NCHUNK && r->n * c / ELNET_NCHUNK != r0)
        c++;
    while (e > c && r->n * e / ELNET_NCHUNK != r1)
        e--;
    size_t send = r->srow[e]; /* the window's source rows end there */
    for (size_t s0 = r->srow[c]; k < m && s0 < send;) {
        size_t len = send - s0 < r->slice ? send - s0 : r->slice, kk = 0;
        for (size_t v = 0; v < f->nvars; v++)
            STRATA_TRY(r->src->read_f64(ctx, r->src->ud, r->vb[v].src_col, s0, len, r->raw[v]));
        for (size_t i = 0; i < len && k + kk < m; i++) {
            if (!r->mask[s0 + i])
                continue;
            for (size_t v = 0; v < f->nvars && kk != i; v++)
                r->raw[v][kk] = r->raw[v][i];
            kk++;
        }
        for (size_t b0 = 0; b0 < kk; b0 += r->dblk) {
            size_t nb = kk - b0 < r->dblk ? kk - b0 : r->dblk;
            int bad = -1;
            for (size_t v = 0; v < f->nvars; v++)
                r->rb[v] = r->raw[v] + b0;
            glm_design_block(f, r->vb, r->rb, nb, r->blk, r->work, &bad);
            for (size_t j = 1; j < p; j++)
                memcpy(r->rd.X[t] + (j - 1) * cap + k + b0, r->blk + j * nb, nb * sizeof *r->blk);
        }
        for (size_t i = 0; i < kk; i++) {
            r->rd.y[t][k + i] = r->raw[f->response][i];
            if (r->rd.w[t])
                r->rd.w[t][k + i] = r->raw[f->weights][i];
            if (r->rd.off[t])
                r->rd.off[t][k + i] = glm_offset_value(f, r->raw, i);
        }
        k += kk;
        s0 += len;
    }
    if (k != m)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: rows changed while the elastic net streamed them (%zu complete cases where %zu were)",
                           r->src->name, k, m);
    return STRATA_OK;
}

/* The raw slice buffers: at most an eighth of the budget and a chunk's rows,
 * 1,024 to SRC_SLICE source rows of every variable (src_reader_plan may
 * widen them). */
static size_t slice_rows(size_t budget, size_t nv, size_t N)
{
    size_t sl = budget / 8 / (8 * nv), most = N / ELNET_NCHUNK > SRC_SLICE ? SRC_SLICE : N / ELNET_NCHUNK;
    sl = sl > most ? most : sl; /* (no more than a chunk's rows) */
    sl = sl < 1024 ? 1024 : sl;
    return sl < N ? sl : N > 0 ? N : 1;
}

static strata_status src_reader_raw(strata_ctx *ctx, src_reader *r, size_t budget)
{
    size_t nv = r->f->nvars;
    r->slice = slice_rows(budget, nv, r->N);
    int ok = (r->raw = strata_calloc(ctx, nv + 1, sizeof *r->raw)) != NULL;
    for (size_t v = 0; ok && v < nv; v++)
        ok = (r->raw[v] = strata_alloc(ctx, r->slice * sizeof **r->raw)) != NULL;
    return ok ? STRATA_OK : STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", r->slice);
}

/* The streamed load: the mask in slices of source rows (checking values as
 * load_rows does; of several bad values it may name another). */
static strata_status load_mask_stream(strata_ctx *ctx, const src_reader *r, const elnet_spec *sp,
                                      unsigned char *mask, size_t *n_used)
{
    const glm_formula *f = r->f;
    size_t N = r->N, used = 0;
    if (N == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", r->src->name);
    for (size_t s0 = 0; s0 < N; s0 += r->slice) {
        size_t len = N - s0 < r->slice ? N - s0 : r->slice;
        memset(mask + s0, 1, len);
        for (size_t v = 0; v < f->nvars; v++) {
            STRATA_TRY(r->src->read_f64(ctx, r->src->ud, r->vb[v].src_col, s0, len, r->raw[v]));
            for (size_t i = 0; i < len; i++)
                if (r->raw[v][i] != r->raw[v][i]) {
                    if (sp->na_action == STRATA_NA_FAIL)
                        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                           r->src->name, f->vars[v].column, s0 + i + 1);
                    mask[s0 + i] = 0;
                }
        }
        for (size_t i = 0; i < len; i++) {
            double y = r->raw[f->response][i];
            if (mask[s0 + i] && !glm_valid_y(sp->prm.family, y))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s", r->src->name,
                                   f->vars[f->response].column, s0 + i + 1, y, glm_valid_y_text(sp->prm.family));
            used += mask[s0 + i];
        }
    }
    if (used < 2)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: %zu complete cases for formula \"%s\" (need >= 2)", r->src->name,
                           used, f->text);
    *n_used = used;
    return STRATA_OK;
}

/* Bytes the in-memory fit holds: the raw columns (and mask) of every source
 * row; the design (8p), y, weights, offset (24), the driver's weights and
 * response (16), eta, v, r (24) and 0/1 bytes (p) of every complete case. */
static size_t mem_bytes(size_t N, size_t n, size_t nv, size_t p)
{
    return N * (8 * nv + 1) + n * (9 * p + 64);
}

/* What streaming holds whatever the window: the mask, v and r (16 bytes a
 * row), the raw slice, a design block, the pass's chunk partials. */
static size_t stream_fixed(size_t N, size_t n, size_t nv, size_t p, size_t width, size_t slice)
{
    size_t ld = (p + 2 + 7) / 8 * 8;
    size_t dblk = slice < SRC_BLOCK ? slice : SRC_BLOCK;
    return N + 16 * n + 8 * (nv * slice + dblk * (p + 1 + width) + ELNET_NCHUNK * ld * (ld + ELNET_BLOCK) +
                             ELNET_NCHUNK * (p + 3) * ELNET_BLOCK + 40 * p);
}

/* What cross-validation keeps besides a fit's (elnet_cv.c): the fold ids (a
 * byte a row), the folds' paths and coefficients at the full path's lambdas
 * (and their losses), a block's predictions and, for
 * AUC, the external sort's share of the budget (the held-out outcomes and
 * weights, 16 bytes a row, take the place of the fits' v and r). */
static size_t cv_bytes(const elnet_spec *sp, size_t n, size_t p, size_t budget)
{
    size_t K = sp ? sp->cv_folds : 0, cap = K && sp->prm.lambda ? sp->prm.nuser : K ? sp->prm.nlambda : 0;
    if (!K)
        return 0;
    return n + 8 * K * cap * (2 * p + 8) + 8 * (cap + p + 3) * ELNET_PRED_BLOCK +
           (sp->measure == ELNET_MEASURE_AUC ? elnet_cv_sort_mem(n * cap, budget) : 0);
}

/* The rows of chunks [c0, c1) of n (*rows) and of the largest (*big). */
static void chunk_sizes(size_t n, size_t c0, size_t c1, size_t *rows, size_t *big)
{
    *rows = *big = 0;
    for (size_t c = c0; c < c1; c++) {
        size_t m = n * (c + 1) / ELNET_NCHUNK - n * c / ELNET_NCHUNK;
        *big = m > *big ? m : *big;
        *rows += m;
    }
}

/* Sizes the reader for the budget: windows of whole chunks in two buffer
 * sets (one when a window holds every row: read once), or the refusal
 * naming the sizes when one chunk does not fit. Across MPI ranks (slab->comm)
 * the windows are of this rank's chunks, in one set (nothing is read ahead:
 * only the main thread may call MPI), and the rows kept are the rank's. */
static strata_status src_reader_plan(strata_ctx *ctx, src_reader *r, const elnet_slab *slab, size_t budget,
                                     size_t nv, size_t p, const elnet_spec *cv, int one_set)
{
    const glm_formula *f = r->f;
    const int ranks = slab->comm != NULL, least = ranks || one_set ? 1 : 2;
    const size_t c0 = ranks ? slab->c0 : 0, c1 = ranks ? slab->c1 : ELNET_NCHUNK;
    size_t n = r->n, width = glm_design_work(f), row = 8 * p + 48, big = 0, mine = 0;
    chunk_sizes(n, c0, c1, &mine, &big);
    size_t extra = cv_bytes(cv, n, p, budget), fixed = stream_fixed(r->N, mine, nv, p, width, r->slice) + extra;
    size_t avail = budget > fixed ? budget - fixed : 0;
    r->rd.nsets = ranks || one_set || avail / row >= n ? 1 : 2;
    r->rd.cap = ranks || one_set ? (avail / row < mine ? avail / row : mine) : r->rd.nsets == 1 ? n : avail / row / 2;
    if (r->rd.cap < big) {
        /* (the slice grows with the budget: the least budget that holds its
         * own slice, + 1 %; across ranks the largest rank's) */
        size_t need = 0;
        for (int q = 0; q < (ranks ? slab->comm->size : 1); q++) {
            size_t mq = mine, bq = big;
            if (ranks)
                chunk_sizes(n, strata_comm_split(ELNET_NCHUNK, slab->comm->size, q, 1),
                            strata_comm_split(ELNET_NCHUNK, slab->comm->size, q + 1, 1), &mq, &bq);
            size_t nq = stream_fixed(r->N, mq, nv, p, width, r->slice) + extra + least * bq * row;
            for (int it = 0; it < 40; it++) /* (the slice and the CV's sort grow with the budget) */
                nq = stream_fixed(r->N, mq, nv, p, width, slice_rows(nq, nv, r->N)) + cv_bytes(cv, n, p, nq) +
                     least * bq * row;
            need = nq > need ? nq : need;
        }
        need += need / 100;
        return STRATA_FAIL(ctx, STRATA_ENOMEM,
                           "%s: the memory budget of %zu bytes cannot hold the streamed elastic net of %zu rows x %zu "
                           "columns%s: it keeps %zu bytes whatever the budget (the mask, 16 bytes a row for the IRLS "
                           "weights and residuals, the read and design buffers%s) and %s of one chunk "
                           "(%zu rows x %zu bytes) take %zu bytes: at least %zu bytes are needed (%zu in memory)",
                           r->src->name, budget, n, p, ranks ? " on each MPI rank" : "", fixed,
                           extra ? "; cross-validation's fold ids, 1 byte a row, its folds' coefficients and sort" : "",
                           least == 1 ? "a window" : "two windows", big, row, least * big * row, need,
                           mem_bytes(r->N, n, nv, p));
    }
    r->rd.row_bytes = 8 * nv;
    /* the sets hold the widest window (whole chunks of at most cap rows, as
     * elnet_stream groups them); what the budget leaves goes to larger read
     * slices (fewer, longer reads of each column: a slice of 1,024 rows cost
     * more in HDF5's per-call work than in reading) */
    size_t wide = n, span = r->N;
    if (r->rd.nsets > 1 || ranks || one_set) {
        wide = span = 0;
        for (size_t c = c0, e; c < c1; c = e) {
            e = c + 1;
            while (e < c1 && n * (e + 1) / ELNET_NCHUNK - n * c / ELNET_NCHUNK <= r->rd.cap)
                e++;
            size_t m = n * e / ELNET_NCHUNK - n * c / ELNET_NCHUNK;
            wide = m > wide ? m : wide;
            span = r->srow[e] - r->srow[c] > span ? r->srow[e] - r->srow[c] : span;
        }
    }
    r->rd.cap = wide;
    size_t used = fixed + (size_t)r->rd.nsets * wide * row, sl = r->slice;
    if (budget > used)
        sl += (budget - used) / (8 * nv) / 4 * 3; /* (a quarter spare: the design block grows too) */
    sl = sl > span ? span : sl; /* (no read runs past a window's source rows) */
    if (sl > r->slice && stream_fixed(r->N, mine, nv, p, width, sl) + extra + (size_t)r->rd.nsets * wide * row <= budget) {
        for (size_t v = 0; v < nv; v++) {
            strata_free(ctx, r->raw[v], 0);
            if (!(r->raw[v] = strata_alloc(ctx, sl * sizeof **r->raw)))
                return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", sl);
        }
        r->slice = sl;
        fixed = stream_fixed(r->N, mine, nv, p, width, sl) + extra;
    }
    r->dblk = r->slice < SRC_BLOCK ? r->slice : SRC_BLOCK;
    r->blk = strata_alloc(ctx, r->dblk * (p + 1) * sizeof *r->blk + 1);
    r->work = strata_alloc(ctx, r->dblk * width * sizeof *r->work + 1);
    r->rb = strata_alloc(ctx, (nv + 1) * sizeof *r->rb);
    int ok = r->blk && r->work && r->rb;
    for (int t = 0; ok && t < r->rd.nsets; t++) {
        size_t cap = r->rd.cap + 1;
        ok = (r->rd.X[t] = strata_alloc(ctx, cap * p * sizeof *r->rd.X[t])) != NULL &&
             (r->rd.y[t] = strata_alloc(ctx, cap * sizeof *r->rd.y[t])) != NULL &&
             (f->weights < 0 || (r->rd.w[t] = strata_alloc(ctx, cap * sizeof *r->rd.w[t])) != NULL) &&
             (!f->noffsets || (r->rd.off[t] = strata_alloc(ctx, cap * sizeof *r->rd.off[t])) != NULL);
    }
    if (!ok)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for windows of %zu rows x %zu columns",
                           r->rd.cap, p);
    r->rd.read = src_read;
    r->rd.ud = r;
    strata_log(ctx, STRATA_LOG_INFO,
               "%s: the elastic net's %zu x %zu design needs %zu MB in memory, over the memory budget of %zu MB: "
               "streaming windows of whole chunks of up to %zu rows (%d buffer set%s), read in slices of %zu rows; "
               "%zu MB besides the windows",
               r->src->name, n, p, mem_bytes(r->N, n, nv, p) >> 20, budget >> 20, r->rd.cap, r->rd.nsets,
               r->rd.nsets > 1 ? "s, the next window read while one computes"
               : slab->comm   ? " on each MPI rank, its own chunks read alone"
               : one_set && r->rd.cap < n ? ", each MPI rank reading alone for the fits dealt to it"
                              : ": read once",
               r->slice, fixed >> 20);
    return STRATA_OK;
}

/* Source row of each chunk's first complete case. */
static void src_reader_rows(src_reader *r)
{
    size_t k = 0, c = 0;
    for (size_t i = 0; i < r->N && c < ELNET_NCHUNK; i++) {
        if (!r->mask[i])
            continue;
        while (c < ELNET_NCHUNK && r->n * c / ELNET_NCHUNK == k)
            r->srow[c++] = i;
        k++;
    }
    while (c <= ELNET_NCHUNK)
        r->srow[c++] = r->N;
}

/* Across MPI ranks: what the largest rank would keep in memory — the mask,
 * its chunks' source rows of the raw columns and, per complete case of its
 * chunks, the design and the path's vectors (mem_bytes' terms). */
static size_t dist_bytes(const src_reader *r, int size, size_t nv, size_t p)
{
    size_t most = 0;
    for (int q = 0; q < size; q++) {
        size_t c0 = strata_comm_split(ELNET_NCHUNK, size, q, 1), c1 = strata_comm_split(ELNET_NCHUNK, size, q + 1, 1);
        size_t rows = r->n * c1 / ELNET_NCHUNK - r->n * c0 / ELNET_NCHUNK;
        size_t b = r->N + 8 * nv * (r->srow[c1] - r->srow[c0]) + rows * (9 * p + 64);
        most = b > most ? b : most;
    }
    return most;
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
    /* across ranks: the path's chunks, or (CV) the folds dealt round the ranks */
    STRATA_TRY(d->sl.comm || (sp->cv_folds && strata_ctx_comm(ctx)) ? strata_comm_agree(ctx, st) : st);
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
    size_t n = src->nrows, n_used = 0, nv = 0, nrow = 0, budget = strata_ctx_memory_budget(ctx);
    const strata_comm *cm = strata_ctx_comm(ctx);
    elnet_slab sl;
    src_reader rdr;
    int streamed = 0;
    /* CV across ranks (elnet_cv.c): every rank loads all rows as one process
     * does and the fits are dealt round the ranks; a failure before the CV is
     * agreed at done (the others wait in fit_arrays' agreement) */
    int cv_ranks = cm && sp->cv_folds;
    if (cv_ranks)
        cm = NULL;
    strata_status st;
    memset(&rdr, 0, sizeof rdr);
    *out = NULL;
    memset(res, 0, sizeof *res);
    memset(&sl, 0, sizeof sl);
    if ((st = glm_formula_parse(ctx, sp->formula, &f)) != STRATA_OK)
        goto done;
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
            st = load_mask_dist(ctx, cm, src, f, vb, sp, budget, mask, &n_used);
        if (st == STRATA_OK)
            st = freeze_dist(ctx, src, f, vb, mask);
        if (st != STRATA_OK)
            goto done;
        elnet_slab_make(cm, n_used, &sl);
        nrow = elnet_slab_rows(&sl);
        rdr.src = src, rdr.f = f, rdr.vb = vb, rdr.mask = mask, rdr.N = n, rdr.n = n_used;
        src_reader_rows(&rdr);
        if (budget && f->p > 1 && dist_bytes(&rdr, cm->size, nv, f->p - 1) > budget) {
            /* every rank streams its chunks (the same sizes on every rank) */
            streamed = 1;
            if ((st = strata_comm_agree(ctx, src_reader_raw(ctx, &rdr, budget))) != STRATA_OK)
                goto done;
        }
        size_t span = 0, k = 0; /* source rows spanning this rank's complete cases */
        for (size_t i = 0, first = n; i < n && k < sl.row0 + nrow; i++)
            if (mask[i] && k++ >= sl.row0) {
                first = first < i ? first : i;
                span = i + 1 - first;
            }
        for (size_t v = 0; v < nv && st == STRATA_OK && !streamed; v++)
            if (!(raw[v] = strata_alloc(ctx, (span + 1) * sizeof **raw)))
                st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory reading %zu rows", span);
        st = strata_comm_agree(ctx, st);
        if (st == STRATA_OK && !streamed)
            st = load_slab(ctx, src, f, vb, mask, &sl, raw);
        if (st != STRATA_OK)
            goto done;
    } else if (budget && mem_bytes(n, n, nv, 0) > budget) { /* the raw columns alone exceed it */
        streamed = 1;
        rdr.src = src, rdr.f = f, rdr.vb = vb, rdr.mask = mask, rdr.N = n;
        if (st == STRATA_OK)
            st = src_reader_raw(ctx, &rdr, budget);
        if (st == STRATA_OK)
            st = load_mask_stream(ctx, &rdr, sp, mask, &n_used);
        if (st == STRATA_OK)
            st = freeze_dist(ctx, src, f, vb, mask);
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
        if (budget && mem_bytes(n, n_used, nv, f->p - 1) > budget) { /* the design exceeds it */
            streamed = 1;
            for (size_t v = 0; v < nv; v++) {
                strata_free(ctx, raw[v], 0);
                raw[v] = NULL;
            }
            rdr.src = src, rdr.f = f, rdr.vb = vb, rdr.mask = mask, rdr.N = n;
            if ((st = src_reader_raw(ctx, &rdr, budget)) != STRATA_OK)
                goto done;
        }
        for (size_t v = 0; v < nv && n_used < n && !streamed; v++) {
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
    if (streamed) {
        rdr.n = n_used;
        src_reader_rows(&rdr);
        st = src_reader_plan(ctx, &rdr, &sl, budget, nv, p, sp, cv_ranks);
        /* from now on each rank reads its chunks (CV: the fits dealt to it) alone */
        if ((cm || cv_ranks) && st == STRATA_OK && src->own_reads)
            st = src->own_reads(ctx, src->ud);
        if (cm)
            st = strata_comm_agree(ctx, st);
        if (st != STRATA_OK)
            goto done;
        if (!(vec = strata_alloc(ctx, (p + 1) * sizeof *vec))) {
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "elnet: out of memory for %zu penalty factors", p);
            goto done;
        }
        if ((st = penalties(ctx, f, sp, vec)) != STRATA_OK)
            goto done;
        elnet_data d = {cm ? nrow : n_used, p, NULL, 0, NULL, NULL, NULL, sl, &rdr.rd};
        cv_ranks = 0; /* agreed in fit_arrays from here */
        if ((st = fit_arrays(ctx, sp, &d, vec, res)) != STRATA_OK)
            goto done;
        goto model;
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
    elnet_data d = {nrow, p, X, nrow, y, f->weights >= 0 ? w : NULL, f->noffsets ? off : NULL, sl, NULL};
    cv_ranks = 0; /* agreed in fit_arrays from here */
    if ((st = fit_arrays(ctx, sp, &d, pf, res)) != STRATA_OK)
        goto done;
model:;
    glm_model *m = NULL;
    if ((st = glm_model_alloc(ctx, f, &m)) != STRATA_OK)
        goto done;
    f = NULL; /* owned by m */
    fill_model(m, sp, res, n_used, n);
    *out = m;
done:
    if (cv_ranks) /* failed before the CV: with the ranks waiting in fit_arrays */
        st = strata_comm_agree(ctx, st);
    if (st != STRATA_OK)
        elnet_fitted_free(ctx, res);
    if (rdr.f)
        src_reader_free(ctx, &rdr);
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
