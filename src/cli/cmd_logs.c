/*
 * cmd_logs.c — `qyv logs [APP] [--follow] [--level L] [-n N]`: the log
 * lines a running `qyv serve` kept (GET /_qyvol/logs on its address),
 * optionally followed as they come.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

typedef struct logs_call {
    int code;
    bool failed;
} logs_call;

/* Print what arrived, chunk by chunk (follow) or at the end. */
static void print_chunk(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n;
    while ((n = evbuffer_get_length(b)) > 0) {
        char buf[4096];
        int got = evbuffer_remove(b, buf, n < sizeof buf ? n : sizeof buf);
        if (got <= 0) break;
        fwrite(buf, 1, (size_t)got, stdout);
    }
    fflush(stdout);
}

static void done(struct evhttp_request *req, void *arg)
{
    logs_call *call = arg;
    if (!req) {
        call->failed = true;
        return;
    }
    call->code = evhttp_request_get_response_code(req);
    if (call->code == 200) print_chunk(req, NULL);
    else {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        char msg[512];
        int n = evbuffer_remove(b, msg, sizeof msg - 1);
        msg[n > 0 ? n : 0] = 0;
        fprintf(stderr, "qyv logs: %s", msg);
    }
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
    struct event_base *base = event_base_new();
    struct evhttp_connection *conn = base ? evhttp_connection_base_new(base, NULL, address, port) : NULL;
    logs_call call = {0};
    struct evhttp_request *req = conn ? evhttp_request_new(done, &call) : NULL;
    if (req) {
        if (follow) evhttp_request_set_chunked_cb(req, print_chunk);
        else evhttp_connection_set_timeout(conn, 30);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", address);
        if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, path) == 0) event_base_dispatch(base);
    }
    if (conn) evhttp_connection_free(conn);
    if (base) event_base_free(base);
    if (call.failed || !call.code) {
        fprintf(stderr, "qyv logs: no server answered at %s:%u\n", address, port);
        return QYV_EXIT_FAILURE;
    }
    return call.code == 200 ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}
