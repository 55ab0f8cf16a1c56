/* engine/evaluate/evaluate_write.c — writes an evaluation report as RFC 4180 CSV tables
 * (strata_table_write_csv of the disclosure-controlled tables of
 * evaluate_sdc.c) and one JSON document (jansson) carrying the same published
 * numbers and the model and cohort hashes. Invariant: each file is written to a
 * temporary name and renamed into place, so a reader never sees half a file;
 * hidden cells are "*" (CSV) / null (JSON), unavailable ones empty / null. */
#include "evaluate_internal.h"
#include "outfile.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- JSON --------------------------------------------------------------- */

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static void jset(json_t *o, const char *k, json_t *v) { json_object_set_new(o, k, v); }

/* A cell of a written table: null when hidden or unavailable. */
static json_t *jcell(const strata_table *t, const char *col, size_t row)
{
    double v = strata_table_value(t, strata_table_find(t, col), row);
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jcell_int(const strata_table *t, const char *col, size_t row)
{
    double v = strata_table_value(t, strata_table_find(t, col), row);
    return isfinite(v) ? json_integer((json_int_t)v) : json_null();
}

static json_t *jpair(const strata_table *t, const char *lo, const char *hi, size_t row)
{
    return json_pack("[o,o]", jcell(t, lo, row), jcell(t, hi, row));
}

/* Rows of population q of one table as an array of objects with the given keys. */
static json_t *jrows(const ev_out *o, int kind, size_t q, const char *const *keys)
{
    json_t *a = json_array();
    for (size_t i = o->start[kind][q]; i < o->start[kind][q + 1]; i++) {
        json_t *e = json_object();
        for (const char *const *k = keys; *k; k++)
            jset(e, *k, jcell(o->t[kind], *k, i));
        json_array_append_new(a, e);
    }
    return a;
}

/* The metrics of population q exactly as written in the (disclosed) tables. */
static json_t *json_metrics(const ev_out *out, size_t q, unsigned flags)
{
    static const char *const plain[] = {"n", "observed", "expected", "n_events", "c", "c_se",
                                        NULL};
    static const char *const bins[] = {"n", "observed", "expected", "p_min", "p_max", NULL};
    static const char *const yield[] = {"top_frac", "n_flagged", "observed", "sensitivity",
                                        "ppv", "nns", "p_cut", NULL};
    static const char *const nb[] = {"threshold", "nb_model", "nb_all", NULL};
    static const char *const curve[] = {"n", "lp_mean", "p_pred", "obs_bin", "obs_smooth",
                                        NULL};
    static const char *const tail[] = {"brier", "brier_scaled", "deviance", "null_deviance",
                                       "pseudo_r2", "hl_chi2", NULL};
    const strata_table *s = out->t[EV_SUMMARY];
    size_t i = out->start[EV_SUMMARY][q];
    json_t *o = json_object(), *a;
    jset(o, "n_rows", jcell_int(s, "n_rows", i));
    for (const char *const *k = plain; *k; k++)
        jset(o, *k, jcell(s, *k, i));
    jset(o, "c_ci", jpair(s, "c_lo", "c_hi", i));
    jset(o, "oe", jcell(s, "oe", i));
    jset(o, "oe_ci", jpair(s, "oe_lo", "oe_hi", i));
    jset(o, "citl", jcell(s, "citl", i));
    jset(o, "citl_se", jcell(s, "citl_se", i));
    jset(o, "citl_ci", jpair(s, "citl_lo", "citl_hi", i));
    jset(o, "cal_intercept", jcell(s, "cal_intercept", i));
    jset(o, "cal_intercept_se", jcell(s, "cal_intercept_se", i));
    jset(o, "slope", jcell(s, "slope", i));
    jset(o, "slope_se", jcell(s, "slope_se", i));
    jset(o, "slope_ci", jpair(s, "slope_lo", "slope_hi", i));
    for (const char *const *k = tail; *k; k++)
        jset(o, *k, jcell(s, *k, i));
    jset(o, "hl_df", jcell_int(s, "hl_df", i));
    jset(o, "hl_p", jcell(s, "hl_p", i));
    a = json_array();
    if (flags & STRATA_EVAL_FLAG_SMALL)
        json_array_append_new(a, json_string("small"));
    if (flags & STRATA_EVAL_FLAG_OE_DIFFERS)
        json_array_append_new(a, json_string("oe_differs"));
    if (flags & STRATA_EVAL_FLAG_SLOPE_DIFFERS)
        json_array_append_new(a, json_string("slope_differs"));
    if (flags & STRATA_EVAL_FLAG_C_DIFFERS)
        json_array_append_new(a, json_string("c_differs"));
    if (flags & STRATA_EVAL_FLAG_NOCONV)
        json_array_append_new(a, json_string("noconv"));
    jset(o, "flags", a);
    jset(o, "risk_groups", jrows(out, EV_BINS, q, bins));
    jset(o, "yield", jrows(out, EV_YIELD, q, yield));
    jset(o, "net_benefit", jrows(out, EV_NB, q, nb));
    jset(o, "calibration_curve", jrows(out, EV_CURVE, q, curve));
    return o;
}

static json_t *json_core(const strata_eval_core *c)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "c", jnum(c->c), "slope", jnum(c->slope),
                     "intercept", jnum(c->intercept), "citl", jnum(c->citl), "brier",
                     jnum(c->brier));
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static strata_status write_json(strata_ctx *ctx, const char *dir, const strata_eval_report *r,
                                const ev_out *out, const strata_bootstrap_result *boot,
                                const strata_eval_provenance *prov)
{
    const strata_eval_params *par = &r->params;
    json_t *root = json_object(), *p = json_object(), *groups = json_array(), *a;
    char path[4096];
    char *tmp, *text;
    FILE *f;
    strata_status st;
    size_t j;
    snprintf(path, sizeof path, "%s/evaluate.json", dir);
    jset(root, "schema", json_string("strata-evaluate"));
    jset(root, "schema_version", json_integer(1));
    jset(root, "strata_version", json_string(strata_version()));
    jset(root, "model_hash", jstr_or_null(prov ? prov->model_hash : NULL));
    jset(root, "cohort_hash", jstr_or_null(prov ? prov->cohort_hash : NULL));
    jset(root, "model", jstr_or_null(prov ? prov->model_name : NULL));
    jset(root, "cohort", jstr_or_null(prov ? prov->cohort_path : NULL));
    jset(p, "family", json_string(strata_family_name(par->family)));
    jset(p, "conf_level", jnum(par->conf_level));
    jset(p, "n_bins", json_integer(par->n_bins));
    a = json_array();
    for (j = 0; j < par->n_top; j++)
        json_array_append_new(a, jnum(par->top_frac[j]));
    jset(p, "top_frac", a);
    jset(p, "nb_grid", json_pack("[o,o,o]", jnum(par->nb_min), jnum(par->nb_max),
                                 jnum(par->nb_step)));
    jset(p, "curve_bins", json_integer(par->curve_bins));
    jset(p, "curve_bw", jnum(par->curve_bw));
    jset(p, "min_level_n", jnum(par->min_level_n));
    jset(p, "min_level_events", jnum(par->min_level_events));
    jset(p, "disclosure",
         par->disclosure ? json_pack("{s:o,s:o}", "suppress_max", jnum(par->sdc_suppress_max),
                                     "round_to", jnum(par->sdc_round_to))
                         : json_false());
    jset(root, "params", p);
    jset(root, "overall", json_metrics(out, 0, r->overall.flags));
    for (j = 0; j < r->n_groups; j++) {
        json_t *g = json_metrics(out, j + 1, r->groups[j].m.flags);
        jset(g, "by", json_string(r->groups[j].by));
        jset(g, "level", json_string(r->groups[j].level));
        json_array_append_new(groups, g);
    }
    jset(root, "groups", groups);
    if (boot && boot->B > 0)
        jset(root, "bootstrap",
             json_pack("{s:i,s:I,s:o,s:o,s:o}", "B", boot->B, "seed", (json_int_t)boot->seed,
                       "apparent", json_core(&boot->apparent),
                       "optimism", json_core(&boot->optimism), "corrected",
                       json_core(&boot->corrected)));
    text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot format JSON", path);
    if ((f = strata_out_open(ctx, path, 0644, &tmp)) != NULL) { /* ENOMEM, EIO, or an input */
        fputs(text, f);
        fputc('\n', f);
        st = strata_out_publish(ctx, f, tmp, path, 0644);
    } else {
        st = strata_ctx_errcode(ctx);
    }
    free(text); /* allocated by jansson */
    return st;
}

