/* engine/derive/derive.c — `strata derive`: the population at the index date
 * (alive, born, registered; exclusions counted by reason), per-table event
 * offsets (checked sorted), then patient blocks: copy the population's rows of
 * /patients and /outcomes and append each item's values. Each patient's values
 * depend only on its own events, so any thread count writes the same bytes.
 * Under MPI (docs/scale.md#mpi) block q is derived by rank q mod K and rank 0
 * appends the blocks in order: the same bytes for any number of ranks. */
#include "comm.h"
#include "derive_internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <string.h>

#define DV_BLOCK 65536

const char *strata_derive_reason_name(int k)
{
    static const char *const names[STRATA_DERIVE_REASONS] = {
        "no_index_date", "not_born", "died", "not_yet_registered", "deregistered"};
    return k >= 0 && k < STRATA_DERIVE_REASONS ? names[k] : "";
}

typedef struct dv_pop {
    size_t npat;
    long j_role[4];          /* birth, death, reg start, reg end columns (-1) */
    int32_t *lvday[4];
    long j_index;            /* per-patient index column, or -1 */
    int32_t *lvday_index;
    long j_sex;
    const strata_column_info *sex;
} dv_pop;

typedef struct dv_run {
    strata_ctx *ctx;
    strata_cohort *c;
    dv_spec s;
    dv_pop pop;
    strata_cohort_writer *w;
    size_t ncopy;            /* /patients + /outcomes columns copied */
    size_t *copy_j;          /* cohort column of each copied column */
    size_t *copy_w;          /* writer column of each */
    size_t nout;             /* derived output columns */
    size_t *out_w;           /* writer column of each */
    strata_dtype *out_t;
    unsigned char *out_cat;  /* categorical (NA = -1) */
    char (*out_name)[256];   /* "group/name" of each */
    size_t rowbytes;         /* bytes of one output row: copied, then derived columns */
    strata_derive_report *rep;
} dv_run;

/* Reads date-like per-patient columns for rows [r0, r0+n). */
static strata_status read_days(dv_run *r, long j, const int32_t *lvday, size_t r0, size_t n,
                               int32_t *out)
{
    if (j < 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = DV_NONE_DAY;
        return STRATA_OK;
    }
    STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, (size_t)j, r0, n, out));
    strata_days_convert(lvday, out, n);
    return STRATA_OK;
}

static strata_status setup_pop(dv_run *r)
{
    static const strata_role roles[4] = {STRATA_ROLE_BIRTH_DATE, STRATA_ROLE_DEATH_DATE,
                                         STRATA_ROLE_REG_START, STRATA_ROLE_REG_END};
    dv_pop *p = &r->pop;
    p->npat = strata_cohort_nrows(r->c);
    for (int k = 0; k < 4; k++) {
        p->j_role[k] = strata_cohort_find_role(r->c, roles[k]);
        if (p->j_role[k] >= 0)
            STRATA_TRY(strata_date_levels(r->ctx, strata_cohort_path(r->c),
                                          strata_cohort_column(r->c, (size_t)p->j_role[k]),
                                          &p->lvday[k]));
    }
    p->j_index = -1;
    if (r->s.index_col) {
        size_t j;
        STRATA_TRY(strata_cohort_find(r->ctx, r->c, r->s.index_col, &j));
        p->j_index = (long)j;
        STRATA_TRY(strata_date_levels(r->ctx, strata_cohort_path(r->c),
                                      strata_cohort_column(r->c, j), &p->lvday_index));
    }
    p->j_sex = strata_cohort_find_role(r->c, STRATA_ROLE_SEX);
    p->sex = p->j_sex >= 0 ? strata_cohort_column(r->c, (size_t)p->j_sex) : NULL;
    return STRATA_OK;
}

/* Room for n events in buffer b of table t (patient rows so far are kept). */
static strata_status ensure_cap(dv_run *r, const dv_table *t, dv_tbuf *b, size_t n)
{
    strata_ctx *ctx = r->ctx;
    size_t nc = b->cap ? b->cap : 65536;
    int32_t *pr;
    if (n <= b->cap)
        return STRATA_OK;
    while (nc < n)
        nc *= 2;
    if (!(pr = strata_realloc(ctx, b->prow, b->cap * sizeof *pr, nc * sizeof *pr)))
        return STRATA_ENOMEM;
    b->prow = pr;
    strata_free(ctx, b->day, 0);
    b->cap = 0;
    if (!(b->day = strata_alloc(ctx, nc * sizeof *b->day)))
        return STRATA_ENOMEM;
    for (size_t k = 0; k < t->ncol; k++) {
        STRATA_FREE_ALL(ctx, b->val[k], b->code[k]);
        b->val[k] = NULL;
        b->code[k] = NULL;
        if (t->info[k]->categorical ? !(b->code[k] = strata_alloc(ctx, nc * sizeof(int32_t)))
                                    : !(b->val[k] = strata_alloc(ctx, nc * sizeof(double))))
            return STRATA_ENOMEM;
    }
    b->cap = nc;
    return STRATA_OK;
}

static void free_tbuf(strata_ctx *ctx, const dv_table *t, dv_tbuf *b)
{
    for (size_t k = 0; t && k < t->ncol; k++)
        STRATA_FREE_ALL(ctx, b->val[k], b->code[k]);
    STRATA_FREE_ALL(ctx, b->off, b->prow, b->day);
    memset(b, 0, sizeof *b);
}

