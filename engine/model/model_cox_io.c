/* engine/model/model_cox_io.c — the Cox model file (HDF5, schema strata-model,
 * model = "cox"; docs/cox.md) and the score file: coefficients, covariances,
 * summary, frozen design, strata keys, baseline hazard per stratum. Invariant:
 * float64 stored exactly, so load -> score gives the fitted model's bytes. (HDF5 here
 * until model files move to engine/io's record.) */
#include "cohort_internal.h"
#include "model_cox.h"
#include "outfile.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSUM 15
static const char *const sum_keys[NSUM] = {
    "n", "n_events", "w_events", "loglik_null", "loglik", "score_test", "wald_test", "lr_test",
    "concordance", "iterations", "converged", "rank", "n_dropped", "n_clusters", "nstrata"};

static void sum_get(const strata_cox *m, double *v)
{
    const cox_result *r = m->fo.res;
    double x[NSUM] = {(double)r->n, (double)r->n_events, r->w_events, r->loglik_null, r->loglik,
                      r->score_test, r->wald_test, r->lr_test, r->concordance, r->iter, r->converged,
                      r->rank, (double)m->fo.n_dropped, (double)r->nclusters, (double)r->nstrata};
    memcpy(v, x, sizeof x);
}

static void sum_set(strata_cox *m, const double *v)
{
    cox_result *r = m->fo.res;
    r->n = (size_t)v[0], r->n_events = (size_t)v[1], r->w_events = v[2];
    r->loglik_null = v[3], r->loglik = v[4], r->score_test = v[5], r->wald_test = v[6];
    r->lr_test = v[7], r->concordance = v[8], r->iter = (int)v[9], r->converged = (int)v[10];
    r->rank = (int)v[11], m->fo.n_dropped = (size_t)v[12], r->nclusters = (size_t)v[13];
    r->nstrata = (size_t)v[14];
}

static int wr(hid_t file, const char *path, hid_t type, int rank, hsize_t d0, hsize_t d1, const void *x)
{
    hsize_t dims[2] = {d0, d1};
    hid_t space = H5Screate_simple(rank, dims, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), d;
    int rc = -1;
    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(file, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        rc = H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 ? 0 : -1;
        H5Dclose(d);
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    return rc;
}

/* Reads exactly n values of path; -1 when absent or of another size. */
static int rd(hid_t file, const char *path, hid_t type, size_t n, void *x)
{
    hid_t d;
    int rc = -1;
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0 || (d = H5Dopen2(file, path, H5P_DEFAULT)) < 0)
        return -1;
    {
        hid_t sp = H5Dget_space(d);
        if ((size_t)H5Sget_simple_extent_npoints(sp) == n)
            rc = n == 0 || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 ? 0 : -1;
        H5Sclose(sp);
    }
    H5Dclose(d);
    return rc;
}

/* The frozen design: per variable its label, column, factor flag, levels, knots. */
static int write_spec(hid_t file, const glm_formula *f, const char **labels, const char **cols,
                      signed char *isf)
{
    char name[64];
    int rc = 0;
    for (size_t v = 0; v < f->nvars; v++) {
        const glm_var *gv = &f->vars[v];
        labels[v] = gv->label;
        cols[v] = gv->column;
        isf[v] = (signed char)gv->is_factor;
        snprintf(name, sizeof name, "/spec/var%zu/levels", v);
        if (gv->is_factor)
            rc |= strata_h5_write_strings(file, name, (const char *const *)gv->levels, gv->n_levels);
        snprintf(name, sizeof name, "/spec/var%zu/knots", v);
        if (gv->tr == GT_RCS)
            rc |= wr(file, name, H5T_NATIVE_DOUBLE, 1, (hsize_t)gv->rcs_k, 1, gv->knots);
    }
    rc |= strata_h5_write_strings(file, "/spec/var_label", labels, f->nvars);
    rc |= strata_h5_write_strings(file, "/spec/var_column", cols, f->nvars);
    return rc | wr(file, "/spec/var_factor", H5T_NATIVE_SCHAR, 1, f->nvars, 1, isf);
}