/* Optimism-corrected measures: C, slope, intercepts and Brier of the whole
 * cohort (no counts: exempt from suppression; B is a setting). */
static strata_status write_bootstrap(strata_ctx *ctx, const char *dir,
                                     const strata_bootstrap_result *b)
{
    static const char *const names[5] = {"c", "slope", "intercept", "citl", "brier"};
    static const char *const cols[3] = {"apparent", "optimism", "corrected"};
    const strata_eval_core *rows[3] = {&b->apparent, &b->optimism, &b->corrected};
    char path[4096];
    strata_table *t = NULL;
    strata_sdc_params sp;
    strata_status st;
    int j;
    snprintf(path, sizeof path, "%s/bootstrap.csv", dir);
    strata_sdc_params_init(&sp);
    if ((st = strata_table_new(ctx, "bootstrap", 5, &t)) != STRATA_OK)
        return st;
    st = strata_table_add(ctx, t, "measure", STRATA_COL_KEY, 0, -1, -1, &j);
    for (int c = 0; st == STRATA_OK && c < 3; c++)
        st = strata_table_add(ctx, t, cols[c], STRATA_COL_RATIO, 10, -1, -1, &j);
    if (st == STRATA_OK)
        st = strata_table_add(ctx, t, "B", STRATA_COL_FLAG, 0, -1, -1, &j);
    for (int k = 0; st == STRATA_OK && k < 5; k++) {
        st = strata_table_set_key(ctx, t, 0, (size_t)k, names[k]);
        for (int c = 0; st == STRATA_OK && c < 3; c++) {
            const strata_eval_core *x = rows[c];
            const double v[5] = {x->c, x->slope, x->intercept, x->citl, x->brier};
            st = strata_table_set(ctx, t, 1 + c, (size_t)k, v[k]);
        }
        if (st == STRATA_OK)
            st = strata_table_set(ctx, t, 4, (size_t)k, b->B);
    }
    if (st == STRATA_OK)
        st = strata_disclose(ctx, &sp, t);
    if (st == STRATA_OK)
        st = strata_table_write_csv(ctx, t, path);
    strata_table_free(ctx, t);
    return st;
}

