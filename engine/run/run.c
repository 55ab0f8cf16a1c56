/* engine/run/run.c — `strata run`: the whole job from a run spec. Chains cohort
 * (open, or synthesise) → model (fit or load) → score → evaluate → stratify
 * (tiers, segments, frailty, Charlson, Core20, reason codes) → aggregate by
 * PCN / practice / ICB with disclosure control → CSV tables, HTML report and
 * manifest.json in one output directory. Patient-level files are 0600;
 * every aggregate table passes strata_disclose before it is written. */
#include "comm.h"
#include "internal.h"
#include "manifest.h"
#include "run_elnet.h"
#include "outfile.h"
#include "run_internal.h"
#include "scratch.h"
#include "rundir.h"
#include "strata/strata.h"

#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define RUN_BLOCK 65536
#define N_REASONS 3

typedef struct codes {
    size_t n_levels;
    const char *const *levels;  /* owned by the cohort, or static */
    long col;                   /* its cohort column, -1 = the cohort has none */
} codes;

typedef struct run_state {
    strata_ctx *ctx;
    const strata_run_spec *spec;
    const char *outdir;         /* the run's staging folder: every output is written here */
    strata_rundir *dir;         /* ... and moved into dir->final_dir at the end */
    strata_progress_fn progress;
    void *ud;
    strata_manifest *man;
    strata_cohort *cohort;
    strata_model *model;
    strata_cox *cox;            /* family cox (docs/cox.md): model is NULL */
    strata_elnet *elnet;        /* model.alpha: the path and CV beside the selected GLM */
    size_t n;
    int64_t *id;                /* patient ids of rows [id0, id0 + id_cap) at most (read_ids) */
    size_t id0, id_cap;
    int32_t *efi, *prior_em;    /* stratification's blocks (read_stratify_block) */
    long age_col, imd_col;      /* cohort columns of age and IMD decile (-1: none) */
    int sex_map[64];            /* the cohort's sex codes as 0 = F, 1 = M (-1 other) */
    int32_t *flags[STRATA_N_CONDITIONS];
    codes sex, eth, pcn, practice, icb;
    double *risk, *obs;
    uint8_t *tier, *segment;   /* strata_stratify_patients' outputs, per scored patient */
    int8_t *frailty, *ltc;
    int16_t *charlson;
    strata_eval_report *eval;
    strata_bootstrap_result *boot;
    strata_table *summary, *practice_tab, *icb_tab, *inequality, *sii, *fairness;
    strata_table *offers;       /* per PCN: people offered proactive care (disclosed) */
    strata_table **fair_parts; /* fairness by by-column, published into `fairness` */
    size_t n_fair;
    strata_table *c20p5;        /* Core20PLUS5 by PCN */
    uint8_t *c5_mask;           /* the clinical areas per patient (STRATA_C5_*) */
    strata_scratch *pv;         /* the per-patient values on file (pv_over_budget), else NULL */
    int has_obs;                /* the run has an observed outcome (r->obs, or on r->pv) */
    strata_funnel funnel;
    strata_run_summary *sum;
    double t0;
} run_state;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A stage's end. Its freed memory goes back to the system here: glibc keeps
 * freed blocks under its (dynamic, up to 32 MB) mmap threshold in the heap,
 * so without the trim a later stage's RSS carried an earlier stage's peak
 * (the 2.7 GB held through the fit and scoring at 19.2 M patients,
 * docs/benchmarks.md "scale6"). */
static strata_status stage_done(run_state *r, const char *stage)
{
    double t = now();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    strata_progress_reset(r->ctx); /* a stage's progress line ends with the stage */
    if (r->progress)
        r->progress(r->ud, stage, 1.0);
    STRATA_TRY(strata_manifest_timing(r->man, stage, t - r->t0));
    r->t0 = t;
    return STRATA_OK;
}

static void out_path(const run_state *r, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", r->outdir, name);
}

/* ---- reading the cohort ----------------------------------------------- */

static long find_col(run_state *r, const char *name)
{
    size_t j;
    if (strata_cohort_find(r->ctx, r->cohort, name, &j) != STRATA_OK) {
        strata_ctx_clear_error(r->ctx);
        return -1;
    }
    return (long)j;
}

static strata_status read_codes(run_state *r, strata_role role, codes *c, int required)
{
    long j = strata_cohort_find_role(r->cohort, role);
    const strata_column_info *info;
    memset(c, 0, sizeof *c);
    c->col = -1;
    if (j < 0) {
        if (required)
            return STRATA_FAIL(r->ctx, STRATA_ESPEC,
                               "%s: no column declares role %s: strata run needs it to stratify "
                               "(docs/cohort-format.md#roles)",
                               strata_cohort_path(r->cohort), strata_role_name(role));
        return STRATA_OK;
    }
    info = strata_cohort_column(r->cohort, (size_t)j);
    if (!info->categorical)
        return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s:/%s/%s: role %s must be categorical",
                           strata_cohort_path(r->cohort), info->group, info->name,
                           strata_role_name(role));
    c->n_levels = info->n_levels;
    c->levels = info->levels;
    c->col = j;
    return STRATA_OK;
}

/* A condition column the cohort lacks counts as absent for every patient
 * (strata_stratify_patients): say so once, naming them, because Charlson
 * scores, multimorbidity counts and segments are then lower bounds. */
static void warn_absent_conditions(run_state *r)
{
    char names[512] = "";
    size_t len = 0, n = 0;
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        if (find_col(r, strata_condition_name(c)) < 0) {
            int k = snprintf(names + len, sizeof names - len, "%s%s", n ? ", " : "",
                             strata_condition_name(c));
            len += k > 0 && (size_t)k < sizeof names - len ? (size_t)k : 0;
            n++;
        }
    if (n)
        strata_warn(r->ctx,
                    "%s: no column for %zu condition(s) (%s): they count as absent in the "
                    "Charlson score, the multimorbidity count and the segments "
                    "(docs/stratify.md#missing-values)",
                    strata_cohort_path(r->cohort), n, names);
}

/* The roles the run reads, checked at the cohort stage; the columns are
 * read block by block where a stage reads them. */
static strata_status read_patients(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    static const char *const sexes[] = {"F", "M"};
    STRATA_TRY(read_codes(r, STRATA_ROLE_PCN, &r->pcn, 1));
    STRATA_TRY(read_codes(r, STRATA_ROLE_PRACTICE, &r->practice, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_ICB, &r->icb, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_SEX, &r->sex, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_ETHNICITY, &r->eth, 0));
    /* sex as 0 = F, 1 = M whatever the levels table's order */
    if (r->sex.col >= 0) {
        for (size_t l = 0; l < 64; l++)
            r->sex_map[l] = l >= r->sex.n_levels             ? -1
                            : !strcmp(r->sex.levels[l], "F") ? 0
                            : !strcmp(r->sex.levels[l], "M") ? 1
                                                             : -1;
        r->sex.levels = sexes;
        r->sex.n_levels = 2;
    }
    if (strata_cohort_find_role(r->cohort, STRATA_ROLE_PATIENT_ID) < 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no column declares role patient_id",
                           strata_cohort_path(r->cohort));
    if ((r->age_col = strata_cohort_find_role(r->cohort, STRATA_ROLE_AGE)) < 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no column declares role age",
                           strata_cohort_path(r->cohort));
    r->imd_col = strata_cohort_find_role(r->cohort, STRATA_ROLE_IMD_DECILE);
    warn_absent_conditions(r);
    return STRATA_OK;
}

/* Patient ids are read block by block where they are written (patients.csv,
 * unscored.csv; the intervention list gathers its own, list_ids), never
 * held whole: rows [r0, r0 + b) into r->id, r->id[i - r->id0] for row i. */
static strata_status read_ids(run_state *r, size_t r0, size_t b)
{
    long j = strata_cohort_find_role(r->cohort, STRATA_ROLE_PATIENT_ID);
    if (b > r->id_cap) {
        strata_free(r->ctx, r->id, 0);
        r->id_cap = 0;
        if (!(r->id = strata_alloc(r->ctx, b * sizeof *r->id)))
            return STRATA_ENOMEM;
        r->id_cap = b;
    }
    r->id0 = r0;
    return b ? strata_cohort_read_i64(r->ctx, r->cohort, (size_t)j, r0, b, r->id) : STRATA_OK;
}

static void free_ids(run_state *r)
{
    strata_free(r->ctx, r->id, 0);
    r->id = NULL;
    r->id_cap = r->id0 = 0;
}

/* The columns only stratification reads (eFI deficits, prior emergencies, the
 * condition flags: 68 bytes a patient, 4.4 GB for all England) and the age
 * are read block by block while stratifying (stratify_blocks): r->efi,
 * r->prior_em and r->flags point into the block buffer buf (cap rows a
 * column), NULL where the cohort lacks the column; the age is its last
 * column (*age). Rows [r0, r0 + b). */
static strata_status read_stratify_block(run_state *r, int32_t *buf, size_t cap, size_t r0, size_t b,
                                         const int32_t **age)
{
    int32_t **dst[2 + STRATA_N_CONDITIONS];
    const char *name[2 + STRATA_N_CONDITIONS];
    dst[0] = &r->efi, name[0] = "efi_deficits";
    dst[1] = &r->prior_em, name[1] = "prior_emergency_12m";
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        dst[2 + c] = &r->flags[c], name[2 + c] = strata_condition_name(c);
    for (int k = 0; k < 2 + STRATA_N_CONDITIONS; k++) {
        long j = find_col(r, name[k]);
        *dst[k] = j < 0 ? NULL : buf + (size_t)k * cap;
        if (j >= 0)
            STRATA_TRY(strata_cohort_read_i32(r->ctx, r->cohort, (size_t)j, r0, b, *dst[k]));
    }
    *age = buf + (size_t)(2 + STRATA_N_CONDITIONS) * cap;
    return strata_cohort_read_i32(r->ctx, r->cohort, (size_t)r->age_col, r0, b,
                                  buf + (size_t)(2 + STRATA_N_CONDITIONS) * cap);
}

static void free_stratify_inputs(run_state *r)
{
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        r->flags[c] = NULL;
    r->efi = r->prior_em = NULL;
}

static int is_cox(const run_state *r)
{
    return r->spec->family && !strcmp(r->spec->family, "cox");
}

/* Cox: the outcome column names the time of Surv(time, event); obs becomes an
 * event by the horizon (1), else 0 (followed past it, or censored before it:
 * docs/cox.md says why O/E counts those as 0). */
static strata_status cox_observed(run_state *r, const char *time_col)
{
    char ev[256];
    const char *lp = strchr(r->spec->formula ? r->spec->formula : "", '('), *comma = lp ? strchr(lp, ',') : NULL;
    const char *rp = comma ? strchr(comma, ')') : NULL;
    double *e;
    long j;
    size_t a, b;
    (void)time_col;
    if (!rp)
        return STRATA_OK;
    for (a = 1; comma[a] == ' '; a++)
        ;
    for (b = (size_t)(rp - comma); b > a && comma[b - 1] == ' '; b--)
        ;
    snprintf(ev, sizeof ev, "%.*s", (int)(b - a), comma + a);
    if ((j = find_col(r, ev)) < 0)
        return STRATA_FAIL(r->ctx, STRATA_ESPEC, "cox: event column '%s' is not in the cohort", ev);
    if (!(e = strata_alloc(r->ctx, (r->n ? r->n : 1) * sizeof *e)))
        return STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) {
        size_t k = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        strata_status st = strata_cohort_read_f64(r->ctx, r->cohort, (size_t)j, r0, k, e + r0);
        if (st != STRATA_OK) {
            strata_free(r->ctx, e, 0);
            return st;
        }
    }
    for (size_t i = 0; i < r->n; i++)
        r->obs[i] = isnan(r->obs[i]) || isnan(e[i]) ? NAN : e[i] == 1 && r->obs[i] <= r->spec->horizon;
    strata_free(r->ctx, e, 0);
    return STRATA_OK;
}

/* The outcome column: spec->outcome, else the response of the formula (the
 * spec's, or a loaded model's own; Cox: the time of Surv(time, event)). */
static void outcome_name(const run_state *r, char *name, size_t size)
{
    strata_fit_summary fs = {0};
    const char *formula = r->spec->formula;
    name[0] = '\0';
    if (!formula && r->model) {
        strata_model_summary(r->model, &fs);
        formula = fs.formula;
    } else if (!formula && r->cox) {
        strata_cox_summary cs;
        strata_cox_summary_get(r->cox, &cs);
        formula = cs.formula;
    }
    if (r->spec->outcome) {
        snprintf(name, size, "%s", r->spec->outcome);
    } else if (formula) {
        const char *tilde = strchr(formula, '~');
        size_t a = 0, b = tilde ? (size_t)(tilde - formula) : 0;
        while (a < b && formula[a] == ' ')
            a++;
        while (b > a && formula[b - 1] == ' ')
            b--;
        snprintf(name, size, "%.*s", (int)(b - a), formula + a);
        if (!strncmp(name, "Surv(", 5)) { /* Surv(time, event): the time column */
            size_t k = 5, e;
            while (name[k] == ' ')
                k++;
            for (e = k; name[e] && name[e] != ',' && name[e] != ' '; e++)
                ;
            memmove(name, name + k, e - k);
            name[e - k] = '\0';
        }
    }
}

/* After the model stage (a loaded model names its outcome). A model.outcome
 * the cohort lacks is an error; a formula's response it lacks is a
 * scoring-only cohort: evaluation is skipped, with a warning saying why. */
/* ---- per-patient values between the stages (docs/scale.md) ---------------------
 * The risk, the outcome and stratification's outputs are held from the stage
 * that makes them to the last that reads them: in memory, or — when the
 * aggregation's per-patient columns would pass half the memory budget
 * (pv_over_budget, the one rule) — in one scratch file from the outcome's
 * read on (r->pv; a column at a time, n values each): the outcome written
 * block by block as it is read, the risk at the end of scoring, the tiers
 * and stratification's outputs block by block; read back block by block by
 * evaluation, stratification, aggregation and the patient files (the
 * bootstrap copies the risk from the blocks into its own array). */
enum { PV_RISK, PV_OBS, PV_TIER, PV_SEGMENT, PV_FRAILTY, PV_LTC, PV_CHARLSON, PV_C5, PV_N };
static const size_t PV_WIDTH[PV_N] = {8, 8, 1, 1, 1, 1, 2, 1};
/* A patient's bytes in aggregation with every column whole: the values above
 * (23), the seven cohort columns it reads (28) and the PLUS groups (4). */
#define AGG_ROW_BYTES 55

static void **pv_mem(run_state *r, int c)
{
    void **m[PV_N] = {(void **)&r->risk,    (void **)&r->obs,     (void **)&r->tier,
                      (void **)&r->segment, (void **)&r->frailty, (void **)&r->ltc,
                      (void **)&r->charlson, (void **)&r->c5_mask};
    return m[c];
}

static uint64_t pv_off(const run_state *r, int c, size_t row)
{
    uint64_t off = 0;
    for (int k = 0; k < c; k++)
        off += (uint64_t)PV_WIDTH[k] * r->n;
    return off + (uint64_t)PV_WIDTH[c] * row;
}

/* The values go on file when aggregation's whole columns would pass half the budget. */
static int pv_over_budget(const run_state *r)
{
    size_t budget = strata_ctx_memory_budget(r->ctx);
    return budget && (double)r->n * AGG_ROW_BYTES > (double)budget / 2;
}

static strata_status pv_open(run_state *r)
{
    const char *dir = strata_ctx_scratch_dir(r->ctx) ? NULL : r->outdir;
    return strata_scratch_open(r->ctx, dir, "the per-patient values (memory:)", &r->pv);
}

/* From the outcome's read on (the end of the model stage), over the budget:
 * the values go to the file as they are made (one rule for the run). */
static strata_status pv_start(run_state *r)
{
    return pv_over_budget(r) && !r->pv ? pv_open(r) : STRATA_OK;
}

