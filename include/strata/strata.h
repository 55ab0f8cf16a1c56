/* strata/strata.h — the whole public API of libstrata. Include this, link
 * -lstrata (pkg-config strata, or find_package(strata) → strata::strata). */
#ifndef STRATA_H
#define STRATA_H

#include "strata/core.h"
#include "strata/cohort.h"
#include "strata/run.h"
#include "strata/csvio.h"
#include "strata/synth.h"
#include "strata/model.h"
#include "strata/run.h"
#include "strata/synth.h"
#include "strata/evaluate.h"
#include "strata/stratify.h"
#include "strata/csvio.h"

#endif
