/*
 * cluster_deploy.c — `qyv cluster deploy FILE.qyv [OPTIONS]`: pack the
 * app's folder into a bundle (src/cluster/bundle.h), upload it
 * (POST /v1/bundles), deploy it with the command line's overrides
 * (POST /v1/apps), and say where its replicas went — or why they could
 * not all be placed, or why the master refused the app.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cluster/bundle.h"

static const char usage_text[] =
    "usage: qyv cluster deploy FILE.qyv [OPTIONS]\n"
    "\n"
    "Upload the app's folder (the manifest, its module and the files\n"
    "permissions.fs grants) to the master as one bundle, and run it on the\n"
    "cluster. The options override the manifest:\n"
    "  --replicas N         how many replicas (1-10000)\n"
    "  --memory SIZE        memory per instance (128MB, 512MiB, 1GiB, ...)\n"
    "  --cpu N              CPUs per replica (0.5, 2, 250m)\n"
    "  --env NAME=VALUE     an environment variable (repeat for more)\n"
    "  --port P             also serve the app on port P of every node\n"
    "  --nodes a,b          run only on these nodes\n"
    "When the app runs already, the deploy rolls it out to the new revision\n"
    "(docs/cluster.md, \"Releases\"); these override deploy.strategy:\n"
    "  --strategy S         rolling (default), blue_green or canary\n"
    "  --max-surge N|P%     rolling: replicas over the count (25%)\n"
    "  --max-unavailable N|P%  rolling: replicas under it (0)\n"
    "  --steps 10,50,100    canary: traffic percent per step\n"
    "  --pause DUR|manual   canary: pause per step, or wait for promote (30s)\n"
    "  --keep-old DUR       blue_green: keep the old set after the switch (5m)\n"
    "  --progress-deadline DUR  fail without progress this long (600s)\n"
    "  --rollback-on-failure  go back to the running revision when the new one\n"
    "                       fails its health checks, errors or latency, or the\n"
    "                       deadline passes (and wait, as --wait)\n"
    "  --max-error-rate P%  5xx the new revision may have over the old (5%)\n"
    "  --max-latency DUR    mean latency it may have over the old (unbounded)\n"
    "  --wait               follow the rollout (or the first start) to its end\n"
    "  --server HOST:PORT   the master to deploy to (as --master)\n"
    "  --output json        print the master's answer as JSON\n"
    "  --debug              print each API call\n"
    "  -h, --help           print this help\n"
    "\n"
    "Exit status 0 when every replica is placed (with --wait: the rollout\n"
    "succeeded, or every replica is ready); 1 when the app is refused\n"
    "(the message names FILE:LINE:COLUMN) or some replicas could not be\n"
    "placed (the app waits as pending; the message says which resource is\n"
    "short on which nodes), or (with --wait) the rollout failed, was rolled\n"
    "back or aborted: the message says why.\n";

/* "node-a 4, node-b 3" from {"node-a":4,...} or {"node-a":{"wanted":4,...}}. */
void cluster_print_placement(const json_t *placement)
{
    const char *node;
    json_t *v;
    const char *sep = "";
    json_object_foreach((json_t *)placement, node, v) {
        json_t *n = json_is_object(v) ? json_object_get(v, "wanted") : v;
        printf("%s%s %lld", sep, node, (long long)json_integer_value(n));
        sep = ", ";
    }
    if (!*sep) printf("no node");
}

/* What the master says about a deploy or scale: placed, pending, refused. */
int cluster_report_placement(cluster_ctx *ctx, const api_reply *reply, const char *verb)
{
    json_t *root = json_loadb(reply->body, reply->len, 0, NULL);
    bool placed = reply->status == 200 || reply->status == 201;
    if (!root || (!placed && reply->status != 422)) {
        json_decref(root);
        json_decref(cluster_answer(ctx, reply, 0));
        return QYV_EXIT_FAILURE;
    }
    if (ctx->json) {
        cluster_print_json(root);
    } else {
        /* A 422 answer has no "replicas": count what was placed. */
        const json_t *placement = json_object_get(root, "placement");
        long long replicas = 0;
        const char *node;
        json_t *v;
        json_object_foreach((json_t *)placement, node, v)
            replicas += json_integer_value(json_is_object(v) ? json_object_get(v, "wanted") : v);
        if (json_is_integer(json_object_get(root, "replicas")))
            replicas = json_integer_value(json_object_get(root, "replicas"));
        printf("%s %s revision %lld: %lld replica%s %s ", verb, json_string_value(json_object_get(root, "app")),
               (long long)json_integer_value(json_object_get(root, "revision")), replicas, replicas == 1 ? "" : "s",
               placed ? "on" : "placed, on");
        cluster_print_placement(placement);
        putchar('\n');
    }
    const char *pending = json_string_value(json_object_get(root, "pending"));
    if (!placed) cluster_say(ctx, "not every replica could be placed; the app waits as pending: %s",
                             pending ? pending : json_string_value(json_object_get(root, "error")));
    json_decref(root);
    return placed ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}

