/* labels: fault */
/* tests/test_glm_fault.c — every allocation inside fit, save, load and score
 * fails in turn: each call returns STRATA_ENOMEM (or succeeds) and leaks
 * nothing (ASan build), and a corrupt or foreign model file is STRATA_EFORMAT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "glm_testdata.c"

#include <math.h>
#include <string.h>

#define N 3000

static const char *const LEV[] = {"b", "a", "c"};

static const char *make_cohort(strata_ctx *ctx)
{
    static double y[N], x[N], e[N];
    static int32_t g[N];
    td_mem cols[4];
    for (size_t i = 0; i < N; i++) {
        x[i] = (double)(i % 97) / 10;
        g[i] = (int32_t)(i % 3);
        e[i] = 1 + (double)(i % 5);
        y[i] = (double)((i * 2654435761u) % 7 < 2 + (i % 3));
    }
    x[5] = NAN;
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "e", cols[2].num = e;
    cols[3].name = "g", cols[3].codes = g, cols[3].levels = LEV, cols[3].n_levels = 3;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("f.h5"), cols, 4, N), STRATA_OK);
    return tu_tmp("f.h5");
}

static void test_fault__fit_save_load_score_every_allocation(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    strata_glm_params p;
    char cpath[1024], mpath[1024];
    double lp[N];
    long ok_at[4] = {0, 0, 0, 0};
    (void)state;
    snprintf(cpath, sizeof cpath, "%s", make_cohort(ctx));
    snprintf(mpath, sizeof mpath, "%s", tu_tmp("fm.h5"));
    assert_status(ctx, strata_cohort_open(ctx, cpath, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.family = STRATA_FAMILY_POISSON;
    p.formula = "y ~ rcs(x, 3) + g*x + offset(log(e))";
    tu_fault_install(ctx);
    for (int stage = 0; stage < 4; stage++) {
        for (long k = 1; k < 100000; k++) {
            strata_model *m = NULL, *l = NULL;
            strata_status st;
            if (stage > 0) {
                tu_fault_arm(-1);
                assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
                if (stage >= 2)
                    assert_status(ctx, strata_model_save(ctx, m, mpath), STRATA_OK);
            }
            tu_fault_arm(k);
            if (stage == 0)
                st = strata_glm_fit(ctx, c, &p, &m);
            else if (stage == 1)
                st = strata_model_save(ctx, m, mpath);
            else if (stage == 2)
                st = strata_model_load(ctx, mpath, &l);
            else
                st = strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp, NULL);
            tu_fault_arm(-1);
            strata_model_free(ctx, m);
            strata_model_free(ctx, l);
            if (st == STRATA_OK) {
                ok_at[stage] = k;
                break;
            }
            if (st != STRATA_ENOMEM)
                fail_msg("stage %d, allocation %ld: %s", stage, k, strata_ctx_errmsg(ctx));
        }
        assert_true(ok_at[stage] > 1); /* at least one allocation was failed and survived */
    }
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_fault__foreign_and_corrupt_model_files(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    (void)state;
    tu_write_file(tu_tmp("notmodel.h5"), "this is not HDF5\n");
    assert_status(ctx, strata_model_load(ctx, tu_tmp("notmodel.h5"), &m), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "notmodel.h5");
    assert_null(m);
    /* a cohort is HDF5 but not a model */
    assert_status(ctx, strata_model_load(ctx, make_cohort(ctx), &m), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "not a strata model file");
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault__fit_save_load_score_every_allocation),
        cmocka_unit_test(test_fault__foreign_and_corrupt_model_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
