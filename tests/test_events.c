/* labels: unit */
/* tests/test_events.c — `strata import events`: string and integer ids, sort
 * by (patient, day) with ties in file order, the three date formats, errors
 * naming file, line, column and value (bad date, unknown id), skip-and-list,
 * atomic replace (a failed import leaves the cohort as it was), --out, and a
 * header-only CSV as an empty table. */
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

static void make_cohort(const char *ids_csv)
{
    char *out = NULL;
    tu_write_file(tu_tmp("p.csv"), ids_csv);
    remove(tu_tmp("c.h5"));
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id --quiet",
                                tu_tmp("p.csv"), tu_tmp("c.h5")), 0);
    free(out);
}

/* Column name of the cohort at path (n rows) as int32 (i32) or doubles (f64). */
static void read_col(const char *path, const char *name, int32_t *i32, double *f64, size_t n)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    assert_status(ctx, strata_cohort_open(ctx, path, &c), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, c, name, &j), STRATA_OK);
    assert_int_equal(strata_cohort_column(c, j)->length, n);
    if (i32)
        assert_status(ctx, strata_cohort_read_i32(ctx, c, j, 0, n, i32), STRATA_OK);
    else
        assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, n, f64), STRATA_OK);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void read_i32(const char *path, const char *name, int32_t *v, size_t n)
{
    read_col(path, name, v, NULL, n);
}

static void read_f64(const char *path, const char *name, double *v, size_t n)
{
    read_col(path, name, NULL, v, n);
}

static void test_events__dates(void **state)
{
    int32_t d;
    char buf[11];
    (void)state;
    assert_int_equal(strata_date_parse("1970-01-01", STRATA_DATE_ISO, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(strata_date_parse("2025-04-01T13:45:00Z", STRATA_DATE_ISO, &d), 0);
    assert_int_equal(d, 20179);
    assert_int_equal(strata_date_parse("01/04/2025", STRATA_DATE_DMY, &d), 0);
    assert_int_equal(d, 20179);
    assert_int_equal(strata_date_parse("20250401", STRATA_DATE_YMD, &d), 0);
    assert_int_equal(d, 20179);
    assert_int_equal(strata_date_parse("1969-12-31", STRATA_DATE_ISO, &d), 0);
    assert_int_equal(d, -1);
    assert_int_equal(strata_date_parse("2024-02-29", STRATA_DATE_ISO, &d), 0);
    assert_int_equal(strata_date_parse("2023-02-29", STRATA_DATE_ISO, &d), -1);
    assert_int_equal(strata_date_parse("2025-13-01", STRATA_DATE_ISO, &d), -1);
    assert_int_equal(strata_date_parse("2025-4-1", STRATA_DATE_ISO, &d), -1);
    assert_int_equal(strata_date_parse("", STRATA_DATE_ISO, &d), -1);
    for (int32_t k = -719162; k <= 2932896; k += 997) /* 0001-01-01 .. 9999-12-31 */ {
        strata_date_format_iso(k, buf);
        assert_int_equal(strata_date_parse(buf, STRATA_DATE_ISO, &d), 0);
        assert_int_equal(d, k);
    }
}

/* /patients date columns: --type COL=date and the date roles store int32 days
 * (units "days since 1970-01-01") in any of the three formats; a missing date is
 * NA; export writes YYYY-MM-DD and re-importing the export gives the same days;
 * a bad date names file, line, column and value. */
static void test_events__patient_dates_import_and_export_iso(void **state)
{
    char *out = NULL;
    int32_t v[3];
    char c2[4096];
    (void)state;
    tu_write_file(tu_tmp("pd.csv"), "id,dob,died,seen\n"
                                    "a,01/04/1950,,31/12/2024\n"
                                    "b,29/02/2000,15/06/2025,01/01/1970\n"
                                    "c,31/12/1969,,\n");
    remove(tu_tmp("pd.h5"));
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id "
                                      "--role birth_date=dob --role death_date=died "
                                      "--type seen=date --date-format DD/MM/YYYY --quiet",
                                tu_tmp("pd.csv"), tu_tmp("pd.h5")), 0);
    free(out);
    read_i32(tu_tmp("pd.h5"), "dob", v, 3);
    assert_int_equal(v[0], -7215); /* 1950-04-01 */
    assert_int_equal(v[1], 11016); /* 2000-02-29 */
    assert_int_equal(v[2], -1);
    read_i32(tu_tmp("pd.h5"), "died", v, 3);
    assert_int_equal(v[0], INT32_MIN);
    assert_int_equal(v[1], 20254);
    read_i32(tu_tmp("pd.h5"), "seen", v, 3);
    assert_int_equal(v[1], 0);
    assert_int_equal(v[2], INT32_MIN);
    {
        strata_ctx *ctx = tu_ctx();
        strata_cohort *c = NULL;
        size_t j;
        assert_status(ctx, strata_cohort_open(ctx, tu_tmp("pd.h5"), &c), STRATA_OK);
        assert_status(ctx, strata_cohort_find(ctx, c, "seen", &j), STRATA_OK);
        assert_int_equal(strata_cohort_column(c, j)->dtype, STRATA_DT_INT32);
        assert_string_equal(strata_cohort_column(c, j)->units, "days since 1970-01-01");
        assert_status(ctx, strata_cohort_find(ctx, c, "dob", &j), STRATA_OK);
        assert_int_equal(strata_cohort_column(c, j)->role, STRATA_ROLE_BIRTH_DATE);
        strata_cohort_close(c);
        strata_ctx_free(ctx);
    }
    assert_int_equal(tu_run_cli(&out, "export '%s' --out '%s'", tu_tmp("pd.h5"),
                                tu_tmp("pd_out.csv")), 0);
    free(out);
    out = tu_read_file(tu_tmp("pd_out.csv"), NULL);
    assert_string_equal(out, "id,dob,died,seen\n"
                             "a,1950-04-01,,2024-12-31\n"
                             "b,2000-02-29,2025-06-15,1970-01-01\n"
                             "c,1969-12-31,,\n");
    free(out);
    snprintf(c2, sizeof c2, "%s", tu_tmp("pd2.h5"));
    remove(c2);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id "
                                      "--role birth_date=dob --role death_date=died "
                                      "--type seen=date --quiet", tu_tmp("pd_out.csv"), c2), 0);
    free(out);
    read_i32(c2, "seen", v, 3);
    assert_int_equal(v[0], 20088); /* 2024-12-31: the round trip keeps every day */
    tu_write_file(tu_tmp("pd_bad.csv"), "id,dob\na,1950-04-01\nb,1950-02-30\n");
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id "
                                      "--role birth_date=dob --quiet",
                                tu_tmp("pd_bad.csv"), tu_tmp("pd_bad.h5")), 6);
    assert_contains(out, "pd_bad.csv: column 'dob' (type date, role birth_date) has 1 value that "
                         "is not a date: line 3 '1950-02-30'");
    free(out);
}

