/* labels: unit */
/* tests/test_core.c — context, status strings, error recording, allocation hook,
 * radix sort and the one counter-based RNG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_status_str__every_code_named(void **state)
{
    (void)state;
    assert_string_equal(strata_status_str(STRATA_OK), "OK");
    assert_string_equal(strata_status_str(STRATA_EDATA), "EDATA");
    assert_string_equal(strata_status_str(STRATA_EINTERNAL), "EINTERNAL");
    assert_string_equal(strata_status_str((strata_status)99), "EUNKNOWN");
}

static void test_fail__records_code_and_message(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_status s;
    (void)state;
    s = STRATA_FAIL(ctx, STRATA_EDATA, "%s:/patients/%s: row %zu: value %g", "c.h5", "age",
                    (size_t)7, 130.0);
    assert_int_equal(s, STRATA_EDATA);
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "c.h5:/patients/age: row 7: value 130");
    strata_ctx_clear_error(ctx);
    assert_string_equal(strata_ctx_errmsg(ctx), "");
    strata_ctx_free(ctx);
}

static void test_alloc__hook_failure_gives_enomem(void **state)
{
    strata_ctx *ctx = tu_ctx();
    void *p;
    (void)state;
    tu_fault_install(ctx);
    tu_fault_arm(2);
    p = strata_alloc(ctx, 16);
    assert_non_null(p);
    assert_null(strata_alloc(ctx, 16));
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_ENOMEM);
    assert_contains(strata_ctx_errmsg(ctx), "16 bytes");
    strata_free(ctx, p, 16);
    tu_fault_arm(-1);
    strata_ctx_free(ctx);
}

static void test_calloc__overflow_is_enomem(void **state)
{
    strata_ctx *ctx = tu_ctx();
    (void)state;
    assert_null(strata_calloc(ctx, SIZE_MAX / 2, 4));
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_ENOMEM);
    strata_ctx_free(ctx);
}

/* ---- child contexts: two threads allocate through children of one context
 * whose hook is not thread-safe (tu_count_alloc: plain += and -=) ---------- */
typedef struct child_job {
    strata_ctx *kid;
    void *keep[64];
} child_job;

static void *child_allocs(void *arg)
{
    child_job *j = arg;
    for (int i = 0; i < 20000; i++)
        strata_free(j->kid, strata_alloc(j->kid, 16 + (size_t)(i % 64)), 0);
    for (int i = 0; i < 64; i++)
        j->keep[i] = strata_alloc(j->kid, 8);
    return NULL;
}

static void test_ctx_child__hooks_serialised_error_adopted(void **state)
{
    strata_ctx *ctx = tu_ctx();
    tu_alloc_count cnt = {0, 0};
    strata_ctx kids[2], grand;
    child_job jobs[2];
    pthread_t th[2];
    (void)state;
    strata_ctx_set_threads(ctx, 2);
    strata_ctx_set_alloc(ctx, tu_count_alloc, &cnt);
    for (int t = 0; t < 2; t++) {
        strata_ctx_child(ctx, &kids[t]);
        assert_int_equal(strata_threads(&kids[t]), 1);
        jobs[t].kid = &kids[t];
        assert_int_equal(pthread_create(&th[t], NULL, child_allocs, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    /* exactly the 2 x 64 blocks kept: no update of the counter was lost */
    assert_int_equal(cnt.live, 2 * 64 * 8);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 64; i++)
            strata_free(&kids[t], jobs[t].keep[i], 8);
    assert_int_equal(cnt.live, 0);
    /* a child's child allocates through the root's hook too */
    strata_ctx_child(&kids[0], &grand);
    void *p = strata_alloc(&grand, 100);
    assert_int_equal(cnt.live, 100);
    strata_free(&grand, p, 100);
    /* errors stay in the child until adopted; warnings are added up */
    assert_int_equal(STRATA_FAIL(&kids[1], STRATA_EDATA, "fold %d: one class", 2), STRATA_EDATA);
    strata_warn(&kids[0], "fold %d: slow", 1);
    assert_string_equal(tu_last_warning(), "fold 1: slow");
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_OK);
    assert_int_equal(strata_ctx_child_end(ctx, &kids[0], 1), STRATA_OK);
    assert_int_equal(strata_ctx_child_end(ctx, &kids[1], 0), STRATA_EDATA);
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_OK);
    assert_int_equal(strata_ctx_child_end(ctx, &kids[1], 1), STRATA_EDATA);
    assert_int_equal(strata_ctx_errcode(ctx), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "fold 2: one class");
    assert_int_equal(strata_ctx_warnings(ctx), 1);
    strata_ctx_free(ctx);
}

static void test_threads__explicit_setting_wins(void **state)
{
    strata_ctx *ctx = tu_ctx();
    (void)state;
    strata_ctx_set_threads(ctx, 3);
    assert_int_equal(strata_ctx_threads(ctx), 3);
    strata_ctx_set_threads(ctx, 0);
    assert_true(strata_ctx_threads(ctx) >= 1);
    strata_ctx_free(ctx);
}

static void test_blas_config__names_openblas(void **state)
{
    char buf[256];
    (void)state;
    strata_blas_config(buf, sizeof buf);
    assert_contains(buf, "OpenBLAS");
    assert_contains(buf, "threads=");
}

