/* engine/run/run_spec.c — loads and checks a run spec (YAML) into
 * strata_run_spec. Every key is known or refused; values are range-checked;
 * each error names the spec file, the key and its line. The parsed tree stays
 * alive in priv_ because the spec's strings point into it. */
#include "run_elnet.h"
#include "strata/run.h"
#include "strata/stratify.h"
#include "yaml_tree.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strata_run_spec_init(strata_run_spec *s)
{
    memset(s, 0, sizeof *s);
    s->family = "binomial";
    s->synth_seed = 1;
    s->seed = 1;
    s->tiers[0] = 0.005;
    s->tiers[1] = 0.045;
    s->tiers[2] = 0.15;
    s->n_tiers = 3;
    s->capacity_per_1000 = 5;
    s->proportionate_universalism = 1;
    s->funnel_od = "none";
    s->charlson_weights = "charlson1987";
    s->disclosure = 1;
    s->suppress_max = 7;
    s->round_to = 5;
    s->title = "Population risk stratification";
}

void strata_run_spec_free(strata_ctx *ctx, strata_run_spec *s)
{
    if (!s)
        return;
    strata_yaml_free(ctx, s->priv_);
    strata_free(ctx, s->base_dir_, 0);
    strata_free(ctx, s->path_, 0);
    strata_run_spec_init(s);
}

void strata_run_spec_path(const strata_run_spec *s, const char *rel, char *buf, size_t size)
{
    if (rel[0] == '/' || !s->base_dir_ || !s->base_dir_[0])
        snprintf(buf, size, "%s", rel);
    else
        snprintf(buf, size, "%s/%s", s->base_dir_, rel);
}

static strata_status bad(strata_ctx *ctx, const char *file, const ynode *map, const char *key,
                         const char *why)
{
    return strata_yaml_bad_key(ctx, file, map, key, why);
}

static strata_status parse_cohort(strata_ctx *ctx, const char *f, const ynode *root,
                                  strata_run_spec *s)
{
    static const char *const synth_keys[] = {"icb", "pcn", "england", "patients", "seed", NULL};
    const ynode *syn = strata_yaml_get(root, "synth");
    STRATA_TRY(strata_yaml_str(ctx, f, root, "cohort", &s->cohort));
    if (syn) {
        int england = 0;
        if (syn->kind != YN_MAP)
            return bad(ctx, f, root, "synth", "must be a mapping (icb/pcn/england, patients, seed)");
        STRATA_TRY(strata_yaml_only_keys(ctx, f, syn, "synth", synth_keys));
        if (s->cohort)
            return bad(ctx, f, root, "synth", "give either cohort or synth, not both");
        s->synth_scope = "icb";
        STRATA_TRY(strata_yaml_str(ctx, f, syn, "icb", &s->synth_code));
        if (strata_yaml_get(syn, "pcn")) {
            if (s->synth_code)
                return bad(ctx, f, syn, "pcn", "give one of icb, pcn, england");
            s->synth_scope = "pcn";
            STRATA_TRY(strata_yaml_str(ctx, f, syn, "pcn", &s->synth_code));
        }
        STRATA_TRY(strata_yaml_bool(ctx, f, syn, "england", &england));
        if (england) {
            if (s->synth_code)
                return bad(ctx, f, syn, "england", "give one of icb, pcn, england");
            s->synth_scope = "england";
        }
        STRATA_TRY(strata_yaml_long(ctx, f, syn, "patients", &s->synth_patients));
        if (s->synth_patients < 0)
            return bad(ctx, f, syn, "patients", "must be >= 0");
        STRATA_TRY(strata_yaml_long(ctx, f, syn, "seed", &s->synth_seed));
    }
    if (!s->cohort && !s->synth_scope)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: the spec needs \"cohort: FILE\" or a \"synth:\" section",
                           f);
    return STRATA_OK;
}

/* derive: FILE (a derive spec) or an inline mapping of the derive spec's keys,
 * read by strata_derive_key when the job runs. */
