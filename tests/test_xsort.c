/* labels: unit determinism */
/* tests/test_xsort.c — the external sort (engine/core/xsort.c): merged runs
 * from a scratch file give the records of the in-memory sort in the same
 * order (ties in key broken by row, groups first), read in any block size and
 * again after a rewind; the sort holds no more than the memory it is given;
 * below its floor it refuses with ENOMEM naming the sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "xsort.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 60000
#define GROUPS 37

typedef struct stream {
    size_t m;
    uint64_t key[N];
    size_t row[N];
} stream;

static int32_t major_of[N];
static uint64_t key_of[N];

static void make_data(void)
{
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        key_of[i] = (s >> 11) % 997; /* many ties */
        major_of[i] = (int32_t)((s >> 3) % GROUPS);
    }
}

/* Sorts every row but each seventh (rows need not be contiguous) under mem,
 * reading blocks of blk; checks the rewound stream is the same. */
static void sort_all(strata_ctx *ctx, const int32_t *major, size_t mem, size_t blk, stream *out,
                     size_t *runs)
{
    strata_xsort *x;
    uint64_t kb[1000];
    size_t rb[1000], got;
    assert_status(ctx, strata_xsort_begin(ctx, N, major, GROUPS, mem, "test records", &x), STRATA_OK);
    for (size_t i = 0; i < N; i++)
        if (i % 7 != 3)
            assert_status(ctx, strata_xsort_push(ctx, x, key_of[i], i), STRATA_OK);
    assert_status(ctx, strata_xsort_end(ctx, x), STRATA_OK);
    *runs = strata_xsort_runs(x);
    for (int pass = 0; pass < 2; pass++) {
        size_t m = 0;
        do {
            assert_status(ctx, strata_xsort_read(ctx, x, kb, rb, blk, &got), STRATA_OK);
            for (size_t k = 0; k < got; k++, m++) {
                if (pass == 0) {
                    out->key[m] = kb[k];
                    out->row[m] = rb[k];
                } else {
                    assert_true(out->key[m] == kb[k] && out->row[m] == rb[k]);
                }
            }
        } while (got);
        out->m = m;
        assert_status(ctx, strata_xsort_rewind(ctx, x), STRATA_OK);
    }
    strata_xsort_free(ctx, x);
}

static void test_xsort__merged_runs_give_the_in_memory_order(void **state)
{
    static stream want, got;
    strata_ctx *ctx = tu_ctx();
    size_t runs, floor_mem = strata_xsort_floor(N);
    (void)state;
    make_data();
    for (int grouped = 0; grouped < 2; grouped++) {
        const int32_t *major = grouped ? major_of : NULL;
        sort_all(ctx, major, 0, 1000, &want, &runs);
        assert_int_equal(runs, 0);
        assert_int_equal(want.m, N - N / 7 - (N % 7 > 3));
        for (size_t k = 1; k < want.m; k++) { /* (major, key, row) ascending */
            size_t a = want.row[k - 1], b = want.row[k];
            int32_t ga = major ? major[a] : 0, gb = major ? major[b] : 0;
            assert_true(ga < gb || (ga == gb && (want.key[k - 1] < want.key[k] ||
                                                 (want.key[k - 1] == want.key[k] && a < b))));
            assert_int_equal(want.key[k], key_of[b]);
        }
        {
            const size_t mems[] = {floor_mem, 2 * floor_mem, 300000};
            const size_t blks[] = {3, 1000, 517};
            for (int t = 0; t < 3; t++) {
                sort_all(ctx, major, mems[t], blks[t], &got, &runs);
                assert_true(runs > 1);
                assert_int_equal(got.m, want.m);
                assert_memory_equal(got.key, want.key, want.m * sizeof *want.key);
                assert_memory_equal(got.row, want.row, want.m * sizeof *want.row);
            }
        }
    }
    strata_ctx_free(ctx);
}

/* Everything the sort allocates through the context stays within its mem
 * (plus its fixed parts: the run table, the heap and the group offsets). */
static void test_xsort__holds_no_more_than_its_memory(void **state)
{
    static stream got;
    tu_alloc_count c = {0, 0};
    strata_ctx *ctx = tu_ctx();
    size_t runs, mem = strata_xsort_floor(N) * 5 / 4;
    (void)state;
    make_data();
    strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
    c.peak = c.live;
    sort_all(ctx, major_of, mem, 1000, &got, &runs);
    assert_true(runs > 1);
    assert_true(c.peak - c.live <= mem + 4096);
    assert_true(mem < 32u * N / 2); /* well below the in-memory sort's 32 bytes a row */
    strata_ctx_free(ctx);
}

static void test_xsort__below_its_floor_is_enomem_naming_sizes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_xsort *x = NULL;
    size_t f = strata_xsort_floor(N);
    (void)state;
    assert_true(f > 32 && f < 32u * N);
    assert_status(ctx, strata_xsort_begin(ctx, N, NULL, 0, f - 1, "the risks", &x), STRATA_ENOMEM);
    assert_null(x);
    assert_contains(strata_ctx_errmsg(ctx), "the risks: sorting 60000 rows");
    assert_contains(strata_ctx_errmsg(ctx), "--mem-limit");
    assert_status(ctx, strata_xsort_begin(ctx, N, NULL, 0, f, "the risks", &x), STRATA_OK);
    strata_xsort_free(ctx, x);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xsort__merged_runs_give_the_in_memory_order),
        cmocka_unit_test(test_xsort__holds_no_more_than_its_memory),
        cmocka_unit_test(test_xsort__below_its_floor_is_enomem_naming_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
