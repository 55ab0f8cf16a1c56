/* models/cox/cox_internal.h — what the Cox proportional-hazards pieces share:
 * the input on arrays, the data sorted once by (stratum, time descending) with
 * its tied-time groups and fixed row blocks, the per-iteration workspace, the
 * parameters and the fitted result. Invariant: every number depends only on the
 * input values and the fixed block size, never on the thread count. */
#ifndef STRATA_COX_INTERNAL_H
#define STRATA_COX_INTERNAL_H

#include "comm.h"
#include "cox.h"
#include "glm_internal.h"
#include "internal.h"
#include "linalg.h"

#include <stddef.h>
#include <stdint.h>

typedef enum cox_ties { COX_TIES_EFRON = 0, COX_TIES_BRESLOW = 1 } cox_ties;

/* Fit controls, R's coxph.control defaults. */
typedef struct cox_params {
    cox_ties ties;      /* Efron (default, as R) or Breslow */
    double eps;         /* converged when |1 - loglik_old / loglik| <= eps; 1e-9 */
    int max_iter;       /* Newton-Raphson iterations; 20 */
    double toler_chol;  /* pivot tolerance of the LDL' factor relative to the largest
                           diagonal; .Machine$double.eps^0.75 */
    double toler_inf;   /* infinite-coefficient check; sqrt(eps) */
    size_t block_rows;  /* rows per fixed block (thread-independent); 8192 */
    int robust;         /* 1: also the robust (sandwich) variance, as coxph(robust = TRUE);
                           implied by a cluster column */
    size_t x_ld;        /* leading dimension of the sorted X; 0 = n (tests of 64-bit offsets
                           set it past 2^32 / p with a sparse mapping) */
    size_t window_rows; /* tests: > 0 streams the sorted design through a scratch file in
                           windows of this many rows (rounded down to whole blocks) whatever
                           the memory budget (cox_stream.c); 0 = only when over the budget */
    size_t sort_mem;    /* tests: > 0 caps the streamed fit's external sorts (the times, the
                           linear predictor's ranks for Harrell's C) at this many bytes, so
                           they run through scratch files; 0 = what the budget leaves */
    /* A penalised fit (models/elnet/elnet_cox_source.c): beta_fn chooses the coefficients
     * from the complete-case design in place of Newton-Raphson (cox_fit_arrays), and the
     * model is completed at them (cox_fixed.c): log-likelihoods, baseline, concordance;
     * standard errors NaN. */
    cox_beta_fn beta_fn;
    void *beta_ud;
    const double *beta_at; /* set by cox_fit_arrays from beta_fn: the coefficients to use */
} cox_params;

void cox_params_init(cox_params *p);
strata_status cox_params_check(strata_ctx *ctx, const cox_params *p);

/* Input on arrays, rows in the caller's order. */
typedef struct cox_input {
    size_t n, p;
    const double *X;          /* column-major n x p, leading dimension n */
    const double *time;       /* >= 0 */
    const double *status;     /* 0 = censored, 1 = event */
    const double *weight;     /* case weights > 0, or NULL for 1 */
    const double *offset;     /* or NULL for 0 */
    const int32_t *stratum;   /* codes >= 0, or NULL for one stratum */
    const char *const *names; /* p column names for messages, or NULL */
    const double *cluster;    /* cluster of each row (any finite values; equal = one
                                 cluster) for the robust variance, or NULL: each row its own */
} cox_input;

/* The data sorted by (stratum ascending, time descending), stable; the risk set
 * of a time is then a prefix of its stratum, so risk-set sums are running sums
 * from the stratum's first row. A group is a maximal run of equal (stratum, time). */
typedef struct cox_xstream cox_xstream;

