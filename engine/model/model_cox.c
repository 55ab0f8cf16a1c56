/* engine/model/model_cox.c — the Cox model on a cohort (strata/cox.h): the cohort
 * as the estimator's column source, the fit with provenance (path, SHA-256), the
 * coefficient table with hazard ratios, the summary, the model file through the
 * record and scoring at horizons. Invariant: the estimator is reached through
 * models/cox/cox.h only and HDF5 through engine/io/model_file.h only; scores come
 * in fixed blocks, so a loaded model scores to the same bytes. */
#include "comm.h"
#include "model_file.h"
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

void strata_cox_params_init(strata_cox_params *p)
{
    memset(p, 0, sizeof *p);
    p->ties = STRATA_COX_EFRON;
    p->epsilon = 1e-9; /* coxph.control: eps */
    p->max_iter = 20;  /* coxph.control: iter.max */
}

void strata_cox_free(strata_ctx *ctx, strata_cox *m)
{
    if (!m)
        return;
    cox_model_free(ctx, m->cox);
    strata_free(ctx, m, sizeof *m);
}

/* Wraps a Cox model (taken over, also on failure). */
static strata_status wrap(strata_ctx *ctx, cox_model *cm, strata_cox **out)
{
    strata_cox *m = strata_calloc(ctx, 1, sizeof *m);
    *out = NULL;
    if (!m) {
        cox_model_free(ctx, cm);
        return STRATA_ENOMEM;
    }
    m->cox = cm;
    *out = m;
    return STRATA_OK;
}

strata_status model_cox_provenance(strata_ctx *ctx, strata_cohort *cohort, cox_model *m)
{
    char hex[65], val[80], rec[4096];
    STRATA_TRY(model_input_hash(ctx, strata_cohort_path(cohort), hex));
    snprintf(val, sizeof val, "sha256:%s", hex);
    STRATA_TRY(cox_model_set_provenance(
        ctx, m, "input_path", strata_recorded_path(ctx, strata_cohort_path(cohort), rec, sizeof rec)));
    STRATA_TRY(cox_model_set_provenance(ctx, m, "input_hash", val));
    return cox_model_set_provenance(ctx, m, "strata_version", strata_version());
}

static strata_status fit_cox(strata_ctx *ctx, const glm_source *src, void *arg)
{
    const model_fit_args *a = arg;
    return cox_model_fit(ctx, src, a->p, a->out);
}

