/* labels: unit golden fault */
/* tests/test_import.c — CSV import/export: the real Diabetes-130 and flchain
 * extracts checked column by column against an independent naive reading of
 * the same file (row counts, NA counts, sums, level sets), inferred types,
 * exact CSV → h5 → CSV → h5 round trips, RFC 4180 edge cases, every error
 * path (status, line, column, no output left) and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIABETES "uci_diabetes_130us/diabetic_data.csv"
#define FLCHAIN "r_survival_datasets/flchain.csv"

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* The writer's temporary file for out in this process (must never be left). */
static int tmp_left(const char *out)
{
    char t[600];
    snprintf(t, sizeof t, "%s.tmp.%ld", out, (long)getpid());
    return exists(t);
}

/* Imports with a mapping built from "col=type" / role / outcome strings. */
static strata_status import_with(strata_ctx *ctx, const char *csv, const char *out,
                                 const char *types, const char *outcomes, const char *na,
                                 int skip, strata_csv_import_report *rep)
{
    strata_csv_import_params p;
    strata_csv_mapping *m = NULL;
    strata_status s;
    char buf[512], *save = NULL;
    assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
    if (types) {
        snprintf(buf, sizeof buf, "%s", types);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            strata_csv_type ty;
            *eq = 0;
            assert_int_equal(strata_csv_type_parse(eq + 1, &ty), 0);
            assert_int_equal(strata_csv_mapping_set_type(m, t, ty), STRATA_OK);
        }
    }
    if (outcomes) {
        snprintf(buf, sizeof buf, "%s", outcomes);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            assert_int_equal(strata_csv_mapping_set_outcome(m, t), STRATA_OK);
    }
    if (na)
        assert_int_equal(strata_csv_mapping_set_na(m, na), STRATA_OK);
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

/* ---- independent naive reading of a simple CSV (no quoted commas/newlines) ---- */

typedef struct naive {
    size_t nrows, ncol;
    char names[64][64];
    size_t na[64];     /* NA/"?"/empty count */
    double sum[64];    /* sum of the numeric values */
    int numeric[64];   /* every non-NA value parses as a number */
    char first[64][64], last[64][64];
} naive;

static void naive_read(const char *path, naive *nv)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    memset(nv, 0, sizeof *nv);
    assert_non_null(f);
    for (size_t ln = 0; fgets(line, sizeof line, f); ln++) {
        char *save = NULL, *tok;
        size_t j = 0;
        line[strcspn(line, "\r\n")] = 0;
        for (tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save), j++) {
            size_t L = strlen(tok);
            char *end;
            double v;
            if (L >= 2 && tok[0] == '"' && tok[L - 1] == '"') {
                tok[L - 1] = 0;
                tok++;
            }
            assert_true(j < 64);
            if (ln == 0) {
                snprintf(nv->names[j], 64, "%s", tok);
                for (char *q = nv->names[j]; *q; q++)
                    *q = *q == '.' ? '_' : *q;
                nv->numeric[j] = 1;
                continue;
            }
            if (ln == 1)
                snprintf(nv->first[j], 64, "%s", tok);
            snprintf(nv->last[j], 64, "%s", tok);
            if (!strcmp(tok, "?") || !strcmp(tok, "NA")) {
                nv->na[j]++;
                continue;
            }
            v = strtod(tok, &end);
            if (*end || end == tok)
                nv->numeric[j] = 0;
            else
                nv->sum[j] += v;
        }
        if (ln == 0)
            nv->ncol = j;
        else
            nv->nrows++;
    }
    fclose(f);
}

/* Every column: NA count, sum (numeric) or first/last labels (categorical). */
static void check_against_naive(strata_ctx *ctx, const char *h5, const naive *nv)
{
    strata_cohort *c = NULL;
    assert_status(ctx, strata_cohort_open(ctx, h5, &c), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(c), nv->nrows);
    assert_int_equal(strata_cohort_ncols(c), nv->ncol);
    for (size_t j = 0; j < nv->ncol; j++) {
        const strata_column_info *ci = col(ctx, c, nv->names[j]);
        double *v = read_col(ctx, c, nv->names[j]), sum = 0;
        size_t na = 0, n = nv->nrows;
        for (size_t i = 0; i < n; i++) {
            if (isnan(v[i]))
                na++;
            else
                sum += v[i];
        }
        assert_int_equal(na, nv->na[j]);
        /* a column of numbers only is never categorical, and vice versa */
        assert_int_equal(ci->categorical, !nv->numeric[j]);
        if (ci->categorical) {
            if (!isnan(v[0]))
                assert_string_equal(ci->levels[(size_t)v[0]], nv->first[j]);
            if (!isnan(v[n - 1]))
                assert_string_equal(ci->levels[(size_t)v[n - 1]], nv->last[j]);
            for (size_t k = 1; k < ci->n_levels; k++)
                assert_true(strcmp(ci->levels[k - 1], ci->levels[k]) < 0); /* byte-wise */
        } else {
            assert_rel_close(sum, nv->sum[j], 1e-12, "sum of %s", nv->names[j]);
            if (!isnan(v[0]))
                assert_rel_close(v[0], strtod(nv->first[j], NULL), 0, "first %s", nv->names[j]);
            if (!isnan(v[n - 1]))
                assert_rel_close(v[n - 1], strtod(nv->last[j], NULL), 0, "last %s",
                                 nv->names[j]);
        }
        free(v);
    }
    strata_cohort_close(c);
}

