/* labels: unit determinism models */
/* tests/test_cox_stream.c — the Cox fit under a memory budget (models/cox/cox_stream.c,
 * docs/scale.md "The Cox fit under a budget"): the sorted design written once to a
 * scratch file and read back in windows of whole blocks must give the in-memory
 * fit's bytes (coefficients, variances, robust variances, log-likelihoods,
 * baseline, concordance) on 1 and 2 threads; the budget must hold (allocations
 * through the context's hook), the scratch file must be gone on every exit path,
 * and a budget too small for the per-row vectors is refused naming the sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "cox_internal.h"

#include "cox_testdata.c"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a fit logged at INFO: the streaming line. */
typedef struct logbuf {
    char text[8192];
} logbuf;

static void log_keep(void *ud, strata_log_level level, const char *msg)
{
    logbuf *b = ud;
    size_t k = strlen(b->text);
    (void)level;
    snprintf(b->text + k, sizeof b->text - k, "%s\n", msg);
}

typedef struct run {
    strata_status st;
    cox_fit_out fo;
    size_t peak;
    logbuf log;
    char err[1024];
} run;

/* One fit on `threads` threads under `budget` (0: none), allocations counted. */
static const char *fit_scratch; /* the contexts' scratch directory (NULL: $TMPDIR) */

static void fit(run *r, const glm_source *src, const char *formula, const char *weights, const cox_params *prm,
                size_t budget, int threads)
{
    strata_ctx *ctx = NULL;
    tu_alloc_count c = {0, 0};
    memset(r, 0, sizeof *r);
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_scratch_dir(ctx, fit_scratch);
    strata_ctx_set_threads(ctx, threads);
    strata_ctx_set_log(ctx, log_keep, &r->log, STRATA_LOG_INFO);
    strata_ctx_set_alloc(ctx, tu_count_alloc, &c);
    strata_ctx_set_memory_budget(ctx, budget);
    r->st = cox_fit_source(ctx, src, formula, weights, prm, &r->fo);
    r->peak = c.peak;
    snprintf(r->err, sizeof r->err, "%s", strata_ctx_errmsg(ctx));
    /* the result outlives the context: it was made through the counting hook, which
     * frees with free() after its header, so free it through a context with the hook */
    cox_fit_out_free(ctx, &r->fo);
    strata_ctx_free(ctx);
}

/* The same, keeping the result (freed by the caller with a default context). */
static strata_status fit_keep(cox_fit_out *fo, const glm_source *src, const char *formula, const char *weights,
                              const cox_params *prm, size_t budget, int threads, logbuf *log)
{
    strata_ctx *ctx = NULL;
    strata_status st;
    assert_int_equal(strata_ctx_new(&ctx), STRATA_OK);
    strata_ctx_set_threads(ctx, threads);
    if (log)
        strata_ctx_set_log(ctx, log_keep, log, STRATA_LOG_INFO);
    strata_ctx_set_memory_budget(ctx, budget);
    st = cox_fit_source(ctx, src, formula, weights, prm, fo);
    if (st != STRATA_OK)
        fprintf(stderr, "fit: %s\n", strata_ctx_errmsg(ctx));
    strata_ctx_free(ctx);
    return st;
}

/* In memory on one thread, then streamed (window_rows, or the budget) on 1 and 2 threads. */
static void compare(const glm_source *src, const char *formula, const char *weights, cox_params *prm,
                    size_t window_rows, size_t budget, size_t min_windows)
{
    strata_ctx *ctx = tu_ctx();
    cox_fit_out one, s;
    size_t wr = prm->window_rows;
    int robust = prm->robust || strstr(formula, "cluster(") != NULL;
    assert_int_equal(fit_keep(&one, src, formula, weights, prm, 0, 1, NULL), STRATA_OK);
    prm->window_rows = window_rows;
    for (int t = 1; t <= 2; t++) {
        logbuf log;
        const char *at;
        memset(&log, 0, sizeof log);
        assert_int_equal(fit_keep(&s, src, formula, weights, prm, budget, t, &log), STRATA_OK);
        if (!(at = strstr(log.text, "streaming the sorted design")))
            fail_msg("not streamed: %s", log.text);
        at = strstr(at, "scratch file in ");
        assert_non_null(at);
        at = strchr(at + 16, ',');
        assert_non_null(at);
        if ((size_t)strtoul(at + 2, NULL, 10) < min_windows)
            fail_msg("expected at least %zu windows: %s", min_windows, log.text);
        same_bytes(one.res, s.res, robust);
        assert_int_equal(s.n_dropped, one.n_dropped);
        assert_int_equal(s.n_strata_values, one.n_strata_values);
        cox_fit_out_free(ctx, &s);
    }
    prm->window_rows = wr;
    cox_fit_out_free(ctx, &one);
    strata_ctx_free(ctx);
}

