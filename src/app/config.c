/*
 * run_config.c — building a run_config piece by piece.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"

static bool append(char ***list, size_t *n, char *s)
{
    if (!s) return false;
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) {
        free(s);
        return false;
    }
    grown[(*n)++] = s;
    *list = grown;
    return true;
}

qv_store_limits run_store_limits(uint64_t memory_bytes)
{
    qv_store_limits limits = {.max_bytes = memory_bytes ? memory_bytes + RUN_BOOKKEEPING_BYTES : 0};
    if (memory_bytes) {
        uint64_t pages = memory_bytes / 65536;
        limits.max_memory_pages = pages > 65536 ? 65536 : (uint32_t)pages;
    }
    return limits;
}

bool run_add_arg(run_config *rc, const char *arg)
{
    return append(&rc->args, &rc->nargs, strdup(arg));
}

bool run_add_warning(run_config *rc, const char *line)
{
    return append(&rc->warnings, &rc->nwarnings, strdup(line));
}

bool run_set_env(run_config *rc, const char *kv)
{
    size_t key = strcspn(kv, "=");
    for (size_t i = 0; i < rc->nenv; i++) {
        if (!strncmp(rc->env[i], kv, key) && rc->env[i][key] == '=') {
            char *s = strdup(kv);
            if (!s) return false;
            free(rc->env[i]);
            rc->env[i] = s;
            return true;
        }
    }
    return append(&rc->env, &rc->nenv, strdup(kv));
}

char *run_own(run_config *rc, char *s)
{
    return append(&rc->owned, &rc->nowned, s) ? s : NULL;
}

bool run_add_preopen(run_config *rc, const char *host, const char *guest, unsigned access,
                     char **hidden, size_t nhidden)
{
    if (!run_own(rc, (char *)host) || !run_own(rc, (char *)guest)) return false;
    for (size_t i = 0; i < nhidden; i++)
        if (!run_own(rc, hidden[i])) return false;
    if (hidden && !run_own(rc, (char *)hidden)) return false;
    qv_wasi_preopen *grown = realloc(rc->preopens, (rc->npreopens + 1) * sizeof *grown);
    if (!grown) return false;
    rc->preopens = grown;
    char **rel = realloc(rc->grant_rel, (rc->npreopens + 1) * sizeof *rel);
    if (rel) rc->grant_rel = rel;
    char **what = rel ? realloc(rc->grant_what, (rc->npreopens + 1) * sizeof *what) : NULL;
    if (what) rc->grant_what = what;
    if (!rel || !what) return false;
    rel[rc->npreopens] = what[rc->npreopens] = NULL;
    grown[rc->npreopens++] = (qv_wasi_preopen){
        .host_path = host,
        .guest_path = guest,
        .access = access,
        .hidden = (const char *const *)hidden,
        .nhidden = nhidden,
    };
    return true;
}

bool run_add_app_grant(run_config *rc, char *rel, char *guest, unsigned access, char **hidden, size_t nhidden,
                       char *what)
{
    char *host = NULL;
    if (!rel || !what || asprintf(&host, "%s/%s", rc->grant_base, rel) < 0) host = NULL;
    if (!host || !run_add_preopen(rc, host, guest, access, hidden, nhidden)) {
        if (!host) free(guest); /* run_add_preopen took them otherwise */
        free(rel);
        free(what);
        return false;
    }
    rc->grant_rel[rc->npreopens - 1] = rel;
    rc->grant_what[rc->npreopens - 1] = what;
    return true;
}

bool run_runtime_matches(const run_config *rc, bool component, char *why, size_t len)
{
    if (!rc->runtime || component == (rc->runtime == 2)) return true;
    snprintf(why, len, "%s: 'runtime' is %s, but %s is a %s", rc->runtime_at ? rc->runtime_at : rc->label,
             component ? "wasip1 (a core module)" : "wasip2 (a component)", rc->module_path,
             component ? "WebAssembly component" : "core WebAssembly module");
    return false;
}

qv_http_policy run_http_policy(const run_config *rc, uint64_t deadline_ns)
{
    return (qv_http_policy){
        .net = rc->net == 0 ? QV_HTTP_NET_NONE : rc->net == 1 ? QV_HTTP_NET_ANY : QV_HTTP_NET_RESTRICTED,
        .hosts = (const char *const *)rc->net_hosts,
        .nhosts = rc->nnet_hosts,
        .ports = rc->net_ports,
        .nports = rc->nnet_ports,
        .deadline_ns = deadline_ns,
    };
}

void run_config_free(run_config *rc)
{
    for (size_t i = 0; i < rc->npreopens; i++) {
        if (rc->preopens[i].has_dir_fd) close(rc->preopens[i].dir_fd);
        if (rc->grant_rel) free(rc->grant_rel[i]), free(rc->grant_what[i]);
    }
    free(rc->grant_rel);
    free(rc->grant_what);
    free(rc->grant_base);
    free(rc->module);
    for (size_t i = 0; i < rc->nargs; i++) free(rc->args[i]);
    for (size_t i = 0; i < rc->nenv; i++) free(rc->env[i]);
    for (size_t i = 0; i < rc->nowned; i++) free(rc->owned[i]);
    for (size_t i = 0; i < rc->nwarnings; i++) free(rc->warnings[i]);
    free(rc->warnings);
    free(rc->args);
    free(rc->env);
    free(rc->owned);
    free(rc->preopens);
    free(rc->module_path);
    free(rc->label);
    free(rc->scratch);
    free(rc->name);
    free(rc->route);
    free(rc->health_path);
    free(rc->runtime_at);
    for (size_t i = 0; i < rc->nnet_hosts; i++) free(rc->net_hosts[i]);
    free(rc->net_hosts);
    free(rc->net_ports);
    memset(rc, 0, sizeof *rc);
}
