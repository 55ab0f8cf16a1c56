/* engine/io/events_import.c — `strata import events`: one long CSV of events
 * (patient id, date, codes, values) into /events/<table> of a cohort, matched
 * to /patients by the patient_id role (int64 or string ids), sorted by
 * (patient row, day) with ties in file order, written to a new cohort that
 * replaces the old one (or goes to --out) only when the whole import succeeded. */
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
    int32_t *code;
    double *val;
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
    /* events */
    long i_id, i_date, i_end;
    ev_col *col;
    size_t ncol, nfield;
    int header_done;
    size_t n, cap;
    int32_t *row, *day, *end;
} ev_import;

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
        strata_free(ctx, im->col[k].code, 0);
        strata_free(ctx, im->col[k].val, 0);
    }
    strata_free(ctx, im->col, 0);
    strata_strtab_free(&im->id_lv);
    strata_free(ctx, im->code_row, 0);
    strata_i64map_free(ctx, &im->id_map);
    strata_free(ctx, im->birth, 0);
    strata_free(ctx, im->death, 0);
    strata_free(ctx, im->row, 0);
    strata_free(ctx, im->day, 0);
    strata_free(ctx, im->end, 0);
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

static strata_status grow_events(ev_import *im)
{
    strata_ctx *ctx = im->ctx;
    size_t nc = im->cap ? im->cap * 2 : 65536, oc = im->cap;
    int32_t **i32[3] = {&im->row, &im->day, &im->end};
    for (int k = 0; k < 3; k++) {
        int32_t *q = strata_realloc(ctx, *i32[k], oc * sizeof *q, nc * sizeof *q);
        if (!q)
            return STRATA_ENOMEM;
        *i32[k] = q;
    }
    for (size_t k = 0; k < im->ncol; k++) {
        ev_col *c = &im->col[k];
        if (c->kind == EV_VALUE) {
            double *q = strata_realloc(ctx, c->val, oc * sizeof *q, nc * sizeof *q);
            if (!q)
                return STRATA_ENOMEM;
            c->val = q;
        } else {
            int32_t *q = strata_realloc(ctx, c->code, oc * sizeof *q, nc * sizeof *q);
            if (!q)
                return STRATA_ENOMEM;
            c->code = q;
        }
    }
    im->cap = nc;
    return STRATA_OK;
}

