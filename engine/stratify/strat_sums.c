/* engine/stratify/strat_sums.c — the group tables (summary, inequality, SII,
 * Core20PLUS5) accumulated from row blocks: each kind keeps its sums across
 * blocks and adds rows in row order, so a split into blocks changes no bit
 * (docs/scale.md, "Aggregation under a budget"). strata_group_summary and the
 * others are this with one block (strat_sums_whole). */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <string.h>

static const strat_sums_ops *ops_of(strata_group_kind kind)
{
    switch (kind) {
    case STRATA_GROUP_SUMMARY: return &strat_summary_ops;
    case STRATA_GROUP_INEQUALITY: return &strat_inequality_ops;
    case STRATA_GROUP_SII: return &strat_sii_ops;
    case STRATA_GROUP_CORE20PLUS5: return &strat_c5_ops;
    }
    return NULL;
}

strata_status strata_group_sums_new(strata_ctx *ctx, strata_group_kind kind,
                                    const strata_group_params *p,
                                    const strata_strat_input *shape, size_t n_groups,
                                    strata_group_sums **out)
{
    const strat_sums_ops *ops = ops_of(kind);
    strata_group_sums *s;
    strata_status st;
    *out = NULL;
    if (!ops)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "group sums: kind %d unknown", (int)kind);
    if (kind == STRATA_GROUP_SII && !shape->imd_decile)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "sii: no imd_decile column");
    if (kind == STRATA_GROUP_CORE20PLUS5 && shape->n_plus > 32)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "core20plus5: %zu PLUS groups (at most 32)",
                           shape->n_plus);
    if (!(s = strata_calloc(ctx, 1, sizeof *s)))
        return STRATA_ENOMEM;
    s->kind = kind;
    s->ops = ops;
    if (p)
        s->p = *p;
    else
        strata_group_params_init(&s->p);
    s->shape = *shape;
    s->G = n_groups;
    s->passes = kind == STRATA_GROUP_SUMMARY ? 2 : 1;
    if ((st = ops->init(ctx, s)) != STRATA_OK) {
        strata_group_sums_free(ctx, s); /* what init made */
        return st;
    }
    *out = s;
    return STRATA_OK;
}

int strata_group_sums_passes(const strata_group_sums *s)
{
    return s ? s->passes : 0;
}

/* The block's inputs with the shape's metadata; EINVAL when it gives other
 * inputs than the shape (a table's columns depend on which are given). */
static strata_status block_input(strata_ctx *ctx, const strata_group_sums *s,
                                 const strata_strat_input *blk, strata_strat_input *b)
{
    const strata_strat_input *h = &s->shape;
#define SAME(f) (!h->f == !blk->f)
    if (!SAME(risk) || !SAME(observed) || !SAME(age) || !SAME(sex) || !SAME(imd_decile) ||
        !SAME(ethnicity) || !SAME(tier) || !SAME(segment) || !SAME(need) || !SAME(plus_mask) ||
        !SAME(c5_mask))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "group sums: a block gives other inputs than the shape it was made with");
#undef SAME
    *b = *h;
    b->n = blk->n;
    b->risk = blk->risk, b->observed = blk->observed, b->age = blk->age, b->sex = blk->sex;
    b->imd_decile = blk->imd_decile, b->ethnicity = blk->ethnicity, b->tier = blk->tier;
    b->segment = blk->segment, b->need = blk->need, b->plus_mask = blk->plus_mask;
    b->c5_mask = blk->c5_mask;
    return STRATA_OK;
}

strata_status strata_group_sums_add(strata_ctx *ctx, strata_group_sums *s, int pass, size_t r0,
                                    const strata_strat_input *blk, const int32_t *group)
{
    strata_strat_input b;
    if (pass == s->pass + 1 && s->next == s->shape.n && pass < s->passes)
        s->pass = pass, s->next = 0; /* the previous pass is complete */
    if (pass != s->pass || r0 != s->next || blk->n > s->shape.n - r0)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "group sums: pass %d rows %zu..%zu out of order (expected pass %d from "
                           "row %zu of %zu)",
                           pass, r0 + 1, r0 + blk->n, s->pass, s->next + 1, s->shape.n);
    STRATA_TRY(block_input(ctx, s, blk, &b));
    if (pass == 0) /* the values are checked once, on their first pass */
        STRATA_TRY(strat_check_input(ctx, &b, group, s->G, r0));
    if (b.n)
        s->ops->add(s, pass, &b, group);
    s->next += b.n;
    return STRATA_OK;
}

strata_status strata_group_sums_table(strata_ctx *ctx, strata_group_sums *s,
                                      const char *const *group_names, strata_funnel *funnel_out,
                                      strata_table **out)
{
    strata_funnel fdummy;
    *out = NULL;
    if (funnel_out)
        memset(funnel_out, 0, sizeof *funnel_out); /* no outcomes: Poisson limits, tau2 = 0 */
    if (s->pass != s->passes - 1 || s->next != s->shape.n)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "group sums: pass %d of %d has seen %zu of %zu rows", s->pass + 1,
                           s->passes, s->next, s->shape.n);
    return s->ops->table(ctx, s, group_names, funnel_out ? funnel_out : &fdummy, out);
}

void strata_group_sums_free(strata_ctx *ctx, strata_group_sums *s)
{
    if (!s)
        return;
    s->ops->done(ctx, s);
    strata_free(ctx, s, 0);
}

strata_status strat_sums_whole(strata_ctx *ctx, strata_group_kind kind, const strata_group_params *p,
                               const strata_strat_input *in, const int32_t *group,
                               size_t n_groups, const char *const *group_names,
                               strata_funnel *funnel, strata_table **out)
{
    strata_group_sums *s;
    strata_status st;
    *out = NULL;
    if (funnel)
        memset(funnel, 0, sizeof *funnel);
    STRATA_TRY(strata_group_sums_new(ctx, kind, p, in, n_groups, &s));
    st = STRATA_OK;
    for (int pass = 0; st == STRATA_OK && pass < s->passes; pass++)
        st = strata_group_sums_add(ctx, s, pass, 0, in, group);
    if (st == STRATA_OK)
        st = strata_group_sums_table(ctx, s, group_names, funnel, out);
    strata_group_sums_free(ctx, s);
    return st;
}
