/* engine/io/csv_import.c — CSV extract → cohort. Pass 1 streams the file to
 * infer each column's type (integer → narrowest int, float64, or categorical
 * with byte-wise sorted levels), to find bad rows and the values that do not
 * fit (csv_odd.c: a column of numbers but for a few values stops the import);
 * an extra pass collects levels only for a column that turned to text after
 * many numeric values; the last pass converts and appends row blocks to the
 * cohort writer. A dry run (strata_csv_inspect) stops before the writer.
 * Invariant: every pass accepts and rejects exactly the same rows, and a
 * failure leaves nothing at the output path (writer abort). */
#include "csv_internal.h"
#include "strata/derive.h"
#include "internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct values kept per column while it still looks numeric; past this a
 * column that later turns out to be text gets its levels from an extra pass. */
#define LEVELS_WHILE_NUMERIC 4096

enum { K_NONE = 0, K_INT, K_FLOAT, K_TEXT };
enum { PASS_INFER = 1, PASS_LEVELS, PASS_WRITE };

/* ---- a set of distinct strings with codes --------------------------------- */

typedef struct sentry {
    size_t off;     /* into pool */
    uint64_t hash;
    int32_t code;   /* rank in byte-wise order, set after sorting */
} sentry;

typedef struct strset {
    uint32_t *slot; /* entry index + 1; 0 = empty */
    size_t nslot;   /* power of two */
    sentry *ent;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
} strset;

static uint64_t fnv1a(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ULL;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    *len = (size_t)(p - s);
    return h;
}

static void strset_free(strata_ctx *ctx, strset *s)
{
    strata_free(ctx, s->slot, s->nslot * sizeof *s->slot);
    strata_free(ctx, s->ent, s->cap * sizeof *s->ent);
    strata_free(ctx, s->pool, s->pool_cap);
    memset(s, 0, sizeof *s);
}

/* Slot of v (empty slot if absent). */
static size_t strset_probe(const strset *s, const char *v, uint64_t h)
{
    size_t i = (size_t)h & (s->nslot - 1);
    while (s->slot[i]) {
        const sentry *e = &s->ent[s->slot[i] - 1];
        if (e->hash == h && !strcmp(s->pool + e->off, v))
            return i;
        i = (i + 1) & (s->nslot - 1);
    }
    return i;
}

static strata_status strset_rehash(strata_ctx *ctx, strset *s)
{
    size_t ns = s->nslot ? 2 * s->nslot : 64;
    uint32_t *sl = strata_calloc(ctx, ns, sizeof *sl);
    if (!sl)
        return STRATA_ENOMEM;
    strata_free(ctx, s->slot, s->nslot * sizeof *s->slot);
    s->slot = sl;
    s->nslot = ns;
    for (size_t k = 0; k < s->n; k++)
        s->slot[strset_probe(s, s->pool + s->ent[k].off, s->ent[k].hash)] = (uint32_t)(k + 1);
    return STRATA_OK;
}

static strata_status strset_add(strata_ctx *ctx, strset *s, const char *v)
{
    size_t len, i;
    uint64_t h = fnv1a(v, &len);
    if (s->nslot && s->slot[strset_probe(s, v, h)])
        return STRATA_OK;
    if (s->n >= INT32_MAX - 1)
        return STRATA_FAIL(ctx, STRATA_EDATA, "more than %d distinct values in a column",
                           INT32_MAX - 1);
    if (2 * (s->n + 1) > s->nslot)
        STRATA_TRY(strset_rehash(ctx, s));
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 32;
        sentry *g = strata_realloc(ctx, s->ent, s->cap * sizeof *g, nc * sizeof *g);
        if (!g)
            return STRATA_ENOMEM;
        s->ent = g;
        s->cap = nc;
    }
    if (s->pool_len + len + 1 > s->pool_cap) {
        size_t nc = s->pool_cap ? 2 * s->pool_cap : 1024;
        char *g;
        while (nc < s->pool_len + len + 1)
            nc *= 2;
        if (!(g = strata_realloc(ctx, s->pool, s->pool_cap, nc)))
            return STRATA_ENOMEM;
        s->pool = g;
        s->pool_cap = nc;
    }
    memcpy(s->pool + s->pool_len, v, len + 1);
    s->ent[s->n].off = s->pool_len;
    s->ent[s->n].hash = h;
    s->ent[s->n].code = -1;
    s->pool_len += len + 1;
    i = strset_probe(s, v, h);
    s->slot[i] = (uint32_t)(++s->n);
    return STRATA_OK;
}

/* Code of v, or -1 when absent. */
static int32_t strset_code(const strset *s, const char *v)
{
    size_t len;
    uint64_t h = fnv1a(v, &len);
    size_t i;
    if (!s->nslot)
        return -1;
    i = strset_probe(s, v, h);
    return s->slot[i] ? s->ent[s->slot[i] - 1].code : -1;
}

/* ---- number grammar --------------------------------------------------------- */

