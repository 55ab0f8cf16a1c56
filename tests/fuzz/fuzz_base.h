/* tests/fuzz/fuzz_base.h — the small cohort the event importer and derive
 * harnesses start from: nine patients with string ids and the four date
 * roles (tests/test_derive.c's), and for derive a spells table and a code
 * list. Built once per process in a private folder under /tmp. */
#ifndef STRATA_FUZZ_BASE_H
#define STRATA_FUZZ_BASE_H

#include "fuzz_common.h"
#include "strata/derive.h"

#include <string.h>
#include <sys/stat.h>

static char fuzz_dir[96];

static inline const char *fuzz_path(const char *name)
{
    static char path[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", fuzz_dir, name);
    return path[k];
}

static inline void fuzz_put(const char *name, const char *text)
{
    FILE *f = fopen(fuzz_path(name), "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static const char fuzz_patients_csv[] =
    "id,sex,birth,death,reg_start,reg_end\n"
    "p1,F,1950-01-01,,,\n"
    "p2,M,1950-01-01,2025-03-31,,\n"
    "p3,F,1950-01-01,,,2025-03-31\n"
    "p4,M,1950-01-01,,2025-04-02,\n"
    "p5,F,2025-04-02,,,\n"
    "p6,M,1950-01-01,2025-04-11,,\n"
    "p7,F,1950-01-01,,,2025-07-10\n"
    "p8,M,1950-01-01,,2025-04-01,\n"
    "p9,F,1950-01-01,,2024-12-22,\n";

static const char fuzz_spells_csv[] =
    "pid,admit,method,diag_01,diag_02,los\n"
    "p1,2024-03-31,emergency,I10X,,1\n"
    "p1,2024-04-01,emergency,I10.X,,2\n"
    "p1,2025-03-31,emergency,i10,,4\n"
    "p1,2025-04-01,emergency,E10.9,E10.2,8\n"
    "p1,2026-03-31,emergency,K70.3,I85.0,16\n"
    "p1,2026-04-01,emergency,I50,,32\n"
    "p6,2025-04-06,emergency,I21,,1\n"
    "p6,2025-04-21,emergency,I21,,1\n"
    "p9,2024-09-13,elective,I10,,3\n";

static const char *const fuzz_spell_codes[] = {"diag_01", "diag_02"};
static const char *const fuzz_spell_cats[] = {"method"};
static const char *const fuzz_spell_values[] = {"los"};

static inline void fuzz_spells_params(strata_events_import_params *p)
{
    strata_events_import_params_init(p);
    p->table = "spells";
    p->id_col = "pid";
    p->date_col = "admit";
    p->code_cols = fuzz_spell_codes;
    p->n_code_cols = 2;
    p->code_system = "icd10";
    p->cat_cols = fuzz_spell_cats;
    p->n_cat_cols = 1;
    p->value_cols = fuzz_spell_values;
    p->n_value_cols = 1;
}

/* Makes fuzz_dir with patients.h5 (and, with_events, cohort.h5 holding the
 * spells table, and htn.csv). Aborts on any failure: the seeds are fixed. */
static inline void fuzz_base(int with_events)
{
    strata_ctx *ctx = fuzz_ctx();
    strata_csv_mapping *m = NULL;
    strata_csv_import_params p;
    strata_csv_import_report rep;
    snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/strata-fuzz-base-%ld", (long)getpid());
    mkdir(fuzz_dir, 0700);
    fuzz_put("patients.csv", fuzz_patients_csv);
    fuzz_put("map.yaml", "roles: {patient_id: id, sex: sex, birth_date: birth, death_date: death,"
                         " registration_start: reg_start, registration_end: reg_end}\n");
    fuzz_put("htn.csv", "code,category\nI10,hypertension\nE10,diabetes\n");
    unlink(fuzz_path("patients.h5"));
    if (strata_csv_mapping_new(ctx, &m) != STRATA_OK ||
        strata_csv_mapping_load_yaml(m, fuzz_path("map.yaml")) != STRATA_OK)
        abort();
    strata_csv_import_params_init(&p);
    p.mapping = m;
    if (strata_csv_import(ctx, fuzz_path("patients.csv"), fuzz_path("patients.h5"), &p, &rep) !=
        STRATA_OK)
        abort();
    strata_csv_mapping_free(m);
    if (with_events) {
        strata_events_import_params ep;
        fuzz_put("spells.csv", fuzz_spells_csv);
        unlink(fuzz_path("cohort.h5"));
        fuzz_spells_params(&ep);
        if (strata_events_import(ctx, fuzz_path("spells.csv"), fuzz_path("patients.h5"),
                                 fuzz_path("cohort.h5"), &ep, NULL) != STRATA_OK)
            abort();
    }
    strata_ctx_free(ctx);
}

#endif
