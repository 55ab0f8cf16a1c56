/* engine/aggregate/strat_disclose.c — the one path that publishes an aggregate
 * table (NHS Digital's HES/ECDS rules and OpenSAFELY's: docs/stratify.md#6).
 * Order: primary suppression of counts, gates (means and expected events
 * withheld with their counts), complementary suppression to a joint fixed point
 * over every relation of every table in the set, rounding, then every derived
 * value computed from the published numbers, every value rounded to the
 * digits it is printed with. Invariant: what a writer reads afterwards is
 * exactly what is published, and every derived number is a function of
 * published numbers only. */
#include "internal.h"
#include "table_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strata_sdc_params_init(strata_sdc_params *p)
{
    p->enabled = 1;
    p->lo = 1;
    p->hi = 7;
    p->round_to = 5;
    p->secondary = 1;
    p->protect_observed = 1;
}

strata_status strata_sdc_params_check(strata_ctx *ctx, const strata_sdc_params *p)
{
    if (!(p->lo >= 0 && p->hi >= p->lo))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "disclosure: range [%g, %g] invalid", p->lo, p->hi);
    if (!(p->round_to >= 0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "disclosure: round_to %g invalid", p->round_to);
    return STRATA_OK;
}

int strata_sdc_describe(const strata_sdc_params *p, char *buf, size_t size)
{
    char sup[96], rnd[96];
    if (!p->enabled)
        return snprintf(buf, size,
                        "OFF (no_disclosure): counts, expected events, rates and intervals are "
                        "exact; not for publication below national level");
    if (p->hi >= p->lo && p->hi >= 1)
        snprintf(sup, sizeof sup, "counts %g-%g withheld (*)", p->lo < 1 ? 1 : p->lo, p->hi);
    else
        snprintf(sup, sizeof sup, "no counts withheld for their size");
    if (p->round_to > 1)
        snprintf(rnd, sizeof rnd, "other counts and expected events rounded to the nearest %g",
                 p->round_to);
    else
        snprintf(rnd, sizeof rnd, "other counts exact (no rounding)");
    return snprintf(buf, size,
                    "%s; %s; %s; rates, ratios, percentages, shares and their intervals computed "
                    "from the published counts",
                    sup, rnd,
                    p->secondary ? "complementary suppression so no withheld count can be "
                                   "worked out from totals"
                                 : "no complementary suppression");
}

/* Rounds of complementary suppression + audit before giving up (a few suffice:
 * an England-scaled run of 200,000 patients over 6,196 practices takes 5). */
#define SDC_MAX_ROUNDS 100

static int small(const strata_sdc_params *p, double x)
{
    return x >= p->lo && x <= p->hi;
}

/* ---- complementary suppression ---------------------------------------------------- */

/* Among n candidate cells (values v, hidden flags h), withholds the visible one
 * with the smallest positive value (else the first visible zero); 1 if one was. */
static int hide_partner(size_t n, const double *v, uint8_t **h)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        if (*h[i] || isnan(v[i]))
            continue;
        if (best == n || (v[i] > 0 && (v[best] <= 0 || v[i] < v[best])))
            best = i;
    }
    if (best == n)
        return 0;
    *h[best] = 2;
    return 1;
}

/* total = sum of members with exactly one unknown (a withheld member, or the
 * withheld total) could be solved for: withhold the smallest other member
 * (or the total). 1 when it withheld something. */
static int protect(size_t m, const double *v, uint8_t **h, uint8_t *th)
{
    size_t nh = *th != 0;
    for (size_t i = 0; i < m; i++)
        nh += *h[i] != 0;
    if (nh != 1)
        return 0;
    if (hide_partner(m, v, h))
        return 1;
    *th = 2;
    return 1;
}

typedef struct sdc_ws {
    size_t *start, *rows;   /* member rows of each total row (CSR) */
    size_t *pstart, *prows; /* child rows of each parent row (CSR), when a parent is set */
    int *pcols;             /* partition members: (total, group) lists, -1 separated */
    double *v;
    uint8_t **h;
    int max_grp;
} sdc_ws;

