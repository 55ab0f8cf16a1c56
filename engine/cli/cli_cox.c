/* engine/cli/cli_cox.c — the Cox model in the CLI: `fit --family cox` (--ties,
 * --robust), `coef` (hazard ratios with 95% CIs), `score --horizon H[,H]` and
 * `evaluate --horizon H`, called from the cmd_*.c files, on include/strata only.
 * Invariant: the GLM paths' exit codes (a non-converged fit is written, exit 8). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void print_summary(const strata_cox *m, const char *out)
{
    strata_cox_summary s;
    strata_cox_summary_get(m, &s);
    printf("Cox PH (%s ties): %s\nn used %zu, dropped %zu (missing values); %zu events; %zu strat%s; "
           "%d iterations, %s\nlog partial likelihood %.6f (null %.6f); LR test %.4f, Wald %.4f, score %.4f "
           "on %d df; concordance (Harrell) %.4f%s\n",
           s.ties == STRATA_COX_BRESLOW ? "Breslow" : "Efron", s.formula, s.n_used, s.n_dropped, s.n_events,
           s.n_strata, s.n_strata == 1 ? "um" : "a", s.iterations, s.converged ? "converged" : "NOT converged",
           s.loglik, s.loglik_null, s.lr_test, s.wald_test, s.score_test, s.df, s.concordance,
           s.robust ? "; robust (sandwich) standard errors" : "");
    if (out)
        printf("model written to %s\n", out);
}

/* --json: the Cox fit's summary and hazard ratios (status "not_converged" with
 * exit 8 for a partial fit, as the GLM's). */
static void print_json(const strata_cox *m, const char *cohort, const char *out, int rc)
{
    static const char *const tests[] = {"loglik", "loglik_null", "lr_test", "wald_test",
                                        "score_test"};
    static const char *const coef[] = {"estimate",     "std_error",   "statistic",   "p_value",
                                       "hazard_ratio", "hr_conf_low", "hr_conf_high"};
    strata_cox_summary s;
    cli_json j;
    strata_cox_summary_get(m, &s);
    cli_json_begin(&j, stdout, "fit");
    cli_json_str(&j, "status", rc == 0 ? "ok" : "not_converged");
    cli_json_int(&j, "exit", rc);
    cli_json_str(&j, "cohort", cohort);
    cli_json_str(&j, "model", out);
    cli_json_str(&j, "family", "cox");
    cli_json_str(&j, "formula", s.formula);
    cli_json_str(&j, "ties", s.ties == STRATA_COX_BRESLOW ? "breslow" : "efron");
    cli_json_int(&j, "n_used", (long long)s.n_used);
    cli_json_int(&j, "n_dropped", (long long)s.n_dropped);
    cli_json_int(&j, "n_events", (long long)s.n_events);
    cli_json_int(&j, "n_strata", (long long)s.n_strata);
    cli_json_int(&j, "iterations", s.iterations);
    cli_json_bool(&j, "converged", s.converged);
    cli_json_bool(&j, "robust", s.robust);
    cli_json_nums(&j, tests,
                  (const double[]){s.loglik, s.loglik_null, s.lr_test, s.wald_test, s.score_test},
                  5);
    cli_json_int(&j, "df", s.df);
    cli_json_num(&j, "concordance", s.concordance);
    cli_json_open(&j, "coefficients", '[');
    for (size_t k = 0; k < strata_cox_nterms(m); k++) {
        strata_cox_coef c;
        strata_cox_coef_row(m, k, 0.95, &c);
        cli_json_coef(&j, strata_cox_term(m, k), c.aliased, coef,
                      (const double[]){c.estimate, c.std_error, c.z, c.p_value, c.hr, c.hr_low,
                                       c.hr_high},
                      7);
    }
    cli_json_end(&j);
}

int cli_fit_cox(strata_ctx *ctx, const cli_common *co, const char *cohort_path, const strata_cox_params *p,
                const char *out, int json)
{
    strata_cohort *c = NULL;
    strata_cox *m = NULL;
    strata_status st;
    int rc;
    if ((st = strata_cohort_open(ctx, cohort_path, &c)) != STRATA_OK)
        rc = cli_fail(ctx, "fit", st);
    else {
        st = strata_cox_fit(ctx, c, p, &m);
        strata_cohort_close(c);
        rc = m ? 0 : cli_fail(ctx, "fit", st);
    }
    if (!m)
        return json ? cli_json_fail("fit", ctx, strata_ctx_errcode(ctx), rc) : rc;
    rc = st == STRATA_OK ? 0 : (int)st;
    if (st != STRATA_OK && cli_rank() == 0)
        fprintf(stderr, "strata fit: error: %s (partial model written)\n", strata_ctx_errmsg(ctx));
    if (cli_rank() != 0) /* rank 0 writes the model (docs/scale.md#mpi) */
        ;
    else if ((st = strata_cox_save(ctx, m, out)) != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        if (json)
            cli_json_fail("fit", ctx, st, rc);
    } else if (json)
        print_json(m, cohort_path, out, rc);
    else if (!co->quiet)
        print_summary(m, out);
    strata_cox_free(ctx, m);
    return rc;
}