static strata_status bad_event(dv_run *r, const dv_table *t, size_t e, int32_t pr, int32_t dy,
                               const char *why)
{
    return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s:/events/%s: row %zu: (patient_row %d, day %d) %s",
                       strata_cohort_path(r->c), t->name, e + 1, pr, dy, why);
}

/* Counts the events of patients [p0, p1) from t->cur on, reading patient_row
 * ahead in chunks (what is read past p1 is read again for the next block),
 * and checks the rows are in /patients and in order. */
static strata_status count_block(dv_run *r, dv_table *t, dv_tbuf *bf, size_t p1, size_t *ne)
{
    size_t n = 0, npat = r->pop.npat;
    size_t chunk = 4096 + (t->nev / (npat ? npat : 1) + 1) * DV_BLOCK;
    for (;;) {
        size_t at = t->cur + n, b = t->nev - at < chunk ? t->nev - at : chunk, i;
        if (b == 0)
            break;
        STRATA_TRY(ensure_cap(r, t, bf, n + b));
        STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, t->j_row, at, b, bf->prow + n));
        for (i = 0; i < b; i++) {
            int32_t pr = bf->prow[n + i], prev = n + i ? bf->prow[n + i - 1] : t->prev_row;
            if (pr < 0 || (size_t)pr >= npat)
                return bad_event(r, t, at + i, pr, 0, "patient_row outside /patients");
            if (pr < prev)
                return bad_event(r, t, at + i, pr, 0, "out of order: events must be sorted by "
                                 "patient_row, then day (strata import events sorts them)");
            if ((size_t)pr >= p1)
                break;
        }
        n += i;
        if (i < b)
            break;
    }
    *ne = n;
    return STRATA_OK;
}

/* Loads the events of patients [p0, p1) (the table's next ones: blocks come in
 * order) into buffer bf, with per-patient offsets off[0..p1-p0]. */
static strata_status load_events(dv_run *r, dv_table *t, dv_tbuf *bf, size_t p0, size_t p1)
{
    strata_ctx *ctx = r->ctx;
    size_t ne = 0;
    if (!bf->off && !(bf->off = strata_alloc(ctx, (DV_BLOCK + 1) * sizeof *bf->off)))
        return STRATA_ENOMEM;
    memset(bf->off, 0, (p1 - p0 + 1) * sizeof *bf->off);
    STRATA_TRY(count_block(r, t, bf, p1, &ne));
    if (ne) {
        STRATA_TRY(strata_cohort_read_i32(ctx, r->c, t->j_day, t->cur, ne, bf->day));
        for (size_t k = 0; k < t->ncol; k++)
            STRATA_TRY(t->info[k]->categorical
                           ? strata_cohort_read_i32(ctx, r->c, t->jcol[k], t->cur, ne, bf->code[k])
                           : strata_cohort_read_f64(ctx, r->c, t->jcol[k], t->cur, ne, bf->val[k]));
    }
    for (size_t e = 0; e < ne; e++) {
        if (bf->day[e] == INT32_MIN)
            return bad_event(r, t, t->cur + e, bf->prow[e], 0, "day missing");
        if (e && bf->prow[e] == bf->prow[e - 1] && bf->day[e] < bf->day[e - 1])
            return bad_event(r, t, t->cur + e, bf->prow[e], bf->day[e], "out of order: events "
                             "must be sorted by patient_row, then day (strata import events "
                             "sorts them)");
        bf->off[bf->prow[e] - (int32_t)p0 + 1]++;
    }
    for (size_t i = 0; i < p1 - p0; i++)
        bf->off[i + 1] += bf->off[i];
    if (ne)
        t->prev_row = bf->prow[ne - 1];
    t->cur += ne;
    return STRATA_OK;
}

static const char *const frail_levels[] = {"fit", "mild", "moderate", "severe"};

/* Name, type and levels of output k of item it. */
static void out_column(const dv_item *it, size_t k, char *name, size_t n, strata_column_spec *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->group = it->outcome ? "outcomes" : "patients";
    cs->dtype = STRATA_DT_INT32;
    snprintf(name, n, "%s", it->name);
    switch (it->kind) {
    case DK_ANY:
    case DK_EVER: cs->dtype = STRATA_DT_INT8; break;
    case DK_COUNT:
    case DK_DISTINCT:
    case DK_ACSC: cs->dtype = it->has_at_least ? STRATA_DT_INT8 : STRATA_DT_INT32; break;
    case DK_SUM:
    case DK_MAX:
    case DK_MIN:
    case DK_LAST: cs->dtype = it->has_at_least ? STRATA_DT_INT8 : STRATA_DT_FLOAT64; break;
    case DK_DAYS_SINCE: cs->units = "days"; break;
    case DK_FLAGS:
        snprintf(name, n, "%s%s", it->prefix, it->cat_names[k]);
        cs->dtype = STRATA_DT_INT8;
        break;
    case DK_EFI:
        if (k == 1) {
            snprintf(name, n, "%s_score", it->name);
            cs->dtype = STRATA_DT_FLOAT64;
        } else if (k == 2) {
            snprintf(name, n, "%s_category", it->name);
            cs->dtype = STRATA_DT_INT8;
            cs->categorical = 1;
            cs->levels = frail_levels;
            cs->n_levels = 4;
        }
        break;
    case DK_TIME_TO_FIRST:
        if (k == 1) {
            snprintf(name, n, "%s", it->event_name ? it->event_name : it->name);
            if (!it->event_name)
                snprintf(name + strlen(name), n - strlen(name), "_event");
            cs->dtype = STRATA_DT_INT8;
        } else
            cs->units = "days";
        break;
    case DK_ADD: cs->dtype = STRATA_DT_FLOAT64; break;
    default: break;
    }
    if (it->otype != STRATA_DT_NONE && (k == 0 || it->kind == DK_FLAGS))
        cs->dtype = it->otype;
    cs->name = name;
}

