/* models/scores/scores_codes.h — comorbidity scores from category flags:
 * Charlson (Quan 2005 categories; weights Charlson 1987 or Quan 2011) and
 * Elixhauser (van Walraven 2009 or Swiss/Sharma 2021 weights), each with the
 * hierarchy rule (a milder form is dropped when its severe form is present),
 * and the eFI score and category. Pure functions of small arrays. */
#ifndef STRATA_SCORES_CODES_H
#define STRATA_SCORES_CODES_H

#include <stddef.h>

typedef struct strata_score_cat {
    const char *key;          /* category key as in data/codelists (mi, chf, ...) */
    int weight[2];            /* [0] charlson1987 / vanwalraven2009, [1] quan2011 / swiss2021 */
    const char *superseded_by; /* severe form that drops this one, or NULL */
} strata_score_cat;

typedef enum strata_score_system { STRATA_SCORE_CHARLSON = 0, STRATA_SCORE_ELIXHAUSER = 1 } strata_score_system;

/* The categories of a score system, in the order of data/codelists/charlson_weights.csv and elixhauser_weights.csv. */
const strata_score_cat *strata_score_categories(strata_score_system s, size_t *n);
/* Index of key in the system's categories, or -1. */
long strata_score_category_index(strata_score_system s, const char *key);
/* Weight set by name: charlson1987|quan2011 (Charlson), vanwalraven|swiss (Elixhauser); -1 unknown. */
int strata_score_weights_parse(strata_score_system s, const char *name);
/* Applies the hierarchy to present[] (n categories, 0/1, modified in place)
 * and returns the weighted sum with weight set w. */
int strata_score_sum(strata_score_system s, unsigned char *present, int w);
/* eFI: deficits / 36 as the score. */
double strata_efi_score(int deficits);

#endif
