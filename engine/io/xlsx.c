/* engine/io/xlsx.c — Excel workbooks through libxlsxwriter (engine/io/xlsx.h).
 * The workbook's temporary is created O_EXCL|O_NOFOLLOW with its final mode
 * and held open; libxlsxwriter, which opens files by name, is given
 * /proc/self/fd/<fd> so it writes the very file strata created (a link swapped
 * in at the temporary's name is never followed), then strata_publish renames
 * it into place. */
#include "xlsx.h"

#include "csv_internal.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define N_STYLES (STRATA_XS_NUMBER + 10)

struct strata_xlsx {
    strata_ctx *ctx;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *fmt[N_STYLES];
    char *path, *tmp;
    int fd;           /* the temporary strata created; -1 when closed */
    char fdname[64];  /* /proc/self/fd/<fd>: the name libxlsxwriter opens */
    unsigned mode;
};

const char *strata_xlsx_version(void) { return "libxlsxwriter " LXW_VERSION; }

static strata_status lxw_fail(strata_xlsx *x, lxw_error e, const char *what)
{
    return STRATA_FAIL(x->ctx, e == LXW_ERROR_MEMORY_MALLOC_FAILED ? STRATA_ENOMEM : STRATA_EIO,
                       "%s: %s: %s", x->path, what, lxw_strerror(e));
}

static void make_formats(strata_xlsx *x)
{
    static const char *const num[10] = {"#,##0", "0.0", "0.00", "0.000", "0.0000", "0.00000",
                                        "0.000000", "0.0000000", "0.00000000", "0.000000000"};
    lxw_format *f;
    x->fmt[STRATA_XS_TEXT] = NULL;
    f = x->fmt[STRATA_XS_HEADER] = workbook_add_format(x->wb);
    format_set_bold(f);
    format_set_text_wrap(f);
    format_set_align(f, LXW_ALIGN_VERTICAL_TOP);
    format_set_bg_color(f, 0xDDE6F0);
    format_set_bottom(f, LXW_BORDER_THIN);
    f = x->fmt[STRATA_XS_TITLE] = workbook_add_format(x->wb);
    format_set_bold(f);
    format_set_font_size(f, 14);
    f = x->fmt[STRATA_XS_WRAP] = workbook_add_format(x->wb);
    format_set_text_wrap(f);
    format_set_align(f, LXW_ALIGN_VERTICAL_TOP);
    f = x->fmt[STRATA_XS_SUPPRESSED] = workbook_add_format(x->wb);
    format_set_bg_color(f, 0xD9D9D9);
    format_set_pattern(f, LXW_PATTERN_SOLID);
    for (int d = 0; d < 10; d++) {
        f = x->fmt[STRATA_XS_NUMBER + d] = workbook_add_format(x->wb);
        format_set_num_format(f, num[d]);
    }
}

strata_status strata_xlsx_open(strata_ctx *ctx, const char *path, unsigned mode, strata_xlsx **out)
{
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = LXW_TRUE};
    strata_xlsx *x = strata_calloc(ctx, 1, sizeof *x);
    *out = NULL;
    if (!x)
        return STRATA_ENOMEM;
    x->ctx = ctx;
    x->mode = mode;
    x->fd = -1;
    if (!(x->path = strata_strdup(ctx, path))) {
        strata_xlsx_abort(x);
        return STRATA_ENOMEM;
    }
    /* the file exists with its final mode before a byte of data is written */
    if ((x->fd = strata_tmp_create(ctx, path, mode, &x->tmp)) < 0) {
        strata_status st = strata_ctx_errcode(ctx); /* ENOMEM, EIO, or EINVAL: an input */
        strata_xlsx_abort(x);
        return st != STRATA_OK ? st : STRATA_EIO;
    }
    x->wb = workbook_new_opt(strata_fd_name(x->fd, x->tmp, x->fdname, sizeof x->fdname), &opt);
    if (!x->wb) {
        strata_xlsx_abort(x);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot start the workbook", path);
    }
    {
        /* a fixed creation time (SOURCE_DATE_EPOCH when set): same input, same bytes */
        lxw_doc_properties props; /* copied by libxlsxwriter */
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        memset(&props, 0, sizeof props);
        props.created = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : (time_t)1577836800;
        props.author = (char *)"strata";
        workbook_set_properties(x->wb, &props);
    }
    make_formats(x);
    *out = x;
    return STRATA_OK;
}

