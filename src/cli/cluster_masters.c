/*
 * cluster_masters.c — `qyv cluster health` with several masters on etcd
 * (docs/ha.md): each master asked on its own (not through failover), with
 * its role, then each etcd member's health as the masters see it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cluster_cli.h"

#define MASTER_HEALTH_MS 1500
#define MAX_MASTERS 16

/* The masters to ask: those configured, and any other that the store
 * lists as live. */
static size_t master_list(const cluster_ctx *ctx, const json_t *health, char (*out)[CLUSTER_ADDRESS_MAX])
{
    size_t n = 0;
    for (const char *p = ctx->master; *p && n < MAX_MASTERS;) {
        size_t len = strcspn(p, ",");
        if (len && len < CLUSTER_ADDRESS_MAX) snprintf(out[n++], CLUSTER_ADDRESS_MAX, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(health, "masters"), i, row) {
        const char *a = json_string_value(json_object_get(row, "address"));
        bool known = !a;
        for (size_t k = 0; k < n && !known; k++) known = !strcmp(out[k], a);
        if (!known && n < MAX_MASTERS) snprintf(out[n++], CLUSTER_ADDRESS_MAX, "%s", a);
    }
    return n;
}

json_t *cluster_masters_health(cluster_ctx *ctx, const json_t *health, bool *ok)
{
    char addrs[MAX_MASTERS][CLUSTER_ADDRESS_MAX];
    size_t n = master_list(ctx, health, addrs), leaders = 0;
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        api_reply reply;
        char why[400];
        json_t *h = NULL;
        if (api_call(addrs[i], "GET", "/v1/health", ctx->token, NULL, NULL, 0, MASTER_HEALTH_MS, &reply, why,
                     sizeof why)) {
            if (reply.status == 200) h = json_loadb(reply.body, reply.len, 0, NULL);
            else snprintf(why, sizeof why, "answered %ld", reply.status);
            api_reply_free(&reply);
        }
        const char *role = h ? json_string_value(json_object_get(h, "ha_role")) : NULL;
        if (h && !role) role = "leader"; /* a single master on SQLite */
        leaders += role && !strcmp(role, "leader");
        json_t *row = json_pack("{s:s,s:s}", "address", addrs[i], "role", role ? role : "down");
        if (!h) json_object_set_new(row, "reason", json_string(why));
        const char *problem = json_string_value(json_object_get(h, "store_problem"));
        if (problem) json_object_set_new(row, "store_problem", json_string(problem));
        json_array_append_new(rows, row);
        json_decref(h);
    }
    *ok = leaders == 1;
    if (!ctx->json) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            const char *reason = json_string_value(json_object_get(row, "reason"));
            const char *problem = json_string_value(json_object_get(row, "store_problem"));
            printf("master %s: %s%s%s%s\n", json_string_value(json_object_get(row, "address")),
                   json_string_value(json_object_get(row, "role")), reason || problem ? " (" : "",
                   reason ? reason : problem ? problem : "", reason || problem ? ")" : "");
        }
        json_array_foreach(json_object_get(health, "etcd"), i, row) {
            const char *reason = json_string_value(json_object_get(row, "reason"));
            printf("etcd %s: %s%s%s%s\n", json_string_value(json_object_get(row, "endpoint")),
                   json_is_true(json_object_get(row, "healthy")) ? "healthy" : "unhealthy", reason ? " (" : "",
                   reason ? reason : "", reason ? ")" : "");
        }
        if (leaders != 1) printf("%zu masters lead (exactly one should)\n", leaders);
    }
    return rows;
}
