/*
 * cluster_rollout.c — `qyv cluster rollout status|history|undo|pause|
 * resume|promote|abort APP`, the rollout flags of `qyv cluster deploy`
 * (--strategy ..., --rollback-on-failure, --wait), and the live view of a
 * rollout: redrawn in place on a terminal, a line per change otherwise
 * (docs/cluster.md, "Releases").
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "manifest/units.h"

static const char rollout_usage[] =
    "usage: qyv cluster rollout status APP [--wait] [--output json]\n"
    "       qyv cluster rollout history APP [--output json]\n"
    "       qyv cluster rollout undo APP [--to-revision N] [--wait]\n"
    "       qyv cluster rollout pause|resume|promote|abort APP [--wait]\n"
    "\n"
    "A deploy of an app that runs rolls it out from its revision to the new\n"
    "one (rolling, blue_green or canary: the manifest's deploy.strategy or\n"
    "deploy's --strategy). These commands watch and steer it:\n"
    "  status    where it is: replicas of the new and old revision, weight\n"
    "  history   the app's revisions: bundle, time, what changed, outcome\n"
    "  undo      back to the revision before (or --to-revision N): during a\n"
    "            rollout an abort, after one a rollout to that revision\n"
    "            (instant while blue-green keeps the old set)\n"
    "  pause     hold the rollout where it is; resume carries on\n"
    "  promote   the next step now (canary), the switch now (blue_green)\n"
    "  abort     stop it and send all traffic back to the stable revision\n"
    "--wait blocks until the rollout is done and exits 0 when it succeeded,\n"
    "1 when it failed, was rolled back or aborted (saying why). APP is an\n"
    "app's name or its manifest.\n";

/* ------------------------------------------------------------ the deploy flags */

/* A duration flag ("30s", "2m", "manual" for --pause) into the rollout
 * object; false after saying why. */
static bool duration_flag(cluster_ctx *ctx, json_t *rollout, const char *flag, const char *key, const char *text)
{
    uint64_t ms;
    char why[200];
    if (!strcmp(flag, "--pause") && !strcmp(text, "manual")) {
        json_object_set_new(rollout, "manual", json_true());
        return true;
    }
    if (!qv_parse_duration(text, &ms, why, sizeof why)) {
        cluster_say(ctx, "%s takes a duration such as 30s or 5m, not '%s': %s", flag, text, why);
        return false;
    }
    json_object_set_new(rollout, key, json_integer((json_int_t)ms));
    return true;
}

