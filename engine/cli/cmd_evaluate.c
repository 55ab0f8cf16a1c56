/* engine/cli/cmd_evaluate.c — `strata evaluate MODEL COHORT [--by a,b,...]
 * [--outcome NAME] [--bootstrap B [--seed S]] --out DIR`: scores the cohort with
 * the saved model, then writes discrimination, calibration, yield and net
 * benefit overall and per subgroup, and optionally Harrell's bootstrap
 * optimism (docs/evaluate.md), carrying the SHA-256 of model and cohort.
 * Outputs are disclosure-controlled unless --no-disclosure. --mem-limit sets
 * the context's memory budget (scoring in chunks, the sorted rows through a
 * scratch file: docs/scale.md; the same bytes).
 * Exit codes: 0, 2 usage, or the failing status. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "strata evaluate MODEL COHORT [--by col1,col2,...] [--outcome NAME] --out DIR\n"
    "                [--horizon H]   (Cox models: Harrell's and Uno's C, KM calibration by H)\n"
    "                [--bootstrap B] [--seed S] [--no-disclosure] [--unseen-to-reference]\n"
    "                [--threads N] [--mem-limit SIZE (e.g. 512M: sort through a scratch file; same bytes)]\n"
    "                [--quiet] [--json]";

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

/* --json: what was evaluated, with DIR/evaluate.json (every figure, bootstrap
 * included) embedded as "evaluation". */
static void print_json(const cli_model_opts *o, const char *outcome, size_t rows, strata_family fam,
                       const char *const *by, int n_by, int raw)
{
    char path[4200];
    cli_json j;
    FILE *f;
    cli_json_begin(&j, stdout, "evaluate");
    cli_json_str(&j, "status", "ok");
    cli_json_str(&j, "model", o->model);
    cli_json_str(&j, "cohort", o->cohort);
    cli_json_str(&j, "out", o->out);
    cli_json_str(&j, "family", strata_family_name(fam));
    cli_json_str(&j, "outcome", outcome);
    cli_json_int(&j, "rows", (long long)rows);
    cli_json_open(&j, "by", '[');
    for (int k = 0; k < n_by; k++)
        cli_json_str(&j, NULL, by[k]);
    cli_json_close(&j);
    cli_json_bool(&j, "disclosure", !raw);
    snprintf(path, sizeof path, "%s/evaluate.json", o->out);
    cli_json_str(&j, "evaluate_json", path);
    if ((f = fopen(path, "r")) != NULL) {
        char buf[65536];
        size_t n;
        cli_json_raw(&j, "evaluation", NULL);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) /* already JSON: copied as it is */
            fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    cli_json_end(&j);
}

