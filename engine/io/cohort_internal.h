/* engine/io/cohort_internal.h — the cohort handle's layout and the HDF5 helpers
 * shared by the reader, writer and validator. engine/io/cohort_*.c are the only
 * files that know the on-disk layout of a cohort (docs/cohort-format.md). */
#ifndef STRATA_COHORT_INTERNAL_H
#define STRATA_COHORT_INTERNAL_H

#include "internal.h"
#include "strata/cohort.h"

#include <hdf5.h>

#define STRATA_CHUNK_ROWS 65536

/* HDF5 prints its error stack to stderr unless told not to; strata reports
 * its own one-line messages. Every public io entry point that calls HDF5
 * silences it for the length of the call and restores the caller's handler
 * (H5Eget_auto2/H5Eset_auto2), so a host program's handler is left intact. */
typedef struct strata_h5_errsave {
    H5E_auto2_t fn;
    void *data;
} strata_h5_errsave;
void strata_h5_quiet_begin(strata_h5_errsave *save);
void strata_h5_quiet_end(const strata_h5_errsave *save);
/* Old global switch, still used by engine/model/model_io.c: silences HDF5's
 * printing for the rest of the process. Prefer the begin/end pair. */
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
    int loaded;               /* 1 once opened (a lazy handle opens a column at its first find) */
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
    int lenient;              /* opened for validate: reads do not check category codes */
    int lazy;                 /* strata_cohort_open_lazy: columns open at their first find */
    strata_status iter_status;/* status of the attribute walk (H5Aiterate2 callback) */
    hid_t dxpl;               /* H5P_DEFAULT, or collective MPI-IO (strata_cohort_open_dist) */
    hid_t nocache;            /* dataset access: no chunk cache (open_column), or invalid */
    void *scratch;            /* conversion buffer for typed reads */
    size_t scratch_size;
};

/* Opens path; lenient = 1 keeps going past structure problems (recorded in
 * c->problems and cols[j].problem) so validate can report them all. */
strata_status strata_cohort_open_ex(strata_ctx *ctx, const char *path, int lenient,
                                    strata_cohort **out);

/* Creates the HDF5 temporary for path through strata_tmp_create (O_EXCL,
 * O_NOFOLLOW, mode from the first byte), with metadata checksums (libver
 * bounds v18..latest) and the sec2 driver, and checks HDF5's descriptor is the
 * file strata created. Returns the file (with *tmp) or H5I_INVALID_HID with
 * the error recorded and nothing left on disk. */
hid_t strata_h5_create_tmp(strata_ctx *ctx, const char *path, unsigned mode, hid_t fcpl,
                           char **tmp);

/* engine/io/h5_probe.c: walks path's structure in a forked child first; a
 * crash, sanitizer failure or time-out there is STRATA_EFORMAT "<path>:
 * corrupt HDF5 file: ...". HDF5 errors the child sees are left to the real
 * open to report. */
strata_status strata_h5_probe(strata_ctx *ctx, const char *path);
/* The same walk for the cohort reader (cohort = 1): every dataset opened as
 * cohort_read.c's open_column opens a column (no chunk cache unless filtered),
 * so the walk reads the way that reader will. */
strata_status strata_h5_probe_as(strata_ctx *ctx, const char *path, int cohort);

/* HDF5 memory type for a storage dtype. */
hid_t strata_h5_native(strata_dtype t);
/* Storage dtype of an HDF5 datatype, or STRATA_DT_NONE if unsupported. */
strata_dtype strata_h5_dtype(hid_t type);
/* Reads attribute name of obj into a ctx-allocated string: STRATA_OK with
 * *out NULL when absent; a scalar (or 1-element) string, or with text_only 0
 * also an integer or float (formatted), is read; any other shape or class is
 * STRATA_EFORMAT "<fname>:<where>: attribute "<name>" is a 4096-element
 * integer array; ...". Never reads more than one element. */
strata_status strata_h5_attr_read(strata_ctx *ctx, hid_t obj, const char *fname,
                                  const char *where, const char *name, int text_only,
                                  char **out);
/* Lenient form: a scalar string attribute, or NULL when absent or not one
 * (ctx's error left as it was unless an allocation failed). */
char *strata_h5_attr_string(strata_ctx *ctx, hid_t obj, const char *name);
/* Writes a scalar UTF-8 string attribute. Returns <0 on failure. */
int strata_h5_write_attr_string(hid_t obj, const char *name, const char *value);
/* Reads a 1-D string dataset (vlen or fixed) into ctx-allocated strings. */
/* 1 when npts elements could be stored in the file that holds obj: at most
 * 1024 per byte of the file (any compression HDF5 offers included). A crafted
 * extent (2^60 rows) is refused before anything is allocated for it. */
int strata_h5_npts_plausible(hid_t obj, hssize_t npts);
strata_status strata_h5_read_strings(strata_ctx *ctx, hid_t file, const char *fname,
                                     const char *path, char ***out, size_t *n);
/* Creates group path and its parents where missing: no timestamps, link
 * creation order tracked (same content, same bytes). Returns <0 on failure. */
int strata_h5_ensure_group(hid_t file, const char *path);
/* Writes a 1-D UTF-8 string dataset at path (intermediate groups created):
 * fixed-length, NUL-terminated, one byte more than the longest string; a
 * ragged table that padded would exceed 64 MiB and 16 times its text is
 * written variable-length instead (docs/reliability.md#hdf5). */
int strata_h5_write_strings(hid_t file, const char *path, const char *const *s, size_t n);
/* Opens the dataset at path as the cohort reader opens a column: an unfiltered
 * chunked dataset with nocache (strata_h5_nocache_dapl: no chunk cache, so a
 * selection is read from the file straight into the caller's buffer, where a
 * cached chunk would be read whole for any part of it), any other with HDF5's
 * defaults (a chunk cache means nothing to a contiguous or compact dataset;
 * filtered chunks keep it). One open per column unless filtered. */
hid_t strata_h5_nocache_dapl(void); /* or H5I_INVALID_HID */
hid_t strata_h5_open_column(hid_t file, const char *path, hid_t nocache);
/* A transfer list whose type-conversion buffer fits npts elements of elt bytes
 * (at most HDF5's default 1 MiB, which it clears for every converting read or
 * write), or H5P_DEFAULT; close it with strata_h5_conv_dxpl_close. */
hid_t strata_h5_conv_dxpl(hssize_t npts, size_t elt);
void strata_h5_conv_dxpl_close(hid_t x);

/* The writer's open HDF5 file (engine/io/events_copy.c copies groups into it). */
hid_t strata_cohort_writer_file(strata_cohort_writer *w);

#endif
