/* models/glm/glm_irls.c — fits a GLM by IRLS exactly as R's glm.fit iterates
 * (same start, same convergence rule), with the design built per fixed row
 * block and one fused pass per iteration (eta, mu, working weights, partial
 * Gram and score per block), partials reduced in block order. Invariant:
 * coefficients are byte-identical whatever the thread count. */
#include "glm_internal.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const glm_prov_keys[GLM_NPROV] = {"input_path", "input_hash", "created",
                                              "strata_version", "blas_config", "n_rows"};

const char *strata_family_name(strata_family f)
{
    static const char *names[] = {"binomial", "poisson", "gamma", "gaussian"};
    return (unsigned)f < 4 ? names[f] : "unknown";
}

strata_status strata_family_parse(strata_ctx *ctx, const char *name, strata_family *out)
{
    for (int f = 0; f < 4; f++) {
        const char *a = strata_family_name((strata_family)f), *b = name;
        while (*a && *b && (*a | 0x20) == (*b | 0x20))
            a++, b++;
        if (!*a && !*b) {
            *out = (strata_family)f;
            return STRATA_OK;
        }
    }
    return STRATA_FAIL(ctx, STRATA_EINVAL, "unknown family '%s' (binomial, poisson, gamma, gaussian)",
                       name ? name : "(null)");
}

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
    if (p->block_rows < 16 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "glm params: block_rows %zu outside 16..2^24", p->block_rows);
    return STRATA_OK;
}

/* CPU seconds of the process (all threads): pass cost on a shared machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the blocked pass ---------------------------------------------------- */

enum { PASS_INIT = 0, PASS_ITER = 1, PASS_FINAL = 2 };

/* Rows per sub-block: the column-major design of a sub-block (SUB x p) and its
 * weighted row-major copy (SUB x ld) stay in L2 while they are built, weighted
 * and folded into the block's Gram. The fixed block (d->nb rows) is the unit of
 * the ordered reduction. */
#define SUB 256

typedef struct fitdata {
    const glm_formula *f;
    strata_family fam;
    size_t n, p, nb, nblocks, width;
    size_t bstride;          /* passes visit blocks 0, bstride, 2 bstride, ... (1: all) */
    size_t ld;               /* row length of the kernel's sub-block: p + 1 rounded up to 8 */
    la_kernels k;            /* pass kernels chosen for this CPU */
    double **raw;            /* nvars compact columns */
    const double *y, *wt, *off;
    double *eta;             /* n: linear predictor (incl. offset) of the last pass */
    int nt;
    double *tbuf;            /* per-thread workspace */
    size_t tsize;
    const double **rawb;     /* per thread nvars pointers */
    const double **colsb;    /* per thread p design-column pointers */
    int *rawcol;             /* p: glm_design_col_raw of each design column */
    double *Gp, *part;       /* per block: ld x ld extended Gram (lower), 4 scalars */
    double disp;             /* for the final pass (gamma aic) */
} fitdata;

/* One row of IRLS at eta e: deviance term, sqrt working weight *s and *v = s z. */
static inline double irls_row(strata_family fam, double y, double wt, double e, double o,
                              double *s, double *v)
{
    double mu, me, vr;
    if (fam == STRATA_FAMILY_BINOMIAL) {
        /* R's logit linkinv and mu.eta sharing one exp() */
        double t = exp(e), opexp = 1 + t;
        double tc = e < -30.0 ? DBL_EPSILON : e > 30.0 ? 1.0 / DBL_EPSILON : t;
        mu = tc / (1 + tc);
        me = (e > 30.0 || e < -30.0) ? DBL_EPSILON : t / (opexp * opexp);
        vr = mu * (1 - mu);
    } else {
        mu = glm_linkinv(fam, e);
        me = glm_mu_eta(fam, e);
        vr = glm_variance(fam, mu);
    }
    if (wt > 0 && me != 0) {
        *s = sqrt(wt * me * me / vr);
        *v = *s * ((e - o) + (y - mu) / me);
    } else {
        *s = 0;
        *v = 0;
    }
    return glm_dev_resid(fam, y, mu, wt);
}

