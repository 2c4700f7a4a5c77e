/*
 * test_rollout_plan.c — the rollout state machine (src/cluster/rollout_plan.h)
 * on a simulated cluster: replicas asked for become ready one step later,
 * and each strategy is checked step by step (the surge and availability
 * bounds of rolling, blue-green's switch, canary's weights and pauses),
 * then the failures (errors, latency, progress deadline) and the policy's
 * JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/rollout_plan.h"

/* A cluster where what is wanted is ready one step later. */
typedef struct sim {
    rollout_policy p;
    rollout_progress g;
    rollout_observed o;
    char why[300];
} sim;

static void sim_start(sim *s, rollout_strategy strategy, uint32_t target, uint32_t old)
{
    memset(s, 0, sizeof *s);
    rollout_policy_default(&s->p);
    s->p.strategy = strategy;
    rollout_start(&s->p, &s->g, target, old, 1000);
    s->o.now_ms = 1000;
    s->o.old_ready = old;
}

/* One step, dt_ms later; then the replicas wanted become ready (those
 * removed go at once, as a node stops them). */
static rollout_verdict sim_step(sim *s, uint64_t dt_ms)
{
    s->o.now_ms += dt_ms;
    rollout_verdict v = rollout_step(&s->p, &s->g, &s->o, s->why, sizeof s->why);
    s->o.promote = false;
    if (s->o.old_ready > s->g.old_wanted) s->o.old_ready = s->g.old_wanted;
    s->o.new_ready = s->g.new_wanted;
    return v;
}

static void rolling_keeps_its_bounds(void **state)
{
    (void)state;
    static const struct {
        uint32_t target, old, surge, unavailable;
        bool surge_pct, unavailable_pct;
    } cases[] = {
        {10, 10, 25, 0, true, false}, /* the defaults: 3 extra, none missing */
        {10, 10, 0, 2, false, false}, /* no extra, 2 missing */
        {10, 10, 0, 0, false, false}, /* both 0: a surge of 1 */
        {4, 10, 1, 0, false, false},  /* fewer replicas in the new revision */
        {10, 3, 25, 25, true, true},  /* more */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        sim s;
        sim_start(&s, ROLLOUT_ROLLING, cases[c].target, cases[c].old);
        s.p.max_surge = cases[c].surge, s.p.surge_percent = cases[c].surge_pct;
        s.p.max_unavailable = cases[c].unavailable, s.p.unavailable_percent = cases[c].unavailable_pct;
        uint32_t w = cases[c].target;
        uint32_t surge = cases[c].surge_pct ? (w * cases[c].surge + 99) / 100 : cases[c].surge;
        uint32_t unavailable = cases[c].unavailable_pct ? w * cases[c].unavailable / 100 : cases[c].unavailable;
        if (!surge && !unavailable) surge = 1;
        rollout_verdict v = ROLLOUT_WAIT;
        int steps = 0;
        while (v != ROLLOUT_DONE && steps++ < 100) {
            v = sim_step(&s, 100);
            assert_int_not_equal(v, ROLLOUT_FAIL);
            uint32_t running = s.g.new_wanted + s.g.old_wanted;
            assert_true(running <= (cases[c].old > w ? cases[c].old : w) + surge);
            if (cases[c].old >= w) assert_true(s.o.new_ready + s.o.old_ready >= w - unavailable);
        }
        assert_int_equal(v, ROLLOUT_DONE);
        assert_int_equal(s.g.new_wanted, w);
        assert_int_equal(s.g.old_wanted, 0);
        assert_int_equal(s.g.weight, 100);
        assert_true(steps < 30);
    }
}