static strata_status parse_derive(strata_ctx *ctx, const char *f, const ynode *root,
                                  strata_run_spec *s)
{
    const ynode *d = strata_yaml_get(root, "derive");
    if (!d)
        return STRATA_OK;
    if (d->kind == YN_SCALAR) {
        s->derive = d->scalar;
        return STRATA_OK;
    }
    if (d->kind != YN_MAP)
        return bad(ctx, f, root, "derive", "must be a derive spec file or a mapping (index_date, "
                   "codelists, features, outcomes)");
    if (!(s->path_ = strata_strdup(ctx, f)))
        return STRATA_ENOMEM;
    s->derive = s->path_;
    s->derive_key = "derive";
    return STRATA_OK;
}

static strata_status parse_model(strata_ctx *ctx, const char *f, const ynode *root,
                                 strata_run_spec *s)
{
    static const char *const keys[] = {"load",   "family",  "formula", "weights",        "outcome",
                                       "horizon", "ties",   "alpha",   "cv",      "nlambda",
                                       "lambda_min_ratio", "select", "seed", "penalty_factor", NULL};
    const ynode *m = strata_yaml_get(root, "model");
    if (!m || m->kind != YN_MAP)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: the spec needs a \"model:\" mapping "
                           "(formula and family, or load)",
                           f, m ? m->line : 1);
    STRATA_TRY(strata_yaml_only_keys(ctx, f, m, "model", keys));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "load", &s->model_load));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "family", &s->family));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "formula", &s->formula));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "weights", &s->weights));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "outcome", &s->outcome));
    STRATA_TRY(strata_yaml_double(ctx, f, m, "horizon", &s->horizon));
    STRATA_TRY(strata_yaml_str(ctx, f, m, "ties", &s->ties));
    if (s->family && !strcmp(s->family, "cox") && !(s->horizon > 0))
        return bad(ctx, f, m, "horizon", "family cox needs a horizon > 0 (e.g. horizon: 365)");
    if (s->ties && strcmp(s->ties, "efron") && strcmp(s->ties, "breslow"))
        return bad(ctx, f, m, "ties", "ties is efron or breslow");
    if (!s->model_load && !s->formula)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: model needs \"formula\" (or \"load: MODEL.h5\")",
                           f, m->line);
    if (s->model_load && s->formula)
        return bad(ctx, f, m, "load", "give either load or formula, not both");
    return run_elnet_parse(ctx, f, m, s); /* alpha, cv, ...: engine/run/run_elnet.c */
}

static strata_status parse_evaluate(strata_ctx *ctx, const char *f, const ynode *root,
                                    strata_run_spec *s)
{
    static const char *const keys[] = {"by", "bootstrap", "seed", NULL};
    const ynode *e = strata_yaml_get(root, "evaluate"), *by;
    if (!e)
        return STRATA_OK;
    if (e->kind != YN_MAP)
        return bad(ctx, f, root, "evaluate", "must be a mapping (by, bootstrap, seed)");
    STRATA_TRY(strata_yaml_only_keys(ctx, f, e, "evaluate", keys));
    by = strata_yaml_get(e, "by");
    if (by) {
        if (by->kind != YN_SEQ)
            return bad(ctx, f, e, "by", "must be a list of columns, e.g. [imd_quintile, ethnicity]");
        if (by->n > STRATA_RUN_MAX_BY)
            return bad(ctx, f, e, "by", "too many subgroup columns (at most 16)");
        for (size_t i = 0; i < by->n; i++) {
            if (by->items[i]->kind != YN_SCALAR)
                return bad(ctx, f, e, "by", "must be a list of column names");
            s->by[i] = by->items[i]->scalar;
        }
        s->n_by = by->n;
    }
    STRATA_TRY(strata_yaml_long(ctx, f, e, "bootstrap", &s->bootstrap));
    if (s->bootstrap < 0 || s->bootstrap > 10000)
        return bad(ctx, f, e, "bootstrap", "must be between 0 and 10000");
    STRATA_TRY(strata_yaml_long(ctx, f, e, "seed", &s->seed));
    return STRATA_OK;
}

