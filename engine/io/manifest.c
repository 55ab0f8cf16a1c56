/* engine/io/manifest.c — the run manifest as a jansson object; written once,
 * atomically, at the end of a run. Versions are read from the libraries
 * actually loaded, not from compile-time headers alone. A file is hashed once
 * per run: a hash already computed for the same file (device, inode, size and
 * modification time unchanged — a rename keeps them) is reused, so a
 * synthesised cohort that is both an input and an output is read once. */
#include "manifest.h"
#include "outfile.h"

#include <hdf5.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MANIFEST_MAX_KNOWN 16

/* A file as the hash cache knows it: what changes when its bytes may have. */
typedef struct known_file {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[65];
} known_file;

struct strata_manifest {
    strata_ctx *ctx;
    json_t *root;
    known_file known[MANIFEST_MAX_KNOWN]; /* the hashes computed so far */
    size_t n_known;
};

static int file_id(const char *path, known_file *k)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    k->dev = sb.st_dev;
    k->ino = sb.st_ino;
    k->size = sb.st_size;
    k->mtime = sb.st_mtim;
    return 1;
}

static int same_file(const known_file *a, const known_file *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The hash of path: a known one when the file is unchanged, else computed
 * (and remembered when the file did not change while it was read). */
static strata_status file_hash(strata_manifest *m, const char *path, char hex[65])
{
    known_file before, after;
    int have = file_id(path, &before);
    for (size_t k = 0; have && k < m->n_known; k++)
        if (same_file(&m->known[k], &before)) {
            memcpy(hex, m->known[k].hex, 65);
            return STRATA_OK;
        }
    STRATA_TRY(strata_file_sha256(m->ctx, path, hex));
    if (have && m->n_known < MANIFEST_MAX_KNOWN && file_id(path, &after) &&
        same_file(&before, &after)) {
        memcpy(after.hex, hex, 65);
        m->known[m->n_known++] = after;
    }
    return STRATA_OK;
}

int strata_manifest_knows(const strata_manifest *m, const char *path)
{
    known_file now;
    if (!m || !file_id(path, &now))
        return 0;
    for (size_t k = 0; k < m->n_known; k++)
        if (same_file(&m->known[k], &now))
            return 1;
    return 0;
}

strata_status strata_manifest_hash(strata_manifest *m, const char *path, char hex[65])
{
    return file_hash(m, path, hex);
}

void strata_manifest_known_hash(strata_manifest *m, const char *path, const char *hex)
{
    known_file k;
    if (!m || !hex || strlen(hex) != 64 || m->n_known >= MANIFEST_MAX_KNOWN || !file_id(path, &k))
        return;
    memcpy(k.hex, hex, 65);
    m->known[m->n_known++] = k;
}

static strata_status oom(strata_manifest *m)
{
    return STRATA_FAIL(m->ctx, STRATA_ENOMEM, "manifest: out of memory");
}

strata_status strata_manifest_new(strata_ctx *ctx, strata_manifest **out)
{
    strata_manifest *m = strata_calloc(ctx, 1, sizeof *m);
    char blas[256], h5[32];
    unsigned maj, min, rel;
    json_t *sw;
    *out = NULL;
    if (!m)
        return STRATA_ENOMEM;
    m->ctx = ctx;
    m->root = json_object();
    H5get_libversion(&maj, &min, &rel);
    snprintf(h5, sizeof h5, "%u.%u.%u", maj, min, rel);
    strata_blas_config(blas, sizeof blas);
    sw = json_pack("{s:s, s:s, s:s, s:s, s:s}", "strata", strata_version(), "hdf5", h5,
                   "openblas", blas, "libyaml", yaml_get_version_string(), "jansson",
                   JANSSON_VERSION);
    if (!m->root || !sw || json_object_set_new(m->root, "software", sw) ||
        json_object_set_new(m->root, "threads", json_integer(strata_threads(ctx))) ||
        json_object_set_new(m->root, "inputs", json_object()) ||
        json_object_set_new(m->root, "outputs", json_array()) ||
        json_object_set_new(m->root, "timings", json_array())) {
        json_decref(m->root);
        strata_free(ctx, m, sizeof *m);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "manifest: out of memory");
    }
    *out = m;
    return STRATA_OK;
}

