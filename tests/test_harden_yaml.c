/* labels: unit harden */
/* tests/test_harden_yaml.c — issue 17 #1 and #16: the spec parser cannot be
 * driven into deep recursion or quadratic time. Deep nesting is a named error
 * with its line; 100k keys parse (or find their duplicate) in well under a
 * second; a FIFO or device given as a spec is refused, not waited on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "yaml_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A complexity guard, not a speed measurement (speed lives in bench/): the
 * quadratic parser took 22.7 s for 100k keys in a release build; the linear one
 * takes ~0.1 s (release) to ~0.6 s (ASan). The bound sits far from both so a
 * loaded CI machine cannot make it flaky, yet a quadratic regression fails it. */
#define FAST_S 10.0

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "key: " then depth open brackets of kind, then the matching closes. */
static char *nested(const char *open, const char *inner, const char *close, size_t depth)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc(16 + depth * (lo + lc) + li), *w = s;
    w += sprintf(w, "report: ");
    for (size_t i = 0; i < depth; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, inner, li);
    w += li;
    for (size_t i = 0; i < depth; i++, w += lc)
        memcpy(w, close, lc);
    *w++ = '\n';
    *w = '\0';
    return s;
}

static void test_yaml__sequence_nesting_25000_deep_is_a_named_error(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    char *text = nested("[", "1", "]", 25000); /* SIGSEGV before the fix */
    (void)state;
    assert_status(ctx, strata_yaml_parse(ctx, "deep.yaml", text, strlen(text), &root),
                  STRATA_ESPEC);
    assert_null(root);
    assert_contains(strata_ctx_errmsg(ctx), "deep.yaml: line 1: nesting deeper than 64 levels");
    free(text);
    strata_ctx_free(ctx);
}

static void test_yaml__nesting_at_the_limit_is_accepted(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    const ynode *n;
    char *text = nested("[", "x", "]", STRATA_YAML_MAX_DEPTH - 1); /* + the root mapping */
    (void)state;
    assert_status(ctx, strata_yaml_parse(ctx, "ok.yaml", text, strlen(text), &root), STRATA_OK);
    n = strata_yaml_get(root, "report");
    for (int d = 1; d < STRATA_YAML_MAX_DEPTH - 1; d++) {
        assert_int_equal(n->kind, YN_SEQ);
        assert_int_equal(n->n, 1);
        n = n->items[0];
    }
    assert_int_equal(n->kind, YN_SEQ);
    assert_string_equal(n->items[0]->scalar, "x");
    strata_yaml_free(ctx, root);
    free(text);
    text = nested("[", "x", "]", STRATA_YAML_MAX_DEPTH);
    assert_status(ctx, strata_yaml_parse(ctx, "ok.yaml", text, strlen(text), &root),
                  STRATA_ESPEC);
    free(text);
    strata_ctx_free(ctx);
}

static void test_yaml__mapping_nesting_100000_deep_fails_fast(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    char *text = nested("{a: ", "1", "}", 100000); /* 28.6 s before the fix */
    double t0 = now();
    (void)state;
    assert_status(ctx, strata_yaml_parse(ctx, "deep.yaml", text, strlen(text), &root),
                  STRATA_ESPEC);
    assert_true(now() - t0 < FAST_S);
    assert_contains(strata_ctx_errmsg(ctx), "nesting deeper than 64 levels");
    free(text);
    strata_ctx_free(ctx);
}

/* n keys "k0: 0" .. ; with dup, the last key repeats key 0. */
static char *many_keys(size_t n, int dup)
{
    char *s = malloc(n * 24 + 32), *w = s;
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, "k%zu: %zu\n", (dup && i == n - 1) ? (size_t)0 : i, i);
    *w = '\0';
    return s;
}

static void test_yaml__100000_keys_parse_in_well_under_a_second(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    char *text = many_keys(100000, 0); /* 22.7 s before the fix */
    double t0 = now(), dt;
    (void)state;
    assert_status(ctx, strata_yaml_parse(ctx, "keys.yaml", text, strlen(text), &root),
                  STRATA_OK);
    dt = now() - t0;
    print_message("100k keys: %.3f s\n", dt);
    assert_true(dt < FAST_S);
    assert_int_equal(root->n, 100000);
    assert_string_equal(strata_yaml_get(root, "k99999")->scalar, "99999");
    assert_int_equal(strata_yaml_key_line(root, "k4242"), 4243);
    strata_yaml_free(ctx, root);
    free(text);
    text = many_keys(100000, 1);
    t0 = now();
    assert_status(ctx, strata_yaml_parse(ctx, "keys.yaml", text, strlen(text), &root),
                  STRATA_ESPEC);
    assert_true(now() - t0 < FAST_S);
    assert_contains(strata_ctx_errmsg(ctx),
                    "keys.yaml: line 100000: key \"k0\" repeats the one on line 1");
    free(text);
    strata_ctx_free(ctx);
}

