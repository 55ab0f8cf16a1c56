/* strata/stratify.h — turning per-patient risks into what a PCN acts on:
 * fixed scores (eFI category, Charlson-style score, segments, Core20), risk
 * tiers, reason codes, per-group aggregation with exact Poisson O/E, funnel
 * limits, SII/RII, intervention lists, disclosure control and writers.
 * All functions work on plain arrays; results are identical whatever the
 * thread count. Methods, cut-offs and citations: docs/stratify.md. */
#ifndef STRATA_STRATIFY_H
#define STRATA_STRATIFY_H

#include <stddef.h>
#include <stdint.h>

#include "strata/core.h"
#include "strata/dist.h"
#include "strata/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- funnel plots for O/E (Spiegelhalter 2005; FunnelPlotR; engine/aggregate/strat_funnel.c) */
typedef enum strata_od_method {
    STRATA_OD_NONE = 0,      /* exact Poisson limits */
    STRATA_OD_WINSORISE = 1, /* DerSimonian-Laird tau^2, z winsorised at trim per tail */
    STRATA_OD_SHMI = 2       /* tau^2 with z truncated (units beyond the trim quantiles dropped) */
} strata_od_method;

typedef struct strata_funnel_params {
    strata_od_method od; /* default STRATA_OD_NONE */
    double trim;         /* tail fraction for winsorising/truncating z, default 0.1 */
} strata_funnel_params;

typedef struct strata_funnel {
    strata_od_method od;
    double phi;   /* dispersion (1/k) sum z^2 after winsorising/truncation */
    double tau2;  /* between-unit variance on the log(O/E) scale; 0 = Poisson limits */
    size_t k;     /* units used (E > 0, O > 0 for the log scale) */
} strata_funnel;

STRATA_API void strata_funnel_params_init(strata_funnel_params *p);
STRATA_API strata_status strata_funnel_params_check(strata_ctx *ctx, const strata_funnel_params *p);
/* Estimates phi and tau^2 from k units (log(O/E), s = 1/sqrt(E)). */
STRATA_API strata_status strata_funnel_fit(strata_ctx *ctx, const strata_funnel_params *p, size_t k,
                                const double *obs, const double *expected, strata_funnel *out);
/* Control limits for O/E at expected count E and two-sided level (0.95, 0.998):
 * tau^2 = 0: lo = qgamma((1-level)/2, E)/E, hi = qgamma((1+level)/2, E+1)/E;
 * tau^2 > 0: exp(-/+ z sqrt(1/E + tau^2)). */
STRATA_API void strata_funnel_limits(const strata_funnel *f, double expected, double level, double *lo,
                          double *hi);
/* -2 below the 99.8% limit, -1 below 95%, 0 inside, +1 above 95%, +2 above 99.8%. */
STRATA_API int strata_funnel_flag(const strata_funnel *f, double obs, double expected);

/* ---- slope and relative index of inequality (PHEindicatormethods; engine/aggregate/strat_sii.c) */
typedef enum strata_sii_scale {
    STRATA_SII_OTHER = 0, /* se on the value's own scale */
    STRATA_SII_RATE = 1,  /* se of log(value) */
    STRATA_SII_PROP = 2   /* se of logit(value) */
} strata_sii_scale;

typedef struct strata_sii_params {
    size_t reps;        /* simulations for the CI, default 100000, minimum 1000 */
    uint64_t seed;      /* default 20240601 */
    double level;       /* default 0.95 */
    double multiplier;  /* default 1; negative inverts the RII */
    strata_sii_scale scale;
} strata_sii_params;

typedef struct strata_sii_result {
    double sii, sii_lo, sii_hi;
    double rii, rii_lo, rii_hi;
} strata_sii_result;

STRATA_API void strata_sii_params_init(strata_sii_params *p);
STRATA_API strata_status strata_sii_params_check(strata_ctx *ctx, const strata_sii_params *p);
/* k ordered quantiles (first = most deprived), their population, value and se. */
STRATA_API strata_status strata_sii(strata_ctx *ctx, const strata_sii_params *p, size_t k, const double *pop,
                         const double *value, const double *se, strata_sii_result *out);

