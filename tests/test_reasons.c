/* labels: unit slow */
/* tests/test_reasons.c — the reasons on the default job's intervention list
 * (data/specs/default.yaml): text a clinician reads ("age 87", "3 emergency
 * admissions in the last 12 months", "severe frailty ..."), never a design
 * column, differing across patients; and for patients across the list the
 * top reason is the variable a hand computation from the saved model's
 * coefficients ranks first (a spline's basis and half of each interaction
 * summed per variable, relative to the population's mean design row), with
 * the same contribution strata_reason_codes gives. */
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
#include <unistd.h>

#define NCOL 7
static const char *const COLS[NCOL] = {"age", "sex", "imd_decile", "ltc_count", "efi_deficits",
                                       "prior_emergency_12m", "ae_attendances_12m"};

typedef struct listed {
    long long id;
    char reason[3][128];
} listed;

static const char *g_dir;
static listed *g_list;
static size_t g_n;

static int setup(void **state)
{
    char *out = NULL, *text, *save = NULL, *line, path[4096];
    int rc;
    (void)state;
    g_dir = tu_tmp("default");
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
    rc = tu_run_cli(&out, "run '%s' --out '%s/out' --quiet", tu_src("data/specs/default.yaml"), g_dir);
    if (rc != 0)
        print_error("%s\n", out ? out : "");
    free(out);
    if (rc != 0)
        return -1;
    snprintf(path, sizeof path, "%s/out/intervention_list.csv", g_dir);
    text = tu_read_file(path, NULL);
    if (!text)
        return -1;
    line = strtok_r(text, "\r\n", &save);
    if (!line || !strstr(line, ",reason_1,reason_2,reason_3")) {
        free(text);
        return -1;
    }
    g_list = calloc(10000, sizeof *g_list);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL && g_n < 10000) {
        char *f[32];
        size_t nf = tu_csv_split(line, f, 32);
        if (nf != 15)
            continue;
        g_list[g_n].id = atoll(f[1]);
        for (int q = 0; q < 3; q++)
            snprintf(g_list[g_n].reason[q], sizeof g_list[g_n].reason[q], "%s", f[12 + q]);
        g_n++;
    }
    free(text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_list);
    return 0;
}

/* A reason reads as one of the clinical phrases of the default model. */
static int readable(const char *r)
{
    static const char *const phrases[] = {"emergency admission", "A&E attendance", "long-term condition",
                                          "eFI deficits", "lives in IMD decile", "male", "female"};
    if (!strncmp(r, "age ", 4))
        return 1;
    for (size_t k = 0; k < sizeof phrases / sizeof *phrases; k++)
        if (strstr(r, phrases[k]))
            return 1;
    return 0;
}

static void test_reasons__readable_and_differ_across_patients(void **state)
{
    size_t n_first = 0, n_triples = 0;
    char (*first)[128] = calloc(g_n, sizeof *first);
    (void)state;
    assert_true(g_n > 2000); /* 5 per 1,000 of 541,595 */
    for (size_t i = 0; i < g_n; i++) {
        int seen = 0, dup = 0, same = 0;
        for (int q = 0; q < 3; q++) {
            const char *r = g_list[i].reason[q];
            if (!*r)
                continue;
            if (strchr(r, '(') && !strstr(r, "eFI"))
                fail_msg("patient %lld: reason \"%s\" looks like a design column", g_list[i].id, r);
            if (strstr(r, "rcs") || strchr(r, '\'') || strchr(r, ':') || strchr(r, '_'))
                fail_msg("patient %lld: reason \"%s\" is a model column", g_list[i].id, r);
            if (!readable(r))
                fail_msg("patient %lld: reason \"%s\" is not a clinical phrase", g_list[i].id, r);
            seen++;
        }
        assert_true(seen >= 1);
        /* one reason per variable: no two reasons about the same thing */
        dup = (strstr(g_list[i].reason[0], "age ") == g_list[i].reason[0] &&
               strstr(g_list[i].reason[1], "age ") == g_list[i].reason[1]);
        assert_false(dup);
        for (size_t k = 0; k < n_first && !dup; k++)
            dup = !strcmp(first[k], g_list[i].reason[0]);
        if (!dup)
            snprintf(first[n_first++], 128, "%s", g_list[i].reason[0]);
        for (size_t k = 0; k < i && !same; k++)
            same = !memcmp(g_list[k].reason, g_list[i].reason, sizeof g_list[i].reason);
        n_triples += !same;
    }
    print_message("%zu listed, %zu distinct first reasons, %zu distinct sets of three\n", g_n,
                  n_first, n_triples);
    assert_true(n_first >= 20);
    assert_true(n_triples >= g_n / 4);
    free(first);
}

