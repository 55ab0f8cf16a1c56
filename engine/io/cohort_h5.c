/* engine/io/cohort_h5.c — small HDF5 helpers for the cohort code: type mapping,
 * string attributes and string datasets. Objects are created without
 * modification times so the same content always gives the same bytes. */
#include "cohort_internal.h"

#include "outfile.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

size_t strata_dtype_size(strata_dtype t)
{
    switch (t) {
    case STRATA_DT_INT8: return 1;
    case STRATA_DT_INT16: return 2;
    case STRATA_DT_INT32: return 4;
    case STRATA_DT_INT64: return 8;
    case STRATA_DT_FLOAT32: return 4;
    case STRATA_DT_FLOAT64: return 8;
    case STRATA_DT_NONE: break;
    }
    return 0;
}

const char *strata_dtype_name(strata_dtype t)
{
    switch (t) {
    case STRATA_DT_INT8: return "int8";
    case STRATA_DT_INT16: return "int16";
    case STRATA_DT_INT32: return "int32";
    case STRATA_DT_INT64: return "int64";
    case STRATA_DT_FLOAT32: return "float32";
    case STRATA_DT_FLOAT64: return "float64";
    case STRATA_DT_NONE: break;
    }
    return "none";
}

static const char *const role_names[STRATA_ROLE_COUNT_] = {
    "", "patient_id", "practice", "pcn", "sub_icb", "icb", "lsoa",
    "imd_decile", "age", "sex", "ethnicity", "registration_status",
    "birth_date", "death_date", "registration_start", "registration_end"};

const char *strata_role_name(strata_role r)
{
    return (r >= 0 && r < STRATA_ROLE_COUNT_) ? role_names[r] : "";
}

strata_role strata_role_parse(const char *name)
{
    for (int r = 1; r < STRATA_ROLE_COUNT_; r++)
        if (name && !strcmp(name, role_names[r]))
            return (strata_role)r;
    return STRATA_ROLE_NONE;
}

hid_t strata_h5_native(strata_dtype t)
{
    switch (t) {
    case STRATA_DT_INT8: return H5T_NATIVE_INT8;
    case STRATA_DT_INT16: return H5T_NATIVE_INT16;
    case STRATA_DT_INT32: return H5T_NATIVE_INT32;
    case STRATA_DT_INT64: return H5T_NATIVE_INT64;
    case STRATA_DT_FLOAT32: return H5T_NATIVE_FLOAT;
    case STRATA_DT_FLOAT64: return H5T_NATIVE_DOUBLE;
    case STRATA_DT_NONE: break;
    }
    return H5I_INVALID_HID;
}

strata_dtype strata_h5_dtype(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_INTEGER) {
        /* Unsigned types are accepted only where every value fits the
         * signed type of the next size up. */
        int is_signed = H5Tget_sign(type) == H5T_SGN_2;
        size_t eff = is_signed ? size : size * 2;
        switch (eff) {
        case 1: return STRATA_DT_INT8;
        case 2: return STRATA_DT_INT16;
        case 4: return STRATA_DT_INT32;
        case 8: return STRATA_DT_INT64;
        default: return STRATA_DT_NONE;
        }
    }
    if (cls == H5T_FLOAT)
        return size == 4 ? STRATA_DT_FLOAT32 : size == 8 ? STRATA_DT_FLOAT64 : STRATA_DT_NONE;
    return STRATA_DT_NONE;
}

/* "a 4096-element integer array" / "a scalar compound": for messages. */
static void describe_attr(hid_t t, hssize_t npts, int ndims, char *buf, size_t n)
{
    static const char *const cls_names[] = {"integer", "float", "time", "string", "bitfield",
                                            "opaque", "compound", "reference", "enum",
                                            "variable-length", "array"};
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    const char *cn = (cls >= 0 && (size_t)cls < sizeof cls_names / sizeof cls_names[0])
                         ? cls_names[cls]
                         : "unknown";
    if (npts == 1)
        snprintf(buf, n, "a scalar %s", cn);
    else if (npts == 0)
        snprintf(buf, n, "an empty %s attribute", cn);
    else if (npts > 0)
        snprintf(buf, n, "a %lld-element %s array (%d dimensions)", (long long)npts, cn, ndims);
    else
        snprintf(buf, n, "an unreadable %s attribute", cn);
}

