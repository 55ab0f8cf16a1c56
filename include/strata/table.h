/* strata/table.h — aggregate tables and the one path that publishes them:
 * disclosure control (engine/aggregate/strat_table.c). A table is opaque: its
 * values are set while it is being built, then strata_disclose / _set
 * suppresses, rounds and computes every derived value from the published
 * counts, records the rules it applied, and only then will a writer accept it.
 * After disclosure nothing can be made more precise: the setters fail, and
 * strata_table_hide can only withhold a further non-count cell.
 * Methods and sources: docs/stratify.md#6-disclosure-control. */
#ifndef STRATA_TABLE_H
#define STRATA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_table strata_table; /* opaque */

/* What a column holds decides what disclosure does to it. */
typedef enum strata_col_kind {
    STRATA_COL_KEY = 0,      /* text */
    STRATA_COL_COUNT = 1,    /* people or events: [lo, hi] withheld, others rounded, and
                              * complementary suppression over every relation */
    STRATA_COL_MEAN = 2,     /* mean over people of a value that gives no count back (Brier,
                              * mean cost): withheld when its base count is in [lo, hi] or withheld */
    STRATA_COL_PCT = 3,      /* 100 base/den, computed from the published columns */
    STRATA_COL_RATIO = 4,    /* regression output or index that gives no count back (SII, RII,
                              * C-statistic, calibration slope): published as computed */
    STRATA_COL_FLAG = 5,     /* small integer code (tier, flag) */
    STRATA_COL_TOTAL = 6,    /* a sum that equals or determines a count (expected events: E = O
                              * within a model factor's levels; need-weighted sums): rounded like a
                              * count, in every relation like a count, withheld with its base
                              * (and den) column, never for its own size */
    STRATA_COL_DERIVED = 7,  /* computed at disclosure from published columns (strata_recipe) */
    STRATA_COL_INTERNAL = 8  /* input of a derived column only; never written */
} strata_col_kind;

STRATA_API strata_status strata_table_new(strata_ctx *ctx, const char *name, size_t n_rows,
                                          strata_table **out);
/* A patient-level table (e.g. an intervention list): never disclosure-controlled,
 * written 0600 by strata_table_write_csv, refused by every aggregate writer. */
STRATA_API strata_status strata_table_new_patient(strata_ctx *ctx, const char *name,
                                                  size_t n_rows, strata_table **out);
STRATA_API void strata_table_free(strata_ctx *ctx, strata_table *t); /* NULL ok */

/* Adds a column; returns its index in *j. base: MEAN and TOTAL, the count
 * column gating it (-1 none); PCT, the numerator. den: PCT, the denominator;
 * TOTAL, a second gate (e.g. the observed count beside expected events). */
STRATA_API strata_status strata_table_add(strata_ctx *ctx, strata_table *t, const char *name,
                                          strata_col_kind kind, int decimals, int base, int den,
                                          int *j);

/* Derived columns: computed by the disclosure path from published columns
 * only, so no arithmetic on what is published gives back more than is
 * published. A derived cell is withheld when an input cell is. */
typedef enum strata_recipe_op {
    STRATA_RECIPE_RATIO = 0,   /* mult * a / (b - c) (c optional; b - c > 0) */
    STRATA_RECIPE_SHARE = 1,   /* mult * a / a[total row]: shares that add up to mult */
    STRATA_RECIPE_SCALE = 2,   /* b[total row] * a / a[total row] (need-weighted population) */
    STRATA_RECIPE_OE_EXACT = 3,/* a = O, b = E: O/E, exact Poisson (Garwood) limits */
    STRATA_RECIPE_OE_BYAR = 4, /* a = O, b = E: ISR, exact below 10, Byar from 10 (PHE) */
    STRATA_RECIPE_OE_LOG = 5,  /* a = O, b = E, c = n: O/E, log-normal limits with
                                * s^2 = 1/O - 1/n (c >= 0, binomial) or 1/O (c < 0, Poisson) */
    STRATA_RECIPE_DSR = 6,     /* a = O, b = DSR (INTERNAL), c = its variance (INTERNAL, same
                                * units squared): DSR, Dobson limits with Byar's at the
                                * published O; withheld when the published O < min_count */
    STRATA_RECIPE_FUNNEL = 7,  /* a = O, b = E: funnel flag (-2..2) of each member row, limits
                                * fitted (strata_funnel_fit) on the published O and E */
    STRATA_RECIPE_SUM = 8,     /* a + b (+ c): a count that is the sum of published counts
                                * (people in tiers 1-2), so it adds no relation of its own */
    STRATA_RECIPE_GRID = 9     /* a = a risk (INTERNAL), b = its population (count), c = a
                                * gate (count, optional): a on the grid of the rounded counts,
                                * round(a b / r) r / b with r the rounding base, so a x b
                                * gives back a multiple of r (a Kaplan-Meier observed risk) */
} strata_recipe_op;

