/* models/glm/glm_formula.c — the model formula's parser: `y ~ a + b + c:d + e*f +
 * rcs(x, k) + log(x) + log1p(x) + C(f, ref=L) + offset(log(e)) - 1` into variables
 * and terms with R's ordering (terms by degree, variables by first appearance).
 * Binding, layout and the design kernel are glm_bind.c, glm_layout.c, glm_design.c.
 * Invariant: variables and terms depend only on the text, never on data. */
#include "glm_internal.h"
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_MAX 128
/* Limits that keep the parser's recursion and work bounded (issue 17 #2, #3):
 * parentheses nest at most this deep, and the text is at most this long. */
#define GLM_MAX_NESTING 64
#define GLM_MAX_TEXT 65536

typedef struct tlist {
    int n;
    int over; /* a term did not fit: more than TL_MAX */
    uint64_t m[TL_MAX];
} tlist;

#define TL_ZERO UINT64_MAX /* the literal 0 ("no intercept") */

typedef struct parser {
    strata_ctx *ctx;
    const char *text;
    const char *s;
    glm_formula *f;
    strata_status st;
    int depth; /* parentheses open */
} parser;

static void skip_ws(parser *P)
{
    while (*P->s && isspace((unsigned char)*P->s))
        P->s++;
}

static int perr(parser *P, const char *what)
{
    if (P->st == STRATA_OK)
        P->st = STRATA_FAIL(P->ctx, STRATA_ESPEC, "formula \"%.160s%s\": %s at position %d",
                            P->text, strlen(P->text) > 160 ? "..." : "", what,
                            (int)(P->s - P->text) + 1);
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
    if (f->nvars >= GLM_MAXVARS)
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
    else
        t->over = 1;
}

static int too_many_terms(parser *P)
{
    return perr(P, "more than 128 terms (an interaction of k variables a*b*... has 2^k - 1)");
}

static int parse_expr(parser *P, tlist *out);

static int parse_atom(parser *P, tlist *out)
{
    out->n = 0;
    out->over = 0;
    skip_ws(P);
    if (*P->s == '(') {
        if (P->depth >= GLM_MAX_NESTING)
            return perr(P, "parentheses nested deeper than 64");
        P->s++;
        P->depth++;
        if (parse_expr(P, out) || expect(P, ')'))
            return -1;
        P->depth--;
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

/* out op b: a:b gives the products of their terms; a*b gives a + b + a:b. */
static void tl_cross(tlist *out, const tlist *b, int keep_operands)
{
    tlist r = *out;
    if (!keep_operands)
        r.n = 0;
    else
        for (int j = 0; j < b->n; j++)
            tl_add(&r, b->m[j]);
    for (int i = 0; i < out->n; i++)
        for (int j = 0; j < b->n; j++)
            if (out->m[i] != TL_ZERO && b->m[j] != TL_ZERO)
                tl_add(&r, out->m[i] | b->m[j]);
    *out = r;
}

/* operand (op operand)*, left to right. */
static int parse_binary(parser *P, tlist *out, char op, int (*operand)(parser *, tlist *))
{
    tlist *b = NULL;
    if (operand(P, out))
        return -1;
    for (;;) {
        skip_ws(P);
        if (*P->s != op)
            break;
        P->s++;
        if (!b && !(b = strata_alloc(P->ctx, sizeof *b)))
            return P->st = STRATA_ENOMEM, -1;
        if (operand(P, b)) {
            strata_free(P->ctx, b, sizeof *b);
            return -1;
        }
        tl_cross(out, b, op == '*');
        if (out->over || b->over) {
            strata_free(P->ctx, b, sizeof *b);
            return too_many_terms(P);
        }
    }
    strata_free(P->ctx, b, sizeof *b);
    return 0;
}

static int parse_inter(parser *P, tlist *out) { return parse_binary(P, out, ':', parse_atom); }
static int parse_prod(parser *P, tlist *out) { return parse_binary(P, out, '*', parse_inter); }

/* expr: sums and differences. Intercept handling is recorded on the formula. */
static int parse_expr(parser *P, tlist *out)
{
    tlist *b = strata_alloc(P->ctx, sizeof *b);
    int sign = 1, first = 1;
    if (!b)
        return P->st = STRATA_ENOMEM, -1;
    out->n = 0;
    out->over = 0;
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
        if (out->over || b->over) {
            strata_free(P->ctx, b, sizeof *b);
            return too_many_terms(P);
        }
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

/* R orders terms by degree, stable within a degree; the response may not
 * appear on the right-hand side. */
static strata_status order_terms(strata_ctx *ctx, glm_formula *f, const tlist *tl)
{
    int nt = 0;
    if (tl->n > GLM_MAXVARS) /* the design layout holds 64 terms */
        return STRATA_FAIL(ctx, STRATA_ESPEC,
                           "formula \"%.200s%s\": %d terms; a model has at most %d (an interaction "
                           "of k variables a*b*... has 2^k - 1)",
                           f->text, strlen(f->text) > 200 ? "..." : "", tl->n, GLM_MAXVARS);
    f->terms = strata_calloc(ctx, (size_t)tl->n + 1, sizeof *f->terms);
    if (!f->terms)
        return STRATA_ENOMEM;
    for (int deg = 1; deg <= GLM_MAXV + 1; deg++)
        for (int i = 0; i < tl->n; i++) {
            uint64_t m = tl->m[i];
            if (popcount64(m) != deg)
                continue;
            if (deg > GLM_MAXV)
                return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": interaction of more than %d variables", f->text, GLM_MAXV);
            if (m & 1u)
                return STRATA_FAIL(ctx, STRATA_ESPEC, "formula \"%s\": the response %s also appears on the right-hand side", f->text, f->vars[0].label);
            for (int v = 0; v < GLM_MAXVARS; v++)
                if (m >> v & 1u)
                    f->terms[nt].var[f->terms[nt].nv++] = v;
            f->nterms = (size_t)++nt;
        }
    return STRATA_OK;
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
    if (strlen(text) > GLM_MAX_TEXT)
        return STRATA_FAIL(ctx, STRATA_ESPEC, "formula of %zu characters; at most %d", strlen(text),
                           GLM_MAX_TEXT);
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
    f->vars = strata_calloc(ctx, GLM_MAXVARS, sizeof *f->vars);
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
    P.depth = 0;
    if (read_ident(&P, id, sizeof id, 0) == 0) {
        f->response = add_var(&P, id, id, GT_NONE, 0, NULL);
        if (expect(&P, '~') == 0 && parse_expr(&P, tl) == 0) {
            skip_ws(&P);
            if (*P.s)
                perr(&P, "unexpected character");
        }
    }
    if (P.st == STRATA_OK)
        P.st = order_terms(ctx, f, tl);
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
    P.depth = 0;
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