static void blue_green_switches_at_once(void **state)
{
    (void)state;
    sim s;
    sim_start(&s, ROLLOUT_BLUE_GREEN, 10, 10);
    assert_int_equal(sim_step(&s, 100), ROLLOUT_CHANGED); /* the whole new set is asked for */
    assert_int_equal(s.g.new_wanted, 10);
    assert_int_equal(s.g.old_wanted, 10);
    uint32_t nw, ow;
    rollout_split(&s.p, &s.g, 10, 10, &nw, &ow);
    assert_int_equal(nw, 0); /* ready, but not switched yet */
    assert_int_equal(sim_step(&s, 100), ROLLOUT_DONE);
    assert_true(s.g.switched);
    assert_int_equal(s.g.switched_ms, 1200);
    assert_int_equal(s.g.old_wanted, 10); /* kept, for going back at once */
    rollout_split(&s.p, &s.g, 10, 10, &nw, &ow);
    assert_int_equal(nw, 100);
    assert_int_equal(ow, 0);
    /* Manual: ready is not enough, promote switches. */
    sim_start(&s, ROLLOUT_BLUE_GREEN, 4, 4);
    s.p.manual = true;
    sim_step(&s, 100);
    assert_int_equal(sim_step(&s, 100), ROLLOUT_WAIT);
    assert_false(s.g.switched);
    s.o.promote = true;
    assert_int_equal(sim_step(&s, 100), ROLLOUT_DONE);
}

static void canary_moves_by_steps(void **state)
{
    (void)state;
    sim s;
    sim_start(&s, ROLLOUT_CANARY, 10, 10);
    s.p.pause_ms = 1000;
    uint32_t nw, ow;
    assert_int_equal(sim_step(&s, 100), ROLLOUT_CHANGED);
    assert_int_equal(s.g.new_wanted, 1); /* 10% of 10 */
    rollout_split(&s.p, &s.g, 0, 10, &nw, &ow);
    assert_int_equal(nw, 0); /* no traffic before its replica is ready */
    assert_int_equal(sim_step(&s, 100), ROLLOUT_CHANGED);
    assert_int_equal(s.g.weight, 10);
    rollout_split(&s.p, &s.g, 1, 10, &nw, &ow);
    assert_int_equal(nw, 10);
    assert_int_equal(ow, 90);
    assert_int_equal(sim_step(&s, 500), ROLLOUT_WAIT); /* pausing */
    assert_int_equal(sim_step(&s, 500), ROLLOUT_CHANGED); /* to 50% */
    assert_int_equal(s.g.step, 1);
    assert_int_equal(s.g.new_wanted, 5);
    assert_int_equal(s.g.weight, 10); /* until the 5 are ready */
    sim_step(&s, 100);
    assert_int_equal(s.g.weight, 50);
    assert_int_equal(s.g.old_wanted, 10); /* the stable set stays whole */
    /* Manual from here: only promote moves it. */
    s.p.manual = true;
    assert_int_equal(sim_step(&s, 60000), ROLLOUT_WAIT);
    s.o.promote = true;
    sim_step(&s, 100);
    assert_int_equal(s.g.step, 2);
    assert_int_equal(s.g.new_wanted, 10);
    assert_int_equal(sim_step(&s, 100), ROLLOUT_DONE);
    assert_int_equal(s.g.weight, 100);
    assert_int_equal(s.g.old_wanted, 0);
}

