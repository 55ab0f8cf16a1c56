/* engine/report/report_names.c — area names (PCN, ICB, sub-ICB, region) from
 * data/reference/areas.csv, so outputs show "Wrekin PCN (U13205)" rather than
 * a bare code; and the glossary of aggregate-table columns. */
#include "report_internal.h"

#include "csv_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct area {
    char *key;  /* "TYPE\tCODE" */
    char *name;
} area;

struct report_names {
    area *a;
    size_t n, cap;
};

static int cmp_area(const void *x, const void *y)
{
    return strcmp(((const area *)x)->key, ((const area *)y)->key);
}

typedef struct load_state {
    strata_ctx *ctx;
    report_names *rn;
} load_state;

static strata_status add_area(void *ud, const csv_scanner *sc)
{
    load_state *ls = ud;
    report_names *rn = ls->rn;
    size_t kn;
    if (sc->rec_line == 1 || sc->nf < 3)
        return STRATA_OK;
    if (rn->n == rn->cap) {
        size_t cap = rn->cap ? 2 * rn->cap : 2048;
        area *a = strata_realloc(ls->ctx, rn->a, rn->cap * sizeof *a, cap * sizeof *a);
        if (!a)
            return STRATA_ENOMEM;
        rn->a = a;
        rn->cap = cap;
    }
    kn = strlen(sc->field[0]) + strlen(sc->field[1]) + 2;
    rn->a[rn->n].key = strata_alloc(ls->ctx, kn);
    rn->a[rn->n].name = strata_strdup(ls->ctx, sc->field[2]);
    if (!rn->a[rn->n].key || !rn->a[rn->n].name) {
        strata_free(ls->ctx, rn->a[rn->n].key, 0);
        strata_free(ls->ctx, rn->a[rn->n].name, 0);
        return STRATA_ENOMEM;
    }
    snprintf(rn->a[rn->n].key, kn, "%s\t%s", sc->field[0], sc->field[1]);
    rn->n++;
    return STRATA_OK;
}

strata_status report_names_load(strata_ctx *ctx, const char *dir, report_names **out)
{
    char ref[4096], path[4200];
    load_state ls;
    strata_status st;
    *out = NULL;
    if (!dir) {
        if (strata_synth_locate_data(ctx, ref, sizeof ref) != STRATA_OK) {
            strata_ctx_clear_error(ctx);
            ref[0] = '\0';
        }
        dir = ref;
    }
    ls.ctx = ctx;
    ls.rn = strata_calloc(ctx, 1, sizeof *ls.rn);
    if (!ls.rn)
        return STRATA_ENOMEM;
    snprintf(path, sizeof path, "%s/areas.csv", dir);
    if (*dir && access(path, R_OK) == 0) {
        st = csv_scan_file(ctx, path, ',', add_area, &ls, NULL);
        if (st != STRATA_OK) {
            report_names_free(ctx, ls.rn);
            return st;
        }
        qsort(ls.rn->a, ls.rn->n, sizeof *ls.rn->a, cmp_area);
    } else {
        strata_log(ctx, STRATA_LOG_INFO, "report: no areas.csv in '%s': areas shown by code", dir);
    }
    *out = ls.rn;
    return STRATA_OK;
}

void report_names_free(strata_ctx *ctx, report_names *rn)
{
    if (!rn)
        return;
    for (size_t i = 0; i < rn->n; i++) {
        strata_free(ctx, rn->a[i].key, 0);
        strata_free(ctx, rn->a[i].name, 0);
    }
    strata_free(ctx, rn->a, 0);
    strata_free(ctx, rn, sizeof *rn);
}

const char *report_name(const report_names *rn, const char *type, const char *code)
{
    char key[256];
    area k, *hit;
    if (!rn || !rn->n || !code || !*code)
        return NULL;
    snprintf(key, sizeof key, "%s\t%s", type, code);
    k.key = key;
    hit = bsearch(&k, rn->a, rn->n, sizeof *rn->a, cmp_area);
    return hit ? hit->name : NULL;
}

