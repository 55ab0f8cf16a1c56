/* strata/derive.h — linked events to features: calendar dates as days since
 * 1970-01-01, code lists (`code,category[,match]` CSV), event-table import
 * into a cohort (/events/<table>, sorted by patient row then day) and
 * `strata derive` (index date, population, windows, scores, outcomes).
 * Every output is written atomically; docs/derive.md documents the spec. */
#ifndef STRATA_DERIVE_H
#define STRATA_DERIVE_H

#include "strata/cohort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- dates -------------------------------------------------------------- */

typedef enum strata_date_format {
    STRATA_DATE_ISO = 0, /* 2025-04-01, optionally followed by 'T' or ' ' and a time (dropped) */
    STRATA_DATE_DMY = 1, /* 01/04/2025 */
    STRATA_DATE_YMD = 2  /* 20250401 */
} strata_date_format;

/* "ISO", "DD/MM/YYYY", "YYYYMMDD" (case-insensitive); -1 for an unknown name. */
STRATA_API int strata_date_format_parse(const char *name, strata_date_format *out);
/* Parses a calendar date into days since 1970-01-01; 0 on success, -1 when s
 * is not a valid date in format f (including 2023-02-29). */
STRATA_API int strata_date_parse(const char *s, strata_date_format f, int32_t *day);
/* Writes day as YYYY-MM-DD into out (11 bytes). */
STRATA_API void strata_date_format_iso(int32_t day, char out[11]);

/* ---- code lists ---------------------------------------------------------- */

typedef enum strata_code_match {
    STRATA_MATCH_EXACT = 0,  /* the whole (normalised) code */
    STRATA_MATCH_PREFIX = 1  /* the code starts with the listed code (ICD-10 style) */
} strata_code_match;

typedef struct strata_codelist strata_codelist;

/* Loads a code list CSV with a header holding at least `code` and `category`
 * (any order; other columns are kept as text per row) and optionally `match`
 * (prefix|exact, per row; default_match where absent or empty). Codes are
 * normalised (strata_code_normalise) on load and when matched. A list that
 * does not parse is STRATA_EDATA naming file, line, column and value. */
STRATA_API strata_status strata_codelist_load(strata_ctx *ctx, const char *path,
                                              strata_code_match default_match,
                                              strata_codelist **out);
STRATA_API void strata_codelist_free(strata_codelist *cl); /* accepts NULL */
STRATA_API size_t strata_codelist_nrows(const strata_codelist *cl);
STRATA_API size_t strata_codelist_ncategories(const strata_codelist *cl);
/* Category k's name (categories numbered in order of first appearance). */
STRATA_API const char *strata_codelist_category(const strata_codelist *cl, size_t k);
/* Category number of name, or -1. */
STRATA_API long strata_codelist_find_category(const strata_codelist *cl, const char *name);
/* Text of column `column` in row r ("" when the list has no such column). */
STRATA_API const char *strata_codelist_field(const strata_codelist *cl, size_t r,
                                             const char *column);
/* Category of row r. */
STRATA_API size_t strata_codelist_row_category(const strata_codelist *cl, size_t r);
/* Rows matching code (after normalisation), ascending, at most max written to
 * rows; returns the number of matching rows (which may exceed max). */
STRATA_API size_t strata_codelist_match(const strata_codelist *cl, const char *code,
                                        size_t *rows, size_t max);
/* Normalises a code for matching: surrounding spaces dropped, upper case,
 * dots removed, and HES's X padding of a 3-character ICD-10 code dropped
 * (letter, two digits, X: `I10X` -> `I10`; `I10.X` likewise). */
STRATA_API void strata_code_normalise(const char *in, char *out, size_t n);

/* ---- event import ------------------------------------------------------- */

