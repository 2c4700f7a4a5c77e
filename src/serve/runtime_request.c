/*
 * runtime_request.c — running one request on an app's pool: the request
 * encoded for a replica, the answer sent back, logged and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/answer.h"
#include "serve/direct.h"
#include "serve/log.h"
#include "serve/runtime_impl.h"

/* A client's request while a replica runs it. */
typedef struct job {
    pool_request pr;           /* first: the pool hands it back */
    serve_runtime *rt;
    http_exchange *x;
    runtime_app *app;          /* held until answered: it may be replaced meanwhile */
    const char *method;
    char *path;
    uint64_t start_ns;
    bool streaming;            /* a streamed response's head went to the client */
    bool cut;                  /* ... and was cut off: x is gone */
    wire_buf part;             /* a request body's part being encoded */
    /* A response head not sent yet (see on_part), encoded, then the body
     * bytes that came after it. */
    bool head_held;
    wire_buf held;
    size_t held_head_len;
    size_t streamed;           /* body bytes given to the client so far */
    char id[24];
} job;

static void job_free(job *j)
{
    wire_buf_free(&j->pr.msg);
    wire_buf_free(&j->part);
    wire_buf_free(&j->held);
    free(j->path);
    runtime_app_release(j->app);
    free(j);
}

/* The length the app's headers give its body, if they give one that is
 * valid (digits only); -1 otherwise. */
static long long declared_length(const wagi_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "Content-Length")) continue;
        const char *v = h[i].value;
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18) return -1;
        return strtoll(v, NULL, 10);
    }
    return -1;
}

static void resume(void *arg)
{
    pool_resume(&((job *)arg)->pr);
}

/* What the client has not taken of a streamed response: past this, the
 * replica waits (its guest blocks in its writes) until it has all gone. */
#define STREAM_QUEUE_MAX ((size_t)1 << 20)
/* The most body held back with a head (see on_part). */
#define HELD_BODY_MAX ((size_t)64 << 10)

/* The app's headers and ours, for x (into fixed when they fit). */
static http_field *headers_for_client(const job *j, const wire_part *head, http_field *fixed, size_t nfixed, size_t *n)
{
    http_field *h = head->nheaders + 1 <= nfixed ? fixed : malloc((head->nheaders + 1) * sizeof *h);
    *n = 0;
    if (!h) return fixed;
    for (size_t i = 0; i < head->nheaders; i++) h[(*n)++] = (http_field){head->headers[i].name, head->headers[i].value};
    h[(*n)++] = (http_field){"X-Request-Id", j->id};
    return h;
}

/* The held head, decoded (free part->headers). */
static bool held_head(const job *j, wire_part *head)
{
    return wire_part_decode(j->held.data + 4, j->held_head_len - 4, head);
}

/* The held head and body go out as the start of a stream: Content-Length
 * when the app gave one, else chunked (close-delimited for HTTP/1.0). */
static void release_held(job *j)
{
    wire_part head;
    j->head_held = false;
    j->streaming = true;
    if (!held_head(j, &head)) {
        http_stream_abort(j->x);
        j->cut = true;
        return;
    }
    http_field fixed[16];
    size_t n;
    http_field *h = headers_for_client(j, &head, fixed, 16, &n);
    long long length = declared_length(head.headers, head.nheaders);
    if (length >= 0) http_stream_start_sized(j->x, head.status, h, n, (uint64_t)length);
    else http_stream_start(j->x, head.status, h, n);
    if (h != fixed) free(h);
    free((void *)head.headers);
    size_t body = j->held.len - j->held_head_len;
    http_stream_write(j->x, (const char *)j->held.data + j->held_head_len, body);
    j->streamed += body;
    wire_buf_free(&j->held);
}

/* A part of a streamed response (wasi:http components). The head is held
 * until what arrived with it has been read (the pool then gives a part of
 * kind NONE), so that a small response that came whole is sent whole, in
 * one write; then it goes out, and the body as it comes. */
