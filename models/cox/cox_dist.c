/* models/cox/cox_dist.c — the Cox fit across MPI ranks (docs/scale.md#mpi): every
 * rank reads the whole time, event, strata and weight columns (~25 bytes a row) and
 * so sorts the rows exactly as one process does; rank r reads its slab of source
 * rows of the formula's variables, builds their design rows and sends each to the
 * rank that owns its sorted position (fixed 8,192-row blocks of the sorted rows,
 * split over the ranks): no rank holds all rows of X. Invariant: every sum is the
 * one-process sum in the same order (block partials gathered and summed in block
 * order; the events' sums carried rank to rank in row order), so the fit's bytes
 * do not depend on the number of ranks. */
#include "cox_internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Rows per message of the exchange of design rows. */
#define XCH_ROWS 4096

typedef struct dist {
    const strata_comm *cm;
    int K, me;
    size_t n, used, slo, shi; /* source rows; complete cases; this rank's source slab */
    size_t *cl;               /* K + 1: the first complete case of each rank's slab */
    size_t ns;                /* complete cases in this rank's slab */
    double **raw;             /* nvars: the slab's values (compacted to its complete cases) */
    double *whole[5];         /* time, event, strata, weights, cluster: every row (NULL when
                                 absent) */
    unsigned char *mask;      /* n */
    double *Xs, *offs;        /* ns x p design rows of the slab (column-major), offsets */
    double *buf;              /* XCH_ROWS x (p + 1) */
} dist;

static void dist_free(strata_ctx *ctx, const glm_formula *f, dist *s)
{
    if (s->raw)
        for (size_t v = 0; v < f->nvars; v++)
            strata_free(ctx, s->raw[v], 0);
    for (int k = 0; k < 5; k++)
        strata_free(ctx, s->whole[k], 0);
    STRATA_FREE_ALL(ctx, s->raw, s->cl, s->mask, s->Xs, s->offs, s->buf);
    memset(s->whole, 0, sizeof s->whole);
    s->raw = NULL;
    s->cl = NULL;
    s->mask = NULL;
    s->Xs = s->offs = s->buf = NULL;
}

/* Collective reads (every rank the same calls, whatever fails), this rank's part
 * of the complete-case mask, then the whole mask on every rank. */
static strata_status load(strata_ctx *ctx, const glm_source *src, const glm_formula *f,
                          const glm_varbind *vb, const cox_formula *cf, dist *s)
{
    const char *names[5] = {NULL, cf->event, cf->strata, NULL, cf->cluster};
    size_t js[5] = {vb[f->response].src_col, 0, 0, f->weights >= 0 ? vb[f->weights].src_col : 0, 0};
    size_t m = s->shi - s->slo, *cnt, *dsp;
    strata_status st = STRATA_OK, sv;
    s->raw = strata_calloc(ctx, f->nvars + 1, sizeof *s->raw);
    s->mask = strata_alloc(ctx, s->n + 1);
    cnt = strata_alloc(ctx, 2 * (size_t)s->K * sizeof *cnt);
    if (!s->raw || !s->mask || !cnt) {
        strata_free(ctx, cnt, 0);
        return STRATA_ENOMEM;
    }
    for (size_t v = 0; v < f->nvars; v++)
        if ((sv = cox_read_col(ctx, src, NULL, vb[v].src_col, s->slo, m, &s->raw[v])) != STRATA_OK && st == STRATA_OK)
            st = sv;
    for (int k = 0; k < 5; k++)
        if ((k != 2 || cf->strata) && (k != 3 || f->weights >= 0) && (k != 4 || cf->cluster) &&
            (sv = cox_read_col(ctx, src, names[k], js[k], 0, s->n, &s->whole[k])) != STRATA_OK && st == STRATA_OK)
            st = sv;
    for (size_t i = 0; st == STRATA_OK && i < m; i++) {
        int ok = !isnan(s->whole[1][s->slo + i]) && (!s->whole[2] || !isnan(s->whole[2][s->slo + i])) &&
                 (!s->whole[4] || !isnan(s->whole[4][s->slo + i]));
        for (size_t v = 0; v < f->nvars && ok; v++)
            ok = !isnan(s->raw[v][i]);
        s->mask[s->slo + i] = (unsigned char)ok;
    }
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK) {
        dsp = cnt + s->K;
        for (int r = 0; r < s->K; r++) {
            dsp[r] = strata_comm_split(s->n, s->K, r, 1);
            cnt[r] = strata_comm_split(s->n, s->K, r + 1, 1) - dsp[r];
        }
        if (s->cm->allgatherv(s->cm->ud, NULL, s->mask, cnt, dsp) != STRATA_OK)
            st = STRATA_FAIL(ctx, STRATA_EIO, "%s: gathering the complete-case mask over the MPI ranks failed",
                             src->name);
    }
    strata_free(ctx, cnt, 0);
    return st;
}

