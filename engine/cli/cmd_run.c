/* engine/cli/cmd_run.c — `strata run SPEC --out DIR`: the whole job from a run
 * spec, with a progress line on stderr when it is a terminal and a one-screen
 * summary at the end (docs/run-spec.md). */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE = "strata run SPEC.yaml --out DIR [--overwrite] [--threads N] [--quiet]";

typedef struct progress {
    int tty;
    struct timespec t0;
} progress;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void on_progress(void *ud, const char *stage, double fraction)
{
    progress *p = ud;
    (void)fraction;
    if (p->tty)
        fprintf(stderr, "\r\033[K  [%6.1fs] %s done", since(&p->t0), stage);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"overwrite", no_argument, NULL, 'w'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    cli_common co = {0};
    strata_run_spec spec;
    strata_run_summary sum;
    progress pr;
    strata_ctx *ctx;
    strata_status st;
    long v;
    int o, overwrite = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:t:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'w': overwrite = 1; break;
        case 't':
            if (cli_parse_long(optarg, 0, 1024, &v))
                return cli_usage_error("run", USAGE, "--threads: not a count: %s", optarg);
            co.threads = (int)v;
            break;
        case 'q': co.quiet = 1; break;
        case 'h':
            printf("usage: %s\n\nRuns the whole job described by a run spec (docs/run-spec.md):\n"
                   "cohort (file or synthetic) -> fit or load a model -> score -> evaluate ->\n"
                   "stratify -> aggregate by PCN/practice/ICB with disclosure control ->\n"
                   "CSV tables, report.html and manifest.json in DIR.\n"
                   "DIR must be empty (or new) unless --overwrite replaces an earlier run's\n"
                   "outputs; all outputs appear together when the run succeeds, manifest.json\n"
                   "last (docs/reliability.md#run-folder).\n",
                   USAGE);
            return 0;
        default: return cli_usage_error("run", USAGE, "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("run", USAGE, "expected one run spec");
    if (!out)
        return cli_usage_error("run", USAGE, "--out DIR is required");
    if (!(ctx = cli_ctx_new(&co)))
        return STRATA_ENOMEM;
    strata_mpi_attach(ctx); /* the fit over every rank's slab; rank 0 writes */
    st = strata_run_spec_load(ctx, argv[optind], &spec);
    if (st != STRATA_OK) {
        int code = cli_fail(ctx, "run", st);
        strata_ctx_free(ctx);
        return code;
    }
    if (co.threads > 0)
        spec.threads = co.threads;
    spec.overwrite = overwrite;
    pr.tty = !co.quiet && isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    st = strata_run(ctx, &spec, out, on_progress, &pr, &sum);
    if (pr.tty)
        fprintf(stderr, "\r\033[K");
    if (st != STRATA_OK) {
        int code = cli_fail(ctx, "run", st);
        strata_run_spec_free(ctx, &spec);
        strata_ctx_free(ctx);
        return code;
    }
    if (!co.quiet && cli_rank() == 0) {
        printf("strata run: %s in %.1f s (%d threads)\n", argv[optind], since(&pr.t0),
               sum.threads);
        printf("  patients            %zu in %zu PCNs\n", sum.n_patients, sum.n_pcn);
        if (sum.n_unscored)
            printf("  not scored          %zu (a model column missing: see unscored.csv)\n",
                   sum.n_unscored);
        if (!isnan(sum.c_statistic) && sum.c_statistic > 0) {
            printf("  C-statistic         %.3f\n", sum.c_statistic);
            printf("  observed/expected   %.3f\n", sum.oe);
            printf("  calibration slope   %.3f\n", sum.calibration_slope);
        }
        printf("  intervention lists  %zu patients offered proactive care\n", sum.n_listed);
        printf("  outputs             %s/ (aggregates disclosure-controlled; patient files 0600)\n", out);
        printf("  report              open %s\n", sum.report);
    }
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
    return 0;
}
