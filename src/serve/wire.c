/*
 * wire.c — see wire.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/wire.h"

static void reserve(wire_buf *b, size_t more)
{
    if (b->oom || b->cap - b->len >= more) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) cap *= 2;
    uint8_t *grown = realloc(b->data, cap);
    if (!grown) {
        b->oom = true;
        return;
    }
    b->data = grown;
    b->cap = cap;
}

static void put_raw(wire_buf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (b->oom) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u32(wire_buf *b, uint32_t v)
{
    uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_raw(b, bytes, 4);
}

static void put_u64(wire_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(wire_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(b, v);
}

/* A length, the bytes and a NUL, with one check for room: a request's
 * dozen strings and its headers go through here. */
static void put_bytes(wire_buf *b, const char *p, size_t n)
{
    if (n > WIRE_MAX_MESSAGE) b->oom = true;
    reserve(b, 4 + n + 1);
    if (b->oom) return;
    uint8_t *d = b->data + b->len;
    d[0] = (uint8_t)n, d[1] = (uint8_t)(n >> 8), d[2] = (uint8_t)(n >> 16), d[3] = (uint8_t)(n >> 24);
    if (n) memcpy(d + 4, p, n);
    d[4 + n] = 0;
    b->len += 4 + n + 1;
}

static void put_str(wire_buf *b, const char *s) { put_bytes(b, s ? s : "", s ? strlen(s) : 0); }

/* Leave room for the length; end() fills it in. */
static size_t begin(wire_buf *b)
{
    size_t at = b->len;
    put_u32(b, 0);
    return at;
}

static bool end(wire_buf *b, size_t at)
{
    size_t n = b->len - at - 4;
    if (b->oom || n > WIRE_MAX_MESSAGE) return false;
    uint8_t *p = b->data + at;
    p[0] = (uint8_t)n, p[1] = (uint8_t)(n >> 8), p[2] = (uint8_t)(n >> 16), p[3] = (uint8_t)(n >> 24);
    return true;
}

