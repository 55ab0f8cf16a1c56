/* labels: unit determinism */
/* tests/test_scale_memory.c — the run's stages in bounded memory (docs/scale.md):
 * strata_evaluate under a memory budget (the sorted rows through a scratch
 * file, a by-column's levels in batches) gives the unlimited run's bytes (every metric, every group, 1
 * and 2 threads, weighted or not) while its peak allocation drops, and so
 * does evaluation from a streamed source (strata_evaluate_source: no block
 * holds a column of the rows; bad codes and failed reads named); tiers
 * and intervention lists under a budget (the ranking through the external
 * sort) are the unlimited run's bytes, and unscored (NaN) risks are left
 * out by the ranking itself with the compacted ranking's result; the
 * manifest reads a file once for its hash when the same file is both an input
 * and an output, and again only when the file changed; strata run's
 * aggregation under a budget allocates under it, holds no per-patient value
 * whole, and every output is the unlimited run's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "manifest.h"
#include "testutil.h"
#include "strata/cox.h"
#include "strata/evaluate.h"
#include "strata/stratify.h"
#include "strata/run.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- an allocation hook that counts ---------------------------------------- */

typedef struct counter {
    size_t now, peak, n_mib; /* bytes held, their peak, 1 MiB blocks (the hash's buffer) */
    size_t largest;          /* the largest block */
} counter;

static void *counting_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    counter *c = ud;
    size_t *hdr = ptr ? (size_t *)ptr - 1 : NULL, had = hdr ? *hdr : 0;
    (void)old_size;
    if (new_size == 0) {
        c->now -= had;
        free(hdr);
        return NULL;
    }
    hdr = realloc(hdr, new_size + sizeof *hdr);
    if (!hdr)
        return NULL;
    c->now += new_size - had;
    c->peak = c->now > c->peak ? c->now : c->peak;
    c->n_mib += new_size == (1u << 20);
    c->largest = new_size > c->largest ? new_size : c->largest;
    *hdr = new_size;
    return hdr + 1;
}

/* ---- evaluation in batches --------------------------------------------------- */

#define N_ROWS 30000
#define N_BY 3
static const char *LEVELS[40] = {"l0",  "l1",  "l2",  "l3",  "l4",  "l5",  "l6",  "l7",
                                 "l8",  "l9",  "l10", "l11", "l12", "l13", "l14", "l15",
                                 "l16", "l17", "l18", "l19", "l20", "l21", "l22", "l23",
                                 "l24", "l25", "l26", "l27", "l28", "l29", "l30", "l31",
                                 "l32", "l33", "l34", "l35", "l36", "l37", "l38", "l39"};

typedef struct data {
    double y[N_ROWS], p[N_ROWS], w[N_ROWS];
    int32_t codes[N_BY][N_ROWS];
    strata_eval_by by[N_BY];
} data;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* Risks with ties (3 decimals), outcomes drawn from them, a 3-level column
 * with missing codes, a 40-level one (PCN-like) and a 2-level one; weights 0,
 * 1 and 2. */
static void make_data(data *d)
{
    uint64_t s = 12345;
    static const size_t nl[N_BY] = {3, 40, 2};
    static const char *names[N_BY] = {"band", "pcn", "sex"};
    for (size_t i = 0; i < N_ROWS; i++) {
        double u = (double)lcg(&s) / 9007199254740992.0, x = -3.0 + 4.0 * u;
        d->p[i] = floor(1000.0 / (1.0 + exp(-x))) / 1000.0 + 0.0005;
        d->y[i] = (double)lcg(&s) / 9007199254740992.0 < d->p[i];
        d->w[i] = (double)(lcg(&s) % 3);
        d->codes[0][i] = (int32_t)(lcg(&s) % 4) - 1;
        d->codes[1][i] = (int32_t)(lcg(&s) % 40);
        d->codes[2][i] = (int32_t)(lcg(&s) % 2);
    }
    for (int b = 0; b < N_BY; b++)
        d->by[b] = (strata_eval_by){names[b], d->codes[b], nl[b], LEVELS};
}

static void assert_metrics_same(const strata_eval_metrics *a, const strata_eval_metrics *b,
                                const char *what)
{
    if (memcmp(a, b, offsetof(strata_eval_metrics, bins)) != 0 || a->n_top != b->n_top ||
        a->n_nb != b->n_nb || a->n_curve != b->n_curve || a->flags != b->flags ||
        memcmp(a->bins, b->bins, (size_t)a->n_bins * sizeof *a->bins) != 0 ||
        memcmp(a->top, b->top, a->n_top * sizeof *a->top) != 0 ||
        memcmp(a->nb, b->nb, a->n_nb * sizeof *a->nb) != 0 ||
        memcmp(a->curve, b->curve, a->n_curve * sizeof *a->curve) != 0)
        fail_msg("%s: metrics differ from the unlimited run's", what);
}

