/* labels: unit fault */
/* tests/test_import_infer.c — type inference against stray values (issue 18):
 * a column of numbers but for a few values stops the import naming lines,
 * column and values, unless the values are made missing (--na), the column is
 * given a type (--type) or the rows are skipped (--skip-bad-rows); the
 * threshold's edges (share and count), role columns, and the dry run
 * (strata_csv_inspect, strata import --dry-run). Every CSV is generated here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* No "<out>.tmp.<pid>" of any process (the CLI runs as another one) is left. */
static int tmp_left(const char *out)
{
    char dir[512], prefix[300];
    const char *slash = strrchr(out, '/');
    DIR *d;
    struct dirent *e;
    int found = 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
    snprintf(prefix, sizeof prefix, "%s.tmp.", slash + 1);
    assert_non_null(d = opendir(dir));
    while ((e = readdir(d)))
        found |= !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return found;
}

/* Imports with a mapping given as YAML text (NULL: none), e.g.
 * "types: {age: int}" or "roles: {age: yrs}". */
static strata_status imp(strata_ctx *ctx, const char *csv, const char *out, const char *yaml,
                         int skip, strata_csv_import_report *rep)
{
    strata_csv_import_params p;
    strata_csv_mapping *m = NULL;
    strata_status s;
    assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
    if (yaml) {
        char path[512];
        snprintf(path, sizeof path, "%s", tu_tmp("mapping.yaml"));
        tu_write_file(path, yaml);
        assert_status(ctx, strata_csv_mapping_load_yaml(m, path), STRATA_OK);
    }
    strata_csv_import_params_init(&p);
    p.mapping = m;
    p.skip_bad_rows = skip;
    s = strata_csv_import(ctx, csv, out, &p, rep);
    strata_csv_mapping_free(m);
    return s;
}

static const strata_column_info *col(strata_ctx *ctx, strata_cohort *c, const char *name)
{
    size_t j;
    assert_status(ctx, strata_cohort_find(ctx, c, name, &j), STRATA_OK);
    return strata_cohort_column(c, j);
}

static double *read_col(strata_ctx *ctx, strata_cohort *c, const char *name)
{
    size_t j, n = strata_cohort_nrows(c);
    double *v = malloc((n ? n : 1) * sizeof *v);
    assert_status(ctx, strata_cohort_find(ctx, c, name, &j), STRATA_OK);
    assert_status(ctx, strata_cohort_read_f64(ctx, c, j, 0, n, v), STRATA_OK);
    return v;
}

/* ---- the file ----------------------------------------------------------- */

#define SIXTY_LINE 4321
#define SIXTY_LAST 7872 /* 7,870 integer ages and 'sixty': 7,871 data rows */

static int age_at(int line) { return 50 + (line * 7) % 50; } /* 50 distinct: 50..99 */

/* id,age,sex with age an integer on every line but SIXTY_LINE, which says 'sixty'. */
static const char *sixty_csv(void)
{
    static char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s", tu_tmp("sixty.csv"));
    assert_non_null(f = fopen(path, "w"));
    fprintf(f, "id,age,sex\n");
    for (int line = 2; line <= SIXTY_LAST; line++) {
        if (line == SIXTY_LINE)
            fprintf(f, "%d,sixty,%c\n", line - 1, "FM"[line % 2]);
        else
            fprintf(f, "%d,%d,%c\n", line - 1, age_at(line), "FM"[line % 2]);
    }
    fclose(f);
    return path;
}

static const char *const SIXTY_MSG =
    "sixty.csv: column 'age' holds numbers, but 1 of its 7871 values (0.013 %) is not a number: "
    "line 4321 'sixty'.";

