/* engine/synth/synth_gen.c — generates one row block of a synthetic cohort: the
 * patient's place in the real register, deprivation, ethnicity, conditions,
 * frailty, measures, prior activity with its dated events, and outcomes from
 * the ground-truth model (docs/synthetic.md, formulas quoted by section).
 * Invariant: row r's values and events depend only on (seed, r). */
#include "synth_internal.h"

#include <string.h>

uint64_t synth_permute(uint64_t key, uint64_t n, uint64_t i)
{
    int bits = 2, half;
    uint64_t mask, x = i;
    if (n <= 1)
        return 0;
    while (bits < 64 && ((uint64_t)1 << bits) < n)
        bits++;
    if (bits & 1)
        bits++;
    half = bits / 2;
    mask = ((uint64_t)1 << half) - 1;
    do { /* cycle-walk: at most a few rounds since the domain is < 4n */
        uint64_t l = x >> half, r = x & mask;
        for (uint64_t k = 0; k < 4; k++) {
            uint64_t t = l ^ (strata_mix64(key ^ (r + (k + 1) * 0x9e3779b97f4a7c15ULL)) & mask);
            l = r;
            r = t;
        }
        x = (l << half) | r;
    } while (x >= n);
    return x;
}

/* ---- block buffers -------------------------------------------------------- */

#define SYNTH_NCOLPTR (32 + STRATA_SYNTH_NCOND)

static void block_ptrs(synth_block *b, void ***pp, size_t *sz)
{
    size_t k = 0;
#define P_(f) (pp[k] = (void **)&b->f, sz[k] = sizeof *b->f, k++)
    P_(patient_id); P_(practice); P_(pcn); P_(sub_icb); P_(icb);
    P_(imd_decile); P_(age); P_(sex); P_(ethnicity);
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++)
        P_(cond[c]);
    P_(ltc_count); P_(efi_deficits); P_(smoking); P_(bmi); P_(sbp);
    P_(gp_appointments_12m); P_(ae_attendances_12m); P_(prior_emergency_12m);
    P_(prior_elective_12m); P_(outpatient_12m); P_(bed_days_12m); P_(repeat_medicines);
    P_(cost_12m); P_(emergency_admission_12m); P_(emergency_event); P_(death_12m);
    P_(emergency_admissions_12m); P_(time_to_emergency_days); P_(cost_next_12m);
    P_(birth_date); P_(registration_start); P_(registration_end); P_(death_date);
#undef P_
}

void synth_block_free(strata_ctx *ctx, synth_block *b)
{
    void **pp[SYNTH_NCOLPTR];
    size_t sz[SYNTH_NCOLPTR];
    block_ptrs(b, pp, sz);
    for (size_t k = 0; k < SYNTH_NCOLPTR; k++)
        strata_free(ctx, *pp[k], b->cap * sz[k]);
    memset(b, 0, sizeof *b);
}

void synth_events_free(strata_ctx *ctx, synth_events *e)
{
    for (int k = 0; k < SYNTH_NEV; k++)
        for (size_t c = 0; c < SYNTH_EV_MAXCOL; c++)
            strata_free(ctx, e->t[k].col[c], 0); /* sizes unknown after a partial regrowth */
    memset(e, 0, sizeof *e);
}

strata_status synth_block_init(strata_ctx *ctx, synth_block *b, size_t cap)
{
    void **pp[SYNTH_NCOLPTR];
    size_t sz[SYNTH_NCOLPTR];
    memset(b, 0, sizeof *b);
    b->cap = cap;
    block_ptrs(b, pp, sz);
    for (size_t k = 0; k < SYNTH_NCOLPTR; k++)
        if (!(*pp[k] = strata_alloc(ctx, cap * sz[k]))) {
            synth_block_free(ctx, b);
            return STRATA_ENOMEM;
        }
    return STRATA_OK;
}

strata_status synth_tab_reserve(strata_ctx *ctx, synth_events *e, int k, size_t more)
{
    synth_tab *t = &e->t[k];
    const synth_evtab *d = &synth_evtabs[k];
    size_t nc;
    if (t->n + more <= t->cap)
        return STRATA_OK;
    nc = 2 * (t->n + more) + 1024;
    for (size_t c = 0; c < d->ncol; c++) {
        size_t es = strata_dtype_size(d->col[c].dtype);
        void *g = strata_realloc(ctx, t->col[c], t->cap * es, nc * es);
        if (!g)
            return STRATA_ENOMEM; /* those already grown stay valid; cap unchanged */
        t->col[c] = g;
    }
    t->cap = nc;
    return STRATA_OK;
}

