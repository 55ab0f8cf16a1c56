/* engine/cli/cmd_validate.c — `strata validate`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata validate: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
