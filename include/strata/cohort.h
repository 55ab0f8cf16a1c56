/* strata/cohort.h — the columnar HDF5 cohort (format v1, docs/cohort-format.md).
 * A reader that loads named columns in row blocks with typed access, and a
 * writer that appends row blocks and publishes the file atomically (temporary
 * name, then rename): a half-written cohort never appears under its final name. */
#ifndef STRATA_COHORT_H
#define STRATA_COHORT_H

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_COHORT_SCHEMA "strata-cohort"
#define STRATA_COHORT_SCHEMA_VERSION 1

/* Storage types of a column (HDF5 native little-endian integers / IEEE floats). */
typedef enum strata_dtype {
    STRATA_DT_NONE = 0,
    STRATA_DT_INT8 = 1,
    STRATA_DT_INT16 = 2,
    STRATA_DT_INT32 = 3,
    STRATA_DT_INT64 = 4,
    STRATA_DT_FLOAT32 = 5,
    STRATA_DT_FLOAT64 = 6
} strata_dtype;

STRATA_API size_t strata_dtype_size(strata_dtype t);  /* bytes per element; 0 for NONE */
STRATA_API const char *strata_dtype_name(strata_dtype t); /* "int8", ..., "float64" */

/* Missing values: NaN for floats; the type's minimum (INT8_MIN .. INT64_MIN,
 * as R's NA_integer_) for plain integer columns; code -1 for categoricals. */
#define STRATA_NA_INT8 INT8_MIN
#define STRATA_NA_INT16 INT16_MIN
#define STRATA_NA_INT32 INT32_MIN
#define STRATA_NA_INT64 INT64_MIN
#define STRATA_NA_CODE (-1)

/* Roles the engine needs beyond model terms, declared per column by the
 * "role" attribute. At most one column per role. */
typedef enum strata_role {
    STRATA_ROLE_NONE = 0,
    STRATA_ROLE_PATIENT_ID,   /* pseudonymised int64, or categorical (string ids, e.g.
                                 64-hex hashes: one level per patient); unique, never NA */
    STRATA_ROLE_PRACTICE,     /* categorical: ODS practice code */
    STRATA_ROLE_PCN,          /* categorical: PCN code */
    STRATA_ROLE_SUB_ICB,      /* categorical: sub-ICB location code */
    STRATA_ROLE_ICB,          /* categorical: ICB code */
    STRATA_ROLE_LSOA,         /* categorical: LSOA 2011 code */
    STRATA_ROLE_IMD_DECILE,   /* integer 1..10, 1 = most deprived nationally */
    STRATA_ROLE_AGE,          /* years, 0..120 */
    STRATA_ROLE_SEX,          /* categorical with levels from {F, M, I, U} */
    STRATA_ROLE_ETHNICITY,    /* categorical: ethnic group */
    STRATA_ROLE_REG_STATUS,   /* categorical: registration status */
    STRATA_ROLE_BIRTH_DATE,   /* int32 days since 1970-01-01 (docs/derive.md) */
    STRATA_ROLE_DEATH_DATE,   /* int32 days; NA = alive */
    STRATA_ROLE_REG_START,    /* int32 days; NA = registered throughout */
    STRATA_ROLE_REG_END,      /* int32 days; NA = still registered */
    STRATA_ROLE_COUNT_
} strata_role;

STRATA_API const char *strata_role_name(strata_role r); /* "patient_id", ...; "" for NONE */
/* Parses a role name; returns STRATA_ROLE_NONE for an unknown name. */
STRATA_API strata_role strata_role_parse(const char *name);

/* Description of one column, owned by the cohort handle. */
typedef struct strata_column_info {
    const char *group;        /* "patients", "outcomes", "events/<table>", "truth" */
    const char *name;         /* dataset name within the group */
    strata_dtype dtype;       /* storage type */
    int categorical;          /* 1: integer codes 0..n_levels-1 into levels, -1 = NA */
    size_t n_levels;          /* categorical only */
    const char *const *levels; /* categorical only: UTF-8 level labels */
    strata_role role;         /* STRATA_ROLE_NONE unless declared */
    const char *units;        /* "years", "days", "GBP", ... or "" */
    size_t length;            /* number of rows */
} strata_column_info;

