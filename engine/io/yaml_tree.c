/* engine/io/yaml_tree.c — builds a ynode tree from libyaml's event stream,
 * iteratively: an explicit stack of open collections (at most
 * STRATA_YAML_MAX_DEPTH) replaces recursion, and each open mapping keeps a hash
 * set of its keys so a repeated key is found in expected O(1). Anchors/aliases
 * and multi-document streams are refused (specs are plain); every node keeps
 * its 1-based line for error messages. Invariant: every node built is reachable
 * from the root as soon as it exists, so one strata_yaml_free cleans up. */
#include "yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

void strata_yaml_free(strata_ctx *ctx, ynode *n)
{
    /* depth is bounded by STRATA_YAML_MAX_DEPTH, so recursion here is bounded */
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

/* An open collection: the node and, for a mapping, the key waiting for its
 * value plus the hash set (open addressing, indices into node->keys + 1). */
typedef struct yframe {
    ynode *node;
    char *key;          /* mapping: key read, value pending (owned until appended) */
    int key_line;
    size_t *slots;      /* mapping: 0 = empty, else index + 1 */
    size_t nslots;      /* power of two, > 2 * node->n */
} yframe;

typedef struct yparser {
    strata_ctx *ctx;
    const char *name;
    yaml_parser_t p;
    yframe stack[STRATA_YAML_MAX_DEPTH];
    size_t depth;
    int bounds_only;    /* strata_yaml_check: empty and non-mapping documents pass */
    int syntax_error;   /* libyaml refused the text */
} yparser;

static strata_status next_event(yparser *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->p, ev))
        return STRATA_OK;
    y->syntax_error = 1;
    return STRATA_FAIL(y->ctx, STRATA_ESPEC, "%s: line %zu: YAML syntax error: %s", y->name,
                       y->p.problem_mark.line + 1, y->p.problem ? y->p.problem : "?");
}

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Slot of key in the frame's set: the matching slot, or the empty one where
 * it belongs. */
static size_t *key_slot(const yframe *fr, const char *key)
{
    size_t mask = fr->nslots - 1, i = (size_t)key_hash(key) & mask;
    while (fr->slots[i] && strcmp(fr->node->keys[fr->slots[i] - 1], key))
        i = (i + 1) & mask;
    return &fr->slots[i];
}

/* Keeps the set under half full: rebuilds it at twice the size. */
static strata_status key_set_grow(strata_ctx *ctx, yframe *fr)
{
    size_t n = fr->node->n, ns = fr->nslots ? fr->nslots * 2 : 16;
    size_t *old = fr->slots, oldn = fr->nslots;
    if (2 * (n + 1) < fr->nslots)
        return STRATA_OK;
    fr->slots = strata_calloc(ctx, ns, sizeof *fr->slots);
    if (!fr->slots) {
        fr->slots = old;
        return STRATA_ENOMEM;
    }
    fr->nslots = ns;
    for (size_t i = 0; i < n; i++)
        *key_slot(fr, fr->node->keys[i]) = i + 1;
    strata_free(ctx, old, oldn * sizeof *old);
    return STRATA_OK;
}

/* Appends child (and, for a mapping, the frame's pending key) to the frame's
 * node; capacity doubles, so n appends cost O(n). */
static strata_status append(strata_ctx *ctx, yframe *fr, ynode *child)
{
    ynode *parent = fr->node;
    size_t n = parent->n;
    if (n == parent->cap) {
        size_t nc = parent->cap ? parent->cap * 2 : 4;
        ynode **items = strata_realloc(ctx, parent->items, n * sizeof *items, nc * sizeof *items);
        if (!items)
            return STRATA_ENOMEM;
        parent->items = items;
        if (parent->kind == YN_MAP) {
            char **keys = strata_realloc(ctx, parent->keys, n * sizeof *keys, nc * sizeof *keys);
            int *lines;
            if (!keys)
                return STRATA_ENOMEM;
            parent->keys = keys;
            lines = strata_realloc(ctx, parent->key_lines, n * sizeof *lines, nc * sizeof *lines);
            if (!lines)
                return STRATA_ENOMEM;
            parent->key_lines = lines;
        }
        parent->cap = nc;
    }
    if (parent->kind == YN_MAP) {
        STRATA_TRY(key_set_grow(ctx, fr));
        parent->keys[n] = fr->key;
        parent->key_lines[n] = fr->key_line;
        *key_slot(fr, fr->key) = n + 1;
        fr->key = NULL;
    }
    parent->items[n] = child;
    parent->n = n + 1;
    return STRATA_OK;
}

