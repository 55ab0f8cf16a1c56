/* models/scores/scores_codes.c — Charlson and Elixhauser weights and their
 * hierarchy (data/codelists/charlson_weights.csv, elixhauser_weights.csv; a
 * test checks these tables against the files), summed from category flags.
 * Invariant: after the hierarchy no category and its severe form are both set. */
#include "scores_codes.h"

#include <string.h>

static const strata_score_cat charlson[] = {
    {"mi", {1, 0}, NULL},        {"chf", {1, 2}, NULL},      {"pvd", {1, 0}, NULL},
    {"cevd", {1, 0}, NULL},      {"dementia", {1, 2}, NULL}, {"cpd", {1, 1}, NULL},
    {"rheumd", {1, 1}, NULL},    {"pud", {1, 0}, NULL},      {"mld", {1, 2}, "msld"},
    {"diab", {1, 0}, "diabwc"},  {"diabwc", {2, 1}, NULL},   {"hp", {2, 2}, NULL},
    {"rend", {2, 1}, NULL},      {"canc", {2, 2}, "metacanc"}, {"msld", {3, 4}, NULL},
    {"metacanc", {6, 6}, NULL},  {"aids", {6, 4}, NULL}};

static const strata_score_cat elixhauser[] = {
    {"chf", {7, 13}, NULL},      {"carit", {5, 6}, NULL},     {"valv", {-1, -1}, NULL},
    {"pcd", {4, 6}, NULL},       {"pvd", {2, 3}, NULL},       {"hypunc", {0, -4}, "hypc"},
    {"hypc", {0, -3}, NULL},     {"para", {7, 11}, NULL},     {"ond", {6, 10}, NULL},
    {"cpd", {3, 3}, NULL},       {"diabunc", {0, 1}, "diabc"}, {"diabc", {0, -1}, NULL},
    {"hypothy", {0, -3}, NULL},  {"rf", {5, 8}, NULL},        {"ld", {11, 16}, NULL},
    {"pud", {0, 0}, NULL},       {"aids", {0, 0}, NULL},      {"lymph", {9, 9}, NULL},
    {"metacanc", {12, 17}, NULL}, {"solidtum", {4, 10}, "metacanc"}, {"rheumd", {0, -1}, NULL},
    {"coag", {3, 9}, NULL},      {"obes", {-4, -6}, NULL},    {"wloss", {6, 6}, NULL},
    {"fed", {5, 5}, NULL},       {"blane", {-2, -5}, NULL},   {"dane", {-2, -7}, NULL},
    {"alcohol", {0, -3}, NULL},  {"drug", {-7, -5}, NULL},    {"psycho", {0, -4}, NULL},
    {"depre", {-3, -3}, NULL}};

const strata_score_cat *strata_score_categories(strata_score_system s, size_t *n)
{
    if (s == STRATA_SCORE_CHARLSON) {
        *n = sizeof charlson / sizeof charlson[0];
        return charlson;
    }
    *n = sizeof elixhauser / sizeof elixhauser[0];
    return elixhauser;
}

long strata_score_category_index(strata_score_system s, const char *key)
{
    size_t n;
    const strata_score_cat *c = strata_score_categories(s, &n);
    for (size_t k = 0; k < n; k++)
        if (!strcmp(c[k].key, key))
            return (long)k;
    return -1;
}

int strata_score_weights_parse(strata_score_system s, const char *name)
{
    if (!name)
        return -1;
    if (s == STRATA_SCORE_CHARLSON)
        return !strcmp(name, "charlson1987") ? 0 : !strcmp(name, "quan2011") ? 1 : -1;
    return !strcmp(name, "vanwalraven") || !strcmp(name, "vanwalraven2009") ? 0
           : !strcmp(name, "swiss") || !strcmp(name, "swiss_sharma2021") ? 1
                                                                           : -1;
}

int strata_score_sum(strata_score_system s, unsigned char *present, int w)
{
    size_t n;
    const strata_score_cat *c = strata_score_categories(s, &n);
    int sum = 0;
    for (size_t k = 0; k < n; k++)
        if (present[k] && c[k].superseded_by) {
            long sev = strata_score_category_index(s, c[k].superseded_by);
            if (sev >= 0 && present[sev])
                present[k] = 0;
        }
    for (size_t k = 0; k < n; k++)
        if (present[k])
            sum += c[k].weight[w & 1];
    return sum;
}

double strata_efi_score(int deficits)
{
    return (double)deficits / 36.0;
}
