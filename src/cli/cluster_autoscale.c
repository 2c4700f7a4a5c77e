/*
 * cluster_autoscale.c — `qyv cluster autoscale APP --min N --max N
 * --cpu-threshold PERCENT`, and `--off`: the master sets APP's replicas by
 * its CPU use (docs/cluster.md, "Autoscaling").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "manifest/manifest.h"

static const char autoscale_usage[] =
    "usage: qyv cluster autoscale APP --min N --max N --cpu-threshold PERCENT [--output json]\n"
    "       qyv cluster autoscale APP --off\n"
    "\n"
    "Let the master set APP's replicas from its CPU use: between --min and\n"
    "--max, so that the replicas use about PERCENT of the CPU they ask for\n"
    "(one CPU each when the manifest asks for none). Scaling up is at once;\n"
    "scaling down waits for the master's --scale-down-window (5 minutes by\n"
    "default). --off stops it and leaves the replicas as they are. APP is an\n"
    "app's name or its manifest.\n";

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

void cluster_print_autoscale(const json_t *app)
{
    const char *name = json_string_value(json_object_get(app, "name"));
    json_t *as = json_object_get(app, "autoscale");
    long long wanted = (long long)json_integer_value(json_object_get(json_object_get(app, "replicas"), "wanted"));
    if (!json_is_object(as)) {
        printf("autoscaling %s: off (%lld replicas wanted, as now)\n", name ? name : "?", wanted);
        return;
    }
    printf("autoscaling %s: %lld to %lld replicas at %lld%% CPU", name ? name : "?",
           (long long)json_integer_value(json_object_get(as, "min")),
           (long long)json_integer_value(json_object_get(as, "max")),
           (long long)json_integer_value(json_object_get(as, "cpu_threshold")));
    json_t *use = json_object_get(as, "utilisation"), *desired = json_object_get(as, "desired");
    if (json_is_number(use) && json_is_integer(desired))
        printf("; last: %.0f%% of the CPU asked for, so %lld wanted", json_number_value(use),
               (long long)json_integer_value(desired));
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
        {"off", no_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *min_text = NULL, *max_text = NULL, *threshold_text = NULL;
    bool off = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': min_text = optarg; break;
        case 'M': max_text = optarg; break;
        case 'c': threshold_text = optarg; break;
        case 'x': off = true; break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(autoscale_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, autoscale_usage, opt, argv);
        }
    }
    bool some = min_text || max_text || threshold_text;
    if (argc - optind != 1 || (off && some) || (!off && !(min_text && max_text && threshold_text))) {
        cluster_say(ctx, off ? "--off takes APP alone" : "needs APP, --min N, --max N and --cpu-threshold PERCENT");
        fputs(autoscale_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    long min = 0, max = 0, threshold = 0;
    if (!off) {
        const long top = QV_MANIFEST_MAX_REPLICAS;
        if ((min = whole(ctx, "--min", min_text, 1, top)) < 0 || (max = whole(ctx, "--max", max_text, 1, top)) < 0 ||
            (threshold = whole(ctx, "--cpu-threshold", threshold_text, 1, 100)) < 0)
            return QYV_EXIT_USAGE;
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
    bool called = off ? cluster_call(ctx, "DELETE", path, NULL, NULL, 0, 0, &reply)
                      : cluster_call_json(ctx, "POST", path,
                                          json_pack("{s:I,s:I,s:I}", "min", (json_int_t)min, "max", (json_int_t)max,
                                                    "cpu_threshold", (json_int_t)threshold),
                                          &reply);
    if (!called) return QYV_EXIT_FAILURE;
    int status = report(ctx, &reply);
    api_reply_free(&reply);
    return status;
}
