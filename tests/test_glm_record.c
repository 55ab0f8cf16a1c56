/* labels: unit */
/* tests/test_glm_record.c — the GLM boundary: the model record round-trips every
 * item type bit for bit through a model file; a saved GLM has exactly the layout
 * of docs/model-format.md; another kind or a broken item is STRATA_EFORMAT naming
 * it; engine/model and evaluate_glm.c include no GLM internals, HDF5 or BLAS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "model_file.h"
#include "record.h"
#include "testutil.h"
#include "glm_testdata.c"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const strata_rec_item *must_find(const strata_record *r, const char *name, strata_rec_type t)
{
    const strata_rec_item *it = strata_rec_find(r, name, t);
    if (!it)
        fail_msg("record item %s (type %d) missing", name, (int)t);
    return it;
}

static void test_record__every_item_type_round_trips_through_a_file(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_record w, r;
    const char *strs[3] = {"a", "", "ünïcode"};
    const double vals[6] = {1.5, -0.0, NAN, INFINITY, 1e-310, 0.1};
    const strata_rec_item *it;
    double *f;
    int64_t *i8, *u8, *i32, *i64;
    (void)state;
    strata_record_init(&w);
    assert_status(ctx, strata_rec_put_text(ctx, &w, STRATA_REC_KIND, "test"), STRATA_OK);
    assert_status(ctx, strata_rec_put_text(ctx, &w, "note", "x = 1"), STRATA_OK);
    assert_status(ctx, strata_rec_put_strings(ctx, &w, "/g/strings", strs, 3), STRATA_OK);
    assert_non_null(f = strata_rec_put_f64(ctx, &w, "/g/matrix", 2, 3));
    memcpy(f, vals, sizeof vals);
    assert_non_null(i8 = strata_rec_put_int(ctx, &w, "/g/h/i8", STRATA_REC_I8, 2, 0));
    i8[0] = -128, i8[1] = 127;
    assert_non_null(u8 = strata_rec_put_int(ctx, &w, "/g/h/u8", STRATA_REC_U8, 1, 0));
    u8[0] = 255;
    assert_non_null(i32 = strata_rec_put_int(ctx, &w, "/i32", STRATA_REC_I32, 1, 0));
    i32[0] = -2000000000;
    assert_non_null(i64 = strata_rec_put_int(ctx, &w, "/i64", STRATA_REC_I64, 1, 0));
    i64[0] = INT64_MIN + 1;
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("rec.h5")), STRATA_OK);

    strata_record_init(&r);
    assert_status(ctx, strata_model_file_read(ctx, tu_tmp("rec.h5"), &r), STRATA_OK);
    assert_string_equal(strata_rec_text(&r, "schema"), "strata-model");
    assert_string_equal(strata_rec_text(&r, "schema_version"), "1");
    assert_string_equal(strata_rec_text(&r, STRATA_REC_KIND), "test");
    assert_string_equal(strata_rec_text(&r, "note"), "x = 1");
    it = must_find(&r, "/g/strings", STRATA_REC_STRINGS);
    assert_int_equal(it->dims[0], 3);
    for (int k = 0; k < 3; k++)
        assert_string_equal(it->strings[k], strs[k]);
    it = must_find(&r, "/g/matrix", STRATA_REC_F64);
    assert_int_equal(it->rank, 2);
    assert_int_equal(it->dims[0], 2), assert_int_equal(it->dims[1], 3);
    assert_memory_equal(it->f64, vals, sizeof vals); /* bit for bit: -0, NaN, inf, subnormal */
    it = must_find(&r, "/g/h/i8", STRATA_REC_INT);
    assert_int_equal(it->store, STRATA_REC_I8);
    assert_int_equal(it->i64[0], -128), assert_int_equal(it->i64[1], 127);
    it = must_find(&r, "/g/h/u8", STRATA_REC_INT);
    assert_int_equal(it->store, STRATA_REC_U8);
    assert_int_equal(it->i64[0], 255);
    it = must_find(&r, "/i32", STRATA_REC_INT);
    assert_int_equal(it->store, STRATA_REC_I32);
    assert_int_equal(it->i64[0], -2000000000);
    it = must_find(&r, "/i64", STRATA_REC_INT);
    assert_int_equal(it->store, STRATA_REC_I64);
    assert_true(it->i64[0] == INT64_MIN + 1);
    assert_null(strata_rec_find(&r, "/i64", STRATA_REC_F64)); /* found by name and type */
    strata_record_free(ctx, &w);
    strata_record_free(ctx, &r);
    strata_record_free(ctx, &r); /* freeing twice: the record was left empty */
    strata_ctx_free(ctx);
}

