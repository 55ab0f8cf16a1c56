/* engine/run/run_elnet.h — the elastic net inside `strata run` (model: {alpha:,
 * cv:, ...}; docs/run-spec.md): the spec keys, the fit with its model file and
 * manifest entries, and the model card's lines. Kept apart from run.c and
 * run_spec.c so the GLM job reads as before. Internal to libstrata. */
#ifndef STRATA_RUN_ELNET_H
#define STRATA_RUN_ELNET_H

#include "manifest.h"
#include "strata/run.h"
#include "yaml_tree.h"

/* The model keys the elastic net adds (NULL-terminated). */
extern const char *const run_elnet_keys[];
/* Reads alpha, cv, nlambda, lambda_min_ratio, select, seed and penalty_factor
 * from the model mapping m of spec file f into s (s->elnet = 1 when alpha is
 * given); any of the others without alpha, or family cox with ties other than
 * breslow, is ESPEC. */
strata_status run_elnet_parse(strata_ctx *ctx, const char *f, const ynode *m, strata_run_spec *s);
/* Fits the path (and CV) of gp over the cohort with s's settings, saves the
 * model file (with /elnet) to model_path and records alpha, the chosen lambda,
 * the rule, the folds and their seed in the manifest. */
strata_status run_elnet_fit(strata_ctx *ctx, const strata_run_spec *s, strata_cohort *cohort,
                            const strata_glm_params *gp, const char *model_path, strata_manifest *man,
                            strata_model **model, strata_elnet **el);
/* The manifest entries of the fit: model.h5, alpha, the chosen lambda, the rule,
 * the folds and their seed. */
strata_status run_elnet_manifest(const strata_run_spec *s, const strata_elnet *el, strata_manifest *man);
/* family cox with alpha (engine/run/run_elnet_cox.c): the penalised Cox fit of
 * cp's formula and weights, its model file (with /elnet) and manifest entries. */
strata_status run_elnet_cox_fit(strata_ctx *ctx, const strata_run_spec *s, strata_cohort *cohort,
                                const strata_cox_params *cp, const char *model_path, strata_manifest *man,
                                strata_cox **model, strata_elnet **el);
/* Model card line k of the fit (key and text into val); 0 past the last. */
int run_elnet_card(const strata_elnet *e, const strata_run_spec *s, size_t k, const char **key,
                   char *val, size_t size);

#endif
