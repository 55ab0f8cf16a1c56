/* engine/evaluate_write.c — writes an evaluation report as RFC 4180 CSV tables
 * and one JSON document (jansson) into an output directory, carrying the model
 * and cohort hashes. Invariant: each file is written to a temporary name and
 * renamed into place (strata_publish), so a reader never sees half a file;
 * numbers are printed with 17 significant digits, NaN as NA (CSV) / null (JSON). */
#include "evaluate_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- CSV ---------------------------------------------------------------- */

typedef struct csv_out {
    FILE *f;
    int first; /* next field opens a record */
} csv_out;

static void csv_sep(csv_out *c)
{
    if (!c->first)
        fputc(',', c->f);
    c->first = 0;
}

static void csv_str(csv_out *c, const char *s)
{
    csv_sep(c);
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', c->f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', c->f);
            fputc(*s, c->f);
        }
        fputc('"', c->f);
    } else {
        fputs(s, c->f);
    }
}

static void csv_num(csv_out *c, double x)
{
    csv_sep(c);
    if (isfinite(x))
        fprintf(c->f, "%.17g", x);
    else if (isnan(x))
        fputs("NA", c->f);
    else
        fputs(x > 0 ? "Inf" : "-Inf", c->f);
}

static void csv_end(csv_out *c)
{
    fputs("\r\n", c->f);
    c->first = 1;
}

static void csv_header(csv_out *c, const char *cols)
{
    char buf[1024];
    char *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", cols);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        csv_str(c, tok);
    csv_end(c);
}

typedef void (*table_row_fn)(csv_out *c, const char *by, const char *level,
                             const strata_eval_metrics *m);

static void row_summary(csv_out *c, const char *by, const char *level, const strata_eval_metrics *m)
{
    const double v[] = {(double)m->n_rows, m->n, m->observed, m->expected, m->n_events, m->c,
                        m->c_se, m->c_lo, m->c_hi, m->oe, m->oe_lo, m->oe_hi, m->citl,
                        m->citl_se, m->citl_lo, m->citl_hi, m->cal_a, m->cal_a_se, m->slope,
                        m->slope_se, m->slope_lo, m->slope_hi, m->brier, m->brier_scaled,
                        m->deviance, m->null_deviance, m->pseudo_r2, m->hl_chi2,
                        m->hl_df > 0 ? (double)m->hl_df : NAN, m->hl_p};
    csv_str(c, by);
    csv_str(c, level);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        csv_num(c, v[i]);
    csv_num(c, (m->flags & STRATA_EVAL_FLAG_SMALL) ? 1 : 0);
    csv_num(c, (m->flags & STRATA_EVAL_FLAG_OE_DIFFERS) ? 1 : 0);
    csv_num(c, (m->flags & STRATA_EVAL_FLAG_SLOPE_DIFFERS) ? 1 : 0);
    csv_num(c, (m->flags & STRATA_EVAL_FLAG_C_DIFFERS) ? 1 : 0);
    csv_num(c, (m->flags & STRATA_EVAL_FLAG_NOCONV) ? 1 : 0);
    csv_end(c);
}

static void row_bins(csv_out *c, const char *by, const char *level, const strata_eval_metrics *m)
{
    for (int j = 0; j < m->n_bins; j++) {
        const strata_eval_bin *b = &m->bins[j];
        csv_str(c, by);
        csv_str(c, level);
        csv_num(c, j + 1);
        csv_num(c, b->n);
        csv_num(c, b->observed);
        csv_num(c, b->expected);
        csv_num(c, b->p_min);
        csv_num(c, b->p_max);
        csv_end(c);
    }
}

