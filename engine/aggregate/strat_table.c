/* engine/aggregate/strat_table.c — the opaque aggregate table: building it,
 * reading it, stacking disclosed tables and the CSV writer. Invariant: a table
 * is written only once the disclosure path (strat_disclose.c) has marked it
 * disclosed; after that no setter changes it, and the only change allowed is
 * withholding one more non-count cell. */
#include "internal.h"
#include "outfile.h"
#include "table_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static strata_status table_new(strata_ctx *ctx, const char *name, size_t n_rows, int patient,
                               strata_table **out)
{
    strata_table *t = strata_calloc(ctx, 1, sizeof *t);
    *out = NULL;
    if (!t)
        return STRATA_ENOMEM;
    t->n_rows = n_rows;
    t->patient_level = patient;
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

strata_status strata_table_new(strata_ctx *ctx, const char *name, size_t n_rows, strata_table **out)
{
    return table_new(ctx, name, n_rows, 0, out);
}

strata_status strata_table_new_patient(strata_ctx *ctx, const char *name, size_t n_rows,
                                       strata_table **out)
{
    return table_new(ctx, name, n_rows, 1, out);
}

void strata_table_free(strata_ctx *ctx, strata_table *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->s)
            for (size_t i = 0; i < t->n_rows; i++)
                strata_free(ctx, c->s[i], 0);
        STRATA_FREE_ALL(ctx, c->s, c->v, c->hidden, c->name);
    }
    for (size_t k = 0; k < t->n_alias; k++)
        strata_free(ctx, t->alias[k].rowmap, 0);
    STRATA_FREE_ALL(ctx, t->cols, t->total_of, t->parent_row, t->name, t->alias);
    strata_free(ctx, t, sizeof *t);
}

static strata_status building(strata_ctx *ctx, const strata_table *t)
{
    if (t->disclosed)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "table %s: already published: a disclosed table cannot be changed",
                           t->name);
    return STRATA_OK;
}

static strata_status col_ok(strata_ctx *ctx, const strata_table *t, int j)
{
    if (j < 0 || (size_t)j >= t->n_cols)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: column %d does not exist", t->name, j);
    return STRATA_OK;
}

static strata_status add_col(strata_ctx *ctx, strata_table *t, const char *name,
                             strata_col_kind kind, int decimals, int base, int den, int *j)
{
    tcol *c;
    size_t nr = t->n_rows ? t->n_rows : 1;
    STRATA_TRY(building(ctx, t));
    if (strata_table_find(t, name) >= 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: column %s added twice", t->name, name);
    if (kind > STRATA_COL_INTERNAL || (base >= (int)t->n_cols) || (den >= (int)t->n_cols))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: column %s: bad kind or operand", t->name,
                           name);
    if (t->n_cols == t->cap_cols) {
        size_t nc = t->cap_cols ? 2 * t->cap_cols : 16;
        tcol *cols = strata_realloc(ctx, t->cols, t->cap_cols * sizeof *cols, nc * sizeof *cols);
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

strata_status strata_table_add(strata_ctx *ctx, strata_table *t, const char *name,
                               strata_col_kind kind, int decimals, int base, int den, int *j)
{
    if (kind == STRATA_COL_DERIVED)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "table %s: column %s: a derived column is added with "
                           "strata_table_add_derived",
                           t->name, name);
    if (kind == STRATA_COL_PCT && (base < 0 || den < 0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: percentage %s needs base and den",
                           t->name, name);
    return add_col(ctx, t, name, kind, decimals, base, den, j);
}

void strata_recipe_init(strata_recipe *d, strata_recipe_op op, int a, int b)
{
    memset(d, 0, sizeof *d);
    d->op = op;
    d->a = a;
    d->b = b;
    d->c = -1;
    d->mult = 1;
    d->level = 0.95;
    d->min_count = 10;
    d->trim = 0.1;
}

/* Operands of a derived column: published kinds only, except the DSR's own
 * INTERNAL inputs (the rate and its variance, which give no count back). */
static int operand_ok(const strata_table *t, const strata_recipe *d, int col, int slot)
{
    strata_col_kind k;
    if (col < 0)
        return slot == 2 && d->op != STRATA_RECIPE_DSR;
    if (d->op == STRATA_RECIPE_SUM)
        return (size_t)col < t->n_cols && t->cols[col].kind == STRATA_COL_COUNT;
    if ((size_t)col >= t->n_cols)
        return 0;
    k = t->cols[col].kind;
    if (d->op == STRATA_RECIPE_DSR && slot > 0)
        return k == STRATA_COL_INTERNAL;
    if (d->op == STRATA_RECIPE_GRID && slot == 0)
        return k == STRATA_COL_INTERNAL;
    return k != STRATA_COL_KEY && k != STRATA_COL_INTERNAL; /* any published column */
}

strata_status strata_table_add_derived(strata_ctx *ctx, strata_table *t, const char *name,
                                       const strata_recipe *d, int decimals, int *j)
{
    int one_operand = d->op == STRATA_RECIPE_SHARE;
    if (d->op > STRATA_RECIPE_GRID || !operand_ok(t, d, d->a, 0) ||
        (!one_operand && !operand_ok(t, d, d->b, 1)) || !operand_ok(t, d, d->c, 2) ||
        !(d->level > 0 && d->level < 1) || d->part < 0 || d->part > 4)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "table %s: derived column %s: operation %d or its operands are not "
                           "valid (operands must be published columns)",
                           t->name, name, (int)d->op);
    STRATA_TRY(add_col(ctx, t, name, STRATA_COL_DERIVED, decimals, -1, -1, j));
    t->cols[*j].d = *d;
    return STRATA_OK;
}

strata_status strata_table_set(strata_ctx *ctx, strata_table *t, int j, size_t row, double v)
{
    STRATA_TRY(building(ctx, t));
    STRATA_TRY(col_ok(ctx, t, j));
    if (row >= t->n_rows || !t->cols[j].v || t->cols[j].kind == STRATA_COL_DERIVED ||
        t->cols[j].kind == STRATA_COL_PCT)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "table %s: column %s row %zu: not a cell that takes a value", t->name,
                           t->cols[j].name, row + 1);
    t->cols[j].v[row] = v;
    return STRATA_OK;
}

