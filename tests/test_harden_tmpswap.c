/* labels: unit harden */
/* tests/test_harden_tmpswap.c — issue 17 "outputs that cannot be tampered
 * with": a temporary swapped for a symlink the moment strata has created it
 * (O_CREAT|O_EXCL) never gets a byte written through the link. open() is
 * interposed: when armed, each exclusive creation of a temporary whose name
 * holds the armed text is followed at once by the swap, so a writer that
 * reopens its temporary by name (json_dump_file, libxlsxwriter, HDF5's sec2,
 * fopen) writes into the victim. Every writer must write through the
 * descriptor it created and refuse to publish. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "manifest.h"
#include "outfile.h"
#include "strata/cohort.h"
#include "strata/csvio.h"
#include "strata/evaluate.h"
#include "testutil.h"
#include "xlsx.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_victim; /* the link's target; NULL: disarmed */
static const char *g_target; /* swap only temporaries whose name holds this */
static int g_swaps;

static int swap_after_create(const char *path, int flags, int fd)
{
    if (fd >= 0 && g_victim && (flags & O_CREAT) && (flags & O_EXCL) && strstr(path, ".tmp.") &&
        strstr(path, g_target) && unlink(path) == 0 && symlink(g_victim, path) == 0)
        g_swaps++;
    return fd;
}

/* open() as libc's, then the swap; strata, HDF5, libxlsxwriter and jansson
 * all call open (fopen opens inside libc and never reaches here: it only
 * ever reopens a name, which is what the swap catches) */
int open(const char *path, int flags, ...);

int open(const char *path, int flags, ...)
{
    int (*real)(const char *, int, ...);
    va_list ap;
    mode_t mode;
    va_start(ap, flags);
    mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, unsigned) : 0;
    va_end(ap);
    *(void **)&real = dlsym(RTLD_NEXT, "open");
    return swap_after_create(path, flags, real(path, flags, mode));
}

/* Arms the swap for temporaries of `target`, with a fresh victim file. */
static const char *arm(const char *target)
{
    static char victim[1024];
    snprintf(victim, sizeof victim, "%s", tu_tmp("victim.txt"));
    tu_write_file(victim, "precious\n");
    chmod(victim, 0640);
    g_target = target;
    g_swaps = 0;
    g_victim = victim;
    return victim;
}

/* Disarms; the victim must be untouched and the swap must have happened. */
static void assert_victim_intact(const char *victim)
{
    struct stat sb;
    char *text;
    g_victim = NULL;
    assert_true(g_swaps >= 1);
    text = tu_read_file(victim, NULL);
    assert_string_equal(text, "precious\n");
    free(text);
    assert_int_equal(stat(victim, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
}

static void assert_refused(strata_ctx *ctx, strata_status st, const char *out)
{
    assert_status(ctx, st, STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "is no longer the regular file strata created");
    assert_int_equal(access(out, F_OK), -1);
}

static strata_status write_cohort(strata_ctx *ctx, const char *path)
{
    strata_cohort_writer *w = NULL;
    strata_column_spec s = {0};
    int64_t id[2] = {1, 2};
    size_t j;
    strata_status st;
    s.name = "patient_id";
    s.dtype = STRATA_DT_INT64;
    s.role = STRATA_ROLE_PATIENT_ID;
    if ((st = strata_cohort_writer_new(ctx, path, &w)) != STRATA_OK)
        return st;
    assert_status(ctx, strata_cohort_writer_add(w, &s, &j), STRATA_OK);
    assert_status(ctx, strata_cohort_writer_append(w, j, id, 2), STRATA_OK);
    return strata_cohort_writer_finish(w);
}

static void test_tmpswap__hdf5_cohort_and_csv_export(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *h5 = tu_tmp("swap.h5"), *ok = tu_tmp("ok.h5"), *csv = tu_tmp("swap.csv");
    const char *victim;
    strata_csv_export_params ep;
    (void)state;
    unlink(h5);
    unlink(csv);
    victim = arm("swap.h5"); /* HDF5 opened the name with O_TRUNC: the victim was emptied */
    assert_status(ctx, write_cohort(ctx, h5), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "the temporary was replaced while being created");
    assert_int_equal(access(h5, F_OK), -1);
    assert_victim_intact(victim);

    assert_status(ctx, write_cohort(ctx, ok), STRATA_OK);
    strata_csv_export_params_init(&ep);
    victim = arm("swap.csv"); /* export reopened its temporary with fopen */
    assert_refused(ctx, strata_csv_export(ctx, ok, csv, &ep), csv);
    assert_victim_intact(victim);
    strata_ctx_free(ctx);
}

static void test_tmpswap__manifest_and_workbook(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *json = tu_tmp("manifest.json"), *xl = tu_tmp("swap.xlsx");
    const char *victim;
    strata_manifest *m = NULL;
    strata_xlsx *x = NULL;
    (void)state;
    unlink(json);
    unlink(xl);
    assert_status(ctx, strata_manifest_new(ctx, &m), STRATA_OK);
    assert_status(ctx, strata_manifest_str(m, "note", "run"), STRATA_OK);
    victim = arm("manifest.json"); /* json_dump_file reopened the name */
    assert_refused(ctx, strata_manifest_write(m, json), json);
    assert_victim_intact(victim);
    strata_manifest_free(m);

    victim = arm("swap.xlsx"); /* the workbook's temporary was reopened O_TRUNC */
    assert_status(ctx, strata_xlsx_open(ctx, xl, 0644, &x), STRATA_OK);
    assert_status(ctx, strata_xlsx_sheet(x, "README"), STRATA_OK);
    assert_status(ctx, strata_xlsx_text(x, 0, 0, "strata", STRATA_XS_TEXT), STRATA_OK);
    assert_refused(ctx, strata_xlsx_close(x), xl);
    assert_victim_intact(victim);
    strata_ctx_free(ctx);
}

static void test_tmpswap__evaluate_json(void **state)
{
    strata_ctx *ctx = tu_ctx();
    const char *dir = tu_tmp("eval_swap");
    double y[8] = {0, 1, 0, 1, 1, 0, 0, 1}, p[8] = {.1, .8, .3, .6, .7, .2, .4, .9};
    strata_eval_input in = {8, y, p, NULL, 0, NULL};
    strata_eval_params par;
    strata_eval_report *r = NULL;
    char json[1100];
    const char *victim;
    (void)state;
    strata_eval_params_init(&par);
    par.disclosure = 0;
    assert_status(ctx, strata_evaluate(ctx, &in, &par, &r), STRATA_OK);
    snprintf(json, sizeof json, "%s/evaluate.json", dir);
    unlink(json);
    victim = arm("evaluate.json"); /* fopen of the temporary's name */
    assert_refused(ctx, strata_eval_write(ctx, r, NULL, NULL, dir), json);
    assert_victim_intact(victim);
    strata_eval_report_free(ctx, r);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpswap__hdf5_cohort_and_csv_export),
        cmocka_unit_test(test_tmpswap__manifest_and_workbook),
        cmocka_unit_test(test_tmpswap__evaluate_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