static void row_yield(csv_out *c, const char *by, const char *level, const strata_eval_metrics *m)
{
    for (size_t j = 0; j < m->n_top; j++) {
        const strata_eval_yield *t = &m->top[j];
        csv_str(c, by);
        csv_str(c, level);
        csv_num(c, t->frac);
        csv_num(c, t->n_flagged);
        csv_num(c, t->observed);
        csv_num(c, t->sensitivity);
        csv_num(c, t->ppv);
        csv_num(c, t->nns);
        csv_num(c, t->p_cut);
        csv_end(c);
    }
}

static void row_nb(csv_out *c, const char *by, const char *level, const strata_eval_metrics *m)
{
    for (size_t j = 0; j < m->n_nb; j++) {
        csv_str(c, by);
        csv_str(c, level);
        csv_num(c, m->nb[j].threshold);
        csv_num(c, m->nb[j].nb_model);
        csv_num(c, m->nb[j].nb_all);
        csv_num(c, 0.0);
        csv_end(c);
    }
}

static void row_curve(csv_out *c, const char *by, const char *level, const strata_eval_metrics *m)
{
    for (size_t j = 0; j < m->n_curve; j++) {
        const strata_eval_curve_pt *p = &m->curve[j];
        csv_str(c, by);
        csv_str(c, level);
        csv_num(c, (double)(j + 1));
        csv_num(c, p->n);
        csv_num(c, p->lp_mean);
        csv_num(c, p->p_pred);
        csv_num(c, p->obs_bin);
        csv_num(c, p->obs_smooth);
        csv_end(c);
    }
}

static strata_status close_publish(strata_ctx *ctx, FILE *f, char *tmp, const char *path)
{
    int bad = ferror(f);
    strata_status st;
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: write failed", path);
    } else {
        st = strata_publish(ctx, tmp, path, 0644);
    }
    strata_free(ctx, tmp, 0);
    return st;
}

