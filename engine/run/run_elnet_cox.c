/* engine/run/run_elnet_cox.c — `strata run` with model: {family: cox, alpha:, cv:,
 * ...}: the penalised Cox fit through strata/elnet.h (the same call as `strata fit
 * --family cox --alpha`, so the same seed gives the same coefficients), model.h5 as
 * an ordinary Cox model file with its /elnet group, and the manifest entries of the
 * GLM elastic net. Invariant: the rest of the job sees an ordinary strata_cox. */
#include "run_elnet.h"

strata_status run_elnet_cox_fit(strata_ctx *ctx, const strata_run_spec *s, strata_cohort *cohort,
                                const strata_cox_params *cp, const char *model_path, strata_manifest *man,
                                strata_cox **model, strata_elnet **el)
{
    strata_cox_params p = *cp;
    p.ties = STRATA_COX_BRESLOW; /* glmnet's coxnet (run_elnet_parse refuses ties: efron) */
    STRATA_TRY(strata_elnet_cox_fit(ctx, cohort, &p, &s->enet, model, el));
    STRATA_TRY(strata_elnet_cox_save(ctx, *model, *el, model_path));
    return run_elnet_manifest(s, *el, man);
}
