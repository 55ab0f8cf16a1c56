/* engine/aggregate/strat_table.c — aggregate tables, disclosure control and the CSV
 * writer. Invariant: an aggregate table is written only after
 * strata_disclose: no visible count in [lo, hi], other counts rounded,
 * means over [lo, hi] people hidden, percentages recomputed from published
 * counts, and no hidden cell is the only hidden member of a row partition or
 * of a column under a total row (secondary suppression). */
#include "internal.h"
#include "outfile.h"
#include "strata/stratify.h"

#include "strat_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

strata_status strata_table_new(strata_ctx *ctx, const char *name, size_t n_rows,
                               strata_table **out)
{
    strata_table *t = strata_calloc(ctx, 1, sizeof *t);
    *out = NULL;
    if (!t)
        return STRATA_ENOMEM;
    t->n_rows = n_rows;
    t->name = strata_strdup(ctx, name);
    t->total_of = strata_alloc(ctx, (n_rows ? n_rows : 1) * sizeof *t->total_of);
    if (!t->name || !t->total_of) {
        strata_table_free(ctx, t);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < n_rows; i++)
        t->total_of[i] = -1;
    *out = t;
    return STRATA_OK;
}

void strata_table_free(strata_ctx *ctx, strata_table *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->n_cols; j++) {
        strata_table_col *c = &t->cols[j];
        if (c->s)
            for (size_t i = 0; i < t->n_rows; i++)
                strata_free(ctx, c->s[i], 0);
        strata_free(ctx, c->s, 0);
        strata_free(ctx, c->v, 0);
        strata_free(ctx, c->hidden, 0);
        strata_free(ctx, c->name, 0);
    }
    strata_free(ctx, t->cols, 0);
    strata_free(ctx, t->total_of, 0);
    strata_free(ctx, t->parent_row, 0);
    strata_free(ctx, t->name, 0);
    strata_free(ctx, t, sizeof *t);
}

strata_status strata_table_add(strata_ctx *ctx, strata_table *t, const char *name,
                               strata_col_kind kind, int decimals, int base, int den, int *j)
{
    strata_table_col *c;
    size_t nr = t->n_rows ? t->n_rows : 1;
    if (strata_table_find(t, name) >= 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: column %s added twice", t->name, name);
    if (t->n_cols == t->cap_cols) {
        size_t nc = t->cap_cols ? 2 * t->cap_cols : 16;
        strata_table_col *cols =
            strata_realloc(ctx, t->cols, t->cap_cols * sizeof *cols, nc * sizeof *cols);
        if (!cols)
            return STRATA_ENOMEM;
        t->cols = cols;
        t->cap_cols = nc;
    }
    c = &t->cols[t->n_cols];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->decimals = decimals;
    c->base = base;
    c->den = den;
    c->part_of = -1;
    c->name = strata_strdup(ctx, name);
    c->hidden = strata_calloc(ctx, nr, 1);
    if (kind == STRATA_COL_KEY)
        c->s = strata_calloc(ctx, nr, sizeof *c->s);
    else
        c->v = strata_alloc(ctx, nr * sizeof *c->v);
    t->n_cols++; /* counted now so strata_table_free releases partial columns */
    if (!c->name || !c->hidden || (kind == STRATA_COL_KEY ? !c->s : !c->v))
        return STRATA_ENOMEM;
    for (size_t i = 0; c->v && i < t->n_rows; i++)
        c->v[i] = NAN;
    *j = (int)(t->n_cols - 1);
    return STRATA_OK;
}

strata_status strata_table_set_key(strata_ctx *ctx, strata_table *t, int j, size_t row,
                                   const char *s)
{
    char *d = strata_strdup(ctx, s);
    if (!d)
        return STRATA_ENOMEM;
    strata_free(ctx, t->cols[j].s[row], 0);
    t->cols[j].s[row] = d;
    return STRATA_OK;
}

strata_status strata_table_set_parent(strata_ctx *ctx, strata_table *child, strata_table *parent,
                                      const int32_t *parent_row)
{
    int32_t *m;
    for (size_t i = 0; i < child->n_rows; i++)
        if (parent_row[i] < -1 || parent_row[i] >= (int32_t)parent->n_rows)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: row %zu: parent row %d outside %s",
                               child->name, i + 1, (int)parent_row[i], parent->name);
    m = strata_alloc(ctx, (child->n_rows + 1) * sizeof *m);
    if (!m)
        return STRATA_ENOMEM;
    memcpy(m, parent_row, child->n_rows * sizeof *m);
    strata_free(ctx, child->parent_row, 0);
    child->parent_row = m;
    child->parent = parent;
    return STRATA_OK;
}