/* Reads one element of a string attribute (fixed or variable length). */
static strata_status read_string_attr(strata_ctx *ctx, hid_t a, hid_t t, char **out)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    strata_status st = STRATA_OK;
    H5Tset_cset(mt, H5Tget_cset(t));
    if (H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &v) >= 0 && v) {
            if (!(*out = strata_strdup(ctx, v)))
                st = STRATA_ENOMEM;
            H5free_memory(v);
        } else {
            st = STRATA_EFORMAT;
        }
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = sz > 0 && sz < ((size_t)1 << 24) ? strata_alloc(ctx, sz + 1) : NULL;
        if (!buf)
            st = sz > 0 && sz < ((size_t)1 << 24) ? STRATA_ENOMEM : STRATA_EFORMAT;
        else {
            H5Tset_size(mt, sz + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            if (H5Aread(a, mt, buf) >= 0) {
                buf[sz] = '\0';
                *out = buf;
            } else {
                strata_free(ctx, buf, sz + 1);
                st = STRATA_EFORMAT;
            }
        }
    }
    H5Tclose(mt);
    return st;
}

strata_status strata_h5_attr_read(strata_ctx *ctx, hid_t obj, const char *fname,
                                  const char *where, const char *name, int text_only,
                                  char **out)
{
    hid_t a, t, space;
    hssize_t npts;
    int ndims;
    H5T_class_t cls;
    strata_status st = STRATA_OK;
    char what[96], buf[64];
    *out = NULL;
    if (H5Aexists(obj, name) <= 0)
        return STRATA_OK;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: attribute \"%s\" cannot be opened",
                           fname, where, name);
    t = H5Aget_type(a);
    space = H5Aget_space(a);
    npts = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    ndims = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    /* one element of the expected class, or nothing is read: the reads below
     * write exactly one element into a buffer sized for one (issue 17 #5) */
    if (npts != 1 || (cls != H5T_STRING && (text_only || (cls != H5T_INTEGER && cls != H5T_FLOAT)))) {
        describe_attr(t, npts, ndims, what, sizeof what);
        st = STRATA_FAIL(ctx, STRATA_EFORMAT,
                         "%s:%s: attribute \"%s\" is %s; strata reads scalar %s attributes "
                         "only (docs/cohort-format.md)",
                         fname, where, name, what, text_only ? "string" : "string or numeric");
    } else if (cls == H5T_STRING) {
        st = read_string_attr(ctx, a, t, out);
        if (st == STRATA_EFORMAT)
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: attribute \"%s\" cannot be read",
                             fname, where, name);
    } else {
        buf[0] = '\0';
        if (cls == H5T_INTEGER) {
            int64_t v;
            if (H5Aread(a, H5T_NATIVE_INT64, &v) >= 0)
                snprintf(buf, sizeof buf, "%" PRId64, v);
        } else {
            double v;
            if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0)
                snprintf(buf, sizeof buf, "%.17g", v);
        }
        if (!buf[0])
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: attribute \"%s\" cannot be read",
                             fname, where, name);
        else if (!(*out = strata_strdup(ctx, buf)))
            st = STRATA_ENOMEM;
    }
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return st;
}

char *strata_h5_attr_string(strata_ctx *ctx, hid_t obj, const char *name)
{
    char *out = NULL;
    strata_status saved = ctx->last_status;
    char msg[STRATA_ERRMSG_MAX];
    memcpy(msg, ctx->errmsg, sizeof msg);
    if (strata_h5_attr_read(ctx, obj, "", "", name, 1, &out) == STRATA_EFORMAT) {
        /* this lenient form reports "absent or unusable" as NULL, as before */
        ctx->last_status = saved;
        memcpy(ctx->errmsg, msg, sizeof msg);
    }
    return out;
}

int strata_h5_write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), a;
    int rc = -1;
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    a = H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        rc = H5Awrite(a, t, value) >= 0 ? 0 : -1;
        H5Aclose(a);
    }
    H5Sclose(space);
    H5Tclose(t);
    return rc;
}

int strata_h5_npts_plausible(hid_t obj, hssize_t npts)
{
    hid_t f = H5Iget_file_id(obj);
    hsize_t size = 0;
    int ok = f >= 0 && H5Fget_filesize(f, &size) >= 0;
    if (f >= 0)
        H5Fclose(f);
    return ok && npts >= 0 && (hsize_t)npts <= (size + 4096) * 1024;
}