/* Efron, strata, a factor, the robust variance per row: 16-row blocks in windows of
 * 48 rows (39 windows, written three at a time). */
static void test_cox_stream__efron_strata_robust_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 16;
    prm.robust = 1;
    compare(&c.src, "Surv(time, status) ~ rx + sex + age + nodes + strata(extent)", NULL, &prm, 48, 0, 15);
    colon_free(&c);
}

/* Breslow, case weights, an offset, cluster(): the cluster sums in row order over the windows. */
static void test_cox_stream__breslow_weights_offset_cluster_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.ties = COX_TIES_BRESLOW;
    prm.block_rows = 32;
    compare(&c.src, "Surv(time, status) ~ rx + age + nodes + offset(o) + cluster(cl) + strata(extent)", "w", &prm,
            100, 0, 10);
    colon_free(&c);
}

/* Efron with two tied groups of ~900 rows (a 0/1 time): each spans many windows,
 * so a group's event sums come from the spills of blocks read windows earlier. */
static void test_cox_stream__tied_groups_over_whole_windows_same_bytes(void **state)
{
    colon c;
    cox_params prm;
    (void)state;
    colon_make(&c);
    cox_params_init(&prm);
    prm.block_rows = 16;
    compare(&c.src, "Surv(late, status) ~ rx + sex + age + nodes", NULL, &prm, 64, 0, 10);
    colon_free(&c);
}

#define SYN_FORMULA "Surv(t, e) ~ x1 * x2 * x3 + rcs(x4, 4) + strata(s) + cluster(cl)"

/* 40,000 rows (Efron, strata, weights, cluster()) under a budget that forces
 * several windows and write passes: the in-memory bytes, and the allocations
 * through the context's hook stay within the budget. */
static void test_cox_stream__budget_streams_same_bytes_and_holds(void **state)
{
    syn y;
    cox_params prm;
    run mem, st;
    const size_t budget = (size_t)8 << 20;
    (void)state;
    syn_make(&y, 40000);
    cox_params_init(&prm);
    prm.block_rows = 1024;
    compare(&y.src, SYN_FORMULA, "w", &prm, 0, budget, 3);
    fit(&mem, &y.src, SYN_FORMULA, "w", &prm, 0, 2);
    fit(&st, &y.src, SYN_FORMULA, "w", &prm, budget, 2);
    assert_int_equal(mem.st, STRATA_OK);
    assert_int_equal(st.st, STRATA_OK);
    print_message("peak through the hook: in memory %zu bytes, streamed %zu (budget %zu)\n%s", mem.peak, st.peak,
                  budget, st.log.text);
    if (!(mem.peak > budget))
        fail_msg("in memory: peak %zu bytes, expected more than the budget", mem.peak);
    if (!(st.peak <= budget))
        fail_msg("streamed: peak %zu bytes over the budget of %zu", st.peak, budget);
    syn_free(&y);
}

/* What the streamed fit holds a row: with one-block windows and the external
 * sorts in a fixed 256 kB, the peak through the allocation hook grows with the
 * rows by the per-row state alone — the mask, the times and events read, the
 * sorted status and row order (26 bytes a row while sorting); then the Newton
 * vectors (17) and Harrell's C (the ranks and two trees, 24, with the status) —
 * not by the sort's keys and sorted times or the ranks' sort scratch (68 bytes a
 * row before). Measured between 10,000 and 20,000 rows (no weights, strata or
 * clusters: the benchmark's shape; daily times, so few tied groups). Then the
 * in-memory bytes with both sorts in three runs through scratch files, with
 * strata (the sort's major key), weights and cluster(). */
static void test_cox_stream__per_row_bytes_held(void **state)
{
    const char *formula = "Surv(t, e) ~ x1 + x2 + x3 + x4";
    syn a, b;
    cox_params prm;
    run ra, rb;
    double slope;
    (void)state;
    syn_make(&a, 10000);
    syn_make(&b, 20000);
    cox_params_init(&prm);
    prm.block_rows = 1024;
    prm.window_rows = 1024;
    prm.sort_mem = (size_t)256 << 10;
    fit(&ra, &a.src, formula, NULL, &prm, 0, 1);
    fit(&rb, &b.src, formula, NULL, &prm, 0, 1);
    assert_int_equal(ra.st, STRATA_OK);
    assert_int_equal(rb.st, STRATA_OK);
    slope = ((double)rb.peak - (double)ra.peak) / 10000.0;
    print_message("peak through the hook: %zu bytes at 10,000 rows, %zu at 20,000: %.1f bytes a row\n", ra.peak,
                  rb.peak, slope);
    if (!(slope > 17 && slope <= 30))
        fail_msg("streamed fit holds %.1f bytes a row, expected 17-30", slope);
    /* the in-memory bytes on 1 and 2 threads */
    compare(&b.src, SYN_FORMULA, "w", &prm, 4096, 0, 4);
    syn_free(&a);
    syn_free(&b);
}

