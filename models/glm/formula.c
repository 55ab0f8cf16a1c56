/* models/glm/formula.c — the model formula: parse `y ~ a + b + c:d + e*f + rcs(x, k)
 * + log(x) + log1p(x) + C(f, ref=L) + offset(log(e)) - 1` into variables and
 * terms with R's ordering (terms by degree, variables by first appearance),
 * R's contrast rules and R's coefficient names. Invariant: the term and column
 * layout depend only on the text and the frozen levels/knots, never on data order. */
#include "glm_internal.h"
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_MAX 128

typedef struct tlist {
    int n;
    uint64_t m[TL_MAX];
} tlist;

#define TL_ZERO UINT64_MAX /* the literal 0 ("no intercept") */

typedef struct parser {
    strata_ctx *ctx;
    const char *text;
    const char *s;
    glm_formula *f;
    strata_status st;
} parser;

static void skip_ws(parser *P)
{
    while (*P->s && isspace((unsigned char)*P->s))
        P->s++;
}

static int perr(parser *P, const char *what)
{
    if (P->st == STRATA_OK)
        P->st = STRATA_FAIL(P->ctx, STRATA_ESPEC, "formula \"%s\": %s at position %d", P->text,
                            what, (int)(P->s - P->text) + 1);
    return -1;
}

static int is_id0(int c) { return isalpha(c) || c == '_' || c == '.'; }
static int is_id(int c) { return isalnum(c) || c == '_' || c == '.'; }

/* Reads an identifier (or a quoted string when quoted_ok) into buf. */
static int read_ident(parser *P, char *buf, size_t size, int quoted_ok)
{
    size_t n = 0;
    skip_ws(P);
    if (quoted_ok && (*P->s == '"' || *P->s == '\'')) {
        char q = *P->s++;
        while (*P->s && *P->s != q) {
            if (n + 1 >= size)
                return perr(P, "name too long");
            buf[n++] = *P->s++;
        }
        if (*P->s != q)
            return perr(P, "unterminated quoted name");
        P->s++;
        buf[n] = 0;
        return 0;
    }
    if (*P->s == '`') {
        P->s++;
        while (*P->s && *P->s != '`') {
            if (n + 1 >= size)
                return perr(P, "name too long");
            buf[n++] = *P->s++;
        }
        if (*P->s != '`')
            return perr(P, "unterminated `name`");
        P->s++;
        buf[n] = 0;
        return 0;
    }
    if (!(is_id0((unsigned char)*P->s) || (quoted_ok && is_id((unsigned char)*P->s))))
        return perr(P, "expected a column name");
    while (is_id((unsigned char)*P->s)) {
        if (n + 1 >= size)
            return perr(P, "name too long");
        buf[n++] = *P->s++;
    }
    buf[n] = 0;
    return 0;
}

static int expect(parser *P, char c)
{
    char msg[32];
    skip_ws(P);
    if (*P->s != c) {
        snprintf(msg, sizeof msg, "expected '%c'", c);
        return perr(P, msg);
    }
    P->s++;
    return 0;
}

/* Finds or adds a variable by label; returns its index or -1. */
static int add_var(parser *P, const char *label, const char *column, glm_transform tr, int k,
                   const char *ref)
{
    glm_formula *f = P->f;
    glm_var *v;
    for (size_t i = 0; i < f->nvars; i++) {
        if (!strcmp(f->vars[i].label, label)) {
            if (ref && !f->vars[i].ref) {
                f->vars[i].ref = strata_strdup(P->ctx, ref);
                if (!f->vars[i].ref)
                    return P->st = STRATA_ENOMEM, -1;
            }
            return (int)i;
        }
    }
    if (f->nvars >= 64)
        return perr(P, "more than 64 variables");
    v = &f->vars[f->nvars];
    memset(v, 0, sizeof *v);
    v->label = strata_strdup(P->ctx, label);
    v->column = strata_strdup(P->ctx, column);
    if (ref)
        v->ref = strata_strdup(P->ctx, ref);
    if (!v->label || !v->column || (ref && !v->ref)) {
        strata_free(P->ctx, v->label, 0);
        strata_free(P->ctx, v->column, 0);
        strata_free(P->ctx, v->ref, 0);
        return P->st = STRATA_ENOMEM, -1;
    }
    v->tr = tr;
    v->rcs_k = k;
    v->ncols = tr == GT_RCS ? (size_t)(k - 1) : 1;
    return (int)f->nvars++;
}

/* A variable expression: name, log(name), log1p(name), rcs(name, k), C(name, ref=L).
 * Returns the variable index or -1. allow_rcs/allow_c restrict offsets. */
