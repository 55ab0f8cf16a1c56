/* models/glm/glm_fit.c — the GLM fit as named steps: parse, bind, load (first
 * touch on every thread, reads on one, checks, mask), freeze levels and knots,
 * compact, set up the pass and workspace, warm start, IRLS, summary, provenance.
 * Under a memory budget the columns are not loaded: the load step makes the
 * mask and block map in one streamed read and the passes stream (glm_stream.c).
 * Invariant: coefficients are byte-identical whatever the thread count and
 * whether the columns are loaded or streamed; on
 * non-convergence the partial fit is returned with STRATA_ENOCONV. */
#include "glm_stream.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

void strata_glm_params_init(strata_glm_params *p)
{
    memset(p, 0, sizeof *p);
    p->family = STRATA_FAMILY_BINOMIAL;
    p->epsilon = 1e-8;
    p->max_iter = 25;
    p->na_action = STRATA_NA_COMPLETE_CASES;
    p->unseen = STRATA_UNSEEN_ERROR;
    p->block_rows = 8192;
    p->warm_start = 1;
}

strata_status strata_glm_params_check(strata_ctx *ctx, const strata_glm_params *p)
{
    if (!p)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: NULL");
    if ((unsigned)p->family > STRATA_FAMILY_GAUSSIAN)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: family %d unknown", (int)p->family);
    if (!p->formula || !*p->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: formula is required");
    if (!(p->epsilon > 0 && p->epsilon < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: epsilon %g outside (0, 1)", p->epsilon);
    if (p->max_iter < 1 || p->max_iter > 10000)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: max_iter %d outside 1..10000", p->max_iter);
    if ((unsigned)p->na_action > STRATA_NA_FAIL)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: na_action %d unknown", (int)p->na_action);
    if ((unsigned)p->unseen > STRATA_UNSEEN_TO_REFERENCE)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: unseen %d unknown", (int)p->unseen);
    if (p->warm_start != 0 && p->warm_start != 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: warm_start %d is not 0 or 1", p->warm_start);
    if ((unsigned)p->pass > STRATA_GLM_PASS_FACTOR)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: pass %d unknown", (int)p->pass);
    if (p->final_gram < -1 || p->final_gram > 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: final_gram %d is not -1, 0 or 1", p->final_gram);
    if (p->block_rows < 16 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: block_rows %zu outside 16..2^24", p->block_rows);
    return STRATA_OK;
}

/* Everything a fit holds between its steps; fit_state_free releases what is left. */
typedef struct fit_state {
    glm_formula *f;          /* until the model owns it (fit_setup) */
    glm_varbind *vb;         /* f bound to the source */
    size_t nv, n, n_used;
    double **raw;            /* nv columns of n (+ 1) values; compacted to n_used
                              * (streamed: only factors and splines, while freezing) */
    double *rawblk;          /* in memory: the block raw[v] point into (huge_cols), else NULL */
    size_t rawblk_size;      /* its bytes */
    unsigned char *mask;     /* n: 1 = complete case */
    double *y1;              /* 2 n_used: unit prior weights, then offsets */
    double *vcbuf;           /* in memory: the values computed once per fit (vcache) */
    int *levbuf;             /* in memory, categorical-aware: every row's level indices */
    void *vcblk, *levblk;    /* the huge_alloc blocks of vcbuf and levbuf */
    size_t vcblk_size, levblk_size;
    glm_vcache vcache;
    fitdata d;
    glm_stream *stream;      /* non-NULL when the columns exceed the memory budget */
    glm_irls_ws *ws;
    double *bwarm;           /* p: the warm start's coefficients */
    glm_model *m;
    glm_irls_result res;
    double t_start, t_load, t_setup, t_warm, c_warm, t_irls, c_irls;
} fit_state;

static void fit_state_free(strata_ctx *ctx, fit_state *s)
{
    for (size_t v = 0; s->raw && !s->rawblk && v < s->nv; v++)
        strata_free(ctx, s->raw[v], 0);
    strata_free(ctx, s->rawblk, s->rawblk_size);
    strata_free(ctx, s->raw, 0);
    strata_free(ctx, s->mask, 0);
    strata_free(ctx, s->y1, 0);
    strata_free(ctx, s->vcblk, s->vcblk_size);
    strata_free(ctx, s->levblk, s->levblk_size);
    strata_free(ctx, s->bwarm, 0);
    glm_pass_free(ctx, &s->d);
    glm_stream_free(ctx, s->stream);
    glm_irls_ws_free(ctx, s->ws);
    glm_varbind_free(ctx, s->vb, s->nv);
    glm_model_free(ctx, s->m);
    glm_formula_free(ctx, s->f);
}

/* CPU seconds of the process (all threads): pass cost on a shared machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- parse, bind --------------------------------------------------------------- */

static strata_status fit_parse(strata_ctx *ctx, const strata_glm_params *prm, fit_state *s)
{
    STRATA_TRY(glm_formula_parse(ctx, prm->formula, &s->f));
    if (prm->weights)
        STRATA_TRY(glm_formula_set_weights(ctx, s->f, prm->weights));
    s->nv = s->f->nvars;
    return STRATA_OK;
}

static strata_status fit_bind(strata_ctx *ctx, const glm_source *src, fit_state *s)
{
    if (!(s->vb = strata_calloc(ctx, s->nv + 1, sizeof *s->vb)))
        return STRATA_ENOMEM;
    return glm_bind_fit(ctx, s->f, src, s->vb);
}

/* ---- load: read, mask, check ------------------------------------------------------ */

/* Complete-case mask of rows [base, base + m) (raw[v][i] is row base + i): NaN
 * in any variable drops the row, or fails with na_action = fail; seen[v] = 1
 * once variable v has a value. */
static strata_status mask_rows(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                               const glm_formula *f, double *const *raw, size_t base, size_t m,
                               unsigned char *mask, unsigned char *seen)
{
    /* column by column (contiguous reads), rows flagged in mask */
    memset(mask, 1, m);
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = raw[v];
        for (size_t i = 0; i < m; i++) {
            if (r[i] == r[i]) {
                seen[v] = 1;
                continue;
            }
            if (prm->na_action == STRATA_NA_FAIL)
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                   src->name, f->vars[v].column, base + i + 1);
            mask[i] = 0;
        }
    }
    return STRATA_OK;
}

/* Counts the complete cases; STRATA_EDATA when there is none. */
static strata_status count_cases(strata_ctx *ctx, const glm_source *src, const unsigned char *seen,
                                 fit_state *s)
{
    const glm_formula *f = s->f;
    size_t used = 0;
    for (size_t i = 0; i < s->n; i++)
        used += s->mask[i];
    if (used == 0) {
        for (size_t v = 0; v < f->nvars; v++)
            if (!seen[v])
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s' is missing in all %zu rows; no complete cases to fit",
                                   src->name, f->vars[v].column, s->n);
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases in the %zu rows for formula \"%s\"",
                           src->name, s->n, f->text);
    }
    s->n_used = used;
    return STRATA_OK;
}

/* All-zero weights "fitted" with a NaN deviance (issue 17 #7): an error. */
static strata_status weights_used(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                                  size_t positive, size_t n_used)
{
    if (f->weights >= 0 && positive == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA,
                           "%s: weights column '%s': every weight of the %zu rows used is 0; "
                           "there is nothing to fit",
                           src->name, f->vars[f->weights].column, n_used);
    return STRATA_OK;
}

/* Every complete-case value of rows [base, base + m) in its variable's domain:
 * the response valid for the family, weights finite and >= 0, log/log1p
 * arguments in range, numbers finite; *positive counts complete rows with a
 * weight > 0 (see weights_used). */
/* 1 when some complete-case value of r breaks a domain rule other than the
 * response's and the weights': branch-free, so that a clean column (the
 * rule) costs a vector sweep; the rows are then walked for the message. */
static int domain_broken(const glm_var *gv, const double *r, size_t m, const unsigned char *mask)
{
    int bad = 0;
    if (gv->tr == GT_LOG)
        for (size_t i = 0; i < m; i++)
            bad |= mask[i] & !(r[i] > 0 && r[i] < INFINITY);
    else if (gv->tr == GT_LOG1P)
        for (size_t i = 0; i < m; i++)
            bad |= mask[i] & !(r[i] > -1 && r[i] < INFINITY);
    else if (!gv->is_factor)
        for (size_t i = 0; i < m; i++)
            bad |= mask[i] & !(r[i] > -INFINITY && r[i] < INFINITY);
    return bad;
}

static strata_status check_rows(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                                const glm_formula *f, double *const *raw, size_t base, size_t m,
                                const unsigned char *mask, size_t *positive)
{
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = raw[v];
        const glm_var *gv = &f->vars[v];
        if ((int)v != f->response && (int)v != f->weights && !domain_broken(gv, r, m, mask))
            continue;
        for (size_t i = 0; i < m; i++) {
            double x = r[i];
            size_t row = base + i + 1;
            if (!mask[i])
                continue;
            if ((int)v == f->response && !glm_valid_y(prm->family, x))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s",
                                   src->name, gv->column, row, x, glm_valid_y_text(prm->family));
            if ((int)v == f->weights && !(x >= 0 && isfinite(x)))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: weights column '%s': row %zu: value %g is not a finite non-negative weight",
                                   src->name, gv->column, row, x);
            if ((gv->tr == GT_LOG && !(x > 0)) || (gv->tr == GT_LOG1P && !(x > -1)))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g outside the domain of %s",
                                   src->name, gv->column, row, x, gv->label);
            if (!gv->is_factor && !isfinite(x))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g is not finite",
                                   src->name, gv->column, row, x);
        }
    }
    if (f->weights >= 0)
        for (size_t i = 0; i < m; i++)
            *positive += mask[i] && raw[f->weights][i] > 0;
    return STRATA_OK;
}

