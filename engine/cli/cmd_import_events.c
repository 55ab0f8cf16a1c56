/* engine/cli/cmd_import_events.c — `strata import events EVENTS.csv --cohort C.h5
 * --table NAME --id COL --date COL ...`: options become strata_events_import_params;
 * the library adds /events/<NAME> and replaces the cohort atomically (or writes
 * --out). Exit codes are the strata_status of the failing call. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char ev_usage[] =
    "strata import events EVENTS.csv --cohort COHORT.h5 --table NAME --id COL --date COL\n"
    "       [--end-date COL] [--code COL[,COL...]] [--code-system NAME] [--cat COL[,COL...]]\n"
    "       [--value COL[,COL...]] [--date-format ISO|DD/MM/YYYY|YYYYMMDD]\n"
    "       [--on-unknown-id fail|skip] [--delim C] [--encoding E] [--run-rows N]\n"
    "       [--out COHORT2.h5] [--quiet]";

static void ev_help(void)
{
    printf("usage: %s\n\n"
           "Adds one event table /events/NAME to a cohort from a long CSV (one row per event),\n"
           "matched to /patients by the patient_id role (integer or string ids) and sorted by\n"
           "patient, then day. Without --out the cohort is replaced atomically, only when the\n"
           "import succeeds; with --out a new cohort is written and the old one is left as is.\n\n"
           "  --code COLS        code columns (e.g. diag_01,...,diag_20; position = order given),\n"
           "                     stored as categoricals; --code-system names their coding\n"
           "                     (icd10, snomed, readv2, ctv3) in the column's units\n"
           "  --cat COLS         other categorical columns (admission_method, ...)\n"
           "  --value COLS       numeric columns (cost, los_days, BMI, eGFR), float64\n"
           "  --end-date COL     stored as end_day (empty = NA)\n"
           "  --date-format F    ISO (default; a time part is dropped), DD/MM/YYYY or YYYYMMDD\n"
           "  --on-unknown-id    fail (default: the line and id are named) or skip (counted,\n"
           "                     the first 20 listed)\n"
           "  --run-rows N       events sorted in memory at a time (default 2097152); a larger\n"
           "                     extract is sorted in runs on disk beside the output and\n"
           "                     merged, so memory stays bounded whatever the file's size\n\n"
           "docs/derive.md and docs/cohort-format.md describe the stored table.\n",
           ev_usage);
}

/* Splits "A,B,C" into a malloc'd array of pointers into the (modified) string. */
static const char **split_list(char *s, size_t *n)
{
    size_t cap = 1;
    const char **v;
    char *save = NULL;
    for (const char *q = s; *q; q++)
        cap += *q == ',';
    v = calloc(cap, sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        v[(*n)++] = t;
    return v;
}

typedef struct ev_args {
    strata_events_import_params p;
    const char *csv, *cohort, *out;
    const char **code, **cat, **val;
    cli_common co;
} ev_args;

/* Takes option argv[*i]; 0 ok, else an exit code. */
static int take(ev_args *a, int argc, char **argv, int *i)
{
    const char *o = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    static const char *const with_value[] = {"--cohort", "--table", "--id", "--date", "--end-date",
                                             "--code", "--code-system", "--cat", "--value",
                                             "--date-format", "--on-unknown-id", "--delim", "--encoding",
                                             "--out", "--threads", "--run-rows"};
    int needs = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        needs |= !strcmp(o, with_value[k]);
    if (!needs) {
        if (!strcmp(o, "--quiet"))
            a->co.quiet = 1;
        else if (o[0] == '-' || a->csv)
            return cli_usage_error("import events", ev_usage, "unknown option '%s'", o);
        else
            a->csv = o;
        return 0;
    }
    if (!v)
        return cli_usage_error("import events", ev_usage, "%s needs a value", o);
    (*i)++;
    if (!strcmp(o, "--cohort")) a->cohort = v;
    else if (!strcmp(o, "--table")) a->p.table = v;
    else if (!strcmp(o, "--id")) a->p.id_col = v;
    else if (!strcmp(o, "--date")) a->p.date_col = v;
    else if (!strcmp(o, "--end-date")) a->p.end_date_col = v;
    else if (!strcmp(o, "--code-system")) a->p.code_system = v;
    else if (!strcmp(o, "--out")) a->out = v;
    else if (!strcmp(o, "--delim")) a->p.delim = !strcmp(v, "tab") ? '\t' : v[0];
    else if (!strcmp(o, "--encoding")) a->p.encoding = v;
    else if (!strcmp(o, "--threads")) a->co.threads = atoi(v);
    else if (!strcmp(o, "--run-rows")) {
        long n;
        if (cli_parse_long(v, 1, 1L << 40, &n))
            return cli_usage_error("import events", ev_usage, "bad --run-rows '%s'", v);
        a->p.run_rows = (size_t)n;
    }
    else if (!strcmp(o, "--code")) a->code = split_list(argv[*i], &a->p.n_code_cols);
    else if (!strcmp(o, "--cat")) a->cat = split_list(argv[*i], &a->p.n_cat_cols);
    else if (!strcmp(o, "--value")) a->val = split_list(argv[*i], &a->p.n_value_cols);
    else if (!strcmp(o, "--date-format")) {
        if (strata_date_format_parse(v, &a->p.date_format) != 0)
            return cli_usage_error("import events", ev_usage,
                                   "--date-format: '%s' is not ISO, DD/MM/YYYY or YYYYMMDD", v);
    } else if (!strcmp(o, "--on-unknown-id")) {
        if (strcmp(v, "fail") && strcmp(v, "skip"))
            return cli_usage_error("import events", ev_usage,
                                   "--on-unknown-id: '%s' is not fail or skip", v);
        a->p.skip_unknown_ids = !strcmp(v, "skip");
    }
    return 0;
}

static void print_report(const ev_args *a, const strata_events_import_report *r)
{
    printf("%s: %zu events into /events/%s of %s", a->csv, r->n_events, a->p.table,
           a->out ? a->out : a->cohort);
    if (r->n_runs)
        printf(" (sorted in %zu runs on disk)", r->n_runs);
    printf("\n");
    if (r->n_unknown) {
        printf("skipped %zu events with an id not in /patients; first %zu:\n", r->n_unknown,
               r->n_listed);
        for (size_t k = 0; k < r->n_listed; k++)
            printf("  line %zu: id '%s'\n", r->unknown_line[k], r->unknown_id[k]);
    }
    if (r->n_before_birth || r->n_after_death)
        printf("warning: %zu events before birth, %zu after death (kept)\n", r->n_before_birth,
               r->n_after_death);
}

int cmd_import_events(int argc, char **argv)
{
    ev_args a;
    strata_events_import_report rep;
    strata_ctx *ctx;
    strata_status st;
    int rc = 0;
    memset(&a, 0, sizeof a);
    strata_events_import_params_init(&a.p);
    for (int i = 1; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            ev_help();
            return 0;
        }
        rc = take(&a, argc, argv, &i);
    }
    if (rc == 0 && (!a.csv || !a.cohort || !a.p.table || !a.p.id_col || !a.p.date_col))
        rc = cli_usage_error("import events", ev_usage,
                             "EVENTS.csv, --cohort, --table, --id and --date are required");
    a.p.code_cols = a.code;
    a.p.cat_cols = a.cat;
    a.p.value_cols = a.val;
    if (rc == 0 && !(ctx = cli_ctx_new(&a.co)))
        rc = (int)STRATA_ENOMEM;
    else if (rc == 0) {
        st = strata_events_import(ctx, a.csv, a.cohort, a.out, &a.p, &rep);
        if (st != STRATA_OK)
            rc = cli_fail(ctx, "import events", st);
        else if (!a.co.quiet)
            print_report(&a, &rep);
        strata_ctx_free(ctx);
    }
    free(a.code);
    free(a.cat);
    free(a.val);
    return rc;
}
