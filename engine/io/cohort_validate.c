/* engine/io/cohort_validate.c — `strata validate`: reads a cohort leniently and
 * reports every problem (structure, lengths, duplicate or missing ids, values
 * outside their role's range, NaN/NA where not allowed, category codes outside
 * the levels table, unsorted event tables), each message naming the file,
 * dataset, row (and patient id) and value. Memory: one row block per column
 * and one block of ids (the ids named in messages are read block by block,
 * never the whole column); the duplicate-id check sorts (id, row) through the
 * external sort under half the budget. Across MPI ranks
 * (docs/scale.md#mpi) each rank checks the values of its slab of rows of
 * every column as long as /patients; rank 0 replays the ranks' problems in
 * column, then rank (so row) order, and checks the ids and event tables. */
#include "cohort_internal.h"
#include "comm.h"
#include "xsort.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VBLOCK 65536

static const char *const kind_names[STRATA_PROB_COUNT_] = {
    "structure", "length", "duplicate_id", "missing_id", "range", "nan", "code", "events"};

const char *strata_problem_kind_name(strata_problem_kind k)
{
    return (k >= 0 && k < STRATA_PROB_COUNT_) ? kind_names[k] : "unknown";
}

/* Across ranks: a column's value problems on one rank's slab, the first
 * VKEEP of them kept (their text in the rank's text buffer), all counted. */
#define VKEEP 8
typedef struct vsink {
    uint64_t counts[STRATA_PROB_COUNT_];
    uint32_t nmsg, kinds[VKEEP];
} vsink;

typedef struct vstate {
    strata_ctx *ctx;
    strata_cohort *c;
    strata_problem_fn fn;
    void *ud;
    strata_validate_report *rep;
    int64_t *ids;      /* VBLOCK patient ids of rows [ids_lo, ids_hi), read when a message needs them */
    size_t ids_lo, ids_hi;
    long jid;          /* the usable id column, or -1 */
    strata_status ids_st; /* the first failed read of an id block */
    vsink *cur;        /* across ranks: the column's sink, or NULL (report to fn) */
    char *text;        /* the sinks' kept messages, NUL-terminated, in order */
    size_t text_len;
    int mute;          /* a helper rank's column rules: rank 0 reports them */
} vstate;

