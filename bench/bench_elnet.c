/* bench/bench_elnet.c — times the elastic-net path (and optionally a K-fold
 * CV) on a synthetic binomial design: n rows, p columns (half N(0,1), half
 * 0/1 flags with prevalence 5-30 %), true coefficients on the first 10.
 * usage: bench_elnet N P [alpha] [K] [threads] [DUMP]. Prints key=value pairs;
 * with DUMP, also writes DUMP.X (column-major float64) and DUMP.y for the
 * peers (bench/peers/r_glmnet.R) and the path to DUMP.path.csv.
 * Invariant: the data depend only on N and P (fixed seed). */
#include "elnet_internal.h"
#include "strata/core.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long long rng = 0x1234567ULL;

static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

/* CPU seconds of the process (all threads): robust to a loaded machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

static int dump_data(const char *prefix, const double *X, const double *y, size_t n, size_t p)
{
    char name[1024];
    snprintf(name, sizeof name, "%s.X", prefix);
    FILE *fx = fopen(name, "wb");
    snprintf(name, sizeof name, "%s.y", prefix);
    FILE *fy = fopen(name, "wb");
    int bad = !fx || !fy || fwrite(X, sizeof *X, n * p, fx) != n * p || fwrite(y, sizeof *y, n, fy) != n;
    if (fx)
        bad |= fclose(fx) != 0;
    if (fy)
        bad |= fclose(fy) != 0;
    if (bad)
        fprintf(stderr, "bench_elnet: cannot write %s.X / .y\n", prefix);
    return bad;
}

static int dump_path(const char *prefix, const elnet_path *path)
{
    char name[1024];
    snprintf(name, sizeof name, "%s.path.csv", prefix);
    FILE *fp = fopen(name, "w");
    if (!fp)
        return 1;
    fprintf(fp, "step,lambda,a0,df,dev_ratio\n");
    for (size_t k = 0; k < path->nlam; k++)
        fprintf(fp, "%zu,%.17g,%.17g,%d,%.17g\n", k + 1, path->lambda[k], path->a0[k], path->df[k],
                path->dev_ratio[k]);
    return fclose(fp) != 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, p = argc > 2 ? strtoul(argv[2], NULL, 10) : 60;
    double alpha = argc > 3 ? atof(argv[3]) : 1;
    size_t K = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    int threads = argc > 5 ? atoi(argv[5]) : 2;
    const char *dump = argc > 6 ? argv[6] : NULL;
    double *X = malloc(n * p * sizeof *X), *y = malloc(n * sizeof *y), *eta = calloc(n, sizeof *eta);
    if (!X || !y || !eta)
        return 1;
    for (size_t j = 0; j < p; j++) {
        double prev = 0.05 + 0.25 * unif(), b = j < 10 ? 0.3 * (j % 2 ? -1 : 1) : 0;
        for (size_t i = 0; i < n; i++) {
            double x = j < p / 2 ? gauss() : (unif() < prev);
            X[j * n + i] = x;
            eta[i] += b * x;
        }
    }
    for (size_t i = 0; i < n; i++)
        y[i] = unif() < 1 / (1 + exp(-(eta[i] - 2)));
    if (dump && dump_data(dump, X, y, n, p))
        return 1;
    strata_ctx *ctx = NULL;
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    strata_ctx_set_threads(ctx, threads);
    elnet_params prm;
    elnet_params_init(&prm);
    prm.family = STRATA_FAMILY_BINOMIAL;
    prm.alpha = alpha;
    elnet_data d = {n, p, X, n, y, NULL, NULL};
    elnet_path *path = NULL;
    if (elnet_path_alloc(ctx, p, 100, &path) != STRATA_OK)
        return 1;
    double t0 = omp_get_wtime(), c0 = cpu_seconds();
    strata_status st;
    if (K) {
        elnet_cv cv;
        st = elnet_cv_run(ctx, &d, &prm, K, NULL, 1, ELNET_MEASURE_DEFAULT, path, &cv);
        if (st == STRATA_OK) {
            printf("cv_lambda_min=%g cv_lambda_1se=%g ", cv.lambda_min, cv.lambda_1se);
            elnet_cv_free(ctx, &cv);
        }
    } else {
        st = elnet_fit(ctx, &d, &prm, path);
    }
    double t1 = omp_get_wtime(), c1 = cpu_seconds();
    if (st != STRATA_OK) {
        fprintf(stderr, "bench_elnet: %s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    char blas[512];
    strata_blas_config(blas, sizeof blas);
    printf("blas=\"%s\" ", blas);
    printf("n=%zu p=%zu alpha=%g folds=%zu threads=%d seconds=%.3f cpu_seconds=%.3f lambdas=%zu passes=%d grams=%d scans=%d stale=%d df_last=%d\n", n, p,
           alpha, K, threads, t1 - t0, c1 - c0, path->nlam, path->npasses, path->ngram, path->nscan, path->nstale, path->df[path->nlam - 1]);
    if (dump && dump_path(dump, path))
        return 1;
    elnet_path_free(ctx, path);
    strata_ctx_free(ctx);
    free(X), free(y), free(eta);
    return 0;
}
