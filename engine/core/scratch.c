/* engine/core/scratch.c — owner-only scratch files with no name (scratch.h).
 * Invariant: a scratch file is never visible under a name once open returns:
 * O_TMPFILE where the file system has it, else mkstemp (mode 0600) and an
 * immediate unlink, so closing the descriptor (or the process dying) frees it. */
#define _GNU_SOURCE
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct strata_scratch {
    int fd;
    char dir[512];
    char what[64];
};

strata_status strata_scratch_open(strata_ctx *ctx, const char *dir, const char *what, strata_scratch **out)
{
    strata_scratch *s;
    char path[600];
    int fd = -1, err = 0;
    *out = NULL;
    if ((!dir || !*dir) && strata_ctx_scratch_dir(ctx))
        dir = strata_ctx_scratch_dir(ctx);
    if (!dir || !*dir)
        dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (strlen(dir) >= sizeof s->dir)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: scratch directory name too long", dir);
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, S_IRUSR | S_IWUSR);
    err = errno;
#endif
    if (fd < 0) { /* no O_TMPFILE here: a named file, unlinked at once */
        snprintf(path, sizeof path, "%s/strata-scratch-XXXXXX", dir);
        fd = mkstemp(path);
        err = errno;
        if (fd >= 0 && unlink(path) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot make a scratch file for %s: %s (the scratch directory: "
                           "strata_ctx_set_scratch_dir, else TMPDIR; the CLI uses the output's directory)",
                           dir, what, strerror(err));
    if (!(s = strata_calloc(ctx, 1, sizeof *s))) {
        close(fd);
        return STRATA_ENOMEM;
    }
    s->fd = fd;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->what, sizeof s->what, "%s", what);
    *out = s;
    return STRATA_OK;
}

strata_status strata_scratch_write(strata_ctx *ctx, strata_scratch *s, uint64_t off, const void *buf, size_t n)
{
    const char *p = buf;
    uint64_t at = off;
    while (n > 0) {
        ssize_t k = pwrite(s->fd, p, n, (off_t)at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: writing the scratch file of %s (%zu bytes at byte %llu): %s",
                               s->dir, s->what, n, (unsigned long long)at, k < 0 ? strerror(errno) : "no space written");
        p += k;
        at += (uint64_t)k;
        n -= (size_t)k;
    }
    return STRATA_OK;
}

int strata_scratch_pread(const strata_scratch *s, uint64_t off, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(s->fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? errno : EIO; /* 0: shorter than written */
        p += k;
        off += (uint64_t)k;
        n -= (size_t)k;
    }
    return 0;
}

strata_status strata_scratch_read(strata_ctx *ctx, strata_scratch *s, uint64_t off, void *buf, size_t n)
{
    int e = strata_scratch_pread(s, off, buf, n);
    if (e)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: reading the scratch file of %s (%zu bytes at byte %llu): %s", s->dir,
                           s->what, n, (unsigned long long)off, strerror(e));
    return STRATA_OK;
}

const char *strata_scratch_dir(const strata_scratch *s)
{
    return s ? s->dir : "";
}

void strata_scratch_close(strata_ctx *ctx, strata_scratch *s)
{
    if (!s)
        return;
    close(s->fd);
    strata_free(ctx, s, sizeof *s);
}