static void report(vstate *v, strata_problem_kind kind, const char *fmt, ...) STRATA_PRINTF(3, 4);
static void report(vstate *v, strata_problem_kind kind, const char *fmt, ...)
{
    char msg[STRATA_ERRMSG_MAX];
    va_list ap;
    if (v->mute)
        return;
    if (v->cur) {
        v->cur->counts[kind]++;
        if (v->cur->nmsg >= VKEEP)
            return;
        v->cur->kinds[v->cur->nmsg++] = (uint32_t)kind;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        memcpy(v->text + v->text_len, msg, strlen(msg) + 1);
        v->text_len += strlen(msg) + 1;
        return;
    }
    v->rep->counts[kind]++;
    v->rep->total++;
    if (!v->fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->fn(v->ud, kind, msg);
}

/* Whether column j (the id column) holds ids; else a structure problem. */
static int ids_usable(vstate *v, size_t j)
{
    const strata_column_info *info = strata_cohort_column(v->c, j);
    if (info->dtype != STRATA_DT_INT64 && info->dtype != STRATA_DT_INT32 && !info->categorical) {
        report(v, STRATA_PROB_STRUCTURE,
               "%s:/%s/%s: patient id column is %s, expected int64 (pseudonymised integer) "
               "or categorical (string ids)",
               v->c->path, info->group, info->name, strata_dtype_name(info->dtype));
        return 0;
    }
    return 1;
}

/* Rows [r0, r0 + b) of the usable id column into out (NA: INT64_MIN). */
static strata_status read_id_block(vstate *v, size_t r0, size_t b, int64_t *out)
{
    const strata_column_info *info = strata_cohort_column(v->c, (size_t)v->jid);
    STRATA_TRY(strata_cohort_read_i64(v->ctx, v->c, (size_t)v->jid, r0, b, out));
    for (size_t i = 0; info->categorical && i < b; i++) /* string ids: code -1 is NA */
        if (out[i] == STRATA_NA_CODE)
            out[i] = INT64_MIN;
    return STRATA_OK;
}

/* " (patient 123)" for row r when ids are known: the id block holding r is
 * read when a message first needs it (values are checked in row order, so
 * a column's problems read each block at most once). */
static const char *who(vstate *v, size_t r, char *buf, size_t n)
{
    buf[0] = '\0';
    if (v->jid < 0 || r >= v->rep->nrows || v->ids_st != STRATA_OK)
        return buf;
    if (r < v->ids_lo || r >= v->ids_hi) {
        size_t lo = r / VBLOCK * VBLOCK, b = v->rep->nrows - lo < VBLOCK ? v->rep->nrows - lo : VBLOCK;
        if (!v->ids && !(v->ids = strata_alloc(v->ctx, VBLOCK * sizeof *v->ids)))
            v->ids_st = STRATA_ENOMEM;
        else
            v->ids_st = read_id_block(v, lo, b, v->ids);
        v->ids_lo = lo, v->ids_hi = v->ids_st == STRATA_OK ? lo + b : lo;
        if (v->ids_st != STRATA_OK)
            return buf;
    }
    if (v->ids[r - v->ids_lo] != INT64_MIN)
        snprintf(buf, n, " (patient %" PRId64 ")", v->ids[r - v->ids_lo]);
    return buf;
}

/* The ids: each missing one reported in row order, then the duplicates —
 * the non-NA ids in (id, row) order through the one external sort
 * (engine/core/xsort.c; under the context's memory budget it spills sorted
 * runs to a scratch file instead of holding 32 bytes a row), each row whose id
 * equals the previous record's reported as duplicating that row. The column
 * is read block by block into the message cache's buffer. */
static strata_status check_ids(vstate *v, size_t j)
{
    enum { BATCH = 1024 };
    const uint64_t bias = (uint64_t)1 << 63; /* signed order as unsigned keys */
    const strata_column_info *info = strata_cohort_column(v->c, j);
    strata_ctx *ctx = v->ctx;
    size_t n = info->length;
    strata_xsort *x = NULL;
    uint64_t key[BATCH], prev = 0;
    size_t row[BATCH], got, prev_row = SIZE_MAX;
    strata_status st;
    if (!ids_usable(v, j))
        return STRATA_OK;
    v->jid = (long)j;
    if (!v->ids && !(v->ids = strata_alloc(ctx, VBLOCK * sizeof *v->ids)))
        return STRATA_ENOMEM;
    st = strata_xsort_begin(ctx, n, NULL, 0, strata_ctx_memory_budget(ctx) / 2,
                            "the patient ids' duplicate check", &x);
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += VBLOCK) {
        size_t b = n - r0 < VBLOCK ? n - r0 : VBLOCK;
        v->ids_lo = v->ids_hi = r0;
        if ((st = read_id_block(v, r0, b, v->ids)) != STRATA_OK)
            break;
        v->ids_hi = r0 + b;
        for (size_t i = 0; i < b && st == STRATA_OK; i++) {
            if (v->ids[i] == INT64_MIN)
                report(v, STRATA_PROB_MISSING_ID, "%s:/%s/%s: row %zu: patient id is missing (NA)",
                       v->c->path, info->group, info->name, r0 + i + 1);
            else
                st = strata_xsort_push(ctx, x, (uint64_t)v->ids[i] ^ bias, r0 + i);
        }
    }
    if (st == STRATA_OK)
        st = strata_xsort_end(ctx, x);
    while (st == STRATA_OK && (st = strata_xsort_read(ctx, x, key, row, BATCH, &got)) == STRATA_OK && got)
        for (size_t k = 0; k < got; k++) {
            if (prev_row != SIZE_MAX && key[k] == prev)
                report(v, STRATA_PROB_DUPLICATE_ID, "%s:/%s/%s: row %zu: patient id %" PRId64 " duplicates row %zu",
                       v->c->path, info->group, info->name, row[k] + 1, (int64_t)(key[k] ^ bias),
                       prev_row + 1);
            prev = key[k];
            prev_row = row[k];
        }
    strata_xsort_free(ctx, x);
    return st;
}