static void assert_reports_same(const strata_eval_report *a, const strata_eval_report *b)
{
    assert_metrics_same(&a->overall, &b->overall, "overall");
    assert_int_equal(a->n_groups, b->n_groups);
    for (size_t g = 0; g < a->n_groups; g++) {
        assert_string_equal(a->groups[g].by, b->groups[g].by);
        assert_string_equal(a->groups[g].level, b->groups[g].level);
        assert_metrics_same(&a->groups[g].m, &b->groups[g].m, a->groups[g].level);
    }
}

/* The streamed source (strata_evaluate_source): every column of d read in
 * row blocks through the callback, none handed over whole. */
static strata_status read_data(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n, void *out)
{
    const data *d = ud;
    (void)ctx;
    if (col >= 0)
        memcpy(out, d->codes[col] + r0, n * sizeof(int32_t));
    else
        memcpy(out, (col == STRATA_EVAL_COL_Y ? d->y : col == STRATA_EVAL_COL_P ? d->p : d->w) + r0,
               n * sizeof(double));
    return STRATA_OK;
}

/* Evaluates d (weighted or not) with the budget and threads given, from its
 * arrays or (streamed) through read_data; *peak is the peak of the bytes
 * allocated through the context meanwhile, less those the report keeps (its
 * tables: ~6 kB a group, whatever the rows), *largest the largest block. */
static strata_eval_report *evaluate_as(const data *d, int weighted, int streamed, size_t budget, int threads,
                                       size_t *peak, size_t *largest)
{
    strata_ctx *ctx = tu_ctx();
    counter c = {0, 0, 0, 0};
    strata_eval_params par;
    strata_eval_by by[N_BY];
    strata_eval_source src = {{N_ROWS, d->y, d->p, weighted ? d->w : NULL, N_BY, d->by}, weighted,
                              read_data, (void *)d};
    strata_eval_report *r = NULL;
    if (streamed) {
        memcpy(by, d->by, sizeof by);
        for (int b = 0; b < N_BY; b++)
            by[b].codes = NULL;
        src.in = (strata_eval_input){N_ROWS, NULL, NULL, NULL, N_BY, by};
    }
    strata_ctx_set_alloc(ctx, counting_alloc, &c);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    strata_eval_params_init(&par);
    assert_status(ctx, strata_evaluate_source(ctx, &src, &par, &r), STRATA_OK);
    *peak = c.peak - c.now;
    if (largest)
        *largest = c.largest;
    strata_ctx_free(ctx); /* the report stays: freed by eval_done through the same hook */
    return r;
}

static strata_eval_report *evaluate(const data *d, int weighted, size_t budget, int threads, size_t *peak)
{
    return evaluate_as(d, weighted, 0, budget, threads, peak, NULL);
}

