/*
 * cmd_logs.c — `qyv logs [APP] [--follow] [--level L] [-n N]`: the log
 * lines a running `qyv serve` kept (GET /_qyvol/logs on its address),
 * optionally followed as they come.
 */
#include <event2/http.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "local_http.h"
#include "serve/control.h"

static const char usage_text[] =
    "usage: qyv logs [OPTIONS] [APP]\n"
    "\n"
    "Print the log lines (JSON) a running `qyv serve` kept, for one app or all.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   the server's address (default 127.0.0.1:8080)\n"
    "  -f, --follow         keep printing new lines until the server stops\n"
    "  --level LEVEL        only lines at LEVEL or above: debug, info, warn, error\n"
    "  -n, --lines N        how many past lines (default 100)\n"
    "  -h, --help           print this help\n";

static void print_chunk(const char *data, size_t len, void *arg)
{
    (void)arg;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}

int cmd_logs(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"follow", no_argument, NULL, 'f'},
        {"level", required_argument, NULL, 'L'},
        {"lines", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char address[256] = "127.0.0.1";
    uint16_t port = 8080;
    bool follow = false;
    const char *level = "debug";
    long lines = 100;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":fn:h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'l':
            if (!cli_parse_listen(optarg, address, sizeof address, &port)) {
                fprintf(stderr, "qyv logs: --listen takes ADDRESS:PORT, not '%s'\n%s", optarg, usage_text);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'f': follow = true; break;
        case 'L':
            if (strcmp(optarg, "debug") && strcmp(optarg, "info") && strcmp(optarg, "warn") && strcmp(optarg, "error")) {
                fprintf(stderr, "qyv logs: --level takes debug, info, warn or error, not '%s'\n", optarg);
                return QYV_EXIT_USAGE;
            }
            level = optarg;
            break;
        case 'n':
            lines = strtol(optarg, &end, 10);
            if (*end || lines < 0) {
                fprintf(stderr, "qyv logs: --lines takes a number, not '%s'\n", optarg);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default:
            cli_option_error("logs", opt, argv, optind);
            fputs(usage_text, stderr);
            return QYV_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "qyv logs: one app at most\n%s", usage_text);
        return QYV_EXIT_USAGE;
    }
    const char *app = optind < argc ? argv[optind] : "";
    char *app_q = evhttp_encode_uri(app);
    char path[1024];
    snprintf(path, sizeof path, "/_qyvol/logs?app=%s&level=%s&tail=%ld%s", app_q ? app_q : "", level, lines,
             follow ? "&follow=1" : "");
    free(app_q);
    local_http_reply reply;
    char token[80], why[700];
    if (!control_token_read(port, token, sizeof token, why, sizeof why)) {
        fprintf(stderr, "qyv logs: %s\n", why);
        return QYV_EXIT_FAILURE;
    }
    if (local_http_call(address, port, "GET", path, token, follow ? 0 : 30, print_chunk, NULL, &reply) < 0) {
        fprintf(stderr, "qyv logs: no server answered at %s:%u\n", address, port);
        return QYV_EXIT_FAILURE;
    }
    if (reply.code != 200) fprintf(stderr, "qyv logs: %s", reply.body ? reply.body : "failed\n");
    local_http_reply_free(&reply);
    return reply.code == 200 ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}
