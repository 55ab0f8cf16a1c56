/* tests/fuzz/fuzz_common.h — what the libFuzzer harnesses share: a context
 * that logs nothing, and the input written to a per-process scratch file for
 * readers that take a path. A harness never asserts on the status: any clean
 * return is fine; a sanitizer report or a signal is the finding. */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include "strata/strata.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline strata_ctx *fuzz_ctx(void)
{
    strata_ctx *ctx = NULL;
    if (strata_ctx_new(&ctx) != STRATA_OK)
        abort();
    strata_ctx_set_threads(ctx, 1);
    return ctx;
}

/* Writes data to /tmp/strata-fuzz-<pid>.<ext> and returns that path. */
static inline const char *fuzz_file(const char *ext, const uint8_t *data, size_t size)
{
    static char path[128];
    FILE *f;
    snprintf(path, sizeof path, "/tmp/strata-fuzz-%ld.%s", (long)getpid(), ext);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    return path;
}

#endif
