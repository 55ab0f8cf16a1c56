/* engine/core/dist_internal.h — distribution functions the library uses but
 * does not export (the exported ones are in include/strata/dist.h): the
 * two-sided normal and Student t tail probabilities of coefficient tests and
 * the regularized incomplete beta under them. Implemented in engine/core/dist.c,
 * the one home of strata's distributions; checked against R in tests/test_glm_dist.c. */
#ifndef STRATA_DIST_INTERNAL_H
#define STRATA_DIST_INTERNAL_H

double strata_pnorm_upper2(double z);         /* 2 * P(Z > |z|); R's 2 * pnorm(-|z|) */
double strata_pt_upper2(double t, double df); /* 2 * P(T_df > |t|); R's 2 * pt(-|t|, df) */
double strata_pbeta(double x, double a, double b); /* regularized I_x(a, b); R's pbeta */

#endif