/* Bytes the in-memory fit holds per source row: the columns, the mask, unit
 * weights and offsets, the linear predictor. */
static size_t loaded_bytes(size_t nv, size_t n)
{
    return (nv + 3) * 8 * (n + 1) + n;
}

/* The end of a streamed or distributed load, from the whole mask: counts the
 * complete cases and makes the map of compact blocks to source rows. */
static strata_status load_finish(strata_ctx *ctx, const glm_source *src, const unsigned char *seen,
                                 size_t positive, size_t nb, fit_state *s)
{
    glm_stream *g = s->stream;
    size_t nblocks, c = 0;
    STRATA_TRY(count_cases(ctx, src, seen, s));
    STRATA_TRY(weights_used(ctx, src, s->f, positive, s->n_used));
    nblocks = (s->n_used + nb - 1) / nb;
    if (!(g->srow = strata_alloc(ctx, (nblocks + 1) * sizeof *g->srow)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (s->mask[i] && c++ % nb == 0)
            g->srow[(c - 1) / nb] = i;
    g->srow[nblocks] = s->n;
    s->t_load = omp_get_wtime();
    return STRATA_OK;
}

/* The stream state of a streamed or distributed fit. */
static strata_status stream_new(strata_ctx *ctx, const glm_source *src, fit_state *s)
{
    glm_stream *g;
    if (!(g = s->stream = strata_calloc(ctx, 1, sizeof *g)))
        return STRATA_ENOMEM;
    g->ctx = ctx;
    g->src = src;
    g->vb = s->vb;
    g->nv = s->nv;
    return STRATA_OK;
}

/* The streamed load: one read of the source in chunks of cap rows makes the
 * mask (checking values as it goes; of several bad values it may name another
 * than the in-memory load) and the map of compact blocks to source rows. */
static strata_status fit_load_stream(strata_ctx *ctx, const glm_source *src,
                                     const strata_glm_params *prm, size_t budget, fit_state *s)
{
    size_t n = s->n, nb = prm->block_rows, positive = 0;
    unsigned char seen[GLM_MAXVARS + 1] = {0};
    glm_stream *g;
    STRATA_TRY(stream_new(ctx, src, s));
    g = s->stream;
    /* a quarter of the budget for the two chunk buffers (nv columns and 3 work
     * columns each: one computed while the next is read) */
    g->cap = budget / 8 / ((s->nv + 3) * 8) / nb * nb;
    if (g->cap < nb)
        g->cap = nb;
    strata_log(ctx, STRATA_LOG_INFO, "%s: the model's %zu columns need %zu MB, over the memory budget of %zu MB: streaming chunks of about %zu rows",
               src->name, s->nv, loaded_bytes(s->nv, n) >> 20, budget >> 20, g->cap);
    s->t_start = omp_get_wtime();
    STRATA_TRY(glm_stream_buffers(ctx, g, g->cap));
    for (size_t r0 = 0; r0 < n; r0 += g->cap) {
        size_t m = n - r0 < g->cap ? n - r0 : g->cap;
        STRATA_TRY(glm_stream_read(ctx, g, r0, m));
        STRATA_TRY(mask_rows(ctx, src, prm, s->f, g->set[0].col, r0, m, s->mask + r0, seen));
        STRATA_TRY(check_rows(ctx, src, prm, s->f, g->set[0].col, r0, m, s->mask + r0, &positive));
    }
    return load_finish(ctx, src, seen, positive, nb, s);
}

/* The distributed load (docs/scale.md#mpi): rank r reads rows [lo_r, lo_r+1)
 * of every variable (collective reads), makes and checks their mask; the
 * ranks agree on any error, gather the masks (one byte a row) and the
 * per-variable facts, and so each makes the same block map as one process
 * would. The rows themselves are read again per rank's blocks in setup. */
typedef struct load_facts {
    unsigned char seen[GLM_MAXVARS + 1];
    size_t positive;
} load_facts;

static strata_status fit_load_dist(strata_ctx *ctx, const glm_source *src,
                                   const strata_glm_params *prm, fit_state *s)
{
    const strata_comm *cm = strata_ctx_comm(ctx);
    size_t n = s->n, budget = strata_ctx_memory_budget(ctx);
    size_t lo = strata_comm_split(n, cm->size, cm->rank, 1);
    size_t m = strata_comm_split(n, cm->size, cm->rank + 1, 1) - lo;
    size_t *cnt, *dsp, mmax = 0, cap, rounds;
    load_facts *lf, mine;
    strata_status st = STRATA_OK;
    glm_stream *g;
    STRATA_TRY(stream_new(ctx, src, s));
    g = s->stream;
    g->comm = cm;
    g->budget = budget;
    s->t_start = omp_get_wtime();
    memset(&mine, 0, sizeof mine);
    for (int r = 0; r < cm->size; r++)
        if (strata_comm_split(n, cm->size, r + 1, 1) - strata_comm_split(n, cm->size, r, 1) > mmax)
            mmax = strata_comm_split(n, cm->size, r + 1, 1) - strata_comm_split(n, cm->size, r, 1);
    /* the slab at once, or under the budget in slices of the streamed
     * load's size; every rank makes as many reads as the largest slab's */
    cap = budget && loaded_bytes(s->nv, mmax) > budget ? budget / 8 / ((s->nv + 3) * 8) : mmax;
    if (cap < prm->block_rows && cap < mmax)
        cap = prm->block_rows;
    rounds = mmax ? (mmax + cap - 1) / cap : 0;
    g->cap = n;
    STRATA_TRY(glm_stream_buffers(ctx, g, cap < m ? cap : m));
    for (size_t q = 0; q < rounds; q++) {
        size_t r0 = lo + (q * cap < m ? q * cap : m), k = lo + m - r0 < cap ? lo + m - r0 : cap;
        /* collective: every rank reads every variable, whatever fails */
        for (size_t v = 0; v < s->nv; v++) {
            strata_status sv = src->read_f64(ctx, src->ud, s->vb[v].src_col, r0, k, g->set[0].col[v]);
            if (st == STRATA_OK)
                st = sv;
        }
        if (st == STRATA_OK)
            st = mask_rows(ctx, src, prm, s->f, g->set[0].col, r0, k, s->mask + r0, mine.seen);
        if (st == STRATA_OK)
            st = check_rows(ctx, src, prm, s->f, g->set[0].col, r0, k, s->mask + r0, &mine.positive);
    }
    STRATA_TRY(strata_comm_agree(ctx, st));
    cnt = strata_alloc(ctx, 2 * ((size_t)cm->size + 1) * sizeof *cnt);
    lf = strata_alloc(ctx, (size_t)cm->size * sizeof *lf);
    st = cnt && lf ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK) {
        dsp = cnt + cm->size + 1;
        for (int r = 0; r < cm->size; r++) {
            dsp[r] = strata_comm_split(n, cm->size, r, 1);
            cnt[r] = strata_comm_split(n, cm->size, r + 1, 1) - dsp[r];
        }
        st = cm->allgatherv(cm->ud, NULL, s->mask, cnt, dsp);
        lf[cm->rank] = mine;
        for (int r = 0; r < cm->size; r++)
            cnt[r] = sizeof *lf, dsp[r] = (size_t)r * sizeof *lf;
        if (st == STRATA_OK)
            st = cm->allgatherv(cm->ud, NULL, lf, cnt, dsp);
    }
    memset(&mine, 0, sizeof mine);
    for (int r = 0; st == STRATA_OK && r < cm->size; r++) {
        for (size_t v = 0; v <= GLM_MAXVARS; v++)
            mine.seen[v] |= lf[r].seen[v];
        mine.positive += lf[r].positive;
    }
    STRATA_FREE_ALL(ctx, cnt, lf);
    if (st != STRATA_OK)
        return STRATA_FAIL(ctx, st, "%s: gathering the complete-case mask over the MPI ranks failed", src->name);
    return load_finish(ctx, src, mine.seen, mine.positive, prm->block_rows, s);
}

/* A buffer of bytes whose 2 MiB-aligned part is advised to transparent huge
 * pages (MADV_HUGEPAGE; this machine's THP mode is madvise): its first touch
 * is then a few 2 MiB faults instead of one fault per 4 KiB page (UCI
 * diabetes: the 8 loaded columns alone were ~1,600 faults, the largest share
 * of the fit's; issue 19). 2 MiB more address space, never touched unless
 * huge pages come; below 2 MiB a plain allocation. Above HUGE_MAX too: a huge
 * page may cost the kernel a compaction stall, and the 1 M x 6,200-practice
 * fit's 168 MB of columns took 0.52 s of system time instead of 0.15 in one
 * of two runs (the faults are a small share there). *blk (*blk_size bytes)
 * is what to free; the values are the same wherever they live. NULL: no
 * memory. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MAX ((size_t)32 << 20)
static void *huge_alloc(strata_ctx *ctx, size_t bytes, void **blk, size_t *blk_size)
{
    uintptr_t a;
    int huge = bytes >= HUGE_PAGE && bytes <= HUGE_MAX;
    *blk_size = huge ? bytes + HUGE_PAGE : bytes;
    if (!(*blk = strata_alloc(ctx, *blk_size)))
        return NULL;
    if (!huge)
        return *blk;
    a = ((uintptr_t)*blk + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
    /* advice only (refused: small pages), and inside the block */
    (void)madvise((void *)a, ((uintptr_t)*blk + *blk_size - a) & ~(uintptr_t)4095, MADV_HUGEPAGE);
#endif
    return (void *)a;
}

