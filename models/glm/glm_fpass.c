/* models/glm/glm_fpass.c — the categorical-aware pass (docs/glm.md): a factor
 * main effect is kept as level codes, never as one-hot columns. Its Gram block
 * is a diagonal of weighted level counts, factor x dense a per-level sum of the
 * weighted dense row, factor x factor a weighted contingency table, and its
 * part of eta a table lookup. Invariant: every sum runs in row order inside a
 * fixed group of blocks and groups are summed in order: thread-count free. */
#include "glm_fit.h"

#include <string.h>

static size_t fac_columns(const glm_formula *f, int *nfcols_per_var)
{
    size_t k = 0;
    for (size_t j = 0; j < f->p; j++) {
        int v = glm_design_col_factor(f, j);
        if (v >= 0) {
            nfcols_per_var[v]++;
            k++;
        }
    }
    return k;
}

/* Chooses the mode: auto takes the categorical-aware pass when the factor
 * main effects have at least GLM_FACTOR_MIN_COLS columns between them. */
static int choose_mode(int pass, size_t kf)
{
    if (pass == STRATA_GLM_PASS_DENSE || kf == 0)
        return 0;
    return pass == STRATA_GLM_PASS_FACTOR || kf >= GLM_FACTOR_MIN_COLS;
}

/* Factors, the column maps and the layout of a compact partial:
 * [dense Gram ldd x ldd][per factor: diagonal L][per factor: L x ldd][per pair f < g: L_f x L_g]. */
static strata_status layout(strata_ctx *ctx, fitdata *d, const int *nfc)
{
    const glm_formula *f = d->f;
    size_t p = d->p, nf = 0, off;
    int vfac[GLM_MAXVARS];
    for (size_t v = 0; v < f->nvars; v++)
        vfac[v] = nfc[v] ? (int)nf++ : -1;
    d->nfac = nf;
    d->fac = strata_calloc(ctx, nf + 1, sizeof *d->fac);
    d->oC = strata_calloc(ctx, nf * nf + 1, sizeof *d->oC);
    if (!d->fac || !d->oC)
        return STRATA_ENOMEM;
    for (size_t v = 0; v < f->nvars; v++) {
        glm_fac *F;
        if (vfac[v] < 0)
            continue;
        F = &d->fac[vfac[v]];
        F->var = (int)v;
        F->L = f->vars[v].n_levels;
        if (!(F->col = strata_alloc(ctx, (F->L + 1) * sizeof *F->col)))
            return STRATA_ENOMEM;
        for (size_t l = 0; l < F->L; l++)
            F->col[l] = -1;
    }
    d->qd = 0;
    for (size_t j = 0; j < p; j++) {
        int v = glm_design_col_factor(f, j);
        if (v >= 0) {
            glm_fac *F = &d->fac[vfac[v]];
            size_t l = (size_t)f->cols[j].sub[0];
            F->col[l] = (int)j;
            d->jfac[j] = vfac[v];
            d->jpos[j] = l;
        } else {
            d->jfac[j] = -1;
            d->jpos[j] = d->qd;
            d->dj[d->qd++] = j;
        }
    }
    d->ldd = la_gram_ld(d->qd + 1);
    off = d->ldd * d->ldd;
    for (size_t a = 0, t = 0; a < nf; a++) {
        d->fac[a].oD = off;
        off += d->fac[a].L;
        d->fac[a].tab = t;
        t += d->fac[a].L;
    }
    for (size_t a = 0; a < nf; a++) {
        d->fac[a].oB = off;
        off += d->fac[a].L * d->ldd;
    }
    for (size_t a = 0; a < nf; a++)
        for (size_t b = a + 1; b < nf; b++) {
            d->oC[a * nf + b] = off;
            off += d->fac[a].L * d->fac[b].L;
        }
    d->csize = off;
    return STRATA_OK;
}

/* Combined codes: the product of the factors' level counts when there are two
 * factors or more, each small, and the product is at most GLM_FCOMB_MAX (and
 * an eighth of a block: a block's sums are folded once per block); else 0. */
static size_t comb_count(const fitdata *d)
{
    size_t c = 1;
    if (d->nfac < 2)
        return 0;
    for (size_t a = 0; a < d->nfac; a++) {
        if (d->fac[a].L > GLM_FSMALL)
            return 0;
        c *= d->fac[a].L;
        if (c > GLM_FCOMB_MAX || 8 * c > d->nb)
            return 0;
    }
    return c;
}

