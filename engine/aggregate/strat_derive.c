/* engine/aggregate/strat_derive.c — derived columns, computed at disclosure
 * from the published values only (docs/stratify.md#6): percentages, rates,
 * shares, O/E and ISR with their limits, directly standardised rates with
 * Dobson limits, funnel flags and limits. Invariant: every input is a
 * published cell; a withheld or unavailable input gives a withheld or
 * unavailable output, so these columns cannot tell more than the counts do. */
#include "internal.h"
#include "table_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exact (Garwood) limits of a Poisson count below 10, Byar's approximation
 * from 10 (PHEindicatormethods calculate_ISRatio). */
static strata_status isr_limits(strata_ctx *ctx, double o, double level, double *lo, double *hi)
{
    if (o < 10)
        return strata_poisson_ci(ctx, o, level, lo, hi);
    strata_byar_ci(o, level, lo, hi);
    return STRATA_OK;
}

/* Value of row i of a derived column whose inputs are published. */
static strata_status derive_cell(strata_ctx *ctx, const strata_table *t, const tcol *c, size_t i,
                                 double *out)
{
    const strata_recipe *d = &c->d;
    double a = t->cols[d->a].v[i], b = d->b >= 0 ? t->cols[d->b].v[i] : NAN;
    double cc = d->c >= 0 ? t->cols[d->c].v[i] : NAN, lo, hi;
    int tot = t->total_of[i] >= 0 ? t->total_of[i] : (int)i;
    *out = NAN;
    switch (d->op) {
    case STRATA_RECIPE_RATIO:
        if (d->c >= 0)
            b -= cc;
        if (b > 0)
            *out = d->mult * a / b;
        break;
    case STRATA_RECIPE_SHARE:
        if (t->cols[d->a].v[tot] > 0)
            *out = d->mult * a / t->cols[d->a].v[tot];
        break;
    case STRATA_RECIPE_SCALE:
        if (t->cols[d->a].v[tot] > 0)
            *out = t->cols[d->b].v[tot] * a / t->cols[d->a].v[tot];
        break;
    case STRATA_RECIPE_OE_EXACT:
    case STRATA_RECIPE_OE_BYAR:
        if (!(b > 0) || !(a >= 0))
            break;
        if (d->part == 0) {
            *out = a / b;
            break;
        }
        if (d->op == STRATA_RECIPE_OE_EXACT)
            STRATA_TRY(strata_poisson_ci(ctx, a, d->level, &lo, &hi));
        else
            STRATA_TRY(isr_limits(ctx, a, d->level, &lo, &hi));
        *out = (d->part == 1 ? lo : hi) / b;
        break;
    case STRATA_RECIPE_OE_LOG:
        if (!(b > 0) || !(a > 0) || (d->c >= 0 && !(cc > a)))
            break;
        strata_oe_log_ci(a / b, a, d->c >= 0 ? cc : 0.0, d->level, &lo, &hi);
        *out = d->part == 0 ? a / b : d->part == 1 ? lo : hi;
        break;
    case STRATA_RECIPE_DSR:
        if (!(a >= d->min_count) || !isfinite(b) || !(cc >= 0))
            break;
        if (d->part == 0) {
            *out = b;
            break;
        }
        strata_byar_ci(a, d->level, &lo, &hi);
        *out = b + sqrt(cc / a) * ((d->part == 1 ? lo : hi) - a);
        break;
    case STRATA_RECIPE_GRID:
        if (!isfinite(a))
            break;
        *out = t->rules.enabled && t->rules.round_to > 1 && b > 0
                   ? round(a * b / t->rules.round_to) * t->rules.round_to / b
                   : a;
        break;
    case STRATA_RECIPE_SUM:
        *out = a + b + (d->c >= 0 ? cc : 0);
        break;
    case STRATA_RECIPE_FUNNEL:
        if (!(b > 0) || !(a >= 0) || t->total_of[i] < 0)
            break;
        if (d->part == 0) {
            *out = strata_funnel_flag(&t->funnel, a, b);
        } else {
            strata_funnel_limits(&t->funnel, b, d->part <= 2 ? 0.95 : 0.998, &lo, &hi);
            *out = d->part % 2 ? lo : hi;
        }
        break;
    }
    return STRATA_OK;
}

