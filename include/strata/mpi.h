/* strata/mpi.h — running strata over MPI ranks (docs/scale.md#mpi). In a build
 * with -DSTRATA_MPI=ON these start MPI (MPI_THREAD_FUNNELED) and attach the
 * world's ranks to a context, so that strata_glm_fit reads each rank's slab of
 * rows with collective parallel-HDF5 reads and combines the block partials in
 * block order: the same bytes for any number of ranks. In the serial build
 * they report one rank and attach nothing. */
#ifndef STRATA_MPI_H
#define STRATA_MPI_H

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most ranks strata runs on (the gathers keep their per-rank counts on
 * the stack: nothing is allocated inside a collective). */
#define STRATA_MPI_MAX_RANKS 1024

/* Starts MPI once per process (MPI_Init_thread, MPI_THREAD_FUNNELED: only the
 * thread that called this calls MPI) unless it is already running; *rank and
 * *size are this process and the number of ranks (0 and 1 in a serial build
 * or a singleton). STRATA_EIO when MPI cannot start or the thread level is
 * not provided; STRATA_EINVAL (with *size set) for a world of more than
 * STRATA_MPI_MAX_RANKS ranks. */
STRATA_API strata_status strata_mpi_init(int *argc, char ***argv, int *rank, int *size);
/* Attaches the world's ranks to ctx (nothing with one rank): distributed
 * steps then need every rank to make the same calls in the same order. */
STRATA_API void strata_mpi_attach(strata_ctx *ctx);
/* Detaches them: later calls on ctx run on this rank alone. */
STRATA_API void strata_mpi_detach(strata_ctx *ctx);
/* Ends MPI if strata_mpi_init started it. */
STRATA_API void strata_mpi_finalize(void);
/* Ends every rank with code (MPI_Abort): for a CLI whose ranks disagree. */
STRATA_API void strata_mpi_abort(int code);
/* "none" in a serial build; else the MPI library's version line and the
 * parallel HDF5 build, into buf. */
STRATA_API void strata_mpi_version(char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