typedef struct cox_data {
    size_t n, p;
    double *X;               /* column-major (x1 - x0) x p: sorted rows [x0, x1) (leading
                                dimension ldx), owned; freed once the fit no longer needs it */
    size_t ldx;              /* >= x1 - x0; n but in the 64-bit indexing test (cox_params.x_ld) */
    /* Across MPI ranks (cox_dist.c; docs/scale.md#mpi) this rank computes blocks [blo, bhi)
     * and holds X only for their rows [x0, x1); every row vector above and below is whole
     * (n), off and the eta/r of ws filled for [x0, x1) only. One process: comm NULL, the
     * whole range. rb[r]: the first block of rank r (size + 1 entries). */
    const strata_comm *comm;
    size_t blo, bhi, x0, x1;
    size_t *rb;
    /* Under a memory budget (cox_stream.c; docs/scale.md): X is not held but read back
     * from a scratch file in windows of whole blocks (cox_window); NULL: X in memory. */
    cox_xstream *xs;
    double *w, *off;         /* n each, sorted; NULL without weights (1) / offset (0) */
    unsigned char *status;   /* n, sorted: 1 event, 0 censored */
    int32_t *stratum;        /* n, sorted; NULL without strata (all 0) */
    size_t *order;           /* n: input row of sorted row i; NULL after the build unless
                                a cluster column needs it */
    int order_inv;           /* order holds the inverse (input row -> sorted row): from
                                cox_data_build_rows_x until the streamed design is written */
    size_t ng;               /* groups (the arrays below are cut to ng after the layout) */
    size_t *gend;            /* ng: one past the group's last row */
    double *gtime;           /* ng: the group's time (the row times are not kept) */
    double *gm;              /* ng: events in the group */
    double *gdw;             /* ng: sum of event weights in the group */
    unsigned char *gnew;     /* ng: 1 when the group opens a stratum */
    size_t nb, nblocks;      /* rows per block, blocks */
    size_t *bgroup;          /* nblocks + 1: the group holding block b's first row, which is
                                also the first group whose last row is in block b or later */
    size_t *blast;           /* nblocks: last stratum-opening row in the block, or SIZE_MAX */
    double *xd;              /* p: sum over events of w x (constant over iterations) */
    double wd_off;           /* sum over events of w offset */
    size_t n_events;
    double w_events;         /* sum of event weights */
    size_t nstrata;
    /* Streamed (cox_stream.c): Harrell's C ranks the linear predictor through the
     * external sort in conc_mem bytes (0: no limit) when conc_x is set. */
    int conc_x;
    size_t conc_mem;
} cox_data;

/* Case weight and stratum of sorted row i (1 and 0 when the input had none). */
static inline double cox_w(const cox_data *d, size_t i)
{
    return d->w ? d->w[i] : 1.0;
}
static inline int32_t cox_stratum(const cox_data *d, size_t i)
{
    return d->stratum ? d->stratum[i] : 0;
}

/* Sorted row i (x0 <= i < x1) of column j of X: every access to X goes through
 * here, with 64-bit offsets (j * ldx passes 2^31 at 10M x 215 or 36M x 60). */
static inline double *cox_xat(const cox_data *d, size_t j, size_t i)
{
    return d->X + j * d->ldx + (i - d->x0);
}

/* Reads column j of X (n values, input row order) into col: X streamed one column
 * at a time into the sorted copy, so a fit holds X once (cox_data_build_cols). */
typedef strata_status (*cox_col_fn)(strata_ctx *ctx, void *ud, size_t j, double *col);

/* Sorts and lays out the input: time, status, weights, offset and strata from in,
 * X column by column through col (in->X is not read). Validates values:
 * STRATA_EDATA naming the row (1-based, input order), column and value. x_ld: the
 * leading dimension of the sorted X (0 = n). Memory while fitting: X once and ~17 bytes a
 * row (status, eta, r), + 8 each for weights, strata, a cluster column's row order. */
strata_status cox_data_build_cols(strata_ctx *ctx, const cox_input *in, cox_col_fn col, void *ud,
                                  size_t block_rows, size_t x_ld, cox_data **out);
/* The part of cox_data_build_cols before X: validates (in->X, in->offset and
 * in->cluster are not read), sorts, lays out groups and blocks; X unallocated. */
strata_status cox_data_build_rows(strata_ctx *ctx, const cox_input *in, size_t block_rows,
                                  cox_data **out);
/* cox_data_build_rows with the sort through the external sort (engine/core/xsort.c)
 * in mem bytes (0: no limit; docs/scale.md "The Cox fit under a budget"): the same
 * order, groups and blocks, without whole-n sort keys or sorted times; d->order is
 * its inverse (input row -> sorted row, d->order_inv set), as the write wants it. The input's
 * arrays *drop[k] (its vectors in input order) are freed once the sorted copies are
 * made, before the groups, and set to NULL. */
