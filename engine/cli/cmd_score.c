/* engine/cli/cmd_score.c — `strata score`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_score(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata score: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
