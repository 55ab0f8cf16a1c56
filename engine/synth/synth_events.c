/* engine/synth/synth_events.c — a synthetic patient's dates and linked events,
 * drawn from the row's own event stream (STRATA_STREAM_SYNTH_EVENTS) after its
 * flat columns, which they never change: birth and registration dates, GP coded
 * events (condition codes at onset, eFI deficit codes, BMI, systolic BP and
 * eGFR values), spell diagnoses, discharge and cost, deaths and other costs.
 * Invariant: data/specs/derive_default.yaml derives the flat columns back from
 * these events exactly (docs/synthetic.md#events, tests/test_synth_derive.c). */
#include "synth_codes.h"
#include "synth_internal.h"
#include "strata/derive.h"

#include <stdio.h>
#include <string.h>

#define EV_DAY_UNITS "days since 1970-01-01"
#define DIAG_(n) {"diag_" #n, STRATA_DT_INT16, SYNTH_LV_ICD10, "code:icd10", "ICD-10 diagnosis " #n}
/* The last column of a table with one: 1, 2, ... in file order (filled when written). */
#define RECORD_ID_ {"record_id", STRATA_DT_INT32, SYNTH_LV_NONE, "", "record identifier"}

const synth_evtab synth_evtabs[SYNTH_NEV] = {
    {"spells", 7 + SYNTH_NDIAG,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "admission date"},
      {"end_day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "discharge date"},
      {"admission_method", STRATA_DT_INT8, SYNTH_LV_METHOD, "", "emergency or elective"},
      {"los_days", STRATA_DT_INT16, SYNTH_LV_NONE, "days", "length of stay"},
      {"cost", STRATA_DT_FLOAT64, SYNTH_LV_NONE, "GBP", "spell cost"},
      DIAG_(01), DIAG_(02), DIAG_(03), DIAG_(04), DIAG_(05), DIAG_(06), DIAG_(07), DIAG_(08),
      DIAG_(09), DIAG_(10), DIAG_(11), DIAG_(12), DIAG_(13), DIAG_(14), DIAG_(15), DIAG_(16),
      DIAG_(17), DIAG_(18), DIAG_(19), DIAG_(20), RECORD_ID_}},
    {"ae", 3,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "arrival date"}, RECORD_ID_}},
    {"gp_events", 5,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "date recorded"},
      {"code", STRATA_DT_INT16, SYNTH_LV_SNOMED, "code:snomed", "SNOMED CT concept"},
      {"value", STRATA_DT_FLOAT32, SYNTH_LV_NONE, "", "BMI kg/m2, SBP mmHg, eGFR mL/min/1.73m2"},
      RECORD_ID_}},
    {"gp_appointments", 4,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "appointment date"},
      {"mode", STRATA_DT_INT8, SYNTH_LV_MODE, "", "appointment mode (GPAD)"}, RECORD_ID_}},
    {"outpatients", 4,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "appointment date"},
      {"attendance", STRATA_DT_INT8, SYNTH_LV_ATTEND, "", "first or follow-up"}, RECORD_ID_}},
    {"deaths", 3,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "date of death"},
      {"cause", STRATA_DT_INT16, SYNTH_LV_ICD10, "code:icd10", "underlying cause"}}},
    {"costs", 3,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "first day of the year costed"},
      {"cost", STRATA_DT_FLOAT64, SYNTH_LV_NONE, "GBP",
       "non-admitted care (GP, A&E, outpatients, prescribing) over the year"}}},
    {"prescriptions", 4,
     {{"patient_row", STRATA_DT_INT32, SYNTH_LV_NONE, "", "row of /patients"},
      {"day", STRATA_DT_INT32, SYNTH_LV_NONE, EV_DAY_UNITS, "date issued"},
      {"bnf_code", STRATA_DT_INT16, SYNTH_LV_BNF, "code:bnf", "BNF chemical substance"},
      {"issue", STRATA_DT_INT8, SYNTH_LV_ISSUE, "", "repeat or acute"}}},
};
#undef DIAG_
#undef RECORD_ID_

