/*
 * test_scheduler.c — the scheduler (src/cluster/scheduler.h) on snapshots
 * built here: spread, fit by memory and CPU, --nodes, shortfall messages,
 * scaling down, down nodes and self-healing, and plans that do not depend
 * on the order of the snapshot's nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/scheduler.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

/* A small cluster to snapshot. */
typedef struct cluster {
    sched_node nodes[32];
    sched_holding holdings[32][8];
    size_t n;
} cluster;

static size_t add_node(cluster *c, const char *name, uint64_t memory, uint64_t millicores)
{
    size_t i = c->n++;
    c->nodes[i] = (sched_node){.name = name, .status = SCHED_NODE_READY, .memory_capacity = memory,
                               .cpu_capacity = millicores, .holdings = c->holdings[i]};
    return i;
}

/* Node i holds n replicas of app, each using memory and millicores. */
static void hold(cluster *c, size_t i, const char *app, uint32_t n, uint64_t memory, uint64_t millicores)
{
    sched_node *node = &c->nodes[i];
    c->holdings[i][node->nholdings++] = (sched_holding){app, n};
    node->memory_used += n * memory;
    node->cpu_used += n * millicores;
}

static sched_snapshot snap(const cluster *c) { return (sched_snapshot){c->nodes, c->n}; }

static sched_plan place(const cluster *c, sched_request req)
{
    sched_snapshot s = snap(c);
    sched_plan plan;
    sched_error err;
    if (!sched_place(&s, &req, &plan, &err))
        fail_msg("%s", err.message);
    return plan;
}

/* "a,b,a": the names of the nodes the new replicas go to. */
static const char *placed(const cluster *c, const sched_plan *p)
{
    static char out[512];
    out[0] = '\0';
    for (uint32_t k = 0; k < p->placed; k++) {
        if (k)
            strcat(out, ",");
        strcat(out, c->nodes[p->place[k]].name);
    }
    return out;
}

/* "a-2 down,b-1 scale": the removals. */
static const char *removed(const cluster *c, const sched_plan *p)
{
    static const char *const why[] = {"scale", "down", "disallowed"};
    static char out[512];
    out[0] = '\0';
    for (size_t k = 0; k < p->nremove; k++) {
        char one[64];
        snprintf(one, sizeof one, "%s%s-%u %s", k ? "," : "", c->nodes[p->remove[k].node].name,
                 p->remove[k].replicas, why[p->remove[k].why]);
        strcat(out, one);
    }
    return out;
}

static sched_request request(const char *app, uint32_t replicas, uint64_t memory, uint64_t millicores)
{
    return (sched_request){.app = app, .replicas = replicas, .memory = memory, .cpu = millicores};
}

/* ---- spread and fit */

static void spreads_across_nodes(void **state)
{
    (void)state;
    cluster c = {0};
    add_node(&c, "c", 8 * GiB, 4000);
    add_node(&c, "a", 8 * GiB, 4000);
    add_node(&c, "b", 8 * GiB, 4000);
    sched_plan p = place(&c, request("web", 7, 256 * MiB, 250));
    assert_true(p.complete);
    assert_int_equal(p.placed, 7);
    assert_int_equal(p.kept, 0);
    /* Fewest replicas of the app first; equal nodes by name. */
    assert_string_equal(placed(&c, &p), "a,b,c,a,b,c,a");
    assert_int_equal(p.nremove, 0);
    sched_plan_free(&p);
}

static void counts_what_nodes_hold(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    add_node(&c, "b", 8 * GiB, 4000);
    add_node(&c, "c", 8 * GiB, 4000);
    hold(&c, a, "web", 2, 256 * MiB, 250);
    hold(&c, a, "other", 1, 1 * GiB, 1000);
    sched_plan p = place(&c, request("web", 5, 256 * MiB, 250));
    assert_true(p.complete);
    assert_int_equal(p.kept, 2);
    assert_string_equal(placed(&c, &p), "b,c,b");
    sched_plan_free(&p);
}

