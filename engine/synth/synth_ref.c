/* engine/synth/synth_ref.c — prepares a synthetic-cohort generator: reads the
 * reference tables (data/reference, CSV, through engine/io's libcsv reader),
 * resolves the selection, apportions N patients to practices and sex/age
 * cells (largest remainder, so shares track the real register), and tunes
 * each practice's condition offsets to its QOF prevalence. Invariant:
 * everything here is deterministic in the inputs. */
#include "csv_table.h"
#include "strata/dist.h"
#include "comm.h"
#include "synth_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void strata_synth_params_init(strata_synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->scope = STRATA_SYNTH_ICB;
    p->seed = 1;
    p->block_rows = 8192;
}

strata_status strata_synth_params_check(strata_ctx *ctx, const strata_synth_params *p)
{
    if (!p)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: params is NULL");
    if (p->scope != STRATA_SYNTH_ICB && p->scope != STRATA_SYNTH_PCN &&
        p->scope != STRATA_SYNTH_ENGLAND)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: scope %d is not ICB, PCN or England",
                           (int)p->scope);
    if (p->scope == STRATA_SYNTH_PCN && (!p->code || !*p->code))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: a PCN selection needs a PCN code");
    if (p->code && strlen(p->code) >= 12)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: code '%s' is too long for an ODS code",
                           p->code);
    if (p->n_patients < 0 || p->n_patients > (int64_t)INT32_MAX)
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: n_patients %lld outside [0, %d]",
                           (long long)p->n_patients, INT32_MAX);
    if (p->block_rows < 64 || p->block_rows > ((size_t)1 << 22))
        return STRATA_FAIL(ctx, STRATA_EINVAL, "synth: block_rows %zu outside [64, 4194304]",
                           p->block_rows);
    return STRATA_OK;
}

/* ---- locating the reference directory --------------------------------- */

#ifndef STRATA_DATADIR
#define STRATA_DATADIR "" /* set by CMakeLists.txt: <prefix>/share/strata */
#endif
#ifndef STRATA_SOURCE_DATADIR
#define STRATA_SOURCE_DATADIR "" /* set by CMakeLists.txt: <source>/data */
#endif

static int has_tables(const char *dir)
{
    char f[4200];
    snprintf(f, sizeof f, "%s/practices.csv", dir);
    return access(f, R_OK) == 0;
}

strata_status strata_synth_locate_data(strata_ctx *ctx, char *buf, size_t size)
{
    static const char *rel[] = {"/../data/reference", "/../../data/reference",
                                "/../share/strata/reference", "/data/reference"};
    static const char *const builtin[] = {STRATA_DATADIR, STRATA_SOURCE_DATADIR};
    const char *env = getenv("STRATA_DATA_DIR");
    char exe[4096];
    ssize_t k;
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        if (has_tables(buf))
            return STRATA_OK;
        snprintf(buf, size, "%s/reference", env);
        if (has_tables(buf))
            return STRATA_OK;
        return STRATA_FAIL(ctx, STRATA_EIO,
                           "synth: STRATA_DATA_DIR=%s holds no practices.csv (nor reference/)",
                           env);
    }
    k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        char *slash;
        exe[k] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(buf, size, "%s%s", exe, rel[i]);
            if (has_tables(buf))
                return STRATA_OK;
        }
    }
    /* Compile-time defaults (CMakeLists.txt): the installed share/strata, then
     * the source tree of an out-of-tree build. */
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        snprintf(buf, size, "%s/reference", builtin[i]);
        if (*builtin[i] && has_tables(buf))
            return STRATA_OK;
    }
    return STRATA_FAIL(ctx, STRATA_EIO,
                       "synth: reference tables not found: set STRATA_DATA_DIR or --data DIR "
                       "(tried <exe dir>/../data/reference, ../../data/reference, "
                       "../share/strata/reference, data/reference, %s/reference, %s/reference)",
                       builtin[0], builtin[1]);
}

