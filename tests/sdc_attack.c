/* tests/sdc_attack.c — the differencing attacks of sdc_attack.h: published
 * numbers become interval unknowns, what an attacker knows becomes
 * constraints (linear sums, products, CI inversions, tier sizes), and interval
 * propagation runs to a fixed point. Invariant: a constraint is only what
 * holds of the data whatever the engine does (sums, definitions), or an
 * attacker's hypothesis about the engine (expected = observed, a CI method);
 * a hypothesis the outputs refute is dropped and counted, never reported as a
 * recovery. */
#include "sdc_attack.h"

#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/dist.h"
#include "strata/run.h"
#include "strata/table.h"
#include "testutil.h"

#define BIG 1e12
#define MAXC 512

/* ---- published tables ----------------------------------------------------- */

enum { C_TEXT, C_NUM, C_HIDDEN, C_EMPTY };

typedef struct cell {
    int kind;
    double v, hw; /* value and half-width of its printed precision */
    char *s;
} cell;

typedef struct tab {
    char name[64];
    char src[8]; /* csv, h5, long, html */
    size_t nc, nr;
    char *head[MAXC];
    cell *c; /* nr x nc */
    int nkeys;
} tab;

typedef struct var {
    double lo, hi;
    int integer, secret, structural, hidden;
    double pub; /* published (rounded) value of a visible count */
    char *key;
    unsigned long stamp; /* when its bounds last moved */
} var;

enum { K_LIN, K_MUL, K_POIS, K_LOGCI, K_TIER };

typedef struct cons {
    int kind, dead;
    int n;          /* K_LIN: terms */
    int *v;         /* variables */
    double *a;      /* K_LIN coefficients */
    double k;       /* K_MUL x = k*y*z; K_TIER: cumulative fraction hi */
    double k2;      /* K_TIER: cumulative fraction lo */
    unsigned long ran; /* clock when it last ran */
    char what[96];
} cons;

/* A string -> double map (open addressing), for lookups at England scale. */
typedef struct smap {
    char **key;
    double *v;
    size_t n, cap;
} smap;

typedef struct sys {
    tab *t;
    size_t nt, capt;
    var *x;
    size_t nx, capx;
    cons *c;
    size_t ncons, capc;
    /* open-addressing index of variable keys */
    size_t *idx, capi;
    const sdc_attack_opts *o;
    sdc_attack_result *r;
    size_t n_rec, n_other;
    unsigned long clock;
    smap kinds;              /* "table\x1fcolumn" -> index into kind_names */
    char kind_names[16][16];
    int n_kind_names;
    char family[32];
} sys;