static void test_stray__sixty_fails_naming_line_column_value_and_leaves_nothing(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = sixty_csv();
    char out[512], *msg = NULL;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("sixty.h5"));
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), SIXTY_MSG);
    /* how to go on: the NA tokens with the value added, a type, skipping */
    assert_contains(strata_ctx_errmsg(ctx), "--na 'NA,,?,sixty'");
    assert_contains(strata_ctx_errmsg(ctx), "--type age=cat");
    assert_contains(strata_ctx_errmsg(ctx), "--skip-bad-rows");
    assert_false(exists(out));
    assert_false(tmp_left(out));

    /* the CLI: exit 6, the same message, nothing left; an existing file is untouched */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s'", csv, out), 6);
    assert_contains(msg, "strata import: error: ");
    assert_contains(msg, SIXTY_MSG);
    assert_contains(msg, "To go on: correct the file; or mark the values as missing: --na "
                         "'NA,,?,sixty'; or keep the text as categories: --type age=cat; or skip "
                         "the rows that hold them: --skip-bad-rows");
    free(msg);
    assert_false(exists(out));
    assert_false(tmp_left(out));
    tu_write_file(out, "keep me");
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s'", csv, out), 6);
    free(msg);
    {
        char *kept = tu_read_file(out, NULL);
        assert_string_equal(kept, "keep me");
        free(kept);
    }
    assert_false(tmp_left(out));
    unlink(out);
    strata_ctx_free(ctx);
}

/* The same file with 'sixty' as a missing token: age int8, NA on that row only. */
static void test_stray__sixty_imports_with_na_token(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = sixty_csv();
    char out[512], *msg = NULL;
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    size_t n_na = 0;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("sixty_na.h5"));
    unlink(out);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --na NA,,?,sixty", csv, out), 0);
    assert_contains(msg, "imported 7871 rows x 3 columns");
    free(msg);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    ci = col(ctx, c, "age");
    assert_false(ci->categorical);
    assert_int_equal(ci->dtype, STRATA_DT_INT8);
    assert_int_equal(strata_cohort_nrows(c), 7871);
    v = read_col(ctx, c, "age");
    for (int line = 2; line <= SIXTY_LAST; line++) {
        double want = line == SIXTY_LINE ? NAN : age_at(line);
        assert_rel_close(v[line - 2], want, 0, "age on line %d", line);
        n_na += isnan(v[line - 2]) != 0;
    }
    assert_int_equal(n_na, 1);
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* --type age=cat: the user says the text is meant; 51 levels, 'sixty' last. */
static void test_stray__sixty_imports_as_categorical_when_told(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = sixty_csv();
    char out[512], *msg = NULL;
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("sixty_cat.h5"));
    unlink(out);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --type age=cat", csv, out), 0);
    assert_null(strstr(msg, "warning")); /* told, so no word about it */
    free(msg);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    ci = col(ctx, c, "age");
    assert_true(ci->categorical);
    assert_int_equal(ci->n_levels, 51);
    assert_string_equal(ci->levels[0], "50");
    assert_string_equal(ci->levels[49], "99");
    assert_string_equal(ci->levels[50], "sixty");
    v = read_col(ctx, c, "age");
    assert_true(v[SIXTY_LINE - 2] == 50);
    assert_true(v[0] == age_at(2) - 50); /* "64" is level 14 */
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* --type age=int: an error naming the value; with --skip-bad-rows the row is
 * skipped, counted and listed; left to inference, --skip-bad-rows does the same. */
