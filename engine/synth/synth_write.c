/* engine/synth/synth_write.c — streams a synthetic cohort through the cohort writer:
 * groups of SYNTH_GROUP_BLOCKS fixed row blocks are generated in parallel
 * (OpenMP, one task per block) while the previous group is appended, in block
 * order, by the one thread that owns the writer; memory stays bounded for any
 * N and the bytes never depend on the thread count. */
#include "synth_codes.h"
#include "synth_internal.h"
#include "strata/cohort.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SYNTH_GROUP_BLOCKS 16 /* blocks generated per parallel step (fixed) */

typedef enum lv_kind { LV_NONE, LV_PRACTICE, LV_PCN, LV_SUB, LV_ICB, LV_SEX, LV_ETH, LV_SMOKE } lv_kind;

typedef struct col_def {
    const char *group, *name;
    strata_dtype dtype;
    lv_kind lv;
    strata_role role;
    const char *units, *description;
    size_t off; /* offsetof the column's pointer in synth_block */
} col_def;

#define C_(g, n, t, lv, role, u, d) \
    {g, #n, STRATA_DT_##t, lv, role, u, d, offsetof(synth_block, n)}
static const col_def patient_cols[] = {
    C_("patients", patient_id, INT64, LV_NONE, STRATA_ROLE_PATIENT_ID, "", "pseudonymised id"),
    C_("patients", practice, INT32, LV_PRACTICE, STRATA_ROLE_PRACTICE, "", "ODS practice code"),
    C_("patients", pcn, INT32, LV_PCN, STRATA_ROLE_PCN, "", "PCN code"),
    C_("patients", sub_icb, INT32, LV_SUB, STRATA_ROLE_SUB_ICB, "", "sub-ICB location code"),
    C_("patients", icb, INT32, LV_ICB, STRATA_ROLE_ICB, "", "ICB code"),
    C_("patients", imd_decile, INT8, LV_NONE, STRATA_ROLE_IMD_DECILE, "",
       "IMD 2019 decile, 1 = most deprived"),
    C_("patients", age, INT8, LV_NONE, STRATA_ROLE_AGE, "years", "age at index date"),
    C_("patients", sex, INT8, LV_SEX, STRATA_ROLE_SEX, "", "sex"),
    C_("patients", ethnicity, INT8, LV_ETH, STRATA_ROLE_ETHNICITY, "", "ONS 5 groups"),
};
static const col_def tail_cols[] = {
    C_("patients", ltc_count, INT8, LV_NONE, STRATA_ROLE_NONE, "", "number of the 15 conditions"),
    C_("patients", efi_deficits, INT8, LV_NONE, STRATA_ROLE_NONE, "", "eFI deficits, 0..36"),
    C_("patients", bmi, FLOAT32, LV_NONE, STRATA_ROLE_NONE, "kg/m2", "latest BMI"),
    C_("patients", sbp, FLOAT32, LV_NONE, STRATA_ROLE_NONE, "mmHg", "latest systolic BP"),
    C_("patients", smoking, INT8, LV_SMOKE, STRATA_ROLE_NONE, "", "smoking status"),
    C_("patients", gp_appointments_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "", "prior 12 months"),
    C_("patients", ae_attendances_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "", "prior 12 months"),
    C_("patients", prior_emergency_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "", "prior 12 months"),
    C_("patients", prior_elective_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "", "prior 12 months"),
    C_("patients", outpatient_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "", "prior 12 months"),
    C_("patients", bed_days_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "days", "prior 12 months"),
    C_("patients", repeat_medicines, INT16, LV_NONE, STRATA_ROLE_NONE, "", "current repeats"),
    C_("patients", cost_12m, FLOAT32, LV_NONE, STRATA_ROLE_NONE, "GBP", "prior 12 months"),
    C_("outcomes", emergency_admission_12m, INT8, LV_NONE, STRATA_ROLE_NONE, "",
       "any emergency admission, next 12 months"),
    C_("outcomes", emergency_admissions_12m, INT16, LV_NONE, STRATA_ROLE_NONE, "",
       "emergency admissions, next 12 months"),
    C_("outcomes", time_to_emergency_days, INT16, LV_NONE, STRATA_ROLE_NONE, "days",
       "days to first emergency admission, censored at 365 or death"),
    C_("outcomes", emergency_event, INT8, LV_NONE, STRATA_ROLE_NONE, "",
       "1 = time_to_emergency_days is an admission"),
    C_("outcomes", death_12m, INT8, LV_NONE, STRATA_ROLE_NONE, "", "death, next 12 months"),
    C_("outcomes", cost_next_12m, FLOAT32, LV_NONE, STRATA_ROLE_NONE, "GBP", "next 12 months"),
    C_("patients", birth_date, INT32, LV_NONE, STRATA_ROLE_BIRTH_DATE, "days since 1970-01-01",
       "date of birth"),
    C_("patients", registration_start, INT32, LV_NONE, STRATA_ROLE_REG_START,
       "days since 1970-01-01", "registered with the practice since"),
    C_("patients", registration_end, INT32, LV_NONE, STRATA_ROLE_REG_END, "days since 1970-01-01",
       "deregistered (NA: still registered)"),
    C_("patients", death_date, INT32, LV_NONE, STRATA_ROLE_DEATH_DATE, "days since 1970-01-01",
       "date of death (NA: alive)"),
};
#undef C_

#define NCOLS (sizeof patient_cols / sizeof patient_cols[0] + STRATA_SYNTH_NCOND + \
               sizeof tail_cols / sizeof tail_cols[0])
