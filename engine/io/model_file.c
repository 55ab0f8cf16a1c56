/* engine/io/model_file.c — the model file (docs/model-format.md) written from and
 * read into a model record, knowing items by type only, and the score file
 * writer (.h5 / .csv); HDF5's error printing is silenced per call and restored.
 * Invariant: doubles round-trip bit for bit; files are published atomically,
 * score files (patient ids) 0600 from creation. */
#include "model_file.h"

#include "cohort_internal.h"
#include "outfile.h"

#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MODEL_SCHEMA "strata-model"
#define MODEL_SCHEMA_VERSION "1" /* written unless the record names another */
#define MODEL_SCHEMA_VERSION_MAX 2 /* read: versions 1 .. this (docs/model-format.md) */
#define MODEL_MAX_DEPTH 8 /* group nesting read back (the format uses 3) */

/* HDF5's automatic error printing off for one call, then as the host had it. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

/* ---- writing a record -------------------------------------------------------- */

static hid_t int_file_type(strata_rec_int store)
{
    switch (store) {
    case STRATA_REC_I8: return H5T_NATIVE_SCHAR;
    case STRATA_REC_U8: return H5T_NATIVE_UCHAR;
    case STRATA_REC_I32: return H5T_STD_I32LE;
    case STRATA_REC_I64: break;
    }
    return H5T_STD_I64LE;
}

/* A numeric dataset at path (intermediate groups created, no timestamps). */
static int write_dset(hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                      const size_t *dims, const void *data)
{
    hsize_t hd[2] = {dims[0], dims[1]};
    hid_t space = H5Screate_simple(rank, hd, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), d;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = -1;
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_obj_track_times(dcpl, 0);
    d = H5Dcreate2(file, path, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (d >= 0) {
        size_t es = H5Tget_size(ftype) > H5Tget_size(mtype) ? H5Tget_size(ftype) : H5Tget_size(mtype);
        hid_t x = strata_h5_conv_dxpl((hssize_t)(dims[0] * (rank > 1 ? dims[1] : 1)), es);
        rc = H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, x, data) >= 0 ? 0 : -1;
        strata_h5_conv_dxpl_close(x);
        H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    return rc;
}

/* The groups above a dataset's path, created without timestamps. */
static int make_parents(hid_t file, const char *path)
{
    char parent[1024];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof parent)
        return -1;
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = '\0';
    return strata_h5_ensure_group(file, parent);
}

static int write_item(hid_t file, const strata_rec_item *it)
{
    if (it->type != STRATA_REC_TEXT && make_parents(file, it->name) < 0)
        return -1;
    switch (it->type) {
    case STRATA_REC_TEXT:
        return strata_h5_write_attr_string(file, it->name, it->text);
    case STRATA_REC_STRINGS:
        return strata_h5_write_strings(file, it->name, (const char *const *)it->strings, it->dims[0]);
    case STRATA_REC_F64:
        return write_dset(file, it->name, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, it->rank, it->dims, it->f64);
    case STRATA_REC_INT:
        return write_dset(file, it->name, int_file_type(it->store), H5T_NATIVE_INT64, it->rank, it->dims, it->i64);
    }
    return -1;
}

