/* engine/core/scratch.h — an owner-only scratch file for data that a stage
 * streams back in later passes (the sorted Cox design under a memory budget:
 * docs/scale.md). Invariant: the file has no name from the moment it is made
 * (O_TMPFILE, or created 0600 and unlinked at once), so it is gone on every exit
 * path — error, signal or kill -9 — once its descriptor is closed. */
#ifndef STRATA_SCRATCH_H
#define STRATA_SCRATCH_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct strata_scratch strata_scratch;

/* Makes a scratch file in dir (NULL: the context's scratch directory,
 * strata_ctx_set_scratch_dir, else $TMPDIR, else /tmp); what names its use in
 * messages. STRATA_EIO naming the directory when it cannot be made. */
strata_status strata_scratch_open(strata_ctx *ctx, const char *dir, const char *what, strata_scratch **out);
/* n bytes at byte offset off; STRATA_EIO naming the directory, offset and errno. */
strata_status strata_scratch_write(strata_ctx *ctx, strata_scratch *s, uint64_t off, const void *buf, size_t n);
strata_status strata_scratch_read(strata_ctx *ctx, strata_scratch *s, uint64_t off, void *buf, size_t n);
/* The same read without a context (for a prefetch thread): 0 or an errno value. */
int strata_scratch_pread(const strata_scratch *s, uint64_t off, void *buf, size_t n);
/* The directory the file is in (for messages). */
const char *strata_scratch_dir(const strata_scratch *s);
void strata_scratch_close(strata_ctx *ctx, strata_scratch *s); /* accepts NULL */

#endif