static int parse_varexpr(parser *P, int in_offset)
{
    char id[256], col[256], label[600], ref[256];
    if (read_ident(P, id, sizeof id, 0))
        return -1;
    skip_ws(P);
    if (*P->s != '(')
        return add_var(P, id, id, GT_NONE, 0, NULL);
    P->s++;
    if (!strcmp(id, "log") || !strcmp(id, "log1p")) {
        if (read_ident(P, col, sizeof col, 0) || expect(P, ')'))
            return -1;
        snprintf(label, sizeof label, "%s(%s)", id, col);
        return add_var(P, label, col, id[3] ? GT_LOG1P : GT_LOG, 0, NULL);
    }
    if (!strcmp(id, "rcs") && !in_offset) {
        long k;
        char *end;
        if (read_ident(P, col, sizeof col, 0) || expect(P, ','))
            return -1;
        skip_ws(P);
        k = strtol(P->s, &end, 10);
        if (end == P->s || k < 3 || k > GLM_RCS_MAXK)
            return perr(P, "rcs(x, k) needs k in 3..7");
        P->s = end;
        if (expect(P, ')'))
            return -1;
        snprintf(label, sizeof label, "rcs(%s, %ld)", col, k);
        return add_var(P, label, col, GT_RCS, (int)k, NULL);
    }
    if (!strcmp(id, "C") && !in_offset) {
        char key[32];
        if (read_ident(P, col, sizeof col, 0) || expect(P, ',') ||
            read_ident(P, key, sizeof key, 0))
            return -1;
        if (strcmp(key, "ref"))
            return perr(P, "C(x, ref=LEVEL) takes only ref");
        if (expect(P, '=') || read_ident(P, ref, sizeof ref, 1) || expect(P, ')'))
            return -1;
        return add_var(P, col, col, GT_NONE, 0, ref);
    }
    return perr(P, "unknown function (known: log, log1p, rcs, C, offset)");
}

static void tl_add(tlist *t, uint64_t m)
{
    for (int i = 0; i < t->n; i++)
        if (t->m[i] == m)
            return;
    if (t->n < TL_MAX)
        t->m[t->n++] = m;
}

static int parse_expr(parser *P, tlist *out);

static int parse_atom(parser *P, tlist *out)
{
    out->n = 0;
    skip_ws(P);
    if (*P->s == '(') {
        P->s++;
        if (parse_expr(P, out) || expect(P, ')'))
            return -1;
        return 0;
    }
    if (*P->s == '0' || *P->s == '1') {
        char c = *P->s++;
        if (is_id((unsigned char)*P->s))
            return perr(P, "unexpected number");
        tl_add(out, c == '0' ? TL_ZERO : 0);
        return 0;
    }
    if (!strncmp(P->s, "offset", 6)) {
        const char *save = P->s;
        P->s += 6;
        skip_ws(P);
        if (*P->s == '(') {
            int v;
            char lab[700];
            P->s++;
            v = parse_varexpr(P, 1);
            if (v < 0 || expect(P, ')'))
                return -1;
            if (P->f->noffsets >= GLM_MAXV)
                return perr(P, "too many offsets");
            /* an offset variable is labelled offset(...) so it never merges with a term */
            snprintf(lab, sizeof lab, "offset(%s)", P->f->vars[v].label);
            {
                char *nl = strata_strdup(P->ctx, lab);
                if (!nl)
                    return P->st = STRATA_ENOMEM, -1;
                strata_free(P->ctx, P->f->vars[v].label, 0);
                P->f->vars[v].label = nl;
            }
            P->f->offsets[P->f->noffsets++] = v;
            return 0;
        }
        P->s = save;
    }
    {
        int v = parse_varexpr(P, 0);
        if (v < 0)
            return -1;
        tl_add(out, (uint64_t)1 << v);
    }
    return 0;
}

static int parse_inter(parser *P, tlist *out)
{
    tlist *b = NULL;
    if (parse_atom(P, out))
        return -1;
    for (;;) {
        skip_ws(P);
        if (*P->s != ':')
            break;
        P->s++;
        if (!b && !(b = strata_alloc(P->ctx, sizeof *b)))
            return P->st = STRATA_ENOMEM, -1;
        if (parse_atom(P, b)) {
            strata_free(P->ctx, b, sizeof *b);
            return -1;
        }
        {
            tlist r;
            r.n = 0;
            for (int i = 0; i < out->n; i++)
                for (int j = 0; j < b->n; j++)
                    if (out->m[i] != TL_ZERO && b->m[j] != TL_ZERO)
                        tl_add(&r, out->m[i] | b->m[j]);
            *out = r;
        }
    }
    strata_free(P->ctx, b, sizeof *b);
    return 0;
}

