/*
 * replica.c — see replica.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/answer.h"
#include "serve/cgi.h"
#include "serve/wagi.h"
#include "serve/replica.h"
#include "serve/replica_direct.h"
#include "serve/replica_impl.h"
#include "serve/whttp.h"
#include "serve/wire.h"

/* The next whole message in the inbox, if there is one: its length in
 * *msg_len, its body at in->data + in->used + 4. false with *bad set when
 * its length is not acceptable. */
static bool next_message(const inbox *in, uint32_t *msg_len, bool *bad)
{
    size_t have = in->len - in->used;
    if (have < 4) return false;
    uint32_t n = wire_length(in->data + in->used);
    if (n > WIRE_MAX_MESSAGE) {
        *bad = true;
        return false;
    }
    *msg_len = n;
    return have >= 4 + (size_t)n;
}

/* Read more (blocking): false when the front closed or on error. */
static bool receive(int fd, inbox *in)
{
    /* Move what is left to the front; make room for at least a whole
     * message whose length is known. */
    if (in->used) {
        memmove(in->data, in->data + in->used, in->len - in->used);
        in->len -= in->used;
        in->used = 0;
    }
    size_t want = in->len + 1;
    if (in->len >= 4) want = 4 + (size_t)wire_length(in->data);
    if (in->cap < want || in->cap == 0) {
        size_t cap = want > 65536 ? want : 65536;
        uint8_t *grown = realloc(in->data, cap);
        if (!grown) return false;
        in->data = grown;
        in->cap = cap;
    }
    for (;;) {
        ssize_t got = read(fd, in->data + in->len, in->cap - in->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false; /* the front closed: done */
        in->len += (size_t)got;
        return true;
    }
}

/* A request's body arriving behind it (wire_request.body_follows): its
 * parts read from the socket as the guest asks, until END. */
typedef struct body_reader {
    int fd;
    inbox *in;
    wire_buf *out;             /* the answer's parts gathered so far: sent before waiting */
    uint64_t deadline_ns;      /* CLOCK_MONOTONIC; 0: none */
    bool ended, broken;
    bool sent;                 /* out was written (and emptied) while waiting */
} body_reader;

/* Wait until the socket has more (or the deadline passes: false). */
static bool wait_readable(int fd, uint64_t deadline_ns)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns) {
            uint64_t now = wagi_now_ns();
            if (now >= deadline_ns) return false;
            uint64_t left = (deadline_ns - now + 999999) / 1000000;
            ms = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, ms);
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

static int body_next(void *ctx, const char **data, size_t *len)
{
    body_reader *b = ctx;
    while (!b->ended) {
        uint32_t n;
        bool bad = false;
        if (!next_message(b->in, &n, &bad)) {
            if (b->out->len) b->sent = true;
            if (bad || (b->out->len && !wire_send(b->fd, b->out)) || !wait_readable(b->fd, b->deadline_ns) ||
                !receive(b->fd, b->in))
                break;
            continue;
        }
        wire_part part;
        const uint8_t *msg = b->in->data + b->in->used + 4;
        bool ok = wire_part_kind(msg, n) && wire_part_decode(msg, n, &part);
        b->in->used += 4 + (size_t)n;
        if (!ok || part.kind == WIRE_PART_HEAD) break;
        if (part.kind == WIRE_PART_END) {
            b->ended = true;
            b->broken = !part.ok;
            return part.ok ? 0 : -1;
        }
        *data = part.data; /* valid until the inbox is read again */
        *len = part.len;
        return 1;
    }
    if (!b->ended) b->broken = true;
    return -1;
}

/* Run one request and decide what the client gets; true when it wrote
 * to the socket on the way (a streamed response: out was emptied). */
static bool handle(replica_thread *t, const wire_request *wr, body_reader *body, wire_buf *out)
{
    const serve_app *app = t->app;
    if (app->component) {
        qv_http_body_source source = {body, body_next};
        return whttp_answer(app, wr, body ? &source : NULL, &t->slot, out, wr->health ? -1 : t->fd);
    }
    wagi_result res;
    wagi_run(app, &wr->rq, wr->timeout_ms, &t->slot, &res);
    cgi_response cgi = {0};
    char why[600];
    wire_response resp;
    answer_of_run(&res, wr->timeout_ms, &cgi, &resp, why, sizeof why);
    wire_response_encode(out, &resp); /* appended: answers go out together */
    free((void *)resp.headers);
    cgi_response_free(&cgi);
    wagi_result_free(&res);
    return false;
}

/* Answers are written when no whole request is left to run, so that the
 * requests read together are answered with one write; or sooner when they
 * add up to this much, or when one took this long (a slow request's answer
 * must not wait for the requests behind it: the front counts the time of
 * the request at the head of the socket, and would kill a replica that
 * holds answers back past the grace it allows). */
#define WRITE_AFTER ((size_t)256 << 10)
#define WRITE_AFTER_NS 1000000u

/* Run the whole requests in the inbox, their answers appended to out
 * (and written when they add up, see above); false when the socket must
 * be given up. */
