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

#define SYNTH_NCOLPTR (28 + STRATA_SYNTH_NCOND)

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
    /* sizes unknown after a partial regrowth */
    STRATA_FREE_ALL(ctx, e->sp_row, e->sp_day, e->sp_type, e->sp_los, e->ae_row, e->ae_day);
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

/* Grows n parallel arrays (ptr[k], elements of elt[k] bytes) from oc to nc
 * elements; 0 when one fails (those already grown stay valid in ptr). */
static int grow_parallel(strata_ctx *ctx, void **ptr, const size_t *elt, size_t n, size_t oc,
                         size_t nc)
{
    for (size_t k = 0; k < n; k++) {
        void *g = strata_realloc(ctx, ptr[k], oc * elt[k], nc * elt[k]);
        if (!g)
            return 0;
        ptr[k] = g;
    }
    return 1;
}

/* Room for `more` spells and A&E rows; amortised doubling. On failure the
 * arrays stay valid and the capacities unchanged. */
static strata_status reserve_events(strata_ctx *ctx, synth_events *b, size_t sp_more,
                                    size_t ae_more)
{
    static const size_t sp_elt[4] = {4, 4, 1, 2}, ae_elt[2] = {4, 4};
    if (b->sp_n + sp_more > b->sp_cap) {
        size_t nc = 2 * (b->sp_n + sp_more) + 1024;
        void *sp[4] = {b->sp_row, b->sp_day, b->sp_type, b->sp_los};
        int ok = grow_parallel(ctx, sp, sp_elt, 4, b->sp_cap, nc);
        b->sp_row = sp[0], b->sp_day = sp[1], b->sp_type = sp[2], b->sp_los = sp[3];
        if (!ok)
            return STRATA_ENOMEM;
        b->sp_cap = nc;
    }
    if (b->ae_n + ae_more > b->ae_cap) {
        size_t nc = 2 * (b->ae_n + ae_more) + 1024;
        void *ae[2] = {b->ae_row, b->ae_day};
        int ok = grow_parallel(ctx, ae, ae_elt, 2, b->ae_cap, nc);
        b->ae_row = ae[0], b->ae_day = ae[1];
        if (!ok)
            return STRATA_ENOMEM;
        b->ae_cap = nc;
    }
    return STRATA_OK;
}

/* ---- one patient ------------------------------------------------------------ */

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

