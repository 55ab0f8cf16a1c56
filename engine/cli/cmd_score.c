/* engine/cli/cmd_score.c — `strata score MODEL COHORT --out scores.h5|scores.csv
 * [--unseen-to-reference] [--threads N] [--mem-limit SIZE] [--verbose]`: one
 * row per patient in cohort order (patient_id, linear_predictor, response),
 * written 0600 and atomically; --mem-limit sets the context's memory budget,
 * which sizes the streamed row chunks (docs/scale.md; same bytes).
 * Exit codes: 0, 2 usage, or the failing strata_status (6 = unseen level). */
#include "cli.h"

#include <string.h>

static const char *USAGE =
    "strata score MODEL COHORT --out scores.h5|scores.csv [--unseen-to-reference] [--threads N]\n"
    "       [--mem-limit SIZE (e.g. 256M: the rows held at once; same bytes)] [--verbose]\n"
    "       [--horizon H[,H...]]   (Cox models: absolute risk by each horizon, in the time unit of the fit)";

int cmd_score(int argc, char **argv)
{
    cli_model_opts o;
    strata_ctx *ctx;
    strata_model *m;
    strata_cohort *c;
    strata_status st;
    int rc;
    double h[16];
    size_t nh = 0, mem_limit = 0;
    cli_model_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        int k = cli_model_opt(&o, argc, argv, &i, "score", USAGE);
        if (k == CLI_OPT_HELP)
            return 0;
        if (k == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (k == CLI_OPT_NOT_MINE && !strcmp(argv[i], "--verbose")) {
            o.co.verbose = 1;
            continue;
        }
        if (k == CLI_OPT_NOT_MINE && !strcmp(argv[i], "--mem-limit") && i + 1 < argc) {
            if (strata_parse_size(argv[++i], &mem_limit))
                return cli_usage_error("score", USAGE, "--mem-limit: '%s' is not a size such as 4G, 512M or 100000", argv[i]);
            continue;
        }
        if (k == CLI_OPT_NOT_MINE && !strcmp(argv[i], "--horizon") && i + 1 < argc) {
            if (cli_parse_horizons(argv[++i], h, &nh))
                return cli_usage_error("score", USAGE, "--horizon: '%s' is not 1-16 positive numbers", argv[i]);
            continue;
        }
        if (k == CLI_OPT_NOT_MINE)
            return cli_usage_error("score", USAGE, "unexpected argument '%s'", argv[i]);
    }
    if (o.model && strata_cox_is_model_file(o.model)) {
        if (!o.cohort || !o.out)
            return cli_usage_error("score", USAGE, "MODEL, COHORT and --out are required");
        return cli_score_cox(&o, h, nh, mem_limit);
    }
    if (nh)
        return cli_usage_error("score", USAGE, "--horizon is for Cox models");
    if ((rc = cli_model_open(&o, "score", USAGE, &ctx, &m, &c)) == 0) {
        strata_ctx_set_memory_budget(ctx, mem_limit);
        strata_mpi_attach(ctx); /* every rank scores its chunks; rank 0 writes */
        if ((st = strata_score_write(ctx, m, c, o.unseen, o.out)) != STRATA_OK)
            rc = cli_fail(ctx, "score", st);
        else if (!o.co.quiet)
            printf("scored %zu rows into %s\n", strata_cohort_nrows(c), o.out);
    }
    cli_model_close(ctx, m, c);
    return rc;
}
