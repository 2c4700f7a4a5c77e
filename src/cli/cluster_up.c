/*
 * cluster_up.c — `qyv cluster up [--nodes N] [--dir DIR]`: a whole
 * cluster on this machine, to try things: a `qyv master` and N `qyv node`
 * processes on free loopback ports, started as children of this command
 * (their output in DIR/NAME.log), and the client configuration pointed at
 * the master. It stays in the foreground; Ctrl-C or SIGTERM stops the
 * nodes, then the master, and puts the configuration's master back. If a
 * child dies on its own, everything is stopped and the status is 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli/cluster_cli.h"

#define MAX_NODES 64
#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 5000

typedef struct child {
    char name[32];
    char listen[32], ingress[32];
    char log[PATH_MAX];
    pid_t pid;          /* 0 before it starts and once reaped */
    bool started;
    bool reported;      /* its death was told */
    int status;
} child;

static const char usage_text[] =
    "usage: qyv cluster up [--nodes N] [--dir DIR]\n"
    "\n"
    "Run a whole cluster on this machine: a master and N nodes (default 3)\n"
    "on free loopback ports, as children of this command, until Ctrl-C.\n"
    "Makes a cluster token first if there is none (as `qyv cluster init`),\n"
    "and points the cluster commands at the master while it runs. It speaks\n"
    "plain HTTP on loopback (--plain-http): a cluster of several machines is\n"
    "made with `qyv cluster init`, which sets up TLS.\n"
    "\n"
    "options:\n"
    "  --nodes N     how many nodes (1-64)\n"
    "  --dir DIR     their data and logs (default ~/.local/share/qyvol/cluster)\n"
    "  -h, --help    print this help\n";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n distinct free loopback ports: all bound at once, then released. */
static bool free_ports(int n, int *ports)
{
    int fds[2 * MAX_NODES + 2];
    bool ok = true;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = ok && fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof a) == 0 &&
             getsockname(fds[i], (struct sockaddr *)&a, &len) == 0;
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
    return ok;
}

static bool make_dir(const cluster_ctx *ctx, const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *s = buf + 1;; s++) {
        bool end = !*s;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                cluster_say(ctx, "cannot create %s: %s", buf, strerror(errno));
                return false;
            }
            if (end) return true;
            *s = '/';
        }
    }
}

/* Start argv with output to c->log, in its own process group (Ctrl-C
 * reaches only us: we stop the children in order), dying with us. */
static bool start(const cluster_ctx *ctx, child *c, char *const argv[])
{
    int log = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        cluster_say(ctx, "cannot open %s: %s", c->log, strerror(errno));
        return false;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log);
    if (pid < 0) {
        cluster_say(ctx, "cannot start %s: %s", c->name, strerror(errno));
        return false;
    }
    c->pid = pid;
    c->started = true;
    return true;
}

/* Reap whatever has exited; true if any child is gone. */
static bool reap(child *children, int n)
{
    bool gone = false;
    for (int i = 0; i < n; i++) {
        if (!children[i].pid) continue;
        if (waitpid(children[i].pid, &children[i].status, WNOHANG) == children[i].pid) {
            children[i].pid = 0;
            gone = true;
        }
    }
    return gone;
}

/* Tell how each child that died on its own died, with its log's end. */
static void report_dead(const cluster_ctx *ctx, child *children, int n)
{
    for (int i = 0; i < n; i++) {
        child *c = &children[i];
        if (!c->started || c->pid || c->reported) continue;
        c->reported = true;
        char how[64];
        if (WIFSIGNALED(c->status)) snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(c->status));
        else snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(c->status));
        cluster_say(ctx, "%s %s; the end of %s:", c->name, how, c->log);
        FILE *f = fopen(c->log, "r");
        if (!f) continue;
        char lines[10][512];
        int count = 0;
        while (fgets(lines[count % 10], sizeof lines[0], f)) count++;
        fclose(f);
        for (int k = count > 10 ? count - 10 : 0; k < count; k++) fprintf(stderr, "  %s", lines[k % 10]);
    }
}

