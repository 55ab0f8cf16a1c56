/* tests/glm_testdata.c — see glm_testdata.h: a CSV -> cohort loader for the
 * GLM tests (libcsv), and an in-memory column writer. Test code only. */
#include "glm_testdata.h"

#include <csv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct colbuf {
    double *num;
    int32_t *code;
    char **levels;
    size_t n_levels, cap_levels;
} colbuf;

typedef struct loader {
    const td_col *cols;
    int ncols;
    int *map;      /* csv column -> td index list head (-1 none) */
    int *src_of;   /* td index -> csv column */
    char **fields; /* current row fields */
    int nfields, capf;
    size_t row, cap;
    int header_done;
    colbuf *b;
} loader;

static int is_na(const char *s)
{
    return !*s || !strcmp(s, "?") || !strcmp(s, "NA") || !strcmp(s, "Unknown/Invalid");
}

static void on_field(void *s, size_t len, void *ud)
{
    loader *L = ud;
    char *f = malloc(len + 1);
    memcpy(f, s, len);
    f[len] = 0;
    if (L->nfields == L->capf) {
        L->capf = L->capf ? 2 * L->capf : 64;
        L->fields = realloc(L->fields, (size_t)L->capf * sizeof *L->fields);
    }
    L->fields[L->nfields++] = f;
}

static void on_row(int c, void *ud)
{
    loader *L = ud;
    (void)c;
    if (!L->header_done) {
        for (int k = 0; k < L->ncols; k++) {
            L->src_of[k] = -1;
            for (int i = 0; i < L->nfields; i++)
                if (!strcmp(L->fields[i], L->cols[k].src))
                    L->src_of[k] = i;
        }
        L->header_done = 1;
    } else {
        if (L->row == L->cap) {
            L->cap = L->cap ? 2 * L->cap : 4096;
            for (int k = 0; k < L->ncols; k++) {
                L->b[k].num = realloc(L->b[k].num, L->cap * sizeof(double));
                L->b[k].code = realloc(L->b[k].code, L->cap * sizeof(int32_t));
            }
        }
        for (int k = 0; k < L->ncols; k++) {
            const td_col *tc = &L->cols[k];
            const char *v = L->src_of[k] >= 0 && L->src_of[k] < L->nfields ? L->fields[L->src_of[k]] : "";
            colbuf *b = &L->b[k];
            double x = is_na(v) ? NAN : atof(v);
            switch (tc->kind) {
            case TD_CAT: {
                size_t l = 0;
                if (is_na(v)) {
                    b->code[L->row] = -1;
                    break;
                }
                while (l < b->n_levels && strcmp(b->levels[l], v))
                    l++;
                if (l == b->n_levels) {
                    if (b->n_levels == b->cap_levels) {
                        b->cap_levels = b->cap_levels ? 2 * b->cap_levels : 16;
                        b->levels = realloc(b->levels, b->cap_levels * sizeof *b->levels);
                    }
                    b->levels[b->n_levels++] = strdup(v);
                }
                b->code[L->row] = (int32_t)l;
                break;
            }
            case TD_IND:
                b->num[L->row] = is_na(v) ? NAN : !strcmp(v, tc->arg);
                break;
            case TD_POS:
                b->num[L->row] = x > 0 ? x : NAN;
                break;
            case TD_POSDIV:
                b->num[L->row] = x > 0 ? x / atof(tc->arg) : NAN;
                break;
            default:
                b->num[L->row] = x;
            }
        }
        L->row++;
    }
    for (int i = 0; i < L->nfields; i++)
        free(L->fields[i]);
    L->nfields = 0;
}

long td_csv_to_cohort(strata_ctx *ctx, const char *csv_path, const td_col *cols, int ncols,
                      const char *out_path)
{
    struct csv_parser p;
    loader L;
    char buf[65536];
    size_t got;
    FILE *fp = fopen(csv_path, "rb");
    td_mem *mem;
    long ret = -1;
    if (!fp)
        return -1;
    memset(&L, 0, sizeof L);
    L.cols = cols;
    L.ncols = ncols;
    L.src_of = calloc((size_t)ncols, sizeof *L.src_of);
    L.b = calloc((size_t)ncols, sizeof *L.b);
    csv_init(&p, CSV_APPEND_NULL);
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0)
        csv_parse(&p, buf, got, on_field, on_row, &L);
    csv_fini(&p, on_field, on_row, &L);
    csv_free(&p);
    fclose(fp);
    mem = calloc((size_t)ncols, sizeof *mem);
    for (int k = 0; k < ncols; k++) {
        if (L.src_of[k] < 0) {
            fprintf(stderr, "%s: no column %s\n", csv_path, cols[k].src);
            goto out;
        }
        mem[k].name = cols[k].name;
        if (cols[k].kind == TD_CAT) {
            mem[k].codes = L.b[k].code;
            mem[k].levels = (const char *const *)L.b[k].levels;
            mem[k].n_levels = L.b[k].n_levels;
        } else {
            mem[k].num = L.b[k].num;
        }
    }
    if (td_write_cohort(ctx, out_path, mem, ncols, L.row) == STRATA_OK)
        ret = (long)L.row;
out:
    for (int k = 0; k < ncols; k++) {
        free(L.b[k].num);
        free(L.b[k].code);
        for (size_t l = 0; l < L.b[k].n_levels; l++)
            free(L.b[k].levels[l]);
        free(L.b[k].levels);
    }
    free(mem);
    free(L.b);
    free(L.src_of);
    free(L.fields);
    return ret;
}

strata_status td_write_cohort(strata_ctx *ctx, const char *path, const td_mem *cols, int ncols,
                              size_t n)
{
    strata_cohort_writer *w = NULL;
    strata_column_spec s;
    size_t j;
    strata_status st = strata_cohort_writer_new(ctx, path, &w);
    int64_t *id = malloc((n + 1) * sizeof *id);
    if (st != STRATA_OK) {
        free(id);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        id[i] = (int64_t)(i + 1);
    memset(&s, 0, sizeof s);
    s.name = "patient_id";
    s.dtype = STRATA_DT_INT64;
    s.role = STRATA_ROLE_PATIENT_ID;
    if ((st = strata_cohort_writer_add(w, &s, &j)) != STRATA_OK ||
        (n && (st = strata_cohort_writer_append(w, j, id, n)) != STRATA_OK))
        goto fail;
    for (int k = 0; k < ncols; k++) {
        memset(&s, 0, sizeof s);
        s.name = cols[k].name;
        if (cols[k].codes) {
            s.dtype = STRATA_DT_INT32;
            s.categorical = 1;
            s.levels = cols[k].levels;
            s.n_levels = cols[k].n_levels;
        } else {
            s.dtype = STRATA_DT_FLOAT64;
        }
        if ((st = strata_cohort_writer_add(w, &s, &j)) != STRATA_OK)
            goto fail;
        if (n && (st = strata_cohort_writer_append(w, j, cols[k].codes ? (const void *)cols[k].codes : (const void *)cols[k].num, n)) != STRATA_OK)
            goto fail;
    }
    free(id);
    return strata_cohort_writer_finish(w);
fail:
    free(id);
    strata_cohort_writer_abort(w);
    return st;
}
