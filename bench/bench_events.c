/* bench/bench_events.c — events per second of `strata import events` (a
 * generated 6-column CSV: id, date, code, method, value, cost) and of `strata
 * derive` (data/specs/derive_default.yaml on `strata synth` cohorts), with 1
 * and T threads, beside this machine's read bandwidth measured in the same run
 * and the load average before and after. Invariant: inputs come from fixed
 * seeds, every time is the best of --reps runs, each step runs in its own
 * process (its peak RSS is the step's), and derive's 1- and T-thread outputs
 * are checked to be the same bytes. Never part of the test suite.
 * usage: bench_events [--import N,N...] [--derive P,P...] [--threads T] [--reps R]
 *                     [--dir DIR] [--spec FILE] */
#include "strata/strata.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXN 8

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu(void) /* process CPU time, all threads */
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f) {
        if (fgets(buf, (int)n, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

static long max_rss_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;
}

/* Read bandwidth: sum of a 512 MiB array with t threads, best of reps (GB/s). */
static double read_bw(const double *a, size_t n, int t, int reps)
{
    double best = 0;
    for (int r = 0; r <= reps; r++) {
        double s = 0, t0 = now(), dt;
#pragma omp parallel for num_threads(t) reduction(+ : s) schedule(static)
        for (size_t i = 0; i < n; i++)
            s += a[i];
        dt = now() - t0;
        if (s == 42.0)
            fprintf(stderr, "!");
        if (r > 0 && n * 8 / dt / 1e9 > best)
            best = (double)n * 8 / dt / 1e9;
    }
    return best;
}

static uint64_t rng(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* patients.csv (npat 16-hex ids) and events.csv (nev rows, random order). */
static int gen_csv(const char *dir, long npat, long nev)
{
    static const char *const codes[] = {"I10X", "E119", "J449", "I500", "N390", "R074", "J189",
                                        "I489", "C509", "F03X", "K802", "S720"};
    char p[4096];
    FILE *f;
    uint64_t s = 20261130;
    snprintf(p, sizeof p, "%s/patients.csv", dir);
    if (!(f = fopen(p, "w")))
        return -1;
    fprintf(f, "id\n");
    for (long i = 0; i < npat; i++)
        fprintf(f, "%016llx\n", (unsigned long long)(0x5eed000000000000ULL + (uint64_t)i * 7919));
    fclose(f);
    snprintf(p, sizeof p, "%s/events.csv", dir);
    if (!(f = fopen(p, "w")))
        return -1;
    fprintf(f, "id,date,code,method,value,cost\n");
    for (long i = 0; i < nev; i++) {
        uint64_t r = rng(&s), q = rng(&s);
        fprintf(f, "%016llx,20%02d-%02d-%02d,%s,%s,%.1f,%d\n",
                (unsigned long long)(0x5eed000000000000ULL + (r % (uint64_t)npat) * 7919),
                (int)(15 + (q % 11)), (int)(1 + (q >> 8) % 12), (int)(1 + (q >> 16) % 28),
                codes[(r >> 32) % 12], (q >> 24) % 3 ? "emergency" : "elective",
                (double)((q >> 32) % 600) / 10.0, (int)(500 + (r >> 40) % 9000));
    }
    return fclose(f);
}

static int run_import(const char *dir, long nev, int reps)
{
    char pc[4096], ev[4096], co[4096], out[4096], la[128];
    strata_ctx *ctx = NULL;
    strata_csv_mapping *m = NULL;
    strata_csv_import_params ip;
    strata_events_import_params ep;
    strata_events_import_report rep;
    const char *code[] = {"code"}, *cat[] = {"method"}, *val[] = {"value", "cost"};
    double best[2] = {1e30, 1e30}, bcpu[2] = {1e30, 1e30};
    long npat = nev / 15 > 1000 ? nev / 15 : 1000;
    size_t runs = 0;
    snprintf(pc, sizeof pc, "%s/patients.csv", dir);
    snprintf(ev, sizeof ev, "%s/events.csv", dir);
    snprintf(co, sizeof co, "%s/ids.h5", dir);
    snprintf(out, sizeof out, "%s/ev.h5", dir);
    if (strata_ctx_new(&ctx) != STRATA_OK || gen_csv(dir, npat, nev))
        return 1;
    strata_csv_mapping_new(ctx, &m);
    strata_csv_mapping_set_role(m, STRATA_ROLE_PATIENT_ID, "id");
    strata_csv_import_params_init(&ip);
    ip.mapping = m;
    remove(co);
    if (strata_csv_import(ctx, pc, co, &ip, NULL) != STRATA_OK) {
        fprintf(stderr, "bench_events: %s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    strata_events_import_params_init(&ep);
    ep.table = "spells", ep.id_col = "id", ep.date_col = "date";
    ep.code_cols = code, ep.n_code_cols = 1, ep.code_system = "icd10";
    ep.cat_cols = cat, ep.n_cat_cols = 1, ep.value_cols = val, ep.n_value_cols = 2;
    for (int mode = 0; mode < 2; mode++) /* in memory; runs of nev/8 on disk */
        for (int r = 0; r < reps; r++) {
            double t0, c0;
            ep.run_rows = mode ? (size_t)(nev / 8 + 1) : 0;
            remove(out);
            t0 = now();
            c0 = cpu();
            if (strata_events_import(ctx, ev, co, out, &ep, &rep) != STRATA_OK) {
                fprintf(stderr, "bench_events: %s\n", strata_ctx_errmsg(ctx));
                return 1;
            }
            best[mode] = now() - t0 < best[mode] ? now() - t0 : best[mode];
            bcpu[mode] = cpu() - c0 < bcpu[mode] ? cpu() - c0 : bcpu[mode];
            runs = mode ? rep.n_runs : runs;
        }
    loadavg(la, sizeof la);
    printf("| import | %ld | %ld | 1 | %.2f (CPU %.2f) | %.2f M/s (CPU %.2f M/s) | %.2f M/s, CPU "
           "%.2f M/s (%zu runs on disk) | %ld | %s |\n", nev, npat, best[0], bcpu[0],
           nev / best[0] / 1e6, nev / bcpu[0] / 1e6, nev / best[1] / 1e6, nev / bcpu[1] / 1e6, runs,
           max_rss_mb(), la);
    fflush(stdout);
    strata_csv_mapping_free(m);
    strata_ctx_free(ctx);
    return 0;
}

static int run_derive(const char *dir, const char *spec, long npat, int T, int reps)
{
    char co[4096], o1[4096], o2[4096], la[128], cmd[9000];
    strata_ctx *ctx = NULL;
    strata_synth_params sp;
    strata_synth *s = NULL;
    strata_synth_summary sum;
    strata_derive_report rep;
    double best[2] = {1e30, 1e30}, bcpu[2] = {1e30, 1e30};
    int same;
    snprintf(co, sizeof co, "%s/synth.h5", dir);
    snprintf(o1, sizeof o1, "%s/d1.h5", dir);
    snprintf(o2, sizeof o2, "%s/d2.h5", dir);
    if (strata_ctx_new(&ctx) != STRATA_OK)
        return 1;
    strata_synth_params_init(&sp);
    sp.scope = STRATA_SYNTH_ENGLAND;
    sp.n_patients = npat;
    strata_ctx_set_threads(ctx, T);
    remove(co);
    if (strata_synth_new(ctx, &sp, &s) != STRATA_OK ||
        strata_synth_write(ctx, s, co, &sum) != STRATA_OK) {
        fprintf(stderr, "bench_events: %s\n", strata_ctx_errmsg(ctx));
        return 1;
    }
    strata_synth_free(s);
    for (int k = 0; k < 2; k++)
        for (int r = 0; r < reps; r++) {
            double t0, c0;
            strata_ctx_set_threads(ctx, k ? T : 1);
            remove(k ? o2 : o1);
            t0 = now();
            c0 = cpu();
            if (strata_derive(ctx, co, spec, k ? o2 : o1, &rep) != STRATA_OK) {
                fprintf(stderr, "bench_events: %s\n", strata_ctx_errmsg(ctx));
                return 1;
            }
            best[k] = now() - t0 < best[k] ? now() - t0 : best[k];
            bcpu[k] = cpu() - c0 < bcpu[k] ? cpu() - c0 : bcpu[k];
        }
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", o1, o2);
    same = system(cmd) == 0;
    loadavg(la, sizeof la);
    printf("| derive | %zu | %ld | 1 / %d | %.2f / %.2f (CPU %.2f / %.2f) | %.1f M/s (CPU %.1f M/s) "
           "| %.1f M/s with %d (%s) | %ld | %s |\n", rep.n_events, npat, T, best[0], best[1],
           bcpu[0], bcpu[1], (double)rep.n_events / best[0] / 1e6,
           (double)rep.n_events / bcpu[0] / 1e6, (double)rep.n_events / best[1] / 1e6, T,
           same ? "same bytes" : "BYTES DIFFER", max_rss_mb(), la);
    fflush(stdout);
    strata_ctx_free(ctx);
    remove(co);
    return same ? 0 : 1;
}

static int parse_list(const char *s, long *v)
{
    int n = 0;
    for (char *e; *s && n < MAXN; s = *e ? e + 1 : e)
        v[n++] = strtol(s, &e, 10);
    return n;
}

int main(int argc, char **argv)
{
    long imp[MAXN] = {2000000}, der[MAXN] = {300000};
    int nimp = 1, nder = 1, T = 2, reps = 2, rc = 0;
    const char *dir = "/tmp", *spec = STRATA_SOURCE_DIR "/data/specs/derive_default.yaml";
    char la[128];
    size_t nbw = (size_t)1 << 26;
    double *a;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--import"))
            nimp = parse_list(argv[i + 1], imp);
        else if (!strcmp(argv[i], "--derive"))
            nder = parse_list(argv[i + 1], der);
        else if (!strcmp(argv[i], "--threads"))
            T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--spec"))
            spec = argv[i + 1];
    }
    loadavg(la, sizeof la);
    printf("load before: %s\n", la);
    fflush(stdout);
    if (fork() == 0) { /* OpenMP only in children: libgomp's pool does not survive fork */
        if (!(a = malloc(nbw * sizeof *a)))
            _exit(3);
#pragma omp parallel for num_threads(T)
        for (size_t i = 0; i < nbw; i++)
            a[i] = (double)(i % 1000);
        printf("read bandwidth (sum of 512 MiB): %.1f GB/s (1 thread), %.1f GB/s (%d threads)\n\n",
               read_bw(a, nbw, 1, reps), read_bw(a, nbw, T, reps), T);
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    printf("| step | events | patients | threads | best s | events/s (1 thread) | events/s "
           "(other) | max RSS MB | load after |\n|---|---:|---:|---|---:|---:|---:|---:|---|\n");
    for (int k = 0; k < nimp + nder && !rc; k++) { /* each step in its own process: its peak RSS */
        pid_t pid;
        fflush(stdout); /* the children must not print the parent's buffer again */
        pid = fork();
        int status = 1;
        if (pid == 0)
            _exit(k < nimp ? run_import(dir, imp[k], reps)
                           : run_derive(dir, spec, der[k - nimp], T, reps));
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
            return 1;
        rc = WEXITSTATUS(status);
    }
    return rc;
}