static void eval_done(strata_eval_report *r)
{
    counter c = {0, 0, 0, 0};
    strata_ctx *ctx = tu_ctx();
    strata_ctx_set_alloc(ctx, counting_alloc, &c);
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

static void test_evaluate__budget_batches_give_the_same_bytes(void **state)
{
    data *d = malloc(sizeof *d);
    (void)state;
    assert_non_null(d);
    make_data(d);
    for (int weighted = 0; weighted < 2; weighted++) {
        size_t peak0, peak, largest;
        strata_eval_report *want = evaluate(d, weighted, 0, 1, &peak0);
        /* 400 kB and 1 MB: the sorted rows through a scratch file, read in
         * windows, copies of 1,600 / 4,096 rows a batch (a larger level through
         * the file too); 2.5 MB: in memory, a level larger than the copies
         * through its positions; each on 1 and 2 threads */
        static const size_t budgets[] = {400u << 10, 1u << 20, 5u << 19, 0};
        for (size_t k = 0; k < 4; k++)
            for (int t = 1; t <= 2; t++) {
                strata_eval_report *got = evaluate(d, weighted, budgets[k], t, &peak);
                assert_reports_same(got, want);
                if (budgets[k] == (400u << 10) && !(peak < budgets[k] && peak + 20 * (size_t)N_ROWS < peak0))
                    fail_msg("peak %zu under a budget of %zu (unlimited: %zu)", peak, budgets[k], peak0);
                eval_done(got);
                /* streamed: the same bytes; under 400 kB no block holds a
                 * column of the rows (4 bytes a row), the peak below the budget */
                got = evaluate_as(d, weighted, 1, budgets[k], t, &peak, &largest);
                assert_reports_same(got, want);
                if (budgets[k] == (400u << 10) && !(peak < budgets[k] && largest < 4 * (size_t)N_ROWS))
                    fail_msg("streamed: peak %zu, largest block %zu under a budget of %zu", peak, largest,
                             budgets[k]);
                eval_done(got);
            }
        eval_done(want);
    }
    free(d);
}

/* A streamed source's bad code names its by-column, row and value, as the
 * arrays' does; a failing read stops the evaluation with the reader's
 * status and message (no report). */
static strata_status read_bad(strata_ctx *ctx, void *ud, int col, size_t r0, size_t n, void *out)
{
    strata_status st = read_data(ctx, ud, col, r0, n, out);
    if (col == 1 && r0 <= 20000 && 20000 < r0 + n)
        ((int32_t *)out)[20000 - r0] = 40; /* pcn has 40 levels */
    if (col == STRATA_EVAL_COL_Y && r0 + n > 25000)
        return STRATA_FAIL(ctx, STRATA_EIO, "outcome.h5: cannot read rows %zu..%zu", r0 + 1, r0 + n);
    return st;
}

static void test_evaluate__streamed_errors_name_the_row(void **state)
{
    data *d = malloc(sizeof *d);
    strata_ctx *ctx = tu_ctx();
    strata_eval_by by[N_BY];
    strata_eval_params par;
    strata_eval_report *r = NULL;
    strata_eval_source src;
    (void)state;
    assert_non_null(d);
    make_data(d);
    memcpy(by, d->by, sizeof by);
    by[1].codes = NULL;
    strata_eval_params_init(&par);
    src = (strata_eval_source){{N_ROWS, d->y, d->p, NULL, N_BY, by}, 0, read_bad, d};
    assert_status(ctx, strata_evaluate_source(ctx, &src, &par, &r), STRATA_EDATA);
    assert_contains(strata_ctx_errmsg(ctx), "evaluate: by-column pcn: row 20001: code 40 outside [-1, 40)");
    assert_null(r);
    src.in.y = NULL;
    strata_ctx_set_memory_budget(ctx, 400u << 10);
    assert_status(ctx, strata_evaluate_source(ctx, &src, &par, &r), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "outcome.h5: cannot read rows");
    assert_null(r);
    strata_ctx_free(ctx);
    free(d);
}

/* ---- the tier and list ranking under a budget --------------------------------- */

#define RK_N 50000
#define RK_G 23

typedef struct ranked {
    uint8_t tier[RK_N], tier_all[RK_N];
    size_t rows[RK_N], n_sel;
    uint32_t rank[RK_N];
} ranked;

/* Tiers (within groups and over everyone) and the intervention list with
 * proportionate universalism, under the budget and threads given. */
static void rank_all(const double *risk, const int32_t *grp, const int32_t *imd, size_t budget,
                     int threads, ranked *out, size_t *peak)
{
    strata_ctx *ctx = tu_ctx();
    counter c = {0, 0, 0, 0};
    strata_tier_params tp;
    strata_list_params lp;
    strata_ctx_set_alloc(ctx, counting_alloc, &c);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_memory_budget(ctx, budget);
    strata_tier_params_init(&tp);
    strata_list_params_init(&lp);
    lp.per_1000 = 40.0;
    lp.prop_univ = 1;
    assert_status(ctx, strata_tiers(ctx, &tp, RK_N, risk, grp, RK_G, out->tier), STRATA_OK);
    assert_status(ctx, strata_tiers(ctx, &tp, RK_N, risk, NULL, 0, out->tier_all), STRATA_OK);
    assert_status(ctx, strata_intervention_select(ctx, &lp, RK_N, risk, NULL, grp, RK_G, imd, out->rows,
                                                  out->rank, &out->n_sel),
                  STRATA_OK);
    *peak = c.peak;
    strata_ctx_free(ctx);
}

/* Under 600 kB (half for the ranking's sort: runs through a scratch file),
 * tiers and lists are the unlimited run's bytes on 1 and 2 threads, while the
 * ranking (its sort, blocks and group sizes) holds less than the budget and
 * a third of the in-memory ranking (32 bytes a row). */
static void test_rank__budget_gives_the_same_tiers_and_lists(void **state)
{
    static double risk[RK_N];
    static int32_t grp[RK_N], imd[RK_N];
    static ranked want, got;
    size_t peak0, peak;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    (void)state;
    for (size_t i = 0; i < RK_N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        risk[i] = (double)((s >> 12) % 5000) / 5000.0 + 1e-4; /* ties within and across groups */
        grp[i] = (int32_t)((s >> 5) % RK_G);
        imd[i] = (int32_t)(1 + (s >> 40) % 10);
    }
    rank_all(risk, grp, imd, 0, 1, &want, &peak0);
    assert_true(want.n_sel > 1000);
    for (int t = 1; t <= 2; t++) {
        memset(&got, 0, sizeof got);
        rank_all(risk, grp, imd, 600u << 10, t, &got, &peak);
        assert_memory_equal(got.tier, want.tier, sizeof want.tier);
        assert_memory_equal(got.tier_all, want.tier_all, sizeof want.tier_all);
        assert_int_equal(got.n_sel, want.n_sel);
        assert_memory_equal(got.rows, want.rows, want.n_sel * sizeof *want.rows);
        assert_memory_equal(got.rank, want.rank, want.n_sel * sizeof *want.rank);
        if (!(peak0 >= 32u * RK_N && peak < (600u << 10) && 3 * peak < peak0))
            fail_msg("peak %zu (unlimited %zu)", peak, peak0);
    }
    /* below the sort's floor: ENOMEM naming the sizes */
    {
        strata_ctx *ctx = tu_ctx();
        strata_tier_params tp;
        strata_tier_params_init(&tp);
        strata_ctx_set_memory_budget(ctx, 64u << 10);
        assert_status(ctx, strata_tiers(ctx, &tp, RK_N, risk, grp, RK_G, got.tier), STRATA_ENOMEM);
        assert_contains(strata_ctx_errmsg(ctx), "ranking the patients by risk: sorting 50000 rows");
        strata_ctx_free(ctx);
    }
}

/* Unscored patients (NaN risks) are left out by the ranking itself (the
 * list's skip_nan, strata_stratify_patients' tiers), with no copy of the
 * scored rows: the tiers and the list are those of the scored rows ranked
 * alone (compacted, ranked, mapped back), in memory and under the budget on
 * 1 and 2 threads; the ranking's peak does not grow by a copy (~21 bytes a
 * row) of them. */
static void test_rank__unscored_left_out_same_tiers_and_lists(void **state)
{
    static double risk[RK_N], sr[RK_N];
    static int32_t grp[RK_N], imd[RK_N], sg[RK_N], si[RK_N];
    static size_t idx[RK_N], rows[RK_N], want_rows[RK_N];
    static uint32_t rank[RK_N], want_rank[RK_N];
    static uint8_t tier[RK_N], want_tier[RK_N], seg[RK_N], stier[RK_N];
    size_t m = 0, want_n = 0;
    uint64_t s = 0x2545F4914F6CDD1Dull;
    strata_list_params lp;
    strata_patient_params pp;
    (void)state;
    for (size_t i = 0; i < RK_N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        risk[i] = (s >> 60) % 7 == 0 ? NAN : (double)((s >> 12) % 5000) / 5000.0 + 1e-4;
        grp[i] = (int32_t)((s >> 5) % RK_G);
        imd[i] = (int32_t)(1 + (s >> 40) % 10);
    }
    strata_list_params_init(&lp);
    lp.per_1000 = 40.0;
    lp.prop_univ = 1;
    strata_patient_params_init(&pp);
    { /* the reference: the scored rows compacted and ranked alone */
        strata_ctx *ctx = tu_ctx();
        for (size_t i = 0; i < RK_N; i++)
            if (!isnan(risk[i]))
                idx[m] = i, sr[m] = risk[i], sg[m] = grp[i], si[m] = imd[i], m++;
        assert_true(m < RK_N - 1000 && m > RK_N / 2);
        assert_status(ctx, strata_tiers(ctx, &pp.tiers, m, sr, sg, RK_G, stier), STRATA_OK);
        memset(want_tier, 0, sizeof want_tier);
        for (size_t k = 0; k < m; k++)
            want_tier[idx[k]] = stier[k];
        assert_status(ctx, strata_intervention_select(ctx, &lp, m, sr, NULL, sg, RK_G, si, want_rows,
                                                      want_rank, &want_n),
                      STRATA_OK);
        for (size_t k = 0; k < want_n; k++)
            want_rows[k] = idx[want_rows[k]];
        assert_true(want_n > 1000);
        /* without skip_nan a NaN risk is still an error naming its row */
        assert_status(ctx, strata_intervention_select(ctx, &lp, RK_N, risk, NULL, grp, RK_G, imd,
                                                      rows, rank, &m),
                      STRATA_EDATA);
        assert_contains(strata_ctx_errmsg(ctx), "is not finite");
        strata_ctx_free(ctx);
    }
    lp.skip_nan = 1;
    for (int run = 0; run < 3; run++) {
        strata_ctx *ctx = tu_ctx();
        counter c = {0, 0, 0, 0};
        strata_patient_cols pc;
        size_t n_sel = 0;
        strata_ctx_set_alloc(ctx, counting_alloc, &c);
        strata_ctx_set_threads(ctx, run == 2 ? 2 : 1);
        strata_ctx_set_memory_budget(ctx, run ? 600u << 10 : 0);
        memset(&pc, 0, sizeof pc);
        pc.n = RK_N;
        pc.risk = risk;
        assert_status(ctx, strata_stratify_patients(ctx, &pp, &pc, grp, RK_G, tier, seg, NULL, NULL, NULL),
                      STRATA_OK);
        assert_memory_equal(tier, want_tier, sizeof tier);
        assert_status(ctx, strata_intervention_select(ctx, &lp, RK_N, risk, NULL, grp, RK_G, imd, rows,
                                                      rank, &n_sel),
                      STRATA_OK);
        assert_int_equal(n_sel, want_n);
        assert_memory_equal(rows, want_rows, want_n * sizeof *rows);
        assert_memory_equal(rank, want_rank, want_n * sizeof *rank);
        /* in memory: the sort's 32 bytes a scored row, no copies; under the budget below it */
        if (run == 0 ? c.peak > 32u * RK_N + (256u << 10) : c.peak >= 600u << 10)
            fail_msg("run %d: peak %zu", run, c.peak);
        strata_ctx_free(ctx);
    }
}

/* ---- the manifest hashes a file once ---------------------------------------- */

static const char *output_sha(json_t *root, size_t k)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(root, "outputs"), k), "sha256"));
}

