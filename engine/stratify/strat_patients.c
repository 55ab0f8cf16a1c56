/* engine/stratify/strat_patients.c — per-patient stratification in one call (tiers,
 * frailty, Charlson, multimorbidity, segment; the one implementation `strata
 * run` uses), PLUS-group flags from configured columns, and the patient-level
 * intervention list table.
 * Invariant: outputs depend only on the inputs row by row (and on the
 * deterministic tier ranking), never on thread count. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

strata_status strata_plus_flags(strata_ctx *ctx, size_t n, size_t n_rules,
                                const strata_plus_rule *rules, uint32_t *mask, uint8_t *any)
{
    if (n_rules > 32)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "plus flags: %zu rules, at most 32", n_rules);
    for (size_t r = 0; r < n_rules; r++)
        if (!rules[r].col)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "plus flags: rule %s has no column",
                               rules[r].name ? rules[r].name : "?");
    for (size_t i = 0; i < n; i++) {
        uint32_t m = 0;
        for (size_t r = 0; r < n_rules; r++) {
            int32_t v = rules[r].col[i];
            int hit = rules[r].n_codes == 0 && v > 0;
            for (size_t c = 0; !hit && c < rules[r].n_codes; c++)
                hit = v == rules[r].codes[c];
            m |= (uint32_t)hit << r;
        }
        if (mask)
            mask[i] = m;
        if (any)
            any[i] = m != 0;
    }
    return STRATA_OK;
}

const char *strata_charlson_weights_name(strata_charlson_weights w)
{
    return w == STRATA_CHARLSON_ORIGINAL ? "charlson1987" : w == STRATA_CHARLSON_QUAN ? "quan2011" : NULL;
}

strata_status strata_charlson_weights_parse(strata_ctx *ctx, const char *name,
                                            strata_charlson_weights *out)
{
    if (name && !strcmp(name, "charlson1987"))
        *out = STRATA_CHARLSON_ORIGINAL;
    else if (name && !strcmp(name, "quan2011"))
        *out = STRATA_CHARLSON_QUAN;
    else
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "Charlson weights \"%s\": must be charlson1987 or quan2011",
                           name ? name : "(null)");
    return STRATA_OK;
}

void strata_patient_params_init(strata_patient_params *p)
{
    strata_tier_params_init(&p->tiers);
    strata_segment_params_init(&p->segments);
    p->charlson = STRATA_CHARLSON_ORIGINAL;
}

strata_status strata_patient_params_check(strata_ctx *ctx, const strata_patient_params *p)
{
    STRATA_TRY(strata_tier_params_check(ctx, &p->tiers));
    if (!strata_charlson_weights_name(p->charlson))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "stratify: Charlson weights %d unknown",
                           (int)p->charlson);
    return STRATA_OK;
}

strata_status strata_stratify_patients(strata_ctx *ctx, const strata_patient_params *p,
                                       const strata_patient_cols *in, const int32_t *group,
                                       size_t n_groups, uint8_t *tier, uint8_t *segment,
                                       int8_t *frailty, int16_t *charlson, int8_t *ltc)
{
    STRATA_TRY(strata_patient_params_check(ctx, p));
    /* tiers of the scored patients (risk not NaN) among themselves, ranked
     * without a copy of them; tier 0 for an unscored patient
     * (docs/stratify.md#missing-values) */
    STRATA_TRY(strat_tiers(ctx, &p->tiers, in->n, in->risk, group, n_groups, 1, tier));
    for (size_t i = 0; i < in->n; i++) {
        int32_t f[STRATA_N_CONDITIONS];
        strata_segment_in s;
        /* an absent column counts as absent flags, as an NA value does */
        for (int c = 0; c < STRATA_N_CONDITIONS; c++)
            f[c] = in->flags[c] ? in->flags[c][i] : 0;
        s.age = in->age ? in->age[i] : -1;
        s.ltc_count = strata_multimorbidity(f);
        s.efi_deficits = in->efi_deficits ? in->efi_deficits[i] : -1;
        s.cancer = f[STRATA_C_CANCER] > 0;
        s.heart_failure = f[STRATA_C_HEART_FAILURE] > 0;
        s.dementia = f[STRATA_C_DEMENTIA] > 0;
        s.prior_emergency = in->prior_emergency && in->prior_emergency[i] > 0
                                ? in->prior_emergency[i]
                                : 0;
        /* an unscored patient is in no tier: for the segment rules, the lowest */
        s.tier = tier[i] ? tier[i] : (int)p->tiers.n_cuts + 1;
        segment[i] = (uint8_t)strata_segment_of(&p->segments, &s);
        if (frailty)
            frailty[i] = (int8_t)strata_efi_category(s.efi_deficits);
        if (charlson)
            charlson[i] = (int16_t)strata_charlson(p->charlson, f, s.age, 0);
        if (ltc)
            ltc[i] = (int8_t)s.ltc_count;
    }
    return STRATA_OK;
}

