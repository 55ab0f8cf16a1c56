/* engine/cli/cmd_evaluate.c — `strata evaluate`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_evaluate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata evaluate: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
