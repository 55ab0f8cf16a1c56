/* engine/core/ctx.c — the context: thread settings, allocation hook, logging and
 * the last error. Invariant: errmsg always holds a NUL-terminated string and
 * last_status the code of the last recorded failure (STRATA_OK after clear). */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef STRATA_VERSION_STRING
#define STRATA_VERSION_STRING "0.0.0"
#endif

const char *strata_version(void) { return STRATA_VERSION_STRING; }

const char *strata_status_str(strata_status s)
{
    switch (s) {
    case STRATA_OK: return "OK";
    case STRATA_EINVAL: return "EINVAL";
    case STRATA_ENOMEM: return "ENOMEM";
    case STRATA_EIO: return "EIO";
    case STRATA_EFORMAT: return "EFORMAT";
    case STRATA_EDATA: return "EDATA";
    case STRATA_ESPEC: return "ESPEC";
    case STRATA_ENOCONV: return "ENOCONV";
    case STRATA_ESINGULAR: return "ESINGULAR";
    case STRATA_EINTERNAL: return "EINTERNAL";
    }
    return "EUNKNOWN";
}

static void *default_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

strata_status strata_ctx_new(strata_ctx **out)
{
    strata_ctx *ctx;
    if (!out)
        return STRATA_EINVAL;
    *out = NULL;
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return STRATA_ENOMEM;
    ctx->alloc = default_alloc;
    ctx->log_max = STRATA_LOG_WARN;
    *out = ctx;
    return STRATA_OK;
}

void strata_ctx_free(strata_ctx *ctx)
{
    if (ctx)
        free(ctx->scratch_dir);
    free(ctx);
}

void strata_ctx_set_threads(strata_ctx *ctx, int threads)
{
    ctx->threads = threads < 0 ? 0 : threads;
}

void strata_ctx_set_memory_budget(strata_ctx *ctx, size_t bytes)
{
    if (ctx)
        ctx->memory_budget = bytes;
}

size_t strata_ctx_memory_budget(const strata_ctx *ctx) { return ctx ? ctx->memory_budget : 0; }

void strata_ctx_set_scratch_dir(strata_ctx *ctx, const char *dir)
{
    if (!ctx)
        return;
    free(ctx->scratch_dir); /* (the context's own, outside its allocation hook) */
    ctx->scratch_dir = dir && *dir ? strdup(dir) : NULL;
}

const char *strata_ctx_scratch_dir(const strata_ctx *ctx) { return ctx ? ctx->scratch_dir : NULL; }

void strata_ctx_set_input_hash(strata_ctx *ctx, strata_input_hash_fn fn, void *ud)
{
    if (!ctx)
        return;
    ctx->input_hash = fn;
    ctx->input_hash_ud = ud;
}

int strata_threads(const strata_ctx *ctx)
{
    if (ctx && ctx->threads > 0)
        return ctx->threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int strata_ctx_threads(const strata_ctx *ctx) { return strata_threads(ctx); }

void strata_ctx_set_alloc(strata_ctx *ctx, strata_alloc_fn fn, void *ud)
{
    ctx->alloc = fn ? fn : default_alloc;
    ctx->alloc_ud = fn ? ud : NULL;
}

/* ---- child contexts for concurrent tasks ------------------------------------
 * A child's hooks, when not the defaults, are these wrappers with the root
 * context (whose hooks are the caller's) as user data; one process-wide lock
 * serialises every call into a caller's hook made through a child. */
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;

static void *child_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    const strata_ctx *root = ud;
    pthread_mutex_lock(&child_lock);
    void *p = root->alloc(root->alloc_ud, ptr, old_size, new_size);
    pthread_mutex_unlock(&child_lock);
    return p;
}

static void child_log(void *ud, strata_log_level level, const char *msg)
{
    const strata_ctx *root = ud;
    pthread_mutex_lock(&child_lock);
    root->log(root->log_ud, level, msg);
    pthread_mutex_unlock(&child_lock);
}

void strata_ctx_child(const strata_ctx *parent, strata_ctx *child)
{
    memset(child, 0, sizeof *child);
    child->threads = 1;
    child->memory_budget = parent->memory_budget;
    child->scratch_dir = parent->scratch_dir; /* (borrowed: the parent outlives its children) */
    child->alloc = parent->alloc;
    child->alloc_ud = parent->alloc_ud;
    if (parent->alloc != default_alloc && parent->alloc != child_alloc) {
        child->alloc = child_alloc;
        child->alloc_ud = (void *)parent;
    }
    child->log = parent->log;
    child->log_ud = parent->log_ud;
    child->log_max = parent->log_max;
    if (parent->log && parent->log != child_log) {
        child->log = child_log;
        child->log_ud = (void *)parent;
    }
    child->stage_dir = parent->stage_dir;
    child->final_dir = parent->final_dir;
}