void synth_events_prepare(strata_synth *s)
{
    for (int a = 0; a <= SYNTH_MAX_AGE + 1; a++) { /* the index date is 2025-12-01 */
        char iso[16];
        snprintf(iso, sizeof iso, "%04d-12-01", 2025 - a);
        if (strata_date_parse(iso, STRATA_DATE_ISO, &s->dec1[a]) != 0)
            s->dec1[a] = STRATA_SYNTH_INDEX_DAY - (int32_t)(365.25 * a); /* not reached */
    }
}

/* A uniform day in [lo, hi] (hi when the range is empty). */
static int32_t day_in(strata_rng *g, int32_t lo, int32_t hi)
{
    return lo >= hi ? hi : lo + (int32_t)strata_rng_below(g, (size_t)(hi - lo) + 1);
}

typedef struct ev_state {
    strata_rng g;
    int32_t birth;
    short gp_code[STRATA_SYNTH_NCOND];      /* SNOMED level of each flagged condition */
    unsigned char on[SYNTH_NDEFICIT];       /* deficit expressed */
    unsigned char implied[SYNTH_NDEFICIT];  /* deficit implied by a flagged condition */
} ev_state;

static strata_status put_gp(strata_ctx *ctx, synth_events *ev, int64_t r, int32_t day, short code,
                            double value)
{
    synth_tab *t = &ev->t[SYNTH_EV_GP];
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_GP, 1));
    ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)r;
    ((int32_t *)t->col[EV_DAY])[t->n] = day;
    ((int16_t *)t->col[GP_CODE])[t->n] = code;
    ((float *)t->col[GP_VALUE])[t->n] = (float)value;
    t->n++;
    return STRATA_OK;
}

/* Birth date consistent with the age at the index date, registration, death. */
static void put_dates(const strata_synth *s, ev_state *st, const synth_patient *ps,
                      synth_block *b, size_t i)
{
    const int32_t index = STRATA_SYNTH_INDEX_DAY;
    int32_t hi = ps->age == 0 ? index - 1 : s->dec1[ps->age];
    int32_t reg = index - 1 - (int32_t)(365.25 * 12.0 * -log(1.0 - strata_rng_unif(&st->g)));
    st->birth = day_in(&st->g, s->dec1[ps->age + 1] + 1, hi);
    b->birth_date[i] = st->birth;
    b->registration_start[i] = reg < st->birth ? st->birth : reg;
    b->registration_end[i] = STRATA_NA_INT32;
    b->death_date[i] = ps->D ? index + ps->dday : STRATA_NA_INT32;
}

/* Partial Fisher-Yates: moves k random items of v[0..n) to the front. */
static void pick_front(strata_rng *g, int *v, int n, int k)
{
    for (int j = 0; j < k && j < n; j++) {
        int x = j + (int)strata_rng_below(g, (size_t)(n - j)), t = v[j];
        v[j] = v[x];
        v[x] = t;
    }
}

/* Which eFI deficits the patient has (ps->efi of them): those its conditions
 * imply first, then deficits no condition implies, then the other
 * condition-linked ones (coded without the condition). */
static void choose_deficits(ev_state *st, const synth_patient *ps)
{
    int imp[SYNTH_NDEFICIT], pool[SYNTH_NDEFICIT], ni = 0, np = 0, k, r;
    unsigned char linked[SYNTH_NDEFICIT] = {0};
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        int d = synth_codes_cond[c].deficit;
        if (d < 0)
            continue;
        linked[d] = 1;
        if (ps->flags[c] && !st->implied[d]) {
            st->implied[d] = 1;
            imp[ni++] = d;
        }
    }
    k = ps->efi < ni ? ps->efi : ni;
    pick_front(&st->g, imp, ni, k);
    for (int j = 0; j < k; j++)
        st->on[imp[j]] = 1;
    for (int d = 0; d < SYNTH_NDEFICIT; d++)
        if (!linked[d])
            pool[np++] = d;
    r = ps->efi - k;
    pick_front(&st->g, pool, np, r);
    for (int j = 0; j < r && j < np; j++)
        st->on[pool[j]] = 1;
    r -= np;
    np = 0;
    for (int d = 0; d < SYNTH_NDEFICIT; d++)
        if (linked[d] && !st->implied[d])
            pool[np++] = d;
    pick_front(&st->g, pool, np, r);
    for (int j = 0; j < r && j < np; j++)
        st->on[pool[j]] = 1;
}

