/* engine/derive/derive_match.c — turns one spec item into lookups: its table
 * and columns, and per code-column level tables (passes the code-list filter;
 * category bits for flags and scores; eFI value rules; ACSC position rules),
 * so evaluating an event never touches a string. Invariant: every table made
 * here has one entry per level of its column. */
#include "derive_internal.h"
#include "scores_codes.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_FAIL(ctx, s, it, ...) dv_item_fail((ctx), (s), (it), __VA_ARGS__)

static strata_status dv_item_fail(strata_ctx *ctx, const dv_spec *s, const dv_item *it,
                                  const char *fmt, ...) STRATA_PRINTF(4, 5);
static strata_status dv_item_fail(strata_ctx *ctx, const dv_spec *s, const dv_item *it,
                                  const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: %s", s->path, it->line, it->name, msg);
}

static strata_status find_table(strata_ctx *ctx, dv_spec *s, dv_item *it, strata_cohort *c,
                                const char *name)
{
    char g[300], pr[400], dy[400];
    dv_table *nt, *t;
    for (size_t k = 0; k < s->ntab; k++)
        if (!strcmp(s->tab[k].name, name)) {
            it->table = (int)k;
            return STRATA_OK;
        }
    snprintf(g, sizeof g, "events/%s", name);
    snprintf(pr, sizeof pr, "%s/patient_row", g);
    snprintf(dy, sizeof dy, "%s/day", g);
    nt = strata_realloc(ctx, s->tab, s->ntab * sizeof *nt, (s->ntab + 1) * sizeof *nt);
    if (!nt)
        return STRATA_ENOMEM;
    s->tab = nt;
    t = &s->tab[s->ntab];
    memset(t, 0, sizeof *t);
    if (strata_cohort_find(ctx, c, pr, &t->j_row) != STRATA_OK ||
        strata_cohort_find(ctx, c, dy, &t->j_day) != STRATA_OK)
        return ITEM_FAIL(ctx, s, it, "table '%s' not in %s (no /events/%s with patient_row and day)",
                         name, strata_cohort_path(c), name);
    if (!(t->name = strata_strdup(ctx, name)))
        return STRATA_ENOMEM;
    t->nev = strata_cohort_column(c, t->j_row)->length;
    it->table = (int)s->ntab++;
    return STRATA_OK;
}

/* Local index of column name in the item's table (registered on first use), or -1. */
static int table_col(dv_spec *s, dv_item *it, strata_cohort *c, const char *name)
{
    dv_table *t = &s->tab[it->table];
    char pre[300];
    size_t j, nc = strata_cohort_ncols(c);
    snprintf(pre, sizeof pre, "events/%s", t->name);
    for (j = 0; j < nc; j++) {
        const strata_column_info *ci = strata_cohort_column(c, j);
        if (!strcmp(ci->group, pre) && !strcmp(ci->name, name))
            break;
    }
    if (j == nc)
        return -1;
    for (size_t k = 0; k < t->ncol; k++)
        if (t->jcol[k] == j)
            return (int)k;
    if (t->ncol == DV_MAX_COLS)
        return -1;
    t->jcol[t->ncol] = j;
    t->info[t->ncol] = strata_cohort_column(c, j);
    t->is_code[t->ncol] = !strncmp(t->info[t->ncol]->units, "code", 4);
    return (int)t->ncol++;
}

/* The table's columns (in file order) whose name matches pattern, or code columns when NULL. */
static strata_status add_code_cols(strata_ctx *ctx, dv_spec *s, dv_item *it, strata_cohort *c,
                                   const char *pattern)
{
    char pre[300];
    size_t lp = (size_t)snprintf(pre, sizeof pre, "events/%s", s->tab[it->table].name);
    for (size_t j = 0; j < strata_cohort_ncols(c); j++) {
        const strata_column_info *ci = strata_cohort_column(c, j);
        int want;
        if (strncmp(ci->group, pre, lp) || ci->group[lp] || !ci->categorical)
            continue;
        want = pattern ? fnmatch(pattern, ci->name, 0) == 0 : !strncmp(ci->units, "code", 4);
        if (!want)
            continue;
        if (it->ncode == DV_MAX_COLS)
            return ITEM_FAIL(ctx, s, it, "more than %d code columns", DV_MAX_COLS);
        it->codecol[it->ncode++] = table_col(s, it, c, ci->name);
    }
    return STRATA_OK;
}

