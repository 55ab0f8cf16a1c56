/* labels: unit harden */
/* tests/test_harden_output.c — issue 17 #11, #12, #14, #15: outputs that
 * cannot be tampered with. Temporaries are 0600 from the first byte (even
 * under umask 000); a planted temporary (file or symlink) is stepped around,
 * never written through; a temporary swapped for a link before publication is
 * refused without chmod-ing the link's target; --out equal to an input is
 * refused; FIFO and device inputs are refused, not waited on; CSV cells a
 * spreadsheet would execute get a leading quote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "outfile.h"
#include "strata/cohort.h"
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mode_t mode_of(const char *p)
{
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    return sb.st_mode & 07777;
}

static const char *pid_tmp(const char *final)
{
    static char t[1024];
    snprintf(t, sizeof t, "%s.tmp.%ld", final, (long)getpid());
    return t;
}

static strata_cohort_writer *one_column_writer(strata_ctx *ctx, const char *path)
{
    strata_cohort_writer *w = NULL;
    strata_column_spec s = {0};
    int64_t id[2] = {1, 2};
    size_t j;
    s.name = "patient_id";
    s.dtype = STRATA_DT_INT64;
    s.role = STRATA_ROLE_PATIENT_ID;
    assert_status(ctx, strata_cohort_writer_new(ctx, path, &w), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, j, id, 2), STRATA_OK);
    return w;
}

/* strata_out_open's temporary is 0600; the published file gets final_mode */
static void out_temporary_then_final_mode(strata_ctx *ctx, const char *csv, unsigned final_mode)
{
    char *tmp = NULL;
    FILE *f = strata_out_open(ctx, csv, final_mode, &tmp);
    assert_non_null(f);
    assert_int_equal(mode_of(tmp), 0600);
    fputs("patient_id\n1\n", f);
    assert_status(ctx, strata_out_publish(ctx, f, tmp, csv, final_mode), STRATA_OK);
    assert_int_equal(mode_of(csv), final_mode);
}

static void test_out__temporaries_are_0600_from_the_first_byte(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *h5 = tu_tmp("mode.h5"), *csv = tu_tmp("mode.csv");
    strata_cohort_writer *w;
    mode_t old = umask(0); /* 0666 temporaries before the fix */
    (void)state;
    unlink(h5);
    w = one_column_writer(ctx, h5);
    assert_int_equal(mode_of(pid_tmp(h5)), 0600);
    assert_status(ctx, strata_cohort_writer_finish(w), STRATA_OK);
    assert_int_equal(mode_of(h5), 0600);
    out_temporary_then_final_mode(ctx, csv, 0600);
    /* an output published 0644 (a model file, an aggregate table) is still
     * owner-only while it is a temporary: the kill -9 test found an elastic-net
     * model's temporary 0644 after a kill */
    unlink(csv);
    out_temporary_then_final_mode(ctx, csv, 0644);
    umask(old);
    strata_ctx_free(ctx);
}

static void test_out__planted_symlink_is_never_written_through(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *victim = tu_tmp("victim.txt"), *csv = tu_tmp("patients.csv"),
               *h5 = tu_tmp("planted.h5");
    char *tmp = NULL, *text;
    strata_cohort_writer *w;
    FILE *f;
    (void)state;
    tu_write_file(victim, "precious\n");
    chmod(victim, 0640);
    unlink(pid_tmp(csv));
    assert_int_equal(symlink(victim, pid_tmp(csv)), 0); /* patient rows went here before */
    f = strata_out_open(ctx, csv, 0600, &tmp);
    assert_non_null(f);
    assert_string_not_equal(tmp, pid_tmp(csv));
    fputs("patient_id\n1\n", f);
    assert_status(ctx, strata_out_publish(ctx, f, tmp, csv, 0600), STRATA_OK);
    text = tu_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    text = tu_read_file(csv, NULL);
    assert_string_equal(text, "patient_id\n1\n");
    free(text);

    unlink(pid_tmp(h5));
    assert_int_equal(symlink(victim, pid_tmp(h5)), 0);
    w = one_column_writer(ctx, h5);
    assert_status(ctx, strata_cohort_writer_finish(w), STRATA_OK);
    text = tu_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    assert_int_equal(mode_of(victim), 0640);
    assert_int_equal(mode_of(h5), 0600);
    unlink(pid_tmp(csv));
    unlink(pid_tmp(h5));
    strata_ctx_free(ctx);
}

