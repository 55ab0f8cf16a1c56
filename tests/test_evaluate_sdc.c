/* labels: unit */
/* tests/test_evaluate_sdc.c — disclosure control of every file strata_eval_write
 * writes: on a population with tiny subgroup levels (3, 12 and 40 people), no
 * CSV cell or JSON number in a count column is 1-7 or off the multiple of 5,
 * values that would give a hidden count back are hidden, and disclosure = 0
 * restores the raw values; the in-memory report stays unrounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "internal.h"
#include "strata/evaluate.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3000
#define MAXC 64

/* site: rows 0-2 "tiny" (1 event), 3-14 "small" (2 events), 15-54 "mid" (3
 * events), the rest "big"; sex alternates. Outcome drawn from p elsewhere. */
typedef struct fixture {
    double y[N], p[N];
    int32_t site[N], sex[N];
    strata_eval_by by[2];
} fixture;

static const char *SITES[4] = {"tiny", "small", "mid", "big"};
static const char *SEXES[2] = {"F", "M"};

static void fixture_make(fixture *f)
{
    uint64_t s = 12345;
    for (size_t i = 0; i < N; i++) {
        double u, lp;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(s >> 11) / 9007199254740992.0;
        lp = -2.0 + 2.5 * (u - 0.5);
        f->p[i] = 1.0 / (1.0 + exp(-lp));
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        f->y[i] = (double)(s >> 11) / 9007199254740992.0 < f->p[i] ? 1.0 : 0.0;
        f->site[i] = i < 3 ? 0 : i < 15 ? 1 : i < 55 ? 2 : 3;
        f->sex[i] = (int32_t)(i % 2);
        if (i < 55) /* exact event counts in the small levels */
            f->y[i] = (i == 0 || i == 3 || i == 4 || i == 15 || i == 16 || i == 17) ? 1.0 : 0.0;
    }
    f->by[0] = (strata_eval_by){"site", f->site, 4, SITES};
    f->by[1] = (strata_eval_by){"sex", f->sex, 2, SEXES};
}

static int is_count_col(const char *name, int gaussian)
{
    return !strcmp(name, "n_rows") || !strcmp(name, "n") || !strcmp(name, "n_events") ||
           !strcmp(name, "n_flagged") || (!gaussian && !strcmp(name, "observed"));
}

static int bad_count(double v)
{
    return (v > 0 && v < 7.5) || fabs(fmod(v, 5.0)) > 1e-9;
}

