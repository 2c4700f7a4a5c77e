/*
 * test_serve_runtime.c — the serving runtime (src/serve/runtime.h) on its
 * own API: apply an app (its replica processes start), apply it again
 * unchanged (nothing restarts), with other overrides (new replicas, the
 * old pool retired), a clashing route refused, a bad manifest refused with
 * its FILE:LINE:COLUMN, remove; routing by longest prefix; two revisions
 * of one app side by side as instances sharing its route (a cluster node
 * during a rollout). Run from the repository root (it uses
 * examples/http-echo).
 */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/limits.h"
#include "serve/log.h"
#include "serve/runtime.h"

typedef struct fixture {
    struct event_base *base;
    serve_runtime *rt;
    char dir[64];
    char paths[8][128];        /* the manifests written */
    int npaths;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->base = event_base_new();
    runtime_options opt = {f->base, 1, "127.0.0.1", 8080};
    f->rt = runtime_new(&opt);
    snprintf(f->dir, sizeof f->dir, "/tmp/qyvol-runtime-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char cmd[200];
    snprintf(cmd, sizeof cmd, "cp examples/http-echo/echo.wasm %s/", f->dir);
    if (system(cmd) != 0) return -1;
    *state = f;
    return f->base && f->rt ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    runtime_free(f->rt);
    event_base_free(f->base);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

/* A manifest in the fixture's folder, for the echo example's module copied there. */
static const char *manifest(fixture *f, const char *file, const char *name, const char *route, const char *extra)
{
    assert_true(f->npaths < 8);
    char *path = f->paths[f->npaths++];
    snprintf(path, sizeof f->paths[0], "%s/%s", f->dir, file);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fprintf(out, "name: %s\nentrypoint: echo.wasm\ntype: http\nroute: %s\n%s", name, route, extra ? extra : "");
    fclose(out);
    return path;
}

/* The app's replicas as runtime_apps reports them; -1 when absent. */
static int replicas_of(fixture *f, const char *app)
{
    json_t *apps = runtime_apps(f->rt);
    json_t *a = json_object_get(apps, app);
    int n = a ? (int)json_integer_value(json_object_get(a, "replicas")) : -1;
    json_decref(apps);
    return n;
}

static void apply_keep_replace_remove(void **state)
{
    fixture *f = *state;
    app_error err;
    app_spec spec = {.manifest = manifest(f, "a.qyv", "echo", "/e", NULL)};
    if (!runtime_apply(f->rt, &spec, &err)) fail_msg("%s", err.text);
    runtime_app *first = runtime_find(f->rt, "echo");
    assert_non_null(first);
    assert_int_equal(replicas_of(f, "echo"), 1);
    assert_int_equal(runtime_app_count(f->rt), 1);

    /* The same manifest and overrides: the running app is kept. */
    assert_true(runtime_apply(f->rt, &spec, &err));
    assert_ptr_equal(runtime_find(f->rt, "echo"), first);

    /* Other overrides: a new app with 3 replicas takes its place. */
    const char *env[] = {"MODE=test"};
    spec.overrides = (app_overrides){.replicas = 3, .memory_bytes = 32u << 20, .env = env, .nenv = 1};
    assert_true(runtime_apply(f->rt, &spec, &err));
    runtime_app *second = runtime_find(f->rt, "echo");
    assert_ptr_not_equal(second, first);
    assert_int_equal(replicas_of(f, "echo"), 3);
    runtime_housekeeping(f->rt); /* the old pool is idle: freed */

    /* With a key, an equal key is enough to keep it. */
    spec.name = "echo";
    spec.key = "rev-7";
    spec.revision = 7;
    assert_true(runtime_apply(f->rt, &spec, &err));
    runtime_app *keyed = runtime_find(f->rt, "echo");
    spec.manifest = "/nonexistent.qyv"; /* not even read: the key matches */
    assert_true(runtime_apply(f->rt, &spec, &err));
    assert_ptr_equal(runtime_find(f->rt, "echo"), keyed);

    assert_true(runtime_remove(f->rt, "echo"));
    assert_false(runtime_remove(f->rt, "echo"));
    assert_null(runtime_find(f->rt, "echo"));
    assert_int_equal(replicas_of(f, "echo"), -1);
}

/* The pids of the app's replicas in rotation or starting, sorted, in out
 * (at most 8); how many. */
static int pids_of(fixture *f, const char *app, long *out)
{
    json_t *replicas = NULL;
    bool healthy;
    json_decref(runtime_health(f->rt, &replicas, &healthy));
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(replicas, app), i, r) {
        const char *st = json_string_value(json_object_get(r, "state"));
        if (n < 8 && strcmp(st, "draining")) out[n++] = (long)json_integer_value(json_object_get(r, "pid"));
    }
    json_decref(replicas);
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (out[b] < out[a]) {
                long t = out[a];
                out[a] = out[b], out[b] = t;
            }
    return n;
}

static bool has_pid(const long *pids, int n, long pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid) return true;
    return false;
}

