/*
 * http1.c — the strict HTTP/1.1 server (http1.h).
 *
 * A connection reads into one buffer. Nothing of a request is parsed
 * until its whole head (up to the empty line) is there: the head is then
 * checked as a block (size, obs-fold, field names) before http-parser
 * reads it, and http-parser's view of the framing (Content-Length or
 * chunked) is checked once more at the end of the head. The body follows
 * through the same parser, and when the request is whole the parser is
 * paused until the answer is written, so pipelined requests wait.
 *
 * Timeouts are checked by one timer per server that walks the
 * connections four times a second: no timer calls per request.
 */
#include "serve/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "serve/http_target.h"

#define TICK_MS 250
#define ACCEPT_BACKOFF_MS 100
#define READ_CHUNK 16384

typedef enum conn_state {
    CONN_HEAD,       /* waiting for (the rest of) a request head */
    CONN_BODY,       /* the head was read; its body is coming */
    CONN_HANDLING,   /* the handler has the request */
    CONN_STREAMING,  /* a chunked answer is being sent */
    CONN_WRITING,    /* the answer is given; the socket has not taken all of it */
    CONN_CLOSING,    /* an answer that ends the connection is being written */
    CONN_LINGERING,  /* written and shut down; reading what the client still sends */
} conn_state;

/* Growable bytes. */
typedef struct bytes {
    char *data;
    size_t len, cap;
} bytes;

typedef struct field_span {
    size_t name, name_len, value, value_len; /* offsets into the arena */
} field_span;

struct http_conn {
    http_server *srv;
    int fd;
    struct event *rev, *wev;
    conn_state state;
    bool dead;               /* the socket is gone; kept until answered */
    bool keep_alive;         /* after this answer */
    bool reading;            /* the read event is on */
    bool processing;         /* in process_input: frees wait for its end */
    bool again;              /* process_input was asked for while in it */
    bool free_pending;
    bool head_started;       /* bytes of a head arrived: its deadline runs */
    bool refused;            /* a request was refused: close after the answer */
    uint64_t deadline_ns;    /* 0: none */
    uint64_t head_deadline_ns;
    http_parser parser;
    bytes in;                /* received; in.data[consumed..] not parsed yet */
    size_t consumed;
    size_t head_scan;        /* where the search for the head's end goes on */
    bytes out;               /* answer bytes the socket has not taken */
    size_t out_sent;
    /* The request being read. */
    bytes arena;             /* the target and the fields' text */
    field_span *spans;
    size_t nspans, spans_cap;
    bool in_value;
    size_t target_off, target_len;
    bytes body;
    int error_status;        /* set by a parser callback that refused */
    const char *error_why;
    bool message_done;
    http_request req;
    http_field *fields;
    char *target_buf;
    /* A streamed answer of a known length: the bytes still to come. */
    bool stream_sized;
    uint64_t stream_left;
    void (*drained)(void *arg); /* once what is queued has gone (http_on_drained) */
    void *drained_arg;
    /* A body passed on as it arrives (http_server_stream_bodies). */
    bool body_streams, body_paused;
    size_t body_seen;
    http_body_sink body_sink;
    /* The handler's. */
    void (*abandon)(void *arg);
    void *abandon_arg;
    void (*answer_fn)(void *arg, int status); /* http_on_answer */
    void *answer_arg;
    char peer[64];
    char peer_identity[280];
    struct http_conn *prev, *next;
};