/* The complete cases: each rank's first one, the slab's compacted, and the whole
 * columns compacted (the rows of the fit, in source order). */
static void compact(const glm_formula *f, dist *s)
{
    size_t k = 0;
    for (int r = 0; r <= s->K; r++) {
        size_t lo = strata_comm_split(s->n, s->K, r, 1), hi = strata_comm_split(s->n, s->K, r + 1, 1);
        s->cl[r] = k;
        for (size_t i = lo; r < s->K && i < hi; i++)
            k += s->mask[i];
    }
    s->used = k;
    s->ns = s->cl[s->me + 1] - s->cl[s->me];
    for (size_t v = 0; v < f->nvars; v++) {
        size_t w = 0;
        for (size_t i = s->slo; i < s->shi; i++)
            if (s->mask[i])
                s->raw[v][w++] = s->raw[v][i - s->slo];
    }
    for (int c = 0; c < 5; c++) {
        size_t w = 0;
        for (size_t i = 0; s->whole[c] && i < s->n; i++)
            if (s->mask[i])
                s->whole[c][w++] = s->whole[c][i];
    }
}

/* The slab's design rows, checked: a value that is not finite is EDATA naming its
 * row among the complete cases (1-based, as one process names it). */
static strata_status slab_design(strata_ctx *ctx, const glm_formula *f, const glm_varbind *vb,
                                 const cox_input *in, dist *s)
{
    size_t p = in->p;
    char buf[32];
    s->Xs = strata_alloc(ctx, (s->ns * p + 1) * sizeof *s->Xs);
    s->offs = strata_alloc(ctx, (s->ns + 1) * sizeof *s->offs);
    s->buf = strata_alloc(ctx, XCH_ROWS * (p + 1) * sizeof *s->buf);
    if (!s->Xs || !s->offs || !s->buf)
        return STRATA_ENOMEM;
    STRATA_TRY(cox_build_design(ctx, f, vb, s->raw, s->ns, s->Xs, s->offs));
    for (size_t i = 0; f->noffsets && i < s->ns; i++)
        if (!isfinite(s->offs[i]))
            return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: offset %g is not finite", s->cl[s->me] + i + 1,
                               s->offs[i]);
    for (size_t j = 0; j < p; j++)
        for (size_t i = 0; i < s->ns; i++)
            if (!isfinite(s->Xs[j * s->ns + i]))
                return STRATA_FAIL(ctx, STRATA_EDATA, "cox: row %zu: column '%s' value %g is not finite",
                                   s->cl[s->me] + i + 1, cox_colname(in, j, buf, sizeof buf),
                                   s->Xs[j * s->ns + i]);
    return STRATA_OK;
}

