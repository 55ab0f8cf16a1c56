/* engine/synth/synth_codes.h — the real clinical codes synthetic events carry
 * (synth_codes.c): SNOMED CT for GP events, ICD-10 (HES style, no dot, X
 * padding) for spells and deaths. Each enum value is the code's level number
 * in its categorical column, so an event stores it as is. */
#ifndef STRATA_SYNTH_CODES_H
#define STRATA_SYNTH_CODES_H

#include "strata/synth.h"

/* eFI deficits with a code list (efi_deficits.csv order, polypharmacy left out). */
#define SYNTH_NDEFICIT 35

/* SNOMED CT codes of one condition: "expressed" codes are also eFI codes of
 * the condition's deficit (exactly that one), "clean" codes are in no eFI list.
 * Both are in ltc15_snomed.csv under this condition only. */
typedef struct synth_cond_codes {
    int deficit;                 /* eFI deficit the condition implies, -1 none */
    int n_expr, n_clean;
    short expr[4], clean[6];     /* SNOMED levels */
} synth_cond_codes;

extern const synth_cond_codes synth_codes_cond[STRATA_SYNTH_NCOND];
/* Codes of each coded eFI deficit: in efi_codes.csv under that deficit only
 * and in no condition list. */
typedef struct synth_deficit_codes {
    int n;
    short code[3];
} synth_deficit_codes;
extern const synth_deficit_codes synth_codes_deficit[SYNTH_NDEFICIT];

/* Measurements (GP events with a value). */
extern const short synth_code_bmi, synth_code_sbp, synth_code_egfr;

extern const char *const synth_snomed_levels[];
extern const size_t synth_n_snomed;

/* ICD-10 levels. */
enum {
    /* chronic conditions as secondary diagnoses (and T1 diabetes, other SMI and LD forms) */
    ICD_I10X, ICD_E119, ICD_E109, ICD_J459, ICD_J449, ICD_I259, ICD_I500, ICD_I489, ICD_I694,
    ICD_N183, ICD_F03X, ICD_F329, ICD_F209, ICD_F319, ICD_F29X, ICD_F79X, ICD_Q909, ICD_G409,
    /* cancer sites */
    ICD_C509, ICD_C61X, ICD_C189, ICD_C349, ICD_C439, ICD_C259,
    /* ambulatory care sensitive primaries (acsc_icd10.csv) */
    ICD_J441, ICD_E116, ICD_E101, ICD_I209, ICD_R568, ICD_L031, ICD_N10X, ICD_E86X, ICD_K529,
    ICD_J039, ICD_J181,
    /* other emergency primaries */
    ICD_R074, ICD_R104, ICD_R55X, ICD_S720, ICD_K358, ICD_J189, ICD_N390, ICD_I214, ICD_I639,
    ICD_R296, ICD_K922,
    /* elective primaries */
    ICD_Z511, ICD_H259, ICD_K409, ICD_M179, ICD_K802, ICD_N40X, ICD_K573,
    /* causes of death only */
    ICD_R54X, ICD_I64X, ICD_I219,
    SYNTH_N_ICD
};
extern const char *const synth_icd10_levels[SYNTH_N_ICD];
/* Secondary-diagnosis code of each condition (the cancer site and the forms of
 * diabetes, SMI and LD follow the patient's GP code). */
extern const short synth_icd_cond[STRATA_SYNTH_NCOND];
short synth_icd_of_gp(int c, short snomed);

#endif
