/* engine/aggregate/strat_audit.c — the disclosure path's own differencing attack.
 * Rounding to 5 alone does not protect a cell: a total and its rounded
 * components can meet at the edge of their bands (a PCN published 175, its
 * four practices 55, 35, 35, 40: the practices add to at most 173, the PCN is
 * at least 173, so every one of the five is exact). After suppression and
 * before publication, every published count and total of the set becomes an
 * interval (a rounded value its rounding band, a withheld one [0, inf), a
 * published 0 exact), every relation the path knows (row partitions, rows
 * under a total row, parent links, the same cell in two tables) a linear
 * constraint, and intervals are narrowed to a fixed point. A cell narrowed to
 * one value is withheld (a withheld one: its smallest visible partner), and
 * the caller repeats complementary suppression and the audit until nothing is
 * pinned. Counts only: expected events give a count back only where E = O
 * exactly (a model factor's level), and there their relations are the
 * counts' own. Invariant: the constraints are exactly those of the set, so a
 * count the audit leaves open cannot be pinned by these relations. */
#include "internal.h"
#include "table_internal.h"

#include <math.h>
#include <string.h>

#define INF 1e300

typedef struct audit {
    size_t n, ncons, nterm, capc, capt;
    size_t **base;       /* base[k][j]: first variable of table k's column j, or SIZE_MAX */
    double *lo, *hi;
    uint8_t *integer;
    uint8_t **hid;       /* the cell's hidden flag */
    double *val;         /* the exact value (for choosing a partner) */
    size_t *cstart, *term; /* CSR: constraint c has terms term[cstart[c] .. cstart[c+1]-1] */
    signed char *coef;
} audit;

static strata_status grow(strata_ctx *ctx, audit *a, size_t terms)
{
    if (a->ncons + 2 > a->capc) {
        size_t nc = a->capc ? 2 * a->capc : 1024;
        size_t *cs = strata_realloc(ctx, a->cstart, a->capc * sizeof *cs, nc * sizeof *cs);
        if (!cs)
            return STRATA_ENOMEM;
        a->cstart = cs;
        a->capc = nc;
    }
    if (a->nterm + terms > a->capt) {
        size_t nt = a->capt ? 2 * a->capt : 4096;
        size_t *tm;
        signed char *cf;
        while (nt < a->nterm + terms)
            nt *= 2;
        tm = strata_realloc(ctx, a->term, a->capt * sizeof *tm, nt * sizeof *tm);
        if (!tm)
            return STRATA_ENOMEM;
        a->term = tm;
        cf = strata_realloc(ctx, a->coef, a->capt * sizeof *cf, nt * sizeof *cf);
        if (!cf)
            return STRATA_ENOMEM;
        a->coef = cf;
        a->capt = nt;
    }
    return STRATA_OK;
}

/* total = sum of members (variables). */
static strata_status relation(strata_ctx *ctx, audit *a, size_t total, const size_t *m, size_t nm)
{
    if (nm == 0)
        return STRATA_OK;
    STRATA_TRY(grow(ctx, a, nm + 1));
    a->cstart[a->ncons] = a->nterm;
    a->term[a->nterm] = total;
    a->coef[a->nterm++] = -1;
    for (size_t k = 0; k < nm; k++) {
        a->term[a->nterm] = m[k];
        a->coef[a->nterm++] = 1;
    }
    a->ncons++;
    a->cstart[a->ncons] = a->nterm;
    return STRATA_OK;
}

static size_t var_of(const audit *a, size_t k, int j, size_t i)
{
    return a->base[k][j] == SIZE_MAX ? SIZE_MAX : a->base[k][j] + i;
}

/* Interval of one published cell. */
static void bounds(const strata_sdc_params *p, const tcol *c, size_t i, double *lo, double *hi)
{
    double v = c->v[i], r = p->round_to > 1 ? p->round_to : 0;
    if (c->hidden[i] || isnan(v)) {
        *lo = 0, *hi = INF;
        return;
    }
    if (r == 0) {
        *lo = *hi = v;
        return;
    }
    v = floor(v / r + 0.5) * r; /* as it will be published */
    if (v == 0 && c->kind == STRATA_COL_COUNT) {
        *lo = *hi = 0; /* 1..lo-1 would be withheld: a published 0 is exact */
        return;
    }
    *lo = v - r / 2, *hi = v + r / 2;
    if (c->kind == STRATA_COL_COUNT) {
        *lo = ceil(*lo);
        *hi = ceil(*hi) - 1;
        if (*lo <= p->hi && *hi >= p->lo)
            *lo = p->hi + 1;
    }
}

