/* models/elnet/elnet_internal.h — elastic-net regularisation paths (glmnet's
 * conventions) on arrays, layered as glmnetpp: driver (validate, standardise,
 * unscale) -> path (lambda sequence, warm starts, strong rules, early stop) ->
 * point (IRLS + covariance-update coordinate descent for one lambda), and CV.
 * Invariant: every sum over rows runs over ELNET_NCHUNK fixed row ranges whose
 * partials are combined in range order (across MPI ranks, gathered first), so
 * results depend neither on the threads nor on the number of ranks. The weight
 * sum alone runs in row order (carried from rank to rank). */
#ifndef STRATA_ELNET_INTERNAL_H
#define STRATA_ELNET_INTERNAL_H

#include "comm.h"
#include "glm.h"
#include "record.h"
#include "strata/model.h"

#include <stddef.h>

#define ELNET_NCHUNK 16   /* fixed row ranges for every reduction */
#define ELNET_BLOCK 128   /* rows packed per Gram sub-block */
#define ELNET_BIG 9.9e35  /* glmnet's "big": the first, all-zero lambda */
#define ELNET_PAR_MIN 2e6     /* values of X below which a fit runs on one thread */
#define ELNET_SCAN_BLOCK 2048 /* rows per cache block of a scores pass (16 KB of a column:
                               * longer streams for the prefetcher than 512 rows, and 60
                               * columns still fit in a 1 MB L2) */
#define ELNET_PRED_BLOCK 512  /* held-out rows per block of CV predictions */
#define ELNET_KEEP_RATE 0.1  /* keep the Gram while each move's change^2 < 0.1 x the last */
#define ELNET_KEEP_MIN 16    /* ... and the strong set has at least 16 columns */
#define ELNET_STRONG_WIDE 0.6 /* when the strong rule adds a column, those above 0.6 x its
                               * threshold join too (fewer changes of S, fewer Gram passes) */

/* ---- the problem on arrays --------------------------------------------- */
/* Where this process's rows sit in the whole problem (elnet_dist.c,
 * docs/scale.md#mpi): the rows of chunks [c0, c1) of the ELNET_NCHUNK fixed
 * row ranges of nall rows, from row row0 on. One process: comm NULL, every
 * chunk here. */
typedef struct elnet_slab {
    const strata_comm *comm; /* the ranks, or NULL */
    size_t nall;             /* rows of the whole problem */
    size_t row0;             /* the whole problem's index of this process's row 0 */
    size_t c0, c1;           /* this process's chunks */
} elnet_slab;

void elnet_slab_one(size_t n, elnet_slab *s);
/* Rank c->rank's chunks of nall rows (c NULL: one process). */
void elnet_slab_make(const strata_comm *c, size_t nall, elnet_slab *s);
size_t elnet_slab_rows(const elnet_slab *s);  /* rows this process holds */
/* Chunk c's rows [*r0, *r1), as indices of this process's rows. */
void elnet_chunk_rows(const elnet_slab *s, size_t c, size_t *r0, size_t *r1);
/* Chunk-major array a (stride bytes a chunk): every rank's chunks to every
 * rank, in place (nothing with one process). */
strata_status elnet_gather(const elnet_slab *s, void *a, size_t stride);
/* *sum = sum of x[0..n) (x NULL: n ones) in row order over the ranks: the
 * running sum carried from rank to rank, then broadcast. */
strata_status elnet_carry_sum(const elnet_slab *s, const double *x, size_t n, double *sum);
/* *flag = 1 when it is 1 on every rank. */
strata_status elnet_all_ranks(const elnet_slab *s, int *flag);

/* The rows of a problem read on demand, when its design exceeds the memory
 * budget (elnet_stream.c, docs/scale.md "The elastic net under a budget"):
 * read(ctx, ud, set, r0, r1) fills buffer set `set` (0 or 1) with rows
 * [r0, r1) of the problem (r1 - r0 <= cap): X column-major with leading
 * dimension cap, y, the prior weights (w[set] NULL: all 1) and the offset
 * (off[set] NULL: none). Called from one thread at a time (a serial HDF5
 * source), perhaps a second thread while the first computes. */