struct http_server {
    struct event_base *base;
    http_limits limits;
    http_handler handler;
    void *ctx;
    http_body_filter stream_bodies;
    http_divert_filter divert_wants; /* http_server_divert */
    http_divert_taker divert_take;
    void (*counted)(void *ctx, size_t nconns); /* http_server_on_count */
    int listen_fd;
    struct event *accept_ev, *tick_ev, *backoff_ev;
    bool accepting;          /* the accept event is on */
    bool accept_paused;      /* http_server_accept */
    bool draining;
    size_t nconns;           /* open sockets (max_connections bounds it) */
    struct http_conn *conns; /* every connection, closed ones a handler still holds too */
    char date[40];           /* the Date header's value, made once a second */
    time_t date_at;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool reserve(bytes *b, size_t extra)
{
    if (b->len + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return false;
    b->data = d, b->cap = cap;
    return true;
}

static bool append(bytes *b, const void *data, size_t n)
{
    if (!reserve(b, n + 1)) return false;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

const char *http_reason(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return code < 300 ? "OK" : code < 400 ? "Redirect" : code < 500 ? "Client Error" : "Server Error";
    }
}

/* ------------------------------------------------------------ closing */

static void conn_free(struct http_conn *c)
{
    if (c->processing) {
        c->free_pending = true;
        return;
    }
    http_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c->in.data);
    free(c->out.data);
    free(c->arena.data);
    free(c->spans);
    free(c->body.data);
    free(c->fields);
    free(c->target_buf);
    free(c);
}

static void accept_resume(http_server *s);

/* Close the socket. While the handler holds a request the connection is
 * kept (dead) until it answers; the handler hears of it through abandon. */
static void conn_close(struct http_conn *c)
{
    if (!c->dead) {
        c->dead = true;
        event_free(c->rev);
        event_free(c->wev);
        c->rev = c->wev = NULL;
        close(c->fd);
        c->fd = -1;
        c->srv->nconns--;
        if (c->srv->counted) c->srv->counted(c->srv->ctx, c->srv->nconns);
        accept_resume(c->srv);
    }
    if (c->state == CONN_HANDLING || c->state == CONN_STREAMING) {
        void (*fn)(void *) = c->abandon;
        c->abandon = NULL;
        if (fn) fn(c->abandon_arg);
        return;
    }
    conn_free(c);
}

/* ------------------------------------------------------------ writing */

static void set_reading(struct http_conn *c, bool on)
{
    if (c->dead || c->reading == on) return;
    c->reading = on;
    if (on) event_add(c->rev, NULL);
    else event_del(c->rev);
}

static void process_input(struct http_conn *c);

static uint64_t after_ms(unsigned ms)
{
    return now_ns() + (uint64_t)ms * 1000000u;
}

/* The request's state, cleared for the next one. */
static void reset_request(struct http_conn *c)
{
    c->arena.len = 0;
    c->nspans = 0;
    c->in_value = false;
    c->body.len = 0;
    c->error_status = 0;
    c->error_why = NULL;
    c->message_done = false;
    free(c->target_buf);
    c->target_buf = NULL;
    c->abandon = NULL;
    c->answer_fn = NULL;
    c->stream_sized = false;
    c->drained = NULL;
    c->body_streams = c->body_paused = false;
    c->body_seen = 0;
    c->body_sink = (http_body_sink){0};
    memset(&c->req, 0, sizeof c->req);
}

/* Shut our side down and read (and drop) what the client still sends for
 * a moment, so that closing does not reset the connection before the
 * client has read the answer (RFC 9112 9.6). */
static void linger(struct http_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGERING;
    c->deadline_ns = after_ms(2000);
    set_reading(c, true);
}

/* After an answer is wholly written: the next request, or close. */
static void answer_written(struct http_conn *c)
{
    if (c->state == CONN_CLOSING) {
        linger(c);
        return;
    }
    if (!c->keep_alive || c->srv->draining) {
        conn_close(c);
        return;
    }
    c->state = CONN_HEAD;
    c->head_started = false;
    c->deadline_ns = after_ms(c->srv->limits.idle_timeout_ms);
    http_parser_pause(&c->parser, 0);
    set_reading(c, true);
    process_input(c);
}

/* Write what is queued; 1 when all of it went, 0 when the socket is
 * full, -1 when the connection broke. */
static int flush_out(struct http_conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
    }
    c->out.len = c->out_sent = 0;
    return 1;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct http_conn *c = arg;
    int r = flush_out(c);
    if (r < 0) {
        conn_close(c);
        return;
    }
    if (r == 0) return;
    event_del(c->wev);
    if (c->state == CONN_WRITING || c->state == CONN_CLOSING) answer_written(c);
    else if (c->state == CONN_STREAMING && c->drained) {
        void (*fn)(void *) = c->drained;
        c->drained = NULL;
        fn(c->drained_arg);
    }
}

/* Send iov: straight to the socket when nothing waits before it, the
 * rest queued. Returns false when the connection broke. */
static bool send_iov(struct http_conn *c, struct iovec *iov, int n)
{
    if (c->dead) return false;
    size_t skip = 0;
    if (c->out.len == 0) {
        ssize_t w;
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        do w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        skip = w > 0 ? (size_t)w : 0;
    }
    for (int i = 0; i < n; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        if (!append(&c->out, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip)) return false;
        skip = 0;
    }
    if (c->out.len) event_add(c->wev, NULL);
    return true;
}

static const char *date_value(http_server *s)
{
    time_t t = time(NULL);
    if (t != s->date_at) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_at = t;
    }
    return s->date;
}

/* Headers the server owns, or that would break the framing; name_len is
 * strlen(f->name). By length first: this runs for every header of every
 * answer. */
static bool header_allowed(const http_field *f, size_t name_len)
{
    const char *ours;
    switch (name_len) {
    case 0: return false;
    case 4: ours = "date"; break;
    case 10: ours = (f->name[0] | 0x20) == 'c' ? "connection" : "keep-alive"; break;
    case 14: ours = "content-length"; break;
    case 17: ours = "transfer-encoding"; break;
    default: ours = NULL;
    }
    if (ours && !strcasecmp(f->name, ours)) return false;
    for (const char *p = f->name; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == ':' || (unsigned char)*p >= 0x7f) return false;
    for (const char *p = f->value; *p; p++)
        if (*p == '\r' || *p == '\n') return false;
    return true;
}

static bool bodiless_status(int status)
{
    return status < 200 || status == 204 || status == 304;
}

