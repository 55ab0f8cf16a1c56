/* labels: unit fault */
/* tests/test_cohort_io.c — cohort writer/reader round trips, atomic
 * publication, typed conversions, byte-identical output, and the clear
 * errors for files that are not cohorts. */
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
#include <sys/stat.h>
#include <unistd.h>

#define N 70000 /* more than one 65536-row chunk */

static const char *const sex_levels[] = {"F", "M"};
static const char *const type_levels[] = {"elective", "emergency"};

/* Writes a small cohort covering every storage type; returns the status. */
static strata_status write_sample(strata_ctx *ctx, const char *path, size_t n)
{
    strata_cohort_writer *w = NULL;
    strata_column_spec s;
    size_t jid, jage, jsex, jbmi, jcost, jy, jrow, jday, jtype;
    int64_t *id = malloc(n * sizeof *id);
    int8_t *age = malloc(n), *sex = malloc(n), *y = malloc(n);
    float *bmi = malloc(n * sizeof *bmi);
    double *cost = malloc(n * sizeof *cost);
    int32_t rows[3] = {0, 0, 2}, days[3] = {19000, 19010, 19005};
    int16_t types[3] = {1, 0, 1};
    const char *terms[] = {"(Intercept)", "age"};
    strata_status st;

    for (size_t i = 0; i < n; i++) {
        id[i] = (int64_t)(1000000 + i * 7);
        age[i] = (int8_t)(i % 100);
        sex[i] = (int8_t)(i % 3 == 0 ? -1 : (int)(i % 2));
        bmi[i] = i % 5 == 0 ? NAN : (float)(20.0 + (double)(i % 17) * 0.5);
        cost[i] = (double)i * 1.25;
        y[i] = (int8_t)(i % 11 == 0);
    }
    age[1] = INT8_MIN; /* NA */
    st = strata_cohort_writer_new(ctx, path, &w);
    if (st != STRATA_OK)
        goto out;
#define ADD(grp, nm, dt, cat, lev, nlev, rl, jj)                                          \
    do {                                                                                   \
        memset(&s, 0, sizeof s);                                                           \
        s.group = grp;                                                                     \
        s.name = nm;                                                                       \
        s.dtype = dt;                                                                      \
        s.categorical = cat;                                                               \
        s.levels = lev;                                                                    \
        s.n_levels = nlev;                                                                 \
        s.role = rl;                                                                       \
        s.units = NULL;                                                                    \
        if ((st = strata_cohort_writer_add(w, &s, &jj)) != STRATA_OK)                      \
            goto fail;                                                                     \
    } while (0)
    ADD(NULL, "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, jid);
    ADD("patients", "age", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_AGE, jage);
    ADD("patients", "sex", STRATA_DT_INT8, 1, sex_levels, 2, STRATA_ROLE_SEX, jsex);
    ADD("patients", "bmi", STRATA_DT_FLOAT32, 0, NULL, 0, STRATA_ROLE_NONE, jbmi);
    ADD("patients", "cost", STRATA_DT_FLOAT64, 0, NULL, 0, STRATA_ROLE_NONE, jcost);
    ADD("outcomes", "y", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_NONE, jy);
    ADD("events/spells", "patient_row", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, jrow);
    ADD("events/spells", "day", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, jday);
    ADD("events/spells", "type", STRATA_DT_INT16, 1, type_levels, 2, STRATA_ROLE_NONE, jtype);
#undef ADD
    /* Append in uneven blocks to cross chunk boundaries. */
    for (size_t r = 0; r < n;) {
        size_t b = n - r < 40000 ? n - r : 40000;
        if ((st = strata_cohort_writer_append(w, jid, id + r, b)) ||
            (st = strata_cohort_writer_append(w, jage, age + r, b)) ||
            (st = strata_cohort_writer_append(w, jsex, sex + r, b)) ||
            (st = strata_cohort_writer_append(w, jbmi, bmi + r, b)) ||
            (st = strata_cohort_writer_append(w, jcost, cost + r, b)) ||
            (st = strata_cohort_writer_append(w, jy, y + r, b)))
            goto fail;
        r += b;
    }
    if ((st = strata_cohort_writer_append(w, jrow, rows, 3)) ||
        (st = strata_cohort_writer_append(w, jday, days, 3)) ||
        (st = strata_cohort_writer_append(w, jtype, types, 3)) ||
        (st = strata_cohort_writer_strings(w, "/truth/term", terms, 2)) ||
        (st = strata_cohort_writer_attr(w, "extract_date", "2025-12-31")) ||
        (st = strata_cohort_writer_attr(w, "source", "unit test")))
        goto fail;
    st = strata_cohort_writer_finish(w);
    goto out;
fail:
    strata_cohort_writer_abort(w);
out:
    free(id);
    free(age);
    free(sex);
    free(y);
    free(bmi);
    free(cost);
    return st;
}

static void test_roundtrip__every_type_reads_back(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("rt.h5");
    size_t j;
    double *d = malloc(N * sizeof *d);
    int32_t *i32 = malloc(N * sizeof *i32);
    int64_t *i64 = malloc(N * sizeof *i64);
    const strata_column_info *info;
    char **terms;
    size_t nterms;
    struct stat sb;
    (void)state;

    assert_status(ctx, write_sample(ctx, path, N), STRATA_OK);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(c), N);
    assert_int_equal(strata_cohort_ncols(c), 9);
    assert_string_equal(strata_cohort_attr(c, "extract_date"), "2025-12-31");
    assert_string_equal(strata_cohort_attr(c, "schema_version"), "1");

    /* Column order is creation order; roles and levels come back. */
    info = strata_cohort_column(c, 0);
    assert_string_equal(info->name, "patient_id");
    assert_int_equal(info->role, STRATA_ROLE_PATIENT_ID);
    assert_int_equal(strata_cohort_find_role(c, STRATA_ROLE_SEX), 2);
    info = strata_cohort_column(c, 2);
    assert_true(info->categorical);
    assert_int_equal(info->n_levels, 2);
    assert_string_equal(info->levels[1], "M");

    assert_status(ctx, strata_cohort_find(ctx, c, "patient_id", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i64(ctx, c, j, 0, N, i64), STRATA_OK);
    for (size_t i = 0; i < N; i += 997)
        assert_int_equal(i64[i], (int64_t)(1000000 + i * 7));
    assert_int_equal(i64[N - 1], (int64_t)(1000000 + (N - 1) * 7));

    assert_status(ctx, strata_cohort_find(ctx, c, "age", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 5, d), STRATA_OK);
    assert_true(d[0] == 0.0 && isnan(d[1]) && d[2] == 2.0);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 0, 3, i32), STRATA_OK);
    assert_int_equal(i32[1], INT32_MIN);

    assert_status(ctx, strata_cohort_find(ctx, c, "sex", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 65530, 10, i32), STRATA_OK);
    for (size_t i = 0; i < 10; i++) {
        size_t r = 65530 + i;
        assert_int_equal(i32[i], r % 3 == 0 ? -1 : (int)(r % 2));
    }
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 1, d), STRATA_OK);
    assert_true(isnan(d[0]));

    assert_status(ctx, strata_cohort_find(ctx, c, "bmi", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, N, d), STRATA_OK);
    assert_true(isnan(d[0]) && isnan(d[5]));
    assert_rel_close(d[3], 21.5, 0, "bmi row 4");

    assert_status(ctx, strata_cohort_find(ctx, c, "outcomes/y", &j), STRATA_OK);
    assert_string_equal(strata_cohort_column(c, j)->group, "outcomes");
    assert_status(ctx, strata_cohort_find(ctx, c, "events/spells/type", &j), STRATA_OK);
    info = strata_cohort_column(c, j);
    assert_int_equal(info->length, 3);
    assert_string_equal(info->levels[1], "emergency");

    assert_status(ctx, strata_cohort_read_strings(ctx, c, "/truth/term", &terms, &nterms),
                  STRATA_OK);
    assert_int_equal(nterms, 2);
    assert_string_equal(terms[0], "(Intercept)");
    strata_strings_free(ctx, terms, nterms);

    /* A float column is not an integer column; out-of-range rows are refused. */
    assert_status(ctx, strata_cohort_find(ctx, c, "cost", &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 0, 1, i32), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "/patients/cost");
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, N - 1, 2, d), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "rows 70000..70001 outside 1..70000");
    assert_status(ctx, strata_cohort_find(ctx, c, "nosuch", &j), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "\"nosuch\"");

    strata_cohort_close(c);
    free(d);
    free(i32);
    free(i64);
    strata_ctx_free(ctx);
}