static void num(double v)
{
    if (v != v)
        printf(",NA");
    else
        printf(",%.17g", v);
}

int cli_coef_cox(strata_ctx *ctx, const char *path, int csv)
{
    strata_cox *m = NULL;
    strata_status st = strata_cox_load(ctx, path, &m);
    size_t p;
    if (st != STRATA_OK)
        return cli_fail(ctx, "coef", st);
    p = strata_cox_nterms(m);
    if (csv)
        printf("term,estimate,std_error,statistic,p_value,hazard_ratio,hr_conf_low,hr_conf_high\n");
    else
        printf("%-28s %12s %12s %9s %10s %10s %10s %10s\n", "term", "estimate", "std.error", "z", "p", "HR",
               "HR 2.5%", "HR 97.5%");
    for (size_t j = 0; j < p; j++) {
        strata_cox_coef c;
        strata_cox_coef_row(m, j, 0.95, &c);
        if (csv) {
            printf("%s", strata_cox_term(m, j));
            num(c.estimate), num(c.std_error), num(c.z), num(c.p_value), num(c.hr), num(c.hr_low), num(c.hr_high);
            printf("\n");
        } else
            printf("%-28s %12.6g %12.6g %9.3f %10.3g %10.5g %10.5g %10.5g\n", strata_cox_term(m, j), c.estimate,
                   c.std_error, c.z, c.p_value, c.hr, c.hr_low, c.hr_high);
    }
    if (!csv)
        print_summary(m, NULL);
    strata_cox_free(ctx, m);
    return 0;
}

/* "365" or "365,730": up to 16 positive horizons. */
int cli_parse_horizons(const char *s, double *h, size_t *nh)
{
    char *dup = strdup(s), *tok, *save = NULL;
    int rc = dup ? 0 : -1;
    *nh = 0;
    for (tok = dup ? strtok_r(dup, ",", &save) : NULL; tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (*nh >= 16 || cli_parse_double(tok, &v) || !(v > 0) || !isfinite(v))
            rc = -1;
        else
            h[(*nh)++] = v;
    }
    free(dup);
    return rc || *nh == 0 ? -1 : 0;
}

int cli_score_cox(const cli_model_opts *o, const double *h, size_t nh, size_t mem_limit)
{
    strata_ctx *ctx = cli_ctx_new(&o->co);
    strata_cox *m = NULL;
    strata_cohort *c = NULL;
    strata_status st;
    int rc = 0;
    if (!ctx)
        return 3;
    strata_ctx_set_memory_budget(ctx, mem_limit); /* chunks of whole blocks under it: same bytes */
    strata_mpi_attach(ctx); /* every rank scores its chunks; rank 0 writes (docs/scale.md#mpi) */
    if ((st = strata_cox_load(ctx, o->model, &m)) != STRATA_OK || (st = strata_cohort_open(ctx, o->cohort, &c)) != STRATA_OK)
        rc = cli_fail(ctx, "score", st);
    else if ((st = strata_cox_score_write(ctx, m, c, o->unseen, h, nh, o->out)) != STRATA_OK)
        rc = cli_fail(ctx, "score", st);
    else if (!o->co.quiet)
        printf("scored %zu rows (linear predictor, risk at %zu horizon%s) into %s\n", strata_cohort_nrows(c), nh,
               nh == 1 ? "" : "s", o->out);
    strata_cohort_close(c);
    strata_cox_free(ctx, m);
    strata_ctx_free(ctx);
    return rc;
}

/* A categorical cohort column as a by-column (codes read into *codes). */
static strata_status by_column(strata_ctx *ctx, strata_cohort *c, const char *name, strata_eval_by *b,
                               int32_t **codes)
{
    size_t j;
    const strata_column_info *info;
    strata_status st = strata_cohort_find(ctx, c, name, &j);
    if (st != STRATA_OK)
        return st;
    info = strata_cohort_column(c, j);
    if (!info->categorical)
        return STRATA_ESPEC;
    if (!(*codes = malloc((strata_cohort_nrows(c) + 1) * sizeof **codes)))
        return STRATA_ENOMEM;
    b->name = name;
    b->codes = *codes;
    b->n_levels = info->n_levels;
    b->levels = info->levels;
    return strata_cohort_read_i32(ctx, c, j, 0, strata_cohort_nrows(c), *codes);
}

/* time, event (as doubles) and the strata column's codes, if any. */
static strata_status outcome_columns(strata_ctx *ctx, strata_cox *m, strata_cohort *c, double *t, double *e,
                                     int32_t **st_codes)
{
    size_t jt, je, js, n = strata_cohort_nrows(c);
    strata_status st;
    if ((st = strata_cohort_find(ctx, c, strata_cox_time_column(m), &jt)) != STRATA_OK ||
        (st = strata_cohort_find(ctx, c, strata_cox_event_column(m), &je)) != STRATA_OK ||
        (st = strata_cohort_read_f64(ctx, c, jt, 0, n, t)) != STRATA_OK ||
        (st = strata_cohort_read_f64(ctx, c, je, 0, n, e)) != STRATA_OK)
        return st;
    if (!strata_cox_strata_column(m))
        return STRATA_OK;
    if ((st = strata_cohort_find(ctx, c, strata_cox_strata_column(m), &js)) != STRATA_OK)
        return st;
    if (!(*st_codes = malloc((n + 1) * sizeof **st_codes)))
        return STRATA_ENOMEM;
    return strata_cohort_read_i32(ctx, c, js, 0, n, *st_codes);
}