/* An extract sorted in runs on disk (external merge sort) gives the same table
 * as one sorted in memory: sorted by (patient, day), ties in file order. */
static void test_events__external_sort_equals_in_memory(void **state)
{
    char *out = NULL, ext[4096], mem[4096];
    FILE *f;
    uint64_t x = 88172645463325252ull;
    const size_t n = 30011;
    int32_t *r1 = malloc(n * 4), *r2 = malloc(n * 4);
    (void)state;
    make_cohort("id\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n");
    f = fopen(tu_tmp("big.csv"), "w");
    assert_non_null(f);
    fprintf(f, "pid,date,code,seq\n");
    for (size_t i = 0; i < n; i++) { /* xorshift: ids 11..20, 60 days, codes A..Z */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fprintf(f, "%d,2025-%02d-%02d,%c,%zu\n", (int)(11 + x % 10), (int)(1 + (x >> 8) % 2),
                (int)(1 + (x >> 16) % 28), (char)('A' + (x >> 24) % 26), i);
    }
    fclose(f);
    snprintf(ext, sizeof ext, "%s", tu_tmp("ext.h5"));
    snprintf(mem, sizeof mem, "%s", tu_tmp("mem.h5"));
    remove(ext);
    remove(mem);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table t --id pid --date "
                                      "date --code code --value seq --run-rows 1000 --out '%s'",
                                tu_tmp("big.csv"), tu_tmp("c.h5"), ext), 0);
    assert_contains(out, "30011 events into /events/t");
    assert_contains(out, "(sorted in 31 runs on disk)");
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table t --id pid --date "
                                      "date --code code --value seq --out '%s' --quiet",
                                tu_tmp("big.csv"), tu_tmp("c.h5"), mem), 0);
    free(out);
    {
        const char *cols[] = {"events/t/patient_row", "events/t/day", "events/t/code"};
        double *s1 = malloc(n * 8), *s2 = malloc(n * 8);
        for (size_t k = 0; k < 3; k++) {
            read_i32(ext, cols[k], r1, n);
            read_i32(mem, cols[k], r2, n);
            assert_memory_equal(r1, r2, n * 4);
        }
        read_f64(ext, "events/t/seq", s1, n);
        read_f64(mem, "events/t/seq", s2, n);
        assert_memory_equal(s1, s2, n * 8);
        free(s1);
        free(s2);
    }
    { /* sorted by (row, day), ties in file order (seq increasing) */
        int32_t *row = malloc(n * 4), *day = malloc(n * 4);
        double *seq = malloc(n * 8);
        read_i32(ext, "events/t/patient_row", row, n);
        read_i32(ext, "events/t/day", day, n);
        read_f64(ext, "events/t/seq", seq, n);
        for (size_t i = 1; i < n; i++)
            assert_true(row[i - 1] < row[i] ||
                        (row[i - 1] == row[i] &&
                         (day[i - 1] < day[i] || (day[i - 1] == day[i] && seq[i - 1] < seq[i]))));
        free(row);
        free(day);
        free(seq);
    }
    free(r1);
    free(r2);
}

