/* labels: unit */
/* tests/test_derive.c — strata derive on hand-built cohorts: every window edge
 * (event on the index date, on both window ends, after death, before
 * registration), the population's exclusions by reason, Charlson/Elixhauser
 * hierarchy, code matching (prefix, dot, X padding), every eFI category
 * boundary, outcomes with censoring, thread-count invariance and spec errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"
#include "test_columns.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* index 2025-04-01 = day 20179 */
static const char *patients_csv =
    "id,sex,birth,death,reg_start,reg_end\n"
    "p1,F,1950-01-01,,,\n"
    "p2,M,1950-01-01,2025-03-31,,\n"       /* died the day before: excluded */
    "p3,F,1950-01-01,,,2025-03-31\n"       /* deregistered the day before: excluded */
    "p4,M,1950-01-01,,2025-04-02,\n"       /* registers the day after: excluded */
    "p5,F,2025-04-02,,,\n"                 /* born the day after: excluded */
    "p6,M,1950-01-01,2025-04-11,,\n"       /* dies at index + 10 */
    "p7,F,1950-01-01,,,2025-07-10\n"       /* deregistered at index + 100 */
    "p8,M,1950-01-01,,2025-04-01,\n"       /* registered on the index date: included */
    "p9,F,1950-01-01,,2024-12-22,\n";      /* registered at index - 100 */

static const char *spells_csv =
    "pid,admit,method,diag_01,diag_02,los\n"
    "p1,2024-03-31,emergency,I10X,,1\n"    /* index - 366: outside [-365, -1] */
    "p1,2024-04-01,emergency,I10.X,,2\n"   /* index - 365: first day of the window */
    "p1,2025-03-31,emergency,i10,,4\n"     /* index - 1: last day of the window */
    "p1,2025-04-01,emergency,E10.9,E10.2,8\n" /* the index date: follow-up, not look-back */
    "p1,2026-03-31,emergency,K70.3,I85.0,16\n" /* index + 364: last day of follow-up */
    "p1,2026-04-01,emergency,I50,,32\n"    /* index + 365: outside [0, 364] */
    "p6,2025-04-06,emergency,I21,,1\n"     /* index + 5 */
    "p6,2025-04-21,emergency,I21,,1\n"     /* index + 20: after death */
    "p9,2024-09-13,elective,I10,,3\n";     /* index - 200: before registration */

static const char *spec_yaml =
    "index_date: 2025-04-01\n"
    "codelists:\n"
    "  htn: {path: htn.csv, match: prefix}\n"
    "features:\n"
    "  - {name: em_12m, kind: count, table: spells, where: \"method == emergency\", window: [-365, -1]}\n"
    "  - {name: any_12m, kind: any, table: spells, window: [-365, -1]}\n"
    "  - {name: ever_htn, kind: ever, table: spells, codelist: htn/hypertension}\n"
    "  - {name: los_12m, kind: sum, table: spells, value: los, window: [-365, -1]}\n"
    "  - {name: los_max, kind: max, table: spells, value: los, window: [-400, -1]}\n"
    "  - {name: los_last, kind: last, table: spells, value: los, window: [-400, -1]}\n"
    "  - {name: since, kind: days_since, table: spells}\n"
    "  - {name: ndiag, kind: distinct, table: spells, window: [-400, -1]}\n"
    "  - {name: on_index, kind: count, table: spells, window: [0, 0]}\n"
    "outcomes:\n"
    "  - {name: em_fu, kind: count, table: spells, where: \"method == emergency\", window: [0, 364]}\n"
    "  - {name: cost_fu, kind: sum, table: spells, value: los, window: [0, 364]}\n"
    "  - {name: tte, kind: time_to_first, table: spells, window: [0, 364], censor: [death_date, deregistration_date]}\n"
    "  - {name: charlson_fu, kind: count, table: spells, window: [0, 364]}\n";

static void setup_cohort(void)
{
    char *out = NULL;
    tu_write_file(tu_tmp("patients.csv"), patients_csv);
    tu_write_file(tu_tmp("spells.csv"), spells_csv);
    tu_write_file(tu_tmp("htn.csv"), "code,category\nI10,hypertension\n");
    remove(tu_tmp("c.h5"));
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id --role sex=sex "
                                      "--role birth_date=birth --role death_date=death "
                                      "--role registration_start=reg_start "
                                      "--role registration_end=reg_end --quiet",
                                tu_tmp("patients.csv"), tu_tmp("c.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table spells --id pid "
                                      "--date admit --code diag_01,diag_02 --code-system icd10 "
                                      "--cat method --value los --quiet",
                                tu_tmp("spells.csv"), tu_tmp("c.h5")), 0);
    free(out);
}