/* Findings: the first few recoveries first, then the first few of the rest. */
static void finding(sys *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finding(sys *s, const char *fmt, ...)
{
    va_list ap;
    int rec = !strncmp(fmt, "recovered", 9) || !strncmp(fmt, "FALSE", 5);
    size_t *n = rec ? &s->n_rec : &s->n_other, base = rec ? 0 : SDC_MAX_FINDINGS / 2;
    va_start(ap, fmt);
    if (*n < SDC_MAX_FINDINGS / 2) {
        vsnprintf(s->r->finding[base + *n], 512, fmt, ap);
        (*n)++;
    }
    va_end(ap);
    if (s->o->verbose) {
        va_start(ap, fmt);
        fputs("sdc_attack: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static uint64_t fnv(const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return h;
}


static size_t smap_slot(const smap *m, const char *key)
{
    size_t h = fnv(key) & (m->cap - 1);
    while (m->key[h] && strcmp(m->key[h], key))
        h = (h + 1) & (m->cap - 1);
    return h;
}

static double *smap_put(smap *m, const char *key)
{
    size_t h;
    if (4 * (m->n + 1) > 3 * m->cap) {
        smap old = *m;
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->key = calloc(m->cap, sizeof *m->key);
        m->v = calloc(m->cap, sizeof *m->v);
        m->n = 0;
        for (size_t k = 0; k < old.cap; k++)
            if (old.key[k]) {
                h = smap_slot(m, old.key[k]);
                m->key[h] = old.key[k];
                m->v[h] = old.v[k];
                m->n++;
            }
        free(old.key);
        free(old.v);
    }
    h = smap_slot(m, key);
    if (!m->key[h]) {
        m->key[h] = strdup(key);
        m->v[h] = 0;
        m->n++;
    }
    return &m->v[h];
}

static const double *smap_get(const smap *m, const char *key)
{
    size_t h;
    if (!m->cap)
        return NULL;
    h = smap_slot(m, key);
    return m->key[h] ? &m->v[h] : NULL;
}

static void smap_free(smap *m)
{
    for (size_t k = 0; k < m->cap; k++)
        free(m->key[k]);
    free(m->key);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static int var_find(sys *s, const char *key)
{
    if (!s->capi)
        return -1;
    for (size_t h = fnv(key) & (s->capi - 1);; h = (h + 1) & (s->capi - 1)) {
        if (s->idx[h] == 0)
            return -1;
        if (!strcmp(s->x[s->idx[h] - 1].key, key))
            return (int)(s->idx[h] - 1);
    }
}

static void reindex(sys *s)
{
    free(s->idx);
    s->capi = 1024;
    while (s->capi < 4 * s->nx)
        s->capi *= 2;
    s->idx = calloc(s->capi, sizeof *s->idx);
    for (size_t i = 0; i < s->nx; i++) {
        size_t h = fnv(s->x[i].key) & (s->capi - 1);
        while (s->idx[h])
            h = (h + 1) & (s->capi - 1);
        s->idx[h] = i + 1;
    }
}

static int var_new(sys *s, const char *key, int integer)
{
    int j = var_find(s, key);
    if (j >= 0)
        return j;
    if (s->nx == s->capx) {
        s->capx = s->capx ? 2 * s->capx : 4096;
        s->x = realloc(s->x, s->capx * sizeof *s->x);
    }
    memset(&s->x[s->nx], 0, sizeof *s->x);
    s->x[s->nx].lo = integer ? 0 : -BIG;
    s->x[s->nx].hi = BIG;
    s->x[s->nx].integer = integer;
    s->x[s->nx].pub = NAN;
    s->x[s->nx].key = strdup(key);
    s->nx++;
    if (4 * s->nx > 3 * s->capi)
        reindex(s);
    else {
        size_t h = fnv(key) & (s->capi - 1);
        while (s->idx[h])
            h = (h + 1) & (s->capi - 1);
        s->idx[h] = s->nx;
    }
    return (int)(s->nx - 1);
}

static cons *cons_new(sys *s, int kind, int n, const char *what)
{
    cons *c;
    if (s->ncons == s->capc) {
        s->capc = s->capc ? 2 * s->capc : 4096;
        s->c = realloc(s->c, s->capc * sizeof *s->c);
    }
    c = &s->c[s->ncons++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->n = n;
    c->v = calloc((size_t)n + 1, sizeof *c->v);
    c->a = calloc((size_t)n + 1, sizeof *c->a);
    snprintf(c->what, sizeof c->what, "%s", what);
    s->r->n_relations++;
    return c;
}

/* ---- reading ---------------------------------------------------------------- */

size_t sdc_csv_split(char *line, char **f, size_t max)
{
    return tu_csv_split(line, f, max); /* one RFC 4180 splitter for the tests (testutil.c) */
}

static int is_key_name(const char *h)
{
    static const char *const k[] = {"group", "subgroup", "level", "by", "key", "group_type",
                                    "group_code", "group_name", "measure", NULL};
    for (int i = 0; k[i]; i++)
        if (!strcmp(h, k[i]))
            return 1;
    return 0;
}

/* A printed number and its precision: "0.0711" -> 0.0711 +- 0.00005. */
static void parse_num(const char *s, cell *c)
{
    char *end;
    const char *dot;
    c->s = strdup(s);
    if (!*s) {
        c->kind = C_EMPTY;
        return;
    }
    if (!strcmp(s, "*")) {
        c->kind = C_HIDDEN;
        return;
    }
    c->v = strtod(s, &end);
    if (*end || end == s) {
        c->kind = C_TEXT;
        return;
    }
    c->kind = C_NUM;
    dot = strchr(s, '.');
    if (strchr(s, 'e') || strchr(s, 'E'))
        c->hw = fabs(c->v) * 5e-7;
    else
        c->hw = dot ? 0.5 * pow(10, -(double)strlen(dot + 1)) : 0.5;
}

static tab *tab_new(sys *s, const char *name, const char *src)
{
    tab *t;
    if (s->nt == s->capt) {
        s->capt = s->capt ? 2 * s->capt : 16;
        s->t = realloc(s->t, s->capt * sizeof *s->t);
    }
    t = &s->t[s->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->src, sizeof t->src, "%s", src);
    return t;
}

static char *slurp(const char *path)
{
    return tu_read_file(path, NULL);
}

static int load_csv(sys *s, const char *path, const char *name, const char *src)
{
    char *text = slurp(path), *save = NULL, *line, *f[MAXC];
    tab *t;
    size_t cap = 0;
    if (!text)
        return -1;
    t = tab_new(s, name, src);
    line = strtok_r(text, "\r\n", &save);
    if (!line) {
        free(text);
        return -1;
    }
    t->nc = sdc_csv_split(line, f, MAXC);
    for (size_t j = 0; j < t->nc; j++) {
        t->head[j] = strdup(f[j]);
        if (t->nkeys == (int)j && is_key_name(f[j]))
            t->nkeys++;
    }
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        size_t n = sdc_csv_split(line, f, MAXC);
        if (t->nr == cap) {
            cap = cap ? 2 * cap : 64;
            t->c = realloc(t->c, cap * t->nc * sizeof *t->c);
        }
        for (size_t j = 0; j < t->nc; j++) {
            cell *c = &t->c[t->nr * t->nc + j];
            memset(c, 0, sizeof *c);
            if ((int)j < t->nkeys) {
                c->kind = C_TEXT;
                c->s = strdup(j < n ? f[j] : "");
            } else {
                parse_num(j < n ? f[j] : "", c);
            }
        }
        t->nr++;
    }
    free(text);
    return 0;
}

/* aggregates.h5: a group per table, a dataset per column; NaN = not shown. */
static herr_t h5_group(hid_t g, const char *name, const H5L_info_t *info, void *ud)
{
    sys *s = ud;
    hid_t grp = H5Gopen2(g, name, H5P_DEFAULT);
    H5G_info_t gi;
    tab *t;
    (void)info;
    if (grp < 0)
        return 0;
    t = tab_new(s, name, "h5");
    H5Gget_info(grp, &gi);
    for (hsize_t k = 0; k < gi.nlinks && t->nc < MAXC; k++) {
        char col[256];
        hid_t d, ty, sp;
        hssize_t n;
        H5Lget_name_by_idx(grp, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, k, col, sizeof col,
                           H5P_DEFAULT);
        d = H5Dopen2(grp, col, H5P_DEFAULT);
        if (d < 0)
            continue;
        ty = H5Dget_type(d);
        sp = H5Dget_space(d);
        n = H5Sget_simple_extent_npoints(sp);
        if (t->nc == 0) {
            t->nr = (size_t)n;
            t->c = calloc((size_t)n * gi.nlinks + 1, sizeof *t->c);
        }
        t->head[t->nc] = strdup(col);
        if (H5Aexists(d, "name") > 0) { /* the exact column name (the link is encoded) */
            hid_t a = H5Aopen(d, "name", H5P_DEFAULT), at = H5Aget_type(a);
            char *vs = NULL, buf[256] = "";
            if (H5Tis_variable_str(at) > 0) {
                H5Aread(a, at, &vs);
                snprintf(buf, sizeof buf, "%s", vs ? vs : col);
                H5free_memory(vs);
            } else if (H5Tget_size(at) < sizeof buf) {
                H5Aread(a, at, buf);
            }
            if (*buf) {
                free(t->head[t->nc]);
                t->head[t->nc] = strdup(buf);
                snprintf(col, sizeof col, "%s", buf);
            }
            H5Tclose(at);
            H5Aclose(a);
        }
        if (H5Aexists(d, "kind") > 0) {
            char kind[16] = "", key[600];
            hid_t a = H5Aopen(d, "kind", H5P_DEFAULT), at = H5Aget_type(a);
            int q;
            if (H5Tis_variable_str(at) > 0) {
                char *vs = NULL;
                H5Aread(a, at, &vs);
                snprintf(kind, sizeof kind, "%s", vs ? vs : "");
                H5free_memory(vs);
            } else {
                H5Aread(a, at, kind);
                kind[sizeof kind - 1] = 0;
            }
            H5Tclose(at);
            H5Aclose(a);
            for (q = 0; q < s->n_kind_names && strcmp(s->kind_names[q], kind); q++)
                ;
            if (q == s->n_kind_names && q < 16)
                snprintf(s->kind_names[s->n_kind_names++], 16, "%s", kind);
            snprintf(key, sizeof key, "%s\x1f%s", name, col);
            if (q < 16)
                *smap_put(&s->kinds, key) = q;
        }
        if (H5Tget_class(ty) == H5T_STRING) {
            char **v = calloc((size_t)n + 1, sizeof *v);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5T_CSET_UTF8);
            H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            for (hssize_t i = 0; i < n && (size_t)i < t->nr; i++) {
                cell *c = &t->c[(size_t)i * gi.nlinks + t->nc];
                c->kind = C_TEXT;
                c->s = strdup(v[i] ? v[i] : "");
            }
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
            free(v);
            H5Tclose(mt);
            t->nkeys++;
        } else {
            double *v = calloc((size_t)n + 1, sizeof *v);
            H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
            for (hssize_t i = 0; i < n && (size_t)i < t->nr; i++) {
                cell *c = &t->c[(size_t)i * gi.nlinks + t->nc];
                c->kind = isnan(v[i]) ? C_EMPTY : C_NUM;
                c->v = v[i];
                c->hw = fabs(v[i]) * 1e-12;
            }
            free(v);
        }
        t->nc++;
        H5Sclose(sp);
        H5Tclose(ty);
        H5Dclose(d);
    }
    H5Gclose(grp);
    /* repack rows from stride nlinks to stride nc */
    for (size_t i = 0; i < t->nr; i++)
        memmove(&t->c[i * t->nc], &t->c[i * gi.nlinks], t->nc * sizeof *t->c);
    return 0;
}

static int load_h5(sys *s, const char *path)
{
    hid_t f;
    H5E_auto2_t fn;
    void *cd;
    H5Eget_auto2(H5E_DEFAULT, &fn, &cd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, cd);
    if (f < 0)
        return -1;
    H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, h5_group, s);
    H5Fclose(f);
    return 0;
}

/* ---- report.html: tables whose <th> carry data-col, and the count spans ------ */

static char *between(char *p, const char *open, const char *close, char **next)
{
    char *a = strstr(p, open), *b;
    if (!a)
        return NULL;
    a += strlen(open);
    b = strstr(a, close);
    if (!b)
        return NULL;
    *b = '\0';
    *next = b + strlen(close);
    return a;
}

/* The area code of a report key cell: "Wrekin PCN (U13205)" -> "U13205". */
static void key_code(const char *txt, char *out, size_t n)
{
    const char *o = strrchr(txt, '('), *c = o ? strchr(o, ')') : NULL;
    if (o && c && c > o + 1)
        snprintf(out, n, "%.*s", (int)(c - o - 1), o + 1);
    else
        snprintf(out, n, "%s", txt);
}

static void strip_tags(char *s)
{
    char *w = s;
    int in = 0;
    for (char *p = s; *p; p++) {
        if (*p == '<')
            in = 1;
        else if (*p == '>')
            in = 0;
        else if (!in)
            *w++ = *p;
    }
    *w = '\0';
}

static void load_html(sys *s, const char *path)
{
    char *text = slurp(path), *p;
    if (!text)
        return;
    p = text;
    for (;;) {
        char *tb = strstr(p, "<table"), *te, *row, *nx, *tname;
        tab *t;
        size_t cap = 0;
        if (!tb || !(te = strstr(tb, "</table>")))
            break;
        *te = '\0';
        p = te + 8;
        tname = strstr(tb, "data-table=\"");
        if (!tname || tname > strchr(tb, '>'))
            continue;
        tname += 12;
        *strchr(tname, '"') = '\0';
        t = tab_new(s, tname, "html");
        row = strchr(tname + strlen(tname) + 1, '>');
        /* header */
        for (char *q = row; (q = strstr(q, "data-col=\"")) && t->nc < MAXC;) {
            char *e;
            q += 10;
            e = strchr(q, '"');
            t->head[t->nc++] = strndup(q, (size_t)(e - q));
            if (t->nkeys == (int)t->nc - 1 && is_key_name(t->head[t->nc - 1]))
                t->nkeys++;
            q = e;
            if (strstr(q, "</tr>") && strstr(q, "</tr>") < strstr(q, "data-col=\"") + 0)
                break;
        }
        /* rows */
        row = strstr(row, "</tr>");
        while (row && (row = between(row, "<tr>", "</tr>", &nx))) {
            char *cellp = row, *td;
            size_t j = 0;
            if (t->nr == cap) {
                cap = cap ? 2 * cap : 64;
                t->c = realloc(t->c, cap * (t->nc ? t->nc : 1) * sizeof *t->c);
            }
            while (j < t->nc && (td = between(cellp, "<td", "</td>", &cellp))) {
                cell *c = &t->c[t->nr * t->nc + j];
                char *gt = strchr(td, '>');
                char code[256];
                memset(c, 0, sizeof *c);
                strip_tags(gt ? gt + 1 : td);
                if ((int)j < t->nkeys) {
                    key_code(gt ? gt + 1 : td, code, sizeof code);
                    c->kind = C_TEXT;
                    c->s = strdup(code);
                } else {
                    parse_num(gt ? gt + 1 : td, c);
                }
                j++;
            }
            for (; j < t->nc; j++) {
                memset(&t->c[t->nr * t->nc + j], 0, sizeof(cell));
                t->c[t->nr * t->nc + j].kind = C_EMPTY;
            }
            t->nr++;
            row = nx;
        }
    }
    free(text);
}

/* ---- variables from the primary CSVs ------------------------------------------- */

/* A column's kind as aggregates.h5 states it ("count", "total", "derived", ...). */
static const char *kind_of(const sys *s, const char *table, const char *col)
{
    char k[600];
    const double *v;
    snprintf(k, sizeof k, "%s\x1f%s", table, col);
    v = smap_get(&s->kinds, k);
    return v ? s->kind_names[(int)*v] : NULL;
}

static int is_count_name(const char *h);
static int is_sum_name(const char *h);

/* A count (people or events): the published file's own kind when it says, else the name. */
static int is_count_col(const sys *s, const char *table, const char *h)
{
    const char *k = kind_of(s, table, h);
    return k ? !strcmp(k, "count") : is_count_name(h);
}

static int is_sum_col(const sys *s, const char *table, const char *h)
{
    const char *k = kind_of(s, table, h);
    return k ? !strcmp(k, "total") || (!strcmp(k, "mean") && is_sum_name(h)) : is_sum_name(h);
}

static int is_count_name(const char *h)
{
    return !strcmp(h, "n") || !strcmp(h, "events") || !strncmp(h, "n_", 2);
}

/* expected events (sums like a count, not necessarily integer) */
static int is_sum_name(const char *h)
{
    return !strncmp(h, "expected", 8) || !strncmp(h, "need_weighted_pop", 17);
}

static const cell *tcell(const tab *t, size_t i, size_t j)
{
    return &t->c[i * t->nc + j];
}

static void row_key(const tab *t, size_t i, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int j = 0; j < t->nkeys; j++) {
        const cell *c = tcell(t, i, (size_t)j);
        int k = snprintf(out + len, n - len, "%s%s", j ? "|" : "", c->s ? c->s : "");
        len += k > 0 && (size_t)k < n - len ? (size_t)k : 0;
    }
}

static int col_of(const tab *t, const char *name)
{
    for (size_t j = 0; j < t->nc; j++)
        if (!strcmp(t->head[j], name))
            return (int)j;
    return -1;
}

static void make_key(char *buf, size_t n, const char *table, const char *row, const char *col)
{
    snprintf(buf, n, "%s\x1f%s\x1f%s", table, row, col);
}

static int vk(sys *s, const char *table, const char *row, const char *col)
{
    char k[1024];
    make_key(k, sizeof k, table, row, col);
    return var_find(s, k);
}

/* Integer band of a visible rounded count. */
static void count_band(const sdc_attack_opts *o, double v, double *lo, double *hi)
{
    double r = o->round_to > 1 ? o->round_to : 1;
    if (!o->enabled || r <= 1) {
        *lo = *hi = v;
        return;
    }
    if (v == 0) {
        *lo = 0;
        *hi = o->lo > 1 ? o->lo - 1 : 0;
        return;
    }
    *lo = ceil(v - r / 2);
    *hi = ceil(v + r / 2) - 1;
    if (*lo <= o->hi && *hi >= o->lo)
        *lo = o->hi + 1;
}

static void tighten(var *x, double lo, double hi)
{
    if (lo > x->lo)
        x->lo = lo;
    if (hi < x->hi)
        x->hi = hi;
}

static void vars_from_primary(sys *s, tab *t)
{
    char rk[512], key[1024];
    for (size_t i = 0; i < t->nr; i++) {
        row_key(t, i, rk, sizeof rk);
        for (size_t j = (size_t)t->nkeys; j < t->nc; j++) {
            const cell *c = tcell(t, i, j);
            int cnt = is_count_col(s, t->name, t->head[j]);
            var *x;
            int jx;
            make_key(key, sizeof key, t->name, rk, t->head[j]);
            jx = var_new(s, key, cnt);
            x = &s->x[jx];
            if (c->kind == C_HIDDEN) {
                x->hidden = 1;
                x->secret = cnt;
            } else if (c->kind == C_NUM) {
                x->pub = c->v;
                if (cnt) {
                    double lo, hi;
                    count_band(s->o, c->v, &lo, &hi);
                    tighten(x, lo, hi);
                    x->pub = c->v;
                    x->secret = c->v != 0 && s->o->enabled && s->o->round_to > 1;
                    if (s->o->enabled && ((c->v >= s->o->lo && c->v <= s->o->hi) ||
                                          (s->o->round_to > 1 &&
                                           fmod(c->v, s->o->round_to) != 0))) {
                        s->r->rule_breaks++;
                        finding(s, "%s.csv row %s column %s: count %g breaks the rules", t->name,
                                rk, t->head[j], c->v);
                    }
                } else if (is_sum_col(s, t->name, t->head[j]) && s->o->enabled && s->o->round_to > 1 &&
                           !strchr(c->s, '.')) {
                    tighten(x, c->v - s->o->round_to / 2, c->v + s->o->round_to / 2);
                } else {
                    tighten(x, c->v - c->hw, c->v + c->hw);
                }
            }
        }
    }
}

/* A twin's cell: the same quantity seen again, perhaps more precisely. */
static void observe_twin(sys *s, const tab *t, size_t i, size_t j, const char *table,
                         const char *rk)
{
    const cell *c = tcell(t, i, j);
    int v = vk(s, table, rk, t->head[j]);
    var *x;
    if (v < 0 || c->kind == C_TEXT || c->kind == C_EMPTY)
        return;
    x = &s->x[v];
    if (c->kind == C_HIDDEN)
        return;
    if (x->hidden) {
        s->r->twin_mismatch++;
        finding(s, "%s (%s) row %s column %s shows %s where the CSV withholds it", table, t->src,
                rk, t->head[j], c->s ? c->s : "a value");
        return;
    }
    if (x->integer && !isnan(x->pub) && fabs(c->v - x->pub) > 1e-9) {
        s->r->twin_mismatch++;
        finding(s, "%s (%s) row %s column %s shows %.17g, the CSV %g", table, t->src, rk,
                t->head[j], c->v, x->pub);
        return;
    }
    if (!x->integer && c->kind == C_NUM) {
        if (c->v + c->hw < x->lo - 1e-9 * fabs(x->lo) || c->v - c->hw > x->hi + 1e-9 * fabs(x->hi)) {
            s->r->twin_mismatch++;
            finding(s, "%s (%s) row %s column %s shows %.17g outside the CSV's [%g, %g]", table,
                    t->src, rk, t->head[j], c->v, x->lo, x->hi);
            return;
        }
        if (c->v == x->pub)
            return; /* the published value again, no finer */
        if (2 * c->hw < 0.999 * (x->hi - x->lo) && !is_sum_col(s, t->name, t->head[j])) {
            s->r->twin_mismatch++;
            finding(s, "%s (%s) row %s column %s is finer (%.17g) than the published %s", table,
                    t->src, rk, t->head[j], c->v, "CSV");
        }
        tighten(x, c->v - c->hw, c->v + c->hw);
    }
}

static void twins(sys *s, const tab *t)
{
    char rk[512];
    for (size_t i = 0; i < t->nr; i++) {
        row_key(t, i, rk, sizeof rk);
        for (size_t j = (size_t)t->nkeys; j < t->nc; j++)
            observe_twin(s, t, i, j, t->name, rk);
    }
}

/* aggregates_long.csv: group_type, group_code, group_name, measure, value,
 * lower, upper, suppressed; each row is a cell of some primary table. */
static void twins_long(sys *s, const tab *t, size_t nprimary)
{
    int jt = col_of(t, "group_type"), jc = col_of(t, "group_code"), jm = col_of(t, "measure"),
        jv = col_of(t, "value"), jl = col_of(t, "lower"), ju = col_of(t, "upper");
    if (jt < 0 || jc < 0 || jm < 0 || jv < 0)
        return;
    for (size_t i = 0; i < t->nr; i++) {
        const char *ty = tcell(t, i, (size_t)jt)->s, *code = tcell(t, i, (size_t)jc)->s,
                   *m = tcell(t, i, (size_t)jm)->s;
        for (size_t k = 0; k < nprimary; k++) {
            const tab *p = &s->t[k];
            char rk[512];
            snprintf(rk, sizeof rk, "%s", code);
            if (p->nkeys == 2)
                snprintf(rk, sizeof rk, "%s|%s", ty, code);
            if (vk(s, p->name, rk, m) < 0)
                continue;
            {
                tab one = *t;
                one.nkeys = 0;
                one.head[jv] = (char *)m;
                observe_twin(s, &one, i, (size_t)jv, p->name, rk);
            }
            if (jl >= 0 && ju >= 0 && tcell(t, i, (size_t)jl)->kind == C_NUM) {
                /* the interval's columns: oe_list -> oe_lo_list, sii -> sii_lo, c_statistic -> c_lo */
                const char *us = strchr(m, '_');
                char a[256], b[256];
                tab one = *t;
                one.nkeys = 0;
                if (us)
                    snprintf(a, sizeof a, "%.*s_lo%s", (int)(us - m), m, us);
                if (!us || vk(s, p->name, rk, a) < 0)
                    snprintf(a, sizeof a, "%s_lo", m);
                if (vk(s, p->name, rk, a) < 0 && us)
                    snprintf(a, sizeof a, "%.*s_lo", (int)(us - m), m);
                snprintf(b, sizeof b, "%s", a);
                memcpy(strstr(b, "_lo"), "_hi", 3);
                if (vk(s, p->name, rk, a) >= 0 && vk(s, p->name, rk, b) >= 0) {
                    one.head[jl] = a;
                    one.head[ju] = b;
                    observe_twin(s, &one, i, (size_t)jl, p->name, rk);
                    observe_twin(s, &one, i, (size_t)ju, p->name, rk);
                }
            }
            break;
        }
    }
}

/* ---- constraints ---------------------------------------------------------------- */

/* total = sum of members (all variables must exist). */
static void lin_sum(sys *s, int total, const int *m, int nm, const char *what)
{
    cons *c;
    if (total < 0 || nm < 1)
        return;
    for (int k = 0; k < nm; k++)
        if (m[k] < 0)
            return;
    c = cons_new(s, K_LIN, nm + 1, what);
    c->v[0] = total;
    c->a[0] = -1;
    for (int k = 0; k < nm; k++)
        c->v[k + 1] = m[k], c->a[k + 1] = 1;
}

/* A derived value that the published inputs reproduce (y = x / (k z) from the
 * printed x and z) may be post-processing of the published numbers: it adds
 * nothing, and assuming it was computed from the exact ones would be a false
 * hypothesis. Otherwise it was computed from something unpublished. */
static int reproducible(const sys *s, int x, double k, int y, int z)
{
    const var *X = &s->x[x], *Y = &s->x[y], *Z = &s->x[z];
    double d;
    if (isnan(X->pub) || isnan(Z->pub) || X->hidden || Z->hidden || Y->hidden || !(Z->pub > 0))
        return 0;
    d = X->pub / (k * Z->pub);
    return d >= Y->lo - 1e-12 * fabs(d) && d <= Y->hi + 1e-12 * fabs(d);
}

static void mul(sys *s, int x, double k, int y, int z, const char *what)
{
    cons *c;
    if (x < 0 || y < 0 || z < 0 || reproducible(s, x, k, y, z))
        return;
    c = cons_new(s, K_MUL, 3, what);
    c->v[0] = x;
    c->v[1] = y;
    c->v[2] = z;
    c->k = k;
}

static int has_factor(const sdc_attack_opts *o, const char *f)
{
    for (size_t k = 0; k < o->n_factors; k++)
        if (!strcmp(o->factors[k], f))
            return 1;
    return 0;
}

/* The factor whose levels a table's rows are, by table name. */
static const char *row_factor(const char *table)
{
    return !strcmp(table, "pcn_summary") || !strcmp(table, "inequality") ? "pcn"
           : !strcmp(table, "practice_summary")                        ? "practice"
           : !strcmp(table, "icb_summary")                             ? "icb"
                                                                       : "";
}

static int within(const var *v, double d)
{
    return d >= v->lo - 1e-9 * fabs(d) && d <= v->hi + 1e-9 * fabs(d);
}

/* The exact Poisson CI of O/E recomputed from the published O and E. */
static int pois_reproducible(const sys *s, int o, int e, int lo, int hi)
{
    const var *O = &s->x[o], *E = &s->x[e];
    double r, l, h;
    if (O->hidden || E->hidden || isnan(O->pub) || isnan(E->pub) || !(E->pub > 0) ||
        strata_oe_ci(NULL, O->pub, E->pub, 0.95, &r, &l, &h) != STRATA_OK)
        return 0;
    return within(&s->x[lo], l) && within(&s->x[hi], h);
}

/* The log-scale O/E CI recomputed from the published O, E (when published)
 * or O/E, and n. */
static int logci_reproducible(const sys *s, int o, int n, int lo, int hi, int oe, int e)
{
    const var *O = &s->x[o], *N = &s->x[n], *R = &s->x[oe];
    double r, l, h;
    if (O->hidden || N->hidden || R->hidden || isnan(O->pub) || isnan(N->pub) || !(O->pub > 0))
        return 0;
    r = e >= 0 && !s->x[e].hidden && s->x[e].pub > 0 ? O->pub / s->x[e].pub : R->pub;
    strata_oe_log_ci(r, O->pub, !strcmp(s->family, "poisson") ? 0.0 : N->pub, 0.95, &l, &h);
    return within(&s->x[lo], l) && within(&s->x[hi], h);
}

/* Relations inside one group table (rows = areas + ALL). */
static void group_table(sys *s, const tab *t)
{
    size_t all = t->nr;
    char rk[512], what[160];
    int *m = calloc(t->nr + MAXC, sizeof *m);
    for (size_t i = 0; i < t->nr; i++)
        if (!strcmp(tcell(t, i, 0)->s, "ALL"))
            all = i;
    if (all == t->nr) {
        free(m);
        return;
    }
    /* ALL minus visible rows: each count or sum column */
    for (size_t j = 1; j < t->nc; j++) {
        int nm = 0;
        if (!is_count_col(s, t->name, t->head[j]) && !is_sum_col(s, t->name, t->head[j]))
            continue;
        for (size_t i = 0; i < t->nr; i++)
            if (i != all)
                m[nm++] = vk(s, t->name, tcell(t, i, 0)->s, t->head[j]);
        snprintf(what, sizeof what, "%s: column %s sums to ALL", t->name, t->head[j]);
        lin_sum(s, vk(s, t->name, "ALL", t->head[j]), m, nm, what);
    }
    for (size_t i = 0; i < t->nr; i++) {
        const char *g = tcell(t, i, 0)->s;
        int nl = vk(s, t->name, g, "n_list");
        static const char *const parts[][2] = {{"n_F_", "n_M_"}, {"n_tier", "n_unscored"},
                                               {"n_seg_", NULL}};
        snprintf(rk, sizeof rk, "%s", g);
        for (int p = 0; p < 3; p++) {
            int nm = 0;
            for (size_t j = 1; j < t->nc; j++)
                if (!strncmp(t->head[j], parts[p][0], strlen(parts[p][0])) ||
                    (parts[p][1] && !strncmp(t->head[j], parts[p][1], strlen(parts[p][1]))) ||
                    (p == 0 && !strcmp(t->head[j], "n_agesex_unknown")))
                    m[nm++] = vk(s, t->name, g, t->head[j]);
            snprintf(what, sizeof what, "%s %s: %s* add up to the list", t->name, g, parts[p][0]);
            if (nm)
                lin_sum(s, nl, m, nm, what);
        }
        m[0] = vk(s, t->name, g, "n_tier1");
        m[1] = vk(s, t->name, g, "n_tier2");
        if (is_count_col(s, t->name, "n_high_risk")) /* a published sum adds nothing */
            lin_sum(s, vk(s, t->name, g, "n_high_risk"), m, 2, "n_high_risk = tiers 1-2");
        /* blocks n<sfx>, mean_risk<sfx>, expected<sfx>, n_observed<sfx>, oe<sfx> + CI */
        for (size_t j = 1; j < t->nc; j++) {
            const char *h = t->head[j], *sfx;
            int n, e, o, mr, oe, lo, hi;
            if (strncmp(h, "expected", 8) != 0)
                continue;
            sfx = h + 8;
            {
                char nm_[256];
                snprintf(nm_, sizeof nm_, "n%s", sfx);
                n = vk(s, t->name, g, nm_);
                snprintf(nm_, sizeof nm_, "mean_risk%s", sfx);
                mr = vk(s, t->name, g, nm_);
                snprintf(nm_, sizeof nm_, "n_observed%s", sfx);
                o = vk(s, t->name, g, nm_);
                snprintf(nm_, sizeof nm_, "oe%s", sfx);
                oe = vk(s, t->name, g, nm_);
                snprintf(nm_, sizeof nm_, "oe_lo%s", sfx);
                lo = vk(s, t->name, g, nm_);
                snprintf(nm_, sizeof nm_, "oe_hi%s", sfx);
                hi = vk(s, t->name, g, nm_);
            }
            e = (int)vk(s, t->name, g, h);
            snprintf(what, sizeof what, "%s %s: expected%s = mean risk x n", t->name, g, sfx);
            mul(s, e, 1, mr, n, what);
            snprintf(what, sizeof what, "%s %s: O%s = (O/E) x E", t->name, g, sfx);
            mul(s, o, 1, oe, e, what);
            if (o >= 0 && e >= 0 && lo >= 0 && hi >= 0 && !pois_reproducible(s, o, e, lo, hi)) {
                cons *c;
                snprintf(what, sizeof what, "%s %s: exact Poisson CI%s inverted", t->name, g, sfx);
                c = cons_new(s, K_POIS, 4, what);
                c->v[0] = o, c->v[1] = e, c->v[2] = lo, c->v[3] = hi;
            }
            /* expected = observed within a model factor's level (canonical link) */
            if (s->o->canonical && o >= 0 && e >= 0) {
                int row_ok = i == all || has_factor(s->o, row_factor(t->name));
                int col_ok = !strcmp(sfx, "_list") ||
                             (!strncmp(sfx, "_eth_", 5) && has_factor(s->o, "ethnicity"));
                if (row_ok && (i == all ? 1 : !strcmp(sfx, "_list")) && col_ok) {
                    int one[1] = {o};
                    snprintf(what, sizeof what, "%s %s: E%s = O (model factor)", t->name, g, sfx);
                    lin_sum(s, e, one, 1, what);
                }
            }
        }
        /* percentages of the list */
        for (size_t j = 1; j < t->nc; j++) {
            const char *h = t->head[j];
            char num[256];
            if (strncmp(h, "pct_", 4) != 0)
                continue;
            snprintf(num, sizeof num, "n_%s", h + 4);
            snprintf(what, sizeof what, "%s %s: %s", t->name, g, h);
            if (!strcmp(h, "pct_high_risk_core20"))
                mul(s, vk(s, t->name, g, "n_high_risk_core20"), 0.01, vk(s, t->name, g, h),
                    vk(s, t->name, g, "n_high_risk"), what);
            else
                mul(s, vk(s, t->name, g, num), 0.01, vk(s, t->name, g, h), nl, what);
        }
        /* need: nwp = need_index x n; fair share = budget x nwp / N */
        snprintf(what, sizeof what, "%s %s: need_weighted_pop = need_index x n", t->name, g);
        mul(s, vk(s, t->name, g, "need_weighted_pop"), 1, vk(s, t->name, g, "need_index"), nl,
            what);
    }
    /* inequality: partitions by IMD quintile and ethnicity, for n, O and E */
    for (size_t i = 0; i < t->nr; i++) {
        const char *g = tcell(t, i, 0)->s;
        static const char *const base[3] = {"n", "n_observed", "expected"};
        static const char *const fam[2] = {"_imdq", "_eth_"};
        for (int b = 0; b < 3; b++)
            for (int f = 0; f < 2; f++) {
                char pre[64], tot[64];
                int nm = 0;
                snprintf(pre, sizeof pre, "%s%s", base[b], fam[f]);
                snprintf(tot, sizeof tot, "%s_list", base[b]);
                for (size_t j = 1; j < t->nc; j++)
                    if (!strncmp(t->head[j], pre, strlen(pre)))
                        m[nm++] = vk(s, t->name, g, t->head[j]);
                snprintf(what, sizeof what, "%s %s: %s* add up", t->name, g, pre);
                if (nm)
                    lin_sum(s, vk(s, t->name, g, tot), m, nm, what);
            }
    }
    free(m);
}

/* The same cell in two tables: x = y. */
static void same(sys *s, int x, int y, const char *what)
{
    int one[1] = {y};
    if (x >= 0 && y >= 0 && x != y)
        lin_sum(s, x, one, 1, what);
}

/* Child rows that add up to each parent row, for every count or sum column
 * of the parent: practices into PCNs, PCNs into ICBs (the public map). */
static void add_up(sys *s, const tab *child, const tab *parent, const smap *map, int *mm)
{
    smap row = {0};
    size_t *cnt = calloc(parent->nr + 1, sizeof *cnt), *start = calloc(parent->nr + 2, sizeof *start);
    size_t *members = calloc(child->nr + 1, sizeof *members);
    int ambiguous = 0;
    for (size_t i = 0; i < parent->nr; i++)
        *smap_put(&row, tcell(parent, i, 0)->s) = (double)i;
    for (size_t q = 0; q < child->nr; q++) {
        const double *pc = smap_get(map, tcell(child, q, 0)->s);
        const double *pr = pc && *pc >= 0 ? smap_get(&row, map->key[(size_t)*pc]) : NULL;
        if (pr)
            cnt[(size_t)*pr]++;
        else if (pc && *pc < 0)
            ambiguous = 1; /* its parent is unknown: no parent's sum can be trusted */
    }
    for (size_t i = 0; i < parent->nr; i++)
        start[i + 1] = start[i] + cnt[i];
    memset(cnt, 0, (parent->nr + 1) * sizeof *cnt);
    for (size_t q = 0; q < child->nr; q++) {
        const double *pc = smap_get(map, tcell(child, q, 0)->s);
        const double *pr = pc && *pc >= 0 ? smap_get(&row, map->key[(size_t)*pc]) : NULL;
        if (pr)
            members[start[(size_t)*pr] + cnt[(size_t)*pr]++] = q;
    }
    for (size_t j = 1; j < parent->nc && !ambiguous; j++) {
        if (!is_count_col(s, parent->name, parent->head[j]) && !is_sum_col(s, parent->name, parent->head[j]))
            continue;
        for (size_t i = 0; i < parent->nr; i++) {
            int nm = 0;
            char what[200];
            if (start[i + 1] == start[i] || !strcmp(tcell(parent, i, 0)->s, "ALL"))
                continue;
            for (size_t k = start[i]; k < start[i + 1]; k++)
                mm[nm++] = vk(s, child->name, tcell(child, members[k], 0)->s, parent->head[j]);
            snprintf(what, sizeof what, "%s rows add up to %s", child->name, parent->name);
            lin_sum(s, vk(s, parent->name, tcell(parent, i, 0)->s, parent->head[j]), mm, nm, what);
        }
    }
    smap_free(&row);
    free(cnt);
    free(start);
    free(members);
}

/* The public map practice -> PCN -> ICB: map[code] = slot of its parent code. */
static void levels(sys *s, const tab *prac, const tab *pcn, const tab *icb)
{
    char *text = slurp(s->o->practices_csv), *save = NULL, *line, *f[64];
    smap up = {0}, up2 = {0};
    int *mm = calloc(prac->nr + pcn->nr + 1, sizeof *mm);
    if (!text) {
        free(mm);
        return;
    }
    strtok_r(text, "\r\n", &save);
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        if (sdc_csv_split(line, f, 64) < 4)
            continue;
        smap_put(&up, f[1]);
        smap_put(&up2, f[3]);
        *smap_put(&up, f[0]) = (double)smap_slot(&up, f[1]);
        *smap_put(&up2, f[1]) = (double)smap_slot(&up2, f[3]);
    }
    free(text);
    /* the slots stored may have moved when a map grew: store codes again */
    text = slurp(s->o->practices_csv);
    save = NULL;
    strtok_r(text, "\r\n", &save);
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        double *v, icb_slot;
        if (sdc_csv_split(line, f, 64) < 4)
            continue;
        *smap_put(&up, f[0]) = (double)smap_slot(&up, f[1]);
        icb_slot = (double)smap_slot(&up2, f[3]);
        v = smap_put(&up2, f[1]);
        /* a PCN code in two ICBs ("U", unallocated practices) is no ICB's member */
        *v = *v != 0 && *v != icb_slot ? -1 : icb_slot;
    }
    free(text);
    add_up(s, prac, pcn, &up, mm);
    if (icb)
        add_up(s, pcn, icb, &up2, mm);
    smap_free(&up);
    smap_free(&up2);
    free(mm);
}