/* The funnel of a table: phi and tau^2 fitted on the member rows' published O and E. */
static strata_status fit_funnel(strata_ctx *ctx, strata_table *t, const strata_recipe *d)
{
    strata_funnel_params fp;
    double *o = strata_calloc(ctx, 2 * (t->n_rows + 1), sizeof *o), *e;
    size_t k = 0;
    strata_status s;
    if (!o)
        return STRATA_ENOMEM;
    e = o + t->n_rows + 1;
    for (size_t i = 0; i < t->n_rows; i++)
        if (t->total_of[i] >= 0 && !t->cols[d->a].hidden[i] && !t->cols[d->b].hidden[i])
            o[k] = t->cols[d->a].v[i], e[k++] = t->cols[d->b].v[i];
    strata_funnel_params_init(&fp);
    fp.od = (strata_od_method)d->od;
    fp.trim = d->trim;
    s = strata_funnel_fit(ctx, &fp, k, o, e, &t->funnel);
    strata_free(ctx, o, 0);
    t->has_funnel = s == STRATA_OK;
    return s;
}

static int input_hidden(const strata_table *t, const tcol *c, size_t i)
{
    const strata_recipe *d = &c->d;
    int tot = t->total_of[i] >= 0 ? t->total_of[i] : (int)i;
    if (c->kind == STRATA_COL_PCT)
        return t->cols[c->base].hidden[i] || t->cols[c->den].hidden[i];
    if (t->cols[d->a].hidden[i] || (d->op != STRATA_RECIPE_SHARE && d->op != STRATA_RECIPE_SCALE &&
                                    d->b >= 0 && t->cols[d->b].hidden[i]))
        return 1;
    if (d->op == STRATA_RECIPE_SHARE || d->op == STRATA_RECIPE_SCALE)
        return t->cols[d->a].hidden[tot] || (d->b >= 0 && t->cols[d->b].hidden[tot]);
    return d->c >= 0 && t->cols[d->c].hidden[i];
}

double strat_as_printed(double v, int d)
{
    char buf[64];
    if (!isfinite(v))
        return v;
    if (d < 0)
        snprintf(buf, sizeof buf, "%.*g", -d, v);
    else
        snprintf(buf, sizeof buf, "%.*f", d > 17 ? 17 : d, v);
    return strtod(buf, NULL);
}

strata_status strat_derive_all(strata_ctx *ctx, strata_table *t)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        tcol *c = &t->cols[j];
        if (c->kind != STRATA_COL_PCT && c->kind != STRATA_COL_DERIVED)
            continue;
        if (c->kind == STRATA_COL_DERIVED && c->d.op == STRATA_RECIPE_FUNNEL && !t->has_funnel)
            STRATA_TRY(fit_funnel(ctx, t, &c->d));
        for (size_t i = 0; i < t->n_rows; i++) {
            c->hidden[i] = (uint8_t)(input_hidden(t, c, i) ? 2 : 0);
            if (c->hidden[i]) {
                c->v[i] = NAN;
            } else if (c->kind == STRATA_COL_PCT) {
                double num = t->cols[c->base].v[i], den = t->cols[c->den].v[i];
                c->v[i] = den > 0 ? 100.0 * num / den : NAN;
            } else {
                STRATA_TRY(derive_cell(ctx, t, c, i, &c->v[i]));
            }
            /* published as printed, so a later derived column uses what is published */
            c->v[i] = strat_as_printed(c->v[i], c->decimals);
        }
    }
    return STRATA_OK;
}
