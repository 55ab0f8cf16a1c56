/* engine/report/report_pcn.c — one printable A4 page per PCN for its clinical
 * director (`report: {per_pcn: true}` → pcn_packs.html): the PCN by name and
 * code, what the run found for it in plain English (high-risk patients, need,
 * emergency admissions against expected and its place on the funnel, the
 * deprivation gradient, how many are offered proactive care), its tier
 * pyramid, the funnel of all PCNs with it highlighted, its gradient by IMD
 * quintile with its SII, and the disclosure rules. Every number comes from a
 * disclosed table as the main report prints it (report_cell: "*" hidden,
 * counts in class="count"); self-contained, no scripts; a page break after
 * each PCN. */
#include "outfile.h"
#include "report_internal.h"
#include "strat_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Row of t whose key (column 0) is code, or (size_t)-1. */
static size_t row_of(const strata_table *t, const char *code)
{
    for (size_t i = 0; t && i < strata_table_nrows(t); i++) {
        const char *k = strata_table_key(t, 0, i);
        if (k && !strcmp(k, code))
            return i;
    }
    return (size_t)-1;
}

static void cell(const strata_table *t, const char *col, size_t i, char *buf, size_t n)
{
    report_cell(t, strata_table_find(t, col), i, buf, n);
    if (!*buf)
        snprintf(buf, n, "not available");
}

static const char *const pack_css =
    ".pack{break-after:page;page-break-after:always;padding-top:0.5em}"
    ".pack:last-of-type{break-after:auto;page-break-after:auto}"
    ".pack h2{font-size:1.4em;margin:0.2em 0}.pack .code{color:#555;font-weight:normal}"
    ".pack .sub{margin:0 0 0.4em;color:#555;font-size:13px}.pack .found{margin:0.4em 0}"
    ".pack .found li{margin:0.2em 0;font-size:14px}.charts{display:flex;flex-wrap:wrap;"
    "gap:6px 14px;align-items:flex-start}.pack svg.funnel,.pack svg.gradient{width:540px;"
    "max-width:100%;height:auto}.pack figure.pyr{margin:0}.pack .c1>p.note{display:none}"
    ".pack .c2>p.note{flex:1 1 220px;margin:0}.index{columns:2 260px}"
    "@media print{.toc{display:none}.pack{padding-top:0}.pack svg.funnel,"
    ".pack svg.gradient{width:100mm}.pack svg.pyramid{width:70mm;height:auto}"
    ".pack .found li{font-size:11.5px}.pack .note{font-size:10.5px}body{font-size:12px}}";

