/* engine/derive/derive_spec.c — reads a derive spec (YAML, docs/derive.md):
 * index date, named code lists, features and outcomes. Every key is known or
 * refused and every error names the spec file, the line and the key; tables
 * and columns are checked against the cohort before any event is read. */
#include "derive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    dv_kind kind;
} kinds[] = {{"count", DK_COUNT},       {"any", DK_ANY},
             {"ever", DK_EVER},         {"sum", DK_SUM},
             {"max", DK_MAX},           {"min", DK_MIN},
             {"last", DK_LAST},         {"days_since", DK_DAYS_SINCE},
             {"distinct", DK_DISTINCT}, {"flags", DK_FLAGS},
             {"multimorbidity", DK_MULTIMORBIDITY}, {"charlson", DK_CHARLSON},
             {"elixhauser", DK_ELIXHAUSER}, {"efi", DK_EFI},
             {"acsc", DK_ACSC},         {"time_to_first", DK_TIME_TO_FIRST},
             {"add", DK_ADD}};

strata_status dv_resolve(strata_ctx *ctx, const dv_spec *s, const char *path, char *out, size_t n)
{
    const char *bases[3] = {"", s->dir, STRATA_DATA_DIR "/.."};
    for (int k = 0; k < 3; k++) {
        if (k > 0 && path[0] == '/')
            break;
        if (k == 0 || !bases[k] || !*bases[k])
            snprintf(out, n, "%s", path);
        else
            snprintf(out, n, "%s/%s", bases[k], path);
        if (access(out, R_OK) == 0)
            return STRATA_OK;
    }
    return STRATA_FAIL(ctx, STRATA_ESPEC,
                       "%s: file '%s' not found (looked as given, beside the spec and in %s/..)",
                       s->path, path, STRATA_DATA_DIR);
}

static strata_status index_date(strata_ctx *ctx, dv_spec *s, const ynode *root)
{
    const ynode *n = strata_yaml_get(root, "index_date");
    const char *col = NULL;
    s->index_day = DV_NONE_DAY;
    if (!n)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: key \"index_date\" is required (a date "
                           "YYYY-MM-DD or {column: NAME})", s->path);
    if (n->kind == YN_SCALAR && strata_date_parse(n->scalar, STRATA_DATE_ISO, &s->index_day) == 0)
        return STRATA_OK;
    if (n->kind == YN_MAP)
        STRATA_TRY(strata_yaml_str(ctx, s->path, n, "column", &col));
    if (!col)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: index_date: '%s' is not a date "
                           "(YYYY-MM-DD) or {column: NAME}", s->path, n->line,
                           n->kind == YN_SCALAR ? n->scalar : "");
    return (s->index_col = strata_strdup(ctx, col)) ? STRATA_OK : STRATA_ENOMEM;
}

static strata_status add_codelist(strata_ctx *ctx, dv_spec *s, const char *name, const char *path,
                                  strata_code_match m)
{
    char full[4096];
    strata_codelist *cl = NULL;
    char **nn;
    strata_codelist **nc;
    STRATA_TRY(dv_resolve(ctx, s, path, full, sizeof full));
    STRATA_TRY(strata_codelist_load(ctx, full, m, &cl));
    nn = strata_realloc(ctx, s->cl_name, s->ncl * sizeof *nn, (s->ncl + 1) * sizeof *nn);
    if (nn)
        s->cl_name = nn;
    nc = nn ? strata_realloc(ctx, s->cl, s->ncl * sizeof *nc, (s->ncl + 1) * sizeof *nc) : NULL;
    if (!nc || !(s->cl_name[s->ncl] = strata_strdup(ctx, name))) {
        strata_codelist_free(cl);
        return STRATA_ENOMEM;
    }
    s->cl = nc;
    s->cl[s->ncl++] = cl;
    return STRATA_OK;
}

static strata_status codelists(strata_ctx *ctx, dv_spec *s, const ynode *root)
{
    const ynode *m = strata_yaml_get(root, "codelists");
    if (!m)
        return STRATA_OK;
    if (m->kind != YN_MAP)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: codelists: expected NAME: FILE entries",
                           s->path, m->line);
    for (size_t k = 0; k < m->n; k++) {
        const ynode *v = m->items[k];
        const char *path = v->kind == YN_SCALAR ? v->scalar : NULL, *match = NULL;
        strata_code_match cm = STRATA_MATCH_EXACT;
        if (v->kind == YN_MAP) {
            static const char *const keys[] = {"path", "match", NULL};
            STRATA_TRY(strata_yaml_only_keys(ctx, s->path, v, "codelists", keys));
            STRATA_TRY(strata_yaml_str(ctx, s->path, v, "path", &path));
            STRATA_TRY(strata_yaml_str(ctx, s->path, v, "match", &match));
        }
        if (!path || (match && strcmp(match, "prefix") && strcmp(match, "exact")))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: codelists: %s: expected FILE or "
                               "{path: FILE, match: prefix|exact}", s->path, m->key_lines[k],
                               m->keys[k]);
        if (match && !strcmp(match, "prefix"))
            cm = STRATA_MATCH_PREFIX;
        STRATA_TRY(add_codelist(ctx, s, m->keys[k], path, cm));
    }
    return STRATA_OK;
}