/* ---- reference tables: read whole by engine/io's CSV reader (libcsv) ----- */

typedef struct ref_table {
    char path[4200];
    strata_csv_rows rows; /* rows.field[r][k]; r = 0 is the header */
} ref_table;

static strata_status ref_open(strata_ctx *ctx, ref_table *t, const char *dir, const char *name)
{
    snprintf(t->path, sizeof t->path, "%s/%s", dir, name);
    return strata_csv_rows_read(ctx, t->path, &t->rows);
}

static void ref_close(strata_ctx *ctx, ref_table *t)
{
    strata_csv_rows_free(ctx, &t->rows);
}

/* Record r has nf fields, else EFORMAT naming the file and line. */
static int ref_fields(strata_ctx *ctx, const ref_table *t, size_t r, size_t nf)
{
    if (t->rows.nf[r] == nf)
        return 0;
    STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line %zu: %zu fields, expected %zu", t->path,
                t->rows.line[r], t->rows.nf[r], nf);
    return -1;
}

static int csv_int(strata_ctx *ctx, const ref_table *t, size_t r, int k, int64_t *out)
{
    const char *f = t->rows.field[r][k];
    char *end;
    long long v;
    errno = 0;
    v = strtoll(f, &end, 10);
    if (errno || end == f || *end || v < 0) {
        STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line %zu field %d: '%s' is not a count", t->path,
                    t->rows.line[r], k + 1, f);
        return -1;
    }
    *out = v;
    return 0;
}

static int csv_code(strata_ctx *ctx, const ref_table *t, size_t r, int k, char *dst, size_t size)
{
    const char *f = t->rows.field[r][k];
    size_t n = strlen(f);
    if (n == 0 || n >= size) {
        STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line %zu field %d: bad code '%s'", t->path,
                    t->rows.line[r], k + 1, f);
        return -1;
    }
    memcpy(dst, f, n + 1);
    return 0;
}

/* practices.csv: practice,pcn,sub_icb,icb,region,imd_score,imd_src,F0_4..F95+,M0_4..M95+ */
static strata_status load_practices(strata_ctx *ctx, const char *dir, synth_practice **out,
                                    size_t *n_out)
{
    ref_table t;
    synth_practice *all = NULL;
    size_t n = 0, nr;
    int r = 0;
    STRATA_TRY(ref_open(ctx, &t, dir, "practices.csv"));
    nr = t.rows.n;
    if (nr == 0 || t.rows.nf[0] != 7 + SYNTH_NCELLS || strcmp(t.rows.field[0][0], "practice")) {
        ref_close(ctx, &t);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line 1: header is not practice,pcn,... "
                           "with %d fields", t.path, 7 + SYNTH_NCELLS);
    }
    all = strata_alloc(ctx, nr * sizeof *all);
    if (!all)
        r = -1;
    for (size_t row = 1; r == 0 && row < nr; row++) {
        char *const *f = t.rows.field[row];
        synth_practice *p = &all[n];
        char *end;
        memset(p, 0, sizeof *p);
        if (ref_fields(ctx, &t, row, 7 + SYNTH_NCELLS) || csv_code(ctx, &t, row, 0, p->code, sizeof p->code) ||
            csv_code(ctx, &t, row, 1, p->pcn, sizeof p->pcn) ||
            csv_code(ctx, &t, row, 2, p->sub_icb, sizeof p->sub_icb) ||
            csv_code(ctx, &t, row, 3, p->icb, sizeof p->icb) ||
            csv_code(ctx, &t, row, 4, p->region, sizeof p->region)) {
            r = -1;
            break;
        }
        p->imd_score = strtod(f[5], &end);
        if (end == f[5] || *end || !(p->imd_score >= 0 && p->imd_score <= 100)) {
            STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line %zu: imd_score '%s' not in [0, 100]",
                        t.path, t.rows.line[row], f[5]);
            r = -1;
            break;
        }
        p->imd_src = f[6][0];
        for (int k = 0; k < SYNTH_NCELLS && r == 0; k++) {
            r = csv_int(ctx, &t, row, 7 + k, &p->reg[k]);
            p->list += p->reg[k];
        }
        p->region_i = 0;
        for (int k = 0; k < SYNTH_NREGIONS; k++)
            if (!strcmp(p->region, synth_region_codes[k]))
                p->region_i = k;
        n += r == 0;
    }
    ref_close(ctx, &t);
    if (r < 0) {
        strata_free(ctx, all, 0);
        return strata_ctx_errcode(ctx) ? strata_ctx_errcode(ctx) : STRATA_ENOMEM;
    }
    *out = all;
    *n_out = n;
    return STRATA_OK;
}

