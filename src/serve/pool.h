/*
 * pool.h — an app's replicas, seen from the front process.
 *
 * Each replica is a child process forked from the front (so it shares the
 * module compiled once) that serves the app's requests over stream
 * sockets, one request at a time per socket ("channel"): replica.h is its
 * inside. The pool starts deploy.replicas of them under their resource
 * limits (limits.h), spreads requests over the ones in rotation by
 * load_balancer.algorithm, queues what no channel can take yet, checks
 * each replica's health (deploy.health_check), and replaces a replica
 * that dies or keeps failing its checks, with backoff. Its size changes
 * while it runs (pool_resize).
 */
#ifndef QYVOL_SERVE_POOL_H
#define QYVOL_SERVE_POOL_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "serve/wagi.h"
#include "serve/wire.h"

struct direct_record;
struct serve_direct;

typedef struct pool pool;
typedef struct pool_request pool_request;

/* The answer to a request: from its replica, or made up by the pool when
 * none could give one (status 502 when the replica died, 504 when it had
 * to be killed past the timeout, 503 when no replica took it in time).
 * `replica` is the replica's number, -1 when none ran it. */
typedef void (*pool_done_fn)(pool_request *req, const wire_response *resp, int replica);

/* A part of a streamed response (wire.h), before `done` is called with
 * the whole response message that ends it. NULL: the request ran past its
 * timeout while its reading was paused (pool_pause); what follows is read
 * again, and the caller should drop it. */
typedef void (*pool_part_fn)(pool_request *req, const wire_part *part);

/* A request as the pool sees it; the caller embeds it in its own state
 * and keeps it until `done` is called (exactly once). */
struct pool_request {
    wire_buf msg;              /* the encoded request (wire_request_encode) */
    uint64_t timeout_ms;       /* as encoded: the front's own limit is a bit later */
    pool_done_fn done;
    pool_part_fn part;         /* NULL: parts are dropped */
    bool cancelled;            /* the client went away: need not be run */
    /* Its body follows msg (pool_send_more) until body_open is cleared:
     * nothing is sent behind it on its socket meanwhile. */
    bool body_open;
    void (*sent)(pool_request *req); /* once, when all given so far is written */
    struct channel *running_on;/* the pool's */
    /* The pool's. */
    uint64_t queued_ns;
    pool_request *next;
};

typedef struct pool_options {
    struct event_base *base;
    int channels;              /* requests a replica runs at once (its threads) */
    const char *address;       /* where the server listens, for health checks' */
    uint16_t port;             /*   SERVER_NAME, SERVER_PORT and Host */
    uint32_t serial;           /* unique per pool of this process: names the */
                               /*   replicas' limits while two pools of an app overlap */
    bool start_unhealthy;      /* it replaces a pool failing its checks: it stays */
                               /*   out until one of its replicas passes one */
    /* Replicas that take client connections themselves (direct.h; WAGI
     * apps only), once pool_set_direct says so; NULL: never. */
    const struct serve_direct *direct;
    /* An answer such a replica gave (for the metrics), read on the tick. */
    void (*direct_done)(void *ctx, const struct direct_record *r);
    void *direct_ctx;
} pool_options;

/* Start the app's replicas (app must outlive the pool). NULL with the
 * reason when not even the pool could be made. */
pool *pool_start(const pool_options *opt, serve_app *app, char *why, size_t whylen);

typedef enum pool_verdict {
    POOL_TAKEN,                /* sent or queued: done will be called */
    POOL_UNHEALTHY,            /* no replica passes its health checks: 503 */
    POOL_FULL,                 /* too many requests wait already: 503 */
} pool_verdict;

pool_verdict pool_submit(pool *p, pool_request *req);

/* More of the request (its body's parts, wire.h): written after what was
 * given before, now or once the request goes to a replica. false when out
 * of memory. When it runs, the pool ends an open body itself (an END
 * that says it broke off) once the answer came. */
bool pool_send_more(pool_request *req, const void *bytes, size_t len);
/* Bytes given to the pool for req and not yet written to a replica. */
size_t pool_unsent(const pool_request *req);

/* Stop reading the replica's answer to req, which is running (its client
 * is slow: the replica then waits, its guest blocked in its writes), and
 * read it again. Within req's timeout: past it, parts are read again and
 * part(req, NULL) is called. */
void pool_pause(pool_request *req);
void pool_resume(pool_request *req);

/* Let the replicas in rotation take connections from the listening
 * socket themselves (on), or have them stop: they then close their idle
 * connections, answer the requests they are reading and hand those that
 * follow back to the front (opt.direct). */
void pool_set_direct(pool *p, bool on);
/* Some replica takes connections now, with a thread that is free or
 * has run its request for less than a few milliseconds. */
bool pool_direct_serving(const pool *p);
/* Client connections its replicas hold. */
int pool_direct_conns(const pool *p);
/* Count the answers its replicas gave themselves now (else on the tick). */
void pool_direct_collect(pool *p);
/* Give a connection that another app's replica took (with the bytes it
 * read, from the request on that is for this app) to one of this app's
 * replicas that take connections; false when none can (fd is still the
 * caller's). */
bool pool_direct_give(pool *p, int fd, const char *peer, const void *bytes, size_t len);

/* Whether the app counts as healthy (for /_qyvol/health). */
bool pool_healthy(const pool *p);
/* The replicas' state as JSON, for /_qyvol/health. */
json_t *pool_describe(const pool *p);

/* The replicas in rotation, and how many there are. */
int pool_ready(const pool *p);
int pool_size(const pool *p);
/* Requests running on its replicas or waiting for one. */
int pool_load(const pool *p);
/* pool_load integrated over time since the pool started (sampled every
 * tick), in request-seconds: its growth over an interval divided by the
 * interval is the average load then (the autoscaler's in-flight signal). */
double pool_load_seconds(const pool *p);

/* Serve with `replicas` (at least 1) from now on, without touching the
 * others: new ones start (in rotation once ready, as at the start); those
 * taken out leave rotation at once, finish the requests they run (what
 * waits in the queue goes to the others), then stop. The ones not ready
 * or least busy go first. False with why when out of memory (the pool is
 * then as large as it could be made). */
bool pool_resize(pool *p, int replicas, char *why, size_t whylen);

/* After a reload: no more health checks or restarts; the requests taken
 * finish, then the owner frees the pool (pool_idle says when). */
void pool_retire(pool *p);
bool pool_idle(const pool *p);

/* Stop every replica now (their sockets close; a replica that does not
 * exit within a second is killed) and free the pool. Requests still taken
 * get 503. */
void pool_free(pool *p);

#endif
