/* engine/io/h5_probe.c — HDF5 as an untrusted format: before strata opens a
 * file it did not just write, a forked child walks the file's whole structure
 * (every object, attribute and string table, and the first and last element
 * of every dataset) the way the reader will. HDF5 1.10's parser can crash or
 * run away on crafted metadata; a child that dies by a signal, fails a
 * sanitizer or outruns its time limit turns into one clean STRATA_EFORMAT
 * "corrupt HDF5 file" in the parent, which never dies by a signal itself.
 * What this does not cover is documented in docs/reliability.md#hdf5. */
#include "cohort_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_OK 0
#define PROBE_H5_ERROR 3 /* HDF5 refused something: the real open will say what */
#define PROBE_NOMEM 4    /* an attribute needs more memory than the child's limit */
#define PROBE_WALL_FACTOR 6 /* the parent's backstop: 6 times the child's CPU limit */
#define PROBE_WHOLE_MAX ((hssize_t)1 << 18) /* numeric datasets up to 2 MiB are read whole */

typedef struct probe_state {
    strata_ctx *ctx;
    int errors;
    int nomem; /* an attribute read failed for memory: its declared size is a lie */
    void *buf; /* PROBE_WHOLE_MAX doubles, for every whole read */
    /* a cohort's walk: datasets opened as the cohort reader opens a column
     * (strata_h5_open_column: an unfiltered chunked one without a chunk
     * cache, read straight into the walk's buffer, ~1 ms less of the
     * diabetes cohort's walk); a model file's (invalid): HDF5's defaults */
    hid_t nocache;
} probe_state;

static herr_t probe_attr(hid_t obj, const char *name, const H5A_info_t *info, void *ud)
{
    probe_state *p = ud;
    char *v = NULL;
    (void)info;
    errno = 0;
    if (strata_h5_attr_read(p->ctx, obj, "", "", name, 0, &v) != STRATA_OK) {
        /* attributes are small in any file strata reads: one that cannot be
         * read under the child's memory limit claims a crafted size, and the
         * parent would otherwise allocate and clear it for minutes (a libhdf5
         * vlen conversion of a 40 GiB claim: cohort_huge_alloc.h5) */
        p->nomem |= errno == ENOMEM;
        p->errors++;
    }
    strata_free(p->ctx, v, 0);
    /* the model file reader reads its root attributes this way (by name):
     * a crafted attribute table that crashes HDF5 there must crash here */
    v = strata_h5_attr_string(p->ctx, obj, name);
    strata_free(p->ctx, v, 0);
    return 0;
}

static void probe_dataset(probe_state *p, hid_t file, const char *name)
{
    hid_t d = strata_h5_open_column(file, name, p->nocache), t, space;
    if (d < 0) {
        p->errors++;
        return;
    }
    t = H5Dget_type(d);
    space = H5Dget_space(d);
    if (t >= 0 && space >= 0 && (H5Tget_class(t) == H5T_INTEGER || H5Tget_class(t) == H5T_FLOAT) &&
        H5Sget_simple_extent_ndims(space) <= 2 && H5Sget_simple_extent_npoints(space) > 0 &&
        H5Sget_simple_extent_npoints(space) <= PROBE_WHOLE_MAX) {
        /* small numeric datasets (every model file's) are read whole, as
         * their readers do: a crafted layout that only breaks a full read
         * must break here (a fuzz_model finding). A standard type (one equal
         * to its native form: every column strata writes) is read as it is
         * into the walk's one buffer: the layout, chunk and filter code is
         * the same as for the reader's converting read, and converting a
         * standard type is a loop over values that no content can derail.
         * Any other type takes the reader's path, converted to double. */
        hid_t mt = H5Tget_native_type(t, H5T_DIR_DEFAULT);
        int as_is = mt >= 0 && H5Tequal(t, mt) > 0 && H5Tget_size(mt) <= sizeof(double);
        if (!p->buf)
            p->buf = malloc((size_t)PROBE_WHOLE_MAX * sizeof(double));
        if (!p->buf || H5Dread(d, as_is ? mt : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                               p->buf) < 0)
            p->errors++;
        if (mt >= 0)
            H5Tclose(mt);
    } else if (t >= 0 && space >= 0 && H5Sget_simple_extent_ndims(space) == 1) {
        hsize_t dims[1] = {0};
        H5Sget_simple_extent_dims(space, dims, NULL);
        if (H5Tget_class(t) == H5T_STRING) {
            char **s = NULL;
            size_t n = 0;
            if (strata_h5_read_strings(p->ctx, file, "", name, &s, &n) != STRATA_OK)
                p->errors++;
            strata_strings_free(p->ctx, s, n);
        } else if (dims[0] > 0 && (H5Tget_class(t) == H5T_INTEGER || H5Tget_class(t) == H5T_FLOAT)) {
            hsize_t at[2] = {0, dims[0] - 1}, one[1] = {1};
            hid_t ms = H5Screate_simple(1, one, NULL);
            for (int k = 0; k < 2; k++) {
                double v;
                hsize_t start[1] = {at[k]};
                H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL);
                if (H5Dread(d, H5T_NATIVE_DOUBLE, ms, space, H5P_DEFAULT, &v) < 0)
                    p->errors++;
            }
            H5Sclose(ms);
        }
    }
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    if (H5Aiterate2(d, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_attr, p) < 0)
        p->errors++;
    H5Dclose(d);
}