/* Asserts column name equals want (NaN matches NaN) over the included rows. */
static void expect(const char *path, const char *name, const double *want, size_t n)
{
    size_t got_n;
    double *v = tu_column_f64(path, name, &got_n);
    assert_int_equal(got_n, n);
    for (size_t i = 0; i < n; i++)
        if (!(isnan(want[i]) && isnan(v[i])) && v[i] != want[i])
            fail_msg("%s row %zu: got %g, want %g", name, i, v[i], want[i]);
    free(v);
}

static void test_derive__windows_population_outcomes(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_derive_report rep;
    const char *f = tu_tmp("f.h5");
    (void)state;
    setup_cohort();
    tu_write_file(tu_tmp("d.yaml"), spec_yaml);
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d.yaml"), f, &rep), STRATA_OK);
    /* included: p1, p6, p7, p8, p9 */
    assert_int_equal(rep.n_patients, 9);
    assert_int_equal(rep.n_included, 5);
    assert_int_equal(rep.n_excluded[1], 1); /* not born */
    assert_int_equal(rep.n_excluded[2], 1); /* died */
    assert_int_equal(rep.n_excluded[3], 1); /* not yet registered */
    assert_int_equal(rep.n_excluded[4], 1); /* deregistered */
    {
        const double em[] = {2, 0, 0, 0, 0}, any[] = {1, 0, 0, 0, 1}, ever[] = {1, 0, 0, 0, 1};
        const double los[] = {6, 0, 0, 0, 3}, mx[] = {4, NAN, NAN, NAN, 3};
        const double last[] = {4, NAN, NAN, NAN, 3}, since[] = {1, NAN, NAN, NAN, 200};
        const double nd[] = {1, 0, 0, 0, 1}, onix[] = {1, 0, 0, 0, 0};
        expect(f, "em_12m", em, 5);
        expect(f, "any_12m", any, 5);
        expect(f, "ever_htn", ever, 5);
        expect(f, "los_12m", los, 5);
        expect(f, "los_max", mx, 5);
        expect(f, "los_last", last, 5);
        expect(f, "since", since, 5);
        expect(f, "ndiag", nd, 5);
        expect(f, "on_index", onix, 5);
    }
    {
        /* p1: index date and index+364 count, index+365 not; p6: index+5, the event after
         * death is ignored; p7: censored at deregistration (100); p8, p9: censored at the
         * end of the window [0, 364], i.e. after 365 whole days. */
        const double em[] = {2, 1, 0, 0, 0}, cost[] = {24, 1, 0, 0, 0};
        const double tte[] = {0, 5, 100, 365, 365}, ev[] = {1, 1, 0, 0, 0};
        expect(f, "em_fu", em, 5);
        expect(f, "cost_fu", cost, 5);
        expect(f, "tte", tte, 5);
        expect(f, "tte_event", ev, 5);
    }
    strata_ctx_free(ctx);
}

static void test_derive__same_bytes_for_1_and_2_threads(void **state)
{
    strata_ctx *ctx = tu_ctx();
    (void)state;
    setup_cohort();
    tu_write_file(tu_tmp("d.yaml"), spec_yaml);
    strata_ctx_set_threads(ctx, 1);
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d.yaml"), tu_tmp("t1.h5"), NULL),
                  STRATA_OK);
    strata_ctx_set_threads(ctx, 2);
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d.yaml"), tu_tmp("t2.h5"), NULL),
                  STRATA_OK);
    assert_true(tu_files_equal(tu_tmp("t1.h5"), tu_tmp("t2.h5")));
    strata_ctx_free(ctx);
}

