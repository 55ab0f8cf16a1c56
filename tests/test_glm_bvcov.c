/* labels: unit determinism */
/* tests/test_glm_bvcov.c — the block covariance of a fit with a many-level
 * factor (issue 19; docs/model-format.md, schema version 2): the p x p matrix
 * built from it equals the dense one-hot fit's inverse, the SEs are its
 * diagonal, 1 vs 2 threads give the same bytes; the file holds the blocks
 * (no p x p), loads back to the same bytes, a version-1 file of the same model
 * (full matrix) still loads, broken blocks are EFORMAT naming the item, and
 * `strata coef` reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "model_file.h"
#include "record.h"
#include "testutil.h"
#include "glm_testdata.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 20000, NP = 90 }; /* 90 practices: over GLM_SCHUR_MIN_LEVELS (64) */

static uint64_t rng_state = 19;
static double unif(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double rnorm(void) { return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()); }

/* y (0/1), yg (Gaussian), x1, x2 (correlated with the practice), practice
 * (sizes skewed: practice k drawn with weight 1 + k mod 7; P007 without
 * weight), sex, w. */
static const char *practice_cohort(strata_ctx *ctx)
{
    static char names[NP][8];
    static const char *lv[NP];
    static const char *const sex_lv[] = {"F", "M"};
    static double col[5][N], u[NP], cum[NP + 1];
    static int32_t codes[2][N];
    const char *path = tu_tmp("bv_practice.h5");
    const char *const num_names[] = {"y", "yg", "x1", "x2", "w"};
    td_mem cols[7];
    for (int k = 0; k < NP; k++) {
        snprintf(names[k], sizeof names[k], "P%03d", k);
        lv[k] = names[k];
        u[k] = 0.3 * rnorm();
        cum[k + 1] = cum[k] + 1 + k % 7;
    }
    for (size_t i = 0; i < N; i++) {
        double r = unif() * cum[NP], eta;
        int32_t k = 0;
        while (cum[k + 1] < r)
            k++;
        codes[0][i] = k;
        codes[1][i] = unif() < 0.5;
        col[2][i] = rnorm();
        col[3][i] = 0.5 * u[k] + rnorm();
        eta = -1 + 0.4 * col[2][i] - 0.2 * col[3][i] + 0.3 * codes[1][i] + u[k];
        col[0][i] = unif() < 1 / (1 + exp(-eta));
        col[1][i] = eta + 0.7 * rnorm();
        col[4][i] = k == 7 ? 0 : 1;
    }
    memset(cols, 0, sizeof cols);
    for (int c = 0; c < 5; c++)
        cols[c].name = num_names[c], cols[c].num = col[c];
    cols[5].name = "practice", cols[5].codes = codes[0], cols[5].levels = lv, cols[5].n_levels = NP;
    cols[6].name = "sex", cols[6].codes = codes[1], cols[6].levels = sex_lv, cols[6].n_levels = 2;
    assert_status(ctx, td_write_cohort(ctx, path, cols, 7, N), STRATA_OK);
    return path;
}

static strata_model *fit(strata_ctx *ctx, const char *path, strata_family fam, strata_glm_pass pass,
                         int threads)
{
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_model *m = NULL;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.family = fam;
    p.formula = fam == STRATA_FAMILY_BINOMIAL ? "y ~ x1 + practice + sex + x2" : "yg ~ x1 + practice + sex + x2";
    p.weights = "w";
    p.pass = pass;
    p.parallel_min_np = 1;
    strata_ctx_set_threads(ctx, threads);
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    strata_cohort_close(c);
    return m;
}

/* Binomial (dispersion 1) and Gaussian (dispersion estimated): every entry of
 * the matrix from the blocks within 1e-8 of the dense fit's (relative to
 * sqrt(V_ii V_jj)), NaN exactly on the aliased practice's row and column,
 * symmetric, its diagonal the SEs squared; 1 and 2 threads the same bytes. */
