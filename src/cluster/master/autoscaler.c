/*
 * autoscaler.c — the master's autoscaler (autoscaler.h).
 */
#include "cluster/master/autoscaler.h"

#include <stdio.h>
#include <string.h>

#include "cluster/master/rollout.h"
#include "serve/log.h"

/* A node's rate is measured over at least this long: its replicas' CPU
 * time is sampled once a second, so shorter spans are mostly noise. */
#define MEASURE_SPAN_NS 2000000000ull

bool master_set_wanted(master *m, m_app *a, uint32_t replicas, char *why, size_t whylen)
{
    /* Not in the overrides: those are what the deploy said, and the same
     * deploy again must stay a no-op after a scale. */
    uint32_t before = a->wanted;
    a->wanted = replicas;
    if (!state_save_app(&m->state, a, why, whylen)) {
        a->wanted = before;
        return false;
    }
    return true;
}

/* The rate of a cumulative counter the node reports for the app (CPU
 * seconds, or request-seconds in flight), from its last reports: false
 * when it cannot be told yet. samples[signal] keeps [older value, older
 * at, newer value, newer at]; the rate runs from the older, at least
 * MEASURE_SPAN old once warmed up. */
static bool node_rate(json_t *samples, const char *signal, uint64_t at, double value, double *rate)
{
    json_t *s = json_object_get(samples, signal);
    double old_value = json_number_value(json_array_get(s, 0)), new_value = json_number_value(json_array_get(s, 2));
    uint64_t old_at = (uint64_t)json_integer_value(json_array_get(s, 1));
    uint64_t new_at = (uint64_t)json_integer_value(json_array_get(s, 3));
    if (!json_is_array(s) || json_array_size(s) != 4 || value < new_value || at < new_at) {
        /* First seen, or the counter started over (the node restarted). */
        json_object_set_new(samples, signal, json_pack("[f,I,f,I]", value, (json_int_t)at, value, (json_int_t)at));
        return false;
    }
    bool measured = at > old_at;
    if (measured) *rate = (value - old_value) / ((double)(at - old_at) / 1e9);
    if (at - new_at >= MEASURE_SPAN_NS)
        json_object_set_new(samples, signal,
                            json_pack("[f,I,f,I]", new_value, (json_int_t)new_at, value, (json_int_t)at));
    return measured;
}

/* The node's samples of the app, made when first needed. */
static json_t *samples_of(m_app *a, const char *node)
{
    json_t *s = json_object_get(a->cpu_samples, node);
    if (!json_is_object(s)) json_object_set_new(a->cpu_samples, node, s = json_object());
    return s;
}

/* What the nodes' heartbeats tell of the app: its CPU use as a percentage
 * of what its replicas ask for (one CPU each when they ask for none), and
 * its requests in flight (running or queued) per replica, on average;
 * each < 0 when no node could tell yet. */
static autoscale_observed observe(m_app *a, const m_state *s)
{
    double used = 0, inflight = 0;
    uint32_t running = 0;
    bool cpu_measured = false, inflight_measured = false;
    for (size_t i = 0; i < s->nnodes; i++) {
        const m_node *n = &s->nodes[i];
        json_t *rep = n->ready ? json_object_get(n->reported, a->name) : NULL;
        json_t *cpu = json_object_get(rep, "cpu_seconds"), *busy = json_object_get(rep, "inflight_seconds");
        if (!rep) continue;
        running += (uint32_t)json_integer_value(json_object_get(rep, "replicas"));
        json_t *samples = samples_of(a, n->name);
        double rate = 0;
        if (json_is_number(cpu) && node_rate(samples, "cpu", n->last_heartbeat_ns, json_number_value(cpu), &rate))
            used += rate, cpu_measured = true;
        if (json_is_number(busy) &&
            node_rate(samples, "inflight", n->last_heartbeat_ns, json_number_value(busy), &rate))
            inflight += rate, inflight_measured = true;
    }
    /* Replicas wanted but not running yet count as idle (as the HPA takes
     * pods without metrics when scaling up): no runaway while they start. */
    uint32_t replicas = running > a->wanted ? running : a->wanted;
    double asked = a->cpu ? (double)a->cpu / 1000 : 1.0;
    autoscale_observed seen = {-1, -1};
    if (replicas && cpu_measured) seen.cpu_percent = used / (replicas * asked) * 100;
    if (replicas && inflight_measured) seen.inflight = inflight / replicas;
    return seen;
}

uint64_t autoscale_window_ms(const master *m, const m_app *a)
{
    return a->autoscale.window_ms >= 0 ? (uint64_t)a->autoscale.window_ms : m->opt.scale_down_window_ms;
}

static void autoscale_app(master *m, m_app *a, uint64_t now)
{
    autoscale_observed seen = observe(a, &m->state);
    a->utilisation = seen.cpu_percent;
    a->inflight = seen.inflight;
    uint32_t current = a->wanted;
    uint64_t window = autoscale_window_ms(m, a);
    autoscale_decision d;
    autoscale_start(&a->scale_history, now, current);
    /* Nothing measured yet: kept within bounds only, and not recorded. */
    uint32_t desired = seen.cpu_percent < 0 && seen.inflight < 0
                           ? autoscale_recommend(&a->autoscale, current, seen, &d)
                           : autoscale_decide(&a->scale_history, &a->autoscale, now, window, current, seen, &d);
    a->autoscale_desired = desired;
    a->autoscaled_ms = now;
    autoscale_explain(&d, window, a->autoscale_why, sizeof a->autoscale_why);
    if (desired == current) return;
    char why[300];
    if (!master_set_wanted(m, a, desired, why, sizeof why)) {
        log_json(LOG_ERROR, "cannot autoscale", json_pack("{s:s,s:s}", "app", a->name, "reason", why));
        return;
    }
    log_json(LOG_INFO, "autoscaled", json_pack("{s:s,s:i,s:i,s:f,s:f,s:s}", "app", a->name, "from", (int)current,
                                               "to", (int)desired, "utilisation", seen.cpu_percent,
                                               "inflight_per_replica", seen.inflight, "why", a->autoscale_why));
    m->dirty = true;
}

void autoscaler_run(master *m)
{
    uint64_t now = now_ms();
    for (size_t i = 0; i < m->state.napps; i++)
        /* A rollout sets the replicas of both its revisions meanwhile. */
        if (m->state.apps[i].autoscale.max && !rollout_active(&m->state.apps[i])) autoscale_app(m, &m->state.apps[i], now);
}

void autoscale_settle_deploy(const m_app *current, m_app *probe)
{
    if (!probe->autoscale.max && current) probe->autoscale = current->autoscale;
    const autoscale_spec *as = &probe->autoscale;
    if (!as->max) return;
    uint32_t now = current ? current->wanted : as->min;
    probe->wanted = now < as->min ? as->min : now > as->max ? as->max : now;
}

void autoscale_take(m_app *a, const autoscale_spec *spec)
{
    if (!memcmp(&a->autoscale, spec, sizeof *spec)) return;
    a->autoscale = *spec;
    memset(&a->scale_history, 0, sizeof a->scale_history);
    a->autoscale_desired = 0;
    a->autoscale_why[0] = '\0';
}
