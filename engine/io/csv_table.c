/* engine/io/csv_table.c — reads a small CSV file whole into rows of fields
 * (strata_csv_rows) on top of csv_scan_file, the one libcsv driver.
 * Invariant: every field is a NUL-terminated copy in one arena; field[r][k]
 * and line[r] stay valid until strata_csv_rows_free. */
#include "csv_table.h"

#include "csv_internal.h"

#include <string.h>

typedef struct rows_acc {
    strata_ctx *ctx;
    char *text;
    size_t text_len, text_cap;
    size_t *off;          /* offset of each field in text */
    size_t nfield, fcap;
    size_t *start, *line; /* first field and line of each record; start[n] = nfield */
    size_t n, scap, lcap;
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
    size_t bytes = 0;
    void *p;
    for (size_t k = 0; k < sc->nf; k++)
        bytes += strlen(sc->field[k]) + 1;
    if (!(p = reserve(a->ctx, a->text, &a->text_cap, a->text_len + bytes, 1)))
        return STRATA_ENOMEM;
    a->text = p;
    if (!(p = reserve(a->ctx, a->off, &a->fcap, a->nfield + sc->nf, sizeof *a->off)))
        return STRATA_ENOMEM;
    a->off = p;
    if (!(p = reserve(a->ctx, a->start, &a->scap, a->n + 2, sizeof *a->start)))
        return STRATA_ENOMEM;
    a->start = p;
    if (!(p = reserve(a->ctx, a->line, &a->lcap, a->n + 2, sizeof *a->line)))
        return STRATA_ENOMEM;
    a->line = p;
    a->start[a->n] = a->nfield;
    a->line[a->n] = sc->rec_line;
    for (size_t k = 0; k < sc->nf; k++) {
        size_t len = strlen(sc->field[k]) + 1;
        memcpy(a->text + a->text_len, sc->field[k], len);
        a->off[a->nfield++] = a->text_len;
        a->text_len += len;
    }
    a->n++;
    return STRATA_OK;
}

static void acc_free(rows_acc *a)
{
    strata_free(a->ctx, a->text, a->text_cap);
    strata_free(a->ctx, a->off, a->fcap * sizeof *a->off);
    strata_free(a->ctx, a->start, 0);
    strata_free(a->ctx, a->line, 0);
}

strata_status strata_csv_rows_read(strata_ctx *ctx, const char *path, strata_csv_rows *out)
{
    rows_acc a;
    strata_status st;
    memset(out, 0, sizeof *out);
    memset(&a, 0, sizeof a);
    a.ctx = ctx;
    st = csv_scan_file(ctx, path, ',', on_record, &a, NULL);
    if (st == STRATA_OK) {
        out->ptr_ = strata_alloc(ctx, (a.nfield + 1) * sizeof *out->ptr_);
        out->field = strata_alloc(ctx, (a.n + 1) * sizeof *out->field);
        out->nf = strata_alloc(ctx, (a.n + 1) * sizeof *out->nf);
        if (!out->ptr_ || !out->field || !out->nf)
            st = STRATA_ENOMEM;
    }
    if (st != STRATA_OK) {
        acc_free(&a);
        strata_csv_rows_free(ctx, out);
        return st;
    }
    if (a.start)
        a.start[a.n] = a.nfield;
    for (size_t k = 0; k < a.nfield; k++)
        out->ptr_[k] = a.text + a.off[k];
    for (size_t r = 0; r < a.n; r++) {
        out->field[r] = out->ptr_ + a.start[r];
        out->nf[r] = a.start[r + 1] - a.start[r];
    }
    out->n = a.n;
    out->line = a.line;
    out->text_ = a.text;
    out->start_ = a.start;
    strata_free(ctx, a.off, a.fcap * sizeof *a.off);
    return STRATA_OK;
}

void strata_csv_rows_free(strata_ctx *ctx, strata_csv_rows *t)
{
    strata_free(ctx, t->text_, 0);
    strata_free(ctx, t->ptr_, 0);
    strata_free(ctx, t->start_, 0);
    strata_free(ctx, t->line, 0);
    strata_free(ctx, t->field, 0);
    strata_free(ctx, t->nf, 0);
    memset(t, 0, sizeof *t);
}
