/*
 * wagi.h — one HTTP request handled the WAGI way (docs/http-apps.md): a
 * fresh instance of the app's module, the request as CGI environment,
 * arguments and stdin, the response read from its stdout.
 */
#ifndef QYVOL_SERVE_WAGI_H
#define QYVOL_SERVE_WAGI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "qyvol/wasm.h"

/* An app being served: its configuration and its module, compiled once. */
typedef struct serve_app {
    run_config rc;          /* argv[0..] from the manifest, env, grants, limits */
    const char *name;       /* rc.name */
    const char *route;      /* URL prefix, no trailing '/' ("" for "/") */
    qv_module *module;
    struct qv_wasi_pre *imports; /* module's imports, resolved to WASI once */
    /* Or a wasi:http component (whttp.h), with the host its instances
     * link against. */
    struct qv_component *component;
    struct qv_chost *chost;
    struct app_metrics *metrics;
    uint64_t fingerprint;   /* of manifest, module and overrides (apps.h) */
} serve_app;

typedef struct wagi_header {
    const char *name;
    const char *value;
} wagi_header;

typedef struct wagi_request {
    const char *method;
    const char *path;          /* the URL path as sent (not decoded) */
    const char *query;         /* after '?', or "" */
    const char *protocol;      /* "HTTP/1.1" */
    const char *host;          /* Host header, or the listening address */
    const char *server_name, *server_port;
    const char *remote_addr;
    const wagi_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
} wagi_request;

/* Where the watchdog finds a running instance to interrupt. */
typedef struct wagi_slot {
    _Atomic(qv_store *) store;
    _Atomic uint64_t deadline_ns;  /* CLOCK_MONOTONIC; 0: none */
} wagi_slot;

/* The most an app may write on stdout (and, separately, stderr). */
#define WAGI_MAX_OUTPUT ((size_t)64 << 20)
/* How much of a request's stderr goes to the log. */
#define WAGI_MAX_LOGGED_STDERR ((size_t)16 << 10)

typedef struct wagi_result {
    bool started;           /* the instance ran (false: could not set up) */
    bool timed_out;
    qv_trap_kind trap;      /* 0: no trap */
    int exit_status;        /* proc_exit code, 0 if _start returned */
    char message[512];      /* what went wrong, for the log */
    char *out, *err;        /* stdout and stderr (its logged part), NUL-terminated */
    size_t out_len, err_len;
    bool out_full;          /* stdout reached WAGI_MAX_OUTPUT or the memory limit (out is then empty) */
    double instantiate_s, run_s;
} wagi_result;

/* Run the app for one request; `slot` is published for the watchdog while
 * the instance runs. */
void wagi_run(const serve_app *app, const wagi_request *rq, uint64_t timeout_ms, wagi_slot *slot,
              wagi_result *res);
void wagi_result_free(wagi_result *res);

/* Monotonic clock in nanoseconds. */
uint64_t wagi_now_ns(void);

#endif
