/* engine/io/outfile.h — output files written atomically (engine/io/outfile.c):
 * a temporary beside the final path created O_EXCL|O_NOFOLLOW with its final
 * mode, renamed into place only when complete and never over an input of the
 * job; and the one RFC 4180 CSV field writer (formula cells neutralised). */
#ifndef STRATA_OUTFILE_H
#define STRATA_OUTFILE_H

#include "internal.h"

#include <stdio.h>

/* Creates the temporary for final_path (<final>.tmp.<pid>, or with a random
 * suffix when that name is taken) with O_CREAT|O_EXCL|O_NOFOLLOW and the given
 * mode; returns its fd with *tmp set, or -1 (STRATA_EIO, or STRATA_EINVAL when
 * final_path is an input of this job: "<path>: is also an input ..."). The
 * temporary gets only mode's owner bits (mode & 0600); strata_publish gives
 * the final mode when it renames. */
int strata_tmp_create(strata_ctx *ctx, const char *final_path, unsigned mode, char **tmp);
/* 1 when pid names no live process (a killed strata's temporaries are stale). */
int strata_pid_is_dead(long pid);
/* A name under which a library that opens files by name (HDF5, libxlsxwriter)
 * reaches the very file behind fd: "/proc/self/fd/<fd>" in buf; tmp (the
 * temporary's own name) only where /proc is not mounted. */
const char *strata_fd_name(int fd, const char *tmp, char *buf, size_t n);
/* Atomic publication: strata_publish sets mode on the temporary itself
 * (refusing one that is no longer a regular file of ours) and renames it over
 * final (0600 for patient-level files, 0644 otherwise). */
strata_status strata_publish(strata_ctx *ctx, const char *tmp_path, const char *final_path,
                             unsigned mode);

/* strata_out_open creates the temporary file with its final mode (0600
 * patient-level, 0644 aggregate) and returns it with *tmp set;
 * strata_out_publish closes it and renames it over path (removing it on any
 * write error). */
FILE *strata_out_open(strata_ctx *ctx, const char *path, unsigned mode, char **tmp);
strata_status strata_out_publish(strata_ctx *ctx, FILE *f, char *tmp, const char *path,
                                 unsigned mode);
/* Writes s as one RFC 4180 field: quoted when it holds a comma, quote, CR or
 * LF; a text starting with = + - @ TAB or CR that is not a number gets a
 * leading ' so a spreadsheet shows it instead of executing it
 * (docs/reliability.md#csv-formula-injection). */
void strata_csv_field(FILE *f, const char *s);
/* 1 when strata_csv_field would prefix s with a quote. */
int strata_csv_needs_guard(const char *s);

#endif