strata_status cox_data_build_rows_x(strata_ctx *ctx, const cox_input *in, size_t block_rows, size_t mem,
                                    void **drop[], size_t ndrop, cox_data **out);
/* Names column j of in (its name, or x<j+1> in buf). */
const char *cox_colname(const cox_input *in, size_t j, char *buf, size_t size);
void cox_data_free(strata_ctx *ctx, cox_data *d);

/* Caller-owned workspace of one evaluation: nothing is allocated inside it. */
typedef struct cox_ws {
    size_t p, ld, nt;
    la_kernels k;
    double *eta, *r;         /* n: linear predictor, w exp(eta - c) */
    double *bmax;            /* nblocks: largest eta of the block */
    double *tb;              /* nblocks: scale exp(-tb) of the block's tail sums (pass 1) */
    double *cmax;            /* nblocks x chunks of 256 rows: each chunk's largest eta, the
                                scale of its r until pass 3 moves r to exp(-c) */
    double *carry;           /* nblocks x (p + 1): running sums entering block b */
    double *tail;            /* nblocks x (p + 1) */
    double *h, *ce, *H;      /* ng: hazard increment, Efron correction, suffix sum of h */
    double *spill;           /* nblocks x (p + 2): [ll, E0, E1] of the block's rows of a group
                                that goes on past the block's end (its events only) */
    size_t *cnt, *dsp;       /* 2 x comm size: byte counts and offsets of a gather */
    double *bll;             /* nblocks */
    double *bu;              /* nblocks x p */
    double *G2, *GU;         /* nblocks x ld x ld: weighted Gram of X, Gram of the mean rows */
    double *tbuf;            /* per thread */
    size_t tsize;
    double c;                /* shift of eta in the last evaluation */
    /* When gstore is set (cox_robust.c), each evaluation also keeps, for every group g
     * with events, [S0, E0, S1 (p), E1 (p)] at gstore + gidx[g] * gstride (E0, E1 zero
     * unless Efron ties with m > 1). */
    double *gstore;
    size_t *gidx, gstride;
} cox_ws;

strata_status cox_ws_alloc(strata_ctx *ctx, const cox_data *d, int threads, cox_ws **out);
void cox_ws_free(strata_ctx *ctx, cox_ws *ws);

/* One evaluation at beta (cox_risksets.c): log partial likelihood *ll, score u (p)
 * and information I (p x p, full symmetric, row-major). Efron or Breslow. Also
 * leaves ws->h, ws->H (hazard increments on the exp(eta - c) scale) and ws->eta.
 * Across ranks every rank gets the same bytes (block partials gathered, summed in
 * block order); fails only when a gather does. */
strata_status cox_eval(const cox_data *d, cox_ws *ws, cox_ties ties, const double *beta, double *ll,
              double *u, double *I);

/* ---- the sorted design streamed from a scratch file (cox_stream.c) ------- */
/* Windows of d->xs (consecutive whole blocks of the sorted rows). */
size_t cox_nwindows(const cox_data *d);
/* view: a copy of d that holds window w's rows of X (x0, x1, ldx, blo, bhi of the
 * window), read from the scratch file unless a buffer holds it; next: the window
 * the caller asks for after this one (SIZE_MAX: none), read ahead on a thread. The
 * view is valid until the next call. STRATA_EIO when a read fails. */
strata_status cox_window(const cox_data *d, size_t w, size_t next, cox_data *view);
/* Closes the scratch file and frees the window buffers (accepts d->xs NULL). */
void cox_xstream_free(cox_data *d);

/* ---- Newton-Raphson (cox_newton.c) ------------------------------------- */
/* R's cholesky2: LDL' of the symmetric p x p A in place (lower triangle), pivots
 * below toler * max diagonal set to 0 (aliased). Returns the rank. */
int cox_ldl(double *A, size_t p, double toler);
/* Solves with the factor; aliased components get 0 (R's chsolve2). */
void cox_ldl_solve(const double *L, size_t p, double *b);
/* Inverse of the original matrix from its factor into inv (p x p); aliased
 * rows and columns 0 (R's chinv2). work: p doubles. */
void cox_ldl_inverse(const double *L, size_t p, double *inv, double *work);