strata_status strata_table_set_key(strata_ctx *ctx, strata_table *t, int j, size_t row,
                                   const char *s)
{
    char *d;
    STRATA_TRY(building(ctx, t));
    STRATA_TRY(col_ok(ctx, t, j));
    if (row >= t->n_rows || !t->cols[j].s)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: column %s row %zu: not a key cell",
                           t->name, t->cols[j].name, row + 1);
    if (!(d = strata_strdup(ctx, s)))
        return STRATA_ENOMEM;
    strata_free(ctx, t->cols[j].s[row], 0);
    t->cols[j].s[row] = d;
    return STRATA_OK;
}

strata_status strata_table_set_part(strata_ctx *ctx, strata_table *t, int j, int total_col, int grp)
{
    STRATA_TRY(building(ctx, t));
    STRATA_TRY(col_ok(ctx, t, j));
    STRATA_TRY(col_ok(ctx, t, total_col));
    if (!tcol_counts(&t->cols[j]) || !tcol_counts(&t->cols[total_col]) || grp < 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: %s cannot be a component of %s",
                           t->name, t->cols[j].name, t->cols[total_col].name);
    t->cols[j].part_of = total_col;
    t->cols[j].part_grp = grp;
    return STRATA_OK;
}

strata_status strata_table_set_total_row(strata_ctx *ctx, strata_table *t, size_t row,
                                         size_t total_row)
{
    STRATA_TRY(building(ctx, t));
    if (row >= t->n_rows || total_row >= t->n_rows || row == total_row)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: row %zu cannot sum into row %zu",
                           t->name, row + 1, total_row + 1);
    t->total_of[row] = (int32_t)total_row;
    return STRATA_OK;
}

strata_status strata_table_set_parent(strata_ctx *ctx, strata_table *child, strata_table *parent,
                                      const int32_t *parent_row)
{
    int32_t *m;
    STRATA_TRY(building(ctx, child));
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

strata_status strata_table_same(strata_ctx *ctx, strata_table *t, int j, strata_table *other,
                                int other_j, const int32_t *rowmap)
{
    talias *na;
    int32_t *m;
    STRATA_TRY(building(ctx, t));
    STRATA_TRY(col_ok(ctx, t, j));
    STRATA_TRY(col_ok(ctx, other, other_j));
    if (!tcol_counts(&t->cols[j]) || !tcol_counts(&other->cols[other_j]))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: %s and %s.%s are not both counts",
                           t->name, t->cols[j].name, other->name, other->cols[other_j].name);
    for (size_t i = 0; i < t->n_rows; i++)
        if (rowmap[i] < -1 || rowmap[i] >= (int32_t)other->n_rows)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: row %zu: row %d outside %s",
                               t->name, i + 1, (int)rowmap[i], other->name);
    na = strata_realloc(ctx, t->alias, t->n_alias * sizeof *na, (t->n_alias + 1) * sizeof *na);
    if (!na)
        return STRATA_ENOMEM;
    t->alias = na;
    if (!(m = strata_alloc(ctx, (t->n_rows + 1) * sizeof *m)))
        return STRATA_ENOMEM;
    memcpy(m, rowmap, t->n_rows * sizeof *m);
    t->alias[t->n_alias++] = (talias){j, other_j, other, m};
    return STRATA_OK;
}

