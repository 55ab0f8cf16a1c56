/* bench/bench_synth.c — throughput of `strata synth`: patients/s writing an
 * England-shaped cohort of 1 M and 10 M patients (or the sizes given), with the
 * preparation time, wall and CPU time, and peak RSS (getrusage). Not a test.
 * usage: bench_synth [--threads T] [--dir DIR] [--data DIR] [N ...] */
#include "strata/strata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
    long sizes[16];
    int nsizes = 0, threads = 2;
    const char *dir = "/tmp", *data = NULL;
    char blas[256];
    strata_ctx *ctx;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (nsizes < 16)
            sizes[nsizes++] = atol(argv[i]);
    }
    if (nsizes == 0) {
        sizes[0] = 1000000;
        sizes[1] = 10000000;
        nsizes = 2;
    }
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 3;
    strata_ctx_set_threads(ctx, threads);
    strata_blas_config(blas, sizeof blas);
    printf("# bench_synth: England selection, threads=%d, BLAS: %s\n", threads, blas);
    printf("%12s %8s %8s %8s %12s %10s %10s\n", "patients", "prep_s", "write_s", "cpu_s",
           "patients/s", "file_MB", "peakRSS_MB");
    for (int k = 0; k < nsizes; k++) {
        strata_synth_params p;
        strata_synth *s = NULL;
        strata_synth_summary sum;
        char path[4096];
        struct stat st;
        struct rusage ru;
        double t0, t1, t2, c0, c1;
        strata_synth_params_init(&p);
        p.scope = STRATA_SYNTH_ENGLAND;
        p.n_patients = sizes[k];
        p.data_dir = data;
        snprintf(path, sizeof path, "%s/bench_synth_%ld.h5", dir, sizes[k]);
        t0 = now();
        c0 = cpu_seconds();
        if (strata_synth_new(ctx, &p, &s) != STRATA_OK) {
            fprintf(stderr, "bench_synth: %s\n", strata_ctx_errmsg(ctx));
            return 1;
        }
        t1 = now();
        if (strata_synth_write(ctx, s, path, &sum) != STRATA_OK) {
            fprintf(stderr, "bench_synth: %s\n", strata_ctx_errmsg(ctx));
            return 1;
        }
        t2 = now();
        c1 = cpu_seconds();
        stat(path, &st);
        getrusage(RUSAGE_SELF, &ru);
        printf("%12ld %8.2f %8.2f %8.2f %12.0f %10.0f %10.0f\n", sizes[k], t1 - t0, t2 - t1,
               c1 - c0, (double)sizes[k] / (t2 - t0), (double)st.st_size / 1e6,
               (double)ru.ru_maxrss / 1024.0);
        unlink(path);
        strata_synth_free(s);
    }
    strata_ctx_free(ctx);
    return 0;
}