/* Splits one CRLF line into fields (no quoted fields in these files). */
static size_t split(char *line, char **f)
{
    size_t n = 0;
    char *p = line;
    f[n++] = p;
    for (; *p; p++)
        if (*p == ',' && n < MAXC) {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* Parses dir/name; fails on any visible count cell in 1-7 or not a multiple
 * of 5; returns the number of count cells checked (visible + hidden). */
static size_t scan_csv(const char *dir, const char *name, int gaussian)
{
    char path[512], *txt, *line, *save = NULL, *hdr[MAXC], *fld[MAXC];
    size_t nh, checked = 0, row = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    txt = tu_read_file(path, NULL);
    assert_non_null(txt);
    line = strtok_r(txt, "\r\n", &save);
    assert_non_null(line);
    nh = split(line, hdr);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        size_t nf = split(line, fld);
        row++;
        assert_int_equal(nf, nh);
        for (size_t j = 0; j < nf; j++) {
            char *end;
            double v;
            if (!is_count_col(hdr[j], gaussian))
                continue;
            checked++;
            if (!strcmp(fld[j], "*") || !*fld[j])
                continue;
            v = strtod(fld[j], &end);
            assert_true(*end == '\0');
            if (bad_count(v))
                fail_msg("%s row %zu column %s shows count %s", name, row, hdr[j], fld[j]);
        }
    }
    free(txt);
    return checked;
}

/* The summary row "by,level,..." split into fields (in a static buffer). */
static size_t summary_row(const char *dir, const char *by, const char *level, char **hdr,
                          char **fld)
{
    static char buf[1 << 16], hbuf[4096];
    char path[512], *txt, *line, *save = NULL, want[128];
    size_t nh = 0, nf = 0;
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    txt = tu_read_file(path, NULL);
    assert_non_null(txt);
    line = strtok_r(txt, "\r\n", &save);
    snprintf(hbuf, sizeof hbuf, "%s", line);
    nh = split(hbuf, hdr);
    snprintf(want, sizeof want, "%s,%s,", by, level);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
        if (strncmp(line, want, strlen(want)) == 0) {
            snprintf(buf, sizeof buf, "%s", line);
            nf = split(buf, fld);
        }
    free(txt);
    assert_int_equal(nf, nh);
    return nf;
}

static const char *cell(char **hdr, char **fld, size_t n, const char *col)
{
    for (size_t j = 0; j < n; j++)
        if (!strcmp(hdr[j], col))
            return fld[j];
    fail_msg("no column %s", col);
    return "";
}

static void check_json_counts(const json_t *m)
{
    static const char *const top[] = {"n_rows", "n", "observed", "n_events", NULL};
    static const struct { const char *arr, *key; } sub[] = {
        {"risk_groups", "n"}, {"risk_groups", "observed"}, {"yield", "n_flagged"},
        {"yield", "observed"}, {"calibration_curve", "n"}};
    for (size_t k = 0; top[k]; k++) {
        const json_t *v = json_object_get(m, top[k]);
        assert_non_null(v);
        if (!json_is_null(v) && bad_count(json_number_value(v)))
            fail_msg("JSON %s = %g", top[k], json_number_value(v));
    }
    for (size_t k = 0; k < sizeof sub / sizeof *sub; k++) {
        const json_t *a = json_object_get(m, sub[k].arr);
        for (size_t i = 0; i < json_array_size(a); i++) {
            const json_t *v = json_object_get(json_array_get(a, i), sub[k].key);
            assert_non_null(v);
            if (!json_is_null(v) && bad_count(json_number_value(v)))
                fail_msg("JSON %s[%zu].%s = %g", sub[k].arr, i, sub[k].key,
                         json_number_value(v));
        }
    }
}

static const json_t *json_group(const json_t *root, const char *by, const char *level)
{
    const json_t *g = json_object_get(root, "groups");
    for (size_t i = 0; i < json_array_size(g); i++) {
        const json_t *e = json_array_get(g, i);
        if (!strcmp(json_string_value(json_object_get(e, "by")), by) &&
            !strcmp(json_string_value(json_object_get(e, "level")), level))
            return e;
    }
    fail_msg("no group %s=%s in JSON", by, level);
    return NULL;
}

static const strata_eval_metrics *group_m(const strata_eval_report *r, const char *by,
                                          const char *level)
{
    for (size_t g = 0; g < r->n_groups; g++)
        if (!strcmp(r->groups[g].by, by) && !strcmp(r->groups[g].level, level))
            return &r->groups[g].m;
    static const strata_eval_metrics none;
    fail_msg("no group %s=%s", by, level);
    return &none;
}

/* Evaluates the fixture (disclosure on or off) and writes it into dir. */
static strata_eval_report *evaluate_into(strata_ctx *ctx, int disclosure, const char *dir)
{
    static fixture f;
    strata_eval_params par;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    fixture_make(&f);
    strata_eval_params_init(&par);
    assert_int_equal(par.disclosure, 1);
    par.disclosure = disclosure;
    in = (strata_eval_input){N, f.y, f.p, NULL, 2, f.by};
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    assert_status(ctx, strata_eval_write(ctx, r, NULL, NULL, dir), STRATA_OK);
    return r;
}

static const char *const FILES[] = {"summary.csv", "risk_groups.csv", "yield.csv",
                                    "net_benefit.csv", "calibration_curve.csv"};

/* Every written count is 0, hidden or a multiple of 5 >= 10, in every CSV and
 * in the JSON; the tiny level shows nothing, the 40-person level with 3 events
 * shows its n but not E, O/E, C, sensitivity or net benefit; the report in
 * memory keeps the raw numbers. */
static void test_eval_sdc__no_written_count_1_to_7(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *dir = tu_tmp("eval_sdc");
    strata_eval_report *r = evaluate_into(ctx, 1, dir);
    char path[512], *hdr[MAXC], *fld[MAXC], want[64];
    size_t nf, checked = 0;
    json_t *j;
    json_error_t err;
    const json_t *g;
    (void)state;
    /* in memory: raw */
    assert_true(group_m(r, "site", "tiny")->n == 3.0);
    assert_true(group_m(r, "site", "tiny")->observed == 1.0);
    assert_true(group_m(r, "site", "mid")->observed == 3.0);
    for (size_t k = 0; k < sizeof FILES / sizeof *FILES; k++)
        checked += scan_csv(dir, FILES[k], 0);
    assert_true(checked > 1000);
    /* tiny (3 people): every metric hidden */
    nf = summary_row(dir, "site", "tiny", hdr, fld);
    for (size_t c = 2; c < nf - 5; c++) /* all but the flags */
        if (strcmp(fld[c], "*") != 0)
            fail_msg("site=tiny %s = '%s' visible", hdr[c], fld[c]);
    /* small (12 people): the only other small member of the site partition: its n
     * is withheld by complementary suppression — that cell and what gives it
     * back, not the whole row (issue 15, item 2): the calibration fits over 12
     * people stay; its 2 events hide the C-statistic */
    nf = summary_row(dir, "site", "small", hdr, fld);
    assert_string_equal(cell(hdr, fld, nf, "n"), "*");
    assert_string_equal(cell(hdr, fld, nf, "c"), "*");
    assert_string_not_equal(cell(hdr, fld, nf, "slope"), "*");
    assert_string_not_equal(cell(hdr, fld, nf, "citl"), "*");
    /* mid (40 people, 3 events): n rounded, the event-derived values hidden */
    nf = summary_row(dir, "site", "mid", hdr, fld);
    assert_string_equal(cell(hdr, fld, nf, "n"), "40");
    assert_string_equal(cell(hdr, fld, nf, "observed"), "*");
    assert_string_equal(cell(hdr, fld, nf, "n_events"), "*");
    assert_string_equal(cell(hdr, fld, nf, "expected"), "*");
    assert_string_equal(cell(hdr, fld, nf, "oe"), "*");
    assert_string_equal(cell(hdr, fld, nf, "oe_hi"), "*");
    assert_string_equal(cell(hdr, fld, nf, "c"), "*");
    assert_string_equal(cell(hdr, fld, nf, "brier_scaled"), "*");
    assert_string_equal(cell(hdr, fld, nf, "null_deviance"), "*");
    assert_string_not_equal(cell(hdr, fld, nf, "slope"), "*"); /* regression output: exempt */
    /* overall: rounded counts, exempt ratios unrounded */
    nf = summary_row(dir, "overall", "all", hdr, fld);
    snprintf(want, sizeof want, "%.0f", floor(r->overall.observed / 5.0 + 0.5) * 5.0);
    assert_string_equal(cell(hdr, fld, nf, "observed"), want);
    assert_rel_close(strtod(cell(hdr, fld, nf, "c"), NULL), r->overall.c, 1e-9, "overall c");
    /* O/E from the published O and E (so O = (O/E) E gives back only the published O) */
    assert_rel_close(strtod(cell(hdr, fld, nf, "oe"), NULL),
                     strtod(cell(hdr, fld, nf, "observed"), NULL) /
                         strtod(cell(hdr, fld, nf, "expected"), NULL),
                     1e-9, "overall oe");
    assert_abs_close(fmod(strtod(cell(hdr, fld, nf, "expected"), NULL), 5), 0, 0,
                     "expected rounded like a count");
    /* JSON carries the same published numbers */
    snprintf(path, sizeof path, "%s/evaluate.json", dir);
    j = json_load_file(path, 0, &err);
    assert_non_null(j);
    check_json_counts(json_object_get(j, "overall"));
    for (size_t i = 0; i < json_array_size(json_object_get(j, "groups")); i++)
        check_json_counts(json_array_get(json_object_get(j, "groups"), i));
    g = json_group(j, "site", "tiny");
    assert_true(json_is_null(json_object_get(g, "n")));
    assert_true(json_is_null(json_object_get(g, "c")));
    assert_true(json_is_null(json_object_get(g, "slope")));
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(g, "risk_groups"), 0),
                                             "p_min")));
    g = json_group(j, "site", "mid");
    assert_true(json_number_value(json_object_get(g, "n")) == 40.0);
    assert_true(json_is_null(json_object_get(g, "oe")));
    for (size_t i = 0; i < json_array_size(json_object_get(g, "yield")); i++)
        assert_true(json_is_null(
            json_object_get(json_array_get(json_object_get(g, "yield"), i), "sensitivity")));
    for (size_t i = 0; i < json_array_size(json_object_get(g, "net_benefit")); i++)
        assert_true(json_is_null(
            json_object_get(json_array_get(json_object_get(g, "net_benefit"), i), "nb_all")));
    /* the JSON holds exactly the published (printed) value, nothing finer */
    nf = summary_row(dir, "overall", "all", hdr, fld);
    assert_true(json_real_value(json_object_get(json_object_get(j, "overall"), "c")) ==
                strtod(cell(hdr, fld, nf, "c"), NULL));
    assert_abs_close(json_real_value(json_object_get(json_object_get(j, "overall"), "c")),
                     r->overall.c, 5e-11, "c as published to 10 decimals");
    json_decref(j);
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

