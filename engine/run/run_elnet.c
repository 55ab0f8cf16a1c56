/* engine/run/run_elnet.c — `strata run` with model: {alpha:, cv:, ...}: parses
 * the elastic-net keys, fits the path and CV through strata/elnet.h (the same
 * call as `strata fit --alpha`, so the same seed gives the same coefficients),
 * saves model.h5 with its /elnet group and records the choice in the manifest.
 * Invariant: what the rest of the job sees is an ordinary GLM strata_model. */
#include "run_elnet.h"

#include <stdio.h>
#include <string.h>

const char *const run_elnet_keys[] = {"alpha",  "cv",   "nlambda",        "lambda_min_ratio",
                                      "select", "seed", "penalty_factor", NULL};

static strata_status bad(strata_ctx *ctx, const char *f, const ynode *m, const char *key, const char *why)
{
    return strata_yaml_bad_key(ctx, f, m, key, why);
}

/* penalty_factor: {term: factor, ...} (terms as `strata coef` prints them). */
static strata_status parse_pf(strata_ctx *ctx, const char *f, const ynode *m, strata_run_spec *s)
{
    const ynode *pf = strata_yaml_get(m, "penalty_factor");
    if (!pf)
        return STRATA_OK;
    if (pf->kind != YN_MAP || pf->n > STRATA_RUN_MAX_PF)
        return bad(ctx, f, m, "penalty_factor", "must be a mapping of at most 64 terms to factors >= 0, "
                   "e.g. {age: 0, sexM: 2}");
    for (size_t i = 0; i < pf->n; i++) {
        double v = -1;
        STRATA_TRY(strata_yaml_double(ctx, f, pf, pf->keys[i], &v));
        if (!(v >= 0) || v > 1e6)
            return bad(ctx, f, pf, pf->keys[i], "a penalty factor is a number >= 0 (0 leaves the term unpenalised)");
        s->pf_term[i] = pf->keys[i];
        s->pf_value[i] = v;
    }
    s->enet.penalty_term = s->pf_term;
    s->enet.penalty_value = s->pf_value;
    s->enet.n_penalty = pf->n;
    return STRATA_OK;
}

strata_status run_elnet_parse(strata_ctx *ctx, const char *f, const ynode *m, strata_run_spec *s)
{
    const char *select = NULL;
    long folds = 0, nlambda = 100, seed = 1;
    strata_elnet_params_init(&s->enet);
    if (!strata_yaml_get(m, "alpha")) {
        for (size_t k = 1; run_elnet_keys[k]; k++)
            if (strata_yaml_get(m, run_elnet_keys[k]))
                return bad(ctx, f, m, run_elnet_keys[k], "is an elastic-net key: give model.alpha too");
        return STRATA_OK;
    }
    if (s->model_load)
        return bad(ctx, f, m, "alpha", "fits an elastic net: give formula, not load");
    s->elnet = 1;
    STRATA_TRY(strata_yaml_double(ctx, f, m, "alpha", &s->enet.alpha));
    if (!(s->enet.alpha >= 0 && s->enet.alpha <= 1))
        return bad(ctx, f, m, "alpha", "must be between 0 (ridge) and 1 (lasso)");
    if (s->family && !strcmp(s->family, "cox") && s->ties && strcmp(s->ties, "breslow"))
        return bad(ctx, f, m, "ties", "the Cox elastic net uses Breslow ties (glmnet's coxnet): give ties: breslow");
    STRATA_TRY(strata_yaml_long(ctx, f, m, "cv", &folds));
    if (folds != 0 && (folds < 3 || folds > 100))
        return bad(ctx, f, m, "cv", "the number of folds is 3 to 100 (or 0: no CV, the last lambda)");
    s->enet.cv_folds = (size_t)folds;
    STRATA_TRY(strata_yaml_long(ctx, f, m, "nlambda", &nlambda));
    if (nlambda < 1 || nlambda > 1000)
        return bad(ctx, f, m, "nlambda", "must be 1 to 1000");
    s->enet.nlambda = (size_t)nlambda;
    STRATA_TRY(strata_yaml_double(ctx, f, m, "lambda_min_ratio", &s->enet.lambda_min_ratio));
    if (!(s->enet.lambda_min_ratio >= 0 && s->enet.lambda_min_ratio < 1))
        return bad(ctx, f, m, "lambda_min_ratio", "must be in [0, 1) (0: glmnet's default)");
    STRATA_TRY(strata_yaml_str(ctx, f, m, "select", &select));
    if (select && strcmp(select, "min") && strcmp(select, "1se"))
        return bad(ctx, f, m, "select", "must be min (lambda.min) or 1se (lambda.1se, the default)");
    s->enet.select_min = select && !strcmp(select, "min");
    if (select && !folds)
        return bad(ctx, f, m, "select", "selects by cross-validation: give model.cv too");
    STRATA_TRY(strata_yaml_long(ctx, f, m, "seed", &seed));
    if (seed < 0)
        return bad(ctx, f, m, "seed", "must be >= 0");
    s->enet.seed = (unsigned long long)seed;
    return parse_pf(ctx, f, m, s);
}

