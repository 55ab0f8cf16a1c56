/* bench/bench_evaluate.c — times strata_evaluate (every metric, 5 subgroup
 * columns) on N synthetic scored patients and Harrell's bootstrap with B
 * resamples at M patients using a cheap 2-parameter logistic refit; prints
 * wall times and peak RSS. Usage: bench_evaluate [N=10000000] [M=1000000] [B=200]
 * [threads=0] [mem-limit=none, e.g. 256M] [stream]; B = 0 skips the bootstrap;
 * "stream": the N rows' y, p and codes are not held but made row block by row
 * block as strata_evaluate_source reads them (the same values). Prints an
 * FNV-1a hash of every metric of every group, so runs under different budgets
 * or threads show they gave the same bytes. Synthetic data come from the
 * counter-based RNG: same bytes every run. */
#include "strata/core.h"
#include "strata/evaluate.h"

#include <stddef.h>
#include <stdint.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Standard normal by Box–Muller from two counter-based uniforms. */
static double gauss(uint64_t seed, uint64_t i)
{
    double u1 = strata_eval_uniform(seed, 1, i), u2 = strata_eval_uniform(seed, 2, i);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

typedef struct synth {
    size_t n;
    double *x, *y, *p;
    int32_t *codes[5];
} synth;

static const char *lv_imd[5] = {"1", "2", "3", "4", "5"};
static const char *lv_eth[5] = {"Asian", "Black", "Mixed", "Other", "White"};
static const char *lv_sex[2] = {"F", "M"};
static const char *lv_age[10] = {"0-9",   "10-19", "20-29", "30-39", "40-49",
                                 "50-59", "60-69", "70-79", "80-89", "90+"};
static const char *lv_pcn[1250];
static char pcn_names[1250][8];

/* Row i's x, y, p and by-codes (the same whether held or streamed). */
static void gen_row(size_t i, double *x, double *y, double *p, int32_t codes[5])
{
    int imd = (int)(5 * strata_eval_uniform(7, 3, i)), age = (int)(10 * strata_eval_uniform(7, 4, i));
    double u = strata_eval_uniform(7, 5, i), eta, pt;
    int eth = u < 0.08 ? 0 : u < 0.12 ? 1 : u < 0.15 ? 2 : u < 0.17 ? 3 : u < 0.97 ? 4 : -1;
    *x = gauss(7, i) + 0.25 * age - 0.1 * imd;
    eta = -3.6 + 0.9 * *x - 0.08 * imd;
    pt = 1.0 / (1.0 + exp(-eta));
    *y = strata_eval_uniform(7, 6, i) < pt;
    /* the model misses deprivation: miscalibrated by IMD quintile */
    *p = 1.0 / (1.0 + exp(-(-3.8 + 0.9 * *x)));
    codes[0] = imd;
    codes[1] = eth;
    codes[2] = strata_eval_uniform(7, 7, i) < 0.5;
    codes[3] = age;
    codes[4] = (int32_t)(1250 * strata_eval_uniform(7, 8, i));
}

/* strata_evaluate_source's reader of the streamed rows: each row made again. */
static strata_status gen_read(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n, void *out)
{
    (void)ctx;
    (void)ud;
    for (size_t i = 0; i < n; i++) {
        double x, y, p;
        int32_t c[5];
        gen_row(r0 + i, &x, &y, &p, c);
        if (col >= 0)
            ((int32_t *)out)[i] = c[col];
        else
            ((double *)out)[i] = col == STRATA_EVAL_COL_Y ? y : p;
    }
    return STRATA_OK;
}

static int make(size_t n, synth *s)
{
    s->n = n;
    s->x = malloc(n * sizeof *s->x);
    s->y = malloc(n * sizeof *s->y);
    s->p = malloc(n * sizeof *s->p);
    for (int b = 0; b < 5; b++)
        s->codes[b] = malloc(n * sizeof(int32_t));
    if (!s->x || !s->y || !s->p || !s->codes[0] || !s->codes[1] || !s->codes[2] ||
        !s->codes[3] || !s->codes[4])
        return -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c[5];
        gen_row(i, &s->x[i], &s->y[i], &s->p[i], c);
        for (int b = 0; b < 5; b++)
            s->codes[b][i] = c[b];
    }
    return 0;
}

