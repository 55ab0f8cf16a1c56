/* engine/io/events_import.c — `strata import events`: one long CSV of events
 * (patient id, date, codes, values) into /events/<table> of a cohort, matched
 * to /patients by the patient_id role (int64 or string ids), sorted by
 * (patient row, day) with ties in file order through an external merge sort
 * (events_sort.c: fixed-size runs, so an extract larger than memory imports),
 * written to a new cohort that replaces the old one (or goes to --out) only
 * when the whole import succeeded. */
#include "cohort_internal.h"
#include "csv_internal.h"
#include "events_internal.h"
#include "strata/derive.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { EV_CODE, EV_CAT, EV_VALUE };

typedef struct ev_col {
    const char *name;
    int kind;
    long csv;           /* field index */
    strata_strtab lv;   /* EV_CODE / EV_CAT levels in order of first appearance */
    size_t off;         /* byte offset in an event record */
    int32_t *remap;     /* level id -> sorted level, when writing */
    void *blk;          /* output block (EV_BLOCK values) */
    size_t wj;          /* writer column */
} ev_col;

typedef struct ev_import {
    strata_ctx *ctx;
    const char *path;
    const strata_events_import_params *p;
    strata_events_import_report *rep;
    /* patients */
    size_t npat;
    int id_cat;             /* 1: string ids (categorical) */
    strata_strtab id_lv;    /* string ids -> level code */
    int32_t *code_row;      /* level code -> patient row */
    strata_i64map id_map;   /* integer ids -> patient row */
    int32_t *birth, *death; /* per patient, or NULL */
    char last_id[128];      /* the last id looked up and its row (-1: none) */
    size_t last_len;
    long last_row;
    /* events */
    long i_id, i_date, i_end;
    ev_col *col;
    size_t ncol, nfield;
    int header_done;
    size_t n;               /* events kept */
    /* records: int32 row, day, end_day, then each column's code (int32) or value (float64) */
    size_t rec;
    strata_evsort sort;
    /* writing: blocks of EV_BLOCK events, appended to the writer when full */
    strata_cohort_writer *w;
    size_t wj_row, wj_day, wj_end, blk_n;
    int32_t *b_row, *b_day, *b_end;
} ev_import;

#define EV_BLOCK 65536
#define EV_RUN_DEFAULT ((size_t)1 << 21) /* events sorted in memory at a time */

static const char *fmt_name(strata_date_format f)
{
    return f == STRATA_DATE_DMY ? "DD/MM/YYYY" : f == STRATA_DATE_YMD ? "YYYYMMDD" : "YYYY-MM-DD";
}

void strata_events_import_params_init(strata_events_import_params *p)
{
    memset(p, 0, sizeof *p);
    p->delim = ',';
    p->date_format = STRATA_DATE_ISO;
}

static void free_import(ev_import *im)
{
    strata_ctx *ctx = im->ctx;
    for (size_t k = 0; k < im->ncol; k++) {
        strata_strtab_free(&im->col[k].lv);
        STRATA_FREE_ALL(ctx, im->col[k].remap, im->col[k].blk);
    }
    strata_free(ctx, im->col, 0);
    strata_strtab_free(&im->id_lv);
    strata_i64map_free(ctx, &im->id_map);
    STRATA_FREE_ALL(ctx, im->code_row, im->birth, im->death, im->b_row, im->b_day, im->b_end);
    strata_evsort_free(&im->sort);
}

/* Reads an optional int32 date-role column of /patients (NULL when absent). */
static strata_status read_role_days(ev_import *im, strata_cohort *c, strata_role r, int32_t **out)
{
    long j = strata_cohort_find_role(c, r);
    *out = NULL;
    if (j < 0)
        return STRATA_OK;
    int32_t *lvday = NULL;
    strata_status st;
    if (!(*out = strata_alloc(im->ctx, (im->npat ? im->npat : 1) * sizeof **out)))
        return STRATA_ENOMEM;
    STRATA_TRY(strata_date_levels(im->ctx, strata_cohort_path(c), strata_cohort_column(c, (size_t)j),
                                  &lvday));
    st = strata_cohort_read_i32(im->ctx, c, (size_t)j, 0, im->npat, *out);
    if (st == STRATA_OK)
        strata_days_convert(lvday, *out, im->npat);
    strata_free(im->ctx, lvday, 0);
    return st;
}