static strata_status comb_alloc(strata_ctx *ctx, fitdata *d)
{
    const size_t nf = d->nfac, nc = comb_count(d);
    if (!nc)
        return STRATA_OK;
    d->cstr = strata_alloc(ctx, nf * sizeof *d->cstr);
    d->clev = strata_alloc(ctx, nc * nf * sizeof *d->clev);
    d->ctab = strata_calloc(ctx, nc, sizeof *d->ctab);
    d->codeb = strata_alloc(ctx, (size_t)d->nt * GLM_SUB * sizeof *d->codeb);
    d->cscr_size = nc * (d->ldd + 1);
    d->cscr = strata_calloc(ctx, (size_t)d->nt * d->cscr_size, sizeof *d->cscr);
    if (!d->cstr || !d->clev || !d->ctab || !d->codeb || !d->cscr)
        return STRATA_ENOMEM;
    for (size_t a = nf, st = 1; a-- > 0;) {
        d->cstr[a] = st;
        st *= d->fac[a].L;
    }
    for (size_t c = 0; c < nc; c++)
        for (size_t a = 0; a < nf; a++)
            d->clev[c * nf + a] = (int)(c / d->cstr[a] % d->fac[a].L);
    d->ncomb = nc;
    return STRATA_OK;
}

strata_status glm_fpass_alloc(strata_ctx *ctx, fitdata *d, int pass)
{
    int nfc[GLM_MAXVARS] = {0};
    size_t kf = fac_columns(d->f, nfc), ng, ntab = 0;
    d->fmode = choose_mode(pass, kf);
    if (!d->fmode)
        return STRATA_OK;
    d->jfac = strata_alloc(ctx, (d->p + 1) * sizeof *d->jfac);
    d->jpos = strata_alloc(ctx, (d->p + 1) * sizeof *d->jpos);
    d->dj = strata_alloc(ctx, (d->p + 1) * sizeof *d->dj);
    if (!d->jfac || !d->jpos || !d->dj)
        return STRATA_ENOMEM;
    STRATA_TRY(layout(ctx, d, nfc));
    for (size_t a = 0; a < d->nfac; a++)
        ntab += d->fac[a].L;
    ng = d->nblocks < GLM_FGROUPS ? d->nblocks : GLM_FGROUPS;
    d->Pp = strata_alloc(ctx, ng * d->csize * sizeof *d->Pp);
    d->Ptot = strata_alloc(ctx, d->csize * sizeof *d->Ptot);
    d->ftab = strata_calloc(ctx, ntab + 1, sizeof *d->ftab);
    d->levb = strata_alloc(ctx, (size_t)d->nt * d->nfac * GLM_SUB * sizeof *d->levb);
    d->dcolsb = strata_calloc(ctx, (size_t)d->nt * d->qd + 1, sizeof *d->dcolsb);
    d->ntab = ntab;
    d->fscr_size = 0;
    for (size_t a = 0; a < d->nfac; a++)
        if (d->fac[a].L <= GLM_FSMALL && d->fac[a].L * (d->ldd + 1) > d->fscr_size)
            d->fscr_size = d->fac[a].L * (d->ldd + 1);
    d->fscr = strata_calloc(ctx, (size_t)d->nt * d->fscr_size + 1, sizeof *d->fscr);
    if (!d->fscr || !d->Pp || !d->Ptot || !d->ftab || !d->levb || !d->dcolsb)
        return STRATA_ENOMEM;
    STRATA_TRY(comb_alloc(ctx, d));
    return glm_schur_alloc(ctx, d);
}

void glm_fpass_free(strata_ctx *ctx, fitdata *d)
{
    for (size_t a = 0; d->fac && a < d->nfac; a++)
        strata_free(ctx, d->fac[a].col, 0);
    strata_free(ctx, d->fac, 0);
    strata_free(ctx, d->oC, 0);
    strata_free(ctx, d->jfac, 0);
    strata_free(ctx, d->jpos, 0);
    strata_free(ctx, d->dj, 0);
    strata_free(ctx, d->Pp, 0);
    strata_free(ctx, d->Ptot, 0);
    strata_free(ctx, d->ftab, 0);
    strata_free(ctx, d->fscr, 0);
    strata_free(ctx, d->levb, 0);
    strata_free(ctx, (void *)d->dcolsb, 0);
    strata_free(ctx, d->cstr, 0);
    strata_free(ctx, d->clev, 0);
    strata_free(ctx, d->ctab, 0);
    strata_free(ctx, d->codeb, 0);
    strata_free(ctx, d->cscr, 0);
    glm_schur_free(ctx, d->schur);
}

void glm_fpass_levels(const fitdata *d, size_t q0, size_t m, int *lev, size_t ls)
{
    for (size_t a = 0; a < d->nfac; a++) {
        const glm_varbind *b = &d->vb[d->fac[a].var];
        const double *r = d->raw[d->fac[a].var] + q0;
        int *o = lev + a * ls;
        /* complete cases of the fitting rows: every code has a frozen level */
        for (size_t i = 0; i < m; i++)
            o[i] = b->code_map[(size_t)r[i]];
    }
}

