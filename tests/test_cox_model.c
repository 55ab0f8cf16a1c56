/* labels: unit golden cli */
/* tests/test_cox_model.c — the Cox model on a cohort (strata/cox.h, engine/model/
 * model_cox*.c) and in the CLI: colon written as a cohort (factor rx, strata(extent))
 * fits to coxph's coefficients and, with cluster(), its robust SEs; survival at the
 * horizon from scoring matches survfit(fit, newdata); save -> load -> score gives
 * identical bytes; `strata fit --family cox`, `coef`, `score --horizon` on a synth
 * cohort, and their usage errors; `strata run` with family cox and a horizon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"
#include "model_file.h"
#include "glm_testdata.c"
#include "strata/cox.h"

#include "cox_testdata.c"

/* colon as a cohort: rx and extent categorical (levels as make_cox.R), cl numeric. */
static const char *colon_cohort(strata_ctx *ctx, design *d)
{
    static const char *const rx_levels[3] = {"Lev", "Lev+5FU", "Obs"};
    static const char *const ext_levels[4] = {"1", "2", "3", "4"};
    int32_t *rx, *ext;
    double *cl;
    td_mem cols[9];
    design_load("colon_strata", d);
    rx = malloc(d->n * sizeof *rx);
    ext = malloc(d->n * sizeof *ext);
    cl = malloc(d->n * sizeof *cl);
    for (size_t i = 0; i < d->n; i++) {
        rx[i] = d->X[i] == 1 ? 1 : d->X[d->n + i] == 1 ? 2 : 0;
        ext[i] = d->stratum[i];
        cl[i] = (double)((i * 7919) % 97);
    }
    memset(cols, 0, sizeof cols);
    cols[0].name = "time", cols[0].num = d->time;
    cols[1].name = "status", cols[1].num = d->status;
    cols[2].name = "rx", cols[2].codes = rx, cols[2].levels = rx_levels, cols[2].n_levels = 3;
    cols[3].name = "sex", cols[3].num = d->X + 2 * d->n;
    cols[4].name = "age", cols[4].num = d->X + 3 * d->n;
    cols[5].name = "nodes", cols[5].num = d->X + 4 * d->n;
    cols[6].name = "extent", cols[6].codes = ext, cols[6].levels = ext_levels, cols[6].n_levels = 4;
    cols[7].name = "cl", cols[7].num = cl;
    assert_status(ctx, td_write_cohort(ctx, tu_tmp("colon.h5"), cols, 8, d->n), STRATA_OK);
    free(rx);
    free(ext);
    free(cl);
    return tu_tmp("colon.h5");
}

typedef struct api_gold {
    const strata_cox *m;
    size_t k;
    int robust;
} api_gold;

static void check_api_coef(char **f, int nf, void *ud)
{
    api_gold *g = ud;
    strata_cox_coef c;
    size_t j = g->k++;
    assert_true(nf >= 4);
    assert_string_equal(strata_cox_term(g->m, j), f[1]);
    strata_cox_coef_row(g->m, j, 0.95, &c);
    assert_rel_close(c.estimate, atof(f[2]), 1e-6, "beta %s", f[1]);
    assert_rel_close(c.std_error, atof(f[3]), 1e-6, "%sse %s", g->robust ? "robust " : "", f[1]);
    assert_int_equal(c.robust, g->robust);
}

/* Survival at the horizon of design rows 1..5 from scoring vs survfit(fit, newdata). */
static void check_surv(char **f, int nf, void *ud)
{
    const double *risk = ud;
    size_t i = (size_t)atoi(f[1]) - 1;
    assert_int_equal(nf, 4);
    assert_rel_close(1 - risk[i], atof(f[3]), 1e-8, "survival of row %zu at %s", i + 1, f[2]);
}