/* ---- deprivation: national rank of the practice score -> decile mix ----- */

static double pnorm(double x) { return 0.5 * erfc(-x / 1.4142135623730951); }

static int cmp_deprived(const void *a, const void *b)
{
    const synth_practice *x = *(synth_practice *const *)a, *y = *(synth_practice *const *)b;
    if (x->imd_score != y->imd_score)
        return x->imd_score > y->imd_score ? -1 : 1; /* higher score = more deprived first */
    return strcmp(x->code, y->code);
}

/* Share of the between-practice variance in the latent deprivation of patients. */
#define SYNTH_IMD_R 0.7

static strata_status rank_deprivation(strata_ctx *ctx, synth_practice *all, size_t n)
{
    synth_practice **idx = strata_alloc(ctx, n * sizeof *idx);
    double total = 0, cum = 0;
    if (!idx)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        idx[i] = &all[i];
        total += (double)all[i].list;
    }
    qsort(idx, n, sizeof *idx, cmp_deprived);
    for (size_t i = 0; i < n; i++) {
        synth_practice *p = idx[i];
        double mu, s = sqrt(1 - SYNTH_IMD_R);
        p->imd_q = (cum + 0.5 * (double)p->list) / total;
        cum += (double)p->list;
        mu = sqrt(SYNTH_IMD_R) * strata_qnorm(p->imd_q);
        for (int d = 1; d < 10; d++)
            p->dec_cdf[d - 1] = pnorm((strata_qnorm(d / 10.0) - mu) / s);
        p->dec_cdf[9] = 1.0;
    }
    strata_free(ctx, idx, n * sizeof *idx);
    return STRATA_OK;
}

/* ---- QOF targets -------------------------------------------------------- */

typedef struct qof_sum {
    double reg[STRATA_SYNTH_NCOND], den[STRATA_SYNTH_NCOND];
} qof_sum;

static void qof_add(qof_sum *q, const int64_t *reg, const int64_t *den3)
{
    for (int k = 0; k < STRATA_SYNTH_NCOND; k++) {
        int m = synth_cond[k].min_age;
        q->reg[k] += (double)reg[k];
        q->den[k] += (double)den3[m == 0 ? 0 : m == 17 ? 1 : 2];
    }
}

