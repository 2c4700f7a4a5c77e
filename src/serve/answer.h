/*
 * answer.h — the steps of answering a client's request that the front
 * (runtime_request.c, the request run by a replica over a socket) and a
 * replica taking connections itself (replica_direct.c) share: the request
 * as the guest sees it, a run's outcome as a response, the response as
 * the client gets it, and the request's log lines.
 */
#ifndef QYVOL_SERVE_ANSWER_H
#define QYVOL_SERVE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/cgi.h"
#include "serve/http1.h"
#include "serve/wagi.h"
#include "serve/wire.h"

/* r as a WAGI request (rq); its strings point into r and into the struct
 * itself, which must not move until done with. */
typedef struct guest_request {
    wagi_request rq;
    wagi_header fixed[32], *list;
    char port[24], hostbuf[300], server_name[256];
} guest_request;

/* false when out of memory. address and port: where the server listens
 * (the Host of an HTTP/1.0 request without one). */
bool guest_request_make(guest_request *g, const http_request *r, const char *address, uint16_t port);
void guest_request_free(guest_request *g);

/* What the client gets for a WAGI run (res): the app's answer parsed
 * from its stdout, or the failure's status with why (into why, whylen).
 * resp->headers is malloc'ed (free it) and points into cgi (free with
 * cgi_response_free), and resp->err into res. */
void answer_of_run(const wagi_result *res, uint64_t timeout_ms, cgi_response *cgi, wire_response *resp, char *why,
                   size_t whylen);

/* Answer x with resp (a whole response) and X-Request-Id: id; a failure
 * without the app's headers as a line of text. The body's bytes sent. */
size_t answer_client(http_exchange *x, const wire_response *resp, const char *id);

/* The request's lines for the log: the guest's stderr (a line per line),
 * why it failed (if it did), the access line. */
typedef struct answer_log {
    const char *app, *replica, *id, *method, *path;
    uint64_t start_ns;
} answer_log;
void answer_log_lines(const answer_log *l, const wire_response *resp, size_t bytes);

/* v in base 10 or 16 at out (room for 21 bytes), NUL-terminated; its length. */
size_t answer_format_u64(char *out, unsigned long long v, unsigned base);

#endif
