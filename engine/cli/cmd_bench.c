/* engine/cli/cmd_bench.c — `strata bench [--size pcn|icb|england|N] [--threads T]
 * [--dir DIR] [--json FILE] [--mem-limit SIZE] [--file-mb M] [--quick]`: the
 * standard workload of docs/scale.md (synth → fit → score → evaluate on a
 * synthetic England-shaped cohort of the size given), each stage with the
 * threads as launched and again with one thread, this node's limits measured in
 * the same run (strata_node_measure), printed as a table and written as JSON
 * (every field documented in docs/scale.md). Timings are reported, never
 * judged: the exit code says only whether the workload ran. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "strata bench [--size pcn|icb|england|N] [--threads T] [--dir DIR] [--json FILE]\n"
    "             [--mem-limit SIZE] [--file-mb M] [--quick] [--quiet]\n"
    "  --size      pcn = 50,000, icb = 500,000, england = 64,000,000 patients, or N (default pcn)\n"
    "  --dir       scratch directory for the cohort and the probe file (default $TMPDIR or /tmp)\n"
    "  --json      where the JSON goes (default strata-bench.json)\n"
    "  --file-mb   size of the file-read probe in MiB (default 1024; --quick 64)\n"
    "  --quick     small probe sizes (a smoke test; the limits are rougher)";

#define BENCH_FORMULA                                                                        \
    "emergency_admission_12m ~ rcs(age, 4) + sex + imd_decile + ltc_count + efi_deficits + " \
    "prior_emergency_12m + ae_attendances_12m + age:sex"
#define BENCH_OUTCOME "emergency_admission_12m"
#define BENCH_NVARS 8 /* columns the fit reads (outcome and 7 variables) */

enum { ST_SYNTH, ST_FIT, ST_SCORE, ST_EVALUATE, N_STAGES };
static const char *const STAGE_NAME[N_STAGES] = {"synth", "fit", "score", "evaluate"};

typedef struct stage_res {
    double s[2];       /* seconds with T threads, with 1 */
    double flops;      /* floating-point work of the stage (estimate), 0 when not counted */
    double mem_bytes;  /* bytes of columns streamed through memory (estimate) */
    double file_bytes; /* bytes of columns read from the cohort file */
} stage_res;

typedef struct bench {
    const char *size_name, *dir, *json;
    int64_t n;
    int threads, quick;
    size_t mem_limit, file_mb;
    char work[4096];
    stage_res st[N_STAGES];
    size_t p, n_used, cohort_bytes, nrows; /* nrows: the cohort's patients */
    int iterations;
    double load[2];
    strata_node_limits lim;
} bench;

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One run of the workload on threads threads (k = 0: T, 1: one thread). */
static strata_status run_workload(strata_ctx *ctx, bench *b, int k)
{
    char path[4200];
    strata_synth_params sp;
    strata_synth *sy = NULL;
    strata_cohort *c = NULL;
    strata_model *m = NULL;
    strata_glm_params gp;
    strata_eval_params ep;
    strata_eval_input in;
    strata_eval_report *rep = NULL;
    double *y = NULL, *lp = NULL, *pr = NULL, t0;
    size_t n, j;
    strata_status st;
    snprintf(path, sizeof path, "%s/cohort%d.h5", b->work, k);
    strata_synth_params_init(&sp);
    sp.scope = STRATA_SYNTH_ENGLAND;
    sp.n_patients = b->n;
    t0 = wall();
    if ((st = strata_synth_new(ctx, &sp, &sy)) == STRATA_OK)
        st = strata_synth_write(ctx, sy, path, NULL);
    strata_synth_free(sy);
    b->st[ST_SYNTH].s[k] = wall() - t0;
    if (st != STRATA_OK)
        return st;
    if (k == 0) {
        struct stat sb;
        b->cohort_bytes = stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
    }
    if ((st = strata_cohort_open(ctx, path, &c)) != STRATA_OK)
        return st;
    n = strata_cohort_nrows(c);
    if (k == 0)
        b->nrows = n;
    strata_glm_params_init(&gp);
    gp.formula = BENCH_FORMULA;
    t0 = wall();
    st = strata_glm_fit(ctx, c, &gp, &m);
    b->st[ST_FIT].s[k] = wall() - t0;
    if (st == STRATA_OK && k == 0) {
        strata_fit_summary s;
        strata_model_summary(m, &s);
        b->p = strata_model_nterms(m);
        b->iterations = s.iterations;
        b->n_used = s.n_used;
    }
    y = malloc((n + 1) * sizeof *y);
    lp = malloc((n + 1) * sizeof *lp);
    pr = malloc((n + 1) * sizeof *pr);
    if (st == STRATA_OK && (!y || !lp || !pr))
        st = STRATA_ENOMEM;
    if (st == STRATA_OK) {
        t0 = wall();
        st = strata_score(ctx, m, c, STRATA_UNSEEN_ERROR, lp, pr);
        b->st[ST_SCORE].s[k] = wall() - t0;
    }
    if (st == STRATA_OK && (st = strata_cohort_find(ctx, c, BENCH_OUTCOME, &j)) == STRATA_OK)
        st = strata_cohort_read_f64(ctx, c, j, 0, n, y);
    if (st == STRATA_OK) {
        memset(&in, 0, sizeof in);
        in.n = n;
        in.y = y;
        in.p = pr;
        strata_eval_params_init(&ep);
        t0 = wall();
        st = strata_evaluate(ctx, &in, &ep, &rep);
        b->st[ST_EVALUATE].s[k] = wall() - t0;
    }
    strata_eval_report_free(ctx, rep);
    free(y);
    free(lp);
    free(pr);
    strata_model_free(ctx, m);
    strata_cohort_close(c);
    unlink(path);
    return st;
}

