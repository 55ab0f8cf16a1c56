/* engine/cli/cmd_fit.c — `strata fit COHORT (--formula F --family FAM | --spec spec.yaml)
 * --out model.h5`: fits a GLM and writes the model file. The run spec is a YAML
 * mapping of the same keys (libyaml); command-line options override it.
 * Exit codes: 0, 2 usage, or the failing strata_status (8 = not converged,
 * the partial model is still written). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *USAGE =
    "strata fit COHORT --formula \"y ~ a + b\" [--family binomial|poisson|gamma|gaussian]\n"
    "       | --family cox --formula \"Surv(time, event) ~ a + b [+ strata(s)] [+ cluster(id)]\"\n"
    "         [--ties efron|breslow] [--robust]\n"
    "       [--weights COL] [--epsilon E] [--max-iter N] [--na-action complete|fail]\n"
    "       [--start auto|r]\n"
    "       [--spec spec.yaml] [--threads N] [--quiet|--verbose] --out model.h5";

/* Spec values kept as strings until applied (owned here). */
typedef struct fit_spec {
    char *family, *formula, *weights, *epsilon, *max_iter, *na_action, *start, *out, *ties;
} fit_spec;

static char **spec_slot(fit_spec *s, const char *key)
{
    if (!strcmp(key, "family"))
        return &s->family;
    if (!strcmp(key, "formula"))
        return &s->formula;
    if (!strcmp(key, "weights"))
        return &s->weights;
    if (!strcmp(key, "epsilon"))
        return &s->epsilon;
    if (!strcmp(key, "max_iter"))
        return &s->max_iter;
    if (!strcmp(key, "na_action"))
        return &s->na_action;
    if (!strcmp(key, "start"))
        return &s->start;
    if (!strcmp(key, "out"))
        return &s->out;
    if (!strcmp(key, "ties"))
        return &s->ties;
    return NULL;
}

static void spec_free(fit_spec *s)
{
    free(s->family), free(s->formula), free(s->weights), free(s->epsilon);
    free(s->max_iter), free(s->na_action), free(s->start), free(s->out), free(s->ties);
}

/* Reads a flat YAML mapping of scalars; 0 on success, message printed otherwise. */
static int read_spec(const char *path, fit_spec *s)
{
    FILE *fp = fopen(path, "rb");
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, rc = 0, done = 0;
    char *key = NULL;
    if (!fp) {
        fprintf(stderr, "strata fit: error: %s: cannot open run spec\n", path);
        return 4;
    }
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, fp);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&p, &ev)) {
            fprintf(stderr, "strata fit: error: %s: line %zu: %s\n", path, p.problem_mark.line + 1,
                    p.problem ? p.problem : "YAML syntax error");
            rc = 7;
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++depth > 1) {
                fprintf(stderr, "strata fit: error: %s: line %zu: nested values are not supported; keys: family, formula, weights, epsilon, max_iter, na_action, start, out\n",
                        path, ev.start_mark.line + 1);
                rc = 7;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (!key) {
                key = strdup(v);
            } else {
                char **slot = spec_slot(s, key);
                if (!slot) {
                    fprintf(stderr, "strata fit: error: %s: line %zu: unknown key '%s' (keys: family, formula, weights, epsilon, max_iter, na_action, start, out)\n",
                            path, ev.start_mark.line + 1, key);
                    rc = 7;
                } else {
                    free(*slot);
                    *slot = strdup(v);
                }
                free(key);
                key = NULL;
            }
            break;
        }
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    free(key);
    yaml_parser_delete(&p);
    fclose(fp);
    return rc;
}

