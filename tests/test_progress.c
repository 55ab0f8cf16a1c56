/* labels: unit slow */
/* tests/test_progress.c — progress of long work (strata_ctx_set_progress):
 * synth, fit and bootstrap report their stage with done rising to its end
 * (done == total, or done < 0 for the fit's unknown iteration count), at
 * most every 0.2 s between first and last; a fit nested in the bootstrap
 * stays quiet; outputs are byte-identical with and without a callback. The
 * CLI shows it as a bar with the time left on a terminal (script(1) gives it
 * one), as "strata: progress:" lines in a log, and not at all under --quiet
 * or for short stages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct report {
    char stage[32];
    double done, total, t;
} report;

typedef struct log_t {
    report r[4096];
    size_t n;
} log_t;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void record(void *ud, const char *stage, double done, double total)
{
    log_t *L = ud;
    if (L->n < 4096) {
        snprintf(L->r[L->n].stage, sizeof L->r[L->n].stage, "%s", stage);
        L->r[L->n].done = done;
        L->r[L->n].total = total;
        L->r[L->n].t = mono();
        L->n++;
    }
}

/* The reports of stage: rising, rate-limited, and ending; returns their count. */
static size_t check_stage(const log_t *L, const char *stage)
{
    size_t n = 0, last = 0;
    int ended = 0;
    for (size_t i = 0; i < L->n; i++) {
        const report *r = &L->r[i];
        if (strcmp(r->stage, stage))
            continue;
        if (ended) { /* nothing after the end */
            for (size_t k = 0; k < L->n; k++)
                print_message("%s %g/%g\n", L->r[k].stage, L->r[k].done, L->r[k].total);
            fail_msg("%s reported after its end", stage);
        }
        if (n) {
            const report *p = &L->r[last];
            int end = r->total > 0 ? r->done >= r->total : r->done < 0;
            assert_true(end || r->done > p->done);
            if (!end && r->t - p->t < 0.19)
                fail_msg("%s: reports %.3f s apart", stage, r->t - p->t);
        }
        ended = r->total > 0 ? r->done >= r->total : r->done < 0;
        last = i;
        n++;
    }
    if (!ended)
        fail_msg("stage %s never reported its end (%zu reports)", stage, n);
    return n;
}

static void synth_to(strata_ctx *ctx, const char *path, size_t n)
{
    strata_synth_params sp;
    strata_synth *s = NULL;
    strata_synth_summary ss;
    strata_synth_params_init(&sp);
    sp.n_patients = n;
    sp.seed = 3;
    assert_status(ctx, strata_synth_new(ctx, &sp, &s), STRATA_OK);
    assert_status(ctx, strata_synth_write(ctx, s, path, &ss), STRATA_OK);
    strata_synth_free(s);
}

