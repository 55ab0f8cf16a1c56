/* labels: unit golden determinism */
/* tests/test_stratify_groups.c — fixed scores at their boundaries, tiers,
 * reason codes, intervention lists, per-group aggregation (the same bits from
 * row blocks as from one call), disclosure control
 * (no count 1-7 in any aggregate CSV; secondary suppression not undoable) and
 * the HTML report (charts present, every count shown disclosure-controlled). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/stratify.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_efi_category__clegg_boundaries(void **state)
{
    (void)state;
    assert_int_equal(strata_efi_category(0), STRATA_FRAIL_FIT);
    assert_int_equal(strata_efi_category(4), STRATA_FRAIL_FIT);    /* 0.111 */
    assert_int_equal(strata_efi_category(5), STRATA_FRAIL_MILD);   /* 0.139 */
    assert_int_equal(strata_efi_category(8), STRATA_FRAIL_MILD);   /* 0.222 */
    assert_int_equal(strata_efi_category(9), STRATA_FRAIL_MODERATE); /* 0.250 */
    assert_int_equal(strata_efi_category(12), STRATA_FRAIL_MODERATE); /* 0.333 */
    assert_int_equal(strata_efi_category(13), STRATA_FRAIL_SEVERE); /* 0.361 > 0.36 */
    assert_int_equal(strata_efi_category(36), STRATA_FRAIL_SEVERE);
    assert_int_equal(strata_efi_category(-1), -1);
    assert_int_equal(strata_efi_category(37), -1);
    assert_string_equal(strata_frailty_name(2), "moderate");
}

static void test_charlson__weights_per_flag(void **state)
{
    /* expected weight of each flag alone: original 1987 and Quan 2011 */
    static const int orig[STRATA_N_CONDITIONS] = {0, 1, 1, 1, 0, 1, 0, 1, 2, 2, 1, 0, 0, 0, 0};
    static const int quan[STRATA_N_CONDITIONS] = {0, 0, 1, 1, 0, 2, 0, 0, 1, 2, 2, 0, 0, 0, 0};
    int32_t f[STRATA_N_CONDITIONS];
    (void)state;
    for (int c = 0; c < STRATA_N_CONDITIONS; c++) {
        memset(f, 0, sizeof f);
        f[c] = 1;
        assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 30, 0), orig[c]);
        assert_int_equal(strata_charlson(STRATA_CHARLSON_QUAN, f, 30, 0), quan[c]);
        assert_int_equal(strata_multimorbidity(f), 1);
    }
    memset(f, 0, sizeof f);
    f[STRATA_C_COPD] = f[STRATA_C_ASTHMA] = 1; /* one chronic pulmonary disease category */
    assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 30, 0), 1);
    f[STRATA_C_CKD] = f[STRATA_C_CANCER] = f[STRATA_C_DEPRESSION] = 1;
    assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 30, 0), 5);
    assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 49, 1), 5);
    assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 50, 1), 6);
    assert_int_equal(strata_charlson(STRATA_CHARLSON_ORIGINAL, f, 95, 1), 9); /* capped at 4 */
    assert_int_equal(strata_multimorbidity(f), 5);
    f[STRATA_C_DIABETES] = -1; /* missing counts absent */
    assert_int_equal(strata_multimorbidity(f), 5);
    assert_int_equal(strata_core20(1) + strata_core20(2) + strata_core20(3) + strata_core20(-1), 2);
}

static void test_segments__rules_in_priority_order(void **state)
{
    strata_segment_params p;
    strata_segment_in in = {.age = 70, .ltc_count = 0, .efi_deficits = 0, .tier = 4};
    (void)state;
    strata_segment_params_init(&p);
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_WELL);
    in.age = 10;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_CHILDREN);
    in.ltc_count = 1;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_STABLE_LTC);
    in.ltc_count = 2, in.prior_emergency = 2;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_COMPLEX);
    in.ltc_count = 4, in.prior_emergency = 0;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_COMPLEX);
    in.efi_deficits = 9;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_FRAILTY);
    in.efi_deficits = 13; /* severe, tier 4, no cancer/HF: frailty */
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_FRAILTY);
    in.tier = 2;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_END_OF_LIFE);
    in.tier = 4, in.cancer = 1;
    assert_int_equal(strata_segment_of(&p, &in), STRATA_SEG_END_OF_LIFE);
    assert_string_equal(strata_segment_name(STRATA_SEG_COMPLEX), "complex_multimorbidity");
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static double unif(uint64_t *s)
{
    return (double)lcg(s) * 0x1.0p-53;
}

static void test_tiers__sizes_ties_and_groups(void **state)
{
    enum { N = 1000 };
    double risk[N];
    uint8_t tier[N], tier2[N];
    int32_t grp[N];
    size_t cnt[5] = {0};
    uint64_t s = 7;
    strata_tier_params p;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    for (int i = 0; i < N; i++)
        risk[i] = unif(&s), grp[i] = i % 2;
    strata_tier_params_init(&p);
    assert_status(ctx, strata_tiers(ctx, &p, N, risk, NULL, 0, tier), STRATA_OK);
    for (int i = 0; i < N; i++)
        cnt[tier[i]]++;
    assert_int_equal(cnt[1], 5);
    assert_int_equal(cnt[2], 45);
    assert_int_equal(cnt[3], 150);
    assert_int_equal(cnt[4], 800);
    for (int i = 0; i < N; i++) /* monotone: a higher tier never has lower risk */
        for (int k = 0; k < N; k += 37)
            if (tier[i] < tier[k])
                assert_true(risk[i] >= risk[k]);
    /* all tied: tiers go by row */
    for (int i = 0; i < N; i++)
        risk[i] = 0.3;
    assert_status(ctx, strata_tiers(ctx, &p, N, risk, NULL, 0, tier), STRATA_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(tier[i], i < 5 ? 1 : i < 50 ? 2 : i < 200 ? 3 : 4);
    /* within groups: each group of 500 gets round(2.5) = 3 in tier 1 */
    assert_status(ctx, strata_tiers(ctx, &p, N, risk, grp, 2, tier), STRATA_OK);
    assert_status(ctx, strata_tiers(ctx, &p, N, risk, grp, 2, tier2), STRATA_OK);
    assert_memory_equal(tier, tier2, N);
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < N; i++)
        cnt[tier[i]] += grp[i] == 1;
    assert_int_equal(cnt[1], 3);
    assert_int_equal(cnt[1] + cnt[2], 25);
    /* negative risks and signed zeros rank as numbers: 2 > 0 = -0 (by row) > -1 */
    p.n_cuts = 1, p.cut[0] = 0.5;
    risk[0] = -1, risk[1] = -0.0, risk[2] = 0.0, risk[3] = 2;
    assert_status(ctx, strata_tiers(ctx, &p, 4, risk, NULL, 0, tier), STRATA_OK);
    assert_int_equal(tier[3], 1);
    assert_int_equal(tier[1], 1);
    assert_int_equal(tier[2], 2);
    assert_int_equal(tier[0], 2);
    /* absolute thresholds */
    p.mode = STRATA_TIER_ABSOLUTE;
    p.n_cuts = 2, p.cut[0] = 0.5, p.cut[1] = 0.2;
    risk[0] = 0.5, risk[1] = 0.49, risk[2] = 0.2, risk[3] = 0.1;
    assert_status(ctx, strata_tiers(ctx, &p, 4, risk, NULL, 0, tier), STRATA_OK);
    assert_int_equal(tier[0], 1);
    assert_int_equal(tier[1], 2);
    assert_int_equal(tier[2], 2);
    assert_int_equal(tier[3], 3);
    p.cut[1] = 0.7;
    assert_status(ctx, strata_tiers(ctx, &p, 4, risk, NULL, 0, tier), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "threshold 2 = 0.7");
    strata_tier_params_init(&p);
    risk[3] = NAN;
    assert_status(ctx, strata_tiers(ctx, &p, 4, risk, NULL, 0, tier), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "row 4");
    strata_ctx_free(ctx);
}