static void cross_tables(sys *s, size_t nprimary)
{
    const tab *pcn = NULL, *ineq = NULL, *fair = NULL, *icb = NULL, *prac = NULL;
    for (size_t k = 0; k < nprimary; k++) {
        const tab *t = &s->t[k];
        if (!strcmp(t->name, "pcn_summary"))
            pcn = t;
        else if (!strcmp(t->name, "inequality"))
            ineq = t;
        else if (!strcmp(t->name, "fairness"))
            fair = t;
        else if (!strcmp(t->name, "icb_summary"))
            icb = t;
        else if (!strcmp(t->name, "practice_summary"))
            prac = t;
    }
    /* the same PCN row in the summary and the inequality table */
    if (pcn && ineq)
        for (size_t i = 0; i < pcn->nr; i++) {
            const char *g = tcell(pcn, i, 0)->s;
            for (size_t j = 1; j < pcn->nc; j++)
                if (is_count_col(s, "pcn_summary", pcn->head[j]) || is_sum_col(s, "pcn_summary", pcn->head[j]))
                    same(s, vk(s, "pcn_summary", g, pcn->head[j]), vk(s, "inequality", g, pcn->head[j]),
                         "pcn_summary = inequality");
            same(s, vk(s, "pcn_summary", g, "n_core20"), vk(s, "inequality", g, "n_imdq1"),
                 "Core20 = IMD quintile 1");
        }
    /* the Core20PLUS5 table repeats the summary's list and Core20 counts */
    if (pcn)
        for (size_t i = 0; i < pcn->nr; i++) {
            const char *g = tcell(pcn, i, 0)->s;
            same(s, vk(s, "pcn_summary", g, "n_list"), vk(s, "core20plus5", g, "n_list"),
                 "core20plus5 = pcn_summary");
            same(s, vk(s, "pcn_summary", g, "n_core20"), vk(s, "core20plus5", g, "n_core20"),
                 "core20plus5 = pcn_summary");
        }
    /* ALL rows of every level are the same people */
    if (pcn)
        for (size_t j = 1; j < pcn->nc; j++) {
            if (!is_count_col(s, "pcn_summary", pcn->head[j]) && !is_sum_col(s, "pcn_summary", pcn->head[j]))
                continue;
            same(s, vk(s, "pcn_summary", "ALL", pcn->head[j]),
                 vk(s, "practice_summary", "ALL", pcn->head[j]), "ALL rows");
            same(s, vk(s, "pcn_summary", "ALL", pcn->head[j]),
                 vk(s, "icb_summary", "ALL", pcn->head[j]), "ALL rows");
        }
    /* fairness rows: subgroup levels vs the summary tables */
    if (fair) {
        char k[300];
        const char *ev = !strcmp(s->family, "binomial") ? "n_observed" : NULL;
        same(s, vk(s, "fairness", "all|all", "n"), vk(s, "pcn_summary", "ALL", "n_list"),
             "fairness all = list");
        if (ev)
            same(s, vk(s, "fairness", "all|all", "events"),
                 vk(s, "pcn_summary", "ALL", "n_observed_list"), "fairness all events");
        for (size_t i = 0; i < fair->nr; i++) {
            const char *by = tcell(fair, i, 0)->s, *lev = tcell(fair, i, 1)->s;
            char rk[700], col[400];
            int n = -1, o = -1;
            snprintf(rk, sizeof rk, "%s|%s", by, lev);
            if (!strcmp(by, "pcn") || !strcmp(by, "practice") || !strcmp(by, "icb")) {
                const char *tn = !strcmp(by, "pcn") ? "pcn_summary"
                                 : !strcmp(by, "icb") ? "icb_summary" : "practice_summary";
                n = vk(s, tn, lev, "n_list");
                o = vk(s, tn, lev, "n_observed_list");
            } else if (!strcmp(by, "imd_quintile") || !strcmp(by, "ethnicity")) {
                if (!strcmp(by, "imd_quintile"))
                    snprintf(k, sizeof k, "_imdq%c", lev[0]);
                else
                    snprintf(k, sizeof k, "_eth_%s", !strcmp(lev, "NA") ? "unknown" : lev);
                snprintf(col, sizeof col, "n%s", k);
                n = vk(s, "inequality", "ALL", col);
                snprintf(col, sizeof col, "n_observed%s", k);
                o = vk(s, "inequality", "ALL", col);
            } else if (!strcmp(by, "sex") || !strcmp(by, "age_band")) {
                /* sums of the ALL row's age-sex cells */
                static const char *const band[6] = {"0_17", "18_39", "40_64", "65_74", "75_84", "85plus"};
                static const char *const lab[6] = {"0-17", "18-39", "40-64", "65-74", "75-84", "85+"};
                int mm[6], nm = 0;
                for (int b = 0; b < 6; b++) {
                    if (!strcmp(by, "sex") && (!strcmp(lev, "F") || !strcmp(lev, "M"))) {
                        snprintf(col, sizeof col, "n_%s_%s", lev, band[b]);
                        mm[nm++] = vk(s, "pcn_summary", "ALL", col);
                    } else if (!strcmp(by, "age_band") && !strcmp(lev, lab[b])) {
                        snprintf(col, sizeof col, "n_F_%s", band[b]);
                        mm[nm++] = vk(s, "pcn_summary", "ALL", col);
                        snprintf(col, sizeof col, "n_M_%s", band[b]);
                        mm[nm++] = vk(s, "pcn_summary", "ALL", col);
                    }
                }
                if (nm)
                    lin_sum(s, vk(s, "fairness", rk, "n"), mm, nm, "fairness sex/age = age-sex cells");
            }
            same(s, vk(s, "fairness", rk, "n"), n, "fairness level = table cell");
            if (ev)
                same(s, vk(s, "fairness", rk, "events"), o, "fairness events = table cell");
        }
        /* each by-variable's levels add up to everyone */
        for (size_t i = 0; i < fair->nr; i++) {
            const char *by = tcell(fair, i, 0)->s;
            int mm[4096], mo[4096], nm = 0;
            if (!strcmp(by, "all") || (i > 0 && !strcmp(by, tcell(fair, i - 1, 0)->s)))
                continue;
            for (size_t q = i; q < fair->nr && !strcmp(tcell(fair, q, 0)->s, by) && nm < 4096; q++) {
                char rk[512];
                snprintf(rk, sizeof rk, "%s|%s", by, tcell(fair, q, 1)->s);
                mm[nm] = vk(s, "fairness", rk, "n");
                mo[nm++] = vk(s, "fairness", rk, "events");
            }
            lin_sum(s, vk(s, "fairness", "all|all", "n"), mm, nm, "fairness levels add up");
            lin_sum(s, vk(s, "fairness", "all|all", "events"), mo, nm, "fairness events add up");
        }
        /* O/E CI of the evaluation: log scale, s^2 = 1/O - 1/n (binomial), 1/O (poisson) */
        for (size_t i = 0; i < fair->nr; i++) {
            char rk[512];
            int o, n, lo, hi, oe;
            cons *c;
            snprintf(rk, sizeof rk, "%s|%s", tcell(fair, i, 0)->s, tcell(fair, i, 1)->s);
            o = vk(s, "fairness", rk, "events");
            n = vk(s, "fairness", rk, "n");
            lo = vk(s, "fairness", rk, "oe_lo");
            hi = vk(s, "fairness", rk, "oe_hi");
            oe = vk(s, "fairness", rk, "oe");
            if (o < 0 || n < 0 || lo < 0 || hi < 0 || oe < 0 ||
                logci_reproducible(s, o, n, lo, hi, oe, vk(s, "fairness", rk, "expected")))
                continue;
            c = cons_new(s, K_LOGCI, 5, "fairness: O/E CI width inverted (s^2 = 1/O - 1/n)");
            c->v[0] = o, c->v[1] = n, c->v[2] = lo, c->v[3] = hi, c->v[4] = oe;
            c->k = !strcmp(s->family, "poisson") ? 0 : 1;
        }
    }
    /* practices -> PCNs -> ICB (public reference map) */
    if (s->o->practices_csv && prac && pcn)
        levels(s, prac, pcn, icb);
    /* percentile tiers: sizes follow from N (whole cohort: the ALL row) */
    if (pcn && s->o->n_tier_cuts) {
        for (size_t i = 0; i < pcn->nr; i++) {
            const char *g = tcell(pcn, i, 0)->s;
            int N;
            double F = 0;
            if (strcmp(g, "ALL") != 0 && !s->o->tiers_within_pcn)
                continue;
            N = vk(s, "pcn_summary", g, "n_list");
            if (vk(s, "pcn_summary", g, "n_unscored") >= 0) {
                char k[600];
                int sc, u[1];
                snprintf(k, sizeof k, "scored\x1f%s", g);
                sc = var_new(s, k, 1);
                u[0] = vk(s, "pcn_summary", g, "n_unscored");
                {
                    int mm[2] = {sc, u[0]};
                    lin_sum(s, N, mm, 2, "scored + unscored = list");
                }
                N = sc;
            }
            for (size_t k = 0; k <= s->o->n_tier_cuts; k++) {
                char col[32];
                int t;
                cons *c;
                snprintf(col, sizeof col, "n_tier%zu", k + 1);
                t = vk(s, "pcn_summary", g, col);
                if (t < 0 || N < 0)
                    break;
                /* the top tiers' sizes follow from N alone; the last one is N minus them */
                s->x[t].structural = k < s->o->n_tier_cuts;
                c = cons_new(s, K_TIER, 2, "percentile tier sizes from N");
                c->v[0] = t;
                c->v[1] = N;
                c->k2 = F;
                F = k < s->o->n_tier_cuts ? F + s->o->tier_cut[k] : 1.0;
                c->k = F;
            }
        }
    }
}