/* Decimal integer: [+-]digits, within int64 and never INT64_MIN (the NA). */
static int parse_i64(const char *s, int64_t *out)
{
    int neg = 0;
    uint64_t v = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || v > (UINT64_C(9223372036854775807) - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if ((*a | 0x20) != *b)
            return 0;
    return !*a && !*b;
}

/* Decimal float ([+-] digits [. digits] [e[+-]digits]) or inf/infinity/nan;
 * the grammar only (inference needs no value). */
static int is_f64(const char *s)
{
    const char *p = s;
    int digits = 0;
    if (*p == '+' || *p == '-')
        p++;
    if (ieq(p, "inf") || ieq(p, "infinity") || ieq(p, "nan"))
        return 1;
    for (; *p >= '0' && *p <= '9'; p++)
        digits = 1;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits = 1;
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == 0;
}

/* Clinger's fast path: a decimal with an integer mantissa m <= 2^53 and a
 * power of ten 10^e, |e| <= 22, is m * 10^e or m / 10^-e, one correctly
 * rounded IEEE operation on two exact doubles, hence equal to strtod's
 * result. 0 when the string needs the general path. */
static int fast_f64(const char *p, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const uint64_t max_m = (uint64_t)1 << 53;
    uint64_t m = 0;
    int neg = 0, frac = 0, ex = 0, eneg = 0, e, seen_dot = 0;
    double v;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (;; p++) {
        if (*p == '.' && !seen_dot) {
            seen_dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            break;
        if (m > (max_m - 9) / 10)
            return 0;
        m = m * 10 + (uint64_t)(*p - '0');
        frac += seen_dot;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        for (; *p >= '0' && *p <= '9'; p++)
            if ((ex = ex * 10 + (*p - '0')) > 400)
                return 0;
    }
    if (*p)
        return 0;
    e = (eneg ? -ex : ex) - frac;
    if (e < -22 || e > 22)
        return 0;
    v = (double)m;
    v = e < 0 ? v / p10[-e] : v * p10[e];
    *out = neg ? -v : v;
    return 1;
#else
    (void)p;
    (void)out;
    return 0;
#endif
}

static int parse_f64(const char *s, double *out)
{
    if (!is_f64(s))
        return 0;
    if (!fast_f64(s, out))
        *out = strtod(s, NULL); /* C locale: the CLI never calls setlocale */
    return 1;
}

/* ---- import state ------------------------------------------------------------ */

typedef struct icol {
    char *csv_name;       /* as in the header */
    char *name;           /* as stored: '.', '/' -> '_' */
    strata_csv_type want; /* override (or implied by the role); NUM for a stray column
                             under skip_bad_rows */
    strata_csv_type given; /* want as the options and roles gave it */
    strata_role role;
    int outcome;
    int kind;             /* K_* seen so far */
    int num_kind;         /* K_NONE, K_INT or K_FLOAT: the numbers alone, text or not */
    int64_t imin, imax;   /* of the integers (num_kind K_INT) */
    size_t n_values;      /* pass 1, good rows: non-missing values */
    size_t n_missing;
    size_t n_numeric;     /* of n_values, the numbers */
    csv_odd odd;          /* text in an inferred column, misfits of a given type */
    int stray;            /* inferred: numbers but for a few values (csv_odd_is_stray) */
    strset lv;            /* distinct values (codes after sorting) */
    int lv_on;            /* still collecting */
    int lv_lost;          /* gave up while numeric; needs the levels pass */
    strata_dtype dtype;
    int categorical;
    const char **levels;  /* sorted, into lv.pool */
    const csv_colopt *opt; /* recodes (may be NULL) */
    size_t wj;            /* writer column */
    void *blk;            /* block_rows values of dtype */
} icol;

typedef struct importer {
    strata_ctx *ctx;
    const char *path;
    const strata_csv_import_params *p;
    strata_csv_import_report *rep;
    const char *const *na;
    size_t n_na;
    int pass;
    int inspect;       /* dry run: no bad row stops a pass */
    int have_header;
    icol *col;
    size_t ncol;
    size_t nrows;      /* good rows seen in this pass */
    size_t nbad;
    strata_cohort_writer *w;
    size_t blk_n;      /* rows in the current block */
    const char **val;  /* this record's values after recoding (ncol) */
} importer;

static const char *const default_na[] = {"NA", "", "?"};

static int is_na(const importer *im, const char *v)
{
    for (size_t i = 0; i < im->n_na; i++)
        if (v[0] == im->na[i][0] && !strcmp(v, im->na[i])) /* first byte: the fast reject */
            return 1;
    return 0;
}

static strata_role want_for_role(strata_role r, strata_csv_type *t)
{
    switch (r) {
    case STRATA_ROLE_PATIENT_ID: /* integers (int64) or strings (categorical, e.g. 64-hex) */
        *t = STRATA_CSV_AUTO;
        break;
    case STRATA_ROLE_AGE:
    case STRATA_ROLE_IMD_DECILE:
        *t = STRATA_CSV_NUM;
        break;
    case STRATA_ROLE_BIRTH_DATE:
    case STRATA_ROLE_DEATH_DATE:
    case STRATA_ROLE_REG_START:
    case STRATA_ROLE_REG_END:
        *t = STRATA_CSV_DATE; /* or cat: ISO labels, which derive reads too */
        break;
    default:
        *t = STRATA_CSV_CAT;
        break;
    }
    return r;
}

/* HDF5-safe dataset name: '.', '/' and control characters become '_'. */
static char *safe_name(strata_ctx *ctx, const char *nm)
{
    char *d = strata_strdup(ctx, nm);
    for (char *q = d; q && *q; q++)
        if (*q == '.' || *q == '/' || (unsigned char)*q < 0x20)
            *q = '_';
    return d;
}

/* Column index whose CSV or stored name is nm, or ncol. */
static size_t find_col(const importer *im, const char *nm)
{
    size_t i = 0;
    while (i < im->ncol && strcmp(im->col[i].csv_name, nm) && strcmp(im->col[i].name, nm))
        i++;
    return i;
}

static strata_status header_names(importer *im, const csv_scanner *sc)
{
    for (size_t i = 0; i < sc->nf; i++) {
        icol *c = &im->col[i];
        const char *nm = sc->field[i];
        char auto_name[32];
        if (!*nm) { /* e.g. R's write.csv row-name column, or a trailing comma */
            snprintf(auto_name, sizeof auto_name, "col_%zu", i + 1);
            strata_warn(im->ctx, "%s: line %zu: column %zu has no name; it is stored as '%s'",
                        im->path, sc->field_line[i], i + 1, auto_name);
            nm = auto_name;
        }
        if (!(c->csv_name = strata_strdup(im->ctx, sc->field[i])) ||
            !(c->name = safe_name(im->ctx, nm)))
            return STRATA_ENOMEM;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(im->col[k].name, c->name))
                return STRATA_FAIL(im->ctx, STRATA_EDATA,
                                   "%s: line %zu: column '%s' (column %zu) has the same name as "
                                   "column %zu '%s' once stored as '%s'",
                                   im->path, sc->field_line[i], nm, i + 1, k + 1,
                                   im->col[k].csv_name, c->name);
        if (*sc->field[i] && strcmp(nm, c->name))
            strata_warn(im->ctx, "%s: column '%s' is stored as '%s'", im->path, nm,
                       c->name);
    }
    return STRATA_OK;
}

/* Levels are collected from the start unless the column must hold numbers. */
static int wants_levels(const icol *c)
{
    return !(c->want == STRATA_CSV_INT || c->want == STRATA_CSV_FLOAT ||
             c->want == STRATA_CSV_NUM || c->want == STRATA_CSV_DATE);
}

static strata_status setup_header(importer *im, const csv_scanner *sc)
{
    const strata_csv_mapping *m = im->p->mapping;
    if (!(im->col = strata_calloc(im->ctx, sc->nf, sizeof *im->col)) ||
        !(im->val = strata_calloc(im->ctx, sc->nf, sizeof *im->val)))
        return STRATA_ENOMEM;
    im->ncol = sc->nf;
    STRATA_TRY(header_names(im, sc));
    /* Every named column must exist; options may use the CSV or the stored name. */
    for (size_t k = 0; m && k < m->n; k++) {
        size_t i = find_col(im, m->cols[k].name);
        if (i == im->ncol)
            return STRATA_FAIL(im->ctx, STRATA_ESPEC,
                               "%s: column '%s' (given a type, outcome or recode option) is not in the "
                               "header",
                               im->path, m->cols[k].name);
        im->col[i].want = m->cols[k].type;
        im->col[i].outcome = m->cols[k].outcome;
        im->col[i].opt = &m->cols[k];
    }
    for (int r = 1; m && r < STRATA_ROLE_COUNT_; r++) {
        size_t i;
        strata_csv_type t;
        if (!m->role_col[r])
            continue;
        if ((i = find_col(im, m->role_col[r])) == im->ncol)
            return STRATA_FAIL(im->ctx, STRATA_ESPEC,
                               "%s: column '%s' (role %s) is not in the header", im->path,
                               m->role_col[r], strata_role_name((strata_role)r));
        im->col[i].role = want_for_role((strata_role)r, &t);
        if (im->col[i].want == STRATA_CSV_AUTO)
            im->col[i].want = t;
        else if (r == STRATA_ROLE_PATIENT_ID || t == STRATA_CSV_DATE
                     ? im->col[i].want != t && im->col[i].want != STRATA_CSV_CAT &&
                           im->col[i].want != STRATA_CSV_INT
                     : (t == STRATA_CSV_CAT) != (im->col[i].want == STRATA_CSV_CAT))
            return STRATA_FAIL(im->ctx, STRATA_ESPEC,
                               "%s: column '%s': type %s does not suit role %s (needs %s)",
                               im->path, im->col[i].name, strata_csv_type_name(im->col[i].want),
                               strata_role_name((strata_role)r), strata_csv_type_name(t));
        if (im->col[i].outcome)
            return STRATA_FAIL(im->ctx, STRATA_ESPEC,
                               "%s: column '%s' has role %s and cannot be an outcome", im->path,
                               im->col[i].name, strata_role_name((strata_role)r));
    }
    for (size_t i = 0; i < im->ncol; i++) {
        im->col[i].given = im->col[i].want;
        im->col[i].lv_on = wants_levels(&im->col[i]);
    }
    im->have_header = 1;
    return STRATA_OK;
}

/* 0 when the row has the header's field count; otherwise 1 with the reason in msg. */
static int check_shape(const importer *im, const csv_scanner *sc, char *msg, size_t n)
{
    if (sc->nf == im->ncol)
        return 0;
    if (sc->nf > im->ncol) {
        char shown[96];
        csv_show_value(shown, sizeof shown, sc->field[im->ncol]);
        snprintf(msg, n,
                 "%s: line %zu: expected %zu fields, found %zu (extra value '%s' after column "
                 "'%s')",
                 im->path, sc->rec_line, im->ncol, sc->nf, shown, im->col[im->ncol - 1].name);
    } else {
        snprintf(msg, n, "%s: line %zu: expected %zu fields, found %zu (column '%s' missing)",
                 im->path, sc->rec_line, im->ncol, sc->nf, im->col[sc->nf].name);
    }
    return 1;
}

/* What a date column needs, for messages. */
static const char *date_need(int f)
{
    return f == STRATA_DATE_DMY ? "a date (DD/MM/YYYY)"
           : f == STRATA_DATE_YMD ? "a date (YYYYMMDD)" : "a date (YYYY-MM-DD)";
}

/* *bad = 1 when a value does not fit its column's given type, with the first
 * such value in msg; pass 1 keeps every one as an odd value of its column. */
static strata_status check_values(importer *im, const csv_scanner *sc, char *msg, size_t n,
                                  int *bad)
{
    char shown[96];
    *bad = 0;
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        const char *v = im->val[i];
        int64_t iv;
        const char *need = NULL;
        if (c->want == STRATA_CSV_AUTO || c->want == STRATA_CSV_CAT || is_na(im, v))
            continue;
        if (c->want == STRATA_CSV_DATE) {
            int32_t d;
            if (strata_date_parse(v, (strata_date_format)im->p->date_format, &d) != 0)
                need = date_need(im->p->date_format);
        } else if (c->want == STRATA_CSV_INT && !parse_i64(v, &iv))
            need = "an integer";
        else if (c->want != STRATA_CSV_INT && !is_f64(v))
            need = "a number";
        if (!need)
            continue;
        if (!*bad) {
            csv_show_value(shown, sizeof shown, v);
            snprintf(msg, n, "%s: line %zu, column '%s': value '%s' is not %s (column type %s%s%s)",
                     im->path, sc->field_line[i], c->name, shown, need,
                     c->stray ? "num: numbers but for a few values"
                              : strata_csv_type_name(c->want),
                     c->role ? ", role " : "", c->role ? strata_role_name(c->role) : "");
        }
        *bad = 1;
        if (im->pass != PASS_INFER)
            break;
        STRATA_TRY(csv_odd_add(im->ctx, &c->odd, v, sc->field_line[i]));
    }
    return STRATA_OK;
}