static int parse_prod(parser *P, tlist *out)
{
    tlist *b = NULL;
    if (parse_inter(P, out))
        return -1;
    for (;;) {
        skip_ws(P);
        if (*P->s != '*')
            break;
        P->s++;
        if (!b && !(b = strata_alloc(P->ctx, sizeof *b)))
            return P->st = STRATA_ENOMEM, -1;
        if (parse_inter(P, b)) {
            strata_free(P->ctx, b, sizeof *b);
            return -1;
        }
        {
            tlist r = *out;
            for (int j = 0; j < b->n; j++)
                tl_add(&r, b->m[j]);
            for (int i = 0; i < out->n; i++)
                for (int j = 0; j < b->n; j++)
                    if (out->m[i] != TL_ZERO && b->m[j] != TL_ZERO)
                        tl_add(&r, out->m[i] | b->m[j]);
            *out = r;
        }
    }
    strata_free(P->ctx, b, sizeof *b);
    return 0;
}

/* expr: sums and differences. Intercept handling is recorded on the formula. */
static int parse_expr(parser *P, tlist *out)
{
    tlist *b = strata_alloc(P->ctx, sizeof *b);
    int sign = 1, first = 1;
    if (!b)
        return P->st = STRATA_ENOMEM, -1;
    out->n = 0;
    for (;;) {
        skip_ws(P);
        if (*P->s == '-') {
            sign = -1;
            P->s++;
        } else if (*P->s == '+') {
            sign = 1;
            P->s++;
        } else if (!first) {
            break;
        }
        if (parse_prod(P, b)) {
            strata_free(P->ctx, b, sizeof *b);
            return -1;
        }
        for (int j = 0; j < b->n; j++) {
            uint64_t m = b->m[j];
            if (m == TL_ZERO || m == 0) {
                P->f->intercept = (sign > 0 && m == 0) ? 1 : 0;
                continue;
            }
            if (sign > 0) {
                tl_add(out, m);
            } else {
                int w = 0;
                for (int i = 0; i < out->n; i++)
                    if (out->m[i] != m)
                        out->m[w++] = out->m[i];
                out->n = w;
            }
        }
        first = 0;
        sign = 1;
    }
    strata_free(P->ctx, b, sizeof *b);
    return 0;
}

static int popcount64(uint64_t x)
{
    int n = 0;
    while (x) {
        x &= x - 1;
        n++;
    }
    return n;
}

strata_status glm_formula_parse(strata_ctx *ctx, const char *text, glm_formula **out)
{
    parser P;
    glm_formula *f;
    tlist *tl;
    char id[256];
    *out = NULL;
    if (!text || !*text)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "empty formula");
    f = strata_calloc(ctx, 1, sizeof *f);
    tl = strata_alloc(ctx, sizeof *tl);
    if (!f || !tl) {
        strata_free(ctx, f, sizeof *f);
        strata_free(ctx, tl, sizeof *tl);
        return STRATA_ENOMEM;
    }
    f->weights = -1;
    f->intercept = 1;
    f->text = strata_strdup(ctx, text);
    f->vars = strata_calloc(ctx, 64, sizeof *f->vars);
    if (!f->text || !f->vars) {
        strata_free(ctx, tl, sizeof *tl);
        glm_formula_free(ctx, f);
        return STRATA_ENOMEM;
    }
    P.ctx = ctx;
    P.text = text;
    P.s = text;
    P.f = f;
    P.st = STRATA_OK;
    if (read_ident(&P, id, sizeof id, 0) == 0) {
        f->response = add_var(&P, id, id, GT_NONE, 0, NULL);
        if (expect(&P, '~') == 0 && parse_expr(&P, tl) == 0) {
            skip_ws(&P);
            if (*P.s)
                perr(&P, "unexpected character");
        }
    }
    if (P.st == STRATA_OK) {
        /* R orders terms by degree, stable within a degree */
        int nt = 0;
        f->terms = strata_calloc(ctx, (size_t)tl->n + 1, sizeof *f->terms);
        if (!f->terms)
            P.st = STRATA_ENOMEM;
        for (int deg = 1; P.st == STRATA_OK && deg <= GLM_MAXV + 1; deg++)
            for (int i = 0; i < tl->n; i++) {
                uint64_t m = tl->m[i];
                if (popcount64(m) != deg)
                    continue;
                if (deg > GLM_MAXV) {
                    P.st = STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": interaction of more than %d variables", text, GLM_MAXV);
                    break;
                }
                if (m & 1u) {
                    P.st = STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": the response %s also appears on the right-hand side", text, f->vars[0].label);
                    break;
                }
                for (int v = 0; v < 64; v++)
                    if (m >> v & 1u)
                        f->terms[nt].var[f->terms[nt].nv++] = v;
                nt++;
            }
        f->nterms = (size_t)nt;
    }
    strata_free(ctx, tl, sizeof *tl);
    if (P.st == STRATA_OK && f->vars[f->response].tr != GT_NONE)
        P.st = STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": the response must be a column", text);
    if (P.st != STRATA_OK) {
        glm_formula_free(ctx, f);
        return P.st;
    }
    *out = f;
    return STRATA_OK;
}

