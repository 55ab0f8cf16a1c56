/* engine/run/run.c — `strata run`: the whole job from a run spec. Chains cohort
 * (open, or synthesise) → model (fit or load) → score → evaluate → stratify
 * (tiers, segments, frailty, Charlson, Core20, reason codes) → aggregate by
 * PCN / practice / ICB with disclosure control → CSV tables, HTML report and
 * manifest.json in one output directory. Patient-level files are 0600;
 * every aggregate table passes strata_disclose before it is written. */
#include "internal.h"
#include "manifest.h"
#include "outfile.h"
#include "run_internal.h"
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

#define RUN_BLOCK 65536
#define N_REASONS 3

typedef struct codes {
    int32_t *v;                 /* per patient, -1 = missing */
    size_t n_levels;
    const char *const *levels;  /* owned by the cohort, or static */
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
    size_t n;
    int64_t *id;
    int32_t *age, *imd, *efi, *prior_em;
    int32_t *flags[STRATA_N_CONDITIONS];
    codes sex, eth, pcn, practice, icb;
    double *lp, *risk, *obs;
    size_t *orig;               /* cohort row of each (scored) patient */
    uint8_t *tier, *segment;   /* strata_stratify_patients' outputs, per scored patient */
    int8_t *frailty, *ltc;
    int16_t *charlson;
    strata_eval_report *eval;
    strata_bootstrap_result *boot;
    strata_table *summary, *practice_tab, *icb_tab, *inequality, *sii, *fairness;
    strata_table *offers;       /* per PCN: people offered proactive care (disclosed) */
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

static strata_status stage_done(run_state *r, const char *stage)
{
    double t = now();
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

static strata_status read_i32(run_state *r, long j, int32_t **out)
{
    int32_t *v;
    *out = NULL;
    if (j < 0)
        return STRATA_OK;
    v = strata_calloc(r->ctx, r->n ? r->n : 1, sizeof *v);
    if (!v)
        return STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) {
        size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        strata_status st = strata_cohort_read_i32(r->ctx, r->cohort, (size_t)j, r0, b, v + r0);
        if (st != STRATA_OK) {
            strata_free(r->ctx, v, 0);
            return st;
        }
    }
    *out = v;
    return STRATA_OK;
}

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
    return read_i32(r, j, &c->v);
}

/* A condition column the cohort lacks counts as absent for every patient
 * (strata_stratify_patients): say so once, naming them, because Charlson
 * scores, multimorbidity counts and segments are then lower bounds. */
static void warn_absent_conditions(run_state *r)
{
    char names[512] = "";
    size_t len = 0, n = 0;
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        if (!r->flags[c]) {
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

static strata_status read_patients(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    long j;
    static const char *const sexes[] = {"F", "M"};
    STRATA_TRY(read_codes(r, STRATA_ROLE_PCN, &r->pcn, 1));
    STRATA_TRY(read_codes(r, STRATA_ROLE_PRACTICE, &r->practice, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_ICB, &r->icb, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_SEX, &r->sex, 0));
    STRATA_TRY(read_codes(r, STRATA_ROLE_ETHNICITY, &r->eth, 0));
    /* sex as 0 = F, 1 = M whatever the levels table's order */
    if (r->sex.v) {
        int map[64];
        for (size_t l = 0; l < r->sex.n_levels && l < 64; l++)
            map[l] = !strcmp(r->sex.levels[l], "F") ? 0 : !strcmp(r->sex.levels[l], "M") ? 1 : -1;
        for (size_t i = 0; i < r->n; i++)
            r->sex.v[i] = (r->sex.v[i] >= 0 && r->sex.v[i] < 64) ? map[r->sex.v[i]] : -1;
        r->sex.levels = sexes;
        r->sex.n_levels = 2;
    }
    j = strata_cohort_find_role(r->cohort, STRATA_ROLE_PATIENT_ID);
    if (j < 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no column declares role patient_id",
                           strata_cohort_path(r->cohort));
    r->id = strata_calloc(ctx, r->n ? r->n : 1, sizeof *r->id);
    if (!r->id)
        return STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) {
        size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        STRATA_TRY(strata_cohort_read_i64(ctx, r->cohort, (size_t)j, r0, b, r->id + r0));
    }
    STRATA_TRY(read_i32(r, strata_cohort_find_role(r->cohort, STRATA_ROLE_AGE), &r->age));
    if (!r->age)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no column declares role age",
                           strata_cohort_path(r->cohort));
    STRATA_TRY(read_i32(r, strata_cohort_find_role(r->cohort, STRATA_ROLE_IMD_DECILE), &r->imd));
    STRATA_TRY(read_i32(r, find_col(r, "efi_deficits"), &r->efi));
    STRATA_TRY(read_i32(r, find_col(r, "prior_emergency_12m"), &r->prior_em));
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        STRATA_TRY(read_i32(r, find_col(r, strata_condition_name(c)), &r->flags[c]));
    warn_absent_conditions(r);
    return STRATA_OK;
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
    r->obs = strata_calloc(r->ctx, r->n ? r->n : 1, sizeof *r->obs);
    if (!r->obs)
        return STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < r->n; r0 += RUN_BLOCK) {
        size_t b = r->n - r0 < RUN_BLOCK ? r->n - r0 : RUN_BLOCK;
        STRATA_TRY(strata_cohort_read_f64(r->ctx, r->cohort, (size_t)j, r0, b, r->obs + r0));
    }
    return is_cox(r) ? cox_observed(r, src) : STRATA_OK;
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
        STRATA_TRY(strata_cox_fit(r->ctx, r->cohort, &cp, &r->cox));
        out_path(r, "model.h5", path, sizeof path);
        STRATA_TRY(strata_cox_save(r->ctx, r->cox, path));
        STRATA_TRY(strata_manifest_output(r->man, "model.h5", "model"));
    }
    STRATA_TRY(read_outcome(r));
    return stage_done(r, "model");
}

