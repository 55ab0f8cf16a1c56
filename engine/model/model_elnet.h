/* engine/model_elnet.h — the elastic-net extras of a model file (/elnet:
 * path and CV curve) read and written beside the GLM part by model_io.c.
 * Invariant: a file without /elnet is a plain GLM and reads back with no path. */
#ifndef STRATA_MODEL_ELNET_H
#define STRATA_MODEL_ELNET_H

#include "elnet_internal.h"

#include <hdf5.h>

/* Writes group /elnet; 0 on success, -1 on an HDF5 failure. */
int elnet_store_write(hid_t file, const elnet_fitted *r);
/* Reads /elnet when present (r->path stays NULL otherwise); p = the model's
 * terms after the intercept. STRATA_EFORMAT naming what does not match. */
strata_status elnet_store_read(strata_ctx *ctx, hid_t file, const char *path, size_t p, elnet_fitted *r);

#endif
