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
/* Levels that ran off on the warm start's subsample (glm_fit.c,
 * warm_recentre): still stepping by more than GLM_WARM_RUNOFF_STEP at the
 * subsample's last iteration (a level without events steps by ~-1 per
 * iteration, R's rule stopping it anywhere), or farther than
 * GLM_WARM_MAX_LEVEL (link scale) from their factor's median. */
#define GLM_WARM_RUNOFF_STEP 0.5
/* glm_irls: a pass whose predicted relative deviance change (the Newton
 * decrement delta' G delta over |deviance| + 0.1) is below epsilon over this
 * is expected to converge and runs without its Gram, which a converged cold
 * start never uses; if it does not converge the pass runs again with it */
#define GLM_NOGRAM_MARGIN 100.0
#define GLM_WARM_MAX_LEVEL 10.0
/* A warm-start coefficient of an indicator column beyond this (link scale)
 * ran off on the subsample (separation there): the full fit starts it at 0. */
#define GLM_WARM_MAX_LEVEL 10.0

/* Categorical-aware pass (glm_fpass.c): the partials of a pass are kept per
 * group of consecutive visited blocks, at most GLM_FGROUPS groups fixed by the
 * block count alone (never by the thread count). A factor main effect takes
 * this path when its columns number at least GLM_FACTOR_MIN_COLS (auto). */
#define GLM_FGROUPS 8
#define GLM_FACTOR_MIN_COLS 2
/* A factor with at most this many levels sums a sub-block's rows per level in
 * a scratch first (glm_fpass.c); a bigger one adds each row straight in. */
#define GLM_FSMALL 64
/* Combined codes (glm_fpass.c): when every factor main effect is small and
 * the product of their level counts is at most GLM_FCOMB_MAX, a row's levels
 * are one code into that product, and a block's rows are summed per
 * combination (one scatter per row instead of one per factor, one lookup for
 * the linear predictor), then folded into the factors' blocks. */
#define GLM_FCOMB_MAX 1024

/* Below this n * p a pass runs on one thread: fork/join and the partials'
 * first touch cost more than the second core saves (measured, docs/glm.md). */
#define GLM_PAR_MIN_NP ((size_t)8000000)

/* The Schur-complement solve (glm_schur.c) is prepared when the largest factor
 * main effect has at least this many levels. */
#define GLM_SCHUR_MIN_LEVELS 64
typedef struct glm_schur glm_schur;

typedef struct glm_fac {     /* one factor with main-effect columns */
    int var;                 /* its variable */
    size_t L;                /* levels (the reference included) */
    int *col;                /* L: design column of each level, or -1 (reference) */
    size_t oD, oB, tab;      /* offsets in a compact partial: diagonal (L), dense cross (L x ldd); in ftab */
} glm_fac;

typedef struct glm_stream glm_stream; /* glm_stream.c: rows streamed from the source */

