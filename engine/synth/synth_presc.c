/* engine/synth/synth_presc.c — a synthetic patient's prescriptions (GP
 * prescribing, BNF chemical substances), drawn from the row's own stream
 * (STRATA_STREAM_SYNTH_PRESC), so no other table or flat column changes.
 * Invariant: the patient's repeat_medicines distinct drugs, and no others, are
 * issued as repeats in the 84 days before the index date; stopped repeats end
 * before that and acute issues are marked `acute`, so
 * data/specs/derive_default.yaml derives repeat_medicines back exactly
 * (docs/synthetic.md#prescriptions). */
#include "synth_internal.h"

#include <string.h>

/* BNF chemical-substance codes (9 characters: chapter 2, section 2, paragraph
 * 2, sub-paragraph 1, substance 2). Repeats first (RX_NREPEAT), then acute. */
const char *const synth_bnf_levels[] = {
    "0212000B0", /* 0 atorvastatin */
    "0206020A0", /* 1 amlodipine */
    "0103050L0", /* 2 lansoprazole */
    "0205051R0", /* 3 ramipril */
    "0103050P0", /* 4 omeprazole */
    "0602010V0", /* 5 levothyroxine sodium */
    "0204000H0", /* 6 bisoprolol fumarate */
    "0906040G0", /* 7 colecalciferol */
    "0601022B0", /* 8 metformin */
    "0403030Q0", /* 9 sertraline */
    "0212000Y0", /* 10 simvastatin */
    "0209000A0", /* 11 aspirin */
    "0209000C0", /* 12 clopidogrel */
    "0208020Z0", /* 13 apixaban */
    "0208020Y0", /* 14 rivaroxaban */
    "0208020V0", /* 15 warfarin sodium */
    "0205052N0", /* 16 losartan potassium */
    "0205052C0", /* 17 candesartan cilexetil */
    "0205051L0", /* 18 lisinopril */
    "0202010B0", /* 19 bendroflumethiazide */
    "0202010P0", /* 20 indapamide */
    "0202020L0", /* 21 furosemide */
    "0202030S0", /* 22 spironolactone */
    "0204000E0", /* 23 atenolol */
    "0205040D0", /* 24 doxazosin mesilate */
    "0601021M0", /* 25 gliclazide */
    "0601023AG", /* 26 dapagliflozin */
    "0601023AN", /* 27 empagliflozin */
    "0601023AB", /* 28 sitagliptin */
    "0601012V0", /* 29 insulin glargine */
    "0301011R0", /* 30 salbutamol */
    "0302000C0", /* 31 beclometasone */
    "0302000N0", /* 32 fluticasone */
    "0301020Q0", /* 33 tiotropium */
    "0303020G0", /* 34 montelukast */
    "0403030D0", /* 35 citalopram */
    "0403030E0", /* 36 fluoxetine */
    "0403040X0", /* 37 mirtazapine */
    "0403010B0", /* 38 amitriptyline */
    "0402010AB", /* 39 quetiapine */
    "0402010AD", /* 40 olanzapine */
    "0402030K0", /* 41 lithium carbonate */
    "0408010AH", /* 42 levetiracetam */
    "0408010H0", /* 43 lamotrigine */
    "0408010W0", /* 44 sodium valproate */
    "0408010C0", /* 45 carbamazepine */
    "0411000D0", /* 46 donepezil */
    "0411000G0", /* 47 memantine */
    "0407010H0", /* 48 paracetamol */
    "0407010F0", /* 49 co-codamol */
    "0407020AD", /* 50 tramadol */
    "0407020Q0", /* 51 morphine sulfate */
    "0408010AE", /* 52 pregabalin */
    "0408010G0", /* 53 gabapentin */
    "0704010U0", /* 54 tamsulosin */
    "0606020A0", /* 55 alendronic acid */
    "0906040N0", /* 56 calcium with vitamin D */
    "0901011P0", /* 57 ferrous sulfate */
    "0901020G0", /* 58 folic acid */
    "1001010P0", /* 59 naproxen */
    "1001040G0", /* 60 allopurinol */
    "0212000AA", /* 61 rosuvastatin */
    "0205051M0", /* 62 perindopril */
    "0803041B0", /* 63 anastrozole */
    "1106000Z0", /* 64 latanoprost */
    "0603020T0", /* 65 prednisolone */
    /* acute */
    "0501013B0", /* amoxicillin */
    "0501030I0", /* doxycycline */
    "0501130R0", /* nitrofurantoin */
    "0501050B0", /* clarithromycin */
    "0501012G0", /* flucloxacillin */
    "0501080W0", /* trimethoprim */
    "1001010J0", /* ibuprofen */
    "0309010C0", /* codeine linctus */
};
#define RX_NREPEAT 66
#define RX_NACUTE 8
const size_t synth_n_bnf = RX_NREPEAT + RX_NACUTE;

/* Drugs a condition makes likely (pool indices), in the order of the 15 flags.
 */
static const signed char cond_drugs[STRATA_SYNTH_NCOND][8] = {
    {1, 3, 16, 17, 18, 19, 20, 24}, /* hypertension */
    {8, 25, 26, 27, 28, 29, 0, -1}, /* diabetes */
    {30, 31, 32, 34, -1},           /* asthma */
    {30, 33, 32, -1},               /* COPD */
    {0, 11, 6, 12, 3, 10, 61, -1},  /* CHD */
    {21, 6, 3, 22, 62, -1},         /* heart failure */
    {13, 14, 15, 6, -1},            /* AF */
    {12, 0, 11, -1},                /* stroke/TIA */
    {60, 7, 57, -1},                /* CKD */
    {63, 51, 4, -1},                /* cancer */
    {46, 47, -1},                   /* dementia */
    {9, 35, 36, 37, 38, -1},        /* depression */
    {39, 40, 41, -1},               /* SMI */
    {44, 2, -1},                    /* learning disability */
    {42, 43, 44, 45, -1},           /* epilepsy */
};