static strata_status add_vars(strata_ctx *ctx, const strata_sdc_params *p, size_t n,
                              strata_table **t, audit *a)
{
    a->base = strata_calloc(ctx, n + 1, sizeof *a->base);
    if (!a->base)
        return STRATA_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        if (!(a->base[k] = strata_alloc(ctx, (t[k]->n_cols + 1) * sizeof **a->base)))
            return STRATA_ENOMEM;
        for (size_t j = 0; j < t[k]->n_cols; j++) {
            /* counts only: expected events (TOTAL) give a count back only where E = O
             * exactly, and there their relations are the counts' own */
            int in = t[k]->cols[j].kind == STRATA_COL_COUNT;
            a->base[k][j] = in ? a->n : SIZE_MAX;
            a->n += in ? t[k]->n_rows : 0;
        }
    }
    a->lo = strata_alloc(ctx, (a->n + 1) * sizeof *a->lo);
    a->hi = strata_alloc(ctx, (a->n + 1) * sizeof *a->hi);
    a->val = strata_alloc(ctx, (a->n + 1) * sizeof *a->val);
    a->integer = strata_alloc(ctx, a->n + 1);
    a->hid = strata_alloc(ctx, (a->n + 1) * sizeof *a->hid);
    if (!a->lo || !a->hi || !a->val || !a->integer || !a->hid)
        return STRATA_ENOMEM;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < t[k]->n_cols; j++) {
            tcol *c = &t[k]->cols[j];
            if (a->base[k][j] == SIZE_MAX)
                continue;
            for (size_t i = 0; i < t[k]->n_rows; i++) {
                size_t x = a->base[k][j] + i;
                bounds(p, c, i, &a->lo[x], &a->hi[x]);
                a->integer[x] = c->kind == STRATA_COL_COUNT;
                a->hid[x] = &c->hidden[i];
                a->val[x] = c->v[i];
            }
        }
    return STRATA_OK;
}

/* Row partitions and rows under a total row of table k. */
static strata_status table_relations(strata_ctx *ctx, audit *a, size_t k, const strata_table *t,
                                     size_t *m)
{
    int *cols = strata_alloc(ctx, (t->n_cols + 1) * sizeof *cols);
    size_t *start = NULL, *rows = NULL;
    strata_status s = cols ? STRATA_OK : STRATA_ENOMEM;
    for (size_t tc = 0; s == STRATA_OK && tc < t->n_cols; tc++)
        for (int g = 0; s == STRATA_OK && g < 8 && a->base[k][tc] != SIZE_MAX; g++) {
            size_t nc = 0;
            for (size_t j = 0; j < t->n_cols; j++)
                if (t->cols[j].part_of == (int)tc && t->cols[j].part_grp == g)
                    cols[nc++] = (int)j;
            for (size_t i = 0; nc && s == STRATA_OK && i < t->n_rows; i++) {
                for (size_t q = 0; q < nc; q++)
                    m[q] = var_of(a, k, cols[q], i);
                s = relation(ctx, a, var_of(a, k, (int)tc, i), m, nc);
            }
        }
    if (s == STRATA_OK)
        s = strat_csr(ctx, t->n_rows, t->n_rows, t->total_of, &start, &rows);
    for (size_t j = 0; s == STRATA_OK && j < t->n_cols; j++)
        for (size_t r = 0; s == STRATA_OK && r < t->n_rows && a->base[k][j] != SIZE_MAX; r++) {
            size_t nm = 0;
            for (size_t q = start[r]; q < start[r + 1]; q++)
                m[nm++] = var_of(a, k, (int)j, rows[q]);
            s = relation(ctx, a, var_of(a, k, (int)j, r), m, nm);
        }
    STRATA_FREE_ALL(ctx, cols, start, rows);
    return s;
}

