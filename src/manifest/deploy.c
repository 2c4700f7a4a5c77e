/*
 * deploy.c — `deploy`: how many replicas run, the resources each may use,
 * and the health check that decides whether a replica gets traffic.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_memory(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_resources *resources = target;
    if (!mf_read_size(ctx, value, key, &resources->memory_bytes)) return false;
    if (resources->memory_bytes < QV_MANIFEST_MIN_MEMORY_BYTES)
        return mf_fail(ctx, value,
                       "'%s' must be at least 64KiB, the size of one WebAssembly memory page", key);
    return true;
}

static bool parse_cpu(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_resources *resources = target;
    return mf_read_cpu(ctx, value, key, &resources->cpu_millicores);
}

static const mf_key resource_keys[] = {
    {"memory", parse_memory},
    {"cpu", parse_cpu},
};
static const mf_alias resource_aliases[] = {{"mem", "memory"}, {"ram", "memory"}, {"cpus", "cpu"}};
const mf_section mf_section_resources = {"deploy.resources", resource_keys, COUNT(resource_keys),
                                         resource_aliases, COUNT(resource_aliases)};

static bool parse_health_path(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_health_check *check = target;
    return mf_read_string(ctx, value, key, &check->path) &&
           mf_check_url_path(ctx, value, key, check->path);
}

static bool read_positive_duration(mf_ctx *ctx, yaml_node_t *value, const char *key, uint64_t *ms)
{
    if (!mf_read_duration(ctx, value, key, ms)) return false;
    if (*ms == 0) return mf_fail(ctx, value, "'%s' must be longer than 0", key);
    return true;
}

static bool parse_interval(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_positive_duration(ctx, value, key, &((qv_health_check *)target)->interval_ms);
}

static bool parse_health_timeout(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_positive_duration(ctx, value, key, &((qv_health_check *)target)->timeout_ms);
}

static bool parse_retries(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_health_check *check = target;
    uint64_t retries;
    if (!mf_read_uint(ctx, value, key, 1, QV_MANIFEST_MAX_RETRIES, &retries)) return false;
    check->retries = (uint32_t)retries;
    return true;
}

static const mf_key health_keys[] = {
    {"path", parse_health_path},
    {"interval", parse_interval},
    {"timeout", parse_health_timeout},
    {"retries", parse_retries},
};
static const mf_alias health_aliases[] = {{"period", "interval"}, {"attempts", "retries"}};
const mf_section mf_section_health_check = {"deploy.health_check", health_keys, COUNT(health_keys),
                                            health_aliases, COUNT(health_aliases)};

/* "90s" rather than "90000ms" in messages: the largest unit that divides. */
static void format_ms(char *buf, size_t size, uint64_t ms)
{
    static const struct { uint64_t factor; const char *unit; } units[] = {
        {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"},
    };
    for (size_t i = 0; i < COUNT(units); i++) {
        if (ms % units[i].factor == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].factor), units[i].unit);
            return;
        }
    }
}

static bool parse_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_health_check *check = target;
    if (!mf_read_mapping(ctx, value, &mf_section_health_check, check)) return false;
    check->enabled = true;
    if (!check->path && !(check->path = strdup(QV_MANIFEST_DEFAULT_HEALTH_PATH)))
        return mf_fail(ctx, value, "out of memory");
    /* A check still running when the next is due would pile up. */
    if (check->timeout_ms > check->interval_ms) {
        const yaml_node_t *at = mf_map_get(ctx, value, "timeout");
        if (!at) at = mf_map_get(ctx, value, "interval");
        char timeout[32], interval[32];
        format_ms(timeout, sizeof timeout, check->timeout_ms);
        format_ms(interval, sizeof interval, check->interval_ms);
        return mf_fail(ctx, at, "'%s.timeout' (%s) must not be longer than '%s.interval' (%s)", key,
                       timeout, key, interval);
    }
    return true;
}

static bool parse_replicas(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_deploy *deploy = target;
    uint64_t replicas;
    if (!mf_read_uint(ctx, value, key, 1, QV_MANIFEST_MAX_REPLICAS, &replicas)) return false;
    deploy->replicas = (uint32_t)replicas;
    return true;
}

static bool parse_resources(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    return mf_read_mapping(ctx, value, &mf_section_resources, &((qv_deploy *)target)->resources);
}

static bool parse_health(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return parse_health_check(ctx, value, key, &((qv_deploy *)target)->health_check);
}

static const mf_key deploy_keys[] = {
    {"replicas", parse_replicas},
    {"resources", parse_resources},
    {"health_check", parse_health},
};
static const mf_alias deploy_aliases[] = {
    {"instances", "replicas"}, {"scale", "replicas"}, {"limits", "resources"},
    {"healthcheck", "health_check"}, {"health", "health_check"},
};
const mf_section mf_section_deploy = {"deploy", deploy_keys, COUNT(deploy_keys), deploy_aliases,
                                      COUNT(deploy_aliases)};

bool mf_parse_deploy(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    return mf_read_mapping(ctx, value, &mf_section_deploy, &((qv_manifest *)target)->deploy);
}
