/*
 * leader.h — which of several masters on one etcd leads (docs/ha.md).
 *
 * Each master holds an etcd lease, kept alive from a thread of its own
 * (with a store handle of its own, so that a slow API call never delays a
 * keep-alive). The leader is whoever created the key "leader" with its
 * lease: a campaign is one transaction, "if leader is missing, put leader
 * = my address with my lease". When the leader dies its lease expires
 * (lease TTL after its last keep-alive), etcd deletes the key, and the
 * next campaign wins. Each master also keeps "masters/ADDRESS" with its
 * lease, so that the live masters can be listed.
 *
 * A master counts itself leader only while it knows its lease alive: the
 * time of its last answered keep-alive plus the lease's TTL, so a master
 * cut off from etcd stops leading before another can start. What it still
 * writes is fenced besides (store_set_guard on the leader key's
 * create_revision): a deposed leader's transaction never holds.
 */
#ifndef QYVOL_CLUSTER_MASTER_LEADER_H
#define QYVOL_CLUSTER_MASTER_LEADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEADER_KEY "leader"
#define MASTERS_PREFIX "masters/"

typedef struct leader leader;

typedef struct leader_view {
    bool leading;               /* this master leads now */
    int64_t leader_revision;    /* create_revision of the leader key: the guard */
    char leader_address[300];   /* who leads; "" when no one is known to */
    bool store_ok;              /* etcd answered the last call */
    char store_problem[300];    /* why not, when it did not */
    json_t *masters;            /* with leader_get_masters: [{"address":..., "started_ms":...}] */
} leader_view;

/* Start campaigning for store_url (an etcd:// URL) as the master that
 * answers at address (HOST:PORT), with a lease of ttl_seconds. NULL with
 * why when the store cannot be opened. */
leader *leader_start(const char *store_url, const char *address, unsigned ttl_seconds, char *why, size_t whylen);
/* Where things stand now (leading is computed against the lease's known
 * end at this instant). with_masters: also the live masters (the caller
 * frees out->masters). */
void leader_get(leader *l, bool with_masters, leader_view *out);
/* Stop: the lease is revoked, so another master leads at once. */
void leader_stop(leader *l);

#endif
