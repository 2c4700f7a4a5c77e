/*
 * rollout.c — the master's rollouts (rollout.h): begun by a deploy,
 * stepped on the tick, steered through the API.
 */
#include "cluster/master/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/master/autoscaler.h"
#include "cluster/master/bundle_diff.h"
#include "cluster/master/check.h"
#include "serve/http_json.h"
#include "serve/log.h"

bool rollout_active(const m_app *a) { return a->rollout && rollout_state_active(a->rollout->g.state); }

/* Whether a's last rollout still has two sets to settle: moving, or
 * failed where it stood (then abort or undo ends it). */
static bool unsettled(const m_app *a)
{
    return rollout_active(a) || (a->rollout && a->rollout->stable && a->rollout->g.state == ROLLOUT_FAILED);
}

/* ------------------------------------------------------------ specs */

/* Take what a revision is made of (and its set's placement) from src. */
static void take_spec(m_app *a, const m_app *src, bool with_placement)
{
    a->revision = src->revision;
    memcpy(a->digest, src->digest, sizeof a->digest);
    memcpy(a->manifest, src->manifest, sizeof a->manifest);
    memcpy(a->route, src->route, sizeof a->route);
    memcpy(a->algorithm, src->algorithm, sizeof a->algorithm);
    a->port = src->port;
    a->memory = src->memory, a->cpu = src->cpu;
    a->wanted = src->wanted;
    a->deployed_ms = src->deployed_ms;
    json_decref(a->overrides);
    a->overrides = json_deep_copy(src->overrides);
    json_decref(a->nodes);
    a->nodes = json_deep_copy(src->nodes);
    if (with_placement) {
        json_decref(a->placement);
        a->placement = src->placement ? json_deep_copy(src->placement) : json_object();
        free(a->pending);
        a->pending = src->pending ? strdup(src->pending) : NULL;
    }
}

/* "bundle 1a2b3c4d -> 5e6f7a8b (changed: app.wasm; manifest keys: env.MODE);
 * overrides: env": what a new revision changes over the running one, for
 * the history. */
static void describe_change(master *m, const m_app *from, const m_app *to, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    if (strcmp(from->digest, to->digest)) {
        char old_dir[800], new_dir[800], files[400];
        snprintf(old_dir, sizeof old_dir, "%s/%s", m->bundles_dir, from->digest);
        snprintf(new_dir, sizeof new_dir, "%s/%s", m->bundles_dir, to->digest);
        bundle_diff(old_dir, from->manifest, new_dir, to->manifest, files, sizeof files);
        used += (size_t)snprintf(out + used, n - used, "bundle %.8s -> %.8s%s%s%s", from->digest, to->digest,
                                 *files ? " (" : "", files, *files ? ")" : "");
    }
    if (used < n && strcmp(from->manifest, to->manifest))
        used += (size_t)snprintf(out + used, n - used, "%smanifest %s -> %s", used ? "; " : "", from->manifest,
                                 to->manifest);
    json_t *keys = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(from->overrides, key, v) if (!json_equal(v, json_object_get(to->overrides, key)))
        json_array_append_new(keys, json_string(key));
    json_object_foreach(to->overrides, key, v) if (!json_object_get(from->overrides, key))
        json_array_append_new(keys, json_string(key));
    if (used >= n) used = n - 1;
    for (size_t i = 0; i < json_array_size(keys) && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : used ? "; overrides: " : "overrides: ",
                                 json_string_value(json_array_get(keys, i)));
    json_decref(keys);
    if (!used) snprintf(out, n, "nothing (the same bundle and overrides)");
}

/* The record fields of a revision as deployed. */
static json_t *record_of(const m_app *a, const rollout_policy *p, const char *change, const char *outcome)
{
    return json_pack("{s:I,s:s,s:s,s:O,s:I,s:s,s:s,s:s,s:o}", "revision", (json_int_t)a->revision, "digest",
                     a->digest, "manifest", a->manifest, "overrides", a->overrides, "time_ms",
                     (json_int_t)a->deployed_ms, "strategy", rollout_strategy_name(p->strategy), "change", change,
                     "outcome", outcome, "policy", rollout_policy_to_json(p));
}