/* The linear predictor is summed in a fixed order: the plain numeric columns
 * over a whole block first (column by column: one memory stream at a time, which
 * also brings the block into cache for the sub-block passes), then per
 * sub-block the built columns (factors, transforms, interactions) in column
 * order, then the offset. */
static void lp_raw_block(const fitdata *d, size_t r0, size_t nb, const double *beta, double *eta)
{
    memset(eta, 0, nb * sizeof *eta);
    for (size_t j = 0; j < d->p; j++) {
        if (d->rawcol[j] < 0)
            continue;
        const double *x = d->raw[d->rawcol[j]] + r0;
        d->k.axpy(nb, beta[j], x, eta);
    }
}

static void lp_built(const fitdata *d, size_t m, const double *const *cols, const double *beta,
                     const double *off, double *eta)
{
    for (size_t j = 0; j < d->p; j++) {
        if (d->rawcol[j] >= 0)
            continue;
        d->k.axpy(m, beta[j], cols[j], eta);
    }
    if (off)
        for (size_t i = 0; i < m; i++)
            eta[i] += off[i];
}

static void run_pass(fitdata *d, int mode, const double *beta)
{
    const size_t p = d->p, nb0 = d->nb, ld = d->ld;
#pragma omp parallel for num_threads(d->nt) schedule(static)
    for (long bl = 0; bl < (long)((d->nblocks + d->bstride - 1) / d->bstride); bl++) {
        int t = omp_get_thread_num();
        size_t b = (size_t)bl * d->bstride, r0 = b * nb0, nb = r0 + nb0 <= d->n ? nb0 : d->n - r0;
        double *X = d->tbuf + (size_t)t * d->tsize;
        double *work = X + SUB * (p + 1);
        double *s = work + SUB * d->width;
        /* the kernel's sub-block, 64-byte aligned (tsize leaves room for it) */
        double *A = (double *)(((uintptr_t)(s + SUB) + 63) & ~(uintptr_t)63);
        const double **rb = d->rawb + (size_t)t * d->f->nvars;
        const double **cols = d->colsb + (size_t)t * p;
        double *G = d->Gp + b * ld * ld, *part = d->part + b * 4;
        double dev = 0, a = 0, pear = 0, ext = 0;
        int bad = 0;
        if (mode != PASS_FINAL)
            memset(G, 0, ld * ld * sizeof *G);
        if (mode == PASS_ITER)
            lp_raw_block(d, r0, nb, beta, d->eta + r0);
        for (size_t q0 = r0; q0 < r0 + nb; q0 += SUB) {
            size_t m = q0 + SUB <= r0 + nb ? SUB : r0 + nb - q0;
            const double *y = d->y + q0, *wt = d->wt + q0;
            double *eta = d->eta + q0, *v = X + p * m;
            if (mode == PASS_FINAL) {
                for (size_t i = 0; i < m; i++) {
                    double mu = glm_linkinv(d->fam, eta[i]);
                    dev += glm_dev_resid(d->fam, y[i], mu, wt[i]);
                    if (!(wt[i] > 0))
                        continue;
                    a += glm_aic_row(d->fam, y[i], mu, wt[i], d->disp);
                    pear += wt[i] * (y[i] - mu) * (y[i] - mu) / glm_variance(d->fam, mu);
                    if ((d->fam == STRATA_FAMILY_BINOMIAL &&
                         (mu > 1 - 10 * DBL_EPSILON || mu < 10 * DBL_EPSILON)) ||
                        (d->fam == STRATA_FAMILY_POISSON && mu < 10 * DBL_EPSILON))
                        ext += 1;
                }
                continue;
            }
            for (size_t q = 0; q < d->f->nvars; q++)
                rb[q] = d->raw[q] + q0;
            /* the design columns: plain numeric ones read in place, others built */
            glm_design_block_cols(d->f, (double *const *)rb, m, X, work, &bad, cols);
            if (mode == PASS_INIT) {
                for (size_t i = 0; i < m; i++) {
                    double o = d->off ? d->off[q0 + i] : 0;
                    double mu = glm_mustart(d->fam, y[i], wt[i]);
                    double e = glm_linkfun(d->fam, mu), me = glm_mu_eta(d->fam, e);
                    double vr = glm_variance(d->fam, mu);
                    dev += glm_dev_resid(d->fam, y[i], mu, wt[i]);
                    if (wt[i] > 0 && me != 0) {
                        s[i] = sqrt(wt[i] * me * me / vr);
                        v[i] = s[i] * ((e - o) + (y[i] - mu) / me);
                    } else {
                        s[i] = v[i] = 0;
                    }
                }
            } else {
                /* eta, then mu, deviance, sqrt weight s and s z per row */
                lp_built(d, m, cols, beta, d->off ? d->off + q0 : NULL, eta);
                for (size_t i = 0; i < m; i++) {
                    double o = d->off ? d->off[q0 + i] : 0;
                    dev += irls_row(d->fam, y[i], wt[i], eta[i], o, &s[i], &v[i]);
                }
            }
            /* extended Gram [sX, s z]^T [sX, s z]: X^T W X and X^T W z in one
             * kernel call on the weighted row-major copy, while it is in cache */
            d->k.pack(m, p, ld, cols, s, v, A);
            d->k.gram(m, ld, A, G);
        }
        part[0] = dev;
        part[1] = a;
        part[2] = pear;
        part[3] = ext;
    }
}