typedef struct strata_events_import_params {
    const char *table;        /* /events/<table>; required */
    const char *id_col;       /* CSV column with the patient id; required */
    const char *date_col;     /* CSV column with the event date; required */
    const char *end_date_col; /* optional: stored as end_day (NA when empty) */
    const char *const *code_cols; /* categorical code columns (e.g. diag_01..diag_20) */
    size_t n_code_cols;
    const char *code_system;  /* stored as the code columns' units "code:<system>"; "" */
    const char *const *cat_cols;  /* other categorical columns (admission_method, ...) */
    size_t n_cat_cols;
    const char *const *value_cols; /* numeric columns stored as float64 (NaN when empty) */
    size_t n_value_cols;
    strata_date_format date_format;
    int skip_unknown_ids;     /* 0: an unknown id fails the import (default) */
    char delim;               /* ',' */
    size_t run_rows;          /* events sorted in memory at a time; 0 = 2,097,152. A larger
                                 extract is sorted in runs spilled to an unlinked scratch file
                                 beside the output and merged (12 + 4 per code/cat column + 8
                                 per value column bytes per event in memory, plus 32 to sort) */
    const char *encoding;     /* as strata_csv_import_params.encoding */
} strata_events_import_params;

STRATA_API void strata_events_import_params_init(strata_events_import_params *p);

#define STRATA_EVENTS_LISTED_MAX 20

typedef struct strata_events_import_report {
    size_t n_events;        /* rows written */
    size_t n_lines;         /* physical lines read */
    size_t n_unknown;       /* rows skipped for an unknown id (skip_unknown_ids) */
    size_t n_listed;
    size_t unknown_line[STRATA_EVENTS_LISTED_MAX];
    char unknown_id[STRATA_EVENTS_LISTED_MAX][80];
    size_t n_before_birth;  /* events dated before the patient's birth_date (kept, warned) */
    size_t n_after_death;   /* events dated after the patient's death_date (kept, warned) */
    size_t n_runs;          /* sorted runs spilled to disk (0: sorted in memory) */
} strata_events_import_report;

/* Adds (or replaces) the event table p->table of cohort_path from csv_path.
 * out_path NULL: cohort_path is replaced atomically, only on success; else a
 * new cohort is written at out_path and cohort_path is left as it was.
 * Events are sorted by (patient row, day), ties in file order. Patient ids
 * match the patient_id column whether it is int64 or categorical (strings).
 * A bad date or unknown id is STRATA_EDATA naming file, line, column, value. */
STRATA_API strata_status strata_events_import(strata_ctx *ctx, const char *csv_path,
                                              const char *cohort_path, const char *out_path,
                                              const strata_events_import_params *p,
                                              strata_events_import_report *report);

/* ---- derive -------------------------------------------------------------- */

/* Exclusion reasons: no index date (per-patient column NA), not yet born,
 * died before the index date, registered after it, deregistered before it. */
#define STRATA_DERIVE_REASONS 5

typedef struct strata_derive_report {
    size_t n_patients;   /* rows of /patients */
    size_t n_included;   /* rows written */
    size_t n_excluded[STRATA_DERIVE_REASONS];
    size_t n_features;   /* columns added to /patients */
    size_t n_outcomes;   /* columns added to /outcomes */
    size_t n_replaced;   /* /patients or /outcomes columns replaced by a derived column of the
                            same name */
    size_t n_events;     /* event rows read */
    size_t n_after_death; /* events after death, ignored by outcomes (warned) */
} strata_derive_report;

STRATA_API const char *strata_derive_reason_name(int k); /* "no_index_date", "not_born", "died", ... */

/* Derives features and outcomes from the event tables of cohort_path as
 * spec_path says (docs/derive.md) and writes out_path: the population's rows
 * of /patients with the features appended and /outcomes with the outcomes.
 * Same bytes whatever the thread count. report may be NULL. */
STRATA_API strata_status strata_derive(strata_ctx *ctx, const char *cohort_path,
                                       const char *spec_path, const char *out_path,
                                       strata_derive_report *report);
/* The same, with the spec read from the mapping under `key` of spec_path (a
 * run spec's inline derive: block; relative paths resolve beside that file). */
STRATA_API strata_status strata_derive_key(strata_ctx *ctx, const char *cohort_path,
                                           const char *spec_path, const char *key,
                                           const char *out_path, strata_derive_report *report);

#ifdef __cplusplus
}
#endif
#endif