static void test_import__diabetes_counts_types_values(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *out = tu_tmp("diabetes.h5");
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    size_t count[3] = {0, 0, 0};
    naive *nv = malloc(sizeof *nv);
    (void)state;
    assert_status(ctx, import_with(ctx, tu_data(DIABETES), out, NULL, NULL, NULL, 0, &rep),
                  STRATA_OK);
    assert_int_equal(rep.n_rows, 101766);
    assert_int_equal(rep.n_columns, 50);
    assert_int_equal(rep.n_lines, 101767);
    assert_int_equal(rep.n_skipped, 0);
    naive_read(tu_data(DIABETES), nv);
    check_against_naive(ctx, out, nv);
    free(nv);

    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_string_equal(strata_cohort_attr(c, "source"), "diabetic_data.csv");
    /* inferred types: narrowest integer that holds the range */
    assert_int_equal(col(ctx, c, "encounter_id")->dtype, STRATA_DT_INT32);
    assert_int_equal(col(ctx, c, "patient_nbr")->dtype, STRATA_DT_INT32);
    assert_int_equal(col(ctx, c, "time_in_hospital")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "num_lab_procedures")->dtype, STRATA_DT_INT16);
    ci = col(ctx, c, "diag_1"); /* ICD-9 with V/E codes: text, > 127 levels */
    assert_true(ci->categorical);
    assert_int_equal(ci->dtype, STRATA_DT_INT16);
    ci = col(ctx, c, "race"); /* '?' is missing, not a level */
    assert_int_equal(ci->n_levels, 5);
    assert_string_equal(ci->levels[0], "AfricanAmerican");
    assert_string_equal(ci->levels[4], "Other");
    ci = col(ctx, c, "max_glu_serum"); /* "None" is a level (only NA, "" and ? are missing) */
    assert_int_equal(ci->n_levels, 4);
    assert_string_equal(ci->levels[2], "None");
    /* readmitted counts from the dataset's README: <30 11,357, >30 35,545, NO 54,864 */
    ci = col(ctx, c, "readmitted");
    assert_int_equal(ci->n_levels, 3);
    assert_string_equal(ci->levels[0], "<30");
    assert_string_equal(ci->levels[1], ">30");
    assert_string_equal(ci->levels[2], "NO");
    v = read_col(ctx, c, "readmitted");
    for (size_t i = 0; i < 101766; i++)
        count[(size_t)v[i]]++;
    assert_int_equal(count[0], 11357);
    assert_int_equal(count[1], 35545);
    assert_int_equal(count[2], 54864);
    free(v);
    v = read_col(ctx, c, "encounter_id");
    assert_rel_close(v[0], 2278392, 0, "first encounter");
    assert_rel_close(v[101765], 443867222, 0, "last encounter");
    free(v);
    v = read_col(ctx, c, "weight"); /* '?' in the first row */
    assert_true(isnan(v[0]));
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_import__flchain_types_na_levels(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *out = tu_tmp("flchain.h5");
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    naive *nv = malloc(sizeof *nv);
    (void)state;
    assert_status(ctx, import_with(ctx, tu_data(FLCHAIN), out, NULL, "futime,death", NULL, 0,
                                   NULL),
                  STRATA_OK);
    /* same input, same bytes */
    assert_status(ctx, import_with(ctx, tu_data(FLCHAIN), tu_tmp("flchain2.h5"), NULL,
                                   "futime,death", NULL, 0, NULL),
                  STRATA_OK);
    assert_true(tu_files_equal(out, tu_tmp("flchain2.h5")));
    naive_read(tu_data(FLCHAIN), nv);
    assert_int_equal(nv->nrows, 7874);
    check_against_naive(ctx, out, nv);
    free(nv);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(col(ctx, c, "age")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "sample_yr")->dtype, STRATA_DT_INT16); /* "sample.yr" */
    assert_int_equal(col(ctx, c, "kappa")->dtype, STRATA_DT_FLOAT64);
    assert_int_equal(col(ctx, c, "creatinine")->dtype, STRATA_DT_FLOAT64);
    assert_string_equal(col(ctx, c, "futime")->group, "outcomes");
    assert_string_equal(col(ctx, c, "death")->group, "outcomes");
    ci = col(ctx, c, "sex");
    assert_int_equal(ci->n_levels, 2);
    assert_string_equal(ci->levels[0], "F");
    assert_string_equal(ci->levels[1], "M");
    ci = col(ctx, c, "chapter");
    assert_int_equal(ci->n_levels, 16);
    assert_string_equal(ci->levels[0], "Blood");
    assert_string_equal(ci->levels[15], "Skin");
    /* file line 17 (data row 16) has creatinine NA; line 25 has chapter NA */
    v = read_col(ctx, c, "creatinine");
    assert_true(isnan(v[15]));
    assert_rel_close(v[0], 1.7, 0, "creatinine row 1");
    free(v);
    v = read_col(ctx, c, "chapter");
    assert_true(isnan(v[23]));
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* Every column of two cohorts: same name, group, type, levels and bytes. */
static void assert_same_cohort(strata_ctx *ctx, const char *a, const char *b)
{
    strata_cohort *ca = NULL, *cb = NULL;
    assert_status(ctx, strata_cohort_open(ctx, a, &ca), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, b, &cb), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(ca), strata_cohort_nrows(cb));
    assert_int_equal(strata_cohort_ncols(ca), strata_cohort_ncols(cb));
    for (size_t j = 0; j < strata_cohort_ncols(ca); j++) {
        const strata_column_info *x = strata_cohort_column(ca, j), *y;
        size_t jb, n = x->length, sz = strata_dtype_size(x->dtype);
        unsigned char *va = malloc(n * sz + 1), *vb = malloc(n * sz + 1);
        char full[128];
        snprintf(full, sizeof full, "%s/%s", x->group, x->name);
        assert_status(ctx, strata_cohort_find(ctx, cb, full, &jb), STRATA_OK);
        y = strata_cohort_column(cb, jb);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->categorical, y->categorical);
        assert_int_equal(x->n_levels, y->n_levels);
        for (size_t k = 0; k < x->n_levels; k++)
            assert_string_equal(x->levels[k], y->levels[k]);
        assert_status(ctx, strata_cohort_read_native(ctx, ca, j, 0, n, va), STRATA_OK);
        assert_status(ctx, strata_cohort_read_native(ctx, cb, jb, 0, n, vb), STRATA_OK);
        assert_memory_equal(va, vb, n * sz);
        free(va);
        free(vb);
    }
    strata_cohort_close(ca);
    strata_cohort_close(cb);
}