static strata_status code_cols(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n,
                               strata_cohort *c)
{
    const ynode *codes = strata_yaml_get(n, "codes");
    const char *pos = NULL;
    if (!codes)
        STRATA_TRY(add_code_cols(ctx, s, it, c, NULL));
    else if (codes->kind == YN_SCALAR)
        STRATA_TRY(add_code_cols(ctx, s, it, c, codes->scalar));
    else
        for (size_t k = 0; codes->kind == YN_SEQ && k < codes->n; k++)
            if (codes->items[k]->kind == YN_SCALAR)
                STRATA_TRY(add_code_cols(ctx, s, it, c, codes->items[k]->scalar));
    if (it->ncode == 0)
        return ITEM_FAIL(ctx, s, it, "table '%s' has no %s (name them with codes: COL or a "
                         "pattern such as diag_*)", s->tab[it->table].name,
                         codes ? "categorical column matching codes:" : "code columns");
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "position", &pos));
    if (pos && !strcmp(pos, "primary"))
        it->ncode = 1;
    else if (pos && strcmp(pos, "any"))
        return ITEM_FAIL(ctx, s, it, "position '%s' is not primary or any", pos);
    return STRATA_OK;
}

/* A spec code list by name, or a built-in one (loaded once). */
static strata_status get_codelist(strata_ctx *ctx, dv_spec *s, dv_item *it, const char *name,
                                  strata_codelist **out)
{
    static const struct {
        const char *name, *file;
        strata_code_match m;
    } builtin[] = {{"charlson", "codelists/charlson_icd10_quan2005.csv", STRATA_MATCH_PREFIX},
                   {"elixhauser", "codelists/elixhauser_icd10_quan2005.csv", STRATA_MATCH_PREFIX},
                   {"acsc", "codelists/acsc_icd10.csv", STRATA_MATCH_PREFIX},
                   {"efi", "codelists/efi_codes.csv", STRATA_MATCH_EXACT},
                   {"efi_values", "codelists/efi_value_rules.csv", STRATA_MATCH_EXACT}};
    for (size_t k = 0; k < s->ncl; k++)
        if (!strcmp(s->cl_name[k], name)) {
            *out = s->cl[k];
            return STRATA_OK;
        }
    for (size_t k = 0; k < sizeof builtin / sizeof builtin[0]; k++)
        if (!strcmp(builtin[k].name, name)) {
            char path[4096], *nn;
            strata_codelist *cl = NULL;
            strata_codelist **nc;
            snprintf(path, sizeof path, "%s/%s", STRATA_DATA_DIR, builtin[k].file);
            STRATA_TRY(strata_codelist_load(ctx, path, builtin[k].m, &cl));
            nc = strata_realloc(ctx, s->cl, s->ncl * sizeof *nc, (s->ncl + 1) * sizeof *nc);
            if (nc)
                s->cl = nc;
            nn = strata_strdup(ctx, name);
            char **nl = nc && nn ? strata_realloc(ctx, s->cl_name, s->ncl * sizeof *nl,
                                                  (s->ncl + 1) * sizeof *nl)
                                 : NULL;
            if (!nl) {
                strata_free(ctx, nn, 0);
                strata_codelist_free(cl);
                return STRATA_ENOMEM;
            }
            s->cl_name = nl;
            s->cl[s->ncl] = cl;
            s->cl_name[s->ncl++] = nn;
            *out = cl;
            return STRATA_OK;
        }
    return ITEM_FAIL(ctx, s, it, "code list '%s' is not under codelists: nor built in "
                     "(charlson, elixhauser, acsc, efi)", name);
}