/* ---- propagation ------------------------------------------------------------------ */

static int set_bounds(sys *s, int j, double lo, double hi, cons *why)
{
    var *x = &s->x[j];
    int changed = 0;
    if (x->integer) {
        lo = ceil(lo - 1e-7);
        hi = floor(hi + 1e-7);
    }
    if (lo > x->lo + 1e-9 * fmax(1, fabs(x->lo)))
        x->lo = lo, changed = 1;
    if (hi < x->hi - 1e-9 * fmax(1, fabs(x->hi)))
        x->hi = hi, changed = 1;
    if (changed)
        x->stamp = ++s->clock;
    if (changed && getenv("SDC_ATTACK_TRACE") && strstr(x->key, getenv("SDC_ATTACK_TRACE")))
        fprintf(stderr, "trace %s -> [%g, %g] by %s\n", x->key, x->lo, x->hi, why->what);
    if (x->lo > x->hi + 1e-9 * fmax(1, fabs(x->hi))) {
        /* the hypothesis is refuted by the outputs: drop it */
        why->dead = 1;
        return -1;
    }
    return changed;
}

/* sum a_k x_k = 0: each term lies within minus the others' bounds. The
 * bounds of the sum are formed once (infinite ends counted apart). */
static int prop_lin(sys *s, cons *c)
{
    double lo = 0, hi = 0;
    int nlo = 0, nhi = 0, ch = 0;
    for (int k = 0; k < c->n; k++) {
        const var *y = &s->x[c->v[k]];
        double a = c->a[k], l = a > 0 ? a * y->lo : a * y->hi, h = a > 0 ? a * y->hi : a * y->lo;
        if (fabs(l) >= BIG / 2)
            nlo++;
        else
            lo += l;
        if (fabs(h) >= BIG / 2)
            nhi++;
        else
            hi += h;
    }
    for (int i = 0; i < c->n; i++) {
        const var *y = &s->x[c->v[i]];
        double a = c->a[i], l = a > 0 ? a * y->lo : a * y->hi, h = a > 0 ? a * y->hi : a * y->lo;
        int il = fabs(l) >= BIG / 2, ih = fabs(h) >= BIG / 2;
        /* a_i x_i = -(others): in [-(hi - h_i), -(lo - l_i)] */
        double olo = nlo - il ? NAN : lo - (il ? 0 : l), ohi = nhi - ih ? NAN : hi - (ih ? 0 : h);
        double blo = isnan(ohi) ? -BIG : -ohi / a, bhi = isnan(olo) ? BIG : -olo / a;
        int r;
        if (a < 0) {
            double t = blo;
            blo = isnan(olo) ? -BIG : -olo / a;
            bhi = isnan(ohi) ? BIG : -ohi / a;
            (void)t;
        }
        if (blo <= -BIG / 2 && bhi >= BIG / 2)
            continue;
        if ((r = set_bounds(s, c->v[i], blo, bhi, c)) < 0)
            return -1;
        ch |= r;
    }
    return ch;
}