static void roundtrip(const char *csv, const char *tag, const char *outcomes, const char *na_out)
{
    char h1[256], c1[300], h2[300], c2[300];
    snprintf(h1, sizeof h1, "%s", tu_tmp(tag));
    strcat(h1, ".1.h5");
    snprintf(c1, sizeof c1, "%s.1.csv", h1);
    snprintf(h2, sizeof h2, "%s.2.h5", h1);
    snprintf(c2, sizeof c2, "%s.2.csv", h1);
    assert_int_equal(tu_run_cli(NULL, "import '%s' --out '%s' %s%s --quiet", csv, h1,
                                outcomes ? "--outcome " : "", outcomes ? outcomes : ""),
                     0);
    assert_int_equal(tu_run_cli(NULL, "export '%s' --out '%s' --na '%s'", h1, c1, na_out), 0);
    assert_int_equal(tu_run_cli(NULL, "import '%s' --out '%s' %s%s --quiet", c1, h2,
                                outcomes ? "--outcome " : "", outcomes ? outcomes : ""),
                     0);
    assert_int_equal(tu_run_cli(NULL, "export '%s' --out '%s' --na '%s'", h2, c2, na_out), 0);
    {
        strata_ctx *ctx = tu_ctx();
        struct stat st;
        assert_same_cohort(ctx, h1, h2);
        strata_ctx_free(ctx);
        assert_true(tu_files_equal(c1, c2));
        assert_int_equal(stat(c1, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600); /* patient-level rows */
    }
}

static void test_roundtrip__csv_h5_csv_h5_is_exact(void **state)
{
    (void)state;
    roundtrip(tu_data(FLCHAIN), "rt_flchain", "futime,death", "NA");
    roundtrip(tu_data(DIABETES), "rt_diabetes", NULL, "");
    /* R write.csv output: unnamed row-name column, dotted names, quoted strings */
    roundtrip(tu_data("qof/heec_qof_cvd_practice.csv"), "rt_qof", NULL, "NA");
}

static void test_roundtrip__awkward_floats_and_labels(void **state)
{
    const char *csv = tu_tmp("awkward.csv");
    (void)state;
    tu_write_file(csv, "x,label,big\n"
                       "0.1,\"a,b\",9007199254740993\n"
                       "1e-300,\"say \"\"hi\"\"\",-9223372036854775807\n"
                       "2.0,\"two\nlines\",0\n"
                       "-Inf,\" padded \",NA\n"
                       "0.30000000000000004,plain,1\n"
                       "5e-324,NA,2\n");
    roundtrip(csv, "rt_awkward", NULL, "");
    {
        strata_ctx *ctx = tu_ctx();
        strata_cohort *c = NULL;
        char h1[256];
        double *x;
        const strata_column_info *ci;
        snprintf(h1, sizeof h1, "%s.1.h5", tu_tmp("rt_awkward"));
        assert_status(ctx, strata_cohort_open(ctx, h1, &c), STRATA_OK);
        assert_int_equal(col(ctx, c, "big")->dtype, STRATA_DT_INT64);
        ci = col(ctx, c, "label");
        assert_int_equal(ci->n_levels, 5);
        assert_string_equal(ci->levels[0], " padded "); /* quoted blanks kept */
        assert_string_equal(ci->levels[1], "a,b");
        assert_string_equal(ci->levels[4], "two\nlines");
        x = read_col(ctx, c, "x");
        assert_true(x[0] == 0.1 && x[1] == 1e-300 && x[2] == 2.0 && isinf(x[3]) && x[3] < 0);
        assert_true(x[4] == 0.30000000000000004 && x[5] == 5e-324);
        free(x);
        strata_cohort_close(c);
        strata_ctx_free(ctx);
    }
}

/* ---- RFC 4180 edge cases and editor line numbers --------------------------------- */

static void test_rfc4180__bom_crlf_quotes_multiline(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("rfc.csv"), *out = tu_tmp("rfc.h5");
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *id, *note;
    (void)state;
    tu_write_file(csv, "\xEF\xBB\xBF"
                       "id,note,score\r\n"
                       "1,\"comma, inside\",2.5\r\n"
                       "2,\"two\r\nline\",3\r\n"
                       "3,\"quote \"\"q\"\"\",\r\n"
                       "\r\n"
                       "4,plain,NA\r\n");
    assert_status(ctx, import_with(ctx, csv, out, NULL, NULL, NULL, 0, NULL), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(strata_cohort_nrows(c), 4);
    assert_int_equal(col(ctx, c, "id")->dtype, STRATA_DT_INT8); /* BOM not in the name */
    assert_int_equal(col(ctx, c, "score")->dtype, STRATA_DT_FLOAT64);
    ci = col(ctx, c, "note");
    assert_int_equal(ci->n_levels, 4);
    assert_string_equal(ci->levels[0], "comma, inside");
    assert_string_equal(ci->levels[1], "plain");
    assert_string_equal(ci->levels[2], "quote \"q\"");
    assert_string_equal(ci->levels[3], "two\r\nline");
    id = read_col(ctx, c, "id");
    note = read_col(ctx, c, "note");
    assert_true(id[3] == 4 && note[3] == 1 && note[1] == 3);
    free(id);
    free(note);
    note = read_col(ctx, c, "score");
    assert_true(isnan(note[2]) && isnan(note[3]) && note[1] == 3);
    free(note);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* A file whose first 1 MiB read chunk ends exactly on a CR: the line count
 * must hold whether the CR is half of a CRLF or a line end on its own. */
static void cr_at_chunk_end(const char *eol)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("crchunk.csv"), *out = tu_tmp("crchunk.h5");
    FILE *f = fopen(csv, "wb");
    size_t pos = 0, line = 1, chunk = (size_t)1 << 20;
    assert_non_null(f);
    pos += (size_t)fprintf(f, "a,b%s", eol);
    while (pos + 200 < chunk) {
        pos += (size_t)fprintf(f, "%zu,row%s", line, eol);
        line++;
    }
    /* one padded row so that its CR is the chunk's last byte */
    pos += (size_t)fprintf(f, "%zu,", line);
    while (pos < chunk - 1) {
        fputc('p', f);
        pos++;
    }
    fputs(eol, f);
    line++;
    fprintf(f, "%zu,ok%s%zu,bad,extra%s", line, eol, line + 1, eol);
    fclose(f);
    unlink(out);
    assert_status(ctx, import_with(ctx, csv, out, NULL, NULL, NULL, 0, NULL), STRATA_EDATA);
    {
        char want[64];
        snprintf(want, sizeof want, "line %zu: expected 2 fields", line + 2);
        assert_contains(strata_ctx_errmsg(ctx), want);
    }
    strata_ctx_free(ctx);
}

/* Imports text that must fail with want; checks the message and no output. */
static void expect_fail(const char *text, const char *types, strata_status want,
                        const char *needle1, const char *needle2)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("bad.csv"), *out = tu_tmp("bad.h5");
    unlink(out);
    tu_write_file(csv, text);
    assert_status(ctx, import_with(ctx, csv, out, types, NULL, NULL, 0, NULL), want);
    assert_contains(strata_ctx_errmsg(ctx), needle1);
    if (needle2)
        assert_contains(strata_ctx_errmsg(ctx), needle2);
    assert_false(exists(out));
    assert_false(tmp_left(out));
    strata_ctx_free(ctx);
}

static void test_rfc4180__cr_lf_and_lone_cr_across_chunks(void **state)
{
    (void)state;
    cr_at_chunk_end("\r\n");
    cr_at_chunk_end("\r");
    /* lone CRs (old Mac files) are line ends, also inside quotes */
    expect_fail("a,b\r1,\"x\ry\"\r3,x,4\r", NULL, STRATA_EDATA, "line 4: expected 2 fields",
                NULL);
}

static void test_errors__bad_rows_name_editor_line_and_column(void **state)
{
    (void)state;
    /* record 2 spans lines 3-4, so the short record is on line 6 */
    expect_fail("a,b,c\n1,x,2\n3,\"multi\nline\",4\n5,y,6\n7,z\n", NULL, STRATA_EDATA,
                "line 6: expected 3 fields, found 2", "column 'c' missing");
    expect_fail("a,b,c\r\n1,x,2\r\n3,y,4,extra\r\n", NULL, STRATA_EDATA, "line 3",
                "extra value 'extra' after column 'c'");
    expect_fail("a,b\n1,2\n\"x\ny\",abc\n", "b=int", STRATA_EDATA,
                "column 'b' (type int) has 1 value that is not an integer: line 4 'abc'.", NULL);
    expect_fail("a,b\n1,2.5\n2,1e400x\n", "b=float", STRATA_EDATA,
                "column 'b' (type float) has 1 value that is not a number: line 3 '1e400x'.",
                NULL);
    expect_fail("a,b\n1,2\n3,\"open\n4,5\n", NULL, STRATA_EDATA,
                "quoted field starting on line 3 is never closed", NULL);
    expect_fail("a,b\n1,2\n3,\"x\"y\n", NULL, STRATA_EDATA, "line 3: field 2", NULL);
    expect_fail("", NULL, STRATA_EDATA, "line 1: no header", NULL);
    expect_fail("a,b,a\n1,2,3\n", NULL, STRATA_EDATA, "column 'a' (column 3)", "line 1");
    expect_fail("a,,col_2\n1,2,3\n", NULL, STRATA_EDATA, "column 'col_2' (column 3)", NULL);
    expect_fail("a,b\n1,2\n", "zz=int", STRATA_ESPEC, "column 'zz'", "not in the header");
    expect_fail("a,b\n1,2\n2,2.5\n", "a=int,b=int", STRATA_EDATA,
                "column 'b' (type int) has 1 value that is not an integer: line 3 '2.5'", NULL);
}

static void test_errors__roles_io_and_cli_exit_codes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_csv_mapping *m = NULL;
    strata_csv_import_params p;
    const char *csv = tu_tmp("roles.csv"), *out = tu_tmp("roles.h5");
    char *msg = NULL;
    (void)state;
    tu_write_file(csv, "pid,age,practice\n10,50,A81001\n11,x,A81002\n");
    unlink(out);
    assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
    assert_int_equal(strata_csv_mapping_set_role(m, STRATA_ROLE_PATIENT_ID, "pid"), STRATA_OK);
    assert_int_equal(strata_csv_mapping_set_role(m, STRATA_ROLE_AGE, "age"), STRATA_OK);
    assert_status(ctx, strata_csv_mapping_set_role(m, STRATA_ROLE_SEX, "age"), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "two roles");
    strata_csv_import_params_init(&p);
    p.mapping = m;
    assert_status(ctx, strata_csv_import(ctx, csv, out, &p, NULL), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx),
                    "column 'age' (type num, role age) has 1 value that is not a number: line 3 "
                    "'x'.");
    assert_false(exists(out));
    assert_status(ctx, strata_csv_import(ctx, tu_tmp("no-such.csv"), out, &p, NULL), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "no-such.csv");
    strata_csv_mapping_free(m);

    /* the CLI exits with the status and prints the line */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --role age=age", csv, out), 6);
    assert_contains(msg, "column 'age' (type num, role age)");
    assert_contains(msg, "line 3 'x'");
    free(msg);
    assert_false(exists(out));
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --type pid=bogus", csv, out), 2);
    assert_contains(msg, "unknown type 'bogus'");
    free(msg);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --role nosuch=pid", csv, out), 2);
    free(msg);
    assert_int_equal(tu_run_cli(&msg, "import '%s'", csv), 2);
    free(msg);
    assert_int_equal(tu_run_cli(&msg, "import --help"), 0);
    assert_contains(msg, "--skip-bad-rows");
    free(msg);
    assert_int_equal(tu_run_cli(&msg, "export --help"), 0);
    assert_contains(msg, "--columns");
    free(msg);
    /* roles declared; patient id stored as int64; practice categorical */
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --role patient_id=pid "
                                      "--role practice=practice --skip-bad-rows",
                                csv, out),
                     0);
    free(msg);
    {
        strata_cohort *c = NULL;
        assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
        assert_int_equal(col(ctx, c, "pid")->dtype, STRATA_DT_INT64);
        assert_int_equal(col(ctx, c, "pid")->role, STRATA_ROLE_PATIENT_ID);
        assert_true(col(ctx, c, "practice")->categorical);
        {
            size_t jp;
            assert_status(ctx, strata_cohort_find(ctx, c, "practice", &jp), STRATA_OK);
            assert_int_equal(strata_cohort_find_role(c, STRATA_ROLE_PRACTICE), (long)jp);
        }
        strata_cohort_close(c);
    }
    strata_ctx_free(ctx);
}

