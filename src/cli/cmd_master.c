/*
 * cmd_master.c — `qyv master`: the cluster's control plane, in the
 * foreground (docs/cluster.md, docs/api.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cluster/master/master.h"
#include "cluster/store.h"
#include "cli/cluster_cli.h"
#include "manifest/read_file.h"
#include "manifest/units.h"
#include "serve/log.h"

static const char usage_text[] =
    "usage: qyv master --data DIR [OPTIONS]\n"
    "\n"
    "Run the cluster's control plane: the API (docs/api.md) that `qyv cluster`\n"
    "commands and nodes talk to, the cluster's state (SQLite in DIR, or etcd), the\n"
    "scheduler and node health. Logs are JSON lines on stdout; SIGTERM stops it.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT   the API's address (default 127.0.0.1:7000)\n"
    "  --data DIR           where the state and the app bundles are kept\n"
    "  --token-file FILE    the cluster token (default: the one `qyv cluster init`\n"
    "                       wrote, $XDG_CONFIG_HOME/qyvol/token)\n"
    "  --ingress ADDR:PORT  also serve every app's route here, balanced over the\n"
    "                       nodes that run it\n"
    "  --store URL          the state store: sqlite:FILE (default DIR/state.db), or\n"
    "                       etcd://HOST:PORT[,HOST:PORT...] shared by several\n"
    "                       masters, one of which leads (docs/ha.md); etcds://...\n"
    "                       for etcd over TLS, checked with:\n"
    "  --etcd-cacert FILE   the CA that signed etcd's certificates (etcds://)\n"
    "  --etcd-cert FILE, --etcd-key FILE\n"
    "                       the client certificate and key etcd asks for (its\n"
    "                       --client-cert-auth)\n"
    "  --advertise HOST[:PORT][,NAME...]\n"
    "                       where other masters and nodes reach this one (HOST:PORT;\n"
    "                       the port is --listen's when left out; default: the\n"
    "                       --listen address); every HOST and NAME is also named\n"
    "                       in the master's certificate\n"
    "  --lease-ttl SECONDS  the leader's etcd lease: a dead leader is replaced\n"
    "                       within about this (default 2)\n"
    "  --secret-key-file FILE\n"
    "                       the key secrets are sealed with: 64 hex digits, 0600,\n"
    "                       made if missing; keep it apart from DIR, and give\n"
    "                       every master the same (default: secret.key beside the\n"
    "                       token, $XDG_CONFIG_HOME/qyvol/secret.key)\n"
    "  --old-secret-key-file FILE\n"
    "                       a key being rotated out (repeatable, up to 4): what it\n"
    "                       sealed is sealed again with --secret-key-file's key\n"
    "                       at start (docs/security.md, \"Rotating the key\")\n"
    "  --heartbeat DURATION how often nodes report (default 1s)\n"
    "  --down-after DURATION\n"
    "                       a node silent this long is down and its replicas\n"
    "                       move (default 3s)\n"
    "  --autoscale-interval DURATION\n"
    "                       how often autoscaled apps are measured and scaled\n"
    "                       (default 5s)\n"
    "  --scale-down-window DURATION\n"
    "                       the autoscaler scales down to the highest replicas it\n"
    "                       recommended during this window (default 5m; 0 for none;\n"
    "                       an app's own window, autoscale --window, wins)\n"
    "  --ca-dir DIR         the cluster CA `qyv cluster init` made (default: its\n"
    "                       folder, $XDG_CONFIG_HOME/qyvol); copied into DIR/tls\n"
    "                       on the first start\n"

    "  --node-cert-ttl DURATION\n"
    "                       how long node certificates are good (default 720h;\n"
    "                       nodes renew theirs when two thirds have passed)\n"
    "  --revision-history N revision records kept per app for `rollout history`\n"
    "                       and `undo` (default 10); older records, and bundles\n"
    "                       nothing names any more, are deleted\n"
    "  --plain-http         no TLS: the API and nodes speak plain HTTP with the\n"
    "                       token only (for a closed test network)\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help           print this help\n";

/* One --advertise entry, HOST, HOST:PORT, [V6] or [V6]:PORT (a bare V6
 * has no port): its host, and its port or 0. */
static bool advertise_entry(const char *entry, char *host, size_t hostlen, uint16_t *port)
{
    const char *end = entry + strlen(entry), *colon = strrchr(entry, ':');
    *port = 0;
    if (entry[0] == '[') {
        const char *close = strchr(entry, ']');
        if (!close || (close[1] && close[1] != ':')) return false;
        colon = close[1] ? close + 1 : NULL;
        end = close;
        entry++;
    } else if (colon && strchr(entry, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
    } else if (colon) {
        end = colon;
    }
    if (colon) {
        char *stop;
        long p = strtol(colon + 1, &stop, 10);
        if (*stop || stop == colon + 1 || p < 1 || p > 65535) return false;
        *port = (uint16_t)p;
    }
    if (end == entry || (size_t)(end - entry) >= hostlen) return false;
    snprintf(host, hostlen, "%.*s", (int)(end - entry), entry);
    return true;
}

/* --advertise HOST[:PORT][,NAME...]: the first entry is where other
 * masters and nodes reach this one (reach, HOST:PORT; the port is
 * --listen's when left out), and every entry's host is named in the
 * master's certificate (names, comma-separated). */
static bool parse_advertise(const char *list, uint16_t listen_port, char *reach, size_t reachlen, char *names,
                            size_t nameslen)
{
    *reach = *names = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        char entry[256], host[256];
        uint16_t port;
        if (!len || len >= sizeof entry) return false;
        snprintf(entry, sizeof entry, "%.*s", (int)len, p);
        if (!advertise_entry(entry, host, sizeof host, &port)) return false;
        if (!*reach)
            snprintf(reach, reachlen, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port ? port : listen_port);
        size_t used = strlen(names);
        if (snprintf(names + used, nameslen - used, "%s%s", used ? "," : "", host) >= (int)(nameslen - used))
            return false;
        p += len;
        if (!*p) return true;
    }
}

