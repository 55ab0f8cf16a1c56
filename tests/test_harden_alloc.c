/* labels: unit harden fault */
/* tests/test_harden_alloc.c — issue 17: the allocation-failure sweep over a
 * whole `strata run` (library API, tiny cohort): the run is done once to
 * count the allocations that go through the context's allocator, then again
 * failing the k-th for every k (or every STRATA_ALLOC_STRIDE-th, see below).
 * Each must end in STRATA_ENOMEM with a message on the caller's context,
 * leave the output folder empty (nothing under a final name, no staging
 * folder) and leak nothing (LeakSanitizer in the debug-asan preset checks the
 * whole process at exit). Allocations made inside HDF5, libcsv, libyaml,
 * jansson and OpenBLAS do not go through the hook and are not swept. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sweep's per-run checks are done in-process, not through /bin/sh (each
 * `rm -rf`, `ls -A` or `ls -d` was a shell and a program started ~600 times):
 * the same checks, without the processes. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* `rm -rf path`. */
static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* `test -z "$(ls -A dir 2>/dev/null)"`: 1 when dir is absent or empty. */
static int dir_absent_or_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    if (!d)
        return 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

/* `if [ -d out ]; then ls -A out; else ls -d out out.tmp.*; fi | grep .`:
 * 1 when a folder `out` holds anything, or (not a folder) `out` or a
 * temporary `out.tmp.*` beside it exists. */
static int output_left(const char *out)
{
    struct stat st;
    char parent[4400];
    const char *base = strrchr(out, '/');
    size_t nb;
    DIR *d;
    struct dirent *e;
    int left = 0;
    if (stat(out, &st) == 0)
        return S_ISDIR(st.st_mode) ? !dir_absent_or_empty(out) : 1;
    base = base ? base + 1 : out;
    nb = strlen(base);
    snprintf(parent, sizeof parent, "%.*s", base > out ? (int)(base - out - 1) : 1,
             base > out ? out : ".");
    if (!(d = opendir(parent)))
        return 0;
    while (!left && (e = readdir(d)) != NULL)
        left = !strncmp(e->d_name, base, nb) && !strncmp(e->d_name + nb, ".tmp.", 5);
    closedir(d);
    return left;
}

static void test_alloc__every_failed_allocation_of_a_run_is_a_clean_enomem(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_run_spec spec;
    strata_run_summary sum;
    char *out = NULL, spec_path[4200], dir[4200];
    long total, stride, swept = 0, ok_after = 0;
    long first;
    (void)state;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", tu_tmp("job"), tu_tmp("job"));
    assert_int_equal(tu_run_cli(&out, "synth --patients 400 --seed 3 --out '%s/c.h5' --quiet",
                                tu_tmp("job")),
                     0);
    free(out);
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", tu_tmp("job"));
    tu_write_file(spec_path, "cohort: c.h5\n"
                             "model:\n  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"
                             "evaluate:\n  by: [sex]\nthreads: 1\n");
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("job"));
    assert_status(ctx, strata_run_spec_load(ctx, spec_path, &spec), STRATA_OK);
    spec.overwrite = 1;

    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, strata_run(ctx, &spec, dir, NULL, NULL, &sum), STRATA_OK);
    total = tu_fault_count();
    /* Stride: a run takes ~0.15 s of CPU under ASan, ~7,700 allocations, so
     * failing every one takes ~20 min (more on a loaded machine): by default
     * every (total / 250)-th is failed, starting at STRATA_ALLOC_OFFSET
     * (default 1), ~250 runs. STRATA_ALLOC_STRIDE=1 sweeps them all
     * (docs/reliability.md#allocation-sweep records the last full sweep). */
    tu_sweep_plan(total, 250, &first, &stride);
    print_message("allocation sweep: %ld allocations in one run, every %ld-th failed from %ld\n",
                  total, stride, first);
    assert_true(total > 100);
    tu_run_sh(NULL, "rm -rf '%s'", dir);
    spec.overwrite = 0;
    for (long k = first; k <= total; k += stride) {
        strata_status st;
        tu_fault_arm(k);
        st = strata_run(ctx, &spec, dir, NULL, NULL, &sum);
        tu_fault_arm(-1);
        if (st != STRATA_ENOMEM) {
            print_error("allocation %ld of %ld failed: status %s, message: %s\n", k, total,
                        strata_status_str(st), strata_ctx_errmsg(ctx));
            fail();
        }
        if (!strstr(strata_ctx_errmsg(ctx), "out of memory") &&
            !strstr(strata_ctx_errmsg(ctx), "overflows")) {
            print_error("allocation %ld: ENOMEM without its message: %s\n", k,
                        strata_ctx_errmsg(ctx));
            fail();
        }
        if (!dir_absent_or_empty(dir)) {
            tu_run_sh(&out, "ls -lA '%s'", dir);
            print_error("allocation %ld: the failed run left files:\n%s\n", k, out);
            fail();
        }
        if (++swept % 500 == 0)
            print_message("allocation sweep: k = %ld of %ld, %ld failing runs clean so far\n", k,
                          total, swept);
    }
    /* and the run still succeeds afterwards, into the same folder */
    assert_status(ctx, strata_run(ctx, &spec, dir, NULL, NULL, &sum), STRATA_OK);
    ok_after = 1;
    print_message("allocation sweep: %ld failing runs, all STRATA_ENOMEM, folder empty\n", swept);
    assert_true(ok_after);
    strata_run_spec_free(ctx, &spec);
    strata_ctx_free(ctx);
}

