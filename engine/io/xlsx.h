/* engine/io/xlsx.h — Excel workbooks (engine/io/xlsx.c, the only libxlsxwriter
 * caller): typed cells, one style per number of decimals, an empty grey cell
 * for a suppressed value, frozen header rows and filters; published
 * atomically with the file's final mode (0600 for patient-level workbooks).
 * Rows are written in order (constant-memory mode), so a sheet of a million
 * rows costs no more memory than one of ten. */
#ifndef STRATA_XLSX_H
#define STRATA_XLSX_H

#include "internal.h"

typedef struct strata_xlsx strata_xlsx;

typedef enum strata_xlsx_style {
    STRATA_XS_TEXT = 0,   /* plain text */
    STRATA_XS_HEADER,     /* bold, shaded, wrapped: a table's header row */
    STRATA_XS_TITLE,      /* large bold: a sheet's title line */
    STRATA_XS_WRAP,       /* text wrapped in its column (README paragraphs) */
    STRATA_XS_SUPPRESSED, /* an empty cell shaded grey: value withheld */
    STRATA_XS_NUMBER      /* + d (0..9): a number shown with d decimals */
} strata_xlsx_style;
#define STRATA_XS_DECIMALS(d) (STRATA_XS_NUMBER + ((d) < 0 ? 0 : (d) > 9 ? 9 : (d)))

/* Creates the workbook (written to a temporary beside path, created with
 * mode before any data is written). */
strata_status strata_xlsx_open(strata_ctx *ctx, const char *path, unsigned mode, strata_xlsx **out);
/* Adds a sheet (name: at most 31 characters, no []:*?/\) and makes it current. */
strata_status strata_xlsx_sheet(strata_xlsx *x, const char *name);
void strata_xlsx_col_width(strata_xlsx *x, int first, int last, double width);
/* Cells of the current sheet; rows in ascending order. NULL text is blank. */
strata_status strata_xlsx_text(strata_xlsx *x, size_t row, int col, const char *s, int style);
/* A NaN number is written blank. */
strata_status strata_xlsx_number(strata_xlsx *x, size_t row, int col, double v, int style);
strata_status strata_xlsx_blank(strata_xlsx *x, size_t row, int col, int style);
/* Freezes rows above header_row + 1 and puts a filter on the header row over
 * columns 0..last_col and rows header_row..last_row. */
strata_status strata_xlsx_table(strata_xlsx *x, size_t header_row, size_t last_row, int last_col);
/* Copies a CSV file (header + rows) into a new sheet: a column whose every
 * value parses as a number is numeric with the most decimals it shows,
 * except columns named in text_cols (e.g. "patient_id": 19-digit ids stay
 * text, exact); *n_rows gets the data rows. */
strata_status strata_xlsx_sheet_from_csv(strata_xlsx *x, const char *sheet, const char *csv_path,
                                         const char *const *text_cols, size_t *n_rows);
/* Writes and publishes the workbook; frees x either way. */
strata_status strata_xlsx_close(strata_xlsx *x);
/* Discards the workbook (temporary removed); NULL ok. */
void strata_xlsx_abort(strata_xlsx *x);
/* "libxlsxwriter X.Y.Z" of the headers built against. */
const char *strata_xlsx_version(void);

#endif
