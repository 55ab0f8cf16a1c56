/* labels: unit golden determinism models */
/* tests/test_cox_stats.c — the Cox fit's further statistics against survival::coxph
 * (data/golden/cox, make_cox.R): the robust (sandwich) variance with each row its
 * own cluster and with cluster(), under Efron and Breslow ties, strata, fractional
 * weights and an offset; its bytes for 1 and 2 threads; hazard ratios with CIs;
 * the input checks (all events at one time, a term constant within every stratum);
 * 64-bit offsets into X past 2^32 elements (a sparse mapping, so fast and small). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include "cox_testdata.c"

#include <sys/mman.h>

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

/* ---- hazard ratios ------------------------------------------------------------ */

typedef struct hr_gold {
    const cox_result *r;
    const design *d;
    size_t k;
    int robust;
} hr_gold;

static void check_hr(char **f, int nf, void *ud)
{
    hr_gold *g = ud;
    size_t j = g->k++;
    cox_coef c;
    assert_int_equal(nf, 7);
    assert_string_equal(f[1], g->d->names[j]);
    cox_coef_row(g->r, j, g->robust, 0.95, &c);
    assert_int_equal(c.robust, g->robust);
    assert_rel_close(c.z, atof(f[2]), 1e-6, "z %s", f[1]);
    assert_rel_close(c.p_value, atof(f[3]), 1e-5, "p %s", f[1]);
    assert_rel_close(c.hr, atof(f[4]), 1e-9, "HR %s", f[1]);
    assert_rel_close(c.hr_low, atof(f[5]), 1e-8, "HR lower %s", f[1]);
    assert_rel_close(c.hr_high, atof(f[6]), 1e-8, "HR upper %s", f[1]);
}

static void test_cox_hr__hazard_ratios_and_cis_match_summary_coxph(void **state)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    double *cl;
    hr_gold g = {0};
    cox_result *r;
    (void)state;
    design_load("fl", &d);
    r = fit_robust(ctx, &d, COX_TIES_EFRON, 0, 0, 0, NULL, 8192);
    g.r = r;
    g.d = &d;
    assert_int_equal(golden_rows("cox_hr.csv", "fl_efron", check_hr, &g), (int)d.p);
    cox_result_free(ctx, r);
    design_free(&d);
    design_load("colon_strata", &d);
    cl = golden_clusters(d.n);
    r = fit_robust(ctx, &d, COX_TIES_EFRON, 0, 0, 1, cl, 8192);
    g.r = r;
    g.d = &d;
    g.k = 0;
    g.robust = 1;
    assert_int_equal(golden_rows("cox_hr.csv", "colon_strata_cluster", check_hr, &g), (int)d.p);
    cox_result_free(ctx, r);
    free(cl);
    design_free(&d);
    strata_ctx_free(ctx);
}

/* cluster(cl) in the formula reaches the robust variance: colon's golden again. */
static void test_cox_formula__cluster_term_gives_robust_se(void **state)
{
    strata_ctx *ctx = tu_ctx();
    design d;
    memsrc m;
    double *rx, *ext, *cl;
    cox_params prm;
    cox_fit_out fo;
    rob_gold g = {0};
    (void)state;
    design_load("colon_strata", &d);
    colon_source(&d, &m, &rx, &ext);
    cl = golden_clusters(d.n);
    mem_add(&m, "cl", cl, NULL, 0);
    glm_source src = mem_source(&m);
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_source(ctx, &src, "Surv(time, status) ~ cluster(cl) + rx + sex + age + nodes + strata(extent)",
                                      NULL, &prm, &fo), STRATA_OK);
    assert_string_equal(fo.cf->cluster, "cl");
    g.r = fo.res;
    g.d = &d;
    g.se_field = 3;
    assert_int_equal(golden_rows("cox_robust.csv", "colon_strata_cluster", check_robust, &g), (int)d.p);
    assert_int_equal(fo.res->nclusters, 97);
    cox_fit_out_free(ctx, &fo);
    free(rx);
    free(ext);
    free(cl);
    design_free(&d);
    strata_ctx_free(ctx);
}

/* ---- input checks ----------------------------------------------------------- */

static void test_cox_input__all_events_at_one_time_is_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double t[6] = {30, 30, 30, 45, 60, 30}, e[6] = {1, 1, 0, 0, 0, 1}, x[6] = {1, 2, 3, 4, 5, 6};
    const char *names[1] = {"age"};
    cox_input in = {6, 1, x, t, e, NULL, NULL, NULL, names, NULL};
    cox_params prm;
    cox_result *r = NULL;
    (void)state;
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_EDATA);
    assert_null(r);
    assert_contains(strata_ctx_errmsg(ctx), "all 3 events are at one time (30)");
    e[3] = 1; /* a second event time: fits */
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    cox_result_free(ctx, r);
    strata_ctx_free(ctx);
}

