/* engine/synth/synth_codes.c — the real codes synthetic events carry. SNOMED CT
 * codes come from the shipped lists (data/codelists: ltc15_snomed.csv built
 * from the NHS QOF PCD refsets and GM-SDE's cancer list, efi_codes.csv from
 * GM-SDE's eFI sets); terms are the lists' own. Invariant: a condition's codes
 * sit in ltc15_snomed.csv under that condition only, "expressed" ones also in
 * efi_codes.csv under exactly the condition's deficit, "clean" ones in no eFI
 * deficit; a deficit's codes are under that deficit only and in no condition
 * (tests/test_synth_derive.c reads every one back through `strata derive`). */
#include "synth_codes.h"

#include <stddef.h>

#define SNOMED_CODES(X)                                                                        \
    /* hypertension: expressed (eFI hypertension), clean */                                   \
    X(59621000, "Essential hypertension") X(38341003, "Hypertensive disorder")                \
    X(1201005, "Benign essential hypertension") X(10725009, "Benign hypertension")            \
    X(371125006, "Labile essential hypertension") X(429457004, "Systolic essential hypertension") \
    /* diabetes (eFI diabetes) */                                                              \
    X(44054006, "Diabetes mellitus type 2") X(46635009, "Diabetes mellitus type 1")           \
    X(313436004, "Type II diabetes mellitus without complication")                             \
    X(1481000119100, "Diabetes mellitus type 2 without retinopathy")                           \
    X(445353002, "Brittle type 2 diabetes mellitus") X(290002008, "Brittle type 1 diabetes mellitus") \
    /* asthma (eFI respiratory disease) */                                                     \
    X(195967001, "Asthma") X(389145006, "Allergic asthma") X(445427006, "Seasonal asthma")    \
    X(10674991000119104, "Intermittent allergic asthma")                                       \
    X(10676071000119109, "Mild persistent asthma controlled")                                  \
    /* COPD (eFI respiratory disease) */                                                       \
    X(13645005, "Chronic obstructive pulmonary disease")                                       \
    X(185086009, "Chronic obstructive bronchitis") X(87433001, "Pulmonary emphysema")          \
    X(16846004, "Obstructive emphysema") X(266356006, "Atrophic (senile) emphysema")           \
    X(52571006, "Chronic tracheobronchitis")                                                   \
    /* CHD (eFI ischaemic heart disease) */                                                    \
    X(194828000, "Angina") X(22298006, "Myocardial infarction") X(414545008, "Ischemic heart disease") \
    X(429559004, "Typical angina") X(371807002, "Atypical angina") X(233821000, "New onset angina") \
    X(401303003, "Acute ST segment elevation myocardial infarction")                           \
    /* heart failure (eFI heart failure) */                                                    \
    X(84114007, "Heart failure") X(42343007, "Congestive heart failure")                       \
    X(48447003, "Chronic heart failure") X(703272007, "Heart failure with reduced ejection fraction") \
    X(441530006, "Chronic diastolic heart failure")                                            \
    /* AF (eFI atrial fibrillation) */                                                         \
    X(49436004, "Atrial fibrillation") X(282825002, "Paroxysmal atrial fibrillation")          \
    X(440028005, "Permanent atrial fibrillation") X(426749004, "Chronic atrial fibrillation")  \
    X(706923002, "Longstanding persistent atrial fibrillation")                                \
    /* stroke/TIA (eFI cerebrovascular disease) */                                             \
    X(230690007, "Cerebrovascular accident") X(266257000, "Transient ischemic attack")         \
    X(432504007, "Cerebral infarction") X(371041009, "Embolic stroke")                         \
    X(371040005, "Thrombotic stroke") X(25133001, "Completed stroke")                          \
    /* CKD 3-5 (eFI chronic kidney disease) */                                                 \
    X(433144002, "Chronic kidney disease stage 3") X(700378005, "Chronic kidney disease stage 3A") \
    X(700379002, "Chronic kidney disease stage 3B") X(431857002, "Chronic kidney disease stage 4") \
    X(284991000119104, "Chronic kidney disease stage 3 due to benign hypertension")           \
    X(731000119105, "Chronic kidney disease stage 3 due to type 2 diabetes mellitus")         \
    X(129151000119102, "Chronic kidney disease stage 4 due to hypertension")                  \
    /* cancer (no eFI deficit) */                                                              \
    X(254837009, "Malignant neoplasm of breast") X(399068003, "Malignant tumor of prostate")   \
    X(363406005, "Malignant neoplasm of colon") X(363358000, "Malignant tumor of lung")        \
    X(372244006, "Malignant melanoma") X(363418001, "Malignant tumor of pancreas")             \
    /* dementia (eFI memory and cognitive problems) */                                         \
    X(52448006, "Dementia") X(26929004, "Alzheimer's disease") X(429998004, "Vascular dementia") \
    X(79341000119107, "Mixed dementia") X(230268000, "Non-familial Alzheimer's disease of late onset") \
    X(1591000119103, "Dementia with behavioral disturbance")                                   \
    /* depression, SMI, learning disability, epilepsy (no eFI deficit) */                      \
    X(35489007, "Depressive disorder") X(370143000, "Major depressive disorder")               \
    X(310495003, "Mild depression") X(192080009, "Chronic depression")                         \
    X(58214004, "Schizophrenia") X(13746004, "Bipolar disorder") X(69322001, "Psychotic disorder") \
    X(110359009, "Intellectual disability") X(41040004, "Complete trisomy 21 syndrome")        \
    X(84757009, "Epilepsy") X(352818000, "Tonic-clonic epilepsy")                              \
    /* eFI deficits, in efi_deficits.csv order */                                              \
    X(21134002, "Disability") X(160983005, "Attendance allowance")                             \
    X(87522002, "Iron deficiency anemia") X(271737000, "Anemia")                               \
    X(396275006, "Osteoarthritis") X(239873007, "Osteoarthritis of knee") X(3723001, "Arthritis") \
    X(163000006, "On examination - pulse irregularly irregular")                               \
    X(164889003, "Electrocardiographic atrial fibrillation")                                   \
    X(2517002, "Stroke rehabilitation") X(61683000, "Drop attack")                             \
    X(236425005, "Chronic renal impairment") X(29738008, "Proteinuria")                        \
    X(422034002, "Retinopathy due to type 2 diabetes mellitus")                                \
    X(28453007, "Maturity onset diabetes mellitus in young")                                   \
    X(399153001, "Vertigo") X(50438001, "Peripheral vertigo")                                  \
    X(60845006, "Dyspnea on exertion") X(161941007, "Dyspnea at rest")                         \
    X(161898004, "Falls") X(217082002, "Accidental fall")                                      \
    X(201037000, "Corns and callus") X(185303007, "Seen by podiatrist")                        \
    X(5913000, "Fracture of neck of femur") X(12676007, "Fracture of radius")                  \
    X(15188001, "Hearing loss") X(6012004, "Hearing aid, device")                              \
    X(55442000, "Paroxysmal nocturnal dyspnea") X(40541001, "Acute pulmonary edema")           \
    X(60573004, "Aortic valve stenosis") X(48724000, "Mitral valve regurgitation")             \
    X(160689007, "Housebound")                                                                 \
    X(24184005, "Finding of increased blood pressure") X(6962006, "Hypertensive retinopathy")  \
    X(28651003, "Orthostatic hypotension") X(45007003, "Low blood pressure")                   \
    X(36969009, "Placement of stent in coronary artery")                                       \
    X(11101003, "Percutaneous transluminal coronary angioplasty")                              \
    X(386807006, "Memory impairment") X(2776000, "Delirium")                                   \
    X(8510008, "Reduced mobility") X(160683008, "Needs walking aid in home")                   \
    X(18040001, "Senile osteoporosis") X(102447009, "Postmenopausal osteoporosis")             \
    X(49049000, "Parkinson's disease") X(26079004, "Tremor")                                   \
    X(13200003, "Peptic ulcer")                                                                \
    X(400047006, "Peripheral vascular disease") X(81817003, "Atherosclerosis of aorta")        \
    X(160734000, "Lives in nursing home") X(160774006, "Home help attends")                    \
    X(15081005, "Pulmonary rehabilitation") X(68154008, "Chronic cough")                       \
    X(46742003, "Skin ulcer")                                                                  \
    X(193462001, "Insomnia") X(162201008, "Insomnia (& C/O)")                                  \
    X(105529008, "Lives alone") X(33553000, "Widowed")                                         \
    X(40930008, "Hypothyroidism") X(34486009, "Hyperthyroidism")                               \
    X(165232002, "Urinary incontinence") X(22220005, "Genuine stress incontinence")            \
    X(68566005, "Urinary tract infectious disease")                                            \
    X(42030000, "Disorder of the genitourinary system")                                        \
    X(193570009, "Cataract") X(849000, "Mature cataract")                                      \
    X(89362005, "Weight loss") X(79890006, "Loss of appetite")                                 \
    /* measurements (in no list) */                                                            \
    X(60621009, "Body mass index (observable entity)")                                         \
    X(163030003, "On examination - Systolic blood pressure reading")                           \
    X(1011481000000105, "eGFR using creatinine CKD-EPI per 1.73 square metres")

