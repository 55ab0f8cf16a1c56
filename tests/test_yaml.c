/* labels: unit fault */
/* tests/test_yaml.c — the spec loader: values with their lines, and errors
 * that name the key and the line (syntax, unknown key, duplicate, wrong type). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"
#include "yaml_tree.h"

#include <string.h>

static const char *SPEC = "# a run spec\n"
                          "cohort: data/x.h5\n"
                          "model:\n"
                          "  family: binomial\n"
                          "  formula: \"y ~ age + sex\"\n"
                          "evaluate:\n"
                          "  by: [sex, pcn]\n"
                          "threads: 2\n"
                          "budget: 1.5e6\n"
                          "pu: yes\n";

static strata_status parse(strata_ctx *ctx, const char *text, ynode **root)
{
    return strata_yaml_parse(ctx, "spec.yaml", text, strlen(text), root);
}

static void test_yaml__values_and_lines(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    const ynode *model, *by;
    const char *s = NULL;
    long threads = 0;
    double budget = 0;
    int pu = 0;
    (void)state;
    assert_status(ctx, parse(ctx, SPEC, &root), STRATA_OK);
    model = strata_yaml_get(root, "model");
    assert_non_null(model);
    assert_int_equal(strata_yaml_key_line(root, "model"), 3);
    assert_status(ctx, strata_yaml_str(ctx, "spec.yaml", model, "formula", &s), STRATA_OK);
    assert_string_equal(s, "y ~ age + sex");
    by = strata_yaml_get(strata_yaml_get(root, "evaluate"), "by");
    assert_int_equal(by->kind, YN_SEQ);
    assert_int_equal(by->n, 2);
    assert_string_equal(by->items[1]->scalar, "pcn");
    assert_status(ctx, strata_yaml_long(ctx, "spec.yaml", root, "threads", &threads), STRATA_OK);
    assert_int_equal(threads, 2);
    assert_status(ctx, strata_yaml_double(ctx, "spec.yaml", root, "budget", &budget), STRATA_OK);
    assert_rel_close(budget, 1.5e6, 0, "budget");
    assert_status(ctx, strata_yaml_bool(ctx, "spec.yaml", root, "pu", &pu), STRATA_OK);
    assert_int_equal(pu, 1);
    strata_yaml_free(ctx, root);
    strata_ctx_free(ctx);
}

static void test_yaml__errors_name_key_and_line(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    long v;
    static const char *const allowed[] = {"cohort", "model", NULL};
    (void)state;
    assert_status(ctx, parse(ctx, "a: 1\nb: [1, 2\nc: 3\n", &root), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "spec.yaml: line 3: YAML syntax error");

    assert_status(ctx, parse(ctx, "a: 1\nb: 2\na: 3\n", &root), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "line 3: key \"a\" repeats the one on line 1");

    assert_status(ctx, parse(ctx, "- 1\n- 2\n", &root), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "must be a mapping");

    assert_status(ctx, parse(ctx, "cohort: x\nmodle: y\n", &root), STRATA_OK);
    assert_status(ctx, strata_yaml_only_keys(ctx, "spec.yaml", root, "the spec", allowed),
                  STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx),
                    "spec.yaml: line 2: unknown key \"modle\" in the spec (known: cohort, model)");
    strata_yaml_free(ctx, root);

    assert_status(ctx, parse(ctx, "threads: two\nlist: [1]\n", &root), STRATA_OK);
    assert_status(ctx, strata_yaml_long(ctx, "spec.yaml", root, "threads", &v), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "line 1: key \"threads\": \"two\" is not a whole number");
    assert_status(ctx, strata_yaml_long(ctx, "spec.yaml", root, "list", &v), STRATA_ESPEC);
    assert_contains(strata_ctx_errmsg(ctx), "line 2: key \"list\" must be a whole number");
    strata_yaml_free(ctx, root);
    strata_ctx_free(ctx);
}

static void test_yaml__allocation_failures_are_clean(void **state)
{
    strata_ctx *ctx = tu_ctx();
    ynode *root = NULL;
    long total;
    (void)state;
    tu_fault_install(ctx);
    tu_fault_arm(-1);
    assert_status(ctx, parse(ctx, SPEC, &root), STRATA_OK);
    strata_yaml_free(ctx, root);
    total = tu_fault_count();
    for (long k = 1; k <= total; k++) {
        tu_fault_arm(k);
        assert_status(ctx, parse(ctx, SPEC, &root), STRATA_ENOMEM);
        assert_null(root);
    }
    tu_fault_arm(-1);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml__values_and_lines),
        cmocka_unit_test(test_yaml__errors_name_key_and_line),
        cmocka_unit_test(test_yaml__allocation_failures_are_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
