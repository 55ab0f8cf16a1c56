/* engine/evaluate/evaluate_scored.c — strata_evaluate_scored: reads the outcome and the
 * by-columns of a cohort (categorical codes, integer columns coded by value,
 * or the derived imd_quintile / age_band), evaluates a caller's predicted
 * response and writes the output directory. Invariant: rows whose outcome or
 * prediction is missing get weight 0 (counted and logged), never a guess. */
#include "evaluate_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EV_MAX_INT_LEVELS 4096

/* One by-column: owned level names and how its codes are read, block by
 * block (read_by_rows): the cohort column's codes (categorical), its values
 * coded by the distinct values (integer: map[v - lo]), or a derived
 * grouping's codes from its source column (col -1: none, all missing). */
enum { BY_CATEGORICAL, BY_INTEGER, BY_DERIVED };
typedef struct by_col {
    const char *name;
    long col;
    int kind;
    int32_t lo, *map;
    char **levels;
    size_t n_levels;
} by_col;

static void by_col_free(strata_ctx *ctx, by_col *b)
{
    for (size_t l = 0; l < b->n_levels; l++)
        strata_free(ctx, b->levels[l], 0);
    strata_free(ctx, b->levels, 0);
    strata_free(ctx, b->map, 0);
    memset(b, 0, sizeof *b);
}

static strata_status set_levels(strata_ctx *ctx, by_col *b, size_t n, const char *const *names)
{
    b->levels = strata_calloc(ctx, n ? n : 1, sizeof *b->levels);
    if (!b->levels)
        return STRATA_ENOMEM;
    b->n_levels = n;
    for (size_t l = 0; l < n; l++)
        if (!(b->levels[l] = strata_strdup(ctx, names[l])))
            return STRATA_ENOMEM;
    return STRATA_OK;
}

#define EV_SCORED_BLOCK 65536

/* Rows [r0, r0 + n) of by-column b as codes 0..n_levels-1, -1 missing. */
static strata_status read_by_rows(strata_ctx *ctx, strata_cohort *c, const by_col *b, size_t r0, size_t n,
                                  int32_t *v)
{
    if (b->col >= 0)
        STRATA_TRY(strata_cohort_read_i32(ctx, c, (size_t)b->col, r0, n, v));
    if (b->kind == BY_DERIVED)
        strata_eval_derived_codes(b->name, b->col >= 0 ? v : NULL, n, v);
    else if (b->kind == BY_INTEGER)
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] == STRATA_NA_INT32 ? -1 : b->map[v[i] - b->lo];
    return STRATA_OK;
}

/* Integer column coded by its distinct values in ascending order: two
 * passes in blocks (the range, then the values present). */
static strata_status code_integers(strata_ctx *ctx, strata_cohort *c, const char *name, by_col *b)
{
    const char *path = strata_cohort_path(c);
    size_t n = strata_cohort_nrows(c), span, nl = 0, blk = n < EV_SCORED_BLOCK ? n : EV_SCORED_BLOCK;
    int32_t lo = INT32_MAX, hi = INT32_MIN + 1, *v;
    char buf[16];
    strata_status st = STRATA_OK;
    if (!(v = strata_alloc(ctx, (blk ? blk : 1) * sizeof *v)))
        return STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += blk) {
        size_t k = n - r0 < blk ? n - r0 : blk;
        st = strata_cohort_read_i32(ctx, c, (size_t)b->col, r0, k, v);
        for (size_t i = 0; st == STRATA_OK && i < k; i++)
            if (v[i] != STRATA_NA_INT32) {
                lo = v[i] < lo ? v[i] : lo;
                hi = v[i] > hi ? v[i] : hi;
            }
    }
    if (st != STRATA_OK || lo > hi) { /* no value: every code missing */
        strata_free(ctx, v, 0);
        b->lo = 0;
        b->map = strata_calloc(ctx, 1, sizeof *b->map);
        return st != STRATA_OK ? st : b->map ? set_levels(ctx, b, 0, NULL) : STRATA_ENOMEM;
    }
    span = (size_t)((int64_t)hi - lo) + 1;
    if (span > EV_MAX_INT_LEVELS) {
        strata_free(ctx, v, 0);
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "%s: by-column %s spans %zu integer values (max %d): band it first",
                           path, name, span, EV_MAX_INT_LEVELS);
    }
    b->lo = lo;
    b->map = strata_calloc(ctx, span, sizeof *b->map);
    b->levels = strata_calloc(ctx, span, sizeof *b->levels);
    if (!b->map || !b->levels)
        st = STRATA_ENOMEM;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += blk) {
        size_t k = n - r0 < blk ? n - r0 : blk;
        st = strata_cohort_read_i32(ctx, c, (size_t)b->col, r0, k, v);
        for (size_t i = 0; st == STRATA_OK && i < k; i++)
            if (v[i] != STRATA_NA_INT32)
                b->map[v[i] - lo] = 1;
    }
    strata_free(ctx, v, 0);
    for (size_t u = 0; st == STRATA_OK && u < span; u++)
        if (b->map[u]) {
            snprintf(buf, sizeof buf, "%ld", (long)lo + (long)u);
            b->map[u] = (int32_t)nl;
            b->levels[nl] = strata_strdup(ctx, buf);
            b->n_levels = ++nl;
            if (!b->levels[nl - 1])
                st = STRATA_ENOMEM;
        }
    return st;
}

