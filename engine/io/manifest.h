/* engine/io/manifest.h — manifest.json of a run: inputs with SHA-256, spec,
 * software versions and the OpenBLAS configuration, threads, seeds, outputs
 * (with their kind: patient-level or aggregate) and per-stage timings. */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include "internal.h"

typedef struct strata_manifest strata_manifest;

strata_status strata_manifest_new(strata_ctx *ctx, strata_manifest **out);
void strata_manifest_free(strata_manifest *m); /* accepts NULL */
/* Records an input file and its SHA-256 under inputs[role] (each file is
 * read for its hash once per manifest: see strata_manifest_known_hash). */
strata_status strata_manifest_input(strata_manifest *m, const char *role, const char *path);
/* The same, recording `recorded` as its path (a staged file's final name). */
strata_status strata_manifest_input_as(strata_manifest *m, const char *role, const char *path,
                                       const char *recorded);
/* Tells the manifest the SHA-256 (64 hex digits) of path, computed elsewhere
 * (a model's provenance hash of its input): recording or hashing the same
 * file later, unchanged (device, inode, size, modification time), reuses it
 * instead of reading the file again. Ignored when path cannot be stat'ed or
 * hex is not 64 digits. */
void strata_manifest_known_hash(strata_manifest *m, const char *path, const char *hex);
/* 1 when the manifest has hashed path and the file is unchanged since. */
int strata_manifest_knows(const strata_manifest *m, const char *path);
/* path's SHA-256: the known one when unchanged, else read and hashed (and
 * remembered). */
strata_status strata_manifest_hash(strata_manifest *m, const char *path, char hex[65]);
/* Top-level scalar fields (key may be "section.key" for one level of nesting). */
strata_status strata_manifest_str(strata_manifest *m, const char *key, const char *value);
strata_status strata_manifest_num(strata_manifest *m, const char *key, double value);
strata_status strata_manifest_int(strata_manifest *m, const char *key, long long value);
/* Appends {stage, seconds} to timings. */
strata_status strata_manifest_timing(strata_manifest *m, const char *stage, double seconds);
/* Appends an output file: kind "patient" (mode 0600) or "aggregate". */
strata_status strata_manifest_output(strata_manifest *m, const char *path, const char *kind);
/* The outputs recorded so far, in order. */
size_t strata_manifest_n_outputs(const strata_manifest *m);
const char *strata_manifest_output_path(const strata_manifest *m, size_t k);
/* Adds the SHA-256 of each output (read from dir/<path>) to its entry. */
strata_status strata_manifest_hash_outputs(strata_manifest *m, const char *dir);
/* Writes the manifest atomically to path (mode 0644). */
strata_status strata_manifest_write(strata_manifest *m, const char *path);

#endif
