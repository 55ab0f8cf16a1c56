/* engine/cli/cli.h — shared pieces of the strata command-line tool: one
 * function per subcommand (cmd_<name>.c) and the helpers they share for
 * contexts, messages and exit codes. Includes only the public API. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include "strata/strata.h"

#include <stdio.h>
#include <sys/types.h>

/* Exit codes (docs/errors.md): 0 success; a failing library call exits with
 * its strata_status value (2 EINVAL/usage, 3 ENOMEM, 4 EIO, 5 EFORMAT,
 * 6 EDATA, 7 ESPEC, 8 ENOCONV, 9 ESINGULAR, 10 EINTERNAL); `validate` exits 1
 * when the file was read and problems were found. */
#define CLI_EXIT_PROBLEMS 1
#define CLI_EXIT_USAGE 2

typedef struct cli_common {
    int threads;      /* --threads N (0 = default) */
    int verbose;      /* --verbose: log INFO messages */
    int quiet;        /* --quiet: only errors */
} cli_common;

/* Creates a context logging to stderr per the common options; NULL on failure
 * (message printed). */
strata_ctx *cli_ctx_new(const cli_common *co);
/* This process's MPI rank (0 without MPI). */
int cli_rank(void);
/* Ends the process with rc once a command's outputs are in place (stdio
 * flushed): the memory, the open read-only cohort and HDF5's library state are
 * the kernel's to drop, and freeing them one by one was ~2 ms of a small fit's
 * ~40 (issue 19: closing 50 datasets, HDF5's atexit, munmaps). Returns without
 * doing anything under MPI (every rank must finalise) and in sanitizer builds
 * (their leak check runs at exit). */
void cli_exit_now(int rc);
/* `strata fit`'s supervisor and worker (cli_worker.c): the worker fits while
 * the supervisor's open of the cohort (its forked HDF5 walk, then the open)
 * decides whether the file may be read; the worker shows nothing before that
 * verdict. cli_worker_fork returns 0 in the worker, the worker's pid in the
 * supervisor (*verdict_fd set), -1 when the command runs as one process
 * (STRATA_H5_PROBE=0, --threads 1, one CPU, MPI, or no fork). cli_gate, in
 * the worker, waits for the verdict before anything is shown or written
 * (every message, progress line and output goes through it; elsewhere it
 * returns at once). cli_worker_finish, in the supervisor: go = 1 sends the
 * verdict and returns the worker's exit code; go = 0 kills the worker and
 * returns -1 (the supervisor reports the open's error itself). With the
 * verdict goes the cohort's SHA-256 when hash is not NULL: the supervisor
 * hashes the file after its open, on the other core, and the worker's fit
 * takes it for the model's input_hash (cli_worker_take_hash, in the worker:
 * strata_ctx_set_input_hash) instead of hashing on a third thread. */
pid_t cli_worker_fork(const strata_ctx *ctx, int *verdict_fd);
void cli_gate(void);
int cli_worker_finish(pid_t pid, int verdict_fd, int go, const char *hash);
void cli_worker_take_hash(strata_ctx *ctx, const char *path);
/* Whether this process started MPI (an MPI build under mpirun or srun). */
int cli_mpi_started(void);
/* Shows the library's progress on stderr (cli_progress.c): a redrawn bar
 * with the time left on a terminal, else a line per long stage; nothing
 * under --quiet. cli_ctx_new installs it. cli_progress_clear wipes a
 * half-drawn bar (before an error message or a summary). */
void cli_progress_install(strata_ctx *ctx, const cli_common *co);
void cli_progress_clear(void);
/* Prints "strata <cmd>: error: <context message>" and returns the exit code. */
int cli_fail(strata_ctx *ctx, const char *cmd, strata_status s);
/* Prints "strata <cmd>: <message>" plus a usage hint and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parses a non-negative integer option value; 0 on success. */
int cli_parse_long(const char *s, long min, long max, long *out);
int cli_parse_double(const char *s, double *out);

/* --json summaries (cli_json.c): one JSON document on stdout, written as it
 * goes: cli_json_begin opens the object with "command"; values are added by
 * key (NULL inside an array); cli_json_end closes what is open. */
