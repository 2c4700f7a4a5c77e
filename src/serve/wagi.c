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

/* Strings built one after another in one buffer (a request's argv and
 * environment: a few dozen strings, made for every request). */
typedef struct strvec {
    char *bytes;
    size_t len, cap;
    size_t *starts;            /* where each string begins in bytes */
    size_t n, ncap;
    char **v;                  /* by strvec_finish */
    bool oom;
} strvec;

static void append(strvec *s, const char *p, size_t n)
{
    if (s->oom) return;
    if (s->cap - s->len < n + 1) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap - s->len < n + 1) cap *= 2;
        char *grown = realloc(s->bytes, cap);
        if (!grown) {
            s->oom = true;
            return;
        }
        s->bytes = grown;
        s->cap = cap;
    }
    memcpy(s->bytes + s->len, p, n);
    s->len += n;
}

/* Begin the next string; append its parts; strvec_finish ends them. */
static void begin_string(strvec *s)
{
    if (s->oom) return;
    if (s->n) append(s, "", 1); /* the NUL of the one before */
    if (s->n == s->ncap) {
        size_t ncap = s->ncap ? s->ncap * 2 : 32;
        size_t *grown = realloc(s->starts, ncap * sizeof *grown);
        if (!grown) {
            s->oom = true;
            return;
        }
        s->starts = grown;
        s->ncap = ncap;
    }
    s->starts[s->n++] = s->len;
}

static void push(strvec *s, const char *str)
{
    begin_string(s);
    append(s, str, strlen(str));
}

static void pushf(strvec *s, const char *key, const char *value)
{
    begin_string(s);
    append(s, key, strlen(key));
    append(s, "=", 1);
    append(s, value, strlen(value));
}

/* The pointers, once every string is in (bytes no longer moves). */
static void strvec_finish(strvec *s)
{
    if (s->n) append(s, "", 1);
    if (s->oom) return;
    s->v = malloc((s->n ? s->n : 1) * sizeof *s->v);
    if (!s->v) {
        s->oom = true;
        return;
    }
    for (size_t i = 0; i < s->n; i++) s->v[i] = s->bytes + s->starts[i];
}

static void strvec_free(strvec *s)
{
    free(s->bytes);
    free(s->starts);
    free(s->v);
}

/* %XX-decode a path into the string being built (PATH_INFO is decoded,
 * X_RAW_PATH_INFO is not). */
static void append_decoded(strvec *s, const char *p)
{
    for (; *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            char c = (char)strtol(hex, NULL, 16);
            append(s, &c, 1);
            p += 2;
        } else {
            size_t run = strcspn(p, "%");
            append(s, p, run ? run : 1);
            p += (run ? run : 1) - 1;
        }
    }
}

/* Does the string at index `i` name the same variable as one from `from`
 * on? (The manifest's env has no duplicates: only the request's count.) */
static bool defined_from(const strvec *s, size_t i, size_t from)
{
    const char *kv = s->bytes + s->starts[i];
    size_t key = strcspn(kv, "=");
    for (size_t k = from; k < s->n; k++) {
        const char *other = s->bytes + s->starts[k];
        if (!strncmp(other, kv, key) && other[key] == '=') return true;
    }
    return false;
}

/* The request's variables win over the manifest's env: guests look a name
 * up by its first occurrence (libc's getenv), so a manifest entry the
 * request also defines is left out rather than merely put first. */
static void drop_overridden(strvec *s, size_t nmanifest)
{
    if (s->oom || !s->v) return;
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++)
        if (i >= nmanifest || !defined_from(s, i, nmanifest)) s->v[kept++] = s->v[i];
    s->n = kept;
}

/* The CGI/1.1 environment WAGI defines, after the manifest's env (the
 * request's variables win: drop_overridden). */
static void build_env(const serve_app *app, const wagi_request *rq, strvec *env)
{
    for (size_t i = 0; i < app->rc.nenv; i++) push(env, app->rc.env[i]);
    size_t rlen = strlen(app->route);
    const char *raw_info = rq->path + (strncmp(rq->path, app->route, rlen) ? 0 : rlen);
    char len[32];
    snprintf(len, sizeof len, "%zu", rq->body_len);
    const char *content_type = "";
    for (size_t i = 0; i < rq->nheaders; i++)
        if (!strcasecmp(rq->headers[i].name, "content-type")) content_type = rq->headers[i].value;
    pushf(env, "AUTH_TYPE", "");
    pushf(env, "CONTENT_LENGTH", len);
    pushf(env, "CONTENT_TYPE", content_type);
    pushf(env, "GATEWAY_INTERFACE", "CGI/1.1");
    pushf(env, "PATH_INFO", "");
    append_decoded(env, raw_info);
    pushf(env, "PATH_TRANSLATED", "");
    append_decoded(env, raw_info);
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
    pushf(env, "X_FULL_URL", "http://");
    append(env, rq->host, strlen(rq->host));
    append(env, rq->path, strlen(rq->path));
    if (*rq->query) append(env, "?", 1), append(env, rq->query, strlen(rq->query));
    pushf(env, "X_MATCHED_ROUTE", app->route);
    append(env, "/...", 4);
    pushf(env, "X_RAW_PATH_INFO", raw_info);
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
    strvec_finish(env);
    drop_overridden(env, app->rc.nenv);
}

/* argv: the path, the manifest's args, then the query's '&'-separated items. */
static void build_args(const serve_app *app, const wagi_request *rq, strvec *args)
{
    push(args, rq->path);
    for (size_t i = 1; i < app->rc.nargs; i++) push(args, app->rc.args[i]);
    const char *q = rq->query;
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n) begin_string(args), append(args, q, n);
        q += n + (q[n] == '&');
    }
    strvec_finish(args);
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

/* stderr as the log gets it: its first WAGI_MAX_LOGGED_STDERR bytes, then
 * a line saying how much was left out. The front logs it line by line on
 * its event loop; megabytes of it would stall every other request. */
static char *copy_logged(const char *data, size_t len, size_t *out_len)
{
    if (len <= WAGI_MAX_LOGGED_STDERR) return copy_out(data, len, out_len);
    char note[96];
    int k = snprintf(note, sizeof note, "\n[%zu more bytes of stderr not logged]", len - WAGI_MAX_LOGGED_STDERR);
    char *buf = malloc(WAGI_MAX_LOGGED_STDERR + (size_t)k + 1);
    if (!buf) return NULL;
    memcpy(buf, data, WAGI_MAX_LOGGED_STDERR);
    memcpy(buf + WAGI_MAX_LOGGED_STDERR, note, (size_t)k + 1);
    *out_len = WAGI_MAX_LOGGED_STDERR + (size_t)k;
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
    qv_store_limits limits = run_store_limits(app->rc.memory_bytes);
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
    /* Output past its limit is not passed on: no copy of it either. */
    res->out = copy_out(text, res->out_full ? 0 : n, &res->out_len);
    text = wasi ? qv_wasi_output(wasi, 2, &n, NULL) : "";
    res->err = copy_logged(text, n, &res->err_len);
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
