/*
 * p2_http_out.c — outbound HTTP: wasi:http outgoing-request and
 * request-options, outgoing-handler.handle and future-incoming-response,
 * sent with libcurl.
 *
 * Only what the policy (permissions.net) allows leaves: the host name and
 * port are checked when the guest calls handle (a refusal is the
 * error-code HTTP-request-denied, and a note for the log); the name is
 * then resolved once and curl is pinned to that address (CURLOPT_RESOLVE),
 * never follows a redirect, ignores proxy variables and speaks only HTTP
 * and HTTPS. The request is sent when the guest first asks for its
 * response (future-incoming-response.get), so that a body written after
 * handle goes with it; the response is read whole, up to the body limit,
 * and ends by the request's deadline.
 */
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "wasi/p2_http.h"

/* ------------------------------------------------------------ outgoing-request */

static char *dup_str(const qv_cval *s) { return strndup(s->of.str.ptr, s->of.str.len); }

static qv_trap *out_request_new(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = calloc(1, sizeof *rq);
    if (!rq) {
        http_fields_release(a[0].of.rep);
        return p2_trap_oom();
    }
    rq->method = 0; /* GET */
    rq->has_path = true;
    rq->path = strdup("/");
    rq->headers = a[0].of.rep;
    rq->headers->immutable = true;
    if (!rq->path) {
        http_out_request_free(rq);
        return p2_trap_oom();
    }
    r[0] = p2_own(rq);
    return NULL;
}

static qv_trap *out_request_body(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    const qv_http_exchange *x = http_exchange_of(c, env);
    return http_give_body(c, &rq->body, x ? x->policy.max_body : 0, r);
}

static qv_trap *out_request_method(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_out_request *rq = a[0].of.rep;
    qv_cval other = p2_string(c, rq->method_other ? rq->method_other : "", rq->method_other ? strlen(rq->method_other) : 0);
    r[0] = p2_case(c, QV_C_VARIANT, rq->method, rq->method == 9 ? &other : NULL);
    return NULL;
}

/* Replace *slot with the string payload of v (or NULL); false: no memory. */
static bool set_string(char **slot, const qv_cval *v)
{
    char *s = v ? dup_str(v) : NULL;
    if (v && !s) return false;
    free(*slot);
    *slot = s;
    return true;
}

static qv_trap *out_request_set_method(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    bool other = a[1].of.var.disc == 9;
    if (other && !set_string(&rq->method_other, a[1].of.var.payload)) return p2_trap_oom();
    rq->method = a[1].of.var.disc;
    r[0] = p2_ok(c, NULL);
    return NULL;
}

static qv_trap *out_request_path(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_out_request *rq = a[0].of.rep;
    r[0] = http_opt_string(c, rq->has_path, rq->path);
    return NULL;
}

static qv_trap *out_request_authority(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_out_request *rq = a[0].of.rep;
    r[0] = http_opt_string(c, rq->has_authority, rq->authority);
    return NULL;
}

static qv_trap *set_opt_string(qv_ccall *c, bool *has, char **slot, const qv_cval *opt, qv_cval *r)
{
    if (!set_string(slot, opt->of.var.disc ? opt->of.var.payload : NULL)) return p2_trap_oom();
    *has = opt->of.var.disc != 0;
    r[0] = p2_ok(c, NULL);
    return NULL;
}

static qv_trap *out_request_set_path(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    return set_opt_string(c, &rq->has_path, &rq->path, &a[1], r);
}

static qv_trap *out_request_set_authority(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    return set_opt_string(c, &rq->has_authority, &rq->authority, &a[1], r);
}

static qv_trap *out_request_scheme(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_out_request *rq = a[0].of.rep;
    if (!rq->has_scheme) {
        r[0] = http_none();
        return NULL;
    }
    qv_cval other = p2_string(c, rq->scheme_other ? rq->scheme_other : "", rq->scheme_other ? strlen(rq->scheme_other) : 0);
    qv_cval s = p2_case(c, QV_C_VARIANT, rq->scheme, rq->scheme == 2 ? &other : NULL);
    r[0] = http_some(c, &s);
    return NULL;
}

