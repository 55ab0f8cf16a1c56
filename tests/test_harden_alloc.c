/* labels: unit harden fault */
/* tests/test_harden_alloc.c — issue 17: the allocation-failure sweep over a
 * whole `strata run` (library API, tiny cohort): the run is done once to
 * count the allocations that go through the context's allocator, then again
 * failing the k-th for every k (or every STRATA_ALLOC_STRIDE-th, see below).
 * Each must end in STRATA_ENOMEM with a message on the caller's context,
 * leave the output folder empty (nothing under a final name, no staging
 * folder) and leak nothing (LeakSanitizer in the debug-asan preset checks the
 * whole process at exit). Allocations made inside HDF5, libcsv, libyaml,
 * jansson and OpenBLAS do not go through the hook and are not swept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_alloc__every_failed_allocation_of_a_run_is_a_clean_enomem(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec spec;
    strata_run_summary sum;
    char *out = NULL, spec_path[4200], dir[4200];
    long total, stride, swept = 0, ok_after = 0;
    const char *env = getenv("STRATA_ALLOC_STRIDE"), *off = getenv("STRATA_ALLOC_OFFSET");
    long first;
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", tu_tmp("job"), tu_tmp("job"));
    assert_int_equal(tu_run_cli(&out, "synth --patients 400 --seed 3 --out '%s/c.h5' --quiet",
                                tu_tmp("job")),
                     0);
    free(out);
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", tu_tmp("job"));
    tu_write_file(spec_path, "cohort: c.h5\n"
                             "model:\n  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
                             "evaluate:\n  by: [sex]\nthreads: 1\n");
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("job"));
    assert_status(ctx, strata_run_spec_load(ctx, spec_path, &spec), STRATA_OK);
    spec.overwrite = 1;

    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, strata_run(ctx, &spec, dir, NULL, NULL, &sum), STRATA_OK);
    total = tu_fault_count();
    /* Stride: a run takes ~0.15 s of CPU under ASan, ~7,700 allocations, so
     * failing every one takes ~20 min (more on a loaded machine): by default
     * every (total / 250)-th is failed, starting at STRATA_ALLOC_OFFSET
     * (default 1), ~250 runs. STRATA_ALLOC_STRIDE=1 sweeps them all
     * (docs/reliability.md#allocation-sweep records the last full sweep). */
    stride = env && atol(env) > 0 ? atol(env) : total / 250 + 1;
    first = off && atol(off) > 0 ? atol(off) : 1;
    print_message("allocation sweep: %ld allocations in one run, every %ld-th failed from %ld\n",
                  total, stride, first);
    assert_true(total > 100);
    tu_run_sh(NULL, "rm -rf '%s'", dir);
    spec.overwrite = 0;
    for (long k = first; k <= total; k += stride) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_run(ctx, &spec, dir, NULL, NULL, &sum);
        tu_fault_arm(-1);
        if (st != STRATA_ENOMEM) {
            print_error("allocation %ld of %ld failed: status %s, message: %s\n", k, total,
                        strata_status_str(st), strata_ctx_errmsg(ctx));
            fail();
        }
        if (!strstr(strata_ctx_errmsg(ctx), "out of memory") &&
            !strstr(strata_ctx_errmsg(ctx), "overflows")) {
            print_error("allocation %ld: ENOMEM without its message: %s\n", k,
                        strata_ctx_errmsg(ctx));
            fail();
        }
        if (tu_run_sh(NULL, "test -z \"$(ls -A '%s' 2>/dev/null)\"", dir) != 0) {
            tu_run_sh(&out, "ls -lA '%s'", dir);
            print_error("allocation %ld: the failed run left files:\n%s\n", k, out);
            fail();
        }
        if (++swept % 500 == 0)
            print_message("allocation sweep: k = %ld of %ld, %ld failing runs clean so far\n", k,
                          total, swept);
    }
    /* and the run still succeeds afterwards, into the same folder */
    assert_status(ctx, strata_run(ctx, &spec, dir, NULL, NULL, &sum), STRATA_OK);
    ok_after = 1;
    print_message("allocation sweep: %ld failing runs, all STRATA_ENOMEM, folder empty\n", swept);
    assert_true(ok_after);
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc__every_failed_allocation_of_a_run_is_a_clean_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
