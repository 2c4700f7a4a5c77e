/*
 * p2_http.c — wasi:http/types (requests, responses, bodies, futures,
 * response-outparam) and the exchange of one incoming request (see
 * qyvol/wasi_http.h). Fields are p2_http_fields.c's, outbound requests
 * p2_http_out.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qyvol/component.h"
#include "wasi/p2_http.h"

/* ------------------------------------------------------------ objects */

http_body *http_body_new(void)
{
    http_body *b = calloc(1, sizeof *b);
    if (b) {
        b->refs = 1;
        b->owns_data = true;
        b->buf.max = HTTP_DEFAULT_MAX_BODY;
    }
    return b;
}

void http_body_release(void *body)
{
    http_body *b = body;
    if (!b || --b->refs > 0) return;
    if (b->owns_data) free(b->buf.data);
    free(b);
}

static void body_dtor(void *env, void *rep) { http_body_release(rep); }

/* A streamed response body: what the guest wrote goes on to the sink,
 * the buffer is emptied for the next write. */
static int body_pass_on(void *owner)
{
    http_body *b = owner;
    qv_http_exchange *x = b->streaming_to;
    if (!x || !b->buf.len) return 0;
    if (x->sink_gone) return W_EPIPE;
    if (b->buf.len > x->policy.max_body - x->body_streamed) {
        b->buf.full = true;
        return W_EFBIG;
    }
    if (!x->sink.body(x->sink.ctx, b->buf.data, b->buf.len)) {
        x->sink_gone = true;
        return W_EPIPE;
    }
    x->body_streamed += b->buf.len;
    b->buf.len = b->buf.pos = 0;
    return 0;
}

/* A request body arriving in pieces: the next one, once the guest has
 * read the last. */
static int body_pull(void *owner)
{
    http_body *b = owner;
    qv_http_exchange *x = b->pulling_from;
    while (x && !b->source_done) {
        const char *data;
        size_t len;
        int got = x->source.next(x->source.ctx, &data, &len);
        if (got <= 0) {
            b->source_done = true;
            return got < 0 ? W_EIO : 0;
        }
        if (!len) continue;
        if (len > b->buf.cap) {
            char *grown = realloc(b->buf.data, len);
            if (!grown) return W_ENOMEM;
            b->buf.data = grown;
            b->buf.cap = len;
        }
        memcpy(b->buf.data, data, len);
        b->buf.len = len;
        b->buf.pos = 0;
        return 0;
    }
    return 0;
}

/* What the sink gathered goes out now (the guest flushed, or waits). */
static int sink_flush(qv_http_exchange *x)
{
    if (!x->head_streamed || !x->sink.flush || x->sink_gone) return x->sink_gone ? W_EPIPE : 0;
    if (x->sink.flush(x->sink.ctx)) return 0;
    x->sink_gone = true;
    return W_EPIPE;
}

static int body_flush(void *owner)
{
    http_body *b = owner;
    return b->streaming_to ? sink_flush(b->streaming_to) : 0;
}

void http_flush_response(qv_http_exchange *x)
{
    if (x) sink_flush(x);
}

p2_stream *http_body_stream(http_body *b)
{
    p2_stream *s = p2_stream_new(-1, &b->buf);
    if (!s) return NULL;
    b->refs++;
    b->stream_taken = true;
    s->on_drop = http_body_release;
    s->after_write = body_pass_on;
    s->before_read = body_pull;
    s->on_flush = body_flush;
    s->owner = b;
    return s;
}

void http_out_request_free(void *rep)
{
    http_out_request *r = rep;
    if (!r) return;
    free(r->method_other);
    free(r->path);
    free(r->authority);
    free(r->scheme_other);
    http_fields_release(r->headers);
    http_body_release(r->body);
    free(r);
}

void http_in_response_free(void *rep)
{
    http_in_response *r = rep;
    if (!r) return;
    http_fields_release(r->headers);
    http_body_release(r->body);
    free(r);
}