/* The decimal digits of v at out (room for 20); their count. */
static size_t put_decimal(char *out, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do digits[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

/* The status line and headers of an answer, without printf (this runs
 * for every answer): chunked, or with Content-Length: len when the status
 * allows a body (none for SIZE_MAX: the close ends it). */
static bool build_head(struct http_conn *c, bytes *h, int status, const http_field *headers, size_t n,
                       bool chunked, size_t len)
{
    const char *reason = http_reason(status), *date = date_value(c->srv);
    size_t want = 128 + strlen(reason) + strlen(date);
    for (size_t i = 0; i < n; i++) want += strlen(headers[i].name) + strlen(headers[i].value) + 4;
    if (!reserve(h, want)) return false;
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10), (char)('0' + status % 10), ' '};
    bool ok = append(h, "HTTP/1.1 ", 9) && append(h, code, 4) && append(h, reason, strlen(reason)) &&
              append(h, "\r\nDate: ", 8) && append(h, date, strlen(date)) && append(h, "\r\n", 2);
    for (size_t i = 0; ok && i < n; i++) {
        size_t name_len = strlen(headers[i].name);
        if (!header_allowed(&headers[i], name_len)) continue;
        ok = append(h, headers[i].name, name_len) && append(h, ": ", 2) &&
             append(h, headers[i].value, strlen(headers[i].value)) && append(h, "\r\n", 2);
    }
    if (chunked) ok = ok && append(h, "Transfer-Encoding: chunked\r\n", 28);
    else if (!bodiless_status(status) && len != SIZE_MAX) {
        char line[40] = "Content-Length: ";
        size_t k = 16 + put_decimal(line + 16, len);
        line[k++] = '\r', line[k++] = '\n';
        ok = ok && append(h, line, k);
    }
    if (!c->keep_alive) ok = ok && append(h, "Connection: close\r\n", 19);
    else if (c->req.version_minor == 0) ok = ok && append(h, "Connection: keep-alive\r\n", 24);
    return ok && append(h, "\r\n", 2);
}

/* The answer is handed to the socket (or queued): on to what follows. */
static void answered(struct http_conn *c, bool sent)
{
    if (c->body_streams && !c->message_done) c->keep_alive = false; /* the rest of the body is not read */
    reset_request(c);
    c->state = c->refused ? CONN_CLOSING : CONN_WRITING; /* not HANDLING: a close frees it */
    if (!sent) {
        conn_close(c);
        return;
    }
    if (c->out.len) { /* on_writable finishes */
        c->deadline_ns = after_ms(c->srv->limits.idle_timeout_ms);
        set_reading(c, false);
        return;
    }
    answer_written(c);
}

/* Tell http_on_answer's fn the status, once. */
static void answer_status(http_exchange *c, int status)
{
    void (*fn)(void *, int) = c->answer_fn;
    c->answer_fn = NULL;
    if (fn) fn(c->answer_arg, status);
}

void http_respond(http_exchange *c, int status, const http_field *headers, size_t n, const char *body, size_t len)
{
    c->abandon = NULL;
    answer_status(c, status);
    if (c->dead) {
        c->state = CONN_WRITING;
        conn_free(c);
        return;
    }
    if (c->srv->draining) c->keep_alive = false;
    bytes head = {0};
    bool with_body = !c->req.head && !bodiless_status(status) && len;
    bool ok = build_head(c, &head, status, headers, n, false, len);
    struct iovec iov[2] = {{head.data, head.len}, {(void *)body, len}};
    ok = ok && send_iov(c, iov, with_body ? 2 : 1);
    free(head.data);
    answered(c, ok);
}

void http_respond_text(http_exchange *x, int status, const char *message)
{
    char text[640];
    int n = snprintf(text, sizeof text, "%d %s: %s\n", status, http_reason(status), message);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof text) n = sizeof text - 1;
    http_field type = {"Content-Type", "text/plain; charset=utf-8"};
    http_respond(x, status, &type, 1, text, (size_t)n);
}

/* The head of a streamed answer: chunked unless sized (or HTTP/1.0,
 * whose end is the close). */
static void stream_head(http_exchange *c, int status, const http_field *headers, size_t n, bool sized,
                        uint64_t length)
{
    c->state = CONN_STREAMING;
    answer_status(c, status);
    c->stream_sized = sized && !bodiless_status(status);
    c->stream_left = c->stream_sized && !c->req.head ? length : 0;
    if (c->dead) return;
    bool chunked = !c->stream_sized && c->req.version_minor >= 1 && !c->req.head;
    if (!c->stream_sized && !chunked && !c->req.head) c->keep_alive = false;
    bytes head = {0};
    bool ok = build_head(c, &head, status, headers, n, chunked, c->stream_sized || c->req.head ? (size_t)length : SIZE_MAX);
    struct iovec iov = {head.data, head.len};
    ok = ok && send_iov(c, &iov, 1);
    free(head.data);
    if (!ok) conn_close(c);
}

void http_stream_start(http_exchange *c, int status, const http_field *headers, size_t n)
{
    stream_head(c, status, headers, n, false, 0);
}

void http_stream_start_sized(http_exchange *c, int status, const http_field *headers, size_t n, uint64_t length)
{
    stream_head(c, status, headers, n, true, length);
}