/* qof_prevalence.csv: practice,list_total,list_17ov,list_18ov,HYP,...,EP (practice order). */
static strata_status load_qof(strata_ctx *ctx, const char *dir, synth_practice *all, size_t n,
                              qof_sum *raw, char *has)
{
    ref_table t;
    size_t i = 0;
    int r = 0;
    STRATA_TRY(ref_open(ctx, &t, dir, "qof_prevalence.csv"));
    if (t.rows.n == 0 || t.rows.nf[0] != 4 + STRATA_SYNTH_NCOND) {
        ref_close(ctx, &t);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line 1: expected %d header fields", t.path,
                           4 + STRATA_SYNTH_NCOND);
    }
    for (int k = 0; k < STRATA_SYNTH_NCOND; k++)
        if (strcmp(t.rows.field[0][4 + k], synth_cond[k].qof)) {
            strata_status st = STRATA_FAIL(ctx, STRATA_EFORMAT,
                                           "%s: line 1: column %d is '%s', expected '%s'", t.path,
                                           5 + k, t.rows.field[0][4 + k], synth_cond[k].qof);
            ref_close(ctx, &t);
            return st;
        }
    for (size_t row = 1; r == 0 && row < t.rows.n; row++) {
        int64_t den3[3], reg[STRATA_SYNTH_NCOND];
        int cmp = 1;
        if ((r = ref_fields(ctx, &t, row, 4 + STRATA_SYNTH_NCOND)) != 0)
            break;
        while (i < n && (cmp = strcmp(all[i].code, t.rows.field[row][0])) < 0)
            i++;
        if (i == n || cmp != 0)
            continue; /* practice no longer registered */
        for (int k = 0; k < 3 && r == 0; k++)
            r = csv_int(ctx, &t, row, 1 + k, &den3[k]);
        for (int k = 0; k < STRATA_SYNTH_NCOND && r == 0; k++)
            r = csv_int(ctx, &t, row, 4 + k, &reg[k]);
        if (r < 0 || den3[0] <= 0 || den3[1] <= 0 || den3[2] <= 0)
            continue;
        memset(&raw[i], 0, sizeof raw[i]);
        qof_add(&raw[i], reg, den3);
        has[i] = 1;
    }
    ref_close(ctx, &t);
    return r < 0 ? strata_ctx_errcode(ctx) : STRATA_OK;
}

/* Practice target, else the PCN's pooled figure, else the ICB's, else England's. */
static void qof_targets(synth_practice *all, size_t n, const qof_sum *raw, const char *has)
{
    qof_sum eng;
    memset(&eng, 0, sizeof eng);
    for (size_t i = 0; i < n; i++)
        if (has[i])
            for (int k = 0; k < STRATA_SYNTH_NCOND; k++) {
                eng.reg[k] += raw[i].reg[k];
                eng.den[k] += raw[i].den[k];
            }
    for (size_t i = 0; i < n; i++) {
        qof_sum pcn, icb;
        const qof_sum *use = &eng;
        char src = 'E';
        if (has[i]) {
            use = &raw[i];
            src = 'P';
        } else {
            memset(&pcn, 0, sizeof pcn);
            memset(&icb, 0, sizeof icb);
            for (size_t j = 0; j < n; j++) {
                if (!has[j])
                    continue;
                for (int k = 0; k < STRATA_SYNTH_NCOND; k++) {
                    if (!strcmp(all[j].pcn, all[i].pcn)) {
                        pcn.reg[k] += raw[j].reg[k];
                        pcn.den[k] += raw[j].den[k];
                    }
                    if (!strcmp(all[j].icb, all[i].icb)) {
                        icb.reg[k] += raw[j].reg[k];
                        icb.den[k] += raw[j].den[k];
                    }
                }
            }
            if (pcn.den[0] > 0) {
                use = &pcn;
                src = 'N';
            } else if (icb.den[0] > 0) {
                use = &icb;
                src = 'I';
            }
        }
        for (int k = 0; k < STRATA_SYNTH_NCOND; k++)
            all[i].qof[k] = use->den[k] > 0 ? use->reg[k] / use->den[k] : 0.0;
        all[i].qof_src = src;
    }
}

/* ---- tuning the practice offsets --------------------------------------- */

static double band_age(int b) { return b == SYNTH_NBANDS - 1 ? 97.0 : 5.0 * b + 2.0; }

/* Expected prevalence of condition c in practice p at offset o (and its
 * derivative), over the QOF denominator ages, integrating the latent
 * morbidity factor with 5-point Gauss-Hermite and deprivation at the
 * practice's mean decile. */