typedef struct elnet_reader {
    size_t cap;                 /* rows a set holds */
    int nsets;                  /* 1 or 2 buffer sets */
    double *X[2], *y[2], *w[2], *off[2];
    strata_status (*read)(strata_ctx *ctx, void *ud, int set, size_t r0, size_t r1);
    void *ud;
    size_t row_bytes;           /* source bytes one read of a row costs (for the log) */
} elnet_reader;

typedef struct elnet_data {
    size_t n, p;
    const double *X;       /* column-major n x p, leading dimension ldx */
    size_t ldx;
    const double *y;       /* n; binomial 0/1 (or a proportion), poisson >= 0 */
    const double *w;       /* n prior weights >= 0, or NULL (all 1) */
    const double *offset;  /* n, or NULL */
    elnet_slab sl;         /* across MPI ranks: n = the rows of sl's chunks; sl.comm NULL
                            * (a zeroed sl): one process, n rows */
    const elnet_reader *rd; /* non-NULL: X, y, w, offset are NULL and the rows are read
                             * window by window at every pass (across ranks: the
                             * windows of sl's chunks, one buffer set) */
} elnet_data;

typedef struct elnet_params {
    strata_family family;    /* gaussian, binomial or poisson */
    double alpha;            /* 0 ridge .. 1 lasso */
    size_t nlambda;          /* 100 */
    double lambda_min_ratio; /* <= 0: 1e-4 when n > p, else 1e-2 */
    const double *lambda;    /* user path (any order; used decreasing), or NULL */
    size_t nuser;            /* its length */
    const double *penalty;   /* p penalty factors (0 = unpenalised), or NULL */
    int standardize;         /* 1: fit on unit-variance columns (reported unscaled) */
    double thresh;           /* 1e-7: CD stops when max G_jj d_j^2 < thresh * null dev */
    int maxit;               /* 100000 passes over the data in total */
    double fdev;             /* 1e-5: early stop on small deviance-ratio change */
    double devmax;           /* 0.999: early stop when the deviance ratio exceeds it */
    size_t mnlam;            /* 5: no early stop before this many lambdas */
    double par_min;          /* ELNET_PAR_MIN: fits with fewer values of X run on one
                              * thread (0: always the context's threads) */
    int x_checked;           /* 1: X is known finite (CV folds after the full fit), not re-read */
} elnet_params;

void elnet_params_init(elnet_params *prm);

/* The fitted path, coefficients on the original scale. */
typedef struct elnet_path {
    size_t p;
    size_t cap;          /* steps allocated */
    size_t nlam;         /* steps computed */
    double *lambda;      /* cap */
    double *a0;          /* cap: intercept */
    double *beta;        /* cap x p, row per step */
    double *dev_ratio;   /* cap: 1 - dev / nulldev */
    int *df;             /* cap: non-zero coefficients */
    double nulldev;      /* deviance of the intercept(+offset)-only model, prior weights */
    int npasses;         /* coordinate-descent passes over the strong set */
    int ngram;           /* passes over the data that build a Gram (IRLS steps) */
    int nscan;           /* other passes over the data (eta, scores, KKT checks) */
    int nstale;          /* column scores KKT checks settled by a bound, without computing them */
    int converged;       /* 0 when maxit was hit (the steps before it are valid) */
} elnet_path;

strata_status elnet_path_alloc(strata_ctx *ctx, size_t p, size_t cap, elnet_path **out);
void elnet_path_free(strata_ctx *ctx, elnet_path *path);

/* What elnet_fit refuses first (and glmnet too): NaN anywhere (X unless
 * prm->x_checked), negative or all-zero weights, responses outside the
 * family's range, bad alpha, lambdas or penalty factors; the error names the
 * row / column. */
strata_status elnet_check(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm);

/* Fits the path. Rows with a missing (NaN) value in X, y, w or offset are an
 * error naming the row (glmnet refuses them; callers drop incomplete rows). */
