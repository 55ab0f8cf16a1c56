/* engine/report/report_html.c — one self-contained HTML report for a PCN
 * clinical director and an ICB analyst: what the run found in plain English
 * first, then the PCN index (names with codes), risk tiers, the O/E funnel
 * with outliers named, the deprivation gradient with SII/RII, calibration,
 * fairness, the model card and the disclosure rules; each chart titled, with
 * labelled axes and a "how to read this" paragraph. Inline SVG and CSS only
 * (no scripts, no network); Okabe-Ito colours (safe for colour blindness);
 * prints to A4; scales to 1,299 PCNs (an index table instead of a pyramid
 * each). Invariant: every number drawn from a table is taken from a
 * disclosed table through cell_text(), so hidden cells print as "*" and
 * counts carry class="count" for the disclosure test. */
#include "internal.h"
#include "outfile.h"
#include "report_internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-PCN pyramids are drawn up to this many groups; beyond it the PCN index
 * table carries the tiers (an England run has 1,299 PCNs). */
#define MAX_PYRAMIDS 24

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
    strata_col_kind k = strata_table_col_kind(t, j);
    double v = strata_table_value(t, j, i);
    int d = strata_table_col_decimals(t, j);
    buf[0] = 0;
    if (j < 0)
        return;
    if (k == STRATA_COL_KEY)
        snprintf(buf, n, "%s", strata_table_key(t, j, i) ? strata_table_key(t, j, i) : "");
    else if (strata_table_hidden(t, j, i))
        snprintf(buf, n, "*");
    else if (isnan(v))
        ;
    else if (strata_table_col_is_count(t, j) || k == STRATA_COL_FLAG ||
             (k == STRATA_COL_TOTAL && v == floor(v)))
        snprintf(buf, n, "%.0f", v);
    else if (d < 0)
        snprintf(buf, n, "%.*g", -d, v);
    else
        snprintf(buf, n, "%.*f", d, v);
}

static const char *kind_class(strata_col_kind k)
{
    static const char *const cls[] = {"key",   "count", "mean",    "pct",
                                      "ratio", "flag",  "total",   "ratio", "ratio"};
    return cls[(int)k >= 0 && (int)k <= (int)STRATA_COL_INTERNAL ? (int)k : 0];
}

/* One cell as <td class=kind>; returns nothing. */
static void td(FILE *f, const strata_table *t, int j, size_t i)
{
    char buf[256];
    cell_text(t, j, i, buf, sizeof buf);
    fprintf(f, "<td class=\"%s\">",
            strata_table_col_is_count(t, j) ? "count" : kind_class(strata_table_col_kind(t, j)));
    esc(f, buf);
    fputs("</td>", f);
}

/* Column headers a reader understands ("oe_lo_list" -> "O/E lower 95%"). */
static const char *col_label(const char *name)
{
    static const char *const L[][2] = {
        {"group", "Area"}, {"n_list", "List size"}, {"mean_risk_list", "Mean risk"},
        {"expected_list", "Expected admissions"}, {"n_observed_list", "Observed admissions"},
        {"oe_list", "Observed / expected"}, {"oe_lo_list", "O/E lower 95%"},
        {"oe_hi_list", "O/E upper 95%"}, {"funnel_flag", "Funnel position"},
        {"need_index", "Need index"}, {"fair_share", "Fair share"}, {"n_tier1", "Tier 1 (n)"},
        {"pct_tier1", "Tier 1 (%)"}, {"n_high_risk", "High risk (tiers 1-2)"},
        {"pct_high_risk_core20", "High risk in Core20 (%)"}, {"sii", "SII"},
        {"sii_lo", "SII lower 95%"}, {"sii_hi", "SII upper 95%"}, {"rii", "RII"},
        {"rii_lo", "RII lower 95%"}, {"rii_hi", "RII upper 95%"},
        {"deciles_used", "IMD deciles used"}, {"sii_obs", "SII (observed)"},
        {"sii_lo_obs", "SII obs. lower 95%"}, {"sii_hi_obs", "SII obs. upper 95%"},
        {"rii_obs", "RII (observed)"}, {"rii_lo_obs", "RII obs. lower 95%"},
        {"rii_hi_obs", "RII obs. upper 95%"}, {"deciles_used_obs", "IMD deciles used (obs.)"},
        {"subgroup", "Subgroup"}, {"level", "Level"}, {"n", "Patients"}, {"events", "Events"},
        {"c_statistic", "C-statistic"}, {"c_lo", "C lower 95%"}, {"c_hi", "C upper 95%"},
        {"oe", "Observed / expected"}, {"oe_lo", "O/E lower 95%"}, {"oe_hi", "O/E upper 95%"},
        {"calibration_slope", "Calibration slope"}, {"flags", "Flags"}};
    for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
        if (!strcmp(L[i][0], name))
            return L[i][1];
    return name;
}

/* Whole table, or the listed columns (names NULL-terminated) when cols != NULL.
 * data-table names the published file and data-col each column, so every number
 * here can be checked against the CSVs (tests/sdc_attack.c). */