static void test_events__string_ids_sorted_with_ties_in_file_order(void **state)
{
    char *out = NULL;
    int32_t row[5], day[5], code[5];
    (void)state;
    make_cohort("id,age\n"
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,70\n"
                "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752,50\n");
    tu_write_file(tu_tmp("ev.csv"),
                  "pid,date,code\n"
                  "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752,02/01/2025,B\n"
                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,03/01/2025,A\n"
                  "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752,01/01/2025,C\n"
                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,03/01/2025,B\n"
                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,01/01/2025,\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp --id pid "
                                      "--date date --code code --date-format DD/MM/YYYY",
                                tu_tmp("ev.csv"), tu_tmp("c.h5")), 0);
    assert_contains(out, "5 events into /events/gp");
    free(out);
    read_i32(tu_tmp("c.h5"), "events/gp/patient_row", row, 5);
    read_i32(tu_tmp("c.h5"), "events/gp/day", day, 5);
    read_i32(tu_tmp("c.h5"), "events/gp/code", code, 5);
    /* levels sorted A, B, C; empty code = NA (-1); ties (row 0, 3 Jan) keep file order A, B */
    {
        const int32_t wr[] = {0, 0, 0, 1, 1}, wd[] = {20089, 20091, 20091, 20089, 20090};
        const int32_t wc[] = {-1, 0, 1, 2, 1};
        for (int i = 0; i < 5; i++) {
            assert_int_equal(row[i], wr[i]);
            assert_int_equal(day[i], wd[i]);
            assert_int_equal(code[i], wc[i]);
        }
    }
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("c.h5")), 0);
    free(out);
}

static void test_events__errors_name_file_line_column_value(void **state)
{
    char *out = NULL;
    char *before, *after;
    size_t nb, na;
    (void)state;
    make_cohort("id,age\n101,70\n102,50\n");
    before = tu_read_file(tu_tmp("c.h5"), &nb);
    tu_write_file(tu_tmp("bad.csv"), "pid,date\n101,2025-01-01\n102,2025-02-30\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp --id pid "
                                      "--date date", tu_tmp("bad.csv"), tu_tmp("c.h5")), 6);
    assert_contains(out, "bad.csv: line 3, column 'date': value '2025-02-30' is not a date "
                         "(expected YYYY-MM-DD)");
    free(out);
    tu_write_file(tu_tmp("unk.csv"), "pid,date\n101,2025-01-01\n999,2025-01-02\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp --id pid "
                                      "--date date", tu_tmp("unk.csv"), tu_tmp("c.h5")), 6);
    assert_contains(out, "unk.csv: line 3, column 'pid': patient id '999' is not in /patients");
    free(out);
    after = tu_read_file(tu_tmp("c.h5"), &na); /* failed imports left the cohort as it was */
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);
    free(before);
    free(after);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp --id pid "
                                      "--date date --on-unknown-id skip --out '%s'",
                                tu_tmp("unk.csv"), tu_tmp("c.h5"), tu_tmp("c2.h5")), 0);
    assert_contains(out, "1 events into /events/gp");
    assert_contains(out, "line 3: id '999'");
    free(out);
    assert_int_equal(tu_run_cli(&out, "info '%s'", tu_tmp("c.h5")), 0);
    assert_true(strstr(out, "events/gp") == NULL); /* --out left the source alone */
    free(out);
    tu_write_file(tu_tmp("nocol.csv"), "pid,when\n101,2025-01-01\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp --id pid "
                                      "--date date", tu_tmp("nocol.csv"), tu_tmp("c.h5")), 7);
    assert_contains(out, "column 'date' (--date) is not in the header");
    free(out);
}