void glm_fpass_levcache(const fitdata *d, int *buf)
{
    const size_t n = d->n;
#pragma omp parallel for num_threads(d->nt) schedule(static) if (d->nt > 1)
    for (long c = 0; c < (long)((n + 4095) / 4096); c++) {
        size_t i0 = (size_t)c * 4096;
        glm_fpass_levels(d, i0, n - i0 < 4096 ? n - i0 : 4096, buf + i0, n);
    }
}

void glm_fpass_table(fitdata *d, const double *beta)
{
    for (size_t a = 0; a < d->nfac; a++) {
        const glm_fac *F = &d->fac[a];
        for (size_t l = 0; l < F->L; l++)
            d->ftab[F->tab + l] = F->col[l] >= 0 ? beta[F->col[l]] : 0.0;
    }
    for (size_t c = 0; c < d->ncomb; c++) {
        double t = 0;
        for (size_t a = 0; a < d->nfac; a++)
            t += d->ftab[d->fac[a].tab + (size_t)d->clev[c * d->nfac + a]];
        d->ctab[c] = t;
    }
}

void glm_fpass_codes(const fitdata *d, size_t q0, size_t m, int *lev, int *code)
{
    glm_fpass_levels(d, q0, m, lev, GLM_SUB);
    for (size_t i = 0; i < m; i++)
        code[i] = 0;
    for (size_t a = 0; a < d->nfac; a++) {
        const int *l = lev + a * GLM_SUB, st = (int)d->cstr[a];
        for (size_t i = 0; i < m; i++)
            code[i] += l[i] * st;
    }
}

void glm_fpass_codecache(const fitdata *d, int *buf)
{
    const size_t n = d->n;
#pragma omp parallel for num_threads(d->nt) schedule(static) if (d->nt > 1)
    for (long c = 0; c < (long)((n + 4095) / 4096); c++) {
        size_t i0 = (size_t)c * 4096, m = n - i0 < 4096 ? n - i0 : 4096;
        int *o = buf + i0;
        for (size_t a = 0; a < d->nfac; a++) {
            const glm_varbind *b = &d->vb[d->fac[a].var];
            const double *r = d->raw[d->fac[a].var] + i0;
            const int st = (int)d->cstr[a];
            if (a == 0)
                for (size_t i = 0; i < m; i++)
                    o[i] = b->code_map[(size_t)r[i]] * st;
            else
                for (size_t i = 0; i < m; i++)
                    o[i] += b->code_map[(size_t)r[i]] * st;
        }
    }
}

void glm_fpass_lpc(const fitdata *d, size_t m, const int *code, double *eta)
{
    const double *t = d->ctab;
    for (size_t i = 0; i < m; i++)
        eta[i] += t[code[i]];
}

void glm_fpass_accumc(const fitdata *d, int t, size_t m, const int *code, const double *s,
                      const double *A, double *P)
{
    double *CB = d->cscr + (size_t)t * d->cscr_size;
    d->k.gram(m, d->ldd, A, P);
    d->k.scatter(m, d->ldd, A, s, code, CB, CB + d->ncomb * d->ldd);
}

/* A combination without rows (or only rows of weight 0) holds exact zeros:
 * adding them would change nothing, so it is skipped. */
static int comb_zero(const double *b, size_t ldd, double dw)
{
    if (dw != 0)
        return 0;
    for (size_t k = 0; k < ldd; k++)
        if (b[k] != 0)
            return 0;
    return 1;
}

void glm_fpass_fold(const fitdata *d, int t, double *P)
{
    const size_t nf = d->nfac, ldd = d->ldd;
    double *CB = d->cscr + (size_t)t * d->cscr_size, *CD = CB + d->ncomb * ldd;
    for (size_t c = 0; c < d->ncomb; c++) {
        double *b = CB + c * ldd, dw = CD[c];
        const int *lv = d->clev + c * nf;
        if (comb_zero(b, ldd, dw))
            continue;
        for (size_t a = 0; a < nf; a++) {
            const glm_fac *F = &d->fac[a];
            double *PB = P + F->oB + (size_t)lv[a] * ldd;
            for (size_t k = 0; k < ldd; k++)
                PB[k] += b[k];
            P[F->oD + (size_t)lv[a]] += dw;
            for (size_t g = a + 1; g < nf; g++)
                P[d->oC[a * nf + g] + (size_t)lv[a] * d->fac[g].L + (size_t)lv[g]] += dw;
        }
        memset(b, 0, ldd * sizeof *b);
        CD[c] = 0;
    }
}

