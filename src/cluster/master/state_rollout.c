/*
 * state_rollout.c — a rollout kept in the store (rollouts/APP): its
 * policy, where it is, and the stable set it moves away from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/master/state.h"

m_app *app_copy(const m_app *a)
{
    m_app *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    memcpy(c->name, a->name, sizeof c->name);
    c->revision = c->last_revision = a->revision;
    memcpy(c->digest, a->digest, sizeof c->digest);
    memcpy(c->manifest, a->manifest, sizeof c->manifest);
    memcpy(c->route, a->route, sizeof c->route);
    memcpy(c->algorithm, a->algorithm, sizeof c->algorithm);
    c->port = a->port;
    c->wanted = a->wanted;
    c->memory = a->memory, c->cpu = a->cpu;
    c->deployed_ms = a->deployed_ms;
    c->overrides = json_deep_copy(a->overrides);
    c->nodes = json_deep_copy(a->nodes);
    c->placement = json_deep_copy(a->placement);
    c->cpu_samples = json_object();
    c->pending = a->pending ? strdup(a->pending) : NULL;
    c->utilisation = -1;
    if (!c->overrides || !c->nodes || !c->placement || !c->cpu_samples) {
        app_free_copy(c);
        return NULL;
    }
    return c;
}

void app_free_copy(m_app *a)
{
    if (!a) return;
    json_decref(a->overrides);
    json_decref(a->nodes);
    json_decref(a->placement);
    json_decref(a->cpu_samples);
    free(a->pending);
    free(a);
}

void rollout_free(m_rollout *r)
{
    if (!r) return;
    app_free_copy(r->stable);
    json_decref(r->seen);
    free(r);
}

json_t *rollout_to_json(const m_rollout *r)
{
    const rollout_progress *g = &r->g;
    json_t *j = json_pack("{s:o,s:s,s:I,s:I,s:i,s:i,s:i,s:i,s:i,s:i,s:b,s:b,s:I,s:I,s:I,s:I,s:i,s:s}", "policy",
                          rollout_policy_to_json(&r->policy), "state", rollout_state_name(g->state), "from_revision",
                          (json_int_t)r->from_revision, "to_revision", (json_int_t)r->to_revision, "target",
                          (int)g->target, "old_target", (int)g->old_target, "new_wanted", (int)g->new_wanted,
                          "old_wanted", (int)g->old_wanted, "step", (int)g->step, "weight", (int)g->weight,
                          "step_ready", g->step_ready, "switched", g->switched, "started_ms",
                          (json_int_t)g->started_ms, "step_ms", (json_int_t)g->step_ms, "progress_ms",
                          (json_int_t)g->progress_ms, "switched_ms", (json_int_t)g->switched_ms, "best_ready",
                          (int)g->best_ready, "reason", r->reason);
    if (j) json_object_set_new(j, "stable", r->stable ? app_to_json(r->stable, true) : json_null());
    return j;
}

static uint32_t u32(json_t *j, const char *key) { return (uint32_t)json_integer_value(json_object_get(j, key)); }
static uint64_t u64(json_t *j, const char *key) { return (uint64_t)json_integer_value(json_object_get(j, key)); }

m_rollout *rollout_from_json(json_t *j, const char *app, char *why, size_t whylen)
{
    m_rollout *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    rollout_policy_default(&r->policy);
    char problem[300] = "";
    if (!rollout_policy_apply_json(&r->policy, json_object_get(j, "policy"), problem, sizeof problem) ||
        !rollout_state_parse(json_string_value(json_object_get(j, "state")), &r->g.state))
        goto bad;
    rollout_progress *g = &r->g;
    r->from_revision = json_integer_value(json_object_get(j, "from_revision"));
    r->to_revision = json_integer_value(json_object_get(j, "to_revision"));
    g->target = u32(j, "target"), g->old_target = u32(j, "old_target");
    g->new_wanted = u32(j, "new_wanted"), g->old_wanted = u32(j, "old_wanted");
    g->step = u32(j, "step"), g->weight = u32(j, "weight"), g->best_ready = u32(j, "best_ready");
    g->step_ready = json_is_true(json_object_get(j, "step_ready"));
    g->switched = json_is_true(json_object_get(j, "switched"));
    g->started_ms = u64(j, "started_ms"), g->step_ms = u64(j, "step_ms");
    g->progress_ms = u64(j, "progress_ms"), g->switched_ms = u64(j, "switched_ms");
    const char *reason = json_string_value(json_object_get(j, "reason"));
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    json_t *stable = json_object_get(j, "stable");
    if (json_is_object(stable)) {
        r->stable = calloc(1, sizeof *r->stable);
        if (!r->stable) goto bad;
        r->stable->overrides = json_object();
        r->stable->nodes = json_array();
        r->stable->placement = json_object();
        r->stable->cpu_samples = json_object();
        r->stable->utilisation = -1;
        snprintf(r->stable->name, sizeof r->stable->name, "%s", app);
        if (!app_from_json(r->stable, stable)) goto bad;
    }
    r->seen = json_object();
    return r;
bad:
    snprintf(why, whylen, "the stored rollout of %s is damaged%s%s", app, *problem ? ": " : "", problem);
    rollout_free(r);
    return NULL;
}

bool state_load_rollouts(m_state *s, char *why, size_t whylen)
{
    store_range r;
    store_status st;
    if (!store_range_prefix(s->st, "rollouts/", 0, &r, &st)) {
        snprintf(why, whylen, "cannot read the state (rollouts/): %s", st.message);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < r.count && ok; i++) {
        m_app *a = state_app(s, r.kvs[i].key + strlen("rollouts/"));
        if (!a) continue; /* its app was removed: nothing to resume */
        json_t *j = json_loadb((const char *)r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
        m_rollout *ro = json_is_object(j) ? rollout_from_json(j, a->name, why, whylen) : NULL;
        json_decref(j);
        if (!ro) {
            if (!j) snprintf(why, whylen, "the stored state is damaged at key '%s'", r.kvs[i].key);
            ok = false;
            break;
        }
        ro->mod_revision = r.kvs[i].mod_revision;
        rollout_free(a->rollout);
        a->rollout = ro;
    }
    store_range_free(&r);
    return ok;
}