static void ws_free(strata_ctx *ctx, sdc_ws *w)
{
    STRATA_FREE_ALL(ctx, w->start, w->rows, w->pstart, w->prows, w->pcols, w->v, w->h);
    memset(w, 0, sizeof *w);
}

/* CSR of rows grouped by key (key[i] in 0..ng-1, or -1). */
strata_status strat_csr(strata_ctx *ctx, size_t nr, size_t ng, const int32_t *key, size_t **start,
                         size_t **rows)
{
    size_t *s = strata_calloc(ctx, ng + 2, sizeof *s), *r = strata_calloc(ctx, nr + 1, sizeof *r);
    *start = s, *rows = r;
    if (!s || !r)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < nr; i++)
        if (key[i] >= 0 && (size_t)key[i] < ng)
            s[key[i] + 2]++;
    for (size_t g = 0; g < ng; g++)
        s[g + 2] += s[g + 1];
    for (size_t i = 0; i < nr; i++)
        if (key[i] >= 0 && (size_t)key[i] < ng)
            r[s[key[i] + 1]++] = i;
    return STRATA_OK;
}

static strata_status ws_init(strata_ctx *ctx, const strata_table *t, sdc_ws *w)
{
    size_t nr = t->n_rows, cap = (nr > t->n_cols ? nr : t->n_cols) + 1, q = 0;
    memset(w, 0, sizeof *w);
    for (size_t j = 0; j < t->n_cols; j++)
        if (t->cols[j].part_grp > w->max_grp)
            w->max_grp = t->cols[j].part_grp;
    w->v = strata_calloc(ctx, cap, sizeof *w->v);
    w->h = strata_calloc(ctx, cap, sizeof *w->h);
    /* per total column and group: its members, then -1 (and -2 after the last group) */
    w->pcols = strata_alloc(ctx, (t->n_cols * ((size_t)w->max_grp + 3) + 2 * t->n_cols + 2) *
                                     sizeof *w->pcols);
    if (!w->v || !w->h || !w->pcols ||
        strat_csr(ctx, nr, nr, t->total_of, &w->start, &w->rows) != STRATA_OK ||
        (t->parent && strat_csr(ctx, nr, t->parent->n_rows, t->parent_row, &w->pstart, &w->prows) !=
                          STRATA_OK)) {
        ws_free(ctx, w);
        return STRATA_ENOMEM;
    }
    for (size_t tc = 0; tc < t->n_cols; tc++)
        for (int g = 0; g <= w->max_grp; g++) {
            for (size_t j = 0; j < t->n_cols; j++)
                if (t->cols[j].part_of == (int)tc && t->cols[j].part_grp == g)
                    w->pcols[q++] = (int)j;
            w->pcols[q++] = -1;
        }
    return STRATA_OK;
}

/* One pass over every relation of t (row partitions, rows under a total row). */
static int secondary_pass(strata_table *t, sdc_ws *w)
{
    int changed = 0;
    const int *pc = w->pcols;
    for (size_t tc = 0; tc < t->n_cols; tc++)
        for (int g = 0; g <= w->max_grp; g++) {
            const int *mem = pc;
            while (*pc >= 0)
                pc++;
            pc++; /* past the -1 */
            for (size_t i = 0; mem[0] >= 0 && i < t->n_rows; i++) {
                size_t m = 0;
                for (const int *j = mem; *j >= 0; j++)
                    w->v[m] = t->cols[*j].v[i], w->h[m++] = &t->cols[*j].hidden[i];
                changed |= protect(m, w->v, w->h, &t->cols[tc].hidden[i]);
            }
        }
    for (size_t j = 0; j < t->n_cols; j++) {
        if (!tcol_counts(&t->cols[j]))
            continue;
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t m = 0;
            for (size_t q = w->start[r]; q < w->start[r + 1]; q++)
                w->v[m] = t->cols[j].v[w->rows[q]], w->h[m++] = &t->cols[j].hidden[w->rows[q]];
            if (m)
                changed |= protect(m, w->v, w->h, &t->cols[j].hidden[r]);
        }
    }
    return changed;
}