#define SORT_MAX 512 /* one patient's rows sorted through a permutation on the stack */

/* Moves rows [k0, k0 + m) of every column of t into the order idx. */
static void permute_rows(synth_tab *t, const synth_evtab *d, size_t k0, const uint32_t *idx, size_t m)
{
    unsigned char tmp[SORT_MAX * 8];
    for (size_t c = 0; c < d->ncol; c++) {
        size_t es = strata_dtype_size(d->col[c].dtype);
        unsigned char *v = (unsigned char *)t->col[c] + k0 * es;
        for (size_t a = 0; a < m; a++)
            memcpy(tmp + a * es, v + (size_t)idx[a] * es, es);
        memcpy(v, tmp, m * es);
    }
}

/* Stable merge sort of the row numbers idx[0..m) by day[row] (insertion
 * sort below 16 rows); tmp is scratch of m. Ties keep their order. */
static void sort_rows(const int32_t *day, uint32_t *idx, uint32_t *tmp, size_t m)
{
    size_t h = m / 2, a = 0, b = h, o = 0;
    if (m <= 16) {
        for (size_t i = 1; i < m; i++) {
            uint32_t v = idx[i];
            size_t j = i;
            for (; j > 0 && day[idx[j - 1]] > day[v]; j--)
                idx[j] = idx[j - 1];
            idx[j] = v;
        }
        return;
    }
    sort_rows(day, idx, tmp, h);
    sort_rows(day, idx + h, tmp, m - h);
    if (day[idx[h - 1]] <= day[idx[h]]) /* the halves are already in order */
        return;
    while (a < h && b < m) /* the left one first on a tie: stable */
        tmp[o++] = day[idx[b]] < day[idx[a]] ? idx[b++] : idx[a++];
    while (a < h)
        tmp[o++] = idx[a++];
    while (b < m)
        tmp[o++] = idx[b++];
    memcpy(idx, tmp, m * sizeof *idx);
}

void synth_tab_sort_days(synth_events *e, int k, size_t k0)
{
    synth_tab *t = &e->t[k];
    const synth_evtab *d = &synth_evtabs[k];
    const int32_t *day = t->col[EV_DAY];
    size_t i = k0 + 1, m = t->n > k0 ? t->n - k0 : 0;
    while (i < t->n && day[i - 1] <= day[i])
        i++;
    if (i >= t->n) /* already in order */
        return;
    if (m <= SORT_MAX) { /* a stable sort of the rows by day, then each column moved once */
        uint32_t idx[SORT_MAX], tmp[SORT_MAX];
        for (size_t a = 0; a < m; a++)
            idx[a] = (uint32_t)a;
        sort_rows(day + k0, idx, tmp, m);
        permute_rows(t, d, k0, idx, m);
        return;
    }
    for (i = k0 + 1; i < t->n; i++) { /* a long history: row by row, in place */
        size_t j = i;
        while (j > k0 && day[j - 1] > day[i])
            j--;
        for (size_t c = 0; c < d->ncol && j < i; c++) { /* row i moves to j */
            size_t es = strata_dtype_size(d->col[c].dtype);
            unsigned char *v = t->col[c], row[8];
            memcpy(row, v + i * es, es);
            memmove(v + (j + 1) * es, v + j * es, (i - j) * es);
            memcpy(v + j * es, row, es);
        }
    }
}

/* ---- one patient: the flat columns, in the order of the draws -------------- */

static void sort_days(int32_t *day, int8_t *type, int16_t *los, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && day[j - 1] > day[j]; j--) {
            int32_t d = day[j];
            day[j] = day[j - 1];
            day[j - 1] = d;
            if (type) {
                int8_t t = type[j];
                int16_t l = los[j];
                type[j] = type[j - 1];
                type[j - 1] = t;
                los[j] = los[j - 1];
                los[j - 1] = l;
            }
        }
}