static void test_stray__type_int_errors_or_skips_the_row(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = sixty_csv();
    char out[512], *msg = NULL;
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("sixty_int.h5"));
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, "types: {age: int}", 0, &rep), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "sixty.csv: column 'age' (type int) has 1 value "
                                            "that is not an integer: line 4321 'sixty'.");
    assert_null(strstr(strata_ctx_errmsg(ctx), "--type age=cat")); /* the user chose int */
    assert_false(exists(out));
    assert_false(tmp_left(out));

    for (int given = 0; given < 2; given++) {
        unlink(out);
        assert_status(ctx, imp(ctx, csv, out, given ? "types: {age: int}" : NULL, 1, &rep),
                      STRATA_OK);
        assert_int_equal(rep.n_rows, 7870);
        assert_int_equal(rep.n_skipped, 1);
        assert_int_equal(rep.n_listed, 1);
        assert_int_equal(rep.skipped_line[0], SIXTY_LINE);
        assert_contains(rep.skipped_msg[0], "line 4321, column 'age': value 'sixty' is not");
        assert_contains(rep.skipped_msg[0], given ? "(column type int)"
                                                  : "(column type num: numbers but for a few "
                                                    "values)");
        assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
        assert_false(col(ctx, c, "age")->categorical);
        assert_int_equal(col(ctx, c, "age")->dtype, STRATA_DT_INT8);
        assert_int_equal(col(ctx, c, "sex")->n_levels, 2);
        double *v = read_col(ctx, c, "age");
        assert_true(v[SIXTY_LINE - 3] == age_at(SIXTY_LINE - 1)); /* the rows close up */
        assert_true(v[SIXTY_LINE - 2] == age_at(SIXTY_LINE + 1));
        free(v);
        strata_cohort_close(c);
    }
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --type age=int --skip-bad-rows",
                                csv, out),
                     0);
    assert_contains(msg, "skipped 1 bad row; first at line 4321");
    assert_contains(msg, "imported 7870 rows x 3 columns");
    free(msg);
    strata_ctx_free(ctx);
}

/* ---- the threshold: under 1 % of the non-missing values, at most 1,000 ------------ */

/* Column x: n_num integers (i % 50), n_text texts "t<k>" spread evenly, n_na
 * NA; column g: a label per row. */
static void write_mixed(const char *path, int n_num, int n_text, int n_na, const char *text)
{
    FILE *f;
    int n = n_num + n_text + n_na, t = 0, na_left = n_na;
    assert_non_null(f = fopen(path, "w"));
    fprintf(f, "x,g\n");
    for (int i = 0; i < n; i++) {
        /* row i holds text when its share of the texts has come due */
        int due = (int)((long)(i + 1) * n_text / n) > t;
        if (due) {
            if (text)
                fprintf(f, "%s,g%d\n", text, i % 3);
            else
                fprintf(f, "t%d,g%d\n", t, i % 3);
            t++;
        } else if (i % 3 == 1 && na_left > 0) {
            fprintf(f, "NA,g%d\n", i % 3);
            na_left--;
        } else {
            fprintf(f, "%d,g%d\n", i % 50, i % 3);
        }
    }
    fclose(f);
}

/* Counts rows of the generated file by kind (the test's own reading). */
static void count_mixed(const char *path, int *num, int *text, int *na)
{
    char line[128];
    FILE *f = fopen(path, "r");
    *num = *text = *na = 0;
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "NA,", 3))
            (*na)++;
        else if (line[0] >= '0' && line[0] <= '9')
            (*num)++;
        else
            (*text)++;
    }
    fclose(f);
}

static void test_threshold__share_just_under_and_at_one_percent(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512], out[512];
    int num, text, na;
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("share.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("share.h5"));
    /* 9 of 1,000 non-missing values (0.9 %), 400 NA besides: an error */
    write_mixed(csv, 991, 9, 400, NULL);
    count_mixed(csv, &num, &text, &na);
    assert_true(num == 991 && text == 9 && na == 400);
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "column 'x' holds numbers, but 9 of its 1000 values "
                                            "(0.9 %) are not numbers: line ");
    assert_contains(strata_ctx_errmsg(ctx), "'t0', line ");
    assert_contains(strata_ctx_errmsg(ctx), "'t8'.");
    assert_contains(strata_ctx_errmsg(ctx), "--na 'NA,,?,t0,t1,t2,t3,t4,t5,t6,t7'"); /* 8 at most */
    assert_false(exists(out));
    assert_false(tmp_left(out));

    /* 10 of 1,000 (1.0 %): text is part of the data; categorical, with a
     * warning; the 400 NA do not dilute the share (10 of 1,400 would be 0.7 %) */
    write_mixed(csv, 990, 10, 400, NULL);
    count_mixed(csv, &num, &text, &na);
    assert_true(num == 990 && text == 10 && na == 400);
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_OK);
    assert_contains(tu_last_warning(), "column 'x' is stored as categorical (60 levels) although "
                                       "990 of its 1000 values are numbers; 10 are not");
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    ci = col(ctx, c, "x");
    assert_true(ci->categorical);
    assert_int_equal(ci->n_levels, 60); /* 0..49 and t0..t9 */
    assert_string_equal(ci->levels[59], "t9");
    strata_cohort_close(c);
    unlink(out);
    strata_ctx_free(ctx);
}

