/*
 * options.c — getopt_long error reporting shared by the commands, so every
 * bad flag is reported as "qyv COMMAND: ..." rather than with getopt's own
 * prefix (which would be the command name alone).
 */
#include <stdio.h>

#include "cli.h"

int cli_option_error(const char *command, int opt, char **argv, int optind_after)
{
    const char *arg = argv[optind_after - 1];
    if (opt == ':')
        fprintf(stderr, "qyv %s: option '%s' needs a value\n", command, arg);
    else
        fprintf(stderr, "qyv %s: unknown option '%s'\n", command, arg);
    return QYV_EXIT_USAGE;
}