/* The in-memory columns, one huge_alloc block. */
static strata_status huge_cols(strata_ctx *ctx, fit_state *s, size_t n)
{
    size_t bytes;
    double *a;
    if (!strata_mul_ok((n + 1) * sizeof(double), s->nv, &bytes) ||
        !(a = huge_alloc(ctx, bytes, (void **)&s->rawblk, &s->rawblk_size)))
        return STRATA_ENOMEM;
    for (size_t v = 0; v < s->nv; v++)
        s->raw[v] = a + v * (n + 1);
    return STRATA_OK;
}

/* Allocates and first-touches the columns, reads every variable (one thread),
 * builds the mask and checks the values. load_s counts the touch. */
static strata_status fit_load(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                              fit_state *s)
{
    size_t n = s->n = src->nrows, budget = strata_ctx_memory_budget(ctx), positive = 0;
    unsigned char seen[GLM_MAXVARS + 1] = {0};
    int nt;
    s->raw = strata_calloc(ctx, s->nv, sizeof *s->raw);
    s->mask = strata_alloc(ctx, n + 1);
    if (!s->raw || !s->mask)
        return STRATA_ENOMEM;
    if (n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    if (strata_ctx_comm(ctx))
        return fit_load_dist(ctx, src, prm, s);
    if (budget && loaded_bytes(s->nv, n) > budget)
        return fit_load_stream(ctx, src, prm, budget, s);
    STRATA_TRY(huge_cols(ctx, s, n));
    /* Touch the new columns on every thread before HDF5 fills them on one: at
     * 10 M x 60 the page faults of a single-threaded first touch cost 3-8 s,
     * spread over the threads they cost ~1 s (docs/glm.md). On one thread the
     * read itself is the first touch. */
    s->t_start = omp_get_wtime();
    nt = n * s->nv < (prm->parallel_min_np ? prm->parallel_min_np : GLM_PAR_MIN_NP) ? 1 : strata_threads(ctx);
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (long v = 0; v < (long)s->nv; v++)
            memset(s->raw[v], 0, (n + 1) * sizeof **s->raw);
    }
    for (size_t v = 0; v < s->nv; v++)
        s->raw[v][n] = 0;
    for (size_t v = 0; v < s->nv; v++)
        STRATA_TRY(src->read_f64(ctx, src->ud, s->vb[v].src_col, 0, n, s->raw[v]));
    STRATA_TRY(mask_rows(ctx, src, prm, s->f, s->raw, 0, n, s->mask, seen));
    STRATA_TRY(count_cases(ctx, src, seen, s));
    STRATA_TRY(check_rows(ctx, src, prm, s->f, s->raw, 0, n, s->mask, &positive));
    STRATA_TRY(weights_used(ctx, src, s->f, positive, s->n_used));
    s->t_load = omp_get_wtime();
    return STRATA_OK;
}

