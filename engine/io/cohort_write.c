/* engine/io/cohort_write.c — the cohort writer: columns appended in row blocks
 * to chunked, uncompressed datasets of a temporary file, published by rename
 * only when every group's columns have equal lengths. Objects carry no
 * timestamps, so the same content written the same way gives identical bytes. */
#include "cohort_internal.h"
#include "outfile.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct wcol {
    char *group;
    char *name;
    strata_dtype dtype;
    hid_t dset;
    size_t n;        /* rows written */
} wcol;

struct strata_cohort_writer {
    strata_ctx *ctx;
    char *path;
    char *tmp;
    hid_t file;
    wcol *cols;
    size_t ncols, cap;
};

/* Creates every missing component of an absolute group path, without times
 * and with link creation order tracked (so readers list columns as written). */
static strata_status strata_cohort_writer_new_h5(strata_ctx *ctx, const char *path,
                                       strata_cohort_writer **out)
{
    strata_cohort_writer *w;
    hid_t fcpl;
    *out = NULL;
    if (!path || !*path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cohort writer: empty output path");
    w = strata_calloc(ctx, 1, sizeof *w);
    if (!w)
        return STRATA_ENOMEM;
    w->ctx = ctx;
    w->file = H5I_INVALID_HID;
    w->path = strata_strdup(ctx, path);
    if (!w->path) {
        strata_free(ctx, w, sizeof *w);
        return STRATA_ENOMEM;
    }
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0); /* the root group too: no timestamps anywhere */
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    /* patient-level: 0600 from the first byte (issue 17 #11, #12) */
    w->file = strata_h5_create_tmp(ctx, path, 0600, fcpl, &w->tmp);
    H5Pclose(fcpl);
    if (w->file < 0) {
        strata_free(ctx, w->path, 0);
        strata_free(ctx, w, sizeof *w);
        return ctx->last_status;
    }
    if (strata_h5_ensure_group(w->file, "/patients") < 0 ||
        strata_h5_write_attr_string(w->file, "strata_schema", STRATA_COHORT_SCHEMA) < 0) {
        strata_cohort_writer_abort(w);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write cohort header", path);
    }
    {
        hid_t space = H5Screate(H5S_SCALAR);
        int v = STRATA_COHORT_SCHEMA_VERSION;
        hid_t a = H5Acreate2(w->file, "schema_version", H5T_STD_I32LE, space, H5P_DEFAULT,
                             H5P_DEFAULT);
        herr_t e = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT, &v) : -1;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(space);
        if (e < 0) {
            strata_cohort_writer_abort(w);
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write cohort header", path);
        }
    }
    *out = w;
    return STRATA_OK;
}

hid_t strata_cohort_writer_file(strata_cohort_writer *w)
{
    return w->file;
}

strata_status strata_cohort_writer_new(strata_ctx *ctx, const char *path,
                                       strata_cohort_writer **out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_new_h5(ctx, path, out);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_writer_attr_h5(strata_cohort_writer *w, const char *key,
                                        const char *value)
{
    if (!key || !*key || !value)
        return STRATA_FAIL(w->ctx, STRATA_EINVAL, "%s: attribute needs a key and a value",
                           w->path);
    if (!strcmp(key, "strata_schema") || !strcmp(key, "schema_version"))
        return STRATA_FAIL(w->ctx, STRATA_EINVAL, "%s: attribute %s is reserved", w->path, key);
    if (strata_h5_write_attr_string(w->file, key, value) < 0)
        return STRATA_FAIL(w->ctx, STRATA_EIO, "%s: cannot write attribute %s", w->path, key);
    return STRATA_OK;
}

strata_status strata_cohort_writer_attr(strata_cohort_writer *w, const char *key,
                                        const char *value)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_attr_h5(w, key, value);
    strata_h5_quiet_end(&es);
    return st;
}

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s == '/' || *s == '.' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

static strata_status check_spec(strata_cohort_writer *w, const strata_column_spec *spec,
                                const char *group)
{
    strata_ctx *ctx = w->ctx;
    if (!valid_name(spec->name))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: invalid column name \"%s\" (no '/', '.')",
                           w->path, spec->name ? spec->name : "");
    if (strata_dtype_size(spec->dtype) == 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s:/%s/%s: no storage type", w->path, group,
                           spec->name);
    if (spec->categorical) {
        if (spec->dtype != STRATA_DT_INT8 && spec->dtype != STRATA_DT_INT16 &&
            spec->dtype != STRATA_DT_INT32)
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s:/%s/%s: categorical codes must be int8, int16 or int32",
                               w->path, group, spec->name);
        if (spec->n_levels > 0 && !spec->levels)
            return STRATA_FAIL(ctx, STRATA_EINVAL, "%s:/%s/%s: levels missing", w->path, group,
                               spec->name);
    }
    for (size_t j = 0; j < w->ncols; j++)
        if (!strcmp(w->cols[j].name, spec->name) &&
            (!strcmp(w->cols[j].group, group) ||
             ((!strcmp(group, "patients") || !strcmp(group, "outcomes")) &&
              (!strcmp(w->cols[j].group, "patients") || !strcmp(w->cols[j].group, "outcomes")))))
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s: column %s added twice (names are unique across "
                               "/patients and /outcomes)",
                               w->path, spec->name);
    return STRATA_OK;
}