/* Columns of all event tables. */
#define NEVCOLS (7 + SYNTH_NDIAG + 3 + 5 + 4 + 4 + 3 + 3 + 4)

static const char *const sex_lv[] = {"F", "M"};
static const char *const smoke_lv[] = {"never", "ex", "current"};
static const char *const method_lv[] = {"emergency", "elective"};
static const char *const mode_lv[] = {"face_to_face", "telephone", "home_visit", "video_online"};
static const char *const attend_lv[] = {"first", "follow_up"};
static const char *const issue_lv[] = {"repeat", "acute"};

/* The k-th column in file order: patient columns, condition flags, the rest. */
static col_def column(size_t k)
{
    const size_t np = sizeof patient_cols / sizeof patient_cols[0];
    if (k < np)
        return patient_cols[k];
    if (k < np + STRATA_SYNTH_NCOND) {
        int c = (int)(k - np);
        col_def d = {"patients", synth_cond[c].name, STRATA_DT_INT8, LV_NONE, STRATA_ROLE_NONE,
                     "", "condition flag (1 = on register)",
                     offsetof(synth_block, cond) + (size_t)c * sizeof(int8_t *)};
        return d;
    }
    return tail_cols[k - np - STRATA_SYNTH_NCOND];
}

static strata_status add_columns(strata_cohort_writer *w, const strata_synth *s, size_t *ids)
{
    for (size_t k = 0; k < NCOLS; k++) {
        col_def d = column(k);
        strata_column_spec sp;
        memset(&sp, 0, sizeof sp);
        sp.group = d.group;
        sp.name = d.name;
        sp.dtype = d.dtype;
        sp.role = d.role;
        sp.units = d.units;
        sp.description = d.description;
        sp.categorical = d.lv != LV_NONE;
        switch (d.lv) {
        case LV_PRACTICE: sp.levels = (const char *const *)s->lv_practice; sp.n_levels = s->npr; break;
        case LV_PCN: sp.levels = (const char *const *)s->lv_pcn; sp.n_levels = s->n_pcn; break;
        case LV_SUB: sp.levels = (const char *const *)s->lv_sub; sp.n_levels = s->n_sub; break;
        case LV_ICB: sp.levels = (const char *const *)s->lv_icb; sp.n_levels = s->n_icb; break;
        case LV_SEX: sp.levels = sex_lv; sp.n_levels = 2; break;
        case LV_ETH: sp.levels = synth_eth_levels; sp.n_levels = SYNTH_NETH; break;
        case LV_SMOKE: sp.levels = smoke_lv; sp.n_levels = 3; break;
        case LV_NONE: break;
        }
        STRATA_TRY(strata_cohort_writer_add(w, &sp, &ids[k]));
    }
    return STRATA_OK;
}

static strata_status add_events(strata_cohort_writer *w, size_t *ev)
{
    size_t q = 0;
    for (int k = 0; k < SYNTH_NEV; k++) {
        const synth_evtab *t = &synth_evtabs[k];
        char group[64];
        snprintf(group, sizeof group, "events/%s", t->name);
        for (size_t c = 0; c < t->ncol; c++, q++) {
            const synth_evcol *d = &t->col[c];
            strata_column_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.group = group;
            sp.name = d->name;
            sp.dtype = d->dtype;
            sp.units = d->units;
            sp.description = d->description;
            sp.categorical = d->lv != SYNTH_LV_NONE;
            switch (d->lv) {
            case SYNTH_LV_METHOD: sp.levels = method_lv; sp.n_levels = 2; break;
            case SYNTH_LV_MODE: sp.levels = mode_lv; sp.n_levels = 4; break;
            case SYNTH_LV_ATTEND: sp.levels = attend_lv; sp.n_levels = 2; break;
            case SYNTH_LV_ICD10: sp.levels = synth_icd10_levels; sp.n_levels = SYNTH_N_ICD; break;
            case SYNTH_LV_SNOMED: sp.levels = synth_snomed_levels; sp.n_levels = synth_n_snomed; break;
            case SYNTH_LV_BNF: sp.levels = synth_bnf_levels; sp.n_levels = synth_n_bnf; break;
            case SYNTH_LV_ISSUE: sp.levels = issue_lv; sp.n_levels = 2; break;
            case SYNTH_LV_NONE: break;
            }
            STRATA_TRY(strata_cohort_writer_add(w, &sp, &ev[q]));
        }
    }
    return STRATA_OK;
}