static strata_status parse_kind(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const char *k = NULL;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "kind", &k));
    for (size_t i = 0; k && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(k, kinds[i].name)) {
            it->kind = kinds[i].kind;
            return STRATA_OK;
        }
    return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: kind '%s' is not one of count, any, "
                       "ever, sum, max, min, last, days_since, distinct, flags, multimorbidity, "
                       "charlson, elixhauser, efi, acsc, time_to_first, add",
                       s->path, n->line, it->name ? it->name : "item", k ? k : "(missing)");
}

static strata_status parse_window(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const ynode *w = strata_yaml_get(n, "window");
    char *e0, *e1;
    long a, b;
    it->lo = DV_INF_LO;
    it->hi = -1; /* features: everything before the index date */
    if (!w) {
        if (it->outcome)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: outcome %s needs a window "
                               "[FROM, TO] (days after the index date)", s->path, n->line, it->name);
        return STRATA_OK;
    }
    if (it->kind == DK_EVER)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: kind ever takes no window (it is "
                           "any time before the index date; use any with a window)",
                           s->path, w->line, it->name);
    if (w->kind != YN_SEQ || w->n != 2 || w->items[0]->kind != YN_SCALAR ||
        w->items[1]->kind != YN_SCALAR ||
        (a = strtol(w->items[0]->scalar, &e0, 10), *e0) ||
        (b = strtol(w->items[1]->scalar, &e1, 10), *e1) || a < -100000 || b > 100000)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: window must be [FROM, TO], whole "
                           "days relative to the index date", s->path, w->line, it->name);
    if (a > b)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: window [%ld, %ld] is empty",
                           s->path, w->line, it->name, a, b);
    it->lo = (int)a;
    it->hi = (int)b;
    return STRATA_OK;
}

/* flags: `prefix:` of the column names (default "<name>_"; "" names them by category). */
static strata_status parse_prefix(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const char *pre = NULL;
    char def[300];
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "prefix", &pre));
    if (pre && (it->kind != DK_FLAGS || strchr(pre, '/') || strchr(pre, '.')))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: prefix is the start of a flags "
                           "item's column names (no '/' or '.')", s->path, n->line, it->name);
    snprintf(def, sizeof def, "%s_", it->name);
    return (it->prefix = strata_strdup(ctx, pre ? pre : def)) ? STRATA_OK : STRATA_ENOMEM;
}

/* `type:` (the first output's storage type) and, for time_to_first, `event_name:`. */
static strata_status parse_output(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const char *type = NULL, *ev = NULL;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "type", &type));
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "event_name", &ev));
    it->otype = STRATA_DT_NONE;
    for (int t = STRATA_DT_INT8; type && t <= STRATA_DT_FLOAT64; t++)
        if (t != STRATA_DT_INT64 && !strcmp(type, strata_dtype_name((strata_dtype)t)))
            it->otype = (strata_dtype)t;
    if (type && it->otype == STRATA_DT_NONE)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: type '%s' is not one of int8, "
                           "int16, int32, float32, float64", s->path, n->line, it->name, type);
    if (ev && (it->kind != DK_TIME_TO_FIRST || !*ev || strchr(ev, '/') || strchr(ev, '.')))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: event_name is the indicator "
                           "column of a time_to_first outcome (a name without '/' or '.')",
                           s->path, n->line, it->name);
    if (ev && !(it->event_name = strata_strdup(ctx, ev)))
        return STRATA_ENOMEM;
    return parse_prefix(ctx, s, n, it);
}