/* ---- fixed scores (models/scores/scores.c) --------------------------------------- */
typedef enum strata_frailty {
    STRATA_FRAIL_FIT = 0,      /* eFI 0-4 deficits (score <= 0.12) */
    STRATA_FRAIL_MILD = 1,     /* 5-8 (0.12 < score <= 0.24) */
    STRATA_FRAIL_MODERATE = 2, /* 9-12 (0.24 < score <= 0.36) */
    STRATA_FRAIL_SEVERE = 3    /* 13-36 (score > 0.36) */
} strata_frailty;
/* -1 for a count outside 0..36 (missing). */
STRATA_API int strata_efi_category(int deficits);
STRATA_API const char *strata_frailty_name(int category);

/* Condition flags of the synthetic cohort, in this order (the table of
 * docs/synthetic.md#conditions; cohort columns named by strata_condition_name). */
enum {
    STRATA_C_HYPERTENSION, STRATA_C_DIABETES, STRATA_C_ASTHMA, STRATA_C_COPD, STRATA_C_CHD,
    STRATA_C_HEART_FAILURE, STRATA_C_AF, STRATA_C_STROKE_TIA, STRATA_C_CKD, STRATA_C_CANCER,
    STRATA_C_DEMENTIA, STRATA_C_DEPRESSION, STRATA_C_SMI, STRATA_C_LD, STRATA_C_EPILEPSY,
    STRATA_N_CONDITIONS
};
STRATA_API const char *strata_condition_name(int c);

/* Charlson weight sets (docs/stratify.md#charlson-style-score-from-the-synthetic-condition-flags).
 * The default everywhere (library and `strata run`) is Charlson 1987. */
typedef enum strata_charlson_weights {
    STRATA_CHARLSON_ORIGINAL = 0, /* Charlson et al., J Chronic Dis 1987;40(5):373-383: "charlson1987" */
    STRATA_CHARLSON_QUAN = 1      /* Quan et al., Am J Epidemiol 2011;173(6):676-682: "quan2011" */
} strata_charlson_weights;
/* "charlson1987" or "quan2011" (NULL for an unknown value). */
STRATA_API const char *strata_charlson_weights_name(strata_charlson_weights w);
/* Parses "charlson1987" / "quan2011"; STRATA_EINVAL naming the value otherwise. */
STRATA_API strata_status strata_charlson_weights_parse(strata_ctx *ctx, const char *name,
                                                       strata_charlson_weights *out);
/* Charlson-style score from one patient's 15 condition flags. A flag counts
 * when it is > 0: 0, a negative value and the NA code (INT32_MIN) all count
 * as absent (a coded record: no code, no condition). age_points adds 1 per
 * decade from 50 (max 4). */
STRATA_API int strata_charlson(strata_charlson_weights w, const int32_t *flags, int age, int age_points);
STRATA_API int strata_multimorbidity(const int32_t *flags); /* number of flags > 0 (same rule) */
STRATA_API int strata_core20(int imd_decile);               /* 1 for national IMD deciles 1-2 */

/* Segments (Bridges to Health-style), first matching rule wins; docs/stratify.md. */
typedef enum strata_segment {
    STRATA_SEG_END_OF_LIFE = 0,
    STRATA_SEG_FRAILTY = 1,
    STRATA_SEG_COMPLEX = 2,
    STRATA_SEG_STABLE_LTC = 3,
    STRATA_SEG_CHILDREN = 4,
    STRATA_SEG_WELL = 5,
    STRATA_N_SEGMENTS = 6
} strata_segment;
STRATA_API const char *strata_segment_name(int s);

typedef struct strata_segment_params {
    int eol_top_tiers;     /* end of life: severe frailty and tier <= this (default 2) */
    int complex_ltc;       /* complex: ltc_count >= this (default 4) */
    int complex_ltc_adm;   /* ... or ltc_count >= this (default 2) */
    int complex_adm;       /*     with prior emergency admissions >= this (default 2) */
    int child_age;         /* children: age < this with no LTC (default 18) */
} strata_segment_params;
STRATA_API void strata_segment_params_init(strata_segment_params *p);

/* One patient's inputs for the segment rules. */
typedef struct strata_segment_in {
    int age, ltc_count, efi_deficits, cancer, heart_failure, dementia, prior_emergency;
    int tier; /* 1 = highest */
} strata_segment_in;
STRATA_API int strata_segment_of(const strata_segment_params *p, const strata_segment_in *in);