strata_status strata_xlsx_sheet(strata_xlsx *x, const char *name)
{
    x->ws = workbook_add_worksheet(x->wb, name);
    if (!x->ws)
        return STRATA_FAIL(x->ctx, STRATA_EINVAL, "%s: cannot add sheet '%s' (31 characters at "
                           "most, no []:*?/\\, names unique)", x->path, name);
    return STRATA_OK;
}

void strata_xlsx_col_width(strata_xlsx *x, int first, int last, double width)
{
    worksheet_set_column(x->ws, (lxw_col_t)first, (lxw_col_t)last, width, NULL);
}

static lxw_format *style(const strata_xlsx *x, int s)
{
    return s >= 0 && s < N_STYLES ? x->fmt[s] : NULL;
}

strata_status strata_xlsx_text(strata_xlsx *x, size_t row, int col, const char *s, int st)
{
    lxw_error e;
    if (!s || !*s)
        return strata_xlsx_blank(x, row, col, st);
    e = worksheet_write_string(x->ws, (lxw_row_t)row, (lxw_col_t)col, s, style(x, st));
    return e == LXW_NO_ERROR ? STRATA_OK : lxw_fail(x, e, "cannot write a cell");
}

strata_status strata_xlsx_number(strata_xlsx *x, size_t row, int col, double v, int st)
{
    lxw_error e;
    if (!isfinite(v))
        return strata_xlsx_blank(x, row, col, STRATA_XS_TEXT);
    e = worksheet_write_number(x->ws, (lxw_row_t)row, (lxw_col_t)col, v, style(x, st));
    return e == LXW_NO_ERROR ? STRATA_OK : lxw_fail(x, e, "cannot write a cell");
}

strata_status strata_xlsx_blank(strata_xlsx *x, size_t row, int col, int st)
{
    lxw_error e = worksheet_write_blank(x->ws, (lxw_row_t)row, (lxw_col_t)col, style(x, st));
    return e == LXW_NO_ERROR ? STRATA_OK : lxw_fail(x, e, "cannot write a cell");
}

strata_status strata_xlsx_table(strata_xlsx *x, size_t header_row, size_t last_row, int last_col)
{
    lxw_error e;
    worksheet_freeze_panes(x->ws, (lxw_row_t)(header_row + 1), 0);
    e = worksheet_autofilter(x->ws, (lxw_row_t)header_row, 0,
                             (lxw_row_t)(last_row > header_row ? last_row : header_row),
                             (lxw_col_t)last_col);
    return e == LXW_NO_ERROR ? STRATA_OK : lxw_fail(x, e, "cannot set a filter");
}

/* ---- a CSV file as a sheet ------------------------------------------------ */

#define CSV_MAX_COLS 256

typedef struct csv_sheet {
    strata_xlsx *x;
    const char *const *text_cols;
    size_t nf, rows;
    int pass;                    /* 0: decide types; 1: write */
    uint8_t text[CSV_MAX_COLS];  /* 1: text column */
    uint8_t dec[CSV_MAX_COLS];   /* decimals shown (numeric columns) */
} csv_sheet;

/* 1 when s is a finite number (or empty = missing); *dec = digits after '.'. */
static int is_number(const char *s, int *dec)
{
    char *end;
    const char *dot;
    *dec = 0;
    if (!*s)
        return 1;
    errno = 0;
    (void)strtod(s, &end);
    if (*end || errno || !strcmp(s, "nan") || strchr(s, 'x') || strchr(s, 'X'))
        return 0;
    dot = strchr(s, '.');
    if (dot && !strpbrk(s, "eE"))
        *dec = (int)strlen(dot + 1);
    return 1;
}