hid_t strata_h5_nocache_dapl(void)
{
    hid_t a = H5Pcreate(H5P_DATASET_ACCESS);
    if (a >= 0 && H5Pset_chunk_cache(a, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT) < 0) {
        H5Pclose(a);
        a = H5I_INVALID_HID;
    }
    return a;
}

hid_t strata_h5_open_column(hid_t file, const char *path, hid_t nocache)
{
    hid_t d, dcpl;
    int filtered;
    if (nocache < 0 || (d = H5Dopen2(file, path, nocache)) < 0)
        return H5Dopen2(file, path, H5P_DEFAULT);
    dcpl = H5Dget_create_plist(d);
    filtered = dcpl < 0 || (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_nfilters(dcpl) != 0);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (!filtered)
        return d;
    /* closed first: a second open of an open dataset shares its cache */
    H5Dclose(d);
    return H5Dopen2(file, path, H5P_DEFAULT);
}

/* The transfer list of a converting read or write of npts elements of elt
 * bytes: a type-conversion buffer sized to it. HDF5's default takes a 1 MiB block and
 * clears it for every converting read (H5FL_BLK_CALLOC in H5D__typeinfo_init):
 * 30 level tables cleared 30 MiB in each cohort open and again in the probe's
 * child (issue 19). HDF5 strip-mines through a smaller buffer, so the values
 * read are the same; at 1 MiB the default rules apply as before. */
hid_t strata_h5_conv_dxpl(hssize_t npts, size_t elt)
{
    const size_t dflt = (size_t)1 << 20;
    double want = ((double)npts + 1) * ((double)elt + 16);
    size_t size = want >= (double)dflt ? dflt : want < 4096 ? 4096 : (size_t)want;
    hid_t x = H5Pcreate(H5P_DATASET_XFER);
    if (x >= 0 && H5Pset_buffer(x, size, NULL, NULL) < 0) {
        H5Pclose(x);
        x = H5I_INVALID_HID;
    }
    return x >= 0 ? x : H5P_DEFAULT;
}

void strata_h5_conv_dxpl_close(hid_t x)
{
    if (x != H5P_DEFAULT)
        H5Pclose(x);
}

strata_status strata_h5_read_strings(strata_ctx *ctx, hid_t file, const char *fname,
                                     const char *path, char ***out, size_t *n)
{
    hid_t d, t, space, mt;
    hssize_t npts;
    char **res = NULL;
    strata_status st = STRATA_OK;
    *out = NULL;
    *n = 0;
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: missing string dataset %s", fname, path);
    d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: cannot open dataset", fname, path);
    t = H5Dget_type(d);
    space = H5Dget_space(d);
    npts = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_ndims(space) != 1 || npts < 0) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: expected a 1-D string dataset", fname,
                         path);
        goto done;
    }
    if (!strata_h5_npts_plausible(d, npts)) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT,
                         "%s:%s: %lld strings cannot be stored in a file this size; corrupt",
                         fname, path, (long long)npts);
        goto done;
    }
    res = strata_calloc(ctx, (size_t)npts + 1, sizeof *res);
    if (!res) {
        st = STRATA_ENOMEM;
        goto done;
    }
    if (H5Tis_variable_str(t) > 0) {
        char **tmp = strata_calloc(ctx, (size_t)npts + 1, sizeof *tmp);
        if (!tmp) {
            st = STRATA_ENOMEM;
            goto done;
        }
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (npts > 0) {
            hid_t x = strata_h5_conv_dxpl(npts, H5Tget_size(t) > sizeof(hvl_t) ? H5Tget_size(t) : sizeof(hvl_t));
            if (H5Dread(d, mt, H5S_ALL, H5S_ALL, x, tmp) < 0)
                st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: cannot read strings", fname, path);
            strata_h5_conv_dxpl_close(x);
        }
        for (hssize_t i = 0; i < npts && st == STRATA_OK; i++)
            if (!(res[i] = strata_strdup(ctx, tmp[i] ? tmp[i] : "")))
                st = STRATA_ENOMEM;
        if (npts > 0)
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, tmp);
        H5Tclose(mt);
        strata_free(ctx, tmp, 0);
    } else {
        size_t sz = H5Tget_size(t);
        double bytes = (double)npts * (double)sz;
        char *buf;
        /* the table's bytes, like elements, at most 1024 per byte of the file */
        if (sz == 0 || !strata_h5_npts_plausible(d, bytes > 4e18 ? (hssize_t)4e18 : (hssize_t)bytes)) {
            st = STRATA_FAIL(ctx, STRATA_EFORMAT,
                             "%s:%s: %lld strings of %zu bytes cannot be stored in a file this "
                             "size; corrupt",
                             fname, path, (long long)npts, sz);
            goto done;
        }
        buf = strata_calloc(ctx, (size_t)npts + 1, sz + 1);
        if (!buf) {
            st = STRATA_ENOMEM;
            goto done;
        }
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (npts > 0) {
            hid_t x = strata_h5_conv_dxpl(npts, sz + 1);
            if (H5Dread(d, mt, H5S_ALL, H5S_ALL, x, buf) < 0)
                st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s:%s: cannot read strings", fname, path);
            strata_h5_conv_dxpl_close(x);
        }
        for (hssize_t i = 0; i < npts && st == STRATA_OK; i++)
            if (!(res[i] = strata_strdup(ctx, buf + (size_t)i * (sz + 1))))
                st = STRATA_ENOMEM;
        H5Tclose(mt);
        strata_free(ctx, buf, 0);
    }
