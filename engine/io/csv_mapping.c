/* engine/io/csv_mapping.c — per-column import options (type overrides, roles,
 * /outcomes placement, missing-value tokens), set one by one or read from a
 * small YAML file with libyaml. Invariant: each column appears once in the
 * table and each role names at most one column. */
#include "csv_internal.h"
#include "internal.h"
#include "yaml_tree.h"

#include <string.h>
#include <yaml.h>

static const char *const type_names[] = {"auto", "int", "float", "cat", "num", "date"};

const char *strata_csv_type_name(strata_csv_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

int strata_csv_type_parse(const char *name, strata_csv_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(name, type_names[i])) {
            *out = (strata_csv_type)i;
            return 0;
        }
    if (!strcmp(name, "integer"))
        *out = STRATA_CSV_INT;
    else if (!strcmp(name, "double") || !strcmp(name, "numeric"))
        *out = STRATA_CSV_FLOAT;
    else if (!strcmp(name, "categorical") || !strcmp(name, "text") || !strcmp(name, "factor"))
        *out = STRATA_CSV_CAT;
    else
        return -1;
    return 0;
}

strata_status strata_csv_mapping_new(strata_ctx *ctx, strata_csv_mapping **out)
{
    strata_csv_mapping *m = strata_calloc(ctx, 1, sizeof *m);
    *out = NULL;
    if (!m)
        return STRATA_ENOMEM;
    m->ctx = ctx;
    *out = m;
    return STRATA_OK;
}

static void free_na(strata_csv_mapping *m)
{
    for (size_t i = 0; i < m->n_na; i++)
        strata_free(m->ctx, m->na[i], 0);
    strata_free(m->ctx, m->na, 0);
    m->na = NULL;
    m->n_na = 0;
}

void strata_csv_mapping_free(strata_csv_mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t k = 0; k < m->cols[i].n_recode; k++) {
            strata_free(m->ctx, m->cols[i].from[k], 0);
            strata_free(m->ctx, m->cols[i].to[k], 0);
        }
        strata_free(m->ctx, m->cols[i].from, 0);
        strata_free(m->ctx, m->cols[i].to, 0);
        strata_free(m->ctx, m->cols[i].name, 0);
    }
    strata_free(m->ctx, m->cols, 0);
    for (int r = 0; r < STRATA_ROLE_COUNT_; r++)
        strata_free(m->ctx, m->role_col[r], 0);
    free_na(m);
    strata_free(m->ctx, m, sizeof *m);
}

const csv_colopt *csv_mapping_find(const strata_csv_mapping *m, const char *name)
{
    if (!m)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->cols[i].name, name))
            return &m->cols[i];
    return NULL;
}

/* The entry for column, created when absent. */
static csv_colopt *colopt(strata_csv_mapping *m, const char *column)
{
    csv_colopt *c = (csv_colopt *)csv_mapping_find(m, column);
    if (c)
        return c;
    if (m->n == m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 8;
        csv_colopt *g = strata_realloc(m->ctx, m->cols, m->cap * sizeof *g, nc * sizeof *g);
        if (!g)
            return NULL;
        m->cols = g;
        m->cap = nc;
    }
    c = &m->cols[m->n];
    memset(c, 0, sizeof *c);
    c->name = strata_strdup(m->ctx, column);
    if (!c->name)
        return NULL;
    m->n++;
    return c;
}

strata_status strata_csv_mapping_set_type(strata_csv_mapping *m, const char *column,
                                          strata_csv_type type)
{
    csv_colopt *c;
    if (!column || !*column || (unsigned)type > STRATA_CSV_DATE)
        return STRATA_FAIL(m->ctx, STRATA_EINVAL, "column type: bad column name or type");
    if (!(c = colopt(m, column)))
        return STRATA_ENOMEM;
    c->type = type;
    return STRATA_OK;
}

strata_status strata_csv_mapping_set_outcome(strata_csv_mapping *m, const char *column)
{
    csv_colopt *c;
    if (!column || !*column)
        return STRATA_FAIL(m->ctx, STRATA_EINVAL, "outcome: empty column name");
    if (!(c = colopt(m, column)))
        return STRATA_ENOMEM;
    c->outcome = 1;
    return STRATA_OK;
}

