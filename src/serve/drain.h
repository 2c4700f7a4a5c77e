/*
 * drain.h — a front's clean stop (qyv serve, qyv node): on SIGTERM or
 * SIGINT it stops accepting (the caller drains its servers), then waits
 * until no request is in flight, or the drain timeout passed, and ends
 * the event loop.
 */
#ifndef QYVOL_SERVE_DRAIN_H
#define QYVOL_SERVE_DRAIN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct drain {
    struct event_base *base;
    struct event *timer;
    uint64_t deadline_ns;
    long (*in_flight)(void *ctx); /* requests not answered yet */
    void *ctx;
} drain;

/* Log the stop (signal: SIGTERM or SIGINT) and start waiting; the loop
 * ends at once when no timer can be made. */
void drain_start(drain *d, struct event_base *base, int signal, int timeout_s, long (*in_flight)(void *ctx),
                 void *ctx);
void drain_free(drain *d);

#endif