done:
    if (st != STRATA_OK && res) {
        strata_strings_free(ctx, res, (size_t)(npts > 0 ? npts : 0));
        res = NULL;
    }
    H5Sclose(space);
    H5Tclose(t);
    H5Dclose(d);
    if (st == STRATA_OK) {
        *out = res;
        *n = (size_t)npts;
    }
    return st;
}

void strata_strings_free(strata_ctx *ctx, char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        strata_free(ctx, s[i], 0);
    strata_free(ctx, s, 0);
}

int strata_h5_ensure_group(hid_t file, const char *path)
{
    char buf[1024];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char save = buf[i];
            buf[i] = '\0';
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) {
                hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), g;
                H5Pset_obj_track_times(gcpl, 0);
                H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
                g = H5Gcreate2(file, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
                H5Pclose(gcpl);
                if (g < 0)
                    return -1;
                H5Gclose(g);
            }
            buf[i] = save;
        }
    }
    return 0;
}

/* Bytes of the buffer a fixed-length table is written through, a block of
 * rows at a time (no allocation: io helpers have no context). */
#define STR_BLOCK_BYTES 32768

/* 1 when a table of n strings of at most maxlen bytes (sum total) is better
 * stored variable-length: padded it would exceed 64 MiB and 16 times its text. */
static int strings_too_ragged(size_t n, size_t maxlen, size_t total)
{
    double padded = (double)n * (double)(maxlen + 1);
    return padded > 64.0 * 1048576.0 && padded > 16.0 * ((double)total + (double)n);
}

/* Writes rows [i0, i0+k) of a fixed-length table of element size sz. */
static int write_string_rows(hid_t d, hid_t ftype, hid_t fspace, const char *const *s,
                             size_t i0, size_t k, size_t sz)
{
    char buf[STR_BLOCK_BYTES];
    hsize_t start[1] = {i0}, count[1] = {k};
    hid_t mt = H5Tcopy(ftype), mspace = H5Screate_simple(1, count, NULL);
    const void *src = buf;
    int rc;
    if (k == 1 && sz > sizeof buf) {
        /* one long string: written from the caller's text, padded by HDF5's
         * fixed-to-fixed string conversion */
        H5Tset_size(mt, strlen(s[i0]) + 1);
        src = s[i0];
    } else {
        H5Tset_size(mt, sz);
        memset(buf, 0, k * sz);
        for (size_t i = 0; i < k; i++)
            if (s[i0 + i])
                memcpy(buf + i * sz, s[i0 + i], strlen(s[i0 + i]));
    }
    rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
                 H5Dwrite(d, mt, mspace, fspace, H5P_DEFAULT, src) >= 0
             ? 0
             : -1;
    H5Sclose(mspace);
    H5Tclose(mt);
    return rc;
}