static qv_trap *out_request_set_scheme(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    rq->has_scheme = a[1].of.var.disc != 0;
    if (rq->has_scheme) {
        const qv_cval *s = a[1].of.var.payload;
        if (s->of.var.disc == 2 && !set_string(&rq->scheme_other, s->of.var.payload)) return p2_trap_oom();
        rq->scheme = s->of.var.disc;
    }
    r[0] = p2_ok(c, NULL);
    return NULL;
}

static qv_trap *out_request_headers(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    r[0] = p2_own(http_fields_retain(rq->headers));
    return NULL;
}

/* ------------------------------------------------------------ request-options */

static qv_trap *options_new(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_options *o = calloc(1, sizeof *o);
    if (!o) return p2_trap_oom();
    r[0] = p2_own(o);
    return NULL;
}

static qv_trap *options_get(qv_ccall *c, const qv_cval *a, qv_cval *r, int which)
{
    const http_options *o = a[0].of.rep;
    qv_cval ns = p2_u64(o->ns[which]);
    r[0] = o->has[which] ? http_some(c, &ns) : http_none();
    return NULL;
}

static qv_trap *options_set(qv_ccall *c, const qv_cval *a, qv_cval *r, int which)
{
    http_options *o = a[0].of.rep;
    o->has[which] = a[1].of.var.disc != 0;
    o->ns[which] = o->has[which] ? a[1].of.var.payload->of.u : 0;
    r[0] = p2_ok(c, NULL);
    return NULL;
}

#define OPTION_FNS(name, which)                                                                             \
    static qv_trap *options_##name(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)                    \
    {                                                                                                       \
        return options_get(c, a, r, which);                                                                 \
    }                                                                                                       \
    static qv_trap *options_set_##name(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)                \
    {                                                                                                       \
        return options_set(c, a, r, which);                                                                 \
    }
OPTION_FNS(connect, 0)
OPTION_FNS(first_byte, 1)
OPTION_FNS(between, 2)

/* ------------------------------------------------------------ the policy */

/* host and port of an authority ("h", "h:80", "[::1]:80"); false when malformed. */
static bool split_authority(const char *auth, bool https, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    size_t n;
    if (*auth == '[') {
        const char *end = strchr(auth, ']');
        if (!end) return false;
        n = (size_t)(end - auth - 1);
        if (n >= hostlen) return false;
        memcpy(host, auth + 1, n);
        colon = end[1] == ':' ? end + 1 : end[1] ? NULL : end + 1;
        if (!colon) return false;
    } else {
        colon = strchr(auth, ':');
        n = colon ? (size_t)(colon - auth) : strlen(auth);
        if (n >= hostlen || memchr(auth, '@', n) || memchr(auth, '/', n)) return false;
        memcpy(host, auth, n);
        if (!colon) colon = auth + n;
    }
    host[n] = 0;
    if (!n) return false;
    if (*colon != ':') {
        *port = https ? 443 : 80;
        return true;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p == 0 || p > 65535) return false;
    *port = (uint16_t)p;
    return true;
}

static bool host_matches(const char *pattern, const char *host)
{
    if (!strncmp(pattern, "*.", 2)) {
        size_t pl = strlen(pattern + 1), hl = strlen(host); /* ".example.com" */
        return hl > pl && !strcasecmp(host + hl - pl, pattern + 1);
    }
    return !strcasecmp(pattern, host);
}

static const char *refusal(const qv_http_policy *p, const char *host, uint16_t port)
{
    if (p->net == QV_HTTP_NET_NONE) return "the app has no network permission (permissions.net)";
    if (p->net == QV_HTTP_NET_ANY) return NULL;
    bool port_ok = !p->nports, host_ok = !p->nhosts;
    for (size_t i = 0; i < p->nports && !port_ok; i++) port_ok = p->ports[i] == port;
    for (size_t i = 0; i < p->nhosts && !host_ok; i++) host_ok = host_matches(p->hosts[i], host);
    if (!host_ok) return "the host is not in permissions.net.allowed_hosts";
    if (!port_ok) return "the port is not in permissions.net.allowed_ports";
    return NULL;
}

/* ------------------------------------------------------------ outgoing-handler */

static qv_cval denied(qv_ccall *c, uint32_t code)
{
    qv_cval e = http_error_code(c, code, NULL);
    return p2_case(c, QV_C_RESULT, 1, &e);
}

