/* models/glm/glm_family.c — GLM families as R's stats::family objects compute them
 * (binomial logit with R's eta clamps, poisson log, Gamma log, gaussian
 * identity): links, variance, deviance residuals, starting values and AIC; the
 * tails of coefficient tests live with the other distributions (engine/core/dist.c).
 * Invariant: each function is the same arithmetic as R's, so IRLS follows R's iterates. */
#include "glm_internal.h"

#include <float.h>
#include <math.h>

#define THRESH 30.0
#define MTHRESH (-30.0)
#define INVEPS (1.0 / DBL_EPSILON)

double glm_linkfun(strata_family f, double mu)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return log(mu / (1 - mu));
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA:
        return log(mu);
    default:
        return mu;
    }
}

double glm_linkinv(strata_family f, double eta)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: {
        double t = eta < MTHRESH ? DBL_EPSILON : eta > THRESH ? INVEPS : exp(eta);
        return t / (1 + t);
    }
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: {
        double m = exp(eta);
        return m > DBL_EPSILON ? m : DBL_EPSILON;
    }
    default:
        return eta;
    }
}

double glm_mu_eta(strata_family f, double eta)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: {
        double opexp = 1 + exp(eta);
        return (eta > THRESH || eta < MTHRESH) ? DBL_EPSILON : exp(eta) / (opexp * opexp);
    }
    case STRATA_FAMILY_POISSON:
    case STRATA_FAMILY_GAMMA: {
        double m = exp(eta);
        return m > DBL_EPSILON ? m : DBL_EPSILON;
    }
    default:
        return 1.0;
    }
}

double glm_variance(strata_family f, double mu)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return mu * (1 - mu);
    case STRATA_FAMILY_POISSON:
        return mu;
    case STRATA_FAMILY_GAMMA:
        return mu * mu;
    default:
        return 1.0;
    }
}

static double y_log_y(double y, double mu)
{
    return y != 0. ? y * log(y / mu) : 0;
}

double glm_dev_resid(strata_family f, double y, double mu, double wt)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return 2 * wt * (y_log_y(y, mu) + y_log_y(1 - y, 1 - mu));
    case STRATA_FAMILY_POISSON: {
        double r = mu * wt;
        if (y > 0)
            r = wt * (y * log(y / mu) - (y - mu));
        return 2 * r;
    }
    case STRATA_FAMILY_GAMMA:
        return -2 * wt * (log(y == 0 ? 1 : y / mu) - (y - mu) / mu);
    default:
        return wt * ((y - mu) * (y - mu));
    }
}

double glm_mustart(strata_family f, double y, double wt)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return (wt * y + 0.5) / (wt + 1);
    case STRATA_FAMILY_POISSON:
        return y + 0.1;
    default:
        return y;
    }
}

int glm_valid_y(strata_family f, double y)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return y >= 0 && y <= 1;
    case STRATA_FAMILY_POISSON:
        return y >= 0 && isfinite(y);
    case STRATA_FAMILY_GAMMA:
        return y > 0 && isfinite(y);
    default:
        return isfinite(y);
    }
}

const char *glm_valid_y_text(strata_family f)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL:
        return "binomial needs an outcome in [0, 1] (0/1 events)";
    case STRATA_FAMILY_POISSON:
        return "poisson needs a non-negative count";
    case STRATA_FAMILY_GAMMA:
        return "gamma needs a positive outcome";
    default:
        return "gaussian needs a finite outcome";
    }
}

static double lchoose_int(double n, double k)
{
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

double glm_aic_row(strata_family f, double y, double mu, double wt, double disp)
{
    switch (f) {
    case STRATA_FAMILY_BINOMIAL: {
        /* -2 * (wt/m) * dbinom(round(m*y), round(m), mu, log=TRUE), m = wt */
        double m = wt, k, n;
        if (m <= 0)
            return 0;
        n = nearbyint(m);
        k = nearbyint(m * y);
        /* n <= 1 (0/1 outcomes, unit weights): lchoose is lgamma(1 or 2) terms, exactly 0 */
        return -2 * (wt / m) *
               ((n <= 1 ? 0.0 : lchoose_int(n, k)) + (k > 0 ? k * log(mu) : 0) +
                (n - k > 0 ? (n - k) * log1p(-mu) : 0));
    }
    case STRATA_FAMILY_POISSON:
        return -2 * wt * ((y > 0 ? y * log(mu) : 0) - mu - lgamma(y + 1));
    case STRATA_FAMILY_GAMMA: {
        /* dgamma(y, shape = 1/disp, scale = mu*disp, log = TRUE) */
        double a = 1 / disp, s = mu * disp;
        return -2 * wt * ((a - 1) * log(y) - y / s - lgamma(a) - a * log(s));
    }
    default:
        return 0;
    }
}

double glm_aic_const(strata_family f, double dev, double sum_wt, double sum_logwt, size_t nobs)
{
    (void)sum_wt;
    switch (f) {
    case STRATA_FAMILY_GAMMA:
        return 2;
    case STRATA_FAMILY_GAUSSIAN:
        return (double)nobs * (log(2 * M_PI * dev / (double)nobs) + 1) + 2 - sum_logwt;
    default:
        return 0;
    }
}

/* ---- names (strata/model.h) ------------------------------------------------ */

const char *strata_family_name(strata_family f)
{
    static const char *names[] = {"binomial", "poisson", "gamma", "gaussian"};
    return (unsigned)f < 4 ? names[f] : "unknown";
}

strata_status strata_family_parse(strata_ctx *ctx, const char *name, strata_family *out)
{
    for (int f = 0; name && f < 4; f++) {
        const char *a = strata_family_name((strata_family)f), *b = name;
        while (*a && *b && (*a | 0x20) == (*b | 0x20))
            a++, b++;
        if (!*a && !*b) {
            *out = (strata_family)f;
            return STRATA_OK;
        }
    }
    return STRATA_FAIL(ctx, STRATA_EINVAL, "unknown family '%s' (binomial, poisson, gamma, gaussian)",
                       name ? name : "(null)");
}
