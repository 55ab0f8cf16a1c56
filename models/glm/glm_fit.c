/* models/glm/glm_fit.c — the GLM fit as named steps: parse, bind, load (first
 * touch on every thread, reads on one, checks, mask), freeze levels and knots,
 * compact, set up the pass and workspace, warm start, IRLS, summary, provenance.
 * Invariant: coefficients are byte-identical whatever the thread count; on
 * non-convergence the partial fit is returned with STRATA_ENOCONV. */
#include "glm_fit.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void strata_glm_params_init(strata_glm_params *p)
{
    memset(p, 0, sizeof *p);
    p->family = STRATA_FAMILY_BINOMIAL;
    p->epsilon = 1e-8;
    p->max_iter = 25;
    p->na_action = STRATA_NA_COMPLETE_CASES;
    p->unseen = STRATA_UNSEEN_ERROR;
    p->block_rows = 8192;
    p->warm_start = 1;
}

strata_status strata_glm_params_check(strata_ctx *ctx, const strata_glm_params *p)
{
    if (!p)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: NULL");
    if ((unsigned)p->family > STRATA_FAMILY_GAUSSIAN)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: family %d unknown", (int)p->family);
    if (!p->formula || !*p->formula)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: formula is required");
    if (!(p->epsilon > 0 && p->epsilon < 1))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: epsilon %g outside (0, 1)", p->epsilon);
    if (p->max_iter < 1 || p->max_iter > 10000)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: max_iter %d outside 1..10000", p->max_iter);
    if ((unsigned)p->na_action > STRATA_NA_FAIL)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: na_action %d unknown", (int)p->na_action);
    if ((unsigned)p->unseen > STRATA_UNSEEN_TO_REFERENCE)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: unseen %d unknown", (int)p->unseen);
    if (p->warm_start != 0 && p->warm_start != 1)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: warm_start %d is not 0 or 1", p->warm_start);
    if ((unsigned)p->pass > STRATA_GLM_PASS_FACTOR)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: pass %d unknown", (int)p->pass);
    if (p->block_rows < 16 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: block_rows %zu outside 16..2^24", p->block_rows);
    return STRATA_OK;
}

/* Everything a fit holds between its steps; fit_state_free releases what is left. */
typedef struct fit_state {
    glm_formula *f;          /* until the model owns it (fit_setup) */
    glm_varbind *vb;         /* f bound to the source */
    size_t nv, n, n_used;
    double **raw;            /* nv columns of n (+ 1) values; compacted to n_used */
    unsigned char *mask;     /* n: 1 = complete case */
    double *y1;              /* 2 n_used: unit prior weights, then offsets */
    fitdata d;
    glm_irls_ws *ws;
    double *bwarm;           /* p: the warm start's coefficients */
    glm_model *m;
    glm_irls_result res;
    double t_start, t_load, t_setup, t_warm, c_warm, t_irls, c_irls;
} fit_state;

static void fit_state_free(strata_ctx *ctx, fit_state *s)
{
    for (size_t v = 0; s->raw && v < s->nv; v++)
        strata_free(ctx, s->raw[v], 0);
    strata_free(ctx, s->raw, 0);
    strata_free(ctx, s->mask, 0);
    strata_free(ctx, s->y1, 0);
    strata_free(ctx, s->bwarm, 0);
    glm_pass_free(ctx, &s->d);
    glm_irls_ws_free(ctx, s->ws);
    glm_varbind_free(ctx, s->vb, s->nv);
    glm_model_free(ctx, s->m);
    glm_formula_free(ctx, s->f);
}

/* CPU seconds of the process (all threads): pass cost on a shared machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- parse, bind --------------------------------------------------------------- */

static strata_status fit_parse(strata_ctx *ctx, const strata_glm_params *prm, fit_state *s)
{
    STRATA_TRY(glm_formula_parse(ctx, prm->formula, &s->f));
    if (prm->weights)
        STRATA_TRY(glm_formula_set_weights(ctx, s->f, prm->weights));
    s->nv = s->f->nvars;
    return STRATA_OK;
}

static strata_status fit_bind(strata_ctx *ctx, const glm_source *src, fit_state *s)
{
    if (!(s->vb = strata_calloc(ctx, s->nv + 1, sizeof *s->vb)))
        return STRATA_ENOMEM;
    return glm_bind_fit(ctx, s->f, src, s->vb);
}

/* ---- load: read, mask, check ------------------------------------------------------ */

/* Complete-case mask (NaN in any variable drops the row, or fails with
 * na_action = fail); STRATA_EDATA when no row is complete. */
static strata_status build_mask(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                                fit_state *s)
{
    const glm_formula *f = s->f;
    size_t n = s->n, used = 0;
    /* column by column (contiguous reads), rows flagged in mask */
    memset(s->mask, 1, n);
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = s->raw[v];
        for (size_t i = 0; i < n; i++)
            if (r[i] != r[i]) {
                if (prm->na_action == STRATA_NA_FAIL)
                    return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                       src->name, f->vars[v].column, i + 1);
                s->mask[i] = 0;
            }
    }
    for (size_t i = 0; i < n; i++)
        used += s->mask[i];
    if (used == 0) {
        for (size_t v = 0; v < f->nvars; v++) {
            size_t i = 0;
            while (i < n && s->raw[v][i] != s->raw[v][i])
                i++;
            if (i == n)
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s' is missing in all %zu rows; no complete cases to fit",
                                   src->name, f->vars[v].column, n);
        }
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases in the %zu rows for formula \"%s\"",
                           src->name, n, f->text);
    }
    s->n_used = used;
    return STRATA_OK;
}

