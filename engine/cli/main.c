/* engine/cli/main.c — `strata <command> ...`: dispatches to one function per
 * subcommand and holds the helpers they share (cli.h). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* This process's MPI rank and the number of ranks (0 and 1 without MPI). */
static int g_rank, g_size = 1;
static int g_mpi; /* an MPI build: MPI was started and must be finalised */
int cli_rank(void) { return g_rank; }
int cli_mpi_started(void) { return g_mpi; }

void cli_exit_now(int rc)
{
#if !defined(__SANITIZE_ADDRESS__)
    if (g_mpi)
        return;
    fflush(NULL);
    _exit(rc);
#else
    (void)rc;
#endif
}

static const cli_command commands[] = {
    {"import", cmd_import, "import a CSV extract into a cohort file", NULL},
    {"export", cmd_export, "write a cohort's columns back to CSV", NULL},
    {"validate", cmd_validate, "check a cohort file and report every problem", NULL},
    {"info", cmd_info, "describe a cohort file: rows, columns, roles, attributes", NULL},
    {"synth", cmd_synth, "generate a synthetic linked cohort shaped by real NHS data", NULL},
    {"fit", cmd_fit, "fit a risk model (GLM) to a cohort", NULL},
    {"coef", cmd_coef, "print a fitted model's coefficient table", NULL},
    {"score", cmd_score, "apply a model to a cohort: one risk per patient", NULL},
    {"evaluate", cmd_evaluate, "discrimination, calibration, yield and fairness of a model", NULL},
    {"derive", cmd_derive, "events to features and outcomes: index date, windows, code lists", NULL},
    {"run", cmd_run, "the whole job from a run spec: fit, score, evaluate, stratify, report", NULL},
    {"bench", cmd_bench, "the standard workload timed against this node's measured limits (JSON)", NULL},
};
/* The man page also documents the subcommand `import events`. */
static const cli_command man_commands[] = {
    {"run", cmd_run, NULL, NULL},           {"synth", cmd_synth, NULL, NULL},
    {"import", cmd_import, NULL, NULL},     {"import", cmd_import, NULL, "events"},
    {"export", cmd_export, NULL, NULL},     {"validate", cmd_validate, NULL, NULL},
    {"info", cmd_info, NULL, NULL},         {"derive", cmd_derive, NULL, NULL},
    {"fit", cmd_fit, NULL, NULL},           {"coef", cmd_coef, NULL, NULL},
    {"score", cmd_score, NULL, NULL},       {"evaluate", cmd_evaluate, NULL, NULL},
    {"bench", cmd_bench, NULL, NULL},
};

static void print_help(FILE *f)
{
    fprintf(f, "strata %s — population health risk stratification\n\n"
               "usage: strata <command> [options]   (strata <command> --help for details)\n\n"
               "commands:\n",
            strata_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 problems found (validate), 2 usage, 3 out of memory, 4 I/O,\n"
               "5 bad file format, 6 bad data, 7 bad formula/spec, 8 no convergence,\n"
               "9 singular, 10 internal error (docs/errors.md)\n"
               "\nstrata --version prints the build configuration; strata --man the manual page\n"
               "(roff); strata --completion bash a bash completion script.\n");
}

/* `strata --version`: the version, then the build configuration and where
 * the reference data was found (or why not), for bug reports. */
static int print_version(void)
{
    char info[2048], data[4096];
    strata_ctx *ctx = NULL;
    strata_build_info(info, sizeof info);
    printf("strata %s\n%s", strata_version(), info);
    strata_mpi_version(data, sizeof data);
    if (strcmp(data, "none") != 0)
        printf("mpi:      %s\n", data);
    if (strata_ctx_new(&ctx) == STRATA_OK) {
        if (strata_synth_locate_data(ctx, data, sizeof data) == STRATA_OK) {
            char *real = realpath(data, NULL);
            printf("data:     %s\n", real ? real : data);
            free(real);
        }
        else
            printf("data:     not found (%s)\n", strata_ctx_errmsg(ctx));
        strata_ctx_free(ctx);
    }
    return 0;
}