void http_stream_abort(http_exchange *c)
{
    c->abandon = NULL;
    c->keep_alive = false;
    c->state = CONN_WRITING; /* not STREAMING: closing frees it */
    if (c->dead) conn_free(c);
    else conn_close(c);
}

void http_stream_write(http_exchange *c, const char *data, size_t len)
{
    if (c->dead || c->req.head || !len) return;
    if (c->stream_sized && len > c->stream_left) { /* more than it said: the framing would break */
        conn_close(c);
        return;
    }
    c->stream_left -= c->stream_sized ? len : 0;
    char size[24];
    bool chunked = !c->stream_sized && c->req.version_minor >= 1;
    int k = chunked ? snprintf(size, sizeof size, "%zx\r\n", len) : 0;
    struct iovec iov[3] = {{size, (size_t)k}, {(void *)data, len}, {"\r\n", chunked ? 2 : 0}};
    if (!send_iov(c, iov, 3)) conn_close(c);
}

void http_stream_end(http_exchange *c)
{
    c->abandon = NULL;
    if (c->dead) {
        c->state = CONN_WRITING;
        conn_free(c);
        return;
    }
    if (c->stream_sized && c->stream_left) { /* less than it said */
        http_stream_abort(c);
        return;
    }
    bool ok = true;
    if (!c->stream_sized && c->req.version_minor >= 1 && !c->req.head) {
        struct iovec iov = {"0\r\n\r\n", 5};
        ok = send_iov(c, &iov, 1);
    }
    if (c->srv->draining) c->keep_alive = false;
    answered(c, ok);
}

size_t http_stream_queued(const http_exchange *x)
{
    return x->dead ? 0 : x->out.len - x->out_sent;
}

void http_on_drained(http_exchange *x, void (*fn)(void *arg), void *arg)
{
    x->drained = fn;
    x->drained_arg = arg;
}

const char *http_request_header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

const http_request *http_request_of(const http_exchange *x)
{
    return &x->req;
}

void http_on_abandon(http_exchange *x, void (*fn)(void *arg), void *arg)
{
    x->abandon = fn;
    x->abandon_arg = arg;
}

void http_on_answer(http_exchange *x, void (*fn)(void *arg, int status), void *arg)
{
    x->answer_fn = fn;
    x->answer_arg = arg;
}

/* ------------------------------------------------------------ parsing */

/* An answer that ends the connection: nothing after a request we could
 * not read can be trusted to be a request. */
static void refuse(struct http_conn *c, int status, const char *why)
{
    reset_request(c);
    c->keep_alive = false;
    c->refused = true;
    c->state = CONN_HANDLING;
    http_respond_text(c, status, why); /* c may be gone */
}

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 5.6.2 token characters. */
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* A NUL after the text just added, kept in the arena. */
static bool end_string(bytes *b)
{
    if (!reserve(b, 1)) return false;
    b->data[b->len++] = '\0';
    return true;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (!c->target_len) c->target_off = c->arena.len;
    c->target_len += n;
    return append(&c->arena, at, n) ? 0 : -1;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->in_value || !c->nspans) {
        if (c->nspans == c->spans_cap) {
            size_t cap = c->spans_cap ? c->spans_cap * 2 : 16;
            field_span *s = realloc(c->spans, cap * sizeof *s);
            if (!s) return -1;
            c->spans = s, c->spans_cap = cap;
        }
        if (c->nspans && !end_string(&c->arena)) return -1; /* the previous value */
        c->spans[c->nspans++] = (field_span){.name = c->arena.len};
        c->in_value = false;
    }
    c->spans[c->nspans - 1].name_len += n;
    return append(&c->arena, at, n) ? 0 : -1;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    field_span *f = &c->spans[c->nspans - 1];
    if (!c->in_value) {
        if (!end_string(&c->arena)) return -1; /* the name */
        f->value = c->arena.len;
        c->in_value = true;
    }
    f->value_len += n;
    return append(&c->arena, at, n) ? 0 : -1;
}

static const char *span_name(const struct http_conn *c, const field_span *f)
{
    return c->arena.data + f->name;
}

/* The field's value, trimmed of trailing whitespace (http-parser leaves
 * it; leading whitespace it drops). */
static const char *span_value(struct http_conn *c, field_span *f)
{
    char *v = c->arena.data + f->value;
    while (f->value_len && (v[f->value_len - 1] == ' ' || v[f->value_len - 1] == '\t')) f->value_len--;
    v[f->value_len] = '\0';
    return v;
}