static void test_derive__charlson_elixhauser_hierarchy(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *f = tu_tmp("h.h5");
    (void)state;
    setup_cohort();
    /* p1 follow-up [0, 364]: E10.9 diab + E10.2 diabwc -> diabwc only; K70.3 mld + I85.0 msld
     * -> msld only. Charlson 1987: diabwc 2 + msld 3 = 5; Quan 2011: 1 + 4 = 5.
     * Elixhauser (van Walraven): E10.2 diabc 0 (diabunc E10.9 dropped), K70.3 ld 11,
     * I85.0 ld -> 11. p6: I21 mi -> Charlson 1987 1, Quan 0. */
    tu_write_file(tu_tmp("h.yaml"),
                  "index_date: 2025-04-01\n"
                  "features:\n"
                  "  - {name: c87, kind: charlson, table: spells, weights: charlson1987, window: [0, 364]}\n"
                  "  - {name: c11, kind: charlson, table: spells, codes: diag_*, weights: quan2011, window: [0, 364]}\n"
                  "  - {name: c11p, kind: charlson, table: spells, codes: diag_01, window: [0, 364]}\n"
                  "  - {name: elix, kind: elixhauser, table: spells, window: [0, 364]}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("h.yaml"), f, NULL), STRATA_OK);
    {
        const double c87[] = {5, 1, 0, 0, 0}, c11[] = {5, 0, 0, 0, 0};
        const double c11p[] = {2, 0, 0, 0, 0}; /* primary only: E10.9 diab 0 + K70.3 mld 2 */
        const double elix[] = {11, 0, 0, 0, 0};
        expect(f, "c87", c87, 5);
        expect(f, "c11", c11, 5);
        expect(f, "c11p", c11p, 5);
        expect(f, "elix", elix, 5);
    }
    strata_ctx_free(ctx);
}

static void test_derive__code_matching(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_codelist *cl = NULL;
    size_t rows[8];
    char norm[32];
    (void)state;
    tu_write_file(tu_tmp("cl.csv"), "code,category,match\nI10,htn,prefix\nI1,wide,exact\n"
                                    "E11.9,dm,\n22298006,mi,exact\n");
    assert_status(ctx, strata_codelist_load(ctx, tu_tmp("cl.csv"), STRATA_MATCH_EXACT, &cl),
                  STRATA_OK);
    assert_int_equal(strata_codelist_ncategories(cl), 4);
    assert_int_equal(strata_codelist_match(cl, "I10X", rows, 8), 1);
    assert_int_equal(rows[0], 0);
    assert_int_equal(strata_codelist_match(cl, "I10.X", rows, 8), 1);
    assert_int_equal(strata_codelist_match(cl, " i10 ", rows, 8), 1);
    assert_int_equal(strata_codelist_match(cl, "I10.9", rows, 8), 1); /* prefix */
    assert_int_equal(strata_codelist_match(cl, "I11", rows, 8), 0);   /* I1 is exact */
    assert_int_equal(strata_codelist_match(cl, "I1", rows, 8), 1);
    assert_int_equal(strata_codelist_match(cl, "E119", rows, 8), 1);  /* dot ignored */
    assert_int_equal(strata_codelist_match(cl, "E11.91", rows, 8), 0); /* exact by default */
    assert_int_equal(strata_codelist_match(cl, "22298006", rows, 8), 1);
    assert_int_equal(strata_codelist_match(cl, "222980061", rows, 8), 0);
    strata_code_normalise("C78X", norm, sizeof norm);
    assert_string_equal(norm, "C78");
    strata_code_normalise("XaK8X", norm, sizeof norm); /* CTV3: not X padding */
    assert_string_equal(norm, "XAK8X");
    strata_codelist_free(cl);
    tu_write_file(tu_tmp("bad.csv"), "code,category,match\nI10,htn,fuzzy\n");
    assert_status(ctx, strata_codelist_load(ctx, tu_tmp("bad.csv"), STRATA_MATCH_EXACT, &cl),
                  STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "line 2, column 'match': value 'fuzzy'");
    tu_write_file(tu_tmp("bad.csv"), "code,group\nI10,htn\n");
    assert_status(ctx, strata_codelist_load(ctx, tu_tmp("bad.csv"), STRATA_MATCH_EXACT, &cl),
                  STRATA_EDATA);
    strata_ctx_free(ctx);
}

static void test_derive__efi_category_boundaries(void **state)
{
    /* One SNOMED code from each of 13 eFI deficits (data/codelists/efi_codes.csv). */
    static const char *const codes[13] = {"21134002", "3978000",  "3723001",  "5370000",
                                          "1508000",  "29738008", "4855003",  "7956006",
                                          "60845006", "1912002",  "47850008", "5913000",
                                          "6012004"};
    static const int nd[6] = {4, 5, 8, 9, 12, 13};
    char csv[8192];
    size_t len = 0;
    strata_ctx *ctx = tu_ctx();
    char *out = NULL, f[1024];
    (void)state;
    snprintf(f, sizeof f, "%s", tu_tmp("efi.h5")); /* tu_tmp's buffers rotate */
    tu_write_file(tu_tmp("ep.csv"), "id,sex\n1,F\n2,M\n3,F\n4,M\n5,F\n6,M\n");
    len += (size_t)snprintf(csv + len, sizeof csv - len, "pid,date,code\n");
    for (int p = 0; p < 6; p++)
        for (int k = 0; k < nd[p]; k++) /* each code twice: deficits are counted once */
            for (int rep = 0; rep < 2; rep++)
                len += (size_t)snprintf(csv + len, sizeof csv - len, "%d,2024-0%d-15,%s\n", p + 1,
                                        rep + 1, codes[k]);
    tu_write_file(tu_tmp("gp.csv"), csv);
    remove(tu_tmp("e.h5"));
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id --role sex=sex "
                                      "--quiet", tu_tmp("ep.csv"), tu_tmp("e.h5")), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table gp_events --id pid "
                                      "--date date --code code --code-system snomed --quiet",
                                tu_tmp("gp.csv"), tu_tmp("e.h5")), 0);
    free(out);
    tu_write_file(tu_tmp("efi.yaml"), "index_date: 2025-04-01\nfeatures:\n"
                                      "  - {name: efi, kind: efi, table: gp_events, window: [-1825, -1]}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("e.h5"), tu_tmp("efi.yaml"), f, NULL), STRATA_OK);
    {
        /* Clegg 2016: fit <= 0.12 < mild <= 0.24 < moderate <= 0.36 < severe */
        const double d[] = {4, 5, 8, 9, 12, 13}, cat[] = {0, 1, 1, 2, 2, 3};
        const double score[] = {4 / 36.0, 5 / 36.0, 8 / 36.0, 9 / 36.0, 12 / 36.0, 13 / 36.0};
        expect(f, "efi", d, 6);
        expect(f, "efi_category", cat, 6);
        expect(f, "efi_score", score, 6);
    }
    strata_ctx_free(ctx);
}