/* PLUS groups (Core20PLUS5): a patient matches rule r when col[i] is one of
 * codes[0..n_codes-1], or col[i] > 0 when n_codes == 0 (a 0/1 flag). */
typedef struct strata_plus_rule {
    const char *name;
    const int32_t *col;
    size_t n_codes;
    const int32_t *codes;
} strata_plus_rule;
/* mask[i] bit r = rule r matched (n_rules <= 32); any[i] = mask[i] != 0. Either may be NULL. */
STRATA_API strata_status strata_plus_flags(strata_ctx *ctx, size_t n, size_t n_rules,
                                const strata_plus_rule *rules, uint32_t *mask, uint8_t *any);

/* ---- risk tiers (engine/stratify/strat_tiers.c) ------------------------------------ */
#define STRATA_MAX_TIERS 9 /* up to 8 cuts, as strata_run_spec.tiers */
typedef enum strata_tier_mode { STRATA_TIER_PERCENTILE = 0, STRATA_TIER_ABSOLUTE = 1 } strata_tier_mode;
typedef struct strata_tier_params {
    strata_tier_mode mode;
    size_t n_cuts;                 /* tiers = n_cuts + 1 */
    double cut[STRATA_MAX_TIERS - 1];
    /* PERCENTILE: fraction of the population in each tier from the top
     * (default 0.005, 0.045, 0.15; the rest is the last tier).
     * ABSOLUTE: risk thresholds, descending; risk >= cut[t] puts a patient in tier t+1. */
} strata_tier_params;
STRATA_API void strata_tier_params_init(strata_tier_params *p);
STRATA_API strata_status strata_tier_params_check(strata_ctx *ctx, const strata_tier_params *p);
/* tier[i] in 1..n_cuts+1 (1 = highest). group == NULL: whole population;
 * otherwise percentiles within each group code 0..n_groups-1. Ties in risk are
 * broken by row (lower row first). Risk NaN or group out of range: EDATA. */
STRATA_API strata_status strata_tiers(strata_ctx *ctx, const strata_tier_params *p, size_t n,
                           const double *risk, const int32_t *group, size_t n_groups,
                           uint8_t *tier);

/* Tiers from row blocks (docs/scale.md, "The run's memory by stage"): rows
 * [r0, r0 + b) of the n are read through read — their risks and (n_groups >
 * 0) group codes, filled into the buffers given or pointed to in the
 * caller's memory — in row order, three times for percentile tiers (checked
 * and counted; pushed to the ranking, the one external sort under half the
 * memory budget; then tiered), once for absolute; each block's tiers go to
 * write in row order. Nothing of n rows is held but the ranking; one block
 * of n is strata_tiers itself (the same tiers: ties broken by row). skip_nan:
 * a NaN risk gets tier 0 and no place in the ranking. */
typedef struct strata_tier_source {
    size_t n, n_groups;   /* n_groups 0: the whole population */
    int skip_nan;
    size_t block;         /* rows a block (0 or >= n: one block) */
    int in_place;         /* read always points into the caller's memory: no block buffers */
    strata_status (*read)(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *risk_buf,
                          int32_t *group_buf, const double **risk, const int32_t **group);
    strata_status (*write)(strata_ctx *ctx, void *ud, size_t r0, size_t b, const uint8_t *tier);
    void *ud;
} strata_tier_source;
STRATA_API strata_status strata_tiers_source(strata_ctx *ctx, const strata_tier_params *p,
                                             const strata_tier_source *src);

/* ---- reason codes (engine/stratify/strat_reasons.c) ----------------------- */
/* Contribution callback: writes x_ij for j = 0..p-1 of row i into x. */
typedef strata_status (*strata_row_fn)(void *ud, size_t row, double *x);
typedef struct strata_reason_model {
    size_t p;
    const char *const *names; /* term names (p) */
    const double *beta;       /* coefficients (p) */
    const double *xbar;       /* population means of the design columns (p) */
    const double *X;          /* dense row-major design (n x p), or NULL to use row_fn */
    strata_row_fn row_fn;
    void *ud;
    /* Reasons per model variable (docs/stratify.md#reason-codes): n_groups > 0
     * ranks groups of columns, group g's contribution being
     * sum_j share[j * n_groups + g] * beta_j (x_ij - xbar_j) (a spline's basis
     * and the variable's share of each interaction in one group); term[] then
     * holds group indices. n_groups = 0: one reason per design column. */
    size_t n_groups;
    const double *share;      /* p x n_groups, row-major */
} strata_reason_model;
/* For each of n_rows rows, the top k terms (or groups) by contribution
 * beta_j (x_ij - xbar_j) > 0, in decreasing order (ties: lower index first);
 * term[r*k + m] = -1 and contrib 0 when fewer. */
