/* labels: unit harden */
/* tests/test_harden_cohort.c — issue 17 #4 and #5: what the cohort reader
 * checks for every consumer. A numeric array attribute (any name) is a clean
 * EFORMAT naming file and attribute, never read into a scalar; a category
 * code outside its levels table is an EDATA naming file, dataset, row and
 * value on every read (fit, score, run, export), while validate still lists it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/cohort.h"
#include "testutil.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add(strata_cohort_writer *w, const char *name, strata_dtype t, int cat,
                const char *const *lev, size_t nlev, strata_role role, const void *data,
                size_t n)
{
    strata_column_spec s = {0};
    size_t j;
    s.name = name;
    s.dtype = t;
    s.categorical = cat;
    s.levels = lev;
    s.n_levels = nlev;
    s.role = role;
    assert_int_equal(strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_int_equal(strata_cohort_writer_append(w, j, data, n), STRATA_OK);
}

/* 8 patients, a binary outcome y, age and sex; sex[bad_row] = bad_code. */
static void write_cohort(const char *path, int32_t bad_code, size_t bad_row)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort_writer *w = NULL;
    static const char *const sexes[] = {"F", "M", "I"};
    int64_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double age[8] = {30, 41, 52, 63, 34, 45, 56, 67}, y[8] = {0, 1, 0, 1, 1, 0, 1, 0};
    int32_t sex[8] = {0, 1, 0, 1, 2, 0, 1, -1};
    sex[bad_row] = bad_code;
    assert_int_equal(strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    add(w, "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, id, 8);
    add(w, "age", STRATA_DT_FLOAT64, 0, NULL, 0, STRATA_ROLE_AGE, age, 8);
    add(w, "sex", STRATA_DT_INT32, 1, sexes, 3, STRATA_ROLE_SEX, sex, 8);
    add(w, "y", STRATA_DT_FLOAT64, 0, NULL, 0, STRATA_ROLE_NONE, y, 8);
    assert_int_equal(strata_cohort_writer_finish(w), STRATA_OK);
    strata_ctx_free(ctx);
}

/* Adds an int64 attribute of n elements filled with 0x4141414141414141 to
 * obj_path (n = 0: a scalar). */
static void plant_attr(const char *path, const char *obj_path, const char *name, hsize_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), o, sp, a;
    int64_t *v = malloc((n ? n : 1) * sizeof *v);
    for (hsize_t i = 0; i < (n ? n : 1); i++)
        v[i] = 0x4141414141414141LL;
    assert_true(f >= 0);
    o = H5Oopen(f, obj_path, H5P_DEFAULT);
    sp = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (H5Aexists(o, name) > 0)
        H5Adelete(o, name);
    a = H5Acreate2(o, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Oclose(o);
    H5Fclose(f);
    free(v);
}

static void test_cohort__array_root_attribute_is_eformat_not_a_stack_write(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("attr_array.h5");
    char *out = NULL;
    (void)state;
    write_cohort(path, 0, 0);
    plant_attr(path, "/", "note", 4096); /* 32 KiB onto a 64-byte buffer before the fix */
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_EFORMAT);
    assert_null(c);
    assert_contains(strata_ctx_errmsg(ctx), "attr_array.h5:/: attribute \"note\" is a "
                                            "4096-element integer array (1 dimensions); strata "
                                            "reads scalar string or numeric attributes only");
    assert_int_equal(tu_run_cli(&out, "info '%s'", path), 5);
    assert_contains(out, "attribute \"note\" is a 4096-element integer array");
    free(out);
    /* validate lists it as a structure problem and exits 1 */
    assert_int_equal(tu_run_cli(&out, "validate '%s'", path), 1);
    assert_contains(out, "attribute \"note\" is a 4096-element integer array");
    free(out);
    /* a scalar numeric attribute is still fine and shown */
    plant_attr(path, "/", "note", 0);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_string_equal(strata_cohort_attr(c, "note"), "4702111234474983745");
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_cohort__array_column_attribute_is_eformat(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("attr_col.h5");
    (void)state;
    write_cohort(path, 0, 0);
    plant_attr(path, "/patients/sex", "levels", 16);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "attr_col.h5:/patients/sex: attribute \"levels\" is "
                                            "a 16-element integer array");
    plant_attr(path, "/patients/sex", "levels", 0); /* a number where a path belongs */
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "attribute \"levels\" is a scalar integer; strata "
                                            "reads scalar string attributes only");
    strata_ctx_free(ctx);
}

static void check_bad_code(int32_t code, const char *shown)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("bad_code.h5"), *model = tu_tmp("bad_code_model.h5");
    int32_t codes[8];
    double d[8];
    size_t j;
    char *out = NULL, want[160];
    write_cohort(path, code, 2);
    snprintf(want, sizeof want,
             "bad_code.h5:/patients/sex: row 3: category code %s outside levels table "
             "/dict/sex (0..2, -1 = missing)",
             shown);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, c, "sex", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 0, 8, codes), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), want);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 8, d), STRATA_EDATA);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 3, 5, codes), STRATA_OK); /* rows 4..8 */
    assert_int_equal(codes[1], 2);
    strata_cohort_close(c);
    /* fit (heap overflow in freeze_levels before the fix): exit 6, no model left */
    unlink(model);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula 'y ~ age + sex' --out '%s'", path,
                                model),
                     6);
    assert_contains(out, want);
    assert_int_equal(access(model, F_OK), -1);
    free(out);
    /* validate still reports it as a code problem */
    assert_int_equal(tu_run_cli(&out, "validate '%s'", path), 1);
    assert_contains(out, "category code");
    free(out);
    strata_ctx_free(ctx);
}

