/*
 * test_autoscale.c — the autoscaler's decision (src/cluster/autoscale.h):
 * the HPA rule, its bounds and tolerance, scaling up at once and down only
 * after the stabilisation window, and the checks of a spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/autoscale.h"

static const autoscale_spec spec = {.min = 2, .max = 10, .cpu_threshold = 80, .window_ms = -1};

/* Only CPU measured. */
static autoscale_observed cpu(double percent) { return (autoscale_observed){percent, -1}; }

static void rule_scales_by_the_ratio(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(160), NULL), 8);  /* twice the target: twice the replicas */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(100), NULL), 5);  /* ceil(4 × 1.25) */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(40), NULL), 2);   /* half */
    assert_int_equal(autoscale_recommend(&spec, 6, cpu(50), NULL), 4);   /* ceil(3.75) */
    assert_int_equal(autoscale_recommend(&spec, 3, cpu(80), NULL), 3);   /* on target */
}

static void rule_keeps_within_bounds(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(400), NULL), 10); /* 20 wanted, max 10 */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(0), NULL), 2);    /* idle: min */
    assert_int_equal(autoscale_recommend(&spec, 1, cpu(80), NULL), 2);   /* below min, on target: min */
    assert_int_equal(autoscale_recommend(&spec, 12, cpu(80), NULL), 10); /* above max: max */
}

static void rule_tolerates_ten_percent(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(87), NULL), 4);   /* ratio 1.0875: within 10% */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(73), NULL), 4);   /* ratio 0.9125 */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(89), NULL), 5);   /* ratio 1.1125: out */
    assert_int_equal(autoscale_recommend(&spec, 4, cpu(71), NULL), 4);   /* ratio 0.8875: ceil(3.55) = 4 */
    assert_int_equal(autoscale_recommend(&spec, 10, cpu(71), NULL), 9);  /* ceil(8.875) */
}

static void up_at_once_down_after_the_window(void **state)
{
    (void)state;
    autoscale_history h = {0};
    const uint64_t window = 3000;
    /* Load comes: up at once. */
    assert_int_equal(autoscale_decide(&h, &spec, 0, window, 2, cpu(240), NULL), 6);
    /* It stops: the window holds the 6 for 3 s. */
    assert_int_equal(autoscale_decide(&h, &spec, 1000, window, 6, cpu(0), NULL), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 2000, window, 6, cpu(0), NULL), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 3000, window, 6, cpu(0), NULL), 6);
    /* The recommendation of 6 left the window: down to min. */
    assert_int_equal(autoscale_decide(&h, &spec, 3001, window, 6, cpu(0), NULL), 2);
    assert_int_equal(autoscale_decide(&h, &spec, 4000, window, 2, cpu(0), NULL), 2);
}

static void down_to_the_highest_in_the_window(void **state)
{
    (void)state;
    autoscale_history h = {0};
    const uint64_t window = 3000;
    assert_int_equal(autoscale_decide(&h, &spec, 0, window, 10, cpu(80), NULL), 10);  /* on target */
    assert_int_equal(autoscale_decide(&h, &spec, 1000, window, 10, cpu(56), NULL), 10); /* 7 wanted: held */
    assert_int_equal(autoscale_decide(&h, &spec, 2000, window, 10, cpu(40), NULL), 10); /* 5 wanted: held */
    /* The 10 left the window; 7 is now the highest, then 5, then the 3. */
    assert_int_equal(autoscale_decide(&h, &spec, 3500, window, 10, cpu(24), NULL), 7);
    assert_int_equal(autoscale_decide(&h, &spec, 4500, window, 7, cpu(0), NULL), 5);
    assert_int_equal(autoscale_decide(&h, &spec, 5500, window, 5, cpu(0), NULL), 3);
    /* A burst in the middle of a calm goes up at once, and is then held. */
    assert_int_equal(autoscale_decide(&h, &spec, 6000, window, 3, cpu(160), NULL), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 7000, window, 6, cpu(0), NULL), 6);
    /* Without a window, down at once. */
    autoscale_history none = {0};
    assert_int_equal(autoscale_decide(&none, &spec, 0, 0, 8, cpu(80), NULL), 8);
    assert_int_equal(autoscale_decide(&none, &spec, 1, 0, 8, cpu(40), NULL), 4);
}

static void history_stays_bounded(void **state)
{
    (void)state;
    autoscale_spec wide = {.min = 1, .max = 10000, .cpu_threshold = 100, .window_ms = -1};
    autoscale_history h = {0};
    /* Ever lower recommendations, far more than the history holds. */
    uint32_t current = 10000;
    for (uint64_t t = 0; t < 1000; t++) {
        uint32_t got = autoscale_decide(&h, &wide, t, 1u << 30, current, cpu(100.0 * (10000 - t) / 10000 * 0.5), NULL);
        assert_true(got <= current);
        assert_true(h.n <= AUTOSCALE_HISTORY);
    }
}