static void test_manifest__same_file_hashed_once_changed_file_again(void **state)
{
    strata_ctx *ctx = tu_ctx();
    counter c = {0, 0, 0, 0};
    strata_manifest *m = NULL;
    json_t *root;
    json_error_t err;
    char dir[4096];
    const char *in = tu_tmp("hash/cohort.h5"), *out = tu_tmp("hash/manifest.json");
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_tmp("hash"));
    mkdir(dir, 0700);
    strata_ctx_set_alloc(ctx, counting_alloc, &c);
    tu_write_file(in, "abc");
    tu_write_file(tu_tmp("hash/other.csv"), "abc");
    assert_status(ctx, strata_manifest_new(ctx, &m), STRATA_OK);
    assert_status(ctx, strata_manifest_input(m, "cohort", in), STRATA_OK);
    assert_int_equal(c.n_mib, 1);
    assert_status(ctx, strata_manifest_output(m, "cohort.h5", "patient"), STRATA_OK);
    assert_status(ctx, strata_manifest_output(m, "other.csv", "aggregate"), STRATA_OK);
    assert_status(ctx, strata_manifest_hash_outputs(m, dir), STRATA_OK);
    assert_int_equal(c.n_mib, 2); /* other.csv only: cohort.h5's hash was known */
    /* a known hash of a file (the model's provenance hash) is used as is */
    tu_write_file(tu_tmp("hash/features.h5"), "abcd");
    strata_manifest_known_hash(m, tu_tmp("hash/features.h5"),
                               "0000000000000000000000000000000000000000000000000000000000000000");
    assert_status(ctx, strata_manifest_output(m, "features.h5", "patient"), STRATA_OK);
    /* the cohort changes (other bytes, size): hashed again, the new hash */
    tu_write_file(in, "abcdef");
    assert_status(ctx, strata_manifest_hash_outputs(m, dir), STRATA_OK);
    assert_int_equal(c.n_mib, 3); /* cohort.h5 again; other.csv and features.h5 known */
    assert_status(ctx, strata_manifest_write(m, out), STRATA_OK);
    strata_manifest_free(m);
    root = json_load_file(out, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(root, "inputs"), "cohort"), "sha256")),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(output_sha(root, 0),
                        "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721");
    assert_string_equal(output_sha(root, 1),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(output_sha(root, 2),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    json_decref(root);
    strata_ctx_free(ctx);
}

/* ---- strata run's aggregation under the budget ---------------------------- */

/* The hook's bytes at each stage's end, and the peak within each stage. */
typedef struct stage_mem {
    counter *c;
    size_t n;
    char name[16][32];
    size_t start[16], peak[16]; /* held when the stage began; its peak */
    size_t largest[16];         /* the stage's largest allocation */
} stage_mem;

static void stage_end(void *ud, const char *stage, double fraction)
{
    stage_mem *m = ud;
    (void)fraction;
    if (m->n < 16) {
        snprintf(m->name[m->n], sizeof m->name[0], "%.31s", stage);
        m->peak[m->n] = m->c->peak;
        m->largest[m->n] = m->c->largest;
        m->start[m->n + 1 < 16 ? m->n + 1 : 15] = m->c->now;
        m->n++;
    }
    m->c->peak = m->c->now; /* the next stage's peak from here */
    m->c->largest = 0;
}

static size_t stage_of(const stage_mem *m, const char *name, size_t *start)
{
    for (size_t k = 0; k < m->n; k++)
        if (!strcmp(m->name[k], name)) {
            *start = m->start[k];
            return m->peak[k];
        }
    fail_msg("no stage %s", name);
    return 0;
}

static void run_counted_spec(const char *dir, const char *body, const char *memory, int threads,
                             stage_mem *m);

/* One run of a 4,000-patient PCN through the library with the counting
 * hook: memory NULL = no budget. */
static void run_counted(const char *dir, const char *memory, int threads, stage_mem *m)
{
    run_counted_spec(dir,
                     "synth:\n  pcn: U79722\n  patients: 4000\n  seed: 8\nmodel:\n  family: binomial\n"
                     "  formula: \"emergency_admission_12m ~ age + sex + ltc_count + imd_decile\"\n"
                     "evaluate:\n  by: [sex, pcn]\n"
                     "stratify:\n  plus:\n    ethnic_minority: {column: ethnicity, levels: [Asian, Black]}\n",
                     memory, threads, m);
}

/* The same with the spec's body given (threads and memory appended). */
static void run_counted_spec(const char *dir, const char *body, const char *memory, int threads,
                             stage_mem *m)
{
    strata_ctx *ctx = tu_ctx();
    counter c = {0, 0, 0, 0};
    strata_run_spec spec;
    strata_run_summary sum;
    char path[4096], text[1024], out[4096];
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    snprintf(text, sizeof text, "%sthreads: %d\n%s%s\n", body, threads, memory ? "memory: " : "",
             memory ? memory : "");
    tu_write_file(path, text);
    strata_ctx_set_alloc(ctx, counting_alloc, &c);
    strata_run_spec_init(&spec);
    assert_status(ctx, strata_run_spec_load(ctx, path, &spec), STRATA_OK);
    memset(m, 0, sizeof *m);
    m->c = &c;
    snprintf(out, sizeof out, "%s/out", dir);
    assert_status(ctx, strata_run(ctx, &spec, out, stage_end, m, &sum), STRATA_OK);
    m->c = NULL;
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

/* Every output's SHA-256 in the two runs' manifests is the same, but the
 * model's (it records its run folder). */
static void assert_same_outputs(const char *a, const char *b)
{
    char pa[4096], pb[4096];
    json_error_t err;
    json_t *ma, *mb, *oa, *ob;
    snprintf(pa, sizeof pa, "%s/out/manifest.json", a);
    snprintf(pb, sizeof pb, "%s/out/manifest.json", b);
    ma = json_load_file(pa, 0, &err);
    mb = json_load_file(pb, 0, &err);
    assert_non_null(ma);
    assert_non_null(mb);
    oa = json_object_get(ma, "outputs"), ob = json_object_get(mb, "outputs");
    assert_int_equal(json_array_size(oa), json_array_size(ob));
    assert_true(json_array_size(oa) >= 14);
    for (size_t k = 0; k < json_array_size(oa); k++) {
        const char *path = json_string_value(json_object_get(json_array_get(oa, k), "path"));
        assert_string_equal(path, json_string_value(json_object_get(json_array_get(ob, k), "path")));
        if (!strcmp(path, "model.h5"))
            continue;
        if (strcmp(output_sha(ma, k), output_sha(mb, k)))
            fail_msg("%s differs between %s and %s", path, a, b);
    }
    json_decref(ma);
    json_decref(mb);
}

/* Aggregation under `memory: 256K` (4,000 patients: its whole columns,
 * 55 bytes a patient, pass half the budget): the risk, outcome and
 * stratification's outputs go to the scratch file and every column is read
 * in blocks (4 of 1,191 rows), so the run holds none of them when
 * aggregation starts, and all it allocates (the blocks, the sums, the SII simulation's 160 kB workspace,
 * disclosure) stays under the budget. Every output is the same bytes
 * (1 thread under the budget, 2 without). */
static void test_run__aggregation_under_the_budget(void **state)
{
    const char *a = tu_tmp("agg_none"), *b = tu_tmp("agg_256K");
    const size_t n = 4000;
    stage_mem ma, mb;
    size_t sa = 0, sb = 0, pa, pb;
    (void)state;
    run_counted(a, NULL, 2, &ma);
    run_counted(b, "256K", 1, &mb);
    assert_same_outputs(a, b);
    pa = stage_of(&ma, "aggregate", &sa);
    pb = stage_of(&mb, "aggregate", &sb);
    print_message("aggregate: none %zu (held at start %zu), 256K %zu (held %zu)\n", pa, sa, pb, sb);
    assert_true(sa >= sb + 22 * n);   /* risk, outcome, outputs (23 bytes a patient) not held */
    assert_true(pb - sb < 256u << 10); /* all the stage allocates: under the budget */
    (void)pa;
}

/* Lines of a file (0 when absent). */
static size_t file_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int ch;
    if (!f)
        return 0;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* The run under `memory: 256K` from the outcome's read on (2,500 patients
 * of an ICB of 11 PCNs; a coarse model — sex, ethnicity, IMD decile — so
 * risks tie in large blocks, and patients without an ethnicity are
 * unscored), percentile tiers within each PCN and overall: the outcome and
 * the risk go to the scratch file (the outcome block by block as read, the
 * risk at the end of scoring), evaluation reads them back in blocks,
 * stratification ranks in blocks (the PCN codes pushed with the records)
 * and writes the tiers and its outputs by block. Every output is the same
 * bytes as without a budget (2 threads against 1); evaluation and
 * stratification start and end holding at least 16 bytes a patient less
 * (the outcome and risk; at stratification's end the 23 of its outputs
 * too), allocate under the budget and hold under it at their ends. */
static void test_run__outcome_risk_and_tiers_in_blocks_under_the_budget(void **state)
{
    static const char *const within[2] = {"pcn", "all"};
    const size_t n = 2500;
    (void)state;
    for (int k = 0; k < 2; k++) {
        char body[1024], a[256], b[256], path[4096];
        stage_mem ma, mb;
        size_t sa = 0, sb = 0, pa, pb, ea = 0, eb = 0;
        snprintf(a, sizeof a, "%s", tu_tmp(k ? "tiers_all_none" : "tiers_pcn_none"));
        snprintf(b, sizeof b, "%s", tu_tmp(k ? "tiers_all_256K" : "tiers_pcn_256K"));
        snprintf(body, sizeof body,
                 "synth:\n  icb: QOC\n  patients: 2500\n  seed: 5\nmodel:\n  family: binomial\n"
                 "  formula: \"emergency_admission_12m ~ sex + ethnicity + imd_decile\"\n"
                 "evaluate:\n  by: [sex, pcn]\nstratify:\n  tiers_within: %s\n",
                 within[k]);
        run_counted_spec(a, body, NULL, 2, &ma);
        run_counted_spec(b, body, "256K", 1, &mb);
        assert_same_outputs(a, b);
        snprintf(path, sizeof path, "%s/out/unscored.csv", b);
        assert_true(file_lines(path) > 20); /* unscored patients: tier 0, no place in the ranking */
        for (int st = 0; st < 2; st++) {
            const char *stage = st ? "stratify" : "evaluate";
            pa = stage_of(&ma, stage, &sa);
            pb = stage_of(&mb, stage, &sb);
            stage_of(&ma, st ? "aggregate" : "stratify", &ea); /* held at the stage's end */
            stage_of(&mb, st ? "aggregate" : "stratify", &eb);
            print_message("%s within %s: none start %zu peak %zu end %zu; 256K start %zu peak %zu end %zu\n",
                          stage, within[k], sa, pa, ea, sb, pb, eb);
            assert_true(sa + 1024 >= sb + 16 * n); /* the outcome and risk not held */
            assert_true(pb - sb < 256u << 10); /* all the stage allocates: under the budget */
            assert_true(ea + 1024 >= eb + 16 * n); /* nor at its end */
            assert_true(eb < 256u << 10);      /* all held then: under the budget */
        }
    }
}

/* A sink that checks the chunks: in row order from row 0, each of fewer than
 * n rows, the risks those of strata_score's whole arrays; fails with
 * STRATA_EIO at chunk fail_at (0: never). */
typedef struct chunk_check {
    const double *want;
    size_t next, chunks, most, fail_at;
} chunk_check;

static strata_status check_chunk(strata_ctx *ctx, void *ud, size_t r0, size_t k, const double *lp,
                                 const double *resp)
{
    chunk_check *c = ud;
    (void)ctx, (void)lp;
    assert_int_equal(r0, c->next);
    assert_memory_equal(resp, c->want + r0, k * sizeof *resp);
    c->next += k;
    c->most = k > c->most ? k : c->most;
    return ++c->chunks == c->fail_at ? STRATA_EIO : STRATA_OK;
}

/* strata run under `memory: 1M` scores into the scratch file as the chunks
 * come (strata_score_sink / strata_cox_score_sink), never into an array of
 * the n risks, with every output the bytes of the run without a budget (a
 * GLM with unscored patients, a Cox model; 12,000 patients, 1 thread against
 * 2). The sinks' contract on the runs' own model and cohort under the same
 * budget: chunks in row order, each under n rows (whole blocks: 8,192 rows a
 * GLM's, 1,024 a Cox model's),
 * strata_score's bits, and a sink's failure returned as it is. */
static void test_run__scores_to_the_file_as_they_come(void **state)
{
    static const char *const model[2] = {
        "  family: binomial\n  formula: \"emergency_admission_12m ~ age + sex + ethnicity + imd_decile\"\n",
        "  family: cox\n  formula: \"Surv(time_to_emergency_days, emergency_event) ~ age + sex + imd_decile\"\n"
        "  horizon: 365\n"};
    const size_t n = 12000;
    double h = 365;
    (void)state;
    for (int k = 0; k < 2; k++) {
        char body[1024], a[256], b[256], path[4096];
        stage_mem ma, mb;
        strata_ctx *ctx;
        strata_cohort *co = NULL;
        strata_model *m = NULL;
        strata_cox *cx = NULL;
        double *want = calloc(n, sizeof *want);
        chunk_check cc = {want, 0, 0, 0, 0};
        snprintf(a, sizeof a, "%s", tu_tmp(k ? "score_cox_none" : "score_glm_none"));
        snprintf(b, sizeof b, "%s", tu_tmp(k ? "score_cox_1M" : "score_glm_1M"));
        snprintf(body, sizeof body, "synth:\n  icb: QOC\n  patients: 12000\n  seed: 6\nmodel:\n%s", model[k]);
        run_counted_spec(a, body, NULL, 2, &ma);
        run_counted_spec(b, body, "1M", 1, &mb);
        assert_same_outputs(a, b);
        snprintf(path, sizeof path, "%s/out/unscored.csv", b);
        assert_true(k || file_lines(path) > 20); /* the GLM leaves patients without an ethnicity unscored */

        ctx = tu_ctx();
        snprintf(path, sizeof path, "%s/out/cohort.h5", b);
        assert_status(ctx, strata_cohort_open(ctx, path, &co), STRATA_OK);
        assert_int_equal(strata_cohort_nrows(co), n);
        snprintf(path, sizeof path, "%s/out/model.h5", b);
        if (k) {
            assert_status(ctx, strata_cox_load(ctx, path, &cx), STRATA_OK);
            assert_status(ctx, strata_cox_score(ctx, cx, co, STRATA_UNSEEN_TO_REFERENCE, &h, 1, NULL, want),
                          STRATA_OK);
        } else {
            assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
            assert_status(ctx, strata_score(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, NULL, want), STRATA_OK);
        }
        strata_ctx_set_memory_budget(ctx, 1u << 20);
        for (int fail = 0; fail < 2; fail++) {
            strata_status st;
            cc = (chunk_check){want, 0, 0, 0, fail ? 2 : 0};
            st = k ? strata_cox_score_sink(ctx, cx, co, STRATA_UNSEEN_TO_REFERENCE, &h, 1, check_chunk, &cc)
                   : strata_score_sink(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, check_chunk, &cc);
            assert_int_equal(st, fail ? STRATA_EIO : STRATA_OK);
            assert_int_equal(cc.chunks, fail ? 2 : (n + cc.most - 1) / cc.most);
            if (!fail) {
                print_message("score sink (%s): %zu chunks of up to %zu rows\n", k ? "cox" : "glm", cc.chunks,
                              cc.most);
                assert_int_equal(cc.next, n);
                assert_true(cc.chunks >= 2 && cc.most < n && cc.most % 1024 == 0);
            }
        }
        strata_cox_free(ctx, cx);
        strata_model_free(ctx, m);
        strata_cohort_close(co);
        strata_ctx_free(ctx);
        free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluate__budget_batches_give_the_same_bytes),
        cmocka_unit_test(test_evaluate__streamed_errors_name_the_row),
        cmocka_unit_test(test_rank__budget_gives_the_same_tiers_and_lists),
        cmocka_unit_test(test_rank__unscored_left_out_same_tiers_and_lists),
        cmocka_unit_test(test_manifest__same_file_hashed_once_changed_file_again),
        cmocka_unit_test(test_run__aggregation_under_the_budget),
        cmocka_unit_test(test_run__outcome_risk_and_tiers_in_blocks_under_the_budget),
        cmocka_unit_test(test_run__scores_to_the_file_as_they_come),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
