/* strata/csvio.h — CSV extract → cohort (import) and cohort → CSV (export).
 * Import streams the file twice (infer types and levels, then write) through
 * libcsv (RFC 4180) and never holds it whole; it either publishes a complete
 * cohort or leaves nothing at the output path. Export writes RFC 4180 CSV
 * atomically with floats printed so that re-import gives the same doubles. */
#ifndef STRATA_CSVIO_H
#define STRATA_CSVIO_H

#include "strata/cohort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Column type requested for a CSV column. AUTO infers: integer (narrowest of
 * int8..int64), else float64, else categorical. NUM infers integer or float
 * and treats text as a bad value. */
typedef enum strata_csv_type {
    STRATA_CSV_AUTO = 0,
    STRATA_CSV_INT,
    STRATA_CSV_FLOAT,
    STRATA_CSV_CAT,
    STRATA_CSV_NUM,
    STRATA_CSV_DATE  /* calendar dates (strata_csv_import_params.date_format) stored as int32
                        days since 1970-01-01 (units "days since 1970-01-01"); the type of the
                        date roles birth_date, death_date, registration_start/_end */
} strata_csv_type;

/* "auto", "int", "float", "cat", "num", "date"; parse returns -1 for an unknown name. */
STRATA_API const char *strata_csv_type_name(strata_csv_type t);
STRATA_API int strata_csv_type_parse(const char *name, strata_csv_type *out);

/* Per-column options: type overrides, roles, /outcomes placement and the
 * missing-value tokens. Built by the CLI from options or a YAML file. */
typedef struct strata_csv_mapping strata_csv_mapping;

STRATA_API strata_status strata_csv_mapping_new(strata_ctx *ctx, strata_csv_mapping **out);
STRATA_API void strata_csv_mapping_free(strata_csv_mapping *m); /* accepts NULL */
STRATA_API strata_status strata_csv_mapping_set_type(strata_csv_mapping *m, const char *column,
                                          strata_csv_type type);
/* At most one column per role; STRATA_ESPEC when the role is already mapped
 * to another column. */
STRATA_API strata_status strata_csv_mapping_set_role(strata_csv_mapping *m, strata_role role,
                                          const char *column);
STRATA_API strata_status strata_csv_mapping_set_outcome(strata_csv_mapping *m, const char *column);
/* Replaces the value from by to in column before anything else looks at it
 * (to may be a missing-value token), e.g. gender Female -> F for the sex role. */
STRATA_API strata_status strata_csv_mapping_set_recode(strata_csv_mapping *m, const char *column,
                                            const char *from, const char *to);
/* Missing-value tokens as a comma-separated list ("NA,,?" is the default:
 * NA, the empty field and ?). */
STRATA_API strata_status strata_csv_mapping_set_na(strata_csv_mapping *m, const char *tokens);
/* Reads a YAML mapping file:
 *   roles:    {patient_id: patient_nbr, age: age_years}   # ROLE: COLUMN
 *   types:    {diag_1: cat, los: int}                      # COLUMN: TYPE
 *   outcomes: [readmitted]
 *   na:       ["?", "NA", ""]
 *   recode:   {gender: {Female: F, Male: M, Unknown/Invalid: NA}}
 * Later calls (and the set_* functions) override earlier ones. STRATA_ESPEC
 * naming the file, line and key for an unknown key, role or type. */
STRATA_API strata_status strata_csv_mapping_load_yaml(strata_csv_mapping *m, const char *path);

typedef struct strata_csv_import_params {
    char delim;                        /* field separator, ',' */
    int skip_bad_rows;                 /* 0: a bad row fails the import (default) */
    const strata_csv_mapping *mapping; /* may be NULL: all AUTO, no roles, default NA */
    const char *source;                /* root attribute "source"; default: CSV base name */
    const char *extract_date;          /* root attribute "extract_date"; may be NULL */
    size_t block_rows;                 /* rows per append to the writer, 16384 */
    int date_format;                   /* date columns: a strata_date_format (strata/derive.h):
                                          0 ISO (default), 1 DD/MM/YYYY, 2 YYYYMMDD */
    const char *encoding;              /* NULL or "utf-8" (default): the file must be UTF-8;
                                        * "latin1" (ISO-8859-1) or "windows-1252" (cp1252):
                                        * converted to UTF-8 as it is read */
} strata_csv_import_params;

STRATA_API void strata_csv_import_params_init(strata_csv_import_params *p);
STRATA_API strata_status strata_csv_import_params_check(strata_ctx *ctx, const strata_csv_import_params *p);

#define STRATA_CSV_LISTED_MAX 10
#define STRATA_CSV_MSG_MAX 320

typedef struct strata_csv_import_report {
    size_t n_rows;     /* data rows written */
    size_t n_columns;  /* columns written */
    size_t n_lines;    /* physical lines in the file (header included) */
    size_t n_skipped;  /* bad rows skipped (skip_bad_rows only) */
    size_t n_listed;   /* first skipped rows listed below */
    size_t skipped_line[STRATA_CSV_LISTED_MAX]; /* editor line where each row starts */
    char skipped_msg[STRATA_CSV_LISTED_MAX][STRATA_CSV_MSG_MAX];
} strata_csv_import_report;