/* ---- formula (cox_formula.c) --------------------------------------------- */
typedef struct cox_formula {
    char *time, *event;  /* Surv(time, event) columns */
    char *strata;        /* strata(x) column, or NULL */
    char *cluster;       /* cluster(x) column, or NULL */
    char *glm;           /* "time ~ terms" for the GLM design machinery (strata() removed) */
} cox_formula;

/* STRATA_ESPEC naming the formula when it is not Surv(time, event) ~ terms. */
strata_status cox_formula_parse(strata_ctx *ctx, const char *text, cox_formula **out);
void cox_formula_free(strata_ctx *ctx, cox_formula *cf);

/* ---- fitted model -------------------------------------------------------- */
typedef struct cox_result {
    size_t p, n, n_events;
    double w_events;
    double *beta, *se, *vcov, *u; /* p, p, p x p, p (score at the final beta) */
    unsigned char *aliased;
    double loglik_null, loglik;
    double score_test, wald_test, lr_test;
    int iter, converged, rank;
    /* Baseline cumulative hazard at x = 0, offset 0 (cox_baseline.c): per stratum,
     * ascending times, every distinct time of the stratum. */
    size_t nstrata;
    int32_t *bh_code;        /* nstrata: input stratum code */
    size_t *bh_start;        /* nstrata + 1 */
    double *bh_time, *bh_haz;
    /* Robust (sandwich) variance (cox_robust.c), NULL unless requested: V B V with B the
     * cross-product of the weighted score residuals summed by cluster (Lin & Wei 1989). */
    double *rse, *rvcov;     /* p, p x p (NaN for aliased columns) */
    size_t nclusters;
    /* Harrell's C (cox_concord.c) */
    double concordance;
    double conc_count[3];    /* concordant, discordant, tied in lp (weighted pairs) */
    /* Where the time went (wall seconds; not results): sort and layout with X read,
     * Newton-Raphson, the rest (robust, baseline, concordance); and evaluations. */
    double seconds[3];
    int evals;
} cox_result;

/* An empty result with its p-sized arrays (beta, se, vcov, u, aliased) zeroed. */
cox_result *cox_result_alloc(strata_ctx *ctx, size_t p);
void cox_result_free(strata_ctx *ctx, cox_result *r);

/* One row of the coefficient table, as summary.coxph: z = estimate / se and its
 * two-sided normal p-value, the hazard ratio exp(estimate) and its CI
 * exp(estimate -+ z_(1+conf)/2 se). se is the robust one when robust (and
 * res->rse exists). Aliased: aliased = 1 and NaN everywhere. */
typedef struct cox_coef {
    double estimate, std_error, z, p_value, hr, hr_low, hr_high;
    int aliased, robust;
} cox_coef;
void cox_coef_row(const cox_result *res, size_t j, int robust, double conf, cox_coef *out);

/* Fits on arrays (cox_fit.c). On STRATA_ENOCONV *out holds the partial fit. */
strata_status cox_fit_arrays(strata_ctx *ctx, const cox_input *in, const cox_params *prm,
                             cox_result **out);
/* The same with X read column by column through col (cox_data_build_cols). */
strata_status cox_fit_cols(strata_ctx *ctx, const cox_input *in, cox_col_fn col, void *ud,
                           const cox_params *prm, cox_result **out);
/* The fit part of res at prm->beta_at instead of Newton-Raphson (cox_fixed.c): the
 * log-likelihoods at 0 and beta_at, LR test, no variance (NaN); the last evaluation is
 * at beta_at, so the baseline follows it. */
strata_status cox_fixed(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const cox_params *prm, cox_result *res);
/* Newton-Raphson from beta = 0 (cox_newton.c); fills the fit part of res. */
strata_status cox_newton(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const cox_params *prm,
                         const char *const *names, cox_result *res);
/* Baseline hazard from the last evaluation at res->beta (cox_baseline.c). */
strata_status cox_baseline(strata_ctx *ctx, const cox_data *d, const cox_ws *ws,
                           cox_result *res);
/* Robust variance at res->beta (cox_robust.c): one more evaluation keeping the
 * group sums, then the weighted score residuals of every row, summed by cluster
 * (cluster: in->cluster of the input, or NULL), and res->rvcov = V B V. */
strata_status cox_robust(strata_ctx *ctx, const cox_data *d, cox_ws *ws, cox_ties ties,
                         const double *cluster, cox_result *res);