/* A derived by-name (strata_eval_derived: age_band, imd_quintile, core20)
 * from its source role's column. */
static strata_status derived(strata_ctx *ctx, strata_cohort *c, const char *name, by_col *b, int *found)
{
    strata_role role;
    const char *const *levels;
    size_t nl = strata_eval_derived(name, &role, &levels);
    long j;
    *found = 0;
    if (!nl || (j = strata_cohort_find_role(c, role)) < 0)
        return STRATA_OK;
    *found = 1;
    b->col = j;
    b->kind = BY_DERIVED;
    return set_levels(ctx, b, nl, levels);
}

static strata_status read_by(strata_ctx *ctx, strata_cohort *c, const char *name, by_col *b)
{
    const char *path = strata_cohort_path(c);
    const strata_column_info *info;
    size_t j;
    int found = 0;
    b->name = name;
    if (strata_cohort_find(ctx, c, name, &j) != STRATA_OK) {
        /* a role name (ethnicity, sex, pcn, ...) means the column declaring that
         * role, whatever it is called (`race`), as in strata run */
        long jr = strata_role_parse(name) != STRATA_ROLE_NONE
                      ? strata_cohort_find_role(c, strata_role_parse(name))
                      : -1;
        strata_status st = jr >= 0 ? STRATA_OK : derived(ctx, c, name, b, &found);
        if (st == STRATA_OK && (found || jr >= 0))
            strata_ctx_clear_error(ctx); /* the failed lookup is not an error */
        if (st != STRATA_OK || found)
            return st;
        if (jr < 0)
            return STRATA_FAIL(ctx, STRATA_ESPEC,
                               "%s: by-column %s not found (neither a column, a role nor "
                               "age_band/imd_quintile/core20)",
                               path, name);
        j = (size_t)jr;
    }
    info = strata_cohort_column(c, j);
    if (info->dtype == STRATA_DT_FLOAT32 || info->dtype == STRATA_DT_FLOAT64)
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "%s: by-column %s is %s: only categorical or integer columns group",
                           path, name, strata_dtype_name(info->dtype));
    b->col = (long)j;
    if (info->categorical)
        return set_levels(ctx, b, info->n_levels, info->levels);
    b->kind = BY_INTEGER;
    return code_integers(ctx, c, name, b);
}

strata_status ev_read_outcome(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                               const double *p, double **y_out, double **w_out, size_t *dropped)
{
    size_t n = strata_cohort_nrows(cohort), j;
    double *y, *w;
    strata_status st;
    *y_out = *w_out = NULL;
    *dropped = 0;
    STRATA_TRY(strata_cohort_find(ctx, cohort, outcome, &j));
    y = strata_calloc(ctx, n ? n : 1, sizeof *y);
    w = strata_calloc(ctx, n ? n : 1, sizeof *w);
    if (!y || !w) {
        strata_free(ctx, y, 0);
        strata_free(ctx, w, 0);
        return STRATA_ENOMEM;
    }
    if ((st = strata_cohort_read_f64(ctx, cohort, j, 0, n, y)) != STRATA_OK) {
        strata_free(ctx, y, 0);
        strata_free(ctx, w, 0);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        w[i] = isnan(y[i]) || isnan(p[i]) ? 0.0 : 1.0;
        if (w[i] == 0.0) {
            y[i] = 0.0; /* never read: weight 0 */
            (*dropped)++;
        }
    }
    *y_out = y;
    *w_out = w;
    return STRATA_OK;
}

/* strata_evaluate_source's reader of a scored cohort: the outcome read in
 * blocks, the weights from it and the predictions (0 where either is
 * missing), the by-columns' codes (read_by_rows). */
typedef struct scored_reader {
    strata_cohort *cohort;
    size_t ycol;
    const double *p;   /* the caller's predictions, or NULL: */
    strata_scorer *sc; /* scored as read, each block's into pb (pcap rows) */
    double *pb;
    size_t pcap;
    const by_col *cols;
} scored_reader;

/* The predictions of rows [r0, r0 + n): the caller's, or scored into pb. */
static strata_status scored_p(strata_ctx *ctx, scored_reader *sr, size_t r0, size_t n, const double **p)
{
    if (sr->p) {
        *p = sr->p + r0;
        return STRATA_OK;
    }
    if (n > sr->pcap) {
        strata_free(ctx, sr->pb, 0);
        sr->pcap = 0;
        if (!(sr->pb = strata_alloc(ctx, n * sizeof *sr->pb)))
            return STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu predictions", n);
        sr->pcap = n;
    }
    *p = sr->pb;
    return strata_scorer_rows(ctx, sr->sc, r0, n, NULL, sr->pb);
}

