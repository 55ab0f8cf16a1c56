/* engine/report/report_internal.h — what the report's writers share: area
 * names from data/reference/areas.csv (report_names.c) and the glossary of
 * aggregate-table columns. */
#ifndef STRATA_REPORT_INTERNAL_H
#define STRATA_REPORT_INTERNAL_H

#include "internal.h"
#include "strata/strata.h"

typedef struct report_names report_names;
/* Loads <dir>/areas.csv (type,code,name); dir NULL = the reference directory
 * strata_synth_locate_data finds. No file is not an error: every lookup then
 * gives NULL (reports show codes only). */
strata_status report_names_load(strata_ctx *ctx, const char *dir, report_names **out);
void report_names_free(strata_ctx *ctx, report_names *n); /* NULL ok */
/* Name of an area ("PCN", "ICB", "SUB_ICB", "REGION"), or NULL. */
const char *report_name(const report_names *n, const char *type, const char *code);
/* A PCN name as a reader expects it: "WREKIN PCN" -> "Wrekin PCN" into buf. */
const char *report_name_tidy(const char *name, char *buf, size_t size);

/* What a column of an aggregate table means, in a sentence (glossary of the
 * README sheet and the report's headers); "" when unknown. */
const char *report_column_meaning(const char *col, char *buf, size_t size);

/* The disclosure rules p applied (NULL = the defaults), in a paragraph
 * (report_rules.c); returns buf. */
const char *report_disclosure_rules(const strata_sdc_params *p, char *buf, size_t size);

#endif
