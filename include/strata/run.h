/* strata/run.h — the run spec of `strata run SPEC --out DIR`: which cohort
 * (an existing file or a synthetic one), which model (fit or load), how to
 * evaluate, stratify, control disclosure and report (docs/run-spec.md); and
 * the fit spec of `strata fit --spec`. Parsing checks every key and names the
 * key and line of any error. */
#ifndef STRATA_RUN_H
#define STRATA_RUN_H

#include "strata/core.h"
#include "strata/model.h"
#include "strata/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_RUN_MAX_BY 16
#define STRATA_RUN_MAX_TIERS 8
#define STRATA_RUN_MAX_PLUS 8
#define STRATA_RUN_MAX_PLUS_LEVELS 16

typedef struct strata_run_spec {
    /* cohort: a file, or synthetic generation (synth_scope != NULL) */
    const char *cohort;          /* path (relative to the spec's directory), or NULL */
    const char *synth_scope;     /* "icb", "pcn", "england" or NULL */
    const char *synth_code;      /* ICB/PCN code, NULL = default */
    long synth_patients;         /* 0 = the real list size */
    long synth_seed;             /* default 1 */
    /* derive: features and outcomes from the cohort's event tables before the fit
     * (docs/derive.md): a derive spec file (relative to the spec), or an inline
     * mapping of the same keys (derive_key = "derive", derive = this spec's path) */
    const char *derive;          /* NULL = use the cohort's columns as they are */
    const char *derive_key;
    /* model: fit a GLM, or load a saved one */
    const char *model_load;      /* path or NULL */
    const char *family;          /* default "binomial" */
    const char *formula;         /* required unless model_load */
    const char *weights;         /* column or NULL */
    const char *outcome;         /* observed outcome column; default: the formula's response */
    /* family "cox": formula Surv(time, event) ~ ...; risk = absolute risk by the horizon
       (docs/cox.md), the observed outcome an event by the horizon */
    double horizon;              /* required with family cox, in the time unit of the outcome */
    const char *ties;            /* "efron" (default) or "breslow" */
    /* evaluation */
    const char *by[STRATA_RUN_MAX_BY]; /* subgroup columns (derived: age_band, imd_quintile) */
    size_t n_by;
    long bootstrap;              /* B resamples for optimism correction; 0 = none */
    long seed;                   /* seed of every random step; default 1 */
    /* stratification */
    double tiers[STRATA_RUN_MAX_TIERS]; /* top fractions, default .005 .045 .15 */
    size_t n_tiers;
    int tiers_absolute;          /* 1: tiers[] are risk thresholds (descending), not fractions */
    int tiers_within_pcn;        /* 0: across the whole cohort; 1: within each PCN */
    const char *funnel_od;       /* funnel overdispersion: "none" (default), "winsorise", "shmi" */
    const char *charlson_weights; /* "charlson1987" (default, Charlson 1987) or "quan2011" */
    double capacity_per_1000;    /* intervention list size per 1,000 patients (default 5) */
    long capacity;               /* or a fixed N per PCN (overrides when > 0) */
    int proportionate_universalism; /* default 1 */
    double budget;               /* fair-share allocation of this amount; 0 = none */
    /* Core20PLUS5 PLUS groups (stratify.plus): group k matches a patient when
     * column plus_column[k] is one of plus_levels[k][0..n_plus_levels[k]-1], or,
     * with no levels, when the column (a 0/1 flag) is > 0 */
    size_t n_plus;
    const char *plus_name[STRATA_RUN_MAX_PLUS];
    const char *plus_column[STRATA_RUN_MAX_PLUS];
    const char *plus_levels[STRATA_RUN_MAX_PLUS][STRATA_RUN_MAX_PLUS_LEVELS];
    size_t n_plus_levels[STRATA_RUN_MAX_PLUS];
    /* disclosure control */
    int disclosure;              /* default 1 (on) */
    long suppress_max;           /* counts 1..suppress_max hidden; default 7 */
    long round_to;               /* others rounded to the nearest; default 5 */
    /* report */
    const char *title;
    int per_pcn;                 /* 1: also pcn_packs.html, one A4 page per PCN (default 0) */
    long threads;                /* threads for this run only; 0 = the caller's context setting */
    int overwrite;               /* not a spec key: the caller's (CLI --overwrite) permission to
                                  * replace the outputs of an earlier run in outdir */
    size_t memory;               /* memory budget for this run only (`memory: 4G`); 0 = the caller's */
    int allow_invalid;           /* 1: run on a cohort strata validate rejects (recorded in the
                                  * manifest); default 0: the run stops with the report */
    /* owned storage (do not touch) */
    void *priv_;
    char *base_dir_;             /* directory of the spec file */
    char *path_;                 /* the spec file (inline derive:) */
} strata_run_spec;