static void test_bvcov__matrix_from_blocks_equals_dense_fit(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = practice_cohort(ctx);
    (void)state;
    for (int fk = 0; fk < 2; fk++) {
        strata_family fam = fk ? STRATA_FAMILY_GAUSSIAN : STRATA_FAMILY_BINOMIAL;
        strata_model *d = fit(ctx, path, fam, STRATA_GLM_PASS_DENSE, 1);
        strata_model *s1 = fit(ctx, path, fam, STRATA_GLM_PASS_AUTO, 1);
        strata_model *s2 = fit(ctx, path, fam, STRATA_GLM_PASS_AUTO, 2);
        size_t p = strata_model_nterms(d);
        const double *vd = strata_model_vcov(d), *vs = strata_model_vcov(s1);
        strata_fit_summary S;
        assert_int_equal(p, 1 + 1 + (NP - 1) + 1 + 1);
        assert_non_null(vd), assert_non_null(vs);
        strata_model_summary(s1, &S);
        if (fam == STRATA_FAMILY_GAUSSIAN)
            assert_true(S.dispersion > 0.3 && S.dispersion < 0.7); /* 0.7^2 */
        for (size_t i = 0; i < p; i++) {
            strata_coef a, b;
            strata_model_coef(d, i, &a);
            strata_model_coef(s1, i, &b);
            assert_int_equal(b.aliased, !strcmp(strata_model_term(d, i), "practiceP007"));
            assert_int_equal(a.aliased, b.aliased);
            if (!b.aliased)
                assert_rel_close(b.std_error * b.std_error, vs[i * p + i], 1e-13, "%s se^2 vs diag",
                                 strata_model_term(d, i));
            for (size_t j = 0; j < p; j++) {
                double want = vd[i * p + j], got = vs[i * p + j];
                assert_memory_equal(&vs[i * p + j], &vs[j * p + i], sizeof got);
                if (a.aliased)
                    continue;
                if (isnan(want)) {
                    assert_true(isnan(got));
                    continue;
                }
                assert_abs_close(got, want, 1e-8 * sqrt(vd[i * p + i] * vd[j * p + j]), "%s, %s",
                                 strata_model_term(d, i), strata_model_term(d, j));
            }
            if (a.aliased)
                for (size_t j = 0; j < p; j++)
                    assert_true(isnan(vs[i * p + j]) && isnan(vs[j * p + i]));
        }
        assert_memory_equal(vs, strata_model_vcov(s2), p * p * sizeof *vs);
        assert_ptr_equal(strata_model_vcov(s1), vs); /* built once */
        strata_model_free(ctx, d);
        strata_model_free(ctx, s1);
        strata_model_free(ctx, s2);
    }
    strata_ctx_free(ctx);
}

/* Copies every item of r but those named in skip (NULL-terminated) into w. */
static void copy_items(strata_ctx *ctx, const strata_record *r, strata_record *w, const char *const *skip)
{
    for (size_t i = 0; i < r->n; i++) {
        const strata_rec_item *it = &r->items[i];
        int drop = 0;
        for (size_t k = 0; skip[k]; k++)
            drop |= !strcmp(it->name, skip[k]);
        if (drop)
            continue;
        if (it->type == STRATA_REC_TEXT)
            assert_status(ctx, strata_rec_put_text(ctx, w, it->name, it->text), STRATA_OK);
        else if (it->type == STRATA_REC_STRINGS)
            assert_status(ctx, strata_rec_put_strings(ctx, w, it->name, (const char *const *)it->strings, it->dims[0]),
                          STRATA_OK);
        else if (it->type == STRATA_REC_F64)
            memcpy(strata_rec_put_f64(ctx, w, it->name, it->dims[0], it->rank == 2 ? it->dims[1] : 0), it->f64,
                   strata_rec_count(it) * sizeof(double));
        else
            memcpy(strata_rec_put_int(ctx, w, it->name, it->store, it->dims[0], it->rank == 2 ? it->dims[1] : 0),
                   it->i64, strata_rec_count(it) * sizeof(int64_t));
    }
}

static void assert_same_model(const strata_model *a, const strata_model *b)
{
    size_t p = strata_model_nterms(a);
    assert_int_equal(strata_model_nterms(b), p);
    for (size_t j = 0; j < p; j++) {
        strata_coef x, y;
        strata_model_coef(a, j, &x);
        strata_model_coef(b, j, &y);
        assert_memory_equal(&x, &y, sizeof x);
    }
    assert_memory_equal(strata_model_vcov(a), strata_model_vcov(b), p * p * sizeof(double));
}

/* The file: schema_version 2, the blocks of the documented shapes and no
 * /coefficients/vcov; it loads to the same bytes (coefficients, tests,
 * matrix); the same model written in the version-1 layout (full matrix) loads
 * to them too; a broken block is EFORMAT naming it; `strata coef` prints the
 * fit's SEs. */
