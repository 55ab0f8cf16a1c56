/* bench/bench_stratify.c — times the stratify stages on N synthetic patients
 * (default 1,000,000; argv[1] overrides) in 40 PCNs: tiers + segments,
 * summary, inequality, SII (100,000 reps per group), disclosure, lists and
 * the report. Prints one line per stage: "stage seconds". */
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define G 40

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000, nsel = 0;
    double *risk = malloc(n * sizeof *risk), *obs = malloc(n * sizeof *obs), t0;
    int32_t *grp = malloc(n * sizeof *grp), *age = malloc(n * sizeof *age);
    int32_t *sex = malloc(n * sizeof *sex), *imd = malloc(n * sizeof *imd);
    int32_t *efi = malloc(n * sizeof *efi), *copd = malloc(n * sizeof *copd);
    uint8_t *tier = malloc(n), *seg = malloc(n);
    size_t *rows = malloc(n * sizeof *rows);
    uint32_t *rank = malloc(n * sizeof *rank);
    char names_buf[G][16];
    const char *names[G];
    uint64_t x = 1;
    strata_ctx *ctx;
    strata_patient_params pp;
    strata_group_params gp;
    strata_sdc_params dp;
    strata_list_params lp;
    strata_patient_cols pc = {0};
    strata_strat_input in = {0};
    strata_table *t[3];
    strata_funnel fn;
    strata_report_input ri = {0};
    if (!risk || !obs || !grp || !age || !sex || !imd || !efi || !copd || !tier || !seg || !rows ||
        !rank || strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    for (int g = 0; g < G; g++)
        snprintf(names_buf[g], sizeof names_buf[g], "PCN%02d", g), names[g] = names_buf[g];
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        grp[i] = (int32_t)((x >> 33) % G);
        age[i] = (int32_t)((x >> 20) % 95);
        sex[i] = (int32_t)((x >> 40) % 2);
        imd[i] = (int32_t)(1 + (x >> 45) % 10);
        efi[i] = age[i] > 65 ? (int32_t)((x >> 50) % 20) : 0;
        copd[i] = ((x >> 55) % 20) == 0;
        risk[i] = 1.0 / (1.0 + exp(-(-4.5 + 0.035 * age[i] + 0.08 * (10 - imd[i]))));
        obs[i] = (double)((x >> 11) & 0xFFFF) / 65536.0 < risk[i];
    }
    strata_patient_params_init(&pp);
    strata_group_params_init(&gp);
    strata_sdc_params_init(&dp);
    strata_list_params_init(&lp);
    lp.prop_univ = 1;
    pc.n = n, pc.risk = risk, pc.age = age, pc.efi_deficits = efi, pc.flags[STRATA_C_COPD] = copd;
    t0 = now();
    if (strata_stratify_patients(ctx, &pp, &pc, grp, G, tier, seg, NULL, NULL, NULL))
        return 2;
    printf("tiers+segments %.3f\n", now() - t0);
    in.n = n, in.risk = risk, in.observed = obs, in.age = age, in.sex = sex, in.imd_decile = imd;
    in.tier = tier, in.n_tiers = 4, in.segment = seg;
    t0 = now();
    if (strata_group_summary(ctx, &gp, &in, grp, G, names, &fn, &t[0]))
        return 3;
    printf("summary %.3f\n", now() - t0);
    t0 = now();
    if (strata_group_inequality(ctx, &gp, &in, grp, G, names, &t[1]))
        return 4;
    printf("inequality %.3f\n", now() - t0);
    t0 = now();
    if (strata_group_sii(ctx, &gp, &in, grp, G, names, &t[2]))
        return 5;
    printf("sii %.3f\n", now() - t0);
    t0 = now();
    for (int k = 0; k < 3; k++)
        if (strata_disclose(ctx, &dp, t[k]))
            return 6;
    printf("disclosure %.3f\n", now() - t0);
    t0 = now();
    if (strata_intervention_select(ctx, &lp, n, risk, NULL, grp, G, imd, rows, rank, &nsel))
        return 7;
    printf("lists %.3f (%zu patients)\n", now() - t0, nsel);
    ri.summary = t[0], ri.inequality = t[1], ri.sii = t[2], ri.funnel = &fn;
    t0 = now();
    if (strata_report_html(ctx, &ri, "bench_stratify_report.html"))
        return 8;
    printf("report %.3f\n", now() - t0);
    for (int k = 0; k < 3; k++)
        strata_table_free(ctx, t[k]);
    strata_ctx_free(ctx);
    free(risk), free(obs), free(grp), free(age), free(sex), free(imd), free(efi), free(copd);
    free(tier), free(seg), free(rows), free(rank);
    return 0;
}
