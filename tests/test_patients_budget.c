/* labels: unit determinism */
/* tests/test_patients_budget.c — strata run's patient files under the budget
 * rule (docs/scale.md, "The run's memory by stage"): patients.csv is written
 * block by block, the intervention list is chosen from row blocks (a heap per
 * PCN of at most its capacity; with proportionate universalism the need sums
 * from the ranking through the external sort) and gathered for its rows only,
 * so the stage allocates no block of n × 4 bytes and stays under the budget,
 * while every output is the bytes of the run without a budget (1 thread
 * against 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "strata/cohort.h"
#include "strata/model.h"
#include "strata/run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PAT 10000
#define MAX_PCN 64

/* Bytes held, their peak and the largest block, through the context's hook;
 * with record set, the sizes allocated go to skip[] (the model's design
 * workspace: blocks of its own fixed 8,192 rows, not counted in largest). */
typedef struct held {
    size_t now, peak, largest;
    int record;
    size_t n_skip, skip[16];
} held;

static int skipped(const held *h, size_t size)
{
    for (size_t k = 0; k < h->n_skip; k++)
        if (h->skip[k] == size)
            return 1;
    return 0;
}

static void *held_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    held *h = ud;
    size_t *hdr = ptr ? (size_t *)ptr - 1 : NULL, had = hdr ? *hdr : 0;
    (void)old_size;
    if (new_size == 0) {
        h->now -= had;
        free(hdr);
        return NULL;
    }
    if (!(hdr = realloc(hdr, new_size + sizeof *hdr)))
        return NULL;
    h->now += new_size - had;
    h->peak = h->now > h->peak ? h->now : h->peak;
    if (h->record && !skipped(h, new_size) && h->n_skip < 16)
        h->skip[h->n_skip++] = new_size;
    if (!skipped(h, new_size))
        h->largest = new_size > h->largest ? new_size : h->largest;
    *hdr = new_size;
    return hdr + 1;
}

/* The patient files' stage: held when it began, its peak and largest block. */
typedef struct stage_watch {
    held *h;
    size_t design_ws; /* the model's design workspace (fixed, not of n) */
    size_t start, peak, largest;
    int seen;
} stage_watch;

static void on_stage(void *ud, const char *stage, double fraction)
{
    stage_watch *w = ud;
    (void)fraction;
    if (!strcmp(stage, "patients")) {
        w->peak = w->h->peak, w->largest = w->h->largest, w->seen = 1;
    } else if (!strcmp(stage, "aggregate")) { /* the stage before */
        w->start = w->h->now;
    }
    w->h->peak = w->h->now;
    w->h->largest = 0;
}

/* The cohort every run reads: 10,000 patients of an ICB (QOC: several PCNs),
 * synthesised once. */
static const char *cohort_file(void)
{
    static char path[4096];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_tmp("cohort.h5"));
        assert_int_equal(tu_run_cli(NULL, "synth --icb QOC --patients %d --seed 11 --quiet --out '%s'",
                                    N_PAT, path),
                         0);
    }
    return path;
}

/* The model's design of a row of the run's cohort (the reasons' call): the
 * blocks it allocates go to h->skip, and *ws is all it allocates at once. */
static void design_workspace(const char *out, held *h, size_t *ws)
{
    strata_ctx *ctx = tu_ctx();
    strata_model *m = NULL;
    strata_cohort *co = NULL;
    char path[8192];
    double *X;
    strata_ctx_set_alloc(ctx, held_alloc, h);
    snprintf(path, sizeof path, "%s/model.h5", out);
    assert_status(ctx, strata_model_load(ctx, path, &m), STRATA_OK);
    snprintf(path, sizeof path, "%s", cohort_file());
    assert_status(ctx, strata_cohort_open(ctx, path, &co), STRATA_OK);
    X = calloc(strata_model_nterms(m), sizeof *X);
    assert_non_null(X);
    h->record = 1;
    h->peak = h->now;
    assert_status(ctx, strata_model_design(ctx, m, co, STRATA_UNSEEN_TO_REFERENCE, 0, 1, X), STRATA_OK);
    h->record = 0;
    *ws = h->peak - h->now;
    free(X);
    strata_cohort_close(co);
    strata_model_free(ctx, m);
    strata_ctx_free(ctx);
    h->now = h->peak = 0;
}

/* One run of the spec (memory NULL: no budget); ref: the run without a
 * budget, whose model's design workspace is measured first. */
