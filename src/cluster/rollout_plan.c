/*
 * rollout_plan.c — see rollout_plan.h.
 */
#include "cluster/rollout_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const strategy_names[] = {"rolling", "blue_green", "canary"};
static const char *const state_names[] = {"progressing", "paused", "succeeded", "rolled_back", "aborted", "failed"};

const char *rollout_strategy_name(rollout_strategy s) { return strategy_names[s]; }
const char *rollout_state_name(rollout_state s) { return state_names[s]; }
bool rollout_state_active(rollout_state s) { return s == ROLLOUT_PROGRESSING || s == ROLLOUT_PAUSED; }

bool rollout_strategy_parse(const char *name, rollout_strategy *out)
{
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, strategy_names[i])) return *out = (rollout_strategy)i, true;
    /* The spellings users bring from elsewhere. */
    if (name && (!strcmp(name, "blue-green") || !strcmp(name, "bluegreen"))) return *out = ROLLOUT_BLUE_GREEN, true;
    if (name && (!strcmp(name, "rollingupdate") || !strcmp(name, "RollingUpdate"))) return *out = ROLLOUT_ROLLING, true;
    return false;
}

bool rollout_state_parse(const char *name, rollout_state *out)
{
    for (int i = 0; i < 6; i++)
        if (name && !strcmp(name, state_names[i])) return *out = (rollout_state)i, true;
    return false;
}

void rollout_policy_default(rollout_policy *p)
{
    memset(p, 0, sizeof *p);
    p->strategy = ROLLOUT_ROLLING;
    p->max_surge = 25, p->surge_percent = true;
    p->max_unavailable = 0;
    p->steps[0] = 10, p->steps[1] = 50, p->steps[2] = 100, p->nsteps = 3;
    p->pause_ms = 30000;
    p->keep_ms = 300000;
    p->progress_deadline_ms = 600000;
    p->max_error_rate = 5;
    p->min_requests = 20;
}

/* A count or "N%" into *v, *percent. */
static bool count_or_percent(const json_t *j, uint32_t *v, bool *percent)
{
    if (json_is_integer(j) && json_integer_value(j) >= 0 && json_integer_value(j) <= 10000) {
        *v = (uint32_t)json_integer_value(j), *percent = false;
        return true;
    }
    const char *s = json_string_value(j);
    if (!s) return false;
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || n < 0) return false;
    if (!strcmp(end, "%") && n <= 100) return *v = (uint32_t)n, *percent = true, true;
    if (!*end && n <= 10000) return *v = (uint32_t)n, *percent = false, true;
    return false;
}

static bool duration_ms(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 7LL * 24 * 3600 * 1000)
        return false;
    *out = (uint64_t)json_integer_value(j);
    return true;
}

bool rollout_policy_apply_json(rollout_policy *p, const json_t *j, char *why, size_t whylen)
{
    if (!json_is_object(j)) {
        snprintf(why, whylen, "rollout must be an object");
        return false;
    }
    rollout_policy next = *p;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        bool ok = true;
        if (!strcmp(key, "strategy")) ok = rollout_strategy_parse(json_string_value(v), &next.strategy);
        else if (!strcmp(key, "max_surge")) ok = count_or_percent(v, &next.max_surge, &next.surge_percent);
        else if (!strcmp(key, "max_unavailable"))
            ok = count_or_percent(v, &next.max_unavailable, &next.unavailable_percent);
        else if (!strcmp(key, "steps")) {
            size_t i, n = json_array_size(v);
            json_t *s;
            ok = json_is_array(v) && n >= 1 && n <= ROLLOUT_MAX_STEPS;
            json_array_foreach(v, i, s) {
                json_int_t w = json_integer_value(s);
                if (!ok || !json_is_integer(s) || w < 1 || w > 100 || (i && w <= (json_int_t)next.steps[i - 1])) {
                    ok = false;
                    break;
                }
                next.steps[i] = (uint32_t)w;
            }
            if (ok && next.steps[n - 1] != 100) ok = false;
            if (ok) next.nsteps = n;
            if (!ok) {
                snprintf(why, whylen, "rollout steps must be 1 to %d rising percentages ending at 100",
                         ROLLOUT_MAX_STEPS);
                return false;
            }
        } else if (!strcmp(key, "pause_ms")) ok = duration_ms(v, &next.pause_ms);
        else if (!strcmp(key, "keep_ms")) ok = duration_ms(v, &next.keep_ms);
        else if (!strcmp(key, "progress_deadline_ms")) ok = duration_ms(v, &next.progress_deadline_ms) && next.progress_deadline_ms >= 1000;
        else if (!strcmp(key, "max_latency_ms")) ok = duration_ms(v, &next.max_latency_ms);
        else if (!strcmp(key, "manual")) ok = json_is_boolean(v), next.manual = json_is_true(v);
        else if (!strcmp(key, "rollback_on_failure")) ok = json_is_boolean(v), next.rollback_on_failure = json_is_true(v);
        else if (!strcmp(key, "max_error_rate"))
            ok = json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 100,
            next.max_error_rate = json_number_value(v);
        else if (!strcmp(key, "min_requests"))
            ok = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 1000000,
            next.min_requests = (uint32_t)json_integer_value(v);
        else {
            snprintf(why, whylen,
                     "unknown rollout setting '%.60s' (strategy, max_surge, max_unavailable, steps, pause_ms, manual, "
                     "keep_ms, progress_deadline_ms, rollback_on_failure, max_error_rate, max_latency_ms, "
                     "min_requests)",
                     key);
            return false;
        }
        if (!ok) {
            snprintf(why, whylen, "rollout setting '%s' has a value out of range or of the wrong kind", key);
            return false;
        }
    }
    *p = next;
    return true;
}

