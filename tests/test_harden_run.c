/* labels: unit harden */
/* tests/test_harden_run.c — issue 17 #13 and #9: the output folder of
 * `strata run`. All outputs appear together at the end, manifest.json last
 * with each output's SHA-256; a failed run leaves nothing under a final name;
 * a used folder is refused unless --overwrite, which removes the earlier run's
 * outputs; a killed run's staging folder and temporaries are removed by the
 * next; a second run into a locked folder is refused. Category labels with
 * '/' (ONS ethnicity labels) are data, never HDF5 paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPEC                                                                              \
    "synth:\n  patients: 2000\n  seed: %d\n"                                               \
    "model:\n  formula: \"emergency_admission_12m ~ age + sex + ltc_count\"\n"              \
    "evaluate:\n  by: [sex]\nthreads: 1\n"

/* <tmp>/<name>/spec.yaml for a synthetic run with the given seed; returns the
 * spec's path (static). */
static const char *write_spec(const char *name, int seed)
{
    static char path[4096];
    char text[1024];
    tu_run_sh(NULL, "rm -rf '%s' && mkdir -p '%s'", tu_tmp(name), tu_tmp(name));
    snprintf(path, sizeof path, "%s/spec.yaml", tu_tmp(name));
    snprintf(text, sizeof text, SPEC, seed);
    tu_write_file(path, text);
    return path;
}

/* A pid that named a process which has exited. */
static long dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    assert_true(p > 0);
    waitpid(p, NULL, 0);
    return (long)p;
}

/* Every output in manifest.json exists with the SHA-256 it lists, and every
 * visible entry of the folder is listed (tests/harden_kill9.sh checks the
 * same after kills). */
static void assert_folder_consistent(const char *dir)
{
    char *out = NULL;
    int rc = tu_run_sh(&out,
                       "cd '%s' && test -f manifest.json && "
                       "python3 -c 'import json,hashlib,os,sys\n"
                       "m=json.load(open(\"manifest.json\"))\n"
                       "listed={o[\"path\"]:o[\"sha256\"] for o in m[\"outputs\"]}\n"
                       "for p,h in listed.items():\n"
                       "  assert hashlib.sha256(open(p,\"rb\").read()).hexdigest()==h,p\n"
                       "extra=[e for e in os.listdir(\".\") if not e.startswith(\".\") and e!=\"manifest.json\" and e not in listed]\n"
                       "hidden=[e for e in os.listdir(\".\") if e.startswith(\".\")]\n"
                       "assert not extra and not hidden,(extra,hidden)\n"
                       "print(len(listed))' 2>&1",
                       dir);
    if (rc != 0)
        fprintf(stderr, "%s\n", out ? out : "");
    assert_int_equal(rc, 0);
    assert_true(atoi(out) >= 12);
    free(out);
}

/* #13: the manifest lists every output with its SHA-256; nothing else and no
 * staging folder is left in the folder. */
static void test_rundir__manifest_lists_every_output_with_its_sha256(void **state)
{
    char *out = NULL, dir[4096];
    const char *spec = write_spec("sha", 3);
    (void)state;
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("sha"));
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 0);
    free(out);
    assert_folder_consistent(dir);
}

/* #13: a used folder is refused (exit 2, naming it and what is there) and left
 * as it was; --overwrite replaces the earlier run, removing its outputs that
 * the new run does not write. */
static void test_rundir__used_folder_refused_unless_overwrite(void **state)
{
    char *out = NULL, *before, *after, dir[4096], path[4200];
    const char *spec = write_spec("used", 3);
    (void)state;
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("used"));
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 0);
    free(out);
    /* an output of the earlier run that the next does not write */
    snprintf(path, sizeof path, "%s/unscored.csv", dir);
    tu_write_file(path, "patient_id,row\r\n");
    tu_run_sh(NULL, "cd '%s' && python3 -c 'import json; m=json.load(open(\"manifest.json\")); "
                    "m[\"outputs\"].append({\"path\":\"unscored.csv\",\"kind\":\"patient\"}); "
                    "json.dump(m, open(\"manifest.json\",\"w\"))'",
              dir);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    before = tu_read_file(path, NULL);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 2);
    assert_contains(out, "holds the outputs of an earlier run");
    assert_contains(out, "--overwrite");
    assert_contains(out, dir);
    free(out);
    after = tu_read_file(path, NULL);
    assert_string_equal(before, after); /* untouched */
    free(after);
    assert_int_equal(tu_run_sh(NULL, "test -z \"$(ls -A '%s' | grep '^\\.')\"", dir), 0);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet --overwrite", spec, dir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/unscored.csv", dir);
    assert_int_equal(access(path, F_OK), -1);
    assert_folder_consistent(dir);
    free(before);
}