static void html_table(FILE *f, const strata_table *t, const char *file, const char *const *cols)
{
    int js[256], nj = 0;
    if (cols) {
        for (; *cols && nj < 256; cols++)
            if ((js[nj] = strata_table_find(t, *cols)) >= 0)
                nj++;
    } else {
        for (size_t j = 0; j < strata_table_ncols(t) && nj < 256; j++)
            if (strata_table_col_kind(t, (int)j) != STRATA_COL_INTERNAL)
                js[nj++] = (int)j;
    }
    fprintf(f, "<div class=\"wide\"><table data-table=\"%s\"><tr>", file);
    for (int k = 0; k < nj; k++) {
        char mean[512];
        const char *nm = strata_table_col_name(t, js[k]);
        fprintf(f, "<th data-col=\"%s\" title=\"", nm);
        esc(f, report_column_meaning(nm, mean, sizeof mean));
        fputs("\">", f);
        esc(f, col_label(nm));
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < strata_table_nrows(t); i++) {
        fputs("<tr>", f);
        for (int k = 0; k < nj; k++)
            td(f, t, js[k], i);
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static double val(const strata_table *t, const char *name, size_t i)
{
    return strata_table_value(t, strata_table_find(t, name), i);
}

/* Risk pyramid: tiers as centred bars, width proportional to sqrt(% of list)
 * so the 0.5% apex stays visible; labels are the disclosed counts and %. */
static void svg_pyramid(FILE *f, const strata_table *t, size_t i, const char *label)
{
    const double W = 220, H = 22;
    int K = 0;
    char nm[32], buf[64], pbuf[64];
    while (K < STRATA_MAX_TIERS && (snprintf(nm, sizeof nm, "n_tier%d", K + 1),
                                    strata_table_find(t, nm) >= 0))
        K++;
    fprintf(f, "<figure class=\"pyr\"><svg class=\"pyramid\" viewBox=\"0 0 %.0f %.0f\" "
               "width=\"%.0f\" height=\"%.0f\" role=\"img\">",
            W + 150, H * K + 26, W + 150, H * K + 26);
    fputs("<text x=\"2\" y=\"14\" class=\"title\">", f);
    esc(f, label);
    fputs("</text>", f);
    for (int k = 0; k < K; k++) {
        double pct, w;
        int jn, jp;
        snprintf(nm, sizeof nm, "n_tier%d", k + 1);
        jn = strata_table_find(t, nm);
        snprintf(nm, sizeof nm, "pct_tier%d", k + 1);
        jp = strata_table_find(t, nm);
        pct = strata_table_value(t, jp, i);
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
    int logx;
} axis;

static double px(const axis *a, double x)
{
    if (a->logx)
        return a->L + (log(x) - log(a->x0)) / (log(a->x1) - log(a->x0)) * a->W;
    return a->L + (x - a->x0) / (a->x1 - a->x0) * a->W;
}

static double py(const axis *a, double y)
{
    return a->T + a->H - (y - a->y0) / (a->y1 - a->y0) * a->H;
}

/* A tick label people read: 1,200 not 1.2e+03; 0.05 not 5e-02. */
static const char *nice(double v, char *buf, size_t n)
{
    double av = fabs(v);
    if (av >= 1000) {
        char t[64];
        size_t len, o = 0;
        snprintf(t, sizeof t, "%.0f", av);
        len = strlen(t);
        if (v < 0 && o + 1 < n)
            buf[o++] = '-';
        for (size_t k = 0; k < len && o + 2 < n; k++) {
            buf[o++] = t[k];
            if ((len - k - 1) % 3 == 0 && k + 1 < len)
                buf[o++] = ',';
        }
        buf[o] = '\0';
    } else if (av >= 10 || v == 0) {
        snprintf(buf, n, "%.0f", v);
    } else if (av >= 1) {
        snprintf(buf, n, "%.1f", v);
    } else {
        snprintf(buf, n, "%.2g", v);
    }
    return buf;
}

/* Tick step of about n ticks over [a, b]: 1, 2 or 5 times a power of ten. */
static double tick_step(double a, double b, int n)
{
    double raw = (b - a) / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* Chart frame: a title above, labelled axes, readable ticks with grid lines. */
static void svg_frame(FILE *f, const axis *a, const char *cls, const char *title, const char *xlab,
                      const char *ylab)
{
    char b[64];
    double w = a->L + a->W + 24, h = a->T + a->H + 48, st;
    fprintf(f, "<svg class=\"%s\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" "
               "role=\"img\" aria-label=\"",
            cls, w, h, w, h);
    esc(f, title);
    fputs("\">", f);
    fprintf(f, "<text class=\"ctitle\" x=\"%.0f\" y=\"16\">", a->L);
    esc(f, title);
    fputs("</text>", f);
    fprintf(f, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>",
            a->L, a->T, a->W, a->H);
    if (a->logx) {
        for (double d = pow(10, ceil(log10(a->x0))); d <= a->x1; d *= 10) {
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>",
                    px(a, d), a->T, px(a, d), a->T + a->H);
            fprintf(f, "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.0f\">%s</text>",
                    px(a, d), a->T + a->H + 14, nice(d, b, sizeof b));
        }
    } else {
        st = tick_step(a->x0, a->x1, 5);
        for (double d = ceil(a->x0 / st) * st; d <= a->x1 + 1e-12; d += st)
            fprintf(f, "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.0f\">%s</text>",
                    px(a, d), a->T + a->H + 14, nice(d, b, sizeof b));
    }
    st = tick_step(a->y0, a->y1, 5);
    for (double d = ceil(a->y0 / st) * st; d <= a->y1 + 1e-12; d += st) {
        fprintf(f, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>", a->L,
                py(a, d), a->L + a->W, py(a, d));
        fprintf(f, "<text class=\"tick\" text-anchor=\"end\" x=\"%.0f\" y=\"%.1f\">%s</text>",
                a->L - 4, py(a, d) + 4, nice(d, b, sizeof b));
    }
    fprintf(f, "<text class=\"axis\" text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\">", a->L + a->W / 2,
            a->T + a->H + 34);
    esc(f, xlab);
    fprintf(f, "</text><text class=\"axis\" text-anchor=\"middle\" transform=\"translate(14 %.0f) "
               "rotate(-90)\">",
            a->T + a->H / 2);
    esc(f, ylab);
    fputs("</text>", f);
}

/* "Wrekin PCN (U13205)", or the code alone when no name is known. */
static const char *area_label(const report_names *rn, const char *type, const char *code,
                              char *buf, size_t n)
{
    char tidy[256];
    const char *nm = report_name(rn, type, code);
    if (!code)
        code = "";
    if (!strcmp(code, "ALL"))
        snprintf(buf, n, "All PCNs");
    else if (nm)
        snprintf(buf, n, "%s (%s)", report_name_tidy(nm, tidy, sizeof tidy), code);
    else
        snprintf(buf, n, "%s", code);
    return buf;
}

/* Funnel plot of O/E against expected events (log x), limits from fn; the
 * PCNs outside the 95% limits are named beside their points. With me (a PCN
 * code: its one-page pack) that PCN alone is named and drawn larger. */
static void svg_funnel(FILE *out, const strata_table *t, const strata_funnel *fn,
                       const report_names *rn, const char *me)
{
    axis a = {1e300, 0, 0, 2, 64, 28, 560, 320, 1};
    size_t shown = 0, omitted = 0, labelled = 0;
    const double levels[2] = {0.95, 0.998};
    char lab[320];
    for (size_t i = 0; i + 1 < strata_table_nrows(t); i++) {
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
    svg_frame(out, &a, "funnel", me ? "Where this PCN sits: observed / expected admissions"
                                    : "Emergency admissions: observed / expected by PCN",
              "expected admissions (log scale: bigger PCNs to the right)",
              "observed / expected (1 = as expected)");
    fprintf(out, "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", a.L,
            py(&a, 1), a.L + a.W, py(&a, 1));
    for (int l = 0; l < 2; l++) {
        for (int side = 0; side < 2; side++) {
            fprintf(out, "<polyline class=\"limit%s\" points=\"", l ? "998" : "95");
            for (int s = 0; s <= 60; s++) {
                double e = exp(log(a.x0) + (log(a.x1) - log(a.x0)) * s / 60.0), lo, hi, y;
                strata_funnel_limits(fn, e, levels[l], &lo, &hi);
                y = fmin(fmax(side ? hi : lo, a.y0), a.y1);
                fprintf(out, "%.1f,%.1f ", px(&a, e), py(&a, y));
            }
            fputs("\"/>", out);
        }
    }
    for (size_t i = 0; i + 1 < strata_table_nrows(t); i++) {
        double e = val(t, "expected_list", i), r = val(t, "oe_list", i);
        double flag = val(t, "funnel_flag", i), x, y;
        if (!(e > 0) || isnan(r)) {
            omitted++;
            continue;
        }
        x = px(&a, e);
        y = py(&a, fmin(r, a.y1));
        const char *key = strata_table_key(t, 0, i);
        int mine = me && key && !strcmp(key, me);
        area_label(rn, "PCN", key, lab, sizeof lab);
        fprintf(out, "<circle class=\"unit%s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%d\"><title>",
                flag > 0 ? " high" : flag < 0 ? " low" : "", mine ? " me" : me ? " other" : "",
                x, y, mine ? 7 : 4);
        esc(out, lab);
        fputs("</title></circle>", out);
        if (me ? mine : flag != 0 && !isnan(flag) && labelled < 12) {
            int right = x < a.L + a.W * 0.6;
            fprintf(out, "<text class=\"olabel\" text-anchor=\"%s\" x=\"%.1f\" y=\"%.1f\">",
                    right ? "start" : "end", right ? x + 7 : x - 7, y + 4);
            esc(out, lab);
            fputs("</text>", out);
            labelled++;
        }
        shown++;
    }
    fputs("</svg>\n", out);
    fprintf(out, "<p class=\"note\">%zu PCNs plotted; %zu not shown (expected or O/E "
                 "withheld by disclosure control). Limits: %s. Dashed blue: 95%%; solid orange: "
                 "99.8%%. Points above the limits are orange, below blue.</p>\n",
            shown, omitted,
            fn && fn->tau2 > 0 ? "overdispersed (DerSimonian-Laird)" : "exact Poisson");
    if (fn && fn->od != STRATA_OD_NONE)
        fprintf(out, "<p class=\"note\">Overdispersion (%s, Spiegelhalter 2005): phi = %.3f, "
                     "tau<sup>2</sup> = %.5f on the log(O/E) scale, from %zu PCNs' published "
                     "observed and expected counts.</p>\n",
                fn->od == STRATA_OD_SHMI ? "SHMI truncation" : "winsorised z", fn->phi, fn->tau2,
                fn->k);
}

/* Mean risk by IMD quintile (row r of the inequality table: the ALL row for
 * all PCNs) as bars at cumulative-share midpoints, with the SII regression
 * line from row rs of the SII table ((size_t)-1: none). */
static void svg_gradient(FILE *f, const strata_table *q, size_t r, const strata_table *sii,
                         size_t rs, const char *title)
{
    axis a = {0, 1, 0, 0, 64, 28, 560, 260, 0};
    double pop[5], tot = 0, cum = 0, m[5];
    char nm[32];
    for (int k = 0; k < 5; k++) {
        snprintf(nm, sizeof nm, "n_imdq%d", k + 1);
        pop[k] = val(q, nm, r);
        snprintf(nm, sizeof nm, "mean_risk_imdq%d", k + 1);
        m[k] = val(q, nm, r);
        tot += isnan(pop[k]) ? 0 : pop[k];
        if (!isnan(m[k]))
            a.y1 = fmax(a.y1, m[k] * 1.25);
    }
    if (!(a.y1 > 0))
        a.y1 = 1;
    for (int k = 0; k < 5; k++)
        if (isnan(pop[k]))
            tot = 0; /* a withheld size: equal widths, so the bars still span the axis */
    svg_frame(f, &a, "gradient", title,
              "share of patients, most deprived (left) to least deprived (right)",
              "mean risk");
    for (int k = 0; k < 5; k++) {
        double w = tot > 0 && !isnan(pop[k]) ? pop[k] / tot : 0.2;
        char buf[64];
        if (!isnan(m[k]))
            fprintf(f, "<rect class=\"quintile\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"/>",
                    px(&a, cum) + 1, py(&a, m[k]), w * a.W - 2, a.T + a.H - py(&a, m[k]));
        snprintf(nm, sizeof nm, "mean_risk_imdq%d", k + 1);
        cell_text(q, strata_table_find(q, nm), r, buf, sizeof buf);
        fprintf(f, "<text class=\"mean\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.1f\">Q%d: %s</text>",
                px(&a, cum + w / 2), a.T + 14 + (k % 2) * 14, k + 1, buf); /* staggered: narrow bars' labels do not collide */
        cum += w;
    }
    if (sii && rs < strata_table_nrows(sii) && !isnan(val(sii, "sii", rs))) {
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
    axis a = {0, 0, 0, 0, 64, 28, 320, 320, 0};
    for (size_t i = 0; i < n; i++)
        a.x1 = fmax(a.x1, fmax(pred[i], obs[i]));
    a.x1 = a.y1 = a.x1 > 0 ? a.x1 * 1.05 : 1;
    svg_frame(f, &a, "calibration", "Predicted against observed risk (tenths of risk)",
              "mean predicted risk", "observed rate");
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

/* Okabe-Ito palette: vermillion #D55E00, orange #E69F00, sky blue #56B4E9,
 * blue #0072B2, bluish green #009E73 — distinguishable with any common
 * colour-vision deficiency. */
static const char *const css =
    "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;"
    "color:#222;line-height:1.4}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:2px solid "
    "#0072B2}table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;"
    "padding:3px 6px;font-size:13px}th{background:#eef3f8;text-align:left}"
    "td.count,td.mean,td.pct,td.ratio,td.flag{text-align:right}.wide{overflow-x:auto;"
    "max-width:100%}svg{max-width:100%;height:auto}.frame{fill:none;stroke:#888}"
    ".grid{stroke:#e4e4e4}.tier1{fill:#D55E00}.tier2{fill:#E69F00}.tier3{fill:#56B4E9}"
    ".tier4{fill:#0072B2}.tier5,.tier6,.tier7,.tier8,.tier9{fill:#009E73}"
    ".limit95{fill:none;stroke:#0072B2;stroke-dasharray:5 3}.limit998{fill:none;"
    "stroke:#D55E00}.target{stroke:#555}circle.unit{fill:#666}circle.high{fill:#D55E00}"
    "circle.low{fill:#0072B2}circle.other{fill:#bbb}circle.me{stroke:#000;stroke-width:2}.olabel{font-size:11px;fill:#222}.quintile{fill:#56B4E9}"
    ".sii{stroke:#D55E00;stroke-width:2}.ideal{stroke:#999;stroke-dasharray:4 3}"
    "polyline.calib{fill:none;stroke:#0072B2}circle.calib{fill:#0072B2}text{font-size:12px}"
    ".tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}.ctitle{font-size:14px;"
    "font-weight:bold}.title{font-weight:bold}figure.pyr{display:inline-block;margin:4px}"
    ".note{font-size:13px;color:#555}.warn{color:#8a2a00;border-left:4px solid #D55E00;padding-left:8px}.howto{background:#f6f8fa;border-left:4px solid #0072B2;"
    "padding:0.5em 1em;font-size:14px}.found{background:#fffbea;border:1px solid #E69F00;"
    "padding:0.6em 1.2em}.found li{margin:0.3em 0}.bar{display:inline-block;height:10px;"
    "background:#D55E00;vertical-align:middle;margin-left:4px}nav{display:flex;flex-wrap:wrap;"
    "gap:0.2em 1em}"
    "@media (max-width:600px){body{margin:0.5em}td,th{font-size:11px;padding:2px 3px}}"
    "@page{size:A4;margin:14mm}@media print{body{max-width:none;margin:0}nav{display:none}"
    "h2{break-after:avoid}svg,figure,table,.howto{break-inside:avoid}.wide{overflow:visible}}";

static strata_status check_disclosed(strata_ctx *ctx, const strata_table *t, const char *path)
{
    if (t && !strata_table_disclosed(t) && !strata_table_patient_level(t))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s has not been through disclosure control", path,
                           strata_table_name(t));
    if (t && strata_table_patient_level(t))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "%s: table %s is patient-level and cannot go into the report", path,
                           strata_table_name(t));
    return STRATA_OK;
}

static void howto(FILE *f, const char *text)
{
    fputs("<p class=\"howto\"><b>How to read this.</b> ", f);
    fputs(text, f); /* fixed text from this file: already HTML */
    fputs("</p>\n", f);
}

/* ---- the first screen: what the run found ------------------------------------ */

static void found_section(FILE *f, const strata_report_input *in, const report_names *rn)
{
    const strata_table *t = in->summary;
    size_t all = strata_table_nrows(t) - 1, best = (size_t)-1, n_hi = 0, n_lo = 0;
    double need = -1;
    char buf[64], b2[64], lab[320];
    fputs("<section class=\"found\" id=\"found\"><h2>What this run found</h2><ul>\n", f);
    cell_text(t, strata_table_find(t, "n_list"), all, b2, sizeof b2);
    fprintf(f, "<li><b><span class=\"count\">%s</span> registered patients</b> in %zu PCNs "
               "were given a risk of an emergency admission in the next 12 months.</li>\n",
            b2, strata_table_nrows(t) - 1);
    if (strata_table_find(t, "n_unscored_list") >= 0 && val(t, "n_unscored_list", all) != 0) {
        cell_text(t, strata_table_find(t, "n_unscored_list"), all, b2, sizeof b2);
        fprintf(f, "<li><b><span class=\"count\">%s</span> patients could not be scored</b> (a "
                   "model input is missing for them): they are in every list size (column "
                   "n_unscored) but in no risk tier and on no intervention list; the practice "
                   "file unscored.csv names them.</li>\n",
                b2);
    }
    for (size_t i = 0; i < all; i++) {
        double v = val(t, "need_index", i);
        if (!isnan(v) && v > need)
            need = v, best = i;
    }
    if (best == (size_t)-1)
        fputs("<li><b>Highest need:</b> every PCN's need index is withheld by disclosure "
              "control at this size (see <a href=\"#disclosure\">the rules</a>).</li>\n", f);
    if (best != (size_t)-1) {
        area_label(rn, "PCN", strata_table_key(t, 0, best), lab, sizeof lab);
        cell_text(t, strata_table_find(t, "need_index"), best, buf, sizeof buf);
        fputs("<li><b>Highest need:</b> ", f);
        esc(f, lab);
        fprintf(f, " — need index %s (1 = the average of all PCNs: its patients are predicted "
                   "to need %.0f%% %s care per head).</li>\n",
                buf, fabs(need - 1) * 100, need >= 1 ? "more" : "less");
    }
    if (strata_table_find(t, "funnel_flag") >= 0) {
        for (size_t i = 0; i < all; i++) {
            double fl = val(t, "funnel_flag", i);
            n_hi += fl > 0;
            n_lo += fl < 0;
        }
        if (n_hi + n_lo == 0) {
            fputs("<li><b>No outliers:</b> every PCN's emergency admissions are within the range "
                  "expected from its patients' predicted risk (funnel plot, 95% limits).</li>\n",
                  f);
        } else {
            int first = 1;
            fprintf(f, "<li><b>Outliers:</b> %zu PCN%s had more emergency admissions than "
                       "expected and %zu fewer (outside the funnel's 95%% limits): ",
                    n_hi, n_hi == 1 ? "" : "s", n_lo);
            for (size_t i = 0, k = 0; i < all && k < 10; i++) {
                double fl = val(t, "funnel_flag", i);
                if (!(fl != 0) || isnan(fl))
                    continue;
                area_label(rn, "PCN", strata_table_key(t, 0, i), lab, sizeof lab);
                fputs(first ? "" : "; ", f);
                esc(f, lab);
                fprintf(f, " (%s)", fl > 0 ? "more" : "fewer");
                first = 0;
                k++;
            }
            fputs(n_hi + n_lo > 10 ? "; and others in the PCN index.</li>\n" : ".</li>\n", f);
        }
    }
    if (in->inequality) {
        const strata_table *q = in->inequality;
        size_t r = strata_table_nrows(q) - 1;
        double m1 = val(q, "mean_risk_imdq1", r), m5 = val(q, "mean_risk_imdq5", r);
        if (isnan(m1) || isnan(m5) || !(m5 > 0))
            fputs("<li><b>Deprivation gradient:</b> the mean risks of the most and least "
                  "deprived fifths are withheld by disclosure control at this size.</li>\n", f);
        if (!isnan(m1) && !isnan(m5) && m5 > 0) {
            fprintf(f, "<li><b>Deprivation gradient:</b> patients in the most deprived fifth of "
                       "areas have a mean risk of %.1f%%, %.1f times the %.1f%% of the least "
                       "deprived fifth",
                    100 * m1, m1 / m5, 100 * m5);
            if (in->sii && !isnan(val(in->sii, "sii", strata_table_nrows(in->sii) - 1))) {
                cell_text(in->sii, strata_table_find(in->sii, "sii"), strata_table_nrows(in->sii) - 1, buf,
                          sizeof buf);
                cell_text(in->sii, strata_table_find(in->sii, "rii"), strata_table_nrows(in->sii) - 1, b2,
                          sizeof b2);
                fprintf(f, " (slope index of inequality %s, relative index %s)", buf, b2);
            }
            fputs(".</li>\n", f);
        }
    }
    if (in->offers) { /* the disclosed total of the offers table (its last row) */
        size_t o = strata_table_nrows(in->offers) - 1;
        cell_text(in->offers, strata_table_find(in->offers, "n_offered"), o, buf, sizeof buf);
        if (*buf && strcmp(buf, "*"))
            fprintf(f, "<li><b>Proactive care:</b> <span class=\"count\">%s</span> patients "
                       "with the highest predicted risk are offered proactive care (the PCNs' "
                       "intervention lists, owner-only files).</li>\n", buf);
        else
            fputs("<li><b>Proactive care:</b> a small number of patients (withheld) with the "
                  "highest predicted risk are offered proactive care.</li>\n", f);
    } else if (in->n_listed) { /* a library caller without the table: rounded to 5 */
        double r5 = 5 * floor(in->n_listed / 5.0 + 0.5);
        fprintf(f, "<li><b>Proactive care:</b> about <span class=\"count\">%s</span> patients "
                   "with the highest predicted risk are offered proactive care (the PCNs' "
                   "intervention lists, owner-only files).</li>\n",
                r5 > 0 ? (snprintf(buf, sizeof buf, "%.0f", r5), buf) : "fewer than 5");
    }
    cell_text(t, strata_table_find(t, "n_high_risk"), all, b2, sizeof b2);
    /* counts as the disclosed tables print them (no separators), so the
     * disclosure scan of class="count" reads them */
    snprintf(buf, sizeof buf, "%s", b2);
    if (*b2)
        fprintf(f, "<li><b>High risk:</b> <span class=\"count\">%s</span> patients are in risk "
                   "tiers 1-2 (the top 5%% by predicted risk).</li>\n",
                buf);
    fputs("</ul></section>\n", f);
}

/* ---- the PCN index: one row per PCN, readable at England scale ---------------- */

static void pcn_index(FILE *f, const strata_table *t, const report_names *rn)
{
    static const char *const cols[] = {"n_list", "mean_risk_list", "n_tier1", "pct_tier1",
                                       "n_high_risk", "need_index", "expected_list",
                                       "n_observed_list", "oe_list", "oe_lo_list", "oe_hi_list",
                                       "pct_high_risk_core20"};
    enum { NC = sizeof cols / sizeof cols[0] };
    int js[NC], jn = strata_table_find(t, "n_list"), jh = strata_table_find(t, "n_high_risk");
    char lab[320], buf[64];
    for (int k = 0; k < NC; k++)
        js[k] = strata_table_find(t, cols[k]);
    fputs("<div class=\"wide\"><table class=\"index\" data-table=\"pcn_summary\"><tr>"
          "<th data-col=\"group\">PCN (code)</th>", f);
    for (int k = 0; k < NC; k++)
        if (js[k] >= 0)
            fprintf(f, "<th data-col=\"%s\">%s</th>", cols[k], col_label(cols[k]));
    fputs("<th data-col=\"pct_high_risk_of_list\">High risk, % of list</th>"
          "<th data-col=\"funnel_position\">Funnel position</th></tr>\n", f);
    for (size_t i = 0; i < strata_table_nrows(t); i++) {
        double fl = val(t, "funnel_flag", i), n = jn >= 0 ? val(t, "n_list", i) : NAN;
        double h = jh >= 0 ? val(t, "n_high_risk", i) : NAN, pct = 100 * h / n;
        fputs("<tr><td class=\"key\">", f);
        esc(f, area_label(rn, "PCN", strata_table_key(t, 0, i), lab, sizeof lab));
        fputs("</td>", f);
        for (int k = 0; k < NC; k++)
            if (js[k] >= 0)
                td(f, t, js[k], i);
        if (isfinite(pct))
            fprintf(f, "<td class=\"pct\">%.1f<span class=\"bar\" style=\"width:%.0fpx\"></span>"
                       "</td>",
                    pct, fmin(80, pct * 8));
        else
            fputs("<td class=\"pct\"></td>", f);
        snprintf(buf, sizeof buf, "%s",
                 isnan(fl) || i + 1 == strata_table_nrows(t) ? "" : fl >= 2 ? "above 99.8% limit"
                 : fl >= 1 ? "above 95% limit" : fl <= -2 ? "below 99.8% limit"
                 : fl <= -1 ? "below 95% limit" : "within limits");
        fprintf(f, "<td>%s</td></tr>\n", buf);
    }
    fputs("</table></div>\n", f);
}

strata_status strata_report_html(strata_ctx *ctx, const strata_report_input *in, const char *path)
{
    strata_sdc_params rules;
    char *tmp, lab[320];
    FILE *f;
    report_names *rn = NULL;
    strata_status st;
    size_t all;
    if (!in->summary)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: the report needs the summary table", path);
    STRATA_TRY(check_disclosed(ctx, in->summary, path));
    STRATA_TRY(check_disclosed(ctx, in->inequality, path));
    STRATA_TRY(check_disclosed(ctx, in->sii, path));
    STRATA_TRY(check_disclosed(ctx, in->fairness, path));
    STRATA_TRY(check_disclosed(ctx, in->offers, path));
    STRATA_TRY(strata_table_rules(ctx, in->summary, &rules));
    STRATA_TRY(report_names_load(ctx, in->data_dir, &rn));
    all = strata_table_nrows(in->summary) - 1;
    f = report_page_open(ctx, path, in->title ? in->title : "strata report", "", "", &tmp);
    if (!f) {
        report_names_free(ctx, rn);
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    }
    fputs("<h1>", f);
    esc(f, in->title ? in->title : "strata report");
    fputs(rules.enabled
              ? "</h1>\n<p class=\"note\">Risk stratification of the registered population by "
                "strata. All counts are disclosure-controlled (see <a href=\"#disclosure\">the "
                "rules</a>); * marks a withheld value.</p>\n"
              : "</h1>\n<p class=\"note warn\">Risk stratification of the registered population "
                "by strata. <b>Disclosure control was OFF for this run: every count is exact, "
                "small numbers included. Not for publication.</b> (<a href=\"#disclosure\">"
                "details</a>)</p>\n",
          f);
    fputs(
          "<nav><a href=\"#found\">Findings</a> <a href=\"#index\">PCN index</a> "
          "<a href=\"#tiers\">Risk tiers</a> <a href=\"#funnel\">Funnel</a> "
          "<a href=\"#gradient\">Deprivation</a> <a href=\"#calibration\">Calibration</a> "
          "<a href=\"#fairness\">Fairness</a> <a href=\"#card\">Model card</a></nav>\n", f);
    found_section(f, in, rn);

    fputs("<h2 id=\"index\">PCN index</h2>\n", f);
    howto(f, "One row per Primary Care Network, with its code. <i>Need index</i> compares the "
             "predicted need per patient with the average of all PCNs (1.2 = 20% more). "
             "<i>Observed / expected</i> compares emergency admissions with what the patients' "
             "predicted risks add up to; its 95% interval shows how sure that is. The bar shows "
             "the share of the list in the two highest risk tiers.");
    pcn_index(f, in->summary, rn);

    fputs("<h2 id=\"tiers\">Risk tiers</h2>\n", f);
    howto(f, "Patients are ranked by predicted risk and split into tiers: tier 1 is the highest "
             "risk (the top 0.5% by default), tier 2 the next 4.5%, tier 3 the next 15% and tier "
             "4 everyone else. Bar widths grow with the square root of the share, so the small "
             "top tier stays visible. Tiers 1-2 are usually offered case management; tier 3 "
             "proactive review.");
    svg_pyramid(f, in->summary, all, "All PCNs");
    if (all <= MAX_PYRAMIDS) {
        for (size_t i = 0; i < all; i++)
            svg_pyramid(f, in->summary, i,
                        area_label(rn, "PCN", strata_table_key(in->summary, 0, i), lab, sizeof lab));
    } else {
        fprintf(f, "<p class=\"note\">%zu PCNs: their tiers are in the PCN index above rather "
                   "than one pyramid each.</p>\n", all);
    }
    if (strata_table_find(in->summary, "oe_list") >= 0) {
        fputs("<h2 id=\"funnel\">Which PCNs have more emergency admissions than expected?</h2>\n",
              f);
        howto(f, "Each dot is a PCN: across, how many admissions its patients' risks predict "
                 "(bigger PCNs further right); up, observed divided by expected (1 = as "
                 "predicted). The funnel lines are the range chance alone would give: it is wide "
                 "for small PCNs and narrow for large ones. A dot above the upper line has more "
                 "admissions than its patients' risk explains — worth a look at access, "
                 "pathways or coding; below the lower line, fewer. Named dots are outside the "
                 "95% limits.");
        svg_funnel(f, in->summary, in->funnel, rn, NULL);
    }
    if (in->inequality) {
        fputs("<h2 id=\"gradient\">Deprivation gradient</h2>\n", f);
        howto(f, "Bars are the mean predicted risk in each fifth of patients by deprivation "
                 "(Q1 = most deprived, IMD 2019), as wide as their share of patients. The line is "
                 "the <i>slope index of inequality</i> (SII): the gap in risk between the most and "
                 "least deprived ends of the scale, in risk units (negative = higher risk where "
                 "deprivation is higher). The <i>relative index</i> (RII) is the same as a ratio "
                 "(least / most deprived; below 1 = higher in deprived areas).");
        svg_gradient(f, in->inequality, strata_table_nrows(in->inequality) - 1, in->sii,
                     in->sii ? strata_table_nrows(in->sii) - 1 : (size_t)-1,
                     "Mean predicted risk by deprivation (all PCNs)");
    }
    if (in->sii) {
        fputs("<h2>Slope and relative index of inequality by PCN</h2>\n", f);
        html_table(f, in->sii, "sii", NULL);
    }
    if (in->n_calib) {
        fputs("<h2 id=\"calibration\">Is the model right? Calibration</h2>\n", f);
        howto(f, "Patients are grouped into tenths of predicted risk; each dot compares the "
                 "group's mean predicted risk (across) with what happened (up). Dots on the dashed "
                 "diagonal mean the predicted risks can be taken at face value; above it the "
                 "model under-predicts, below it over-predicts.");
        svg_calibration(f, in->n_calib, in->calib_pred, in->calib_obs);
    }
    if (in->fairness) {
        fputs("<h2 id=\"fairness\">Does the model work equally well for everyone?</h2>\n", f);
        howto(f, "The C-statistic is the chance that a patient who was admitted had a higher "
                 "predicted risk than one who was not (0.5 = a coin toss, above 0.7 = useful). "
                 "Observed / expected near 1 and a calibration slope near 1 mean the risks fit "
                 "the subgroup. Flags: 1 too small to interpret, 2 O/E, 4 slope, 8 C differs from "
                 "the whole population.");
        html_table(f, in->fairness, "fairness", NULL);
    }
    if (in->n_card) {
        fputs("<h2 id=\"card\">Model card</h2>\n<table class=\"card\">", f);
        for (size_t k = 0; k < in->n_card; k++) {
            fputs("<tr><th>", f);
            esc(f, in->card_keys[k]);
            fputs("</th><td class=\"metric\">", f);
            esc(f, in->card_values[k]);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    {
        char text[512];
        strata_sdc_describe(&rules, text, sizeof text);
        fputs("<h2 id=\"disclosure\">Disclosure control</h2>\n<p>Rules applied to every table "
              "and number in this report: ", f);
        esc(f, text);
        fputs(rules.enabled
                  ? ". Before publication every relation between the tables (practices add up "
                    "to PCNs and PCNs to the ICB, subgroups to totals, tiers and segments to the "
                    "list) was checked so no withheld or rounded count can be worked out exactly; "
                    "where an observed count is withheld its expected count and O/E are too. "
                    "SII, RII, C-statistics and calibration slopes are regression outputs and "
                    "are shown as computed. Methods and sources: docs/stratify.md.</p>\n"
                  : ". Nothing was withheld or rounded: these numbers identify small groups and "
                    "must not leave a secure environment.</p>\n",
              f);
    }
    fputs("</body></html>\n", f);
    report_names_free(ctx, rn);
    st = strata_out_publish(ctx, f, tmp, path, 0644u);
    return st;
}

/* ---- shared with the one-page PCN packs (report_pcn.c) ------------------------- */

FILE *report_page_open(strata_ctx *ctx, const char *path, const char *title, const char *suffix,
                       const char *extra_css, char **tmp)
{
    FILE *f = strata_out_open(ctx, path, 0644u, tmp);
    if (!f)
        return NULL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>", f);
    esc(f, title);
    esc(f, suffix);
    fprintf(f, "</title><style>%s%s</style></head><body>\n", css, extra_css);
    return f;
}

void report_esc(FILE *f, const char *s) { esc(f, s); }
void report_cell(const strata_table *t, int j, size_t i, char *buf, size_t n)
{
    if (j >= 0)
        cell_text(t, j, i, buf, n);
    else if (n)
        buf[0] = '\0';
}
double report_val(const strata_table *t, const char *name, size_t i) { return val(t, name, i); }
const char *report_area_label(const report_names *rn, const char *type, const char *code,
                              char *buf, size_t n)
{
    return area_label(rn, type, code, buf, n);
}
void report_pyramid(FILE *f, const strata_table *t, size_t i, const char *label)
{
    svg_pyramid(f, t, i, label);
}
void report_funnel(FILE *f, const strata_table *t, const strata_funnel *fn, const report_names *rn,
                   const char *me)
{
    svg_funnel(f, t, fn, rn, me);
}
void report_gradient(FILE *f, const strata_table *q, size_t r, const strata_table *sii, size_t rs,
                     const char *title)
{
    svg_gradient(f, q, r, sii, rs, title);
}
strata_status report_check_disclosed(strata_ctx *ctx, const strata_table *t, const char *path)
{
    return check_disclosed(ctx, t, path);
}
