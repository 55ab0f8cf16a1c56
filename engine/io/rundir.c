/* engine/io/rundir.c — the output folder of `strata run`: outputs are written
 * into <folder>/.strata-run.<pid>.<hex> (0700) and moved into place only when
 * the run has succeeded, manifest.json last, so a folder with a manifest holds
 * exactly one run's files (each listed with its SHA-256) and a folder without
 * one is recognisably unfinished. Invariants: the folder is flock'ed for the
 * whole run, so any staging directory found while holding the lock belongs to
 * a dead run and is removed; nothing is followed through a symlink
 * (docs/reliability.md#run-folder). */
#include "rundir.h"
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STAGE_PREFIX ".strata-run."
#define JOURNAL ".strata-publish"
#define MAX_NAMES 1024
#define NAME_MAX_LEN 256
#define MAX_DEPTH 8

typedef struct nameset {
    char (*v)[NAME_MAX_LEN];
    size_t n;
} nameset;

/* An output name as a run writes it: one path component, not hidden. */
static int safe_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < NAME_MAX_LEN && s[0] != '.' && !strchr(s, '/');
}

static void nameset_add(nameset *s, const char *name)
{
    if (!safe_name(name) || s->n >= MAX_NAMES)
        return;
    for (size_t k = 0; k < s->n; k++)
        if (!strcmp(s->v[k], name))
            return;
    snprintf(s->v[s->n++], NAME_MAX_LEN, "%s", name);
}

/* Removes name under dfd: a file or link is unlinked (never followed), a
 * directory emptied first (to MAX_DEPTH levels). */
static void remove_at(int dfd, const char *name, int depth)
{
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        (void)unlinkat(dfd, name, 0);
        return;
    }
    if (depth < MAX_DEPTH) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d) {
            for (int pass = 0, removed = 1; removed && pass < 16; pass++) {
                struct dirent *e;
                removed = 0;
                rewinddir(d);
                while ((e = readdir(d)) != NULL)
                    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                        remove_at(dirfd(d), e->d_name, depth + 1);
                        removed = 1;
                    }
            }
            closedir(d);
        } else if (fd >= 0) {
            close(fd);
        }
    }
    (void)unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Reads a small file under dfd (no link followed) into a NUL-terminated heap
 * buffer, or NULL. */
static char *read_small_at(strata_ctx *ctx, int dfd, const char *name, size_t max)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    char *buf = NULL;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size < max &&
        (buf = strata_alloc(ctx, (size_t)sb.st_size + 1)) != NULL) {
        ssize_t got = read(fd, buf, (size_t)sb.st_size);
        buf[got > 0 ? (size_t)got : 0] = '\0';
    }
    close(fd);
    return buf;
}

/* The outputs an earlier run left: its manifest's list and an interrupted
 * publication's journal. */
static void old_outputs(strata_ctx *ctx, int dfd, nameset *s)
{
    char *text = read_small_at(ctx, dfd, "manifest.json", 16u << 20);
    if (text) {
        json_t *root = json_loads(text, 0, NULL);
        json_t *outs = root ? json_object_get(root, "outputs") : NULL;
        for (size_t k = 0; json_is_array(outs) && k < json_array_size(outs); k++) {
            const char *p = json_string_value(json_object_get(json_array_get(outs, k), "path"));
            if (p)
                nameset_add(s, p);
        }
        json_decref(root);
        strata_free(ctx, text, 0);
    }
    text = read_small_at(ctx, dfd, JOURNAL, 1u << 20);
    if (text) {
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            nameset_add(s, line);
        strata_free(ctx, text, 0);
    }
}

/* Clears what dead runs left in the folder (we hold its lock, so every
 * staging directory is a dead run's) and lists what is there. */
static strata_status survey(strata_ctx *ctx, strata_rundir *d, char *seen, size_t seen_size,
                            size_t *n_used, int *interrupted)
{
    int fd = openat(d->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    size_t len = 0;
    *n_used = 0;
    *interrupted = 0;
    seen[0] = '\0';
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot list the output folder: %s",
                           d->final_dir, strerror(errno));
    }
    while ((e = readdir(dir)) != NULL) {
        const char *nm = e->d_name;
        const char *tmp = strstr(nm, ".tmp.");
        if (!strcmp(nm, ".") || !strcmp(nm, ".."))
            continue;
        if (!strncmp(nm, STAGE_PREFIX, strlen(STAGE_PREFIX))) {
            remove_at(d->dir_fd, nm, 0); /* a killed run's staging directory */
            continue;
        }
        if (!strcmp(nm, JOURNAL)) {
            *interrupted = 1;
            continue;
        }
        if (tmp && strata_pid_is_dead(strtol(tmp + 5, NULL, 10))) {
            struct stat sb;
            if (fstatat(d->dir_fd, nm, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
                sb.st_uid == geteuid())
                (void)unlinkat(d->dir_fd, nm, 0); /* a killed writer's temporary */
            continue;
        }
        if (nm[0] == '.')
            continue;
        if (*n_used < 3) {
            int k = snprintf(seen + len, seen_size - len, "%s%s", *n_used ? ", " : "", nm);
            len += k > 0 && (size_t)k < seen_size - len ? (size_t)k : 0;
        }
        (*n_used)++;
    }
    closedir(dir);
    return STRATA_OK;
}

