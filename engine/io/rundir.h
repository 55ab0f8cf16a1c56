/* engine/io/rundir.h — the output folder of a run (engine/io/rundir.c): every
 * output is written into a per-run staging directory inside the folder and
 * moved into place only when the whole run has succeeded, manifest.json last
 * (docs/reliability.md#run-folder). */
#ifndef STRATA_RUNDIR_H
#define STRATA_RUNDIR_H

#include "internal.h"

typedef struct strata_rundir {
    char final_dir[4096]; /* the output folder as given */
    char stage[4200];     /* <final>/.strata-run.<pid>.<hex>, 0700 */
    int dir_fd;           /* the output folder, locked (flock) for the whole run */
    int stage_fd;
} strata_rundir;

/* Creates the folder if needed and locks it (another live run into it is
 * STRATA_EIO); removes what killed runs left (staging directories, stale
 * temporaries); refuses a folder that already holds outputs (any name not
 * starting with '.', or an interrupted publication) unless overwrite
 * (STRATA_EINVAL naming the folder and what is in it); then creates the
 * staging directory. On failure nothing is left to end. */
strata_status strata_rundir_begin(strata_ctx *ctx, const char *outdir, int overwrite,
                                  strata_rundir *d);
/* Moves the staged outputs names[0..n-1] into the folder, then `last` (the
 * manifest). The outputs of the run being replaced (the old manifest's and an
 * interrupted publication's) are removed first and the old manifest before
 * them, so the folder never holds two runs' files beside a manifest; a
 * journal (.strata-publish) lists the names while they move, so a run killed
 * here is recognised and cleaned by the next. An output that is an input of
 * the job is refused (STRATA_EINVAL) before anything moves. */
strata_status strata_rundir_publish(strata_ctx *ctx, strata_rundir *d, size_t n,
                                    const char *const *names, const char *last);
/* Removes the staging directory (whatever is still in it) and unlocks the
 * folder; safe after a failed or successful publish. */
void strata_rundir_end(strata_rundir *d);

#endif
