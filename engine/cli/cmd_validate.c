/* engine/cli/cmd_validate.c — `strata validate FILE...`: every problem in a
 * cohort, one line each (file, dataset, row, patient id, value), then a
 * summary line counting problems by kind. Exit 0 valid, 1 problems found,
 * 4/5 when the file cannot be read as a cohort at all. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE = "strata validate [--max-per-kind N] [--summary-only] COHORT.h5...";

typedef struct printer {
    long max_per_kind;                 /* 0 = print all */
    size_t shown[STRATA_PROB_COUNT_];
} printer;

static void print_problem(void *ud, strata_problem_kind kind, const char *msg)
{
    printer *p = ud;
    p->shown[kind]++;
    if (p->max_per_kind == 0 || p->shown[kind] <= (size_t)p->max_per_kind)
        printf("%s: %s\n", strata_problem_kind_name(kind), msg);
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"max-per-kind", required_argument, NULL, 'm'},
                                         {"summary-only", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    printer p = {.max_per_kind = 100};
    int summary_only = 0, c, worst = 0;
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
        case 'h':
            printf("usage: %s\n\nReports every problem in each cohort file (structure, lengths, "
                   "duplicate ids,\nranges, NaN, category codes, event tables), at most N lines "
                   "per kind\n(default 100, 0 = all), then a summary line. Exit 0 when valid, 1 "
                   "when\nproblems were found, 4 (I/O) or 5 (not a cohort) when unreadable.\n",
                   USAGE);
            return 0;
        default: return cli_usage_error("validate", USAGE, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("validate", USAGE, "no cohort file given");
    if (!(ctx = cli_ctx_new(NULL)))
        return STRATA_ENOMEM;
    for (int i = optind; i < argc; i++) {
        strata_validate_report rep;
        strata_status st;
        memset(p.shown, 0, sizeof p.shown);
        st = strata_cohort_validate(ctx, argv[i], summary_only ? NULL : print_problem, &p, &rep);
        if (st != STRATA_OK) {
            int code = cli_fail(ctx, "validate", st);
            if (code > worst)
                worst = code;
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
    strata_ctx_free(ctx);
    return worst;
}