/* Allocates ncode per-level tables of elem bytes each. */
static void **level_tables(strata_ctx *ctx, const dv_spec *s, const dv_item *it, size_t elem)
{
    const dv_table *t = &s->tab[it->table];
    void **v = strata_calloc(ctx, (size_t)it->ncode, sizeof *v);
    for (int k = 0; v && k < it->ncode; k++) {
        size_t nl = t->info[it->codecol[k]]->n_levels;
        if (!(v[k] = strata_calloc(ctx, nl ? nl : 1, elem))) {
            for (int q = 0; q < k; q++)
                strata_free(ctx, v[q], 0);
            strata_free(ctx, v, 0);
            return NULL;
        }
    }
    return v;
}

/* Calls fn(it, k, level, row, ud) for every code-list row matching every level. */
typedef void (*level_fn)(dv_item *it, int k, size_t lv, size_t row, void *ud);
static void each_match(const dv_spec *s, dv_item *it, const strata_codelist *cl, level_fn fn,
                       void *ud)
{
    const dv_table *t = &s->tab[it->table];
    size_t rows[256];
    for (int k = 0; k < it->ncode; k++) {
        const strata_column_info *ci = t->info[it->codecol[k]];
        for (size_t lv = 0; lv < ci->n_levels; lv++) {
            size_t m = strata_codelist_match(cl, ci->levels[lv], rows, 256);
            for (size_t r = 0; r < m && r < 256; r++)
                fn(it, k, lv, rows[r], ud);
        }
    }
}

typedef struct match_ud {
    const strata_codelist *cl;
    long cat;             /* filter category, -1 any */
    long *catbit;         /* codelist category -> bit, -1 none */
} match_ud;

static void set_match(dv_item *it, int k, size_t lv, size_t row, void *ud)
{
    match_ud *m = ud;
    if (m->cat < 0 || (long)strata_codelist_row_category(m->cl, row) == m->cat)
        it->lv_match[k][lv] = 1;
}

static void set_cat(dv_item *it, int k, size_t lv, size_t row, void *ud)
{
    match_ud *m = ud;
    long b = m->catbit[strata_codelist_row_category(m->cl, row)];
    if (b >= 0)
        it->lv_cats[k][lv] |= 1ULL << b;
}

static strata_status filter(strata_ctx *ctx, dv_spec *s, dv_item *it, const char *spec)
{
    char name[256];
    const char *slash = strchr(spec, '/');
    strata_codelist *cl;
    match_ud m = {NULL, -1, NULL};
    snprintf(name, sizeof name, "%.*s", (int)(slash ? (size_t)(slash - spec) : strlen(spec)), spec);
    STRATA_TRY(get_codelist(ctx, s, it, name, &cl));
    m.cl = cl;
    if (slash && (m.cat = strata_codelist_find_category(cl, slash + 1)) < 0)
        return ITEM_FAIL(ctx, s, it, "code list '%s' has no category '%s'", name, slash + 1);
    if (!(it->lv_match = (unsigned char **)level_tables(ctx, s, it, 1)))
        return STRATA_ENOMEM;
    each_match(s, it, cl, set_match, &m);
    return STRATA_OK;
}

/* Category bits from code list cl: bit = catbit[category] (-1 = not scored). */
static strata_status cats_from(strata_ctx *ctx, dv_spec *s, dv_item *it,
                               const strata_codelist *cl, long *catbit)
{
    match_ud m = {cl, -1, catbit};
    if (!it->lv_cats && !(it->lv_cats = (uint64_t **)level_tables(ctx, s, it, sizeof(uint64_t))))
        return STRATA_ENOMEM;
    each_match(s, it, cl, set_cat, &m);
    return STRATA_OK;
}