void strata_manifest_free(strata_manifest *m)
{
    if (!m)
        return;
    json_decref(m->root);
    strata_free(m->ctx, m, sizeof *m);
}

/* Sets value at "key" or "section.key" (section created on demand). */
static strata_status set(strata_manifest *m, const char *key, json_t *value)
{
    const char *dot = strchr(key, '.');
    json_t *obj = m->root;
    if (!value)
        return oom(m);
    if (dot) {
        char sec[128];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
        obj = json_object_get(m->root, sec);
        if (!obj) {
            obj = json_object();
            if (!obj || json_object_set_new(m->root, sec, obj)) {
                json_decref(value);
                return oom(m);
            }
        }
        key = dot + 1;
    }
    return json_object_set_new(obj, key, value) ? oom(m) : STRATA_OK;
}

strata_status strata_manifest_str(strata_manifest *m, const char *key, const char *value)
{
    return set(m, key, json_string(value ? value : ""));
}

strata_status strata_manifest_num(strata_manifest *m, const char *key, double value)
{
    return set(m, key, json_real(value));
}

strata_status strata_manifest_int(strata_manifest *m, const char *key, long long value)
{
    return set(m, key, json_integer(value));
}

strata_status strata_manifest_input(strata_manifest *m, const char *role, const char *path)
{
    return strata_manifest_input_as(m, role, path, path);
}

strata_status strata_manifest_input_as(strata_manifest *m, const char *role, const char *path,
                                       const char *recorded)
{
    char hex[65];
    json_t *o;
    STRATA_TRY(file_hash(m, path, hex));
    o = json_pack("{s:s, s:s}", "path", recorded, "sha256", hex);
    if (!o || json_object_set_new(json_object_get(m->root, "inputs"), role, o))
        return oom(m);
    return STRATA_OK;
}

strata_status strata_manifest_timing(strata_manifest *m, const char *stage, double seconds)
{
    json_t *o = json_pack("{s:s, s:f}", "stage", stage, "seconds", seconds);
    if (!o || json_array_append_new(json_object_get(m->root, "timings"), o))
        return oom(m);
    return STRATA_OK;
}

strata_status strata_manifest_output(strata_manifest *m, const char *path, const char *kind)
{
    json_t *o = json_pack("{s:s, s:s}", "path", path, "kind", kind);
    if (!o || json_array_append_new(json_object_get(m->root, "outputs"), o))
        return oom(m);
    return STRATA_OK;
}

size_t strata_manifest_n_outputs(const strata_manifest *m)
{
    return json_array_size(json_object_get(m->root, "outputs"));
}

const char *strata_manifest_output_path(const strata_manifest *m, size_t k)
{
    json_t *o = json_array_get(json_object_get(m->root, "outputs"), k);
    return json_string_value(json_object_get(o, "path"));
}

strata_status strata_manifest_hash_outputs(strata_manifest *m, const char *dir)
{
    json_t *outs = json_object_get(m->root, "outputs");
    for (size_t k = 0; k < json_array_size(outs); k++) {
        json_t *o = json_array_get(outs, k);
        char path[4400], hex[65];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(o, "path")));
        STRATA_TRY(file_hash(m, path, hex));
        if (json_object_set_new(o, "sha256", json_string(hex)))
            return oom(m);
    }
    return STRATA_OK;
}

strata_status strata_manifest_write(strata_manifest *m, const char *path)
{
    char *tmp = NULL;
    FILE *f = strata_out_open(m->ctx, path, 0644, &tmp); /* written through its descriptor */
    if (!f)
        return strata_ctx_errcode(m->ctx);
    if (json_dumpf(m->root, f, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) != 0) {
        fclose(f);
        unlink(tmp);
        strata_free(m->ctx, tmp, 0);
        return STRATA_FAIL(m->ctx, STRATA_EIO, "%s: cannot write manifest", path);
    }
    return strata_out_publish(m->ctx, f, tmp, path, 0644);
}