/* ---- the stages that arrived after the run sweep: Cox run, elastic-net fit,
 * event import, derive. Each is one library call that writes one output
 * file; failing allocation k must give ENOMEM with its message and leave no
 * file under the output's name and no temporary beside it. */

typedef strata_status (*job_fn)(strata_ctx *ctx, const char *out);

static char job_dir[4200];

static strata_status job_cox_run(strata_ctx *ctx, const char *out)
{
    strata_run_spec spec;
    strata_run_summary sum;
    char path[4400];
    strata_status st;
    snprintf(path, sizeof path, "%s/cox.yaml", job_dir);
    if ((st = strata_run_spec_load(ctx, path, &spec)) != STRATA_OK)
        return st;
    st = strata_run(ctx, &spec, out, NULL, NULL, &sum);
    strata_run_spec_free(ctx, &spec);
    return st;
}

static strata_status job_elnet(strata_ctx *ctx, const char *out)
{
    strata_cohort *c = NULL;
    strata_glm_params gp;
    strata_elnet_params ep;
    strata_model *m = NULL;
    strata_elnet *e = NULL;
    char path[4400];
    strata_status st;
    snprintf(path, sizeof path, "%s/c.h5", job_dir);
    strata_glm_params_init(&gp);
    gp.formula = "emergency_admission_12m ~ age + sex + ltc_count + imd_decile";
    strata_elnet_params_init(&ep);
    ep.alpha = 0.5;
    ep.nlambda = 12;
    ep.cv_folds = 3;
    if ((st = strata_cohort_open(ctx, path, &c)) != STRATA_OK)
        return st;
    st = strata_elnet_fit(ctx, c, &gp, &ep, &m, &e);
    if (st == STRATA_OK)
        st = strata_elnet_save(ctx, m, e, out);
    strata_model_free(ctx, m);
    strata_elnet_free(ctx, e);
    strata_cohort_close(c);
    return st;
}

static strata_status job_events(strata_ctx *ctx, const char *out)
{
    static const char *const codes[] = {"code"};
    static const char *const values[] = {"value"};
    strata_events_import_params p;
    char csv[4400], cohort[4400];
    snprintf(csv, sizeof csv, "%s/gp.csv", job_dir);
    snprintf(cohort, sizeof cohort, "%s/ids.h5", job_dir);
    strata_events_import_params_init(&p);
    p.table = "gp";
    p.id_col = "id";
    p.date_col = "date";
    p.code_cols = codes;
    p.n_code_cols = 1;
    p.value_cols = values;
    p.n_value_cols = 1;
    p.run_rows = 7; /* sorted runs spilled to the scratch file and merged */
    return strata_events_import(ctx, csv, cohort, out, &p, NULL);
}

static strata_status job_derive(strata_ctx *ctx, const char *out)
{
    char cohort[4400];
    snprintf(cohort, sizeof cohort, "%s/c.h5", job_dir);
    return strata_derive(ctx, cohort, tu_src("data/specs/derive_default.yaml"), out, NULL);
}