int strata_table_find(const strata_table *t, const char *name)
{
    for (size_t j = 0; j < t->n_cols; j++)
        if (strcmp(t->cols[j].name, name) == 0)
            return (int)j;
    return -1;
}

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

static int small(const strata_sdc_params *p, double x)
{
    return x >= p->lo && x <= p->hi;
}

/* Among n candidate cells (values v, hidden flags h), hides the visible one with
 * the smallest positive value (else the first visible zero); returns 1 if one was hidden. */
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

/* One secondary-suppression check of the equation total = sum of members:
 * exactly one unknown (a hidden member, or the hidden total) could be solved
 * for, so a second cell is hidden. Returns 1 when it hid something. */
static int protect(size_t m, const double *v, uint8_t **h, uint8_t *th)
{
    size_t nh = *th != 0;
    for (size_t i = 0; i < m; i++)
        nh += *h[i] != 0;
    if (nh != 1)
        return 0;
    if (hide_partner(m, v, h))
        return 1;
    *th = 2; /* no member left to hide: hide the total */
    return 1;
}

/* Scratch for secondary suppression of one table: member rows of each total
 * row (CSR: rows[start[r] .. start[r+1]-1]) and value/flag buffers. */
typedef struct sdc_ws {
    double **raw; /* the count columns' values, unrounded until finish_table */
    size_t *start, *rows;
    double *v;
    uint8_t **h;
    int max_grp;
} sdc_ws;

static void ws_free(strata_ctx *ctx, sdc_ws *w)
{
    STRATA_FREE_ALL(ctx, w->start, w->rows, w->v, w->h, w->raw);
    memset(w, 0, sizeof *w);
}

static strata_status ws_init(strata_ctx *ctx, const strata_table *t, sdc_ws *w)
{
    size_t nr = t->n_rows, cap = (nr > t->n_cols ? nr : t->n_cols) + 1;
    memset(w, 0, sizeof *w);
    w->start = strata_calloc(ctx, nr + 2, sizeof *w->start);
    w->rows = strata_calloc(ctx, nr + 1, sizeof *w->rows);
    w->v = strata_calloc(ctx, cap, sizeof *w->v);
    w->h = strata_calloc(ctx, cap, sizeof *w->h);
    w->raw = strata_calloc(ctx, t->n_cols + 1, sizeof *w->raw);
    if (!w->start || !w->rows || !w->v || !w->h || !w->raw) {
        ws_free(ctx, w);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < nr; i++)
        if (t->total_of[i] >= 0 && (size_t)t->total_of[i] < nr)
            w->start[t->total_of[i] + 2]++;
    for (size_t r = 0; r < nr; r++)
        w->start[r + 2] += w->start[r + 1];
    for (size_t i = 0; i < nr; i++)
        if (t->total_of[i] >= 0 && (size_t)t->total_of[i] < nr)
            w->rows[w->start[t->total_of[i] + 1]++] = i;
    for (size_t j = 0; j < t->n_cols; j++) {
        w->raw[j] = t->cols[j].v;
        if (t->cols[j].part_grp > w->max_grp)
            w->max_grp = t->cols[j].part_grp;
    }
    return STRATA_OK;
}

/* One pass of secondary suppression over every relation of t; 1 if it hid something. */
static int secondary_pass(strata_table *t, sdc_ws *w, const double *const *raw)
{
    int changed = 0;
    /* row partitions: components (part_of, part_grp) of a total column */
    for (size_t tc = 0; tc < t->n_cols; tc++) {
        for (int g = 0; g <= w->max_grp; g++) {
            for (size_t i = 0; i < t->n_rows; i++) {
                size_t m = 0;
                for (size_t j = 0; j < t->n_cols; j++)
                    if (t->cols[j].part_of == (int)tc && t->cols[j].part_grp == g)
                        w->v[m] = raw[j][i], w->h[m++] = &t->cols[j].hidden[i];
                if (m)
                    changed |= protect(m, w->v, w->h, &t->cols[tc].hidden[i]);
            }
        }
    }
    /* column partitions: member rows under a total row */
    for (size_t j = 0; j < t->n_cols; j++) {
        if (t->cols[j].kind != STRATA_COL_COUNT)
            continue;
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t m = 0;
            for (size_t q = w->start[r]; q < w->start[r + 1]; q++)
                w->v[m] = raw[j][w->rows[q]], w->h[m++] = &t->cols[j].hidden[w->rows[q]];
            if (m)
                changed |= protect(m, w->v, w->h, &t->cols[j].hidden[r]);
        }
    }
    return changed;
}

/* Cells that appear in two tables (same count column name, same row key in
 * column 0) are hidden in both when hidden in either; 1 if anything changed. */