static void test_skip_bad_rows__counts_lines_and_clean_inference(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("skip.csv"), *out = tu_tmp("skip.h5");
    strata_csv_import_report rep;
    strata_cohort *c = NULL;
    double *n;
    char *msg = NULL;
    (void)state;
    /* bad rows: line 3 (too many fields, text in n), line 5-6 (short, multi-line),
     * line 8 (n not an integer under the override) */
    tu_write_file(csv, "n,s\n1,a\ntext,b,extra\n2,b\n\"x\ny\"\n3,c\n4.5,d\n5,e\n");
    assert_status(ctx, import_with(ctx, csv, out, "n=int", NULL, NULL, 1, &rep), STRATA_OK);
    assert_int_equal(rep.n_rows, 4);
    assert_int_equal(rep.n_skipped, 3);
    assert_int_equal(rep.n_listed, 3);
    assert_int_equal(rep.skipped_line[0], 3);
    assert_int_equal(rep.skipped_line[1], 5);
    assert_int_equal(rep.skipped_line[2], 8);
    assert_contains(rep.skipped_msg[2], "column 'n': value '4.5'");
    assert_int_equal(rep.n_lines, 9);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(col(ctx, c, "n")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "s")->n_levels, 4); /* a b c e: no level from bad rows */
    n = read_col(ctx, c, "n");
    assert_true(n[0] == 1 && n[1] == 2 && n[2] == 3 && n[3] == 5);
    free(n);
    strata_cohort_close(c);
    /* without the option the same file fails at line 3 and leaves nothing */
    unlink(out);
    assert_status(ctx, import_with(ctx, csv, out, "n=int", NULL, NULL, 0, &rep), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "line 3");
    assert_false(exists(out));
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --type n=int --skip-bad-rows", csv,
                                out),
                     0);
    assert_contains(msg, "skipped 3 bad rows; first at lines 3, 5, 8");
    free(msg);
    strata_ctx_free(ctx);
}

