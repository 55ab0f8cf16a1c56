/* engine/cli/cmd_import.c — `strata import`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_import(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata import: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