/* Builds the id -> patient row lookup from the patient_id column. */
static strata_status load_patients(ev_import *im, const char *cohort_path)
{
    strata_ctx *ctx = im->ctx;
    strata_cohort *c = NULL;
    const strata_column_info *info;
    strata_status st;
    long j;
    STRATA_TRY(strata_cohort_open(ctx, cohort_path, &c));
    im->npat = strata_cohort_nrows(c);
    j = strata_cohort_find_role(c, STRATA_ROLE_PATIENT_ID);
    if (j < 0) {
        strata_cohort_close(c);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s:/patients: no column has role patient_id",
                           cohort_path);
    }
    info = strata_cohort_column(c, (size_t)j);
    im->id_cat = info->categorical;
    if (im->id_cat) {
        int32_t *codes = strata_alloc(ctx, (im->npat ? im->npat : 1) * sizeof *codes);
        im->code_row = strata_alloc(ctx, (info->n_levels ? info->n_levels : 1) * sizeof *im->code_row);
        st = codes && im->code_row ? strata_cohort_read_i32(ctx, c, (size_t)j, 0, im->npat, codes)
                                   : STRATA_ENOMEM;
        for (size_t l = 0; st == STRATA_OK && l < info->n_levels; l++) {
            im->code_row[l] = -1;
            if (strata_strtab_add(&im->id_lv, info->levels[l]) < 0)
                st = STRATA_ENOMEM;
        }
        for (size_t r = 0; st == STRATA_OK && r < im->npat; r++)
            if (codes[r] >= 0 && (size_t)codes[r] < info->n_levels)
                im->code_row[codes[r]] = (int32_t)r;
        strata_free(ctx, codes, 0);
    } else {
        int64_t *ids = strata_alloc(ctx, (im->npat ? im->npat : 1) * sizeof *ids);
        st = ids ? strata_cohort_read_i64(ctx, c, (size_t)j, 0, im->npat, ids) : STRATA_ENOMEM;
        if (st == STRATA_OK)
            st = strata_i64map_init(ctx, &im->id_map, im->npat);
        for (size_t r = 0; st == STRATA_OK && r < im->npat; r++)
            strata_i64map_put(&im->id_map, ids[r], (int64_t)r);
        strata_free(ctx, ids, 0);
    }
    if (st == STRATA_OK)
        st = read_role_days(im, c, STRATA_ROLE_BIRTH_DATE, &im->birth);
    if (st == STRATA_OK)
        st = read_role_days(im, c, STRATA_ROLE_DEATH_DATE, &im->death);
    strata_cohort_close(c);
    return st;
}

static long header_index(const csv_scanner *sc, const char *name)
{
    for (size_t i = 0; i < sc->nf; i++)
        if (!strcmp(sc->field[i], name))
            return (long)i;
    return -1;
}

static strata_status on_header(ev_import *im, const csv_scanner *sc)
{
    const char *what[3] = {"--id", "--date", "--end-date"};
    const char *name[3] = {im->p->id_col, im->p->date_col, im->p->end_date_col};
    long *idx[3] = {&im->i_id, &im->i_date, &im->i_end};
    im->nfield = sc->nf;
    for (int k = 0; k < 3; k++) {
        *idx[k] = name[k] ? header_index(sc, name[k]) : -1;
        if (name[k] && *idx[k] < 0)
            return STRATA_FAIL(im->ctx, STRATA_ESPEC, "%s: column '%s' (%s) is not in the header",
                               im->path, name[k], what[k]);
    }
    for (size_t k = 0; k < im->ncol; k++)
        if ((im->col[k].csv = header_index(sc, im->col[k].name)) < 0)
            return STRATA_FAIL(im->ctx, STRATA_ESPEC, "%s: column '%s' (%s) is not in the header",
                               im->path, im->col[k].name,
                               im->col[k].kind == EV_VALUE ? "--value"
                               : im->col[k].kind == EV_CAT ? "--cat"
                                                           : "--code");
    im->header_done = 1;
    return STRATA_OK;
}

