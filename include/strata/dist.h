/* strata/dist.h — the one home of strata's distribution functions (normal and
 * gamma quantiles, exact Poisson and O/E intervals), implemented in
 * engine/core/dist.c without external libraries and checked against R. */
#ifndef STRATA_DIST_H
#define STRATA_DIST_H

#include "strata/core.h"

#ifdef __cplusplus
extern "C" {
#endif

STRATA_API double strata_qnorm(double p);             /* standard normal quantile (AS 241) */
STRATA_API double strata_pgamma(double a, double x);  /* regularized lower incomplete gamma P(a, x) */
STRATA_API double strata_pgamma_upper(double a, double x); /* its upper tail Q(a, x) = 1 - P(a, x) */
STRATA_API double strata_qgamma(double p, double a);  /* inverse of P(a, .): unit scale */
STRATA_API double strata_qchisq(double p, double df); /* = 2 qgamma(p, df/2) */

/* Exact (Garwood) Poisson interval for an observed count O at level (0.95):
 * lo = qgamma((1-level)/2, O) (0 when O = 0), hi = qgamma((1+level)/2, O+1),
 * as R's poisson.test. For O/E divide both by E (strata_oe_ci). */
STRATA_API strata_status strata_poisson_ci(strata_ctx *ctx, double obs, double level, double *lo, double *hi);
/* Byar's approximation to the Poisson limits of a count O > 0 (Breslow & Day
 * 1987; PHEindicatormethods byars_lower/upper): lo = O (1 - 1/(9O) - z/(3 sqrt O))^3,
 * hi = (O+1) (1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3, z = qnorm((1+level)/2). */
STRATA_API void strata_byar_ci(double obs, double level, double *lo, double *hi);
STRATA_API strata_status strata_oe_ci(strata_ctx *ctx, double obs, double expected, double level,
                           double *ratio, double *lo, double *hi);
/* The log-scale interval of a ratio r = O/E (the evaluation's calibration in
 * the large, Debray et al. 2017; the O/E columns of the fairness table):
 * r exp(-/+ z s), z = qnorm((1+level)/2), s^2 = 1/O - 1/n for a binary outcome
 * of n people (n > 0), 1/O for a count (n <= 0 or NaN). NaN limits unless
 * O > 0 (and n >= O for the binary form). */
STRATA_API void strata_oe_log_ci(double ratio, double obs, double n, double level, double *lo,
                                 double *hi);

#ifdef __cplusplus
}
#endif

#endif