strata_status strata_model_file_write(strata_ctx *ctx, const strata_record *rec, const char *path)
{
    char *tmp = NULL;
    strata_status st;
    h5_quiet q;
    hid_t file;
    int rc = 0;
    quiet_begin(&q);
    /* created O_EXCL|O_NOFOLLOW by strata, opened by HDF5 (sec2) only when it is
     * the same file, with checksummed metadata (docs/reliability.md) */
    {
        /* no timestamps anywhere: the same model gives the same bytes */
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        H5Pset_obj_track_times(fcpl, 0);
        file = strata_h5_create_tmp(ctx, path, 0644, fcpl, &tmp);
        H5Pclose(fcpl);
    }
    if (file < 0) {
        quiet_end(&q);
        return strata_ctx_errcode(ctx); /* EIO, ENOMEM, or EINVAL: the path is an input */
    }
    rc |= strata_h5_write_attr_string(file, "schema", MODEL_SCHEMA);
    /* a model whose items need a later version says so in its record */
    rc |= strata_h5_write_attr_string(file, "schema_version",
                                      strata_rec_text(rec, "schema_version") ? strata_rec_text(rec, "schema_version")
                                                                             : MODEL_SCHEMA_VERSION);
    for (size_t i = 0; i < rec->n && rc == 0; i++)
        if (rec->items[i].type != STRATA_REC_TEXT ||
            (strcmp(rec->items[i].name, "schema") && strcmp(rec->items[i].name, "schema_version")))
            rc |= write_item(file, &rec->items[i]);
    if (H5Fclose(file) < 0)
        rc = -1;
    quiet_end(&q);
    if (rc != 0) {
        remove(tmp);
        strata_free(ctx, tmp, 0);
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write model file", path);
    }
    st = strata_publish(ctx, tmp, path, 0644);
    strata_free(ctx, tmp, 0);
    return st;
}

/* ---- reading a record -------------------------------------------------------- */

typedef struct reader {
    strata_ctx *ctx;
    const char *path;  /* the file, for messages */
    hid_t file;
    strata_record *rec;
} reader;

/* Every string root attribute as a TEXT item. */
static herr_t read_attr(hid_t loc, const char *name, const H5A_info_t *info, void *ud)
{
    reader *R = ud;
    char *v;
    strata_status st;
    (void)info;
    strata_ctx_clear_error(R->ctx); /* a NULL read tells ENOMEM from a non-string by the code */
    v = strata_h5_attr_string(R->ctx, loc, name);
    if (!v)
        return strata_ctx_errcode(R->ctx) == STRATA_ENOMEM ? -1 : 0;
    st = strata_rec_put_text(R->ctx, R->rec, name, v);
    strata_free(R->ctx, v, 0);
    return st == STRATA_OK ? 0 : -1;
}

static strata_status read_strings_item(reader *R, const char *dpath)
{
    char **s = NULL;
    size_t n = 0;
    strata_status st;
    STRATA_TRY(strata_h5_read_strings(R->ctx, R->file, R->path, dpath, &s, &n));
    st = strata_rec_put_strings(R->ctx, R->rec, dpath, (const char *const *)s, n);
    strata_strings_free(R->ctx, s, n);
    return st;
}

/* A float or integer dataset of rank 0..2 as an array item. */
static strata_status read_numeric_item(reader *R, hid_t d, hid_t type, const char *dpath)
{
    hid_t space = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t hd[2] = {1, 1};
    size_t rows, cols;
    void *data;
    int isf = H5Tget_class(type) == H5T_FLOAT;
    if (rank < 0 || rank > 2) {
        H5Sclose(space);
        return STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s:%s: expected a 1-D or 2-D dataset", R->path, dpath);
    }
    if (rank > 0)
        H5Sget_simple_extent_dims(space, hd, NULL);
    H5Sclose(space);
    if ((hd[1] && hd[0] > ((hsize_t)1 << 62) / hd[1]) ||
        !strata_h5_npts_plausible(d, (hssize_t)(hd[0] * hd[1])))
        return STRATA_FAIL(R->ctx, STRATA_EFORMAT,
                           "%s:%s: %llu x %llu values cannot be stored in a file this size; corrupt",
                           R->path, dpath, (unsigned long long)hd[0], (unsigned long long)hd[1]);
    rows = (size_t)hd[0];
    cols = rank == 2 ? (size_t)hd[1] : 0;
    if (isf) {
        data = strata_rec_put_f64(R->ctx, R->rec, dpath, rows, cols);
    } else {
        size_t sz = H5Tget_size(type);
        int sgn = H5Tget_sign(type) == H5T_SGN_2;
        strata_rec_int store = sz <= 1 ? (sgn ? STRATA_REC_I8 : STRATA_REC_U8) : sz <= 4 ? STRATA_REC_I32 : STRATA_REC_I64;
        data = strata_rec_put_int(R->ctx, R->rec, dpath, store, rows, cols);
    }
    if (!data)
        return STRATA_ENOMEM;
    if (rows * (cols ? cols : 1) > 0 &&
        H5Dread(d, isf ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        return STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s:%s: cannot read dataset", R->path, dpath);
    return STRATA_OK;
}

static strata_status read_dataset(reader *R, hid_t d, const char *dpath)
{
    hid_t type = H5Dget_type(d);
    H5T_class_t cls = H5Tget_class(type);
    strata_status st = STRATA_OK;
    if (cls == H5T_STRING)
        st = read_strings_item(R, dpath);
    else if (cls == H5T_FLOAT || cls == H5T_INTEGER)
        st = read_numeric_item(R, d, type, dpath);
    H5Tclose(type);
    return st;
}

/* Every dataset below group g (at path gpath, "" for the root), in name order. */
static strata_status read_group(reader *R, hid_t g, const char *gpath, int depth)
{
    H5G_info_t gi;
    strata_status st = STRATA_OK;
    if (depth > MODEL_MAX_DEPTH || H5Gget_info(g, &gi) < 0)
        return STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s:%s: cannot list group", R->path, *gpath ? gpath : "/");
    for (hsize_t i = 0; i < gi.nlinks && st == STRATA_OK; i++) {
        char name[256], path[1024];
        hid_t o;
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0 ||
            (o = H5Oopen(g, name, H5P_DEFAULT)) < 0)
            return STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s:%s: cannot open member %" PRIuHSIZE, R->path,
                               *gpath ? gpath : "/", i);
        snprintf(path, sizeof path, "%s/%s", gpath, name);
        if (H5Iget_type(o) == H5I_GROUP)
            st = read_group(R, o, path, depth + 1);
        else if (H5Iget_type(o) == H5I_DATASET)
            st = read_dataset(R, o, path);
        H5Oclose(o);
    }
    return st;
}