static void test_yaml__duplicates_found_in_nested_mappings(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    const char *text = "a:\n  x: 1\n  y: {p: 1, q: 2}\n  z: 3\n  y: 4\nb: 1\n";
    (void)state;
    assert_status(ctx, strata_yaml_parse(ctx, "n.yaml", text, strlen(text), &root),
                  STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "n.yaml: line 5: key \"y\" repeats the one on line 3");
    text = "a: {x: 1, y: 2}\nb: {x: 1, y: 2}\n"; /* same keys in sibling mappings: fine */
    assert_status(ctx, strata_yaml_parse(ctx, "n.yaml", text, strlen(text), &root), STRATA_OK);
    strata_yaml_free(ctx, root);
    strata_ctx_free(ctx);
}

static void test_yaml__fifo_and_device_specs_are_refused_not_waited_on(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    const char *fifo = tu_tmp("spec.fifo");
    (void)state;
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_status(ctx, strata_yaml_load(ctx, fifo, &root), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "is a FIFO; strata reads its inputs from regular files only");
    assert_status(ctx, strata_yaml_load(ctx, "/dev/zero", &root), STRATA_EIO);
    assert_contains(strata_ctx_errmsg(ctx), "/dev/zero: is a character device");
    assert_null(root);
    unlink(fifo);
    strata_ctx_free(ctx);
}

static void test_yaml__deep_spec_through_the_cli_exits_7_with_the_line(void **state)
{
    char *out = NULL, *text = nested("[", "1", "]", 25000);
    const char *spec = tu_tmp("deep_spec.yaml"), *dir = tu_tmp("deep_out");
    struct stat sb;
    int rc;
    (void)state;
    tu_write_file(spec, text);
    tu_run_sh(NULL, "rm -rf '%s'", dir);
    rc = tu_run_cli(&out, "run '%s' --out '%s'", spec, dir);
    assert_int_equal(rc, 7);
    assert_contains(out, "line 1: nesting deeper than 64 levels");
    /* no output left: the folder is absent or empty */
    assert_true(stat(dir, &sb) != 0 ||
                tu_run_sh(NULL, "test -z \"$(ls -A '%s')\"", dir) == 0);
    free(out);
    free(text);
}

static void test_yaml__import_mapping_is_bounded_like_a_spec(void **state)
{
    char *out = NULL, *text = nested("[", "1", "]", 25000);
    const char *csv = tu_tmp("m.csv"), *map = tu_tmp("m.yaml"), *h5 = tu_tmp("m.h5");
    (void)state;
    tu_write_file(csv, "id,age\n1,30\n2,40\n");
    memcpy(text, "roles: ", 7); /* "report: " -> "roles:  " */
    text[7] = ' ';
    tu_write_file(map, text);
    unlink(h5);
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --map '%s'", csv, h5, map), 7);
    assert_contains(out, "m.yaml: line 1: nesting deeper than 64 levels");
    assert_int_equal(access(h5, F_OK), -1);
    free(out);
    tu_write_file(map, "types:\n  age: int\n  age: float\n");
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --map '%s'", csv, h5, map), 7);
    assert_contains(out, "m.yaml: line 3: key \"age\" repeats the one on line 2");
    assert_int_equal(access(h5, F_OK), -1);
    free(out);
    tu_write_file(map, ""); /* an empty mapping file still means "nothing to map" */
    assert_int_equal(tu_run_cli(&out, "import '%s' --out '%s' --map '%s' --quiet", csv, h5, map),
                     0);
    assert_int_equal(access(h5, F_OK), 0);
    unlink(h5);
    free(out);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml__sequence_nesting_25000_deep_is_a_named_error),
        cmocka_unit_test(test_yaml__nesting_at_the_limit_is_accepted),
        cmocka_unit_test(test_yaml__mapping_nesting_100000_deep_fails_fast),
        cmocka_unit_test(test_yaml__100000_keys_parse_in_well_under_a_second),
        cmocka_unit_test(test_yaml__duplicates_found_in_nested_mappings),
        cmocka_unit_test(test_yaml__fifo_and_device_specs_are_refused_not_waited_on),
        cmocka_unit_test(test_yaml__deep_spec_through_the_cli_exits_7_with_the_line),
        cmocka_unit_test(test_yaml__import_mapping_is_bounded_like_a_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
