/*
 * deploy.c — `deploy`: how many replicas run, the resources each may use,
 * and the health check that decides whether a replica gets traffic (read
 * by health_check.c).
 */

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
    return mf_parse_deploy_health_check(ctx, value, key, &((qv_deploy *)target)->health_check);
}

static bool parse_strategy(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return mf_parse_deploy_strategy(ctx, value, key, &((qv_deploy *)target)->strategy);
}

static bool parse_autoscale(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return mf_parse_autoscale(ctx, value, key, &((qv_deploy *)target)->autoscale);
}

static const mf_key deploy_keys[] = {
    {"replicas", parse_replicas},
    {"resources", parse_resources},
    {"health_check", parse_health},
    {"strategy", parse_strategy},
    {"autoscale", parse_autoscale},
};
static const mf_alias deploy_aliases[] = {
    {"instances", "replicas"}, {"scale", "replicas"}, {"limits", "resources"},
    {"healthcheck", "health_check"}, {"health", "health_check"}, {"autoscaling", "autoscale"}, {"hpa", "autoscale"},
    {"rollout", "strategy"}, {"update_strategy", "strategy"},
};
const mf_section mf_section_deploy = {"deploy", deploy_keys, COUNT(deploy_keys), deploy_aliases,
                                      COUNT(deploy_aliases)};

bool mf_parse_deploy(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    return mf_read_mapping(ctx, value, &mf_section_deploy, &((qv_manifest *)target)->deploy);
}