/* A budget below the per-row vectors is refused with ENOMEM naming both sizes. */
static void test_cox_stream__too_small_budget_refused_naming_sizes(void **state)
{
    syn y;
    cox_params prm;
    run r;
    (void)state;
    syn_make(&y, 40000);
    cox_params_init(&prm);
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, (size_t)1 << 20, 1);
    assert_int_equal(r.st, STRATA_ENOMEM);
    assert_contains(r.err, "over the memory budget of 1 MB");
    assert_contains(r.err, "give it at least");
    assert_contains(r.err, "40000 rows");
    /* past the sort, short of two blocks and Harrell's C */
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, (size_t)3 << 20, 1);
    assert_int_equal(r.st, STRATA_ENOMEM);
    assert_contains(r.err, "over the memory budget of 3 MB");
    syn_free(&y);
}

/* Entries of a directory (. and .. excluded). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int k = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        k += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return k;
}

static int open_fds(void)
{
    return dir_entries("/proc/self/fd");
}

/* The scratch file is in $TMPDIR while the fit runs and gone after it: after a
 * fit, after a fit that does not converge, and after a write that fails (a child
 * process under a file-size limit of 64 kB); no descriptor is left open. */
static void test_cox_stream__scratch_gone_on_every_exit(void **state)
{
    syn y;
    cox_params prm;
    run r;
    const char *dir = tu_tmp("cox_scratch");
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    int fds, status;
    pid_t pid;
    (void)state;
    mkdir(dir, 0700);
    setenv("TMPDIR", dir, 1);
    syn_make(&y, 20000);
    cox_params_init(&prm);
    prm.window_rows = 4096;
    fds = open_fds();
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 2);
    assert_int_equal(r.st, STRATA_OK);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(open_fds(), fds);
    prm.max_iter = 1; /* not converged: the partial fit, the file gone */
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 1);
    assert_int_equal(r.st, STRATA_ENOCONV);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(open_fds(), fds);
    prm.max_iter = 20;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the design is 20,000 x 4 doubles: 640 kB, over the limit */
        struct rlimit rl = {65536, 65536};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 1);
        _exit(r.st == STRATA_EIO && strstr(r.err, "writing the scratch file") && strstr(r.err, dir) &&
                      open_fds() == fds
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(dir_entries(dir), 0);
    /* a directory that cannot hold it: EIO naming the directory */
    setenv("TMPDIR", tu_tmp("cox_scratch/missing"), 1);
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 1);
    assert_int_equal(r.st, STRATA_EIO);
    assert_contains(r.err, "cox_scratch/missing");
    /* the context's scratch directory comes before $TMPDIR (strata_ctx_set_scratch_dir) */
    fit_scratch = dir;
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 1);
    assert_int_equal(r.st, STRATA_OK);
    assert_contains(r.log.text, dir);
    assert_int_equal(dir_entries(dir), 0);
    setenv("TMPDIR", dir, 1);
    fit_scratch = tu_tmp("cox_scratch/missing_too");
    fit(&r, &y.src, SYN_FORMULA, "w", &prm, 0, 1);
    assert_int_equal(r.st, STRATA_EIO);
    assert_contains(r.err, "cox_scratch/missing_too");
    fit_scratch = NULL;
    if (old) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else {
        unsetenv("TMPDIR");
    }
    syn_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cox_stream__efron_strata_robust_same_bytes),
        cmocka_unit_test(test_cox_stream__breslow_weights_offset_cluster_same_bytes),
        cmocka_unit_test(test_cox_stream__tied_groups_over_whole_windows_same_bytes),
        cmocka_unit_test(test_cox_stream__budget_streams_same_bytes_and_holds),
        cmocka_unit_test(test_cox_stream__per_row_bytes_held),
        cmocka_unit_test(test_cox_stream__too_small_budget_refused_naming_sizes),
        cmocka_unit_test(test_cox_stream__scratch_gone_on_every_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