/* Pass 1, one value of a good row. Numbers keep widening the numeric kind
 * after text was seen, so that a column of numbers but for a few values
 * still knows its numeric type; its text values are kept as odd values. */
static strata_status absorb(importer *im, icol *c, const char *v, size_t line)
{
    int64_t iv;
    if (is_na(im, v)) {
        c->n_missing++;
        return STRATA_OK;
    }
    c->n_values++;
    if (c->want == STRATA_CSV_CAT) {
        c->kind = K_TEXT;
    } else if (c->want == STRATA_CSV_DATE) { /* check_values parsed it */
        c->kind = c->num_kind = K_INT;
        c->n_numeric++;
        return STRATA_OK;
    } else if (c->want != STRATA_CSV_FLOAT && c->num_kind != K_FLOAT && parse_i64(v, &iv)) {
        if (c->num_kind == K_NONE)
            c->imin = c->imax = iv;
        c->imin = iv < c->imin ? iv : c->imin;
        c->imax = iv > c->imax ? iv : c->imax;
        c->num_kind = K_INT;
        c->n_numeric++;
    } else if (is_f64(v)) {
        c->num_kind = K_FLOAT;
        c->n_numeric++;
    } else {
        c->kind = K_TEXT; /* only AUTO gets here: check_values rejected the rest */
        STRATA_TRY(csv_odd_add(im->ctx, &c->odd, v, line));
    }
    if (c->kind != K_TEXT)
        c->kind = c->num_kind;
    if (!c->lv_on)
        return STRATA_OK;
    STRATA_TRY(strset_add(im->ctx, &c->lv, v));
    if (c->kind != K_TEXT && c->lv.n > LEVELS_WHILE_NUMERIC) {
        strset_free(im->ctx, &c->lv);
        c->lv_on = 0;
        c->lv_lost = 1;
    }
    return STRATA_OK;
}

