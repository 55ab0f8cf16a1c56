/* labels: unit determinism */
/* tests/test_derive_dist.c — strata derive across ranks (engine/derive/derive.c,
 * docs/scale.md "MPI") without MPI: K threads as ranks (tests/thread_comm.c)
 * derive blocks of 65,536 patients dealt round them and rank 0 appends them in
 * block order. The features file must be byte-identical to one process's for
 * K = 2 and 3, and a table whose patient_row is out of order must be refused
 * with one process's message on every rank — also where a rank's binary
 * search for its first event steps over the disorder (before the fix, that
 * derive succeeded and dropped the events it never read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"
#include "thread_comm.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPAT 135000 /* three blocks of 65,536 patients */
#define BLOCK 65536
#define KMAX 3

typedef struct job {
    const char *in, *out;
    strata_status st[KMAX];
    char msg[KMAX][1024];
    strata_derive_report rep[KMAX];
} job;

/* A message without the " [file:line]" tags a debug build appends where an
 * error is raised and again where it is passed on. */
static void untagged(char *msg)
{
    char *t = strstr(msg, " [/");
    if (t)
        *t = 0;
}

static void derive_rank(strata_ctx *ctx, int rank, void *arg)
{
    job *j = arg;
    j->st[rank] = strata_derive(ctx, j->in, tu_src("data/specs/derive_default.yaml"), j->out,
                                &j->rep[rank]);
    snprintf(j->msg[rank], sizeof j->msg[rank], "%s", strata_ctx_errmsg(ctx));
    untagged(j->msg[rank]);
}

static void derive_one(job *j)
{
    strata_ctx *ctx = tu_ctx();
    j->st[0] = strata_derive(ctx, j->in, tu_src("data/specs/derive_default.yaml"), j->out, &j->rep[0]);
    snprintf(j->msg[0], sizeof j->msg[0], "%s", strata_ctx_errmsg(ctx));
    untagged(j->msg[0]);
    strata_ctx_free(ctx);
}

static void derive_ranks(job *j, int K)
{
    tc_stats s;
    tc_run(K, derive_rank, j, &s);
    assert_false(s.broken);   /* no rank waited for a collective the others left */
    assert_false(s.bad_size); /* every message taken with the size sent */
    assert_int_equal(s.unread, 0);
}

static const char *cohort(void)
{
    static int made;
    static char path[4096]; /* tu_tmp's buffers rotate */
    if (!made) {
        snprintf(path, sizeof path, "%s", tu_tmp("dist_events.h5"));
        strata_ctx *ctx = tu_ctx();
        strata_synth_params p;
        strata_synth *sy = NULL;
        strata_synth_params_init(&p);
        p.n_patients = NPAT;
        p.seed = 11;
        assert_status(ctx, strata_synth_new(ctx, &p, &sy), STRATA_OK);
        assert_status(ctx, strata_synth_write(ctx, sy, path, NULL), STRATA_OK);
        strata_synth_free(sy);
        strata_ctx_free(ctx);
        made = 1;
    }
    return path;
}