static int write_result(hid_t file, const strata_cox *m)
{
    const cox_result *r = m->fo.res;
    size_t p = r->p, nh = r->bh_start[r->nstrata];
    int64_t *start = malloc((r->nstrata + 1) * sizeof *start);
    double sv[NSUM];
    int rc = start ? 0 : -1;
    rc |= strata_h5_write_strings(file, "/coefficients/term", (const char *const *)m->fo.formula->colnames + 1, p);
    rc |= wr(file, "/coefficients/estimate", H5T_NATIVE_DOUBLE, 1, p, 1, r->beta);
    rc |= wr(file, "/coefficients/std_error", H5T_NATIVE_DOUBLE, 1, p, 1, r->se);
    rc |= wr(file, "/coefficients/aliased", H5T_NATIVE_UCHAR, 1, p, 1, r->aliased);
    rc |= wr(file, "/coefficients/vcov", H5T_NATIVE_DOUBLE, 2, p, p, r->vcov);
    if (r->rse) {
        rc |= wr(file, "/coefficients/robust_se", H5T_NATIVE_DOUBLE, 1, p, 1, r->rse);
        rc |= wr(file, "/coefficients/robust_vcov", H5T_NATIVE_DOUBLE, 2, p, p, r->rvcov);
    }
    sum_get(m, sv);
    rc |= strata_h5_write_strings(file, "/summary/name", sum_keys, NSUM);
    rc |= wr(file, "/summary/value", H5T_NATIVE_DOUBLE, 1, NSUM, 1, sv);
    for (size_t s = 0; start && s <= r->nstrata; s++)
        start[s] = (int64_t)r->bh_start[s];
    if (start)
        rc |= wr(file, "/baseline/stratum_start", H5T_NATIVE_INT64, 1, r->nstrata + 1, 1, start);
    rc |= wr(file, "/baseline/stratum_code", H5T_NATIVE_INT32, 1, r->nstrata, 1, r->bh_code);
    rc |= wr(file, "/baseline/time", H5T_NATIVE_DOUBLE, 1, nh, 1, r->bh_time);
    rc |= wr(file, "/baseline/cumhaz", H5T_NATIVE_DOUBLE, 1, nh, 1, r->bh_haz);
    if (m->fo.n_strata_values)
        rc |= wr(file, "/strata/value", H5T_NATIVE_DOUBLE, 1, m->fo.n_strata_values, 1, m->fo.strata_values);
    if (m->fo.strata_labels)
        rc |= strata_h5_write_strings(file, "/strata/label", (const char *const *)m->fo.strata_labels,
                                      m->fo.n_strata_values);
    free(start);
    return rc;
}

static int write_attrs(hid_t file, const strata_cox *m)
{
    int rc = strata_h5_write_attr_string(file, "schema", "strata-model");
    rc |= strata_h5_write_attr_string(file, "schema_version", "1");
    rc |= strata_h5_write_attr_string(file, "model", "cox");
    rc |= strata_h5_write_attr_string(file, "formula", m->formula);
    rc |= strata_h5_write_attr_string(file, "weights", m->weights ? m->weights : "");
    rc |= strata_h5_write_attr_string(file, "ties", m->ties == COX_TIES_BRESLOW ? "breslow" : "efron");
    for (int k = 0; k < COX_NPROV; k++)
        if (m->prov[k])
            rc |= strata_h5_write_attr_string(file, cox_prov_keys[k], m->prov[k]);
    return rc;
}