/* ---- reading ------------------------------------------------------------ */

typedef struct strata_cohort strata_cohort;

/* Opens a cohort for reading and checks its structure (schema attribute,
 * groups, column types, levels tables, equal lengths within /patients and
 * /outcomes). A non-HDF5 or corrupt file gives STRATA_EFORMAT with one clear
 * message; HDF5's own error stack is never printed. */
STRATA_API strata_status strata_cohort_open(strata_ctx *ctx, const char *path, strata_cohort **out);
/* Opens a cohort that a strict strata_cohort_open of the same file accepts
 * beside it (`strata fit`'s worker, whose result is used only when the
 * supervisor's own strict open of the file passed: docs/reliability.md#hdf5).
 * Reads the root attributes (schema checked) and the member names of
 * /patients and /outcomes; a column's dataset, type, role, units and levels
 * table are read the first time strata_cohort_find names it, with the checks
 * strata_cohort_open makes of that column and of its length against the
 * first /patients column's (the cohort's rows). What strata_cohort_open
 * checks across columns (equal lengths, one column per role) and the columns
 * never found are not checked here, hence the strict open beside it. /events
 * and /truth are not listed; strata_cohort_ncols counts the listed columns,
 * and strata_cohort_column of one not yet found has its group and name only.
 * A lazy handle is changed by strata_cohort_find: one thread at a time. */
STRATA_API strata_status strata_cohort_open_lazy(strata_ctx *ctx, const char *path, strata_cohort **out);
STRATA_API void strata_cohort_close(strata_cohort *c); /* accepts NULL */

STRATA_API const char *strata_cohort_path(const strata_cohort *c);
STRATA_API size_t strata_cohort_nrows(const strata_cohort *c); /* rows of /patients */
STRATA_API size_t strata_cohort_ncols(const strata_cohort *c); /* all columns, all groups */
STRATA_API const strata_column_info *strata_cohort_column(const strata_cohort *c, size_t j);

/* Finds a column by "name" (searched in /patients, then /outcomes) or by
 * "group/name". STRATA_ESPEC naming the column and file when absent. */
STRATA_API strata_status strata_cohort_find(strata_ctx *ctx, const strata_cohort *c, const char *name,
                                 size_t *j);
/* Column index holding a role, or -1 when no column declares it. */
STRATA_API long strata_cohort_find_role(const strata_cohort *c, strata_role role);

/* Root attribute as a string (numbers are formatted), or NULL when absent. */
STRATA_API const char *strata_cohort_attr(const strata_cohort *c, const char *key);

/* Row-block reads of column j, rows [row0, row0+n). Conversions:
 *  - read_f64: any column; NA -> NaN; categorical codes as doubles (NA -> NaN).
 *  - read_i32: integer or categorical columns whose values fit; NA -> INT32_MIN
 *    (categorical NA stays -1); a float column is STRATA_EINVAL.
 *  - read_i64: integer or categorical columns; NA -> INT64_MIN (categorical -1).
 *  - read_native: the storage type as is into a buffer of n * dtype_size bytes. */
STRATA_API strata_status strata_cohort_read_f64(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, double *out);
STRATA_API strata_status strata_cohort_read_i32(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int32_t *out);
STRATA_API strata_status strata_cohort_read_i64(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int64_t *out);
STRATA_API strata_status strata_cohort_read_native(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                        size_t n, void *out);

/* A 1-D string dataset (e.g. /truth/term). *out is an array of *n strings
 * allocated through ctx; free with strata_strings_free. */
STRATA_API strata_status strata_cohort_read_strings(strata_ctx *ctx, strata_cohort *c, const char *path,
                                         char ***out, size_t *n);
STRATA_API void strata_strings_free(strata_ctx *ctx, char **s, size_t n);

/* ---- writing ------------------------------------------------------------ */

typedef struct strata_cohort_writer strata_cohort_writer;

