/* engine/stratify/strat_reasons.c — reason codes: why a listed patient's risk
 * is high, as the few model variables that raise the linear predictor most
 * above the population's mean design row, written as a clinician reads them
 * ("age 87", "3 emergency admissions in the last 12 months", "severe
 * frailty"), in the style of ACG and QAdmissions explanations
 * (docs/stratify.md#reason-codes). Invariant: a row's reasons depend only on
 * that row, the coefficients and the means. */
#include "internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Inserts (idx, c) into the descending top-k list (tt, cc): larger first,
 * then lower index (indices arrive in increasing order). */
static void top_insert(int32_t *tt, double *cc, size_t k, int32_t idx, double c)
{
    size_t q;
    if (!(c > 0))
        return;
    for (q = 0; q < k && tt[q] >= 0 && cc[q] >= c; q++)
        ;
    if (q == k)
        return;
    memmove(tt + q + 1, tt + q, (k - q - 1) * sizeof *tt);
    memmove(cc + q + 1, cc + q, (k - q - 1) * sizeof *cc);
    tt[q] = idx;
    cc[q] = c;
}

strata_status strata_reason_codes(strata_ctx *ctx, const strata_reason_model *m, size_t n_rows,
                                  const size_t *rows, size_t k, int32_t *term, double *contrib)
{
    size_t ng = m->n_groups;
    double *x, *g = NULL;
    if (!m->X && !m->row_fn)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "reason codes: neither a design nor a row callback");
    if (ng > 0 && !m->share)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "reason codes: %zu groups without shares", ng);
    if (k == 0 || m->p == 0)
        return STRATA_OK;
    x = strata_calloc(ctx, m->p, sizeof *x);
    if (ng)
        g = strata_calloc(ctx, ng, sizeof *g);
    if (!x || (ng && !g)) {
        STRATA_FREE_ALL(ctx, x, g);
        return STRATA_ENOMEM;
    }
    for (size_t r = 0; r < n_rows; r++) {
        size_t row = rows ? rows[r] : r;
        int32_t *tt = term + r * k;
        double *cc = contrib + r * k;
        if (m->X) {
            memcpy(x, m->X + row * m->p, m->p * sizeof *x);
        } else {
            strata_status s = m->row_fn(m->ud, row, x);
            if (s != STRATA_OK) {
                STRATA_FREE_ALL(ctx, x, g);
                return s;
            }
        }
        for (size_t q = 0; q < k; q++)
            tt[q] = -1, cc[q] = 0;
        if (!ng) {
            for (size_t j = 0; j < m->p; j++)
                top_insert(tt, cc, k, (int32_t)j, m->beta[j] * (x[j] - m->xbar[j]));
            continue;
        }
        memset(g, 0, ng * sizeof *g);
        for (size_t j = 0; j < m->p; j++) {
            double c = m->beta[j] * (x[j] - m->xbar[j]);
            if (c == 0)
                continue;
            for (size_t q = 0; q < ng; q++)
                g[q] += m->share[j * ng + q] * c;
        }
        for (size_t q = 0; q < ng; q++)
            top_insert(tt, cc, k, (int32_t)q, g[q]);
    }
    STRATA_FREE_ALL(ctx, x, g);
    return STRATA_OK;
}

/* ---- text ------------------------------------------------------------------ */

/* Counts over a period: "<n> <noun>[s]<tail>". */
static const struct {
    const char *column, *noun, *plural, *tail;
} COUNTS[] = {
    {"prior_emergency_12m", "emergency admission", "emergency admissions", " in the last 12 months"},
    {"emergency_admissions_12m", "emergency admission", "emergency admissions", " in the last 12 months"},
    {"ae_attendances_12m", "A&E attendance", "A&E attendances", " in the last 12 months"},
    {"gp_appointments_12m", "GP appointment", "GP appointments", " in the last 12 months"},
    {"outpatient_12m", "outpatient appointment", "outpatient appointments", " in the last 12 months"},
    {"prior_elective_12m", "planned admission", "planned admissions", " in the last 12 months"},
    {"bed_days_12m", "day in hospital", "days in hospital", " in the last 12 months"},
    {"repeat_medicines", "repeat medicine", "repeat medicines", ""},
    {"ltc_count", "long-term condition", "long-term conditions", ""},
};

