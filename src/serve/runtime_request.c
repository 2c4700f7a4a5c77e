/*
 * runtime_request.c — running one request on an app's pool: the request
 * encoded for a replica, the answer sent back, logged and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    char id[24];
} job;

/* v in the given base (10 or 16, lower case) at out, NUL-terminated: out
 * has room for 21 bytes. Its length. Not snprintf: this runs several times
 * per request. */
static size_t format_u64(char *out, unsigned long long v, unsigned base)
{
    char digits[20];
    size_t n = 0;
    do digits[n++] = "0123456789abcdef"[v % base], v /= base;
    while (v);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* A JSON string for arbitrary bytes: invalid UTF-8 becomes '?'. */
static json_t *json_bytes(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *copy = malloc(n + 1);
    if (!copy) return json_string("");
    for (size_t i = 0; i < n; i++) copy[i] = (unsigned char)s[i] < 128 ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j ? j : json_string("");
}

/* The guest's stderr, a log line per line. */
static void log_stderr(const job *j, const wire_response *resp, const char *replica)
{
    const char *s = resp->err, *end = s + resp->err_len;
    while (s < end && log_enabled(LOG_INFO)) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        log_json(LOG_INFO, NULL,
                 json_pack("{s:s,s:s,s:s,s:o}", "app", j->app->app.name, "replica", replica, "request_id", j->id,
                           "stderr", json_bytes(s, n)));
        s += n + 1;
    }
}

static void log_access(const job *j, const wire_response *resp, const char *replica, size_t bytes)
{
    log_level level = resp->status >= 500 ? LOG_WARN : LOG_INFO;
    if (!log_enabled(level)) return; /* not even the fields: this is per request */
    double ms = (double)(wagi_now_ns() - j->start_ns) / 1e6;
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:f}", "app", j->app->app.name, "replica", replica,
                          "request_id", j->id, "method", j->method, "path", j->path, "status", resp->status,
                          "bytes", (json_int_t)bytes, "duration_ms", ms, "instantiate_ms",
                          resp->instantiate_s * 1000);
    log_json(level, "request", f);
}

static void job_free(job *j)
{
    wire_buf_free(&j->pr.msg);
    free(j->path);
    runtime_app_release(j->app);
    free(j);
}

/* The instance's own counts (two revisions of an app are compared by them). */
static void count_answer(runtime_app *a, int status, double seconds)
{
    a->answered++;
    a->failed += status >= 500;
    a->answer_seconds += seconds;
}

/* The pool's answer: send it, log it, count it. */
static void reply(pool_request *pr, const wire_response *resp, int replica_index)
{
    job *j = (job *)pr;
    char replica[24] = "";
    if (replica_index >= 0) format_u64(replica, (unsigned long long)replica_index, 10);
    size_t bytes = 0;
    if (resp->status >= 500 && !resp->nheaders) {
        char text[700];
        int n = snprintf(text, sizeof text, "%d %s: %s (request %s)\n", resp->status, http_reason(resp->status),
                         resp->status == 504 ? "the app took too long" : "the app failed", j->id);
        bytes = (size_t)n;
        http_field h[2] = {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Request-Id", j->id}};
        http_respond(j->x, resp->status, h, 2, text, bytes);
    } else {
        http_field fixed[8], *h = resp->nheaders + 1 <= 8 ? fixed : malloc((resp->nheaders + 1) * sizeof *h);
        size_t n = 0;
        if (h) {
            for (size_t i = 0; i < resp->nheaders; i++) h[n++] = (http_field){resp->headers[i].name, resp->headers[i].value};
            h[n++] = (http_field){"X-Request-Id", j->id};
        }
        bytes = resp->body_len;
        http_respond(j->x, resp->status, h, n, resp->body, resp->body_len);
        if (h != fixed) free(h);
    }
    log_stderr(j, resp, replica);
    if (*resp->why)
        log_json(LOG_WARN, resp->why,
                 json_pack("{s:s,s:s,s:s}", "app", j->app->app.name, "replica", replica, "request_id", j->id));
    log_access(j, resp, replica, bytes);
    double seconds = (double)(wagi_now_ns() - j->start_ns) / 1e9;
    metrics_request_done(j->app->app.metrics, resp->status, seconds, resp->started ? resp->instantiate_s : 0,
                         (qv_trap_kind)resp->trap);
    count_answer(j->app, resp->status, seconds);
    j->rt->in_flight--;
    job_free(j);
}

/* The client went away: a request still queued need not run. */
static void on_abandon(void *arg)
{
    job *j = arg;
    j->pr.cancelled = true;
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

/* Headers a guest gets as HTTP_* variables: not Proxy (httpoxy), and not
 * names with '_', which would collide with their '-' twins. */
static bool header_for_guest(const char *name)
{
    return strcasecmp(name, "Proxy") && !strchr(name, '_');
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
    size_t id_len = format_u64(j->id, (unsigned long long)(rt->started_ns / 1000000 % 0xffffff), 16);
    j->id[id_len++] = '-';
    format_u64(j->id + id_len, (unsigned long long)++rt->next_id, 16);
    /* The request as the replica gets it: its strings point into the
     * request, which lives until we answer. */
    const char *host = r->host;
    char port[24], hostbuf[300], server_name[256];
    format_u64(port, rt->opt.port, 10);
    if (!*host) snprintf(hostbuf, sizeof hostbuf, "%s:%s", rt->opt.address, port), host = hostbuf;
    size_t name_len = strcspn(host, ":");
    if (name_len >= sizeof server_name) name_len = sizeof server_name - 1;
    memcpy(server_name, host, name_len);
    server_name[name_len] = '\0';
    wagi_header fixed[32], *list = r->nheaders <= 32 ? fixed : calloc(r->nheaders, sizeof *list);
    size_t n = 0;
    for (size_t k = 0; list && k < r->nheaders; k++)
        if (header_for_guest(r->headers[k].name)) list[n++] = (wagi_header){r->headers[k].name, r->headers[k].value};
    wire_request wr = {
        .rq = {.method = j->method, .path = r->path, .query = r->query,
               .protocol = r->version_minor ? "HTTP/1.1" : "HTTP/1.0", .host = host, .server_name = server_name,
               .server_port = port, .remote_addr = r->peer, .headers = list, .nheaders = n, .body = r->body,
               .body_len = r->body_len},
        .timeout_ms = app->rc.timeout_ms,
        .id = j->id,
    };
    bool ok = list && wire_request_encode(&j->pr.msg, &wr);
    if (list != fixed) free(list);
    if (!ok) {
        job_free(j);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    j->pr.timeout_ms = app->rc.timeout_ms;
    j->pr.done = reply;
    http_on_abandon(x, on_abandon, j);
    metrics_request_started(app->metrics);
    rt->in_flight++;
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