/* Range and NA rules per role: [lo, hi], whether NA is allowed, integer-only. */
typedef struct role_rule {
    double lo, hi;
    int na_ok;
    const char *what;
} role_rule;

static int rule_for(strata_role r, role_rule *rule)
{
    switch (r) {
    case STRATA_ROLE_AGE:
        *rule = (role_rule){0, 120, 0, "age in years"};
        return 1;
    case STRATA_ROLE_IMD_DECILE:
        *rule = (role_rule){1, 10, 1, "IMD decile"};
        return 1;
    default:
        return 0;
    }
}

/* A column's value rules: its role's range, whether NA is allowed. */
typedef struct vcol {
    role_rule rule;
    int has_rule, is_events, is_float, na_forbidden;
} vcol;

/* The rules of column j (and the problems of a sex column's levels table). */
static void value_rules(vstate *v, size_t j, vcol *vc)
{
    const strata_column_info *info = strata_cohort_column(v->c, j);
    vc->has_rule = rule_for(info->role, &vc->rule);
    vc->is_events = !strncmp(info->group, "events/", 7);
    vc->is_float = info->dtype == STRATA_DT_FLOAT32 || info->dtype == STRATA_DT_FLOAT64;
    /* Columns whose values must never be missing. */
    vc->na_forbidden = (vc->has_rule && !vc->rule.na_ok) || info->role == STRATA_ROLE_SEX ||
                       info->role == STRATA_ROLE_PATIENT_ID ||
                       (vc->is_events && (!strcmp(info->name, "patient_row") ||
                                          !strcmp(info->name, "day")));
    if (info->role == STRATA_ROLE_SEX) {
        static const char *const ok[] = {"F", "M", "I", "U"};
        if (!info->categorical)
            report(v, STRATA_PROB_STRUCTURE,
                   "%s:/%s/%s: sex must be categorical with levels from {F, M, I, U}",
                   v->c->path, info->group, info->name);
        for (size_t l = 0; l < info->n_levels; l++) {
            int found = 0;
            for (size_t k = 0; k < 4; k++)
                found |= !strcmp(info->levels[l], ok[k]);
            if (!found)
                report(v, STRATA_PROB_CODE,
                       "%s:/%s/%s: unknown sex code \"%s\" in levels table (allowed: F, M, I, U)",
                       v->c->path, info->group, info->name, info->levels[l]);
        }
    }
}

/* The value problems of rows [r0, r0 + b) of column j, read into buf. */
static void check_block(vstate *v, size_t j, const vcol *vc, const double *buf, size_t r0, size_t b)
{
    const strata_column_info *info = strata_cohort_column(v->c, j);
    char wb[64];
    for (size_t i = 0; i < b; i++) {
        size_t r = r0 + i;
        double x = buf[i];
        if (isnan(x)) {
            if (vc->na_forbidden)
                report(v, STRATA_PROB_NAN, "%s:/%s/%s: row %zu%s: value is %s, not allowed here",
                       v->c->path, info->group, info->name, r + 1,
                       vc->is_events ? "" : who(v, r, wb, sizeof wb), vc->is_float ? "NaN" : "NA");
            continue;
        }
        if (isinf(x)) {
            report(v, STRATA_PROB_NAN, "%s:/%s/%s: row %zu%s: value %g is infinite",
                   v->c->path, info->group, info->name, r + 1,
                   vc->is_events ? "" : who(v, r, wb, sizeof wb), x);
            continue;
        }
        if (info->categorical && (x < 0 || x >= (double)info->n_levels))
            report(v, STRATA_PROB_CODE,
                   "%s:/%s/%s: row %zu%s: category code %.0f outside levels table %s "
                   "(0..%zu)",
                   v->c->path, info->group, info->name, r + 1,
                   vc->is_events ? "" : who(v, r, wb, sizeof wb), x,
                   v->c->cols[j].levels_path, info->n_levels ? info->n_levels - 1 : 0);
        else if (vc->has_rule && (x < vc->rule.lo || x > vc->rule.hi || x != floor(x)))
            report(v, STRATA_PROB_RANGE, "%s:/%s/%s: row %zu%s: %s %g outside %g..%g",
                   v->c->path, info->group, info->name, r + 1, who(v, r, wb, sizeof wb),
                   vc->rule.what, x, vc->rule.lo, vc->rule.hi);
    }
}