/* Condition flags (strata_condition_name order) in words. */
static const char *const CONDITION_WORDS[STRATA_N_CONDITIONS] = {
    "hypertension", "diabetes", "asthma", "COPD", "coronary heart disease", "heart failure",
    "atrial fibrillation", "stroke or TIA", "chronic kidney disease", "cancer", "dementia",
    "depression", "serious mental illness", "learning disability", "epilepsy"};

/* Factor levels with a better phrase: column, level, text. */
static const char *const LEVELS[][3] = {
    {"sex", "M", "male"},          {"sex", "F", "female"},
    {"sex", "Male", "male"},       {"sex", "Female", "female"},
    {"smoking", "current", "current smoker"}, {"smoking", "ex", "ex-smoker"},
    {"smoking", "former", "ex-smoker"},       {"smoking", "never", "never smoked"},
};

static void words(const char *column, char *buf, size_t size)
{
    size_t n = 0;
    for (; column[n] && n + 1 < size; n++)
        buf[n] = column[n] == '_' ? ' ' : column[n];
    buf[n] = '\0';
}

void strata_reason_text(const char *column, double value, const char *level, char *buf, size_t size)
{
    char w[128];
    long v = isfinite(value) && fabs(value) < 1e15 ? (long)floor(value + 0.5) : 0;
    int whole = isfinite(value) && fabs(value - (double)v) < 1e-9;
    if (!size)
        return;
    buf[0] = '\0';
    if (!column)
        return;
    words(column, w, sizeof w);
    if (level) {
        for (size_t i = 0; i < sizeof LEVELS / sizeof LEVELS[0]; i++)
            if (!strcmp(column, LEVELS[i][0]) && !strcmp(level, LEVELS[i][1])) {
                snprintf(buf, size, "%s", LEVELS[i][2]);
                return;
            }
        if (!strcmp(column, "ethnicity"))
            snprintf(buf, size, "ethnic group %s", level);
        else
            snprintf(buf, size, "%s: %s", w, level);
        return;
    }
    if (!isfinite(value)) {
        snprintf(buf, size, "%s not recorded", w);
        return;
    }
    for (size_t i = 0; i < sizeof COUNTS / sizeof COUNTS[0]; i++)
        if (!strcmp(column, COUNTS[i].column) && whole) {
            snprintf(buf, size, "%ld %s%s", v, v == 1 ? COUNTS[i].noun : COUNTS[i].plural,
                     COUNTS[i].tail);
            return;
        }
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        if (!strcmp(column, strata_condition_name(c))) {
            snprintf(buf, size, value > 0 ? "%s" : "no %s recorded", CONDITION_WORDS[c]);
            return;
        }
    if (!strcmp(column, "age") && value >= 0) {
        snprintf(buf, size, "age %ld", (long)floor(value));
    } else if (!strcmp(column, "imd_decile") && whole && v >= 1 && v <= 10) {
        snprintf(buf, size, "lives in IMD decile %ld%s", v,
                 v == 1 ? " (most deprived)" : v == 10 ? " (least deprived)" : "");
    } else if (!strcmp(column, "efi_deficits") && whole && strata_efi_category((int)v) >= 0) {
        int cat = strata_efi_category((int)v);
        snprintf(buf, size, "%s%s (%ld of 36 eFI deficits)", strata_frailty_name(cat),
                 cat == STRATA_FRAIL_FIT ? "" : " frailty", v);
    } else if (!strcmp(column, "bmi")) {
        snprintf(buf, size, "BMI %.1f", value);
    } else if (!strcmp(column, "sbp")) {
        snprintf(buf, size, "systolic blood pressure %.0f mmHg", value);
    } else if (!strcmp(column, "cost_12m")) {
        snprintf(buf, size, "care costing GBP %.0f in the last 12 months", value);
    } else if (whole) {
        snprintf(buf, size, "%s %ld", w, v);
    } else {
        snprintf(buf, size, "%s %.3g", w, value);
    }
}
