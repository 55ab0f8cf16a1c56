/* engine/cli/cmd_fit.c — `strata fit COHORT (--formula F --family FAM | --spec spec.yaml)
 * --out model.h5`: fits a GLM and writes the model file. The spec is a flat
 * YAML mapping of the same keys, read by the library (strata_fit_spec_load,
 * strata/run.h); command-line options override it through the same setter.
 * --mem-limit sets the context's memory budget (docs/scale.md). Exit codes: 0, 2 usage, or the failing strata_status (8 = not converged,
 * the partial model is still written). */
#include "cli.h"
#include "cli_elnet.h"

#include <string.h>

static const char *USAGE =
    "strata fit COHORT --formula \"y ~ a + b\" [--family binomial|poisson|gamma|gaussian]\n"
    "       | --family cox --formula \"Surv(time, event) ~ a + b [+ strata(s)] [+ cluster(id)]\"\n"
    "         [--ties efron|breslow] [--robust]\n"
    "       [--weights COL] [--epsilon E] [--max-iter N] [--na-action complete|fail]\n"
    "       [--start auto|r] [--mem-limit SIZE (e.g. 4G: stream row blocks when the columns exceed it)]\n"
    CLI_ELNET_USAGE
    "       [--spec spec.yaml] [--threads N] [--quiet|--verbose] [--json] --out model.h5";

/* The value options and the fit-spec keys they set (strata_fit_spec_set). */
static const char *const OPTS[][2] = {
    {"--family", "family"},     {"--formula", "formula"},   {"--weights", "weights"},
    {"--epsilon", "epsilon"},   {"--max-iter", "max_iter"}, {"--na-action", "na_action"},
    {"--start", "start"},       {"--out", "out"}};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

/* The Cox fit's scratch file (its sorted design under --mem-limit) goes beside
 * the output, not to $TMPDIR (docs/scale.md): out's directory. */
static void scratch_beside(strata_ctx *ctx, const char *out)
{
    char dir[4096];
    const char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == out ? 1 : slash - out), out);
    strata_ctx_set_scratch_dir(ctx, dir);
}

/* --family cox (engine/cli/cli_cox.c): formula, weights, epsilon, max-iter and out
 * from the command line (given[] in OPTS order), plus --ties and --robust. */
static int fit_cox(const cli_common *co, const char *cohort, const char *const *given, const char *ties,
                   int robust, const char *spec_path, int json, cli_elnet_opts *eo, size_t mem_limit)
{
    strata_cox_params p;
    strata_ctx *ctx;
    long v;
    int rc;
    strata_cox_params_init(&p);
    p.formula = given[1];
    p.weights = given[2];
    p.robust = robust;
    if (spec_path || given[5] || given[6])
        return cli_usage_error("fit", USAGE, "--spec, --na-action and --start are not for --family cox");
    if (!p.formula || !given[7])
        return cli_usage_error("fit", USAGE, "--formula and --out are required");
    if (ties && strcmp(ties, "efron") && strcmp(ties, "breslow"))
        return cli_usage_error("fit", USAGE, "ties: '%s' is not efron or breslow", ties);
    p.ties = ties && !strcmp(ties, "breslow") ? STRATA_COX_BRESLOW : STRATA_COX_EFRON;
    if (eo->active && !ties) /* the elastic net is glmnet's coxnet: Breslow (docs/elnet.md#cox) */
        p.ties = STRATA_COX_BRESLOW;
    if (given[3] && cli_parse_double(given[3], &p.epsilon))
        return cli_usage_error("fit", USAGE, "--epsilon: '%s' is not a number", given[3]);
    if (given[4] && cli_parse_long(given[4], 1, 10000, &v))
        return cli_usage_error("fit", USAGE, "--max-iter: '%s' is not 1..10000", given[4]);
    if (given[4])
        p.max_iter = (int)v;
    if (!(ctx = cli_ctx_new(co)))
        return 3;
    strata_ctx_set_memory_budget(ctx, mem_limit); /* over it the design streams (docs/scale.md) */
    scratch_beside(ctx, given[7]);
    if (!eo->active) /* the Cox fit over every rank's blocks (docs/scale.md#mpi) */
        strata_mpi_attach(ctx);
    rc = eo->active ? cli_elnet_cox_fit(ctx, co, cohort, &p, eo, given[7], json)
                    : cli_fit_cox(ctx, co, cohort, &p, given[7], json);
    strata_ctx_free(ctx);
    return rc;
}