/* Rows [lo, hi) of column j (hi = -1: to its end; rank 0 alone reports the
 * column's rules). */
static strata_status check_values_rows(vstate *v, size_t j, double *buf, size_t lo, size_t hi, int lead)
{
    const strata_column_info *info = strata_cohort_column(v->c, j);
    vcol vc;
    v->mute = !lead;
    value_rules(v, j, &vc);
    v->mute = 0;
    if (info->role == STRATA_ROLE_PATIENT_ID)
        return STRATA_OK; /* checked by check_ids */
    hi = hi < info->length ? hi : info->length;
    for (size_t r0 = lo; r0 < hi; r0 += VBLOCK) {
        size_t b = hi - r0 < VBLOCK ? hi - r0 : VBLOCK;
        STRATA_TRY(strata_cohort_read_f64(v->ctx, v->c, j, r0, b, buf));
        check_block(v, j, &vc, buf, r0, b);
        STRATA_TRY(v->ids_st); /* an id block a message needed could not be read */
    }
    return STRATA_OK;
}

static strata_status check_values(vstate *v, size_t j, double *buf)
{
    return check_values_rows(v, j, buf, 0, (size_t)-1, 1);
}

/* Event order: (patient_row, day) of rows [r0, r0 + bl) in a (day in d, or
 * NULL), after the previous row's (*prev_r, *prev_d). */
static void order_block(vstate *v, const char *group, const double *a, const double *dd, size_t r0,
                        size_t bl, double *prev_r, double *prev_d)
{
    for (size_t i = 0; i < bl; i++) {
        double r = a[i], d = dd ? dd[i] : 0;
        if (isnan(r))
            continue; /* reported by check_values */
        if (r < 0 || r >= (double)v->rep->nrows)
            report(v, STRATA_PROB_EVENTS,
                   "%s:/%s/patient_row: row %zu: value %.0f outside /patients rows 0..%zu",
                   v->c->path, group, r0 + i + 1, r, v->rep->nrows ? v->rep->nrows - 1 : 0);
        else if (r < *prev_r || (r == *prev_r && d < *prev_d))
            report(v, STRATA_PROB_EVENTS,
                   "%s:/%s: row %zu: (patient_row %.0f, day %.0f) out of order: the table "
                   "must be sorted by patient_row, then day",
                   v->c->path, group, r0 + i + 1, r, d);
        *prev_r = r;
        *prev_d = d;
    }
}

/* Event tables: patient_row within /patients and rows sorted by
 * (patient_row, day). */
static strata_status check_events(vstate *v, const char *group, double *a, double *b)
{
    strata_ctx *ctx = v->ctx;
    size_t jr = 0, jd = 0, n;
    char pr[600], dy[600];
    int has_day;
    double prev_r = -1, prev_d = -INFINITY;
    snprintf(pr, sizeof pr, "%s/patient_row", group);
    snprintf(dy, sizeof dy, "%s/day", group);
    if (strata_cohort_find(ctx, v->c, pr, &jr) != STRATA_OK) {
        report(v, STRATA_PROB_STRUCTURE, "%s:/%s: event table has no patient_row column",
               v->c->path, group);
        strata_ctx_clear_error(ctx);
        return STRATA_OK;
    }
    has_day = strata_cohort_find(ctx, v->c, dy, &jd) == STRATA_OK;
    strata_ctx_clear_error(ctx);
    if (v->c->cols[jr].dset < 0 || (has_day && v->c->cols[jd].dset < 0))
        return STRATA_OK; /* already reported as structure problems */
    n = strata_cohort_column(v->c, jr)->length;
    if (has_day && strata_cohort_column(v->c, jd)->length != n)
        return STRATA_OK; /* reported as a length problem */
    for (size_t r0 = 0; r0 < n; r0 += VBLOCK) {
        size_t bl = n - r0 < VBLOCK ? n - r0 : VBLOCK;
        STRATA_TRY(strata_cohort_read_f64(ctx, v->c, jr, r0, bl, a));
        if (has_day)
            STRATA_TRY(strata_cohort_read_f64(ctx, v->c, jd, r0, bl, b));
        order_block(v, group, a, has_day ? b : NULL, r0, bl, &prev_r, &prev_d);
    }
    return STRATA_OK;
}

