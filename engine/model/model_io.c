/* engine/model/model_io.c — model files and score files for the model stage: a
 * model is saved as its estimator's record (glm_model_export, cox_model_export)
 * through engine/io/model_file.c and loaded back by the record's kind (glm,
 * cox); scores are streamed in chunks of whole row blocks, sized by the
 * context's memory budget, into a score file (under MPI, chunks go round the
 * ranks and rank 0 writes them in row order). Invariant: no HDF5 here; a saved
 * and loaded model scores to the same bytes as the fitted one, whatever the
 * budget or the number of ranks. */
#include "comm.h"
#include "model_file.h"
#include "model_internal.h"

#include <string.h>

strata_status model_save_glm(strata_ctx *ctx, const strata_model *m, model_record_fn extra, const void *arg,
                             const char *path, const char *who)
{
    strata_record rec;
    strata_status st;
    if (!m || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: model or path is NULL", who);
    strata_record_init(&rec);
    st = glm_model_export(ctx, m->glm, &rec);
    if (st == STRATA_OK && extra)
        st = extra(ctx, arg, &rec);
    if (st == STRATA_OK)
        st = strata_model_file_write(ctx, &rec, path);
    strata_record_free(ctx, &rec);
    return st;
}

strata_status strata_model_save(strata_ctx *ctx, const strata_model *m, const char *path)
{
    return model_save_glm(ctx, m, NULL, NULL, path, "strata_model_save");
}

strata_status model_input_hash(strata_ctx *ctx, const char *path, char hex[65])
{
    if (ctx->input_hash)
        return ctx->input_hash(ctx->input_hash_ud, ctx, path, hex);
    return strata_file_sha256(ctx, path, hex);
}

strata_status model_load_kind(strata_ctx *ctx, const char *path, int want, strata_model **out)
{
    strata_record rec;
    strata_model *m = NULL;
    const char *kind;
    strata_status st;
    *out = NULL;
    strata_record_init(&rec);
    STRATA_TRY(strata_model_file_read(ctx, path, &rec));
    kind = strata_rec_text(&rec, STRATA_REC_KIND);
    if (want == MODEL_COX && (!kind || strcmp(kind, COX_KIND)))
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not a strata Cox model file (model '%s')", path,
                         kind ? kind : "(missing)");
    else if (want == MODEL_GLM && kind && !strcmp(kind, COX_KIND))
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model kind 'cox' is a Cox model: load it with strata_cox_load",
                         path);
    else if (!(m = strata_calloc(ctx, 1, sizeof *m)))
        st = STRATA_ENOMEM;
    else if (kind && !strcmp(kind, GLM_KIND))
        m->kind = MODEL_GLM, st = glm_model_import(ctx, &rec, path, &m->glm);
    else if (kind && !strcmp(kind, COX_KIND))
        m->kind = MODEL_COX, st = cox_model_import(ctx, &rec, path, &m->cox);
    else
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model kind '%s' is not one this strata reads (glm, cox)", path,
                         kind ? kind : "(missing)");
    strata_record_free(ctx, &rec);
    if (st != STRATA_OK) {
        strata_model_free(ctx, m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

strata_status strata_model_load(strata_ctx *ctx, const char *path, strata_model **out)
{
    return model_load_kind(ctx, path, MODEL_GLM, out);
}

/* ---- score writer -------------------------------------------------------- */

/* model_write_chunks: one rule for every chunked score file (GLM and Cox). */
typedef struct chunks_run {
    const model_chunks *mc;
    size_t n, chunk;
} chunks_run;

static size_t chunk_rows(const chunks_run *c, size_t q)
{
    return c->n - q * c->chunk < c->chunk ? c->n - q * c->chunk : c->chunk;
}

static strata_status ch_make(void *ud, size_t q)
{
    const chunks_run *c = ud;
    return c->mc->score(c->mc->ud, q * c->chunk, chunk_rows(c, q));
}

static strata_status ch_keep(void *ud, size_t q)
{
    const chunks_run *c = ud;
    return c->mc->write(c->mc->ud, q * c->chunk, chunk_rows(c, q));
}

static strata_status ch_send(void *ud, const strata_comm *cm, size_t q)
{
    const chunks_run *c = ud;
    for (int i = 0; i < 3; i++)
        if (c->mc->buf[i])
            STRATA_TRY(cm->send(cm->ud, c->mc->buf[i], chunk_rows(c, q) * c->mc->row_bytes[i], 0));
    return STRATA_OK;
}

static strata_status ch_take(void *ud, const strata_comm *cm, size_t q, int from, int append)
{
    const chunks_run *c = ud;
    for (int i = 0; i < 3; i++)
        if (c->mc->buf[i])
            STRATA_TRY(cm->recv(cm->ud, c->mc->buf[i], chunk_rows(c, q) * c->mc->row_bytes[i], from));
    return append ? ch_keep(ud, q) : STRATA_OK;
}

strata_status model_write_chunks(strata_ctx *ctx, size_t n, size_t chunk, strata_status st,
                                 const model_chunks *mc)
{
    static const strata_comm_rounds_ops ops = {ch_make, ch_keep, ch_send, ch_take, NULL};
    chunks_run c = {mc, n, chunk};
    size_t nq = (n + chunk - 1) / chunk;
    if (strata_ctx_comm(ctx)) {
        strata_log(ctx, STRATA_LOG_INFO, "scores of %zu rows: %zu chunk%s of up to %zu rows, chunk q scored by rank q mod %d",
                   n, nq, nq == 1 ? "" : "s", chunk, strata_ctx_comm(ctx)->size);
        return strata_comm_rounds(ctx, nq, st, &ops, &c);
    }
    for (size_t q = 0; q < nq && st == STRATA_OK; q++)
        if ((st = ch_make(&c, q)) == STRATA_OK)
            st = ch_keep(&c, q);
    return st;
}

/* A GLM's scores, chunk by chunk: lp, resp and ids (when idcol >= 0). */
typedef struct glm_chunks {
    strata_ctx *ctx;
    const glm_binding *b;
    strata_cohort *cohort;
    long idcol;
    strata_score_file *sf; /* NULL: the chunks go to lp_out and resp_out (either may be NULL), */
    double *lp, *resp;
    int64_t *id;
    double *lp_out, *resp_out;
    strata_score_sink_fn sink; /* or, not NULL, to sink */
    void *sink_ud;
} glm_chunks;

static strata_status glm_chunk_score(void *ud, size_t r0, size_t k)
{
    glm_chunks *g = ud;
    STRATA_TRY(glm_score_rows(g->ctx, g->b, r0, k, g->lp, g->resp));
    return g->idcol >= 0 ? strata_cohort_read_i64(g->ctx, g->cohort, (size_t)g->idcol, r0, k, g->id)
                         : STRATA_OK;
}

static strata_status glm_chunk_write(void *ud, size_t r0, size_t k)
{
    glm_chunks *g = ud;
    if (!g->sf && g->sink)
        return g->sink(g->ctx, g->sink_ud, r0, k, g->lp, g->resp);
    if (!g->sf) {
        if (g->lp_out)
            memcpy(g->lp_out + r0, g->lp, k * sizeof *g->lp);
        if (g->resp_out)
            memcpy(g->resp_out + r0, g->resp, k * sizeof *g->resp);
        return STRATA_OK;
    }
    return strata_score_file_write(g->ctx, g->sf, r0, k, g->id, g->lp, g->resp);
}

/* Every rank scores its chunks under MPI (docs/scale.md#mpi); rank 0 writes
 * them to sf, or (sf NULL) copies them into lp_out and resp_out. */
static strata_status write_scores(strata_ctx *ctx, const glm_binding *b, strata_cohort *cohort,
                                  long idcol, size_t n, size_t chunk, strata_score_file *sf,
                                  double *lp_out, double *resp_out, strata_score_sink_fn sink, void *sink_ud)
{
    glm_chunks g = {ctx, b, cohort, idcol, sf, strata_alloc(ctx, chunk * sizeof *g.lp),
                    strata_alloc(ctx, chunk * sizeof *g.resp), strata_alloc(ctx, chunk * sizeof *g.id),
                    lp_out, resp_out, sink, sink_ud};
    model_chunks mc = {glm_chunk_score, glm_chunk_write, &g, {g.lp, g.resp, idcol >= 0 ? g.id : NULL},
                       {sizeof *g.lp, sizeof *g.resp, sizeof *g.id}};
    strata_status st = model_write_chunks(ctx, n, chunk, g.lp && g.resp && g.id ? STRATA_OK : STRATA_ENOMEM, &mc);
    STRATA_FREE_ALL(ctx, g.lp, g.resp, g.id);
    return st;
}

/* Scoring chunk ranks: the rows of the chunks of the GLM's scores (whole
 * blocks under the context's memory budget; the chunk's lp, resp and id
 * beside the columns), the same on every rank. */
static size_t glm_chunk_rows(strata_ctx *ctx, const glm_binding *b, size_t n)
{
    size_t chunk = glm_score_chunk(ctx, b, 3);
    return n < chunk ? (n ? n : 1) : chunk;
}

strata_status model_score_ranks(strata_ctx *ctx, const glm_model *m, strata_cohort *cohort,
                                strata_unseen_policy unseen, double *lp, double *resp)
{
    glm_source src;
    glm_binding *b = NULL;
    strata_status st;
    model_cohort_source(cohort, &src);
    st = strata_comm_agree(ctx, glm_bind(ctx, m, &src, unseen, &b));
    if (st == STRATA_OK)
        st = write_scores(ctx, b, cohort, -1, src.nrows, glm_chunk_rows(ctx, b, src.nrows), NULL, lp, resp, NULL,
                          NULL);
    glm_binding_free(ctx, b);
    return st;
}

strata_status strata_score_sink(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                strata_unseen_policy unseen, strata_score_sink_fn sink, void *ud)
{
    glm_source src;
    glm_binding *b = NULL;
    strata_status st;
    if (!m || !cohort || m->kind != MODEL_GLM || (!sink && !strata_ctx_comm(ctx)))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_score_sink: a GLM, a cohort and a sink are needed");
    model_cohort_source(cohort, &src);
    st = strata_comm_agree(ctx, glm_bind(ctx, m->glm, &src, unseen, &b));
    if (st == STRATA_OK)
        st = write_scores(ctx, b, cohort, -1, src.nrows, glm_chunk_rows(ctx, b, src.nrows), NULL, NULL, NULL, sink,
                          ud);
    glm_binding_free(ctx, b);
    return st;
}

strata_status strata_score_write(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                 strata_unseen_policy unseen, const char *path)
{
    glm_source src;
    glm_binding *b = NULL;
    strata_score_file *sf = NULL;
    strata_fit_summary sum;
    long idcol;
    size_t n;
    const char *attrs[7];
    char rec[4096];
    strata_status st;
    if (!m || !cohort || !path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_score_write: NULL argument");
    model_cohort_source(cohort, &src);
    n = src.nrows;
    idcol = strata_cohort_find_role(cohort, STRATA_ROLE_PATIENT_ID);
    glm_model_summary(m->glm, &sum);
    attrs[0] = "formula", attrs[1] = sum.formula;
    attrs[2] = "family", attrs[3] = strata_family_name(sum.family);
    attrs[4] = "cohort", attrs[5] = strata_recorded_path(ctx, strata_cohort_path(cohort), rec, sizeof rec);
    attrs[6] = NULL;
    if (strata_ctx_comm(ctx)) { /* rank 0 writes what every rank scored */
        const strata_comm *cm = strata_ctx_comm(ctx);
        st = cm->rank == 0 ? strata_score_file_open(ctx, path, n, idcol >= 0, attrs, &sf) : STRATA_OK;
        if ((st = strata_comm_agree(ctx, st)) != STRATA_OK)
            return st;
        st = glm_bind(ctx, m->glm, &src, unseen, &b);
        if ((st = strata_comm_agree(ctx, st)) == STRATA_OK)
            st = write_scores(ctx, b, cohort, idcol, n, glm_chunk_rows(ctx, b, n), sf, NULL, NULL, NULL, NULL);
        glm_binding_free(ctx, b);
        return cm->rank == 0 ? strata_score_file_close(ctx, sf, st) : st;
    }
    STRATA_TRY(strata_score_file_open(ctx, path, n, idcol >= 0, attrs, &sf));
    st = glm_bind(ctx, m->glm, &src, unseen, &b);
    if (st == STRATA_OK) /* chunks of whole blocks under the context's memory budget */
        st = write_scores(ctx, b, cohort, idcol, n, glm_chunk_rows(ctx, b, n), sf, NULL, NULL, NULL, NULL);
    glm_binding_free(ctx, b);
    return strata_score_file_close(ctx, sf, st);
}
