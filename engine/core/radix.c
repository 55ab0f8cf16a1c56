/* engine/core/radix.c — the one sort of doubles in strata: a stable LSD radix sort
 * of order-preserving 64-bit keys, 8 bits per pass, with optional row indices
 * carried along. Used by the evaluation (ranking scores), the risk tiers
 * (ranking patients) and the spline knots (sorting a column). Invariant: the
 * result depends only on the keys and their input order (stable), never on
 * threads or digit width; passes whose digit is the same for every key are
 * skipped (small integers stored as doubles sort in 2-3 passes). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t strata_f64_key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

double strata_key_f64(uint64_t k)
{
    uint64_t u = (k & 0x8000000000000000ull) ? (k & ~0x8000000000000000ull) : ~k;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

void strata_radix_sort(size_t n, uint64_t *key, size_t *row, uint64_t *k2, size_t *r2)
{
    uint64_t *ka = key, *kb = k2, *kt;
    size_t *ra = row, *rb = r2, *rt;
    if (n == 0)
        return;
    for (int shift = 0; shift < 64; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[((ka[i] >> shift) & 0xFF) + 1]++;
        if (cnt[((ka[0] >> shift) & 0xFF) + 1] == n)
            continue;
        for (int d = 0; d < 256; d++)
            cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < n; i++) {
            size_t pos = cnt[(ka[i] >> shift) & 0xFF]++;
            kb[pos] = ka[i];
            if (ra)
                rb[pos] = ra[i];
        }
        kt = ka, ka = kb, kb = kt;
        rt = ra, ra = rb, rb = rt;
    }
    if (ka != key) {
        memcpy(key, ka, n * sizeof *key);
        if (row)
            memcpy(row, ra, n * sizeof *row);
    }
}

static int keyrow_cmp(const void *a, const void *b)
{
    const strata_keyrow *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

void strata_keyrow_sort(strata_keyrow *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, keyrow_cmp);
}

size_t strata_keyrow_find(const strata_keyrow *v, size_t n, const char *k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].key, k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(v[lo].key, k) == 0 ? v[lo].row : (size_t)-1;
}