static strata_status pv_write(run_state *r, int c, size_t r0, size_t b, const void *v)
{
    return strata_scratch_write(r->ctx, r->pv, pv_off(r, c, r0), v, b * PV_WIDTH[c]);
}

/* Rows [r0, r0 + b) of value c: a pointer into the array in memory, or read into buf. */
static strata_status pv_block(run_state *r, int c, size_t r0, size_t b, void *buf, const void **out)
{
    const char *m = *pv_mem(r, c);
    *out = NULL;
    if (!r->pv) {
        *out = m ? m + PV_WIDTH[c] * r0 : NULL;
        return STRATA_OK;
    }
    if (c == PV_OBS && !r->has_obs)
        return STRATA_OK;
    STRATA_TRY(strata_scratch_read(r->ctx, r->pv, pv_off(r, c, r0), buf, b * PV_WIDTH[c]));
    *out = buf;
    return STRATA_OK;
}

/* Value c's whole array to the file, and freed (with the values on file). */
static strata_status pv_spill(run_state *r, int c)
{
    void **m = pv_mem(r, c);
    if (!r->pv || !*m)
        return STRATA_OK;
    STRATA_TRY(pv_write(r, c, 0, r->n, *m));
    strata_free(r->ctx, *m, 0);
    *m = NULL;
    return STRATA_OK;
}

static size_t agg_rows(const run_state *r);

/* The observed outcome: over the budget (pv_over_budget) straight to the
 * scratch file block by block (Cox: its event by the horizon made whole,
 * then spilled), else whole in r->obs. */
static strata_status read_outcome(run_state *r)
{
    char src[256];
    long j = -1;
    outcome_name(r, src, sizeof src);
    if (*src && (j = find_col(r, src)) < 0 && r->spec->outcome)
        /* a named outcome that is not there silently skipped evaluation (issue 17 #8) */
        return STRATA_FAIL(r->ctx, STRATA_ESPEC,
                           "model.outcome: \"%s\" is not a column of %s; name the observed "
                           "outcome column, or leave model.outcome out to score without "
                           "evaluating (docs/run-spec.md)",
                           src, strata_cohort_path(r->cohort));
    if (!*src || j < 0) {
        strata_warn(r->ctx,
                    "%s: no outcome column%s%s%s: the model is scored but not evaluated (set "
                    "model.outcome to the observed outcome's column)",
                    strata_cohort_path(r->cohort), *src ? " '" : "", src, *src ? "'" : "");
        return STRATA_OK; /* scoring-only cohort: no observed outcome */
    }
    r->has_obs = 1;
    STRATA_TRY(pv_start(r));
    if (r->pv && !is_cox(r)) {
        size_t cap = agg_rows(r);
        double *v = strata_alloc(r->ctx, cap * sizeof *v);
        strata_status st = v ? STRATA_OK : STRATA_ENOMEM;
        for (size_t r0 = 0; st == STRATA_OK && r0 < r->n; r0 += cap) {
            size_t b = r->n - r0 < cap ? r->n - r0 : cap;
            st = strata_cohort_read_f64(r->ctx, r->cohort, (size_t)j, r0, b, v);
            if (st == STRATA_OK)
                st = pv_write(r, PV_OBS, r0, b, v);
        }
        strata_free(r->ctx, v, 0);
        return st;
    }
    r->obs = strata_calloc(r->ctx, r->n ? r->n : 1, sizeof *r->obs);
    if (!r->obs)
        return STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) {
        size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        STRATA_TRY(strata_cohort_read_f64(r->ctx, r->cohort, (size_t)j, r0, b, r->obs + r0));
    }
    if (is_cox(r))
        STRATA_TRY(cox_observed(r, src));
    return pv_spill(r, PV_OBS);
}

/* ---- MPI ranks (docs/scale.md#mpi) -------------------------------------------
 * Rank 0 runs the job; the other ranks serve its collective steps: synth
 * (every rank generates its groups of rows, rank 0 writes cohort.h5),
 * validation (every rank checks its slab of rows, rank 0 reports), derive
 * (every rank derives its blocks of patients, rank 0 writes features.h5) and
 * the GLM, Cox or elastic-net fit (every rank fits its slab of rows, its
 * blocks of the sorted rows, or its chunks' rows; the elastic net's CV folds
 * dealt round the ranks) and the scores (every rank scores its chunks, rank 0
 * receives the risks in row order). Rank 0 sends each step (paths,
 * parameters) to every rank; after the scores it sends "done" and goes on
 * alone (the context's ranks detached), while the others return. */
enum { RUN_REQ_DONE = 0, RUN_REQ_FIT = 1, RUN_REQ_DERIVE = 2, RUN_REQ_SYNTH = 3, RUN_REQ_COX = 4, RUN_REQ_ELNET = 5,
       RUN_REQ_SCORE = 6, RUN_REQ_VALIDATE = 7 };

typedef struct run_request {
    int kind;
    strata_glm_params prm;   /* fit: formula and weights travel in the text below */
    strata_cox_params cp;    /* Cox fit: formula and weights likewise */
    strata_elnet_params ep;  /* elastic net (with prm, no CV): its penalty terms travel after
                                the text, pf_len bytes of NUL-terminated names, their factors in pf */
    double pf[STRATA_RUN_MAX_PF];
    size_t pf_len;
    strata_synth_params sp;  /* synth: the selection's code travels in the text */
    size_t budget;           /* rank 0's memory budget (memory:), every rank's for this step:
                                a fit's collective reads depend on it (docs/scale.md#mpi) */
    int cox;                 /* score: the model is a Cox model, risk by horizon */
    double horizon;
    size_t len[3];           /* fit: cohort path, formula, weights ("" = none); derive:
                                cohort path, spec path, spec key ("" = none); synth: cohort
                                path, selection code ("" = none); score: cohort path, model
                                path, ""; validate: cohort path, "", "": bytes with the NUL */
} run_request;

/* Rank 0: sends req and its three strings to every rank. */
static strata_status run_send_text(strata_ctx *ctx, run_request *req, const char *const t[3])
{
    const strata_comm *c = strata_ctx_comm(ctx);
    char *blob;
    size_t n = 0;
    strata_status st;
    if (!c)
        return STRATA_OK;
    for (int k = 0; k < 3 && req->kind != RUN_REQ_DONE; k++)
        n += req->len[k] = strlen(t[k]) + 1;
    req->budget = strata_ctx_memory_budget(ctx);
    STRATA_TRY(c->bcast(c->ud, req, sizeof *req, 0));
    if (req->kind == RUN_REQ_DONE)
        return STRATA_OK;
    if (!(blob = strata_alloc(ctx, n)))
        return STRATA_ENOMEM;
    for (int k = 0, o = 0; k < 3; o += (int)req->len[k], k++)
        memcpy(blob + o, t[k], req->len[k]);
    st = c->bcast(c->ud, blob, n, 0);
    strata_free(ctx, blob, n);
    return st;
}

/* Rank 0: sends a fit of the cohort at path (formula, weights) to every rank
 * (an elastic net's penalty terms after it: req->pf_len bytes at terms),
 * then agrees that every rank opened it, so none goes into the fit's
 * collectives alone. */
static strata_status run_send_fit(strata_ctx *ctx, run_request *req, const char *path, const char *formula,
                                  const char *weights, const char *terms)
{
    const strata_comm *c = strata_ctx_comm(ctx);
    const char *t[3] = {path, formula, weights ? weights : ""};
    STRATA_TRY(run_send_text(ctx, req, t));
    if (req->pf_len)
        STRATA_TRY(c->bcast(c->ud, (void *)terms, req->pf_len, 0));
    return strata_comm_agree(ctx, STRATA_OK);
}

/* Rank 0: the elastic net's request (no CV: the path across the ranks, as
 * `strata fit --alpha` under mpirun), its penalty terms packed. */
static strata_status run_send_elnet(strata_ctx *ctx, const strata_run_spec *sp, const strata_glm_params *gp,
                                    const char *path)
{
    run_request req;
    char *terms;
    size_t n = 1, o = 0;
    strata_status st;
    memset(&req, 0, sizeof req);
    req.kind = RUN_REQ_ELNET;
    req.prm = *gp;
    req.ep = sp->enet;
    req.ep.lambda = NULL;
    req.ep.penalty_term = NULL;
    req.ep.penalty_value = NULL;
    for (size_t k = 0; k < sp->enet.n_penalty; k++) {
        n += strlen(sp->enet.penalty_term[k]) + 1;
        req.pf[k] = sp->enet.penalty_value[k];
    }
    if (!(terms = strata_alloc(ctx, n)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < sp->enet.n_penalty; k++) {
        size_t len = strlen(sp->enet.penalty_term[k]) + 1;
        memcpy(terms + o, sp->enet.penalty_term[k], len);
        o += len;
    }
    req.pf_len = o;
    st = run_send_fit(ctx, &req, path, gp->formula, gp->weights, terms);
    strata_free(ctx, terms, n);
    return st;
}

/* A server's elastic net (run_send_elnet's request; the cohort opened and
 * agreed): its penalty terms from terms (pf_len bytes), then the path
 * across the ranks. */
static strata_status run_serve_elnet(strata_ctx *ctx, run_request *req, strata_cohort *co, const char *terms)
{
    const char *names[STRATA_RUN_MAX_PF];
    strata_model *m = NULL;
    strata_elnet *el = NULL;
    strata_status st;
    for (size_t k = 0, o = 0; k < req->ep.n_penalty && k < STRATA_RUN_MAX_PF; k++) {
        names[k] = terms + o;
        o += strlen(terms + o) + 1;
    }
    req->ep.penalty_term = req->ep.n_penalty ? names : NULL;
    req->ep.penalty_value = req->ep.n_penalty ? req->pf : NULL;
    req->ep.lambda = NULL;
    st = strata_elnet_fit(ctx, co, &req->prm, &req->ep, &m, &el);
    strata_elnet_free(ctx, el);
    strata_model_free(ctx, m);
    return st;
}

/* Rank 0: the other ranks are no longer needed; the run goes on alone. */
static void run_release(strata_ctx *ctx)
{
    run_request req;
    if (!strata_ctx_comm(ctx))
        return;
    const char *t[3] = {"", "", ""};
    memset(&req, 0, sizeof req);
    req.kind = RUN_REQ_DONE;
    (void)run_send_text(ctx, &req, t);
    strata_ctx_set_comm(ctx, NULL);
}

/* A server's share of the scores (run_send_score's request): the cohort
 * opened and the model loaded, agreed with every rank, then its chunks;
 * rank 0 keeps the risks. */
static strata_status run_serve_score(strata_ctx *ctx, const run_request *req, const char *cohort,
                                     const char *model)
{
    strata_cohort *co = NULL;
    strata_model *m = NULL;
    strata_cox *cx = NULL;
    strata_status st = strata_cohort_open(ctx, cohort, &co);
    if (st == STRATA_OK)
        st = req->cox ? strata_cox_load(ctx, model, &cx) : strata_model_load(ctx, model, &m);
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK)
        st = req->cox ? strata_cox_score(ctx, cx, co, STRATA_UNSEEN_TO_REFERENCE, &req->horizon, 1, NULL, NULL)
                      : strata_score(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, NULL, NULL);
    strata_cox_free(ctx, cx);
    strata_model_free(ctx, m);
    strata_cohort_close(co);
    return st;
}

/* Ranks other than 0: serve rank 0's requests until "done". A fit's failure
 * is agreed inside it, so rank 0 reports it. */
static strata_status run_serve(strata_ctx *ctx)
{
    const strata_comm *c = strata_ctx_comm(ctx);
    strata_status last = STRATA_OK;
    for (;;) {
        run_request req;
        char *blob;
        size_t n, nb;
        strata_cohort *co = NULL;
        strata_model *m = NULL;
        strata_status st;
        STRATA_TRY(c->bcast(c->ud, &req, sizeof req, 0));
        if (req.kind < RUN_REQ_FIT || req.kind > RUN_REQ_VALIDATE)
            return last;
        n = req.len[0] + req.len[1] + req.len[2];
        strata_ctx_set_memory_budget(ctx, req.budget);
        if (req.kind != RUN_REQ_ELNET)
            req.pf_len = 0;
        nb = n + req.pf_len + 1;
        if (!(blob = strata_alloc(ctx, nb)))
            return STRATA_ENOMEM;
        st = c->bcast(c->ud, blob, n, 0);
        blob[n + req.pf_len] = 0;
        if (st == STRATA_OK && req.pf_len) /* the elastic net's penalty terms */
            st = c->bcast(c->ud, blob + n, req.pf_len, 0);
        if (req.kind == RUN_REQ_SYNTH) { /* collective and agreed inside, rank 0 writes */
            strata_synth *sy = NULL;
            strata_synth_summary ss;
            req.sp.code = req.len[1] > 1 ? blob + req.len[0] : NULL;
            req.sp.data_dir = NULL;
            if (st == STRATA_OK)
                st = strata_synth_new(ctx, &req.sp, &sy);
            if (st == STRATA_OK)
                st = strata_synth_write(ctx, sy, NULL, &ss);
            strata_synth_free(sy);
            strata_free(ctx, blob, nb);
            if (st != STRATA_OK)
                last = st;
            continue;
        }
        if (req.kind == RUN_REQ_SCORE || req.kind == RUN_REQ_VALIDATE) { /* agreed inside: rank 0 reports */
            strata_validate_report vr;
            if (st == STRATA_OK)
                st = req.kind == RUN_REQ_SCORE ? run_serve_score(ctx, &req, blob, blob + req.len[0])
                                               : strata_cohort_validate(ctx, blob, NULL, NULL, &vr);
            strata_free(ctx, blob, nb);
            if (st != STRATA_OK)
                last = st;
            continue;
        }
        if (req.kind == RUN_REQ_DERIVE) { /* agreed inside: rank 0 reports a failure */
            strata_derive_report rep;
            if (st == STRATA_OK)
                st = strata_derive_key(ctx, blob, blob + req.len[0],
                                       req.len[2] > 1 ? blob + req.len[0] + req.len[1] : NULL, NULL, &rep);
            strata_free(ctx, blob, nb);
            if (st != STRATA_OK)
                last = st;
            continue;
        }
        req.prm.formula = req.cp.formula = blob + req.len[0];
        req.prm.weights = req.cp.weights = req.len[2] > 1 ? blob + req.len[0] + req.len[1] : NULL;
        if (st == STRATA_OK)
            st = strata_cohort_open(ctx, blob, &co);
        /* every rank opened the cohort, or none goes into the fit's collectives */
        st = strata_comm_agree(ctx, st);
        if (st == STRATA_OK && req.kind == RUN_REQ_COX) {
            strata_cox *cx = NULL;
            st = strata_cox_fit(ctx, co, &req.cp, &cx);
            strata_cox_free(ctx, cx);
        } else if (st == STRATA_OK && req.kind == RUN_REQ_ELNET) {
            st = run_serve_elnet(ctx, &req, co, blob + n);
        } else if (st == STRATA_OK)
            st = strata_glm_fit(ctx, co, &req.prm, &m);
        strata_model_free(ctx, m);
        strata_cohort_close(co);
        strata_free(ctx, blob, nb);
        /* a failed fit failed on every rank (agreed); rank 0 still sends "done" */
        if (st != STRATA_OK && st != STRATA_ENOCONV)
            last = st;
    }
}

/* ---- stages -------------------------------------------------------------- */

/* derive: (docs/derive.md) turns the cohort's events into features.h5, which
 * the job then uses as its cohort; path becomes that file. */
