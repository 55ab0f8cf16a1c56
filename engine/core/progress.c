/* engine/core/progress.c — progress of long work for a program's bar or log
 * line: stages (import, synth, derive, fit, bootstrap, cv, report, ...) report
 * how far they are at block granularity; this forwards at most every 0.2 s
 * per stage (plus each stage's first and last report) to the callback set by
 * strata_ctx_set_progress. A stage nested in another (the refits of a
 * bootstrap) stays quiet: the stage that reported first owns the line until
 * it reports its end. Invariant: progress only ever calls the callback —
 * nothing computed depends on it, so outputs are the same with or without. */
#include "internal.h"

#include <string.h>
#include <time.h>

#define PROGRESS_MIN_INTERVAL 0.2 /* seconds between forwarded reports of a stage */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void strata_ctx_set_progress(strata_ctx *ctx, strata_ctx_progress_fn fn, void *ud)
{
    if (!ctx)
        return;
    ctx->progress = fn;
    ctx->progress_ud = ud;
    ctx->progress_owner[0] = '\0';
    ctx->progress_last = 0;
}

void strata_progress(strata_ctx *ctx, const char *stage, double done, double total)
{
    if (!ctx || !ctx->progress || !stage)
        return;
#pragma omp critical /* unnamed: a named one is an exported symbol */
    {
        int end = total > 0 ? done >= total : done < 0;
        int mine = !strcmp(ctx->progress_owner, stage);
        double t = mono_now();
        if (!ctx->progress_owner[0]) { /* a new stage takes the line */
            snprintf(ctx->progress_owner, sizeof ctx->progress_owner, "%s", stage);
            ctx->progress_last = 0;
            ctx->progress_done = -1;
            mine = 1;
        }
        /* forward the owner's reports: the first, its end, and others at most
         * every PROGRESS_MIN_INTERVAL; a report older than one already sent
         * (another thread's, late) is dropped */
        if (mine && (end || (done > ctx->progress_done &&
                             t - ctx->progress_last >= PROGRESS_MIN_INTERVAL))) {
            ctx->progress_last = t;
            ctx->progress_done = done;
            ctx->progress(ctx->progress_ud, stage, done, total);
        }
        if (mine && end)
            ctx->progress_owner[0] = '\0';
    }
}

void strata_progress_reset(strata_ctx *ctx)
{
    if (ctx)
        ctx->progress_owner[0] = '\0';
}
