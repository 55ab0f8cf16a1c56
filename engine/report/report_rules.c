/* engine/report/report_rules.c — the disclosure rules as the run applied them,
 * in a sentence for the report, the PCN packs and the workbook's README sheet
 * (never a hard-coded "1-7 withheld, rounded to 5": a run with disclosure off,
 * or with 10/10, says so). */
#include "report_internal.h"

#include <stdarg.h>
#include <stdio.h>

static size_t put(char *buf, size_t size, size_t len, const char *fmt, ...) STRATA_PRINTF(4, 5);
static size_t put(char *buf, size_t size, size_t len, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (len >= size)
        return len;
    va_start(ap, fmt);
    k = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    return k < 0 ? len : len + (size_t)k;
}

const char *report_disclosure_rules(const strata_sdc_params *p, char *buf, size_t size)
{
    strata_sdc_params d;
    size_t len = 0;
    if (!size)
        return buf;
    buf[0] = '\0';
    if (!p) {
        strata_sdc_params_init(&d);
        p = &d;
    }
    if (!p->enabled) {
        snprintf(buf, size, "Disclosure control was switched off for this run (disclosure: "
                            "enabled: false): every count is exact, small numbers included. Do "
                            "not publish these figures or share them outside the organisation.");
        return buf;
    }
    if (p->hi >= p->lo && p->hi >= 1)
        len = put(buf, size, len, "Counts of people or events from %.0f to %.0f are withheld (*)",
                  p->lo > 0 ? p->lo : 0, p->hi);
    else
        len = put(buf, size, len, "No count is withheld for being small");
    if (p->round_to > 1)
        len = put(buf, size, len, " and other counts are rounded to the nearest %.0f", p->round_to);
    else
        len = put(buf, size, len, " and other counts are shown exactly");
    if (p->secondary)
        len = put(buf, size, len, "; further cells are withheld so a hidden number cannot be "
                                  "worked out from totals (practices add up to PCNs, PCNs to the "
                                  "ICB)");
    if (p->protect_observed)
        len = put(buf, size, len, "; where an observed count is hidden its expected count and "
                                  "O/E are hidden too");
    put(buf, size, len, ". Percentages are recomputed from the published counts; ratios and "
                        "indices (O/E, SII, RII) are not rounded.");
    return buf;
}
