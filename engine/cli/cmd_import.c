/* engine/cli/cmd_import.c — `strata import CSV --out COHORT.h5 [options]`:
 * options (and an optional YAML mapping file, read first so that options
 * override it) become a strata_csv_mapping; strata_csv_import does the rest,
 * or strata_csv_inspect under --dry-run (a table of columns, nothing written).
 * Exit codes are the strata_status of the failing call (docs/import.md). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char import_usage[] =
    "strata import CSV --out COHORT.h5 [--type COL=int|float|cat|num|date]... [--role ROLE=COL]...\n"
    "       [--outcome COL[,COL...]] [--recode COL=FROM:TO[,FROM:TO...]]... [--map MAPPING.yaml]\n"
    "       [--na TOKENS] [--date-format ISO|DD/MM/YYYY|YYYYMMDD] [--skip-bad-rows] [--dry-run]"
    "\n"
    "       [--delim C] [--encoding utf-8|latin1|windows-1252] [--source TEXT] [--extract-date YYYY-MM-DD] [--threads N] [--quiet]\n"
    "       [--json]";

static void import_help(void)
{
    /* the role names the parser accepts (strata_role_name), wrapped */
    char roles[512] = "";
    size_t len = 0, col = 37;
    for (int r = 1; r < STRATA_ROLE_COUNT_; r++) {
        const char *name = strata_role_name((strata_role)r);
        size_t w = strlen(name) + 2;
        int k;
        if (col + w > 80) {
            k = snprintf(roles + len, sizeof roles - len, "\n                      ");
            len += k > 0 ? (size_t)k : 0;
            col = 22;
        }
        k = snprintf(roles + len, sizeof roles - len, " %s%s", name,
                     r + 1 < STRATA_ROLE_COUNT_ ? "," : "");
        len += k > 0 && (size_t)k < sizeof roles - len ? (size_t)k : 0;
        col += w;
    }
    printf("usage: %s\n\n"
           "Imports a CSV extract (RFC 4180: quoted fields, embedded commas and newlines,\n"
           "UTF-8 BOM, CRLF; the first line is the header) into a cohort file. The CSV is\n"
           "read twice, streaming: first to infer types, then to write.\n\n"
           "  --out FILE           cohort to create (atomically, mode 0600)\n"
           "  --type COL=TYPE      override the inferred type: int, float, cat (categorical),\n"
           "                       num (int or float) or date (int32 days since 1970-01-01;\n"
           "                       `strata export` writes it back as YYYY-MM-DD); repeatable,\n"
           "                       or COL=T,COL=T\n"
           "  --role ROLE=COL      declare a role (the date roles are of type date unless\n"
           "                       given):%s\n"
           "  --date-format FMT    date columns: ISO (default; a time part is dropped),\n"
           "                       DD/MM/YYYY or YYYYMMDD\n"
           "  --outcome COLS       put these columns under /outcomes\n"
           "  --recode COL=FROM:TO[,FROM:TO]  replace values first, e.g. gender=Female:F,Male:M\n"
           "                       (TO may be a missing token such as NA)\n"
           "  --map FILE           YAML mapping (keys roles, types, outcomes, na, recode);\n"
           "                       options on the command line win\n"
           "  --na TOKENS          missing-value tokens, comma-separated (default 'NA,,?':\n"
           "                       NA, the empty field and ?)\n"
           "  --skip-bad-rows      skip rows with a wrong field count or a value that does not\n"
           "                       fit its column type, and list them; default: fail, no output\n"
           "  --dry-run            read the CSV and print each column's type, level count and\n"
           "                       odd values; write nothing (--out not needed); exit 6 when\n"
           "                       the import would stop on the data\n"
           "  --delim C            field separator (default ','; 'tab' for TAB)\n"
           "  --encoding E         the file's text encoding: utf-8 (default; checked),\n"
           "                       latin1 or windows-1252 (converted to UTF-8)\n"
           "  --source TEXT        root attribute 'source' (default: the CSV file name)\n"
           "  --extract-date DATE  root attribute 'extract_date'\n"
           "  --json               the result as one JSON object on stdout (rows, columns,\n"
           "                       skipped rows; with --dry-run every column's summary)\n\n"
           "Inference: a column whose values are all integers is stored in the narrowest of\n"
           "int8/16/32/64; all numbers: float64; otherwise categorical with levels sorted\n"
           "byte-wise. A column of numbers but for a few values (under %d %%, at most %d)\n"
           "is an error naming them: fix the file, add them to --na, or use --type COL=cat\n"
           "or --skip-bad-rows. Exit codes: 0 ok, 2 usage, 3 memory, 4 I/O, 5 format, 6 bad\n"
           "row or value (the message names the line, column and value), 7 bad mapping\n"
           "(docs/import.md).\n",
           import_usage, roles, STRATA_CSV_STRAY_PERCENT, STRATA_CSV_STRAY_MAX);
}