/* Cells in two tables (same count or total column, same key in column 0) are
 * withheld in both when withheld in either. */
static int in_set(size_t n, strata_table *const *t, const strata_table *x)
{
    for (size_t k = 0; k < n; k++)
        if (t[k] == x)
            return 1;
    return 0;
}

static int sync_tables(size_t n, strata_table **t, int32_t *const *rowmap)
{
    int changed = 0;
    /* declared pairs (strata_table_same) */
    for (size_t a = 0; a < n; a++)
        for (size_t q = 0; q < t[a]->n_alias; q++) {
            const talias *al = &t[a]->alias[q];
            if (!in_set(n, t, al->other))
                continue;
            for (size_t i = 0; i < t[a]->n_rows; i++) {
                uint8_t *ha = &t[a]->cols[al->j].hidden[i], *hb;
                if (al->rowmap[i] < 0)
                    continue;
                hb = &al->other->cols[al->oj].hidden[al->rowmap[i]];
                if (!*ha != !*hb) {
                    *(*ha ? hb : ha) = 2;
                    changed = 1;
                }
            }
        }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            const int32_t *map = rowmap[a * n + b];
            for (size_t ja = 0; map && ja < t[a]->n_cols; ja++) {
                int jb;
                if (!tcol_counts(&t[a]->cols[ja]))
                    continue;
                jb = strata_table_find(t[b], t[a]->cols[ja].name);
                if (jb < 0 || !tcol_counts(&t[b]->cols[jb]))
                    continue;
                for (size_t i = 0; i < t[a]->n_rows; i++) {
                    uint8_t *ha = &t[a]->cols[ja].hidden[i], *hb;
                    if (map[i] < 0)
                        continue;
                    hb = &t[b]->cols[jb].hidden[map[i]];
                    if (!*ha != !*hb) {
                        *(*ha ? hb : ha) = 2;
                        changed = 1;
                    }
                }
            }
        }
    return changed;
}

/* Parent cell = sum of its child rows, for every count column both tables have. */
static int parent_pass(strata_table *c, sdc_ws *w)
{
    strata_table *p = c->parent;
    int changed = 0;
    for (size_t j = 0; j < c->n_cols; j++) {
        int jp;
        if (!tcol_counts(&c->cols[j]))
            continue;
        jp = strata_table_find(p, c->cols[j].name);
        if (jp < 0 || !tcol_counts(&p->cols[jp]))
            continue;
        for (size_t r = 0; r < p->n_rows; r++) {
            size_t m = 0;
            for (size_t q = w->pstart[r]; q < w->pstart[r + 1]; q++)
                w->v[m] = c->cols[j].v[w->prows[q]], w->h[m++] = &c->cols[j].hidden[w->prows[q]];
            if (m)
                changed |= protect(m, w->v, w->h, &p->cols[jp].hidden[r]);
        }
    }
    return changed;
}

/* rowmap[a*n+b][i]: the row of table b with the key of row i of table a.
 * Each table's keys are sorted once and looked up by binary search:
 * O(R log R) over the set's R rows (England: ~1,300 PCNs x ~6,200 practices
 * in several tables), not the O(R^2) of a scan. */