/* /events/spells/patient_row of path: read all (n rows) or write all back. */
static int32_t *spells_rows(const char *path, size_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, sp;
    hsize_t dims[1];
    int32_t *v;
    assert_true(f >= 0);
    d = H5Dopen2(f, "/events/spells/patient_row", H5P_DEFAULT);
    assert_true(d >= 0);
    sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    *n = (size_t)dims[0];
    v = malloc(*n * sizeof *v + 1);
    assert_true(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static void put_row(const char *path, size_t e, int32_t value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d, fs, ms;
    hsize_t at[1] = {e}, one[1] = {1};
    assert_true(f >= 0);
    d = H5Dopen2(f, "/events/spells/patient_row", H5P_DEFAULT);
    fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, at, NULL, one, NULL);
    ms = H5Screate_simple(1, one, NULL);
    assert_true(H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, &value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_derive_dist__same_file_as_one_process(void **state)
{
    (void)state;
    char out1[4096];
    snprintf(out1, sizeof out1, "%s", tu_tmp("dv_one.h5"));
    job one = {cohort(), out1, {0}, {{0}}, {{0}}};
    derive_one(&one);
    assert_int_equal(one.st[0], STRATA_OK);
    assert_int_equal(one.rep[0].n_patients, NPAT);
    assert_true(one.rep[0].n_included > 2 * BLOCK); /* every block has rows to append */
    for (int K = 2; K <= KMAX; K++) {
        job j = {cohort(), tu_tmp("dv_ranks.h5"), {0}, {{0}}, {{0}}};
        remove(j.out);
        derive_ranks(&j, K);
        for (int r = 0; r < K; r++)
            assert_int_equal(j.st[r], STRATA_OK);
        /* rank 0 counts what it appends (the CLI prints rank 0's report) */
        assert_int_equal(j.rep[0].n_included, one.rep[0].n_included);
        assert_memory_equal(j.rep[0].n_excluded, one.rep[0].n_excluded, sizeof one.rep[0].n_excluded);
        assert_true(tu_files_equal(one.out, j.out));
    }
}

/* Plants patient_row `value` at event e, and expects every rank of K = 2 and
 * 3 to refuse the derive with one process's status and message (and no file). */
static void refused_like_one_process(size_t e, int32_t value, const char *why)
{
    const char *in = cohort();
    size_t n;
    int32_t *rows = spells_rows(in, &n), old = rows[e];
    put_row(in, e, value);
    char outs[KMAX + 1][4096];
    for (int K = 0; K <= KMAX; K++) {
        char name[32];
        snprintf(name, sizeof name, "dv_bad_np%d.h5", K);
        snprintf(outs[K], sizeof outs[K], "%s", tu_tmp(name));
    }
    job one = {in, outs[1], {0}, {{0}}, {{0}}}, j[KMAX + 1];
    remove(one.out);
    derive_one(&one);
    for (int K = 2; K <= KMAX; K++) {
        j[K] = (job){in, outs[K], {0}, {{0}}, {{0}}};
        remove(j[K].out);
        derive_ranks(&j[K], K);
    }
    put_row(in, e, old); /* before any assertion: the next test reads the cohort */
    free(rows);
    assert_int_equal(one.st[0], STRATA_EDATA);
    assert_contains(one.msg[0], "/events/spells: row ");
    assert_contains(one.msg[0], why);
    for (int K = 2; K <= KMAX; K++) {
        for (int r = 0; r < K; r++) {
            assert_string_equal(j[K].msg[r], one.msg[0]);
            assert_int_equal(j[K].st[r], STRATA_EDATA);
        }
        assert_null(fopen(j[K].out, "rb"));
    }
}

static size_t first_of_block(const int32_t *rows, size_t n, int32_t p0)
{
    size_t e = 0;
    while (e < n && rows[e] < p0)
        e++;
    return e;
}

/* An event late in block 0's events moved to a block-1 patient: block 0 ends
 * there, but block 1's binary search starts after the rest of block 0's events
 * — the rows in between would be read by nobody. One process reads on and
 * finds the next event out of order. */
static void test_derive_dist__a_disorder_between_blocks_is_refused(void **state)
{
    size_t n, lo1;
    int32_t *rows = spells_rows(cohort(), &n);
    (void)state;
    lo1 = first_of_block(rows, n, BLOCK);
    assert_true(lo1 > 100 && lo1 < n);
    free(rows);
    refused_like_one_process(lo1 - 50, BLOCK + 1000, "out of order");
}

/* A disorder inside block 1's events: found by the rank that derives block 1,
 * reported by rank 0 in block order with that rank's message. */
static void test_derive_dist__a_disorder_inside_a_block_is_refused(void **state)
{
    size_t n, lo1;
    int32_t *rows = spells_rows(cohort(), &n);
    (void)state;
    lo1 = first_of_block(rows, n, BLOCK);
    free(rows);
    refused_like_one_process(lo1 + 50, 5, "out of order");
}

/* A patient_row outside /patients in block 2's events. */
static void test_derive_dist__a_row_outside_the_patients_is_refused(void **state)
{
    size_t n, lo2;
    int32_t *rows = spells_rows(cohort(), &n);
    (void)state;
    lo2 = first_of_block(rows, n, 2 * BLOCK);
    free(rows);
    refused_like_one_process(lo2 + 3, NPAT + 7, "outside /patients");
}

int main(void)
{
    /* The ranks are threads of one process, each opening the cohort (and so
     * forking its HDF5 probe) while the others read it: the probe forks under
     * HDF5's lock (engine/io/h5_probe.c), or a child would inherit another
     * thread's hold on it and wait out its 10 s ("corrupt HDF5 file"). */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive_dist__same_file_as_one_process),
        cmocka_unit_test(test_derive_dist__a_disorder_between_blocks_is_refused),
        cmocka_unit_test(test_derive_dist__a_disorder_inside_a_block_is_refused),
        cmocka_unit_test(test_derive_dist__a_row_outside_the_patients_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
