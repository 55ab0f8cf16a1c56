/* engine/cli/cmd_export.c — `strata export COHORT --out FILE.csv`: writes a
 * cohort's /patients and /outcomes columns (or the --columns chosen) as CSV
 * through strata_csv_export; the file appears atomically with mode 0600. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char export_usage[] =
    "strata export COHORT.h5 --out FILE.csv|- [--columns a,b,c] [--na TEXT] [--delim C]";

static void export_help(void)
{
    printf("usage: %s\n\n"
           "Writes a cohort back to CSV (RFC 4180: fields quoted only when they hold the\n"
           "delimiter, a quote, a line end or edge spaces). Categoricals are written as their\n"
           "level labels, floats in the shortest form that reads back to the same double\n"
           "(so import -> export -> import is exact), missing values as --na.\n\n"
           "  --out FILE      CSV to create (atomically, mode 0600), or - for stdout\n"
           "  --columns LIST  comma-separated column names (or group/name), in this order;\n"
           "                  default: every /patients column, then every /outcomes column\n"
           "  --na TEXT       text for a missing value (default: empty field; e.g. NA)\n"
           "  --delim C       field separator (default ','; 'tab' for TAB)\n\n"
           "Exit codes: 0 ok, 2 usage, 3 memory, 4 I/O, 5 not a cohort, 7 unknown column.\n",
           export_usage);
}

/* Splits a comma list in place into *names (malloc'd array). */
static int split_list(char *s, char ***names, size_t *n)
{
    size_t k = 1;
    for (const char *p = s; *p; p++)
        k += *p == ',';
    if (!(*names = calloc(k, sizeof **names)))
        return -1;
    *n = 0;
    for (char *tok = s;; tok++) {
        char *e = strchr(tok, ',');
        if (e)
            *e = 0;
        if (*tok)
            (*names)[(*n)++] = tok;
        if (!e)
            break;
        tok = e;
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    strata_csv_export_params p;
    cli_common co;
    const char *in = NULL, *out = NULL;
    char *cols = NULL, **names = NULL;
    size_t n_names = 0;
    strata_ctx *ctx;
    strata_status s;
    int rc = 0;
    memset(&co, 0, sizeof co);
    strata_csv_export_params_init(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            export_help();
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            co.quiet = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-' && !v)
            return cli_usage_error("export", export_usage, "%s needs a value", a);
        if (!strcmp(a, "--out"))
            out = argv[++i];
        else if (!strcmp(a, "--columns"))
            cols = argv[++i];
        else if (!strcmp(a, "--na"))
            p.na = argv[++i];
        else if (!strcmp(a, "--delim")) {
            i++;
            if (!strcmp(v, "tab"))
                p.delim = '\t';
            else if (strlen(v) == 1)
                p.delim = v[0];
            else
                return cli_usage_error("export", export_usage, "--delim takes one character");
        } else if (a[0] == '-' && a[1] == '-')
            return cli_usage_error("export", export_usage, "unknown option %s", a);
        else if (!in)
            in = a;
        else
            return cli_usage_error("export", export_usage, "unexpected argument '%s'", a);
    }
    if (!in || !out)
        return cli_usage_error("export", export_usage, "need a cohort file and --out FILE.csv");
    if (cols) {
        if (split_list(cols, &names, &n_names) || n_names == 0) {
            free(names);
            return cli_usage_error("export", export_usage, "bad --columns list");
        }
        p.columns = (const char *const *)names;
        p.n_columns = n_names;
    }
    if (!(ctx = cli_ctx_new(&co))) {
        free(names);
        return STRATA_ENOMEM;
    }
    s = strata_csv_export(ctx, in, out, &p);
    if (s != STRATA_OK)
        rc = cli_fail(ctx, "export", s);
    strata_ctx_free(ctx);
    free(names);
    return rc;
}