static void note_bad(importer *im, const csv_scanner *sc, const char *msg)
{
    strata_csv_import_report *r = im->rep;
    im->nbad++;
    if (r && r->n_listed < STRATA_CSV_LISTED_MAX) {
        r->skipped_line[r->n_listed] = sc->rec_line;
        snprintf(r->skipped_msg[r->n_listed], STRATA_CSV_MSG_MAX, "%s", msg);
        r->n_listed++;
    }
}

/* ---- writing ----------------------------------------------------------------- */

/* Stores value r of the block: iv is the integer or the level code, dv the float. */
static void store(icol *c, size_t r, int na, int64_t iv, double dv)
{
    void *b = c->blk;
    if (c->categorical && na)
        iv = STRATA_NA_CODE;
    switch (c->dtype) {
    case STRATA_DT_INT8:
        ((int8_t *)b)[r] = (int8_t)(na && !c->categorical ? STRATA_NA_INT8 : iv);
        break;
    case STRATA_DT_INT16:
        ((int16_t *)b)[r] = (int16_t)(na && !c->categorical ? STRATA_NA_INT16 : iv);
        break;
    case STRATA_DT_INT32:
        ((int32_t *)b)[r] = (int32_t)(na && !c->categorical ? STRATA_NA_INT32 : iv);
        break;
    case STRATA_DT_INT64:
        ((int64_t *)b)[r] = na ? STRATA_NA_INT64 : iv;
        break;
    default:
        ((double *)b)[r] = na ? NAN : dv;
        break;
    }
}