/* stratify.plus: name: {column: C, levels: [L, ...]} per PLUS group (levels
 * absent: C is a 0/1 flag). */
static strata_status parse_plus(strata_ctx *ctx, const char *f, const ynode *st,
                                strata_run_spec *s)
{
    static const char *const keys[] = {"column", "levels", NULL};
    const ynode *pl = strata_yaml_get(st, "plus");
    if (!pl)
        return STRATA_OK;
    if (pl->kind != YN_MAP || pl->n > STRATA_RUN_MAX_PLUS)
        return bad(ctx, f, st, "plus", "must be a mapping of at most 8 PLUS groups, e.g. "
                                       "ethnic_minority: {column: ethnicity, levels: [Asian, Black]}");
    for (size_t k = 0; k < pl->n; k++) {
        const ynode *g = pl->items[k], *lv;
        const char *col = NULL;
        if (g->kind != YN_MAP)
            return bad(ctx, f, pl, pl->keys[k], "must be a mapping (column, levels)");
        STRATA_TRY(strata_yaml_only_keys(ctx, f, g, pl->keys[k], keys));
        STRATA_TRY(strata_yaml_str(ctx, f, g, "column", &col));
        if (!col)
            return bad(ctx, f, pl, pl->keys[k], "needs column: the cohort column to match");
        s->plus_name[k] = pl->keys[k];
        s->plus_column[k] = col;
        lv = strata_yaml_get(g, "levels");
        if (lv && (lv->kind != YN_SEQ || lv->n == 0 || lv->n > STRATA_RUN_MAX_PLUS_LEVELS))
            return bad(ctx, f, g, "levels", "must be a list of 1 to 16 level names");
        for (size_t i = 0; lv && i < lv->n; i++) {
            if (lv->items[i]->kind != YN_SCALAR)
                return bad(ctx, f, g, "levels", "must be a list of level names");
            s->plus_levels[k][i] = lv->items[i]->scalar;
        }
        s->n_plus_levels[k] = lv ? lv->n : 0;
    }
    s->n_plus = pl->n;
    return STRATA_OK;
}

