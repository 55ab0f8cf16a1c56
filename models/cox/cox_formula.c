/* models/cox/cox_formula.c — the Cox formula `Surv(time, event) ~ terms` as R
 * writes it: the left side names the time and event columns, a `strata(x)` term
 * names the column whose levels get separate baseline hazards, `cluster(id)` the
 * column whose equal values form one cluster of the robust variance, and every other
 * term goes to the GLM formula machinery (factors, rcs(), log(), interactions,
 * offset()) as `time ~ terms`, whose intercept column the Cox design drops.
 * Invariant: the text handed on is the user's terms, in order, minus strata()
 * and cluster(). */
#include "cox_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void cox_formula_free(strata_ctx *ctx, cox_formula *cf)
{
    if (!cf)
        return;
    strata_free(ctx, cf->time, 0);
    strata_free(ctx, cf->event, 0);
    strata_free(ctx, cf->strata, 0);
    strata_free(ctx, cf->cluster, 0);
    strata_free(ctx, cf->glm, 0);
    strata_free(ctx, cf, sizeof *cf);
}

/* Copies s[0..n) with surrounding blanks trimmed. */
static char *dup_trim(strata_ctx *ctx, const char *s, size_t n)
{
    char *o;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!(o = strata_alloc(ctx, n + 1)))
        return NULL;
    memcpy(o, s, n);
    o[n] = 0;
    return o;
}

/* Matches "name(inner)" with blanks allowed; *in, *inlen get the inner text. */
static int call_of(const char *s, size_t n, const char *name, const char **in, size_t *inlen)
{
    size_t k = strlen(name);
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n < k + 2 || strncmp(s, name, k) != 0)
        return 0;
    s += k, n -= k;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    if (n < 2 || *s != '(' || s[n - 1] != ')')
        return 0;
    *in = s + 1;
    *inlen = n - 2;
    return 1;
}

/* Left side: Surv(time, event). */
static strata_status parse_lhs(strata_ctx *ctx, const char *text, const char *lhs, size_t n,
                               cox_formula *cf)
{
    const char *in, *comma;
    size_t len;
    if (!call_of(lhs, n, "Surv", &in, &len) || !(comma = memchr(in, ',', len)))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": the left side must be Surv(time, event)",
                           text);
    cf->time = dup_trim(ctx, in, (size_t)(comma - in));
    cf->event = dup_trim(ctx, comma + 1, len - (size_t)(comma + 1 - in));
    if (!cf->time || !cf->event)
        return STRATA_ENOMEM;
    if (!*cf->time || !*cf->event || strchr(cf->event, ','))
        return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": Surv() takes two column names (time, event)",
                           text);
    return STRATA_OK;
}

/* Right side: terms split at top-level '+'; strata(x) taken out. */
static strata_status parse_rhs(strata_ctx *ctx, const char *text, const char *rhs, cox_formula *cf)
{
    size_t n = strlen(rhs), used = 0, cap = strlen(cf->time) + 2 * n + 8; /* " +" per term */
    int depth = 0;
    if (!(cf->glm = strata_alloc(ctx, cap)))
        return STRATA_ENOMEM;
    used = (size_t)snprintf(cf->glm, cap, "%s ~ ", cf->time);
    for (size_t a = 0, i = 0; i <= n; i++) {
        const char *in;
        size_t len;
        if (i < n && rhs[i] == '(')
            depth++;
        else if (i < n && rhs[i] == ')')
            depth--;
        if (i < n && (rhs[i] != '+' || depth != 0))
            continue;
        char **special = call_of(rhs + a, i - a, "strata", &in, &len)    ? &cf->strata
                         : call_of(rhs + a, i - a, "cluster", &in, &len) ? &cf->cluster
                                                                         : NULL;
        if (special) {
            if (*special)
                return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": one %s() term at most", text,
                                   special == &cf->strata ? "strata" : "cluster");
            if (!(*special = dup_trim(ctx, in, len)))
                return STRATA_ENOMEM;
        } else {
            used += (size_t)snprintf(cf->glm + used, cap - used, "%s%.*s", cf->glm[used - 2] == '~' ? "" : " +",
                                     (int)(i - a), rhs + a);
        }
        a = i + 1;
    }
    if (cf->glm[used - 2] == '~')
        return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": no terms besides strata() and cluster()",
                           text);
    return STRATA_OK;
}

strata_status cox_formula_parse(strata_ctx *ctx, const char *text, cox_formula **out)
{
    const char *tilde = text ? strchr(text, '~') : NULL;
    cox_formula *cf;
    strata_status st;
    *out = NULL;
    if (!tilde)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula \"%s\": expected Surv(time, event) ~ terms",
                           text ? text : "(null)");
    if (!(cf = strata_calloc(ctx, 1, sizeof *cf)))
        return STRATA_ENOMEM;
    st = parse_lhs(ctx, text, text, (size_t)(tilde - text), cf);
    if (st == STRATA_OK)
        st = parse_rhs(ctx, text, tilde + 1, cf);
    if (st != STRATA_OK) {
        cox_formula_free(ctx, cf);
        return st;
    }
    *out = cf;
    return STRATA_OK;
}