/* Checks the schema, then reads the attributes and datasets. */
static strata_status read_body(reader *R)
{
    char *schema, *version;
    int ok;
    strata_ctx_clear_error(R->ctx); /* an attribute read that fails on memory leaves ENOMEM */
    schema = strata_h5_attr_string(R->ctx, R->file, "schema");
    if (!schema && strata_ctx_errcode(R->ctx) == STRATA_ENOMEM)
        return STRATA_ENOMEM;
    ok = schema && !strcmp(schema, MODEL_SCHEMA);
    strata_free(R->ctx, schema, 0);
    if (!ok)
        return STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s: not a strata model file (schema attribute is not '%s')",
                           R->path, MODEL_SCHEMA);
    /* another version's file is refused, never read as if it were this one's */
    version = strata_h5_attr_string(R->ctx, R->file, "schema_version");
    if (!version && strata_ctx_errcode(R->ctx) == STRATA_ENOMEM)
        return STRATA_ENOMEM;
    ok = 0;
    for (int v = 1; version && v <= MODEL_SCHEMA_VERSION_MAX; v++) {
        char want[8];
        snprintf(want, sizeof want, "%d", v);
        ok |= !strcmp(version, want);
    }
    if (!ok) {
        STRATA_FAIL(R->ctx, STRATA_EFORMAT,
                    "%s: model file schema_version '%.32s'; this strata reads versions 1 to %d only "
                    "(docs/model-format.md): refit the model, or use the strata that wrote it",
                    R->path, version ? version : "(missing)", MODEL_SCHEMA_VERSION_MAX);
        strata_free(R->ctx, version, 0);
        return STRATA_EFORMAT;
    }
    strata_free(R->ctx, version, 0);
    if (H5Aiterate2(R->file, H5_INDEX_NAME, H5_ITER_INC, NULL, read_attr, R) < 0)
        return strata_ctx_errcode(R->ctx) == STRATA_ENOMEM
                   ? STRATA_ENOMEM
                   : STRATA_FAIL(R->ctx, STRATA_EFORMAT, "%s: cannot read the root attributes", R->path);
    return read_group(R, R->file, "", 0);
}