/* /truth/model, /truth/term (strings) and /truth/beta (float64), one row per term. */
static strata_status write_truth(strata_cohort_writer *w)
{
    const char *model[SYNTH_T_END], *term[SYNTH_T_END];
    double beta[SYNTH_T_END];
    strata_column_spec sp;
    size_t j;
    for (size_t k = 0; k < SYNTH_T_END; k++) {
        model[k] = synth_truth[k].model;
        term[k] = synth_truth[k].term;
        beta[k] = synth_truth[k].beta;
    }
    STRATA_TRY(strata_cohort_writer_strings(w, "/truth/model", model, SYNTH_T_END));
    STRATA_TRY(strata_cohort_writer_strings(w, "/truth/term", term, SYNTH_T_END));
    memset(&sp, 0, sizeof sp);
    sp.group = "truth";
    sp.name = "beta";
    sp.dtype = STRATA_DT_FLOAT64;
    sp.description = "ground-truth coefficients (docs/synthetic.md)";
    STRATA_TRY(strata_cohort_writer_add(w, &sp, &j));
    return strata_cohort_writer_append(w, j, beta, SYNTH_T_END);
}

static strata_status write_attrs(strata_cohort_writer *w, const strata_synth *s)
{
    char buf[64];
    STRATA_TRY(strata_cohort_writer_attr(w, "generator", "strata synth " STRATA_VERSION_STRING));
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->seed);
    STRATA_TRY(strata_cohort_writer_attr(w, "seed", buf));
    STRATA_TRY(strata_cohort_writer_attr(w, "extract_date", "2025-12-01"));
    return strata_cohort_writer_attr(
        w, "source", "synthetic; shaped by NHS England GP registrations Dec 2025, "
                     "OHID practice IMD 2019, QOF 2019-20 (OGL v3.0)");
}

typedef struct synth_run {
    synth_block b;                       /* SYNTH_GROUP_BLOCKS x block_rows rows */
    synth_events ev[SYNTH_GROUP_BLOCKS]; /* events of each block */
    strata_status st[SYNTH_GROUP_BLOCKS];
    /* per-block copies of the context, so a failing task records its message
     * without racing others; the first failing block's is copied back */
    strata_ctx bctx[SYNTH_GROUP_BLOCKS];
} synth_run;

/* Numbers the rows of a table with a record_id column: 1, 2, ... over the whole
 * cohort (*next: the next id of that table). */
static void number_records(synth_tab *t, const synth_evtab *d, size_t *next)
{
    if (strcmp(d->col[d->ncol - 1].name, "record_id"))
        return;
    for (size_t i = 0; i < t->n; i++)
        ((int32_t *)t->col[d->ncol - 1])[i] = (int32_t)++*next;
}

static strata_status append_group(strata_cohort_writer *w, synth_run *run, const size_t *ids,
                                  const size_t *evc, size_t nrows, size_t nblocks,
                                  strata_synth_summary *sum, size_t *next_id)
{
    for (size_t k = 0; k < NCOLS; k++) {
        col_def d = column(k);
        const void *data = *(void *const *)((const char *)&run->b + d.off);
        STRATA_TRY(strata_cohort_writer_append(w, ids[k], data, nrows));
    }
    for (size_t k = 0; k < nblocks; k++) {
        const synth_events *e = &run->ev[k];
        size_t q = 0;
        for (int t = 0; t < SYNTH_NEV; t++) {
            number_records(&run->ev[k].t[t], &synth_evtabs[t], &next_id[t]);
            for (size_t c = 0; c < synth_evtabs[t].ncol; c++, q++)
                STRATA_TRY(strata_cohort_writer_append(w, evc[q], e->t[t].col[c], e->t[t].n));
        }
        sum->n_spells += e->t[SYNTH_EV_SPELLS].n;
        sum->n_ae += e->t[SYNTH_EV_AE].n;
        sum->n_gp += e->t[SYNTH_EV_GP].n;
        for (int t = 0; t < SYNTH_NEV; t++)
            sum->n_events += e->t[t].n;
    }
    for (size_t i = 0; i < nrows; i++) {
        sum->emergency_rate += run->b.emergency_admission_12m[i];
        sum->death_rate += run->b.death_12m[i];
    }
    return STRATA_OK;
}