static void least_used_node_first(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    add_node(&c, "c", 16 * GiB, 8000);
    hold(&c, a, "db", 1, 4 * GiB, 500);   /* a: 50% of memory */
    hold(&c, b, "db", 1, 1 * GiB, 3000);  /* b: 75% of cpu */
    /* c (0%) first, then a (50%) before b (75%): the larger fraction of
     * memory and cpu in use counts. */
    sched_plan p = place(&c, request("web", 3, 256 * MiB, 100));
    assert_string_equal(placed(&c, &p), "c,a,b");
    sched_plan_free(&p);
}

static void fits_by_memory_and_cpu(void **state)
{
    (void)state;
    cluster c = {0};
    size_t small = add_node(&c, "small-mem", 1 * GiB, 8000);
    add_node(&c, "small-cpu", 8 * GiB, 400);
    size_t exact = add_node(&c, "exact", 2 * GiB, 2000);
    hold(&c, small, "other", 1, 100 * MiB, 0);
    hold(&c, exact, "other", 1, 1 * GiB, 1500);
    /* Each replica: 1 GiB and 0.5 cpu. Only "exact" has that free, to
     * the byte and the millicore. */
    sched_plan p = place(&c, request("web", 3, 1 * GiB, 500));
    assert_false(p.complete);
    assert_int_equal(p.placed, 1);
    assert_string_equal(placed(&c, &p), "exact");
    assert_string_equal(p.reason, "needs 1 GiB memory and 0.5 cpu per replica; 1 of 3 placed; "
                                  "exact has 0 B memory and 0 cpu free, small-cpu has 0.4 cpu free, "
                                  "small-mem has 924 MiB memory free");
    sched_plan_free(&p);
}

/* ---- shortfalls */

static void shortfall_names_resource_and_nodes(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "node-a", 2 * GiB, 4000);
    size_t b = add_node(&c, "node-b", 8 * GiB, 4000);
    add_node(&c, "node-c", 8 * GiB, 4000);
    hold(&c, a, "other", 1, 2 * GiB - 200 * MiB, 0);
    c.nodes[b].status = SCHED_NODE_DOWN;
    const char *allowed[] = {"node-a", "node-b"};
    sched_request req = request("web", 2, 512 * MiB, 500);
    req.nodes = allowed;
    req.nnodes = 2;
    sched_plan p = place(&c, req);
    assert_false(p.complete);
    assert_int_equal(p.placed, 0);
    assert_string_equal(p.reason, "needs 512 MiB memory and 0.5 cpu per replica; 0 of 2 placed; "
                                  "node-a has 200 MiB memory free, node-b is down, node-c is not in --nodes");
    sched_plan_free(&p);

    /* A name in --nodes that is no node, and cpu alone short. */
    const char *typo[] = {"node-c", "node-x"};
    req = (sched_request){.app = "web", .replicas = 3, .cpu = 1500, .nodes = typo, .nnodes = 2};
    p = place(&c, req);
    assert_int_equal(p.placed, 2);
    assert_string_equal(p.reason, "needs 1.5 cpu per replica; 2 of 3 placed; node-c has 1 cpu free, "
                                  "node-a is not in --nodes, node-b is not in --nodes, node-x is not in the cluster");
    sched_plan_free(&p);
}

static void shortfall_on_many_nodes_is_summed_up(void **state)
{
    (void)state;
    cluster c = {0};
    static char names[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "n%02d", i);
        size_t k = add_node(&c, names[i], 1 * GiB, 1000);
        if (i % 5 == 4)
            c.nodes[k].status = SCHED_NODE_DOWN;
    }
    sched_plan p = place(&c, request("big", 1, 2 * GiB, 100));
    assert_false(p.complete);
    assert_string_equal(p.reason, "needs 2 GiB memory and 0.1 cpu per replica; 0 of 1 placed; "
                                  "n00 has 1 GiB memory free, n01 has 1 GiB memory free, n02 has 1 GiB memory free, "
                                  "n03 has 1 GiB memory free, n05 has 1 GiB memory free, n06 has 1 GiB memory free, "
                                  "n07 has 1 GiB memory free, n08 has 1 GiB memory free, "
                                  "and 12 more (8 short of memory, 4 down)");
    sched_plan_free(&p);

    cluster empty = {0};
    p = place(&empty, request("web", 1, 0, 0));
    assert_string_equal(p.reason, "0 of 1 placed; the cluster has no nodes");
    sched_plan_free(&p);
}