static strata_status stage_derive(run_state *r, char *path, size_t size)
{
    char spec[4096], out[4096], key[64];
    strata_derive_report rep;
    if (r->spec->derive_key)
        snprintf(spec, sizeof spec, "%s", r->spec->derive);
    else
        strata_run_spec_path(r->spec, r->spec->derive, spec, sizeof spec);
    out_path(r, "features.h5", out, sizeof out);
    if (r->spec->synth_scope)
        STRATA_TRY(stage_done(r, "synth"));
    if (strata_ctx_comm(r->ctx)) { /* every rank derives its blocks of patients */
        run_request req;
        const char *t[3] = {path, spec, r->spec->derive_key ? r->spec->derive_key : ""};
        memset(&req, 0, sizeof req);
        req.kind = RUN_REQ_DERIVE;
        STRATA_TRY(run_send_text(r->ctx, &req, t));
    }
    STRATA_TRY(strata_derive_key(r->ctx, path, spec, r->spec->derive_key, out, &rep));
    STRATA_TRY(strata_manifest_input(r->man, "derive_spec", spec));
    STRATA_TRY(strata_manifest_output(r->man, "features.h5", "patient"));
    STRATA_TRY(strata_manifest_int(r->man, "derive.included", (long long)rep.n_included));
    for (int k = 0; k < STRATA_DERIVE_REASONS; k++) {
        snprintf(key, sizeof key, "derive.excluded_%s", strata_derive_reason_name(k));
        STRATA_TRY(strata_manifest_int(r->man, key, (long long)rep.n_excluded[k]));
    }
    snprintf(path, size, "%s", out);
    return stage_done(r, "derive");
}

typedef struct problems {
    char text[1536]; /* the first problems, one a line */
    size_t len, shown;
} problems;

static void keep_problem(void *ud, strata_problem_kind kind, const char *msg)
{
    problems *p = ud;
    int k;
    if (p->shown >= 8 || p->len >= sizeof p->text - 1)
        return;
    k = snprintf(p->text + p->len, sizeof p->text - p->len, "\n  %s: %s",
                 strata_problem_kind_name(kind), msg);
    if (k > 0)
        p->len = p->len + (size_t)k < sizeof p->text ? p->len + (size_t)k : sizeof p->text - 1;
    p->shown++;
}

/* The cohort passes strata validate before anything is computed from it
 * (ages of 150, IMD deciles of 12, duplicate ids would flow into published
 * tables); allow_invalid goes on anyway and the manifest records it. */
static strata_status validate_first(run_state *r, const char *path)
{
    strata_validate_report rep;
    problems p;
    memset(&p, 0, sizeof p);
    if (strata_ctx_comm(r->ctx)) { /* every rank checks its slab of rows (docs/scale.md#mpi) */
        run_request req;
        const char *t[3] = {path, "", ""};
        memset(&req, 0, sizeof req);
        req.kind = RUN_REQ_VALIDATE;
        STRATA_TRY(run_send_text(r->ctx, &req, t));
    }
    STRATA_TRY(strata_cohort_validate(r->ctx, path, keep_problem, &p, &rep));
    r->sum->n_invalid = rep.total;
    STRATA_TRY(strata_manifest_int(r->man, "validation.problems", (long long)rep.total));
    STRATA_TRY(strata_manifest_int(r->man, "spec.allow_invalid", r->spec->allow_invalid));
    if (rep.total == 0)
        return STRATA_OK;
    if (!r->spec->allow_invalid)
        return STRATA_FAIL(r->ctx, STRATA_EDATA,
                           "%s: INVALID: %zu problem%s, the first:%s\n(strata validate %s lists "
                           "them all; fix the cohort, or run with --allow-invalid to go on and "
                           "have that recorded in manifest.json)",
                           path, rep.total, rep.total == 1 ? "" : "s", p.text, path);
    strata_warn(r->ctx, "%s: %zu validation problem%s, going on as allow_invalid asks (recorded "
                        "in manifest.json)", path, rep.total, rep.total == 1 ? "" : "s");
    return STRATA_OK;
}

static strata_status stage_cohort(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    char path[4096];
    if (r->spec->synth_scope) {
        strata_synth_params sp;
        strata_synth *s = NULL;
        strata_synth_summary ss;
        strata_status st;
        strata_synth_params_init(&sp);
        sp.scope = !strcmp(r->spec->synth_scope, "pcn")       ? STRATA_SYNTH_PCN
                   : !strcmp(r->spec->synth_scope, "england") ? STRATA_SYNTH_ENGLAND
                                                              : STRATA_SYNTH_ICB;
        sp.code = r->spec->synth_code;
        sp.n_patients = r->spec->synth_patients;
        sp.seed = (uint64_t)r->spec->synth_seed;
        out_path(r, "cohort.h5", path, sizeof path);
        STRATA_TRY(strata_synth_params_check(ctx, &sp));
        if (strata_ctx_comm(ctx)) { /* every rank generates its groups of rows */
            run_request req;
            const char *t[3] = {path, sp.code ? sp.code : "", ""};
            memset(&req, 0, sizeof req);
            req.kind = RUN_REQ_SYNTH;
            req.sp = sp;
            STRATA_TRY(run_send_text(ctx, &req, t));
        }
        STRATA_TRY(strata_synth_new(ctx, &sp, &s));
        st = strata_synth_write(ctx, s, path, &ss);
        strata_synth_free(s);
        STRATA_TRY(st);
        STRATA_TRY(strata_manifest_int(r->man, "seeds.synth", r->spec->synth_seed));
        STRATA_TRY(strata_manifest_output(r->man, "cohort.h5", "patient"));
        {
            char final[4200];
            snprintf(final, sizeof final, "%s/cohort.h5", r->dir->final_dir);
            STRATA_TRY(strata_manifest_input_as(r->man, "cohort", path, final));
        }
    } else {
        strata_run_spec_path(r->spec, r->spec->cohort, path, sizeof path);
        STRATA_TRY(strata_manifest_input(r->man, "cohort", path));
    }
    STRATA_TRY(validate_first(r, path));
    if (r->spec->derive)
        STRATA_TRY(stage_derive(r, path, sizeof path));
    STRATA_TRY(strata_cohort_open(ctx, path, &r->cohort));
    r->n = strata_cohort_nrows(r->cohort);
    if (r->n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no patients", path);
    STRATA_TRY(read_patients(r));
    return stage_done(r, "cohort");
}

/* family cox: load, or fit Surv(time, event) ~ ... and save model.h5 (strata/cox.h). */
static strata_status stage_model_cox(run_state *r)
{
    char path[4096];
    if (r->spec->model_load) {
        strata_run_spec_path(r->spec, r->spec->model_load, path, sizeof path);
        STRATA_TRY(strata_manifest_input(r->man, "model", path));
        STRATA_TRY(strata_cox_load(r->ctx, path, &r->cox));
    } else {
        strata_cox_params cp;
        strata_cox_params_init(&cp);
        cp.formula = r->spec->formula;
        cp.weights = r->spec->weights;
        cp.ties = r->spec->ties && !strcmp(r->spec->ties, "breslow") ? STRATA_COX_BRESLOW : STRATA_COX_EFRON;
        out_path(r, "model.h5", path, sizeof path);
        if (r->spec->elnet) { /* model.alpha: engine/run/run_elnet_cox.c, on rank 0 alone (the
                               * other ranks wait for the scores) */
            const strata_comm *cm = strata_ctx_comm(r->ctx);
            strata_status st;
            strata_ctx_set_comm(r->ctx, NULL);
            st = run_elnet_cox_fit(r->ctx, r->spec, r->cohort, &cp, path, r->man, &r->cox, &r->elnet);
            strata_ctx_set_comm(r->ctx, cm);
            STRATA_TRY(st);
        } else {
            strata_status st;
            if (strata_ctx_comm(r->ctx)) { /* every rank holds its blocks of the sorted rows */
                run_request req;
                memset(&req, 0, sizeof req);
                req.kind = RUN_REQ_COX;
                req.cp = cp;
                STRATA_TRY(run_send_fit(r->ctx, &req, strata_cohort_path(r->cohort), cp.formula, cp.weights, NULL));
            }
            /* the fit's scratch file (under memory:) beside the outputs, unless
             * the caller chose its place (docs/scale.md) */
            int scratch = !strata_ctx_scratch_dir(r->ctx);
            if (scratch)
                strata_ctx_set_scratch_dir(r->ctx, r->outdir);
            st = strata_cox_fit(r->ctx, r->cohort, &cp, &r->cox);
            if (scratch)
                strata_ctx_set_scratch_dir(r->ctx, NULL);
            STRATA_TRY(st);
            STRATA_TRY(strata_cox_save(r->ctx, r->cox, path));
            STRATA_TRY(strata_manifest_output(r->man, "model.h5", "model"));
        }
    }
    STRATA_TRY(read_outcome(r));
    return stage_done(r, "model");
}

/* The fit hashed its cohort for the model's provenance: the manifest reuses
 * that hash for the same file (features.h5 is an output) instead of reading
 * it again. The file is the cohort the fit read (the provenance's
 * input_path may record the final folder's name for it). */
static void known_fit_hash(run_state *r)
{
    const char *h = strata_model_provenance(r->model, "input_hash");
    if (h && !strncmp(h, "sha256:", 7))
        strata_manifest_known_hash(r->man, strata_cohort_path(r->cohort), h + 7);
}

/* The fit's provenance hash of its cohort (strata_ctx_set_input_hash's
 * callback while the run fits, ud the manifest): inputs.cohort's hash, read
 * at the cohort stage, so a GLM, Cox or elastic-net fit does not read the
 * whole cohort a second time (Cox and the elastic net did so serially). */
static strata_status manifest_input_hash(void *ud, strata_ctx *ctx, const char *path, char out[65])
{
    (void)ctx;
    return strata_manifest_hash(ud, path, out);
}

static strata_status stage_model_fit(run_state *r);

/* The model stage, lending the fit the manifest's hash of the cohort when
 * the manifest has it (not features.h5, which derive just wrote: a GLM fit
 * hashes that on a thread of its own while it fits) and the caller set no
 * hash of its own. */
static strata_status stage_model(run_state *r)
{
    int lend = !r->ctx->input_hash && strata_manifest_knows(r->man, strata_cohort_path(r->cohort));
    strata_status st;
    if (lend)
        strata_ctx_set_input_hash(r->ctx, manifest_input_hash, r->man);
    st = stage_model_fit(r);
    if (lend)
        strata_ctx_set_input_hash(r->ctx, NULL, NULL);
    return st;
}

static strata_status stage_model_fit(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    char path[4096];
    /* a loaded model or the penalised Cox: no distributed fit; the other
     * ranks wait for the scores (stage_score) */
    if (is_cox(r))
        return stage_model_cox(r);
    if (r->spec->model_load) {
        strata_run_spec_path(r->spec, r->spec->model_load, path, sizeof path);
        STRATA_TRY(strata_manifest_input(r->man, "model", path));
        STRATA_TRY(strata_model_load(ctx, path, &r->model));
    } else {
        strata_glm_params gp;
        strata_glm_params_init(&gp);
        STRATA_TRY(strata_family_parse(ctx, r->spec->family, &gp.family));
        gp.formula = r->spec->formula;
        gp.weights = r->spec->weights;
        STRATA_TRY(strata_glm_params_check(ctx, &gp));
        out_path(r, "model.h5", path, sizeof path);
        if (r->spec->elnet) { /* model.alpha: engine/run/run_elnet.c */
            strata_status st;
            if (strata_ctx_comm(ctx)) /* every rank fits the path on its chunks' rows, or its CV folds */
                STRATA_TRY(run_send_elnet(ctx, r->spec, &gp, strata_cohort_path(r->cohort)));
            st = run_elnet_fit(ctx, r->spec, r->cohort, &gp, path, r->man, &r->model, &r->elnet);
            STRATA_TRY(st);
        } else {
            strata_status st;
            if (strata_ctx_comm(ctx)) { /* every rank fits its slab of rows */
                run_request req;
                memset(&req, 0, sizeof req);
                req.kind = RUN_REQ_FIT;
                req.prm = gp;
                STRATA_TRY(run_send_fit(ctx, &req, strata_cohort_path(r->cohort), gp.formula, gp.weights, NULL));
            }
            st = strata_glm_fit(ctx, r->cohort, &gp, &r->model);
            STRATA_TRY(st);
            STRATA_TRY(strata_model_save(ctx, r->model, path));
            STRATA_TRY(strata_manifest_output(r->man, "model.h5", "model"));
        }
        known_fit_hash(r);
    }
    STRATA_TRY(read_outcome(r));
    return stage_done(r, "model");
}

typedef struct pfile {
    FILE *f;
    char *tmp;
    char path[4096];
} pfile;

static strata_status pfile_open(run_state *r, const char *name, pfile *p)
{
    out_path(r, name, p->path, sizeof p->path);
    p->f = strata_out_open(r->ctx, p->path, 0600, &p->tmp); /* owner-only from creation */
    return p->f ? STRATA_OK : strata_ctx_errcode(r->ctx);
}

static strata_status pfile_close(run_state *r, pfile *p, const char *name)
{
    STRATA_TRY(strata_out_publish(r->ctx, p->f, p->tmp, p->path, 0600));
    return strata_manifest_output(r->man, name, "patient");
}

/* Patients whose risk cannot be computed (a model column is missing for them)
 * stay in every later stage with a NaN risk: counted in every list size, in
 * the age-sex, segment and Core20PLUS5 counts and in n_unscored, in no tier,
 * expected or observed count and on no list (docs/stratify.md#missing-values).
 * They are listed in unscored.csv (0600) so a practice can find them. */
static strata_status note_unscored(run_state *r, size_t bad)
{
    r->sum->n_unscored = bad;
    if (bad == 0)
        return STRATA_OK;
    if (bad == r->n)
        return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s: no patient could be scored",
                           strata_cohort_path(r->cohort));
    {
        pfile pf;
        strata_status st = STRATA_OK;
        double *buf = r->pv ? strata_alloc(r->ctx, (r->n < RUN_BLOCK ? r->n : RUN_BLOCK) * sizeof *buf) : NULL;
        if (r->pv && !buf)
            return STRATA_ENOMEM;
        st = pfile_open(r, "unscored.csv", &pf);
        if (st != STRATA_OK) {
            strata_free(r->ctx, buf, 0);
            return st;
        }
        fprintf(pf.f, "patient_id,row\r\n");
        for (size_t r0 = 0; st == STRATA_OK && r0 < r->n; r0 += RUN_BLOCK) {
            size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
            const void *rv = NULL;
            st = pv_block(r, PV_RISK, r0, b, buf, &rv);
            if (st == STRATA_OK)
                st = read_ids(r, r0, b);
            for (size_t i = 0; st == STRATA_OK && i < b; i++)
                if (isnan(((const double *)rv)[i]))
                    fprintf(pf.f, "%lld,%zu\r\n", (long long)r->id[i], r0 + i + 1);
        }
        free_ids(r);
        strata_free(r->ctx, buf, 0);
        if (st != STRATA_OK) { /* the temporary goes */
            fclose(pf.f);
            unlink(pf.tmp);
            strata_free(r->ctx, pf.tmp, 0);
            return st;
        }
        STRATA_TRY(pfile_close(r, &pf, "unscored.csv"));
    }
    strata_warn(r->ctx,
                "%zu of %zu patients (%.1f%%) could not be scored (a model column is missing for "
                "them): they are counted in every list size and in n_unscored, listed in "
                "unscored.csv, and in no tier or intervention list",
                bad, r->n, 100.0 * (double)bad / (double)r->n);
    return STRATA_OK;
}

/* Rank 0: every rank scores its chunks of the cohort with the model saved at
 * (or loaded from) the model stage's file; the ranks agree that each opened
 * both before scoring. */
static strata_status run_send_score(run_state *r)
{
    run_request req;
    char model[4096];
    if (r->spec->model_load)
        strata_run_spec_path(r->spec, r->spec->model_load, model, sizeof model);
    else
        out_path(r, "model.h5", model, sizeof model);
    const char *t[3] = {strata_cohort_path(r->cohort), model, ""};
    memset(&req, 0, sizeof req);
    req.kind = RUN_REQ_SCORE;
    req.cox = r->cox != NULL;
    req.horizon = r->spec->horizon;
    STRATA_TRY(run_send_text(r->ctx, &req, t));
    return strata_comm_agree(r->ctx, STRATA_OK);
}

/* Only the risk is kept (8 bytes a patient): no later stage reads the linear
 * predictor. Under MPI every rank scores its chunks (docs/scale.md#mpi); then
 * rank 0 goes on alone. */