typedef struct strata_recipe {
    strata_recipe_op op;
    int a, b, c;        /* input columns (-1 unused) */
    double mult;        /* RATIO, SHARE (default 1) */
    int part;           /* OE_*, DSR: 0 estimate, 1 lower limit, 2 upper limit */
    double level;       /* CI level (default 0.95) */
    double min_count;   /* DSR: withheld below this published O (default 10, PHE) */
    int od;             /* FUNNEL: strata_od_method */
    double trim;        /* FUNNEL: winsorising/truncation tail (default 0.1) */
} strata_recipe;
STRATA_API void strata_recipe_init(strata_recipe *d, strata_recipe_op op, int a, int b);
STRATA_API strata_status strata_table_add_derived(strata_ctx *ctx, strata_table *t, const char *name,
                                                  const strata_recipe *d, int decimals, int *j);

/* Building (undisclosed tables only; EINVAL afterwards). */
STRATA_API strata_status strata_table_set(strata_ctx *ctx, strata_table *t, int j, size_t row,
                                          double v);
STRATA_API strata_status strata_table_set_key(strata_ctx *ctx, strata_table *t, int j, size_t row,
                                              const char *s);
/* Column j (COUNT or TOTAL) is a component of column total_col's partition
 * group grp: in each row, the components of one group add up to it. */
STRATA_API strata_status strata_table_set_part(strata_ctx *ctx, strata_table *t, int j,
                                               int total_col, int grp);
/* Row `row` is a member of total row `total_row` (its column totals). */
STRATA_API strata_status strata_table_set_total_row(strata_ctx *ctx, strata_table *t, size_t row,
                                                    size_t total_row);
/* Declares that row i of child sums into row parent_row[i] of parent (-1:
 * none) for every count column both tables have (practices into PCNs);
 * strata_disclose_set protects these relations when both are in the set. */
STRATA_API strata_status strata_table_set_parent(strata_ctx *ctx, strata_table *child,
                                                 strata_table *parent, const int32_t *parent_row);

/* Declares that column j of t and column other_j of other hold the same
 * quantity, row i of t being row rowmap[i] of other (-1: none): e.g. the
 * Core20 count of a PCN and its IMD-quintile-1 count, or a fairness level
 * and the summary row of the same PCN. strata_disclose_set withholds such a
 * pair together and the audit treats it as one cell. other must outlive t's
 * disclosure; both must be COUNT or TOTAL columns. */
STRATA_API strata_status strata_table_same(strata_ctx *ctx, strata_table *t, int j,
                                           strata_table *other, int other_j,
                                           const int32_t *rowmap);

/* Reading. */
STRATA_API const char *strata_table_name(const strata_table *t);
STRATA_API size_t strata_table_nrows(const strata_table *t);
STRATA_API size_t strata_table_ncols(const strata_table *t);
STRATA_API int strata_table_find(const strata_table *t, const char *name); /* -1 if absent */
STRATA_API const char *strata_table_col_name(const strata_table *t, int j);
STRATA_API strata_col_kind strata_table_col_kind(const strata_table *t, int j);
STRATA_API int strata_table_col_decimals(const strata_table *t, int j);
/* 1 when column j holds counts of people or events as published: a COUNT, or
 * a derived sum of published counts (printed as whole numbers). */
STRATA_API int strata_table_col_is_count(const strata_table *t, int j);
/* The cell's value: NaN when withheld or not available. After disclosure it
 * is exactly the published value (rounded to the column's decimals). */
STRATA_API double strata_table_value(const strata_table *t, int j, size_t row);
STRATA_API int strata_table_hidden(const strata_table *t, int j, size_t row); /* 1 withheld */
STRATA_API const char *strata_table_key(const strata_table *t, int j, size_t row);
/* The relations a cell takes part in: column j's partition (*total_col -1 when
 * none) and the total row a row sums into (-1 when none). */
