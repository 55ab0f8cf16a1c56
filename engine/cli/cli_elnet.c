/* engine/cli/cli_elnet.c — `strata fit ... --alpha A` (docs/elnet.md): parses
 * the elastic-net options, runs strata_elnet_fit and writes the model file
 * (the selected fit as an ordinary model, plus the path and CV curve).
 * Invariant: values are checked here before anything is opened; the library
 * checks them again against the data. */
#include "cli_elnet.h"

#include <stdlib.h>
#include <string.h>

void cli_elnet_init(cli_elnet_opts *o)
{
    memset(o, 0, sizeof *o);
    strata_elnet_params_init(&o->ep);
}

void cli_elnet_free(cli_elnet_opts *o)
{
    for (size_t k = 0; k < o->ep.n_penalty; k++)
        free(o->pf_buf[k]);
    o->ep.n_penalty = 0;
}

/* "L1,L2,..." into o->lambda; 0 on success. */
static int parse_lambdas(cli_elnet_opts *o, const char *s)
{
    size_t n = 0;
    while (*s && n < CLI_ELNET_MAX) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v >= 0) || (*end && *end != ','))
            return -1;
        o->lambda[n++] = v;
        s = *end ? end + 1 : end;
    }
    o->ep.lambda = o->lambda;
    o->ep.n_lambda = n;
    return n ? 0 : -1;
}

static int parse_penalty(cli_elnet_opts *o, const char *s)
{
    const char *eq = strrchr(s, '=');
    double v;
    size_t k = o->ep.n_penalty;
    if (!eq || eq == s || k == CLI_ELNET_MAX || cli_parse_double(eq + 1, &v) || !(v >= 0))
        return -1;
    if (!(o->pf_buf[k] = malloc((size_t)(eq - s) + 1)))
        return -1;
    memcpy(o->pf_buf[k], s, (size_t)(eq - s));
    o->pf_buf[k][eq - s] = 0;
    o->pf_term[k] = o->pf_buf[k];
    o->pf_value[k] = v;
    o->ep.penalty_term = o->pf_term;
    o->ep.penalty_value = o->pf_value;
    o->ep.n_penalty = k + 1;
    return 0;
}

int cli_elnet_opt(cli_elnet_opts *o, int argc, char **argv, int *i, const char *usage)
{
    static const char *const names[] = {"--alpha", "--nlambda", "--lambda-min-ratio", "--lambda",
                                        "--penalty-factor", "--cv", "--select", "--seed", "--thresh"};
    const char *a = argv[*i], *v;
    size_t k = 0;
    long l;
    while (k < sizeof names / sizeof *names && strcmp(a, names[k]))
        k++;
    if (k == sizeof names / sizeof *names)
        return CLI_OPT_NOT_MINE;
    if (*i + 1 >= argc) {
        cli_usage_error("fit", usage, "option %s needs a value", a);
        return CLI_OPT_ERROR;
    }
    v = argv[++*i];
    int bad = 0;
    switch (k) {
    case 0: bad = cli_parse_double(v, &o->ep.alpha) || !(o->ep.alpha >= 0 && o->ep.alpha <= 1); break;
    case 1: bad = cli_parse_long(v, 1, 100000, &l); o->ep.nlambda = (size_t)l; break;
    case 2: bad = cli_parse_double(v, &o->ep.lambda_min_ratio) || !(o->ep.lambda_min_ratio > 0 && o->ep.lambda_min_ratio < 1); break;
    case 3: bad = parse_lambdas(o, v); break;
    case 4: bad = parse_penalty(o, v); break;
    case 5: bad = cli_parse_long(v, 3, 1000, &l); o->ep.cv_folds = (size_t)l; break;
    case 6: bad = strcmp(v, "min") && strcmp(v, "1se"); o->ep.select_min = !strcmp(v, "min"); break;
    case 7: bad = cli_parse_long(v, 0, 2147483647L, &l); o->ep.seed = (unsigned long long)l; break;
    default: bad = cli_parse_double(v, &o->ep.thresh) || !(o->ep.thresh > 0 && o->ep.thresh < 1); break;
    }
    if (bad) {
        cli_usage_error("fit", usage, "%s: bad value '%s'", a, v);
        return CLI_OPT_ERROR;
    }
    o->active = 1;
    return CLI_OPT_TAKEN;
}