static strata_status row_cb(void *ud, size_t row, double *x)
{
    memcpy(x, (const double *)ud + row * 4, 4 * sizeof *x);
    return STRATA_OK;
}

static void test_reason_codes__top_k_relative_to_mean(void **state)
{
    static const char *const names[4] = {"age", "copd", "frailty", "imd"};
    const double beta[4] = {0.05, 0.8, 0.3, -0.2}, xbar[4] = {50, 0.1, 2, 5};
    const double X[8] = {80, 1, 2, 1, /* 1.5, 0.72, 0, 0.8 */
                         40, 0, 1, 9}; /* -0.5, -0.08, -0.3, -0.8: none positive */
    int32_t term[6], term2[6];
    double c[6], c2[6];
    strata_reason_model m = {4, names, beta, xbar, X, NULL, NULL, 0, NULL};
    strata_ctx *ctx = tu_ctx();
    (void)state;
    assert_status(ctx, strata_reason_codes(ctx, &m, 2, NULL, 3, term, c), STRATA_OK);
    assert_int_equal(term[0], 0);
    assert_int_equal(term[1], 3);
    assert_int_equal(term[2], 1);
    assert_rel_close(c[0], 1.5, 1e-12, "age contribution");
    assert_rel_close(c[1], 0.8, 1e-12, "imd contribution");
    assert_rel_close(c[2], 0.72, 1e-12, "copd contribution");
    assert_int_equal(term[3], -1);
    m.X = NULL, m.row_fn = row_cb, m.ud = (void *)X;
    assert_status(ctx, strata_reason_codes(ctx, &m, 2, NULL, 3, term2, c2), STRATA_OK);
    assert_memory_equal(term, term2, sizeof term);
    strata_ctx_free(ctx);
}

/* Reasons per variable: a spline's two basis columns and half of age:sexM
 * count for age, sexM and the other half for sex. */
static void test_reason_codes__grouped_by_variable(void **state)
{
    static const char *const names[4] = {"rcs(age, 3)age", "rcs(age, 3)age'", "sexM", "age:sexM"};
    const double beta[4] = {0.02, 0.5, 0.1, 0.01}, xbar[4] = {50, 1, 0.5, 25};
    const double share[8] = {1, 0, 1, 0, 0, 1, 0.5, 0.5};
    const double X[8] = {80, 3, 1, 80,  /* age: .6 + 1 + .275 = 1.875; sex: .05 + .275 = .325 */
                         50, 1, 1, 50}; /* age: 0 + 0 + .125; sex: .05 + .125 = .175 */
    int32_t term[4];
    double c[4];
    strata_reason_model m = {4, names, beta, xbar, X, NULL, NULL, 2, share};
    strata_ctx *ctx = tu_ctx();
    (void)state;
    assert_status(ctx, strata_reason_codes(ctx, &m, 2, NULL, 2, term, c), STRATA_OK);
    assert_int_equal(term[0], 0);
    assert_int_equal(term[1], 1);
    assert_rel_close(c[0], 1.875, 1e-12, "age: basis and half the interaction");
    assert_rel_close(c[1], 0.325, 1e-12, "sex: dummy and half the interaction");
    assert_int_equal(term[2], 1);
    assert_int_equal(term[3], 0);
    assert_rel_close(c[2], 0.175, 1e-12, "sex of the second row");
    assert_rel_close(c[3], 0.125, 1e-12, "age of the second row");
    m.share = NULL;
    assert_status(ctx, strata_reason_codes(ctx, &m, 2, NULL, 2, term, c), STRATA_EINVAL);
    strata_ctx_free(ctx);
}

/* The text a clinician reads for each kind of variable. */
static void test_reason_text__clinical_phrases(void **state)
{
    static const struct {
        const char *col;
        double v;
        const char *level, *want;
    } cases[] = {
        {"age", 87, NULL, "age 87"},
        {"prior_emergency_12m", 3, NULL, "3 emergency admissions in the last 12 months"},
        {"prior_emergency_12m", 1, NULL, "1 emergency admission in the last 12 months"},
        {"ae_attendances_12m", 2, NULL, "2 A&E attendances in the last 12 months"},
        {"efi_deficits", 15, NULL, "severe frailty (15 of 36 eFI deficits)"},
        {"efi_deficits", 6, NULL, "mild frailty (6 of 36 eFI deficits)"},
        {"imd_decile", 1, NULL, "lives in IMD decile 1 (most deprived)"},
        {"imd_decile", 4, NULL, "lives in IMD decile 4"},
        {"ltc_count", 5, NULL, "5 long-term conditions"},
        {"heart_failure", 1, NULL, "heart failure"},
        {"copd", 0, NULL, "no COPD recorded"},
        {"sex", 1, "M", "male"},
        {"smoking", 2, "current", "current smoker"},
        {"ethnicity", 0, "Asian", "ethnic group Asian"},
        {"bmi", 34.25, NULL, "BMI 34.2"},
        {"housebound_flag", 1, NULL, "housebound flag 1"},
        {"region", 0, "North", "region: North"},
        {"sbp", NAN, NULL, "sbp not recorded"},
    };
    char buf[128];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strata_reason_text(cases[i].col, cases[i].v, cases[i].level, buf, sizeof buf);
        if (strcmp(buf, cases[i].want))
            fail_msg("%s = %g: \"%s\", want \"%s\"", cases[i].col, cases[i].v, buf, cases[i].want);
    }
    strata_reason_text("prior_emergency_12m", 3, NULL, buf, 8);
    assert_string_equal(buf, "3 emerg");
}

