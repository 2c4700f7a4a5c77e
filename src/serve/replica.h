/*
 * replica.h — the inside of a replica process: what a child forked by
 * the front (pool.h) runs. Each of its sockets gets a thread that reads a
 * request (wire.h), runs a fresh instance of the app for it (wagi.h),
 * turns the output into a response (cgi.h) and writes that back; a
 * watchdog thread interrupts instances past their timeout.
 */
#ifndef QYVOL_SERVE_REPLICA_H
#define QYVOL_SERVE_REPLICA_H

#include "serve/wagi.h"

struct replica_direct;

/* Serve requests for app on fds (one thread each) until the front closes
 * them all, then end the process (_exit). Never returns. With direct,
 * each thread also takes client connections itself (replica_direct.h). */
_Noreturn void replica_main(const serve_app *app, const int *fds, int nfds, const struct replica_direct *direct);

#endif
