/* bench/bench_roofline.c — measures THIS machine's limits for the GLM benchmark:
 * DGEMM 3000^3 compute rate, read bandwidth (OpenMP sum), DSYRK tall-skinny Gram
 * rates (one call, and rows split over OpenMP threads), each with 1 and T threads,
 * then prints the IRLS per-iteration lower bound for each n:p given
 * (max(Gram flops at DGEMM peak, one read of X)), as ../shared/PEERS.md does.
 * Invariant: every figure is the best of --reps timed runs after one warm-up,
 * and the bounds use only rates measured in this same run. */
#include <cblas.h>
#include <omp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES 16
#define GRAM_BLOCK 8192 /* rows per DSYRK call in the row-split scheme */

typedef struct size_res {
    long n, p;
    double syrk1[2];   /* one DSYRK call: GFLOP/s with 1 and T threads */
    double syrkrow[2]; /* OpenMP rows split, 1-thread DSYRK per block: 1 and T */
    double readx[2];   /* sum of X: GB/s with 1 and T threads */
} size_res;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *alloc_doubles(size_t count)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, count * sizeof(double)) != 0) {
        fprintf(stderr, "bench_roofline: cannot allocate %zu doubles\n", count);
        exit(3);
    }
    return p;
}

/* Fills a[0..count) in parallel (first touch spreads pages) with values in [-1, 1). */
static void fill(double *a, size_t count, unsigned seed, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < count; i++) {
        unsigned long h = (unsigned long)(i + 1) * 0x9E3779B97F4A7C15UL + seed;
        h ^= h >> 29;
        a[i] = (double)(h % 2000001UL) / 1000000.0 - 1.0;
    }
}

/* Sum with 16 independent partial sums per thread (vectorisable without
 * -ffast-math), so the loop is bound by memory, not by add latency. */
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

static volatile double sink; /* keeps results alive */

/* Best seconds of reps runs of a read of count doubles with threads threads. */
static double time_read(const double *a, size_t count, int threads, int reps)
{
    double best = 1e30;
    sink = sum_array(a, count, threads);
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        sink = sum_array(a, count, threads);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static double time_dgemm(int m, int threads, int reps)
{
    double *a = alloc_doubles((size_t)m * (size_t)m);
    double *b = alloc_doubles((size_t)m * (size_t)m);
    double *c = alloc_doubles((size_t)m * (size_t)m);
    double best = 1e30;
    fill(a, (size_t)m * (size_t)m, 1, threads);
    fill(b, (size_t)m * (size_t)m, 2, threads);
    openblas_set_num_threads(threads);
    for (int r = 0; r <= reps; r++) {
        double t0 = now_s();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, m, m, 1.0, a, m, b, m, 0.0, c,
                    m);
        double t = now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    sink = c[0];
    free(a);
    free(b);
    free(c);
    return best;
}

/* One DSYRK call C = X^T X on row-major X (n x p). */
static double time_syrk_one(const double *x, long n, long p, double *c, int threads, int reps)
{
    double best = 1e30;
    openblas_set_num_threads(threads);
    for (int r = 0; r <= reps; r++) {
        double t0 = now_s();
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)n, 1.0, x, (int)p, 0.0, c,
                    (int)p);
        double t = now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    sink = c[0];
    return best;
}

/* Rows split in fixed GRAM_BLOCK blocks over OpenMP threads, single-threaded
 * DSYRK accumulating into a per-thread Gram, then a fixed-order reduce. */
static double time_syrk_rows(const double *x, long n, long p, double *c, double *priv, int threads,
                             int reps)
{
    double best = 1e30;
    size_t pp = (size_t)p * (size_t)p;
    long nblk = (n + GRAM_BLOCK - 1) / GRAM_BLOCK;
    openblas_set_num_threads(1);
    for (int r = 0; r <= reps; r++) {
        double t0 = now_s();
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num();
            double *ct = priv + (size_t)t * pp;
            memset(ct, 0, pp * sizeof(double));
#pragma omp for schedule(static)
            for (long b = 0; b < nblk; b++) {
                long r0 = b * GRAM_BLOCK;
                long m = n - r0 < GRAM_BLOCK ? n - r0 : GRAM_BLOCK;
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)m, 1.0,
                            x + (size_t)r0 * (size_t)p, (int)p, 1.0, ct, (int)p);
            }
        }
        memcpy(c, priv, pp * sizeof(double));
        for (int t = 1; t < threads; t++)
            for (size_t k = 0; k < pp; k++)
                c[k] += priv[(size_t)t * pp + k];
        double t1 = now_s() - t0;
        if (r > 0 && t1 < best)
            best = t1;
    }
    sink = c[0];
    return best;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_roofline [--reps R] [--dgemm M] [--threads T] [--json FILE] N:P ...\n"
            "  measures DGEMM MxMxM, read bandwidth and DSYRK rates with 1 and T threads\n"
            "  (T = OMP_NUM_THREADS or all cores) and prints the IRLS iteration bound per N:P\n");
}