void cli_elnet_json(cli_json *j, const strata_elnet *e, const cli_elnet_opts *o)
{
    size_t k = strata_elnet_selected(e);
    cli_json_open(j, "elastic_net", '{');
    cli_json_num(j, "alpha", strata_elnet_alpha(e));
    cli_json_int(j, "n_lambda", (long long)strata_elnet_nsteps(e));
    cli_json_int(j, "selected_step", (long long)k + 1);
    cli_json_num(j, "lambda", strata_elnet_lambda(e, k));
    cli_json_str(j, "selection", strata_elnet_cv_steps(e) ? (o->ep.select_min ? "cv_min" : "cv_1se") : "last");
    cli_json_int(j, "nonzero", strata_elnet_df(e, k));
    cli_json_num(j, "dev_ratio", strata_elnet_dev_ratio(e, k));
    if (strata_elnet_cv_steps(e)) {
        cli_json_str(j, "cv_measure", strata_elnet_cv_measure(e));
        cli_json_num(j, "cv_mean", strata_elnet_cv_mean(e, k));
        cli_json_num(j, "cv_sd", strata_elnet_cv_sd(e, k));
    }
    cli_json_close(j);
}

void cli_elnet_print_selected(const strata_elnet *e, const cli_elnet_opts *o)
{
    size_t k = strata_elnet_selected(e);
    printf("selected lambda %.6g (step %zu, %s): %d non-zero terms, deviance ratio %.6f", strata_elnet_lambda(e, k),
           k + 1, strata_elnet_cv_steps(e) ? (o->ep.select_min ? "CV lambda.min" : "CV lambda.1se") : "last lambda",
           strata_elnet_df(e, k), strata_elnet_dev_ratio(e, k));
    if (strata_elnet_cv_steps(e))
        printf("; CV %s %.6g (se %.3g)", strata_elnet_cv_measure(e), strata_elnet_cv_mean(e, k),
               strata_elnet_cv_sd(e, k));
}

/* --json: the path's selection, then the selected fit as the GLM's. */
static void print_json(const strata_model *m, const strata_elnet *e, const cli_elnet_opts *o,
                       const char *cohort, const char *out)
{
    cli_json j;
    cli_json_begin(&j, stdout, "fit");
    cli_json_str(&j, "status", "ok");
    cli_json_int(&j, "exit", 0);
    cli_json_str(&j, "cohort", cohort);
    cli_json_str(&j, "model", out);
    cli_elnet_json(&j, e, o);
    cli_json_model(&j, m);
    cli_json_end(&j);
}

int cli_elnet_fit(strata_ctx *ctx, strata_cohort *c, const strata_glm_params *gp, cli_elnet_opts *o,
                  const char *out, int quiet, int json)
{
    strata_model *m = NULL;
    strata_elnet *e = NULL;
    strata_status st = strata_elnet_fit(ctx, c, gp, &o->ep, &m, &e);
    if (st == STRATA_OK && cli_rank() != 0) { /* across MPI ranks: rank 0 writes and prints */
        strata_elnet_free(ctx, e);
        strata_model_free(ctx, m);
        return 0;
    }
    if (st == STRATA_OK)
        st = strata_elnet_save(ctx, m, e, out);
    if (st != STRATA_OK) {
        int rc = cli_fail(ctx, "fit", st);
        strata_elnet_free(ctx, e);
        strata_model_free(ctx, m);
        return rc;
    }
    if (json)
        print_json(m, e, o, strata_cohort_path(c), out);
    else if (!quiet) {
        strata_fit_summary s;
        strata_model_summary(m, &s);
        printf("%s elastic net (alpha %g): %s\nn used %zu, dropped %zu (missing values); %zu lambdas\n",
               strata_family_name(s.family), strata_elnet_alpha(e), s.formula, s.n_used, s.n_dropped,
               strata_elnet_nsteps(e));
        cli_elnet_print_selected(e, o);
        printf("\nmodel written to %s\n", out);
    }
    strata_elnet_free(ctx, e);
    strata_model_free(ctx, m);
    return 0;
}
