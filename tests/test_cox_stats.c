/* labels: unit golden determinism models */
/* tests/test_cox_stats.c — the Cox fit's further statistics against survival::coxph
 * (data/golden/cox, make_cox.R): the robust (sandwich) variance with each row its
 * own cluster and with cluster(), under Efron and Breslow ties, strata, fractional
 * weights and an offset; its bytes for 1 and 2 threads; hazard ratios with CIs;
 * the input checks (all events at one time, a term constant within every stratum). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include "cox_testdata.c"

/* The golden cluster of design row i (0-based): ((i) * 7919) mod 97, as make_cox.R. */
static double *golden_clusters(size_t n)
{
    double *cl = malloc(n * sizeof *cl);
    for (size_t i = 0; i < n; i++)
        cl[i] = (double)((i * 7919) % 97);
    return cl;
}

typedef struct rob_gold {
    const cox_result *r;
    const design *d;
    size_t k;
    int se_field; /* field of the robust SE in the golden row */
    double worst;
} rob_gold;

static void check_robust(char **f, int nf, void *ud)
{
    rob_gold *g = ud;
    size_t j = g->k++;
    assert_true(nf > g->se_field);
    assert_string_equal(f[1], g->d->names[j]);
    assert_rel_close(g->r->beta[j], atof(f[2]), 1e-6, "beta %s", f[1]);
    assert_rel_close(g->r->rse[j], atof(f[g->se_field]), 1e-6, "robust se %s", f[1]);
    g->worst = fmax(g->worst, relerr(g->r->rse[j], atof(f[g->se_field])));
}

static cox_result *fit_robust(strata_ctx *ctx, const design *d, cox_ties ties, int wt, int off,
                              int st, const double *cluster, size_t block_rows)
{
    cox_params prm;
    cox_result *r = NULL;
    cox_input in = design_input(d, wt, off, st);
    in.cluster = cluster;
    cox_params_init(&prm);
    prm.ties = ties;
    prm.robust = 1;
    prm.block_rows = block_rows;
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    assert_non_null(r->rse);
    return r;
}

/* Robust SEs of one golden model; file/se_field say where R's values are. */
static void robust_golden(const char *file, int se_field, const char *model, const char *data,
                          cox_ties ties, int wt, int off, int st, int clustered, size_t block_rows)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    double *cl;
    rob_gold g = {0};
    cox_result *r;
    design_load(data, &d);
    cl = clustered ? golden_clusters(d.n) : NULL;
    r = fit_robust(ctx, &d, ties, wt, off, st, cl, block_rows);
    g.r = r;
    g.d = &d;
    g.se_field = se_field;
    assert_int_equal(golden_rows(file, model, check_robust, &g), (int)d.p);
    assert_int_equal(r->nclusters, clustered ? 97 : d.n);
    printf("    %-22s block %5zu: max rel err robust se %.1e\n", model, block_rows, g.worst);
    cox_result_free(ctx, r);
    free(cl);
    design_free(&d);
    strata_ctx_free(ctx);
}

static void test_cox_robust__each_row_its_own_cluster_matches_coxph(void **state)
{
    (void)state;
    robust_golden("cox_robust.csv", 3, "fl_efron_robust", "fl", COX_TIES_EFRON, 0, 0, 0, 0, 8192);
    robust_golden("cox_robust.csv", 3, "fl_efron_robust", "fl", COX_TIES_EFRON, 0, 0, 0, 0, 16);
    robust_golden("cox_robust.csv", 3, "fl_breslow_robust", "fl", COX_TIES_BRESLOW, 0, 0, 0, 0, 8192);
    /* fractional case weights: coxph went robust by itself (cox_coef.csv, field robust_se) */
    robust_golden("cox_coef.csv", 4, "pbc_wt_off", "pbc", COX_TIES_EFRON, 1, 1, 0, 0, 8192);
}

static void test_cox_robust__cluster_matches_coxph(void **state)
{
    (void)state;
    robust_golden("cox_robust.csv", 3, "colon_strata_cluster", "colon_strata", COX_TIES_EFRON, 0, 0, 1,
                  1, 8192);
    robust_golden("cox_robust.csv", 3, "colon_strata_cluster", "colon_strata", COX_TIES_EFRON, 0, 0, 1,
                  1, 32);
    robust_golden("cox_robust.csv", 3, "pbc_wt_off_cluster", "pbc", COX_TIES_EFRON, 1, 1, 0, 1, 8192);
    robust_golden("cox_robust.csv", 3, "rot_strata_cluster", "rot_strata", COX_TIES_BRESLOW, 0, 0, 1, 1,
                  100);
}

/* The sandwich is reduced in block order (rows) or sorted row order (clusters). */
static void test_cox_robust__one_and_two_threads_identical_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    double *cl;
    (void)state;
    design_load("colon_strata", &d);
    cl = golden_clusters(d.n);
    for (int c = 0; c < 2; c++) {
        cox_result *a, *b;
        strata_ctx_set_threads(ctx, 1);
        a = fit_robust(ctx, &d, COX_TIES_EFRON, 0, 0, 1, c ? cl : NULL, 64);
        strata_ctx_set_threads(ctx, 2);
        b = fit_robust(ctx, &d, COX_TIES_EFRON, 0, 0, 1, c ? cl : NULL, 64);
        assert_memory_equal(a->rvcov, b->rvcov, d.p * d.p * sizeof(double));
        assert_memory_equal(a->beta, b->beta, d.p * sizeof(double));
        cox_result_free(ctx, a);
        cox_result_free(ctx, b);
    }
    free(cl);
    design_free(&d);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_robust__each_row_its_own_cluster_matches_coxph),
        cmocka_unit_test(test_cox_robust__cluster_matches_coxph),
        cmocka_unit_test(test_cox_robust__one_and_two_threads_identical_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