STRATA_API strata_status strata_reason_codes(strata_ctx *ctx, const strata_reason_model *m, size_t n_rows,
                                  const size_t *rows, size_t k, int32_t *term, double *contrib);
/* The text of one reason as a clinician reads it, from the variable's cohort
 * column and the patient's value: "age 87", "3 emergency admissions in the
 * last 12 months", "severe frailty (eFI 15 deficits)", "lives in IMD decile 1 (most
 * deprived)", "heart failure", "male"; level is the factor level's text
 * (NULL for a number). Unknown columns read "<column> <value>" with
 * underscores as spaces. Always NUL-terminates buf (size > 0). */
STRATA_API void strata_reason_text(const char *column, double value, const char *level, char *buf,
                                   size_t size);

/* ---- aggregate tables and disclosure control: strata/table.h ------------------------ */
/* The funnel a table's FUNNEL column was fitted with at disclosure (on the
 * published O and E): 1 and *out filled, or 0 when the table has none. */
STRATA_API int strata_table_funnel(const strata_table *t, strata_funnel *out);

/* ---- standardisation (PHEindicatormethods; engine/aggregate/strat_standard.c) ------ */
/* The 2013 European Standard Population: 19 five-year bands 0-4 ... 85-89, 90+. */
#define STRATA_ESP_BANDS 19
STRATA_API const double *strata_esp2013(void);
STRATA_API int strata_esp_band(int age); /* 0..18, -1 for a missing or negative age */

typedef struct strata_dsr_result {
    double value, lo, hi; /* per multiplier (default 100,000); NaN when O < 10 */
    double raw;           /* the rate before the O < 10 rule (for a rule on a published O) */
    double var;           /* Dobson variance of the DSR (per multiplier, squared) */
    double observed;      /* O = sum x */
} strata_dsr_result;
/* Directly standardised rate of k categories (x events, n population, w the
 * standard population) with Dobson limits (PHE calculate_dsr): DSR = sum(x w /
 * n) / sum(w) * mult; var = sum(x (w/n)^2) / sum(w)^2 * mult^2; limits DSR +
 * sqrt(var/O) (Byar(O) - O). NaN (not an error) when O < 10. */
STRATA_API strata_status strata_dsr(strata_ctx *ctx, size_t k, const double *x, const double *n,
                                    const double *w, double level, double mult,
                                    strata_dsr_result *out);
/* Indirectly standardised ratio O/E with E = sum(n x_ref / n_ref) (PHE
 * calculate_ISRatio): exact limits below O = 10, Byar from 10. */
STRATA_API strata_status strata_isr(strata_ctx *ctx, size_t k, const double *x, const double *n,
                                    const double *x_ref, const double *n_ref, double level,
                                    double *expected, double *ratio, double *lo, double *hi);

/* ---- per-group aggregation (engine/stratify/strat_groups.c, strat_inequality.c) ---- */
/* The five adult clinical areas of Core20PLUS5 (NHS England), as bits of
 * strata_strat_input.c5_mask; maternity has no source in a GP extract yet. */
enum {
    STRATA_C5_MATERNITY = 0, STRATA_C5_SMI = 1, STRATA_C5_RESPIRATORY = 2,
    STRATA_C5_CANCER = 3, STRATA_C5_HYPERTENSION = 4, STRATA_N_C5 = 5
};
STRATA_API const char *strata_c5_name(int area); /* "maternity", "smi", ... */