/* Cumulative baseline hazard of stratum index s at time t (0 before the first time). */
double cox_cumhaz_at(const cox_result *res, size_t s, double t);
/* Dense ranks 1..*nr of x (equal values share a rank; -0 equals +0 only if given so). */
strata_status cox_dense_ranks(strata_ctx *ctx, size_t n, const double *x, size_t *rank, size_t *nr);
/* Harrell's C of lp (n, sorted order) within strata, weighted (cox_concord.c). */
strata_status cox_concordance(strata_ctx *ctx, const cox_data *d, const double *lp,
                              cox_result *res);
/* The same bytes with the ranks of lp from the external sort in mem bytes (0: no
 * limit; engine/core/xsort.c): *lp is freed (and set NULL) once the sort holds
 * it, so the peak is the ranks and the trees (24 bytes a row), not lp, the ranks
 * and their sort scratch (48). */
strata_status cox_concordance_x(strata_ctx *ctx, const cox_data *d, double **lp, size_t mem, cox_result *res);

/* ---- from a column source (cox_source.c) --------------------------------- */
typedef struct cox_fit_out {
    cox_result *res;      /* NULL unless the fit ran (OK or ENOCONV) */
    glm_formula *formula; /* the design's formula, frozen levels and knots (for scoring) */
    cox_formula *cf;
    size_t n_dropped;     /* rows without a complete case */
    /* strata(x): stratum code k (res->bh_code) is the k-th distinct value of x, ascending;
     * its label when x is categorical (scoring maps a new source's levels by label). */
    size_t n_strata_values;
    double *strata_values;
    char **strata_labels; /* or NULL */
} cox_fit_out;

/* Fits `Surv(time, event) ~ terms [+ strata(x)]` on the source's complete cases
 * (weights: a column name or NULL). out is filled as far as the fit got; free it
 * with cox_fit_out_free whatever the status. */
strata_status cox_fit_source(strata_ctx *ctx, const glm_source *src, const char *formula,
                             const char *weights, const cox_params *prm, cox_fit_out *out);
void cox_fit_out_free(strata_ctx *ctx, cox_fit_out *o);
/* The design of `used` complete-case rows (raw[v]: their values of variable v)
 * without the intercept column, column-major (leading dimension used) into X;
 * offsets into off. */
strata_status cox_build_design(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                               double *const *raw, size_t used, double *X, double *off);
/* Stratum codes 0..K-1 of the strata column's distinct values (ascending) into
 * sc, and the value of each code into out->strata_values. */
strata_status cox_strata_codes(strata_ctx *ctx, size_t used, const double *strat, int32_t *sc,
                               cox_fit_out *out);
/* The fit of cox_fit_source across the context's MPI ranks (cox_dist.c,
 * docs/scale.md#mpi), from a collective source: f bound (vb), not frozen.
 * *n and *used: the source's rows and complete cases. */
strata_status cox_fit_dist(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                           const cox_formula *cf, const cox_params *prm, cox_fit_out *out, size_t *n,
                           size_t *used);
/* The fit on laid-out data d (taken over and freed): workspace, Newton-Raphson (or
 * prm->beta_at), robust variance, baseline, concordance; t0 the start of the fit
 * (omp_get_wtime) for res->seconds. As cox_fit_cols from the layout on. */
strata_status cox_fit_data(strata_ctx *ctx, const cox_input *in, const cox_params *prm, cox_data *d,
                           double t0, cox_result **out);
/* The fit of cox_fit_source under the context's memory budget (cox_stream.c,
 * docs/scale.md): the per-row vectors read whole and sorted in memory, the design
 * written once in sorted order to a scratch file and read back in windows of whole
 * blocks by every pass; the same bytes as the in-memory fit. f bound (vb), not
 * frozen; *n and *used: the source's rows and complete cases. */
strata_status cox_fit_stream(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                             const cox_formula *cf, const cox_params *prm, cox_fit_out *out, size_t *n,
                             size_t *used);
/* Bytes the in-memory fit from a source of n rows holds (the formula's columns and two
 * copies of the design, about): over the budget, cox_fit_source streams. */
size_t cox_inmem_bytes(const glm_formula *f, const cox_formula *cf, size_t n);
/* Across ranks (no-op with one process): every rank's part of a — elements
 * [map[rb[r]], map[rb[r + 1]]) of `size` bytes each; map NULL: its blocks — to
 * every rank, in place. */
