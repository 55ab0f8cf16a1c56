/* engine/core/xsort.h — the one external sort of strata: (key, row) records in
 * the order (major[row], key, row), held in memory when they fit the memory
 * given, else as sorted runs in an unnamed scratch file (scratch.h) merged
 * k ways as the consumer reads them (docs/scale.md, "Sorting under a budget").
 * Invariant: rows are distinct, so the order is total and the stream is the
 * same records in the same order whatever the memory, runs or threads. */
#ifndef STRATA_XSORT_H
#define STRATA_XSORT_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct strata_xsort strata_xsort;

/* Begins a sort of at most n records. major: NULL, or a code in [0, n_major)
 * for every row pushed (sorted first). mem: the bytes the sort may hold (its
 * run buffers take 32 bytes a record, its merge buffers half of mem); 0 = no
 * limit (one run, in memory). what names the data in messages. STRATA_ENOMEM
 * naming the sizes when mem is below strata_xsort_floor(n). */
strata_status strata_xsort_begin(strata_ctx *ctx, size_t n, const int32_t *major, size_t n_major,
                                 size_t mem, const char *what, strata_xsort **out);
/* As strata_xsort_begin, the majors (in [0, n_major)) given with each record
 * by strata_xsort_push_major instead of an array indexed by row (no array of
 * n: a caller reading its rows in blocks). Rows below 2^40. */
strata_status strata_xsort_begin_pushed(strata_ctx *ctx, size_t n, size_t n_major, size_t mem,
                                        const char *what, strata_xsort **out);
strata_status strata_xsort_push_major(strata_ctx *ctx, strata_xsort *x, int32_t major, uint64_t key,
                                      size_t row);
/* One record; rows are pushed in ascending order. */
strata_status strata_xsort_push(strata_ctx *ctx, strata_xsort *x, uint64_t key, size_t row);
/* After the last push: sorts the last run; the stream starts at its first record. */
strata_status strata_xsort_end(strata_ctx *ctx, strata_xsort *x);
/* The next records of the stream (at most max; *got = 0 at its end). */
strata_status strata_xsort_read(strata_ctx *ctx, strata_xsort *x, uint64_t *key, size_t *row,
                                size_t max, size_t *got);
/* The stream again from its first record. */
strata_status strata_xsort_rewind(strata_ctx *ctx, strata_xsort *x);
/* When the records are held in memory (no runs written): hands the sorted
 * keys and rows (n records pushed) to the caller, who frees them with
 * strata_free; the sort reads as empty afterwards. EINTERNAL otherwise. */
strata_status strata_xsort_take(strata_ctx *ctx, strata_xsort *x, uint64_t **key, size_t **row);
/* Runs written to the scratch file (0: the records are held in memory). */
size_t strata_xsort_runs(const strata_xsort *x);
/* The least mem that sorts n records. */
size_t strata_xsort_floor(size_t n);
void strata_xsort_free(strata_ctx *ctx, strata_xsort *x); /* accepts NULL */

#endif
