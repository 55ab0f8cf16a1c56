/* engine/io/events_date.c — calendar dates <-> days since 1970-01-01 (the
 * proleptic Gregorian calendar, H. Hinnant's days_from_civil), in the three
 * formats NHS extracts use. Invariant: parse(format_iso(d)) == d for every
 * int32 day of years 0001..9999, and only real calendar dates parse. */
#include "internal.h"
#include "strata/derive.h"
#include "events_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int32_t days_from_civil(int y, int m, int d)
{
    int era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static void civil_from_days(int32_t z0, int *y, int *m, int *d)
{
    long z = (long)z0 + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

int strata_date_parse(const char *s, strata_date_format f, int32_t *day)
{
    int y, m, d;
    size_t len;
    if (!s)
        return -1;
    len = strlen(s);
    switch (f) {
    case STRATA_DATE_ISO:
        if (len < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
            digits(s + 8, 2, &d) || (len > 10 && s[10] != 'T' && s[10] != ' '))
            return -1;
        break;
    case STRATA_DATE_DMY:
        if (len != 10 || s[2] != '/' || s[5] != '/' || digits(s, 2, &d) || digits(s + 3, 2, &m) ||
            digits(s + 6, 4, &y))
            return -1;
        break;
    case STRATA_DATE_YMD:
        if (len != 8 || digits(s, 4, &y) || digits(s + 4, 2, &m) || digits(s + 6, 2, &d))
            return -1;
        break;
    default:
        return -1;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

void strata_date_format_iso(int32_t day, char out[11])
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    char buf[48];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int strata_date_format_parse(const char *name, strata_date_format *out)
{
    if (!name)
        return -1;
    if (!strcasecmp(name, "ISO") || !strcasecmp(name, "YYYY-MM-DD"))
        *out = STRATA_DATE_ISO;
    else if (!strcasecmp(name, "DD/MM/YYYY"))
        *out = STRATA_DATE_DMY;
    else if (!strcasecmp(name, "YYYYMMDD"))
        *out = STRATA_DATE_YMD;
    else
        return -1;
    return 0;
}

strata_status strata_date_levels(strata_ctx *ctx, const char *file, const strata_column_info *ci,
                                 int32_t **lvday)
{
    *lvday = NULL;
    if (!ci->categorical) {
        if (ci->dtype == STRATA_DT_FLOAT32 || ci->dtype == STRATA_DT_FLOAT64)
            return STRATA_FAIL(ctx, STRATA_EDATA, "%s:/%s/%s: a date column holds integer days "
                               "since 1970-01-01 or ISO date labels, not floats",
                               file, ci->group, ci->name);
        return STRATA_OK;
    }
    if (!(*lvday = strata_alloc(ctx, (ci->n_levels ? ci->n_levels : 1) * sizeof **lvday)))
        return STRATA_ENOMEM;
    for (size_t l = 0; l < ci->n_levels; l++)
        if (strata_date_parse(ci->levels[l], STRATA_DATE_ISO, &(*lvday)[l]) != 0) {
            strata_free(ctx, *lvday, 0);
            *lvday = NULL;
            return STRATA_FAIL(ctx, STRATA_EDATA, "%s:/%s/%s: level '%s' is not a date "
                               "(YYYY-MM-DD)", file, ci->group, ci->name, ci->levels[l]);
        }
    return STRATA_OK;
}

void strata_days_convert(const int32_t *lvday, int32_t *v, size_t n)
{
    if (!lvday)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = v[i] < 0 ? INT32_MIN : lvday[v[i]];
}
