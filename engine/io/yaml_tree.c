/* engine/io/yaml_tree.c — builds a ynode tree from libyaml's event stream.
 * Anchors/aliases and multi-document streams are refused (specs are plain);
 * every node keeps its 1-based line for error messages. */
#include "yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

void strata_yaml_free(strata_ctx *ctx, ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            strata_free(ctx, n->keys[i], 0);
        if (n->items)
            strata_yaml_free(ctx, n->items[i]);
    }
    strata_free(ctx, n->keys, 0);
    strata_free(ctx, n->key_lines, 0);
    strata_free(ctx, n->items, 0);
    strata_free(ctx, n->scalar, 0);
    strata_free(ctx, n, sizeof *n);
}

typedef struct yparser {
    strata_ctx *ctx;
    const char *name;
    yaml_parser_t p;
} yparser;

static strata_status next_event(yparser *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->p, ev))
        return STRATA_FAIL(y->ctx, STRATA_ESPEC, "%s: line %zu: YAML syntax error: %s", y->name,
                           y->p.problem_mark.line + 1, y->p.problem ? y->p.problem : "?");
    return STRATA_OK;
}

static strata_status append(strata_ctx *ctx, ynode *parent, char *key, int key_line, ynode *child)
{
    size_t n = parent->n;
    ynode **items = strata_realloc(ctx, parent->items, n * sizeof *items, (n + 1) * sizeof *items);
    if (!items)
        return STRATA_ENOMEM;
    parent->items = items;
    if (parent->kind == YN_MAP) {
        char **keys = strata_realloc(ctx, parent->keys, n * sizeof *keys, (n + 1) * sizeof *keys);
        int *lines;
        if (!keys)
            return STRATA_ENOMEM;
        parent->keys = keys;
        lines = strata_realloc(ctx, parent->key_lines, n * sizeof *lines, (n + 1) * sizeof *lines);
        if (!lines)
            return STRATA_ENOMEM;
        parent->key_lines = lines;
        keys[n] = key;
        lines[n] = key_line;
    }
    items[n] = child;
    parent->n = n + 1;
    return STRATA_OK;
}

static strata_status parse_node(yparser *y, yaml_event_t *ev, ynode **out);

/* Parses the children of a mapping or sequence until its end event. */
static strata_status parse_children(yparser *y, ynode *node)
{
    strata_ctx *ctx = y->ctx;
    for (;;) {
        yaml_event_t ev;
        char *key = NULL;
        int key_line = 0;
        ynode *child = NULL;
        strata_status st;
        STRATA_TRY(next_event(y, &ev));
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return STRATA_OK;
        }
        if (node->kind == YN_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                int line = (int)ev.start_mark.line + 1;
                yaml_event_delete(&ev);
                return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: mapping keys must be plain words",
                                   y->name, line);
            }
            key = strata_strdup(ctx, (const char *)ev.data.scalar.value);
            key_line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (!key)
                return STRATA_ENOMEM;
            for (size_t i = 0; i < node->n; i++)
                if (!strcmp(node->keys[i], key)) {
                    st = STRATA_FAIL(ctx, STRATA_ESPEC,
                                     "%s: line %d: key \"%s\" repeats the one on line %d", y->name,
                                     key_line, key, node->key_lines[i]);
                    strata_free(ctx, key, 0);
                    return st;
                }
            st = next_event(y, &ev);
            if (st != STRATA_OK) {
                strata_free(ctx, key, 0);
                return st;
            }
        }
        st = parse_node(y, &ev, &child);
        if (st == STRATA_OK)
            st = append(ctx, node, key, key_line, child);
        if (st != STRATA_OK) {
            strata_free(ctx, key, 0);
            strata_yaml_free(ctx, child);
            return st;
        }
    }
}

/* Builds a node from its first event (consumed here). */
static strata_status parse_node(yparser *y, yaml_event_t *ev, ynode **out)
{
    strata_ctx *ctx = y->ctx;
    ynode *n;
    strata_status st = STRATA_OK;
    int line = (int)ev->start_mark.line + 1;
    *out = NULL;
    if (ev->type == YAML_ALIAS_EVENT) {
        yaml_event_delete(ev);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: aliases are not supported in specs",
                           y->name, line);
    }
    n = strata_calloc(ctx, 1, sizeof *n);
    if (!n) {
        yaml_event_delete(ev);
        return STRATA_ENOMEM;
    }
    n->line = line;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->kind = YN_SCALAR;
        n->scalar = strata_strdup(ctx, (const char *)ev->data.scalar.value);
        if (!n->scalar)
            st = STRATA_ENOMEM;
        yaml_event_delete(ev);
        break;
    case YAML_MAPPING_START_EVENT:
        n->kind = YN_MAP;
        yaml_event_delete(ev);
        st = parse_children(y, n);
        break;
    case YAML_SEQUENCE_START_EVENT:
        n->kind = YN_SEQ;
        yaml_event_delete(ev);
        st = parse_children(y, n);
        break;
    default:
        yaml_event_delete(ev);
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: unexpected YAML content", y->name, line);
    }
    if (st != STRATA_OK) {
        strata_yaml_free(ctx, n);
        return st;
    }
    *out = n;
    return STRATA_OK;
}

