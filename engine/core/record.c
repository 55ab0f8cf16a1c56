/* engine/core/record.c — the model record (record.h): an ordered list of named
 * items with copied values, grown by doubling, everything allocated through
 * the context's hook. Invariant: a failed put leaves the record as it was. */
#include "record.h"

#include <string.h>

void strata_record_init(strata_record *r)
{
    memset(r, 0, sizeof *r);
}

static void item_free(strata_ctx *ctx, strata_rec_item *it)
{
    strata_free(ctx, it->name, 0);
    strata_free(ctx, it->text, 0);
    if (it->strings)
        for (size_t i = 0; i < it->dims[0]; i++)
            strata_free(ctx, it->strings[i], 0);
    strata_free(ctx, it->strings, 0);
    strata_free(ctx, it->f64, 0);
    strata_free(ctx, it->i64, 0);
}

void strata_record_free(strata_ctx *ctx, strata_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        item_free(ctx, &r->items[i]);
    strata_free(ctx, r->items, 0);
    strata_record_init(r);
}

/* A new zeroed item named name at the end (not yet counted in r->n). */
static strata_rec_item *item_new(strata_ctx *ctx, strata_record *r, const char *name,
                                 strata_rec_type type)
{
    strata_rec_item *it;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        strata_rec_item *items = strata_realloc(ctx, r->items, r->cap * sizeof *items, cap * sizeof *items);
        if (!items)
            return NULL;
        r->items = items;
        r->cap = cap;
    }
    it = &r->items[r->n];
    memset(it, 0, sizeof *it);
    it->type = type;
    it->rank = 1;
    it->dims[1] = 1;
    if (!(it->name = strata_strdup(ctx, name)))
        return NULL;
    return it;
}

strata_status strata_rec_put_text(strata_ctx *ctx, strata_record *r, const char *name, const char *value)
{
    strata_rec_item *it = item_new(ctx, r, name, STRATA_REC_TEXT);
    if (!it)
        return STRATA_ENOMEM;
    if (!(it->text = strata_strdup(ctx, value ? value : ""))) {
        item_free(ctx, it);
        return STRATA_ENOMEM;
    }
    r->n++;
    return STRATA_OK;
}

strata_status strata_rec_put_strings(strata_ctx *ctx, strata_record *r, const char *name,
                                     const char *const *s, size_t n)
{
    strata_rec_item *it = item_new(ctx, r, name, STRATA_REC_STRINGS);
    if (!it)
        return STRATA_ENOMEM;
    if (!(it->strings = strata_calloc(ctx, n + 1, sizeof *it->strings))) {
        item_free(ctx, it);
        return STRATA_ENOMEM;
    }
    it->dims[0] = n;
    for (size_t i = 0; i < n; i++)
        if (!(it->strings[i] = strata_strdup(ctx, s[i] ? s[i] : ""))) {
            item_free(ctx, it);
            return STRATA_ENOMEM;
        }
    r->n++;
    return STRATA_OK;
}

/* Shape and zeroed storage of an array item. */
static void *put_array(strata_ctx *ctx, strata_record *r, const char *name, strata_rec_type type,
                       size_t rows, size_t cols, size_t elem)
{
    strata_rec_item *it = item_new(ctx, r, name, type);
    size_t n;
    void *data;
    if (!it)
        return NULL;
    it->rank = cols ? 2 : 1;
    it->dims[0] = rows;
    it->dims[1] = cols ? cols : 1;
    if (!strata_mul_ok(rows, it->dims[1], &n) || !(data = strata_calloc(ctx, n + 1, elem))) {
        item_free(ctx, it);
        return NULL;
    }
    if (type == STRATA_REC_F64)
        it->f64 = data;
    else
        it->i64 = data;
    r->n++;
    return data;
}

double *strata_rec_put_f64(strata_ctx *ctx, strata_record *r, const char *name, size_t rows, size_t cols)
{
    return put_array(ctx, r, name, STRATA_REC_F64, rows, cols, sizeof(double));
}

int64_t *strata_rec_put_int(strata_ctx *ctx, strata_record *r, const char *name, strata_rec_int store,
                            size_t rows, size_t cols)
{
    int64_t *v = put_array(ctx, r, name, STRATA_REC_INT, rows, cols, sizeof(int64_t));
    if (v)
        r->items[r->n - 1].store = store;
    return v;
}

const strata_rec_item *strata_rec_find(const strata_record *r, const char *name, strata_rec_type type)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->items[i].type == type && !strcmp(r->items[i].name, name))
            return &r->items[i];
    return NULL;
}

const char *strata_rec_text(const strata_record *r, const char *name)
{
    const strata_rec_item *it = strata_rec_find(r, name, STRATA_REC_TEXT);
    return it ? it->text : NULL;
}

size_t strata_rec_count(const strata_rec_item *it)
{
    return it->dims[0] * it->dims[1];
}
