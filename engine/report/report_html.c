/* engine/report/report_html.c — one self-contained HTML report: summary table, risk
 * pyramid per group, O/E funnel plot, deprivation gradient with SII,
 * calibration plot, fairness table and model card, as inline SVG and CSS
 * (no scripts, no network). Invariant: every number drawn from a table is
 * taken from a disclosed table through cell_text(), so hidden cells print
 * as "*" and counts carry class="count" for the disclosure test. */
#include "internal.h"
#include "outfile.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Text of one disclosed cell: "*" hidden, "" not available, else by kind. */
static void cell_text(const strata_table *t, int j, size_t i, char *buf, size_t n)
{
    const strata_table_col *c = &t->cols[j];
    buf[0] = 0;
    if (c->kind == STRATA_COL_KEY)
        snprintf(buf, n, "%s", c->s[i] ? c->s[i] : "");
    else if (c->hidden[i])
        snprintf(buf, n, "*");
    else if (isnan(c->v[i]))
        ;
    else if (c->kind == STRATA_COL_COUNT || c->kind == STRATA_COL_FLAG)
        snprintf(buf, n, "%.0f", c->v[i]);
    else
        snprintf(buf, n, "%.*f", c->decimals, c->v[i]);
}

static const char *kind_class(strata_col_kind k)
{
    static const char *const cls[] = {"key", "count", "mean", "pct", "ratio", "flag"};
    return cls[k];
}

/* One cell as <td class=kind>; returns nothing. */
static void td(FILE *f, const strata_table *t, int j, size_t i)
{
    char buf[256];
    cell_text(t, j, i, buf, sizeof buf);
    fprintf(f, "<td class=\"%s\">", kind_class(t->cols[j].kind));
    esc(f, buf);
    fputs("</td>", f);
}

