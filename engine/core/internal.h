/* engine/core/internal.h — what every translation unit of libstrata shares:
 * the context layout, allocation through the context's hook, the one
 * error-recording macro, the one RNG and the radix sort. Not installed; the
 * CLI never includes it. */
#ifndef STRATA_INTERNAL_H
#define STRATA_INTERNAL_H

#include "strata/core.h"

#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define STRATA_ERRMSG_MAX 1024
#define STRATA_MAX_INPUTS 16 /* input identities remembered per context */

struct strata_ctx {
    int threads;                  /* 0 = OpenMP default */
    size_t memory_budget;         /* bytes; 0 = no limit (strata_ctx_set_memory_budget) */
    char *scratch_dir;            /* strata_ctx_set_scratch_dir's copy, or NULL: $TMPDIR
                                   * (a child context borrows its parent's) */
    strata_alloc_fn alloc;        /* never NULL */
    void *alloc_ud;
    strata_log_fn log;            /* may be NULL */
    void *log_ud;
    strata_log_level log_max;
    strata_status last_status;
    size_t n_warnings;
    char errmsg[STRATA_ERRMSG_MAX];
    struct {
        uint64_t dev, ino;
    } inputs[STRATA_MAX_INPUTS];  /* files read by this job (engine/core/files.c) */
    size_t n_inputs;
    strata_ctx_progress_fn progress; /* may be NULL (engine/core/progress.c) */
    void *progress_ud;
    char progress_owner[32];      /* the stage reporting now ("" none) */
    double progress_last, progress_done;
    const struct strata_comm *comm; /* NULL: one process (engine/core/comm.h) */
    const char *stage_dir, *final_dir; /* a run's staging folder and the folder its
                                        * outputs land in (strata_recorded_path) */
    strata_input_hash_fn input_hash;   /* NULL: a fit hashes its input itself */
    void *input_hash_ud;
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

/* Progress of a long stage (engine/core/progress.c): done of total units
 * (rows, resamples, folds, bytes; total <= 0 when unknown), called at block
 * granularity from any thread; forwarded rate-limited to the callback of
 * strata_ctx_set_progress. A stage ends with done >= total, or for an
 * unknown total with done < 0 (-done units were done). While one stage
 * reports, others (nested in it) are quiet. */
void strata_progress(strata_ctx *ctx, const char *stage, double done, double total);
/* Frees the line for the next stage (a stage that ended on an error never
 * reported its end): strata run calls it between its stages. */
void strata_progress_reset(strata_ctx *ctx);

/* Allocation through the context's hook. strata_alloc/strata_calloc record
 * STRATA_ENOMEM on ctx when they fail (callers still check for NULL). */
void *strata_alloc(strata_ctx *ctx, size_t size);
void *strata_calloc(strata_ctx *ctx, size_t count, size_t size);
void *strata_realloc(strata_ctx *ctx, void *ptr, size_t old_size, size_t new_size);
void strata_free(strata_ctx *ctx, void *ptr, size_t size); /* size may be 0 when unknown */
char *strata_strdup(strata_ctx *ctx, const char *s);       /* free with strata_free(ctx, s, 0) */

/* engine/core/files.c. Inputs: opened read-only without blocking and refused
 * unless a regular file (STRATA_EIO "<path>: is a FIFO; ..."); each is
 * remembered on ctx. strata_input_open returns an fd (or -1, error recorded);
 * strata_input_check does the same for libraries that open by name (HDF5).
 * strata_output_check: STRATA_EINVAL when path is the same file as an input. */
int strata_input_open(strata_ctx *ctx, const char *path);
FILE *strata_input_fopen(strata_ctx *ctx, const char *path);
strata_status strata_input_check(strata_ctx *ctx, const char *path);
/* Forgets path as an input: for a deliberate in-place replace, where the new
 * file is written to a temporary and renamed over the input only on success. */
void strata_input_forget(strata_ctx *ctx, const char *path);
strata_status strata_output_check(strata_ctx *ctx, const char *path);
/* The text to record for path (or a message naming it): inside a run, whose
 * outputs are written in a staging folder and renamed into the output folder
 * at the end, the staging folder's name becomes the output folder's, so that
 * a file records where its inputs are once the run is over and two runs of
 * the same spec write the same bytes. Outside a run, path as it is. Returns
 * buf (always terminated, truncated to size). */
const char *strata_recorded_path(const strata_ctx *ctx, const char *path, char *buf, size_t size);

/* Frees n blocks through ctx (NULLs ok, sizes unknown): the one clean-up of a
 * set of buffers, written STRATA_FREE_ALL(ctx, w->start, w->rows, w->v). */
static inline void strata_free_all(strata_ctx *ctx, void *const *blocks, size_t n)
{
    for (size_t k = 0; k < n; k++)
        strata_free(ctx, blocks[k], 0);
}
#define STRATA_FREE_ALL(ctx, ...)                                   \
    strata_free_all((ctx), (void *const[]){__VA_ARGS__},            \
                    sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

/* Overflow-checked size multiply: returns 0 and records ENOMEM on overflow. */
int strata_mul_ok(size_t a, size_t b, size_t *out);

/* Effective thread count for an OpenMP region. */
int strata_threads(const strata_ctx *ctx);

/* Contexts for tasks of one call that run at the same time, one per thread
 * (e.g. the fold fits of a cross-validation). strata_ctx_child sets *child to
 * a copy of parent's settings with one thread, no progress, no MPI
 * communicator, no remembered inputs and its own error buffer; its
 * allocations and log messages go to parent's hooks, serialised by one lock
 * unless they are the defaults (malloc and no log), so a caller's hooks need
 * not be thread-safe. A child may make children. After the tasks end,
 * strata_ctx_child_end (one thread) adds the child's warnings to parent and,
 * with adopt, records the child's failure (code and message) on parent; it
 * returns the child's last status. */
void strata_ctx_child(const strata_ctx *parent, strata_ctx *child);
strata_status strata_ctx_child_end(strata_ctx *parent, const strata_ctx *child, int adopt);

/* ---- the one random number generator (engine/core/rng.c) --------------------
 * Counter-based: strata_rng_make keys a stream by (seed, row, stream); its
 * k-th draw depends on nothing else, so results never depend on threads or
 * call order. Streams of the library's users (row = patient row, resample or
 * repetition; stream = one of these): */
enum {
    STRATA_STREAM_SYNTH_PATIENT = 1, /* strata synth: one stream per patient row */
    STRATA_STREAM_SYNTH_EVENTS = 2,  /* strata synth: the row's linked events and dates */
    STRATA_STREAM_SYNTH_PRESC = 3,   /* strata synth: the row's prescriptions */
    STRATA_STREAM_RESAMPLE = 0x100,  /* bootstrap resample b (row = b + 1) */
    STRATA_STREAM_FOLDS = 0x101,     /* CV folds / split sample: one draw per row */
    STRATA_STREAM_SII = 0x102        /* SII simulation: one stream per repetition */
};
typedef struct strata_rng {
    uint64_t key, ctr;
} strata_rng;
strata_rng strata_rng_make(uint64_t seed, uint64_t row, uint64_t stream);
void strata_rng_norm2(strata_rng *r, double *z0, double *z1); /* both values of one pair */
size_t strata_rng_below(strata_rng *r, size_t n);        /* uniform on [0, n), multiply-shift */

/* The per-draw steps, inline: synth draws ~100 numbers per patient. */
#define STRATA_RNG_GOLDEN 0x9e3779b97f4a7c15ULL
/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t strata_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* Next 64 random bits of the stream. */
static inline uint64_t strata_rng_next(strata_rng *r)
{
    return strata_mix64(r->key + (++r->ctr) * STRATA_RNG_GOLDEN);
}
/* Uniform on (0, 1): never 0 or 1, so logs are finite. */
static inline double strata_rng_unif(strata_rng *r)
{
    return ((double)(strata_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
/* N(0, 1) by Box-Muller: the cosine value of a pair (strata_rng_norm2 gives both). */
static inline double strata_rng_norm(strata_rng *r)
{
    double u1 = strata_rng_unif(r), u2 = strata_rng_unif(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* engine/core/radix.c. Order-preserving key of a double (ascending: -inf < ... < -0 <
 * +0 < ... < +inf; NaNs by sign at the ends) and its inverse. */
uint64_t strata_f64_key(double d);
double strata_key_f64(uint64_t k);
/* Stable LSD radix sort of n keys ascending; row (or NULL) moves with its key.
 * k2 (n keys) and r2 (n rows, when row) are scratch. */
void strata_radix_sort(size_t n, uint64_t *key, size_t *row, uint64_t *k2, size_t *r2);

/* engine/core/radix.c. A string key and its row; strata_keyrow_sort orders by
 * (key, row), so equal keys keep their rows ascending, and strata_keyrow_find
 * gives the lowest row whose key equals k, or (size_t)-1. Keys are not NULL. */
typedef struct strata_keyrow {
    const char *key;
    size_t row;
} strata_keyrow;
void strata_keyrow_sort(strata_keyrow *v, size_t n);
size_t strata_keyrow_find(const strata_keyrow *v, size_t n, const char *k);

/* UTF-8 validation one byte at a time (sequences may span calls): no
 * overlong forms, surrogates or code points above U+10FFFF. Start from a
 * zeroed state; need != 0 at the end means a cut sequence. Returns 1 when a
 * character starts at c, 0 for a continuation byte, -1 when c is invalid. */
typedef struct strata_utf8 {
    unsigned need;
    unsigned char lo, hi;
} strata_utf8;
static inline int strata_utf8_step(strata_utf8 *u, unsigned char c)
{
    if (u->need) {
        if (c < u->lo || c > u->hi)
            return -1;
        u->need--;
        u->lo = 0x80;
        u->hi = 0xBF;
        return 0;
    }
    u->lo = 0x80;
    u->hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        u->need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        u->need = 2;
        u->lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        u->hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        u->need = 3;
        u->lo = c == 0xF0 ? 0x90 : 0x80;
        u->hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    return 1;
}
/* Offset of the first byte that makes s not UTF-8 (the start of a cut
 * sequence at its end), or (size_t)-1 when all of s is UTF-8. */
static inline size_t strata_utf8_invalid(const char *s)
{
    strata_utf8 u = {0, 0x80, 0xBF};
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        int k = strata_utf8_step(&u, (unsigned char)s[i]);
        if (k < 0)
            return u.need ? start : i;
        if (k > 0)
            start = i;
    }
    return u.need ? start : (size_t)-1;
}

/* engine/core/fenwick.c: a Fenwick tree over ranks 1..nr (tree has nr + 1 slots). */
void strata_fenwick_add(double *tree, size_t nr, size_t k, double v);
double strata_fenwick_sum(const double *tree, size_t k); /* weights of ranks 1..k */
void strata_fenwick_clear(double *tree, size_t nr, size_t k); /* zeroes k's path */

#endif
