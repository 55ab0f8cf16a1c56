/* engine/io/csv_scan.c — streams a CSV file through libcsv (RFC 4180, strict
 * quoting) in fixed-size chunks, one physical line per csv_parse call, and
 * hands each whole record to a callback with the editor line of the record
 * and of every field. Invariants: memory is one chunk plus one record (no
 * field above STRATA_CSV_MAX_FIELD); every byte handed on is UTF-8 text
 * without NUL (a UTF-16/32 file, a NUL byte or an invalid sequence stops the
 * scan naming line and column). */
#include "csv_internal.h"
#include "internal.h"

#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SCAN_CHUNK ((size_t)1 << 20)
/* libcsv grows its field buffer by this much at a time (its default, 128
 * bytes, made an 8 MiB field take minutes under ASan: issue 17 #16). */
#define LIBCSV_BLOCK ((size_t)1 << 18)
/* libcsv's parser state before any byte of a record (libcsv.c ROW_NOT_BEGUN). */
#define LIBCSV_ROW_NOT_BEGUN 0

static strata_status field_too_long(csv_scanner *sc);

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
    if (len > STRATA_CSV_MAX_FIELD) {
        sc->err = field_too_long(sc);
        return;
    }
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

/* The byte-order marks of encodings strata does not read. */
static const char *foreign_bom(const unsigned char *s, size_t n, const char **iconv_name)
{
    if (n >= 4 && !memcmp(s, "\x00\x00\xFE\xFF", 4))
        return *iconv_name = "UTF-32BE", "UTF-32 (big-endian)";
    if (n >= 4 && !memcmp(s, "\xFF\xFE\x00\x00", 4))
        return *iconv_name = "UTF-32LE", "UTF-32 (little-endian)";
    if (n >= 2 && !memcmp(s, "\xFF\xFE", 2))
        return *iconv_name = "UTF-16LE", "UTF-16 (little-endian)";
    if (n >= 2 && !memcmp(s, "\xFE\xFF", 2))
        return *iconv_name = "UTF-16BE", "UTF-16 (big-endian)";
    return NULL;
}

static strata_status not_utf8(csv_scanner *sc, size_t line, size_t col, unsigned char byte)
{
    return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                       "%s: line %zu, column %zu: not UTF-8 text (byte 0x%02X); strata reads "
                       "CSV files as UTF-8: convert the file first (iconv -f WINDOWS-1252 -t "
                       "UTF-8), or declare its encoding: --encoding windows-1252 or latin1 "
                       "(docs/reliability.md#csv-text)",
                       sc->path, line, col, byte);
}

/* Checks a piece of one line: no NUL, valid UTF-8 (sequences may continue
 * into the next piece); counts its characters into sc->col. */
static strata_status check_text(csv_scanner *sc, const unsigned char *s, size_t len)
{
    size_t i = 0;
    if (sc->u8.need == 0 && !memchr(s, 0, len)) {
        /* the common case: ASCII, eight bytes at a time */
        uint64_t w;
        while (i + 8 <= len && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ULL) == 0))
            i += 8;
        while (i < len && s[i] < 0x80)
            i++;
        sc->col += i;
    }
    for (; i < len; i++) {
        unsigned char c = s[i];
        int k;
        if (c == 0)
            return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                               "%s: line %zu, column %zu: a NUL byte; a CSV file holds text and a "
                               "NUL would cut a value short%s (docs/reliability.md#csv-text)",
                               sc->path, sc->line, sc->col + 1,
                               sc->line == 1 && sc->col < 2
                                   ? " (UTF-16 text without a byte-order mark? convert it: iconv "
                                     "-f UTF-16LE -t UTF-8)"
                                   : "");
        k = strata_utf8_step(&sc->u8, c);
        if (k < 0)
            return sc->u8.need ? not_utf8(sc, sc->u8_line, sc->u8_col, sc->u8_lead)
                               : not_utf8(sc, sc->line, sc->col + 1, c);
        if (k > 0) {
            sc->col++;
            sc->u8_line = sc->line;
            sc->u8_col = sc->col;
            sc->u8_lead = c;
        }
    }
    return STRATA_OK;
}

static strata_status field_too_long(csv_scanner *sc)
{
    return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                       "%s: line %zu: field %zu (starting on line %zu) is longer than %zu MiB, the "
                       "most strata reads in one CSV value (an unclosed quote?)",
                       sc->path, sc->line, sc->nf + 1, sc->nf == 0 ? sc->cand_line : sc->fld_line,
                       STRATA_CSV_MAX_FIELD >> 20);
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
    sc->col = 0;
    sc->n_lines = sc->line - 1;
}

