/*
 * fuzz_http.c — libFuzzer harness for the HTTP front (src/serve/http1.c):
 * the input is a raw byte stream from a client. Besides the sanitizers'
 * findings, it checks what a client gets back: a sequence of well-formed
 * answers, exactly one per request the handler saw, plus at most one
 * refusal at the end (after which nothing more may be read as a request),
 * and 100 Continue interim answers only before a final one.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/http1.h"

static struct event_base *base;
static http_server *server;
static size_t handled;

static void handler(void *ctx, http_exchange *x, const http_request *req)
{
    (void)ctx;
    handled++;
    /* The path reaching an app never has a dot segment or a NUL. */
    if (strstr(req->path, "/../") || strstr(req->path, "/./") || req->path[0] != '/') abort();
    http_field h = {"X-Seen", req->method};
    http_respond(x, 200, &h, 1, "ok", 2);
}

/* Count the answers in out; abort on anything malformed. */
static void check_answers(const char *out, size_t len, size_t requests)
{
    size_t finals = 0, refusals = 0;
    const char *p = out, *end = out + len;
    while (p < end) {
        if (refusals) abort(); /* nothing may follow a refusal */
        if (end - p < 12 || memcmp(p, "HTTP/1.1 ", 9)) abort();
        int status = atoi(p + 9);
        const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!head_end) abort();
        size_t body = 0;
        const char *cl = memmem(p, (size_t)(head_end - p), "\r\nContent-Length: ", 18);
        if (cl) body = strtoul(cl + 18, NULL, 10);
        p = head_end + 4 + body;
        if (p > end) abort();
        if (status == 100) continue;
        finals++;
        if (status != 200) refusals++;
    }
    if (finals - refusals != requests) abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!base) {
        base = event_base_new();
        http_limits lim = {.max_head = 4096, .max_body = 1 << 16, .head_timeout_ms = 10000,
                           .idle_timeout_ms = 10000, .max_connections = 16};
        server = http_server_new(base, &lim, handler, NULL);
        if (!server) abort();
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) abort();
    handled = 0;
    http_server_adopt(server, sv[1], "127.0.0.1");
    size_t sent = 0, cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    bool shut = false;
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (sent < size) {
            ssize_t n = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) sent += (size_t)n;
        } else if (!shut) {
            shutdown(sv[0], SHUT_WR);
            shut = true;
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        for (;;) {
            if (len == cap) out = realloc(out, cap *= 2);
            ssize_t n = recv(sv[0], out + len, cap - len, 0);
            if (n <= 0) break;
            len += (size_t)n;
        }
        if (shut && http_server_connections(server) == 0) break;
    }
    if (http_server_connections(server) != 0) abort(); /* stuck */
    close(sv[0]);
    check_answers(out, len, handled);
    free(out);
    return 0;
}
