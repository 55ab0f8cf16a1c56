/* engine/stratify/strat_patients.c — per-patient stratification in one call (tiers,
 * frailty, Charlson, multimorbidity, segment), PLUS-group flags from
 * configured columns, and the patient-level intervention list table.
 * Invariant: outputs depend only on the inputs row by row (and on the
 * deterministic tier ranking), never on thread count. */
#include "internal.h"
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

strata_status strata_stratify_patients(strata_ctx *ctx, const strata_tier_params *tp,
                                       const strata_segment_params *sp,
                                       const strata_patient_cols *in, const int32_t *group,
                                       size_t n_groups, uint8_t *tier, uint8_t *segment,
                                       int8_t *frailty, int16_t *charlson, int8_t *ltc)
{
    STRATA_TRY(strata_tiers(ctx, tp, in->n, in->risk, group, n_groups, tier));
    for (size_t i = 0; i < in->n; i++) {
        int32_t f[STRATA_N_CONDITIONS];
        strata_segment_in s;
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
        s.tier = tier[i];
        segment[i] = (uint8_t)strata_segment_of(sp, &s);
        if (frailty)
            frailty[i] = (int8_t)strata_efi_category(s.efi_deficits);
        if (charlson)
            charlson[i] = (int16_t)strata_charlson(STRATA_CHARLSON_ORIGINAL, f, s.age, 0);
        if (ltc)
            ltc[i] = (int8_t)s.ltc_count;
    }
    return STRATA_OK;
}

strata_status strata_list_table(strata_ctx *ctx, const strata_list_columns *c, size_t n_sel,
                                const size_t *rows, const uint32_t *rank, strata_table **out)
{
    strata_table *t;
    strata_status s;
    int jg, jr, jp, jk, jt, js, jq = -1;
    *out = NULL;
    STRATA_TRY(strata_table_new(ctx, "intervention_list", n_sel, &t));
    t->patient_level = 1;
    s = strata_table_add(ctx, t, "group", STRATA_COL_KEY, 0, -1, -1, &jg);
    if (s == STRATA_OK)
        s = strata_table_add(ctx, t, "rank", STRATA_COL_FLAG, 0, -1, -1, &jr);
    if (s == STRATA_OK)
        s = strata_table_add(ctx, t, "patient_id", STRATA_COL_FLAG, 0, -1, -1, &jp);
    if (s == STRATA_OK)
        s = strata_table_add(ctx, t, "risk", STRATA_COL_RATIO, 5, -1, -1, &jk);
    if (s == STRATA_OK)
        s = strata_table_add(ctx, t, "tier", STRATA_COL_FLAG, 0, -1, -1, &jt);
    if (s == STRATA_OK)
        s = strata_table_add(ctx, t, "segment", STRATA_COL_KEY, 0, -1, -1, &js);
    for (size_t q = 0; s == STRATA_OK && q < c->k_reasons && c->reason_term; q++) {
        char nm[32];
        int j;
        snprintf(nm, sizeof nm, "reason_%zu", q + 1);
        s = strata_table_add(ctx, t, nm, STRATA_COL_KEY, 0, -1, -1, &j);
        if (q == 0)
            jq = j;
    }
    for (size_t k = 0; s == STRATA_OK && k < n_sel; k++) {
        size_t i = rows[k];
        s = strata_table_set_key(ctx, t, jg, k, c->group_names[c->group[i]]);
        if (s == STRATA_OK && c->segment)
            s = strata_table_set_key(ctx, t, js, k, strata_segment_name(c->segment[i]));
        t->cols[jr].v[k] = rank[k];
        t->cols[jp].v[k] = c->patient_id ? (double)c->patient_id[i] : (double)(i + 1);
        t->cols[jk].v[k] = c->risk[i];
        t->cols[jt].v[k] = c->tier ? c->tier[i] : NAN;
        for (size_t q = 0; s == STRATA_OK && jq >= 0 && q < c->k_reasons; q++) {
            int32_t term = c->reason_term[k * c->k_reasons + q];
            s = strata_table_set_key(ctx, t, jq + (int)q, k, term >= 0 ? c->term_names[term] : "");
        }
    }
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    *out = t;
    return STRATA_OK;
}
