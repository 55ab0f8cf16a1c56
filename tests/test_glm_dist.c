/* labels: unit golden */
/* tests/test_glm_dist.c — the tail probabilities behind coefficient tests
 * (engine/core/dist.c: strata_pnorm_upper2, strata_pt_upper2, strata_pbeta)
 * against R 4 values (options(digits = 17)), relative tolerance 1e-12, and
 * their edge cases (infinite and NaN statistics, df <= 0, x outside (0, 1)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dist_internal.h"
#include "testutil.h"

#include <math.h>

static void test_pt_upper2__matches_r(void **state)
{
    (void)state;
    /* 2 * pt(-2, 5), 2 * pt(-0.5, 3.5), 2 * pt(-10, 100) */
    assert_rel_close(strata_pt_upper2(2.0, 5.0), 1.0193947882985828e-01, 1e-12, "t=2 df=5");
    assert_rel_close(strata_pt_upper2(-0.5, 3.5), 6.4685043932255104e-01, 1e-12, "t=-0.5 df=3.5");
    assert_rel_close(strata_pt_upper2(10.0, 100.0), 9.9016889845940936e-17, 1e-10, "t=10 df=100");
    assert_true(strata_pt_upper2(INFINITY, 5.0) == 0.0);
    assert_true(isnan(strata_pt_upper2(NAN, 5.0)));
    assert_true(isnan(strata_pt_upper2(1.0, 0.0)));
}

static void test_pnorm_upper2__matches_r(void **state)
{
    (void)state;
    /* 2 * pnorm(-1.96), 2 * pnorm(-8) */
    assert_rel_close(strata_pnorm_upper2(1.96), 4.9995790296440856e-02, 1e-12, "z=1.96");
    assert_rel_close(strata_pnorm_upper2(-8.0), 1.2441921148543570e-15, 1e-12, "z=-8");
    assert_rel_close(strata_pnorm_upper2(0.0), 1.0, 1e-15, "z=0");
}

static void test_pbeta__matches_r(void **state)
{
    (void)state;
    /* pbeta(0.3, 2.5, 0.5), pbeta(0.9, 10, 3): both sides of the continued fraction's switch */
    assert_rel_close(strata_pbeta(0.3, 2.5, 0.5), 1.8927124071945644e-02, 1e-12, "x=0.3");
    assert_rel_close(strata_pbeta(0.9, 10.0, 3.0), 8.8913002225500004e-01, 1e-12, "x=0.9");
    assert_true(strata_pbeta(0.0, 2.0, 3.0) == 0.0);
    assert_true(strata_pbeta(1.0, 2.0, 3.0) == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pt_upper2__matches_r),
        cmocka_unit_test(test_pnorm_upper2__matches_r),
        cmocka_unit_test(test_pbeta__matches_r),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