static void test_events__replace_table_keeps_others(void **state)
{
    char *out = NULL;
    int32_t day[1];
    (void)state;
    make_cohort("id,age\n101,70\n");
    tu_write_file(tu_tmp("a.csv"), "pid,date,v\n101,2025-01-01,1.5\n101,2025-01-02,\n");
    tu_write_file(tu_tmp("b.csv"), "pid,date\n101,20250105\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table a --id pid "
                                      "--date date --value v --quiet",
                                tu_tmp("a.csv"), tu_tmp("c.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table b --id pid "
                                      "--date date --date-format YYYYMMDD --quiet",
                                tu_tmp("b.csv"), tu_tmp("c.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table b --id pid "
                                      "--date date --date-format YYYYMMDD --quiet",
                                tu_tmp("b.csv"), tu_tmp("c.h5")), 0); /* replaced, not doubled */
    free(out);
    read_i32(tu_tmp("c.h5"), "events/b/day", day, 1);
    assert_int_equal(day[0], 20093);
    {
        strata_ctx *ctx = tu_ctx();
        strata_cohort *c = NULL;
        size_t j;
        double v[2];
        assert_status(ctx, strata_cohort_open(ctx, tu_tmp("c.h5"), &c), STRATA_OK);
        assert_status(ctx, strata_cohort_find(ctx, c, "events/a/v", &j), STRATA_OK);
        assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, 2, v), STRATA_OK);
        assert_true(v[0] == 1.5 && v[1] != v[1]);
        strata_cohort_close(c);
        strata_ctx_free(ctx);
    }
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("c.h5")), 0);
    free(out);
}

/* The "# events" h5py example of docs/cohort-format.md, run as printed. */
static void test_events__format_doc_h5py_example(void **state)
{
    char *text = tu_read_file(tu_src("docs/cohort-format.md"), NULL), *start, *end, *out = NULL;
    FILE *f;
    strata_ctx *ctx = tu_ctx();
    strata_derive_report rep;
    (void)state;
    assert_non_null(text);
    start = strstr(text, "```python\n# events");
    assert_non_null(start);
    start += strlen("```python\n");
    end = strstr(start, "```");
    assert_non_null(end);
    f = fopen(tu_tmp("events_example.py"), "w");
    assert_non_null(f);
    fwrite(start, 1, (size_t)(end - start), f);
    fclose(f);
    free(text);
    assert_int_equal(tu_run_sh(&out, "cd '%s' && /usr/bin/python3 events_example.py", tu_tmp("")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("events.h5")), 0);
    assert_contains(out, "valid: 2 patients");
    free(out);
    tu_write_file(tu_tmp("ex.yaml"),
                  "index_date: 2025-04-01\nfeatures:\n"
                  "  - {name: em, kind: count, table: spells, where: \"admission_method == emergency\"}\n"
                  "  - {name: dm, kind: ever, table: spells, codelist: charlson/diab}\n"
                  "  - {name: los, kind: sum, table: spells, value: los_days, window: [-365, -1]}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("events.h5"), tu_tmp("ex.yaml"), tu_tmp("ex.h5"),
                                     &rep), STRATA_OK);
    assert_int_equal(rep.n_included, 2); /* the second dies on 2025-06-15, after the index date */
    strata_ctx_free(ctx);
    {
        int32_t em[2], dm[2];
        strata_ctx *c2 = tu_ctx();
        strata_cohort *c = NULL;
        size_t j;
        double los[2];
        read_i32(tu_tmp("ex.h5"), "em", em, 2);
        read_i32(tu_tmp("ex.h5"), "dm", dm, 2);
        assert_true(em[0] == 1 && em[1] == 0);
        assert_true(dm[0] == 1 && dm[1] == 0); /* E11.9 is Charlson diab */
        assert_status(c2, strata_cohort_open(c2, tu_tmp("ex.h5"), &c), STRATA_OK);
        assert_status(c2, strata_cohort_find(c2, c, "los", &j), STRATA_OK);
        assert_status(c2, strata_cohort_read_f64(c2, c, j, 0, 2, los), STRATA_OK);
        assert_true(los[0] == 2 && los[1] == 5); /* the NaN length of stay adds nothing */
        strata_cohort_close(c);
        strata_ctx_free(c2);
    }
}