static void test_plus_flags_and_patient_stratification(void **state)
{
    const int32_t eth[5] = {0, 4, -1, 1, 4}, ld[5] = {0, 1, 0, 0, -1};
    const int32_t minority[4] = {0, 1, 2, 3};
    const strata_plus_rule rules[2] = {{"ethnic_minority", eth, 4, minority},
                                       {"learning_disability", ld, 0, NULL}};
    uint32_t mask[5];
    uint8_t any[5], tier[5], seg[5];
    int8_t fr[5], ltc[5];
    int16_t ch[5];
    const double risk[5] = {0.9, 0.1, 0.2, 0.3, 0.05};
    const int32_t age[5] = {88, 40, 8, 60, 30}, efi[5] = {14, 0, 0, 9, 2}, cancer[5] = {1, 0, 0, 0, 0};
    const int32_t hf[5] = {0, 0, 0, 1, 0};
    strata_patient_cols pc = {0};
    strata_patient_params pp;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    assert_status(ctx, strata_plus_flags(ctx, 5, 2, rules, mask, any), STRATA_OK);
    assert_int_equal(mask[0], 1);
    assert_int_equal(mask[1], 2);
    assert_int_equal(mask[2], 0);
    assert_int_equal(mask[3], 1);
    assert_int_equal(any[4], 0);
    pc.n = 5, pc.risk = risk, pc.age = age, pc.efi_deficits = efi;
    pc.flags[STRATA_C_CANCER] = cancer, pc.flags[STRATA_C_HEART_FAILURE] = hf;
    strata_patient_params_init(&pp);
    pp.tiers.n_cuts = 1, pp.tiers.cut[0] = 0.2; /* top 1 of 5 */
    assert_status(ctx, strata_stratify_patients(ctx, &pp, &pc, NULL, 0, tier, seg, fr, ch, ltc),
                  STRATA_OK);
    assert_int_equal(tier[0], 1);
    assert_int_equal(tier[3], 2);
    assert_int_equal(seg[0], STRATA_SEG_END_OF_LIFE);
    assert_int_equal(seg[1], STRATA_SEG_WELL);
    assert_int_equal(seg[2], STRATA_SEG_CHILDREN);
    assert_int_equal(seg[3], STRATA_SEG_FRAILTY);
    assert_int_equal(fr[0], STRATA_FRAIL_SEVERE);
    assert_int_equal(ch[0], 2);
    assert_int_equal(ch[3], 1);
    assert_int_equal(ltc[3], 1);
    strata_ctx_free(ctx);
}

/* Synthetic population: 12 groups, one tiny (5 people), deterministic. */
enum { NP = 24000, NG = 12 };
typedef struct pop {
    double risk[NP], obs[NP];
    int32_t grp[NP], age[NP], sex[NP], imd[NP], eth[NP];
    uint8_t tier[NP], seg[NP];
} pop;

static pop *make_pop(void)
{
    pop *P = calloc(1, sizeof *P);
    uint64_t s = 42;
    for (int i = 0; i < NP; i++) {
        double u = unif(&s);
        P->grp[i] = i < 5 ? NG - 1 : (int32_t)(lcg(&s) % (NG - 1));
        P->age[i] = (int32_t)(unif(&s) * 95);
        P->sex[i] = (int32_t)(lcg(&s) % 2);
        P->imd[i] = (int32_t)(1 + lcg(&s) % 10);
        P->eth[i] = u < 0.02 ? -1 : (int32_t)(lcg(&s) % 5);
        P->risk[i] = 1.0 / (1.0 + exp(-(-4.5 + 0.035 * P->age[i] + 0.08 * (10 - P->imd[i]))));
        P->obs[i] = unif(&s) < P->risk[i] * (P->grp[i] == 3 ? 1.6 : 1.0);
        P->seg[i] = (uint8_t)(lcg(&s) % STRATA_N_SEGMENTS);
    }
    return P;
}

static void test_intervention_list__capacity_and_prop_univ(void **state)
{
    pop *P = make_pop();
    size_t *rows = malloc(NP * sizeof *rows), nsel, per[NG] = {0}, q1[NG] = {0}, size[NG] = {0};
    uint32_t *rank = malloc(NP * sizeof *rank);
    double need_t[NG] = {0}, need_d[NG] = {0};
    strata_list_params p;
    strata_ctx *ctx = tu_ctx();
    (void)state;
    for (int i = 0; i < NP; i++) {
        size[P->grp[i]]++;
        need_t[P->grp[i]] += P->risk[i];
        need_d[P->grp[i]] += strata_core20(P->imd[i]) ? P->risk[i] : 0;
    }
    strata_list_params_init(&p);
    p.per_group = 50;
    assert_status(ctx, strata_intervention_select(ctx, &p, NP, P->risk, NULL, P->grp, NG, P->imd,
                                                  rows, rank, &nsel), STRATA_OK);
    assert_int_equal(nsel, (NG - 1) * 50 + 5);
    for (size_t k = 0; k < nsel; k++) {
        per[P->grp[rows[k]]]++;
        assert_int_equal(rank[k], per[P->grp[rows[k]]]);
        if (k && P->grp[rows[k]] == P->grp[rows[k - 1]])
            assert_true(P->risk[rows[k]] <= P->risk[rows[k - 1]]);
    }
    /* without proportionate universalism: the top 50 by risk in each group */
    for (int g = 0; g < NG - 1; g++) {
        double cut = 2;
        size_t above = 0;
        for (size_t k = 0; k < nsel; k++)
            if (P->grp[rows[k]] == g && P->risk[rows[k]] < cut)
                cut = P->risk[rows[k]];
        for (int i = 0; i < NP; i++)
            above += P->grp[i] == g && P->risk[i] > cut;
        assert_true(above < 50);
    }
    p.per_group = 0, p.per_1000 = 4, p.prop_univ = 1;
    assert_status(ctx, strata_intervention_select(ctx, &p, NP, P->risk, NULL, P->grp, NG, P->imd,
                                                  rows, rank, &nsel), STRATA_OK);
    memset(per, 0, sizeof per);
    for (size_t k = 0; k < nsel; k++) {
        per[P->grp[rows[k]]]++;
        q1[P->grp[rows[k]]] += strata_core20(P->imd[rows[k]]);
    }
    for (int g = 0; g < NG; g++) {
        size_t cap = (size_t)floor(4.0 * (double)size[g] / 1000.0 + 0.5);
        assert_int_equal(per[g], cap);
        assert_true((double)q1[g] >= ceil((double)cap * need_d[g] / need_t[g] - 1e-9));
    }
    p.per_1000 = 0;
    assert_status(ctx, strata_intervention_select(ctx, &p, NP, P->risk, NULL, P->grp, NG, P->imd,
                                                  rows, rank, &nsel), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "per_1000 0");
    free(rows), free(rank), free(P);
    strata_ctx_free(ctx);
}