static void findings(FILE *f, const strata_report_input *in, size_t i, const char *code)
{
    const strata_table *t = in->summary;
    char b1[64], b2[64], b3[64], b4[64];
    double need = report_val(t, "need_index", i), fl = report_val(t, "funnel_flag", i);
    double n = report_val(t, "n_list", i), h = report_val(t, "n_high_risk", i);
    fputs("<ul class=\"found\">\n", f);
    cell(t, "n_list", i, b1, sizeof b1);
    cell(t, "n_high_risk", i, b2, sizeof b2);
    cell(t, "n_tier1", i, b3, sizeof b3);
    fprintf(f, "<li><b>Registered patients:</b> <span class=\"count\">%s</span>; "
               "<span class=\"count\">%s</span> at high risk of an emergency admission in the "
               "next 12 months (tiers 1-2",
            b1, b2);
    if (n > 0 && isfinite(h))
        fprintf(f, ", %.1f%% of the list", 100 * h / n);
    fprintf(f, "), of whom <span class=\"count\">%s</span> in tier 1, the highest.</li>\n", b3);
    if (isfinite(need)) {
        cell(t, "need_index", i, b1, sizeof b1);
        fprintf(f, "<li><b>Need:</b> need index %s — its patients are predicted to need "
                   "%.0f%% %s care per head than the average PCN.</li>\n",
                b1, fabs(need - 1) * 100, need >= 1 ? "more" : "less");
    }
    cell(t, "n_observed_list", i, b1, sizeof b1);
    cell(t, "expected_list", i, b2, sizeof b2);
    cell(t, "oe_list", i, b3, sizeof b3);
    fprintf(f, "<li><b>Emergency admissions:</b> <span class=\"count\">%s</span> observed "
               "against %s expected from its patients' predicted risks: observed / expected %s",
            b1, b2, b3);
    cell(t, "oe_lo_list", i, b1, sizeof b1);
    cell(t, "oe_hi_list", i, b2, sizeof b2);
    if (isfinite(report_val(t, "oe_lo_list", i)))
        fprintf(f, " (95%% CI %s to %s)", b1, b2);
    fputs(isnan(fl)   ? ". Its funnel position is withheld or not available."
          : fl >= 2   ? ", <b>above the funnel's 99.8% limit</b>: more admissions than its "
                        "patients' risk explains, beyond chance — worth a look at access, "
                        "pathways or coding."
          : fl >= 1   ? ", <b>above the funnel's 95% limit</b>: more admissions than its "
                        "patients' risk explains — worth a look at access, pathways or coding."
          : fl <= -2  ? ", <b>below the funnel's 99.8% limit</b>: fewer admissions than its "
                        "patients' risk predicts, beyond chance."
          : fl <= -1  ? ", <b>below the funnel's 95% limit</b>: fewer admissions than its "
                        "patients' risk predicts."
                      : ", within the funnel's 95% limits: as many as its patients' risk "
                        "predicts, allowing for chance.",
          f);
    fputs("</li>\n", f);
    if (in->inequality) {
        size_t q = row_of(in->inequality, code), s = row_of(in->sii, code);
        double m1 = q != (size_t)-1 ? report_val(in->inequality, "mean_risk_imdq1", q) : NAN;
        double m5 = q != (size_t)-1 ? report_val(in->inequality, "mean_risk_imdq5", q) : NAN;
        fputs("<li><b>Deprivation gradient:</b> ", f);
        if (isfinite(m1) && isfinite(m5) && m5 > 0)
            fprintf(f, "patients in the most deprived fifth of areas have a mean risk of %.1f%%, "
                       "%.1f times the %.1f%% of the least deprived fifth",
                    100 * m1, m1 / m5, 100 * m5);
        else
            fputs("not every fifth of deprivation has enough patients to compare the most and "
                  "least deprived (withheld or empty)",
                  f);
        if (s != (size_t)-1 && isfinite(report_val(in->sii, "sii", s))) {
            cell(in->sii, "sii", s, b1, sizeof b1);
            cell(in->sii, "sii_lo", s, b2, sizeof b2);
            cell(in->sii, "sii_hi", s, b3, sizeof b3);
            cell(in->sii, "rii", s, b4, sizeof b4);
            fprintf(f, "; slope index of inequality %s (95%% CI %s to %s), relative index %s", b1,
                    b2, b3, b4);
        }
        fputs(".</li>\n", f);
    }
    if (in->offers) {
        size_t o = row_of(in->offers, code);
        if (o != (size_t)-1)
            cell(in->offers, "n_offered", o, b1, sizeof b1);
        fprintf(f, "<li><b>Proactive care:</b> <span class=\"count\">%s</span> of its patients "
                   "with the highest predicted risk are offered proactive care: this PCN's rows "
                   "of the intervention list, each with the reasons for their risk "
                   "(owner-only patient files).</li>\n",
                o != (size_t)-1 ? b1 : "none");
    }
    fputs("</ul>\n", f);
}

