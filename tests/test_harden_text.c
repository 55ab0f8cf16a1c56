/* labels: unit harden */
/* tests/test_harden_text.c — issue 17 #10 and #16 (CSV side): text hygiene.
 * A NUL byte in a CSV (it silently cut values and names short) is refused
 * with line and column; a UTF-16/32 file (a UTF-16 BOM imported as garbage,
 * exit 0) is refused naming its encoding; invalid UTF-8 (it flowed into the
 * report and CSVs) is refused with line and column, while valid multi-byte
 * text, also across the reader's 1 MiB chunks, imports; an 8 MiB field is a
 * named error at once (libcsv grew its buffer 128 bytes at a time: minutes
 * under ASan); --encoding latin1/windows-1252 converts; a cohort whose levels table is not UTF-8 is refused by every
 * strict read and listed by validate. Every refusal leaves no output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/cohort.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_bytes(const char *path, const char *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* Imports csv into <csv>.h5: returns the exit code, *out the messages. */
static int import(const char *csv, char **out)
{
    tu_run_sh(NULL, "rm -f '%s'.h5*", csv);
    return tu_run_cli(out, "import '%s' --out '%s.h5' --role patient_id=id --quiet", csv, csv);
}

/* No cohort and no temporary left beside it. */
static void assert_no_output(const char *csv)
{
    assert_int_equal(tu_run_sh(NULL, "ls '%s'.h5* >/dev/null 2>&1", csv) != 0, 1);
}

static void refused(const char *name, const char *bytes, size_t n, const char *want1,
                    const char *want2)
{
    const char *csv = tu_tmp(name);
    char *out = NULL;
    write_bytes(csv, bytes, n);
    assert_int_equal(import(csv, &out), 6);
    assert_contains(out, csv);
    assert_contains(out, want1);
    if (want2)
        assert_contains(out, want2);
    free(out);
    assert_no_output(csv);
}

#define REFUSED(name, lit, w1, w2) refused(name, lit, sizeof lit - 1, w1, w2)

static void test_csv__nul_byte_is_refused_with_line_and_column(void **state)
{
    (void)state;
    /* a NUL inside a value: it was stored as "ab" */
    REFUSED("nul_value.csv", "id,name\n1,ab\0cd\n2,x\n", "line 2, column 5: a NUL byte", NULL);
    /* a NUL in the header: the column was named "na" */
    REFUSED("nul_name.csv", "id,na\0me\n1,x\n", "line 1, column 6: a NUL byte", NULL);
    /* inside a quoted field spanning lines: the line an editor shows */
    REFUSED("nul_quoted.csv", "id,name\n1,\"a\nb\0\"\n", "line 3, column 2: a NUL byte", NULL);
}

static void test_csv__utf16_and_utf32_are_refused_naming_the_encoding(void **state)
{
    (void)state;
    REFUSED("u16le.csv", "\xFF\xFEi\0d\0\n\0001\0\n\0", "is UTF-16 (little-endian) text",
            "iconv -f UTF-16LE -t UTF-8");
    REFUSED("u16be.csv", "\xFE\xFF\0i\0d\0\n\0001\0\n", "is UTF-16 (big-endian) text",
            "iconv -f UTF-16BE");
    REFUSED("u32le.csv", "\xFF\xFE\0\0i\0\0\0d\0\0\0", "is UTF-32 (little-endian) text", NULL);
    REFUSED("u32be.csv", "\0\0\xFE\xFF\0\0\0i", "is UTF-32 (big-endian) text", NULL);
    /* UTF-16 without a mark: the NUL error says what it probably is */
    REFUSED("u16bare.csv", "i\0d\0\n\0001\0\n\0", "line 1, column 2: a NUL byte",
            "UTF-16 text without a byte-order mark");
}

static void test_csv__invalid_utf8_is_refused_with_line_and_column(void **state)
{
    (void)state;
    /* Latin-1 'café' */
    REFUSED("latin1.csv", "id,name\n1,caf\xE9\n", "line 2, column 6: not UTF-8 text (byte 0xE9)",
            "iconv -f WINDOWS-1252 -t UTF-8");
    /* a column is counted in characters: é is one */
    REFUSED("after_e.csv", "id,name\n1,\xC3\xA9\xFF\n", "line 2, column 4: not UTF-8 text (byte 0xFF)",
            NULL);
    REFUSED("overlong.csv", "id,name\n1,\xC0\xAF\n", "line 2, column 3: not UTF-8 text (byte 0xC0)",
            NULL);
    REFUSED("surrogate.csv", "id,name\n1,\xED\xA0\x80\n", "column 3: not UTF-8 text (byte 0xED)",
            NULL);
    REFUSED("above.csv", "id,name\n1,\xF4\x90\x80\x80\n", "column 3: not UTF-8 text (byte 0xF4)",
            NULL);
    REFUSED("cut.csv", "id,name\n1,\xE2\x82", "line 2, column 3: not UTF-8 text (the file ends",
            NULL);
    REFUSED("in_header.csv", "id,n\xE9\n1,2\n", "line 1, column 5", NULL);
}