static const char *const gnames[NG] = {"U1", "U2", "U3", "U4", "U5", "U6",
                                       "U7", "U8", "U9", "U10", "U11", "Tiny, \"PCN\""};
static const char *const enames[5] = {"Asian", "Black", "Mixed", "Other", "White"};

static strata_strat_input make_input(pop *P, strata_tier_params *tp, strata_ctx *ctx)
{
    strata_strat_input in = {0};
    strata_tier_params_init(tp);
    assert_status(ctx, strata_tiers(ctx, tp, NP, P->risk, P->grp, NG, P->tier), STRATA_OK);
    in.n = NP, in.risk = P->risk, in.observed = P->obs, in.age = P->age, in.sex = P->sex;
    in.imd_decile = P->imd, in.ethnicity = P->eth, in.n_ethnicity = 5, in.ethnicity_names = enames;
    in.tier = P->tier, in.n_tiers = 4, in.segment = P->seg;
    return in;
}

#define V(t, col, i) strata_table_value((t), strata_table_find((t), (col)), (i))
#define H(t, col, i) strata_table_hidden((t), strata_table_find((t), (col)), (i))

/* Every equation total = sum of members (row partitions, columns under the
 * total row) has 0 or >= 2 hidden cells, so none can be solved for. */
static void assert_no_lone_hidden(const strata_table *t)
{
    size_t nc = strata_table_ncols(t), nr = strata_table_nrows(t);
    for (size_t tc = 0; tc < nc; tc++)
        for (int g = 0; g < 4; g++)
            for (size_t i = 0; i < nr; i++) {
                int m = 0, nh = strata_table_hidden(t, (int)tc, i) != 0;
                for (size_t j = 0; j < nc; j++) {
                    int pc, pg;
                    strata_table_col_part(t, (int)j, &pc, &pg);
                    if (pc == (int)tc && pg == g)
                        m++, nh += strata_table_hidden(t, (int)j, i) != 0;
                }
                if (m && nh == 1)
                    fail_msg("%s: row %zu: one hidden cell in the partition of %s",
                             strata_table_name(t), i + 1, strata_table_col_name(t, (int)tc));
            }
    for (size_t j = 0; j < nc; j++) {
        int nh = 0;
        strata_col_kind k = strata_table_col_kind(t, (int)j);
        if (k != STRATA_COL_COUNT && k != STRATA_COL_TOTAL)
            continue;
        for (size_t i = 0; i < nr; i++)
            nh += strata_table_hidden(t, (int)j, i) != 0;
        if (nh == 1)
            fail_msg("%s: column %s: one hidden cell over the total row", strata_table_name(t),
                     strata_table_col_name(t, (int)j));
    }
}

/* A count present in both tables (same column, same group) is hidden in both or neither. */
static void assert_same_hidden(const strata_table *a, const strata_table *b)
{
    int shared = 0;
    for (size_t ja = 0; ja < strata_table_ncols(a); ja++) {
        const char *nm = strata_table_col_name(a, (int)ja);
        int jb = strata_table_find(b, nm);
        strata_col_kind k = strata_table_col_kind(a, (int)ja);
        if ((k != STRATA_COL_COUNT && k != STRATA_COL_TOTAL) || jb < 0)
            continue;
        for (size_t i = 0; i < strata_table_nrows(a); i++) {
            assert_string_equal(strata_table_key(a, 0, i), strata_table_key(b, 0, i));
            if (!strata_table_hidden(a, (int)ja, i) != !strata_table_hidden(b, jb, i))
                fail_msg("%s row %zu: hidden in one table only", nm, i + 1);
            shared++;
        }
    }
    assert_true(shared > 0);
}

static void test_group_summary__values_before_disclosure(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_table *t;
    strata_funnel f;
    strata_ctx *ctx = tu_ctx();
    double e3 = 0, o3 = 0, n3 = 0, lo, hi, r;
    strata_strat_input in = make_input(P, &tp, ctx);
    (void)state;
    strata_group_params_init(&gp);
    gp.budget = 1e6;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, &f, &t), STRATA_OK);
    for (int i = 0; i < NP; i++)
        if (P->grp[i] == 3)
            e3 += P->risk[i], o3 += P->obs[i], n3 += 1;
    assert_rel_close(V(t, "n_list", 3), n3, 0, "list size");
    assert_rel_close(V(t, "n_list", NG), NP, 0, "ALL list size");
    assert_rel_close(V(t, "expected_list", 3), e3, 1e-12, "E");
    assert_rel_close(V(t, "n_observed_list", 3), o3, 0, "O");
    assert_true(isnan(V(t, "oe_list", 3))); /* derived: computed when published */
    {
        strata_sdc_params off;
        strata_sdc_params_init(&off);
        off.enabled = 0; /* no_disclosure: exact counts, derived values from them */
        assert_status(ctx, strata_disclose(ctx, &off, t), STRATA_OK);
    }
    assert_status(ctx, strata_oe_ci(ctx, o3, strata_table_value(t, strata_table_find(t, "expected_list"), 3), 0.95, &r, &lo, &hi), STRATA_OK);
    assert_abs_close(V(t, "oe_list", 3), r, 5e-4, "O/E from the published O and E");
    assert_abs_close(V(t, "oe_hi_list", 3), hi, 5e-4, "O/E hi");
    /* group 3 has 1.6x the events: flagged above the 99.8% limit */
    assert_int_equal((int)V(t, "funnel_flag", 3), 2);
    /* need index: mean risk relative to the total; fair shares add up to the budget */
    {
        double sum = 0;
        assert_abs_close(V(t, "need_index", 3), (e3 / n3) / (V(t, "expected_list", NG) / NP), 2e-3,
                         "need index");
        for (int g = 0; g < NG; g++)
            sum += V(t, "fair_share", g);
        assert_abs_close(sum, 1e6, 0.5 * NG, "fair shares sum to the budget (to the euro)");
    }
    /* tiers sum to the list size in each group */
    for (int g = 0; g <= NG; g++) {
        double s = 0;
        for (int k = 1; k <= 4; k++) {
            char nm[16];
            snprintf(nm, sizeof nm, "n_tier%d", k);
            s += V(t, nm, g);
        }
        assert_rel_close(s, V(t, "n_list", g), 0, "tiers, group %d", g);
    }
    strata_table_free(ctx, t);
    /* errors name the column, the 1-based row and the value */
    P->risk[17] = -0.5;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, &f, &t), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "risk: row 18: value -0.5");
    P->risk[17] = 0.5;
    P->grp[3] = NG;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, &f, &t), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "group: row 4: code 12");
    assert_null(t);
    free(P);
    strata_ctx_free(ctx);
}