/* Takes a mapping key from a scalar event (consumed); a repeated key is
 * STRATA_ESPEC naming both lines. */
static strata_status take_key(yparser *y, yframe *fr, yaml_event_t *ev)
{
    strata_ctx *ctx = y->ctx;
    int line = (int)ev->start_mark.line + 1;
    size_t *slot;
    if (ev->type != YAML_SCALAR_EVENT) {
        yaml_event_delete(ev);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: mapping keys must be plain words",
                           y->name, line);
    }
    fr->key = strata_strdup(ctx, (const char *)ev->data.scalar.value);
    fr->key_line = line;
    yaml_event_delete(ev);
    if (!fr->key)
        return STRATA_ENOMEM;
    if (fr->nslots) {
        slot = key_slot(fr, fr->key);
        if (*slot)
            return STRATA_FAIL(ctx, STRATA_ESPEC,
                               "%s: line %d: key \"%s\" repeats the one on line %d", y->name,
                               line, fr->key, fr->node->key_lines[*slot - 1]);
    }
    return STRATA_OK;
}

/* Builds a node from its first event (consumed); a collection is pushed as a
 * new frame. The node is attached to its parent (or *root) at once. */
static strata_status open_node(yparser *y, yaml_event_t *ev, ynode **root)
{
    strata_ctx *ctx = y->ctx;
    int line = (int)ev->start_mark.line + 1;
    yaml_event_type_t type = ev->type;
    ynode *n;
    strata_status st;
    if (type == YAML_ALIAS_EVENT) {
        yaml_event_delete(ev);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: aliases are not supported in specs",
                           y->name, line);
    }
    if (type != YAML_SCALAR_EVENT && type != YAML_MAPPING_START_EVENT &&
        type != YAML_SEQUENCE_START_EVENT) {
        yaml_event_delete(ev);
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: unexpected YAML content", y->name,
                           line);
    }
    if (type != YAML_SCALAR_EVENT && y->depth == STRATA_YAML_MAX_DEPTH) {
        yaml_event_delete(ev);
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "%s: line %d: nesting deeper than %d levels (specs need a few)",
                           y->name, line, STRATA_YAML_MAX_DEPTH);
    }
    n = strata_calloc(ctx, 1, sizeof *n);
    if (!n) {
        yaml_event_delete(ev);
        return STRATA_ENOMEM;
    }
    n->line = line;
    n->kind = type == YAML_SCALAR_EVENT ? YN_SCALAR : type == YAML_MAPPING_START_EVENT ? YN_MAP
                                                                                      : YN_SEQ;
    if (type == YAML_SCALAR_EVENT && !(n->scalar = strata_strdup(ctx, (const char *)ev->data.scalar.value))) {
        yaml_event_delete(ev);
        strata_free(ctx, n, sizeof *n);
        return STRATA_ENOMEM;
    }
    yaml_event_delete(ev);
    if (y->depth == 0)
        *root = n;
    else if ((st = append(ctx, &y->stack[y->depth - 1], n)) != STRATA_OK) {
        strata_yaml_free(ctx, n);
        return st;
    }
    if (n->kind != YN_SCALAR) {
        yframe *fr = &y->stack[y->depth++];
        memset(fr, 0, sizeof *fr);
        fr->node = n;
    }
    return STRATA_OK;
}

static void pop_frame(yparser *y)
{
    yframe *fr = &y->stack[--y->depth];
    strata_free(y->ctx, fr->key, 0);
    strata_free(y->ctx, fr->slots, fr->nslots * sizeof *fr->slots);
    memset(fr, 0, sizeof *fr);
}

/* Reads the events of the document's root node into *root. */
static strata_status parse_root(yparser *y, ynode **root)
{
    yaml_event_t ev;
    STRATA_TRY(next_event(y, &ev));
    STRATA_TRY(open_node(y, &ev, root));
    while (y->depth > 0) {
        yframe *fr = &y->stack[y->depth - 1];
        STRATA_TRY(next_event(y, &ev));
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            pop_frame(y);
        } else if (fr->node->kind == YN_MAP && !fr->key) {
            STRATA_TRY(take_key(y, fr, &ev));
        } else {
            STRATA_TRY(open_node(y, &ev, root));
        }
    }
    return STRATA_OK;
}

