/* engine/io/table_h5.c — aggregate tables as one HDF5 file: a group per table,
 * a 1-D dataset per column (strings for keys, float64 otherwise; suppressed
 * or unavailable cells are NaN), written atomically. Only tables that went
 * through disclosure control are accepted, like the CSV writer; each value is
 * exactly the published one, and the root attribute states the rules. Column
 * names are data (they carry category labels such as "Asian/Asian British"):
 * the link name is the column name with '/' and '%' percent-encoded, and the
 * exact name is the dataset's "name" attribute. */
#include "cohort_internal.h"
#include "outfile.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *kind_name(strata_col_kind k)
{
    switch (k) {
    case STRATA_COL_KEY: return "key";
    case STRATA_COL_COUNT: return "count";
    case STRATA_COL_MEAN: return "mean";
    case STRATA_COL_PCT: return "percent";
    case STRATA_COL_RATIO: return "ratio";
    case STRATA_COL_FLAG: return "flag";
    case STRATA_COL_TOTAL: return "total";
    case STRATA_COL_DERIVED: return "derived";
    case STRATA_COL_INTERNAL: return "internal";
    }
    return "";
}

/* The HDF5 link name of a column: '/' (a path separator to HDF5) and '%'
 * percent-encoded, a leading '.' too (".", ".." are not names); out holds
 * 3 * strlen(name) + 1 bytes. */
static void link_name(const char *name, char *out)
{
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '%' || (*p == '.' && p == name))
            out += sprintf(out, "%%%02X", (unsigned char)*p);
        else
            *out++ = *p;
    *out = '\0';
}

/* One published column: exactly the values the CSV prints (the table holds
 * them rounded to their printed digits since disclosure), withheld cells NaN. */
static int write_column(hid_t f, hid_t g, const char *gname, const strata_table *t, int j,
                        const char *lname, double *buf, const char **sbuf)
{
    size_t nr = strata_table_nrows(t), hidden = 0;
    hsize_t dims[1] = {nr};
    hid_t sp, dcpl, d;
    int rc = -1;
    char nh[32];
    const char *name = strata_table_col_name(t, j);
    if (strata_table_col_kind(t, j) == STRATA_COL_KEY) {
        char path[1024];
        for (size_t i = 0; i < nr; i++)
            sbuf[i] = strata_table_key(t, j, i);
        snprintf(path, sizeof path, "/%s/%s", gname, lname);
        if (strata_h5_write_strings(f, path, sbuf, nr) < 0 || (d = H5Dopen2(g, lname, H5P_DEFAULT)) < 0)
            return -1;
        rc = strata_h5_write_attr_string(d, "name", name) < 0 ? -1 : 0;
        H5Dclose(d);
        return rc;
    }
    for (size_t i = 0; i < nr; i++) {
        buf[i] = strata_table_value(t, j, i);
        hidden += strata_table_hidden(t, j, i) != 0;
    }
    sp = H5Screate_simple(1, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    d = H5Dcreate2(g, lname, H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d >= 0) {
        rc = (nr == 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) ? 0 : -1;
        snprintf(nh, sizeof nh, "%zu", hidden);
        if (rc == 0 && (strata_h5_write_attr_string(d, "name", name) < 0 ||
                        strata_h5_write_attr_string(d, "kind", kind_name(strata_table_col_kind(t, j))) < 0 ||
                        strata_h5_write_attr_string(d, "suppressed_cells", nh) < 0))
            rc = -1;
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    return rc;
}

static strata_status write_table(strata_ctx *ctx, hid_t f, const strata_table *t,
                                 const char *gname, const char *path)
{
    size_t nr = strata_table_nrows(t);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), g;
    double *buf = strata_calloc(ctx, nr + 1, sizeof *buf);
    const char **sbuf = strata_calloc(ctx, nr + 1, sizeof *sbuf);
    strata_status st = STRATA_OK;
    H5Pset_obj_track_times(gcpl, 0);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    g = H5Gcreate2(f, gname, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (!buf || !sbuf)
        st = STRATA_ENOMEM;
    else if (g < 0)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create group /%s (table names must be unique)", path, gname);
    for (size_t j = 0; j < strata_table_ncols(t) && st == STRATA_OK; j++) {
        const char *cname = strata_table_col_name(t, (int)j);
        char *lname;
        if (strata_table_col_kind(t, (int)j) == STRATA_COL_INTERNAL)
            continue;
        if (!(lname = strata_alloc(ctx, 3 * strlen(cname) + 1))) {
            st = STRATA_ENOMEM;
            break;
        }
        link_name(cname, lname);
        if (write_column(f, g, gname, t, (int)j, lname, buf, sbuf) < 0)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s:/%s/%s: cannot write", path, gname, lname);
        strata_free(ctx, lname, 0);
    }
    if (g >= 0)
        H5Gclose(g);
    strata_free(ctx, buf, 0);
    strata_free(ctx, (void *)sbuf, 0);
    return st;
}

static strata_status strata_tables_write_h5_h5(strata_ctx *ctx, strata_table *const *tables,
                                     const char *const *names, size_t n, const char *path)
{
    char *tmp, rules[512] = "";
    hid_t f, fcpl;
    strata_status st = STRATA_OK;
    for (size_t k = 0; k < n; k++) {
        strata_sdc_params sp;
        if (strata_table_patient_level(tables[k]) || !strata_table_disclosed(tables[k]))
            return STRATA_FAIL(ctx, STRATA_EINVAL,
                               "%s: table %s is patient-level or has not been through disclosure "
                               "control",
                               path, strata_table_name(tables[k]));
        if (k == 0 && strata_table_rules(ctx, tables[k], &sp) == STRATA_OK)
            strata_sdc_describe(&sp, rules, sizeof rules);
    }
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_obj_track_times(fcpl, 0);
    f = strata_h5_create_tmp(ctx, path, 0644, fcpl, &tmp);
    H5Pclose(fcpl);
    if (f < 0)
        return ctx->last_status;
    if (strata_h5_write_attr_string(f, "disclosure", rules) < 0)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write the disclosure attribute", path);
    for (size_t k = 0; k < n && st == STRATA_OK; k++)
        st = write_table(ctx, f, tables[k],
                         names && names[k] ? names[k] : strata_table_name(tables[k]), path);
    if (H5Fclose(f) < 0 && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: close failed", path);
    if (st == STRATA_OK)
        st = strata_publish(ctx, tmp, path, 0644);
    else
        unlink(tmp);
    strata_free(ctx, tmp, 0);
    return st;
}

strata_status strata_tables_write_h5(strata_ctx *ctx, strata_table *const *tables,
                                     const char *const *names, size_t n, const char *path)
{
    strata_h5_errsave es;
    strata_status st;
    strata_h5_quiet_begin(&es);
    st = strata_tables_write_h5_h5(ctx, tables, names, n, path);
    strata_h5_quiet_end(&es);
    return st;
}