static strata_status flush(importer *im)
{
    for (size_t i = 0; i < im->ncol && im->blk_n; i++)
        STRATA_TRY(strata_cohort_writer_append(im->w, im->col[i].wj, im->col[i].blk, im->blk_n));
    im->blk_n = 0;
    return STRATA_OK;
}

static strata_status changed(const importer *im, const csv_scanner *sc, const icol *c,
                             const char *v)
{
    char shown[96];
    csv_show_value(shown, sizeof shown, v);
    return STRATA_FAIL(im->ctx, STRATA_EIO,
                       "%s: line %zu, column '%s': value '%s' was not seen when the file was "
                       "first read: the file changed during the import",
                       im->path, sc->rec_line, c->name, shown);
}

static strata_status write_row(importer *im, const csv_scanner *sc)
{
    size_t r = im->blk_n;
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        const char *v = im->val[i];
        int na = is_na(im, v);
        int64_t iv = 0;
        double dv = 0;
        if (!na) {
            if (c->categorical) {
                if ((iv = strset_code(&c->lv, v)) < 0)
                    return changed(im, sc, c, v);
            } else if (c->want == STRATA_CSV_DATE) {
                int32_t d;
                if (strata_date_parse(v, (strata_date_format)im->p->date_format, &d) != 0)
                    return changed(im, sc, c, v);
                iv = d;
            } else if (c->dtype == STRATA_DT_FLOAT64) {
                if (!parse_f64(v, &dv))
                    return changed(im, sc, c, v);
            } else if (!parse_i64(v, &iv) || iv < c->imin || iv > c->imax) {
                return changed(im, sc, c, v);
            }
        }
        store(c, r, na, iv, dv);
    }
    if (++im->blk_n == im->p->block_rows)
        return flush(im);
    return STRATA_OK;
}

static const char *recode(const icol *c, const char *v)
{
    for (size_t k = 0; c->opt && k < c->opt->n_recode; k++)
        if (!strcmp(v, c->opt->from[k]))
            return c->opt->to[k];
    return v;
}

/* A bad row stops the import unless rows are skipped (or this is a dry run). */
static strata_status bad_row(importer *im, const csv_scanner *sc, const char *msg)
{
    if (!im->p->skip_bad_rows && !im->inspect)
        return STRATA_FAIL(im->ctx, STRATA_EDATA, "%s", msg);
    if (im->pass == PASS_INFER)
        note_bad(im, sc, msg);
    return STRATA_OK;
}

static strata_status on_record(void *ud, const csv_scanner *sc)
{
    importer *im = ud;
    char msg[STRATA_CSV_MSG_MAX];
    int bad;
    if (!im->have_header) {
        if (im->pass == PASS_INFER && !im->col)
            return setup_header(im, sc);
        im->have_header = 1; /* the header was checked by the first pass */
        return STRATA_OK;
    }
    if (check_shape(im, sc, msg, sizeof msg))
        return bad_row(im, sc, msg);
    for (size_t i = 0; i < im->ncol; i++)
        im->val[i] = recode(&im->col[i], sc->field[i]);
    STRATA_TRY(check_values(im, sc, msg, sizeof msg, &bad));
    if (bad && im->pass == PASS_INFER) {
        note_bad(im, sc, msg); /* pass 1 finds them all; the caller decides */
        return STRATA_OK;
    }
    if (bad)
        return bad_row(im, sc, msg);
    im->nrows++;
    if (im->pass == PASS_WRITE)
        return write_row(im, sc);
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        if (im->pass == PASS_INFER)
            STRATA_TRY(absorb(im, c, im->val[i], sc->field_line[i]));
        else if (c->lv_lost && !is_na(im, im->val[i]))
            STRATA_TRY(strset_add(im->ctx, &c->lv, im->val[i]));
    }
    return STRATA_OK;
}

/* ---- from inferred kinds to storage types ------------------------------------- */

static int cmp_level(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b); /* byte-wise */
}

