/*
 * fuzz_component.c — libFuzzer harness for components: any input goes
 * through decoding and validation (nested core modules compiled); valid
 * components are instantiated against the WASI 0.2 host (no preopens,
 * stdio in memory) and their wasi:cli/run export, if any, runs under a
 * fuel limit. Any crash, sanitizer report, leak or hang is a bug.
 *
 * Fuel counts instructions, not time spent waiting in the host (a guest
 * may sleep on a clock for ever), so a watchdog thread interrupts the
 * store of an input that runs past WATCHDOG_MS, as qyv run's --timeout
 * does: the host's waits must end then, or libFuzzer reports a hang.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"

#define WATCHDOG_MS 200

static pthread_mutex_t watched_lock = PTHREAD_MUTEX_INITIALIZER;
static qv_store *watched; /* the store of the input running now, or NULL */
static struct timespec watched_since;

static void *watchdog(void *unused)
{
    (void)unused;
    for (;;) {
        struct timespec tick = {0, 10 * 1000000L}, now;
        nanosleep(&tick, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&watched_lock);
        long ms = (now.tv_sec - watched_since.tv_sec) * 1000 + (now.tv_nsec - watched_since.tv_nsec) / 1000000;
        if (watched && ms > WATCHDOG_MS) qv_store_interrupt(watched);
        pthread_mutex_unlock(&watched_lock);
    }
    return NULL;
}

static void start_watchdog(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, watchdog, NULL) == 0) pthread_detach(thread);
}

/* Watch store from now on (NULL: nothing runs). */
static void watch(qv_store *store)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_watchdog);
    pthread_mutex_lock(&watched_lock);
    watched = store;
    clock_gettime(CLOCK_MONOTONIC, &watched_since);
    pthread_mutex_unlock(&watched_lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_error err;
    qv_component *c = qv_component_new(data, size, &err);
    if (!c) return 0;
    qv_wasi_config cfg = {.stdio_in_memory = true, .max_output = 1 << 16};
    char why[256];
    qv_wasi *w = qv_wasi_new(&cfg, why, sizeof why);
    qv_chost *host = qv_chost_new();
    qv_store *store = qv_store_new(&(qv_store_limits){.max_memory_pages = 256});
    if (w && host && store && qv_wasip2_define(w, host)) {
        qv_store_set_fuel(store, 100000);
        watch(store);
        qv_trap *trap = NULL;
        qv_cinstance *ci = qv_cinstance_new(store, c, host, &trap, &err);
        if (ci) qv_wasip2_run(w, ci, &trap);
        if (trap) qv_trap_delete(trap);
        qv_cinstance_delete(ci);
        watch(NULL);
    }
    qv_store_delete(store);
    qv_chost_delete(host);
    qv_wasi_delete(w);
    qv_component_delete(c);
    return 0;
}