static strata_status open_tmp(strata_ctx *ctx, const char *path, char **tmp, FILE **f)
{
    *tmp = strata_tmp_path(ctx, path);
    if (!*tmp)
        return STRATA_ENOMEM;
    *f = fopen(*tmp, "wb");
    if (!*f) {
        int e = errno;
        strata_free(ctx, *tmp, 0);
        *tmp = NULL;
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    return STRATA_OK;
}

static strata_status write_table(strata_ctx *ctx, const char *dir, const char *name,
                                 const char *cols, table_row_fn row, const strata_eval_report *r)
{
    char path[4096];
    char *tmp;
    FILE *f;
    csv_out c;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    STRATA_TRY(open_tmp(ctx, path, &tmp, &f));
    c.f = f;
    c.first = 1;
    csv_header(&c, cols);
    row(&c, "overall", "all", &r->overall);
    for (size_t g = 0; g < r->n_groups; g++)
        row(&c, r->groups[g].by, r->groups[g].level, &r->groups[g].m);
    return close_publish(ctx, f, tmp, path);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static void jset(json_t *o, const char *k, json_t *v) { json_object_set_new(o, k, v); }

static json_t *json_metrics(const strata_eval_metrics *m)
{
    json_t *o = json_object(), *a;
    size_t j;
    jset(o, "n_rows", json_integer((json_int_t)m->n_rows));
    jset(o, "n", jnum(m->n));
    jset(o, "observed", jnum(m->observed));
    jset(o, "expected", jnum(m->expected));
    jset(o, "n_events", jnum(m->n_events));
    jset(o, "c", jnum(m->c));
    jset(o, "c_se", jnum(m->c_se));
    jset(o, "c_ci", json_pack("[o,o]", jnum(m->c_lo), jnum(m->c_hi)));
    jset(o, "oe", jnum(m->oe));
    jset(o, "oe_ci", json_pack("[o,o]", jnum(m->oe_lo), jnum(m->oe_hi)));
    jset(o, "citl", jnum(m->citl));
    jset(o, "citl_se", jnum(m->citl_se));
    jset(o, "citl_ci", json_pack("[o,o]", jnum(m->citl_lo), jnum(m->citl_hi)));
    jset(o, "cal_intercept", jnum(m->cal_a));
    jset(o, "cal_intercept_se", jnum(m->cal_a_se));
    jset(o, "slope", jnum(m->slope));
    jset(o, "slope_se", jnum(m->slope_se));
    jset(o, "slope_ci", json_pack("[o,o]", jnum(m->slope_lo), jnum(m->slope_hi)));
    jset(o, "brier", jnum(m->brier));
    jset(o, "brier_scaled", jnum(m->brier_scaled));
    jset(o, "deviance", jnum(m->deviance));
    jset(o, "null_deviance", jnum(m->null_deviance));
    jset(o, "pseudo_r2", jnum(m->pseudo_r2));
    jset(o, "hl_chi2", jnum(m->hl_chi2));
    jset(o, "hl_df", m->hl_df > 0 ? json_integer(m->hl_df) : json_null());
    jset(o, "hl_p", jnum(m->hl_p));
    a = json_array();
    if (m->flags & STRATA_EVAL_FLAG_SMALL)
        json_array_append_new(a, json_string("small"));
    if (m->flags & STRATA_EVAL_FLAG_OE_DIFFERS)
        json_array_append_new(a, json_string("oe_differs"));
    if (m->flags & STRATA_EVAL_FLAG_SLOPE_DIFFERS)
        json_array_append_new(a, json_string("slope_differs"));
    if (m->flags & STRATA_EVAL_FLAG_C_DIFFERS)
        json_array_append_new(a, json_string("c_differs"));
    if (m->flags & STRATA_EVAL_FLAG_NOCONV)
        json_array_append_new(a, json_string("noconv"));
    jset(o, "flags", a);
    a = json_array();
    for (j = 0; j < (size_t)m->n_bins; j++)
        json_array_append_new(a, json_pack("{s:o,s:o,s:o,s:o,s:o}", "n", jnum(m->bins[j].n),
                                           "observed", jnum(m->bins[j].observed), "expected",
                                           jnum(m->bins[j].expected), "p_min",
                                           jnum(m->bins[j].p_min), "p_max",
                                           jnum(m->bins[j].p_max)));
    jset(o, "risk_groups", a);
    a = json_array();
    for (j = 0; j < m->n_top; j++)
        json_array_append_new(
            a, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "top_frac", jnum(m->top[j].frac),
                         "n_flagged", jnum(m->top[j].n_flagged), "observed",
                         jnum(m->top[j].observed), "sensitivity", jnum(m->top[j].sensitivity),
                         "ppv", jnum(m->top[j].ppv), "nns", jnum(m->top[j].nns), "p_cut",
                         jnum(m->top[j].p_cut)));
    jset(o, "yield", a);
    a = json_array();
    for (j = 0; j < m->n_nb; j++)
        json_array_append_new(a, json_pack("{s:o,s:o,s:o}", "threshold",
                                           jnum(m->nb[j].threshold), "nb_model",
                                           jnum(m->nb[j].nb_model), "nb_all",
                                           jnum(m->nb[j].nb_all)));
    jset(o, "net_benefit", a);
    a = json_array();
    for (j = 0; j < m->n_curve; j++)
        json_array_append_new(a, json_pack("{s:o,s:o,s:o,s:o,s:o}", "n", jnum(m->curve[j].n),
                                           "lp_mean", jnum(m->curve[j].lp_mean), "p_pred",
                                           jnum(m->curve[j].p_pred), "obs_bin",
                                           jnum(m->curve[j].obs_bin), "obs_smooth",
                                           jnum(m->curve[j].obs_smooth)));
    jset(o, "calibration_curve", a);
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
                                const strata_bootstrap_result *boot,
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
    jset(p, "family", json_string(strata_eval_family_name(par->family)));
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
    jset(root, "params", p);
    jset(root, "overall", json_metrics(&r->overall));
    for (j = 0; j < r->n_groups; j++) {
        json_t *g = json_metrics(&r->groups[j].m);
        jset(g, "by", json_string(r->groups[j].by));
        jset(g, "level", json_string(r->groups[j].level));
        json_array_append_new(groups, g);
    }
    jset(root, "groups", groups);
    if (boot && boot->B > 0)
        jset(root, "bootstrap",
             json_pack("{s:i,s:o,s:o,s:o}", "B", boot->B, "apparent", json_core(&boot->apparent),
                       "optimism", json_core(&boot->optimism), "corrected",
                       json_core(&boot->corrected)));
    text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: cannot format JSON", path);
    st = open_tmp(ctx, path, &tmp, &f);
    if (st == STRATA_OK) {
        fputs(text, f);
        fputc('\n', f);
        st = close_publish(ctx, f, tmp, path);
    }
    free(text); /* allocated by jansson */
    return st;
}

static strata_status write_bootstrap(strata_ctx *ctx, const char *dir,
                                     const strata_bootstrap_result *b)
{
    char path[4096];
    char *tmp;
    FILE *f;
    csv_out c;
    const char *names[5] = {"c", "slope", "intercept", "citl", "brier"};
    const strata_eval_core *rows[3] = {&b->apparent, &b->optimism, &b->corrected};
    snprintf(path, sizeof path, "%s/bootstrap.csv", dir);
    STRATA_TRY(open_tmp(ctx, path, &tmp, &f));
    c.f = f;
    c.first = 1;
    csv_header(&c, "measure,apparent,optimism,corrected,B");
    for (int k = 0; k < 5; k++) {
        csv_str(&c, names[k]);
        for (int j = 0; j < 3; j++) {
            const strata_eval_core *x = rows[j];
            const double v[5] = {x->c, x->slope, x->intercept, x->citl, x->brier};
            csv_num(&c, v[k]);
        }
        csv_num(&c, b->B);
        csv_end(&c);
    }
    return close_publish(ctx, f, tmp, path);
}

strata_status strata_eval_write(strata_ctx *ctx, const strata_eval_report *r,
                                const strata_bootstrap_result *boot,
                                const strata_eval_provenance *prov, const char *outdir)
{
    struct stat sb;
    if (!r || !outdir)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "evaluate: report or output directory missing");
    if (stat(outdir, &sb) != 0) {
        if (mkdir(outdir, 0755) != 0)
            return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot create directory: %s", outdir,
                               strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: exists and is not a directory", outdir);
    }
    STRATA_TRY(write_table(ctx, outdir, "summary.csv",
                           "by,level,n_rows,n,observed,expected,n_events,c,c_se,c_lo,c_hi,oe,"
                           "oe_lo,oe_hi,citl,citl_se,citl_lo,citl_hi,cal_intercept,"
                           "cal_intercept_se,slope,slope_se,slope_lo,slope_hi,brier,"
                           "brier_scaled,deviance,null_deviance,pseudo_r2,hl_chi2,hl_df,hl_p,"
                           "small,oe_differs,slope_differs,c_differs,noconv",
                           row_summary, r));
    STRATA_TRY(write_table(ctx, outdir, "risk_groups.csv",
                           "by,level,group,n,observed,expected,p_min,p_max", row_bins, r));
    STRATA_TRY(write_table(ctx, outdir, "yield.csv",
                           "by,level,top_frac,n_flagged,observed,sensitivity,ppv,nns,p_cut",
                           row_yield, r));
    STRATA_TRY(write_table(ctx, outdir, "net_benefit.csv",
                           "by,level,threshold,nb_model,nb_all,nb_none", row_nb, r));
    STRATA_TRY(write_table(ctx, outdir, "calibration_curve.csv",
                           "by,level,point,n,lp_mean,p_pred,obs_bin,obs_smooth", row_curve, r));
    if (boot && boot->B > 0)
        STRATA_TRY(write_bootstrap(ctx, outdir, boot));
    return write_json(ctx, outdir, r, boot, prov);
}