static void test_threshold__count_at_and_over_one_thousand(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512], out[512];
    strata_cohort *c = NULL;
    const char *msg;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("count.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("count.h5"));
    /* 1,000 of 200,000 (0.5 %): still stray; the first 20 are listed, then the count */
    write_mixed(csv, 199000, 1000, 0, "n/a");
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_EDATA);
    msg = strata_ctx_errmsg(ctx);
    assert_contains(msg, "column 'x' holds numbers, but 1000 of its 200000 values (0.5 %) are not "
                         "numbers: line 201 'n/a', line 401 'n/a', ");
    assert_contains(msg, "line 4001 'n/a', and 980 more.\n"); /* the 20th, then the count */
    assert_null(strstr(msg, "line 4201"));
    assert_contains(msg, "--na 'NA,,?,n/a'");
    assert_false(exists(out));

    /* 1,001 of 200,000 (0.5 %): too many to be stray; categorical */
    write_mixed(csv, 198999, 1001, 0, "n/a");
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_true(col(ctx, c, "x")->categorical);
    assert_int_equal(col(ctx, c, "x")->n_levels, 51);
    assert_string_equal(col(ctx, c, "x")->levels[50], "n/a");
    strata_cohort_close(c);
    unlink(out);
    strata_ctx_free(ctx);
}

/* Floats too; two stray columns are both named; long values keep the advice. */
static void test_threshold__floats_two_columns_and_long_values(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512], out[512];
    const char *msg;
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("two.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("two.h5"));
    assert_non_null(f = fopen(csv, "w"));
    fprintf(f, "bmi,sbp,note\n");
    for (int i = 0; i < 3000; i++) {
        if (i % 100 == 7 && i < 2900) /* 29 long values in sbp (0.97 %) */
            fprintf(f, "%.2f,\"reading not taken: patient declined, see free text note %d "
                       "in the record\",n\n",
                    20 + i % 17 * 0.5, i);
        else if (i == 1500)
            fprintf(f, "obese,%d,n\n", 110 + i % 40);
        else
            fprintf(f, "%.2f,%d,n\n", 20 + i % 17 * 0.5, 110 + i % 40);
    }
    fclose(f);
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, NULL, 0, NULL), STRATA_EDATA);
    msg = strata_ctx_errmsg(ctx);
    assert_contains(msg, "column 'bmi' holds numbers, but 1 of its 3000 values (0.033 %) is not "
                         "a number: line 1502 'obese'.\n");
    assert_contains(msg, "column 'sbp' holds numbers, but 29 of its 3000 values (0.97 %)");
    assert_contains(msg, "line 9 'reading not taken");
    assert_contains(msg, "more.\nTo go on:"); /* not all 20 fit: cut, and the advice stays */
    assert_contains(msg, "--type bmi=cat,sbp=cat");
    assert_contains(msg, "--na 'NA,,?,obese'"); /* values with commas cannot be tokens */
    assert_contains(msg, "--skip-bad-rows (the column is then read as numbers).");
    assert_true(strlen(msg) < 1024);
    /* skipping: both columns numeric, 30 rows gone */
    assert_status(ctx, imp(ctx, csv, out, NULL, 1, &rep), STRATA_OK);
    assert_int_equal(rep.n_rows, 2970);
    assert_int_equal(rep.n_skipped, 30);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(col(ctx, c, "bmi")->dtype, STRATA_DT_FLOAT64);
    assert_int_equal(col(ctx, c, "sbp")->dtype, STRATA_DT_INT16);
    strata_cohort_close(c);
    unlink(out);
    strata_ctx_free(ctx);
}