/* Reduces the block partials in block order. */
static void reduce(const fitdata *d, int with_gram, double *G, double *g, double tot[4])
{
    const size_t p = d->p, ld = d->ld;
    memset(tot, 0, 4 * sizeof *tot);
    if (with_gram) {
        memset(G, 0, p * p * sizeof *G);
        memset(g, 0, p * sizeof *g);
    }
    for (size_t b = 0; b < d->nblocks; b += d->bstride) {
        const double *Gb = d->Gp + b * ld * ld; /* entry (r, c), r <= c, at r * ld + c */
        for (int k = 0; k < 4; k++)
            tot[k] += d->part[b * 4 + (size_t)k];
        if (!with_gram)
            continue;
        for (size_t c = 0; c < p; c++)
            for (size_t r = 0; r <= c; r++)
                G[c * p + r] += Gb[r * ld + c];
        for (size_t r = 0; r < p; r++)
            g[r] += Gb[r * ld + p];
    }
}

/* R's glm(): null deviance with an offset and an intercept comes from an
 * intercept-only fit with the offset (scalar IRLS, R's start and rule). */
static double null_deviance_offset(const fitdata *d, double eps, int maxit)
{
    double b = 0, devold = 0, dev = 0;
    for (size_t i = 0; i < d->n; i++)
        devold += glm_dev_resid(d->fam, d->y[i], glm_mustart(d->fam, d->y[i], d->wt[i]), d->wt[i]);
    for (int it = 0; it < maxit; it++) {
        double sw = 0, swz = 0;
        for (size_t i = 0; i < d->n; i++) {
            double e, mu, me, w2;
            if (it == 0) {
                mu = glm_mustart(d->fam, d->y[i], d->wt[i]);
                e = glm_linkfun(d->fam, mu);
            } else {
                e = b + d->off[i];
                mu = glm_linkinv(d->fam, e);
            }
            me = glm_mu_eta(d->fam, e);
            if (!(d->wt[i] > 0) || me == 0)
                continue;
            w2 = d->wt[i] * me * me / glm_variance(d->fam, mu);
            sw += w2;
            swz += w2 * ((e - d->off[i]) + (d->y[i] - mu) / me);
        }
        b = swz / sw;
        dev = 0;
        for (size_t i = 0; i < d->n; i++)
            dev += glm_dev_resid(d->fam, d->y[i], glm_linkinv(d->fam, b + d->off[i]), d->wt[i]);
        if (fabs(dev - devold) / (fabs(dev) + 0.1) < eps)
            break;
        devold = dev;
    }
    return dev;
}

/* Warm start: used when the data have at least WARM_MIN_BLOCKS blocks (524,288
 * rows at the default block size); its fit visits every WARM_STRIDE-th block. */
#define WARM_MIN_BLOCKS 64
#define WARM_STRIDE 8

static size_t warm_rows(const fitdata *d)
{
    size_t r = 0;
    for (size_t b = 0; b < d->nblocks; b += WARM_STRIDE)
        r += b * d->nb + d->nb <= d->n ? d->nb : d->n - b * d->nb;
    return r;
}