/* Patient row of the id in field f, or -1 when unknown (recorded or failed). */
static strata_status lookup_id(ev_import *im, const csv_scanner *sc, long *row)
{
    const char *v = sc->field[im->i_id];
    char *endp;
    size_t len = strlen(v);
    *row = -1;
    if (im->last_row >= 0 && len == im->last_len && !memcmp(v, im->last_id, len)) {
        *row = im->last_row; /* extracts usually list a patient's events together */
        return STRATA_OK;
    }
    if (im->id_cat) {
        long code = strata_strtab_find(&im->id_lv, v);
        if (code >= 0)
            *row = im->code_row[code];
    } else {
        long long x;
        errno = 0;
        x = strtoll(v, &endp, 10);
        if (*v && !*endp && !errno)
            *row = (long)strata_i64map_get(&im->id_map, (int64_t)x);
    }
    if (*row >= 0) {
        if (len < sizeof im->last_id) {
            memcpy(im->last_id, v, len);
            im->last_len = len;
            im->last_row = *row;
        }
        return STRATA_OK;
    }
    if (!im->p->skip_unknown_ids) {
        char shown[96];
        csv_show_value(shown, sizeof shown, v);
        return STRATA_FAIL(im->ctx, STRATA_EDATA,
                           "%s: line %zu, column '%s': patient id '%s' is not in /patients "
                           "(--on-unknown-id skip counts and lists such events)",
                           im->path, sc->field_line[im->i_id], im->p->id_col, shown);
    }
    if (im->rep->n_listed < STRATA_EVENTS_LISTED_MAX) {
        im->rep->unknown_line[im->rep->n_listed] = sc->rec_line;
        csv_show_value(im->rep->unknown_id[im->rep->n_listed], sizeof im->rep->unknown_id[0], v);
        im->rep->n_listed++;
    }
    im->rep->n_unknown++;
    return STRATA_OK;
}

static strata_status parse_date(ev_import *im, const csv_scanner *sc, long f, const char *col,
                                int32_t *day, int empty_ok)
{
    char shown[96], what[96];
    if (empty_ok && !sc->field[f][0]) {
        *day = STRATA_NA_INT32;
        return STRATA_OK;
    }
    if (strata_date_parse(sc->field[f], im->p->date_format, day) == 0)
        return STRATA_OK;
    csv_show_value(shown, sizeof shown, sc->field[f]);
    snprintf(what, sizeof what, "is not a date (expected %s)", fmt_name(im->p->date_format));
    return STRATA_FAIL(im->ctx, STRATA_EDATA, "%s: line %zu, column '%s': value '%s' %s", im->path,
                       sc->field_line[f], col, shown, what);
}

/* Parses field v of value column c into *x (NaN when empty or NA). */
static strata_status parse_value(ev_import *im, const csv_scanner *sc, const ev_col *c, double *x)
{
    const char *v = sc->field[c->csv];
    char *endp, shown[96];
    if (!*v || !strcmp(v, "NA")) {
        *x = NAN;
        return STRATA_OK;
    }
    *x = strtod(v, &endp);
    if (!*endp && isfinite(*x))
        return STRATA_OK;
    csv_show_value(shown, sizeof shown, v);
    return STRATA_FAIL(im->ctx, STRATA_EDATA, "%s: line %zu, column '%s': value '%s' is not a number",
                       im->path, sc->field_line[c->csv], c->name, shown);
}

