/* engine/cli/cli_elnet_cox.c — penalised Cox in the CLI: `strata fit --family cox
 * --formula "Surv(t, e) ~ ..." --alpha A [...]` (docs/elnet.md#cox) writes an
 * ordinary Cox model file at the selected lambda with the /elnet path and CV
 * curve, and `strata coef MODEL --path` prints that path. On include/strata only.
 * Invariant: the elastic-net options mean what they mean for the GLM families. */
#include "cli_elnet.h"

#include <string.h>

static void print_json(const strata_cox *m, const strata_elnet *e, const cli_elnet_opts *o, const char *cohort,
                       const char *out)
{
    strata_cox_summary s;
    cli_json j;
    strata_cox_summary_get(m, &s);
    cli_json_begin(&j, stdout, "fit");
    cli_json_str(&j, "status", "ok");
    cli_json_int(&j, "exit", 0);
    cli_json_str(&j, "cohort", cohort);
    cli_json_str(&j, "model", out);
    cli_json_str(&j, "family", "cox");
    cli_json_str(&j, "formula", s.formula);
    cli_json_str(&j, "ties", "breslow");
    cli_elnet_json(&j, e, o);
    cli_json_int(&j, "n_used", (long long)s.n_used);
    cli_json_int(&j, "n_events", (long long)s.n_events);
    cli_json_num(&j, "loglik", s.loglik);
    cli_json_num(&j, "loglik_null", s.loglik_null);
    cli_json_num(&j, "concordance", s.concordance);
    cli_json_open(&j, "coefficients", '[');
    for (size_t t = 0; t < strata_cox_nterms(m); t++) {
        strata_cox_coef c;
        strata_cox_coef_row(m, t, 0.95, &c);
        cli_json_open(&j, NULL, '{');
        cli_json_str(&j, "term", strata_cox_term(m, t));
        cli_json_num(&j, "estimate", c.estimate);
        cli_json_num(&j, "hazard_ratio", c.hr);
        cli_json_close(&j);
    }
    cli_json_end(&j);
}

int cli_elnet_cox_fit(strata_ctx *ctx, const cli_common *co, const char *cohort_path, const strata_cox_params *p,
                      cli_elnet_opts *o, const char *out, int json)
{
    strata_cohort *c = NULL;
    strata_cox *m = NULL;
    strata_elnet *e = NULL;
    strata_status st = strata_cohort_open(ctx, cohort_path, &c);
    if (st == STRATA_OK)
        st = strata_elnet_cox_fit(ctx, c, p, &o->ep, &m, &e);
    strata_cohort_close(c);
    if (st == STRATA_OK)
        st = strata_elnet_cox_save(ctx, m, e, out);
    if (st != STRATA_OK) {
        int rc = cli_fail(ctx, "fit", st);
        if (json)
            cli_json_fail("fit", ctx, st, rc);
        strata_elnet_free(ctx, e);
        strata_cox_free(ctx, m);
        return rc;
    }
    if (json)
        print_json(m, e, o, cohort_path, out);
    else if (!co->quiet) {
        strata_cox_summary s;
        strata_cox_summary_get(m, &s);
        printf("Cox elastic net (alpha %g, Breslow ties): %s\nn used %zu, dropped %zu (missing values); %zu events; "
               "%zu lambdas\n",
               strata_elnet_alpha(e), s.formula, s.n_used, s.n_dropped, s.n_events, strata_elnet_nsteps(e));
        cli_elnet_print_selected(e, o);
        printf("\nlog partial likelihood %.6f (null %.6f); concordance (Harrell) %.4f\nmodel written to %s\n", s.loglik,
               s.loglik_null, s.concordance, out);
    }
    strata_elnet_free(ctx, e);
    strata_cox_free(ctx, m);
    return 0;
}

int cli_coef_cox_path(strata_ctx *ctx, const char *path)
{
    strata_cox *m = NULL;
    strata_elnet *e = NULL;
    strata_status st = strata_cox_load(ctx, path, &m);
    if (st == STRATA_OK)
        st = strata_elnet_cox_load(ctx, path, m, &e);
    if (st != STRATA_OK) {
        strata_cox_free(ctx, m);
        return cli_fail(ctx, "coef", st);
    }
    if (!e) {
        fprintf(stderr, "strata coef: error: %s: not an elastic-net model (no path); fit with --alpha\n", path);
        strata_cox_free(ctx, m);
        return CLI_EXIT_USAGE;
    }
    printf("lambda,term,estimate\n"); /* no intercept in a Cox model */
    for (size_t k = 0; k < strata_elnet_nsteps(e); k++)
        for (size_t j = 0; j < strata_cox_nterms(m); j++)
            printf("%.17g,\"%s\",%.17g\n", strata_elnet_lambda(e, k), strata_cox_term(m, j),
                   strata_elnet_coef(e, k, j + 1));
    strata_elnet_free(ctx, e);
    strata_cox_free(ctx, m);
    return 0;
}