static json_t *count_json(uint32_t v, bool percent)
{
    if (!percent) return json_integer(v);
    char text[16];
    snprintf(text, sizeof text, "%u%%", v);
    return json_string(text);
}

json_t *rollout_policy_to_json(const rollout_policy *p)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < p->nsteps; i++) json_array_append_new(steps, json_integer(p->steps[i]));
    return json_pack("{s:s,s:o,s:o,s:o,s:I,s:b,s:I,s:I,s:b,s:f,s:I,s:i}", "strategy", strategy_names[p->strategy],
                     "max_surge", count_json(p->max_surge, p->surge_percent), "max_unavailable",
                     count_json(p->max_unavailable, p->unavailable_percent), "steps", steps, "pause_ms",
                     (json_int_t)p->pause_ms, "manual", p->manual, "keep_ms", (json_int_t)p->keep_ms,
                     "progress_deadline_ms", (json_int_t)p->progress_deadline_ms, "rollback_on_failure",
                     p->rollback_on_failure, "max_error_rate", p->max_error_rate, "max_latency_ms",
                     (json_int_t)p->max_latency_ms, "min_requests", (int)p->min_requests);
}

/* A count or a percentage of target (surge rounded up, unavailable down,
 * as Kubernetes does). */
static uint32_t resolve(uint32_t v, bool percent, uint32_t target, bool round_up)
{
    if (!percent) return v;
    uint64_t x = (uint64_t)target * v;
    return (uint32_t)(round_up ? (x + 99) / 100 : x / 100);
}

void rollout_start(const rollout_policy *p, rollout_progress *g, uint32_t target, uint32_t old_target,
                   uint64_t now_ms)
{
    (void)p;
    memset(g, 0, sizeof *g);
    g->state = ROLLOUT_PROGRESSING;
    g->target = target;
    g->old_target = g->old_wanted = old_target;
    g->started_ms = g->step_ms = g->progress_ms = now_ms;
}

/* New replicas for a canary step of weight percent. */
static uint32_t canary_replicas(uint32_t target, uint32_t weight)
{
    if (weight >= 100) return target;
    uint32_t n = (uint32_t)(((uint64_t)target * weight + 99) / 100);
    return n ? n : 1;
}

static rollout_verdict step_rolling(const rollout_policy *p, rollout_progress *g, const rollout_observed *o)
{
    uint32_t w = g->target;
    uint32_t surge = resolve(p->max_surge, p->surge_percent, w, true);
    uint32_t unavailable = resolve(p->max_unavailable, p->unavailable_percent, w, false);
    if (!surge && !unavailable) surge = 1; /* else nothing could ever move */
    /* Old replicas go while enough stay ready ... */
    uint32_t floor = w > unavailable ? w - unavailable : 0;
    uint32_t old_allowed = floor > o->new_ready ? floor - o->new_ready : 0;
    if (old_allowed < g->old_wanted) g->old_wanted = old_allowed;
    /* ... and new ones come while no more than target + surge run. */
    uint32_t ceiling = w + surge, room = ceiling > g->old_wanted ? ceiling - g->old_wanted : 0;
    uint32_t new_wanted = room < w ? room : w;
    if (new_wanted > g->new_wanted) g->new_wanted = new_wanted;
    uint32_t total = o->new_ready + o->old_ready;
    g->weight = total ? (uint32_t)((uint64_t)o->new_ready * 100 / total) : 0;
    if (o->new_ready >= w && g->old_wanted == 0) {
        g->weight = 100;
        return ROLLOUT_DONE;
    }
    return ROLLOUT_WAIT;
}

static rollout_verdict step_blue_green(const rollout_policy *p, rollout_progress *g, const rollout_observed *o)
{
    g->new_wanted = g->target;
    if (g->switched) return ROLLOUT_DONE;
    if (o->new_ready < g->target || (p->manual && !o->promote)) return ROLLOUT_WAIT;
    g->switched = true;
    g->switched_ms = o->now_ms;
    g->weight = 100;
    return ROLLOUT_DONE;
}