static strata_status on_record(void *ud, const csv_scanner *sc)
{
    ev_import *im = ud;
    long row;
    int32_t rdi[3];
    unsigned char *r;
    strata_status st;
    if (!im->header_done)
        return on_header(im, sc);
    if (sc->nf == 1 && !sc->field[0][0])
        return STRATA_OK;
    if (sc->nf != im->nfield)
        return STRATA_FAIL(im->ctx, STRATA_EDATA, "%s: line %zu: %zu fields, the header has %zu",
                           im->path, sc->rec_line, sc->nf, im->nfield);
    STRATA_TRY(lookup_id(im, sc, &row));
    if (row < 0)
        return STRATA_OK;
    rdi[0] = (int32_t)row;
    STRATA_TRY(parse_date(im, sc, im->i_date, im->p->date_col, &rdi[1], 0));
    rdi[2] = STRATA_NA_INT32;
    if (im->i_end >= 0)
        STRATA_TRY(parse_date(im, sc, im->i_end, im->p->end_date_col, &rdi[2], 1));
    if (!(r = strata_evsort_slot(&im->sort, &st)))
        return st;
    memcpy(r, rdi, sizeof rdi);
    for (size_t k = 0; k < im->ncol; k++) {
        ev_col *c = &im->col[k];
        if (c->kind == EV_VALUE) {
            double x;
            STRATA_TRY(parse_value(im, sc, c, &x));
            memcpy(r + c->off, &x, sizeof x);
        } else {
            const char *v = sc->field[c->csv];
            long id = *v ? strata_strtab_add(&c->lv, v) : -1;
            int32_t code = (int32_t)id;
            if (*v && id < 0)
                return STRATA_ENOMEM;
            memcpy(r + c->off, &code, sizeof code);
        }
    }
    if (im->birth && im->birth[row] != STRATA_NA_INT32 && rdi[1] < im->birth[row])
        im->rep->n_before_birth++;
    if (im->death && im->death[row] != STRATA_NA_INT32 && rdi[1] > im->death[row])
        im->rep->n_after_death++;
    im->sort.n++;
    im->n++;
    return STRATA_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts column c's levels byte-wise: *levels gets the sorted labels (pointers
 * into c->lv) and c->remap maps each level id to its sorted position. */
static strata_status sort_levels(ev_import *im, ev_col *c, const char ***levels)
{
    strata_ctx *ctx = im->ctx;
    size_t nl = c->lv.n;
    const char **lv = strata_alloc(ctx, (nl ? nl : 1) * sizeof *lv);
    if (!lv || !(c->remap = strata_alloc(ctx, (nl ? nl : 1) * sizeof *c->remap))) {
        strata_free(ctx, lv, 0);
        return STRATA_ENOMEM;
    }
    for (size_t l = 0; l < nl; l++)
        lv[l] = c->lv.str[l];
    qsort(lv, nl, sizeof *lv, cmp_str);
    for (size_t l = 0; l < nl; l++)
        c->remap[strata_strtab_find(&c->lv, lv[l])] = (int32_t)l;
    *levels = lv;
    return STRATA_OK;
}

static strata_status add_column(strata_cohort_writer *w, const char *group, const char *name,
                                strata_dtype t, const char *units, const char *const *levels,
                                size_t nl, int cat, size_t *j)
{
    strata_column_spec s;
    memset(&s, 0, sizeof s);
    s.group = group;
    s.name = name;
    s.dtype = t;
    s.categorical = cat;
    s.levels = levels;
    s.n_levels = nl;
    s.units = units;
    return strata_cohort_writer_add(w, &s, j);
}

