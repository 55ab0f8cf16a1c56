/* models/cox/cox_internal.h — what the Cox proportional-hazards pieces share:
 * the input on arrays, the data sorted once by (stratum, time descending) with
 * its tied-time groups and fixed row blocks, the per-iteration workspace, the
 * parameters and the fitted result. Invariant: every number depends only on the
 * input values and the fixed block size, never on the thread count. */
#ifndef STRATA_COX_INTERNAL_H
#define STRATA_COX_INTERNAL_H

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
} cox_input;

/* The data sorted by (stratum ascending, time descending), stable; the risk set
 * of a time is then a prefix of its stratum, so risk-set sums are running sums
 * from the stratum's first row. A group is a maximal run of equal (stratum, time). */
typedef struct cox_data {
    size_t n, p;
    double *X;               /* column-major n x p in sorted order, owned */
    double *time, *status, *w, *off; /* n each, sorted; off NULL when no offset */
    int32_t *stratum;        /* n, sorted (0 when the input had none) */
    size_t *order;           /* n: input row of sorted row i */
    size_t ng;               /* groups */
    size_t *gend;            /* ng: one past the group's last row */
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
} cox_data;

/* Sorts and lays out the input (copies X in sorted order). Validates values:
 * STRATA_EDATA naming the row (1-based, input order), column and value. */
strata_status cox_data_build(strata_ctx *ctx, const cox_input *in, size_t block_rows,
                             cox_data **out);
void cox_data_free(strata_ctx *ctx, cox_data *d);

/* Caller-owned workspace of one evaluation: nothing is allocated inside it. */
typedef struct cox_ws {
    size_t p, ld, nt;
    la_kernels k;
    double *eta, *r;         /* n: linear predictor, w exp(eta - c) */
    double *bmax;            /* nblocks */
    double *carry;           /* nblocks x (p + 1): running sums entering block b */
    double *tail;            /* nblocks x (p + 1) */
    double *h, *ce, *H;      /* ng: hazard increment, Efron correction, suffix sum of h */
    double *bll;             /* nblocks */
    double *bu;              /* nblocks x p */
    double *G2, *GU;         /* nblocks x ld x ld: weighted Gram of X, Gram of the mean rows */
    double *tbuf;            /* per thread */
    size_t tsize;
    double c;                /* shift of eta in the last evaluation */
} cox_ws;

strata_status cox_ws_alloc(strata_ctx *ctx, const cox_data *d, int threads, cox_ws **out);
void cox_ws_free(strata_ctx *ctx, cox_ws *ws);

/* One evaluation at beta (cox_risksets.c): log partial likelihood *ll, score u (p)
 * and information I (p x p, full symmetric, row-major). Efron or Breslow. Also
 * leaves ws->h, ws->H (hazard increments on the exp(eta - c) scale) and ws->eta. */
void cox_eval(const cox_data *d, cox_ws *ws, cox_ties ties, const double *beta, double *ll,
              double *u, double *I);

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
    /* Harrell's C (cox_concord.c) */
    double concordance;
    double conc_count[3];    /* concordant, discordant, tied in lp (weighted pairs) */
} cox_result;

void cox_result_free(strata_ctx *ctx, cox_result *r);

/* Fits on arrays (cox_fit.c). On STRATA_ENOCONV *out holds the partial fit. */
strata_status cox_fit_arrays(strata_ctx *ctx, const cox_input *in, const cox_params *prm,
                             cox_result **out);
/* Newton-Raphson from beta = 0 (cox_newton.c); fills the fit part of res. */
strata_status cox_newton(strata_ctx *ctx, const cox_data *d, cox_ws *ws, const cox_params *prm,
                         const char *const *names, cox_result *res);
/* Baseline hazard from the last evaluation at res->beta (cox_baseline.c). */
strata_status cox_baseline(strata_ctx *ctx, const cox_data *d, const cox_ws *ws,
                           cox_result *res);
/* Cumulative baseline hazard of stratum index s at time t (0 before the first time). */
double cox_cumhaz_at(const cox_result *res, size_t s, double t);
/* Harrell's C of lp (n, sorted order) within strata, weighted (cox_concord.c). */
strata_status cox_concordance(strata_ctx *ctx, const cox_data *d, const double *lp,
                              cox_result *res);

/* ---- from a column source (cox_source.c) --------------------------------- */
typedef struct cox_fit_out {
    cox_result *res;      /* NULL unless the fit ran (OK or ENOCONV) */
    glm_formula *formula; /* the design's formula, frozen levels and knots (for scoring) */
    cox_formula *cf;
    size_t n_dropped;     /* rows without a complete case */
} cox_fit_out;

/* Fits `Surv(time, event) ~ terms [+ strata(x)]` on the source's complete cases
 * (weights: a column name or NULL). out is filled as far as the fit got; free it
 * with cox_fit_out_free whatever the status. */
strata_status cox_fit_source(strata_ctx *ctx, const glm_source *src, const char *formula,
                             const char *weights, const cox_params *prm, cox_fit_out *out);
void cox_fit_out_free(strata_ctx *ctx, cox_fit_out *o);

#endif