static bool run_messages(replica_thread *t, inbox *in, wire_buf *out)
{
    for (;;) {
        uint32_t len;
        bool bad = false;
        if (!next_message(in, &len, &bad)) {
            if (bad) fprintf(stderr, "qyv replica: a request from the front is too large\n");
            return !bad;
        }
        wire_request wr;
        if (!wire_request_decode(in->data + in->used + 4, len, &wr)) {
            fprintf(stderr, "qyv replica: a malformed request from the front\n");
            return false;
        }
        size_t mark = out->len;
        uint64_t started = wagi_now_ns();
        /* A body that follows is read from the inbox past the request
         * (which the guest no longer needs once its exchange is made). */
        body_reader body = {t->fd, in, out, wr.timeout_ms ? started + wr.timeout_ms * 1000000u : 0, false, false, false};
        if (wr.body_follows) in->used += 4 + (size_t)len;
        if (handle(t, &wr, wr.body_follows ? &body : NULL, out) || body.sent) mark = 0; /* what was before it went */
        bool slow = wagi_now_ns() - started > WRITE_AFTER_NS;
        free((void *)wr.rq.headers);
        if (!wr.body_follows) in->used += 4 + (size_t)len;
        if (out->oom) {
            /* Too large or no memory for the response: say so briefly
             * (what the buffer held before it is intact). */
            out->len = mark;
            out->oom = false;
            wire_response small = {.status = 500, .why = "the response could not be passed on: out of memory",
                                   .aborted = true, .body = "", .err = ""};
            if (!wire_response_encode(out, &small)) return false;
        }
        if (out->len >= WRITE_AFTER || (slow && out->len) || (wr.body_follows && !body.ended)) {
            if (!wire_send(t->fd, out)) return false;
        }
        /* The rest of a body the guest did not read: the front ends it
         * once it has the answer. */
        if (wr.body_follows && !body.ended) {
            const char *data;
            size_t n;
            body.deadline_ns = 0;
            body.broken = false;
            while (body_next(&body, &data, &n) > 0) continue;
            if (!body.ended) return false; /* the front closed, or sent something else */
        }
    }
}

/* Answer what is there, then send it and keep the buffers small. */
static bool answer_waiting(replica_thread *t, inbox *in, wire_buf *out)
{
    if (!run_messages(t, in, out)) return false;
    if (out->len && !wire_send(t->fd, out)) return false;
    /* Do not keep huge buffers around for the next small message. */
    if (out->cap > ((size_t)1 << 20)) wire_buf_free(out);
    if (in->cap > ((size_t)1 << 20) && in->used == in->len) free(in->data), *in = (inbox){0};
    return true;
}

bool replica_channel_turn(replica_thread *t, inbox *in, wire_buf *out)
{
    return receive(t->fd, in) && answer_waiting(t, in, out);
}

static void *serve_socket(void *arg)
{
    replica_thread *t = arg;
    wire_buf out = {0};
    inbox in = {0};
    while (answer_waiting(t, &in, &out) && receive(t->fd, &in)) continue;
    wire_buf_free(&out);
    free(in.data);
    close(t->fd);
    return NULL;
}

typedef struct watch {
    replica_thread *threads;
    void **direct;             /* each thread's replica_direct_arg, or NULL */
    int n;
    atomic_bool stop;
} watch;

static void *watchdog(void *arg)
{
    watch *w = arg;
    while (!atomic_load(&w->stop)) {
        uint64_t now = wagi_now_ns();
        for (int i = 0; i < w->n; i++) {
            wagi_slot *s = &w->threads[i].slot;
            uint64_t deadline = atomic_load(&s->deadline_ns);
            qv_store *store = atomic_load(&s->store);
            /* The store stays valid while published: wagi_run clears the
             * slot before deleting it, and an interrupt is only a flag. */
            if (store && deadline && now > deadline) qv_store_interrupt(store);
            if (w->direct && w->direct[i]) replica_direct_watch(w->direct[i], now);
        }
        usleep(5000);
    }
    return NULL;
}

_Noreturn void replica_main(const serve_app *app, const int *fds, int nfds, const replica_direct *direct)
{
    /* The folders the app is granted, opened again beneath its folder and
     * checked as when it was loaded: the front's descriptors were closed
     * with the rest. This process's copy of the app is its own to change. */
    app_error why;
    if (run_open_grants((run_config *)&app->rc, &why)) {
        fprintf(stderr, "qyv replica: %s\n", why.text);
        _exit(70);
    }
    replica_thread *threads = calloc((size_t)nfds, sizeof *threads);
    pthread_t *ids = calloc((size_t)nfds, sizeof *ids);
    void **args = direct ? calloc((size_t)nfds, sizeof *args) : NULL;
    if (!threads || !ids || (direct && !args)) _exit(70);
    if (direct) replica_direct_begin(direct);
    watch w = {threads, args, nfds, false};
    int started = 0;
    for (; started < nfds; started++) {
        threads[started] = (replica_thread){.app = app, .fd = fds[started]};
        void *arg = direct ? replica_direct_arg(&threads[started], started, direct) : &threads[started];
        if (direct) args[started] = arg;
        if (!arg || pthread_create(&ids[started], NULL, direct ? replica_direct_thread : serve_socket, arg) != 0) break;
    }
    if (started < nfds) {
        fprintf(stderr, "qyv replica: cannot start threads: %s\n", strerror(errno));
        _exit(70);
    }
    pthread_t dog;
    bool watching = pthread_create(&dog, NULL, watchdog, &w) == 0;
    for (int i = 0; i < started; i++) pthread_join(ids[i], NULL);
    atomic_store(&w.stop, true);
    if (watching) pthread_join(dog, NULL);
    for (int i = 0; direct && i < started; i++) replica_direct_arg_free(args[i]);
    _exit(0);
}
