/* engine/io/csv_scan.c — streams a CSV file through libcsv (RFC 4180, strict
 * quoting) in fixed-size chunks, one physical line per csv_parse call, and
 * hands each whole record to a callback with the editor line of the record
 * and of every field. Invariant: memory is one chunk plus one record. */
#include "csv_internal.h"
#include "internal.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define SCAN_CHUNK ((size_t)1 << 20)
/* libcsv's parser state before any byte of a record (libcsv.c ROW_NOT_BEGUN). */
#define LIBCSV_ROW_NOT_BEGUN 0

void csv_show_value(char *dst, size_t n, const char *v)
{
    size_t k = 0;
    for (; *v && k + 5 < n; v++) {
        unsigned char c = (unsigned char)*v;
        if (k > 60) {
            memcpy(dst + k, "...", 3);
            k += 3;
            break;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            dst[k++] = '\\';
            dst[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            dst[k++] = '?';
        } else {
            dst[k++] = (char)c;
        }
    }
    dst[k] = 0;
}

static int grow(csv_scanner *sc, size_t need_bytes)
{
    if (sc->buf_len + need_bytes > sc->buf_cap) {
        size_t nc = sc->buf_cap ? sc->buf_cap : 4096;
        char *g;
        while (nc < sc->buf_len + need_bytes)
            nc *= 2;
        if (!(g = strata_realloc(sc->ctx, sc->buf, sc->buf_cap, nc)))
            return -1;
        sc->buf = g;
        sc->buf_cap = nc;
    }
    if (sc->nf == sc->f_cap) {
        size_t nc = sc->f_cap ? 2 * sc->f_cap : 64;
        size_t *o = strata_realloc(sc->ctx, sc->off, sc->f_cap * sizeof *o, nc * sizeof *o);
        size_t *l;
        char **f;
        if (!o)
            return -1;
        sc->off = o;
        if (!(l = strata_realloc(sc->ctx, sc->field_line, sc->f_cap * sizeof *l, nc * sizeof *l)))
            return -1;
        sc->field_line = l;
        if (!(f = strata_realloc(sc->ctx, sc->field, sc->f_cap * sizeof *f, nc * sizeof *f)))
            return -1;
        sc->field = f;
        sc->f_cap = nc;
    }
    return 0;
}

/* libcsv field callback: the field ended at a delimiter or terminator on
 * sc->line; the next field starts on that same line. */
static void on_field(void *s, size_t len, void *ud)
{
    csv_scanner *sc = ud;
    if (sc->err)
        return;
    if (grow(sc, len + 1)) {
        sc->err = STRATA_ENOMEM;
        return;
    }
    if (sc->nf == 0)
        sc->rec_line = sc->cand_line;
    sc->off[sc->nf] = sc->buf_len;
    sc->field_line[sc->nf] = sc->nf == 0 ? sc->cand_line : sc->fld_line;
    if (len)
        memcpy(sc->buf + sc->buf_len, s, len);
    sc->buf[sc->buf_len + len] = 0;
    sc->buf_len += len + 1;
    sc->nf++;
    sc->fld_line = sc->line;
}

static void on_record(int c, void *ud)
{
    csv_scanner *sc = ud;
    (void)c;
    if (!sc->err && sc->nf) {
        for (size_t i = 0; i < sc->nf; i++)
            sc->field[i] = sc->buf + sc->off[i];
        sc->err = sc->fn(sc->ud, sc);
    }
    sc->nf = 0;
    sc->buf_len = 0;
    sc->cand_line = sc->line; /* a lone CR ends a record mid-line */
}

static strata_status parse_error(csv_scanner *sc, struct csv_parser *p, const char *what)
{
    size_t start = sc->nf == 0 ? sc->cand_line : sc->fld_line;
    return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                       "%s: line %zu: field %zu (starting on line %zu): %s (%s)", sc->path,
                       sc->line, sc->nf + 1, start, what, csv_strerror(csv_error(p)));
}

static void end_line(csv_scanner *sc)
{
    sc->line++;
    sc->n_lines = sc->line - 1;
}

/* Feeds len bytes (ending at a line end unless at a chunk end). */
static strata_status feed(csv_scanner *sc, struct csv_parser *p, const char *s, size_t len,
                          int ends_line)
{
    if (p->pstate == LIBCSV_ROW_NOT_BEGUN)
        sc->cand_line = sc->line;
    if (csv_parse(p, s, len, on_field, on_record, sc) != len && !sc->err)
        return parse_error(sc, p, "a quote inside an unquoted field or text after a closing quote");
    if (sc->err)
        return sc->err;
    if (ends_line)
        end_line(sc);
    return STRATA_OK;
}