/* Value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL when it is not opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, int *missing)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n))
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n])
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

/* Applies "A=B[,A=B...]" pairs (types) or a single "ROLE=COL" (roles). */
static int apply_pairs(strata_ctx *ctx, strata_csv_mapping *m, const char *arg, int roles,
                       strata_status *st)
{
    char buf[1024];
    char *save = NULL;
    if (strlen(arg) >= sizeof buf)
        return cli_usage_error("import", import_usage, "option value too long: %s", arg);
    strcpy(buf, arg);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1])
            return cli_usage_error("import", import_usage, "expected %s, got '%s'",
                                   roles ? "ROLE=COLUMN" : "COLUMN=TYPE", tok);
        *eq = 0;
        if (roles) {
            strata_role r = strata_role_parse(tok);
            const char *col = eq + 1;
            if (r == STRATA_ROLE_NONE && (r = strata_role_parse(eq + 1)) != STRATA_ROLE_NONE)
                col = tok; /* COLUMN=ROLE is accepted too */
            if (r == STRATA_ROLE_NONE)
                return cli_usage_error("import", import_usage, "unknown role in '%s=%s'", tok,
                                       eq + 1);
            *st = strata_csv_mapping_set_role(m, r, col);
        } else {
            strata_csv_type t;
            if (strata_csv_type_parse(eq + 1, &t))
                return cli_usage_error("import", import_usage,
                                       "unknown type '%s' for column '%s' (int, float, cat, num)",
                                       eq + 1, tok);
            *st = strata_csv_mapping_set_type(m, tok, t);
        }
        if (*st != STRATA_OK)
            return cli_fail(ctx, "import", *st);
    }
    return 0;
}

static int apply_recode(strata_ctx *ctx, strata_csv_mapping *m, const char *arg)
{
    char buf[1024], *save = NULL, *eq;
    if (strlen(arg) >= sizeof buf || !(eq = strchr(strcpy(buf, arg), '=')) || eq == buf)
        return cli_usage_error("import", import_usage, "expected --recode COL=FROM:TO[,...]");
    *eq = 0;
    for (char *tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        strata_status st;
        if (!colon)
            return cli_usage_error("import", import_usage, "--recode: expected FROM:TO, got '%s'",
                                   tok);
        *colon = 0;
        if ((st = strata_csv_mapping_set_recode(m, buf, tok, colon + 1)) != STRATA_OK)
            return cli_fail(ctx, "import", st);
    }
    return 0;
}

static int apply_outcomes(strata_ctx *ctx, strata_csv_mapping *m, const char *arg)
{
    const char *s = arg;
    char name[512];
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        strata_status st;
        if (len == 0 || len >= sizeof name)
            return cli_usage_error("import", import_usage, "bad --outcome list '%s'", arg);
        memcpy(name, s, len);
        name[len] = 0;
        if ((st = strata_csv_mapping_set_outcome(m, name)) != STRATA_OK)
            return cli_fail(ctx, "import", st);
        if (!e)
            return 0;
        s = e + 1;
    }
}

