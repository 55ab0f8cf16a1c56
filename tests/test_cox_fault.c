/* labels: fault */
/* tests/test_cox_fault.c — every allocation of the Cox fit from a formula (factor,
 * strata(), cluster(), so the robust pass too), of the survival concordance (Uno)
 * and of the calibration at a horizon fails in turn, and of the fit streamed through
 * its scratch file (cox_stream.c): each call returns STRATA_ENOMEM (or succeeds),
 * leaves no partial result, and leaks nothing (ASan) — no descriptor either. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"
#include "strata/evaluate.h"

#include "cox_testdata.c"

#include <dirent.h>

enum { FIT, STREAM, CONC, CALIB, NSTAGE };

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int k = 0;
    assert_non_null(d);
    while (readdir(d))
        k++;
    closedir(d);
    return k;
}

/* One call of stage s with the k-th allocation failing (k = -1: none). */
static strata_status run_stage(strata_ctx *ctx, int s, const glm_source *src, const strata_surv_input *in)
{
    strata_status st;
    if (s == FIT || s == STREAM) {
        cox_params prm;
        cox_fit_out fo;
        cox_params_init(&prm);
        prm.block_rows = 64;
        prm.window_rows = s == STREAM ? 256 : 0;
        st = cox_fit_source(ctx, src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent) + cluster(cl)",
                            NULL, &prm, &fo);
        assert_true(st == STRATA_OK ? fo.res && fo.res->rse : !fo.res);
        cox_fit_out_free(ctx, &fo);
    } else if (s == CONC) {
        strata_surv_conc c;
        st = strata_surv_concordance(ctx, in, STRATA_CONC_UNO, 0.95, &c);
    } else {
        strata_surv_calib b[10];
        int nb = 0;
        st = strata_surv_calibration(ctx, in, 1000, 10, 0.95, b, &nb);
        assert_true(st == STRATA_OK ? nb > 0 : nb == 0);
    }
    return st;
}

static void test_cox_fault__fit_concordance_calibration_every_allocation(void **state)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    memsrc m;
    double *rx, *ext, *cl, *lp, *risk;
    long ok_at[NSTAGE] = {0, 0, 0, 0};
    int fds = open_fds();
    (void)state;
    design_load("colon_strata", &d);
    colon_source(&d, &m, &rx, &ext);
    cl = malloc(d.n * sizeof *cl);
    lp = malloc(d.n * sizeof *lp);
    risk = malloc(d.n * sizeof *risk);
    for (size_t i = 0; i < d.n; i++) {
        cl[i] = (double)(i % 37);
        lp[i] = 0.1 * d.X[4 * d.n + i] - 0.3 * d.X[i];
        risk[i] = 1 / (1 + exp(-lp[i]));
    }
    mem_add(&m, "cl", cl, NULL, 0);
    glm_source src = mem_source(&m);
    strata_surv_input in = {d.n, d.time, d.status, lp, risk, NULL, d.stratum};
    tu_fault_install(ctx);
    for (int s = 0; s < NSTAGE; s++) {
        for (long k = 1; k < 100000; k++) {
            strata_status st;
            tu_fault_arm(k);
            st = run_stage(ctx, s, &src, &in);
            tu_fault_arm(-1);
            if (st == STRATA_OK) {
                ok_at[s] = k;
                break;
            }
            if (st != STRATA_ENOMEM)
                fail_msg("stage %d, allocation %ld: %s", s, k, strata_ctx_errmsg(ctx));
        }
        assert_true(ok_at[s] > 1); /* at least one allocation failed and was survived */
    }
    printf("    allocations swept: fit %ld, streamed fit %ld, concordance %ld, calibration %ld\n", ok_at[FIT] - 1,
           ok_at[STREAM] - 1, ok_at[CONC] - 1, ok_at[CALIB] - 1);
    assert_int_equal(open_fds(), fds); /* every scratch file closed */
    free(rx);
    free(ext);
    free(cl);
    free(lp);
    free(risk);
    design_free(&d);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_fault__fit_concordance_calibration_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
