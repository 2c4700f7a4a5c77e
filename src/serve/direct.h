/*
 * direct.h — replicas that take client connections themselves (`qyv
 * serve --direct`): what the front and such a replica share.
 *
 * The front's listening socket is inherited by the replicas of an app
 * served this way; each replica thread takes connections from it (as
 * nginx's workers do) and answers their requests itself, so that a
 * request never crosses a process. What the front still needs to know
 * comes through memory shared with each replica (one page set per
 * replica, mapped before it forks): whether it may take connections
 * (set by the front: ready, in rotation, one app on the port), how many
 * it holds, the request each thread runs and since when (for the
 * front's kill of a runaway), and a record of each answer for the
 * metrics. Requests a replica must not answer (the server's /_qyvol/
 * endpoints, another app's route, or any once it is told to stop) go
 * back to the front with their connection, over a socket that also
 * carries the replica's log lines.
 */
#ifndef QYVOL_SERVE_DIRECT_H
#define QYVOL_SERVE_DIRECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/http1.h"

/* One answer, for the app's metrics. */
typedef struct direct_record {
    uint16_t status;
    uint8_t trap;              /* qv_trap_kind */
    uint8_t started;           /* an instance ran */
    float seconds, instantiate_s;
} direct_record;

/* A thread whose last request took longer takes no new connections:
 * they would wait behind its slow requests (and behind those of the
 * connections it holds); the front takes them instead. */
#define DIRECT_SLOW_NS (20 * 1000000ull)

/* Answers kept between two reads of the front (its tick, every 100 ms). */
#define DIRECT_RING 8192

/* One replica thread's. */
typedef struct direct_slot {
    _Atomic uint64_t busy_since_ns; /* a request runs since then (0: none) */
    _Atomic uint64_t timeout_ms;    /* ... with this timeout */
    atomic_int conns;          /* connections it holds (as of seen_serve) */
    atomic_int seen_serve;     /* the value of `serve` it acted on last */
    atomic_int slow;           /* its last request took more than DIRECT_SLOW_NS:
                                * it takes no connections (the front does) */
    _Atomic uint32_t head;     /* records written (the replica's) */
    _Atomic uint32_t tail;     /* records read (the front's) */
    direct_record ring[DIRECT_RING];
} direct_slot;

typedef struct direct_shared {
    atomic_int serve;          /* the front's: take connections and answer them */
    _Atomic uint64_t lost;     /* records dropped, the ring being full */
    int nslots;
    direct_slot slots[];
} direct_shared;

/* The routes of every app the server runs, shared with all replicas (one
 * mapping, made before any fork): a replica hands back a request whose
 * longest matching route is another app's. Written by the front under a
 * sequence count (odd while it writes); a replica copies it when the
 * count moved. */
#define DIRECT_ROUTES_BYTES 8192
typedef struct direct_routes {
    /* Also the server's count of client connections, for its cap
     * (--max-connections): the front's own and every replica's. */
    atomic_int front_conns;
    atomic_int replica_conns;
    _Atomic uint32_t seq;
    _Atomic uint32_t len;
    _Atomic char text[DIRECT_ROUTES_BYTES]; /* routes, each NUL-terminated ("" for "/") */
} direct_routes;

direct_routes *direct_routes_new(void);
void direct_routes_free(direct_routes *r);
/* Publish len bytes of routes (false when they do not fit). */
bool direct_routes_set(direct_routes *r, const char *text, size_t len);
/* A reader's copy, renewed when the table changed. */
typedef struct direct_routes_copy {
    uint32_t seq;
    size_t len;
    char text[DIRECT_ROUTES_BYTES];
} direct_routes_copy;
void direct_routes_read(const direct_routes *r, direct_routes_copy *copy);

/* What a pool needs to serve an app this way (NULL in pool_options: not). */
typedef struct serve_direct {
    int listen_fd;             /* the front's listening socket */
    direct_routes *routes;     /* every app's route */
    http_limits limits;        /* as the front's */
    /* A connection handed back, with the path of the request it stopped
     * at and the bytes read from it from that request on. */
    void (*handoff)(void *ctx, int fd, const char *peer, const char *path, const void *bytes, size_t len);
    void *ctx;
} serve_direct;

/* The shared memory of a pool's replicas, in one mapping, so that each
 * replica sees how many connections the others hold (connections spread
 * by count over every replica thread of the app). Made before the
 * replicas fork; slots are given out to replicas and taken back. */
#define DIRECT_AREA_REPLICAS 64
typedef struct direct_area {
    int nslots;                /* threads per replica */
    size_t stride;             /* bytes per replica */
} direct_area;
/* NULL when it cannot be mapped. */
direct_area *direct_area_new(int nslots);
void direct_area_free(direct_area *a);
/* Replica i's memory (0 <= i < DIRECT_AREA_REPLICAS). */
direct_shared *direct_area_at(const direct_area *a, int i);
/* All cleared, as for a new process (or none). */
void direct_shared_reset(direct_shared *d);

/* The replica's side of the ring: false when full (the record is lost). */
bool direct_push(direct_slot *s, const direct_record *r);
/* The front's: false when empty. */
bool direct_pop(direct_slot *s, direct_record *r);

/* The front's view: every thread saw serve off and holds no connection. */
bool direct_drained(const direct_shared *d);
/* Every thread takes connections. */
bool direct_serving(const direct_shared *d);
/* Some thread could take a connection now: it takes them, its last
 * request was quick, and it is not in one that has run DIRECT_SLOW_NS. */
bool direct_free_thread(const direct_shared *d, uint64_t now_ns);
/* Requests running now. */
int direct_busy(const direct_shared *d);
/* Connections held now. */
int direct_conns(const direct_shared *d);

/* Messages on a replica's back socket (SOCK_SEQPACKET): connections both
 * ways (a replica hands back one it must not answer; the front gives it
 * one for its app that another app's replica took), log lines to the
 * front. */
#define DIRECT_MSG_CONN 'C'    /* + peer (64 bytes), path, NUL, bytes read; the socket as SCM_RIGHTS */
#define DIRECT_MSG_LOG 'L'     /* + lines: level byte, app, NUL, text, NUL; ... */
#define DIRECT_PEER_LEN 64
#define DIRECT_MSG_MAX ((size_t)200 << 10)

/* Pass connection fd on over sock with what was read of it, and close
 * fd (the receiver has its own). false when it could not be sent (too
 * large, or sock broke): the caller still has to close fd. */
bool direct_send_conn(int sock, int fd, const char *peer, const char *path, const void *bytes, size_t len);
/* One message from sock, without waiting: its length (0: none now, -1:
 * closed or broken) into buf (DIRECT_MSG_MAX bytes); *fd the socket it
 * carried, or -1. */
ssize_t direct_recv(int sock, char *buf, int *fd);
/* A DIRECT_MSG_CONN message's parts; false when malformed. */
typedef struct direct_conn_msg {
    char peer[DIRECT_PEER_LEN];
    const char *path;
    const char *bytes;
    size_t len;
} direct_conn_msg;
bool direct_parse_conn(const char *msg, size_t n, direct_conn_msg *out);

#endif