/* Patient row of the id in field f, or -1 when unknown (recorded or failed). */
static strata_status lookup_id(ev_import *im, const csv_scanner *sc, long *row)
{
    const char *v = sc->field[im->i_id];
    char *endp;
    *row = -1;
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
    if (*row >= 0)
        return STRATA_OK;
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

static strata_status on_record(void *ud, const csv_scanner *sc)
{
    ev_import *im = ud;
    long row;
    size_t i = im->n;
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
    if (i == im->cap)
        STRATA_TRY(grow_events(im));
    im->row[i] = (int32_t)row;
    STRATA_TRY(parse_date(im, sc, im->i_date, im->p->date_col, &im->day[i], 0));
    im->end[i] = STRATA_NA_INT32;
    if (im->i_end >= 0)
        STRATA_TRY(parse_date(im, sc, im->i_end, im->p->end_date_col, &im->end[i], 1));
    for (size_t k = 0; k < im->ncol; k++) {
        ev_col *c = &im->col[k];
        const char *v = sc->field[c->csv];
        if (c->kind == EV_VALUE) {
            char *endp;
            if (!*v || !strcmp(v, "NA")) {
                c->val[i] = NAN;
                continue;
            }
            c->val[i] = strtod(v, &endp);
            if (*endp || !isfinite(c->val[i])) {
                char shown[96];
                csv_show_value(shown, sizeof shown, v);
                return STRATA_FAIL(im->ctx, STRATA_EDATA,
                                   "%s: line %zu, column '%s': value '%s' is not a number",
                                   im->path, sc->field_line[c->csv], c->name, shown);
            }
        } else {
            long id = *v ? strata_strtab_add(&c->lv, v) : -1;
            if (*v && id < 0)
                return STRATA_ENOMEM;
            c->code[i] = (int32_t)id;
        }
    }
    if (im->birth && im->birth[row] != STRATA_NA_INT32 && im->day[i] < im->birth[row])
        im->rep->n_before_birth++;
    if (im->death && im->death[row] != STRATA_NA_INT32 && im->day[i] > im->death[row])
        im->rep->n_after_death++;
    im->n++;
    return STRATA_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts column c's levels byte-wise and recodes its events; *levels gets the
 * sorted labels (pointers into c->lv). */
static strata_status sort_levels(ev_import *im, ev_col *c, const char ***levels)
{
    strata_ctx *ctx = im->ctx;
    size_t nl = c->lv.n;
    const char **lv = strata_alloc(ctx, (nl ? nl : 1) * sizeof *lv);
    int32_t *remap = strata_alloc(ctx, (nl ? nl : 1) * sizeof *remap);
    if (!lv || !remap) {
        strata_free(ctx, lv, 0);
        strata_free(ctx, remap, 0);
        return STRATA_ENOMEM;
    }
    for (size_t l = 0; l < nl; l++)
        lv[l] = c->lv.str[l];
    qsort(lv, nl, sizeof *lv, cmp_str);
    for (size_t l = 0; l < nl; l++)
        remap[strata_strtab_find(&c->lv, lv[l])] = (int32_t)l;
    for (size_t i = 0; i < im->n; i++)
        if (c->code[i] >= 0)
            c->code[i] = remap[c->code[i]];
    strata_free(ctx, remap, 0);
    *levels = lv;
    return STRATA_OK;
}

/* Permutation putting events in (patient row, day, file order) order. */
static strata_status sort_events(ev_import *im, size_t **perm)
{
    strata_ctx *ctx = im->ctx;
    size_t n = im->n ? im->n : 1;
    uint64_t *key = strata_alloc(ctx, n * sizeof *key), *k2 = strata_alloc(ctx, n * sizeof *k2);
    size_t *r = strata_alloc(ctx, n * sizeof *r), *r2 = strata_alloc(ctx, n * sizeof *r2);
    strata_status st = key && k2 && r && r2 ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK) {
        for (size_t i = 0; i < im->n; i++) {
            key[i] = ((uint64_t)(uint32_t)im->row[i] << 32) | ((uint32_t)im->day[i] ^ 0x80000000u);
            r[i] = i;
        }
        strata_radix_sort(im->n, key, r, k2, r2);
    }
    strata_free(ctx, key, 0);
    strata_free(ctx, k2, 0);
    strata_free(ctx, r2, 0);
    if (st != STRATA_OK)
        strata_free(ctx, r, 0);
    else
        *perm = r;
    return st;
}

#define EV_BLOCK 65536

/* Appends column data (elem bytes each) in perm order through buf. */
static strata_status append_perm(strata_cohort_writer *w, size_t j, const void *data, size_t elem,
                                 const size_t *perm, size_t n, unsigned char *buf)
{
    for (size_t i0 = 0; i0 < n; i0 += EV_BLOCK) {
        size_t b = n - i0 < EV_BLOCK ? n - i0 : EV_BLOCK;
        for (size_t i = 0; i < b; i++)
            memcpy(buf + i * elem, (const unsigned char *)data + perm[i0 + i] * elem, elem);
        STRATA_TRY(strata_cohort_writer_append(w, j, buf, b));
    }
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

static strata_status write_table(ev_import *im, strata_cohort_writer *w, const size_t *perm)
{
    strata_ctx *ctx = im->ctx;
    char group[300], units[120];
    size_t j;
    unsigned char *buf = strata_alloc(ctx, EV_BLOCK * sizeof(double));
    strata_status st = buf ? STRATA_OK : STRATA_ENOMEM;
    snprintf(group, sizeof group, "events/%s", im->p->table);
    snprintf(units, sizeof units, "code%s%s", im->p->code_system && *im->p->code_system ? ":" : "",
             im->p->code_system ? im->p->code_system : "");
    if (st == STRATA_OK && (st = add_column(w, group, "patient_row", STRATA_DT_INT32, NULL, NULL, 0,
                                            0, &j)) == STRATA_OK)
        st = append_perm(w, j, im->row, sizeof(int32_t), perm, im->n, buf);
    if (st == STRATA_OK &&
        (st = add_column(w, group, "day", STRATA_DT_INT32, "days", NULL, 0, 0, &j)) == STRATA_OK)
        st = append_perm(w, j, im->day, sizeof(int32_t), perm, im->n, buf);
    if (st == STRATA_OK && im->i_end >= 0 &&
        (st = add_column(w, group, "end_day", STRATA_DT_INT32, "days", NULL, 0, 0, &j)) == STRATA_OK)
        st = append_perm(w, j, im->end, sizeof(int32_t), perm, im->n, buf);
    for (size_t k = 0; k < im->ncol && st == STRATA_OK; k++) {
        ev_col *c = &im->col[k];
        if (c->kind == EV_VALUE) {
            if ((st = add_column(w, group, c->name, STRATA_DT_FLOAT64, NULL, NULL, 0, 0, &j)) ==
                STRATA_OK)
                st = append_perm(w, j, c->val, sizeof(double), perm, im->n, buf);
        } else {
            const char **lv = NULL;
            if ((st = sort_levels(im, c, &lv)) == STRATA_OK &&
                (st = add_column(w, group, c->name, STRATA_DT_INT32,
                                 c->kind == EV_CODE ? units : NULL, lv, c->lv.n, 1, &j)) == STRATA_OK)
                st = append_perm(w, j, c->code, sizeof(int32_t), perm, im->n, buf);
            strata_free(ctx, lv, 0);
        }
    }
    strata_free(ctx, buf, 0);
    return st;
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
        im->col[k++] = (ev_col){p->code_cols[i], EV_CODE, -1, {0}, NULL, NULL};
    for (size_t i = 0; i < p->n_cat_cols; i++)
        im->col[k++] = (ev_col){p->cat_cols[i], EV_CAT, -1, {0}, NULL, NULL};
    for (size_t i = 0; i < p->n_value_cols; i++)
        im->col[k++] = (ev_col){p->value_cols[i], EV_VALUE, -1, {0}, NULL, NULL};
    im->ncol = n;
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
    strata_cohort_writer *w = NULL;
    size_t *perm = NULL;
    strata_status st;
    STRATA_TRY(check_params(ctx, p));
    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.path = csv_path;
    im.p = p;
    im.rep = report ? report : &local;
    memset(im.rep, 0, sizeof *im.rep);
    strata_strtab_init(&im.id_lv, ctx);
    st = setup_cols(&im);
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
    if (st == STRATA_OK)
        st = sort_events(&im, &perm);
    if (st == STRATA_OK && !out_path)
        strata_input_forget(ctx, cohort_path); /* in-place: temporary, renamed on success */
    if (st == STRATA_OK)
        st = strata_cohort_writer_new(ctx, out_path ? out_path : cohort_path, &w);
    if (st == STRATA_OK)
        st = strata_events_copy_cohort(ctx, cohort_path, w, p->table);
    if (st == STRATA_OK)
        st = write_table(&im, w, perm);
    if (st == STRATA_OK) {
        st = strata_cohort_writer_finish(w);
        w = NULL;
    }
    strata_cohort_writer_abort(w);
    im.rep->n_events = st == STRATA_OK ? im.n : 0;
    if (st == STRATA_OK && (im.rep->n_before_birth || im.rep->n_after_death))
        strata_warn(ctx, "%s: %zu events dated before birth and %zu after death (kept)", csv_path,
                    im.rep->n_before_birth, im.rep->n_after_death);
    strata_free(ctx, perm, 0);
    free_import(&im);
    return st;
}