/* Length of stay in days (docs/synthetic.md#activity). */
static int los_emergency(strata_rng *g, int age, int efi)
{
    return synth_poisson(g, exp(0.4 + 0.025 * (age > 40 ? age - 40 : 0) + 0.02 * efi), 365);
}

/* Place in the register (sex, age) and deprivation decile. */
static void draw_place(const strata_synth *s, const synth_practice *p, int64_t r, size_t pi,
                       strata_rng *g, synth_patient *ps)
{
    uint64_t jp = synth_permute(strata_mix64(s->seed * 0x2545f4914f6cdd1dULL + pi + 1),
                                (uint64_t)p->nrows, (uint64_t)(r - p->row0));
    int cell = 0, band, dec;
    double u;
    while (p->cell_cum[cell] <= (int64_t)jp) /* permuted local index -> sex x band cell */
        cell++;
    ps->male = cell >= SYNTH_NBANDS;
    band = cell % SYNTH_NBANDS;
    u = strata_rng_unif(g);
    if (band < SYNTH_NBANDS - 1) {
        const double *cdf = &s->age_cdf[(((size_t)p->icb_i * 2 + (size_t)ps->male) * SYNTH_NBANDS +
                                         (size_t)band) * 5];
        int y = 0;
        while (y < 4 && u > cdf[y])
            y++;
        ps->age = 5 * band + y;
    } else {
        double extra = floor(-log(u) / 0.45);
        ps->age = 95 + (extra > 15 ? 15 : (int)extra);
    }
    u = strata_rng_unif(g);
    for (dec = 0; dec < 9 && u > p->dec_cdf[dec]; dec++)
        ;
    ps->dec = dec + 1;
}

/* Ethnicity: region shares tilted towards minority groups in deprived deciles. */
static int8_t draw_ethnicity(const synth_practice *p, strata_rng *g, double dd)
{
    double w[SYNTH_NETH], tot = 0, tilt = exp(-0.10 * dd), u;
    int e = 0;
    if (strata_rng_unif(g) < 0.06)
        return STRATA_NA_CODE;
    for (int k = 0; k < SYNTH_NETH; k++) {
        w[k] = synth_eth_share[p->region_i][k] * (k == SYNTH_NETH - 1 ? 1.0 : tilt);
        tot += w[k];
    }
    u = strata_rng_unif(g) * tot;
    while (e < SYNTH_NETH - 1 && u > w[e]) {
        u -= w[e];
        e++;
    }
    return (int8_t)e;
}

/* Conditions (logit = base(age) + sex + deprivation + latent + practice offset)
 * and eFI deficits; returns the latent morbidity factor. */
static double draw_conditions(const strata_synth *s, const synth_practice *p, strata_rng *g,
                              synth_patient *ps, synth_block *b, size_t i)
{
    double dd = ps->dec - 5.5, eta = strata_rng_norm(g);
    ps->ltc = 0;
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        const synth_cond_model *m = &synth_cond[c];
        double lp = s->base_tab[c][ps->age] + (ps->male ? m->male : 0) + m->dep * dd +
                    m->load * eta + p->offset[c];
        double u = strata_rng_unif(g);
        ps->flags[c] = ps->age >= m->onset_age && u < synth_expit(lp);
        ps->ltc += ps->flags[c];
        b->cond[c][i] = (int8_t)ps->flags[c];
    }
    ps->efi = synth_binom(g, 36,
                          synth_expit(-4.0 + 0.045 * (ps->age > 40 ? ps->age - 40 : 0) +
                                      0.30 * ps->ltc - 0.04 * dd + 0.4 * eta));
    if (ps->efi > 35) /* polypharmacy, the 36th deficit, has no code (docs/synthetic.md) */
        ps->efi = 35;
    return eta;
}