typedef struct strata_strat_input {
    size_t n;
    const double *risk;       /* predicted probability / expected events per patient; NaN =
                               * unscored: counted in the list size, age-sex bands, segments
                               * and n_unscored, in no tier, expected, observed or need */
    const double *observed;   /* observed events per patient, or NULL */
    const int32_t *age;       /* years */
    const int32_t *sex;       /* 0 F, 1 M, -1 missing */
    const int32_t *imd_decile;/* 1..10, other = missing */
    const int32_t *ethnicity; /* code 0..n_ethnicity-1, -1 missing */
    size_t n_ethnicity;
    const char *const *ethnicity_names;
    const uint8_t *tier;      /* 1..n_tiers; 0 for an unscored patient */
    size_t n_tiers;
    const uint8_t *segment;   /* strata_segment */
    const double *need;       /* need weight per patient, or NULL = risk */
    /* Core20PLUS5 (strata_group_core20plus5): PLUS groups as bits (strata_plus_flags)
     * named plus_names[0..n_plus-1], and the clinical areas as bits (STRATA_C5_*). */
    const uint32_t *plus_mask;
    size_t n_plus;
    const char *const *plus_names;
    const uint8_t *c5_mask;
} strata_strat_input;

typedef struct strata_group_params {
    double level;             /* O/E CI level, default 0.95 */
    strata_funnel_params funnel;
    double budget;            /* fair-share budget (0 = no column) */
    strata_sii_params sii;
    int measure;              /* 1: the outcome is a measure summed over people (cost: gamma,
                               * gaussian): observed_list / expected_list are sums published like
                               * means (withheld for 1-7 people), never rounded like counts; O/E
                               * without Poisson limits; no funnel, ISR or DSR. Default 0 */
} strata_group_params;
STRATA_API void strata_group_params_init(strata_group_params *p);

/* One row per group plus a final total row "ALL": list size and n_unscored,
 * age-sex bands, tiers, segments; expected events E (a TOTAL: rounded like a
 * count) and observed O over the scored patients, mean risk, O/E with exact
 * limits and funnel flag and limits (derived at disclosure from the published
 * O and E); the classical ISR by age band and sex (reference: the ALL row's
 * rates; Byar limits) and the DSR per 100,000 (2013 ESP, Dobson limits); need:
 * expected events from the ALL row's age-sex mean risks, need-weighted
 * population, need index (crude and age-sex adjusted) and fair share, all
 * derived from published totals; Core20 high-risk share. Not yet disclosed.
 * funnel_out (may be NULL) receives the funnel fitted on the exact O and E;
 * the published one is strata_table_funnel after disclosure. */
STRATA_API strata_status strata_group_summary(strata_ctx *ctx, const strata_group_params *p,
                                   const strata_strat_input *in, const int32_t *group,
                                   size_t n_groups, const char *const *group_names,
                                   strata_funnel *funnel_out, strata_table **out);
/* Long table: per group (and ALL), per IMD quintile (1 = most deprived) and
 * per ethnicity: n, mean risk, expected, observed, O/E + CI (n_unscored<sfx>
 * too when some patients are unscored). */
STRATA_API strata_status strata_group_inequality(strata_ctx *ctx, const strata_group_params *p,
                                      const strata_strat_input *in, const int32_t *group,
                                      size_t n_groups, const char *const *group_names,
                                      strata_table **out);
/* Per group (and ALL): SII/RII across IMD deciles of the age-standardised
 * mean risk (2013 ESP weights), and of the directly standardised observed
 * rate per 100,000 (columns *_obs, PHE's method: se from the Dobson limits on
 * the log scale; deciles with O < 10 left out) when outcomes exist. */
STRATA_API strata_status strata_group_sii(strata_ctx *ctx, const strata_group_params *p,
                               const strata_strat_input *in, const int32_t *group,
                               size_t n_groups, const char *const *group_names,
                               strata_table **out);
/* Core20PLUS5 per group (and ALL): n_list, n_core20, one n_plus_<name> per
 * PLUS group, n_plus_any, n_core20plus (Core20 or any PLUS group), and per
 * clinical area with a source: n_<area> and n_core20plus_<area>. Not yet
 * disclosed. */
STRATA_API strata_status strata_group_core20plus5(strata_ctx *ctx, const strata_strat_input *in,
                                                  const int32_t *group, size_t n_groups,
                                                  const char *const *group_names,
                                                  strata_table **out);

/* ---- the group tables from row blocks (engine/stratify/strat_sums.c) ------------- */
/* The four tables above accumulated from blocks of rows, so a caller never
 * holds whole columns (strata run under a memory budget: docs/scale.md). The
 * functions above are this with one block. Every sum is kept across blocks
 * in row order, so any split into blocks gives the same bytes. */