/* What a new column is. levels/n_levels only for categorical columns, whose
 * dtype must be INT8, INT16 or INT32. */
typedef struct strata_column_spec {
    const char *group;   /* "patients" (default when NULL), "outcomes", "events/<t>", "truth" */
    const char *name;
    strata_dtype dtype;
    int categorical;
    const char *const *levels;
    size_t n_levels;
    strata_role role;
    const char *units;       /* may be NULL */
    const char *description; /* may be NULL */
} strata_column_spec;

/* Creates "<path>.tmp.<pid>" next to path; nothing appears at path until
 * strata_cohort_writer_finish succeeds. Sets the schema attributes. */
STRATA_API strata_status strata_cohort_writer_new(strata_ctx *ctx, const char *path,
                                       strata_cohort_writer **out);
/* Root string attribute (extract_date, source, generator, seed, ...). */
STRATA_API strata_status strata_cohort_writer_attr(strata_cohort_writer *w, const char *key,
                                        const char *value);
STRATA_API strata_status strata_cohort_writer_add(strata_cohort_writer *w, const strata_column_spec *spec,
                                       size_t *j);
/* Appends n values of the column's storage type. */
STRATA_API strata_status strata_cohort_writer_append(strata_cohort_writer *w, size_t j, const void *data,
                                          size_t n);
/* A small 1-D string dataset at an absolute path such as "/truth/term". */
STRATA_API strata_status strata_cohort_writer_strings(strata_cohort_writer *w, const char *path,
                                           const char *const *s, size_t n);
/* Checks equal lengths within /patients+/outcomes and within each event
 * table, flushes, closes and renames into place. Frees w in all cases; on
 * failure the temporary file is removed. */
STRATA_API strata_status strata_cohort_writer_finish(strata_cohort_writer *w);
/* Discards everything written; removes the temporary file. Accepts NULL. */
STRATA_API void strata_cohort_writer_abort(strata_cohort_writer *w);

/* ---- validation --------------------------------------------------------- */

/* Problem kinds counted by strata_cohort_validate. */
typedef enum strata_problem_kind {
    STRATA_PROB_STRUCTURE = 0, /* missing dataset/attribute/role, wrong type */
    STRATA_PROB_LENGTH,        /* column length differs from /patients */
    STRATA_PROB_DUPLICATE_ID,  /* patient id seen before */
    STRATA_PROB_MISSING_ID,    /* patient id NA */
    STRATA_PROB_RANGE,         /* value outside its role's range */
    STRATA_PROB_NAN,           /* NaN/NA where not allowed */
    STRATA_PROB_CODE,          /* categorical code outside levels table */
    STRATA_PROB_EVENTS,        /* event table row not sorted, duplicated, or bad patient row */
    STRATA_PROB_COUNT_
} strata_problem_kind;

STRATA_API const char *strata_problem_kind_name(strata_problem_kind k);

/* Called once per problem with a message naming file, dataset, row (and
 * patient id) and value. */
typedef void (*strata_problem_fn)(void *ud, strata_problem_kind kind, const char *msg);

typedef struct strata_validate_report {
    size_t counts[STRATA_PROB_COUNT_]; /* problems by kind */
    size_t total;
    size_t nrows;
} strata_validate_report;

/* Checks everything in the file, reporting every problem through fn (which
 * may be NULL). Returns STRATA_OK when the file could be read (problems or
 * not; see report->total), STRATA_EFORMAT/EIO when it could not be read at all.
 * With MPI ranks on the context the call is collective (docs/scale.md#mpi):
 * each rank checks the values of its slab of rows, rank 0 checks the rest
 * and its fn and report get the problems in one process's order and counts,
 * but of each column's value problems at most the first 8 of each rank's
 * slab (so the first 8 problems are always one process's); the other ranks'
 * fn and report get nothing. */
STRATA_API strata_status strata_cohort_validate(strata_ctx *ctx, const char *path, strata_problem_fn fn,
                                     void *ud, strata_validate_report *report);

#ifdef __cplusplus
}
#endif
#endif