/* Names and types of the derived columns; two items may not write the same column. */
static strata_status plan_outputs(dv_run *r)
{
    strata_ctx *ctx = r->ctx;
    size_t k = 0;
    for (size_t i = 0; i < r->s.nitem; i++)
        r->nout += r->s.item[i].nout;
    if (!(r->out_w = strata_calloc(ctx, r->nout + 1, sizeof *r->out_w)) ||
        !(r->out_t = strata_calloc(ctx, r->nout + 1, sizeof *r->out_t)) ||
        !(r->out_cat = strata_calloc(ctx, r->nout + 1, 1)) ||
        !(r->out_name = strata_calloc(ctx, r->nout + 1, sizeof *r->out_name)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < r->s.nitem; i++) {
        dv_item *it = &r->s.item[i];
        it->out0 = k;
        for (size_t q = 0; q < it->nout; q++, k++) {
            char name[200];
            strata_column_spec cs;
            out_column(it, q, name, sizeof name, &cs);
            r->out_t[k] = cs.dtype;
            r->out_cat[k] = (unsigned char)cs.categorical;
            snprintf(r->out_name[k], sizeof r->out_name[k], "%s/%s", cs.group, name);
            for (size_t e = 0; e < k; e++)
                if (!strcmp(r->out_name[e], r->out_name[k]))
                    return STRATA_FAIL(ctx, STRATA_ESPEC, "%s: line %d: %s: column %s is "
                                       "written by an earlier item too", r->s.path, it->line,
                                       it->name, r->out_name[k]);
        }
    }
    return STRATA_OK;
}

/* Copies the /patients and /outcomes columns a derived column does not
 * replace, then adds the derived columns. */
static strata_status add_columns(dv_run *r)
{
    strata_ctx *ctx = r->ctx;
    size_t nc = strata_cohort_ncols(r->c);
    STRATA_TRY(plan_outputs(r));
    if (!(r->copy_j = strata_calloc(ctx, nc + 1, sizeof *r->copy_j)) ||
        !(r->copy_w = strata_calloc(ctx, nc + 1, sizeof *r->copy_w)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < nc; j++) {
        const strata_column_info *ci = strata_cohort_column(r->c, j);
        strata_column_spec cs;
        char full[300];
        int replaced = 0;
        if (strcmp(ci->group, "patients") && strcmp(ci->group, "outcomes"))
            continue;
        snprintf(full, sizeof full, "%s/%s", ci->group, ci->name);
        for (size_t k = 0; k < r->nout && !replaced; k++)
            replaced = !strcmp(full, r->out_name[k]);
        if (replaced) {
            r->rep->n_replaced++;
            continue;
        }
        cs = (strata_column_spec){ci->group, ci->name, ci->dtype, ci->categorical, ci->levels,
                                  ci->n_levels, ci->role, ci->units, NULL};
        r->copy_j[r->ncopy] = j;
        if (r->w) /* under MPI only rank 0 writes */
            STRATA_TRY(strata_cohort_writer_add(r->w, &cs, &r->copy_w[r->ncopy]));
        r->rowbytes += strata_dtype_size(ci->dtype);
        r->ncopy++;
    }
    for (size_t i = 0; i < r->s.nitem; i++) {
        const dv_item *it = &r->s.item[i];
        for (size_t q = 0; q < it->nout; q++) {
            char name[200];
            strata_column_spec cs;
            out_column(it, q, name, sizeof name, &cs);
            if (r->w)
                STRATA_TRY(strata_cohort_writer_add(r->w, &cs, &r->out_w[it->out0 + q]));
            r->rowbytes += strata_dtype_size(cs.dtype);
            if (it->outcome)
                r->rep->n_outcomes++;
            else
                r->rep->n_features++;
        }
    }
    return STRATA_OK;
}

/* Population flags and per-patient dates for rows [p0, p0+n). */
typedef struct dv_block {
    size_t n, nin;
    unsigned char *in;
    int32_t *d[4];           /* birth, death, reg start, reg end */
    int32_t *t0;
    int32_t *sex;
    size_t *rows;            /* included rows (relative to p0) */
    double *out;             /* nin x nout */
    size_t excl[STRATA_DERIVE_REASONS]; /* the block's exclusions by reason */
    unsigned char *pay;      /* the block's output rows as written: each copied
                                column's nin values, then each derived column's */
} dv_block;

static strata_status block_population(dv_run *r, dv_block *b, size_t p0)
{
    dv_pop *p = &r->pop;
    for (int k = 0; k < 4; k++)
        STRATA_TRY(read_days(r, p->j_role[k], p->lvday[k], p0, b->n, b->d[k]));
    if (p->j_index >= 0)
        STRATA_TRY(read_days(r, p->j_index, p->lvday_index, p0, b->n, b->t0));
    else
        for (size_t i = 0; i < b->n; i++)
            b->t0[i] = r->s.index_day;
    if (p->j_sex >= 0)
        STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, (size_t)p->j_sex, p0, b->n, b->sex));
    b->nin = 0;
    memset(b->excl, 0, sizeof b->excl);
    for (size_t i = 0; i < b->n; i++) {
        int32_t t0 = b->t0[i];
        int why = t0 == DV_NONE_DAY                              ? 0
                  : b->d[0][i] != DV_NONE_DAY && b->d[0][i] > t0 ? 1
                  : b->d[1][i] != DV_NONE_DAY && b->d[1][i] < t0 ? 2
                  : b->d[2][i] != DV_NONE_DAY && b->d[2][i] > t0 ? 3
                  : b->d[3][i] != DV_NONE_DAY && b->d[3][i] < t0 ? 4
                                                                 : -1;
        b->in[i] = why < 0;
        if (why >= 0)
            b->excl[why]++;
        else
            b->rows[b->nin++] = i;
    }
    return STRATA_OK;
}

