/* engine/stratify/strat_lists.c — targeted intervention lists: per group, the highest
 * risk patients within a capacity (N per group or per 1,000 list size),
 * optionally guaranteeing the most deprived quintile (IMD deciles 1-2) at
 * least its share of the group's need (proportionate universalism).
 * Invariant: ranking is (risk descending, row ascending), so lists are
 * reproducible byte for byte, whatever the threads or the memory budget.
 * The rows come in blocks (strata_intervention_select_source; whole arrays
 * are one block): a pass counts each group, a heap per group keeps its best
 * rows up to its capacity (no array of n); with proportionate universalism
 * the group's need sums come, in rank order, from the one external sort
 * (the ranking of everyone, then of the deprived quintile alone, one after
 * the other under half the budget), which also names the deprived minimum. */
#include "internal.h"
#include "strat_internal.h"
#include "strata/stratify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void strata_list_params_init(strata_list_params *p)
{
    p->per_group = 0;
    p->per_1000 = 10.0;
    p->prop_univ = 0;
    p->skip_nan = 0;
}

strata_status strata_list_params_check(strata_ctx *ctx, const strata_list_params *p)
{
    if (p->per_group == 0 && !(p->per_1000 > 0 && p->per_1000 <= 1000))
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "intervention list: per_1000 %g outside (0, 1000] and no per_group",
                           p->per_1000);
    return STRATA_OK;
}

#define LIST_BLOCK 65536 /* rows a block of the passes (at most; in place: one block) */
#define DEP_BLOCK 4096   /* rows a block of the deprived ranking over arrays in place */

static int deprived(const int32_t *imd, size_t i)
{
    return imd && strata_core20(imd[i]);
}

/* A ranked row: the order is key ascending (risk descending), then row. */
typedef struct list_ent {
    uint64_t key;
    size_t row;
} list_ent;

static int ent_less(const list_ent *a, const list_ent *b)
{
    return a->key < b->key || (a->key == b->key && a->row < b->row);
}

static int ent_cmp(const void *a, const void *b)
{
    return ent_less(a, b) ? -1 : ent_less(b, a);
}

static int row_cmp(const void *a, const void *b)
{
    size_t x = ((const list_ent *)a)->row, y = ((const list_ent *)b)->row;
    return x < y ? -1 : x > y;
}

/* Descending sort key of a finite risk (as the ranking's: -0 counts as +0). */
static uint64_t risk_key(double x)
{
    return ~strata_f64_key(x == 0 ? 0.0 : x);
}

/* One selection: per group g its ranked rows size[g], need sums, capacity,
 * deprived minimum D (first[g] rows, rank order, at d_off[g]) and heap H of
 * the best other rows (up to hcap[g], at h_off[g]). */
typedef struct list_job {
    const strata_list_params *p;
    const strata_list_source *src;
    const double *need; /* whole, or NULL: the risk */
    size_t G, block, dep_block; /* rows a block: the passes', the deprived ranking's */
    size_t *size, *n_dep, *cap, *first, *d_off, *h_off, *h_len;
    double *all, *dep;
    list_ent *D, *H, *Drow; /* Drow: D by row */
    double *rbuf;
    int32_t *gbuf, *ibuf;
} list_job;

static void list_cap(list_job *j, size_t g)
{
    const strata_list_params *p = j->p;
    size_t m = j->size[g], cap = p->per_group ? p->per_group
                                              : (size_t)floor(p->per_1000 * (double)m / 1000.0 + 0.5);
    j->cap[g] = cap > m ? m : cap;
    j->first[g] = 0;
    if (p->prop_univ) {
        /* the deprived quintile's share of need sets its minimum number of places */
        size_t need_q1 =
            j->all[g] > 0 ? (size_t)ceil((double)j->cap[g] * j->dep[g] / j->all[g] - 1e-9) : 0;
        j->first[g] = need_q1 < j->n_dep[g] ? need_q1 : j->n_dep[g];
    }
}

/* Rows [r0, r0 + b) of the source: risks and (grouped) codes. */
static strata_status blk_read(strata_ctx *ctx, list_job *j, size_t r0, size_t b, const double **risk,
                              const int32_t **group)
{
    const strata_tier_source *s = &j->src->rows;
    *risk = NULL;
    *group = NULL;
    STRATA_TRY(s->read(ctx, s->ud, r0, b, j->rbuf, s->n_groups ? j->gbuf : NULL, risk,
                       s->n_groups ? group : NULL));
    if (!*risk || (s->n_groups && !*group))
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "intervention list: rows %zu..%zu not read", r0 + 1,
                           r0 + b);
    return STRATA_OK;
}

