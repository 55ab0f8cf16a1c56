/* models/linalg/la_probe.c — this node's compute and memory limits as `strata
 * bench` measures them in the same run: DGEMM rate (OpenBLAS, m^3 with the
 * given thread count) and the read bandwidth of a sum over a large array.
 * Invariant: each figure is the best of reps timed runs after one warm-up;
 * OpenBLAS's process-wide thread count is restored on return. */
#include "linalg.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

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