/* The scores as they arrive, a chunk at a time in row order (on MPI rank 0
 * every rank's chunks): a Cox model's absolute risk by the horizon kept
 * inside (0, 1) for evaluation, a risk that is not finite made NaN and
 * counted (unscored); into the run's risk array, or — with the values on
 * file — written to the file, so no array of every risk is held. */
typedef struct risk_sink {
    run_state *r;
    size_t bad, cap;
    double *buf; /* a chunk's risks on their way to the file */
} risk_sink;

static strata_status keep_risks(strata_ctx *ctx, void *ud, size_t r0, size_t k, const double *lp,
                                const double *resp)
{
    risk_sink *s = ud;
    run_state *r = s->r;
    double *v = r->risk ? r->risk + r0 : s->buf;
    (void)lp;
    if (!r->risk && k > s->cap) {
        strata_free(ctx, s->buf, 0);
        s->cap = 0;
        if (!(v = s->buf = strata_alloc(ctx, k * sizeof *s->buf)))
            return STRATA_FAIL(ctx, STRATA_ENOMEM, "score: out of memory for %zu risks", k);
        s->cap = k;
    }
    for (size_t i = 0; i < k; i++) {
        double x = resp[i];
        if (r->cox && !isnan(x))
            x = x >= 1 ? nextafter(1.0, 0.0) : x <= 0 ? DBL_MIN : x;
        if (!isfinite(x)) {
            x = NAN;
            s->bad++;
        }
        v[i] = x;
    }
    return r->risk ? STRATA_OK : pv_write(r, PV_RISK, r0, k, v);
}

static strata_status stage_score(run_state *r)
{
    strata_status st = pv_start(r); /* over the budget the risks go to the file as they come */
    risk_sink rs = {r, 0, 0, NULL};
    if (st == STRATA_OK && !r->pv && !(r->risk = strata_calloc(r->ctx, r->n, sizeof *r->risk)))
        st = STRATA_ENOMEM;
    if (st != STRATA_OK) { /* (before the other ranks are sent the scores) */
        run_release(r->ctx);
        return st;
    }
    st = strata_ctx_comm(r->ctx) ? run_send_score(r) : STRATA_OK;
    if (st == STRATA_OK && r->cox)
        st = strata_cox_score_sink(r->ctx, r->cox, r->cohort, STRATA_UNSEEN_TO_REFERENCE, &r->spec->horizon, 1,
                                   keep_risks, &rs);
    else if (st == STRATA_OK)
        st = strata_score_sink(r->ctx, r->model, r->cohort, STRATA_UNSEEN_TO_REFERENCE, keep_risks, &rs);
    run_release(r->ctx);
    strata_free(r->ctx, rs.buf, 0);
    STRATA_TRY(st);
    STRATA_TRY(note_unscored(r, rs.bad));
    return stage_done(r, "score");
}

/* ---- evaluation ------------------------------------------------------------ */

/* Evaluation's inputs read block by block (strata_evaluate_source): the
 * weights from the outcome and risk, the by-columns from the cohort (a
 * role's codes, sex as F/M; a derived grouping from its source column; any
 * categorical column) — none of them held whole (docs/scale.md). */
enum { BY_CODES, BY_SEX, BY_DERIVED };
typedef struct eval_reader {
    run_state *r;
    long col[STRATA_RUN_MAX_BY];  /* the cohort column read (-1: none, all missing) */
    int kind[STRATA_RUN_MAX_BY];  /* BY_* */
    const char *name[STRATA_RUN_MAX_BY];
} eval_reader;

/* Weights of rows [r0, r0 + n) into w (1: outcome and risk both there),
 * or, w NULL, *any set when one of them is 0; outcome and risk read in
 * pieces of EV_PIECE rows from memory or the file. */
#define EV_PIECE 1024
static strata_status eval_weights(run_state *r, size_t r0, size_t n, double *w, int *any)
{
    double yb[EV_PIECE], pb[EV_PIECE];
    for (size_t i0 = 0; i0 < n; i0 += EV_PIECE) {
        size_t m = n - i0 < EV_PIECE ? n - i0 : EV_PIECE;
        const void *yp, *pp;
        STRATA_TRY(pv_block(r, PV_OBS, r0 + i0, m, yb, &yp));
        STRATA_TRY(pv_block(r, PV_RISK, r0 + i0, m, pb, &pp));
        for (size_t i = 0; i < m; i++) {
            int zero = isnan(((const double *)yp)[i]) || isnan(((const double *)pp)[i]);
            if (w)
                w[i0 + i] = zero ? 0.0 : 1.0;
            else if (zero)
                *any = 1;
        }
    }
    return STRATA_OK;
}

static strata_status eval_read(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n, void *out)
{
    const eval_reader *e = ud;
    const run_state *r = e->r;
    int32_t *v = out;
    if (col == STRATA_EVAL_COL_Y || col == STRATA_EVAL_COL_P) { /* from the file (r->pv) */
        const void *p;
        STRATA_TRY(pv_block(e->r, col == STRATA_EVAL_COL_Y ? PV_OBS : PV_RISK, r0, n, out, &p));
        if (p != out)
            memcpy(out, p, n * sizeof(double));
        return STRATA_OK;
    }
    if (col == STRATA_EVAL_COL_W) /* no observed outcome or no risk (unscored): weight 0 */
        return eval_weights(e->r, r0, n, out, NULL);
    if (col < 0)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "evaluate: column %d is not read", col);
    if (e->col[col] >= 0)
        STRATA_TRY(strata_cohort_read_i32(ctx, r->cohort, (size_t)e->col[col], r0, n, v));
    if (e->kind[col] == BY_SEX)
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] >= 0 && v[i] < 64 ? r->sex_map[v[i]] : -1;
    else if (e->kind[col] == BY_DERIVED) /* the one rule of strata evaluate --by */
        strata_eval_derived_codes(e->name[col], e->col[col] >= 0 ? v : NULL, n, v);
    return STRATA_OK;
}

/* The by-column named name as the k-th of e: derived (age_band,
 * imd_quintile, core20), a role (sex, ethnicity, pcn, practice, icb) or any
 * categorical cohort column; its codes are read by eval_read. */
static strata_status by_codes(run_state *r, const char *name, strata_eval_by *by, eval_reader *e, size_t k)
{
    strata_role src;
    const codes *role = !strcmp(name, "sex")         ? &r->sex
                        : !strcmp(name, "ethnicity") ? &r->eth
                        : !strcmp(name, "pcn")       ? &r->pcn
                        : !strcmp(name, "practice")  ? &r->practice
                        : !strcmp(name, "icb")       ? &r->icb
                                                     : NULL;
    memset(by, 0, sizeof *by);
    by->name = e->name[k] = name;
    e->kind[k] = BY_CODES;
    if (role && role->col >= 0) {
        e->col[k] = role->col;
        e->kind[k] = role == &r->sex ? BY_SEX : BY_CODES;
        by->n_levels = role->n_levels;
        by->levels = role->levels;
    } else if ((by->n_levels = strata_eval_derived(name, &src, &by->levels)) > 0) {
        e->col[k] = src == STRATA_ROLE_AGE ? r->age_col : r->imd_col;
        e->kind[k] = BY_DERIVED;
    } else {
        long j = find_col(r, name);
        const strata_column_info *info = j >= 0 ? strata_cohort_column(r->cohort, (size_t)j) : NULL;
        if (!info || !info->categorical)
            return STRATA_FAIL(r->ctx, STRATA_ESPEC,
                               "evaluate.by: \"%s\" is neither a derived grouping (age_band, "
                               "imd_quintile, core20), a role (sex, ethnicity, pcn, practice, icb) "
                               "nor a categorical column of %s",
                               name, strata_cohort_path(r->cohort));
        e->col[k] = j;
        by->n_levels = info->n_levels;
        by->levels = info->levels;
    }
    return STRATA_OK;
}

/* The model's own family: a gamma model is evaluated with the gamma deviance
 * and log link (docs/evaluate.md#families). */
static strata_family eval_family(const strata_model *m)
{
    strata_fit_summary fs;
    if (!m) /* Cox: risk by the horizon against an event by the horizon */
        return STRATA_FAMILY_BINOMIAL;
    strata_model_summary(m, &fs);
    return fs.family;
}

/* Subgroup fairness table: the evaluation's own table and rules
 * (strata_eval_fairness_parts), disclosed with the other aggregates. */
static strata_status fairness_table(run_state *r)
{
    return strata_eval_fairness_parts(r->ctx, r->eval, &r->n_fair, &r->fair_parts);
}

/* Harrell's bootstrap optimism correction (evaluate.bootstrap: B): B refits
 * of the model on resamples drawn from (seed, resample, row); the corrected C
 * and calibration slope go into the model card and validation.csv. */
static strata_status run_bootstrap(run_state *r, strata_family fam)
{
    strata_ctx *ctx = r->ctx;
    size_t N = strata_cohort_nrows(r->cohort);
    double *full = strata_alloc(ctx, N * sizeof *full);
    strata_validate_params vp;
    strata_status st;
    char outcome[256];
    if (!full)
        return STRATA_ENOMEM;
    if (r->cox) {
        strata_free(ctx, full, 0);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "evaluate.bootstrap is not available for family cox yet");
    }
    for (size_t i = 0; i < N; i++)
        full[i] = NAN;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) { /* from memory or the file */
        size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        const void *p;
        if ((st = pv_block(r, PV_RISK, r0, b, full + r0, &p)) != STRATA_OK) {
            strata_free(ctx, full, 0);
            return st;
        }
        if (p != full + r0)
            memcpy(full + r0, p, b * sizeof *full);
    }
    strata_validate_params_init(&vp);
    vp.B = (int)r->spec->bootstrap;
    vp.seed = (uint64_t)r->spec->seed;
    outcome_name(r, outcome, sizeof outcome);
    r->boot = strata_calloc(ctx, 1, sizeof *r->boot);
    st = r->boot ? strata_evaluate_bootstrap_glm(ctx, r->model, r->cohort, outcome, full, fam, &vp,
                                                 r->boot)
                 : STRATA_ENOMEM;
    strata_free(ctx, full, 0);
    if (st == STRATA_OK)
        st = strata_manifest_int(r->man, "seeds.bootstrap", r->spec->seed);
    return st;
}

static strata_status stage_evaluate(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_eval_params ep;
    strata_eval_source src;
    strata_eval_by by[STRATA_RUN_MAX_BY];
    eval_reader e;
    strata_status st = STRATA_OK;
    if (!r->has_obs)
        return stage_done(r, "evaluate (skipped: no outcome)");
    strata_eval_params_init(&ep);
    ep.family = eval_family(r->model);
    memset(&src, 0, sizeof src);
    memset(&e, 0, sizeof e);
    e.r = r;
    src.in.n = r->n;
    src.in.y = r->obs; /* NULL on the file (r->pv): eval_read reads them */
    src.in.p = r->risk;
    src.read = eval_read;
    src.ud = &e;
    /* rows without an observed outcome or a risk (unscored) take no part
     * (weight 0, read by eval_read) */
    for (size_t r0 = 0; r0 < r->n && !src.weighted && st == STRATA_OK; r0 += RUN_BLOCK)
        st = eval_weights(r, r0, r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK, NULL, &src.weighted);
    for (size_t k = 0; k < r->spec->n_by && st == STRATA_OK; k++)
        st = by_codes(r, r->spec->by[k], &by[k], &e, k);
    src.in.n_by = r->spec->n_by;
    src.in.by = by;
    if (st == STRATA_OK)
        st = strata_evaluate_source(ctx, &src, &ep, &r->eval);
    STRATA_TRY(st);
    STRATA_TRY(fairness_table(r));
    if (r->spec->bootstrap > 0)
        STRATA_TRY(run_bootstrap(r, ep.family));
    r->sum->c_statistic = r->eval->overall.c;
    r->sum->oe = r->eval->overall.oe;
    r->sum->calibration_slope = r->eval->overall.slope;
    r->sum->deviance = r->eval->overall.deviance;
    r->sum->pseudo_r2 = r->eval->overall.pseudo_r2;
    return stage_done(r, "evaluate");
}

/* The five adult clinical areas of Core20PLUS5 from the condition flags of
 * a block of rows (SMI; chronic respiratory = COPD or asthma; cancer, for
 * early diagnosis; hypertension; maternity has no source in these flags
 * yet) into c5[0..b). docs/stratify.md#core20plus5 */
static void c5_block(run_state *r, size_t b, uint8_t *c5)
{
    const int32_t *const *f = (const int32_t *const *)r->flags;
    for (size_t i = 0; i < b; i++) {
#define HAS(c) (f[c] && f[c][i] > 0)
        c5[i] = (uint8_t)((HAS(STRATA_C_SMI) << STRATA_C5_SMI) |
                          ((HAS(STRATA_C_COPD) || HAS(STRATA_C_ASTHMA)) << STRATA_C5_RESPIRATORY) |
                          (HAS(STRATA_C_CANCER) << STRATA_C5_CANCER) |
                          (HAS(STRATA_C_HYPERTENSION) << STRATA_C5_HYPERTENSION));
#undef HAS
    }
}

/* The PLUS groups of the spec (stratify.plus) as rules on their cohort
 * columns (rules[k].col NULL: read by block, plus_block); checked at
 * stratification, applied at aggregation. */
static strata_status plus_rules(run_state *r, strata_plus_rule *rules, long *cols,
                                int32_t (*lv)[STRATA_RUN_MAX_PLUS_LEVELS])
{
    strata_ctx *ctx = r->ctx;
    for (size_t k = 0; k < r->spec->n_plus; k++) {
        long j = find_col(r, r->spec->plus_column[k]);
        const strata_column_info *info = j >= 0 ? strata_cohort_column(r->cohort, (size_t)j) : NULL;
        size_t nc = 0;
        if (!info)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "stratify.plus.%s: %s has no column %s",
                               r->spec->plus_name[k], strata_cohort_path(r->cohort),
                               r->spec->plus_column[k]);
        for (size_t l = 0; l < r->spec->n_plus_levels[k]; l++) {
            size_t c = 0;
            while (info->categorical && c < info->n_levels &&
                   strcmp(info->levels[c], r->spec->plus_levels[k][l]))
                c++;
            if (!info->categorical || c == info->n_levels)
                return STRATA_FAIL(ctx, STRATA_ESPEC, "stratify.plus.%s: level \"%s\" is not a "
                                   "level of column %s", r->spec->plus_name[k],
                                   r->spec->plus_levels[k][l], r->spec->plus_column[k]);
            lv[k][nc++] = (int32_t)c;
        }
        cols[k] = j;
        rules[k] = (strata_plus_rule){r->spec->plus_name[k], NULL, nc, lv[k]};
    }
    return STRATA_OK;
}

/* The PLUS groups' rules, checked once (plus_rules) and applied to every
 * block of aggregation (plus_block). */
typedef struct plus_set {
    strata_plus_rule rules[STRATA_RUN_MAX_PLUS];
    int32_t lv[STRATA_RUN_MAX_PLUS][STRATA_RUN_MAX_PLUS_LEVELS];
    long cols[STRATA_RUN_MAX_PLUS];
} plus_set;

/* The PLUS groups of rows [r0, r0 + b) into mask (no rules: nothing);
 * buf holds b values a rule. */
static strata_status plus_block(run_state *r, plus_set *ps, size_t r0, size_t b, int32_t *buf, uint32_t *mask)
{
    if (!r->spec->n_plus)
        return STRATA_OK;
    for (size_t k = 0; k < r->spec->n_plus; k++) {
        STRATA_TRY(strata_cohort_read_i32(r->ctx, r->cohort, (size_t)ps->cols[k], r0, b, buf + k * b));
        ps->rules[k].col = buf + k * b;
    }
    return strata_plus_flags(r->ctx, b, r->spec->n_plus, ps->rules, mask, NULL);
}

/* ---- stratification --------------------------------------------------------- */

/* The spec's Charlson weights ("charlson1987" when a hand-built spec leaves it NULL). */
static const char *charlson_name(const strata_run_spec *spec)
{
    return spec->charlson_weights ? spec->charlson_weights
                                  : strata_charlson_weights_name(STRATA_CHARLSON_ORIGINAL);
}