/* Row r0 + i ranked (*g its group)? EDATA naming a non-finite risk or a bad group. */
static strata_status row_check(strata_ctx *ctx, const list_job *j, const double *risk,
                               const int32_t *group, size_t r0, size_t i, size_t *g)
{
    double x = risk[i];
    *g = SIZE_MAX;
    if (j->p->skip_nan && isnan(x))
        return STRATA_OK;
    if (!isfinite(x))
        return STRATA_FAIL(ctx, STRATA_EDATA, "risk: row %zu: value %g is not finite", r0 + i + 1, x);
    if (group && (group[i] < 0 || (size_t)group[i] >= j->G))
        return STRATA_FAIL(ctx, STRATA_EDATA, "group: row %zu: code %d outside 0..%zu", r0 + i + 1,
                           (int)group[i], j->G - 1);
    *g = group ? (size_t)group[i] : 0;
    return STRATA_OK;
}

/* A pass over the rows in blocks: each ranked row (checked) to fn. */
static strata_status row_pass(strata_ctx *ctx, list_job *j,
                              void (*fn)(list_job *j, size_t g, double risk, size_t row))
{
    size_t n = j->src->rows.n;
    strata_status st = STRATA_OK;
    for (size_t r0 = 0; st == STRATA_OK && r0 < n; r0 += j->block) {
        size_t b = n - r0 < j->block ? n - r0 : j->block, g;
        const double *risk;
        const int32_t *group;
        st = blk_read(ctx, j, r0, b, &risk, &group);
        for (size_t i = 0; st == STRATA_OK && i < b; i++)
            if ((st = row_check(ctx, j, risk, group, r0, i, &g)) == STRATA_OK && g != SIZE_MAX)
                fn(j, g, risk[i], r0 + i);
    }
    return st;
}

static void count_row(list_job *j, size_t g, double risk, size_t row)
{
    (void)risk, (void)row;
    j->size[g]++;
}

/* Group g's heap (the largest first) of its best rows but the deprived
 * minimum, up to h_off[g + 1] - h_off[g] of them. */
static void heap_row(list_job *j, size_t g, double risk, size_t row)
{
    list_ent e = {risk_key(risk), row}, *h = j->H + j->h_off[g];
    size_t cap = j->h_off[g + 1] - j->h_off[g], n = j->h_len[g], i;
    if (j->Drow) { /* the deprived minimum's rows come in row order too */
        while (j->Drow->row < row)
            j->Drow++;
        if (j->Drow->row == row)
            return;
    }
    if (n < cap) { /* sift up */
        for (i = j->h_len[g]++; i > 0 && ent_less(&h[(i - 1) / 2], &e); i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = e;
        return;
    }
    if (cap == 0 || !ent_less(&e, &h[0]))
        return;
    for (i = 0;;) { /* replace the largest, sift down */
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&h[c], &h[c + 1]))
            c++;
        if (!ent_less(&e, &h[c]))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

/* The rows of a ranking (group, key, row) in order: fn(j, g, place in g, record). */
static strata_status rank_walk(strata_ctx *ctx, strat_ranking *rk, list_job *j,
                               void (*fn)(list_job *j, size_t g, size_t at, const list_ent *e))
{
    size_t g = 0, at = 0;
    strata_status st;
    for (;;) {
        const size_t *rows;
        size_t got;
        if ((st = strat_rank_next(ctx, rk, &rows, &got)) != STRATA_OK || got == 0)
            break;
        for (size_t k = 0; k < got; k++, at++) {
            list_ent e = {rk->key[k], rows[k]};
            while (at == rk->size[g]) /* the next group with rows */
                g++, at = 0;
            fn(j, g, at, &e);
        }
    }
    return st == STRATA_OK ? strat_rank_rewind(ctx, rk) : st;
}

/* A ranked row's weight in the need sums: its need, or its risk (the key's). */
static double weight(const list_job *j, const list_ent *e)
{
    return j->need ? j->need[e->row] : strata_key_f64(~e->key);
}

static void sum_all(list_job *j, size_t g, size_t at, const list_ent *e)
{
    (void)at;
    j->all[g] += weight(j, e);
}

static void sum_dep(list_job *j, size_t g, size_t at, const list_ent *e)
{
    (void)at;
    j->dep[g] += weight(j, e);
    j->n_dep[g]++;
}

static void take_first(list_job *j, size_t g, size_t at, const list_ent *e)
{
    if (at < j->first[g])
        j->D[j->d_off[g] + at] = *e;
}

/* The deprived quintile's rows alone: the others' risks read as NaN (skipped). */
static strata_status dep_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *risk_buf,
                              int32_t *group_buf, const double **risk, const int32_t **group)
{
    list_job *j = ud;
    const strata_list_source *s = j->src;
    const int32_t *imd = NULL;
    STRATA_TRY(s->rows.read(ctx, s->rows.ud, r0, b, risk_buf, group_buf, risk, group));
    STRATA_TRY(s->read_imd(ctx, s->rows.ud, r0, b, j->ibuf, &imd));
    if (!*risk || !imd)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "intervention list: rows %zu..%zu not read", r0 + 1,
                           r0 + b);
    for (size_t i = 0; i < b; i++)
        risk_buf[i] = deprived(imd, i) ? (*risk)[i] : NAN;
    *risk = risk_buf;
    return STRATA_OK;
}