enum {
#define X(code, term) S_##code,
    SNOMED_CODES(X)
#undef X
        S_N_
};

const char *const synth_snomed_levels[] = {
#define X(code, term) #code,
    SNOMED_CODES(X)
#undef X
};
const size_t synth_n_snomed = S_N_;

const short synth_code_bmi = S_60621009, synth_code_sbp = S_163030003,
            synth_code_egfr = S_1011481000000105;

/* Deficit numbers (0-based, efi_deficits.csv order without polypharmacy). */
enum {
    D_ACTIVITY, D_ANAEMIA, D_ARTHRITIS, D_AF, D_CEREBRO, D_CKD, D_DIABETES, D_DIZZY, D_DYSPNOEA,
    D_FALLS, D_FOOT, D_FRACTURE, D_HEARING, D_HF, D_VALVE, D_HOUSEBOUND, D_HYPERTENSION,
    D_HYPOTENSION, D_IHD, D_MEMORY, D_MOBILITY, D_OSTEOPOROSIS, D_PARKINSON, D_PEPTIC, D_PVD,
    D_CARE, D_RESPIRATORY, D_SKIN_ULCER, D_SLEEP, D_SOCIAL, D_THYROID, D_INCONTINENCE, D_URINARY,
    D_VISUAL, D_WEIGHT_LOSS
};

