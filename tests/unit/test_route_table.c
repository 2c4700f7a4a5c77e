/*
 * test_route_table.c — cluster-wide routing (src/cluster/route_table.h)
 * without sockets: routes read from the heartbeat's JSON, the choice of
 * endpoint by each algorithm, dead peers avoided and retried elsewhere,
 * state kept across route updates, prefix and port matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/route_table.h"

#define SEC 1000000000ull

/* A table with one route of app "web" at /web over the given endpoints
 * ("node:replicas:weight" each), by algorithm. */
static void load(route_table *t, const char *algorithm, const char *const *eps, size_t n, const char *self)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char node[32];
        int replicas, weight;
        assert_int_equal(sscanf(eps[i], "%31[^:]:%d:%d", node, &replicas, &weight), 3);
        char ingress[64];
        snprintf(ingress, sizeof ingress, "10.0.0.%zu:8080", i + 1);
        json_array_append_new(list, json_pack("{s:s,s:s,s:i,s:i}", "node", node, "ingress", ingress, "replicas",
                                              replicas, "weight", weight));
    }
    json_t *routes = json_pack("[{s:s,s:s,s:i,s:s,s:o}]", "app", "web", "route", "/web/", "port", 30080,
                               "algorithm", algorithm, "endpoints", list);
    char why[200];
    assert_true(route_table_update(t, routes, self, why, sizeof why));
    json_decref(routes);
}

/* The node names of n choices. */
static void choices(route_table *t, int n, bool local_ok, int local_load, char *out)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        route_endpoint *e = route_choose(&t->routes[0], 100 * SEC, NULL, 0, local_ok, local_load);
        strcat(out, e ? e->peer->node : "-");
        strcat(out, " ");
    }
}

static void round_robin_cycles(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1", "b:2:1", "c:1:1"};
    load(&t, "round_robin", eps, 3, NULL);
    char got[200];
    choices(&t, 6, true, 0, got);
    assert_string_equal(got, "a b c a b c ");
    route_table_free(&t);
}

static void weighted_follows_weights(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:3000", "b:1:1000"};
    load(&t, "weighted", eps, 2, NULL);
    char got[200];
    choices(&t, 8, true, 0, got);
    /* Smooth: b comes between the a's, not after three in a row. */
    assert_string_equal(got, "a a b a a a b a ");
    route_table_free(&t);
}

static void least_connections_counts_in_flight(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1", "self:1:1", "c:1:1"};
    load(&t, "least_connections", eps, 3, "self");
    assert_true(t.routes[0].endpoints[1].local);
    t.routes[0].endpoints[0].peer->active = 5;
    t.routes[0].endpoints[2].peer->active = 2;
    route_endpoint *e = route_choose(&t.routes[0], 0, NULL, 0, true, 1);
    assert_string_equal(e->peer->node, "self"); /* its own queue: 1 */
    e = route_choose(&t.routes[0], 0, NULL, 0, true, 3);
    assert_string_equal(e->peer->node, "c");
    route_table_free(&t);
}

static void dead_peers_avoided_then_tried_again(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1", "b:1:1"};
    load(&t, "round_robin", eps, 2, NULL);
    route_peer *a = t.routes[0].endpoints[0].peer;
    route_peer_down(a, 100 * SEC);
    char got[200];
    choices(&t, 3, true, 0, got); /* at 100 s: a is down */
    assert_string_equal(got, "b b b ");
    /* Once its time is over it gets traffic again. */
    route_endpoint *e = NULL;
    for (int i = 0; i < 2 && !(e && e->peer == a); i++)
        e = route_choose(&t.routes[0], 100 * SEC + ROUTE_PEER_DOWN_MS * 1000000ull + 1, NULL, 0, true, 0);
    assert_ptr_equal(e->peer, a);
    /* When every peer is down, a down one is better than none. */
    route_peer_down(t.routes[0].endpoints[1].peer, 100 * SEC);
    assert_non_null(route_choose(&t.routes[0], 100 * SEC, NULL, 0, true, 0));
    route_table_free(&t);
}

