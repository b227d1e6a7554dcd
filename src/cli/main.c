/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point: dispatches to the verb named by argv[1] (src/cli/cmd_help.c lists them). */
#include "cli/cli.h"

#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        mp_cli_print_overview(stderr);
        return MP_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        name = "version";
    } else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        name = "help";
    }
    argv[1] = (char *)name;
    return mp_cli_dispatch(argc - 1, argv + 1);
}