static strata_status strata_cohort_writer_add_h5(strata_cohort_writer *w, const strata_column_spec *spec,
                                       size_t *j)
{
    strata_ctx *ctx = w->ctx;
    const char *group = spec->group && *spec->group ? spec->group : "patients";
    char gpath[512], dpath[768];
    hid_t space, dcpl, d;
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {STRATA_CHUNK_ROWS};
    wcol *c;

    STRATA_TRY(check_spec(w, spec, group));
    snprintf(gpath, sizeof gpath, "/%s", group);
    snprintf(dpath, sizeof dpath, "/%s/%s", group, spec->name);
    if (strata_h5_ensure_group(w->file, gpath) < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create group %s", w->path, gpath);
    if (w->ncols == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 16;
        wcol *nc = strata_realloc(ctx, w->cols, w->cap * sizeof *nc, ncap * sizeof *nc);
        if (!nc)
            return STRATA_ENOMEM;
        w->cols = nc;
        w->cap = ncap;
    }
    space = H5Screate_simple(1, dims, maxdims);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    H5Pset_chunk(dcpl, 1, chunk);
    d = H5Dcreate2(w->file, dpath, strata_h5_native(spec->dtype), space, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (d < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s:%s: cannot create dataset", w->path, dpath);
    if ((spec->role != STRATA_ROLE_NONE &&
         strata_h5_write_attr_string(d, "role", strata_role_name(spec->role)) < 0) ||
        (spec->units && *spec->units && strata_h5_write_attr_string(d, "units", spec->units) < 0) ||
        (spec->description && *spec->description &&
         strata_h5_write_attr_string(d, "description", spec->description) < 0)) {
        H5Dclose(d);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s:%s: cannot write attributes", w->path, dpath);
    }
    if (spec->categorical) {
        char lpath[800];
        if (!strcmp(group, "patients") || !strcmp(group, "outcomes"))
            snprintf(lpath, sizeof lpath, "/dict/%s", spec->name);
        else {
            /* events/spells + type -> /dict/events.spells.type */
            int k = snprintf(lpath, sizeof lpath, "/dict/%s.%s", group, spec->name);
            for (int i = 6; i < k; i++)
                if (lpath[i] == '/')
                    lpath[i] = '.';
        }
        if (strata_h5_ensure_group(w->file, "/dict") < 0 ||
            strata_h5_write_strings(w->file, lpath, spec->levels, spec->n_levels) < 0 ||
            strata_h5_write_attr_string(d, "levels", lpath) < 0) {
            H5Dclose(d);
            return STRATA_FAIL(ctx, STRATA_EIO, "%s:%s: cannot write levels table %s", w->path,
                               dpath, lpath);
        }
    }
    c = &w->cols[w->ncols];
    memset(c, 0, sizeof *c);
    c->group = strata_strdup(ctx, group);
    c->name = strata_strdup(ctx, spec->name);
    c->dtype = spec->dtype;
    c->dset = d;
    if (!c->group || !c->name) {
        strata_free(ctx, c->group, 0);
        strata_free(ctx, c->name, 0);
        H5Dclose(d);
        return STRATA_ENOMEM;
    }
    if (j)
        *j = w->ncols;
    w->ncols++;
    return STRATA_OK;
}

strata_status strata_cohort_writer_add(strata_cohort_writer *w, const strata_column_spec *spec,
                                       size_t *j)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_add_h5(w, spec, j);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_writer_append_h5(strata_cohort_writer *w, size_t j, const void *data,
                                          size_t n)
{
    wcol *c;
    hsize_t size[1], start[1], count[1];
    hid_t fspace, mspace;
    herr_t e;
    if (j >= w->ncols)
        return STRATA_FAIL(w->ctx, STRATA_EINVAL, "%s: no column %zu", w->path, j);
    if (n == 0)
        return STRATA_OK;
    c = &w->cols[j];
    size[0] = (hsize_t)(c->n + n);
    start[0] = (hsize_t)c->n;
    count[0] = (hsize_t)n;
    if (H5Dset_extent(c->dset, size) < 0)
        return STRATA_FAIL(w->ctx, STRATA_EIO, "%s:/%s/%s: cannot extend to %zu rows", w->path,
                           c->group, c->name, c->n + n);
    fspace = H5Dget_space(c->dset);
    mspace = H5Screate_simple(1, count, NULL);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    e = H5Dwrite(c->dset, strata_h5_native(c->dtype), mspace, fspace, H5P_DEFAULT, data);
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (e < 0)
        return STRATA_FAIL(w->ctx, STRATA_EIO, "%s:/%s/%s: write of rows %zu..%zu failed",
                           w->path, c->group, c->name, c->n + 1, c->n + n);
    c->n += n;
    return STRATA_OK;
}

strata_status strata_cohort_writer_append(strata_cohort_writer *w, size_t j, const void *data,
                                          size_t n)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_append_h5(w, j, data, n);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_writer_strings_h5(strata_cohort_writer *w, const char *path,
                                           const char *const *s, size_t n)
{
    char parent[512];
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!path || path[0] != '/' || !slash || !slash[1])
        return STRATA_FAIL(w->ctx, STRATA_EINVAL, "%s: string dataset path must be absolute",
                           w->path);
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
    if ((parent[0] && strata_h5_ensure_group(w->file, parent) < 0) ||
        strata_h5_write_strings(w->file, path, s, n) < 0)
        return STRATA_FAIL(w->ctx, STRATA_EIO, "%s:%s: cannot write strings", w->path, path);
    return STRATA_OK;
}

strata_status strata_cohort_writer_strings(strata_cohort_writer *w, const char *path,
                                           const char *const *s, size_t n)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_strings_h5(w, path, s, n);
    strata_h5_quiet_end(&es);
    return st;
}

static void free_writer(strata_cohort_writer *w)
{
    strata_ctx *ctx = w->ctx;
    for (size_t j = 0; j < w->ncols; j++) {
        if (w->cols[j].dset >= 0)
            H5Dclose(w->cols[j].dset);
        strata_free(ctx, w->cols[j].group, 0);
        strata_free(ctx, w->cols[j].name, 0);
    }
    strata_free(ctx, w->cols, 0);
    if (w->file >= 0)
        H5Fclose(w->file);
    strata_free(ctx, w->tmp, 0);
    strata_free(ctx, w->path, 0);
    strata_free(ctx, w, sizeof *w);
}

/* The table a column's length is checked against: patients and outcomes
 * share one; each events table is its own. */
static const char *length_group(const char *g)
{
    return !strcmp(g, "outcomes") ? "patients" : g;
}

static strata_status strata_cohort_writer_finish_h5(strata_cohort_writer *w)
{
    strata_ctx *ctx = w->ctx;
    strata_status st = STRATA_OK;
    for (size_t j = 0; j < w->ncols && st == STRATA_OK; j++) {
        if (!strcmp(w->cols[j].group, "truth"))
            continue;
        for (size_t k = 0; k < j; k++) {
            if (!strcmp(length_group(w->cols[j].group), length_group(w->cols[k].group)) &&
                w->cols[j].n != w->cols[k].n) {
                st = STRATA_FAIL(ctx, STRATA_EINVAL,
                                 "%s:/%s/%s: %zu rows written but /%s/%s has %zu", w->path,
                                 w->cols[j].group, w->cols[j].name, w->cols[j].n,
                                 w->cols[k].group, w->cols[k].name, w->cols[k].n);
                break;
            }
        }
    }
    for (size_t j = 0; j < w->ncols; j++) {
        if (H5Dclose(w->cols[j].dset) < 0 && st == STRATA_OK)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: closing /%s/%s failed", w->path,
                             w->cols[j].group, w->cols[j].name);
        w->cols[j].dset = H5I_INVALID_HID;
    }
    if (st == STRATA_OK && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: flush failed", w->path);
    if (H5Fclose(w->file) < 0 && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: close failed", w->path);
    w->file = H5I_INVALID_HID;
    if (st == STRATA_OK)
        st = strata_publish(ctx, w->tmp, w->path, 0600); /* patient-level: owner only */
    else
        unlink(w->tmp);
    free_writer(w);
    return st;
}

strata_status strata_cohort_writer_finish(strata_cohort_writer *w)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_writer_finish_h5(w);
    strata_h5_quiet_end(&es);
    return st;
}

static void strata_cohort_writer_abort_h5(strata_cohort_writer *w)
{
    if (!w)
        return;
    for (size_t j = 0; j < w->ncols; j++) {
        if (w->cols[j].dset >= 0)
            H5Dclose(w->cols[j].dset);
        w->cols[j].dset = H5I_INVALID_HID;
    }
    if (w->file >= 0)
        H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    unlink(w->tmp);
    free_writer(w);
}

void strata_cohort_writer_abort(strata_cohort_writer *w)
{
    strata_h5_errsave es;
    strata_h5_quiet_begin(&es);
    strata_cohort_writer_abort_h5(w);
    strata_h5_quiet_end(&es);
}