/* --skip-bad-rows: the rows of stray values are skipped before inference, so
 * they add no level elsewhere; dropping them may make another column's text
 * stray in turn (b: 10 of 1,000 is 1 %; after a's rows go, 5 of 995 is 0.5 %). */
static void test_skip_bad_rows__stray_rows_add_no_level_and_tip_others(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512], out[512], *msg = NULL;
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("tip.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("tip.h5"));
    assert_non_null(f = fopen(csv, "w"));
    fprintf(f, "a,b,grp\n");
    for (int i = 0; i < 1000; i++) {
        int a_text = i % 200 == 3, b_text = i % 100 == 3; /* a's 5 rows are b's too */
        fprintf(f, "%s,%s,%s\n", a_text ? "x" : "1", b_text ? "y" : "2",
                a_text ? "only_on_skipped_rows" : i % 2 ? "p" : "q");
    }
    fclose(f);
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, NULL, 1, &rep), STRATA_OK);
    assert_int_equal(rep.n_rows, 990);
    assert_int_equal(rep.n_skipped, 10);
    assert_int_equal(rep.n_listed, 10);
    assert_int_equal(rep.skipped_line[0], 5);   /* row 3: a and b */
    assert_int_equal(rep.skipped_line[1], 105); /* row 103: b only */
    assert_contains(rep.skipped_msg[0], "column 'a': value 'x'");
    assert_contains(rep.skipped_msg[1], "column 'b': value 'y'");
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(col(ctx, c, "a")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "b")->dtype, STRATA_DT_INT8);
    ci = col(ctx, c, "grp");
    assert_int_equal(ci->n_levels, 2); /* no level from a skipped row */
    assert_string_equal(ci->levels[0], "p");
    assert_string_equal(ci->levels[1], "q");
    strata_cohort_close(c);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --skip-bad-rows", csv, out), 0);
    assert_contains(msg, "skipped 10 bad rows; first at lines 5, 105, 205,");
    free(msg);
    unlink(out);
    strata_ctx_free(ctx);
}

/* ---- roles ------------------------------------------------------------------------ */

#define ROLES "roles: {age: yrs, imd_decile: imd}"