typedef struct import_args {
    cli_common co;
    const char *csv, *out, *map;
    int dry_run, json, json_done;
    strata_csv_import_params p;
} import_args;

/* Options that need no mapping; returns -1 when argv[*i] is not one of them. */
static int parse_simple(int argc, char **argv, int *i, import_args *a, int *missing)
{
    const char *v;
    long n;
    if (!strcmp(argv[*i], "--skip-bad-rows"))
        a->p.skip_bad_rows = 1;
    else if (!strcmp(argv[*i], "--dry-run"))
        a->dry_run = 1;
    else if (!strcmp(argv[*i], "--quiet"))
        a->co.quiet = 1;
    else if (!strcmp(argv[*i], "--json"))
        a->json = 1;
    else if (!strcmp(argv[*i], "--verbose"))
        a->co.verbose = 1;
    else if ((v = opt_value(argc, argv, i, "--out", missing)))
        a->out = v;
    else if ((v = opt_value(argc, argv, i, "--map", missing)))
        a->map = v;
    else if ((v = opt_value(argc, argv, i, "--source", missing)))
        a->p.source = v;
    else if ((v = opt_value(argc, argv, i, "--extract-date", missing)))
        a->p.extract_date = v;
    else if ((v = opt_value(argc, argv, i, "--date-format", missing))) {
        strata_date_format f;
        if (strata_date_format_parse(v, &f) != 0)
            return cli_usage_error("import", import_usage, "--date-format: '%s' is not ISO, "
                                   "DD/MM/YYYY or YYYYMMDD", v);
        a->p.date_format = (int)f;
    }
    else if ((v = opt_value(argc, argv, i, "--threads", missing))) {
        if (cli_parse_long(v, 0, 4096, &n))
            return cli_usage_error("import", import_usage, "bad --threads '%s'", v);
        a->co.threads = (int)n;
    } else if ((v = opt_value(argc, argv, i, "--encoding", missing))) {
        a->p.encoding = v;
    } else if ((v = opt_value(argc, argv, i, "--delim", missing))) {
        if (!strcmp(v, "tab") || !strcmp(v, "\\t"))
            a->p.delim = '\t';
        else if (strlen(v) == 1)
            a->p.delim = v[0];
        else
            return cli_usage_error("import", import_usage, "--delim takes one character");
    } else
        return -1;
    return 0;
}

/* ---- --dry-run ------------------------------------------------------------------- */

static void print_skipped(FILE *f, const strata_csv_import_report *rep, const char *verb,
                          int quiet)
{
    fprintf(f, "strata import: %s %zu bad row%s; first at line%s", verb, rep->n_skipped,
            rep->n_skipped == 1 ? "" : "s", rep->n_listed == 1 ? "" : "s");
    for (size_t k = 0; k < rep->n_listed; k++)
        fprintf(f, "%s %zu", k ? "," : "", rep->skipped_line[k]);
    fprintf(f, "\n");
    for (size_t k = 0; k < rep->n_listed && !quiet; k++)
        fprintf(f, "  %s\n", rep->skipped_msg[k]);
}

/* "  role age (num), outcome": what the options say of a column */
static void dry_notes(const strata_csv_column_summary *s, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    if (s->role)
        len += (size_t)snprintf(buf, n, "  role %s (%s)", strata_role_name(s->role),
                                strata_csv_type_name(s->type));
    else if (s->type != STRATA_CSV_AUTO)
        len += (size_t)snprintf(buf, n, "  --type %s", strata_csv_type_name(s->type));
    if (s->outcome && len < n)
        snprintf(buf + len, n - len, "%soutcome", len ? ", " : "  ");
}

