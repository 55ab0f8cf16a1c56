/* engine/io/cohort_read.c — the cohort reader: opens a v1 cohort, describes its
 * columns (type, role, levels, units) and reads row blocks with conversion to
 * double / int32 / int64 or in the storage type. Invariant: every column in
 * c->cols with dset >= 0 is a readable 1-D numeric dataset of info.length rows. */
#include "cohort_dist.h"
#include "cohort_internal.h"
#include "comm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void free_col(strata_ctx *ctx, cohort_col *col)
{
    if (col->dset >= 0)
        H5Dclose(col->dset);
    strata_free(ctx, col->group, 0);
    strata_free(ctx, col->name, 0);
    strata_free(ctx, col->units, 0);
    strata_free(ctx, col->levels_path, 0);
    strata_free(ctx, col->problem, 0);
    strata_strings_free(ctx, col->levels, col->info.n_levels);
}

static void strata_cohort_close_h5(strata_cohort *c)
{
    strata_ctx *ctx;
    if (!c)
        return;
    ctx = c->ctx;
    for (size_t j = 0; j < c->ncols; j++)
        free_col(ctx, &c->cols[j]);
    strata_free(ctx, c->cols, 0);
    for (size_t i = 0; i < c->nattrs; i++) {
        strata_free(ctx, c->attrs[i].key, 0);
        strata_free(ctx, c->attrs[i].value, 0);
    }
    strata_free(ctx, c->attrs, 0);
    strata_strings_free(ctx, c->problems, c->nproblems);
    strata_free(ctx, c->scratch, c->scratch_size);
    if (c->dxpl != H5P_DEFAULT)
        H5Pclose(c->dxpl);
    if (c->nocache >= 0)
        H5Pclose(c->nocache);
    if (c->file >= 0)
        H5Fclose(c->file);
    strata_free(ctx, c->path, 0);
    strata_free(ctx, c, sizeof *c);
}

void strata_cohort_close(strata_cohort *c)
{
    strata_h5_errsave es;
    strata_h5_quiet_begin(&es);
    strata_cohort_close_h5(c);
    strata_h5_quiet_end(&es);
}

/* Records a structure problem: fatal (EFORMAT) unless the open is lenient. */
static strata_status problem(strata_cohort *c, int lenient, char **slot, const char *fmt, ...)
    STRATA_PRINTF(4, 5);
static strata_status problem(strata_cohort *c, int lenient, char **slot, const char *fmt, ...)
{
    char msg[STRATA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!lenient)
        return STRATA_FAIL(c->ctx, STRATA_EFORMAT, "%s", msg);
    if (slot) {
        if (!*slot && !(*slot = strata_strdup(c->ctx, msg)))
            return STRATA_ENOMEM;
        return STRATA_OK;
    }
    {
        char **np = strata_realloc(c->ctx, c->problems, c->nproblems * sizeof *np,
                                   (c->nproblems + 1) * sizeof *np);
        if (!np)
            return STRATA_ENOMEM;
        c->problems = np;
        if (!(np[c->nproblems] = strata_strdup(c->ctx, msg)))
            return STRATA_ENOMEM;
        c->nproblems++;
    }
    return STRATA_OK;
}

typedef struct name_list {
    strata_ctx *ctx;
    char **names;
    size_t n, cap;
    int failed;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *ud)
{
    name_list *l = ud;
    (void)g;
    (void)info;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        char **nn = strata_realloc(l->ctx, l->names, l->cap * sizeof *nn, ncap * sizeof *nn);
        if (!nn) {
            l->failed = 1;
            return -1;
        }
        l->names = nn;
        l->cap = ncap;
    }
    if (!(l->names[l->n] = strata_strdup(l->ctx, name))) {
        l->failed = 1;
        return -1;
    }
    l->n++;
    return 0;
}

/* Member names of a group in creation order when tracked, else by name. */
static strata_status list_group(strata_ctx *ctx, hid_t file, const char *path, name_list *l)
{
    hid_t g = H5Gopen2(file, path, H5P_DEFAULT);
    hsize_t idx = 0;
    herr_t e;
    memset(l, 0, sizeof *l);
    l->ctx = ctx;
    if (g < 0)
        return STRATA_EFORMAT;
    e = H5Literate(g, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_name, l);
    if (e < 0 && !l->failed) {
        strata_strings_free(ctx, l->names, l->n);
        memset(l, 0, sizeof *l);
        l->ctx = ctx;
        idx = 0;
        e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, l);
    }
    H5Gclose(g);
    if (l->failed || e < 0) {
        int failed = l->failed;
        strata_strings_free(ctx, l->names, l->n);
        memset(l, 0, sizeof *l);
        return failed ? STRATA_ENOMEM : STRATA_EFORMAT;
    }
    return STRATA_OK;
}

