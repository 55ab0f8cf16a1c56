/* labels: unit golden */
/* tests/test_evaluate_surv.c — survival evaluation (engine/evaluate/evaluate_surv*.c)
 * against survival 3.5-3 on the golden Cox fits (data/golden/cox, make_cox.R):
 * Harrell's C and Uno's C with their infinitesimal-jackknife SEs and pair counts
 * (concordance(fit, timewt = "n" / "n/G2")), within strata and with case weights;
 * Kaplan-Meier calibration at the horizon per risk group (survfit, log CI); the
 * written, disclosure-controlled evaluation; bad input named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"
#include "strata/evaluate.h"

#include "cox_testdata.c"

/* A golden design fitted (Efron), with lp = X beta + offset in design order. */
typedef struct fitted {
    design d;
    cox_result *r;
    double *lp;
    strata_surv_input in;
} fitted;

static void fit_design(strata_ctx *ctx, const char *data, int wt, int off, int st, fitted *f)
{
    cox_params prm;
    cox_input in;
    design_load(data, &f->d);
    in = design_input(&f->d, wt, off, st);
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &f->r), STRATA_OK);
    f->lp = malloc(f->d.n * sizeof *f->lp);
    for (size_t i = 0; i < f->d.n; i++) {
        f->lp[i] = off ? f->d.off[i] : 0;
        for (size_t j = 0; j < f->d.p; j++)
            f->lp[i] += f->r->beta[j] * f->d.X[j * f->d.n + i];
    }
    memset(&f->in, 0, sizeof f->in);
    f->in.n = f->d.n;
    f->in.time = f->d.time;
    f->in.event = f->d.status;
    f->in.lp = f->lp;
    f->in.w = wt ? f->d.w : NULL;
    f->in.stratum = st ? f->d.stratum : NULL;
}

static void fitted_free(strata_ctx *ctx, fitted *f)
{
    cox_result_free(ctx, f->r);
    free(f->lp);
    design_free(&f->d);
}

typedef struct conc_gold {
    const fitted *f;
    int rows;
} conc_gold;

static void check_conc(char **fl, int nf, void *ud)
{
    conc_gold *g = ud;
    strata_ctx *ctx = tu_ctx();
    strata_surv_conc c;
    strata_conc_weight tw = !strcmp(fl[1], "n") ? STRATA_CONC_HARRELL : STRATA_CONC_UNO;
    double tol_pairs;
    assert_int_equal(nf, 8);
    assert_true(tw == STRATA_CONC_UNO || !strcmp(fl[1], "n"));
    assert_status(ctx, strata_surv_concordance(ctx, &g->f->in, tw, 0.95, &c), STRATA_OK);
    /* our lp and R's (centred X) round differently: a pair of nearly equal lps may
     * move between tied and untied (weight <= 2 x 2, times 1/G^2 for Uno) */
    tol_pairs = 4 * (tw == STRATA_CONC_UNO ? 10 : 1);
    assert_rel_close(c.c, atof(fl[2]), 1e-6, "%s C (%s)", fl[0], fl[1]);
    assert_rel_close(c.se, atof(fl[3]), 1e-5, "%s SE of C (%s)", fl[0], fl[1]);
    assert_abs_close(c.concordant, atof(fl[4]), tol_pairs, "%s concordant (%s)", fl[0], fl[1]);
    assert_abs_close(c.discordant, atof(fl[5]), tol_pairs, "%s discordant (%s)", fl[0], fl[1]);
    assert_abs_close(c.tied_x, atof(fl[6]), tol_pairs, "%s tied lp (%s)", fl[0], fl[1]);
    assert_rel_close(c.tied_y, atof(fl[7]), 1e-9, "%s tied time (%s)", fl[0], fl[1]);
    assert_rel_close(c.lo, c.c - 1.959963984540054 * c.se, 1e-12, "CI lower");
    printf("    %-14s %-5s C %.6f (R %.6f) SE %.3e (R %.3e)\n", fl[0], fl[1], c.c, atof(fl[2]), c.se,
           atof(fl[3]));
    g->rows++;
    strata_ctx_free(ctx);
}