strata_status elnet_fit(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                        elnet_path *out);

/* ---- internals shared by driver, path and point --------------------------- */
/* elnet_kern.c: the per-row kernels of a pass, one variant per instruction set
 * (the same bits from each: no FMA, fixed lane and sum order). */
typedef struct elnet_kern {
    /* e[i] += b (x[i] - m), i < n; x as doubles or as a 0/1 column's bytes */
    void (*axpy)(size_t n, double b, double m, const double *x, double *e);
    void (*axpyb)(size_t n, double b, double m, const unsigned char *x, double *e);
    /* sum_i r[i] (x[i] - m), i < n, in 16 interleaved partial sums */
    double (*dot)(size_t n, const double *r, const double *x, double m);
    double (*dotb)(size_t n, const double *r, const unsigned char *x, double m);
    /* out[i] = (x[i] - m) s */
    void (*centre)(size_t n, const double *x, double m, double s, double *out);
    void (*centreb)(size_t n, const unsigned char *x, double m, double s, double *out);
    /* binomial rows with y in {0, 1}: mu = 1 / (1 + e^-eta) (eta clamped as glmnet's
     * pmin), v = w mu (1 - mu), r = w (y - mu); returns sum_i -2 w_i log(P(y_i)) and
     * adds sum_i (r_i - its old value)^2 / w_i over w_i > 0 to *drift */
    double (*binom)(size_t n, const double *eta, const double *w, const double *y, double *v,
                    double *r, double *drift);
    const char *name; /* "avx512", "avx2" or "c" */
} elnet_kern;

/* The kernels for isa (the values of la_isa in models/linalg/linalg.h: 0 the
 * best this CPU runs, 1 AVX-512, 2 AVX2, 3 C); 0 when the CPU lacks it. */
int elnet_kern_get(int isa, elnet_kern *k);

/* The standardised problem: column j is (x_j - xm_j) / xs_j, weights sum to 1. */
typedef struct elnet_prob {
    strata_family fam;
    size_t n, p;
    const double *X;
    size_t ldx;
    const double *y;     /* gaussian: (y - offset - ym) / ys; else y */
    const double *off;   /* binomial/poisson offset or NULL */
    const double *w;     /* normalised weights, sum 1 */
    const double *xm, *xs;
    const unsigned char *ju; /* 1: column varies (usable) */
    const double *vp;    /* penalty factors rescaled to sum to p */
    double alpha;
    double ym, ys;       /* gaussian response centre and scale (else 0, 1) */
    double thr;          /* convergence threshold (thresh x null deviance / 2) */
    double dev0;         /* null deviance with normalised weights */
    int nthreads;
    const unsigned char *const *xb; /* p: a 0/1 column as n bytes (exactly its values, an
                                     * eighth of the reads), or NULL: read X */
    const elnet_kern *kern; /* the pass kernels for this CPU */
    const double *cn;       /* p: (sum_i w_i x~_ij^2)^1/2, 1 for a standardised column */
    int y01;                /* binomial with every y 0 or 1: the vector row kernel */
    const double *xmax;     /* p: max over rows with w_i > 0 of |x~_ij| (bounds max |d eta|) */
    elnet_slab sl;          /* this process's chunks; n = its rows */
    struct elnet_stream *st; /* non-NULL: the rows are streamed (X, y, w, off NULL here;
                              * each pass runs over windows of whole chunks) */
} elnet_prob;