/* age and imd_decile are numbers whatever the share of text: never categorical. */
static void test_roles__age_and_imd_are_never_categorical(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512], out[512], *msg = NULL;
    const char *m;
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("roles.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("roles.h5"));
    assert_non_null(f = fopen(csv, "w"));
    fprintf(f, "yrs,imd,sex\n");
    for (int i = 0; i < 40; i++) /* yrs: 25 of 40 are text (62 %); imd: one */
        fprintf(f, "%s,%s,%c\n", i < 25 ? "adult" : "70", i == 30 ? "ten" : "3", "FM"[i % 2]);
    fclose(f);
    unlink(out);
    assert_status(ctx, imp(ctx, csv, out, ROLES, 0, NULL),
                  STRATA_EDATA);
    m = strata_ctx_errmsg(ctx);
    assert_contains(m, "column 'yrs' (type num, role age) has 25 values that are not numbers: "
                       "line 2 'adult', line 3 'adult', ");
    assert_contains(m, "line 21 'adult', and 5 more.\n");
    assert_contains(m, "column 'imd' (type num, role imd_decile) has 1 value that is not a "
                       "number: line 32 'ten'.\n");
    assert_contains(m, "--na 'NA,,?,adult,ten'");
    assert_null(strstr(m, "=cat")); /* a role column cannot be categorical */
    assert_false(exists(out));
    assert_false(tmp_left(out));
    /* the same through the CLI */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --role age=yrs --role imd=imd_decile",
                                csv, out),
                     6);
    assert_contains(msg, "column 'imd' (type num, role imd_decile) has 1 value");
    free(msg);
    /* a categorical type conflicts with the role (exit 7) */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --role age=yrs --type yrs=cat", csv,
                                out),
                     7);
    assert_contains(msg, "does not suit role age");
    free(msg);
    /* skipping: 26 rows go, the rest are numbers */
    assert_status(ctx, imp(ctx, csv, out, ROLES, 1, &rep),
                  STRATA_OK);
    assert_int_equal(rep.n_rows, 14);
    assert_int_equal(rep.n_skipped, 26);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_false(col(ctx, c, "yrs")->categorical);
    assert_int_equal(col(ctx, c, "yrs")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "yrs")->role, STRATA_ROLE_AGE);
    assert_int_equal(col(ctx, c, "imd")->role, STRATA_ROLE_IMD_DECILE);
    strata_cohort_close(c);
    unlink(out);
    strata_ctx_free(ctx);
}

/* ---- dry run ------------------------------------------------------------------------- */

static void test_dry_run__summary_per_column(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char csv[512];
    strata_csv_import_params p;
    strata_csv_import_report rep;
    strata_csv_inspection *in = NULL;
    const strata_csv_column_summary *s;
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("dry.csv"));
    assert_non_null(f = fopen(csv, "w"));
    /* n: ints with one stray; code: numbers with 3 % text (categorical); grp:
     * text; w: floats with NA; line 52 has a field too many */
    fprintf(f, "n,code,grp,w\n");
    for (int i = 0; i < 200; i++) {
        if (i == 50)
            fprintf(f, "1,2,a,3,extra\n");
        fprintf(f, "%s,%s,%c,%s\n", i == 120 ? "?x" : i % 2 ? "12" : "-3",
                i % 33 == 5 ? "V57" : i % 5 ? "250" : "401", "abc"[i % 3],
                i % 10 == 9 ? "NA" : "0.5");
    }
    fclose(f);
    strata_csv_import_params_init(&p);
    assert_status(ctx, strata_csv_inspect(ctx, csv, &p, &in, &rep), STRATA_OK);
    assert_int_equal(strata_csv_inspection_ncols(in), 4);
    assert_null(strata_csv_inspection_column(in, 4));
    assert_int_equal(rep.n_rows, 200);
    assert_int_equal(rep.n_lines, 202);
    assert_int_equal(rep.n_skipped, 1); /* found, not stopped at */
    assert_int_equal(rep.skipped_line[0], 52);

    s = strata_csv_inspection_column(in, 0);
    assert_string_equal(s->name, "n");
    assert_int_equal(s->type, STRATA_CSV_AUTO);
    assert_true(s->stray && s->fails && !s->categorical);
    assert_int_equal(s->dtype, STRATA_DT_INT8); /* the numbers' type */
    assert_int_equal(s->n_values, 200);
    assert_int_equal(s->n_numeric, 199);
    assert_int_equal(s->n_odd, 1);
    assert_int_equal(s->n_odd_listed, 1);
    assert_int_equal(s->odd_line[0], 123); /* row 120, after the bad line 52 */
    assert_string_equal(s->odd_value[0], "?x");

    /* 6 of 200 (3 %) are codes: categorical, the codes listed as odd values */
    s = strata_csv_inspection_column(in, 1);
    assert_true(!s->stray && !s->fails && s->categorical);
    assert_int_equal(s->n_levels, 3);
    assert_int_equal(s->n_numeric, 194);
    assert_int_equal(s->n_odd, 6); /* rows 5, 38, 71, 104, 137, 170 */
    assert_int_equal(s->n_odd_listed, 6);
    assert_int_equal(s->odd_line[0], 7);
    assert_int_equal(s->odd_line[5], 173);
    assert_string_equal(s->odd_value[5], "V57");

    s = strata_csv_inspection_column(in, 2); /* text: labels, nothing odd */
    assert_true(s->categorical && !s->stray);
    assert_int_equal(s->n_levels, 3);
    assert_int_equal(s->n_numeric, 0);
    assert_int_equal(s->n_odd, 0);

    s = strata_csv_inspection_column(in, 3);
    assert_int_equal(s->dtype, STRATA_DT_FLOAT64);
    assert_int_equal(s->n_missing, 20);
    assert_int_equal(s->n_values, 180);
    assert_int_equal(s->n_odd, 0);
    strata_csv_inspection_free(in);

    /* with skip_bad_rows: n is read as num, its row a bad row like line 52 */
    p.skip_bad_rows = 1;
    assert_status(ctx, strata_csv_inspect(ctx, csv, &p, &in, &rep), STRATA_OK);
    assert_int_equal(rep.n_rows, 199);
    assert_int_equal(rep.n_skipped, 2);
    assert_int_equal(rep.skipped_line[1], 123);
    s = strata_csv_inspection_column(in, 0);
    assert_true(s->stray && !s->fails);
    assert_int_equal(s->type, STRATA_CSV_AUTO);
    assert_int_equal(s->n_odd, 1);
    assert_int_equal(s->n_values, 199);
    strata_csv_inspection_free(in);

    /* what the import cannot read at all is still an error */
    strata_csv_import_params_init(&p);
    tu_write_file(csv, "a,a\n1,2\n");
    assert_status(ctx, strata_csv_inspect(ctx, csv, &p, &in, NULL), STRATA_EDATA);
    assert_null(in);
    strata_ctx_free(ctx);
}