static int prop_mul(sys *s, cons *c)
{
    var *x = &s->x[c->v[0]], *y = &s->x[c->v[1]], *z = &s->x[c->v[2]];
    int r = 0, ch = 0;
    if (y->lo < 0 || z->lo < 0)
        return 0;
    if (y->hi < BIG / 2 && z->hi < BIG / 2) {
        if ((r = set_bounds(s, c->v[0], c->k * y->lo * z->lo, c->k * y->hi * z->hi, c)) < 0)
            return -1;
        ch |= r;
    }
    if (x->hi < BIG / 2 && x->lo >= 0) {
        if (z->lo > 0 && (r = set_bounds(s, c->v[1], x->lo / (c->k * z->hi), x->hi / (c->k * z->lo), c)) < 0)
            return -1;
        ch |= z->lo > 0 ? r : 0;
        if (y->lo > 0 && (r = set_bounds(s, c->v[2], x->lo / (c->k * y->hi), x->hi / (c->k * y->lo), c)) < 0)
            return -1;
        ch |= y->lo > 0 ? r : 0;
    }
    return ch;
}

/* The end of a candidate search: the first two variables narrowed to what
 * fitted, or the hypothesis refuted when nothing did (-1). */
static int narrow2(sys *s, cons *c, int found, double a_lo, double a_hi, double b_lo, double b_hi)
{
    int r1, r2;
    if (!found) {
        c->dead = 1;
        return -1;
    }
    if ((r1 = set_bounds(s, c->v[0], a_lo, a_hi, c)) < 0)
        return -1;
    r2 = set_bounds(s, c->v[1], b_lo, b_hi, c);
    return r2 < 0 ? -1 : (r1 | r2);
}