/* #13: a run that fails after writing outputs (here: the model stage, after
 * the synthetic cohort) leaves nothing under a final name, and its message
 * names the output folder, not the staging folder. */
static void test_rundir__failed_run_leaves_no_output(void **state)
{
    char *out = NULL, dir[4096], path[4200];
    (void)state;
    write_spec("fail", 3);
    snprintf(path, sizeof path, "%s/spec.yaml", tu_tmp("fail"));
    tu_write_file(path, "synth:\n  patients: 500\n  seed: 1\n"
                        "model:\n  formula: \"emergency_admission_12m ~ age + nope\"\nthreads: 1\n");
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("fail"));
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", path, dir), 7);
    assert_contains(out, "nope");
    assert_true(strstr(out, ".strata-run.") == NULL);
    free(out);
    assert_int_equal(tu_run_sh(NULL, "test -z \"$(ls -A '%s')\"", dir), 0);
}

/* #13: what a killed run left — its staging folder, a temporary of a dead
 * pid, an interrupted publication's journal and the files it names — is
 * recognised (refused without --overwrite) and removed by the next run. */
static void test_rundir__killed_runs_leftovers_are_removed(void **state)
{
    char *out = NULL, dir[4096];
    const char *spec = write_spec("stale", 4);
    long pid = dead_pid();
    (void)state;
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("stale"));
    tu_run_sh(NULL,
              "mkdir -p '%s/.strata-run.%ld.0badf00d' && echo x > '%s/.strata-run.%ld.0badf00d/patients.csv' && "
              "echo y > '%s/manifest.json.tmp.%ld' && printf 'patients.csv\\nmodel.h5\\n' > '%s/.strata-publish' && "
              "echo half > '%s/patients.csv'",
              dir, pid, dir, pid, dir, pid, dir, dir);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 2);
    assert_contains(out, "interrupted");
    free(out);
    /* the staging folder and the dead pid's temporary went even so */
    assert_int_equal(tu_run_sh(NULL, "test ! -e '%s/.strata-run.%ld.0badf00d' && test ! -e "
                                     "'%s/manifest.json.tmp.%ld'",
                               dir, pid, dir, pid),
                     0);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet --overwrite", spec, dir), 0);
    free(out);
    assert_folder_consistent(dir);
}

/* #13: a second run into a folder another run is writing is refused (exit 4). */
static void test_rundir__locked_folder_is_refused(void **state)
{
    char *out = NULL, dir[4096];
    const char *spec = write_spec("lock", 4);
    int fd;
    (void)state;
    snprintf(dir, sizeof dir, "%s/out", tu_tmp("lock"));
    assert_int_equal(mkdir(dir, 0755), 0);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s' --quiet", spec, dir), 4);
    assert_contains(out, "another strata run is writing into this folder");
    free(out);
    close(fd);
    assert_int_equal(tu_run_sh(NULL, "test -z \"$(ls -A '%s')\"", dir), 0);
}

/* #13 for single-file outputs (import, synth, derive, score): a dead pid's
 * temporary beside the output is removed, a live one's is left alone. */
