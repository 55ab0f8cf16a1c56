/* engine/io/cohort_internal.h — the cohort handle's layout and the HDF5 helpers
 * shared by the reader, writer and validator. engine/io/cohort_*.c are the only
 * files that know the on-disk layout of a cohort (docs/cohort-format.md). */
#ifndef STRATA_COHORT_INTERNAL_H
#define STRATA_COHORT_INTERNAL_H

#include "internal.h"
#include "strata/cohort.h"

#include <hdf5.h>

#define STRATA_CHUNK_ROWS 65536

/* Silences HDF5's automatic error-stack printing (idempotent). */
void strata_h5_quiet(void);

typedef struct cohort_col {
    strata_column_info info;  /* public view; strings point into this struct's allocations */
    char *group;              /* owned */
    char *name;               /* owned */
    char *units;              /* owned, "" when absent */
    char **levels;            /* owned, n_levels strings */
    char *levels_path;        /* owned, NULL unless categorical */
    char *problem;            /* owned: structure problem found when opened leniently */
    hid_t dset;               /* open dataset, or H5I_INVALID_HID when unreadable */
} cohort_col;

typedef struct cohort_attr {
    char *key;
    char *value;
} cohort_attr;

struct strata_cohort {
    strata_ctx *ctx;
    char *path;
    hid_t file;
    size_t nrows;
    cohort_col *cols;
    size_t ncols, cap;
    cohort_attr *attrs;
    size_t nattrs;
    char **problems;          /* file-level structure problems (lenient open) */
    size_t nproblems;
    void *scratch;            /* conversion buffer for typed reads */
    size_t scratch_size;
};

/* Opens path; lenient = 1 keeps going past structure problems (recorded in
 * c->problems and cols[j].problem) so validate can report them all. */
strata_status strata_cohort_open_ex(strata_ctx *ctx, const char *path, int lenient,
                                    strata_cohort **out);

/* HDF5 memory type for a storage dtype. */
hid_t strata_h5_native(strata_dtype t);
/* Storage dtype of an HDF5 datatype, or STRATA_DT_NONE if unsupported. */
strata_dtype strata_h5_dtype(hid_t type);
/* Reads a string attribute of obj into a ctx-allocated string (NULL if absent). */
char *strata_h5_attr_string(strata_ctx *ctx, hid_t obj, const char *name);
/* Reads any scalar attribute as text (strings as is, numbers formatted). */
char *strata_h5_attr_text(strata_ctx *ctx, hid_t obj, const char *name);
/* Writes a scalar UTF-8 string attribute. Returns <0 on failure. */
int strata_h5_write_attr_string(hid_t obj, const char *name, const char *value);
/* Reads a 1-D string dataset (vlen or fixed) into ctx-allocated strings. */
strata_status strata_h5_read_strings(strata_ctx *ctx, hid_t file, const char *fname,
                                     const char *path, char ***out, size_t *n);
/* Writes a 1-D vlen UTF-8 string dataset at path (intermediate groups created). */
int strata_h5_write_strings(hid_t file, const char *path, const char *const *s, size_t n);

/* The writer's open HDF5 file (engine/io/events_copy.c copies groups into it). */
hid_t strata_cohort_writer_file(strata_cohort_writer *w);

#endif
