/*
 * health_check.c — the two health checks a manifest can hold:
 * deploy.health_check, the request the app answers to show it is well
 * (path, interval, timeout, retries), and
 * cluster.load_balancer.health_check, how often and how patiently the
 * balancer checks each replica (interval, timeout, retries; no path: the
 * replica answering is the check). When both are given, deploy's check
 * takes the timing it does not write from the balancer's.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_path(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
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

static bool parse_timeout(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
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

static const mf_key deploy_keys[] = {
    {"path", parse_path},
    {"interval", parse_interval},
    {"timeout", parse_timeout},
    {"retries", parse_retries},
};
static const mf_alias aliases[] = {{"period", "interval"}, {"attempts", "retries"}};
const mf_section mf_section_health_check = {"deploy.health_check", deploy_keys, COUNT(deploy_keys),
                                            aliases, COUNT(aliases)};

/* The same keys but `path`: a misplaced `path` is pointed to deploy's. */
static const mf_key balancer_keys[] = {
    {"interval", parse_interval},
    {"timeout", parse_timeout},
    {"retries", parse_retries},
};
const mf_section mf_section_balancer_health_check = {
    "cluster.load_balancer.health_check", balancer_keys, COUNT(balancer_keys), aliases,
    COUNT(aliases)};

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

static void append_origin(char *buf, size_t size, const char *from, const char *key)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, ", from '%s.%s'", from, key);
}

/* A check still running when the next is due would pile up. `map` is the
 * check's node, `from` what values not written in it came from (NULL: the
 * defaults, which need no mention). */
static bool check_timing(mf_ctx *ctx, const yaml_node_t *map, const char *key,
                         const qv_health_check *check, const char *from)
{
    if (check->timeout_ms <= check->interval_ms) return true;
    const yaml_node_t *timeout = mf_map_get(ctx, map, "timeout");
    const yaml_node_t *interval = mf_map_get(ctx, map, "interval");
    const yaml_node_t *at = timeout ? timeout : interval ? interval : map;
    char timeout_text[MF_KEY_PATH_SIZE + 48], interval_text[MF_KEY_PATH_SIZE + 48];
    format_ms(timeout_text, sizeof timeout_text, check->timeout_ms);
    format_ms(interval_text, sizeof interval_text, check->interval_ms);
    if (from && !timeout) append_origin(timeout_text, sizeof timeout_text, from, "timeout");
    if (from && !interval) append_origin(interval_text, sizeof interval_text, from, "interval");
    return mf_fail(ctx, at, "'%s.timeout' (%s) must not be longer than '%s.interval' (%s)", key,
                   timeout_text, key, interval_text);
}

bool mf_parse_deploy_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key,
                                  qv_health_check *check)
{
    (void)key;
    if (!mf_read_mapping(ctx, value, &mf_section_health_check, check)) return false;
    check->enabled = true;
    if (!check->path && !(check->path = strdup(QV_MANIFEST_DEFAULT_HEALTH_PATH)))
        return mf_fail(ctx, value, "out of memory");
    return true;    /* its timing is checked once the balancer's is known */
}

bool mf_parse_balancer_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key,
                                    qv_health_check *check)
{
    if (!mf_read_mapping(ctx, value, &mf_section_balancer_health_check, check)) return false;
    check->enabled = true;
    return check_timing(ctx, value, key, check, NULL);
}

bool mf_finish_health_checks(mf_ctx *ctx, const yaml_node_t *root, qv_manifest *m)
{
    qv_health_check *check = &m->deploy.health_check;
    const qv_health_check *balancer = &m->cluster.health_check;
    if (!check->enabled) return true;
    const yaml_node_t *map = mf_map_get(ctx, mf_map_get(ctx, root, "deploy"), "health_check");
    if (balancer->enabled) {
        if (!mf_map_get(ctx, map, "interval")) check->interval_ms = balancer->interval_ms;
        if (!mf_map_get(ctx, map, "timeout")) check->timeout_ms = balancer->timeout_ms;
        if (!mf_map_get(ctx, map, "retries")) check->retries = balancer->retries;
    }
    return check_timing(ctx, map, mf_section_health_check.path, check,
                        balancer->enabled ? mf_section_balancer_health_check.path : NULL);
}
