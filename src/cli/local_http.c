/*
 * local_http.c — see local_http.h.
 */
#include "local_http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

typedef struct call {
    struct event_base *base;
    local_http_chunk_fn on_chunk;
    void *arg;
    local_http_reply *reply;
    struct evbuffer *body; /* kept whole: not streamed, or not a 200 */
} call;

static void pass_chunk(struct evhttp_request *req, void *arg)
{
    call *c = arg;
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    if (evhttp_request_get_response_code(req) != 200) {
        evbuffer_add_buffer(c->body, b); /* an error message: whole, to the reply */
        return;
    }
    size_t n;
    while ((n = evbuffer_get_length(b)) > 0) {
        char buf[4096];
        int got = evbuffer_remove(b, buf, n < sizeof buf ? n : sizeof buf);
        if (got <= 0) break;
        c->on_chunk(buf, (size_t)got, c->arg);
    }
}

static void done(struct evhttp_request *req, void *arg)
{
    call *c = arg;
    /* The connection stays open for keep-alive: stop waiting on it. */
    event_base_loopexit(c->base, NULL);
    if (!req || !evhttp_request_get_response_code(req)) return;
    c->reply->code = evhttp_request_get_response_code(req);
    if (c->on_chunk) pass_chunk(req, c);
    else evbuffer_add_buffer(c->body, evhttp_request_get_input_buffer(req));
    if (c->on_chunk && c->reply->code == 200) return;
    size_t n = evbuffer_get_length(c->body);
    c->reply->body = malloc(n + 1);
    if (!c->reply->body) return;
    evbuffer_remove(c->body, c->reply->body, n);
    c->reply->body[n] = 0;
    c->reply->len = n;
}

int local_http_call(const char *address, uint16_t port, const char *method, const char *path, const char *token,
                    int timeout_s, local_http_chunk_fn on_chunk, void *arg, local_http_reply *reply)
{
    /* A server listening on every address is reached on loopback. */
    if (!strcmp(address, "0.0.0.0")) address = "127.0.0.1";
    else if (!strcmp(address, "::")) address = "::1";
    memset(reply, 0, sizeof *reply);
    call c = {.on_chunk = on_chunk, .arg = arg, .reply = reply};
    c.base = event_base_new();
    c.body = evbuffer_new();
    struct evhttp_connection *conn = c.base && c.body ? evhttp_connection_base_new(c.base, NULL, address, port) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(done, &c) : NULL;
    if (req) {
        if (on_chunk) evhttp_request_set_chunked_cb(req, pass_chunk);
        if (timeout_s > 0) evhttp_connection_set_timeout(conn, timeout_s);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        char host[32], bearer[100];
        snprintf(host, sizeof host, "localhost:%u", port); /* the server checks it names this machine */
        evhttp_add_header(h, "Host", host);
        if (token) {
            snprintf(bearer, sizeof bearer, "Bearer %s", token);
            evhttp_add_header(h, "Authorization", bearer);
        }
        enum evhttp_cmd_type type = strcmp(method, "POST") ? EVHTTP_REQ_GET : EVHTTP_REQ_POST;
        if (evhttp_make_request(conn, req, type, path) == 0) event_base_dispatch(c.base);
    }
    if (conn) evhttp_connection_free(conn);
    if (c.base) event_base_free(c.base);
    if (c.body) evbuffer_free(c.body);
    return reply->code ? 0 : -1;
}

void local_http_reply_free(local_http_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
}
