/*
 * p2_http.h — the wasi:http host's internals (p2_http*.c): header fields,
 * bodies, requests and responses as host objects behind the guest's
 * resource handles, and the exchange of one request.
 */
#ifndef QYVOL_WASI_P2_HTTP_H
#define QYVOL_WASI_P2_HTTP_H

#include "qyvol/wasi_http.h"
#include "wasi/p2.h"

#define HTTP_TYPES "wasi:http/types" P2_VERSION
#define HTTP_OUTGOING "wasi:http/outgoing-handler" P2_VERSION
#define HTTP_INCOMING "wasi:http/incoming-handler@0.2.0"
#define HTTP_DEFAULT_MAX_BODY ((size_t)64 << 20)

/* error-code cases Qyvol produces (their position in the variant). */
enum {
    EC_DESTINATION_NOT_FOUND = 2,
    EC_CONNECTION_REFUSED = 6,
    EC_CONNECTION_TIMEOUT = 8,
    EC_HTTP_REQUEST_DENIED = 15,
    EC_HTTP_REQUEST_URI_INVALID = 19,
    EC_HTTP_RESPONSE_INCOMPLETE = 25,
    EC_HTTP_RESPONSE_BODY_SIZE = 28,
    EC_HTTP_RESPONSE_TIMEOUT = 33,
    EC_HTTP_PROTOCOL_ERROR = 35,
    EC_INTERNAL_ERROR = 38,
};

/* Header fields, shared (refs) between a request or response and the
 * handles the guest holds to them. Values have no NUL, CR or LF. */
typedef struct http_field {
    char *name;
    char *value;
    size_t len;
} http_field;
typedef struct http_fields {
    int refs;
    bool immutable;
    http_field *at;
    size_t n, cap;
} http_fields;

http_fields *http_fields_new(void);
http_fields *http_fields_retain(http_fields *f);
void http_fields_release(http_fields *f);
/* Append after checking the name and value: 0, or a header-error case. */
enum { HE_INVALID_SYNTAX = 0, HE_FORBIDDEN = 1, HE_IMMUTABLE = 2, HE_OUT_OF_MEMORY = 3 };
int http_fields_add(http_fields *f, const char *name, size_t name_len, const void *value, size_t len);

/* A body in one direction: bytes in memory, read or written through a
 * wasi:io stream. Held by its resource handle and by its stream. */
typedef struct http_body {
    int refs;
    wasi_membuf buf;
    bool owns_data;         /* buf.data is this body's to free */
    bool stream_taken, finished;
    /* The incoming request's response body once its head was streamed:
     * every write goes on to the exchange's sink. */
    struct qv_http_exchange *streaming_to;
    /* The incoming request's body when it arrives in pieces: reads refill
     * buf from the exchange's source until it ends. */
    struct qv_http_exchange *pulling_from;
    bool source_done;
} http_body;
http_body *http_body_new(void);
void http_body_release(void *body);
/* A wasi:io stream over the body (a reference to it). */
p2_stream *http_body_stream(http_body *b);

/* An outgoing request the guest builds. */
typedef struct http_out_request {
    uint32_t method;        /* the method variant's case */
    char *method_other;
    bool has_path, has_scheme, has_authority;
    char *path, *authority;
    uint32_t scheme;        /* 0 HTTP, 1 HTTPS, 2 other */
    char *scheme_other;
    http_fields *headers;
    http_body *body;        /* once body() was called */
} http_out_request;
void http_out_request_free(void *r);

typedef struct http_options {
    bool has[3];
    uint64_t ns[3];         /* connect, first byte, between bytes */
} http_options;

/* A response to an outgoing request. */
typedef struct http_in_response {
    uint16_t status;
    http_fields *headers;
    http_body *body;        /* NULL once consumed */
} http_in_response;
void http_in_response_free(void *r);

/* What outgoing-handler.handle gives back: the request, sent when the
 * guest first asks for the response (by then its body is written). */
typedef struct http_future_response {
    http_out_request *request;
    http_options options;
    bool done, taken;
    http_in_response *response; /* done: the response, or */
    uint32_t error;             /* its error-code case */
    char *error_text;
} http_future_response;
void http_future_response_free(void *f);

typedef struct http_out_response {
    uint16_t status;
    http_fields *headers;
    http_body *body;
} http_out_response;
void http_out_response_free(void *r);

struct qv_http_exchange {
    qv_http_policy policy;
    char **policy_hosts;    /* copies */
    uint16_t *policy_ports;
    bool has_request;
    char *method, *path_with_query, *authority;
    http_fields *request_headers;
    const void *body;
    size_t body_len;
    qv_http_body_source source; /* next NULL: the body is body/body_len */
    bool body_consumed;
    /* The answer, from response-outparam.set. */
    bool answered, answered_error;
    uint32_t error;
    http_out_response *response;
    qv_http_field *out_headers; /* for qv_http_exchange_response */
    qv_http_sink sink;      /* head NULL: the response is held whole */
    bool head_streamed, sink_gone;
    uint64_t body_streamed; /* bytes given to the sink */
    char notes[1024];
    size_t notes_len;
};
/* Add a line for the log (qv_http_exchange_notes). */
void http_note(qv_http_exchange *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The resource types. */
typedef struct p2_http_types {
    qv_crestype *fields, *in_request, *out_request, *options, *outparam, *in_response, *in_body, *trailers,
        *out_response, *out_body, *future_response;
} p2_http_types;

/* The exchange of the calling instance (NULL when none is attached). */
qv_http_exchange *http_exchange_of(qv_ccall *c, const p2_host *p);

/* Values. */
qv_cval http_error_code(qv_ccall *c, uint32_t disc, const char *text);
qv_cval http_none(void);
qv_cval http_some(qv_ccall *c, const qv_cval *v);
/* option<string>: none unless has (s NULL is ""). */
qv_cval http_opt_string(qv_ccall *c, bool has, const char *s);
/* body() of a request or response: the first call makes the body (kept in
 * *slot too, with a reference), later ones get an error. */
qv_trap *http_give_body(qv_ccall *c, http_body **slot, size_t max, qv_cval *r);
/* subscribe() of a future: a pollable ready at once (get blocks). */
qv_trap *http_subscribe_ready(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r);

/* Definitions (p2_http_fields.c, p2_http_out.c). */
bool http_define_fields(p2_host *p, qv_chost *h);
bool http_define_outgoing(p2_host *p, qv_chost *h);
/* A streamed response's gathered parts go out (before a wait). */
void http_flush_response(qv_http_exchange *x);
/* Send the future's request (blocking) and fill in its outcome. */
void http_send(qv_http_exchange *x, http_future_response *f, qv_store *store);

#endif
