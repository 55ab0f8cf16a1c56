/* engine/aggregate/strat_standard.c — age standardisation as PHEindicatormethods
 * computes it: the 2013 European Standard Population, directly standardised
 * rates with Dobson limits (calculate_dsr) and indirectly standardised ratios
 * with exact/Byar limits (calculate_ISRatio). Goldens: data/golden/stratify/
 * make_standardise.R. Pure functions of their inputs. */
#include "internal.h"
#include "strata/stratify.h"

#include <math.h>

static const double ESP2013[STRATA_ESP_BANDS] = {5000, 5500, 5500, 5500, 6000, 6000, 6500,
                                                 7000, 7000, 7000, 7000, 6500, 6000, 5500,
                                                 5000, 4000, 2500, 1500, 1000};

const double *strata_esp2013(void)
{
    return ESP2013;
}

int strata_esp_band(int age)
{
    if (age < 0)
        return -1;
    return age >= 90 ? STRATA_ESP_BANDS - 1 : age / 5;
}

strata_status strata_dsr(strata_ctx *ctx, size_t k, const double *x, const double *n,
                         const double *w, double level, double mult, strata_dsr_result *out)
{
    double sw = 0, wr = 0, sq = 0, o = 0, lo, hi;
    out->value = out->lo = out->hi = out->var = out->raw = NAN;
    out->observed = 0;
    if (!(level > 0 && level < 1) || !(mult > 0))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "dsr: level %g or multiplier %g invalid", level,
                           mult);
    for (size_t i = 0; i < k; i++) {
        if (!(x[i] >= 0) || !(n[i] > 0) || !(w[i] >= 0))
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "dsr: category %zu: events %g, population %g, weight %g (events "
                               ">= 0, population > 0 needed)",
                               i + 1, x[i], n[i], w[i]);
        sw += w[i];
        wr += x[i] * w[i] / n[i];
        sq += x[i] * (w[i] / n[i]) * (w[i] / n[i]);
        o += x[i];
    }
    out->observed = o;
    if (!(sw > 0))
        return STRATA_FAIL(ctx, STRATA_EDATA, "dsr: standard population weights sum to 0");
    out->var = sq / (sw * sw) * mult * mult;
    out->raw = wr / sw * mult;
    if (o < 10)
        return STRATA_OK; /* PHE: not reliable, not calculated */
    out->value = wr / sw * mult;
    strata_byar_ci(o, level, &lo, &hi);
    out->lo = out->value + sqrt(out->var / o) * (lo - o);
    out->hi = out->value + sqrt(out->var / o) * (hi - o);
    return STRATA_OK;
}

strata_status strata_isr(strata_ctx *ctx, size_t k, const double *x, const double *n,
                         const double *x_ref, const double *n_ref, double level, double *expected,
                         double *ratio, double *lo, double *hi)
{
    double e = 0, o = 0, l, h;
    for (size_t i = 0; i < k; i++) {
        if (!(x[i] >= 0) || !(n[i] >= 0) || !(x_ref[i] >= 0) || !(n_ref[i] > 0))
            return STRATA_FAIL(ctx, STRATA_EDATA, "isr: category %zu: a count or population is "
                                                  "negative or the reference population is 0",
                               i + 1);
        e += x_ref[i] / n_ref[i] * n[i];
        o += x[i];
    }
    *expected = e;
    *ratio = *lo = *hi = NAN;
    if (!(e > 0))
        return STRATA_OK;
    if (o < 10)
        STRATA_TRY(strata_poisson_ci(ctx, o, level, &l, &h));
    else
        strata_byar_ci(o, level, &l, &h);
    *ratio = o / e;
    *lo = l / e;
    *hi = h / e;
    return STRATA_OK;
}