typedef struct rx_rows {
    synth_tab *t;
    int64_t r;
} rx_rows;

static void put_rx(rx_rows *x, int32_t day, int drug, int acute)
{
    synth_tab *t = x->t;
    ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)x->r;
    ((int32_t *)t->col[EV_DAY])[t->n] = day;
    ((int16_t *)t->col[RX_BNF])[t->n] = (int16_t)drug;
    ((int8_t *)t->col[RX_ISSUE])[t->n] = (int8_t)acute;
    t->n++;
}

/* A uniform day in [lo, hi] (lo <= hi). */
static int32_t rx_day(strata_rng *g, int32_t lo, int32_t hi)
{
    return lo + (int32_t)strata_rng_below(g, (size_t)(hi - lo) + 1);
}

/* Supply interval of a repeat: 28 days (half), 56 or 84. */
static int32_t rx_interval(strata_rng *g)
{
    double u = strata_rng_unif(g);
    return u < 0.5 ? 28 : u < 0.75 ? 56 : 84;
}

/* The order drugs are taken in: those of the patient's conditions first
 * (each condition's in random order), then the rest of the pool. */
static int drug_order(strata_rng *g, const synth_patient *ps, int *order)
{
    unsigned char seen[RX_NREPEAT] = {0};
    int n = 0, rest[RX_NREPEAT], nr = 0;
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        int k0 = n;
        if (!ps->flags[c])
            continue;
        for (int j = 0; j < 8 && cond_drugs[c][j] >= 0; j++)
            if (!seen[cond_drugs[c][j]]) {
                seen[cond_drugs[c][j]] = 1;
                order[n++] = cond_drugs[c][j];
            }
        for (int j = n - 1; j > k0; j--) { /* Fisher-Yates within the condition */
            int x = k0 + (int)strata_rng_below(g, (size_t)(j - k0 + 1)), t = order[j];
            order[j] = order[x];
            order[x] = t;
        }
    }
    for (int d = 0; d < RX_NREPEAT; d++)
        if (!seen[d])
            rest[nr++] = d;
    for (int j = nr - 1; j > 0; j--) {
        int x = (int)strata_rng_below(g, (size_t)(j + 1)), t = rest[j];
        rest[j] = rest[x];
        rest[x] = t;
    }
    memcpy(order + n, rest, (size_t)nr * sizeof *rest);
    return n + nr;
}

strata_status synth_patient_prescriptions(strata_ctx *ctx, const strata_synth *s,
                                          const synth_patient *ps, const synth_block *b, size_t i,
                                          synth_events *ev)
{
    const int32_t index = STRATA_SYNTH_INDEX_DAY, first = index - 365;
    const int32_t birth = b->birth_date[i], lo = birth > first ? birth : first;
    strata_rng g = strata_rng_make(s->seed, (uint64_t)ps->r, STRATA_STREAM_SYNTH_PRESC);
    int order[RX_NREPEAT], m = b->repeat_medicines[i], nstop, nacute, acute[RX_NACUTE];
    rx_rows x = {&ev->t[SYNTH_EV_PRESC], ps->r};
    size_t k0 = x.t->n;
    drug_order(&g, ps, order);
    m = m > RX_NREPEAT ? RX_NREPEAT : m;
    nstop = birth <= index - 85 && m < RX_NREPEAT ? synth_poisson(&g, 0.1 + 0.1 * m, 5) : 0;
    nstop = nstop > RX_NREPEAT - m ? RX_NREPEAT - m : nstop;
    nacute = synth_poisson(&g, 0.4 + 0.1 * ps->ltc, RX_NACUTE);
    /* at most 14 issues a year of each repeat (every 28 days), 4 of a stopped one */
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_PRESC, (size_t)(14 * m + 4 * nstop + nacute)));
    for (int k = 0; k < m; k++) { /* current repeats: the latest issue in the last q days */
        int32_t q = rx_interval(&g),
                d = rx_day(&g, index - q > birth ? index - q : birth, index - 1);
        /* started before the year (4 in 5) or during it, by the latest issue */
        int32_t start = strata_rng_unif(&g) < 0.8 ? first : rx_day(&g, first, d);
        do
            put_rx(&x, d, order[k], 0);
        while ((d -= q) >= lo && d >= start);
    }
    for (int k = 0; k < nstop; k++) { /* stopped: the last issue 85..365 days before */
        int32_t q = rx_interval(&g), d = rx_day(&g, lo > first ? lo : first, index - 85);
        int nis = 1 + (int)strata_rng_below(&g, 4);
        for (int j = 0; j < nis && d >= lo; j++, d -= q)
            put_rx(&x, d, order[m + k], 0);
    }
    for (int k = 0; k < RX_NACUTE; k++)
        acute[k] = RX_NREPEAT + k;
    for (int k = 0; k < nacute; k++) { /* acute issues: distinct drugs over the year */
        int j = k + (int)strata_rng_below(&g, (size_t)(RX_NACUTE - k)), t = acute[k];
        acute[k] = acute[j];
        acute[j] = t;
        put_rx(&x, rx_day(&g, lo, index - 1), acute[k], 1);
    }
    synth_tab_sort_days(ev, SYNTH_EV_PRESC, k0);
    return STRATA_OK;
}