/* Segments, frailty, Charlson and multimorbidity block by block, each block's
 * stratification-only columns and age read for it: the library's
 * strata_stratify_patients on the block, given each patient's tier from the
 * whole population as an absolute-mode "risk" (tier T as n_cuts + 1 - T,
 * cuts at n_cuts - 0.5, ..., 0.5; unscored NaN), so the block call assigns
 * the same tiers and everything that depends on them is as one call on all
 * rows gives. With the values on file (r->pv) the tiers are read from it and
 * each block's outputs written there instead of into whole arrays. */
static size_t agg_rows(const run_state *r);

static strata_status stratify_blocks(run_state *r, const strata_patient_params *pp)
{
    strata_ctx *ctx = r->ctx;
    strata_patient_params bp = *pp;
    size_t nc = pp->tiers.n_cuts, cap = agg_rows(r);
    int32_t *buf = strata_alloc(ctx, (3 + STRATA_N_CONDITIONS) * cap * sizeof *buf);
    double *as_risk = strata_alloc(ctx, cap * sizeof *as_risk);
    size_t cs = cap + (cap & 1); /* a stride that keeps Charlson's int16 aligned */
    uint8_t *tier = strata_alloc(ctx, cs * 8); /* tier, the outputs of a block on file, the tiers read */
    strata_status st = buf && as_risk && tier ? STRATA_OK : STRATA_ENOMEM;
    bp.tiers.mode = STRATA_TIER_ABSOLUTE;
    for (size_t t = 0; t < nc; t++)
        bp.tiers.cut[t] = (double)(nc - t) - 0.5;
    for (size_t r0 = 0; st == STRATA_OK && r0 < r->n; r0 += cap) {
        size_t b = r->n - r0 < cap ? r->n - r0 : cap;
        uint8_t *seg = r->pv ? tier + cs : r->segment + r0;
        int8_t *fr = r->pv ? (int8_t *)tier + 2 * cs : r->frailty + r0;
        int8_t *ltc = r->pv ? (int8_t *)tier + 3 * cs : r->ltc + r0;
        uint8_t *c5 = r->pv ? tier + 4 * cs : r->c5_mask + r0;
        int16_t *ch = r->pv ? (int16_t *)(void *)(tier + 5 * cs) : r->charlson + r0;
        const uint8_t *want;
        const void *tp;
        const int32_t *age;
        strata_patient_cols pc;
        st = read_stratify_block(r, buf, cap, r0, b, &age);
        if (st == STRATA_OK)
            st = pv_block(r, PV_TIER, r0, b, tier + 7 * cs, &tp);
        if (st != STRATA_OK)
            break;
        want = tp;
        memset(&pc, 0, sizeof pc);
        for (size_t i = 0; i < b; i++)
            as_risk[i] = want[i] ? (double)(nc + 1 - want[i]) : NAN;
        pc.n = b;
        pc.risk = as_risk;
        pc.age = age;
        pc.efi_deficits = r->efi;
        pc.prior_emergency = r->prior_em;
        for (int c = 0; c < STRATA_N_CONDITIONS; c++)
            pc.flags[c] = r->flags[c];
        st = strata_stratify_patients(ctx, &bp, &pc, NULL, 0, tier, seg, fr, ch, ltc);
        for (size_t i = 0; st == STRATA_OK && i < b; i++)
            if (tier[i] != want[i])
                st = STRATA_FAIL(ctx, STRATA_EINTERNAL, "stratify: row %zu: tier %d, not %d",
                                 r0 + i + 1, tier[i], want[i]);
        if (st == STRATA_OK)
            c5_block(r, b, c5);
        if (st == STRATA_OK && r->pv) {
            const void *out[5] = {seg, fr, ltc, c5, ch};
            const int col[5] = {PV_SEGMENT, PV_FRAILTY, PV_LTC, PV_C5, PV_CHARLSON};
            for (int k = 0; k < 5 && st == STRATA_OK; k++)
                st = pv_write(r, col[k], r0, b, out[k]);
        }
    }
    free_stratify_inputs(r);
    STRATA_FREE_ALL(ctx, buf, as_risk, tier);
    return st;
}

/* The whole arrays of stratification's outputs, only with the values in
 * memory (with them on file every output goes there block by block). */
static strata_status stratify_outputs(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    if (r->pv)
        return STRATA_OK;
    r->tier = strata_calloc(ctx, r->n, 1);
    r->segment = strata_calloc(ctx, r->n, 1);
    r->frailty = strata_calloc(ctx, r->n, sizeof *r->frailty);
    r->ltc = strata_calloc(ctx, r->n, sizeof *r->ltc);
    r->charlson = strata_calloc(ctx, r->n, sizeof *r->charlson);
    r->c5_mask = strata_calloc(ctx, r->n, 1);
    return r->tier && r->segment && r->frailty && r->ltc && r->charlson && r->c5_mask ? STRATA_OK
                                                                                      : STRATA_ENOMEM;
}

/* The tiers' rows in blocks (strata_tiers_source): the risk from memory or
 * the file (pv_block), the PCN codes (tiers within PCN) from the cohort; the
 * tiers to memory or the file. */
static strata_status tier_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *risk_buf,
                               int32_t *group_buf, const double **risk, const int32_t **group)
{
    run_state *r = ud;
    const void *p;
    STRATA_TRY(pv_block(r, PV_RISK, r0, b, risk_buf, &p));
    *risk = p;
    if (group) {
        STRATA_TRY(strata_cohort_read_i32(ctx, r->cohort, (size_t)r->pcn.col, r0, b, group_buf));
        *group = group_buf;
    }
    return STRATA_OK;
}

static strata_status tier_write(strata_ctx *ctx, void *ud, size_t r0, size_t b, const uint8_t *tier)
{
    run_state *r = ud;
    (void)ctx;
    if (r->pv)
        return pv_write(r, PV_TIER, r0, b, tier);
    memcpy(r->tier + r0, tier, b);
    return STRATA_OK;
}

/* Tiers, segments, frailty, Charlson and multimorbidity as the library's
 * strata_stratify_patients gives them (tests/test_run.c): the tiers from
 * row blocks through strata_tiers_source (the ranking through the external
 * sort; its rows' risks and PCN codes read a block at a time), the rest per
 * patient block by block (stratify_blocks), so nothing of n patients is
 * held here but what the values in memory hold (r->pv: none; the ranking
 * under half the budget). Over the budget (pv_over_budget) the outcome and
 * the risk go to the scratch file at the start. */
static strata_status stage_stratify(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_patient_params pp;
    strata_tier_source ts;
    int within = r->spec->tiers_within_pcn;
    {   /* the PLUS groups' rules checked here, applied by aggregation (plus_block) */
        plus_set ps;
        STRATA_TRY(plus_rules(r, ps.rules, ps.cols, ps.lv));
    }
    STRATA_TRY(pv_start(r)); /* (the outcome and risk are on file already, over the budget) */
    STRATA_TRY(stratify_outputs(r));
    strata_patient_params_init(&pp);
    pp.tiers.mode = r->spec->tiers_absolute ? STRATA_TIER_ABSOLUTE : STRATA_TIER_PERCENTILE;
    pp.tiers.n_cuts = r->spec->n_tiers;
    for (size_t k = 0; k < pp.tiers.n_cuts; k++)
        pp.tiers.cut[k] = r->spec->tiers[k];
    STRATA_TRY(strata_charlson_weights_parse(ctx, charlson_name(r->spec), &pp.charlson));
    STRATA_TRY(strata_patient_params_check(ctx, &pp));
    memset(&ts, 0, sizeof ts); /* tier 0 for an unscored patient (docs/stratify.md#missing-values) */
    ts.n = r->n;
    ts.n_groups = within ? r->pcn.n_levels : 0;
    ts.skip_nan = 1;
    ts.block = agg_rows(r);
    ts.read = tier_read;
    ts.write = tier_write;
    ts.ud = r;
    STRATA_TRY(strata_tiers_source(ctx, &pp.tiers, &ts));
    STRATA_TRY(stratify_blocks(r, &pp));
    return stage_done(r, "stratify");
}

/* ---- aggregation with disclosure control ------------------------------------ */

static void sdc_from_spec(const strata_run_spec *s, strata_sdc_params *p)
{
    strata_sdc_params_init(p);
    p->enabled = s->disclosure;
    p->lo = 1;
    p->hi = (double)s->suppress_max;
    p->round_to = (double)s->round_to;
}

static strata_status write_table(run_state *r, strata_table *t, const char *file)
{
    char path[4096];
    out_path(r, file, path, sizeof path);
    STRATA_TRY(strata_table_write_csv(r->ctx, t, path));
    return strata_manifest_output(r->man, file,
                                  strata_table_patient_level(t) ? "patient" : "aggregate");
}

/* parent_row[k] = the row of child group k's parent (the parent group of its
 * first patient; prow filled by parent_rows), and the child's ALL row maps to
 * the parent's ALL row, so disclosure control protects practice -> PCN -> ICB
 * sums too. */
static void parent_rows(const int32_t *cc, size_t n_levels, const int32_t *pc, size_t b,
                        int32_t *prow)
{
    for (size_t i = 0; i < b; i++) {
        int32_t c = cc[i], p = pc[i];
        if (c >= 0 && (size_t)c < n_levels && prow[c] < 0 && p >= 0)
            prow[c] = p;
    }
}

static strata_status link_parent(run_state *r, strata_table *child, strata_table *parent,
                                 int32_t *prow)
{
    prow[strata_table_nrows(child) - 1] = (int32_t)(strata_table_nrows(parent) - 1); /* ALL -> ALL */
    return strata_table_set_parent(r->ctx, child, parent, prow);
}

/* ---- aggregation's inputs block by block ------------------------------------------ */

/* The cohort columns aggregation reads (pcn, practice, icb, sex, eth, age, imd) and the
 * values of a block: read for it (the cohort's; the values with r->pv), or
 * pointed to in memory. */
typedef struct agg_block {
    size_t cap;                  /* rows a block */
    int32_t *col;                /* 7 x cap cohort codes, then n_plus x cap PLUS columns */
    int32_t *code[7];            /* pcn, practice, icb, sex, eth, age, imd (NULL: none) */
    unsigned char *val;          /* 23 x cap: the values read from the file */
    uint32_t *plus;              /* cap: the PLUS groups */
    long cols[7];                /* the cohort columns of code[] */
    plus_set ps;                 /* the PLUS groups' rules */
    strata_strat_input in;       /* the block's inputs */
} agg_block;

/* Rows a block: a quarter of the budget's worth with the values on file
 * (never fewer than 1,024), else RUN_BLOCK; at most the cohort's. */
static size_t agg_rows(const run_state *r)
{
    size_t rows = RUN_BLOCK;
    if (r->pv) {
        rows = strata_ctx_memory_budget(r->ctx) / 4 / AGG_ROW_BYTES;
        rows = rows < 1024 ? 1024 : rows > RUN_BLOCK ? RUN_BLOCK : rows;
    }
    return rows < r->n ? rows : r->n ? r->n : 1;
}

static strata_status agg_open(run_state *r, agg_block *ab)
{
    strata_ctx *ctx = r->ctx;
    const long cols[7] = {r->pcn.col, r->practice.col, r->icb.col, r->sex.col,
                          r->eth.col, r->age_col,      r->imd_col};
    memset(ab, 0, sizeof *ab);
    memcpy(ab->cols, cols, sizeof cols);
    STRATA_TRY(plus_rules(r, ab->ps.rules, ab->ps.cols, ab->ps.lv));
    ab->cap = agg_rows(r);
    ab->col = strata_alloc(ctx, (7 + r->spec->n_plus) * ab->cap * sizeof *ab->col);
    ab->val = r->pv ? strata_alloc(ctx, 23 * ab->cap) : NULL; /* values in memory: pointed to */
    ab->plus = strata_alloc(ctx, ab->cap * sizeof *ab->plus);
    if (!ab->col || (r->pv && !ab->val) || !ab->plus)
        return STRATA_ENOMEM;
    for (int k = 0; k < 7; k++)
        ab->code[k] = cols[k] >= 0 ? ab->col + (size_t)k * ab->cap : NULL;
    return STRATA_OK;
}

static void agg_close(run_state *r, agg_block *ab)
{
    STRATA_FREE_ALL(r->ctx, ab->col, ab->val, ab->plus);
}

/* Rows [r0, r0 + b) into ab->in (and ab->code). */
static strata_status agg_read(run_state *r, agg_block *ab, size_t r0, size_t b)
{
    strata_strat_input *in = &ab->in;
    unsigned char *v = ab->val;
    const void *p[PV_N] = {0};
    for (int k = 0; k < 7; k++)
        if (ab->code[k])
            STRATA_TRY(strata_cohort_read_i32(r->ctx, r->cohort, (size_t)ab->cols[k], r0, b, ab->code[k]));
    if (ab->code[3]) /* sex as 0 = F, 1 = M (read_patients) */
        for (size_t i = 0; i < b; i++)
            ab->code[3][i] = ab->code[3][i] >= 0 && ab->code[3][i] < 64 ? r->sex_map[ab->code[3][i]] : -1;
    for (int c = 0; c < PV_N; c++) {
        if (c == PV_FRAILTY || c == PV_LTC || c == PV_CHARLSON)
            continue; /* the patient files' */
        STRATA_TRY(pv_block(r, c, r0, b, v, &p[c]));
        v = v ? v + PV_WIDTH[c] * ab->cap : NULL;
    }
    STRATA_TRY(plus_block(r, &ab->ps, r0, b, ab->col + 7 * ab->cap, ab->plus));
    memset(in, 0, sizeof *in);
    in->n = b;
    in->risk = p[PV_RISK];
    in->observed = p[PV_OBS];
    in->age = ab->code[5];
    in->sex = ab->code[3];
    in->imd_decile = ab->code[6];
    in->ethnicity = ab->code[4];
    in->n_ethnicity = r->eth.n_levels;
    in->ethnicity_names = r->eth.levels;
    in->tier = p[PV_TIER];
    in->n_tiers = r->spec->n_tiers + 1;
    in->segment = p[PV_SEGMENT];
    in->need = NULL;
    in->plus_mask = r->spec->n_plus ? ab->plus : NULL;
    in->n_plus = r->spec->n_plus;
    in->plus_names = r->spec->plus_name;
    in->c5_mask = p[PV_C5];
    return STRATA_OK;
}

/* The group tables' sums (strata_group_sums), the tables made, their
 * parents linked: every table from one walk over the blocks per pass. */
typedef struct agg_sums {
    strata_group_sums *s[6];     /* summary by PCN, practice, ICB; Core20PLUS5, inequality, SII */
    const codes *by[6];          /* their groups */
    int32_t *prow[2];            /* practice -> PCN, PCN -> ICB (parent_rows) */
} agg_sums;

static strata_status agg_sums_new(run_state *r, const strata_group_params *gp, agg_sums *as,
                                  const strata_strat_input *shape)
{
    static const strata_group_kind kind[6] = {STRATA_GROUP_SUMMARY, STRATA_GROUP_SUMMARY,
                                              STRATA_GROUP_SUMMARY, STRATA_GROUP_CORE20PLUS5,
                                              STRATA_GROUP_INEQUALITY, STRATA_GROUP_SII};
    const codes *by[6] = {&r->pcn, &r->practice, &r->icb, &r->pcn, &r->pcn, &r->pcn};
    strata_strat_input sh = *shape;
    sh.n = r->n;
    for (int k = 0; k < 6; k++) {
        if (by[k]->col < 0 || (k >= 4 && r->imd_col < 0))
            continue;
        as->by[k] = by[k];
        STRATA_TRY(strata_group_sums_new(r->ctx, kind[k], gp, &sh, by[k]->n_levels, &as->s[k]));
    }
    for (int k = 0; k < 2; k++) {
        const codes *child = k ? &r->pcn : &r->practice;
        if (!as->s[1 + k])
            continue;
        if (!(as->prow[k] = strata_alloc(r->ctx, (child->n_levels + 1) * sizeof *as->prow[k])))
            return STRATA_ENOMEM;
        for (size_t c = 0; c <= child->n_levels; c++)
            as->prow[k][c] = -1;
    }
    return STRATA_OK;
}