/* Transfer-Encoding: only chunked, once, is understood (RFC 9112 6.1). */
static int check_transfer_coding(struct http_conn *c, const char *v, int *chunked_seen, const char **why)
{
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        if (!*v) break;
        size_t n = strcspn(v, " \t,;");
        if (n == 7 && !strncasecmp(v, "chunked", 7)) {
            if (++*chunked_seen > 1) {
                *why = "chunked is applied more than once";
                return 400;
            }
        } else {
            *why = "only the chunked transfer coding is supported";
            return 501;
        }
        v += n;
        while (*v == ' ' || *v == '\t') v++;
        if (*v && *v != ',') {
            *why = "a transfer coding with parameters is not supported";
            return 501;
        }
    }
    (void)c;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    const http_limits *lim = &c->srv->limits;
    if (p->http_major != 1) {
        c->error_status = 505, c->error_why = "only HTTP/1.0 and HTTP/1.1 are served";
        return -1;
    }
    switch (p->method) {
    case HTTP_GET: case HTTP_HEAD: case HTTP_POST: case HTTP_PUT:
    case HTTP_DELETE: case HTTP_OPTIONS: case HTTP_PATCH: break;
    default:
        c->error_status = 501, c->error_why = "this method is not served";
        return -1;
    }
    if (c->nspans && !end_string(&c->arena)) return -1;
    int hosts = 0, chunked = 0, status = 0;
    const char *why = NULL, *host = "", *expect = NULL;
    for (size_t i = 0; i < c->nspans && !status; i++) {
        field_span *f = &c->spans[i];
        const char *name = span_name(c, f);
        if (!f->name_len) status = 400, why = "a header has an empty name";
        for (size_t k = 0; k < f->name_len && !status; k++)
            if (!is_tchar((unsigned char)name[k]))
                status = 400, why = "a header name has a character a name cannot have (space, control, ...)";
        if (status) break;
        const char *value = span_value(c, f);
        if (!strcasecmp(name, "host")) hosts++, host = value;
        else if (!strcasecmp(name, "transfer-encoding")) status = check_transfer_coding(c, value, &chunked, &why);
        else if (!strcasecmp(name, "expect")) expect = value;
    }
    if (!status && p->http_minor >= 1 && hosts != 1)
        status = 400, why = hosts ? "more than one Host header" : "an HTTP/1.1 request needs a Host header";
    if (!status && hosts > 1) status = 400, why = "more than one Host header";
    if (!status && chunked && p->http_minor == 0)
        status = 400, why = "Transfer-Encoding in an HTTP/1.0 request";
    if (!status && p->content_length != ULLONG_MAX && p->content_length > lim->max_body)
        status = 413, why = "the request body is larger than the server accepts";
    if (!status && expect) {
        if (strcasecmp(expect, "100-continue")) status = 417, why = "only Expect: 100-continue is understood";
        else if (p->http_minor >= 1 && (chunked || (p->content_length && p->content_length != ULLONG_MAX))) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            struct iovec iov = {(void *)cont, sizeof cont - 1};
            send_iov(c, &iov, 1);
        }
    }
    if (status) {
        c->error_status = status, c->error_why = why;
        return -1;
    }
    c->req.host = host;
    c->req.version_minor = p->http_minor;
    c->req.method = http_method_str(p->method);
    c->req.head = p->method == HTTP_HEAD;
    c->keep_alive = http_should_keep_alive(p);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (c->body_seen + n > c->srv->limits.max_body) {
        c->error_status = 413, c->error_why = "the request body is larger than the server accepts";
        return -1;
    }
    c->body_seen += n;
    if (c->body_streams && c->body_sink.data) {
        c->body_sink.data(c->body_sink.arg, at, n);
        return 0;
    }
    return append(&c->body, at, n) ? 0 : -1;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->message_done = true;
    http_parser_pause(p, 1);
    if (c->body_streams && c->body_sink.end) c->body_sink.end(c->body_sink.arg, NULL);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The status for a parser error. */
static int parse_error_status(struct http_conn *c, const char **why)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->error_status) {
        *why = c->error_why;
        return c->error_status;
    }
    switch (e) {
    case HPE_INVALID_TRANSFER_ENCODING:
        *why = "only the chunked transfer coding is supported";
        return 501;
    case HPE_HEADER_OVERFLOW:
        *why = "the request's headers are too large";
        return 431;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        *why = "the request's length is ambiguous (Content-Length twice, or with Transfer-Encoding)";
        return 400;
    case HPE_INVALID_CONTENT_LENGTH:
        *why = "the Content-Length is not a number";
        return 400;
    case HPE_INVALID_METHOD:
        *why = "this method is not served";
        return 501;
    case HPE_INVALID_CHUNK_SIZE:
        *why = "a chunk size is malformed";
        return 400;
    default:
        *why = http_errno_description(e);
        return 400;
    }
}

/* Run the parser over the next len received bytes. False when they are
 * not HTTP: the request is refused (and the connection ends). */
static bool feed(struct http_conn *c, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data + c->consumed, len);
    c->consumed += n;
    c->head_scan = c->consumed;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK || e == HPE_PAUSED) return true;
    const char *why;
    int status = parse_error_status(c, &why);
    refuse(c, status, why);
    return false;
}