strata_status strata_csv_mapping_set_role(strata_csv_mapping *m, strata_role role,
                                          const char *column)
{
    char *d;
    if (role <= STRATA_ROLE_NONE || role >= STRATA_ROLE_COUNT_ || !column || !*column)
        return STRATA_FAIL(m->ctx, STRATA_EINVAL, "role: bad role or empty column name");
    for (int r = 1; r < STRATA_ROLE_COUNT_; r++)
        if (r != (int)role && m->role_col[r] && !strcmp(m->role_col[r], column))
            return STRATA_FAIL(m->ctx, STRATA_ESPEC,
                               "column '%s' is given two roles: %s and %s", column,
                               strata_role_name((strata_role)r), strata_role_name(role));
    if (!(d = strata_strdup(m->ctx, column)))
        return STRATA_ENOMEM;
    strata_free(m->ctx, m->role_col[role], 0);
    m->role_col[role] = d;
    return STRATA_OK;
}

strata_status strata_csv_mapping_set_recode(strata_csv_mapping *m, const char *column,
                                            const char *from, const char *to)
{
    csv_colopt *c;
    char **f, **t;
    size_t k;
    if (!column || !*column || !from || !to)
        return STRATA_FAIL(m->ctx, STRATA_EINVAL, "recode: needs a column, a value and a new value");
    if (!(c = colopt(m, column)))
        return STRATA_ENOMEM;
    for (k = 0; k < c->n_recode && strcmp(c->from[k], from); k++)
        ;
    if (k == c->n_recode) {
        if (!(f = strata_realloc(m->ctx, c->from, k * sizeof *f, (k + 1) * sizeof *f)))
            return STRATA_ENOMEM;
        c->from = f;
        if (!(t = strata_realloc(m->ctx, c->to, k * sizeof *t, (k + 1) * sizeof *t)))
            return STRATA_ENOMEM;
        c->to = t;
        if (!(c->from[k] = strata_strdup(m->ctx, from)))
            return STRATA_ENOMEM;
        c->to[k] = NULL;
        c->n_recode++;
    }
    strata_free(m->ctx, c->to[k], 0);
    return (c->to[k] = strata_strdup(m->ctx, to)) ? STRATA_OK : STRATA_ENOMEM;
}

strata_status strata_csv_mapping_set_na(strata_csv_mapping *m, const char *tokens)
{
    size_t k = 1, i = 0;
    const char *s;
    free_na(m);
    for (s = tokens; *s; s++)
        k += *s == ',';
    if (!(m->na = strata_calloc(m->ctx, k, sizeof *m->na)))
        return STRATA_ENOMEM;
    for (s = tokens;; i++) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (!(m->na[i] = strata_alloc(m->ctx, len + 1)))
            return STRATA_ENOMEM;
        memcpy(m->na[i], s, len);
        m->na[i][len] = 0;
        m->n_na = i + 1;
        if (!e)
            break;
        s = e + 1;
    }
    m->na_set = 1;
    return STRATA_OK;
}

/* ---- YAML --------------------------------------------------------------- */

typedef struct yctx {
    strata_csv_mapping *m;
    const char *path;
    yaml_document_t *doc;
} yctx;

static strata_status yfail(const yctx *y, const yaml_node_t *n, const char *what)
{
    return STRATA_FAIL(y->m->ctx, STRATA_ESPEC, "%s: line %lu: %s", y->path,
                       (unsigned long)n->start_mark.line + 1, what);
}

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static strata_status ypairs(const yctx *y, yaml_node_t *map, int roles)
{
    char msg[256];
    if (map->type != YAML_MAPPING_NODE)
        return yfail(y, map, roles ? "'roles' must be a mapping ROLE: COLUMN"
                                   : "'types' must be a mapping COLUMN: TYPE");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
        const char *k = yscalar(kn), *v = yscalar(vn);
        if (!k || !v)
            return yfail(y, kn ? kn : map, "expected 'key: value' with plain strings");
        if (roles) {
            strata_role r = strata_role_parse(k);
            if (r == STRATA_ROLE_NONE) {
                snprintf(msg, sizeof msg, "unknown role '%s'", k);
                return yfail(y, kn, msg);
            }
            STRATA_TRY(strata_csv_mapping_set_role(y->m, r, v));
        } else {
            strata_csv_type t;
            if (strata_csv_type_parse(v, &t)) {
                snprintf(msg, sizeof msg, "column '%s': unknown type '%s' (int, float, cat, num)",
                         k, v);
                return yfail(y, vn, msg);
            }
            STRATA_TRY(strata_csv_mapping_set_type(y->m, k, t));
        }
    }
    return STRATA_OK;
}

