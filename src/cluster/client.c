/*
 * client.c — the cluster API's client on libcurl (client.h).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/client.h"

static api_tls process_tls;
static bool process_tls_on;

void api_set_tls(const api_tls *tls)
{
    process_tls_on = tls && tls->ca_file[0];
    if (process_tls_on) process_tls = *tls;
}

bool api_tls_on(void) { return process_tls_on; }

/* The server's own certificate must name the role asked for (its OU): a
 * node's certificate, good as it is, does not make it the master. */
static int verify_role(int ok, X509_STORE_CTX *store)
{
    if (!ok || X509_STORE_CTX_get_error_depth(store) != 0) return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const char *role = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    X509_NAME *name = X509_get_subject_name(X509_STORE_CTX_get_current_cert(store));
    int i = role ? X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1) : -1;
    ASN1_STRING *ou = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
    if (!role || (ou && (size_t)ASN1_STRING_length(ou) == strlen(role) &&
                  !memcmp(ASN1_STRING_get0_data(ou), role, strlen(role))))
        return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

static CURLcode set_role(CURL *curl, void *ssl_ctx, void *role)
{
    (void)curl;
    SSL_CTX_set_app_data((SSL_CTX *)ssl_ctx, role);
    SSL_CTX_set_verify((SSL_CTX *)ssl_ctx, SSL_VERIFY_PEER, verify_role);
    return CURLE_OK;
}

/* https with the certificates of tls; false when a file cannot be set. */
static bool use_tls(CURL *curl, const api_tls *tls)
{
    bool ok = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3) == CURLE_OK;
    if (tls->no_verify) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        ok = ok && curl_easy_setopt(curl, CURLOPT_CAINFO, tls->ca_file) == CURLE_OK;
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
        if (tls->crl_file[0] && access(tls->crl_file, R_OK) == 0)
            ok = ok && curl_easy_setopt(curl, CURLOPT_CRLFILE, tls->crl_file) == CURLE_OK;
        if (tls->server_role[0])
            ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, set_role) == CURLE_OK &&
                 curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, (void *)tls->server_role) == CURLE_OK;
    }
    if (tls->cert_file[0]) {
        ok = ok && curl_easy_setopt(curl, CURLOPT_SSLCERT, tls->cert_file) == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_SSLKEY, tls->key_file) == CURLE_OK;
    }
    return ok;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready;

static void curl_setup(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT); }

void api_reply_free(api_reply *reply)
{
    free(reply->body);
    reply->body = NULL;
    reply->len = 0;
}

/* One call in progress. */
typedef struct call {
    CURL *curl;
    api_reply *out;
    size_t cap;
    api_piece_fn piece;     /* streaming: where 2xx pieces go */
    void *arg;
    bool stopped;           /* piece asked to stop */
    bool too_big;
} call;

static bool keep(call *c, const char *data, size_t n)
{
    api_reply *r = c->out;
    if (r->len + n > API_MAX_REPLY_BYTES) return c->too_big = true, false;
    if (r->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return false;
        r->body = b, c->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = 0;
    return true;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    call *c = arg;
    size_t n = size * nmemb;
    if (c->piece) {
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            if (c->piece(data, n, c->arg)) return n;
            c->stopped = true;
            return 0;
        }
    }
    return keep(c, data, n) ? n : 0;
}

/* "connection refused", "no answer within 5000 ms", ... */
static void explain(CURL *curl, CURLcode rc, const char *errbuf, long timeout_ms, char *out, size_t size)
{
    long os_errno = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, size, "no answer within %ld ms", timeout_ms);
    else if (rc == CURLE_COULDNT_CONNECT && os_errno)
        snprintf(out, size, "%s", strerror((int)os_errno));
    else if (rc == CURLE_COULDNT_RESOLVE_HOST)
        snprintf(out, size, "unknown host");
    else
        snprintf(out, size, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
    /* "Connection refused" -> "connection refused", to read within a line. */
    if (out[0] >= 'A' && out[0] <= 'Z' && (out[1] < 'A' || out[1] > 'Z')) out[0] = (char)(out[0] - 'A' + 'a');
}

