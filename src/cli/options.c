/*
 * options.c — getopt_long error reporting shared by the commands, so every
 * bad flag is reported as "qyv COMMAND: ..." rather than with getopt's own
 * prefix (which would be the command name alone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_usage_error(const char *command, const char *synopsis, int status, const char *fmt, const char *arg)
{
    fprintf(stderr, "qyv %s: ", command);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s  (qyv %s --help for more)\n", synopsis, command);
    return status;
}

bool cli_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= addrlen) return false;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535) return false;
    memcpy(addr, s, (size_t)(colon - s));
    addr[colon - s] = 0;
    /* [::1]:8080 */
    if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') {
        memmove(addr, addr + 1, strlen(addr));
        addr[strlen(addr) - 1] = 0;
    }
    *port = (uint16_t)p;
    return true;
}