static void retries_skip_what_was_tried(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1", "b:1:1", "c:0:1", "self:1:1"};
    load(&t, "round_robin", eps, 4, "self");
    route_peer *tried[2] = {t.routes[0].endpoints[0].peer, t.routes[0].endpoints[1].peer};
    /* c has no replicas, self cannot take it (not running here): none left. */
    assert_null(route_choose(&t.routes[0], 0, tried, 2, false, 0));
    route_endpoint *e = route_choose(&t.routes[0], 0, tried, 2, true, 0);
    assert_true(e && e->local);
    e = route_choose(&t.routes[0], 0, tried, 1, false, 0);
    assert_string_equal(e->peer->node, "b");
    route_table_free(&t);
}

static void updates_keep_what_was_learnt(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1", "b:1:1", "c:1:1"};
    load(&t, "round_robin", eps, 3, NULL);
    route_peer *b = t.routes[0].endpoints[1].peer;
    b->active = 7;
    route_peer_down(b, 100 * SEC);
    route_choose(&t.routes[0], 100 * SEC, NULL, 0, true, 0); /* a; next is b */
    load(&t, "round_robin", eps, 3, NULL);
    assert_ptr_equal(t.routes[0].endpoints[1].peer, b);
    assert_int_equal(b->active, 7);
    char got[200];
    choices(&t, 2, true, 0, got); /* b still down: c, then a */
    assert_string_equal(got, "c a ");
    route_table_free(&t);
}

static void matching_by_prefix_and_port(void **state)
{
    (void)state;
    route_table t = {0};
    json_t *routes = json_loads("[{\"app\":\"root\",\"route\":\"/\",\"endpoints\":[]},"
                                "{\"app\":\"api\",\"route\":\"/api\",\"port\":9000,\"endpoints\":[]},"
                                "{\"app\":\"v2\",\"route\":\"/api/v2\",\"endpoints\":[]}]",
                                0, NULL);
    char why[200];
    assert_true(route_table_update(&t, routes, NULL, why, sizeof why));
    json_decref(routes);
    assert_string_equal(route_table_match(&t, "/api/v2/x")->app, "v2");
    assert_string_equal(route_table_match(&t, "/api/v20")->app, "api");
    assert_string_equal(route_table_match(&t, "/apiary")->app, "root");
    assert_string_equal(route_table_match(&t, "/")->app, "root");
    assert_string_equal(route_table_port(&t, 9000)->app, "api");
    assert_null(route_table_port(&t, 9001));
    assert_null(route_table_port(&t, 0));
    assert_string_equal(route_table_app(&t, "v2")->route, "/api/v2");
    route_table_free(&t);
}

static void malformed_routes_change_nothing(void **state)
{
    (void)state;
    route_table t = {0};
    const char *eps[] = {"a:1:1"};
    load(&t, "round_robin", eps, 1, NULL);
    const char *bad[] = {"{}", "[{\"route\":\"/x\"}]", "[{\"app\":\"x\",\"route\":\"x\"}]",
                         "[{\"app\":\"x\",\"route\":\"/x\",\"algorithm\":\"random\"}]",
                         "[{\"app\":\"x\",\"route\":\"/x\",\"port\":70000}]",
                         "[{\"app\":\"x\",\"route\":\"/x\",\"endpoints\":[{\"node\":\"a\"}]}]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        char why[200] = "";
        assert_false(route_table_update(&t, j, NULL, why, sizeof why));
        assert_true(why[0] != '\0');
        json_decref(j);
    }
    assert_int_equal(t.nroutes, 1);
    assert_string_equal(t.routes[0].app, "web");
    route_table_free(&t);
}

static void idempotent_methods(void **state)
{
    (void)state;
    const char *yes[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}, *no[] = {"POST", "PATCH", "get", "CONNECT"};
    for (size_t i = 0; i < 5; i++) assert_true(route_method_idempotent(yes[i]));
    for (size_t i = 0; i < 4; i++) assert_false(route_method_idempotent(no[i]));
}

/* A route of "web" over two revisions: revision 3 on a, b, c and
 * revision 4 on a and c, split by the given weights. */
