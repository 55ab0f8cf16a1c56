/* labels: unit */
/* tests/test_memory_budget.c — the memory budget's settings: the context
 * setter, byte sizes as written (strata_parse_size), `memory:` in a run spec,
 * and `strata fit --mem-limit` (streamed: the same coefficients as unlimited). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "strata/strata.h"

#include <stdlib.h>
#include <string.h>

static void test_budget__parse_size(void **state)
{
    size_t v = 0;
    (void)state;
    assert_int_equal(strata_parse_size("100000", &v), 0);
    assert_int_equal(v, 100000);
    assert_int_equal(strata_parse_size("4G", &v), 0);
    assert_int_equal(v, (size_t)4 << 30);
    assert_int_equal(strata_parse_size("512MiB", &v), 0);
    assert_int_equal(v, (size_t)512 << 20);
    assert_int_equal(strata_parse_size("64k", &v), 0);
    assert_int_equal(v, (size_t)64 << 10);
    assert_int_equal(strata_parse_size("2T", &v), 0);
    assert_int_equal(v, (size_t)2 << 40);
    assert_int_equal(strata_parse_size("", &v), -1);
    assert_int_equal(strata_parse_size("4X", &v), -1);
    assert_int_equal(strata_parse_size("-1G", &v), -1);
    assert_int_equal(strata_parse_size("4G extra", &v), -1);
    assert_int_equal(strata_parse_size("99999999999999999999", &v), -1);
    assert_int_equal(strata_parse_size("17179869184T", &v), -1); /* 2^64 bytes */
}

static void test_budget__context_and_run_spec(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec s;
    const char *path = tu_tmp("mem.yaml");
    (void)state;
    assert_int_equal(strata_ctx_memory_budget(ctx), 0);
    strata_ctx_set_memory_budget(ctx, 12345);
    assert_int_equal(strata_ctx_memory_budget(ctx), 12345);
    tu_write_file(path, "synth:\n  england: true\n  patients: 1000\nmodel:\n  formula: \"emergency_admission_12m ~ age\"\nmemory: 3M\n");
    assert_status(ctx, strata_run_spec_load(ctx, path, &s), STRATA_OK);
    assert_int_equal(s.memory, (size_t)3 << 20);
    strata_run_spec_free(ctx, &s);
    tu_write_file(path, "synth:\n  england: true\n  patients: 1000\nmodel:\n  formula: \"emergency_admission_12m ~ age\"\nmemory: lots\n");
    assert_status(ctx, strata_run_spec_load(ctx, path, &s), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "memory");
    strata_ctx_free(ctx);
}

/* The CLI end to end: a synthetic cohort fitted with and without --mem-limit
 * gives the same coefficient table; the streamed fit says it streamed. */
static void test_budget__fit_mem_limit_cli(void **state)
{
    char *out = NULL, *a, *b;
    const char *f = "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + age:sex";
    (void)state;
    assert_int_equal(tu_run_cli(&out, "synth --england --patients 20000 --seed 3 --quiet --out '%s'", tu_tmp("c.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula '%s' --out '%s' --quiet", tu_tmp("c.h5"), f, tu_tmp("m0.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula '%s' --out '%s' --mem-limit 200K --verbose", tu_tmp("c.h5"), f,
                                tu_tmp("m1.h5")), 0);
    assert_contains(out, "streaming chunks");
    free(out);
    assert_int_equal(tu_run_cli(&a, "coef '%s'", tu_tmp("m0.h5")), 0);
    assert_int_equal(tu_run_cli(&b, "coef '%s'", tu_tmp("m1.h5")), 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula '%s' --out '%s' --mem-limit 4X", tu_tmp("c.h5"), f, tu_tmp("m2.h5")), 2);
    assert_contains(out, "--mem-limit");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget__parse_size),
        cmocka_unit_test(test_budget__context_and_run_spec),
        cmocka_unit_test(test_budget__fit_mem_limit_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
