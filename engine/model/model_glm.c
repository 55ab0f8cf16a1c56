/* engine/model/model_glm.c — the GLM on a cohort: adapts a strata_cohort to the
 * models/ column source, fits, exposes the coefficient table and summary, and
 * scores a cohort in streamed row chunks (read on one thread, blocks computed
 * in parallel). Invariant: scoring reads exactly the columns the model names
 * and gives the same bytes whatever the thread count or chunk size. */
#include "glm_internal.h"
#include "internal.h"

#include <math.h>
#include <omp.h>
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

static void cohort_source(strata_cohort *c, glm_source *s)
{
    s->ud = c;
    s->name = strata_cohort_path(c);
    s->nrows = strata_cohort_nrows(c);
    s->find = co_find;
    s->read_f64 = co_read;
}

/* Provenance hash of the input file: four interleaved 64-bit FNV-1a lanes over
 * 8-byte little-endian words (32 bytes per step, so it runs near memory speed),
 * tail bytes folded into lane 0, lanes combined by FNV; "fnv1a64x4:<hex>". */
static strata_status file_hash(strata_ctx *ctx, const char *path, char *hex, size_t size)
{
    FILE *fp = fopen(path, "rb");
    const uint64_t prime = 1099511628211ULL;
    uint64_t h[4] = {1469598103934665603ULL, 1469598103934665603ULL ^ 1,
                     1469598103934665603ULL ^ 2, 1469598103934665603ULL ^ 3};
    uint64_t all = 1469598103934665603ULL;
    size_t bufsz = (size_t)1 << 20, got;
    unsigned char *buf;
    if (!fp)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open to hash", path);
    if (!(buf = strata_alloc(ctx, bufsz))) {
        fclose(fp);
        return STRATA_ENOMEM;
    }
    while ((got = fread(buf, 1, bufsz, fp)) > 0) {
        size_t i = 0;
        for (; i + 32 <= got; i += 32) {
            uint64_t w[4];
            memcpy(w, buf + i, 32);
            for (int k = 0; k < 4; k++)
                h[k] = (h[k] ^ w[k]) * prime;
        }
        for (; i < got; i++)
            h[0] = (h[0] ^ buf[i]) * prime;
    }
    fclose(fp);
    strata_free(ctx, buf, bufsz);
    for (int k = 0; k < 4; k++)
        all = (all ^ h[k]) * prime;
    snprintf(hex, size, "fnv1a64x4:%016llx", (unsigned long long)all);
    return STRATA_OK;
}

strata_status strata_glm_fit(strata_ctx *ctx, strata_cohort *cohort, const strata_glm_params *p,
                             strata_model **out)
{
    glm_source src;
    strata_status st, s2;
    char hex[64];
    *out = NULL;
    if (!cohort)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_glm_fit: cohort is NULL");
    cohort_source(cohort, &src);
    st = glm_fit_source(ctx, &src, p, out);
    if (!*out)
        return st;
    s2 = file_hash(ctx, strata_cohort_path(cohort), hex, sizeof hex);
    if (s2 == STRATA_OK && (!((*out)->prov[0] = strata_strdup(ctx, strata_cohort_path(cohort))) ||
                            !((*out)->prov[1] = strata_strdup(ctx, hex))))
        s2 = STRATA_ENOMEM;
    if (s2 != STRATA_OK) {
        strata_model_free(ctx, *out);
        *out = NULL;
        return s2;
    }
    return st;
}

/* ---- accessors ---------------------------------------------------------- */

size_t strata_model_nterms(const strata_model *m) { return m ? m->p : 0; }

const char *strata_model_term(const strata_model *m, size_t i)
{
    return m && i < m->p ? m->f->colnames[i] : NULL;
}

const double *strata_model_vcov(const strata_model *m) { return m ? m->vcov : NULL; }

void glm_coef_row(const strata_model *m, size_t i, strata_coef *o)
{
    const double zq = 1.959963984540054; /* qnorm(0.975): R's confint.default */
    o->aliased = m->aliased[i];
    o->estimate = m->beta[i];
    o->std_error = m->se[i];
    if (o->aliased) {
        o->statistic = o->p_value = o->conf_low = o->conf_high = NAN;
        return;
    }
    o->statistic = o->estimate / o->std_error;
    o->p_value = m->sum.t_statistic ? glm_pt_upper2(o->statistic, m->sum.df_residual)
                                    : glm_pnorm_upper2(o->statistic);
    o->conf_low = o->estimate - zq * o->std_error;
    o->conf_high = o->estimate + zq * o->std_error;
}

void strata_model_coef(const strata_model *m, size_t i, strata_coef *out)
{
    memset(out, 0, sizeof *out);
    if (m && i < m->p)
        glm_coef_row(m, i, out);
}

void strata_model_summary(const strata_model *m, strata_fit_summary *out)
{
    if (m)
        *out = m->sum;
    else
        memset(out, 0, sizeof *out);
}

const char *strata_model_provenance(const strata_model *m, const char *key)
{
    if (!m || !key)
        return NULL;
    for (int k = 0; k < GLM_NPROV; k++)
        if (!strcmp(key, glm_prov_keys[k]))
            return m->prov[k];
    return NULL;
}

/* ---- scoring ------------------------------------------------------------ */