/* ------------------------------------------------------------ answers */

static json_t *counts_json(const rollout_counts *c)
{
    return json_pack("{s:I,s:I,s:f}", "answered", (json_int_t)c->answered, "failed", (json_int_t)c->failed,
                     "mean_ms", c->answered ? c->seconds * 1000 / (double)c->answered : 0.0);
}

json_t *rollout_status(master *m, const m_app *a)
{
    const m_rollout *r = a->rollout;
    if (!r) return json_null();
    const rollout_progress *g = &r->g;
    uint32_t new_ready = set_ready(m, a->name, a->revision == r->to_revision ? a : NULL);
    uint32_t old_ready = set_ready(m, a->name, r->stable);
    json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:b,s:I,s:{s:i,s:i},s:{s:i,s:i},s:o,s:o,s:o}", "strategy",
                          rollout_strategy_name(r->policy.strategy), "state", rollout_state_name(g->state),
                          "from_revision", (json_int_t)r->from_revision, "to_revision", (json_int_t)r->to_revision,
                          "target", (int)g->target, "weight", (int)g->weight, "switched", g->switched, "started_ms",
                          (json_int_t)g->started_ms, "new", "wanted", (int)g->new_wanted, "ready", (int)new_ready,
                          "old", "wanted", (int)(r->stable ? r->stable->wanted : 0), "ready", (int)old_ready,
                          "policy", rollout_policy_to_json(&r->policy), "new_answers", counts_json(&r->fresh),
                          "old_answers", counts_json(&r->old));
    if (r->policy.strategy == ROLLOUT_CANARY) {
        json_object_set_new(j, "step", json_integer(g->step + 1));
        json_object_set_new(j, "steps", json_integer((json_int_t)r->policy.nsteps));
    }
    json_object_set_new(j, "reason", *r->reason ? json_string(r->reason) : json_null());
    if (r->stable && g->state == ROLLOUT_SUCCEEDED && r->policy.strategy == ROLLOUT_BLUE_GREEN)
        json_object_set_new(j, "old_kept_until_ms", json_integer((json_int_t)(g->switched_ms + r->policy.keep_ms)));
    return j;
}

/* ------------------------------------------------------------ saving */

/* Store a's change with its revisions' records (two at most); on failure
 * log it: the store refused, and the next tick tries the step again from
 * what is in memory. */
static bool save_step(master *m, m_app *a, int64_t rev1, json_t *fields1, int64_t rev2, json_t *fields2)
{
    record_change changes[2] = {{0, NULL}, {0, NULL}};
    size_t n = 0;
    if (fields1) changes[n++] = (record_change){rev1, fields1};
    if (fields2) changes[n++] = (record_change){rev2, fields2};
    char why[600];
    bool ok = state_save_app_and_records(&m->state, a, changes, n, why, sizeof why);
    json_decref(fields1);
    json_decref(fields2);
    if (!ok) log_json(LOG_ERROR, "cannot store the rollout's step", json_pack("{s:s,s:s}", "app", a->name, "reason", why));
    return ok;
}

/* ------------------------------------------------------------ beginning */

/* Begin a rollout of a to spec (with revision number revision, and the
 * set's placement when it already runs: an undo to a kept set). The new
 * rollout replaces a's last one (done). False with why and the app as it
 * was. */