/* The command's columns (time, event, weight, lp and risk 40 bytes a row, the
 * strata and each by-column's codes 4) are held whole; the evaluation streams
 * in what is left of the budget, at least strata_surv_evaluate_bytes. Less is
 * refused (exit STRATA_ENOMEM) before anything is read. 0 when they fit; *left
 * the evaluation's budget (0: none). */
static int cox_eval_fits(const strata_cox *m, const char *cohort, size_t n, size_t n_by, size_t budget,
                         size_t *left)
{
    size_t row = 40 + 4 * (n_by + (strata_cox_strata_column(m) != NULL)), eval = strata_surv_evaluate_bytes(n);
    size_t cols = row * (n + 1);
    *left = budget > cols ? budget - cols : 0;
    if (!budget || cols + eval <= budget)
        return 0;
    if (cli_rank() == 0)
        fprintf(stderr,
                "strata evaluate: error: %s: a Cox model's evaluation holds the command's columns whole: %zu rows "
                "take %zu bytes of columns (%zu a row), and the evaluation, streamed, needs at least %zu more: "
                "over the memory budget of %zu bytes\n",
                cohort, n, cols, row, eval, budget);
    return (int)STRATA_ENOMEM;
}

int cli_evaluate_cox(const cli_model_opts *o, double horizon, const char *const *by, size_t n_by, int raw,
                     size_t mem_limit)
{
    strata_ctx *ctx = cli_ctx_new(&o->co);
    strata_cox *m = NULL;
    strata_cohort *c = NULL;
    strata_eval_by b[32];
    int32_t *codes[32] = {0}, *stc = NULL;
    double *t = NULL, *e = NULL, *lp = NULL, *risk = NULL, *w = NULL;
    strata_status st;
    size_t n = 0;
    int rc = 0;
    if (!ctx)
        return 3;
    if ((st = strata_cox_load(ctx, o->model, &m)) == STRATA_OK && (st = strata_cohort_open(ctx, o->cohort, &c)) == STRATA_OK) {
        size_t left = 0;
        n = strata_cohort_nrows(c);
        if ((rc = cox_eval_fits(m, o->cohort, n, n_by, mem_limit, &left)) != 0)
            st = STRATA_ENOMEM;
        strata_ctx_set_memory_budget(ctx, left);
    }
    if (st == STRATA_OK && c) {
        t = malloc((n + 1) * sizeof *t), e = malloc((n + 1) * sizeof *e), w = malloc((n + 1) * sizeof *w);
        lp = malloc((n + 1) * sizeof *lp), risk = malloc((n + 1) * sizeof *risk);
        st = t && e && w && lp && risk ? strata_cox_score(ctx, m, c, o->unseen, &horizon, 1, lp, risk) : STRATA_ENOMEM;
    }
    if (st == STRATA_OK)
        st = outcome_columns(ctx, m, c, t, e, &stc);
    for (size_t k = 0; st == STRATA_OK && k < n_by && k < 32; k++)
        if ((st = by_column(ctx, c, by[k], &b[k], &codes[k])) == STRATA_ESPEC)
            rc = cli_usage_error("evaluate", "strata evaluate COXMODEL COHORT --horizon H --out DIR [--by ...]",
                                 "--by: '%s' is not a categorical column", by[k]);
    if (st == STRATA_OK) {
        strata_surv_input in = {n, t, e, lp, risk, w, stc};
        strata_eval_params par;
        for (size_t i = 0; i < n; i++) /* rows without a score or an outcome take no part */
            w[i] = isnan(lp[i]) || isnan(risk[i]) || isnan(t[i]) || isnan(e[i]) || (stc && stc[i] < 0) ? 0 : 1;
        strata_eval_params_init(&par);
        par.disclosure = !raw;
        st = strata_surv_evaluate_write(ctx, &in, horizon, b, n_by, &par, o->out);
    }
    if (st != STRATA_OK && !rc)
        rc = cli_fail(ctx, "evaluate", st);
    else if (!rc && !o->co.quiet)
        printf("evaluated %zu rows (Cox model, risk by %g; %zu by-columns) into %s%s\n", n, horizon, n_by, o->out,
               raw ? " WITHOUT disclosure control" : "");
    for (size_t k = 0; k < 32; k++)
        free(codes[k]);
    free(stc), free(t), free(e), free(w), free(lp), free(risk);
    strata_cohort_close(c);
    strata_cox_free(ctx, m);
    strata_ctx_free(ctx);
    return rc;
}
