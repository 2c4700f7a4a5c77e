/*
 * access.h — who may call the master's API, and what they changed
 * (docs/security.md, "Secrets and tokens").
 *
 * Tokens: the cluster token (`--token-file`, named "admin") and named
 * tokens made with `qyv cluster auth token create NAME --role read|admin`.
 * A named token reads "NAME.HEX" (64 hex digits of randomness); the store
 * keeps only its SHA-256 (tokens/NAME), compared in constant time. A read
 * token may only look (health, metrics, nodes, apps, logs): anything else
 * is 403. Every refusal is logged by the master with the token's name,
 * never the token.
 *
 * Audit: every change an admin token asks for (deploys, scales, removals,
 * secrets, tokens, nodes...; not the nodes' own register and heartbeat
 * calls) is kept in the store as audit/KEY {who, what, when, peer,
 * status, outcome}, at
 * most ACCESS_AUDIT_MAX entries (the oldest go), for `qyv cluster audit`.
 */
#ifndef QYVOL_CLUSTER_MASTER_ACCESS_H
#define QYVOL_CLUSTER_MASTER_ACCESS_H

#include <stdbool.h>

#include "cluster/master/internal.h"

#define ACCESS_AUDIT_MAX 1000
#define ACCESS_ADMIN_NAME "admin"

typedef enum access_role { ACCESS_NONE, ACCESS_READ, ACCESS_ADMIN } access_role;

typedef struct access_caller {
    access_role role;
    char name[M_NAME_MAX];     /* the token's name ("admin" for the cluster token) */
} access_caller;

/* Authenticate r and check its role allows it. False after answering x
 * (401 without a valid token, 403 for a read token asking to change
 * something) and logging the refusal; true with *who filled. */
bool access_check(master *m, http_exchange *x, const http_request *r, access_caller *who);

/* Record r in the audit log when it is a change (not a read or a node's
 * own call): at once, then again with its outcome when x is answered
 * ("status": the HTTP status; "outcome": "done" for 2xx and 3xx,
 * "refused" for 4xx, "failed" for 5xx, "unanswered" when the master
 * stopped first). A read token's change, refused (403), is recorded too. */
void access_audit(master *m, http_exchange *x, const http_request *r, const access_caller *who);

/* The endpoints: GET/POST /v1/tokens, DELETE /v1/tokens/NAME, GET
 * /v1/audit. False when r is none of them. */
bool access_route(master *m, http_exchange *x, const http_request *r, const access_caller *who);

#endif
