/* models/scores/scores.c — fixed clinical scores from the synthetic cohort's flags:
 * eFI frailty category (Clegg 2016 cut-offs on the exact fraction d/36),
 * Charlson-style score (original 1987 or Quan 2011 weights mapped from the
 * 15 condition flags), multimorbidity count, Core20 and segment rules.
 * Pure functions: no allocation, no state; mapping in docs/stratify.md. */
#include "strata/stratify.h"

#include <stddef.h>

int strata_efi_category(int d)
{
    /* score = d/36; fit <= 0.12, mild <= 0.24, moderate <= 0.36, severe > 0.36.
     * 4/36 = 0.111, 5/36 = 0.139; 8/36 = 0.222, 9/36 = 0.25; 12/36 = 0.333,
     * 13/36 = 0.361 > 0.36, so 13 deficits is severe. */
    if (d < 0 || d > 36)
        return -1;
    if (d <= 4)
        return STRATA_FRAIL_FIT;
    if (d <= 8)
        return STRATA_FRAIL_MILD;
    if (d <= 12)
        return STRATA_FRAIL_MODERATE;
    return STRATA_FRAIL_SEVERE;
}

const char *strata_frailty_name(int c)
{
    static const char *const names[] = {"fit", "mild", "moderate", "severe"};
    return c >= 0 && c < 4 ? names[c] : "unknown";
}

const char *strata_condition_name(int c)
{
    static const char *const names[STRATA_N_CONDITIONS] = {
        "hypertension", "diabetes", "asthma", "copd", "chd", "heart_failure", "af", "stroke_tia",
        "ckd", "cancer", "dementia", "depression", "smi", "learning_disability", "epilepsy"};
    return c >= 0 && c < STRATA_N_CONDITIONS ? names[c] : "unknown";
}

static int flag(const int32_t *f, int c)
{
    return f[c] > 0;
}

/* Charlson categories reachable from the flags: chf <- heart_failure,
 * cevd <- stroke_tia, dementia, cpd <- copd or asthma, diab <- diabetes
 * (uncomplicated: no complication flag exists), rend <- ckd, canc <- cancer
 * (no metastatic flag). chd, af, hypertension and the mental-health flags have
 * no Charlson category. */
int strata_charlson(strata_charlson_weights w, const int32_t *f, int age, int age_points)
{
    /*                      chf cevd dem cpd diab rend canc */
    static const int orig[7] = {1, 1, 1, 1, 1, 2, 2};
    static const int quan[7] = {2, 0, 2, 1, 0, 1, 2};
    const int *wt = w == STRATA_CHARLSON_QUAN ? quan : orig;
    int s = 0;
    s += flag(f, STRATA_C_HEART_FAILURE) * wt[0];
    s += flag(f, STRATA_C_STROKE_TIA) * wt[1];
    s += flag(f, STRATA_C_DEMENTIA) * wt[2];
    s += (flag(f, STRATA_C_COPD) || flag(f, STRATA_C_ASTHMA)) * wt[3];
    s += flag(f, STRATA_C_DIABETES) * wt[4];
    s += flag(f, STRATA_C_CKD) * wt[5];
    s += flag(f, STRATA_C_CANCER) * wt[6];
    if (age_points && age >= 50) {
        int a = (age - 40) / 10; /* 50-59: 1, 60-69: 2, 70-79: 3, 80+: 4 */
        s += a > 4 ? 4 : a;
    }
    return s;
}

int strata_multimorbidity(const int32_t *f)
{
    int n = 0;
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        n += flag(f, c);
    return n;
}

int strata_core20(int imd_decile)
{
    return imd_decile == 1 || imd_decile == 2;
}

const char *strata_segment_name(int s)
{
    static const char *const names[STRATA_N_SEGMENTS] = {
        "end_of_life", "frailty", "complex_multimorbidity", "stable_ltc", "children",
        "generally_well"};
    return s >= 0 && s < STRATA_N_SEGMENTS ? names[s] : "unknown";
}

void strata_segment_params_init(strata_segment_params *p)
{
    p->eol_top_tiers = 2;
    p->complex_ltc = 4;
    p->complex_ltc_adm = 2;
    p->complex_adm = 2;
    p->child_age = 18;
}

int strata_segment_of(const strata_segment_params *p, const strata_segment_in *in)
{
    int frail = strata_efi_category(in->efi_deficits);
    if (frail == STRATA_FRAIL_SEVERE &&
        ((in->tier >= 1 && in->tier <= p->eol_top_tiers) || in->cancer > 0 ||
         in->heart_failure > 0))
        return STRATA_SEG_END_OF_LIFE;
    if (frail >= STRATA_FRAIL_MODERATE || in->dementia > 0)
        return STRATA_SEG_FRAILTY;
    if (in->ltc_count >= p->complex_ltc ||
        (in->ltc_count >= p->complex_ltc_adm && in->prior_emergency >= p->complex_adm))
        return STRATA_SEG_COMPLEX;
    if (in->ltc_count >= 1)
        return STRATA_SEG_STABLE_LTC;
    if (in->age >= 0 && in->age < p->child_age)
        return STRATA_SEG_CHILDREN;
    return STRATA_SEG_WELL;
}