static strata_status scored_read(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n, void *out)
{
    scored_reader *sr = ud;
    double *v = out;
    const double *p;
    if (col >= 0)
        return read_by_rows(ctx, sr->cohort, &sr->cols[col], r0, n, out);
    if (col == STRATA_EVAL_COL_P) {
        if (!sr->sc)
            return STRATA_FAIL(ctx, STRATA_EINTERNAL, "evaluate: the predictions are not read");
        return strata_scorer_rows(ctx, sr->sc, r0, n, NULL, v);
    }
    STRATA_TRY(strata_cohort_read_f64(ctx, sr->cohort, sr->ycol, r0, n, v));
    if (col == STRATA_EVAL_COL_W) {
        STRATA_TRY(scored_p(ctx, sr, r0, n, &p));
        for (size_t i = 0; i < n; i++)
            v[i] = isnan(v[i]) || isnan(p[i]) ? 0.0 : 1.0;
    }
    return STRATA_OK;
}

/* Rows whose outcome or prediction is missing (read in blocks). */
static strata_status count_dropped(strata_ctx *ctx, const scored_reader *sr, size_t n, size_t *dropped)
{
    size_t blk = n < EV_SCORED_BLOCK ? n : EV_SCORED_BLOCK;
    double *w = strata_alloc(ctx, (blk ? blk : 1) * sizeof *w);
    strata_status st = w ? STRATA_OK : STRATA_ENOMEM;
    *dropped = 0;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += blk) {
        size_t k = n - r0 < blk ? n - r0 : blk;
        st = scored_read(ctx, (void *)sr, STRATA_EVAL_COL_W, r0, k, w);
        for (size_t i = 0; st == STRATA_OK && i < k; i++)
            *dropped += w[i] == 0.0;
    }
    strata_free(ctx, w, 0);
    return st;
}

/* The outcome, weights and by-columns are read block by block (no column
 * held whole: docs/scale.md); the predictions are the caller's p, or (p NULL)
 * scored block by block as read by sc. */
static strata_status evaluate_scored(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     const double *p, strata_scorer *sc, const char *const *by_names,
                                     size_t n_by, const strata_eval_params *par,
                                     const strata_bootstrap_result *boot,
                                     const strata_eval_provenance *prov, const char *outdir)
{
    size_t n, dropped = 0;
    by_col *cols = NULL;
    strata_eval_by *by = NULL;
    strata_eval_source src;
    scored_reader sr;
    strata_eval_report *r = NULL;
    strata_status st;
    if (!cohort || !outcome || (!p && !sc) || (n_by && !by_names))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: cohort, outcome or predictions missing");
    STRATA_TRY(strata_eval_params_check(ctx, par));
    n = strata_cohort_nrows(cohort);
    sr = (scored_reader){cohort, 0, p, sc, NULL, 0, NULL};
    STRATA_TRY(strata_cohort_find(ctx, cohort, outcome, &sr.ycol));
    if ((st = count_dropped(ctx, &sr, n, &dropped)) != STRATA_OK)
        goto done;
    if (dropped)
        strata_warn(ctx, "%s: %zu of %zu rows have no outcome (%s) or no prediction: left out",
                    strata_cohort_path(cohort), dropped, n, outcome);
    cols = strata_calloc(ctx, n_by ? n_by : 1, sizeof *cols);
    by = strata_calloc(ctx, n_by ? n_by : 1, sizeof *by);
    if (!cols || !by) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (size_t b = 0; b < n_by; b++) {
        cols[b].col = -1;
        if ((st = read_by(ctx, cohort, by_names[b], &cols[b])) != STRATA_OK)
            goto done;
        by[b] = (strata_eval_by){by_names[b], NULL, cols[b].n_levels, (const char *const *)cols[b].levels};
    }
    sr.cols = cols;
    src = (strata_eval_source){{n, NULL, p, NULL, n_by, by}, 1, scored_read, &sr};
    if ((st = strata_evaluate_source(ctx, &src, par, &r)) != STRATA_OK)
        goto done;
    st = strata_eval_write(ctx, r, boot, prov, outdir);
done:
    if (st == STRATA_ENOMEM && strata_ctx_errcode(ctx) != STRATA_ENOMEM)
        STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu rows", n);
    strata_eval_report_free(ctx, r);
    for (size_t b = 0; cols && b < n_by; b++)
        by_col_free(ctx, &cols[b]);
    STRATA_FREE_ALL(ctx, cols, by, sr.pb);
    return st;
}

strata_status strata_evaluate_scored(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     const double *p, const char *const *by_names, size_t n_by,
                                     const strata_eval_params *par,
                                     const strata_bootstrap_result *boot,
                                     const strata_eval_provenance *prov, const char *outdir)
{
    return evaluate_scored(ctx, cohort, outcome, p, NULL, by_names, n_by, par, boot, prov, outdir);
}

strata_status strata_evaluate_scorer(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     strata_scorer *sc, const char *const *by_names, size_t n_by,
                                     const strata_eval_params *par, const strata_eval_provenance *prov,
                                     const char *outdir)
{
    if (!sc)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: no scorer");
    return evaluate_scored(ctx, cohort, outcome, NULL, sc, by_names, n_by, par, NULL, prov, outdir);
}