/* Words kept upper case when a name is given in capitals. */
static int keep_upper(const char *w, size_t n)
{
    static const char *const keep[] = {"PCN", "NHS", "ICB", "GP", "UK", "CIC", "LLP", "HCT", "II",
                                       "III", "IV", "SE", "SW", "NE", "NW", "N", "S", "E", "W"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (strlen(keep[i]) == n && !strncmp(w, keep[i], n))
            return 1;
    return 0;
}

const char *report_name_tidy(const char *name, char *buf, size_t size)
{
    size_t n = strlen(name), i = 0, lower = 0;
    if (size == 0)
        return "";
    for (size_t k = 0; k < n; k++)
        lower += islower((unsigned char)name[k]) != 0;
    snprintf(buf, size, "%s", name);
    if (lower) /* already mixed case: as given */
        return buf;
    while (buf[i]) {
        size_t s = i;
        while (buf[i] && isalnum((unsigned char)buf[i]))
            i++;
        if (i > s && !keep_upper(buf + s, i - s))
            for (size_t k = s + 1; k < i; k++)
                buf[k] = (char)tolower((unsigned char)buf[k]);
        while (buf[i] && !isalnum((unsigned char)buf[i]))
            i++;
    }
    return buf;
}

/* ---- glossary ------------------------------------------------------------- */

typedef struct gloss {
    const char *prefix, *meaning;
} gloss;

static const gloss GLOSS[] = {
    {"group_name", "area name from NHS ODS (data/reference/areas.csv)"},
    {"group", "area code (PCN, practice or ICB); ALL = every patient in the run"},
    {"n_list", "registered patients (list size)"},
    {"mean_risk", "mean predicted risk of an emergency admission in the next 12 months"},
    {"expected", "expected events: the sum of predicted risks (E)"},
    {"n_observed", "observed events (O)"},
    {"oe_lo", "lower 95% limit of O/E (exact Poisson)"},
    {"oe_hi", "upper 95% limit of O/E (exact Poisson)"},
    {"oe", "observed / expected events (O/E): above 1 = more events than the model expects"},
    {"n_F_", "women in the age band"},
    {"n_M_", "men in the age band"},
    {"n_agesex_unknown", "patients with unknown age or sex"},
    {"n_tier", "patients in the risk tier (tier 1 = highest risk)"},
    {"pct_tier", "% of the list in the risk tier"},
    {"n_seg_", "patients in the population segment (Bridges to Health)"},
    {"pct_seg_", "% of the list in the population segment"},
    {"funnel_flag", "funnel plot position of O/E: -2/-1 below the 99.8%/95% limit, 0 inside, "
                    "+1/+2 above the 95%/99.8% limit"},
    {"need_weighted_pop", "need-weighted population: list size weighted by predicted need"},
    {"need_index", "need per patient relative to the whole run (1 = average)"},
    {"fair_share", "share of the budget in proportion to need-weighted population"},
    {"n_core20", "patients living in Core20 areas (IMD deciles 1-2, the most deprived 20%)"},
    {"n_high_risk_core20", "high-risk patients (tiers 1-2) living in Core20 areas"},
    {"pct_high_risk_core20", "% of high-risk patients who live in Core20 areas"},
    {"n_high_risk", "high-risk patients (tiers 1-2)"},
    {"sii_lo", "lower 95% limit of the SII"},
    {"sii_hi", "upper 95% limit of the SII"},
    {"sii", "slope index of inequality: the absolute gap in mean risk (or event rate, _obs) "
            "between the most and least deprived ends of the IMD scale; negative = higher in "
            "deprived areas"},
    {"rii_lo", "lower 95% limit of the RII"},
    {"rii_hi", "upper 95% limit of the RII"},
    {"rii", "relative index of inequality: least / most deprived ratio on the IMD scale "
            "(below 1 = higher in deprived areas)"},
    {"deciles_used", "IMD deciles with enough patients to enter the SII"},
    {"subgroup", "the patient characteristic the model was checked within"},
    {"level", "the subgroup's level"},
    {"n", "patients in the subgroup"},
    {"events", "observed events in the subgroup"},
    {"c_statistic", "C-statistic (AUROC): chance a patient with an event was ranked above one "
                    "without (0.5 = chance, 1 = perfect)"},
    {"c_lo", "lower 95% limit of the C-statistic"},
    {"c_hi", "upper 95% limit of the C-statistic"},
    {"calibration_slope", "calibration slope (1 = risks spread as much as outcomes)"},
    {"flags", "subgroup flags: 1 too small to interpret, 2 O/E differs from overall, 4 slope "
              "differs, 8 C differs, 16 a fit did not converge (summed)"},
    {"suppressed_cells", "columns of this row withheld by disclosure control"},
};

static const char *suffix_meaning(const char *sfx, char *buf, size_t size)
{
    if (!strcmp(sfx, "_list"))
        return "";
    if (!strncmp(sfx, "_imdq_unknown", 13))
        snprintf(buf, size, " (patients with unknown deprivation)");
    else if (!strncmp(sfx, "_imdq", 5))
        snprintf(buf, size, " (IMD quintile %s; 1 = most deprived)", sfx + 5);
    else if (!strcmp(sfx, "_eth_unknown"))
        snprintf(buf, size, " (ethnicity unknown)");
    else if (!strncmp(sfx, "_eth_", 5))
        snprintf(buf, size, " (ethnic group %s)", sfx + 5);
    else if (!strcmp(sfx, "_obs"))
        snprintf(buf, size, " (observed event rate)");
    else
        return "";
    return buf;
}

const char *report_column_meaning(const char *col, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof GLOSS / sizeof GLOSS[0]; i++) {
        size_t k = strlen(GLOSS[i].prefix);
        if (!strncmp(col, GLOSS[i].prefix, k)) {
            char sfx[96];
            const char *rest = col + k, *s;
            /* "oe" must not claim "oe_lo..." (listed earlier) nor "n" claim "n_list" */
            if (k <= 2 && *rest && *rest != '_')
                continue;
            if (!strcmp(GLOSS[i].prefix, "n") && *rest)
                continue;
            s = *rest == '_' ? suffix_meaning(rest, sfx, sizeof sfx) : "";
            snprintf(buf, size, "%s%s", GLOSS[i].meaning, s);
            return buf;
        }
    }
    if (size)
        buf[0] = '\0';
    return buf;
}