/* Requests in flight per replica as the signal, alone or beside CPU: the
 * larger answer wins; a signal not measured yet is left out. */
static void inflight_signal(void **state)
{
    (void)state;
    const autoscale_spec both = {.min = 1, .max = 20, .cpu_threshold = 50, .target_inflight = 2, .window_ms = -1};
    autoscale_decision d;
    /* 4 replicas with 6 in flight each: ceil(4 × 6 / 2) = 12. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){-1, 6}, &d), 12);
    assert_int_equal(d.signal, AUTOSCALE_INFLIGHT);
    /* CPU asks for 8, in flight for 12: 12. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){100, 6}, &d), 12);
    assert_int_equal(d.signal, AUTOSCALE_INFLIGHT);
    /* CPU asks for 8, in flight for 2: 8. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){100, 1}, &d), 8);
    assert_int_equal(d.signal, AUTOSCALE_CPU);
    /* Within the tolerance (2.2 / 2 = 1.1): kept. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){-1, 2.2}, &d), 4);
    assert_true(d.tolerated);
    /* Idle: down to min; nothing measured: kept as it is. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){0, 0}, &d), 1);
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){-1, -1}, &d), 4);
    assert_int_equal(d.signal, AUTOSCALE_NO_SIGNAL);
    /* Clamped to max. */
    assert_int_equal(autoscale_recommend(&both, 4, (autoscale_observed){-1, 100}, &d), 20);
    /* CPU not a target: its measure is ignored. */
    const autoscale_spec inflight_only = {.min = 1, .max = 20, .target_inflight = 2, .window_ms = -1};
    assert_int_equal(autoscale_recommend(&inflight_only, 4, (autoscale_observed){400, 2}, &d), 4);
}

/* A fresh history holds the count it starts with for a whole window: an
 * app turned on at 5 replicas while idle stays at 5 that long. */
static void a_start_holds_a_window(void **state)
{
    (void)state;
    autoscale_history h = {0};
    autoscale_start(&h, 0, 5);
    autoscale_start(&h, 500, 9); /* not empty any more: no effect */
    assert_int_equal(autoscale_decide(&h, &spec, 1000, 3000, 5, cpu(0), NULL), 5);
    assert_int_equal(autoscale_decide(&h, &spec, 3000, 3000, 5, cpu(0), NULL), 5);
    assert_int_equal(autoscale_decide(&h, &spec, 3001, 3000, 5, cpu(0), NULL), 2);
}

static void decisions_are_explained(void **state)
{
    (void)state;
    const autoscale_spec s = {.min = 1, .max = 8, .target_inflight = 1, .window_ms = -1};
    autoscale_history h = {0};
    autoscale_decision d;
    char why[300];
    autoscale_decide(&h, &s, 0, 5000, 1, (autoscale_observed){-1, 3}, &d);
    autoscale_explain(&d, 5000, why, sizeof why);
    assert_string_equal(why, "1 -> 3: 3.00 requests in flight per replica, target 1");
    autoscale_decide(&h, &s, 1000, 5000, 3, (autoscale_observed){-1, 0}, &d);
    assert_true(d.held);
    autoscale_explain(&d, 5000, why, sizeof why);
    assert_string_equal(why, "3 kept: 0.00 requests in flight per replica, target 1 asks for 1, but scaling down "
                             "waits for the 5s window");
    autoscale_decide(&h, &s, 6001, 5000, 3, (autoscale_observed){-1, 0}, &d);
    assert_false(d.held);
    assert_int_equal(d.replicas, 1);
}

static void specs_are_checked(void **state)
{
    (void)state;
    assert_null(autoscale_spec_problem(&spec));
    assert_string_equal(autoscale_spec_problem(&(autoscale_spec){5, 2, 80, 0, -1}), "min must not be more than max");
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){0, 2, 80, 0, -1}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 2, 0, 0, -1}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 2, 101, 0, -1}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 10001, 50, 0, -1}));
    assert_null(autoscale_spec_problem(&(autoscale_spec){3, 3, 100, 0, -1}));
    /* In flight alone is a target; neither is not; nor a window over a day. */
    assert_null(autoscale_spec_problem(&(autoscale_spec){1, 4, 0, 2, 0}));
    assert_non_null(strstr(autoscale_spec_problem(&(autoscale_spec){1, 4, 0, 0, -1}), "give a target"));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 4, 0, 100001, -1}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 4, 50, 0, 86400001}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_scales_by_the_ratio),
        cmocka_unit_test(rule_keeps_within_bounds),
        cmocka_unit_test(rule_tolerates_ten_percent),
        cmocka_unit_test(up_at_once_down_after_the_window),
        cmocka_unit_test(down_to_the_highest_in_the_window),
        cmocka_unit_test(history_stays_bounded),
        cmocka_unit_test(inflight_signal),
        cmocka_unit_test(a_start_holds_a_window),
        cmocka_unit_test(decisions_are_explained),
        cmocka_unit_test(specs_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