static void conc_vs_golden(const char *model, const char *data, int wt, int off, int st)
{
    strata_ctx *ctx = tu_ctx();
    fitted f;
    conc_gold g = {&f, 0};
    fit_design(ctx, data, wt, off, st, &f);
    assert_int_equal(golden_rows("cox_concord.csv", model, check_conc, &g), 2);
    /* Harrell's C equals the fit's own count (models/cox/cox_concord.c) */
    {
        strata_surv_conc c;
        assert_status(ctx, strata_surv_concordance(ctx, &f.in, STRATA_CONC_HARRELL, 0.95, &c), STRATA_OK);
        assert_rel_close(c.c, f.r->concordance, 1e-12, "Harrell's C vs the fit's");
    }
    fitted_free(ctx, &f);
    strata_ctx_free(ctx);
}

static void test_surv_concordance__harrell_and_uno_match_survival(void **state)
{
    (void)state;
    conc_vs_golden("fl_efron", "fl", 0, 0, 0);
}

static void test_surv_concordance__within_strata_match_survival(void **state)
{
    (void)state;
    conc_vs_golden("colon_strata", "colon_strata", 0, 0, 1);
}

static void test_surv_concordance__case_weights_match_survival(void **state)
{
    (void)state;
    conc_vs_golden("pbc_wt_off", "pbc", 1, 1, 0);
}

/* ---- calibration at the horizon -------------------------------------------- */

typedef struct cal_gold {
    const strata_surv_calib *b;
    int nb, k;
} cal_gold;

static void check_cal(char **fl, int nf, void *ud)
{
    cal_gold *g = ud;
    const strata_surv_calib *b;
    assert_int_equal(nf, 10);
    assert_true(g->k < g->nb);
    assert_int_equal(atoi(fl[2]), g->k + 1);
    b = &g->b[g->k++];
    assert_rel_close(b->n, atof(fl[3]), 1e-12, "group %s n", fl[2]);
    assert_rel_close(b->pred, atof(fl[4]), 1e-8, "group %s mean predicted risk", fl[2]);
    assert_abs_close(b->obs, atof(fl[5]), 1e-12, "group %s KM risk", fl[2]);
    assert_abs_close(b->obs_lo, atof(fl[6]), 1e-12, "group %s KM risk lower", fl[2]);
    assert_abs_close(b->obs_hi, atof(fl[7]), 1e-12, "group %s KM risk upper", fl[2]);
    assert_rel_close(b->p_min, atof(fl[8]), 1e-8, "group %s min risk", fl[2]);
    assert_rel_close(b->p_max, atof(fl[9]), 1e-8, "group %s max risk", fl[2]);
}

static void cal_vs_golden(const char *model, const char *data, int wt, int off, double h)
{
    strata_ctx *ctx = tu_ctx();
    fitted f;
    strata_surv_calib bins[10];
    cal_gold g = {bins, 0, 0};
    double H0, *risk;
    fit_design(ctx, data, wt, off, 0, &f);
    H0 = cox_cumhaz_at(f.r, 0, h);
    risk = malloc(f.d.n * sizeof *risk);
    for (size_t i = 0; i < f.d.n; i++)
        risk[i] = 1 - exp(-H0 * exp(f.lp[i]));
    f.in.risk = risk;
    assert_status(ctx, strata_surv_calibration(ctx, &f.in, h, 10, 0.95, bins, &g.nb), STRATA_OK);
    assert_int_equal(golden_rows("cox_kmcal.csv", model, check_cal, &g), g.nb);
    assert_int_equal(g.k, g.nb);
    free(risk);
    fitted_free(ctx, &f);
    strata_ctx_free(ctx);
}

static void test_surv_calibration__km_by_risk_group_matches_survfit(void **state)
{
    (void)state;
    cal_vs_golden("fl_efron", "fl", 0, 0, 1826);
    cal_vs_golden("pbc_wt_off", "pbc", 1, 1, 2000);
}

/* The written evaluation: the overall C as the API gives it, counts disclosed
 * (suppressed 1-7 or multiples of 5), a tiny subgroup's values hidden with its
 * events, and observed risk x n a multiple of 5 (risks on the rounded counts' grid). */
