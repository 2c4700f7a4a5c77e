/*
 * client.h — calls to the cluster API (docs/api.md) over HTTP/1.1, with
 * libcurl: what `qyv cluster` uses to talk to the master, and what a
 * master or node can use to call another.
 *
 * What this module offers:
 *   - api_call(): one request, the whole answer in memory;
 *   - api_stream(): one request whose answer is handed over piece by piece
 *     as it arrives (`logs --follow`);
 *   - api_error(): the one line a non-2xx answer says is wrong (its
 *     "error" field).
 *
 * Calls block, and are thread-safe: libcurl is set up once for the
 * process, each call has its own handle, no signals are used for
 * timeouts. Proxies from the environment are ignored (cluster addresses
 * are reached directly). Calls speak plain http:// until api_set_tls()
 * names the cluster CA: then they speak https:// (TLS 1.3 only), check
 * the server's certificate against the CA (and its revocation list) and
 * its address, and show the process's own certificate when it has one.
 *
 * Both calls return false only when no HTTP answer came (nothing listens,
 * the host is unknown, the time ran out, the connection broke): why then
 * says "no answer from HOST:PORT: connection refused" or the like. An
 * answer of any status returns true with out->status set.
 */
#ifndef QYVOL_CLUSTER_CLIENT_H
#define QYVOL_CLUSTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* The biggest answer kept in memory: a bundle (256 MiB) and some. */
#define API_MAX_REPLY_BYTES (272u * 1024u * 1024u)

typedef struct api_reply {
    long status;        /* the HTTP status */
    char *body;         /* NUL-terminated (free with api_reply_free) */
    size_t len;         /* bytes in body, not counting the NUL */
} api_reply;

void api_reply_free(api_reply *reply);

/* How calls speak TLS. Paths are read at each call, so that a
 * certificate rotated on disk is used by the next call. */
typedef struct api_tls {
    char ca_file[512];     /* the CA servers are checked against; "": plain HTTP */
    char cert_file[512];   /* the certificate shown to servers ("": none) */
    char key_file[512];
    char crl_file[512];    /* the CA's revocation list ("" or missing: none) */
    bool no_verify;        /* the server's certificate is not checked (a node fetching the CA it pins) */
    char server_role[16];  /* the OU the server's certificate must have ("master", "node"; "": any) */
} api_tls;

/* Every call from now on speaks TLS as tls says (NULL: plain HTTP). Call
 * it before calls start on other threads. */
void api_set_tls(const api_tls *tls);
/* Whether calls speak TLS. */
bool api_tls_on(void);

/* api_call with its own TLS settings (tls may be NULL: plain HTTP). */
bool api_call_tls(const api_tls *tls, const char *address, const char *method, const char *path, const char *token,
                  const char *content_type, const void *body, size_t body_len, long timeout_ms, api_reply *out,
                  char *why, size_t whylen);

/* METHOD http(s)://ADDRESS/PATH (https when TLS is set). address is
 * HOST:PORT ([::1]:7000 for IPv6), or several masters' "HOST:PORT,HOST:PORT,...": then the call goes to
 * the one that answered last, and fails over to the next when one does
 * not answer or answers 503 (no master leads yet), until timeout_ms.
 * token (may be NULL) goes in "Authorization: Bearer TOKEN"; body (may be
 * NULL) with body_len bytes of content_type is sent with it. timeout_ms
 * bounds the whole call (0: 30 s). */
bool api_call(const char *address, const char *method, const char *path, const char *token,
              const char *content_type, const void *body, size_t body_len, long timeout_ms, api_reply *out,
              char *why, size_t whylen);

/* Called with each piece of a 2xx answer's body as it arrives; return
 * false to stop reading (the call then still succeeds). */
typedef bool (*api_piece_fn)(const char *data, size_t len, void *arg);

/* A GET (or other body-less method) whose 2xx answer goes to piece as it
 * comes, for as long as the server sends it; out->body stays empty. A
 * non-2xx answer is collected in out instead. Only connecting is bounded
 * (connect_timeout_ms; 0: 10 s). Several addresses: the first that
 * answers. */
bool api_stream(const char *address, const char *method, const char *path, const char *token,
                long connect_timeout_ms, api_piece_fn piece, void *arg, api_reply *out, char *why, size_t whylen);
/* api_stream to one address with its own TLS settings (NULL: plain HTTP). */
bool api_stream_tls(const api_tls *tls, const char *address, const char *method, const char *path, const char *token,
                    long connect_timeout_ms, api_piece_fn piece, void *arg, api_reply *out, char *why, size_t whylen);

/* What a non-2xx answer says is wrong, in buf: its JSON "error" field, or
 * else its first line, or else "HTTP STATUS". Returns buf. */
const char *api_error(const api_reply *reply, char *buf, size_t size);

#endif
