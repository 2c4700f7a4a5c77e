/*
 * http1.h — a strict HTTP/1.1 server on a libevent loop: connections,
 * framing and limits; nothing about apps.
 *
 * Requests are parsed by node's http-parser, with RFC 9112's framing rules
 * enforced on top of it so that no two readings of a request exist: an
 * ambiguous or malformed head or body gets 400 (431 when too large, 413 for
 * a body over the limit, 501 for a transfer coding other than chunked) and
 * the connection is closed, so nothing after it can be taken for a request.
 * The whole head must arrive within head_timeout_ms of its first byte;
 * an idle connection or a stalled body is dropped after idle_timeout_ms.
 * One request per connection is handled at a time (later pipelined ones
 * wait in the buffer); while it runs the connection is still read, so a
 * client that goes away is noticed (http_on_abandon).
 */
#ifndef QYVOL_SERVE_HTTP1_H
#define QYVOL_SERVE_HTTP1_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;
typedef struct http_conn http_exchange; /* a request being answered */

typedef struct http_field {
    const char *name;
    const char *value;
} http_field;

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... (upper case, as sent) */
    bool head;                 /* HEAD: the answer's body is not sent */
    const char *path;          /* "/..." still %-encoded, dot segments removed */
    const char *query;         /* after '?', or "" */
    int version_minor;         /* HTTP/1.x */
    const http_field *headers; /* as sent, in order */
    size_t nheaders;
    const char *host;          /* the Host header; "" when absent (HTTP/1.0) */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
    bool body_streams;         /* the body is still coming: http_body_take */
    const char *peer;          /* the client's address */
    bool peer_loopback;        /* from this machine */
    const char *peer_identity; /* "ROLE/NAME" of the client's verified TLS certificate, or "" (tls/front.h) */
} http_request;

/* Called for each request; must lead to exactly one http_respond (or a
 * stream started and ended), now or later. */
typedef void (*http_handler)(void *ctx, http_exchange *x, const http_request *req);

typedef struct http_limits {
    size_t max_head;           /* request line and headers; more is 431 */
    size_t max_body;           /* more is 413 */
    unsigned head_timeout_ms;  /* the whole head, from its first byte */
    unsigned idle_timeout_ms;  /* between requests, and between body reads */
    unsigned max_connections;  /* more wait in the kernel's backlog */
} http_limits;

http_server *http_server_new(struct event_base *base, const http_limits *limits, http_handler handler, void *ctx);

/* Listen on address:port (a name or a numeric address). -1 with why. */
int http_server_listen(http_server *s, const char *address, uint16_t port, char *why, size_t whylen);
/* A non-blocking TCP socket listening on ADDRESS:PORT (SO_REUSEADDR,
 * backlog 1024), for servers that accept connections themselves (the TLS
 * front); -1 with why said otherwise. */
int http_listen_socket(const char *address, uint16_t port, char *why, size_t whylen);
/* An accepted peer's address as text ("127.0.0.1", "::1"; IPv4-mapped
 * IPv6 addresses as IPv4), as logs and X-Forwarded-For show it. */
struct sockaddr_storage;
void http_peer_text(const struct sockaddr_storage *ss, char *out, size_t n);

/* Serve a connected, non-blocking socket (it is closed on failure, -1).
 * peer: the client's address as text. */
int http_server_adopt(http_server *s, int fd, const char *peer);
/* The same, for a client whose TLS certificate names identity. */
int http_server_adopt_as(http_server *s, int fd, const char *peer, const char *identity);

/* Accept no more connections; close the idle ones, and the others once
 * their current answer is sent. */
void http_server_drain(http_server *s);
/* Stop taking connections from the listening socket for now (off), or
 * take them again (on; the default). */
void http_server_accept(http_server *s, bool on);
/* The socket http_server_listen made (shared with the replicas that take
 * connections themselves, replica_direct.h), -1 when none or drained. */
int http_server_listening_fd(const http_server *s);

/* ---- connections handed elsewhere
 *
 * With a divert filter set, every request's head is offered to it once
 * read (path, query, headers set; no body); when it says yes, the
 * connection is no longer this server's: take() gets its socket, the
 * client's address and the bytes received from the request's first one
 * on (its head, what came of its body, pipelined requests after it), and
 * must close the socket or pass it on (another process's server takes it
 * with http_server_adopt_input). */