/* Need sums in rank order (everyone's, then the deprived quintile's), each
 * ranking made and freed in turn; the deprived minimum of each group taken
 * from the second. */
static strata_status need_sums(strata_ctx *ctx, list_job *j)
{
    strat_ranking rk;
    strata_tier_source s = j->src->rows;
    strata_status st;
    s.skip_nan = j->p->skip_nan;
    STRATA_TRY(strat_rank_source(ctx, &s, &rk));
    st = rank_walk(ctx, &rk, j, sum_all);
    strat_rank_close(ctx, &rk);
    STRATA_TRY(st);
    s.skip_nan = 1;
    s.in_place = 0;
    s.block = j->dep_block;
    s.read = dep_read;
    s.ud = j;
    STRATA_TRY(strat_rank_source(ctx, &s, &rk));
    st = rank_walk(ctx, &rk, j, sum_dep);
    for (size_t g = 0; g < j->G; g++) {
        list_cap(j, g);
        j->d_off[g + 1] = j->d_off[g] + j->first[g];
    }
    if (st == STRATA_OK && !(j->D = strata_alloc(ctx, (j->d_off[j->G] + 1) * sizeof *j->D)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK)
        st = rank_walk(ctx, &rk, j, take_first);
    strat_rank_close(ctx, &rk);
    return st;
}

/* Group g's places: its deprived minimum and its heap merged in rank order;
 * a deprived-minimum row always placed, another while the places left
 * (cap - first) last. */
static size_t place_group(list_job *j, size_t g, size_t *rows, uint32_t *rank)
{
    const list_ent *d = j->D ? j->D + j->d_off[g] : NULL, *h = j->H + j->h_off[g];
    size_t nd = j->first[g], nh = j->h_len[g], a = 0, b = 0, out = 0, taken = 0;
    qsort(j->H + j->h_off[g], nh, sizeof *h, ent_cmp);
    while (a < nd || b < nh) {
        if (a < nd && (b == nh || ent_less(&d[a], &h[b]))) {
            rows[out] = d[a++].row;
        } else if (taken + nd < j->cap[g]) {
            rows[out] = h[b++].row;
            taken++;
        } else { /* no place left but the deprived minimum's */
            b = nh;
            continue;
        }
        rank[out] = (uint32_t)(out + 1);
        out++;
    }
    return out;
}

/* Block buffers: none for a source in place (the row passes read it as one
 * block), else a block of risks and codes; the IMD deciles and the deprived
 * ranking's blocks of dep_block rows. */
static strata_status job_new(strata_ctx *ctx, list_job *j)
{
    size_t G = j->G, b = j->src->rows.in_place ? 0 : j->block;
    j->size = strata_calloc(ctx, 9 * (G + 1), sizeof *j->size);
    j->all = strata_calloc(ctx, 2 * (G + 1), sizeof *j->all);
    j->rbuf = b ? strata_alloc(ctx, b * sizeof *j->rbuf) : NULL;
    j->gbuf = b ? strata_alloc(ctx, b * sizeof *j->gbuf) : NULL;
    j->ibuf = j->p->prop_univ ? strata_alloc(ctx, j->dep_block * sizeof *j->ibuf) : NULL;
    if (!j->size || !j->all || (b && (!j->rbuf || !j->gbuf)) || (j->p->prop_univ && !j->ibuf))
        return STRATA_ENOMEM;
    j->n_dep = j->size + (G + 1), j->cap = j->n_dep + (G + 1), j->first = j->cap + (G + 1);
    j->d_off = j->first + (G + 1), j->h_off = j->d_off + (G + 1), j->h_len = j->h_off + (G + 1);
    j->dep = j->all + (G + 1);
    return STRATA_OK;
}

static void job_free(strata_ctx *ctx, list_job *j)
{
    STRATA_FREE_ALL(ctx, j->size, j->all, j->rbuf, j->gbuf, j->ibuf, j->D, j->H, j->Drow);
}

/* The selection (rows and rank given, or allocated when *rows is NULL). */
static strata_status list_select(strata_ctx *ctx, const strata_list_params *p,
                                 const strata_list_source *src, const double *need, size_t **rows,
                                 uint32_t **rank, size_t *n_sel)
{
    list_job j;
    size_t n = src->rows.n, nd, out = 0;
    strata_status st;
    *n_sel = 0;
    STRATA_TRY(strata_list_params_check(ctx, p));
    if (p->prop_univ && !src->read_imd)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "intervention list: proportionate universalism needs imd_decile");
    memset(&j, 0, sizeof j);
    j.p = p, j.src = src, j.need = need;
    j.G = src->rows.n_groups ? src->rows.n_groups : 1;
    j.block = src->rows.block && src->rows.block < n ? src->rows.block : n ? n : 1;
    j.block = src->rows.in_place || j.block < LIST_BLOCK ? j.block : LIST_BLOCK;
    j.dep_block = src->rows.in_place && j.block > DEP_BLOCK ? DEP_BLOCK : j.block;
    st = job_new(ctx, &j);
    if (st == STRATA_OK)
        st = row_pass(ctx, &j, count_row);
    if (st == STRATA_OK && p->prop_univ)
        st = need_sums(ctx, &j);
    for (size_t g = 0; st == STRATA_OK && g < j.G; g++) {
        list_cap(&j, g);
        j.h_off[g + 1] = j.h_off[g] + (j.cap[g] > j.first[g] ? j.cap[g] - j.first[g] : 0);
    }
    nd = st == STRATA_OK ? j.d_off[j.G] : 0; /* (job_new may have failed) */
    if (st == STRATA_OK && !(j.H = strata_alloc(ctx, (j.h_off[j.G] + 1) * sizeof *j.H)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK && nd) { /* the deprived minimum by row, and a guard */
        if (!(j.Drow = strata_alloc(ctx, (nd + 1) * sizeof *j.Drow)))
            st = STRATA_ENOMEM;
        else {
            memcpy(j.Drow, j.D, nd * sizeof *j.D);
            qsort(j.Drow, nd, sizeof *j.Drow, row_cmp);
            j.Drow[nd] = (list_ent){0, SIZE_MAX};
        }
    }
    if (st == STRATA_OK) {
        list_ent *d0 = j.Drow;
        st = row_pass(ctx, &j, heap_row);
        j.Drow = d0;
    }
    if (st == STRATA_OK && !*rows) {
        *rows = strata_alloc(ctx, (nd + j.h_off[j.G] + 1) * sizeof **rows);
        *rank = strata_alloc(ctx, (nd + j.h_off[j.G] + 1) * sizeof **rank);
        st = *rows && *rank ? STRATA_OK : STRATA_ENOMEM;
    }
    for (size_t g = 0; st == STRATA_OK && g < j.G; g++)
        out += place_group(&j, g, *rows + out, *rank + out);
    *n_sel = out;
    job_free(ctx, &j);
    return st;
}

strata_status strata_intervention_select_source(strata_ctx *ctx, const strata_list_params *p,
                                                const strata_list_source *src, size_t **rows,
                                                uint32_t **rank, size_t *n_sel)
{
    strata_status st;
    *rows = NULL;
    *rank = NULL;
    if (!src->rows.read)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "intervention list: a source needs read");
    st = list_select(ctx, p, src, NULL, rows, rank, n_sel);
    if (st != STRATA_OK) {
        STRATA_FREE_ALL(ctx, *rows, *rank);
        *rows = NULL;
        *rank = NULL;
        *n_sel = 0;
    }
    return st;
}

