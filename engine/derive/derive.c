/* engine/derive/derive.c — `strata derive`: the population at the index date
 * (alive, born, registered; exclusions counted by reason), per-table event
 * offsets (checked sorted), then patient blocks: copy the population's rows of
 * /patients and /outcomes and append each item's values. Each patient's values
 * depend only on its own events, so any thread count writes the same bytes. */
#include "derive_internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <string.h>

#define DV_BLOCK 16384

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

/* Offsets of each patient's events; checks the table is sorted by (patient_row, day). */
static strata_status table_offsets(dv_run *r, dv_table *t)
{
    strata_ctx *ctx = r->ctx;
    size_t n = r->pop.npat, bl = 65536;
    int32_t *pr = strata_alloc(ctx, bl * sizeof *pr), *dy = strata_alloc(ctx, bl * sizeof *dy);
    int32_t prev_r = -1, prev_d = INT32_MIN;
    strata_status st = STRATA_OK;
    if (!pr || !dy || !(t->off = strata_calloc(ctx, n + 1, sizeof *t->off)))
        st = STRATA_ENOMEM;
    for (size_t e0 = 0; st == STRATA_OK && e0 < t->nev; e0 += bl) {
        size_t b = t->nev - e0 < bl ? t->nev - e0 : bl;
        if ((st = strata_cohort_read_i32(ctx, r->c, t->j_row, e0, b, pr)) != STRATA_OK ||
            (st = strata_cohort_read_i32(ctx, r->c, t->j_day, e0, b, dy)) != STRATA_OK)
            break;
        for (size_t i = 0; i < b && st == STRATA_OK; i++) {
            if (pr[i] < 0 || (size_t)pr[i] >= n || dy[i] == INT32_MIN)
                st = STRATA_FAIL(ctx, STRATA_EDATA, "%s:/events/%s: row %zu: patient_row %d, day "
                                 "%d: patient_row outside 0..%zu or day missing",
                                 strata_cohort_path(r->c), t->name, e0 + i + 1, pr[i], dy[i],
                                 n ? n - 1 : 0);
            else if (pr[i] < prev_r || (pr[i] == prev_r && dy[i] < prev_d))
                st = STRATA_FAIL(ctx, STRATA_EDATA, "%s:/events/%s: row %zu: (patient_row %d, day "
                                 "%d) out of order: events must be sorted by patient_row, then day "
                                 "(strata import events sorts them)",
                                 strata_cohort_path(r->c), t->name, e0 + i + 1, pr[i], dy[i]);
            else
                t->off[pr[i] + 1]++;
            prev_r = pr[i];
            prev_d = dy[i];
        }
    }
    for (size_t i = 0; st == STRATA_OK && i < n; i++)
        t->off[i + 1] += t->off[i];
    strata_free(ctx, pr, 0);
    strata_free(ctx, dy, 0);
    return st;
}

/* Loads events [off[p0], off[p1]) of every used column into the block buffers. */
static strata_status load_events(dv_run *r, dv_table *t, size_t p0, size_t p1)
{
    strata_ctx *ctx = r->ctx;
    size_t e0 = t->off[p0], ne = t->off[p1] - e0;
    if (ne > t->cap) {
        size_t nc = ne;
        strata_free(ctx, t->day, 0);
        if (!(t->day = strata_alloc(ctx, nc * sizeof *t->day)))
            return STRATA_ENOMEM;
        for (size_t k = 0; k < t->ncol; k++) {
            strata_free(ctx, t->val[k], 0);
            strata_free(ctx, t->code[k], 0);
            t->val[k] = NULL;
            t->code[k] = NULL;
            if (t->info[k]->categorical ? !(t->code[k] = strata_alloc(ctx, nc * sizeof(int32_t)))
                                        : !(t->val[k] = strata_alloc(ctx, nc * sizeof(double))))
                return STRATA_ENOMEM;
        }
        t->cap = nc;
    }
    if (ne == 0)
        return STRATA_OK;
    STRATA_TRY(strata_cohort_read_i32(ctx, r->c, t->j_day, e0, ne, t->day));
    for (size_t k = 0; k < t->ncol; k++) {
        if (t->info[k]->categorical)
            STRATA_TRY(strata_cohort_read_i32(ctx, r->c, t->jcol[k], e0, ne, t->code[k]));
        else
            STRATA_TRY(strata_cohort_read_f64(ctx, r->c, t->jcol[k], e0, ne, t->val[k]));
    }
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
    case DK_SUM:
    case DK_MAX:
    case DK_MIN:
    case DK_LAST: cs->dtype = STRATA_DT_FLOAT64; break;
    case DK_DAYS_SINCE: cs->units = "days"; break;
    case DK_FLAGS:
        snprintf(name, n, "%s_%s", it->name, it->cat_names[k]);
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
            snprintf(name, n, "%s_event", it->name);
            cs->dtype = STRATA_DT_INT8;
        } else
            cs->units = "days";
        break;
    default: break;
    }
    cs->name = name;
}