/* Exact Poisson CI of O/E: for each O still possible, the E that print the
 * published limits; keeps the O (and E) that fit. */
static int prop_pois(sys *s, cons *c)
{
    var *o = &s->x[c->v[0]], *e = &s->x[c->v[1]], *lo = &s->x[c->v[2]], *hi = &s->x[c->v[3]];
    double omin = BIG, omax = -1, emin = BIG, emax = -BIG;
    double a = 0.025;
    if (o->hi - o->lo > 2000 || lo->hi >= BIG / 2 || hi->hi >= BIG / 2 || !(hi->lo > 0))
        return 0;
    for (double O = o->lo; O <= o->hi; O++) {
        double ql = O > 0 ? strata_qgamma(a, O) : 0, qh = strata_qgamma(1 - a, O + 1);
        double el = e->lo, eh = e->hi;
        if (lo->hi > 0 && ql > 0) {
            el = fmax(el, ql / lo->hi);
            if (lo->lo > 0)
                eh = fmin(eh, ql / lo->lo);
        } else if (ql > 0 && !(lo->hi > 0)) {
            continue;
        }
        el = fmax(el, qh / hi->hi);
        eh = fmin(eh, qh / hi->lo);
        if (el <= eh * (1 + 1e-12)) {
            omin = fmin(omin, O), omax = fmax(omax, O);
            emin = fmin(emin, el), emax = fmax(emax, eh);
        }
    }
    return narrow2(s, c, omax >= 0, omin, omax, emin, emax);
}