/* Condition c's code: an eFI code of its deficit when that deficit is
 * expressed, else a code in no eFI list; cancer by site and sex. */
static short condition_code(ev_state *st, const synth_patient *ps, int c)
{
    const synth_cond_codes *cc = &synth_codes_cond[c];
    if (cc->deficit >= 0 && st->on[cc->deficit])
        return cc->expr[strata_rng_below(&st->g, (size_t)cc->n_expr)];
    if (c == 9) { /* cancer: 0 breast (F), 1 prostate (M), then colon, lung, melanoma, pancreas */
        size_t k = strata_rng_below(&st->g, 5);
        return cc->clean[k == 0 ? (ps->male ? 1 : 0) : k + 1];
    }
    return cc->clean[strata_rng_below(&st->g, (size_t)cc->n_clean)];
}

/* Condition codes at onset (with repeats) and the other deficits' codes. */
static strata_status put_codes(strata_ctx *ctx, ev_state *st, const synth_patient *ps,
                               synth_events *ev)
{
    const int32_t last = STRATA_SYNTH_INDEX_DAY - 1;
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        int32_t lo, onset;
        int nrep;
        if (!ps->flags[c])
            continue;
        st->gp_code[c] = condition_code(st, ps, c);
        lo = st->birth + (int32_t)(365.25 * synth_cond[c].onset_age);
        if (c == 13) /* learning disability: recorded in childhood */
            onset = day_in(&st->g, st->birth, lo + 6 * 365 < last ? lo + 6 * 365 : last);
        else /* years since diagnosis ~ Exp(mean 8), within the onset ages */
            onset = last - (int32_t)(365.25 * 8.0 * -log(1.0 - strata_rng_unif(&st->g)));
        onset = onset < lo ? (lo < last ? lo : last) : onset;
        STRATA_TRY(put_gp(ctx, ev, ps->r, onset, st->gp_code[c], NAN));
        nrep = synth_poisson(&st->g, 0.5, 5);
        for (int k = 0; k < nrep; k++)
            STRATA_TRY(put_gp(ctx, ev, ps->r, day_in(&st->g, onset, last), st->gp_code[c], NAN));
    }
    for (int d = 0; d < SYNTH_NDEFICIT; d++) {
        const synth_deficit_codes *dc = &synth_codes_deficit[d];
        int32_t lo = last - 3650 > st->birth ? last - 3650 : st->birth;
        if (!st->on[d] || st->implied[d])
            continue; /* implied deficits ride on the condition's code */
        STRATA_TRY(put_gp(ctx, ev, ps->r, day_in(&st->g, lo, last),
                          dc->code[strata_rng_below(&st->g, (size_t)dc->n)], NAN));
    }
    return STRATA_OK;
}

/* A measurement series: the latest (day in the last `recent` days) carries
 * `latest` exactly; up to nprev earlier ones, gap days apart at least, vary
 * around it by `sd` (rounded to `unit`). */
static strata_status put_series(strata_ctx *ctx, synth_events *ev, ev_state *st, int64_t r,
                                short code,
                                double latest, int recent, int nprev, int gap, double sd,
                                double unit)
{
    int32_t d = STRATA_SYNTH_INDEX_DAY - 1 - (int32_t)strata_rng_below(&st->g, (size_t)recent);
    d = d < st->birth ? st->birth : d;
    STRATA_TRY(put_gp(ctx, ev, r, d, code, latest));
    for (int k = 0; k < nprev; k++) {
        double v = latest + sd * strata_rng_norm(&st->g);
        d -= gap + (int32_t)strata_rng_below(&st->g, (size_t)(2 * gap));
        if (d < st->birth)
            break;
        STRATA_TRY(put_gp(ctx, ev, r, d, code, floor(v / unit + 0.5) * unit));
    }
    return STRATA_OK;
}

