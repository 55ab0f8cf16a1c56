/* engine/model/model_io.c — the model file (HDF5, docs/model-format.md) and the
 * score writer (scores.h5 / scores.csv). Both publish atomically through a
 * temporary name; score files hold patient ids and are created 0600.
 * Invariant: doubles are stored as IEEE float64, so load gives back the exact
 * coefficients, levels and knots that were fitted. */
#include "cohort_internal.h"
#include "outfile.h"
#include "glm_internal.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_SCHEMA "strata-model"
#define MODEL_SCHEMA_VERSION "1"

static const char *const sum_keys[] = {"deviance", "null_deviance", "aic", "dispersion",
                                       "df_residual", "df_null", "rank", "iterations",
                                       "n_used", "n_dropped", "converged", "t_statistic"};
#define NSUM (sizeof sum_keys / sizeof sum_keys[0])

static void sum_get(const strata_fit_summary *s, double *v)
{
    v[0] = s->deviance, v[1] = s->null_deviance, v[2] = s->aic, v[3] = s->dispersion;
    v[4] = s->df_residual, v[5] = s->df_null, v[6] = s->rank, v[7] = s->iterations;
    v[8] = (double)s->n_used, v[9] = (double)s->n_dropped, v[10] = s->converged;
    v[11] = s->t_statistic;
}

static void sum_set(strata_fit_summary *s, const double *v)
{
    s->deviance = v[0], s->null_deviance = v[1], s->aic = v[2], s->dispersion = v[3];
    s->df_residual = v[4], s->df_null = v[5], s->rank = (int)v[6], s->iterations = (int)v[7];
    s->n_used = (size_t)v[8], s->n_dropped = (size_t)v[9], s->converged = (int)v[10];
    s->t_statistic = (int)v[11];
}

static int write_dset(hid_t file, const char *path, hid_t type, int rank, const hsize_t *dims,
                      const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), d;
    int rc = -1;
    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(file, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        rc = H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 ? 0 : -1;
        H5Dclose(d);
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    return rc;
}

static int read_dset(hid_t file, const char *path, hid_t type, size_t n, void *data)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT), space;
    int rc = -1;
    if (d < 0)
        return -1;
    space = H5Dget_space(d);
    if (H5Sget_simple_extent_npoints(space) == (hssize_t)n &&
        (n == 0 || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
        rc = 0;
    H5Sclose(space);
    H5Dclose(d);
    return rc;
}

strata_status strata_model_save(strata_ctx *ctx, const strata_model *m, const char *path)
{
    const glm_formula *f = m->f;
    char *tmp = strata_tmp_path(ctx, path);
    hid_t file;
    int rc = 0;
    char buf[64], name[64];
    double sv[NSUM];
    hsize_t dims[2];
    const char **labels = NULL, **cols = NULL;
    signed char *isf = NULL;
    if (!tmp)
        return STRATA_ENOMEM;
    strata_h5_quiet();
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        strata_status st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create model file", path);
        strata_free(ctx, tmp, 0);
        return st;
    }
    labels = strata_calloc(ctx, f->nvars + 1, sizeof *labels);
    cols = strata_calloc(ctx, f->nvars + 1, sizeof *cols);
    isf = strata_calloc(ctx, f->nvars + 1, 1);
    if (!labels || !cols || !isf) {
        rc = -2;
        goto done;
    }
    rc |= strata_h5_write_attr_string(file, "schema", MODEL_SCHEMA);
    rc |= strata_h5_write_attr_string(file, "schema_version", MODEL_SCHEMA_VERSION);
    rc |= strata_h5_write_attr_string(file, "model", "glm");
    rc |= strata_h5_write_attr_string(file, "family", strata_family_name(m->family));
    rc |= strata_h5_write_attr_string(file, "formula", f->text);
    rc |= strata_h5_write_attr_string(file, "weights", f->weights >= 0 ? f->vars[f->weights].column : "");
    rc |= strata_h5_write_attr_string(file, "unseen", m->unseen == STRATA_UNSEEN_TO_REFERENCE ? "to-reference" : "error");
    snprintf(buf, sizeof buf, "%zu", m->block_rows);
    rc |= strata_h5_write_attr_string(file, "block_rows", buf);
    for (int k = 0; k < GLM_NPROV; k++)
        if (m->prov[k])
            rc |= strata_h5_write_attr_string(file, glm_prov_keys[k], m->prov[k]);
    rc |= strata_h5_write_strings(file, "/coefficients/term", (const char *const *)f->colnames, m->p);
    dims[0] = m->p;
    dims[1] = m->p;
    rc |= write_dset(file, "/coefficients/estimate", H5T_NATIVE_DOUBLE, 1, dims, m->beta);
    rc |= write_dset(file, "/coefficients/std_error", H5T_NATIVE_DOUBLE, 1, dims, m->se);
    rc |= write_dset(file, "/coefficients/aliased", H5T_NATIVE_UCHAR, 1, dims, m->aliased);
    rc |= write_dset(file, "/coefficients/vcov", H5T_NATIVE_DOUBLE, 2, dims, m->vcov);
    sum_get(&m->sum, sv);
    dims[0] = NSUM;
    rc |= strata_h5_write_strings(file, "/summary/name", sum_keys, NSUM);
    rc |= write_dset(file, "/summary/value", H5T_NATIVE_DOUBLE, 1, dims, sv);
    for (size_t v = 0; v < f->nvars; v++) {
        const glm_var *gv = &f->vars[v];
        labels[v] = gv->label;
        cols[v] = gv->column;
        isf[v] = (signed char)gv->is_factor;
        if (gv->is_factor) {
            snprintf(name, sizeof name, "/spec/var%zu/levels", v);
            rc |= strata_h5_write_strings(file, name, (const char *const *)gv->levels, gv->n_levels);
        }
        if (gv->tr == GT_RCS) {
            dims[0] = (hsize_t)gv->rcs_k;
            snprintf(name, sizeof name, "/spec/var%zu/knots", v);
            rc |= write_dset(file, name, H5T_NATIVE_DOUBLE, 1, dims, gv->knots);
        }
    }
    dims[0] = f->nvars;
    rc |= strata_h5_write_strings(file, "/spec/var_label", labels, f->nvars);
    rc |= strata_h5_write_strings(file, "/spec/var_column", cols, f->nvars);
    rc |= write_dset(file, "/spec/var_factor", H5T_NATIVE_SCHAR, 1, dims, isf);
done:
    strata_free(ctx, labels, 0);
    strata_free(ctx, cols, 0);
    strata_free(ctx, isf, 0);
    if (H5Fclose(file) < 0)
        rc = -1;
    if (rc != 0) {
        remove(tmp);
        strata_free(ctx, tmp, 0);
        return rc == -2 ? STRATA_ENOMEM : STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write model file", path);
    }
    {
        strata_status st = strata_publish(ctx, tmp, path, 0644);
        strata_free(ctx, tmp, 0);
        return st;
    }
}

