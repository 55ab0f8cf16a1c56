/* engine/cli/cmd_info.c — `strata info`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata info: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