/* Feeds len bytes (ending at a line end unless at a chunk end). */
static strata_status feed(csv_scanner *sc, struct csv_parser *p, const char *s, size_t len,
                          int ends_line)
{
    if (p->pstate == LIBCSV_ROW_NOT_BEGUN)
        sc->cand_line = sc->line;
    STRATA_TRY(check_text(sc, (const unsigned char *)s, len));
    if (csv_parse(p, s, len, on_field, on_record, sc) != len && !sc->err)
        return parse_error(sc, p, "a quote inside an unquoted field or text after a closing quote");
    if (sc->err)
        return sc->err;
    if (p->entry_pos > STRATA_CSV_MAX_FIELD) /* checked before the field ends */
        return field_too_long(sc);
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

/* Windows-1252's 0x80..0x9F (the five it leaves undefined stay C1 controls,
 * as in Latin-1). */
static const unsigned short cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

/* Converts n single-byte characters to UTF-8 in out (3 n bytes at most). */
static size_t to_utf8(csv_encoding enc, const unsigned char *s, size_t n, unsigned char *out)
{
    unsigned char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = s[i];
        if (cp >= 0x80 && cp < 0xA0 && enc == CSV_ENC_CP1252)
            cp = cp1252_hi[cp - 0x80];
        if (cp < 0x80) {
            *o++ = (unsigned char)cp;
        } else if (cp < 0x800) {
            *o++ = (unsigned char)(0xC0 | cp >> 6);
            *o++ = (unsigned char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (unsigned char)(0xE0 | cp >> 12);
            *o++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
            *o++ = (unsigned char)(0x80 | (cp & 0x3F));
        }
    }
    return (size_t)(o - out);
}

strata_status csv_encoding_parse(strata_ctx *ctx, const char *name, csv_encoding *out)
{
    static const struct {
        const char *name;
        csv_encoding enc;
    } known[] = {{"utf-8", CSV_ENC_UTF8},        {"utf8", CSV_ENC_UTF8},
                 {"latin1", CSV_ENC_LATIN1},     {"latin-1", CSV_ENC_LATIN1},
                 {"iso-8859-1", CSV_ENC_LATIN1}, {"windows-1252", CSV_ENC_CP1252},
                 {"cp1252", CSV_ENC_CP1252}};
    *out = CSV_ENC_UTF8;
    if (!name)
        return STRATA_OK;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (!strcasecmp(name, known[k].name)) {
            *out = known[k].enc;
            return STRATA_OK;
        }
    return STRATA_FAIL(ctx, STRATA_EINVAL,
                       "encoding '%s': strata reads utf-8 (the default), latin1 (iso-8859-1) "
                       "and windows-1252 (cp1252)",
                       name);
}

static strata_status scan_stream(csv_scanner *sc, struct csv_parser *p, FILE *f, char *chunk,
                                 csv_encoding encoding, unsigned char *conv)
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
        const char *s = chunk, *enc, *iconv_name;
        done += (double)n;
        if (size > 0)
            strata_progress(sc->ctx, stage, done < size ? done : size - 1, size);
        if (encoding != CSV_ENC_UTF8) { /* declared: converted, no mark looked for */
            n = to_utf8(encoding, (const unsigned char *)chunk, n, conv);
            STRATA_TRY(feed_chunk(sc, p, (const char *)conv, (const char *)conv + n, &pending_cr,
                                  &partial));
            continue;
        }
        if (first && (enc = foreign_bom((const unsigned char *)s, n, &iconv_name)) != NULL)
            return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                               "%s: is %s text (it starts with that byte-order mark); strata "
                               "reads CSV files as UTF-8: convert it first, e.g. iconv -f %s -t "
                               "UTF-8 (docs/reliability.md#csv-text)",
                               sc->path, enc, iconv_name);
        if (first && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
            s += 3;
        first = 0;
        STRATA_TRY(feed_chunk(sc, p, s, chunk + n, &pending_cr, &partial));
    }
    if (size > 0)
        strata_progress(sc->ctx, stage, size, size);
    if (ferror(f))
        return STRATA_FAIL(sc->ctx, STRATA_EIO, "%s: read error: %s", sc->path, strerror(errno));
    if (sc->u8.need)
        return STRATA_FAIL(sc->ctx, STRATA_EDATA,
                           "%s: line %zu, column %zu: not UTF-8 text (the file ends inside a "
                           "multi-byte character) (docs/reliability.md#csv-text)",
                           sc->path, sc->u8_line, sc->u8_col);
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
    return csv_scan_file_enc(ctx, path, delim, CSV_ENC_UTF8, fn, ud, n_lines);
}

strata_status csv_scan_file_enc(strata_ctx *ctx, const char *path, char delim, csv_encoding enc,
                                csv_record_fn fn, void *ud, size_t *n_lines)
{
    csv_scanner sc;
    struct csv_parser p;
    strata_status s;
    char *chunk;
    unsigned char *conv = NULL;
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
    chunk = strata_alloc(ctx, SCAN_CHUNK);
    if (enc != CSV_ENC_UTF8)
        conv = strata_alloc(ctx, 3 * SCAN_CHUNK);
    if (!chunk || (enc != CSV_ENC_UTF8 && !conv)) {
        strata_free(ctx, chunk, SCAN_CHUNK);
        fclose(f);
        return STRATA_ENOMEM;
    }
    /* libcsv allocates its field buffer with malloc (it has no user-data
     * allocator hook); everything else goes through ctx. */
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        strata_free(ctx, chunk, SCAN_CHUNK);
        strata_free(ctx, conv, 3 * SCAN_CHUNK);
        fclose(f);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot start the CSV parser", path);
    }
    csv_set_delim(&p, (unsigned char)delim);
    csv_set_blk_size(&p, LIBCSV_BLOCK);
    s = scan_stream(&sc, &p, f, chunk, enc, conv);
    if (s == STRATA_ENOMEM && !strstr(strata_ctx_errmsg(ctx), path))
        s = STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: line %zu: out of memory reading a record", path,
                        sc.line);
    csv_free(&p);
    fclose(f);
    strata_free(ctx, chunk, SCAN_CHUNK);
    strata_free(ctx, conv, 3 * SCAN_CHUNK);
    strata_free(ctx, sc.buf, sc.buf_cap);
    strata_free(ctx, sc.off, sc.f_cap * sizeof *sc.off);
    strata_free(ctx, sc.field_line, sc.f_cap * sizeof *sc.field_line);
    strata_free(ctx, sc.field, sc.f_cap * sizeof *sc.field);
    if (n_lines)
        *n_lines = sc.n_lines;
    return s;
}