static void load_split(route_table *t, const char *algorithm, int old_weight, int new_weight)
{
    json_t *routes = json_pack(
        "[{s:s,s:s,s:s,s:[{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},"
        "{s:s,s:s,s:i,s:i}],s:[{s:i,s:i},{s:i,s:i}]}]",
        "app", "web", "route", "/web", "algorithm", algorithm, "endpoints", "node", "a", "ingress", "10.0.0.1:80",
        "replicas", 3, "revision", 3, "node", "b", "ingress", "10.0.0.2:80", "replicas", 3, "revision", 3, "node",
        "c", "ingress", "10.0.0.3:80", "replicas", 4, "revision", 3, "node", "a", "ingress", "10.0.0.1:80",
        "replicas", 1, "revision", 4, "node", "c", "ingress", "10.0.0.3:80", "replicas", 1, "revision", 4,
        "split", "revision", 3, "weight", old_weight, "revision", 4, "weight", new_weight);
    char why[200];
    assert_non_null(routes);
    assert_true(route_table_update(t, routes, NULL, why, sizeof why));
    json_decref(routes);
}

/* Requests of n choices that went to revision 4, and to each node. */
static int to_new(route_table *t, int n, route_peer *const *tried, size_t ntried, int per_node[3])
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        route_endpoint *e = route_choose(&t->routes[0], 100 * SEC, tried, ntried, true, 0);
        assert_non_null(e);
        count += e->revision == 4;
        if (per_node) per_node[e->peer->node[0] - 'a']++;
    }
    return count;
}

/* The canary's weight holds over 10,000 requests (the issue asks for
 * +-2%; smooth weighted round robin gives it to the request), whatever
 * the algorithm within a revision, and across route updates. */
static void split_by_revision_is_exact(void **state)
{
    (void)state;
    static const char *const algorithms[] = {"round_robin", "least_connections", "weighted"};
    static const int weights[] = {1, 10, 25, 50, 90, 99};
    for (size_t a = 0; a < 3; a++)
        for (size_t w = 0; w < sizeof weights / sizeof *weights; w++) {
            route_table t = {0};
            load_split(&t, algorithms[a], 100 - weights[w], weights[w]);
            int per_node[3] = {0};
            int got = to_new(&t, 5000, NULL, 0, per_node);
            load_split(&t, algorithms[a], 100 - weights[w], weights[w]); /* a heartbeat's update */
            got += to_new(&t, 5000, NULL, 0, per_node);
            int want = 100 * weights[w];
            assert_true(got >= want - 1 && got <= want + 1);
            assert_true(per_node[0] > 0 && per_node[2] > 0);
            if (weights[w] < 99) assert_true(per_node[1] > 0); /* b runs only revision 3 */
            route_table_free(&t);
        }
}

/* A revision whose endpoints cannot take the request gives its share to
 * the other; a revision of weight 0 gets none while the other can. */
static void split_skips_what_cannot_serve(void **state)
{
    (void)state;
    route_table t = {0};
    load_split(&t, "round_robin", 0, 100); /* blue-green, switched */
    assert_int_equal(to_new(&t, 100, NULL, 0, NULL), 100);
    load_split(&t, "round_robin", 100, 0); /* before the switch */
    assert_int_equal(to_new(&t, 100, NULL, 0, NULL), 0);
    /* Revision 4's nodes a and c both failed the request: b (revision 3). */
    route_peer *tried[2] = {t.routes[0].endpoints[3].peer, t.routes[0].endpoints[4].peer};
    load_split(&t, "round_robin", 0, 100);
    assert_int_equal(to_new(&t, 10, tried, 2, NULL), 0);
    /* The counts of route_split_pick alone: 30/70 over 1,000. */
    route_split splits[2] = {{3, 30, 0, 0}, {4, 70, 0, 0}};
    bool usable[2] = {true, true};
    int n4 = 0;
    for (int i = 0; i < 1000; i++) n4 += route_split_pick(splits, 2, usable) == 1;
    assert_int_equal(n4, 700);
    usable[1] = false;
    assert_int_equal(route_split_pick(splits, 2, usable), 0);
    usable[0] = false;
    assert_int_equal(route_split_pick(splits, 2, usable), -1);
    route_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_robin_cycles),
        cmocka_unit_test(weighted_follows_weights),
        cmocka_unit_test(least_connections_counts_in_flight),
        cmocka_unit_test(dead_peers_avoided_then_tried_again),
        cmocka_unit_test(retries_skip_what_was_tried),
        cmocka_unit_test(updates_keep_what_was_learnt),
        cmocka_unit_test(matching_by_prefix_and_port),
        cmocka_unit_test(malformed_routes_change_nothing),
        cmocka_unit_test(idempotent_methods),
        cmocka_unit_test(split_by_revision_is_exact),
        cmocka_unit_test(split_skips_what_cannot_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