static void test_surv_write__disclosed_summary_and_calibration(void **state)
{
    strata_ctx *ctx = tu_ctx();
    fitted f;
    strata_surv_conc c;
    strata_eval_params par;
    strata_eval_by by;
    static const char *const lev[2] = {"most", "few"};
    int32_t *code;
    double H0, *risk;
    char *txt, *line;
    int rows = 0;
    (void)state;
    fit_design(ctx, "fl", 0, 0, 0, &f);
    H0 = cox_cumhaz_at(f.r, 0, 1826);
    risk = malloc(f.d.n * sizeof *risk);
    code = malloc(f.d.n * sizeof *code);
    for (size_t i = 0; i < f.d.n; i++) {
        risk[i] = 1 - exp(-H0 * exp(f.lp[i]));
        code[i] = i < 9 ? 1 : 0; /* "few": 9 rows, a handful of events */
    }
    f.in.risk = risk;
    by = (strata_eval_by){"grp", code, 2, lev};
    strata_eval_params_init(&par);
    assert_status(ctx, strata_surv_evaluate_write(ctx, &f.in, 1826, &by, 1, &par, tu_tmp("survev")), STRATA_OK);
    assert_status(ctx, strata_surv_concordance(ctx, &f.in, STRATA_CONC_UNO, 0.95, &c), STRATA_OK);
    txt = tu_read_file(tu_tmp("survev/surv_summary.csv"), NULL);
    assert_non_null(txt);
    {
        char want[64];
        snprintf(want, sizeof want, ",%.4f,%.4f,%.4f,%.4f\r\n", c.c, c.se, c.lo, c.hi);
        assert_contains(txt, want); /* Uno's C of the overall row */
    }
    assert_contains(txt, "grp,few,10,*,*,*,*,*,*,*,*,*"); /* 9 rows round to 10; events hidden */
    free(txt);
    txt = tu_read_file(tu_tmp("survev/surv_calibration.csv"), NULL);
    assert_non_null(txt);
    for (line = strchr(txt, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char *fl[MAXF], buf[512];
        size_t len = strcspn(line + 1, "\n");
        memcpy(buf, line + 1, len);
        buf[len] = 0;
        assert_int_equal(fields(buf, fl), 8);
        assert_int_equal((long)atof(fl[2]) % 5, 0);
        assert_abs_close(atof(fl[5]) * atof(fl[2]) / 5, round(atof(fl[5]) * atof(fl[2]) / 5),
                         atof(fl[2]) * 5e-5 / 5 + 1e-9, "observed x n / 5 of group %s", fl[0]);
        rows++;
    }
    assert_int_equal(rows, 10);
    free(txt);
    free(risk);
    free(code);
    fitted_free(ctx, &f);
    strata_ctx_free(ctx);
}

/* A by-level's row of surv_summary.csv is the concordance of the level's rows
 * alone (summary_table gathers them): the bits of the whole input with the
 * other rows' weights zeroed (the kept rows, their order and their lp ranks
 * are the same), checked here on the API, and the written C, SE and CI of
 * every level those of the zero-weighted whole input. Levels: 7 by row,
 * level 5 empty, every 11th row NA (code -1). */
static void levels_as_subsets(const char *data, int wt, int off, int st)
{
    strata_ctx *ctx = tu_ctx();
    fitted f;
    strata_eval_params par;
    strata_eval_by by;
    static const char *const lev[7] = {"a", "b", "c", "d", "e", "f", "g"};
    int32_t *code, *sc;
    double *risk, *w, *ct, *ce, *cl, *cw;
    char *txt;
    int nan_rows = 0;
    fit_design(ctx, data, wt, off, st, &f);
    risk = malloc(f.d.n * sizeof *risk), code = malloc(f.d.n * sizeof *code), sc = malloc(f.d.n * sizeof *sc);
    w = malloc(f.d.n * sizeof *w), ct = malloc(f.d.n * sizeof *ct), ce = malloc(f.d.n * sizeof *ce);
    cl = malloc(f.d.n * sizeof *cl), cw = malloc(f.d.n * sizeof *cw);
    for (size_t i = 0; i < f.d.n; i++) {
        risk[i] = 1 - exp(-0.01 * exp(f.lp[i]));
        code[i] = i % 11 == 3 ? -1 : (int32_t)((i * 5 + i / 3) % 7);
        code[i] = code[i] == 5 ? 6 : code[i];
    }
    f.in.risk = risk;
    by = (strata_eval_by){"grp", code, 7, lev};
    strata_eval_params_init(&par);
    par.disclosure = 0;
    assert_status(ctx, strata_surv_evaluate_write(ctx, &f.in, 1000, &by, 1, &par, tu_tmp("survlev")), STRATA_OK);
    txt = tu_read_file(tu_tmp("survlev/surv_summary.csv"), NULL);
    assert_non_null(txt);
    for (int l = 0; l < 7; l++) {
        strata_surv_input whole = f.in, sub = f.in;
        strata_surv_conc a[2], b[2];
        strata_status sa[2], sb[2];
        size_t m = 0;
        for (size_t i = 0; i < f.d.n; i++) {
            w[i] = code[i] == l ? (f.in.w ? f.in.w[i] : 1) : 0;
            if (w[i] != 0) {
                ct[m] = f.in.time[i], ce[m] = f.in.event[i], cl[m] = f.in.lp[i], cw[m] = w[i];
                sc[m++] = f.in.stratum ? f.in.stratum[i] : 0;
            }
        }
        whole.w = w;
        sub = (strata_surv_input){m, ct, ce, cl, NULL, cw, f.in.stratum ? sc : NULL};
        for (int k = 0; k < 2; k++) {
            strata_conc_weight tw = k ? STRATA_CONC_UNO : STRATA_CONC_HARRELL;
            sa[k] = strata_surv_concordance(ctx, &whole, tw, 0.95, &a[k]);
            sb[k] = strata_surv_concordance(ctx, &sub, tw, 0.95, &b[k]);
            strata_ctx_clear_error(ctx);
            assert_int_equal(sa[k], sb[k]);
            assert_memory_equal(&a[k], &b[k], sizeof a[k]); /* the same bits */
        }
        if (sa[0] != STRATA_OK) {
            nan_rows++;
            continue;
        }
        {
            char want[256];
            snprintf(want, sizeof want, "grp,%s,", lev[l]);
            assert_contains(txt, want);
            snprintf(want, sizeof want, ",%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\r\n", a[0].c, a[0].se, a[0].lo,
                     a[0].hi, a[1].c, a[1].se, a[1].lo, a[1].hi);
            assert_contains(txt, want);
        }
    }
    assert_int_equal(nan_rows, 1); /* level f (5) is empty: NaN, as before */
    free(txt);
    free(risk), free(code), free(sc), free(w), free(ct), free(ce), free(cl), free(cw);
    fitted_free(ctx, &f);
    strata_ctx_free(ctx);
}

static void test_surv_write__levels_are_their_rows_alone(void **state)
{
    (void)state;
    levels_as_subsets("colon_strata", 0, 0, 1);
    levels_as_subsets("pbc", 1, 1, 0);
}

static void test_surv_input__bad_values_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double t[4] = {5, 3, 8, 1}, e[4] = {1, 0, 1, 1}, lp[4] = {0.1, 0.2, 0.3, 0.4}, r[4] = {.1, .2, .3, 1.5};
    strata_surv_input in = {4, t, e, lp, r, NULL, NULL};
    strata_surv_conc c;
    strata_surv_calib b[4];
    int nb;
    (void)state;
    e[1] = 2;
    assert_status(ctx, strata_surv_concordance(ctx, &in, STRATA_CONC_UNO, 0.95, &c), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "row 2: event 2 is not 0 or 1");
    e[1] = 0;
    assert_status(ctx, strata_surv_calibration(ctx, &in, 4, 4, 0.95, b, &nb), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "row 4: predicted risk 1.5 is outside [0, 1]");
    memset(e, 0, sizeof e);
    assert_status(ctx, strata_surv_concordance(ctx, &in, STRATA_CONC_HARRELL, 0.95, &c), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "no comparable pairs");
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surv_concordance__harrell_and_uno_match_survival),
        cmocka_unit_test(test_surv_concordance__within_strata_match_survival),
        cmocka_unit_test(test_surv_concordance__case_weights_match_survival),
        cmocka_unit_test(test_surv_calibration__km_by_risk_group_matches_survfit),
        cmocka_unit_test(test_surv_write__disclosed_summary_and_calibration),
        cmocka_unit_test(test_surv_write__levels_are_their_rows_alone),
        cmocka_unit_test(test_surv_input__bad_values_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