static int sync_tables(size_t n, strata_table **t, int32_t *const *rowmap)
{
    int changed = 0;
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            const int32_t *map = rowmap[a * n + b];
            for (size_t ja = 0; map && ja < t[a]->n_cols; ja++) {
                int jb;
                if (t[a]->cols[ja].kind != STRATA_COL_COUNT)
                    continue;
                jb = strata_table_find(t[b], t[a]->cols[ja].name);
                if (jb < 0 || t[b]->cols[jb].kind != STRATA_COL_COUNT)
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

/* Relations between levels: parent cell = sum of its child rows, for every
 * count column both tables have; 1 if it hid something. */
static int parent_pass(strata_table *c, sdc_ws *w)
{
    strata_table *p = c->parent;
    int changed = 0;
    for (size_t j = 0; j < c->n_cols; j++) {
        int jp;
        if (c->cols[j].kind != STRATA_COL_COUNT)
            continue;
        jp = strata_table_find(p, c->cols[j].name);
        if (jp < 0 || p->cols[jp].kind != STRATA_COL_COUNT)
            continue;
        for (size_t r = 0; r < p->n_rows; r++) {
            size_t m = 0;
            for (size_t i = 0; i < c->n_rows; i++)
                if (c->parent_row[i] == (int32_t)r)
                    w->v[m] = w->raw[j][i], w->h[m++] = &c->cols[j].hidden[i];
            if (m)
                changed |= protect(m, w->v, w->h, &p->cols[jp].hidden[r]);
        }
    }
    return changed;
}

/* rowmap[a*n+b][i] = row of t[b] whose key equals row i's key in t[a], or -1
 * (NULL when either table has no key column 0). */
static strata_status build_rowmaps(strata_ctx *ctx, size_t n, strata_table **t, int32_t **rowmap)
{
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            int32_t *m;
            if (!t[a]->n_cols || !t[b]->n_cols || t[a]->cols[0].kind != STRATA_COL_KEY ||
                t[b]->cols[0].kind != STRATA_COL_KEY)
                continue;
            m = strata_alloc(ctx, (t[a]->n_rows + 1) * sizeof *m);
            if (!m)
                return STRATA_ENOMEM;
            rowmap[a * n + b] = m;
            for (size_t i = 0; i < t[a]->n_rows; i++) {
                const char *k = t[a]->cols[0].s[i];
                m[i] = -1;
                for (size_t r = 0; k && r < t[b]->n_rows; r++)
                    if (t[b]->cols[0].s[r] && strcmp(k, t[b]->cols[0].s[r]) == 0) {
                        m[i] = (int32_t)r;
                        break;
                    }
            }
        }
    return STRATA_OK;
}

/* Means, observed-count protection, rounding, blanking and percentages. */
static void finish_table(const strata_sdc_params *p, strata_table *t, const double *const *raw)
{
    int obs;
    /* means over [lo, hi] people, or over a hidden count (mean x n would give it back) */
    for (size_t j = 0; j < t->n_cols; j++) {
        strata_table_col *c = &t->cols[j];
        for (size_t i = 0; c->kind == STRATA_COL_MEAN && c->base >= 0 && i < t->n_rows; i++)
            if (small(p, raw[c->base][i]) || t->cols[c->base].hidden[i])
                c->hidden[i] = c->hidden[i] ? c->hidden[i] : 2;
    }
    /* E and O/E (+ CI) next to a hidden observed count would give it back: O = (O/E) E */
    for (size_t j = 0; p->protect_observed && j < t->n_cols; j++) {
        static const char *const pre[4] = {"expected", "oe", "oe_lo", "oe_hi"};
        const char *sfx = t->cols[j].name + 10;
        if (t->cols[j].kind != STRATA_COL_COUNT || strncmp(t->cols[j].name, "n_observed", 10) != 0)
            continue;
        for (int k = 0; k < 4; k++) {
            char nm[256];
            snprintf(nm, sizeof nm, "%s%s", pre[k], sfx);
            obs = strata_table_find(t, nm);
            for (size_t i = 0; obs >= 0 && i < t->n_rows; i++)
                if (t->cols[j].hidden[i])
                    t->cols[obs].hidden[i] = 2;
        }
    }
    /* rounding of visible counts, then blanking of hidden cells */
    for (size_t j = 0; j < t->n_cols; j++) {
        strata_table_col *c = &t->cols[j];
        for (size_t i = 0; c->v && i < t->n_rows; i++) {
            if (c->kind == STRATA_COL_COUNT && !c->hidden[i] && p->round_to > 1 && !isnan(c->v[i]))
                c->v[i] = floor(c->v[i] / p->round_to + 0.5) * p->round_to;
            if (c->hidden[i])
                c->v[i] = NAN;
        }
    }
    /* percentages from the published (rounded) counts */
    for (size_t j = 0; j < t->n_cols; j++) {
        strata_table_col *c = &t->cols[j];
        if (c->kind != STRATA_COL_PCT)
            continue;
        for (size_t i = 0; i < t->n_rows; i++) {
            double num = t->cols[c->base].v[i], den = t->cols[c->den].v[i];
            c->hidden[i] = (uint8_t)(t->cols[c->base].hidden[i] || t->cols[c->den].hidden[i]);
            c->v[i] = c->hidden[i] || !(den > 0) ? NAN : 100.0 * num / den;
        }
    }
    t->disclosed = 1;
}

strata_status strata_disclose_set(strata_ctx *ctx, const strata_sdc_params *p, size_t n,
                                  strata_table **t)
{
    sdc_ws *ws = NULL;
    int32_t **rowmap = NULL;
    strata_status s = STRATA_OK;
    int changed = 1;
    STRATA_TRY(strata_sdc_params_check(ctx, p));
    for (size_t k = 0; k < n; k++) {
        if (t[k]->patient_level)
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "disclosure: table %s is patient-level: it is never published",
                               t[k]->name);
        if (!p->enabled)
            t[k]->disclosed = 1; /* control switched off (national tables): written as is */
    }
    if (!p->enabled)
        return STRATA_OK;
    ws = strata_calloc(ctx, n ? n : 1, sizeof *ws);
    rowmap = strata_calloc(ctx, n * n + 1, sizeof *rowmap);
    if (!ws || !rowmap)
        s = STRATA_ENOMEM;
    for (size_t k = 0; s == STRATA_OK && k < n; k++)
        s = ws_init(ctx, t[k], &ws[k]);
    if (s == STRATA_OK && p->secondary)
        s = build_rowmaps(ctx, n, t, rowmap);
    if (s == STRATA_OK) {
        /* values are still unrounded here: cols[j].v is the raw count */
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; j < t[k]->n_cols; j++)
                for (size_t i = 0; t[k]->cols[j].kind == STRATA_COL_COUNT && i < t[k]->n_rows; i++)
                    if (small(p, t[k]->cols[j].v[i]))
                        t[k]->cols[j].hidden[i] = 1;
        while (p->secondary && changed) {
            changed = 0;
            for (size_t k = 0; k < n; k++) {
                changed |= secondary_pass(t[k], &ws[k], (const double *const *)ws[k].raw);
                for (size_t q = 0; t[k]->parent && q < n; q++)
                    if (t[q] == t[k]->parent)
                        changed |= parent_pass(t[k], &ws[k]);
            }
            changed |= sync_tables(n, t, rowmap);
        }
        for (size_t k = 0; k < n; k++)
            finish_table(p, t[k], (const double *const *)ws[k].raw);
    }
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

