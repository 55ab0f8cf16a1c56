/* engine/cli/cmd_coef.c — `strata coef`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_coef(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata coef: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
