/*
 * run_module.c — compile, link and run a WASI command under a watchdog:
 * the program's exit status becomes ours; traps, timeouts and load errors
 * get the statuses documented in `qyv run --help`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "app/app.h"
#include "qyvol/component.h"

/* After asking the guest to stop, how long a blocked host call (a read on
 * a terminal, say) may keep it from stopping before the process ends. */
#define GRACE_MS 2000

typedef struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, fired;
    uint64_t timeout_ms;
    qv_store *store;
    const char *label;
} watchdog;

static struct timespec deadline_after(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

/* Wait until done or `ms` passed; true if done. Called with mu held. */
static bool wait_done(watchdog *w, uint64_t ms)
{
    struct timespec until = deadline_after(ms);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT) break;
    return w->done;
}

static void *watch(void *arg)
{
    watchdog *w = arg;
    pthread_mutex_lock(&w->mu);
    if (!wait_done(w, w->timeout_ms)) {
        w->fired = true;
        qv_store_interrupt(w->store);
        if (!wait_done(w, GRACE_MS)) {
            fprintf(stderr, "qyv run: %s: timed out after %llu ms (stuck in a host call)\n", w->label,
                    (unsigned long long)w->timeout_ms);
            _exit(QYV_EXIT_TIMEOUT);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static bool watchdog_start(watchdog *w, qv_store *store, uint64_t ms, const char *label)
{
    *w = (watchdog){.timeout_ms = ms, .store = store, .label = label};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&w->mu, NULL);
    return pthread_create(&w->thread, NULL, watch, w) == 0;
}

static bool watchdog_stop(watchdog *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return w->fired;
}

/* Does the instance export `_start` as a command's entry point? Without
 * one the program cannot be started (125), which is not a trap. */
static bool is_command(const qv_instance *inst)
{
    qv_extern start;
    if (!qv_instance_export(inst, "_start", &start) || start.kind != QV_EXTERN_FUNC) return false;
    qv_functype t = qv_func_type(start.of.func);
    return !t.nparams && !t.nresults;
}

int run_module(const run_config *rc, bool no_openat2)
{
    int status = QYV_EXIT_CANNOT_RUN;
    /* A manifest's module was read with it, beneath its folder. */
    size_t len = rc->module_len;
    uint8_t *bytes = rc->module ? NULL : cli_read_file(rc->module_path, &len);
    if (!rc->module && !bytes) return QYV_EXIT_CANNOT_RUN;
    qv_error err = {0};
    const uint8_t *binary = rc->module ? rc->module : bytes;
    /* A component (WASI 0.2) runs its wasi:cli/run export instead of _start. */
    bool is_component = qv_is_component(binary, len);
    char mismatch[600];
    if (!run_runtime_matches(rc, is_component, mismatch, sizeof mismatch)) {
        free(bytes);
        fprintf(stderr, "qyv run: %s\n", mismatch);
        return QYV_EXIT_CANNOT_RUN;
    }
    qv_component *component = is_component ? qv_component_new(binary, len, &err) : NULL;
    qv_module *module = is_component ? NULL : qv_module_new(binary, len, &err);
    free(bytes);
    if (!module && !component) {
        fprintf(stderr, "qyv run: %s: not a valid WebAssembly %s: %s (at byte %zu)\n", rc->module_path,
                is_component ? "component" : "module", err.message, err.offset);
        return QYV_EXIT_CANNOT_RUN;
    }
    qv_chost *host = NULL;
    qv_http_exchange *outbound = NULL;
    qv_store_limits limits = run_store_limits(rc->memory_bytes);
    qv_store *store = qv_store_new(&limits);
    qv_linker *linker = store ? qv_linker_new(store) : NULL;
    char why[256];
    qv_wasi_config cfg = {
        .args = (const char *const *)rc->args,
        .nargs = rc->nargs,
        .env = (const char *const *)rc->env,
        .nenv = rc->nenv,
        .preopens = rc->preopens,
        .npreopens = rc->npreopens,
        .stdin_fd = 0,
        .stdout_fd = 1,
        .stderr_fd = 2,
        .no_openat2 = no_openat2,
    };
    qv_wasi *wasi = linker ? qv_wasi_new(&cfg, why, sizeof why) : NULL;
    if (!wasi) {
        fprintf(stderr, "qyv run: %s: %s\n", rc->label, linker ? why : "out of memory");
        goto out;
    }
    /* A command component may make outbound wasi:http requests, as permissions.net allows. */
    struct timespec end = deadline_after(rc->timeout_ms);
    uint64_t deadline = rc->timeout_ms ? (uint64_t)end.tv_sec * 1000000000u + (uint64_t)end.tv_nsec : 0;
    qv_http_policy policy = run_http_policy(rc, deadline);
    if (is_component && (!(host = qv_chost_new()) || !qv_wasip2_define(wasi, host) ||
                         !qv_wasi_http_define(wasi, host) || !(outbound = qv_http_exchange_new(NULL, &policy)))) {
        fprintf(stderr, "qyv run: out of memory\n");
        goto out;
    }
    if (!is_component && !qv_wasi_define(wasi, linker)) {
        fprintf(stderr, "qyv run: out of memory\n");
        goto out;
    }
    if (rc->fuel >= 0) qv_store_set_fuel(store, rc->fuel);
    watchdog dog;
    bool watching = rc->timeout_ms && watchdog_start(&dog, store, rc->timeout_ms, rc->label);
    qv_trap *trap = NULL;
    qv_instance *inst = NULL;
    qv_cinstance *cinst = NULL;
    int code = -1;
    bool command = true;
    if (is_component) {
        qv_wasi_http_attach(wasi, outbound);
        cinst = qv_cinstance_new(store, component, host, &trap, &err);
        if (cinst) code = qv_wasip2_run(wasi, cinst, &trap);
    } else {
        inst = qv_linker_instantiate(linker, module, &trap, &err);
        command = !inst || is_command(inst);
        if (inst && command) code = qv_wasi_run(wasi, store, inst, &trap);
    }
    bool timed_out = watching && watchdog_stop(&dog);
    /* What the guest wrote must be out before we report on it. */
    fflush(stdout);
    if (!inst && !cinst && !trap) {
        fprintf(stderr, "qyv run: %s: %s\n", rc->module_path, err.message);
        status = QYV_EXIT_CANNOT_RUN;
    } else if (inst && !command) {
        fprintf(stderr, "qyv run: %s: the module exports no _start function taking and returning nothing "
                        "(not a WASI command)\n", rc->module_path);
        status = QYV_EXIT_CANNOT_RUN;
    } else if (trap && timed_out && qv_trap_kind_of(trap) == QV_TRAP_INTERRUPTED) {
        fprintf(stderr, "qyv run: %s: timed out after %llu ms\n", rc->label, (unsigned long long)rc->timeout_ms);
        status = QYV_EXIT_TIMEOUT;
    } else if (trap) {
        fprintf(stderr, "qyv run: %s: ", rc->label);
        cli_print_trap(trap);
        status = QYV_EXIT_TRAP;
    } else {
        /* Exit statuses are 8 bits; one that would wrap to 0 must not
         * read as success. */
        status = code >= 0 && code <= 255 ? code : 1;
    }
    if (trap) qv_trap_delete(trap);
    qv_cinstance_delete(cinst);
out:
    qv_wasi_delete(wasi);
    qv_linker_delete(linker);
    qv_store_delete(store);
    qv_module_delete(module);
    qv_component_delete(component);
    qv_chost_delete(host);
    if (outbound && *qv_http_exchange_notes(outbound)) fprintf(stderr, "qyv run: %s", qv_http_exchange_notes(outbound));
    qv_http_exchange_free(outbound);
    return status;
}
