/* engine/cli/cli_model_opts.c — the options shared by the commands that apply
 * a saved model to a cohort (`score`, `evaluate`): MODEL COHORT positionals,
 * --out, --unseen-to-reference, --threads, --quiet, --help, and opening the
 * context, model and cohort. Invariant: a usage error never opens anything. */
#include "cli.h"

#include <string.h>

void cli_model_opts_init(cli_model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->unseen = STRATA_UNSEEN_ERROR;
}

int cli_model_opt(cli_model_opts *o, int argc, char **argv, int *i, const char *cmd,
                  const char *usage)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        printf("usage: %s\n", usage);
        return CLI_OPT_HELP;
    } else if (!strcmp(a, "--unseen-to-reference")) {
        o->unseen = STRATA_UNSEEN_TO_REFERENCE;
    } else if (!strcmp(a, "--quiet")) {
        o->co.quiet = 1;
    } else if (!strcmp(a, "--out") && *i + 1 < argc) {
        o->out = argv[++*i];
    } else if (!strcmp(a, "--threads") && *i + 1 < argc) {
        long t;
        if (cli_parse_long(argv[++*i], 0, 1024, &t)) {
            cli_usage_error(cmd, usage, "--threads: '%s' is not 0..1024", argv[*i]);
            return CLI_OPT_ERROR;
        }
        o->co.threads = (int)t;
    } else if (a[0] != '-' && !o->model) {
        o->model = a;
    } else if (a[0] != '-' && !o->cohort) {
        o->cohort = a;
    } else {
        return CLI_OPT_NOT_MINE;
    }
    return CLI_OPT_TAKEN;
}

int cli_model_open(const cli_model_opts *o, const char *cmd, const char *usage, strata_ctx **ctx,
                   strata_model **m, strata_cohort **c)
{
    strata_status st;
    *ctx = NULL;
    *m = NULL;
    *c = NULL;
    if (!o->model || !o->cohort || !o->out)
        return cli_usage_error(cmd, usage, "MODEL, COHORT and --out are required");
    if (!(*ctx = cli_ctx_new(&o->co)))
        return 3;
    if ((st = strata_model_load(*ctx, o->model, m)) != STRATA_OK ||
        (st = strata_cohort_open(*ctx, o->cohort, c)) != STRATA_OK)
        return cli_fail(*ctx, cmd, st);
    return 0;
}

void cli_model_close(strata_ctx *ctx, strata_model *m, strata_cohort *c)
{
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}
