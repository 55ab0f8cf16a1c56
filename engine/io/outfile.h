/* engine/io/outfile.h — output files written atomically (engine/io/outfile.c):
 * a temporary beside the final path created with its final mode, renamed into
 * place only when complete; and the one RFC 4180 CSV field quoter. */
#ifndef STRATA_OUTFILE_H
#define STRATA_OUTFILE_H

#include "internal.h"

#include <stdio.h>

/* Atomic publication of an output file: write to tmp (from strata_tmp_path),
 * then strata_publish renames it over final. mode is applied before rename
 * (0600 for patient-level files, 0644 otherwise). */
char *strata_tmp_path(strata_ctx *ctx, const char *final_path);
strata_status strata_publish(strata_ctx *ctx, const char *tmp_path, const char *final_path,
                             unsigned mode);

/* strata_out_open creates the temporary file with its final mode (0600
 * patient-level, 0644 aggregate) and returns it with *tmp set;
 * strata_out_publish closes it and renames it over path (removing it on any
 * write error). */
FILE *strata_out_open(strata_ctx *ctx, const char *path, unsigned mode, char **tmp);
strata_status strata_out_publish(strata_ctx *ctx, FILE *f, char *tmp, const char *path,
                                 unsigned mode);
/* Writes s as one RFC 4180 field: quoted when it holds a comma, quote, CR or LF. */
void strata_csv_field(FILE *f, const char *s);

#endif
