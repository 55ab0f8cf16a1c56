/* engine/io/csv_export.c — cohort → CSV: the chosen columns read in row blocks,
 * written as RFC 4180 records (quotes only where needed), categoricals as
 * level labels, floats in the shortest decimal form that strtod reads back to
 * the same double. Invariant: the CSV appears whole (temporary file, then
 * rename) or not at all. */
#include "strata/derive.h"
#include "csv_internal.h"
#include "outfile.h"
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void strata_csv_export_params_init(strata_csv_export_params *p)
{
    memset(p, 0, sizeof *p);
    p->na = "";
    p->delim = ',';
    p->block_rows = 8192;
}

strata_status strata_csv_export_params_check(strata_ctx *ctx, const strata_csv_export_params *p)
{
    if (!p || !p->na)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "export: no parameters or no NA string");
    if (p->delim == '"' || p->delim == '\n' || p->delim == '\r' || p->delim == 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "export: the delimiter cannot be a quote, a line end or NUL");
    if (p->block_rows == 0 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "export: block_rows %zu outside [1, 2^24]",
                           p->block_rows);
    if (p->n_columns && !p->columns)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "export: %zu columns but no names", p->n_columns);
    return STRATA_OK;
}

/* Shortest of %.15g..%.17g that reads back exactly; integral values keep a
 * ".0" so that a re-import still sees a float column. */