strata_status strata_rundir_begin(strata_ctx *ctx, const char *outdir, int overwrite,
                                  strata_rundir *d)
{
    char seen[512], name[64];
    size_t n_used;
    int interrupted;
    unsigned long salt = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 20) ^
                         (unsigned long)(uintptr_t)d;
    strata_status st;
    memset(d, 0, sizeof *d);
    d->dir_fd = d->stage_fd = -1;
    if (strlen(outdir) >= sizeof d->final_dir - 64)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%.64s...: output folder path too long", outdir);
    snprintf(d->final_dir, sizeof d->final_dir, "%s", outdir);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create output directory: %s", outdir,
                           strerror(errno));
    d->dir_fd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dir_fd < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open output directory: %s", outdir,
                           strerror(errno));
    if (flock(d->dir_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(d->dir_fd);
        d->dir_fd = -1;
        return STRATA_FAIL(ctx, STRATA_EIO,
                           "%s: %s; wait for it or choose another --out", outdir,
                           e == EWOULDBLOCK ? "another strata run is writing into this folder"
                                            : strerror(e));
    }
    st = survey(ctx, d, seen, sizeof seen, &n_used, &interrupted);
    if (st == STRATA_OK && (n_used || interrupted) && !overwrite)
        st = interrupted
                 ? STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s: an earlier run into this folder was interrupted while "
                               "moving its outputs into place (no complete manifest.json); give "
                               "--overwrite to replace them, or choose an empty folder for --out",
                               outdir)
                 : STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s: holds the outputs of an earlier run (%zu entries: %s%s); give "
                               "--overwrite to replace them, or choose an empty folder for --out",
                               outdir, n_used, seen, n_used > 3 ? ", ..." : "");
    for (int attempt = 0; st == STRATA_OK && attempt < 64; attempt++) {
        salt = salt * 6364136223846793005UL + 1442695040888963407UL;
        snprintf(name, sizeof name, STAGE_PREFIX "%ld.%08lx", (long)getpid(),
                 (salt >> 24) & 0xffffffffUL);
        if (mkdirat(d->dir_fd, name, 0700) == 0)
            break;
        if (errno != EEXIST || attempt == 63)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s/%s: cannot create the run's staging folder: %s",
                             outdir, name, strerror(errno));
    }
    if (st == STRATA_OK) {
        d->stage_fd = openat(d->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* 0700 whatever the umask: nothing staged is reachable by others */
        if (d->stage_fd < 0 || fchmod(d->stage_fd, 0700) != 0)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s/%s: cannot open the run's staging folder: %s",
                             outdir, name, strerror(errno));
        snprintf(d->stage, sizeof d->stage, "%s/%s", outdir, name);
    }
    if (st != STRATA_OK)
        strata_rundir_end(d);
    return st;
}

/* The journal: every name that may be in the folder while outputs move. */
static strata_status write_journal(strata_ctx *ctx, strata_rundir *d, const nameset *s)
{
    char tmp[64];
    FILE *f;
    int fd, bad;
    snprintf(tmp, sizeof tmp, JOURNAL ".tmp.%ld", (long)getpid());
    (void)unlinkat(d->dir_fd, tmp, 0);
    fd = openat(d->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s/%s: cannot create: %s", d->final_dir, tmp,
                           strerror(e));
    }
    for (size_t k = 0; k < s->n; k++)
        fprintf(f, "%s\n", s->v[k]);
    bad = ferror(f);
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || renameat(d->dir_fd, tmp, d->dir_fd, JOURNAL) != 0) {
        (void)unlinkat(d->dir_fd, tmp, 0);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s/%s: cannot write", d->final_dir, JOURNAL);
    }
    return STRATA_OK;
}

static strata_status move_in(strata_ctx *ctx, strata_rundir *d, const char *name)
{
    if (renameat(d->stage_fd, name, d->dir_fd, name) != 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s/%s: cannot move into place: %s", d->final_dir,
                           name, strerror(errno));
    return STRATA_OK;
}

strata_status strata_rundir_publish(strata_ctx *ctx, strata_rundir *d, size_t n,
                                    const char *const *names, const char *last)
{
    nameset old = {NULL, 0};
    char path[4400];
    strata_status st = STRATA_OK;
    old.v = strata_calloc(ctx, MAX_NAMES, sizeof *old.v);
    if (!old.v)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory publishing the run",
                           d->final_dir);
    /* nothing an input of this job is replaced */
    for (size_t k = 0; k <= n && st == STRATA_OK; k++) {
        snprintf(path, sizeof path, "%s/%s", d->final_dir, k < n ? names[k] : last);
        st = strata_output_check(ctx, path);
    }
    if (st == STRATA_OK) {
        old_outputs(ctx, d->dir_fd, &old);
        for (size_t k = 0; k < n; k++)
            nameset_add(&old, names[k]);
        st = write_journal(ctx, d, &old);
    }
    if (st == STRATA_OK) {
        /* the old manifest goes first: from here on the folder says it is unfinished */
        (void)unlinkat(d->dir_fd, last, 0);
        for (size_t k = 0; k < old.n; k++) {
            snprintf(path, sizeof path, "%s/%s", d->final_dir, old.v[k]);
            if (strata_output_check(ctx, path) == STRATA_OK)
                remove_at(d->dir_fd, old.v[k], 0);
            else
                strata_ctx_clear_error(ctx); /* an earlier output read as this job's input stays */
        }
        for (size_t k = 0; k < n && st == STRATA_OK; k++)
            st = move_in(ctx, d, names[k]);
    }
    if (st == STRATA_OK && (st = move_in(ctx, d, last)) == STRATA_OK)
        (void)unlinkat(d->dir_fd, JOURNAL, 0);
    strata_free(ctx, old.v, 0);
    return st;
}

void strata_rundir_end(strata_rundir *d)
{
    if (d->stage_fd >= 0) {
        const char *name = strrchr(d->stage, '/');
        close(d->stage_fd);
        d->stage_fd = -1;
        if (name && d->dir_fd >= 0)
            remove_at(d->dir_fd, name + 1, 0);
    }
    if (d->dir_fd >= 0) {
        close(d->dir_fd); /* releases the lock */
        d->dir_fd = -1;
    }
}
