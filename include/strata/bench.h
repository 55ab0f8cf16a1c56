/* strata/bench.h — this node's limits, measured in the run that uses them
 * (`strata bench`, docs/scale.md): DGEMM rate, memory read bandwidth and file
 * read bandwidth, each with one thread and with the context's threads. */
#ifndef STRATA_BENCH_H
#define STRATA_BENCH_H

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_node_limits {
    int threads;               /* the context's thread count */
    double dgemm_gflops;       /* DGEMM m^3 (OpenBLAS) with threads threads, GFLOP/s */
    double dgemm_gflops_1;     /* ... with one thread */
    double mem_read_gbs;       /* sum over an array larger than the caches, GB/s, threads threads */
    double mem_read_gbs_1;     /* ... one thread */
    double file_read_gbs;      /* sequential read of a scratch file, GB/s */
    size_t file_bytes;         /* its size */
    int file_cold;             /* 1: its pages were dropped from the page cache first
                                * (posix_fadvise DONTNEED after fsync), 0: may be cached */
    int dgemm_m;               /* the DGEMM size used */
    size_t mem_bytes;          /* the array size used */
} strata_node_limits;

/* Measures the limits; each figure the best of a few runs after a warm-up.
 * quick = 1 uses small sizes (a smoke test: seconds, figures less exact).
 * The scratch file (file_bytes, written then read, then removed) is created at
 * scratch_path, which must not exist. STRATA_EIO when it cannot be written. */
STRATA_API strata_status strata_node_measure(strata_ctx *ctx, const char *scratch_path,
                                             size_t file_bytes, int quick, strata_node_limits *out);

#ifdef __cplusplus
}
#endif
#endif
