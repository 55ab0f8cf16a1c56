/* engine/model/model_glm.c — the model stage on a cohort: the cohort as the
 * estimators' column source, the GLM fit with provenance (path, SHA-256), the
 * accessors, scoring and design rows through a per-call binding. Invariant: a
 * strata_model is never written after it is returned, so strata_score may run on
 * one model from several threads (each with its own context and cohort handle). */
#include "cohort_dist.h"
#include "comm.h"
#include "model_file.h"
#include "model_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- cohort as a column source ------------------------------------------ */

static strata_status co_find(strata_ctx *ctx, void *ud, const char *col, size_t *j,
                             const strata_column_info **info)
{
    strata_cohort *c = ud;
    STRATA_TRY(strata_cohort_find(ctx, c, col, j));
    *info = strata_cohort_column(c, *j);
    return STRATA_OK;
}

static strata_status co_read(strata_ctx *ctx, void *ud, size_t j, size_t row0, size_t n,
                             double *out)
{
    return strata_cohort_read_f64(ctx, (strata_cohort *)ud, j, row0, n, out);
}

static strata_status co_own_reads(strata_ctx *ctx, void *ud)
{
    return strata_cohort_own_reads(ctx, (strata_cohort *)ud);
}

void model_cohort_source(strata_cohort *c, glm_source *s)
{
    s->ud = c;
    s->name = strata_cohort_path(c);
    s->nrows = strata_cohort_nrows(c);
    s->find = co_find;
    s->read_f64 = co_read;
    s->own_reads = co_own_reads;
}

strata_status model_fit_rows(strata_ctx *ctx, strata_cohort *cohort, model_fit_fn fit, void *arg)
{
    glm_source src;
    strata_cohort *dc = NULL;
    strata_status st;
    if (!strata_ctx_comm(ctx)) {
        model_cohort_source(cohort, &src);
        return fit(ctx, &src, arg);
    }
    STRATA_TRY(strata_cohort_open_dist(ctx, strata_cohort_path(cohort), &dc));
    model_cohort_source(dc, &src);
    st = fit(ctx, &src, arg);
    strata_cohort_close(dc);
    return st;
}

strata_status model_wrap_glm(strata_ctx *ctx, glm_model *g, strata_model **out)
{
    strata_model *m = strata_calloc(ctx, 1, sizeof *m);
    *out = NULL;
    if (!m) {
        glm_model_free(ctx, g);
        return STRATA_ENOMEM;
    }
    m->kind = MODEL_GLM;
    m->glm = g;
    *out = m;
    return STRATA_OK;
}

void strata_model_free(strata_ctx *ctx, strata_model *m)
{
    if (!m)
        return;
    glm_model_free(ctx, m->glm);
    cox_model_free(ctx, m->cox);
    strata_free(ctx, m, sizeof *m);
}

/* ---- fit ------------------------------------------------------------------ */

/* The input's SHA-256 (provenance), computed on a thread of its own while the
 * fit runs: a small fit runs on one thread (docs/glm.md), so the hash costs
 * no wall time (6.5 ms of the UCI diabetes process before, issue 19). The
 * buffer is allocated here, through the context, so the thread allocates
 * nothing through it. */
#define HASH_JOB_BUF ((size_t)1 << 20)
typedef struct hash_job {
    const char *path;
    unsigned char *buf;
    char hex[65];
    const char *err;
    strata_status st;
    pthread_t tid;
    int started;
    int provided; /* the context's input_hash gives it (strata_ctx_set_input_hash) */
} hash_job;

static void *hash_run(void *arg)
{
    hash_job *j = arg;
    j->st = strata_sha256_file_buf(j->path, j->buf, HASH_JOB_BUF, j->hex, &j->err);
    return NULL;
}

static strata_status hash_start(strata_ctx *ctx, const char *path, hash_job *j)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    if ((j->provided = ctx->input_hash != NULL))
        return STRATA_OK;
    if (!(j->buf = strata_alloc(ctx, HASH_JOB_BUF)))
        return STRATA_ENOMEM;
    j->started = pthread_create(&j->tid, NULL, hash_run, j) == 0;
    return STRATA_OK;
}

/* Joins the hash (or computes it here when no thread could start) and sets
 * input_path and input_hash ("sha256:<64 hex>") on g when g is not NULL. */
static strata_status hash_finish(strata_ctx *ctx, hash_job *j, glm_model *g)
{
    char val[80], rec[4096];
    strata_status st;
    if (j->started)
        pthread_join(j->tid, NULL);
    else if (j->buf)
        hash_run(j);
    strata_free(ctx, j->buf, HASH_JOB_BUF);
    j->buf = NULL;
    if (!g)
        return STRATA_OK;
    if (j->provided)
        STRATA_TRY(model_input_hash(ctx, j->path, j->hex));
    else if (j->st != STRATA_OK)
        return STRATA_FAIL(ctx, j->st, "%s: cannot hash for provenance: %s", j->path, j->err ? j->err : "?");
    snprintf(val, sizeof val, "sha256:%s", j->hex);
    st = glm_model_set_provenance(ctx, g, "input_path", strata_recorded_path(ctx, j->path, rec, sizeof rec));
    return st == STRATA_OK ? glm_model_set_provenance(ctx, g, "input_hash", val) : st;
}

static strata_status fit_glm(strata_ctx *ctx, const glm_source *src, void *arg)
{
    const model_fit_args *a = arg;
    return glm_fit(ctx, src, a->p, a->out);
}