/* The odd values of one column under its table row. */
static void dry_odd(const strata_csv_column_summary *s, int skip)
{
    size_t all = s->n_values + (s->stray && skip ? s->n_odd : 0); /* skipped rows are gone */
    double pct = all ? 100.0 * (double)s->n_odd / (double)all : 100.0;
    size_t shown = s->n_odd_listed;
    const char *are = s->n_odd == 1 ? "is not a number" : "are not numbers";
    char share[32];
    if (pct < 0.001)
        snprintf(share, sizeof share, "under 0.001 %%");
    else
        snprintf(share, sizeof share, "%.2g %%", pct);
    if (s->stray)
        printf("    %zu of %zu values (%s) %s in a column of numbers: %s\n", s->n_odd, all,
               share, are,
               s->fails ? "the import stops (--na, --type COL=cat or --skip-bad-rows)"
                        : "their rows are skipped");
    else if (s->type != STRATA_CSV_AUTO)
        printf("    %zu value%s %s (type %s): %s\n", s->n_odd, s->n_odd == 1 ? "" : "s",
               s->type != STRATA_CSV_INT ? are
               : s->n_odd == 1          ? "is not an integer"
                                        : "are not integers",
               strata_csv_type_name(s->type),
               s->fails ? "the import stops (--na or --skip-bad-rows)" : "their rows are skipped");
    else {
        printf("    %zu of %zu values (%s) %s, too many to be stray: stored as categorical\n",
               s->n_odd, all, share, are);
        shown = shown < 5 ? shown : 5;
    }
    for (size_t k = 0; k < shown; k++)
        printf("      line %zu: '%s'\n", s->odd_line[k], s->odd_value[k]);
    if (shown < s->n_odd)
        printf("      ... and %zu more\n", s->n_odd - shown);
}

/* --json: the common part of an import's or a dry run's result. */
static void json_report(cli_json *j, const import_args *a, const strata_csv_import_report *rep,
                        const char *status)
{
    cli_json_begin(j, stdout, "import");
    cli_json_str(j, "status", status);
    cli_json_str(j, "csv", a->csv);
    cli_json_str(j, "out", a->dry_run ? NULL : a->out);
    cli_json_bool(j, "dry_run", a->dry_run);
    cli_json_int(j, "lines", (long long)rep->n_lines);
    cli_json_int(j, "rows", (long long)rep->n_rows);
    cli_json_int(j, "bad_rows", (long long)rep->n_skipped);
    cli_json_open(j, "bad_rows_listed", '[');
    for (size_t k = 0; k < rep->n_listed; k++) {
        cli_json_open(j, NULL, '{');
        cli_json_int(j, "line", (long long)rep->skipped_line[k]);
        cli_json_str(j, "message", rep->skipped_msg[k]);
        cli_json_close(j);
    }
    cli_json_close(j);
}

/* --dry-run --json: every column's summary; exit 6 when the import would stop. */
static int dry_json(import_args *a, strata_csv_inspection *in, const strata_csv_import_report *rep)
{
    size_t ncol = strata_csv_inspection_ncols(in), n_fail = 0;
    int stops;
    cli_json j;
    for (size_t c = 0; c < ncol; c++)
        n_fail += (size_t)strata_csv_inspection_column(in, c)->fails;
    stops = n_fail || (rep->n_skipped && !a->p.skip_bad_rows);
    json_report(&j, a, rep, stops ? "would_stop" : "would_succeed");
    cli_json_int(&j, "exit", stops ? (int)STRATA_EDATA : 0);
    cli_json_open(&j, "columns", '[');
    for (size_t c = 0; c < ncol; c++) {
        const strata_csv_column_summary *s = strata_csv_inspection_column(in, c);
        cli_json_open(&j, NULL, '{');
        cli_json_str(&j, "name", s->name);
        cli_json_str(&j, "dtype", strata_dtype_name(s->dtype));
        cli_json_bool(&j, "categorical", s->categorical);
        cli_json_int(&j, "levels", (long long)s->n_levels);
        cli_json_str(&j, "role", s->role ? strata_role_name(s->role) : NULL);
        cli_json_bool(&j, "outcome", s->outcome);
        cli_json_int(&j, "values", (long long)s->n_values);
        cli_json_int(&j, "missing", (long long)s->n_missing);
        cli_json_int(&j, "odd", (long long)s->n_odd);
        cli_json_bool(&j, "stops_import", s->fails);
        cli_json_open(&j, "odd_listed", '[');
        for (size_t k = 0; k < s->n_odd_listed; k++) {
            cli_json_open(&j, NULL, '{');
            cli_json_int(&j, "line", (long long)s->odd_line[k]);
            cli_json_str(&j, "value", s->odd_value[k]);
            cli_json_close(&j);
        }
        cli_json_close(&j);
        cli_json_close(&j);
    }
    cli_json_end(&j);
    a->json_done = 1;
    strata_csv_inspection_free(in);
    return stops ? (int)STRATA_EDATA : 0;
}

