/*
 * whttp.c — a wasi:http component serving one request: the component was
 * decoded, validated and compiled when the app was loaded, with the host
 * its instances link against (WASI 0.2 and wasi:http, defined once for
 * every context); per request only a store, the WASI context (the
 * manifest's args, env and grants; stdio in memory, logged), the exchange
 * and the instance are made, as for WAGI modules (wagi.c), under the same
 * timeout (the watchdog interrupts the store) and memory limit (the
 * response body is charged to the store like WAGI's stdout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "qyvol/wasi_http.h"
#include "serve/whttp.h"

#define INCOMING_HANDLER "wasi:http/incoming-handler@0.2.0"

bool whttp_app_prepare(serve_app *app, const char *file, app_error *err)
{
    qv_error e = {0};
    app->component = qv_component_new(app->rc.module, app->rc.module_len, &e);
    if (!app->component) {
        snprintf(err->text, sizeof err->text, "%s: %s is not a valid WebAssembly component: %s (at byte %zu)", file,
                 app->rc.module_path, e.message, e.offset);
        return false;
    }
    if (!qv_component_find_export(app->component, INCOMING_HANDLER)) {
        snprintf(err->text, sizeof err->text, "%s: %s is a component that does not export "
                 "wasi:http/incoming-handler@0.2.x, so it cannot serve HTTP (a command component runs with `qyv run`)",
                 file, app->rc.module_path);
        return false;
    }
    app->chost = qv_chost_new();
    if (!app->chost || !qv_wasip2_define(NULL, app->chost) || !qv_wasi_http_define(NULL, app->chost)) {
        snprintf(err->text, sizeof err->text, "cannot define the WASI 0.2 host: out of memory");
        return false;
    }
    /* Linked at every request: what cannot link is refused now, once. */
    if (!qv_component_check_imports(app->component, app->chost, &e)) {
        snprintf(err->text, sizeof err->text, "%s: %s cannot be served: %s (at byte %zu)", file, app->rc.module_path,
                 e.message, e.offset);
        return false;
    }
    return true;
}

/* The request as the exchange takes it. */
typedef struct request_view {
    qv_http_request rq;
    qv_http_field *headers;
    char *path_with_query;
} request_view;

static bool view_request(const wagi_request *w, request_view *v)
{
    memset(v, 0, sizeof *v);
    v->headers = calloc(w->nheaders + 1, sizeof *v->headers);
    size_t n = strlen(w->path) + strlen(w->query) + 2;
    v->path_with_query = malloc(n);
    if (!v->headers || !v->path_with_query) return false;
    snprintf(v->path_with_query, n, "%s%s%s", w->path, *w->query ? "?" : "", w->query);
    for (size_t i = 0; i < w->nheaders; i++) v->headers[i] = (qv_http_field){w->headers[i].name, w->headers[i].value};
    v->rq = (qv_http_request){
        .method = w->method,
        .path_with_query = v->path_with_query,
        .authority = w->host,
        .headers = v->headers,
        .nheaders = w->nheaders,
        .body = w->body,
        .body_len = w->body_len,
    };
    return true;
}

/* What the guest wrote on stdout and stderr, for the log (stderr first). */
static char *guest_output(qv_wasi *wasi, size_t *len)
{
    size_t nout = 0, nerr = 0;
    const char *out = wasi ? qv_wasi_output(wasi, 1, &nout, NULL) : "";
    const char *err = wasi ? qv_wasi_output(wasi, 2, &nerr, NULL) : "";
    if (nout > WAGI_MAX_LOGGED_STDERR) nout = WAGI_MAX_LOGGED_STDERR;
    if (nerr > WAGI_MAX_LOGGED_STDERR) nerr = WAGI_MAX_LOGGED_STDERR;
    char *text = malloc(nout + nerr + 2);
    if (!text) return NULL;
    memcpy(text, err, nerr);
    size_t k = nerr;
    if (nerr && nout && err[nerr - 1] != '\n') text[k++] = '\n';
    memcpy(text + k, out, nout);
    *len = k + nout;
    text[*len] = 0;
    return text;
}

/* The response going to the front in parts as the guest makes it. */
typedef struct to_front {
    int fd;
    wire_buf *out;
    bool head_sent;
    bool wrote;                /* to fd */
} to_front;

static bool send_head(void *ctx, int status, const qv_http_field *headers, size_t n)
{
    to_front *f = ctx;
    wagi_header fixed[32] = {0}, *list = n <= 32 ? fixed : calloc(n, sizeof *list);
    if (!list) return false;
    for (size_t i = 0; i < n; i++) list[i] = (wagi_header){headers[i].name, headers[i].value};
    bool ok = wire_part_head_encode(f->out, status, list, n);
    if (list != fixed) free(list);
    f->head_sent = ok;
    return ok;
}

/* What was gathered, in one write. */
static bool send_now(void *ctx)
{
    to_front *f = ctx;
    f->wrote = true;
    return wire_send(f->fd, f->out);
}

/* Gathered parts go out at the guest's flush or wait, at the end, or past this. */
#define GATHER_MAX ((size_t)64 << 10)

static bool send_body(void *ctx, const void *data, size_t len)
{
    to_front *f = ctx;
    return wire_part_body_encode(f->out, data, len) && (f->out->len < GATHER_MAX || send_now(f));
}



