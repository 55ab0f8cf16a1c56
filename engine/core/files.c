/* engine/core/files.c — inputs opened safely and outputs checked against them.
 * Invariant: an input opened (or checked) here was a regular file at the time
 * (a FIFO, device or directory is refused without blocking on it), and its
 * identity (device, inode) is remembered on the context so that no output of
 * the same job can be published over it. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

static strata_status note_input(strata_ctx *ctx, const char *path, const struct stat *sb)
{
    if (!S_ISREG(sb->st_mode))
        return STRATA_FAIL(ctx, STRATA_EIO,
                           "%s: is %s; strata reads its inputs from regular files only", path,
                           file_kind(sb->st_mode));
    for (size_t i = 0; i < ctx->n_inputs; i++)
        if (ctx->inputs[i].dev == (uint64_t)sb->st_dev && ctx->inputs[i].ino == (uint64_t)sb->st_ino)
            return STRATA_OK;
    /* a ring: a job reads a handful of files; the newest are the ones that matter */
    ctx->inputs[ctx->n_inputs % STRATA_MAX_INPUTS].dev = (uint64_t)sb->st_dev;
    ctx->inputs[ctx->n_inputs % STRATA_MAX_INPUTS].ino = (uint64_t)sb->st_ino;
    if (ctx->n_inputs < STRATA_MAX_INPUTS)
        ctx->n_inputs++;
    return STRATA_OK;
}

int strata_input_open(strata_ctx *ctx, const char *path)
{
    struct stat sb;
    int fd, flags;
    /* O_NONBLOCK: opening a FIFO without a writer must not hang */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (note_input(ctx, path, &sb) != STRATA_OK) {
        close(fd);
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

FILE *strata_input_fopen(strata_ctx *ctx, const char *path)
{
    int fd = strata_input_open(ctx, path);
    FILE *f;
    if (fd < 0)
        return NULL;
    if (!(f = fdopen(fd, "rb"))) {
        STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

strata_status strata_input_check(strata_ctx *ctx, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (access(path, R_OK) != 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
    return note_input(ctx, path, &sb);
}

strata_status strata_output_check(strata_ctx *ctx, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return STRATA_OK; /* nothing there yet (or unreachable: the create will say) */
    for (size_t i = 0; i < ctx->n_inputs; i++)
        if (ctx->inputs[i].dev == (uint64_t)sb.st_dev && ctx->inputs[i].ino == (uint64_t)sb.st_ino)
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s: is also an input of this command; write the output to "
                               "another path",
                               path);
    return STRATA_OK;
}

void strata_input_forget(strata_ctx *ctx, const char *path)
{
    struct stat sb;
    size_t k = 0;
    if (stat(path, &sb) != 0)
        return;
    for (size_t i = 0; i < ctx->n_inputs; i++)
        if (!(ctx->inputs[i].dev == (uint64_t)sb.st_dev && ctx->inputs[i].ino == (uint64_t)sb.st_ino))
            ctx->inputs[k++] = ctx->inputs[i];
    ctx->n_inputs = k;
}

const char *strata_recorded_path(const strata_ctx *ctx, const char *path, char *buf, size_t size)
{
    const char *at = ctx->stage_dir && *ctx->stage_dir ? strstr(path, ctx->stage_dir) : NULL;
    if (!at || !ctx->final_dir) {
        snprintf(buf, size, "%s", path);
        return buf;
    }
    snprintf(buf, size, "%.*s%s%s", (int)(at - path), path, ctx->final_dir,
             at + strlen(ctx->stage_dir));
    return buf;
}