strata_status glm_formula_set_weights(strata_ctx *ctx, glm_formula *f, const char *col)
{
    parser P;
    char lab[300];
    int v;
    P.ctx = ctx;
    P.text = f->text;
    P.s = f->text;
    P.f = f;
    P.st = STRATA_OK;
    snprintf(lab, sizeof lab, "(weights)%s", col);
    v = add_var(&P, lab, col, GT_NONE, 0, NULL);
    if (v < 0)
        return P.st;
    f->weights = v;
    return STRATA_OK;
}

void glm_formula_free(strata_ctx *ctx, glm_formula *f)
{
    if (!f)
        return;
    if (f->vars) {
        for (size_t i = 0; i < f->nvars; i++) {
            glm_var *v = &f->vars[i];
            strata_free(ctx, v->label, 0);
            strata_free(ctx, v->column, 0);
            strata_free(ctx, v->ref, 0);
            for (size_t l = 0; l < v->n_levels; l++)
                strata_free(ctx, v->levels[l], 0);
            strata_free(ctx, v->levels, 0);
            strata_free(ctx, v->code_map, 0);
        }
        strata_free(ctx, f->vars, 0);
    }
    if (f->colnames)
        for (size_t j = 0; j < f->p; j++)
            strata_free(ctx, f->colnames[j], 0);
    strata_free(ctx, f->colnames, 0);
    strata_free(ctx, f->cols, 0);
    strata_free(ctx, f->terms, 0);
    strata_free(ctx, f->text, 0);
    strata_free(ctx, f, sizeof *f);
}

/* ---- binding to a source ------------------------------------------------ */

strata_status glm_bind(strata_ctx *ctx, glm_formula *f, const glm_source *src, int fit,
                       strata_unseen_policy unseen)
{
    for (size_t i = 0; i < f->nvars; i++) {
        glm_var *v = &f->vars[i];
        const strata_column_info *info = NULL;
        strata_status s;
        if (!fit && ((int)i == f->response || (int)i == f->weights)) {
            v->src_col = (size_t)-1; /* not needed to score */
            continue;
        }
        s = src->find(ctx, src->ud, v->column, &v->src_col, &info);
        if (s != STRATA_OK)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": %s: unknown column '%s'",
                               f->text, src->name, v->column);
        strata_free(ctx, v->code_map, 0);
        v->code_map = NULL;
        v->n_codes = 0;
        if (fit)
            v->is_factor = info->categorical;
        else if (v->is_factor != info->categorical)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: column '%s' is %s here but was %s when the model was fitted",
                               src->name, v->column, info->categorical ? "categorical" : "numeric",
                               v->is_factor ? "categorical" : "numeric");
        if (!v->is_factor)
            continue;
        if ((int)i == f->response || (int)i == f->weights || v->tr != GT_NONE)
            return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": column '%s' is categorical; it cannot be the response, weights, offset or inside log/rcs",
                               f->text, v->column);
        v->n_codes = info->n_levels;
        v->code_map = strata_calloc(ctx, v->n_codes + 1, sizeof *v->code_map);
        if (!v->code_map)
            return STRATA_ENOMEM;
        if (fit) { /* provisional levels = the source's, until glm_design_setup */
            for (size_t l = 0; l < v->n_levels; l++)
                strata_free(ctx, v->levels[l], 0);
            strata_free(ctx, v->levels, 0);
            v->n_levels = 0;
            v->levels = strata_calloc(ctx, v->n_codes + 1, sizeof *v->levels);
            if (!v->levels)
                return STRATA_ENOMEM;
            for (size_t c = 0; c < v->n_codes; c++) {
                if (!(v->levels[c] = strata_strdup(ctx, info->levels[c])))
                    return STRATA_ENOMEM;
                v->n_levels = c + 1;
            }
        }
        for (size_t c = 0; c < v->n_codes; c++) {
            int li = -1;
            if (fit) {
                li = (int)c; /* provisional: source codes until glm_design_setup */
            } else {
                for (size_t l = 0; l < v->n_levels; l++)
                    if (!strcmp(v->levels[l], info->levels[c]))
                        li = (int)l;
                if (li < 0 && unseen == STRATA_UNSEEN_TO_REFERENCE)
                    li = (int)v->ref_index;
            }
            v->code_map[c] = li;
        }
    }
    return STRATA_OK;
}

