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

/* One by-column as codes plus owned level names. */
typedef struct by_col {
    int32_t *codes;
    char **levels;
    size_t n_levels;
} by_col;

static void by_col_free(strata_ctx *ctx, by_col *b)
{
    for (size_t l = 0; l < b->n_levels; l++)
        strata_free(ctx, b->levels[l], 0);
    strata_free(ctx, b->levels, 0);
    strata_free(ctx, b->codes, 0);
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

/* Integer column coded by its distinct values in ascending order. */
static strata_status code_integers(strata_ctx *ctx, const char *path, const char *name, size_t n,
                                   by_col *b)
{
    int32_t lo = INT32_MAX, hi = INT32_MIN + 1;
    size_t span, nl = 0;
    int32_t *map;
    char buf[16];
    for (size_t i = 0; i < n; i++)
        if (b->codes[i] != STRATA_NA_INT32) {
            lo = b->codes[i] < lo ? b->codes[i] : lo;
            hi = b->codes[i] > hi ? b->codes[i] : hi;
        }
    if (lo > hi) {
        for (size_t i = 0; i < n; i++)
            b->codes[i] = -1;
        return set_levels(ctx, b, 0, NULL);
    }
    span = (size_t)((int64_t)hi - lo) + 1;
    if (span > EV_MAX_INT_LEVELS)
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "%s: by-column %s spans %zu integer values (max %d): band it first",
                           path, name, span, EV_MAX_INT_LEVELS);
    map = strata_calloc(ctx, span, sizeof *map);
    if (!map)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (b->codes[i] != STRATA_NA_INT32)
            map[b->codes[i] - lo] = 1;
    b->levels = strata_calloc(ctx, span, sizeof *b->levels);
    if (!b->levels) {
        strata_free(ctx, map, 0);
        return STRATA_ENOMEM;
    }
    for (size_t v = 0; v < span; v++)
        if (map[v]) {
            snprintf(buf, sizeof buf, "%ld", (long)lo + (long)v);
            map[v] = (int32_t)nl;
            b->levels[nl] = strata_strdup(ctx, buf);
            b->n_levels = ++nl;
            if (!b->levels[nl - 1]) {
                strata_free(ctx, map, 0);
                return STRATA_ENOMEM;
            }
        }
    for (size_t i = 0; i < n; i++)
        b->codes[i] = b->codes[i] == STRATA_NA_INT32 ? -1 : map[b->codes[i] - lo];
    strata_free(ctx, map, 0);
    return STRATA_OK;
}

/* A derived by-name (strata_eval_derived: age_band, imd_quintile, core20)
 * from its source role's column. */
static strata_status derived(strata_ctx *ctx, strata_cohort *c, const char *name, size_t n,
                             by_col *b, int *found)
{
    strata_role role;
    const char *const *levels;
    size_t nl = strata_eval_derived(name, &role, &levels);
    long j;
    *found = 0;
    if (!nl || (j = strata_cohort_find_role(c, role)) < 0)
        return STRATA_OK;
    *found = 1;
    STRATA_TRY(strata_cohort_read_i32(ctx, c, (size_t)j, 0, n, b->codes));
    strata_eval_derived_codes(name, b->codes, n, b->codes);
    return set_levels(ctx, b, nl, levels);
}

static strata_status read_by(strata_ctx *ctx, strata_cohort *c, const char *name, size_t n,
                             by_col *b)
{
    const char *path = strata_cohort_path(c);
    const strata_column_info *info;
    size_t j;
    int found = 0;
    b->codes = strata_calloc(ctx, n ? n : 1, sizeof *b->codes);
    if (!b->codes)
        return STRATA_ENOMEM;
    if (strata_cohort_find(ctx, c, name, &j) != STRATA_OK) {
        /* a role name (ethnicity, sex, pcn, ...) means the column declaring that
         * role, whatever it is called (`race`), as in strata run */
        long jr = strata_role_parse(name) != STRATA_ROLE_NONE
                      ? strata_cohort_find_role(c, strata_role_parse(name))
                      : -1;
        strata_status st = jr >= 0 ? STRATA_OK : derived(ctx, c, name, n, b, &found);
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
    STRATA_TRY(strata_cohort_read_i32(ctx, c, j, 0, n, b->codes));
    if (info->categorical)
        return set_levels(ctx, b, info->n_levels, info->levels);
    return code_integers(ctx, path, name, n, b);
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

strata_status strata_evaluate_scored(strata_ctx *ctx, strata_cohort *cohort, const char *outcome,
                                     const double *p, const char *const *by_names, size_t n_by,
                                     const strata_eval_params *par,
                                     const strata_bootstrap_result *boot,
                                     const strata_eval_provenance *prov, const char *outdir)
{
    size_t n, dropped = 0;
    double *y = NULL, *w = NULL;
    by_col *cols = NULL;
    strata_eval_by *by = NULL;
    strata_eval_input in;
    strata_eval_report *r = NULL;
    strata_status st;
    if (!cohort || !outcome || !p || (n_by && !by_names))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: cohort, outcome or predictions missing");
    STRATA_TRY(strata_eval_params_check(ctx, par));
    n = strata_cohort_nrows(cohort);
    STRATA_TRY(ev_read_outcome(ctx, cohort, outcome, p, &y, &w, &dropped));
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
        if ((st = read_by(ctx, cohort, by_names[b], n, &cols[b])) != STRATA_OK)
            goto done;
        by[b] = (strata_eval_by){by_names[b], cols[b].codes, cols[b].n_levels,
                                 (const char *const *)cols[b].levels};
    }
    in = (strata_eval_input){n, y, p, w, n_by, by};
    if ((st = strata_evaluate(ctx, &in, par, &r)) != STRATA_OK)
        goto done;
    st = strata_eval_write(ctx, r, boot, prov, outdir);
done:
    if (st == STRATA_ENOMEM && strata_ctx_errcode(ctx) != STRATA_ENOMEM)
        STRATA_FAIL(ctx, STRATA_ENOMEM, "evaluate: out of memory for %zu rows", n);
    strata_eval_report_free(ctx, r);
    for (size_t b = 0; cols && b < n_by; b++)
        by_col_free(ctx, &cols[b]);
    strata_free(ctx, cols, 0);
    strata_free(ctx, by, 0);
    strata_free(ctx, y, 0);
    strata_free(ctx, w, 0);
    return st;
}
