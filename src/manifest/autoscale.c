/*
 * autoscale.c — `deploy.autoscale`: the bounds and targets the cluster's
 * autoscaler keeps the app's replicas by (min, max, cpu_threshold,
 * target_inflight, window). A target is needed, and min must not be more
 * than max; both are checked here, with the position of the mistake.
 */
#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool read_count(mf_ctx *ctx, yaml_node_t *value, const char *key, uint64_t max, uint32_t *out)
{
    uint64_t n;
    if (!mf_read_uint(ctx, value, key, 1, max, &n)) return false;
    *out = (uint32_t)n;
    return true;
}

static bool parse_min(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_count(ctx, value, key, QV_MANIFEST_MAX_REPLICAS, &((qv_autoscale *)target)->min);
}

static bool parse_max(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_count(ctx, value, key, QV_MANIFEST_MAX_REPLICAS, &((qv_autoscale *)target)->max);
}

static bool parse_cpu_threshold(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_count(ctx, value, key, 100, &((qv_autoscale *)target)->cpu_threshold);
}

static bool parse_target_inflight(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return read_count(ctx, value, key, QV_MANIFEST_MAX_INFLIGHT, &((qv_autoscale *)target)->target_inflight);
}

static bool parse_window(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    uint64_t ms;
    if (!mf_read_duration(ctx, value, key, &ms)) return false;
    if (ms > QV_MANIFEST_MAX_WINDOW_MS) return mf_fail(ctx, value, "'%s' must be at most 24h", key);
    ((qv_autoscale *)target)->window_ms = (int64_t)ms;
    return true;
}

static const mf_key keys[] = {
    {"min", parse_min},
    {"max", parse_max},
    {"cpu_threshold", parse_cpu_threshold},
    {"target_inflight", parse_target_inflight},
    {"window", parse_window},
};
static const mf_alias aliases[] = {
    {"min_replicas", "min"},         {"max_replicas", "max"},
    {"minReplicas", "min"},          {"maxReplicas", "max"},
    {"cpu", "cpu_threshold"},        {"cpu_percent", "cpu_threshold"},
    {"inflight", "target_inflight"}, {"in_flight", "target_inflight"},
    {"concurrency", "target_inflight"}, {"scale_down_window", "window"},
    {"stabilization_window", "window"},
};
const mf_section mf_section_autoscale = {"deploy.autoscale", keys, COUNT(keys), aliases, COUNT(aliases)};

bool mf_parse_autoscale(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_autoscale *as = target;
    *as = (qv_autoscale){.enabled = true, .window_ms = -1};
    if (!mf_read_mapping(ctx, value, &mf_section_autoscale, as)) return false;
    char path[MF_KEY_PATH_SIZE];
    yaml_node_t *max = mf_map_get(ctx, value, "max"), *min = mf_map_get(ctx, value, "min");
    if (!max) return mf_fail(ctx, value, "'%s' needs 'max', the most replicas it may run", key);
    if (!min) as->min = 1;
    if (as->min > as->max) {
        mf_key_path(path, sizeof path, key, "min");
        return mf_fail(ctx, min, "'%s' is %u, more than max (%u)", path, as->min, as->max);
    }
    if (!as->cpu_threshold && !as->target_inflight)
        return mf_fail(ctx, value, "'%s' needs a target: 'cpu_threshold' (percent of the CPU asked for) or "
                                   "'target_inflight' (requests in flight per replica), or both", key);
    return true;
}
