/* engine/cli/cmd_fit.c — `strata fit`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_fit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata fit: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