static bool begin(master *m, m_app *a, const m_app *spec, int64_t revision, const rollout_policy *policy,
                  const char *outcome, char *why, size_t whylen)
{
    m_rollout *r = calloc(1, sizeof *r);
    m_app *stable = app_copy(a);
    if (!r || !stable || !(r->seen = json_object())) {
        free(r);
        app_free_copy(stable);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    m_app *before = app_copy(a);
    if (!before) {
        rollout_free(r);
        app_free_copy(stable);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    int64_t last_before = a->last_revision;
    m_rollout *previous = a->rollout;
    uint64_t now = now_ms();
    r->policy = *policy;
    r->from_revision = a->revision;
    r->to_revision = revision;
    r->stable = stable;
    r->mod_revision = previous ? previous->mod_revision : 0;
    rollout_start(policy, &r->g, spec->wanted, a->wanted, now);
    char change[600];
    describe_change(m, a, spec, change, sizeof change);
    take_spec(a, spec, true);
    a->revision = revision;
    if (a->last_revision < revision) a->last_revision = revision;
    a->deployed_ms = now;
    a->wanted = 0;
    a->rollout = r;
    /* The first step at once: the replicas it asks for are placed now. */
    rollout_observed o = {.new_ready = set_ready(m, a->name, a), .old_ready = set_ready(m, a->name, stable),
                          .now_ms = now};
    char step_why[300];
    rollout_step(policy, &r->g, &o, step_why, sizeof step_why);
    a->wanted = r->g.new_wanted;
    stable->wanted = r->g.old_wanted;
    json_t *record = record_of(a, policy, change, outcome);
    record_change rc = {revision, record};
    bool ok = state_save_app_and_records(&m->state, a, &rc, 1, why, whylen);
    json_decref(record);
    if (!ok) {
        take_spec(a, before, true);
        a->last_revision = last_before;
        a->rollout = previous;
        rollout_free(r);
        app_free_copy(before);
        return false;
    }
    rollout_free(previous);
    app_free_copy(before);
    log_json(LOG_INFO, "rollout started",
             json_pack("{s:s,s:I,s:I,s:s,s:i,s:s}", "app", a->name, "from", (json_int_t)r->from_revision, "to",
                       (json_int_t)revision, "strategy", rollout_strategy_name(policy->strategy), "replicas",
                       (int)r->g.target, "change", change));
    return true;
}

/* The policy for spec: the defaults, its manifest's deploy.strategy, the
 * request's "rollout". False with why (an HTTP status in *status). */
static bool policy_for(const char *bundle_dir, const char *manifest, const json_t *request, rollout_policy *p,
                       int *status, char *why, size_t whylen)
{
    rollout_policy_default(p);
    if (!check_rollout_policy(bundle_dir, manifest, p, why, whylen)) return *status = 400, false;
    if (request && !json_is_null(request) && !rollout_policy_apply_json(p, request, why, whylen))
        return *status = 400, false;
    return true;
}

void rollout_deploy(master *m, http_exchange *x, m_app *a, const m_app *probe, const char *bundle_dir,
                    const json_t *request)
{
    char why[1024];
    if (unsettled(a)) {
        http_respond_json_error(x, 409,
                                "a rollout of %s to revision %lld is %s: wait for it, or `qyv cluster rollout abort %s`",
                                a->name, (long long)a->rollout->to_revision, rollout_state_name(a->rollout->g.state),
                                a->name);
        return;
    }
    rollout_policy policy;
    int status = 400;
    if (!policy_for(bundle_dir, probe->manifest, request, &policy, &status, why, sizeof why)) {
        http_respond_json_error(x, status, "%s", why);
        return;
    }
    /* Only the replica count changed: that is a scale, not a release. */
    json_t *mine = json_deep_copy(a->overrides), *theirs = json_deep_copy(probe->overrides);
    json_object_del(mine, "replicas"), json_object_del(theirs, "replicas");
    bool scale_only = !strcmp(a->digest, probe->digest) && !strcmp(a->manifest, probe->manifest) &&
                      json_equal(mine, theirs) && a->memory == probe->memory && a->cpu == probe->cpu &&
                      json_equal(a->nodes, probe->nodes);
    json_decref(mine), json_decref(theirs);
    if (scale_only) {
        if (!master_set_wanted(m, a, probe->wanted, why, sizeof why)) {
            http_respond_json_error(x, 500, "%s", why);
            return;
        }
        json_decref(a->overrides);
        a->overrides = json_deep_copy(probe->overrides);
        autoscale_take(a, &probe->autoscale);
        master_reconcile(m);
        http_respond_json(x, 200, app_status(m, a));
        return;
    }
    /* A blue-green set kept from the last rollout goes now. */
    if (a->rollout && a->rollout->stable) {
        app_free_copy(a->rollout->stable);
        a->rollout->stable = NULL;
    }
    int64_t revision = (a->last_revision > a->revision ? a->last_revision : a->revision) + 1;
    if (!begin(m, a, probe, revision, &policy, "rolling out", why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    autoscale_take(a, &probe->autoscale); /* the manifest's deploy.autoscale, applied once the rollout is done */
    m->deploys++;
    master_reconcile(m);
    http_respond_json(x, 201, app_status(m, a));
}

/* ------------------------------------------------------------ ending */

/* Back to the stable set: it becomes the app again, the new set goes. */
static void roll_back(master *m, m_app *a, rollout_state state, const char *reason)
{
    m_rollout *r = a->rollout;
    if (!r->stable) return;
    int64_t failed = a->revision;
    m_app *keep = r->stable;
    r->stable = NULL;
    take_spec(a, keep, true);
    a->wanted = r->g.old_target;
    app_free_copy(keep);
    r->g.state = state;
    r->g.weight = 0;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    const char *verb = state == ROLLOUT_ABORTED ? "aborted" : "rolled_back";
    save_step(m, a, failed, json_pack("{s:s,s:s,s:I}", "outcome", verb, "reason", reason, "finished_ms",
                                      (json_int_t)now_ms()),
              0, NULL);
    log_json(state == ROLLOUT_ABORTED ? LOG_INFO : LOG_WARN,
             state == ROLLOUT_ABORTED ? "rollout aborted" : "rollout failed; rolled back",
             json_pack("{s:s,s:I,s:I,s:s}", "app", a->name, "revision", (json_int_t)failed, "back_to",
                       (json_int_t)a->revision, "reason", reason));
    master_reconcile(m);
}

/* The counts of one revision on one node since they were last read
 * (a counter that went back started over: its instance was replaced). */
static void add_counts(m_rollout *r, const m_node *n, const char *app, int64_t revision, rollout_counts *into)
{
    json_t *rep = node_report(n, app, revision);
    if (!rep) return;
    double answered = (double)json_integer_value(json_object_get(rep, "answered"));
    double failed = (double)json_integer_value(json_object_get(rep, "failed"));
    double seconds = json_number_value(json_object_get(rep, "answer_seconds"));
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)revision);
    json_t *node_seen = json_object_get(r->seen, n->name);
    if (!node_seen) json_object_set_new(r->seen, n->name, node_seen = json_object());
    json_t *last = json_object_get(node_seen, key);
    double a0 = json_number_value(json_array_get(last, 0)), f0 = json_number_value(json_array_get(last, 1)),
           s0 = json_number_value(json_array_get(last, 2));
    if (!last) a0 = answered, f0 = failed, s0 = seconds; /* first read: counts from here on */
    if (answered < a0) a0 = f0 = s0 = 0;
    into->answered += (uint64_t)(answered - a0);
    into->failed += (uint64_t)(failed - f0 > 0 ? failed - f0 : 0);
    into->seconds += seconds - s0 > 0 ? seconds - s0 : 0;
    json_object_set_new(node_seen, key, json_pack("[f,f,f]", answered, failed, seconds));
}

/* One step of a's rollout. */
static void step_app(master *m, m_app *a)
{
    m_rollout *r = a->rollout;
    rollout_observed o = {.now_ms = now_ms(), .promote = r->promote};
    r->promote = false;
    o.new_ready = set_ready(m, a->name, a);
    o.old_ready = set_ready(m, a->name, r->stable);
    for (size_t k = 0; k < m->state.nnodes; k++) {
        const m_node *n = &m->state.nodes[k];
        json_t *fresh = node_report(n, a->name, a->revision);
        if (n->ready && app_placed_on(a, n->name) && json_is_false(json_object_get(fresh, "healthy"))) o.new_unhealthy++;
        add_counts(r, n, a->name, a->revision, &r->fresh);
        if (r->stable) add_counts(r, n, a->name, r->stable->revision, &r->old);
    }
    o.new_counts = r->fresh;
    o.old_counts = r->old;
    char why[400];
    rollout_verdict v = rollout_step(&r->policy, &r->g, &o, why, sizeof why);
    if (v == ROLLOUT_WAIT) return;
    if (v == ROLLOUT_FAIL) {
        if (r->policy.rollback_on_failure) {
            roll_back(m, a, ROLLOUT_ROLLED_BACK, why);
            return;
        }
        r->g.state = ROLLOUT_FAILED;
        snprintf(r->reason, sizeof r->reason, "%s", why);
        save_step(m, a, a->revision, json_pack("{s:s,s:s}", "outcome", "failed", "reason", why), 0, NULL);
        log_json(LOG_WARN, "rollout failed; left where it is (no rollback asked)",
                 json_pack("{s:s,s:I,s:s}", "app", a->name, "revision", (json_int_t)a->revision, "reason", why));
        return;
    }
    a->wanted = r->g.new_wanted;
    if (r->stable) r->stable->wanted = r->g.old_wanted;
    if (v == ROLLOUT_DONE) {
        r->g.state = ROLLOUT_SUCCEEDED;
        a->wanted = r->g.target;
        uint64_t took = o.now_ms - r->g.started_ms;
        save_step(m, a, a->revision,
                  json_pack("{s:s,s:I,s:I}", "outcome", "succeeded", "finished_ms", (json_int_t)o.now_ms, "took_ms",
                            (json_int_t)took),
                  0, NULL);
        log_json(LOG_INFO, "rollout done", json_pack("{s:s,s:I,s:s,s:I}", "app", a->name, "revision",
                                                     (json_int_t)a->revision, "strategy",
                                                     rollout_strategy_name(r->policy.strategy), "took_ms",
                                                     (json_int_t)took));
    } else {
        save_step(m, a, 0, NULL, 0, NULL);
    }
    master_reconcile(m);
}

/* After a rollout: the old set goes once it has no replicas (a kept
 * blue-green set once its time is up). */
static void retire_stable(master *m, m_app *a)
{
    m_rollout *r = a->rollout;
    if (r->g.state != ROLLOUT_SUCCEEDED || !r->stable) return;
    if (r->stable->wanted && now_ms() >= r->g.switched_ms + r->policy.keep_ms) {
        r->stable->wanted = 0;
        save_step(m, a, 0, NULL, 0, NULL);
        master_reconcile(m);
    }
    if (!r->stable->wanted && !app_placed_total(r->stable)) {
        app_free_copy(r->stable);
        r->stable = NULL;
        save_step(m, a, 0, NULL, 0, NULL);
    }
}

void rollout_tick(master *m)
{
    for (size_t i = 0; i < m->state.napps; i++) {
        m_app *a = &m->state.apps[i];
        if (!a->rollout) continue;
        if (a->rollout->g.state == ROLLOUT_PROGRESSING) step_app(m, a);
        else if (a->rollout->g.state == ROLLOUT_SUCCEEDED) retire_stable(m, a);
    }
}

/* ------------------------------------------------------------ the API */

/* The revision records of app, oldest first. */
static json_t *records(master *m, const char *app, char *why, size_t whylen)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "revisions/%s/", app);
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, prefix, 0, &range, &st)) {
        snprintf(why, whylen, "cannot read %s: %s", prefix, st.message);
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < range.count; i++) {
        json_t *rec = json_loadb((const char *)range.kvs[i].value, range.kvs[i].value_len, 0, NULL);
        if (json_is_object(rec)) json_array_append(list, rec);
        json_decref(rec);
    }
    store_range_free(&range);
    return list;
}

