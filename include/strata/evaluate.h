/* strata/evaluate.h — evaluation of scored patients: discrimination, calibration,
 * case-finding yield, net benefit, overall and per subgroup, plus validation
 * protocols (split sample, k-fold CV, Harrell bootstrap) around a refit callback.
 * Works on plain arrays; the model is reached only through strata_refit_fn.
 * Invariant: same inputs and seed give the same numbers whatever the thread count. */
#ifndef STRATA_EVALUATE_H
#define STRATA_EVALUATE_H

#include "strata/core.h"
#include "strata/cohort.h"
#include "strata/model.h"
#include "strata/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome family is the model's strata_family (strata/model.h), with its
 * link for the linear predictor lp and the recalibration fits:
 *   binomial  y in {0,1}, p = probability in (0,1), lp = logit(p)
 *   poisson   y >= 0 counts, p = expected count > 0, lp = log(p)
 *   gamma     y > 0 (e.g. cost), p = expected value > 0, lp = log(p); gamma deviance
 *   gaussian  y real, p = expected value, lp = p
 * (docs/evaluate.md#families). */

#define STRATA_EVAL_MAX_TOP 16

typedef struct strata_eval_params {
    strata_family family;
    double conf_level;        /* confidence level of every CI (default 0.95) */
    int n_bins;               /* risk groups for E vs O and Hosmer–Lemeshow (default 10) */
    size_t n_top;             /* number of top fractions (default 6) */
    double top_frac[STRATA_EVAL_MAX_TOP]; /* default .005 .01 .02 .05 .10 .20 */
    double nb_min, nb_max, nb_step; /* net-benefit threshold grid (default .01 .. .50 by .01) */
    int curve_bins;           /* quantile bins of the smoothed calibration curve (default 100) */
    double curve_bw;          /* kernel bandwidth on the lp scale; 0 = Silverman's rule */
    double min_level_n;       /* levels with fewer rows are flagged small (default 100) */
    double min_level_events;  /* ... or fewer events (y > 0) (default 10) */
    int max_iter;             /* Newton iterations of the recalibration fits (default 50) */
    double tol;               /* Newton convergence on |step| (default 1e-12) */
    /* Disclosure control of the WRITTEN outputs (strata_eval_write); the in-memory
     * report is never rounded. docs/evaluate.md "Disclosure control". */
    int disclosure;           /* 1 (default): suppress and round; 0: raw (national/secure use) */
    double sdc_suppress_max;  /* counts c with 0 < c < this + 0.5 are hidden (default 7) */
    double sdc_round_to;      /* other counts rounded to this multiple (default 5; 0/1 = none) */
} strata_eval_params;

STRATA_API void strata_eval_params_init(strata_eval_params *par);
STRATA_API strata_status strata_eval_params_check(strata_ctx *ctx, const strata_eval_params *par);

/* One risk group of the expected-vs-observed table. */
typedef struct strata_eval_bin {
    double n;        /* sum of weights */
    double observed; /* sum of w*y */
    double expected; /* sum of w*p */
    double p_min, p_max;
} strata_eval_bin;

/* Case-finding yield when the top fraction `frac` of predicted risk is flagged. */
typedef struct strata_eval_yield {
    double frac;        /* e.g. 0.01 */
    double n_flagged;   /* frac * n (ties at the cut shared pro rata) */
    double observed;    /* outcome in the flagged group (events, or sum of y) */
    double sensitivity; /* observed / total observed */
    double ppv;         /* observed / n_flagged (mean outcome when not binary) */
    double nns;         /* number needed to screen = 1 / ppv (binomial only) */
    double p_cut;       /* predicted value at the cut */
} strata_eval_yield;

/* Decision curve point (binomial only); treat-none is 0 by definition. */
typedef struct strata_eval_nb {
    double threshold, nb_model, nb_all;
} strata_eval_nb;

/* Smoothed calibration curve point. */
typedef struct strata_eval_curve_pt {
    double n;        /* sum of weights in the bin */
    double lp_mean;  /* mean linear predictor in the bin */
    double p_pred;   /* mean predicted value in the bin */
    double obs_bin;  /* observed mean in the bin (raw) */
    double obs_smooth; /* kernel-smoothed observed mean at the bin's mean lp */
} strata_eval_curve_pt;

/* Subgroup flags. */
#define STRATA_EVAL_FLAG_SMALL 1u         /* too few rows or events: not interpreted */
#define STRATA_EVAL_FLAG_OE_DIFFERS 2u    /* overall O/E outside this level's CI */
#define STRATA_EVAL_FLAG_SLOPE_DIFFERS 4u /* overall slope outside this level's CI */
#define STRATA_EVAL_FLAG_C_DIFFERS 8u     /* overall C outside this level's CI */
#define STRATA_EVAL_FLAG_NOCONV 16u       /* a recalibration fit did not converge */

/* Every metric of one population (overall or one level). NaN where undefined. */
typedef struct strata_eval_metrics {
    size_t n_rows;      /* rows with weight > 0 */
    double n;           /* sum of weights */
    double observed;    /* sum of w*y */
    double expected;    /* sum of w*p */
    double n_events;    /* sum of w*[y > 0] */
    double c, c_se, c_lo, c_hi; /* AUROC of [y > 0] by p, DeLong SE and CI */
    double oe, oe_lo, oe_hi;    /* observed / expected with CI */
    double citl, citl_se, citl_lo, citl_hi; /* intercept of glm(y ~ offset(lp)) */
    double cal_a, cal_a_se;     /* intercept of glm(y ~ lp) */
    double slope, slope_se, slope_lo, slope_hi; /* slope of glm(y ~ lp) */
    double brier, brier_scaled; /* mean (y-p)^2 and 1 - brier / brier(mean) */
    double deviance, null_deviance, pseudo_r2; /* family deviance; 1 - D/D0 */
    double hl_chi2, hl_p;       /* Hosmer–Lemeshow (binomial only) */
    int hl_df;
    int n_bins;                 /* non-empty risk groups in bins[] */
    strata_eval_bin *bins;
    size_t n_top;
    strata_eval_yield *top;
    size_t n_nb;
    strata_eval_nb *nb;
    size_t n_curve;
    strata_eval_curve_pt *curve;
    unsigned flags;             /* STRATA_EVAL_FLAG_* */
} strata_eval_metrics;

/* A subgroup column: int32 codes 0..n_levels-1, -1 = missing (reported as "NA"). */
typedef struct strata_eval_by {
    const char *name;
    const int32_t *codes;
    size_t n_levels;
    const char *const *levels;
} strata_eval_by;

typedef struct strata_eval_input {
    size_t n;
    const double *y; /* outcome */
    const double *p; /* predicted response (probability or expected value) */
    const double *w; /* frequency weights >= 0, or NULL for 1 */
    size_t n_by;
    const strata_eval_by *by;
} strata_eval_input;

typedef struct strata_eval_group {
    char *by;     /* column name */
    char *level;  /* level label ("NA" for code -1) */
    strata_eval_metrics m;
} strata_eval_group;

typedef struct strata_eval_report {
    strata_eval_params params;
    strata_eval_metrics overall;
    size_t n_groups;
    strata_eval_group *groups; /* by column, then level order (NA last) */
} strata_eval_report;

/* Computes every metric overall and per level of every by-column. Rows with
 * weight 0 are ignored. STRATA_EDATA names the row and value of an invalid
 * y, p, w or code. */
STRATA_API strata_status strata_evaluate(strata_ctx *ctx, const strata_eval_input *in,
                              const strata_eval_params *par, strata_eval_report **out);
STRATA_API void strata_eval_report_free(strata_ctx *ctx, strata_eval_report *r); /* accepts NULL */

/* Inputs read in row blocks instead of held whole (evaluation under a memory
 * budget, docs/scale.md#evaluation-under-a-budget): in.y, in.p or a
 * by-column's codes left NULL are read through read, and the weights too
 * when weighted is set and in.w is NULL. read fills rows [r0, r0 + n) of
 * column col into out: STRATA_EVAL_COL_Y, _P or _W as doubles, or by-column
 * col (0 .. in.n_by - 1) as int32 codes (-1 missing). Each column is read
 * in row order, a few times (a check, the sort, and one pass per range of rows
 * that fits a quarter of the budget when its values are placed in the sorted
 * order). */
#define STRATA_EVAL_COL_Y (-3)
#define STRATA_EVAL_COL_P (-2)
#define STRATA_EVAL_COL_W (-1)
typedef strata_status (*strata_eval_read_fn)(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n,
                                             void *out);
typedef struct strata_eval_source {
    strata_eval_input in;
    int weighted;
    strata_eval_read_fn read;
    void *ud;
} strata_eval_source;

/* strata_evaluate over a source: the same report, byte for byte, as the
 * arrays the source reads would give strata_evaluate. */
STRATA_API strata_status strata_evaluate_source(strata_ctx *ctx, const strata_eval_source *src,
                                                const strata_eval_params *par, strata_eval_report **out);

/* lp -> response (expit, exp, exp or identity) and response -> lp. */
STRATA_API void strata_eval_inverse_link(strata_family f, const double *lp, size_t n, double *p);
STRATA_API strata_status strata_eval_link(strata_ctx *ctx, strata_family f, const double *p, size_t n,
                               double *lp);

/* ---- validation protocols ---------------------------------------------- */

/* Refits the model on rows weighted by train_w (bootstrap multiplicities or
 * 0/1 fold membership, times the caller's own weights) and writes the linear
 * predictor of ALL n rows to lp_all. Must be reentrant when the protocol runs
 * refits concurrently (strata_validate_params.parallel): ctx is then a
 * per-worker context (same allocator, threads = 1). */
typedef strata_status (*strata_refit_fn)(strata_ctx *ctx, void *ud, const double *train_w,
                                         size_t n, double *lp_all);

typedef struct strata_validate_params {
    uint64_t seed;      /* keys the library's counter-based RNG (engine/core/rng.c) */
    int B;              /* bootstrap resamples (default 200) */
    int k;              /* CV folds (default 10) */
    double train_frac;  /* split sample: share of rows for training (default 0.7) */
    int parallel;       /* 1: run refits concurrently (default 1) */
} strata_validate_params;

STRATA_API void strata_validate_params_init(strata_validate_params *vp);
STRATA_API strata_status strata_validate_params_check(strata_ctx *ctx, const strata_validate_params *vp);

/* Performance measures that Harrell's bootstrap corrects. */
typedef struct strata_eval_core {
    double c;      /* AUROC of [y > 0] */
    double slope;  /* glm(y ~ lp) slope */
    double intercept; /* glm(y ~ lp) intercept */
    double citl;   /* glm(y ~ offset(lp)) intercept */
    double brier;  /* weighted mean (y - p)^2 */
} strata_eval_core;

typedef struct strata_bootstrap_result {
    int B;
    uint64_t seed;              /* the seed the resamples were drawn with */
    strata_eval_core apparent;  /* model fitted and evaluated on the data */
    strata_eval_core optimism;  /* mean over b of (bootstrap-sample perf - original perf) */
    strata_eval_core corrected; /* apparent - optimism */
    strata_eval_core *boot;     /* [B] performance on resample b */
    strata_eval_core *orig;     /* [B] performance of refit b on the original rows */
} strata_bootstrap_result;

/* Core measures of lp against y with weights w (NULL = 1). */
STRATA_API strata_status strata_eval_core_measures(strata_ctx *ctx, strata_family f, size_t n,
                                        const double *y, const double *lp, const double *w,
                                        strata_eval_core *out);

/* Harrell's bootstrap optimism correction (Harrell, Lee & Mark 1996). y, w as
 * in strata_eval_input. Allocates res->boot/orig; free with
 * strata_bootstrap_result_free. */
STRATA_API strata_status strata_validate_bootstrap(strata_ctx *ctx, strata_family f, size_t n,
                                        const double *y, const double *w, strata_refit_fn refit,
                                        void *ud, const strata_validate_params *vp,
                                        strata_bootstrap_result *res);
STRATA_API void strata_bootstrap_result_free(strata_ctx *ctx, strata_bootstrap_result *res);

/* k-fold cross-validation: fold[i] in 0..k-1 (balanced, random by seed); lp_cv[i]
 * = linear predictor of row i from the model fitted without its fold. */
STRATA_API strata_status strata_validate_kfold(strata_ctx *ctx, size_t n, const double *w,
                                    strata_refit_fn refit, void *ud,
                                    const strata_validate_params *vp, int32_t *fold,
                                    double *lp_cv);

/* Split sample: is_test[i] = 1 for held-out rows (share 1 - train_frac, by
 * seed); lp[i] from the model fitted on the training rows. */
STRATA_API strata_status strata_validate_split(strata_ctx *ctx, size_t n, const double *w,
                                    strata_refit_fn refit, void *ud,
                                    const strata_validate_params *vp, uint8_t *is_test,
                                    double *lp);

/* The library's counter-based generator (the one behind synth, the protocols
 * and the SII): a uniform double in (0, 1) from (seed, stream, i) alone. */
STRATA_API double strata_eval_uniform(uint64_t seed, uint64_t stream, uint64_t i);

/* Bootstrap resample b (0-based) as weights: tw[i] = (times row i is drawn in n
 * draws with replacement; draw k picks row floor(x_k * n / 2^64), x_k the k-th
 * 64-bit draw of the generator's stream keyed by (seed, b + 1)) times w[i]
 * (w NULL = 1). */
STRATA_API void strata_eval_resample_weights(uint64_t seed, long b, size_t n, const double *w, double *tw);

/* ---- survival outcomes (Cox models; docs/cox.md) ------------------------ */

typedef struct strata_surv_input {
    size_t n;
    const double *time;     /* follow-up time >= 0 */
    const double *event;    /* 1 = event, 0 = censored */
    const double *lp;       /* risk score (linear predictor): higher = earlier event */
    const double *risk;     /* predicted risk of an event by the horizon in [0, 1], or NULL */
    const double *w;        /* case weights >= 0 (0 leaves the row out), or NULL for 1 */
    const int32_t *stratum; /* concordance pairs within strata (codes >= 0), or NULL */
} strata_surv_input;

typedef enum strata_conc_weight {
    STRATA_CONC_HARRELL = 0, /* every comparable pair weighs w_i w_j (Harrell et al. 1982) */
    STRATA_CONC_UNO = 1      /* ... times 1 / G(t_i-)^2, G the censoring Kaplan-Meier (Uno et al. 2011) */
} strata_conc_weight;

typedef struct strata_surv_conc {
    double c, se, lo, hi;  /* concordance, infinitesimal-jackknife SE, normal CI */
    double concordant, discordant, tied_x, tied_y; /* (time-)weighted pair counts */
} strata_surv_conc;

/* Concordance of lp with the outcome as survival::concordance(fit, timewt = "n" or
 * "n/G2"): pairs (i event, j at risk after t_i or censored at t_i) within strata;
 * lp ties count one half; tied event times are not comparable. STRATA_EDATA names
 * an invalid row, or says there is no comparable pair. */
STRATA_API strata_status strata_surv_concordance(strata_ctx *ctx, const strata_surv_input *in,
                                                 strata_conc_weight tw, double conf_level,
                                                 strata_surv_conc *out);

/* One risk group of the calibration at a horizon. */
typedef struct strata_surv_calib {
    double n;                   /* sum of weights */
    double events;              /* weighted events at or before the horizon */
    double pred;                /* mean predicted risk (weighted) */
    double obs, obs_lo, obs_hi; /* 1 - Kaplan-Meier at the horizon, CI from survfit's log-scale
                                   Greenwood interval (NaN when the KM reaches 0) */
    double p_min, p_max;        /* predicted risk range */
} strata_surv_calib;

/* Kaplan-Meier calibration at horizon: risk groups cut at type-7 quantiles of
 * in->risk (n_bins groups, intervals closed on the right, equal breaks merged:
 * strata_evaluate's risk groups), each with its observed and mean predicted risk.
 * bins holds n_bins entries; *n_out gets the non-empty groups. */
STRATA_API strata_status strata_surv_calibration(strata_ctx *ctx, const strata_surv_input *in,
                                                 double horizon, int n_bins, double conf_level,
                                                 strata_surv_calib *bins, int *n_out);

/* Writes surv_summary.csv (overall, then each level of each by-column: n, events by
 * the horizon, Harrell's and Uno's C with SEs and CIs at par->conf_level) and
 * surv_calibration.csv (par->n_bins risk groups of in->risk: n, events, mean
 * predicted, Kaplan-Meier observed risk by the horizon and its CI) into outdir,
 * disclosure-controlled per par as strata_eval_write: counts 1..max suppressed,
 * others rounded, a population's C and observed risk hidden with its events. */
STRATA_API strata_status strata_surv_evaluate_write(strata_ctx *ctx, const strata_surv_input *in, double horizon,
                                                    const strata_eval_by *by, size_t n_by,
                                                    const strata_eval_params *par, const char *outdir);

/* The least context memory budget strata_surv_evaluate_write runs in for n rows:
 * under a budget its sorts, sweep records and trees stream through scratch files
 * (the same bytes as without one) and its allocations stay within the budget.
 * Below this it is refused (STRATA_ENOMEM, naming both) before anything is
 * written. ~1.06 MB at 30,000 rows, ~8.3 MB at 2,000,000 (docs/scale.md). */
STRATA_API size_t strata_surv_evaluate_bytes(size_t n);

/* ---- output ------------------------------------------------------------- */

typedef struct strata_eval_provenance {
    const char *model_hash;  /* e.g. sha256 of the model file; may be NULL */
    const char *cohort_hash; /* may be NULL */
    const char *model_name;  /* may be NULL */
    const char *cohort_path; /* may be NULL */
} strata_eval_provenance;

/* Writes summary.csv, risk_groups.csv, yield.csv, net_benefit.csv,
 * calibration_curve.csv and evaluate.json into outdir (created if absent), each
 * atomically, mode 0644 (aggregates only: no patient identifiers). boot may be
 * NULL. With r->params.disclosure (default) every count is suppressed 1-7 and
 * rounded to 5 and values that would give a hidden count back are hidden ("*" in
 * CSV, null in JSON), through strata_table / strata_disclose_set. */
STRATA_API strata_status strata_eval_write(strata_ctx *ctx, const strata_eval_report *r,
                                const strata_bootstrap_result *boot,
                                const strata_eval_provenance *prov, const char *outdir);

/* The subgroup fairness table `strata run` publishes (fairness.csv), under the
 * same rules as strata_eval_write's outputs. In two steps so a caller can
 * disclose it together with its other tables: _parts builds one undisclosed
 * table per by-column (row 0 the overall population "all", the levels its
 * members; columns subgroup, level, n, events, observed, expected,
 * c_statistic, c_lo, c_hi, oe, oe_lo, oe_hi, calibration_slope, flags; for a
 * count outcome O/E and its limits are derived at disclosure from the
 * published observed, expected and n); after strata_disclose_set, _publish
 * withholds what would give a withheld count back (a population of 1-7 shows
 * keys, flags and counts only; withheld events hide every measure of the event
 * rate) and stacks the parts into one table "fairness" (the caller frees the
 * parts with strata_table_free and strata_free(ctx, parts, 0)). */
STRATA_API strata_status strata_eval_fairness_parts(strata_ctx *ctx, const strata_eval_report *r,
                                                    size_t *n_parts, strata_table ***parts);
STRATA_API strata_status strata_eval_fairness_publish(strata_ctx *ctx, const strata_eval_report *r,
                                                      size_t n_parts, strata_table **parts,
                                                      strata_table **out);

/* Derived subgroups: one rule for `strata evaluate --by` and a run's
 * evaluate.by (docs/evaluate.md#derived-subgroups). age_band from the age role:
 * 0-17, 18-39, 40-64, 65-74, 75-84, 85+ (the bands of the age-sex mix; ages
 * outside 0..120 missing); imd_quintile from the national IMD decile role:
 * "1 (most deprived)" .. "5 (least deprived)"; core20: "other" or "Core20"
 * (deciles 1-2, strata_core20). strata_eval_derived returns the number of
 * levels of a derived name with its level names and the role of the column it
 * is computed from, or 0 for any other name. strata_eval_derived_codes sets
 * codes 0..levels-1 (-1: missing or out of range) from src, the source
 * column's values (STRATA_NA_INT32 missing; src NULL: all missing); src and
 * codes may be the same array. */
STRATA_API size_t strata_eval_derived(const char *name, strata_role *source,
                                      const char *const **levels);
STRATA_API void strata_eval_derived_codes(const char *name, const int32_t *src, size_t n,
                                          int32_t *codes);

/* Reads outcome and by-columns from a cohort, evaluates the predicted response
 * `p` (n = rows of the cohort) and writes outdir (with bootstrap.csv when boot
 * is not NULL). by_names may name any categorical or integer column (integers
 * are coded by their distinct values) or a derived one (strata_eval_derived). */
STRATA_API strata_status strata_evaluate_scored(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     const double *p, const char *const *by_names, size_t n_by,
                                     const strata_eval_params *par,
                                     const strata_bootstrap_result *boot,
                                     const strata_eval_provenance *prov, const char *outdir);

/* strata_evaluate_scored with the predictions scored block by block as they
 * are read (strata_scorer: strata_score's bits), never a whole column of them:
 * under the context's memory budget nothing of n rows is held. */
STRATA_API strata_status strata_evaluate_scorer(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     strata_scorer *sc, const char *const *by_names, size_t n_by,
                                     const strata_eval_params *par, const strata_eval_provenance *prov,
                                     const char *outdir);

/* Harrell's bootstrap for a saved GLM: each resample refits the model's
 * formula and family on the cohort (multiplicities as prior weights) and
 * scores every row; p = the saved model's predictions (rows with p or the
 * outcome missing are left out). Resamples run in order (vp->parallel is
 * ignored); results depend only on vp->seed. Models fitted with a weights
 * column are STRATA_ESPEC for now. */
STRATA_API strata_status strata_evaluate_bootstrap_glm(strata_ctx *ctx, const strata_model *m,
                                            strata_cohort *cohort, const char *outcome,
                                            const double *p, strata_family fam,
                                            const strata_validate_params *vp,
                                            strata_bootstrap_result *res);

#ifdef __cplusplus
}
#endif
#endif