strata_status glm_score_source(strata_ctx *ctx, const strata_model *m, const glm_source *src,
                               size_t row0, size_t n, double *lp, double *resp)
{
    const glm_formula *f = m->f;
    size_t nv = f->nvars, p = m->p, nb0 = m->block_rows, nblocks = (n + nb0 - 1) / nb0;
    size_t width = glm_design_work(f), tsize = nb0 * (p + width + 1);
    int nt = strata_threads(ctx);
    double **raw, *tbuf = NULL, *beta = NULL;
    const double **rawb = NULL;
    size_t *badrow = NULL;
    int *badvar = NULL;
    strata_status st = STRATA_ENOMEM;
    if (n == 0)
        return STRATA_OK;
    if ((size_t)nt > nblocks)
        nt = (int)nblocks;
    raw = strata_calloc(ctx, nv, sizeof *raw);
    if (!raw)
        return STRATA_ENOMEM;
    for (size_t v = 0; v < nv; v++)
        if (f->vars[v].src_col != (size_t)-1 && !(raw[v] = strata_alloc(ctx, n * sizeof **raw)))
            goto done;
    tbuf = strata_alloc(ctx, (size_t)nt * tsize * sizeof *tbuf);
    rawb = strata_calloc(ctx, (size_t)nt * nv, sizeof *rawb);
    beta = strata_alloc(ctx, p * sizeof *beta);
    badrow = strata_calloc(ctx, nblocks, sizeof *badrow);
    badvar = strata_calloc(ctx, nblocks, sizeof *badvar);
    if (!tbuf || !rawb || !beta || !badrow || !badvar)
        goto done;
    for (size_t v = 0; v < nv; v++)
        if (raw[v] && (st = src->read_f64(ctx, src->ud, f->vars[v].src_col, row0, n, raw[v])) != STRATA_OK)
            goto done;
    for (size_t j = 0; j < p; j++)
        beta[j] = m->aliased[j] ? 0 : m->beta[j];
    {
        int old = la_blas_threads(1);
#pragma omp parallel for num_threads(nt) schedule(static)
        for (long bl = 0; bl < (long)nblocks; bl++) {
            int t = omp_get_thread_num();
            size_t b = (size_t)bl, r0 = b * nb0, nb = r0 + nb0 <= n ? nb0 : n - r0;
            double *X = tbuf + (size_t)t * tsize, *work = X + nb0 * p, *eta = work + nb0 * width;
            const double **rb = rawb + (size_t)t * nv;
            for (size_t q = 0; q < nv; q++)
                rb[q] = raw[q] ? raw[q] + r0 : NULL;
            badrow[b] = glm_design_block(f, (double *const *)rb, nb, X, work, &badvar[b]);
            la_gemv(nb, p, X, beta, eta);
            for (size_t i = 0; i < nb; i++) {
                double e = eta[i] + glm_offset_value(f, (double *const *)rb, i);
                if (lp)
                    lp[r0 + i] = e;
                if (resp)
                    resp[r0 + i] = e == e ? glm_linkinv(m->family, e) : e;
            }
        }
        la_blas_threads(old);
    }
    st = STRATA_OK;
    for (size_t b = 0; b < nblocks; b++)
        if (badrow[b]) {
            const glm_var *v = &f->vars[badvar[b]];
            size_t r = b * nb0 + badrow[b] - 1;
            size_t code = (size_t)raw[badvar[b]][r], j;
            const strata_column_info *info = NULL;
            const char *lab = "?";
            if (src->find(ctx, src->ud, v->column, &j, &info) == STRATA_OK && code < info->n_levels)
                lab = info->levels[code];
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: level '%s' was not seen when the model was fitted (levels: %zu; map unseen levels to the reference with --unseen-to-reference)",
                             src->name, v->column, row0 + r + 1, lab, v->n_levels);
            break;
        }
done:
    for (size_t v = 0; v < nv; v++)
        strata_free(ctx, raw[v], 0);
    strata_free(ctx, raw, 0);
    strata_free(ctx, tbuf, 0);
    strata_free(ctx, (void *)rawb, 0);
    strata_free(ctx, beta, 0);
    strata_free(ctx, badrow, 0);
    strata_free(ctx, badvar, 0);
    return st;
}

strata_status glm_score_bind(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                             strata_unseen_policy unseen, glm_source *src)
{
    cohort_source(cohort, src);
    /* the binding (column indices, code maps) is a per-call cache on the model */
    return glm_bind(ctx, ((strata_model *)m)->f, src, 0, unseen);
}

strata_status strata_score(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                           strata_unseen_policy unseen, double *lp, double *resp)
{
    glm_source src;
    size_t n;
    if (!m || !cohort)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "strata_score: model or cohort is NULL");
    STRATA_TRY(glm_score_bind(ctx, m, cohort, unseen, &src));
    n = src.nrows;
    for (size_t r0 = 0; r0 < n; r0 += GLM_SCORE_CHUNK) {
        size_t k = n - r0 < GLM_SCORE_CHUNK ? n - r0 : GLM_SCORE_CHUNK;
        STRATA_TRY(glm_score_source(ctx, m, &src, r0, k, lp ? lp + r0 : NULL, resp ? resp + r0 : NULL));
    }
    return STRATA_OK;
}
