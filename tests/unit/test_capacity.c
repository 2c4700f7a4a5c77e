/*
 * test_capacity.c — a node's capacity (src/cluster/capacity.h): the
 * --capacity text, /proc/meminfo, and detection filling what is not given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/capacity.h"

static void parses_memory_and_cpu(void **state)
{
    (void)state;
    node_capacity c;
    char why[200];
    assert_true(capacity_parse("memory=4GiB,cpu=2", &c, why, sizeof why));
    assert_int_equal(c.memory, 4ull << 30);
    assert_int_equal(c.cpu, 2000);
    assert_true(capacity_parse("cpu=500m", &c, why, sizeof why));
    assert_int_equal(c.memory, 0);
    assert_int_equal(c.cpu, 500);
    assert_true(capacity_parse("memory=512MiB", &c, why, sizeof why));
    assert_int_equal(c.memory, 512ull << 20);
    assert_int_equal(c.cpu, 0);
    assert_true(capacity_parse("cpu=1.5,memory=1G", &c, why, sizeof why));
    assert_int_equal(c.cpu, 1500);
    assert_int_equal(c.memory, 1000000000ull);
}

static void refuses_bad_text(void **state)
{
    (void)state;
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "empty"},
        {"memory", "not KEY=VALUE"},
        {"disk=1G", "unknown capacity 'disk'"},
        {"memory=lots", "memory 'lots'"},
        {"memory=0", "more than 0"},
        {"cpu=0", "cpu '0'"},
        {"cpu=2,memory=1m", "memory '1m'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        node_capacity c = {7, 7};
        char why[200] = "";
        assert_false(capacity_parse(bad[i].text, &c, why, sizeof why));
        if (!strstr(why, bad[i].says)) fail_msg("'%s': '%s' does not say '%s'", bad[i].text, why, bad[i].says);
        assert_int_equal(c.memory, 7); /* untouched */
    }
}

static void reads_meminfo(void **state)
{
    (void)state;
    uint64_t bytes = 0;
    assert_true(capacity_meminfo("MemTotal:       24684352 kB\nMemFree:        21845060 kB\n", &bytes));
    assert_int_equal(bytes, 24684352ull * 1024);
    assert_true(capacity_meminfo("Other: 1 kB\nMemTotal: 2048 kB\n", &bytes));
    assert_int_equal(bytes, 2048ull * 1024);
    assert_false(capacity_meminfo("MemFree: 1 kB\n", &bytes));
}

static void detects_what_is_not_given(void **state)
{
    (void)state;
    node_capacity c = {0, 0};
    capacity_detect(&c);
    assert_true(c.memory > 0);
    assert_true(c.cpu >= 1000 && c.cpu % 1000 == 0);
    node_capacity given = {123, 456};
    capacity_detect(&given);
    assert_int_equal(given.memory, 123);
    assert_int_equal(given.cpu, 456);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_memory_and_cpu),
        cmocka_unit_test(refuses_bad_text),
        cmocka_unit_test(reads_meminfo),
        cmocka_unit_test(detects_what_is_not_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