/* BMI, systolic BP (with missingness) and smoking. */
static void draw_measures(strata_rng *g, synth_patient *ps, synth_block *b, size_t i)
{
    const int age = ps->age, *f = ps->flags, ltc = ps->ltc;
    double dd = ps->dec - 5.5;
    double rec = age < 18 ? 0.2 : synth_expit(-0.2 + 0.03 * (age - 40) + 0.6 * (ltc > 0));
    double mu = age < 18 ? 15.5 + 0.35 * (age > 4 ? age - 4 : 0)
                         : 25.5 + 0.06 * ((age < 70 ? age : 70) - 40) + 1.5 * f[1] + 0.8 * f[0] -
                               0.15 * dd;
    double bmi = mu * exp(0.17 * strata_rng_norm(g) - 0.01445), sbp;
    b->bmi[i] = strata_rng_unif(g) < rec ? (float)(bmi < 12 ? 12 : bmi > 70 ? 70 : bmi) : NAN;
    rec = age < 18 ? 0.0 : synth_expit(-0.5 + 0.04 * (age - 40) + 1.5 * f[0] + 0.5 * (ltc > 0));
    sbp = 118 + 0.45 * (age - 40) + 4 * ps->male + 12 * f[0] + 14 * strata_rng_norm(g);
    b->sbp[i] = strata_rng_unif(g) < rec ? (float)(sbp < 70 ? 70 : sbp > 240 ? 240 : sbp) : NAN;
    b->smoking[i] = STRATA_NA_CODE;
    if (age >= 16 && strata_rng_unif(g) < 0.9) {
        double pc = synth_expit(-1.6 - 0.02 * (age - 40) - 0.12 * dd + 0.8 * f[3] + 0.2 * f[12]);
        double pex = synth_expit(-1.2 + 0.03 * (age - 40) + 1.0 * f[3] + 0.3 * f[4]);
        double u = strata_rng_unif(g);
        b->smoking[i] = (int8_t)(u < pc ? 2 : u < pc + (1 - pc) * pex ? 1 : 0);
    }
    ps->bmi = b->bmi[i];
    ps->sbp = b->sbp[i];
}

/* Appends one spell (day, method 0 emergency / 1 elective, length of stay). */
static void put_spell(synth_events *ev, int64_t r, int32_t day, int elective, int los)
{
    synth_tab *t = &ev->t[SYNTH_EV_SPELLS];
    ((int32_t *)t->col[EV_ROW])[t->n] = (int32_t)r;
    ((int32_t *)t->col[EV_DAY])[t->n] = day;
    ((int8_t *)t->col[SP_METHOD])[t->n] = (int8_t)elective;
    ((int16_t *)t->col[SP_LOS])[t->n] = (int16_t)los;
    t->n++;
}

/* Prior 12 months: Poisson counts with a shared lognormal utilisation factor,
 * the dated spells and A&E attendances, bed days and cost. */
static strata_status draw_prior(strata_ctx *ctx, strata_rng *g, double eta, synth_patient *ps,
                                synth_block *b, size_t i, synth_events *ev)
{
    const int age = ps->age, ltc = ps->ltc, efi = ps->efi, index = STRATA_SYNTH_INDEX_DAY;
    double dd = ps->dec - 5.5, z = 0.5 * eta + 0.8660254037844386 * strata_rng_norm(g);
    double util = exp(0.5 * z - 0.125), cost = 0;
    int gp, ae, pe, pel, op, meds, bed = 0;
    synth_tab *sp = &ev->t[SYNTH_EV_SPELLS], *at = &ev->t[SYNTH_EV_AE];
    gp = synth_poisson(g, util * exp(1.1 + 0.01 * age + 0.2 * ltc + 0.04 * efi - 0.02 * dd +
                                     0.15 * !ps->male), 200);
    ae = synth_poisson(g, util * exp(-1.6 + 0.006 * age + 0.2 * ltc + 0.03 * efi - 0.06 * dd), 50);
    pe = synth_poisson(g, util * exp(-4.0 + 0.025 * age + 0.25 * ltc + 0.05 * efi - 0.05 * dd), 20);
    pel = synth_poisson(g, util * exp(-3.2 + 0.02 * age + 0.15 * ltc + 1.0 * ps->flags[9]), 20);
    op = synth_poisson(g, util * exp(-0.4 + 0.012 * age + 0.2 * ltc + 0.02 * efi +
                                     0.5 * ps->flags[9]), 100);
    meds = synth_poisson(g, exp(-1.0 + 0.025 * age + 0.35 * ltc), 60);
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_SPELLS, (size_t)(pe + pel + 30)));
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_AE, (size_t)ae));
    ps->sp0 = sp->n;
    for (int k = 0; k < pe + pel; k++) {
        int em = k < pe;
        int los = em ? los_emergency(g, age, efi) : synth_poisson(g, exp(-0.7 + 0.01 * age), 60);
        put_spell(ev, ps->r, index - 1 - (int32_t)(strata_rng_unif(g) * 365), !em, los);
        bed += los;
        cost += (em ? 1800.0 : 1200.0) + 420.0 * los;
    }
    sort_days((int32_t *)sp->col[EV_DAY] + ps->sp0, (int8_t *)sp->col[SP_METHOD] + ps->sp0,
              (int16_t *)sp->col[SP_LOS] + ps->sp0, sp->n - ps->sp0);
    for (int k = 0; k < ae; k++) {
        ((int32_t *)at->col[EV_ROW])[at->n + (size_t)k] = (int32_t)ps->r;
        ((int32_t *)at->col[EV_DAY])[at->n + (size_t)k] =
            index - 1 - (int32_t)(strata_rng_unif(g) * 365);
    }
    sort_days((int32_t *)at->col[EV_DAY] + at->n, NULL, NULL, (size_t)ae);
    at->n += (size_t)ae;
    ps->cost_prior_other = 42.0 * gp + 180.0 * ae + 160.0 * op + 108.0 * meds;
    cost += ps->cost_prior_other;
    b->gp_appointments_12m[i] = (int16_t)gp;
    b->ae_attendances_12m[i] = (int16_t)ae;
    b->prior_emergency_12m[i] = (int16_t)pe;
    b->prior_elective_12m[i] = (int16_t)pel;
    b->outpatient_12m[i] = (int16_t)op;
    b->bed_days_12m[i] = (int16_t)(bed > 32767 ? 32767 : bed);
    b->repeat_medicines[i] = (int16_t)meds;
    b->cost_12m[i] = (float)cost;
    return STRATA_OK;
}