/* Nodes first, then the master: SIGTERM, then SIGKILL after a while. */
static void stop_all(child *children, int n)
{
    for (int i = n - 1; i >= 0; i--)
        if (children[i].pid) kill(children[i].pid, SIGTERM);
    long long deadline = now_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        reap(children, n);
        bool alive = false;
        for (int i = 0; i < n; i++) alive |= children[i].pid != 0;
        if (!alive) return;
        if (now_ms() >= deadline) break;
        usleep(20 * 1000);
    }
    for (int i = 0; i < n; i++)
        if (children[i].pid) {
            fprintf(stderr, "qyv cluster up: %s did not stop within %d ms; killing it\n", children[i].name,
                    STOP_TIMEOUT_MS);
            kill(children[i].pid, SIGKILL);
            waitpid(children[i].pid, &children[i].status, 0);
            children[i].pid = 0;
        }
}

/* Poll until the master says `ready` nodes are ready (0: it answers). */
static bool wait_ready(cluster_ctx *ctx, child *children, int n, int ready, const sigset_t *signals)
{
    long long deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        if (reap(children, n)) return false;
        struct timespec pause = {0, 50 * 1000 * 1000};
        if (sigtimedwait(signals, NULL, &pause) > 0) return false;
        api_reply reply;
        char why[512];
        if (!api_call(ctx->master, "GET", ready ? "/v1/nodes" : "/v1/health", ctx->token, NULL, NULL, 0, 1000,
                      &reply, why, sizeof why))
            continue;
        json_t *root = reply.status == 200 ? json_loadb(reply.body, reply.len, 0, NULL) : NULL;
        api_reply_free(&reply);
        int count = 0;
        json_t *nodes = json_object_get(root, "nodes");
        for (size_t i = 0; i < json_array_size(nodes); i++) {
            const char *status = json_string_value(json_object_get(json_array_get(nodes, i), "status"));
            count += status && !strcmp(status, "ready");
        }
        bool done = root && count >= ready;
        json_decref(root);
        if (done) return true;
    }
    cluster_say(ctx, ready ? "the nodes did not all report ready within %d ms" : "the master did not answer within %d ms",
                START_TIMEOUT_MS);
    return false;
}

static int parse(cluster_ctx *ctx, int argc, char **argv, int *nodes, const char **dir)
{
    static const struct option options[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'n':
            *nodes = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || *nodes < 1 || *nodes > MAX_NODES) {
                cluster_say(ctx, "--nodes takes a number from 1 to %d, not '%s'", MAX_NODES, optarg);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'd': *dir = optarg; break;
        case 'h': fputs(usage_text, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, usage_text, opt, argv);
        }
    }
    if (optind < argc) {
        cluster_say(ctx, "takes no operands, not '%s'", argv[optind]);
        return QYV_EXIT_USAGE;
    }
    return -1;
}

/* Fill in the children's names, addresses and logs. */
static bool plan(cluster_ctx *ctx, child *children, int n, const char *data)
{
    int ports[2 * MAX_NODES + 2];
    if (!free_ports(2 * n, ports)) {
        cluster_say(ctx, "cannot find free loopback ports: %s", strerror(errno));
        return false;
    }
    for (int i = 0; i < n; i++) {
        child *c = &children[i];
        if (i == 0) snprintf(c->name, sizeof c->name, "master");
        else snprintf(c->name, sizeof c->name, "node-%d", i);
        snprintf(c->listen, sizeof c->listen, "127.0.0.1:%d", ports[2 * i]);
        snprintf(c->ingress, sizeof c->ingress, "127.0.0.1:%d", ports[2 * i + 1]);
        if (snprintf(c->log, sizeof c->log, "%s/%s.log", data, c->name) >= (int)sizeof c->log) {
            cluster_say(ctx, "--dir: path too long");
            return false;
        }
    }
    return true;
}

