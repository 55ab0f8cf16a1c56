/* engine/io/csv_table.h — a small CSV file (a reference table) read whole into
 * rows of fields through the one CSV reader (libcsv via csv_scan_file: RFC
 * 4180 quoting, CRLF/LF, a UTF-8 BOM skipped). Internal to libstrata: the
 * stages that need a table of text (synth's reference data) call this instead
 * of splitting lines themselves. */
#ifndef STRATA_CSV_TABLE_H
#define STRATA_CSV_TABLE_H

#include "internal.h"

typedef struct strata_csv_rows {
    size_t n;        /* records, the header included */
    size_t *nf;      /* fields of record r */
    char ***field;   /* field[r][k]: NUL-terminated text */
    size_t *line;    /* line where record r starts (1-based, as an editor shows it) */
    /* private: one text arena and the offsets into it */
    char *text_;
    char **ptr_;
    size_t *start_;
} strata_csv_rows;

/* Reads path whole. EIO when it cannot be opened or read, EDATA naming the
 * line of a malformed record (bad quoting), ENOMEM. *out is empty on error. */
strata_status strata_csv_rows_read(strata_ctx *ctx, const char *path, strata_csv_rows *out);
void strata_csv_rows_free(strata_ctx *ctx, strata_csv_rows *t); /* zeroes it; accepts empty */

#endif