strata_status strata_model_file_read(strata_ctx *ctx, const char *path, strata_record *rec)
{
    reader R = {ctx, path, H5I_INVALID_HID, rec};
    strata_status st;
    h5_quiet q;
    quiet_begin(&q);
    if (H5Fis_hdf5(path) <= 0) {
        quiet_end(&q);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not an HDF5 file (or unreadable)", path);
    }
    /* a crash in HDF5's parser stays in a child (docs/reliability.md#hdf5) */
    if ((st = strata_h5_probe(ctx, path)) != STRATA_OK) {
        quiet_end(&q);
        return st;
    }
    R.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (R.file < 0) {
        quiet_end(&q);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot open model file (a damaged HDF5 file)", path);
    }
    st = read_body(&R);
    H5Fclose(R.file);
    quiet_end(&q);
    if (st != STRATA_OK)
        strata_record_free(ctx, rec);
    return st;
}

/* ---- score files --------------------------------------------------------------- */

struct strata_score_file {
    char *path, *tmp;
    int with_id;
    FILE *fp;        /* CSV */
    hid_t file;      /* HDF5 */
    hid_t ds[3 + STRATA_SCORE_MAXCOLS]; /* HDF5: patient_id (when with_id), then the value columns */
    int nds;
    size_t ncols;    /* value columns of a file opened by strata_score_file_open_cols, else 0 */
    double *col;     /* HDF5 with ncols: one column's values of a write */
    h5_quiet q;
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Creates the HDF5 temporary (0600, as strata_h5_create_tmp) with schema = "strata-scores" and attrs. */
static strata_status create_h5(strata_ctx *ctx, strata_score_file *sf, const char *const *attrs)
{
    /* exclusive, 0600 from the first byte (patient-level), checksummed
     * metadata, HDF5's descriptor checked to be the file strata created */
    sf->file = strata_h5_create_tmp(ctx, sf->path, 0600, H5P_DEFAULT, &sf->tmp);
    if (sf->file < 0)
        return strata_ctx_errcode(ctx); /* ENOMEM, EIO, or EINVAL: the path is an input */
    strata_h5_write_attr_string(sf->file, "schema", "strata-scores");
    for (size_t a = 0; attrs && attrs[a] && attrs[a + 1]; a += 2)
        strata_h5_write_attr_string(sf->file, attrs[a], attrs[a + 1]);
    return STRATA_OK;
}

/* One column of a score file, without HDF5 timestamps: the same scores give
 * the same bytes, whatever the run's time or thread count. */
static hid_t score_dset(strata_score_file *sf, const char *name, hid_t type, hid_t space)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d;
    H5Pset_obj_track_times(dcpl, 0);
    d = H5Dcreate2(sf->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    return d;
}

static strata_status open_h5(strata_ctx *ctx, strata_score_file *sf, size_t nrows,
                             const char *const *attrs)
{
    hsize_t dims[1] = {nrows};
    hid_t space;
    const char *names[3] = {"patient_id", "linear_predictor", "response"};
    STRATA_TRY(create_h5(ctx, sf, attrs));
    space = H5Screate_simple(1, dims, NULL);
    for (int q = sf->with_id ? 0 : 1; q < 3; q++)
        sf->ds[sf->nds++] = score_dset(sf, names[q], q ? H5T_IEEE_F64LE : H5T_STD_I64LE, space);
    H5Sclose(space);
    return STRATA_OK;
}

strata_status strata_score_file_open(strata_ctx *ctx, const char *path, size_t nrows, int with_id,
                                     const char *const *attrs, strata_score_file **out)
{
    int is_h5 = ends_with(path, ".h5") || ends_with(path, ".hdf5"), is_csv = ends_with(path, ".csv");
    strata_score_file *sf;
    strata_status st = STRATA_OK;
    *out = NULL;
    if (!is_h5 && !is_csv)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: score output must end in .h5 or .csv", path);
    if (!(sf = strata_calloc(ctx, 1, sizeof *sf)))
        return STRATA_ENOMEM;
    sf->with_id = with_id;
    sf->file = H5I_INVALID_HID;
    quiet_begin(&sf->q);
    if (!(sf->path = strata_strdup(ctx, path)))
        st = STRATA_ENOMEM;
    else if (is_h5)
        st = open_h5(ctx, sf, nrows, attrs);
    else if ((sf->fp = strata_out_open(ctx, path, 0600, &sf->tmp)) != NULL)
        fprintf(sf->fp, "%slinear_predictor,response\n", with_id ? "patient_id," : "");
    else
        st = strata_ctx_errcode(ctx) != STRATA_OK ? strata_ctx_errcode(ctx) : STRATA_EIO;
    if (st != STRATA_OK) {
        strata_score_file_close(ctx, sf, st);
        return st;
    }
    *out = sf;
    return STRATA_OK;
}

static strata_status write_h5_rows(strata_ctx *ctx, strata_score_file *sf, size_t r0, size_t k,
                                   const int64_t *id, const double *lp, const double *resp)
{
    hsize_t start[1] = {r0}, count[1] = {k};
    hid_t mem = H5Screate_simple(1, count, NULL);
    int rc = 0;
    for (int q = 0; q < sf->nds; q++) {
        hid_t fs = H5Dget_space(sf->ds[q]);
        int col = q + (sf->with_id ? 0 : 1); /* 0 id, 1 lp, 2 resp */
        const void *buf = col == 1 ? (const void *)lp : col == 2 ? (const void *)resp : (const void *)id;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dwrite(sf->ds[q], col ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, mem, fs, H5P_DEFAULT, buf) < 0)
            rc = -1;
        H5Sclose(fs);
    }
    H5Sclose(mem);
    return rc ? STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write scores", sf->path) : STRATA_OK;
}

