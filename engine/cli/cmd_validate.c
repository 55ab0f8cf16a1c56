/* engine/cli/cmd_validate.c — `strata validate FILE...`: every problem in a
 * cohort, one line each (file, dataset, row, patient id, value), then a
 * summary line counting problems by kind. Exit 0 valid, 1 problems found,
 * 4/5 when the file cannot be read as a cohort at all. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE = "strata validate [--max-per-kind N] [--summary-only] [--json] [--mem-limit SIZE] COHORT.h5...";

typedef struct printer {
    long max_per_kind;                 /* 0 = print all */
    size_t shown[STRATA_PROB_COUNT_];
    cli_json *json;                    /* --json: problems go into its open array */
} printer;

static void print_problem(void *ud, strata_problem_kind kind, const char *msg)
{
    printer *p = ud;
    p->shown[kind]++;
    if (p->max_per_kind != 0 && p->shown[kind] > (size_t)p->max_per_kind)
        return;
    if (p->json) {
        cli_json_open(p->json, NULL, '{');
        cli_json_str(p->json, "kind", strata_problem_kind_name(kind));
        cli_json_str(p->json, "message", msg);
        cli_json_close(p->json);
    } else {
        printf("%s: %s\n", strata_problem_kind_name(kind), msg);
    }
}

/* --json: one file's result; the problems array is open (filled by print_problem). */
static void json_file(cli_json *j, const strata_validate_report *rep)
{
    cli_json_close(j); /* problems */
    cli_json_bool(j, "valid", rep->total == 0);
    cli_json_int(j, "patients", (long long)rep->nrows);
    cli_json_int(j, "problem_count", (long long)rep->total);
    cli_json_open(j, "counts", '{');
    for (int k = 0; k < STRATA_PROB_COUNT_; k++)
        if (rep->counts[k])
            cli_json_int(j, strata_problem_kind_name((strata_problem_kind)k),
                         (long long)rep->counts[k]);
    cli_json_close(j);
    cli_json_close(j); /* the file */
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"max-per-kind", required_argument, NULL, 'm'},
                                         {"summary-only", no_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"mem-limit", required_argument, NULL, 'M'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    printer p = {.max_per_kind = 100};
    int summary_only = 0, c, worst = 0, json = 0;
    size_t mem_limit = 0;
    cli_json j;
    strata_ctx *ctx;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (cli_parse_long(optarg, 0, 1000000000, &p.max_per_kind))
                return cli_usage_error("validate", USAGE, "--max-per-kind: not a count: %s",
                                       optarg);
            break;
        case 's': summary_only = 1; break;
        case 'j': json = 1; break;
        case 'M':
            if (strata_parse_size(optarg, &mem_limit))
                return cli_usage_error("validate", USAGE,
                                       "--mem-limit: '%s' is not a size such as 4G, 512M or 100000", optarg);
            break;
        case 'h':
            printf("usage: %s\n\nReports every problem in each cohort file (structure, lengths, "
                   "duplicate ids,\nranges, NaN, category codes, event tables), at most N lines "
                   "per kind\n(default 100, 0 = all), then a summary line. Exit 0 when valid, 1 "
                   "when\nproblems were found, 4 (I/O) or 5 (not a cohort) when unreadable.\n"
                   "--json writes one JSON object on stdout instead: per file its path, valid,\n"
                   "patients, problem_count, counts by kind and the problems listed (kind,\n"
                   "message), or status \"error\" with the message.\n"
                   "--mem-limit SIZE (e.g. 512M): the duplicate-id check sorts through a scratch\n"
                   "file when its sort would exceed half of it; the same report.\n",
                   USAGE);
            return 0;
        default: return cli_usage_error("validate", USAGE, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("validate", USAGE, "no cohort file given");
    if (!(ctx = cli_ctx_new(NULL)))
        return STRATA_ENOMEM;
    strata_ctx_set_memory_budget(ctx, mem_limit);
    if (json) {
        p.json = &j;
        cli_json_begin(&j, stdout, "validate");
        cli_json_open(&j, "files", '[');
    }
    for (int i = optind; i < argc; i++) {
        strata_validate_report rep;
        strata_status st;
        memset(p.shown, 0, sizeof p.shown);
        if (json) {
            cli_json_open(&j, NULL, '{');
            cli_json_str(&j, "path", argv[i]);
            cli_json_open(&j, "problems", '[');
        }
        st = strata_cohort_validate(ctx, argv[i], summary_only ? NULL : print_problem, &p, &rep);
        if (st != STRATA_OK) {
            int code = cli_fail(ctx, "validate", st);
            if (code > worst)
                worst = code;
            if (json) {
                cli_json_close(&j); /* problems */
                cli_json_str(&j, "status", "error");
                cli_json_int(&j, "exit", code);
                cli_json_str(&j, "error", strata_ctx_errmsg(ctx));
                cli_json_close(&j);
            }
            continue;
        }
        if (json) {
            json_file(&j, &rep);
            if (rep.total && worst < CLI_EXIT_PROBLEMS)
                worst = CLI_EXIT_PROBLEMS;
            continue;
        }
        for (int k = 0; k < STRATA_PROB_COUNT_ && !summary_only; k++)
            if (p.max_per_kind && rep.counts[k] > (size_t)p.max_per_kind)
                printf("%s: ... %zu more %s problems not shown (--max-per-kind 0 shows all)\n",
                       strata_problem_kind_name((strata_problem_kind)k),
                       rep.counts[k] - (size_t)p.max_per_kind,
                       strata_problem_kind_name((strata_problem_kind)k));
        if (rep.total == 0) {
            printf("%s: valid: %zu patients\n", argv[i], rep.nrows);
        } else {
            printf("%s: INVALID: %zu problem%s (", argv[i], rep.total, rep.total == 1 ? "" : "s");
            for (int k = 0, first = 1; k < STRATA_PROB_COUNT_; k++)
                if (rep.counts[k]) {
                    printf("%s%s %zu", first ? "" : ", ",
                           strata_problem_kind_name((strata_problem_kind)k), rep.counts[k]);
                    first = 0;
                }
            printf(")\n");
            if (worst < CLI_EXIT_PROBLEMS)
                worst = CLI_EXIT_PROBLEMS;
        }
    }
    if (json) {
        cli_json_close(&j); /* files */
        cli_json_int(&j, "exit", worst);
        cli_json_end(&j);
    }
    strata_ctx_free(ctx);
    return worst;
}
