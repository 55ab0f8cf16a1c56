/* engine/io/outfile.c — output files written atomically: created as
 * <path>.tmp.<pid> with their final mode from the first byte (0600 for
 * patient-level files), renamed into place only when complete; and RFC 4180
 * field quoting shared by every CSV writer. */
#include "internal.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void strata_csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

FILE *strata_out_open(strata_ctx *ctx, const char *path, unsigned mode, char **tmp)
{
    int fd;
    FILE *f;
    *tmp = strata_tmp_path(ctx, path);
    if (!*tmp)
        return NULL;
    /* created with its final mode: a patient-level file is never world-readable */
    fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
    f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create: %s", path, strerror(e));
        strata_free(ctx, *tmp, 0);
        *tmp = NULL;
    }
    return f;
}

strata_status strata_out_publish(strata_ctx *ctx, FILE *f, char *tmp, const char *path,
                                  unsigned mode)
{
    strata_status s;
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        strata_free(ctx, tmp, 0);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: write failed", path);
    }
    s = strata_publish(ctx, tmp, path, mode);
    strata_free(ctx, tmp, 0);
    return s;
}

char *strata_tmp_path(strata_ctx *ctx, const char *final_path)
{
    size_t n = strlen(final_path) + 48;
    char *p = strata_alloc(ctx, n);
    if (p)
        snprintf(p, n, "%s.tmp.%ld", final_path, (long)getpid());
    return p;
}

strata_status strata_publish(strata_ctx *ctx, const char *tmp_path, const char *final_path,
                             unsigned mode)
{
    if (chmod(tmp_path, (mode_t)mode) != 0) {
        int e = errno;
        unlink(tmp_path);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot set mode %o: %s", tmp_path, mode,
                           strerror(e));
    }
    if (rename(tmp_path, final_path) != 0) {
        int e = errno;
        unlink(tmp_path);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot rename into place: %s", final_path,
                           strerror(e));
    }
    return STRATA_OK;
}
