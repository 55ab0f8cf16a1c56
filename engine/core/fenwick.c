/* engine/core/fenwick.c — a Fenwick (binary indexed) tree of weights over ranks
 * 1..nr, for the concordance counts of models/cox and engine/evaluate: add a
 * weight at a rank, sum the weights of ranks 1..k, clear a rank's path.
 * Invariant: tree[0] is unused; sums run in a fixed order (deterministic). */
#include "internal.h"

void strata_fenwick_add(double *tree, size_t nr, size_t k, double v)
{
    for (; k <= nr; k += k & (~k + 1))
        tree[k] += v;
}

double strata_fenwick_sum(const double *tree, size_t k)
{
    double s = 0;
    for (; k > 0; k -= k & (~k + 1))
        s += tree[k];
    return s;
}

void strata_fenwick_clear(double *tree, size_t nr, size_t k)
{
    for (; k <= nr; k += k & (~k + 1))
        tree[k] = 0;
}
