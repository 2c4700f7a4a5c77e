/*
 * check.c — an app checked before the cluster accepts it.
 */
#include "cluster/master/check.h"
#include "cluster/names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "manifest/manifest.h"
#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "qyvol/wasm.h"

/* The text of a message about a file in the bundle, without the bundle's
 * folder: "app.qyv:5:3: ..." as the user wrote it. */
static void relative_message(const char *bundle_dir, const char *text, char *why, size_t whylen)
{
    size_t n = strlen(bundle_dir);
    const char *p = text, *hit;
    size_t used = 0;
    why[0] = '\0';
    while ((hit = strstr(p, bundle_dir)) && hit[n] == '/') {
        used += (size_t)snprintf(why + used, used < whylen ? whylen - used : 0, "%.*s", (int)(hit - p), p);
        p = hit + n + 1;
    }
    snprintf(why + used, used < whylen ? whylen - used : 0, "%s", p);
}

bool check_overrides(json_t *o, char *why, size_t whylen)
{
    if (!json_is_object(o)) {
        snprintf(why, whylen, "overrides must be an object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!strcmp(key, "replicas")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000) {
                snprintf(why, whylen, "replicas must be a whole number from 0 to 10000");
                return false;
            }
        } else if (!strcmp(key, "memory") || !strcmp(key, "cpu")) {
            json_int_t max = !strcmp(key, "cpu") ? 1024 * 1000 : (json_int_t)1 << 46;
            if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > max) {
                snprintf(why, whylen, "%s must be a positive number (%s)", key,
                         !strcmp(key, "cpu") ? "millicores" : "bytes");
                return false;
            }
        } else if (!strcmp(key, "port")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
                snprintf(why, whylen, "port must be from 1 to 65535");
                return false;
            }
        } else if (!strcmp(key, "env") || !strcmp(key, "nodes")) {
            size_t i;
            json_t *item;
            if (!json_is_array(v)) {
                snprintf(why, whylen, "%s must be a list of strings", key);
                return false;
            }
            json_array_foreach(v, i, item) {
                const char *s = json_string_value(item);
                if (!s) {
                    snprintf(why, whylen, "%s must be a list of strings", key);
                    return false;
                }
                if (!strcmp(key, "env") && (!strchr(s, '=') || s[0] == '=')) {
                    snprintf(why, whylen, "env takes KEY=VALUE, not '%.100s'", s);
                    return false;
                }
                if (!strcmp(key, "nodes") && !cluster_name_valid(s)) {
                    snprintf(why, whylen, "'%.100s' is not a node name", s);
                    return false;
                }
            }
        } else {
            snprintf(why, whylen, "unknown override '%.60s' (replicas, memory, cpu, env, port, nodes)", key);
            return false;
        }
    }
    return true;
}

