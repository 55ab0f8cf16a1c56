/* engine/synth/synth_model.c — the fixed constants of the synthetic-cohort model:
 * condition age profiles, ethnicity shares by region and the ground-truth
 * coefficients of the outcome models. docs/synthetic.md quotes every number
 * here; change both together (test_synth checks the truth table's layout). */
#include "synth_internal.h"

/* Baseline prevalence at ages 10, 30, 50, 70, 85 (rounded from QOF/HSE age
 * profiles; only the shape matters: practice offsets tune the level to QOF). */
const synth_cond_model synth_cond[STRATA_SYNTH_NCOND] = {
    /* name, QOF group, QOF min age, onset age, prev[5], male, dep, load */
    {"hypertension", "HYP", 0, 5, {0.002, 0.03, 0.15, 0.42, 0.60}, 0.15, -0.03, 0.5},
    {"diabetes", "DM", 17, 1, {0.002, 0.02, 0.08, 0.17, 0.18}, 0.35, -0.07, 0.5},
    {"asthma", "AST", 0, 1, {0.09, 0.07, 0.065, 0.07, 0.065}, -0.05, -0.03, 0.3},
    {"copd", "COPD", 0, 30, {0.0001, 0.002, 0.015, 0.06, 0.08}, 0.15, -0.14, 0.5},
    {"chd", "CHD", 0, 20, {0.0001, 0.001, 0.02, 0.10, 0.18}, 0.70, -0.07, 0.5},
    {"heart_failure", "HF", 0, 20, {0.0001, 0.0005, 0.004, 0.025, 0.07}, 0.40, -0.07, 0.6},
    {"af", "AF", 0, 20, {0.0001, 0.0008, 0.007, 0.06, 0.14}, 0.40, 0.01, 0.5},
    {"stroke_tia", "STIA", 0, 1, {0.0005, 0.002, 0.01, 0.05, 0.10}, 0.20, -0.05, 0.5},
    {"ckd", "CKD", 18, 18, {0.0001, 0.002, 0.015, 0.09, 0.25}, -0.20, -0.03, 0.5},
    {"cancer", "CAN", 0, 1, {0.002, 0.007, 0.03, 0.08, 0.12}, 0.00, 0.01, 0.4},
    {"dementia", "DEM", 0, 40, {0.0001, 0.0001, 0.0005, 0.015, 0.10}, -0.10, -0.02, 0.5},
    {"depression", "DEP", 18, 10, {0.01, 0.12, 0.14, 0.11, 0.10}, -0.60, -0.06, 0.4},
    {"smi", "MH", 0, 14, {0.001, 0.009, 0.011, 0.009, 0.008}, 0.10, -0.12, 0.4},
    {"learning_disability", "LD", 0, 0, {0.006, 0.006, 0.005, 0.003, 0.002}, 0.40, -0.05, 0.2},
    {"epilepsy", "EP", 18, 0, {0.005, 0.008, 0.009, 0.009, 0.009}, 0.10, -0.06, 0.3},
};

double synth_cond_base(int c, double age)
{
    static const double knot[5] = {10, 30, 50, 70, 85};
    const double *pv = synth_cond[c].prev;
    int k;
    double t, l0, l1;
    if (age <= knot[0])
        return log(pv[0] / (1 - pv[0]));
    if (age >= knot[4])
        return log(pv[4] / (1 - pv[4]));
    for (k = 0; age > knot[k + 1]; k++)
        ;
    t = (age - knot[k]) / (knot[k + 1] - knot[k]);
    l0 = log(pv[k] / (1 - pv[k]));
    l1 = log(pv[k + 1] / (1 - pv[k + 1]));
    return l0 + t * (l1 - l0);
}

/* NHS England commissioning regions, in the order of synth_eth_share. */
const char *const synth_region_codes[SYNTH_NREGIONS] = {"Y56", "Y58", "Y59", "Y60",
                                                        "Y61", "Y62", "Y63"};
const char *const synth_eth_levels[SYNTH_NETH] = {"Asian", "Black", "Mixed", "Other", "White"};
/* Shares (%) of Asian, Black, Mixed, Other, White: rounded from ONS Census 2021
 * TS021 for the English regions each NHS region covers (an assumption, see docs). */
const double synth_eth_share[SYNTH_NREGIONS][SYNTH_NETH] = {
    {20.7, 13.5, 5.7, 6.3, 53.8}, /* Y56 London */
    {2.9, 1.1, 2.0, 0.9, 93.1},   /* Y58 South West */
    {7.0, 2.4, 2.8, 1.5, 86.3},   /* Y59 South East */
    {10.5, 3.3, 2.7, 1.5, 82.0},  /* Y60 Midlands */
    {5.9, 2.9, 2.6, 2.1, 86.5},   /* Y61 East of England */
    {7.8, 2.0, 2.0, 1.2, 87.0},   /* Y62 North West */
    {6.8, 1.5, 1.8, 1.4, 88.5},   /* Y63 North East and Yorkshire */
};

/* Ground truth. Term names follow R's model.matrix convention. */
const synth_term synth_truth[] = {
    /* emergency_admission_12m: logistic, P(Y = 1) = expit(eta) */
    {"emergency_admission_12m", "(Intercept)", -4.2},
    {"emergency_admission_12m", "age", 0.022},
    {"emergency_admission_12m", "sexM", 0.10},
    {"emergency_admission_12m", "imd_decile", -0.05},
    {"emergency_admission_12m", "ltc_count", 0.22},
    {"emergency_admission_12m", "efi_deficits", 0.06},
    {"emergency_admission_12m", "prior_emergency_12m", 0.45},
    {"emergency_admission_12m", "ae_attendances_12m", 0.20},
    /* emergency_admissions_12m - 1 given Y = 1: Poisson, log mean */
    {"emergency_admissions_12m_extra", "(Intercept)", -1.6},
    {"emergency_admissions_12m_extra", "age", 0.01},
    {"emergency_admissions_12m_extra", "ltc_count", 0.12},
    {"emergency_admissions_12m_extra", "prior_emergency_12m", 0.25},
    /* death_12m: logistic */
    {"death_12m", "(Intercept)", -10.8},
    {"death_12m", "age", 0.085},
    {"death_12m", "sexM", 0.25},
    {"death_12m", "imd_decile", -0.03},
    {"death_12m", "ltc_count", 0.12},
    {"death_12m", "efi_deficits", 0.06},
    {"death_12m", "emergency_admission_12m", 1.2},
    /* cost_next_12m base part: log of the mean (lognormal, sigma 1) */
    {"cost_next_12m_base", "(Intercept)", 5.3},
    {"cost_next_12m_base", "age", 0.012},
    {"cost_next_12m_base", "imd_decile", -0.02},
    {"cost_next_12m_base", "ltc_count", 0.25},
    {"cost_next_12m_base", "efi_deficits", 0.04},
};
const size_t synth_ntruth = sizeof synth_truth / sizeof synth_truth[0];