static strata_status build_rowmaps(strata_ctx *ctx, size_t n, strata_table **t, int32_t **rowmap)
{
    for (size_t b = 1; b < n; b++) {
        strata_keyrow *v;
        size_t nv = 0;
        if (!t[b]->n_cols || t[b]->cols[0].kind != STRATA_COL_KEY)
            continue;
        v = strata_alloc(ctx, (t[b]->n_rows + 1) * sizeof *v);
        if (!v)
            return STRATA_ENOMEM;
        for (size_t r = 0; r < t[b]->n_rows; r++)
            if (t[b]->cols[0].s[r])
                v[nv++] = (strata_keyrow){t[b]->cols[0].s[r], r};
        strata_keyrow_sort(v, nv);
        for (size_t a = 0; a < b; a++) {
            int32_t *m;
            if (!t[a]->n_cols || t[a]->cols[0].kind != STRATA_COL_KEY)
                continue;
            m = strata_alloc(ctx, (t[a]->n_rows + 1) * sizeof *m);
            if (!m) {
                strata_free(ctx, v, 0);
                return STRATA_ENOMEM;
            }
            rowmap[a * n + b] = m;
            for (size_t i = 0; i < t[a]->n_rows; i++) {
                const char *k = t[a]->cols[0].s[i];
                size_t f = k ? strata_keyrow_find(v, nv, k) : (size_t)-1;
                m[i] = f == (size_t)-1 ? -1 : (int32_t)f;
            }
        }
        strata_free(ctx, v, 0);
    }
    return STRATA_OK;
}

/* ---- gates ---------------------------------------------------------------------- */

static int gate_hide(uint8_t *h)
{
    if (*h)
        return 0;
    *h = 2;
    return 1;
}

/* A mean over [lo, hi] people or over a withheld count, and expected events
 * beside a withheld count (E = O within a model factor's levels; mean x n
 * gives the count back) are withheld. 1 if anything changed. */
static int apply_gates(const strata_sdc_params *p, strata_table *t)
{
    int changed = 0;
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->kind != STRATA_COL_MEAN && c->kind != STRATA_COL_TOTAL)
            continue;
        for (size_t i = 0; i < t->n_rows; i++) {
            int g = 0;
            if (c->base >= 0)
                g |= t->cols[c->base].hidden[i] ||
                     (c->kind == STRATA_COL_MEAN && small(p, t->cols[c->base].v[i]));
            if (c->kind == STRATA_COL_TOTAL && c->den >= 0)
                g |= t->cols[c->den].hidden[i] != 0;
            if (g)
                changed |= gate_hide(&c->hidden[i]);
        }
    }
    /* the named rule: n_observed<sfx> withheld -> expected<sfx> withheld */
    for (size_t j = 0; p->protect_observed && j < t->n_cols; j++) {
        char nm[256];
        int je;
        if (t->cols[j].kind != STRATA_COL_COUNT || strncmp(t->cols[j].name, "n_observed", 10) != 0)
            continue;
        snprintf(nm, sizeof nm, "expected%s", t->cols[j].name + 10);
        je = strata_table_find(t, nm);
        for (size_t i = 0; je >= 0 && i < t->n_rows; i++)
            if (t->cols[j].hidden[i])
                changed |= gate_hide(&t->cols[je].hidden[i]);
    }
    return changed;
}

/* ---- publishing ------------------------------------------------------------------- */

static double round_to(double v, double r)
{
    return r > 1 ? floor(v / r + 0.5) * r : v;
}

/* Rounding and blanking, then derived values, then printed precision. */
static strata_status finish_table(strata_ctx *ctx, const strata_sdc_params *p, strata_table *t)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        for (size_t i = 0; c->v && i < t->n_rows; i++) {
            if (p->enabled && tcol_counts(c) && !c->hidden[i] && !isnan(c->v[i]))
                c->v[i] = round_to(c->v[i], p->round_to);
            if (c->hidden[i])
                c->v[i] = NAN;
        }
    }
    t->rules = *p;
    STRATA_TRY(strat_derive_all(ctx, t));
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        int d = c->kind == STRATA_COL_COUNT || c->kind == STRATA_COL_FLAG ? 0 : c->decimals;
        if (c->kind == STRATA_COL_TOTAL && p->enabled && p->round_to > 1)
            d = 0;
        for (size_t i = 0; c->v && c->kind != STRATA_COL_INTERNAL && i < t->n_rows; i++)
            c->v[i] = strat_as_printed(c->v[i], d);
    }
    t->disclosed = 1;
    return STRATA_OK;
}