strata_status strata_score_file_write(strata_ctx *ctx, strata_score_file *sf, size_t r0, size_t k,
                                      const int64_t *id, const double *lp, const double *resp)
{
    if (!sf->fp)
        return write_h5_rows(ctx, sf, r0, k, id, lp, resp);
    for (size_t i = 0; i < k; i++) {
        if (sf->with_id)
            fprintf(sf->fp, "%lld,", (long long)id[i]);
        if (lp[i] == lp[i])
            fprintf(sf->fp, "%.17g,%.17g\n", lp[i], resp[i]);
        else
            fputs("NA,NA\n", sf->fp);
    }
    return STRATA_OK;
}

/* ---- score files of named columns ---------------------------------------------- */

static strata_status open_h5_cols(strata_ctx *ctx, strata_score_file *sf, size_t nrows, const char *const *attrs,
                                  const char *const *cols, const char *const *meaning)
{
    hsize_t dims[1] = {nrows};
    hid_t space;
    STRATA_TRY(create_h5(ctx, sf, attrs));
    space = H5Screate_simple(1, dims, NULL);
    if (sf->with_id)
        sf->ds[sf->nds++] = score_dset(sf, "patient_id", H5T_STD_I64LE, space);
    for (size_t c = 0; c < sf->ncols; c++) {
        hid_t d = score_dset(sf, cols[c], H5T_IEEE_F64LE, space);
        sf->ds[sf->nds++] = d;
        if (d >= 0 && meaning && meaning[c])
            strata_h5_write_attr_string(d, "meaning", meaning[c]);
    }
    H5Sclose(space);
    for (int q = 0; q < sf->nds; q++)
        if (sf->ds[q] < 0)
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create score file", sf->path);
    return STRATA_OK;
}