/* Every complete-case value in its variable's domain: the response valid for
 * the family, weights finite and >= 0, log/log1p arguments in range, numbers finite. */
static strata_status check_values(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                                  const fit_state *s)
{
    const glm_formula *f = s->f;
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = s->raw[v];
        const glm_var *gv = &f->vars[v];
        for (size_t i = 0; i < s->n; i++) {
            double x = r[i];
            if (!s->mask[i])
                continue;
            if ((int)v == f->response && !glm_valid_y(prm->family, x))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g: %s",
                                   src->name, gv->column, i + 1, x, glm_valid_y_text(prm->family));
            if ((int)v == f->weights && !(x >= 0 && isfinite(x)))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: weights column '%s': row %zu: value %g is not a finite non-negative weight",
                                   src->name, gv->column, i + 1, x);
            if ((gv->tr == GT_LOG && !(x > 0)) || (gv->tr == GT_LOG1P && !(x > -1)))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g outside the domain of %s",
                                   src->name, gv->column, i + 1, x, gv->label);
            if (!gv->is_factor && !isfinite(x))
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: value %g is not finite",
                                   src->name, gv->column, i + 1, x);
        }
    }
    return STRATA_OK;
}

/* Allocates and first-touches the columns, reads every variable (one thread),
 * builds the mask and checks the values. load_s counts the touch. */
static strata_status fit_load(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                              fit_state *s)
{
    size_t n = s->n = src->nrows;
    int nt;
    s->raw = strata_calloc(ctx, s->nv, sizeof *s->raw);
    s->mask = strata_alloc(ctx, n + 1);
    if (!s->raw || !s->mask)
        return STRATA_ENOMEM;
    for (size_t v = 0; v < s->nv; v++)
        if (!(s->raw[v] = strata_alloc(ctx, (n + 1) * sizeof **s->raw)))
            return STRATA_ENOMEM;
    /* Touch the new columns on every thread before HDF5 fills them on one: at
     * 10 M x 60 the page faults of a single-threaded first touch cost 3-8 s,
     * spread over the threads they cost ~1 s (docs/glm.md). */
    s->t_start = omp_get_wtime();
    nt = n * s->nv < (prm->parallel_min_np ? prm->parallel_min_np : GLM_PAR_MIN_NP) ? 1 : strata_threads(ctx);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (long v = 0; v < (long)s->nv; v++)
        memset(s->raw[v], 0, (n + 1) * sizeof **s->raw);
    if (n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    for (size_t v = 0; v < s->nv; v++)
        STRATA_TRY(src->read_f64(ctx, src->ud, s->vb[v].src_col, 0, n, s->raw[v]));
    STRATA_TRY(build_mask(ctx, src, prm, s));
    STRATA_TRY(check_values(ctx, src, prm, s));
    s->t_load = omp_get_wtime();
    return STRATA_OK;
}

/* Moves the complete cases to the front of every column (nothing to move when
 * every row is one). */
static void fit_compact(fit_state *s)
{
    for (size_t v = 0; v < s->nv && s->n_used < s->n; v++) {
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->mask[i])
                s->raw[v][w++] = s->raw[v][i];
    }
}