static herr_t collect_attr(hid_t obj, const char *name, const H5A_info_t *info, void *ud)
{
    strata_cohort *c = ud;
    cohort_attr *na;
    char *v = NULL;
    strata_status st;
    (void)info;
    st = strata_h5_attr_read(c->ctx, obj, c->path, "/", name, 0, &v);
    if (st == STRATA_EFORMAT) /* an array or exotic attribute: a structure problem */
        st = problem(c, c->lenient, NULL, "%s", strata_ctx_errmsg(c->ctx));
    if (st != STRATA_OK || !v) {
        c->iter_status = st;
        return st == STRATA_OK ? 0 : -1;
    }
    na = strata_realloc(c->ctx, c->attrs, c->nattrs * sizeof *na, (c->nattrs + 1) * sizeof *na);
    if (!na) {
        strata_free(c->ctx, v, 0);
        c->iter_status = STRATA_ENOMEM;
        return -1;
    }
    c->attrs = na;
    na[c->nattrs].value = v;
    if (!(na[c->nattrs].key = strata_strdup(c->ctx, name))) {
        strata_free(c->ctx, v, 0);
        c->iter_status = STRATA_ENOMEM;
        return -1;
    }
    c->nattrs++;
    return 0;
}

/* Reads an optional string attribute of a column: absent is OK with *out
 * NULL; a non-scalar or non-string one is a structure problem of the column. */
static strata_status attr_str(strata_cohort *c, cohort_col *col, const char *dpath,
                              const char *name, char **out)
{
    strata_status st = strata_h5_attr_read(c->ctx, col->dset, c->path, dpath, name, 1, out);
    if (st == STRATA_EFORMAT)
        st = problem(c, c->lenient, &col->problem, "%s", strata_ctx_errmsg(c->ctx));
    return st;
}

/* Registers /group/name as column c->ncols (group and name only: not opened). */
static strata_status register_column(strata_cohort *c, const char *group, const char *name)
{
    strata_ctx *ctx = c->ctx;
    cohort_col *col;
    if (c->ncols == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        cohort_col *nc = strata_realloc(ctx, c->cols, c->cap * sizeof *nc, ncap * sizeof *nc);
        if (!nc)
            return STRATA_ENOMEM;
        c->cols = nc;
        c->cap = ncap;
    }
    col = &c->cols[c->ncols];
    memset(col, 0, sizeof *col);
    col->dset = H5I_INVALID_HID;
    col->group = strata_strdup(ctx, group);
    col->name = strata_strdup(ctx, name);
    if (!col->group || !col->name) {
        free_col(ctx, col);
        return STRATA_ENOMEM;
    }
    c->ncols++;
    col->info.group = col->group;
    col->info.name = col->name;
    col->info.units = "";
    return STRATA_OK;
}

/* Opens registered column j: its dataset, type, extent, role, units and
 * levels table, with every check of the column itself.
 * Columns open without a chunk cache unless filtered (strata_h5_open_column):
 * a streamed fit's warm start, which visits one 8,192-row block in each
 * 65,536-row chunk, had read every chunk whole on every pass (docs/scale.md). */
