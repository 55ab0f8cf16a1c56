/* engine/io/csv_internal.h — what the CSV import, export and mapping files share:
 * the layout of strata_csv_mapping (per-column options, each column named at
 * most once, each role held by at most one column). */
#ifndef STRATA_CSV_INTERNAL_H
#define STRATA_CSV_INTERNAL_H

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
 * line 1; lines inside quoted fields count). A UTF-8 BOM is skipped. */
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
    strata_status err;
    csv_record_fn fn;
    void *ud;
};

/* Scans path from the start, calling fn for every record (header included). */
strata_status csv_scan_file(strata_ctx *ctx, const char *path, char delim, csv_record_fn fn,
                            void *ud, size_t *n_lines);

/* Copies v into dst (size n) for a message: control characters escaped,
 * long values cut with "...". */
void csv_show_value(char *dst, size_t n, const char *v);

#endif