static void test_group_sii__same_bytes_whatever_the_threads(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_table *a, *b;
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx);
    int j0;
    (void)state;
    strata_group_params_init(&gp);
    gp.sii.reps = 5000;
    assert_status(ctx, strata_group_sii(ctx, &gp, &in, P->grp, NG, gnames, &a), STRATA_OK);
    strata_ctx_set_threads(ctx, 3);
    assert_status(ctx, strata_group_sii(ctx, &gp, &in, P->grp, NG, gnames, &b), STRATA_OK);
    j0 = strata_table_find(a, "sii");
    for (int k = 0; k < 14; k++)
        for (int g = 0; g <= NG; g++) {
            double x = strata_table_value(a, j0 + k, (size_t)g), y = strata_table_value(b, j0 + k, (size_t)g);
            assert_memory_equal(&x, &y, sizeof x);
        }
    assert_true(V(a, "deciles_used", NG - 1) <= 1); /* tiny group: no two deciles */
    assert_true(isnan(V(a, "sii", NG - 1)));
    strata_table_free(ctx, a);
    strata_table_free(ctx, b);
    free(P);
    strata_ctx_free(ctx);
}

/* Every value and column name of two tables, bit for bit. */
static void assert_tables_same(const strata_table *a, const strata_table *b)
{
    assert_int_equal(strata_table_ncols(a), strata_table_ncols(b));
    assert_int_equal(strata_table_nrows(a), strata_table_nrows(b));
    for (size_t j = 0; j < strata_table_ncols(a); j++) {
        assert_string_equal(strata_table_col_name(a, (int)j), strata_table_col_name(b, (int)j));
        for (size_t g = 0; g < strata_table_nrows(a); g++) {
            double x = strata_table_value(a, (int)j, g), y = strata_table_value(b, (int)j, g);
            if (memcmp(&x, &y, sizeof x))
                fail_msg("%s row %zu: %.17g, not %.17g", strata_table_col_name(a, (int)j), g, y, x);
        }
    }
}

/* The four group tables from blocks of rows (strata_group_sums_*: blocks of
 * 1, 997 and 7,919 rows and the whole) are the one-call tables bit for bit;
 * blocks out of order, a table before every row and a bad value in a later
 * block are errors naming the rows. */
static void test_group_sums__blocks_give_the_same_bytes(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx), blk;
    static const char *const plus_names[2] = {"a", "b"};
    uint32_t *plus = malloc(NP * sizeof *plus);
    uint8_t *c5 = malloc(NP);
    strata_group_sums *s;
    strata_table *whole[4], *t;
    static const size_t sizes[3] = {1, 997, 7919};
    (void)state;
    for (size_t i = 0; i < NP; i++)
        plus[i] = (uint32_t)(i % 3), c5[i] = (uint8_t)(i * 7 % 31);
    in.plus_mask = plus, in.n_plus = 2, in.plus_names = plus_names, in.c5_mask = c5;
    strata_group_params_init(&gp);
    gp.sii.reps = 1000;
    gp.budget = 1e6;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, NULL, &whole[0]), STRATA_OK);
    assert_status(ctx, strata_group_inequality(ctx, &gp, &in, P->grp, NG, gnames, &whole[1]), STRATA_OK);
    assert_status(ctx, strata_group_sii(ctx, &gp, &in, P->grp, NG, gnames, &whole[2]), STRATA_OK);
    assert_status(ctx, strata_group_core20plus5(ctx, &in, P->grp, NG, gnames, &whole[3]), STRATA_OK);
    for (int kind = 0; kind < 4; kind++)
        for (int z = 0; z < 3; z++) {
            assert_status(ctx, strata_group_sums_new(ctx, (strata_group_kind)kind, &gp, &in, NG, &s), STRATA_OK);
            assert_int_equal(strata_group_sums_passes(s), kind == 0 ? 2 : 1);
            for (int pass = 0; pass < strata_group_sums_passes(s); pass++)
                for (size_t r0 = 0; r0 < NP; r0 += sizes[z]) {
                    blk = in;
                    blk.n = NP - r0 < sizes[z] ? NP - r0 : sizes[z];
                    blk.risk += r0, blk.observed += r0, blk.age += r0, blk.sex += r0;
                    blk.imd_decile += r0, blk.ethnicity += r0, blk.tier += r0, blk.segment += r0;
                    blk.plus_mask += r0, blk.c5_mask += r0;
                    assert_status(ctx, strata_group_sums_add(ctx, s, pass, r0, &blk, P->grp + r0), STRATA_OK);
                }
            assert_status(ctx, strata_group_sums_table(ctx, s, gnames, NULL, &t), STRATA_OK);
            assert_tables_same(whole[kind], t);
            strata_table_free(ctx, t);
            strata_group_sums_free(ctx, s);
        }
    /* out of order, too early, a bad value in the second block: named */
    assert_status(ctx, strata_group_sums_new(ctx, STRATA_GROUP_SUMMARY, &gp, &in, NG, &s), STRATA_OK);
    blk = in;
    blk.n = 100;
    assert_status(ctx, strata_group_sums_add(ctx, s, 0, 0, &blk, P->grp), STRATA_OK);
    assert_status(ctx, strata_group_sums_add(ctx, s, 0, 200, &blk, P->grp), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "expected pass 0 from row 101");
    assert_status(ctx, strata_group_sums_table(ctx, s, gnames, NULL, &t), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "has seen 100 of 24000 rows");
    P->risk[150] = -1;
    blk.risk += 100, blk.observed += 100, blk.age += 100, blk.sex += 100, blk.imd_decile += 100;
    blk.ethnicity += 100, blk.tier += 100, blk.segment += 100, blk.plus_mask += 100, blk.c5_mask += 100;
    assert_status(ctx, strata_group_sums_add(ctx, s, 0, 100, &blk, P->grp + 100), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "risk: row 151: value -1 is not >= 0");
    blk.segment = NULL; /* other inputs than the shape's */
    assert_status(ctx, strata_group_sums_add(ctx, s, 0, 100, &blk, P->grp + 100), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "other inputs than the shape");
    strata_group_sums_free(ctx, s);
    for (int k = 0; k < 4; k++)
        strata_table_free(ctx, whole[k]);
    free(plus);
    free(c5);
    free(P);
    strata_ctx_free(ctx);
}