strata_status strata_cox_save(strata_ctx *ctx, const strata_cox *m, const char *path)
{
    const glm_formula *f = m->fo.formula;
    char *tmp = strata_tmp_path(ctx, path);
    const char **labels = strata_calloc(ctx, f->nvars + 1, sizeof *labels);
    const char **cols = strata_calloc(ctx, f->nvars + 1, sizeof *cols);
    signed char *isf = strata_calloc(ctx, f->nvars + 1, 1);
    hid_t file = H5I_INVALID_HID;
    strata_status st = tmp && labels && cols && isf ? STRATA_OK : STRATA_ENOMEM;
    if (st == STRATA_OK) {
        strata_h5_quiet();
        file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create model file", path);
    }
    if (st == STRATA_OK && (write_attrs(file, m) | write_result(file, m) | write_spec(file, f, labels, cols, isf)))
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write model file", path);
    if (file >= 0 && H5Fclose(file) < 0 && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write model file", path);
    if (st == STRATA_OK)
        st = strata_publish(ctx, tmp, path, 0644);
    else if (tmp)
        remove(tmp);
    strata_free(ctx, tmp, 0);
    strata_free(ctx, (void *)labels, 0);
    strata_free(ctx, (void *)cols, 0);
    strata_free(ctx, isf, 0);
    return st;
}

/* ---- load ------------------------------------------------------------------- */

/* Levels and knots of the formula's variables, then its design layout. */
static strata_status load_spec(strata_ctx *ctx, hid_t file, const char *path, glm_formula *f)
{
    char **labels = NULL, name[64];
    size_t nl = 0;
    signed char isf[256];
    strata_status st = strata_h5_read_strings(ctx, file, path, "/spec/var_label", &labels, &nl);
    if (st == STRATA_OK && (nl != f->nvars || nl > 256 || rd(file, "/spec/var_factor", H5T_NATIVE_SCHAR, nl, isf)))
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec does not match the formula's %zu variables", path, f->nvars);
    for (size_t v = 0; st == STRATA_OK && v < nl; v++) {
        glm_var *gv = &f->vars[v];
        if (strcmp(labels[v], gv->label)) {
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /spec/var_label[%zu] '%s' is not the formula's '%s'", path, v,
                             labels[v], gv->label);
            break;
        }
        gv->is_factor = isf[v];
        snprintf(name, sizeof name, "/spec/var%zu/levels", v);
        if (gv->is_factor && (st = strata_h5_read_strings(ctx, file, path, name, &gv->levels, &gv->n_levels)) != STRATA_OK)
            break;
        gv->ref_index = 0;
        snprintf(name, sizeof name, "/spec/var%zu/knots", v);
        if (gv->tr == GT_RCS && rd(file, name, H5T_NATIVE_DOUBLE, (size_t)gv->rcs_k, gv->knots))
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read %s", path, name);
        gv->knots_set = 1;
    }
    strata_strings_free(ctx, labels, nl);
    return st == STRATA_OK ? glm_design_layout(ctx, f) : st;
}

/* Baseline hazard and strata keys. */
static strata_status load_baseline(strata_ctx *ctx, hid_t file, const char *path, strata_cox *m)
{
    cox_result *r = m->fo.res;
    size_t ns = r->nstrata, nh;
    int64_t *start = strata_alloc(ctx, (ns + 1) * sizeof *start);
    strata_status st = STRATA_OK;
    r->bh_start = strata_alloc(ctx, (ns + 1) * sizeof *r->bh_start);
    r->bh_code = strata_alloc(ctx, (ns + 1) * sizeof *r->bh_code);
    if (!start || !r->bh_start || !r->bh_code)
        st = STRATA_ENOMEM;
    else if (rd(file, "/baseline/stratum_start", H5T_NATIVE_INT64, ns + 1, start) ||
             rd(file, "/baseline/stratum_code", H5T_NATIVE_INT32, ns, r->bh_code))
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /baseline", path);
    for (size_t s = 0; st == STRATA_OK && s <= ns; s++)
        r->bh_start[s] = (size_t)start[s];
    nh = st == STRATA_OK ? r->bh_start[ns] : 0;
    if (st == STRATA_OK && (!(r->bh_time = strata_alloc(ctx, (nh + 1) * sizeof *r->bh_time)) ||
                            !(r->bh_haz = strata_alloc(ctx, (nh + 1) * sizeof *r->bh_haz))))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK && (rd(file, "/baseline/time", H5T_NATIVE_DOUBLE, nh, r->bh_time) ||
                            rd(file, "/baseline/cumhaz", H5T_NATIVE_DOUBLE, nh, r->bh_haz)))
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /baseline", path);
    if (st == STRATA_OK && m->fo.cf->strata) {
        m->fo.n_strata_values = ns;
        if (!(m->fo.strata_values = strata_alloc(ctx, (ns + 1) * sizeof *m->fo.strata_values)))
            st = STRATA_ENOMEM;
        else if (rd(file, "/strata/value", H5T_NATIVE_DOUBLE, ns, m->fo.strata_values))
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /strata/value", path);
        if (st == STRATA_OK && H5Lexists(file, "/strata/label", H5P_DEFAULT) > 0) {
            size_t nl = 0;
            st = strata_h5_read_strings(ctx, file, path, "/strata/label", &m->fo.strata_labels, &nl);
            if (st == STRATA_OK && nl != ns)
                st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /strata/label has %zu labels for %zu strata", path, nl, ns);
        }
    }
    strata_free(ctx, start, 0);
    return st;
}