/* disclosure = 0 writes the raw values (national level / secure environment). */
static void test_eval_sdc__disabled_writes_raw_values(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *dir = tu_tmp("eval_sdc_off");
    strata_eval_report *r = evaluate_into(ctx, 0, dir);
    char path[512], *hdr[MAXC], *fld[MAXC], want[64];
    size_t nf;
    json_t *j;
    json_error_t err;
    (void)state;
    nf = summary_row(dir, "site", "tiny", hdr, fld);
    assert_string_equal(cell(hdr, fld, nf, "n"), "3");
    assert_string_equal(cell(hdr, fld, nf, "observed"), "1");
    nf = summary_row(dir, "site", "mid", hdr, fld);
    assert_string_equal(cell(hdr, fld, nf, "observed"), "3");
    snprintf(want, sizeof want, "%.10f", group_m(r, "site", "mid")->oe);
    assert_string_equal(cell(hdr, fld, nf, "oe"), want);
    nf = summary_row(dir, "overall", "all", hdr, fld);
    snprintf(want, sizeof want, "%.0f", r->overall.observed);
    assert_string_equal(cell(hdr, fld, nf, "observed"), want);
    snprintf(path, sizeof path, "%s/evaluate.json", dir);
    j = json_load_file(path, 0, &err);
    assert_non_null(j);
    assert_true(json_number_value(json_object_get(json_group(j, "site", "tiny"), "n")) == 3.0);
    assert_true(json_is_false(json_object_get(json_object_get(j, "params"), "disclosure")));
    json_decref(j);
    /* bad parameters are refused */
    r->params.sdc_round_to = -1;
    assert_status(ctx, strata_eval_write(ctx, r, NULL, NULL, dir), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "sdc_round_to");
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_sdc__no_written_count_1_to_7),
        cmocka_unit_test(test_eval_sdc__disabled_writes_raw_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