/* kind add: `of: [ITEM, ...]`, earlier items whose first outputs are summed. */
static strata_status parse_add(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const ynode *of = strata_yaml_get(n, "of");
    static const char *const event_keys[] = {"table", "window", "at_least", "code_prefix",
                                             "registered_only", "polypharmacy", NULL};
    for (int k = 0; event_keys[k]; k++)
        if (strata_yaml_get(n, event_keys[k]))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: kind add takes no %s (it "
                               "sums the items named in of:)", s->path, n->line, it->name,
                               event_keys[k]);
    if (!of || of->kind != YN_SEQ || of->n < 1 || of->n > DV_MAX_ADD)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: kind add needs of: [ITEM, ...] "
                           "(1 to %d earlier items)", s->path, n->line, it->name, DV_MAX_ADD);
    for (size_t k = 0; k < of->n; k++) {
        const char *ref = of->items[k]->kind == YN_SCALAR ? of->items[k]->scalar : "";
        size_t q = 0;
        while (q + 1 < s->nitem && strcmp(s->item[q].name, ref))
            q++;
        if (q + 1 >= s->nitem)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: of: '%s' is not an earlier "
                               "feature or outcome", s->path, of->line, it->name, ref);
        it->add[it->nadd++] = (int)q;
    }
    it->table = -1;
    it->value_col = -1;
    it->nout = 1;
    return STRATA_OK;
}

/* The earlier item named ref (not it itself), or -1. */
static int earlier_item(const dv_spec *s, const char *ref)
{
    for (size_t q = 0; q + 1 < s->nitem; q++)
        if (!strcmp(s->item[q].name, ref))
            return (int)q;
    return -1;
}

/* `at_least:` (a 0/1 column: the count, distinct codes or sum is at least K),
 * `code_prefix:` (distinct: codes compared on their first N characters, e.g.
 * BNF chapter 2, section 4, paragraph 6), `registered_only:` (this item's
 * events only while the patient is registered and alive) and, for efi,
 * `polypharmacy:` (an earlier 0/1 feature that is the 36th deficit). */
static strata_status parse_extras(strata_ctx *ctx, const dv_spec *s, const ynode *n, dv_item *it)
{
    const char *poly = NULL;
    long chars = 0;
    STRATA_TRY(strata_yaml_bool(ctx, s->path, n, "registered_only", &it->registered));
    if (strata_yaml_get(n, "at_least")) {
        STRATA_TRY(strata_yaml_double(ctx, s->path, n, "at_least", &it->at_least));
        if (it->kind != DK_COUNT && it->kind != DK_DISTINCT && it->kind != DK_SUM &&
            it->kind != DK_ACSC)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: at_least applies to count, "
                               "distinct, sum and acsc", s->path, n->line, it->name);
        if (!isfinite(it->at_least))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: at_least must be a finite "
                               "number", s->path, n->line, it->name);
        it->has_at_least = 1;
    }
    STRATA_TRY(strata_yaml_long(ctx, s->path, n, "code_prefix", &chars));
    if (strata_yaml_get(n, "code_prefix") && (it->kind != DK_DISTINCT || chars < 1 || chars > 64))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: code_prefix is a distinct item's "
                           "number of leading code characters compared (1 to 64)", s->path,
                           n->line, it->name);
    it->code_chars = (int)chars;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "polypharmacy", &poly));
    if (poly) {
        int q = earlier_item(s, poly);
        const dv_item *p = q >= 0 ? &s->item[q] : NULL;
        if (it->kind != DK_EFI)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: polypharmacy applies to kind "
                               "efi", s->path, n->line, it->name);
        if (!p || p->outcome || !(p->has_at_least || p->kind == DK_ANY || p->kind == DK_EVER))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: polypharmacy: '%s' is not an "
                               "earlier 0/1 feature (kind any, or distinct with at_least: 5)",
                               s->path, n->line, it->name, poly);
        it->poly_item = q;
    }
    return STRATA_OK;
}