/* ---- rcs ---------------------------------------------------------------- */

/* R's quantile type 7 of sorted xs. */
static double quantile7(const double *xs, size_t n, double p)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)h;
    double frac = h - (double)lo;
    if (lo + 1 >= n)
        return xs[n - 1];
    return xs[lo] + frac * (xs[lo + 1] - xs[lo]);
}

strata_status glm_rcs_knots(strata_ctx *ctx, const double *xs, size_t n, int k, double *knots,
                            const char *label)
{
    /* Hmisc::rcspline.eval defaults (fractied = 0.05), xs sorted ascending */
    size_t nxu = 0, lo = 0, hi = n, first = 0, last = 0;
    double outer = k > 3 ? 0.05 : 0.1, fk = 0, lk = 0, q[2 * GLM_RCS_MAXK];
    int nke = k, have_first = 0, have_last = 0, nq = 0, m = 0;
    if (n < 6)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: fewer than 6 non-missing values for knots", label);
    if (k > 6)
        outer = 0.025;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || xs[i] != xs[i - 1])
            nxu++;
    if ((long)nxu - 2 <= k)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: only %zu distinct values for %d knots", label, nxu, k);
    {
        /* tie fractions: first, last and max over interior distinct values */
        size_t run = 1, maxint = 0;
        while (first + 1 < n && xs[first + 1] == xs[0])
            first++;
        while (last + 1 < n && xs[n - 2 - last] == xs[n - 1])
            last++;
        for (size_t i = first + 2; i + last + 1 < n; i++) {
            if (xs[i] == xs[i - 1])
                run++;
            else
                run = 1;
            if (run > maxint)
                maxint = run;
        }
        if (first + 1 < n && maxint == 0)
            maxint = 1;
        if ((double)maxint / (double)n < 0.05) {
            if ((double)(first + 1) / (double)n >= 0.05) {
                fk = xs[first + 1]; /* min(xx[xx > min(xx)]) */
                lo = first + 1;
                while (lo < n && xs[lo] <= fk)
                    lo++;
                nke--;
                have_first = 1;
            }
            if ((double)(last + 1) / (double)n >= 0.05) {
                /* max(xx[xx < max(xx)]) over the remaining values */
                lk = xs[n - 2 - last];
                hi = n - 1 - last;
                while (hi > lo && xs[hi - 1] >= lk)
                    hi--;
                nke--;
                have_last = 1;
            }
        }
    }
    {
        const double *xx = xs + lo;
        size_t nn = hi - lo;
        if (nn < 2)
            return STRATA_FAIL(ctx, STRATA_EDATA, "%s: too few values for knots", label);
        for (int i = 0; i < nke; i++) {
            double p = nke == 2 ? 0.5 + (1 - outer - 0.5) * i / (nke - 1)
                                : outer + (1 - 2 * outer) * i / (nke - 1);
            q[nq++] = quantile7(xx, nn, p);
        }
        if (nn < 100) {
            if (!have_first)
                q[0] = xx[4];
            if (!have_last)
                q[nke - 1] = xx[nn - 5];
        }
    }
    {
        double all[2 * GLM_RCS_MAXK + 2];
        int na = 0;
        if (have_first)
            all[na++] = fk;
        for (int i = 0; i < nq; i++)
            all[na++] = q[i];
        if (have_last)
            all[na++] = lk;
        /* sort(unique(...)) */
        for (int i = 1; i < na; i++)
            for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
                double t = all[j];
                all[j] = all[j - 1];
                all[j - 1] = t;
            }
        for (int i = 0; i < na; i++)
            if (i == 0 || all[i] != all[i - 1])
                all[m++] = all[i];
        if (m != k)
            return STRATA_FAIL(ctx, STRATA_EDATA, "%s: Harrell's default quantiles give %d distinct knots, not %d (too many ties); use fewer knots", label, m, k);
        memcpy(knots, all, (size_t)k * sizeof *knots);
    }
    return STRATA_OK;
}

static double pos3(double x, double kd)
{
    double t = x / kd;
    return t > 0 ? t * t * t : 0.0;
}