/* A column without a given type whose non-missing values are all numbers but
 * for fewer than STRATA_CSV_STRAY_PERCENT % of them, and at most
 * STRATA_CSV_STRAY_MAX, is "numeric with stray values": the import fails
 * (STRATA_EDATA) rather than turning it categorical; with skip_bad_rows the
 * column is read as num and the rows holding those values are skipped. */
#define STRATA_CSV_STRAY_PERCENT 1
#define STRATA_CSV_STRAY_MAX 1000
/* Odd values listed per column, in messages and in a column summary. */
#define STRATA_CSV_ODD_LISTED 20

/* Imports csv_path into a new cohort at out_path (created 0600, atomically).
 * The CSV must be a regular file (read twice). Bad rows: STRATA_EDATA with a
 * message "<file>: line L: ..." where L is the line an editor shows (header =
 * line 1, physical lines inside quoted fields counted); a wrong field count
 * stops at the first such row; values that do not fit their column (a given
 * or role type, or stray values in a numeric column) are all found first and
 * the message names each column with the first STRATA_CSV_ODD_LISTED lines
 * and values, their count and how to go on. Nothing is left at out_path.
 * report may be NULL. */
STRATA_API strata_status strata_csv_import(strata_ctx *ctx, const char *csv_path, const char *out_path,
                                const strata_csv_import_params *p,
                                strata_csv_import_report *report);

/* ---- dry run: what an import would do, without writing ---------------------- */

typedef struct strata_csv_column_summary {
    const char *name;         /* as stored ('.', '/' -> '_') */
    strata_csv_type type;     /* given (option, mapping or role: num for age and
                                 imd_decile), or AUTO when inferred */
    strata_role role;
    int outcome;              /* 1: goes to /outcomes */
    strata_dtype dtype;       /* storage type (level codes when categorical) */
    int categorical;
    size_t n_levels;          /* categorical: distinct labels; 0 otherwise */
    size_t n_values;          /* non-missing values in good rows */
    size_t n_missing;         /* missing values in good rows */
    size_t n_numeric;         /* of n_values, those that are numbers (0 under type cat) */
    /* Odd values: for an inferred column mostly of numbers, the values that
     * are not numbers (whether few enough to be stray or not); for a given
     * type, the values that do not fit it (their rows are bad rows). */
    size_t n_odd;
    size_t n_odd_listed;                          /* first ones, in file order */
    size_t odd_line[STRATA_CSV_ODD_LISTED];       /* editor line of the field */
    const char *odd_value[STRATA_CSV_ODD_LISTED]; /* for display: control characters
                                                     escaped, cut after 60 bytes */
    int stray;  /* 1: numeric but for the odd values (STRATA_CSV_STRAY_*); dtype is the
                   numeric type */
    int fails;  /* 1: the import stops on this column's odd values (not skip_bad_rows) */
} strata_csv_column_summary;

typedef struct strata_csv_inspection strata_csv_inspection;

/* Reads csv_path as strata_csv_import would (pass 1 for types, the levels pass
 * when needed) and writes nothing: per column the storage type, level count
 * and odd values. Bad rows do not stop it: report (may be NULL) counts and
 * lists them in n_skipped / skipped_* whether or not p->skip_bad_rows is set
 * (without it the import would stop at the first one), n_rows counts the good
 * rows. Fails only where the import cannot read the file at all (I/O, CSV
 * syntax, empty file, header names, mapping). */
STRATA_API strata_status strata_csv_inspect(strata_ctx *ctx, const char *csv_path,
                                            const strata_csv_import_params *p,
                                            strata_csv_inspection **out,
                                            strata_csv_import_report *report);
STRATA_API size_t strata_csv_inspection_ncols(const strata_csv_inspection *in);
STRATA_API const strata_csv_column_summary *strata_csv_inspection_column(
    const strata_csv_inspection *in, size_t j);
STRATA_API void strata_csv_inspection_free(strata_csv_inspection *in); /* accepts NULL */

typedef struct strata_csv_export_params {
    const char *const *columns; /* names (or group/name) to write, in order; NULL = all of
                                   /patients then /outcomes */
    size_t n_columns;
    const char *na;             /* written for missing values, "" (default) or "NA" */
    char delim;                 /* ',' */
    size_t block_rows;          /* rows read per column per block, 8192 */
} strata_csv_export_params;

STRATA_API void strata_csv_export_params_init(strata_csv_export_params *p);
STRATA_API strata_status strata_csv_export_params_check(strata_ctx *ctx, const strata_csv_export_params *p);

/* Writes the cohort's columns as CSV with a header line. Categoricals as
 * their level labels, integers in decimal, floats in the shortest form that
 * reads back to the same double (at most 17 significant digits; integral
 * values get ".0" so they stay floats). csv_path "-" writes to stdout;
 * otherwise the file appears atomically with mode 0600. */
STRATA_API strata_status strata_csv_export(strata_ctx *ctx, const char *cohort_path, const char *csv_path,
                                const strata_csv_export_params *p);

#ifdef __cplusplus
}
#endif
#endif