static const char *rx_csv =
    "pid,date,bnf,issue\n"
    "p1,2025-01-06,0212000B0,repeat\n" /* index - 85: outside [-84, -1] */
    "p1,2025-01-07,0212000B0,repeat\n" /* index - 84: first day of [-84, -1] */
    "p1,2025-02-01,0205051R0,repeat\n"
    "p1,2025-03-01,0501013B0,acute\n"
    "p1,2025-03-15,0206020R0,repeat\n" /* same BNF paragraph (020602) as amlodipine */
    "p1,2025-03-31,0206020A0,repeat\n" /* index - 1 */
    "p1,2025-04-01,0601022B0,repeat\n" /* the index date: follow-up */
    "p6,2025-04-11,0212000B0,repeat\n" /* the day of death (index + 10): counted */
    "p6,2025-04-12,0212000B0,repeat\n" /* after death: not counted */
    "p7,2025-07-10,0205051R0,repeat\n" /* the day of deregistration (index + 100): counted */
    "p7,2025-07-11,0205051R0,repeat\n" /* after deregistration */
    "p8,2025-03-01,0103050P0,repeat\n" /* before registration (registered on the index date) */
    "p8,2025-04-01,0103050P0,repeat\n"
    "p9,2024-12-21,0602010V0,repeat\n" /* the day before registration (index - 101) */
    "p9,2024-12-22,0602010V0,repeat\n"; /* the day of registration (index - 100) */

static void setup_rx(void)
{
    char *out = NULL;
    setup_cohort();
    tu_write_file(tu_tmp("rx.csv"), rx_csv);
    assert_int_equal(tu_run_cli(&out, "import events '%s' --cohort '%s' --table rx --id pid "
                                      "--date date --code bnf --code-system bnf --cat issue --quiet",
                                tu_tmp("rx.csv"), tu_tmp("c.h5")), 0);
    free(out);
}

/* Prescriptions: distinct drugs, BNF paragraphs (code_prefix: 6) and chapters
 * (2) in a window, polypharmacy as at_least; registered_only drops events
 * before registration and after deregistration or death (the days themselves
 * count); outcomes stop at death and deregistration, events on those days
 * counted; censor: [death_date] alone keeps events after deregistration. */
