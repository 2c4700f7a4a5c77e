/*
 * strategy.c — `deploy.strategy`: how the cluster rolls a new revision of
 * the app out (rolling, blue_green or canary) and when it gives up and
 * goes back. Either the strategy's name alone (`strategy: canary`) or a
 * mapping with `type` and the numbers (docs/manifest.md, "Releases").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static const char *const type_names[] = {"rolling", "blue_green", "canary"};

static bool parse_type(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    int type;
    if (!mf_read_enum(ctx, value, key, type_names, COUNT(type_names), &type)) return false;
    ((qv_strategy *)target)->type = (qv_strategy_type)type;
    return true;
}

/* A whole number alone or followed by '%'; *percent says which. */
static bool read_count_or_percent(mf_ctx *ctx, const yaml_node_t *value, const char *key, uint32_t max_count,
                                  uint32_t *out, bool *percent)
{
    const char *text = value->type == YAML_SCALAR_NODE ? mf_text(value) : "";
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    bool digits = end != text && text[0] >= '0' && text[0] <= '9';
    *percent = digits && !strcmp(end, "%");
    if (!digits || (*end && !*percent) || n > (*percent ? 100 : max_count))
        return mf_fail(ctx, value, "'%s' must be a count (0 to %u) or a percentage such as 25%%", key, max_count);
    *out = (uint32_t)n;
    return true;
}

static bool parse_max_surge(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->surge_set = true;
    return read_count_or_percent(ctx, value, key, QV_MANIFEST_MAX_REPLICAS, &s->max_surge, &s->surge_percent);
}

static bool parse_max_unavailable(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->unavailable_set = true;
    return read_count_or_percent(ctx, value, key, QV_MANIFEST_MAX_REPLICAS, &s->max_unavailable,
                                 &s->unavailable_percent);
}

static bool parse_steps(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    if (value->type != YAML_SEQUENCE_NODE)
        return mf_fail(ctx, value, "'%s' must be a list of traffic percentages such as [10, 50, 100]", key);
    const yaml_node_item_t *start = value->data.sequence.items.start;
    size_t n = (size_t)(value->data.sequence.items.top - start);
    if (n == 0 || n > QV_STRATEGY_MAX_STEPS)
        return mf_fail(ctx, value, "'%s' must have 1 to %d steps", key, QV_STRATEGY_MAX_STEPS);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = mf_node(ctx, start[i]);
        char item_key[200];
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, i);
        uint64_t w;
        if (!item || !mf_read_uint(ctx, item, item_key, 1, 100, &w)) return item ? false : mf_fail(ctx, value, "'%s' is damaged", key);
        if (i && w <= s->steps[i - 1])
            return mf_fail(ctx, item, "'%s' must be more than the step before it (%u): steps rise", item_key,
                           s->steps[i - 1]);
        if (i == n - 1 && w != 100)
            return mf_fail(ctx, item, "'%s' is the last step and must be 100: a canary ends with all the traffic",
                           item_key);
        s->steps[i] = (uint32_t)w;
    }
    s->nsteps = n;
    return true;
}

static bool parse_pause(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->pause_set = true;
    if (value->type == YAML_SCALAR_NODE && !strcmp(mf_text(value), "manual")) return s->manual = true;
    return mf_read_duration(ctx, value, key, &s->pause_ms);
}

static bool parse_keep_old(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->keep_old_set = true;
    return mf_read_duration(ctx, value, key, &s->keep_old_ms);
}

static bool parse_progress_deadline(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->progress_deadline_set = true;
    if (!mf_read_duration(ctx, value, key, &s->progress_deadline_ms)) return false;
    if (s->progress_deadline_ms < 1000) return mf_fail(ctx, value, "'%s' must be at least 1s", key);
    return true;
}

static bool parse_rollback(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->rollback_set = true;
    return mf_read_bool(ctx, value, key, &s->rollback_on_failure);
}

static bool parse_max_error_rate(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    const char *text = value->type == YAML_SCALAR_NODE ? mf_text(value) : "";
    char *end;
    double rate = strtod(text, &end);
    if (end == text || strcmp(end, "%") || !(rate >= 0 && rate <= 100) || text[0] < '0' || text[0] > '9')
        return mf_fail(ctx, value, "'%s' must be a percentage of failed (5xx) answers such as 5%%", key);
    s->max_error_rate = rate;
    s->max_error_rate_set = true;
    return true;
}

static bool parse_max_latency(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    s->max_latency_set = true;
    return mf_read_duration(ctx, value, key, &s->max_latency_ms);
}

static bool parse_min_requests(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_strategy *s = target;
    uint64_t n;
    if (!mf_read_uint(ctx, value, key, 0, 1000000, &n)) return false;
    s->min_requests = (uint32_t)n;
    s->min_requests_set = true;
    return true;
}

static const mf_key strategy_keys[] = {
    {"type", parse_type},
    {"max_surge", parse_max_surge},
    {"max_unavailable", parse_max_unavailable},
    {"steps", parse_steps},
    {"pause", parse_pause},
    {"keep_old", parse_keep_old},
    {"progress_deadline", parse_progress_deadline},
    {"rollback_on_failure", parse_rollback},
    {"max_error_rate", parse_max_error_rate},
    {"max_latency", parse_max_latency},
    {"min_requests", parse_min_requests},
};
static const mf_alias strategy_aliases[] = {
    {"strategy", "type"},           {"surge", "max_surge"},
    {"maxSurge", "max_surge"},      {"maxUnavailable", "max_unavailable"},
    {"unavailable", "max_unavailable"}, {"weights", "steps"},
    {"scale_down_delay", "keep_old"}, {"progressDeadlineSeconds", "progress_deadline"},
    {"auto_rollback", "rollback_on_failure"}, {"rollback", "rollback_on_failure"},
};
const mf_section mf_section_strategy = {"deploy.strategy", strategy_keys, COUNT(strategy_keys), strategy_aliases,
                                        COUNT(strategy_aliases)};

bool mf_parse_deploy_strategy(mf_ctx *ctx, yaml_node_t *value, const char *key, qv_strategy *s)
{
    s->present = true;
    if (value->type == YAML_SCALAR_NODE && !mf_is_null(value)) return parse_type(ctx, value, key, s);
    if (value->type != YAML_MAPPING_NODE)
        return mf_fail(ctx, value, "'%s' must be rolling, blue_green or canary, or a mapping with 'type'", key);
    return mf_read_mapping(ctx, value, &mf_section_strategy, s);
}
