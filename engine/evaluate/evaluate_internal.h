/* engine/evaluate/evaluate_internal.h — pieces shared by the evaluate_*.c files: the
 * sorted "view" that every metric kernel walks, the kernels themselves and the
 * chi-square tail (the normal quantile is strata_qnorm, strata/dist.h). Not installed.
 * Invariant: every kernel is serial over a view in ascending (p, row) order, so
 * its result never depends on which thread runs it. */
#ifndef STRATA_EVALUATE_INTERNAL_H
#define STRATA_EVALUATE_INTERNAL_H

#include "internal.h"
#include "strata/evaluate.h"
#include "strata/stratify.h"

/* The rows of a view kept in a scratch file (evaluation under a memory
 * budget, docs/scale.md): column c of the view's m rows at off[c] (8 bytes a
 * row), read window by window into buf (EV_NWIN columns of cap rows). One
 * per view: views are evaluated in parallel, each by one thread. */
enum { EV_COL_Y, EV_COL_P, EV_COL_LP, EV_COL_W, EV_NWIN, EV_COL_ROW = EV_NWIN, EV_NCOL };
typedef struct ev_file {
    const struct strata_scratch *f;
    uint64_t off[EV_NCOL];
    int weighted;
    size_t cap;  /* rows a window holds */
    double *buf;
    int err;     /* errno of a failed read (the results are then void), else 0 */
} ev_file;

/* A population in ascending order of p (ties in row order). ix selects
 * positions of the sorted arrays (NULL = positions 0..m-1). w NULL = 1.
 * file non-NULL: the rows are in a scratch file (the arrays are unused). */
typedef struct ev_view {
    size_t m;
    const size_t *ix;
    const double *y, *p, *lp, *w;
    ev_file *file;
} ev_view;

#define EV_POS(v, k) ((v)->ix ? (v)->ix[(k)] : (k))
#define EV_W(v, q) ((v)->w ? (v)->w[(q)] : 1.0)


/* Upper tail of the chi-square distribution with df degrees of freedom. */
double ev_pchisq_upper(double x, double df);

/* Sorts keys ascending, returning the permutation in ord (stable LSD radix
 * sort on the IEEE bits). ws: 2*n uint64 + n size_t of scratch. */
void ev_sort_doubles(const double *key, size_t n, size_t *ord, uint64_t *ws_keys,
                     size_t *ws_ord);

/* AUROC of [y > 0] by p with DeLong standard error (NaN when undefined). */
void ev_auc(const ev_view *v, double *c, double *se);

/* Newton fit of glm(y ~ offset(lp)) (slope = 0) or glm(y ~ lp) (slope = 1)
 * with the family's canonical link. coef/se: [intercept, slope]. Returns 1
 * when converged. */
int ev_recal(const ev_view *v, strata_family f, int slope, int max_iter, double tol,
             double coef[2], double se[2]);

/* Every metric of one population; m's arrays are preallocated from par. */
void ev_metrics(const ev_view *v, const strata_eval_params *par, strata_eval_metrics *m);

/* Allocates/frees the arrays of m sized by par. */
strata_status ev_metrics_alloc(strata_ctx *ctx, const strata_eval_params *par,
                               strata_eval_metrics *m);
void ev_metrics_free(strata_ctx *ctx, strata_eval_metrics *m);
size_t ev_nb_count(const strata_eval_params *par);

/* Outcome column as doubles and weights 1, or 0 (and y = 0) where the outcome
 * or the prediction p is missing; *dropped counts those rows. */
strata_status ev_read_outcome(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                              const double *p, double **y, double **w, size_t *dropped);

/* The written outputs as tables (engine/evaluate/evaluate_sdc.c), disclosure-controlled
 * per r->params: t[kind] with population q (0 = overall, 1 + g = group g) in
 * rows start[kind][q] .. start[kind][q+1]-1. */