static void test_cox_model__colon_cohort_matches_coxph_and_survfit(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    strata_cox *m = NULL;
    strata_cox_params p;
    strata_cox_summary s;
    design d;
    api_gold g = {NULL, 0, 0};
    double h = 1000, *lp, *risk;
    (void)state;
    assert_status(ctx, strata_cohort_open(ctx, colon_cohort(ctx, &d), &c), STRATA_OK);
    strata_cox_params_init(&p);
    p.formula = "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)";
    assert_status(ctx, strata_cox_fit(ctx, c, &p, &m), STRATA_OK);
    g.m = m;
    assert_int_equal(golden_rows("cox_coef.csv", "colon_strata", check_api_coef, &g), 5);
    strata_cox_summary_get(m, &s);
    assert_int_equal(s.n_strata, 4);
    assert_int_equal(s.n_used, d.n);
    lp = malloc(d.n * sizeof *lp);
    risk = malloc(d.n * sizeof *risk);
    assert_status(ctx, strata_cox_score(ctx, m, c, STRATA_UNSEEN_ERROR, &h, 1, lp, risk), STRATA_OK);
    assert_int_equal(golden_rows("cox_surv.csv", "colon_strata", check_surv, risk), 5);
    strata_cox_free(ctx, m);
    /* cluster(cl): coxph's robust SEs */
    p.formula = "Surv(time, status) ~ rx + sex + age + nodes + strata(extent) + cluster(cl)";
    assert_status(ctx, strata_cox_fit(ctx, c, &p, &m), STRATA_OK);
    g.m = m;
    g.k = 0;
    g.robust = 1;
    assert_int_equal(golden_rows("cox_robust.csv", "colon_strata_cluster", check_api_coef, &g), 5);
    strata_cox_free(ctx, m);
    free(lp);
    free(risk);
    design_free(&d);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_cox_model__save_load_score_identical_bytes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_cohort *c = NULL;
    strata_cox *m = NULL, *l = NULL;
    strata_cox_params p;
    design d;
    double h[2] = {365, 1826}, *lp1, *lp2, *r1, *r2;
    (void)state;
    assert_status(ctx, strata_cohort_open(ctx, colon_cohort(ctx, &d), &c), STRATA_OK);
    strata_cox_params_init(&p);
    p.formula = "Surv(time, status) ~ rx + rcs(age, 3) + nodes + strata(extent) + cluster(cl)";
    p.ties = STRATA_COX_BRESLOW;
    assert_status(ctx, strata_cox_fit(ctx, c, &p, &m), STRATA_OK);
    assert_status(ctx, strata_cox_save(ctx, m, tu_tmp("cox.h5")), STRATA_OK);
    assert_true(strata_cox_is_model_file(tu_tmp("cox.h5")));
    assert_false(strata_cox_is_model_file(tu_tmp("colon.h5")));
    assert_status(ctx, strata_cox_load(ctx, tu_tmp("cox.h5"), &l), STRATA_OK);
    { /* the model stage dispatches on the record's kind: a Cox file is no GLM, a broken item names itself */
        strata_model *g = NULL;
        strata_record r, w;
        strata_cox *x = NULL;
        assert_status(ctx, strata_model_load(ctx, tu_tmp("cox.h5"), &g), STRATA_EFORMAT);
        assert_contains(strata_ctx_errmsg(ctx), "strata_cox_load");
        assert_null(g);
        strata_record_init(&r), strata_record_init(&w);
        assert_status(ctx, strata_model_file_read(ctx, tu_tmp("cox.h5"), &r), STRATA_OK);
        assert_string_equal(strata_rec_text(&r, STRATA_REC_KIND), "cox");
        assert_non_null(strata_rec_find(&r, "/baseline/cumhaz", STRATA_REC_F64));
        for (size_t i = 0; i < r.n; i++) {
            const strata_rec_item *it = &r.items[i];
            if (it->type == STRATA_REC_TEXT && strcmp(it->name, "schema") && strcmp(it->name, "schema_version"))
                assert_status(ctx, strata_rec_put_text(ctx, &w, it->name, it->text), STRATA_OK);
            else if (it->type == STRATA_REC_STRINGS)
                assert_status(ctx, strata_rec_put_strings(ctx, &w, it->name, (const char *const *)it->strings, it->dims[0]),
                              STRATA_OK);
            else if (it->type == STRATA_REC_F64 && strcmp(it->name, "/baseline/cumhaz"))
                memcpy(strata_rec_put_f64(ctx, &w, it->name, it->dims[0], it->rank == 2 ? it->dims[1] : 0), it->f64,
                       strata_rec_count(it) * sizeof(double));
            else if (it->type == STRATA_REC_INT)
                memcpy(strata_rec_put_int(ctx, &w, it->name, it->store, it->dims[0], it->rank == 2 ? it->dims[1] : 0),
                       it->i64, strata_rec_count(it) * sizeof(int64_t));
        }
        assert_status(ctx, strata_model_file_write(ctx, &w, tu_tmp("nocumhaz.h5")), STRATA_OK);
        assert_status(ctx, strata_cox_load(ctx, tu_tmp("nocumhaz.h5"), &x), STRATA_EFORMAT);
        assert_contains(strata_ctx_errmsg(ctx), "/baseline/cumhaz");
        assert_null(x);
        strata_record_free(ctx, &r), strata_record_free(ctx, &w);
    }
    lp1 = malloc(d.n * sizeof *lp1), lp2 = malloc(d.n * sizeof *lp2);
    r1 = malloc(2 * d.n * sizeof *r1), r2 = malloc(2 * d.n * sizeof *r2);
    assert_status(ctx, strata_cox_score(ctx, m, c, STRATA_UNSEEN_ERROR, h, 2, lp1, r1), STRATA_OK);
    assert_status(ctx, strata_cox_score(ctx, l, c, STRATA_UNSEEN_ERROR, h, 2, lp2, r2), STRATA_OK);
    assert_memory_equal(lp1, lp2, d.n * sizeof *lp1);
    assert_memory_equal(r1, r2, 2 * d.n * sizeof *r1);
    for (size_t j = 0; j < strata_cox_nterms(m); j++) {
        strata_cox_coef a, b;
        strata_cox_coef_row(m, j, 0.95, &a);
        strata_cox_coef_row(l, j, 0.95, &b);
        assert_memory_equal(&a, &b, sizeof a);
        assert_string_equal(strata_cox_term(m, j), strata_cox_term(l, j));
    }
    assert_status(ctx, strata_cox_score_write(ctx, m, c, STRATA_UNSEEN_ERROR, h, 2, tu_tmp("s1.csv")), STRATA_OK);
    assert_status(ctx, strata_cox_score_write(ctx, l, c, STRATA_UNSEEN_ERROR, h, 2, tu_tmp("s2.csv")), STRATA_OK);
    assert_true(tu_files_equal(tu_tmp("s1.csv"), tu_tmp("s2.csv")));
    strata_cox_free(ctx, m);
    strata_cox_free(ctx, l);
    free(lp1), free(lp2), free(r1), free(r2);
    design_free(&d);
    strata_cohort_close(c);
    strata_ctx_free(ctx);
}

