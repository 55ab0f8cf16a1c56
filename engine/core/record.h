/* engine/core/record.h — the model record: an ordered list of named items (text,
 * string arrays, float64 and integer arrays) that a model exports and imports and
 * engine/io writes as the model file, so the file code knows no model and no
 * model knows the format. Invariant: items keep their order; values copy exactly. */
#ifndef STRATA_RECORD_H
#define STRATA_RECORD_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* The item naming the model kind ("glm", "cox", ...): engine/model dispatches on it. */
#define STRATA_REC_KIND "model"

typedef enum strata_rec_type {
    STRATA_REC_TEXT = 0, /* one UTF-8 string: a root attribute of the file */
    STRATA_REC_STRINGS,  /* 1-D array of UTF-8 strings */
    STRATA_REC_F64,      /* float64 array, 1-D or 2-D (row-major) */
    STRATA_REC_INT       /* integer array, int64 in memory, stored as `store` */
} strata_rec_type;

/* On-disk width of an integer array. */
typedef enum strata_rec_int { STRATA_REC_I8 = 0, STRATA_REC_U8, STRATA_REC_I32, STRATA_REC_I64 } strata_rec_int;

typedef struct strata_rec_item {
    char *name;           /* TEXT: attribute name ("family"); arrays: dataset path ("/coefficients/estimate") */
    strata_rec_type type;
    strata_rec_int store; /* INT only */
    int rank;             /* arrays: 1 or 2 */
    size_t dims[2];       /* arrays: extents (dims[1] = 1 for rank 1) */
    char *text;           /* TEXT */
    char **strings;       /* STRINGS: dims[0] strings */
    double *f64;          /* F64: dims[0] * dims[1] values */
    int64_t *i64;         /* INT: dims[0] * dims[1] values */
} strata_rec_item;

typedef struct strata_record {
    strata_rec_item *items;
    size_t n, cap;
} strata_record;

/* An empty record (no allocation until the first put). */
void strata_record_init(strata_record *r);
void strata_record_free(strata_ctx *ctx, strata_record *r); /* leaves it empty; accepts NULL */

/* Appends an item (a copy of the values). STRATA_ENOMEM when memory runs out. */
strata_status strata_rec_put_text(strata_ctx *ctx, strata_record *r, const char *name, const char *value);
strata_status strata_rec_put_strings(strata_ctx *ctx, strata_record *r, const char *name,
                                     const char *const *s, size_t n);
/* Appends a rows x cols float64 (cols = 0: 1-D of rows) or integer array and
 * returns its zeroed storage for the caller to fill; NULL on ENOMEM. */
double *strata_rec_put_f64(strata_ctx *ctx, strata_record *r, const char *name, size_t rows, size_t cols);
int64_t *strata_rec_put_int(strata_ctx *ctx, strata_record *r, const char *name, strata_rec_int store,
                            size_t rows, size_t cols);

/* The first item called name of the given type, or NULL. */
const strata_rec_item *strata_rec_find(const strata_record *r, const char *name, strata_rec_type type);
/* The text of a TEXT item, or NULL. */
const char *strata_rec_text(const strata_record *r, const char *name);
/* Number of values in an array item: dims[0] * dims[1]. */
size_t strata_rec_count(const strata_rec_item *it);

#endif