/* Freezes levels and knots from the raw columns. Streamed, the factor and
 * spline columns are read whole for it (the knots are quantiles of every
 * value) and released after. */
static strata_status fit_freeze(strata_ctx *ctx, const glm_source *src, fit_state *s)
{
    strata_status st;
    if (!s->stream)
        return glm_freeze(ctx, s->f, s->vb, s->raw, s->mask, s->n);
    for (size_t v = 0; v < s->nv; v++) {
        if (!s->f->vars[v].is_factor && s->f->vars[v].tr != GT_RCS)
            continue;
        if (!(s->raw[v] = strata_alloc(ctx, (s->n + 1) * sizeof **s->raw)))
            return STRATA_ENOMEM;
        STRATA_TRY(src->read_f64(ctx, src->ud, s->vb[v].src_col, 0, s->n, s->raw[v]));
    }
    st = glm_freeze(ctx, s->f, s->vb, s->raw, s->mask, s->n);
    for (size_t v = 0; v < s->nv; v++) {
        strata_free(ctx, s->raw[v], 0);
        s->raw[v] = NULL;
    }
    return st;
}

/* Moves the complete cases to the front of every column (nothing to move when
 * every row is one, nothing loaded when streamed). */
static void fit_compact(fit_state *s)
{
    for (size_t v = 0; v < s->nv && s->n_used < s->n && !s->stream; v++) {
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->mask[i])
                s->raw[v][w++] = s->raw[v][i];
    }
}

