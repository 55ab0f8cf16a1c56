/* bench/bench_elnet.c — times the elastic-net path (and optionally a K-fold
 * CV) on one of three binomial designs:
 *   mixed (default): n rows, p columns (half N(0,1), half 0/1 flags with
 *     prevalence 5-30 %), true coefficients on the first 10;
 *   flags: p sparse 0/1 code-list flags (prevalence 0.5-5 %), 10 true effects;
 *   load:PREFIX: PREFIX.X (column-major float64 n x p) and PREFIX.y, e.g.
 *     ../shared/PEERS.md's data from bench/gen_cohort.py via peers/cohort_raw.py.
 * usage: bench_elnet N P [alpha] [K] [threads] [DUMP] [DESIGN]. Prints key=value
 * pairs (with the peak resident memory and the bytes of X); with DUMP, also
 * writes the path to DUMP.path.csv and, without CV (K = 0), DUMP.X
 * (column-major float64; for flags DUMP.ij, the (row, column) int32 pairs of
 * the ones) and DUMP.y for the peers (bench/peers/r_glmnet.R, py_saga.py);
 * with CV, the curve to DUMP.cv.csv (lambda, cvm, cvsd to 17 digits).
 * Invariant: generated data depend only on N, P and the design (fixed seed). */
#include "elnet_internal.h"
#include "strata/core.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Writes (write = 1) or reads PREFIX.X (n x p) and PREFIX.y. */
static int raw_data(const char *prefix, double *X, double *y, size_t n, size_t p, int write)
{
    char name[1024];
    FILE *f[2];
    const char *ext[2] = {"X", "y"};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.%s", prefix, ext[k]);
        f[k] = fopen(name, write ? "wb" : "rb");
    }
    size_t want[2] = {n * p, n}, got[2] = {0, 0};
    double *buf[2] = {X, y};
    for (int k = 0; k < 2; k++)
        if (f[k])
            got[k] = write ? fwrite(buf[k], sizeof(double), want[k], f[k])
                           : fread(buf[k], sizeof(double), want[k], f[k]);
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        bad |= !f[k] || got[k] != want[k];
        if (f[k])
            bad |= fclose(f[k]) != 0;
    }
    if (bad)
        fprintf(stderr, "bench_elnet: cannot %s %s.X / .y (%zu x %zu)\n", write ? "write" : "read", prefix, n, p);
    return bad;
}

/* PREFIX.EXT opened for writing, its header line written; NULL on failure. */
static FILE *csv_open(const char *prefix, const char *ext, const char *header)
{
    char name[1024];
    snprintf(name, sizeof name, "%s.%s", prefix, ext);
    FILE *fp = fopen(name, "w");
    if (fp)
        fprintf(fp, "%s\n", header);
    return fp;
}

static int dump_path(const char *prefix, const elnet_path *path)
{
    FILE *fp = csv_open(prefix, "path.csv", "step,lambda,a0,df,dev_ratio");
    if (!fp)
        return 1;
    for (size_t k = 0; k < path->nlam; k++)
        fprintf(fp, "%zu,%.17g,%.17g,%d,%.17g\n", k + 1, path->lambda[k], path->a0[k], path->df[k],
                path->dev_ratio[k]);
    return fclose(fp) != 0;
}

static int dump_cv(const char *prefix, const elnet_cv *cv)
{
    FILE *fp = csv_open(prefix, "cv.csv", "step,lambda,cvm,cvsd,nzero");
    if (!fp)
        return 1;
    for (size_t k = 0; k < cv->nlam; k++)
        fprintf(fp, "%zu,%.17g,%.17g,%.17g,%d\n", k + 1, cv->lambda[k], cv->cvm[k], cv->cvsd[k], cv->nzero[k]);
    return fclose(fp) != 0;
}

/* Writes PREFIX.ij: the (row, column) int32 pairs of the ones of 0/1 columns. */
static int dump_ones(const char *prefix, const double *X, size_t n, size_t p)
{
    char name[1024];
    snprintf(name, sizeof name, "%s.ij", prefix);
    FILE *f = fopen(name, "wb");
    int bad = !f;
    for (size_t j = 0; !bad && j < p; j++)
        for (size_t i = 0; !bad && i < n; i++)
            if (X[j * n + i] != 0) {
                int ij[2] = {(int)i, (int)j};
                bad = fwrite(ij, sizeof ij, 1, f) != 1;
            }
    if (f)
        bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "bench_elnet: cannot write %s\n", name);
    return bad;
}

