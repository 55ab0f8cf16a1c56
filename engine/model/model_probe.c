/* engine/model/model_probe.c — strata_node_measure: this node's DGEMM rate and
 * memory read bandwidth (models/linalg/la_probe.c) and the sequential read
 * bandwidth of a scratch file written, synced and dropped from the page cache
 * first. Invariant: the scratch file is removed whatever happens. */
#include "linalg.h"
#include "strata/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#define PROBE_IO (1u << 20) /* bytes per write / read call */

static strata_status file_read_rate(strata_ctx *ctx, const char *path, size_t bytes,
                                    strata_node_limits *out)
{
    char *buf = strata_alloc(ctx, PROBE_IO);
    strata_status st = STRATA_OK;
    size_t done = 0;
    double t0;
    int fd;
    if (!buf)
        return STRATA_ENOMEM;
    memset(buf, 0x5a, PROBE_IO);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        strata_free(ctx, buf, 0);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create the scratch file: %s", path, strerror(errno));
    }
    for (; done < bytes && st == STRATA_OK; done += PROBE_IO)
        if (write(fd, buf, PROBE_IO) != (ssize_t)PROBE_IO)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: write: %s", path, strerror(errno));
    if (st == STRATA_OK && fsync(fd) != 0)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: fsync: %s", path, strerror(errno));
    out->file_cold = st == STRATA_OK && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    close(fd);
    if (st == STRATA_OK && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot reopen the scratch file: %s", path, strerror(errno));
    if (st == STRATA_OK) {
        ssize_t r;
        size_t got = 0;
        t0 = omp_get_wtime();
        while ((r = read(fd, buf, PROBE_IO)) > 0)
            got += (size_t)r;
        out->file_read_gbs = (double)got / (omp_get_wtime() - t0) * 1e-9;
        out->file_bytes = got;
        if (r < 0)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: read: %s", path, strerror(errno));
        close(fd);
    }
    unlink(path);
    strata_free(ctx, buf, 0);
    return st;
}

strata_status strata_node_measure(strata_ctx *ctx, const char *scratch_path, size_t file_bytes,
                                  int quick, strata_node_limits *out)
{
    int t = strata_threads(ctx), reps = quick ? 2 : 3;
    memset(out, 0, sizeof *out);
    if (!scratch_path || file_bytes < PROBE_IO)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_node_measure: a scratch path and at least 1 MiB are needed");
    out->threads = t;
    out->dgemm_m = quick ? 400 : 2000;
    out->mem_bytes = (size_t)(quick ? 64 : 512) << 20;
    out->dgemm_gflops_1 = la_probe_dgemm(ctx, out->dgemm_m, 1, reps);
    out->dgemm_gflops = t > 1 ? la_probe_dgemm(ctx, out->dgemm_m, t, reps) : out->dgemm_gflops_1;
    out->mem_read_gbs_1 = la_probe_read(ctx, out->mem_bytes, 1, reps);
    out->mem_read_gbs = t > 1 ? la_probe_read(ctx, out->mem_bytes, t, reps) : out->mem_read_gbs_1;
    if (!(out->dgemm_gflops > 0 && out->mem_read_gbs > 0))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "strata_node_measure: cannot allocate the probe buffers");
    return file_read_rate(ctx, scratch_path, (file_bytes + PROBE_IO - 1) / PROBE_IO * PROBE_IO, out);
}
