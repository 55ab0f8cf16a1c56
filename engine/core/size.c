/* engine/core/size.c — byte sizes as people write them (`--mem-limit 4G`,
 * `memory: 512M` in a run spec): a whole number with an optional binary suffix
 * K, M, G or T (KiB ... TiB; a trailing "B" or "iB" is accepted). Invariant: no
 * overflow is ever accepted. */
#include "internal.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

int strata_parse_size(const char *s, size_t *out)
{
    static const char SUFFIX[] = "KMGT";
    uint64_t v = 0;
    unsigned shift = 0;
    const char *p = s, *k;
    if (!s || !isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p && (k = strchr(SUFFIX, toupper((unsigned char)*p))) != NULL) {
        shift = 10u * (unsigned)(k - SUFFIX + 1);
        p++;
        if (*p == 'i')
            p++;
    }
    if (*p == 'B' || *p == 'b')
        p++;
    if (*p || (shift && v > (UINT64_MAX >> shift)) || (v << shift) > SIZE_MAX)
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}