/* Caller-owned workspace: everything the path and point need, sized once. */
typedef struct elnet_ws {
    size_t ld;           /* Gram leading dimension (p + 2 rounded up to 8) */
    double *eta;         /* n: linear predictor (standardised scale, with offset) */
    double *v;           /* n: IRLS weights */
    double *r;           /* n: w (y - mu), the score contributions */
    double *beta;        /* p: standardised coefficients */
    double b0;
    double *g;           /* p: score of every column at the current fit */
    double g0;           /* the intercept's score sum_i w_i (y_i - mu_i) */
    double *G;           /* gld x gld: Gram of [S columns, intercept (, working response)] */
    size_t gld;          /* leading dimension of the current G */
    double *part;        /* ELNET_NCHUNK x ld x ld partial Grams */
    double *pack;        /* ELNET_NCHUNK x ELNET_BLOCK x ld packed rows, 64-byte aligned */
    double *pack_mem;    /* its allocation */
    double *cbuf;        /* ELNET_NCHUNK x (p + 3) x ELNET_BLOCK: a block's centred columns,
                          * sqrt(v) and the working residual, before packing */
    const double **cols; /* ELNET_NCHUNK x (p + 2): the columns handed to the pack kernel */
    double *ones;        /* ELNET_BLOCK ones: the intercept's column */
    double *dpart;       /* ELNET_NCHUNK x (p + 2) partial sums */
    size_t *S;           /* p: strong (ever-considered) set, in entry order */
    size_t nS;
    size_t *U;           /* p: the usable columns (ju), in order */
    size_t nU;
    unsigned char *inS;  /* p */
    double *bS;          /* p + 1: coefficients over S and the intercept at the IRLS start */
    double *gS;          /* p + 1: quadratic-model gradient over S and intercept */
    double *dpart_dev;   /* ELNET_NCHUNK: partial deviances */
    double *dpart_drift; /* ELNET_NCHUNK: partial sums of (r - r before the pass)^2 / w */
    double *gb;          /* p: bound on |g_j - exact g_j| at the last pass's fit, outside S */
    double fin;          /* bound on (sum (r - r at the last pass)^2 / w)^1/2 at the fit */
    double mg;           /* bound on max_i |eta_i - eta_i where the Gram's weights were taken| */
    size_t *T;           /* p: S, then the columns outside S to score again */
    int nstale;          /* scores outside S a KKT check settled by the bound, uncomputed */
    double dev;          /* deviance of the current fit (normalised weights) */
    int gram_valid;      /* G matches S (its weights may be from an earlier fit) */
    int moved;           /* (b0, beta) moved since the last pass: eta, v, r are of that
                          * pass's fit; g over S, g0 and dev from the quadratic model */
    int passes;
    int ngram, nscan;    /* data passes: Gram builds, other scans (for benchmarks) */
    strata_status cst;   /* the first failed gather of a pass over the ranks */
} elnet_ws;

/* neta: rows of eta (n in memory; 1 when streamed: the windows hold theirs). */
strata_status elnet_ws_alloc(strata_ctx *ctx, size_t n, size_t neta, size_t p, elnet_ws *ws);
void elnet_ws_free(strata_ctx *ctx, elnet_ws *ws);

/* elnet_point.c: solves at one lambda (standardised scale) from the warm
 * start in ws: IRLS steps of covariance-update CD over S, then a KKT check on
 * every column outside S, adding violators and repeating. Leaves ws->g exact
 * over S; outside S exact or, where a bound proves it, stale with |g_j| +
 * gb_j <= tnext vp_j, so the exact score is below it too (tnext: the next lambda's
 * strong-rule threshold alpha (2 lambda_next - lambda), < 0 when unknown:
 * then every score is computed). Returns 1 on success, 0 when maxit passes ran out. */
int elnet_point(const elnet_prob *pb, elnet_ws *ws, double lambda, double tnext, int maxit);
/* ---- streamed rows (elnet_stream.c) ---------------------------------------- */
/* Windows of whole chunks [cw[k], cw[k + 1]) that the reader's sets hold
 * (a chunk larger than the reader's cap is refused). */
typedef struct elnet_stream elnet_stream;
/* What a pass computes on the rows of chunks [pb->sl.c0, pb->sl.c1): the
 * problem's arrays (X, y, w, off, ws->eta, ws->v, ws->r) start at pb->sl.row0. */
typedef void (*elnet_chunks_fn)(const elnet_prob *pb, elnet_ws *ws, void *arg);
/* Runs fn on the rows in memory, or window by window when pb->st: each window
 * read once (the next read on a second thread meanwhile), its weights
 * normalised and its response standardised as far as known (elnet_stream_prep). */