/* The rank whose slab holds complete case o. */
static int owner(const dist *s, size_t o)
{
    int lo = 0, hi = s->K;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (s->cl[mid] <= o)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Sorted rows [lo, hi) of rank b's range, walked in order: the next one whose
 * complete case is in rank a's slab, from *i on; hi when none is left. */
static size_t next_row(const cox_data *d, const dist *s, int a, size_t i, size_t hi)
{
    while (i < hi && owner(s, d->order[i]) != a)
        i++;
    return i;
}

static void row_range(const cox_data *d, int b, size_t *lo, size_t *hi)
{
    *lo = d->rb[b] * d->nb < d->n ? d->rb[b] * d->nb : d->n;
    *hi = d->rb[b + 1] * d->nb < d->n ? d->rb[b + 1] * d->nb : d->n;
}

/* Rank a's design rows that rank b owns, a -> b in messages of XCH_ROWS rows
 * (both sides walk the same rows); a == b copies. Row: p values, then the offset. */
static strata_status move_rows(const cox_data *d, dist *s, int a, int b)
{
    const size_t p = d->p, w = p + 1;
    size_t lo, hi, i, k = 0;
    row_range(d, b, &lo, &hi);
    i = next_row(d, s, a, lo, hi);
    while (i < hi) {
        size_t i0 = i;
        for (k = 0; k < XCH_ROWS && i < hi; k++, i = next_row(d, s, a, i + 1, hi))
            if (s->me == a) {
                size_t o = d->order[i] - s->cl[a];
                for (size_t j = 0; j < p; j++)
                    s->buf[k * w + j] = s->Xs[j * s->ns + o];
                s->buf[k * w + p] = s->offs[o];
            }
        if (a != b && s->me == a)
            STRATA_TRY(s->cm->send(s->cm->ud, s->buf, k * w * sizeof *s->buf, b));
        if (a != b && s->me == b)
            STRATA_TRY(s->cm->recv(s->cm->ud, s->buf, k * w * sizeof *s->buf, a));
        if (s->me != b)
            continue;
        for (size_t q = 0; q < k; q++, i0 = next_row(d, s, a, i0 + 1, hi)) {
            for (size_t j = 0; j < p; j++)
                *cox_xat(d, j, i0) = s->buf[q * w + j];
            if (d->off)
                d->off[i0] = s->buf[q * w + p];
        }
    }
    return STRATA_OK;
}

/* Every pair of ranks in one global order (lo -> hi, then hi -> lo, pairs in
 * lexicographic order): each rank takes its part in the pairs it is in, so the
 * first pair not done always has both its ranks at it (no deadlock with
 * blocking sends). */
static strata_status exchange(const cox_data *d, dist *s)
{
    STRATA_TRY(move_rows(d, s, s->me, s->me));
    for (int a = 0; a < s->K; a++)
        for (int b = a + 1; b < s->K; b++)
            if (s->me == a || s->me == b) {
                STRATA_TRY(move_rows(d, s, a, b));
                STRATA_TRY(move_rows(d, s, b, a));
            }
    return STRATA_OK;
}

/* The rows [x0, x1) of view v (X in memory, or one window of the scratch file)
 * added to the carried message m: the events' sums (p), the previous row (p),
 * which columns varied (p), whether a row was seen (1). */
static void row_sums_rows(const cox_data *v, double *m)
{
    const size_t p = v->p;
    double *last = m + p, *var = m + 2 * p;
    for (size_t j = 0; j < p; j++) {
        double sum = m[j];
        for (size_t i = v->x0; i < v->x1; i++) {
            double x = *cox_xat(v, j, i);
            if (v->status[i] == 1)
                sum += cox_w(v, i) * x;
            if ((i > v->x0 || m[3 * p] != 0) && cox_stratum(v, i) == cox_stratum(v, i - 1) &&
                x != (i > v->x0 ? *cox_xat(v, j, i - 1) : last[j]))
                var[j] = 1;
        }
        m[j] = sum;
        if (v->x1 > v->x0)
            last[j] = *cox_xat(v, j, v->x1 - 1);
    }
    if (v->x1 > v->x0)
        m[3 * p] = 1;
}

/* The events' sum of w x per column (as one process: in sorted row order, carried
 * rank to rank, window by window when streamed) and which columns vary within a
 * stratum (each rank's rows and the pair across its first row), then every rank
 * gets both from the last. */
strata_status cox_carry_row_sums(strata_ctx *ctx, const cox_input *in, cox_data *d)
{
    const strata_comm *cm = d->comm;
    const size_t p = d->p, len = (3 * p + 1) * sizeof(double);
    size_t nw = d->xs ? cox_nwindows(d) : 0;
    double *m = strata_calloc(ctx, 3 * p + 1, sizeof *m), *var;
    cox_data v;
    strata_status st = m ? STRATA_OK : STRATA_ENOMEM, io = STRATA_OK;
    if (st == STRATA_OK && cm->rank > 0)
        io = cm->recv(cm->ud, m, len, cm->rank - 1);
    for (size_t w = 0; st == STRATA_OK && io == STRATA_OK && w < nw; w++)
        if ((st = cox_window(d, w, w + 1 < nw ? w + 1 : SIZE_MAX, &v)) == STRATA_OK)
            row_sums_rows(&v, m);
    if (st == STRATA_OK && io == STRATA_OK && !d->xs)
        row_sums_rows(d, m);
    /* a rank that failed still passes the message on: the chain and the broadcast go on */
    if (m && io == STRATA_OK && cm->rank + 1 < cm->size)
        io = cm->send(cm->ud, m, len, cm->rank + 1);
    if (m && io == STRATA_OK)
        io = cm->bcast(cm->ud, m, len, cm->size - 1);
    if (st == STRATA_OK && io != STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "cox: carrying the event sums over the MPI ranks failed");
    if ((st = strata_comm_agree(ctx, st)) == STRATA_OK) {
        memcpy(d->xd, m, p * sizeof *m);
        var = m + 2 * p;
        for (size_t j = 0; j < p && st == STRATA_OK; j++)
            if (var[j] == 0)
                st = cox_constant_column(ctx, in, d, j);
    }
    strata_free(ctx, m, 0);
    return st;
}

strata_status cox_rank_blocks(strata_ctx *ctx, cox_data *d)
{
    const strata_comm *cm = strata_ctx_comm(ctx);
    if (!(d->rb = strata_alloc(ctx, ((size_t)cm->size + 1) * sizeof *d->rb)))
        return STRATA_ENOMEM;
    for (int r = 0; r <= cm->size; r++)
        d->rb[r] = strata_comm_split(d->nblocks, cm->size, r, 1);
    d->comm = cm;
    d->blo = d->rb[cm->rank];
    d->bhi = d->rb[cm->rank + 1];
    row_range(d, cm->rank, &d->x0, &d->x1);
    d->ldx = d->x1 - d->x0;
    return STRATA_OK;
}

/* This rank's blocks of the sorted rows and its rows of X. */
static strata_status own_blocks(strata_ctx *ctx, cox_data *d, int has_off)
{
    size_t nx;
    STRATA_TRY(cox_rank_blocks(ctx, d));
    if (!strata_mul_ok(d->ldx + 1, d->p, &nx) || !strata_mul_ok(nx, sizeof(double), &nx))
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "cox: %zu x %zu design overflows", d->ldx, d->p);
    d->X = strata_alloc(ctx, nx);
    if (has_off)
        d->off = strata_calloc(ctx, d->n, sizeof *d->off);
    return d->X && (!has_off || d->off) ? STRATA_OK : STRATA_ENOMEM;
}