void http_future_response_free(void *rep)
{
    http_future_response *f = rep;
    if (!f) return;
    http_out_request_free(f->request);
    http_in_response_free(f->response);
    free(f->error_text);
    free(f);
}

void http_out_response_free(void *rep)
{
    http_out_response *r = rep;
    if (!r) return;
    http_fields_release(r->headers);
    http_body_release(r->body);
    free(r);
}

static void dtor(void *env, void *rep) { ((void (*)(void *))env)(rep); }

/* ------------------------------------------------------------ values */

qv_cval http_none(void) { return (qv_cval){.kind = QV_C_OPTION, .of.var = {0, NULL}}; }
qv_cval http_some(qv_ccall *c, const qv_cval *v) { return p2_case(c, QV_C_OPTION, 1, v); }

qv_cval http_error_code(qv_ccall *c, uint32_t disc, const char *text)
{
    qv_cval payload;
    switch (disc) {
    case EC_HTTP_RESPONSE_BODY_SIZE: /* option<u64> */
        payload = http_none();
        return p2_case(c, QV_C_VARIANT, disc, &payload);
    case EC_INTERNAL_ERROR: /* option<string> */
        if (text) {
            qv_cval s = p2_string(c, text, strlen(text));
            payload = http_some(c, &s);
        } else {
            payload = http_none();
        }
        return p2_case(c, QV_C_VARIANT, disc, &payload);
    default:
        return p2_case(c, QV_C_VARIANT, disc, NULL);
    }
}

qv_cval http_opt_string(qv_ccall *c, bool has, const char *s)
{
    if (!has) return http_none();
    qv_cval v = p2_string(c, s ? s : "", s ? strlen(s) : 0);
    return http_some(c, &v);
}

/* result<own<T>> with T's rep, or err when rep is NULL. */
static qv_cval own_or_err(qv_ccall *c, void *rep)
{
    if (!rep) return p2_case(c, QV_C_RESULT, 1, NULL);
    qv_cval own = p2_own(rep);
    return p2_ok(c, &own);
}

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
enum { METHOD_OTHER = 9 };

static qv_cval method_value(qv_ccall *c, uint32_t disc, const char *other)
{
    if (disc != METHOD_OTHER) return p2_case(c, QV_C_VARIANT, disc, NULL);
    qv_cval s = p2_string(c, other, strlen(other));
    return p2_case(c, QV_C_VARIANT, disc, &s);
}

static uint32_t method_case(const char *m)
{
    for (uint32_t i = 0; i < METHOD_OTHER; i++)
        if (!strcmp(methods[i], m)) return i;
    return METHOD_OTHER;
}

qv_http_exchange *http_exchange_of(qv_ccall *c, const p2_host *p) { return p2_wasi(c, p)->http; }

void http_note(qv_http_exchange *x, const char *fmt, ...)
{
    if (!x || x->notes_len >= sizeof x->notes - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->notes + x->notes_len, sizeof x->notes - x->notes_len, fmt, ap);
    va_end(ap);
    if (n > 0) x->notes_len = x->notes_len + (size_t)n < sizeof x->notes ? x->notes_len + (size_t)n : sizeof x->notes - 1;
}

static qv_trap *no_exchange(void) { return qv_trap_new(QV_TRAP_HOST, "wasi:http: no request is being served"); }

/* ------------------------------------------------------------ incoming-request */

/* The incoming request is the exchange's: its handle's rep is the exchange. */
static void no_dtor(void *env, void *rep) {}

static qv_trap *in_request_method(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const qv_http_exchange *x = a[0].of.rep;
    r[0] = method_value(c, method_case(x->method), x->method);
    return NULL;
}

static qv_trap *in_request_path(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const qv_http_exchange *x = a[0].of.rep;
    r[0] = http_opt_string(c, true, x->path_with_query);
    return NULL;
}

static qv_trap *in_request_scheme(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_cval http = p2_case(c, QV_C_VARIANT, 0, NULL);
    r[0] = http_some(c, &http);
    return NULL;
}