static void test_writer__same_content_same_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    (void)state;
    assert_status(ctx, write_sample(ctx, tu_tmp("same1.h5"), 1000), STRATA_OK);
    sleep(2); /* a timestamp anywhere in the file would now differ */
    assert_status(ctx, write_sample(ctx, tu_tmp("same2.h5"), 1000), STRATA_OK);
    assert_true(tu_files_equal(tu_tmp("same1.h5"), tu_tmp("same2.h5")));
    strata_ctx_free(ctx);
}

static void test_writer__abort_and_bad_lengths_leave_no_file(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort_writer *w = NULL;
    strata_column_spec s = {0};
    size_t a, b;
    int8_t v[4] = {1, 2, 3, 4};
    const char *path = tu_tmp("partial.h5");
    (void)state;
    unlink(path);
    assert_status(ctx, strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    s.name = "a";
    s.dtype = STRATA_DT_INT8;
    assert_status(ctx, strata_cohort_writer_add(w, &s, &a), STRATA_OK);
    s.name = "b";
    s.group = "outcomes";
    assert_status(ctx, strata_cohort_writer_add(w, &s, &b), STRATA_OK);
    s.name = "a"; /* duplicate across patients/outcomes */
    assert_status(ctx, strata_cohort_writer_add(w, &s, NULL), STRATA_EINVAL);
    assert_status(ctx, strata_cohort_writer_append(w, a, v, 4), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, b, v, 3), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_finish(w), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "/outcomes/b: 3 rows written but /patients/a has 4");
    assert_int_equal(access(path, F_OK), -1);

    assert_status(ctx, strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    strata_cohort_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);
    {
        char *out = NULL;
        /* no temporary left behind either */
        tu_run_sh(&out, "ls '%s'.tmp.* 2>/dev/null | wc -l", path);
        assert_int_equal(atoi(out), 0);
        free(out);
    }
    strata_ctx_free(ctx);
}