static strata_status parse_stratify(strata_ctx *ctx, const char *f, const ynode *root,
                                    strata_run_spec *s)
{
    static const char *const keys[] = {"tiers", "tier_thresholds", "tiers_within",
                                       "capacity_per_1000", "capacity",
                                       "proportionate_universalism", "budget",
                                       "funnel_overdispersion", "charlson_weights", "plus", NULL};
    const ynode *st = strata_yaml_get(root, "stratify"), *tiers, *thr;
    const char *within = NULL;
    strata_charlson_weights cw;
    if (!st)
        return STRATA_OK;
    if (st->kind != YN_MAP)
        return bad(ctx, f, root, "stratify", "must be a mapping");
    STRATA_TRY(strata_yaml_only_keys(ctx, f, st, "stratify", keys));
    tiers = strata_yaml_get(st, "tiers");
    if (tiers) {
        double sum = 0;
        if (tiers->kind != YN_SEQ || tiers->n == 0 || tiers->n > STRATA_RUN_MAX_TIERS)
            return bad(ctx, f, st, "tiers", "must be a list of 1 to 8 top fractions, e.g. [0.005, 0.045, 0.15]");
        for (size_t i = 0; i < tiers->n; i++) {
            char *end;
            double v = tiers->items[i]->kind == YN_SCALAR ? strtod(tiers->items[i]->scalar, &end) : -1;
            if (tiers->items[i]->kind != YN_SCALAR || *end || !(v > 0 && v < 1))
                return bad(ctx, f, st, "tiers", "each tier is a fraction strictly between 0 and 1");
            s->tiers[i] = v;
            sum += v;
        }
        if (sum >= 1)
            return bad(ctx, f, st, "tiers", "the tier fractions must add up to less than 1 (the rest is the last tier)");
        s->n_tiers = tiers->n;
    }
    thr = strata_yaml_get(st, "tier_thresholds");
    if (thr) {
        if (tiers)
            return bad(ctx, f, st, "tier_thresholds", "give either tiers (fractions) or tier_thresholds (risks), not both");
        if (thr->kind != YN_SEQ || thr->n == 0 || thr->n > STRATA_RUN_MAX_TIERS)
            return bad(ctx, f, st, "tier_thresholds", "must be a list of 1 to 8 risk thresholds, highest first, e.g. [0.5, 0.2, 0.1]");
        for (size_t i = 0; i < thr->n; i++) {
            char *end;
            double v = thr->items[i]->kind == YN_SCALAR ? strtod(thr->items[i]->scalar, &end) : -1;
            if (thr->items[i]->kind != YN_SCALAR || *end || !isfinite(v))
                return bad(ctx, f, st, "tier_thresholds", "each threshold is a number");
            if (i > 0 && !(v < s->tiers[i - 1]))
                return bad(ctx, f, st, "tier_thresholds", "thresholds must be strictly decreasing");
            s->tiers[i] = v;
        }
        s->n_tiers = thr->n;
        s->tiers_absolute = 1;
    }
    STRATA_TRY(strata_yaml_str(ctx, f, st, "funnel_overdispersion", &s->funnel_od));
    if (strcmp(s->funnel_od, "none") && strcmp(s->funnel_od, "winsorise") && strcmp(s->funnel_od, "shmi"))
        return bad(ctx, f, st, "funnel_overdispersion", "must be none, winsorise or shmi");
    STRATA_TRY(strata_yaml_str(ctx, f, st, "charlson_weights", &s->charlson_weights));
    if (strata_charlson_weights_parse(ctx, s->charlson_weights, &cw) != STRATA_OK)
        return bad(ctx, f, st, "charlson_weights",
                   "must be charlson1987 (Charlson 1987, the default) or quan2011 (Quan 2011)");
    STRATA_TRY(strata_yaml_str(ctx, f, st, "tiers_within", &within));
    if (within) {
        if (!strcmp(within, "pcn"))
            s->tiers_within_pcn = 1;
        else if (!strcmp(within, "all") || !strcmp(within, "icb"))
            s->tiers_within_pcn = 0;
        else
            return bad(ctx, f, st, "tiers_within", "must be \"all\" or \"pcn\"");
    }
    STRATA_TRY(strata_yaml_double(ctx, f, st, "capacity_per_1000", &s->capacity_per_1000));
    if (s->capacity_per_1000 < 0 || s->capacity_per_1000 > 1000)
        return bad(ctx, f, st, "capacity_per_1000", "must be between 0 and 1000");
    STRATA_TRY(strata_yaml_long(ctx, f, st, "capacity", &s->capacity));
    if (s->capacity < 0)
        return bad(ctx, f, st, "capacity", "must be >= 0");
    STRATA_TRY(strata_yaml_bool(ctx, f, st, "proportionate_universalism", &s->proportionate_universalism));
    STRATA_TRY(strata_yaml_double(ctx, f, st, "budget", &s->budget));
    if (s->budget < 0)
        return bad(ctx, f, st, "budget", "must be >= 0");
    return parse_plus(ctx, f, st, s);
}

static strata_status parse_disclosure(strata_ctx *ctx, const char *f, const ynode *root,
                                      strata_run_spec *s)
{
    static const char *const keys[] = {"enabled", "suppress_max", "round_to", NULL};
    const ynode *d = strata_yaml_get(root, "disclosure");
    if (!d)
        return STRATA_OK;
    if (d->kind != YN_MAP)
        return bad(ctx, f, root, "disclosure", "must be a mapping (enabled, suppress_max, round_to)");
    STRATA_TRY(strata_yaml_only_keys(ctx, f, d, "disclosure", keys));
    STRATA_TRY(strata_yaml_bool(ctx, f, d, "enabled", &s->disclosure));
    STRATA_TRY(strata_yaml_long(ctx, f, d, "suppress_max", &s->suppress_max));
    if (s->suppress_max < 1 || s->suppress_max > 100) {
        /* 0 passed here and failed the run at its first table ("range [1, 0]") */
        char why[200];
        snprintf(why, sizeof why,
                 "%ld is out of range: counts 1 to suppress_max are withheld, so it is between 1 "
                 "and 100 (to publish exact counts: enabled: false)",
                 s->suppress_max);
        return bad(ctx, f, d, "suppress_max", why);
    }
    STRATA_TRY(strata_yaml_long(ctx, f, d, "round_to", &s->round_to));
    if (s->round_to < 1 || s->round_to > 1000)
        return bad(ctx, f, d, "round_to", "must be between 1 and 1000");
    return STRATA_OK;
}