static void agg_sums_free(run_state *r, agg_sums *as)
{
    for (int k = 0; k < 6; k++)
        strata_group_sums_free(r->ctx, as->s[k]);
    STRATA_FREE_ALL(r->ctx, as->prow[0], as->prow[1]);
}

/* Every pass of every table over the blocks in row order. */
static strata_status agg_walk(run_state *r, const strata_group_params *gp, agg_sums *as)
{
    agg_block ab;
    strata_status st = agg_open(r, &ab);
    for (int pass = 0; st == STRATA_OK && pass < 2; pass++)
        for (size_t r0 = 0; st == STRATA_OK && (r0 < r->n || (r0 == 0 && !r->n)); r0 += ab.cap) {
            size_t b = r->n - r0 < ab.cap ? r->n - r0 : ab.cap;
            int32_t *g[3] = {ab.code[0], ab.code[1], ab.code[2]};
            st = agg_read(r, &ab, r0, b);
            if (st == STRATA_OK && pass == 0 && r0 == 0 && !as->s[0])
                st = agg_sums_new(r, gp, as, &ab.in);
            for (int k = 0; k < 6 && st == STRATA_OK; k++)
                if (as->s[k] && pass < strata_group_sums_passes(as->s[k]))
                    st = strata_group_sums_add(r->ctx, as->s[k], pass, r0, &ab.in, g[k < 3 ? k : 0]);
            if (st == STRATA_OK && pass == 1 && as->prow[0])
                parent_rows(g[1], r->practice.n_levels, g[0], b, as->prow[0]);
            if (st == STRATA_OK && pass == 1 && as->prow[1])
                parent_rows(g[0], r->pcn.n_levels, g[2], b, as->prow[1]);
            if (!r->n)
                break;
        }
    agg_close(r, &ab);
    return st;
}

/* Every published table as CSV, then all of them in aggregates.h5. */
static strata_status write_tables(run_state *r, strata_table **set, const char *const *names,
                                  size_t n)
{
    char path[4096];
    for (size_t k = 0; k < n; k++) {
        char file[96];
        snprintf(file, sizeof file, "%s.csv", names[k]);
        STRATA_TRY(write_table(r, set[k], file));
    }
    out_path(r, "aggregates.h5", path, sizeof path);
    STRATA_TRY(strata_tables_write_h5(r->ctx, set, names, n, path));
    return strata_manifest_output(r->man, "aggregates.h5", "aggregate");
}

/* Every aggregate table, built but not yet published, with its file name:
 * the group sums from aggregation's inputs block by block (agg_walk), the
 * per-patient columns never whole. */
static strata_status build_tables(run_state *r, strata_table **set, const char **names, size_t *n)
{
    strata_ctx *ctx = r->ctx;
    strata_group_params gp;
    agg_sums as;
    strata_table **out[6] = {&r->summary, &r->practice_tab, &r->icb_tab, &r->c20p5,
                             &r->inequality, &r->sii};
    static const char *const file[6] = {"pcn_summary", "practice_summary", "icb_summary",
                                        "core20plus5", "inequality", "sii"};
    strata_status st;
    strata_group_params_init(&gp);
    gp.budget = r->spec->budget;
    {
        strata_family fam = eval_family(r->model);
        gp.measure = fam == STRATA_FAMILY_GAMMA || fam == STRATA_FAMILY_GAUSSIAN;
    }
    /* SII confidence intervals by simulation: 10,000 draws per group (PHE's
     * default is 100,000; with ~1,300 PCNs that alone would take a minute). The
     * Monte Carlo error of a 2.5% quantile from 10,000 draws is ~0.3% of the
     * interval's width. */
    gp.sii.reps = 10000;
    gp.funnel.od = !strcmp(r->spec->funnel_od, "winsorise") ? STRATA_OD_WINSORISE
                   : !strcmp(r->spec->funnel_od, "shmi")    ? STRATA_OD_SHMI
                                                            : STRATA_OD_NONE;
    memset(&as, 0, sizeof as);
    *n = 0;
    st = agg_walk(r, &gp, &as);
    for (int k = 0; k < 6 && st == STRATA_OK; k++) {
        if (!as.s[k])
            continue;
        st = strata_group_sums_table(ctx, as.s[k], as.by[k]->levels, NULL, out[k]);
        if (st == STRATA_OK && k == 1)
            st = link_parent(r, r->practice_tab, r->summary, as.prow[0]);
        if (st == STRATA_OK && k == 2)
            st = link_parent(r, r->summary, r->icb_tab, as.prow[1]);
        names[*n] = file[k], set[(*n)++] = *out[k];
    }
    agg_sums_free(r, &as);
    return st;
}

/* Row map of rows of `from` (key column kc) onto the rows of group table `to`
 * with the same key (the "all" row onto "ALL"). */
static strata_status key_rows(strata_ctx *ctx, const strata_table *from, int kc,
                              const strata_table *to, int32_t *map)
{
    size_t nt = strata_table_nrows(to), nv = 0;
    strata_keyrow *v = strata_alloc(ctx, (nt + 1) * sizeof *v);
    if (!v)
        return STRATA_ENOMEM;
    for (size_t r = 0; r < nt; r++) /* to's keys sorted once: O(rows log rows), not a scan a row */
        if (strata_table_key(to, 0, r))
            v[nv++] = (strata_keyrow){strata_table_key(to, 0, r), r};
    strata_keyrow_sort(v, nv);
    for (size_t i = 0; i < strata_table_nrows(from); i++) {
        const char *k = strata_table_key(from, kc, i);
        size_t f = k ? strata_keyrow_find(v, nv, k) : (size_t)-1;
        if (k && !strcmp(k, "all")) { /* the overall row: "all" or "ALL", the first */
            size_t g = strata_keyrow_find(v, nv, "ALL");
            f = g < f ? g : f;
        }
        map[i] = f == (size_t)-1 ? -1 : (int32_t)f;
    }
    strata_free(ctx, v, 0);
    return STRATA_OK;
}

static strata_status same_cols(strata_ctx *ctx, strata_table *a, const char *ca, strata_table *b,
                               const char *cb, const int32_t *map)
{
    int ja = strata_table_find(a, ca), jb = strata_table_find(b, cb);
    strata_col_kind ka = strata_table_col_kind(a, ja), kb = strata_table_col_kind(b, jb);
    if (ja < 0 || jb < 0 || (ka != STRATA_COL_COUNT && ka != STRATA_COL_TOTAL) ||
        (kb != STRATA_COL_COUNT && kb != STRATA_COL_TOTAL))
        return STRATA_OK; /* a cost's sums are not counts: nothing to keep together */
    return strata_table_same(ctx, a, ja, b, jb, map);
}

/* A fairness level that is a row or a cell of another table is the same
 * number there (pcn/practice/icb rows; IMD quintile and ethnicity cells of
 * the inequality table's ALL row), and Core20 is IMD quintile 1: declared so
 * disclosure withholds them together. */
static strata_status declare_same(run_state *r, int32_t *map)
{
    strata_ctx *ctx = r->ctx;
    static const char *const pairs[3][2] = {{"n", "n_list"}, {"observed", "n_observed_list"},
                                            {"expected", "expected_list"}};
    if (r->summary && r->inequality) {
        for (size_t i = 0; i < strata_table_nrows(r->summary); i++)
            map[i] = (int32_t)i;
        STRATA_TRY(same_cols(ctx, r->summary, "n_core20", r->inequality, "n_imdq1", map));
    }
    for (size_t k = 0; k < r->n_fair; k++) {
        strata_table *f = r->fair_parts[k], *to = NULL;
        size_t nr = strata_table_nrows(f);
        const char *by = nr > 1 ? strata_table_key(f, 0, 1) : "all";
        to = !strcmp(by, "pcn") ? r->summary : !strcmp(by, "practice") ? r->practice_tab
             : !strcmp(by, "icb") ? r->icb_tab : r->summary;
        if (!to)
            continue;
        STRATA_TRY(key_rows(ctx, f, 1, to, map));
        if (to == r->summary && strcmp(by, "pcn") != 0)
            for (size_t i = 1; i < nr; i++)
                map[i] = -1; /* only the "all" row is a summary row */
        /* the evaluation's n is the scored patients: the list size only when all are */
        for (int q = r->sum->n_unscored ? 1 : 0; q < 3; q++)
            STRATA_TRY(same_cols(ctx, f, pairs[q][0], to, pairs[q][1], map));
        if (r->inequality && (!strcmp(by, "imd_quintile") || !strcmp(by, "ethnicity")))
            for (size_t i = 1; i < nr; i++) {
                const char *lev = strata_table_key(f, 1, i);
                char sfx[160], a[200];
                if (!strcmp(by, "imd_quintile"))
                    snprintf(sfx, sizeof sfx, "_imdq%c", lev[0]);
                else
                    snprintf(sfx, sizeof sfx, "_eth_%s", !strcmp(lev, "NA") ? "unknown" : lev);
                for (size_t z = 0; z < nr; z++)
                    map[z] = z == i ? (int32_t)(strata_table_nrows(r->inequality) - 1) : -1;
                for (int q = r->sum->n_unscored ? 1 : 0; q < 3; q++) {
                    snprintf(a, sizeof a, "%s%s", q == 0 ? "n" : q == 1 ? "n_observed" : "expected", sfx);
                    STRATA_TRY(same_cols(ctx, f, pairs[q][0], r->inequality, a, map));
                }
            }
    }
    return STRATA_OK;
}

/* The funnel as published: method, phi and tau^2 fitted on the published O
 * and E, and the PCNs outside the limits, named. */
static strata_status manifest_funnel(run_state *r)
{
    const strata_table *t = r->summary;
    int jf = strata_table_find(t, "funnel_flag");
    char out[2048] = "";
    size_t len = 0, n = 0;
    for (size_t i = 0; i + 1 < strata_table_nrows(t); i++) {
        double fl = strata_table_value(t, jf, i);
        int k;
        if (isnan(fl) || fl == 0)
            continue;
        k = snprintf(out + len, sizeof out - len, "%s%s (%s %s limit)", n ? "; " : "",
                     strata_table_key(t, 0, i), fl > 0 ? "above" : "below",
                     fabs(fl) >= 2 ? "99.8%" : "95%");
        len = k > 0 && len + (size_t)k < sizeof out ? len + (size_t)k : len;
        n++;
    }
    STRATA_TRY(strata_manifest_str(r->man, "funnel.method",
                                   r->funnel.od == STRATA_OD_SHMI        ? "shmi (truncated z)"
                                   : r->funnel.od == STRATA_OD_WINSORISE ? "winsorised z"
                                                                         : "exact Poisson"));
    STRATA_TRY(strata_manifest_num(r->man, "funnel.phi", r->funnel.phi));
    STRATA_TRY(strata_manifest_num(r->man, "funnel.tau2", r->funnel.tau2));
    STRATA_TRY(strata_manifest_int(r->man, "funnel.units", (long long)r->funnel.k));
    STRATA_TRY(strata_manifest_int(r->man, "funnel.n_outliers", (long long)n));
    return strata_manifest_str(r->man, "funnel.outliers", out);
}

/* Build every aggregate table, then disclose them as one set so a cell
 * withheld in one table cannot be recovered from another (the same counts by
 * PCN appear in the summary and the inequality table; practices sum into PCNs
 * and PCNs into the ICB; the fairness levels are partitions of everyone). */
static strata_status stage_aggregate(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_sdc_params sp;
    strata_table *tabs[8], **set;
    const char *names[8];
    size_t n = 0;
    strata_status st;
    STRATA_TRY(build_tables(r, tabs, names, &n));
    {
        size_t most = strata_table_nrows(r->summary);
        int32_t *map;
        strata_status s2;
        for (size_t k = 0; k < r->n_fair; k++)
            most = strata_table_nrows(r->fair_parts[k]) > most ? strata_table_nrows(r->fair_parts[k]) : most;
        if (!(map = strata_alloc(ctx, (most + 1) * sizeof *map)))
            return STRATA_ENOMEM;
        s2 = declare_same(r, map);
        strata_free(ctx, map, 0);
        STRATA_TRY(s2);
    }
    set = strata_calloc(ctx, n + r->n_fair + 1, sizeof *set);
    if (!set)
        return STRATA_ENOMEM;
    memcpy(set, tabs, n * sizeof *set);
    for (size_t k = 0; k < r->n_fair; k++)
        set[n + k] = r->fair_parts[k];
    sdc_from_spec(r->spec, &sp);
    st = strata_disclose_set(ctx, &sp, n + r->n_fair, set);
    if (st == STRATA_OK && r->n_fair)
        st = strata_eval_fairness_publish(ctx, r->eval, r->n_fair, r->fair_parts, &r->fairness);
    if (st == STRATA_OK && r->fairness) {
        names[n] = "fairness";
        set[n++] = r->fairness;
    }
    if (st == STRATA_OK && !strata_table_funnel(r->summary, &r->funnel))
        memset(&r->funnel, 0, sizeof r->funnel);
    if (st == STRATA_OK && strata_table_find(r->summary, "funnel_flag") >= 0)
        st = manifest_funnel(r);
    if (st == STRATA_OK)
        st = write_tables(r, set, names, n);
    strata_free(ctx, set, 0);
    STRATA_TRY(st);
    r->sum->n_pcn = r->pcn.n_levels;
    /* what no later stage reads: the outcome, the clinical areas */
    STRATA_FREE_ALL(ctx, r->obs, r->c5_mask);
    r->obs = NULL, r->c5_mask = NULL;
    return stage_done(r, "aggregate");
}

/* ---- patient-level outputs (owner-only) ---------------------------------- */
/* Read block by block (docs/scale.md, "The run's memory by stage"): the risk
 * and stratification's outputs from memory or the values' file, the PCN,
 * practice and IMD decile from the cohort, the ids from the cohort; the
 * intervention list chosen from row blocks (strata_intervention_select_source)
 * and its rows gathered for its rows only. No array of n patients here. */

static const char *level(const codes *c, const int32_t *v, size_t j)
{
    return (v && v[j] >= 0 && (size_t)v[j] < c->n_levels) ? c->levels[v[j]] : "";
}

/* A block of rows from r0 (pf_values): the risk, stratification's outputs
 * and the cohort's PCN, practice and IMD decile (NULL: the cohort has none). */
typedef struct pf_vals {
    size_t r0;
    const double *risk;
    const int32_t *pcn, *practice, *imd;
    const uint8_t *tier, *segment;
    const int8_t *frailty, *ltc;
    const int16_t *charlson;
} pf_vals;

#define PF_ROW_BYTES 26 /* pf_values' buffer a row: risk 8, three codes 12, outputs 6 */

/* Rows [r0, r0 + b) of the values: in memory, or read into buf (PF_ROW_BYTES x b). */
static strata_status pf_values(run_state *r, size_t r0, size_t b, unsigned char *buf, pf_vals *v)
{
    const void *p[6];
    const int col[6] = {PV_RISK, PV_TIER, PV_SEGMENT, PV_FRAILTY, PV_LTC, PV_CHARLSON}; /* charlson (2 bytes) last */
    const long cc[3] = {r->pcn.col, r->practice.col, r->imd_col};
    int32_t *cv = (int32_t *)(void *)(buf + 8 * b);
    const int32_t **dst[3] = {&v->pcn, &v->practice, &v->imd};
    unsigned char *o = buf + 20 * b;
    STRATA_TRY(pv_block(r, PV_RISK, r0, b, buf, &p[0]));
    for (int k = 1; k < 6; k++)
        STRATA_TRY(pv_block(r, col[k], r0, b, o + (size_t)(k - 1) * b, &p[k]));
    for (int k = 0; k < 3; k++) {
        *dst[k] = cc[k] >= 0 ? cv + (size_t)k * b : NULL;
        if (cc[k] >= 0)
            STRATA_TRY(strata_cohort_read_i32(r->ctx, r->cohort, (size_t)cc[k], r0, b, cv + (size_t)k * b));
    }
    v->r0 = r0;
    v->risk = p[0];
    v->tier = p[1], v->segment = p[2], v->frailty = p[3], v->ltc = p[4], v->charlson = p[5];
    return STRATA_OK;
}