strata_status strata_cox_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_cox_params *p,
                             strata_cox **out)
{
    cox_model *cm = NULL;
    model_fit_args fa = {p, &cm};
    strata_status st, s2;
    *out = NULL;
    if (!cohort || !p || !p->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_cox_fit: cohort, params and formula are required");
    st = model_fit_rows(ctx, cohort, fit_cox, &fa);
    if (!cm)
        return st;
    /* the input's hash on the rank that writes the model (rank 0) only */
    if ((!strata_ctx_comm(ctx) || strata_ctx_comm(ctx)->rank == 0) &&
        (s2 = model_cox_provenance(ctx, cohort, cm)) != STRATA_OK) {
        cox_model_free(ctx, cm);
        return s2;
    }
    STRATA_TRY(wrap(ctx, cm, out));
    return st;
}

size_t strata_cox_nterms(const strata_cox *m)
{
    return m ? cox_model_nterms(m->cox) : 0;
}

const char *strata_cox_term(const strata_cox *m, size_t i)
{
    return m ? cox_model_term(m->cox, i) : NULL;
}

const char *strata_cox_time_column(const strata_cox *m)
{
    return m ? cox_model_time_column(m->cox) : NULL;
}

const char *strata_cox_event_column(const strata_cox *m)
{
    return m ? cox_model_event_column(m->cox) : NULL;
}

const char *strata_cox_strata_column(const strata_cox *m)
{
    return m ? cox_model_strata_column(m->cox) : NULL;
}

void strata_cox_coef_row(const strata_cox *m, size_t i, double conf_level, strata_cox_coef *out)
{
    cox_model_coef(m->cox, i, conf_level, out);
}

void strata_cox_summary_get(const strata_cox *m, strata_cox_summary *o)
{
    cox_model_summary(m->cox, o);
}

/* ---- model file ------------------------------------------------------------- */

strata_status strata_cox_save(strata_ctx *ctx, const strata_cox *m, const char *path)
{
    strata_record rec;
    strata_status st;
    if (!m || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_cox_save: model or path is NULL");
    strata_record_init(&rec);
    st = cox_model_export(ctx, m->cox, &rec);
    if (st == STRATA_OK)
        st = strata_model_file_write(ctx, &rec, path);
    strata_record_free(ctx, &rec);
    return st;
}

strata_status strata_cox_load(strata_ctx *ctx, const char *path, strata_cox **out)
{
    strata_model *any = NULL;
    cox_model *cm;
    *out = NULL;
    STRATA_TRY(model_load_kind(ctx, path, MODEL_COX, &any));
    cm = any->cox;
    any->cox = NULL;
    strata_model_free(ctx, any);
    return wrap(ctx, cm, out);
}

int strata_cox_is_model_file(const char *path)
{
    strata_ctx *ctx = NULL;
    strata_record rec;
    const char *kind;
    int yes = 0;
    if (!path || strata_ctx_new(&ctx) != STRATA_OK)
        return 0;
    strata_record_init(&rec);
    if (strata_model_file_read(ctx, path, &rec) == STRATA_OK) {
        kind = strata_rec_text(&rec, STRATA_REC_KIND);
        yes = kind && !strcmp(kind, COX_KIND);
    }
    strata_record_free(ctx, &rec);
    strata_ctx_free(ctx);
    return yes;
}

/* ---- variables and design (reasons) ------------------------------------------- */

size_t strata_cox_nvars(const strata_cox *m) { return m ? cox_model_nvars(m->cox) : 0; }

const char *strata_cox_var(const strata_cox *m, size_t v, int *is_factor)
{
    return m ? cox_model_var(m->cox, v, is_factor) : NULL;
}

size_t strata_cox_term_vars(const strata_cox *m, size_t j, size_t *vars, size_t max)
{
    return m ? cox_model_term_vars(m->cox, j, vars, max) : 0;
}

strata_status strata_cox_design(strata_ctx *ctx, const strata_cox *m, strata_cohort *cohort,
                                strata_unseen_policy unseen, size_t row0, size_t n, double *X)
{
    glm_source src;
    cox_binding *b = NULL;
    strata_status st;
    if (!m || !cohort || !X)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_cox_design: NULL argument");
    model_cohort_source(cohort, &src);
    STRATA_TRY(cox_bind(ctx, m->cox, &src, unseen, &b));
    st = cox_design_rows_bound(ctx, b, row0, n, X);
    cox_binding_free(ctx, b);
    return st;
}

/* ---- scoring ------------------------------------------------------------------ */

/* Under MPI: chunks scored round the ranks, rank 0's lp and risk (k x nh)
 * receive them in row order (either may be NULL). */
/* Chunks scored round the ranks under MPI (one process: in turn); rank 0's
 * sink receives them in row order (docs/scale.md#mpi). */
typedef struct cox_rows {
    strata_ctx *ctx;
    const cox_binding *b;
    const double *h;
    size_t nh;
    double *lp, *risk; /* a chunk's */
    strata_score_sink_fn sink;
    void *ud;
} cox_rows;

static strata_status cox_rows_score(void *ud, size_t r0, size_t k)
{
    cox_rows *c = ud;
    return cox_score_rows_bound(c->ctx, c->b, r0, k, c->h, c->nh, c->lp, c->risk);
}

static strata_status cox_rows_keep(void *ud, size_t r0, size_t k)
{
    cox_rows *c = ud;
    return c->sink ? c->sink(c->ctx, c->ud, r0, k, c->lp, c->risk) : STRATA_OK;
}

strata_status strata_cox_score_sink(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                    strata_unseen_policy unseen, const double *horizons, size_t nh,
                                    strata_score_sink_fn sink, void *ud)
{
    glm_source src;
    cox_binding *b = NULL;
    size_t n, chunk;
    strata_status st;
    if (!m || !cohort || (nh && !horizons))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox scores: a model, a cohort and the horizons are needed");
    n = strata_cohort_nrows(cohort);
    model_cohort_source(cohort, &src);
    st = strata_comm_agree(ctx, cox_bind(ctx, m->cox, &src, unseen, &b));
    if (st == STRATA_OK) {
        chunk = cox_score_chunk(ctx, b, nh, 0); /* under the memory budget (docs/scale.md); the same on every rank */
        chunk = chunk < n ? chunk : n + 1;
        cox_rows c = {ctx, b, horizons, nh, strata_alloc(ctx, chunk * sizeof *c.lp),
                      strata_alloc(ctx, (chunk * nh + 1) * sizeof *c.risk), sink, ud};
        model_chunks mc = {cox_rows_score, cox_rows_keep, &c, {c.lp, c.risk, NULL},
                           {sizeof *c.lp, nh * sizeof *c.risk, 0}};
        st = model_write_chunks(ctx, n, chunk, c.lp && c.risk ? STRATA_OK : STRATA_ENOMEM, &mc);
        STRATA_FREE_ALL(ctx, c.lp, c.risk);
    }
    cox_binding_free(ctx, b);
    return st;
}

/* strata_cox_score's sink: the chunk copied into whole arrays. */
typedef struct cox_whole {
    double *lp, *risk;
    size_t nh;
} cox_whole;

static strata_status cox_whole_keep(strata_ctx *ctx, void *ud, size_t r0, size_t k, const double *lp,
                                    const double *risk)
{
    const cox_whole *w = ud;
    (void)ctx;
    if (w->lp)
        memcpy(w->lp + r0, lp, k * sizeof *lp);
    if (w->risk && w->nh)
        memcpy(w->risk + r0 * w->nh, risk, k * w->nh * sizeof *risk);
    return STRATA_OK;
}

strata_status strata_cox_score(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                               strata_unseen_policy unseen, const double *horizons, size_t nh,
                               double *lp, double *risk)
{
    cox_whole w = {lp, risk, nh};
    return strata_cox_score_sink(ctx, m, cohort, unseen, horizons, nh, cox_whole_keep, &w);
}

/* A Cox model's scores, chunk by chunk: lp, risk (k x nh), the rows as
 * written (k x (1 + nh): lp, then the risks) and ids (when idcol >= 0). */
typedef struct cox_chunks {
    strata_ctx *ctx;
    const cox_binding *b;
    strata_cohort *cohort;
    long idcol;
    const double *h;
    size_t nh;
    strata_score_file *sf;
    double *lp, *risk, *vals;
    int64_t *id;
} cox_chunks;

static strata_status cox_chunk_score(void *ud, size_t r0, size_t k)
{
    cox_chunks *c = ud;
    size_t nh = c->nh;
    STRATA_TRY(cox_score_rows_bound(c->ctx, c->b, r0, k, c->h, nh, c->lp, c->risk));
    if (c->idcol >= 0)
        STRATA_TRY(strata_cohort_read_i64(c->ctx, c->cohort, (size_t)c->idcol, r0, k, c->id));
    for (size_t i = 0; i < k; i++) {
        c->vals[i * (nh + 1)] = c->lp[i];
        memcpy(c->vals + i * (nh + 1) + 1, c->risk + i * nh, nh * sizeof *c->vals);
    }
    return STRATA_OK;
}

static strata_status cox_chunk_write(void *ud, size_t r0, size_t k)
{
    cox_chunks *c = ud;
    return strata_score_file_write_cols(c->ctx, c->sf, r0, k, c->id, c->vals);
}

/* Every rank scores its chunks under MPI (docs/scale.md#mpi; each row's
 * scores are its own arithmetic); rank 0 writes. */
static strata_status write_cox_scores(strata_ctx *ctx, const cox_binding *b, strata_cohort *cohort, long idcol,
                                      size_t n, size_t chunk, const double *h, size_t nh, strata_score_file *sf)
{
    cox_chunks c = {ctx, b, cohort, idcol, h, nh, sf, strata_alloc(ctx, chunk * sizeof *c.lp),
                    strata_alloc(ctx, (chunk * nh + 1) * sizeof *c.risk),
                    strata_alloc(ctx, chunk * (nh + 1) * sizeof *c.vals), strata_alloc(ctx, chunk * sizeof *c.id)};
    model_chunks mc = {cox_chunk_score, cox_chunk_write, &c, {c.vals, idcol >= 0 ? c.id : NULL, NULL},
                       {(nh + 1) * sizeof *c.vals, sizeof *c.id, 0}};
    strata_status st = model_write_chunks(ctx, n, chunk, c.lp && c.risk && c.vals && c.id ? STRATA_OK : STRATA_ENOMEM,
                                          &mc);
    STRATA_FREE_ALL(ctx, c.lp, c.risk, c.vals, c.id);
    return st;
}

/* Rows a chunk of the score file: whole scoring blocks under the memory budget
 * (the chunk's lp, risks, written row and id beside the columns), at most n + 1. */
static size_t score_chunk_rows(strata_ctx *ctx, const cox_binding *b, size_t n, size_t nh)
{
    size_t chunk = cox_score_chunk(ctx, b, nh, nh + 2);
    return n < chunk ? n + 1 : chunk;
}

strata_status strata_cox_score_write(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                     strata_unseen_policy unseen, const double *horizons, size_t nh,
                                     const char *path)
{
    size_t n = strata_cohort_nrows(cohort), chunk;
    long idcol = strata_cohort_find_role(cohort, STRATA_ROLE_PATIENT_ID);
    char names[16][40];
    const char *cols[17], *meaning[17];
    const char *attrs[7];
    char rec[4096];
    glm_source src;
    cox_binding *b = NULL;
    strata_score_file *sf = NULL;
    strata_status st;
    if (nh > 16)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox scores: at most 16 horizons (%zu given)", nh);
    cols[0] = "linear_predictor", meaning[0] = NULL;
    for (size_t k = 0; k < nh; k++) {
        snprintf(names[k], sizeof names[k], "risk_%g", horizons[k]);
        cols[k + 1] = names[k];
        meaning[k + 1] = "1 - S(horizon | x): absolute risk of an event by the horizon";
    }
    attrs[0] = "model", attrs[1] = COX_KIND;
    attrs[2] = "formula", attrs[3] = cox_model_formula(m->cox);
    attrs[4] = "cohort", attrs[5] = strata_recorded_path(ctx, strata_cohort_path(cohort), rec, sizeof rec);
    attrs[6] = NULL;
    model_cohort_source(cohort, &src);
    if (strata_ctx_comm(ctx)) { /* rank 0 writes what every rank scored */
        const strata_comm *cm = strata_ctx_comm(ctx);
        st = cm->rank == 0 ? strata_score_file_open_cols(ctx, path, n, idcol >= 0, attrs, cols, meaning, nh + 1, &sf)
                           : STRATA_OK;
        if ((st = strata_comm_agree(ctx, st)) != STRATA_OK)
            return st;
        st = strata_comm_agree(ctx, cox_bind(ctx, m->cox, &src, unseen, &b));
        if (st == STRATA_OK)
            chunk = score_chunk_rows(ctx, b, n, nh);
        if (st == STRATA_OK)
            st = write_cox_scores(ctx, b, cohort, idcol, n, chunk, horizons, nh, sf);
        cox_binding_free(ctx, b);
        return cm->rank == 0 ? strata_score_file_close(ctx, sf, st) : st;
    }
    STRATA_TRY(strata_score_file_open_cols(ctx, path, n, idcol >= 0, attrs, cols, meaning, nh + 1, &sf));
    st = cox_bind(ctx, m->cox, &src, unseen, &b);
    if (st == STRATA_OK)
        st = write_cox_scores(ctx, b, cohort, idcol, n, score_chunk_rows(ctx, b, n, nh), horizons, nh, sf);
    cox_binding_free(ctx, b);
    return strata_score_file_close(ctx, sf, st);
}