/* Generates group g (rows [g * group_rows, ...)) into run as OpenMP tasks. */
static void spawn_group(strata_ctx *ctx, const strata_synth *s, synth_run *run, size_t g0,
                        size_t nrows)
{
    const size_t br = s->block_rows;
    size_t nb = (nrows + br - 1) / br;
    for (size_t k = 0; k < nb; k++) {
#pragma omp task firstprivate(k)
        {
            size_t i0 = k * br, n = nrows - i0 < br ? nrows - i0 : br;
            run->bctx[k] = *ctx;
            run->st[k] = synth_generate(&run->bctx[k], s, (int64_t)(g0 + i0), n, &run->b, i0,
                                        &run->ev[k]);
        }
    }
}

/* Two run buffers: while the tasks of group g fill one, the thread that owns
 * the writer appends group g-1 from the other, so HDF5 is only ever called
 * from that one thread and groups are appended in order. */
static strata_status stream_rows(strata_ctx *ctx, const strata_synth *s,
                                 strata_cohort_writer *w, synth_run *run[2], const size_t *ids,
                                 const size_t *evc, strata_synth_summary *sum)
{
    const size_t br = s->block_rows, group_rows = br * SYNTH_GROUP_BLOCKS;
    const size_t ngroups = (s->nrows + group_rows - 1) / group_rows;
    size_t next_id[SYNTH_NEV] = {0};
    strata_status st = STRATA_OK;
#pragma omp parallel num_threads(strata_threads(ctx))
#pragma omp single
    for (size_t g = 0; g <= ngroups; g++) {
        size_t g0 = g * group_rows, nrows = 0;
        if (g < ngroups && st == STRATA_OK) {
            nrows = s->nrows - g0 < group_rows ? s->nrows - g0 : group_rows;
            spawn_group(ctx, s, run[g % 2], g0, nrows);
        }
        if (g > 0 && st == STRATA_OK) {
            synth_run *prev = run[(g - 1) % 2];
            size_t pg0 = (g - 1) * group_rows;
            size_t pn = s->nrows - pg0 < group_rows ? s->nrows - pg0 : group_rows;
            size_t nb = (pn + br - 1) / br;
            for (size_t k = 0; k < nb && st == STRATA_OK; k++)
                if ((st = prev->st[k]) != STRATA_OK) {
                    ctx->last_status = prev->bctx[k].last_status;
                    memcpy(ctx->errmsg, prev->bctx[k].errmsg, sizeof ctx->errmsg);
                }
            if (st == STRATA_OK)
                st = append_group(w, prev, ids, evc, pn, nb, sum, next_id);
            strata_progress(ctx, "synth", (double)(pg0 + pn), (double)s->nrows);
        }
#pragma omp taskwait
    }
    return st;
}

strata_status strata_synth_write(strata_ctx *ctx, const strata_synth *s, const char *path,
                                 strata_synth_summary *summary)
{
    strata_cohort_writer *w = NULL;
    synth_run *run[2];
    size_t ids[NCOLS], evc[NEVCOLS];
    strata_synth_summary sum;
    strata_status st;
    memset(&sum, 0, sizeof sum);
    run[0] = strata_calloc(ctx, 1, sizeof *run[0]);
    run[1] = strata_calloc(ctx, 1, sizeof *run[1]);
    st = run[0] && run[1] ? STRATA_OK : STRATA_ENOMEM;
    for (int r = 0; r < 2 && st == STRATA_OK; r++)
        st = synth_block_init(ctx, &run[r]->b, s->block_rows * SYNTH_GROUP_BLOCKS);
    if (st == STRATA_OK)
        st = strata_cohort_writer_new(ctx, path, &w);
    if (st == STRATA_OK)
        st = write_attrs(w, s);
    if (st == STRATA_OK)
        st = add_columns(w, s, ids);
    if (st == STRATA_OK)
        st = add_events(w, evc);
    if (st == STRATA_OK)
        st = write_truth(w);
    if (st == STRATA_OK)
        st = stream_rows(ctx, s, w, run, ids, evc, &sum);
    if (st == STRATA_OK) {
        st = strata_cohort_writer_finish(w); /* frees w */
        w = NULL;
    }
    strata_cohort_writer_abort(w);
    for (int r = 0; r < 2; r++) {
        if (!run[r])
            continue;
        for (size_t k = 0; k < SYNTH_GROUP_BLOCKS; k++)
            synth_events_free(ctx, &run[r]->ev[k]);
        synth_block_free(ctx, &run[r]->b);
        strata_free(ctx, run[r], sizeof *run[r]);
    }
    if (st == STRATA_OK && summary) {
        sum.nrows = s->nrows;
        sum.emergency_rate = s->nrows ? sum.emergency_rate / (double)s->nrows : 0;
        sum.death_rate = s->nrows ? sum.death_rate / (double)s->nrows : 0;
        *summary = sum;
    }
    return st;
}