/* The master names the manifest as the bundle has it ("app.qyv:3:7: ...");
 * say it as the user wrote it. */
static void say_refusal(cluster_ctx *ctx, const api_reply *reply, const char *file, const char *bundle_name)
{
    char text[1024];
    api_error(reply, text, sizeof text);
    size_t n = strlen(bundle_name);
    if (!strncmp(text, bundle_name, n) && text[n] == ':') cluster_say(ctx, "%s%s", file, text + n);
    else if (reply->status == 401) cluster_say(ctx, "the master refused the token in %s: %s", ctx->token_file, text);
    else cluster_say(ctx, "%s", text);
}

/* --wait on a first deploy: until every replica is ready. */
int cluster_wait_ready(cluster_ctx *ctx, const char *app)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/apps/%s", app);
    for (;;) {
        json_t *a = cluster_get(ctx, path);
        if (!a) return QYV_EXIT_FAILURE;
        json_t *replicas = json_object_get(a, "replicas");
        json_int_t wanted = json_integer_value(json_object_get(replicas, "wanted"));
        json_int_t ready = json_integer_value(json_object_get(replicas, "ready"));
        json_decref(a);
        if (ready >= wanted) {
            if (!ctx->json) printf("%s: %lld of %lld replicas ready\n", app, (long long)ready, (long long)wanted);
            return QYV_EXIT_OK;
        }
        struct timespec pause = {0, 200 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

static bool upload(cluster_ctx *ctx, const uint8_t *data, size_t len, const char *digest)
{
    api_reply reply;
    if (!cluster_call(ctx, "POST", "/v1/bundles", "application/x-tar", data, len, 300000, &reply)) return false;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return false;
    const char *theirs = json_string_value(json_object_get(root, "digest"));
    bool same = theirs && !strcmp(theirs, digest);
    if (!same) cluster_say(ctx, "the master stored the bundle as %s, but it is %s", theirs ? theirs : "(nothing)", digest);
    json_decref(root);
    return same;
}

int cluster_deploy(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"replicas", required_argument, NULL, 'r'},
        {"memory", required_argument, NULL, 'm'},
        {"cpu", required_argument, NULL, 'c'},
        {"env", required_argument, NULL, 'e'},
        {"port", required_argument, NULL, 'p'},
        {"nodes", required_argument, NULL, 'n'},
        {"server", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"strategy", required_argument, NULL, 'R'},
        {"max-surge", required_argument, NULL, 'R'},
        {"max-unavailable", required_argument, NULL, 'R'},
        {"steps", required_argument, NULL, 'R'},
        {"pause", required_argument, NULL, 'R'},
        {"keep-old", required_argument, NULL, 'R'},
        {"progress-deadline", required_argument, NULL, 'R'},
        {"max-error-rate", required_argument, NULL, 'R'},
        {"max-latency", required_argument, NULL, 'R'},
        {"rollback-on-failure", no_argument, NULL, 'R'},
        {"no-rollback-on-failure", no_argument, NULL, 'R'},
        {"wait", no_argument, NULL, 'W'},
        {NULL, 0, NULL, 0},
    };
    json_t *overrides = json_object(), *rollout = json_object();
    bool wait = false;
    char why[1024];
    int opt, index = 0;
    optind = 1;
    opterr = 0;
    /* Options may follow FILE.qyv, as in the guide: no '+' here. */
    while ((opt = getopt_long(argc, argv, ":o:h", options, &index)) != -1) {
        switch (opt) {
        case 'r': case 'm': case 'c': case 'e': case 'p': case 'n': {
            const char *name = NULL;
            for (size_t i = 0; options[i].name && !name; i++)
                if (options[i].val == opt) name = options[i].name;
            if (!cluster_override(overrides, name, optarg, why, sizeof why)) {
                cluster_say(ctx, "%s", why);
                json_decref(overrides), json_decref(rollout);
                return QYV_EXIT_USAGE;
            }
            break;
        }
        case 's':
            if (!cluster_parse_server(optarg, ctx->master, sizeof ctx->master, why, sizeof why)) {
                cluster_say(ctx, "--server: %s", why);
                json_decref(overrides), json_decref(rollout);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) {
                json_decref(overrides), json_decref(rollout);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'R': {
            char flag[40];
            snprintf(flag, sizeof flag, "--%s", options[index].name);
            if (!cluster_rollout_flag(ctx, rollout, flag, optarg ? optarg : "")) {
                json_decref(overrides), json_decref(rollout);
                return QYV_EXIT_USAGE;
            }
            /* The guide's `deploy --rollback-on-failure` says how it went. */
            if (!strcmp(flag, "--rollback-on-failure")) wait = true;
            break;
        }
        case 'W': wait = true; break;
        case 'h': fputs(usage_text, stdout); json_decref(overrides), json_decref(rollout); return QYV_EXIT_OK;
        default: json_decref(overrides), json_decref(rollout); return cluster_usage_error(ctx, usage_text, opt, argv);
        }
    }
    if (argc - optind != 1) {
        cluster_say(ctx, argc == optind ? "needs the app's manifest, FILE.qyv" : "deploys one manifest at a time");
        fputs(usage_text, stderr);
        json_decref(overrides), json_decref(rollout);
        return QYV_EXIT_USAGE;
    }
    const char *file = argv[optind];
    uint8_t *bundle = NULL;
    size_t len = 0;
    char manifest[256], digest[65];
    if (!bundle_pack(file, &bundle, &len, manifest, sizeof manifest, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        json_decref(overrides), json_decref(rollout);
        return QYV_EXIT_FAILURE;
    }
    bundle_digest(bundle, len, digest);
    if (ctx->debug) fprintf(stderr, "bundle %s: %zu bytes, manifest %s\n", digest, len, manifest);
    bool uploaded = upload(ctx, bundle, len, digest);
    free(bundle);
    if (!uploaded) {
        json_decref(overrides), json_decref(rollout);
        return QYV_EXIT_FAILURE;
    }
    json_t *body = json_pack("{s:s, s:s, s:o}", "bundle", digest, "manifest", manifest, "overrides", overrides);
    if (body && json_object_size(rollout)) json_object_set(body, "rollout", rollout);
    json_decref(rollout);
    api_reply reply;
    if (!body || !cluster_call_json(ctx, "POST", "/v1/apps", body, &reply)) return QYV_EXIT_FAILURE;
    int status;
    json_t *answer = reply.status == 201 || reply.status == 200 ? json_loadb(reply.body, reply.len, 0, NULL) : NULL;
    const json_t *started = json_object_get(answer, "rollout");
    char app[128] = "";
    if (json_string_value(json_object_get(answer, "name")))
        snprintf(app, sizeof app, "%s", json_string_value(json_object_get(answer, "name")));
    else if (json_string_value(json_object_get(answer, "app")))
        snprintf(app, sizeof app, "%s", json_string_value(json_object_get(answer, "app")));
    if (reply.status == 400) {
        say_refusal(ctx, &reply, file, manifest);
        status = QYV_EXIT_FAILURE;
    } else if (json_is_object(started) && !json_is_true(json_object_get(answer, "unchanged")) &&
               json_integer_value(json_object_get(started, "to_revision")) ==
                   json_integer_value(json_object_get(answer, "revision"))) {
        /* A release of a running app. */
        if (ctx->json && !wait) cluster_print_json(answer);
        else if (!ctx->json)
            printf("rolling out %s: revision %lld -> %lld (%s)\n", app,
                   (long long)json_integer_value(json_object_get(started, "from_revision")),
                   (long long)json_integer_value(json_object_get(started, "to_revision")),
                   json_string_value(json_object_get(started, "strategy")));
        status = wait ? cluster_rollout_watch(ctx, app, true) : QYV_EXIT_OK;
    } else {
        status = cluster_report_placement(ctx, &reply, "deployed");
        if (status == QYV_EXIT_OK && wait && *app) status = cluster_wait_ready(ctx, app);
    }
    json_decref(answer);
    api_reply_free(&reply);
    return status;
}