/* memory: 4G — the run's memory budget (strata_parse_size; docs/scale.md). */
static strata_status parse_memory(strata_ctx *ctx, const char *path, const ynode *root,
                                  strata_run_spec *s)
{
    const char *v = NULL;
    STRATA_TRY(strata_yaml_str(ctx, path, root, "memory", &v));
    if (v && strata_parse_size(v, &s->memory) != 0)
        return bad(ctx, path, root, "memory", "must be a size such as 4G, 512M or 100000 (bytes)");
    return STRATA_OK;
}

strata_status strata_run_spec_load(strata_ctx *ctx, const char *path, strata_run_spec *s)
{
    static const char *const top[] = {"cohort", "synth", "derive", "model", "evaluate",
                                      "stratify", "disclosure", "report", "threads", "memory",
                                      "allow_invalid", NULL};
    static const char *const report_keys[] = {"title", "per_pcn", NULL};
    ynode *root = NULL;
    const ynode *rep;
    const char *slash;
    strata_status st;

    strata_run_spec_init(s);
    STRATA_TRY(strata_yaml_load(ctx, path, &root));
    s->priv_ = root;
    slash = strrchr(path, '/');
    s->base_dir_ = strata_strdup(ctx, slash ? path : ".");
    if (!s->base_dir_) {
        strata_run_spec_free(ctx, s);
        return STRATA_ENOMEM;
    }
    if (slash)
        s->base_dir_[slash - path] = '\0';
    st = strata_yaml_only_keys(ctx, path, root, "the spec", top);
    if (st == STRATA_OK)
        st = parse_cohort(ctx, path, root, s);
    if (st == STRATA_OK)
        st = parse_derive(ctx, path, root, s);
    if (st == STRATA_OK)
        st = parse_model(ctx, path, root, s);
    if (st == STRATA_OK)
        st = parse_evaluate(ctx, path, root, s);
    if (st == STRATA_OK)
        st = parse_stratify(ctx, path, root, s);
    if (st == STRATA_OK)
        st = parse_disclosure(ctx, path, root, s);
    if (st == STRATA_OK && (rep = strata_yaml_get(root, "report")) != NULL) {
        if (rep->kind != YN_MAP)
            st = bad(ctx, path, root, "report", "must be a mapping (title, per_pcn)");
        if (st == STRATA_OK)
            st = strata_yaml_only_keys(ctx, path, rep, "report", report_keys);
        if (st == STRATA_OK)
            st = strata_yaml_str(ctx, path, rep, "title", &s->title);
        if (st == STRATA_OK)
            st = strata_yaml_bool(ctx, path, rep, "per_pcn", &s->per_pcn);
    }
    if (st == STRATA_OK)
        st = strata_yaml_long(ctx, path, root, "threads", &s->threads);
    if (st == STRATA_OK && (s->threads < 0 || s->threads > 1024))
        st = bad(ctx, path, root, "threads", "must be between 0 and 1024");
    if (st == STRATA_OK)
        st = parse_memory(ctx, path, root, s);
    if (st == STRATA_OK)
        st = strata_yaml_bool(ctx, path, root, "allow_invalid", &s->allow_invalid);
    if (st != STRATA_OK)
        strata_run_spec_free(ctx, s);
    return st;
}