/* Duplicate events: a row equal in every column of its table to an earlier
 * row of the same patient and day (the last DUP_WINDOW rows of a patient's
 * day are compared, by a 64-bit hash of all the row's values). */
#define DUP_WINDOW 256
typedef struct dup_scan {
    size_t *cols, nc, n;
    long jr, jd;                  /* patient_row and day among cols, -1 if absent */
    uint64_t *h, *key;            /* per row of a block */
    uint64_t win_h[DUP_WINDOW], cur;
    size_t win_row[DUP_WINDOW], nwin;
} dup_scan;

/* Folds column k's values of a block (bl rows in a) into the row hashes and keys. */
static void dup_hash_col(dup_scan *d, size_t k, const double *a, size_t bl)
{
    if (k == 0)
        for (size_t i = 0; i < bl; i++)
            d->h[i] = 0xcbf29ce484222325ull, d->key[i] = 0;
    for (size_t i = 0; i < bl; i++) {
        double x = isnan(a[i]) ? NAN : a[i];
        uint64_t u;
        memcpy(&u, &x, 8);
        d->h[i] = strata_mix64(d->h[i] ^ u);
        if ((long)k == d->jr || (long)k == d->jd)
            d->key[i] = strata_mix64(d->key[i] ^ u) + (uint64_t)k;
    }
}

/* Compares each row of the hashed block [r0, r0 + bl) with the window of its
 * patient's day. */
static void dup_block(vstate *v, const char *group, dup_scan *d, size_t r0, size_t bl)
{
    for (size_t i = 0; i < bl; i++) {
        if (r0 + i == 0 || d->key[i] != d->cur)
            d->nwin = 0, d->cur = d->key[i];
        for (size_t w = 0; w < d->nwin; w++)
            if (d->win_h[w] == d->h[i]) {
                report(v, STRATA_PROB_EVENTS, "%s:/%s: row %zu: duplicate of row %zu (the "
                       "same patient, day and values in every column)", v->c->path, group,
                       r0 + i + 1, d->win_row[w]);
                break;
            }
        if (d->nwin < DUP_WINDOW)
            d->win_h[d->nwin] = d->h[i], d->win_row[d->nwin++] = r0 + i + 1;
    }
}

/* The table's columns into d; 0 when one has a structure or length problem
 * (reported already). */
static int dup_columns(vstate *v, const char *group, dup_scan *d)
{
    for (size_t j = 0; j < v->c->ncols; j++) {
        if (strcmp(v->c->cols[j].group, group))
            continue;
        if (v->c->cols[j].dset < 0 || v->c->cols[j].problem ||
            (d->nc && strata_cohort_column(v->c, j)->length != d->n))
            return 0;
        if (!strcmp(v->c->cols[j].name, "patient_row"))
            d->jr = (long)d->nc;
        else if (!strcmp(v->c->cols[j].name, "day"))
            d->jd = (long)d->nc;
        d->n = strata_cohort_column(v->c, j)->length;
        d->cols[d->nc++] = j;
    }
    return 1;
}

static strata_status dup_alloc(strata_ctx *ctx, const strata_cohort *c, dup_scan *d)
{
    memset(d, 0, sizeof *d);
    d->jr = d->jd = -1;
    d->cols = strata_alloc(ctx, (c->ncols + 1) * sizeof *d->cols);
    d->h = strata_alloc(ctx, VBLOCK * sizeof *d->h);
    d->key = strata_alloc(ctx, VBLOCK * sizeof *d->key);
    return d->cols && d->h && d->key ? STRATA_OK : STRATA_ENOMEM;
}