/* BMI and systolic BP series ending in the flat values; eGFR for adults,
 * below 60 exactly for the CKD register. */
static strata_status put_measures(strata_ctx *ctx, ev_state *st, const synth_patient *ps,
                                  synth_events *ev)
{
    const int a = ps->age, *f = ps->flags;
    if (!isnan(ps->bmi))
        STRATA_TRY(put_series(ctx, ev, st, ps->r, synth_code_bmi, (double)ps->bmi, 730,
                              synth_poisson(&st->g, 1.0, 5), 120, 0.05 * ps->bmi, 0.1));
    if (!isnan(ps->sbp))
        STRATA_TRY(put_series(ctx, ev, st, ps->r, synth_code_sbp, (double)ps->sbp, 365,
                              synth_poisson(&st->g, f[0] ? 3.0 : 1.0, 12), 60, 10.0, 1.0));
    if (a >= 18 && strata_rng_unif(&st->g) < synth_expit(-1.5 + 0.04 * (a - 40) + 1.5 * f[8] +
                                                         0.8 * f[1] + 0.5 * f[0])) {
        double base = f[8] ? 25.0 + 30.0 * strata_rng_unif(&st->g)
                           : 62.0 + (a < 30 ? 50.0 : a > 90 ? 2.0 : 50.0 - 0.8 * (a - 30)) +
                                 15.0 * strata_rng_unif(&st->g);
        STRATA_TRY(put_series(ctx, ev, st, ps->r, synth_code_egfr, floor(base), 365,
                              synth_poisson(&st->g, f[8] ? 2.0 : 0.5, 8), 90, 2.0, 1.0));
    }
    return STRATA_OK;
}

/* One of n options (n > 0). */
#define PICK(g, ...) pick_of((g), (const short[]){__VA_ARGS__}, \
                             sizeof((const short[]){__VA_ARGS__}) / sizeof(short))
static short pick_of(strata_rng *g, const short *v, size_t n)
{
    return v[strata_rng_below(g, n)];
}

/* Primary diagnosis of an emergency spell: an ambulatory care sensitive
 * condition for a share rising with the chronic ACSCs the patient has. */
static short emergency_primary(ev_state *st, const synth_patient *ps)
{
    const int *f = ps->flags;
    short chronic[8], own[4];
    size_t nc = 0, no = 0;
    strata_rng *g = &st->g;
    if (f[2]) chronic[nc++] = ICD_J459;
    if (f[3]) chronic[nc++] = ICD_J441;
    if (f[1]) chronic[nc++] = synth_icd_of_gp(1, st->gp_code[1]) == ICD_E109 ? ICD_E101 : ICD_E116;
    if (f[5]) chronic[nc++] = ICD_I500;
    if (f[4]) chronic[nc++] = ICD_I209;
    if (f[0]) chronic[nc++] = ICD_I10X;
    if (f[14]) chronic[nc++] = ICD_G409;
    if (strata_rng_unif(g) < 0.15 + 0.05 * (double)nc)
        return nc && strata_rng_unif(g) < 0.6 ? chronic[strata_rng_below(g, nc)]
                                              : PICK(g, ICD_L031, ICD_N10X, ICD_E86X, ICD_K529,
                                                     ICD_J039, ICD_J181);
    if (f[4]) own[no++] = ICD_I214;
    if (f[7]) own[no++] = ICD_I639;
    if (f[6]) own[no++] = ICD_I489;
    if (f[9]) own[no++] = synth_icd_of_gp(9, st->gp_code[9]);
    if (no && strata_rng_unif(g) < 0.35)
        return own[strata_rng_below(g, no)];
    if (ps->age >= 65)
        return PICK(g, ICD_R074, ICD_R104, ICD_R55X, ICD_J189, ICD_N390, ICD_S720, ICD_R296,
                    ICD_K922);
    if (ps->age < 50)
        return PICK(g, ICD_R074, ICD_R104, ICD_R55X, ICD_J189, ICD_N390, ICD_K358);
    return PICK(g, ICD_R074, ICD_R104, ICD_R55X, ICD_J189, ICD_N390, ICD_K922);
}