void glm_rcs_basis(const double *t, int k, double x, double *out)
{
    /* Hmisc::rcspline.eval, norm = 2: kd = (t_k - t_1)^(2/3) */
    double kd = cbrt((t[k - 1] - t[0]) * (t[k - 1] - t[0]));
    double tk = t[k - 1], tk1 = t[k - 2];
    for (int j = 0; j < k - 2; j++)
        out[j] = pos3(x - t[j], kd) +
                 ((tk1 - t[j]) * pos3(x - tk, kd) - (tk - t[j]) * pos3(x - tk1, kd)) / (tk - tk1);
}

/* ---- design layout ------------------------------------------------------ */


static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Observed levels of a factor over the fitting rows, byte-wise sorted, the
 * reference level moved first (R's factor() under LC_COLLATE=C, then relevel). */
static strata_status freeze_levels(strata_ctx *ctx, const glm_formula *f, glm_var *v,
                                   const double *raw, const unsigned char *mask, size_t n)
{
    size_t nc = v->n_codes, nl = 0;
    unsigned char *seen = strata_calloc(ctx, nc + 1, 1);
    char **lev = strata_calloc(ctx, nc + 1, sizeof *lev);
    strata_status st = STRATA_OK;
    if (!seen || !lev) {
        st = STRATA_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (mask[i])
            seen[(size_t)raw[i]] = 1;
    for (size_t c = 0; c < nc; c++)
        if (seen[c])
            lev[nl++] = v->levels[c];
    qsort(lev, nl, sizeof *lev, cmp_str);
    if (v->ref) {
        size_t r = nl;
        for (size_t l = 0; l < nl; l++)
            if (!strcmp(lev[l], v->ref))
                r = l;
        if (r == nl) {
            st = STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": reference level '%s' of column '%s' does not occur in the fitting rows",
                             f->text, v->ref, v->column);
            goto done;
        }
        for (char *t = lev[r]; r > 0; r--)
            lev[r] = lev[r - 1], lev[r - 1] = t;
    }
    /* remap codes, then keep only the observed labels in the new order */
    for (size_t c = 0; c < nc; c++) {
        v->code_map[c] = -1;
        for (size_t l = 0; l < nl; l++)
            if (lev[l] == v->levels[c])
                v->code_map[c] = (int)l;
    }
    for (size_t c = 0; c < nc; c++)
        if (!seen[c])
            strata_free(ctx, v->levels[c], 0);
    memcpy(v->levels, lev, nl * sizeof *lev);
    v->n_levels = nl;
    v->ref_index = 0;
done:
    strata_free(ctx, seen, 0);
    strata_free(ctx, lev, 0);
    return st;
}

strata_status glm_design_setup(strata_ctx *ctx, glm_formula *f, double *const *raw,
                               const unsigned char *mask, size_t n)
{
    for (size_t vi = 0; vi < f->nvars; vi++) {
        glm_var *v = &f->vars[vi];
        if (v->is_factor) {
            STRATA_TRY(freeze_levels(ctx, f, v, raw[vi], mask, n));
        } else if (v->tr == GT_RCS) {
            size_t m = 0;
            uint64_t *ks = strata_alloc(ctx, 2 * (n + 1) * sizeof *ks);
            double *xs = (double *)(ks + n + 1); /* the sort's scratch half, free after it */
            strata_status st;
            if (!ks)
                return STRATA_ENOMEM;
            /* R's model.frame evaluates rcs() on every row before na.omit: the
             * knots come from all non-missing x, not only the complete cases */
            for (size_t i = 0; i < n; i++)
                if (raw[vi][i] == raw[vi][i])
                    ks[m++] = strata_f64_key(raw[vi][i]);
            strata_radix_sort(m, ks, NULL, ks + n + 1, NULL);
            for (size_t i = 0; i < m; i++)
                xs[i] = strata_key_f64(ks[i]);
            st = glm_rcs_knots(ctx, xs, m, v->rcs_k, v->knots, v->label);
            strata_free(ctx, ks, 0);
            STRATA_TRY(st);
            v->knots_set = 1;
        }
    }
    return glm_design_layout(ctx, f);
}

/* R's TermCode: 1 = contrasts, 2 = full dummy coding for factor v in term t. */
static int term_code(const glm_formula *f, size_t t, int v)
{
    uint64_t rest = 0;
    for (int i = 0; i < f->terms[t].nv; i++)
        if (f->terms[t].var[i] != v)
            rest |= (uint64_t)1 << f->terms[t].var[i];
    if (!rest)
        return 1;
    for (size_t u = 0; u < t; u++) {
        uint64_t m = 0;
        for (int i = 0; i < f->terms[u].nv; i++)
            m |= (uint64_t)1 << f->terms[u].var[i];
        if ((rest & ~m) == 0)
            return 1;
    }
    return 2;
}

static size_t var_nopts(const glm_var *v, int code)
{
    if (!v->is_factor)
        return v->ncols;
    return code == 2 ? v->n_levels : v->n_levels - 1;
}

static int var_opt(const glm_var *v, int code, size_t o)
{
    if (!v->is_factor)
        return (int)o;
    return code == 2 ? (int)o : (int)o + 1; /* reference level is index 0 */
}

static void opt_name(const glm_var *v, int sub, char *buf, size_t size)
{
    if (v->is_factor) {
        snprintf(buf, size, "%s%s", v->label, v->levels[sub]);
    } else if (v->tr == GT_RCS) {
        int n = snprintf(buf, size, "%s%s", v->label, v->column);
        for (int q = 0; q < sub && n > 0 && (size_t)n + 1 < size; q++)
            buf[n++] = '\'', buf[n] = 0;
    } else {
        snprintf(buf, size, "%s", v->label);
    }
}

strata_status glm_design_layout(strata_ctx *ctx, glm_formula *f)
{
    int codes[64 * GLM_MAXV];
    size_t p = f->intercept ? 1 : 0, j = 0;
    int adjusted = f->intercept;
    for (size_t t = 0; t < f->nterms; t++) {
        size_t nc = 1;
        for (int i = 0; i < f->terms[t].nv; i++) {
            int v = f->terms[t].var[i];
            codes[t * GLM_MAXV + (size_t)i] = f->vars[v].is_factor ? term_code(f, t, v) : 1;
            if (f->vars[v].is_factor && !adjusted) {
                codes[t * GLM_MAXV + (size_t)i] = 2; /* no intercept: first factor gets all levels */
                adjusted = 1;
            }
            nc *= var_nopts(&f->vars[v], codes[t * GLM_MAXV + (size_t)i]);
        }
        p += nc;
    }
    if (f->nterms > 64)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": too many terms", f->text);
    if (p == 0)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": the model has no terms", f->text);
    if (f->colnames)
        for (size_t k = 0; k < f->p; k++)
            strata_free(ctx, f->colnames[k], 0);
    strata_free(ctx, f->colnames, 0);
    strata_free(ctx, f->cols, 0);
    f->p = 0;
    f->cols = strata_calloc(ctx, p, sizeof *f->cols);
    f->colnames = strata_calloc(ctx, p, sizeof *f->colnames);
    if (!f->cols || !f->colnames)
        return STRATA_ENOMEM;
    f->p = p;
    if (f->intercept) {
        f->cols[0].nf = 0;
        if (!(f->colnames[0] = strata_strdup(ctx, "(Intercept)")))
            return STRATA_ENOMEM;
        j = 1;
    }
    for (size_t t = 0; t < f->nterms; t++) {
        const glm_term *T = &f->terms[t];
        size_t idx[GLM_MAXV] = {0};
        for (;;) {
            char name[1024], part[512];
            size_t len = 0;
            glm_col *c = &f->cols[j];
            int empty = 0;
            c->nf = T->nv;
            name[0] = 0;
            for (int i = 0; i < T->nv; i++) {
                const glm_var *v = &f->vars[T->var[i]];
                int code = codes[t * GLM_MAXV + (size_t)i];
                if (var_nopts(v, code) == 0)
                    empty = 1;
                if (empty)
                    break;
                c->var[i] = T->var[i];
                c->sub[i] = var_opt(v, code, idx[i]);
                opt_name(v, c->sub[i], part, sizeof part);
                len += (size_t)snprintf(name + len, len < sizeof name ? sizeof name - len : 0, "%s%s",
                                        i ? ":" : "", part);
                if (len >= sizeof name)
                    len = sizeof name - 1;
            }
            if (empty)
                break;
            if (!(f->colnames[j] = strata_strdup(ctx, name)))
                return STRATA_ENOMEM;
            j++;
            /* odometer, first variable fastest */
            {
                int i = 0;
                for (; i < T->nv; i++) {
                    const glm_var *v = &f->vars[T->var[i]];
                    if (++idx[i] < var_nopts(v, codes[t * GLM_MAXV + (size_t)i]))
                        break;
                    idx[i] = 0;
                }
                if (i == T->nv)
                    break;
            }
        }
    }
    if (j != p)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "design layout: %zu columns, expected %zu", j, p);
    return STRATA_OK;
}