static void test_cohort__category_code_outside_levels_fails_every_read(void **state)
{
    (void)state;
    check_bad_code(7, "7");
    check_bad_code(-2, "-2");
    check_bad_code(INT32_MAX, "2147483647");
}

/* Adds /patients/<name>: n float64 rows (a column of the wrong length). */
static void plant_column(const char *path, const char *name, hsize_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), g, sp, d;
    double v[16] = {0};
    char dpath[64];
    assert_true(f >= 0 && n <= 16);
    snprintf(dpath, sizeof dpath, "/patients/%s", name);
    g = H5Gopen2(f, "/patients", H5P_DEFAULT);
    sp = H5Screate_simple(1, &n, NULL);
    d = H5Dcreate2(f, dpath, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(f);
}

/* strata_cohort_open_lazy (the fit worker's open, engine/cli/cli_worker.c):
 * a column is checked when it is found, with the strict open's messages; a
 * bad column the fit does not name passes the lazy open, and `strata fit`
 * still refuses the file (its supervisor's strict open), exit 5, no model. */
static void test_cohort__lazy_open_checks_found_columns_fit_still_refuses(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("lazy.h5"), *model = tu_tmp("lazy_model.h5");
    double age[8];
    size_t j;
    char *out = NULL;
    (void)state;
    write_cohort(path, 0, 0);
    plant_attr(path, "/patients/sex", "levels", 16);
    plant_column(path, "short", 5);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_EFORMAT);
    assert_status(ctx, strata_cohort_open_lazy(ctx, path, &c), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(c), 8);
    assert_int_equal(strata_cohort_ncols(c), 5); /* patient_id, age, sex, y, short: listed */
    assert_status(ctx, strata_cohort_find(ctx, c, "age", &j), STRATA_OK);
    assert_int_equal(strata_cohort_column(c, j)->role, STRATA_ROLE_AGE);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 8, age), STRATA_OK);
    assert_true(age[0] == 30 && age[7] == 67);
    assert_status(ctx, strata_cohort_find(ctx, c, "sex", &j), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "lazy.h5:/patients/sex: attribute \"levels\" is a 16-element integer array");
    assert_status(ctx, strata_cohort_find(ctx, c, "short", &j), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "lazy.h5:/patients/short: length 5 differs from /patients/patient_id length 8");
    assert_status(ctx, strata_cohort_find(ctx, c, "nosuch", &j), STRATA_ESPEC);
    strata_cohort_close(c);
    unlink(model);
    assert_int_equal(tu_run_cli(&out, "fit '%s' --formula 'y ~ age' --threads 2 --out '%s'", path, model), 5);
    assert_contains(out, "lazy.h5:/patients/sex: attribute \"levels\" is a 16-element integer array");
    assert_int_equal(access(model, F_OK), -1);
    free(out);
    /* /patients emptied: the rows are the first /outcomes column's, as in the strict open */
    {
        strata_cohort_writer *w = NULL;
        strata_column_spec sp = {0};
        double y[8] = {0, 1, 0, 1, 1, 0, 1, 0};
        int64_t id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        hid_t f;
        path = tu_tmp("lazy_nopatients.h5"); /* (ctx refuses to overwrite a file it read) */
        assert_int_equal(strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
        add(w, "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, id, 8);
        sp.group = "outcomes", sp.name = "y", sp.dtype = STRATA_DT_FLOAT64;
        assert_int_equal(strata_cohort_writer_add(w, &sp, &j), STRATA_OK);
        assert_int_equal(strata_cohort_writer_append(w, j, y, 8), STRATA_OK);
        assert_int_equal(strata_cohort_writer_finish(w), STRATA_OK);
        f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(f >= 0 && H5Ldelete(f, "/patients/patient_id", H5P_DEFAULT) >= 0);
        H5Fclose(f);
        assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
        assert_int_equal(strata_cohort_nrows(c), 8);
        strata_cohort_close(c);
        assert_status(ctx, strata_cohort_open_lazy(ctx, path, &c), STRATA_OK);
        assert_int_equal(strata_cohort_nrows(c), 8);
        assert_status(ctx, strata_cohort_find(ctx, c, "y", &j), STRATA_OK);
        strata_cohort_close(c);
    }
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cohort__array_root_attribute_is_eformat_not_a_stack_write),
        cmocka_unit_test(test_cohort__array_column_attribute_is_eformat),
        cmocka_unit_test(test_cohort__category_code_outside_levels_fails_every_read),
        cmocka_unit_test(test_cohort__lazy_open_checks_found_columns_fit_still_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
