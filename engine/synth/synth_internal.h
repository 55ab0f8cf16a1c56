/* engine/synth/synth_internal.h — what the synth_*.c files share: the prepared
 * generator, the Poisson and binomial draws on engine/core's RNG and the
 * row-block buffers. Invariant: a patient's values depend only on (seed,
 * global row index): every draw comes from a strata_rng keyed by both, never
 * from shared state. */
#ifndef STRATA_SYNTH_INTERNAL_H
#define STRATA_SYNTH_INTERNAL_H

#include "internal.h"
#include "strata/cohort.h"
#include "strata/synth.h"

#include <math.h>
#include <stdint.h>

#define SYNTH_NBANDS 20 /* 0-4, ..., 90-94, 95+ */
#define SYNTH_NCELLS 40 /* sex x band: F bands 0..19, then M bands */
#define SYNTH_NETH 5    /* Asian, Black, Mixed, Other, White */
#define SYNTH_NREGIONS 7
#define SYNTH_MAX_AGE 110

/* ---- random numbers: engine/core's counter-based strata_rng, one stream per
 * patient row (strata_rng_make(seed, row, STRATA_STREAM_SYNTH_PATIENT)) -- */

static inline double synth_expit(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Poisson by inversion (exact) up to mean 30, normal approximation above; capped. */
static inline int synth_poisson(strata_rng *r, double mu, int cap)
{
    int k = 0;
    if (!(mu > 0.0))
        return 0;
    if (mu > 30.0) {
        double x = floor(mu + sqrt(mu) * strata_rng_norm(r) + 0.5);
        k = x < 0 ? 0 : (x > cap ? cap : (int)x);
        return k;
    }
    {
        double u = strata_rng_unif(r), p = exp(-mu), c = p;
        while (u > c && k < cap) {
            k++;
            p *= mu / k;
            c += p;
        }
    }
    return k;
}

/* Binomial(n, p) by inversion with the pmf recursion. */
static inline int synth_binom(strata_rng *r, int n, double p)
{
    double u = strata_rng_unif(r), q = 1.0 - p, pk = pow(q, n), c = pk;
    int k = 0;
    while (u > c && k < n) {
        pk *= (double)(n - k) / (double)(k + 1) * p / q;
        k++;
        c += pk;
    }
    return k;
}

/* Bijective permutation of [0, n) keyed by key (4-round Feistel on the next
 * even bit width, cycle-walking back into range). */
uint64_t synth_permute(uint64_t key, uint64_t n, uint64_t i);

/* ---- the prepared generator ---------------------------------------------- */

typedef struct synth_practice {
    char code[12], pcn[12], sub_icb[12], icb[12], region[8];
    int pcn_i, sub_i, icb_i, region_i;   /* level codes within the selection / region table */
    int64_t reg[SYNTH_NCELLS];           /* real register, sex x band */
    int64_t list;                        /* registered list size */
    double imd_score;                    /* IMD 2019 practice score */
    char imd_src;                        /* P practice, N PCN mean, I ICB mean, E England */
    double imd_q;                        /* population-weighted mid-rank, 0 = most deprived */
    double dec_cdf[10];                  /* P(imd decile <= d+1) for this practice's patients */
    double qof[STRATA_SYNTH_NCOND];      /* QOF target prevalence */
    char qof_src;                        /* P practice, N PCN, I ICB, E England */
    float offset[STRATA_SYNTH_NCOND];    /* tuned logit offsets */
    int64_t row0, nrows;                 /* rows of this practice in the cohort */
    int64_t cell_cum[SYNTH_NCELLS];      /* cumulative synthetic patients per cell */
} synth_practice;

struct strata_synth {
    strata_ctx *ctx;
    uint64_t seed;
    size_t block_rows;
    size_t npr;                       /* practices of the selection */
    synth_practice *pr;
    size_t nrows;
    /* single year of age within each band, per ICB of the selection and sex:
     * cumulative shares of the 5 years (last band unused) */
    size_t nicb;
    double *age_cdf;                  /* [nicb][2][SYNTH_NBANDS][5] */
    /* level tables of the categorical area columns */
    char **lv_practice, **lv_pcn, **lv_sub, **lv_icb;
    size_t n_pcn, n_sub, n_icb;
    double base_tab[STRATA_SYNTH_NCOND][SYNTH_MAX_AGE + 1]; /* synth_cond_base by year */
    int32_t dec1[SYNTH_MAX_AGE + 2]; /* day of 1 December of year 2025 - a (synth_events.c) */
};

/* The 15 conditions' model (docs/synthetic.md#conditions). */
typedef struct synth_cond_model {
    const char *name;
    const char *qof;     /* QOF group code */
    int min_age;         /* QOF denominator age (0 = all ages) */
    int onset_age;       /* never present below this age */
    double prev[5];      /* baseline prevalence at ages 10, 30, 50, 70, 85 */
    double male;         /* logit shift for male sex */
    double dep;          /* logit shift per IMD decile above 5.5 (negative: more in deprived) */
    double load;         /* loading on the latent morbidity factor */
} synth_cond_model;

extern const synth_cond_model synth_cond[STRATA_SYNTH_NCOND];
/* Baseline logit of condition c at age a (piecewise linear in logit between knots). */
double synth_cond_base(int c, double age);
/* Region shares of the ethnic groups (docs/synthetic.md#ethnicity). */
extern const char *const synth_region_codes[SYNTH_NREGIONS];
extern const double synth_eth_share[SYNTH_NREGIONS][SYNTH_NETH];
extern const char *const synth_eth_levels[SYNTH_NETH];

/* ---- ground truth -------------------------------------------------------- */

typedef struct synth_term {
    const char *model;
    const char *term;
    double beta;
} synth_term;
extern const synth_term synth_truth[];
extern const size_t synth_ntruth;
/* Indexes into synth_truth of each model's first term (fixed layout). */
enum {
    SYNTH_T_EMERG = 0,  /* 8 terms: (Intercept) age sexM imd_decile ltc_count efi_deficits
                           prior_emergency_12m ae_attendances_12m */
    SYNTH_T_EXTRA = 8,  /* 4 terms: (Intercept) age ltc_count prior_emergency_12m */
    SYNTH_T_DEATH = 12, /* 7 terms: (Intercept) age sexM imd_decile ltc_count efi_deficits
                           emergency_admission_12m */
    SYNTH_T_COST = 19,  /* 5 terms: (Intercept) age imd_decile ltc_count efi_deficits */
    SYNTH_T_END = 24
};

/* ---- one block of generated rows ------------------------------------------ */

typedef struct synth_block {
    size_t cap;                  /* rows allocated */
    int64_t *patient_id;
    int32_t *practice, *pcn, *sub_icb, *icb;
    int8_t *imd_decile, *age, *sex, *ethnicity;
    int8_t *cond[STRATA_SYNTH_NCOND];
    int8_t *ltc_count, *efi_deficits, *smoking;
    float *bmi, *sbp;
    int16_t *gp_appointments_12m, *ae_attendances_12m, *prior_emergency_12m,
        *prior_elective_12m, *outpatient_12m, *bed_days_12m, *repeat_medicines;
    float *cost_12m;
    int8_t *emergency_admission_12m, *emergency_event, *death_12m;
    int16_t *emergency_admissions_12m, *time_to_emergency_days;
    float *cost_next_12m;
    int32_t *birth_date, *registration_start, *registration_end, *death_date; /* days; NA */
} synth_block;

/* ---- linked event tables (docs/synthetic.md#events) ------------------------ */

enum {
    SYNTH_EV_SPELLS, SYNTH_EV_AE, SYNTH_EV_GP, SYNTH_EV_APPTS, SYNTH_EV_OP, SYNTH_EV_DEATHS,
    SYNTH_EV_COSTS, SYNTH_EV_PRESC, SYNTH_NEV
};
#define SYNTH_NDIAG 20                     /* diag_01 .. diag_20, as HES delivers them */
#define SYNTH_EV_MAXCOL (7 + SYNTH_NDIAG)
/* Level tables of the categorical event columns. */
typedef enum synth_evlv {
    SYNTH_LV_NONE, SYNTH_LV_METHOD, SYNTH_LV_ICD10, SYNTH_LV_SNOMED, SYNTH_LV_MODE, SYNTH_LV_ATTEND,
    SYNTH_LV_BNF, SYNTH_LV_ISSUE
} synth_evlv;

typedef struct synth_evcol {
    const char *name;
    strata_dtype dtype;
    synth_evlv lv;
    const char *units, *description;
} synth_evcol;

typedef struct synth_evtab {
    const char *name;            /* /events/<name> */
    size_t ncol;
    synth_evcol col[SYNTH_EV_MAXCOL];
} synth_evtab;
extern const synth_evtab synth_evtabs[SYNTH_NEV];
/* Column indices within each table. */
enum { EV_ROW = 0, EV_DAY = 1 };
enum { SP_END = 2, SP_METHOD, SP_LOS, SP_COST, SP_DIAG };  /* spells */
enum { GP_CODE = 2, GP_VALUE };                            /* gp_events */
enum { DT_CAUSE = 2 };                                     /* deaths */
enum { AP_MODE = 2 };                                      /* gp_appointments */
enum { OP_ATTEND = 2 };                                    /* outpatients */
enum { CO_COST = 2 };                                      /* costs */
enum { RX_BNF = 2, RX_ISSUE };                             /* prescriptions */

/* Rows of one event table for one row block, in patient-row then day order. */
typedef struct synth_tab {
    size_t n, cap;
    void *col[SYNTH_EV_MAXCOL];
} synth_tab;

typedef struct synth_events {
    synth_tab t[SYNTH_NEV];
} synth_events;

#define SYNTH_COL(e, tab, c, type) ((type *)(e)->t[tab].col[c])

/* Room for `more` rows in table k; amortised doubling; on failure the
 * arrays stay valid and the capacity unchanged. */
strata_status synth_tab_reserve(strata_ctx *ctx, synth_events *e, int k, size_t more);
/* Stable insertion sort of table k's rows [k0, n) (one patient's) by day,
 * every column moved with its row. */
void synth_tab_sort_days(synth_events *e, int k, size_t k0);

/* A patient's drawn values that the event tables are built from. */
typedef struct synth_patient {
    int64_t r;                      /* global row */
    int age, male, dec, ltc, efi;
    int flags[STRATA_SYNTH_NCOND];
    float bmi, sbp;                 /* NaN = not recorded */
    int Y, T, D, dday;              /* emergency admission, its day, death, its day (0..364) */
    size_t sp0;                     /* first spell row of this patient in the block */
    double cost_prior_other;        /* 42 gp + 180 ae + 160 op + 108 meds (GBP) */
    double cost_next_other;         /* the lognormal part of cost_next_12m (GBP) */
} synth_patient;

/* Dates (/patients) and linked events of one patient from the patient's
 * event stream (never the stream of the flat columns): GP coded events,
 * spell diagnoses and costs, deaths, costs. synth_events.c */
void synth_events_prepare(strata_synth *s);
strata_status synth_patient_events(strata_ctx *ctx, const strata_synth *s, const synth_patient *ps,
                                   synth_block *b, size_t i, synth_events *ev);

/* The patient's prescriptions (repeat_medicines current repeats, stopped
 * repeats, acute issues) from the row's prescription stream. synth_presc.c */
strata_status synth_patient_prescriptions(strata_ctx *ctx, const strata_synth *s,
                                          const synth_patient *ps, const synth_block *b, size_t i,
                                          synth_events *ev);
/* BNF chemical-substance codes: the levels of /events/prescriptions/bnf_code. */
extern const char *const synth_bnf_levels[];
extern const size_t synth_n_bnf;

strata_status synth_block_init(strata_ctx *ctx, synth_block *b, size_t cap);
void synth_block_free(strata_ctx *ctx, synth_block *b);
void synth_events_free(strata_ctx *ctx, synth_events *e); /* keeps e zeroed */
/* Fills rows [i0, i0+n) of b with cohort rows [row0, row0+n) and replaces the
 * contents of ev with their events. Thread-safe for disjoint ranges and
 * distinct ev. */
strata_status synth_generate(strata_ctx *ctx, const strata_synth *s, int64_t row0, size_t n,
                             synth_block *b, size_t i0, synth_events *ev);
/* Index of the practice holding global row r. */
size_t synth_practice_of_row(const strata_synth *s, int64_t r);

#endif
