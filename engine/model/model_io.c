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

/* Buffers of one streamed chunk. */
typedef struct chunk_bufs {
    double *lp, *resp;
    int64_t *id;
} chunk_bufs;

/* One chunk scored: its rows, lp, resp and ids (when idcol >= 0). */
static strata_status score_chunk(strata_ctx *ctx, const glm_binding *b, strata_cohort *cohort,
                                 long idcol, size_t r0, size_t k, chunk_bufs *c)
{
    strata_status st = glm_score_rows(ctx, b, r0, k, c->lp, c->resp);
    if (st == STRATA_OK && idcol >= 0)
        st = strata_cohort_read_i64(ctx, cohort, (size_t)idcol, r0, k, c->id);
    return st;
}

static strata_status write_scores(strata_ctx *ctx, const glm_binding *b, strata_cohort *cohort,
                                  long idcol, size_t n, size_t chunk, strata_score_file *sf)
{
    chunk_bufs c = {strata_alloc(ctx, chunk * sizeof *c.lp), strata_alloc(ctx, chunk * sizeof *c.resp),
                    strata_alloc(ctx, chunk * sizeof *c.id)};
    strata_status st = c.lp && c.resp && c.id ? STRATA_OK : STRATA_ENOMEM;
    for (size_t r0 = 0; r0 < n && st == STRATA_OK; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        st = score_chunk(ctx, b, cohort, idcol, r0, k, &c);
        if (st == STRATA_OK)
            st = strata_score_file_write(ctx, sf, r0, k, c.id, c.lp, c.resp);
    }
    strata_free(ctx, c.lp, 0);
    strata_free(ctx, c.resp, 0);
    strata_free(ctx, c.id, 0);
    return st;
}

/* Distributed (docs/scale.md#mpi): chunk q of the rows is scored by rank
 * q mod K, reading its rows through its own handle; rank 0 receives each
 * round's chunks in row order and writes them, one chunk held at a time.
 * Every rank sends a status first, so a failure ends the round on all. */
static strata_status write_scores_dist(strata_ctx *ctx, const glm_binding *b, strata_cohort *cohort,
                                       long idcol, size_t n, size_t chunk, strata_score_file *sf)
{
    const strata_comm *cm = strata_ctx_comm(ctx);
    size_t K = (size_t)cm->size, nq = (n + chunk - 1) / chunk;
    chunk_bufs c = {strata_alloc(ctx, chunk * sizeof *c.lp), strata_alloc(ctx, chunk * sizeof *c.resp),
                    strata_alloc(ctx, chunk * sizeof *c.id)};
    strata_status st = c.lp && c.resp && c.id ? STRATA_OK : STRATA_ENOMEM;
    int remote_failed = 0; /* rank 0: a sender failed; its message comes with the agreement */
    for (size_t q0 = 0; q0 < nq; q0 += K) {
        size_t q = q0 + (size_t)cm->rank;
        int ok;
        if (q < nq && st == STRATA_OK)
            st = score_chunk(ctx, b, cohort, idcol, q * chunk, n - q * chunk < chunk ? n - q * chunk : chunk, &c);
        for (size_t r = 0; r < K && q0 + r < nq; r++) {
            size_t r0 = (q0 + r) * chunk, k = n - r0 < chunk ? n - r0 : chunk;
            if (r == 0 && cm->rank == 0) {
                if (st == STRATA_OK)
                    st = strata_score_file_write(ctx, sf, r0, k, c.id, c.lp, c.resp);
                continue;
            }
            if (cm->rank == 0) {
                int rs = 0;
                strata_status ts = cm->recv(cm->ud, &rs, sizeof rs, (int)r);
                if (ts == STRATA_OK && rs == STRATA_OK)
                    ts = cm->recv(cm->ud, c.lp, k * sizeof *c.lp, (int)r);
                if (ts == STRATA_OK && rs == STRATA_OK)
                    ts = cm->recv(cm->ud, c.resp, k * sizeof *c.resp, (int)r);
                if (ts == STRATA_OK && rs == STRATA_OK && idcol >= 0)
                    ts = cm->recv(cm->ud, c.id, k * sizeof *c.id, (int)r);
                remote_failed |= rs != STRATA_OK;
                if (st == STRATA_OK)
                    st = ts;
                if (st == STRATA_OK && !remote_failed)
                    st = strata_score_file_write(ctx, sf, r0, k, c.id, c.lp, c.resp);
            } else if ((size_t)cm->rank == r) {
                ok = st;
                st = cm->send(cm->ud, &ok, sizeof ok, 0) == STRATA_OK ? st : STRATA_EIO;
                if (ok == STRATA_OK && st == STRATA_OK)
                    st = cm->send(cm->ud, c.lp, k * sizeof *c.lp, 0);
                if (ok == STRATA_OK && st == STRATA_OK)
                    st = cm->send(cm->ud, c.resp, k * sizeof *c.resp, 0);
                if (ok == STRATA_OK && st == STRATA_OK && idcol >= 0)
                    st = cm->send(cm->ud, c.id, k * sizeof *c.id, 0);
            }
        }
    }
    STRATA_FREE_ALL(ctx, c.lp, c.resp, c.id);
    return strata_comm_agree(ctx, st);
}

strata_status strata_score_write(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                 strata_unseen_policy unseen, const char *path)
{
    glm_source src;
    glm_binding *b = NULL;
    strata_score_file *sf = NULL;
    strata_fit_summary sum;
    long idcol;
    size_t n, chunk;
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
        if ((st = strata_comm_agree(ctx, st)) == STRATA_OK) {
            chunk = glm_score_chunk(ctx, b, 3);
            if (n < chunk)
                chunk = n ? n : 1;
            st = write_scores_dist(ctx, b, cohort, idcol, n, chunk, sf);
        }
        glm_binding_free(ctx, b);
        return cm->rank == 0 ? strata_score_file_close(ctx, sf, st) : st;
    }
    STRATA_TRY(strata_score_file_open(ctx, path, n, idcol >= 0, attrs, &sf));
    st = glm_bind(ctx, m->glm, &src, unseen, &b);
    if (st == STRATA_OK) {
        /* chunks of whole blocks under the context's memory budget; the chunk's
         * lp, resp and id are the three doubles a row beside the columns */
        chunk = glm_score_chunk(ctx, b, 3);
        if (n < chunk)
            chunk = n ? n : 1;
        st = write_scores(ctx, b, cohort, idcol, n, chunk, sf);
    }
    glm_binding_free(ctx, b);
    return strata_score_file_close(ctx, sf, st);
}
