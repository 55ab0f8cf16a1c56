/* engine/cli/cmd_evaluate.c — `strata evaluate MODEL COHORT [--by a,b,...]
 * [--outcome NAME] --out DIR [--unseen-to-reference] [--threads N]`: scores the
 * cohort with the saved model, then writes discrimination, calibration, yield
 * and net benefit overall and per subgroup (docs/evaluate.md), carrying the
 * SHA-256 of model and cohort. Exit codes: 0, 2 usage, or the failing status. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "strata evaluate MODEL COHORT [--by col1,col2,...] [--outcome NAME] --out DIR\n"
    "                [--unseen-to-reference] [--threads N] [--quiet]";

#define MAX_BY 32

/* Splits a comma list in place into names[]; returns the count or -1. */
static int split_by(char *list, char **names)
{
    int n = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_BY || !*tok)
            return -1;
        names[n++] = tok;
    }
    return n;
}

/* The response of "y ~ a + b" trimmed into buf; 0 when there is none. */
static int formula_response(const char *formula, char *buf, size_t size)
{
    const char *t = formula ? strchr(formula, '~') : NULL;
    size_t a = 0, b;
    if (!t)
        return 0;
    b = (size_t)(t - formula);
    while (a < b && (formula[a] == ' ' || formula[a] == '\t'))
        a++;
    while (b > a && (formula[b - 1] == ' ' || formula[b - 1] == '\t'))
        b--;
    if (b == a || b - a >= size)
        return 0;
    memcpy(buf, formula + a, b - a);
    buf[b - a] = '\0';
    return 1;
}

static strata_eval_family eval_family(strata_family f)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: return STRATA_EVAL_BINOMIAL;
    case STRATA_FAMILY_GAUSSIAN: return STRATA_EVAL_GAUSSIAN;
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: break; /* log link: recalibrated on the log scale */
    }
    return STRATA_EVAL_POISSON;
}

int cmd_evaluate(int argc, char **argv)
{
    const char *model = NULL, *cohort = NULL, *out = NULL, *outcome = NULL;
    char *by_list = NULL, *by[MAX_BY], response[256], mhash[65], chash[65];
    int n_by = 0, rc = 0;
    strata_unseen_policy unseen = STRATA_UNSEEN_ERROR;
    cli_common co = {0, 0, 0};
    strata_ctx *ctx;
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    strata_fit_summary sum;
    strata_eval_params par;
    strata_eval_provenance prov;
    double *p = NULL;
    strata_status st;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n", USAGE);
            return 0;
        } else if (!strcmp(a, "--unseen-to-reference")) {
            unseen = STRATA_UNSEEN_TO_REFERENCE;
        } else if (!strcmp(a, "--quiet")) {
            co.quiet = 1;
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--outcome") && i + 1 < argc) {
            outcome = argv[++i];
        } else if (!strcmp(a, "--by") && i + 1 < argc) {
            by_list = argv[++i];
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            long t;
            if (cli_parse_long(argv[++i], 0, 1024, &t))
                return cli_usage_error("evaluate", USAGE, "--threads: '%s' is not 0..1024",
                                       argv[i]);
            co.threads = (int)t;
        } else if (a[0] != '-' && !model) {
            model = a;
        } else if (a[0] != '-' && !cohort) {
            cohort = a;
        } else {
            return cli_usage_error("evaluate", USAGE, "unexpected argument '%s'", a);
        }
    }
    if (!model || !cohort || !out)
        return cli_usage_error("evaluate", USAGE, "MODEL, COHORT and --out are required");
    if (by_list && (n_by = split_by(by_list, by)) < 0)
        return cli_usage_error("evaluate", USAGE, "--by: empty name or more than %d columns",
                               MAX_BY);
    if (!(ctx = cli_ctx_new(&co)))
        return 3;
    if ((st = strata_model_load(ctx, model, &m)) != STRATA_OK ||
        (st = strata_cohort_open(ctx, cohort, &c)) != STRATA_OK)
        goto fail;
    strata_model_summary(m, &sum);
    if (!outcome) {
        if (!formula_response(sum.formula, response, sizeof response)) {
            rc = cli_usage_error("evaluate", USAGE, "model formula has no response: use --outcome");
            goto done;
        }
        outcome = response;
    }
    if (!(p = calloc(strata_cohort_nrows(c) + 1, sizeof *p))) {
        fprintf(stderr, "strata evaluate: error: out of memory\n");
        rc = 3;
        goto done;
    }
    if ((st = strata_score(ctx, m, c, unseen, NULL, p)) != STRATA_OK ||
        (st = strata_file_sha256(ctx, model, mhash)) != STRATA_OK ||
        (st = strata_file_sha256(ctx, cohort, chash)) != STRATA_OK)
        goto fail;
    strata_eval_params_init(&par);
    par.family = eval_family(sum.family);
    prov = (strata_eval_provenance){mhash, chash, model, cohort};
    if ((st = strata_evaluate_scored(ctx, c, outcome, p, (const char *const *)by, (size_t)n_by,
                                     &par, &prov, out)) != STRATA_OK)
        goto fail;
    if (!co.quiet)
        printf("evaluated %zu rows (%s, outcome %s, %d by-columns) into %s\n",
               strata_cohort_nrows(c), strata_eval_family_name(par.family), outcome, n_by, out);
    goto done;
fail:
    rc = cli_fail(ctx, "evaluate", st);
done:
    free(p);
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
    return rc;
}
