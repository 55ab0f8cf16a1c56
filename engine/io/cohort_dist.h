/* engine/io/cohort_dist.h — a cohort opened by every rank at once (parallel
 * HDF5, MPI-IO driver): its row reads are collective, so every rank must make
 * the same reads in the same order (a rank with nothing to read passes n = 0).
 * Invariant: without a communicator on ctx it is the ordinary open. */
#ifndef STRATA_COHORT_DIST_H
#define STRATA_COHORT_DIST_H

#include "internal.h"
#include "strata/cohort.h"

/* Collective: every rank opens path; an open failing on any rank fails on all
 * (the lowest failing rank's message). Closed with strata_cohort_close, also
 * collectively. */
strata_status strata_cohort_open_dist(strata_ctx *ctx, const char *path, strata_cohort **out);

/* From now on this rank's row reads of c are its own (independent MPI-IO
 * transfers): it may read any rows, any number of times, without the other
 * ranks. Nothing to do on a cohort opened by one process. Not collective. */
strata_status strata_cohort_own_reads(strata_ctx *ctx, strata_cohort *c);

#endif