static qv_trap *in_request_authority(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const qv_http_exchange *x = a[0].of.rep;
    r[0] = http_opt_string(c, x->authority != NULL, x->authority);
    return NULL;
}

static qv_trap *in_request_headers(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_http_exchange *x = a[0].of.rep;
    r[0] = p2_own(http_fields_retain(x->request_headers));
    return NULL;
}

static qv_trap *in_request_consume(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_http_exchange *x = a[0].of.rep;
    http_body *b = NULL;
    if (!x->body_consumed && (b = http_body_new())) {
        if (x->source.next) {
            b->pulling_from = x; /* read as it arrives (body_pull) */
        } else {
            /* The request's bytes, read in place: the exchange outlives the instance. */
            b->owns_data = false;
            b->buf.data = (char *)x->body;
            b->buf.len = b->buf.cap = x->body_len;
        }
        x->body_consumed = true;
    } else if (!x->body_consumed) {
        return p2_trap_oom();
    }
    r[0] = own_or_err(c, b);
    return NULL;
}

/* ------------------------------------------------------------ bodies */

static qv_trap *in_body_stream(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const p2_host *p = env;
    (void)p;
    http_body *b = a[0].of.rep;
    p2_stream *s = b->stream_taken ? NULL : http_body_stream(b);
    if (!s && !b->stream_taken) return p2_trap_oom();
    r[0] = own_or_err(c, s);
    return NULL;
}

static qv_trap *in_body_finish(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_body_release(a[0].of.rep);
    bool *taken = calloc(1, sizeof *taken);
    if (!taken) return p2_trap_oom();
    r[0] = p2_own(taken);
    return NULL;
}

qv_trap *http_subscribe_ready(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_pollable *ready = calloc(1, sizeof *ready); /* no deadline: ready now */
    if (!ready) return p2_trap_oom();
    r[0] = p2_own(ready);
    return NULL;
}

/* option<result<result<option<trailers>, error-code>>>: there are never
 * trailers; the second call gets the error the spec gives. */
static qv_trap *trailers_get(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    bool *taken = a[0].of.rep;
    qv_cval outcome;
    if (*taken) {
        outcome = p2_case(c, QV_C_RESULT, 1, NULL);
    } else {
        qv_cval none = http_none(), inner = p2_ok(c, &none);
        outcome = p2_ok(c, &inner);
        *taken = true;
    }
    r[0] = http_some(c, &outcome);
    return NULL;
}

static qv_trap *out_body_write(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_body *b = a[0].of.rep;
    p2_stream *s = b->stream_taken ? NULL : http_body_stream(b);
    if (!s && !b->stream_taken) return p2_trap_oom();
    r[0] = own_or_err(c, s);
    return NULL;
}

static qv_trap *out_body_finish(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_body *b = a[0].of.rep;
    b->finished = true;
    http_body_release(b);
    if (a[1].of.var.disc) http_fields_release(a[1].of.var.payload->of.rep); /* trailers are not sent */
    r[0] = p2_ok(c, NULL);
    return NULL;
}

/* ------------------------------------------------------------ outgoing-response */

static qv_trap *out_response_new(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_response *resp = calloc(1, sizeof *resp);
    if (!resp) {
        http_fields_release(a[0].of.rep);
        return p2_trap_oom();
    }
    resp->status = 200;
    resp->headers = a[0].of.rep;
    resp->headers->immutable = true;
    r[0] = p2_own(resp);
    return NULL;
}

static qv_trap *out_response_status(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_out_response *resp = a[0].of.rep;
    r[0] = (qv_cval){.kind = QV_C_U16, .of.u = resp->status};
    return NULL;
}

static qv_trap *out_response_set_status(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_response *resp = a[0].of.rep;
    bool ok = a[1].of.u >= 100 && a[1].of.u <= 999;
    if (ok) resp->status = (uint16_t)a[1].of.u;
    r[0] = ok ? p2_ok(c, NULL) : p2_case(c, QV_C_RESULT, 1, NULL);
    return NULL;
}

