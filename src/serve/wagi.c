/*
 * wagi.c — a fresh instance per request. The module was compiled when the
 * server started; per request only a store, the WASI context and the
 * instance are made. stdin, stdout and stderr live in memory (the WASI
 * host's stdio_in_memory): no pipe to block on, no system call per request
 * for them, and a cap on how much an app can write.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "qyvol/wasi.h"
#include "serve/wagi.h"

uint64_t wagi_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct strvec {
    char **v;
    size_t n;
    bool oom;
} strvec;

static void push(strvec *s, char *str)
{
    char **grown = str ? realloc(s->v, (s->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(str);
        s->oom = true;
        return;
    }
    s->v = grown;
    s->v[s->n++] = str;
}

static void pushf(strvec *s, const char *key, const char *value)
{
    char *kv = malloc(strlen(key) + strlen(value) + 2);
    if (kv) sprintf(kv, "%s=%s", key, value);
    push(s, kv);
}

static void strvec_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* %XX-decode a path (PATH_INFO is decoded, X_RAW_PATH_INFO is not). */
static char *url_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out) return NULL;
    for (; *s; s++) {
        if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
    return out;
}

/* The CGI/1.1 environment WAGI defines, after the manifest's env (so the
 * request's variables win). */
static void build_env(const serve_app *app, const wagi_request *rq, strvec *env)
{
    for (size_t i = 0; i < app->rc.nenv; i++) push(env, strdup(app->rc.env[i]));
    size_t rlen = strlen(app->route);
    const char *raw_info = rq->path + (strncmp(rq->path, app->route, rlen) ? 0 : rlen);
    char *info = url_decode(raw_info);
    char len[32], full[4096], matched[1024];
    snprintf(len, sizeof len, "%zu", rq->body_len);
    snprintf(full, sizeof full, "http://%s%s%s%s", rq->host, rq->path, *rq->query ? "?" : "", rq->query);
    snprintf(matched, sizeof matched, "%s/...", app->route);
    const char *content_type = "";
    for (size_t i = 0; i < rq->nheaders; i++)
        if (!strcasecmp(rq->headers[i].name, "content-type")) content_type = rq->headers[i].value;
    pushf(env, "AUTH_TYPE", "");
    pushf(env, "CONTENT_LENGTH", len);
    pushf(env, "CONTENT_TYPE", content_type);
    pushf(env, "GATEWAY_INTERFACE", "CGI/1.1");
    pushf(env, "PATH_INFO", info ? info : raw_info);
    pushf(env, "PATH_TRANSLATED", info ? info : raw_info);
    pushf(env, "QUERY_STRING", rq->query);
    pushf(env, "REMOTE_ADDR", rq->remote_addr);
    pushf(env, "REMOTE_HOST", rq->remote_addr);
    pushf(env, "REMOTE_USER", "");
    pushf(env, "REQUEST_METHOD", rq->method);
    pushf(env, "SCRIPT_NAME", app->route);
    pushf(env, "SERVER_NAME", rq->server_name);
    pushf(env, "SERVER_PORT", rq->server_port);
    pushf(env, "SERVER_PROTOCOL", rq->protocol);
    pushf(env, "SERVER_SOFTWARE", "Qyvol/" QYVOL_VERSION);
    pushf(env, "X_FULL_URL", full);
    pushf(env, "X_MATCHED_ROUTE", matched);
    pushf(env, "X_RAW_PATH_INFO", raw_info);
    free(info);
    /* Every header as HTTP_NAME, except credentials and hop-by-hop ones. */
    for (size_t i = 0; i < rq->nheaders; i++) {
        char key[256] = "HTTP_";
        size_t k = 5;
        for (const char *c = rq->headers[i].name; *c && k < sizeof key - 1; c++)
            key[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        key[k] = 0;
        if (!strcmp(key, "HTTP_AUTHORIZATION") || !strcmp(key, "HTTP_CONNECTION")) continue;
        pushf(env, key, rq->headers[i].value);
    }
}

/* argv: the path, the manifest's args, then the query's '&'-separated items. */
static void build_args(const serve_app *app, const wagi_request *rq, strvec *args)
{
    push(args, strdup(rq->path));
    for (size_t i = 1; i < app->rc.nargs; i++) push(args, strdup(app->rc.args[i]));
    const char *q = rq->query;
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n) push(args, strndup(q, n));
        q += n + (q[n] == '&');
    }
}