strata_status strata_yaml_parse(strata_ctx *ctx, const char *name, const char *text, size_t len,
                                ynode **root)
{
    yparser y;
    yaml_event_t ev;
    strata_status st;
    *root = NULL;
    memset(&y, 0, sizeof y);
    y.ctx = ctx;
    y.name = name;
    if (!yaml_parser_initialize(&y.p))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
    /* stream start, document start */
    st = next_event(&y, &ev);
    if (st == STRATA_OK) {
        yaml_event_delete(&ev);
        st = next_event(&y, &ev);
    }
    if (st == STRATA_OK) {
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: the spec is empty", name);
        } else {
            yaml_event_delete(&ev);
            st = next_event(&y, &ev);
            if (st == STRATA_OK)
                st = parse_node(&y, &ev, root);
        }
    }
    if (st == STRATA_OK && (*root)->kind != YN_MAP)
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: the spec must be a mapping of keys",
                         name, (*root)->line);
    if (st == STRATA_OK) { /* document end, then no second document */
        st = next_event(&y, &ev);
        if (st == STRATA_OK) {
            yaml_event_delete(&ev);
            st = next_event(&y, &ev);
        }
        if (st == STRATA_OK) {
            if (ev.type != YAML_STREAM_END_EVENT)
                st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %zu: only one YAML document allowed",
                                 name, ev.start_mark.line + 1);
            yaml_event_delete(&ev);
        }
    }
    yaml_parser_delete(&y.p);
    if (st != STRATA_OK) {
        strata_yaml_free(ctx, *root);
        *root = NULL;
    }
    return st;
}

strata_status strata_yaml_load(strata_ctx *ctx, const char *path, ynode **root)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    strata_status st;
    *root = NULL;
    if (!f)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot read", path);
    }
    buf = strata_alloc(ctx, (size_t)len + 1);
    if (!buf) {
        fclose(f);
        return STRATA_ENOMEM;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        strata_free(ctx, buf, 0);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot read", path);
    }
    fclose(f);
    buf[len] = '\0';
    st = strata_yaml_parse(ctx, path, buf, (size_t)len, root);
    strata_free(ctx, buf, 0);
    return st;
}

const ynode *strata_yaml_get(const ynode *map, const char *key)
{
    if (!map || map->kind != YN_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i], key))
            return map->items[i];
    return NULL;
}

int strata_yaml_key_line(const ynode *map, const char *key)
{
    if (!map || map->kind != YN_MAP)
        return 0;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i], key))
            return map->key_lines[i];
    return 0;
}

static strata_status want_scalar(strata_ctx *ctx, const char *file, const ynode *map,
                                 const char *key, const ynode *v, const char *what)
{
    if (v->kind != YN_SCALAR)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: key \"%s\" must be %s", file,
                           strata_yaml_key_line(map, key), key, what);
    return STRATA_OK;
}

strata_status strata_yaml_str(strata_ctx *ctx, const char *file, const ynode *map,
                              const char *key, const char **out)
{
    const ynode *v = strata_yaml_get(map, key);
    if (!v)
        return STRATA_OK;
    STRATA_TRY(want_scalar(ctx, file, map, key, v, "a string"));
    *out = v->scalar;
    return STRATA_OK;
}

strata_status strata_yaml_double(strata_ctx *ctx, const char *file, const ynode *map,
                                 const char *key, double *out)
{
    const ynode *v = strata_yaml_get(map, key);
    char *end;
    double d;
    if (!v)
        return STRATA_OK;
    STRATA_TRY(want_scalar(ctx, file, map, key, v, "a number"));
    errno = 0;
    d = strtod(v->scalar, &end);
    if (errno || end == v->scalar || *end || !isfinite(d))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: key \"%s\": \"%s\" is not a number",
                           file, v->line, key, v->scalar);
    *out = d;
    return STRATA_OK;
}

strata_status strata_yaml_long(strata_ctx *ctx, const char *file, const ynode *map,
                               const char *key, long *out)
{
    const ynode *v = strata_yaml_get(map, key);
    char *end;
    long d;
    if (!v)
        return STRATA_OK;
    STRATA_TRY(want_scalar(ctx, file, map, key, v, "a whole number"));
    errno = 0;
    d = strtol(v->scalar, &end, 10);
    if (errno || end == v->scalar || *end)
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "%s: line %d: key \"%s\": \"%s\" is not a whole number", file, v->line,
                           key, v->scalar);
    *out = d;
    return STRATA_OK;
}

strata_status strata_yaml_bool(strata_ctx *ctx, const char *file, const ynode *map,
                               const char *key, int *out)
{
    const ynode *v = strata_yaml_get(map, key);
    if (!v)
        return STRATA_OK;
    STRATA_TRY(want_scalar(ctx, file, map, key, v, "true or false"));
    if (!strcasecmp(v->scalar, "true") || !strcasecmp(v->scalar, "yes") || !strcmp(v->scalar, "1"))
        *out = 1;
    else if (!strcasecmp(v->scalar, "false") || !strcasecmp(v->scalar, "no") ||
             !strcmp(v->scalar, "0"))
        *out = 0;
    else
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: key \"%s\": \"%s\" is not true/false",
                           file, v->line, key, v->scalar);
    return STRATA_OK;
}

strata_status strata_yaml_only_keys(strata_ctx *ctx, const char *file, const ynode *map,
                                    const char *where, const char *const *allowed)
{
    if (!map || map->kind != YN_MAP)
        return STRATA_OK;
    for (size_t i = 0; i < map->n; i++) {
        int ok = 0;
        for (size_t k = 0; allowed[k]; k++)
            ok |= !strcmp(map->keys[i], allowed[k]);
        if (!ok) {
            char list[512] = "";
            for (size_t k = 0; allowed[k]; k++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", allowed[k]);
            }
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: unknown key \"%s\" in %s (known: %s)",
                               file, map->key_lines[i], map->keys[i], where, list);
        }
    }
    return STRATA_OK;
}