static void units(void **state)
{
    (void)state;
    char s[32];
    const struct {
        uint64_t bytes;
        const char *text;
    } bytes[] = {{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {200 * MiB, "200 MiB"},
                 {1536 * MiB, "1.5 GiB"}, {2 * GiB - 1, "1.9 GiB"}, {3 * GiB + 1, "3 GiB"}};
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
        sched_format_bytes(bytes[i].bytes, s, sizeof s);
        assert_string_equal(s, bytes[i].text);
    }
    const struct {
        uint64_t milli;
        const char *text;
    } cpu[] = {{0, "0 cpu"}, {500, "0.5 cpu"}, {250, "0.25 cpu"}, {1001, "1.001 cpu"}, {16000, "16 cpu"}};
    for (size_t i = 0; i < sizeof cpu / sizeof cpu[0]; i++) {
        sched_format_cpu(cpu[i].milli, s, sizeof s);
        assert_string_equal(s, cpu[i].text);
    }
}

/* ---- --nodes */

static void only_allowed_nodes(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    add_node(&c, "b", 64 * GiB, 32000);
    add_node(&c, "c", 8 * GiB, 4000);
    hold(&c, a, "other", 3, 1 * GiB, 500);
    const char *allowed[] = {"c", "a"};
    sched_request req = request("web", 4, 256 * MiB, 250);
    req.nodes = allowed;
    req.nnodes = 2;
    sched_plan p = place(&c, req);
    assert_true(p.complete);
    assert_string_equal(placed(&c, &p), "c,a,c,a");
    sched_plan_free(&p);
}

static void replicas_leave_nodes_no_longer_allowed(void **state)
{
    (void)state;
    cluster c = {0};
    add_node(&c, "a", 8 * GiB, 4000);
    add_node(&c, "b", 8 * GiB, 4000);
    size_t x = add_node(&c, "x", 8 * GiB, 4000);
    hold(&c, x, "web", 2, 256 * MiB, 250);
    const char *allowed[] = {"a", "b"};
    sched_request req = request("web", 2, 256 * MiB, 250);
    req.nodes = allowed;
    req.nnodes = 2;
    sched_plan p = place(&c, req);
    assert_true(p.complete);
    assert_int_equal(p.kept, 0);
    assert_string_equal(removed(&c, &p), "x-2 disallowed");
    assert_string_equal(placed(&c, &p), "a,b");
    sched_plan_free(&p);
}

/* ---- scaling down, down nodes */

static void scale_down_from_most_loaded(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    size_t d = add_node(&c, "d", 8 * GiB, 4000);
    hold(&c, a, "web", 4, 256 * MiB, 250);
    hold(&c, b, "web", 1, 256 * MiB, 250);
    hold(&c, d, "web", 1, 256 * MiB, 250);
    sched_plan p = place(&c, request("web", 3, 256 * MiB, 250));
    assert_true(p.complete);
    assert_int_equal(p.kept, 3);
    assert_int_equal(p.placed, 0);
    assert_string_equal(removed(&c, &p), "a-3 scale");
    sched_plan_free(&p);

    /* Equal counts: the more used node gives one up first. */
    hold(&c, d, "cache", 1, 4 * GiB, 0);
    p = place(&c, request("web", 5, 256 * MiB, 250));
    assert_string_equal(removed(&c, &p), "a-1 scale");
    sched_plan_free(&p);
    p = place(&c, request("web", 2, 256 * MiB, 250));
    assert_string_equal(removed(&c, &p), "a-3 scale,d-1 scale");
    sched_plan_free(&p);

    /* To zero. */
    p = place(&c, request("web", 0, 256 * MiB, 250));
    assert_true(p.complete);
    assert_int_equal(p.kept, 0);
    assert_string_equal(removed(&c, &p), "a-4 scale,b-1 scale,d-1 scale");
    sched_plan_free(&p);
}