/* --family cox: the options that apply, then engine/cli/cli_cox.c. */
static int fit_cox(strata_ctx *ctx, const cli_common *co, const char *cohort, const fit_spec *sp, int robust)
{
    strata_cox_params p;
    long v;
    strata_cox_params_init(&p);
    p.formula = sp->formula;
    p.weights = sp->weights;
    p.robust = robust;
    if (sp->ties && strcmp(sp->ties, "efron") && strcmp(sp->ties, "breslow"))
        return cli_usage_error("fit", USAGE, "ties: '%s' is not efron or breslow", sp->ties);
    p.ties = sp->ties && !strcmp(sp->ties, "breslow") ? STRATA_COX_BRESLOW : STRATA_COX_EFRON;
    if (sp->epsilon && cli_parse_double(sp->epsilon, &p.epsilon))
        return cli_usage_error("fit", USAGE, "epsilon: '%s' is not a number", sp->epsilon);
    if (sp->max_iter && cli_parse_long(sp->max_iter, 1, 10000, &v))
        return cli_usage_error("fit", USAGE, "max_iter: '%s' is not 1..10000", sp->max_iter);
    if (sp->max_iter)
        p.max_iter = (int)v;
    if (sp->na_action && strcmp(sp->na_action, "complete") && strcmp(sp->na_action, "complete-cases"))
        return cli_usage_error("fit", USAGE, "na_action: a Cox fit uses complete cases");
    return cli_fit_cox(ctx, co, cohort, &p, sp->out);
}

int cmd_fit(int argc, char **argv)
{
    cli_common co = {0, 0, 0};
    fit_spec sp, cl;
    const char *cohort_path = NULL, *spec_path = NULL;
    strata_glm_params prm;
    strata_ctx *ctx = NULL;
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_status st;
    int rc = 0, robust = 0;
    memset(&sp, 0, sizeof sp);
    memset(&cl, 0, sizeof cl);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char **slot = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n", USAGE);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            co.quiet = 1;
            continue;
        }
        if (!strcmp(a, "--verbose")) {
            co.verbose = 1;
            continue;
        }
        if (!strcmp(a, "--robust")) {
            robust = 1;
            continue;
        }
        if (a[0] != '-') {
            if (cohort_path) {
                rc = cli_usage_error("fit", USAGE, "unexpected argument '%s'", a);
                goto out;
            }
            cohort_path = a;
            continue;
        }
        if (i + 1 >= argc) {
            rc = cli_usage_error("fit", USAGE, "option %s needs a value", a);
            goto out;
        }
        if (!strcmp(a, "--threads")) {
            long t;
            if (cli_parse_long(argv[++i], 0, 1024, &t)) {
                rc = cli_usage_error("fit", USAGE, "--threads: '%s' is not 0..1024", argv[i]);
                goto out;
            }
            co.threads = (int)t;
            continue;
        }
        if (!strcmp(a, "--spec")) {
            spec_path = argv[++i];
            continue;
        }
        if (!strcmp(a, "--family"))
            slot = &cl.family;
        else if (!strcmp(a, "--formula"))
            slot = &cl.formula;
        else if (!strcmp(a, "--weights"))
            slot = &cl.weights;
        else if (!strcmp(a, "--epsilon"))
            slot = &cl.epsilon;
        else if (!strcmp(a, "--max-iter"))
            slot = &cl.max_iter;
        else if (!strcmp(a, "--na-action"))
            slot = &cl.na_action;
        else if (!strcmp(a, "--start"))
            slot = &cl.start;
        else if (!strcmp(a, "--out"))
            slot = &cl.out;
        else if (!strcmp(a, "--ties"))
            slot = &cl.ties;
        if (!slot) {
            rc = cli_usage_error("fit", USAGE, "unknown option '%s'", a);
            goto out;
        }
        free(*slot);
        *slot = strdup(argv[++i]);
    }
    if (!cohort_path) {
        rc = cli_usage_error("fit", USAGE, "missing COHORT");
        goto out;
    }
    if (spec_path && (rc = read_spec(spec_path, &sp)) != 0)
        goto out;
    /* command line overrides the spec */