static void test_out__swapped_temporary_is_not_published(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *victim = tu_tmp("victim2.txt"), *csv = tu_tmp("swapped.csv");
    char *tmp = NULL, *text;
    FILE *f;
    (void)state;
    tu_write_file(victim, "precious\n");
    chmod(victim, 0600);
    unlink(csv);
    f = strata_out_open(ctx, csv, 0644, &tmp);
    assert_non_null(f);
    fputs("a\n", f);
    unlink(tmp); /* an attacker swaps the temporary for a link to another file */
    assert_int_equal(symlink(victim, tmp), 0);
    assert_status(ctx, strata_out_publish(ctx, f, tmp, csv, 0644), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "is no longer the regular file strata created");
    assert_int_equal(mode_of(victim), 0600); /* chmod went through the link before */
    assert_int_equal(access(csv, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    text = tu_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    strata_ctx_free(ctx);
}

static void test_out__out_equal_to_the_input_is_refused(void **state)
{
    const char *csv = tu_tmp("same.csv"), *h5 = tu_tmp("same.h5");
    char *out = NULL, *before, *after;
    (void)state;
    tu_write_file(csv, "patient_id,age\n1,30\n2,40\n");
    before = tu_read_file(csv, NULL);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s'", csv, csv), 2);
    assert_contains(out, "same.csv: is also an input of this command");
    after = tu_read_file(csv, NULL);
    assert_string_equal(before, after);
    free(out);
    free(after);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --quiet", csv, h5), 0);
    free(out);
    after = tu_read_file(h5, NULL);
    free(after);
    assert_int_equal(tu_run_cli(&out, "export '%s' --out '%s'", h5, h5), 2);
    assert_contains(out, "same.h5: is also an input of this command");
    assert_int_equal(tu_run_sh(NULL, "ls '%s'.tmp.* >/dev/null 2>&1", h5) != 0, 1);
    free(out);
    /* the cohort is still a cohort */
    assert_int_equal(tu_run_cli(&out, "info '%s'", h5), 0);
    free(out);
    free(before);
}

static void test_out__fifo_and_device_inputs_are_refused_not_waited_on(void **state)
{
    const char *fifo = tu_tmp("in.fifo"), *h5 = tu_tmp("fifo_out.h5");
    char *out = NULL;
    (void)state;
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* timeout: a hang is a failure, not a stuck suite */
    assert_int_equal(tu_run_sh(&out, "timeout 20 '%s' info '%s' 2>&1", tu_cli(), fifo), 4);
    assert_contains(out, "in.fifo: is a FIFO; strata reads its inputs from regular files only");
    free(out);
    assert_int_equal(tu_run_sh(&out, "timeout 20 '%s' info /dev/zero 2>&1", tu_cli()), 4);
    assert_contains(out, "/dev/zero: is a character device");
    free(out);
    assert_int_equal(
        tu_run_sh(&out, "timeout 20 '%s' import '%s' --out '%s' 2>&1", tu_cli(), fifo, h5), 4);
    assert_contains(out, "in.fifo: is a FIFO");
    assert_int_equal(access(h5, F_OK), -1);
    free(out);
    unlink(fifo);
}

static char *field(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    strata_csv_field(f, s);
    fclose(f);
    return buf;
}

static void expect_field(const char *in, const char *want)
{
    char *got = field(in);
    if (strcmp(got, want))
        fail_msg("strata_csv_field(\"%s\") = \"%s\", want \"%s\"", in, got, want);
    free(got);
}

static void test_out__csv_cells_a_spreadsheet_would_execute_are_neutralised(void **state)
{
    (void)state;
    expect_field("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0");
    expect_field("+SUM(1+1)", "'+SUM(1+1)");
    expect_field("@SUM(A1)", "'@SUM(A1)");
    expect_field("-2+3", "'-2+3");
    expect_field("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    expect_field("\tTAB", "'\tTAB");
    expect_field("\rCR", "\"'\rCR\"");
    /* numbers and ordinary text are left alone */
    expect_field("-1.5", "-1.5");
    expect_field("+3", "+3");
    expect_field("-1e-300", "-1e-300");
    expect_field("Asian/Asian British", "Asian/Asian British");
    expect_field("a,b", "\"a,b\"");
    expect_field("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out__temporaries_are_0600_from_the_first_byte),
        cmocka_unit_test(test_out__planted_symlink_is_never_written_through),
        cmocka_unit_test(test_out__swapped_temporary_is_not_published),
        cmocka_unit_test(test_out__out_equal_to_the_input_is_refused),
        cmocka_unit_test(test_out__fifo_and_device_inputs_are_refused_not_waited_on),
        cmocka_unit_test(test_out__csv_cells_a_spreadsheet_would_execute_are_neutralised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