static strata_status load_body(strata_ctx *ctx, hid_t file, const char *path, strata_model **out)
{
    char *schema;
    char *formula = NULL, *family = NULL, *weights = NULL, *unseen = NULL, *brows = NULL;
    char **labels = NULL, **terms = NULL, name[64];
    size_t nl = 0, nt = 0;
    signed char isf[64];
    glm_formula *f = NULL;
    strata_model *m = NULL;
    strata_status st = STRATA_OK;
    double sv[NSUM];
    int ok;
    strata_ctx_clear_error(ctx); /* an attribute read that fails on memory leaves ENOMEM */
    schema = strata_h5_attr_string(ctx, file, "schema");
    if (!schema && strata_ctx_errcode(ctx) == STRATA_ENOMEM)
        return STRATA_ENOMEM;
    ok = schema && !strcmp(schema, MODEL_SCHEMA);
    strata_free(ctx, schema, 0);
    if (!ok)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not a strata model file (schema attribute is not '%s')", path, MODEL_SCHEMA);
    formula = strata_h5_attr_string(ctx, file, "formula");
    family = strata_h5_attr_string(ctx, file, "family");
    weights = strata_h5_attr_string(ctx, file, "weights");
    unseen = strata_h5_attr_string(ctx, file, "unseen");
    brows = strata_h5_attr_string(ctx, file, "block_rows");
    if (strata_ctx_errcode(ctx) == STRATA_ENOMEM) {
        st = STRATA_ENOMEM;
        goto done;
    }
    if (!formula || !family || !weights || !unseen || !brows) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model file lacks formula/family/weights/unseen/block_rows attributes", path);
        goto done;
    }
    if ((st = glm_formula_parse(ctx, formula, &f)) != STRATA_OK)
        goto done;
    if (*weights && (st = glm_formula_set_weights(ctx, f, weights)) != STRATA_OK)
        goto done;
    if ((st = strata_h5_read_strings(ctx, file, path, "/spec/var_label", &labels, &nl)) != STRATA_OK)
        goto done;
    if (nl != f->nvars || f->nvars > 64 || read_dset(file, "/spec/var_factor", H5T_NATIVE_SCHAR, nl, isf)) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec does not match the formula's %zu variables", path, f->nvars);
        goto done;
    }
    for (size_t v = 0; v < nl; v++) {
        glm_var *gv = &f->vars[v];
        if (strcmp(labels[v], gv->label)) {
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec/var_label[%zu] '%s' does not match formula variable '%s'",
                             path, v, labels[v], gv->label);
            goto done;
        }
        gv->is_factor = isf[v];
        if (gv->is_factor) {
            snprintf(name, sizeof name, "/spec/var%zu/levels", v);
            if ((st = strata_h5_read_strings(ctx, file, path, name, &gv->levels, &gv->n_levels)) != STRATA_OK)
                goto done;
            gv->ref_index = 0;
        }
        if (gv->tr == GT_RCS) {
            snprintf(name, sizeof name, "/spec/var%zu/knots", v);
            if (read_dset(file, name, H5T_NATIVE_DOUBLE, (size_t)gv->rcs_k, gv->knots)) {
                st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read %s", path, name);
                goto done;
            }
            gv->knots_set = 1;
        }
    }
    if ((st = glm_design_layout(ctx, f)) != STRATA_OK)
        goto done;
    if ((st = strata_h5_read_strings(ctx, file, path, "/coefficients/term", &terms, &nt)) != STRATA_OK)
        goto done;
    ok = nt == f->p;
    for (size_t j = 0; ok && j < nt; j++)
        ok = !strcmp(terms[j], f->colnames[j]);
    if (!ok) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/term does not match the design of the formula", path);
        goto done;
    }
    if ((st = glm_model_alloc(ctx, f, &m)) != STRATA_OK)
        goto done;
    f = NULL;
    if (read_dset(file, "/coefficients/estimate", H5T_NATIVE_DOUBLE, m->p, m->beta) ||
        read_dset(file, "/coefficients/std_error", H5T_NATIVE_DOUBLE, m->p, m->se) ||
        read_dset(file, "/coefficients/aliased", H5T_NATIVE_UCHAR, m->p, m->aliased) ||
        read_dset(file, "/coefficients/vcov", H5T_NATIVE_DOUBLE, m->p * m->p, m->vcov) ||
        read_dset(file, "/summary/value", H5T_NATIVE_DOUBLE, NSUM, sv)) {
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /coefficients or /summary", path);
        goto done;
    }
    sum_set(&m->sum, sv);
    if ((st = strata_family_parse(ctx, family, &m->family)) != STRATA_OK)
        goto done;
    m->sum.family = m->family;
    m->sum.formula = m->f->text;
    m->unseen = !strcmp(unseen, "to-reference") ? STRATA_UNSEEN_TO_REFERENCE : STRATA_UNSEEN_ERROR;
    m->block_rows = (size_t)strtoul(brows, NULL, 10);
    if (m->block_rows < 16)
        m->block_rows = 8192;
    for (int k = 0; k < GLM_NPROV; k++)
        m->prov[k] = strata_h5_attr_string(ctx, file, glm_prov_keys[k]);
    if (strata_ctx_errcode(ctx) == STRATA_ENOMEM) {
        st = STRATA_ENOMEM;
        goto done;
    }
    *out = m;
    m = NULL;