const synth_cond_codes synth_codes_cond[STRATA_SYNTH_NCOND] = {
    {D_HYPERTENSION, 3, 3, {S_59621000, S_38341003, S_1201005},
     {S_10725009, S_371125006, S_429457004}},
    {D_DIABETES, 3, 3, {S_44054006, S_46635009, S_313436004},
     {S_1481000119100, S_445353002, S_290002008}},
    {D_RESPIRATORY, 2, 3, {S_195967001, S_389145006},
     {S_445427006, S_10674991000119104, S_10676071000119109}},
    {D_RESPIRATORY, 3, 3, {S_13645005, S_185086009, S_87433001},
     {S_16846004, S_266356006, S_52571006}},
    {D_IHD, 3, 4, {S_194828000, S_22298006, S_414545008},
     {S_429559004, S_371807002, S_233821000, S_401303003}},
    {D_HF, 2, 3, {S_84114007, S_42343007}, {S_48447003, S_703272007, S_441530006}},
    {D_AF, 3, 2, {S_49436004, S_282825002, S_440028005}, {S_426749004, S_706923002}},
    {D_CEREBRO, 3, 3, {S_230690007, S_266257000, S_432504007},
     {S_371041009, S_371040005, S_25133001}},
    {D_CKD, 4, 3, {S_433144002, S_700378005, S_700379002, S_431857002},
     {S_284991000119104, S_731000119105, S_129151000119102}},
    {-1, 0, 6, {0},
     {S_254837009, S_399068003, S_363406005, S_363358000, S_372244006, S_363418001}},
    {D_MEMORY, 3, 3, {S_52448006, S_26929004, S_429998004},
     {S_79341000119107, S_230268000, S_1591000119103}},
    {-1, 0, 4, {0}, {S_35489007, S_370143000, S_310495003, S_192080009}},
    {-1, 0, 3, {0}, {S_58214004, S_13746004, S_69322001}},
    {-1, 0, 2, {0}, {S_110359009, S_41040004}},
    {-1, 0, 2, {0}, {S_84757009, S_352818000}},
};