static strata_status score_cats(strata_ctx *ctx, dv_spec *s, dv_item *it, const char *clname)
{
    strata_codelist *cl;
    size_t nc = 0;
    long *bit;
    strata_status st = STRATA_OK;
    STRATA_TRY(get_codelist(ctx, s, it, clname, &cl));
    nc = strata_codelist_ncategories(cl);
    if (!(bit = strata_alloc(ctx, (nc ? nc : 1) * sizeof *bit)))
        return STRATA_ENOMEM;
    if (it->kind == DK_CHARLSON || it->kind == DK_ELIXHAUSER) {
        strata_score_system sys = it->kind == DK_CHARLSON ? STRATA_SCORE_CHARLSON
                                                          : STRATA_SCORE_ELIXHAUSER;
        size_t n;
        strata_score_categories(sys, &n);
        it->ncat = (int)n;
        for (size_t k = 0; k < nc; k++)
            if ((bit[k] = strata_score_category_index(sys, strata_codelist_category(cl, k))) < 0)
                st = ITEM_FAIL(ctx, s, it, "code list category '%s' is not a %s category",
                               strata_codelist_category(cl, k), clname);
    } else {
        it->ncat = (int)nc;
        if (nc > 64)
            st = ITEM_FAIL(ctx, s, it, "code list '%s' has %zu categories (at most 64)", clname, nc);
        for (size_t k = 0; k < nc; k++)
            bit[k] = (long)k;
    }
    if (st == STRATA_OK)
        st = cats_from(ctx, s, it, cl, bit);
    strata_free(ctx, bit, 0);
    if (st == STRATA_OK && it->kind == DK_FLAGS) {
        if (!(it->cat_names = strata_calloc(ctx, nc ? nc : 1, sizeof *it->cat_names)))
            return STRATA_ENOMEM;
        for (size_t k = 0; k < nc; k++)
            if (!(it->cat_names[k] = strata_strdup(ctx, strata_codelist_category(cl, k))))
                return STRATA_ENOMEM;
    }
    return st;
}

typedef struct rule_ud {
    const strata_codelist *cl;
} rule_ud;

static void set_rule(dv_item *it, int k, size_t lv, size_t row, void *ud)
{
    (void)ud;
    if (row < 64)
        it->lv_rule[k][lv] = (unsigned char)(row + 1);
}

/* eFI value rules (code + value threshold) on the item's value column. */
static strata_status efi_rules(strata_ctx *ctx, dv_spec *s, dv_item *it)
{
    strata_codelist *vr, *codes;
    STRATA_TRY(get_codelist(ctx, s, it, "efi_values", &vr));
    STRATA_TRY(get_codelist(ctx, s, it, "efi", &codes));
    if (strata_codelist_nrows(vr) > 64)
        return ITEM_FAIL(ctx, s, it, "more than 64 eFI value rules");
    for (size_t r = 0; r < strata_codelist_nrows(vr); r++) {
        const char *gt = strata_codelist_field(vr, r, "greater_than");
        const char *lt = strata_codelist_field(vr, r, "less_than");
        const char *sex = strata_codelist_field(vr, r, "sex");
        const char *cat = strata_codelist_category(vr, strata_codelist_row_category(vr, r));
        it->rule_gt[r] = *gt ? strtod(gt, NULL) : NAN;
        it->rule_lt[r] = *lt ? strtod(lt, NULL) : NAN;
        it->rule_sex[r] = *sex ? sex[0] : 0;
        it->rule_cat[r] = (int)strata_codelist_find_category(codes, cat);
        if (it->rule_cat[r] < 0)
            return ITEM_FAIL(ctx, s, it, "eFI value rule deficit '%s' is not in the eFI code list",
                             cat);
    }
    if (!(it->lv_rule = (unsigned char **)level_tables(ctx, s, it, 1)))
        return STRATA_ENOMEM;
    each_match(s, it, vr, set_rule, NULL);
    return STRATA_OK;
}

static void set_acsc(dv_item *it, int k, size_t lv, size_t row, void *ud)
{
    const strata_codelist *cl = ud;
    const char *pos = strata_codelist_field(cl, row, "position");
    if (!strcmp(pos, "primary"))
        it->lv_acsc[k][lv] |= 1 | 8; /* 8: also a qualifying secondary for J20-style rules */
    else if (!strcmp(pos, "any"))
        it->lv_acsc[k][lv] |= 2;
    else if (!strcmp(pos, "primary_with_secondary"))
        it->lv_acsc[k][lv] |= 4;
}

static strata_status acsc(strata_ctx *ctx, dv_spec *s, dv_item *it, const char *clname)
{
    strata_codelist *cl;
    STRATA_TRY(get_codelist(ctx, s, it, clname, &cl));
    if (!(it->lv_acsc = (unsigned char **)level_tables(ctx, s, it, 1)))
        return STRATA_ENOMEM;
    each_match(s, it, cl, set_acsc, cl);
    return STRATA_OK;
}

