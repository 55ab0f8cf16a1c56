/* engine/io/outfile.c — output files written atomically and untamperably: a
 * temporary beside the final path is created O_CREAT|O_EXCL|O_NOFOLLOW with
 * its final mode (0600 for patient-level files) from the first byte, so a
 * planted file or symlink is never written through; it is renamed into place
 * only when complete, after its mode is set on the file itself (never through
 * a link). No output may replace a file this job read. Also the one RFC 4180
 * field writer, which neutralises cells a spreadsheet would execute. */
#include "internal.h"
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A cell is a number when strtod takes all of it: "-1.5", "+3", "-inf" are
 * left alone; "-1+2", "=1", "@A1" are not numbers. */
static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    (void)strtod(s, &end);
    return *end == '\0';
}

int strata_csv_needs_guard(const char *s)
{
    /* docs/reliability.md#csv-formula-injection */
    if (!s || !*s || !strchr("=+-@\t\r", s[0]))
        return 0;
    return !is_number(s);
}

void strata_csv_field(FILE *f, const char *s)
{
    int guard;
    if (!s)
        return;
    guard = strata_csv_needs_guard(s);
    if (!strpbrk(s, ",\"\r\n")) {
        if (guard)
            fputc('\'', f);
        fputs(s, f);
        return;
    }
    fputc('"', f);
    if (guard)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int strata_pid_is_dead(long pid)
{
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The pid in "<pid>" or "<pid>.<8 hex>" (the two temporary suffixes), else -1. */
static long tmp_suffix_pid(const char *s)
{
    char *end;
    long pid;
    if (*s < '0' || *s > '9')
        return -1;
    pid = strtol(s, &end, 10);
    if (*end == '\0')
        return pid;
    if (*end != '.' || strlen(end + 1) != 8 || strspn(end + 1, "0123456789abcdef") != 8)
        return -1;
    return pid;
}

/* Removes <final>.tmp.<pid>[.<hex>] temporaries left in final_path's directory
 * by a strata process that no longer exists (killed): regular files owned by
 * us only, never followed through a link (docs/reliability.md#outputs). */
static void remove_stale_tmps(const char *final_path)
{
    const char *slash = strrchr(final_path, '/');
    char dir[4096];
    const char *base = slash ? slash + 1 : final_path;
    size_t blen = strlen(base);
    DIR *d;
    struct dirent *e;
    int dfd;
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - final_path == 0 ? 1 : slash - final_path),
                 final_path);
    else
        snprintf(dir, sizeof dir, ".");
    if (!*base || !(d = opendir(dir)))
        return;
    dfd = dirfd(d);
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5) != 0 ||
            !strata_pid_is_dead(tmp_suffix_pid(e->d_name + blen + 5)))
            continue;
        if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
            sb.st_uid == geteuid())
            (void)unlinkat(dfd, e->d_name, 0);
    }
    closedir(d);
}

/* Tries <final>.tmp.<pid>, then <final>.tmp.<pid>.<random> while a name is
 * taken (a stale or planted file is never opened, only stepped around);
 * temporaries of killed strata processes beside it are removed first. */
int strata_tmp_create(strata_ctx *ctx, const char *final_path, unsigned mode, char **tmp)
{
    size_t n = strlen(final_path) + 64;
    unsigned long salt = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
    *tmp = NULL;
    if (strata_output_check(ctx, final_path) != STRATA_OK)
        return -1;
    remove_stale_tmps(final_path);
    if (!(*tmp = strata_alloc(ctx, n)))
        return -1;
    for (int attempt = 0; attempt < 64; attempt++) {
        int fd, e;
        if (attempt == 0)
            snprintf(*tmp, n, "%s.tmp.%ld", final_path, (long)getpid());
        else {
            salt = salt * 6364136223846793005UL + 1442695040888963407UL;
            snprintf(*tmp, n, "%s.tmp.%ld.%08lx", final_path, (long)getpid(),
                     (salt >> 24) & 0xffffffffUL);
        }
        /* owner-only from the first byte whatever the final mode (a model's
         * 0644 is given by strata_publish at the rename): a killed run never
         * leaves a temporary others can read */
        fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)(mode & 0600));
        if (fd >= 0 && fchmod(fd, (mode_t)(mode & 0600)) == 0) /* the umask never widens, never narrows */
            return fd;
        e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(*tmp);
        } else if (e == EEXIST || e == ELOOP) {
            continue; /* taken (stale, or planted): step around it */
        }
        STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create: %s", *tmp, strerror(e));
        strata_free(ctx, *tmp, 0);
        *tmp = NULL;
        return -1;
    }
    STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create a temporary beside it (64 names taken)",
                final_path);
    strata_free(ctx, *tmp, 0);
    *tmp = NULL;
    return -1;
}

FILE *strata_out_open(strata_ctx *ctx, const char *path, unsigned mode, char **tmp)
{
    int fd = strata_tmp_create(ctx, path, mode, tmp);
    FILE *f;
    if (fd < 0)
        return NULL;
    if (!(f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(*tmp);
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

const char *strata_fd_name(int fd, const char *tmp, char *buf, size_t n)
{
    /* /proc/self/fd/<fd> is a magic link: opening it opens the inode behind
     * fd, whatever now stands at the temporary's name (docs/reliability.md#outputs) */
    struct stat ours, named;
    snprintf(buf, n, "/proc/self/fd/%d", fd);
    if (fstat(fd, &ours) == 0 && stat(buf, &named) == 0 && ours.st_dev == named.st_dev &&
        ours.st_ino == named.st_ino)
        return buf;
    return tmp; /* no /proc: the name, which callers check by descriptor identity */
}

strata_status strata_publish(strata_ctx *ctx, const char *tmp_path, const char *final_path,
                             unsigned mode)
{
    struct stat sb;
    int fd = open(tmp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
        fchmod(fd, (mode_t)mode) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp_path);
        return STRATA_FAIL(ctx, STRATA_EIO,
                           "%s: the temporary is no longer the regular file strata created; "
                           "not published (%s)",
                           tmp_path, e ? strerror(e) : "replaced");
    }
    close(fd);
    if (strata_output_check(ctx, final_path) != STRATA_OK) {
        unlink(tmp_path);
        return ctx->last_status;
    }
    if (rename(tmp_path, final_path) != 0) {
        int e = errno;
        unlink(tmp_path);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot rename into place: %s", final_path,
                           strerror(e));
    }
    return STRATA_OK;
}