static bool perform(const api_tls *tls, const char *address, const char *method, const char *path, const char *token,
                    const char *content_type, const void *body, size_t body_len, long timeout_ms,
                    long connect_timeout_ms, api_piece_fn piece, void *arg, api_reply *out, char *why,
                    size_t whylen)
{
    *out = (api_reply){0};
    pthread_once(&curl_once, curl_setup);
    if (curl_ready != CURLE_OK) {
        snprintf(why, whylen, "cannot set up libcurl: %s", curl_easy_strerror(curl_ready));
        return false;
    }
    char url[2048];
    if (tls && !tls->ca_file[0] && !tls->no_verify) tls = NULL;
    if (snprintf(url, sizeof url, "%s://%s%s", tls ? "https" : "http", address, path) >= (int)sizeof url) {
        snprintf(why, whylen, "the request path is too long");
        return false;
    }
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char auth[1024];
    char type[256];
    bool ok = curl != NULL;
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        ok = ok && (headers = curl_slist_append(headers, auth));
    }
    if (content_type) {
        snprintf(type, sizeof type, "Content-Type: %s", content_type);
        ok = ok && (headers = curl_slist_append(headers, type));
    }
    /* No "Expect: 100-continue" wait before a big body. */
    struct curl_slist *h = ok ? curl_slist_append(headers, "Expect:") : NULL;
    ok = ok && h;
    if (h) headers = h;
    if (!ok) {
        snprintf(why, whylen, "out of memory");
        curl_slist_free_all(headers);
        if (curl) curl_easy_cleanup(curl);
        return false;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    call c = {.curl = curl, .out = out, .piece = piece, .arg = arg};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (!tls) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    else if (!use_tls(curl, tls)) {
        snprintf(why, whylen, "cannot set up TLS for %s", address);
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        return false;
    }
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    if (timeout_ms) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
    if (strcmp(method, "GET") && strcmp(method, "POST")) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body) keep(&c, "", 0);
    if (rc == CURLE_WRITE_ERROR && c.stopped) rc = CURLE_OK;
    ok = rc == CURLE_OK && out->body;
    if (!ok) {
        char reason[CURL_ERROR_SIZE + 64];
        if (c.too_big)
            snprintf(reason, sizeof reason, "the answer is bigger than %u MiB", API_MAX_REPLY_BYTES >> 20);
        else if (rc == CURLE_OK)
            snprintf(reason, sizeof reason, "out of memory");
        else
            explain(curl, rc, errbuf, timeout_ms ? timeout_ms : connect_timeout_ms, reason, sizeof reason);
        /* A server that refuses our certificate just closes the handshake;
         * curl then speaks of sockets. Say what it likely means. */
        if (tls && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_SSL_CONNECT_ERROR ||
                    strstr(reason, "getpeername")))
            snprintf(reason + strlen(reason), sizeof reason - strlen(reason),
                     " (the TLS handshake failed: is this side's certificate revoked, expired or not the cluster CA's?)");
        snprintf(why, whylen, "no answer from %s: %s", address, reason);
        api_reply_free(out);
        out->status = 0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return ok;
}

static bool call_one(const api_tls *tls, const char *address, const char *method, const char *path,
                     const char *token, const char *content_type, const void *body, size_t body_len, long timeout_ms,
                     long connect_timeout_ms, api_reply *out, char *why, size_t whylen)
{
    return perform(tls, address, method, path, token, content_type, body, body_len, timeout_ms,
                   timeout_ms < connect_timeout_ms ? timeout_ms : connect_timeout_ms, NULL, NULL, out, why, whylen);
}

/* ---- several masters: "HOST:PORT,HOST:PORT,..." */

#define MAX_ADDRESSES 16
/* A master that cannot be connected to within this is passed over. */
#define FAILOVER_CONNECT_MS 1000
#define FAILOVER_PAUSE_MS 200

/* The address of a list that answered last, for the whole process, so
 * that calls do not knock at a dead master first every time. */
static pthread_mutex_t preferred_lock = PTHREAD_MUTEX_INITIALIZER;
static char preferred[256];