/* Whole table, or the listed columns (names NULL-terminated) when cols != NULL. */
static void html_table(FILE *f, const strata_table *t, const char *const *cols)
{
    int js[256], nj = 0;
    if (cols) {
        for (; *cols && nj < 256; cols++)
            if ((js[nj] = strata_table_find(t, *cols)) >= 0)
                nj++;
    } else {
        for (size_t j = 0; j < t->n_cols && nj < 256; j++)
            js[nj++] = (int)j;
    }
    fputs("<table><tr>", f);
    for (int k = 0; k < nj; k++) {
        fputs("<th>", f);
        esc(f, t->cols[js[k]].name);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        fputs("<tr>", f);
        for (int k = 0; k < nj; k++)
            td(f, t, js[k], i);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static double val(const strata_table *t, const char *name, size_t i)
{
    int j = strata_table_find(t, name);
    return j < 0 || t->cols[j].hidden[i] ? NAN : t->cols[j].v[i];
}

/* Risk pyramid: tiers as centred bars, width proportional to sqrt(% of list)
 * so the 0.5% apex stays visible; labels are the disclosed counts and %. */
static void svg_pyramid(FILE *f, const strata_table *t, size_t i)
{
    const double W = 220, H = 22;
    int K = 0;
    char nm[32], buf[64], pbuf[64];
    while (K < STRATA_MAX_TIERS && (snprintf(nm, sizeof nm, "n_tier%d", K + 1),
                                    strata_table_find(t, nm) >= 0))
        K++;
    fprintf(f, "<figure class=\"pyr\"><svg class=\"pyramid\" width=\"%.0f\" height=\"%.0f\" "
               "role=\"img\">", W + 150, H * K + 26);
    fputs("<text x=\"2\" y=\"14\" class=\"title\">", f);
    esc(f, t->cols[0].s[i]);
    fputs("</text>", f);
    for (int k = 0; k < K; k++) {
        double pct, w;
        int jn, jp;
        snprintf(nm, sizeof nm, "n_tier%d", k + 1);
        jn = strata_table_find(t, nm);
        snprintf(nm, sizeof nm, "pct_tier%d", k + 1);
        jp = strata_table_find(t, nm);
        pct = jp >= 0 && !t->cols[jp].hidden[i] ? t->cols[jp].v[i] : NAN;
        w = isnan(pct) ? 0 : fmax(2, W * sqrt(pct / 100.0));
        cell_text(t, jn, i, buf, sizeof buf);
        if (jp >= 0)
            cell_text(t, jp, i, pbuf, sizeof pbuf);
        else
            pbuf[0] = 0;
        fprintf(f, "<rect class=\"tier%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                k + 1, (W - w) / 2, 20 + k * H, w, H - 3);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\">tier %d: <tspan class=\"count\">%s</tspan> "
                   "(<tspan class=\"pct\">%s</tspan>%%)</text>",
                W + 6, 34 + k * H, k + 1, buf, pbuf);
    }
    fputs("</svg></figure>\n", f);
}

typedef struct axis {
    double x0, x1, y0, y1; /* data ranges */
    double L, T, W, H;     /* plot box in pixels */
} axis;

static double px(const axis *a, double x)
{
    return a->L + (x - a->x0) / (a->x1 - a->x0) * a->W;
}

/* x position on a log axis (funnel plot: expected events > 0). */
static double pxl(const axis *a, double x)
{
    return a->L + (log(x) - log(a->x0)) / (log(a->x1) - log(a->x0)) * a->W;
}

static double py(const axis *a, double y)
{
    return a->T + a->H - (y - a->y0) / (a->y1 - a->y0) * a->H;
}

static void svg_frame(FILE *f, const axis *a, const char *cls, const char *xlab, const char *ylab)
{
    fprintf(f, "<svg class=\"%s\" width=\"%.0f\" height=\"%.0f\" role=\"img\">", cls,
            a->L + a->W + 20, a->T + a->H + 40);
    fprintf(f, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>",
            a->L, a->T, a->W, a->H);
    fprintf(f, "<text class=\"axis\" x=\"%.0f\" y=\"%.0f\">%s</text>", a->L + a->W / 2 - 40,
            a->T + a->H + 32, xlab);
    fprintf(f, "<text class=\"axis\" x=\"4\" y=\"%.0f\">%s</text>", a->T - 6, ylab);
    fprintf(f, "<text class=\"tick\" x=\"%.0f\" y=\"%.0f\">%.3g</text>", a->L, a->T + a->H + 14,
            a->x0);
    fprintf(f, "<text class=\"tick\" x=\"%.0f\" y=\"%.0f\">%.3g</text>", a->L + a->W - 20,
            a->T + a->H + 14, a->x1);
    fprintf(f, "<text class=\"tick\" x=\"2\" y=\"%.0f\">%.3g</text>", a->T + a->H, a->y0);
    fprintf(f, "<text class=\"tick\" x=\"2\" y=\"%.0f\">%.3g</text>", a->T + 10, a->y1);
}

/* Funnel plot of O/E against expected events (log x), limits from f. */
static void svg_funnel(FILE *out, const strata_table *t, const strata_funnel *fn)
{
    axis a = {1e300, 0, 0, 2, 60, 20, 480, 300};
    size_t shown = 0, omitted = 0;
    const double levels[2] = {0.95, 0.998};
    for (size_t i = 0; i + 1 < t->n_rows; i++) {
        double e = val(t, "expected_list", i), r = val(t, "oe_list", i);
        if (!(e > 0) || isnan(r))
            continue;
        a.x0 = fmin(a.x0, e);
        a.x1 = fmax(a.x1, e);
        a.y1 = fmax(a.y1, r * 1.1);
    }
    if (!(a.x1 > 0))
        a.x0 = 1, a.x1 = 100;
    a.x0 = fmax(a.x0 / 2, 0.5);
    a.x1 *= 2;
    svg_frame(out, &a, "funnel", "expected events (log scale)", "O/E");
    fprintf(out, "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", a.L,
            py(&a, 1), a.L + a.W, py(&a, 1));
    for (int l = 0; l < 2; l++) {
        for (int side = 0; side < 2; side++) {
            fprintf(out, "<polyline class=\"limit%s\" points=\"", l ? "998" : "95");
            for (int s = 0; s <= 60; s++) {
                double e = exp(log(a.x0) + (log(a.x1) - log(a.x0)) * s / 60.0), lo, hi, y;
                strata_funnel_limits(fn, e, levels[l], &lo, &hi);
                y = fmin(fmax(side ? hi : lo, a.y0), a.y1);
                fprintf(out, "%.1f,%.1f ", pxl(&a, e), py(&a, y));
            }
            fputs("\"/>", out);
        }
    }
    for (size_t i = 0; i + 1 < t->n_rows; i++) {
        double e = val(t, "expected_list", i), r = val(t, "oe_list", i);
        double flag = val(t, "funnel_flag", i);
        if (!(e > 0) || isnan(r)) {
            omitted++;
            continue;
        }
        fprintf(out, "<circle class=\"unit%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>", 
                flag > 0 ? " high" : flag < 0 ? " low" : "", pxl(&a, e), py(&a, fmin(r, a.y1)));
        esc(out, t->cols[0].s[i]);
        fputs("</title></circle>", out);
        shown++;
    }
    fputs("</svg>\n", out);
    fprintf(out, "<p class=\"note\">%zu groups plotted; %zu not shown (expected or O/E "
                 "withheld by disclosure control). Limits: %s.</p>\n",
            shown, omitted,
            fn && fn->tau2 > 0 ? "95% and 99.8%, overdispersed (DerSimonian-Laird tau2)"
                               : "95% and 99.8%, exact Poisson");
}

/* Mean risk by IMD quintile (ALL row) as bars at cumulative-share midpoints,
 * with the SII regression line from the SII table's ALL row. */
static void svg_gradient(FILE *f, const strata_table *q, const strata_table *sii)
{
    axis a = {0, 1, 0, 0, 60, 20, 480, 260};
    size_t r = q->n_rows - 1, rs;
    double pop[5], tot = 0, cum = 0, m[5];
    char nm[32];
    for (int k = 0; k < 5; k++) {
        snprintf(nm, sizeof nm, "n_imdq%d", k + 1);
        pop[k] = val(q, nm, r);
        snprintf(nm, sizeof nm, "mean_risk_imdq%d", k + 1);
        m[k] = val(q, nm, r);
        tot += isnan(pop[k]) ? 0 : pop[k];
        if (!isnan(m[k]))
            a.y1 = fmax(a.y1, m[k] * 1.2);
    }
    if (!(a.y1 > 0))
        a.y1 = 1;
    svg_frame(f, &a, "gradient", "cumulative share, most deprived (left) to least", "mean risk");
    for (int k = 0; k < 5; k++) {
        double w = tot > 0 && !isnan(pop[k]) ? pop[k] / tot : 0.2;
        char buf[64];
        if (!isnan(m[k]))
            fprintf(f, "<rect class=\"quintile\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"/>",
                    px(&a, cum) + 1, py(&a, m[k]), w * a.W - 2, a.T + a.H - py(&a, m[k]));
        snprintf(nm, sizeof nm, "mean_risk_imdq%d", k + 1);
        cell_text(q, strata_table_find(q, nm), r, buf, sizeof buf);
        fprintf(f, "<text class=\"mean\" x=\"%.1f\" y=\"%.1f\">Q%d %s</text>", px(&a, cum) + 4,
                a.T + 14, k + 1, buf);
        cum += w;
    }
    if (sii && (rs = sii->n_rows - 1, !isnan(val(sii, "sii", rs)))) {
        double s = val(sii, "sii", rs), ri = val(sii, "rii", rs), b0 = s / (ri - 1);
        char b1[64], b2[64], b3[64];
        if (isfinite(b0))
            fprintf(f, "<line class=\"sii\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                    px(&a, 0), py(&a, b0), px(&a, 1), py(&a, b0 + s));
        cell_text(sii, strata_table_find(sii, "sii"), rs, b1, sizeof b1);
        cell_text(sii, strata_table_find(sii, "sii_lo"), rs, b2, sizeof b2);
        cell_text(sii, strata_table_find(sii, "sii_hi"), rs, b3, sizeof b3);
        fprintf(f, "<text class=\"ratio\" x=\"%.0f\" y=\"%.0f\">SII %s (95%% CI %s to %s)</text>",
                a.L + 8, a.T + a.H - 8, b1, b2, b3);
    }
    fputs("</svg>\n", f);
}

static void svg_calibration(FILE *f, size_t n, const double *pred, const double *obs)
{
    axis a = {0, 0, 0, 0, 60, 20, 300, 300};
    for (size_t i = 0; i < n; i++)
        a.x1 = fmax(a.x1, fmax(pred[i], obs[i]));
    a.x1 = a.y1 = a.x1 > 0 ? a.x1 * 1.05 : 1;
    svg_frame(f, &a, "calibration", "mean predicted risk", "observed");
    fprintf(f, "<line class=\"ideal\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
            px(&a, 0), py(&a, 0), px(&a, a.x1), py(&a, a.y1));
    fputs("<polyline class=\"calib\" points=\"", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", px(&a, pred[i]), py(&a, obs[i]));
    fputs("\"/>", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "<circle class=\"calib\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", px(&a, pred[i]),
                py(&a, obs[i]));
    fputs("</svg>\n", f);
}

static const char *const css =
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}"
    "td.count,td.mean,td.pct,td.ratio,td.flag{text-align:right}.frame{fill:none;stroke:#999}"
    ".tier1{fill:#b2182b}.tier2{fill:#ef8a62}.tier3{fill:#fddbc7}.tier4{fill:#d1e5f0}"
    ".tier5,.tier6,.tier7,.tier8,.tier9{fill:#92c5de}.limit95{fill:none;stroke:#2166ac;"
    "stroke-dasharray:4 3}.limit998{fill:none;stroke:#b2182b}.target{stroke:#555}"
    "circle.unit{fill:#4d4d4d}circle.high{fill:#b2182b}circle.low{fill:#2166ac}"
    ".quintile{fill:#92c5de}.sii{stroke:#b2182b;stroke-width:2}.ideal{stroke:#999;"
    "stroke-dasharray:4 3}polyline.calib{fill:none;stroke:#2166ac}circle.calib{fill:#2166ac}"
    "text{font-size:11px}.title{font-weight:bold}figure.pyr{display:inline-block;margin:4px}"
    ".note{font-size:12px;color:#555}";

static strata_status check_disclosed(strata_ctx *ctx, const strata_table *t, const char *path)
{
    if (t && !t->disclosed && !t->patient_level)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s has not been through disclosure control", path, t->name);
    if (t && t->patient_level)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s is patient-level and cannot go into the report", path,
                           t->name);
    return STRATA_OK;
}

strata_status strata_report_html(strata_ctx *ctx, const strata_report_input *in, const char *path)
{
    static const char *const sum_cols[] = {
        "group", "n_list", "mean_risk_list", "expected_list", "n_observed_list", "oe_list",
        "oe_lo_list", "oe_hi_list", "funnel_flag", "need_index", "fair_share", "n_tier1",
        "pct_tier1", "n_high_risk", "pct_high_risk_core20", NULL};
    char *tmp;
    FILE *f;
    if (!in->summary)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: the report needs the summary table", path);
    STRATA_TRY(check_disclosed(ctx, in->summary, path));
    STRATA_TRY(check_disclosed(ctx, in->inequality, path));
    STRATA_TRY(check_disclosed(ctx, in->sii, path));
    STRATA_TRY(check_disclosed(ctx, in->fairness, path));
    f = strata_out_open(ctx, path, 0644u, &tmp);
    if (!f)
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    esc(f, in->title ? in->title : "strata report");
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>", css);
    esc(f, in->title ? in->title : "strata report");
    fputs("</h1>\n<p class=\"note\">All counts are disclosure-controlled: 1-7 suppressed "
          "(*), others rounded to the nearest 5; standardised ratios and intervals are exempt. "
          "Methods: docs/stratify.md.</p>\n<h2>Summary</h2>\n", f);
    html_table(f, in->summary, sum_cols);
    fputs("<h2>Risk pyramid per group</h2>\n", f);
    for (size_t i = 0; i < in->summary->n_rows; i++)
        svg_pyramid(f, in->summary, i);
    if (strata_table_find(in->summary, "oe_list") >= 0) {
        fputs("<h2>Funnel plot of O/E</h2>\n", f);
        svg_funnel(f, in->summary, in->funnel);
    }
    if (in->inequality) {
        fputs("<h2>Deprivation gradient</h2>\n", f);
        svg_gradient(f, in->inequality, in->sii);
    }
    if (in->sii) {
        fputs("<h2>Slope and relative index of inequality</h2>\n", f);
        html_table(f, in->sii, NULL);
    }
    if (in->n_calib) {
        fputs("<h2>Calibration</h2>\n", f);
        svg_calibration(f, in->n_calib, in->calib_pred, in->calib_obs);
    }
    if (in->fairness) {
        fputs("<h2>Subgroup fairness</h2>\n", f);
        html_table(f, in->fairness, NULL);
    }
    if (in->n_card) {
        fputs("<h2>Model card</h2>\n<table class=\"card\">", f);
        for (size_t k = 0; k < in->n_card; k++) {
            fputs("<tr><th>", f);
            esc(f, in->card_keys[k]);
            fputs("</th><td class=\"metric\">", f);
            esc(f, in->card_values[k]);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</body></html>\n", f);
    return strata_out_publish(ctx, f, tmp, path, 0644u);
}
