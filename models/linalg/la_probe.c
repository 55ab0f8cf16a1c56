/* models/linalg/la_probe.c — this node's limits as `strata bench` measures
 * them in the same run (strata_node_measure, strata/bench.h): DGEMM rate
 * (OpenBLAS, m^3 with the given thread count), the read bandwidth of a sum over
 * a large array, and the sequential read rate of a scratch file written, synced
 * and dropped from the page cache first. Here because DGEMM is BLAS (this layer
 * is the only BLAS caller); the file probe is plain POSIX. Invariant: each
 * figure is the best of reps timed runs after one warm-up; OpenBLAS's
 * process-wide thread count is restored on return; the scratch file is removed
 * whatever happens. */
#include "linalg.h"
#include "strata/bench.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

static double wall(void) { return omp_get_wtime(); }

static void fill(double *a, size_t count, unsigned long seed, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < count; i++) {
        unsigned long h = (unsigned long)(i + 1) * 0x9E3779B97F4A7C15UL + seed;
        h ^= h >> 29;
        a[i] = (double)(h % 2000001UL) / 1000000.0 - 1.0;
    }
}

double la_probe_dgemm(strata_ctx *ctx, int m, int threads, int reps)
{
    size_t mm = (size_t)m * (size_t)m;
    double *a = strata_alloc(ctx, 3 * mm * sizeof *a), best = 1e300;
    int saved = openblas_get_num_threads();
    if (!a || m < 1)
        return 0;
    fill(a, 2 * mm, 1, threads);
    openblas_set_num_threads(threads);
    for (int r = 0; r <= reps; r++) {
        double t0 = wall(), t;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0, a, m, a + mm, m, 0.0,
                    a + 2 * mm, m);
        t = wall() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    openblas_set_num_threads(saved);
    strata_free(ctx, a, 0);
    return 2.0 * (double)m * (double)m * (double)m / best * 1e-9;
}

/* 16 independent partial sums per thread: bound by memory, not add latency. */
static double sum_array(const double *a, size_t count, int threads)
{
    double s = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
    {
        size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        size_t lo = count * t / nt, hi = count * (t + 1) / nt, i = lo;
        double acc[16] = {0};
        for (; i + 16 <= hi; i += 16)
            for (int k = 0; k < 16; k++)
                acc[k] += a[i + k];
        for (; i < hi; i++)
            acc[0] += a[i];
        for (int k = 0; k < 16; k++)
            s += acc[k];
    }
    return s;
}

double la_probe_read(strata_ctx *ctx, size_t bytes, int threads, int reps)
{
    size_t count = bytes / sizeof(double);
    double *a = strata_alloc(ctx, count * sizeof *a + 1), best = 1e300;
    volatile double sink = 0;
    if (!a || count == 0)
        return 0;
    fill(a, count, 3, threads);
    for (int r = 0; r <= reps; r++) {
        double t0 = wall(), t;
        sink += sum_array(a, count, threads);
        t = wall() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    (void)sink;
    strata_free(ctx, a, 0);
    return (double)(count * sizeof *a) / best * 1e-9;
}

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