static void unmake(synth *s)
{
    free(s->x);
    free(s->y);
    free(s->p);
    for (int b = 0; b < 5; b++)
        free(s->codes[b]);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The metrics' scalars and tables, bytes as computed. */
static uint64_t metrics_hash(uint64_t h, const strata_eval_metrics *m)
{
    h = fnv(h, m, offsetof(strata_eval_metrics, bins));
    h = fnv(h, m->bins, (size_t)m->n_bins * sizeof *m->bins);
    h = fnv(h, m->top, m->n_top * sizeof *m->top);
    h = fnv(h, m->nb, m->n_nb * sizeof *m->nb);
    h = fnv(h, m->curve, m->n_curve * sizeof *m->curve);
    return fnv(h, &m->flags, sizeof m->flags);
}

/* Cheap refit: logistic regression of y on (1, x) by Newton. */
static strata_status refit(strata_ctx *ctx, void *ud, const double *tw, size_t n, double *lp)
{
    const synth *s = ud;
    double a = 0.0, b = 0.0;
    (void)ctx;
    for (int it = 0; it < 25; it++) {
        double u0 = 0, u1 = 0, h00 = 0, h01 = 0, h11 = 0, det, da, db;
        for (size_t i = 0; i < n; i++) {
            double mu, v;
            if (tw[i] <= 0.0)
                continue;
            mu = 1.0 / (1.0 + exp(-(a + b * s->x[i])));
            v = tw[i] * mu * (1.0 - mu);
            u0 += tw[i] * (s->y[i] - mu);
            u1 += tw[i] * (s->y[i] - mu) * s->x[i];
            h00 += v;
            h01 += v * s->x[i];
            h11 += v * s->x[i] * s->x[i];
        }
        det = h00 * h11 - h01 * h01;
        da = (h11 * u0 - h01 * u1) / det;
        db = (h00 * u1 - h01 * u0) / det;
        a += da;
        b += db;
        if (fabs(da) + fabs(db) < 1e-10)
            break;
    }
    for (size_t i = 0; i < n; i++)
        lp[i] = a + b * s->x[i];
    return STRATA_OK;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atof(argv[1]) : 10000000u;
    size_t m = argc > 2 ? (size_t)atof(argv[2]) : 1000000u;
    int B = argc > 3 ? atoi(argv[3]) : 200, threads = argc > 4 ? atoi(argv[4]) : 0;
    size_t mem = 0;
    uint64_t h = 14695981039346656037ull;
    strata_ctx *ctx;
    synth s;
    strata_eval_params par;
    strata_eval_report *r = NULL;
    strata_validate_params vp;
    strata_bootstrap_result br;
    strata_eval_by by[5];
    strata_eval_source src;
    int stream = argc > 6 && !strcmp(argv[6], "stream");
    double t0, t1, c0;
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    strata_ctx_set_threads(ctx, threads);
    if (argc > 5 && strata_parse_size(argv[5], &mem) != 0)
        return 2;
    strata_ctx_set_memory_budget(ctx, mem);
    for (int k = 0; k < 1250; k++) {
        snprintf(pcn_names[k], sizeof pcn_names[k], "P%04d", k);
        lv_pcn[k] = pcn_names[k];
    }
    t0 = now();
    memset(&s, 0, sizeof s);
    if (!stream && make(n, &s) != 0)
        return 1;
    printf("threads=%d synth n=%zu%s: %.2f s\n", strata_ctx_threads(ctx), n, stream ? " (streamed)" : "",
           now() - t0);
    by[0] = (strata_eval_by){"imd_quintile", s.codes[0], 5, lv_imd};
    by[1] = (strata_eval_by){"ethnicity", s.codes[1], 5, lv_eth};
    by[2] = (strata_eval_by){"sex", s.codes[2], 2, lv_sex};
    by[3] = (strata_eval_by){"age_band", s.codes[3], 10, lv_age};
    by[4] = (strata_eval_by){"pcn", s.codes[4], 1250, lv_pcn};
    src = (strata_eval_source){{n, s.y, s.p, NULL, 5, by}, 0, gen_read, NULL};
    strata_eval_params_init(&par);
    t0 = now();
    c0 = cpu();
    if (strata_evaluate_source(ctx, &src, &par, &r) != STRATA_OK) {
        fprintf(stderr, "%s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    t1 = now();
    h = metrics_hash(h, &r->overall);
    for (size_t g = 0; g < r->n_groups; g++)
        h = metrics_hash(h, &r->groups[g].m);
    printf("evaluate n=%zu, 5 by-columns (%zu groups), memory budget %zu: wall %.2f s, cpu %.2f s; C=%.4f "
           "slope=%.4f O/E=%.4f; peak RSS %.0f MB; report hash %016llx\n",
           n, r->n_groups, mem, t1 - t0, cpu() - c0, r->overall.c, r->overall.slope, r->overall.oe,
           peak_rss_mb(), (unsigned long long)h);
    strata_eval_report_free(ctx, r);
    if (B == 0) {
        unmake(&s);
        strata_ctx_free(ctx);
        return 0;
    }
    unmake(&s);
    if (make(m, &s) != 0)
        return 1;
    strata_validate_params_init(&vp);
    vp.B = B;
    t0 = now();
    c0 = cpu();
    if (strata_validate_bootstrap(ctx, STRATA_FAMILY_BINOMIAL, m, s.y, NULL, refit, &s, &vp, &br) !=
        STRATA_OK) {
        fprintf(stderr, "%s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    t1 = now();
    printf("bootstrap n=%zu B=%d: wall %.2f s, cpu %.2f s; C apparent %.5f corrected %.5f; "
           "slope corrected %.5f; peak RSS %.0f MB\n",
           m, B, t1 - t0, cpu() - c0, br.apparent.c, br.corrected.c, br.corrected.slope, peak_rss_mb());
    strata_bootstrap_result_free(ctx, &br);
    unmake(&s);
    strata_ctx_free(ctx);
    return 0;
}
