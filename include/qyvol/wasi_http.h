/*
 * qyvol/wasi_http.h — WASI 0.2 HTTP (wasi:http@0.2.x) for components:
 * the `types` interface (fields, requests, responses, bodies, futures) and
 * `outgoing-handler`, defined next to the rest of WASI 0.2
 * (qv_wasip2_define), and the exchange of one incoming request with a
 * component exporting `wasi:http/incoming-handler`.
 *
 *     qv_wasip2_define(NULL, host); qv_wasi_http_define(host);   // once
 *     qv_http_exchange *x = qv_http_exchange_new(&request, &policy);
 *     qv_wasi_http_attach(wasi, x);                              // per request
 *     ci = qv_cinstance_new(...); qv_wasip2_bind(ci, wasi);
 *     trap = qv_http_handle(ci, x);
 *     qv_http_exchange_response(x, &response);
 *
 * Bodies are wasi:io streams: the guest reads the request body and writes
 * the response body in pieces; the host holds them in memory (the
 * response's growth charged to the store, as stdout is for WAGI).
 * Outbound requests go through libcurl, only to the hosts and ports the
 * policy allows (the manifest's permissions.net): the host name is
 * checked, resolved once, and the connection pinned to that address; no
 * redirect is followed; anything else is refused inside the guest with
 * error-code HTTP-request-denied and noted for the log.
 */
#ifndef QYVOL_WASI_HTTP_H
#define QYVOL_WASI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct qv_chost;
struct qv_cinstance;
typedef struct qv_http_exchange qv_http_exchange;

/* Define wasi:http/types and wasi:http/outgoing-handler (any 0.2.x) in a
 * host that has WASI 0.2 (qv_wasip2_define), with the same `wasi` (NULL:
 * each instance's, from qv_wasip2_bind). */
bool qv_wasi_http_define(qv_wasi *wasi, struct qv_chost *host);

typedef struct qv_http_field {
    const char *name;
    const char *value;
} qv_http_field;

/* Outbound HTTP allowed to the guest (the manifest's permissions.net). */
typedef enum { QV_HTTP_NET_NONE, QV_HTTP_NET_ANY, QV_HTTP_NET_RESTRICTED } qv_http_net;
typedef struct qv_http_policy {
    qv_http_net net;
    /* QV_HTTP_NET_RESTRICTED: names ("api.example.com", "*.example.com",
     * "10.0.0.7"; none: any host) and ports (none: any port). */
    const char *const *hosts;
    size_t nhosts;
    const uint16_t *ports;
    size_t nports;
    uint64_t deadline_ns;      /* CLOCK_MONOTONIC; outbound requests end by then; 0: none */
    size_t max_body;           /* the most a response body (in or out) may hold; 0: 64 MiB */
} qv_http_policy;

/* A request body that arrives in pieces while the guest runs: next gives
 * the next piece (*data valid until the next call; 1), or says the body
 * ended (0) or broke off (-1: the guest's read fails). It may block. */
typedef struct qv_http_body_source {
    void *ctx;
    int (*next)(void *ctx, const char **data, size_t *len);
} qv_http_body_source;

typedef struct qv_http_request {
    const char *method;        /* "GET" */
    const char *path_with_query; /* "/x?y=1" */
    const char *authority;     /* the Host header, or NULL */
    const qv_http_field *headers;
    size_t nheaders;
    const void *body;          /* must live as long as the exchange */
    size_t body_len;
    const qv_http_body_source *body_source; /* non-NULL: the body comes from it (body unused) */
} qv_http_request;

/* One request's exchange (the request is copied, except its body). NULL
 * when out of memory. With request NULL: an exchange for outbound
 * requests only (a command component). */
qv_http_exchange *qv_http_exchange_new(const qv_http_request *request, const qv_http_policy *policy);
void qv_http_exchange_free(qv_http_exchange *x);
/* The exchange the HTTP functions of instances bound to `wasi` use; it
 * must outlive those instances. */
void qv_wasi_http_attach(qv_wasi *wasi, qv_http_exchange *x);

/* Call the instance's wasi:http/incoming-handler@0.2.x `handle` with the
 * exchange's request. NULL when it returned; a trap otherwise (the
 * caller's). */
qv_trap *qv_http_handle(struct qv_cinstance *instance, qv_http_exchange *x);

/* Where a response goes as the guest makes it, instead of being held
 * whole: `head` when the guest sets the response-outparam, `body` with
 * the bytes of each write to its body after that (what was written
 * before comes first), `flush` when they should be on their way. Either returns false when the client is gone: the
 * guest's writes then fail as on a closed stream. The response's whole
 * body is still limited by the policy's max_body. */
typedef struct qv_http_sink {
    void *ctx;
    bool (*head)(void *ctx, int status, const qv_http_field *headers, size_t nheaders);
    bool (*body)(void *ctx, const void *data, size_t len);
    /* When the guest flushes its body's stream or waits (a sleep, a poll,
     * an outbound request): what head and body were given should go now;
     * a sink may gather them until then (and the rest of the response
     * comes at the end). NULL: nothing to do. */
    bool (*flush)(void *ctx);
} qv_http_sink;
/* Stream x's response to sink (copied); before qv_http_handle. */
void qv_http_exchange_stream(qv_http_exchange *x, const qv_http_sink *sink);

typedef struct qv_http_response {
    int status;                /* 0: the guest set no response (see why) */
    bool streamed;             /* the head went to the sink: body is what is left */
    const qv_http_field *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    bool body_too_large;       /* past max_body or the memory limit */
    const char *why;           /* "" or why there is no response to send */
} qv_http_response;
/* What the guest answered; valid until the exchange is freed. */
void qv_http_exchange_response(qv_http_exchange *x, qv_http_response *out);
/* What the host did that the log should tell (refused outbound requests,
 * one per line), "" if nothing. */
const char *qv_http_exchange_notes(const qv_http_exchange *x);

#ifdef __cplusplus
}
#endif
#endif
