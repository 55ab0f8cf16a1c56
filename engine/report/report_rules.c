/* engine/report/report_rules.c — the disclosure rules the tables were
 * published under, as the PCN packs and the workbook's README sheet state
 * them: read back from a disclosed table (strata_table_rules, the record the
 * disclosure path keeps) and worded by strata_sdc_describe, the sentence of
 * manifest.json's "disclosure.rules", the report and the CLI summary — never
 * a hard-coded "1-7 withheld, rounded to 5": off or 10/10 say so. */
#include "report_internal.h"

#include <stdio.h>
#include <string.h>

int report_rules(const strata_table *t, const strata_sdc_params *fallback, strata_sdc_params *rules,
                 char *buf, size_t size)
{
    size_t len;
    if (!(t && strata_table_rules(NULL, t, rules) == STRATA_OK)) {
        if (!fallback) {
            snprintf(buf, size, "no aggregate table");
            return 0;
        }
        *rules = *fallback;
    }
    strata_sdc_describe(rules, buf, size);
    len = strlen(buf);
    if (!rules->enabled && len < size)
        snprintf(buf + len, size - len, ". Disclosure control was switched OFF for this run "
                                        "(disclosure: false): do not publish these numbers.");
    return 1;
}