/* --json: the fit summary and the coefficient table (status "not_converged"
 * with exit 8 for a partial fit). */
static void print_json(const strata_model *m, const char *cohort, const char *out, int rc)
{
    cli_json j;
    cli_json_begin(&j, stdout, "fit");
    cli_json_str(&j, "status", rc == 0 ? "ok" : "not_converged");
    cli_json_int(&j, "exit", rc);
    cli_json_str(&j, "cohort", cohort);
    cli_json_str(&j, "model", out);
    cli_json_model(&j, m);
    cli_json_end(&j);
}

int cmd_fit(int argc, char **argv)
{
    cli_common co = {0, 0, 0};
    const char *cohort_path = NULL, *spec_path = NULL, *given[N_OPTS] = {0}, *ties = NULL;
    strata_fit_spec fs;
    strata_glm_params prm;
    strata_ctx *ctx = NULL;
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_status st;
    size_t mem_limit = 0;
    int rc = 0, robust = 0, json = 0, verdict = -1;
    pid_t worker;
    cli_elnet_opts eo;
    cli_elnet_init(&eo);
    strata_fit_spec_init(&fs);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t k;
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
        if (!strcmp(a, "--json")) { /* the summary and coefficients as JSON on stdout */
            json = 1;
            continue;
        }
        if (a[0] != '-') {
            if (cohort_path)
                return cli_usage_error("fit", USAGE, "unexpected argument '%s'", a);
            cohort_path = a;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error("fit", USAGE, "option %s needs a value", a);
        if (!strcmp(a, "--threads")) {
            long t;
            if (cli_parse_long(argv[++i], 0, 1024, &t))
                return cli_usage_error("fit", USAGE, "--threads: '%s' is not 0..1024", argv[i]);
            co.threads = (int)t;
            continue;
        }
        if (!strcmp(a, "--mem-limit")) {
            if (strata_parse_size(argv[++i], &mem_limit))
                return cli_usage_error("fit", USAGE, "--mem-limit: '%s' is not a size such as 4G, 512M or 100000", argv[i]);
            continue;
        }
        if (!strcmp(a, "--spec")) {
            spec_path = argv[++i];
            continue;
        }
        if (!strcmp(a, "--ties")) {
            ties = argv[++i];
            continue;
        }
        int er = cli_elnet_opt(&eo, argc, argv, &i, USAGE);
        if (er == CLI_OPT_ERROR) {
            cli_elnet_free(&eo);
            return CLI_EXIT_USAGE;
        }
        if (er == CLI_OPT_TAKEN)
            continue;
        for (k = 0; k < N_OPTS && strcmp(a, OPTS[k][0]); k++)
            ;
        if (k == N_OPTS)
            return cli_usage_error("fit", USAGE, "unknown option '%s'", a);
        given[k] = argv[++i];
    }
    if (!cohort_path) {
        cli_elnet_free(&eo);
        return cli_usage_error("fit", USAGE, "missing COHORT");
    }
    if (cli_rank() != 0 && eo.active && given[0] && !strcmp(given[0], "cox")) {
        cli_elnet_free(&eo); /* penalised Cox runs on rank 0 alone (docs/scale.md#mpi) */
        return 0;
    }
    if (given[0] && !strcmp(given[0], "cox")) {
        rc = fit_cox(&co, cohort_path, given, ties, robust, spec_path, json, &eo, mem_limit);
        cli_elnet_free(&eo);
        return rc;
    }
    if (ties || robust) {
        cli_elnet_free(&eo);
        return cli_usage_error("fit", USAGE, "--ties and --robust are for --family cox");
    }
    if (!(ctx = cli_ctx_new(&co)))
        return 3;
    strata_ctx_set_memory_budget(ctx, mem_limit);
    /* the spec file through the library's spec loader, then the command line over it */
    if (spec_path && (st = strata_fit_spec_load(ctx, spec_path, &fs)) != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    for (size_t k = 0; k < N_OPTS; k++)
        if (given[k] && strata_fit_spec_set(ctx, &fs, OPTS[k][1], given[k]) != STRATA_OK) {
            rc = cli_usage_error("fit", USAGE, "%s: %s", OPTS[k][0], strata_ctx_errmsg(ctx));
            goto out;
        }
    prm = fs.glm;
    if (!prm.formula || !fs.out) {
        rc = cli_usage_error("fit", USAGE, "--formula and --out are required (or formula/out in --spec)");
        goto out;
    }
    if ((st = strata_glm_params_check(ctx, &prm)) != STRATA_OK) {
        rc = cli_usage_error("fit", USAGE, "%s", strata_ctx_errmsg(ctx));
        goto out;
    }
    /* a GLM fit runs in a worker while this process's open of the cohort
     * (the forked HDF5 walk, then the open) decides whether it may go on
     * (cli_worker.c; docs/reliability.md#hdf5) */
    worker = eo.active ? -1 : cli_worker_fork(ctx, &verdict);
    if (worker > 0) {
        char hash[65] = "";
        st = strata_cohort_open(ctx, cohort_path, &c);
        /* the input's hash for the worker's model file (on failure the
         * worker hashes it and reports as before) */
        if (st == STRATA_OK && strata_file_sha256(ctx, cohort_path, hash) != STRATA_OK) {
            hash[0] = '\0';
            strata_ctx_clear_error(ctx);
        }
        rc = cli_worker_finish(worker, verdict, st == STRATA_OK, hash);
        if (rc < 0) {
            rc = cli_fail(ctx, "fit", st);
            goto out;
        }
        json = 0; /* the worker wrote everything */
        cli_exit_now(rc);
        goto out;
    }
    /* the worker opens only the columns the fit names: the supervisor's
     * strict open of the whole file decides whether its fit is used */
    st = worker == 0 ? strata_cohort_open_lazy(ctx, cohort_path, &c) : strata_cohort_open(ctx, cohort_path, &c);
    if (worker == 0)
        cli_worker_take_hash(ctx, cohort_path);
    if (st != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    strata_mpi_attach(ctx); /* the GLM or elastic-net fit over every rank's slab (docs/scale.md#mpi) */
    if (eo.active) { /* --alpha and friends: the elastic-net path (cli_elnet.c) */
        rc = cli_elnet_fit(ctx, c, &prm, &eo, fs.out, co.quiet, json);
        goto out;
    }
    st = strata_glm_fit(ctx, c, &prm, &m);
    cli_gate(); /* a worker: the verdict before any output */
    if (!m) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    rc = st == STRATA_OK ? 0 : (int)st;
    if (st != STRATA_OK)
        fprintf(stderr, "strata fit: error: %s (partial model written)\n", strata_ctx_errmsg(ctx));
    if (cli_rank() != 0)
        goto out; /* rank 0 writes the model */
    if ((st = strata_model_save(ctx, m, fs.out)) != STRATA_OK) {
        rc = cli_fail(ctx, "fit", st);
        goto out;
    }
    if (json) {
        print_json(m, cohort_path, fs.out, rc);
        json = 0; /* written */
    } else if (!co.quiet) {
        strata_fit_summary s;
        strata_model_summary(m, &s);
        printf("%s GLM: %s\nn used %zu, dropped %zu (missing values); %d iterations, %s\n"
               "deviance %.6f on %.0f df; null deviance %.6f on %.0f df; AIC %.6f; dispersion %.6g\n"
               "model written to %s\n",
               strata_family_name(s.family), s.formula, s.n_used, s.n_dropped, s.iterations,
               s.converged ? "converged" : "NOT converged", s.deviance, s.df_residual,
               s.null_deviance, s.df_null, s.aic, s.dispersion, fs.out);
    }
    cli_exit_now(rc); /* the model file is in place: no teardown (cli.h) */
out:
    if (json && rc != 0)
        cli_json_fail("fit", ctx, strata_ctx_errcode(ctx), rc);
    cli_elnet_free(&eo);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    strata_fit_spec_free(ctx, &fs);
    strata_ctx_free(ctx);
    return rc;
}