/* ---- set up: pass buffers, IRLS workspace, weights and offsets, the model ---- */

static strata_status fit_setup(strata_ctx *ctx, const strata_glm_params *prm, fit_state *s)
{
    glm_formula *f = s->f;
    fitdata *d = &s->d;
    size_t n = s->n_used;
    d->f = f;
    d->vb = s->vb;
    d->fam = prm->family;
    d->n = n;
    d->p = f->p;
    d->nb = prm->block_rows;
    d->nblocks = (n + d->nb - 1) / d->nb;
    d->bstride = 1;
    d->width = glm_design_work(f);
    d->raw = s->raw;
    d->nt = strata_threads(ctx);
    if ((size_t)d->nt > d->nblocks)
        d->nt = (int)d->nblocks;
    /* small fits run on one thread (GLM_PAR_MIN_NP, docs/glm.md); the
     * context's count still caps larger ones */
    if (n * d->p < (prm->parallel_min_np ? prm->parallel_min_np : GLM_PAR_MIN_NP))
        d->nt = 1;
    STRATA_TRY(glm_fpass_alloc(ctx, d, (int)prm->pass));
    STRATA_TRY(glm_pass_alloc(ctx, d));
    STRATA_TRY(glm_irls_ws_alloc(ctx, d->p, &s->ws));
    s->y1 = strata_alloc(ctx, 2 * n * sizeof *s->y1 + 1);
    s->bwarm = strata_calloc(ctx, d->p, sizeof *s->bwarm);
    if (!s->y1 || !s->bwarm)
        return STRATA_ENOMEM;
    d->y = s->raw[f->response];
    if (f->weights >= 0) {
        d->wt = s->raw[f->weights];
    } else {
        for (size_t i = 0; i < n; i++)
            s->y1[i] = 1.0;
        d->wt = s->y1;
    }
    if (f->noffsets) {
        double *o = s->y1 + n;
        for (size_t i = 0; i < n; i++)
            o[i] = glm_offset_value(f, s->raw, i);
        d->off = o;
    }
    STRATA_TRY(glm_model_alloc(ctx, f, &s->m));
    s->f = NULL; /* owned by the model */
    s->t_setup = omp_get_wtime();
    return STRATA_OK;
}

/* ---- warm start, IRLS ---------------------------------------------------------- */

/* Warm start (docs/glm.md): on large data, R's iteration first runs on every
 * GLM_WARM_STRIDE-th block; the full data then start from its coefficients and
 * need fewer passes. Any failure there falls back to R's start. Aliased columns
 * (e.g. rcs(age, 4) + age:sex) start at 0; the full fit finds its own aliasing.
 * Returns 1 when s->bwarm holds a start. */
static int fit_warm_start(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                          fit_state *s)
{
    fitdata ds = s->d;
    glm_irls_result r = {0, 0, 0, 0.0};
    int warm;
    if (!prm->warm_start || s->d.nblocks < GLM_WARM_MIN_BLOCKS)
        return 0;
    ds.bstride = GLM_WARM_STRIDE;
    warm = glm_irls(ctx, &ds, prm, src->name, NULL, s->ws, &r) == STRATA_OK && r.conv;
    strata_log(ctx, STRATA_LOG_INFO, "%s: warm start on every %dth block (%zu of %zu rows): %d iterations, %s",
               src->name, GLM_WARM_STRIDE, glm_warm_rows(&s->d), s->n_used, r.iter,
               warm ? "used" : "not used (no convergence); starting as R does");
    if (warm)
        memcpy(s->bwarm, s->ws->beta, s->d.p * sizeof *s->bwarm);
    return warm;
}

