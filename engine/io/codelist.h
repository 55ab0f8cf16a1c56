/* engine/io/codelist.h — the layout of a loaded code list, for derive, which
 * precomputes per-level matches. Rows keep file order; `order` sorts them by
 * normalised code (ties by row) so a match is a few binary searches. */
#ifndef STRATA_CODELIST_INTERNAL_H
#define STRATA_CODELIST_INTERNAL_H

#include "events_internal.h"
#include "strata/derive.h"

struct strata_codelist {
    strata_ctx *ctx;
    char *path;
    size_t n, cap;          /* rows */
    char **code;            /* normalised codes (n) */
    uint32_t *cat;          /* category ids (n) */
    unsigned char *match;   /* strata_code_match (n) */
    size_t *order;          /* rows sorted by code */
    uint64_t prefix_lens;   /* bit L-1 set when a prefix row has length L (<= 64) */
    strata_strtab cats;     /* category names */
    size_t ncol;            /* header columns */
    char **colname;         /* ncol */
    char ***field;          /* ncol arrays of n strings (raw text) */
    /* loading state */
    int icode, icat, imatch;
    strata_code_match dflt;
};

#endif
