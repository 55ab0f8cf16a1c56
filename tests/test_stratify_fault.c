/* labels: fault */
/* tests/test_stratify_fault.c — every allocation of the stratify pipeline
 * (tiers, summary, inequality, SII, disclosure, lists, CSV and HTML writers)
 * fails in turn: the result is success or a clean ENOMEM, never a crash or
 * a leak (the sanitizer build checks leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/stratify.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N = 400, G = 4 };

typedef struct data {
    double risk[N], obs[N];
    int32_t grp[N], age[N], sex[N], imd[N];
    uint8_t tier[N], seg[N];
    size_t rows[N];
    uint32_t rank[N];
    uint8_t c5[N];
} data;

static const char *const names[G] = {"A", "B", "C", "D"};

static strata_status run(strata_ctx *ctx, data *d, const char *dir)
{
    strata_tier_params tp;
    strata_group_params gp;
    strata_sdc_params sp;
    strata_list_params lp;
    strata_strat_input in = {0};
    strata_table *t[5] = {NULL, NULL, NULL, NULL, NULL};
    strata_funnel fn;
    strata_report_input ri = {0};
    strata_list_columns lc = {0};
    strata_status s;
    size_t nsel = 0;
    char path[1024];
    strata_tier_params_init(&tp);
    strata_group_params_init(&gp);
    gp.sii.reps = 1000;
    strata_sdc_params_init(&sp);
    strata_list_params_init(&lp);
    lp.per_group = 5;
    s = strata_tiers(ctx, &tp, N, d->risk, d->grp, G, d->tier);
    in.n = N, in.risk = d->risk, in.observed = d->obs, in.age = d->age, in.sex = d->sex;
    in.imd_decile = d->imd, in.tier = d->tier, in.n_tiers = 4, in.segment = d->seg;
    in.c5_mask = d->c5;
    if (s == STRATA_OK)
        s = strata_group_summary(ctx, &gp, &in, d->grp, G, names, &fn, &t[0]);
    if (s == STRATA_OK)
        s = strata_group_inequality(ctx, &gp, &in, d->grp, G, names, &t[1]);
    if (s == STRATA_OK)
        s = strata_group_sii(ctx, &gp, &in, d->grp, G, names, &t[2]);
    if (s == STRATA_OK) /* Core20PLUS5 from the condition areas, in the same set */
        s = strata_group_core20plus5(ctx, &in, d->grp, G, names, &t[4]);
    if (s == STRATA_OK) {
        strata_table *set[4] = {t[0], t[1], t[2], t[4]};
        s = strata_disclose_set(ctx, &sp, 4, set);
    }
    for (int k = 0; k < 3 && s == STRATA_OK; k++) {
        snprintf(path, sizeof path, "%s/%s.csv", dir, strata_table_name(t[k]));
        s = strata_table_write_csv(ctx, t[k], path);
    }
    if (s == STRATA_OK)
        s = strata_intervention_select(ctx, &lp, N, d->risk, NULL, d->grp, G, d->imd, d->rows,
                                       d->rank, &nsel);
    lc.risk = d->risk, lc.tier = d->tier, lc.segment = d->seg, lc.group = d->grp;
    lc.group_names = names;
    if (s == STRATA_OK)
        s = strata_list_table(ctx, &lc, nsel, d->rows, d->rank, &t[3]);
    snprintf(path, sizeof path, "%s/list.csv", dir);
    if (s == STRATA_OK)
        s = strata_table_write_csv(ctx, t[3], path);
    ri.summary = t[0], ri.inequality = t[1], ri.sii = t[2], ri.funnel = &fn;
    snprintf(path, sizeof path, "%s/report.html", dir);
    if (s == STRATA_OK)
        s = strata_report_html(ctx, &ri, path);
    for (int k = 0; k < 5; k++)
        strata_table_free(ctx, t[k]);
    return s;
}

static void test_stratify_pipeline__every_allocation_failure_is_clean(void **state)
{
    static data d;
    strata_ctx *ctx = tu_ctx();
    const char *dir = tu_tmp("fault");
    long k;
    uint64_t x = 3;
    (void)state;
    tu_run_sh(NULL, "mkdir -p '%s'", dir);
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        d.grp[i] = (int32_t)((x >> 33) % G);
        d.age[i] = (int32_t)((x >> 20) % 90);
        d.sex[i] = (int32_t)((x >> 40) % 2);
        d.imd[i] = (int32_t)(1 + (x >> 45) % 10);
        d.risk[i] = 0.02 + 0.004 * d.age[i];
        d.obs[i] = ((x >> 50) % 100) < 100 * d.risk[i];
        d.seg[i] = (uint8_t)((x >> 55) % STRATA_N_SEGMENTS);
        d.c5[i] = (uint8_t)((x >> 40) & 0x1e); /* SMI, respiratory, cancer, hypertension */
    }
    tu_fault_install(ctx);
    for (k = 1; k < 100000; k++) {
        strata_status s;
        tu_fault_arm(k);
        s = run(ctx, &d, dir);
        if (s == STRATA_OK)
            break;
        if (s != STRATA_ENOMEM)
            fail_msg("allocation %ld: status %s: %s", k, strata_status_str(s),
                     strata_ctx_errmsg(ctx));
    }
    tu_fault_arm(-1);
    assert_true(k > 20); /* the sweep really reached the whole pipeline */
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stratify_pipeline__every_allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