/* Under mpirun or srun (an MPI build): every rank starts MPI; a command that
 * knows ranks runs on all of them and writes on rank 0, any other runs on
 * rank 0 alone. Ranks other than 0 print nothing on stdout. */
/* The commands that run on every rank (the others run on rank 0 alone). */
static int on_all_ranks(const char *name)
{
    return !strcmp(name, "fit") || !strcmp(name, "score") || !strcmp(name, "run") ||
           !strcmp(name, "derive") || !strcmp(name, "synth");
}

static int run_command(const cli_command *c, int argc, char **argv)
{
    int rc;
    strata_status st;
    /* no command uses BLAS threads (strata bench's DGEMM probe sets its own) */
    strata_blas_pin_single();
    {
        char mv[64];
        strata_mpi_version(mv, sizeof mv);
        g_mpi = strcmp(mv, "none") != 0;
    }
    st = strata_mpi_init(&argc, &argv, &g_rank, &g_size);
    if (st == STRATA_EINVAL) {
        fprintf(stderr, "strata: error: %d MPI ranks; strata runs on at most %d\n", g_size,
                STRATA_MPI_MAX_RANKS);
        strata_mpi_finalize();
        return (int)STRATA_EINVAL;
    }
    if (st != STRATA_OK) {
        fprintf(stderr, "strata: error: MPI did not start with MPI_THREAD_FUNNELED\n");
        return (int)STRATA_EIO;
    }
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        fclose(stdout);
    rc = g_rank == 0 || on_all_ranks(c->name) ? c->fn(argc, argv) : 0;
    strata_mpi_finalize();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
        return print_version();
    if (!strcmp(argv[1], "--man"))
        return cli_print_man(stdout, man_commands, sizeof man_commands / sizeof man_commands[0],
                             print_help);
    if (!strcmp(argv[1], "--completion")) {
        if (argc != 3 || strcmp(argv[2], "bash"))
            return cli_usage_error("--completion", "strata --completion bash", "only bash");
        return cli_print_completion(stdout, commands, sizeof commands / sizeof commands[0]);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "strata: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return CLI_EXIT_USAGE;
}

static void cli_log(void *ud, strata_log_level level, const char *msg)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)ud;
    cli_gate(); /* a fit's worker: nothing shown before the verdict */
    cli_progress_clear();
    fprintf(stderr, "strata: %s: %s\n", names[level], msg);
}

strata_ctx *cli_ctx_new(const cli_common *co)
{
    strata_ctx *ctx = NULL;
    if (strata_ctx_new(&ctx) != STRATA_OK) {
        fprintf(stderr, "strata: error: out of memory\n");
        return NULL;
    }
    strata_ctx_set_threads(ctx, co ? co->threads : 0);
    strata_ctx_set_log(ctx, g_rank == 0 ? cli_log : NULL, NULL,
                       co && co->quiet     ? STRATA_LOG_ERROR
                       : co && co->verbose ? STRATA_LOG_INFO
                                           : STRATA_LOG_WARN);
    if (g_rank == 0) /* rank 0 shows progress */
        cli_progress_install(ctx, co);
    return ctx;
}

FILE *cli_out_open(const char *path, char *tmp, size_t size)
{
    /* created by us, exclusively, never through a planted link; written
     * through this descriptor, then renamed over path (cli_out_publish) */
    int fd;
    FILE *f;
    snprintf(tmp, size, "%s.tmp.%ld", path, (long)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
        return NULL;
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        unlink(tmp);
    }
    return f;
}

int cli_out_publish(FILE *f, const char *tmp, const char *path)
{
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cli_fail(strata_ctx *ctx, const char *cmd, strata_status s)
{
    cli_gate();
    cli_progress_clear();
    if (g_rank == 0) /* ranks agree on a failure: rank 0 says it once */
        fprintf(stderr, "strata %s: error: %s\n", cmd, ctx ? strata_ctx_errmsg(ctx) : "");
    return s == STRATA_OK ? (int)STRATA_EINTERNAL : (int)s;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "strata %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return CLI_EXIT_USAGE;
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}