static qv_trap *out_response_headers(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_response *resp = a[0].of.rep;
    r[0] = p2_own(http_fields_retain(resp->headers));
    return NULL;
}

qv_trap *http_give_body(qv_ccall *c, http_body **slot, size_t max, qv_cval *r)
{
    if (*slot) {
        r[0] = own_or_err(c, NULL);
        return NULL;
    }
    http_body *b = http_body_new();
    if (!b) return p2_trap_oom();
    if (max) b->buf.max = max;
    b->refs = 2;
    *slot = b;
    r[0] = own_or_err(c, b);
    return NULL;
}

static qv_trap *out_response_body(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_response *resp = a[0].of.rep;
    const qv_http_exchange *x = http_exchange_of(c, env);
    return http_give_body(c, &resp->body, x ? x->policy.max_body : 0, r);
}

/* The response's headers as fields (in x->out_headers); false when out of memory. */
static bool list_headers(qv_http_exchange *x)
{
    const http_fields *h = x->response->headers;
    free(x->out_headers);
    x->out_headers = calloc(h->n + 1, sizeof *x->out_headers);
    if (!x->out_headers) return false;
    for (size_t i = 0; i < h->n; i++) x->out_headers[i] = (qv_http_field){h->at[i].name, h->at[i].value};
    return true;
}

/* The guest set its response: the head goes to the sink, and the body
 * follows it from now on (what was written already first). */
static void stream_head(qv_http_exchange *x)
{
    if (!list_headers(x) || !x->sink.head(x->sink.ctx, x->response->status, x->out_headers, x->response->headers->n)) {
        x->sink_gone = true;
        return;
    }
    x->head_streamed = true;
    http_body *b = x->response->body;
    if (b) {
        b->streaming_to = x;
        body_pass_on(b); /* gathered by the sink, sent at the guest's next flush or wait, or at the end */
    }
}

static qv_trap *outparam_set(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_http_exchange *x = a[0].of.rep;
    const qv_cval *resp = &a[1];
    if (x->answered) {
        if (!resp->of.var.disc) http_out_response_free(resp->of.var.payload->of.rep);
        return qv_trap_new(QV_TRAP_HOST, "wasi:http: response-outparam.set called twice");
    }
    x->answered = true;
    if (resp->of.var.disc) {
        x->answered_error = true;
        x->error = resp->of.var.payload ? resp->of.var.payload->of.var.disc : EC_INTERNAL_ERROR;
    } else {
        x->response = resp->of.var.payload->of.rep;
        if (x->sink.head) stream_head(x);
    }
    return NULL;
}

/* ------------------------------------------------------------ incoming-response */

static qv_trap *in_response_status(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_in_response *resp = a[0].of.rep;
    r[0] = (qv_cval){.kind = QV_C_U16, .of.u = resp->status};
    return NULL;
}

static qv_trap *in_response_headers(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_in_response *resp = a[0].of.rep;
    r[0] = p2_own(http_fields_retain(resp->headers));
    return NULL;
}

static qv_trap *in_response_consume(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_in_response *resp = a[0].of.rep;
    r[0] = own_or_err(c, resp->body);
    resp->body = NULL; /* the handle has its reference now */
    return NULL;
}

static qv_trap *http_error_code_of(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = http_none(); /* stream errors carry no HTTP error */
    return NULL;
}

/* ------------------------------------------------------------ definitions */

#define T HTTP_TYPES