typedef bool (*http_divert_filter)(void *ctx, const http_request *req);
typedef void (*http_divert_taker)(void *ctx, int fd, const char *peer, const void *bytes, size_t len);
void http_server_divert(http_server *s, http_divert_filter wants, http_divert_taker take);
/* Hand every idle connection (between requests, nothing of the next one
 * read) to the divert taker, with no bytes. */
void http_server_divert_idle(http_server *s);
/* Serve a connection whose first bytes were read elsewhere. */
int http_server_adopt_input(http_server *s, int fd, const char *peer, const void *bytes, size_t len);

/* Close every connection (requests still unanswered are dropped) and
 * free the server. */
void http_server_free(http_server *s);

size_t http_server_connections(const http_server *s);
/* counted(ctx, n) whenever the number of open connections changes. */
void http_server_on_count(http_server *s, void (*counted)(void *ctx, size_t nconns));

/* The value of r's header name (case-insensitive), or NULL. */
const char *http_request_header(const http_request *r, const char *name);

/* The request x answers. */
const http_request *http_request_of(const http_exchange *x);

/* fn(arg) is called once if the client goes away before x is answered
 * (x must still be answered: that frees it). */
void http_on_abandon(http_exchange *x, void (*fn)(void *arg), void *arg);
/* fn(arg, status) is called once when x's answer is given its status
 * (http_respond..., http_stream_start...), whether or not the client is
 * still there; with status 0 if the server is freed before x is
 * answered. For who wants to know how a request ended (the audit log). */
void http_on_answer(http_exchange *x, void (*fn)(void *arg, int status), void *arg);

/* Answer with a whole body. The framing headers (Content-Length,
 * Transfer-Encoding, Connection) are ours: such headers in `headers` are
 * left out, and so is any header a CR, LF or NUL would break. */
void http_respond(http_exchange *x, int status, const http_field *headers, size_t nheaders, const char *body,
                  size_t len);

/* Answer status + message as text/plain. */
void http_respond_text(http_exchange *x, int status, const char *message);

/* Answer with a body sent in pieces (chunked); the connection closes at
 * the end for HTTP/1.0 clients. */
void http_stream_start(http_exchange *x, int status, const http_field *headers, size_t nheaders);
void http_stream_write(http_exchange *x, const char *data, size_t len);
void http_stream_end(http_exchange *x);
/* The same with Content-Length: length; writing more than that, or
 * ending with less, cuts the connection (the framing would lie). */
void http_stream_start_sized(http_exchange *x, int status, const http_field *headers, size_t nheaders,
                             uint64_t length);
/* Break a started stream off: the connection is closed, so that the
 * client sees an incomplete answer rather than a whole one; frees x. */
void http_stream_abort(http_exchange *x);
/* Bytes of a stream the client has not taken yet (0 once it went away),
 * and fn(arg), called once when they have all gone: a producer waits for
 * a slow client instead of queueing without end. */
size_t http_stream_queued(const http_exchange *x);
void http_on_drained(http_exchange *x, void (*fn)(void *arg), void *arg);

/* ---- request bodies as they arrive
 *
 * With a filter set, a request whose head announces a body is offered to
 * it as soon as the head is read (path, query and headers set, no body);
 * when it says yes the handler is called at once with body_streams set,
 * and takes the body with http_body_take. The body limit still holds; a
 * body that breaks it or the framing ends with an error, and so does one
 * the client abandons (and http_on_abandon is called). An answer given
 * before the whole body came closes the connection after it. */
typedef bool (*http_body_filter)(void *ctx, const http_request *req);
void http_server_stream_bodies(http_server *s, http_body_filter wants);

typedef struct http_body_sink {
    void *arg;
    void (*data)(void *arg, const char *data, size_t len);
    void (*end)(void *arg, const char *error); /* error NULL: the whole body came */
} http_body_sink;
/* The body's pieces from now on, then its end (not after x is answered). */
void http_body_take(http_exchange *x, const http_body_sink *sink);
/* Stop reading the client's body for now (the consumer is behind), or go on. */
void http_body_pause(http_exchange *x, bool paused);

const char *http_reason(int status);

#endif
