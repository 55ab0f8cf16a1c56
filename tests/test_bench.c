/* labels: unit */
/* tests/test_bench.c — `strata bench` on a tiny size: the JSON has every field
 * docs/scale.md documents (its table "The JSON, field by field"), of the
 * documented type and with sane values, and nothing undocumented. No timing is
 * asserted beyond "measured" (positive). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FIELDS 128

typedef struct field {
    char path[128];
    char type[32];
} field;

/* The rows "| `path` | type | meaning |" of the JSON table in docs/scale.md. */
static size_t doc_fields(field *out)
{
    char *doc = tu_read_file(tu_src("docs/scale.md"), NULL), *p, *end;
    size_t n = 0;
    assert_non_null(doc);
    p = strstr(doc, "### The JSON, field by field");
    assert_non_null(p);
    end = strstr(p + 4, "\n## ");
    assert_non_null(end);
    *end = 0;
    while ((p = strstr(p, "\n| `")) != NULL && n < MAX_FIELDS) {
        char *q = p + 4, *tick = strchr(q, '`'), *t, *bar;
        assert_non_null(tick);
        snprintf(out[n].path, sizeof out[n].path, "%.*s", (int)(tick - q), q);
        t = strchr(tick, '|') + 1;
        while (*t == ' ')
            t++;
        bar = strchr(t, '|');
        while (bar > t && bar[-1] == ' ')
            bar--;
        snprintf(out[n].type, sizeof out[n].type, "%.*s", (int)(bar - t), t);
        n++;
        p = q;
    }
    free(doc);
    return n;
}

/* Checks v against the documented type; numbers must be finite and >= 0. */
static void check_value(const char *path, const char *type, json_t *v)
{
    if (!v)
        fail_msg("%s: documented but missing", path);
    if (!strcmp(type, "string")) {
        if (!json_is_string(v) || !*json_string_value(v))
            fail_msg("%s: not a non-empty string", path);
    } else if (!strcmp(type, "integer")) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            fail_msg("%s: not a non-negative integer", path);
    } else if (!strcmp(type, "number") || !strcmp(type, "number or null")) {
        if (json_is_null(v) && strcmp(type, "number"))
            return;
        if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v)))
            fail_msg("%s: not a finite number >= 0", path);
    } else if (!strcmp(type, "boolean")) {
        if (!json_is_boolean(v))
            fail_msg("%s: not a boolean", path);
    } else if (!strcmp(type, "object")) {
        if (!json_is_object(v) || json_object_size(v) == 0)
            fail_msg("%s: not a non-empty object", path);
    } else if (!strcmp(type, "array")) {
        if (!json_is_array(v) || json_array_size(v) == 0)
            fail_msg("%s: not a non-empty array", path);
    } else {
        fail_msg("%s: docs/scale.md gives an unknown type '%s'", path, type);
    }
}

/* Resolves path ("a.b", "stages[].x" for every element) and checks each value. */
static void check_path(json_t *root, const char *path, const char *full, const char *type)
{
    const char *dot = strchr(path, '.'), *arr = strstr(path, "[]");
    char key[128];
    if (arr && (!dot || arr < dot)) {
        json_t *a;
        size_t i;
        json_t *el;
        snprintf(key, sizeof key, "%.*s", (int)(arr - path), path);
        a = json_object_get(root, key);
        if (!json_is_array(a) || json_array_size(a) == 0)
            fail_msg("%s: '%s' is not a non-empty array", full, key);
        json_array_foreach(a, i, el) check_path(el, arr + 3, full, type);
        return;
    }
    if (!dot) {
        check_value(full, type, json_object_get(root, path));
        return;
    }
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    check_path(json_object_get(root, key), dot + 1, full, type);
}

static int documented(const field *f, size_t n, const char *path)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(f[k].path, path))
            return 1;
    return 0;
}

/* Every leaf of the JSON is documented (config.build's keys as the object). */
static void check_documented(const field *f, size_t n, json_t *v, const char *path)
{
    const char *key;
    json_t *c;
    char sub[160];
    if (json_is_object(v) && strcmp(path, "config.build") != 0) {
        json_object_foreach(v, key, c)
        {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            check_documented(f, n, c, sub);
        }
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        snprintf(sub, sizeof sub, "%s[]", path);
        json_array_foreach(v, i, c) check_documented(f, n, c, sub);
        return;
    }
    if (!documented(f, n, path))
        fail_msg("%s: in the JSON but not documented in docs/scale.md", path);
}

static void test_bench__json_has_every_documented_field(void **state)
{
    field f[MAX_FIELDS];
    size_t n = doc_fields(f);
    const char *json = tu_tmp("bench.json"), *victim = tu_tmp("bench_victim.txt");
    struct stat sb;
    char *text;
    const char *names[] = {"synth", "fit", "score", "evaluate"};
    json_error_t err;
    json_t *root, *st;
    char *out = NULL;
    (void)state;
    assert_true(n >= 30);
    remove(json);
    /* a link planted at the output's name is replaced, never written through
     * (fopen(json, "w") wrote the victim) */
    tu_write_file(victim, "precious\n");
    assert_int_equal(symlink(victim, json), 0);
    if (tu_run_cli(&out, "bench --size 400 --quick --file-mb 2 --threads 2 --dir '%s' --json '%s'",
                   tu_tmp(""), json) != 0)
        fail_msg("strata bench failed: %s", out ? out : "");
    assert_contains(out, "patients/s");
    free(out);
    assert_string_equal(text = tu_read_file(victim, NULL), "precious\n");
    free(text);
    assert_int_equal(lstat(json, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    root = json_load_file(json, 0, &err);
    assert_non_null(root);
    for (size_t k = 0; k < n; k++)
        check_path(root, f[k].path, f[k].path, f[k].type);
    check_documented(f, n, root, "");
    /* values known from the workload */
    assert_string_equal(json_string_value(json_object_get(root, "schema")), "strata-bench/1");
    assert_int_equal(json_integer_value(json_object_get(root, "threads")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "workload"), "patients")), 400);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "workload"), "p")), 12);
    assert_true(json_integer_value(json_object_get(json_object_get(root, "workload"), "iterations")) >= 1);
    st = json_object_get(root, "stages");
    assert_int_equal(json_array_size(st), 4);
    for (size_t k = 0; k < 4; k++) {
        json_t *s = json_array_get(st, k);
        assert_string_equal(json_string_value(json_object_get(s, "stage")), names[k]);
        assert_true(json_number_value(json_object_get(s, "seconds")) > 0);
        assert_true(json_number_value(json_object_get(s, "patients_per_s")) > 0);
    }
    /* the fit has modelled work: its rates are measured, not null */
    assert_true(json_is_number(json_object_get(json_object_get(json_array_get(st, 1), "fraction"), "dgemm")));
    assert_true(json_is_null(json_object_get(json_array_get(st, 0), "gflops")));
    assert_true(json_number_value(json_object_get(json_object_get(root, "limits"), "dgemm_gflops")) > 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "limits"), "file_bytes")), 2 << 20);
    json_decref(root);
}

static void test_bench__bad_size_is_usage(void **state)
{
    char *out = NULL;
    (void)state;
    assert_int_equal(tu_run_cli(&out, "bench --size galaxy"), 2);
    assert_contains(out, "usage");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench__json_has_every_documented_field),
        cmocka_unit_test(test_bench__bad_size_is_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