static bool define_types(p2_host *p, qv_chost *h)
{
    p2_http_types *t = p->http;
    t->in_request = qv_chost_resource(h, T, "incoming-request", no_dtor, NULL);
    t->out_request = qv_chost_resource(h, T, "outgoing-request", dtor, (void *)http_out_request_free);
    t->options = qv_chost_resource(h, T, "request-options", p2_drop_plain, NULL);
    t->outparam = qv_chost_resource(h, T, "response-outparam", no_dtor, NULL);
    t->in_response = qv_chost_resource(h, T, "incoming-response", dtor, (void *)http_in_response_free);
    t->in_body = qv_chost_resource(h, T, "incoming-body", body_dtor, NULL);
    t->trailers = qv_chost_resource(h, T, "future-trailers", p2_drop_plain, NULL);
    t->out_response = qv_chost_resource(h, T, "outgoing-response", dtor, (void *)http_out_response_free);
    t->out_body = qv_chost_resource(h, T, "outgoing-body", body_dtor, NULL);
    t->future_response = qv_chost_resource(h, T, "future-incoming-response", dtor, (void *)http_future_response_free);
    return t->in_request && t->out_request && t->options && t->outparam && t->in_response && t->in_body &&
           t->trailers && t->out_response && t->out_body && t->future_response &&
           qv_chost_use(h, T, IO_STREAMS, "input-stream") && qv_chost_use(h, T, IO_STREAMS, "output-stream") &&
           qv_chost_use(h, T, IO_POLL, "pollable") && qv_chost_use(h, T, IO_ERROR, "error") &&
           qv_chost_type(h, T, "io-error", "error") && qv_chost_type(h, T, "status-code", "u16") &&
           qv_chost_type(h, T, "duration", "u64") && qv_chost_type(h, T, "field-key", "string") &&
           qv_chost_type(h, T, "field-name", "string") && qv_chost_type(h, T, "field-value", "list<u8>") &&
           qv_chost_type(h, T, "method", "variant { get, head, post, put, delete, connect, options, trace, patch, other(string) }") &&
           qv_chost_type(h, T, "scheme", "variant { HTTP, HTTPS, other(string) }") &&
           qv_chost_type(h, T, "DNS-error-payload", "record { rcode: option<string>, info-code: option<u16> }") &&
           qv_chost_type(h, T, "TLS-alert-received-payload", "record { alert-id: option<u8>, alert-message: option<string> }") &&
           qv_chost_type(h, T, "field-size-payload", "record { field-name: option<string>, field-size: option<u32> }") &&
           qv_chost_type(h, T, "error-code",
                         "variant { DNS-timeout, DNS-error(DNS-error-payload), destination-not-found, "
                         "destination-unavailable, destination-IP-prohibited, destination-IP-unroutable, "
                         "connection-refused, connection-terminated, connection-timeout, connection-read-timeout, "
                         "connection-write-timeout, connection-limit-reached, TLS-protocol-error, "
                         "TLS-certificate-error, TLS-alert-received(TLS-alert-received-payload), "
                         "HTTP-request-denied, HTTP-request-length-required, HTTP-request-body-size(option<u64>), "
                         "HTTP-request-method-invalid, HTTP-request-URI-invalid, HTTP-request-URI-too-long, "
                         "HTTP-request-header-section-size(option<u32>), "
                         "HTTP-request-header-size(option<field-size-payload>), "
                         "HTTP-request-trailer-section-size(option<u32>), "
                         "HTTP-request-trailer-size(field-size-payload), HTTP-response-incomplete, "
                         "HTTP-response-header-section-size(option<u32>), "
                         "HTTP-response-header-size(field-size-payload), HTTP-response-body-size(option<u64>), "
                         "HTTP-response-trailer-section-size(option<u32>), "
                         "HTTP-response-trailer-size(field-size-payload), "
                         "HTTP-response-transfer-coding(option<string>), "
                         "HTTP-response-content-coding(option<string>), HTTP-response-timeout, "
                         "HTTP-upgrade-failed, HTTP-protocol-error, loop-detected, configuration-error, "
                         "internal-error(option<string>) }");
}