int strata_h5_write_strings(hid_t file, const char *path, const char *const *s, size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1), space, lcpl, dcpl, d;
    hsize_t dims[1] = {n};
    size_t maxlen = 0, total = 0, sz;
    int rc = -1, vlen;
    for (size_t i = 0; i < n; i++) {
        size_t l = s[i] ? strlen(s[i]) : 0;
        maxlen = l > maxlen ? l : maxlen;
        total += l;
    }
    /* fixed-length: the table lives in the dataset, not in HDF5's global heap
     * (which has no checksum: docs/reliability.md#hdf5) */
    vlen = strings_too_ragged(n, maxlen, total);
    sz = maxlen + 1;
    H5Tset_size(t, vlen ? H5T_VARIABLE : sz);
    if (!vlen)
        H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    space = H5Screate_simple(1, dims, NULL);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    d = H5Dcreate2(file, path, t, space, lcpl, dcpl, H5P_DEFAULT);
    if (d >= 0) {
        rc = 0;
        if (vlen && n > 0) {
            hid_t x = strata_h5_conv_dxpl((hssize_t)n, sizeof(hvl_t));
            rc = H5Dwrite(d, t, H5S_ALL, H5S_ALL, x, s) >= 0 ? 0 : -1;
            strata_h5_conv_dxpl_close(x);
        }
        for (size_t i = 0, per = sz > STR_BLOCK_BYTES ? 1 : STR_BLOCK_BYTES / sz;
             !vlen && i < n && rc == 0; i += per)
            rc = write_string_rows(d, t, space, s, i, n - i < per ? n - i : per, sz);
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Tclose(t);
    return rc;
}

hid_t strata_h5_create_tmp(strata_ctx *ctx, const char *path, unsigned mode, hid_t fcpl,
                           char **tmp)
{
    struct stat ours, theirs;
    hid_t fapl, file;
    void *handle = NULL;
    char fdname[64];
    int fd = strata_tmp_create(ctx, path, mode, tmp);
    if (fd < 0)
        return H5I_INVALID_HID;
    /* no modification times in the root group's object header (every other
     * object is created with its own no-times property list): the same
     * content gives the same bytes (tests/test_h5_bytes.c) */
    fcpl = fcpl == H5P_DEFAULT ? H5Pcreate(H5P_FILE_CREATE) : H5Pcopy(fcpl);
    H5Pset_obj_track_times(fcpl, 0);
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_sec2(fapl);
    /* superblock v2+ and v2 object headers: HDF5 checksums all metadata, so a
     * corrupted file strata wrote fails a checksum before it is parsed */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    /* HDF5 1.10 cannot adopt a descriptor: it opens /proc/self/fd/<fd>, the
     * very file behind ours whatever now stands at the temporary's name (a
     * swapped-in link is never opened); its descriptor is checked all the same */
    file = H5Fcreate(strata_fd_name(fd, *tmp, fdname, sizeof fdname), H5F_ACC_TRUNC, fcpl, fapl);
    if (file >= 0 && (H5Fget_vfd_handle(file, fapl, &handle) < 0 || !handle ||
                      fstat(fd, &ours) != 0 || fstat(*(int *)handle, &theirs) != 0 ||
                      ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)) {
        H5Fclose(file);
        file = H5I_INVALID_HID;
        STRATA_FAIL(ctx, STRATA_EIO, "%s: the temporary was replaced while being created",
                    *tmp);
    } else if (file < 0) {
        /* HDF5 resolves the name it was given with realpath(), which fails once
         * the temporary is no longer at its name: nothing was written through */
        STRATA_FAIL(ctx, STRATA_EIO,
                    lstat(*tmp, &theirs) != 0 || fstat(fd, &ours) != 0 ||
                            ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino
                        ? "%s: the temporary was replaced while being created"
                        : "%s: cannot create HDF5 file",
                    *tmp);
    }
    H5Pclose(fapl);
    H5Pclose(fcpl);
    close(fd);
    if (file < 0) {
        unlink(*tmp);
        strata_free(ctx, *tmp, 0);
        *tmp = NULL;
    }
    return file;
}

void strata_h5_quiet_begin(strata_h5_errsave *save)
{
    if (H5Eget_auto2(H5E_DEFAULT, &save->fn, &save->data) < 0) {
        save->fn = NULL;
        save->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void strata_h5_quiet_end(const strata_h5_errsave *save)
{
    H5Eset_auto2(H5E_DEFAULT, save->fn, save->data);
}

void strata_h5_quiet(void)
{
    /* HDF5 prints its error stack to stderr by default; strata reports its
     * own one-line messages instead. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
