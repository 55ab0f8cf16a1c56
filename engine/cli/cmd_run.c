/* engine/cli/cmd_run.c — `strata run SPEC --out DIR`: the whole job from a run
 * spec, with a progress line on stderr when it is a terminal and a one-screen
 * summary at the end (docs/run-spec.md). */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "strata run SPEC.yaml --out DIR [--overwrite] [--threads N] [--quiet] [--json] [--allow-invalid]";

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

/* --json: the summary for a pipeline. */
static void print_json(const char *spec_path, const char *out, const strata_run_spec *spec,
                       const strata_run_summary *sum, double seconds)
{
    cli_json j;
    char path[4200], rules[512];
    int evaluated = !isnan(sum->c_statistic) && sum->c_statistic > 0;
    cli_json_begin(&j, stdout, "run");
    cli_json_str(&j, "status", "ok");
    cli_json_str(&j, "spec", spec_path);
    cli_json_str(&j, "out", out);
    cli_json_num(&j, "seconds", seconds);
    cli_json_int(&j, "threads", sum->threads);
    /* counts as the disclosed tables publish them (null where withheld) */
    cli_json_num(&j, "patients", sum->pub_patients);
    cli_json_int(&j, "pcns", (long long)sum->n_pcn);
    cli_json_num(&j, "not_scored", sum->pub_unscored);
    cli_json_bool(&j, "evaluated", evaluated);
    cli_json_num(&j, "c_statistic", evaluated ? sum->c_statistic : NAN);
    cli_json_num(&j, "observed_expected", evaluated ? sum->pub_oe : NAN);
    cli_json_num(&j, "calibration_slope", evaluated ? sum->calibration_slope : NAN);
    cli_json_num(&j, "offered_proactive_care", sum->pub_listed);
    cli_json_int(&j, "invalid_problems", (long long)sum->n_invalid);
    cli_json_open(&j, "disclosure", '{');
    cli_json_bool(&j, "enabled", sum->sdc.enabled);
    cli_json_num(&j, "suppress_min", sum->sdc.lo);
    cli_json_num(&j, "suppress_max", sum->sdc.hi);
    cli_json_num(&j, "round_to", sum->sdc.round_to);
    cli_json_bool(&j, "complementary", sum->sdc.secondary);
    strata_sdc_describe(&sum->sdc, rules, sizeof rules);
    cli_json_str(&j, "rules", rules);
    cli_json_close(&j);
    cli_json_str(&j, "report", sum->report);
    snprintf(path, sizeof path, "%s/pcn_packs.html", out);
    cli_json_str(&j, "pcn_packs", spec->per_pcn ? path : NULL);
    snprintf(path, sizeof path, "%s/manifest.json", out);
    cli_json_str(&j, "manifest", path);
    cli_json_end(&j);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"overwrite", no_argument, NULL, 'w'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"allow-invalid", no_argument, NULL, 'a'},
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
    int o, json = 0, overwrite = 0, allow_invalid = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:t:qjah", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'w': overwrite = 1; break;
        case 't':
            if (cli_parse_long(optarg, 0, 1024, &v))
                return cli_usage_error("run", USAGE, "--threads: not a count: %s", optarg);
            co.threads = (int)v;
            break;
        case 'q': co.quiet = 1; break;
        case 'j': json = 1; break;
        case 'a': allow_invalid = 1; break;
        case 'h':
            printf("usage: %s\n\nRuns the whole job described by a run spec (docs/run-spec.md):\n"
                   "cohort (file or synthetic) -> fit or load a model -> score -> evaluate ->\n"
                   "stratify -> aggregate by PCN/practice/ICB with disclosure control ->\n"
                   "CSV tables, report.html and manifest.json in DIR.\n"
                   "DIR must be empty (or new) unless --overwrite replaces an earlier run's\n"
                   "outputs; all outputs appear together when the run succeeds, manifest.json\n"
                   "last (docs/reliability.md#run-folder).\n"
                   "The cohort is validated first: a problem stops the run with the\n"
                   "validate report unless --allow-invalid (recorded in manifest.json).\n\n"
                   "  --out DIR        output directory (created if needed)\n"
                   "  --overwrite      replace an earlier run's outputs in DIR\n"
                   "  --threads N      threads for this run (default: the spec's, else all)\n"
                   "  --quiet          no progress and no summary; errors only\n"
                   "  --json           the summary as one JSON object on stdout, its counts as\n"
                   "                   published (also for a failure: status, exit, error)\n"
                   "  --allow-invalid  go on with a cohort strata validate rejects (recorded)\n",
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
        if (json)
            cli_json_fail("run", ctx, st, code);
        strata_ctx_free(ctx);
        return code;
    }
    if (co.threads > 0)
        spec.threads = co.threads;
    spec.overwrite = overwrite;
    if (allow_invalid)
        spec.allow_invalid = 1;
    pr.tty = !co.quiet && isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    st = strata_run(ctx, &spec, out, on_progress, &pr, &sum);
    if (pr.tty)
        fprintf(stderr, "\r\033[K");
    if (st != STRATA_OK) {
        int code = cli_fail(ctx, "run", st);
        if (json)
            cli_json_fail("run", ctx, st, code);
        strata_run_spec_free(ctx, &spec);
        strata_ctx_free(ctx);
        return code;
    }
    if (cli_rank() != 0) {
        /* rank 0 reports the run (docs/scale.md#mpi) */
    } else if (json) {
        print_json(argv[optind], out, &spec, &sum, since(&pr.t0));
    } else if (!co.quiet) {
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
        {
            char rules[512];
            strata_sdc_describe(&sum.sdc, rules, sizeof rules);
            if (sum.n_invalid)
                printf("  INVALID cohort      %zu problems (--allow-invalid: recorded in "
                       "manifest.json)\n", sum.n_invalid);
            printf("  outputs             %s/ (patient files 0600)\n", out);
            printf("  disclosure          %s\n", rules);
            printf("  (the counts above are exact: for you, not for publication)\n");
        }
        printf("  report              open %s\n", sum.report);
        if (spec.per_pcn)
            printf("  PCN packs           open %s/pcn_packs.html (one A4 page per PCN)\n", out);
    }
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
    return 0;
}