/* Packs the included rows of every copied column for rows [p0, p0+n) into
 * the block's output rows. */
static strata_status copy_block(dv_run *r, dv_block *b, size_t p0, unsigned char *raw)
{
    unsigned char *o = b->pay;
    for (size_t k = 0; k < r->ncopy; k++) {
        const strata_column_info *ci = strata_cohort_column(r->c, r->copy_j[k]);
        size_t es = strata_dtype_size(ci->dtype);
        STRATA_TRY(strata_cohort_read_native(r->ctx, r->c, r->copy_j[k], p0, b->n, raw));
        for (size_t i = 0; i < b->nin; i++)
            memcpy(o + i * es, raw + b->rows[i] * es, es);
        o += b->nin * es;
    }
    return STRATA_OK;
}

/* Writes n values of derived column k (stride apart) into buf in its storage
 * type; NaN is the type's NA; a value the type cannot hold is an error. */
static strata_status store(dv_run *r, size_t k, const double *v, size_t stride, const dv_block *b,
                           size_t p0, unsigned char *buf)
{
    static const double lo[] = {0, INT8_MIN, INT16_MIN, INT32_MIN}, hi[] = {0, INT8_MAX,
                                                                          INT16_MAX, INT32_MAX};
    strata_dtype t = r->out_t[k];
    size_t es = strata_dtype_size(t);
    for (size_t i = 0; i < b->nin; i++) {
        double x = v[i * stride];
        int64_t y;
        if (t == STRATA_DT_FLOAT64) {
            memcpy(buf + i * 8, &x, 8);
            continue;
        }
        if (t == STRATA_DT_FLOAT32) {
            float f = (float)x;
            memcpy(buf + i * 4, &f, 4);
            continue;
        }
        if (!isnan(x) && (x <= lo[t] || x > hi[t] || x != floor(x)))
            return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s: /patients row %zu: derived %s = %.17g "
                               "does not fit its type %s (set type: in the spec)", r->s.path,
                               p0 + b->rows[i] + 1, r->out_name[k], x, strata_dtype_name(t));
        y = isnan(x) ? (r->out_cat[k] ? -1 : (int64_t)lo[t]) : (int64_t)x;
        if (t == STRATA_DT_INT8) {
            int8_t z = (int8_t)y;
            memcpy(buf + i * es, &z, es);
        } else if (t == STRATA_DT_INT16) {
            int16_t z = (int16_t)y;
            memcpy(buf + i * es, &z, es);
        } else {
            int32_t z = (int32_t)y;
            memcpy(buf + i * es, &z, es);
        }
    }
    return STRATA_OK;
}

/* One block of patients in flight: population and dates, events, outputs. The
 * block loop fills one slot (HDF5, one thread) while the other is evaluated. */
typedef struct dv_slot {
    dv_block b;
    size_t p0;
    dv_tbuf *tb;             /* the block's events, one buffer per table */
    int32_t *scratch;        /* per thread: `distinct`'s codes of one patient */
    size_t scr_per;
} dv_slot;

#define DV_EVAL_CHUNK 4096   /* patients per evaluation task */

/* Most events one patient of the block has in one table. */
static size_t block_max_events(const dv_run *r, const dv_slot *sl)
{
    size_t m = 1;
    for (size_t k = 0; k < r->s.ntab; k++)
        for (size_t i = 0; i < sl->b.n; i++)
            if (sl->tb[k].off[i + 1] - sl->tb[k].off[i] > m)
                m = sl->tb[k].off[i + 1] - sl->tb[k].off[i];
    return m;
}