static int run_dry(strata_ctx *ctx, import_args *a, strata_csv_mapping *m)
{
    strata_csv_import_report rep;
    strata_csv_inspection *in = NULL;
    strata_status s;
    size_t w = 6, ncol, n_fail = 0;
    int skip = a->p.skip_bad_rows, stops;
    a->p.mapping = m;
    if ((s = strata_csv_inspect(ctx, a->csv, &a->p, &in, &rep)) != STRATA_OK)
        return cli_fail(ctx, "import", s);
    ncol = strata_csv_inspection_ncols(in);
    if (a->json)
        return dry_json(a, in, &rep);
    for (size_t j = 0; j < ncol; j++) {
        size_t L = strlen(strata_csv_inspection_column(in, j)->name);
        w = L > w ? L : w;
    }
    printf("%s: %zu lines, %zu rows, %zu bad row%s, %zu columns (dry run: nothing written)\n",
           a->csv, rep.n_lines, rep.n_rows, rep.n_skipped, rep.n_skipped == 1 ? "" : "s", ncol);
    printf("%-*s  %-11s %7s %8s %7s  %s\n", (int)w, "column", "type", "levels", "missing", "odd",
           "options");
    for (size_t j = 0; j < ncol; j++) {
        const strata_csv_column_summary *c = strata_csv_inspection_column(in, j);
        char levels[32], notes[96];
        snprintf(levels, sizeof levels, c->categorical ? "%zu" : "-", c->n_levels);
        dry_notes(c, notes, sizeof notes);
        printf("%-*s  %-11s %7s %8zu %7zu%s\n", (int)w, c->name,
               c->categorical ? "categorical" : strata_dtype_name(c->dtype), levels, c->n_missing,
               c->n_odd, notes);
        if (c->n_odd)
            dry_odd(c, skip);
        n_fail += (size_t)c->fails;
    }
    stops = n_fail || (rep.n_skipped && !skip);
    if (rep.n_skipped && (!skip || !a->co.quiet))
        print_skipped(stdout, &rep, skip ? "would skip" : "found", a->co.quiet);
    if (stops)
        printf("the import would stop: %s%s%s\n",
               n_fail ? "odd values in the columns above" : "",
               n_fail && rep.n_skipped && !skip ? "; " : "",
               rep.n_skipped && !skip ? "bad rows (--skip-bad-rows skips them)" : "");
    else
        printf("the import would succeed: %zu rows x %zu columns\n", rep.n_rows, ncol);
    strata_csv_inspection_free(in);
    return stops ? (int)STRATA_EDATA : 0;
}

static int run_import(strata_ctx *ctx, import_args *a, strata_csv_mapping *m)
{
    strata_csv_import_report rep;
    strata_status s;
    a->p.mapping = m;
    s = strata_csv_import(ctx, a->csv, a->out, &a->p, &rep);
    if (s != STRATA_OK)
        return cli_fail(ctx, "import", s);
    if (rep.n_skipped)
        print_skipped(stderr, &rep, "skipped", a->co.quiet);
    if (a->json) {
        cli_json j;
        json_report(&j, a, &rep, "ok");
        cli_json_int(&j, "columns", (long long)rep.n_columns);
        cli_json_end(&j);
        a->json_done = 1;
    } else if (!a->co.quiet)
        printf("imported %zu rows x %zu columns from %s into %s (%zu lines read, %zu bad rows "
               "skipped)\n",
               rep.n_rows, rep.n_columns, a->csv, a->out, rep.n_lines, rep.n_skipped);
    return 0;
}