static strata_status stage_model(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    char path[4096];
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
        STRATA_TRY(strata_glm_fit(ctx, r->cohort, &gp, &r->model));
        out_path(r, "model.h5", path, sizeof path);
        STRATA_TRY(strata_model_save(ctx, r->model, path));
        STRATA_TRY(strata_manifest_output(r->man, "model.h5", "model"));
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

#define COMPACT(arr)                                                    \
    do {                                                                \
        if (arr)                                                        \
            for (size_t i_ = 0, k_ = 0; i_ < r->n; i_++)                \
                if (isfinite(r->risk[i_]))                              \
                    (arr)[k_++] = (arr)[i_];                            \
    } while (0)

/* Patients whose risk cannot be computed (a model column is missing for them)
 * are listed in unscored.csv (0600) and left out of every later stage: the
 * per-patient arrays are compacted in place to the scored rows, in order. */
static strata_status drop_unscored(run_state *r)
{
    size_t bad = 0, kept;
    for (size_t i = 0; i < r->n; i++)
        bad += !isfinite(r->risk[i]);
    r->sum->n_unscored = bad;
    if (bad == 0)
        return STRATA_OK;
    {
        pfile pf;
        STRATA_TRY(pfile_open(r, "unscored.csv", &pf));
        fprintf(pf.f, "patient_id,row\r\n");
        for (size_t i = 0; i < r->n; i++)
            if (!isfinite(r->risk[i]))
                fprintf(pf.f, "%lld,%zu\r\n", (long long)r->id[i], i + 1);
        STRATA_TRY(pfile_close(r, &pf, "unscored.csv"));
    }
    strata_warn(r->ctx,
                "%zu of %zu patients (%.1f%%) could not be scored (a model column is missing for "
                "them): they are listed in unscored.csv and left out of tiers, lists and aggregates",
                bad, r->n, 100.0 * (double)bad / (double)r->n);
    COMPACT(r->id);
    COMPACT(r->age);
    COMPACT(r->imd);
    COMPACT(r->efi);
    COMPACT(r->prior_em);
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        COMPACT(r->flags[c]);
    COMPACT(r->sex.v);
    COMPACT(r->eth.v);
    COMPACT(r->pcn.v);
    COMPACT(r->practice.v);
    COMPACT(r->icb.v);
    COMPACT(r->obs);
    COMPACT(r->lp);
    COMPACT(r->orig);
    kept = 0;
    for (size_t i = 0; i < r->n; i++) /* risk last: it is the predicate */
        if (isfinite(r->risk[i]))
            r->risk[kept++] = r->risk[i];
    r->n = kept;
    if (r->n == 0)
        return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s: no patient could be scored",
                           strata_cohort_path(r->cohort));
    return STRATA_OK;
}
#undef COMPACT

static strata_status stage_score(run_state *r)
{
    r->lp = strata_calloc(r->ctx, r->n, sizeof *r->lp);
    r->risk = strata_calloc(r->ctx, r->n, sizeof *r->risk);
    r->orig = strata_calloc(r->ctx, r->n, sizeof *r->orig);
    if (!r->lp || !r->risk || !r->orig)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < r->n; i++)
        r->orig[i] = i;
    if (r->cox) { /* absolute risk by the horizon, kept inside (0, 1) for evaluation */
        STRATA_TRY(strata_cox_score(r->ctx, r->cox, r->cohort, STRATA_UNSEEN_TO_REFERENCE, &r->spec->horizon, 1,
                                    r->lp, r->risk));
        for (size_t i = 0; i < r->n; i++)
            r->risk[i] = r->risk[i] >= 1 ? nextafter(1.0, 0.0) : r->risk[i] <= 0 ? DBL_MIN : r->risk[i];
    } else
        STRATA_TRY(strata_score(r->ctx, r->model, r->cohort, STRATA_UNSEEN_TO_REFERENCE, r->lp,
                                r->risk));
    STRATA_TRY(drop_unscored(r));
    return stage_done(r, "score");
}

