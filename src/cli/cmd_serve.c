/*
 * cmd_serve.c — `qyv serve FILE.qyv... [OPTIONS]`: serve every http app
 * (type: http) under its route until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "cli.h"
#include "local_http.h"
#include "manifest/units.h"
#include "serve/control.h"
#include "serve/log.h"
#include "serve/serve.h"

static const char usage_text[] =
    "usage: qyv serve [OPTIONS] FILE.qyv...\n"
    "       qyv serve --reload [--listen ADDR:PORT]\n"
    "\n"
    "Serve HTTP apps (type: http): each request runs a fresh instance of the\n"
    "app whose route is the longest prefix of its path (WAGI: CGI environment\n"
    "and stdin in, headers and body on stdout; see docs/http-apps.md).\n"
    "GET /_qyvol/health and /_qyvol/metrics (Prometheus) are the server's own.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   where to listen (default 127.0.0.1:8080)\n"
    "  --workers N          requests each replica runs at once, one per thread\n"
    "                       (default: one per CPU)\n"
    "  --max-body SIZE      largest request body, e.g. 10MB (default); more is 413\n"
    "  --client-timeout DURATION\n"
    "                       an idle connection, or a request body that stops\n"
    "                       coming, is dropped after this (default 30s)\n"
    "  --header-timeout DURATION\n"
    "                       a request's whole head (request line and headers)\n"
    "                       must arrive within this, or 408 (default 10s)\n"
    "  --max-connections N  open client connections at most; more wait to be\n"
    "                       accepted (default: 3/4 of the file descriptor limit)\n"
    "  --drain-timeout DURATION\n"
    "                       on SIGTERM, the longest wait for requests in\n"
    "                       flight (default 60s)\n"
    "  --tls-cert FILE      serve HTTPS (TLS 1.3) too, on the same port, with this\n"
    "                       PEM certificate chain; --tls-key FILE its PEM key.\n"
    "                       Replaced files are used within a second\n"
    "  --no-direct          every connection goes through this process, which\n"
    "                       hands each request to a replica; by default the\n"
    "                       replicas of WAGI apps take connections from the port\n"
    "                       themselves and answer them, without that hop (not\n"
    "                       with --tls-cert; see docs/http-apps.md). --direct,\n"
    "                       the default, is still accepted\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  --reload             tell the server at --listen to read its manifests\n"
    "                       and modules again (as SIGHUP does); requests in\n"
    "                       flight finish with the old ones\n"
    "  -h, --help           print this help\n"
    "\n"
    "Logs are JSON lines on stdout. SIGTERM or SIGINT stop accepting, let the\n"
    "requests in flight finish, and exit 0.\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("serve", "qyv serve [OPTIONS] FILE.qyv...", QYV_EXIT_USAGE, fmt, arg);
}

/* `qyv serve --reload`: ask the server at address:port to load its
 * manifests again (POST /_qyvol/reload). */
static int ask_reload(const char *address, uint16_t port)
{
    local_http_reply reply;
    char token[80], why[700];
    if (!control_token_read(port, token, sizeof token, why, sizeof why)) {
        fprintf(stderr, "qyv serve --reload: %s\n", why);
        return QYV_EXIT_FAILURE;
    }
    local_http_call(address, port, "POST", "/_qyvol/reload", token, 120, NULL, NULL, &reply);
    if (!reply.code) {
        fprintf(stderr, "qyv serve --reload: no server answered at %s:%u\n", address, port);
        return QYV_EXIT_FAILURE;
    }
    json_t *j = reply.body ? json_loads(reply.body, 0, NULL) : NULL;
    const char *error = j ? json_string_value(json_object_get(j, "error")) : NULL;
    if (reply.code == 200) printf("reloaded: %lld apps\n", (long long)json_integer_value(json_object_get(j, "apps")));
    else fprintf(stderr, "qyv serve --reload: %s\n", error ? error : reply.body ? reply.body : "failed");
    json_decref(j);
    local_http_reply_free(&reply);
    return reply.code == 200 ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}

/* Three quarters of the descriptors this process may open: the rest
 * are for replicas' sockets, manifests, modules and logs. */