static void test_disclosure__secondary_not_undoable_without_rounding(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_sdc_params sp;
    strata_table *t, *t2;
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx);
    (void)state;
    strata_group_params_init(&gp);
    gp.sii.reps = 1000;
    strata_sdc_params_init(&sp);
    sp.round_to = 0; /* exact counts: only suppression protects */
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, NULL, &t), STRATA_OK);
    assert_status(ctx, strata_group_inequality(ctx, &gp, &in, P->grp, NG, gnames, &t2), STRATA_OK);
    {
        strata_table *both[2] = {t, t2};
        assert_status(ctx, strata_disclose_set(ctx, &sp, 2, both), STRATA_OK);
    }
    assert_same_hidden(t, t2);
    assert_int_equal(strata_table_small_counts(t, 1, 7), 0);
    assert_true(H(t, "n_list", NG - 1)); /* tiny group: 5 */
    assert_true(isnan(V(t, "mean_risk_list", NG - 1)));
    assert_no_lone_hidden(t);
    /* the tiny group's list size cannot be recovered as ALL minus the others */
    {
        int j = strata_table_find(t, "n_list");
        int nh = 0;
        for (int g = 0; g < NG; g++)
            nh += strata_table_hidden(t, j, (size_t)g) != 0;
        assert_true(nh >= 2 || strata_table_hidden(t, j, NG));
    }
    strata_table_free(ctx, t);
    assert_int_equal(strata_table_small_counts(t2, 1, 7), 0);
    assert_no_lone_hidden(t2);
    strata_table_free(ctx, t2);
    /* control switched off: written as is (national level) */
    sp.enabled = 0;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, NULL, &t), STRATA_OK);
    assert_status(ctx, strata_disclose_set(ctx, &sp, 1, &t), STRATA_OK);
    assert_true(strata_table_disclosed(t));
    assert_rel_close(V(t, "n_list", NG - 1), 5, 0, "tiny list shown");
    {
        strata_sdc_params got;
        char text[512];
        assert_status(ctx, strata_table_rules(ctx, t, &got), STRATA_OK);
        assert_int_equal(got.enabled, 0); /* the no_disclosure setting is recorded */
        strata_sdc_describe(&got, text, sizeof text);
        assert_contains(text, "OFF (no_disclosure)");
    }
    /* published: nothing can be set, re-disclosed, or made finer */
    assert_status(ctx, strata_table_set(ctx, t, strata_table_find(t, "n_list"), 0, 1), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "already published");
    assert_status(ctx, strata_disclose_set(ctx, &sp, 1, &t), STRATA_EINVAL);
    assert_status(ctx, strata_table_hide(ctx, t, strata_table_find(t, "n_list"), 0), STRATA_EINVAL);
    strata_table_free(ctx, t);
    {
        strata_table *pl;
        assert_status(ctx, strata_table_new_patient(ctx, "list", 2, &pl), STRATA_OK);
        assert_status(ctx, strata_disclose_set(ctx, &sp, 1, &pl), STRATA_EINVAL);
        assert_contains(strata_ctx_errmsg(ctx), "table list is patient-level");
        strata_table_free(ctx, pl);
    }
    free(P);
    strata_ctx_free(ctx);
}

static void test_disclosure__practices_and_pcns_protected_together(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_sdc_params sp;
    strata_table *tab[2];
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx);
    int32_t *prac = malloc(NP * sizeof *prac), parent[3 * NG + 1];
    char pn[3 * NG][16];
    const char *pnames[3 * NG];
    int checked = 0;
    (void)state;
    for (int g = 0; g < 3 * NG; g++)
        snprintf(pn[g], sizeof pn[g], "P%02d", g), pnames[g] = pn[g], parent[g] = g / 3;
    parent[3 * NG] = NG; /* ALL into ALL */
    for (int i = 0; i < NP; i++) /* practice 3g+2 of each PCN is small: 1 in 50 patients */
        prac[i] = 3 * P->grp[i] + (i % 50 == 0 ? 2 : i % 2);
    strata_group_params_init(&gp);
    strata_sdc_params_init(&sp);
    sp.round_to = 0;
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, NULL, &tab[0]), STRATA_OK);
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, prac, 3 * NG, pnames, NULL, &tab[1]), STRATA_OK);
    assert_status(ctx, strata_table_set_parent(ctx, tab[1], tab[0], parent), STRATA_OK);
    assert_status(ctx, strata_disclose_set(ctx, &sp, 2, tab), STRATA_OK);
    assert_no_lone_hidden(tab[0]);
    assert_no_lone_hidden(tab[1]);
    /* each PCN cell with its practices: 0 or >= 2 hidden */
    for (size_t j = 0; j < strata_table_ncols(tab[1]); j++) {
        const char *nm = strata_table_col_name(tab[1], (int)j);
        int jp = strata_table_find(tab[0], nm);
        strata_col_kind k = strata_table_col_kind(tab[1], (int)j);
        if (k != STRATA_COL_COUNT && k != STRATA_COL_TOTAL)
            continue;
        for (int r = 0; r <= NG; r++) {
            int nh = strata_table_hidden(tab[0], jp, (size_t)r) != 0;
            for (int i = 0; i <= 3 * NG; i++)
                nh += parent[i] == r && strata_table_hidden(tab[1], (int)j, (size_t)i) != 0;
            if (nh == 1)
                fail_msg("%s: PCN row %d: one hidden cell across levels", nm, r + 1);
            checked++;
        }
    }
    assert_true(checked > 100);
    assert_int_equal(strata_table_small_counts(tab[1], 1, 7), 0);
    strata_table_free(ctx, tab[1]);
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, prac, 3 * NG, pnames, NULL, &tab[1]), STRATA_OK);
    parent[0] = 99;
    assert_status(ctx, strata_table_set_parent(ctx, tab[1], tab[0], parent), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "row 1: parent row 99");
    strata_table_free(ctx, tab[0]);
    strata_table_free(ctx, tab[1]);
    free(prac), free(P);
    strata_ctx_free(ctx);
}

static int is_count_col(const char *name)
{
    return strncmp(name, "n_", 2) == 0;
}

/* Parses every aggregate CSV in dir and fails if a count column shows 1-7
 * or a count not divisible by 5; returns the number of files scanned. */
