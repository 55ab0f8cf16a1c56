/* labels: unit */
/* tests/test_layers.c — the folders are the architecture (docs/architecture.md).
 * Scans every #include under engine/ and models/ against the layer policy
 * below, checks that CMakeLists.txt gives no layer more include directories
 * than the policy allows, that libstrata.so exports only the STRATA_API
 * functions declared in include/strata/, and that the library allocates only
 * through the context (PLAIN_ALLOC_OK). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A layer, the folders whose headers it may include (its own always), the
 * public headers it may include ("*" = any) and the system headers it must not. */
typedef struct layer_rule {
    const char *dir;
    const char *sees[8];
    const char *forbidden_sys[12];
} layer_rule;

#define NO_IO_LIBS "hdf5.h", "H5", "csv.h", "yaml.h", "openssl/", "xlsxwriter"
#define NO_BLAS "cblas.h", "lapacke.h", "openblas"
#define NO_MPI "mpi.h"

static const layer_rule RULES[] = {
    {"engine/core", {NULL}, {NO_IO_LIBS, NO_BLAS, "jansson.h", NO_MPI}},
    {"models/linalg", {"engine/core"}, {NO_IO_LIBS, "jansson.h", NO_MPI}},
    {"models/glm", {"engine/core", "models/linalg"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"models/scores", {"engine/core"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"models/cox", {"engine/core", "models/linalg", "models/glm"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"models/elnet", {"engine/core", "models/linalg", "models/glm", "models/cox"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/io", {"engine/core"}, {NO_BLAS, NO_MPI}},
    {"engine/model", {"engine/core", "engine/io", "models/glm", "models/linalg", "models/cox", "models/elnet"},
     {"csv.h", "yaml.h", NO_BLAS, NO_MPI}},
    {"engine/synth", {"engine/core", "engine/io"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/evaluate", {"engine/core", "engine/io", "models/glm", "models/linalg"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/stratify", {"engine/core"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/aggregate", {"engine/core", "engine/io", "engine/stratify"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/report", {"engine/core", "engine/io", "engine/stratify"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/run", {"engine/core", "engine/io"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/derive", {"engine/core", "engine/io", "models/scores"}, {NO_IO_LIBS, NO_BLAS, NO_MPI}},
    {"engine/mpi", {"engine/core"}, {"csv.h", "yaml.h", "openssl/", "xlsxwriter", NO_BLAS, "jansson.h"}},
    {"engine/cli", {NULL}, {NO_IO_LIBS, NO_BLAS, "jansson.h", NO_MPI}},
};
#define NRULES (sizeof RULES / sizeof RULES[0])

/* Files whose departure from the policy is known and tracked in
 * docs/architecture.md ("Departures"); each entry is "file|include", the list
 * ends with NULL. Empty: every file follows the policy. */
static const char *const EXCEPTIONS[] = {NULL};

static const layer_rule *rule_for(const char *dir)
{
    for (size_t i = 0; i < NRULES; i++)
        if (strcmp(RULES[i].dir, dir) == 0)
            return &RULES[i];
    return NULL;
}

static int may_see(const layer_rule *r, const char *dir)
{
    if (!r)
        return 0;
    if (strcmp(r->dir, dir) == 0)
        return 1;
    for (size_t i = 0; i < 8 && r->sees[i]; i++)
        if (strcmp(r->sees[i], dir) == 0)
            return 1;
    return 0;
}

static int excepted(const char *file, const char *inc)
{
    char key[2048];
    snprintf(key, sizeof key, "%s|%s", file, inc);
    for (size_t i = 0; EXCEPTIONS[i]; i++)
        if (strcmp(EXCEPTIONS[i], key) == 0)
            return 1;
    return 0;
}

/* The folder (relative to the source dir) holding header name, or NULL. */
static const char *header_home(const char *name, char *buf, size_t size)
{
    static const char *const roots[] = {"engine", "models"};
    for (size_t r = 0; r < 2; r++) {
        char path[1024];
        DIR *d;
        struct dirent *e;
        snprintf(path, sizeof path, "%s/%s", tu_source_dir(), roots[r]);
        if (!(d = opendir(path)))
            continue;
        while ((e = readdir(d))) {
            struct stat st;
            char f[1400];
            if (e->d_name[0] == '.')
                continue;
            snprintf(f, sizeof f, "%s/%s/%s", path, e->d_name, name);
            if (stat(f, &st) == 0) {
                snprintf(buf, size, "%s/%s", roots[r], e->d_name);
                closedir(d);
                return buf;
            }
        }
        closedir(d);
    }
    return NULL;
}

/* Library files that may call malloc/calloc/realloc themselves: the default
 * allocator behind the context's hook, and the HDF5 probe's forked child
 * (its memory dies with it). Every other allocation of the library goes
 * through the context, so the allocation-failure sweep reaches it (issue 17;
 * engine/mpi's gather counts escaped it). The CLI is a program, not the
 * library: it is not scanned for this. */
static const char *const PLAIN_ALLOC_OK[] = {"engine/core/ctx.c", "engine/io/h5_probe.c", NULL};

/* 1 when line calls malloc, calloc or realloc (not strata_alloc, xrealloc...). */
static int plain_alloc_call(const char *line)
{
    static const char *const fn[] = {"malloc(", "calloc(", "realloc("};
    const char *c = strstr(line, "//"), *b = strstr(line, "/*");
    for (size_t k = 0; k < 3; k++)
        for (const char *p = strstr(line, fn[k]); p; p = strstr(p + 1, fn[k]))
            if ((p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
                !(c && c < p) && !(b && b < p) && strncmp(line, " * ", 3) != 0)
                return 1;
    return 0;
}

static int scan_file(const char *dir, const char *file, const layer_rule *r)
{
    char path[1400], line[1024], rel[1400];
    int bad = 0, lineno = 0;
    FILE *fp;
    snprintf(path, sizeof path, "%s/%s/%s", tu_source_dir(), dir, file);
    snprintf(rel, sizeof rel, "%s/%s", dir, file);
    assert_non_null(fp = fopen(path, "r"));
    while (fgets(line, sizeof line, fp)) {
        char inc[512], home[512];
        int alloc_ok = strcmp(dir, "engine/cli") == 0;
        lineno++;
        for (size_t k = 0; PLAIN_ALLOC_OK[k]; k++)
            alloc_ok |= strcmp(rel, PLAIN_ALLOC_OK[k]) == 0;
        if (!alloc_ok && plain_alloc_call(line)) {
            fprintf(stderr, "%s:%d: calls the C allocator; allocate through the context "
                            "(strata_alloc) so the allocation-failure sweep reaches it\n",
                    rel, lineno);
            bad++;
        }
        if (sscanf(line, " # include \"%511[^\"]\"", inc) == 1) {
            if (strncmp(inc, "strata/", 7) == 0)
                continue; /* the public API: every layer may use its types */
            if (!header_home(inc, home, sizeof home)) {
                fprintf(stderr, "%s:%d: includes \"%s\", found in no layer\n", rel, lineno, inc);
                bad++;
            } else if (!may_see(r, home) && !excepted(rel, inc)) {
                fprintf(stderr, "%s:%d: layer %s may not include %s/%s\n", rel, lineno, dir, home,
                        inc);
                bad++;
            }
        } else if (sscanf(line, " # include <%511[^>]>", inc) == 1) {
            for (size_t k = 0; k < 12 && r->forbidden_sys[k]; k++)
                if (strncmp(inc, r->forbidden_sys[k], strlen(r->forbidden_sys[k])) == 0 &&
                    !excepted(rel, inc)) {
                    fprintf(stderr, "%s:%d: layer %s may not include <%s>\n", rel, lineno, dir, inc);
                    bad++;
                }
        }
    }
    fclose(fp);
    return bad;
}

/* Every folder under engine/ and models/ has a rule, and every #include in it
 * follows the rule. */
static void test_layers__includes_follow_the_policy(void **state)
{
    static const char *const roots[] = {"engine", "models"};
    int bad = 0, files = 0;
    (void)state;
    for (size_t ri = 0; ri < 2; ri++) {
        char path[1024];
        DIR *d;
        struct dirent *e;
        snprintf(path, sizeof path, "%s/%s", tu_source_dir(), roots[ri]);
        assert_non_null(d = opendir(path));
        while ((e = readdir(d))) {
            char dir[600], dpath[1700];
            const layer_rule *r;
            DIR *dd;
            struct dirent *f;
            if (e->d_name[0] == '.')
                continue;
            snprintf(dir, sizeof dir, "%s/%s", roots[ri], e->d_name);
            r = rule_for(dir);
            if (!r) {
                fprintf(stderr, "folder %s has no layer rule (tests/test_layers.c)\n", dir);
                bad++;
                continue;
            }
            snprintf(dpath, sizeof dpath, "%s/%s", tu_source_dir(), dir);
            assert_non_null(dd = opendir(dpath));
            while ((f = readdir(dd))) {
                size_t n = strlen(f->d_name);
                if (n > 2 && (strcmp(f->d_name + n - 2, ".c") == 0 ||
                              strcmp(f->d_name + n - 2, ".h") == 0)) {
                    bad += scan_file(dir, f->d_name, r);
                    files++;
                }
            }
            closedir(dd);
        }
        closedir(d);
    }
    assert_true(files > 50);
    assert_int_equal(bad, 0);
}

/* A planted forbidden edge is caught: the scanner itself works. */
static void test_layers__scanner_catches_a_forbidden_edge(void **state)
{
    char home[512];
    (void)state;
    assert_non_null(header_home("cohort_internal.h", home, sizeof home));
    assert_string_equal(home, "engine/io");
    assert_false(may_see(rule_for("models/glm"), home));
    assert_true(may_see(rule_for("engine/synth"), home));
    assert_false(may_see(rule_for("engine/core"), "models/linalg"));
}

/* CMakeLists.txt gives no layer an include directory the policy forbids. */
static void test_layers__cmake_sees_match_the_policy(void **state)
{
    char *cm = tu_read_file(tu_src("CMakeLists.txt"), NULL);
    const char *p = cm;
    int layers = 0;
    (void)state;
    assert_non_null(cm);
    while ((p = strstr(p, "\nstrata_layer("))) {
        char name[64], dir[128];
        const char *end = strchr(p, ')'), *sees;
        const layer_rule *r;
        p += 14;
        assert_int_equal(sscanf(p, "%63s %127s", name, dir), 2);
        assert_non_null(r = rule_for(dir));
        layers++;
        sees = strstr(p, "SEES");
        if (sees && sees < end) {
            char tok[128];
            const char *q = sees + 4;
            int used;
            while (q < end && sscanf(q, "%127s%n", tok, &used) == 1) {
                char *paren = strchr(tok, ')');
                if (paren)
                    *paren = '\0';
                if (strcmp(tok, "DEPS") == 0 || tok[0] == '\0')
                    break;
                if (!may_see(r, tok)) {
                    fprintf(stderr, "CMakeLists.txt: layer %s SEES %s against the policy\n", dir, tok);
                    fail();
                }
                q += used;
            }
        }
    }
    assert_true(layers >= 12);
    free(cm);
}

/* Is name declared with STRATA_API in a public header? */
static int declared_public(const char *name)
{
    static const char *const hdrs[] = {"core.h",  "dist.h",     "cohort.h", "csvio.h",
                                       "synth.h", "model.h",    "evaluate.h", "stratify.h",
                                       "run.h",   "derive.h",   "cox.h",    "elnet.h",  "bench.h",
                                       "table.h", "mpi.h"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        char path[256], pat[512];
        char *text, *hit;
        snprintf(path, sizeof path, "include/strata/%s", hdrs[i]);
        if (!(text = tu_read_file(tu_src(path), NULL)))
            continue;
        snprintf(pat, sizeof pat, "%s(", name);
        for (hit = strstr(text, pat); hit; hit = strstr(hit + 1, pat)) {
            /* the declaration's line starts with STRATA_API */
            const char *bol = hit;
            while (bol > text && bol[-1] != '\n')
                bol--;
            if ((hit == text || !(hit[-1] == '_' || (hit[-1] >= 'a' && hit[-1] <= 'z'))) &&
                strncmp(bol, "STRATA_API", 10) == 0) {
                free(text);
                return 1;
            }
        }
        free(text);
    }
    return 0;
}

/* libstrata.so exports only strata_* functions, each declared STRATA_API in
 * include/strata. Sanitizer runtimes add their own __asan/__ubsan symbols. */
static void test_layers__shared_library_exports_only_the_public_api(void **state)
{
    const char *build = getenv("STRATA_BUILD_DIR");
    char cmd[1200], line[512];
    FILE *p;
    int n = 0, bad = 0;
    (void)state;
    assert_non_null(build);
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/libstrata.so' 2>&1", build);
    assert_non_null(p = popen(cmd, "r"));
    while (fgets(line, sizeof line, p)) {
        char addr[64], type[8], sym[400];
        if (sscanf(line, "%63s %7s %399s", addr, type, sym) != 3)
            continue;
        if (strncmp(sym, "__asan", 6) == 0 || strncmp(sym, "__odr_asan", 10) == 0 ||
            strncmp(sym, "__ubsan", 7) == 0 || strcmp(type, "A") == 0)
            continue;
        /* linker-defined section bounds: exported by ld once a dependency
         * (libxlsxwriter's) refers to them; not code */
        if (!strcmp(sym, "_edata") || !strcmp(sym, "_end") || !strcmp(sym, "__bss_start"))
            continue;
        n++;
        if (strncmp(sym, "strata_", 7) != 0 || !declared_public(sym)) {
            fprintf(stderr, "exported but not public API: %s\n", sym);
            bad++;
        }
    }
    assert_int_equal(pclose(p), 0);
    assert_true(n > 100);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers__includes_follow_the_policy),
        cmocka_unit_test(test_layers__scanner_catches_a_forbidden_edge),
        cmocka_unit_test(test_layers__cmake_sees_match_the_policy),
        cmocka_unit_test(test_layers__shared_library_exports_only_the_public_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
