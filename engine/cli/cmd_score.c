/* engine/cli/cmd_score.c — `strata score MODEL COHORT --out scores.h5|scores.csv
 * [--unseen-to-reference] [--threads N]`: one row per patient in cohort order
 * (patient_id, linear_predictor, response), written 0600 and atomically.
 * Exit codes: 0, 2 usage, or the failing strata_status (6 = unseen level). */
#include "cli.h"

#include <string.h>

static const char *USAGE =
    "strata score MODEL COHORT --out scores.h5|scores.csv [--unseen-to-reference] [--threads N]";

int cmd_score(int argc, char **argv)
{
    const char *model = NULL, *cohort = NULL, *out = NULL;
    strata_unseen_policy unseen = STRATA_UNSEEN_ERROR;
    cli_common co = {0, 0, 0};
    strata_ctx *ctx;
    strata_model *m = NULL;
    strata_cohort *c = NULL;
    strata_status st;
    int rc = 0;
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
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            long t;
            if (cli_parse_long(argv[++i], 0, 1024, &t))
                return cli_usage_error("score", USAGE, "--threads: '%s' is not 0..1024", argv[i]);
            co.threads = (int)t;
        } else if (a[0] != '-' && !model) {
            model = a;
        } else if (a[0] != '-' && !cohort) {
            cohort = a;
        } else {
            return cli_usage_error("score", USAGE, "unexpected argument '%s'", a);
        }
    }
    if (!model || !cohort || !out)
        return cli_usage_error("score", USAGE, "MODEL, COHORT and --out are required");
    if (!(ctx = cli_ctx_new(&co)))
        return 3;
    if ((st = strata_model_load(ctx, model, &m)) != STRATA_OK ||
        (st = strata_cohort_open(ctx, cohort, &c)) != STRATA_OK ||
        (st = strata_score_write(ctx, m, c, unseen, out)) != STRATA_OK)
        rc = cli_fail(ctx, "score", st);
    else if (!co.quiet)
        printf("scored %zu rows into %s\n", strata_cohort_nrows(c), out);
    strata_cohort_close(c);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
    return rc;
}