static int scan_dir_for_small_counts(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024], *text, *line, *save = NULL;
        int iscount[512] = {0}, nc = 0;
        struct stat st;
        if (!strstr(e->d_name, ".csv"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_int_equal(stat(path, &st), 0);
        if ((st.st_mode & 0777) == 0600)
            continue; /* patient-level list */
        text = tu_read_file(path, NULL);
        line = strtok_r(text, "\r\n", &save);
        for (char *f = line, *c; f; f = c ? c + 1 : NULL, nc++) {
            c = strchr(f, ',');
            if (c)
                *c = 0;
            iscount[nc] = is_count_col(f);
        }
        while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
            int j = 0;
            if (line[0] == '"') /* quoted group name: skip to its closing quote */
                line = strstr(line + 1, "\",") + 1;
            for (char *f = line, *c; f; f = c ? c + 1 : NULL, j++) {
                double v;
                char *end;
                c = strchr(f, ',');
                if (c)
                    *c = 0;
                if (!iscount[j] || !*f || !strcmp(f, "*"))
                    continue;
                v = strtod(f, &end);
                if (v >= 1 && v <= 7)
                    fail_msg("%s: column %d: count %g visible", path, j + 1, v);
                if (fmod(v, 5) != 0)
                    fail_msg("%s: column %d: count %g not rounded to 5", path, j + 1, v);
            }
        }
        free(text);
        files++;
    }
    closedir(d);
    return files;
}

