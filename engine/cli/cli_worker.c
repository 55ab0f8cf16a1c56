/* engine/cli/cli_worker.c — `strata fit` as a supervisor and a worker, so
 * that the cohort's forked HDF5 walk (docs/reliability.md#hdf5) overlaps the
 * fit instead of preceding it. The supervisor (the process the user started)
 * forks the worker, then opens the cohort itself as before: the walk in its
 * own child, then the open. The worker opens the cohort without a walk and
 * fits at once, but shows nothing — no message, no progress, no file — until
 * the supervisor's verdict: "go" when the walk and the supervisor's own open
 * passed, and then it carries on exactly as `strata fit` always did; else the
 * supervisor kills it and reports the open's error, as before. Invariant: the
 * process the user started never parses a file that the walk has not passed
 * (it never dies by a signal on a crafted file), and nothing the worker does
 * is visible before the verdict. */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the worker: its end of the verdict socket until the verdict is read;
 * -1 in any other process. The lock: a message may come from any thread.
 * The verdict is 'Y', then the cohort's SHA-256 (64 hex digits) when the
 * supervisor could hash it: g_hash, else "". */
static int g_gate = -1;
static pthread_mutex_t g_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_hash[65];
static const char *g_hash_path; /* the cohort the supervisor hashed */

void cli_gate(void)
{
    char v[65];
    size_t got = 0;
    ssize_t r;
    if (__atomic_load_n(&g_gate, __ATOMIC_ACQUIRE) < 0)
        return;
    pthread_mutex_lock(&g_gate_lock);
    if (g_gate >= 0) {
        /* up to the supervisor's close: 'Y' alone or 'Y' and the hash */
        while (got < sizeof v && ((r = read(g_gate, v + got, sizeof v - got)) > 0 || (r < 0 && errno == EINTR)))
            got += r > 0 ? (size_t)r : 0;
        if (got < 1 || v[0] != 'Y') /* refused (the supervisor kills us first) or gone */
            _exit((int)STRATA_EFORMAT);
        if (got == sizeof v) {
            memcpy(g_hash, v + 1, 64);
            g_hash[64] = '\0';
        }
        close(g_gate);
        __atomic_store_n(&g_gate, -1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_gate_lock);
}

/* The worker's strata_input_hash_fn: the supervisor's hash of the cohort
 * (it waits for the verdict, as any output does), or the file hashed here
 * when the supervisor could not hash it or the fit asks for another file. */
static strata_status worker_hash(void *ud, strata_ctx *ctx, const char *path, char out[65])
{
    (void)ud;
    cli_gate();
    if (!g_hash[0] || !g_hash_path || strcmp(path, g_hash_path) != 0)
        return strata_file_sha256(ctx, path, out);
    memcpy(out, g_hash, sizeof g_hash);
    return STRATA_OK;
}

void cli_worker_take_hash(strata_ctx *ctx, const char *path)
{
    g_hash_path = path;
    strata_ctx_set_input_hash(ctx, worker_hash, NULL);
}

pid_t cli_worker_fork(const strata_ctx *ctx, int *verdict_fd)
{
    const char *probe = getenv("STRATA_H5_PROBE");
    int sv[2];
    pid_t pid, parent;
    *verdict_fd = -1;
    /* the walk off (nothing to overlap), one thread asked for, one CPU, or
     * MPI ranks (each must take part in the collectives itself): as before;
     * and in sanitizer builds, whose reports the gate cannot hold back */
#if defined(__SANITIZE_ADDRESS__)
    (void)probe, (void)sv, (void)pid, (void)parent, (void)ctx;
    return -1;
#else
    if ((probe && !strcmp(probe, "0")) || strata_ctx_threads(ctx) < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2 ||
        cli_mpi_started())
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    parent = getpid();
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
#ifdef __linux__
        /* the worker ends with the supervisor (kill -9 of `strata fit` must
         * stop the fit, not leave it to publish the model later) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit((int)STRATA_EINTERNAL);
#endif
        close(sv[0]);
        g_gate = sv[1];
        /* the supervisor walks the file; the worker's open must not again */
        setenv("STRATA_H5_PROBE", "0", 1);
        return 0;
    }
    close(sv[1]);
    *verdict_fd = sv[0];
    return pid;
#endif
}

int cli_worker_finish(pid_t pid, int verdict_fd, int go, const char *hash)
{
    char v[65] = "Y";
    size_t len = 1;
    int status = 0;
    pid_t r;
    if (hash && strlen(hash) == 64) {
        memcpy(v + 1, hash, 64);
        len = sizeof v;
    }
    /* MSG_NOSIGNAL: a worker that is already gone must not end us by SIGPIPE */
    if (!go || send(verdict_fd, v, len, MSG_NOSIGNAL) != (ssize_t)len)
        kill(pid, SIGKILL);
    close(verdict_fd);
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (!go)
        return -1;
    if (r == pid && WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "strata fit: error: the fit's worker process ended by signal %d (a bug: please report it)\n",
            r == pid && WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return (int)STRATA_EINTERNAL;
}