/* The work of each stage (docs/scale.md "strata bench"): the fit's passes are
 * its iterations plus the starting and final passes; a pass reads the model's
 * columns and forms the (p + 1) x (p + 1) extended Gram, (p + 1)(p + 2) flops a row. */
static void stage_work(bench *b, size_t n)
{
    double nn = (double)n, p = (double)b->p, passes = b->iterations + 2.0;
    b->st[ST_SYNTH].file_bytes = 0;
    b->st[ST_FIT].flops = passes * (double)b->n_used * (p + 1) * (p + 2);
    b->st[ST_FIT].mem_bytes = passes * nn * BENCH_NVARS * 8;
    b->st[ST_FIT].file_bytes = nn * BENCH_NVARS * 8;
    b->st[ST_SCORE].flops = 2 * nn * p;
    b->st[ST_SCORE].mem_bytes = nn * (BENCH_NVARS - 1) * 8;
    b->st[ST_SCORE].file_bytes = nn * (BENCH_NVARS - 1) * 8;
    b->st[ST_EVALUATE].mem_bytes = nn * 2 * 8;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A number, or null when not measured (x <= 0 or not finite). */
static void json_num(FILE *f, double x)
{
    if (x > 0 && x < 1e300)
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

static double ratio(double a, double b) { return a > 0 && b > 0 ? a / b : 0; }

static void cpu_model(char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, size, "unknown");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            snprintf(buf, size, "%s", c + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
}

/* strata_build_info's "key: value" lines as a JSON object. */
static void json_build(FILE *f)
{
    char info[4096], *line, *save = NULL;
    int first = 1;
    strata_build_info(info, sizeof info);
    fputc('{', f);
    for (line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c = strchr(line, ':');
        if (!c)
            continue;
        *c++ = 0;
        while (*c == ' ')
            c++;
        fputs(first ? "" : ", ", f);
        json_str(f, line);
        fputs(": ", f);
        json_str(f, c);
        first = 0;
    }
    fputc('}', f);
}

static void write_json(FILE *f, const bench *b, size_t n, const double load[2])
{
    char buf[1024];
    const strata_node_limits *L = &b->lim;
    fprintf(f, "{\n  \"schema\": \"strata-bench/1\",\n  \"strata_version\": ");
    json_str(f, strata_version());
    fprintf(f, ",\n  \"workload\": {\"size\": ");
    json_str(f, b->size_name);
    fprintf(f, ", \"patients\": %zu, \"formula\": ", n);
    json_str(f, BENCH_FORMULA);
    fprintf(f, ", \"p\": %zu, \"iterations\": %d, \"n_used\": %zu, \"cohort_bytes\": %zu, \"mem_limit\": %zu},\n",
            b->p, b->iterations, b->n_used, b->cohort_bytes, b->mem_limit);
    fprintf(f, "  \"threads\": %d,\n  \"load_avg_1m\": {\"start\": %.2f, \"end\": %.2f},\n", b->threads,
            load[0], load[1]);
    cpu_model(buf, sizeof buf);
    fprintf(f, "  \"config\": {\"cpu_model\": ");
    json_str(f, buf);
    fprintf(f, ", \"logical_cpus\": %ld, \"blas\": ", sysconf(_SC_NPROCESSORS_ONLN));
    strata_blas_config(buf, sizeof buf);
    json_str(f, buf);
    fprintf(f, ", \"build\": ");
    json_build(f);
    fprintf(f, "},\n  \"limits\": {\"dgemm_gflops\": ");
    json_num(f, L->dgemm_gflops);
    fprintf(f, ", \"dgemm_gflops_1thread\": ");
    json_num(f, L->dgemm_gflops_1);
    fprintf(f, ", \"dgemm_m\": %d, \"mem_read_gbs\": ", L->dgemm_m);
    json_num(f, L->mem_read_gbs);
    fprintf(f, ", \"mem_read_gbs_1thread\": ");
    json_num(f, L->mem_read_gbs_1);
    fprintf(f, ", \"mem_bytes\": %zu, \"file_read_gbs\": ", L->mem_bytes);
    json_num(f, L->file_read_gbs);
    fprintf(f, ", \"file_bytes\": %zu, \"file_cold\": %s},\n  \"stages\": [\n", L->file_bytes,
            L->file_cold ? "true" : "false");
    for (int k = 0; k < N_STAGES; k++) {
        const stage_res *r = &b->st[k];
        double t = r->s[0];
        fprintf(f, "    {\"stage\": \"%s\", \"seconds\": ", STAGE_NAME[k]);
        json_num(f, t);
        fprintf(f, ", \"seconds_1thread\": ");
        json_num(f, r->s[1]);
        fprintf(f, ", \"patients_per_s\": ");
        json_num(f, ratio((double)n, t));
        fprintf(f, ", \"parallel_efficiency\": ");
        json_num(f, ratio(r->s[1], t * b->threads));
        fprintf(f, ", \"gflops\": ");
        json_num(f, ratio(r->flops, t) * 1e-9);
        fprintf(f, ", \"mem_gbs\": ");
        json_num(f, ratio(r->mem_bytes, t) * 1e-9);
        fprintf(f, ", \"file_gbs\": ");
        json_num(f, ratio(r->file_bytes, t) * 1e-9);
        fprintf(f, ", \"fraction\": {\"dgemm\": ");
        json_num(f, ratio(ratio(r->flops, t) * 1e-9, L->dgemm_gflops));
        fprintf(f, ", \"mem_read\": ");
        json_num(f, ratio(ratio(r->mem_bytes, t) * 1e-9, L->mem_read_gbs));
        fprintf(f, ", \"file_read\": ");
        json_num(f, ratio(ratio(r->file_bytes, t) * 1e-9, L->file_read_gbs));
        fprintf(f, "}}%s\n", k + 1 < N_STAGES ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

static void print_table(const bench *b, size_t n, const double load[2])
{
    const strata_node_limits *L = &b->lim;
    printf("strata bench: %s, %zu patients, %d threads (load average %.2f -> %.2f)\n", b->size_name, n,
           b->threads, load[0], load[1]);
    printf("limits: DGEMM %.1f GFLOP/s (1 thread %.1f); memory read %.1f GB/s (1 thread %.1f); file read %.2f GB/s%s\n",
           L->dgemm_gflops, L->dgemm_gflops_1, L->mem_read_gbs, L->mem_read_gbs_1, L->file_read_gbs,
           L->file_cold ? "" : " (page cache not dropped)");
    printf("%-9s %10s %10s %14s %10s %9s %9s %9s\n", "stage", "seconds", "1 thread", "patients/s",
           "par. eff.", "%DGEMM", "%memory", "%file");
    for (int k = 0; k < N_STAGES; k++) {
        const stage_res *r = &b->st[k];
        double t = r->s[0];
        printf("%-9s %10.3f %10.3f %14.0f %10.2f %9.2f %9.2f %9.2f\n", STAGE_NAME[k], t, r->s[1],
               ratio((double)n, t), ratio(r->s[1], t * b->threads),
               100 * ratio(ratio(r->flops, t) * 1e-9, L->dgemm_gflops),
               100 * ratio(ratio(r->mem_bytes, t) * 1e-9, L->mem_read_gbs),
               100 * ratio(ratio(r->file_bytes, t) * 1e-9, L->file_read_gbs));
    }
}

static int parse_size_name(bench *b, const char *v)
{
    long long x;
    char *end;
    b->size_name = v;
    if (!strcmp(v, "pcn"))
        b->n = 50000;
    else if (!strcmp(v, "icb"))
        b->n = 500000;
    else if (!strcmp(v, "england"))
        b->n = 64000000;
    else if ((x = strtoll(v, &end, 10)) >= 100 && !*end && x <= 1000000000LL)
        b->n = x;
    else
        return -1;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench b;
    cli_common co = {0, 0, 0};
    strata_ctx *ctx = NULL, *ctx1 = NULL;
    strata_status st = STRATA_OK;
    double load[2] = {0, 0};
    char probe[4200], tmp[4200];
    FILE *f;
    int rc = 0;
    memset(&b, 0, sizeof b);
    parse_size_name(&b, "pcn");
    b.json = "strata-bench.json";
    b.dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long t;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n", USAGE);
            return 0;
        }
        if (!strcmp(a, "--quick") || !strcmp(a, "--quiet")) {
            *(a[3] == 'u' ? &b.quick : &co.quiet) = 1;
            continue;
        }
        if (!v)
            return cli_usage_error("bench", USAGE, "%s needs a value (or is unknown)", a);
        i++;
        if (!strcmp(a, "--size") && parse_size_name(&b, v) == 0)
            continue;
        if (!strcmp(a, "--threads") && cli_parse_long(v, 0, 1024, &t) == 0) {
            co.threads = (int)t;
            continue;
        }
        if (!strcmp(a, "--file-mb") && cli_parse_long(v, 1, 1 << 20, &t) == 0) {
            b.file_mb = (size_t)t;
            continue;
        }
        if (!strcmp(a, "--mem-limit") && strata_parse_size(v, &b.mem_limit) == 0)
            continue;
        if (!strcmp(a, "--dir") || !strcmp(a, "--json")) {
            *(a[2] == 'd' ? &b.dir : &b.json) = v;
            continue;
        }
        return cli_usage_error("bench", USAGE, "bad option or value: %s %s", a, v);
    }
    if (!b.file_mb)
        b.file_mb = b.quick ? 64 : 1024;
    snprintf(b.work, sizeof b.work, "%s/strata-bench-XXXXXX", b.dir);
    if (!mkdtemp(b.work)) {
        fprintf(stderr, "strata bench: error: cannot create a scratch directory under %s\n", b.dir);
        return 4;
    }
    if (!(ctx = cli_ctx_new(&co)) || !(ctx1 = cli_ctx_new(&co))) {
        strata_ctx_free(ctx);
        rmdir(b.work);
        return 3;
    }
    b.threads = strata_ctx_threads(ctx);
    strata_ctx_set_threads(ctx1, 1);
    strata_ctx_set_memory_budget(ctx, b.mem_limit);
    strata_ctx_set_memory_budget(ctx1, b.mem_limit);
    getloadavg(load, 1);
    snprintf(probe, sizeof probe, "%s/probe.bin", b.work);
    st = strata_node_measure(ctx, probe, b.file_mb << 20, b.quick, &b.lim);
    if (st == STRATA_OK)
        st = run_workload(ctx, &b, 0);
    if (st == STRATA_OK)
        st = run_workload(ctx1, &b, 1);
    getloadavg(load + 1, 1);
    rmdir(b.work);
    if (st != STRATA_OK) {
        rc = cli_fail(ctx, "bench", st);
        goto out;
    }
    stage_work(&b, b.nrows);
    if (!(f = cli_out_open(b.json, tmp, sizeof tmp))) {
        fprintf(stderr, "strata bench: error: cannot write %s\n", b.json);
        rc = 4;
        goto out;
    }
    write_json(f, &b, b.nrows, load);
    if (cli_out_publish(f, tmp, b.json) != 0) {
        fprintf(stderr, "strata bench: error: cannot write %s\n", b.json);
        rc = 4;
        goto out;
    }
    if (!co.quiet) {
        print_table(&b, b.nrows, load);
        printf("JSON written to %s\n", b.json);
    }
out:
    strata_ctx_free(ctx1);
    strata_ctx_free(ctx);
    return rc;
}
