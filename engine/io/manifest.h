/* engine/io/manifest.h — manifest.json of a run: inputs with SHA-256, spec,
 * software versions and the OpenBLAS configuration, threads, seeds, outputs
 * (with their kind: patient-level or aggregate) and per-stage timings. */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include "internal.h"

typedef struct strata_manifest strata_manifest;

strata_status strata_manifest_new(strata_ctx *ctx, strata_manifest **out);
void strata_manifest_free(strata_manifest *m); /* accepts NULL */
/* Records an input file and its SHA-256 under inputs[role]. */
strata_status strata_manifest_input(strata_manifest *m, const char *role, const char *path);
/* Top-level scalar fields (key may be "section.key" for one level of nesting). */
strata_status strata_manifest_str(strata_manifest *m, const char *key, const char *value);
strata_status strata_manifest_num(strata_manifest *m, const char *key, double value);
strata_status strata_manifest_int(strata_manifest *m, const char *key, long long value);
/* Appends {stage, seconds} to timings. */
strata_status strata_manifest_timing(strata_manifest *m, const char *stage, double seconds);
/* Appends an output file: kind "patient" (mode 0600) or "aggregate". */
strata_status strata_manifest_output(strata_manifest *m, const char *path, const char *kind);
/* Writes the manifest atomically to path (mode 0644). */
strata_status strata_manifest_write(strata_manifest *m, const char *path);

#endif