typedef enum strata_group_kind {
    STRATA_GROUP_SUMMARY = 0,     /* strata_group_summary: two passes (the ALL row's rates first) */
    STRATA_GROUP_INEQUALITY = 1,  /* strata_group_inequality */
    STRATA_GROUP_SII = 2,         /* strata_group_sii */
    STRATA_GROUP_CORE20PLUS5 = 3  /* strata_group_core20plus5 (p may be NULL) */
} strata_group_kind;
typedef struct strata_group_sums strata_group_sums;
/* shape: shape->n the rows in all; which inputs are given (a non-NULL
 * pointer; never read) and their metadata (n_tiers, n_ethnicity and names,
 * n_plus and names: kept, so they must outlive the sums). EINVAL for a bad
 * kind, an SII without imd_decile or more than 32 PLUS groups. */
STRATA_API strata_status strata_group_sums_new(strata_ctx *ctx, strata_group_kind kind,
                                               const strata_group_params *p,
                                               const strata_strat_input *shape, size_t n_groups,
                                               strata_group_sums **out);
/* Passes over all rows the kind needs: 2 for the summary, else 1. */
STRATA_API int strata_group_sums_passes(const strata_group_sums *s);
/* Rows [r0, r0 + blk->n) of pass `pass` (0-based): blk's pointers are the
 * block's values (the same inputs given as in the shape), group its codes.
 * The blocks of a pass come in row order from row 0 and cover every row, the
 * passes in order. Bad values: EDATA naming the row (r0 + i + 1) and value. */
STRATA_API strata_status strata_group_sums_add(strata_ctx *ctx, strata_group_sums *s, int pass,
                                               size_t r0, const strata_strat_input *blk,
                                               const int32_t *group);
/* The table (not yet disclosed) once every pass has seen every row;
 * funnel_out as strata_group_summary's (summary only; may be NULL). */
STRATA_API strata_status strata_group_sums_table(strata_ctx *ctx, strata_group_sums *s,
                                                 const char *const *group_names,
                                                 strata_funnel *funnel_out, strata_table **out);
STRATA_API void strata_group_sums_free(strata_ctx *ctx, strata_group_sums *s); /* NULL ok */

/* ---- targeted intervention lists (engine/stratify/strat_lists.c) ------------------ */
typedef struct strata_list_params {
    size_t per_group;    /* capacity per group, or 0 to use per_1000 */
    double per_1000;     /* capacity per 1,000 patients (rounded half up) */
    int prop_univ;       /* most deprived quintile gets at least its share of need */
    int skip_nan;        /* 1: a patient whose risk is NaN (unscored) takes no part: never
                            selected, not in the group's size (capacity per 1,000 of the
                            others); 0 (default): a NaN risk is an error */
} strata_list_params;
STRATA_API void strata_list_params_init(strata_list_params *p);
STRATA_API strata_status strata_list_params_check(strata_ctx *ctx, const strata_list_params *p);
/* Selects patients per group; rows[] (capacity n) receives selected rows,
 * grouped by group and ranked by risk (descending, ties by row); rank[] the
 * 1-based rank within group; *n_sel their number. need NULL = risk. */
STRATA_API strata_status strata_intervention_select(strata_ctx *ctx, const strata_list_params *p, size_t n,
                                         const double *risk, const double *need,
                                         const int32_t *group, size_t n_groups,
                                         const int32_t *imd_decile, size_t *rows,
                                         uint32_t *rank, size_t *n_sel);
/* The same lists from row blocks (docs/scale.md, "The run's memory by
 * stage"): rows [r0, r0 + b) of the n are read through rows.read (risks and,
 * with rows.n_groups > 0, group codes; rows.write, rows.skip_nan unused: the
 * params' skip_nan counts) and, for proportionate universalism, read_imd
 * (IMD deciles; NULL: none), filled into the buffers given or pointed to,
 * in row order. A pass counts each group's rows; a heap per group keeps its
 * best rows up to its capacity; with proportionate universalism the need
 * sums come in rank order from the ranking (the one external sort under half
 * the memory budget) of everyone, then of the deprived quintile, one after
 * the other. Nothing of n rows is held but a ranking with proportionate
 * universalism: the list's rows (per group at most the larger of its
 * capacity and its deprived minimum) in *rows and *rank, allocated (freed
 * with strata_free), the same as strata_intervention_select's (need NULL),
 * which is this with whole arrays as one block. */
