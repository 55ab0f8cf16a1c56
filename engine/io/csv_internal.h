/* engine/io/csv_internal.h — what the CSV import, export and mapping files share:
 * the layout of strata_csv_mapping (per-column options, each column named at
 * most once, each role held by at most one column). */
#ifndef STRATA_CSV_INTERNAL_H
#define STRATA_CSV_INTERNAL_H

#include "internal.h"
#include "strata/csvio.h"

typedef struct csv_colopt {
    char *name;           /* CSV header name */
    strata_csv_type type; /* AUTO unless overridden */
    int outcome;          /* 1: goes to /outcomes */
    char **from, **to;    /* value recodes, n_recode pairs */
    size_t n_recode;
} csv_colopt;

struct strata_csv_mapping {
    strata_ctx *ctx;
    csv_colopt *cols;
    size_t n, cap;
    char *role_col[STRATA_ROLE_COUNT_]; /* column holding each role, or NULL */
    char **na;                          /* missing-value tokens */
    size_t n_na;
    int na_set;                         /* 0: defaults NA, "", ? */
};

/* The options for a column name, or NULL. */
const csv_colopt *csv_mapping_find(const strata_csv_mapping *m, const char *name);

/* ---- streaming scanner (csv_scan.c) -----------------------------------------
 * Feeds a file to libcsv in chunks, one physical line per csv_parse call, so
 * each field and record knows the line an editor shows for it (the header is
 * line 1; lines inside quoted fields count). A UTF-8 BOM is skipped; the text
 * must be UTF-8 without NUL bytes (a UTF-16/32 byte-order mark, a NUL or an
 * invalid sequence is STRATA_EDATA naming line and column), and no field may
 * exceed STRATA_CSV_MAX_FIELD bytes (docs/reliability.md#csv-text). */
#define STRATA_CSV_MAX_FIELD ((size_t)4 << 20)
typedef struct csv_scanner csv_scanner;
/* Called once per record; fields are NUL-terminated. Return STRATA_OK to go on. */
typedef strata_status (*csv_record_fn)(void *ud, const csv_scanner *sc);

struct csv_scanner {
    strata_ctx *ctx;
    const char *path;
    char delim;
    size_t rec_line;   /* line where the current record starts */
    size_t nf;         /* fields in the current record */
    char **field;      /* nf NUL-terminated fields */
    size_t *field_line; /* line where each field starts */
    size_t n_lines;    /* physical lines read so far */
    /* private */
    char *buf;
    size_t buf_len, buf_cap;
    size_t *off;
    size_t f_cap;
    size_t line, cand_line, fld_line;
    size_t col;                   /* characters read on the current line */
    strata_utf8 u8;               /* UTF-8 state across pieces of a line */
    unsigned char u8_lead;        /* the current sequence's first byte */
    size_t u8_line, u8_col;       /* where that sequence started */
    strata_status err;
    csv_record_fn fn;
    void *ud;
};

/* Scans path from the start, calling fn for every record (header included). */
strata_status csv_scan_file(strata_ctx *ctx, const char *path, char delim, csv_record_fn fn,
                            void *ud, size_t *n_lines);

/* The text encodings a CSV may declare (--encoding): UTF-8 is checked, the
 * others are converted to UTF-8 as they are read (no byte-order marks then). */
typedef enum { CSV_ENC_UTF8 = 0, CSV_ENC_LATIN1, CSV_ENC_CP1252 } csv_encoding;
/* NULL, "utf-8"/"utf8", "latin1"/"iso-8859-1", "windows-1252"/"cp1252" (any
 * case); anything else is STRATA_EINVAL naming the known ones. */
strata_status csv_encoding_parse(strata_ctx *ctx, const char *name, csv_encoding *out);
/* csv_scan_file for a file in the given encoding. */
strata_status csv_scan_file_enc(strata_ctx *ctx, const char *path, char delim, csv_encoding enc,
                                csv_record_fn fn, void *ud, size_t *n_lines);

/* Copies v into dst (size n) for a message: control characters escaped,
 * long values cut with "...". */
void csv_show_value(char *dst, size_t n, const char *v);

/* ---- odd values (csv_odd.c) -------------------------------------------------
 * Values that do not fit their column: text in a column of numbers, or a value
 * that does not fit a given type. Kept: the count and the first
 * STRATA_CSV_ODD_LISTED with their editor lines, in the shown form. */
typedef struct csv_odd {
    size_t n;
    size_t n_listed;
    size_t line[STRATA_CSV_ODD_LISTED];
    char *value[STRATA_CSV_ODD_LISTED]; /* csv_show_value form */
} csv_odd;

strata_status csv_odd_add(strata_ctx *ctx, csv_odd *o, const char *v, size_t line);
void csv_odd_free(strata_ctx *ctx, csv_odd *o);

/* The stray rule: n_odd of n_values non-missing values are not numbers, the
 * others (at least one) are; 1 when n_odd is below STRATA_CSV_STRAY_PERCENT %
 * of n_values and at most STRATA_CSV_STRAY_MAX. */
int csv_odd_is_stray(size_t n_odd, size_t n_values);

/* A column whose odd values stop the import. */
typedef struct csv_odd_col {
    const char *name;
    strata_csv_type want; /* given type (INT, FLOAT, NUM), or AUTO for a stray column */
    strata_role role;
    size_t n_values;      /* stray: non-missing values, the odd ones included */
    const csv_odd *odd;
} csv_odd_col;

/* STRATA_EDATA naming, per column, the first odd values with their lines and
 * the count, then how to go on (fix the file, --na with the odd values added to
 * the current missing tokens na[0..n_na), --type COL=cat, --skip-bad-rows). The
 * message fits the context's buffer: values listed while there is room. */
strata_status csv_odd_fail(strata_ctx *ctx, const char *path, const csv_odd_col *cols, size_t n,
                           const char *const *na, size_t n_na);

#endif
