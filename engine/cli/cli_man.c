/* engine/cli/cli_man.c — the man page and the bash completion, made from the
 * same text as --help: `strata --man` runs every command's --help (its
 * stdout captured) and sets it in roff; `strata --completion bash` offers the
 * commands and, per command, the options its --help names. The build writes
 * both (strata.1, strata.bash) and `cmake --install` puts them under
 * share/man/man1 and share/bash-completion/completions. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The stdout of fn(argc, argv) as a malloc'd string ("" when it fails). */
static char *capture(int (*fn)(int, char **), int argc, char **argv)
{
    FILE *tmp = tmpfile();
    char *text;
    long n;
    int saved;
    fflush(stdout);
    if (!tmp || (saved = dup(1)) < 0) {
        if (tmp)
            fclose(tmp);
        return calloc(1, 1);
    }
    dup2(fileno(tmp), 1);
    fn(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    n = ftell(tmp) > 0 ? ftell(tmp) : 0;
    text = calloc((size_t)n + 1, 1);
    rewind(tmp);
    if (text && n > 0 && fread(text, 1, (size_t)n, tmp) != (size_t)n)
        text[0] = '\0';
    fclose(tmp);
    return text ? text : calloc(1, 1);
}

static char *help_of(const cli_command *c)
{
    char name[64], sub[16], help[] = "--help";
    char *argv[4];
    int argc = 0;
    snprintf(name, sizeof name, "%s", c->name);
    argv[argc++] = name;
    if (c->sub) {
        snprintf(sub, sizeof sub, "%s", c->sub);
        argv[argc++] = sub;
    }
    argv[argc++] = help;
    argv[argc] = NULL;
    return capture(c->fn, argc, argv);
}

/* roff: backslashes escaped, a line starting with . or ' guarded. */
static void roff_text(FILE *f, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        bol = *s == '\n';
    }
    if (!bol)
        fputc('\n', f);
}

int cli_print_man(FILE *f, const cli_command *cmds, size_t n, void (*overview)(FILE *))
{
    FILE *tmp = tmpfile();
    char buf[8192];
    size_t len;
    fprintf(f, ".TH STRATA 1 \"\" \"strata %s\" \"User Commands\"\n", strata_version());
    fputs(".SH NAME\nstrata \\- population health risk stratification for NHS PCNs and ICBs\n"
          ".SH SYNOPSIS\n.B strata\n\\fIcommand\\fR [\\fIoptions\\fR]\n.br\n.B strata\n"
          "\\-\\-help | \\-\\-version | \\-\\-man | \\-\\-completion bash\n"
          ".SH DESCRIPTION\n.nf\n",
          f);
    if (tmp) { /* `strata --help`, as it prints */
        overview(tmp);
        rewind(tmp);
        len = fread(buf, 1, sizeof buf - 1, tmp);
        buf[len] = '\0';
        fclose(tmp);
        roff_text(f, buf);
    }
    fputs(".fi\n.SH COMMANDS\n", f);
    for (size_t i = 0; i < n; i++) {
        char *h = help_of(&cmds[i]);
        fprintf(f, ".SS \"strata %s%s%s\"\n.nf\n", cmds[i].name, cmds[i].sub ? " " : "",
                cmds[i].sub ? cmds[i].sub : "");
        roff_text(f, h);
        fputs(".fi\n", f);
        free(h);
    }
    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B STRATA_DATA_DIR\nthe reference tables for \\fBsynth\\fR and the report's area "
          "names (default: found beside the executable, then share/strata)\n"
          ".TP\n.B STRATA_PROGRESS_INTERVAL\nseconds before the first progress line in a log, "
          "and between lines (default 5 and 30; 0: every report)\n"
          ".TP\n.B OMP_NUM_THREADS\nthreads when neither \\-\\-threads nor the run spec says\n"
          ".SH FILES\n.TP\n.I PREFIX/share/strata/reference\nreference data (practices, PCNs, "
          "ICBs, QOF prevalence, area names)\n.TP\n.I PREFIX/share/strata/specs/default.yaml\n"
          "the bundled default job\n"
          ".SH SEE ALSO\nThe documentation in docs/ of the source tree: run\\-spec.md, "
          "import.md, evaluate.md, stratify.md, errors.md.\n",
          f);
    return ferror(f) ? 1 : 0;
}

/* The distinct "--option" words of a help text, space-separated, into out. */
static void options_of(const char *h, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = h; (p = strstr(p, "--")) != NULL;) {
        const char *q = p + 2;
        while (isalnum((unsigned char)*q) || *q == '-')
            q++;
        if ((p == h || !(isalnum((unsigned char)p[-1]) || p[-1] == '-')) &&
            isalpha((unsigned char)p[2]) && q - p < 60) {
            char pad[64], hay[4200];
            int w = (int)(q - p);
            snprintf(pad, sizeof pad, " %.*s ", w, p);
            snprintf(hay, sizeof hay, " %s ", out);
            if (!strstr(hay, pad) && len + (size_t)w + 2 < size)
                len += (size_t)snprintf(out + len, size - len, "%s%.*s", len ? " " : "", w, p);
        }
        p = q;
    }
}

int cli_print_completion(FILE *f, const cli_command *cmds, size_t n)
{
    fputs("# bash completion for strata (generated by `strata --completion bash` from the\n"
          "# commands' --help)\n_strata()\n{\n    local cur cmd words\n"
          "    cur=${COMP_WORDS[COMP_CWORD]}\n    cmd=${COMP_WORDS[1]}\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=($(compgen -W \"",
          f);
    for (size_t i = 0; i < n; i++)
        if (!cmds[i].sub)
            fprintf(f, "%s ", cmds[i].name);
    fputs("--help --version\" -- \"$cur\"))\n        return\n    fi\n    case \"$cmd\" in\n", f);
    for (size_t i = 0; i < n; i++) {
        char *h, opts[4096];
        if (cmds[i].sub)
            continue;
        h = help_of(&cmds[i]);
        options_of(h, opts, sizeof opts);
        fprintf(f, "    %s) words=\"%s\" ;;\n", cmds[i].name, opts);
        free(h);
    }
    fputs("    *) words=\"\" ;;\n    esac\n"
          "    if [[ \"$cur\" == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$words --help\" -- \"$cur\"))\n"
          "    else\n        COMPREPLY=($(compgen -f -- \"$cur\"))\n    fi\n}\n"
          "complete -o filenames -F _strata strata\n",
          f);
    return ferror(f) ? 1 : 0;
}
