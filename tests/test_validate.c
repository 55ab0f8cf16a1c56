/* labels: unit fault */
/* tests/test_validate.c — `strata validate` finds every planted problem, names
 * file, dataset, row, patient id and value, counts problems by kind, and
 * gives one clear line and a documented exit code for unreadable files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sex_bad[] = {"F", "M", "X"};
static const char *const eth[] = {"Asian", "White"};

static void add(strata_cohort_writer *w, const char *group, const char *name, strata_dtype t,
                int cat, const char *const *lev, size_t nlev, strata_role role, const void *data,
                size_t n)
{
    strata_column_spec s = {0};
    size_t j;
    s.group = group;
    s.name = name;
    s.dtype = t;
    s.categorical = cat;
    s.levels = lev;
    s.n_levels = nlev;
    s.role = role;
    assert_int_equal(strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_int_equal(strata_cohort_writer_append(w, j, data, n), STRATA_OK);
}

/* 6 patients with planted problems (rows are 1-based in messages):
 *  id: row 4 duplicates row 2 (id 20); row 6 NA
 *  age: row 3 = -3 (range), row 5 NA (nan)
 *  imd_decile: row 1 = 11 (range), row 2 NA (allowed)
 *  sex: levels include "X" (code), row 6 code 7 (code)
 *  ethnicity: row 2 code 2 outside 2 levels (code)
 *  bmi: row 3 = +inf (nan)
 *  events/spells: row 3 out of order, row 4 patient_row 9 outside
 *  events/gp: row 3 duplicates row 1 (same patient, day and code); row 2 differs in code */