void rollout_history(master *m, http_exchange *x, const char *app)
{
    m_app *a = state_app(&m->state, app);
    if (!a) {
        http_respond_json_error(x, 404, "no app '%s'", app);
        return;
    }
    char why[400];
    json_t *list = records(m, app, why, sizeof why);
    if (!list) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(list, i, rec) {
        json_object_del(rec, "policy");
        json_object_set_new(rec, "current", json_boolean(json_integer_value(json_object_get(rec, "revision")) ==
                                                         a->revision));
    }
    http_respond_json(x, 200, json_pack("{s:s,s:I,s:o}", "app", app, "revision", (json_int_t)a->revision,
                                        "revisions", list));
}

/* The revision undo goes back to: to (when given), else the latest one
 * before the current that did not fail. Its record in *record. */
static int64_t undo_target(master *m, m_app *a, int64_t to, json_t **record, char *why, size_t whylen)
{
    json_t *list = records(m, a->name, why, whylen);
    if (!list) return -1;
    int64_t found = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(list, i, rec) {
        int64_t n = json_integer_value(json_object_get(rec, "revision"));
        const char *outcome = json_string_value(json_object_get(rec, "outcome"));
        bool good = !outcome || (strcmp(outcome, "rolled_back") && strcmp(outcome, "aborted") &&
                                 strcmp(outcome, "failed"));
        if (to ? n == to : (n < a->revision && good && n > found)) {
            found = n;
            json_decref(*record);
            *record = json_incref(rec);
        }
    }
    json_decref(list);
    if (!found) {
        if (to) snprintf(why, whylen, "%s has no revision %lld (see `qyv cluster rollout history %s`)", a->name,
                         (long long)to, a->name);
        else snprintf(why, whylen, "%s has no earlier revision to go back to", a->name);
    }
    return found;
}

