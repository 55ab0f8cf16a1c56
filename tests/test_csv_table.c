/* labels: unit */
/* tests/test_csv_table.c — engine/io's whole-file CSV reader (strata_csv_rows,
 * libcsv underneath): RFC 4180 quoting, CRLF and LF, a BOM skipped, the
 * editor line of each record, and malformed quoting named by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "csv_table.h"
#include "testutil.h"

#include <string.h>

static void test_csv_rows__quoting_line_ends_bom_and_lines(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_csv_rows t;
    const char *path = tu_tmp("rows.csv");
    (void)state;
    tu_write_file(path, "\xEF\xBB\xBFpractice,name,n\r\n"
                        "A1,\"Smith, Jones \"\"and\"\" partners\",12\r\n"
                        "B2,\"two\nlines\",0\n"
                        "C3,,7\n");
    assert_status(ctx, strata_csv_rows_read(ctx, path, &t), STRATA_OK);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.nf[0], 3);
    assert_string_equal(t.field[0][0], "practice"); /* BOM skipped */
    assert_string_equal(t.field[1][1], "Smith, Jones \"and\" partners");
    assert_string_equal(t.field[2][1], "two\nlines");
    assert_string_equal(t.field[3][1], "");
    assert_string_equal(t.field[3][2], "7");
    assert_int_equal(t.line[1], 2);
    assert_int_equal(t.line[2], 3);
    assert_int_equal(t.line[3], 5); /* the quoted newline took line 4 */
    strata_csv_rows_free(ctx, &t);
    assert_int_equal(t.n, 0);
    strata_ctx_free(ctx);
}

static void test_csv_rows__bad_quote_and_missing_file_named(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_csv_rows t;
    const char *path = tu_tmp("bad.csv");
    (void)state;
    tu_write_file(path, "a,b\n1,2\n3,x\"y\n");
    assert_status(ctx, strata_csv_rows_read(ctx, path, &t), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "bad.csv: line 3");
    assert_int_equal(t.n, 0);
    assert_status(ctx, strata_csv_rows_read(ctx, tu_tmp("absent.csv"), &t), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "absent.csv");
    strata_ctx_free(ctx);
}

static void test_csv_rows__every_allocation_failure_is_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_csv_rows t;
    const char *path = tu_tmp("fault.csv");
    long k;
    (void)state;
    tu_write_file(path, "a,b,c\n1,2,3\n\"x\",y,z\n");
    tu_fault_install(ctx);
    for (k = 1; k < 1000; k++) {
        strata_status s;
        tu_fault_arm(k);
        s = strata_csv_rows_read(ctx, path, &t);
        if (s == STRATA_OK)
            break;
        assert_int_equal(s, STRATA_ENOMEM);
    }
    tu_fault_arm(-1);
    assert_true(k > 3);
    assert_string_equal(t.field[2][0], "x");
    strata_csv_rows_free(ctx, &t);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_rows__quoting_line_ends_bom_and_lines),
        cmocka_unit_test(test_csv_rows__bad_quote_and_missing_file_named),
        cmocka_unit_test(test_csv_rows__every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
