/* engine/mpi/mpi_world.c — the only MPI caller: starts MPI, and gives a
 * context the world's ranks as the byte-level collectives of engine/core/
 * comm.h plus the parallel-HDF5 property lists engine/io uses. Invariant: no
 * reduction here sums anything (MPI_Allreduce's order is the library's);
 * callers gather parts and sum them in a fixed order. MPI is per process, so
 * the world's communicator is the one process-wide object of libstrata. */
#include "comm.h"
#include "strata/mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STRATA_MPI
#include <hdf5.h>
#include <limits.h>
#include <mpi.h>

static int started; /* strata_mpi_init called MPI_Init_thread */
static strata_comm world;
static char launcher[160], layout[1024];
static char names[STRATA_MPI_MAX_RANKS][MPI_MAX_PROCESSOR_NAME]; /* every rank's node */

/* MPI counts are int: gathers of more than 2 GiB per rank go as MPI_BYTE in
 * pieces of a derived type. Here: refused (a block partial is 32 kB). The
 * count arrays live on the stack (strata_mpi_init refuses a world of more than
 * STRATA_MPI_MAX_RANKS): nothing is allocated inside a collective, where a
 * failure on one rank would leave the others waiting in MPI_Allgatherv
 * forever, and nothing escapes the context's allocator (issue 17's sweep). */
static strata_status w_allgatherv(void *ud, const void *send, void *recv, const size_t *counts,
                                  const size_t *displs)
{
    int n = world.size, rc[STRATA_MPI_MAX_RANKS], rd[STRATA_MPI_MAX_RANKS];
    int e;
    (void)ud;
    if (n > STRATA_MPI_MAX_RANKS)
        return STRATA_EINVAL;
    for (int r = 0; r < n; r++) {
        if (counts[r] > INT_MAX || displs[r] > INT_MAX)
            return STRATA_EINVAL;
        rc[r] = (int)counts[r];
        rd[r] = (int)displs[r];
    }
    if (send)
        e = MPI_Allgatherv(send, rc[world.rank], MPI_BYTE, recv, rc, rd, MPI_BYTE, MPI_COMM_WORLD);
    else
        e = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, rc, rd, MPI_BYTE, MPI_COMM_WORLD);
    return e == MPI_SUCCESS ? STRATA_OK : STRATA_EIO;
}

static strata_status w_bcast(void *ud, void *buf, size_t n, int root)
{
    (void)ud;
    if (n > INT_MAX)
        return STRATA_EINVAL;
    return MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD) == MPI_SUCCESS ? STRATA_OK : STRATA_EIO;
}

static strata_status w_send(void *ud, const void *buf, size_t n, int to)
{
    (void)ud;
    if (n > INT_MAX)
        return STRATA_EINVAL;
    return MPI_Send(buf, (int)n, MPI_BYTE, to, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? STRATA_OK : STRATA_EIO;
}

static strata_status w_recv(void *ud, void *buf, size_t n, int from)
{
    (void)ud;
    if (n > INT_MAX)
        return STRATA_EINVAL;
    return MPI_Recv(buf, (int)n, MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_SUCCESS
               ? STRATA_OK
               : STRATA_EIO;
}

static int64_t w_fapl(void *ud)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    (void)ud;
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        fapl = H5I_INVALID_HID;
    }
    return (int64_t)fapl;
}

/* The row reads' transfer list. STRATA_MPIIO chooses (docs/scale.md#mpi):
 * "collective" (the default: H5FD_MPIO_COLLECTIVE, MPI-IO's collective
 * buffering underneath), "individual" (collective at the HDF5 level, each
 * rank's own contiguous reads underneath) or "independent" (no collective
 * call at all: the fastest where ranks share oversubscribed cores, as every
 * collective call waits for the slowest rank's time slice). own: always
 * independent (a rank streaming its blocks reads alone, docs/scale.md#mpi). */