/* POST .../rollout/undo {"revision":N}: back to revision N (or the one
 * before): while a rollout moves, an abort; after one, a rollout to N's
 * bundle and overrides, at once when N's set still runs (blue-green). */
static void undo(master *m, http_exchange *x, m_app *a, const http_request *req)
{
    if (unsettled(a)) {
        roll_back(m, a, ROLLOUT_ABORTED, "undone by the user");
        http_respond_json(x, 200, app_status(m, a));
        return;
    }
    json_int_t to = 0;
    if (req->body_len) {
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        json_t *v = json_object_get(body, "revision");
        to = json_is_integer(v) ? json_integer_value(v) : json_is_object(body) && !v ? 0 : -1;
        json_decref(body);
        if (to < 0) {
            http_respond_json_error(x, 400, "give {\"revision\": N} with N a revision number (or {} for the one before)");
            return;
        }
    }
    char why[1024], dir[800];
    json_t *record = NULL;
    int64_t target = undo_target(m, a, to, &record, why, sizeof why);
    if (target <= 0) {
        http_respond_json_error(x, target < 0 ? 500 : 404, "%s", why);
        return;
    }
    if (target == a->revision) {
        json_decref(record);
        http_respond_json_error(x, 400, "%s runs revision %lld already", a->name, (long long)target);
        return;
    }
    const char *digest = json_string_value(json_object_get(record, "digest"));
    const char *manifest = json_string_value(json_object_get(record, "manifest"));
    json_t *overrides = json_object_get(record, "overrides");
    snprintf(dir, sizeof dir, "%s/%s", m->bundles_dir, digest ? digest : "-");
    m_app probe;
    memset(&probe, 0, sizeof probe);
    probe.nodes = json_array();
    struct stat st;
    rollout_policy policy;
    int status = 400;
    bool ok = digest && manifest && json_is_object(overrides) && stat(dir, &st) == 0;
    if (!ok) snprintf(why, sizeof why, "revision %lld's bundle is no longer on the master", (long long)target);
    else ok = check_app(dir, manifest, overrides, &probe, why, sizeof why) &&
              policy_for(dir, manifest, NULL, &policy, &status, why, sizeof why);
    if (ok) {
        snprintf(probe.digest, sizeof probe.digest, "%s", digest);
        snprintf(probe.manifest, sizeof probe.manifest, "%s", manifest);
        json_decref(probe.overrides);
        probe.overrides = json_deep_copy(overrides);
        probe.revision = target;
        m_app *kept = a->rollout ? a->rollout->stable : NULL;
        if (kept && kept->revision == target) {
            /* Its set still runs (blue-green keeps it): switch back to it
             * as soon as it is seen ready, which it is. */
            json_decref(probe.placement);
            probe.placement = json_deep_copy(kept->placement);
            policy.strategy = ROLLOUT_BLUE_GREEN;
            policy.manual = false;
        }
        if (a->rollout && a->rollout->stable && !probe.placement) {
            app_free_copy(a->rollout->stable);
            a->rollout->stable = NULL;
        }
        if (!probe.placement) probe.placement = json_object();
        /* begin() frees the last rollout, and with it a kept set. */
        ok = begin(m, a, &probe, target, &policy, "restored", why, sizeof why);
        status = 500;
    }
    json_decref(probe.overrides);
    json_decref(probe.nodes);
    json_decref(probe.placement);
    free(probe.pending);
    json_decref(record);
    if (!ok) {
        http_respond_json_error(x, status, "%s", why);
        return;
    }
    master_reconcile(m);
    http_respond_json(x, 200, app_status(m, a));
}