/* Adds the table's columns to the writer (levels sorted) with their blocks. */
static strata_status add_table(ev_import *im)
{
    strata_ctx *ctx = im->ctx;
    char group[300], units[120];
    snprintf(group, sizeof group, "events/%s", im->p->table);
    snprintf(units, sizeof units, "code%s%s", im->p->code_system && *im->p->code_system ? ":" : "",
             im->p->code_system ? im->p->code_system : "");
    if (!(im->b_row = strata_alloc(ctx, EV_BLOCK * 4)) ||
        !(im->b_day = strata_alloc(ctx, EV_BLOCK * 4)) ||
        !(im->b_end = strata_alloc(ctx, EV_BLOCK * 4)))
        return STRATA_ENOMEM;
    STRATA_TRY(add_column(im->w, group, "patient_row", STRATA_DT_INT32, NULL, NULL, 0, 0,
                          &im->wj_row));
    STRATA_TRY(add_column(im->w, group, "day", STRATA_DT_INT32, "days", NULL, 0, 0, &im->wj_day));
    if (im->i_end >= 0)
        STRATA_TRY(add_column(im->w, group, "end_day", STRATA_DT_INT32, "days", NULL, 0, 0,
                              &im->wj_end));
    for (size_t k = 0; k < im->ncol; k++) {
        ev_col *c = &im->col[k];
        const char **lv = NULL;
        strata_status st;
        if (!(c->blk = strata_alloc(ctx, EV_BLOCK * 8)))
            return STRATA_ENOMEM;
        if (c->kind == EV_VALUE) {
            STRATA_TRY(add_column(im->w, group, c->name, STRATA_DT_FLOAT64, NULL, NULL, 0, 0, &c->wj));
            continue;
        }
        STRATA_TRY(sort_levels(im, c, &lv));
        st = add_column(im->w, group, c->name, STRATA_DT_INT32, c->kind == EV_CODE ? units : NULL,
                        lv, c->lv.n, 1, &c->wj);
        strata_free(ctx, lv, 0);
        STRATA_TRY(st);
    }
    return STRATA_OK;
}

static strata_status flush_block(ev_import *im)
{
    strata_cohort_writer *w = im->w;
    size_t n = im->blk_n;
    im->blk_n = 0;
    STRATA_TRY(strata_cohort_writer_append(w, im->wj_row, im->b_row, n));
    STRATA_TRY(strata_cohort_writer_append(w, im->wj_day, im->b_day, n));
    if (im->i_end >= 0)
        STRATA_TRY(strata_cohort_writer_append(w, im->wj_end, im->b_end, n));
    for (size_t k = 0; k < im->ncol; k++)
        STRATA_TRY(strata_cohort_writer_append(w, im->col[k].wj, im->col[k].blk, n));
    return STRATA_OK;
}

/* One sorted event record into the output blocks (codes in sorted-level order). */
static strata_status emit_event(void *ud, const unsigned char *r)
{
    ev_import *im = ud;
    size_t i = im->blk_n;
    memcpy(&im->b_row[i], r, 4);
    memcpy(&im->b_day[i], r + 4, 4);
    memcpy(&im->b_end[i], r + 8, 4);
    for (size_t k = 0; k < im->ncol; k++) {
        ev_col *c = &im->col[k];
        if (c->kind == EV_VALUE) {
            memcpy((double *)c->blk + i, r + c->off, 8);
        } else {
            int32_t code;
            memcpy(&code, r + c->off, 4);
            ((int32_t *)c->blk)[i] = code >= 0 ? c->remap[code] : STRATA_NA_CODE;
        }
    }
    return ++im->blk_n == EV_BLOCK ? flush_block(im) : STRATA_OK;
}

static strata_status check_params(strata_ctx *ctx, const strata_events_import_params *p)
{
    if (!p->table || !*p->table || strchr(p->table, '/') || strchr(p->table, '.'))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "import events: --table needs a name without '/' or '.'");
    if (!p->id_col || !*p->id_col || !p->date_col || !*p->date_col)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "import events: --id and --date are required");
    return STRATA_OK;
}