/* Another number of replicas is not another app: the pool grows and
 * shrinks in place, and the replicas that stay keep their processes. */
static void scale_in_place(void **state)
{
    fixture *f = *state;
    app_error err;
    app_spec spec = {.manifest = manifest(f, "s.qyv", "scaled", "/s", NULL), .name = "scaled", .key = "v1",
                     .overrides = {.replicas = 2}};
    if (!runtime_apply(f->rt, &spec, &err)) fail_msg("%s", err.text);
    runtime_app *app = runtime_find(f->rt, "scaled");
    long two[8], four[8], one[8];
    assert_int_equal(pids_of(f, "scaled", two), 2);

    spec.overrides.replicas = 4; /* the same key: resized, not reloaded */
    runtime_plan *plan = runtime_prepare(f->rt, &spec, 1, &err);
    assert_non_null(plan);
    assert_int_equal(runtime_plan_changes(plan), 1);
    assert_true(runtime_commit(f->rt, plan, false, &err));
    assert_ptr_equal(runtime_find(f->rt, "scaled"), app);
    assert_int_equal(replicas_of(f, "scaled"), 4);
    assert_int_equal(pids_of(f, "scaled", four), 4);
    assert_true(has_pid(four, 4, two[0]) && has_pid(four, 4, two[1]));

    spec.overrides.replicas = 1;
    assert_true(runtime_apply(f->rt, &spec, &err));
    assert_ptr_equal(runtime_find(f->rt, "scaled"), app);
    assert_int_equal(replicas_of(f, "scaled"), 1);
    assert_int_equal(pids_of(f, "scaled", one), 1);
    assert_true(has_pid(four, 4, one[0]));

    /* Without keys, by fingerprint: the replicas override is left out of it. */
    app_spec unkeyed = {.manifest = spec.manifest, .overrides = {.replicas = 3}};
    assert_true(runtime_apply(f->rt, &unkeyed, &err));
    assert_ptr_equal(runtime_find(f->rt, "scaled"), app);
    assert_int_equal(replicas_of(f, "scaled"), 3);
    long three[8];
    assert_int_equal(pids_of(f, "scaled", three), 3);
    assert_true(has_pid(three, 3, one[0]));
    /* Leaving replicas go once their processes exited. */
    for (int i = 0; i < 50; i++) event_base_loop(f->base, EVLOOP_NONBLOCK), usleep(20000);
    json_t *replicas = NULL;
    bool healthy;
    json_decref(runtime_health(f->rt, &replicas, &healthy));
    assert_int_equal(json_array_size(json_object_get(replicas, "scaled")), 3);
    json_decref(replicas);
    assert_true(runtime_remove(f->rt, "scaled"));
}