/* ---- reading ------------------------------------------------------------------ */

const char *strata_table_name(const strata_table *t)
{
    return t->name;
}

size_t strata_table_nrows(const strata_table *t)
{
    return t->n_rows;
}

size_t strata_table_ncols(const strata_table *t)
{
    return t->n_cols;
}

int strata_table_find(const strata_table *t, const char *name)
{
    for (size_t j = 0; j < t->n_cols; j++)
        if (strcmp(t->cols[j].name, name) == 0)
            return (int)j;
    return -1;
}

static const tcol *col_at(const strata_table *t, int j)
{
    return j >= 0 && (size_t)j < t->n_cols ? &t->cols[j] : NULL;
}

const char *strata_table_col_name(const strata_table *t, int j)
{
    const tcol *c = col_at(t, j);
    return c ? c->name : NULL;
}

strata_col_kind strata_table_col_kind(const strata_table *t, int j)
{
    const tcol *c = col_at(t, j);
    return c ? c->kind : STRATA_COL_KEY;
}

int strata_table_col_decimals(const strata_table *t, int j)
{
    const tcol *c = col_at(t, j);
    return c ? c->decimals : 0;
}

int strata_table_col_is_count(const strata_table *t, int j)
{
    const tcol *c = col_at(t, j);
    return c && (c->kind == STRATA_COL_COUNT ||
                 (c->kind == STRATA_COL_DERIVED && c->d.op == STRATA_RECIPE_SUM));
}

double strata_table_value(const strata_table *t, int j, size_t row)
{
    const tcol *c = col_at(t, j);
    if (!c || !c->v || row >= t->n_rows || c->hidden[row] || c->kind == STRATA_COL_INTERNAL)
        return NAN;
    return c->v[row];
}

int strata_table_hidden(const strata_table *t, int j, size_t row)
{
    const tcol *c = col_at(t, j);
    return c && row < t->n_rows && c->hidden[row] != 0;
}

const char *strata_table_key(const strata_table *t, int j, size_t row)
{
    const tcol *c = col_at(t, j);
    return c && c->s && row < t->n_rows ? c->s[row] : NULL;
}

void strata_table_col_part(const strata_table *t, int j, int *total_col, int *grp)
{
    const tcol *c = col_at(t, j);
    *total_col = c ? c->part_of : -1;
    *grp = c ? c->part_grp : 0;
}

int32_t strata_table_total_row(const strata_table *t, size_t row)
{
    return row < t->n_rows ? t->total_of[row] : -1;
}

int strata_table_disclosed(const strata_table *t)
{
    return t->disclosed;
}

int strata_table_patient_level(const strata_table *t)
{
    return t->patient_level;
}

strata_status strata_table_rules(strata_ctx *ctx, const strata_table *t, strata_sdc_params *out)
{
    if (!t->disclosed)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "table %s: not published yet", t->name);
    *out = t->rules;
    return STRATA_OK;
}

int strata_table_funnel(const strata_table *t, strata_funnel *out)
{
    if (!t->has_funnel)
        return 0;
    *out = t->funnel;
    return 1;
}

strata_status strata_table_hide(strata_ctx *ctx, strata_table *t, int j, size_t row)
{
    tcol *c;
    STRATA_TRY(col_ok(ctx, t, j));
    c = &t->cols[j];
    if (!t->disclosed || row >= t->n_rows || c->kind == STRATA_COL_KEY || tcol_counts(c))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "table %s: column %s row %zu: only a further non-count cell of a "
                           "published table can be withheld",
                           t->name, c->name, row + 1);
    if (!c->hidden[row]) {
        c->hidden[row] = 2;
        c->v[row] = NAN;
    }
    return STRATA_OK;
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

static int same_rules(const strata_sdc_params *a, const strata_sdc_params *b)
{
    return a->enabled == b->enabled && a->lo == b->lo && a->hi == b->hi &&
           a->round_to == b->round_to && a->secondary == b->secondary;
}