static void on_part(pool_request *pr, const wire_part *part)
{
    job *j = (job *)pr;
    if (j->cut) return;
    if (!part) { /* its client did not read it within the timeout */
        if (j->streaming || j->head_held) http_stream_abort(j->x); /* x is gone */
        j->cut = j->streaming = j->streaming || j->head_held;
        j->head_held = false;
        return;
    }
    switch (part->kind) {
    case WIRE_PART_NONE:
        if (j->head_held) release_held(j);
        return;
    case WIRE_PART_HEAD:
        if (j->streaming || j->head_held) return;
        j->head_held = wire_part_head_encode(&j->held, part->status, part->headers, part->nheaders);
        j->held_head_len = j->held.len;
        return;
    case WIRE_PART_BODY:
        if (j->head_held) {
            if (!wire_buf_append(&j->held, part->data, part->len) || j->held.len - j->held_head_len > HELD_BODY_MAX)
                release_held(j);
            return;
        }
        if (!j->streaming) return;
        http_stream_write(j->x, part->data, part->len);
        j->streamed += part->len;
        if (http_stream_queued(j->x) > STREAM_QUEUE_MAX) {
            pool_pause(pr);
            http_on_drained(j->x, resume, j);
        }
        return;
    }
}

/* A streamed response that came whole before its head was sent: one
 * answer, with Content-Length. */
static size_t respond_held(job *j, const wire_response *resp)
{
    wire_part head;
    j->head_held = false;
    if (!wire_buf_append(&j->held, resp->body, resp->body_len) || !held_head(j, &head)) {
        http_respond_text(j->x, 500, "out of memory");
        return 0;
    }
    http_field fixed[16];
    size_t n, len = j->held.len - j->held_head_len;
    http_field *h = headers_for_client(j, &head, fixed, 16, &n);
    http_respond(j->x, head.status, h, n, (const char *)j->held.data + j->held_head_len, len);
    if (h != fixed) free(h);
    free((void *)head.headers);
    return len;
}

/* The end of a streamed response: its last bytes, or the connection cut
 * when the app failed after its head went out (its status cannot change). */
static size_t end_stream(job *j, const wire_response *resp)
{
    if (j->cut) return j->streamed;
    if (resp->aborted || !resp->started) { /* !started: the pool's own answer (the replica died) */
        http_stream_abort(j->x);
        return j->streamed;
    }
    http_stream_write(j->x, resp->body, resp->body_len);
    http_stream_end(j->x);
    return j->streamed + resp->body_len;
}

/* The instance's own counts (two revisions of an app are compared by them). */
static void count_answer(runtime_app *a, int status, double seconds)
{
    a->answered++;
    a->failed += status >= 500;
    a->answer_seconds += seconds;
}

void runtime_direct_done(void *ctx, const direct_record *r)
{
    runtime_app *a = ctx;
    metrics_request_started(a->app.metrics);
    metrics_request_done(a->app.metrics, r->status, r->seconds, r->started ? r->instantiate_s : 0,
                         (qv_trap_kind)r->trap);
    count_answer(a, r->status, r->seconds);
}

/* The pool's answer: send it, log it, count it. */
static void reply(pool_request *pr, const wire_response *resp, int replica_index)
{
    job *j = (job *)pr;
    char replica[24] = "";
    if (replica_index >= 0) answer_format_u64(replica, (unsigned long long)replica_index, 10);
    size_t bytes = 0;
    /* A failure before anything went out still gets its status. */
    if (j->head_held && (resp->aborted || !resp->started)) j->head_held = false;
    if (j->head_held) {
        bytes = respond_held(j, resp);
    } else if (j->streaming) {
        bytes = end_stream(j, resp);
    } else {
        bytes = answer_client(j->x, resp, j->id);
    }
    if (j->cut)
        log_json(LOG_WARN, "the client did not take the response within the app's timeout: it was cut off",
                 json_pack("{s:s,s:s,s:s}", "app", j->app->app.name, "replica", replica, "request_id", j->id));
    answer_log l = {j->app->app.name, replica, j->id, j->method, j->path, j->start_ns};
    answer_log_lines(&l, resp, bytes);
    double seconds = (double)(wagi_now_ns() - j->start_ns) / 1e9;
    metrics_request_done(j->app->app.metrics, resp->status, seconds, resp->started ? resp->instantiate_s : 0,
                         (qv_trap_kind)resp->trap);
    count_answer(j->app, resp->status, seconds);
    j->rt->in_flight--;
    job_free(j);
}

/* ---- a request body passed on as it arrives (wasi:http components) */

/* What the replica has not taken of the body: past this, the client's
 * body is not read until it has. */
#define BODY_QUEUE_MAX ((size_t)1 << 20)

static void body_sent(pool_request *pr)
{
    http_body_pause(((job *)pr)->x, false);
}