static double expected_prev(const synth_practice *p, int c, double mean_dec, double o,
                            double *deriv)
{
    static const double gx[5] = {-2.856970013872806, -1.355626179974266, 0.0,
                                 1.355626179974266, 2.856970013872806};
    static const double gw[5] = {0.011257411327721, 0.222075922005613, 0.533333333333333,
                                 0.222075922005613, 0.011257411327721};
    const synth_cond_model *m = &synth_cond[c];
    double num = 0, den = 0, dnum = 0;
    for (int cell = 0; cell < SYNTH_NCELLS; cell++) {
        int b = cell % SYNTH_NBANDS, male = cell >= SYNTH_NBANDS;
        double age = band_age(b), w = (double)p->reg[cell], base;
        if (w <= 0 || 5 * b + 4 < m->min_age)
            continue;
        den += w;
        if (age < m->onset_age)
            continue;
        base = synth_cond_base(c, age) + (male ? m->male : 0) + m->dep * (mean_dec - 5.5) + o;
        for (int g = 0; g < 5; g++) {
            double pr = synth_expit(base + m->load * gx[g]);
            num += w * gw[g] * pr;
            dnum += w * gw[g] * pr * (1 - pr);
        }
    }
    if (den <= 0) {
        *deriv = 0;
        return 0;
    }
    *deriv = dnum / den;
    return num / den;
}

static void tune_practice(synth_practice *p)
{
    double mean_dec = 1;
    for (int d = 0; d < 9; d++)
        mean_dec += 1 - p->dec_cdf[d];
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        double o = 0, t = p->qof[c], lo = -10, hi = 10;
        if (t <= 0) {
            p->offset[c] = -10;
            continue;
        }
        /* safeguarded Newton: keep a bracket, bisect when a step leaves it */
        for (int it = 0; it < 40; it++) {
            double d, f = expected_prev(p, c, mean_dec, o, &d) - t, on;
            if (fabs(f) < 1e-7 * t)
                break;
            if (f > 0)
                hi = o;
            else
                lo = o;
            on = d > 0 ? o - f / d : 0.5 * (lo + hi);
            o = (on > lo && on < hi) ? on : 0.5 * (lo + hi);
        }
        p->offset[c] = (float)o;
    }
}

/* ---- apportionment ------------------------------------------------------ */

/* out[k] = floor(N w_k / W) plus one for the largest remainders (ties by k). */
static strata_status apportion(strata_ctx *ctx, const int64_t *w, size_t k, int64_t n,
                               int64_t *out)
{
    double total = 0;
    int64_t given = 0;
    size_t *order;
    double *frac;
    for (size_t i = 0; i < k; i++)
        total += (double)w[i];
    if (total <= 0) {
        for (size_t i = 0; i < k; i++)
            out[i] = 0;
        return STRATA_OK;
    }
    order = strata_alloc(ctx, k * sizeof *order);
    frac = strata_alloc(ctx, k * sizeof *frac);
    if (!order || !frac) {
        strata_free(ctx, order, k * sizeof *order);
        strata_free(ctx, frac, k * sizeof *frac);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        double q = (double)n * (double)w[i] / total;
        out[i] = (int64_t)floor(q);
        frac[i] = q - floor(q);
        given += out[i];
        order[i] = i;
    }
    /* insertion by fraction descending is enough for the remainder count */
    for (int64_t r = 0; r < n - given && r < (int64_t)k; r++) {
        size_t best = (size_t)r;
        for (size_t i = (size_t)r + 1; i < k; i++)
            if (frac[order[i]] > frac[order[best]] ||
                (frac[order[i]] == frac[order[best]] && order[i] < order[best]))
                best = i;
        size_t t = order[r];
        order[r] = order[best];
        order[best] = t;
        out[order[r]]++;
    }
    strata_free(ctx, order, k * sizeof *order);
    strata_free(ctx, frac, k * sizeof *frac);
    return STRATA_OK;
}

/* ---- selection ------------------------------------------------------------ */

static int cmp_rows(const void *a, const void *b)
{
    const synth_practice *x = a, *y = b;
    int c = strcmp(x->icb, y->icb);
    if (c)
        return c;
    c = strcmp(x->pcn, y->pcn);
    return c ? c : strcmp(x->code, y->code);
}