static strata_status ylist(const yctx *y, yaml_node_t *seq, int na)
{
    size_t len = 1;
    char *joined, *w;
    strata_status s = STRATA_OK;
    if (seq->type == YAML_SCALAR_NODE)
        return na ? strata_csv_mapping_set_na(y->m, yscalar(seq))
                  : strata_csv_mapping_set_outcome(y->m, yscalar(seq));
    if (seq->type != YAML_SEQUENCE_NODE)
        return yfail(y, seq, na ? "'na' must be a list of strings" : "'outcomes' must be a list");
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        yaml_node_t *n = yaml_document_get_node(y->doc, *i);
        if (!yscalar(n))
            return yfail(y, n ? n : seq, "list items must be plain strings");
        if (!na)
            STRATA_TRY(strata_csv_mapping_set_outcome(y->m, yscalar(n)));
        else if (strchr(yscalar(n), ','))
            return yfail(y, n, "a missing-value token cannot contain ','");
        len += strlen(yscalar(n)) + 1;
    }
    if (!na)
        return STRATA_OK;
    if (!(joined = strata_alloc(y->m->ctx, len)))
        return STRATA_ENOMEM;
    w = joined;
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        const char *v = yscalar(yaml_document_get_node(y->doc, *i));
        size_t l = strlen(v);
        if (w != joined)
            *w++ = ',';
        memcpy(w, v, l);
        w += l;
    }
    *w = 0;
    if (seq->data.sequence.items.top == seq->data.sequence.items.start) {
        /* An empty list means no token is missing: use a token no field can be. */
        strata_free(y->m->ctx, joined, len);
        free_na(y->m);
        y->m->na_set = 1;
        return STRATA_OK;
    }
    s = strata_csv_mapping_set_na(y->m, joined);
    strata_free(y->m->ctx, joined, len);
    return s;
}

static strata_status yrecode(const yctx *y, yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE)
        return yfail(y, map, "'recode' must be a mapping COLUMN: {FROM: TO}");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
        if (!yscalar(kn) || !vn || vn->type != YAML_MAPPING_NODE)
            return yfail(y, kn ? kn : map, "'recode' entries must be COLUMN: {FROM: TO}");
        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top;
             q++) {
            yaml_node_t *fn = yaml_document_get_node(y->doc, q->key);
            const char *from = yscalar(fn);
            const char *to = yscalar(yaml_document_get_node(y->doc, q->value));
            if (!from || !to)
                return yfail(y, fn ? fn : vn, "recode values must be plain strings");
            STRATA_TRY(strata_csv_mapping_set_recode(y->m, yscalar(kn), from, to));
        }
    }
    return STRATA_OK;
}

static strata_status yroot(const yctx *y, yaml_node_t *root)
{
    char msg[160];
    if (!root)
        return STRATA_OK; /* empty file: nothing to map */
    if (root->type != YAML_MAPPING_NODE)
        return yfail(y, root, "expected a mapping with keys roles, types, outcomes, na, recode");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
        const char *k = yscalar(kn);
        if (!k || !vn)
            return yfail(y, kn ? kn : root, "expected a plain key");
        if (!strcmp(k, "roles"))
            STRATA_TRY(ypairs(y, vn, 1));
        else if (!strcmp(k, "types"))
            STRATA_TRY(ypairs(y, vn, 0));
        else if (!strcmp(k, "outcomes"))
            STRATA_TRY(ylist(y, vn, 0));
        else if (!strcmp(k, "na"))
            STRATA_TRY(ylist(y, vn, 1));
        else if (!strcmp(k, "recode"))
            STRATA_TRY(yrecode(y, vn));
        else {
            snprintf(msg, sizeof msg, "unknown key '%s' (roles, types, outcomes, na, recode)", k);
            return yfail(y, kn, msg);
        }
    }
    return STRATA_OK;
}

strata_status strata_csv_mapping_load_yaml(strata_csv_mapping *m, const char *path)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yctx y = {m, path, &doc};
    strata_status s;
    FILE *f;
    /* The bounded spec reader first: a FIFO, a file over 16 MiB, nesting over
     * 64 levels or a repeated key is refused before libyaml's loader (which
     * has no depth limit) sees the file (issue 17 #1, #16). */
    STRATA_TRY(strata_yaml_check(m->ctx, path));
    f = fopen(path, "rb");
    if (!f)
        return STRATA_FAIL(m->ctx, STRATA_EIO, "%s: cannot open mapping file", path);
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return STRATA_FAIL(m->ctx, STRATA_ENOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        s = STRATA_FAIL(m->ctx, STRATA_ESPEC, "%s: line %lu: YAML error: %s", path,
                        (unsigned long)parser.problem_mark.line + 1,
                        parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        fclose(f);
        return s;
    }
    s = yroot(&y, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return s;
}
