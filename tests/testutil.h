/* tests/testutil.h — shared helpers for the cmocka tests: numeric assertions
 * with labels, paths to fixtures and scratch space, and running the CLI.
 * Include after <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h>. */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "strata/core.h"

/* Fails (with label and both values) unless |got - want| <= rtol * max(|want|, tiny).
 * tiny = 1e-300 guards want == 0; use assert_abs_close for values near 0. */
void strata_assert_rel_close(double got, double want, double rtol, const char *file, int line,
                             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void strata_assert_abs_close(double got, double want, double atol, const char *file, int line,
                             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define assert_rel_close(got, want, rtol, ...) \
    strata_assert_rel_close((got), (want), (rtol), __FILE__, __LINE__, __VA_ARGS__)
#define assert_abs_close(got, want, atol, ...) \
    strata_assert_abs_close((got), (want), (atol), __FILE__, __LINE__, __VA_ARGS__)

/* Asserts that a status equals want; on mismatch prints the context message. */
#define assert_status(ctx, got, want) \
    strata_assert_status((ctx), (got), (want), __FILE__, __LINE__)
void strata_assert_status(const strata_ctx *ctx, strata_status got, strata_status want,
                          const char *file, int line);

/* Asserts haystack contains needle (both printed on failure). */
#define assert_contains(haystack, needle) \
    strata_assert_contains((haystack), (needle), __FILE__, __LINE__)
void strata_assert_contains(const char *haystack, const char *needle, const char *file, int line);

/* Environment from CTest: source tree, ../shared/data, the CLI, scratch dir. */
const char *tu_source_dir(void);
const char *tu_shared_data(void);
const char *tu_cli(void);
/* Scratch path "<STRATA_TEST_TMP>/<name>" (directory created on first use).
 * Returns a pointer to one of 8 rotating static buffers. */
const char *tu_tmp(const char *name);
/* "<source>/<rel>" and "<shared data>/<rel>" in rotating static buffers. */
const char *tu_src(const char *rel);
const char *tu_data(const char *rel);

/* Runs "strata <args>" through /bin/sh, capturing stdout+stderr into a
 * malloc'd string (*out, may be NULL to discard). Returns the exit code. */
int tu_run_cli(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs a shell command likewise. */
int tu_run_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole file into a malloc'd NUL-terminated buffer (NULL on error). */
char *tu_read_file(const char *path, size_t *len);
/* A numeric CSV fixture under the source tree (header + rows; a field that is
 * not a number, e.g. "NA", reads as NaN) as a malloc'd row-major array in
 * *out; returns the rows, sets *cols. */
size_t tu_load_numeric_csv(const char *rel, size_t *cols, double **out);
/* Writes text to a file; asserts success. */
void tu_write_file(const char *path, const char *text);
/* 1 when both files exist and have identical bytes. */
int tu_files_equal(const char *a, const char *b);

/* Splits one CSV line in place (RFC 4180 quotes, no embedded newlines) into
 * at most max fields; returns their number. */
size_t tu_csv_split(char *line, char **f, size_t max);

/* A context with threads = 1 and a log sink that stores the last warning. */
strata_ctx *tu_ctx(void);
const char *tu_last_warning(void);

/* Allocation hook that fails the k-th allocation (k = 1, 2, ...), counting
 * from tu_fault_arm(); tu_fault_count() gives allocations since arming. */
void tu_fault_install(strata_ctx *ctx);
void tu_fault_arm(long fail_at);
long tu_fault_count(void);

/* The allocation sweep's plan, one rule for every sweep: which of `total`
 * allocations to fail. `first` = STRATA_ALLOC_OFFSET (default 1), `stride` =
 * STRATA_ALLOC_STRIDE (default total / runs + 1, about `runs` failing runs;
 * STRATA_ALLOC_STRIDE=1 fails every allocation: docs/reliability.md). */
void tu_sweep_plan(long total, long runs, long *first, long *stride);

/* Allocation hook (strata_ctx_set_alloc, ud = a tu_alloc_count) counting the
 * bytes live through the context and their peak. */
typedef struct tu_alloc_count {
    size_t live, peak;
} tu_alloc_count;
void *tu_count_alloc(void *ud, void *ptr, size_t old_size, size_t new_size);
#endif
