/* engine/io/csv_table.c — reads a small CSV file whole into rows of fields
 * (strata_csv_rows) on top of csv_scan_file, the one libcsv driver.
 * Invariant: every field is a NUL-terminated copy in one arena; field[r][k]
 * and line[r] stay valid until strata_csv_rows_free. */
#include "csv_table.h"

#include "csv_internal.h"

#include <string.h>

/* What the records accumulate into before the pointers are laid out. */
typedef struct rows_acc {
    strata_ctx *ctx;
    strata_csv_rows *t;     /* text_, start_ and line grow here */
    size_t *off;            /* offset of each field in text_ */
    size_t text_len, text_cap, nfield, fcap, scap, lcap;
} rows_acc;

/* p grown to hold need elements of elt bytes (cap updated), or NULL with p kept. */
static void *reserve(strata_ctx *ctx, void *p, size_t *cap, size_t need, size_t elt)
{
    size_t nc = *cap ? *cap : 64;
    void *g;
    if (need <= *cap)
        return p;
    while (nc < need)
        nc *= 2;
    if (!(g = strata_realloc(ctx, p, *cap * elt, nc * elt)))
        return NULL;
    *cap = nc;
    return g;
}

/* Appends one record's fields to the arena. */
static strata_status on_record(void *ud, const csv_scanner *sc)
{
    rows_acc *a = ud;
    strata_csv_rows *t = a->t;
    size_t bytes = 0;
    void *p;
    for (size_t k = 0; k < sc->nf; k++)
        bytes += strlen(sc->field[k]) + 1;
    if (!(p = reserve(a->ctx, t->text_, &a->text_cap, a->text_len + bytes, 1)))
        return STRATA_ENOMEM;
    t->text_ = p;
    if (!(p = reserve(a->ctx, a->off, &a->fcap, a->nfield + sc->nf, sizeof *a->off)))
        return STRATA_ENOMEM;
    a->off = p;
    if (!(p = reserve(a->ctx, t->start_, &a->scap, t->n + 2, sizeof *t->start_)))
        return STRATA_ENOMEM;
    t->start_ = p;
    if (!(p = reserve(a->ctx, t->line, &a->lcap, t->n + 2, sizeof *t->line)))
        return STRATA_ENOMEM;
    t->line = p;
    t->start_[t->n] = a->nfield;
    t->line[t->n] = sc->rec_line;
    for (size_t k = 0; k < sc->nf; k++) {
        size_t len = strlen(sc->field[k]) + 1;
        memcpy(t->text_ + a->text_len, sc->field[k], len);
        a->off[a->nfield++] = a->text_len;
        a->text_len += len;
    }
    t->n++;
    return STRATA_OK;
}

/* field[r] and nf[r] from the arena offsets. */
static strata_status lay_out(rows_acc *a)
{
    strata_csv_rows *t = a->t;
    t->ptr_ = strata_alloc(a->ctx, (a->nfield + 1) * sizeof *t->ptr_);
    t->field = strata_alloc(a->ctx, (t->n + 1) * sizeof *t->field);
    t->nf = strata_alloc(a->ctx, (t->n + 1) * sizeof *t->nf);
    if (!t->ptr_ || !t->field || !t->nf)
        return STRATA_ENOMEM;
    for (size_t k = 0; k < a->nfield; k++)
        t->ptr_[k] = t->text_ + a->off[k];
    for (size_t r = 0; r < t->n; r++) {
        size_t end = r + 1 < t->n ? t->start_[r + 1] : a->nfield;
        t->field[r] = t->ptr_ + t->start_[r];
        t->nf[r] = end - t->start_[r];
    }
    return STRATA_OK;
}

strata_status strata_csv_rows_read(strata_ctx *ctx, const char *path, strata_csv_rows *out)
{
    rows_acc a;
    strata_status st;
    memset(out, 0, sizeof *out);
    memset(&a, 0, sizeof a);
    a.ctx = ctx;
    a.t = out;
    st = csv_scan_file(ctx, path, ',', on_record, &a, NULL);
    if (st == STRATA_OK)
        st = lay_out(&a);
    strata_free(ctx, a.off, 0);
    if (st != STRATA_OK)
        strata_csv_rows_free(ctx, out);
    return st;
}

void strata_csv_rows_free(strata_ctx *ctx, strata_csv_rows *t)
{
    STRATA_FREE_ALL(ctx, t->text_, t->ptr_, t->start_, t->line, t->field, t->nf);
    memset(t, 0, sizeof *t);
}
