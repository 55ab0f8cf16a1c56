/* bench/bench_roofline.c — measures THIS machine's limits for the GLM benchmark:
 * the DGEMM compute rate and read bandwidth as `strata bench` measures them
 * (strata_node_measure: DGEMM 2000^3, a 512 MiB sum, with 1 and T threads), the
 * read of each X (the library's la_probe_read), and DSYRK tall-skinny Gram
 * rates (one call, and rows split over OpenMP threads), each with 1 and T
 * threads, then prints the IRLS per-iteration lower bound for each n:p given
 * (max(Gram flops at DGEMM peak, one read of X)), as ../shared/PEERS.md does.
 * Invariant: every figure is the best of timed runs after one warm-up, and
 * the bounds use only rates measured in this same run. */
#include "linalg.h"
#include "strata/bench.h"
#include "strata/core.h"

#include <cblas.h>
#include <omp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* X's values (any finite numbers do for timing), written in parallel so the
 * pages spread over the threads that read them (first touch). */
static void fill_x(double *a, size_t count, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < count; i++)
        a[i] = (double)(i % 1999) * 1e-3 - 1.0;
}

static volatile double sink; /* keeps results alive */

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
            "usage: bench_roofline [--reps R] [--threads T] [--json FILE] N:P ...\n"
            "  measures DGEMM 2000^3 and read bandwidth (strata_node_measure), and the read\n"
            "  of X and DSYRK rates per N:P, with 1 and T threads\n"
            "  (T = OMP_NUM_THREADS or all cores) and prints the IRLS iteration bound per N:P\n");
}

int main(int argc, char **argv)
{
    int reps = 3, tmax = omp_get_max_threads();
    const char *json = NULL;
    size_res sz[MAX_SIZES];
    int nsz = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
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
    if (reps < 1 || tmax < 1 || nsz == 0) {
        usage();
        return 2;
    }
    int thr[2] = {1, tmax};
    int nthr = tmax > 1 ? 2 : 1;

    printf("# roofline: OpenBLAS %s (core %s), OpenMP max threads %d, best of %d\n",
           openblas_get_config(), openblas_get_corename(), tmax, reps);

    /* the node's peaks exactly as `strata bench` measures them */
    strata_ctx *ctx = NULL;
    strata_node_limits lim;
    char scratch[256];
    snprintf(scratch, sizeof scratch, "/tmp/bench_roofline.%ld.scratch", (long)getpid());
    if (strata_ctx_new(&ctx) != STRATA_OK) {
        fprintf(stderr, "bench_roofline: cannot allocate a context\n");
        return 3;
    }
    strata_ctx_set_threads(ctx, tmax);
    if (strata_node_measure(ctx, scratch, (size_t)64 << 20, 0, &lim) != STRATA_OK) {
        fprintf(stderr, "bench_roofline: %s\n", strata_ctx_errmsg(ctx));
        strata_ctx_free(ctx);
        return 4;
    }
    int mgemm = lim.dgemm_m;
    double gemm[2] = {lim.dgemm_gflops_1, lim.dgemm_gflops};
    double rd[2] = {lim.mem_read_gbs_1, lim.mem_read_gbs};
    double gflop = 2.0 * mgemm * (double)mgemm * mgemm / 1e9, big_gb = (double)lim.mem_bytes / 1e9;

    printf("\n| kernel | p | 1 thread | %d threads |\n|---|---:|---:|---:|\n", tmax);
    printf("| DGEMM %d^3 (compute peak) | - | %.1f GFLOP/s (%.1f ms) | %.1f GFLOP/s (%.1f ms) |\n",
           mgemm, gemm[0], gflop / gemm[0] * 1e3, gemm[nthr - 1], gflop / gemm[nthr - 1] * 1e3);
    printf("| read-only sum, %zu MiB | - | %.1f GB/s (%.1f ms) | %.1f GB/s (%.1f ms) |\n",
           lim.mem_bytes >> 20, rd[0], big_gb / rd[0] * 1e3, rd[nthr - 1],
           big_gb / rd[nthr - 1] * 1e3);
    fflush(stdout);

    for (int s = 0; s < nsz; s++) {
        long n = sz[s].n, p = sz[s].p;
        size_t cnt = (size_t)n * (size_t)p;
        double flops = (double)n * (double)p * (double)(p + 1);
        double *x = alloc_doubles(cnt);
        double *c = alloc_doubles((size_t)p * (size_t)p);
        double *priv = alloc_doubles((size_t)tmax * (size_t)p * (size_t)p);
        fill_x(x, cnt, tmax);
        for (int k = 0; k < 2; k++) {
            int kk = k < nthr ? k : nthr - 1;
            double t;
            sz[s].readx[k] = la_probe_read(ctx, cnt * sizeof(double), thr[kk], reps);
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
    strata_ctx_free(ctx);
    if (jf) {
        fprintf(jf, "]}\n");
        if (fclose(jf) != 0) {
            fprintf(stderr, "bench_roofline: cannot write %s\n", json);
            return 4;
        }
    }
    return 0;
}
