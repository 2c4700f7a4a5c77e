/*
 * autoscaler.c — the master's autoscaler (autoscaler.h).
 */
#include "cluster/master/autoscaler.h"

#include <stdio.h>

#include "cluster/master/rollout.h"
#include "serve/log.h"

/* A node's rate is measured over at least this long: its replicas' CPU
 * time is sampled once a second, so shorter spans are mostly noise. */
#define MEASURE_SPAN_NS 2000000000ull

bool master_set_wanted(master *m, m_app *a, uint32_t replicas, char *why, size_t whylen)
{
    uint32_t before = a->wanted;
    json_t *overrides_before = json_deep_copy(a->overrides);
    a->wanted = replicas;
    json_object_set_new(a->overrides, "replicas", json_integer(replicas));
    if (!state_save_app(&m->state, a, why, whylen)) {
        a->wanted = before;
        json_decref(a->overrides);
        a->overrides = overrides_before;
        return false;
    }
    json_decref(overrides_before);
    return true;
}

/* The app's CPU use on node n, in CPUs, from its last reports: false when
 * it cannot be told yet. Each node keeps [older cpu, older at, newer cpu,
 * newer at]; the rate runs from the older, at least MEASURE_SPAN old once
 * warmed up. */
static bool node_rate(m_app *a, const m_node *n, double cpu, double *rate)
{
    uint64_t at = n->last_heartbeat_ns;
    json_t *s = json_object_get(a->cpu_samples, n->name);
    double old_cpu = json_number_value(json_array_get(s, 0)), new_cpu = json_number_value(json_array_get(s, 2));
    uint64_t old_at = (uint64_t)json_integer_value(json_array_get(s, 1));
    uint64_t new_at = (uint64_t)json_integer_value(json_array_get(s, 3));
    if (!json_is_array(s) || json_array_size(s) != 4 || cpu < new_cpu || at < new_at) {
        /* First seen, or the counter started over (the node restarted). */
        json_object_set_new(a->cpu_samples, n->name, json_pack("[f,I,f,I]", cpu, (json_int_t)at, cpu, (json_int_t)at));
        return false;
    }
    bool measured = at > old_at;
    if (measured) *rate = (cpu - old_cpu) / ((double)(at - old_at) / 1e9);
    if (at - new_at >= MEASURE_SPAN_NS)
        json_object_set_new(a->cpu_samples, n->name,
                            json_pack("[f,I,f,I]", new_cpu, (json_int_t)new_at, cpu, (json_int_t)at));
    return measured;
}

/* The app's CPU use as a percentage of what its replicas ask for (one CPU
 * each when they ask for none); < 0 when no node could tell yet. */
static double utilisation(m_app *a, const m_state *s)
{
    double used = 0;
    uint32_t running = 0;
    bool measured = false;
    for (size_t i = 0; i < s->nnodes; i++) {
        const m_node *n = &s->nodes[i];
        json_t *rep = n->ready ? json_object_get(n->reported, a->name) : NULL;
        json_t *cpu = json_object_get(rep, "cpu_seconds");
        if (!json_is_number(cpu)) continue;
        running += (uint32_t)json_integer_value(json_object_get(rep, "replicas"));
        double rate = 0;
        if (node_rate(a, n, json_number_value(cpu), &rate)) used += rate, measured = true;
    }
    /* Replicas wanted but not running yet count as idle (as the HPA takes
     * pods without metrics when scaling up): no runaway while they start. */
    uint32_t replicas = running > a->wanted ? running : a->wanted;
    if (!measured || !replicas) return -1;
    double asked = a->cpu ? (double)a->cpu / 1000 : 1.0;
    return used / (replicas * asked) * 100;
}

static void autoscale_app(master *m, m_app *a, uint64_t now)
{
    a->utilisation = utilisation(a, &m->state);
    uint32_t current = a->wanted, desired;
    if (a->utilisation >= 0) {
        desired = autoscale_decide(&a->scale_history, &a->autoscale, now, m->opt.scale_down_window_ms, current,
                                   a->utilisation);
    } else {
        /* Nothing measured yet: keep within bounds only. */
        desired = current < a->autoscale.min ? a->autoscale.min
                  : current > a->autoscale.max ? a->autoscale.max : current;
    }
    a->autoscale_desired = desired;
    a->autoscaled_ms = now;
    if (desired == current) return;
    char why[300];
    if (!master_set_wanted(m, a, desired, why, sizeof why)) {
        log_json(LOG_ERROR, "cannot autoscale", json_pack("{s:s,s:s}", "app", a->name, "reason", why));
        return;
    }
    log_json(LOG_INFO, "autoscaled", json_pack("{s:s,s:i,s:i,s:f,s:i}", "app", a->name, "from", (int)current, "to",
                                               (int)desired, "utilisation", a->utilisation < 0 ? 0 : a->utilisation,
                                               "cpu_threshold", (int)a->autoscale.cpu_threshold));
    m->dirty = true;
}

void autoscaler_run(master *m)
{
    uint64_t now = now_ms();
    for (size_t i = 0; i < m->state.napps; i++)
        /* A rollout sets the replicas of both its revisions meanwhile. */
        if (m->state.apps[i].autoscale.max && !rollout_active(&m->state.apps[i])) autoscale_app(m, &m->state.apps[i], now);
}