/* The IRLS workspace: Gram (p x p), score, coefficients, previous coefficients,
 * inverse, aliased flags. */
typedef struct irls_ws {
    double *G, *g, *Gold, *beta, *bold, *inv;
    unsigned char *al;
} irls_ws;

/* R's glm.fit iteration (convergence rule, step-halving) over the blocks d
 * visits. start: NULL for R's start (mustart), or coefficients to start from.
 * On STRATA_OK: w->beta, w->al, w->inv from the last solve, and *iter, *conv,
 * *rank, *dev. */
static strata_status irls(strata_ctx *ctx, fitdata *d, const strata_glm_params *prm,
                          const char *name, const double *start, irls_ws *w, int *iter_out,
                          int *conv_out, int *rank_out, double *dev_out)
{
    const size_t p = d->p;
    double tot[4], devold, dev = 0;
    int iter, conv = 0, rank = 0;
    if (start) {
        memcpy(w->bold, start, p * sizeof *start);
        run_pass(d, PASS_ITER, start);
    } else {
        memset(w->bold, 0, p * sizeof *w->bold);
        run_pass(d, PASS_INIT, NULL);
    }
    reduce(d, 1, w->G, w->g, tot);
    devold = tot[0];
    for (iter = 1; iter <= prm->max_iter; iter++) {
        strata_progress(ctx, "fit", iter, 0); /* IRLS iterations: their number is not known */
        memcpy(w->Gold, w->G, p * p * sizeof *w->G);
        rank = la_solve_pivoted(ctx, p, w->Gold, w->g, w->beta, w->al, w->inv);
        if (rank == -1)
            return STRATA_ENOMEM;
        if (rank < 0)
            return STRATA_FAIL(ctx, STRATA_ESINGULAR, "%s: weighted Gram matrix not positive definite at iteration %d", name, iter);
        for (size_t j = 0; j < p; j++)
            if (w->al[j])
                w->beta[j] = 0;
        run_pass(d, PASS_ITER, w->beta);
        reduce(d, 1, w->G, w->g, tot);
        dev = tot[0];
        /* step-halving: non-finite deviance (R), or a deviance rise beyond epsilon
         * (there is a previous deviance from iteration 2, or 1 after a warm start) */
        for (int half = 0; !isfinite(dev) || ((iter > 1 || start) && (dev - devold) / (fabs(dev) + 0.1) > prm->epsilon); half++) {
            if ((iter == 1 && !start) || half >= prm->max_iter)
                return STRATA_FAIL(ctx, STRATA_ENOCONV, "%s: IRLS found no valid coefficients (deviance %g at iteration %d); check for separation or extreme values",
                                   name, dev, iter);
            for (size_t j = 0; j < p; j++)
                w->beta[j] = (w->beta[j] + w->bold[j]) / 2;
            run_pass(d, PASS_ITER, w->beta);
            reduce(d, 1, w->G, w->g, tot);
            dev = tot[0];
        }
        if (fabs(dev - devold) / (fabs(dev) + 0.1) < prm->epsilon) {
            conv = 1;
            break;
        }
        devold = dev;
        memcpy(w->bold, w->beta, p * sizeof *w->beta);
    }
    if (iter > prm->max_iter)
        iter = prm->max_iter;
    if (start && conv) {
        /* The covariance from the Gram at the final coefficients (the last pass
         * formed it), not the previous iterate's as R: after a warm start the
         * previous iterate is fewer steps from the optimum than R's. Same rank
         * required, else the last solve's inverse stays. */
        unsigned char *al2 = strata_alloc(ctx, p);
        double *inv2 = strata_alloc(ctx, p * p * sizeof *inv2);
        if (!al2 || !inv2) {
            strata_free(ctx, al2, 0);
            strata_free(ctx, inv2, 0);
            return STRATA_ENOMEM;
        }
        memcpy(w->Gold, w->G, p * p * sizeof *w->G);
        if (la_solve_pivoted(ctx, p, w->Gold, w->g, w->bold, al2, inv2) == rank &&
            memcmp(al2, w->al, p) == 0)
            memcpy(w->inv, inv2, p * p * sizeof *inv2);
        strata_free(ctx, al2, 0);
        strata_free(ctx, inv2, 0);
    }
    *iter_out = iter;
    *conv_out = conv;
    *rank_out = rank;
    *dev_out = dev;
    return STRATA_OK;
}