/* Appends code to the level table unless present; returns its index. */
static int level_of(char **lv, size_t *n, char *code)
{
    for (size_t i = *n; i-- > 0;)
        if (!strcmp(lv[i], code))
            return (int)i;
    lv[*n] = code;
    return (int)(*n)++;
}

static strata_status build_levels(strata_ctx *ctx, strata_synth *s)
{
    size_t n = s->npr;
    s->lv_practice = strata_calloc(ctx, n, sizeof(char *));
    s->lv_pcn = strata_calloc(ctx, n, sizeof(char *));
    s->lv_sub = strata_calloc(ctx, n, sizeof(char *));
    s->lv_icb = strata_calloc(ctx, n, sizeof(char *));
    if (!s->lv_practice || !s->lv_pcn || !s->lv_sub || !s->lv_icb)
        return STRATA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        synth_practice *p = &s->pr[i];
        s->lv_practice[i] = p->code;
        p->pcn_i = level_of(s->lv_pcn, &s->n_pcn, p->pcn);
        p->sub_i = level_of(s->lv_sub, &s->n_sub, p->sub_icb);
        p->icb_i = level_of(s->lv_icb, &s->n_icb, p->icb);
    }
    return STRATA_OK;
}

/* icb_single_age.csv: icb,sex,a0..a95 -> within-band cumulative shares. */
static strata_status load_single_age(strata_ctx *ctx, const char *dir, strata_synth *s)
{
    ref_table t;
    int r = 0;
    size_t nfound = 0;
    s->nicb = s->n_icb;
    s->age_cdf = strata_calloc(ctx, s->nicb * 2 * SYNTH_NBANDS * 5, sizeof(double));
    if (!s->age_cdf)
        return STRATA_ENOMEM;
    STRATA_TRY(ref_open(ctx, &t, dir, "icb_single_age.csv"));
    if (t.rows.n == 0 || t.rows.nf[0] != 2 + 96) {
        ref_close(ctx, &t);
        return STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: line 1: expected 98 header fields", t.path);
    }
    for (size_t row = 1; r == 0 && row < t.rows.n; row++) {
        char *const *f = t.rows.field[row];
        int64_t a[96];
        size_t ii;
        int sex;
        if ((r = ref_fields(ctx, &t, row, 98)) != 0)
            break;
        for (ii = 0; ii < s->n_icb && strcmp(s->lv_icb[ii], f[0]); ii++)
            ;
        if (ii == s->n_icb)
            continue;
        sex = f[1][0] == 'M';
        for (int k = 0; k < 96 && r == 0; k++)
            r = csv_int(ctx, &t, row, 2 + k, &a[k]);
        if (r < 0)
            break;
        for (int b = 0; b < SYNTH_NBANDS - 1; b++) {
            double *cdf = &s->age_cdf[((ii * 2 + (size_t)sex) * SYNTH_NBANDS + (size_t)b) * 5];
            double tot = 0, cum = 0;
            for (int y = 0; y < 5; y++)
                tot += (double)a[5 * b + y];
            for (int y = 0; y < 5; y++) {
                cum += tot > 0 ? (double)a[5 * b + y] / tot : 0.2;
                cdf[y] = cum;
            }
            cdf[4] = 1.0;
        }
        nfound++;
    }
    if (r == 0 && nfound != 2 * s->n_icb) {
        STRATA_FAIL(ctx, STRATA_EFORMAT, "%s: %zu of %zu ICB x sex rows found", t.path, nfound,
                    2 * s->n_icb);
        r = -1;
    }
    ref_close(ctx, &t);
    return r ? strata_ctx_errcode(ctx) : STRATA_OK;
}