static void run_spec(const char *dir, const char *stratify, const char *memory, int threads,
                     const char *ref, stage_watch *w)
{
    strata_ctx *ctx = tu_ctx();
    held h;
    strata_run_spec spec;
    strata_run_summary sum;
    char path[4096], text[8192], out[4096];
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    snprintf(text, sizeof text,
             "cohort: %s\nmodel:\n  family: binomial\n"
             "  formula: \"emergency_admission_12m ~ sex + ethnicity + imd_decile\"\n"
             "stratify:\n  tiers_within: pcn\n%sthreads: %d\n%s%s\n",
             cohort_file(), stratify, threads, memory ? "memory: " : "", memory ? memory : "");
    tu_write_file(path, text);
    memset(&h, 0, sizeof h);
    memset(w, 0, sizeof *w);
    snprintf(out, sizeof out, "%s/out", dir);
    if (ref) { /* the same model and cohort as this run's (the same bytes) */
        char rout[4096 + 8];
        snprintf(rout, sizeof rout, "%s/out", ref);
        design_workspace(rout, &h, &w->design_ws);
    }
    strata_ctx_set_alloc(ctx, held_alloc, &h);
    strata_run_spec_init(&spec);
    assert_status(ctx, strata_run_spec_load(ctx, path, &spec), STRATA_OK);
    w->h = &h;
    assert_status(ctx, strata_run(ctx, &spec, out, on_stage, w, &sum), STRATA_OK);
    assert_true(w->seen);
    assert_int_equal(sum.n_patients, N_PAT);
    w->h = NULL;
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

/* Every output's SHA-256 in the manifests the same (model.h5 records its
 * folder), the patient files among them. */
static void assert_same_outputs(const char *a, const char *b)
{
    static const char *const must[] = {"patients.csv", "intervention_list.csv", "patient_lists.xlsx",
                                       "unscored.csv"};
    char pa[4096], pb[4096];
    json_error_t err;
    json_t *ma, *mb, *oa, *ob;
    size_t found = 0;
    snprintf(pa, sizeof pa, "%s/out/manifest.json", a);
    snprintf(pb, sizeof pb, "%s/out/manifest.json", b);
    ma = json_load_file(pa, 0, &err), mb = json_load_file(pb, 0, &err);
    assert_non_null(ma);
    assert_non_null(mb);
    oa = json_object_get(ma, "outputs"), ob = json_object_get(mb, "outputs");
    assert_int_equal(json_array_size(oa), json_array_size(ob));
    for (size_t k = 0; k < json_array_size(oa); k++) {
        json_t *ea = json_array_get(oa, k), *eb = json_array_get(ob, k);
        const char *path = json_string_value(json_object_get(ea, "path"));
        assert_string_equal(path, json_string_value(json_object_get(eb, "path")));
        for (size_t q = 0; q < sizeof must / sizeof must[0]; q++)
            found += !strcmp(path, must[q]);
        if (!strcmp(path, "model.h5"))
            continue;
        if (strcmp(json_string_value(json_object_get(ea, "sha256")),
                   json_string_value(json_object_get(eb, "sha256"))))
            fail_msg("%s differs between %s and %s", path, a, b);
    }
    assert_int_equal(found, sizeof must / sizeof must[0]);
    json_decref(ma);
    json_decref(mb);
}

/* Per PCN (by name, in first-seen order): the scored patients in patients.csv
 * and, in intervention_list.csv, the rows, their deprived (core20) rows and
 * whether the ranks run 1, 2, ... in each. */
typedef struct pcn_counts {
    char name[MAX_PCN][96];
    size_t n, scored[MAX_PCN], deprived[MAX_PCN], listed[MAX_PCN], listed_dep[MAX_PCN];
    int ranks_ok;
    size_t unscored;
} pcn_counts;

static size_t pcn_of(pcn_counts *c, const char *name)
{
    for (size_t k = 0; k < c->n; k++)
        if (!strcmp(c->name[k], name))
            return k;
    assert_true(c->n < MAX_PCN);
    snprintf(c->name[c->n], sizeof c->name[0], "%s", name);
    return c->n++;
}

static int col_of(char **f, size_t nf, const char *name)
{
    for (size_t k = 0; k < nf; k++)
        if (!strcmp(f[k], name))
            return (int)k;
    fail_msg("no column %s", name);
    return -1;
}

/* Calls row(c, fields) for each data line of a CSV file after the header. */
static void read_csv(const char *path, pcn_counts *c, int list)
{
    char *text = tu_read_file(path, NULL), *line, *save = NULL;
    char *f[32];
    int jp = -1, jr = -1, jc = -1, jk = -1;
    size_t last = SIZE_MAX, nf;
    uint32_t want = 0;
    assert_non_null(text);
    line = strtok_r(text, "\r\n", &save);
    nf = tu_csv_split(line, f, 32);
    jp = col_of(f, nf, "pcn"), jr = col_of(f, nf, "risk"), jc = col_of(f, nf, "core20");
    if (list)
        jk = col_of(f, nf, "rank");
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        size_t g;
        nf = tu_csv_split(line, f, 32);
        assert_true(nf > (size_t)jc);
        g = pcn_of(c, f[jp]);
        if (!list) {
            int scored = f[jr][0] != '\0';
            c->scored[g] += (size_t)scored;
            c->deprived[g] += (size_t)(scored && !strcmp(f[jc], "1"));
            c->unscored += (size_t)!scored;
            continue;
        }
        assert_true(f[jr][0] != '\0'); /* an unscored patient is never listed */
        want = g == last ? want + 1 : 1;
        c->ranks_ok &= (uint32_t)strtoul(f[jk], NULL, 10) == want;
        last = g;
        c->listed[g]++;
        c->listed_dep[g] += (size_t)!strcmp(f[jc], "1");
    }
    free(text);
}