strata_status glm_model_alloc(strata_ctx *ctx, glm_formula *f, strata_model **out)
{
    strata_model *m = strata_calloc(ctx, 1, sizeof *m);
    size_t p = f->p;
    *out = NULL;
    if (!m)
        return STRATA_ENOMEM;
    m->f = f;
    m->p = p;
    m->beta = strata_calloc(ctx, p, sizeof *m->beta);
    m->se = strata_calloc(ctx, p, sizeof *m->se);
    m->aliased = strata_calloc(ctx, p, 1);
    m->vcov = strata_calloc(ctx, p * p, sizeof *m->vcov);
    if (!m->beta || !m->se || !m->aliased || !m->vcov) {
        m->f = NULL;
        strata_model_free(ctx, m);
        return STRATA_ENOMEM;
    }
    m->sum.formula = f->text;
    m->block_rows = 8192;
    *out = m;
    return STRATA_OK;
}

void strata_model_free(strata_ctx *ctx, strata_model *m)
{
    if (!m)
        return;
    glm_formula_free(ctx, m->f);
    strata_free(ctx, m->beta, 0);
    strata_free(ctx, m->se, 0);
    strata_free(ctx, m->aliased, 0);
    strata_free(ctx, m->vcov, 0);
    for (int k = 0; k < GLM_NPROV; k++)
        strata_free(ctx, m->prov[k], 0);
    strata_free(ctx, m, sizeof *m);
}

static strata_status set_prov(strata_ctx *ctx, strata_model *m, int k, const char *val)
{
    strata_free(ctx, m->prov[k], 0);
    m->prov[k] = strata_strdup(ctx, val);
    return m->prov[k] ? STRATA_OK : STRATA_ENOMEM;
}