/* Next 12 months: the ground-truth models (synth_truth, docs/synthetic.md#outcomes). */
static void draw_outcomes(strata_rng *g, synth_patient *ps, synth_block *b, size_t i)
{
    const synth_term *T_ = synth_truth;
    const int age = ps->age, male = ps->male, dec = ps->dec, ltc = ps->ltc, efi = ps->efi;
    double eE = T_[0].beta + T_[1].beta * age + T_[2].beta * male + T_[3].beta * dec +
                T_[4].beta * ltc + T_[5].beta * efi + T_[6].beta * b->prior_emergency_12m[i] +
                T_[7].beta * b->ae_attendances_12m[i];
    double pE = synth_expit(eE), eD;
    const synth_term *TD = T_ + SYNTH_T_DEATH;
    ps->T = 365;
    ps->dday = 365;
    ps->Y = strata_rng_unif(g) < pE;
    if (ps->Y) { /* T ~ Exp(lambda), lambda = -log(1 - pE)/365, conditioned on T < 365 */
        double lambda = -log1p(-pE) / 365.0;
        ps->T = (int)(-log1p(-strata_rng_unif(g) * pE) / lambda);
        if (ps->T > 364)
            ps->T = 364;
    }
    eD = TD[0].beta + TD[1].beta * age + TD[2].beta * male + TD[3].beta * dec + TD[4].beta * ltc +
         TD[5].beta * efi + TD[6].beta * ps->Y;
    ps->D = strata_rng_unif(g) < synth_expit(eD);
    if (ps->D)
        ps->dday = ps->Y ? ps->T + (int)(strata_rng_unif(g) * (365 - ps->T))
                         : (int)(strata_rng_unif(g) * 365);
}