static rollout_verdict step_canary(const rollout_policy *p, rollout_progress *g, const rollout_observed *o)
{
    if (g->step >= p->nsteps) g->step = (uint32_t)p->nsteps - 1;
    uint32_t weight = p->steps[g->step], want = canary_replicas(g->target, weight);
    if (g->new_wanted < want) g->new_wanted = want;
    if (!g->step_ready) {
        if (o->new_ready < want) return ROLLOUT_WAIT;
        /* The step's replicas are ready: its weight applies from now. */
        g->step_ready = true;
        g->step_ms = g->progress_ms = o->now_ms;
        g->weight = weight;
    }
    if (weight >= 100) {
        g->old_wanted = 0;
        return ROLLOUT_DONE;
    }
    if (o->promote || (!p->manual && o->now_ms - g->step_ms >= p->pause_ms)) {
        g->step++;
        g->step_ready = false;
        g->progress_ms = o->now_ms;
        want = canary_replicas(g->target, p->steps[g->step]); /* asked for now, not a step later */
        if (g->new_wanted < want) g->new_wanted = want;
    }
    return ROLLOUT_WAIT;
}

rollout_verdict rollout_step(const rollout_policy *p, rollout_progress *g, const rollout_observed *o, char *why,
                             size_t whylen)
{
    if (g->state != ROLLOUT_PROGRESSING) return ROLLOUT_WAIT;
    rollout_progress before = *g;
    if (o->new_ready > g->best_ready) g->best_ready = o->new_ready, g->progress_ms = o->now_ms;
    if (o->new_unhealthy && !o->new_ready) {
        snprintf(why, whylen, "the new revision fails its health checks: every new replica on %u node%s failed them",
                 o->new_unhealthy, o->new_unhealthy == 1 ? "" : "s");
        return ROLLOUT_FAIL;
    }
    if (rollout_analysis_fails(p, &o->new_counts, &o->old_counts, why, whylen)) return ROLLOUT_FAIL;
    rollout_verdict v;
    switch (p->strategy) {
    case ROLLOUT_BLUE_GREEN: v = step_blue_green(p, g, o); break;
    case ROLLOUT_CANARY: v = step_canary(p, g, o); break;
    case ROLLOUT_ROLLING:
    default: v = step_rolling(p, g, o); break;
    }
    if (v == ROLLOUT_DONE) return v;
    if (o->now_ms - g->progress_ms > p->progress_deadline_ms) {
        snprintf(why, whylen,
                 "no progress for %llu s (the progress deadline): %u of %u new replicas ready",
                 (unsigned long long)(p->progress_deadline_ms / 1000), o->new_ready, g->new_wanted);
        return ROLLOUT_FAIL;
    }
    /* best_ready and progress_ms are bookkeeping; the rest is worth storing. */
    bool changed = g->new_wanted != before.new_wanted || g->old_wanted != before.old_wanted ||
                   g->step != before.step || g->weight != before.weight || g->step_ready != before.step_ready ||
                   g->switched != before.switched || g->step_ms != before.step_ms;
    return changed ? ROLLOUT_CHANGED : ROLLOUT_WAIT;
}

void rollout_split(const rollout_policy *p, const rollout_progress *g, uint32_t new_ready, uint32_t old_ready,
                   uint32_t *new_weight, uint32_t *old_weight)
{
    if (!rollout_state_active(g->state) || p->strategy == ROLLOUT_BLUE_GREEN) {
        /* Blue-green, and any rollout once done: all or nothing. */
        bool on_new = g->switched || g->state == ROLLOUT_SUCCEEDED;
        *new_weight = on_new ? 100 : 0, *old_weight = on_new ? 0 : 100;
    } else if (p->strategy == ROLLOUT_CANARY) {
        *new_weight = g->weight, *old_weight = 100 - g->weight;
    } else {
        /* Rolling: as the ready replicas are. */
        *new_weight = new_ready, *old_weight = old_ready;
        if (!new_ready && !old_ready) *new_weight = *old_weight = 1;
    }
}

bool rollout_analysis_fails(const rollout_policy *p, const rollout_counts *fresh, const rollout_counts *stable,
                            char *why, size_t whylen)
{
    if (!fresh->answered || fresh->answered < p->min_requests) return false;
    double rate = 100.0 * (double)fresh->failed / (double)fresh->answered;
    double stable_rate = stable->answered ? 100.0 * (double)stable->failed / (double)stable->answered : 0;
    if (rate > stable_rate + p->max_error_rate) {
        snprintf(why, whylen,
                 "the new revision answered %.1f%% of %llu requests with 5xx (the stable one %.1f%%; at most %.1f%% "
                 "more allowed)",
                 rate, (unsigned long long)fresh->answered, stable_rate, p->max_error_rate);
        return true;
    }
    if (p->max_latency_ms) {
        double mean = fresh->seconds * 1000 / (double)fresh->answered;
        double stable_mean = stable->answered ? stable->seconds * 1000 / (double)stable->answered : 0;
        if (mean > stable_mean + (double)p->max_latency_ms) {
            snprintf(why, whylen,
                     "the new revision's mean latency is %.0f ms over %llu requests (the stable one's %.0f ms; at "
                     "most %llu ms more allowed)",
                     mean, (unsigned long long)fresh->answered, stable_mean, (unsigned long long)p->max_latency_ms);
            return true;
        }
    }
    return false;
}
