/*
 * bench/scheduler.c — placements per second of the cluster's scheduler
 * (src/cluster/scheduler.h) on a simulated cluster: by default 1,000 apps
 * of 10 replicas each over 1,000 nodes of three sizes.
 *
 *   scheduler [ROUNDS [NODES [APPS [REPLICAS]]]]     defaults 5 1000 1000 10
 *
 * Three runs per round, each timed around the scheduler's calls only:
 * - deploy:    one sched_place per app, in turn, each on a fresh snapshot
 *              of the cluster so far (what the master does per deploy);
 * - reconcile: every app in one sched_reconcile on the empty cluster;
 * - heal:      after the deploys, every tenth node goes down and one
 *              sched_reconcile re-places what they ran.
 * Each run's result is checked (every replica placed, on ready nodes,
 * within capacity, an app's replicas on distinct nodes while nodes
 * outnumber them); the median and best of the rounds are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/scheduler.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

typedef struct sim {
    size_t nnodes, napps;
    uint32_t replicas;
    sched_node *nodes;
    sched_holding **holdings;   /* per node, room for every app */
    char (*node_names)[32];
    char (*app_names)[32];
    sched_request *requests;
} sim;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "scheduler bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void sim_init(sim *s, size_t nnodes, size_t napps, uint32_t replicas)
{
    static const uint64_t memory[] = {16 * GiB, 32 * GiB, 64 * GiB};
    static const uint64_t cpu[] = {8000, 16000, 32000};
    static const uint64_t app_cpu[] = {100, 250, 500};
    *s = (sim){.nnodes = nnodes, .napps = napps, .replicas = replicas};
    s->nodes = must(calloc(nnodes, sizeof *s->nodes));
    s->holdings = must(calloc(nnodes, sizeof *s->holdings));
    s->node_names = must(calloc(nnodes, sizeof *s->node_names));
    s->app_names = must(calloc(napps, sizeof *s->app_names));
    s->requests = must(calloc(napps, sizeof *s->requests));
    for (size_t i = 0; i < nnodes; i++) {
        snprintf(s->node_names[i], sizeof s->node_names[i], "node-%04zu", i);
        s->holdings[i] = must(calloc(napps, sizeof **s->holdings));
    }
    for (size_t a = 0; a < napps; a++) {
        snprintf(s->app_names[a], sizeof s->app_names[a], "app-%04zu", a);
        s->requests[a] = (sched_request){.app = s->app_names[a], .replicas = replicas,
                                         .memory = (64 * MiB) << (a % 4), .cpu = app_cpu[a % 3]};
    }
    for (size_t i = 0; i < nnodes; i++)
        s->nodes[i] = (sched_node){.name = s->node_names[i], .status = SCHED_NODE_READY,
                                   .memory_capacity = memory[i % 3], .cpu_capacity = cpu[i % 3],
                                   .holdings = s->holdings[i]};
}

static void sim_free(sim *s)
{
    for (size_t i = 0; i < s->nnodes; i++)
        free(s->holdings[i]);
    free(s->holdings);
    free(s->nodes);
    free(s->node_names);
    free(s->app_names);
    free(s->requests);
}

/* Empty the cluster: every node ready, holding nothing. */
static void sim_reset(sim *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        s->nodes[i].status = SCHED_NODE_READY;
        s->nodes[i].memory_used = s->nodes[i].cpu_used = 0;
        s->nodes[i].nholdings = 0;
    }
}

static sched_holding *holding_of(sim *s, size_t node, const char *app)
{
    sched_node *n = &s->nodes[node];
    for (size_t h = 0; h < n->nholdings; h++)
        if (strcmp(s->holdings[node][h].app, app) == 0)
            return &s->holdings[node][h];
    s->holdings[node][n->nholdings] = (sched_holding){app, 0};
    return &s->holdings[node][n->nholdings++];
}

/* Do what a plan says, as the master would. */
static void apply(sim *s, const sched_request *req, const sched_plan *p)
{
    for (size_t k = 0; k < p->nremove; k++) {
        uint32_t i = p->remove[k].node, n = p->remove[k].replicas;
        holding_of(s, i, req->app)->replicas -= n;
        s->nodes[i].memory_used -= n * req->memory;
        s->nodes[i].cpu_used -= n * req->cpu;
    }
    for (uint32_t k = 0; k < p->placed; k++) {
        uint32_t i = p->place[k];
        holding_of(s, i, req->app)->replicas++;
        s->nodes[i].memory_used += req->memory;
        s->nodes[i].cpu_used += req->cpu;
    }
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "scheduler bench: %s: %s\n", what, detail);
    exit(1);
}

/* Every app's replicas all placed, on ready nodes, within capacity, and
 * on distinct nodes when there are enough ready ones. */