static strata_status load_column(strata_cohort *c, int lenient, size_t j)
{
    strata_ctx *ctx = c->ctx;
    char dpath[1024];
    cohort_col *col = &c->cols[j];
    hid_t d, t, space;
    strata_status st = STRATA_OK;

    col->loaded = 1;
    snprintf(dpath, sizeof dpath, "/%s/%s", col->group, col->name);
    d = strata_h5_open_column(c->file, dpath, c->nocache);
    if (d < 0)
        return problem(c, lenient, &col->problem, "%s:%s: cannot open dataset", c->path, dpath);
    t = H5Dget_type(d);
    space = H5Dget_space(d);
    col->info.dtype = strata_h5_dtype(t);
    if (H5Sget_simple_extent_ndims(space) != 1) {
        st = problem(c, lenient, &col->problem, "%s:%s: has %d dimensions, columns are 1-D",
                     c->path, dpath, H5Sget_simple_extent_ndims(space));
    } else if (col->info.dtype == STRATA_DT_NONE) {
        st = problem(c, lenient, &col->problem,
                     "%s:%s: unsupported type (columns are int8..int64, float32 or float64)",
                     c->path, dpath);
    } else {
        hsize_t dims[1];
        H5Sget_simple_extent_dims(space, dims, NULL);
        if (!strata_h5_npts_plausible(d, (hssize_t)dims[0])) {
            /* every reader allocates rows: a crafted extent must stop here */
            H5Sclose(space);
            H5Tclose(t);
            H5Dclose(d);
            return problem(c, lenient, &col->problem,
                           "%s:%s: %llu rows cannot be stored in a file this size; corrupt",
                           c->path, dpath, (unsigned long long)dims[0]);
        }
        col->info.length = (size_t)dims[0];
        col->dset = d;
        d = H5I_INVALID_HID;
    }
    H5Sclose(space);
    H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    if (st != STRATA_OK || col->dset < 0)
        return st;

    /* Attributes: role, units, levels. */
    {
        char *role;
        STRATA_TRY(attr_str(c, col, dpath, "role", &role));
        if (role) {
            col->info.role = strata_role_parse(role);
            if (col->info.role == STRATA_ROLE_NONE)
                st = problem(c, lenient, &col->problem, "%s:%s: unknown role \"%s\"", c->path,
                             dpath, role);
            strata_free(ctx, role, 0);
            if (st != STRATA_OK)
                return st;
        }
        STRATA_TRY(attr_str(c, col, dpath, "units", &col->units));
        if (col->units)
            col->info.units = col->units;
        STRATA_TRY(attr_str(c, col, dpath, "levels", &col->levels_path));
    }
    if (col->levels_path) {
        strata_status ls;
        col->info.categorical = 1;
        if (col->info.dtype != STRATA_DT_INT8 && col->info.dtype != STRATA_DT_INT16 &&
            col->info.dtype != STRATA_DT_INT32)
            return problem(c, lenient, &col->problem,
                           "%s:%s: categorical codes must be int8, int16 or int32, not %s",
                           c->path, dpath, strata_dtype_name(col->info.dtype));
        ls = strata_h5_read_strings(ctx, c->file, c->path, col->levels_path, &col->levels,
                                    &col->info.n_levels);
        if (ls == STRATA_ENOMEM)
            return ls;
        if (ls != STRATA_OK)
            return problem(c, lenient, &col->problem, "%s:%s: levels table %s unreadable",
                           c->path, dpath, col->levels_path);
        col->info.levels = (const char *const *)col->levels;
        /* labels reach reports and CSVs as they are: they must be text */
        for (size_t l = 0; l < col->info.n_levels; l++) {
            size_t bad = col->levels[l] ? strata_utf8_invalid(col->levels[l]) : (size_t)-1;
            if (bad != (size_t)-1)
                return problem(c, lenient, &col->problem,
                               "%s:%s: level %zu of levels table %s is not UTF-8 text (byte "
                               "0x%02X at byte %zu)",
                               c->path, dpath, l, col->levels_path,
                               (unsigned char)col->levels[l][bad], bad + 1);
        }
    }
    return STRATA_OK;
}