/* A saved GLM: the root attributes and datasets of docs/model-format.md, each
 * with its documented type and shape, and nothing else. */
static void test_model_file__glm_layout_is_the_documented_one(void **state)
{
    static double y[40], x[40];
    static int32_t g[40];
    static const char *const LV[] = {"b", "a"};
    static const char *const attrs[] = {"schema", "schema_version", "model", "family", "formula",
                                        "weights", "unseen", "block_rows", "input_path", "input_hash",
                                        "created", "strata_version", "blas_config", "n_rows"};
    strata_ctx *ctx = tu_ctx();
    td_mem cols[3];
    strata_cohort *c = NULL;
    strata_glm_params p;
    strata_model *m = NULL;
    strata_record r;
    size_t n_text = 0;
    const strata_rec_item *it;
    (void)state;
    for (int i = 0; i < 40; i++)
        x[i] = i % 7, g[i] = i % 2, y[i] = (i * 5) % 3 == 0;
    memset(cols, 0, sizeof cols);
    cols[0].name = "y", cols[0].num = y;
    cols[1].name = "x", cols[1].num = x;
    cols[2].name = "g", cols[2].codes = g, cols[2].levels = LV, cols[2].n_levels = 2;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("lay.h5"), cols, 3, 40), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("lay.h5"), &c), STRATA_OK);
    strata_glm_params_init(&p);
    p.formula = "y ~ rcs(x, 3) + g";
    assert_status(ctx, strata_glm_fit(ctx, c, &p, &m), STRATA_OK);
    assert_status(ctx, strata_model_save(ctx, m, tu_tmp("lay_m.h5")), STRATA_OK);
    strata_record_init(&r);
    assert_status(ctx, strata_model_file_read(ctx, tu_tmp("lay_m.h5"), &r), STRATA_OK);
    for (size_t a = 0; a < sizeof attrs / sizeof *attrs; a++)
        if (!strata_rec_text(&r, attrs[a]))
            fail_msg("attribute %s missing", attrs[a]);
    for (size_t i = 0; i < r.n; i++)
        n_text += r.items[i].type == STRATA_REC_TEXT;
    assert_int_equal(n_text, sizeof attrs / sizeof *attrs);
    assert_string_equal(strata_rec_text(&r, "model"), "glm");
    assert_string_equal(strata_rec_text(&r, "family"), "binomial");
    assert_string_equal(strata_rec_text(&r, "weights"), "");
    assert_int_equal(strncmp(strata_rec_text(&r, "input_hash"), "sha256:", 7), 0);
    /* p = 4: (Intercept), rcs(x, 3)x, rcs(x, 3)x', gb */
    assert_int_equal(must_find(&r, "/coefficients/term", STRATA_REC_STRINGS)->dims[0], 4);
    assert_int_equal(strata_rec_count(must_find(&r, "/coefficients/estimate", STRATA_REC_F64)), 4);
    assert_int_equal(strata_rec_count(must_find(&r, "/coefficients/std_error", STRATA_REC_F64)), 4);
    it = must_find(&r, "/coefficients/aliased", STRATA_REC_INT);
    assert_int_equal(it->store, STRATA_REC_U8);
    it = must_find(&r, "/coefficients/vcov", STRATA_REC_F64);
    assert_int_equal(it->rank, 2), assert_int_equal(it->dims[0], 4), assert_int_equal(it->dims[1], 4);
    assert_int_equal(must_find(&r, "/summary/name", STRATA_REC_STRINGS)->dims[0], 12);
    assert_int_equal(strata_rec_count(must_find(&r, "/summary/value", STRATA_REC_F64)), 12);
    /* variables: y, rcs(x, 3), g */
    it = must_find(&r, "/spec/var_label", STRATA_REC_STRINGS);
    assert_int_equal(it->dims[0], 3);
    assert_string_equal(it->strings[1], "rcs(x, 3)");
    assert_int_equal(must_find(&r, "/spec/var_column", STRATA_REC_STRINGS)->dims[0], 3);
    assert_int_equal(must_find(&r, "/spec/var_factor", STRATA_REC_INT)->store, STRATA_REC_I8);
    assert_int_equal(strata_rec_count(must_find(&r, "/spec/var1/knots", STRATA_REC_F64)), 3);
    it = must_find(&r, "/spec/var2/levels", STRATA_REC_STRINGS);
    assert_int_equal(it->dims[0], 2);
    assert_string_equal(it->strings[0], "a"), assert_string_equal(it->strings[1], "b");
    assert_int_equal(r.n, 14 + 12); /* 14 attributes, 12 datasets */
    strata_record_free(ctx, &r);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* Loading dispatches on the kind; a missing or mismatched item names itself. */