/* ---- inference rules, NA tokens, mapping file --------------------------------- */

static void test_infer__narrowest_integer_and_boundaries(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("ints.csv"), *out = tu_tmp("ints.h5");
    strata_cohort *c = NULL;
    double *v;
    (void)state;
    /* -128 is int8's NA, so it needs int16; likewise for the other widths */
    tu_write_file(csv, "i8,i16,i16b,i32,i64,f,allna,num,cat\n"
                       "127,-128,32767,-32768,2147483648,9223372036854775808,NA,1,1\n"
                       "-127,0,-32767,0,0,1,,2.5,2\n");
    assert_status(ctx, import_with(ctx, csv, out, "num=num,cat=cat", NULL, NULL, 0, NULL),
                  STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_int_equal(col(ctx, c, "i8")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "i16")->dtype, STRATA_DT_INT16);
    assert_int_equal(col(ctx, c, "i16b")->dtype, STRATA_DT_INT16);
    assert_int_equal(col(ctx, c, "i32")->dtype, STRATA_DT_INT32);
    assert_int_equal(col(ctx, c, "i64")->dtype, STRATA_DT_INT64);
    assert_int_equal(col(ctx, c, "f")->dtype, STRATA_DT_FLOAT64); /* beyond int64 */
    assert_int_equal(col(ctx, c, "allna")->dtype, STRATA_DT_INT8);
    assert_int_equal(col(ctx, c, "num")->dtype, STRATA_DT_FLOAT64);
    assert_true(col(ctx, c, "cat")->categorical);
    assert_string_equal(col(ctx, c, "cat")->levels[1], "2");
    v = read_col(ctx, c, "i64");
    assert_true(v[0] == 2147483648.0);
    free(v);
    v = read_col(ctx, c, "allna");
    assert_true(isnan(v[0]) && isnan(v[1]));
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* The import's float reader (fast path + strtod) gives strtod's exact bits
 * on random decimal strings of every shape. */
static void test_infer__floats_read_exactly_as_strtod(void **state)
{
    const char *csv = tu_tmp("floats.csv"), *out = tu_tmp("floats.h5");
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    enum { NV = 40000 };
    char(*txt)[48] = malloc(NV * sizeof *txt);
    uint64_t st = 12345;
    double *v;
    FILE *f = fopen(csv, "w");
    (void)state;
    assert_non_null(f);
    fprintf(f, "x\n");
    for (int i = 0; i < NV; i++) {
        int nd, dot, k = 0;
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        nd = 1 + (int)((st >> 33) % 19); /* 1..19 digits */
        dot = (int)((st >> 40) % (unsigned)(nd + 2)) - 1; /* -1: no point */
        if ((st >> 20) & 1)
            txt[i][k++] = '-';
        for (int d = 0; d < nd; d++) {
            uint64_t r;
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            r = st >> 33;
            if (d == dot)
                txt[i][k++] = '.';
            txt[i][k++] = (char)('0' + r % 10);
        }
        if ((st >> 50) % 3 == 0)
            k += snprintf(txt[i] + k, 12, "e%d", (int)((st >> 35) % 61) - 30);
        txt[i][k] = 0;
        if (i == 0)
            strcpy(txt[i], "-0.0");
        fprintf(f, "%s\n", txt[i]);
    }
    fclose(f);
    assert_status(ctx, import_with(ctx, csv, out, "x=float", NULL, NULL, 0, NULL), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    v = read_col(ctx, c, "x");
    for (int i = 0; i < NV; i++) {
        double want = strtod(txt[i], NULL);
        if (memcmp(&v[i], &want, sizeof want))
            fail_msg("row %d: '%s' read as %.17g, strtod gives %.17g", i, txt[i], v[i], want);
    }
    free(v);
    free(txt);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

/* 6,000 distinct numbers, then 100 codes (1.6 %: too many to be stray, so
 * the column is text): its levels come from the extra pass. */
static void test_infer__text_after_many_numbers_gets_all_levels(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("late.csv"), *out = tu_tmp("late.h5");
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    FILE *f = fopen(csv, "w");
    (void)state;
    assert_non_null(f);
    fprintf(f, "code,k\n");
    for (int i = 0; i < 6000; i++)
        fprintf(f, "%d,%d\n", 10000 + i, i % 3);
    for (int i = 0; i < 100; i++)
        fprintf(f, "V%d,1\n", 10 + i);
    fclose(f);
    assert_status(ctx, import_with(ctx, csv, out, NULL, NULL, NULL, 0, NULL), STRATA_OK);
    assert_contains(tu_last_warning(), "column 'code' is stored as categorical (6100 levels) "
                                       "although 6000 of its 6100 values are numbers; 100 are "
                                       "not, the first on line 6002: 'V10'");
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    ci = col(ctx, c, "code");
    assert_true(ci->categorical);
    assert_int_equal(ci->n_levels, 6100);
    assert_int_equal(ci->dtype, STRATA_DT_INT16);
    assert_string_equal(ci->levels[0], "10000");
    assert_string_equal(ci->levels[6000], "V10");
    assert_string_equal(ci->levels[6001], "V100"); /* byte-wise */
    assert_string_equal(ci->levels[6099], "V99");
    v = read_col(ctx, c, "code");
    for (int i = 0; i < 6000; i++)
        assert_true(v[i] == i);
    assert_true(v[6000] == 6000 && v[6001] == 6011 && v[6090] == 6001);
    free(v);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_na_tokens__configurable(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("na.csv"), *out = tu_tmp("na.h5");
    strata_cohort *c = NULL;
    double *v;
    (void)state;
    tu_write_file(csv, "x,s,\n-99,NA,1\n3,?,2\n,b,3\n"); /* third column unnamed */
    assert_status(ctx, import_with(ctx, csv, out, NULL, NULL, "-99,", 0, NULL), STRATA_OK);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    v = read_col(ctx, c, "x");
    assert_true(isnan(v[0]) && v[1] == 3 && isnan(v[2]));
    free(v);
    assert_int_equal(col(ctx, c, "s")->n_levels, 3); /* NA and ? are plain labels here */
    assert_string_equal(col(ctx, c, "s")->levels[0], "?");
    assert_string_equal(col(ctx, c, "s")->levels[1], "NA");
    assert_int_equal(col(ctx, c, "col_3")->dtype, STRATA_DT_INT8);
    assert_contains(tu_last_warning(), "column 3 has no name; it is stored as 'col_3'");
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_cli__tab_delimiter_and_empty_only_na(void **state)
{
    const char *csv = tu_tmp("tab.tsv"), *h5 = tu_tmp("tab.h5"), *o = tu_tmp("tab.out.tsv");
    char *text;
    (void)state;
    tu_write_file(csv, "a\tb\n1\tNA\n\t?\n");
    assert_int_equal(tu_run_cli(NULL, "import '%s' --out '%s' --delim tab --na '' --quiet", csv,
                                h5),
                     0);
    assert_int_equal(tu_run_cli(NULL, "export '%s' --out '%s' --delim tab --na NA", h5, o), 0);
    text = tu_read_file(o, NULL);
    assert_non_null(text);
    /* "NA" and "?" are labels here; the empty field is the only missing value */
    assert_string_equal(text, "a\tb\n1\tNA\nNA\t?\n");
    free(text);
}

static void test_recode__values_replaced_before_inference(void **state)
{
    const char *csv = tu_tmp("rec.csv"), *h5 = tu_tmp("rec.h5"), *yml = tu_tmp("rec.yaml");
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    const strata_column_info *ci;
    double *v;
    char *msg = NULL;
    (void)state;
    tu_write_file(csv, "g,n\nFemale,1\nMale,x\nUnknown,3\n");
    tu_write_file(yml, "recode:\n  n: {x: NA}\n");
    unlink(h5);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --map '%s' --role sex=g "
                                      "--recode g=Female:F,Male:M,Unknown:NA --quiet",
                                csv, h5, yml),
                     0);
    free(msg);
    assert_status(ctx, strata_cohort_open(ctx, h5, &c), STRATA_OK);
    ci = col(ctx, c, "g");
    assert_int_equal(ci->n_levels, 2);
    assert_string_equal(ci->levels[0], "F");
    assert_string_equal(ci->levels[1], "M");
    assert_int_equal(ci->role, STRATA_ROLE_SEX);
    v = read_col(ctx, c, "g");
    assert_true(v[0] == 0 && v[1] == 1 && isnan(v[2]));
    free(v);
    assert_int_equal(col(ctx, c, "n")->dtype, STRATA_DT_INT8); /* 'x' recoded to NA */
    v = read_col(ctx, c, "n");
    assert_true(v[0] == 1 && isnan(v[1]) && v[2] == 3);
    free(v);
    strata_cohort_close(c);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --recode g=Female", csv, h5), 2);
    assert_contains(msg, "FROM:TO");
    free(msg);
    strata_ctx_free(ctx);
}

static void test_mapping__yaml_roles_types_outcomes_na(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *csv = tu_tmp("map.csv"), *out = tu_tmp("map.h5"), *yml = tu_tmp("map.yaml");
    strata_csv_mapping *m = NULL;
    strata_csv_import_params p;
    strata_cohort *c = NULL;
    char *msg = NULL;
    (void)state;
    tu_write_file(csv, "person,yrs,gp,code,died\n1,40,A1,007,0\n2,-,A2,010,1\n");
    tu_write_file(yml, "# mapping\nroles:\n  patient_id: person\n  age: yrs\n  practice: gp\n"
                       "types:\n  code: cat\noutcomes: [died]\nna: [\"-\", NA]\n");
    assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
    assert_status(ctx, strata_csv_mapping_load_yaml(m, yml), STRATA_OK);
    strata_csv_import_params_init(&p);
    p.mapping = m;
    p.extract_date = "2026-11-01";
    assert_status(ctx, strata_csv_import(ctx, csv, out, &p, NULL), STRATA_OK);
    strata_csv_mapping_free(m);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    {
        size_t jp;
        assert_status(ctx, strata_cohort_find(ctx, c, "person", &jp), STRATA_OK);
        assert_int_equal(strata_cohort_find_role(c, STRATA_ROLE_PATIENT_ID), (long)jp);
    }
    assert_int_equal(col(ctx, c, "yrs")->role, STRATA_ROLE_AGE);
    assert_string_equal(col(ctx, c, "died")->group, "outcomes");
    assert_string_equal(col(ctx, c, "code")->levels[0], "007"); /* leading zero kept */
    assert_string_equal(strata_cohort_attr(c, "extract_date"), "2026-11-01");
    {
        double *v = read_col(ctx, c, "yrs");
        assert_true(v[0] == 40 && isnan(v[1]));
        free(v);
    }
    strata_cohort_close(c);
    /* the same through the CLI, an option overriding the file */
    unlink(out);
    assert_int_equal(tu_run_cli(&msg, "import '%s' --out '%s' --map '%s' --type code=int --quiet",
                                csv, out, yml),
                     0);
    free(msg);
    assert_status(ctx, strata_cohort_open(ctx, out, &c), STRATA_OK);
    assert_false(col(ctx, c, "code")->categorical);
    strata_cohort_close(c);
    /* errors name the file and line */
    assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
    tu_write_file(yml, "roles:\n  patient_id: person\ncolumns: 3\n");
    assert_status(ctx, strata_csv_mapping_load_yaml(m, yml), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "line 3: unknown key 'columns'");
    tu_write_file(yml, "roles:\n  doctor: gp\n");
    assert_status(ctx, strata_csv_mapping_load_yaml(m, yml), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "line 2: unknown role 'doctor'");
    tu_write_file(yml, "types: [a, b\n");
    assert_status(ctx, strata_csv_mapping_load_yaml(m, yml), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "YAML error");
    strata_csv_mapping_free(m);
    strata_ctx_free(ctx);
}

/* ---- export -------------------------------------------------------------------- */

static void test_export__selected_columns_na_and_unknown_column(void **state)
{
    const char *csv = tu_tmp("exp.csv"), *h5 = tu_tmp("exp.h5"), *o = tu_tmp("exp.out.csv");
    char *msg = NULL, *text;
    (void)state;
    tu_write_file(csv, "a,b,c\n1,x y,0.5\n,\"q,\"\"r\",\n");
    assert_int_equal(tu_run_cli(NULL, "import '%s' --out '%s' --quiet", csv, h5), 0);
    assert_int_equal(tu_run_cli(NULL, "export '%s' --out '%s' --columns c,b,a --na NA", h5, o), 0);
    text = tu_read_file(o, NULL);
    assert_non_null(text);
    assert_string_equal(text, "c,b,a\n0.5,x y,1\nNA,\"q,\"\"r\",NA\n");
    free(text);
    assert_int_equal(tu_run_cli(&msg, "export '%s' --out '%s.2' --columns a,zz", h5, o), 7);
    assert_contains(msg, "zz");
    free(msg);
    assert_int_equal(access(tu_tmp("exp.out.csv.2"), F_OK), -1);
    assert_int_equal(tu_run_cli(&msg, "export '%s' --out '%s.3'", csv, o), 5); /* not HDF5 */
    free(msg);
}

/* ---- streaming: memory does not grow with the file ------------------------------- */

typedef struct live_bytes {
    size_t now, peak;
} live_bytes;

/* Allocation hook counting the bytes strata holds (malloc_usable_size). */
static void *counting_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    live_bytes *lb = ud;
    void *q;
    (void)old_size;
    if (ptr)
        lb->now -= malloc_usable_size(ptr);
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    q = realloc(ptr, new_size);
    if (q)
        lb->now += malloc_usable_size(q);
    if (lb->now > lb->peak)
        lb->peak = lb->now;
    return q;
}

static void test_stream__memory_bounded_by_chunk_and_block(void **state)
{
    const char *csv = tu_tmp("big.csv"), *out = tu_tmp("big.h5");
    strata_ctx *ctx = tu_ctx();
    live_bytes lb = {0, 0};
    strata_csv_import_report rep;
    strata_csv_import_params p;
    FILE *f = fopen(csv, "w");
    long size;
    (void)state;
    assert_non_null(f);
    fprintf(f, "id,x,grp,note\n");
    for (int i = 0; i < 300000; i++)
        fprintf(f, "%d,%.6f,g%d,\"row %d, some text\"\n", i, i * 0.001, i % 10, i % 7);
    size = ftell(f);
    fclose(f);
    strata_ctx_set_alloc(ctx, counting_alloc, &lb);
    strata_csv_import_params_init(&p);
    assert_status(ctx, strata_csv_import(ctx, csv, out, &p, &rep), STRATA_OK);
    assert_int_equal(rep.n_rows, 300000);
    print_message("CSV %ld bytes, peak strata heap %zu bytes\n", size, lb.peak);
    /* one 1 MiB read chunk + one 16,384-row block per column + levels: far
     * below the file (the HDF5 library's own buffers are not counted) */
    assert_true(size > 8 * 1000 * 1000);
    assert_true(lb.peak < (size_t)3 * 1024 * 1024);
    strata_ctx_free(ctx);
}

/* ---- allocation failures ----------------------------------------------------- */

static void test_fault__every_allocation_failure_is_clean(void **state)
{
    char csv[512], out[512], csv_out[512];
    long k;
    (void)state;
    snprintf(csv, sizeof csv, "%s", tu_tmp("fault.csv")); /* tu_tmp buffers rotate */
    snprintf(out, sizeof out, "%s", tu_tmp("fault.h5"));
    snprintf(csv_out, sizeof csv_out, "%s", tu_tmp("fault.out.csv"));
    tu_write_file(csv, "id,grp,x\n1,a,0.5\n2,b,NA\n3,a,1.5\n");
    for (k = 1; k < 100000; k++) {
        strata_ctx *ctx = tu_ctx();
        strata_csv_mapping *m = NULL;
        strata_csv_import_params p;
        strata_status s;
        unlink(out);
        assert_int_equal(strata_csv_mapping_new(ctx, &m), STRATA_OK);
        assert_int_equal(strata_csv_mapping_set_outcome(m, "x"), STRATA_OK);
        assert_int_equal(strata_csv_mapping_set_type(m, "grp", STRATA_CSV_CAT), STRATA_OK);
        strata_csv_import_params_init(&p);
        p.mapping = m;
        tu_fault_install(ctx);
        tu_fault_arm(k);
        s = strata_csv_import(ctx, csv, out, &p, NULL);
        tu_fault_arm(-1);
        if (s != STRATA_OK) {
            assert_status(ctx, s, STRATA_ENOMEM);
            assert_false(exists(out));
            assert_false(tmp_left(out));
        }
        strata_csv_mapping_free(m);
        strata_ctx_free(ctx);
        if (s == STRATA_OK)
            break;
    }
    print_message("import succeeded once allocation %ld did not fail\n", k);
    assert_true(k > 20);
    assert_true(exists(out));
    /* export: every allocation failure is a clean ENOMEM with no CSV left */
    for (k = 1; k < 100000; k++) {
        strata_ctx *ctx = tu_ctx();
        strata_csv_export_params p;
        strata_status s;
        unlink(csv_out);
        strata_csv_export_params_init(&p);
        tu_fault_install(ctx);
        tu_fault_arm(k);
        s = strata_csv_export(ctx, out, csv_out, &p);
        tu_fault_arm(-1);
        if (s != STRATA_OK) {
            assert_status(ctx, s, STRATA_ENOMEM);
            assert_false(exists(csv_out));
            assert_false(tmp_left(csv_out));
        }
        strata_ctx_free(ctx);
        if (s == STRATA_OK)
            break;
    }
    assert_true(k > 3);
    {
        char *text = tu_read_file(csv_out, NULL);
        assert_non_null(text);
        assert_string_equal(text, "id,grp,x\n1,a,0.5\n2,b,\n3,a,1.5\n");
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import__diabetes_counts_types_values),
        cmocka_unit_test(test_import__flchain_types_na_levels),
        cmocka_unit_test(test_roundtrip__csv_h5_csv_h5_is_exact),
        cmocka_unit_test(test_roundtrip__awkward_floats_and_labels),
        cmocka_unit_test(test_rfc4180__bom_crlf_quotes_multiline),
        cmocka_unit_test(test_errors__bad_rows_name_editor_line_and_column),
        cmocka_unit_test(test_rfc4180__cr_lf_and_lone_cr_across_chunks),
        cmocka_unit_test(test_errors__roles_io_and_cli_exit_codes),
        cmocka_unit_test(test_skip_bad_rows__counts_lines_and_clean_inference),
        cmocka_unit_test(test_infer__narrowest_integer_and_boundaries),
        cmocka_unit_test(test_infer__floats_read_exactly_as_strtod),
        cmocka_unit_test(test_infer__text_after_many_numbers_gets_all_levels),
        cmocka_unit_test(test_na_tokens__configurable),
        cmocka_unit_test(test_cli__tab_delimiter_and_empty_only_na),
        cmocka_unit_test(test_recode__values_replaced_before_inference),
        cmocka_unit_test(test_mapping__yaml_roles_types_outcomes_na),
        cmocka_unit_test(test_export__selected_columns_na_and_unknown_column),
        cmocka_unit_test(test_stream__memory_bounded_by_chunk_and_block),
        cmocka_unit_test(test_fault__every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