static strata_status csv_row(void *ud, const csv_scanner *sc)
{
    csv_sheet *cs = ud;
    strata_xlsx *x = cs->x;
    if (sc->rec_line == 1) { /* header */
        cs->nf = sc->nf < CSV_MAX_COLS ? sc->nf : CSV_MAX_COLS;
        for (size_t j = 0; j < cs->nf; j++) {
            if (cs->pass == 0)
                for (const char *const *t = cs->text_cols; t && *t; t++)
                    if (!strcmp(*t, sc->field[j]))
                        cs->text[j] = 1;
            if (cs->pass == 1)
                STRATA_TRY(strata_xlsx_text(x, 0, (int)j, sc->field[j], STRATA_XS_HEADER));
        }
        return STRATA_OK;
    }
    cs->rows++;
    for (size_t j = 0; j < cs->nf && j < sc->nf; j++) {
        int d;
        const char *v = sc->field[j];
        if (cs->pass == 0) {
            if (!cs->text[j] && !is_number(v, &d))
                cs->text[j] = 1;
            else if (!cs->text[j] && d > cs->dec[j])
                cs->dec[j] = (uint8_t)(d > 9 ? 9 : d);
        } else if (cs->text[j] || !*v) {
            STRATA_TRY(strata_xlsx_text(x, cs->rows, (int)j, v, STRATA_XS_TEXT));
        } else {
            STRATA_TRY(strata_xlsx_number(x, cs->rows, (int)j, strtod(v, NULL),
                                          STRATA_XS_DECIMALS(cs->dec[j])));
        }
    }
    return STRATA_OK;
}

strata_status strata_xlsx_sheet_from_csv(strata_xlsx *x, const char *sheet, const char *csv_path,
                                         const char *const *text_cols, size_t *n_rows)
{
    csv_sheet cs;
    memset(&cs, 0, sizeof cs);
    cs.x = x;
    cs.text_cols = text_cols;
    STRATA_TRY(csv_scan_file(x->ctx, csv_path, ',', csv_row, &cs, NULL));
    STRATA_TRY(strata_xlsx_sheet(x, sheet));
    for (size_t j = 0; j < cs.nf; j++)
        strata_xlsx_col_width(x, (int)j, (int)j, cs.text[j] ? 22 : 12);
    cs.pass = 1;
    cs.rows = 0;
    STRATA_TRY(csv_scan_file(x->ctx, csv_path, ',', csv_row, &cs, NULL));
    if (cs.nf)
        STRATA_TRY(strata_xlsx_table(x, 0, cs.rows, (int)cs.nf - 1));
    if (n_rows)
        *n_rows = cs.rows;
    return STRATA_OK;
}

/* ---- closing -------------------------------------------------------------- */

static void xlsx_free(strata_xlsx *x)
{
    if (x->fd >= 0)
        close(x->fd);
    strata_free(x->ctx, x->path, 0);
    strata_free(x->ctx, x->tmp, 0);
    strata_free(x->ctx, x, sizeof *x);
}

strata_status strata_xlsx_close(strata_xlsx *x)
{
    strata_status st = STRATA_OK;
    lxw_error e = workbook_close(x->wb);
    x->wb = NULL;
    if (e != LXW_NO_ERROR) {
        st = lxw_fail(x, e, "cannot write the workbook");
        unlink(x->tmp);
    } else {
        st = strata_publish(x->ctx, x->tmp, x->path, x->mode);
    }
    xlsx_free(x);
    return st;
}

void strata_xlsx_abort(strata_xlsx *x)
{
    if (!x)
        return;
    if (x->wb) {
        /* libxlsxwriter has no discard: write what there is, then remove it */
        workbook_close(x->wb);
    }
    if (x->tmp)
        unlink(x->tmp);
    xlsx_free(x);
}
