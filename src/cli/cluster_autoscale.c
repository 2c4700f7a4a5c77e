/*
 * cluster_autoscale.c — `qyv cluster autoscale APP --min N --max N
 * [--cpu-threshold PERCENT] [--target-inflight N] [--window DURATION]`,
 * and `--off`: the master sets APP's replicas by its CPU use and its
 * requests in flight (docs/cluster.md, "Scaling").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "manifest/manifest.h"
#include "manifest/units.h"

static const char autoscale_usage[] =
    "usage: qyv cluster autoscale APP --min N --max N [--cpu-threshold PERCENT]\n"
    "                             [--target-inflight N] [--window DURATION] [--output json]\n"
    "       qyv cluster autoscale APP --off\n"
    "\n"
    "Let the master set APP's replicas from its load, between --min and --max\n"
    "(the Kubernetes HPA rule: replicas x observed / target, 10% tolerance):\n"
    "  --cpu-threshold PERCENT  the replicas use about PERCENT of the CPU they\n"
    "                           ask for (one CPU each when they ask for none)\n"
    "  --target-inflight N      about N requests in flight (running or queued)\n"
    "                           per replica\n"
    "Give one or both; with both, the one asking for more replicas wins.\n"
    "Scaling up is at once; scaling down waits out --window (default: the\n"
    "master's --scale-down-window, 5 minutes unless set), going to the most\n"
    "replicas asked for within it. --off stops it and leaves the replicas as\n"
    "they are. APP is an app's name or its manifest.\n";

/* A whole number from low to high, or -1 after saying what is wrong. */
static long whole(const cluster_ctx *ctx, const char *flag, const char *text, long low, long high)
{
    char *end;
    long n = text ? strtol(text, &end, 10) : -1;
    if (!text || *end || end == text || text[0] == '-' || text[0] == '+' || n < low || n > high) {
        cluster_say(ctx, "%s takes a whole number from %ld to %ld, not '%s'", flag, low, high, text ? text : "");
        return -1;
    }
    return n;
}

/* "90s" rather than "90000ms". */
static void print_duration(long long ms)
{
    if (ms && ms % 60000 == 0) printf("%lldm", ms / 60000);
    else if (ms % 1000 == 0) printf("%llds", ms / 1000);
    else printf("%lldms", ms);
}

void cluster_print_autoscale(const json_t *app)
{
    const char *name = json_string_value(json_object_get(app, "name"));
    json_t *as = json_object_get(app, "autoscale");
    long long wanted = (long long)json_integer_value(json_object_get(json_object_get(app, "replicas"), "wanted"));
    if (!json_is_object(as)) {
        printf("autoscaling %s: off (%lld replicas wanted, as now)\n", name ? name : "?", wanted);
        return;
    }
    printf("autoscaling %s: %lld to %lld replicas", name ? name : "?",
           (long long)json_integer_value(json_object_get(as, "min")),
           (long long)json_integer_value(json_object_get(as, "max")));
    json_t *cpu = json_object_get(as, "cpu_threshold"), *inflight = json_object_get(as, "target_inflight");
    if (json_is_integer(cpu)) printf(" at %lld%% CPU", (long long)json_integer_value(cpu));
    if (json_is_integer(inflight))
        printf("%s %lld in flight per replica", json_is_integer(cpu) ? " or" : " at",
               (long long)json_integer_value(inflight));
    json_t *window = json_object_get(as, "effective_window_ms");
    if (json_is_integer(window)) {
        printf(", down after ");
        print_duration((long long)json_integer_value(window));
    }
    const char *why = json_string_value(json_object_get(as, "why"));
    json_t *desired = json_object_get(as, "desired");
    if (why && json_is_integer(desired)) printf("; last: %s", why);
    else printf("; not measured yet (%lld wanted)", wanted);
    printf("\n");
}

static int report(cluster_ctx *ctx, const api_reply *reply)
{
    json_t *answer = cluster_answer(ctx, reply, 200);
    if (!answer) return QYV_EXIT_FAILURE;
    if (ctx->json) cluster_print_json(answer);
    else cluster_print_autoscale(answer);
    json_decref(answer);
    return QYV_EXIT_OK;
}

int cluster_autoscale(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},
        {"cpu-threshold", required_argument, NULL, 'c'},
        {"target-inflight", required_argument, NULL, 'i'},
        {"window", required_argument, NULL, 'w'},
        {"off", no_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *min_text = NULL, *max_text = NULL, *threshold_text = NULL, *inflight_text = NULL,
               *window_text = NULL;
    bool off = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': min_text = optarg; break;
        case 'M': max_text = optarg; break;
        case 'c': threshold_text = optarg; break;
        case 'i': inflight_text = optarg; break;
        case 'w': window_text = optarg; break;
        case 'x': off = true; break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(autoscale_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, autoscale_usage, opt, argv);
        }
    }
    bool some = min_text || max_text || threshold_text || inflight_text || window_text;
    if (argc - optind != 1 || (off && some) ||
        (!off && !(min_text && max_text && (threshold_text || inflight_text)))) {
        cluster_say(ctx, off ? "--off takes APP alone"
                             : "needs APP, --min N, --max N and a target: --cpu-threshold PERCENT, "
                               "--target-inflight N or both");
        fputs(autoscale_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    long min = 0, max = 0, threshold = 0, inflight = 0;
    uint64_t window_ms = 0;
    if (!off) {
        const long top = QV_MANIFEST_MAX_REPLICAS;
        if ((min = whole(ctx, "--min", min_text, 1, top)) < 0 || (max = whole(ctx, "--max", max_text, 1, top)) < 0 ||
            (threshold_text && (threshold = whole(ctx, "--cpu-threshold", threshold_text, 1, 100)) < 0) ||
            (inflight_text &&
             (inflight = whole(ctx, "--target-inflight", inflight_text, 1, QV_MANIFEST_MAX_INFLIGHT)) < 0))
            return QYV_EXIT_USAGE;
        char why[200];
        if (window_text && (!qv_parse_duration(window_text, &window_ms, why, sizeof why) ||
                            window_ms > QV_MANIFEST_MAX_WINDOW_MS)) {
            cluster_say(ctx, "--window takes a duration from 0s to 24h (such as 30s or 5m), not '%s'", window_text);
            return QYV_EXIT_USAGE;
        }
        if (min > max) {
            cluster_say(ctx, "--min %ld is more than --max %ld", min, max);
            return QYV_EXIT_USAGE;
        }
    }
    char app[128], path[256];
    int bad = cluster_app_operand(ctx, argv[optind], app, sizeof app);
    if (bad) return bad;
    snprintf(path, sizeof path, "/v1/apps/%s/autoscale", app);
    api_reply reply;
    json_t *spec = NULL;
    if (!off) {
        spec = json_pack("{s:I,s:I}", "min", (json_int_t)min, "max", (json_int_t)max);
        if (threshold) json_object_set_new(spec, "cpu_threshold", json_integer(threshold));
        if (inflight) json_object_set_new(spec, "target_inflight", json_integer(inflight));
        if (window_text) json_object_set_new(spec, "window_ms", json_integer((json_int_t)window_ms));
    }
    bool called = off ? cluster_call(ctx, "DELETE", path, NULL, NULL, 0, 0, &reply)
                      : cluster_call_json(ctx, "POST", path, spec, &reply);
    if (!called) return QYV_EXIT_FAILURE;
    int status = report(ctx, &reply);
    api_reply_free(&reply);
    return status;
}