/* One row of patients.csv: the columns of strata_list_table's intervention
 * list without rank, IMD decile and reasons, formatted the same way. */
static void patient_cols(FILE *f, const run_state *r, const pf_vals *v, size_t i)
{
    size_t j = i - v->r0;
    int fr = v->frailty[j];
    fprintf(f, "%lld,", (long long)r->id[i - r->id0]);
    strata_csv_field(f, level(&r->pcn, v->pcn, j));
    fputc(',', f);
    strata_csv_field(f, level(&r->practice, v->practice, j));
    if (isnan(v->risk[j])) /* unscored: no risk, no tier */
        fputs(",,", f);
    else
        fprintf(f, ",%.9g,%d", v->risk[j], v->tier[j]);
    fprintf(f, ",%s,%s,%d,%d,%d", strata_segment_name(v->segment[j]),
            fr >= 0 ? strata_frailty_name(fr) : "", v->ltc[j], v->charlson[j],
            v->imd && v->imd[j] >= 1 && v->imd[j] <= 10 ? strata_core20(v->imd[j]) : 0);
}

#define PF_CHUNK 16384 /* patients.csv rows a thread formats at a time (at most) */

static size_t longest_level(const codes *c)
{
    size_t m = 0;
    for (size_t k = 0; c->levels && k < c->n_levels; k++)
        if (c->levels[k] && strlen(c->levels[k]) > m)
            m = strlen(c->levels[k]);
    return m;
}

/* Rows a thread formats at a time: PF_CHUNK, or under the budget rule (the
 * values on file) the T threads' text buffers within an eighth of the budget. */
static size_t pf_chunk(const run_state *r, size_t row, int T)
{
    size_t c = PF_CHUNK;
    if (r->pv) {
        c = strata_ctx_memory_budget(r->ctx) / 8 / ((size_t)T * (row + PF_ROW_BYTES + 8));
        c = c < 16 ? 16 : c > PF_CHUNK ? PF_CHUNK : c;
    }
    return c;
}

/* patients.csv's rows in parallel: each thread formats a chunk of rows with
 * patient_cols into its own buffer (a stream over a context allocation
 * sized for the longest row the columns allow), and the chunks are written
 * in row order: the bytes of a one-thread write, formatted T times faster
 * (64 M rows are ~4.6 GB of text), whatever the chunk. */
static strata_status write_patient_rows(run_state *r, FILE *f)
{
    strata_ctx *ctx = r->ctx;
    const int T = strata_threads(ctx);
    /* id 20, the two levels quoted with every quote doubled and a guard,
     * risk (%.9g) 16, tier, segment and frailty names, three ints, commas, CRLF */
    const size_t row = 256 + 2 * (longest_level(&r->pcn) + longest_level(&r->practice));
    const size_t chunk = pf_chunk(r, row, T), cap = row * chunk, step = (size_t)T * chunk;
    char *buf = strata_alloc(ctx, (size_t)T * cap);
    size_t *len = strata_calloc(ctx, (size_t)T, sizeof *len);
    unsigned char *vbuf = strata_alloc(ctx, PF_ROW_BYTES * step);
    int bad = buf && len && vbuf ? 0 : 1;
    for (size_t r0 = 0; r0 < r->n && !bad; r0 += step) {
        size_t rows = r->n - r0 < step ? r->n - r0 : step;
        pf_vals v;
        strata_status st = read_ids(r, r0, rows);
        if (st == STRATA_OK)
            st = pf_values(r, r0, rows, vbuf, &v);
        if (st != STRATA_OK) {
            STRATA_FREE_ALL(ctx, buf, len, vbuf);
            return st;
        }
#pragma omp parallel for num_threads(T) schedule(static, 1) reduction(| : bad)
        for (int t = 0; t < T; t++) {
            size_t a = r0 + (size_t)t * chunk, b = a + chunk < r0 + rows ? a + chunk : r0 + rows;
            FILE *m;
            long pos;
            len[t] = 0;
            if (a >= r0 + rows)
                continue;
            if (!(m = fmemopen(buf + (size_t)t * cap, cap, "w"))) {
                bad |= 1;
                continue;
            }
            for (size_t i = a; i < b; i++) {
                patient_cols(m, r, &v, i);
                fputs("\r\n", m);
            }
            pos = ftell(m);
            bad |= ferror(m) || pos < 0 || (size_t)pos >= cap;
            bad |= fclose(m) != 0;
            len[t] = pos > 0 ? (size_t)pos : 0;
        }
        for (int t = 0; t < T && !bad; t++)
            if (len[t] && fwrite(buf + (size_t)t * cap, 1, len[t], f) != len[t])
                bad = 2;
    }
    STRATA_FREE_ALL(ctx, buf, len, vbuf);
    if (bad == 2)
        return STRATA_FAIL(ctx, STRATA_EIO, "patients.csv: cannot write: %s", strerror(errno));
    return bad ? STRATA_FAIL(ctx, STRATA_ENOMEM, "patients.csv: out of memory formatting its rows")
               : STRATA_OK;
}

/* People offered proactive care per PCN (the intervention list's rows, pcn[k]
 * the PCN of list row k) and over all PCNs (the last row, their total),
 * published through the disclosure path with the run's rules: the PCN packs,
 * the report's finding and --json print these, never the exact count. */
static strata_status offers_table(run_state *r, const int32_t *pcn, size_t n_sel)
{
    strata_ctx *ctx = r->ctx;
    size_t ng = r->pcn.n_levels;
    strata_sdc_params sp;
    double *n;
    int jg, jn;
    strata_status st;
    STRATA_TRY(strata_table_new(ctx, "offers", ng + 1, &r->offers));
    STRATA_TRY(strata_table_add(ctx, r->offers, "group", STRATA_COL_KEY, 0, -1, -1, &jg));
    STRATA_TRY(strata_table_add(ctx, r->offers, "n_offered", STRATA_COL_COUNT, 0, -1, -1, &jn));
    if (!(n = strata_calloc(ctx, ng + 1, sizeof *n)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < n_sel; k++) {
        int32_t g = pcn[k];
        if (g >= 0 && (size_t)g < ng)
            n[g] += 1, n[ng] += 1;
    }
    st = strata_table_set_key(ctx, r->offers, jg, ng, "ALL");
    for (size_t g = 0; g <= ng && st == STRATA_OK; g++) {
        if (g < ng)
            st = strata_table_set_key(ctx, r->offers, jg, g, r->pcn.levels[g]);
        if (st == STRATA_OK)
            st = strata_table_set(ctx, r->offers, jn, g, n[g]);
        if (st == STRATA_OK && g < ng)
            st = strata_table_set_total_row(ctx, r->offers, g, ng);
    }
    strata_free(ctx, n, 0);
    STRATA_TRY(st);
    sdc_from_spec(r->spec, &sp);
    return strata_disclose(ctx, &sp, r->offers);
}

/* The risks of rows [r0, r0 + b) (run_reasons: NaN = unscored), from memory or the file. */
static strata_status risk_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *buf,
                               const double **risk)
{
    const void *p;
    (void)ctx;
    STRATA_TRY(pv_block(ud, PV_RISK, r0, b, buf, &p));
    *risk = p;
    return STRATA_OK;
}

/* Reasons of the listed patients as text (engine/run/run_reasons.c): the
 * scored patients' mean from the risks in blocks, within an eighth of the
 * budget under the budget rule. */
static strata_status list_reasons(run_state *r, const size_t *sel, size_t n_sel, char ***text)
{
    size_t mem = r->pv ? strata_ctx_memory_budget(r->ctx) / 8 : 0;
    return run_reasons(r->ctx, r->model, r->cox, r->cohort, risk_read, r, r->n - r->sum->n_unscored,
                       mem, sel, n_sel, N_REASONS, text, NULL, NULL);
}

typedef struct sel_row {
    size_t row, k;
} sel_row;

static int by_row(const void *a, const void *b)
{
    size_t x = ((const sel_row *)a)->row, y = ((const sel_row *)b)->row;
    return x < y ? -1 : x > y;
}

/* The intervention list's columns at its rows, list row k at index k
 * (rows[k] -> k): read block by block (only the blocks that hold a listed
 * row; blocks of agg_rows) from memory, the values' file and the cohort. */
typedef struct list_vals {
    size_t *k;                   /* 0..n_sel-1: the rows of the compacted columns */
    int64_t *id;
    double *risk;
    int32_t *pcn, *practice, *imd;
    uint8_t *tier, *segment;
    int8_t *frailty, *ltc;
    int16_t *charlson;
} list_vals;

static void gather_row(run_state *r, const pf_vals *pv, size_t j, size_t k, list_vals *lv)
{
    lv->id[k] = r->id[j];
    lv->risk[k] = pv->risk[j];
    lv->pcn[k] = pv->pcn[j];
    if (lv->practice)
        lv->practice[k] = pv->practice[j];
    if (lv->imd)
        lv->imd[k] = pv->imd[j];
    lv->tier[k] = pv->tier[j], lv->segment[k] = pv->segment[j];
    lv->frailty[k] = pv->frailty[j], lv->ltc[k] = pv->ltc[j];
    lv->charlson[k] = pv->charlson[j];
}

static strata_status list_gather(run_state *r, size_t n_sel, const size_t *rows, list_vals *lv)
{
    strata_ctx *ctx = r->ctx;
    size_t m = n_sel ? n_sel : 1, B = agg_rows(r);
    sel_row *v = strata_alloc(ctx, m * sizeof *v);
    unsigned char *buf = strata_alloc(ctx, PF_ROW_BYTES * B);
    strata_status st;
    memset(lv, 0, sizeof *lv);
    lv->k = strata_alloc(ctx, m * (sizeof *lv->k + 8 + 8 + 3 * 4 + 2 + 4));
    st = v && buf && lv->k ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK) {
        lv->id = (int64_t *)(void *)(lv->k + m);
        lv->risk = (double *)(void *)(lv->id + m);
        lv->pcn = (int32_t *)(void *)(lv->risk + m);
        lv->practice = r->practice.col >= 0 ? lv->pcn + m : NULL;
        lv->imd = r->imd_col >= 0 ? lv->pcn + 2 * m : NULL;
        lv->charlson = (int16_t *)(void *)(lv->pcn + 3 * m);
        lv->tier = (uint8_t *)(lv->charlson + m);
        lv->segment = lv->tier + m;
        lv->frailty = (int8_t *)(lv->segment + m);
        lv->ltc = lv->frailty + m;
        for (size_t k = 0; k < n_sel; k++) {
            v[k] = (sel_row){rows[k], k};
            lv->k[k] = k;
        }
        qsort(v, n_sel, sizeof *v, by_row);
    }
    for (size_t q = 0; st == STRATA_OK && q < n_sel;) {
        size_t r0 = v[q].row / B * B;
        size_t b = r->n - r0 < B ? r->n - r0 : B;
        pf_vals pv;
        st = read_ids(r, r0, b);
        if (st == STRATA_OK)
            st = pf_values(r, r0, b, buf, &pv);
        for (; st == STRATA_OK && q < n_sel && v[q].row < r0 + b; q++)
            gather_row(r, &pv, v[q].row - r0, v[q].k, lv);
    }
    STRATA_FREE_ALL(ctx, v, buf);
    free_ids(r);
    return st;
}

static const char *PATIENT_HEADER =
    "patient_id,pcn,practice,risk,tier,segment,frailty,ltc_count,charlson,core20";

/* intervention_list.csv through the library's strata_list_table (the same
 * columns as patients.csv plus rank, IMD decile and reason codes), on the
 * list's rows gathered (list_gather). */
static strata_status write_list(run_state *r, size_t n_sel, const list_vals *lv,
                                const uint32_t *rank, char *const *reasons)
{
    strata_ctx *ctx = r->ctx;
    strata_list_columns lc;
    strata_table *t = NULL;
    strata_status st;
    memset(&lc, 0, sizeof lc);
    lc.patient_id = lv->id;
    lc.risk = lv->risk;
    lc.tier = lv->tier;
    lc.segment = lv->segment;
    lc.group = lv->pcn;
    lc.group_names = r->pcn.levels;
    lc.group_label = "pcn";
    lc.practice = lv->practice;
    lc.n_practices = r->practice.n_levels;
    lc.practice_names = r->practice.levels;
    lc.frailty = lv->frailty;
    lc.ltc = lv->ltc;
    lc.charlson = lv->charlson;
    lc.imd_decile = lv->imd;
    lc.k_reasons = N_REASONS;
    lc.reason_text = (const char *const *)reasons;
    st = strata_list_table(ctx, &lc, n_sel, lv->k, rank, &t);
    if (st == STRATA_OK)
        st = write_table(r, t, "intervention_list.csv");
    strata_table_free(ctx, t);
    return st;
}

/* The IMD deciles of rows [r0, r0 + b) from the cohort (proportionate universalism). */
static strata_status imd_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, int32_t *buf,
                              const int32_t **imd)
{
    run_state *r = ud;
    *imd = buf;
    return strata_cohort_read_i32(ctx, r->cohort, (size_t)r->imd_col, r0, b, buf);
}

/* The intervention lists from the scored patients in row blocks (an unscored
 * one has no risk to rank: left out, with no copy of the others); the risk
 * and PCN read as the tiers read them (tier_read), the IMD decile from the
 * cohort. *rows (cohort rows) and *rank allocated for the list's rows only.
 * Capacity per 1,000 of the scored. */
static strata_status select_scored(run_state *r, strata_list_params *lp, size_t **rows,
                                   uint32_t **rank, size_t *n_sel)
{
    strata_list_source src;
    memset(&src, 0, sizeof src);
    src.rows.n = r->n;
    src.rows.n_groups = r->pcn.n_levels;
    src.rows.block = agg_rows(r);
    src.rows.read = tier_read;
    src.rows.ud = r;
    src.read_imd = r->imd_col >= 0 ? imd_read : NULL;
    lp->skip_nan = 1;
    return strata_intervention_select_source(r->ctx, lp, &src, rows, rank, n_sel);
}

static strata_status stage_patients(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    pfile p;
    strata_list_params lp;
    size_t *rows = NULL, n_sel = 0;
    uint32_t *rank = NULL;
    char **reasons = NULL;
    list_vals lv;
    strata_status st;

    STRATA_TRY(pfile_open(r, "patients.csv", &p));
    fprintf(p.f, "%s\r\n", PATIENT_HEADER);
    st = write_patient_rows(r, p.f);
    free_ids(r);
    if (st != STRATA_OK) { /* the temporary goes */
        fclose(p.f);
        unlink(p.tmp);
        strata_free(ctx, p.tmp, 0);
        return st;
    }
    STRATA_TRY(pfile_close(r, &p, "patients.csv"));

    strata_list_params_init(&lp);
    lp.per_group = (size_t)r->spec->capacity;
    lp.per_1000 = r->spec->capacity_per_1000;
    lp.prop_univ = r->spec->proportionate_universalism;
    STRATA_TRY(strata_list_params_check(ctx, &lp));
    memset(&lv, 0, sizeof lv);
    st = select_scored(r, &lp, &rows, &rank, &n_sel);
    if (st == STRATA_OK)
        st = list_gather(r, n_sel, rows, &lv);
    if (st == STRATA_OK)
        st = offers_table(r, lv.pcn, n_sel);
    if (st == STRATA_OK)
        st = list_reasons(r, rows, n_sel, &reasons);
    if (st == STRATA_OK)
        st = write_list(r, n_sel, &lv, rank, reasons);
    STRATA_FREE_ALL(ctx, reasons, rows, rank, lv.k);
    r->sum->n_listed = n_sel;
    STRATA_TRY(st);
    return stage_done(r, "patients");
}

/* ---- report, manifest, driver ---------------------------------------------- */