/* Defaults for every field (no cohort, no formula). */
STRATA_API void strata_run_spec_init(strata_run_spec *s);
/* Loads and checks a YAML spec; errors are STRATA_ESPEC naming key and line. */
STRATA_API strata_status strata_run_spec_load(strata_ctx *ctx, const char *path, strata_run_spec *s);
/* Frees what strata_run_spec_load allocated; the struct can be reused. */
STRATA_API void strata_run_spec_free(strata_ctx *ctx, strata_run_spec *s);
/* Resolves a path given in the spec relative to the spec file's directory
 * into buf. */
STRATA_API void strata_run_spec_path(const strata_run_spec *s, const char *rel, char *buf, size_t size);

/* ---- the fit spec of `strata fit COHORT --spec FILE` (docs/glm.md#cli) ------
 * A flat YAML mapping of family, formula, weights, epsilon, max_iter,
 * na_action (complete|fail), start (auto|r) and out, read by the same YAML
 * reader and key checks as the run spec (engine/run/fit_spec.c). */
typedef struct strata_fit_spec {
    strata_glm_params glm;   /* strata_glm_params_init, then the keys given */
    const char *out;         /* "out", or NULL */
    void *priv_;             /* owned storage (do not touch) */
} strata_fit_spec;

/* Defaults (strata_glm_params_init, no out). */
STRATA_API void strata_fit_spec_init(strata_fit_spec *s);
/* Loads path: an unknown key, a nested value or a bad value is STRATA_ESPEC
 * naming file, key and line; EIO when unreadable. */
STRATA_API strata_status strata_fit_spec_load(strata_ctx *ctx, const char *path, strata_fit_spec *s);
/* Sets one key from text with the file's rules (the value is copied), e.g. a
 * command-line option overriding the file; a bad key or value is STRATA_EINVAL. */
STRATA_API strata_status strata_fit_spec_set(strata_ctx *ctx, strata_fit_spec *s, const char *key,
                                             const char *value);
STRATA_API void strata_fit_spec_free(strata_ctx *ctx, strata_fit_spec *s); /* then reusable */

/* Progress of strata_run: called after each stage ("cohort", "model",
 * "score", "evaluate", "stratify", "aggregate", "patients", "report"). */
typedef void (*strata_progress_fn)(void *ud, const char *stage, double fraction);

typedef struct strata_run_summary {
    size_t n_patients, n_pcn, n_listed;
    int threads;                                /* threads the run used */
    size_t n_unscored;                          /* left out: a model column missing */
    double c_statistic, oe, calibration_slope; /* NaN/0 when the cohort has no outcome */
    double deviance, pseudo_r2;                 /* the model family's deviance of the scored
                                                 * patients and 1 - D/D0 (docs/evaluate.md) */
    char report[4096];                          /* path of report.html */
    size_t n_invalid;                           /* problems strata validate found (run only
                                                 * with allow_invalid) */
    strata_sdc_params sdc;                      /* the disclosure rules the outputs had */
    /* The same counts as the disclosed tables publish them (NaN where withheld):
     * the ALL row's n_list and n_unscored_list, the offers total, the published
     * O/E; what `strata run --json` prints (the fields above are exact). */
    double pub_patients, pub_unscored, pub_listed, pub_oe;
} strata_run_summary;

/* Runs the whole job into outdir (created if needed; a folder holding an
 * earlier run's outputs is STRATA_EINVAL unless spec->overwrite). Outputs are
 * written in a 0700 staging folder inside outdir and moved into place only
 * when all succeeded, manifest.json last with each output's SHA-256
 * (docs/reliability.md#run-folder): cohort.h5 (synthetic
 * cohorts), model.h5, patients.csv and intervention_list.csv (0600),
 * pcn/practice/icb_summary.csv, inequality.csv, sii.csv, fairness.csv (all
 * disclosure-controlled), report.html and manifest.json. spec->threads > 0
 * applies to this run only: ctx keeps its own thread setting; a failure's
 * message and the warnings are recorded on ctx as for any call. */
STRATA_API strata_status strata_run(strata_ctx *ctx, const strata_run_spec *spec, const char *outdir,
                         strata_progress_fn progress, void *ud, strata_run_summary *sum);

#ifdef __cplusplus
}
#endif
#endif