/* Evaluates every item for the block's included patients [q0, q1). */
static void eval_range(const dv_run *r, const dv_slot *sl, size_t q0, size_t q1)
{
    const dv_spec *s = &r->s;
    const dv_block *b = &sl->b;
    const strata_column_info *sx = r->pop.sex;
#ifdef _OPENMP
    int32_t *scr = sl->scratch + (size_t)omp_get_thread_num() * sl->scr_per;
#else
    int32_t *scr = sl->scratch;
#endif
    for (size_t q = q0; q < q1; q++) {
        size_t i = b->rows[q];
        int last = -1; /* items on one table are usually neighbours: its range is reused */
        dv_patient pt;
        pt.t0 = b->t0[i];
        pt.death = b->d[1][i];
        pt.reg_start = b->d[2][i];
        pt.reg_end = b->d[3][i];
        pt.sex = sx && b->sex[i] >= 0 && (size_t)b->sex[i] < sx->n_levels
                     ? sx->levels[b->sex[i]][0] : 0;
        for (size_t k = 0; k < s->nitem; k++) {
            const dv_item *it = &s->item[k];
            double *o = b->out + q, res[64]; /* column-major: column c at c * DV_BLOCK */
            if (it->kind == DK_ADD) { /* in the order of of: */
                double acc = o[s->item[it->add[0]].out0 * DV_BLOCK];
                for (int j = 1; j < it->nadd; j++)
                    acc += o[s->item[it->add[j]].out0 * DV_BLOCK];
                o[it->out0 * DV_BLOCK] = acc;
                continue;
            }
            /* efi: the polypharmacy item's 0/1 is one more deficit */
            pt.extra_deficits =
                it->poly_item >= 0 && o[s->item[it->poly_item].out0 * DV_BLOCK] >= 1;
            if (it->table != last) {
                pt.e0 = sl->tb[it->table].off[i];
                pt.e1 = sl->tb[it->table].off[i + 1];
                last = it->table;
            }
            dv_eval(sl->tb, it, &pt, scr, res);
            for (size_t j = 0; j < it->nout; j++)
                o[(it->out0 + j) * DV_BLOCK] = res[j];
        }
    }
}

static strata_status slot_init(dv_run *r, dv_slot *sl)
{
    strata_ctx *ctx = r->ctx;
    dv_block *b = &sl->b;
    memset(sl, 0, sizeof *sl);
    if (!(b->in = strata_alloc(ctx, DV_BLOCK)) || !(b->t0 = strata_alloc(ctx, DV_BLOCK * 4)) ||
        !(b->sex = strata_alloc(ctx, DV_BLOCK * 4)) ||
        !(b->rows = strata_alloc(ctx, DV_BLOCK * sizeof *b->rows)) ||
        !(b->out = strata_alloc(ctx, DV_BLOCK * (r->nout ? r->nout : 1) * sizeof *b->out)) ||
        !(b->pay = strata_alloc(ctx, DV_BLOCK * (r->rowbytes ? r->rowbytes : 1))) ||
        !(sl->tb = strata_calloc(ctx, r->s.ntab + 1, sizeof *sl->tb)))
        return STRATA_ENOMEM;
    for (int k = 0; k < 4; k++)
        if (!(b->d[k] = strata_alloc(ctx, DV_BLOCK * 4)))
            return STRATA_ENOMEM;
    return STRATA_OK;
}

static void slot_free(dv_run *r, dv_slot *sl)
{
    dv_block *b = &sl->b;
    for (size_t k = 0; sl->tb && k < r->s.ntab; k++)
        free_tbuf(r->ctx, &r->s.tab[k], &sl->tb[k]);
    STRATA_FREE_ALL(r->ctx, b->d[0], b->d[1], b->d[2], b->d[3], b->in, b->t0, b->sex, b->rows,
                    b->out, b->pay, sl->tb, sl->scratch);
}

