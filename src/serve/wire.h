/*
 * wire.h — the messages between `qyv serve`'s front process and an app's
 * replica processes, over a stream socket: "run this request" one way,
 * "here is the response" the other.
 *
 * A message is its length (4 bytes, little endian, not counting itself),
 * then its fields in a fixed order: integers little endian, floats as
 * their 8 IEEE bytes, strings and byte runs as a 4-byte length, the bytes
 * and a NUL (so that decoded strings can point into the message).
 */
#ifndef QYVOL_SERVE_WIRE_H
#define QYVOL_SERVE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/wagi.h"

/* Refused when longer: a request body or a response (64 MiB of output and
 * of stderr at most) fits well within. */
#define WIRE_MAX_MESSAGE ((uint32_t)256 << 20)

/* A message being written: grows as needed; `oom` sticks once set. */
typedef struct wire_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} wire_buf;

/* A message being read: every read past the end sets `bad` and yields
 * zeros or empty strings. */
typedef struct wire_reader {
    const uint8_t *p, *end;
    bool bad;
} wire_reader;

/* ---- the request, front -> replica */

typedef struct wire_request {
    wagi_request rq;           /* its strings point into the message */
    uint64_t timeout_ms;
    bool health;               /* a health check, not a client's request */
    bool body_follows;         /* rq.body is empty: the body follows in parts */
    const char *id;            /* the request id, for the replica's messages */
} wire_request;

/* Encode rq as one message (length first) into b; false when out of memory. */
bool wire_request_encode(wire_buf *b, const wire_request *r);
/* Decode a message's body (after its length). The headers array is
 * malloc'ed (free r->rq.headers); false on a malformed message. */
bool wire_request_decode(const uint8_t *msg, size_t len, wire_request *r);

/* ---- the response, replica -> front */

typedef struct wire_response {
    int status;                /* what the client gets */
    const char *why;           /* why it failed, "" if it did not (for the log) */
    bool started;              /* an instance ran: instantiate_s means something */
    bool aborted;              /* streamed (wire_part) and broke off after its head:
                                * the client's connection is cut */
    uint32_t trap;             /* qv_trap_kind, 0: none */
    double instantiate_s, run_s;
    const wagi_header *headers; /* the app's response headers (CGI), to send */
    size_t nheaders;
    const char *body;
    size_t body_len;
    const char *err;           /* the app's stderr */
    size_t err_len;
} wire_response;

bool wire_response_encode(wire_buf *b, const wire_response *r);
/* As wire_request_decode: free r->headers (cast) afterwards. */
bool wire_response_decode(const uint8_t *msg, size_t len, wire_response *r);

/* ---- a response in parts, replica -> front (wasi:http components)
 *
 * A streamed response is its head (status, headers) as soon as the guest
 * sets it, its body in the pieces the guest writes, then the whole
 * response message above, which carries the rest of the body, the log
 * and the outcome. Parts start with a kind below 100, where a whole
 * response has its status. */

enum { WIRE_PART_NONE = 0, WIRE_PART_HEAD = 1, WIRE_PART_BODY = 2, WIRE_PART_END = 3 };

typedef struct wire_part {
    int kind;
    int status;                /* HEAD */
    const wagi_header *headers;/* HEAD: free (cast) afterwards */
    size_t nheaders;
    const char *data;          /* BODY */
    size_t len;
    bool ok;                   /* END: the whole body came (else it broke off) */
} wire_part;

/* A request's body may follow it the other way, front -> replica: BODY
 * parts, then END (body_follows; nothing else is sent on that socket
 * until its END). */

bool wire_part_head_encode(wire_buf *b, int status, const wagi_header *headers, size_t n);
bool wire_part_body_encode(wire_buf *b, const void *data, size_t len);
bool wire_part_end_encode(wire_buf *b, bool ok);
/* The part a message's body is, WIRE_PART_NONE for a whole response. */
int wire_part_kind(const uint8_t *msg, size_t len);
bool wire_part_decode(const uint8_t *msg, size_t len, wire_part *p);

/* Append raw bytes (an encoded message) to b; false when out of memory. */
bool wire_buf_append(wire_buf *b, const void *data, size_t len);

/* Write b's bytes to a blocking socket and empty b; false on error. */
bool wire_send(int fd, wire_buf *b);

void wire_buf_free(wire_buf *b);

/* The length prefix of a message whose first 4 bytes are at p. */
uint32_t wire_length(const uint8_t *p);

#endif
