/*
 * autoscale_json.c — an autoscale spec as JSON (autoscale_json.h).
 */
#include "cluster/autoscale_json.h"

#include <string.h>

json_t *autoscale_spec_to_json(const autoscale_spec *spec)
{
    if (!spec->max) return json_null();
    json_t *j = json_pack("{s:i,s:i}", "min", (int)spec->min, "max", (int)spec->max);
    if (spec->cpu_threshold) json_object_set_new(j, "cpu_threshold", json_integer(spec->cpu_threshold));
    if (spec->target_inflight) json_object_set_new(j, "target_inflight", json_integer(spec->target_inflight));
    if (spec->window_ms >= 0) json_object_set_new(j, "window_ms", json_integer(spec->window_ms));
    return j;
}

/* A whole number from 0 to high at key (absent: *out untouched). */
static bool whole(const json_t *j, const char *key, json_int_t high, json_int_t *out)
{
    json_t *v = json_object_get(j, key);
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > high) return false;
    *out = json_integer_value(v);
    return true;
}

const char *autoscale_spec_from_json(const json_t *j, autoscale_spec *spec)
{
    if (!json_is_object(j)) return "the autoscale spec must be an object";
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        if (strcmp(key, "min") && strcmp(key, "max") && strcmp(key, "cpu_threshold") &&
            strcmp(key, "target_inflight") && strcmp(key, "window_ms"))
            return "unknown key in the autoscale spec (min, max, cpu_threshold, target_inflight, window_ms)";
    }
    if (!json_is_integer(json_object_get(j, "min")) || !json_is_integer(json_object_get(j, "max")))
        return "give min and max as whole numbers";
    json_int_t min = 0, max = 0, cpu = 0, inflight = 0, window = -1;
    if (!whole(j, "min", AUTOSCALE_MAX_REPLICAS, &min) || !whole(j, "max", AUTOSCALE_MAX_REPLICAS, &max))
        return "min and max must be from 1 to 10000";
    if (!whole(j, "cpu_threshold", 100, &cpu)) return "cpu_threshold must be a percentage from 1 to 100";
    if (!whole(j, "target_inflight", AUTOSCALE_MAX_INFLIGHT, &inflight))
        return "target_inflight must be a whole number from 1 to 100000";
    if (!whole(j, "window_ms", (json_int_t)AUTOSCALE_MAX_WINDOW_MS, &window))
        return "window_ms must be from 0 to 86400000 (24h)";
    autoscale_spec read = {(uint32_t)min, (uint32_t)max, (uint32_t)cpu, (uint32_t)inflight, window};
    const char *problem = autoscale_spec_problem(&read);
    if (!problem) *spec = read;
    return problem;
}
