/* engine/io/codelist.c — code lists: `code,category[,match]` CSV (other columns
 * kept as text) loaded through the CSV scanner, normalised, and matched by
 * exact code or by prefix. Invariant: after load, `order` lists every row once,
 * sorted by (normalised code, row), and every row has a category id. */
#include "codelist.h"
#include "csv_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void strata_code_normalise(const char *in, char *out, size_t n)
{
    size_t k = 0, len;
    if (!n)
        return;
    while (*in == ' ' || *in == '\t')
        in++;
    for (; *in && k + 1 < n; in++)
        if (*in != '.')
            out[k++] = (char)toupper((unsigned char)*in);
    while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t'))
        k--;
    out[k] = '\0';
    len = k;
    /* HES pads 3-character ICD-10 codes: I10X (also written I10.X) -> I10 */
    if (len == 4 && out[3] == 'X' && isupper((unsigned char)out[0]) &&
        isdigit((unsigned char)out[1]) && isdigit((unsigned char)out[2]))
        out[3] = '\0';
}

void strata_codelist_free(strata_codelist *cl)
{
    strata_ctx *ctx;
    if (!cl)
        return;
    ctx = cl->ctx;
    for (size_t r = 0; r < cl->n; r++)
        strata_free(ctx, cl->code[r], 0);
    for (size_t j = 0; j < cl->ncol; j++) {
        for (size_t r = 0; cl->field && cl->field[j] && r < cl->n; r++)
            strata_free(ctx, cl->field[j][r], 0);
        if (cl->field)
            strata_free(ctx, cl->field[j], 0);
        strata_free(ctx, cl->colname[j], 0);
    }
    strata_free(ctx, cl->field, 0);
    strata_free(ctx, cl->colname, 0);
    strata_free(ctx, cl->code, 0);
    strata_free(ctx, cl->cat, 0);
    strata_free(ctx, cl->match, 0);
    strata_free(ctx, cl->order, 0);
    strata_strtab_free(&cl->cats);
    strata_free(ctx, cl->path, 0);
    strata_free(ctx, cl, sizeof *cl);
}

static strata_status on_header(strata_codelist *cl, const csv_scanner *sc)
{
    strata_ctx *ctx = cl->ctx;
    cl->icode = cl->icat = cl->imatch = -1;
    cl->ncol = sc->nf;
    if (!(cl->colname = strata_calloc(ctx, sc->nf, sizeof *cl->colname)) ||
        !(cl->field = strata_calloc(ctx, sc->nf, sizeof *cl->field)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < sc->nf; j++) {
        if (!(cl->colname[j] = strata_strdup(ctx, sc->field[j])))
            return STRATA_ENOMEM;
        if (!strcmp(sc->field[j], "code"))
            cl->icode = (int)j;
        else if (!strcmp(sc->field[j], "category"))
            cl->icat = (int)j;
        else if (!strcmp(sc->field[j], "match"))
            cl->imatch = (int)j;
    }
    if (cl->icode < 0 || cl->icat < 0)
        return STRATA_FAIL(ctx, STRATA_EDATA,
                           "%s: line 1: header must name columns 'code' and 'category' "
                           "(code lists are code,category[,match] CSV)",
                           cl->path);
    return STRATA_OK;
}

static strata_status grow(strata_codelist *cl)
{
    strata_ctx *ctx = cl->ctx;
    size_t nc = cl->cap ? cl->cap * 2 : 256;
    char **c = strata_realloc(ctx, cl->code, cl->cap * sizeof *c, nc * sizeof *c);
    uint32_t *k;
    unsigned char *m;
    if (!c)
        return STRATA_ENOMEM;
    cl->code = c;
    if (!(k = strata_realloc(ctx, cl->cat, cl->cap * sizeof *k, nc * sizeof *k)))
        return STRATA_ENOMEM;
    cl->cat = k;
    if (!(m = strata_realloc(ctx, cl->match, cl->cap, nc)))
        return STRATA_ENOMEM;
    cl->match = m;
    for (size_t j = 0; j < cl->ncol; j++) {
        char **f = strata_realloc(ctx, cl->field[j], cl->cap * sizeof *f, nc * sizeof *f);
        if (!f)
            return STRATA_ENOMEM;
        cl->field[j] = f;
    }
    cl->cap = nc;
    return STRATA_OK;
}

static strata_status on_record(void *ud, const csv_scanner *sc)
{
    strata_codelist *cl = ud;
    strata_ctx *ctx = cl->ctx;
    char norm[128], shown[96];
    const char *m;
    long cat;
    size_t r = cl->n;
    if (!cl->colname)
        return on_header(cl, sc);
    if (sc->nf == 1 && !sc->field[0][0])
        return STRATA_OK; /* blank line */
    if (sc->nf != cl->ncol)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: line %zu: %zu fields, the header has %zu",
                           cl->path, sc->rec_line, sc->nf, cl->ncol);
    strata_code_normalise(sc->field[cl->icode], norm, sizeof norm);
    if (!norm[0] || strlen(sc->field[cl->icode]) >= sizeof norm) {
        csv_show_value(shown, sizeof shown, sc->field[cl->icode]);
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: line %zu, column 'code': value '%s' is not a code",
                           cl->path, sc->field_line[cl->icode], shown);
    }
    if (!sc->field[cl->icat][0])
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: line %zu, column 'category': empty category",
                           cl->path, sc->field_line[cl->icat]);
    m = cl->imatch >= 0 ? sc->field[cl->imatch] : "";
    if (*m && strcmp(m, "prefix") && strcmp(m, "exact")) {
        csv_show_value(shown, sizeof shown, m);
        return STRATA_FAIL(ctx, STRATA_EDATA,
                           "%s: line %zu, column 'match': value '%s' is not prefix or exact",
                           cl->path, sc->field_line[cl->imatch], shown);
    }
    if (r == cl->cap)
        STRATA_TRY(grow(cl));
    if ((cat = strata_strtab_add(&cl->cats, sc->field[cl->icat])) < 0)
        return STRATA_ENOMEM;
    for (size_t j = 0; j < cl->ncol; j++)
        cl->field[j][r] = NULL;
    cl->code[r] = NULL;
    cl->n++; /* counted now so that free() releases partial rows */
    if (!(cl->code[r] = strata_strdup(ctx, norm)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < cl->ncol; j++)
        if (!(cl->field[j][r] = strata_strdup(ctx, sc->field[j])))
            return STRATA_ENOMEM;
    cl->cat[r] = (uint32_t)cat;
    cl->match[r] = (unsigned char)(!*m ? cl->dflt : !strcmp(m, "prefix") ? STRATA_MATCH_PREFIX
                                                                           : STRATA_MATCH_EXACT);
    if (cl->match[r] == STRATA_MATCH_PREFIX && strlen(norm) <= 64)
        cl->prefix_lens |= 1ULL << (strlen(norm) - 1);
    return STRATA_OK;
}

