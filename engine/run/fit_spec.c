/* engine/run/fit_spec.c — the fit spec of `strata fit COHORT --spec FILE`: a flat
 * YAML mapping read by the library's one YAML reader (engine/io/yaml_tree.c)
 * into strata_glm_params, and the same key setter for values given on the
 * command line. Invariant: each fit key is parsed and range-checked here and
 * nowhere else; the spec owns every string its params point to. */
#include "strata/run.h"
#include "yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FIT_KEYS[] = {"family",    "formula", "weights", "epsilon", "max_iter",
                                       "na_action", "start",   "out",     NULL};

typedef struct fit_priv {
    ynode *root;   /* the loaded file (values point into it) */
    char **own;    /* copies of values set by strata_fit_spec_set */
    size_t n_own, cap;
} fit_priv;

void strata_fit_spec_init(strata_fit_spec *s)
{
    memset(s, 0, sizeof *s);
    strata_glm_params_init(&s->glm);
}

void strata_fit_spec_free(strata_ctx *ctx, strata_fit_spec *s)
{
    fit_priv *p = s->priv_;
    if (p) {
        strata_yaml_free(ctx, p->root);
        for (size_t i = 0; i < p->n_own; i++)
            strata_free(ctx, p->own[i], 0);
        strata_free(ctx, p->own, 0);
        strata_free(ctx, p, sizeof *p);
    }
    strata_fit_spec_init(s);
}

static fit_priv *priv_of(strata_ctx *ctx, strata_fit_spec *s)
{
    if (!s->priv_)
        s->priv_ = strata_calloc(ctx, 1, sizeof(fit_priv));
    return s->priv_;
}

/* "FILE: line N: " for a value from the file, "" for one set directly. */
typedef struct origin {
    const char *file;
    int line;
    strata_status code; /* ESPEC from a file, EINVAL from a caller */
} origin;

static strata_status bad(strata_ctx *ctx, const origin *o, const char *key, const char *v,
                         const char *why)
{
    if (o->file)
        return STRATA_FAIL(ctx, o->code, "%s: line %d: key \"%s\": \"%s\" %s", o->file, o->line,
                           key, v, why);
    return STRATA_FAIL(ctx, o->code, "key \"%s\": \"%s\" %s", key, v, why);
}

/* Sets key from text v (which must outlive the spec). */
static strata_status set_key(strata_ctx *ctx, strata_fit_spec *s, const char *key, const char *v,
                             const origin *o)
{
    strata_glm_params *g = &s->glm;
    char *end;
    if (!strcmp(key, "family")) {
        if (strata_family_parse(ctx, v, &g->family) != STRATA_OK)
            return bad(ctx, o, key, v, "is not binomial, poisson, gamma or gaussian");
    } else if (!strcmp(key, "formula")) {
        g->formula = v;
    } else if (!strcmp(key, "weights")) {
        g->weights = v;
    } else if (!strcmp(key, "out")) {
        s->out = v;
    } else if (!strcmp(key, "epsilon")) {
        double d;
        errno = 0;
        d = strtod(v, &end);
        if (errno || end == v || *end || !(d > 0) || !isfinite(d))
            return bad(ctx, o, key, v, "is not a positive number");
        g->epsilon = d;
    } else if (!strcmp(key, "max_iter")) {
        long n;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1 || n > 10000)
            return bad(ctx, o, key, v, "is not a whole number in 1..10000");
        g->max_iter = (int)n;
    } else if (!strcmp(key, "na_action")) {
        if (!strcmp(v, "complete") || !strcmp(v, "complete-cases"))
            g->na_action = STRATA_NA_COMPLETE_CASES;
        else if (!strcmp(v, "fail"))
            g->na_action = STRATA_NA_FAIL;
        else
            return bad(ctx, o, key, v, "is not complete or fail");
    } else if (!strcmp(key, "start")) {
        /* auto: warm start on large data (docs/glm.md); r: R's start always */
        if (strcmp(v, "auto") && strcmp(v, "r"))
            return bad(ctx, o, key, v, "is not auto or r");
        g->warm_start = !strcmp(v, "auto");
    } else {
        return STRATA_FAIL(ctx, o->code,
                           "unknown fit key \"%s\" (known: family, formula, weights, epsilon, "
                           "max_iter, na_action, start, out)",
                           key);
    }
    return STRATA_OK;
}

strata_status strata_fit_spec_set(strata_ctx *ctx, strata_fit_spec *s, const char *key,
                                  const char *value)
{
    origin o = {NULL, 0, STRATA_EINVAL};
    fit_priv *p = priv_of(ctx, s);
    char *copy;
    if (!p)
        return STRATA_ENOMEM;
    if (p->n_own == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 8;
        char **g = strata_realloc(ctx, p->own, p->cap * sizeof *g, nc * sizeof *g);
        if (!g)
            return STRATA_ENOMEM;
        p->own = g;
        p->cap = nc;
    }
    if (!(copy = strata_strdup(ctx, value)))
        return STRATA_ENOMEM;
    p->own[p->n_own++] = copy;
    return set_key(ctx, s, key, copy, &o);
}

strata_status strata_fit_spec_load(strata_ctx *ctx, const char *path, strata_fit_spec *s)
{
    fit_priv *p;
    ynode *root = NULL;
    strata_status st;
    strata_fit_spec_init(s);
    STRATA_TRY(strata_yaml_load(ctx, path, &root));
    if (!(p = priv_of(ctx, s))) {
        strata_yaml_free(ctx, root);
        return STRATA_ENOMEM;
    }
    p->root = root;
    st = strata_yaml_only_keys(ctx, path, root, "the fit spec", FIT_KEYS);
    for (size_t i = 0; st == STRATA_OK && i < root->n; i++) {
        origin o = {path, root->key_lines[i], STRATA_ESPEC};
        if (root->items[i]->kind != YN_SCALAR)
            st = STRATA_FAIL(ctx, STRATA_ESPEC,
                             "%s: line %d: key \"%s\" must be a single value (the fit spec is a "
                             "flat mapping)",
                             path, o.line, root->keys[i]);
        else
            st = set_key(ctx, s, root->keys[i], root->items[i]->scalar, &o);
    }
    if (st != STRATA_OK)
        strata_fit_spec_free(ctx, s);
    return st;
}