int cmd_evaluate(int argc, char **argv)
{
    const char *outcome = NULL;
    char *by_list = NULL, *by[MAX_BY], response[256], mhash[65], chash[65];
    int n_by = 0, rc = 0, raw = 0, json = 0;
    long boot_b = 0, seed = 1;
    strata_bootstrap_result boot;
    cli_model_opts o;
    strata_ctx *ctx = NULL;
    strata_model *m;
    strata_cohort *c;
    strata_fit_summary sum;
    strata_eval_params par;
    strata_eval_provenance prov;
    double *p = NULL, horizon = 0;
    size_t mem_limit = 0;
    strata_status st;
    memset(&boot, 0, sizeof boot);
    cli_model_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int k = cli_model_opt(&o, argc, argv, &i, "evaluate", USAGE);
        if (k == CLI_OPT_HELP)
            return 0;
        if (k == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (k == CLI_OPT_TAKEN)
            continue;
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-disclosure")) {
            raw = 1;
        } else if (!strcmp(a, "--outcome") && i + 1 < argc) {
            outcome = argv[++i];
        } else if (!strcmp(a, "--bootstrap") && i + 1 < argc) {
            if (cli_parse_long(argv[++i], 1, 100000, &boot_b))
                return cli_usage_error("evaluate", USAGE, "--bootstrap: '%s' is not 1..100000",
                                       argv[i]);
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            if (cli_parse_long(argv[++i], 0, 2147483647L, &seed))
                return cli_usage_error("evaluate", USAGE, "--seed: '%s' is not 0..2^31-1",
                                       argv[i]);
        } else if (!strcmp(a, "--by") && i + 1 < argc) {
            by_list = argv[++i];
        } else if (!strcmp(a, "--mem-limit") && i + 1 < argc) {
            if (strata_parse_size(argv[++i], &mem_limit))
                return cli_usage_error("evaluate", USAGE, "--mem-limit: '%s' is not a size such as 4G, 512M or 100000",
                                       argv[i]);
        } else if (!strcmp(a, "--horizon") && i + 1 < argc) {
            if (cli_parse_double(argv[++i], &horizon) || !(horizon > 0))
                return cli_usage_error("evaluate", USAGE, "--horizon: '%s' is not a positive number", argv[i]);
        } else {
            return cli_usage_error("evaluate", USAGE, "unexpected argument '%s'", a);
        }
    }
    if (o.model && o.cohort && o.out && by_list && (n_by = split_by(by_list, by)) < 0)
        return cli_usage_error("evaluate", USAGE, "--by: empty name or more than %d columns",
                               MAX_BY);
    if (o.model && strata_cox_is_model_file(o.model)) { /* engine/cli/cli_cox.c */
        if (!o.cohort || !o.out || !(horizon > 0))
            return cli_usage_error("evaluate", USAGE, "a Cox model needs COHORT, --out and --horizon");
        return cli_evaluate_cox(&o, horizon, (const char *const *)by, (size_t)n_by, raw, mem_limit);
    }
    if (horizon > 0)
        return cli_usage_error("evaluate", USAGE, "--horizon is for Cox models");
    if ((rc = cli_model_open(&o, "evaluate", USAGE, &ctx, &m, &c)) != 0)
        goto done;
    strata_ctx_set_memory_budget(ctx, mem_limit);
    strata_model_summary(m, &sum);
    if (!outcome) {
        if (!formula_response(sum.formula, response, sizeof response)) {
            rc = cli_usage_error("evaluate", USAGE, "model formula has no response: use --outcome");
            goto done;
        }
        outcome = response;
    }
    if ((st = strata_file_sha256(ctx, o.model, mhash)) != STRATA_OK ||
        (st = strata_file_sha256(ctx, o.cohort, chash)) != STRATA_OK)
        goto fail;
    strata_eval_params_init(&par);
    par.family = sum.family; /* the model's family: gamma is evaluated as gamma */
    par.disclosure = !raw;
    prov = (strata_eval_provenance){mhash, chash, o.model, o.cohort};
    if (mem_limit && boot_b == 0) { /* under a budget the predictions are scored as read: no column of them */
        strata_scorer *sc = NULL;
        if ((st = strata_scorer_open(ctx, m, c, o.unseen, &sc)) == STRATA_OK)
            st = strata_evaluate_scorer(ctx, c, outcome, sc, (const char *const *)by, (size_t)n_by, &par, &prov,
                                        o.out);
        strata_scorer_free(ctx, sc);
        if (st != STRATA_OK)
            goto fail;
        goto written;
    }
    if (!(p = calloc(strata_cohort_nrows(c) + 1, sizeof *p))) {
        fprintf(stderr, "strata evaluate: error: out of memory\n");
        rc = 3;
        goto done;
    }
    if ((st = strata_score(ctx, m, c, o.unseen, NULL, p)) != STRATA_OK)
        goto fail;
    if (boot_b > 0) {
        strata_validate_params vp;
        strata_validate_params_init(&vp);
        vp.B = (int)boot_b;
        vp.seed = (uint64_t)seed;
        if ((st = strata_evaluate_bootstrap_glm(ctx, m, c, outcome, p, par.family, &vp, &boot)) !=
            STRATA_OK)
            goto fail;
    }
    if ((st = strata_evaluate_scored(ctx, c, outcome, p, (const char *const *)by, (size_t)n_by,
                                     &par, boot_b > 0 ? &boot : NULL, &prov, o.out)) != STRATA_OK)
        goto fail;
written:
    if (json) {
        print_json(&o, outcome, strata_cohort_nrows(c), par.family, (const char *const *)by, n_by,
                   raw);
        goto done;
    }
    if (boot_b > 0 && !o.co.quiet)
        printf("bootstrap B=%ld seed=%ld: C apparent %.4f, optimism %.4f, corrected %.4f; "
               "slope corrected %.4f\n",
               boot_b, seed, boot.apparent.c, boot.optimism.c, boot.corrected.c,
               boot.corrected.slope);
    if (!o.co.quiet)
        printf("evaluated %zu rows (%s, outcome %s, %d by-columns) into %s%s\n",
               strata_cohort_nrows(c), strata_family_name(par.family), outcome, n_by, o.out,
               raw ? " WITHOUT disclosure control" : "");
    goto done;
fail:
    rc = cli_fail(ctx, "evaluate", st);
done:
    if (json && rc != 0)
        cli_json_fail("evaluate", ctx, ctx ? strata_ctx_errcode(ctx) : STRATA_EINVAL, rc);
    strata_bootstrap_result_free(ctx, &boot);
    free(p);
    cli_model_close(ctx, m, c);
    return rc;
}