#define MERGE(f)          \
    if (cl.f) {           \
        free(sp.f);       \
        sp.f = cl.f;      \
        cl.f = NULL;      \
    }
    MERGE(family) MERGE(formula) MERGE(weights) MERGE(epsilon) MERGE(max_iter) MERGE(na_action) MERGE(start) MERGE(out)
    MERGE(ties)
#undef MERGE
    if (!sp.formula || !sp.out) {
        rc = cli_usage_error("fit", USAGE, "--formula and --out are required (or formula/out in --spec)");
        goto out;
    }
    if (!(ctx = cli_ctx_new(&co))) {
        rc = 3;
        goto out;
    }
    if (sp.family && !strcmp(sp.family, "cox")) {
        rc = fit_cox(ctx, &co, cohort_path, &sp, robust);
        goto out;
    }
    if (sp.ties || robust) {
        rc = cli_usage_error("fit", USAGE, "--ties and --robust are for --family cox");
        goto out;
    }
    strata_glm_params_init(&prm);
    prm.formula = sp.formula;
    prm.weights = sp.weights;
    if (sp.family && (st = strata_family_parse(ctx, sp.family, &prm.family)) != STRATA_OK) {
        rc = cli_usage_error("fit", USAGE, "%s", strata_ctx_errmsg(ctx));
        goto out;
    }
    if (sp.epsilon && cli_parse_double(sp.epsilon, &prm.epsilon)) {
        rc = cli_usage_error("fit", USAGE, "epsilon: '%s' is not a number", sp.epsilon);
        goto out;
    }
    if (sp.max_iter) {
        long v;
        if (cli_parse_long(sp.max_iter, 1, 10000, &v)) {
            rc = cli_usage_error("fit", USAGE, "max_iter: '%s' is not 1..10000", sp.max_iter);
            goto out;
        }
        prm.max_iter = (int)v;
    }
    if (sp.na_action) {
        if (!strcmp(sp.na_action, "complete") || !strcmp(sp.na_action, "complete-cases"))
            prm.na_action = STRATA_NA_COMPLETE_CASES;
        else if (!strcmp(sp.na_action, "fail"))
            prm.na_action = STRATA_NA_FAIL;
        else {
            rc = cli_usage_error("fit", USAGE, "na_action: '%s' is not complete or fail", sp.na_action);
            goto out;
        }
    }
    if (sp.start) {
        /* auto: warm start on large data (docs/glm.md); r: R's start always */
        if (!strcmp(sp.start, "auto") || !strcmp(sp.start, "r"))
            prm.warm_start = !strcmp(sp.start, "auto");
        else {
            rc = cli_usage_error("fit", USAGE, "start: '%s' is not auto or r", sp.start);
            goto out;
        }
    }
    if ((st = strata_glm_params_check(ctx, &prm)) != STRATA_OK) {
        rc = cli_usage_error("fit", USAGE, "%s", strata_ctx_errmsg(ctx));
        goto out;
    }
    if ((st = strata_cohort_open(ctx, cohort_path, &c)) != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    st = strata_glm_fit(ctx, c, &prm, &m);
    if (!m) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    rc = st == STRATA_OK ? 0 : (int)st;
    if (st != STRATA_OK)
        fprintf(stderr, "strata fit: error: %s (partial model written)\n", strata_ctx_errmsg(ctx));
    if ((st = strata_model_save(ctx, m, sp.out)) != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    if (!co.quiet) {
        strata_fit_summary s;
        strata_model_summary(m, &s);
        printf("%s GLM: %s\nn used %zu, dropped %zu (missing values); %d iterations, %s\n"
               "deviance %.6f on %.0f df; null deviance %.6f on %.0f df; AIC %.6f; dispersion %.6g\n"
               "model written to %s\n",
               strata_family_name(s.family), s.formula, s.n_used, s.n_dropped, s.iterations,
               s.converged ? "converged" : "NOT converged", s.deviance, s.df_residual,
               s.null_deviance, s.df_null, s.aic, s.dispersion, sp.out);
    }
out:
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    spec_free(&sp);
    spec_free(&cl);
    return rc;
}