static void test_bvcov__file_round_trip_old_layout_and_checks(void **state)
{
    static const char *const full_skip[] = {"schema", "schema_version", "/coefficients/vcov_level_column",
                                            "/coefficients/vcov_dense", "/coefficients/vcov_cross",
                                            "/coefficients/vcov_level_diag", "/coefficients/vcov_level_factor",
                                            NULL};
    static const char *const col_skip[] = {"schema", "/coefficients/vcov_level_column", NULL};
    static const char *const cross_skip[] = {"schema", "/coefficients/vcov_cross", NULL};
    strata_ctx *ctx = tu_ctx();
    const char *path = practice_cohort(ctx), *mp = tu_tmp("bv_m.h5");
    strata_model *m = fit(ctx, path, STRATA_FAMILY_GAUSSIAN, STRATA_GLM_PASS_AUTO, 1), *l = NULL;
    size_t p = strata_model_nterms(m), q = p - (NP - 1);
    strata_record r, w;
    const strata_rec_item *it;
    int64_t *col;
    char *out = NULL, want[128];
    strata_coef c;
    (void)state;
    assert_status(ctx, strata_model_save(ctx, m, mp), STRATA_OK);
    strata_record_init(&r);
    assert_status(ctx, strata_model_file_read(ctx, mp, &r), STRATA_OK);
    assert_string_equal(strata_rec_text(&r, "schema_version"), "2");
    assert_null(strata_rec_find(&r, "/coefficients/vcov", STRATA_REC_F64));
    it = strata_rec_find(&r, "/coefficients/vcov_level_column", STRATA_REC_INT);
    assert_non_null(it);
    assert_int_equal(it->store, STRATA_REC_I32);
    assert_int_equal(strata_rec_count(it), NP - 1);
    assert_int_equal(it->i64[0], 2); /* (Intercept), x1, then practiceP001 ... */
    assert_string_equal(strata_model_term(m, 2), "practiceP001");
    it = strata_rec_find(&r, "/coefficients/vcov_dense", STRATA_REC_F64);
    assert_true(it && it->rank == 2 && it->dims[0] == q && it->dims[1] == q);
    it = strata_rec_find(&r, "/coefficients/vcov_cross", STRATA_REC_F64);
    assert_true(it && it->rank == 2 && it->dims[0] == NP - 1 && it->dims[1] == q);
    it = strata_rec_find(&r, "/coefficients/vcov_level_factor", STRATA_REC_F64);
    assert_true(it && it->rank == 2 && it->dims[0] == NP - 1 && it->dims[1] == q);
    assert_int_equal(strata_rec_count(strata_rec_find(&r, "/coefficients/vcov_level_diag", STRATA_REC_F64)), NP - 1);
    assert_status(ctx, strata_model_load(ctx, mp, &l), STRATA_OK);
    assert_same_model(m, l);
    strata_model_free(ctx, l);

    /* the version-1 layout of the same model: the full matrix */
    strata_record_init(&w);
    copy_items(ctx, &r, &w, full_skip);
    memcpy(strata_rec_put_f64(ctx, &w, "/coefficients/vcov", p, p), strata_model_vcov(m), p * p * sizeof(double));
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("bv_v1.h5")), STRATA_OK);
    strata_record_free(ctx, &w);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("bv_v1.h5"), &l), STRATA_OK);
    assert_same_model(m, l);
    strata_model_free(ctx, l);

    /* level columns out of order; a block missing */
    strata_record_init(&w);
    copy_items(ctx, &r, &w, col_skip);
    col = strata_rec_put_int(ctx, &w, "/coefficients/vcov_level_column", STRATA_REC_I32, NP - 1, 0);
    for (size_t a = 0; a < NP - 1; a++)
        col[a] = (int64_t)(NP - a);
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("bv_col.h5")), STRATA_OK);
    strata_record_free(ctx, &w);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("bv_col.h5"), &l), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "/coefficients/vcov_level_column[1]");
    strata_record_init(&w);
    copy_items(ctx, &r, &w, cross_skip);
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("bv_cross.h5")), STRATA_OK);
    strata_record_free(ctx, &w);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("bv_cross.h5"), &l), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "vcov_cross");
    assert_null(l);
    strata_record_free(ctx, &r);

    /* strata coef --csv: the practice's SE as fitted */
    strata_model_coef(m, 50, &c);
    snprintf(want, sizeof want, "\n%s,%.17g,%.17g,", strata_model_term(m, 50), c.estimate, c.std_error);
    assert_int_equal(tu_run_cli(&out, "coef '%s' --csv", mp), 0);
    assert_contains(out, want);
    free(out);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bvcov__matrix_from_blocks_equals_dense_fit),
        cmocka_unit_test(test_bvcov__file_round_trip_old_layout_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
