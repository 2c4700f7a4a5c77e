/*
 * stop.c — stopping a run cleanly. Each test process leads its own process
 * group, so a Ctrl-C at the terminal does not reach it, and a runner that
 * simply died (or was killed by `timeout` in scripts/test.sh) would leave
 * test processes running and their temporary copies behind. Instead the
 * stop signals are blocked in every thread and taken by one thread, which
 * kills the running children; the workers then clean up as after any
 * other test and main reports what had finished.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "wasitest.h"

static sigset_t stop_set;
static atomic_int stopped_by;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *tracked;
static size_t ntracked, cap;
static void (*on_stop)(void *);
static void *on_stop_arg;

static void *watch(void *arg)
{
    (void)arg;
    int sig;
    while (sigwait(&stop_set, &sig) != 0) {}
    pthread_mutex_lock(&lock);
    atomic_store(&stopped_by, sig);
    for (size_t i = 0; i < ntracked; i++) kill(-tracked[i], SIGKILL);
    pthread_mutex_unlock(&lock);
    if (on_stop) on_stop(on_stop_arg);
    return NULL;
}

void stop_init(void (*fn)(void *), void *arg)
{
    on_stop = fn;
    on_stop_arg = arg;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    /* Threads started later inherit the mask; children reset it (run.c). */
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, watch, NULL) != 0) pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
    else pthread_detach(t);
}

int stop_signal(void)
{
    return atomic_load(&stopped_by);
}

void stop_track(pid_t pid)
{
    pthread_mutex_lock(&lock);
    if (ntracked == cap) {
        size_t ncap = cap ? 2 * cap : 64;
        pid_t *grown = realloc(tracked, ncap * sizeof *grown);
        if (grown) tracked = grown, cap = ncap;
    }
    if (ntracked < cap) tracked[ntracked++] = pid;
    /* Started after the stop: the watcher has been and gone. */
    if (atomic_load(&stopped_by)) kill(-pid, SIGKILL);
    pthread_mutex_unlock(&lock);
}

void stop_untrack(pid_t pid)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ntracked; i++)
        if (tracked[i] == pid) {
            tracked[i] = tracked[--ntracked];
            break;
        }
    if (!ntracked) { /* so that nothing is left to leak checkers at the end */
        free(tracked);
        tracked = NULL;
        cap = 0;
    }
    pthread_mutex_unlock(&lock);
}