static strata_status check_set(strata_ctx *ctx, size_t n, strata_table **t)
{
    for (size_t k = 0; k < n; k++) {
        if (t[k]->patient_level)
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "disclosure: table %s is patient-level: it is never published",
                               t[k]->name);
        if (t[k]->disclosed)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "disclosure: table %s is already published",
                               t[k]->name);
    }
    return STRATA_OK;
}

/* Gates and complementary suppression to a joint fixed point. */
static void complementary(const strata_sdc_params *p, size_t n, strata_table **t, sdc_ws *ws,
                          int32_t *const *rowmap)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t k = 0; k < n; k++)
            changed |= apply_gates(p, t[k]);
        if (!p->secondary)
            break;
        for (size_t k = 0; k < n; k++) {
            changed |= secondary_pass(t[k], &ws[k]);
            for (size_t q = 0; t[k]->parent && q < n; q++)
                if (t[q] == t[k]->parent)
                    changed |= parent_pass(t[k], &ws[k]);
        }
        changed |= sync_tables(n, t, rowmap);
    }
}

/* Primary suppression, complementary suppression, then the audit
 * (strat_audit.c) until no published relation pins a cell. */
static strata_status suppress(strata_ctx *ctx, const strata_sdc_params *p, size_t n,
                              strata_table **t, sdc_ws *ws, int32_t **rowmap)
{
    size_t more = 1;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < t[k]->n_cols; j++)
            for (size_t i = 0; t[k]->cols[j].kind == STRATA_COL_COUNT && i < t[k]->n_rows; i++)
                if (small(p, t[k]->cols[j].v[i]))
                    t[k]->cols[j].hidden[i] = 1;
    STRATA_TRY(build_rowmaps(ctx, n, t, rowmap));
    for (int round = 0; more && round < SDC_MAX_ROUNDS; round++) {
        complementary(p, n, t, ws, rowmap);
        STRATA_TRY(strat_audit(ctx, p, n, t, rowmap, &more));
    }
    if (more)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "disclosure: cells still recoverable after %d rounds of suppression",
                           SDC_MAX_ROUNDS);
    return STRATA_OK;
}

strata_status strata_disclose_set(strata_ctx *ctx, const strata_sdc_params *p, size_t n,
                                  strata_table **t)
{
    sdc_ws *ws = NULL;
    int32_t **rowmap = NULL;
    strata_status s = STRATA_OK;
    STRATA_TRY(strata_sdc_params_check(ctx, p));
    STRATA_TRY(check_set(ctx, n, t));
    if (p->enabled) {
        ws = strata_calloc(ctx, n ? n : 1, sizeof *ws);
        rowmap = strata_calloc(ctx, n * n + 1, sizeof *rowmap);
        if (!ws || !rowmap)
            s = STRATA_ENOMEM;
        for (size_t k = 0; s == STRATA_OK && k < n; k++)
            s = ws_init(ctx, t[k], &ws[k]);
        if (s == STRATA_OK)
            s = suppress(ctx, p, n, t, ws, rowmap);
    }
    for (size_t k = 0; s == STRATA_OK && k < n; k++)
        s = finish_table(ctx, p, t[k]);
    for (size_t k = 0; ws && k < n; k++)
        ws_free(ctx, &ws[k]);
    for (size_t q = 0; rowmap && q < n * n; q++)
        strata_free(ctx, rowmap[q], 0);
    strata_free(ctx, rowmap, 0);
    strata_free(ctx, ws, 0);
    return s;
}

strata_status strata_disclose(strata_ctx *ctx, const strata_sdc_params *p, strata_table *t)
{
    if (t->patient_level) {
        STRATA_TRY(strata_sdc_params_check(ctx, p));
        t->disclosed = 1;
        return STRATA_OK;
    }
    return strata_disclose_set(ctx, p, 1, &t);
}