static strata_status select_practices(strata_ctx *ctx, strata_synth *s, synth_practice *all,
                                      size_t n, const strata_synth_params *p)
{
    const char *code = p->code ? p->code : STRATA_SYNTH_DEFAULT_ICB;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p->scope == STRATA_SYNTH_ENGLAND ||
            !strcmp(p->scope == STRATA_SYNTH_PCN ? all[i].pcn : all[i].icb, code))
            k++;
    if (k == 0)
        return STRATA_FAIL(ctx, STRATA_EINVAL,
                           "synth: %s code '%s' matches no practice in practices.csv",
                           p->scope == STRATA_SYNTH_PCN ? "PCN" : "ICB", code);
    s->pr = strata_alloc(ctx, k * sizeof *s->pr);
    if (!s->pr)
        return STRATA_ENOMEM;
    s->npr = 0;
    for (size_t i = 0; i < n; i++)
        if (p->scope == STRATA_SYNTH_ENGLAND ||
            !strcmp(p->scope == STRATA_SYNTH_PCN ? all[i].pcn : all[i].icb, code))
            s->pr[s->npr++] = all[i];
    qsort(s->pr, s->npr, sizeof *s->pr, cmp_rows);
    return STRATA_OK;
}

static strata_status apportion_rows(strata_ctx *ctx, strata_synth *s, int64_t n_patients)
{
    int64_t *w = strata_alloc(ctx, s->npr * sizeof *w), *rows;
    int64_t total = 0, row = 0;
    strata_status st;
    if (!w)
        return STRATA_ENOMEM;
    rows = strata_alloc(ctx, s->npr * sizeof *rows);
    if (!rows) {
        strata_free(ctx, w, s->npr * sizeof *w);
        return STRATA_ENOMEM;
    }
    for (size_t i = 0; i < s->npr; i++) {
        w[i] = s->pr[i].list;
        total += w[i];
    }
    st = apportion(ctx, w, s->npr, n_patients > 0 ? n_patients : total, rows);
    for (size_t i = 0; i < s->npr && st == STRATA_OK; i++) {
        synth_practice *p = &s->pr[i];
        int64_t cells[SYNTH_NCELLS], cum = 0;
        p->row0 = row;
        p->nrows = rows[i];
        row += rows[i];
        st = apportion(ctx, p->reg, SYNTH_NCELLS, p->nrows, cells);
        for (int c = 0; c < SYNTH_NCELLS && st == STRATA_OK; c++) {
            cum += cells[c];
            p->cell_cum[c] = cum;
        }
    }
    s->nrows = (size_t)row;
    strata_free(ctx, w, s->npr * sizeof *w);
    strata_free(ctx, rows, s->npr * sizeof *rows);
    return st;
}

static strata_status synth_new_local(strata_ctx *ctx, const strata_synth_params *p, strata_synth **out)
{
    char dir[4096];
    synth_practice *all = NULL;
    size_t n = 0;
    qof_sum *raw = NULL;
    char *has = NULL;
    strata_synth *s;
    strata_status st;
    *out = NULL;
    STRATA_TRY(strata_synth_params_check(ctx, p));
    if (p->data_dir)
        snprintf(dir, sizeof dir, "%s", p->data_dir);
    else
        STRATA_TRY(strata_synth_locate_data(ctx, dir, sizeof dir));
    s = strata_calloc(ctx, 1, sizeof *s);
    if (!s)
        return STRATA_ENOMEM;
    s->ctx = ctx;
    s->seed = p->seed;
    s->block_rows = p->block_rows;
    synth_events_prepare(s);
    st = load_practices(ctx, dir, &all, &n);
    if (st == STRATA_OK && n == 0)
        st = STRATA_FAIL(ctx, STRATA_EFORMAT, "%s/practices.csv: no practices", dir);
    if (st == STRATA_OK)
        st = rank_deprivation(ctx, all, n);
    if (st == STRATA_OK) {
        raw = strata_calloc(ctx, n, sizeof *raw);
        has = strata_calloc(ctx, n, 1);
        if (!raw || !has)
            st = STRATA_ENOMEM;
    }
    if (st == STRATA_OK)
        st = load_qof(ctx, dir, all, n, raw, has);
    if (st == STRATA_OK) {
        qof_targets(all, n, raw, has);
        st = select_practices(ctx, s, all, n, p);
    }
    if (st == STRATA_OK)
        st = build_levels(ctx, s);
    if (st == STRATA_OK)
        st = load_single_age(ctx, dir, s);
    if (st == STRATA_OK)
        st = apportion_rows(ctx, s, p->n_patients);
    if (st == STRATA_OK) {
        long np = (long)s->npr;
        for (int c = 0; c < STRATA_SYNTH_NCOND; c++)
            for (int a = 0; a <= SYNTH_MAX_AGE; a++)
                s->base_tab[c][a] = synth_cond_base(c, a);
#pragma omp parallel for schedule(dynamic, 16) num_threads(strata_threads(ctx))
        for (long i = 0; i < np; i++)
            tune_practice(&s->pr[i]);
    }
    strata_free(ctx, all, 0);
    strata_free(ctx, raw, n * sizeof *raw);
    strata_free(ctx, has, n);
    if (st != STRATA_OK) {
        strata_synth_free(s);
        return st;
    }
    *out = s;
    return STRATA_OK;
}

