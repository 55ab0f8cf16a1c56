/* engine/cli/cmd_coef.c — `strata coef MODEL [--csv]`: the coefficient table of a
 * model file. CSV: header term,estimate,std_error,statistic,p_value,conf_low,conf_high,
 * numbers as %.17g (lossless), aliased terms as NA. Text: the same plus exp(estimate)
 * (odds ratio for binomial, rate/mean ratio for log links) and the fit summary.
 * --path (an elastic-net model, docs/elnet.md): the whole path, long, as CSV
 * lambda,term,estimate (every step, every term, intercept first). */
#include "cli.h"
#include "cli_elnet.h"

#include <math.h>
#include <string.h>

static const char *USAGE = "strata coef MODEL [--csv] [--path]";

static void g17(char *buf, size_t n, double v)
{
    if (v != v)
        snprintf(buf, n, "NA");
    else
        snprintf(buf, n, "%.17g", v);
}

/* A term name as a CSV field (quoted when it holds a comma or quote, RFC 4180). */
static void put_term(const char *t)
{
    if (!strpbrk(t, ",\"")) {
        fputs(t, stdout);
        return;
    }
    putchar('"');
    for (; *t; t++) {
        if (*t == '"')
            putchar('"');
        putchar(*t);
    }
    putchar('"');
}

/* --path: lambda,term,estimate for every step of an elastic-net model. */
static int print_path(strata_ctx *ctx, const char *file, const strata_model *m)
{
    strata_elnet *e = NULL;
    strata_status st = strata_elnet_load(ctx, file, m, &e);
    if (st != STRATA_OK)
        return cli_fail(ctx, "coef", st);
    if (!e) {
        fprintf(stderr, "strata coef: error: %s: not an elastic-net model (no path); fit with --alpha\n", file);
        return CLI_EXIT_USAGE;
    }
    size_t p = strata_model_nterms(m);
    printf("lambda,term,estimate\n");
    for (size_t k = 0; k < strata_elnet_nsteps(e); k++)
        for (size_t j = 0; j < p; j++) {
            printf("%.17g,", strata_elnet_lambda(e, k));
            put_term(strata_model_term(m, j));
            printf(",%.17g\n", strata_elnet_coef(e, k, j));
        }
    strata_elnet_free(ctx, e);
    return 0;
}

int cmd_coef(int argc, char **argv)
{
    const char *path = NULL;
    int csv = 0, want_path = 0, rc = 0;
    strata_ctx *ctx;
    strata_model *m = NULL;
    strata_status st;
    cli_common co = {1, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else if (!strcmp(argv[i], "--path"))
            want_path = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n", USAGE);
            return 0;
        } else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return cli_usage_error("coef", USAGE, "unexpected argument '%s'", argv[i]);
    }
    if (!path)
        return cli_usage_error("coef", USAGE, "missing MODEL");
    if (!(ctx = cli_ctx_new(&co)))
        return 3;
    if (strata_cox_is_model_file(path)) { /* hazard ratios: engine/cli/cli_cox.c */
        rc = want_path ? cli_coef_cox_path(ctx, path) : cli_coef_cox(ctx, path, csv);
        strata_ctx_free(ctx);
        return rc;
    }
    if ((st = strata_model_load(ctx, path, &m)) != STRATA_OK) {
        rc = cli_fail(ctx, "coef", st);
        strata_ctx_free(ctx);
        return rc;
    }
    { /* an elastic-net path or CV curve that fails its checks is an error, not a plain GLM */
        strata_elnet *e = NULL;
        if ((st = strata_elnet_load(ctx, path, m, &e)) != STRATA_OK) {
            rc = cli_fail(ctx, "coef", st);
            strata_model_free(ctx, m);
            strata_ctx_free(ctx);
            return rc;
        }
        strata_elnet_free(ctx, e);
    }
    if (want_path) {
        rc = print_path(ctx, path, m);
        strata_model_free(ctx, m);
        strata_ctx_free(ctx);
        return rc;
    }
    {
        strata_fit_summary s;
        size_t p = strata_model_nterms(m);
        strata_model_summary(m, &s);
        if (csv) {
            printf("term,estimate,std_error,statistic,p_value,conf_low,conf_high\n");
            for (size_t j = 0; j < p; j++) {
                strata_coef c;
                char b[6][40];
                const char *t = strata_model_term(m, j);
                strata_model_coef(m, j, &c);
                g17(b[0], 40, c.estimate), g17(b[1], 40, c.std_error), g17(b[2], 40, c.statistic);
                g17(b[3], 40, c.p_value), g17(b[4], 40, c.conf_low), g17(b[5], 40, c.conf_high);
                put_term(t);
                printf(",%s,%s,%s,%s,%s,%s\n", b[0], b[1], b[2], b[3], b[4], b[5]);
            }
        } else {
            const char *ratio = s.family == STRATA_FAMILY_BINOMIAL ? "odds ratio"
                                : s.family == STRATA_FAMILY_GAUSSIAN ? NULL
                                                                      : "ratio";
            strata_elnet *e = NULL;
            if (strata_elnet_load(ctx, path, m, &e) == STRATA_OK && e) {
                size_t k = strata_elnet_selected(e);
                printf("%s elastic net (alpha %g, lambda %.6g: step %zu of %zu, %d non-zero terms; "
                       "no standard errors after selection): %s\n\n",
                       strata_family_name(s.family), strata_elnet_alpha(e), strata_elnet_lambda(e, k), k + 1,
                       strata_elnet_nsteps(e), strata_elnet_df(e, k), s.formula);
                strata_elnet_free(ctx, e);
            } else {
                printf("%s GLM: %s\n\n", strata_family_name(s.family), s.formula);
            }
            printf("%-40s %14s %12s %10s %12s %12s %12s", "term", "estimate", "std.error",
                   s.t_statistic ? "t" : "z", "p", "2.5%", "97.5%");
            if (ratio)
                printf(" %12s", ratio);
            printf("\n");
            for (size_t j = 0; j < p; j++) {
                strata_coef c;
                strata_model_coef(m, j, &c);
                if (c.aliased) {
                    printf("%-40s %14s  (aliased: not estimable)\n", strata_model_term(m, j), "NA");
                    continue;
                }
                printf("%-40s %14.6g %12.4g %10.4f %12.4g %12.6g %12.6g", strata_model_term(m, j),
                       c.estimate, c.std_error, c.statistic, c.p_value, c.conf_low, c.conf_high);
                if (ratio)
                    printf(" %12.6g", exp(c.estimate));
                printf("\n");
            }
            printf("\nn used %zu (dropped %zu); deviance %.6f on %.0f df; null deviance %.6f on %.0f df\n"
                   "AIC %.6f; dispersion %.6g; %d iterations (%s)\n",
                   s.n_used, s.n_dropped, s.deviance, s.df_residual, s.null_deviance, s.df_null, s.aic,
                   s.dispersion, s.iterations, s.converged ? "converged" : "NOT converged");
        }
    }
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
    return 0;
}