static qv_trap *handle(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_out_request *rq = a[0].of.rep;
    http_options *opts = a[1].of.var.disc ? a[1].of.var.payload->of.rep : NULL;
    qv_http_exchange *x = http_exchange_of(c, env);
    http_future_response *f = calloc(1, sizeof *f);
    if (!f) {
        http_out_request_free(rq);
        free(opts);
        return p2_trap_oom();
    }
    f->request = rq;
    if (opts) f->options = *opts;
    free(opts);
    bool https = !rq->has_scheme || rq->scheme == 1;
    char host[256];
    uint16_t port = 0;
    const char *why = NULL;
    uint32_t code = EC_HTTP_REQUEST_DENIED;
    if (rq->has_scheme && rq->scheme == 2) why = "only http and https are spoken", code = EC_HTTP_PROTOCOL_ERROR;
    else if (!rq->has_authority || !split_authority(rq->authority, https, host, sizeof host, &port))
        why = "the request names no valid host (authority)", code = EC_HTTP_REQUEST_URI_INVALID;
    else if (!x) why = "outbound HTTP is not set up for this app";
    else why = refusal(&x->policy, host, port);
    if (why) {
        http_note(x, "outbound request to %s refused: %s\n", rq->has_authority ? rq->authority : "(no host)", why);
        http_future_response_free(f);
        r[0] = denied(c, code);
        return NULL;
    }
    qv_cval own = p2_own(f);
    r[0] = p2_ok(c, &own);
    return NULL;
}

/* option<result<result<own<incoming-response>, error-code>>> */
static qv_trap *future_get(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_future_response *f = a[0].of.rep;
    qv_cval outcome;
    if (f->taken) {
        outcome = p2_case(c, QV_C_RESULT, 1, NULL);
        r[0] = http_some(c, &outcome);
        return NULL;
    }
    if (!f->done) http_send(http_exchange_of(c, env), f, qv_ccall_store(c));
    f->taken = true;
    qv_cval inner;
    if (f->response) {
        qv_cval own = p2_own(f->response);
        f->response = NULL;
        inner = p2_ok(c, &own);
    } else {
        qv_cval e = http_error_code(c, f->error, f->error_text);
        inner = p2_case(c, QV_C_RESULT, 1, &e);
    }
    outcome = p2_ok(c, &inner);
    r[0] = http_some(c, &outcome);
    return NULL;
}

/* ------------------------------------------------------------ sending */

typedef struct transfer {
    http_in_response *resp;
    size_t max;
    bool too_large;
} transfer;

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    size_t len = size * n, end = len;
    while (end && (line[end - 1] == '\n' || line[end - 1] == '\r')) end--;
    if (len >= 5 && !strncmp(line, "HTTP/", 5)) { /* a new response (after 100 Continue): start over */
        http_fields_release(t->resp->headers);
        t->resp->headers = http_fields_new();
        return t->resp->headers ? len : 0;
    }
    const char *colon = memchr(line, ':', end);
    if (!colon) return len;
    const char *v = colon + 1;
    while (v < line + end && (*v == ' ' || *v == '\t')) v++;
    /* Hop-by-hop and malformed headers are left out: 0 from curl's side is an error. */
    int err = http_fields_add(t->resp->headers, line, (size_t)(colon - line), v, (size_t)(line + end - v));
    return err == HE_OUT_OF_MEMORY ? 0 : len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    transfer *t = arg;
    size_t len = size * n;
    wasi_membuf *b = &t->resp->body->buf;
    if (len > t->max - b->len) {
        t->too_large = true;
        return 0;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + len) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return len;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(http_future_response *f, uint32_t code, const char *text)
{
    f->error = code;
    free(f->error_text);
    f->error_text = text ? strdup(text) : NULL;
}

/* The first address host resolves to, as text for CURLOPT_RESOLVE. */
static bool resolve_once(const char *host, char *addr, size_t len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
    char text[INET6_ADDRSTRLEN];
    bool ok = getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, NULL, 0, NI_NUMERICHOST) == 0;
    if (ok) snprintf(addr, len, res->ai_family == AF_INET6 ? "[%s]" : "%s", text);
    freeaddrinfo(res);
    return ok;
}

static const char *method_name(const http_out_request *rq)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    return rq->method < 9 ? names[rq->method] : rq->method_other ? rq->method_other : "GET";
}

static long ms_of(uint64_t ns) { return ns / 1000000u ? (long)(ns / 1000000u) : 1; }