uint32_t wire_length(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t get_u32(wire_reader *r)
{
    if (r->end - r->p < 4) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint32_t v = wire_length(r->p);
    r->p += 4;
    return v;
}

static uint64_t get_u64(wire_reader *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static double get_f64(wire_reader *r)
{
    uint64_t v = get_u64(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static const char *get_bytes(wire_reader *r, size_t *len)
{
    uint32_t n = get_u32(r);
    if (r->bad || (size_t)(r->end - r->p) < (size_t)n + 1 || r->p[n] != 0) {
        r->bad = true;
        r->p = r->end;
        *len = 0;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p += n + 1;
    *len = n;
    return s;
}

static const char *get_str(wire_reader *r)
{
    size_t n;
    return get_bytes(r, &n);
}

/* Header pairs: a count, then name and value strings. */
static void put_headers(wire_buf *b, const wagi_header *h, size_t n)
{
    put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_str(b, h[i].name);
        put_str(b, h[i].value);
    }
}

static wagi_header *get_headers(wire_reader *r, size_t *count)
{
    uint32_t n = get_u32(r);
    /* Each pair takes at least 10 bytes: a bad count cannot make us
     * allocate more than the message could hold. */
    if (r->bad || n > (size_t)(r->end - r->p) / 10) {
        r->bad = true;
        *count = 0;
        return NULL;
    }
    wagi_header *h = calloc(n ? n : 1, sizeof *h);
    if (!h) {
        r->bad = true;
        *count = 0;
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        h[i].name = get_str(r);
        h[i].value = get_str(r);
    }
    *count = n;
    return h;
}

bool wire_request_encode(wire_buf *b, const wire_request *r)
{
    const wagi_request *q = &r->rq;
    /* Room for all of it at once, rather than growing on the way. */
    const char *strs[] = {r->id, q->method, q->path, q->query, q->protocol, q->host, q->server_name,
                          q->server_port, q->remote_addr};
    size_t need = 4 + 8 + 4 + 4 + q->body_len + 5;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) need += 5 + (strs[i] ? strlen(strs[i]) : 0);
    for (size_t i = 0; i < q->nheaders; i++) need += 10 + strlen(q->headers[i].name) + strlen(q->headers[i].value);
    reserve(b, need);
    size_t at = begin(b);
    put_u64(b, r->timeout_ms);
    put_u32(b, (uint32_t)r->health | (uint32_t)r->body_follows << 1);
    put_str(b, r->id);
    put_str(b, q->method);
    put_str(b, q->path);
    put_str(b, q->query);
    put_str(b, q->protocol);
    put_str(b, q->host);
    put_str(b, q->server_name);
    put_str(b, q->server_port);
    put_str(b, q->remote_addr);
    put_headers(b, q->headers, q->nheaders);
    put_bytes(b, q->body, q->body_len);
    return end(b, at);
}

bool wire_request_decode(const uint8_t *msg, size_t len, wire_request *r)
{
    wire_reader rd = {msg, msg + len, false};
    memset(r, 0, sizeof *r);
    wagi_request *q = &r->rq;
    r->timeout_ms = get_u64(&rd);
    uint32_t flags = get_u32(&rd);
    r->health = flags & 1;
    r->body_follows = flags & 2;
    r->id = get_str(&rd);
    q->method = get_str(&rd);
    q->path = get_str(&rd);
    q->query = get_str(&rd);
    q->protocol = get_str(&rd);
    q->host = get_str(&rd);
    q->server_name = get_str(&rd);
    q->server_port = get_str(&rd);
    q->remote_addr = get_str(&rd);
    q->headers = get_headers(&rd, &q->nheaders);
    q->body = get_bytes(&rd, &q->body_len);
    if (rd.bad || rd.p != rd.end) {
        free((void *)q->headers);
        q->headers = NULL;
        return false;
    }
    return true;
}

bool wire_response_encode(wire_buf *b, const wire_response *r)
{
    size_t at = begin(b);
    put_u32(b, (uint32_t)r->status);
    put_str(b, r->why);
    put_u32(b, (uint32_t)r->started | (uint32_t)r->aborted << 1);
    put_u32(b, r->trap);
    put_f64(b, r->instantiate_s);
    put_f64(b, r->run_s);
    put_headers(b, r->headers, r->nheaders);
    put_bytes(b, r->body, r->body_len);
    put_bytes(b, r->err, r->err_len);
    return end(b, at);
}

bool wire_response_decode(const uint8_t *msg, size_t len, wire_response *r)
{
    wire_reader rd = {msg, msg + len, false};
    memset(r, 0, sizeof *r);
    r->status = (int)get_u32(&rd);
    r->why = get_str(&rd);
    uint32_t flags = get_u32(&rd);
    r->started = flags & 1;
    r->aborted = flags & 2;
    r->trap = get_u32(&rd);
    r->instantiate_s = get_f64(&rd);
    r->run_s = get_f64(&rd);
    r->headers = get_headers(&rd, &r->nheaders);
    r->body = get_bytes(&rd, &r->body_len);
    r->err = get_bytes(&rd, &r->err_len);
    if (rd.bad || rd.p != rd.end || r->status < 100 || r->status > 999) {
        free((void *)r->headers);
        r->headers = NULL;
        return false;
    }
    return true;
}

bool wire_part_head_encode(wire_buf *b, int status, const wagi_header *headers, size_t n)
{
    size_t at = begin(b);
    put_u32(b, WIRE_PART_HEAD);
    put_u32(b, (uint32_t)status);
    put_headers(b, headers, n);
    return end(b, at);
}

bool wire_part_body_encode(wire_buf *b, const void *data, size_t len)
{
    size_t at = begin(b);
    put_u32(b, WIRE_PART_BODY);
    put_bytes(b, data, len);
    return end(b, at);
}

bool wire_part_end_encode(wire_buf *b, bool ok)
{
    size_t at = begin(b);
    put_u32(b, WIRE_PART_END);
    put_u32(b, ok);
    return end(b, at);
}

bool wire_buf_append(wire_buf *b, const void *data, size_t len)
{
    put_raw(b, data, len);
    return !b->oom;
}

int wire_part_kind(const uint8_t *msg, size_t len)
{
    uint32_t kind = len >= 4 ? wire_length(msg) : 0;
    return kind >= WIRE_PART_HEAD && kind <= WIRE_PART_END ? (int)kind : WIRE_PART_NONE;
}

bool wire_part_decode(const uint8_t *msg, size_t len, wire_part *p)
{
    wire_reader rd = {msg, msg + len, false};
    memset(p, 0, sizeof *p);
    p->kind = (int)get_u32(&rd);
    if (p->kind == WIRE_PART_HEAD) {
        p->status = (int)get_u32(&rd);
        p->headers = get_headers(&rd, &p->nheaders);
    } else if (p->kind == WIRE_PART_END) {
        p->ok = get_u32(&rd) != 0;
    } else {
        p->data = get_bytes(&rd, &p->len);
    }
    if (rd.bad || rd.p != rd.end || (p->kind == WIRE_PART_HEAD && (p->status < 100 || p->status > 999))) {
        free((void *)p->headers);
        p->headers = NULL;
        return false;
    }
    return true;
}

bool wire_send(int fd, wire_buf *b)
{
    const uint8_t *p = b->data;
    size_t n = b->len;
    while (n) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return false;
        p += put;
        n -= (size_t)put;
    }
    b->len = 0;
    return true;
}

void wire_buf_free(wire_buf *b)
{
    free(b->data);
    *b = (wire_buf){0};
}