void strata_synth_free(strata_synth *s)
{
    strata_ctx *ctx;
    if (!s)
        return;
    ctx = s->ctx;
    strata_free(ctx, s->pr, s->npr * sizeof *s->pr);
    strata_free(ctx, s->age_cdf, 0);
    strata_free(ctx, s->lv_practice, 0);
    strata_free(ctx, s->lv_pcn, 0);
    strata_free(ctx, s->lv_sub, 0);
    strata_free(ctx, s->lv_icb, 0);
    strata_free(ctx, s, sizeof *s);
}

size_t strata_synth_nrows(const strata_synth *s) { return s->nrows; }
size_t strata_synth_npractices(const strata_synth *s) { return s->npr; }
const char *strata_synth_practice_code(const strata_synth *s, size_t k) { return s->pr[k].code; }
const char *strata_synth_practice_pcn(const strata_synth *s, size_t k) { return s->pr[k].pcn; }
const char *strata_synth_practice_icb(const strata_synth *s, size_t k) { return s->pr[k].icb; }
int64_t strata_synth_practice_list(const strata_synth *s, size_t k) { return s->pr[k].list; }
int64_t strata_synth_practice_rows(const strata_synth *s, size_t k) { return s->pr[k].nrows; }

int64_t strata_synth_practice_register(const strata_synth *s, size_t k, int sex, int band)
{
    return s->pr[k].reg[(sex ? SYNTH_NBANDS : 0) + band];
}

double strata_synth_practice_qof(const strata_synth *s, size_t k, int c, int *min_age)
{
    if (min_age)
        *min_age = synth_cond[c].min_age;
    return s->pr[k].qof[c];
}

const char *strata_synth_condition_name(int c)
{
    return c >= 0 && c < STRATA_SYNTH_NCOND ? synth_cond[c].name : "";
}

size_t synth_practice_of_row(const strata_synth *s, int64_t r)
{
    size_t lo = 0, hi = s->npr;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->pr[mid].row0 <= r)
            lo = mid;
        else
            hi = mid;
    }
    return lo; /* the last practice starting at or before r: never an empty one */
}

/* With MPI ranks on the context every rank builds the same tables from the
 * same files; their statuses are agreed, so no rank goes on into
 * strata_synth_write's collective steps alone. */
strata_status strata_synth_new(strata_ctx *ctx, const strata_synth_params *p, strata_synth **out)
{
    strata_status st = synth_new_local(ctx, p, out);
    if (strata_ctx_comm(ctx) && (st = strata_comm_agree(ctx, st)) != STRATA_OK) {
        strata_synth_free(*out);
        *out = NULL;
    }
    return st;
}