static bool start_one(cluster_ctx *ctx, child *c, const char *exe, const char *data, const char *master)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", data, c->name);
    if (!make_dir(ctx, dir)) return false;
    char *args[16];
    int k = 0;
    args[k++] = (char *)exe;
    args[k++] = master ? "node" : "master";
    args[k++] = "--listen", args[k++] = c->listen;
    args[k++] = "--ingress", args[k++] = c->ingress;
    args[k++] = "--data", args[k++] = dir;
    args[k++] = "--token-file", args[k++] = ctx->token_file;
    args[k++] = "--plain-http"; /* loopback only, for trying things: no certificates to make */
    if (master) {
        args[k++] = "--name", args[k++] = c->name;
        args[k++] = "--master", args[k++] = (char *)master;
    }
    args[k] = NULL;
    return start(ctx, c, args);
}

int cluster_up(cluster_ctx *ctx, int argc, char **argv)
{
    int nodes = 3;
    const char *dir_flag = NULL;
    int status = parse(ctx, argc, argv, &nodes, &dir_flag);
    if (status >= 0) return status;
    char data_rel[PATH_MAX], data[PATH_MAX], why[1024], exe[PATH_MAX];
    if (!cluster_data_dir(dir_flag, data_rel, sizeof data_rel, why, sizeof why) ||
        !cluster_absolute(data_rel, data, sizeof data)) {
        cluster_say(ctx, "%s", dir_flag ? "--dir: path too long" : why);
        return QYV_EXIT_FAILURE;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cluster_say(ctx, "cannot find the qyv program: %s", strerror(errno));
        return QYV_EXIT_FAILURE;
    }
    exe[n] = 0;
    char previous_master[CLUSTER_ADDRESS_MAX];
    bool made;
    if (!make_dir(ctx, data) || !cluster_ensure_token(ctx, false, &made) ||
        !cluster_token_read(ctx->token_file, ctx->token, sizeof ctx->token, why, sizeof why))
        return QYV_EXIT_FAILURE;
    if (made) printf("made a cluster token in %s\n", ctx->token_file);
    snprintf(previous_master, sizeof previous_master, "%s", ctx->config.master);

    child children[MAX_NODES + 1] = {0};
    int count = nodes + 1;
    if (!plan(ctx, children, count, data)) return QYV_EXIT_FAILURE;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, NULL);

    snprintf(ctx->master, sizeof ctx->master, "%s", children[0].listen);
    bool ok = start_one(ctx, &children[0], exe, data, NULL) && wait_ready(ctx, children, 1, 0, &signals);
    for (int i = 1; ok && i < count; i++) ok = start_one(ctx, &children[i], exe, data, children[0].listen);
    ok = ok && wait_ready(ctx, children, count, nodes, &signals);
    report_dead(ctx, children, count);
    /* Point the commands at this master while it runs. */
    snprintf(ctx->config.master, sizeof ctx->config.master, "http://%s", children[0].listen);
    if (ok && !cluster_config_save(ctx->config_dir, &ctx->config, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        ok = false;
    }
    if (ok) {
        printf("a local cluster is up (data and logs in %s):\n", data);
        for (int i = 0; i < count; i++)
            printf("  %-8s %s  (apps on %s, log %s.log)\n", children[i].name, children[i].listen, children[i].ingress,
                   children[i].name);
        printf("The cluster commands use this master until it stops: try `qyv cluster list-nodes`,\n"
               "then `qyv cluster deploy app.qyv`. Ctrl-C stops the cluster.\n");
        fflush(stdout);
        /* Wait for a signal, or for a child to die (checked twice a second). */
        for (;;) {
            struct timespec tick = {0, 500 * 1000 * 1000};
            int sig = sigtimedwait(&signals, NULL, &tick);
            if (sig > 0) break;
            if (reap(children, count)) {
                report_dead(ctx, children, count);
                ok = false;
                break;
            }
        }
    }
    stop_all(children, count);
    snprintf(ctx->config.master, sizeof ctx->config.master, "%s", previous_master);
    if (!cluster_config_save(ctx->config_dir, &ctx->config, why, sizeof why)) cluster_say(ctx, "%s", why);
    if (ok) printf("stopped the local cluster\n");
    return ok ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}