static strata_status setup_cols(ev_import *im)
{
    const strata_events_import_params *p = im->p;
    size_t n = p->n_code_cols + p->n_cat_cols + p->n_value_cols, k = 0;
    if (!(im->col = strata_calloc(im->ctx, n ? n : 1, sizeof *im->col)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < p->n_code_cols; i++)
        im->col[k++] = (ev_col){p->code_cols[i], EV_CODE, -1, {0}, 0, NULL, NULL, 0};
    for (size_t i = 0; i < p->n_cat_cols; i++)
        im->col[k++] = (ev_col){p->cat_cols[i], EV_CAT, -1, {0}, 0, NULL, NULL, 0};
    for (size_t i = 0; i < p->n_value_cols; i++)
        im->col[k++] = (ev_col){p->value_cols[i], EV_VALUE, -1, {0}, 0, NULL, NULL, 0};
    im->ncol = n;
    im->rec = 12;
    for (size_t i = 0; i < n; i++) { /* record layout: row, day, end_day, then the columns */
        im->col[i].off = im->rec;
        im->rec += im->col[i].kind == EV_VALUE ? 8 : 4;
    }
    for (size_t i = 0; i < n; i++) {
        strata_strtab_init(&im->col[i].lv, im->ctx);
        for (size_t q = 0; q < i; q++)
            if (!strcmp(im->col[q].name, im->col[i].name))
                return STRATA_FAIL(im->ctx, STRATA_EINVAL,
                                   "import events: column '%s' named twice", im->col[i].name);
        if (!strcmp(im->col[i].name, "patient_row") || !strcmp(im->col[i].name, "day") ||
            !strcmp(im->col[i].name, "end_day") || strchr(im->col[i].name, '/') ||
            strchr(im->col[i].name, '.'))
            return STRATA_FAIL(im->ctx, STRATA_EINVAL,
                               "import events: column name '%s' is reserved or contains '/' or '.'",
                               im->col[i].name);
    }
    return STRATA_OK;
}

strata_status strata_events_import(strata_ctx *ctx, const char *csv_path, const char *cohort_path,
                                   const char *out_path, const strata_events_import_params *p,
                                   strata_events_import_report *report)
{
    ev_import im;
    strata_events_import_report local;
    const char *dest = out_path ? out_path : cohort_path;
    strata_status st;
    STRATA_TRY(check_params(ctx, p));
    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.path = csv_path;
    im.p = p;
    im.rep = report ? report : &local;
    memset(im.rep, 0, sizeof *im.rep);
    strata_strtab_init(&im.id_lv, ctx);
    im.sort.fd = -1;
    im.sort.ctx = ctx;
    im.last_row = -1;
    st = setup_cols(&im);
    if (st == STRATA_OK)
        st = strata_evsort_init(ctx, &im.sort, im.rec, p->run_rows ? p->run_rows : EV_RUN_DEFAULT,
                                dest);
    if (st == STRATA_OK)
        st = load_patients(&im, cohort_path);
    if (st == STRATA_OK) {
        csv_encoding enc;
        st = csv_encoding_parse(ctx, p->encoding, &enc);
        if (st == STRATA_OK)
            st = csv_scan_file_enc(ctx, csv_path, p->delim ? p->delim : ',', enc, on_record, &im,
                                   &im.rep->n_lines);
    }
    if (st == STRATA_OK && !im.header_done)
        st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: empty file (no header line)", csv_path);
    if (st == STRATA_OK && !out_path)
        strata_input_forget(ctx, cohort_path); /* in-place: temporary, renamed on success */
    if (st == STRATA_OK)
        st = strata_cohort_writer_new(ctx, dest, &im.w);
    if (st == STRATA_OK)
        st = strata_events_copy_cohort(ctx, cohort_path, im.w, p->table);
    if (st == STRATA_OK)
        st = add_table(&im);
    if (st == STRATA_OK)
        st = strata_evsort_finish(&im.sort, emit_event, &im);
    if (st == STRATA_OK && im.blk_n)
        st = flush_block(&im);
    if (st == STRATA_OK) {
        st = strata_cohort_writer_finish(im.w);
        im.w = NULL;
    }
    strata_cohort_writer_abort(im.w);
    im.rep->n_events = st == STRATA_OK ? im.n : 0;
    im.rep->n_runs = im.sort.nruns;
    if (st == STRATA_OK && (im.rep->n_before_birth || im.rep->n_after_death))
        strata_warn(ctx, "%s: %zu events dated before birth and %zu after death (kept)", csv_path,
                    im.rep->n_before_birth, im.rep->n_after_death);
    free_import(&im);
    return st;
}