static void write_broken(const char *path)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort_writer *w = NULL;
    int64_t id[6] = {10, 20, 30, 20, 50, INT64_MIN};
    int8_t age[6] = {40, 50, -3, 60, INT8_MIN, 70};
    int8_t imd[6] = {11, INT8_MIN, 3, 4, 5, 6};
    int8_t sex[6] = {0, 1, 0, 1, 0, 7};
    int8_t et[6] = {0, 2, 1, -1, 0, 1};
    double bmi[6] = {20, 21, INFINITY, NAN, 24, 25};
    int32_t prow[4] = {0, 2, 1, 9}, day[4] = {100, 100, 100, 100};
    int32_t gp_row[4] = {0, 0, 0, 1}, gp_day[4] = {5, 5, 5, 5}, gp_code[4] = {1, 2, 1, 1};
    assert_int_equal(strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    add(w, NULL, "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, id, 6);
    add(w, NULL, "age", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_AGE, age, 6);
    add(w, NULL, "imd_decile", STRATA_DT_INT8, 0, NULL, 0, STRATA_ROLE_IMD_DECILE, imd, 6);
    add(w, NULL, "sex", STRATA_DT_INT8, 1, sex_bad, 3, STRATA_ROLE_SEX, sex, 6);
    add(w, NULL, "ethnicity", STRATA_DT_INT8, 1, eth, 2, STRATA_ROLE_ETHNICITY, et, 6);
    add(w, NULL, "bmi", STRATA_DT_FLOAT64, 0, NULL, 0, STRATA_ROLE_NONE, bmi, 6);
    add(w, "events/spells", "patient_row", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, prow, 4);
    add(w, "events/spells", "day", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, day, 4);
    add(w, "events/gp", "patient_row", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, gp_row, 4);
    add(w, "events/gp", "day", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, gp_day, 4);
    add(w, "events/gp", "code", STRATA_DT_INT32, 0, NULL, 0, STRATA_ROLE_NONE, gp_code, 4);
    assert_int_equal(strata_cohort_writer_finish(w), STRATA_OK);
    strata_ctx_free(ctx);
    /* A column of the wrong length and a string column, added behind strata's back. */
    {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), sp, d, t;
        hsize_t dims[1] = {5};
        double v[5] = {1, 2, 3, 4, 5};
        const char *s[1] = {"x"};
        assert_true(f >= 0);
        sp = H5Screate_simple(1, dims, NULL);
        d = H5Dcreate2(f, "/outcomes/short", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT);
        if (d < 0) { /* /outcomes does not exist yet */
            hid_t g = H5Gcreate2(f, "/outcomes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5Gclose(g);
            d = H5Dcreate2(f, "/outcomes/short", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT,
                           H5P_DEFAULT, H5P_DEFAULT);
        }
        assert_true(d >= 0);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        H5Dclose(d);
        H5Sclose(sp);
        dims[0] = 1;
        sp = H5Screate_simple(1, dims, NULL);
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        d = H5Dcreate2(f, "/patients/name", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
        H5Dclose(d);
        H5Tclose(t);
        H5Sclose(sp);
        H5Fclose(f);
    }
}

typedef struct collected {
    char text[16384];
} collected;

static void collect(void *ud, strata_problem_kind kind, const char *msg)
{
    collected *c = ud;
    size_t len = strlen(c->text);
    snprintf(c->text + len, sizeof c->text - len, "%s| %s\n", strata_problem_kind_name(kind), msg);
}

static void test_validate__reports_every_planted_problem(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = tu_tmp("broken.h5");
    strata_validate_report rep;
    collected *col = calloc(1, sizeof *col);
    (void)state;
    write_broken(path);
    assert_status(ctx, strata_cohort_validate(ctx, path, collect, col, &rep), STRATA_OK);
    assert_int_equal(rep.nrows, 6);
    assert_int_equal(rep.counts[STRATA_PROB_DUPLICATE_ID], 1);
    assert_int_equal(rep.counts[STRATA_PROB_MISSING_ID], 1);
    assert_int_equal(rep.counts[STRATA_PROB_RANGE], 2);
    assert_int_equal(rep.counts[STRATA_PROB_NAN], 2);
    assert_int_equal(rep.counts[STRATA_PROB_CODE], 3);
    assert_int_equal(rep.counts[STRATA_PROB_EVENTS], 3);
    assert_int_equal(rep.counts[STRATA_PROB_LENGTH], 1);
    assert_int_equal(rep.counts[STRATA_PROB_STRUCTURE], 1);
    assert_int_equal(rep.total, 14);
    assert_contains(col->text, "broken.h5:/patients/patient_id: row 4: patient id 20 duplicates row 2");
    assert_contains(col->text, "/patients/patient_id: row 6: patient id is missing");
    assert_contains(col->text, "/patients/age: row 3 (patient 30): age in years -3 outside 0..120");
    assert_contains(col->text, "/patients/age: row 5 (patient 50): value is NA");
    assert_contains(col->text, "/patients/imd_decile: row 1 (patient 10): IMD decile 11 outside 1..10");
    assert_contains(col->text, "unknown sex code \"X\"");
    assert_contains(col->text, "/patients/sex: row 6: category code 7 outside levels table /dict/sex (0..2)");
    assert_contains(col->text, "/patients/ethnicity: row 2 (patient 20): category code 2");
    assert_contains(col->text, "/patients/bmi: row 3 (patient 30): value inf is infinite");
    assert_contains(col->text, "/events/spells: row 3: (patient_row 1, day 100) out of order");
    assert_contains(col->text, "/events/spells/patient_row: row 4: value 9 outside /patients rows 0..5");
    assert_contains(col->text, "/events/gp: row 3: duplicate of row 1 (the same patient, day and "
                               "values in every column)");
    assert_contains(col->text, "/outcomes/short: length 5 differs from /patients/patient_id length 6");
    assert_contains(col->text, "/patients/name: unsupported type");
    free(col);
    strata_ctx_free(ctx);
}

/* The duplicate-id check through the one external sort: 200,000 ids with a
 * planted pair, a triple and two NA rows give the same reports in memory and
 * under a 2 MiB budget (sorted runs in a scratch file); under the budget the
 * peak is the budget plus three blocks of 65,536 values (two value buffers
 * and one block of ids), not the in-memory sort's 32 bytes a row nor the id
 * column's 8: the ids are read block by block, and the ids that value
 * messages name (age problems in three blocks) one block at a time. */
static void validate_counted(const char *path, size_t budget, collected *col, strata_validate_report *rep,
                             tu_alloc_count *cnt)
{
    strata_ctx *ctx = tu_ctx();
    strata_ctx_set_alloc(ctx, tu_count_alloc, cnt);
    strata_ctx_set_memory_budget(ctx, budget);
    assert_status(ctx, strata_cohort_validate(ctx, path, collect, col, rep), STRATA_OK);
    strata_ctx_free(ctx);
}

static void test_validate__duplicate_ids_same_reports_under_budget(void **state)
{
    enum { N = 200000 };
    const char *path = tu_tmp("dup_ids.h5");
    int64_t *id = malloc(N * sizeof *id);
    double *age = malloc(N * sizeof *age);
    strata_ctx *ctx = tu_ctx();
    strata_cohort_writer *w = NULL;
    collected *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    strata_validate_report ra, rb;
    tu_alloc_count ca = {0}, cb = {0};
    char want[160];
    (void)state;
    for (size_t r = 0; r < N; r++) /* distinct (7919 is prime to N), unsorted, some negative */
        id[r] = (int64_t)((r * 7919u) % N) * 3 - 300000;
    id[150000] = id[10];
    id[77777] = id[199999] = id[5];
    id[123] = id[124] = INT64_MIN;
    for (size_t r = 0; r < N; r++)
        age[r] = (double)(r % 90);
    age[3] = 130, age[70000] = -1, age[199998] = NAN, age[124] = 121;
    assert_int_equal(strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    add(w, NULL, "patient_id", STRATA_DT_INT64, 0, NULL, 0, STRATA_ROLE_PATIENT_ID, id, N);
    add(w, NULL, "age", STRATA_DT_FLOAT64, 0, NULL, 0, STRATA_ROLE_AGE, age, N);
    assert_int_equal(strata_cohort_writer_finish(w), STRATA_OK);
    strata_ctx_free(ctx);
    validate_counted(path, 0, a, &ra, &ca);
    validate_counted(path, (size_t)2 << 20, b, &rb, &cb);
    assert_int_equal(ra.counts[STRATA_PROB_DUPLICATE_ID], 3);
    assert_int_equal(ra.counts[STRATA_PROB_MISSING_ID], 2);
    assert_int_equal(ra.counts[STRATA_PROB_RANGE], 3);
    assert_int_equal(ra.counts[STRATA_PROB_NAN], 1);
    assert_int_equal(ra.total, rb.total);
    assert_memory_equal(ra.counts, rb.counts, sizeof ra.counts);
    assert_string_equal(a->text, b->text);
    snprintf(want, sizeof want, "dup_ids.h5:/patients/patient_id: row 150001: patient id %lld duplicates row 11",
             (long long)id[10]);
    assert_contains(a->text, want);
    snprintf(want, sizeof want, "row 77778: patient id %lld duplicates row 6\n", (long long)id[5]);
    assert_contains(a->text, want);
    snprintf(want, sizeof want, "row 200000: patient id %lld duplicates row 77778\n", (long long)id[5]);
    assert_contains(a->text, want);
    assert_contains(a->text, "/patients/patient_id: row 125: patient id is missing (NA)");
    fprintf(stderr, "PEAK %zu %zu\n", ca.peak, cb.peak);
    snprintf(want, sizeof want, "/patients/age: row 4 (patient %lld): age in years 130 outside 0..120",
             (long long)id[3]);
    assert_contains(a->text, want);
    snprintf(want, sizeof want, "/patients/age: row 70001 (patient %lld): age in years -1 outside 0..120",
             (long long)id[70000]);
    assert_contains(a->text, want);
    snprintf(want, sizeof want, "/patients/age: row 199999 (patient %lld): value is NaN", (long long)id[199998]);
    assert_contains(a->text, want);
    assert_contains(a->text, "/patients/age: row 125: age in years 121 outside 0..120"); /* NA id: none named */
    assert_true(cb.peak < ((size_t)2 << 20) + (size_t)3 * 65536 * 8 + ((size_t)256 << 10));
    assert_true(ca.peak > (size_t)32 * N);
    { /* the CLI: the same lines and exit 1 under --mem-limit; a bad size is a usage error */
        char *o1 = NULL, *o2 = NULL, *o3 = NULL;
        assert_int_equal(tu_run_cli(&o1, "validate --max-per-kind 0 '%s'", path), 1);
        assert_int_equal(tu_run_cli(&o2, "validate --max-per-kind 0 --mem-limit 2M '%s'", path), 1);
        assert_string_equal(o1, o2);
        assert_contains(o2, "row 200000: patient id");
        assert_int_equal(tu_run_cli(&o3, "validate --mem-limit lots '%s'", path), 2);
        assert_contains(o3, "--mem-limit: 'lots' is not a size");
        free(o1);
        free(o2);
        free(o3);
    }
    free(id);
    free(age);
    free(a);
    free(b);
}

static void test_validate_cli__exit_codes_and_summary(void **state)
{
    char *out = NULL;
    const char *bad = tu_tmp("broken_cli.h5"), *txt = tu_tmp("plain.txt");
    (void)state;
    write_broken(bad);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", bad), 1);
    assert_contains(out, "INVALID: 14 problems (structure 1, length 1, duplicate_id 1, missing_id 1, range 2, nan 2, code 3, events 3)");
    free(out);

    assert_int_equal(tu_run_cli(&out, "validate --max-per-kind 1 '%s'", bad), 1);
    assert_contains(out, "code: ... 2 more code problems not shown");
    free(out);

    tu_write_file(txt, "this is not HDF5\n");
    assert_int_equal(tu_run_cli(&out, "validate '%s'", txt), 5);
    assert_contains(out, "plain.txt: not an HDF5 file");
    assert_null(strstr(out, "HDF5-DIAG")); /* never HDF5's own error stack */
    assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* exactly one line */
    free(out);

    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("nonexistent.h5")), 4);
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate"), 2);
    free(out);
}

static void test_validate__foreign_hdf5_names_missing_schema(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *path = tu_tmp("foreign.h5");
    strata_validate_report rep;
    collected *col = calloc(1, sizeof *col);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    (void)state;
    H5Fclose(f);
    assert_status(ctx, strata_cohort_validate(ctx, path, collect, col, &rep), STRATA_OK);
    assert_true(rep.counts[STRATA_PROB_STRUCTURE] >= 2);
    assert_contains(col->text, "root attribute strata_schema is missing");
    assert_contains(col->text, "missing group /patients");
    free(col);
    strata_ctx_free(ctx);
}

static void test_validate__truncated_file_never_crashes(void **state)
{
    char *out = NULL, *bytes;
    const char *full = tu_tmp("v_full.h5"), *cut = tu_tmp("v_cut.h5");
    size_t len;
    int rc;
    FILE *f;
    (void)state;
    write_broken(full);
    bytes = tu_read_file(full, &len);
    for (size_t keep = 64; keep < len; keep += len / 7) {
        f = fopen(cut, "wb");
        fwrite(bytes, 1, keep, f);
        fclose(f);
        rc = tu_run_cli(&out, "validate '%s'", cut);
        assert_true(rc == 1 || rc == 4 || rc == 5); /* never a signal (>= 128) */
        assert_null(strstr(out, "HDF5-DIAG"));
        free(out);
    }
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate__reports_every_planted_problem),
        cmocka_unit_test(test_validate__duplicate_ids_same_reports_under_budget),
        cmocka_unit_test(test_validate_cli__exit_codes_and_summary),
        cmocka_unit_test(test_validate__foreign_hdf5_names_missing_schema),
        cmocka_unit_test(test_validate__truncated_file_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
