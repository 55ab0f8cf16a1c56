/* labels: unit */
/* tests/test_manifest.c — manifest.json records inputs with their SHA-256,
 * versions, OpenBLAS configuration, threads, outputs and timings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "manifest.h"
#include "testutil.h"

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

static void test_manifest__records_inputs_versions_outputs(void **state)
{
    strata_ctx *ctx = tu_ctx();
    strata_manifest *m = NULL;
    json_t *root;
    json_error_t err;
    struct stat sb;
    const char *path = tu_tmp("manifest.json");
    (void)state;
    strata_ctx_set_threads(ctx, 2);
    tu_write_file(tu_tmp("in.txt"), "abc");
    assert_status(ctx, strata_manifest_new(ctx, &m), STRATA_OK);
    assert_status(ctx, strata_manifest_input(m, "cohort", tu_tmp("in.txt")), STRATA_OK);
    assert_status(ctx, strata_manifest_str(m, "spec.formula", "y ~ x"), STRATA_OK);
    assert_status(ctx, strata_manifest_int(m, "seeds.synth", 7), STRATA_OK);
    assert_status(ctx, strata_manifest_output(m, "patients.csv", "patient"), STRATA_OK);
    assert_status(ctx, strata_manifest_timing(m, "fit", 0.25), STRATA_OK);
    assert_status(ctx, strata_manifest_input(m, "x", tu_tmp("absent")), STRATA_EIO);
    assert_status(ctx, strata_manifest_write(m, path), STRATA_OK);
    strata_manifest_free(m);

    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    root = json_load_file(path, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(root, "inputs"), "cohort"), "sha256")),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_contains(json_string_value(json_object_get(json_object_get(root, "software"), "openblas")),
                    "OpenBLAS");
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "software"), "strata")),
                        strata_version());
    assert_int_equal(json_integer_value(json_object_get(root, "threads")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "seeds"), "synth")), 7);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(root, "outputs"), 0), "kind")),
                        "patient");
    assert_rel_close(json_real_value(json_object_get(json_array_get(json_object_get(root, "timings"), 0), "seconds")),
                     0.25, 0, "fit seconds");
    json_decref(root);
    strata_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest__records_inputs_versions_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