static void down_nodes_replaced(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    add_node(&c, "c", 8 * GiB, 4000);
    size_t d = add_node(&c, "d", 64 * GiB, 64000);
    hold(&c, a, "web", 2, 256 * MiB, 250);
    hold(&c, b, "web", 2, 256 * MiB, 250);
    c.nodes[b].status = SCHED_NODE_DOWN;
    c.nodes[d].status = SCHED_NODE_DOWN;
    sched_plan p = place(&c, request("web", 4, 256 * MiB, 250));
    assert_true(p.complete);
    assert_int_equal(p.kept, 2);
    assert_string_equal(removed(&c, &p), "b-2 down");
    assert_string_equal(placed(&c, &p), "c,c");
    sched_plan_free(&p);
}

static void node_back_is_reconciled(void **state)
{
    (void)state;
    /* b was down, its 2 replicas were placed on a and c; b is back and
     * still runs them: 5 run, 3 are wanted. */
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    size_t cc = add_node(&c, "c", 8 * GiB, 4000);
    hold(&c, a, "web", 2, 256 * MiB, 250);
    hold(&c, b, "web", 2, 256 * MiB, 250);
    hold(&c, cc, "web", 1, 256 * MiB, 250);
    sched_plan p = place(&c, request("web", 3, 256 * MiB, 250));
    assert_int_equal(p.kept, 3);
    assert_string_equal(removed(&c, &p), "a-1 scale,b-1 scale");
    sched_plan_free(&p);
}

/* ---- several apps at once: self-healing */

static void heal_replaces_what_down_nodes_ran(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 3 * GiB, 4000);
    size_t b = add_node(&c, "b", 4 * GiB, 4000);
    size_t d = add_node(&c, "d", 4 * GiB, 4000);
    hold(&c, a, "web", 2, 1 * GiB, 500);
    hold(&c, b, "web", 1, 1 * GiB, 500);
    hold(&c, b, "api", 2, 1 * GiB, 500);
    hold(&c, d, "api", 1, 1 * GiB, 500);
    hold(&c, d, "batch", 3, 1 * GiB, 100);
    c.nodes[b].status = SCHED_NODE_DOWN;
    /* api comes first but has no room until batch scales down: removals
     * are planned for every app before placements. */
    sched_request apps[] = {request("api", 3, 1 * GiB, 500), request("web", 3, 1 * GiB, 500),
                            request("batch", 2, 1 * GiB, 100)};
    sched_plan plans[3];
    sched_snapshot s = snap(&c);
    sched_error err;
    assert_true(sched_reconcile(&s, apps, 3, plans, &err));
    assert_string_equal(removed(&c, &plans[0]), "b-2 down");
    assert_string_equal(placed(&c, &plans[0]), "a,d");
    assert_true(plans[0].complete);
    assert_string_equal(removed(&c, &plans[1]), "b-1 down");
    assert_false(plans[1].complete);
    assert_int_equal(plans[1].placed, 0);
    assert_string_equal(plans[1].reason, "needs 1 GiB memory and 0.5 cpu per replica; 2 of 3 placed; "
                                         "a has 0 B memory free, d has 0 B memory free, b is down");
    assert_string_equal(removed(&c, &plans[2]), "d-1 scale");
    assert_true(plans[2].complete);
    for (int i = 0; i < 3; i++)
        sched_plan_free(&plans[i]);
}

static void unaffected_apps_untouched(void **state)
{
    (void)state;
    cluster c = {0};
    size_t a = add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    hold(&c, a, "web", 1, 256 * MiB, 250);
    hold(&c, b, "web", 1, 256 * MiB, 250);
    hold(&c, b, "unlisted", 5, 1 * GiB, 500);
    sched_request apps[] = {request("web", 2, 256 * MiB, 250)};
    sched_plan plan;
    sched_snapshot s = snap(&c);
    sched_error err;
    assert_true(sched_reconcile(&s, apps, 1, &plan, &err));
    assert_true(plan.complete);
    assert_int_equal(plan.placed, 0);
    assert_int_equal(plan.nremove, 0);
    assert_int_equal(plan.kept, 2);
    sched_plan_free(&plan);
}