static strata_status add_column(strata_cohort *c, int lenient, const char *group,
                                const char *name)
{
    char dpath[1024];
    H5O_info_t oinfo;

    snprintf(dpath, sizeof dpath, "/%s/%s", group, name);
    if (!strcmp(group, "truth") &&
        H5Oget_info_by_name2(c->file, dpath, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
        oinfo.type == H5O_TYPE_GROUP)
        return STRATA_OK; /* /truth is free-form: subgroups are read by path, not as columns */
    if (H5Oget_info_by_name2(c->file, dpath, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oinfo.type != H5O_TYPE_DATASET)
        return problem(c, lenient, NULL, "%s:%s: not a dataset (columns are 1-D datasets)",
                       c->path, dpath);
    if (!strcmp(group, "truth")) {
        /* /truth may hold string datasets (term names): read with read_strings. */
        hid_t td = H5Dopen2(c->file, dpath, H5P_DEFAULT), tt;
        int is_str;
        if (td < 0)
            return problem(c, lenient, NULL, "%s:%s: cannot open dataset", c->path, dpath);
        tt = H5Dget_type(td);
        is_str = H5Tget_class(tt) == H5T_STRING;
        H5Tclose(tt);
        H5Dclose(td);
        if (is_str)
            return STRATA_OK;
    }
    STRATA_TRY(register_column(c, group, name));
    return load_column(c, lenient, c->ncols - 1);
}

static strata_status add_group(strata_cohort *c, int lenient, const char *group)
{
    name_list l;
    char gpath[512];
    strata_status st;
    snprintf(gpath, sizeof gpath, "/%s", group);
    st = list_group(c->ctx, c->file, gpath, &l);
    if (st == STRATA_ENOMEM)
        return st;
    if (st != STRATA_OK)
        return problem(c, lenient, NULL, "%s:%s: cannot list group", c->path, gpath);
    for (size_t i = 0; i < l.n && st == STRATA_OK; i++)
        st = add_column(c, lenient, group, l.names[i]);
    strata_strings_free(c->ctx, l.names, l.n);
    return st;
}

static int group_exists(hid_t file, const char *path)
{
    H5O_info_t oinfo;
    return H5Lexists(file, path, H5P_DEFAULT) > 0 &&
           H5Oget_info_by_name2(file, path, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
           oinfo.type == H5O_TYPE_GROUP;
}

static strata_status check_lengths(strata_cohort *c, int lenient)
{
    const cohort_col *ref = NULL;
    for (size_t j = 0; j < c->ncols; j++) {
        cohort_col *col = &c->cols[j];
        if (col->dset < 0 || (strcmp(col->group, "patients") && strcmp(col->group, "outcomes")))
            continue;
        if (!ref) {
            ref = col;
            continue;
        }
        if (col->info.length != ref->info.length)
            STRATA_TRY(problem(c, lenient, &col->problem,
                               "%s:/%s/%s: length %zu differs from /%s/%s length %zu", c->path,
                               col->group, col->name, col->info.length, ref->group, ref->name,
                               ref->info.length));
    }
    /* nrows: the patient id column's length, else the first column's. */
    c->nrows = ref ? ref->info.length : 0;
    for (size_t j = 0; j < c->ncols; j++)
        if (c->cols[j].info.role == STRATA_ROLE_PATIENT_ID && c->cols[j].dset >= 0 &&
            !strcmp(c->cols[j].group, "patients"))
            c->nrows = c->cols[j].info.length;
    /* Each events table: its columns share one length. */
    for (size_t j = 0; j < c->ncols; j++) {
        cohort_col *col = &c->cols[j];
        if (col->dset < 0 || strncmp(col->group, "events/", 7))
            continue;
        for (size_t k = 0; k < j; k++)
            if (c->cols[k].dset >= 0 && !strcmp(c->cols[k].group, col->group) &&
                c->cols[k].info.length != col->info.length) {
                STRATA_TRY(problem(c, lenient, &col->problem,
                                   "%s:/%s/%s: length %zu differs from /%s/%s length %zu",
                                   c->path, col->group, col->name, col->info.length,
                                   c->cols[k].group, c->cols[k].name, c->cols[k].info.length));
                break;
            }
    }
    return STRATA_OK;
}

static strata_status check_roles(strata_cohort *c, int lenient)
{
    for (size_t j = 0; j < c->ncols; j++) {
        strata_role r = c->cols[j].info.role;
        if (r == STRATA_ROLE_NONE)
            continue;
        for (size_t k = 0; k < j; k++)
            if (c->cols[k].info.role == r)
                STRATA_TRY(problem(c, lenient, &c->cols[j].problem,
                                   "%s:/%s/%s: role %s already declared by /%s/%s", c->path,
                                   c->cols[j].group, c->cols[j].name, strata_role_name(r),
                                   c->cols[k].group, c->cols[k].name));
    }
    return STRATA_OK;
}

/* A lazy handle: the names in /patients and /outcomes, and the first of them
 * opened (its length is the cohort's rows: a strict open has found every
 * /patients and /outcomes column of this length). */
static strata_status list_lazy(strata_cohort *c)
{
    static const char *const groups[] = {"patients", "outcomes"};
    strata_status st = STRATA_OK;
    for (int g = 0; g < 2 && st == STRATA_OK; g++) {
        name_list l;
        char gpath[32];
        snprintf(gpath, sizeof gpath, "/%s", groups[g]);
        if (g == 1 && !group_exists(c->file, gpath))
            break;
        st = list_group(c->ctx, c->file, gpath, &l);
        if (st == STRATA_EFORMAT)
            return STRATA_FAIL(c->ctx, st, "%s:%s: cannot list group", c->path, gpath);
        for (size_t i = 0; i < l.n && st == STRATA_OK; i++)
            st = register_column(c, groups[g], l.names[i]);
        strata_strings_free(c->ctx, l.names, l.n);
    }
    if (st == STRATA_OK && c->ncols > 0) { /* (an /outcomes column when /patients is empty) */
        st = load_column(c, 0, 0);
        c->nrows = c->cols[0].info.length;
    }
    return st;
}

/* A lazy handle's column j at its first find: opened with the strict open's
 * checks of the column, and its length against the cohort's rows. */
static strata_status lazy_load(strata_ctx *ctx, strata_cohort *c, size_t j)
{
    strata_h5_errsave es;
    strata_status st;
    cohort_col *col = &c->cols[j];
    strata_h5_quiet_begin(&es);
    st = load_column(c, 0, j);
    strata_h5_quiet_end(&es);
    if (st == STRATA_OK && col->info.length != c->nrows)
        st = STRATA_FAIL(c->ctx, STRATA_EFORMAT, "%s:/%s/%s: length %zu differs from /%s/%s length %zu", c->path,
                         col->group, col->name, col->info.length, c->cols[0].group, c->cols[0].name, c->nrows);
    if (st != STRATA_OK && ctx != c->ctx)
        return STRATA_FAIL(ctx, st, "%s", strata_ctx_errmsg(c->ctx));
    return st;
}

static strata_status strata_cohort_open_ex_h5(strata_ctx *ctx, const char *path, int lenient,
                                              int dist, int lazy, strata_cohort **out)
{
    strata_cohort *c;
    strata_status st = STRATA_OK;
    htri_t is_h5;
    char *schema;

    *out = NULL;
    if (!path || !*path)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cohort: empty path");
    /* a FIFO or device (/dev/zero) would hang H5Fis_hdf5: refused first; the
     * file is remembered so no output of this job replaces it (issue 17 #14) */
    STRATA_TRY(strata_input_check(ctx, path));
    is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT,
                           "%s: not an HDF5 file (or truncated/corrupt): expected a strata "
                           "cohort (docs/cohort-format.md)",
                           path);
    /* a crash in HDF5's parser stays in a child (a distributed open follows
     * the caller's own open of the same file, probed then) */
    if (!dist)
        STRATA_TRY(strata_h5_probe_as(ctx, path, 1));
    c = strata_calloc(ctx, 1, sizeof *c);
    if (!c)
        return STRATA_ENOMEM;
    c->ctx = ctx;
    c->lenient = lenient;
    c->lazy = lazy;
    c->file = H5I_INVALID_HID;
    c->dxpl = H5P_DEFAULT;
    c->nocache = strata_h5_nocache_dapl();
    if (!(c->path = strata_strdup(ctx, path))) {
        strata_cohort_close(c);
        return STRATA_ENOMEM;
    }
    if (dist) {
        /* every rank opens on the MPI-IO driver; row reads are collective */
        const strata_comm *cm = strata_ctx_comm(ctx);
        hid_t fapl = (hid_t)cm->h5_fapl(cm->ud);
        c->dxpl = (hid_t)cm->h5_dxpl(cm->ud, 0);
        if (fapl < 0 || c->dxpl < 0) {
            if (fapl >= 0)
                H5Pclose(fapl);
            strata_cohort_close(c);
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot set up parallel HDF5 (MPI-IO driver)", path);
        }
        c->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
        H5Pclose(fapl);
    } else {
        c->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    }
    if (c->file < 0) {
        strata_cohort_close(c);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: HDF5 file is corrupt or truncated", path);
    }
    if (H5Aiterate2(c->file, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_attr, c) < 0) {
        strata_status is = c->iter_status;
        strata_cohort_close(c);
        if (is == STRATA_ENOMEM)
            return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory reading attributes", path);
        if (is != STRATA_OK) /* the message names the attribute */
            return is;
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read root attributes", path);
    }
    schema = (char *)strata_cohort_attr(c, "strata_schema");
    if (!schema || strcmp(schema, STRATA_COHORT_SCHEMA) != 0)
        st = problem(c, lenient, NULL,
                     "%s: root attribute strata_schema is %s%s%s, expected \"%s\" "
                     "(docs/cohort-format.md)",
                     path, schema ? "\"" : "missing", schema ? schema : "", schema ? "\"" : "",
                     STRATA_COHORT_SCHEMA);
    if (st == STRATA_OK) {
        const char *ver = strata_cohort_attr(c, "schema_version");
        long v = ver ? strtol(ver, NULL, 10) : 0;
        if (!ver || v < 1 || v > STRATA_COHORT_SCHEMA_VERSION)
            st = problem(c, lenient, NULL,
                         "%s: root attribute schema_version is %s, this strata reads version %d",
                         path, ver ? ver : "missing", STRATA_COHORT_SCHEMA_VERSION);
    }
    if (st == STRATA_OK && lazy) {
        if (!group_exists(c->file, "/patients"))
            st = problem(c, lenient, NULL, "%s: missing group /patients", path);
        else
            st = list_lazy(c);
        if (st != STRATA_OK) {
            strata_cohort_close(c);
            return st;
        }
        *out = c;
        return STRATA_OK;
    }
    if (st == STRATA_OK) {
        if (!group_exists(c->file, "/patients"))
            st = problem(c, lenient, NULL, "%s: missing group /patients", path);
        else
            st = add_group(c, lenient, "patients");
    }
    if (st == STRATA_OK && group_exists(c->file, "/outcomes"))
        st = add_group(c, lenient, "outcomes");
    if (st == STRATA_OK && group_exists(c->file, "/truth"))
        st = add_group(c, lenient, "truth");
    if (st == STRATA_OK && group_exists(c->file, "/events")) {
        name_list l;
        st = list_group(ctx, c->file, "/events", &l);
        if (st == STRATA_EFORMAT)
            st = problem(c, lenient, NULL, "%s:/events: cannot list group", path);
        for (size_t i = 0; i < l.n && st == STRATA_OK; i++) {
            char g[512];
            snprintf(g, sizeof g, "events/%s", l.names[i]);
            st = add_group(c, lenient, g);
        }
        strata_strings_free(ctx, l.names, l.n);
    }
    if (st == STRATA_OK)
        st = check_lengths(c, lenient);
    if (st == STRATA_OK)
        st = check_roles(c, lenient);
    if (st != STRATA_OK) {
        strata_cohort_close(c);
        return st;
    }
    *out = c;
    return STRATA_OK;
}

strata_status strata_cohort_open_ex(strata_ctx *ctx, const char *path, int lenient,
                                    strata_cohort **out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_open_ex_h5(ctx, path, lenient, 0, 0, out);
    strata_h5_quiet_end(&es);
    return st;
}

strata_status strata_cohort_open_dist(strata_ctx *ctx, const char *path, strata_cohort **out)
{
    strata_h5_errsave es;
    strata_status st;
    *out = NULL;
    if (!strata_ctx_comm(ctx))
        return strata_cohort_open(ctx, path, out);
    strata_h5_quiet_begin(&es);
    st = strata_cohort_open_ex_h5(ctx, path, 0, 1, 0, out);
    strata_h5_quiet_end(&es);
    if ((st = strata_comm_agree(ctx, st)) != STRATA_OK && *out) {
        strata_cohort_close(*out);
        *out = NULL;
    }
    return st;
}

strata_status strata_cohort_own_reads(strata_ctx *ctx, strata_cohort *c)
{
    const strata_comm *cm = strata_ctx_comm(ctx);
    hid_t x;
    if (c->dxpl == H5P_DEFAULT || !cm)
        return STRATA_OK;
    if ((x = (hid_t)cm->h5_dxpl(cm->ud, 1)) < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot set up independent parallel HDF5 reads", c->path);
    H5Pclose(c->dxpl);
    c->dxpl = x;
    return STRATA_OK;
}

strata_status strata_cohort_open(strata_ctx *ctx, const char *path, strata_cohort **out)
{
    return strata_cohort_open_ex(ctx, path, 0, out);
}

strata_status strata_cohort_open_lazy(strata_ctx *ctx, const char *path, strata_cohort **out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_open_ex_h5(ctx, path, 0, 0, 1, out);
    strata_h5_quiet_end(&es);
    return st;
}

const char *strata_cohort_path(const strata_cohort *c) { return c->path; }
size_t strata_cohort_nrows(const strata_cohort *c) { return c->nrows; }
size_t strata_cohort_ncols(const strata_cohort *c) { return c->ncols; }

const strata_column_info *strata_cohort_column(const strata_cohort *c, size_t j)
{
    return j < c->ncols ? &c->cols[j].info : NULL;
}

strata_status strata_cohort_find(strata_ctx *ctx, const strata_cohort *c, const char *name,
                                 size_t *j)
{
    const char *slash = name ? strrchr(name, '/') : NULL;
    if (!name || !*name)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: empty column name", c->path);
    if (slash) {
        size_t glen = (size_t)(slash - name);
        const char *g = name[0] == '/' ? name + 1 : name;
        if (name[0] == '/')
            glen--;
        for (size_t k = 0; k < c->ncols; k++)
            if (strlen(c->cols[k].group) == glen && !strncmp(c->cols[k].group, g, glen) &&
                !strcmp(c->cols[k].name, slash + 1)) {
                *j = k;
                return c->lazy && !c->cols[k].loaded ? lazy_load(ctx, (strata_cohort *)c, k) : STRATA_OK;
            }
    } else {
        static const char *const order[] = {"patients", "outcomes"};
        for (int o = 0; o < 2; o++)
            for (size_t k = 0; k < c->ncols; k++)
                if (!strcmp(c->cols[k].group, order[o]) && !strcmp(c->cols[k].name, name)) {
                    *j = k;
                    return c->lazy && !c->cols[k].loaded ? lazy_load(ctx, (strata_cohort *)c, k) : STRATA_OK;
                }
    }
    return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: no column \"%s\" in /patients or /outcomes",
                       c->path, name);
}

long strata_cohort_find_role(const strata_cohort *c, strata_role role)
{
    for (size_t j = 0; j < c->ncols; j++)
        if (c->cols[j].info.role == role && c->cols[j].dset >= 0)
            return (long)j;
    return -1;
}

const char *strata_cohort_attr(const strata_cohort *c, const char *key)
{
    for (size_t i = 0; i < c->nattrs; i++)
        if (!strcmp(c->attrs[i].key, key))
            return c->attrs[i].value;
    return NULL;
}

static strata_status check_range(strata_ctx *ctx, const strata_cohort *c, size_t j, size_t row0,
                                 size_t n)
{
    const cohort_col *col;
    if (j >= c->ncols)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: no column index %zu", c->path, j);
    col = &c->cols[j];
    if (col->dset < 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:/%s/%s: column is unreadable", c->path,
                           col->group, col->name);
    if (row0 > col->info.length || n > col->info.length - row0)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s:/%s/%s: rows %zu..%zu outside 1..%zu",
                           c->path, col->group, col->name, row0 + 1, row0 + n,
                           col->info.length);
    return STRATA_OK;
}

/* Every consumer (fit, score, run, export) indexes levels tables by code, so
 * a code outside -1 .. n_levels-1 is refused here, where all reads pass
 * (issue 17 #4). validate opens leniently and reports codes itself. */
static strata_status check_codes(strata_ctx *ctx, const strata_cohort *c, const cohort_col *col,
                                 size_t row0, size_t n, const void *buf)
{
    int64_t hi = (int64_t)col->info.n_levels - 1;
    for (size_t i = 0; i < n; i++) {
        int64_t v = col->info.dtype == STRATA_DT_INT8    ? ((const int8_t *)buf)[i]
                    : col->info.dtype == STRATA_DT_INT16 ? ((const int16_t *)buf)[i]
                                                         : ((const int32_t *)buf)[i];
        if (v < -1 || v > hi)
            return STRATA_FAIL(ctx, STRATA_EDATA,
                               "%s:/%s/%s: row %zu: category code %" PRId64
                               " outside levels table %s (0..%" PRId64 ", -1 = missing)",
                               c->path, col->group, col->name, row0 + i + 1, v,
                               col->levels_path, hi);
    }
    return STRATA_OK;
}

static strata_status strata_cohort_read_native_h5(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                        size_t n, void *out)
{
    hid_t fspace, mspace;
    hsize_t start[1], count[1];
    herr_t e;
    const cohort_col *col;
    STRATA_TRY(check_range(ctx, c, j, row0, n));
    if (n == 0 && c->dxpl == H5P_DEFAULT)
        return STRATA_OK;
    col = &c->cols[j];
    start[0] = (hsize_t)row0;
    count[0] = (hsize_t)(n ? n : 1);
    fspace = H5Dget_space(col->dset);
    mspace = H5Screate_simple(1, count, NULL);
    if (n) {
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    } else { /* a collective read with nothing for this rank still takes part */
        H5Sselect_none(fspace);
        H5Sselect_none(mspace);
    }
    e = H5Dread(col->dset, strata_h5_native(col->info.dtype), mspace, fspace, c->dxpl, out);
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (e < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s:/%s/%s: read of rows %zu..%zu failed (file "
                           "truncated or corrupt?)",
                           c->path, col->group, col->name, row0 + 1, row0 + n);
    if (col->info.categorical && !c->lenient)
        return check_codes(ctx, c, col, row0, n, out);
    return STRATA_OK;
}

strata_status strata_cohort_read_native(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                        size_t n, void *out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_read_native_h5(ctx, c, j, row0, n, out);
    strata_h5_quiet_end(&es);
    return st;
}

/* Reads rows in the storage type into the handle's scratch buffer. */
static strata_status read_scratch(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                  size_t n, const void **buf)
{
    size_t bytes;
    STRATA_TRY(check_range(ctx, c, j, row0, n));
    if (!strata_mul_ok(n, strata_dtype_size(c->cols[j].info.dtype), &bytes))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: read of %zu rows overflows", c->path, n);
    if (bytes > c->scratch_size) {
        void *nb = strata_realloc(ctx, c->scratch, c->scratch_size, bytes);
        if (!nb)
            return STRATA_ENOMEM;
        c->scratch = nb;
        c->scratch_size = bytes;
    }
    *buf = c->scratch;
    return strata_cohort_read_native(ctx, c, j, row0, n, c->scratch);
}

#define CONVERT_INT(T, NA, NAOUT, OUTT)                                              \
    do {                                                                             \
        const T *s = src;                                                            \
        for (size_t i = 0; i < n; i++)                                               \
            out[i] = (s[i] == (T)(NA)) ? (NAOUT) : (OUTT)s[i];                       \
    } while (0)

static strata_status strata_cohort_read_f64_h5(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, double *out)
{
    const void *src = NULL;
    const strata_column_info *info;
    STRATA_TRY(check_range(ctx, c, j, row0, n));
    if (c->cols[j].info.dtype == STRATA_DT_FLOAT64) /* straight into out: no bounce copy */
        return strata_cohort_read_native(ctx, c, j, row0, n, out);
    STRATA_TRY(read_scratch(ctx, c, j, row0, n, &src));
    if (n == 0)
        return STRATA_OK;
    info = &c->cols[j].info;
    switch (info->dtype) {
    case STRATA_DT_INT8:
        if (info->categorical)
            CONVERT_INT(int8_t, -1, NAN, double);
        else
            CONVERT_INT(int8_t, INT8_MIN, NAN, double);
        break;
    case STRATA_DT_INT16:
        if (info->categorical)
            CONVERT_INT(int16_t, -1, NAN, double);
        else
            CONVERT_INT(int16_t, INT16_MIN, NAN, double);
        break;
    case STRATA_DT_INT32:
        if (info->categorical)
            CONVERT_INT(int32_t, -1, NAN, double);
        else
            CONVERT_INT(int32_t, INT32_MIN, NAN, double);
        break;
    case STRATA_DT_INT64:
        CONVERT_INT(int64_t, INT64_MIN, NAN, double);
        break;
    case STRATA_DT_FLOAT32: {
        const float *s = src;
        for (size_t i = 0; i < n; i++)
            out[i] = (double)s[i];
        break;
    }
    case STRATA_DT_FLOAT64: /* read in place above */
        break;
    case STRATA_DT_NONE:
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: column without type", c->path);
    }
    return STRATA_OK;
}

strata_status strata_cohort_read_f64(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, double *out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_read_f64_h5(ctx, c, j, row0, n, out);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_read_i32_h5(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int32_t *out)
{
    const void *src = NULL;
    const strata_column_info *info;
    STRATA_TRY(read_scratch(ctx, c, j, row0, n, &src));
    if (n == 0)
        return STRATA_OK;
    info = &c->cols[j].info;
    switch (info->dtype) {
    case STRATA_DT_INT8:
        if (info->categorical)
            CONVERT_INT(int8_t, -1, -1, int32_t);
        else
            CONVERT_INT(int8_t, INT8_MIN, INT32_MIN, int32_t);
        break;
    case STRATA_DT_INT16:
        if (info->categorical)
            CONVERT_INT(int16_t, -1, -1, int32_t);
        else
            CONVERT_INT(int16_t, INT16_MIN, INT32_MIN, int32_t);
        break;
    case STRATA_DT_INT32:
        memcpy(out, src, n * sizeof *out);
        break;
    case STRATA_DT_INT64: {
        const int64_t *s = src;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == INT64_MIN)
                out[i] = INT32_MIN;
            else if (s[i] <= INT32_MIN || s[i] > INT32_MAX)
                return STRATA_FAIL(ctx, STRATA_EDATA,
                                   "%s:/%s/%s: row %zu: value %" PRId64 " does not fit int32",
                                   c->path, info->group, info->name, row0 + i + 1, s[i]);
            else
                out[i] = (int32_t)s[i];
        }
        break;
    }
    default:
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s:/%s/%s: is %s, not an integer or categorical column", c->path,
                           info->group, info->name, strata_dtype_name(info->dtype));
    }
    return STRATA_OK;
}

