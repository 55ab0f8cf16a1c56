/* engine/cli/cmd_synth.c — `strata synth`: not built yet (placeholder until its issue lands). */
#include "cli.h"

int cmd_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "strata synth: not available in this build yet\n");
    return CLI_EXIT_USAGE;
}