/* Parent links and the same cell in two tables (same column, same key). */
static strata_status set_relations(strata_ctx *ctx, audit *a, size_t n, strata_table **t,
                                   int32_t *const *rowmap, size_t *m)
{
    for (size_t k = 0; k < n; k++) {
        const strata_table *c = t[k], *p = c->parent;
        size_t q = n, *start = NULL, *rows = NULL;
        for (size_t z = 0; p && z < n; z++)
            if (t[z] == p)
                q = z;
        if (q == n)
            continue;
        if (strat_csr(ctx, c->n_rows, p->n_rows, c->parent_row, &start, &rows) != STRATA_OK) {
            STRATA_FREE_ALL(ctx, start, rows);
            return STRATA_ENOMEM;
        }
        for (size_t j = 0; j < c->n_cols; j++) {
            int jp = strata_table_find(p, c->cols[j].name);
            strata_status s = STRATA_OK;
            if (a->base[k][j] == SIZE_MAX || jp < 0 || a->base[q][jp] == SIZE_MAX)
                continue;
            for (size_t r = 0; s == STRATA_OK && r < p->n_rows; r++) {
                size_t nm = 0;
                for (size_t w = start[r]; w < start[r + 1]; w++)
                    m[nm++] = var_of(a, k, (int)j, rows[w]);
                s = relation(ctx, a, var_of(a, q, jp, r), m, nm);
            }
            if (s != STRATA_OK) {
                STRATA_FREE_ALL(ctx, start, rows);
                return s;
            }
        }
        STRATA_FREE_ALL(ctx, start, rows);
    }
    for (size_t k = 0; k < n; k++) /* declared pairs */
        for (size_t q = 0; q < t[k]->n_alias; q++) {
            const talias *al = &t[k]->alias[q];
            size_t z = n;
            for (size_t w = 0; w < n; w++)
                if (t[w] == al->other)
                    z = w;
            if (z == n || a->base[k][al->j] == SIZE_MAX || a->base[z][al->oj] == SIZE_MAX)
                continue;
            for (size_t i = 0; i < t[k]->n_rows; i++) {
                size_t one;
                if (al->rowmap[i] < 0)
                    continue;
                one = var_of(a, z, al->oj, (size_t)al->rowmap[i]);
                STRATA_TRY(relation(ctx, a, var_of(a, k, al->j, i), &one, 1));
            }
        }
    for (size_t x = 0; x < n; x++)
        for (size_t y = x + 1; y < n; y++) {
            const int32_t *map = rowmap ? rowmap[x * n + y] : NULL;
            for (size_t j = 0; map && j < t[x]->n_cols; j++) {
                int jy = strata_table_find(t[y], t[x]->cols[j].name);
                if (a->base[x][j] == SIZE_MAX || jy < 0 || a->base[y][jy] == SIZE_MAX)
                    continue;
                for (size_t i = 0; i < t[x]->n_rows; i++) {
                    size_t one;
                    if (map[i] < 0)
                        continue;
                    one = var_of(a, y, jy, (size_t)map[i]);
                    STRATA_TRY(relation(ctx, a, var_of(a, x, (int)j, i), &one, 1));
                }
            }
        }
    return STRATA_OK;
}

static int narrow(audit *a, size_t x, double lo, double hi)
{
    int ch = 0;
    if (a->integer[x]) {
        lo = ceil(lo - 1e-7);
        hi = floor(hi + 1e-7);
    }
    if (lo > a->lo[x] + 1e-9 * fmax(1, fabs(a->lo[x])))
        a->lo[x] = lo, ch = 1;
    if (hi < a->hi[x] - 1e-9 * fmax(1, fabs(a->hi[x])))
        a->hi[x] = hi, ch = 1;
    return ch;
}

/* sum coef x = 0: each term within minus the others' bounds. */
static int propagate_one(audit *a, size_t c)
{
    double lo = 0, hi = 0;
    int nlo = 0, nhi = 0, ch = 0;
    for (size_t q = a->cstart[c]; q < a->cstart[c + 1]; q++) {
        size_t x = a->term[q];
        double l = a->coef[q] > 0 ? a->lo[x] : -a->hi[x], h = a->coef[q] > 0 ? a->hi[x] : -a->lo[x];
        if (fabs(l) >= INF / 2)
            nlo++;
        else
            lo += l;
        if (fabs(h) >= INF / 2)
            nhi++;
        else
            hi += h;
    }
    for (size_t q = a->cstart[c]; q < a->cstart[c + 1]; q++) {
        size_t x = a->term[q];
        double l = a->coef[q] > 0 ? a->lo[x] : -a->hi[x], h = a->coef[q] > 0 ? a->hi[x] : -a->lo[x];
        int il = fabs(l) >= INF / 2, ih = fabs(h) >= INF / 2;
        double olo = nlo - il ? -INF : lo - (il ? 0 : l), ohi = nhi - ih ? INF : hi - (ih ? 0 : h);
        /* coef x in [-ohi, -olo] */
        double blo = a->coef[q] > 0 ? -ohi : olo, bhi = a->coef[q] > 0 ? -olo : ohi;
        if (fabs(blo) >= INF / 2 && fabs(bhi) >= INF / 2)
            continue;
        ch |= narrow(a, x, fabs(blo) >= INF / 2 ? -INF : blo, fabs(bhi) >= INF / 2 ? INF : bhi);
    }
    return ch;
}