void glm_fpass_lp(const fitdata *d, size_t m, const int *lev, size_t ls, double *eta)
{
    for (size_t a = 0; a < d->nfac; a++) {
        const double *t = d->ftab + d->fac[a].tab;
        const int *l = lev + a * ls;
        for (size_t i = 0; i < m; i++)
            eta[i] += t[l[i]];
    }
}

/* A small factor's level sums of one sub-block, formed in the thread's zeroed
 * scratch and then added to the partial (as the Gram kernel adds its
 * sub-block sums: fewer rounding steps per entry; about half the difference
 * to the dense path on the diabetes goldens), the scratch cleared again. */
static void accum_small(const fitdata *d, int t, size_t m, const glm_fac *F, const int *la,
                        const double *s, const double *A, double *P)
{
    const size_t ldd = d->ldd, L = F->L;
    double *SB = d->fscr + (size_t)t * d->fscr_size, *SD = SB + L * ldd;
    double *PB = P + F->oB, *PD = P + F->oD;
    d->k.scatter(m, ldd, A, s, la, SB, SD);
    for (size_t l = 0; l < L; l++) {
        PD[l] += SD[l];
        SD[l] = 0;
    }
    for (size_t k = 0; k < L * ldd; k++) {
        PB[k] += SB[k];
        SB[k] = 0;
    }
}

void glm_fpass_accum(const fitdata *d, int t, size_t m, const int *lev, size_t ls, const double *s,
                     const double *A, double *P)
{
    const size_t nf = d->nfac, ldd = d->ldd;
    /* dense x dense (and dense x z): the Gram kernel */
    d->k.gram(m, ldd, A, P);
    for (size_t a = 0; a < nf; a++) {
        const glm_fac *F = &d->fac[a];
        const int *la = lev + a * ls;
        /* own block: weighted level counts; factor x dense and x z: the
         * weighted dense row, scaled by s once more, summed per level: a big
         * factor's rows straight into the partial in row order (a level
         * recurs rarely within a sub-block, and clearing an L x ldd scratch
         * per sub-block would cost more than the rows) */
        if (F->L <= GLM_FSMALL)
            accum_small(d, t, m, F, la, s, A, P);
        else
            d->k.scatter(m, ldd, A, s, la, P + F->oB, P + F->oD);
        /* factor x factor: weighted contingency tables */
        for (size_t b = a + 1; b < nf; b++) {
            double *C = P + d->oC[a * nf + b];
            const int *lb = lev + b * ls;
            const size_t Lb = d->fac[b].L;
            for (size_t i = 0; i < m; i++)
                if (s[i] != 0)
                    C[(size_t)la[i] * Lb + (size_t)lb[i]] += s[i] * s[i];
        }
    }
}

/* Entry (r, c), r <= c, of X^T W X from the compact total T. */
static double entry(const fitdata *d, const double *T, size_t r, size_t c)
{
    int fr = d->jfac[r], fc = d->jfac[c];
    size_t pr = d->jpos[r], pc = d->jpos[c];
    if (fr < 0 && fc < 0)
        return T[pr * d->ldd + pc];
    if (fr < 0)
        return T[d->fac[fc].oB + pc * d->ldd + pr];
    if (fc < 0)
        return T[d->fac[fr].oB + pr * d->ldd + pc];
    if (fr == fc)
        return r == c ? T[d->fac[fr].oD + pr] : 0.0;
    if (fr < fc)
        return T[d->oC[(size_t)fr * d->nfac + (size_t)fc] + pr * d->fac[fc].L + pc];
    return T[d->oC[(size_t)fc * d->nfac + (size_t)fr] + pc * d->fac[fr].L + pr];
}

double glm_fpass_entry(const fitdata *d, const double *T, size_t r, size_t c)
{
    return r <= c ? entry(d, T, r, c) : entry(d, T, c, r);
}

size_t glm_gram_size(const fitdata *d)
{
    return d->schur ? d->csize : d->p * d->p;
}

void glm_fpass_reduce(fitdata *d, size_t ng, double *G, double *g)
{
    const size_t p = d->p, cs = d->csize;
    double *T = d->schur ? G : d->Ptot; /* the Schur solve reads the compact total */
    memcpy(T, d->Pp, cs * sizeof *T);
    for (size_t k = 1; k < ng; k++) {
        const double *Pk = d->Pp + k * cs;
        for (size_t i = 0; i < cs; i++)
            T[i] += Pk[i];
    }
    for (size_t c = 0; c < p && !d->schur; c++)
        for (size_t r = 0; r <= c; r++)
            G[c * p + r] = entry(d, T, r, c);
    for (size_t r = 0; r < p; r++)
        g[r] = d->jfac[r] < 0 ? T[d->jpos[r] * d->ldd + d->qd]
                              : T[d->fac[d->jfac[r]].oB + d->jpos[r] * d->ldd + d->qd];
}