size_t strata_table_small_counts(const strata_table *t, double lo, double hi)
{
    size_t n = 0;
    for (size_t j = 0; j < t->n_cols; j++)
        if (t->cols[j].kind == STRATA_COL_COUNT)
            for (size_t i = 0; i < t->n_rows; i++)
                n += !t->cols[j].hidden[i] && t->cols[j].v[i] >= lo && t->cols[j].v[i] <= hi;
    return n;
}




strata_status strata_table_write_csv(strata_ctx *ctx, const strata_table *t, const char *path)
{
    char *tmp;
    FILE *f;
    unsigned mode = t->patient_level ? 0600u : 0644u;
    if (!t->patient_level && !t->disclosed)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s is aggregate and has not been through disclosure control",
                           path, t->name);
    f = strata_out_open(ctx, path, mode, &tmp);
    if (!f)
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    for (size_t j = 0; j < t->n_cols; j++) {
        if (j)
            fputc(',', f);
        strata_csv_field(f, t->cols[j].name);
    }
    fputs("\r\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t j = 0; j < t->n_cols; j++) {
            const strata_table_col *c = &t->cols[j];
            if (j)
                fputc(',', f);
            if (c->kind == STRATA_COL_KEY)
                strata_csv_field(f, c->s[i]);
            else if (c->hidden[i])
                fputc('*', f);
            else if (isnan(c->v[i]))
                ;
            else if (c->kind == STRATA_COL_COUNT || c->kind == STRATA_COL_FLAG)
                fprintf(f, "%.0f", c->v[i]);
            else if (c->decimals < 0)
                fprintf(f, "%.*g", -c->decimals, c->v[i]);
            else
                fprintf(f, "%.*f", c->decimals, c->v[i]);
        }
        fputs("\r\n", f);
    }
    return strata_out_publish(ctx, f, tmp, path, mode);
}