static void test_sha256__known_vectors(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char hex[65];
    (void)state;
    tu_write_file(tu_tmp("abc.txt"), "abc");
    assert_status(ctx, strata_file_sha256(ctx, tu_tmp("abc.txt"), hex), STRATA_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tu_write_file(tu_tmp("empty.txt"), "");
    assert_status(ctx, strata_file_sha256(ctx, tu_tmp("empty.txt"), hex), STRATA_OK);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_status(ctx, strata_file_sha256(ctx, tu_tmp("no-such-file"), hex), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "no-such-file: cannot open");
    strata_ctx_free(ctx);
}

static int cmp_f64(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The shared radix sort: same order as qsort on doubles with negatives, ties,
 * infinities and small integers; equal keys keep their input order; keys map
 * back to the same bits. */
static void test_radix_sort__matches_qsort_stable_and_round_trips(void **state)
{
    enum { N = 5000 };
    static double x[N], want[N];
    static uint64_t key[N], k2[N];
    static size_t row[N], r2[N];
    uint64_t r = 12345;
    (void)state;
    for (size_t i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        switch (i % 5) {
        case 0: x[i] = (double)(r >> 59); break;           /* small integers, many ties */
        case 1: x[i] = -(double)(r >> 11) * 0x1p-40; break; /* negatives */
        case 2: x[i] = (double)(r >> 11) * 0x1p-53; break;  /* (0, 1) */
        case 3: x[i] = i % 2 ? INFINITY : -INFINITY; break;
        default: x[i] = (r >> 63) ? -1e300 : 1e-300;
        }
        want[i] = x[i];
        key[i] = strata_f64_key(x[i]);
        row[i] = i;
        assert_true(memcmp(&(double){strata_key_f64(key[i])}, &x[i], sizeof(double)) == 0);
    }
    qsort(want, N, sizeof *want, cmp_f64);
    strata_radix_sort(N, key, row, k2, r2);
    for (size_t i = 0; i < N; i++) {
        assert_true(strata_key_f64(key[i]) == want[i]);
        assert_true(x[row[i]] == want[i]);
        if (i && key[i] == key[i - 1])
            assert_true(row[i] > row[i - 1]);
    }
    strata_radix_sort(N, key, NULL, k2, NULL); /* sorted input, keys only: unchanged */
    for (size_t i = 0; i < N; i++)
        assert_true(strata_key_f64(key[i]) == want[i]);
}

/* The core RNG is the generator `strata synth` has always used: the first
 * draws of a stream equal the values of the former synth_rng (computed
 * independently from its definition), so synthetic cohorts keep their bytes. */
static void test_rng__synth_streams_unchanged_and_counter_based(void **state)
{
    strata_rng r = strata_rng_make(1, 0, STRATA_STREAM_SYNTH_PATIENT), r2;
    double z0, z1, u1, u2;
    size_t hits[7] = {0};
    (void)state;
    assert_true(r.key == 0x1be87247f40d5650ULL);
    assert_true(strata_rng_next(&r) == 0x66d8240e67d1b224ULL);
    assert_true(strata_rng_next(&r) == 0x3afb464c33424a70ULL);
    assert_true(strata_rng_next(&r) == 0x4441d730437b5732ULL);
    r = strata_rng_make(20240601, 12345, STRATA_STREAM_SYNTH_PATIENT);
    assert_true(strata_rng_next(&r) == 0xb68409a3310809eeULL);
    assert_true(strata_rng_next(&r) == 0xc170e5013b3d5537ULL);
    /* uniforms strictly inside (0, 1); the same key gives the same stream */
    r = strata_rng_make(7, 3, STRATA_STREAM_SII);
    r2 = strata_rng_make(7, 3, STRATA_STREAM_SII);
    for (int k = 0; k < 1000; k++) {
        double u = strata_rng_unif(&r);
        assert_true(u > 0.0 && u < 1.0);
        assert_true(u == strata_rng_unif(&r2));
    }
    /* the pair's first value is strata_rng_norm's; both from the same two uniforms */
    r = strata_rng_make(9, 1, STRATA_STREAM_SII);
    r2 = r;
    strata_rng_norm2(&r, &z0, &z1);
    assert_true(z0 == strata_rng_norm(&r2));
    r2 = strata_rng_make(9, 1, STRATA_STREAM_SII);
    u1 = strata_rng_unif(&r2), u2 = strata_rng_unif(&r2);
    assert_rel_close(z0 * z0 + z1 * z1, -2.0 * log(u1), 1e-12, "Box-Muller radius");
    assert_rel_close(atan2(z1, z0) < 0 ? atan2(z1, z0) + 6.283185307179586 : atan2(z1, z0),
                     6.283185307179586 * u2, 1e-9, "Box-Muller angle");
    /* strata_rng_below covers [0, n) evenly */
    r = strata_rng_make(5, 0, STRATA_STREAM_RESAMPLE);
    for (int k = 0; k < 70000; k++)
        hits[strata_rng_below(&r, 7)]++;
    for (int k = 0; k < 7; k++)
        assert_true(hits[k] > 9500 && hits[k] < 10500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_str__every_code_named),
        cmocka_unit_test(test_fail__records_code_and_message),
        cmocka_unit_test(test_alloc__hook_failure_gives_enomem),
        cmocka_unit_test(test_ctx_child__hooks_serialised_error_adopted),
        cmocka_unit_test(test_calloc__overflow_is_enomem),
        cmocka_unit_test(test_threads__explicit_setting_wins),
        cmocka_unit_test(test_blas_config__names_openblas),
        cmocka_unit_test(test_sha256__known_vectors),
        cmocka_unit_test(test_radix_sort__matches_qsort_stable_and_round_trips),
        cmocka_unit_test(test_rng__synth_streams_unchanged_and_counter_based),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