static void send_part(job *j, bool encoded)
{
    bool ok = encoded && pool_send_more(&j->pr, j->part.data, j->part.len);
    j->part.len = 0;
    j->part.oom = false;
    if (!ok) { /* out of memory: the body breaks off for the guest */
        if (wire_part_end_encode(&j->part, false)) pool_send_more(&j->pr, j->part.data, j->part.len);
        j->part.len = 0;
        j->pr.body_open = false;
    }
}

static void on_body_data(void *arg, const char *data, size_t len)
{
    job *j = arg;
    if (!j->pr.body_open) return;
    send_part(j, wire_part_body_encode(&j->part, data, len));
    if (j->pr.body_open && pool_unsent(&j->pr) > BODY_QUEUE_MAX) {
        j->pr.sent = body_sent;
        http_body_pause(j->x, true);
    }
}

static void end_body(job *j, bool whole)
{
    if (!j->pr.body_open) return;
    send_part(j, wire_part_end_encode(&j->part, whole));
    j->pr.body_open = false;
    j->pr.sent = NULL;
}

static void on_body_end(void *arg, const char *error)
{
    job *j = arg;
    if (error)
        log_json(LOG_INFO, "the request body broke off",
                 json_pack("{s:s,s:s,s:s}", "app", j->app->app.name, "request_id", j->id, "reason", error));
    end_body(j, !error);
}

/* The client went away: a request still queued need not run. */
static void on_abandon(void *arg)
{
    job *j = arg;
    j->pr.cancelled = true;
    end_body(j, false);
    pool_resume(&j->pr); /* a streamed answer is dropped from now on */
}

/* Retry-After for an app failing its health checks: its next check. */
static void respond_unhealthy(http_exchange *x, const serve_app *app)
{
    char retry[24], text[200];
    snprintf(retry, sizeof retry, "%llu", (unsigned long long)(app->rc.health_interval_ms + 999) / 1000);
    int n = snprintf(text, sizeof text, "503 %s: the app is failing its health check\n", http_reason(503));
    http_field h[2] = {{"Content-Type", "text/plain; charset=utf-8"}, {"Retry-After", retry}};
    http_respond(x, 503, h, 2, text, (size_t)n);
}

bool runtime_app_streams_bodies(const runtime_app *app)
{
    return app->app.component != NULL;
}

void runtime_serve(serve_runtime *rt, runtime_app *ra, http_exchange *x, const http_request *r)
{
    serve_app *app = &ra->app;
    pool *p = ra->pool;
    if (!pool_healthy(p)) {
        count_answer(ra, 503, 0);
        respond_unhealthy(x, app);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(r->path))) {
        free(j);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    j->rt = rt;
    j->x = x;
    j->app = ra;
    runtime_app_retain(ra);
    j->method = r->method;
    j->start_ns = wagi_now_ns();
    size_t id_len = answer_format_u64(j->id, (unsigned long long)(rt->started_ns / 1000000 % 0xffffff), 16);
    j->id[id_len++] = '-';
    answer_format_u64(j->id + id_len, (unsigned long long)++rt->next_id, 16);
    /* The request as the replica gets it: its strings point into the
     * request, which lives until we answer. */
    guest_request g;
    bool ok = guest_request_make(&g, r, rt->opt.address, rt->opt.port);
    wire_request wr = {.rq = g.rq, .timeout_ms = app->rc.timeout_ms, .id = j->id, .body_follows = r->body_streams};
    ok = ok && wire_request_encode(&j->pr.msg, &wr);
    guest_request_free(&g);
    if (!ok) {
        job_free(j);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    j->pr.timeout_ms = app->rc.timeout_ms;
    j->pr.done = reply;
    j->pr.part = on_part;
    j->pr.body_open = r->body_streams;
    http_on_abandon(x, on_abandon, j);
    metrics_request_started(app->metrics);
    rt->in_flight++;
    /* (Before submitting: an answer given at once lets go of the sink.) */
    if (r->body_streams) http_body_take(x, &(http_body_sink){j, on_body_data, on_body_end});
    pool_verdict v = pool_submit(p, &j->pr); /* may answer (reply) before returning */
    if (v == POOL_TAKEN) return;
    http_on_abandon(x, NULL, NULL);
    rt->in_flight--;
    metrics_request_done(app->metrics, 503, (double)(wagi_now_ns() - j->start_ns) / 1e9, 0, 0);
    count_answer(ra, 503, 0);
    job_free(j);
    if (v == POOL_UNHEALTHY) respond_unhealthy(x, app);
    else http_respond_text(x, 503, "too many requests are waiting for this app");
}