/* Runs job once counting allocations, then fails every stride-th of them. */
static void sweep(const char *name, job_fn job, const char *out, long runs)
{
    strata_ctx *ctx = tu_ctx();
    long total, stride, first, swept = 0;
    char *ls = NULL;
    tu_run_sh(NULL, "rm -rf '%s'", out);
    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, job(ctx, out), STRATA_OK);
    total = tu_fault_count();
    tu_sweep_plan(total, runs, &first, &stride);
    print_message("allocation sweep %s: %ld allocations, every %ld-th failed from %ld\n", name,
                  total, stride, first);
    assert_true(total > 20);
    for (long k = first; k <= total; k += stride) {
        strata_status st;
        rm_rf(out);
        tu_fault_arm(k);
        st = job(ctx, out);
        tu_fault_arm(-1);
        if (st != STRATA_ENOMEM || (!strstr(strata_ctx_errmsg(ctx), "out of memory") &&
                                    !strstr(strata_ctx_errmsg(ctx), "overflows")))
            fail_msg("%s: allocation %ld of %ld failed: status %s, message: %s", name, k, total,
                     strata_status_str(st), strata_ctx_errmsg(ctx));
        /* a run's folder may stay, empty; a single file output must be absent */
        if (output_left(out)) {
            tu_run_sh(&ls, "ls -dlA '%s' '%s'/* '%s'.tmp.*", out, out, out);
            fail_msg("%s: allocation %ld: the failed call left %s", name, k, ls);
        }
        swept++;
    }
    tu_run_sh(NULL, "rm -rf '%s'", out);
    assert_status(ctx, job(ctx, out), STRATA_OK);
    print_message("allocation sweep %s: %ld failing calls, all STRATA_ENOMEM, no output\n", name,
                  swept);
    strata_ctx_free(ctx);
}

static void test_alloc__cox_elnet_events_derive_fail_cleanly(void **state)
{
    char *out = NULL, path[4400], ids[4400];
    (void)state;
    snprintf(job_dir, sizeof job_dir, "%s", tu_tmp("job2"));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", job_dir, job_dir);
    assert_int_equal(tu_run_cli(&out, "synth --patients 400 --seed 5 --out '%s/c.h5' --quiet", job_dir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/cox.yaml", job_dir);
    tu_write_file(path, "cohort: c.h5\nmodel:\n  family: cox\n  horizon: 365\n  formula: \"Surv("
                        "time_to_emergency_days, emergency_event) ~ age + sex + strata(imd_decile)\"\n"
                        "evaluate:\n  by: [sex]\nthreads: 1\n");
    snprintf(path, sizeof path, "%s/ids.csv", job_dir);
    tu_write_file(path, "id,birth\nA,1950-01-01\nB,1960-02-02\nC,1970-03-03\nD,1980-04-04\n");
    snprintf(ids, sizeof ids, "%s/ids.h5", job_dir);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --role patient_id=id "
                                      "--role birth_date=birth --quiet", path, ids), 0);
    free(out);
    snprintf(path, sizeof path, "%s/gp.csv", job_dir);
    {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "id,date,code,value\n");
        for (int i = 0; i < 60; i++)
            fprintf(f, "%c,20%02d-%02d-%02d,C%d,%d.5\n", "DCBA"[i % 4], 10 + i % 13, 1 + i % 12,
                    1 + i % 28, i % 9, i);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/run_cox", job_dir);
    sweep("run (cox)", job_cox_run, path, 80);
    snprintf(path, sizeof path, "%s/elnet.h5", job_dir);
    sweep("elastic-net fit + save", job_elnet, path, 80);
    snprintf(path, sizeof path, "%s/events.h5", job_dir);
    sweep("import events", job_events, path, 100000); /* all of them: few */
    snprintf(path, sizeof path, "%s/derived.h5", job_dir);
    sweep("derive", job_derive, path, 80);
}

int main(void)
{
    /* The forked HDF5 structure walk (engine/io/h5_probe.c) is not what these
     * sweeps test: its allocations are in a child, never through the
     * context's hook (test_harden_h5 tests the walk). Forking it on every
     * one of ~600 runs made each later write in this process a copy-on-write
     * page fault (~40 % of the sweep's CPU in perf): off here. */
    setenv("STRATA_H5_PROBE", "0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc__every_failed_allocation_of_a_run_is_a_clean_enomem),
        cmocka_unit_test(test_alloc__cox_elnet_events_derive_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