static strata_status dv_cond_values(strata_ctx *ctx, dv_spec *s, dv_item *it, dv_cond *cd,
                                    char *val);

/* Parses "COL OP VALUE" (OP: == != < <= > >= in [a, b]). */
static strata_status parse_cond(strata_ctx *ctx, dv_spec *s, dv_item *it, strata_cohort *c,
                                const char *text, dv_cond *cd)
{
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">", " in "};
    static const dv_op opv[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_IN};
    char col[128], val[512];
    const char *at = NULL;
    size_t k = 0;
    for (; k < 7 && !(at = strstr(text, ops[k])); k++)
        ;
    if (!at || sscanf(text, " %127[^=!<> ]", col) != 1)
        return ITEM_FAIL(ctx, s, it, "where '%s' is not COLUMN OP VALUE (==, !=, <, <=, >, >=, "
                         "in [A, B])", text);
    snprintf(val, sizeof val, "%s", at + strlen(ops[k]));
    cd->op = opv[k];
    if ((cd->col = table_col(s, it, c, col)) < 0)
        return ITEM_FAIL(ctx, s, it, "where: table '%s' has no column '%s'",
                         s->tab[it->table].name, col);
    return dv_cond_values(ctx, s, it, cd, val);
}

/* Strips spaces and one pair of quotes in place. */
static char *trim(char *v)
{
    size_t n;
    while (*v == ' ')
        v++;
    n = strlen(v);
    while (n && v[n - 1] == ' ')
        v[--n] = '\0';
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        v++;
    }
    return v;
}

static strata_status dv_cond_values(strata_ctx *ctx, dv_spec *s, dv_item *it, dv_cond *cd,
                                    char *val)
{
    const strata_column_info *ci = s->tab[it->table].info[cd->col];
    char *v = trim(val), *save = NULL, *endp;
    if (!ci->categorical) {
        cd->num = strtod(v, &endp);
        if (cd->op == OP_IN || !*v || *endp)
            return ITEM_FAIL(ctx, s, it, "where: column '%s' is numeric: compare it with a number "
                             "(==, !=, <, <=, >, >=), not '%s'", ci->name, v);
        return STRATA_OK;
    }
    if (cd->op != OP_EQ && cd->op != OP_NE && cd->op != OP_IN)
        return ITEM_FAIL(ctx, s, it, "where: column '%s' is categorical: use ==, != or in",
                         ci->name);
    if (!(cd->lv_ok = strata_calloc(ctx, ci->n_levels ? ci->n_levels : 1, 1)))
        return STRATA_ENOMEM;
    if (cd->op == OP_IN) {
        size_t n = strlen(v);
        if (n < 2 || v[0] != '[' || v[n - 1] != ']')
            return ITEM_FAIL(ctx, s, it, "where: 'in' takes a list [A, B, ...], not '%s'", v);
        v[n - 1] = '\0';
        v++;
    }
    for (char *tok = cd->op == OP_IN ? strtok_r(v, ",", &save) : v; tok;
         tok = cd->op == OP_IN ? strtok_r(NULL, ",", &save) : NULL) {
        char *t = trim(tok);
        for (size_t l = 0; l < ci->n_levels; l++)
            if (!strcmp(ci->levels[l], t))
                cd->lv_ok[l] = 1;
    }
    if (cd->op == OP_NE)
        for (size_t l = 0; l < ci->n_levels; l++)
            cd->lv_ok[l] = !cd->lv_ok[l];
    return STRATA_OK;
}

