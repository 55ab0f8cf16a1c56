/* labels: unit determinism */
/* tests/test_h5_bytes.c — same input, same bytes, for every HDF5 file strata
 * writes: a synthetic cohort, a derive, GLM and Cox model files, score files
 * (with 1 and with 2 threads) and a run's cohort and aggregate tables are
 * written twice, at least a second apart (HDF5 object headers record times to
 * the second unless told not to), to the same names, and compared byte for
 * byte. SOURCE_DATE_EPOCH fixes the one time strata records on purpose (a GLM
 * model file's "created"). A run writes in a staging folder with a pid in its
 * name: its features.h5 and model.h5 record their inputs under the output
 * folder's name, so they too are the same bytes (and name files that exist). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const files[] = {"c.h5",  "d.h5",  "m.h5",            "cox.h5",
                                    "s.h5",  "sc.h5", "r/aggregates.h5", "r/cohort.h5",
                                    "r/features.h5", "r/model.h5"};
#define NFILES (sizeof files / sizeof files[0])

/* Runs "strata <args>" in dir; fails the test on a non-zero exit. */
static void cli(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cli(const char *dir, const char *fmt, ...)
{
    char args[8192], *out = NULL;
    va_list ap;
    int rc;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    rc = tu_run_sh(&out, "cd '%s' && '%s' %s", dir, tu_cli(), args);
    if (rc != 0)
        fail_msg("strata %s: exit %d: %s", args, rc, out ? out : "");
    free(out);
}

/* Writes every file into dir (the same names each time, so the paths strata
 * records are the same), then copies each to dir/<tag>_<base name>. */
static void write_all(const char *dir, int threads, char tag)
{
    char spec[8192];
    cli(dir, "synth --icb QOC --patients 1500 --seed 3 --quiet --threads %d --out c.h5", threads);
    cli(dir, "derive c.h5 --spec '%s' --quiet --threads %d --out d.h5",
        tu_src("data/specs/derive_default.yaml"), threads);
    /* 1 thread: one process; 2: the fit in a worker beside the cohort's
     * forked walk (engine/cli/cli_worker.c) — the same bytes */
    cli(dir, "fit c.h5 --formula 'emergency_admission_12m ~ age + sex + ltc_count' --quiet "
             "--threads %d --out m.h5", threads);
    cli(dir, "fit c.h5 --family cox --formula 'Surv(time_to_emergency_days, emergency_event) ~ "
             "age + sex' --quiet --out cox.h5");
    cli(dir, "score m.h5 c.h5 --quiet --threads %d --out s.h5", threads);
    cli(dir, "score cox.h5 c.h5 --horizon 365 --quiet --threads %d --out sc.h5", threads);
    snprintf(spec, sizeof spec,
                  "synth:\n  icb: QOC\n  patients: 1500\n  seed: 4\nderive: '%s'\nmodel:\n  formula: "
                  "\"emergency_admission_12m ~ age + sex + ltc_count\"\nevaluate:\n  by: [sex]\n",
                  tu_src("data/specs/derive_default.yaml"));
    tu_write_file(tu_tmp("h5bytes/run.yaml"), spec);
    cli(dir, "run run.yaml --overwrite --quiet --threads %d --out r", threads);
    for (size_t k = 0; k < NFILES; k++) {
        const char *slash = strchr(files[k], '/');
        assert_int_equal(tu_run_sh(NULL, "cd '%s' && cp %s %c_%s", dir, files[k], tag,
                                   slash ? slash + 1 : files[k]),
                         0);
    }
}

static void test_h5_bytes__every_file_twice_and_with_2_threads_is_the_same(void **state)
{
    char dir[4096];
    int differ = 0;
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_tmp("h5bytes"));
    assert_int_equal(tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    write_all(dir, 1, 'a');
    sleep(1); /* the object headers' times (seconds) differ now */
    write_all(dir, 2, 'b');
    for (size_t k = 0; k < NFILES; k++) {
        const char *base = strchr(files[k], '/') ? strchr(files[k], '/') + 1 : files[k];
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/a_%s", dir, base);
        snprintf(b, sizeof b, "%s/b_%s", dir, base);
        if (!tu_files_equal(a, b)) {
            print_error("%s: differs between two writes of the same input\n", files[k]);
            differ++;
        }
    }
    assert_int_equal(differ, 0);
    {
        char *out = NULL;
        assert_int_equal(tu_run_sh(&out, "cd '%s' && h5dump -a derived_from r/features.h5 && "
                                         "h5dump -a input_path r/model.h5", dir), 0);
        assert_non_null(strstr(out, "\"r/cohort.h5\""));
        assert_non_null(strstr(out, "\"r/features.h5\""));
        assert_null(strstr(out, ".strata-run"));
        free(out);
        /* the 2-thread fit's input_hash came from its supervisor (cli_worker.c) */
        assert_int_equal(tu_run_sh(&out, "cd '%s' && h5dump -a input_hash m.h5 | grep -c \"sha256:$(sha256sum c.h5 | cut -c1-64)\\\"\"", dir), 0);
        free(out);
    }
    assert_int_equal(tu_run_sh(NULL, "rm -rf '%s'", dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5_bytes__every_file_twice_and_with_2_threads_is_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
