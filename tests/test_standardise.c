/* labels: unit golden */
/* tests/test_standardise.c — age standardisation against PHEindicatormethods'
 * methods written out in R (data/golden/stratify/make_standardise.R): Byar's
 * limits, the DSR with the 2013 ESP and Dobson limits (NA below 10 events),
 * the ISR with exact/Byar limits, and the SII/RII on DSRs by decile; and the
 * summary table's published DSR and ISR columns against the same functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/stratify.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixture of data/golden/stratify as a row-major array (tu_load_numeric_csv). */
static size_t load(const char *name, size_t *cols, double **out)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/golden/stratify/%s", name);
    return tu_load_numeric_csv(rel, cols, out);
}

static void close_or_both_nan(double got, double want, const char *what, size_t g, double lev)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s group %zu level %g: want NA (fewer than 10 events), got %g", what, g, lev,
                     got);
        return;
    }
    assert_rel_close(got, want, 1e-12, "%s group %zu level %g", what, g, lev);
}

static void test_byar__matches_phe(void **state)
{
    size_t nc, n;
    double *v;
    (void)state;
    n = load("byars.csv", &nc, &v);
    assert_int_equal(n, 14);
    for (size_t i = 0; i < n; i++) {
        double lo, hi;
        strata_byar_ci(v[i * nc], v[i * nc + 1], &lo, &hi);
        assert_rel_close(lo, v[i * nc + 2], 1e-13, "byars_lower(%g, %g)", v[i * nc], v[i * nc + 1]);
        assert_rel_close(hi, v[i * nc + 3], 1e-13, "byars_upper(%g, %g)", v[i * nc], v[i * nc + 1]);
    }
    free(v);
}

/* x[g][band], n[g][band] from dsr_data.csv (12 groups x 19 bands). */
static void load_groups(double x[12][19], double n[12][19])
{
    size_t nc, rows;
    double *v;
    rows = load("dsr_data.csv", &nc, &v);
    assert_int_equal(rows, 12 * 19);
    for (size_t i = 0; i < rows; i++) {
        int g = (int)v[i * nc] - 1, b = (int)v[i * nc + 1] - 1;
        x[g][b] = v[i * nc + 2];
        n[g][b] = v[i * nc + 3];
    }
    free(v);
}

static void test_dsr__esp2013_dobson_matches_phe(void **state)
{
    double x[12][19], n[12][19], *v, sum = 0;
    size_t nc, rows;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    for (int b = 0; b < STRATA_ESP_BANDS; b++)
        sum += strata_esp2013()[b];
    assert_rel_close(sum, 100000, 0, "the ESP 2013 sums to 100,000");
    assert_int_equal(strata_esp_band(0), 0);
    assert_int_equal(strata_esp_band(4), 0);
    assert_int_equal(strata_esp_band(5), 1);
    assert_int_equal(strata_esp_band(89), 17);
    assert_int_equal(strata_esp_band(90), 18);
    assert_int_equal(strata_esp_band(104), 18);
    assert_int_equal(strata_esp_band(-1), -1);
    load_groups(x, n);
    rows = load("dsr_expected.csv", &nc, &v);
    assert_int_equal(rows, 24);
    for (size_t i = 0; i < rows; i++) {
        size_t g = (size_t)v[i * nc] - 1;
        double lev = v[i * nc + 1];
        strata_dsr_result r;
        assert_status(ctx, strata_dsr(ctx, 19, x[g], n[g], strata_esp2013(), lev, 1e5, &r),
                      STRATA_OK);
        assert_rel_close(r.observed, v[i * nc + 2], 0, "O group %zu", g + 1);
        close_or_both_nan(r.value, v[i * nc + 3], "DSR", g + 1, lev);
        close_or_both_nan(r.lo, v[i * nc + 4], "DSR lower", g + 1, lev);
        close_or_both_nan(r.hi, v[i * nc + 5], "DSR upper", g + 1, lev);
    }
    /* PHE requires every population > 0 */
    n[0][3] = 0;
    {
        strata_dsr_result r;
        assert_status(ctx, strata_dsr(ctx, 19, x[0], n[0], strata_esp2013(), 0.95, 1e5, &r),
                      STRATA_EDATA);
        assert_contains(strata_ctx_errmsg(ctx), "category 4");
    }
    free(v);
    strata_ctx_free(ctx);
}

static void test_isr__exact_below_10_byar_above(void **state)
{
    double x[12][19], n[12][19], xr[19] = {0}, nr[19] = {0}, *v;
    size_t nc, rows;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    load_groups(x, n);
    for (int g = 0; g < 12; g++)
        for (int b = 0; b < 19; b++)
            xr[b] += x[g][b], nr[b] += n[g][b];
    rows = load("isr_expected.csv", &nc, &v);
    assert_int_equal(rows, 24);
    for (size_t i = 0; i < rows; i++) {
        size_t g = (size_t)v[i * nc] - 1;
        double lev = v[i * nc + 1], e, r, lo, hi;
        assert_status(ctx, strata_isr(ctx, 19, x[g], n[g], xr, nr, lev, &e, &r, &lo, &hi),
                      STRATA_OK);
        assert_rel_close(e, v[i * nc + 3], 1e-12, "E group %zu", g + 1);
        assert_rel_close(r, v[i * nc + 4], 1e-12, "ISR group %zu", g + 1);
        assert_rel_close(lo, v[i * nc + 5], 1e-10, "ISR lower group %zu level %g", g + 1, lev);
        assert_rel_close(hi, v[i * nc + 6], 1e-10, "ISR upper group %zu level %g", g + 1, lev);
    }
    free(v);
    strata_ctx_free(ctx);
}

