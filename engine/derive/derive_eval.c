/* engine/derive/derive_eval.c — one item's value(s) for one patient from the
 * patient's events (sorted by day) in the table's block buffers: windows are
 * [index + lo, index + hi], both ends inclusive; outcomes also stop at the
 * censoring dates. Pure function of its inputs (no allocation, no state), so
 * patients can be evaluated in any order on any thread with the same result. */
#include "derive_internal.h"
#include "scores_codes.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cond_ok(const dv_tbuf *t, const dv_cond *c, size_t e)
{
    double v;
    if (t->code[c->col]) {
        int32_t lv = t->code[c->col][e];
        return lv >= 0 && c->lv_ok[lv];
    }
    v = t->val[c->col][e];
    if (isnan(v))
        return 0;
    switch (c->op) {
    case OP_EQ: return v == c->num;
    case OP_NE: return v != c->num;
    case OP_LT: return v < c->num;
    case OP_LE: return v <= c->num;
    case OP_GT: return v > c->num;
    case OP_GE: return v >= c->num;
    default: return 0;
    }
}

/* Conditions and the code filter of item it hold for event e. */
static int event_ok(const dv_tbuf *t, const dv_item *it, size_t e)
{
    for (size_t k = 0; k < it->ncond; k++)
        if (!cond_ok(t, &it->cond[k], e))
            return 0;
    if (!it->lv_match)
        return 1;
    for (int k = 0; k < it->ncode; k++) {
        int32_t lv = t->code[it->codecol[k]][e];
        if (lv >= 0 && it->lv_match[k][lv])
            return 1;
    }
    return 0;
}

static int64_t clamp_add(int32_t t0, int d)
{
    return (int64_t)t0 + d;
}

/* Category bits of event e (codes, and eFI value rules when it has them). */
static uint64_t event_cats(const dv_tbuf *t, const dv_item *it, const dv_patient *pt, size_t e)
{
    uint64_t bits = 0;
    for (int k = 0; k < it->ncode; k++) {
        int32_t lv = t->code[it->codecol[k]][e];
        if (lv < 0)
            continue;
        if (it->lv_cats)
            bits |= it->lv_cats[k][lv];
        if (it->lv_rule && it->lv_rule[k][lv] && it->value_col >= 0) {
            int r = it->lv_rule[k][lv] - 1;
            double v = t->val[it->value_col][e];
            if (!isnan(v) && (isnan(it->rule_gt[r]) || v > it->rule_gt[r]) &&
                (isnan(it->rule_lt[r]) || v < it->rule_lt[r]) &&
                (!it->rule_sex[r] || it->rule_sex[r] == pt->sex))
                bits |= 1ULL << it->rule_cat[r];
        }
    }
    return bits;
}

