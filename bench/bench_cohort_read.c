/* bench/bench_cohort_read.c — checks a benchmark cohort with the engine's own
 * reader (strata_cohort_validate, then strata_cohort_open) and times the load
 * strata pays before fitting: every x<j> column plus the outcome, read in
 * row blocks (default 8192) with strata_cohort_read_f64 into a row-major n x p matrix,
 * and again into one reused block buffer (the on-the-fly design matrix).
 * Prints one JSON line (rows, columns, seconds, GB/s, checksums to compare with
 * numpy). Invariant: read only through include/strata/cohort.h; exit 1 when the
 * cohort has problems (the first ten are printed). */
#include "strata/cohort.h"
#include "strata/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_P 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_problem(void *ud, strata_problem_kind kind, const char *msg)
{
    size_t *shown = ud;
    if ((*shown)++ < 10)
        fprintf(stderr, "problem (%s): %s\n", strata_problem_kind_name(kind), msg);
}

/* Reads rows [r0, r0+m) of the p x-columns through col into dst (row-major,
 * m x p); adds the time spent inside strata_cohort_read_f64 to *tread. */
static strata_status gather(strata_ctx *ctx, strata_cohort *c, const size_t *xcol, size_t p,
                            size_t r0, size_t m, double *col, double *dst, double *tread)
{
    for (size_t j = 0; j < p; j++) {
        double t1 = now_s();
        strata_status st = strata_cohort_read_f64(ctx, c, xcol[j], r0, m, col);
        *tread += now_s() - t1;
        if (st != STRATA_OK)
            return st;
        for (size_t i = 0; i < m; i++)
            dst[i * p + j] = col[i];
    }
    return STRATA_OK;
}

static int fail(strata_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_cohort_read: %s: %s\n", what, strata_ctx_errmsg(ctx));
    strata_ctx_free(ctx);
    return 1;
}

int main(int argc, char **argv)
{
    strata_ctx *ctx = NULL;
    strata_cohort *c = NULL;
    strata_validate_report rep;
    size_t shown = 0, xcol[MAX_P], ycol, p = 0;
    const char *outcome = argc > 2 ? argv[2] : "y_bin";
    size_t block = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 8192;
    if (argc < 2 || argc > 4 || block == 0) {
        fprintf(stderr, "usage: bench_cohort_read COHORT.h5 [OUTCOME [BLOCK_ROWS]]\n");
        return 2;
    }
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 3;
    double tv = now_s();
    if (strata_cohort_validate(ctx, argv[1], on_problem, &shown, &rep) != STRATA_OK)
        return fail(ctx, "validate");
    tv = now_s() - tv;
    if (strata_cohort_open(ctx, argv[1], &c) != STRATA_OK)
        return fail(ctx, "open");
    size_t n = strata_cohort_nrows(c);
    for (p = 0; p < MAX_P; p++) {
        char name[32];
        snprintf(name, sizeof name, "patients/x%zu", p + 1);
        if (strata_cohort_find(ctx, c, name, &xcol[p]) != STRATA_OK)
            break;
    }
    strata_ctx_clear_error(ctx);
    if (p == 0 || strata_cohort_find(ctx, c, outcome, &ycol) != STRATA_OK) {
        strata_cohort_close(c);
        return fail(ctx, "find x1 / outcome");
    }
    double *x = malloc(n * p * sizeof(double)), *y = malloc(n * sizeof(double));
    double *col = malloc(block * sizeof(double));
    if (!x || !y || !col) {
        fprintf(stderr, "bench_cohort_read: out of memory for %zu x %zu\n", n, p);
        return 3;
    }
    double t0 = now_s(), tread = 0.0, tread2 = 0.0;
    for (size_t r0 = 0; r0 < n; r0 += block) {
        size_t m = n - r0 < block ? n - r0 : block;
        if (gather(ctx, c, xcol, p, r0, m, col, x + r0 * p, &tread) != STRATA_OK ||
            strata_cohort_read_f64(ctx, c, ycol, r0, m, y + r0) != STRATA_OK) {
            strata_cohort_close(c);
            return fail(ctx, "read");
        }
    }
    double t = now_s() - t0;
    /* Second pass: the same reads into ONE reused row-major block buffer (the
     * design matrix built on the fly, never a full n x p copy). */
    double *blk = malloc(block * p * sizeof(double)), sb = 0.0;
    if (!blk) {
        fprintf(stderr, "bench_cohort_read: out of memory for a %zu x %zu block\n", block, p);
        return 3;
    }
    double ts = now_s();
    for (size_t r0 = 0; r0 < n; r0 += block) {
        size_t m = n - r0 < block ? n - r0 : block;
        if (gather(ctx, c, xcol, p, r0, m, col, blk, &tread2) != STRATA_OK) {
            strata_cohort_close(c);
            return fail(ctx, "read");
        }
        sb += blk[(m - 1) * p + p - 1];
    }
    ts = now_s() - ts;
    free(blk);
    double sx = 0.0, sy = 0.0;
    for (size_t k = 0; k < n * p; k++)
        sx += x[k];
    for (size_t i = 0; i < n; i++)
        sy += y[i];
    printf("{\"cohort\": \"%s\", \"rows\": %zu, \"p\": %zu, \"problems\": %zu, "
           "\"validate_s\": %.4f, \"block\": %zu, \"load_s\": %.4f, "
           "\"gb_per_s\": %.3f, \"read_f64_calls_s\": %.4f, \"stream_block_s\": %.4f, "
           "\"sum_x\": %.10g, \"sum_y\": %.10g, \"check\": %.6g}\n",
           argv[1], n, p, rep.total, tv, block, t, (double)n * (double)(p + 1) * 8.0 / t / 1e9,
           tread, ts, sx, sy, sb);
    free(x);
    free(y);
    free(col);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    return rep.total ? 1 : 0;
}