bool p2_define_http(p2_host *p, qv_chost *h)
{
    if (!(p->http = qv_chost_alloc(h, sizeof *p->http)) || !define_types(p, h) || !http_define_fields(p, h) ||
        !qv_chost_type(h, T, "headers", "fields") || !qv_chost_type(h, T, "trailers", "fields"))
        return false;
    static const p2_fn fns[] = {
        {NULL, "http-error-code", "func(err: borrow<error>) -> option<error-code>", http_error_code_of},
        {NULL, "[method]incoming-request.method", "func(self: borrow<incoming-request>) -> method", in_request_method},
        {NULL, "[method]incoming-request.path-with-query", "func(self: borrow<incoming-request>) -> option<string>", in_request_path},
        {NULL, "[method]incoming-request.scheme", "func(self: borrow<incoming-request>) -> option<scheme>", in_request_scheme},
        {NULL, "[method]incoming-request.authority", "func(self: borrow<incoming-request>) -> option<string>", in_request_authority},
        {NULL, "[method]incoming-request.headers", "func(self: borrow<incoming-request>) -> own<fields>", in_request_headers},
        {NULL, "[method]incoming-request.consume", "func(self: borrow<incoming-request>) -> result<own<incoming-body>>", in_request_consume},
        {NULL, "[method]incoming-body.stream", "func(self: borrow<incoming-body>) -> result<own<input-stream>>", in_body_stream},
        {NULL, "[static]incoming-body.finish", "func(this: own<incoming-body>) -> own<future-trailers>", in_body_finish},
        {NULL, "[method]future-trailers.subscribe", "func(self: borrow<future-trailers>) -> own<pollable>", http_subscribe_ready},
        {NULL, "[method]future-trailers.get", "func(self: borrow<future-trailers>) -> option<result<result<option<own<fields>>, error-code>>>", trailers_get},
        {NULL, "[constructor]outgoing-response", "func(headers: own<fields>) -> own<outgoing-response>", out_response_new},
        {NULL, "[method]outgoing-response.status-code", "func(self: borrow<outgoing-response>) -> u16", out_response_status},
        {NULL, "[method]outgoing-response.set-status-code", "func(self: borrow<outgoing-response>, status-code: u16) -> result", out_response_set_status},
        {NULL, "[method]outgoing-response.headers", "func(self: borrow<outgoing-response>) -> own<fields>", out_response_headers},
        {NULL, "[method]outgoing-response.body", "func(self: borrow<outgoing-response>) -> result<own<outgoing-body>>", out_response_body},
        {NULL, "[method]outgoing-body.write", "func(self: borrow<outgoing-body>) -> result<own<output-stream>>", out_body_write},
        {NULL, "[static]outgoing-body.finish", "func(this: own<outgoing-body>, trailers: option<own<fields>>) -> result<_, error-code>", out_body_finish},
        {NULL, "[static]response-outparam.set", "func(param: own<response-outparam>, response: result<own<outgoing-response>, error-code>)", outparam_set},
        {NULL, "[method]incoming-response.status", "func(self: borrow<incoming-response>) -> u16", in_response_status},
        {NULL, "[method]incoming-response.headers", "func(self: borrow<incoming-response>) -> own<fields>", in_response_headers},
        {NULL, "[method]incoming-response.consume", "func(self: borrow<incoming-response>) -> result<own<incoming-body>>", in_response_consume},
    };
    return p2_define_all(p, h, T, fns, sizeof fns / sizeof *fns) && http_define_outgoing(p, h);
}

/* ------------------------------------------------------------ the exchange */

bool qv_wasi_http_define(qv_wasi *wasi, qv_chost *host)
{
    p2_host *p = qv_chost_alloc(host, sizeof *p);
    if (!p) return false;
    p->w = wasi;
    return p2_define_http(p, host);
}

void qv_wasi_http_attach(qv_wasi *wasi, qv_http_exchange *x)
{
    wasi->http = x;
    wasi->before_wait = x ? http_flush_response : NULL;
}