void http_send(qv_http_exchange *x, http_future_response *f, qv_store *store)
{
    (void)store;
    f->done = true;
    http_flush_response(x); /* the client need not wait with it while this one is out */
    http_out_request *rq = f->request;
    bool https = !rq->has_scheme || rq->scheme == 1;
    char host[256], addr[INET6_ADDRSTRLEN + 3], pin[600], url[8192];
    uint16_t port;
    if (!x || !split_authority(rq->authority, https, host, sizeof host, &port)) {
        fail(f, EC_HTTP_REQUEST_URI_INVALID, NULL);
        return;
    }
    uint64_t now = now_ns();
    if (x->policy.deadline_ns && now >= x->policy.deadline_ns) {
        fail(f, EC_CONNECTION_TIMEOUT, NULL);
        return;
    }
    if (!resolve_once(host, addr, sizeof addr)) {
        http_note(x, "outbound request to %s failed: the host name does not resolve\n", rq->authority);
        fail(f, EC_DESTINATION_NOT_FOUND, NULL);
        return;
    }
    bool v6 = strchr(host, ':') != NULL;
    snprintf(pin, sizeof pin, "%s%s%s:%u:%s", v6 ? "[" : "", host, v6 ? "]" : "", port, addr);
    int n = snprintf(url, sizeof url, "%s://%s%s", https ? "https" : "http", rq->authority,
                     rq->has_path && rq->path && *rq->path ? rq->path : "/");
    if (n < 0 || (size_t)n >= sizeof url) {
        fail(f, EC_HTTP_REQUEST_URI_INVALID, NULL);
        return;
    }
    http_in_response *resp = calloc(1, sizeof *resp);
    CURL *curl = curl_easy_init();
    struct curl_slist *pins = curl_slist_append(NULL, pin), *headers = curl_slist_append(NULL, "Expect:");
    if (resp) {
        resp->headers = http_fields_new();
        resp->body = http_body_new();
    }
    if (!resp || !resp->headers || !resp->body || !curl || !pins || !headers) {
        fail(f, EC_INTERNAL_ERROR, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < rq->headers->n; i++) {
        const http_field *h = &rq->headers->at[i];
        if (!strcasecmp(h->name, "host") || !strcasecmp(h->name, "content-length")) continue; /* curl's to set */
        char line[8192];
        snprintf(line, sizeof line, *h->value ? "%s: %s" : "%s;", h->name, h->value);
        struct curl_slist *more = curl_slist_append(headers, line);
        if (more) headers = more;
    }
    transfer t = {resp, x->policy.max_body, false};
    const char *method = method_name(rq);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_RESOLVE, pins);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET")) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (rq->body && (rq->body->buf.len || strcmp(method, "GET"))) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body->buf.len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body->buf.len ? rq->body->buf.data : "");
        if (!strcmp(method, "GET")) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "GET");
    }
    if (f->options.has[0]) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ms_of(f->options.ns[0]));
    uint64_t limit = x->policy.deadline_ns ? x->policy.deadline_ns - now : 0;
    if (f->options.has[1] && (!limit || f->options.ns[1] < limit)) limit = f->options.ns[1];
    if (limit) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms_of(limit));
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    switch (rc) {
    case CURLE_OK:
        resp->status = (uint16_t)status;
        resp->headers->immutable = true;
        f->response = resp;
        resp = NULL;
        break;
    case CURLE_COULDNT_RESOLVE_HOST: fail(f, EC_DESTINATION_NOT_FOUND, NULL); break;
    case CURLE_COULDNT_CONNECT: fail(f, EC_CONNECTION_REFUSED, NULL); break;
    case CURLE_OPERATION_TIMEDOUT: fail(f, status ? EC_HTTP_RESPONSE_TIMEOUT : EC_CONNECTION_TIMEOUT, NULL); break;
    case CURLE_WRITE_ERROR:
        fail(f, t.too_large ? EC_HTTP_RESPONSE_BODY_SIZE : EC_INTERNAL_ERROR, t.too_large ? NULL : "out of memory");
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: fail(f, EC_HTTP_RESPONSE_INCOMPLETE, NULL); break;
    default: fail(f, EC_INTERNAL_ERROR, curl_easy_strerror(rc)); break;
    }
    if (rc != CURLE_OK) http_note(x, "outbound request to %s failed: %s\n", rq->authority, curl_easy_strerror(rc));