/* The column a design term's part is about: longest COLS name it holds. */
static int part_col(const char *part, size_t len)
{
    int best = -1;
    size_t bl = 0;
    for (int c = 0; c < NCOL; c++) {
        const char *hit;
        size_t cl = strlen(COLS[c]);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)len, part);
        hit = strstr(buf, COLS[c]);
        if (hit && cl > bl && (hit == buf || hit[-1] == '(') &&
            (hit[cl] == '\0' || hit[cl] == ',' || (c == 1 && (hit[cl] == 'M' || hit[cl] == 'F'))) )
            best = c, bl = cl;
    }
    return best;
}

static void test_reasons__top_reason_matches_hand_computation(void **state)
{
    char path[4096];
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *co = NULL;
    size_t p, N, jid, nb = 8192, nv;
    double *xbar, *X, *beta, *share;
    int64_t *ids;
    /* the top of the list, its last patient, and the first whose top reason is
     * each other variable */
    static const char *const kinds[] = {"age ", "frailty", "long-term", "A&E"};
    size_t picks[6] = {0, g_n - 1, 0, 0, 0, 0}, npick = 2;
    int (*cols)[4];
    int *ncols;
    (void)state;
    snprintf(path, sizeof path, "%s/out/model.h5", g_dir);
    assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
    snprintf(path, sizeof path, "%s/out/cohort.h5", g_dir);
    assert_status(ctx, strata_cohort_open(ctx, path, &co), STRATA_OK);
    snprintf(path, sizeof path, "%s/out/unscored.csv", g_dir);
    assert_int_not_equal(access(path, F_OK), 0); /* every patient scored: the mean is over all */
    p = strata_model_nterms(m);
    N = strata_cohort_nrows(co);
    nv = strata_model_nvars(m);
    assert_int_equal(nv, NCOL);
    xbar = calloc(p, sizeof *xbar);
    beta = calloc(p, sizeof *beta);
    share = calloc(p * nv, sizeof *share);
    X = malloc(nb * p * sizeof *X);
    ids = malloc(N * sizeof *ids);
    cols = calloc(p, sizeof *cols);
    ncols = calloc(p, sizeof *ncols);
    /* by hand from the term names: "rcs(age, 4)age''" is age, "sexF:age" is sex and age */
    for (size_t j = 0; j < p; j++) {
        const char *name = strata_model_term(m, j), *s = name;
        strata_coef c;
        strata_model_coef(m, j, &c);
        beta[j] = c.aliased ? 0 : c.estimate; /* R's NA: sexM:age beside sexF:age */
        if (!strcmp(name, "(Intercept)"))
            continue;
        while (*s) {
            size_t len = strcspn(s, ":");
            int col = part_col(s, len);
            if (col < 0)
                fail_msg("term %s: part %.*s names no column", name, (int)len, s);
            cols[j][ncols[j]++] = col;
            s += len + (s[len] == ':');
        }
    }
    /* the model's own variable numbering, checked against the hand mapping */
    for (size_t v = 0; v < nv; v++)
        assert_string_equal(strata_model_var(m, v, NULL), COLS[v]);
    for (size_t j = 0; j < p; j++) {
        size_t vars[8], n = strata_model_term_vars(m, j, vars, 8);
        assert_int_equal(n, (size_t)ncols[j]);
        for (size_t q = 0; q < n; q++) {
            assert_int_equal(vars[q], (size_t)cols[j][q]);
            share[j * nv + vars[q]] = 1.0 / (double)n;
        }
    }
    assert_status(ctx, strata_cohort_find(ctx, co, "patient_id", &jid), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i64(ctx, co, jid, 0, N, ids), STRATA_OK);
    for (size_t r0 = 0; r0 < N; r0 += nb) {
        size_t b = N - r0 < nb ? N - r0 : nb;
        assert_status(ctx, strata_model_design(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, r0, b, X), STRATA_OK);
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < p; j++)
                xbar[j] += X[i * p + j];
    }
    for (size_t j = 0; j < p; j++)
        xbar[j] /= (double)N;
    for (size_t q = 0; q < sizeof kinds / sizeof *kinds; q++)
        for (size_t i = 0; i < g_n; i++)
            if (strstr(g_list[i].reason[0], kinds[q])) {
                picks[npick++] = i;
                break;
            }
    assert_true(npick >= 5); /* at least three other variables lead somewhere on the list */
    for (size_t k = 0; k < npick; k++) {
        const listed *L = &g_list[picks[k]];
        size_t row = N;
        double contrib[NCOL] = {0}, x[64], value, lib_c[3];
        int32_t lib_t[3];
        int top = -1;
        char want[64];
        size_t jc;
        strata_reason_model rm = {0};
        for (size_t i = 0; i < N && row == N; i++)
            if (ids[i] == L->id)
                row = i;
        assert_true(row < N);
        assert_status(ctx, strata_model_design(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, row, 1, x), STRATA_OK);
        for (size_t j = 0; j < p; j++)
            for (int q = 0; q < ncols[j]; q++)
                contrib[cols[j][q]] += beta[j] * (x[j] - xbar[j]) / ncols[j];
        for (int c = 0; c < NCOL; c++)
            if (contrib[c] > 0 && (top < 0 || contrib[c] > contrib[top]))
                top = c;
        assert_true(top >= 0);
        /* the library's contribution for the same row equals the hand sum */
        rm.p = p, rm.beta = beta, rm.xbar = xbar, rm.X = x, rm.n_groups = nv, rm.share = share;
        assert_status(ctx, strata_reason_codes(ctx, &rm, 1, NULL, 3, lib_t, lib_c), STRATA_OK);
        assert_int_equal(lib_t[0], top);
        assert_rel_close(lib_c[0], contrib[top], 1e-9, "top contribution");
        /* and the list's first reason speaks of that variable with the patient's value */
        assert_status(ctx, strata_cohort_find(ctx, co, COLS[top], &jc), STRATA_OK);
        assert_status(ctx, strata_cohort_read_f64(ctx, co, jc, row, 1, &value), STRATA_OK);
        switch (top) {
        case 0: snprintf(want, sizeof want, "age %d", (int)value); break;
        case 1: snprintf(want, sizeof want, "%s", value == 1 ? "male" : "female"); break;
        case 2: snprintf(want, sizeof want, "IMD decile %d", (int)value); break;
        case 3: snprintf(want, sizeof want, "%d long-term condition", (int)value); break;
        case 4: snprintf(want, sizeof want, "(%d of 36 eFI deficits)", (int)value); break;
        case 5: snprintf(want, sizeof want, "%d emergency admission", (int)value); break;
        default: snprintf(want, sizeof want, "%d A&E attendance", (int)value); break;
        }
        print_message("rank %zu (patient %lld): top %s %+.4f -> \"%s\"\n", picks[k] + 1, L->id,
                      COLS[top], contrib[top], L->reason[0]);
        assert_contains(L->reason[0], want);
    }
    free(xbar), free(beta), free(share), free(X), free(ids), free(cols), free(ncols);
    strata_cohort_close(co);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reasons__readable_and_differ_across_patients),
        cmocka_unit_test(test_reasons__top_reason_matches_hand_computation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