static void check(sim *s, const char *run)
{
    uint32_t *count = must(calloc(s->napps, sizeof *count));
    size_t ready = 0;
    for (size_t i = 0; i < s->nnodes; i++)
        ready += s->nodes[i].status == SCHED_NODE_READY;
    for (size_t i = 0; i < s->nnodes; i++) {
        sched_node *n = &s->nodes[i];
        if (n->memory_used > n->memory_capacity || n->cpu_used > n->cpu_capacity)
            fail(run, "a node is over its capacity");
        for (size_t h = 0; h < n->nholdings; h++) {
            uint32_t r = n->holdings[h].replicas;
            if (r && n->status != SCHED_NODE_READY)
                fail(run, "replicas left on a down node");
            if (r > 1 && ready >= s->replicas)
                fail(run, "two replicas of an app on one node while others had room");
            count[atoi(n->holdings[h].app + 4)] += r;
        }
    }
    for (size_t a = 0; a < s->napps; a++)
        if (count[a] != s->replicas)
            fail(run, "an app does not run the replicas it wants");
    free(count);
}

/* One sched_place per app; returns the seconds spent in the scheduler. */
static double run_deploys(sim *s, uint64_t *placements)
{
    sim_reset(s);
    double spent = 0;
    for (size_t a = 0; a < s->napps; a++) {
        sched_snapshot snap = {s->nodes, s->nnodes};
        sched_plan plan;
        sched_error err;
        double t0 = now();
        bool ok = sched_place(&snap, &s->requests[a], &plan, &err);
        spent += now() - t0;
        if (!ok)
            fail("deploy", err.message);
        if (!plan.complete)
            fail("deploy", plan.reason);
        *placements += plan.placed;
        apply(s, &s->requests[a], &plan);
        sched_plan_free(&plan);
    }
    check(s, "deploy");
    return spent;
}

/* One sched_reconcile for all apps from snapshot state; the seconds it took. */
static double run_reconcile(sim *s, const char *run, uint64_t *placements)
{
    sched_plan *plans = must(calloc(s->napps, sizeof *plans));
    sched_snapshot snap = {s->nodes, s->nnodes};
    sched_error err;
    double t0 = now();
    bool ok = sched_reconcile(&snap, s->requests, s->napps, plans, &err);
    double spent = now() - t0;
    if (!ok)
        fail(run, err.message);
    for (size_t a = 0; a < s->napps; a++) {
        if (!plans[a].complete)
            fail(run, plans[a].reason);
        *placements += plans[a].placed;
        apply(s, &s->requests[a], &plans[a]);
        sched_plan_free(&plans[a]);
    }
    free(plans);
    check(s, run);
    return spent;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *rates, int rounds, uint64_t placements)
{
    qsort(rates, (size_t)rounds, sizeof *rates, by_value);
    printf("%-10s %7llu placements a round: median %9.0f placements/s, best %9.0f\n", what,
           (unsigned long long)placements, rates[rounds / 2], rates[rounds - 1]);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    size_t nnodes = argc > 2 ? (size_t)atol(argv[2]) : 1000;
    size_t napps = argc > 3 ? (size_t)atol(argv[3]) : 1000;
    uint32_t replicas = argc > 4 ? (uint32_t)atol(argv[4]) : 10;
    if (rounds < 1 || nnodes < 10 || napps < 1 || napps > 9999 || replicas < 1) {
        fprintf(stderr, "usage: scheduler [ROUNDS [NODES>=10 [APPS<=9999 [REPLICAS]]]]\n");
        return 2;
    }
    sim s;
    sim_init(&s, nnodes, napps, replicas);
    printf("scheduler: %zu nodes, %zu apps x %u replicas, %d rounds\n", nnodes, napps, replicas, rounds);
    double *deploy = must(calloc((size_t)rounds, sizeof(double)));
    double *reconcile = must(calloc((size_t)rounds, sizeof(double)));
    double *heal = must(calloc((size_t)rounds, sizeof(double)));
    uint64_t nd = 0, nr = 0, nh = 0;
    for (int r = 0; r < rounds; r++) {
        nd = nr = nh = 0;
        sim_reset(&s);
        double t = run_reconcile(&s, "reconcile", &nr);
        reconcile[r] = (double)nr / t;
        t = run_deploys(&s, &nd);
        deploy[r] = (double)nd / t;
        for (size_t i = 0; i < nnodes; i += 10)
            s.nodes[i].status = SCHED_NODE_DOWN;
        t = run_reconcile(&s, "heal", &nh);
        heal[r] = (double)nh / t;
    }
    report("deploy", deploy, rounds, nd);
    report("reconcile", reconcile, rounds, nr);
    report("heal", heal, rounds, nh);
    free(deploy);
    free(reconcile);
    free(heal);
    sim_free(&s);
    return 0;
}