/* Reads block p0 into the slot: population, copied columns (appended), events. */
static strata_status slot_load(dv_run *r, dv_slot *sl, size_t p0, unsigned char *raw, size_t maxc)
{
    size_t need;
    sl->p0 = p0;
    sl->b.n = r->pop.npat - p0 < DV_BLOCK ? r->pop.npat - p0 : DV_BLOCK;
    STRATA_TRY(block_population(r, &sl->b, p0));
    STRATA_TRY(copy_block(r, &sl->b, p0, raw));
    for (size_t k = 0; k < r->s.ntab; k++)
        STRATA_TRY(load_events(r, &r->s.tab[k], &sl->tb[k], p0, p0 + sl->b.n));
    need = block_max_events(r, sl) * maxc;
    if (!sl->scratch || need > sl->scr_per) { /* `distinct` sorts one patient's codes */
        strata_free(r->ctx, sl->scratch, 0);
        sl->scr_per = need;
        if (!(sl->scratch = strata_alloc(r->ctx, (size_t)strata_threads(r->ctx) * need *
                                                     sizeof *sl->scratch)))
            return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

/* Converts the slot's derived values to their types, after the copied
 * columns in the block's output rows. */
static strata_status slot_pack(dv_run *r, dv_slot *sl)
{
    unsigned char *o = sl->b.pay;
    for (size_t k = 0; k < r->ncopy; k++)
        o += sl->b.nin * strata_dtype_size(strata_cohort_column(r->c, r->copy_j[k])->dtype);
    for (size_t k = 0; k < r->nout; k++) {
        STRATA_TRY(store(r, k, sl->b.out + k * DV_BLOCK, 1, &sl->b, sl->p0, o));
        o += sl->b.nin * strata_dtype_size(r->out_t[k]);
    }
    return STRATA_OK;
}

/* Appends a block's nin output rows (pay) and counts its patients. */
static strata_status block_append(dv_run *r, const unsigned char *pay, size_t nin,
                                  const size_t *excl)
{
    for (size_t k = 0; k < r->ncopy; k++) {
        STRATA_TRY(strata_cohort_writer_append(r->w, r->copy_w[k], pay, nin));
        pay += nin * strata_dtype_size(strata_cohort_column(r->c, r->copy_j[k])->dtype);
    }
    for (size_t k = 0; k < r->nout; k++) {
        STRATA_TRY(strata_cohort_writer_append(r->w, r->out_w[k], pay, nin));
        pay += nin * strata_dtype_size(r->out_t[k]);
    }
    r->rep->n_included += nin;
    for (int k = 0; k < STRATA_DERIVE_REASONS; k++)
        r->rep->n_excluded[k] += excl[k];
    return STRATA_OK;
}

static strata_status slot_write(dv_run *r, dv_slot *sl)
{
    STRATA_TRY(slot_pack(r, sl));
    return block_append(r, sl->b.pay, sl->b.nin, sl->b.excl);
}

/* The most codes one item lists (the size of `distinct`'s per-patient scratch). */
static size_t max_codes(const dv_run *r)
{
    size_t maxc = 1;
    for (size_t k = 0; k < r->s.nitem; k++)
        if ((size_t)r->s.item[k].ncode > maxc)
            maxc = (size_t)r->s.item[k].ncode;
    return maxc;
}

/* Progress: the patients of the first nb blocks are written. */
static void written(dv_run *r, size_t nb)
{
    strata_progress(r->ctx, "derive",
                    (double)(nb * DV_BLOCK < r->pop.npat ? nb * DV_BLOCK : r->pop.npat),
                    (double)r->pop.npat);
}

/* Blocks in order: while tasks evaluate block k from one slot, the thread that
 * owns HDF5 reads block k + 1 into the other, then helps, then writes block k.
 * Each patient's values depend on its own events only: same bytes for any
 * number of threads. */
static strata_status run_blocks(dv_run *r)
{
    strata_ctx *ctx = r->ctx;
    dv_slot sl[2];
    size_t maxc = max_codes(r), nblk = (r->pop.npat + DV_BLOCK - 1) / DV_BLOCK;
    unsigned char *raw = strata_alloc(ctx, DV_BLOCK * 8);
    strata_status st = raw ? STRATA_OK : STRATA_ENOMEM;
    memset(sl, 0, sizeof sl);
    for (int k = 0; k < 2 && st == STRATA_OK; k++)
        st = slot_init(r, &sl[k]);
    if (st == STRATA_OK && nblk)
        st = slot_load(r, &sl[0], 0, raw, maxc);
#pragma omp parallel num_threads(strata_threads(ctx))
#pragma omp single
    for (size_t k = 0; k < nblk && st == STRATA_OK; k++) {
        dv_slot *cur = &sl[k % 2], *next = &sl[(k + 1) % 2];
        for (size_t q0 = 0; q0 < cur->b.nin; q0 += DV_EVAL_CHUNK) {
            size_t q1 = cur->b.nin - q0 < DV_EVAL_CHUNK ? cur->b.nin : q0 + DV_EVAL_CHUNK;
#pragma omp task firstprivate(q0, q1)
            eval_range(r, cur, q0, q1);
        }
        if (k + 1 < nblk)
            st = slot_load(r, next, (k + 1) * DV_BLOCK, raw, maxc);
#pragma omp taskwait
        if (st == STRATA_OK)
            st = slot_write(r, cur);
        if (st == STRATA_OK)
            written(r, k + 1);
    }
    slot_free(r, &sl[0]);
    slot_free(r, &sl[1]);
    strata_free(ctx, raw, 0);
    return st;
}


/* ---- across MPI ranks (docs/scale.md#mpi) ---------------------------------- */

/* Each table's first event of patient p0 or later, found from the table's
 * cursor on by binary search over patient_row (sorted: strata import events
 * sorts it, strata validate checks it) with single-value reads, so a rank can
 * start at any block. prev_row is the event before it, for the order check. */
static strata_status seek_events(dv_run *r, size_t p0)
{
    for (size_t k = 0; k < r->s.ntab; k++) {
        dv_table *t = &r->s.tab[k];
        size_t lo = t->cur, hi = t->nev;
        int32_t v;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, t->j_row, mid, 1, &v));
            if (v < 0 || (size_t)v < p0)
                lo = mid + 1;
            else
                hi = mid;
        }
        t->cur = lo;
        t->prev_row = -1;
        if (lo > 0) {
            STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, t->j_row, lo - 1, 1, &v));
            t->prev_row = v;
        }
    }
    return STRATA_OK;
}

/* Evaluates every item for the slot's included patients (any schedule: each
 * patient's values depend on its own events only). */
static void eval_block(const dv_run *r, const dv_slot *sl)
{
    size_t nq = (sl->b.nin + DV_EVAL_CHUNK - 1) / DV_EVAL_CHUNK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(strata_threads(r->ctx))
    for (size_t c = 0; c < nq; c++)
        eval_range(r, sl, c * DV_EVAL_CHUNK,
                   sl->b.nin - c * DV_EVAL_CHUNK < DV_EVAL_CHUNK ? sl->b.nin : (c + 1) * DV_EVAL_CHUNK);
}

/* A block's counts and how it went, sent ahead of its spans (each table's
 * first event read and the event after its last) and its output rows. A
 * block's own error travels here instead of stopping the round, so that rank
 * 0 meets the errors in block order, as one process does. */
typedef struct dv_head {
    uint64_t nin, excl[STRATA_DERIVE_REASONS];
    int32_t status;
    char msg[STRATA_ERRMSG_MAX];
} dv_head;

/* One block in flight on a rank (strata_comm_rounds' items are blocks). */
typedef struct dv_dist {
    dv_run *r;
    dv_slot sl;
    unsigned char *raw;
    size_t maxc;
    dv_head h;          /* the block made on this rank */
    uint64_t *span;     /* [2 ntab]: per table, the block's first event and the one after */
    uint64_t *cur;      /* rank 0, [ntab]: per table, where the next block must start */
} dv_dist;