/* A header-only CSV (an extract with no activity of that kind, e.g. no
 * hospital spells) is valid input: it imports as an empty /events table with
 * every column named (0 rows), the cohort validates, and derive can use it. */
static void test_events__header_only_csv_is_an_empty_table(void **state)
{
    static const char *const cols[] = {"events/spells/patient_row", "events/spells/day",
                                       "events/spells/end_day", "events/spells/diag_01",
                                       "events/spells/diag_02", "events/spells/admission_method",
                                       "events/spells/los_days"};
    char *out = NULL;
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    (void)state;
    make_cohort("id,age\n1,70\n2,50\n");
    tu_write_file(tu_tmp("empty.csv"), "pid,admit,discharge,admission_method,los_days,diag_01,diag_02\n");
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table spells --id pid "
                                      "--date admit --end-date discharge --code diag_01,diag_02 "
                                      "--code-system icd10 --cat admission_method --value los_days",
                                tu_tmp("empty.csv"), tu_tmp("c.h5")), 0);
    assert_contains(out, "0 events into /events/spells");
    free(out);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("c.h5"), &c), STRATA_OK);
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        assert_status(ctx, strata_cohort_find(ctx, c, cols[k], &j), STRATA_OK);
        assert_int_equal(strata_cohort_column(c, j)->length, 0);
    }
    strata_cohort_close(c);
    strata_ctx_free(ctx);
    assert_int_equal(tu_run_cli(&out, "validate '%s'", tu_tmp("c.h5")), 0);
    assert_contains(out, "valid: 2 patients");
    free(out);
    /* derive on it: counts, any (a where on the empty categorical) and sums 0,
     * max and days_since missing, time_to_first censored at TO + 1 with event 0 */
    tu_write_file(tu_tmp("empty.yaml"),
                  "index_date: 2025-04-01\n"
                  "features:\n"
                  "  - {name: n, kind: count, table: spells, window: [-365, -1]}\n"
                  "  - {name: e, kind: any, table: spells, where: \"admission_method == emergency\", window: [-365, -1]}\n"
                  "  - {name: bd, kind: sum, table: spells, value: los_days, window: [-365, -1]}\n"
                  "  - {name: mx, kind: max, table: spells, value: los_days, window: [-365, -1]}\n"
                  "  - {name: ds, kind: days_since, table: spells}\n"
                  "  - {name: ch, kind: charlson, table: spells, codes: diag_*, window: [-730, -1]}\n"
                  "outcomes:\n"
                  "  - {name: t, kind: time_to_first, table: spells, where: \"admission_method == emergency\", window: [0, 364]}\n");
    remove(tu_tmp("empty_d.h5"));
    assert_int_equal(tu_run_cli(&out, "derive '%s' --spec '%s' --out '%s'", tu_tmp("c.h5"),
                                tu_tmp("empty.yaml"), tu_tmp("empty_d.h5")), 0);
    assert_contains(out, "2 of 2 patients in the population; 6 features, 2 outcomes from 0 events");
    free(out);
    {
        static const char *const zero[] = {"n", "e", "bd", "ch", "t_event"};
        double v[2];
        for (size_t k = 0; k < sizeof zero / sizeof zero[0]; k++) {
            read_f64(tu_tmp("empty_d.h5"), zero[k], v, 2);
            assert_true(v[0] == 0.0 && v[1] == 0.0);
        }
        read_f64(tu_tmp("empty_d.h5"), "mx", v, 2);
        assert_true(isnan(v[0]) && isnan(v[1]));
        read_f64(tu_tmp("empty_d.h5"), "ds", v, 2);
        assert_true(isnan(v[0]) && isnan(v[1]));
        read_f64(tu_tmp("empty_d.h5"), "t", v, 2);
        assert_true(v[0] == 365.0 && v[1] == 365.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events__dates),
        cmocka_unit_test(test_events__patient_dates_import_and_export_iso),
        cmocka_unit_test(test_events__external_sort_equals_in_memory),
        cmocka_unit_test(test_events__string_ids_sorted_with_ties_in_file_order),
        cmocka_unit_test(test_events__errors_name_file_line_column_value),
        cmocka_unit_test(test_events__replace_table_keeps_others),
        cmocka_unit_test(test_events__format_doc_h5py_example),
        cmocka_unit_test(test_events__header_only_csv_is_an_empty_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
