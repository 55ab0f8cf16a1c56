/* engine/report/report_cv.c — the report's section for an elastic net chosen
 * by cross-validation: the CV curve (mean of the CV measure +- 1 SE at each
 * lambda, against log lambda, as glmnet's plot.cv.glmnet draws it) with
 * lambda.min and lambda.1se marked, and the number of non-zero terms kept.
 * Invariant: inline SVG only (no scripts); nothing when there was no CV. */
#include "report_internal.h"
#include "strata/elnet.h"

#include <math.h>

typedef struct cv_box {
    double x0, x1, y0, y1; /* log lambda and measure ranges */
    double L, T, W, H;     /* plot box in pixels */
} cv_box;

static double cx(const cv_box *b, double x) { return b->L + (x - b->x0) / (b->x1 - b->x0) * b->W; }
static double cy(const cv_box *b, double y) { return b->T + b->H - (y - b->y0) / (b->y1 - b->y0) * b->H; }

/* Frame, 5 ticks per axis (values as %.3g) and axis labels. */
static void cv_frame(FILE *f, const cv_box *b, const char *measure)
{
    fprintf(f, "<svg class=\"cvcurve\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
               "aria-label=\"Cross-validated %s against log lambda\">",
            b->L + b->W + 24, b->T + b->H + 48, b->L + b->W + 24, b->T + b->H + 48, measure);
    fprintf(f, "<text class=\"ctitle\" x=\"%.0f\" y=\"16\">Cross-validated %s against log(lambda)</text>", b->L,
            measure);
    fprintf(f, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>", b->L, b->T, b->W,
            b->H);
    for (int k = 0; k <= 4; k++) {
        double x = b->x0 + (b->x1 - b->x0) * k / 4, y = b->y0 + (b->y1 - b->y0) * k / 4;
        fprintf(f, "<text class=\"tick\" text-anchor=\"middle\" x=\"%.1f\" y=\"%.0f\">%.3g</text>", cx(b, x),
                b->T + b->H + 14, x);
        fprintf(f, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>", b->L, cy(b, y),
                b->L + b->W, cy(b, y));
        fprintf(f, "<text class=\"tick\" text-anchor=\"end\" x=\"%.0f\" y=\"%.1f\">%.4g</text>", b->L - 4,
                cy(b, y) + 4, y);
    }
    fprintf(f, "<text class=\"axis\" text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\">log(lambda)</text>",
            b->L + b->W / 2, b->T + b->H + 34);
    fprintf(f, "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(14 %.0f) rotate(-90)\">"
               "CV %s (mean &#177; 1 SE)</text>",
            b->T + b->H / 2, measure);
}

/* A dashed vertical line at step k's log lambda, labelled. */
static void cv_mark(FILE *f, const cv_box *b, const strata_elnet *e, size_t k, const char *name, double dy)
{
    double x = cx(b, log(strata_elnet_lambda(e, k)));
    fprintf(f, "<line class=\"cvmark\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", x, b->T, x, b->T + b->H);
    fprintf(f, "<text class=\"ratio\" x=\"%.1f\" y=\"%.0f\">%s %.4g (%d terms)</text>", x + 4, b->T + 14 + dy,
            name, strata_elnet_lambda(e, k), strata_elnet_df(e, k));
}

static void cv_chart(FILE *f, const strata_elnet *e)
{
    size_t n = strata_elnet_cv_steps(e);
    cv_box b = {INFINITY, -INFINITY, INFINITY, -INFINITY, 72, 28, 520, 300};
    for (size_t k = 0; k < n; k++) {
        double x = log(strata_elnet_lambda(e, k)), m = strata_elnet_cv_mean(e, k), s = strata_elnet_cv_sd(e, k);
        b.x0 = fmin(b.x0, x);
        b.x1 = fmax(b.x1, x);
        b.y0 = fmin(b.y0, m - s);
        b.y1 = fmax(b.y1, m + s);
    }
    if (!(b.x1 > b.x0))
        b.x0 -= 1, b.x1 += 1;
    if (!(b.y1 > b.y0))
        b.y0 -= 1, b.y1 += 1;
    double pad = 0.05 * (b.y1 - b.y0);
    b.y0 -= pad;
    b.y1 += pad;
    cv_frame(f, &b, strata_elnet_cv_measure(e));
    for (size_t k = 0; k < n; k++) {
        double x = cx(&b, log(strata_elnet_lambda(e, k))), m = strata_elnet_cv_mean(e, k),
               s = strata_elnet_cv_sd(e, k);
        fprintf(f, "<line class=\"cvbar\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, cy(&b, m - s), x,
                cy(&b, m + s));
        fprintf(f, "<circle class=\"cvpt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", x, cy(&b, m));
    }
    cv_mark(f, &b, e, strata_elnet_cv_min(e), "lambda.min", 0);
    cv_mark(f, &b, e, strata_elnet_cv_1se(e), "lambda.1se", 16);
    fputs("</svg>\n", f);
}

void report_cv_section(FILE *f, const strata_elnet *e)
{
    if (!e || strata_elnet_cv_steps(e) == 0)
        return;
    size_t sel = strata_elnet_selected(e);
    fputs("<h2 id=\"cv\">How much to shrink the model? Cross-validation</h2>\n", f);
    fputs("<p class=\"howto\">The model is an elastic net: a penalty shrinks the coefficients, and "
          "the larger lambda, the fewer terms it keeps. Each dot is the cross-validated error "
          "(lower is better; for AUC higher) at one lambda, with a bar of one standard error. "
          "lambda.min has the best error; lambda.1se is the largest lambda within one standard "
          "error of it, a simpler model that predicts about as well.</p>\n",
          f);
    cv_chart(f, e);
    fprintf(f, "<p>Chosen: lambda = %.6g, with <strong>%d non-zero terms</strong> (alpha %g).</p>\n",
            strata_elnet_lambda(e, sel), strata_elnet_df(e, sel), strata_elnet_alpha(e));
}