/* ---- evaluation ------------------------------------------------------------ */

static const char *const age_band_names[] = {"0-17", "18-39", "40-64", "65-74", "75-84", "85+"};
static const char *const quintile_names[] = {"1 (most deprived)", "2", "3", "4",
                                             "5 (least deprived)"};
static const char *const core20_names[] = {"other", "Core20"};

static int age_band(int32_t age)
{
    return age == INT32_MIN ? -1 : age < 18 ? 0 : age < 40 ? 1 : age < 65 ? 2 : age < 75 ? 3 : age < 85 ? 4 : 5;
}

static int imd_quintile(const int32_t *imd, size_t i)
{
    return (imd && imd[i] >= 1 && imd[i] <= 10) ? (imd[i] - 1) / 2 : -1;
}

/* Group codes for a by-name: derived (age_band, imd_quintile, core20), a role
 * (sex, ethnicity, pcn, practice, icb) or any categorical cohort column.
 * *owned is set when by->codes must be freed. */
static strata_status by_codes(run_state *r, const char *name, strata_eval_by *by, int32_t **owned)
{
    strata_ctx *ctx = r->ctx;
    int32_t *v;
    const codes *role = !strcmp(name, "sex")         ? &r->sex
                        : !strcmp(name, "ethnicity") ? &r->eth
                        : !strcmp(name, "pcn")       ? &r->pcn
                        : !strcmp(name, "practice")  ? &r->practice
                        : !strcmp(name, "icb")       ? &r->icb
                                                     : NULL;
    memset(by, 0, sizeof *by);
    by->name = name;
    *owned = NULL;
    if (role && role->v) {
        by->codes = role->v;
        by->n_levels = role->n_levels;
        by->levels = role->levels;
        return STRATA_OK;
    }
    v = strata_calloc(ctx, r->n, sizeof *v);
    if (!v)
        return STRATA_ENOMEM;
    *owned = v;
    by->codes = v;
    if (!strcmp(name, "age_band")) {
        for (size_t i = 0; i < r->n; i++)
            v[i] = age_band(r->age[i]);
        by->n_levels = 6;
        by->levels = age_band_names;
    } else if (!strcmp(name, "imd_quintile")) {
        for (size_t i = 0; i < r->n; i++)
            v[i] = imd_quintile(r->imd, i);
        by->n_levels = 5;
        by->levels = quintile_names;
    } else if (!strcmp(name, "core20")) {
        for (size_t i = 0; i < r->n; i++)
            v[i] = r->imd ? (r->imd[i] >= 1 && r->imd[i] <= 10 ? strata_core20(r->imd[i]) : -1) : -1;
        by->n_levels = 2;
        by->levels = core20_names;
    } else {
        long j = find_col(r, name);
        const strata_column_info *info = j >= 0 ? strata_cohort_column(r->cohort, (size_t)j) : NULL;
        if (!info || !info->categorical)
            return STRATA_FAIL(ctx, STRATA_ESPEC,
                               "evaluate.by: \"%s\" is neither a derived grouping (age_band, "
                               "imd_quintile, core20), a role (sex, ethnicity, pcn, practice, icb) "
                               "nor a categorical column of %s",
                               name, strata_cohort_path(r->cohort));
        strata_free(ctx, v, 0);
        *owned = NULL;
        STRATA_TRY(read_i32(r, j, &v));
        *owned = v;
        by->codes = v;
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

/* Subgroup fairness table (disclosed before use): one row per level. */
static strata_status fairness_table(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    const strata_eval_report *e = r->eval;
    int jby, jlev, jn, jev, jc, jclo, jchi, joe, jolo, johi, jsl, jflag;
    strata_table *t;
    STRATA_TRY(strata_table_new(ctx, "fairness", e->n_groups + 1, &r->fairness));
    t = r->fairness;
    STRATA_TRY(strata_table_add(ctx, t, "subgroup", STRATA_COL_KEY, 0, -1, -1, &jby));
    STRATA_TRY(strata_table_add(ctx, t, "level", STRATA_COL_KEY, 0, -1, -1, &jlev));
    STRATA_TRY(strata_table_add(ctx, t, "n", STRATA_COL_COUNT, 0, -1, -1, &jn));
    STRATA_TRY(strata_table_add(ctx, t, "events", STRATA_COL_COUNT, 0, -1, -1, &jev));
    STRATA_TRY(strata_table_add(ctx, t, "c_statistic", STRATA_COL_RATIO, 3, -1, -1, &jc));
    STRATA_TRY(strata_table_add(ctx, t, "c_lo", STRATA_COL_RATIO, 3, -1, -1, &jclo));
    STRATA_TRY(strata_table_add(ctx, t, "c_hi", STRATA_COL_RATIO, 3, -1, -1, &jchi));
    STRATA_TRY(strata_table_add(ctx, t, "oe", STRATA_COL_RATIO, 3, -1, -1, &joe));
    STRATA_TRY(strata_table_add(ctx, t, "oe_lo", STRATA_COL_RATIO, 3, -1, -1, &jolo));
    STRATA_TRY(strata_table_add(ctx, t, "oe_hi", STRATA_COL_RATIO, 3, -1, -1, &johi));
    STRATA_TRY(strata_table_add(ctx, t, "calibration_slope", STRATA_COL_RATIO, 3, -1, -1, &jsl));
    STRATA_TRY(strata_table_add(ctx, t, "flags", STRATA_COL_FLAG, 0, -1, -1, &jflag));
    for (size_t g = 0; g <= e->n_groups; g++) {
        const strata_eval_metrics *m = g == 0 ? &e->overall : &e->groups[g - 1].m;
        STRATA_TRY(strata_table_set_key(ctx, t, jby, g, g == 0 ? "all" : e->groups[g - 1].by));
        STRATA_TRY(strata_table_set_key(ctx, t, jlev, g, g == 0 ? "all" : e->groups[g - 1].level));
        t->cols[jn].v[g] = m->n;
        t->cols[jev].v[g] = m->n_events;
        t->cols[jc].v[g] = m->c;
        t->cols[jclo].v[g] = m->c_lo;
        t->cols[jchi].v[g] = m->c_hi;
        t->cols[joe].v[g] = m->oe;
        t->cols[jolo].v[g] = m->oe_lo;
        t->cols[johi].v[g] = m->oe_hi;
        t->cols[jsl].v[g] = m->slope;
        t->cols[jflag].v[g] = (double)m->flags;
    }
    return STRATA_OK;
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
    for (size_t i = 0; i < r->n; i++)
        full[r->orig[i]] = r->risk[i];
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
    strata_eval_input in;
    strata_eval_by by[STRATA_RUN_MAX_BY];
    int32_t *owned[STRATA_RUN_MAX_BY] = {0};
    double *w = NULL;
    strata_status st = STRATA_OK;
    if (!r->obs)
        return stage_done(r, "evaluate (skipped: no outcome)");
    strata_eval_params_init(&ep);
    ep.family = eval_family(r->model);
    memset(&in, 0, sizeof in);
    in.n = r->n;
    in.y = r->obs;
    in.p = r->risk;
    /* rows without an observed outcome take no part (weight 0) */
    for (size_t i = 0; i < r->n && !w; i++)
        if (isnan(r->obs[i])) {
            if (!(w = strata_alloc(ctx, r->n * sizeof *w)))
                return STRATA_ENOMEM;
            for (size_t k = 0; k < r->n; k++)
                w[k] = isnan(r->obs[k]) ? 0.0 : 1.0;
        }
    in.w = w;
    for (size_t k = 0; k < r->spec->n_by && st == STRATA_OK; k++)
        st = by_codes(r, r->spec->by[k], &by[k], &owned[k]);
    in.n_by = r->spec->n_by;
    in.by = by;
    if (st == STRATA_OK)
        st = strata_evaluate(ctx, &in, &ep, &r->eval);
    for (size_t k = 0; k < r->spec->n_by; k++)
        strata_free(ctx, owned[k], 0);
    strata_free(ctx, w, 0);
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

/* ---- stratification --------------------------------------------------------- */

/* The spec's Charlson weights ("charlson1987" when a hand-built spec leaves it NULL). */
static const char *charlson_name(const strata_run_spec *spec)
{
    return spec->charlson_weights ? spec->charlson_weights
                                  : strata_charlson_weights_name(STRATA_CHARLSON_ORIGINAL);
}

/* Tiers, segments, frailty, Charlson and multimorbidity through the
 * library's strata_stratify_patients: the job and the library give every
 * patient the same values (tests/test_run.c). */
static strata_status stage_stratify(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_patient_params pp;
    strata_patient_cols pc;
    int within = r->spec->tiers_within_pcn;
    r->tier = strata_calloc(ctx, r->n, 1);
    r->segment = strata_calloc(ctx, r->n, 1);
    r->frailty = strata_calloc(ctx, r->n, sizeof *r->frailty);
    r->ltc = strata_calloc(ctx, r->n, sizeof *r->ltc);
    r->charlson = strata_calloc(ctx, r->n, sizeof *r->charlson);
    if (!r->tier || !r->segment || !r->frailty || !r->ltc || !r->charlson)
        return STRATA_ENOMEM;
    strata_patient_params_init(&pp);
    pp.tiers.mode = r->spec->tiers_absolute ? STRATA_TIER_ABSOLUTE : STRATA_TIER_PERCENTILE;
    pp.tiers.n_cuts = r->spec->n_tiers;
    for (size_t k = 0; k < pp.tiers.n_cuts; k++)
        pp.tiers.cut[k] = r->spec->tiers[k];
    STRATA_TRY(strata_charlson_weights_parse(ctx, charlson_name(r->spec), &pp.charlson));
    memset(&pc, 0, sizeof pc);
    pc.n = r->n;
    pc.risk = r->risk;
    pc.age = r->age;
    pc.efi_deficits = r->efi;
    pc.prior_emergency = r->prior_em;
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        pc.flags[c] = r->flags[c];
    STRATA_TRY(strata_stratify_patients(ctx, &pp, &pc, within ? r->pcn.v : NULL,
                                        within ? r->pcn.n_levels : 0, r->tier, r->segment,
                                        r->frailty, r->charlson, r->ltc));
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
    return strata_manifest_output(r->man, file, t->patient_level ? "patient" : "aggregate");
}

/* parent_row[k] = the row of child group k's parent (the parent group of its
 * first patient), and the child's ALL row maps to the parent's ALL row, so
 * disclosure control protects practice -> PCN -> ICB sums too. */
static strata_status link_parent(run_state *r, strata_table *child, const codes *cc,
                                 strata_table *parent, const codes *pc)
{
    strata_status st;
    int32_t *prow = strata_alloc(r->ctx, child->n_rows * sizeof *prow);
    if (!prow)
        return STRATA_ENOMEM;
    for (size_t k = 0; k < child->n_rows; k++)
        prow[k] = -1;
    for (size_t i = 0; i < r->n; i++) {
        int32_t c = cc->v[i], p = pc->v[i];
        if (c >= 0 && (size_t)c < cc->n_levels && prow[c] < 0 && p >= 0)
            prow[c] = p;
    }
    prow[child->n_rows - 1] = (int32_t)(parent->n_rows - 1); /* ALL -> ALL */
    st = strata_table_set_parent(r->ctx, child, parent, prow);
    strata_free(r->ctx, prow, 0);
    return st;
}

static void strat_input(const run_state *r, strata_strat_input *in)
{
    memset(in, 0, sizeof *in);
    in->n = r->n;
    in->risk = r->risk;
    in->observed = r->obs;
    in->age = r->age;
    in->sex = r->sex.v;
    in->imd_decile = r->imd;
    in->ethnicity = r->eth.v;
    in->n_ethnicity = r->eth.n_levels;
    in->ethnicity_names = r->eth.levels;
    in->tier = r->tier;
    in->n_tiers = r->spec->n_tiers + 1;
    in->segment = r->segment;
    in->need = NULL;
}

static strata_status stage_aggregate(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_group_params gp;
    strata_strat_input in;
    strata_funnel unused;
    strata_sdc_params sp;
    strata_table *set[6];
    const char *names[6];
    size_t nset = 0;
    strata_group_params_init(&gp);
    gp.budget = r->spec->budget;
    /* SII confidence intervals by simulation: 10,000 draws per group (PHE's
     * default is 100,000; with ~1,300 PCNs that alone would take a minute). The
     * Monte Carlo error of a 2.5% quantile from 10,000 draws is ~0.3% of the
     * interval's width. */
    gp.sii.reps = 10000;
    gp.funnel.od = !strcmp(r->spec->funnel_od, "winsorise") ? STRATA_OD_WINSORISE
                   : !strcmp(r->spec->funnel_od, "shmi")    ? STRATA_OD_SHMI
                                                            : STRATA_OD_NONE;
    strat_input(r, &in);
    /* Build every aggregate table first, then disclose them as one set so a
     * cell hidden in one table cannot be recovered from another (the same
     * counts by PCN appear in the summary and the inequality table; practices
     * sum into PCNs and PCNs into the ICB). */
    STRATA_TRY(strata_group_summary(ctx, &gp, &in, r->pcn.v, r->pcn.n_levels, r->pcn.levels,
                                    &r->funnel, &r->summary));
    names[nset] = "pcn_summary";
    set[nset++] = r->summary;
    if (r->practice.v) {
        STRATA_TRY(strata_group_summary(ctx, &gp, &in, r->practice.v, r->practice.n_levels,
                                        r->practice.levels, &unused, &r->practice_tab));
        STRATA_TRY(link_parent(r, r->practice_tab, &r->practice, r->summary, &r->pcn));
        names[nset] = "practice_summary";
        set[nset++] = r->practice_tab;
    }
    if (r->icb.v) {
        STRATA_TRY(strata_group_summary(ctx, &gp, &in, r->icb.v, r->icb.n_levels, r->icb.levels,
                                        &unused, &r->icb_tab));
        STRATA_TRY(link_parent(r, r->summary, &r->pcn, r->icb_tab, &r->icb));
        names[nset] = "icb_summary";
        set[nset++] = r->icb_tab;
    }
    if (r->imd) {
        STRATA_TRY(strata_group_inequality(ctx, &gp, &in, r->pcn.v, r->pcn.n_levels,
                                           r->pcn.levels, &r->inequality));
        names[nset] = "inequality";
        set[nset++] = r->inequality;
        STRATA_TRY(strata_group_sii(ctx, &gp, &in, r->pcn.v, r->pcn.n_levels, r->pcn.levels,
                                    &r->sii));
        names[nset] = "sii";
        set[nset++] = r->sii;
    }
    if (r->fairness) {
        names[nset] = "fairness";
        set[nset++] = r->fairness;
    }
    sdc_from_spec(r->spec, &sp);
    STRATA_TRY(strata_disclose_set(ctx, &sp, nset, set));
    STRATA_TRY(write_table(r, r->summary, "pcn_summary.csv"));
    if (r->practice_tab)
        STRATA_TRY(write_table(r, r->practice_tab, "practice_summary.csv"));
    if (r->icb_tab)
        STRATA_TRY(write_table(r, r->icb_tab, "icb_summary.csv"));
    if (r->inequality) {
        STRATA_TRY(write_table(r, r->inequality, "inequality.csv"));
        STRATA_TRY(write_table(r, r->sii, "sii.csv"));
    }
    if (r->fairness)
        STRATA_TRY(write_table(r, r->fairness, "fairness.csv"));
    {
        char path[4096];
        out_path(r, "aggregates.h5", path, sizeof path);
        STRATA_TRY(strata_tables_write_h5(ctx, set, names, nset, path));
        STRATA_TRY(strata_manifest_output(r->man, "aggregates.h5", "aggregate"));
    }
    r->sum->n_pcn = r->pcn.n_levels;
    return stage_done(r, "aggregate");
}

/* ---- patient-level outputs (owner-only) ---------------------------------- */


static const char *level(const codes *c, size_t i)
{
    return (c->v && c->v[i] >= 0 && (size_t)c->v[i] < c->n_levels) ? c->levels[c->v[i]] : "";
}

/* One row of patients.csv: the columns of strata_list_table's intervention
 * list without rank, IMD decile and reasons, formatted the same way. */
static void patient_cols(FILE *f, const run_state *r, size_t i)
{
    int fr = r->frailty[i];
    fprintf(f, "%lld,", (long long)r->id[i]);
    strata_csv_field(f, level(&r->pcn, i));
    fputc(',', f);
    strata_csv_field(f, level(&r->practice, i));
    fprintf(f, ",%.9g,%d,%s,%s,%d,%d,%d", r->risk[i], r->tier[i],
            strata_segment_name(r->segment[i]), fr >= 0 ? strata_frailty_name(fr) : "",
            r->ltc[i], r->charlson[i],
            r->imd && r->imd[i] >= 1 && r->imd[i] <= 10 ? strata_core20(r->imd[i]) : 0);
}

/* People offered proactive care per PCN (the intervention list's rows),
 * disclosed by the run's rules, for the one-page PCN packs. */
static strata_status offers_table(run_state *r, const size_t *rows, size_t n_sel)
{
    strata_ctx *ctx = r->ctx;
    strata_sdc_params sp;
    int jg, jn;
    STRATA_TRY(strata_table_new(ctx, "offers", r->pcn.n_levels, &r->offers));
    STRATA_TRY(strata_table_add(ctx, r->offers, "group", STRATA_COL_KEY, 0, -1, -1, &jg));
    STRATA_TRY(strata_table_add(ctx, r->offers, "n_offered", STRATA_COL_COUNT, 0, -1, -1, &jn));
    for (size_t g = 0; g < r->pcn.n_levels; g++) {
        STRATA_TRY(strata_table_set_key(ctx, r->offers, jg, g, r->pcn.levels[g]));
        r->offers->cols[jn].v[g] = 0;
    }
    for (size_t k = 0; k < n_sel; k++) {
        int32_t g = r->pcn.v[rows[k]];
        if (g >= 0 && (size_t)g < r->pcn.n_levels)
            r->offers->cols[jn].v[g] += 1;
    }
    sdc_from_spec(r->spec, &sp);
    return strata_disclose(ctx, &sp, r->offers);
}

/* Reasons of the listed patients as text (engine/run/run_reasons.c). */
static strata_status list_reasons(run_state *r, const size_t *sel, size_t n_sel, char ***text)
{
    size_t N = strata_cohort_nrows(r->cohort);
    unsigned char *scored = strata_calloc(r->ctx, N + 1, 1);
    size_t *orig = strata_calloc(r->ctx, n_sel + 1, sizeof *orig);
    strata_status st = STRATA_ENOMEM;
    if (!r->model) { /* Cox: no reasons yet (docs/cox.md), the columns stay, empty */
        STRATA_FREE_ALL(r->ctx, scored, orig);
        *text = strata_calloc(r->ctx, n_sel * N_REASONS + 1, sizeof **text);
        return *text ? STRATA_OK : STRATA_ENOMEM;
    }
    if (scored && orig) {
        for (size_t i = 0; i < r->n; i++)
            scored[r->orig[i]] = 1;
        for (size_t q = 0; q < n_sel; q++)
            orig[q] = r->orig[sel[q]];
        st = run_reasons(r->ctx, r->model, r->cohort, scored, r->n, orig, n_sel, N_REASONS, text,
                         NULL, NULL);
    }
    STRATA_FREE_ALL(r->ctx, scored, orig);
    return st;
}

static const char *PATIENT_HEADER =
    "patient_id,pcn,practice,risk,tier,segment,frailty,ltc_count,charlson,core20";

/* intervention_list.csv through the library's strata_list_table (the same
 * columns as patients.csv plus rank, IMD decile and reason codes). */
static strata_status write_list(run_state *r, size_t n_sel, const size_t *rows,
                                const uint32_t *rank, char *const *reasons)
{
    strata_ctx *ctx = r->ctx;
    strata_list_columns lc;
    strata_table *t = NULL;
    strata_status st;
    memset(&lc, 0, sizeof lc);
    lc.patient_id = r->id;
    lc.risk = r->risk;
    lc.tier = r->tier;
    lc.segment = r->segment;
    lc.group = r->pcn.v;
    lc.group_names = r->pcn.levels;
    lc.group_label = "pcn";
    lc.practice = r->practice.v;
    lc.n_practices = r->practice.n_levels;
    lc.practice_names = r->practice.levels;
    lc.frailty = r->frailty;
    lc.ltc = r->ltc;
    lc.charlson = r->charlson;
    lc.imd_decile = r->imd;
    lc.k_reasons = N_REASONS;
    lc.reason_text = (const char *const *)reasons;
    st = strata_list_table(ctx, &lc, n_sel, rows, rank, &t);
    if (st == STRATA_OK)
        st = write_table(r, t, "intervention_list.csv");
    strata_table_free(ctx, t);
    return st;
}

static strata_status stage_patients(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    pfile p;
    strata_list_params lp;
    size_t *rows = NULL, n_sel = 0;
    uint32_t *rank = NULL;
    char **reasons = NULL;
    strata_status st;

    STRATA_TRY(pfile_open(r, "patients.csv", &p));
    fprintf(p.f, "%s\r\n", PATIENT_HEADER);
    for (size_t i = 0; i < r->n; i++) {
        patient_cols(p.f, r, i);
        fputs("\r\n", p.f);
    }
    STRATA_TRY(pfile_close(r, &p, "patients.csv"));

    strata_list_params_init(&lp);
    lp.per_group = (size_t)r->spec->capacity;
    lp.per_1000 = r->spec->capacity_per_1000;
    lp.prop_univ = r->spec->proportionate_universalism;
    STRATA_TRY(strata_list_params_check(ctx, &lp));
    rows = strata_calloc(ctx, r->n, sizeof *rows);
    rank = strata_calloc(ctx, r->n, sizeof *rank);
    st = rows && rank ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = strata_intervention_select(ctx, &lp, r->n, r->risk, NULL, r->pcn.v, r->pcn.n_levels,
                                        r->imd, rows, rank, &n_sel);
    if (st == STRATA_OK)
        st = offers_table(r, rows, n_sel);
    if (st == STRATA_OK)
        st = list_reasons(r, rows, n_sel, &reasons);
    if (st == STRATA_OK)
        st = write_list(r, n_sel, rows, rank, reasons);
    strata_free(ctx, reasons, 0);
    strata_free(ctx, rows, 0);
    strata_free(ctx, rank, 0);
    r->sum->n_listed = n_sel;
    STRATA_TRY(st);
    return stage_done(r, "patients");
}

/* ---- report, manifest, driver ---------------------------------------------- */

static strata_status stage_report(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    strata_report_input ri;
    strata_sdc_params sdc;
    strata_fit_summary fs;
    char path[4096], vals[12][160];
    const char *keys[12], *values[12];
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
    if (r->cox) {
        strata_cox_summary cs;
        strata_cox_summary_get(r->cox, &cs);
        CARD("Model", "Cox PH (%s ties): absolute risk by %g", cs.ties == STRATA_COX_BRESLOW ? "Breslow" : "Efron",
             r->spec->horizon);
        CARD("Formula", "%.120s", cs.formula ? cs.formula : "");
        CARD("Patients fitted", "%zu, %zu events (dropped for missing values: %zu)", cs.n_used, cs.n_events,
             cs.n_dropped);
        CARD("Newton-Raphson iterations", "%d%s", cs.iterations, cs.converged ? "" : " (not converged)");
        CARD("Harrell's C (fitted data)", "%.3f", cs.concordance);
    } else {
        CARD("Model", "%s GLM", strata_family_name(fs.family));
        CARD("Formula", "%.120s", fs.formula ? fs.formula : "");
        CARD("Patients fitted", "%zu (dropped for missing values: %zu)", fs.n_used, fs.n_dropped);
        CARD("IRLS iterations", "%d%s", fs.iterations, fs.converged ? "" : " (not converged)");
        CARD("AIC", "%.1f", fs.aic);
    }
    if (r->eval) {
        const strata_eval_metrics *m = &r->eval->overall;
        CARD("C-statistic (95% CI)", "%.3f (%.3f to %.3f)", m->c, m->c_lo, m->c_hi);
        CARD("Observed / expected", "%.3f (%.3f to %.3f)", m->oe, m->oe_lo, m->oe_hi);
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
    sdc_from_spec(r->spec, &sdc);
    ri.sdc = &sdc;
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
        strata_sdc_params sp;
        sdc_from_spec(r->spec, &sp);
        oi.sdc = &sp;
        out_path(r, "intervention_list.csv", path, sizeof path);
        oi.patient_csv = access(path, R_OK) == 0 ? path : NULL;
        STRATA_TRY(strata_write_office(ctx, &oi, r->outdir, &of));
        for (size_t k = 0; k < of.n; k++)
            STRATA_TRY(strata_manifest_output(r->man, of.file[k], of.patient_level[k] ? "patient" : "aggregate"));
    }
    return stage_done(r, "report");
}

static void run_free(run_state *r)
{
    strata_ctx *ctx = r->ctx;
    codes *cs[] = {&r->sex, &r->eth, &r->pcn, &r->practice, &r->icb};
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++)
        strata_free(ctx, cs[k]->v, 0);
    for (int c = 0; c < STRATA_N_CONDITIONS; c++)
        strata_free(ctx, r->flags[c], 0);
    strata_free(ctx, r->id, 0);
    strata_free(ctx, r->age, 0);
    strata_free(ctx, r->imd, 0);
    strata_free(ctx, r->efi, 0);
    strata_free(ctx, r->prior_em, 0);
    strata_free(ctx, r->lp, 0);
    strata_free(ctx, r->risk, 0);
    strata_free(ctx, r->orig, 0);
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
    strata_model_free(ctx, r->model);
    strata_cox_free(ctx, r->cox);
    strata_cohort_close(r->cohort);
    strata_manifest_free(r->man);
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
    /* the folder locked, a killed run's leftovers removed, a used folder
     * refused unless spec->overwrite, a 0700 staging folder inside it */
    STRATA_TRY(strata_rundir_begin(ctx, outdir, spec->overwrite, &dir));
    /* The run works on its own context: the caller's allocator, log and
     * settings, with the spec's thread count for this run only, so the
     * caller's ctx keeps its own setting. The outcome (status, message,
     * warnings) is handed back below. */
    run_ctx = *ctx;
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
    run_free(&r);
    strata_rundir_end(&dir); /* the staging folder goes, whatever happened */
    ctx->n_warnings = run_ctx.n_warnings;
    if (st != STRATA_OK) {
        /* a message names the output, not the staging folder that is gone */
        char *at = strstr(run_ctx.errmsg, dir.stage);
        size_t ls = strlen(dir.stage), lf = strlen(outdir);
        if (at && lf <= ls)
            memmove(at + lf, at + ls, strlen(at + ls) + 1), memcpy(at, outdir, lf);
        ctx->last_status = run_ctx.last_status != STRATA_OK ? run_ctx.last_status : st;
        memcpy(ctx->errmsg, run_ctx.errmsg, sizeof ctx->errmsg);
    }
    return st;
}
