/*
 * local_http.h — one HTTP request from a CLI command to a running
 * `qyv serve` (reload, logs), with libevent's HTTP client.
 */
#ifndef QYVOL_CLI_LOCAL_HTTP_H
#define QYVOL_CLI_LOCAL_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Called with each piece of the body as it arrives (streamed replies). */
typedef void (*local_http_chunk_fn)(const char *data, size_t len, void *arg);

typedef struct local_http_reply {
    int code;   /* HTTP status; 0 when no server answered */
    char *body; /* NUL-terminated, malloc'd; NULL when streamed */
    size_t len;
} local_http_reply;

/* Sends METHOD ("GET" or "POST") PATH to address:port (with token as a
 * bearer token, unless NULL) and waits for the
 * whole reply, at most timeout_s seconds (0: no limit). With on_chunk
 * the body goes there as it comes instead of into reply->body. Returns
 * 0 when a reply came, -1 otherwise. */
int local_http_call(const char *address, uint16_t port, const char *method, const char *path, const char *token,
                    int timeout_s, local_http_chunk_fn on_chunk, void *arg, local_http_reply *reply);

void local_http_reply_free(local_http_reply *reply);

#endif