static strata_status dist_make(void *ud, size_t q)
{
    dv_dist *d = ud;
    dv_run *r = d->r;
    strata_status st;
    memset(&d->h, 0, sizeof d->h);
    st = seek_events(r, q * DV_BLOCK);
    for (size_t k = 0; k < r->s.ntab; k++)
        d->span[2 * k] = d->span[2 * k + 1] = r->s.tab[k].cur;
    if (st != STRATA_OK) /* a read of patient_row failed: no order to speak of */
        return st;
    st = slot_load(r, &d->sl, q * DV_BLOCK, d->raw, d->maxc);
    for (size_t k = 0; k < r->s.ntab; k++)
        d->span[2 * k + 1] = r->s.tab[k].cur;
    if (st == STRATA_OK) {
        eval_block(r, &d->sl);
        st = slot_pack(r, &d->sl);
    }
    if (st == STRATA_OK) {
        d->h.nin = d->sl.b.nin;
        for (int k = 0; k < STRATA_DERIVE_REASONS; k++)
            d->h.excl[k] = d->sl.b.excl[k];
    } else if (st == STRATA_EDATA) { /* the block's data: reported in block order */
        d->h.status = (int32_t)st;
        snprintf(d->h.msg, sizeof d->h.msg, "%s", strata_ctx_errmsg(r->ctx));
        st = STRATA_OK;
    }
    return st;
}

/* Rank 0, block q from any rank, in block order: the block must start where
 * the one before it ended in every table. A rank finds its start by binary
 * search over patient_row, which is exact only if the table is sorted; when a
 * start does not meet the previous end the table is not, and one process
 * would have read on from the previous end: rank 0 does that now, from block
 * q on, and reports what one process reports. Otherwise the block's own error,
 * if it had one, is the first in block order. */
static strata_status dist_check(dv_dist *d, size_t q, const dv_head *h, const uint64_t *span)
{
    dv_run *r = d->r;
    size_t nblk = (r->pop.npat + DV_BLOCK - 1) / DV_BLOCK;
    int joined = 1;
    for (size_t k = 0; k < r->s.ntab; k++)
        joined &= span[2 * k] == d->cur[k];
    if (!joined) {
        for (size_t k = 0; k < r->s.ntab; k++) {
            dv_table *t = &r->s.tab[k];
            t->cur = (size_t)d->cur[k];
            t->prev_row = -1;
            if (t->cur)
                STRATA_TRY(strata_cohort_read_i32(r->ctx, r->c, t->j_row, t->cur - 1, 1, &t->prev_row));
        }
        for (size_t b = q; b < nblk; b++)
            STRATA_TRY(slot_load(r, &d->sl, b * DV_BLOCK, d->raw, d->maxc));
        return STRATA_FAIL(r->ctx, STRATA_EDATA, "%s: events not sorted by patient_row (block %zu "
                           "of %zu patients starts apart from the one before it)",
                           strata_cohort_path(r->c), q, (size_t)DV_BLOCK);
    }
    if (h->status != STRATA_OK)
        return STRATA_FAIL(r->ctx, (strata_status)h->status, "%s", h->msg);
    for (size_t k = 0; k < r->s.ntab; k++)
        d->cur[k] = span[2 * k + 1];
    return STRATA_OK;
}

static strata_status dist_keep(void *ud, size_t q)
{
    dv_dist *d = ud;
    STRATA_TRY(dist_check(d, q, &d->h, d->span));
    return block_append(d->r, d->sl.b.pay, d->sl.b.nin, d->sl.b.excl);
}

static strata_status dist_send(void *ud, const strata_comm *cm, size_t q)
{
    dv_dist *d = ud;
    (void)q;
    STRATA_TRY(cm->send(cm->ud, &d->h, sizeof d->h, 0));
    STRATA_TRY(cm->send(cm->ud, d->span, 2 * d->r->s.ntab * sizeof *d->span, 0));
    return cm->send(cm->ud, d->sl.b.pay, (size_t)d->h.nin * d->r->rowbytes, 0);
}

/* Rank 0: block q's counts and output rows from rank `from`, into the slot
 * (its own block is written by then), appended unless a write failed. */
static strata_status dist_take(void *ud, const strata_comm *cm, size_t q, int from, int append)
{
    dv_dist *d = ud;
    dv_head h;
    size_t excl[STRATA_DERIVE_REASONS];
    uint64_t *span = d->span + 2 * d->r->s.ntab; /* rank 0's second half */
    STRATA_TRY(cm->recv(cm->ud, &h, sizeof h, from));
    if (h.nin > DV_BLOCK)
        return STRATA_FAIL(d->r->ctx, STRATA_EINTERNAL, "derive: rank %d sent %llu rows for block %zu",
                           from, (unsigned long long)h.nin, q);
    h.msg[sizeof h.msg - 1] = 0;
    STRATA_TRY(cm->recv(cm->ud, span, 2 * d->r->s.ntab * sizeof *span, from));
    STRATA_TRY(cm->recv(cm->ud, d->sl.b.pay, (size_t)h.nin * d->r->rowbytes, from));
    if (!append)
        return STRATA_OK;
    STRATA_TRY(dist_check(d, q, &h, span));
    for (int k = 0; k < STRATA_DERIVE_REASONS; k++)
        excl[k] = (size_t)h.excl[k];
    return block_append(d->r, d->sl.b.pay, (size_t)h.nin, excl);
}