static void routes_and_refusals(void **state)
{
    fixture *f = *state;
    app_error err;
    app_spec a = {.manifest = manifest(f, "a.qyv", "root", "/", NULL)};
    assert_true(runtime_apply(f->rt, &a, &err));
    app_spec b = {.manifest = manifest(f, "b.qyv", "api", "/api", NULL)};
    assert_true(runtime_apply(f->rt, &b, &err));
    assert_string_equal(runtime_app_name(runtime_route(f->rt, "/api/x")), "api");
    assert_string_equal(runtime_app_name(runtime_route(f->rt, "/apix")), "root");
    assert_string_equal(runtime_app_route(runtime_find(f->rt, "root")), "");

    /* Another app on a taken route: refused, nothing changes. */
    app_spec c = {.manifest = manifest(f, "c.qyv", "other", "/api", NULL)};
    assert_false(runtime_apply(f->rt, &c, &err));
    assert_non_null(strstr(err.text, "the route '/api'"));
    assert_null(runtime_find(f->rt, "other"));

    /* A broken manifest: its FILE:LINE:COLUMN. */
    app_spec d = {.manifest = manifest(f, "d.qyv", "bad", "/bad", "timout: 5s\n")};
    assert_false(runtime_apply(f->rt, &d, &err));
    assert_non_null(strstr(err.text, "d.qyv:5:1: "));
    assert_int_equal(runtime_app_count(f->rt), 2);

    /* Two specs of one plan wanting one route. */
    app_spec both[2] = {{.manifest = manifest(f, "e.qyv", "e1", "/same", NULL)},
                        {.manifest = manifest(f, "f.qyv", "e2", "/same", NULL)}};
    assert_null(runtime_prepare(f->rt, both, 2, &err));
    assert_non_null(strstr(err.text, "both want the route '/same'"));

    /* An exact commit of one app removes the others. */
    runtime_plan *plan = runtime_prepare(f->rt, &b, 1, &err);
    assert_non_null(plan);
    assert_int_equal(runtime_plan_changes(plan), 0); /* api runs unchanged */
    assert_true(runtime_commit(f->rt, plan, true, &err));
    assert_int_equal(runtime_app_count(f->rt), 1);
    assert_non_null(runtime_find(f->rt, "api"));
    uint64_t memory, cpu;
    runtime_reserved(f->rt, &memory, &cpu);
    assert_int_equal(cpu, 0);
}

static void two_revisions_side_by_side(void **state)
{
    fixture *f = *state;
    app_error err;
    const char *path = manifest(f, "w.qyv", "web", "/w", NULL);
    const char *env[] = {"VERSION=2"};
    app_spec both[2] = {
        {.name = "web", .manifest = path, .key = "k1", .revision = 1, .instance = "web@1"},
        {.name = "web", .manifest = path, .key = "k2", .revision = 2, .instance = "web@2",
         .overrides = {.env = env, .nenv = 1}},
    };
    runtime_plan *plan = runtime_prepare(f->rt, both, 2, &err);
    if (!plan) fail_msg("%s", err.text);
    assert_int_equal(runtime_plan_changes(plan), 2);
    assert_true(runtime_commit(f->rt, plan, true, &err));
    assert_int_equal(runtime_app_count(f->rt), 2);
    runtime_app *one = runtime_find(f->rt, "web@1"), *two = runtime_find(f->rt, "web@2");
    assert_non_null(one);
    assert_non_null(two);
    assert_ptr_not_equal(one, two);
    assert_string_equal(runtime_app_name(two), "web");
    /* Any healthy instance of the name: the highest revision. */
    assert_ptr_equal(runtime_find_named(f->rt, "web"), two);
    json_t *apps = runtime_apps(f->rt);
    assert_string_equal(json_string_value(json_object_get(json_object_get(apps, "web@1"), "app")), "web");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(apps, "web@2"), "revision")), 2);
    assert_true(json_is_true(json_object_get(json_object_get(apps, "web@2"), "healthy")));
    json_decref(apps);
    /* Another app still may not take the route. */
    app_spec other = {.manifest = manifest(f, "o.qyv", "other", "/w", NULL)};
    assert_false(runtime_apply(f->rt, &other, &err));
    assert_non_null(strstr(err.text, "the route '/w'"));
    /* The rollout done: only revision 2 is assigned. */
    plan = runtime_prepare(f->rt, &both[1], 1, &err);
    assert_non_null(plan);
    assert_int_equal(runtime_plan_changes(plan), 0);
    assert_true(runtime_commit(f->rt, plan, true, &err));
    assert_int_equal(runtime_app_count(f->rt), 1);
    assert_null(runtime_find(f->rt, "web@1"));
    assert_ptr_equal(runtime_find(f->rt, "web@2"), two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(scale_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(apply_keep_replace_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(routes_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(two_revisions_side_by_side, setup, teardown),
    };
    log_set_level(LOG_ERROR); /* the runtime's own lines are not the test's */
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    limits_cleanup();
    log_shutdown();
    return failed;
}