/* ---- set up: pass buffers, IRLS workspace, weights and offsets, the model ---- */

/* In memory, what a pass would compute again every time is computed once: the
 * values of transformed, spline and factor variables of the design's dense
 * columns (glm_vcache) and, on the categorical-aware pass, every row's level
 * indices; the same values, so the same bytes as computing them per block.
 * Skipped when it would take the fit over the memory budget. */
static strata_status fit_cache(strata_ctx *ctx, fitdata *d, fit_state *s)
{
    const size_t *js = d->fmode ? d->dj : NULL, n = d->n;
    size_t tabn[GLM_MAXVARS];
    size_t nt = glm_vcache_tables(d->f, d->raw, n, js, d->qd, tabn);
    size_t k = glm_vcache_doubles(d->f, js, d->qd, tabn);
    size_t budget = strata_ctx_memory_budget(ctx);
    size_t nl = d->ncomb ? 1 : d->fmode ? d->nfac : 0; /* ints per row: a code, or each level */
    size_t bytes = n * (k * sizeof *s->vcbuf + nl * sizeof *s->levbuf) + nt * sizeof *s->vcbuf;
    if (budget && loaded_bytes(s->nv, s->n) + bytes > budget)
        return STRATA_OK;
    memset(&s->vcache, 0, sizeof s->vcache);
    if (k || nt) {
        /* a small transformed variable's values per integer, the others per row */
        if (!(s->vcbuf = huge_alloc(ctx, (n * k + nt) * sizeof *s->vcbuf, &s->vcblk, &s->vcblk_size)))
            return STRATA_ENOMEM;
        glm_vcache_tab_fill(d->f, tabn, s->vcbuf + n * k, &s->vcache);
        glm_vcache_fill(d->f, d->vb, d->raw, n, js, d->qd, tabn, s->vcbuf, d->nt, &s->vcache);
        d->vc = &s->vcache;
    }
    if (d->fmode && d->nfac) {
        if (!(s->levbuf = huge_alloc(ctx, n * nl * sizeof *s->levbuf, &s->levblk, &s->levblk_size)))
            return STRATA_ENOMEM;
        if (d->ncomb) {
            glm_fpass_codecache(d, s->levbuf);
            d->codec = s->levbuf;
        } else {
            glm_fpass_levcache(d, s->levbuf);
            d->levc = s->levbuf;
        }
    }
    return STRATA_OK;
}

static strata_status fit_setup(strata_ctx *ctx, const strata_glm_params *prm, fit_state *s)
{
    glm_formula *f = s->f;
    fitdata *d = &s->d;
    size_t n = s->n_used;
    d->f = f;
    d->vb = s->vb;
    d->fam = prm->family;
    d->n = n;
    d->p = f->p;
    d->nb = prm->block_rows;
    d->nblocks = (n + d->nb - 1) / d->nb;
    d->bstride = 1;
    d->width = glm_design_work(f);
    d->nt = strata_threads(ctx);
    if ((size_t)d->nt > d->nblocks)
        d->nt = (int)d->nblocks;
    /* small fits run on one thread (GLM_PAR_MIN_NP, docs/glm.md); the
     * context's count still caps larger ones */
    if (n * d->p < (prm->parallel_min_np ? prm->parallel_min_np : GLM_PAR_MIN_NP))
        d->nt = 1;
    d->stream = s->stream;
    STRATA_TRY(glm_fpass_alloc(ctx, d, (int)prm->pass));
    STRATA_TRY(glm_pass_alloc(ctx, d));
    STRATA_TRY(glm_irls_ws_alloc(ctx, d->p, glm_gram_size(d), &s->ws));
    s->bwarm = strata_calloc(ctx, d->p, sizeof *s->bwarm);
    if (!s->bwarm)
        return STRATA_ENOMEM;
    if (s->stream && s->stream->comm) {
        /* distributed: this rank's blocks, read once and kept */
        STRATA_TRY(glm_stream_plan_dist(ctx, s->stream, d->nblocks, d->nb, n));
    } else if (s->stream) {
        /* streamed: the chunks bind their own rows (glm_stream.c) */
        STRATA_TRY(glm_stream_plan(ctx, s->stream, d->nblocks));
    } else {
        if (!(s->y1 = strata_alloc(ctx, 2 * n * sizeof *s->y1 + 1)))
            return STRATA_ENOMEM;
        glm_rows_bind(d, s->raw, n, s->y1, s->y1 + n);
        STRATA_TRY(fit_cache(ctx, d, s));
    }
    STRATA_TRY(glm_model_alloc_novcov(ctx, f, &s->m));
    s->f = NULL; /* owned by the model */
    s->t_setup = omp_get_wtime();
    return STRATA_OK;
}

/* ---- warm start, IRLS ---------------------------------------------------------- */