static strata_status finish_levels(importer *im, icol *c)
{
    if (!(c->levels = strata_calloc(im->ctx, c->lv.n ? c->lv.n : 1, sizeof *c->levels)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < c->lv.n; k++)
        c->levels[k] = c->lv.pool + c->lv.ent[k].off;
    qsort(c->levels, c->lv.n, sizeof *c->levels, cmp_level);
    for (size_t k = 0; k < c->lv.n; k++) {
        size_t len;
        uint64_t h = fnv1a(c->levels[k], &len);
        c->lv.ent[c->lv.slot[strset_probe(&c->lv, c->levels[k], h)] - 1].code = (int32_t)k;
    }
    c->dtype = c->lv.n <= INT8_MAX ? STRATA_DT_INT8
               : c->lv.n <= INT16_MAX ? STRATA_DT_INT16
                                      : STRATA_DT_INT32;
    return STRATA_OK;
}

static void choose_int(icol *c)
{
    if (c->kind == K_NONE)
        c->imin = c->imax = 0;
    if (c->role == STRATA_ROLE_PATIENT_ID)
        c->dtype = STRATA_DT_INT64;
    else if (c->imin > INT8_MIN && c->imax <= INT8_MAX)
        c->dtype = STRATA_DT_INT8;
    else if (c->imin > INT16_MIN && c->imax <= INT16_MAX)
        c->dtype = STRATA_DT_INT16;
    else if (c->imin > INT32_MIN && c->imax <= INT32_MAX)
        c->dtype = STRATA_DT_INT32;
    else
        c->dtype = STRATA_DT_INT64;
}

/* Sets dtype/categorical; 1 when some column needs the levels pass. */
static int decide_types(importer *im)
{
    int rescan = 0;
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        if (c->kind == K_TEXT || c->want == STRATA_CSV_CAT) {
            c->categorical = 1;
            rescan |= c->lv_lost;
        } else if (c->kind == K_FLOAT || c->want == STRATA_CSV_FLOAT) {
            c->dtype = STRATA_DT_FLOAT64;
            strset_free(im->ctx, &c->lv);
        } else if (c->want == STRATA_CSV_DATE) {
            c->dtype = STRATA_DT_INT32;
        } else {
            choose_int(c);
            strset_free(im->ctx, &c->lv);
        }
        c->lv_on = c->categorical;
    }
    return rescan;
}

static strata_status open_writer(importer *im, const char *out_path)
{
    const char *src = im->p->source;
    const char *slash = strrchr(im->path, '/');
    STRATA_TRY(strata_cohort_writer_new(im->ctx, out_path, &im->w));
    STRATA_TRY(strata_cohort_writer_attr(im->w, "source",
                                         src ? src : slash ? slash + 1 : im->path));
    STRATA_TRY(strata_cohort_writer_attr(im->w, "generator", "strata import"));
    if (im->p->extract_date)
        STRATA_TRY(strata_cohort_writer_attr(im->w, "extract_date", im->p->extract_date));
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        strata_column_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.group = c->outcome ? "outcomes" : "patients";
        spec.name = c->name;
        spec.dtype = c->dtype;
        spec.categorical = c->categorical;
        spec.levels = c->levels;
        spec.n_levels = c->categorical ? c->lv.n : 0;
        spec.role = c->role;
        spec.units = c->want == STRATA_CSV_DATE ? "days since 1970-01-01" : NULL;
        spec.description = strcmp(c->name, c->csv_name) ? c->csv_name : NULL; /* header text */
        STRATA_TRY(strata_cohort_writer_add(im->w, &spec, &c->wj));
        if (!(c->blk = strata_calloc(im->ctx, im->p->block_rows, strata_dtype_size(c->dtype))))
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static strata_status run_pass(importer *im, int pass, size_t *n_lines)
{
    strata_status s;
    im->pass = pass;
    im->have_header = 0;
    im->nrows = 0;
    csv_encoding enc;
    STRATA_TRY(csv_encoding_parse(im->ctx, im->p->encoding, &enc));
    s = csv_scan_file_enc(im->ctx, im->path, im->p->delim, enc, on_record, im, n_lines);
    if (s == STRATA_OK && !im->have_header)
        s = STRATA_FAIL(im->ctx, STRATA_EDATA, "%s: line 1: no header line (the file is empty)",
                        im->path);
    return s;
}

static void importer_free(importer *im)
{
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        strata_free(im->ctx, c->name, 0);
        strata_free(im->ctx, c->csv_name, 0);
        strata_free(im->ctx, c->levels, 0);
        strata_free(im->ctx, c->blk, 0);
        strset_free(im->ctx, &c->lv);
        csv_odd_free(im->ctx, &c->odd);
    }
    strata_free(im->ctx, im->col, im->ncol * sizeof *im->col);
    strata_free(im->ctx, im->val, im->ncol * sizeof *im->val);
    strata_cohort_writer_abort(im->w);
}

/* ---- values that do not fit ---------------------------------------------------- */

/* Pass 1 from scratch (after columns were given a new type). */
static void reset_inference(importer *im)
{
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        c->kind = c->num_kind = K_NONE;
        c->imin = c->imax = 0;
        c->n_values = c->n_missing = c->n_numeric = 0;
        csv_odd_free(im->ctx, &c->odd);
        strset_free(im->ctx, &c->lv);
        c->lv_on = wants_levels(c);
        c->lv_lost = 0;
    }
    im->nbad = 0;
    if (im->rep)
        im->rep->n_listed = 0;
}

/* Marks the inferred columns that hold numbers but for a few values; the
 * count of newly marked ones. */