static strata_status yaml_parse(strata_ctx *ctx, const char *name, const char *text, size_t len,
                                int bounds_only, ynode **root)
{
    yparser *y;
    yaml_event_t ev;
    strata_status st;
    *root = NULL;
    /* the frame stack is large: keep it off the caller's stack */
    if (!(y = strata_calloc(ctx, 1, sizeof *y)))
        return STRATA_ENOMEM;
    y->ctx = ctx;
    y->name = name;
    y->bounds_only = bounds_only;
    if (!yaml_parser_initialize(&y->p)) {
        strata_free(ctx, y, sizeof *y);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot initialise the YAML parser", name);
    }
    yaml_parser_set_input_string(&y->p, (const unsigned char *)text, len);
    /* stream start, document start */
    st = next_event(y, &ev);
    if (st == STRATA_OK) {
        yaml_event_delete(&ev);
        st = next_event(y, &ev);
    }
    if (st == STRATA_OK) {
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            st = bounds_only ? STRATA_OK : STRATA_FAIL(ctx, STRATA_ESPEC, "%s: the spec is empty", name);
        } else {
            yaml_event_delete(&ev);
            st = parse_root(y, root);
        }
    }
    while (y->depth > 0)
        pop_frame(y);
    if (st != STRATA_OK && bounds_only && y->syntax_error) {
        strata_ctx_clear_error(ctx); /* the caller's own loader reports syntax in its words */
        st = STRATA_OK;
        strata_yaml_free(ctx, *root);
        *root = NULL;
    }
    if (st == STRATA_OK && !*root) {
        yaml_parser_delete(&y->p);
        strata_free(ctx, y, sizeof *y);
        return STRATA_OK; /* empty document, bounds_only */
    }
    if (st == STRATA_OK && !bounds_only && (*root)->kind != YN_MAP)
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: the spec must be a mapping of keys",
                         name, (*root)->line);
    if (st == STRATA_OK) { /* document end, then no second document */
        st = next_event(y, &ev);
        if (st == STRATA_OK) {
            yaml_event_delete(&ev);
            st = next_event(y, &ev);
        }
        if (st == STRATA_OK) {
            if (ev.type != YAML_STREAM_END_EVENT)
                st = STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %zu: only one YAML document allowed",
                                 name, ev.start_mark.line + 1);
            yaml_event_delete(&ev);
        }
    }
    yaml_parser_delete(&y->p);
    strata_free(ctx, y, sizeof *y);
    if (st != STRATA_OK) {
        strata_yaml_free(ctx, *root);
        *root = NULL;
    }
    return st;
}

strata_status strata_yaml_parse(strata_ctx *ctx, const char *name, const char *text, size_t len,
                                ynode **root)
{
    return yaml_parse(ctx, name, text, len, 0, root);
}

static strata_status yaml_load(strata_ctx *ctx, const char *path, int bounds_only, ynode **root)
{
    FILE *f;
    char *buf;
    size_t len = 0, cap = 4096;
    strata_status st;
    *root = NULL;
    if (!(f = strata_input_fopen(ctx, path))) /* a FIFO or device is refused, not waited on */
        return strata_ctx_errcode(ctx);
    if (!(buf = strata_alloc(ctx, cap))) {
        fclose(f);
        return STRATA_ENOMEM;
    }
    for (;;) {
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (len < cap - 1)
            break;
        if (cap >= STRATA_YAML_MAX_BYTES) {
            fclose(f);
            strata_free(ctx, buf, cap);
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: %zu MiB or larger; not a spec", path,
                               STRATA_YAML_MAX_BYTES >> 20);
        }
        {
            char *nb = strata_realloc(ctx, buf, cap, cap * 2);
            if (!nb) {
                fclose(f);
                strata_free(ctx, buf, cap);
                return STRATA_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        fclose(f);
        strata_free(ctx, buf, cap);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot read", path);
    }
    fclose(f);
    buf[len] = '\0';
    st = yaml_parse(ctx, path, buf, len, bounds_only, root);
    strata_free(ctx, buf, cap);
    return st;
}

strata_status strata_yaml_load(strata_ctx *ctx, const char *path, ynode **root)
{
    return yaml_load(ctx, path, 0, root);
}

strata_status strata_yaml_check(strata_ctx *ctx, const char *path)
{
    ynode *root = NULL;
    strata_status st = yaml_load(ctx, path, 1, &root);
    strata_yaml_free(ctx, root);
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

strata_status strata_yaml_bad_key(strata_ctx *ctx, const char *file, const ynode *map, const char *key,
                                  const char *why)
{
    int line = strata_yaml_key_line(map, key);
    if (line <= 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: key \"%s\" missing: %s", file,
                           map && map->line > 0 ? map->line : 1, key, why);
    return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: key \"%s\": %s", file, line, key, why);
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