void rollout_api(master *m, http_exchange *x, const http_request *req, const char *app, const char *action)
{
    m_app *a = state_app(&m->state, app);
    if (!a) {
        http_respond_json_error(x, 404, "no app '%s'", app);
        return;
    }
    if (!action) {
        http_respond_json(x, 200, app_status(m, a));
        return;
    }
    if (!strcmp(action, "undo")) {
        undo(m, x, a, req);
        return;
    }
    m_rollout *r = a->rollout;
    bool known = !strcmp(action, "pause") || !strcmp(action, "resume") || !strcmp(action, "promote") ||
                 !strcmp(action, "abort");
    if (!known) {
        http_respond_json_error(x, 404, "no rollout action '%.40s' (pause, resume, promote, abort, undo)", action);
        return;
    }
    if (!strcmp(action, "abort") ? !unsettled(a) : !rollout_active(a)) {
        http_respond_json_error(x, 409, "%s has no rollout under way%s%s", app, r ? "; the last one " : "",
                                r ? rollout_state_name(r->g.state) : "");
        return;
    }
    if (!strcmp(action, "abort")) {
        roll_back(m, a, ROLLOUT_ABORTED, "aborted by the user");
    } else if (!strcmp(action, "promote")) {
        if (r->g.state == ROLLOUT_PAUSED) r->g.state = ROLLOUT_PROGRESSING;
        r->promote = true;
        step_app(m, a);
    } else {
        rollout_state next = !strcmp(action, "pause") ? ROLLOUT_PAUSED : ROLLOUT_PROGRESSING;
        if (r->g.state != next) {
            r->g.state = next;
            r->g.progress_ms = now_ms(); /* the deadline counts from the resume */
            save_step(m, a, 0, NULL, 0, NULL);
            log_json(LOG_INFO, next == ROLLOUT_PAUSED ? "rollout paused" : "rollout resumed",
                     json_pack("{s:s,s:I}", "app", app, "revision", (json_int_t)a->revision));
        }
    }
    http_respond_json(x, 200, app_status(m, a));
}