static int64_t w_dxpl(void *ud, int own)
{
    const char *e = own ? "independent" : getenv("STRATA_MPIIO");
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    herr_t rc = 0;
    (void)ud;
    if (dxpl < 0)
        return (int64_t)dxpl;
    if (e && !strcmp(e, "independent"))
        rc = H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
    else
        rc = H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (rc >= 0 && e && !strcmp(e, "individual"))
        rc = H5Pset_dxpl_mpio_collective_opt(dxpl, H5FD_MPIO_INDIVIDUAL_IO);
    if (rc < 0) {
        H5Pclose(dxpl);
        dxpl = H5I_INVALID_HID;
    }
    return (int64_t)dxpl;
}

/* How this process was started, from the launcher's environment. */
static void find_launcher(void)
{
    const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");
    if (getenv("SLURM_PROCID") && step)
        snprintf(launcher, sizeof launcher, "srun (Slurm job %s, step %s)", job ? job : "?", step);
    else if (getenv("OMPI_COMM_WORLD_SIZE"))
        snprintf(launcher, sizeof launcher, "mpirun (Open MPI)");
    else if (getenv("PMIX_RANK") || getenv("PMI_RANK"))
        snprintf(launcher, sizeof launcher, "a PMI launcher");
    else
        snprintf(launcher, sizeof launcher, "unknown");
}

/* The nodes of the world in order of their first rank, with rank counts: one
 * all-gather of the processor names at start (into static storage: nothing
 * is allocated inside a collective). */
static strata_status find_layout(void)
{
    char me[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    size_t at = 0;
    memset(me, 0, sizeof me);
    if (MPI_Get_processor_name(me, &len) != MPI_SUCCESS)
        snprintf(me, sizeof me, "?");
    if (MPI_Allgather(me, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names, MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
        return STRATA_EIO;
    world.nodes = 0;
    layout[0] = 0;
    for (int r = 0; r < world.size; r++) {
        int first = 1, count = 0;
        names[r][MPI_MAX_PROCESSOR_NAME - 1] = 0;
        for (int q = 0; q < r && first; q++)
            first = strcmp(names[q], names[r]) != 0;
        if (!first)
            continue;
        for (int q = r; q < world.size; q++)
            count += !strcmp(names[q], names[r]);
        world.nodes++;
        if (at < sizeof layout - 1) {
            int k = snprintf(layout + at, sizeof layout - at, "%s%s: %d rank%s", r ? ", " : "",
                             names[r], count, count == 1 ? "" : "s");
            at = k > 0 ? at + (size_t)k : at;
        }
    }
    if (at >= sizeof layout - 1) /* too many nodes to name: say how many */
        snprintf(layout, sizeof layout, "%d nodes (too many to list)", world.nodes);
    return STRATA_OK;
}

strata_status strata_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return STRATA_EIO;
        started = 1;
        if (provided < MPI_THREAD_FUNNELED)
            return STRATA_EIO;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    *rank = world.rank;
    *size = world.size;
    if (world.size > STRATA_MPI_MAX_RANKS)
        return STRATA_EINVAL;
    world.allgatherv = w_allgatherv;
    world.bcast = w_bcast;
    world.send = w_send;
    world.recv = w_recv;
    world.h5_fapl = w_fapl;
    world.h5_dxpl = w_dxpl;
    find_launcher();
    world.launcher = launcher;
    world.layout = layout;
    return find_layout();
}

void strata_mpi_attach(strata_ctx *ctx)
{
    if (world.size > 1)
        strata_ctx_set_comm(ctx, &world);
}

void strata_mpi_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (started && !fin)
        MPI_Finalize();
    started = 0;
}

void strata_mpi_abort(int code)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (inited)
        MPI_Abort(MPI_COMM_WORLD, code);
}

void strata_mpi_version(char *buf, size_t size)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    unsigned maj = 0, min = 0, rel = 0;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, size, "%s; parallel HDF5 %u.%u.%u", v, maj, min, rel);
}

#else /* the serial build: one rank, nothing attached */

strata_status strata_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    *size = 1;
    return STRATA_OK;
}

void strata_mpi_attach(strata_ctx *ctx)
{
    (void)ctx;
}
void strata_mpi_finalize(void) {}
void strata_mpi_abort(int code)
{
    (void)code;
}
void strata_mpi_version(char *buf, size_t size)
{
    snprintf(buf, size, "none");
}

#endif

void strata_mpi_detach(strata_ctx *ctx)
{
    strata_ctx_set_comm(ctx, NULL);
}