static void test_derive__prescriptions_registration_and_censoring_edges(void **state)
{
    strata_ctx *ctx = tu_ctx();
    char f[4096];
    (void)state;
    snprintf(f, sizeof f, "%s", tu_tmp("rx.h5"));
    setup_rx();
    tu_write_file(tu_tmp("rx.yaml"),
                  "index_date: 2025-04-01\n"
                  "features:\n"
                  "  - {name: rep84, kind: distinct, table: rx, codes: bnf, where: \"issue == repeat\", window: [-84, -1]}\n"
                  "  - {name: para84, kind: distinct, table: rx, where: \"issue == repeat\", window: [-84, -1], code_prefix: 6}\n"
                  "  - {name: chap12m, kind: distinct, table: rx, window: [-365, -1], code_prefix: 2}\n"
                  "  - {name: poly4, kind: distinct, table: rx, where: \"issue == repeat\", window: [-84, -1], at_least: 4}\n"
                  "  - {name: n12m, kind: count, table: rx, window: [-365, -1]}\n"
                  "  - {name: n12m_reg, kind: count, table: rx, window: [-365, -1], registered_only: true}\n"
                  "  - {name: around, kind: count, table: rx, window: [-365, 364], registered_only: true}\n"
                  "  - {name: around_all, kind: count, table: rx, window: [-365, 364]}\n"
                  "outcomes:\n"
                  "  - {name: rx_fu, kind: count, table: rx, window: [0, 364]}\n"
                  "  - {name: rx_fu_death, kind: count, table: rx, window: [0, 364], censor: [death_date]}\n"
                  "  - {name: rx2, kind: count, table: rx, window: [0, 364], at_least: 2, censor: death_date}\n"
                  "  - {name: rx_tte, kind: time_to_first, table: rx, window: [0, 364]}\n"
                  "  - {name: ac_tte, kind: time_to_first, table: rx, where: \"issue == acute\", "
                  "window: [0, 364], censor: [], registered_only: true}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("rx.yaml"), f, NULL), STRATA_OK);
    { /* rows: p1, p6 (dies index + 10), p7 (deregistered index + 100), p8 (registered on the
       * index date), p9 (registered index - 100) */
        const double rep84[] = {4, 0, 0, 1, 0}, para84[] = {3, 0, 0, 1, 0};
        const double chap[] = {2, 0, 0, 1, 1}, poly4[] = {1, 0, 0, 0, 0};
        const double n12m[] = {6, 0, 0, 1, 2}, n12m_reg[] = {6, 0, 0, 0, 1};
        const double around[] = {7, 1, 1, 1, 1}, around_all[] = {7, 2, 2, 2, 2};
        const double fu[] = {1, 1, 1, 1, 0}, fu_death[] = {1, 1, 2, 1, 0}, rx2[] = {0, 0, 1, 0, 0};
        const double tte[] = {0, 10, 100, 0, 365}, ev[] = {1, 1, 1, 1, 0};
        /* no acute issue in follow-up: censored at death (p6) and deregistration (p7) by
         * registered_only although censor: [] names neither */
        const double ac[] = {365, 10, 100, 365, 365};
        strata_cohort *c = NULL;
        size_t j;
        expect(f, "rep84", rep84, 5);
        expect(f, "para84", para84, 5);
        expect(f, "chap12m", chap, 5);
        expect(f, "poly4", poly4, 5);
        expect(f, "n12m", n12m, 5);
        expect(f, "n12m_reg", n12m_reg, 5);
        expect(f, "around", around, 5);
        expect(f, "around_all", around_all, 5);
        expect(f, "rx_fu", fu, 5);
        expect(f, "rx_fu_death", fu_death, 5);
        expect(f, "rx2", rx2, 5);
        expect(f, "rx_tte", tte, 5);
        expect(f, "rx_tte_event", ev, 5);
        expect(f, "ac_tte", ac, 5);
        assert_status(ctx, strata_cohort_open(ctx, f, &c), STRATA_OK);
        assert_status(ctx, strata_cohort_find(ctx, c, "poly4", &j), STRATA_OK);
        assert_int_equal(strata_cohort_column(c, j)->dtype, STRATA_DT_INT8); /* a 0/1 flag */
        strata_cohort_close(c);
    }
    /* registered_only at the top is every item's default; an item can turn it off */
    tu_write_file(tu_tmp("rx2.yaml"),
                  "index_date: 2025-04-01\nregistered_only: true\n"
                  "features:\n"
                  "  - {name: n12m, kind: count, table: rx, window: [-365, -1]}\n"
                  "  - {name: n12m_all, kind: count, table: rx, window: [-365, -1], registered_only: false}\n");
    snprintf(f, sizeof f, "%s", tu_tmp("rx2.h5"));
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("rx2.yaml"), f, NULL), STRATA_OK);
    {
        const double reg[] = {6, 0, 0, 0, 1}, all[] = {6, 0, 0, 1, 2};
        expect(f, "n12m", reg, 5);
        expect(f, "n12m_all", all, 5);
    }
    strata_ctx_free(ctx);
}