static herr_t probe_object(hid_t obj, const char *name, const H5O_info_t *info, void *ud)
{
    probe_state *p = ud;
    if (info->type == H5O_TYPE_DATASET)
        probe_dataset(p, obj, name);
    else if (info->type == H5O_TYPE_GROUP) {
        hid_t g = H5Gopen2(obj, name, H5P_DEFAULT);
        if (g < 0 || H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_attr, p) < 0)
            p->errors++;
        if (g >= 0)
            H5Gclose(g);
    }
    return 0;
}

/* Each top-level group is walked on its own: a group HDF5 cannot list stops
 * only its own walk, so the groups the reader opens before it (/patients
 * before /outcomes) are still probed. */
static herr_t probe_top(hid_t root, const char *name, const H5L_info_t *info, void *ud)
{
    probe_state *p = ud;
    H5O_info_t oi;
    (void)info;
    if (H5Oget_info_by_name2(root, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        p->errors++;
        return 0;
    }
    if (oi.type != H5O_TYPE_GROUP)
        probe_object(root, name, &oi, p);
    else if (H5Ovisit_by_name2(root, name, H5_INDEX_NAME, H5_ITER_INC, probe_object, p,
                               H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        p->errors++;
    return 0;
}

static void close_dir_fd(int fd)
{
    struct stat sb;
    if (fd > 2 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode))
        close(fd);
}

/* The open descriptors are listed by /proc/self/fd (a handful, not 4,093
 * fstat calls); without /proc every descriptor below 4096 is tried. */
static void close_directories(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    if (!dir) {
        for (int fd = 3; fd < 4096; fd++)
            close_dir_fd(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd != dirfd(dir) && fd < INT_MAX)
            close_dir_fd((int)fd);
    }
    closedir(dir);
}

/* The child: walk, then _exit with a PROBE_ code. Never returns. */
static void probe_child(strata_ctx *ctx, const char *path, long mem_mb, long cpu_secs, int cohort)
{
    probe_state p = {ctx, 0, 0, NULL, H5I_INVALID_HID};
    hid_t f;
    int devnull = open("/dev/null", O_WRONLY);
    /* Directory descriptors are not the child's: the run folder's flock
     * (engine/io/rundir.c) would outlive a killed parent while the walk goes on.
     * HDF5 holds no directory open, so this closes only such locks. */
    close_directories();
    if (devnull >= 0) { /* a sanitizer's or HDF5's report is the parent's business */
        dup2(devnull, 2);
        close(devnull);
    }
    {
        /* The time limit is CPU time, the child's own: a run-away parse spins,
         * and a loaded machine (a CI box at load 10, a busy login node) slows
         * a sound walk's wall time, never its CPU time. No core file. */
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = 0;
        setrlimit(RLIMIT_CORE, &rl);
        if (cpu_secs > 0) {
            rl.rlim_cur = (rlim_t)cpu_secs;
            rl.rlim_max = (rlim_t)cpu_secs + 1;
            setrlimit(RLIMIT_CPU, &rl);
        }
    }
#if !defined(__SANITIZE_ADDRESS__)
    if (mem_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)mem_mb << 20;
        setrlimit(RLIMIT_AS, &rl);
    }
#else
    (void)mem_mb;
#endif
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (cohort)
        p.nocache = strata_h5_nocache_dapl();
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        _exit(PROBE_H5_ERROR);
    {
        char *v = strata_h5_attr_string(ctx, f, "schema"); /* as the model reader starts */
        strata_free(ctx, v, 0);
        v = strata_h5_attr_string(ctx, f, "schema_version");
        strata_free(ctx, v, 0);
    }
    if (H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_attr, &p) < 0 ||
        H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_top, &p) < 0)
        p.errors++;
    H5Fclose(f);
    _exit(p.nomem ? PROBE_NOMEM : p.errors ? PROBE_H5_ERROR : PROBE_OK);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    char *end;
    long x;
    if (!v || !*v)
        return dflt;
    x = strtol(v, &end, 10);
    return *end ? dflt : x;
}

/* Waits up to secs for the child: through a pidfd (Linux >= 5.3), which
 * wakes the parent when the child exits; else, or if polling it fails, in
 * 0.5 ms naps (the walk of a small cohort takes ~5-10 ms, and a 5 ms nap
 * kept the parent waiting up to 5 ms after the child had finished). Returns
 * waitpid's: the pid, 0 when the child still runs (out of time), or -1. */
static pid_t probe_wait(pid_t pid, int *status, long secs, struct rusage *ru)
{
    struct timespec nap = {0, 500 * 1000};
    double waited = 0;
    pid_t r;
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        struct pollfd pf = {fd, POLLIN, 0};
        struct timespec t0, t1;
        int pr = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            double left;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
            left = (double)secs - waited;
            if (left <= 0)
                break;
            pr = poll(&pf, 1, (int)(left * 1000) + 1);
            if (pr > 0 || (pr < 0 && errno != EINTR))
                break;
        }
        close(fd);
        if (pr >= 0)
            return wait4(pid, status, WNOHANG, ru);
    }