/* What is wrong with the etcd TLS flags for this --store, or NULL. */
static const char *etcd_tls_problem(const char *store_url, const store_etcd_tls *t)
{
    bool etcds = store_url && !strncmp(store_url, "etcds://", 8);
    if ((t->cacert || t->cert || t->key) && !etcds)
        return "--etcd-cacert, --etcd-cert and --etcd-key go with --store etcds://HOST:PORT[,...] (etcd over TLS)";
    if (etcds && !t->cacert) return "--store etcds://... needs --etcd-cacert FILE: the CA that signed etcd's certificates";
    if (!t->cert != !t->key) return "--etcd-cert and --etcd-key go together: the client certificate and its key";
    const char *files[] = {t->cacert, t->cert, t->key};
    static char why[1200];
    for (size_t i = 0; i < 3; i++)
        if (files[i] && access(files[i], R_OK) != 0) {
            snprintf(why, sizeof why, "cannot read %s (%s): %s", files[i], i == 0 ? "--etcd-cacert" : i == 1 ? "--etcd-cert" : "--etcd-key",
                     strerror(errno));
            return why;
        }
    return NULL;
}

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("master", "qyv master --data DIR [OPTIONS]", QYV_EXIT_USAGE, fmt, arg);
}

int cmd_master(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},   {"data", required_argument, NULL, 'd'},
        {"token-file", required_argument, NULL, 't'}, {"ingress", required_argument, NULL, 'i'},
        {"store", required_argument, NULL, 's'},    {"heartbeat", required_argument, NULL, 'b'},
        {"down-after", required_argument, NULL, 'D'}, {"log-level", required_argument, NULL, 'L'},
        {"autoscale-interval", required_argument, NULL, 'A'}, {"scale-down-window", required_argument, NULL, 'W'},
        {"ca-dir", required_argument, NULL, 'C'}, {"advertise", required_argument, NULL, 'a'},
        {"lease-ttl", required_argument, NULL, 'E'}, {"node-cert-ttl", required_argument, NULL, 'T'},
        {"plain-http", no_argument, NULL, 'P'},
        {"secret-key-file", required_argument, NULL, 'K'}, {"old-secret-key-file", required_argument, NULL, 'O'},
        {"etcd-cacert", required_argument, NULL, 'R'}, {"etcd-cert", required_argument, NULL, 'c'},
        {"etcd-key", required_argument, NULL, 'k'}, {"revision-history", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    char address[256] = "127.0.0.1", ingress[256] = "", token_file[1024] = "", token[1024], key_file[1024] = "";
    const char *advertise = NULL;
    store_etcd_tls etcd_tls = {0};
    char reach[300], names[1024];
    master_options mo = {.address = address, .port = 7000, .heartbeat_ms = 1000, .down_after_ms = 3000, .lease_ttl_s = 2,
                         .autoscale_interval_ms = 5000, .scale_down_window_ms = 300000};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        char why[160];
        uint64_t ms;
        log_level level;
        switch (opt) {
        case 'l':
            if (!cli_parse_listen(optarg, address, sizeof address, &mo.port))
                return usage_error("--listen takes ADDRESS:PORT (e.g. 127.0.0.1:7000), not '%s'", optarg);
            break;
        case 'i':
            if (!cli_parse_listen(optarg, ingress, sizeof ingress, &mo.ingress_port))
                return usage_error("--ingress takes ADDRESS:PORT (e.g. 0.0.0.0:8080), not '%s'", optarg);
            mo.ingress_address = ingress;
            break;
        case 'd': mo.data_dir = optarg; break;
        case 't': snprintf(token_file, sizeof token_file, "%s", optarg); break;
        case 's': mo.store_url = optarg; break;
        case 'a': advertise = optarg; break;
        case 'E': {
            char *end;
            long ttl = strtol(optarg, &end, 10);
            if (*end || ttl < 1 || ttl > 60) return usage_error("--lease-ttl takes whole seconds from 1 to 60, not '%s'", optarg);
            mo.lease_ttl_s = (unsigned)ttl;
            break;
        }
        case 'K': snprintf(key_file, sizeof key_file, "%s", optarg); break;
        case 'R': etcd_tls.cacert = optarg; break;
        case 'c': etcd_tls.cert = optarg; break;
        case 'k': etcd_tls.key = optarg; break;
        case 'O': { /* a block: clang-19 refuses a declaration right after a label before C23 */
            _Static_assert(SECRETS_MAX_OLD_KEYS == 4, "the message below says 4");
            if (mo.n_old_secret_key_files == SECRETS_MAX_OLD_KEYS)
                return usage_error("at most 4 --old-secret-key-file at once (not also %s)", optarg);
            mo.old_secret_key_files[mo.n_old_secret_key_files++] = optarg;
            break;
        }
        case 'b':
        case 'D':
            if (!qv_parse_duration(optarg, &ms, why, sizeof why)) {
                fprintf(stderr, "qyv master: %s '%s' %s\n", opt == 'b' ? "--heartbeat" : "--down-after", optarg, why);
                return QYV_EXIT_USAGE;
            }
            if (ms < 100 || ms > 3600000)
                return usage_error("durations go from 100ms to 1h, not '%s'", optarg);
            *(opt == 'b' ? &mo.heartbeat_ms : &mo.down_after_ms) = (unsigned)ms;
            break;
        case 'A':
        case 'W':
            if (!qv_parse_duration(optarg, &ms, why, sizeof why)) {
                fprintf(stderr, "qyv master: %s '%s' %s\n", opt == 'A' ? "--autoscale-interval" : "--scale-down-window",
                        optarg, why);
                return QYV_EXIT_USAGE;
            }
            if ((opt == 'A' && ms < 100) || ms > 86400000)
                return usage_error("--autoscale-interval goes from 100ms to 24h, --scale-down-window from 0s to 24h, not '%s'",
                                   optarg);
            *(opt == 'A' ? &mo.autoscale_interval_ms : &mo.scale_down_window_ms) = (unsigned)ms;
            break;
        case 'H': {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || n < 1 || n > 1000)
                return usage_error("--revision-history takes a number of revisions from 1 to 1000, not '%s'", optarg);
            mo.revision_history = (unsigned)n;
            break;
        }
        case 'C': mo.ca_dir = optarg; break;
        case 'P': mo.plain_http = true; break;
        case 'T':
            if (!qv_parse_duration(optarg, &ms, why, sizeof why) || ms < 1000 || ms > 10ull * 365 * 86400000)
                return usage_error("--node-cert-ttl goes from 1s to 87600h, not '%s'", optarg);
            mo.node_cert_ttl_s = (long)(ms / 1000);
            break;
        case 'L':
            if (!log_level_parse(optarg, &level))
                return usage_error("--log-level takes debug, info, warn or error, not '%s'", optarg);
            log_set_level(level);
            break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default:
            cli_option_error("master", opt, argv, optind);
            fputs("usage: qyv master --data DIR [OPTIONS]  (qyv master --help for more)\n", stderr);
            return QYV_EXIT_USAGE;
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (!mo.data_dir) return usage_error("%s", "--data DIR is needed: where the cluster's state is kept");
    if (mo.down_after_ms <= mo.heartbeat_ms)
        return usage_error("%s", "--down-after must be longer than --heartbeat");
    const char *bad_tls = etcd_tls_problem(mo.store_url, &etcd_tls);
    if (bad_tls) return usage_error("%s", bad_tls);
    store_etcd_set_tls(&etcd_tls);
    if (advertise) {
        if (!parse_advertise(advertise, mo.port, reach, sizeof reach, names, sizeof names))
            return usage_error("--advertise takes HOST[:PORT][,NAME...] (e.g. 10.0.0.1:7000,master.example), not '%s'",
                               advertise);
        mo.advertise = reach;
        mo.advertise_names = names;
    }
    char why[1200];
    /* By default the token `qyv cluster init` wrote, in the client's
     * configuration folder. */
    char config_dir[900];
    if (!mo.ca_dir && !mo.plain_http && cluster_config_dir(config_dir, sizeof config_dir, why, sizeof why))
        mo.ca_dir = config_dir;
    if (!*key_file) { /* beside the token, outside --data */
        if (!cluster_config_dir(config_dir, sizeof config_dir, why, sizeof why)) {
            fprintf(stderr, "qyv master: no --secret-key-file, and %s\n", why);
            return QYV_EXIT_FAILURE;
        }
        mkdir(config_dir, 0700);
        snprintf(key_file, sizeof key_file, "%s/secret.key", config_dir);
    }
    mo.secret_key_file = key_file;
    if (!*token_file) {
        if (!cluster_config_dir(config_dir, sizeof config_dir, why, sizeof why)) {
            fprintf(stderr, "qyv master: no --token-file, and %s\n", why);
            return QYV_EXIT_FAILURE;
        }
        snprintf(token_file, sizeof token_file, "%s/token", config_dir);
    }
    if (!cluster_token_read(token_file, token, sizeof token, why, sizeof why)) {
        fprintf(stderr, "qyv master: %s\n", why);
        return QYV_EXIT_FAILURE;
    }
    mo.token = token;
    return master_run(&mo) ? QYV_EXIT_FAILURE : QYV_EXIT_OK;
}