/* Columns of the intervention list, in order (the index into cols[] below). */
enum { L_RANK, L_ID, L_GROUP, L_PRACTICE, L_RISK, L_TIER, L_SEGMENT, L_FRAILTY, L_LTC,
       L_CHARLSON, L_CORE20, L_IMD, L_NFIXED };

static strata_status list_columns(strata_ctx *ctx, strata_table *t, const strata_list_columns *c,
                                  int *col)
{
    static const struct { const char *name; strata_col_kind kind; int decimals; } fixed[L_NFIXED] = {
        {"rank", STRATA_COL_FLAG, 0},      {"patient_id", STRATA_COL_KEY, 0},
        {"group", STRATA_COL_KEY, 0},      {"practice", STRATA_COL_KEY, 0},
        {"risk", STRATA_COL_RATIO, -9},    {"tier", STRATA_COL_FLAG, 0},
        {"segment", STRATA_COL_KEY, 0},    {"frailty", STRATA_COL_KEY, 0},
        {"ltc_count", STRATA_COL_FLAG, 0}, {"charlson", STRATA_COL_FLAG, 0},
        {"core20", STRATA_COL_FLAG, 0},    {"imd_decile", STRATA_COL_FLAG, 0}};
    for (int k = 0; k < L_NFIXED; k++) {
        const char *name = k == L_GROUP && c->group_label ? c->group_label : fixed[k].name;
        STRATA_TRY(strata_table_add(ctx, t, name, fixed[k].kind, fixed[k].decimals, -1, -1, &col[k]));
    }
    for (size_t q = 0; (c->reason_term || c->reason_text) && q < c->k_reasons; q++) {
        char nm[32];
        int j;
        snprintf(nm, sizeof nm, "reason_%zu", q + 1);
        STRATA_TRY(strata_table_add(ctx, t, nm, STRATA_COL_KEY, 0, -1, -1, &j));
    }
    return STRATA_OK;
}

/* The text cells of list row k (patient row i); NULL cells stay empty. */
static strata_status list_keys(strata_ctx *ctx, strata_table *t, const strata_list_columns *c,
                               const int *col, size_t k, size_t i)
{
    char id[32];
    int fr = c->frailty ? c->frailty[i] : -1;
    int32_t pr = c->practice ? c->practice[i] : -1;
    snprintf(id, sizeof id, "%lld", c->patient_id ? (long long)c->patient_id[i] : (long long)i + 1);
    STRATA_TRY(strata_table_set_key(ctx, t, col[L_ID], k, id));
    STRATA_TRY(strata_table_set_key(ctx, t, col[L_GROUP], k, c->group_names[c->group[i]]));
    if (pr >= 0 && (size_t)pr < c->n_practices)
        STRATA_TRY(strata_table_set_key(ctx, t, col[L_PRACTICE], k, c->practice_names[pr]));
    if (c->segment)
        STRATA_TRY(strata_table_set_key(ctx, t, col[L_SEGMENT], k, strata_segment_name(c->segment[i])));
    if (fr >= 0)
        STRATA_TRY(strata_table_set_key(ctx, t, col[L_FRAILTY], k, strata_frailty_name(fr)));
    for (size_t q = 0; (c->reason_term || c->reason_text) && q < c->k_reasons; q++) {
        int32_t term = c->reason_term ? c->reason_term[k * c->k_reasons + q] : -1;
        const char *text = c->reason_text ? c->reason_text[k * c->k_reasons + q]
                           : term >= 0    ? c->term_names[term]
                                          : NULL;
        if (text)
            STRATA_TRY(strata_table_set_key(ctx, t, L_NFIXED + (int)q, k, text));
    }
    return STRATA_OK;
}

strata_status strata_list_table(strata_ctx *ctx, const strata_list_columns *c, size_t n_sel,
                                const size_t *rows, const uint32_t *rank, strata_table **out)
{
    strata_table *t;
    strata_status s;
    int col[L_NFIXED];
    *out = NULL;
    STRATA_TRY(strata_table_new_patient(ctx, "intervention_list", n_sel, &t));
    s = list_columns(ctx, t, c, col);
    for (size_t k = 0; s == STRATA_OK && k < n_sel; k++) {
        size_t i = rows[k];
        int32_t imd = c->imd_decile ? c->imd_decile[i] : 0;
        int known = imd >= 1 && imd <= 10;
        const double v[7] = {rank[k],
                             c->risk[i],
                             c->tier ? c->tier[i] : NAN,
                             c->ltc ? c->ltc[i] : NAN,
                             c->charlson ? c->charlson[i] : NAN,
                             known ? strata_core20(imd) : 0,
                             known ? imd : NAN};
        const int which[7] = {L_RANK, L_RISK, L_TIER, L_LTC, L_CHARLSON, L_CORE20, L_IMD};
        s = list_keys(ctx, t, c, col, k, i);
        for (int q = 0; s == STRATA_OK && q < 7; q++)
            s = strata_table_set(ctx, t, col[which[q]], k, v[q]);
    }
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    *out = t;
    return STRATA_OK;
}