static int is_acsc(const dv_tbuf *t, const dv_item *it, size_t e)
{
    int32_t lv0 = t->code[it->codecol[0]][e];
    unsigned char b0 = lv0 >= 0 ? it->lv_acsc[0][lv0] : 0;
    if (b0 & 1)
        return 1;
    for (int k = 0; k < it->ncode; k++) {
        int32_t lv = t->code[it->codecol[k]][e];
        if (lv >= 0 && (it->lv_acsc[k][lv] & 2))
            return 1;
    }
    if (b0 & 4)
        for (int k = 1; k < it->ncode; k++) {
            int32_t lv = t->code[it->codecol[k]][e];
            if (lv >= 0 && (it->lv_acsc[k][lv] & 8))
                return 1;
        }
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Last day an outcome can be observed: window end, death, deregistration. */
static int64_t outcome_end(const dv_item *it, const dv_patient *pt, int64_t hi)
{
    if (it->censor_death && pt->death != DV_NONE_DAY && pt->death < hi)
        hi = pt->death;
    if (it->censor_reg && pt->reg_end != DV_NONE_DAY && pt->reg_end < hi)
        hi = pt->reg_end;
    return hi;
}

/* Censoring time of time_to_first without an event: the day after the window
 * (follow-up [0, TO] lasts TO + 1 whole days), or the day of death or
 * deregistration when it falls in the window (as `censor` says; both with
 * registered_only). */
static int64_t censor_day(const dv_item *it, const dv_patient *pt)
{
    int64_t end = (int64_t)pt->t0 + it->hi, c = end + 1;
    int dth = it->censor_death || it->registered, reg = it->censor_reg || it->registered;
    if (dth && pt->death != DV_NONE_DAY && pt->death <= end && pt->death < c)
        c = pt->death;
    if (reg && pt->reg_end != DV_NONE_DAY && pt->reg_end <= end && pt->reg_end < c)
        c = pt->reg_end;
    return c;
}

/* extra: deficits from other items (efi's polypharmacy). */
static void scores_out(const dv_item *it, uint64_t bits, int extra, double *out)
{
    unsigned char present[64];
    int d = it->kind == DK_EFI ? extra : 0;
    for (int k = 0; k < it->ncat; k++)
        d += present[k] = (unsigned char)((bits >> k) & 1);
    switch (it->kind) {
    case DK_FLAGS:
        for (int k = 0; k < it->ncat; k++)
            out[k] = present[k];
        break;
    case DK_MULTIMORBIDITY:
        out[0] = d;
        break;
    case DK_CHARLSON:
        out[0] = strata_score_sum(STRATA_SCORE_CHARLSON, present, it->weights);
        break;
    case DK_ELIXHAUSER:
        out[0] = strata_score_sum(STRATA_SCORE_ELIXHAUSER, present, it->weights);
        break;
    case DK_EFI:
        out[0] = d;
        out[1] = strata_efi_score(d);
        out[2] = strata_efi_category(d);
        break;
    default:
        break;
    }
}

void dv_eval(const dv_tbuf *tb, const dv_item *it, const dv_patient *pt, int32_t *scratch,
             double *out)
{
    const dv_tbuf *t = &tb[it->table];
    int64_t lo = it->lo <= DV_INF_LO ? INT64_MIN : clamp_add(pt->t0, it->lo);
    int64_t hi = it->hi >= DV_INF_HI ? INT64_MAX : clamp_add(pt->t0, it->hi);
    size_t n = 0, nd = 0;
    double acc = 0, last = NAN, ext = NAN;
    int64_t last_day = INT64_MIN, first_day = INT64_MIN;
    uint64_t bits = 0;
    if (it->outcome)
        hi = outcome_end(it, pt, hi);
    if (it->registered) { /* registered_only: from registration to deregistration or death */
        if (pt->reg_start != DV_NONE_DAY && pt->reg_start > lo)
            lo = pt->reg_start;
        if (pt->reg_end != DV_NONE_DAY && pt->reg_end < hi)
            hi = pt->reg_end;
        if (pt->death != DV_NONE_DAY && pt->death < hi)
            hi = pt->death;
    }
    for (size_t e = pt->e0; e < pt->e1; e++) {
        int64_t d = t->day[e];
        if (d < lo)
            continue;
        if (d > hi)
            break;
        if (!event_ok(t, it, e))
            continue;
        if (it->kind == DK_ACSC && !is_acsc(t, it, e))
            continue;
        n++;
        if (first_day == INT64_MIN)
            first_day = d;
        last_day = d;
        if (it->value_col >= 0 && it->kind != DK_EFI) {
            double v = t->val[it->value_col][e];
            if (!isnan(v)) {
                acc += v;
                last = v;
                if (isnan(ext) || (it->kind == DK_MAX ? v > ext : v < ext))
                    ext = v;
            }
        }
        if (it->lv_cats || it->lv_rule)
            bits |= event_cats(t, it, pt, e);
        if (it->kind == DK_DISTINCT)
            for (int k = 0; k < it->ncode; k++) {
                int32_t lv = t->code[it->codecol[k]][e];
                if (lv >= 0)
                    scratch[nd++] = it->lv_gid[k][lv];
            }
    }
    switch (it->kind) {
    case DK_COUNT:
    case DK_ACSC: out[0] = (double)n; break;
    case DK_ANY:
    case DK_EVER: out[0] = n > 0; break;
    case DK_SUM: out[0] = acc; break;
    case DK_MAX:
    case DK_MIN: out[0] = ext; break;
    case DK_LAST: out[0] = last; break;
    case DK_DAYS_SINCE: out[0] = n ? (double)(pt->t0 - last_day) : NAN; break;
    case DK_DISTINCT: {
        size_t u = 0;
        qsort(scratch, nd, sizeof *scratch, cmp_i32);
        for (size_t k = 0; k < nd; k++)
            u += k == 0 || scratch[k] != scratch[k - 1];
        out[0] = (double)u;
        break;
    }
    case DK_TIME_TO_FIRST:
        out[0] = (double)((n ? first_day : censor_day(it, pt)) - pt->t0);
        out[1] = n > 0;
        break;
    default: scores_out(it, bits, pt->extra_deficits, out); break;
    }
    if (it->has_at_least)
        out[0] = out[0] >= it->at_least;
}
