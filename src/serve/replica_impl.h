/*
 * replica_impl.h — a replica thread's parts, shared by replica.c (the
 * requests the front sends over a socket) and replica_direct.c (the
 * connections a replica takes itself). Not an API.
 */
#ifndef QYVOL_SERVE_REPLICA_IMPL_H
#define QYVOL_SERVE_REPLICA_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/wagi.h"
#include "serve/wire.h"

typedef struct replica_thread {
    const serve_app *app;
    int fd;                    /* its socket to the front */
    wagi_slot slot;            /* the watchdog's view of its instance */
} replica_thread;

/* Requests from the front, as read: several may come in one read when the
 * front sends ahead (it does under load). `used` bytes at the start have
 * been handled. */
typedef struct inbox {
    uint8_t *data;
    size_t len, cap, used;
} inbox;

/* The front's socket is readable: read it once (blocking), run the whole
 * requests read and write their answers. false when the front closed it
 * or it must be given up. */
bool replica_channel_turn(replica_thread *t, inbox *in, wire_buf *out);

#endif
