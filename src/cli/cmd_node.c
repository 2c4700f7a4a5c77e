/*
 * cmd_node.c — `qyv node --listen ADDR:PORT --data DIR [OPTIONS]`: a
 * cluster worker (src/cluster/node/node.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cluster/names.h"
#include "cluster/node/node.h"
#include "manifest/units.h"
#include "serve/log.h"

static const char usage_text[] =
    "usage: qyv node --listen ADDR:PORT --data DIR --token-file FILE [OPTIONS]\n"
    "\n"
    "Run a cluster node: it registers with its master, runs the replicas the\n"
    "master assigns it (as qyv serve runs apps), and routes every app's\n"
    "traffic across the cluster on its ingress (docs/cluster.md).\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   the node API (docs/api.md), e.g. 127.0.0.1:7001\n"
    "  --data DIR           where bundles are cached (DIR/bundles/)\n"
    "  --token-file FILE    the cluster token (qyv cluster init makes it)\n"
    "  --name NAME          the node's name (default: the host name)\n"
    "  --master HOST:PORT[,HOST:PORT...]\n"
    "                       the master to register with, or every master of a\n"
    "                       cluster on etcd (docs/ha.md) (else: wait for\n"
    "                       qyv cluster add-node)\n"
    "  --ingress ADDR:PORT  where apps are served (default: the --listen\n"
    "                       address, port 8080)\n"
    "  --capacity memory=SIZE,cpu=N\n"
    "                       what the node offers (default: this machine's\n"
    "                       memory and CPUs)\n"
    "  --workers N          requests each replica runs at once (default: one\n"
    "                       per CPU)\n"
    "  --drain-timeout DURATION\n"
    "                       on SIGTERM, the longest wait for requests in\n"
    "                       flight (default 30s)\n"
    "  --bundle-cache-keep DURATION\n"
    "                       how long a cached bundle no assigned app uses is\n"
    "                       kept (default 10m)\n"
    "  --join TOKEN         a one-time join token (`qyv cluster token create`):\n"
    "                       the node makes its key and gets its certificate from\n"
    "                       the master; --token-file is then not needed\n"
    "  --ca-pin sha256:HEX  trust the master's CA only if its key has this hash\n"
    "  --ca FILE            or trust this CA (default: ca.crt of `qyv cluster init`\n"
    "                       on this machine, else the one kept in DIR/tls)\n"
    "  --plain-http         no TLS: the API, the master and other nodes are spoken\n"
    "                       to in plain HTTP with the token only\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help           print this help\n"
    "\n"
    "Logs are JSON lines on stdout. SIGTERM or SIGINT stop accepting, let the\n"
    "requests in flight finish, and exit 0.\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("node", "qyv node --listen ADDR:PORT --data DIR --token-file FILE [OPTIONS]", QYV_EXIT_USAGE, fmt, arg);
}

int cmd_node(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},   {"data", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},     {"master", required_argument, NULL, 'm'},
        {"ingress", required_argument, NULL, 'i'},  {"token-file", required_argument, NULL, 't'},
        {"capacity", required_argument, NULL, 'c'}, {"workers", required_argument, NULL, 'w'},
        {"drain-timeout", required_argument, NULL, 'D'}, {"log-level", required_argument, NULL, 'L'},
        {"join", required_argument, NULL, 'J'},     {"bundle-cache-keep", required_argument, NULL, 'K'},     {"ca-pin", required_argument, NULL, 'p'},
        {"ca", required_argument, NULL, 'C'},       {"plain-http", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    static char listen_addr[256], ingress_addr[256], master_host[256];
    node_options o = {.drain_timeout_s = 30};
    bool have_listen = false, have_ingress = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        char why[200], *end;
        uint16_t port;
        log_level level;
        switch (opt) {
        case 'l':
            if (!cli_parse_listen(optarg, listen_addr, sizeof listen_addr, &o.listen_port))
                return usage_error("--listen takes ADDRESS:PORT (e.g. 127.0.0.1:7001), not '%s'", optarg);
            have_listen = true;
            break;
        case 'i':
            if (!cli_parse_listen(optarg, ingress_addr, sizeof ingress_addr, &o.ingress_port))
                return usage_error("--ingress takes ADDRESS:PORT (e.g. 127.0.0.1:8080), not '%s'", optarg);
            have_ingress = true;
            break;
        case 'm':
            /* One master, or several (HOST:PORT,HOST:PORT,...): each is checked. */
            for (const char *p = optarg; *p;) {
                size_t len = strcspn(p, ",");
                char one[256];
                snprintf(one, sizeof one, "%.*s", (int)(len < 255 ? len : 255), p);
                if (!len || len > 255 || !cli_parse_listen(one, master_host, sizeof master_host, &port))
                    return usage_error("--master takes HOST:PORT[,HOST:PORT...], not '%s'", optarg);
                p += len + (p[len] == ',');
            }
            o.master = optarg;
            break;
        case 'd': o.data_dir = optarg; break;
        case 'J': o.join_token = optarg; break;
        case 'C': o.ca_file = optarg; break;
        case 'P': o.plain_http = true; break;
        case 'p':
            if (strncmp(optarg, "sha256:", 7) || strlen(optarg) != 7 + 64 || strspn(optarg + 7, "0123456789abcdefABCDEF") != 64)
                return usage_error("--ca-pin takes sha256:HEX (64 hex digits, as `qyv cluster token create` prints), not '%s'", optarg);
            o.ca_pin = optarg;
            break;
        case 't': o.token_file = optarg; break;
        case 'n':
            if (!cluster_name_valid(optarg))
                return usage_error("--name takes lower-case letters, digits and '-' (63 at most), not '%s'", optarg);
            o.name = optarg;
            break;
        case 'c':
            if (!capacity_parse(optarg, &o.capacity, why, sizeof why)) {
                fprintf(stderr, "qyv node: --capacity: %s\n", why);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'w':
            errno = 0;
            o.workers = (int)strtol(optarg, &end, 10);
            if (errno || *end || o.workers < 1 || o.workers > 1024)
                return usage_error("--workers takes a number from 1 to 1024, not '%s'", optarg);
            break;
        case 'K': {
            uint64_t ms;
            if (!qv_parse_duration(optarg, &ms, why, sizeof why) || ms < 1000 || ms > 30ull * 86400000u)
                return usage_error("--bundle-cache-keep takes from 1s to 720h, not '%s'", optarg);
            o.bundle_keep_ms = ms;
            break;
        }
        case 'D': {
            uint64_t ms;
            if (!qv_parse_duration(optarg, &ms, why, sizeof why) || ms < 1000 || ms > 86400000u)
                return usage_error("--drain-timeout takes from 1s to 24h, not '%s'", optarg);
            o.drain_timeout_s = (int)(ms / 1000);
            break;
        }
        case 'L':
            if (!log_level_parse(optarg, &level))
                return usage_error("--log-level takes debug, info, warn or error, not '%s'", optarg);
            log_set_level(level);
            break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default:
            cli_option_error("node", opt, argv, optind);
            fputs("usage: qyv node --listen ADDR:PORT --data DIR --token-file FILE [OPTIONS]\n", stderr);
            return QYV_EXIT_USAGE;
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (!have_listen) return usage_error("%s", "--listen ADDR:PORT is needed (the node API)");
    if (!o.data_dir) return usage_error("%s", "--data DIR is needed (the bundle cache)");
    if (!o.token_file && (o.plain_http || !o.join_token) && !o.ca_pin && !o.ca_file) {
        /* A TLS node that joined before holds its certificate in DIR/tls. */
        char kept[4200];
        snprintf(kept, sizeof kept, "%s/tls/node.pem", o.data_dir);
        if (o.plain_http || access(kept, R_OK) != 0)
            return usage_error("%s", "--token-file FILE (the cluster token) or --join TOKEN (a join token) is needed");
    }
    if (o.plain_http && (o.join_token || o.ca_pin || o.ca_file))
        return usage_error("%s", "--plain-http goes without --join, --ca-pin and --ca (they are for TLS)");
    /* On the machine `qyv cluster init` ran on, its CA. */
    char default_ca[4200], why_dir[300];
    if (!o.plain_http && !o.ca_pin && !o.ca_file && cluster_config_dir(default_ca, sizeof default_ca - 8, why_dir, sizeof why_dir)) {
        strcat(default_ca, "/ca.crt");
        if (access(default_ca, R_OK) == 0) o.ca_file = default_ca;
    }
    o.listen_address = listen_addr;
    if (!have_ingress) {
        snprintf(ingress_addr, sizeof ingress_addr, "%s", listen_addr);
        o.ingress_port = 8080;
    }
    o.ingress_address = ingress_addr;
    if (o.ingress_port == o.listen_port && !strcmp(ingress_addr, listen_addr))
        return usage_error("%s", "--ingress must differ from --listen");
    return node_run(&o) ? QYV_EXIT_FAILURE : QYV_EXIT_OK;
}