strata_status strata_glm_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_glm_params *p,
                             strata_model **out)
{
    glm_model *g = NULL;
    model_fit_args fa = {p, &g};
    hash_job hj;
    strata_status st, s2;
    /* the input's hash on the rank that writes the model (rank 0), not on every rank */
    int hashing;
    *out = NULL;
    if (!cohort)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_glm_fit: cohort is NULL");
    hashing = !strata_ctx_comm(ctx) || strata_ctx_comm(ctx)->rank == 0;
    if (hashing)
        STRATA_TRY(hash_start(ctx, strata_cohort_path(cohort), &hj));
    st = model_fit_rows(ctx, cohort, fit_glm, &fa);
    if (hashing && (s2 = hash_finish(ctx, &hj, g)) != STRATA_OK) {
        glm_model_free(ctx, g);
        return s2;
    }
    if (!g)
        return st;
    STRATA_TRY(model_wrap_glm(ctx, g, out));
    return st;
}

/* ---- accessors ------------------------------------------------------------ */

size_t strata_model_nterms(const strata_model *m) { return m ? glm_model_nterms(m->glm) : 0; }

const char *strata_model_term(const strata_model *m, size_t i)
{
    return m ? glm_model_term(m->glm, i) : NULL;
}

const double *strata_model_vcov(const strata_model *m) { return m ? glm_model_vcov(m->glm) : NULL; }

void strata_model_coef(const strata_model *m, size_t i, strata_coef *out)
{
    if (m)
        glm_model_coef(m->glm, i, out);
    else
        memset(out, 0, sizeof *out);
}

void strata_model_summary(const strata_model *m, strata_fit_summary *out)
{
    if (m)
        glm_model_summary(m->glm, out);
    else
        memset(out, 0, sizeof *out);
}

const char *strata_model_weights(const strata_model *m) { return m ? glm_model_weights(m->glm) : NULL; }

const char *strata_model_provenance(const strata_model *m, const char *key)
{
    return m && key ? glm_model_provenance(m->glm, key) : NULL;
}

/* ---- scoring and design --------------------------------------------------- */

strata_status strata_score(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                           strata_unseen_policy unseen, double *lp, double *resp)
{
    glm_source src;
    if (!m || !cohort)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_score: model or cohort is NULL");
    if (strata_ctx_comm(ctx)) /* every rank scores its chunks; rank 0 receives them (docs/scale.md#mpi) */
        return model_score_ranks(ctx, m->glm, cohort, unseen, lp, resp);
    model_cohort_source(cohort, &src);
    return glm_score(ctx, m->glm, &src, unseen, lp, resp);
}

/* ---- a scorer: row ranges on demand, in strata_score's chunks ------------- */

struct strata_scorer {
    glm_source src;
    glm_binding *b;
    size_t chunk, q;  /* chunk rows; the chunk held (SIZE_MAX: none) */
    double *lp, *resp; /* its scores */
};

strata_status strata_scorer_open(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                 strata_unseen_policy unseen, strata_scorer **out)
{
    strata_scorer *s;
    strata_status st;
    *out = NULL;
    if (!m || !cohort)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_scorer_open: model or cohort is NULL");
    if (m->kind != MODEL_GLM)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_scorer_open: not a GLM");
    if (!(s = strata_calloc(ctx, 1, sizeof *s)))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "strata_scorer_open: out of memory");
    model_cohort_source(cohort, &s->src);
    s->q = (size_t)-1;
    st = glm_bind(ctx, m->glm, &s->src, unseen, &s->b);
    if (st == STRATA_OK) {
        s->chunk = glm_score_chunk(ctx, s->b, 6);
        s->lp = strata_alloc(ctx, s->chunk * sizeof *s->lp);
        s->resp = strata_alloc(ctx, s->chunk * sizeof *s->resp);
        if (!s->lp || !s->resp)
            st = STRATA_FAIL(ctx, STRATA_ENOMEM, "scorer: out of memory for chunks of %zu rows", s->chunk);
    }
    if (st != STRATA_OK)
        strata_scorer_free(ctx, s);
    else
        *out = s;
    return st;
}

strata_status strata_scorer_rows(strata_ctx *ctx, strata_scorer *s, size_t row0, size_t n, double *lp,
                                 double *resp)
{
    if (!s || row0 > s->src.nrows || n > s->src.nrows - row0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_scorer_rows: rows %zu..%zu outside the cohort", row0 + 1,
                           row0 + n);
    for (size_t i = row0; i < row0 + n;) {
        size_t q = i / s->chunk, c0 = q * s->chunk, cn = s->src.nrows - c0 < s->chunk ? s->src.nrows - c0 : s->chunk;
        size_t k = c0 + cn - i < row0 + n - i ? c0 + cn - i : row0 + n - i;
        if (q != s->q) {
            s->q = (size_t)-1;
            STRATA_TRY(glm_score_rows(ctx, s->b, c0, cn, s->lp, s->resp));
            s->q = q;
        }
        if (lp)
            memcpy(lp + (i - row0), s->lp + (i - c0), k * sizeof *lp);
        if (resp)
            memcpy(resp + (i - row0), s->resp + (i - c0), k * sizeof *resp);
        i += k;
    }
    return STRATA_OK;
}

void strata_scorer_free(strata_ctx *ctx, strata_scorer *s)
{
    if (!s)
        return;
    glm_binding_free(ctx, s->b);
    strata_free(ctx, s->lp, 0);
    strata_free(ctx, s->resp, 0);
    strata_free(ctx, s, 0);
}

strata_status strata_model_design(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                  strata_unseen_policy unseen, size_t row0, size_t n, double *X)
{
    glm_source src;
    glm_binding *b = NULL;
    strata_status st;
    if (!m || !cohort || !X)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_model_design: NULL argument");
    model_cohort_source(cohort, &src);
    STRATA_TRY(glm_bind(ctx, m->glm, &src, unseen, &b));
    st = glm_design_rows(ctx, b, row0, n, X);
    glm_binding_free(ctx, b);
    return st;
}