static unsigned default_max_connections(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 10000;
    rlim_t n = rl.rlim_cur / 4 * 3;
    return n < 16 ? 16 : n > 1000000 ? 1000000 : (unsigned)n;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"max-body", required_argument, NULL, 'b'},
        {"log-level", required_argument, NULL, 'L'},
        {"client-timeout", required_argument, NULL, 'c'},
        {"drain-timeout", required_argument, NULL, 'd'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"max-connections", required_argument, NULL, 'C'},
        {"reload", no_argument, NULL, 'r'},
        {"direct", no_argument, NULL, 'D'},
        {"no-direct", no_argument, NULL, 'N'},
        {"tls-cert", required_argument, NULL, 'T'},
        {"tls-key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char address[256] = "127.0.0.1";
    serve_options so = {
        .address = address,
        .port = 8080,
        .max_body = 10 * 1000 * 1000,
        .max_headers = 64 * 1024,
        .client_timeout_s = 30,
        .header_timeout_s = 10,
        .max_connections = default_max_connections(),
        .drain_timeout_s = 60,
        .direct = true,
    };
    int opt;
    bool reload = false;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        char why[160], *end;
        uint64_t bytes;
        log_level level;
        switch (opt) {
        case 'l':
            if (!cli_parse_listen(optarg, address, sizeof address, &so.port))
                return usage_error("--listen takes ADDRESS:PORT (e.g. 127.0.0.1:8080), not '%s'", optarg);
            break;
        case 'D': /* the default; kept for scripts that name it */
            so.direct = true;
            break;
        case 'N':
            so.direct = false;
            break;
        case 'w':
            errno = 0;
            so.workers = (int)strtol(optarg, &end, 10);
            if (errno || *end || so.workers < 1 || so.workers > 1024)
                return usage_error("--workers takes a number from 1 to 1024, not '%s'", optarg);
            break;
        case 'b':
            if (!qv_parse_size(optarg, &bytes, why, sizeof why)) {
                fprintf(stderr, "qyv serve: --max-body '%s' %s\n", optarg, why);
                return QYV_EXIT_USAGE;
            }
            so.max_body = (size_t)bytes;
            break;
        case 'C':
            errno = 0;
            long conns = strtol(optarg, &end, 10);
            if (errno || *end || conns < 1 || conns > 1000000)
                return usage_error("--max-connections takes a number from 1 to 1000000, not '%s'", optarg);
            so.max_connections = (unsigned)conns;
            break;
        case 'c':
        case 'd':
        case 'H': {
            uint64_t ms;
            const char *name = opt == 'c' ? "--client-timeout" : opt == 'd' ? "--drain-timeout" : "--header-timeout";
            if (!qv_parse_duration(optarg, &ms, why, sizeof why)) {
                fprintf(stderr, "qyv serve: %s '%s' %s\n", name, optarg, why);
                return QYV_EXIT_USAGE;
            }
            if (ms < 1000 || ms > 86400000u) {
                fprintf(stderr, "qyv serve: %s takes from 1s to 24h, not '%s'\n", name, optarg);
                return QYV_EXIT_USAGE;
            }
            *(opt == 'c' ? &so.client_timeout_s : opt == 'd' ? &so.drain_timeout_s : &so.header_timeout_s) =
                (int)(ms / 1000);
            break;
        }
        case 'L':
            if (!log_level_parse(optarg, &level))
                return usage_error("--log-level takes debug, info, warn or error, not '%s'", optarg);
            log_set_level(level);
            break;
        case 'r': reload = true; break;
        case 'T': so.tls_cert = optarg; break;
        case 'K': so.tls_key = optarg; break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default:
            cli_option_error("serve", opt, argv, optind);
            fputs("usage: qyv serve [OPTIONS] FILE.qyv...  (qyv serve --help for more)\n", stderr);
            return QYV_EXIT_USAGE;
        }
    }
    if (reload) {
        if (optind < argc) return usage_error("%s", "--reload takes no manifests: the server reads its own again");
        return ask_reload(address, so.port);
    }
    if (optind >= argc) return usage_error("%s", "no apps given: name one or more app.qyv files");
    if (!so.tls_cert != !so.tls_key) return usage_error("%s", "--tls-cert and --tls-key go together");
    int status = serve_run(argv + optind, (size_t)(argc - optind), &so) ? QYV_EXIT_FAILURE : QYV_EXIT_OK;
    return status;
}