typedef struct strata_list_source {
    strata_tier_source rows;
    strata_status (*read_imd)(strata_ctx *ctx, void *ud, size_t r0, size_t b, int32_t *buf,
                              const int32_t **imd); /* called with rows.ud */
} strata_list_source;
STRATA_API strata_status strata_intervention_select_source(strata_ctx *ctx,
                                                           const strata_list_params *p,
                                                           const strata_list_source *src,
                                                           size_t **rows, uint32_t **rank,
                                                           size_t *n_sel);

/* ---- per-patient stratification in one call (engine/stratify/strat_patients.c) --- */
typedef struct strata_patient_cols {
    size_t n;
    const double *risk;
    const int32_t *age, *efi_deficits, *prior_emergency; /* any may be NULL (missing) */
    const int32_t *flags[STRATA_N_CONDITIONS];           /* each may be NULL (absent) */
} strata_patient_cols;

typedef struct strata_patient_params {
    strata_tier_params tiers;           /* strata_tier_params_init */
    strata_segment_params segments;     /* strata_segment_params_init */
    strata_charlson_weights charlson;   /* default STRATA_CHARLSON_ORIGINAL (Charlson 1987) */
} strata_patient_params;
STRATA_API void strata_patient_params_init(strata_patient_params *p);
STRATA_API strata_status strata_patient_params_check(strata_ctx *ctx, const strata_patient_params *p);
/* Tiers (within groups when group != NULL) of the scored patients: a NaN risk
 * (an unscored patient) gets tier 0 and counts as the lowest tier in the
 * segment rules; the percentiles are over the scored patients. Then per patient: frailty
 * category (-1 when efi_deficits is missing), Charlson score (p->charlson
 * weights, no age points), multimorbidity count and segment. Missing inputs
 * (docs/stratify.md#missing-values): a NULL flag column or a flag <= 0 / NA
 * counts as absent, in the score, the count and the segment rules alike; a
 * NULL age or an NA age is "unknown" (never a child); a NULL or NA prior
 * emergency count is 0. This is the one implementation `strata run` uses.
 * Output arrays of length n; frailty/charlson/ltc may be NULL. */
STRATA_API strata_status strata_stratify_patients(strata_ctx *ctx, const strata_patient_params *p,
                                       const strata_patient_cols *in, const int32_t *group,
                                       size_t n_groups, uint8_t *tier, uint8_t *segment,
                                       int8_t *frailty, int16_t *charlson, int8_t *ltc);

/* Patient-level intervention list table (patient_level = 1, written 0600),
 * the layout of `strata run`'s intervention_list.csv: rank, patient_id (text,
 * exact for any int64), <group_label>, practice, risk (9 significant digits),
 * tier, segment, frailty, ltc_count, charlson, core20, imd_decile,
 * reason_1..reason_k. A column whose input is NULL is left empty (core20: 0
 * when imd_decile is NULL or NA, as strata_core20). */
typedef struct strata_list_columns {
    const int64_t *patient_id;    /* or NULL: the 1-based row */
    const double *risk;
    const uint8_t *tier, *segment;
    const int32_t *group;
    const char *const *group_names;
    const char *group_label;      /* name of the group column, NULL = "group" */
    const int32_t *practice;      /* practice codes (-1 missing), or NULL */
    size_t n_practices;
    const char *const *practice_names;
    const int8_t *frailty, *ltc;  /* as strata_stratify_patients writes them, or NULL */
    const int16_t *charlson;
    const int32_t *imd_decile;    /* national decile 1..10 (other = missing), or NULL */
    size_t k_reasons;
    const int32_t *reason_term;   /* n_sel x k_reasons term indices (-1 none), or NULL */
    const char *const *term_names;
    const char *const *reason_text; /* or n_sel x k_reasons texts (NULL = none), used
                                       instead of reason_term/term_names */
} strata_list_columns;
STRATA_API strata_status strata_list_table(strata_ctx *ctx, const strata_list_columns *c, size_t n_sel,
                                const size_t *rows, const uint32_t *rank, strata_table **out);

