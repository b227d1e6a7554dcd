/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point: dispatches to the verb named by argv[1] (src/cli/cmd_help.c lists them). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Output that did not reach its file is a failure: 'export --format csv > out.csv' on a full
 * disk (or with standard output closed) left a truncated file and exited 0. */
static int output_written(int rc)
{
    errno = 0;
    bool failed = fflush(stdout) != 0;
    int why = errno;
    failed = ferror(stdout) || failed;
    if (!failed) {
        return rc;
    }
    fprintf(stderr, "%sthe output could not be written%s%s\n", mp_cli_prefix(), why ? ": " : "",
            why ? strerror(why) : "");
    return rc == MP_EXIT_OK ? MP_EXIT_FAILURE : rc;
}

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
    return output_written(mp_cli_dispatch(argc - 1, argv + 1));
}
