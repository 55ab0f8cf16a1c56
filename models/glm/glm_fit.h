/* models/glm/glm_fit.h — what the fit's three files share: the blocked pass over
 * the complete-case columns (glm_pass.c), R's IRLS iteration over it with a
 * workspace allocated once per fit (glm_irls.c), and the driver that prepares
 * both (glm_fit.c). Invariant: partials are per fixed row block and reduced in
 * block order, so every result is byte-identical whatever the thread count. */
#ifndef STRATA_GLM_FIT_H
#define STRATA_GLM_FIT_H

#include "glm_internal.h"

enum { PASS_INIT = 0, PASS_ITER = 1, PASS_FINAL = 2 };

/* Rows per sub-block: the column-major design of a sub-block (SUB x p) and its
 * weighted row-major copy (SUB x ld) stay in L2 while they are built, weighted
 * and folded into the block's Gram. The fixed block (d->nb rows) is the unit of
 * the ordered reduction. */
#define GLM_SUB 256

/* Warm start: used when the data have at least GLM_WARM_MIN_BLOCKS blocks
 * (524,288 rows at the default block size); its fit visits every
 * GLM_WARM_STRIDE-th block. */
#define GLM_WARM_MIN_BLOCKS 64
#define GLM_WARM_STRIDE 8

typedef struct glm_stream glm_stream; /* glm_stream.c: rows streamed from the source */

typedef struct fitdata {
    const glm_formula *f;
    const glm_varbind *vb;   /* the formula's binding to the fitted source */
    strata_family fam;
    size_t n, p, nb, nblocks, width;
    size_t bstride;          /* passes visit blocks 0, bstride, 2 bstride, ... (1: all) */
    size_t ld;               /* row length of the kernel's sub-block: p + 1 rounded up to 8 */
    la_kernels k;            /* pass kernels chosen for this CPU */
    double **raw;            /* nvars compact columns */
    const double *y, *wt, *off;
    double *eta;             /* n: linear predictor (incl. offset) of the last pass */
    int nt;
    double *tbuf;            /* per-thread workspace */
    size_t tsize;
    const double **rawb;     /* per thread nvars pointers */
    const double **colsb;    /* per thread p design-column pointers */
    int *rawcol;             /* p: glm_design_col_raw of each design column */
    double *Gp, *part;       /* per block: ld x ld extended Gram (lower), 4 scalars */
    double disp;             /* for the final pass (gamma aic) */
    glm_stream *stream;      /* NULL: raw, y, wt, off and eta hold every row; else
                              * they are NULL and passes stream row blocks (glm_pass) */
} fitdata;

/* glm_pass.c. Allocates the pass buffers of d (d->f, n, p, nb, nblocks, width,
 * nt must be set); glm_pass_free releases them (either may see a partial set). */
strata_status glm_pass_alloc(strata_ctx *ctx, fitdata *d);
void glm_pass_free(strata_ctx *ctx, fitdata *d);
/* One pass over the blocks d visits: PASS_INIT from R's mustart, PASS_ITER at
 * beta, PASS_FINAL (deviance, AIC and Pearson parts, extreme fitted values) at
 * the eta of the last pass. Block partials land in d->Gp and d->part. */
void glm_run_pass(fitdata *d, int mode, const double *beta);
/* Reduces the block partials in block order: G (p x p, upper) and g when
 * with_gram, and tot = {deviance, aic part, Pearson chi^2, extreme count}. */
void glm_reduce(const fitdata *d, int with_gram, double *G, double *g, double tot[4]);
/* Rows a pass with bstride = GLM_WARM_STRIDE visits. */
size_t glm_warm_rows(const fitdata *d);

/* glm_stream.c. A pass over the blocks d visits, in memory (glm_run_pass) or
 * streamed from the source chunk by chunk: each chunk of whole blocks is read
 * once, its complete cases compacted exactly as the in-memory load does, and
 * glm_run_pass runs on it as a window of d, so every block partial has the
 * same bytes either way. A read error is kept on the stream (glm_stream_status)
 * and the partials of the blocks not computed are NaN. */
void glm_pass(fitdata *d, int mode, const double *beta);
/* Visits the complete-case rows in order, in one piece (in memory) or chunk by
 * chunk: fn sees m rows of y, wt and off (off NULL without offsets). */
typedef void (*glm_rows_fn)(void *ud, const double *y, const double *wt, const double *off, size_t m);
/* Distributed, ud's size bytes (plain data) are carried from rank to rank in
 * rank order, so the sums are the serial ones, and end the same on every rank. */
void glm_rows(const fitdata *d, glm_rows_fn fn, void *ud, size_t size);

/* glm_irls.c. The IRLS workspace, allocated once per fit (GSL style): nothing
 * inside an iteration allocates. */
typedef struct glm_irls_ws {
    size_t p;
    double *G, *g, *Gold;     /* Gram (p x p) and score of the last pass; Gram copy for the solve */
    double *beta, *bold;      /* coefficients of the last solve and of the previous step */
    double *inv, *inv2;       /* (X^T W X)^-1 of the last solve; of the final Gram */
    unsigned char *al, *al2;  /* aliased flags likewise */
    la_solve_ws *solve;
} glm_irls_ws;

strata_status glm_irls_ws_alloc(strata_ctx *ctx, size_t p, glm_irls_ws **out);
void glm_irls_ws_free(strata_ctx *ctx, glm_irls_ws *ws); /* accepts NULL */

typedef struct glm_irls_result {
    int iter, conv, rank;
    double dev;
} glm_irls_result;

/* R's glm.fit iteration (convergence rule, step-halving) over the blocks d
 * visits. start: NULL for R's start (mustart), or coefficients to start from.
 * On STRATA_OK: ws->beta, ws->al, ws->inv from the last solve, and *res. */
strata_status glm_irls(strata_ctx *ctx, fitdata *d, const strata_glm_params *prm, const char *name,
                       const double *start, glm_irls_ws *ws, glm_irls_result *res);
/* R's glm(): null deviance with an offset and an intercept comes from an
 * intercept-only fit with the offset (scalar IRLS, R's start and rule). */
double glm_null_deviance_offset(const fitdata *d, double eps, int maxit);

#endif