#define CLI_JSON_DEPTH 8
typedef struct cli_json {
    FILE *f;
    int depth;
    size_t n[CLI_JSON_DEPTH]; /* members written at each level */
    char close[CLI_JSON_DEPTH];
} cli_json;
void cli_json_begin(cli_json *j, FILE *f, const char *command);
int cli_json_end(cli_json *j);
void cli_json_open(cli_json *j, const char *key, char bracket); /* '{' or '[' */
void cli_json_close(cli_json *j);
void cli_json_str(cli_json *j, const char *key, const char *s); /* NULL: null */
void cli_json_num(cli_json *j, const char *key, double v);      /* non-finite: null */
void cli_json_int(cli_json *j, const char *key, long long v);
void cli_json_bool(cli_json *j, const char *key, int v);
void cli_json_string(FILE *f, const char *s);
/* The key, then text as it is (already JSON), or nothing for the caller to
 * write the value itself when text is NULL. */
void cli_json_raw(cli_json *j, const char *key, const char *text);
/* A failure as JSON on stdout ({"command", "status": "error", "exit",
 * "error_code", "error"}), after cli_fail printed it on stderr; returns code. */
int cli_json_fail(const char *command, strata_ctx *ctx, strata_status s, int code);
/* A GLM's (or elastic net's selected) fit: family, formula, counts, deviances
 * and the coefficient table, as members of the open object. */
/* An output the CLI writes itself (strata bench --json): <path>.tmp.<pid>
 * created O_EXCL|O_NOFOLLOW (0644), written through its descriptor, renamed
 * over path by cli_out_publish (-1 and the temporary removed on any error). */
FILE *cli_out_open(const char *path, char *tmp, size_t size);
int cli_out_publish(FILE *f, const char *tmp, const char *path);
void cli_json_model(cli_json *j, const strata_model *m);
/* Number fields keys[k]: v[k]; one coefficient object: term, aliased, then
 * the number fields (the GLM's and the Cox model's, one way). */
void cli_json_nums(cli_json *j, const char *const *keys, const double *v, size_t n);
void cli_json_coef(cli_json *j, const char *term, int aliased, const char *const *keys,
                   const double *v, size_t n);

/* Options of the commands applying a saved model to a cohort (score, evaluate),
 * engine/cli/cli_model_opts.c. */
typedef struct cli_model_opts {
    const char *model, *cohort, *out;
    strata_unseen_policy unseen; /* --unseen-to-reference */
    cli_common co;               /* --threads, --quiet */
} cli_model_opts;
enum { CLI_OPT_NOT_MINE = 0, CLI_OPT_TAKEN = 1, CLI_OPT_ERROR = -1, CLI_OPT_HELP = -2 };
void cli_model_opts_init(cli_model_opts *o);
/* Takes argv[*i] (advancing *i past a value) if it is a shared option or a
 * positional: CLI_OPT_TAKEN; CLI_OPT_NOT_MINE otherwise; CLI_OPT_ERROR after
 * a usage message (exit CLI_EXIT_USAGE); CLI_OPT_HELP after printing usage (exit 0). */
int cli_model_opt(cli_model_opts *o, int argc, char **argv, int *i, const char *cmd,
                  const char *usage);
/* Checks MODEL, COHORT and --out are given, then creates the context and loads
 * the model and the cohort: 0, or the exit code (message printed). On failure
 * whatever was opened is returned for cli_model_close. */
int cli_model_open(const cli_model_opts *o, const char *cmd, const char *usage, strata_ctx **ctx,
                   strata_model **m, strata_cohort **c);
void cli_model_close(strata_ctx *ctx, strata_model *m, strata_cohort *c); /* NULLs ok */

/* The Cox model (engine/cli/cli_cox.c). */
int cli_fit_cox(strata_ctx *ctx, const cli_common *co, const char *cohort_path, const strata_cox_params *p,
                const char *out, int json);
int cli_coef_cox(strata_ctx *ctx, const char *path, int csv);
int cli_parse_horizons(const char *s, double *h, size_t *nh); /* "365,730": 0 or -1 */
int cli_score_cox(const cli_model_opts *o, const double *h, size_t nh, size_t mem_limit);
int cli_evaluate_cox(const cli_model_opts *o, double horizon, const char *const *by, size_t n_by, int raw,
                     size_t mem_limit);
/* A command for the man page and the completion (cli_man.c): name, the
 * subcommand word or NULL ("import events"), its function. */
typedef struct cli_command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
    const char *sub;
} cli_command;
/* `strata --man`: roff with overview (the text of `strata --help`) and every
 * command's --help; `strata --completion bash`: a bash completion script of
 * the commands and the options their --help names. 0, or 1 on a write error. */
int cli_print_man(FILE *f, const cli_command *cmds, size_t n, void (*overview)(FILE *));
int cli_print_completion(FILE *f, const cli_command *cmds, size_t n);

int cmd_validate(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_coef(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_import_events(int argc, char **argv); /* `strata import events ...` */
int cmd_derive(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