void elnet_windows(const elnet_prob *pb, elnet_ws *ws, elnet_chunks_fn fn, void *arg);
strata_status elnet_stream_open(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                                elnet_stream **out);
void elnet_stream_close(strata_ctx *ctx, elnet_stream *s); /* accepts NULL */
/* The normalisation the windows get from now on: weights / sw (sw 0: raw
 * weights), gaussian response y - offset, then (ys > 0) (y - offset - ym) / ys. */
void elnet_stream_prep(elnet_stream *s, double sw, double ym, double ys);
/* STRATA_OK or the first failed read (its message restored on ctx). */
strata_status elnet_stream_status(strata_ctx *ctx, const elnet_stream *s);
/* Across MPI ranks (s's rows are a rank's chunks): st agreed over the ranks
 * (a failed read on one rank is every rank's, with its message, kept as the
 * stream's status); one process, or s NULL: st. Collective when it agrees. */
strata_status elnet_stream_agree(elnet_stream *s, strata_status st);
int elnet_stream_reads(const elnet_stream *s);   /* windows read so far */
size_t elnet_stream_nwin(const elnet_stream *s); /* windows per pass */
double elnet_stream_wait(const elnet_stream *s);  /* seconds the passes waited for reads */

/* STRATA_OK, or the failure of a pass (a gather over the ranks, a read of streamed rows). */
strata_status elnet_pass_status(strata_ctx *ctx, const elnet_prob *pb, const elnet_ws *ws);

/* eta from (b0, beta), then v, r and the deviance ws->dev (one pass). */
void elnet_eta_pass(const elnet_prob *pb, elnet_ws *ws);
/* Recomputes eta, r = w (y - mu), v, the deviance and the score g of every
 * usable column from ws->beta, b0 (and lists the usable columns in ws->U). */
void elnet_refresh(const elnet_prob *pb, elnet_ws *ws);

/* elnet_path.c: runs the lambda path on the standardised problem, writing
 * standardised coefficients (b0, beta) per step into out (unscaled later). */
strata_status elnet_run_path(strata_ctx *ctx, const elnet_prob *pb, const elnet_params *prm,
                             elnet_ws *ws, elnet_path *out);

/* ---- cross-validation (elnet_cv.c) ---------------------------------------- */
typedef enum elnet_measure {
    ELNET_MEASURE_DEFAULT = 0, /* mse for gaussian, else deviance */
    ELNET_MEASURE_MSE,
    ELNET_MEASURE_DEVIANCE,
    ELNET_MEASURE_AUC          /* binomial */
} elnet_measure;

typedef struct elnet_cv {
    size_t nlam;         /* the full-data path's length */
    double *lambda;      /* nlam (the full-data path) */
    double *cvm, *cvsd;  /* nlam: mean and standard error of the measure over folds */
    int *nzero;          /* nlam */
    size_t idx_min, idx_1se;   /* 0-based */
    double lambda_min, lambda_1se;
    elnet_measure measure;
} elnet_cv;

/* K-fold CV as cv.glmnet: fits the full path, then each fold's own path,
 * interpolated at the full path's lambdas; foldid (n values 1..K) or, when NULL, folds from seed
 * (stratified by outcome for binomial). full receives the full-data path.
 * Streamed rows (d->rd): the K + 1 fits one after another, each streaming,
 * then one read for the held-out measures; the same bytes as in memory.
 * With ranks on ctx and d whole on every rank (d->sl.comm NULL), collective:
 * the fits dealt round the ranks (task t on rank t mod K; docs/scale.md#mpi),
 * every rank gets the same full path and curve, the bytes of one process. */
strata_status elnet_cv_run(strata_ctx *ctx, const elnet_data *d, const elnet_params *prm,
                           size_t K, const int *foldid, unsigned long long seed,
                           elnet_measure measure, elnet_path *full, elnet_cv *out);
void elnet_cv_free(strata_ctx *ctx, elnet_cv *cv);
/* Bytes the streamed CV's external sort of AUC's held-out predictions may
 * hold: an eighth of the budget, or the least that sorts them. */