static void test_sii__on_dsr_by_decile_matches_phe(void **state)
{
    size_t nc, rows;
    double *v, *w, pop[10], val[10], se[10];
    strata_sii_params sp;
    strata_sii_result r;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    rows = load("sii_dsr_data.csv", &nc, &v);
    assert_int_equal(rows, 9); /* decile 4 has fewer than 10 events: no DSR */
    for (size_t i = 0; i < rows; i++)
        pop[i] = v[i * nc + 1], val[i] = v[i * nc + 2], se[i] = v[i * nc + 3];
    load("sii_dsr_expected.csv", &nc, &w);
    strata_sii_params_init(&sp);
    sp.reps = 1000;
    sp.scale = STRATA_SII_RATE;
    assert_status(ctx, strata_sii(ctx, &sp, rows, pop, val, se, &r), STRATA_OK);
    assert_rel_close(r.sii, w[0], 1e-10, "SII of the DSR");
    assert_rel_close(r.rii, w[1], 1e-10, "RII of the DSR");
    assert_true(r.sii_lo < r.sii && r.sii < r.sii_hi);
    free(v);
    free(w);
    strata_ctx_free(ctx);
}

/* The published DSR and ISR of a group equal the functions on its bands:
 * groups of people with ages spread over the bands, disclosure off. */
static void test_summary__dsr_isr_columns_are_phe(void **state)
{
    enum { NP = 6000, NG = 3 };
    static double risk[NP], obs[NP];
    static int32_t age[NP], sex[NP], grp[NP];
    static uint8_t tier[NP], seg[NP];
    static const char *const names[NG] = {"A", "B", "C"};
    double x[NG][19] = {{0}}, n[NG][19] = {{0}};
    strata_strat_input in = {0};
    strata_group_params gp;
    strata_sdc_params off;
    strata_table *t;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    for (int i = 0; i < NP; i++) {
        age[i] = (i * 37) % 101;
        sex[i] = i % 2;
        grp[i] = i % NG;
        risk[i] = 0.01 + 0.002 * age[i] / 10.0;
        obs[i] = ((i * 7919) % 1000) < 1000 * risk[i] * (1 + 0.3 * grp[i]) ? 1 : 0;
        tier[i] = 1 + (uint8_t)(i % 4);
        seg[i] = (uint8_t)(i % STRATA_N_SEGMENTS);
        x[grp[i]][strata_esp_band(age[i])] += obs[i];
        n[grp[i]][strata_esp_band(age[i])] += 1;
    }
    in.n = NP, in.risk = risk, in.observed = obs, in.age = age, in.sex = sex;
    in.tier = tier, in.n_tiers = 4, in.segment = seg;
    strata_group_params_init(&gp);
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, grp, NG, names, NULL, &t), STRATA_OK);
    strata_sdc_params_init(&off);
    off.enabled = 0;
    assert_status(ctx, strata_disclose(ctx, &off, t), STRATA_OK);
    for (int g = 0; g < NG; g++) {
        strata_dsr_result r;
        for (int b = 0; b < 19; b++)
            if (n[g][b] == 0)
                n[g][b] = 1; /* no one in the band: rate 0, its weight still counts */
        assert_status(ctx, strata_dsr(ctx, 19, x[g], n[g], strata_esp2013(), 0.95, 1e5, &r),
                      STRATA_OK);
        assert_abs_close(strata_table_value(t, strata_table_find(t, "dsr"), (size_t)g), r.value,
                         0.05, "published DSR (1 decimal), group %d", g);
        assert_abs_close(strata_table_value(t, strata_table_find(t, "dsr_lo"), (size_t)g), r.lo,
                         0.05, "published DSR lower, group %d", g);
    }
    /* the ISRs of the groups average to 1 weighted by their expected counts */
    {
        double so = 0, se = 0;
        for (int g = 0; g < NG; g++) {
            so += strata_table_value(t, strata_table_find(t, "n_observed_list"), (size_t)g);
            se += strata_table_value(t, strata_table_find(t, "expected_isr"), (size_t)g);
        }
        assert_abs_close(so / se, 1, 1e-3, "sum O / sum E of the ISR");
    }
    strata_table_free(ctx, t);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byar__matches_phe),
        cmocka_unit_test(test_dsr__esp2013_dobson_matches_phe),
        cmocka_unit_test(test_isr__exact_below_10_byar_above),
        cmocka_unit_test(test_sii__on_dsr_by_decile_matches_phe),
        cmocka_unit_test(test_summary__dsr_isr_columns_are_phe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