bool check_app(const char *bundle_dir, const char *manifest, json_t *overrides, m_app *app, char *why,
               size_t whylen)
{
    if (!cluster_bundle_path_valid(manifest)) {
        snprintf(why, whylen, "the manifest path '%.200s' must be relative and inside the bundle", manifest);
        return false;
    }
    if (!check_overrides(overrides, why, whylen)) return false;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", bundle_dir, manifest);
    run_config rc;
    memset(&rc, 0, sizeof rc);
    rc.fuel = -1;
    rc.secrets_given = true; /* the master checks they exist (secrets.h) */
    app_error err;
    bool ok = false;
    qv_module *module = NULL;
    if (run_from_manifest(&rc, path, &err)) {
        relative_message(bundle_dir, err.text, why, whylen);
        goto out;
    }
    if (!rc.http) {
        snprintf(why, whylen, "%s: the cluster serves http apps, and this one is not (add 'type: http')", manifest);
        goto out;
    }
    if (!cluster_name_valid(rc.name)) {
        snprintf(why, whylen, "%s: the app's name '%s' must be lower-case letters, digits and '-' (at most 63) "
                 "to run in the cluster", manifest, rc.name);
        goto out;
    }
    /* Read with the manifest, beneath the app's folder (app/app_paths.c). */
    qv_error e = {0};
    bool component = qv_is_component(rc.module, rc.module_len);
    char text[900];
    if (!run_runtime_matches(&rc, component, text, sizeof text)) {
        relative_message(bundle_dir, text, why, whylen);
        goto out;
    }
    if (component) { /* served as nodes serve it: a wasi:http handler (serve/whttp.c) */
        qv_component *c = qv_component_new(rc.module, rc.module_len, &e);
        bool valid = c != NULL, handler = c && qv_component_find_export(c, "wasi:http/incoming-handler@0.2.0");
        qv_component_delete(c);
        if (!handler) {
            snprintf(why, whylen, "%s: the entrypoint is %s%s", manifest,
                     valid ? "a component that does not export wasi:http/incoming-handler@0.2.x"
                           : "not a valid WebAssembly component: ", valid ? "" : e.message);
            goto out;
        }
        goto accepted;
    }
    module = qv_module_new(rc.module, rc.module_len, &e);
    if (!module) {
        snprintf(text, sizeof text, "%s: %s is not a valid WebAssembly module: %s (at byte %zu)", manifest,
                 rc.module_path, e.message, e.offset);
        relative_message(bundle_dir, text, why, whylen);
        goto out;
    }
    char bad_import[300];
    struct qv_wasi_pre *pre = qv_wasi_pre_new(module, bad_import, sizeof bad_import);
    if (!pre) {
        snprintf(why, whylen, "%s: the module cannot run as an HTTP app: %s", manifest, bad_import);
        goto out;
    }
    qv_wasi_pre_delete(pre);
accepted:
    snprintf(app->name, sizeof app->name, "%s", rc.name);
    snprintf(app->route, sizeof app->route, "%s", rc.route && *rc.route ? rc.route : "/");
    snprintf(app->algorithm, sizeof app->algorithm, "%s", qv_lb_algorithm_name((qv_lb_algorithm)rc.lb_algorithm));
    json_t *v;
    app->wanted = (v = json_object_get(overrides, "replicas")) ? (uint32_t)json_integer_value(v) : rc.replicas;
    const qv_autoscale *as = &rc.autoscale;
    app->autoscale = as->enabled ? (autoscale_spec){as->min, as->max, as->cpu_threshold, as->target_inflight,
                                                    as->window_ms}
                                 : AUTOSCALE_OFF;
    app->memory = (v = json_object_get(overrides, "memory")) ? (uint64_t)json_integer_value(v)
                  : rc.memory_bytes ? rc.memory_bytes : CHECK_DEFAULT_MEMORY;
    app->cpu = (v = json_object_get(overrides, "cpu")) ? (uint64_t)json_integer_value(v) : rc.cpu_millicores;
    app->port = (v = json_object_get(overrides, "port")) ? (uint16_t)json_integer_value(v) : 0;
    json_decref(app->nodes);
    app->nodes = (v = json_object_get(overrides, "nodes")) ? json_incref(v) : json_array();
    ok = true;
out:
    qv_module_delete(module);
    if (rc.scratch) run_scratch_remove(rc.scratch);
    run_config_free(&rc);
    return ok;
}

bool check_rollout_policy(const char *bundle_dir, const char *manifest, rollout_policy *p, char *why,
                          size_t whylen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", bundle_dir, manifest);
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_load(path, &err);
    if (!m) {
        relative_message(bundle_dir, err.message, why, whylen);
        return false;
    }
    const qv_strategy *s = &m->deploy.strategy;
    if (s->present) {
        /* The manifest's enum follows rollout_strategy's order. */
        p->strategy = (rollout_strategy)s->type;
        if (s->surge_set) p->max_surge = s->max_surge, p->surge_percent = s->surge_percent;
        if (s->unavailable_set) p->max_unavailable = s->max_unavailable, p->unavailable_percent = s->unavailable_percent;
        if (s->nsteps) {
            memcpy(p->steps, s->steps, s->nsteps * sizeof *p->steps);
            p->nsteps = s->nsteps;
        }
        if (s->pause_set) p->pause_ms = s->pause_ms, p->manual = s->manual;
        if (s->keep_old_set) p->keep_ms = s->keep_old_ms;
        if (s->progress_deadline_set) p->progress_deadline_ms = s->progress_deadline_ms;
        if (s->rollback_set) p->rollback_on_failure = s->rollback_on_failure;
        if (s->max_error_rate_set) p->max_error_rate = s->max_error_rate;
        if (s->max_latency_set) p->max_latency_ms = s->max_latency_ms;
        if (s->min_requests_set) p->min_requests = s->min_requests;
    }
    qv_manifest_free(m);
    return true;
}
