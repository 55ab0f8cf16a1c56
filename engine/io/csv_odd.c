/* engine/io/csv_odd.c — values that do not fit their CSV column: the first
 * ones kept with their editor lines, the stray rule (a column of numbers but
 * for a few values is an error, not a silent categorical), and the error
 * message that names them and says how to go on. Invariant: the message
 * always ends with the advice, however many values and columns there are. */
#include "csv_internal.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

strata_status csv_odd_add(strata_ctx *ctx, csv_odd *o, const char *v, size_t line)
{
    char shown[96];
    o->n++;
    if (o->n_listed == STRATA_CSV_ODD_LISTED)
        return STRATA_OK;
    csv_show_value(shown, sizeof shown, v);
    if (!(o->value[o->n_listed] = strata_strdup(ctx, shown)))
        return STRATA_ENOMEM;
    o->line[o->n_listed++] = line;
    return STRATA_OK;
}

void csv_odd_free(strata_ctx *ctx, csv_odd *o)
{
    for (size_t k = 0; k < o->n_listed; k++)
        strata_free(ctx, o->value[k], 0);
    memset(o, 0, sizeof *o);
}

int csv_odd_is_stray(size_t n_odd, size_t n_values)
{
    /* n_odd / n_values < PERCENT / 100, in integers */
    return n_odd > 0 && n_odd < n_values && n_odd <= STRATA_CSV_STRAY_MAX &&
           n_odd * 100 < n_values * STRATA_CSV_STRAY_PERCENT;
}

/* ---- the message -------------------------------------------------------------- */

typedef struct sbuf {
    char *b;
    size_t cap, len;
} sbuf;

static void sb_add(sbuf *s, const char *fmt, ...) STRATA_PRINTF(2, 3);
static void sb_add(sbuf *s, const char *fmt, ...)
{
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(s->b + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->len += (size_t)k < s->cap - s->len ? (size_t)k : s->cap - s->len - 1;
}

/* A shown value that can go into a --na list as it is. */
static int plain_token(const char *v)
{
    size_t n = strlen(v);
    return n > 0 && n <= 40 && !strpbrk(v, ",'\\") && !(n >= 3 && !strcmp(v + n - 3, "..."));
}

static int listed_before(const csv_odd_col *cols, size_t c, size_t k)
{
    const char *v = cols[c].odd->value[k];
    for (size_t i = 0; i <= c; i++)
        for (size_t j = 0; j < (i == c ? k : cols[i].odd->n_listed); j++)
            if (!strcmp(cols[i].odd->value[j], v))
                return 1;
    return 0;
}

/* "--na 'NA,,?,sixty'": the current tokens plus the distinct plain odd values. */
static void na_advice(sbuf *t, const csv_odd_col *cols, size_t n, const char *const *na,
                      size_t n_na)
{
    size_t added = 0, start = t->len;
    sb_add(t, "--na '");
    for (size_t i = 0; i < n_na; i++)
        sb_add(t, "%s%s", i ? "," : "", na[i]);
    for (size_t c = 0; c < n && added < 8; c++)
        for (size_t k = 0; k < cols[c].odd->n_listed && added < 8; k++) {
            const char *v = cols[c].odd->value[k];
            if (plain_token(v) && !listed_before(cols, c, k)) {
                sb_add(t, "%s%s", n_na || added ? "," : "", v);
                added++;
            }
        }
    if (added) {
        sb_add(t, "'");
        return;
    }
    t->len = start;
    t->b[start] = 0;
    sb_add(t, "--na TOKENS");
}

static void advice(sbuf *t, const csv_odd_col *cols, size_t n, const char *const *na, size_t n_na)
{
    size_t n_stray = 0;
    sb_add(t, "To go on: correct the file; or mark the values as missing: ");
    na_advice(t, cols, n, na, n_na);
    for (size_t c = 0; c < n; c++)
        if (cols[c].want == STRATA_CSV_AUTO && n_stray < 3)
            sb_add(t, "%s%s=cat", n_stray++ ? "," : "; or keep the text as categories: --type ",
                   cols[c].name);
    sb_add(t, "; or skip the rows that hold them: --skip-bad-rows%s.",
           n_stray ? " (the column is then read as numbers)" : "");
}

static void head(sbuf *h, const char *path, const csv_odd_col *c)
{
    size_t k = c->odd->n;
    if (c->want == STRATA_CSV_AUTO) {
        double pct = 100.0 * (double)k / (double)c->n_values;
        char share[32];
        if (pct < 0.001)
            snprintf(share, sizeof share, "under 0.001 %%");
        else
            snprintf(share, sizeof share, "%.2g %%", pct);
        sb_add(h, "%s: column '%s' holds numbers, but %zu of its %zu values (%s) %s:", path,
               c->name, k, c->n_values, share, k == 1 ? "is not a number" : "are not numbers");
        return;
    }
    sb_add(h, "%s: column '%s' (type %s%s%s) has %zu value%s that %s not %s:", path, c->name,
           strata_csv_type_name(c->want), c->role ? ", role " : "",
           c->role ? strata_role_name(c->role) : "", k, k == 1 ? "" : "s", k == 1 ? "is" : "are",
           c->want == STRATA_CSV_INT    ? (k == 1 ? "an integer" : "integers")
           : c->want == STRATA_CSV_DATE ? (k == 1 ? "a date" : "dates")
                                        : (k == 1 ? "a number" : "numbers"));
}

strata_status csv_odd_fail(strata_ctx *ctx, const char *path, const csv_odd_col *cols, size_t n,
                           const char *const *na, size_t n_na)
{
    char msg[STRATA_ERRMSG_MAX - 64], tail[512], hb[512], item[160];
    sbuf m = {msg, sizeof msg, 0}, t = {tail, sizeof tail, 0};
    size_t c;
    msg[0] = tail[0] = 0;
    advice(&t, cols, n, na, n_na);
    for (c = 0; c < n; c++) {
        const csv_odd *o = cols[c].odd;
        sbuf h = {hb, sizeof hb, 0};
        size_t k;
        hb[0] = 0;
        head(&h, path, &cols[c]);
        if (m.len + h.len + 48 + t.len >= m.cap)
            break;
        sb_add(&m, "%s", hb);
        for (k = 0; k < o->n_listed; k++) {
            int len = snprintf(item, sizeof item, "%s line %zu '%s'", k ? "," : "", o->line[k],
                               o->value[k]);
            if (len < 0 || m.len + (size_t)len + 40 + t.len >= m.cap)
                break;
            sb_add(&m, "%s", item);
        }
        if (k < o->n)
            sb_add(&m, "%s and %zu more", k ? "," : "", o->n - k);
        sb_add(&m, ".\n");
    }
    if (c < n)
        sb_add(&m, "(and %zu more column%s like these)\n", n - c, n - c == 1 ? "" : "s");
    sb_add(&m, "%s", tail);
    return STRATA_FAIL(ctx, STRATA_EDATA, "%s", msg);
}