static void fmt_double(char *b, size_t n, double v)
{
    if (isinf(v)) {
        snprintf(b, n, "%s", v < 0 ? "-Inf" : "Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, n, "%.*g", prec, v);
        if (strtod(b, NULL) == v)
            break;
    }
    if (!strpbrk(b, ".eE"))
        strncat(b, ".0", n - strlen(b) - 1);
}

/* Writes s quoted when it holds the delimiter, a quote, a line end or edge
 * blanks (which libcsv would trim), or when it is an empty level label (an
 * empty missing value, na_empty, stays bare). */
static void put_field(FILE *f, const char *s, char delim, int na_empty)
{
    size_t len = strlen(s);
    int quote = len ? s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t'
                    : !na_empty;
    for (const char *p = s; !quote && *p; p++)
        quote = *p == delim || *p == '"' || *p == '\n' || *p == '\r';
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct ecol {
    size_t j;
    const strata_column_info *info;
    int is_float;
    int is_date;       /* int days since 1970-01-01 (units, or a date role): written YYYY-MM-DD */
    int64_t *iv;
    double *dv;
} ecol;

typedef struct exporter {
    strata_ctx *ctx;
    strata_cohort *c;
    const strata_csv_export_params *p;
    ecol *col;
    size_t ncol;
} exporter;

static strata_status pick_columns(exporter *ex)
{
    const strata_csv_export_params *p = ex->p;
    size_t total = strata_cohort_ncols(ex->c), n = 0;
    if (!(ex->col = strata_calloc(ex->ctx, p->columns ? p->n_columns : total + 1, sizeof *ex->col)))
        return STRATA_ENOMEM;
    if (p->columns) {
        for (size_t k = 0; k < p->n_columns; k++) {
            const strata_column_info *ci;
            STRATA_TRY(strata_cohort_find(ex->ctx, ex->c, p->columns[k], &ex->col[n].j));
            ci = strata_cohort_column(ex->c, ex->col[n].j);
            if (ci->length != strata_cohort_nrows(ex->c))
                return STRATA_FAIL(ex->ctx, STRATA_ESPEC,
                                   "%s: column '%s' (/%s) has %zu rows, not one per patient "
                                   "(%zu): it cannot be exported beside /patients",
                                   strata_cohort_path(ex->c), p->columns[k], ci->group,
                                   ci->length, strata_cohort_nrows(ex->c));
            n++;
        }
    } else {
        for (const char *g = "patients"; g; g = strcmp(g, "patients") ? NULL : "outcomes")
            for (size_t j = 0; j < total; j++) {
                const strata_column_info *ci = strata_cohort_column(ex->c, j);
                if (!strcmp(ci->group, g))
                    ex->col[n++].j = j;
            }
    }
    ex->ncol = n;
    for (size_t k = 0; k < n; k++) {
        ecol *e = &ex->col[k];
        e->info = strata_cohort_column(ex->c, e->j);
        e->is_float = !e->info->categorical &&
                      (e->info->dtype == STRATA_DT_FLOAT32 || e->info->dtype == STRATA_DT_FLOAT64);
        e->is_date = !e->info->categorical && !e->is_float &&
                     (!strcmp(e->info->units, "days since 1970-01-01") ||
                      (e->info->role >= STRATA_ROLE_BIRTH_DATE &&
                       e->info->role <= STRATA_ROLE_REG_END));
        if (e->is_float ? !(e->dv = strata_calloc(ex->ctx, p->block_rows, sizeof *e->dv))
                        : !(e->iv = strata_calloc(ex->ctx, p->block_rows, sizeof *e->iv)))
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static void put_value(FILE *f, const exporter *ex, const ecol *e, size_t r)
{
    char b[64];
    if (e->is_float) {
        if (isnan(e->dv[r])) {
            put_field(f, ex->p->na, ex->p->delim, 1);
            return;
        }
        fmt_double(b, sizeof b, e->dv[r]);
        fputs(b, f);
    } else if (e->info->categorical) {
        int64_t code = e->iv[r];
        if (code < 0 || (size_t)code >= e->info->n_levels)
            put_field(f, ex->p->na, ex->p->delim, 1);
        else
            put_field(f, e->info->levels[code], ex->p->delim, 0);
    } else if (e->iv[r] == INT64_MIN) {
        put_field(f, ex->p->na, ex->p->delim, 1);
    } else if (e->is_date && e->iv[r] >= INT32_MIN && e->iv[r] <= INT32_MAX) {
        strata_date_format_iso((int32_t)e->iv[r], b);
        fputs(b, f);
    } else {
        fprintf(f, "%lld", (long long)e->iv[r]);
    }
}

static strata_status write_csv(exporter *ex, FILE *f)
{
    size_t n = strata_cohort_nrows(ex->c), B = ex->p->block_rows;
    for (size_t k = 0; k < ex->ncol; k++) {
        if (k)
            fputc(ex->p->delim, f);
        put_field(f, ex->col[k].info->name, ex->p->delim, 0);
    }
    fputc('\n', f);
    for (size_t row0 = 0; row0 < n; row0 += B) {
        size_t m = n - row0 < B ? n - row0 : B;
        for (size_t k = 0; k < ex->ncol; k++) {
            ecol *e = &ex->col[k];
            if (e->is_float)
                STRATA_TRY(strata_cohort_read_f64(ex->ctx, ex->c, e->j, row0, m, e->dv));
            else
                STRATA_TRY(strata_cohort_read_i64(ex->ctx, ex->c, e->j, row0, m, e->iv));
        }
        for (size_t r = 0; r < m; r++) {
            for (size_t k = 0; k < ex->ncol; k++) {
                if (k)
                    fputc(ex->p->delim, f);
                put_value(f, ex, &ex->col[k], r);
            }
            fputc('\n', f);
        }
        if (ferror(f))
            return STRATA_FAIL(ex->ctx, STRATA_EIO, "write error: %s", strerror(errno));
    }
    return STRATA_OK;
}

static strata_status export_to(exporter *ex, const char *csv_path)
{
    char *tmp;
    FILE *f;
    strata_status s;
    if (!strcmp(csv_path, "-")) {
        s = write_csv(ex, stdout);
        if (s == STRATA_OK && fflush(stdout) != 0)
            s = STRATA_FAIL(ex->ctx, STRATA_EIO, "stdout: write error: %s", strerror(errno));
        return s;
    }
    /* patient-level rows: 0600, written through the descriptor strata created */
    if (!(f = strata_out_open(ex->ctx, csv_path, 0600, &tmp))) /* ENOMEM, EIO, or an input */
        return ex->ctx->last_status;
    s = write_csv(ex, f);
    if (s != STRATA_OK) {
        fclose(f);
        unlink(tmp);
        strata_free(ex->ctx, tmp, 0);
        return s;
    }
    return strata_out_publish(ex->ctx, f, tmp, csv_path, 0600);
}

strata_status strata_csv_export(strata_ctx *ctx, const char *cohort_path, const char *csv_path,
                                const strata_csv_export_params *p)
{
    exporter ex;
    strata_status s;
    STRATA_TRY(strata_csv_export_params_check(ctx, p));
    memset(&ex, 0, sizeof ex);
    ex.ctx = ctx;
    ex.p = p;
    STRATA_TRY(strata_cohort_open(ctx, cohort_path, &ex.c));
    s = pick_columns(&ex);
    if (s == STRATA_OK)
        s = export_to(&ex, csv_path);
    for (size_t k = 0; ex.col && k < (p->columns ? p->n_columns : ex.ncol); k++) {
        strata_free(ctx, ex.col[k].iv, 0);
        strata_free(ctx, ex.col[k].dv, 0);
    }
    strata_free(ctx, ex.col, 0);
    strata_cohort_close(ex.c);
    return s;
}