/* Feeds one chunk cut at line ends: LF, CRLF, or a lone CR (old Mac files;
 * editors show it as a line break and libcsv ends a record there). */
static strata_status feed_chunk(csv_scanner *sc, struct csv_parser *p, const char *s,
                                const char *end, int *pending_cr, int *partial)
{
    if (*pending_cr && s < end && *s != '\n')
        end_line(sc);
    *pending_cr = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *lim = nl ? nl : end;
        const char *cr = memchr(s, '\r', (size_t)(lim - s));
        const char *e;
        int ends = 1;
        if (cr && cr + 1 < lim)
            e = cr + 1; /* lone CR */
        else if (nl)
            e = nl + 1; /* LF or CRLF */
        else {
            e = end;
            ends = 0;
            *pending_cr = cr != NULL && cr + 1 == end;
        }
        STRATA_TRY(feed(sc, p, s, (size_t)(e - s), ends));
        *partial = !ends;
        s = e;
    }
    return STRATA_OK;
}

static strata_status scan_stream(csv_scanner *sc, struct csv_parser *p, FILE *f, char *chunk)
{
    int first = 1, partial = 0, pending_cr = 0;
    size_t n;
    double done = 0, size = 0;
    struct stat sb;
    char stage[32];
    const char *base = strrchr(sc->path, '/');
    /* progress in bytes of this pass, as "read extract.csv" */
    snprintf(stage, sizeof stage, "read %s", base ? base + 1 : sc->path);
    if (fstat(fileno(f), &sb) == 0 && sb.st_size > 0)
        size = (double)sb.st_size;
    while ((n = fread(chunk, 1, SCAN_CHUNK, f)) > 0) {
        const char *s = chunk;
        if (first && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
            s += 3;
        first = 0;
        STRATA_TRY(feed_chunk(sc, p, s, chunk + n, &pending_cr, &partial));
        done += (double)n;
        if (size > 0)
            strata_progress(sc->ctx, stage, done < size ? done : size - 1, size);
    }
    if (size > 0)
        strata_progress(sc->ctx, stage, size, size);
    if (ferror(f))
        return STRATA_FAIL(sc->ctx, STRATA_EIO, "%s: read error: %s", sc->path, strerror(errno));
    if (pending_cr) {
        end_line(sc);
        partial = 0;
    }
    if (partial)
        sc->n_lines = sc->line;
    if (csv_fini(p, on_field, on_record, sc) != 0 && !sc->err)
        return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                           "%s: line %zu: a quoted field starting on line %zu is never closed",
                           sc->path, sc->line - !partial,
                           sc->nf == 0 ? sc->cand_line : sc->fld_line);
    return sc->err;
}

strata_status csv_scan_file(strata_ctx *ctx, const char *path, char delim, csv_record_fn fn,
                            void *ud, size_t *n_lines)
{
    csv_scanner sc;
    struct csv_parser p;
    strata_status s;
    char *chunk;
    FILE *f;
    memset(&sc, 0, sizeof sc);
    sc.ctx = ctx;
    sc.path = path;
    sc.delim = delim;
    sc.fn = fn;
    sc.ud = ud;
    sc.line = sc.cand_line = sc.fld_line = 1;
    if (!(f = strata_input_fopen(ctx, path))) /* FIFO/device refused; remembered as an input */
        return ctx->last_status;
    if (!(chunk = strata_alloc(ctx, SCAN_CHUNK))) {
        fclose(f);
        return STRATA_ENOMEM;
    }
    /* libcsv allocates its field buffer with malloc (it has no user-data
     * allocator hook); everything else goes through ctx. */
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        strata_free(ctx, chunk, SCAN_CHUNK);
        fclose(f);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot start the CSV parser", path);
    }
    csv_set_delim(&p, (unsigned char)delim);
    s = scan_stream(&sc, &p, f, chunk);
    if (s == STRATA_ENOMEM && !strstr(strata_ctx_errmsg(ctx), path))
        s = STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: line %zu: out of memory reading a record", path,
                        sc.line);
    csv_free(&p);
    fclose(f);
    strata_free(ctx, chunk, SCAN_CHUNK);
    strata_free(ctx, sc.buf, sc.buf_cap);
    strata_free(ctx, sc.off, sc.f_cap * sizeof *sc.off);
    strata_free(ctx, sc.field_line, sc.f_cap * sizeof *sc.field_line);
    strata_free(ctx, sc.field, sc.f_cap * sizeof *sc.field);
    if (n_lines)
        *n_lines = sc.n_lines;
    return s;
}
