/*
 * test_autoscale.c — the autoscaler's decision (src/cluster/autoscale.h):
 * the HPA rule, its bounds and tolerance, scaling up at once and down only
 * after the stabilisation window, and the checks of a spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cluster/autoscale.h"

static const autoscale_spec spec = {.min = 2, .max = 10, .cpu_threshold = 80};

static void rule_scales_by_the_ratio(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, 160), 8);  /* twice the target: twice the replicas */
    assert_int_equal(autoscale_recommend(&spec, 4, 100), 5);  /* ceil(4 × 1.25) */
    assert_int_equal(autoscale_recommend(&spec, 4, 40), 2);   /* half */
    assert_int_equal(autoscale_recommend(&spec, 6, 50), 4);   /* ceil(3.75) */
    assert_int_equal(autoscale_recommend(&spec, 3, 80), 3);   /* on target */
}

static void rule_keeps_within_bounds(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, 400), 10); /* 20 wanted, max 10 */
    assert_int_equal(autoscale_recommend(&spec, 4, 0), 2);    /* idle: min */
    assert_int_equal(autoscale_recommend(&spec, 1, 80), 2);   /* below min, on target: min */
    assert_int_equal(autoscale_recommend(&spec, 12, 80), 10); /* above max: max */
}

static void rule_tolerates_ten_percent(void **state)
{
    (void)state;
    assert_int_equal(autoscale_recommend(&spec, 4, 87), 4);   /* ratio 1.0875: within 10% */
    assert_int_equal(autoscale_recommend(&spec, 4, 73), 4);   /* ratio 0.9125 */
    assert_int_equal(autoscale_recommend(&spec, 4, 89), 5);   /* ratio 1.1125: out */
    assert_int_equal(autoscale_recommend(&spec, 4, 71), 4);   /* ratio 0.8875: ceil(3.55) = 4 */
    assert_int_equal(autoscale_recommend(&spec, 10, 71), 9);  /* ceil(8.875) */
}

static void up_at_once_down_after_the_window(void **state)
{
    (void)state;
    autoscale_history h = {0};
    const uint64_t window = 3000;
    /* Load comes: up at once. */
    assert_int_equal(autoscale_decide(&h, &spec, 0, window, 2, 240), 6);
    /* It stops: the window holds the 6 for 3 s. */
    assert_int_equal(autoscale_decide(&h, &spec, 1000, window, 6, 0), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 2000, window, 6, 0), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 3000, window, 6, 0), 6);
    /* The recommendation of 6 left the window: down to min. */
    assert_int_equal(autoscale_decide(&h, &spec, 3001, window, 6, 0), 2);
    assert_int_equal(autoscale_decide(&h, &spec, 4000, window, 2, 0), 2);
}

static void down_to_the_highest_in_the_window(void **state)
{
    (void)state;
    autoscale_history h = {0};
    const uint64_t window = 3000;
    assert_int_equal(autoscale_decide(&h, &spec, 0, window, 10, 80), 10);  /* on target */
    assert_int_equal(autoscale_decide(&h, &spec, 1000, window, 10, 56), 10); /* 7 wanted: held */
    assert_int_equal(autoscale_decide(&h, &spec, 2000, window, 10, 40), 10); /* 5 wanted: held */
    /* The 10 left the window; 7 is now the highest, then 5, then the 3. */
    assert_int_equal(autoscale_decide(&h, &spec, 3500, window, 10, 24), 7);
    assert_int_equal(autoscale_decide(&h, &spec, 4500, window, 7, 0), 5);
    assert_int_equal(autoscale_decide(&h, &spec, 5500, window, 5, 0), 3);
    /* A burst in the middle of a calm goes up at once, and is then held. */
    assert_int_equal(autoscale_decide(&h, &spec, 6000, window, 3, 160), 6);
    assert_int_equal(autoscale_decide(&h, &spec, 7000, window, 6, 0), 6);
    /* Without a window, down at once. */
    autoscale_history none = {0};
    assert_int_equal(autoscale_decide(&none, &spec, 0, 0, 8, 80), 8);
    assert_int_equal(autoscale_decide(&none, &spec, 1, 0, 8, 40), 4);
}

static void history_stays_bounded(void **state)
{
    (void)state;
    autoscale_spec wide = {.min = 1, .max = 10000, .cpu_threshold = 100};
    autoscale_history h = {0};
    /* Ever lower recommendations, far more than the history holds. */
    uint32_t current = 10000;
    for (uint64_t t = 0; t < 1000; t++) {
        uint32_t got = autoscale_decide(&h, &wide, t, 1u << 30, current, 100.0 * (10000 - t) / 10000 * 0.5);
        assert_true(got <= current);
        assert_true(h.n <= AUTOSCALE_HISTORY);
    }
}

static void specs_are_checked(void **state)
{
    (void)state;
    assert_null(autoscale_spec_problem(&spec));
    assert_string_equal(autoscale_spec_problem(&(autoscale_spec){5, 2, 80}), "min must not be more than max");
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){0, 2, 80}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 2, 0}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 2, 101}));
    assert_non_null(autoscale_spec_problem(&(autoscale_spec){1, 10001, 50}));
    assert_null(autoscale_spec_problem(&(autoscale_spec){3, 3, 100}));
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
        cmocka_unit_test(specs_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