static void test_cox_cli__fit_coef_score_horizon_on_synth(void **state)
{
    char *out = NULL;
    const char *f = "Surv(time_to_emergency_days, emergency_event) ~ age + sex + imd_decile + strata(pcn)";
    (void)state;
    assert_int_equal(tu_run_cli(NULL, "synth --pcn U60510 --patients 5000 --seed 7 --quiet --out %s",
                                tu_tmp("syn.h5")), 0);
    assert_int_equal(tu_run_cli(&out, "fit %s --family cox --formula '%s' --out %s", tu_tmp("syn.h5"), f,
                                tu_tmp("sm.h5")), 0);
    assert_contains(out, "Cox PH (Efron ties)");
    free(out);
    assert_int_equal(tu_run_cli(&out, "coef %s --csv", tu_tmp("sm.h5")), 0);
    assert_contains(out, "term,estimate,std_error,statistic,p_value,hazard_ratio,hr_conf_low,hr_conf_high");
    assert_contains(out, "\nage,");
    free(out);
    assert_int_equal(tu_run_cli(NULL, "score %s %s --horizon 180,365 --out %s", tu_tmp("sm.h5"), tu_tmp("syn.h5"),
                                tu_tmp("ss.csv")), 0);
    out = tu_read_file(tu_tmp("ss.csv"), NULL);
    assert_non_null(out);
    assert_contains(out, "patient_id,linear_predictor,risk_180,risk_365\n");
    free(out);
    assert_int_equal(tu_run_cli(&out, "evaluate %s %s --horizon 365 --by sex --out %s", tu_tmp("sm.h5"),
                                tu_tmp("syn.h5"), tu_tmp("sev")), 0);
    free(out);
    out = tu_read_file(tu_tmp("sev/surv_summary.csv"), NULL);
    assert_non_null(out);
    assert_contains(out, "by,level,n,events,c_harrell,c_harrell_se,c_harrell_lo,c_harrell_hi,c_uno");
    assert_contains(out, "\nsex,F,");
    {   /* --mem-limit: the rows held in memory fit (the same bytes) or are refused, exit 3, nothing written */
        char *got = NULL;
        assert_int_equal(tu_run_cli(NULL, "evaluate %s %s --horizon 365 --by sex --mem-limit 64M --out %s",
                                    tu_tmp("sm.h5"), tu_tmp("syn.h5"), tu_tmp("sev64")), 0);
        got = tu_read_file(tu_tmp("sev64/surv_summary.csv"), NULL);
        assert_non_null(got);
        assert_string_equal(got, out);
        free(got);
        got = NULL;
        assert_int_equal(tu_run_cli(&got, "evaluate %s %s --horizon 365 --by sex --mem-limit 600K --out %s",
                                    tu_tmp("sm.h5"), tu_tmp("syn.h5"), tu_tmp("sev600")), 3);
        /* 5,000 rows: 48 bytes a row of columns (40, the strata(pcn) codes and one by-column) and the streamed
         * evaluation's least (strata_surv_evaluate_bytes; since survev14 it streams: 1M runs) */
        assert_contains(got, "5000 rows take 240048 bytes of columns (48 a row), and the evaluation, streamed, "
                             "needs at least 475136 more: over the memory budget of 614400 bytes");
        assert_null(tu_read_file(tu_tmp("sev600/surv_summary.csv"), NULL));
        free(got);
    }
    free(out);
    /* a GLM model file is not a Cox model: named, and scoring it with --horizon is a usage error */
    assert_int_equal(tu_run_cli(NULL, "fit %s --family binomial --formula 'emergency_event ~ age' --out %s",
                                tu_tmp("syn.h5"), tu_tmp("glm.h5")), 0);
    assert_false(strata_cox_is_model_file(tu_tmp("glm.h5")));
    {
        strata_ctx *ctx = tu_ctx();
        strata_cox *m = NULL;
        assert_status(ctx, strata_cox_load(ctx, tu_tmp("glm.h5"), &m), STRATA_EFORMAT);
        assert_contains(strata_ctx_errmsg(ctx), "not a strata Cox model file");
        assert_null(m);
        strata_ctx_free(ctx);
    }
    assert_int_equal(tu_run_cli(&out, "score %s %s --horizon 365 --out %s", tu_tmp("glm.h5"), tu_tmp("syn.h5"),
                                tu_tmp("x.csv")), 2);
    assert_contains(out, "--horizon is for Cox models");
    free(out);
    assert_int_equal(tu_run_cli(&out, "fit %s --family cox --ties exact --formula '%s' --out %s", tu_tmp("syn.h5"), f,
                                tu_tmp("x.h5")), 2);
    assert_contains(out, "ties: 'exact' is not efron or breslow");
    free(out);
    assert_int_equal(tu_run_cli(&out, "score %s %s --horizon 0 --out %s", tu_tmp("sm.h5"), tu_tmp("syn.h5"),
                                tu_tmp("x.csv")), 2);
    assert_contains(out, "--horizon");
    free(out);
}