static strata_status gen_patient(strata_ctx *ctx, const strata_synth *s, size_t pi, int64_t r,
                                 synth_block *b, size_t i, synth_events *ev)
{
    const synth_practice *p = &s->pr[pi];
    strata_rng g = strata_rng_make(s->seed, (uint64_t)r, STRATA_STREAM_SYNTH_PATIENT);
    uint64_t jp = synth_permute(strata_mix64(s->seed * 0x2545f4914f6cdd1dULL + pi + 1),
                                (uint64_t)p->nrows, (uint64_t)(r - p->row0));
    int cell = 0, male, band, age, dec, ltc = 0, efi, flags[STRATA_SYNTH_NCOND];
    double u, eta, dd, z, util, eE, pE, eD;
    int gp, ae, pe, pel, op, meds, bed = 0;
    double cost = 0;
    int Y, D, T = 365, dday = 365, nE = 0;
    const int index = STRATA_SYNTH_INDEX_DAY;
    const synth_term *T_ = synth_truth;

    /* place in the register: permuted local index -> sex x band cell */
    while (p->cell_cum[cell] <= (int64_t)jp)
        cell++;
    male = cell >= SYNTH_NBANDS;
    band = cell % SYNTH_NBANDS;
    u = strata_rng_unif(&g);
    if (band < SYNTH_NBANDS - 1) {
        const double *cdf =
            &s->age_cdf[(((size_t)p->icb_i * 2 + (size_t)male) * SYNTH_NBANDS + (size_t)band) * 5];
        int y = 0;
        while (y < 4 && u > cdf[y])
            y++;
        age = 5 * band + y;
    } else {
        double extra = floor(-log(u) / 0.45);
        age = 95 + (extra > 15 ? 15 : (int)extra);
    }
    u = strata_rng_unif(&g);
    for (dec = 0; dec < 9 && u > p->dec_cdf[dec]; dec++)
        ;
    dec += 1;
    dd = dec - 5.5;

    /* ethnicity: region shares tilted towards minority groups in deprived deciles */
    b->ethnicity[i] = STRATA_NA_CODE;
    if (strata_rng_unif(&g) >= 0.06) {
        double w[SYNTH_NETH], tot = 0, tilt = exp(-0.10 * dd);
        for (int e = 0; e < SYNTH_NETH; e++) {
            w[e] = synth_eth_share[p->region_i][e] * (e == SYNTH_NETH - 1 ? 1.0 : tilt);
            tot += w[e];
        }
        u = strata_rng_unif(&g) * tot;
        int e = 0;
        while (e < SYNTH_NETH - 1 && u > w[e]) {
            u -= w[e];
            e++;
        }
        b->ethnicity[i] = (int8_t)e;
    }

    /* conditions: logit = base(age) + sex + deprivation + latent + practice offset */
    eta = strata_rng_norm(&g);
    for (int c = 0; c < STRATA_SYNTH_NCOND; c++) {
        const synth_cond_model *m = &synth_cond[c];
        double lp = s->base_tab[c][age] + (male ? m->male : 0) + m->dep * dd + m->load * eta +
                    p->offset[c];
        u = strata_rng_unif(&g);
        flags[c] = age >= m->onset_age && u < synth_expit(lp);
        ltc += flags[c];
        b->cond[c][i] = (int8_t)flags[c];
    }
    efi = synth_binom(&g, 36,
                      synth_expit(-4.0 + 0.045 * (age > 40 ? age - 40 : 0) + 0.30 * ltc -
                                  0.04 * dd + 0.4 * eta));

    /* measures with missingness */
    {
        double rec = age < 18 ? 0.2 : synth_expit(-0.2 + 0.03 * (age - 40) + 0.6 * (ltc > 0));
        double mu = age < 18 ? 15.5 + 0.35 * (age > 4 ? age - 4 : 0)
                             : 25.5 + 0.06 * ((age < 70 ? age : 70) - 40) +
                                   1.5 * flags[1] + 0.8 * flags[0] - 0.15 * dd;
        double bmi = mu * exp(0.17 * strata_rng_norm(&g) - 0.01445);
        b->bmi[i] = strata_rng_unif(&g) < rec ? (float)(bmi < 12 ? 12 : bmi > 70 ? 70 : bmi) : NAN;
        rec = age < 18 ? 0.0
                       : synth_expit(-0.5 + 0.04 * (age - 40) + 1.5 * flags[0] + 0.5 * (ltc > 0));
        double sbp = 118 + 0.45 * (age - 40) + 4 * male + 12 * flags[0] + 14 * strata_rng_norm(&g);
        b->sbp[i] = strata_rng_unif(&g) < rec ? (float)(sbp < 70 ? 70 : sbp > 240 ? 240 : sbp) : NAN;
        b->smoking[i] = STRATA_NA_CODE;
        if (age >= 16 && strata_rng_unif(&g) < 0.9) {
            double pc = synth_expit(-1.6 - 0.02 * (age - 40) - 0.12 * dd + 0.8 * flags[3] +
                                    0.2 * flags[12]);
            double pex = synth_expit(-1.2 + 0.03 * (age - 40) + 1.0 * flags[3] + 0.3 * flags[4]);
            u = strata_rng_unif(&g);
            b->smoking[i] = (int8_t)(u < pc ? 2 : u < pc + (1 - pc) * pex ? 1 : 0);
        }
    }

    /* prior 12 months: Poisson counts with a shared lognormal utilisation factor */
    z = 0.5 * eta + 0.8660254037844386 * strata_rng_norm(&g);
    util = exp(0.5 * z - 0.125);
    gp = synth_poisson(&g, util * exp(1.1 + 0.01 * age + 0.2 * ltc + 0.04 * efi - 0.02 * dd +
                                      0.15 * !male), 200);
    ae = synth_poisson(&g, util * exp(-1.6 + 0.006 * age + 0.2 * ltc + 0.03 * efi - 0.06 * dd), 50);
    pe = synth_poisson(&g, util * exp(-4.0 + 0.025 * age + 0.25 * ltc + 0.05 * efi - 0.05 * dd),
                       20);
    pel = synth_poisson(&g, util * exp(-3.2 + 0.02 * age + 0.15 * ltc + 1.0 * flags[9]), 20);
    op = synth_poisson(&g, util * exp(-0.4 + 0.012 * age + 0.2 * ltc + 0.02 * efi +
                                      0.5 * flags[9]), 100);
    meds = synth_poisson(&g, exp(-1.0 + 0.025 * age + 0.35 * ltc), 60);
    STRATA_TRY(reserve_events(ctx, ev, (size_t)(pe + pel + 30), (size_t)ae));
    {
        size_t k0 = ev->sp_n;
        for (int k = 0; k < pe + pel; k++) {
            int em = k < pe;
            int los = em ? los_emergency(&g, age, efi)
                         : synth_poisson(&g, exp(-0.7 + 0.01 * age), 60);
            ev->sp_row[ev->sp_n] = (int32_t)r;
            ev->sp_day[ev->sp_n] = index - 1 - (int32_t)(strata_rng_unif(&g) * 365);
            ev->sp_type[ev->sp_n] = (int8_t)!em;
            ev->sp_los[ev->sp_n] = (int16_t)los;
            ev->sp_n++;
            bed += los;
            cost += (em ? 1800.0 : 1200.0) + 420.0 * los;
        }
        sort_days(ev->sp_day + k0, ev->sp_type + k0, ev->sp_los + k0, ev->sp_n - k0);
        k0 = ev->ae_n;
        for (int k = 0; k < ae; k++) {
            ev->ae_row[ev->ae_n] = (int32_t)r;
            ev->ae_day[ev->ae_n] = index - 1 - (int32_t)(strata_rng_unif(&g) * 365);
            ev->ae_n++;
        }
        sort_days(ev->ae_day + k0, NULL, NULL, ev->ae_n - k0);
    }
    cost += 42.0 * gp + 180.0 * ae + 160.0 * op + 108.0 * meds;

    /* outcomes: the ground-truth model (synth_truth, docs/synthetic.md#outcomes) */
    eE = T_[0].beta + T_[1].beta * age + T_[2].beta * male + T_[3].beta * dec +
         T_[4].beta * ltc + T_[5].beta * efi + T_[6].beta * pe + T_[7].beta * ae;
    pE = synth_expit(eE);
    Y = strata_rng_unif(&g) < pE;
    if (Y) { /* T ~ Exp(lambda), lambda = -log(1 - pE)/365, conditioned on T < 365 */
        double lambda = -log1p(-pE) / 365.0;
        T = (int)(-log1p(-strata_rng_unif(&g) * pE) / lambda);
        if (T > 364)
            T = 364;
    }
    eD = T_[SYNTH_T_DEATH].beta + T_[SYNTH_T_DEATH + 1].beta * age +
         T_[SYNTH_T_DEATH + 2].beta * male + T_[SYNTH_T_DEATH + 3].beta * dec +
         T_[SYNTH_T_DEATH + 4].beta * ltc + T_[SYNTH_T_DEATH + 5].beta * efi +
         T_[SYNTH_T_DEATH + 6].beta * Y;
    D = strata_rng_unif(&g) < synth_expit(eD);
    if (D)
        dday = Y ? T + (int)(strata_rng_unif(&g) * (365 - T)) : (int)(strata_rng_unif(&g) * 365);
    {
        double cost_next = exp(T_[SYNTH_T_COST].beta + T_[SYNTH_T_COST + 1].beta * age +
                               T_[SYNTH_T_COST + 2].beta * dec + T_[SYNTH_T_COST + 3].beta * ltc +
                               T_[SYNTH_T_COST + 4].beta * efi + strata_rng_norm(&g) - 0.5);
        if (Y) {
            int end = D ? dday + 1 : 365;
            size_t k0 = ev->sp_n;
            nE = 1 + synth_poisson(&g,
                                   exp(T_[SYNTH_T_EXTRA].beta + T_[SYNTH_T_EXTRA + 1].beta * age +
                                       T_[SYNTH_T_EXTRA + 2].beta * ltc +
                                       T_[SYNTH_T_EXTRA + 3].beta * pe),
                                   29);
            for (int k = 0; k < nE; k++) {
                int los = los_emergency(&g, age, efi);
                ev->sp_row[ev->sp_n] = (int32_t)r;
                ev->sp_day[ev->sp_n] =
                    index + (k == 0 ? T : T + (int32_t)(strata_rng_unif(&g) * (end - T)));
                ev->sp_type[ev->sp_n] = 0;
                ev->sp_los[ev->sp_n] = (int16_t)los;
                ev->sp_n++;
                cost_next += 1800.0 + 420.0 * los;
            }
            sort_days(ev->sp_day + k0, ev->sp_type + k0, ev->sp_los + k0, ev->sp_n - k0);
        }
        b->cost_next_12m[i] = (float)cost_next;
    }

    b->patient_id[i] =
        (int64_t)synth_permute(strata_mix64(s->seed ^ 0x6a09e667f3bcc909ULL), (uint64_t)1 << 62,
                               (uint64_t)r) + 1;
    b->practice[i] = (int32_t)pi;
    b->pcn[i] = p->pcn_i;
    b->sub_icb[i] = p->sub_i;
    b->icb[i] = p->icb_i;
    b->imd_decile[i] = (int8_t)dec;
    b->age[i] = (int8_t)age;
    b->sex[i] = (int8_t)male;
    b->ltc_count[i] = (int8_t)ltc;
    b->efi_deficits[i] = (int8_t)efi;
    b->gp_appointments_12m[i] = (int16_t)gp;
    b->ae_attendances_12m[i] = (int16_t)ae;
    b->prior_emergency_12m[i] = (int16_t)pe;
    b->prior_elective_12m[i] = (int16_t)pel;
    b->outpatient_12m[i] = (int16_t)op;
    b->bed_days_12m[i] = (int16_t)(bed > 32767 ? 32767 : bed);
    b->repeat_medicines[i] = (int16_t)meds;
    b->cost_12m[i] = (float)cost;
    b->emergency_admission_12m[i] = (int8_t)Y;
    b->emergency_event[i] = (int8_t)Y;
    b->emergency_admissions_12m[i] = (int16_t)nE;
    b->time_to_emergency_days[i] = (int16_t)(Y ? T : D ? dday : 365);
    b->death_12m[i] = (int8_t)D;
    return STRATA_OK;
}

strata_status synth_generate(strata_ctx *ctx, const strata_synth *s, int64_t row0, size_t n,
                             synth_block *b, size_t i0, synth_events *ev)
{
    size_t pi;
    if (i0 + n > b->cap || row0 < 0 || (size_t)row0 + n > s->nrows)
        return STRATA_FAIL(ctx, STRATA_EINTERNAL, "synth: block rows [%lld, %lld) outside cohort",
                           (long long)row0, (long long)row0 + (long long)n);
    ev->sp_n = ev->ae_n = 0;
    pi = n ? synth_practice_of_row(s, row0) : 0;
    for (size_t i = 0; i < n; i++) {
        int64_t r = row0 + (int64_t)i;
        while (r >= s->pr[pi].row0 + s->pr[pi].nrows)
            pi++;
        STRATA_TRY(gen_patient(ctx, s, pi, r, b, i0 + i, ev));
    }
    return STRATA_OK;
}