/* The warm start's coefficients as the full fit's start, but for the levels
 * of a factor main effect that ran off on the subsample: a level without
 * events (or without non-events) there steps by ~-1 (+1) at every iteration
 * and stops only when R's rule stops the whole fit, anywhere from ~-8 to -20
 * relative to the other levels; in the full data, where it has events, such
 * a start made the first Newton steps diverge (1 M rows, 6,200 practices:
 * deviance 0.9 M at the start, 10 M after the first step, 54 step-halving
 * passes, and a false convergence 738 units above the optimum). Per factor:
 * the centre is the levels' median coefficient, the reference counting as 0,
 * and the steps' median likewise; when the reference itself ran off (the
 * steps' median beyond GLM_WARM_RUNOFF_STEP, or the centre beyond
 * GLM_WARM_MAX_LEVEL) the intercept takes the centre first (the other levels'
 * linear predictors unchanged); then a level whose last step is more than
 * GLM_WARM_RUNOFF_STEP from the steps' median, or which is more than
 * GLM_WARM_MAX_LEVEL from the centre, starts at the centre. The optimum is
 * the same; only the start moves. scratch: p doubles. Returns how many
 * coefficients were moved. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of x[0..m) plus a 0 when with_ref, sorted in scratch. */
static double median_with(const glm_formula *f, int v, const double *x, int with_ref, double *scratch)
{
    size_t m = 0;
    for (size_t j = 0; j < f->p; j++)
        if (f->cols[j].nf == 1 && f->cols[j].var[0] == v)
            scratch[m++] = x[j];
    if (with_ref)
        scratch[m++] = 0;
    qsort(scratch, m, sizeof *scratch, cmp_double);
    return m % 2 ? scratch[m / 2] : 0.5 * (scratch[m / 2 - 1] + scratch[m / 2]);
}

static size_t warm_recentre(const glm_formula *f, const double *step, double *start, double *scratch)
{
    size_t moved = 0, icpt = f->p;
    for (size_t j = 0; j < f->p; j++)
        if (f->cols[j].nf == 0)
            icpt = j;
    for (int v = 0; v < (int)f->nvars; v++) {
        size_t ncol = 0;
        int with_ref;
        double centre, smed;
        for (size_t j = 0; j < f->p; j++)
            ncol += f->cols[j].nf == 1 && f->cols[j].var[0] == v;
        if (!f->vars[v].is_factor || ncol == 0)
            continue;
        with_ref = ncol + 1 == f->vars[v].n_levels && icpt < f->p;
        centre = median_with(f, v, start, with_ref, scratch);
        smed = median_with(f, v, step, with_ref, scratch);
        if (with_ref && (fabs(centre) > GLM_WARM_MAX_LEVEL || fabs(smed) > GLM_WARM_RUNOFF_STEP)) {
            start[icpt] += centre; /* the reference ran off: re-centre on the others */
            for (size_t j = 0; j < f->p; j++)
                if (f->cols[j].nf == 1 && f->cols[j].var[0] == v)
                    start[j] -= centre;
            centre = 0;
            moved++;
        }
        for (size_t j = 0; j < f->p; j++)
            if (f->cols[j].nf == 1 && f->cols[j].var[0] == v &&
                (fabs(step[j] - smed) > GLM_WARM_RUNOFF_STEP || fabs(start[j] - centre) > GLM_WARM_MAX_LEVEL)) {
                start[j] = centre;
                moved++;
            }
    }
    return moved;
}

/* Warm start (docs/glm.md): on large data, R's iteration first runs on every
 * GLM_WARM_STRIDE-th block; the full data then start from its coefficients and
 * need fewer passes. Any failure there falls back to R's start. Aliased columns
 * (e.g. rcs(age, 4) + age:sex) start at 0; the full fit finds its own aliasing.
 * Returns 1 when s->bwarm holds a start. */
static int fit_warm_start(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                          fit_state *s)
{
    fitdata ds = s->d;
    glm_irls_result r = {0, 0, 0, 0.0, 0};
    int warm;
    if (!prm->warm_start || s->d.nblocks < GLM_WARM_MIN_BLOCKS)
        return 0;
    ds.bstride = GLM_WARM_STRIDE;
    warm = glm_irls(ctx, &ds, prm, src->name, NULL, s->ws, &r) == STRATA_OK && r.conv;
    strata_log(ctx, STRATA_LOG_INFO, "%s: warm start on every %dth block (%zu of %zu rows): %d iterations, %s",
               src->name, GLM_WARM_STRIDE, glm_warm_rows(&s->d), s->n_used, r.iter,
               warm ? "used" : "not used (no convergence); starting as R does");
    if (warm) {
        size_t moved;
        memcpy(s->bwarm, s->ws->beta, s->d.p * sizeof *s->bwarm);
        /* s->ws->g is free scratch of p doubles until the full IRLS */
        moved = warm_recentre(s->m->f, s->ws->step, s->bwarm, s->ws->g);
        if (moved)
            strata_log(ctx, STRATA_LOG_INFO, "%s: warm start: %zu factor levels ran off on the subsample "
                       "(no events or no non-events there) and start at their factor's median",
                       src->name, moved);
    }
    return warm;
}

static strata_status fit_irls(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                              fit_state *s)
{
    int warm = fit_warm_start(ctx, prm, src, s);
    strata_status st;
    s->t_warm = omp_get_wtime();
    s->c_warm = cpu_seconds();
    STRATA_TRY(glm_stream_status(ctx, s->stream));
    st = glm_irls(ctx, &s->d, prm, src->name, warm ? s->bwarm : NULL, s->ws, &s->res);
    strata_progress(ctx, "fit", -(double)s->res.iter, 0); /* the end */
    s->t_irls = omp_get_wtime();
    s->c_irls = cpu_seconds();
    /* a read error of a streamed pass, not the failure it caused */
    STRATA_TRY(glm_stream_status(ctx, s->stream));
    return st;
}

/* ---- summary ------------------------------------------------------------------- */