static char *copy_out(const char *data, size_t len, size_t *out_len)
{
    char *buf = malloc(len + 1);
    if (!buf) return NULL;
    memcpy(buf, data, len);
    buf[len] = 0;
    *out_len = len;
    return buf;
}

void wagi_run(const serve_app *app, const wagi_request *rq, uint64_t timeout_ms, wagi_slot *slot,
              wagi_result *res)
{
    memset(res, 0, sizeof *res);
    strvec args = {0}, env = {0};
    build_args(app, rq, &args);
    build_env(app, rq, &env);
    qv_store *store = NULL;
    qv_wasi *wasi = NULL;
    if (args.oom || env.oom) {
        snprintf(res->message, sizeof res->message, "cannot set up the request: out of memory");
        goto done;
    }
    uint64_t t0 = wagi_now_ns();
    qv_store_limits limits = {0};
    if (app->rc.memory_bytes) {
        uint64_t pages = app->rc.memory_bytes / 65536;
        limits.max_memory_pages = pages > 65536 ? 65536 : (uint32_t)pages;
    }
    store = qv_store_new(&limits);
    qv_wasi_config cfg = {
        .args = (const char *const *)args.v,
        .nargs = args.n,
        .env = (const char *const *)env.v,
        .nenv = env.n,
        .preopens = app->rc.preopens,
        .npreopens = app->rc.npreopens,
        .stdio_in_memory = true,
        .stdin_data = rq->body,
        .stdin_len = rq->body_len,
        .max_output = WAGI_MAX_OUTPUT,
    };
    char why[256];
    wasi = store ? qv_wasi_new(&cfg, why, sizeof why) : NULL;
    if (!wasi) {
        snprintf(res->message, sizeof res->message, "cannot set up WASI: %s", store ? why : "out of memory");
        goto done;
    }
    qv_trap *trap = NULL;
    qv_error e = {0};
    atomic_store(&slot->deadline_ns, timeout_ms ? t0 + timeout_ms * 1000000u : 0);
    atomic_store(&slot->store, store);
    qv_instance *inst = qv_wasi_pre_instantiate(app->imports, wasi, store, &trap, &e);
    uint64_t t1 = wagi_now_ns();
    res->instantiate_s = (double)(t1 - t0) / 1e9;
    if (inst) {
        res->started = true;
        res->exit_status = qv_wasi_run(wasi, store, inst, &trap);
    } else if (!trap) {
        snprintf(res->message, sizeof res->message, "cannot instantiate: %s", e.message);
    }
    atomic_store(&slot->store, NULL);
    res->run_s = (double)(wagi_now_ns() - t1) / 1e9;
    if (trap) {
        res->trap = qv_trap_kind_of(trap);
        res->timed_out = res->trap == QV_TRAP_INTERRUPTED;
        snprintf(res->message, sizeof res->message, "%s", qv_trap_message(trap));
        qv_trap_delete(trap);
    }
done:;
    size_t n = 0;
    const char *text = wasi ? qv_wasi_output(wasi, 1, &n, &res->out_full) : "";
    res->out = copy_out(text, n, &res->out_len);
    text = wasi ? qv_wasi_output(wasi, 2, &n, NULL) : "";
    res->err = copy_out(text, n, &res->err_len);
    qv_wasi_delete(wasi);
    qv_store_delete(store);
    strvec_free(&args);
    strvec_free(&env);
}

void wagi_result_free(wagi_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}