/* Fills cl->order: rows sorted by (code, row). */
static strata_status sort_rows(strata_codelist *cl)
{
    strata_keyrow *cr = strata_alloc(cl->ctx, (cl->n ? cl->n : 1) * sizeof *cr);
    if (!cr || !(cl->order = strata_alloc(cl->ctx, (cl->n ? cl->n : 1) * sizeof *cl->order))) {
        strata_free(cl->ctx, cr, 0);
        return STRATA_ENOMEM;
    }
    for (size_t r = 0; r < cl->n; r++)
        cr[r] = (strata_keyrow){cl->code[r], r};
    strata_keyrow_sort(cr, cl->n);
    for (size_t r = 0; r < cl->n; r++)
        cl->order[r] = cr[r].row;
    strata_free(cl->ctx, cr, 0);
    return STRATA_OK;
}

strata_status strata_codelist_load(strata_ctx *ctx, const char *path,
                                   strata_code_match default_match, strata_codelist **out)
{
    strata_codelist *cl;
    strata_status st;
    *out = NULL;
    if (!(cl = strata_calloc(ctx, 1, sizeof *cl)))
        return STRATA_ENOMEM;
    cl->ctx = ctx;
    cl->dflt = default_match;
    strata_strtab_init(&cl->cats, ctx);
    if (!(cl->path = strata_strdup(ctx, path))) {
        strata_codelist_free(cl);
        return STRATA_ENOMEM;
    }
    st = csv_scan_file(ctx, path, ',', on_record, cl, NULL);
    if (st == STRATA_OK && !cl->colname)
        st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: empty file (code lists are code,category CSV)",
                         path);
    if (st == STRATA_OK)
        st = sort_rows(cl);
    if (st != STRATA_OK) {
        strata_codelist_free(cl);
        return st;
    }
    *out = cl;
    return STRATA_OK;
}

size_t strata_codelist_nrows(const strata_codelist *cl) { return cl->n; }
size_t strata_codelist_ncategories(const strata_codelist *cl) { return cl->cats.n; }
size_t strata_codelist_row_category(const strata_codelist *cl, size_t r) { return cl->cat[r]; }

const char *strata_codelist_category(const strata_codelist *cl, size_t k)
{
    return k < cl->cats.n ? cl->cats.str[k] : "";
}

long strata_codelist_find_category(const strata_codelist *cl, const char *name)
{
    return strata_strtab_find(&cl->cats, name);
}

const char *strata_codelist_field(const strata_codelist *cl, size_t r, const char *column)
{
    for (size_t j = 0; j < cl->ncol; j++)
        if (!strcmp(cl->colname[j], column))
            return r < cl->n ? cl->field[j][r] : "";
    return "";
}

/* First index in order whose code is >= key (key of length len, compared as a string). */
static size_t lower_bound(const strata_codelist *cl, const char *key)
{
    size_t lo = 0, hi = cl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(cl->code[cl->order[mid]], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

size_t strata_codelist_match(const strata_codelist *cl, const char *code, size_t *rows,
                             size_t max)
{
    char norm[128], key[128];
    size_t len, found = 0;
    strata_code_normalise(code, norm, sizeof norm);
    len = strlen(norm);
    for (size_t L = 1; L <= len && len; L++) {
        int whole = L == len;
        if (!whole && (L > 64 || !(cl->prefix_lens & (1ULL << (L - 1)))))
            continue;
        memcpy(key, norm, L);
        key[L] = '\0';
        for (size_t i = lower_bound(cl, key); i < cl->n && !strcmp(cl->code[cl->order[i]], key);
             i++) {
            size_t r = cl->order[i];
            if (whole || cl->match[r] == STRATA_MATCH_PREFIX) {
                if (found < max)
                    rows[found] = r;
                found++;
            }
        }
    }
    qsort(rows, found < max ? found : max, sizeof *rows, cmp_size);
    return found;
}