/* Valid text imports unchanged, also a character cut by the 1 MiB chunk
 * boundary of the reader. */
static void test_csv__valid_utf8_imports_across_chunks(void **state)
{
    const char *csv = tu_tmp("chunked.csv");
    const size_t chunk = (size_t)1 << 20;
    size_t n = 0;
    char *buf = malloc(chunk + 4096), *out = NULL;
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    size_t j;
    (void)state;
    n += (size_t)sprintf(buf, "id,name\n");
    for (int i = 1; n < chunk - 64; i++)
        n += (size_t)sprintf(buf + n, "%d,Asian/Asian British\n", i);
    /* a row whose '€' (E2 82 AC) starts 1 byte before the chunk boundary */
    n += (size_t)sprintf(buf + n, "999999,");
    while (n < chunk - 1)
        buf[n++] = 'x';
    memcpy(buf + n, "\xE2\x82\xAC\n", 4);
    n += 4;
    n += (size_t)sprintf(buf + n, "1000000,caf\xC3\xA9 \xF0\x9F\x99\x82\n");
    write_bytes(csv, buf, n);
    free(buf);
    assert_int_equal(import(csv, &out), 0);
    free(out);
    assert_status(ctx, strata_cohort_open(ctx, tu_tmp("chunked.csv.h5"), &c), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, c, "name", &j), STRATA_OK);
    {
        const strata_column_info *info = strata_cohort_column(c, j);
        int euro = 0, cafe = 0;
        for (size_t l = 0; l < info->n_levels; l++) {
            euro |= strstr(info->levels[l], "x\xE2\x82\xAC") != NULL;
            cafe |= !strcmp(info->levels[l], "caf\xC3\xA9 \xF0\x9F\x99\x82");
        }
        assert_true(euro && cafe);
    }
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* #16: an 8 MiB field stops at the 4 MiB limit with a named error, in well
 * under a second (it took minutes under ASan). */
static void test_csv__8mib_field_is_a_named_error_at_once(void **state)
{
    const char *csv = tu_tmp("big.csv");
    size_t n = (size_t)8 << 20;
    char *buf = malloc(n + 64), *out = NULL;
    struct timespec t0, t1;
    double s;
    (void)state;
    memcpy(buf, "id,name\n1,\"", 11);
    memset(buf + 11, 'a', n);
    memcpy(buf + 11 + n, "\"\n", 2);
    write_bytes(csv, buf, n + 13);
    free(buf);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(import(csv, &out), 6);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_contains(out, "line 2: field 2 (starting on line 2) is longer than 4 MiB");
    free(out);
    assert_true(s < 10.0); /* ~0.2 s under ASan on a loaded machine */
    assert_no_output(csv);
    /* a field under the limit (3 MiB) still imports */
    n = (size_t)3 << 20;
    buf = malloc(n + 64);
    memcpy(buf, "id,name\n1,", 10);
    memset(buf + 10, 'a', n);
    buf[10 + n] = '\n';
    write_bytes(csv, buf, n + 11);
    free(buf);
    assert_int_equal(import(csv, &out), 0);
    free(out);
}

/* --encoding: a declared Latin-1 or Windows-1252 file is converted to UTF-8
 * as it is read (the same file undeclared is refused, above); an unknown
 * encoding is a usage error. */
