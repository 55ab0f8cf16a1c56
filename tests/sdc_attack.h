/* tests/sdc_attack.h — differencing attacks on everything a run publishes.
 * Reads the aggregate outputs of one output directory (the CSV tables,
 * aggregates.h5, aggregates_long.csv — the CSV twin of outputs.xlsx — and the
 * numbers of report.html) as one system of unknowns: every published count is
 * an integer interval (a rounded count its rounding band, a withheld one
 * [0, inf)), every other number a real interval of its printed precision.
 * Then it applies what an attacker knows — partitions and totals (ALL minus
 * visible rows, practice -> PCN -> ICB, subgroups vs totals, tiers and
 * segments vs list size), O = (O/E)·E, E = O for model factors, inverting a
 * CI's width, need-weighted population ÷ need index, expected ÷ mean risk,
 * percentile tier sizes from N — and propagates the intervals to a fixed
 * point. A withheld count, or a rounded non-zero count, whose interval closes
 * to one integer is a recovery. Any table a future change adds is attacked
 * the same way once it is published. Method: docs/stratify.md#6. */
#ifndef STRATA_SDC_ATTACK_H
#define STRATA_SDC_ATTACK_H

#include <stddef.h>

#define SDC_MAX_FINDINGS 12

typedef struct sdc_attack_opts {
    /* The disclosure rules the run applied (from manifest.json when
     * read_manifest is set): counts in [lo, hi] withheld, others rounded to
     * round_to (0/1 = none); enabled 0 = nothing to attack. */
    int read_manifest;
    int enabled;
    double lo, hi, round_to;
    /* Model factors: within each level (and over everyone, by the intercept)
     * a canonical-link GLM makes expected = observed exactly. */
    const char *factors[8];
    size_t n_factors;
    int canonical;
    /* Percentile tiers (fractions from the top) over the whole cohort or
     * within each PCN: tier sizes follow from N by definition. */
    double tier_cut[8];
    size_t n_tier_cuts;
    int tiers_within_pcn;
    /* Public practice -> PCN -> ICB map (data/reference/practices.csv). */
    const char *practices_csv;
    int verbose;
} sdc_attack_opts;

typedef struct sdc_attack_result {
    size_t n_tables, n_vars, n_secret, n_relations;
    size_t recovered;      /* withheld or rounded counts pinned to one value */
    size_t twin_mismatch;  /* a twin (h5, long CSV, report) shows another or a finer value */
    size_t rule_breaks;    /* a visible count in [lo, hi] or off the rounding grid */
    size_t contradictions; /* attacker hypotheses the outputs refute (dropped, not findings) */
    size_t checked_truth;  /* recoveries checked against patients.csv (list, tiers, segments) */
    size_t false_recovery; /* ... that were wrong: a wrong hypothesis of the attack itself */
    char finding[SDC_MAX_FINDINGS][512];
    size_t n_findings;
} sdc_attack_result;

/* Splits one RFC 4180 line (no embedded newlines) in place into at most max
 * fields; returns their number. */
size_t sdc_csv_split(char *line, char **f, size_t max);

/* Fills defaults: rules from the manifest, canonical link, the default tiers. */
void sdc_attack_opts_init(sdc_attack_opts *o);

/* Attacks every aggregate output in outdir. Returns 0 when the outputs could
 * be read (the result says what was found), -1 otherwise. */
int sdc_attack_outdir(const char *outdir, const sdc_attack_opts *o, sdc_attack_result *r);

#endif