static void test_outputs__no_aggregate_csv_shows_counts_1_to_7(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_sdc_params sp;
    strata_table *t[3], *list;
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx);
    const char *dir = tu_tmp("out");
    char path[1024];
    struct stat st;
    size_t *rows = malloc(NP * sizeof *rows), nsel;
    uint32_t *rank = malloc(NP * sizeof *rank);
    strata_list_params lp;
    (void)state;
    mkdir(dir, 0700);
    strata_group_params_init(&gp);
    gp.sii.reps = 2000;
    gp.budget = 250000;
    strata_sdc_params_init(&sp);
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, NULL, &t[0]), STRATA_OK);
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    assert_status(ctx, strata_table_write_csv(ctx, t[0], path), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "table summary is aggregate");
    assert_status(ctx, strata_group_inequality(ctx, &gp, &in, P->grp, NG, gnames, &t[1]), STRATA_OK);
    assert_status(ctx, strata_group_sii(ctx, &gp, &in, P->grp, NG, gnames, &t[2]), STRATA_OK);
    assert_status(ctx, strata_disclose_set(ctx, &sp, 3, t), STRATA_OK);
    assert_same_hidden(t[0], t[1]);
    for (int k = 0; k < 3; k++) {
        assert_no_lone_hidden(t[k]);
        for (size_t j = 0; j < strata_table_ncols(t[k]); j++) /* naming convention the scan relies on */
            assert_int_equal(strata_table_col_is_count(t[k], (int)j),
                             is_count_col(strata_table_col_name(t[k], (int)j)));
        snprintf(path, sizeof path, "%s/%s.csv", dir, strata_table_name(t[k]));
        assert_status(ctx, strata_table_write_csv(ctx, t[k], path), STRATA_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
    }
    /* the SII of mean risk falls with affluence (risk built to rise with deprivation) */
    assert_true(V(t[2], "sii", NG) < 0);
    assert_true(V(t[2], "sii_hi", NG) < 0);
    /* observed events follow the same gradient: SII of the event rate negative too */
    assert_true(V(t[2], "sii_hi_obs", NG) < 0);
    assert_int_equal((int)V(t[2], "deciles_used_obs", NG), 10);
    /* patient-level list: 0600, not scanned */
    strata_list_params_init(&lp);
    assert_status(ctx, strata_intervention_select(ctx, &lp, NP, P->risk, NULL, P->grp, NG, P->imd,
                                                  rows, rank, &nsel), STRATA_OK);
    {
        static const char *const terms[2] = {"age", "deprivation"};
        int32_t *rt = malloc(nsel * 2 * sizeof *rt);
        strata_list_columns lc = {0};
        for (size_t k = 0; k < nsel; k++)
            rt[2 * k] = 0, rt[2 * k + 1] = k % 2 ? 1 : -1;
        lc.risk = P->risk, lc.tier = P->tier, lc.segment = P->seg, lc.group = P->grp;
        lc.group_names = gnames, lc.k_reasons = 2, lc.reason_term = rt, lc.term_names = terms;
        lc.imd_decile = P->imd;
        assert_status(ctx, strata_list_table(ctx, &lc, nsel, rows, rank, &list), STRATA_OK);
        free(rt);
    }
    snprintf(path, sizeof path, "%s/intervention_list.csv", dir);
    assert_status(ctx, strata_table_write_csv(ctx, list, path), STRATA_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    {
        char *text = tu_read_file(path, NULL), line[256], want[256];
        size_t i = rows[0];
        assert_contains(text, "rank,patient_id,group,practice,risk,tier,segment,frailty,ltc_count,"
                              "charlson,core20,imd_decile,reason_1,reason_2\r\n");
        assert_contains(text, ",age,deprivation\r\n");
        /* first listed patient: row number as id (no id column), the group's name,
         * risk to 9 significant digits, empty cells for the inputs not given */
        snprintf(line, sizeof line, "%s", strstr(text, "\r\n") + 2);
        line[strcspn(line, "\r")] = '\0';
        snprintf(want, sizeof want, "1,%zu,%s,,%.9g,%d,%s,,,,%d,%d,age,", i + 1, gnames[P->grp[i]],
                 P->risk[i], P->tier[i], strata_segment_name(P->seg[i]), strata_core20(P->imd[i]),
                 P->imd[i]);
        assert_string_equal(line, want);
        free(text);
    }
    assert_int_equal(scan_dir_for_small_counts(dir), 3);
    assert_status(ctx, strata_table_write_csv(ctx, t[0], "/nonexistent-dir/summary.csv"), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "/nonexistent-dir/summary.csv");
    /* RFC 4180: the group name with a comma and quotes is quoted and doubled */
    {
        char *text;
        snprintf(path, sizeof path, "%s/summary.csv", dir);
        text = tu_read_file(path, NULL);
        assert_contains(text, "\r\n\"Tiny, \"\"PCN\"\"\",*,");
        free(text);
    }
    for (int k = 0; k < 3; k++)
        strata_table_free(ctx, t[k]);
    strata_table_free(ctx, list);
    free(rows), free(rank), free(P);
    strata_ctx_free(ctx);
}

/* Every class="count" element of the report holds "*", nothing, or a
 * multiple of 5 outside 1-7; returns how many were checked. */
static int scan_html_counts(const char *html)
{
    int n = 0;
    for (const char *p = html; (p = strstr(p, "class=\"count\">")) != NULL; n++) {
        char buf[64];
        size_t k = 0;
        double v;
        p += strlen("class=\"count\">");
        while (p[k] && p[k] != '<' && k < sizeof buf - 1)
            buf[k] = p[k], k++;
        buf[k] = 0;
        if (!k || !strcmp(buf, "*"))
            continue;
        v = strtod(buf, NULL);
        if ((v >= 1 && v <= 7) || fmod(v, 5) != 0)
            fail_msg("report shows count %s", buf);
    }
    return n;
}

static void test_report__charts_present_counts_disclosed(void **state)
{
    pop *P = make_pop();
    strata_tier_params tp;
    strata_group_params gp;
    strata_sdc_params sp;
    strata_table *t[4];
    strata_funnel fn;
    strata_ctx *ctx = tu_ctx();
    strata_strat_input in = make_input(P, &tp, ctx);
    const double pred[5] = {0.02, 0.05, 0.1, 0.2, 0.4}, obs[5] = {0.025, 0.05, 0.11, 0.18, 0.41};
    static const char *const keys[2] = {"model", "AUC"}, *const vals[2] = {"GLM <logit>", "0.81"};
    strata_report_input ri = {0};
    char path[1024], *html;
    int jn, ja;
    (void)state;
    strata_group_params_init(&gp);
    gp.sii.reps = 2000;
    gp.funnel.od = STRATA_OD_WINSORISE;
    strata_sdc_params_init(&sp);
    assert_status(ctx, strata_group_summary(ctx, &gp, &in, P->grp, NG, gnames, &fn, &t[0]), STRATA_OK);
    assert_status(ctx, strata_group_inequality(ctx, &gp, &in, P->grp, NG, gnames, &t[1]), STRATA_OK);
    assert_status(ctx, strata_group_sii(ctx, &gp, &in, P->grp, NG, gnames, &t[2]), STRATA_OK);
    assert_status(ctx, strata_table_new(ctx, "fairness", 2, &t[3]), STRATA_OK);
    assert_status(ctx, strata_table_add(ctx, t[3], "subgroup", STRATA_COL_KEY, 0, -1, -1, &jn), STRATA_OK);
    assert_status(ctx, strata_table_set_key(ctx, t[3], jn, 0, "Black"), STRATA_OK);
    assert_status(ctx, strata_table_set_key(ctx, t[3], jn, 1, "White"), STRATA_OK);
    assert_status(ctx, strata_table_add(ctx, t[3], "n_patients", STRATA_COL_COUNT, 0, -1, -1, &jn), STRATA_OK);
    assert_status(ctx, strata_table_add(ctx, t[3], "auc", STRATA_COL_RATIO, 3, -1, -1, &ja), STRATA_OK);
    assert_status(ctx, strata_table_set(ctx, t[3], jn, 0, 6), STRATA_OK);
    assert_status(ctx, strata_table_set(ctx, t[3], jn, 1, 4812), STRATA_OK);
    assert_status(ctx, strata_table_set(ctx, t[3], ja, 0, 0.7), STRATA_OK);
    assert_status(ctx, strata_table_set(ctx, t[3], ja, 1, 0.8), STRATA_OK);
    ri.title = "Test ICB";
    ri.summary = t[0], ri.inequality = t[1], ri.sii = t[2], ri.fairness = t[3], ri.funnel = &fn;
    ri.n_calib = 5, ri.calib_pred = pred, ri.calib_obs = obs;
    ri.n_card = 2, ri.card_keys = keys, ri.card_values = vals;
    snprintf(path, sizeof path, "%s", tu_tmp("report.html"));
    assert_status(ctx, strata_report_html(ctx, &ri, path), STRATA_EINVAL);
    assert_contains(strata_ctx_errmsg(ctx), "table summary has not been through disclosure");
    assert_status(ctx, strata_disclose_set(ctx, &sp, 3, t), STRATA_OK);
    assert_status(ctx, strata_disclose(ctx, &sp, t[3]), STRATA_OK);
    assert_status(ctx, strata_report_html(ctx, &ri, path), STRATA_OK);
    html = tu_read_file(path, NULL);
    assert_non_null(html);
    assert_contains(html, "<svg class=\"pyramid\"");
    assert_contains(html, "<rect class=\"tier1\"");
    assert_contains(html, "<svg class=\"funnel\"");
    assert_contains(html, "<polyline class=\"limit95\"");
    assert_contains(html, "<polyline class=\"limit998\"");
    assert_contains(html, "<circle class=\"unit high\""); /* U4 runs 1.6x: above the limits */
    assert_contains(html, "<svg class=\"gradient\"");
    assert_contains(html, "<line class=\"sii\"");
    assert_contains(html, "<svg class=\"calibration\"");
    assert_contains(html, "<circle class=\"calib\"");
    assert_contains(html, "GLM &lt;logit&gt;");
    assert_contains(html, "<td class=\"count\">24000</td>");
    /* the 5-person group: list size and mean risk withheld, name escaped */
    assert_contains(html, "<td class=\"key\">Tiny, &quot;PCN&quot;</td><td class=\"count\">*</td>"
                          "<td class=\"ratio\">*</td>");
    assert_contains(html, "<td class=\"count\">4810</td>"); /* fairness n rounded */
    assert_contains(html, "<td class=\"count\">*</td>");    /* fairness n = 6 hidden */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_true(scan_html_counts(html) > 100);
    free(html);
    for (int k = 0; k < 4; k++)
        strata_table_free(ctx, t[k]);
    free(P);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_efi_category__clegg_boundaries),
        cmocka_unit_test(test_charlson__weights_per_flag),
        cmocka_unit_test(test_segments__rules_in_priority_order),
        cmocka_unit_test(test_tiers__sizes_ties_and_groups),
        cmocka_unit_test(test_reason_codes__top_k_relative_to_mean),
        cmocka_unit_test(test_reason_codes__grouped_by_variable),
        cmocka_unit_test(test_reason_text__clinical_phrases),
        cmocka_unit_test(test_plus_flags_and_patient_stratification),
        cmocka_unit_test(test_intervention_list__capacity_and_prop_univ),
        cmocka_unit_test(test_group_summary__values_before_disclosure),
        cmocka_unit_test(test_group_sii__same_bytes_whatever_the_threads),
        cmocka_unit_test(test_group_sums__blocks_give_the_same_bytes),
        cmocka_unit_test(test_disclosure__secondary_not_undoable_without_rounding),
        cmocka_unit_test(test_disclosure__practices_and_pcns_protected_together),
        cmocka_unit_test(test_outputs__no_aggregate_csv_shows_counts_1_to_7),
        cmocka_unit_test(test_report__charts_present_counts_disclosed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