static short elective_primary(ev_state *st, const synth_patient *ps)
{
    strata_rng *g = &st->g;
    if (ps->flags[9] && strata_rng_unif(g) < 0.7)
        return strata_rng_unif(g) < 0.5 ? ICD_Z511 : synth_icd_of_gp(9, st->gp_code[9]);
    if (ps->age >= 60)
        return ps->male ? PICK(g, ICD_H259, ICD_K409, ICD_M179, ICD_N40X, ICD_K573)
                        : PICK(g, ICD_H259, ICD_K409, ICD_M179, ICD_K802, ICD_K573);
    return PICK(g, ICD_K409, ICD_K802, ICD_M179);
}

/* Discharge, cost and diagnoses of the patient's spells: the primary, then
 * the patient's conditions (each coded with probability 0.85). */
static void fill_spells(ev_state *st, const synth_patient *ps, synth_events *ev)
{
    synth_tab *t = &ev->t[SYNTH_EV_SPELLS];
    for (size_t k = ps->sp0; k < t->n; k++) {
        int em = ((int8_t *)t->col[SP_METHOD])[k] == 0, los = ((int16_t *)t->col[SP_LOS])[k];
        short prim = em ? emergency_primary(st, ps) : elective_primary(st, ps);
        size_t nd = 1;
        ((int32_t *)t->col[SP_END])[k] = ((int32_t *)t->col[EV_DAY])[k] + los;
        ((double *)t->col[SP_COST])[k] = (em ? 1800.0 : 1200.0) + 420.0 * los;
        ((int16_t *)t->col[SP_DIAG])[k] = prim;
        for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
            short code;
            if (!ps->flags[c] || strata_rng_unif(&st->g) >= 0.85)
                continue;
            code = synth_icd_of_gp(c, st->gp_code[c]);
            if (code != prim && nd < SYNTH_NDIAG)
                ((int16_t *)t->col[SP_DIAG + nd++])[k] = code;
        }
        for (; nd < SYNTH_NDIAG; nd++)
            ((int16_t *)t->col[SP_DIAG + nd])[k] = STRATA_NA_CODE;
    }
}

/* The prior year's GP appointments and outpatient attendances (as many as
 * gp_appointments_12m and outpatient_12m), uniform over days -365..-1. */
static strata_status put_contacts(strata_ctx *ctx, ev_state *st, const synth_patient *ps,
                                  const synth_block *b, size_t i, synth_events *ev)
{
    const int tabs[2] = {SYNTH_EV_APPTS, SYNTH_EV_OP};
    const int n[2] = {b->gp_appointments_12m[i], b->outpatient_12m[i]};
    const double home = ps->age >= 80 ? 0.10 : 0.01; /* home visits: mostly the very old */
    for (int k = 0; k < 2; k++) {
        synth_tab *t = &ev->t[tabs[k]];
        int32_t *day;
        int8_t *cat;
        size_t k0 = t->n;
        STRATA_TRY(synth_tab_reserve(ctx, ev, tabs[k], (size_t)n[k]));
        day = t->col[EV_DAY];
        cat = t->col[2];
        for (int q = 0; q < n[k]; q++, t->n++) {
            double u = strata_rng_unif(&st->g);
            ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)ps->r;
            day[t->n] = STRATA_SYNTH_INDEX_DAY - 1 - (int32_t)strata_rng_below(&st->g, 365);
            cat[t->n] = (int8_t)(k == 1 ? q > 0 || u < 0.3 /* 0 first, 1 follow-up */
                                 : u < home ? 2 : u < home + 0.28 ? 1 : u < home + 0.30 ? 3 : 0);
        }
        synth_tab_sort_days(ev, tabs[k], k0); /* by day; ties keep their order */
    }
    return STRATA_OK;
}

