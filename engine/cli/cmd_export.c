/* engine/cli/cmd_export.c — `strata export`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_export(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata export: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