static void count_lists(const char *dir, pcn_counts *c)
{
    char path[4096];
    memset(c, 0, sizeof *c);
    c->ranks_ok = 1;
    snprintf(path, sizeof path, "%s/out/patients.csv", dir);
    read_csv(path, c, 0);
    snprintf(path, sizeof path, "%s/out/intervention_list.csv", dir);
    read_csv(path, c, 1);
}

/* The stage under the budget: no block of n x 4 bytes (an array of n int32
 * or more) but the model's design workspace (strata_model_design's blocks of
 * its fixed 8,192 rows, models/glm: the reasons' design), and all it
 * allocates over what it started with under the budget plus that workspace. */
static void assert_bounded(const stage_watch *none, const stage_watch *w, const char *what)
{
    print_message("patients (%s): none start %zu peak %zu largest %zu; 256K start %zu peak %zu "
                  "(+%zu; design workspace %zu) largest other block %zu\n",
                  what, none->start, none->peak, none->largest, w->start, w->peak,
                  w->peak - w->start, w->design_ws, w->largest);
    assert_true(w->design_ws > 0);
    assert_true(w->largest < 4u * N_PAT);
    assert_true(w->peak - w->start < (256u << 10) + w->design_ws);
    assert_true(none->largest >= 8u * N_PAT); /* without a budget: whole columns (the risk) */
}

/* Capacity 8 a PCN, no proportionate universalism: each PCN lists its 8
 * highest risks (ties by row), or all its scored patients when fewer. */
static void test_patients__capacity_per_pcn_same_bytes_in_blocks(void **state)
{
    const char *a = tu_tmp("cap_none"), *b = tu_tmp("cap_256K");
    const char *strat = "  capacity: 8\n  proportionate_universalism: false\n";
    stage_watch wa, wb;
    pcn_counts c;
    size_t total = 0;
    (void)state;
    run_spec(a, strat, NULL, 2, NULL, &wa);
    run_spec(b, strat, "256K", 1, a, &wb);
    assert_same_outputs(a, b);
    count_lists(b, &c);
    assert_true(c.n >= 5);
    assert_true(c.unscored > 50); /* missing ethnicity: unscored, on no list */
    assert_true(c.ranks_ok);
    for (size_t g = 0; g < c.n; g++) {
        assert_int_equal(c.listed[g], c.scored[g] < 8 ? c.scored[g] : 8);
        total += c.listed[g];
    }
    assert_true(total >= 8 * 5);
    assert_bounded(&wa, &wb, "capacity 8");
}

/* 5 per 1,000 scored with proportionate universalism (the defaults): each
 * PCN's list holds its capacity (round half up), more only when its deprived
 * minimum passes it, and at least one deprived patient where it has any. */
static void test_patients__per_1000_proportionate_same_bytes_in_blocks(void **state)
{
    const char *a = tu_tmp("pu_none"), *b = tu_tmp("pu_256K");
    const char *strat = "  capacity_per_1000: 5\n  proportionate_universalism: true\n";
    stage_watch wa, wb;
    pcn_counts c;
    size_t dep = 0;
    (void)state;
    run_spec(a, strat, NULL, 2, NULL, &wa);
    run_spec(b, strat, "256K", 1, a, &wb);
    assert_same_outputs(a, b);
    count_lists(b, &c);
    assert_true(c.n >= 5);
    assert_true(c.ranks_ok);
    for (size_t g = 0; g < c.n; g++) {
        size_t cap = (size_t)((double)c.scored[g] * 5.0 / 1000.0 + 0.5);
        assert_true(c.listed[g] >= cap);
        /* past its capacity only by its deprived minimum: then all deprived */
        assert_true(c.listed[g] == cap || c.listed_dep[g] == c.listed[g]);
        if (c.deprived[g] > 0 && cap > 0)
            assert_true(c.listed_dep[g] > 0);
        dep += c.listed_dep[g];
    }
    assert_true(dep > 0);
    assert_bounded(&wa, &wb, "per_1000 5, proportionate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patients__capacity_per_pcn_same_bytes_in_blocks),
        cmocka_unit_test(test_patients__per_1000_proportionate_same_bytes_in_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