static void test_rundir__stale_temporaries_beside_an_output_are_removed(void **state)
{
    char *out = NULL, h5[4096], stale[4200], live[4200];
    long pid = dead_pid();
    (void)state;
    snprintf(h5, sizeof h5, "%s", tu_tmp("single/c.h5"));
    tu_run_sh(NULL, "mkdir -p '%s'", tu_tmp("single"));
    snprintf(stale, sizeof stale, "%s.tmp.%ld.0badf00d", h5, pid);
    snprintf(live, sizeof live, "%s.tmp.%ld", h5, (long)getpid());
    tu_write_file(stale, "stale");
    tu_write_file(live, "live");
    assert_int_equal(tu_run_cli(&out, "synth --patients 200 --seed 1 --out '%s' --quiet", h5), 0);
    free(out);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    unlink(live);
}

/* #9: ONS ethnicity labels such as "Asian/Asian British" pass validate and
 * the whole run (it failed half way, exit 4, 7 of 12 outputs): the HDF5
 * aggregate datasets are named with '/' encoded and carry the exact label. */
static void test_run__slash_labels_are_data_not_hdf5_paths(void **state)
{
    char *out = NULL, dir[4096], path[4200], *csv;
    hid_t f, d, a, t;
    char label[256] = "";
    (void)state;
    write_spec("slash", 5);
    snprintf(dir, sizeof dir, "%s", tu_tmp("slash"));
    assert_int_equal(tu_run_cli(&out, "synth --patients 3000 --seed 5 --out '%s/s.h5' --quiet", dir), 0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "export '%s/s.h5' --out '%s/s.csv'", dir, dir), 0);
    free(out);
    assert_int_equal(tu_run_sh(NULL,
                               "sed -e 's/,Asian,/,Asian\\/Asian British,/; "
                               "s/,Black,/,Black\\/African\\/Caribbean\\/Black British,/' "
                               "'%s/s.csv' > '%s/ons.csv'",
                               dir, dir),
                     0);
    assert_int_equal(tu_run_cli(&out, "import '%s/ons.csv' --out '%s/ons.h5' --role patient_id=patient_id "
                                      "--role practice=practice --role pcn=pcn --role icb=icb "
                                      "--role imd_decile=imd_decile --role age=age --role sex=sex "
                                      "--role ethnicity=ethnicity --quiet",
                                dir, dir),
                     0);
    free(out);
    assert_int_equal(tu_run_cli(&out, "validate '%s/ons.h5'", dir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    tu_write_file(path, "cohort: ons.h5\nmodel:\n  formula: \"emergency_admission_12m ~ age + sex\"\n"
                        "evaluate:\n  by: [ethnicity]\nthreads: 1\n");
    assert_int_equal(tu_run_cli(&out, "run '%s' --out '%s/out' --quiet", path, dir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/out", dir);
    assert_folder_consistent(path);
    snprintf(path, sizeof path, "%s/out/fairness.csv", dir);
    csv = tu_read_file(path, NULL);
    assert_contains(csv, "Asian/Asian British");
    free(csv);
    snprintf(path, sizeof path, "%s/out/aggregates.h5", dir);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    d = H5Dopen2(f, "/inequality/n_eth_Asian%2FAsian British", H5P_DEFAULT);
    assert_true(d >= 0);
    a = H5Aopen(d, "name", H5P_DEFAULT);
    assert_true(a >= 0);
    t = H5Aget_type(a); /* strata writes a scalar string, fixed or variable length */
    if (H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        assert_true(H5Aread(a, t, &v) >= 0);
        snprintf(label, sizeof label, "%s", v);
        H5free_memory(v);
    } else {
        assert_true(H5Tget_size(t) < sizeof label);
        assert_true(H5Aread(a, t, label) >= 0);
    }
    assert_string_equal(label, "n_eth_Asian/Asian British");
    H5Tclose(t);
    H5Aclose(a);
    H5Dclose(d);
    H5Fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rundir__manifest_lists_every_output_with_its_sha256),
        cmocka_unit_test(test_rundir__used_folder_refused_unless_overwrite),
        cmocka_unit_test(test_rundir__failed_run_leaves_no_output),
        cmocka_unit_test(test_rundir__killed_runs_leftovers_are_removed),
        cmocka_unit_test(test_rundir__locked_folder_is_refused),
        cmocka_unit_test(test_rundir__stale_temporaries_beside_an_output_are_removed),
        cmocka_unit_test(test_run__slash_labels_are_data_not_hdf5_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