strata_status strata_eval_write(strata_ctx *ctx, const strata_eval_report *r,
                                const strata_bootstrap_result *boot,
                                const strata_eval_provenance *prov, const char *outdir)
{
    struct stat sb;
    ev_out out;
    strata_status st = STRATA_OK;
    static const char *const files[EV_NKIND] = {"summary.csv", "risk_groups.csv", "yield.csv",
                                                "net_benefit.csv", "calibration_curve.csv"};
    if (!r || !outdir)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: report or output directory missing");
    if (stat(outdir, &sb) != 0) {
        if (mkdir(outdir, 0755) != 0)
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create directory: %s", outdir,
                               strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: exists and is not a directory", outdir);
    }
    STRATA_TRY(strata_eval_params_check(ctx, &r->params));
    STRATA_TRY(ev_out_build(ctx, r, &out));
    for (int k = 0; st == STRATA_OK && k < EV_NKIND; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", outdir, files[k]);
        st = strata_table_write_csv(ctx, out.t[k], path);
    }
    if (st == STRATA_OK && boot && boot->B > 0)
        st = write_bootstrap(ctx, outdir, boot);
    if (st == STRATA_OK)
        st = write_json(ctx, outdir, r, &out, boot, prov);
    ev_out_free(ctx, &out);
    return st;
}