/* The request's fields and target, for the handler; false when refused. */
static bool prepare(struct http_conn *c)
{
    http_request *r = &c->req;
    c->fields = realloc(c->fields, (c->nspans ? c->nspans : 1) * sizeof *c->fields);
    free(c->target_buf); /* prepared once already when offered early */
    c->target_buf = malloc(c->target_len + 3);
    if (!c->fields || !c->target_buf) {
        refuse(c, 503, "out of memory");
        return false;
    }
    for (size_t i = 0; i < c->nspans; i++)
        c->fields[i] = (http_field){span_name(c, &c->spans[i]), c->arena.data + c->spans[i].value};
    const char *why = http_target_parse(c->arena.data + c->target_off, c->target_len, c->target_buf, &r->path,
                                        &r->query);
    if (why) {
        refuse(c, 400, why);
        return false;
    }
    r->headers = c->fields;
    r->nheaders = c->nspans;
    r->body = c->body.len ? c->body.data : "";
    r->body_len = c->body.len;
    r->peer = c->peer;
    r->peer_loopback = !strncmp(c->peer, "127.", 4) || !strcmp(c->peer, "::1");
    r->peer_identity = c->peer_identity;
    return true;
}

static void hand_over(struct http_conn *c)
{
    c->state = CONN_HANDLING;
    c->deadline_ns = 0;
    c->srv->handler(c->srv->ctx, c, &c->req);
}

/* The whole request is here: hand it over. */
static void dispatch(struct http_conn *c)
{
    if (prepare(c)) hand_over(c);
}

/* The head is here and its body is coming: hand it over now if the
 * handler takes bodies as they arrive. */
static bool dispatch_early(struct http_conn *c)
{
    if (!c->srv->stream_bodies || !prepare(c)) return false;
    if (!c->srv->stream_bodies(c->srv->ctx, &c->req)) return false;
    c->body_streams = c->req.body_streams = true;
    hand_over(c);
    return true;
}

/* More of a body being passed on. Past an error nothing more is parsed
 * (the answer closes the connection): the sink hears why. */
static void feed_streamed(struct http_conn *c)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data + c->consumed, c->in.len - c->consumed);
    c->consumed += n;
    c->head_scan = c->consumed;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK || e == HPE_PAUSED) return;
    const char *why;
    parse_error_status(c, &why);
    c->message_done = true;
    c->keep_alive = false;
    c->consumed = c->in.len;
    if (c->body_sink.end) c->body_sink.end(c->body_sink.arg, why);
}

void http_server_stream_bodies(http_server *s, http_body_filter wants)
{
    s->stream_bodies = wants;
}

void http_body_take(http_exchange *c, const http_body_sink *sink)
{
    c->body_sink = *sink;
    if (c->body.len) sink->data(sink->arg, c->body.data, c->body.len); /* (none: taken at once) */
    c->body.len = 0;
}

void http_body_pause(http_exchange *c, bool paused)
{
    if (c->body_paused == paused) return;
    c->body_paused = paused;
    if (paused || c->dead || !c->body_streams) return;
    set_reading(c, true);
    process_input(c);
}

/* The connection, with bytes (what was read of it and is not answered)
 * to the divert taker; c is freed (once process_input is done with it). */
static void hand_off(struct http_conn *c, const char *bytes, size_t len)
{
    http_server *s = c->srv;
    int fd = c->fd;
    event_free(c->rev);
    event_free(c->wev);
    c->rev = c->wev = NULL;
    c->fd = -1;
    c->dead = true;
    s->nconns--;
    if (s->counted) s->counted(s->ctx, s->nconns);
    c->state = CONN_WRITING; /* nothing to answer */
    s->divert_take(s->ctx, fd, c->peer, bytes, len);
    accept_resume(s);
    conn_free(c);
}

/* A request whose head was just read, from start on: handed over with
 * its connection when the divert filter wants it (true: c is gone). */
static bool divert(struct http_conn *c, size_t start)
{
    http_server *s = c->srv;
    if (!prepare(c)) return true; /* refused (the answer closes c) */
    if (!s->divert_wants(s->ctx, &c->req)) return false;
    hand_off(c, c->in.data + start, c->in.len - start);
    return true;
}

void http_server_divert_idle(http_server *s)
{
    struct http_conn *next;
    for (struct http_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (!c->dead && c->state == CONN_HEAD && !c->head_started && c->consumed == c->in.len)
            hand_off(c, "", 0);
    }
}

void http_server_on_count(http_server *s, void (*counted)(void *ctx, size_t nconns))
{
    s->counted = counted;
}

void http_server_divert(http_server *s, http_divert_filter wants, http_divert_taker take)
{
    s->divert_wants = wants;
    s->divert_take = take;
}

/* Where the head starting at from ends (just past its empty line), or 0
 * when it has not all come. A bare LF ends lines as CRLF does. */
static size_t head_end(struct http_conn *c)
{
    char *base = c->in.data;
    size_t start = c->consumed, i = c->head_scan > start ? c->head_scan : start;
    for (; i < c->in.len; i++) {
        if (base[i] != '\n') continue;
        if (i + 1 < c->in.len && base[i + 1] == '\n') return i + 2;
        if (i + 2 < c->in.len && base[i + 1] == '\r' && base[i + 2] == '\n') return i + 3;
        if (i + 2 >= c->in.len) break; /* cannot tell yet */
    }
    c->head_scan = i;
    return 0;
}