#endif
    while ((r = wait4(pid, status, WNOHANG, ru)) == 0 && waited < (double)secs) {
        nanosleep(&nap, NULL);
        waited += 0.0005;
    }
    return r;
}

strata_status strata_h5_probe(strata_ctx *ctx, const char *path)
{
    return strata_h5_probe_as(ctx, path, 0);
}

/* The child forks from inside a callback that HDF5 runs under its global
 * lock (the thread-safe build's one API mutex, recursive) and walks the file
 * there, never returning from the call: while the forking thread holds the
 * lock no other thread of the process is inside HDF5, so the child — one
 * thread, the lock's owner — finds HDF5 consistent, and its own calls only
 * nest the lock, never release it (releasing would signal a condition
 * variable whose waiters, the parent's other threads, do not exist in the
 * child, and wait for ever). A plain fork() while another thread (a program
 * that embeds strata, or ranks as threads in the tests) was inside HDF5 left
 * the child waiting for that thread's lock: the walk's time limit then called
 * a sound file corrupt. */
typedef struct probe_fork {
    strata_ctx *ctx;
    const char *path;
    long mb, secs;
    int cohort, forked;
    pid_t pid;
} probe_fork;

static herr_t fork_in_call(hid_t id, const char *name, void *ud)
{
    probe_fork *pf = ud;
    (void)id, (void)name;
    if (!pf->forked) {
        pf->forked = 1;
        if ((pf->pid = fork()) == 0)
            probe_child(pf->ctx, pf->path, pf->mb, pf->secs, pf->cohort); /* never returns */
    }
    return 1; /* stop the iteration: one fork */
}

static pid_t fork_probe(strata_ctx *ctx, const char *path, long mb, long secs, int cohort)
{
    probe_fork pf = {ctx, path, mb, secs, cohort, 0, -1};
    hid_t pl = H5Pcreate(H5P_FILE_ACCESS);
    if (pl >= 0) {
        H5Piterate(pl, NULL, fork_in_call, &pf);
        H5Pclose(pl);
    }
    if (!pf.forked && (pf.pid = fork()) == 0) /* no callback ran: as before */
        probe_child(ctx, path, mb, secs, cohort);
    return pf.pid;
}

strata_status strata_h5_probe_as(strata_ctx *ctx, const char *path, int cohort)
{
    /* STRATA_H5_PROBE=0 switches the walk off (a trusted file, or a debugger);
     * STRATA_H5_PROBE_SECONDS and STRATA_H5_PROBE_MB set its limits. */
    long secs = env_long("STRATA_H5_PROBE_SECONDS", 10), mb = env_long("STRATA_H5_PROBE_MB", 2048);
    long wall;
    int status = 0;
    double cpu;
    struct rusage ru;
    pid_t pid, r;
    memset(&ru, 0, sizeof ru);
    if (env_long("STRATA_H5_PROBE", 1) == 0)
        return STRATA_OK;
    fflush(NULL);
    pid = fork_probe(ctx, path, mb, secs, cohort);
    if (pid < 0)
        return STRATA_OK; /* no probe possible: the reader still runs, unguarded */
    /* The child's CPU limit (secs) stops a run-away; the parent waits on the
     * wall clock only as a backstop for a child that neither spins nor ends
     * (a stalled file system): PROBE_WALL_FACTOR times as long, at least a
     * minute, so a sound file on a loaded machine is not called corrupt. */
    wall = secs * PROBE_WALL_FACTOR > 60 ? secs * PROBE_WALL_FACTOR : 60;
    r = probe_wait(pid, &status, wall, &ru);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: corrupt HDF5 file: walking its structure did not end in %ld s "
                           "(docs/reliability.md#hdf5)",
                           path, wall);
    }
    if (r < 0)
        return STRATA_OK;
    cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    /* SIGXCPU at the limit; SIGKILL a second later if it went on */
    if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU ||
                                (WTERMSIG(status) == SIGKILL && secs > 0 && cpu >= (double)secs)))
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: corrupt HDF5 file: walking its structure took longer than %ld s "
                           "of CPU (STRATA_H5_PROBE_SECONDS; docs/reliability.md#hdf5)",
                           path, secs);
    if (WIFSIGNALED(status))
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: corrupt HDF5 file: HDF5 crashed reading its structure (signal "
                           "%d) (docs/reliability.md#hdf5)",
                           path, WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == PROBE_NOMEM)
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: corrupt HDF5 file: an attribute claims more than %ld MiB "
                           "(STRATA_H5_PROBE_MB; docs/reliability.md#hdf5)",
                           path, mb);
    if (WIFEXITED(status) && WEXITSTATUS(status) != PROBE_OK &&
        WEXITSTATUS(status) != PROBE_H5_ERROR)
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: corrupt HDF5 file: reading its structure failed (exit %d) "
                           "(docs/reliability.md#hdf5)",
                           path, WEXITSTATUS(status));
    return STRATA_OK;
}