strata_status strata_score_file_open_cols(strata_ctx *ctx, const char *path, size_t nrows, int with_id,
                                          const char *const *attrs, const char *const *cols,
                                          const char *const *meaning, size_t ncols, strata_score_file **out)
{
    int is_h5 = ends_with(path, ".h5") || ends_with(path, ".hdf5"), is_csv = ends_with(path, ".csv");
    strata_score_file *sf;
    strata_status st = STRATA_OK;
    *out = NULL;
    if (!is_h5 && !is_csv)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: score output must end in .h5 or .csv", path);
    if (ncols == 0 || ncols > STRATA_SCORE_MAXCOLS)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: a score file has 1 to %d value columns (%zu given)", path,
                           STRATA_SCORE_MAXCOLS, ncols);
    if (!(sf = strata_calloc(ctx, 1, sizeof *sf)))
        return STRATA_ENOMEM;
    sf->with_id = with_id;
    sf->ncols = ncols;
    sf->file = H5I_INVALID_HID;
    quiet_begin(&sf->q);
    if (!(sf->path = strata_strdup(ctx, path))) {
        st = STRATA_ENOMEM;
    } else if (is_h5) {
        st = open_h5_cols(ctx, sf, nrows, attrs, cols, meaning);
    } else if ((sf->fp = strata_out_open(ctx, path, 0600, &sf->tmp)) != NULL) {
        fputs(with_id ? "patient_id," : "", sf->fp);
        for (size_t c = 0; c < ncols; c++)
            fprintf(sf->fp, "%s%s", c ? "," : "", cols[c]);
        fputc('\n', sf->fp);
    } else {
        st = strata_ctx_errcode(ctx) != STRATA_OK ? strata_ctx_errcode(ctx) : STRATA_EIO;
    }
    if (st != STRATA_OK) {
        strata_score_file_close(ctx, sf, st);
        return st;
    }
    *out = sf;
    return STRATA_OK;
}

strata_status strata_score_file_write_cols(strata_ctx *ctx, strata_score_file *sf, size_t r0, size_t k,
                                           const int64_t *id, const double *vals)
{
    size_t nc = sf->ncols;
    if (sf->fp) {
        for (size_t i = 0; i < k; i++) {
            if (sf->with_id)
                fprintf(sf->fp, "%lld,", (long long)id[i]);
            for (size_t c = 0; c < nc; c++) {
                double v = vals[i * nc + c];
                fprintf(sf->fp, v == v ? "%s%.17g" : "%sNA", c ? "," : "", v);
            }
            fputc('\n', sf->fp);
        }
        return ferror(sf->fp) ? STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write scores", sf->path) : STRATA_OK;
    }
    {
        hsize_t start[1] = {r0}, count[1] = {k};
        hid_t mem;
        int rc = 0, q0 = sf->with_id ? 1 : 0;
        strata_free(ctx, sf->col, 0);
        if (!(sf->col = strata_alloc(ctx, (k + 1) * sizeof *sf->col)))
            return STRATA_ENOMEM;
        mem = H5Screate_simple(1, count, NULL);
        for (int q = 0; q < sf->nds; q++) {
            hid_t fs = H5Dget_space(sf->ds[q]);
            const void *buf = sf->col;
            if (q < q0)
                buf = id;
            else
                for (size_t i = 0; i < k; i++)
                    sf->col[i] = vals[i * nc + (size_t)(q - q0)];
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
            if (H5Dwrite(sf->ds[q], q < q0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, mem, fs, H5P_DEFAULT, buf) < 0)
                rc = -1;
            H5Sclose(fs);
        }
        H5Sclose(mem);
        return rc ? STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write scores", sf->path) : STRATA_OK;
    }
}

strata_status strata_score_file_close(strata_ctx *ctx, strata_score_file *sf, strata_status st)
{
    if (!sf)
        return st;
    for (int q = 0; q < sf->nds; q++)
        if (sf->ds[q] >= 0)
            H5Dclose(sf->ds[q]);
    if (sf->file >= 0 && H5Fclose(sf->file) < 0 && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot close score file", sf->path);
    if (sf->fp) {
        if (st == STRATA_OK) {
            st = strata_out_publish(ctx, sf->fp, sf->tmp, sf->path, 0600); /* frees tmp */
        } else {
            fclose(sf->fp);
            remove(sf->tmp);
            strata_free(ctx, sf->tmp, 0);
        }
        sf->tmp = NULL;
    }
    if (sf->tmp && st == STRATA_OK)
        st = strata_publish(ctx, sf->tmp, sf->path, 0600);
    else if (sf->tmp)
        remove(sf->tmp);
    quiet_end(&sf->q);
    strata_free(ctx, sf->col, 0);
    strata_free(ctx, sf->tmp, 0);
    strata_free(ctx, sf->path, 0);
    strata_free(ctx, sf, sizeof *sf);
    return st;
}