/* Parse what has come, as far as it goes. */
static void process_input(struct http_conn *c)
{
    if (c->processing) {
        c->again = true;
        return;
    }
    c->processing = true;
    const http_limits *lim = &c->srv->limits;
    do {
        c->again = false;
        if (c->dead) break;
        if (c->state == CONN_HEAD) {
            /* Empty lines before a request line are ignored (RFC 9112 2.2). */
            while (c->consumed < c->in.len && c->consumed < 4 && (c->in.data[c->consumed] == '\r' ||
                                                                   c->in.data[c->consumed] == '\n'))
                c->consumed++;
            if (c->consumed == c->in.len) break;
            /* The whole head within head_timeout, and no pause in it
             * longer than idle_timeout. */
            uint64_t idle = after_ms(lim->idle_timeout_ms);
            if (!c->head_started) {
                c->head_started = true;
                c->head_deadline_ns = after_ms(lim->head_timeout_ms);
            }
            c->deadline_ns = idle < c->head_deadline_ns ? idle : c->head_deadline_ns;
            size_t end = head_end(c);
            if (!end) {
                if (c->in.len - c->consumed > lim->max_head) refuse(c, 431, "the request's headers are too large");
                break;
            }
            if (end - c->consumed > lim->max_head) {
                refuse(c, 431, "the request's headers are too large");
                break;
            }
            /* obs-fold (a line starting with space or tab) is refused
             * (RFC 9112 5.2): it lets two parsers see two headers. */
            const char *h = c->in.data + c->consumed;
            if (memchr(h, '\n', end - c->consumed - 1)) {
                bool fold = false;
                for (const char *q = h; q < c->in.data + end - 1; q++)
                    if (*q == '\n' && (q[1] == ' ' || q[1] == '\t')) fold = true;
                if (fold || *h == ' ' || *h == '\t') {
                    refuse(c, 400, "a header line is folded (obs-fold) or starts with whitespace");
                    break;
                }
            }
            reset_request(c);
            c->target_len = 0;
            c->head_started = false;
            size_t start = c->consumed;
            if (!feed(c, end - c->consumed)) break;
            if (c->srv->divert_wants && divert(c, start)) break;
            if (c->message_done) {
                dispatch(c);
                continue;
            }
            if (dispatch_early(c)) {
                c->again = true;
                continue;
            }
            if (c->state != CONN_HEAD) break; /* refused by prepare */
            c->state = CONN_BODY;
            c->deadline_ns = after_ms(lim->idle_timeout_ms);
            c->again = true;
        } else if (c->state == CONN_BODY) {
            if (c->consumed == c->in.len) break;
            if (!feed(c, c->in.len - c->consumed)) break;
            c->deadline_ns = after_ms(lim->idle_timeout_ms);
            if (c->message_done) dispatch(c);
        } else if (c->body_streams && !c->message_done && !c->body_paused) {
            if (c->consumed == c->in.len) break;
            feed_streamed(c);
        }
        if (c->consumed == c->in.len) c->in.len = c->consumed = c->head_scan = 0;
    } while (c->again);
    c->processing = false;
    if (c->free_pending) {
        c->free_pending = false;
        conn_free(c);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct http_conn *c = arg;
    http_server *s = c->srv;
    if (c->state == CONN_LINGERING) {
        char sink[4096];
        ssize_t n;
        while ((n = recv(fd, sink, sizeof sink, 0)) > 0) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) conn_close(c);
        return;
    }
    /* Move the unparsed rest to the front before it grows. */
    if (c->consumed && c->consumed * 2 >= c->in.len) {
        memmove(c->in.data, c->in.data + c->consumed, c->in.len - c->consumed);
        c->in.len -= c->consumed;
        c->head_scan = c->head_scan > c->consumed ? c->head_scan - c->consumed : 0;
        c->consumed = 0;
    }
    for (;;) {
        /* A handled request's pipelined followers are not read past a
         * bound: what waits must not grow without end. */
        bool waiting = c->state != CONN_HEAD && c->state != CONN_BODY &&
                       !(c->body_streams && !c->message_done && !c->body_paused);
        if (waiting && c->in.len - c->consumed > s->limits.max_head + READ_CHUNK) {
            set_reading(c, false);
            break;
        }
        if (!reserve(&c->in, READ_CHUNK + 1)) {
            conn_close(c);
            return;
        }
        ssize_t n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            if ((size_t)n < READ_CHUNK) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_close(c); /* end of stream or reset: abandons a request being handled */
        return;
    }
    if (c->state == CONN_HEAD || c->state == CONN_BODY || (c->body_streams && !c->message_done)) process_input(c);
}

/* ------------------------------------------------------------ accepting */

static void on_accept(evutil_socket_t fd, short what, void *arg);

static void accept_pause(http_server *s)
{
    if (!s->accepting) return;
    event_del(s->accept_ev);
    s->accepting = false;
}

static void accept_resume(http_server *s)
{
    if (s->accepting || s->draining || s->accept_paused || s->listen_fd < 0 ||
        s->nconns >= s->limits.max_connections)
        return;
    if (event_pending(s->backoff_ev, EV_TIMEOUT, NULL)) return;
    event_add(s->accept_ev, NULL);
    s->accepting = true;
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    accept_resume(arg);
}