/* Coefficients (the terms must be the design's), summary, then the baseline. */
static strata_status load_result(strata_ctx *ctx, hid_t file, const char *path, strata_cox *m)
{
    const glm_formula *f = m->fo.formula;
    size_t p = f->p - 1, nt = 0;
    char **terms = NULL;
    double sv[NSUM];
    cox_result *r;
    int ok;
    strata_status st = strata_h5_read_strings(ctx, file, path, "/coefficients/term", &terms, &nt);
    ok = st == STRATA_OK && nt == p;
    for (size_t j = 0; ok && j < nt; j++)
        ok = !strcmp(terms[j], f->colnames[j + 1]);
    strata_strings_free(ctx, terms, nt);
    STRATA_TRY(st);
    if (!ok)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: /coefficients/term does not match the formula's design", path);
    if (!(r = m->fo.res = cox_result_alloc(ctx, p)))
        return STRATA_ENOMEM;
    if (rd(file, "/coefficients/estimate", H5T_NATIVE_DOUBLE, p, r->beta) ||
        rd(file, "/coefficients/std_error", H5T_NATIVE_DOUBLE, p, r->se) ||
        rd(file, "/coefficients/aliased", H5T_NATIVE_UCHAR, p, r->aliased) ||
        rd(file, "/coefficients/vcov", H5T_NATIVE_DOUBLE, p * p, r->vcov) ||
        rd(file, "/summary/value", H5T_NATIVE_DOUBLE, NSUM, sv))
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read /coefficients or /summary", path);
    sum_set(m, sv);
    r->p = p;
    if (H5Lexists(file, "/coefficients/robust_se", H5P_DEFAULT) > 0) {
        if (!(r->rse = strata_alloc(ctx, p * sizeof *r->rse)) || !(r->rvcov = strata_alloc(ctx, p * p * sizeof *r->rvcov)))
            return STRATA_ENOMEM;
        if (rd(file, "/coefficients/robust_se", H5T_NATIVE_DOUBLE, p, r->rse) ||
            rd(file, "/coefficients/robust_vcov", H5T_NATIVE_DOUBLE, p * p, r->rvcov))
            return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: cannot read the robust covariance", path);
    }
    return load_baseline(ctx, file, path, m);
}

/* Attributes, formula, design, result. */
static strata_status load_body(strata_ctx *ctx, hid_t file, const char *path, strata_cox *m)
{
    char *schema = strata_h5_attr_string(ctx, file, "schema"), *kind = strata_h5_attr_string(ctx, file, "model");
    char *ties = strata_h5_attr_string(ctx, file, "ties");
    strata_status st = STRATA_OK;
    if (!schema || strcmp(schema, "strata-model") || !kind || strcmp(kind, "cox") || !ties)
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not a strata Cox model file (schema '%s', model '%s')", path,
                         schema ? schema : "?", kind ? kind : "?");
    if (st == STRATA_OK) {
        m->ties = !strcmp(ties, "breslow") ? COX_TIES_BRESLOW : COX_TIES_EFRON;
        m->formula = strata_h5_attr_string(ctx, file, "formula");
        m->weights = strata_h5_attr_string(ctx, file, "weights");
        for (int k = 0; k < COX_NPROV; k++)
            m->prov[k] = strata_h5_attr_string(ctx, file, cox_prov_keys[k]);
        if (!m->formula || !m->weights)
            st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: model file lacks its formula", path);
    }
    if (st == STRATA_OK && !*m->weights) {
        strata_free(ctx, m->weights, 0);
        m->weights = NULL;
    }
    if (st == STRATA_OK && (st = cox_formula_parse(ctx, m->formula, &m->fo.cf)) == STRATA_OK)
        st = glm_formula_parse(ctx, m->fo.cf->glm, &m->fo.formula);
    if (st == STRATA_OK && m->weights)
        st = glm_formula_set_weights(ctx, m->fo.formula, m->weights);
    if (st == STRATA_OK)
        st = load_spec(ctx, file, path, m->fo.formula);
    if (st == STRATA_OK)
        st = load_result(ctx, file, path, m);
    strata_free(ctx, schema, 0);
    strata_free(ctx, kind, 0);
    strata_free(ctx, ties, 0);
    return st;
}