enum { EV_SUMMARY, EV_BINS, EV_YIELD, EV_NB, EV_CURVE, EV_NKIND };
typedef struct ev_out {
    strata_table *t[EV_NKIND];
    size_t *start[EV_NKIND];
} ev_out;
strata_status ev_out_build(strata_ctx *ctx, const strata_eval_report *r, ev_out *o);
void ev_out_free(strata_ctx *ctx, ev_out *o);
/* O/E ("oe", "oe_lo" or "oe_hi") of a count outcome as a derived column: from
 * the published observed, expected and n (log scale, s^2 = 1/O - 1/n binomial,
 * 1/O Poisson), so its interval's width gives back only published counts. */
strata_status ev_add_oe(strata_ctx *ctx, strata_table *t, strata_family f, const char *name,
                        const char *obs_col, double level, int decimals);
/* The rule for one row of a subgroup table after disclosure (sp: the rules;
 * n_raw, events_raw the exact population and events): 1-7 people show only
 * keys, flags and counts; withheld events hide every measure of the event rate. */
void ev_protect_row(strata_table *t, size_t i, const strata_sdc_params *sp, double n_raw,
                    double events_raw);
/* The rules of the written evaluation outputs (r->params). */
void ev_sdc_params(const strata_eval_params *par, strata_sdc_params *sp);

/* Survival evaluation (evaluate_surv.c): weight and stratum of row r, and the
 * check of every kept row's time, event, weight, stratum and x (named xname). */
#define SV_W(in, r) ((in)->w ? (in)->w[(r)] : 1.0)
#define SV_S(in, r) ((in)->stratum ? (in)->stratum[(r)] : 0)
strata_status ev_surv_check(strata_ctx *ctx, const strata_surv_input *in, const double *x,
                            const char *xname);
/* strata_surv_concordance for ntw weightings over one sort of the rows (the
 * bits of separate calls): each[k] STRATA_OK, or STRATA_EDATA (not set in ctx)
 * when weighting k has no comparable pair; returns bad input or no memory. */
strata_status ev_surv_concordances(strata_ctx *ctx, const strata_surv_input *in, const strata_conc_weight *tw,
                                   int ntw, double conf_level, strata_surv_conc *out, strata_status *each);
/* A population's rows for the streamed survival evaluation: next() gives the
 * next rows (ascending input rows, at most max; *got = 0 at the end); n bounds
 * how many it gives. */
typedef struct ev_surv_rows {
    strata_status (*next)(strata_ctx *ctx, void *arg, size_t *rows, size_t max, size_t *got);
    void *arg;
    size_t n;
} ev_surv_rows;
/* Harrell's (out[0]) and Uno's (out[1]) C of the population's rows with weight
 * > 0, sorted and swept through the external sort and a scratch file when a
 * fifth of the memory budget does not hold them (docs/scale.md); *n and *ev its
 * weight and events by h in row order. each[k] as ev_surv_concordances;
 * returns STRATA_EDATA (not set in ctx, the sums whole) for an invalid row,
 * or no memory / a scratch file's error. n_major: 1 + the largest stratum code. */
strata_status ev_surv_pop_concordances(strata_ctx *ctx, const strata_surv_input *in, const ev_surv_rows *rows,
                                       int32_t n_major, double h, double conf, strata_surv_conc out[2],
                                       strata_status each[2], double *n, double *ev);
int32_t ev_surv_n_major(const strata_surv_input *in);
/* The rows 0..n-1 as an ev_surv_rows (arg: size_t[2], the next row and n). */
strata_status ev_surv_all_rows(strata_ctx *ctx, void *arg, size_t *rows, size_t max, size_t *got);
/* The share of the memory budget each part of the streamed survival evaluation
 * holds at most (1/5: each sort, the sweep's trees, the by-levels' grouping;
 * 1/10: the sweep's window), and the least budget it runs in for n rows. */
#define EV_SV_SHARE 5
size_t ev_surv_min_bytes(size_t n);

/* The family's link (logit, log, log, identity) and its inverse. */
double ev_link(strata_family f, double p);
double ev_inv_link(strata_family f, double eta);
/* 1 when p is a valid predicted value of the family (finite; (0,1) binomial,
 * > 0 poisson and gamma). */
int ev_p_valid(strata_family f, double p);
/* 1 for gamma and gaussian: the outcome is a measure summed over people
 * (cost), not a count of events. */
int ev_measure_outcome(strata_family f);

#endif