/* Follow-up emergency spells (the first on day T) and the cost of the next year. */
static void draw_followup(strata_rng *g, synth_patient *ps, synth_block *b, size_t i,
                          synth_events *ev)
{
    const synth_term *T_ = synth_truth;
    const int age = ps->age, ltc = ps->ltc, index = STRATA_SYNTH_INDEX_DAY;
    synth_tab *sp = &ev->t[SYNTH_EV_SPELLS];
    double cost_next;
    int nE = 0;
    ps->cost_next_other = exp(T_[SYNTH_T_COST].beta + T_[SYNTH_T_COST + 1].beta * age +
                              T_[SYNTH_T_COST + 2].beta * ps->dec + T_[SYNTH_T_COST + 3].beta * ltc +
                              T_[SYNTH_T_COST + 4].beta * ps->efi + strata_rng_norm(g) - 0.5);
    cost_next = ps->cost_next_other;
    if (ps->Y) {
        int end = ps->D ? ps->dday + 1 : 365, T = ps->T;
        size_t k0 = sp->n;
        nE = 1 + synth_poisson(g, exp(T_[SYNTH_T_EXTRA].beta + T_[SYNTH_T_EXTRA + 1].beta * age +
                                      T_[SYNTH_T_EXTRA + 2].beta * ltc +
                                      T_[SYNTH_T_EXTRA + 3].beta * b->prior_emergency_12m[i]),
                               29);
        for (int k = 0; k < nE; k++) {
            int los = los_emergency(g, age, ps->efi);
            put_spell(ev, ps->r, index + (k == 0 ? T : T + (int32_t)(strata_rng_unif(g) * (end - T))),
                      0, los);
            cost_next += 1800.0 + 420.0 * los;
        }
        sort_days((int32_t *)sp->col[EV_DAY] + k0, (int8_t *)sp->col[SP_METHOD] + k0,
                  (int16_t *)sp->col[SP_LOS] + k0, sp->n - k0);
    }
    b->cost_next_12m[i] = (float)cost_next;
    b->emergency_admission_12m[i] = (int8_t)ps->Y;
    b->emergency_event[i] = (int8_t)ps->Y;
    b->emergency_admissions_12m[i] = (int16_t)nE;
    b->time_to_emergency_days[i] = (int16_t)(ps->Y ? ps->T : ps->D ? ps->dday : 365);
    b->death_12m[i] = (int8_t)ps->D;
}

static strata_status gen_patient(strata_ctx *ctx, const strata_synth *s, size_t pi, int64_t r,
                                 synth_block *b, size_t i, synth_events *ev)
{
    const synth_practice *p = &s->pr[pi];
    strata_rng g = strata_rng_make(s->seed, (uint64_t)r, STRATA_STREAM_SYNTH_PATIENT);
    synth_patient ps;
    double eta;
    memset(&ps, 0, sizeof ps);
    ps.r = r;
    draw_place(s, p, r, pi, &g, &ps);
    b->ethnicity[i] = draw_ethnicity(p, &g, ps.dec - 5.5);
    eta = draw_conditions(s, p, &g, &ps, b, i);
    draw_measures(&g, &ps, b, i);
    STRATA_TRY(draw_prior(ctx, &g, eta, &ps, b, i, ev));
    draw_outcomes(&g, &ps, b, i);
    STRATA_TRY(synth_tab_reserve(ctx, ev, SYNTH_EV_SPELLS, 30));
    draw_followup(&g, &ps, b, i, ev);
    b->patient_id[i] =
        (int64_t)synth_permute(strata_mix64(s->seed ^ 0x6a09e667f3bcc909ULL), (uint64_t)1 << 62,
                               (uint64_t)r) + 1;
    b->practice[i] = (int32_t)pi;
    b->pcn[i] = p->pcn_i;
    b->sub_icb[i] = p->sub_i;
    b->icb[i] = p->icb_i;
    b->imd_decile[i] = (int8_t)ps.dec;
    b->age[i] = (int8_t)ps.age;
    b->sex[i] = (int8_t)ps.male;
    b->ltc_count[i] = (int8_t)ps.ltc;
    b->efi_deficits[i] = (int8_t)ps.efi;
    return synth_patient_events(ctx, s, &ps, b, i, ev);
}

strata_status synth_generate(strata_ctx *ctx, const strata_synth *s, int64_t row0, size_t n,
                             synth_block *b, size_t i0, synth_events *ev)
{
    size_t pi;
    if (i0 + n > b->cap || row0 < 0 || (size_t)row0 + n > s->nrows)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "synth: block rows [%lld, %lld) outside cohort",
                           (long long)row0, (long long)row0 + (long long)n);
    for (int k = 0; k < SYNTH_NEV; k++)
        ev->t[k].n = 0;
    pi = n ? synth_practice_of_row(s, row0) : 0;
    for (size_t i = 0; i < n; i++) {
        int64_t r = row0 + (int64_t)i;
        while (r >= s->pr[pi].row0 + s->pr[pi].nrows)
            pi++;
        STRATA_TRY(gen_patient(ctx, s, pi, r, b, i0 + i, ev));
    }
    return STRATA_OK;
}
