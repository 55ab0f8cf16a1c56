/* engine/cli/cli_json.c — the `--json` summaries a pipeline parses (run, fit,
 * evaluate, validate, import): one JSON document on stdout, written as it
 * goes (the CLI does not link jansson: the library's JSON stays in
 * engine/io). Strings are escaped per RFC 8259; a non-finite number is null. */
#include "cli.h"

#include <math.h>
#include <string.h>

static void sep(cli_json *j, const char *key)
{
    if (j->depth > 0 && j->n[j->depth - 1]++)
        fputc(',', j->f);
    if (key) {
        cli_json_string(j->f, key);
        fputc(':', j->f);
    }
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void cli_json_begin(cli_json *j, FILE *f, const char *command)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    cli_json_open(j, NULL, '{');
    cli_json_str(j, "command", command);
}

int cli_json_end(cli_json *j)
{
    while (j->depth > 0)
        cli_json_close(j);
    fputc('\n', j->f);
    return fflush(j->f) == 0 ? 0 : -1;
}

void cli_json_open(cli_json *j, const char *key, char bracket)
{
    sep(j, key);
    fputc(bracket, j->f);
    if (j->depth < CLI_JSON_DEPTH) {
        j->close[j->depth] = bracket == '{' ? '}' : ']';
        j->n[j->depth++] = 0;
    }
}

void cli_json_close(cli_json *j)
{
    if (j->depth > 0)
        fputc(j->close[--j->depth], j->f);
}

void cli_json_str(cli_json *j, const char *key, const char *s)
{
    sep(j, key);
    if (s)
        cli_json_string(j->f, s);
    else
        fputs("null", j->f);
}

void cli_json_num(cli_json *j, const char *key, double v)
{
    sep(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.17g", v);
    else
        fputs("null", j->f);
}

void cli_json_int(cli_json *j, const char *key, long long v)
{
    sep(j, key);
    fprintf(j->f, "%lld", v);
}

void cli_json_bool(cli_json *j, const char *key, int v)
{
    sep(j, key);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_raw(cli_json *j, const char *key, const char *text)
{
    sep(j, key);
    if (text)
        fputs(text, j->f);
}

int cli_json_fail(const char *command, strata_ctx *ctx, strata_status s, int code)
{
    cli_json j;
    cli_json_begin(&j, stdout, command);
    cli_json_str(&j, "status", "error");
    cli_json_int(&j, "exit", code);
    cli_json_str(&j, "error_code", strata_status_str(s));
    cli_json_str(&j, "error", ctx ? strata_ctx_errmsg(ctx) : "");
    cli_json_end(&j);
    return code;
}

void cli_json_nums(cli_json *j, const char *const *keys, const double *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        cli_json_num(j, keys[k], v[k]);
}

void cli_json_coef(cli_json *j, const char *term, int aliased, const char *const *keys,
                   const double *v, size_t n)
{
    cli_json_open(j, NULL, '{');
    cli_json_str(j, "term", term);
    cli_json_bool(j, "aliased", aliased);
    cli_json_nums(j, keys, v, n);
    cli_json_close(j);
}

void cli_json_model(cli_json *j, const strata_model *m)
{
    static const char *const fit[] = {"deviance", "null_deviance", "df_residual",
                                      "df_null",  "aic",           "dispersion"};
    static const char *const coef[] = {"estimate", "std_error", "statistic",
                                       "p_value",  "conf_low",  "conf_high"};
    strata_fit_summary s;
    strata_model_summary(m, &s);
    cli_json_str(j, "family", strata_family_name(s.family));
    cli_json_str(j, "formula", s.formula);
    cli_json_int(j, "n_used", (long long)s.n_used);
    cli_json_int(j, "n_dropped", (long long)s.n_dropped);
    cli_json_int(j, "iterations", s.iterations);
    cli_json_bool(j, "converged", s.converged);
    cli_json_nums(j, fit,
                  (const double[]){s.deviance, s.null_deviance, s.df_residual, s.df_null, s.aic,
                                   s.dispersion},
                  6);
    cli_json_open(j, "coefficients", '[');
    for (size_t k = 0; k < strata_model_nterms(m); k++) {
        strata_coef c;
        strata_model_coef(m, k, &c);
        cli_json_coef(j, strata_model_term(m, k), c.aliased, coef,
                      (const double[]){c.estimate, c.std_error, c.statistic, c.p_value,
                                       c.conf_low, c.conf_high},
                      6);
    }
    cli_json_close(j);
}