/* strata import --dry-run: a table on stdout, nothing written, exit 6 when the
 * import would stop and 0 when it would go through. */
static void test_dry_run__cli_prints_types_levels_odd_values_writes_nothing(void **state)
{
    const char *csv = sixty_csv();
    char out[512], *msg = NULL;
    (void)state;
    snprintf(out, sizeof out, "%s", tu_tmp("dry.h5"));
    unlink(out);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --dry-run", csv, out), 6);
    assert_contains(msg, "sixty.csv: 7872 lines, 7871 rows, 0 bad rows, 3 columns (dry run: "
                         "nothing written)\n"
                         "column  type         levels  missing     odd  options\n"
                         "id      int16             -        0       0\n"
                         "age     int8              -        0       1\n"
                         "    1 of 7871 values (0.013 %) is not a number in a column of numbers: "
                         "the import stops (--na, --type COL=cat or --skip-bad-rows)\n"
                         "      line 4321: 'sixty'\n"
                         "sex     categorical       2        0       0\n"
                         "the import would stop: odd values in the columns above\n");
    free(msg);
    assert_false(exists(out));
    assert_false(tmp_left(out));
    /* --out is not needed; the missing token makes it go through */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --dry-run --na NA,,?,sixty --role age=age "
                                      "--outcome sex",
                                csv),
                     0);
    assert_contains(msg, "age     int8              -        1       0  role age (num)\n");
    assert_contains(msg, "sex     categorical       2        0       0  outcome\n");
    assert_contains(msg, "the import would succeed: 7871 rows x 3 columns\n");
    free(msg);
    /* with --type age=cat: 51 levels, nothing odd */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --dry-run --type age=cat", csv), 0);
    assert_contains(msg, "age     categorical      51        0       0  --type cat\n");
    free(msg);
    /* --skip-bad-rows: the row would be skipped */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --dry-run --skip-bad-rows", csv), 0);
    assert_contains(msg, "7872 lines, 7870 rows, 1 bad row, 3 columns");
    assert_contains(msg, "    1 of 7871 values (0.013 %) is not a number in a column of numbers: "
                         "their rows are skipped\n");
    assert_contains(msg, "would skip 1 bad row; first at line 4321\n");
    assert_contains(msg, "the import would succeed: 7870 rows x 3 columns\n");
    free(msg);
    assert_false(exists(out));
}