/* ---- determinism */

static void same_plan_whatever_the_node_order(void **state)
{
    (void)state;
    static const char *names[] = {"m", "b", "x", "a", "k", "q"};
    cluster c1 = {0}, c2 = {0};
    for (int i = 0; i < 6; i++) {
        add_node(&c1, names[i], 8 * GiB, 4000);
        add_node(&c2, names[5 - i], 8 * GiB, 4000);
    }
    hold(&c1, 0, "web", 1, 512 * MiB, 100);   /* m */
    hold(&c2, 5, "web", 1, 512 * MiB, 100);
    hold(&c1, 4, "db", 2, 2 * GiB, 1000);     /* k */
    hold(&c2, 1, "db", 2, 2 * GiB, 1000);
    sched_plan p1 = place(&c1, request("web", 9, 512 * MiB, 100));
    sched_plan p2 = place(&c2, request("web", 9, 512 * MiB, 100));
    char first[512];
    snprintf(first, sizeof first, "%s", placed(&c1, &p1));
    assert_string_equal(first, placed(&c2, &p2));
    assert_int_equal(p1.kept, 1);
    assert_string_equal(first, "a,b,q,x,k,a,b,m");
    sched_plan p3 = place(&c1, request("web", 9, 512 * MiB, 100));
    assert_string_equal(first, placed(&c1, &p3));
    sched_plan_free(&p1);
    sched_plan_free(&p2);
    sched_plan_free(&p3);
}

/* ---- bad input */

static void expect_error(const cluster *c, const sched_request *apps, size_t n, const char *words)
{
    sched_snapshot s = snap(c);
    sched_plan plans[2];
    sched_error err;
    assert_false(sched_reconcile(&s, apps, n, plans, &err));
    if (!strstr(err.message, words))
        fail_msg("'%s' does not say '%s'", err.message, words);
    for (size_t i = 0; i < n; i++)
        assert_null(plans[i].place);
}

static void broken_input_refused(void **state)
{
    (void)state;
    cluster c = {0};
    add_node(&c, "a", 8 * GiB, 4000);
    size_t b = add_node(&c, "b", 8 * GiB, 4000);
    sched_request web = request("web", 1, 0, 0);
    sched_request twice[] = {web, web};
    expect_error(&c, twice, 2, "app web is requested twice");
    sched_request many = request("web", SCHED_MAX_REPLICAS + 1, 0, 0);
    expect_error(&c, &many, 1, "more than the");
    sched_request nameless = request(NULL, 1, 0, 0);
    expect_error(&c, &nameless, 1, "no app name");
    c.nodes[b].name = "a";
    expect_error(&c, &web, 1, "two nodes of the snapshot are named a");
    c.nodes[b].name = NULL;
    expect_error(&c, &web, 1, "node 1 of the snapshot has no name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spreads_across_nodes),
        cmocka_unit_test(counts_what_nodes_hold),
        cmocka_unit_test(least_used_node_first),
        cmocka_unit_test(fits_by_memory_and_cpu),
        cmocka_unit_test(shortfall_names_resource_and_nodes),
        cmocka_unit_test(shortfall_on_many_nodes_is_summed_up),
        cmocka_unit_test(units),
        cmocka_unit_test(only_allowed_nodes),
        cmocka_unit_test(replicas_leave_nodes_no_longer_allowed),
        cmocka_unit_test(scale_down_from_most_loaded),
        cmocka_unit_test(down_nodes_replaced),
        cmocka_unit_test(node_back_is_reconciled),
        cmocka_unit_test(heal_replaces_what_down_nodes_ran),
        cmocka_unit_test(unaffected_apps_untouched),
        cmocka_unit_test(same_plan_whatever_the_node_order),
        cmocka_unit_test(broken_input_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
