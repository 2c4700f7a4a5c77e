/*
 * cmd_serve.c — `qyv serve FILE.qyv... [OPTIONS]`: serve every http app
 * (type: http) under its route until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "cli.h"
#include "manifest/units.h"
#include "serve/log.h"
#include "serve/metrics.h"
#include "serve/serve.h"

static const char usage_text[] =
    "usage: qyv serve [OPTIONS] FILE.qyv...\n"
    "\n"
    "Serve HTTP apps (type: http): each request runs a fresh instance of the\n"
    "app whose route is the longest prefix of its path (WAGI: CGI environment\n"
    "and stdin in, headers and body on stdout; see docs/http-apps.md).\n"
    "GET /_qyvol/health and /_qyvol/metrics (Prometheus) are the server's own.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   where to listen (default 127.0.0.1:8080)\n"
    "  --workers N          threads running instances (default: one per CPU)\n"
    "  --max-body SIZE      largest request body, e.g. 10MB (default); more is 413\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help           print this help\n"
    "\n"
    "Logs are JSON lines on stdout. SIGTERM or SIGINT stop accepting, let the\n"
    "requests in flight finish, and exit 0.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("qyv serve: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: qyv serve [OPTIONS] FILE.qyv...  (qyv serve --help for more)\n", stderr);
    return QYV_EXIT_USAGE;
}

static bool parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
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

/* Load one manifest into app; 0 or an exit status after printing why. */
static int load_app(const char *file, serve_app *app)
{
    memset(app, 0, sizeof *app);
    app->rc.fuel = -1;
    int status = run_from_manifest(&app->rc, file);
    if (status) return QYV_EXIT_FAILURE;
    if (!app->rc.http) {
        fprintf(stderr, "qyv serve: %s is not an http app (type: http); run it with `qyv run`\n", file);
        return QYV_EXIT_FAILURE;
    }
    app->name = app->rc.name;
    /* "/" serves everything: store it as the empty prefix. */
    size_t n = strlen(app->rc.route);
    while (n > 0 && app->rc.route[n - 1] == '/') app->rc.route[--n] = 0;
    app->route = app->rc.route;
    size_t len;
    uint8_t *bytes = cli_read_file(app->rc.module_path, &len);
    if (!bytes) return QYV_EXIT_FAILURE;
    qv_error err = {0};
    app->module = qv_module_new(bytes, len, &err);
    free(bytes);
    if (!app->module) {
        fprintf(stderr, "qyv serve: %s: %s is not a valid WebAssembly module: %s (at byte %zu)\n", file,
                app->rc.module_path, err.message, err.offset);
        return QYV_EXIT_FAILURE;
    }
    app->metrics = metrics_app_new(app->name, app->route);
    if (!app->metrics) {
        fprintf(stderr, "qyv serve: out of memory\n");
        return QYV_EXIT_FAILURE;
    }
    return 0;
}

static void free_app(serve_app *app)
{
    if (app->rc.scratch) run_scratch_remove(app->rc.scratch);
    qv_module_delete(app->module);
    metrics_app_free(app->metrics);
    run_config_free(&app->rc);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"max-body", required_argument, NULL, 'b'},
        {"log-level", required_argument, NULL, 'L'},
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
        .drain_timeout_s = 60,
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        char why[160], *end;
        uint64_t bytes;
        log_level level;
        switch (opt) {
        case 'l':
            if (!parse_listen(optarg, address, sizeof address, &so.port))
                return usage_error("--listen takes ADDRESS:PORT (e.g. 127.0.0.1:8080), not '%s'", optarg);
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
        case 'L':
            if (!log_level_parse(optarg, &level))
                return usage_error("--log-level takes debug, info, warn or error, not '%s'", optarg);
            log_set_level(level);
            break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default:
            cli_option_error("serve", opt, argv, optind);
            fputs("usage: qyv serve [OPTIONS] FILE.qyv...  (qyv serve --help for more)\n", stderr);
            return QYV_EXIT_USAGE;
        }
    }
    if (optind >= argc) return usage_error("%s", "no apps given: name one or more app.qyv files");
    size_t napps = (size_t)(argc - optind);
    serve_app *apps = calloc(napps, sizeof *apps);
    if (!apps) return QYV_EXIT_FAILURE;
    int status = QYV_EXIT_OK;
    size_t loaded = 0;
    for (; loaded < napps && !status; loaded++) status = load_app(argv[optind + (int)loaded], &apps[loaded]);
    for (size_t i = 0; i < loaded && !status; i++)
        for (size_t k = 0; k < i; k++)
            if (!strcmp(apps[i].route, apps[k].route)) {
                fprintf(stderr, "qyv serve: %s and %s both want the route '%s'\n", argv[optind + (int)k],
                        argv[optind + (int)i], *apps[i].route ? apps[i].route : "/");
                status = QYV_EXIT_FAILURE;
            }
    if (!status) status = serve_run(apps, napps, &so) ? QYV_EXIT_FAILURE : QYV_EXIT_OK;
    for (size_t i = 0; i < loaded; i++) free_app(&apps[i]);
    free(apps);
    return status;
}