strata_status cox_gather_parts(const cox_data *d, cox_ws *ws, void *a, size_t size, const size_t *map);
/* Across ranks (cox_dist.c): d's blocks split over the context's ranks (d->rb, comm,
 * blo, bhi, x0, x1, ldx set; X not allocated). */
strata_status cox_rank_blocks(strata_ctx *ctx, cox_data *d);
/* Across ranks, once X is in place (in memory or written to the scratch file): the
 * events' sums of w x (d->xd, in sorted row order, carried rank to rank) and the
 * check for a column constant within every stratum; every rank gets the same. */
strata_status cox_carry_row_sums(strata_ctx *ctx, const cox_input *in, cox_data *d);
/* Bytes a rank of the in-memory distributed fit holds (cox_fit_dist), about: over
 * the budget, the ranks stream their blocks (cox_fit_stream). */
size_t cox_dist_bytes(const glm_formula *f, const cox_formula *cf, size_t n, int K);
/* Across ranks: every rank's rows [x0, x1) of ws->eta to every rank (for Harrell's C). */
strata_status cox_gather_eta(const cox_data *d, cox_ws *ws);
/* STRATA_EDATA: column j of in is constant within every stratum (docs/cox.md). */
strata_status cox_constant_column(strata_ctx *ctx, const cox_input *in, const cox_data *d, size_t j);
/* Rows [row0, row0 + n) of the source's column j (or the one named name, when
 * not NULL) into a new array *out of n + 1 doubles (cox_source.c). */
strata_status cox_read_col(strata_ctx *ctx, const glm_source *src, const char *name, size_t j,
                           size_t row0, size_t n, double **out);
/* Freezes the formula's factor levels and spline knots (glm_freeze) from the
 * whole columns of those variables over the n source rows of mask, read for
 * the call and freed; across ranks every rank reads whole columns and the
 * status is agreed before the freeze (the streamed and distributed fits). */
strata_status cox_freeze_whole(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                               const unsigned char *mask, size_t n);
/* The labels of out->strata_values when the source's column col is categorical. */
strata_status cox_strata_labels(strata_ctx *ctx, const glm_source *src, const char *col,
                                cox_fit_out *out);

/* ---- scoring (cox_score.c) ------------------------------------------------- */
/* Which baseline stratum each value of a source's strata column is. */
typedef struct cox_smap {
    size_t n_codes;  /* categorical: the source's level codes ... */
    long *code;      /* ... mapped to a stratum index (-1: a level the fit never saw) */
    glm_varbind *vb; /* the formula's variables bound to the source (formula->nvars) */
    size_t nvars;
} cox_smap;
/* Binds the model's formula to src (levels mapped per unseen) and maps its strata;
 * m is only read. Free sm with cox_smap_free whatever the status. */
strata_status cox_score_bind(strata_ctx *ctx, const cox_fit_out *m, const glm_source *src,
                             strata_unseen_policy unseen, cox_smap *sm);
void cox_smap_free(strata_ctx *ctx, cox_smap *sm); /* accepts a zeroed one */
/* Rows [row0, row0 + n) of the bound source: lp = x'beta + offset (aliased
 * coefficients count 0, as R's predict) and, for nh horizons, risk[i * nh + k] =
 * 1 - exp(-H0_s(h_k) exp(lp)) in the row's stratum s. A missing value gives NaN;
 * an unseen factor level or stratum is STRATA_EDATA naming the row. */
strata_status cox_score_rows(strata_ctx *ctx, const cox_fit_out *m, const glm_source *src,
                             const cox_smap *sm, size_t row0, size_t n, const double *horizons,
                             size_t nh, double *lp, double *risk);

/* ---- the stage-facing model (cox_model.c, cox_record.c) -------------------- */
#define COX_NPROV 3
extern const char *const cox_prov_keys[COX_NPROV]; /* input_path, input_hash, strata_version */

struct cox_model {
    cox_fit_out fo;         /* result, frozen formula (levels, knots), strata keys */
    char *formula;          /* "Surv(t, e) ~ ..." as given */
    char *weights;          /* case weights column or NULL */
    cox_ties ties;
    char *prov[COX_NPROV];
};

struct cox_binding {
    const cox_model *m;
    glm_source src;         /* a copy of the caller's source */
    cox_smap sm;
};

#endif