static strata_status check_duplicates(vstate *v, const char *group, double *a)
{
    strata_ctx *ctx = v->ctx;
    dup_scan d;
    strata_status st = dup_alloc(ctx, v->c, &d);
    if (st == STRATA_OK && !dup_columns(v, group, &d))
        d.nc = 0;
    for (size_t r0 = 0; st == STRATA_OK && d.nc && r0 < d.n; r0 += VBLOCK) {
        size_t bl = d.n - r0 < VBLOCK ? d.n - r0 : VBLOCK;
        for (size_t k = 0; st == STRATA_OK && k < d.nc; k++) {
            st = strata_cohort_read_f64(ctx, v->c, d.cols[k], r0, bl, a);
            if (st == STRATA_OK)
                dup_hash_col(&d, k, a, bl);
        }
        if (st == STRATA_OK)
            dup_block(v, group, &d, r0, bl);
    }
    STRATA_FREE_ALL(ctx, d.cols, d.h, d.key);
    return st;
}

/* One event table in one read: each block of every column is read once and
 * gets its value checks, the order check and the duplicate scan (separate
 * reads cost three passes over tables that can be most of the file: 34 GB for
 * all England). A table with a structure or length problem, or without
 * patient_row, takes the separate checks. */
static strata_status check_event_table(vstate *v, const char *group, double *a, double *b)
{
    strata_ctx *ctx = v->ctx;
    dup_scan d;
    double *buf = NULL, prev_r = -1, prev_d = -INFINITY;
    vcol *vc = NULL;
    strata_status st = dup_alloc(ctx, v->c, &d);
    if (st == STRATA_OK && (!dup_columns(v, group, &d) || d.jr < 0 || d.nc == 0)) {
        STRATA_FREE_ALL(ctx, d.cols, d.h, d.key);
        for (size_t j = 0; j < v->c->ncols && st == STRATA_OK; j++)
            if (!strcmp(v->c->cols[j].group, group) && v->c->cols[j].dset >= 0 && !v->c->cols[j].problem)
                st = check_values(v, j, a);
        if (st == STRATA_OK)
            st = check_events(v, group, a, b);
        return st == STRATA_OK ? check_duplicates(v, group, a) : st;
    }
    if (st == STRATA_OK) {
        buf = strata_alloc(ctx, d.nc * VBLOCK * sizeof *buf);
        vc = strata_alloc(ctx, d.nc * sizeof *vc);
        st = buf && vc ? STRATA_OK : STRATA_ENOMEM;
    }
    for (size_t k = 0; st == STRATA_OK && k < d.nc; k++)
        value_rules(v, d.cols[k], &vc[k]);
    for (size_t r0 = 0; st == STRATA_OK && r0 < d.n; r0 += VBLOCK) {
        size_t bl = d.n - r0 < VBLOCK ? d.n - r0 : VBLOCK;
        for (size_t k = 0; st == STRATA_OK && k < d.nc; k++)
            st = strata_cohort_read_f64(ctx, v->c, d.cols[k], r0, bl, buf + k * VBLOCK);
        for (size_t k = 0; st == STRATA_OK && k < d.nc; k++) {
            check_block(v, d.cols[k], &vc[k], buf + k * VBLOCK, r0, bl);
            dup_hash_col(&d, k, buf + k * VBLOCK, bl);
        }
        if (st != STRATA_OK)
            break;
        order_block(v, group, buf + (size_t)d.jr * VBLOCK, d.jd >= 0 ? buf + (size_t)d.jd * VBLOCK : NULL,
                    r0, bl, &prev_r, &prev_d);
        dup_block(v, group, &d, r0, bl);
    }
    STRATA_FREE_ALL(ctx, d.cols, d.h, d.key, buf, vc);
    return st;
}

/* The columns whose values are checked (not truth, not events, readable). */
static int value_column(const strata_cohort *c, size_t j)
{
    return c->cols[j].dset >= 0 && !c->cols[j].problem && strcmp(c->cols[j].group, "truth") &&
           strncmp(c->cols[j].group, "events/", 7);
}

/* Rank r's rows of column j: its slab of /patients' rows when the column is
 * as long, else all of it on rank 0. */
static void slab_of(const vstate *v, const strata_comm *cm, size_t j, int r, size_t *lo, size_t *hi)
{
    size_t len = strata_cohort_column(v->c, j)->length;
    if (len != v->rep->nrows) {
        *lo = 0, *hi = r == 0 ? len : 0;
        return;
    }
    *lo = strata_comm_split(len, cm->size, r, 1);
    *hi = strata_comm_split(len, cm->size, r + 1, 1);
}

