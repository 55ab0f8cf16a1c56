/* engine/io/yaml_tree.h — a YAML document loaded (with libyaml) into a small
 * tree of mappings, sequences and scalars that remembers each node's line, so
 * spec errors can name the key and the line. Hostile input is bounded: at most
 * STRATA_YAML_MAX_DEPTH nested collections and STRATA_YAML_MAX_BYTES of text,
 * built without recursion, duplicate keys found in expected O(1) each.
 * Internal to libstrata. */
#ifndef STRATA_YAML_TREE_H
#define STRATA_YAML_TREE_H

#include "internal.h"

/* Deepest nesting of mappings/sequences a spec may use (the documented specs
 * use 4); deeper is STRATA_ESPEC "nesting deeper than 64 levels". */
#define STRATA_YAML_MAX_DEPTH 64
/* Largest spec file read (a spec is a few kilobytes). */
#define STRATA_YAML_MAX_BYTES ((size_t)16 << 20)

typedef enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ } ynode_kind;

typedef struct ynode {
    ynode_kind kind;
    int line;               /* 1-based line of the node in the file */
    char *scalar;           /* YN_SCALAR: the text */
    size_t n;               /* YN_MAP / YN_SEQ: number of entries */
    size_t cap;             /* YN_MAP / YN_SEQ: allocated entries (>= n) */
    char **keys;            /* YN_MAP: keys (n) */
    int *key_lines;         /* YN_MAP: line of each key (n) */
    struct ynode **items;   /* YN_MAP values / YN_SEQ items (n) */
} ynode;

/* Loads path; a syntax error is STRATA_ESPEC naming file, line and problem. */
strata_status strata_yaml_load(strata_ctx *ctx, const char *path, ynode **root);
/* Parses a YAML text held in memory; name is used in messages. */
strata_status strata_yaml_parse(strata_ctx *ctx, const char *name, const char *text, size_t len,
                                ynode **root);
void strata_yaml_free(strata_ctx *ctx, ynode *n); /* accepts NULL */
/* Reads path under the same bounds (regular file, size, depth, repeated keys)
 * without keeping the tree; an empty or non-mapping document passes. For
 * readers that then load the file with libyaml's document API. */
strata_status strata_yaml_check(strata_ctx *ctx, const char *path);

/* Value of key in a mapping (NULL if absent or not a mapping). */
const ynode *strata_yaml_get(const ynode *map, const char *key);
/* Line of key in a mapping (0 if absent). */
int strata_yaml_key_line(const ynode *map, const char *key);
/* STRATA_ESPEC "<file>: line N: key \"key\": why" at the key's line, or, when
 * map lacks the key, "<file>: line N: key \"key\" missing: why" at the
 * mapping's line (never "line 0"). */
strata_status strata_yaml_bad_key(strata_ctx *ctx, const char *file, const ynode *map, const char *key,
                                  const char *why);

/* Typed reads of an optional key: absent leaves *out unchanged and returns
 * OK; a value of the wrong type is STRATA_ESPEC naming file, key and line. */
strata_status strata_yaml_str(strata_ctx *ctx, const char *file, const ynode *map,
                              const char *key, const char **out);
strata_status strata_yaml_double(strata_ctx *ctx, const char *file, const ynode *map,
                                 const char *key, double *out);
strata_status strata_yaml_long(strata_ctx *ctx, const char *file, const ynode *map,
                               const char *key, long *out);
strata_status strata_yaml_bool(strata_ctx *ctx, const char *file, const ynode *map,
                               const char *key, int *out);
/* Rejects keys of map not in allowed (NULL-terminated): STRATA_ESPEC naming
 * the key, its line and the allowed keys. where names the section. */
strata_status strata_yaml_only_keys(strata_ctx *ctx, const char *file, const ynode *map,
                                    const char *where, const char *const *allowed);

#endif