/* Runs derive with spec text and asserts the status and a message fragment. */
static void spec_error(const char *yaml, strata_status want, const char *fragment)
{
    strata_ctx *ctx = tu_ctx();
    tu_write_file(tu_tmp("bad.yaml"), yaml);
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("bad.yaml"), tu_tmp("bad.h5"),
                                     NULL), want);
    assert_contains(strata_ctx_errmsg(ctx), fragment);
    assert_false(tu_files_equal(tu_tmp("bad.h5"), tu_tmp("bad.h5"))); /* nothing written */
    strata_ctx_free(ctx);
}

static void test_derive__spec_errors_name_line_and_key(void **state)
{
    (void)state;
    setup_cohort();
    spec_error("index_date: 2025-02-30\nfeatures:\n  - {name: a, kind: count, table: spells}\n",
               STRATA_ESPEC, "'2025-02-30' is not a date");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: gp}\n",
               STRATA_ESPEC, "line 3: a: table 'gp' not in");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "where: \"route == emergency\"}\n", STRATA_ESPEC, "has no column 'route'");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "window: [0, -1]}\n", STRATA_ESPEC, "window [0, -1] is empty");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: sum, table: spells}\n",
               STRATA_ESPEC, "needs value: COLUMN");
    spec_error("index_date: 2025-04-01\noutcomes:\n  - {name: a, kind: any, table: spells}\n",
               STRATA_ESPEC, "needs a window");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "codelist: nope/x}\n", STRATA_ESPEC, "code list 'nope'");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: charlson, table: spells, "
               "weights: elix}\n", STRATA_ESPEC, "weights 'elix'");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "type: int64}\n", STRATA_ESPEC, "line 3: a: type 'int64' is not one of");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "event_name: e}\n", STRATA_ESPEC, "event_name is the indicator column");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells}\n"
               "  - {name: b, kind: add, of: [a, c]}\n", STRATA_ESPEC,
               "line 4: b: of: 'c' is not an earlier feature or outcome");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells}\n"
               "  - {name: a, kind: any, table: spells}\n", STRATA_ESPEC,
               "line 4: a: column patients/a is written by an earlier item too");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: any, table: spells, "
               "at_least: 2}\n", STRATA_ESPEC, "line 3: a: at_least applies to count, distinct");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells, "
               "code_prefix: 3}\n", STRATA_ESPEC, "line 3: a: code_prefix is a distinct item's");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells}\n"
               "  - {name: e, kind: efi, table: spells, polypharmacy: a}\n", STRATA_ESPEC,
               "line 4: e: polypharmacy: 'a' is not an earlier 0/1 feature");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: any, table: spells}\n"
               "  - {name: e, kind: count, table: spells, polypharmacy: a}\n", STRATA_ESPEC,
               "line 4: e: polypharmacy applies to kind efi");
    spec_error("index_date: 2025-04-01\nfeatures:\n  - {name: a, kind: count, table: spells}\n"
               "  - {name: b, kind: add, of: [a], at_least: 1}\n", STRATA_ESPEC,
               "line 4: b: kind add takes no at_least");
    spec_error("index_date: 2025-04-01\nregistered_only: maybe\nfeatures:\n"
               "  - {name: a, kind: count, table: spells}\n", STRATA_ESPEC,
               "line 2: key \"registered_only\": \"maybe\" is not true/false");
}

/* type: stores in the named type (NA as the type's NA); event_name names the
 * indicator; add sums earlier items in the order of of:; a derived column
 * replaces a copied one of the same name; death censors time_to_first on the
 * day of death; a value the type cannot hold is an error naming row and column. */
