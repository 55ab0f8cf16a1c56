/* bench/bench_cox.c — times the Cox fit (models/cox) on a gen_surv.py cohort, X
 * streamed one column at a time from the cohort (cox_fit_cols), and prints one JSON
 * line: load, sort + layout, Newton-Raphson, the rest, evaluations, s/evaluation,
 * peak RSS vs the bytes of X; writes the coefficients for the peers' check.
 * usage: bench_cox COHORT.h5 P [--threads T] [--ties efron|breslow] [--coef OUT.csv] */
#include "cox_internal.h"
#include "strata/cohort.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct src {
    strata_cohort *c;
    size_t *xcol;
    double read_s; /* seconds inside the cohort reads of X (a load, as the peers' load_s) */
} src;

static strata_status read_col(strata_ctx *ctx, void *ud, size_t j, double *col)
{
    src *s = ud;
    double t0 = omp_get_wtime();
    strata_status st = strata_cohort_read_f64(ctx, s->c, s->xcol[j], 0, strata_cohort_nrows(s->c), col);
    s->read_s += omp_get_wtime() - t0;
    return st;
}

static double vm_hwm_mb(void)
{
    char line[256];
    double kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb / 1024;
}

static int fail(strata_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_cox: %s: %s\n", what, strata_ctx_errmsg(ctx));
    return 1;
}

static void write_coef(const char *path, const cox_result *r, char names[][24])
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "term,estimate,std_error\n");
    for (size_t j = 0; j < r->p; j++)
        fprintf(f, "%s,%.17g,%.17g\n", names[j], r->beta[j], r->se[j]);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *path, *coef = NULL, *tname = "time_days", *ename = "event";
    int threads = 2;
    size_t p, n, jt, je;
    strata_ctx *ctx = NULL;
    src s = {NULL, NULL, 0};
    cox_params prm;
    cox_result *r = NULL;
    double *time, *event, t0, tload;
    char (*names)[24];
    const char **np;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_cox COHORT.h5 P [--threads T] [--ties efron|breslow] [--coef OUT.csv]\n");
        return 2;
    }
    path = argv[1];
    p = (size_t)atol(argv[2]);
    cox_params_init(&prm);
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ties"))
            prm.ties = !strcmp(argv[i + 1], "breslow") ? COX_TIES_BRESLOW : COX_TIES_EFRON;
        else if (!strcmp(argv[i], "--coef"))
            coef = argv[i + 1];
        else if (!strcmp(argv[i], "--time"))
            tname = argv[i + 1];
        else if (!strcmp(argv[i], "--event"))
            ename = argv[i + 1];
    }
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    strata_ctx_set_threads(ctx, threads);
    t0 = omp_get_wtime();
    if (strata_cohort_open(ctx, path, &s.c) != STRATA_OK)
        return fail(ctx, path);
    n = strata_cohort_nrows(s.c);
    s.xcol = calloc(p, sizeof *s.xcol);
    names = calloc(p, sizeof *names);
    np = calloc(p, sizeof *np);
    time = malloc(n * sizeof *time);
    event = malloc(n * sizeof *event);
    for (size_t j = 0; j < p; j++) {
        snprintf(names[j], sizeof names[j], "x%zu", j + 1);
        np[j] = names[j];
        if (strata_cohort_find(ctx, s.c, names[j], &s.xcol[j]) != STRATA_OK)
            return fail(ctx, names[j]);
    }
    if (strata_cohort_find(ctx, s.c, tname, &jt) != STRATA_OK ||
        strata_cohort_find(ctx, s.c, ename, &je) != STRATA_OK ||
        strata_cohort_read_f64(ctx, s.c, jt, 0, n, time) != STRATA_OK ||
        strata_cohort_read_f64(ctx, s.c, je, 0, n, event) != STRATA_OK)
        return fail(ctx, "time/event");
    tload = omp_get_wtime() - t0;
    {
        cox_input in = {n, p, NULL, time, event, NULL, NULL, NULL, np, NULL};
        strata_status st = cox_fit_cols(ctx, &in, read_col, &s, &prm, &r);
        if (st != STRATA_OK && st != STRATA_ENOCONV)
            return fail(ctx, "fit");
    }
    printf("{\"peer\": \"strata cox\", \"n\": %zu, \"p\": %zu, \"ties\": \"%s\", \"threads\": %d, "
           "\"load_s\": %.4f, \"sort_s\": %.4f, \"newton_s\": %.4f, \"post_s\": %.4f, "
           "\"fit_s\": %.4f, \"iters\": %d, \"evals\": %d, \"s_per_eval\": %.5f, "
           "\"loglik\": %.10g, \"events\": %zu, \"rss_hwm_mb\": %.1f, \"x_mb\": %.1f, \"coef\": \"%s\"}\n",
           n, p, prm.ties == COX_TIES_EFRON ? "efron" : "breslow", threads, tload + s.read_s,
           r->seconds[0] - s.read_s, r->seconds[1], r->seconds[2],
           r->seconds[0] - s.read_s + r->seconds[1] + r->seconds[2], r->iter,
           r->evals, r->seconds[1] / r->evals, r->loglik, r->n_events, vm_hwm_mb(),
           (double)n * (double)p * 8 / 1048576, coef ? coef : "");
    if (coef)
        write_coef(coef, r, names);
    cox_result_free(ctx, r);
    strata_cohort_close(s.c);
    free(s.xcol);
    free(names);
    free(np);
    free(time);
    free(event);
    strata_ctx_free(ctx);
    return 0;
}