static void test_open__not_hdf5_is_one_clear_error(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *path = tu_tmp("not.h5");
    (void)state;
    tu_write_file(path, "patient_id,age\n1,50\n");
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_EFORMAT);
    assert_null(c);
    assert_contains(strata_ctx_errmsg(ctx), "not an HDF5 file");
    assert_null(strchr(strata_ctx_errmsg(ctx), '\n'));

    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("missing.h5"), &c), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "missing.h5: cannot open");
    strata_ctx_free(ctx);
}

static void test_open__truncated_file_is_eformat(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const char *full = tu_tmp("full.h5"), *cut = tu_tmp("cut.h5");
    size_t len;
    char *bytes;
    FILE *f;
    strata_status st;
    (void)state;
    assert_status(ctx, write_sample(ctx, full, 5000), STRATA_OK);
    bytes = tu_read_file(full, &len);
    assert_non_null(bytes);
    f = fopen(cut, "wb");
    assert_non_null(f);
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    free(bytes);
    st = strata_cohort_open(ctx, cut, &c);
    if (st == STRATA_OK) { /* metadata may survive: then the data read must fail cleanly */
        size_t j;
        double d[5000];
        assert_status(ctx, strata_cohort_find(ctx, c, "cost", &j), STRATA_OK);
        st = strata_cohort_read_f64(ctx, c, j, 0, 5000, d);
        strata_cohort_close(c);
        assert_true(st == STRATA_EIO);
    } else {
        assert_int_equal(st, STRATA_EFORMAT);
    }
    assert_contains(strata_ctx_errmsg(ctx), "cut.h5");
    strata_ctx_free(ctx);
}

static void test_writer__every_allocation_failure_is_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = tu_tmp("fault.h5");
    long total;
    (void)state;
    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, write_sample(ctx, path, 100), STRATA_OK);
    total = tu_fault_count();
    assert_true(total > 5);
    for (long k = 1; k <= total; k++) {
        strata_status st;
        unlink(path);
        tu_fault_arm(k);
        st = write_sample(ctx, path, 100);
        assert_status(ctx, st, STRATA_ENOMEM);
        assert_int_equal(access(path, F_OK), -1);
    }
    tu_fault_arm(-1);
    assert_status(ctx, write_sample(ctx, path, 100), STRATA_OK);
    /* and the reader, too */
    {
        strata_cohort *c = NULL;
        tu_fault_arm(-1);
        assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
        strata_cohort_close(c);
        total = tu_fault_count();
        for (long k = 1; k <= total; k++) {
            tu_fault_arm(k);
            assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_ENOMEM);
            assert_null(c);
        }
    }
    tu_fault_arm(-1);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip__every_type_reads_back),
        cmocka_unit_test(test_writer__same_content_same_bytes),
        cmocka_unit_test(test_writer__abort_and_bad_lengths_leave_no_file),
        cmocka_unit_test(test_open__not_hdf5_is_one_clear_error),
        cmocka_unit_test(test_open__truncated_file_is_eformat),
        cmocka_unit_test(test_writer__every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