strata_status strata_cohort_read_i32(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int32_t *out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_read_i32_h5(ctx, c, j, row0, n, out);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_read_i64_h5(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int64_t *out)
{
    const void *src = NULL;
    const strata_column_info *info;
    STRATA_TRY(read_scratch(ctx, c, j, row0, n, &src));
    if (n == 0)
        return STRATA_OK;
    info = &c->cols[j].info;
    switch (info->dtype) {
    case STRATA_DT_INT8:
        if (info->categorical)
            CONVERT_INT(int8_t, -1, -1, int64_t);
        else
            CONVERT_INT(int8_t, INT8_MIN, INT64_MIN, int64_t);
        break;
    case STRATA_DT_INT16:
        if (info->categorical)
            CONVERT_INT(int16_t, -1, -1, int64_t);
        else
            CONVERT_INT(int16_t, INT16_MIN, INT64_MIN, int64_t);
        break;
    case STRATA_DT_INT32:
        if (info->categorical)
            CONVERT_INT(int32_t, -1, -1, int64_t);
        else
            CONVERT_INT(int32_t, INT32_MIN, INT64_MIN, int64_t);
        break;
    case STRATA_DT_INT64:
        memcpy(out, src, n * sizeof *out);
        break;
    default:
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s:/%s/%s: is %s, not an integer or categorical column", c->path,
                           info->group, info->name, strata_dtype_name(info->dtype));
    }
    return STRATA_OK;
}

strata_status strata_cohort_read_i64(strata_ctx *ctx, strata_cohort *c, size_t j, size_t row0,
                                     size_t n, int64_t *out)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_read_i64_h5(ctx, c, j, row0, n, out);
    strata_h5_quiet_end(&es);
    return st;
}

static strata_status strata_cohort_read_strings_h5(strata_ctx *ctx, strata_cohort *c, const char *path,
                                         char ***out, size_t *n)
{
    return strata_h5_read_strings(ctx, c->file, c->path, path, out, n);
}

strata_status strata_cohort_read_strings(strata_ctx *ctx, strata_cohort *c, const char *path,
                                         char ***out, size_t *n)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_cohort_read_strings_h5(ctx, c, path, out, n);
    strata_h5_quiet_end(&es);
    return st;
}