qv_http_exchange *qv_http_exchange_new(const qv_http_request *rq, const qv_http_policy *policy)
{
    qv_http_exchange *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->policy = *policy;
    if (!x->policy.max_body) x->policy.max_body = HTTP_DEFAULT_MAX_BODY;
    x->policy_hosts = calloc(policy->nhosts + 1, sizeof *x->policy_hosts);
    x->policy_ports = calloc(policy->nports + 1, sizeof *x->policy_ports);
    bool ok = x->policy_hosts && x->policy_ports && (x->request_headers = http_fields_new());
    for (size_t i = 0; ok && i < policy->nhosts; i++) ok = (x->policy_hosts[i] = strdup(policy->hosts[i])) != NULL;
    if (ok && policy->nports) memcpy(x->policy_ports, policy->ports, policy->nports * sizeof *x->policy_ports);
    x->policy.hosts = (const char *const *)x->policy_hosts;
    x->policy.ports = x->policy_ports;
    if (ok && rq) {
        x->has_request = true;
        x->method = strdup(rq->method);
        x->path_with_query = strdup(rq->path_with_query);
        x->authority = rq->authority ? strdup(rq->authority) : NULL;
        ok = x->method && x->path_with_query && (!rq->authority || x->authority);
        for (size_t i = 0; ok && i < rq->nheaders; i++) {
            const qv_http_field *f = &rq->headers[i];
            /* What the front passes has been checked as HTTP; hop-by-hop
             * headers are the front's, left out here. */
            int err = http_fields_add(x->request_headers, f->name, strlen(f->name), f->value, strlen(f->value));
            ok = err < 0 || err == HE_FORBIDDEN || err == HE_INVALID_SYNTAX;
        }
        x->request_headers->immutable = true;
        x->body = rq->body;
        x->body_len = rq->body_len;
        if (rq->body_source) x->source = *rq->body_source;
    }
    if (!ok) {
        qv_http_exchange_free(x);
        return NULL;
    }
    return x;
}

void qv_http_exchange_free(qv_http_exchange *x)
{
    if (!x) return;
    for (size_t i = 0; x->policy_hosts && i < x->policy.nhosts; i++) free(x->policy_hosts[i]);
    free(x->policy_hosts);
    free(x->policy_ports);
    free(x->method);
    free(x->path_with_query);
    free(x->authority);
    http_fields_release(x->request_headers);
    http_out_response_free(x->response);
    free(x->out_headers);
    free(x);
}

void qv_http_exchange_stream(qv_http_exchange *x, const qv_http_sink *sink) { x->sink = *sink; }

const char *qv_http_exchange_notes(const qv_http_exchange *x) { return x->notes; }

qv_trap *qv_http_handle(qv_cinstance *ci, qv_http_exchange *x)
{
    const char *iface = qv_cinstance_find_export(ci, HTTP_INCOMING);
    if (!iface)
        return qv_trap_new(QV_TRAP_HOST, "the component exports no wasi:http/incoming-handler@0.2.x (not an HTTP handler)");
    if (!x->has_request) return no_exchange();
    /* The request and the outparam are the exchange itself, seen through
     * two resource types; their handles own nothing. */
    qv_cval args[2] = {p2_own(x), p2_own(x)};
    return qv_cinstance_call(ci, iface, "handle", args, 2, NULL, 0);
}

void qv_http_exchange_response(qv_http_exchange *x, qv_http_response *out)
{
    memset(out, 0, sizeof *out);
    out->why = "";
    out->streamed = x->head_streamed;
    if (!x->answered) {
        out->why = "the app returned without setting a response (response-outparam.set)";
        return;
    }
    if (x->answered_error) {
        out->why = "the app answered with an error-code instead of a response";
        return;
    }
    const http_out_response *resp = x->response;
    const http_body *b = resp->body;
    if (b && b->buf.full) { /* (a guest whose write failed may not finish the body either) */
        out->body_too_large = true;
        out->why = "the response body is larger than the app's limit allows";
        return;
    }
    if (b && !b->finished) {
        out->why = "the app did not finish the response body (outgoing-body.finish)";
        return;
    }
    if (!x->head_streamed && !list_headers(x)) {
        out->why = "out of memory";
        return;
    }
    out->status = resp->status;
    out->headers = x->out_headers;
    out->nheaders = resp->headers->n;
    out->body = b ? b->buf.data : "";
    out->body_len = b ? b->buf.len : 0;
    if (!out->body) out->body = "";
}