done:
    http_in_response_free(resp);
    curl_slist_free_all(pins);
    curl_slist_free_all(headers);
    if (curl) curl_easy_cleanup(curl);
}

/* ------------------------------------------------------------ definitions */

#define OPT_DURATION "option<u64>"

/* libcurl's global set-up, once, whichever thread defines a host first
 * (apps are loaded on a preparation thread). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready;
static void curl_setup(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT); }

bool http_define_outgoing(p2_host *p, qv_chost *h)
{
    pthread_once(&curl_once, curl_setup);
    if (curl_ready != CURLE_OK) return false;
    static const p2_fn fns[] = {
        {NULL, "[constructor]outgoing-request", "func(headers: own<fields>) -> own<outgoing-request>", out_request_new},
        {NULL, "[method]outgoing-request.body", "func(self: borrow<outgoing-request>) -> result<own<outgoing-body>>", out_request_body},
        {NULL, "[method]outgoing-request.method", "func(self: borrow<outgoing-request>) -> method", out_request_method},
        {NULL, "[method]outgoing-request.set-method", "func(self: borrow<outgoing-request>, method: method) -> result", out_request_set_method},
        {NULL, "[method]outgoing-request.path-with-query", "func(self: borrow<outgoing-request>) -> option<string>", out_request_path},
        {NULL, "[method]outgoing-request.set-path-with-query", "func(self: borrow<outgoing-request>, path-with-query: option<string>) -> result", out_request_set_path},
        {NULL, "[method]outgoing-request.scheme", "func(self: borrow<outgoing-request>) -> option<scheme>", out_request_scheme},
        {NULL, "[method]outgoing-request.set-scheme", "func(self: borrow<outgoing-request>, scheme: option<scheme>) -> result", out_request_set_scheme},
        {NULL, "[method]outgoing-request.authority", "func(self: borrow<outgoing-request>) -> option<string>", out_request_authority},
        {NULL, "[method]outgoing-request.set-authority", "func(self: borrow<outgoing-request>, authority: option<string>) -> result", out_request_set_authority},
        {NULL, "[method]outgoing-request.headers", "func(self: borrow<outgoing-request>) -> own<fields>", out_request_headers},
        {NULL, "[constructor]request-options", "func() -> own<request-options>", options_new},
        {NULL, "[method]request-options.connect-timeout", "func(self: borrow<request-options>) -> " OPT_DURATION, options_connect},
        {NULL, "[method]request-options.set-connect-timeout", "func(self: borrow<request-options>, duration: " OPT_DURATION ") -> result", options_set_connect},
        {NULL, "[method]request-options.first-byte-timeout", "func(self: borrow<request-options>) -> " OPT_DURATION, options_first_byte},
        {NULL, "[method]request-options.set-first-byte-timeout", "func(self: borrow<request-options>, duration: " OPT_DURATION ") -> result", options_set_first_byte},
        {NULL, "[method]request-options.between-bytes-timeout", "func(self: borrow<request-options>) -> " OPT_DURATION, options_between},
        {NULL, "[method]request-options.set-between-bytes-timeout", "func(self: borrow<request-options>, duration: " OPT_DURATION ") -> result", options_set_between},
        {NULL, "[method]future-incoming-response.subscribe", "func(self: borrow<future-incoming-response>) -> own<pollable>", http_subscribe_ready},
        {NULL, "[method]future-incoming-response.get", "func(self: borrow<future-incoming-response>) -> option<result<result<own<incoming-response>, error-code>>>", future_get},
    };
    return p2_define_all(p, h, HTTP_TYPES, fns, sizeof fns / sizeof *fns) &&
           qv_chost_use(h, HTTP_OUTGOING, HTTP_TYPES, "outgoing-request") &&
           qv_chost_use(h, HTTP_OUTGOING, HTTP_TYPES, "request-options") &&
           qv_chost_use(h, HTTP_OUTGOING, HTTP_TYPES, "future-incoming-response") &&
           qv_chost_use(h, HTTP_OUTGOING, HTTP_TYPES, "error-code") &&
           qv_chost_func(h, HTTP_OUTGOING, "handle",
                         "func(request: own<outgoing-request>, options: option<own<request-options>>) -> "
                         "result<own<future-incoming-response>, error-code>",
                         handle, p);
}
