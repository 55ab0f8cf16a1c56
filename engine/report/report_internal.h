/* engine/report/report_internal.h — what the report's writers share: area
 * names from data/reference/areas.csv (report_names.c) and the glossary of
 * aggregate-table columns. */
#ifndef STRATA_REPORT_INTERNAL_H
#define STRATA_REPORT_INTERNAL_H

#include "internal.h"
#include "strata/strata.h"

#include <stdio.h>

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

/* The rules disclosed table t was published under (else fallback; neither:
 * 0 and "no aggregate table") into *rules, and as strata_sdc_describe words
 * them (plus a do-not-publish sentence when off) into buf (report_rules.c). */
int report_rules(const strata_table *t, const strata_sdc_params *fallback, strata_sdc_params *rules,
                 char *buf, size_t size);

/* The main report's pieces, for the one-page PCN packs (report_html.c):
 * escaped text, a disclosed cell as printed ("*" hidden), a visible value
 * (NaN hidden or absent), "Name PCN (CODE)", the tier pyramid of row i, the
 * funnel with one PCN highlighted (me, or NULL), the deprivation gradient of
 * an inequality row with its SII row ((size_t)-1: none), and the refusal of an undisclosed or patient-level table. */
void report_esc(FILE *f, const char *s);
void report_cell(const strata_table *t, int j, size_t i, char *buf, size_t n);
double report_val(const strata_table *t, const char *name, size_t i);
const char *report_area_label(const report_names *rn, const char *type, const char *code,
                              char *buf, size_t n);
void report_pyramid(FILE *f, const strata_table *t, size_t i, const char *label);
void report_funnel(FILE *f, const strata_table *t, const strata_funnel *fn, const report_names *rn,
                   const char *me);
void report_gradient(FILE *f, const strata_table *q, size_t r, const strata_table *sii, size_t rs,
                     const char *title);
/* Creates path (0644, published by strata_out_publish with *tmp) and writes
 * the page's head: title + suffix, the report's style sheet + extra_css. */
FILE *report_page_open(strata_ctx *ctx, const char *path, const char *title, const char *suffix,
                       const char *extra_css, char **tmp);
strata_status report_check_disclosed(strata_ctx *ctx, const strata_table *t, const char *path);

#endif