void http_peer_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)n);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
        else inet_ntop(AF_INET6, a, out, (socklen_t)n);
    } else {
        snprintf(out, n, "unknown");
    }
}

int http_server_adopt_input(http_server *s, int fd, const char *peer, const void *bytes, size_t len)
{
    if (http_server_adopt(s, fd, peer) != 0) return -1;
    struct http_conn *c = s->conns;
    if (len && !append(&c->in, bytes, len)) {
        conn_close(c);
        return -1;
    }
    process_input(c);
    return 0;
}

int http_server_adopt(http_server *s, int fd, const char *peer)
{
    return http_server_adopt_as(s, fd, peer, "");
}

int http_server_adopt_as(http_server *s, int fd, const char *peer, const char *identity)
{
    struct http_conn *c = calloc(1, sizeof *c);
    if (c) {
        c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, c);
        c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    }
    if (!c || !c->rev || !c->wev || event_add(c->rev, NULL)) {
        if (c && c->rev) event_free(c->rev);
        if (c && c->wev) event_free(c->wev);
        free(c);
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on other sockets */
    c->srv = s;
    c->fd = fd;
    c->reading = true;
    c->state = CONN_HEAD;
    c->deadline_ns = after_ms(s->limits.head_timeout_ms);
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    snprintf(c->peer_identity, sizeof c->peer_identity, "%s", identity);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (s->counted) s->counted(s->ctx, s->nconns);
    return 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    http_server *s = arg;
    while (s->nconns < s->limits.max_connections) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            /* Out of descriptors or memory: stop trying for a moment
             * rather than spin on a listening socket that stays ready. */
            accept_pause(s);
            struct timeval t = {0, ACCEPT_BACKOFF_MS * 1000};
            event_add(s->backoff_ev, &t);
            return;
        }
        char peer[64];
        http_peer_text(&ss, peer, sizeof peer);
        http_server_adopt(s, fd, peer);
    }
    accept_pause(s); /* at the cap: accept_resume when one closes */
}

/* Four times a second: drop the connections past their deadline. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    http_server *s = arg;
    uint64_t now = now_ns();
    struct http_conn *next;
    for (struct http_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->dead || !c->deadline_ns || now < c->deadline_ns) continue;
        c->deadline_ns = 0;
        if ((c->state == CONN_HEAD && c->head_started) || c->state == CONN_BODY) {
            refuse(c, 408, "the request did not arrive in time");
        } else {
            conn_close(c); /* idle, or not reading its answer */
        }
    }
}

http_server *http_server_new(struct event_base *base, const http_limits *limits, http_handler handler, void *ctx)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->limits = *limits;
    s->handler = handler;
    s->ctx = ctx;
    s->listen_fd = -1;
    s->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, s);
    s->backoff_ev = evtimer_new(base, on_backoff, s);
    struct timeval tick = {0, TICK_MS * 1000};
    if (!s->tick_ev || !s->backoff_ev || event_add(s->tick_ev, &tick)) {
        http_server_free(s);
        return NULL;
    }
    return s;
}

int http_listen_socket(const char *address, uint16_t port, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    int rc = getaddrinfo(address, service, &hints, &res);
    if (rc) {
        snprintf(why, whylen, "cannot listen on %s:%u: %s", address, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
        snprintf(why, whylen, "cannot listen on %s:%u: %s", address, port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int http_server_listen(http_server *s, const char *address, uint16_t port, char *why, size_t whylen)
{
    int fd = http_listen_socket(address, port, why, whylen);
    if (fd < 0) return -1;
    s->listen_fd = fd;
    s->accept_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_accept, s);
    if (!s->accept_ev) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    accept_resume(s);
    return 0;
}

void http_server_accept(http_server *s, bool on)
{
    s->accept_paused = !on;
    if (on) accept_resume(s);
    else accept_pause(s);
}

int http_server_listening_fd(const http_server *s)
{
    return s->listen_fd;
}

void http_server_drain(http_server *s)
{
    s->draining = true;
    accept_pause(s);
    if (s->listen_fd >= 0) close(s->listen_fd), s->listen_fd = -1;
    struct http_conn *next;
    for (struct http_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state == CONN_HEAD && !c->head_started && c->consumed == c->in.len) conn_close(c);
        else c->keep_alive = false;
    }
}

size_t http_server_connections(const http_server *s)
{
    return s->nconns;
}

void http_server_free(http_server *s)
{
    if (!s) return;
    while (s->conns) {
        struct http_conn *c = s->conns;
        c->abandon = NULL;
        answer_status(c, 0); /* never answered */
        c->processing = false;
        if (!c->dead) conn_close(c);
        if (s->conns == c) {
            c->state = CONN_WRITING;
            conn_free(c);
        }
    }
    if (s->accept_ev) event_free(s->accept_ev);
    if (s->tick_ev) event_free(s->tick_ev);
    if (s->backoff_ev) event_free(s->backoff_ev);
    if (s->listen_fd >= 0) close(s->listen_fd);
    free(s);
}
