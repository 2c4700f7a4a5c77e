/*
 * drain.c — see drain.h.
 */
#include <signal.h>

#include "serve/drain.h"
#include "serve/log.h"
#include "serve/wagi.h"

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    drain *d = arg;
    long left = d->in_flight(d->ctx);
    if (left == 0 || wagi_now_ns() > d->deadline_ns) {
        if (left) log_json(LOG_WARN, "drain timeout: leaving requests unanswered", json_pack("{s:I}", "in_flight", (json_int_t)left));
        event_base_loopexit(d->base, NULL);
    }
}

void drain_start(drain *d, struct event_base *base, int signal, int timeout_s, long (*in_flight)(void *ctx),
                 void *ctx)
{
    d->base = base;
    d->in_flight = in_flight;
    d->ctx = ctx;
    log_json(LOG_INFO, "shutting down: draining requests in flight",
             json_pack("{s:s,s:I}", "signal", signal == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                       (json_int_t)in_flight(ctx)));
    d->deadline_ns = wagi_now_ns() + (uint64_t)timeout_s * 1000000000u;
    d->timer = event_new(base, -1, EV_PERSIST, drain_check, d);
    struct timeval tick = {0, 20000};
    if (!d->timer || event_add(d->timer, &tick) != 0) event_base_loopexit(base, NULL);
}

void drain_free(drain *d)
{
    if (d->timer) event_free(d->timer);
    d->timer = NULL;
}