int cmd_import(int argc, char **argv)
{
    import_args a;
    strata_csv_mapping *m = NULL;
    strata_ctx *ctx;
    strata_status st = STRATA_OK;
    int rc = 0, missing = 0;
    if (argc > 1 && !strcmp(argv[1], "events")) /* engine/cli/cmd_import_events.c */
        return cmd_import_events(argc - 1, argv + 1);
    memset(&a, 0, sizeof a);
    strata_csv_import_params_init(&a.p);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            import_help();
            return 0;
        }
        if (parse_simple(argc, argv, &i, &a, &missing) == 0)
            continue;
        if (missing)
            return cli_usage_error("import", import_usage, "%s needs a value", argv[i]);
        if (!strncmp(argv[i], "--", 2)) {
            if (strcmp(argv[i], "--type") && strcmp(argv[i], "--role") &&
                strcmp(argv[i], "--outcome") && strcmp(argv[i], "--na") &&
                strcmp(argv[i], "--recode") && strncmp(argv[i], "--type=", 7) &&
                strncmp(argv[i], "--role=", 7) && strncmp(argv[i], "--outcome=", 10) &&
                strncmp(argv[i], "--na=", 5) && strncmp(argv[i], "--recode=", 9))
                return cli_usage_error("import", import_usage, "unknown option %s", argv[i]);
            if (!strchr(argv[i], '=') && ++i >= argc)
                return cli_usage_error("import", import_usage, "%s needs a value", argv[i - 1]);
        } else if (!a.csv) {
            a.csv = argv[i];
        } else {
            return cli_usage_error("import", import_usage, "unexpected argument '%s'", argv[i]);
        }
    }
    if (missing)
        return cli_usage_error("import", import_usage, "an option needs a value");
    if (!a.csv || (!a.out && !a.dry_run))
        return cli_usage_error("import", import_usage, "need a CSV file and --out COHORT.h5");
    if (!(ctx = cli_ctx_new(&a.co)))
        return STRATA_ENOMEM;
    if ((st = strata_csv_mapping_new(ctx, &m)) != STRATA_OK ||
        (a.map && (st = strata_csv_mapping_load_yaml(m, a.map)) != STRATA_OK)) {
        rc = cli_fail(ctx, "import", st);
        goto done;
    }
    /* Second sweep: mapping options, applied after the YAML file. */
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v;
        int miss = 0;
        if ((v = opt_value(argc, argv, &i, "--type", &miss)))
            rc = apply_pairs(ctx, m, v, 0, &st);
        else if ((v = opt_value(argc, argv, &i, "--role", &miss)))
            rc = apply_pairs(ctx, m, v, 1, &st);
        else if ((v = opt_value(argc, argv, &i, "--outcome", &miss)))
            rc = apply_outcomes(ctx, m, v);
        else if ((v = opt_value(argc, argv, &i, "--recode", &miss)))
            rc = apply_recode(ctx, m, v);
        else if ((v = opt_value(argc, argv, &i, "--na", &miss))) {
            if ((st = strata_csv_mapping_set_na(m, v)) != STRATA_OK)
                rc = cli_fail(ctx, "import", st);
        } else if (argv[i][0] == '-' && strchr(argv[i], '=') == NULL &&
                   strcmp(argv[i], "--skip-bad-rows") && strcmp(argv[i], "--quiet") &&
                   strcmp(argv[i], "--verbose") && strcmp(argv[i], "--dry-run") &&
                   strcmp(argv[i], "--json"))
            i++; /* skip the value of an option handled in the first sweep */
    }
    if (rc == 0)
        rc = a.dry_run ? run_dry(ctx, &a, m) : run_import(ctx, &a, m);
done:
    if (a.json && rc != 0 && !a.json_done)
        cli_json_fail("import", ctx, strata_ctx_errcode(ctx), rc);
    strata_csv_mapping_free(m);
    strata_ctx_free(ctx);
    return rc;
}