/* Column k of a CSV header line (comma-separated, unquoted names), or -1. */
static int header_col(const char *header, const char *name)
{
    char buf[2048], *f[64];
    size_t nf;
    snprintf(buf, sizeof buf, "%s", header);
    nf = tu_csv_split(buf, f, 64);
    for (size_t k = 0; k < nf; k++)
        if (!strcmp(f[k], name))
            return (int)k;
    return -1;
}

/* The Cox list's reasons come from the linear predictor as a GLM's do (they
 * were empty): every listed patient has a first reason, and the first listed
 * patient's is the variable with the largest share of beta'(x - xbar), a
 * spline's basis summed (x-bar over all patients: each was scored). */
static void check_cox_reasons(const char *dir)
{
    static const char *const var[] = {"age", "sex", "imd_decile", "ltc_count", "prior_emergency_12m"};
    static const char *const phrase[] = {"age ", "male", "IMD decile", "long-term condition",
                                         "emergency admission"};
    strata_ctx *ctx = tu_ctx();
    strata_cox *m = NULL;
    strata_cohort *co = NULL;
    char path[4096], *text, *save = NULL, *line, *f[64], first[128] = "";
    size_t p, nv, N, jid, row, listed = 0;
    long long id0 = -1;
    double *X, xbar[64] = {0}, contrib[8] = {0};
    int64_t *ids;
    int cid, cr, top = -1;
    snprintf(path, sizeof path, "%s/intervention_list.csv", dir);
    assert_non_null(text = tu_read_file(path, NULL));
    line = strtok_r(text, "\r\n", &save);
    cid = header_col(line, "patient_id"), cr = header_col(line, "reason_1");
    assert_true(cid >= 0 && cr >= 0);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        size_t nf = tu_csv_split(line, f, 64);
        assert_true(nf > (size_t)cr);
        if (!*f[cr])
            fail_msg("listed patient %s has no reason (a Cox list's were empty)", f[cid]);
        if (listed++ == 0)
            id0 = atoll(f[cid]), snprintf(first, sizeof first, "%s", f[cr]);
    }
    free(text);
    assert_true(listed > 10);
    snprintf(path, sizeof path, "%s/model.h5", dir);
    assert_status(ctx, strata_cox_load(ctx, path, &m), STRATA_OK);
    snprintf(path, sizeof path, "%s/cohort.h5", dir);
    assert_status(ctx, strata_cohort_open(ctx, path, &co), STRATA_OK);
    p = strata_cox_nterms(m), nv = strata_cox_nvars(m), N = strata_cohort_nrows(co);
    assert_int_equal(nv, 5);
    for (size_t v = 0; v < nv; v++)
        assert_string_equal(strata_cox_var(m, v, NULL), var[v]);
    X = malloc(N * p * sizeof *X);
    ids = malloc(N * sizeof *ids);
    assert_status(ctx, strata_cox_design(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, 0, N, X), STRATA_OK);
    assert_status(ctx, strata_cohort_find(ctx, co, "patient_id", &jid), STRATA_OK);
    assert_status(ctx, strata_cohort_read_i64(ctx, co, jid, 0, N, ids), STRATA_OK);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < p; j++)
            xbar[j] += X[i * p + j] / (double)N;
    for (row = 0; row < N && ids[row] != id0; row++)
        ;
    assert_true(row < N);
    for (size_t j = 0; j < p; j++) {
        size_t vars[8], n = strata_cox_term_vars(m, j, vars, 8);
        strata_cox_coef c;
        strata_cox_coef_row(m, j, 0.95, &c);
        for (size_t q = 0; q < n && !c.aliased; q++)
            contrib[vars[q]] += c.estimate * (X[row * p + j] - xbar[j]) / (double)n;
    }
    for (size_t v = 0; v < nv; v++)
        if (contrib[v] > 0 && (top < 0 || contrib[v] > contrib[top]))
            top = (int)v;
    assert_true(top >= 0);
    if (!strstr(first, phrase[top]))
        fail_msg("patient %lld: first reason \"%s\", the largest contribution is %s (%g)", id0,
                 first, var[top], contrib[top]);
    free(X);
    free(ids);
    strata_cohort_close(co);
    strata_cox_free(ctx, m);
    strata_ctx_free(ctx);
}