static strata_status add_columns(dv_run *r)
{
    strata_ctx *ctx = r->ctx;
    size_t nc = strata_cohort_ncols(r->c), k = 0;
    if (!(r->copy_j = strata_calloc(ctx, nc ? nc : 1, sizeof *r->copy_j)) ||
        !(r->copy_w = strata_calloc(ctx, nc ? nc : 1, sizeof *r->copy_w)))
        return STRATA_ENOMEM;
    for (size_t j = 0; j < nc; j++) {
        const strata_column_info *ci = strata_cohort_column(r->c, j);
        strata_column_spec cs;
        if (strcmp(ci->group, "patients") && strcmp(ci->group, "outcomes"))
            continue;
        memset(&cs, 0, sizeof cs);
        cs = (strata_column_spec){ci->group, ci->name, ci->dtype, ci->categorical, ci->levels,
                                  ci->n_levels, ci->role, ci->units, NULL};
        r->copy_j[r->ncopy] = j;
        STRATA_TRY(strata_cohort_writer_add(r->w, &cs, &r->copy_w[r->ncopy]));
        r->ncopy++;
    }
    for (size_t i = 0; i < r->s.nitem; i++)
        r->nout += r->s.item[i].nout;
    if (!(r->out_w = strata_calloc(ctx, r->nout ? r->nout : 1, sizeof *r->out_w)) ||
        !(r->out_t = strata_calloc(ctx, r->nout ? r->nout : 1, sizeof *r->out_t)))
        return STRATA_ENOMEM;
    for (size_t i = 0; i < r->s.nitem; i++) {
        dv_item *it = &r->s.item[i];
        it->out0 = k;
        for (size_t q = 0; q < it->nout; q++, k++) {
            char name[512];
            strata_column_spec cs;
            out_column(it, q, name, sizeof name, &cs);
            r->out_t[k] = cs.dtype;
            STRATA_TRY(strata_cohort_writer_add(r->w, &cs, &r->out_w[k]));
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
    unsigned char *wbuf;     /* nin x 8 bytes */
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
            r->rep->n_excluded[why]++;
        else
            b->rows[b->nin++] = i;
    }
    r->rep->n_included += b->nin;
    return STRATA_OK;
}

/* Appends the included rows of every copied column for rows [p0, p0+n). */
static strata_status copy_block(dv_run *r, dv_block *b, size_t p0, unsigned char *raw)
{
    for (size_t k = 0; k < r->ncopy; k++) {
        const strata_column_info *ci = strata_cohort_column(r->c, r->copy_j[k]);
        size_t es = strata_dtype_size(ci->dtype);
        STRATA_TRY(strata_cohort_read_native(r->ctx, r->c, r->copy_j[k], p0, b->n, raw));
        for (size_t i = 0; i < b->nin; i++)
            memcpy(b->wbuf + i * es, raw + b->rows[i] * es, es);
        STRATA_TRY(strata_cohort_writer_append(r->w, r->copy_w[k], b->wbuf, b->nin));
    }
    return STRATA_OK;
}

static void store(strata_dtype t, const double *v, size_t stride, size_t n, unsigned char *buf)
{
    for (size_t i = 0; i < n; i++) {
        double x = v[i * stride];
        if (t == STRATA_DT_FLOAT64)
            memcpy(buf + i * 8, &x, 8);
        else if (t == STRATA_DT_INT8) {
            int8_t y = isnan(x) ? (int8_t)-1 : (int8_t)x; /* categorical NA or 0/1 */
            buf[i] = (unsigned char)y;
        } else {
            int32_t y = isnan(x) ? STRATA_NA_INT32 : (int32_t)x;
            memcpy(buf + i * 4, &y, 4);
        }
    }
}

static size_t max_events(const dv_table *t, size_t npat)
{
    size_t m = 0;
    for (size_t i = 0; i < npat; i++)
        if (t->off[i + 1] - t->off[i] > m)
            m = t->off[i + 1] - t->off[i];
    return m;
}

/* Evaluates every item for the block's population, patients in parallel. */
static void eval_block(dv_run *r, dv_block *b, size_t p0, int32_t *scratch, size_t scr_per)
{
    const dv_spec *s = &r->s;
    const strata_column_info *sx = r->pop.sex;
    long nin = (long)b->nin;
#pragma omp parallel for schedule(static) num_threads(strata_threads(r->ctx))
    for (long q = 0; q < nin; q++) {
        size_t i = b->rows[q], row = p0 + i;
#ifdef _OPENMP
        int32_t *scr = scratch + (size_t)omp_get_thread_num() * scr_per;
#else
        int32_t *scr = scratch;
#endif
        dv_patient pt;
        pt.t0 = b->t0[i];
        pt.death = b->d[1][i];
        pt.reg_end = b->d[3][i];
        pt.sex = sx && b->sex[i] >= 0 && (size_t)b->sex[i] < sx->n_levels
                     ? sx->levels[b->sex[i]][0] : 0;
        for (size_t k = 0; k < s->nitem; k++) {
            const dv_item *it = &s->item[k];
            const dv_table *t = &s->tab[it->table];
            pt.e0 = t->off[row] - t->off[p0];
            pt.e1 = t->off[row + 1] - t->off[p0];
            dv_eval(s, it, &pt, scr, b->out + (size_t)q * r->nout + it->out0);
        }
    }
}

static strata_status run_blocks(dv_run *r)
{
    strata_ctx *ctx = r->ctx;
    dv_block b;
    size_t maxe = 1, maxc = 1, scr_per;
    int nth = strata_threads(ctx);
    unsigned char *raw = strata_alloc(ctx, DV_BLOCK * 8);
    int32_t *scratch = NULL;
    strata_status st = raw ? STRATA_OK : STRATA_ENOMEM;
    memset(&b, 0, sizeof b);
    for (size_t k = 0; k < r->s.ntab; k++)
        if (max_events(&r->s.tab[k], r->pop.npat) > maxe)
            maxe = max_events(&r->s.tab[k], r->pop.npat);
    for (size_t k = 0; k < r->s.nitem; k++)
        if ((size_t)r->s.item[k].ncode > maxc)
            maxc = (size_t)r->s.item[k].ncode;
    scr_per = maxe * maxc;
    if (st == STRATA_OK &&
        (!(b.in = strata_alloc(ctx, DV_BLOCK)) || !(b.t0 = strata_alloc(ctx, DV_BLOCK * 4)) ||
         !(b.sex = strata_alloc(ctx, DV_BLOCK * 4)) ||
         !(b.rows = strata_alloc(ctx, DV_BLOCK * sizeof *b.rows)) ||
         !(b.out = strata_alloc(ctx, DV_BLOCK * (r->nout ? r->nout : 1) * sizeof *b.out)) ||
         !(b.wbuf = strata_alloc(ctx, DV_BLOCK * 8)) ||
         !(scratch = strata_alloc(ctx, (size_t)nth * scr_per * sizeof *scratch))))
        st = STRATA_ENOMEM;
    for (int k = 0; k < 4 && st == STRATA_OK; k++)
        if (!(b.d[k] = strata_alloc(ctx, DV_BLOCK * 4)))
            st = STRATA_ENOMEM;
    for (size_t p0 = 0; st == STRATA_OK && p0 < r->pop.npat; p0 += DV_BLOCK) {
        b.n = r->pop.npat - p0 < DV_BLOCK ? r->pop.npat - p0 : DV_BLOCK;
        if ((st = block_population(r, &b, p0)) != STRATA_OK ||
            (st = copy_block(r, &b, p0, raw)) != STRATA_OK)
            break;
        for (size_t k = 0; k < r->s.ntab && st == STRATA_OK; k++)
            st = load_events(r, &r->s.tab[k], p0, p0 + b.n);
        if (st != STRATA_OK)
            break;
        eval_block(r, &b, p0, scratch, scr_per);
        for (size_t k = 0; k < r->nout && st == STRATA_OK; k++) {
            store(r->out_t[k], b.out + k, r->nout, b.nin, b.wbuf);
            st = strata_cohort_writer_append(r->w, r->out_w[k], b.wbuf, b.nin);
        }
        strata_progress(ctx, "derive", (double)(p0 + b.n), (double)r->pop.npat);
    }
    for (int k = 0; k < 4; k++)
        strata_free(ctx, b.d[k], 0);
    strata_free(ctx, b.in, 0);
    strata_free(ctx, b.t0, 0);
    strata_free(ctx, b.sex, 0);
    strata_free(ctx, b.rows, 0);
    strata_free(ctx, b.out, 0);
    strata_free(ctx, b.wbuf, 0);
    strata_free(ctx, scratch, 0);
    strata_free(ctx, raw, 0);
    return st;
}

static strata_status write_attrs(dv_run *r)
{
    char buf[64];
    const char *src = strata_cohort_attr(r->c, "source");
    if (r->s.index_day != DV_NONE_DAY) {
        strata_date_format_iso(r->s.index_day, buf);
        STRATA_TRY(strata_cohort_writer_attr(r->w, "extract_date", buf));
        STRATA_TRY(strata_cohort_writer_attr(r->w, "index_date", buf));
    } else
        STRATA_TRY(strata_cohort_writer_attr(r->w, "index_date", r->s.index_col));
    if (src)
        STRATA_TRY(strata_cohort_writer_attr(r->w, "source", src));
    STRATA_TRY(strata_cohort_writer_attr(r->w, "derived_from", strata_cohort_path(r->c)));
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
    dv_run r;
    strata_derive_report local;
    strata_status st;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.rep = report ? report : &local;
    memset(r.rep, 0, sizeof *r.rep);
    STRATA_TRY(strata_cohort_open(ctx, cohort_path, &r.c));
    st = dv_spec_load(ctx, spec_path, r.c, &r.s);
    if (st == STRATA_OK)
        st = setup_pop(&r);
    for (size_t k = 0; k < r.s.ntab && st == STRATA_OK; k++) {
        st = table_offsets(&r, &r.s.tab[k]);
        r.rep->n_events += r.s.tab[k].nev;
    }
    r.rep->n_patients = r.pop.npat;
    if (st == STRATA_OK)
        st = strata_cohort_writer_new(ctx, out_path, &r.w);
    if (st == STRATA_OK)
        st = add_columns(&r);
    if (st == STRATA_OK)
        st = run_blocks(&r);
    if (st == STRATA_OK)
        st = write_attrs(&r);
    if (st == STRATA_OK) {
        st = strata_cohort_writer_finish(r.w);
        r.w = NULL;
    }
    strata_cohort_writer_abort(r.w);
    for (int k = 0; k < 4; k++)
        strata_free(ctx, r.pop.lvday[k], 0);
    strata_free(ctx, r.pop.lvday_index, 0);
    strata_free(ctx, r.copy_j, 0);
    strata_free(ctx, r.copy_w, 0);
    strata_free(ctx, r.out_w, 0);
    strata_free(ctx, r.out_t, 0);
    dv_spec_free(ctx, &r.s);
    strata_cohort_close(r.c);
    return st;
}
