/*
 * answer.c — see answer.h.
 */
#include "serve/answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/log.h"

size_t answer_format_u64(char *out, unsigned long long v, unsigned base)
{
    /* Not snprintf: this runs several times per request. */
    char digits[20];
    size_t n = 0;
    do digits[n++] = "0123456789abcdef"[v % base], v /= base;
    while (v);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* Headers a guest gets as HTTP_* variables: not Proxy (httpoxy), and not
 * names with '_', which would collide with their '-' twins. */
static bool header_for_guest(const char *name)
{
    return strcasecmp(name, "Proxy") && !strchr(name, '_');
}

bool guest_request_make(guest_request *g, const http_request *r, const char *address, uint16_t port)
{
    const char *host = r->host;
    answer_format_u64(g->port, port, 10);
    if (!*host) snprintf(g->hostbuf, sizeof g->hostbuf, "%s:%s", address, g->port), host = g->hostbuf;
    size_t name_len = strcspn(host, ":");
    if (name_len >= sizeof g->server_name) name_len = sizeof g->server_name - 1;
    memcpy(g->server_name, host, name_len);
    g->server_name[name_len] = '\0';
    g->list = r->nheaders <= 32 ? g->fixed : calloc(r->nheaders, sizeof *g->list);
    if (!g->list) return false;
    size_t n = 0;
    for (size_t k = 0; k < r->nheaders; k++)
        if (header_for_guest(r->headers[k].name)) g->list[n++] = (wagi_header){r->headers[k].name, r->headers[k].value};
    g->rq = (wagi_request){.method = r->method, .path = r->path, .query = r->query,
                           .protocol = r->version_minor ? "HTTP/1.1" : "HTTP/1.0", .host = host,
                           .server_name = g->server_name, .server_port = g->port, .remote_addr = r->peer,
                           .headers = g->list, .nheaders = n, .body = r->body, .body_len = r->body_len};
    return true;
}

void guest_request_free(guest_request *g)
{
    if (g->list != g->fixed) free(g->list);
    g->list = NULL;
}

void answer_of_run(const wagi_result *res, uint64_t timeout_ms, cgi_response *cgi, wire_response *resp, char *why,
                   size_t whylen)
{
    int status;
    bool parsed = false;
    why[0] = '\0';
    if (res->timed_out) {
        status = 504;
        snprintf(why, whylen, "the app ran past its timeout of %llu ms", (unsigned long long)timeout_ms);
    } else if (!res->started && !res->trap) {
        status = 500;
        snprintf(why, whylen, "%s", res->message);
    } else if (res->trap && res->trap != QV_TRAP_EXIT) {
        status = 500;
        snprintf(why, whylen, "the app trapped: %s", res->message);
    } else if (res->out_full) {
        status = 502;
        snprintf(why, whylen, "the app wrote more on stdout than its limit allows (%zu bytes, or what "
                 "resources.memory leaves)", WAGI_MAX_OUTPUT);
    } else if (!cgi_parse(res->out, res->out_len, cgi, why, whylen)) {
        status = 502;
    } else {
        status = cgi->status;
        parsed = true;
    }
    /* Errors carry no app headers: the front writes their text. */
    wagi_header *headers = parsed ? calloc(cgi->nheaders + 1, sizeof *headers) : NULL;
    if (parsed && !headers) {
        status = 500;
        snprintf(why, whylen, "out of memory");
        parsed = false;
    }
    for (size_t i = 0; parsed && i < cgi->nheaders; i++)
        headers[i] = (wagi_header){cgi->headers[i].name, cgi->headers[i].value};
    *resp = (wire_response){
        .status = status,
        .why = why,
        .started = res->started,
        .trap = res->trap,
        .instantiate_s = res->instantiate_s,
        .run_s = res->run_s,
        .headers = headers,
        .nheaders = parsed ? cgi->nheaders : 0,
        .body = parsed ? cgi->body : "",
        .body_len = parsed ? cgi->body_len : 0,
        .err = res->err ? res->err : "",
        .err_len = res->err ? res->err_len : 0,
    };
}

size_t answer_client(http_exchange *x, const wire_response *resp, const char *id)
{
    if (resp->status >= 500 && !resp->nheaders) {
        char text[700];
        int n = snprintf(text, sizeof text, "%d %s: %s (request %s)\n", resp->status, http_reason(resp->status),
                         resp->status == 504 ? "the app took too long" : "the app failed", id);
        http_field h[2] = {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Request-Id", id}};
        http_respond(x, resp->status, h, 2, text, (size_t)n);
        return (size_t)n;
    }
    http_field fixed[8], *h = resp->nheaders + 1 <= 8 ? fixed : malloc((resp->nheaders + 1) * sizeof *h);
    size_t n = 0;
    if (h) {
        for (size_t i = 0; i < resp->nheaders; i++) h[n++] = (http_field){resp->headers[i].name, resp->headers[i].value};
        h[n++] = (http_field){"X-Request-Id", id};
    }
    http_respond(x, resp->status, h, n, resp->body, resp->body_len);
    if (h != fixed) free(h);
    return resp->body_len;
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

void answer_log_lines(const answer_log *l, const wire_response *resp, size_t bytes)
{
    const char *s = resp->err, *end = s + resp->err_len;
    while (s < end && log_enabled(LOG_INFO)) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        log_json(LOG_INFO, NULL,
                 json_pack("{s:s,s:s,s:s,s:o}", "app", l->app, "replica", l->replica, "request_id", l->id, "stderr",
                           json_bytes(s, n)));
        s += n + 1;
    }
    if (*resp->why)
        log_json(LOG_WARN, resp->why, json_pack("{s:s,s:s,s:s}", "app", l->app, "replica", l->replica, "request_id", l->id));
    log_level level = resp->status >= 500 ? LOG_WARN : LOG_INFO;
    if (!log_enabled(level)) return; /* not even the fields: this is per request */
    double ms = (double)(wagi_now_ns() - l->start_ns) / 1e6;
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:f}", "app", l->app, "replica", l->replica, "request_id",
                          l->id, "method", l->method, "path", l->path, "status", resp->status, "bytes",
                          (json_int_t)bytes, "duration_ms", ms, "instantiate_ms", resp->instantiate_s * 1000);
    log_json(level, "request", f);
}