static strata_status fit_irls(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                              fit_state *s)
{
    int warm = fit_warm_start(ctx, prm, src, s);
    s->t_warm = omp_get_wtime();
    s->c_warm = cpu_seconds();
    STRATA_TRY(glm_irls(ctx, &s->d, prm, src->name, warm ? s->bwarm : NULL, s->ws, &s->res));
    s->t_irls = omp_get_wtime();
    s->c_irls = cpu_seconds();
    return STRATA_OK;
}

/* ---- summary ------------------------------------------------------------------- */

static void name_extreme_terms(const glm_model *m, char *buf, size_t size)
{
    size_t len = 0, best = 0;
    double bmax = -1;
    buf[0] = 0;
    for (size_t j = 0; j < m->p; j++) {
        if (m->aliased[j] || m->f->cols[j].nf == 0)
            continue;
        if (fabs(m->beta[j]) > bmax)
            bmax = fabs(m->beta[j]), best = j;
        if (fabs(m->beta[j]) > 10 && len + 2 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", m->f->colnames[j]);
    }
    if (!len && bmax >= 0)
        snprintf(buf, size, "%s", m->f->colnames[best]);
}

/* Deviance, null deviance, AIC, dispersion and degrees of freedom as R's glm
 * reports them; tot gets the final pass's partials. */
static void fit_statistics(const strata_glm_params *prm, fit_state *s, double tot[4])
{
    fitdata *d = &s->d;
    strata_fit_summary *S = &s->m->sum;
    double sw = 0, slw = 0, swy = 0, nulldev = 0, disp = 1, dev = s->res.dev;
    size_t n_ok = 0;
    int rank = s->res.rank, intercept = s->m->f->intercept;
    for (size_t i = 0; i < d->n; i++) {
        if (d->wt[i] > 0) {
            n_ok++;
            slw += log(d->wt[i]);
        }
        sw += d->wt[i];
        swy += d->wt[i] * d->y[i];
    }
    d->disp = dev / sw;
    glm_run_pass(d, PASS_FINAL, s->ws->beta);
    glm_reduce(d, 0, NULL, NULL, tot);
    if (intercept && d->off) {
        nulldev = glm_null_deviance_offset(d, prm->epsilon, prm->max_iter);
    } else {
        for (size_t i = 0; i < d->n; i++) {
            double mu0 = intercept ? swy / sw : glm_linkinv(prm->family, d->off ? d->off[i] : 0);
            nulldev += glm_dev_resid(prm->family, d->y[i], mu0, d->wt[i]);
        }
    }
    S->family = prm->family;
    S->formula = s->m->f->text;
    S->deviance = dev;
    S->null_deviance = nulldev;
    S->rank = rank;
    S->df_residual = (double)n_ok - rank;
    S->df_null = (double)n_ok - (intercept ? 1 : 0);
    if (prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN)
        disp = S->df_residual > 0 ? tot[2] / S->df_residual : NAN;
    S->dispersion = disp;
    S->aic = tot[1] + glm_aic_const(prm->family, dev, sw, slw, d->n) + 2.0 * rank;
    S->iterations = s->res.iter;
    S->n_used = s->n_used;
    S->n_dropped = s->n - s->n_used;
    S->converged = s->res.conv;
    S->t_statistic = prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN;
}

/* Coefficients (NaN where aliased), covariance scaled by the dispersion, SEs. */
static void fit_coefficients(const strata_glm_params *prm, fit_state *s)
{
    glm_model *m = s->m;
    const glm_irls_ws *w = s->ws;
    size_t p = m->p;
    double disp = m->sum.dispersion;
    for (size_t j = 0; j < p; j++) {
        m->aliased[j] = w->al[j];
        m->beta[j] = w->al[j] ? NAN : w->beta[j];
        for (size_t k = 0; k < p; k++)
            m->vcov[j * p + k] = w->inv[j * p + k] * disp;
        m->se[j] = w->al[j] ? NAN : sqrt(m->vcov[j * p + j]);
    }
    m->family = prm->family;
    m->unseen = prm->unseen;
    m->block_rows = prm->block_rows;
}

/* R's warnings: no convergence, fitted values at the boundary, aliased terms. */
static void fit_warnings(strata_ctx *ctx, const strata_glm_params *prm, const glm_source *src,
                         const fit_state *s, const double tot[4])
{
    const glm_model *m = s->m;
    if (!s->res.conv)
        strata_warn(ctx, "%s: IRLS did not converge in %d iterations (formula \"%s\"); the partial fit is kept",
                    src->name, prm->max_iter, m->f->text);
    if (tot[3] > 0) {
        char terms[512];
        name_extreme_terms(m, terms, sizeof terms);
        strata_warn(ctx, "%s: %s in %.0f rows (possible separation; terms involved: %s)", src->name,
                    prm->family == STRATA_FAMILY_BINOMIAL ? "fitted probabilities numerically 0 or 1 occurred"
                                                          : "fitted rates numerically 0 occurred",
                    tot[3], terms);
    }
    for (size_t j = 0; j < m->p; j++)
        if (s->ws->al[j])
            strata_log(ctx, STRATA_LOG_INFO, "%s: coefficient '%s' not defined because of singularities (aliased)",
                       src->name, m->f->colnames[j]);
}

static void fit_log_timings(strata_ctx *ctx, const glm_source *src, const fit_state *s)
{
    double t_end = omp_get_wtime();
    int passes = s->res.iter + 1;
    /* key=value pairs first: bench/glm_table.py reads them */
    strata_log(ctx, STRATA_LOG_INFO, "glm timings: load_s=%.3f fit_s=%.3f iterations=%d irls_pass_ms=%.1f irls_pass_cpu_ms=%.1f warm_s=%.3f (%s: n %zu, p %zu; setup %.3f s, warm start %.3f s, IRLS %.3f s over %d full passes, summary %.3f s; Gram kernel %s)",
               s->t_load - s->t_start, t_end - s->t_load, s->res.iter,
               1e3 * (s->t_irls - s->t_warm) / passes, 1e3 * (s->c_irls - s->c_warm) / passes,
               s->t_warm - s->t_setup, src->name, s->n_used, s->d.p, s->t_setup - s->t_load,
               s->t_warm - s->t_setup, s->t_irls - s->t_warm, passes, t_end - s->t_irls, s->d.k.name);
}

/* created, strata_version, blas_config, n_rows (input_path and input_hash are
 * the caller's: it knows the file). */
static strata_status fit_provenance(strata_ctx *ctx, fit_state *s)
{
    char buf[512];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "created", buf));
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "strata_version", strata_version()));
    strata_blas_config(buf, sizeof buf);
    STRATA_TRY(glm_model_set_provenance(ctx, s->m, "blas_config", buf));
    snprintf(buf, sizeof buf, "%zu", s->n);
    return glm_model_set_provenance(ctx, s->m, "n_rows", buf);
}