/* Log-scale O/E CI of the evaluation: ln(hi/lo) = 2 z s, s^2 = 1/O - 1/n. */
static int prop_logci(sys *s, cons *c)
{
    var *o = &s->x[c->v[0]], *n = &s->x[c->v[1]], *lo = &s->x[c->v[2]], *hi = &s->x[c->v[3]];
    double z = strata_qnorm(0.975), s2lo, s2hi, omin = BIG, omax = -1, nmin = BIG, nmax = -1;
    double Olo = fmax(1, o->lo), Ohi;
    if (!(lo->lo > 0) || hi->hi >= BIG / 2)
        return 0;
    s2lo = pow(log(hi->lo / lo->hi) / (2 * z), 2);
    s2hi = pow(log(hi->hi / lo->lo) / (2 * z), 2);
    if (!(s2lo > 0))
        return 0;
    Ohi = fmin(o->hi, 1.0 / s2lo + 1);
    if (Ohi - Olo > 200000)
        return 0;
    for (double O = Olo; O <= Ohi; O++) {
        double nl, nh;
        if (c->k == 0) { /* poisson: s^2 = 1/O */
            if (1 / O < s2lo - 1e-15 || 1 / O > s2hi + 1e-15)
                continue;
            nl = n->lo, nh = n->hi;
        } else {
            double inv_lo = 1 / O - s2hi, inv_hi = 1 / O - s2lo; /* 1/n */
            if (inv_hi <= 0)
                continue;
            nl = inv_hi > 0 ? 1 / inv_hi : BIG;
            nh = inv_lo > 0 ? 1 / inv_lo : BIG;
            nl = fmax(nl, fmax(n->lo, O));
            nh = fmin(nh, n->hi);
            if (ceil(nl - 1e-9) > floor(nh + 1e-9))
                continue;
        }
        omin = fmin(omin, O), omax = fmax(omax, O);
        nmin = fmin(nmin, nl), nmax = fmax(nmax, nh);
    }
    return narrow2(s, c, omax >= 0, omin, omax, nmin, nmax);
}

static double round_half_up(double x)
{
    return floor(x + 0.5);
}

/* Tier k holds round(N F_k) - round(N F_{k-1}) of N (docs/stratify.md#2). */
static int prop_tier(sys *s, cons *c)
{
    var *t = &s->x[c->v[0]], *N = &s->x[c->v[1]];
    double tmin = BIG, tmax = -1, nmin = BIG, nmax = -1;
    if (N->hi - N->lo > 100000)
        return 0;
    for (double n = N->lo; n <= N->hi; n++) {
        double v = (c->k >= 1 ? n : round_half_up(n * c->k)) - round_half_up(n * c->k2);
        if (v < t->lo || v > t->hi)
            continue;
        tmin = fmin(tmin, v), tmax = fmax(tmax, v);
        nmin = fmin(nmin, n), nmax = fmax(nmax, n);
    }
    return narrow2(s, c, tmax >= 0, tmin, tmax, nmin, nmax);
}

/* Runs every live constraint to a fixed point. A constraint refuted by the
 * outputs is a wrong hypothesis: the bounds are restored and it is dropped. */
static void propagate(sys *s)
{
    double *save_lo = malloc(s->nx * sizeof *save_lo), *save_hi = malloc(s->nx * sizeof *save_hi);
    for (int round = 0; round < 200; round++) {
        int any = 0;
        for (size_t k = 0; k < s->ncons; k++) {
            cons *c = &s->c[k];
            int r = 0, stale = round == 0;
            if (c->dead)
                continue;
            for (int q = 0; q < c->n && !stale; q++)
                stale = s->x[c->v[q]].stamp > c->ran;
            if (!stale)
                continue;
            c->ran = s->clock;
            for (int q = 0; q < c->n; q++)
                save_lo[c->v[q]] = s->x[c->v[q]].lo, save_hi[c->v[q]] = s->x[c->v[q]].hi;
            switch (c->kind) {
            case K_LIN: r = prop_lin(s, c); break;
            case K_MUL: r = prop_mul(s, c); break;
            case K_POIS: r = prop_pois(s, c); break;
            case K_LOGCI: r = prop_logci(s, c); break;
            default: r = prop_tier(s, c); break;
            }
            if (r < 0) {
                for (int q = 0; q < c->n; q++)
                    s->x[c->v[q]].lo = save_lo[c->v[q]], s->x[c->v[q]].hi = save_hi[c->v[q]];
                c->dead = 1;
                s->r->contradictions++;
                if (s->o->verbose)
                    fprintf(stderr, "sdc_attack: refuted: %s\n", c->what);
                continue;
            }
            any |= r;
        }
        if (!any)
            break;
    }
    free(save_lo);
    free(save_hi);
}

/* A cell identical to a structural one (x = y: a PCN that is the whole
 * cohort) is the same number: structural too. */
static void structural_identities(sys *s)
{
    for (int again = 1; again;) {
        again = 0;
        for (size_t k = 0; k < s->ncons; k++) {
            const cons *c = &s->c[k];
            var *a, *b;
            if (c->kind != K_LIN || c->n != 2 || c->a[0] != -c->a[1])
                continue;
            a = &s->x[c->v[0]], b = &s->x[c->v[1]];
            if (a->structural != b->structural) {
                a->structural = b->structural = 1;
                again = 1;
            }
        }
        /* a sum of structural cells (n_high_risk = tiers 1-2) is structural */
        for (size_t k = 0; k < s->ncons; k++) {
            const cons *c = &s->c[k];
            int ns = 0;
            if (c->kind != K_LIN || s->x[c->v[0]].structural)
                continue;
            for (int q = 1; q < c->n; q++)
                ns += s->x[c->v[q]].structural;
            if (ns == c->n - 1 && c->a[0] == -1) {
                s->x[c->v[0]].structural = 1;
                again = 1;
            }
        }
    }
}

