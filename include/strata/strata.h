/* strata/strata.h — the whole public API of libstrata. Include this, link
 * -lstrata (pkg-config strata, or find_package(strata) → strata::strata). */
#ifndef STRATA_H
#define STRATA_H

#include "strata/core.h"     /* context, status, allocation, logging */
#include "strata/dist.h"     /* normal/gamma quantiles, exact Poisson and O/E intervals */
#include "strata/cohort.h"   /* cohort format v1: reader, writer, validate */
#include "strata/csvio.h"    /* CSV import / export */
#include "strata/synth.h"    /* synthetic cohorts */
#include "strata/model.h"    /* GLM fit, model files, scoring */
#include "strata/cox.h"      /* Cox PH fit, hazard ratios, model files, risk at horizons */
#include "strata/elnet.h"    /* elastic-net paths and CV on GLM formulas */
#include "strata/evaluate.h" /* discrimination, calibration, yield, fairness, validation */
#include "strata/table.h"    /* aggregate tables and disclosure control */
#include "strata/stratify.h" /* tiers, segments, aggregation, standardisation, report */
#include "strata/run.h"      /* run spec and the whole job */
#include "strata/bench.h"    /* this node's limits (strata bench) */
#include "strata/derive.h"   /* dates, code lists, event import, derive */
#include "strata/mpi.h"      /* MPI ranks (optional build) */

#endif
