/* engine/core/internal.h — what every translation unit of libstrata shares:
 * the context layout, allocation through the context's hook, and the one
 * error-recording macro. Not installed; the CLI never includes it. */
#ifndef STRATA_INTERNAL_H
#define STRATA_INTERNAL_H

#include "strata/core.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_ERRMSG_MAX 1024

struct strata_ctx {
    int threads;                  /* 0 = OpenMP default */
    strata_alloc_fn alloc;        /* never NULL */
    void *alloc_ud;
    strata_log_fn log;            /* may be NULL */
    void *log_ud;
    strata_log_level log_max;
    strata_status last_status;
    size_t n_warnings;
    char errmsg[STRATA_ERRMSG_MAX];
};

#if defined(__GNUC__)
#define STRATA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define STRATA_PRINTF(a, b)
#endif

/* Records code and message on ctx and returns code. Prefer STRATA_FAIL. */
strata_status strata_fail_at(strata_ctx *ctx, strata_status code, const char *file, int line,
                             const char *fmt, ...) STRATA_PRINTF(5, 6);

/* The one error macro: record the message at the failure site and return the
 * status, e.g.
 *   return STRATA_FAIL(ctx, STRATA_EDATA, "%s:/patients/%s: row %zu: value %g outside [0, 120]",
 *                      path, name, row + 1, v);
 * Messages name file, dataset, row (1-based) and value. Debug builds append
 * the source file:line. */
#define STRATA_FAIL(ctx, code, ...) strata_fail_at((ctx), (code), __FILE__, __LINE__, __VA_ARGS__)

/* Propagates a non-OK status. */
#define STRATA_TRY(expr)                          \
    do {                                          \
        strata_status strata_try_s_ = (expr);     \
        if (strata_try_s_ != STRATA_OK)           \
            return strata_try_s_;                 \
    } while (0)

void strata_log(strata_ctx *ctx, strata_log_level level, const char *fmt, ...) STRATA_PRINTF(3, 4);
/* Logs at WARN and counts the warning. */
void strata_warn(strata_ctx *ctx, const char *fmt, ...) STRATA_PRINTF(2, 3);

/* Allocation through the context's hook. strata_alloc/strata_calloc record
 * STRATA_ENOMEM on ctx when they fail (callers still check for NULL). */
void *strata_alloc(strata_ctx *ctx, size_t size);
void *strata_calloc(strata_ctx *ctx, size_t count, size_t size);
void *strata_realloc(strata_ctx *ctx, void *ptr, size_t old_size, size_t new_size);
void strata_free(strata_ctx *ctx, void *ptr, size_t size); /* size may be 0 when unknown */
char *strata_strdup(strata_ctx *ctx, const char *s);       /* free with strata_free(ctx, s, 0) */

/* Overflow-checked size multiply: returns 0 and records ENOMEM on overflow. */
int strata_mul_ok(size_t a, size_t b, size_t *out);

/* Effective thread count for an OpenMP region. */
int strata_threads(const strata_ctx *ctx);

/* engine/core/radix.c. Order-preserving key of a double (ascending: -inf < ... < -0 <
 * +0 < ... < +inf; NaNs by sign at the ends) and its inverse. */
uint64_t strata_f64_key(double d);
double strata_key_f64(uint64_t k);
/* Stable LSD radix sort of n keys ascending; row (or NULL) moves with its key.
 * k2 (n keys) and r2 (n rows, when row) are scratch. */
void strata_radix_sort(size_t n, uint64_t *key, size_t *row, uint64_t *k2, size_t *r2);

/* engine/core/fenwick.c: a Fenwick tree over ranks 1..nr (tree has nr + 1 slots). */
void strata_fenwick_add(double *tree, size_t nr, size_t k, double v);
double strata_fenwick_sum(const double *tree, size_t k); /* weights of ranks 1..k */
void strata_fenwick_clear(double *tree, size_t nr, size_t k); /* zeroes k's path */

#endif
