/* engine/cli/cli_progress.c — how the CLI shows the library's progress
 * (strata_ctx_set_progress): on a terminal, one line redrawn in place with a
 * bar, the percentage and the time left ("  bootstrap [#######.........]
 * 41%  82/200  35 s, about 50 s left"); otherwise (a log file, a pipe) a
 * plain line per stage that has run for 5 s, then every 30 s, and its end:
 * "strata: progress: bootstrap 82/200 (41%) after 35 s, about 50 s left".
 * STRATA_PROGRESS_INTERVAL=S sets both the 5 s and the 30 s (0: every report
 * the library forwards, at most 5 a second). Writes only to stderr. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    int tty, shown;          /* shown: this stage printed something */
    double first, every;     /* log mode: first line after, then every (s) */
    double t0, last;         /* stage start, last line printed */
    char stage[32];
} P;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "35 s", "4 min 10 s", "1 h 5 min" */
static const char *span(double s, char *buf, size_t n)
{
    long v = (long)(s + 0.5);
    if (v < 60)
        snprintf(buf, n, "%ld s", v);
    else if (v < 3600)
        snprintf(buf, n, "%ld min %ld s", v / 60, v % 60);
    else
        snprintf(buf, n, "%ld h %ld min", v / 3600, (v % 3600) / 60);
    return buf;
}

/* "82/200 (41%) after 35 s, about 50 s left", or "iteration 5 after 3 s" */
static void describe(char *buf, size_t n, double done, double total, double el)
{
    char a[32], b[32];
    if (total > 0) {
        double f = done / total;
        if (f > 0 && f < 1 && el > 0.5)
            snprintf(buf, n, "%.0f/%.0f (%.0f%%) after %s, about %s left", done, total, 100 * f,
                     span(el, a, sizeof a), span(el * (1 - f) / f, b, sizeof b));
        else
            snprintf(buf, n, "%.0f/%.0f (%.0f%%) after %s", done, total, 100 * f,
                     span(el, a, sizeof a));
    } else {
        snprintf(buf, n, "%s %.0f after %s", done < 0 ? "done in" : "step", done < 0 ? -done : done,
                 span(el, a, sizeof a));
    }
}

static void on_progress(void *ud, const char *stage, double done, double total)
{
    double t = mono(), el;
    int end = total > 0 ? done >= total : done < 0;
    char line[160];
    (void)ud;
    if (strcmp(stage, P.stage) != 0) {
        snprintf(P.stage, sizeof P.stage, "%s", stage);
        P.t0 = t;
        P.last = t;
        P.shown = 0;
    }
    el = t - P.t0;
    if (total > 0 && done > total)
        done = total;
    describe(line, sizeof line, done, total, el);
    if (P.tty) {
        cli_gate();
        char bar[25];
        int k = total > 0 ? (int)(24 * done / total) : 0;
        for (int i = 0; i < 24; i++)
            bar[i] = total > 0 ? (i < k ? '#' : '.') : (i == (int)el % 24 ? '#' : '.');
        bar[24] = '\0';
        if (end)
            fputs("\r\033[K", stderr);
        else
            fprintf(stderr, "\r\033[K  %-10s [%s] %s", stage, bar, line);
        fflush(stderr);
        return;
    }
    if ((!end && el >= P.first && t - P.last >= (P.shown ? P.every : 0)) || (end && P.shown)) {
        cli_gate();
        fprintf(stderr, "strata: progress: %s %s%s\n", stage, line, end ? " (done)" : "");
        fflush(stderr);
        P.last = t;
        P.shown = 1;
    }
    if (end)
        P.stage[0] = '\0';
}

void cli_progress_install(strata_ctx *ctx, const cli_common *co)
{
    const char *env = getenv("STRATA_PROGRESS_INTERVAL");
    if (co && co->quiet)
        return;
    P.tty = isatty(2);
    P.first = 5;
    P.every = 30;
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (!*end && v >= 0)
            P.first = P.every = v;
    }
    strata_ctx_set_progress(ctx, on_progress, NULL);
}

void cli_progress_clear(void)
{
    if (P.tty && P.stage[0]) { /* the bar is redrawn by the stage's next report */
        cli_gate();
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
