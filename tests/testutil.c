/* tests/testutil.c — implementation of the shared test helpers (testutil.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void vfail(const char *file, int line, const char *what, double got, double want,
                  double tol, const char *fmt, va_list ap)
{
    char label[512];
    vsnprintf(label, sizeof label, fmt, ap);
    print_error("%s: %s: got %.17g want %.17g (%s %.3g, diff %.3g)\n", label, what, got, want,
                what, tol, fabs(got - want));
    _fail(file, line);
}

void strata_assert_rel_close(double got, double want, double rtol, const char *file, int line,
                             const char *fmt, ...)
{
    double scale = fabs(want) > 1e-300 ? fabs(want) : 1e-300;
    if (isnan(got) && isnan(want))
        return;
    if (!(fabs(got - want) <= rtol * scale)) {
        va_list ap;
        va_start(ap, fmt);
        vfail(file, line, "rtol", got, want, rtol, fmt, ap);
        va_end(ap);
    }
}

void strata_assert_abs_close(double got, double want, double atol, const char *file, int line,
                             const char *fmt, ...)
{
    if (isnan(got) && isnan(want))
        return;
    if (!(fabs(got - want) <= atol)) {
        va_list ap;
        va_start(ap, fmt);
        vfail(file, line, "atol", got, want, atol, fmt, ap);
        va_end(ap);
    }
}

void strata_assert_status(const strata_ctx *ctx, strata_status got, strata_status want,
                          const char *file, int line)
{
    if (got != want) {
        print_error("status %s (%d), want %s (%d); message: %s\n", strata_status_str(got),
                    (int)got, strata_status_str(want), (int)want, strata_ctx_errmsg(ctx));
        _fail(file, line);
    }
}

void strata_assert_contains(const char *haystack, const char *needle, const char *file, int line)
{
    if (!haystack || !needle || !strstr(haystack, needle)) {
        print_error("expected to find \"%s\" in:\n%s\n", needle ? needle : "(null)",
                    haystack ? haystack : "(null)");
        _fail(file, line);
    }
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

const char *tu_source_dir(void) { return env_or("STRATA_SOURCE_DIR", "."); }
const char *tu_shared_data(void) { return env_or("STRATA_SHARED_DATA", "../shared/data"); }
const char *tu_cli(void) { return env_or("STRATA_CLI", "./build/strata"); }

static char *rot_buf(void)
{
    static char bufs[8][4096];
    static int k;
    k = (k + 1) % 8;
    return bufs[k];
}

static void mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n >= sizeof tmp)
        return;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    }
    mkdir(tmp, 0700);
}

const char *tu_tmp(const char *name)
{
    const char *dir = env_or("STRATA_TEST_TMP", "/tmp/strata-test");
    char *b = rot_buf();
    mkdir_p(dir);
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

const char *tu_src(const char *rel)
{
    char *b = rot_buf();
    snprintf(b, 4096, "%s/%s", tu_source_dir(), rel);
    return b;
}

const char *tu_data(const char *rel)
{
    char *b = rot_buf();
    snprintf(b, 4096, "%s/%s", tu_shared_data(), rel);
    return b;
}

static int run_capture(char **out, const char *cmd)
{
    char *full;
    FILE *p;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int status;
    size_t n = strlen(cmd) + 16;
    full = malloc(n);
    assert_non_null(full);
    assert_non_null(buf);
    snprintf(full, n, "%s 2>&1", cmd);
    p = popen(full, "r");
    free(full);
    assert_non_null(p);
    for (;;) {
        size_t got;
        if (len + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + len, 1, cap - len - 1, p);
        if (got == 0)
            break;
        len += got;
    }
    buf[len] = '\0';
    status = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int tu_run_cli(char **out, const char *fmt, ...)
{
    char args[8192], cmd[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s", tu_cli(), args);
    return run_capture(out, cmd);
}

int tu_run_sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return run_capture(out, cmd);
}

size_t tu_load_numeric_csv(const char *rel, size_t *cols, double **out)
{
    char *text = tu_read_file(tu_src(rel), NULL), *line, *save = NULL;
    size_t n = 0, cap = 256, nc = 1;
    double *v = malloc(cap * sizeof *v);
    assert_non_null(text);
    assert_non_null(v);
    line = strtok_r(text, "\r\n", &save);
    for (char *c = line; *c; c++)
        nc += *c == ',';
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *f = line;
        for (size_t j = 0; j < nc; j++) {
            char *end;
            double x = strtod(f, &end);
            if (n * nc + j >= cap)
                assert_non_null(v = realloc(v, (cap *= 2) * sizeof *v));
            v[n * nc + j] = end == f ? NAN : x;
            f = strchr(f, ',');
            f = f ? f + 1 : (char *)"";
        }
        n++;
    }
    free(text);
    *cols = nc;
    *out = v;
    return n;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

void tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

int tu_files_equal(const char *a, const char *b)
{
    size_t la, lb;
    char *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);
    int eq = da && db && la == lb && memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return eq;
}

static char last_warning[1024];

static void tu_log(void *ud, strata_log_level level, const char *msg)
{
    (void)ud;
    if (level <= STRATA_LOG_WARN)
        snprintf(last_warning, sizeof last_warning, "%s", msg);
}

strata_ctx *tu_ctx(void)
{
    strata_ctx *ctx = NULL;
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_threads(ctx, 1);
    strata_ctx_set_log(ctx, tu_log, NULL, STRATA_LOG_WARN);
    last_warning[0] = '\0';
    return ctx;
}

const char *tu_last_warning(void) { return last_warning; }

static long fault_at = -1, fault_count;

static void *fault_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    (void)old_size;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    fault_count++;
    if (fault_at > 0 && fault_count == fault_at)
        return NULL;
    return realloc(ptr, new_size);
}

void tu_fault_install(strata_ctx *ctx) { strata_ctx_set_alloc(ctx, fault_alloc, NULL); }
void tu_fault_arm(long k)
{
    fault_at = k;
    fault_count = 0;
}
long tu_fault_count(void) { return fault_count; }

static long env_positive(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && atol(v) > 0 ? atol(v) : dflt;
}

void tu_sweep_plan(long total, long runs, long *first, long *stride)
{
    *first = env_positive("STRATA_ALLOC_OFFSET", 1);
    *stride = env_positive("STRATA_ALLOC_STRIDE", total / runs + 1);
}

void *tu_count_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    tu_alloc_count *c = ud;
    size_t *h = ptr ? (size_t *)ptr - 2 : NULL;
    (void)old_size;
    if (h)
        c->live -= h[0];
    if (new_size == 0) {
        free(h);
        return NULL;
    }
    if (!(h = realloc(h, new_size + 2 * sizeof *h)))
        return NULL;
    h[0] = new_size;
    c->live += new_size;
    if (c->live > c->peak)
        c->peak = c->live;
    return h + 2;
}

/* Splits one CSV line (no embedded newlines in these tables) into fields. */
size_t tu_csv_split(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        if (*p == '"') { /* quoted */
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"' || !*p) {
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            if (*p == '"') /* past the closing quote before ending the field where it was */
                p++;
            *w = '\0';
        } else {
            f[n++] = p;
            p += strcspn(p, ",");
        }
        if (*p != ',')
            break;
        *p++ = '\0';
    }
    return n;
}