static size_t find_stray(importer *im)
{
    size_t k = 0;
    for (size_t i = 0; i < im->ncol; i++) {
        icol *c = &im->col[i];
        if (c->want == STRATA_CSV_AUTO && csv_odd_is_stray(c->odd.n, c->n_values)) {
            c->stray = 1;
            k++;
        }
    }
    return k;
}

/* Pass 1. With skip_bad_rows a stray column is read as num, so the rows with
 * its stray values become bad rows; pass 1 then runs again, so that no skipped
 * row adds a level or widens a type (dropping rows may tip another column:
 * at most one more run per column). */
static strata_status infer(importer *im, size_t *n_lines)
{
    STRATA_TRY(run_pass(im, PASS_INFER, n_lines));
    while (find_stray(im) && im->p->skip_bad_rows) {
        for (size_t i = 0; i < im->ncol; i++)
            if (im->col[i].stray && im->col[i].want == STRATA_CSV_AUTO)
                im->col[i].want = STRATA_CSV_NUM;
        reset_inference(im);
        STRATA_TRY(run_pass(im, PASS_INFER, n_lines));
    }
    return STRATA_OK;
}

/* Its odd values stop the import (without skip_bad_rows). */
static int fails_on_odd(const importer *im, const icol *c)
{
    if (im->p->skip_bad_rows)
        return 0;
    return c->stray || (c->want != STRATA_CSV_AUTO && c->want != STRATA_CSV_CAT && c->odd.n);
}

/* STRATA_EDATA naming every column whose odd values stop the import; OK when none does. */
static strata_status fail_on_odd(importer *im)
{
    csv_odd_col *oc;
    size_t n = 0;
    strata_status s;
    for (size_t i = 0; i < im->ncol; i++)
        n += (size_t)fails_on_odd(im, &im->col[i]);
    if (!n)
        return STRATA_OK;
    if (!(oc = strata_calloc(im->ctx, n, sizeof *oc)))
        return STRATA_ENOMEM;
    n = 0;
    for (size_t i = 0; i < im->ncol; i++) {
        const icol *c = &im->col[i];
        if (!fails_on_odd(im, c))
            continue;
        oc[n].name = c->name;
        oc[n].want = c->want;
        oc[n].role = c->role;
        oc[n].n_values = c->n_values;
        oc[n++].odd = &c->odd;
    }
    s = csv_odd_fail(im->ctx, im->path, oc, n, im->na, im->n_na);
    strata_free(im->ctx, oc, n * sizeof *oc);
    return s;
}

/* An inferred column mostly of numbers that is stored categorical all the
 * same (too much text to be stray) is worth a word. */
static void warn_mixed(importer *im)
{
    for (size_t i = 0; i < im->ncol; i++) {
        const icol *c = &im->col[i];
        if (c->given != STRATA_CSV_AUTO || !c->categorical || !c->odd.n ||
            c->n_numeric <= c->odd.n)
            continue;
        strata_warn(im->ctx,
                    "%s: column '%s' is stored as categorical (%zu levels) although %zu of its "
                    "%zu values are numbers; %zu are not, the first on line %zu: '%s' "
                    "(--type %s=cat says this is meant; --dry-run lists such values)",
                    im->path, c->name, c->lv.n, c->n_numeric, c->n_values, c->odd.n,
                    c->odd.line[0], c->odd.value[0], c->name);
    }
}

/* ---- the passes --------------------------------------------------------------- */

static strata_status import_passes(importer *im, const char *out_path)
{
    size_t n1, n_lines, rows1;
    STRATA_TRY(infer(im, &n_lines));
    STRATA_TRY(fail_on_odd(im));
    rows1 = im->nrows;
    if (decide_types(im))
        STRATA_TRY(run_pass(im, PASS_LEVELS, &n1));
    for (size_t i = 0; i < im->ncol; i++)
        if (im->col[i].categorical)
            STRATA_TRY(finish_levels(im, &im->col[i]));
    warn_mixed(im);
    STRATA_TRY(open_writer(im, out_path));
    STRATA_TRY(run_pass(im, PASS_WRITE, &n1));
    STRATA_TRY(flush(im));
    if (im->nrows != rows1 || n1 != n_lines)
        return STRATA_FAIL(im->ctx, STRATA_EIO,
                           "%s: the file changed during the import (%zu rows, then %zu)",
                           im->path, rows1, im->nrows);
    if (im->rep) {
        im->rep->n_rows = im->nrows;
        im->rep->n_columns = im->ncol;
        im->rep->n_lines = n_lines;
        im->rep->n_skipped = im->nbad;
    }
    {
        strata_cohort_writer *w = im->w;
        im->w = NULL;
        return strata_cohort_writer_finish(w);
    }
}

void strata_csv_import_params_init(strata_csv_import_params *p)
{
    memset(p, 0, sizeof *p);
    p->delim = ',';
    p->block_rows = 16384;
}

strata_status strata_csv_import_params_check(strata_ctx *ctx, const strata_csv_import_params *p)
{
    if (!p)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "import: no parameters");
    if (p->delim == '"' || p->delim == '\n' || p->delim == '\r' || p->delim == 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "import: the delimiter cannot be a quote, a line "
                                               "end or NUL");
    if (p->block_rows == 0 || p->block_rows > ((size_t)1 << 24))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "import: block_rows %zu outside [1, 2^24]",
                           p->block_rows);
    return STRATA_OK;
}