/* The synthetic designs; y from the logistic model on eta. */
static void make_data(int flags, double *X, double *y, double *eta, size_t n, size_t p)
{
    for (size_t j = 0; j < p; j++) {
        double prev = flags ? 0.005 + 0.045 * unif() : 0.05 + 0.25 * unif();
        double b = j < 10 ? (flags ? 0.5 : 0.3) * (j % 2 ? -1 : 1) : 0;
        double *x = X + j * n;
        if (flags) { /* the ones by geometric gaps: O(ones), not O(n) draws */
            memset(x, 0, n * sizeof *x);
            for (double i = floor(log(unif()) / log1p(-prev)); i < (double)n;
                 i += 1 + floor(log(unif()) / log1p(-prev)))
                x[(size_t)i] = 1;
        } else {
            for (size_t i = 0; i < n; i++)
                x[i] = j < p / 2 ? gauss() : (unif() < prev);
        }
        for (size_t i = 0; b != 0 && i < n; i++)
            eta[i] += b * x[i];
    }
    for (size_t i = 0; i < n; i++)
        y[i] = unif() < 1 / (1 + exp(-(eta[i] - 2)));
}

/* Peak resident memory of the process in MB (VmHWM), or -1. */
static double peak_rss_mb(void)
{
    char line[256];
    double kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, p = argc > 2 ? strtoul(argv[2], NULL, 10) : 60;
    double alpha = argc > 3 ? atof(argv[3]) : 1;
    size_t K = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    int threads = argc > 5 ? atoi(argv[5]) : 2;
    const char *dump = argc > 6 && argv[6][0] ? argv[6] : NULL;
    const char *design = argc > 7 ? argv[7] : "mixed";
    int flags = strcmp(design, "flags") == 0;
    double *X = malloc(n * p * sizeof *X), *y = malloc(n * sizeof *y), *eta = calloc(n, sizeof *eta);
    if (!X || !y || !eta)
        return 1;
    if (strncmp(design, "load:", 5) == 0) {
        if (raw_data(design + 5, X, y, n, p, 0))
            return 1;
    } else if (flags || strcmp(design, "mixed") == 0) {
        make_data(flags, X, y, eta, n, p);
        if (dump && !K && (flags ? dump_ones(dump, X, n, p) : raw_data(dump, X, y, n, p, 1)))
            return 1;
        if (dump && !K && flags && raw_data(dump, X, y, n, 0, 1))
            return 1;
    } else {
        fprintf(stderr, "bench_elnet: design %s is not mixed, flags or load:PREFIX\n", design);
        return 2;
    }
    strata_ctx *ctx = NULL;
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    strata_ctx_set_threads(ctx, threads);
    elnet_params prm;
    elnet_params_init(&prm);
    prm.family = STRATA_FAMILY_BINOMIAL;
    prm.alpha = alpha;
    elnet_data d = {n, p, X, n, y, NULL, NULL, {NULL, 0, 0, 0, 0}, NULL};
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
            if (dump && dump_cv(dump, &cv))
                return 1;
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
    printf("design=%s n=%zu p=%zu alpha=%g folds=%zu threads=%d seconds=%.3f cpu_seconds=%.3f lambdas=%zu passes=%d grams=%d scans=%d stale=%d df_last=%d x_mb=%.0f peak_rss_mb=%.0f\n",
           flags ? "flags" : strncmp(design, "load:", 5) == 0 ? "load" : "mixed", n, p, alpha, K, threads, t1 - t0, c1 - c0, path->nlam,
           path->npasses, path->ngram, path->nscan, path->nstale, path->df[path->nlam - 1],
           (double)(n * p * sizeof *X) / 1048576, peak_rss_mb());
    if (dump && dump_path(dump, path))
        return 1;
    elnet_path_free(ctx, path);
    strata_ctx_free(ctx);
    free(X), free(y), free(eta);
    return 0;
}