/* ---- allocation failures -------------------------------------------------------- */

/* Every allocation fails in turn on the paths this file adds (odd values kept,
 * the error built, pass 1 again under skip_bad_rows, the dry run): the result
 * is the expected status or a clean STRATA_ENOMEM, no output, no leak (ASan). */
static void test_fault__odd_values_rerun_and_dry_run_are_clean(void **state)
{
    char csv[512], out[512];
    FILE *f;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("fault.csv"));
    snprintf(out, sizeof out, "%s", tu_tmp("fault.h5"));
    assert_non_null(f = fopen(csv, "w"));
    fprintf(f, "n,g,role_age\n");
    for (int i = 0; i < 150; i++)
        fprintf(f, "%s,%s,%d\n", i == 70 ? "seven" : "7", i % 40 == 1 ? "1" : "g", 40 + i % 9);
    fclose(f);
    for (int mode = 0; mode < 3; mode++) {
        long k;
        for (k = 1; k < 100000; k++) {
            strata_ctx *ctx = tu_ctx();
            strata_csv_mapping *m = NULL;
            strata_csv_import_params p;
            strata_csv_inspection *in = NULL;
            strata_status s, want = mode == 0 ? STRATA_EDATA : STRATA_OK;
            unlink(out);
            assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
            assert_int_equal(strata_csv_mapping_set_role(m, STRATA_ROLE_AGE, "role_age"),
                             STRATA_OK);
            strata_csv_import_params_init(&p);
            p.mapping = m;
            p.skip_bad_rows = mode == 1;
            tu_fault_install(ctx);
            tu_fault_arm(k);
            s = mode == 2 ? strata_csv_inspect(ctx, csv, &p, &in, NULL)
                          : strata_csv_import(ctx, csv, out, &p, NULL);
            tu_fault_arm(-1);
            if (s != want) {
                assert_status(ctx, s, STRATA_ENOMEM);
                assert_null(in);
            }
            if (mode < 2) {
                assert_int_equal(exists(out), s == STRATA_OK);
                assert_false(tmp_left(out));
            } else if (s == STRATA_OK) {
                const strata_csv_column_summary *sn = strata_csv_inspection_column(in, 0);
                assert_true(sn->stray && sn->fails);
                assert_string_equal(sn->odd_value[0], "seven");
            }
            strata_csv_inspection_free(in);
            strata_csv_mapping_free(m);
            strata_ctx_free(ctx);
            if (s == want)
                break;
        }
        print_message("mode %d: done once allocation %ld did not fail\n", mode, k);
        assert_true(k > 10);
    }
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stray__sixty_fails_naming_line_column_value_and_leaves_nothing),
        cmocka_unit_test(test_stray__sixty_imports_with_na_token),
        cmocka_unit_test(test_stray__sixty_imports_as_categorical_when_told),
        cmocka_unit_test(test_stray__type_int_errors_or_skips_the_row),
        cmocka_unit_test(test_threshold__share_just_under_and_at_one_percent),
        cmocka_unit_test(test_threshold__count_at_and_over_one_thousand),
        cmocka_unit_test(test_threshold__floats_two_columns_and_long_values),
        cmocka_unit_test(test_skip_bad_rows__stray_rows_add_no_level_and_tip_others),
        cmocka_unit_test(test_roles__age_and_imd_are_never_categorical),
        cmocka_unit_test(test_dry_run__summary_per_column),
        cmocka_unit_test(test_dry_run__cli_prints_types_levels_odd_values_writes_nothing),
        cmocka_unit_test(test_fault__odd_values_rerun_and_dry_run_are_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