static void failures_are_named(void **state)
{
    (void)state;
    sim s;
    sim_start(&s, ROLLOUT_CANARY, 10, 10);
    sim_step(&s, 100);
    sim_step(&s, 100);
    /* 5xx: not before min_requests, then over the stable's rate. */
    s.o.new_counts = (rollout_counts){19, 19, 0.1};
    s.o.old_counts = (rollout_counts){200, 0, 1};
    assert_int_not_equal(sim_step(&s, 10), ROLLOUT_FAIL);
    s.o.new_counts = (rollout_counts){40, 12, 0.2};
    assert_int_equal(sim_step(&s, 10), ROLLOUT_FAIL);
    assert_non_null(strstr(s.why, "30.0%"));
    /* As bad as the stable one: not the new revision's fault. */
    s.o.old_counts = (rollout_counts){200, 60, 1};
    assert_int_not_equal(sim_step(&s, 10), ROLLOUT_FAIL);
    /* Latency, when bounded. */
    s.o.new_counts = (rollout_counts){40, 0, 40 * 0.8};
    s.o.old_counts = (rollout_counts){200, 0, 200 * 0.01};
    assert_int_not_equal(sim_step(&s, 10), ROLLOUT_FAIL);
    s.p.max_latency_ms = 500;
    assert_int_equal(sim_step(&s, 10), ROLLOUT_FAIL);
    assert_non_null(strstr(s.why, "latency"));
    /* New replicas failing their health checks: at once, not at the deadline. */
    sim_start(&s, ROLLOUT_BLUE_GREEN, 10, 10);
    sim_step(&s, 100);
    s.o.new_ready = 0;
    s.o.new_unhealthy = 2;
    assert_int_equal(rollout_step(&s.p, &s.g, &s.o, s.why, sizeof s.why), ROLLOUT_FAIL);
    assert_non_null(strstr(s.why, "health checks"));
    assert_non_null(strstr(s.why, "2 nodes"));
    /* One node's failures while others' new replicas are ready: a slow
     * node, not a bad release (the deadline still watches). */
    sim_start(&s, ROLLOUT_BLUE_GREEN, 10, 10);
    sim_step(&s, 100);
    s.o.new_ready = 6;
    s.o.new_unhealthy = 1;
    assert_int_not_equal(rollout_step(&s.p, &s.g, &s.o, s.why, sizeof s.why), ROLLOUT_FAIL);
    /* The progress deadline: new replicas that never get ready. */
    sim_start(&s, ROLLOUT_ROLLING, 10, 10);
    s.p.progress_deadline_ms = 5000;
    rollout_verdict v = ROLLOUT_WAIT;
    for (int i = 0; i < 60 && v != ROLLOUT_FAIL; i++) {
        v = rollout_step(&s.p, &s.g, &s.o, s.why, sizeof s.why);
        s.o.now_ms += 100;
    }
    assert_int_equal(v, ROLLOUT_FAIL);
    assert_true(s.o.now_ms >= 6000 && s.o.now_ms <= 6200);
    assert_non_null(strstr(s.why, "0 of 3 new replicas ready"));
    /* Paused: nothing moves, no deadline. */
    sim_start(&s, ROLLOUT_ROLLING, 10, 10);
    s.g.state = ROLLOUT_PAUSED;
    assert_int_equal(sim_step(&s, 10000000), ROLLOUT_WAIT);
    assert_int_equal(s.g.new_wanted, 0);
}

static void policy_from_json(void **state)
{
    (void)state;
    rollout_policy p;
    rollout_policy_default(&p);
    char why[400];
    json_t *j = json_pack("{s:s,s:s,s:i,s:[i,i,i,i],s:b,s:f}", "strategy", "canary", "max_surge", "50%",
                          "max_unavailable", 1, "steps", 5, 20, 60, 100, "rollback_on_failure", 1, "max_error_rate",
                          2.5);
    assert_true(rollout_policy_apply_json(&p, j, why, sizeof why));
    json_decref(j);
    assert_int_equal(p.strategy, ROLLOUT_CANARY);
    assert_int_equal(p.max_surge, 50);
    assert_true(p.surge_percent);
    assert_int_equal(p.max_unavailable, 1);
    assert_false(p.unavailable_percent);
    assert_int_equal(p.nsteps, 4);
    assert_int_equal(p.steps[1], 20);
    assert_true(p.rollback_on_failure);
    /* Round trip. */
    rollout_policy q;
    rollout_policy_default(&q);
    json_t *back = rollout_policy_to_json(&p);
    assert_true(rollout_policy_apply_json(&q, back, why, sizeof why));
    json_decref(back);
    assert_int_equal(q.strategy, p.strategy);
    assert_int_equal(q.nsteps, p.nsteps);
    assert_int_equal(q.max_surge, p.max_surge);
    assert_true(q.surge_percent);
    /* Refused, each naming what is wrong, and p unchanged. */
    static const char *const bad[] = {
        "{\"strategy\":\"big_bang\"}", "{\"steps\":[10,50]}", "{\"steps\":[50,10,100]}",
        "{\"max_surge\":\"150%\"}", "{\"surprise\":1}", "{\"progress_deadline_ms\":5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        assert_non_null(b);
        assert_false(rollout_policy_apply_json(&p, b, why, sizeof why));
        assert_true(strstr(why, "rollout") != NULL);
        json_decref(b);
    }
    assert_int_equal(p.strategy, ROLLOUT_CANARY);
    rollout_strategy s;
    assert_true(rollout_strategy_parse("blue-green", &s));
    assert_int_equal(s, ROLLOUT_BLUE_GREEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rolling_keeps_its_bounds),
        cmocka_unit_test(blue_green_switches_at_once),
        cmocka_unit_test(canary_moves_by_steps),
        cmocka_unit_test(failures_are_named),
        cmocka_unit_test(policy_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