bool cluster_rollout_flag(cluster_ctx *ctx, json_t *rollout, const char *flag, const char *text)
{
    if (!strcmp(flag, "--strategy")) {
        json_object_set_new(rollout, "strategy", json_string(text));
    } else if (!strcmp(flag, "--max-surge") || !strcmp(flag, "--max-unavailable")) {
        char *end;
        long n = strtol(text, &end, 10);
        bool percent = !strcmp(end, "%");
        if (end == text || n < 0 || (*end && !percent) || n > (percent ? 100 : 10000)) {
            cluster_say(ctx, "%s takes a count or a percentage such as 25%%, not '%s'", flag, text);
            return false;
        }
        json_object_set_new(rollout, flag[6] == 's' ? "max_surge" : "max_unavailable",
                            percent ? json_string(text) : json_integer(n));
    } else if (!strcmp(flag, "--steps")) {
        json_t *steps = json_array();
        for (const char *p = text; *p;) {
            char *end;
            long w = strtol(p, &end, 10);
            if (end == p || (*end && *end != ',')) {
                json_decref(steps);
                cluster_say(ctx, "--steps takes percentages such as 10,50,100, not '%s'", text);
                return false;
            }
            json_array_append_new(steps, json_integer(w));
            p = *end ? end + 1 : end;
        }
        json_object_set_new(rollout, "steps", steps);
    } else if (!strcmp(flag, "--pause")) {
        return duration_flag(ctx, rollout, flag, "pause_ms", text);
    } else if (!strcmp(flag, "--keep-old")) {
        return duration_flag(ctx, rollout, flag, "keep_ms", text);
    } else if (!strcmp(flag, "--progress-deadline")) {
        return duration_flag(ctx, rollout, flag, "progress_deadline_ms", text);
    } else if (!strcmp(flag, "--max-latency")) {
        return duration_flag(ctx, rollout, flag, "max_latency_ms", text);
    } else if (!strcmp(flag, "--max-error-rate")) {
        char *end;
        double rate = strtod(text, &end);
        if (end == text || (*end && strcmp(end, "%")) || !(rate >= 0 && rate <= 100)) {
            cluster_say(ctx, "--max-error-rate takes a percentage such as 5%%, not '%s'", text);
            return false;
        }
        json_object_set_new(rollout, "max_error_rate", json_real(rate));
    } else if (!strcmp(flag, "--rollback-on-failure")) {
        json_object_set_new(rollout, "rollback_on_failure", json_true());
    } else if (!strcmp(flag, "--no-rollback-on-failure")) {
        json_object_set_new(rollout, "rollback_on_failure", json_false());
    } else {
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ the live view */

/* One line of where a rollout is. */
static void describe(const json_t *app, char *out, size_t n)
{
    const json_t *r = json_object_get(app, "rollout");
    const char *name = json_string_value(json_object_get(app, "name"));
    const char *strategy = json_string_value(json_object_get(r, "strategy"));
    const char *state = json_string_value(json_object_get(r, "state"));
    const json_t *fresh = json_object_get(r, "new"), *old = json_object_get(r, "old");
    long long from = json_integer_value(json_object_get(r, "from_revision"));
    long long to = json_integer_value(json_object_get(r, "to_revision"));
    int used = snprintf(out, n, "%s: %s %lld -> %lld %s", name ? name : "?", strategy ? strategy : "?", from, to,
                        state ? state : "?");
    if (json_is_integer(json_object_get(r, "step")) && used > 0 && (size_t)used < n)
        used += snprintf(out + used, n - (size_t)used, ", step %lld/%lld",
                         (long long)json_integer_value(json_object_get(r, "step")),
                         (long long)json_integer_value(json_object_get(r, "steps")));
    if (used > 0 && (size_t)used < n)
        snprintf(out + used, n - (size_t)used, ", %lld%% of traffic to %lld; new %lld/%lld ready, old %lld/%lld ready",
                 (long long)json_integer_value(json_object_get(r, "weight")), to,
                 (long long)json_integer_value(json_object_get(fresh, "ready")),
                 (long long)json_integer_value(json_object_get(r, "target")),
                 (long long)json_integer_value(json_object_get(old, "ready")),
                 (long long)json_integer_value(json_object_get(old, "wanted")));
}

static bool moving(const char *state) { return state && (!strcmp(state, "progressing") || !strcmp(state, "paused")); }

void cluster_print_rollout(const json_t *app, bool always)
{
    const char *state = json_string_value(json_object_get(json_object_get(app, "rollout"), "state"));
    if (!state || (!always && !moving(state) && strcmp(state, "failed"))) return;
    char line[600];
    describe(app, line, sizeof line);
    printf("%s\n", line);
}

/* Print where app's rollout is; with wait, until it ends (redrawn in place
 * on a terminal). The exit status: 0 unless it ended badly (then why). */
int cluster_rollout_watch(cluster_ctx *ctx, const char *app, bool wait)
{
    char path[200], line[600], last[600] = "";
    snprintf(path, sizeof path, "/v1/apps/%s/rollout", app);
    bool tty = isatty(STDOUT_FILENO) && !ctx->json;
    for (;;) {
        json_t *answer = cluster_get(ctx, path);
        if (!answer) return QYV_EXIT_FAILURE;
        json_t *r = json_object_get(answer, "rollout");
        const char *state = json_string_value(json_object_get(r, "state"));
        if (!json_is_object(r)) {
            if (ctx->json) cluster_print_json(answer);
            else printf("%s: no rollout yet (revision %lld)\n", app,
                        (long long)json_integer_value(json_object_get(answer, "revision")));
            json_decref(answer);
            return QYV_EXIT_OK;
        }
        bool done = !wait || !moving(state);
        if (ctx->json) {
            if (done) cluster_print_json(answer);
        } else {
            describe(answer, line, sizeof line);
            if (strcmp(line, last)) {
                if (tty) printf("\r\033[K%s", line);
                else printf("%s\n", line);
                fflush(stdout);
                snprintf(last, sizeof last, "%s", line);
            }
            if (done && tty) putchar('\n');
        }
        int status = QYV_EXIT_OK;
        if (done && state && strcmp(state, "succeeded") && !moving(state)) {
            const char *reason = json_string_value(json_object_get(r, "reason"));
            cluster_say(ctx, "the rollout of %s %s: %s", app, !strcmp(state, "rolled_back") ? "was rolled back"
                                                           : !strcmp(state, "aborted")      ? "was aborted"
                                                                                             : "failed",
                        reason ? reason : "no reason given");
            status = QYV_EXIT_FAILURE;
        }
        json_decref(answer);
        if (done) return status;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* ------------------------------------------------------------ the commands */

static int history(cluster_ctx *ctx, const char *app)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/apps/%s/revisions", app);
    json_t *answer = cluster_get(ctx, path);
    if (!answer) return QYV_EXIT_FAILURE;
    if (ctx->json) {
        cluster_print_json(answer);
        json_decref(answer);
        return QYV_EXIT_OK;
    }
    cluster_table t;
    static const char *const head[] = {"REVISION", "DIGEST", "DEPLOYED", "STRATEGY", "CHANGE", "OUTCOME", " "};
    cluster_table_init(&t, head, 7);
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(answer, "revisions"), i, rec) {
        time_t at = (time_t)(json_integer_value(json_object_get(rec, "time_ms")) / 1000);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&at));
        const char *outcome = json_string_value(json_object_get(rec, "outcome"));
        const char *reason = json_string_value(json_object_get(rec, "reason"));
        const char *strategy = json_string_value(json_object_get(rec, "strategy"));
        const char *change = json_string_value(json_object_get(rec, "change"));
        cluster_table_cell(&t, "%lld", (long long)json_integer_value(json_object_get(rec, "revision")));
        cluster_table_cell(&t, "%.12s", json_string_value(json_object_get(rec, "digest")));
        cluster_table_cell(&t, "%s", when);
        cluster_table_cell(&t, "%s", strategy ? strategy : "-");
        cluster_table_cell(&t, "%s", change ? change : "first deploy");
        cluster_table_cell(&t, "%s%s%s", outcome ? outcome : "deployed", reason ? ": " : "", reason ? reason : "");
        cluster_table_cell(&t, "%s", json_is_true(json_object_get(rec, "current")) ? "(current)" : "");
    }
    cluster_table_print(&t);
    json_decref(answer);
    return QYV_EXIT_OK;
}