/* strata run with family cox: risk by the horizon drives tiers and PCN O/E. */
static void test_cox_run__family_cox_tiers_and_pcn_oe_on_horizon_risk(void **state)
{
    char *out = NULL, *card;
    (void)state;
    tu_write_file(tu_tmp("cox.yaml"),
                  "synth:\n  pcn: U60510\n  patients: 8000\n  seed: 5\nmodel:\n  family: cox\n"
                  "  formula: \"Surv(time_to_emergency_days, emergency_event) ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count + prior_emergency_12m\"\n  horizon: 365\nevaluate:\n  by: [sex]\n");
    tu_run_sh(NULL, "rm -rf '%s'", tu_tmp("coxrun")); /* a used folder needs --overwrite */
    assert_int_equal(tu_run_cli(&out, "run %s --out %s", tu_tmp("cox.yaml"), tu_tmp("coxrun")), 0);
    assert_contains(out, "observed/expected");
    free(out);
    card = tu_read_file(tu_tmp("coxrun/report.html"), NULL);
    assert_non_null(card);
    assert_contains(card, "Cox PH (Efron ties): absolute risk by 365");
    free(card);
    out = tu_read_file(tu_tmp("coxrun/pcn_summary.csv"), NULL);
    assert_non_null(out);
    assert_contains(out, "\nU60510,");
    free(out);
    assert_true(strata_cox_is_model_file(tu_tmp("coxrun/model.h5")));
    check_cox_reasons(tu_tmp("coxrun"));
    tu_write_file(tu_tmp("nohorizon.yaml"), "synth:\n  pcn: U60510\n  patients: 500\nmodel:\n  family: cox\n"
                                           "  formula: \"Surv(time_to_emergency_days, emergency_event) ~ age\"\n");
    assert_int_equal(tu_run_cli(&out, "run %s --out %s", tu_tmp("nohorizon.yaml"), tu_tmp("x")), 7);
    assert_contains(out, "family cox needs a horizon");
    /* a missing key is named with the line of the mapping that lacks it
     * (it said "line 0: key \"horizon\"") */
    assert_contains(out, "nohorizon.yaml: line 5: key \"horizon\" missing: ");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_model__colon_cohort_matches_coxph_and_survfit),
        cmocka_unit_test(test_cox_model__save_load_score_identical_bytes),
        cmocka_unit_test(test_cox_cli__fit_coef_score_horizon_on_synth),
        cmocka_unit_test(test_cox_run__family_cox_tiers_and_pcn_oe_on_horizon_risk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
