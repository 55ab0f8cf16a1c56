/* engine/model/model_elnet.h — the public elastic-net handle (strata/elnet.h) shared
 * by the GLM path (model_elnet.c) and the Cox path (model_elnet_cox.c): the path and
 * CV curve beside the selected model. Internal to libstrata. */
#ifndef STRATA_MODEL_ELNET_H
#define STRATA_MODEL_ELNET_H

#include "elnet_internal.h"
#include "strata/elnet.h"

struct strata_elnet {
    elnet_fitted r;
};

/* The elastic-net spec of the public parameters and a formula (model_elnet.c). */
void model_elnet_spec(const strata_elnet_params *ep, const char *formula, elnet_spec *sp);

#endif