strata_status strata_cox_load(strata_ctx *ctx, const char *path, strata_cox **out)
{
    hid_t file;
    strata_cox *m;
    strata_status st;
    *out = NULL;
    strata_h5_quiet();
    if (H5Fis_hdf5(path) <= 0)
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: not an HDF5 file (or unreadable)", path);
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open model file", path);
    if (!(m = strata_calloc(ctx, 1, sizeof *m))) {
        H5Fclose(file);
        return STRATA_ENOMEM;
    }
    st = load_body(ctx, file, path, m);
    H5Fclose(file);
    if (st != STRATA_OK) {
        strata_cox_free(ctx, m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

int strata_cox_is_model_file(const char *path)
{
    strata_ctx *ctx = NULL;
    hid_t file;
    char *kind;
    int yes = 0;
    strata_h5_quiet();
    if (!path || H5Fis_hdf5(path) <= 0 || strata_ctx_new(&ctx) != STRATA_OK)
        return 0;
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
        kind = strata_h5_attr_string(ctx, file, "model");
        yes = kind && !strcmp(kind, "cox");
        strata_free(ctx, kind, 0);
        H5Fclose(file);
    }
    strata_ctx_free(ctx);
    return yes;
}

/* ---- score file ------------------------------------------------------------- */

typedef struct sfile {
    int csv;
    FILE *fp;
    hid_t file;
    hid_t ds[2 + 16]; /* patient_id, linear_predictor, risk per horizon */
    int nds;
} sfile;

/* Creates the datasets (or the CSV header) of n rows. */
static int sfile_open(sfile *f, const char *tmp, size_t n, int with_id, const double *h, size_t nh,
                      const strata_cox *m, strata_cohort *cohort)
{
    char name[64];
    hsize_t dims[1] = {n};
    hid_t space;
    if (f->csv) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || !(f->fp = fdopen(fd, "w")))
            return fd >= 0 ? (close(fd), -1) : -1;
        fprintf(f->fp, "%slinear_predictor", with_id ? "patient_id," : "");
        for (size_t k = 0; k < nh; k++)
            fprintf(f->fp, ",risk_%g", h[k]);
        return fputc('\n', f->fp) == EOF ? -1 : 0;
    }
    if ((f->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return -1;
    chmod(tmp, 0600); /* patient-level: never readable by others, even as tmp */
    strata_h5_write_attr_string(f->file, "schema", "strata-scores");
    strata_h5_write_attr_string(f->file, "model", "cox");
    strata_h5_write_attr_string(f->file, "formula", m->formula);
    strata_h5_write_attr_string(f->file, "cohort", strata_cohort_path(cohort));
    space = H5Screate_simple(1, dims, NULL);
    if (with_id)
        f->ds[f->nds++] = H5Dcreate2(f->file, "patient_id", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    f->ds[f->nds++] = H5Dcreate2(f->file, "linear_predictor", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (size_t k = 0; k < nh; k++) {
        snprintf(name, sizeof name, "risk_%g", h[k]);
        f->ds[f->nds++] = H5Dcreate2(f->file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        strata_h5_write_attr_string(f->ds[f->nds - 1], "meaning", "1 - S(horizon | x): absolute risk of an event by the horizon");
    }
    H5Sclose(space);
    for (int q = 0; q < f->nds; q++)
        if (f->ds[q] < 0)
            return -1;
    return 0;
}

/* Rows [r0, r0 + k): id (or NULL), lp, risk (k x nh). risk_k is column k of risk. */
static int sfile_write(sfile *f, size_t r0, size_t k, const int64_t *id, const double *lp,
                       const double *risk, size_t nh, double *col)
{
    if (f->csv) {
        for (size_t i = 0; i < k; i++) {
            if (id)
                fprintf(f->fp, "%lld,", (long long)id[i]);
            fprintf(f->fp, lp[i] == lp[i] ? "%.17g" : "NA", lp[i]);
            for (size_t q = 0; q < nh; q++)
                fprintf(f->fp, risk[i * nh + q] == risk[i * nh + q] ? ",%.17g" : ",NA", risk[i * nh + q]);
            fputc('\n', f->fp);
        }
        return ferror(f->fp) ? -1 : 0;
    }
    {
        hsize_t start[1] = {r0}, count[1] = {k};
        hid_t mem = H5Screate_simple(1, count, NULL);
        int rc = 0, q0 = id ? 1 : 0;
        for (int q = 0; q < f->nds; q++) {
            hid_t fs = H5Dget_space(f->ds[q]);
            const void *buf = q < q0 ? (const void *)id : q == q0 ? (const void *)lp : (const void *)col;
            if (q > q0)
                for (size_t i = 0; i < k; i++)
                    col[i] = risk[i * nh + (size_t)(q - q0 - 1)];
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
            rc |= H5Dwrite(f->ds[q], q < q0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, mem, fs, H5P_DEFAULT, buf) < 0;
            H5Sclose(fs);
        }
        H5Sclose(mem);
        return rc ? -1 : 0;
    }
}

static int sfile_close(sfile *f)
{
    int rc = 0;
    for (int q = 0; q < f->nds; q++)
        if (f->ds[q] >= 0)
            rc |= H5Dclose(f->ds[q]) < 0;
    if (f->file >= 0)
        rc |= H5Fclose(f->file) < 0;
    if (f->fp)
        rc |= fclose(f->fp) != 0;
    return rc ? -1 : 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

strata_status strata_cox_score_write(strata_ctx *ctx, strata_cox *m, strata_cohort *cohort,
                                     strata_unseen_policy unseen, const double *horizons, size_t nh,
                                     const char *path)
{
    size_t n = strata_cohort_nrows(cohort), chunk = (size_t)1 << 16;
    long idcol = strata_cohort_find_role(cohort, STRATA_ROLE_PATIENT_ID);
    sfile f = {ends_with(path, ".csv"), NULL, H5I_INVALID_HID, {0}, 0};
    double *lp = NULL, *risk = NULL, *col = NULL;
    int64_t *id = NULL;
    char *tmp = NULL;
    glm_source src;
    cox_smap sm;
    strata_status st;
    if (!f.csv && !ends_with(path, ".h5") && !ends_with(path, ".hdf5"))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: score output must end in .h5 or .csv", path);
    if (nh > 16)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "cox scores: at most 16 horizons (%zu given)", nh);
    model_cox_source(cohort, &src);
    STRATA_TRY(cox_score_bind(ctx, &m->fo, &src, unseen, &sm));
    chunk = n < chunk ? n + 1 : chunk;
    tmp = strata_tmp_path(ctx, path);
    lp = strata_alloc(ctx, chunk * sizeof *lp);
    risk = strata_alloc(ctx, (chunk * nh + 1) * sizeof *risk);
    col = strata_alloc(ctx, chunk * sizeof *col);
    id = strata_alloc(ctx, chunk * sizeof *id);
    st = tmp && lp && risk && col && id ? STRATA_OK : STRATA_ENOMEM;
    strata_h5_quiet();
    if (st == STRATA_OK && sfile_open(&f, tmp, n, idcol >= 0, horizons, nh, m, cohort))
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create score file", path);
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += chunk) {
        size_t k = n - r0 < chunk ? n - r0 : chunk;
        st = cox_score_rows(ctx, &m->fo, &src, &sm, r0, k, horizons, nh, lp, risk);
        if (st == STRATA_OK && idcol >= 0)
            st = strata_cohort_read_i64(ctx, cohort, (size_t)idcol, r0, k, id);
        if (st == STRATA_OK && sfile_write(&f, r0, k, idcol >= 0 ? id : NULL, lp, risk, nh, col))
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write scores", path);
    }
    if (sfile_close(&f) && st == STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot write score file", path);
    if (tmp && st == STRATA_OK)
        st = strata_publish(ctx, tmp, path, 0600);
    else if (tmp)
        remove(tmp);
    strata_free(ctx, tmp, 0);
    strata_free(ctx, lp, 0);
    strata_free(ctx, risk, 0);
    strata_free(ctx, col, 0);
    strata_free(ctx, id, 0);
    cox_smap_free(ctx, &sm);
    return st;
}
