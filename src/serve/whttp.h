/*
 * whttp.h — one HTTP request handled by a wasi:http component
 * (docs/components.md): a fresh instance of the app's component, its
 * wasi:http/incoming-handler called with the request, the response it
 * sets passed on; outbound requests as permissions.net allows.
 */
#ifndef QYVOL_SERVE_WHTTP_H
#define QYVOL_SERVE_WHTTP_H

#include "qyvol/wasi_http.h"
#include "serve/wagi.h"
#include "serve/wire.h"

/* Make the host the app's instances link against (once, when the app is
 * loaded): WASI 0.2 and wasi:http, for any context. false with err. */
bool whttp_app_prepare(serve_app *app, const char *file, app_error *err);

/* Run the request and append the answer to out (as replica.c's handle).
 * With fd >= 0 (the socket to the front) the response streams: when the
 * guest flushes or waits, what out holds is written to fd with the head
 * and the body so far (wire.h's parts), and so on; the whole
 * response message that ends it is appended to out as usual. */
/* With body non-NULL the request's body comes from it (wr->body_follows).
 * true when it wrote to fd (out was emptied on the way). */
bool whttp_answer(const serve_app *app, const wire_request *wr, const qv_http_body_source *body, wagi_slot *slot,
                  wire_buf *out, int fd);

#endif
