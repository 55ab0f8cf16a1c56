/* strata/synth.h — synthetic linked cohorts shaped by real public NHS data
 * (docs/synthetic.md). A generator is prepared once from the reference tables
 * (data/reference) for a selection (one PCN, one ICB or England); every
 * patient's values then depend only on (seed, row index), so the file is
 * byte-identical whatever the thread count, and memory stays bounded for any N. */
#ifndef STRATA_SYNTH_H
#define STRATA_SYNTH_H

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default selection when none is given: NHS Shropshire, Telford and Wrekin
 * ICB (about 540,000 registered patients, the smallest of the 42 ICBs). */
#define STRATA_SYNTH_DEFAULT_ICB "QOC"
/* Index date of every synthetic cohort: 2025-12-01 (the register's extract
 * date), in days since 1970-01-01. Prior activity covers the 365 days before,
 * outcomes the 365 days from it. */
#define STRATA_SYNTH_INDEX_DAY 20423

typedef enum strata_synth_scope {
    STRATA_SYNTH_ICB = 0, /* all practices of one ICB (code = ICB ODS code, e.g. "QOC") */
    STRATA_SYNTH_PCN,     /* all practices of one PCN (code = PCN code, e.g. "U89141") */
    STRATA_SYNTH_ENGLAND  /* every practice in England (code ignored) */
} strata_synth_scope;

typedef struct strata_synth_params {
    strata_synth_scope scope; /* default STRATA_SYNTH_ICB */
    const char *code;         /* PCN/ICB code; NULL = STRATA_SYNTH_DEFAULT_ICB for ICB scope */
    int64_t n_patients;       /* 0 = the selection's registered list size; else scaled to N */
    uint64_t seed;            /* default 1 */
    const char *data_dir;     /* reference tables; NULL = $STRATA_DATA_DIR, else located
                                 beside the executable (strata_synth_locate_data) */
    size_t block_rows;        /* rows per generation block, default 8192 (fixed, not per thread) */
} strata_synth_params;

STRATA_API void strata_synth_params_init(strata_synth_params *p);
/* STRATA_EINVAL naming the field when a value is out of range. */
STRATA_API strata_status strata_synth_params_check(strata_ctx *ctx, const strata_synth_params *p);

/* Finds the reference directory when params->data_dir is NULL: $STRATA_DATA_DIR
 * (the directory itself or its reference/ subdirectory), then relative to the
 * running executable (/proc/self/exe): ../data/reference, ../../data/reference,
 * ../share/strata/reference, ./data/reference; then the compile-time defaults:
 * <install prefix>/share/strata/reference and <source tree>/data/reference (so
 * an installed or out-of-tree build finds them). Writes the directory into buf.
 * STRATA_EIO listing what was tried when none holds practices.csv. */
STRATA_API strata_status strata_synth_locate_data(strata_ctx *ctx, char *buf, size_t size);

/* A prepared generator: reference tables loaded, the selection resolved,
 * patients apportioned to practices and condition offsets tuned to QOF. */
typedef struct strata_synth strata_synth;

STRATA_API strata_status strata_synth_new(strata_ctx *ctx, const strata_synth_params *p, strata_synth **out);
STRATA_API void strata_synth_free(strata_synth *s); /* accepts NULL */

STRATA_API size_t strata_synth_nrows(const strata_synth *s);
STRATA_API size_t strata_synth_npractices(const strata_synth *s);
/* Practice k of the selection (in row order): ODS code, PCN, ICB, registered
 * list size (real register) and number of synthetic patients (rows). */
STRATA_API const char *strata_synth_practice_code(const strata_synth *s, size_t k);
STRATA_API const char *strata_synth_practice_pcn(const strata_synth *s, size_t k);
STRATA_API const char *strata_synth_practice_icb(const strata_synth *s, size_t k);
STRATA_API int64_t strata_synth_practice_list(const strata_synth *s, size_t k);
STRATA_API int64_t strata_synth_practice_rows(const strata_synth *s, size_t k);
/* Registered patients of practice k in sex (0 F, 1 M) and 5-year band b
 * (0 = 0-4, ..., 19 = 95+). */
STRATA_API int64_t strata_synth_practice_register(const strata_synth *s, size_t k, int sex, int band);
/* QOF 2019-20 prevalence target of practice k for condition c (order of
 * strata_synth_condition_name), over the register's own denominator (all ages,
 * or 17+/18+), and that minimum age. */
STRATA_API double strata_synth_practice_qof(const strata_synth *s, size_t k, int c, int *min_age);

#define STRATA_SYNTH_NCOND 15
/* "hypertension", "diabetes", ... (the /patients flag names), c < STRATA_SYNTH_NCOND. */
STRATA_API const char *strata_synth_condition_name(int c);

/* Summary of a written cohort. */
typedef struct strata_synth_summary {
    size_t nrows;            /* patients */
    size_t n_spells;         /* rows of /events/spells */
    size_t n_ae;             /* rows of /events/ae */
    size_t n_gp;             /* rows of /events/gp_events */
    size_t n_events;         /* rows of every /events table */
    double emergency_rate;   /* share with emergency_admission_12m == 1 */
    double death_rate;       /* share with death_12m == 1 */
} strata_synth_summary;

/* Generates the whole cohort into path (patient-level file, mode 0600,
 * published atomically). summary may be NULL. */
STRATA_API strata_status strata_synth_write(strata_ctx *ctx, const strata_synth *s, const char *path,
                                 strata_synth_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