/* ---- HTML report (engine/report/report_html.c) ---------------------------------- */
typedef struct strata_report_input {
    const char *title;
    const strata_table *summary;    /* from strata_group_summary, disclosed */
    const strata_table *inequality; /* from strata_group_inequality, disclosed (or NULL) */
    const strata_table *sii;        /* from strata_group_sii (or NULL) */
    const strata_table *fairness;   /* any disclosed table (or NULL) */
    const strata_funnel *funnel;    /* for the funnel limits (or NULL) */
    size_t n_calib;                 /* calibration points: mean predicted, observed */
    const double *calib_pred, *calib_obs;
    size_t n_card;                  /* model card: key/value pairs */
    const char *const *card_keys, *const *card_values;
    size_t n_listed;                /* patients offered proactive care (0 = not stated) */
    const char *data_dir;           /* areas.csv for PCN/ICB names; NULL = located */
    const strata_sdc_params *sdc;   /* the rules the tables were disclosed with, stated on
                                       the page (NULL = the defaults) */
    const strata_table *offers;     /* per group (column 0 the summary's key): n_offered,
                                       people offered proactive care, disclosed (or NULL) */
    const struct strata_elnet *elnet; /* an elastic net with CV: its curve is drawn (or NULL) */
} strata_report_input;
/* Writes one self-contained HTML file (inline SVG and CSS, no scripts, no
 * network): a plain-English summary first, then the PCN index, tiers, funnel,
 * deprivation gradient, calibration, fairness, model card and disclosure
 * rules, each chart titled with a "how to read this" paragraph; PCNs and ICBs
 * by name with their codes; prints to A4. Every table must be disclosed
 * (EINVAL otherwise). */
STRATA_API strata_status strata_report_html(strata_ctx *ctx, const strata_report_input *in, const char *path);
/* One printable A4 page per PCN (`report: {per_pcn: true}`), in one HTML file
 * with a page break after each (engine/report/report_pcn.c): the PCN by name
 * with its code, its tiers, need index, observed / expected admissions with
 * its position on the funnel of all PCNs, its deprivation gradient (mean risk
 * by IMD quintile, SII/RII), how many of its patients are offered proactive
 * care (in->offers), and the disclosure rules; an index of the PCNs on screen
 * only. Same inputs and checks as strata_report_html. */
STRATA_API strata_status strata_report_pcn_packs(strata_ctx *ctx, const strata_report_input *in,
                                                 const char *path);

/* Tables for Excel and Power BI (engine/report/report_tables.c), written into
 * outdir atomically:
 *  - outputs.xlsx (0644): a README sheet (disclosure rules, sheets, column
 *    definitions), one sheet per aggregate table (numbers typed; area names
 *    beside codes; a suppressed cell is empty and shaded, and the row's
 *    suppressed_cells column names it), and the long table;
 *  - aggregates_long.csv (0644): one row per area and measure: group_type,
 *    group_code, group_name, measure, value, lower, upper, suppressed (1 =
 *    withheld, value empty) — never "*" in a numeric column;
 *  - patient_lists.xlsx (0600, owner only) when patient_csv is given: that
 *    CSV as a sheet, patient ids as text.
 * Every table must be aggregate and disclosed (EINVAL otherwise). */
typedef struct strata_office_input {
    const char *title;
    size_t n_tables;
    const strata_table *const *tables; /* NULL entries are skipped */
    const char *const *names;          /* sheet names: "pcn_summary", "practice_summary",
                                          "icb_summary", "inequality", "sii", "fairness" */
    const strata_sdc_params *sdc;      /* the rules the tables were disclosed with (NULL =
                                          the defaults), stated on the README sheet */
    const char *patient_csv;           /* e.g. <outdir>/intervention_list.csv, or NULL */
    const char *data_dir;              /* areas.csv for names; NULL = strata_synth_locate_data */
} strata_office_input;
#define STRATA_OFFICE_MAX_FILES 4
typedef struct strata_office_files {
    size_t n;
    const char *file[STRATA_OFFICE_MAX_FILES]; /* names within outdir (static strings) */
    int patient_level[STRATA_OFFICE_MAX_FILES];
} strata_office_files;
STRATA_API strata_status strata_write_office(strata_ctx *ctx, const strata_office_input *in,
                                             const char *outdir, strata_office_files *written);

#ifdef __cplusplus
}
#endif
#endif