int main(int argc, char **argv)
{
    int reps = 3, mgemm = 3000, tmax = omp_get_max_threads();
    const char *json = NULL;
    size_res sz[MAX_SIZES];
    int nsz = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dgemm") && i + 1 < argc)
            mgemm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            tmax = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (argv[i][0] != '-' && nsz < MAX_SIZES) {
            char *end;
            errno = 0;
            sz[nsz].n = strtol(argv[i], &end, 10);
            if (errno || *end != ':' || sz[nsz].n < 1) {
                usage();
                return 2;
            }
            sz[nsz].p = strtol(end + 1, &end, 10);
            if (*end || sz[nsz].p < 1) {
                usage();
                return 2;
            }
            nsz++;
        } else {
            usage();
            return 2;
        }
    }
    if (reps < 1 || mgemm < 64 || tmax < 1 || nsz == 0) {
        usage();
        return 2;
    }
    int thr[2] = {1, tmax};
    int nthr = tmax > 1 ? 2 : 1;

    printf("# roofline: OpenBLAS %s (core %s), OpenMP max threads %d, best of %d\n",
           openblas_get_config(), openblas_get_corename(), tmax, reps);

    double gemm[2] = {0, 0}, gemm_s[2] = {0, 0};
    for (int k = 0; k < nthr; k++) {
        gemm_s[k] = time_dgemm(mgemm, thr[k], reps);
        gemm[k] = 2.0 * mgemm * (double)mgemm * mgemm / gemm_s[k] / 1e9;
    }

    size_t big = (size_t)1 << 26; /* 512 MiB: far beyond any cache */
    double *a = alloc_doubles(big);
    double rd[2] = {0, 0}, rd_s[2] = {0, 0};
    fill(a, big, 3, tmax);
    for (int k = 0; k < nthr; k++) {
        rd_s[k] = time_read(a, big, thr[k], reps);
        rd[k] = (double)big * 8.0 / rd_s[k] / 1e9;
    }
    free(a);

    printf("\n| kernel | p | 1 thread | %d threads |\n|---|---:|---:|---:|\n", tmax);
    printf("| DGEMM %d^3 (compute peak) | - | %.1f GFLOP/s (%.1f ms) | %.1f GFLOP/s (%.1f ms) |\n",
           mgemm, gemm[0], gemm_s[0] * 1e3, gemm[nthr - 1], gemm_s[nthr - 1] * 1e3);
    printf("| read-only sum, 2^26 doubles | - | %.1f GB/s (%.1f ms) | %.1f GB/s (%.1f ms) |\n",
           rd[0], rd_s[0] * 1e3, rd[nthr - 1], rd_s[nthr - 1] * 1e3);
    fflush(stdout);

    for (int s = 0; s < nsz; s++) {
        long n = sz[s].n, p = sz[s].p;
        size_t cnt = (size_t)n * (size_t)p;
        double flops = (double)n * (double)p * (double)(p + 1);
        double *x = alloc_doubles(cnt);
        double *c = alloc_doubles((size_t)p * (size_t)p);
        double *priv = alloc_doubles((size_t)tmax * (size_t)p * (size_t)p);
        fill(x, cnt, 7, tmax);
        for (int k = 0; k < 2; k++) {
            int kk = k < nthr ? k : nthr - 1;
            double t = time_read(x, cnt, thr[kk], reps);
            sz[s].readx[k] = (double)cnt * 8.0 / t / 1e9;
            t = time_syrk_one(x, n, p, c, thr[kk], reps);
            sz[s].syrk1[k] = flops / t / 1e9;
            t = time_syrk_rows(x, n, p, c, priv, thr[kk], reps);
            sz[s].syrkrow[k] = flops / t / 1e9;
        }
        printf("| read-only sum of X (%ld x %ld) | %ld | %.1f GB/s | %.1f GB/s |\n", n, p, p,
               sz[s].readx[0], sz[s].readx[1]);
        printf("| DSYRK X^T X, one call (n=%ld) | %ld | %.1f GFLOP/s | %.1f GFLOP/s |\n", n, p,
               sz[s].syrk1[0], sz[s].syrk1[1]);
        printf("| DSYRK rows split over OpenMP, %d-row blocks (n=%ld) | %ld | %.1f GFLOP/s | %.1f "
               "GFLOP/s |\n",
               GRAM_BLOCK, n, p, sz[s].syrkrow[0], sz[s].syrkrow[1]);
        fflush(stdout);
        free(x);
        free(c);
        free(priv);
    }

    /* Bounds: the best DGEMM rate and the best read rate from memory (the
     * 512 MiB array, and any X of 256 MiB or more; a smaller X may sit in
     * cache and read faster, shown above but not used). */
    double peak = gemm[nthr - 1] > gemm[0] ? gemm[nthr - 1] : gemm[0];
    double bw = rd[nthr - 1] > rd[0] ? rd[nthr - 1] : rd[0];
    for (int s = 0; s < nsz; s++)
        for (int k = 0; k < 2; k++)
            if ((double)sz[s].n * (double)sz[s].p * 8.0 >= 268435456.0 && sz[s].readx[k] > bw)
                bw = sz[s].readx[k];
    printf("\nIRLS iteration bounds (peak DGEMM %.1f GFLOP/s, best read %.1f GB/s):\n\n"
           "| n | p | Gram flops n*p*(p+1) | X bytes | Gram @ DGEMM peak ms | read X ms | "
           "bound ms = max | best DSYRK GFLOP/s | practical ms (DSYRK + read) |\n"
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
           peak, bw);
    FILE *jf = NULL;
    if (json) {
        jf = fopen(json, "w");
        if (!jf) {
            fprintf(stderr, "bench_roofline: cannot write %s: %s\n", json, strerror(errno));
            return 4;
        }
        fprintf(jf,
                "{\"openblas_config\": \"%s\", \"openblas_core\": \"%s\", \"threads\": %d, "
                "\"reps\": %d, \"dgemm_n\": %d, \"dgemm_gflops\": [%.3f, %.3f], "
                "\"read_gbs\": [%.3f, %.3f], \"peak_gflops\": %.3f, \"best_read_gbs\": %.3f, "
                "\"sizes\": [",
                openblas_get_config(), openblas_get_corename(), tmax, reps, mgemm, gemm[0],
                gemm[nthr - 1], rd[0], rd[nthr - 1], peak, bw);
    }
    for (int s = 0; s < nsz; s++) {
        long n = sz[s].n, p = sz[s].p;
        double flops = (double)n * (double)p * (double)(p + 1), bytes = (double)n * p * 8.0;
        double g_ms = flops / peak / 1e6, r_ms = bytes / bw / 1e6;
        double bound = g_ms > r_ms ? g_ms : r_ms;
        double syrk = sz[s].syrk1[0];
        for (int k = 0; k < 2; k++) {
            if (sz[s].syrk1[k] > syrk)
                syrk = sz[s].syrk1[k];
            if (sz[s].syrkrow[k] > syrk)
                syrk = sz[s].syrkrow[k];
        }
        double prac = flops / syrk / 1e6 + r_ms;
        printf("| %ld | %ld | %.3g | %.3g | %.2f | %.2f | %.2f | %.1f | %.2f |\n", n, p, flops,
               bytes, g_ms, r_ms, bound, syrk, prac);
        if (jf)
            fprintf(jf,
                    "%s{\"n\": %ld, \"p\": %ld, \"gram_flops\": %.6g, \"x_bytes\": %.6g, "
                    "\"gram_peak_ms\": %.4f, \"read_ms\": %.4f, \"bound_ms\": %.4f, "
                    "\"syrk_one_gflops\": [%.3f, %.3f], \"syrk_rows_gflops\": [%.3f, %.3f], "
                    "\"readx_gbs\": [%.3f, %.3f], \"practical_ms\": %.4f}",
                    s ? ", " : "", n, p, flops, bytes, g_ms, r_ms, bound, sz[s].syrk1[0],
                    sz[s].syrk1[1], sz[s].syrkrow[0], sz[s].syrkrow[1], sz[s].readx[0],
                    sz[s].readx[1], prac);
    }
    if (jf) {
        fprintf(jf, "]}\n");
        if (fclose(jf) != 0) {
            fprintf(stderr, "bench_roofline: cannot write %s\n", json);
            return 4;
        }
    }
    return 0;
}