static size_t split_addresses(const char *list, char (*out)[256])
{
    size_t n = 0;
    for (const char *p = list; *p && n < MAX_ADDRESSES;) {
        size_t len = strcspn(p, ",");
        if (len && len < 256) snprintf(out[n++], 256, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    return n;
}

static size_t first_choice(char (*addrs)[256], size_t n)
{
    size_t first = 0;
    pthread_mutex_lock(&preferred_lock);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(addrs[i], preferred)) first = i;
    pthread_mutex_unlock(&preferred_lock);
    return first;
}

static void remember(const char *address)
{
    pthread_mutex_lock(&preferred_lock);
    snprintf(preferred, sizeof preferred, "%s", address);
    pthread_mutex_unlock(&preferred_lock);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* api_call and api_call_tls: one address, or several masters in turn. */
static bool call_masters(const api_tls *tls, const char *address, const char *method, const char *path,
                         const char *token, const char *content_type, const void *body, size_t body_len,
                         long timeout_ms, api_reply *out, char *why, size_t whylen)
{
    if (timeout_ms <= 0) timeout_ms = 30000;
    if (!strchr(address, ','))
        return call_one(tls, address, method, path, token, content_type, body, body_len, timeout_ms, 10000, out, why,
                        whylen);
    /* Masters in turn, from the one that answered last: one that does not
     * answer, or answers 503 (no master leads yet: an election is on), is
     * left for the next, round after round until timeout_ms. */
    char addrs[MAX_ADDRESSES][256];
    size_t n = split_addresses(address, addrs);
    if (!n) {
        snprintf(why, whylen, "no master address in '%.200s'", address);
        *out = (api_reply){0};
        return false;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool answered = false;
    for (size_t i = first_choice(addrs, n), tries = 0;; i = (i + 1) % n, tries++) {
        if (tries && tries % n == 0) {
            if (ms_since(&t0) + FAILOVER_PAUSE_MS >= timeout_ms) break;
            struct timespec pause = {0, FAILOVER_PAUSE_MS * 1000000L};
            nanosleep(&pause, NULL);
        }
        long left = timeout_ms - ms_since(&t0);
        if (left <= 0) break;
        /* A master that accepts but does not answer (frozen, overloaded)
         * gets its share of the time, not all of it. */
        long share = timeout_ms / (long)n > FAILOVER_CONNECT_MS ? timeout_ms / (long)n : FAILOVER_CONNECT_MS;
        if (answered) api_reply_free(out);
        answered = call_one(tls, addrs[i], method, path, token, content_type, body, body_len,
                            share < left ? share : left, FAILOVER_CONNECT_MS, out, why, whylen);
        if (answered && out->status != 503) {
            remember(addrs[i]);
            return true;
        }
        /* The next call starts past this one. */
        remember(addrs[(i + 1) % n]);
    }
    return answered;
}

bool api_call(const char *address, const char *method, const char *path, const char *token,
              const char *content_type, const void *body, size_t body_len, long timeout_ms, api_reply *out,
              char *why, size_t whylen)
{
    return call_masters(process_tls_on ? &process_tls : NULL, address, method, path, token, content_type, body,
                        body_len, timeout_ms, out, why, whylen);
}

bool api_call_tls(const api_tls *tls, const char *address, const char *method, const char *path, const char *token,
                  const char *content_type, const void *body, size_t body_len, long timeout_ms, api_reply *out,
                  char *why, size_t whylen)
{
    return call_masters(tls, address, method, path, token, content_type, body, body_len, timeout_ms, out, why,
                        whylen);
}

bool api_stream(const char *address, const char *method, const char *path, const char *token,
                long connect_timeout_ms, api_piece_fn piece, void *arg, api_reply *out, char *why, size_t whylen)
{
    if (connect_timeout_ms <= 0) connect_timeout_ms = 10000;
    const api_tls *tls = process_tls_on ? &process_tls : NULL;
    char addrs[MAX_ADDRESSES][256];
    size_t n = split_addresses(address, addrs);
    /* Several masters: the first that answers. */
    for (size_t i = 0; i + 1 < n; i++) {
        if (perform(tls, addrs[i], method, path, token, NULL, NULL, 0, 0, FAILOVER_CONNECT_MS, piece, arg, out, why,
                    whylen))
            return true;
    }
    return perform(tls, n ? addrs[n - 1] : address, method, path, token, NULL, NULL, 0, 0, connect_timeout_ms, piece,
                   arg, out, why, whylen);
}

bool api_stream_tls(const api_tls *tls, const char *address, const char *method, const char *path, const char *token,
                    long connect_timeout_ms, api_piece_fn piece, void *arg, api_reply *out, char *why, size_t whylen)
{
    return perform(tls, address, method, path, token, NULL, NULL, 0, 0, connect_timeout_ms > 0 ? connect_timeout_ms : 10000,
                   piece, arg, out, why, whylen);
}

const char *api_error(const api_reply *reply, char *buf, size_t size)
{
    if (reply->body && reply->len) {
        json_t *root = json_loadb(reply->body, reply->len, 0, NULL);
        const char *text = json_string_value(json_object_get(root, "error"));
        if (text) {
            snprintf(buf, size, "%s", text);
            json_decref(root);
            return buf;
        }
        json_decref(root);
        size_t line = strcspn(reply->body, "\r\n");
        if (line) {
            snprintf(buf, size, "%.*s", (int)line, reply->body);
            return buf;
        }
    }
    snprintf(buf, size, "HTTP %ld", reply->status);
    return buf;
}
