/* labels: unit */
/* tests/test_memory_budget.c — the memory budget's settings: the context
 * setter, byte sizes as written (strata_parse_size), `memory:` in a run spec,
 * `strata fit --mem-limit` (streamed: the same coefficients as unlimited), and
 * the peak RSS of a fit in a child process, streamed against loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "strata/strata.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Peak RSS (KiB) of a child process that fits formula to the cohort under the
 * budget (getrusage of that child through wait4); -1 when the fit fails. */
static long fit_peak_rss_kb(const char *cohort, const char *formula, size_t budget)
{
    struct rusage ru;
    int status = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        strata_ctx *ctx = NULL;
        strata_cohort *c = NULL;
        strata_model *m = NULL;
        strata_glm_params prm;
        strata_status st = strata_ctx_new(&ctx);
        strata_ctx_set_threads(ctx, 2);
        strata_ctx_set_memory_budget(ctx, budget);
        strata_glm_params_init(&prm);
        prm.formula = formula;
        if (st == STRATA_OK)
            st = strata_cohort_open(ctx, cohort, &c);
        if (st == STRATA_OK)
            st = strata_glm_fit(ctx, c, &prm, &m);
        _exit(st == STRATA_OK ? 0 : 1);
    }
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ru.ru_maxrss : -1;
}

/* 300,000 patients x 6 numeric columns: loaded, the fit holds ~22 MB of
 * columns; under a 2 MB budget its process peaks more than 10 MB lower
 * (measured: 36.2 MB loaded, 21.3 MB streamed, libraries and process included).
 * Not under AddressSanitizer: its quarantine keeps freed buffers resident. */
static void test_budget__fit_peak_rss_in_a_child(void **state)
{
    const char *f = "emergency_admission_12m ~ age + ltc_count + efi_deficits + prior_emergency_12m + ae_attendances_12m";
    char *out = NULL;
    long mem, streamed;
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    assert_int_equal(tu_run_cli(&out, "synth --england --patients 300000 --seed 5 --quiet --out '%s'", tu_tmp("big.h5")), 0);
    free(out);
    streamed = fit_peak_rss_kb(tu_tmp("big.h5"), f, (size_t)2 << 20);
    mem = fit_peak_rss_kb(tu_tmp("big.h5"), f, 0);
    print_message("peak RSS of the fit: loaded %ld KiB, streamed under 2 MiB %ld KiB\n", mem, streamed);
    assert_true(streamed > 0 && mem > 0);
    /* the loaded columns are ~22 MB; half of that is a margin for the allocator */
    if (!(mem - streamed > 10000))
        fail_msg("streamed peak RSS %ld KiB is not 10 MB below the loaded fit's %ld KiB", streamed, mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget__parse_size),
        cmocka_unit_test(test_budget__context_and_run_spec),
        cmocka_unit_test(test_budget__fit_mem_limit_cli),
        cmocka_unit_test(test_budget__fit_peak_rss_in_a_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