static void test_model_load__other_kind_or_broken_item_is_eformat(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_record w, r;
    strata_model *m = NULL;
    (void)state;
    strata_record_init(&w);
    assert_status(ctx, strata_rec_put_text(ctx, &w, STRATA_REC_KIND, "cox"), STRATA_OK);
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("cox.h5")), STRATA_OK);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("cox.h5"), &m), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "model kind 'cox'");
    assert_contains(strata_ctx_errmsg(ctx), "cox.h5");
    assert_null(m);
    strata_record_free(ctx, &w);
    /* a saved GLM with its knots dropped */
    strata_record_init(&r);
    assert_status(ctx, strata_model_file_read(ctx, tu_tmp("lay_m.h5"), &r), STRATA_OK);
    strata_record_init(&w);
    for (size_t i = 0; i < r.n; i++) {
        const strata_rec_item *it = &r.items[i];
        if (!strcmp(it->name, "schema") || !strcmp(it->name, "schema_version") ||
            !strcmp(it->name, "/spec/var1/knots"))
            continue;
        if (it->type == STRATA_REC_TEXT)
            assert_status(ctx, strata_rec_put_text(ctx, &w, it->name, it->text), STRATA_OK);
        else if (it->type == STRATA_REC_STRINGS)
            assert_status(ctx, strata_rec_put_strings(ctx, &w, it->name, (const char *const *)it->strings, it->dims[0]), STRATA_OK);
        else if (it->type == STRATA_REC_F64)
            memcpy(strata_rec_put_f64(ctx, &w, it->name, it->dims[0], it->rank == 2 ? it->dims[1] : 0), it->f64,
                   strata_rec_count(it) * sizeof(double));
        else
            memcpy(strata_rec_put_int(ctx, &w, it->name, it->store, it->dims[0], it->rank == 2 ? it->dims[1] : 0),
                   it->i64, strata_rec_count(it) * sizeof(int64_t));
    }
    assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("noknots.h5")), STRATA_OK);
    assert_status(ctx, strata_model_load(ctx, tu_tmp("noknots.h5"), &m), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "/spec/var1/knots");
    assert_null(m);
    /* the untouched copy loads */
    assert_status(ctx, strata_model_load(ctx, tu_tmp("lay_m.h5"), &m), STRATA_OK);
    assert_int_equal(strata_model_nterms(m), 4);
    strata_model_free(ctx, m);
    strata_record_free(ctx, &w);
    strata_record_free(ctx, &r);
    strata_ctx_free(ctx);
}

/* The forbidden #includes of one file: GLM internals, HDF5, BLAS, cohort internals. */
static void assert_includes_only_glm_h(const char *rel)
{
    static const char *const bad[] = {"glm_internal.h", "glm_fit.h", "linalg.h", "hdf5.h",
                                      "cblas.h", "lapacke.h", "cohort_internal.h"};
    char *text = tu_read_file(tu_src(rel), NULL), *line;
    assert_non_null(text);
    for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "#include", 8))
            continue;
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            const char *end = strchr(line, '\n'), *hit = strstr(line, bad[k]);
            if (hit && (!end || hit < end))
                fail_msg("%s includes %s", rel, bad[k]);
        }
    }
    free(text);
}

/* engine/model and evaluate_glm.c reach the GLM only through models/glm/glm.h
 * and HDF5 only through engine/io/model_file.h (the build also gives
 * engine/model no HDF5 or linalg include path). */
static void test_layers__engine_sees_the_glm_only_through_glm_h(void **state)
{
    DIR *d = opendir(tu_src("engine/model"));
    struct dirent *e;
    int files = 0;
    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char rel[512];
        size_t n = strlen(e->d_name);
        if (n < 3 || (strcmp(e->d_name + n - 2, ".c") && strcmp(e->d_name + n - 2, ".h")))
            continue;
        snprintf(rel, sizeof rel, "engine/model/%s", e->d_name);
        assert_includes_only_glm_h(rel);
        files++;
    }
    closedir(d);
    assert_true(files >= 3);
    assert_includes_only_glm_h("engine/evaluate/evaluate_glm.c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record__every_item_type_round_trips_through_a_file),
        cmocka_unit_test(test_model_file__glm_layout_is_the_documented_one),
        cmocka_unit_test(test_model_load__other_kind_or_broken_item_is_eformat),
        cmocka_unit_test(test_layers__engine_sees_the_glm_only_through_glm_h),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