static strata_status parse_items(strata_ctx *ctx, dv_spec *s, const ynode *root, strata_cohort *c,
                                 const char *key, int outcome)
{
    static const char *const keys[] = {"name", "kind", "table", "codelist", "codes", "position",
                                       "where", "value", "window", "weights", "censor", "type",
                                       "event_name", "of", "prefix", "at_least", "code_prefix",
                                       "registered_only", "polypharmacy", NULL};
    const ynode *seq = strata_yaml_get(root, key);
    dv_item *ni;
    if (!seq)
        return STRATA_OK;
    if (seq->kind != YN_SEQ)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: expected a list of items",
                           s->path, seq->line, key);
    ni = strata_realloc(ctx, s->item, s->nitem * sizeof *ni, (s->nitem + seq->n) * sizeof *ni);
    if (!ni)
        return STRATA_ENOMEM;
    s->item = ni;
    for (size_t k = 0; k < seq->n; k++) {
        const ynode *n = seq->items[k];
        dv_item *it = &s->item[s->nitem];
        const char *name = NULL;
        memset(it, 0, sizeof *it);
        it->outcome = outcome;
        it->line = n->line;
        it->value_col = -1;
        it->poly_item = -1;
        it->registered = s->registered_only;
        s->nitem++;
        if (n->kind != YN_MAP)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: each item is a mapping "
                               "{name: ..., kind: ..., table: ...}", s->path, n->line, key);
        STRATA_TRY(strata_yaml_only_keys(ctx, s->path, n, key, keys));
        STRATA_TRY(strata_yaml_str(ctx, s->path, n, "name", &name));
        if (!name || !*name || strchr(name, '/') || strchr(name, '.'))
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: each item needs a name "
                               "without '/' or '.'", s->path, n->line, key);
        if (!(it->name = strata_strdup(ctx, name)))
            return STRATA_ENOMEM;
        STRATA_TRY(parse_kind(ctx, s, n, it));
        if (outcome && it->kind != DK_TIME_TO_FIRST && it->kind != DK_ANY &&
            it->kind != DK_COUNT && it->kind != DK_SUM && it->kind != DK_ADD)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: outcome %s: kind must be any, "
                               "count, sum, time_to_first or add", s->path, n->line, it->name);
        if (!outcome && it->kind == DK_TIME_TO_FIRST)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: feature %s: time_to_first is an "
                               "outcome", s->path, n->line, it->name);
        STRATA_TRY(parse_output(ctx, s, n, it));
        if (it->kind == DK_ADD) {
            STRATA_TRY(parse_add(ctx, s, n, it));
            continue;
        }
        STRATA_TRY(parse_window(ctx, s, n, it));
        STRATA_TRY(parse_extras(ctx, s, n, it));
        STRATA_TRY(dv_prepare_item(ctx, s, it, n, c));
    }
    return STRATA_OK;
}

void dv_spec_free(strata_ctx *ctx, dv_spec *s)
{
    for (size_t k = 0; k < s->nitem; k++)
        dv_free_item(ctx, s, &s->item[k]);
    strata_free(ctx, s->item, 0);
    for (size_t k = 0; k < s->ncl; k++) {
        strata_codelist_free(s->cl[k]);
        strata_free(ctx, s->cl_name[k], 0);
    }
    strata_free(ctx, s->cl, 0);
    strata_free(ctx, s->cl_name, 0);
    for (size_t k = 0; k < s->ntab; k++) {
        dv_table *t = &s->tab[k];
        strata_free(ctx, t->name, 0);
    }
    strata_free(ctx, s->tab, 0);
    strata_free(ctx, s->index_col, 0);
    strata_free(ctx, s->path, 0);
    strata_free(ctx, s->dir, 0);
    memset(s, 0, sizeof *s);
}

strata_status dv_spec_load(strata_ctx *ctx, const char *path, const char *key, strata_cohort *c,
                           dv_spec *s)
{
    static const char *const top[] = {"index_date", "codelists", "registered_only", "features",
                                      "outcomes", NULL};
    ynode *file = NULL;
    const ynode *root;
    strata_status st;
    const char *slash = strrchr(path, '/');
    memset(s, 0, sizeof *s);
    if (!(s->path = strata_strdup(ctx, path)) || !(s->dir = strata_strdup(ctx, slash ? path : "")))
        return STRATA_ENOMEM;
    if (slash)
        s->dir[slash - path] = '\0';
    STRATA_TRY(strata_yaml_load(ctx, path, &file));
    root = key && file->kind == YN_MAP ? strata_yaml_get(file, key) : file;
    st = root && root->kind == YN_MAP
             ? STRATA_OK
             : STRATA_FAIL(ctx, STRATA_ESPEC, "%s: %s%sa derive spec is a mapping (index_date, "
                           "codelists, features, outcomes)", path, key ? key : "",
                           key ? ": " : "");
    if (st == STRATA_OK)
        st = strata_yaml_only_keys(ctx, path, root, "derive spec", top);
    if (st == STRATA_OK)
        st = index_date(ctx, s, root);
    if (st == STRATA_OK)
        st = strata_yaml_bool(ctx, path, root, "registered_only", &s->registered_only);
    if (st == STRATA_OK)
        st = codelists(ctx, s, root);
    if (st == STRATA_OK)
        st = parse_items(ctx, s, root, c, "features", 0);
    if (st == STRATA_OK)
        st = parse_items(ctx, s, root, c, "outcomes", 1);
    if (st == STRATA_OK && s->nitem == 0)
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no features or outcomes", path);
    strata_yaml_free(ctx, file);
    return st;
}