static void test_cox_input__term_constant_within_every_stratum_is_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    double t[8] = {5, 3, 8, 1, 9, 2, 7, 4}, e[8] = {1, 0, 1, 1, 0, 1, 1, 0};
    double x[16] = {1, 2, 3, 4, 5, 6, 7, 8, /* age */ 0, 1, 0, 1, 0, 1, 0, 1 /* region */};
    int32_t st[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    const char *names[2] = {"age", "region"};
    cox_input in = {8, 2, x, t, e, NULL, NULL, st, names, NULL};
    cox_params prm;
    cox_result *r = NULL;
    (void)state;
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_EDATA);
    assert_null(r);
    assert_contains(strata_ctx_errmsg(ctx), "column 'region' is constant within every stratum");
    in.stratum = NULL; /* without strata, region varies */
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_OK);
    cox_result_free(ctx, r);
    for (size_t i = 0; i < 8; i++)
        x[8 + i] = 1; /* constant overall */
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'region' is constant within every stratum:");
    strata_ctx_free(ctx);
}

/* ---- 64-bit offsets into X ---------------------------------------------------- */

/* Allocation hook: a request of 1 GiB or more is a sparse anonymous mapping
 * (MAP_NORESERVE: only the pages touched take memory); the rest is malloc. */
typedef struct sparse_alloc {
    void *big;
    size_t size;
} sparse_alloc;

static void *sparse_hook(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    sparse_alloc *s = ud;
    (void)old_size;
    if (ptr && ptr == s->big) {
        assert_int_equal(new_size, 0); /* the big block is never resized */
        munmap(s->big, s->size);
        s->big = NULL;
        return NULL;
    }
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    if (!ptr && new_size >= ((size_t)1 << 30)) {
        void *m = mmap(NULL, new_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        assert_true(m != MAP_FAILED && !s->big);
        s->big = m;
        s->size = new_size;
        return m;
    }
    return realloc(ptr, new_size);
}

/* X's column j starts j * ldx doubles in: with ldx = 2^30 + 3 the last of flchain's
 * 6 columns starts past 2^32 elements (40 GB in), as it would at n x p > 2^32. A
 * 32-bit index anywhere in the passes would read another column or unmapped
 * memory; the fit must give the same bytes as with ldx = n, and R's numbers.
 * (Rows themselves stay below 2^31: ~60 bytes a row beside X makes a 2^31-row fit
 * 130 GB, beyond any test machine; rows are size_t throughout.) */
static void test_cox_index__x_offsets_past_2_32_elements(void **state)
{
    strata_ctx *ctx = tu_ctx();
    sparse_alloc sp = {NULL, 0};
    design d;
    cox_params prm;
    cox_result *a = NULL, *b = NULL;
    cox_input in;
    (void)state;
    design_load("fl", &d);
    in = design_input(&d, 0, 0, 0);
    cox_params_init(&prm);
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &a), STRATA_OK);
    strata_ctx_set_alloc(ctx, sparse_hook, &sp);
    prm.x_ld = ((size_t)1 << 30) + 3;
    assert_true((d.p - 1) * prm.x_ld > ((size_t)1 << 32));
    prm.robust = 1; /* the residual pass reads X too */
    assert_status(ctx, cox_fit_arrays(ctx, &in, &prm, &b), STRATA_OK);
    assert_null(sp.big); /* X was mapped, then released */
    assert_memory_equal(a->beta, b->beta, d.p * sizeof(double));
    assert_memory_equal(a->vcov, b->vcov, d.p * d.p * sizeof(double));
    assert_memory_equal(&a->loglik, &b->loglik, sizeof(double));
    assert_memory_equal(a->bh_haz, b->bh_haz, a->bh_start[a->nstrata] * sizeof(double));
    {
        rob_gold g = {b, &d, 0, 3, 0};
        assert_int_equal(golden_rows("cox_robust.csv", "fl_efron_robust", check_robust, &g), (int)d.p);
    }
    cox_result_free(ctx, b);
    strata_ctx_set_alloc(ctx, NULL, NULL);
    cox_result_free(ctx, a);
    design_free(&d);
    strata_ctx_free(ctx);
}

/* A long right side: every term reaches the GLM formula (each '+' becomes " +"). */
static void test_cox_formula__many_terms_kept_whole(void **state)
{
    strata_ctx *ctx = tu_ctx();
    cox_formula *cf = NULL;
    (void)state;
    assert_status(ctx, cox_formula_parse(ctx, "Surv(t, e) ~ a + b + c + d + e1 + f + g + h + i + j + "
                                              "ae_attendances_12m + strata(s)", &cf), STRATA_OK);
    assert_contains(cf->glm, "+ j  + ae_attendances_12m ");
    assert_string_equal(cf->strata, "s");
    cox_formula_free(ctx, cf);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_robust__each_row_its_own_cluster_matches_coxph),
        cmocka_unit_test(test_cox_robust__cluster_matches_coxph),
        cmocka_unit_test(test_cox_robust__one_and_two_threads_identical_bytes),
        cmocka_unit_test(test_cox_hr__hazard_ratios_and_cis_match_summary_coxph),
        cmocka_unit_test(test_cox_formula__cluster_term_gives_robust_se),
        cmocka_unit_test(test_cox_input__all_events_at_one_time_is_named),
        cmocka_unit_test(test_cox_input__term_constant_within_every_stratum_is_named),
        cmocka_unit_test(test_cox_index__x_offsets_past_2_32_elements),
        cmocka_unit_test(test_cox_formula__many_terms_kept_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
