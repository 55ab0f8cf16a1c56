/* labels: unit golden */
/* tests/test_run_provenance.c — a run's model.h5 records the SHA-256 of the
 * cohort it was fitted on (input_hash), and the manifest records the same
 * file's hash under inputs.cohort. Since the run lends the fit the manifest's
 * hash (engine/run/run.c, stage_model) instead of the fit reading the whole
 * cohort again, the two must still be the file's true SHA-256 (sha256sum) for
 * every estimator: GLM, Cox, elastic net and the penalised Cox; and a cohort
 * the run derives (features.h5, which the manifest has not hashed before the
 * fit) is hashed by the fit itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "strata/strata.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SURV "Surv(time_to_emergency_days, emergency_event) ~ age + sex + ltc_count"
#define BIN "emergency_admission_12m ~ age + sex + ltc_count"

/* Runs spec (model block `model`) on a synthetic cohort; checks that the
 * model's input_hash, the manifest's inputs.cohort and sha256sum of the
 * cohort file (`cohort`, relative to the output folder) agree. */
static void check(const char *name, const char *derive, const char *model, const char *cohort)
{
    char dir[4096], *out = NULL;
    snprintf(dir, sizeof dir, "%s", tu_tmp(name));
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    char spec[8192], path[4200];
    snprintf(spec, sizeof spec, "synth:\n  patients: 1500\n  seed: 5\n%smodel:\n%s", derive, model);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    tu_write_file(path, spec);
    int rc = tu_run_cli(&out, "run '%s' --out '%s/out' --quiet", path, dir);
    if (rc != 0)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    /* one line each: the file's hash, the model's, the manifest's */
    rc = tu_run_sh(&out,
                   "cd '%s/out' && sha256sum '%s' | cut -c1-64 && "
                   "h5dump -a input_hash model.h5 | sed -n 's/.*\"sha256:\\([0-9a-f]*\\)\".*/\\1/p' && "
                   "python3 -c \"import json; print(json.load(open('manifest.json'))['inputs']['cohort']['sha256'])\"",
                   dir, cohort);
    assert_int_equal(rc, 0);
    char *l1 = out, *l2 = strchr(l1, '\n');
    assert_non_null(l2);
    *l2++ = 0;
    char *l3 = strchr(l2, '\n');
    assert_non_null(l3);
    *l3++ = 0;
    char *end = strchr(l3, '\n');
    if (end)
        *end = 0;
    assert_int_equal(strlen(l1), 64);
    assert_string_equal(l2, l1); /* the model's provenance: the cohort it read */
    if (!strcmp(cohort, "cohort.h5"))
        assert_string_equal(l3, l1); /* the manifest's input: the same file */
    free(out);
}

static void test_provenance__glm(void **state)
{
    (void)state;
    check("prov_glm", "", "  formula: \"" BIN "\"\n", "cohort.h5");
}

static void test_provenance__cox(void **state)
{
    (void)state;
    check("prov_cox", "", "  family: cox\n  horizon: 365\n  formula: \"" SURV "\"\n", "cohort.h5");
}

static void test_provenance__elastic_net(void **state)
{
    (void)state;
    check("prov_elnet", "", "  formula: \"" BIN "\"\n  alpha: 0.5\n  nlambda: 20\n", "cohort.h5");
}

static void test_provenance__penalised_cox(void **state)
{
    (void)state;
    check("prov_elnet_cox", "",
          "  family: cox\n  horizon: 365\n  formula: \"" SURV "\"\n  alpha: 1\n  nlambda: 20\n",
          "cohort.h5");
}

/* derive: the fit reads features.h5, which derive wrote: the fit hashes it */
static void test_provenance__derived_features(void **state)
{
    char derive[4200];
    (void)state;
    snprintf(derive, sizeof derive, "derive: %s\n", tu_src("data/specs/derive_default.yaml"));
    check("prov_derive", derive, "  formula: \"" BIN "\"\n", "features.h5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provenance__glm),
        cmocka_unit_test(test_provenance__cox),
        cmocka_unit_test(test_provenance__elastic_net),
        cmocka_unit_test(test_provenance__penalised_cox),
        cmocka_unit_test(test_provenance__derived_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