int cluster_rollout(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"to-revision", required_argument, NULL, 't'},
        {"wait", no_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL;
    bool wait = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 't': to = optarg; break;
        case 'w': wait = true; break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(rollout_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, rollout_usage, opt, argv);
        }
    }
    static const char *const actions[] = {"status", "history", "undo", "pause", "resume", "promote", "abort"};
    const char *action = argc - optind == 2 ? argv[optind] : NULL;
    bool known = false;
    for (size_t i = 0; action && i < sizeof actions / sizeof *actions; i++) known |= !strcmp(action, actions[i]);
    if (!known) {
        cluster_say(ctx, action ? "no rollout command '%s'" : "needs a command and APP%s", action ? action : "");
        fputs(rollout_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    char *end = NULL;
    long long revision = to ? strtoll(to, &end, 10) : 0;
    if (to && (strcmp(action, "undo") || *end || revision < 1)) {
        cluster_say(ctx, strcmp(action, "undo") ? "--to-revision goes with undo" : "--to-revision takes a revision "
                                                                                   "number, not '%s'", to);
        return QYV_EXIT_USAGE;
    }
    char app[128], path[256];
    int bad = cluster_app_operand(ctx, argv[optind + 1], app, sizeof app);
    if (bad) return bad;
    if (!strcmp(action, "status")) return cluster_rollout_watch(ctx, app, wait);
    if (!strcmp(action, "history")) return history(ctx, app);
    snprintf(path, sizeof path, "/v1/apps/%s/rollout/%s", app, action);
    api_reply reply;
    json_t *body = revision ? json_pack("{s:I}", "revision", (json_int_t)revision) : json_object();
    if (!cluster_call_json(ctx, "POST", path, body, &reply)) return QYV_EXIT_FAILURE;
    json_t *answer = cluster_answer(ctx, &reply, 200);
    api_reply_free(&reply);
    if (!answer) return QYV_EXIT_FAILURE;
    json_decref(answer);
    return cluster_rollout_watch(ctx, app, wait);
}
