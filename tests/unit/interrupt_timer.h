/*
 * interrupt_timer.h — for the deadline tests: call a function while
 * another thread interrupts its store after a delay, and time the call.
 * Include after <cmocka.h>.
 */
#ifndef QYVOL_TEST_INTERRUPT_TIMER_H
#define QYVOL_TEST_INTERRUPT_TIMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "qyvol/wasm.h"

typedef struct interrupt_timer {
    qv_store *store;
    unsigned after_ms;
    void (*then)(void *);   /* then_ms after interrupting, if the call is still on (may be NULL) */
    void *then_arg;
    unsigned then_ms;
    atomic_bool done;       /* the call returned */
} interrupt_timer;

static double test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *interrupt_timer_main(void *arg)
{
    interrupt_timer *t = arg;
    usleep(t->after_ms * 1000u);
    qv_store_interrupt(t->store);
    for (unsigned waited = 0; t->then && waited < t->then_ms; waited += 10) {
        if (atomic_load(&t->done)) return NULL;
        usleep(10000);
    }
    if (t->then && !atomic_load(&t->done)) t->then(t->then_arg);
    return NULL;
}

/* Call `f` with args while `t` runs; the trap (or NULL) and in *ms how long
 * the call took from the interrupt on. */
static qv_trap *call_interrupted(interrupt_timer *t, qv_func *f, const qv_val *args, size_t nargs,
                                 qv_val *results, size_t nresults, double *ms)
{
    pthread_t th;
    double t0 = test_now_ms();
    assert_int_equal(pthread_create(&th, NULL, interrupt_timer_main, t), 0);
    qv_trap *trap = qv_func_call(t->store, f, args, nargs, results, nresults);
    atomic_store(&t->done, true);
    *ms = test_now_ms() - t0 - t->after_ms;
    pthread_join(th, NULL);
    return trap;
}

#endif