size_t cox_dist_bytes(const glm_formula *f, const cox_formula *cf, size_t n, int K)
{
    size_t w = f->weights >= 0, st = cf->strata != NULL, cl = cf->cluster != NULL, whole = 2 + w + st + cl;
    size_t p = f->nvars > f->nterms + 1 ? f->nvars - 1 : f->nterms, slab = n / (size_t)K + 1;
    /* (p: the design's columns are known once levels are frozen; a term makes one at least)
     * on every rank: the whole columns and the mask, the sorted vectors, groups and
     * workspace (~60 bytes a row, + weights, strata, the cluster sums' row maps);
     * the slab's variables, its design with offsets and the rank's rows of X */
    return n * (whole * 8 + 1 + 60 + 8 * w + 4 * st + 48 * cl) + slab * (f->nvars * 8 + 16 * p + 8);
}

strata_status cox_fit_dist(strata_ctx *ctx, const glm_source *src, glm_formula *f, glm_varbind *vb,
                           const cox_formula *cf, const cox_params *prm, cox_fit_out *out, size_t *n,
                           size_t *used)
{
    dist s;
    cox_input in;
    double *clus;
    cox_data *d = NULL;
    int32_t *sc = NULL;
    double t0 = omp_get_wtime();
    strata_status st;
    memset(&s, 0, sizeof s);
    s.cm = strata_ctx_comm(ctx);
    s.K = s.cm->size;
    s.me = s.cm->rank;
    *n = s.n = src->nrows;
    *used = 0;
    if (s.n == 0)
        return STRATA_FAIL(ctx, STRATA_EDATA, "%s: the cohort has no rows", src->name);
    s.slo = strata_comm_split(s.n, s.K, s.me, 1);
    s.shi = strata_comm_split(s.n, s.K, s.me + 1, 1);
    if (!(s.cl = strata_alloc(ctx, ((size_t)s.K + 1) * sizeof *s.cl)))
        st = STRATA_ENOMEM;
    else
        st = load(ctx, src, f, vb, cf, &s);
    if (st == STRATA_OK)
        st = cox_freeze_whole(ctx, src, f, vb, s.mask, s.n);
    if (st == STRATA_OK && (!f->intercept || f->p < 2))
        st = STRATA_FAIL(ctx, STRATA_ESPEC, "cox formula: needs at least one term (and no -1)");
    if (st == STRATA_OK) {
        compact(f, &s);
        *used = s.used;
        if (s.used == 0)
            st = STRATA_FAIL(ctx, STRATA_EDATA, "%s: no complete cases for the cox formula", src->name);
    }
    if (st == STRATA_OK && cf->strata && !(sc = strata_alloc(ctx, (s.used + 1) * sizeof *sc)))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK && sc)
        st = cox_strata_codes(ctx, s.used, s.whole[2], sc, out);
    /* the rows every rank sorts alike; X and offsets come by exchange */
    in = (cox_input){s.used, f->p - 1, NULL, s.whole[0], s.whole[1], s.whole[3], NULL, sc,
                     (const char *const *)f->colnames + 1, s.whole[4]};
    if (st == STRATA_OK)
        st = cox_data_build_rows(ctx, &in, prm->block_rows, &d);
    if (st == STRATA_OK)
        st = slab_design(ctx, f, vb, &in, &s);
    if (st == STRATA_OK)
        st = own_blocks(ctx, d, f->noffsets > 0);
    /* every rank reaches this after the same collectives (load and freeze agree) */
    st = strata_comm_agree(ctx, st);
    if (st == STRATA_OK && exchange(d, &s) != STRATA_OK)
        st = STRATA_FAIL(ctx, STRATA_EIO, "cox: moving the design rows between the MPI ranks failed");
    if (st == STRATA_OK)
        st = cox_carry_row_sums(ctx, &in, d);
    if (d && !cf->cluster) { /* only the robust pass with clusters maps rows back */
        strata_free(ctx, d->order, 0);
        d->order = NULL;
    }
    clus = s.whole[4]; /* the fit's robust pass reads it; the rest goes before the fit */
    s.whole[4] = NULL;
    dist_free(ctx, f, &s);
    in.time = in.status = in.weight = NULL; /* freed with s; the fit reads p, names, cluster */
    if (st == STRATA_OK)
        st = cox_fit_data(ctx, &in, prm, d, t0, &out->res); /* takes d over */
    else
        cox_data_free(ctx, d);
    strata_free(ctx, sc, 0);
    strata_free(ctx, clus, 0);
    return st;
}