static void name_extreme_terms(const glm_model *m, char *buf, size_t size)
{
    size_t len = 0, best = 0;
    double bmax = -1;
    buf[0] = 0;
    for (size_t j = 0; j < m->p; j++) {
        if (m->aliased[j] || m->f->cols[j].nf == 0)
            continue;
        if (fabs(m->beta[j]) > bmax)
            bmax = fabs(m->beta[j]), best = j;
        if (fabs(m->beta[j]) > 10 && len + 2 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", m->f->colnames[j]);
    }
    if (!len && bmax >= 0)
        snprintf(buf, size, "%s", m->f->colnames[best]);
}

/* The weight sums and the null deviance without an offset fit, accumulated in
 * row order over the pieces glm_rows visits. */
typedef struct stat_acc {
    strata_family fam;
    int intercept;
    int not01;              /* a used row's outcome is not 0 or 1, or its weight not an integer */
    size_t n_ok;
    double sw, slw, swy, nulldev;
} stat_acc;

static void stat_rows(void *ud, const double *y, const double *wt, const double *off, size_t m)
{
    stat_acc *a = ud;
    (void)off;
    for (size_t i = 0; i < m; i++) {
        if (wt[i] > 0) {
            a->n_ok++;
            if (wt[i] != 1.0) /* log(1) = +0 changes no sum (which is never -0) */
                a->slw += log(wt[i]);
            a->not01 |= (y[i] != 0.0 && y[i] != 1.0) || wt[i] != nearbyint(wt[i]);
        }
        a->sw += wt[i];
        a->swy += wt[i] * y[i];
    }
}

/* Without an offset mu0 is one number, so a row's term depends on (y, wt)
 * alone: the last pair's term is reused when the next row has the same bits
 * (0/1 outcomes with unit weights: two pairs). */
static void null_rows(void *ud, const double *y, const double *wt, const double *off, size_t m)
{
    stat_acc *a = ud;
    uint64_t ky = 0, kw = 0, by, bw;
    double term = 0;
    int have = 0;
    for (size_t i = 0; i < m; i++) {
        double mu0 = a->intercept ? a->swy / a->sw : glm_linkinv(a->fam, off ? off[i] : 0);
        memcpy(&by, &y[i], sizeof by);
        memcpy(&bw, &wt[i], sizeof bw);
        if (off || !have || by != ky || bw != kw) {
            term = glm_dev_resid(a->fam, y[i], mu0, wt[i]);
            ky = by, kw = bw, have = 1;
        }
        a->nulldev += term;
    }
}

/* Deviance, null deviance, AIC, dispersion and degrees of freedom as R's glm
 * reports them; tot gets the final pass's partials. */
static void fit_statistics(const strata_glm_params *prm, fit_state *s, double tot[4])
{
    fitdata *d = &s->d;
    strata_fit_summary *S = &s->m->sum;
    int rank = s->res.rank, intercept = s->m->f->intercept;
    stat_acc a = {prm->family, intercept, 0, 0, 0, 0, 0, 0};
    double sw, slw, nulldev, disp = 1, dev = s->res.dev;
    size_t n_ok;
    glm_rows(d, stat_rows, &a, sizeof a);
    sw = a.sw;
    slw = a.slw;
    n_ok = a.n_ok;
    d->disp = dev / sw;
    /* binomial with 0/1 outcomes and integer weights m: R's AIC term of a row,
     * -2 (wt/m) dbinom(m y, m, mu, log = TRUE) = -2 wt (y log mu + (1 - y)
     * log(1 - mu)), is its deviance term 2 wt (y log(y/mu) + (1 - y) log((1 -
     * y)/(1 - mu))) exactly; the final pass then only counts the fitted values
     * at the boundary, and the AIC is the deviance (summed at the same mu)
     * plus 2 rank (docs/glm.md: within 1e-12 of the per-row log terms, R's
     * AIC to the goldens' 1e-9) */
    d->aic_dev = prm->family == STRATA_FAMILY_BINOMIAL && !a.not01;
    glm_pass(d, PASS_FINAL, s->ws->beta);
    glm_reduce(d, 0, NULL, NULL, tot);
    if (intercept && s->m->f->noffsets) {
        nulldev = glm_null_deviance_offset(d, prm->epsilon, prm->max_iter);
    } else {
        glm_rows(d, null_rows, &a, sizeof a);
        nulldev = a.nulldev;
    }
    S->family = prm->family;
    S->formula = s->m->f->text;
    S->deviance = dev;
    S->null_deviance = nulldev;
    S->rank = rank;
    S->df_residual = (double)n_ok - rank;
    S->df_null = (double)n_ok - (intercept ? 1 : 0);
    if (prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN)
        disp = S->df_residual > 0 ? tot[2] / S->df_residual : NAN;
    S->dispersion = disp;
    S->aic = (d->aic_dev ? dev : tot[1]) + glm_aic_const(prm->family, dev, sw, slw, d->n) + 2.0 * rank;
    S->iterations = s->res.iter;
    S->n_used = s->n_used;
    S->n_dropped = s->n - s->n_used;
    S->converged = s->res.conv;
    S->t_statistic = prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN;
}

/* Coefficients (NaN where aliased), covariance scaled by the dispersion, SEs.
 * After a Schur solve the covariance stays in block form (O(L q) numbers;
 * glm_bvcov), else the IRLS's p x p inverse is handed over and scaled in place. */
static strata_status fit_coefficients(strata_ctx *ctx, const strata_glm_params *prm, fit_state *s)
{
    glm_model *m = s->m;
    glm_irls_ws *w = s->ws;
    size_t p = m->p;
    double disp = m->sum.dispersion;
    if (glm_schur_has_inverse(&s->d)) {
        if (!(m->bv = glm_schur_bvcov(ctx, &s->d, disp)))
            return STRATA_ENOMEM;
        glm_bvcov_se(m->bv, m->se);
    } else {
        m->vcov = w->inv;
        w->inv = NULL;
    }
    for (size_t j = 0; j < p; j++) {
        m->aliased[j] = w->al[j];
        m->beta[j] = w->al[j] ? NAN : w->beta[j];
        for (size_t k = 0; k < p && disp != 1.0 && !m->bv; k++)
            m->vcov[j * p + k] *= disp;
        if (!m->bv || w->al[j])
            m->se[j] = w->al[j] ? NAN : sqrt(m->vcov[j * p + j]);
    }
    m->family = prm->family;
    m->unseen = prm->unseen;
    m->block_rows = prm->block_rows;
    return STRATA_OK;
}

/* R's warnings: no convergence, fitted values at the boundary, aliased terms. */
static void fit_warnings(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                         const fit_state *s, const double tot[4])
{
    const glm_model *m = s->m;
    if (!s->res.conv)
        strata_warn(ctx, "%s: IRLS did not converge in %d iterations (formula \"%s\"); the partial fit is kept",
                    src->name, prm->max_iter, m->f->text);
    if (tot[3] > 0) {
        char terms[512];
        name_extreme_terms(m, terms, sizeof terms);
        strata_warn(ctx, "%s: %s in %.0f rows (possible separation; terms involved: %s)", src->name,
                    prm->family == STRATA_FAMILY_BINOMIAL ? "fitted probabilities numerically 0 or 1 occurred"
                                                          : "fitted rates numerically 0 occurred",
                    tot[3], terms);
    }
    for (size_t j = 0; j < m->p; j++)
        if (s->ws->al[j])
            strata_log(ctx, STRATA_LOG_INFO, "%s: coefficient '%s' not defined because of singularities (aliased)",
                       src->name, m->f->colnames[j]);
}

static int vc_tabled(const glm_vcache *vc)
{
    for (size_t v = 0; v < GLM_MAXVARS; v++)
        if (vc->tab[v])
            return 1;
    return 0;
}

static void fit_log_timings(strata_ctx *ctx, const glm_source *src, const fit_state *s)
{
    double t_end = omp_get_wtime();
    /* the start's pass, one per iteration, and the step-halvings' */
    int passes = s->res.iter + 1 + s->res.halvings;
    /* key=value pairs first: bench/glm_table.py reads them */
    strata_log(ctx, STRATA_LOG_INFO, "glm timings: load_s=%.3f fit_s=%.3f iterations=%d irls_pass_ms=%.1f irls_pass_cpu_ms=%.1f warm_s=%.3f halvings=%d (%s: n %zu, p %zu; setup %.3f s, warm start %.3f s, IRLS %.3f s over %d full passes, %d of them step-halvings, summary %.3f s; Gram kernel %s%s%s)",
               s->t_load - s->t_start, t_end - s->t_load, s->res.iter,
               1e3 * (s->t_irls - s->t_warm) / passes, 1e3 * (s->c_irls - s->c_warm) / passes,
               s->t_warm - s->t_setup, s->res.halvings, src->name, s->n_used, s->d.p,
               s->t_setup - s->t_load, s->t_warm - s->t_setup, s->t_irls - s->t_warm, passes,
               s->res.halvings, t_end - s->t_irls, s->d.k.name,
               s->d.ncomb ? "; factors as combined codes" : "",
               s->d.vc && vc_tabled(s->d.vc) ? "; transforms of small integers by table" : "");
}

/* created, strata_version, blas_config, n_rows (input_path and input_hash are
 * the caller's: it knows the file). */
static strata_status fit_provenance(strata_ctx *ctx, fit_state *s)
{
    char buf[512];
    /* SOURCE_DATE_EPOCH (reproducible-builds.org) fixes the time: the same fit
     * then gives the same model file bytes */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "created", buf));
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "strata_version", strata_version()));
    strata_blas_config(buf, sizeof buf);
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "blas_config", buf));
    snprintf(buf, sizeof buf, "%zu", s->n);
    return glm_model_set_provenance(ctx, s->m, "n_rows", buf);
}