static void importer_init(importer *im, strata_ctx *ctx, const char *csv_path,
                          const strata_csv_import_params *p, strata_csv_import_report *report)
{
    memset(im, 0, sizeof *im);
    im->ctx = ctx;
    im->path = csv_path;
    im->p = p;
    im->rep = report;
    if (report)
        memset(report, 0, sizeof *report);
    if (p->mapping && p->mapping->na_set) {
        im->na = (const char *const *)p->mapping->na;
        im->n_na = p->mapping->n_na;
    } else {
        im->na = default_na;
        im->n_na = sizeof default_na / sizeof default_na[0];
    }
}

strata_status strata_csv_import(strata_ctx *ctx, const char *csv_path, const char *out_path,
                                const strata_csv_import_params *p,
                                strata_csv_import_report *report)
{
    importer im;
    strata_status s;
    STRATA_TRY(strata_csv_import_params_check(ctx, p));
    importer_init(&im, ctx, csv_path, p, report);
    s = import_passes(&im, out_path);
    importer_free(&im); /* aborts the writer when the import failed */
    return s;
}

/* ---- dry run -------------------------------------------------------------------- */

struct strata_csv_inspection {
    importer im;                    /* the columns after pass 1 (and the levels pass) */
    strata_csv_column_summary *col; /* im.ncol */
};

static void summarize(const importer *im, const icol *c, strata_csv_column_summary *s)
{
    /* an inferred text column has labels, not odd values, unless mostly numbers */
    int odd = c->odd.n && !(c->given == STRATA_CSV_AUTO && c->categorical &&
                            c->n_numeric <= c->odd.n);
    s->name = c->name;
    s->type = c->given;
    s->role = c->role;
    s->outcome = c->outcome;
    s->dtype = c->dtype;
    s->categorical = c->categorical;
    s->n_levels = c->categorical ? c->lv.n : 0;
    s->n_values = c->n_values;
    s->n_missing = c->n_missing;
    s->n_numeric = c->n_numeric;
    s->n_odd = odd ? c->odd.n : 0;
    s->n_odd_listed = odd ? c->odd.n_listed : 0;
    for (size_t k = 0; k < s->n_odd_listed; k++) {
        s->odd_line[k] = c->odd.line[k];
        s->odd_value[k] = c->odd.value[k];
    }
    s->stray = c->stray;
    s->fails = fails_on_odd(im, c);
}

static strata_status inspect_passes(strata_csv_inspection *in)
{
    importer *im = &in->im;
    size_t n_lines, n1, rows1;
    STRATA_TRY(infer(im, &n_lines));
    rows1 = im->nrows;
    for (size_t i = 0; i < im->ncol; i++)
        if (im->col[i].stray && im->col[i].want == STRATA_CSV_AUTO)
            im->col[i].kind = im->col[i].num_kind; /* shown with its numeric type */
    if (decide_types(im))
        STRATA_TRY(run_pass(im, PASS_LEVELS, &n1));
    if (!(in->col = strata_calloc(im->ctx, im->ncol, sizeof *in->col)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < im->ncol; i++)
        summarize(im, &im->col[i], &in->col[i]);
    if (im->rep) {
        im->rep->n_rows = rows1;
        im->rep->n_columns = im->ncol;
        im->rep->n_lines = n_lines;
        im->rep->n_skipped = im->nbad;
    }
    return STRATA_OK;
}

strata_status strata_csv_inspect(strata_ctx *ctx, const char *csv_path,
                                 const strata_csv_import_params *p, strata_csv_inspection **out,
                                 strata_csv_import_report *report)
{
    strata_csv_inspection *in;
    strata_status s;
    if (!out)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "inspect: no place for the result");
    *out = NULL;
    STRATA_TRY(strata_csv_import_params_check(ctx, p));
    if (!(in = strata_calloc(ctx, 1, sizeof *in)))
        return STRATA_ENOMEM;
    importer_init(&in->im, ctx, csv_path, p, report);
    in->im.inspect = 1;
    s = inspect_passes(in);
    in->im.p = NULL; /* the caller's; not needed past this call */
    in->im.rep = NULL;
    if (s != STRATA_OK) {
        strata_csv_inspection_free(in);
        return s;
    }
    *out = in;
    return STRATA_OK;
}

size_t strata_csv_inspection_ncols(const strata_csv_inspection *in)
{
    return in && in->col ? in->im.ncol : 0;
}

const strata_csv_column_summary *strata_csv_inspection_column(const strata_csv_inspection *in,
                                                              size_t j)
{
    return in && in->col && j < in->im.ncol ? &in->col[j] : NULL;
}

void strata_csv_inspection_free(strata_csv_inspection *in)
{
    strata_ctx *ctx;
    if (!in)
        return;
    ctx = in->im.ctx;
    strata_free(ctx, in->col, in->im.ncol * sizeof *in->col);
    importer_free(&in->im);
    strata_free(ctx, in, sizeof *in);
}