static void test_csv__declared_encodings_are_converted(void **state)
{
    const char *csv = tu_tmp("cp1252.csv");
    char *out = NULL;
    (void)state;
    static const char text[] = "id,name\n1,caf\xE9\n2,\x80uro \x93q\x94\n";
    write_bytes(csv, text, sizeof text - 1); /* without the terminating NUL */
    assert_int_equal(import(csv, &out), 6);
    assert_contains(out, "--encoding windows-1252 or latin1");
    free(out);
    tu_run_sh(NULL, "rm -f '%s'.h5*", csv);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s.h5' --role patient_id=id --encoding "
                                      "windows-1252 --quiet", csv, csv), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "export '%s.h5' --out -", csv), 0);
    assert_contains(out, "1,caf\xC3\xA9\n");
    assert_contains(out, "2,\xE2\x82\xACuro \xE2\x80\x9Cq\xE2\x80\x9D\n");
    free(out);
    tu_run_sh(NULL, "rm -f '%s'.h5*", csv);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s.h5' --role patient_id=id --encoding "
                                      "LATIN1 --quiet", csv, csv), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "export '%s.h5' --out -", csv), 0);
    assert_contains(out, "2,\xC2\x80uro \xC2\x93q\xC2\x94\n"); /* C1 controls in Latin-1 */
    free(out);
    tu_run_sh(NULL, "rm -f '%s'.h5*", csv);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s.h5' --role patient_id=id --encoding "
                                      "ebcdic", csv, csv), 2);
    assert_contains(out, "encoding 'ebcdic': strata reads utf-8 (the default), latin1");
    free(out);
    assert_no_output(csv);
}

/* Event tables and codelists read through the same scanner. */
static void test_csv__event_import_shares_the_checks(void **state)
{
    const char *pat = tu_tmp("ev_pat.csv"), *ev = tu_tmp("ev.csv");
    char *out = NULL, h5[4200];
    (void)state;
    write_bytes(pat, "id,birth\np1,1950-01-01\n", 23);
    snprintf(h5, sizeof h5, "%s.h5", pat);
    unlink(h5);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id "
                                      "--role birth_date=birth --quiet", pat, h5), 0);
    free(out);
    write_bytes(ev, "pid,day,code\np1,2024-01-01,I1\xE9\n", 31);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table t --id pid "
                                      "--date day --code code --quiet", ev, h5), 6);
    assert_contains(out, "line 2, column 17: not UTF-8 text (byte 0xE9)");
    free(out);
    assert_int_equal(tu_run_sh(NULL, "ls '%s'.tmp.* >/dev/null 2>&1", h5) != 0, 1);
}

/* Labels in a cohort strata did not write (another tool, or the writer API)
 * must be UTF-8 too: every strict read refuses them, validate lists them. */
static void test_cohort__levels_that_are_not_utf8_are_refused(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *h5 = tu_tmp("latin1_levels.h5");
    static const char *const levels[] = {"White", "caf\xE9"};
    strata_cohort_writer *w = NULL;
    strata_column_spec s = {0};
    strata_cohort *c = NULL;
    int64_t id[2] = {1, 2};
    int8_t eth[2] = {0, 1};
    size_t j;
    char *out = NULL;
    (void)state;
    unlink(h5);
    assert_status(ctx, strata_cohort_writer_new(ctx, h5, &w), STRATA_OK);
    s.name = "patient_id";
    s.dtype = STRATA_DT_INT64;
    s.role = STRATA_ROLE_PATIENT_ID;
    assert_status(ctx, strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, j, id, 2), STRATA_OK);
    memset(&s, 0, sizeof s);
    s.name = "ethnicity";
    s.dtype = STRATA_DT_INT8;
    s.role = STRATA_ROLE_ETHNICITY;
    s.categorical = 1;
    s.levels = levels;
    s.n_levels = 2;
    assert_status(ctx, strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, j, eth, 2), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_finish(w), STRATA_OK);
    assert_int_equal(strata_cohort_open(ctx, h5, &c), STRATA_EFORMAT);
    assert_contains(strata_ctx_errmsg(ctx), "patients/ethnicity: level 1 of levels table");
    assert_contains(strata_ctx_errmsg(ctx), "is not UTF-8 text (byte 0xE9 at byte 4)");
    assert_int_equal(tu_run_cli(&out, "validate '%s'", h5), 1);
    assert_contains(out, "is not UTF-8 text");
    free(out);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv__nul_byte_is_refused_with_line_and_column),
        cmocka_unit_test(test_csv__utf16_and_utf32_are_refused_naming_the_encoding),
        cmocka_unit_test(test_csv__invalid_utf8_is_refused_with_line_and_column),
        cmocka_unit_test(test_csv__valid_utf8_imports_across_chunks),
        cmocka_unit_test(test_csv__8mib_field_is_a_named_error_at_once),
        cmocka_unit_test(test_csv__declared_encodings_are_converted),
        cmocka_unit_test(test_csv__event_import_shares_the_checks),
        cmocka_unit_test(test_cohort__levels_that_are_not_utf8_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