/* Rank 0: the problems of every rank's sinks (sk: K x nc, rank-major; texts
 * at text[r]), replayed in column order, then rank order: one process's
 * order. */
static void replay_sinks(vstate *v, const strata_comm *cm, const vsink *sk, const char **text)
{
    size_t nc = v->c->ncols;
    for (size_t j = 0; j < nc; j++)
        for (int r = 0; r < cm->size; r++) {
            const vsink *k = &sk[(size_t)r * nc + j];
            for (size_t q = 0; q < STRATA_PROB_COUNT_; q++) {
                v->rep->counts[q] += k->counts[q];
                v->rep->total += k->counts[q];
            }
            for (uint32_t m = 0; m < k->nmsg; m++) {
                if (v->fn)
                    v->fn(v->ud, (strata_problem_kind)k->kinds[m], text[r]);
                text[r] += strlen(text[r]) + 1;
            }
        }
}

/* The helpers' sinks and their texts' lengths to rank 0 (which takes them
 * all), then, once the ranks agree, the texts; rank 0 replays. */
static strata_status gather_sinks(vstate *v, const strata_comm *cm, vsink *sk, uint64_t *len)
{
    strata_ctx *ctx = v->ctx;
    size_t nc = v->c->ncols, K = (size_t)cm->size, total = 0;
    char *all = NULL;
    const char **text = NULL;
    strata_status st = STRATA_OK;
    if (cm->rank != 0) {
        len[0] = v->text_len;
        st = cm->send(cm->ud, sk, nc * sizeof *sk, 0);
        if (st == STRATA_OK)
            st = cm->send(cm->ud, len, sizeof *len, 0);
        if ((st = strata_comm_agree(ctx, st)) == STRATA_OK)
            st = cm->send(cm->ud, v->text, v->text_len, 0);
        return st;
    }
    len[0] = v->text_len;
    for (size_t r = 1; r < K; r++) { /* every message taken, even after a failure */
        strata_status rs = cm->recv(cm->ud, sk + r * nc, nc * sizeof *sk, (int)r);
        if (rs == STRATA_OK)
            rs = cm->recv(cm->ud, &len[r], sizeof *len, (int)r);
        total += len[r];
        st = st == STRATA_OK ? rs : st;
    }
    all = strata_alloc(ctx, total + 1);
    text = (const char **)strata_alloc(ctx, K * sizeof *text);
    if (st == STRATA_OK && (!all || !text))
        st = STRATA_ENOMEM;
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK) {
        char *at = all;
        text[0] = v->text;
        for (size_t r = 1; r < K; r++) {
            strata_status rs = cm->recv(cm->ud, at, (size_t)len[r], (int)r);
            text[r] = at;
            at += len[r];
            st = st == STRATA_OK ? rs : st;
        }
        if (st == STRATA_OK)
            replay_sinks(v, cm, sk, text);
    }
    strata_free(ctx, all, 0);
    strata_free(ctx, (void *)text, 0);
    return st;
}

/* Across ranks: every rank checks its slab of each value column into its
 * sinks; the helpers send them to rank 0, which replays them in order. */
static strata_status values_ranks(vstate *v, const strata_comm *cm, long jid, strata_status st, double *a)
{
    strata_ctx *ctx = v->ctx;
    size_t nc = v->c->ncols, K = (size_t)cm->size, lo = 0, hi = 0;
    vsink *sk = strata_calloc(ctx, (cm->rank == 0 ? K : 1) * nc + 1, sizeof *sk);
    uint64_t *len = strata_calloc(ctx, K, sizeof *len);
    char *text = strata_alloc(ctx, nc * VKEEP * STRATA_ERRMSG_MAX + 1);
    if (st == STRATA_OK && (!sk || !len || !text))
        st = STRATA_ENOMEM;
    /* a helper's ids, for the messages: those of its slab of /patients */
    if (st == STRATA_OK && cm->rank != 0 && jid >= 0 && !v->c->cols[jid].problem) {
        v->mute = 1;
        int usable = ids_usable(v, (size_t)jid);
        v->mute = 0;
        if (usable) /* its messages read the id blocks they name */
            v->jid = jid;
    }
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK) {
        v->text = text;
        for (size_t j = 0; j < nc && st == STRATA_OK; j++) {
            if (!value_column(v->c, j))
                continue;
            slab_of(v, cm, j, cm->rank, &lo, &hi);
            v->cur = &sk[j];
            st = check_values_rows(v, j, a, lo, hi, cm->rank == 0);
        }
        v->cur = NULL;
        if ((st = strata_comm_agree(ctx, st)) == STRATA_OK)
            st = strata_comm_agree(ctx, gather_sinks(v, cm, sk, len));
        v->text = NULL;
    }
    STRATA_FREE_ALL(ctx, sk, len, text);
    return st;
}