bool whttp_answer(const serve_app *app, const wire_request *wr, const qv_http_body_source *body, wagi_slot *slot,
                  wire_buf *out, int fd)
{
    uint64_t t0 = wagi_now_ns();
    uint64_t deadline = wr->timeout_ms ? t0 + wr->timeout_ms * 1000000u : 0;
    to_front front = {fd, out, false, false};
    wire_response resp = {.status = 500, .why = "", .body = "", .err = ""};
    char why[700] = "";
    request_view view;
    qv_http_policy policy = run_http_policy(&app->rc, deadline);
    policy.max_body = WAGI_MAX_OUTPUT;
    bool viewed = view_request(&wr->rq, &view);
    view.rq.body_source = body;
    qv_http_exchange *x = viewed ? qv_http_exchange_new(&view.rq, &policy) : NULL;
    qv_store_limits limits = run_store_limits(app->rc.memory_bytes);
    qv_store *store = x ? qv_store_new(&limits) : NULL;
    qv_wasi_config cfg = {
        .args = (const char *const *)app->rc.args,
        .nargs = app->rc.nargs,
        .env = (const char *const *)app->rc.env,
        .nenv = app->rc.nenv,
        .preopens = app->rc.preopens,
        .npreopens = app->rc.npreopens,
        .stdio_in_memory = true,
        .max_output = WAGI_MAX_LOGGED_STDERR,
    };
    char setup[256] = "out of memory";
    qv_wasi *wasi = store ? qv_wasi_new(&cfg, setup, sizeof setup) : NULL;
    qv_cinstance *ci = NULL;
    qv_trap *trap = NULL;
    qv_http_response answer = {0};
    wagi_header *headers = NULL;
    if (!wasi) {
        snprintf(why, sizeof why, "cannot set up the request: %s", setup);
        goto done;
    }
    qv_wasi_http_attach(wasi, x);
    if (fd >= 0) qv_http_exchange_stream(x, &(qv_http_sink){&front, send_head, send_body, send_now});
    atomic_store(&slot->deadline_ns, deadline);
    atomic_store(&slot->store, store);
    qv_error e = {0};
    ci = qv_cinstance_new(store, app->component, app->chost, &trap, &e);
    uint64_t t1 = wagi_now_ns();
    resp.instantiate_s = (double)(t1 - t0) / 1e9;
    if (ci) {
        resp.started = true;
        qv_wasip2_bind(ci, wasi);
        trap = qv_http_handle(ci, x);
    } else if (!trap) {
        snprintf(why, sizeof why, "cannot instantiate: %s", e.message);
    }
    atomic_store(&slot->store, NULL);
    resp.run_s = (double)(wagi_now_ns() - t1) / 1e9;
    if (trap) {
        resp.trap = (uint32_t)qv_trap_kind_of(trap);
        if (resp.trap == QV_TRAP_INTERRUPTED) {
            resp.status = 504;
            snprintf(why, sizeof why, "the app ran past its timeout of %llu ms", (unsigned long long)wr->timeout_ms);
        } else if (qv_http_exchange_response(x, &answer), answer.body_too_large) {
            /* A guest whose write failed at the limit may trap (JavaScript does): as WAGI's full stdout. */
            resp.status = 502;
            snprintf(why, sizeof why, "%s (the app then trapped: %s)", answer.why, qv_trap_message(trap));
        } else {
            snprintf(why, sizeof why, "the app trapped: %s", qv_trap_message(trap));
        }
        qv_trap_delete(trap);
        goto done;
    }
    if (!ci) goto done;
    qv_http_exchange_response(x, &answer);
    if (!answer.status) {
        resp.status = answer.body_too_large ? 502 : 500;
        snprintf(why, sizeof why, "%s", answer.why);
        goto done;
    }
    if (!(headers = calloc(answer.nheaders + 1, sizeof *headers))) {
        snprintf(why, sizeof why, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < answer.nheaders; i++) headers[i] = (wagi_header){answer.headers[i].name, answer.headers[i].value};
    resp.status = answer.status;
    resp.headers = headers;
    resp.nheaders = answer.streamed ? 0 : answer.nheaders; /* streamed: the head went already */
    resp.body = answer.body;
    resp.body_len = answer.body_len;
done:
    /* Its head is out: a failure now can only cut the client off. */
    resp.aborted = front.head_sent && *why;
    /* What the host refused or failed to do for the guest goes to the log too. */
    const char *notes = x ? qv_http_exchange_notes(x) : "";
    if (*notes) {
        size_t k = strlen(why);
        snprintf(why + k, sizeof why - k, "%s%.*s", k ? "; " : "", (int)strcspn(notes, "\n"), notes);
    }
    size_t err_len = 0;
    char *err = guest_output(wasi, &err_len);
    resp.why = why;
    resp.err = err ? err : "";
    resp.err_len = err ? err_len : 0;
    wire_response_encode(out, &resp);
    free(err);
    free(headers);
    if (ci) qv_cinstance_delete(ci);
    qv_wasi_delete(wasi);
    qv_store_delete(store);
    qv_http_exchange_free(x);
    free(view.headers);
    free(view.path_with_query);
    return front.wrote;
}
