/* engine/io/events_strtab.c — string interning and an int64 map for event
 * import, code lists and derive (events_internal.h). Both use open addressing
 * with linear probing at load <= 1/2, so a probe always ends at an empty slot. */
#include "events_internal.h"

#include <string.h>

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void strata_strtab_init(strata_strtab *t, strata_ctx *ctx)
{
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
}

void strata_strtab_free(strata_strtab *t)
{
    for (size_t k = 0; k < t->nchunk; k++)
        strata_free(t->ctx, t->chunk[k], 0);
    STRATA_FREE_ALL(t->ctx, t->chunk, t->str, t->hash, t->slot);
    memset(t, 0, sizeof *t);
}

#define TAG(h) ((h) >> 32)
#define CHUNK 65536

static size_t probe(const strata_strtab *t, const char *s, uint64_t h)
{
    size_t mask = t->nslot - 1, i = (size_t)strata_mix64(h) & mask; /* FNV's low bits are weak */
    while (t->slot[i]) {
        uint64_t e = t->slot[i];
        if (e >> 32 == TAG(h) && !strcmp(t->str[(uint32_t)e - 1], s))
            break;
        i = (i + 1) & mask;
    }
    return i;
}

long strata_strtab_find(const strata_strtab *t, const char *s)
{
    size_t i;
    if (!t->nslot)
        return -1;
    i = probe(t, s, fnv(s));
    return t->slot[i] ? (long)(uint32_t)t->slot[i] - 1 : -1;
}

static int rehash(strata_strtab *t)
{
    size_t ns = t->nslot ? t->nslot * 2 : 64;
    uint64_t *slot = strata_calloc(t->ctx, ns, sizeof *slot);
    if (!slot)
        return -1;
    strata_free(t->ctx, t->slot, 0);
    t->slot = slot;
    t->nslot = ns;
    for (size_t id = 0; id < t->n; id++)
        t->slot[probe(t, t->str[id], t->hash[id])] = TAG(t->hash[id]) << 32 | (id + 1);
    return 0;
}

/* A copy of s in the chunk storage (strings over a chunk get their own). */
static char *store(strata_strtab *t, const char *s)
{
    size_t len = strlen(s) + 1;
    char *d;
    if (!t->nchunk || t->chunk_used + len > CHUNK) {
        char **nc = strata_realloc(t->ctx, t->chunk, t->nchunk * sizeof *nc,
                                   (t->nchunk + 1) * sizeof *nc);
        if (!nc)
            return NULL;
        t->chunk = nc;
        if (!(t->chunk[t->nchunk] = strata_alloc(t->ctx, len > CHUNK ? len : CHUNK)))
            return NULL;
        t->nchunk++;
        t->chunk_used = len > CHUNK ? CHUNK : 0;
        if (len > CHUNK)
            return memcpy(t->chunk[t->nchunk - 1], s, len);
    }
    d = t->chunk[t->nchunk - 1] + t->chunk_used;
    t->chunk_used += len;
    return memcpy(d, s, len);
}

long strata_strtab_add(strata_strtab *t, const char *s)
{
    uint64_t h = fnv(s);
    size_t i;
    if ((t->n + 1) * 2 > t->nslot && rehash(t) < 0)
        return -1;
    i = probe(t, s, h);
    if (t->slot[i])
        return (long)(uint32_t)t->slot[i] - 1;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        char **ns = strata_realloc(t->ctx, t->str, t->cap * sizeof *ns, nc * sizeof *ns);
        uint64_t *nh;
        if (!ns)
            return -1;
        t->str = ns;
        nh = strata_realloc(t->ctx, t->hash, t->cap * sizeof *nh, nc * sizeof *nh);
        if (!nh)
            return -1;
        t->hash = nh;
        t->cap = nc;
    }
    if (!(t->str[t->n] = store(t, s)))
        return -1;
    t->hash[t->n] = h;
    t->slot[i] = TAG(h) << 32 | (t->n + 1);
    return (long)t->n++;
}

strata_status strata_i64map_init(strata_ctx *ctx, strata_i64map *m, size_t n)
{
    size_t ns = 64;
    while (ns < 2 * n + 2)
        ns *= 2;
    memset(m, 0, sizeof *m);
    m->key = strata_alloc(ctx, ns * sizeof *m->key);
    m->val = strata_alloc(ctx, ns * sizeof *m->val);
    m->used = strata_calloc(ctx, ns, 1);
    m->nslot = ns;
    if (!m->key || !m->val || !m->used) {
        strata_i64map_free(ctx, m);
        return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

void strata_i64map_free(strata_ctx *ctx, strata_i64map *m)
{
    strata_free(ctx, m->key, 0);
    strata_free(ctx, m->val, 0);
    strata_free(ctx, m->used, 0);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const strata_i64map *m, int64_t key)
{
    size_t mask = m->nslot - 1;
    size_t i = (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
    while (m->used[i] && m->key[i] != key)
        i = (i + 1) & mask;
    return i;
}

int strata_i64map_put(strata_i64map *m, int64_t key, int64_t val)
{
    size_t i = slot_of(m, key);
    if (m->used[i])
        return 1;
    m->used[i] = 1;
    m->key[i] = key;
    m->val[i] = val;
    return 0;
}

int64_t strata_i64map_get(const strata_i64map *m, int64_t key)
{
    size_t i = slot_of(m, key);
    return m->used[i] ? m->val[i] : -1;
}
