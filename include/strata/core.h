/* strata/core.h — context, status codes, allocation and logging hooks.
 * Every fallible library call takes a strata_ctx first and returns a
 * strata_status; the human-readable message of the last failure stays on the
 * context (strata_ctx_errmsg) until the next failing call. The library keeps
 * no global state and never calls exit() or abort(). */
#ifndef STRATA_CORE_H
#define STRATA_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Marks the exported API: libstrata is built with -fvisibility=hidden, so only
 * declarations carrying STRATA_API are visible to programs linking it. */
#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. The CLI exits with the same number (docs/errors.md). */
typedef enum strata_status {
    STRATA_OK = 0,        /* success */
    STRATA_EINVAL = 2,    /* bad argument, option or parameter value (usage) */
    STRATA_ENOMEM = 3,    /* an allocation failed */
    STRATA_EIO = 4,       /* a file could not be opened, read, written or renamed */
    STRATA_EFORMAT = 5,   /* a file is not HDF5 / not a strata cohort or model / wrong schema */
    STRATA_EDATA = 6,     /* data values are invalid (out of range, NaN, duplicates, bad CSV row) */
    STRATA_ESPEC = 7,     /* a formula or run spec is invalid (unknown column, bad key) */
    STRATA_ENOCONV = 8,   /* an iterative fit did not converge; the partial result is kept */
    STRATA_ESINGULAR = 9, /* a matrix is singular beyond what aliasing can handle */
    STRATA_EINTERNAL = 10 /* a broken invariant inside strata: please report it */
} strata_status;

/* Short fixed name for a status ("EDATA", ...); never NULL. */
STRATA_API const char *strata_status_str(strata_status s);

/* Version string "MAJOR.MINOR.PATCH". */
STRATA_API const char *strata_version(void);

typedef struct strata_ctx strata_ctx;

/* Allocation hook, as lua_Alloc: new_size == 0 frees ptr and returns NULL;
 * otherwise behaves like realloc(ptr, new_size). old_size is 0 for a new block. */
typedef void *(*strata_alloc_fn)(void *ud, void *ptr, size_t old_size, size_t new_size);

typedef enum strata_log_level {
    STRATA_LOG_ERROR = 0,
    STRATA_LOG_WARN = 1,
    STRATA_LOG_INFO = 2,
    STRATA_LOG_DEBUG = 3
} strata_log_level;

typedef void (*strata_log_fn)(void *ud, strata_log_level level, const char *msg);

/* Creates a context with malloc-based allocation, no log callback and
 * threads = 0 (use OpenMP's default). Returns STRATA_ENOMEM on failure. */
STRATA_API strata_status strata_ctx_new(strata_ctx **out);
STRATA_API void strata_ctx_free(strata_ctx *ctx); /* accepts NULL */

/* Number of threads for OpenMP regions inside strata calls; 0 = OpenMP default.
 * Results are byte-identical whatever the value (fixed row blocks, fixed-order reduce). */
STRATA_API void strata_ctx_set_threads(strata_ctx *ctx, int threads);
STRATA_API int strata_ctx_threads(const strata_ctx *ctx); /* effective count (>= 1) */

STRATA_API void strata_ctx_set_alloc(strata_ctx *ctx, strata_alloc_fn fn, void *ud);
STRATA_API void strata_ctx_set_log(strata_ctx *ctx, strata_log_fn fn, void *ud, strata_log_level max_level);

/* Progress of long work, for a progress bar or a log line: stage is
 * "import", "synth", "derive", "fit", "bootstrap", "cv", "report", ...;
 * done of total units (rows, bytes, resamples, folds, IRLS iterations; total
 * 0 when unknown). Called at most every 0.2 s per stage, plus its first
 * report and its end: done == total, or for an unknown total done < 0 (-done
 * units were done). A stage nested in another (the refits of a bootstrap)
 * does not report. The callback may run on any thread, one call at a time;
 * it must not call back into strata. Outputs never depend on it. */