static void test_derive__types_event_name_add_and_replacement(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_derive_report rep;
    char f[4096];
    (void)state;
    snprintf(f, sizeof f, "%s", tu_tmp("f2.h5"));
    setup_cohort();
    tu_write_file(tu_tmp("d2.yaml"),
                  "index_date: 2025-04-01\n"
                  "features:\n"
                  "  - {name: since, kind: days_since, table: spells, type: int16}\n"
                  "  - {name: los_12m, kind: sum, table: spells, value: los, window: [-365, -1], type: int8}\n"
                  "  - {name: n_12m, kind: count, table: spells, window: [-400, -1]}\n"
                  "  - {name: both, kind: add, of: [los_12m, n_12m], type: float32}\n"
                  "outcomes:\n"
                  "  - {name: tte, kind: time_to_first, table: spells, window: [0, 364], "
                  "where: \"method == elective\", event_name: elective_event, type: int16}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d2.yaml"), f, &rep), STRATA_OK);
    assert_int_equal(rep.n_replaced, 0);
    {
        const double since[] = {1, NAN, NAN, NAN, 200}, both[] = {6 + 3, 0, 0, 0, 3 + 1};
        /* p6 dies at index + 10: censored on that day */
        const double tte[] = {365, 10, 100, 365, 365}, ev[] = {0, 0, 0, 0, 0};
        strata_dtype want[] = {STRATA_DT_INT16, STRATA_DT_INT8, STRATA_DT_FLOAT32, STRATA_DT_INT16,
                               STRATA_DT_INT8};
        const char *names[] = {"since", "los_12m", "both", "tte", "elective_event"};
        strata_cohort *c = NULL;
        expect(f, "since", since, 5);
        expect(f, "both", both, 5);
        expect(f, "tte", tte, 5);
        expect(f, "elective_event", ev, 5);
        assert_status(ctx, strata_cohort_open(ctx, f, &c), STRATA_OK);
        for (size_t k = 0; k < 5; k++) {
            size_t j;
            assert_status(ctx, strata_cohort_find(ctx, c, names[k], &j), STRATA_OK);
            assert_int_equal(strata_cohort_column(c, j)->dtype, want[k]);
        }
        { /* NA of a plain int16 column is INT16_MIN */
            int16_t v[5];
            size_t j;
            assert_status(ctx, strata_cohort_find(ctx, c, "since", &j), STRATA_OK);
            assert_status(ctx, strata_cohort_read_native(ctx, c, j, 0, 5, v), STRATA_OK);
            assert_int_equal(v[1], INT16_MIN);
            assert_int_equal(v[4], 200);
        }
        strata_cohort_close(c);
    }
    /* a feature named as a /patients column replaces it */
    tu_write_file(tu_tmp("d4.yaml"), "index_date: 2025-04-01\nfeatures:\n"
                                     "  - {name: sex, kind: count, table: spells}\n");
    snprintf(f, sizeof f, "%s", tu_tmp("f5.h5"));
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d4.yaml"), f, &rep), STRATA_OK);
    assert_int_equal(rep.n_replaced, 1);
    {
        const double n[] = {3, 0, 0, 0, 1}; /* events before the index date */
        expect(f, "sex", n, 5);
    }
    tu_write_file(tu_tmp("d3.yaml"), "index_date: 2025-04-01\nfeatures:\n"
                                     "  - {name: s, kind: days_since, table: spells, type: int8}\n");
    assert_status(ctx, strata_derive(ctx, tu_tmp("c.h5"), tu_tmp("d3.yaml"), tu_tmp("f4.h5"), NULL),
                  STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "/patients row 9: derived patients/s = 200 does not fit "
                                            "its type int8");
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive__windows_population_outcomes),
        cmocka_unit_test(test_derive__same_bytes_for_1_and_2_threads),
        cmocka_unit_test(test_derive__charlson_elixhauser_hierarchy),
        cmocka_unit_test(test_derive__code_matching),
        cmocka_unit_test(test_derive__efi_category_boundaries),
        cmocka_unit_test(test_derive__prescriptions_registration_and_censoring_edges),
        cmocka_unit_test(test_derive__spec_errors_name_line_and_key),
        cmocka_unit_test(test_derive__types_event_name_add_and_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