static strata_status conditions(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n,
                                strata_cohort *c)
{
    const ynode *w = strata_yaml_get(n, "where");
    size_t m;
    if (!w)
        return STRATA_OK;
    m = w->kind == YN_SEQ ? w->n : 1;
    if (!(it->cond = strata_calloc(ctx, m, sizeof *it->cond)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < m; k++) {
        const ynode *e = w->kind == YN_SEQ ? w->items[k] : w;
        if (e->kind != YN_SCALAR)
            return ITEM_FAIL(ctx, s, it, "where: expected \"COLUMN OP VALUE\" or a list of them");
        it->ncond++;
        STRATA_TRY(parse_cond(ctx, s, it, c, e->scalar, &it->cond[k]));
    }
    return STRATA_OK;
}

static strata_status value_and_weights(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n,
                                       strata_cohort *c)
{
    const char *v = NULL, *w = NULL;
    int needs = it->kind == DK_SUM || it->kind == DK_MAX || it->kind == DK_MIN || it->kind == DK_LAST;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "value", &v));
    if (needs && !v)
        return ITEM_FAIL(ctx, s, it, "kind %s needs value: COLUMN", it->kind == DK_SUM ? "sum"
                         : it->kind == DK_LAST ? "last" : "max/min");
    if (v) {
        if ((it->value_col = table_col(s, it, c, v)) < 0)
            return ITEM_FAIL(ctx, s, it, "table '%s' has no column '%s'", s->tab[it->table].name, v);
        if (s->tab[it->table].info[it->value_col]->categorical)
            return ITEM_FAIL(ctx, s, it, "value column '%s' is categorical, not numeric", v);
    }
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "weights", &w));
    if (it->kind == DK_CHARLSON || it->kind == DK_ELIXHAUSER) {
        strata_score_system sys = it->kind == DK_CHARLSON ? STRATA_SCORE_CHARLSON
                                                          : STRATA_SCORE_ELIXHAUSER;
        it->weights = w ? strata_score_weights_parse(sys, w) : 1 - (int)sys; /* quan2011 / vw */
        if (it->weights < 0)
            return ITEM_FAIL(ctx, s, it, "weights '%s' is not %s", w,
                             sys == STRATA_SCORE_CHARLSON ? "charlson1987 or quan2011"
                                                          : "vanwalraven or swiss");
    } else if (w)
        return ITEM_FAIL(ctx, s, it, "weights apply to charlson and elixhauser only");
    return STRATA_OK;
}

static strata_status censoring(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n)
{
    const ynode *cz = strata_yaml_get(n, "censor");
    if (!it->outcome) {
        if (cz)
            return ITEM_FAIL(ctx, s, it, "censor applies to outcomes only");
        return STRATA_OK;
    }
    it->censor_death = it->censor_reg = !cz;
    for (size_t k = 0; cz && k < (cz->kind == YN_SEQ ? cz->n : 1); k++) {
        const ynode *e = cz->kind == YN_SEQ ? cz->items[k] : cz;
        const char *v = e->kind == YN_SCALAR ? e->scalar : "";
        if (!strcmp(v, "death_date") || !strcmp(v, "death"))
            it->censor_death = 1;
        else if (!strcmp(v, "deregistration_date") || !strcmp(v, "registration_end"))
            it->censor_reg = 1;
        else
            return ITEM_FAIL(ctx, s, it, "censor '%s' is not death_date or deregistration_date "
                             "(registration_end)", v);
    }
    return STRATA_OK;
}

/* Code list, categories, rules for the kinds that use codes. */
static strata_status codes_for_kind(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n,
                                    strata_cohort *c)
{
    const char *cl = NULL;
    int scored = it->kind == DK_FLAGS || it->kind == DK_MULTIMORBIDITY || it->kind == DK_CHARLSON ||
                 it->kind == DK_ELIXHAUSER || it->kind == DK_EFI || it->kind == DK_ACSC;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "codelist", &cl));
    if (!scored && !cl && it->kind != DK_DISTINCT && !strata_yaml_get(n, "codes"))
        return STRATA_OK;
    STRATA_TRY(code_cols(ctx, s, it, n, c));
    if ((it->kind == DK_FLAGS || it->kind == DK_MULTIMORBIDITY) && !cl)
        return ITEM_FAIL(ctx, s, it, "kind %s needs codelist: NAME",
                         it->kind == DK_FLAGS ? "flags" : "multimorbidity");
    if (it->kind == DK_CHARLSON || it->kind == DK_ELIXHAUSER || it->kind == DK_EFI)
        STRATA_TRY(score_cats(ctx, s, it, cl ? cl : it->kind == DK_CHARLSON ? "charlson"
                                               : it->kind == DK_ELIXHAUSER ? "elixhauser" : "efi"));
    else if (it->kind == DK_FLAGS || it->kind == DK_MULTIMORBIDITY)
        STRATA_TRY(score_cats(ctx, s, it, cl));
    else if (it->kind == DK_ACSC)
        STRATA_TRY(acsc(ctx, s, it, cl ? cl : "acsc"));
    else if (cl)
        STRATA_TRY(filter(ctx, s, it, cl));
    if (it->kind == DK_EFI && it->value_col >= 0)
        STRATA_TRY(efi_rules(ctx, s, it));
    return STRATA_OK;
}