/* ---- building blocks ---------------------------------------------------- */

size_t glm_design_work(const glm_formula *f)
{
    size_t w = 0;
    for (size_t v = 0; v < f->nvars; v++)
        w += f->vars[v].is_factor ? 1 : f->vars[v].ncols;
    return w;
}

static double apply_tr(glm_transform tr, double x)
{
    return tr == GT_LOG ? log(x) : tr == GT_LOG1P ? log1p(x) : x;
}

double glm_offset_value(const glm_formula *f, double *const *raw, size_t i)
{
    double o = 0;
    for (size_t k = 0; k < f->noffsets; k++) {
        const glm_var *v = &f->vars[f->offsets[k]];
        o += apply_tr(v->tr, raw[f->offsets[k]][i]);
    }
    return o;
}

/* The design of a block; with cols, a column that is one numeric variable is
 * not copied into X: cols[j] points at its values (raw or work) instead. */
static size_t design_block(const glm_formula *f, double *const *raw, size_t nb, double *X,
                           double *work, int *bad_var, const double **cols)
{
    size_t w = 0;
    size_t bad = 0;
    const double *vp[64]; /* per variable: its first value column (work or raw) */
    for (size_t vi = 0; vi < f->nvars; vi++) {
        const glm_var *v = &f->vars[vi];
        const double *r = raw[vi];
        double *o = work + w * nb;
        vp[vi] = o;
        if (!r) {
            w += v->is_factor ? 1 : v->ncols;
            continue;
        }
        if (v->is_factor) {
            for (size_t i = 0; i < nb; i++) {
                double c = r[i];
                if (c != c) {
                    o[i] = c;
                } else {
                    int l = (size_t)c < v->n_codes ? v->code_map[(size_t)c] : -1;
                    if (l < 0 && !bad) {
                        bad = i + 1;
                        *bad_var = (int)vi;
                    }
                    o[i] = l;
                }
            }
            w += 1;
        } else if (v->tr == GT_RCS) {
            double b[GLM_RCS_MAXK];
            for (size_t i = 0; i < nb; i++) {
                o[i] = r[i];
                glm_rcs_basis(v->knots, v->rcs_k, r[i], b);
                for (int s = 0; s < v->rcs_k - 2; s++)
                    o[(size_t)(s + 1) * nb + i] = b[s];
            }
            w += v->ncols;
        } else if (v->tr == GT_NONE) {
            vp[vi] = r; /* plain numeric: read in place, no copy */
            w += 1;
            continue;
        } else {
            for (size_t i = 0; i < nb; i++)
                o[i] = apply_tr(v->tr, r[i]);
            w += 1;
        }
        vp[vi] = o;
    }
    for (size_t j = 0; j < f->p; j++) {
        const glm_col *c = &f->cols[j];
        double *x = X + j * nb;
        if (cols) {
            const glm_var *v0 = &f->vars[c->var[0]];
            if (c->nf == 1 && !v0->is_factor) {
                cols[j] = vp[c->var[0]] + (size_t)c->sub[0] * nb;
                continue;
            }
            cols[j] = x;
        }
        if (c->nf == 0) {
            for (size_t i = 0; i < nb; i++)
                x[i] = 1.0;
            continue;
        }
        for (int q = 0; q < c->nf; q++) {
            const glm_var *v = &f->vars[c->var[q]];
            const double *src;
            if (v->is_factor) {
                double lev = c->sub[q];
                src = vp[c->var[q]];
                if (q == 0)
                    for (size_t i = 0; i < nb; i++)
                        x[i] = src[i] == lev ? 1.0 : (src[i] != src[i] ? src[i] : 0.0);
                else
                    for (size_t i = 0; i < nb; i++)
                        x[i] *= src[i] == lev ? 1.0 : (src[i] != src[i] ? src[i] : 0.0);
            } else {
                src = vp[c->var[q]] + (size_t)c->sub[q] * nb;
                if (q == 0)
                    memcpy(x, src, nb * sizeof *x);
                else
                    for (size_t i = 0; i < nb; i++)
                        x[i] *= src[i];
            }
        }
    }
    return bad;
}

int glm_design_col_raw(const glm_formula *f, size_t j)
{
    const glm_col *c = &f->cols[j];
    const glm_var *v;
    if (c->nf != 1)
        return -1;
    v = &f->vars[c->var[0]];
    return !v->is_factor && v->tr == GT_NONE && c->sub[0] == 0 ? c->var[0] : -1;
}

size_t glm_design_block(const glm_formula *f, double *const *raw, size_t nb, double *X,
                        double *work, int *bad_var)
{
    return design_block(f, raw, nb, X, work, bad_var, NULL);
}

size_t glm_design_block_cols(const glm_formula *f, double *const *raw, size_t nb, double *X,
                             double *work, int *bad_var, const double **cols)
{
    return design_block(f, raw, nb, X, work, bad_var, cols);
}
