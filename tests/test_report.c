/* labels: unit slow */
/* tests/test_report.c — the HTML report a PCN clinical director reads,
 * rendered headless in Chromium (tests/report/render.sh) at desktop (1280 px)
 * and phone (390 px) widths, on an ICB run (11 PCNs: a pyramid each) and an
 * England-scaled run (1,298 PCNs: the PCN index instead): the screenshots are
 * not blank and hold charts; tests/report/check_report.py checks the DOM —
 * findings first, every PCN by name with its code, "how to read this"
 * paragraphs, titled charts with labelled axes, readable ticks, no text
 * outside a chart, self-contained, A4 print style. The ICB run also writes
 * the one-page PCN packs (report: {per_pcn: true}), checked the same way by
 * tests/report/check_packs.py and printed to A4: one page per PCN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_spec(const char *dir, const char *spec_text)
{
    char spec[4096], *out = NULL;
    int rc;
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    tu_write_file(spec, spec_text);
    rc = tu_run_cli(&out, "run '%s' --out '%s/out'", spec, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
}

/* Renders DIR/out/FILE at width w (and prints it to A4 DIR/FILE.pdf when
 * pdf): the screenshot is not blank and holds charts, then CHECKER (a
 * tests/report script) checks the DOM (and the PDF); returns the checker's
 * line (malloc'd). */
static char *render_and_check_file(const char *dir, const char *file, const char *checker, int w,
                                   int pdf)
{
    char *out = NULL, png[4096], pdfp[4096], script[4096];
    int rc, pw, ph, colours;
    double nonwhite;
    snprintf(png, sizeof png, "%s/%s_%d.png", dir, file, w);
    snprintf(pdfp, sizeof pdfp, "%s/%s.pdf", dir, file);
    rc = tu_run_sh(&out, "sh '%s' '%s/out/%s' '%s' %d 2400 '%s'", tu_src("tests/report/render.sh"),
                   dir, file, png, w, pdf ? pdfp : "");
    if (rc == 3)
        fail_msg("chromium is not installed (scripts/setup.sh --test installs it)");
    assert_int_equal(rc, 0);
    free(out);
    rc = tu_run_sh(&out, "/usr/bin/python3 '%s' '%s'", tu_src("tests/report/png_stats.py"), png);
    assert_int_equal(rc, 0);
    assert_int_equal(sscanf(out, "%d %d %lf %d", &pw, &ph, &nonwhite, &colours), 4);
    assert_int_equal(pw, w);
    assert_true(nonwhite > 0.02); /* not a blank page */
    assert_true(colours > 50);    /* charts and colour, not only text */
    free(out);
    snprintf(script, sizeof script, "%s", tu_src(checker));
    rc = tu_run_sh(&out, "/usr/bin/python3 '%s' '%s.dom.html' '%s/out' %s", script, png, dir,
                   pdf ? pdfp : "");
    print_message("%s %d px: %s", file, w, out);
    assert_int_equal(rc, 0);
    return out;
}

static char *render_and_check(const char *dir, int w)
{
    return render_and_check_file(dir, "report.html", "tests/report/check_report.py", w, 0);
}

/* The one-page PCN packs: DOM by tests/report/check_packs.py, and the A4
 * print has one page per PCN. */
static char *render_packs(const char *dir, int w)
{
    return render_and_check_file(dir, "pcn_packs.html", "tests/report/check_packs.py", w, 1);
}

static void test_report__icb_run_by_name_at_desktop_and_phone_widths(void **state)
{
    char dir[4096]; /* tu_tmp's buffers rotate: keep our own copy */
    char *line;
    (void)state;
    snprintf(dir, sizeof dir, "%s", tu_tmp("icb"));
    run_spec(dir, "synth:\n  icb: QOC\n  patients: 60000\n  seed: 5\n"
                  "model:\n  family: binomial\n"
                  "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count + prior_emergency_12m\"\n"
                  "evaluate:\n  by: [imd_quintile, sex, pcn]\n"
                  "report:\n  title: Shropshire test\n  per_pcn: true\n");
    line = render_and_check(dir, 1280);
    assert_contains(line, "report ok: 11 PCNs by name");
    assert_contains(line, "12 pyramids");
    free(line);
    free(render_and_check(dir, 390));
    line = render_packs(dir, 1280);
    assert_contains(line, "packs ok: 11 PCNs, one pack each by name with 3 charts");
    assert_contains(line, "11 A4 pages");
    free(line);
    free(render_packs(dir, 390));
}

static void test_report__england_run_has_an_index_not_1298_pyramids(void **state)
{
    const char *dir = tu_tmp("england");
    char *line;
    (void)state;
    run_spec(dir, "synth:\n  england: true\n  patients: 150000\n  seed: 2\n"
                  "model:\n  family: binomial\n"
                  "  formula: \"emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + "
                  "ltc_count\"\n"
                  "evaluate:\n  by: [imd_quintile]\n"
                  "report:\n  title: England test\n");
    line = render_and_check(dir, 1280);
    assert_contains(line, "1 pyramids");
    free(line);
    free(render_and_check(dir, 390));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report__icb_run_by_name_at_desktop_and_phone_widths),
        cmocka_unit_test(test_report__england_run_has_an_index_not_1298_pyramids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
