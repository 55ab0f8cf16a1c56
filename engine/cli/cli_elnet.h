/* engine/cli/cli_elnet.h — the elastic-net options of `strata fit` (--alpha,
 * --nlambda, --lambda-min-ratio, --lambda, --penalty-factor, --cv, --select,
 * --seed, --thresh) and the penalised fit they ask for (engine/cli/cli_elnet.c).
 * Invariant: without any of them `strata fit` is the plain GLM. */
#ifndef STRATA_CLI_ELNET_H
#define STRATA_CLI_ELNET_H

#include "cli.h"

#define CLI_ELNET_MAX 1024 /* --lambda values and --penalty-factor terms */

typedef struct cli_elnet_opts {
    int active;                       /* 1 once any elastic-net option is given */
    strata_elnet_params ep;
    double lambda[CLI_ELNET_MAX];
    const char *pf_term[CLI_ELNET_MAX];
    double pf_value[CLI_ELNET_MAX];
    char *pf_buf[CLI_ELNET_MAX];      /* owned copies of "term" */
} cli_elnet_opts;

#define CLI_ELNET_USAGE                                                                     \
    "       [--alpha A [--nlambda N] [--lambda-min-ratio R] [--lambda L1,L2,...]\n"         \
    "        [--penalty-factor TERM=W ...] [--cv K [--select min|1se] [--seed S]] [--thresh T]]\n"

void cli_elnet_init(cli_elnet_opts *o);
void cli_elnet_free(cli_elnet_opts *o);
/* Takes argv[*i] (and its value) when it is an elastic-net option:
 * CLI_OPT_TAKEN, CLI_OPT_NOT_MINE, or CLI_OPT_ERROR after a usage message. */
int cli_elnet_opt(cli_elnet_opts *o, int argc, char **argv, int *i, const char *usage);
/* Fits the path (and CV), writes the model file with its /elnet group and
 * prints a summary unless quiet; returns the exit code. */
int cli_elnet_fit(strata_ctx *ctx, strata_cohort *c, const strata_glm_params *gp, cli_elnet_opts *o,
                  const char *out, int quiet, int json); /* json: the --json summary */
/* The "elastic_net" object of --json, and the "selected lambda ..." summary line. */
void cli_elnet_json(cli_json *j, const strata_elnet *e, const cli_elnet_opts *o);
void cli_elnet_print_selected(const strata_elnet *e, const cli_elnet_opts *o);
/* --family cox with --alpha (engine/cli/cli_elnet_cox.c): the penalised Cox fit and its model file. */
int cli_elnet_cox_fit(strata_ctx *ctx, const cli_common *co, const char *cohort_path, const strata_cox_params *p,
                      cli_elnet_opts *o, const char *out, int json);
/* `strata coef COXMODEL --path`: lambda,term,estimate of a penalised Cox model's path. */
int cli_coef_cox_path(strata_ctx *ctx, const char *path);

#endif