static void pack(FILE *f, const strata_report_input *in, const report_names *rn, size_t i,
                 const char *rules)
{
    const strata_table *t = in->summary;
    const char *code = strata_table_key(t, 0, i) ? strata_table_key(t, 0, i) : "";
    const char *nm = report_name(rn, "PCN", code);
    char tidy[256], title[400];
    fputs("<section class=\"pack\" id=\"pcn-", f);
    report_esc(f, code);
    fputs("\"><h2>", f);
    report_esc(f, nm ? report_name_tidy(nm, tidy, sizeof tidy) : code);
    fputs(" <span class=\"code\">", f);
    report_esc(f, code);
    fputs("</span></h2>\n<p class=\"sub\">", f);
    report_esc(f, in->title ? in->title : "strata report");
    fprintf(f, " — one-page summary for the PCN's clinical director (strata %s)</p>\n",
            strata_version());
    findings(f, in, i, code);
    fputs("<div class=\"charts c1\">", f);
    report_pyramid(f, t, i, "Risk tiers of this PCN");
    if (strata_table_find(t, "oe_list") >= 0)
        report_funnel(f, t, in->funnel, rn, code);
    fputs("</div>\n<div class=\"charts c2\">", f);
    if (in->inequality) {
        size_t q = row_of(in->inequality, code);
        snprintf(title, sizeof title, "Mean predicted risk by deprivation in this PCN");
        if (q != (size_t)-1)
            report_gradient(f, in->inequality, q, in->sii, row_of(in->sii, code), title);
    }
    fputs("<p class=\"note\">Tier 1 is the top 0.5% of predicted risk, tier 2 the next "
          "4.5%, tier 3 the next 15%. On the funnel each dot is a PCN (this one ringed and "
          "named); dots above the upper line have more admissions than their patients' risk "
          "explains. Bars: mean risk in each fifth of deprivation (Q1 most deprived), as wide as "
          "its share of patients; the line is the slope index of inequality. ",
          f);
    report_esc(f, rules);
    fputs("</p></div></section>\n", f);
}

strata_status strata_report_pcn_packs(strata_ctx *ctx, const strata_report_input *in,
                                      const char *path)
{
    char *tmp, lab[320], rules[1024];
    report_names *rn = NULL;
    size_t all;
    FILE *f;
    if (!in->summary)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "%s: the PCN packs need the summary table", path);
    STRATA_TRY(report_check_disclosed(ctx, in->summary, path));
    STRATA_TRY(report_check_disclosed(ctx, in->inequality, path));
    STRATA_TRY(report_check_disclosed(ctx, in->sii, path));
    STRATA_TRY(report_check_disclosed(ctx, in->offers, path));
    STRATA_TRY(report_names_load(ctx, in->data_dir, &rn));
    {
        strata_sdc_params applied;
        report_rules(in->summary, in->sdc, &applied, rules, sizeof rules);
    }
    all = strata_table_nrows(in->summary) - 1; /* the last row is ALL */
    f = report_page_open(ctx, path, in->title ? in->title : "strata", ": one page per PCN",
                         pack_css, &tmp);
    if (!f) {
        report_names_free(ctx, rn);
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    }
    fputs("<div class=\"toc\"><h1>", f);
    report_esc(f, in->title ? in->title : "strata");
    fprintf(f, ": one page per PCN</h1>\n<p class=\"note\">%zu PCNs, one A4 page each when "
               "printed (this list is not printed).</p><ol class=\"index\">\n",
            all);
    for (size_t i = 0; i < all; i++) {
        fputs("<li><a href=\"#pcn-", f);
        report_esc(f, strata_table_key(in->summary, 0, i));
        fputs("\">", f);
        report_esc(f, report_area_label(rn, "PCN", strata_table_key(in->summary, 0, i), lab, sizeof lab));
        fputs("</a></li>\n", f);
    }
    fputs("</ol></div>\n", f);
    for (size_t i = 0; i < all; i++) {
        strata_progress(ctx, "report", (double)i, (double)all);
        pack(f, in, rn, i, rules);
    }
    strata_progress(ctx, "report", (double)all, (double)all);
    fputs("</body></html>\n", f);
    report_names_free(ctx, rn);
    return strata_out_publish(ctx, f, tmp, path, 0644u);
}