done:
    strata_model_free(ctx, m);
    glm_formula_free(ctx, f);
    strata_strings_free(ctx, labels, nl);
    strata_strings_free(ctx, terms, nt);
    strata_free(ctx, formula, 0);
    strata_free(ctx, family, 0);
    strata_free(ctx, weights, 0);
    strata_free(ctx, unseen, 0);
    strata_free(ctx, brows, 0);
    return st;
}

strata_status strata_model_load(strata_ctx *ctx, const char *path, strata_model **out)
{
    hid_t file;
    strata_status st;
    *out = NULL;
    strata_h5_quiet();
    if (H5Fis_hdf5(path) <= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not an HDF5 file (or unreadable)", path);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open model file", path);
    st = load_body(ctx, file, path, out);
    H5Fclose(file);
    return st;
}

/* ---- score writer -------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static strata_status write_chunk_h5(hid_t *ds, int nds, size_t r0, size_t k, const int64_t *id,
                                    const double *lp, const double *resp)
{
    hsize_t start[1] = {r0}, count[1] = {k};
    hid_t mem = H5Screate_simple(1, count, NULL);
    int rc = 0;
    for (int q = 0; q < nds; q++) {
        hid_t fs = H5Dget_space(ds[q]);
        const void *buf = q == nds - 2 ? (const void *)lp : q == nds - 1 ? (const void *)resp : (const void *)id;
        hid_t mt = q == nds - 2 || q == nds - 1 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dwrite(ds[q], mt, mem, fs, H5P_DEFAULT, buf) < 0)
            rc = -1;
        H5Sclose(fs);
    }
    H5Sclose(mem);
    return rc ? STRATA_EIO : STRATA_OK;
}

strata_status strata_score_write(strata_ctx *ctx, const strata_model *m, strata_cohort *cohort,
                                 strata_unseen_policy unseen, const char *path)
{
    int is_h5 = ends_with(path, ".h5") || ends_with(path, ".hdf5"), is_csv = ends_with(path, ".csv");
    glm_source src;
    long idcol;
    size_t n, chunk = GLM_SCORE_CHUNK;
    char *tmp = NULL;
    double *lp = NULL, *resp = NULL;
    int64_t *id = NULL;
    FILE *fp = NULL;
    hid_t file = H5I_INVALID_HID, ds[3] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
    int nds = 0;
    strata_status st;
    if (!is_h5 && !is_csv)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: score output must end in .h5 or .csv", path);
    STRATA_TRY(glm_score_bind(ctx, m, cohort, unseen, &src));
    n = src.nrows;
    idcol = strata_cohort_find_role(cohort, STRATA_ROLE_PATIENT_ID);
    if (n < chunk)
        chunk = n ? n : 1;
    tmp = strata_tmp_path(ctx, path);
    lp = strata_alloc(ctx, chunk * sizeof *lp);
    resp = strata_alloc(ctx, chunk * sizeof *resp);
    id = strata_alloc(ctx, chunk * sizeof *id);
    st = STRATA_ENOMEM;
    if (!tmp || !lp || !resp || !id)
        goto done;
    if (is_h5) {
        hsize_t dims[1] = {n};
        hid_t space = H5Screate_simple(1, dims, NULL);
        const char *names[3] = {"patient_id", "linear_predictor", "response"};
        strata_h5_quiet();
        file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file >= 0)
            chmod(tmp, 0600); /* patient-level: never readable by others, even as tmp */
        if (file < 0) {
            H5Sclose(space);
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create score file", path);
            goto done;
        }
        strata_h5_write_attr_string(file, "schema", "strata-scores");
        strata_h5_write_attr_string(file, "formula", m->f->text);
        strata_h5_write_attr_string(file, "family", strata_family_name(m->family));
        strata_h5_write_attr_string(file, "cohort", strata_cohort_path(cohort));
        for (int q = idcol >= 0 ? 0 : 1; q < 3; q++)
            ds[nds++] = H5Dcreate2(file, names[q], q ? H5T_IEEE_F64LE : H5T_STD_I64LE, space,
                                   H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(space);
    } else {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        fp = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!fp) {
            if (fd >= 0)
                close(fd);
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create score file", path);
            goto done;
        }
        fprintf(fp, "%slinear_predictor,response\n", idcol >= 0 ? "patient_id," : "");
    }
    for (size_t r0 = 0; r0 < n; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        if ((st = glm_score_source(ctx, m, &src, r0, k, lp, resp)) != STRATA_OK)
            goto done;
        if (idcol >= 0 && (st = strata_cohort_read_i64(ctx, cohort, (size_t)idcol, r0, k, id)) != STRATA_OK)
            goto done;
        if (is_h5) {
            if (write_chunk_h5(ds, nds, r0, k, id, lp, resp) != STRATA_OK) {
                st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write scores", path);
                goto done;
            }
        } else {
            for (size_t i = 0; i < k; i++) {
                if (idcol >= 0)
                    fprintf(fp, "%lld,", (long long)id[i]);
                if (lp[i] == lp[i])
                    fprintf(fp, "%.17g,%.17g\n", lp[i], resp[i]);
                else
                    fputs("NA,NA\n", fp);
            }
        }
    }
    st = STRATA_OK;
done:
    for (int q = 0; q < nds; q++)
        if (ds[q] >= 0)
            H5Dclose(ds[q]);
    if (file >= 0 && H5Fclose(file) < 0 && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot close score file", path);
    if (fp && (fclose(fp) != 0) && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write score file", path);
    if (tmp && st == STRATA_OK)
        st = strata_publish(ctx, tmp, path, 0600);
    else if (tmp)
        remove(tmp);
    strata_free(ctx, tmp, 0);
    strata_free(ctx, lp, 0);
    strata_free(ctx, resp, 0);
    strata_free(ctx, id, 0);
    return st;
}