/* Whole arrays as one block (pointed to, not copied). */
typedef struct whole_list {
    const double *risk;
    const int32_t *group, *imd;
} whole_list;

static strata_status whole_read(strata_ctx *ctx, void *ud, size_t r0, size_t b, double *rbuf,
                                int32_t *gbuf, const double **risk, const int32_t **group)
{
    const whole_list *w = ud;
    (void)ctx, (void)b, (void)rbuf, (void)gbuf;
    *risk = w->risk + r0;
    if (group)
        *group = w->group + r0;
    return STRATA_OK;
}

static strata_status whole_imd(strata_ctx *ctx, void *ud, size_t r0, size_t b, int32_t *buf,
                               const int32_t **imd)
{
    const whole_list *w = ud;
    (void)ctx, (void)b, (void)buf;
    *imd = w->imd + r0;
    return STRATA_OK;
}

strata_status strata_intervention_select(strata_ctx *ctx, const strata_list_params *p, size_t n,
                                         const double *risk, const double *need,
                                         const int32_t *group, size_t n_groups,
                                         const int32_t *imd_decile, size_t *rows,
                                         uint32_t *rank, size_t *n_sel)
{
    whole_list w = {risk, group, imd_decile};
    strata_list_source src;
    memset(&src, 0, sizeof src);
    src.rows.n = n;
    src.rows.n_groups = group ? n_groups : 0;
    src.rows.in_place = 1;
    src.rows.read = whole_read;
    src.rows.ud = &w;
    src.read_imd = imd_decile ? whole_imd : NULL;
    return list_select(ctx, p, &src, need, &rows, &rank, n_sel);
}