static strata_status distinct_ids(strata_ctx *ctx, dv_spec *s, dv_item *it)
{
    strata_strtab ids;
    strata_status st = STRATA_OK;
    const dv_table *t = &s->tab[it->table];
    if (!(it->lv_gid = (int32_t **)level_tables(ctx, s, it, sizeof(int32_t))))
        return STRATA_ENOMEM;
    strata_strtab_init(&ids, ctx);
    for (int k = 0; k < it->ncode && st == STRATA_OK; k++) {
        const strata_column_info *ci = t->info[it->codecol[k]];
        for (size_t lv = 0; lv < ci->n_levels && st == STRATA_OK; lv++) {
            char norm[128];
            long id;
            strata_code_normalise(ci->levels[lv], norm, sizeof norm);
            if (it->code_chars > 0 && strlen(norm) > (size_t)it->code_chars)
                norm[it->code_chars] = '\0'; /* code_prefix: e.g. the BNF paragraph */
            if ((id = strata_strtab_add(&ids, norm)) < 0)
                st = STRATA_ENOMEM;
            it->lv_gid[k][lv] = (int32_t)id;
        }
    }
    strata_strtab_free(&ids);
    return st;
}

strata_status dv_prepare_item(strata_ctx *ctx, dv_spec *s, dv_item *it, const ynode *n,
                              strata_cohort *c)
{
    const char *table = NULL;
    STRATA_TRY(strata_yaml_str(ctx, s->path, n, "table", &table));
    if (!table)
        return ITEM_FAIL(ctx, s, it, "table: NAME is required");
    STRATA_TRY(find_table(ctx, s, it, c, table));
    STRATA_TRY(value_and_weights(ctx, s, it, n, c));
    STRATA_TRY(codes_for_kind(ctx, s, it, n, c));
    if (it->kind == DK_DISTINCT)
        STRATA_TRY(distinct_ids(ctx, s, it));
    STRATA_TRY(conditions(ctx, s, it, n, c));
    STRATA_TRY(censoring(ctx, s, it, n));
    it->nout = it->kind == DK_FLAGS ? (size_t)it->ncat
               : it->kind == DK_EFI ? 3
               : it->kind == DK_TIME_TO_FIRST ? 2 : 1;
    return STRATA_OK;
}

static void free_tables(strata_ctx *ctx, void **v, int n)
{
    for (int k = 0; v && k < n; k++)
        strata_free(ctx, v[k], 0);
    strata_free(ctx, v, 0);
}

void dv_free_item(strata_ctx *ctx, const dv_spec *s, dv_item *it)
{
    (void)s;
    free_tables(ctx, (void **)it->lv_match, it->ncode);
    free_tables(ctx, (void **)it->lv_cats, it->ncode);
    free_tables(ctx, (void **)it->lv_rule, it->ncode);
    free_tables(ctx, (void **)it->lv_acsc, it->ncode);
    free_tables(ctx, (void **)it->lv_gid, it->ncode);
    for (int k = 0; it->cat_names && k < it->ncat; k++)
        strata_free(ctx, it->cat_names[k], 0);
    strata_free(ctx, it->cat_names, 0);
    for (size_t k = 0; k < it->ncond; k++)
        strata_free(ctx, it->cond[k].lv_ok, 0);
    strata_free(ctx, it->cond, 0);
    strata_free(ctx, it->event_name, 0);
    strata_free(ctx, it->prefix, 0);
    strata_free(ctx, it->name, 0);
}