/* The stacked table's columns take kind and decimals from the first part. */
static strata_status stack_cols(strata_ctx *ctx, strata_table *t, const strata_table *p0,
                                const char *const *cols, size_t n_cols)
{
    for (size_t c = 0; c < n_cols; c++) {
        const tcol *src = &p0->cols[strata_table_find(p0, cols[c])];
        int j;
        STRATA_TRY(add_col(ctx, t, src->name,
                           src->kind == STRATA_COL_KEY ? STRATA_COL_KEY : src->kind,
                           src->decimals, -1, -1, &j));
    }
    return STRATA_OK;
}

strata_status strata_table_stack(strata_ctx *ctx, const char *name, size_t n_parts,
                                 const strata_table *const *parts, const size_t *first_row,
                                 const char *const *cols, size_t n_cols, strata_table **out)
{
    strata_table *t = NULL;
    size_t nr = 0, i = 0;
    strata_status s;
    *out = NULL;
    for (size_t k = 0; k < n_parts; k++) {
        if (!parts[k]->disclosed || parts[k]->patient_level || first_row[k] > parts[k]->n_rows ||
            !same_rules(&parts[k]->rules, &parts[0]->rules))
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "stack %s: part %s is not a published aggregate table under the "
                               "same rules",
                               name, parts[k]->name);
        for (size_t c = 0; c < n_cols; c++)
            if (strata_table_find(parts[k], cols[c]) < 0)
                return STRATA_FAIL(ctx, STRATA_EINVAL, "stack %s: part %s has no column %s", name,
                                   parts[k]->name, cols[c]);
        nr += parts[k]->n_rows - first_row[k];
    }
    if (n_parts == 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "stack %s: no parts", name);
    STRATA_TRY(strata_table_new(ctx, name, nr, &t));
    s = stack_cols(ctx, t, parts[0], cols, n_cols);
    for (size_t k = 0; s == STRATA_OK && k < n_parts; k++)
        for (size_t r = first_row[k]; s == STRATA_OK && r < parts[k]->n_rows; r++, i++)
            for (size_t c = 0; s == STRATA_OK && c < n_cols; c++) {
                const tcol *src = &parts[k]->cols[strata_table_find(parts[k], cols[c])];
                tcol *dst = &t->cols[c];
                if (dst->s)
                    s = (dst->s[i] = strata_strdup(ctx, src->s ? src->s[r] : "")) ? STRATA_OK
                                                                                  : STRATA_ENOMEM;
                else
                    dst->v[i] = src->v ? src->v[r] : NAN;
                dst->hidden[i] = src->hidden[r];
            }
    if (s != STRATA_OK) {
        strata_table_free(ctx, t);
        return s;
    }
    t->rules = parts[0]->rules;
    t->disclosed = 1; /* every cell is a published cell of a disclosed part */
    *out = t;
    return STRATA_OK;
}

/* ---- CSV -------------------------------------------------------------------- */

strata_status strata_table_write_csv(strata_ctx *ctx, const strata_table *t, const char *path)
{
    char *tmp;
    FILE *f;
    unsigned mode = t->patient_level ? 0600u : 0644u;
    int first;
    if (!t->patient_level && !t->disclosed)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s is aggregate and has not been through disclosure control",
                           path, t->name);
    f = strata_out_open(ctx, path, mode, &tmp);
    if (!f)
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    first = 1;
    for (size_t j = 0; j < t->n_cols; j++) {
        if (t->cols[j].kind == STRATA_COL_INTERNAL)
            continue;
        if (!first)
            fputc(',', f);
        strata_csv_field(f, t->cols[j].name);
        first = 0;
    }
    fputs("\r\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        first = 1;
        for (size_t j = 0; j < t->n_cols; j++) {
            const tcol *c = &t->cols[j];
            if (c->kind == STRATA_COL_INTERNAL)
                continue;
            if (!first)
                fputc(',', f);
            first = 0;
            if (c->kind == STRATA_COL_KEY)
                strata_csv_field(f, c->s[i]);
            else if (c->hidden[i])
                fputc('*', f);
            else if (isnan(c->v[i]))
                ;
            else if (c->kind == STRATA_COL_COUNT || c->kind == STRATA_COL_FLAG ||
                     (c->kind == STRATA_COL_DERIVED && c->d.op == STRATA_RECIPE_SUM) ||
                     (c->kind == STRATA_COL_TOTAL && t->rules.enabled && t->rules.round_to > 1))
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