const synth_deficit_codes synth_codes_deficit[SYNTH_NDEFICIT] = {
    [D_ACTIVITY] = {2, {S_21134002, S_160983005}},
    [D_ANAEMIA] = {2, {S_87522002, S_271737000}},
    [D_ARTHRITIS] = {3, {S_396275006, S_239873007, S_3723001}},
    [D_AF] = {2, {S_163000006, S_164889003}},
    [D_CEREBRO] = {2, {S_2517002, S_61683000}},
    [D_CKD] = {2, {S_236425005, S_29738008}},
    [D_DIABETES] = {2, {S_422034002, S_28453007}},
    [D_DIZZY] = {2, {S_399153001, S_50438001}},
    [D_DYSPNOEA] = {2, {S_60845006, S_161941007}},
    [D_FALLS] = {2, {S_161898004, S_217082002}},
    [D_FOOT] = {2, {S_201037000, S_185303007}},
    [D_FRACTURE] = {2, {S_5913000, S_12676007}},
    [D_HEARING] = {2, {S_15188001, S_6012004}},
    [D_HF] = {2, {S_55442000, S_40541001}},
    [D_VALVE] = {2, {S_60573004, S_48724000}},
    [D_HOUSEBOUND] = {1, {S_160689007}},
    [D_HYPERTENSION] = {2, {S_24184005, S_6962006}},
    [D_HYPOTENSION] = {2, {S_28651003, S_45007003}},
    [D_IHD] = {2, {S_36969009, S_11101003}},
    [D_MEMORY] = {2, {S_386807006, S_2776000}},
    [D_MOBILITY] = {2, {S_8510008, S_160683008}},
    [D_OSTEOPOROSIS] = {2, {S_18040001, S_102447009}},
    [D_PARKINSON] = {2, {S_49049000, S_26079004}},
    [D_PEPTIC] = {1, {S_13200003}},
    [D_PVD] = {2, {S_400047006, S_81817003}},
    [D_CARE] = {2, {S_160734000, S_160774006}},
    [D_RESPIRATORY] = {2, {S_15081005, S_68154008}},
    [D_SKIN_ULCER] = {1, {S_46742003}},
    [D_SLEEP] = {2, {S_193462001, S_162201008}},
    [D_SOCIAL] = {2, {S_105529008, S_33553000}},
    [D_THYROID] = {2, {S_40930008, S_34486009}},
    [D_INCONTINENCE] = {2, {S_165232002, S_22220005}},
    [D_URINARY] = {2, {S_68566005, S_42030000}},
    [D_VISUAL] = {2, {S_193570009, S_849000}},
    [D_WEIGHT_LOSS] = {2, {S_89362005, S_79890006}},
};

const char *const synth_icd10_levels[SYNTH_N_ICD] = {
    [ICD_I10X] = "I10X", [ICD_E119] = "E119", [ICD_E109] = "E109", [ICD_J459] = "J459",
    [ICD_J449] = "J449", [ICD_I259] = "I259", [ICD_I500] = "I500", [ICD_I489] = "I489",
    [ICD_I694] = "I694", [ICD_N183] = "N183", [ICD_F03X] = "F03X", [ICD_F329] = "F329",
    [ICD_F209] = "F209", [ICD_F319] = "F319", [ICD_F29X] = "F29X", [ICD_F79X] = "F79X",
    [ICD_Q909] = "Q909", [ICD_G409] = "G409", [ICD_C509] = "C509", [ICD_C61X] = "C61X",
    [ICD_C189] = "C189", [ICD_C349] = "C349", [ICD_C439] = "C439", [ICD_C259] = "C259",
    [ICD_J441] = "J441", [ICD_E116] = "E116", [ICD_E101] = "E101", [ICD_I209] = "I209",
    [ICD_R568] = "R568", [ICD_L031] = "L031", [ICD_N10X] = "N10X", [ICD_E86X] = "E86X",
    [ICD_K529] = "K529", [ICD_J039] = "J039", [ICD_J181] = "J181", [ICD_R074] = "R074",
    [ICD_R104] = "R104", [ICD_R55X] = "R55X", [ICD_S720] = "S720", [ICD_K358] = "K358",
    [ICD_J189] = "J189", [ICD_N390] = "N390", [ICD_I214] = "I214", [ICD_I639] = "I639",
    [ICD_R296] = "R296", [ICD_K922] = "K922", [ICD_Z511] = "Z511", [ICD_H259] = "H259",
    [ICD_K409] = "K409", [ICD_M179] = "M179", [ICD_K802] = "K802", [ICD_N40X] = "N40X",
    [ICD_K573] = "K573", [ICD_R54X] = "R54X", [ICD_I64X] = "I64X", [ICD_I219] = "I219",
};

const short synth_icd_cond[STRATA_SYNTH_NCOND] = {
    ICD_I10X, ICD_E119, ICD_J459, ICD_J449, ICD_I259, ICD_I500, ICD_I489, ICD_I694,
    ICD_N183, ICD_C189, ICD_F03X, ICD_F329, ICD_F209, ICD_F79X, ICD_G409,
};

short synth_icd_of_gp(int c, short snomed)
{
    switch (snomed) {
    case S_46635009:
    case S_290002008: return ICD_E109;
    case S_254837009: return ICD_C509;
    case S_399068003: return ICD_C61X;
    case S_363358000: return ICD_C349;
    case S_372244006: return ICD_C439;
    case S_363418001: return ICD_C259;
    case S_13746004: return ICD_F319;
    case S_69322001: return ICD_F29X;
    case S_41040004: return ICD_Q909;
    default: return synth_icd_cond[c];
    }
}