strata_status strata_ctx_child_end(strata_ctx *parent, const strata_ctx *child, int adopt)
{
    parent->n_warnings += child->n_warnings;
    if (adopt && child->last_status != STRATA_OK) {
        memcpy(parent->errmsg, child->errmsg, sizeof parent->errmsg);
        parent->last_status = child->last_status;
    }
    return child->last_status;
}

void strata_ctx_set_log(strata_ctx *ctx, strata_log_fn fn, void *ud, strata_log_level max_level)
{
    ctx->log = fn;
    ctx->log_ud = ud;
    ctx->log_max = max_level;
}


const char *strata_ctx_errmsg(const strata_ctx *ctx) { return ctx ? ctx->errmsg : ""; }
strata_status strata_ctx_errcode(const strata_ctx *ctx) { return ctx ? ctx->last_status : STRATA_OK; }
size_t strata_ctx_warnings(const strata_ctx *ctx) { return ctx ? ctx->n_warnings : 0; }

void strata_ctx_clear_error(strata_ctx *ctx)
{
    ctx->last_status = STRATA_OK;
    ctx->errmsg[0] = '\0';
}

strata_status strata_fail_at(strata_ctx *ctx, strata_status code, const char *file, int line,
                             const char *fmt, ...)
{
    va_list ap;
    int len;
    if (!ctx)
        return code;
    va_start(ap, fmt);
    len = vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
#ifndef NDEBUG
    if (len >= 0 && (size_t)len < sizeof ctx->errmsg - 64)
        snprintf(ctx->errmsg + len, sizeof ctx->errmsg - (size_t)len, " [%s:%d]", file, line);
#else
    (void)file;
    (void)line;
    (void)len;
#endif
    ctx->last_status = code;
    if (ctx->log && ctx->log_max >= STRATA_LOG_DEBUG)
        ctx->log(ctx->log_ud, STRATA_LOG_DEBUG, ctx->errmsg);
    return code;
}

static void vlog(strata_ctx *ctx, strata_log_level level, const char *fmt, va_list ap)
    STRATA_PRINTF(3, 0);
static void vlog(strata_ctx *ctx, strata_log_level level, const char *fmt, va_list ap)
{
    char buf[STRATA_ERRMSG_MAX];
    if (!ctx || !ctx->log || level > ctx->log_max)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    ctx->log(ctx->log_ud, level, buf);
}

void strata_log(strata_ctx *ctx, strata_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, fmt, ap);
    va_end(ap);
}

void strata_warn(strata_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    if (ctx)
        ctx->n_warnings++;
    va_start(ap, fmt);
    vlog(ctx, STRATA_LOG_WARN, fmt, ap);
    va_end(ap);
}

int strata_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *strata_alloc(strata_ctx *ctx, size_t size)
{
    void *p = ctx->alloc(ctx->alloc_ud, NULL, 0, size ? size : 1);
    if (!p)
        STRATA_FAIL(ctx, STRATA_ENOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *strata_calloc(strata_ctx *ctx, size_t count, size_t size)
{
    size_t bytes;
    void *p;
    if (!strata_mul_ok(count, size, &bytes)) {
        STRATA_FAIL(ctx, STRATA_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    p = strata_alloc(ctx, bytes);
    if (p)
        memset(p, 0, bytes ? bytes : 1);
    return p;
}

void *strata_realloc(strata_ctx *ctx, void *ptr, size_t old_size, size_t new_size)
{
    void *p = ctx->alloc(ctx->alloc_ud, ptr, ptr ? old_size : 0, new_size ? new_size : 1);
    if (!p)
        STRATA_FAIL(ctx, STRATA_ENOMEM, "out of memory growing a block to %zu bytes", new_size);
    return p;
}

void strata_free(strata_ctx *ctx, void *ptr, size_t size)
{
    if (ptr)
        ctx->alloc(ctx->alloc_ud, ptr, size, 0);
}

char *strata_strdup(strata_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = strata_alloc(ctx, n);
    if (d)
        memcpy(d, s, n);
    return d;
}
