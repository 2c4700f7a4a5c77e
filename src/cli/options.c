/*
 * options.c — getopt_long error reporting shared by the commands, so every
 * bad flag is reported as "qyv COMMAND: ..." rather than with getopt's own
 * prefix (which would be the command name alone), and the argument loop
 * of the commands that take only files.
 */
#include <errno.h>
#include <getopt.h>
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

int cli_files_only(const char *command, const char *usage_text, const char *what, int argc, char **argv,
                   int *status)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            *status = QYV_EXIT_OK;
            return -1;
        }
        *status = cli_option_error(command, opt, argv, optind);
        fputs(usage_text, stderr);
        return -1;
    }
    if (optind >= argc) {
        fprintf(stderr, "qyv %s: no %s given\n", command, what);
        fputs(usage_text, stderr);
        *status = QYV_EXIT_USAGE;
        return -1;
    }
    return optind;
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