STRATA_API void strata_table_col_part(const strata_table *t, int j, int *total_col, int *grp);
STRATA_API int32_t strata_table_total_row(const strata_table *t, size_t row);
STRATA_API int strata_table_disclosed(const strata_table *t);
STRATA_API int strata_table_patient_level(const strata_table *t);

/* ---- disclosure control ---------------------------------------------------- */
typedef struct strata_sdc_params {
    int enabled;          /* default 1; 0 = the recorded no_disclosure setting: tables are
                           * published exact and every notice says so */
    double lo, hi;        /* withhold counts in [lo, hi], default 1..7 */
    double round_to;      /* round other counts to this multiple, default 5 (0/1 = none) */
    int secondary;        /* complementary suppression, default 1 */
    int protect_observed; /* where "n_observed<sfx>" is withheld, also "expected<sfx>" and
                           * every cell derived from it (default 1) */
} strata_sdc_params;
STRATA_API void strata_sdc_params_init(strata_sdc_params *p);
STRATA_API strata_status strata_sdc_params_check(strata_ctx *ctx, const strata_sdc_params *p);
/* The rules in one sentence, e.g. "counts 1-7 withheld (*), other counts and
 * expected events rounded to the nearest 5, complementary suppression; rates,
 * ratios and intervals computed from the published counts" or "OFF: counts
 * are exact (no_disclosure)". Returns the length snprintf would write. */
STRATA_API int strata_sdc_describe(const strata_sdc_params *p, char *buf, size_t size);

/* Disclosure of one table / of all aggregate tables of a run together (a cell
 * present in two tables — same count column, same key — is withheld in both;
 * complementary suppression runs to a joint fixed point over every table's
 * relations and the declared parent links). Then rounding, then every derived
 * column from the published values, and each value rounded to its decimals.
 * A patient-level table: EINVAL in a set; strata_disclose marks it published
 * as is. The rules applied are recorded on each table. */
STRATA_API strata_status strata_disclose(strata_ctx *ctx, const strata_sdc_params *p,
                                         strata_table *t);
STRATA_API strata_status strata_disclose_set(strata_ctx *ctx, const strata_sdc_params *p, size_t n,
                                             strata_table **tables);
/* The rules a disclosed table was published under (EINVAL if not disclosed). */
STRATA_API strata_status strata_table_rules(strata_ctx *ctx, const strata_table *t,
                                            strata_sdc_params *out);
/* Withholds one more cell of a disclosed table: not a COUNT, TOTAL or KEY
 * (withholding one of those alone could make it recoverable from a relation). */
STRATA_API strata_status strata_table_hide(strata_ctx *ctx, strata_table *t, int j, size_t row);
/* A disclosed table made of rows of disclosed tables published under the
 * same rules: parts[k] from row first_row[k], columns named cols[0..n_cols-1]
 * (each present in every part). */
STRATA_API strata_status strata_table_stack(strata_ctx *ctx, const char *name, size_t n_parts,
                                            const strata_table *const *parts,
                                            const size_t *first_row, const char *const *cols,
                                            size_t n_cols, strata_table **out);
/* Counts visible COUNT cells in [lo, hi] (0 for a correctly disclosed table). */
STRATA_API size_t strata_table_small_counts(const strata_table *t, double lo, double hi);

/* RFC 4180 CSV (CRLF, quoted when needed, withheld cells "*", NaN empty),
 * written atomically. Aggregate tables must be disclosed (EINVAL otherwise);
 * patient-level tables are created 0600. */
STRATA_API strata_status strata_table_write_csv(strata_ctx *ctx, const strata_table *t,
                                                const char *path);
/* Writes tables as one HDF5 file (a group per table, named names[k] or the
 * table's own name when names is NULL; a 1-D dataset per published column:
 * UTF-8 strings for keys, float64 otherwise holding exactly the published
 * values, withheld cells NaN, attributes kind and suppressed_cells; root
 * attribute "disclosure" stating the rules), atomically, mode 0644.
 * Aggregate, disclosed tables only (EINVAL otherwise). engine/io/table_h5.c */
STRATA_API strata_status strata_tables_write_h5(strata_ctx *ctx, strata_table *const *tables,
                                                const char *const *names, size_t n,
                                                const char *path);

#ifdef __cplusplus
}
#endif
#endif
