/*
 * cluster.c — `cluster`: how the cluster spreads requests over the app's
 * replicas, and how it checks them (health_check.c).
 */
#include "parse.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool parse_algorithm(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    qv_cluster *cluster = target;
    int algorithm;
    if (!mf_read_enum(ctx, value, key, mf_lb_algorithm_names, COUNT(mf_lb_algorithm_names), &algorithm))
        return false;
    cluster->algorithm = (qv_lb_algorithm)algorithm;
    cluster->algorithm_at = mf_pos(value);
    return true;
}

static bool parse_health_check(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    return mf_parse_balancer_health_check(ctx, value, key, &((qv_cluster *)target)->health_check);
}

static const mf_key load_balancer_keys[] = {
    {"algorithm", parse_algorithm},
    {"health_check", parse_health_check},
};
static const mf_alias load_balancer_aliases[] = {
    {"algo", "algorithm"}, {"strategy", "algorithm"}, {"policy", "algorithm"},
    {"healthcheck", "health_check"}, {"health", "health_check"},
};
const mf_section mf_section_load_balancer = {"cluster.load_balancer", load_balancer_keys,
                                             COUNT(load_balancer_keys), load_balancer_aliases,
                                             COUNT(load_balancer_aliases)};

static bool parse_load_balancer(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    return mf_read_mapping(ctx, value, &mf_section_load_balancer, target);
}

static const mf_key cluster_keys[] = {
    {"load_balancer", parse_load_balancer},
};
static const mf_alias cluster_aliases[] = {{"lb", "load_balancer"}, {"balancer", "load_balancer"}};
const mf_section mf_section_cluster = {"cluster", cluster_keys, COUNT(cluster_keys), cluster_aliases,
                                       COUNT(cluster_aliases)};

bool mf_parse_cluster(mf_ctx *ctx, yaml_node_t *value, const char *key, void *target)
{
    (void)key;
    return mf_read_mapping(ctx, value, &mf_section_cluster, &((qv_manifest *)target)->cluster);
}
