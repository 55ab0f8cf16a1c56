/* engine/cli/cmd_run.c — `strata run`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata run: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