/* A count as the tables publish it: exact with control off, "< hi+1" when
 * withheld for its size, else rounded. */
static void pub_count(const strata_sdc_params *p, double v, char *buf, size_t size)
{
    if (!p->enabled)
        snprintf(buf, size, "%.0f", v);
    else if (v >= p->lo && v <= p->hi)
        snprintf(buf, size, "fewer than %.0f", p->hi + 1);
    else
        snprintf(buf, size, "%.0f", p->round_to > 1 ? floor(v / p->round_to + 0.5) * p->round_to : v);
}

/* The summary's counts as the disclosed tables publish them (for --json). */
static void published_counts(run_state *r)
{
    const strata_table *t = r->summary;
    size_t all = t ? strata_table_nrows(t) - 1 : 0;
    r->sum->pub_patients = r->sum->pub_unscored = r->sum->pub_listed = r->sum->pub_oe = NAN;
    if (t) {
        r->sum->pub_patients = strata_table_value(t, strata_table_find(t, "n_list"), all);
        r->sum->pub_unscored = strata_table_value(t, strata_table_find(t, "n_unscored_list"), all);
    }
    if (r->offers)
        r->sum->pub_listed = strata_table_value(r->offers, strata_table_find(r->offers, "n_offered"),
                                                strata_table_nrows(r->offers) - 1);
    if (r->fairness)
        r->sum->pub_oe = strata_table_value(r->fairness, strata_table_find(r->fairness, "oe"), 0);
}

static strata_status stage_report(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_report_input ri;
    strata_fit_summary fs;
    char path[4096], vals[16][200];
    const char *keys[16], *values[16];
    double cp[64], co[64];
    size_t nk = 0, nc = 0;

    if (r->model)
        strata_model_summary(r->model, &fs);
#define CARD(k, ...)                                              \
    do {                                                          \
        snprintf(vals[nk], sizeof vals[nk], __VA_ARGS__);         \
        keys[nk] = k;                                             \
        values[nk] = vals[nk];                                    \
        nk++;                                                     \
    } while (0)
    {
        /* the card is published: its counts are rounded like the tables' ("fewer than 8") */
        char used[32], dropped[32], events[32];
        if (r->cox) {
            strata_cox_summary cs;
            strata_cox_summary_get(r->cox, &cs);
            pub_count(&r->sum->sdc, (double)cs.n_used, used, sizeof used);
            pub_count(&r->sum->sdc, (double)cs.n_dropped, dropped, sizeof dropped);
            pub_count(&r->sum->sdc, (double)cs.n_events, events, sizeof events);
            CARD("Model", "Cox PH (%s ties): absolute risk by %g",
                 cs.ties == STRATA_COX_BRESLOW ? "Breslow" : "Efron", r->spec->horizon);
            CARD("Formula", "%.120s", cs.formula ? cs.formula : "");
            CARD("Patients fitted", "%s, %s events (dropped for missing values: %s)", used, events,
                 dropped);
            CARD("Newton-Raphson iterations", "%d%s", cs.iterations,
                 cs.converged ? "" : " (not converged)");
            CARD("Harrell's C (fitted data)", "%.3f", cs.concordance);
            for (size_t k = 0; r->elnet && run_elnet_card(r->elnet, r->spec, k, &keys[nk], vals[nk], sizeof vals[nk]); k++)
                values[nk] = vals[nk], nk++;
        } else {
            pub_count(&r->sum->sdc, (double)fs.n_used, used, sizeof used);
            pub_count(&r->sum->sdc, (double)fs.n_dropped, dropped, sizeof dropped);
            CARD("Model", "%s GLM", strata_family_name(fs.family));
            CARD("Formula", "%.120s", fs.formula ? fs.formula : "");
            CARD("Patients fitted", "%s (dropped for missing values: %s)", used, dropped);
            CARD("IRLS iterations", "%d%s", fs.iterations, fs.converged ? "" : " (not converged)");
            CARD("AIC", "%.1f", fs.aic);
            for (size_t k = 0; r->elnet && run_elnet_card(r->elnet, r->spec, k, &keys[nk], vals[nk], sizeof vals[nk]); k++)
                values[nk] = vals[nk], nk++;
        }
    }
    if (r->eval) {
        const strata_eval_metrics *m = &r->eval->overall;
        const strata_table *fa = r->fairness;
#define FV(col) strata_table_value(fa, strata_table_find(fa, col), 0)
        CARD("C-statistic (95% CI)", "%.3f (%.3f to %.3f)", m->c, m->c_lo, m->c_hi);
        /* O/E as published: from the published observed and expected counts */
        if (fa && !isnan(FV("oe")))
            CARD("Observed / expected", "%.3f (%.3f to %.3f)", FV("oe"), FV("oe_lo"), FV("oe_hi"));
#undef FV
        CARD("Calibration slope", "%.3f (%.3f to %.3f)", m->slope, m->slope_lo, m->slope_hi);
        CARD("Brier score (scaled)", "%.4f (%.3f)", m->brier, m->brier_scaled);
        if (r->boot)
            CARD("Optimism-corrected C / slope", "%.3f / %.3f (bootstrap, B = %d, seed %llu)",
                 r->boot->corrected.c, r->boot->corrected.slope, r->boot->B,
                 (unsigned long long)r->boot->seed);
        for (int b = 0; b < m->n_bins && nc < 64; b++)
            if (m->bins[b].n > 0) {
                cp[nc] = m->bins[b].expected / m->bins[b].n;
                co[nc] = m->bins[b].observed / m->bins[b].n;
                nc++;
            }
    }
#undef CARD
    memset(&ri, 0, sizeof ri);
    ri.title = r->spec->title;
    ri.summary = r->summary;
    ri.inequality = r->inequality;
    ri.sii = r->sii;
    ri.fairness = r->fairness;
    ri.funnel = &r->funnel;
    ri.n_calib = nc;
    ri.calib_pred = cp;
    ri.calib_obs = co;
    ri.n_card = nk;
    ri.card_keys = keys;
    ri.card_values = values;
    ri.n_listed = r->sum->n_listed;
    ri.sdc = &r->sum->sdc;
    ri.elnet = r->elnet;
    out_path(r, "report.html", path, sizeof path);
    ri.offers = r->offers;
    STRATA_TRY(strata_report_html(ctx, &ri, path));
    STRATA_TRY(strata_manifest_output(r->man, "report.html", "aggregate"));
    snprintf(r->sum->report, sizeof r->sum->report, "%s", path);
    if (r->spec->per_pcn) {
        out_path(r, "pcn_packs.html", path, sizeof path);
        STRATA_TRY(strata_report_pcn_packs(ctx, &ri, path));
        STRATA_TRY(strata_manifest_output(r->man, "pcn_packs.html", "aggregate"));
    }
    { /* outputs.xlsx, aggregates_long.csv, patient_lists.xlsx (engine/report/report_tables.c) */
        const strata_table *t[] = {r->summary, r->practice_tab, r->icb_tab, r->inequality, r->sii, r->fairness};
        const char *tn[] = {"pcn_summary", "practice_summary", "icb_summary", "inequality", "sii", "fairness"};
        strata_office_input oi = {r->spec->title, 6, t, tn, NULL, NULL, NULL};
        strata_office_files of;
        oi.sdc = &r->sum->sdc;
        out_path(r, "intervention_list.csv", path, sizeof path);
        oi.patient_csv = access(path, R_OK) == 0 ? path : NULL;
        STRATA_TRY(strata_write_office(ctx, &oi, r->outdir, &of));
        for (size_t k = 0; k < of.n; k++)
            STRATA_TRY(strata_manifest_output(r->man, of.file[k], of.patient_level[k] ? "patient" : "aggregate"));
    }
    published_counts(r);
    return stage_done(r, "report");
}

static void run_free(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    free_stratify_inputs(r);
    free_ids(r);
    strata_free(ctx, r->risk, 0);
    strata_free(ctx, r->obs, 0);
    strata_free(ctx, r->tier, 0);
    strata_free(ctx, r->segment, 0);
    strata_free(ctx, r->frailty, 0);
    strata_free(ctx, r->ltc, 0);
    strata_free(ctx, r->charlson, 0);
    strata_eval_report_free(ctx, r->eval);
    if (r->boot) {
        strata_bootstrap_result_free(ctx, r->boot);
        strata_free(ctx, r->boot, 0);
    }
    strata_table_free(ctx, r->summary);
    strata_table_free(ctx, r->practice_tab);
    strata_table_free(ctx, r->icb_tab);
    strata_table_free(ctx, r->inequality);
    strata_table_free(ctx, r->sii);
    strata_table_free(ctx, r->fairness);
    strata_table_free(ctx, r->offers);
    strata_table_free(ctx, r->c20p5);
    strata_free(ctx, r->c5_mask, 0);
    strata_scratch_close(ctx, r->pv);
    for (size_t k = 0; k < r->n_fair; k++)
        strata_table_free(ctx, r->fair_parts[k]);
    strata_free(ctx, r->fair_parts, 0);
    strata_model_free(ctx, r->model);
    strata_elnet_free(ctx, r->elnet);
    strata_cox_free(ctx, r->cox);
    strata_cohort_close(r->cohort);
    strata_manifest_free(r->man);
}

/* The rules every aggregate output was published under, as numbers and as
 * the sentence the report, the workbook and the CLI print. */
static strata_status manifest_rules(run_state *r)
{
    char text[512];
    sdc_from_spec(r->spec, &r->sum->sdc);
    strata_sdc_describe(&r->sum->sdc, text, sizeof text);
    STRATA_TRY(strata_manifest_int(r->man, "disclosure.enabled", r->sum->sdc.enabled));
    STRATA_TRY(strata_manifest_num(r->man, "disclosure.suppress_min", r->sum->sdc.lo));
    STRATA_TRY(strata_manifest_num(r->man, "disclosure.suppress_max", r->sum->sdc.hi));
    STRATA_TRY(strata_manifest_num(r->man, "disclosure.round_to", r->sum->sdc.round_to));
    STRATA_TRY(strata_manifest_int(r->man, "disclosure.complementary", r->sum->sdc.secondary));
    return strata_manifest_str(r->man, "disclosure.rules", text);
}

/* Every output staged: their SHA-256 into the manifest, the manifest beside
 * them, then all moved into the output folder, manifest last
 * (engine/io/rundir.c). */
static strata_status publish_run(run_state *r)
{
    char path[4096];
    size_t n = strata_manifest_n_outputs(r->man);
    const char **names;
    strata_status st;
    STRATA_TRY(strata_manifest_hash_outputs(r->man, r->outdir));
    out_path(r, "manifest.json", path, sizeof path);
    STRATA_TRY(strata_manifest_write(r->man, path));
    if (!(names = strata_calloc(r->ctx, n + 1, sizeof *names)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < n; k++)
        names[k] = strata_manifest_output_path(r->man, k);
    st = strata_rundir_publish(r->ctx, r->dir, n, names, "manifest.json");
    strata_free(r->ctx, (void *)names, 0);
    if (st == STRATA_OK)
        snprintf(r->sum->report, sizeof r->sum->report, "%.4000s/report.html",
                 r->dir->final_dir);
    return st;
}

static strata_status run_stages(run_state *r)
{
    const strata_run_spec *spec = r->spec;
    strata_status st = strata_manifest_new(r->ctx, &r->man);
    if (st == STRATA_OK)
        st = strata_manifest_str(r->man, "spec.family", spec->family);
    if (st == STRATA_OK && spec->formula)
        st = strata_manifest_str(r->man, "spec.formula", spec->formula);
    if (st == STRATA_OK)
        st = strata_manifest_str(r->man, "spec.charlson_weights", charlson_name(spec));
    if (st == STRATA_OK)
        st = strata_manifest_int(r->man, "seeds.run", spec->seed);
    if (st == STRATA_OK && strata_ctx_comm(r->ctx)) {
        /* the rank and thread layout (docs/scale.md#mpi); absent with one process */
        const strata_comm *cm = strata_ctx_comm(r->ctx);
        st = strata_manifest_int(r->man, "mpi.ranks", strata_ctx_comm(r->ctx)->size);
        if (st == STRATA_OK)
            st = strata_manifest_int(r->man, "mpi.threads_per_rank", strata_threads(r->ctx));
        if (st == STRATA_OK)
            st = strata_manifest_int(r->man, "mpi.nodes", cm->nodes);
        if (st == STRATA_OK)
            st = strata_manifest_str(r->man, "mpi.layout", cm->layout ? cm->layout : "unknown");
        if (st == STRATA_OK)
            st = strata_manifest_str(r->man, "mpi.launcher", cm->launcher ? cm->launcher : "unknown");
        if (st == STRATA_OK)
            st = strata_manifest_str(r->man, "mpi.distributed", "synth, validation, derive, the model fit (GLM, Cox, the elastic net and its CV) and the scores; other stages on rank 0");
    }
    if (st == STRATA_OK)
        st = manifest_rules(r);
    if (st == STRATA_OK)
        st = stage_cohort(r);
    if (st == STRATA_OK)
        st = stage_model(r);
    if (st == STRATA_OK)
        st = stage_score(r);
    if (st == STRATA_OK)
        st = stage_evaluate(r);
    if (st == STRATA_OK)
        st = stage_stratify(r);
    if (st == STRATA_OK)
        st = stage_aggregate(r);
    if (st == STRATA_OK)
        st = stage_patients(r);
    if (st == STRATA_OK)
        st = stage_report(r);
    if (st == STRATA_OK) {
        r->sum->n_patients = r->n;
        st = publish_run(r);
    }
    return st;
}

strata_status strata_run(strata_ctx *ctx, const strata_run_spec *spec, const char *outdir,
                         strata_progress_fn progress, void *ud, strata_run_summary *sum)
{
    strata_ctx run_ctx;
    run_state r;
    strata_rundir dir;
    strata_status st;
    memset(sum, 0, sizeof *sum);
    if (strata_ctx_comm(ctx) && strata_ctx_comm(ctx)->rank != 0) {
        /* a helper rank: no folder, no outputs; serves rank 0's collective steps */
        run_ctx = *ctx;
        if (spec->threads > 0)
            run_ctx.threads = (int)spec->threads;
        sum->threads = strata_threads(&run_ctx);
        st = run_serve(&run_ctx);
        ctx->last_status = run_ctx.last_status;
        memcpy(ctx->errmsg, run_ctx.errmsg, sizeof ctx->errmsg);
        return st;
    }
    /* the folder locked, a killed run's leftovers removed, a used folder
     * refused unless spec->overwrite, a 0700 staging folder inside it */
    if ((st = strata_rundir_begin(ctx, outdir, spec->overwrite, &dir)) != STRATA_OK) {
        run_release(ctx);
        return st;
    }
    /* The run works on its own context: the caller's allocator, log and
     * settings, with the spec's thread count for this run only, so the
     * caller's ctx keeps its own setting. The outcome (status, message,
     * warnings) is handed back below. */
    run_ctx = *ctx;
    run_ctx.stage_dir = dir.stage, run_ctx.final_dir = dir.final_dir;
    if (spec->threads > 0)
        run_ctx.threads = (int)spec->threads;
    if (spec->memory > 0)
        run_ctx.memory_budget = spec->memory;
    memset(&r, 0, sizeof r);
    r.ctx = &run_ctx;
    r.spec = spec;
    r.outdir = dir.stage;
    r.dir = &dir;
    r.progress = progress;
    r.ud = ud;
    r.sum = sum;
    r.t0 = now();
    sum->threads = strata_threads(&run_ctx);
    st = run_stages(&r);
    run_release(&run_ctx); /* the other ranks stop, if no fit released them */
    run_free(&r);
    strata_rundir_end(&dir); /* the staging folder goes, whatever happened */
    ctx->n_warnings = run_ctx.n_warnings;
    if (st != STRATA_OK) {
        /* a message names the output, not the staging folder that is gone */
        ctx->last_status = run_ctx.last_status != STRATA_OK ? run_ctx.last_status : st;
        strata_recorded_path(&run_ctx, run_ctx.errmsg, ctx->errmsg, sizeof ctx->errmsg);
    }
    return st;
}