static void dist_written(void *ud, size_t nq)
{
    written(((dv_dist *)ud)->r, nq);
}

/* Block q is derived by rank q mod K from its own reads and rank 0 appends
 * the blocks in order (strata_comm_rounds: the rule for every distributed
 * writer); one block of output rows is held at a time. */
static strata_status run_blocks_dist(dv_run *r)
{
    static const strata_comm_rounds_ops ops = {dist_make, dist_keep, dist_send, dist_take,
                                               dist_written};
    strata_ctx *ctx = r->ctx;
    dv_dist d;
    strata_status st;
    memset(&d, 0, sizeof d);
    d.r = r;
    d.maxc = max_codes(r);
    d.raw = strata_alloc(ctx, DV_BLOCK * 8);
    d.span = strata_calloc(ctx, 5 * r->s.ntab + 1, sizeof *d.span); /* own, taken, cursors */
    d.cur = d.span + 4 * r->s.ntab;
    st = d.raw && d.span ? slot_init(r, &d.sl) : STRATA_ENOMEM;
    st = strata_comm_rounds(ctx, (r->pop.npat + DV_BLOCK - 1) / DV_BLOCK, st, &ops, &d);
    slot_free(r, &d.sl);
    STRATA_FREE_ALL(ctx, d.raw, d.span);
    return st;
}

static strata_status write_attrs(dv_run *r)
{
    char buf[64], rec[4096];
    const char *src = strata_cohort_attr(r->c, "source");
    if (r->s.index_day != DV_NONE_DAY) {
        strata_date_format_iso(r->s.index_day, buf);
        STRATA_TRY(strata_cohort_writer_attr(r->w, "extract_date", buf));
        STRATA_TRY(strata_cohort_writer_attr(r->w, "index_date", buf));
    } else
        STRATA_TRY(strata_cohort_writer_attr(r->w, "index_date", r->s.index_col));
    if (src)
        STRATA_TRY(strata_cohort_writer_attr(r->w, "source", src));
    STRATA_TRY(strata_cohort_writer_attr(
        r->w, "derived_from", strata_recorded_path(r->ctx, strata_cohort_path(r->c), rec, sizeof rec)));
    STRATA_TRY(strata_cohort_writer_attr(r->w, "derive_spec", r->s.path));
    for (int k = 0; k < STRATA_DERIVE_REASONS; k++) {
        char key[64];
        snprintf(key, sizeof key, "excluded_%s", strata_derive_reason_name(k));
        snprintf(buf, sizeof buf, "%zu", r->rep->n_excluded[k]);
        STRATA_TRY(strata_cohort_writer_attr(r->w, key, buf));
    }
    return STRATA_OK;
}

strata_status strata_derive(strata_ctx *ctx, const char *cohort_path, const char *spec_path,
                            const char *out_path, strata_derive_report *report)
{
    return strata_derive_key(ctx, cohort_path, spec_path, NULL, out_path, report);
}

strata_status strata_derive_key(strata_ctx *ctx, const char *cohort_path, const char *spec_path,
                                const char *key, const char *out_path,
                                strata_derive_report *report)
{
    const strata_comm *cm = strata_ctx_comm(ctx); /* MPI: every rank, rank 0 writes */
    dv_run r;
    strata_derive_report local;
    strata_status st;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.rep = report ? report : &local;
    memset(r.rep, 0, sizeof *r.rep);
    st = strata_cohort_open(ctx, cohort_path, &r.c);
    if (st == STRATA_OK)
        st = dv_spec_load(ctx, spec_path, key, r.c, &r.s);
    if (st == STRATA_OK)
        st = setup_pop(&r);
    for (size_t k = 0; k < r.s.ntab && st == STRATA_OK; k++) {
        r.s.tab[k].prev_row = -1;
        r.rep->n_events += r.s.tab[k].nev;
    }
    r.rep->n_patients = r.pop.npat;
    if (st == STRATA_OK && (!cm || cm->rank == 0))
        st = strata_cohort_writer_new(ctx, out_path, &r.w);
    if (st == STRATA_OK)
        st = add_columns(&r);
    if (cm && (st = strata_comm_agree(ctx, st)) == STRATA_OK)
        st = run_blocks_dist(&r);
    else if (st == STRATA_OK)
        st = run_blocks(&r);
    if (st == STRATA_OK && r.w)
        st = write_attrs(&r);
    if (st == STRATA_OK && r.w) {
        st = strata_cohort_writer_finish(r.w);
        r.w = NULL;
    }
    if (cm) /* rank 0's write, agreed */
        st = strata_comm_agree(ctx, st);
    strata_cohort_writer_abort(r.w);
    for (int k = 0; k < 4; k++)
        strata_free(ctx, r.pop.lvday[k], 0);
    strata_free(ctx, r.pop.lvday_index, 0);
    strata_free(ctx, r.copy_j, 0);
    strata_free(ctx, r.copy_w, 0);
    strata_free(ctx, r.out_w, 0);
    strata_free(ctx, r.out_t, 0);
    strata_free(ctx, r.out_cat, 0);
    strata_free(ctx, r.out_name, 0);
    dv_spec_free(ctx, &r.s);
    strata_cohort_close(r.c);
    return st;
}