static void test_progress__stages_report_and_outputs_do_not_change(void **state)
{
    static log_t L;
    char a[4096], b[4096];
    strata_ctx *ctx = tu_ctx(), *quiet = tu_ctx();
    strata_cohort *c = NULL;
    strata_model *m1 = NULL, *m2 = NULL;
    strata_glm_params gp;
    strata_validate_params vp;
    strata_bootstrap_result r1, r2;
    double *p;
    size_t n, in_boot = 0;
    (void)state;
    strata_ctx_set_threads(ctx, 2);
    strata_ctx_set_threads(quiet, 2);
    strata_ctx_set_progress(ctx, record, &L);
    snprintf(a, sizeof a, "%s", tu_tmp("with.h5"));
    snprintf(b, sizeof b, "%s", tu_tmp("without.h5"));
    synth_to(ctx, a, 150000);
    synth_to(quiet, b, 150000);
    assert_true(tu_files_equal(a, b)); /* same bytes with and without a callback */
    assert_true(check_stage(&L, "synth") >= 2);
    assert_int_equal(L.r[L.n - 1].done, 150000);
    assert_int_equal(L.r[L.n - 1].total, 150000);

    assert_status(ctx, strata_cohort_open(ctx, a, &c), STRATA_OK);
    strata_glm_params_init(&gp);
    gp.formula = "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count";
    L.n = 0;
    assert_status(ctx, strata_glm_fit(ctx, c, &gp, &m1), STRATA_OK);
    assert_status(quiet, strata_glm_fit(quiet, c, &gp, &m2), STRATA_OK);
    check_stage(&L, "fit");
    assert_true(L.r[L.n - 1].done < 0 && L.r[L.n - 1].total == 0);
    for (size_t j = 0; j < strata_model_nterms(m1); j++) {
        strata_coef c1, c2;
        strata_model_coef(m1, j, &c1);
        strata_model_coef(m2, j, &c2);
        assert_memory_equal(&c1.estimate, &c2.estimate, sizeof c1.estimate);
    }

    n = strata_cohort_nrows(c);
    p = malloc(n * sizeof *p);
    assert_status(ctx, strata_score(ctx, m1, c, STRATA_UNSEEN_ERROR, NULL, p), STRATA_OK);
    strata_validate_params_init(&vp);
    vp.B = 8;
    vp.seed = 5;
    L.n = 0;
    strata_ctx_set_threads(ctx, 1); /* one worker: the refits run on ctx itself */
    assert_status(ctx, strata_evaluate_bootstrap_glm(ctx, m1, c, "emergency_admission_12m", p,
                                                      STRATA_FAMILY_BINOMIAL, &vp, &r1),
                  STRATA_OK);
    assert_status(quiet, strata_evaluate_bootstrap_glm(quiet, m1, c, "emergency_admission_12m", p,
                                                        STRATA_FAMILY_BINOMIAL, &vp, &r2),
                  STRATA_OK);
    assert_memory_equal(&r1.corrected, &r2.corrected, sizeof r1.corrected);
    check_stage(&L, "bootstrap");
    for (size_t i = 0; i < L.n; i++)
        in_boot += !strcmp(L.r[i].stage, "fit");
    assert_int_equal(in_boot, 0); /* the 9 refits were quiet */
    assert_string_equal(L.r[0].stage, "bootstrap");
    assert_int_equal(L.r[0].done, 0);
    assert_int_equal(L.r[L.n - 1].done, 8);
    strata_bootstrap_result_free(ctx, &r1);
    strata_bootstrap_result_free(quiet, &r2);
    free(p);
    strata_model_free(ctx, m1);
    strata_model_free(quiet, m2);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    strata_ctx_free(quiet);
}

static void test_progress__cli_bar_on_a_terminal_lines_in_a_log(void **state)
{
    const char *dir = tu_tmp("cli");
    char *out = NULL;
    int rc;
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    /* a log (stderr not a terminal), every report shown */
    rc = tu_run_sh(&out, "{ STRATA_PROGRESS_INTERVAL=0 '%s' synth --patients 200000 --seed 1 "
                         "--out '%s/a.h5' >/dev/null; }", tu_cli(), dir);
    assert_int_equal(rc, 0);
    assert_contains(out, "strata: progress: synth ");
    assert_contains(out, "200000/200000 (100%)");
    assert_contains(out, "(done)\n");
    assert_null(strstr(out, "\033["));
    free(out);
    /* the default: a log line only for a stage past 5 s; this one is shorter */
    rc = tu_run_sh(&out, "{ '%s' synth --patients 20000 --seed 1 --out '%s/b.h5' >/dev/null; }",
                   tu_cli(), dir);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "progress"));
    free(out);
    /* a terminal: the bar redrawn in place, wiped at the end */
    rc = tu_run_sh(&out, "script -qec \"'%s' synth --patients 200000 --seed 1 --out '%s/c.h5'\" "
                         "/dev/null", tu_cli(), dir);
    assert_int_equal(rc, 0);
    assert_contains(out, "\r\033[K  synth      [");
    assert_contains(out, "#");
    free(out);
    /* --quiet: nothing */
    rc = tu_run_sh(&out, "script -qec \"'%s' synth --patients 200000 --seed 1 --quiet --out "
                         "'%s/d.h5'\" /dev/null", tu_cli(), dir);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "synth      ["));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress__stages_report_and_outputs_do_not_change),
        cmocka_unit_test(test_progress__cli_bar_on_a_terminal_lines_in_a_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