/* ---- ground truth of the patient-level file (to check the attack itself) ---------- */

typedef smap truth;

static void truth_add(truth *t, const char *key)
{
    (*smap_put(t, key))++;
}

/* Counts per PCN, practice and ALL of list size, tiers, segments and Core20
 * from patients.csv (patient_id,pcn,practice,risk,tier,segment,...,core20). */
static void truth_read(const char *outdir, truth *t)
{
    char path[4096], *text, *save = NULL, *line, *f[32], k[512];
    size_t nh;
    int jp = -1, jq = -1, jt = -1, js = -1, jc = -1;
    snprintf(path, sizeof path, "%s/patients.csv", outdir);
    if (!(text = slurp(path)))
        return;
    line = strtok_r(text, "\r\n", &save);
    nh = line ? sdc_csv_split(line, f, 32) : 0;
    for (size_t j = 0; j < nh; j++) {
        jp = !strcmp(f[j], "pcn") ? (int)j : jp;
        jq = !strcmp(f[j], "practice") ? (int)j : jq;
        jt = !strcmp(f[j], "tier") ? (int)j : jt;
        js = !strcmp(f[j], "segment") ? (int)j : js;
        jc = !strcmp(f[j], "core20") ? (int)j : jc;
    }
    while (jp >= 0 && jq >= 0 && (line = strtok_r(NULL, "\r\n", &save))) {
        size_t n = sdc_csv_split(line, f, 32);
        const char *tb[3] = {"pcn_summary", "practice_summary", "pcn_summary"};
        const char *g[3];
        if (n < nh)
            continue;
        g[0] = f[jp], g[1] = f[jq], g[2] = "ALL";
        for (int l = 0; l < 3; l++) {
            snprintf(k, sizeof k, "%s\x1f%s\x1fn_list", tb[l], g[l]);
            truth_add(t, k);
            if (jt >= 0 && *f[jt]) {
                snprintf(k, sizeof k, "%s\x1f%s\x1fn_tier%s", tb[l], g[l], f[jt]);
                truth_add(t, k);
            }
            if (js >= 0 && *f[js]) {
                snprintf(k, sizeof k, "%s\x1f%s\x1fn_seg_%s", tb[l], g[l], f[js]);
                truth_add(t, k);
            }
            if (jc >= 0 && !strcmp(f[jc], "1")) {
                snprintf(k, sizeof k, "%s\x1f%s\x1fn_core20", tb[l], g[l]);
                truth_add(t, k);
            }
        }
    }
    free(text);
}

static int truth_get(const truth *t, const char *key, double *v)
{
    const double *p = smap_get(t, key);
    if (p)
        *v = *p;
    return p != NULL;
}

/* ---- driver --------------------------------------------------------------------- */

void sdc_attack_opts_init(sdc_attack_opts *o)
{
    /* the library's own defaults, never a copy of them: the disclosure rules
     * of strata_sdc_params_init, the tiers of strata_run_spec_init */
    strata_sdc_params sp;
    strata_run_spec spec;
    strata_sdc_params_init(&sp);
    strata_run_spec_init(&spec);
    memset(o, 0, sizeof *o);
    o->read_manifest = 1;
    o->enabled = sp.enabled;
    o->lo = sp.lo, o->hi = sp.hi, o->round_to = sp.round_to;
    o->canonical = 1;
    o->n_tier_cuts = spec.n_tiers;
    memcpy(o->tier_cut, spec.tiers, spec.n_tiers * sizeof *spec.tiers);
}

/* The rules the run states in manifest.json ("disclosure": {...}). */
static void read_rules(const char *outdir, sdc_attack_opts *o, char *family, size_t fn)
{
    char path[4096], *m, *p;
    snprintf(path, sizeof path, "%s/manifest.json", outdir);
    if (!(m = slurp(path)))
        return;
    if ((p = strstr(m, "\"disclosure\""))) {
        char *q;
        if ((q = strstr(p, "\"enabled\":")))
            o->enabled = strncmp(q + 10, " false", 6) != 0 && strncmp(q + 10, " 0", 2) != 0;
        if ((q = strstr(p, "\"suppress_max\":")))
            o->hi = strtod(q + 15, NULL);
        if ((q = strstr(p, "\"suppress_min\":")))
            o->lo = strtod(q + 15, NULL);
        if ((q = strstr(p, "\"round_to\":")))
            o->round_to = strtod(q + 11, NULL);
    }
    if ((p = strstr(m, "\"spec.family\": \"")))
        snprintf(family, fn, "%.*s", (int)strcspn(p + 16, "\""), p + 16);
    free(m);
}

int sdc_attack_outdir(const char *outdir, const sdc_attack_opts *o0, sdc_attack_result *r)
{
    static const char *const primary[] = {"pcn_summary", "practice_summary", "icb_summary",
                                          "inequality", "sii", "fairness", "standardised",
                                          "core20plus5"};
    sdc_attack_opts o = *o0;
    sys s;
    truth tr = {0};
    size_t np = 0;
    char path[4096];
    memset(r, 0, sizeof *r);
    memset(&s, 0, sizeof s);
    snprintf(s.family, sizeof s.family, "binomial");
    if (o.read_manifest)
        read_rules(outdir, &o, s.family, sizeof s.family);
    s.o = &o;
    s.r = r;
    reindex(&s);
    for (size_t k = 0; k < sizeof primary / sizeof *primary; k++) {
        snprintf(path, sizeof path, "%s/%s.csv", outdir, primary[k]);
        if (load_csv(&s, path, primary[k], "csv") == 0)
            np++;
    }
    if (np == 0)
        return -1;
    snprintf(path, sizeof path, "%s/aggregates.h5", outdir);
    load_h5(&s, path); /* its kind attributes say which columns are counts */
    for (size_t k = 0; k < np; k++)
        vars_from_primary(&s, &s.t[k]);
    snprintf(path, sizeof path, "%s/report.html", outdir);
    load_html(&s, path);
    snprintf(path, sizeof path, "%s/aggregates_long.csv", outdir);
    if (load_csv(&s, path, "aggregates_long", "long") == 0)
        twins_long(&s, &s.t[s.nt - 1], np);
    for (size_t k = np; k < s.nt; k++)
        if (strcmp(s.t[k].src, "long") != 0)
            twins(&s, &s.t[k]);
    r->n_tables = s.nt;
    for (size_t k = 0; k < np; k++)
        group_table(&s, &s.t[k]);
    cross_tables(&s, np);
    structural_identities(&s);
    if (o.enabled)
        propagate(&s);
    truth_read(outdir, &tr);
    for (size_t j = 0; j < s.nx; j++) {
        var *x = &s.x[j];
        double tv;
        if (!x->secret || x->structural)
            continue;
        r->n_secret++;
        if (o.enabled && x->hi - x->lo < 0.5 && truth_get(&tr, x->key, &tv)) {
            r->checked_truth++;
            if (tv != x->lo) {
                r->false_recovery++;
                finding(&s, "FALSE recovery of %s: %.0f, truth %.0f (a wrong attack hypothesis)",
                        x->key, x->lo, tv);
                continue;
            }
        }
        if (o.enabled && x->hi - x->lo < 0.5 && !(x->hidden && x->hi < 0.5)) {
            /* (a withheld cell pinned at 0 tells nothing: a count withheld for
             * its size is never 0, and a 0 would have been published) */
            char k[1024], *a, *b;
            snprintf(k, sizeof k, "%s", x->key);
            a = strchr(k, '\x1f');
            b = a ? strchr(a + 1, '\x1f') : NULL;
            if (a)
                *a = ' ';
            if (b)
                *b = ' ';
            r->recovered++;
            finding(&s, "recovered %s = %.0f (published %s)", k, x->lo,
                    x->hidden ? "*" : (snprintf(path, sizeof path, "%g", x->pub), path));
        }
    }
    r->n_vars = s.nx;
    /* pack the two halves of the findings */
    memmove(r->finding[s.n_rec], r->finding[SDC_MAX_FINDINGS / 2], s.n_other * sizeof r->finding[0]);
    r->n_findings = s.n_rec + s.n_other;
    for (size_t k = 0; k < s.nt; k++) {
        tab *t = &s.t[k];
        for (size_t j = 0; j < t->nc; j++)
            free(t->head[j]);
        for (size_t i = 0; i < t->nr * t->nc; i++)
            free(t->c[i].s);
        free(t->c);
    }
    for (size_t j = 0; j < s.nx; j++)
        free(s.x[j].key);
    for (size_t k = 0; k < s.ncons; k++) {
        free(s.c[k].v);
        free(s.c[k].a);
    }
    smap_free(&tr);
    smap_free(&s.kinds);
    free(s.t);
    free(s.x);
    free(s.c);
    free(s.idx);
    return 0;
}