/* Underlying cause of death: from the patient's conditions, else by age. */
static short death_cause(ev_state *st, const synth_patient *ps)
{
    static const int cond[6] = {9, 10, 5, 4, 3, 7}; /* cancer, dementia, HF, CHD, COPD, stroke */
    static const short code[6] = {-1, ICD_F03X, ICD_I500, ICD_I219, ICD_J449, ICD_I64X};
    static const double w[6] = {6, 4, 3, 3, 3, 2};
    double tot = 3, u;
    for (int k = 0; k < 6; k++)
        tot += ps->flags[cond[k]] ? w[k] : 0;
    u = strata_rng_unif(&st->g) * tot;
    for (int k = 0; k < 6; k++) {
        if (!ps->flags[cond[k]])
            continue;
        if (u < w[k])
            return k == 0 ? synth_icd_of_gp(9, st->gp_code[9]) : code[k];
        u -= w[k];
    }
    return ps->age >= 85 ? PICK(&st->g, ICD_R54X, ICD_J189, ICD_I64X, ICD_I259)
                         : PICK(&st->g, ICD_I219, ICD_C349, ICD_J189, ICD_I259, ICD_K922);
}

/* Costs of non-admitted care: the prior year (an integer, exact) and the
 * follow-up year, nudged by a few ulps so that, added to the follow-up spells'
 * costs, it rounds to the float32 cost_next_12m exactly. */
static strata_status put_costs(strata_ctx *ctx, const synth_patient *ps, const synth_block *b,
                               size_t i, synth_events *ev)
{
    const synth_tab *sp = &ev->t[SYNTH_EV_SPELLS];
    synth_tab *t = &ev->t[SYNTH_EV_COSTS];
    double S = 0, x = ps->cost_next_other;
    int k;
    for (size_t e = ps->sp0; e < sp->n; e++)
        if (((const int32_t *)sp->col[EV_DAY])[e] >= STRATA_SYNTH_INDEX_DAY)
            S += ((const double *)sp->col[SP_COST])[e];
    for (k = 0; k < 64 && (float)(S + x) != b->cost_next_12m[i]; k++)
        x = nextafter(x, (float)(S + x) < b->cost_next_12m[i] ? INFINITY : -INFINITY);
    if (k == 64)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "synth: row %lld: follow-up cost %.17g does not "
                           "round to %.9g", (long long)ps->r, S + x, (double)b->cost_next_12m[i]);
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_COSTS, 2));
    for (int y = 0; y < 2; y++, t->n++) {
        ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)ps->r;
        ((int32_t *)t->col[EV_DAY])[t->n] = STRATA_SYNTH_INDEX_DAY - (y ? 0 : 365);
        ((double *)t->col[CO_COST])[t->n] = y ? x : ps->cost_prior_other;
    }
    return STRATA_OK;
}

strata_status synth_patient_events(strata_ctx *ctx, const strata_synth *s, const synth_patient *ps,
                                   synth_block *b, size_t i, synth_events *ev)
{
    ev_state st;
    size_t g0 = ev->t[SYNTH_EV_GP].n;
    memset(&st, 0, sizeof st);
    st.g = strata_rng_make(s->seed, (uint64_t)ps->r, STRATA_STREAM_SYNTH_EVENTS);
    put_dates(s, &st, ps, b, i);
    choose_deficits(&st, ps);
    STRATA_TRY(put_codes(ctx, &st, ps, ev));
    STRATA_TRY(put_measures(ctx, &st, ps, ev));
    synth_tab_sort_days(ev, SYNTH_EV_GP, g0);
    fill_spells(&st, ps, ev);
    STRATA_TRY(put_contacts(ctx, &st, ps, b, i, ev));
    if (ps->D) {
        synth_tab *t = &ev->t[SYNTH_EV_DEATHS];
        STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_DEATHS, 1));
        ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)ps->r;
        ((int32_t *)t->col[EV_DAY])[t->n] = STRATA_SYNTH_INDEX_DAY + ps->dday;
        ((int16_t *)t->col[DT_CAUSE])[t->n] = death_cause(&st, ps);
        t->n++;
    }
    STRATA_TRY(synth_patient_prescriptions(ctx, s, ps, b, i, ev));
    return put_costs(ctx, ps, b, i, ev);
}