strata_status run_elnet_fit(strata_ctx *ctx, const strata_run_spec *s, strata_cohort *cohort,
                            const strata_glm_params *gp, const char *model_path, strata_manifest *man,
                            strata_model **model, strata_elnet **el)
{
    /* with the context's ranks (engine/run/run.c sent them this fit: no CV)
     * the path runs across them; else on this process alone */
    STRATA_TRY(strata_elnet_fit(ctx, cohort, gp, &s->enet, model, el));
    STRATA_TRY(strata_elnet_save(ctx, *model, *el, model_path));
    return run_elnet_manifest(s, *el, man);
}

strata_status run_elnet_manifest(const strata_run_spec *s, const strata_elnet *el, strata_manifest *man)
{
    size_t k = strata_elnet_selected(el);
    STRATA_TRY(strata_manifest_output(man, "model.h5", "model"));
    STRATA_TRY(strata_manifest_num(man, "elnet.alpha", s->enet.alpha));
    STRATA_TRY(strata_manifest_num(man, "elnet.lambda", strata_elnet_lambda(el, k)));
    STRATA_TRY(strata_manifest_int(man, "elnet.lambda_step", (long long)k + 1));
    STRATA_TRY(strata_manifest_int(man, "elnet.nonzero", strata_elnet_df(el, k)));
    STRATA_TRY(strata_manifest_int(man, "elnet.folds", (long long)s->enet.cv_folds));
    if (s->enet.cv_folds) {
        STRATA_TRY(strata_manifest_str(man, "elnet.select", s->enet.select_min ? "lambda.min" : "lambda.1se"));
        STRATA_TRY(strata_manifest_str(man, "elnet.cv_measure", strata_elnet_cv_measure(el)));
        STRATA_TRY(strata_manifest_int(man, "seeds.elnet_folds", (long long)s->enet.seed));
    }
    return STRATA_OK;
}

int run_elnet_card(const strata_elnet *e, const strata_run_spec *s, size_t k, const char **key, char *val,
                   size_t size)
{
    size_t sel = strata_elnet_selected(e), ncv = strata_elnet_cv_steps(e);
    switch (k) {
    case 0:
        *key = "Elastic net";
        snprintf(val, size, "alpha %g, %zu lambdas on the path", s->enet.alpha, strata_elnet_nsteps(e));
        return 1;
    case 1:
        *key = "Lambda chosen";
        if (ncv)
            snprintf(val, size, "%.6g (%s by %zu-fold CV, seed %llu; lambda.min %.6g, lambda.1se %.6g)",
                     strata_elnet_lambda(e, sel), s->enet.select_min ? "lambda.min" : "lambda.1se",
                     s->enet.cv_folds, s->enet.seed, strata_elnet_lambda(e, strata_elnet_cv_min(e)),
                     strata_elnet_lambda(e, strata_elnet_cv_1se(e)));
        else
            snprintf(val, size, "%.6g (the last of the path; no CV)", strata_elnet_lambda(e, sel));
        return 1;
    case 2:
        *key = "Non-zero terms";
        snprintf(val, size, "%d", strata_elnet_df(e, sel));
        return 1;
    default:
        return 0;
    }
}