static strata_status strata_cohort_validate_h5(strata_ctx *ctx, const char *path, strata_problem_fn fn,
                                     void *ud, strata_validate_report *rep)
{
    strata_cohort *c = NULL;
    vstate v;
    double *a = NULL, *b = NULL;
    strata_status st;
    long jid;
    const strata_comm *cm = strata_ctx_comm(ctx);

    memset(rep, 0, sizeof *rep);
    st = strata_cohort_open_ex(ctx, path, 1, &c);
    if (cm) /* every rank opened the file, or none goes on */
        st = strata_comm_agree(ctx, st);
    if (st != STRATA_OK) {
        strata_cohort_close(c);
        return st;
    }
    memset(&v, 0, sizeof v);
    v.ctx = ctx;
    v.c = c;
    v.fn = fn;
    v.ud = ud;
    v.rep = rep;
    v.jid = -1;
    rep->nrows = c->nrows;
    if (cm && cm->rank != 0) /* a helper: the structure, ids and events are rank 0's */
        v.mute = 1;

    for (size_t k = 0; k < c->nproblems; k++)
        report(&v, STRATA_PROB_STRUCTURE, "%s", c->problems[k]);
    for (size_t j = 0; j < c->ncols; j++)
        if (c->cols[j].problem)
            report(&v,
                   strstr(c->cols[j].problem, "differs from") ? STRATA_PROB_LENGTH
                                                              : STRATA_PROB_STRUCTURE,
                   "%s", c->cols[j].problem);
    if (c->nproblems > 0 && strata_cohort_find_role(c, STRATA_ROLE_PATIENT_ID) < 0 &&
        c->ncols == 0) {
        strata_cohort_close(c);
        return STRATA_OK; /* nothing readable to check further */
    }
    if (strata_cohort_find_role(c, STRATA_ROLE_PATIENT_ID) < 0)
        report(&v, STRATA_PROB_STRUCTURE,
               "%s:/patients: no column declares role patient_id (attribute role=\"patient_id\")",
               path);

    a = strata_alloc(ctx, VBLOCK * sizeof *a);
    b = strata_alloc(ctx, VBLOCK * sizeof *b);
    st = (a && b) ? STRATA_OK : STRATA_ENOMEM;
    jid = strata_cohort_find_role(c, STRATA_ROLE_PATIENT_ID);
    if (st == STRATA_OK && jid >= 0 && !c->cols[jid].problem && !v.mute)
        st = check_ids(&v, (size_t)jid);
    v.mute = 0;
    if (cm)
        st = values_ranks(&v, cm, jid, st, a);
    for (size_t j = 0; j < c->ncols && st == STRATA_OK && !cm; j++)
        if (value_column(c, j))
            st = check_values(&v, j, a);
    for (size_t j = 0; j < c->ncols && st == STRATA_OK && (!cm || cm->rank == 0); j++) { /* rank 0's */
        const char *g = c->cols[j].group;
        int first = 1;
        if (strncmp(g, "events/", 7))
            continue;
        for (size_t k = 0; k < j; k++)
            if (!strcmp(c->cols[k].group, g))
                first = 0;
        if (first)
            st = check_event_table(&v, g, a, b);
    }
    strata_free(ctx, a, 0);
    strata_free(ctx, b, 0);
    strata_free(ctx, v.ids, 0);
    strata_cohort_close(c);
    return st;
}

strata_status strata_cohort_validate(strata_ctx *ctx, const char *path, strata_problem_fn fn,
                                     void *ud, strata_validate_report *rep)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_validate_h5(ctx, path, fn, ud, rep);
    strata_h5_quiet_end(&es);
    return st;
}
