/*
 * replica_direct.h — a replica thread that takes client connections
 * itself (direct.h): an event loop with an HTTP server (http1.h) on the
 * front's listening socket, whose app requests it runs and answers, and
 * the socket to the front, whose requests (health checks, requests from
 * connections the front holds) it answers as replica.c's threads do.
 */
#ifndef QYVOL_SERVE_REPLICA_DIRECT_H
#define QYVOL_SERVE_REPLICA_DIRECT_H

#include <stdint.h>

#include "serve/direct.h"
#include "serve/replica_impl.h"

typedef struct replica_direct {
    int listen_fd;             /* the front's listening socket */
    int back_fd;               /* to the front: connections handed back, log lines */
    direct_shared *shared;     /* its own */
    const direct_area *area;   /* every replica's of its app */
    direct_routes *routes;     /* every app's route; the server's connection count */
    http_limits limits;
    const char *address;       /* where the server listens, for a request */
    uint16_t port;             /*   without Host */
    int index;                 /* the replica's number, in the logs */
    char id_prefix[24];        /* request ids: PREFIX-PID.THREAD.N */
} replica_direct;

/* Once per process, before the threads start: log lines go to the front. */
void replica_direct_begin(const replica_direct *d);
/* What replica_direct_thread takes for thread `number` (NULL when out of memory). */
void *replica_direct_arg(replica_thread *t, int number, const replica_direct *d);
/* A thread's body: until the front closes t's socket. */
void *replica_direct_thread(void *arg);
/* The replica's watchdog, every few milliseconds, for each thread: when
 * the thread's request has run DIRECT_SLOW_NS (not counting the time the
 * thread waited for a CPU), the other connections it holds (idle, or
 * with a request not read yet) go back to the front, which gives them to
 * a free thread, so that their requests do not wait behind the slow one
 * (once per request; the thread is in the guest, and its loop is the
 * watchdog's meanwhile: see loop_lock in replica_direct.c). */
void replica_direct_watch(void *arg, uint64_t now_ns);
/* What replica_direct_arg made, once the thread and the watchdog ended. */
void replica_direct_arg_free(void *arg);

#endif