typedef struct fitdata {
    const glm_formula *f;
    const glm_varbind *vb;   /* the formula's binding to the fitted source */
    strata_family fam;
    size_t n, p, nb, nblocks, width;
    size_t bstride;          /* passes visit blocks 0, bstride, 2 bstride, ... (1: all) */
    size_t ld;               /* row length of the kernel's sub-block: p + 1 rounded up to 8 */
    la_kernels k;            /* pass kernels chosen for this CPU */
    int rowk;                /* 1: the binomial row step in AVX-512 lanes (glm_rowstep.c) */
    double **raw;            /* nvars compact columns */
    const double *y, *wt, *off;
    double *eta;             /* n: linear predictor (incl. offset) of the last pass */
    const glm_vcache *vc;    /* in memory: variable values computed once per fit, or NULL */
    const int *levc;         /* in memory, categorical-aware: nfac x n level indices, or NULL */
    int nt;
    double *tbuf;            /* per-thread workspace */
    size_t tsize;
    const double **rawb;     /* per thread nvars pointers */
    const double **colsb;    /* per thread p design-column pointers */
    int *rawcol;             /* p: glm_design_col_raw of each design column */
    double *Gp, *part;       /* per block: ld x ld extended Gram (lower), 4 scalars */
    double disp;             /* for the final pass (gamma aic) */
    int aic_dev;             /* final pass: binomial AIC = deviance + 2 rank (0/1 y, integer weights) */
    int nogram;              /* PASS_ITER in memory: deviance (and eta) only, no Gram (glm_irls) */
    /* categorical-aware pass (fmode 1; glm_fpass.c) */
    int fmode;
    size_t nfac;
    glm_fac *fac;            /* nfac factors with main-effect columns */
    int *jfac;               /* p: index in fac of column j's factor, or -1 (dense) */
    size_t *jpos;            /* p: position among the dense columns, or level index */
    size_t qd, ldd;          /* dense columns; row length of their packed sub-block */
    size_t *dj;              /* qd: design column of each dense column */
    size_t *oC;              /* nfac x nfac: offset of the table of factors f < g */
    size_t csize;            /* doubles of one compact partial */
    double *Pp, *Ptot;       /* GLM_FGROUPS compact partials; their block-order sum */
    double *ftab;            /* per factor and level: its coefficient (0 for the reference) */
    int *levb;               /* per thread nfac x GLM_SUB level indices */
    const double **dcolsb;   /* per thread qd dense column pointers */
    size_t ntab;             /* levels over all factors */
    size_t fscr_size;        /* scratch doubles per thread: the largest small factor's L x (ldd + 1) */
    double *fscr;            /* per thread: a sub-block's level sums of a small factor, zero between calls */
    glm_schur *schur;        /* the big factor's Schur solve, or NULL */
    /* combined codes (GLM_FCOMB_MAX): combination c = sum over factors of
     * level * cstr[a] (the last factor's stride 1) */
    size_t ncomb;            /* 0: off; else the number of level combinations */
    size_t *cstr;            /* nfac: stride of each factor's level in a code */
    int *clev;               /* ncomb x nfac: the levels of combination c at c * nfac */
    double *ctab;            /* ncomb: the combination's coefficients summed (PASS_ITER) */
    const int *codec;        /* in memory: every row's code, or NULL */
    int *codeb;              /* per thread GLM_SUB codes */
    size_t cscr_size;        /* ncomb x (ldd + 1) */
    double *cscr;            /* per thread: a block's sums per combination, zero between blocks */
    /* the window a pass computes (glm_stream.c runs a pass per chunk): its
     * first visited block is visit vis0 of a pass visiting vis_tot blocks;
     * the categorical-aware groups are fixed by vis_tot (0: the window is the
     * whole pass) */
    size_t vis0, vis_tot;
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
void glm_reduce(fitdata *d, int with_gram, double *G, double *g, double tot[4]);
/* Slots of a pass over d's visits (one per visited block; GLM_FGROUPS
 * groups on the categorical-aware path), and the group of visit v when nv
 * visits go to ns groups (group k holds visits [k nv / ns, (k + 1) nv / ns)). */
size_t glm_pass_slots(const fitdata *d, int mode);
size_t glm_group_of(size_t v, size_t nv, size_t ns);
/* Rows a pass with bstride = GLM_WARM_STRIDE visits. */
size_t glm_warm_rows(const fitdata *d);

/* glm_rowstep.c. 1 when this CPU runs the AVX-512 row step. */
int glm_rowstep_avx512(void);
/* The binomial (logit) IRLS rows of a sub-block (m rows; off may be NULL):
 * s[i] the sqrt working weight, v[i] = s[i] z[i], dv[i] the deviance term, as
 * glm_pass.c's irls_row with exp and log evaluated in the lanes. Only when
 * glm_rowstep_avx512(). */
void glm_logit_rows(size_t m, const double *y, const double *wt, const double *eta, const double *off,
                    double *s, double *v, double *dv);

/* glm_fpass.c. Sets d->fmode for pass (strata_glm_pass) and the formula, and
 * allocates the categorical-aware buffers when it is on; glm_fpass_free
 * releases them (accepts a partial set). */
strata_status glm_fpass_alloc(strata_ctx *ctx, fitdata *d, int pass);
void glm_fpass_free(strata_ctx *ctx, fitdata *d);
/* Level index of every factor for rows [q0, q0 + m) into lev (factor a's at
 * lev + a * ls). */
void glm_fpass_levels(const fitdata *d, size_t q0, size_t m, int *lev, size_t ls);
/* Every row's level indices (nfac x n, factor a's at buf + a * n), rows
 * split over d->nt threads. */
void glm_fpass_levcache(const fitdata *d, int *buf);
/* eta[i] += the coefficient of row i's level, factor by factor (factor a's
 * level indices at lev + a * ls). */
void glm_fpass_lp(const fitdata *d, size_t m, const int *lev, size_t ls, double *eta);
/* Combined codes (d->ncomb > 0): rows [q0, q0 + m) into code (lev: thread
 * scratch of nfac x GLM_SUB level indices); every row's code into buf (n),
 * rows split over d->nt threads; eta[i] += ctab[code[i]]. */
void glm_fpass_codes(const fitdata *d, size_t q0, size_t m, int *lev, int *code);
void glm_fpass_codecache(const fitdata *d, int *buf);
void glm_fpass_lpc(const fitdata *d, size_t m, const int *code, double *eta);
/* Combined codes: the dense Gram of sub-block A into P, and its rows summed
 * per combination into thread t's scratch; glm_fpass_fold adds the scratch
 * (a whole block's sums) to the factors' blocks of P in combination order
 * and zeroes it. */
void glm_fpass_accumc(const fitdata *d, int t, size_t m, const int *code, const double *s,
                      const double *A, double *P);
void glm_fpass_fold(const fitdata *d, int t, double *P);
/* Folds a packed sub-block A (m x ldd: s x_dense, s z) and its factor levels
 * into the compact partial P: dense Gram (the kernel's sub-block sums), level
 * weights and factor x dense sums (la_scatter_fn; a small factor's through
 * thread t's scratch, per sub-block), factor x factor tables; every sum in
 * row order. */
void glm_fpass_accum(const fitdata *d, int t, size_t m, const int *lev, size_t ls, const double *s,
                     const double *A, double *P);
/* ftab from beta (before a PASS_ITER). */
void glm_fpass_table(fitdata *d, const double *beta);
/* Sums the ng group partials in group order into d->Ptot and scatters it into
 * G (p x p, upper) and g; with the Schur solve (d->schur) G receives the
 * compact total itself (d->csize doubles: no p x p work per pass). */
void glm_fpass_reduce(fitdata *d, size_t ng, double *G, double *g);
/* Entry (r, c) of X^T W X (either order) from a compact total T. */
double glm_fpass_entry(const fitdata *d, const double *T, size_t r, size_t c);
/* Doubles of the Gram the IRLS keeps: p x p, or the compact total with the
 * Schur solve. */
size_t glm_gram_size(const fitdata *d);

/* glm_schur.c. Prepares d->schur when the largest factor main effect has
 * GLM_SCHUR_MIN_LEVELS levels or more (d->fmode set, d->fac laid out). */
strata_status glm_schur_alloc(strata_ctx *ctx, fitdata *d);
void glm_schur_free(strata_ctx *ctx, glm_schur *s); /* accepts NULL */
/* la_solve_pivoted's contract (G upper p x p, not modified; rank returned),
 * through the Schur complement of the big factor's diagonal block when d has
 * one and it applies (every level weighted, the rest of full rank). With
 * d->schur, G is the compact total (glm_fpass_reduce); when S is not of full
 * rank it is scattered into a p x p scratch for the pivoted solve. A Schur
 * solve asked for the inverse (inv not NULL) leaves inv untouched and keeps
 * the inverse's factors instead (glm_schur_has_inverse, glm_schur_bvcov). */
int glm_solve(fitdata *d, la_solve_ws *ws, size_t p, const double *G, const double *g, double *beta,
              unsigned char *al, double *inv);
/* 1 when the last glm_solve was a Schur solve asked for its inverse. */
int glm_schur_has_inverse(const fitdata *d);
/* That inverse in block form times phi (the dispersion): NULL on ENOMEM. */
glm_bvcov *glm_schur_bvcov(strata_ctx *ctx, const fitdata *d, double phi);

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
    size_t gsize;             /* doubles of G and Gold (glm_gram_size) */
    double *G, *g, *Gold;     /* Gram (p x p or compact) and score of the last pass; Gram of the last solve */
    double *beta, *bold;      /* coefficients of the last solve and of the previous step */
    double *step;             /* after glm_irls: the last iteration's step, beta - previous beta */
    double *inv, *inv2;       /* (X^T W X)^-1 of the last solve; of the final Gram */
    unsigned char *al, *al2;  /* aliased flags likewise */
    la_solve_ws *solve;
} glm_irls_ws;

strata_status glm_irls_ws_alloc(strata_ctx *ctx, size_t p, size_t gsize, glm_irls_ws **out);
void glm_irls_ws_free(strata_ctx *ctx, glm_irls_ws *ws); /* accepts NULL */

typedef struct glm_irls_result {
    int iter, conv, rank;
    double dev;
    int halvings;             /* step-halving passes (each a full pass) */
} glm_irls_result;

/* R's glm.fit iteration (convergence rule, step-halving) over the blocks d
 * visits. start: NULL for R's start (mustart), or coefficients to start from.
 * On STRATA_OK: ws->beta, ws->al, ws->inv from the last solve (or, when
 * glm_schur_has_inverse(d), the Schur solve's factors instead of ws->inv), and *res. */
strata_status glm_irls(strata_ctx *ctx, fitdata *d, const strata_glm_params *prm, const char *name,
                       const double *start, glm_irls_ws *ws, glm_irls_result *res);
/* R's glm(): null deviance with an offset and an intercept comes from an
 * intercept-only fit with the offset (scalar IRLS, R's start and rule). */
double glm_null_deviance_offset(const fitdata *d, double eps, int maxit);

#endif
