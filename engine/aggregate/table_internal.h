/* engine/aggregate/table_internal.h — the layout behind the opaque strata_table,
 * shared by the table object (strat_table.c) and the disclosure path
 * (strat_disclose.c) only. Invariant: `disclosed` is set by the disclosure
 * path alone, after which every value is the published one. Not installed. */
#ifndef STRATA_TABLE_INTERNAL_H
#define STRATA_TABLE_INTERNAL_H

#include "strata/stratify.h"
#include "strata/table.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tcol {
    char *name;
    strata_col_kind kind;
    int decimals;    /* digits after the point; negative: -decimals significant digits */
    int base, den;   /* gates (MEAN, TOTAL) or operands (PCT); -1 none */
    int part_of;     /* COUNT/TOTAL: column this one is a component of, or -1 */
    int part_grp;    /* which partition of part_of */
    strata_recipe d; /* DERIVED */
    double *v;       /* n_rows values (NaN = not available) */
    char **s;        /* KEY: n_rows strings */
    uint8_t *hidden; /* 1 primary, 2 secondary or gated */
} tcol;

typedef struct talias {
    int j, oj;                 /* this column and the other table's */
    struct strata_table *other;
    int32_t *rowmap;           /* n_rows entries: row of other, or -1 */
} talias;

struct strata_table {
    char *name;
    size_t n_rows, n_cols, cap_cols;
    tcol *cols;
    int32_t *total_of;           /* per row: the row holding its column total, or -1 */
    struct strata_table *parent; /* coarser level this table's rows sum into, or NULL */
    int32_t *parent_row;         /* per row: the parent row it sums into, or -1 */
    int patient_level;           /* written 0600, never disclosure-controlled */
    int disclosed;               /* set by the disclosure path only */
    strata_sdc_params rules;     /* the rules it was published under */
    strata_funnel funnel;        /* fitted on the published O and E (FUNNEL column) */
    int has_funnel;
    talias *alias;               /* cells that are the same as another table's */
    size_t n_alias;
};

/* A relation member: COUNT and TOTAL columns take part in complementary suppression. */
static inline int tcol_counts(const tcol *c)
{
    return c->kind == STRATA_COL_COUNT || c->kind == STRATA_COL_TOTAL;
}

/* Rows grouped by key[i] in 0..ng-1 (-1: none) as CSR: the rows of group g
 * are rows[start[g] .. start[g+1]-1]; both freed by the caller. */
strata_status strat_csr(strata_ctx *ctx, size_t nr, size_t ng, const int32_t *key, size_t **start,
                        size_t **rows);

/* The disclosure path's own attack on a set after suppression: withholds
 * every cell the published relations would pin (*n_withheld of them). */
strata_status strat_audit(strata_ctx *ctx, const strata_sdc_params *p, size_t n, strata_table **t,
                          int32_t *const *rowmap, size_t *n_withheld);

/* v as printed with d decimals (d < 0: -d significant digits), read back. */
double strat_as_printed(double v, int d);

/* Computes every PCT and DERIVED column of a table from its published values. */
strata_status strat_derive_all(strata_ctx *ctx, strata_table *t);

#endif