typedef void (*strata_ctx_progress_fn)(void *ud, const char *stage, double done, double total);
STRATA_API void strata_ctx_set_progress(strata_ctx *ctx, strata_ctx_progress_fn fn, void *ud);
/* Memory budget in bytes for the data a stage holds (0 = no limit, the
 * default). Honoured today by the GLM fit (strata_glm_fit): when the columns it
 * needs exceed the budget, each IRLS pass streams fixed row blocks from the
 * cohort instead of loading whole columns, with byte-identical results
 * (docs/scale.md lists what each stage does and what it still holds). Other
 * stages ignore it. */
STRATA_API void strata_ctx_set_memory_budget(strata_ctx *ctx, size_t bytes);
STRATA_API size_t strata_ctx_memory_budget(const strata_ctx *ctx);
/* The directory for a stage's scratch file (the Cox fit's sorted design under
 * the memory budget: docs/scale.md), or NULL: $TMPDIR, else /tmp (the
 * default). The file has no name and is gone when the stage ends; `strata fit`
 * and `strata run` point it at the output's directory. dir is copied (a name
 * of 4,096 bytes or more is refused when the file is made). */
STRATA_API void strata_ctx_set_scratch_dir(strata_ctx *ctx, const char *dir);
STRATA_API const char *strata_ctx_scratch_dir(const strata_ctx *ctx); /* NULL: the default */
/* Parses a byte size: digits with an optional binary suffix K, M, G or T
 * ("4G" = 4 x 2^30; "B"/"iB" may follow). 0 on success, -1 when malformed or
 * too large for size_t. */
STRATA_API int strata_parse_size(const char *s, size_t *out);


/* Message of the last failure ("" if none). Valid until the next call on ctx. */
STRATA_API const char *strata_ctx_errmsg(const strata_ctx *ctx);
STRATA_API strata_status strata_ctx_errcode(const strata_ctx *ctx);
STRATA_API void strata_ctx_clear_error(strata_ctx *ctx);

/* Number of warnings logged on this context since creation (non-fatal
 * conditions such as separation or dropped rows). */
STRATA_API size_t strata_ctx_warnings(const strata_ctx *ctx);

/* Writes the BLAS configuration in use into buf, e.g.
 * "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64; threads=2". */
STRATA_API void strata_blas_config(char *buf, size_t size);

/* Keeps BLAS on one thread for the rest of the process (strata's own BLAS and
 * LAPACK calls run on one thread anyway), so that OpenBLAS's thread pool,
 * which a fork shuts down, is never started again to spin idle. For programs
 * that use no BLAS threads of their own (the CLI); strata_blas_config still
 * reports the count configured before. Irreversible. */
STRATA_API void strata_blas_pin_single(void);

/* Writes the build configuration into buf as "key: value" lines: build type,
 * compiler and system, C flags, OpenMP, OpenBLAS configuration, and the HDF5,
 * libyaml and jansson versions loaded (`strata --version`). */
STRATA_API void strata_build_info(char *buf, size_t size);

/* SHA-256 of a file as 64 lowercase hex digits plus NUL (provenance of
 * inputs in model files and manifests). */
STRATA_API strata_status strata_file_sha256(strata_ctx *ctx, const char *path, char out[65]);

/* Where a GLM fit (strata_glm_fit) takes its input's SHA-256, the model's
 * input_hash, from: fn(ud, ctx, path, out) writes strata_file_sha256's 64
 * hex digits of the file at path into out, or returns a failure with ctx's
 * message set. NULL (the default): the fit hashes the file itself on a thread
 * of its own beside the fit. `strata fit`'s worker takes it from its
 * supervisor, which reads the file on the other core once its own open is
 * done (engine/cli/cli_worker.c): the same bytes in the model file. */
typedef strata_status (*strata_input_hash_fn)(void *ud, strata_ctx *ctx, const char *path, char out[65]);
STRATA_API void strata_ctx_set_input_hash(strata_ctx *ctx, strata_input_hash_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