/* ---- the driver ----------------------------------------------------------------- */

strata_status glm_fit(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                      glm_model **out)
{
    fit_state s;
    double tot[4];
    strata_status st;
    *out = NULL;
    memset(&s, 0, sizeof s);
    STRATA_TRY(strata_glm_params_check(ctx, prm));
    st = fit_parse(ctx, prm, &s);
    if (st == STRATA_OK)
        st = fit_bind(ctx, src, &s);
    if (st == STRATA_OK)
        st = fit_load(ctx, src, prm, &s);
    if (st == STRATA_OK)
        st = glm_freeze(ctx, s.f, s.vb, s.raw, s.mask, s.n);
    if (st == STRATA_OK) {
        fit_compact(&s);
        st = fit_setup(ctx, prm, &s);
    }
    if (st == STRATA_OK)
        st = fit_irls(ctx, prm, src, &s);
    if (st == STRATA_OK) {
        fit_statistics(prm, &s, tot);
        fit_coefficients(prm, &s);
        fit_warnings(ctx, prm, src, &s, tot);
        fit_log_timings(ctx, src, &s);
        st = fit_provenance(ctx, &s);
    }
    if (st == STRATA_OK) {
        *out = s.m;
        s.m = NULL;
        if (!s.res.conv)
            st = STRATA_FAIL(ctx, STRATA_ENOCONV, "%s: IRLS did not converge in %d iterations", src->name, prm->max_iter);
    }
    fit_state_free(ctx, &s);
    return st;
}