/* Reads every variable's column (one thread), checks values, builds the mask. */
static strata_status load_data(strata_ctx *ctx, const glm_source *src, glm_formula *f,
                               const strata_glm_params *prm, double **raw, unsigned char *mask,
                               size_t *n_used)
{
    size_t n = src->nrows, used = 0;
    if (n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    for (size_t v = 0; v < f->nvars; v++)
        STRATA_TRY(src->read_f64(ctx, src->ud, f->vars[v].src_col, 0, n, raw[v]));
    /* column by column (contiguous reads), rows flagged in mask */
    memset(mask, 1, n);
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = raw[v];
        for (size_t i = 0; i < n; i++)
            if (r[i] != r[i]) {
                if (prm->na_action == STRATA_NA_FAIL)
                    return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s': row %zu: missing value (na_action = fail)",
                                       src->name, f->vars[v].column, i + 1);
                mask[i] = 0;
            }
    }
    for (size_t i = 0; i < n; i++)
        used += mask[i];
    if (used == 0) {
        for (size_t v = 0; v < f->nvars; v++) {
            size_t i = 0;
            while (i < n && raw[v][i] != raw[v][i])
                i++;
            if (i == n)
                return STRATA_FAIL(ctx, STRATA_EDATA, "%s: column '%s' is missing in all %zu rows; no complete cases to fit",
                                   src->name, f->vars[v].column, n);
        }
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases in the %zu rows for formula \"%s\"",
                           src->name, n, f->text);
    }
    for (size_t v = 0; v < f->nvars; v++) {
        const double *r = raw[v];
        const glm_var *gv = &f->vars[v];
        for (size_t i = 0; i < n; i++) {
            double x = r[i];
            if (!mask[i])
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
    *n_used = used;
    return STRATA_OK;
}

static void name_extreme_terms(const strata_model *m, char *buf, size_t size)
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

strata_status glm_fit_source(strata_ctx *ctx, const glm_source *src, const strata_glm_params *prm,
                             strata_model **out)
{
    glm_formula *f = NULL;
    strata_model *m = NULL;
    fitdata d;
    double **raw = NULL, *y1 = NULL, *G = NULL, *g = NULL, *Gold = NULL, *beta = NULL,
           *bold = NULL, *bwarm = NULL, *inv = NULL, tot[4];
    unsigned char *mask = NULL, *al = NULL;
    size_t n = src->nrows, n_used = 0, p, nv;
    strata_status st;
    int conv = 0, iter = 0, rank = 0, passes = 0;
    double dev = 0, t_warm = 0, c_warm = 0, t_start = 0, t_load = 0, t_setup = 0, t_irls = 0,
           c_irls = 0;
    *out = NULL;
    memset(&d, 0, sizeof d);
    STRATA_TRY(strata_glm_params_check(ctx, prm));
    STRATA_TRY(glm_formula_parse(ctx, prm->formula, &f));
    if (prm->weights && (st = glm_formula_set_weights(ctx, f, prm->weights)) != STRATA_OK)
        goto fail;
    if ((st = glm_bind(ctx, f, src, 1, prm->unseen)) != STRATA_OK)
        goto fail;
    nv = f->nvars;
    st = STRATA_ENOMEM;
    raw = strata_calloc(ctx, nv, sizeof *raw);
    mask = strata_alloc(ctx, n + 1);
    if (!raw || !mask)
        goto fail;
    for (size_t v = 0; v < nv; v++)
        if (!(raw[v] = strata_alloc(ctx, (n + 1) * sizeof **raw)))
            goto fail;
    /* Touch the new columns on every thread before HDF5 fills them on one: at
     * 10 M x 60 the page faults of a single-threaded first touch cost 3-8 s,
     * spread over the threads they cost ~1 s (docs/glm.md). */
    t_start = omp_get_wtime(); /* load_s counts the touch */
#pragma omp parallel for num_threads(strata_threads(ctx)) schedule(static)
    for (long v = 0; v < (long)nv; v++)
        memset(raw[v], 0, (n + 1) * sizeof **raw);
    if ((st = load_data(ctx, src, f, prm, raw, mask, &n_used)) != STRATA_OK)
        goto fail;
    t_load = omp_get_wtime();
    if ((st = glm_design_setup(ctx, f, raw, mask, n)) != STRATA_OK)
        goto fail;
    /* compact to the complete cases (nothing to move when every row is one) */
    for (size_t v = 0; v < nv && n_used < n; v++) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (mask[i])
                raw[v][w++] = raw[v][i];
    }
    p = f->p;
    st = STRATA_ENOMEM;
    d.f = f;
    d.fam = prm->family;
    d.n = n_used;
    d.p = p;
    d.nb = prm->block_rows;
    d.nblocks = (n_used + d.nb - 1) / d.nb;
    d.bstride = 1;
    d.width = glm_design_work(f);
    d.raw = raw;
    d.nt = strata_threads(ctx);
    if ((size_t)d.nt > d.nblocks)
        d.nt = (int)d.nblocks;
    d.ld = la_gram_ld(p + 1);
    la_kernels_get(LA_ISA_AUTO, &d.k);
    d.tsize = SUB * (p + 1 + d.width + 1) + SUB * d.ld + 8;
    y1 = strata_alloc(ctx, 2 * n_used * sizeof *y1 + 1);
    d.tbuf = strata_alloc(ctx, (size_t)d.nt * d.tsize * sizeof *d.tbuf);
    d.rawb = strata_calloc(ctx, (size_t)d.nt * nv, sizeof *d.rawb);
    d.colsb = strata_calloc(ctx, (size_t)d.nt * p + 1, sizeof *d.colsb);
    d.rawcol = strata_alloc(ctx, (p + 1) * sizeof *d.rawcol);
    d.Gp = strata_alloc(ctx, d.nblocks * d.ld * d.ld * sizeof *d.Gp);
    d.eta = strata_alloc(ctx, n_used * sizeof *d.eta + 1);
    d.part = strata_calloc(ctx, d.nblocks * 4, sizeof *d.part);
    G = strata_alloc(ctx, p * p * sizeof *G);
    Gold = strata_alloc(ctx, p * p * sizeof *G);
    g = strata_alloc(ctx, p * sizeof *g);
    beta = strata_alloc(ctx, p * sizeof *beta);
    bold = strata_calloc(ctx, p, sizeof *bold);
    bwarm = strata_calloc(ctx, p, sizeof *bwarm);
    inv = strata_alloc(ctx, p * p * sizeof *inv);
    al = strata_alloc(ctx, p);
    if (!y1 || !d.tbuf || !d.rawb || !d.colsb || !d.rawcol || !d.Gp || !d.eta || !d.part || !G || !Gold || !g || !beta ||
        !bold || !bwarm || !inv || !al)
        goto fail;
    for (size_t j = 0; j < p; j++)
        d.rawcol[j] = glm_design_col_raw(f, j);
    d.y = raw[f->response];
    if (f->weights >= 0) {
        d.wt = raw[f->weights];
    } else {
        for (size_t i = 0; i < n_used; i++)
            y1[i] = 1.0;
        d.wt = y1;
    }
    if (f->noffsets) {
        double *o = y1 + n_used;
        for (size_t i = 0; i < n_used; i++)
            o[i] = glm_offset_value(f, raw, i);
        d.off = o;
    }
    if ((st = glm_model_alloc(ctx, f, &m)) != STRATA_OK)
        goto fail;
    f = NULL; /* owned by m */

    /* ---- IRLS, R's glm.fit ---- */
    t_setup = omp_get_wtime();
    {
        irls_ws w = {G, g, Gold, beta, bold, inv, al};
        int warm = 0;
        /* Warm start (docs/glm.md): on large data, R's iteration first runs on
         * every WARM_STRIDE-th block; the full data then start from its
         * coefficients and need fewer passes. Any failure there falls back to
         * R's start. */
        if (prm->warm_start && d.nblocks >= WARM_MIN_BLOCKS) {
            fitdata ds = d;
            int it_s = 0, conv_s = 0, rank_s = 0;
            double dev_s = 0;
            ds.bstride = WARM_STRIDE;
            st = irls(ctx, &ds, prm, src->name, NULL, &w, &it_s, &conv_s, &rank_s, &dev_s);
            if (st == STRATA_ENOMEM)
                goto fail;
            /* aliased columns (e.g. rcs(age, 4) + age:sex) start at 0; the
             * full fit finds its own aliasing */
            warm = st == STRATA_OK && conv_s;
            (void)rank_s;
            strata_log(ctx, STRATA_LOG_INFO, "%s: warm start on every %dth block (%zu of %zu rows): %d iterations, %s",
                       src->name, WARM_STRIDE, warm_rows(&d), n_used, it_s,
                       warm ? "used" : "not used (no convergence); starting as R does");
            if (warm)
                memcpy(bwarm, beta, p * sizeof *beta);
        }
        t_warm = omp_get_wtime();
        c_warm = cpu_seconds();
        st = irls(ctx, &d, prm, src->name, warm ? bwarm : NULL, &w, &iter, &conv, &rank, &dev);
        strata_progress(ctx, "fit", -(double)iter, 0); /* the end */
        if (st != STRATA_OK)
            goto fail;
        passes = iter + 1;
    }
    t_irls = omp_get_wtime();
    c_irls = cpu_seconds();

    /* ---- summary ---- */
    {
        double sw = 0, slw = 0, swy = 0, nulldev = 0, disp = 1;
        size_t n_ok = 0;
        strata_fit_summary *S = &m->sum;
        for (size_t i = 0; i < n_used; i++) {
            if (d.wt[i] > 0) {
                n_ok++;
                slw += log(d.wt[i]);
            }
            sw += d.wt[i];
            swy += d.wt[i] * d.y[i];
        }
        d.disp = dev / sw;
        run_pass(&d, PASS_FINAL, beta);
        reduce(&d, 0, NULL, NULL, tot);
        if (m->f->intercept && d.off) {
            nulldev = null_deviance_offset(&d, prm->epsilon, prm->max_iter);
        } else {
            for (size_t i = 0; i < n_used; i++) {
                double mu0 = m->f->intercept ? swy / sw : glm_linkinv(prm->family, d.off ? d.off[i] : 0);
                nulldev += glm_dev_resid(prm->family, d.y[i], mu0, d.wt[i]);
            }
        }
        S->family = prm->family;
        S->formula = m->f->text;
        S->deviance = dev;
        S->null_deviance = nulldev;
        S->rank = rank;
        S->df_residual = (double)n_ok - rank;
        S->df_null = (double)n_ok - (m->f->intercept ? 1 : 0);
        if (prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN)
            disp = S->df_residual > 0 ? tot[2] / S->df_residual : NAN;
        S->dispersion = disp;
        S->aic = tot[1] + glm_aic_const(prm->family, dev, sw, slw, n_used) + 2.0 * rank;
        S->iterations = iter;
        S->n_used = n_used;
        S->n_dropped = n - n_used;
        S->converged = conv;
        S->t_statistic = prm->family == STRATA_FAMILY_GAMMA || prm->family == STRATA_FAMILY_GAUSSIAN;
        for (size_t j = 0; j < p; j++) {
            m->aliased[j] = al[j];
            m->beta[j] = al[j] ? NAN : beta[j];
            for (size_t k = 0; k < p; k++)
                m->vcov[j * p + k] = inv[j * p + k] * disp;
            m->se[j] = al[j] ? NAN : sqrt(m->vcov[j * p + j]);
        }
        m->family = prm->family;
        m->unseen = prm->unseen;
        m->block_rows = prm->block_rows;
        if (!conv)
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
        for (size_t j = 0; j < p; j++)
            if (al[j])
                strata_log(ctx, STRATA_LOG_INFO, "%s: coefficient '%s' not defined because of singularities (aliased)",
                           src->name, m->f->colnames[j]);
    }
    {
        double t_end = omp_get_wtime();
        /* key=value pairs first: bench/glm_table.py reads them */
        strata_log(ctx, STRATA_LOG_INFO, "glm timings: load_s=%.3f fit_s=%.3f iterations=%d irls_pass_ms=%.1f irls_pass_cpu_ms=%.1f warm_s=%.3f (%s: n %zu, p %zu; setup %.3f s, warm start %.3f s, IRLS %.3f s over %d full passes, summary %.3f s; Gram kernel %s)",
                   t_load - t_start, t_end - t_load, iter, 1e3 * (t_irls - t_warm) / passes,
                   1e3 * (c_irls - c_warm) / passes, t_warm - t_setup, src->name, n_used, p,
                   t_setup - t_load, t_warm - t_setup, t_irls - t_warm, passes, t_end - t_irls,
                   d.k.name);
    }
    {
        char buf[512];
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        st = set_prov(ctx, m, 2, buf);
        if (st == STRATA_OK)
            st = set_prov(ctx, m, 3, strata_version());
        strata_blas_config(buf, sizeof buf);
        if (st == STRATA_OK)
            st = set_prov(ctx, m, 4, buf);
        snprintf(buf, sizeof buf, "%zu", n);
        if (st == STRATA_OK)
            st = set_prov(ctx, m, 5, buf);
        if (st != STRATA_OK)
            goto fail;
    }
    if (!conv) {
        st = STRATA_FAIL(ctx, STRATA_ENOCONV, "%s: IRLS did not converge in %d iterations", src->name, prm->max_iter);
    } else {
        st = STRATA_OK;
    }
    *out = m;
    m = NULL;
fail:
    if (raw)
        for (size_t v = 0; v < nv; v++)
            strata_free(ctx, raw[v], 0);
    strata_free(ctx, raw, 0);
    strata_free(ctx, mask, 0);
    strata_free(ctx, y1, 0);
    strata_free(ctx, d.tbuf, 0);
    strata_free(ctx, (void *)d.rawb, 0);
    strata_free(ctx, (void *)d.colsb, 0);
    strata_free(ctx, d.rawcol, 0);
    strata_free(ctx, d.Gp, 0);
    strata_free(ctx, d.eta, 0);
    strata_free(ctx, d.part, 0);
    strata_free(ctx, G, 0);
    strata_free(ctx, Gold, 0);
    strata_free(ctx, g, 0);
    strata_free(ctx, beta, 0);
    strata_free(ctx, bold, 0);
    strata_free(ctx, bwarm, 0);
    strata_free(ctx, inv, 0);
    strata_free(ctx, al, 0);
    strata_model_free(ctx, m);
    glm_formula_free(ctx, f);
    return st;
}