/* ---- the driver ----------------------------------------------------------------- */

strata_status glm_fit(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                      glm_model **out)
{
    fit_state s;
    double tot[4];
    strata_status st;
    *out = NULL;
    memset(&s, 0, sizeof s);
    STRATA_TRY(strata_glm_params_check(ctx, prm));
    st = fit_parse(ctx, prm, &s);
    if (st == STRATA_OK)
        st = fit_bind(ctx, src, &s);
    if (st == STRATA_OK)
        st = fit_load(ctx, src, prm, &s);
    if (st == STRATA_OK)
        st = fit_freeze(ctx, src, &s);
    if (st == STRATA_OK) {
        fit_compact(&s);
        st = fit_setup(ctx, prm, &s);
    }
    if (st == STRATA_OK)
        st = fit_irls(ctx, prm, src, &s);
    if (st == STRATA_OK) {
        fit_statistics(prm, &s, tot);
        st = glm_stream_status(ctx, s.stream);
    }
    if (st == STRATA_OK)
        st = fit_coefficients(ctx, prm, &s);
    if (st == STRATA_OK) {
        fit_warnings(ctx, prm, src, &s, tot);
        fit_log_timings(ctx, src, &s);
        st = fit_provenance(ctx, &s);
    }
    if (st == STRATA_OK) {
        *out = s.m;
        s.m = NULL;
        if (!s.res.conv)
            st = STRATA_FAIL(ctx, STRATA_ENOCONV, "%s: IRLS did not converge in %d iterations", src->name, prm->max_iter);
    }
    fit_state_free(ctx, &s);
    return st;
}