static void propagate_all(audit *a)
{
    for (int round = 0; round < 100; round++) {
        int any = 0;
        for (size_t c = 0; c < a->ncons; c++)
            any |= propagate_one(a, c);
        if (!any)
            break;
    }
}

/* A secret the relations pin: a withheld cell, or a rounded non-zero one, known
 * to one value. A withheld cell pinned at 0 tells nothing: a count withheld
 * for its size is never 0, and a 0 would have been published as 0. */
static int pinned(const strata_sdc_params *p, const audit *a, size_t x)
{
    int secret = *a->hid[x] || (p->round_to > 1 && a->val[x] != 0);
    if (!secret || a->hi[x] - a->lo[x] >= (a->integer[x] ? 0.5 : 1.0))
        return 0;
    return !(*a->hid[x] && a->hi[x] < 0.5);
}

/* Withholds the fewest cells that break the pins of this round: per relation
 * with a pinned cell, one cell — the smallest pinned visible member, else the
 * smallest visible member, the total only when no member is shown
 * (withholding a total whose members are shown only moves the problem to
 * them). The caller re-runs complementary suppression and the
 * audit, so pins that one cell already broke are not paid for twice.
 * Returns how many it withheld. */
static size_t withhold(const strata_sdc_params *p, audit *a, uint8_t *todo)
{
    size_t n = 0;
    for (size_t x = 0; x < a->n; x++)
        todo[x] = (uint8_t)pinned(p, a, x);
    for (size_t c = 0; c < a->ncons; c++) {
        size_t pin = SIZE_MAX, tot = SIZE_MAX, other = SIZE_MAX, hit = 0;
        if (a->cstart[c + 1] - a->cstart[c] <= 2)
            continue; /* the same cell in two tables: withheld together by the sync */
        for (size_t q = a->cstart[c]; q < a->cstart[c + 1]; q++) {
            size_t y = a->term[q];
            int vis = !*a->hid[y];
            hit |= todo[y];
            if (todo[y] && vis && a->coef[q] > 0 && (pin == SIZE_MAX || a->val[y] < a->val[pin]))
                pin = y;
            if (todo[y] && vis && a->coef[q] < 0)
                tot = y;
            if (vis && !todo[y] && (other == SIZE_MAX || a->val[y] < a->val[other]))
                other = y;
        }
        if (!hit)
            continue;
        {
            /* a member rather than the total: a total (an ICB's list size) is
             * usually pinned only by several partitions at once, and each
             * loses its pin with one member withheld */
            size_t w = pin != SIZE_MAX ? pin : other != SIZE_MAX ? other : tot;
            if (w == SIZE_MAX)
                continue;
            *a->hid[w] = 2;
            n++;
            for (size_t q = a->cstart[c]; q < a->cstart[c + 1]; q++)
                todo[a->term[q]] = 0; /* this relation is dealt with this round */
        }
    }
    return n;
}

static void audit_free(strata_ctx *ctx, audit *a, size_t n)
{
    for (size_t k = 0; a->base && k < n; k++)
        strata_free(ctx, a->base[k], 0);
    STRATA_FREE_ALL(ctx, a->base, a->lo, a->hi, a->val, a->integer, (void *)a->hid, a->cstart,
                    a->term, a->coef);
}

strata_status strat_audit(strata_ctx *ctx, const strata_sdc_params *p, size_t n, strata_table **t,
                          int32_t *const *rowmap, size_t *n_withheld)
{
    audit a;
    size_t maxr = 1, *m;
    strata_status s;
    memset(&a, 0, sizeof a);
    *n_withheld = 0;
    for (size_t k = 0; k < n; k++)
        maxr += t[k]->n_rows + t[k]->n_cols;
    m = strata_alloc(ctx, maxr * sizeof *m);
    s = m ? add_vars(ctx, p, n, t, &a) : STRATA_ENOMEM;
    for (size_t k = 0; s == STRATA_OK && k < n; k++)
        s = table_relations(ctx, &a, k, t[k], m);
    if (s == STRATA_OK)
        s = set_relations(ctx, &a, n, t, rowmap, m);
    if (s == STRATA_OK) {
        uint8_t *todo = strata_calloc(ctx, a.n + 1, 1);
        propagate_all(&a);
        if (todo)
            *n_withheld = withhold(p, &a, todo);
        else
            s = STRATA_ENOMEM;
        strata_free(ctx, todo, 0);
    }
    strata_free(ctx, m, 0);
    audit_free(ctx, &a, n);
    return s;
}
