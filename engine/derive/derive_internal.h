/* engine/derive/derive_internal.h — the parsed derive spec and the per-table
 * event buffers shared by derive_spec.c (YAML -> items), derive_eval.c (one
 * patient's events -> values) and derive.c (I/O, population, blocks).
 * Invariant: every item's column indices refer to its table's loaded columns,
 * and per-level match tables cover every level of each code column. */
#ifndef STRATA_DERIVE_INTERNAL_H
#define STRATA_DERIVE_INTERNAL_H

#include "codelist.h"
#include "strata/derive.h"
#include "yaml_tree.h"

#define DV_MAX_COLS 64   /* columns of one event table that derive reads */
#define DV_NONE_DAY INT32_MIN
#define DV_INF_LO (-1000000) /* window ends meaning "no limit" (days) */
#define DV_INF_HI 1000000

typedef enum dv_kind {
    DK_COUNT, DK_ANY, DK_EVER, DK_SUM, DK_MAX, DK_MIN, DK_LAST, DK_DAYS_SINCE, DK_DISTINCT,
    DK_FLAGS, DK_MULTIMORBIDITY, DK_CHARLSON, DK_ELIXHAUSER, DK_EFI, DK_ACSC,
    DK_TIME_TO_FIRST, DK_ADD
} dv_kind;

#define DV_MAX_ADD 16    /* items one `add` sums */

typedef enum dv_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN } dv_op;

typedef struct dv_cond {
    int col;                 /* table column */
    dv_op op;
    double num;              /* numeric comparisons */
    unsigned char *lv_ok;    /* categorical: per level 1 when the condition holds */
} dv_cond;

/* One event table as derive reads it: named columns, read block by block. */
typedef struct dv_table {
    char *name;
    size_t j_row, j_day;     /* cohort column indices */
    size_t nev;
    size_t cur;              /* the table's next event not yet loaded (blocks come in order) */
    int32_t prev_row;        /* patient_row of the last event loaded, -1 before any */
    size_t ncol;
    size_t jcol[DV_MAX_COLS];     /* cohort column index of each loaded column */
    const strata_column_info *info[DV_MAX_COLS];
    int is_code[DV_MAX_COLS];     /* units start with "code" */
} dv_table;

/* One table's events of one block of patients (derive.c fills one block's
 * buffers while the previous block is evaluated from the other's). */
typedef struct dv_tbuf {
    size_t cap;                   /* events allocated */
    size_t *off;                  /* offsets of the block's patients: events [off[i], off[i+1]) */
    int32_t *prow, *day;
    double *val[DV_MAX_COLS];     /* numeric columns as doubles (NULL if categorical) */
    int32_t *code[DV_MAX_COLS];   /* categorical codes (NULL if numeric) */
} dv_tbuf;

typedef struct dv_item {
    char *name;
    dv_kind kind;
    int outcome;             /* 1: /outcomes */
    int line;                /* spec line */
    int table;
    int lo, hi;              /* window relative to the index date, inclusive */
    int ncode;               /* code columns, in position order */
    int codecol[DV_MAX_COLS];
    unsigned char **lv_match; /* ncode tables: level -> 1 when the code passes the filter */
    uint64_t **lv_cats;      /* ncode tables: level -> category bits (scores, flags) */
    int ncat;                /* categories in lv_cats */
    char **cat_names;        /* flags: output suffixes */
    int weights;             /* charlson / elixhauser weight set */
    int value_col;           /* sum/max/min/last, efi value rules: -1 none */
    dv_cond *cond;
    size_t ncond;
    int censor_death, censor_reg; /* outcomes */
    /* eFI value rules: per code column, level -> rule index + 1 (0 none) */
    unsigned char **lv_rule;
    double rule_gt[64], rule_lt[64];
    int rule_sex[64];        /* 0 any, 'F', 'M' */
    int rule_cat[64];
    /* ACSC: per level, bits of position rules: 1 primary, 2 any, 4 primary_with_secondary,
       8 secondary-for-with_secondary */
    unsigned char **lv_acsc;
    int32_t **lv_gid;        /* distinct: per code column, level -> code id across columns */
    strata_dtype otype;      /* `type:` of the first output (all, for flags); NONE = default */
    char *event_name;        /* time_to_first: name of the indicator column */
    char *prefix;            /* flags: column names are prefix + category */
    int nadd;                /* add: the items summed (their first outputs), earlier items */
    int add[DV_MAX_ADD];
    int has_at_least;        /* count/distinct/sum/acsc: 0/1 output, value >= at_least */
    double at_least;
    int code_chars;          /* distinct: codes compared on their first N characters (0: all) */
    int registered;          /* events only while registered (and alive) */
    int poly_item;           /* efi: the earlier 0/1 item of the polypharmacy deficit, -1 none */
    size_t out0;             /* first output column (in the derive's output list) */
    size_t nout;
} dv_item;

typedef struct dv_spec {
    char *path;              /* spec file */
    char *dir;               /* its directory */
    int32_t index_day;       /* fixed index date, or DV_NONE_DAY */
    int registered_only;     /* registered_only: default of the items */
    char *index_col;         /* per-patient index column */
    size_t ncl;
    char **cl_name;
    strata_codelist **cl;
    dv_item *item;
    size_t nitem;
    dv_table *tab;
    size_t ntab;
} dv_spec;

/* derive_spec.c */
/* The spec is the file's mapping, or the mapping under key (run specs' derive:). */
strata_status dv_spec_load(strata_ctx *ctx, const char *path, const char *key, strata_cohort *c,
                           dv_spec *s);
void dv_spec_free(strata_ctx *ctx, dv_spec *s);
/* Resolves a data path: as given, then beside the spec, then under STRATA_DATA_DIR. */
strata_status dv_resolve(strata_ctx *ctx, const dv_spec *s, const char *path, char *out, size_t n);

/* derive_match.c: per-level tables of an item (filters, categories, rules). */
strata_status dv_prepare_item(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *node,
                              strata_cohort *c);
void dv_free_item(strata_ctx *ctx, const dv_spec *s, dv_item *it);

/* derive_eval.c: the values of item it for one patient. */
typedef struct dv_patient {
    int32_t t0;              /* index day */
    int32_t death, reg_start, reg_end; /* DV_NONE_DAY when absent */
    int sex;                 /* 'F', 'M' or 0 */
    int extra_deficits;      /* efi: deficits from other items (polypharmacy), 0 or 1 */
    size_t e0, e1;           /* event range in the table's block buffers */
} dv_patient;

/* Writes it->nout doubles into out (NaN = missing) from the block's events
 * tb[table]. scratch holds at least (e1 - e0) * it->ncode ints (distinct). */
void dv_eval(const dv_tbuf *tb, const dv_item *it, const dv_patient *pt, int32_t *scratch,
             double *out);

#endif