size_t elnet_cv_sort_mem(size_t records, size_t budget);
/* idx_min, idx_1se and their lambdas from cvm, cvsd (glmnet's getOptcv): the
 * largest lambda at the best measure, and the largest within one SE of it. */
void elnet_cv_pick(elnet_cv *cv);
/* Runs tasks 0..ntask-1 of fn (fn(ctx, ud, t, worker), worker in 0..nw-1).
 * One worker: in order on ctx, stopping at the first failure. More: a queue
 * of the tasks in order over nw threads, each task on one thread with its own
 * child context kids[t] (engine/core: the caller's hooks under a lock, its
 * own error), no fork and join inside a task; a failure stops the queue (no
 * task is taken after it), and the first failing task in order is the one
 * reported: every task before it was taken, so ran. tst (ntask) receives
 * each task's status; kids needs ntask contexts when nw > 1. A task whose
 * result does not depend on its thread count gives the same bits either way
 * (the CV fits: elnet_cv.c, elnet_cox_cv.c). */
typedef strata_status (*elnet_task_fn)(strata_ctx *ctx, void *ud, size_t t, int worker);
strata_status elnet_tasks(strata_ctx *ctx, size_t ntask, size_t nw, elnet_task_fn fn, void *ud,
                          strata_ctx *kids, strata_status *tst);
/* Folds 1..K from a seed (stratified by y > 0.5 for binomial). */
strata_status elnet_folds(strata_ctx *ctx, size_t n, size_t K, unsigned long long seed,
                          const double *strat, int *foldid);

/* ---- from a formula over a column source (elnet_source.c) --------------- */

typedef struct elnet_spec {
    elnet_params prm;            /* family, alpha, nlambda, lambda_min_ratio, lambda, thresh */
    const char *formula;         /* as for the GLM (docs/glm.md); must keep the intercept */
    const char *weights;         /* prior-weights column or NULL */
    strata_na_action na_action;  /* incomplete rows dropped (default) or refused */
    strata_unseen_policy unseen; /* stored in the model, used when scoring */
    const char *const *pf_term;  /* penalty factors by design-column name (R style) */
    const double *pf_value;
    size_t npf;
    size_t cv_folds;             /* 0: no CV (the model keeps the last lambda) */
    const int *foldid;           /* per complete-case row, or NULL: folds from seed */
    unsigned long long seed;     /* 1 */
    int select_min;              /* 1: lambda.min; 0 (default): lambda.1se */
    elnet_measure measure;
} elnet_spec;

/* What the model file keeps beside the selected fit. */
typedef struct elnet_fitted {
    double alpha;
    elnet_path *path;    /* coefficients per step over the design columns after the intercept */
    elnet_cv cv;         /* cv.nlam = 0 without CV */
    size_t selected;     /* step kept in the model */
    double lambda;       /* its lambda */
} elnet_fitted;

void elnet_spec_init(elnet_spec *sp);
void elnet_fitted_free(strata_ctx *ctx, elnet_fitted *r);
/* Fits the path (and CV) of sp over src; *out is the GLM at the selected
 * lambda (coefficients in the GLM design order, no standard errors), res the
 * path and curve. */
strata_status elnet_fit_source(strata_ctx *ctx, const glm_source *src, const elnet_spec *sp,
                               glm_model **out, elnet_fitted *res);

/* ---- the model record (elnet_record.c, docs/model-format.md) -------------- */
/* Appends the path and CV curve to rec as the /elnet/... items, beside the
 * GLM's own (glm_model_export): the file stays a GLM model file. */
strata_status elnet_export(strata_ctx *ctx, const elnet_fitted *r, strata_record *rec);
/* Reads the /elnet/... items of rec (r->path stays NULL when there are none: a
 * plain GLM); p = the model's terms after the intercept. STRATA_EFORMAT naming
 * `name` (the file) and what does not match. */
strata_status elnet_import(strata_ctx *ctx, const strata_record *rec, const char *name, size_t p,
                           elnet_fitted *r);

#endif
