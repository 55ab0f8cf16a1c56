/* engine/io/events_internal.h — what the event import, the code-list loader and
 * derive share: a string table interning UTF-8 strings to dense ids 0..n-1 in
 * order of first insertion (open addressing, FNV-1a), an int64 -> row map, date
 * columns as days, and the external merge sort of event records.
 * Invariant: ids never change once given; lookups never allocate. */
#ifndef STRATA_EVENTS_INTERNAL_H
#define STRATA_EVENTS_INTERNAL_H

#include "internal.h"

typedef struct strata_strtab {
    strata_ctx *ctx;
    char **str;        /* n strings (in the chunks below) */
    uint64_t *hash;    /* n hashes */
    size_t n, cap;
    uint64_t *slot;    /* nslot slots: (high 32 bits of the hash) << 32 | id + 1; 0 = empty,
                          so a probe reads the tag beside the id (one cache line) */
    size_t nslot;
    char **chunk;      /* string storage, 64 KiB chunks (never moved) */
    size_t nchunk, chunk_used;
} strata_strtab;

void strata_strtab_init(strata_strtab *t, strata_ctx *ctx);
void strata_strtab_free(strata_strtab *t);
/* Id of s, or -1. */
long strata_strtab_find(const strata_strtab *t, const char *s);
/* Id of s, inserting it when new; -1 on allocation failure (ENOMEM recorded). */
long strata_strtab_add(strata_strtab *t, const char *s);

typedef struct strata_i64map {
    int64_t *key;
    int64_t *val;
    size_t nslot;      /* power of two */
    unsigned char *used;
} strata_i64map;

strata_status strata_i64map_init(strata_ctx *ctx, strata_i64map *m, size_t n);
void strata_i64map_free(strata_ctx *ctx, strata_i64map *m);
/* Inserts key -> val; returns 0, or 1 when key was present (val unchanged). */
int strata_i64map_put(strata_i64map *m, int64_t key, int64_t val);
/* Value of key, or -1. */
int64_t strata_i64map_get(const strata_i64map *m, int64_t key);

/* engine/io/events_date.c: a date column as days since 1970-01-01. Plain
 * integer columns hold days already (*lvday = NULL); categorical columns
 * holding ISO dates (as `strata import` stores them) get a level -> day table
 * (unparseable labels: STRATA_EDATA naming file, column and label). */
typedef struct strata_column_info strata_column_info;
strata_status strata_date_levels(strata_ctx *ctx, const char *file, const strata_column_info *ci,
                                 int32_t **lvday);
/* Converts codes read with strata_cohort_read_i32 to days in place (NA -> INT32_MIN). */
void strata_days_convert(const int32_t *lvday, int32_t *v, size_t n);

/* engine/io/events_copy.c: copies src_path's attributes and groups into w's
 * file, leaving out /events/<skip_table> and its levels tables (may be NULL). */
typedef struct strata_cohort_writer strata_cohort_writer;
strata_status strata_events_copy_cohort(strata_ctx *ctx, const char *src_path,
                                        strata_cohort_writer *w, const char *skip_table);

/* engine/io/events_sort.c: external merge sort of fixed-size event records
 * that start with int32 patient row and int32 day. Records are taken in
 * arrival order through strata_evsort_slot (write rec bytes there, then
 * s->n++); a run of cap records is sorted and spilled to an unlinked scratch
 * file beside `near`; finish calls emit for every record in (row, day) order,
 * ties in arrival order. Memory: one run (cap x rec bytes, grown as needed)
 * plus 1 MiB per run while merging. */
typedef struct strata_evsort {
    strata_ctx *ctx;
    size_t rec, cap;        /* bytes per record; records per run */
    unsigned char *buf;     /* the run being filled */
    size_t n, alloc;        /* records in buf; records allocated */
    int fd;                 /* scratch file (unlinked), -1 before the first spill */
    const char *near;       /* the scratch file is created beside this path */
    size_t nruns, runs_cap;
    uint64_t *run_off;      /* byte offset of each spilled run */
    size_t *run_n;          /* records of each spilled run */
    uint64_t file_off;
} strata_evsort;
typedef strata_status (*strata_evsort_fn)(void *ud, const unsigned char *rec);

strata_status strata_evsort_init(strata_ctx *ctx, strata_evsort *s, size_t rec, size_t cap,
                                 const char *near);
/* The slot of the next record (spilling a full run first), or NULL with *st set. */
unsigned char *strata_evsort_slot(strata_evsort *s, strata_status *st);
strata_status strata_evsort_finish(strata_evsort *s, strata_evsort_fn emit, void *ud);
void strata_evsort_free(strata_evsort *s);

#endif
