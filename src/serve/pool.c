/*
 * pool.c — see pool.h.
 *
 * A replica goes STARTING -> READY (in rotation) -> DOWN (dead or being
 * replaced) -> STARTING again after a backoff. Without a health check a
 * replica is READY as soon as it is forked; with one, after its first
 * passing check (sent right away). Everything here runs on the event
 * loop's thread; the replicas are processes, so a crash in one is a
 * closed socket here, never a crash of the server.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "manifest/manifest.h"
#include "serve/limits.h"
#include "serve/log.h"
#include "serve/metrics.h"
#include "serve/pool.h"
#include "serve/replica.h"
#include "serve/replica_direct.h"

/* How long past its timeout a replica may take before it is killed: the
 * replica's own watchdog normally stops the instance well before. */
#define GRACE_MS 2000
/* Restart backoff: doubles from the first to the last after each quick
 * death, and starts again once a replica lived STABLE_MS. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000
/* Requests waiting for a channel, per app, before new ones get 503. */
#define MAX_QUEUED 4096
#define TICK_MS 100
#define THROTTLE_TICK_MS 10

/* LEAVING: taken out by pool_resize; it finishes the requests it has,
 * then its sockets are closed and it is freed once its process exited. */
typedef enum replica_state { REPLICA_STARTING, REPLICA_READY, REPLICA_DOWN, REPLICA_LEAVING } replica_state;

static const char *const state_names[] = {"starting", "ready", "down", "draining"};

typedef struct replica replica;

/* Requests sent ahead on one channel while the replica runs the first:
 * only when every channel has work already (a slow request holds up the
 * ones behind it on its channel). Under load this is what lets the
 * replica read several requests with one call and answer them with one,
 * and keep running instead of sleeping between them. */
#define PIPELINE_DEPTH 8
/* Nor behind a request that has run this long already: it may be a slow
 * one, and what waits behind it on its socket cannot go elsewhere. */
#define PIPELINE_MAX_AGE_NS (2 * 1000000ull)

/* A socket to one of a replica's threads, which answers the requests sent
 * on it in order. Requests are put in `out` and written when the loop has
 * run every callback that was ready (flush_channels): the requests that
 * arrived together go to the replica in one write. Plain reads and writes
 * rather than a bufferevent, so that no write event is registered unless a
 * write could not take everything (each costs epoll_ctl calls). */
typedef struct channel {
    replica *r;
    int fd;                    /* -1 when closed */
    struct event *readable, *writable;
    struct evbuffer *in, *out; /* out: written by the next flush */
    pool_request *head, *tail; /* sent, in order; head is the one running */
    int depth;
    uint64_t head_since_ns;    /* when the head began to run (about) */
    bool flushing;             /* on the pool's flush list */
    bool paused;               /* not read: the head's client is slow (pool_pause) */
    struct channel *next_flush;
} channel;

struct replica {
    pool *pool;
    int index;
    pid_t pid;                 /* 0 when no process */
    int pidfd;
    struct event *exited;      /* pidfd readable */
    channel *channels;
    int in_flight;
    replica_state state;
    uint32_t failures;         /* health checks failed in a row */
    pool_request check;        /* the health check in flight, if checking */
    bool checking;
    struct event *health_timer, *restart_timer;
    uint64_t started_ns;
    uint32_t quick_deaths;     /* in a row, for the backoff */
    uint32_t restarts;
    uint32_t generation;       /* processes this slot has had */
    bool replacing;            /* killed on purpose (health, timeout) */
    bool leaving;              /* taken out by pool_resize: never restarted */
    char last_exit[160];
    replica_limits *limits;
    double cpu_seen;           /* CPU seconds already added to the metrics */
    int current_weight;        /* smooth weighted round robin */
    /* Taking connections itself (pool_options.direct): */
    direct_shared *shared;     /* NULL: not; in the pool's area */
    int back_fd;               /* its connections handed back, its log lines */
    struct event *back_ev;
    bool let_go;               /* its sockets were closed (let_go) */
};

struct pool {
    pool_options opt;
    serve_app *app;
    /* Serving first ([0, nserving)), then those leaving: pointers, since
     * events and channels point at their replica while the list grows. */
    replica **replicas;
    int nreplicas, nserving;
    int next_index;            /* the number the next replica gets */
    pool_request *queue_head, *queue_tail;
    size_t queued;
    int in_flight;             /* sent to a replica */
    int next;                  /* round robin's next replica */
    bool unhealthy;            /* every replica failed its checks */
    bool retiring;
    struct event *tick;
    struct event *flush;       /* writes the channels' pending requests */
    channel *to_flush;
    uint64_t last_usage_ns;
    double load_seconds;       /* requests running or queued, integrated over time */
    uint64_t load_at_ns;       /*   up to then */
    char host[300], port[8];
    bool direct_on;            /* pool_set_direct */
    char *back_buf;            /* a message from a replica's back socket */
    direct_area *area;         /* the replicas' shared memory (direct.h) */
    bool area_used[DIRECT_AREA_REPLICAS];
    char id_prefix[24];
};

static void replica_spawn(replica *r);
static void replica_down(replica *r, int busy_status, const char *why);
static void send_on(channel *ch, pool_request *req);
static void replica_free_parts(replica *r);
static void replica_forget(replica *r);
static void let_go(replica *r);

/* ------------------------------------------------------------ logging */

static void log_replica(log_level level, const replica *r, const char *message, json_t *extra)
{
    char id[16];
    snprintf(id, sizeof id, "%d", r->index);
    json_t *f = json_pack("{s:s,s:s}", "app", r->pool->app->name, "replica", id);
    if (r->pid) json_object_set_new(f, "pid", json_integer(r->pid));
    if (extra) json_object_update(f, extra), json_decref(extra);
    log_json(level, message, f);
}

/* ------------------------------------------------------------ answers */

/* Give req its answer when no replica can: a response made up here. */
static void answer_locally(pool_request *req, int status, const char *why, int replica_index)
{
    wire_response resp = {.status = status, .why = why, .body = "", .err = ""};
    req->done(req, &resp, replica_index);
}

static int ready_count(const pool *p)
{
    int n = 0;
    for (int i = 0; i < p->nreplicas; i++) n += p->replicas[i]->state == REPLICA_READY;
    return n;
}

/* ------------------------------------------------------------ direct replicas */

/* Which replicas may take connections: those in rotation, while the
 * pool is told to (the replica acts on it within its tick). */
static void sync_direct(pool *p)
{
    for (int i = 0; i < p->nreplicas; i++) {
        replica *r = p->replicas[i];
        if (!r->shared) continue;
        bool on = p->direct_on && !p->retiring && !r->leaving && r->state == REPLICA_READY && r->pid;
        atomic_store(&r->shared->serve, on);
    }
}

/* It holds no client connection, and will take none. */
static bool direct_done_with(const replica *r)
{
    return !r->shared || !r->pid || direct_drained(r->shared);
}

/* The answers its threads recorded, into the metrics. */
static void read_records(pool *p, replica *r)
{
    direct_record rec;
    for (int i = 0; r->shared && i < r->shared->nslots; i++)
        while (direct_pop(&r->shared->slots[i], &rec))
            if (p->opt.direct_done) p->opt.direct_done(p->opt.direct_ctx, &rec);
}

/* Messages on a replica's back socket: connections it handed back, log lines. */
static void back_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    replica *r = arg;
    pool *p = r->pool;
    for (;;) {
        int passed;
        ssize_t n = direct_recv(r->back_fd, p->back_buf, &passed);
        if (n <= 0) {
            if (n < 0 && r->back_ev) event_del(r->back_ev);
            return;
        }
        const char *m = p->back_buf, *end = m + n;
        direct_conn_msg conn;
        if (passed >= 0 && direct_parse_conn(m, (size_t)n, &conn)) {
            fcntl(passed, F_SETFL, fcntl(passed, F_GETFL) | O_NONBLOCK);
            p->opt.direct->handoff(p->opt.direct->ctx, passed, conn.peer, conn.path, conn.bytes, conn.len);
            continue;
        }
        if (passed >= 0) close(passed);
        if (*m != DIRECT_MSG_LOG) continue;
        for (m++; m < end;) {
            log_level level = (log_level)*m++;
            const char *app = m, *app_end = memchr(m, '\0', (size_t)(end - m));
            const char *text = app_end ? app_end + 1 : end, *text_end = text < end ? memchr(text, '\0', (size_t)(end - text)) : NULL;
            if (!text_end || level > LOG_ERROR) break;
            char *copy = strdup(text);
            if (copy) log_line_in(level, app, copy);
            m = text_end + 1;
        }
    }
}

void pool_direct_collect(pool *p)
{
    for (int i = 0; i < p->nreplicas; i++) read_records(p, p->replicas[i]);
}

bool pool_direct_give(pool *p, int fd, const char *peer, const void *bytes, size_t len)
{
    /* The replica with a free thread that holds the fewest connections. */
    uint64_t now = wagi_now_ns();
    replica *best = NULL;
    int best_conns = 0;
    for (int i = 0; i < p->nserving; i++) {
        replica *r = p->replicas[i];
        if (!r->shared || !r->pid || r->back_fd < 0 || !atomic_load(&r->shared->serve) ||
            !direct_free_thread(r->shared, now))
            continue;
        int conns = direct_conns(r->shared);
        if (!best || conns < best_conns) best = r, best_conns = conns;
    }
    return best && direct_send_conn(best->back_fd, fd, peer, "", bytes, len);
}

/* Close the back socket, once what the replica sent on it is read. */
static void close_back(replica *r)
{
    if (r->back_fd < 0) return;
    back_readable(r->back_fd, EV_READ, r);
    if (r->back_ev) event_free(r->back_ev);
    r->back_ev = NULL;
    close(r->back_fd);
    r->back_fd = -1;
}

void pool_set_direct(pool *p, bool on)
{
    p->direct_on = on;
    sync_direct(p);
}

bool pool_direct_serving(const pool *p)
{
    uint64_t now = wagi_now_ns();
    for (int i = 0; i < p->nreplicas; i++) {
        const replica *r = p->replicas[i];
        if (r->shared && r->pid && atomic_load(&r->shared->serve) && direct_free_thread(r->shared, now))
            return true;
    }
    return false;
}

int pool_direct_conns(const pool *p)
{
    int n = 0;
    for (int i = 0; i < p->nreplicas; i++)
        if (p->replicas[i]->shared && p->replicas[i]->pid) n += direct_conns(p->replicas[i]->shared);
    return n;
}

static void update_health(pool *p)
{
    int ready = ready_count(p);
    sync_direct(p);
    if (ready) p->unhealthy = false;
    if (p->retiring) return;
    metrics_set_healthy(p->app->metrics, !p->unhealthy);
    metrics_replicas(p->app->metrics, ready, p->nserving);
}

/* ------------------------------------------------------------ choosing */

/* The replica's least loaded open channel if it has fewer than `depth`
 * requests (and, when that means waiting, a request that started lately
 * in front), else NULL. */
static channel *free_channel(replica *r, int depth, uint64_t now)
{
    if (r->state != REPLICA_READY) return NULL;
    channel *best = NULL;
    int best_depth = 0;
    for (int c = 0; c < r->pool->opt.channels; c++) {
        channel *ch = &r->channels[c];
        /* A thread that takes connections may be in a request of its
         * own: one more ahead of ours. (Its age does not keep ours off:
         * the front hears nothing when it ends, and the thread would go
         * on with its own connections' requests while ours waited here.) */
        int here = ch->depth + (r->shared && c < r->shared->nslots && atomic_load(&r->shared->slots[c].busy_since_ns));
        if (ch->fd < 0 || here >= depth) continue;
        if (ch->tail && ch->tail->body_open) continue; /* its body is still being sent */
        if (ch->depth && now - ch->head_since_ns > PIPELINE_MAX_AGE_NS) continue;
        if (!best || here < best_depth) best = ch, best_depth = here;
    }
    return best;
}

/* cluster.load_balancer.algorithm, among the replicas in rotation that
 * have a channel with fewer than `depth` requests. */
static channel *choose_within(pool *p, int depth, uint64_t now)
{
    int n = p->nserving, best = -1;
    switch ((qv_lb_algorithm)p->app->rc.lb_algorithm) {
    case QV_LB_LEAST_CONNECTIONS:
        for (int k = 0; k < n; k++) {
            int i = (p->next + k) % n;
            if (free_channel(p->replicas[i], depth, now) &&
                (best < 0 || p->replicas[i]->in_flight < p->replicas[best]->in_flight))
                best = i;
        }
        break;
    case QV_LB_WEIGHTED: {
        /* Smooth weighted round robin (as nginx): every replica gains its
         * weight, the richest is chosen and pays the total. All weights
         * are 1 on one node; the cluster gives nodes their weights. */
        int total = 0;
        for (int i = 0; i < n; i++) {
            if (!free_channel(p->replicas[i], depth, now)) continue;
            p->replicas[i]->current_weight += 1;
            total += 1;
            if (best < 0 || p->replicas[i]->current_weight > p->replicas[best]->current_weight) best = i;
        }
        if (best >= 0) p->replicas[best]->current_weight -= total;
        break;
    }
    case QV_LB_ROUND_ROBIN:
    default:
        for (int k = 0; k < n && best < 0; k++) {
            int i = (p->next + k) % n;
            if (free_channel(p->replicas[i], depth, now)) best = i;
        }
        break;
    }
    if (best < 0) return NULL;
    p->next = (best + 1) % n;
    return free_channel(p->replicas[best], depth, now);
}

/* An idle channel if there is one, else room behind a running request. */
static channel *choose(pool *p)
{
    uint64_t now = wagi_now_ns();
    channel *ch = choose_within(p, 1, now);
    return ch ? ch : choose_within(p, PIPELINE_DEPTH, now);
}

/* ------------------------------------------------------------ the queue */

static void enqueue(pool *p, pool_request *req)
{
    req->next = NULL;
    if (p->queue_tail) p->queue_tail->next = req;
    else p->queue_head = req;
    p->queue_tail = req;
    p->queued++;
}

static pool_request *dequeue(pool *p)
{
    pool_request *req = p->queue_head;
    if (!req) return NULL;
    p->queue_head = req->next;
    if (!p->queue_head) p->queue_tail = NULL;
    p->queued--;
    return req;
}

/* Channels freed or replicas ready: send what waits. */
static void drain_queue(pool *p)
{
    while (p->queue_head) {
        if (p->queue_head->cancelled) {
            pool_request *req = dequeue(p);
            answer_locally(req, 499, "the client went away", -1);
            continue;
        }
        channel *ch = choose(p);
        if (!ch) return;
        send_on(ch, dequeue(p));
    }
}

/* ------------------------------------------------------------ talking to replicas */

/* Write the channel's pending bytes when the loop has run the callbacks
 * that were ready (flush_channels). */
static void schedule_flush(channel *ch)
{
    pool *p = ch->r->pool;
    if (ch->flushing) return;
    ch->flushing = true;
    ch->next_flush = p->to_flush;
    p->to_flush = ch;
    event_active(p->flush, EV_TIMEOUT, 0);
}

static void send_on(channel *ch, pool_request *req)
{
    replica *r = ch->r;
    pool *p = r->pool;
    req->next = NULL;
    if (ch->tail) ch->tail->next = req;
    else ch->head = req;
    ch->tail = req;
    req->running_on = ch;
    ch->depth++;
    r->in_flight++;
    if (req != &r->check) p->in_flight++;
    if (ch->head == req) ch->head_since_ns = wagi_now_ns();
    if (evbuffer_add(ch->out, req->msg.data, req->msg.len) != 0) {
        replica_down(r, 502, "cannot write to the replica");
        return;
    }
    schedule_flush(ch);
}

bool pool_send_more(pool_request *req, const void *bytes, size_t len)
{
    channel *ch = req->running_on;
    if (!ch) return wire_buf_append(&req->msg, bytes, len);
    if (ch->fd < 0) return true; /* closed: its answer is on its way */
    if (evbuffer_add(ch->out, bytes, len) != 0) return false;
    schedule_flush(ch);
    return true;
}

size_t pool_unsent(const pool_request *req)
{
    const channel *ch = req->running_on;
    return ch ? evbuffer_get_length(ch->out) : req->msg.len;
}

/* Write what a channel holds; false when the replica cannot be written to. */
static bool write_out(channel *ch)
{
    while (evbuffer_get_length(ch->out)) {
        int n = evbuffer_write(ch->out, ch->fd);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) return false;
    }
    if (evbuffer_get_length(ch->out)) {
        event_add(ch->writable, NULL);
    } else if (ch->tail && ch->tail->sent) { /* a body's sender waits for room */
        void (*sent)(pool_request *) = ch->tail->sent;
        ch->tail->sent = NULL;
        sent(ch->tail);
    }
    return true;
}

/* After the callbacks that were ready: the requests they sent, one write
 * per channel. */
static void flush_channels(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pool *p = arg;
    while (p->to_flush) {
        channel *ch = p->to_flush;
        p->to_flush = ch->next_flush;
        ch->flushing = false;
        if (ch->fd >= 0 && !write_out(ch)) replica_down(ch->r, 502, "cannot write to the replica");
    }
}

/* The rest of what the socket could not take at once. */
static void channel_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    channel *ch = arg;
    if (!write_out(ch)) replica_down(ch->r, 502, "cannot write to the replica");
}

/* Take the channel's running request off it; the next one starts. */
static pool_request *pop_head(channel *ch, uint64_t now)
{
    pool_request *req = ch->head;
    ch->head = req->next;
    if (!ch->head) ch->tail = NULL;
    ch->depth--;
    ch->head_since_ns = now;
    ch->paused = false;
    req->next = NULL;
    req->running_on = NULL;
    return req;
}

static void health_result(replica *r, const wire_response *resp);

/* Read what the replica sent into ch->in; false when it closed or failed. */
static bool fill(channel *ch)
{
    for (;;) {
        struct evbuffer_iovec vec[2];
        int nvec = evbuffer_reserve_space(ch->in, 65536, vec, 2);
        if (nvec <= 0) return false;
        struct iovec iov[2];
        for (int i = 0; i < nvec; i++) iov[i] = (struct iovec){vec[i].iov_base, vec[i].iov_len};
        ssize_t n = readv(ch->fd, iov, nvec);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return true;
        if (n <= 0) return false;
        size_t left = (size_t)n;
        for (int i = 0; i < nvec; i++) {
            size_t take = left < vec[i].iov_len ? left : vec[i].iov_len;
            vec[i].iov_len = take;
            left -= take;
        }
        evbuffer_commit_space(ch->in, vec, nvec);
        if ((size_t)n < iov[0].iov_len + (nvec > 1 ? iov[1].iov_len : 0)) return true; /* drained */
    }
}

/* Responses arrived on a channel (or the replica went away). */
static void channel_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    channel *ch = arg;
    replica *r = ch->r;
    pool *p = r->pool;
    struct evbuffer *in = ch->in;
    if (!fill(ch)) {
        replica_down(r, 502, "the replica closed its connection (it crashed or was killed)");
        return;
    }
    for (;;) {
        size_t have = evbuffer_get_length(in);
        uint8_t len_bytes[4];
        if (ch->paused) return;
        if (have < 4) break;
        evbuffer_copyout(in, len_bytes, 4);
        uint32_t len = wire_length(len_bytes);
        if (len > WIRE_MAX_MESSAGE || !ch->head) {
            replica_down(r, 502, len > WIRE_MAX_MESSAGE ? "the replica sent a message too large"
                                                        : "the replica answered a request it was not given");
            return;
        }
        if (have < 4 + (size_t)len) break;
        const uint8_t *msg = evbuffer_pullup(in, 4 + (ssize_t)len);
        if (msg && wire_part_kind(msg + 4, len)) {
            /* A part of the head request's response: it keeps running. */
            wire_part part;
            if (!wire_part_decode(msg + 4, len, &part)) {
                replica_down(r, 502, "the replica sent a malformed part of a response");
                return;
            }
            if (ch->head->part && ch->head != &r->check) ch->head->part(ch->head, &part);
            free((void *)part.headers);
            evbuffer_drain(in, 4 + (size_t)len);
            continue;
        }
        wire_response resp;
        if (!msg || !wire_response_decode(msg + 4, len, &resp)) {
            replica_down(r, 502, "the replica sent a malformed response");
            return;
        }
        if (ch->head->body_open) { /* answered before its whole body was sent: end it for the replica */
            wire_buf end = {0};
            ch->head->body_open = false;
            bool ok = wire_part_end_encode(&end, false) && evbuffer_add(ch->out, end.data, end.len) == 0;
            wire_buf_free(&end);
            if (!ok) {
                replica_down(r, 502, "cannot write to the replica");
                return;
            }
            schedule_flush(ch);
        }
        pool_request *req = pop_head(ch, wagi_now_ns());
        r->in_flight--;
        if (req == &r->check) {
            health_result(r, &resp);
        } else {
            p->in_flight--;
            req->done(req, &resp, r->index);
        }
        free((void *)resp.headers);
        /* The buffers outlive a closed channel: draining stays safe. */
        evbuffer_drain(in, 4 + (size_t)len);
        if (r->state == REPLICA_DOWN) return; /* health_result replaced it */
        drain_queue(p);
        if (r->leaving && !r->in_flight && direct_done_with(r)) {
            let_go(r); /* its last request answered */
            return;
        }
    }
    /* All that came is read: a response held back in parts may go now. */
    pool_request *head = ch->head;
    if (head && head->part && head != &r->check) head->part(head, &(wire_part){.kind = WIRE_PART_NONE});
}

void pool_pause(pool_request *req)
{
    channel *ch = req->running_on;
    if (!ch || ch->fd < 0 || ch->head != req || ch->paused) return;
    ch->paused = true;
    event_del(ch->readable);
}

static void unpause(channel *ch)
{
    ch->paused = false;
    if (ch->fd < 0) return;
    event_add(ch->readable, NULL);
    event_active(ch->readable, EV_READ, 0); /* what was read already waits in ch->in */
}

void pool_resume(pool_request *req)
{
    channel *ch = req->running_on;
    if (ch && ch->paused && ch->head == req) unpause(ch);
}

/* ------------------------------------------------------------ health checks */

static void health_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    replica *r = arg;
    pool *p = r->pool;
    if (r->checking || r->state == REPLICA_DOWN || r->leaving || p->retiring) return;
    /* Straight to this replica, bypassing the balancer; when every channel
     * is busy the replica is clearly answering: skip this round. */
    channel *ch = NULL;
    for (int c = 0; c < p->opt.channels && !ch; c++)
        if (r->channels[c].fd >= 0 && !r->channels[c].depth) ch = &r->channels[c];
    if (!ch) return;
    const serve_app *app = p->app;
    size_t n = strlen(app->route) + strlen(app->rc.health_path) + 1;
    char *path = malloc(n);
    if (!path) return;
    snprintf(path, n, "%s%s", app->route, app->rc.health_path);
    char id[48];
    snprintf(id, sizeof id, "health-%s-%d", app->name, r->index);
    wire_request wr = {
        .rq = {.method = "GET", .path = path, .query = "", .protocol = "HTTP/1.1", .host = p->host,
               .server_name = p->opt.address, .server_port = p->port, .remote_addr = "127.0.0.1", .body = ""},
        .timeout_ms = app->rc.health_timeout_ms,
        .health = true,
        .id = id,
    };
    r->check.msg.len = 0;
    bool ok = wire_request_encode(&r->check.msg, &wr);
    free(path);
    if (!ok) return;
    r->check.timeout_ms = wr.timeout_ms;
    r->checking = true;
    send_on(ch, &r->check);
}

static void health_result(replica *r, const wire_response *resp)
{
    pool *p = r->pool;
    r->checking = false;
    if (r->leaving) return;
    bool ok = resp->status >= 200 && resp->status < 400;
    metrics_health_check(p->app->metrics, ok);
    if (ok) {
        r->failures = 0;
        if (r->state == REPLICA_STARTING) {
            r->state = REPLICA_READY;
            bool was_unhealthy = p->unhealthy;
            update_health(p);
            log_replica(was_unhealthy ? LOG_INFO : LOG_DEBUG, r, was_unhealthy ? "healthy again" : "ready", NULL);
        }
        return;
    }
    log_replica(LOG_DEBUG, r, "health check failed",
                json_pack("{s:i,s:s}", "status", resp->status, "reason", *resp->why ? resp->why : "status 400 or more"));
    if (++r->failures < p->app->rc.health_retries) return;
    /* Out of rotation and replaced. */
    bool was_ready = r->state == REPLICA_READY;
    r->replacing = true;
    char why[700];
    snprintf(why, sizeof why, "failed %u health checks in a row (last: %d%s%s)", r->failures, resp->status,
             *resp->why ? ", " : "", resp->why);
    r->state = REPLICA_DOWN; /* before update_health: it no longer counts */
    if (!ready_count(p) && !p->unhealthy) {
        p->unhealthy = true;
        log_json(LOG_WARN, "unhealthy: its requests get 503 until a health check passes",
                 json_pack("{s:s,s:i,s:s}", "app", p->app->name, "status", resp->status, "reason",
                           *resp->why ? resp->why : "status 400 or more"));
    }
    log_replica(was_ready ? LOG_WARN : LOG_DEBUG, r, "replacing the replica", json_pack("{s:s}", "reason", why));
    replica_down(r, 502, "the replica was replaced after failing its health checks");
}

/* ------------------------------------------------------------ life and death */

static uint64_t backoff_ms(const replica *r)
{
    uint64_t ms = BACKOFF_FIRST_MS;
    for (uint32_t i = 1; i < r->quick_deaths && ms < BACKOFF_MAX_MS; i++) ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static void restart_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    replica *r = arg;
    if (r->leaving && r->pid) {
        /* let_go's deadline: it did not exit when its sockets closed. */
        kill(r->pid, SIGKILL);
        return;
    }
    if (r->pool->retiring || r->pid || r->leaving) return;
    r->restarts++;
    metrics_replica_restarted(r->pool->app->metrics);
    replica_spawn(r);
}

static void close_channel(channel *ch)
{
    if (ch->fd < 0 || !ch->readable) return;
    event_del(ch->readable);
    event_del(ch->writable);
    close(ch->fd);
    ch->fd = -1;
    ch->paused = false;
    evbuffer_drain(ch->in, evbuffer_get_length(ch->in));
    evbuffer_drain(ch->out, evbuffer_get_length(ch->out));
}

/* Close the replica's channels (their requests get busy_status) and take
 * it out of rotation. The process is killed if still there; its exit is
 * seen by replica_exited, which schedules the restart. */
static void replica_down(replica *r, int busy_status, const char *why)
{
    pool *p = r->pool;
    if (r->pid > 0) kill(r->pid, SIGKILL);
    r->state = REPLICA_DOWN;
    for (int c = 0; c < p->opt.channels; c++) {
        channel *ch = &r->channels[c];
        close_channel(ch);
        while (ch->head) {
            pool_request *req = pop_head(ch, 0);
            r->in_flight--;
            if (req == &r->check) {
                r->checking = false;
            } else {
                p->in_flight--;
                answer_locally(req, busy_status, why, r->index);
            }
        }
    }
    update_health(p);
}

static void describe_exit(int status, char *out, size_t n)
{
    if (WIFEXITED(status)) snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(out, n, "ended (status %d)", status);
}

/* Account the CPU time the replica used since last time. */
static void sample_usage(replica *r, uint64_t *memory)
{
    limits_usage u;
    if (!r->limits || !limits_usage_read(r->limits, &u)) return;
    if (memory) *memory += u.memory_bytes;
    if (u.cpu_seconds > r->cpu_seen && !r->pool->retiring) {
        metrics_resources(r->pool->app->metrics, 0, u.cpu_seconds - r->cpu_seen);
        r->cpu_seen = u.cpu_seconds;
    }
}

static void replica_exited(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    replica *r = arg;
    pool *p = r->pool;
    int status = 0;
    struct rusage ru;
    if (wait4(r->pid, &status, WNOHANG, &ru) <= 0) return; /* not yet */
    bool expected = r->replacing || p->retiring || r->leaving;
    describe_exit(status, r->last_exit, sizeof r->last_exit);
    limits_usage u = {0};
    bool oom = r->limits && limits_usage_read(r->limits, &u) && u.oom_kills > 0;
    /* Its whole CPU time, up to the end (samples stop short of it). */
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    if (cpu > r->cpu_seen && !p->retiring) metrics_resources(p->app->metrics, 0, cpu - r->cpu_seen);
    r->cpu_seen = cpu;
    if (!expected)
        log_replica(LOG_WARN, r, "replica died",
                    json_pack("{s:s,s:b}", "exit", r->last_exit, "out_of_memory", oom));
    char why[300];
    snprintf(why, sizeof why, "the replica %s%s", r->last_exit, oom ? " (out of memory)" : "");
    replica_down(r, 502, why);
    close_back(r);
    read_records(p, r);
    if (r->shared) { /* what it held went with it */
        atomic_fetch_sub(&p->opt.direct->routes->replica_conns, direct_conns(r->shared));
        direct_shared_reset(r->shared);
    }
    event_free(r->exited);
    r->exited = NULL;
    close(r->pidfd);
    r->pidfd = -1;
    r->pid = 0;
    if (r->limits) limits_delete(r->limits);
    r->limits = NULL;
    if (r->leaving) {
        replica_forget(r);
        update_health(p);
        return;
    }
    if (p->retiring) return;
    uint64_t lived_ms = (wagi_now_ns() - r->started_ns) / 1000000;
    r->quick_deaths = lived_ms >= STABLE_MS ? 1 : r->quick_deaths + 1;
    r->replacing = false;
    uint64_t ms = backoff_ms(r);
    struct timeval delay = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(r->restart_timer, &delay);
    if (!expected || r->quick_deaths > 1)
        log_replica(LOG_INFO, r, "restarting the replica", json_pack("{s:I}", "in_ms", (json_int_t)ms));
}

static void close_fds(int lo, int hi)
{
    if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = lo; fd <= hi && fd < (max > 0 ? max : 65536); fd++) close((int)fd);
}

/* In the child: become the replica. Never returns. */
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static _Noreturn void become_replica(const pool *p, const replica *r, int *fds, int nfds, int back_fd,
                                     pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    /* The front decides when a replica stops (it closes the sockets):
     * a Ctrl-C or a SIGTERM to the whole group must not kill requests. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &ignore, NULL);
    sigaction(SIGTERM, &ignore, NULL);
    sigaction(SIGHUP, &ignore, NULL);
    sigaction(SIGPIPE, &ignore, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Keep stdio and our sockets only: not the other replicas' sockets,
     * not the front's event loop; the listener only when taking
     * connections from it. */
    int *keep = calloc((size_t)nfds + 2, sizeof *keep), nkeep = 0;
    if (!keep) _exit(70);
    for (int i = 0; i < nfds; i++) keep[nkeep++] = fds[i];
    replica_direct direct = {0};
    if (r->shared) {
        direct = (replica_direct){.listen_fd = p->opt.direct->listen_fd, .back_fd = back_fd, .shared = r->shared,
                                  .area = p->area, .routes = p->opt.direct->routes,
                                  .limits = p->opt.direct->limits, .address = p->opt.address, .port = p->opt.port,
                                  .index = r->index};
        snprintf(direct.id_prefix, sizeof direct.id_prefix, "%s", p->id_prefix);
        keep[nkeep++] = direct.listen_fd;
        keep[nkeep++] = back_fd;
    }
    qsort(keep, (size_t)nkeep, sizeof *keep, cmp_int);
    int from = 3;
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] > from) close_fds(from, keep[i] - 1);
        from = keep[i] + 1;
    }
    close_fds(from, INT_MAX);
    free(keep);
    qsort(fds, (size_t)nfds, sizeof *fds, cmp_int);
    replica_main(p->app, fds, nfds, r->shared ? &direct : NULL);
}

static void replica_spawn(replica *r)
{
    pool *p = r->pool;
    int n = p->opt.channels;
    int *mine = calloc((size_t)n, sizeof *mine), *theirs = calloc((size_t)n, sizeof *theirs);
    int made = 0, back[2] = {-1, -1};
    char why[300] = "";
    if (!mine || !theirs) {
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    for (; made < n; made++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(why, sizeof why, "cannot make a socket pair: %s", strerror(errno));
            goto fail;
        }
        mine[made] = sv[0];
        theirs[made] = sv[1];
    }
    if (r->shared) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, back) != 0) {
            snprintf(why, sizeof why, "cannot make a socket pair: %s", strerror(errno));
            goto fail;
        }
        read_records(p, r); /* the last process's, before they are cleared */
        direct_shared_reset(r->shared);
        r->let_go = false;
    }
    r->generation++;
    char name[200];
    snprintf(name, sizeof name, "%s-%u-%d-%u", p->app->name, p->opt.serial, r->index, r->generation);
    r->limits = limits_new(name, p->app->rc.memory_bytes ? p->app->rc.memory_bytes * (uint64_t)n + (64u << 20) : 0,
                           p->app->rc.cpu_millicores / 1000.0, why, sizeof why);
    if (!r->limits) goto fail;
    if (!limits_weigh(r->limits, n, why, sizeof why))
        log_replica(LOG_WARN, r, "the replica weighs as one process for the CPU", json_pack("{s:s}", "reason", why));
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) become_replica(p, r, theirs, n, back[1], parent);
    if (pid < 0) {
        snprintf(why, sizeof why, "cannot fork: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < n; i++) close(theirs[i]);
    if (back[1] >= 0) close(back[1]);
    back[1] = -1;
    if (back[0] >= 0) {
        r->back_fd = back[0];
        back[0] = -1;
        evutil_make_socket_nonblocking(r->back_fd); /* giving a replica a connection must not block the loop */
        r->back_ev = event_new(p->opt.base, r->back_fd, EV_READ | EV_PERSIST, back_readable, r);
        if (!r->back_ev || event_add(r->back_ev, NULL) != 0)
            log_replica(LOG_WARN, r, "cannot read what the replica hands back", NULL);
    }
    made = 0;
    r->pid = pid;
    r->started_ns = wagi_now_ns();
    r->cpu_seen = 0;
    r->failures = 0;
    /* Before it gets any request, so that no guest code runs unlimited. */
    if (limits_attach(r->limits, pid, why, sizeof why) != 0)
        log_replica(LOG_WARN, r, "resource limits not applied", json_pack("{s:s}", "reason", why));
    r->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    r->exited = r->pidfd >= 0 ? event_new(p->opt.base, r->pidfd, EV_READ, replica_exited, r) : NULL;
    if (!r->exited || event_add(r->exited, NULL) != 0) {
        snprintf(why, sizeof why, "cannot watch the replica process: %s", strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (r->exited) event_free(r->exited);
        r->exited = NULL;
        if (r->pidfd >= 0) close(r->pidfd);
        r->pid = 0;
        for (int i = 0; i < n; i++) close(mine[i]);
        close_back(r);
        goto fail_quiet;
    }
    for (int c = 0; c < n; c++) {
        channel *ch = &r->channels[c];
        ch->head = ch->tail = NULL; /* replica_down answered them */
        ch->depth = 0;
        evutil_make_socket_nonblocking(mine[c]);
        ch->fd = mine[c];
        event_assign(ch->readable, p->opt.base, ch->fd, EV_READ | EV_PERSIST, channel_readable, ch);
        event_assign(ch->writable, p->opt.base, ch->fd, EV_WRITE, channel_writable, ch);
        if (event_add(ch->readable, NULL) != 0) close_channel(ch);
    }
    free(mine);
    free(theirs);
    log_replica(LOG_DEBUG, r, "replica started", NULL);
    if (p->app->rc.health_enabled) {
        r->state = REPLICA_STARTING;
        event_active(r->health_timer, EV_TIMEOUT, 0); /* the first check now */
    } else {
        r->state = REPLICA_READY;
        update_health(p);
        drain_queue(p);
    }
    return;
fail:
    for (int i = 0; i < made; i++) close(mine[i]), close(theirs[i]);
    for (int i = 0; i < 2; i++)
        if (back[i] >= 0) close(back[i]);
fail_quiet:
    free(mine);
    free(theirs);
    if (r->limits) limits_delete(r->limits);
    r->limits = NULL;
    log_replica(LOG_ERROR, r, "cannot start the replica", json_pack("{s:s}", "reason", why));
    r->state = REPLICA_DOWN;
    r->quick_deaths++;
    uint64_t ms = backoff_ms(r);
    struct timeval delay = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(r->restart_timer, &delay);
}

/* ------------------------------------------------------------ the tick */

/* A request a replica runs itself that is well past its timeout: its
 * watchdog did not stop it, so only killing the replica can (its client
 * connections close with it). True when it was killed. */
static bool direct_runaway(replica *r, uint64_t now)
{
    for (int i = 0; r->pid && r->state != REPLICA_DOWN && i < r->shared->nslots; i++) {
        direct_slot *s = &r->shared->slots[i];
        uint64_t since = atomic_load(&s->busy_since_ns), timeout = atomic_load(&s->timeout_ms);
        if (!since || !timeout || now < since + (timeout + GRACE_MS) * 1000000u) continue;
        r->replacing = true;
        log_replica(LOG_WARN, r, "the replica did not stop a request at its timeout: replacing it", NULL);
        replica_down(r, 502, "the replica was replaced: another request on it ran away");
        return true;
    }
    return false;
}

/* Deadlines, expired waits, usage, and (without cgroups) the CPU throttle. */
static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pool *p = arg;
    uint64_t now = wagi_now_ns();
    /* Sampled each tick: the load times the time it held, about. */
    if (p->load_at_ns) p->load_seconds += pool_load(p) * ((double)(now - p->load_at_ns) / 1e9);
    p->load_at_ns = now;
    sync_direct(p);
    for (int i = 0; i < p->nreplicas; i++) {
        replica *r = p->replicas[i];
        if (r->limits) limits_tick(r->limits);
        if (r->shared) {
            read_records(p, r);
            if (direct_runaway(r, now)) continue;
            if (r->leaving && r->pid && !r->let_go && !r->in_flight && direct_done_with(r)) {
                let_go(r);
                continue;
            }
        }
        for (int c = 0; r->state != REPLICA_DOWN && c < p->opt.channels; c++) {
            channel *ch = &r->channels[c];
            pool_request *req = ch->head;
            if (ch->paused && req && req->timeout_ms && now >= ch->head_since_ns + req->timeout_ms * 1000000u) {
                /* Its client did not take the answer in time: read on, for the caller to drop. */
                unpause(ch);
                if (req->part) req->part(req, NULL);
            }
            if (!req || !req->timeout_ms || now < ch->head_since_ns + (req->timeout_ms + GRACE_MS) * 1000000u)
                continue;
            /* The replica did not stop the instance: only killing it can. */
            r->replacing = true;
            log_replica(LOG_WARN, r, "the replica did not stop a request at its timeout: replacing it", NULL);
            pop_head(ch, now);
            r->in_flight--;
            if (req == &r->check) r->checking = false;
            else p->in_flight--, answer_locally(req, 504, "the app ran past its timeout and had to be killed", r->index);
            replica_down(r, 502, "the replica was replaced: another request on it ran away");
        }
    }
    /* Requests that waited as long as their timeout for a replica. */
    for (pool_request **at = &p->queue_head; *at;) {
        pool_request *req = *at;
        uint64_t limit = req->timeout_ms ? req->timeout_ms : 30000;
        if (!req->cancelled && now < req->queued_ns + limit * 1000000u) {
            at = &req->next;
            continue;
        }
        *at = req->next;
        p->queued--;
        answer_locally(req, req->cancelled ? 499 : 503,
                       req->cancelled ? "the client went away" : "no replica could take the request in time", -1);
    }
    p->queue_tail = NULL;
    for (pool_request *q = p->queue_head; q; q = q->next) p->queue_tail = q;
    if (now - p->last_usage_ns >= 1000000000u) {
        p->last_usage_ns = now;
        uint64_t memory = 0;
        for (int i = 0; i < p->nreplicas; i++) sample_usage(p->replicas[i], &memory);
        if (!p->retiring) metrics_resources(p->app->metrics, memory, 0);
    }
}

/* ------------------------------------------------------------ replicas leaving */

/* Free a replica whose process is gone (or never was), and r itself. */
static void replica_free_parts(replica *r)
{
    pool *p = r->pool;
    if (r->exited) event_free(r->exited);
    if (r->pidfd >= 0) close(r->pidfd);
    if (r->health_timer) event_free(r->health_timer);
    if (r->restart_timer) event_free(r->restart_timer);
    if (r->limits) limits_delete(r->limits);
    close_back(r);
    if (r->shared) {
        direct_shared_reset(r->shared);
        p->area_used[(size_t)((char *)r->shared - (char *)direct_area_at(p->area, 0)) / p->area->stride] = false;
    }
    wire_buf_free(&r->check.msg);
    for (int c = 0; r->channels && c < p->opt.channels; c++) {
        channel *ch = &r->channels[c];
        if (ch->readable) event_free(ch->readable);
        if (ch->writable) event_free(ch->writable);
        if (ch->in) evbuffer_free(ch->in);
        if (ch->out) evbuffer_free(ch->out);
    }
    free(r->channels);
    free(r);
}

/* A leaving replica whose process is gone: off the list, and freed. */
static void replica_forget(replica *r)
{
    pool *p = r->pool;
    for (int i = p->nserving; i < p->nreplicas; i++)
        if (p->replicas[i] == r) {
            p->replicas[i] = p->replicas[--p->nreplicas];
            break;
        }
    log_replica(LOG_DEBUG, r, "replica gone", NULL);
    replica_free_parts(r);
}

/* A leaving replica answered its last request: close its sockets (its
 * threads see end of file and the process exits; replica_exited frees
 * it), and kill it if it has not exited a second later. */
static void let_go(replica *r)
{
    r->let_go = true;
    for (int c = 0; c < r->pool->opt.channels; c++) close_channel(&r->channels[c]);
    kill(r->pid, SIGCONT); /* the CPU throttle may have stopped it */
    struct timeval second = {1, 0};
    evtimer_add(r->restart_timer, &second);
}

/* ------------------------------------------------------------ the pool */

/* A replica's parts, made once and kept across its processes (each
 * spawn gives the channels their sockets). NULL when out of memory. */
static replica *replica_new(pool *p)
{
    replica *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->pool = p;
    r->index = p->next_index++;
    r->pidfd = -1;
    r->back_fd = -1;
    r->channels = calloc((size_t)p->opt.channels, sizeof *r->channels);
    r->restart_timer = evtimer_new(p->opt.base, restart_now, r);
    r->health_timer = event_new(p->opt.base, -1, EV_PERSIST, health_check, r);
    bool made = r->channels && r->restart_timer && r->health_timer;
    /* Past DIRECT_AREA_REPLICAS replicas, the others are served by the front. */
    for (int i = 0; made && p->area && !r->shared && i < DIRECT_AREA_REPLICAS; i++)
        if (!p->area_used[i]) p->area_used[i] = true, r->shared = direct_area_at(p->area, i);
    for (int c = 0; made && c < p->opt.channels; c++) {
        channel *ch = &r->channels[c];
        *ch = (channel){.r = r, .fd = -1, .in = evbuffer_new(), .out = evbuffer_new()};
        /* Assigned their socket at each spawn. */
        ch->readable = event_new(p->opt.base, -1, 0, channel_readable, ch);
        ch->writable = event_new(p->opt.base, -1, 0, channel_writable, ch);
        made = ch->in && ch->out && ch->readable && ch->writable;
    }
    if (!made) {
        replica_free_parts(r);
        return NULL;
    }
    const run_config *rc = &p->app->rc;
    if (rc->health_enabled) {
        struct timeval interval = {(time_t)(rc->health_interval_ms / 1000),
                                   (suseconds_t)(rc->health_interval_ms % 1000) * 1000};
        event_add(r->health_timer, &interval);
    }
    return r;
}

/* Room in p->replicas for `more`; false when out of memory. */
static bool make_room(pool *p, int more)
{
    replica **grown = realloc(p->replicas, (size_t)(p->nreplicas + more) * sizeof *grown);
    if (grown) p->replicas = grown;
    return grown != NULL;
}

/* Add a replica to those serving (it starts now); false when out of memory. */
static bool add_replica(pool *p)
{
    replica *r = make_room(p, 1) ? replica_new(p) : NULL;
    if (!r) return false;
    /* Serving ones come first: the first leaving one moves to the end. */
    p->replicas[p->nreplicas++] = p->replicas[p->nserving];
    p->replicas[p->nserving++] = r;
    replica_spawn(r);
    return true;
}

pool *pool_start(const pool_options *opt, serve_app *app, char *why, size_t whylen)
{
    pool *p = calloc(1, sizeof *p);
    int n = (int)(app->rc.replicas ? app->rc.replicas : 1);
    if (!p) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    p->opt = *opt;
    if (p->opt.channels < 1) p->opt.channels = 1;
    p->app = app;
    p->unhealthy = opt->start_unhealthy;
    snprintf(p->port, sizeof p->port, "%u", opt->port);
    snprintf(p->host, sizeof p->host, "%s:%u", opt->address, opt->port);
    bool throttled = app->rc.cpu_millicores && !strcmp(limits_mode(), "none");
    struct timeval every = {0, (throttled ? THROTTLE_TICK_MS : TICK_MS) * 1000};
    p->tick = event_new(opt->base, -1, EV_PERSIST, tick, p);
    if (p->tick) event_add(p->tick, &every);
    p->flush = event_new(opt->base, -1, 0, flush_channels, p);
    snprintf(p->id_prefix, sizeof p->id_prefix, "%llx", (unsigned long long)(wagi_now_ns() / 1000000 % 0xffffff));
    bool made = p->tick && p->flush && make_room(p, n);
    /* Replicas take connections themselves unless the app is a component
     * (its streamed bodies go through the front) or its manifest names a
     * balancing algorithm (which balances requests, not connections). */
    if (made && opt->direct && !app->component && !app->rc.lb_named)
        made = (p->back_buf = malloc(DIRECT_MSG_MAX)) && (p->area = direct_area_new(p->opt.channels));
    for (int i = 0; made && i < n; i++) {
        replica *r = replica_new(p);
        if (r) p->replicas[p->nreplicas++] = r;
        made = r != NULL;
    }
    if (!made) {
        pool_free(p);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    p->nserving = n;
    for (int i = 0; i < n; i++) replica_spawn(p->replicas[i]);
    update_health(p);
    return p;
}

/* The serving replica to take out first: one not in rotation, else the
 * least busy, else the newest. */
static int leaver(const pool *p)
{
    int best = -1;
    for (int i = 0; i < p->nserving; i++) {
        const replica *r = p->replicas[i], *b = best < 0 ? NULL : p->replicas[best];
        bool ready = r->state == REPLICA_READY, b_ready = b && b->state == REPLICA_READY;
        if (!b || (b_ready && !ready) || (ready == b_ready && r->in_flight <= b->in_flight)) best = i;
    }
    return best;
}

/* Take one replica out of rotation: it finishes what it runs (what waits
 * in the queue goes to the others), then goes. */
static void remove_replica(pool *p)
{
    int i = leaver(p);
    replica *r = p->replicas[i];
    p->replicas[i] = p->replicas[p->nserving - 1];
    p->replicas[p->nserving - 1] = r;
    p->nserving--;
    r->state = REPLICA_LEAVING;
    r->leaving = true;
    event_del(r->health_timer);
    event_del(r->restart_timer);
    log_replica(LOG_DEBUG, r, "replica leaving", json_pack("{s:i}", "in_flight", r->in_flight));
    sync_direct(p); /* it stops taking connections */
    if (!r->pid) replica_forget(r);
    else if (!r->in_flight && direct_done_with(r)) let_go(r); /* else when they are done (tick) */
}

bool pool_resize(pool *p, int replicas, char *why, size_t whylen)
{
    if (replicas < 1) replicas = 1;
    if (p->retiring) {
        snprintf(why, whylen, "the pool is retiring");
        return false;
    }
    while (p->nserving < replicas)
        if (!add_replica(p)) {
            snprintf(why, whylen, "out of memory");
            update_health(p);
            return false;
        }
    while (p->nserving > replicas) remove_replica(p);
    update_health(p);
    drain_queue(p);
    return true;
}

pool_verdict pool_submit(pool *p, pool_request *req)
{
    req->queued_ns = wagi_now_ns();
    if (!ready_count(p) && p->unhealthy) return POOL_UNHEALTHY;
    channel *ch = p->queue_head ? NULL : choose(p);
    if (ch) {
        send_on(ch, req);
        return POOL_TAKEN;
    }
    if (p->queued >= MAX_QUEUED) return POOL_FULL;
    enqueue(p, req);
    return POOL_TAKEN;
}

bool pool_healthy(const pool *p) { return !p->unhealthy; }

int pool_ready(const pool *p) { return ready_count(p); }

int pool_size(const pool *p) { return p->nserving; }

bool pool_idle(const pool *p)
{
    for (int i = 0; i < p->nreplicas; i++)
        if (!direct_done_with(p->replicas[i])) return false;
    return !p->in_flight && !p->queue_head;
}

int pool_load(const pool *p)
{
    int direct = 0;
    for (int i = 0; i < p->nreplicas; i++)
        if (p->replicas[i]->shared && p->replicas[i]->pid) direct += direct_busy(p->replicas[i]->shared);
    return p->in_flight + (int)p->queued + direct;
}

double pool_load_seconds(const pool *p) { return p->load_seconds; }

json_t *pool_describe(const pool *p)
{
    json_t *list = json_array();
    for (int i = 0; i < p->nreplicas; i++) {
        const replica *r = p->replicas[i];
        int direct = r->shared && r->pid ? direct_busy(r->shared) : 0;
        json_t *o = json_pack("{s:i,s:s,s:i,s:i}", "replica", r->index, "state", state_names[r->state], "in_flight",
                              r->in_flight + direct, "restarts", (int)r->restarts);
        if (r->shared && r->pid) {
            json_object_set_new(o, "connections", json_integer(direct_conns(r->shared)));
            json_object_set_new(o, "takes_connections",
                                json_boolean(atomic_load(&r->shared->serve) && direct_serving(r->shared)));
        }
        if (r->pid) json_object_set_new(o, "pid", json_integer(r->pid));
        if (r->last_exit[0]) json_object_set_new(o, "last_exit", json_string(r->last_exit));
        json_array_append_new(list, o);
    }
    return list;
}

void pool_retire(pool *p)
{
    p->retiring = true;
    sync_direct(p); /* its replicas stop taking connections */
    for (int i = 0; i < p->nreplicas; i++) {
        event_del(p->replicas[i]->health_timer);
        event_del(p->replicas[i]->restart_timer);
    }
}

void pool_free(pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->nreplicas; i++) read_records(p, p->replicas[i]); /* their last answers count */
    p->retiring = true;
    /* Close every socket: a replica's threads see end of file and exit. */
    for (int i = 0; i < p->nreplicas; i++) {
        replica *r = p->replicas[i];
        for (int c = 0; r->channels && c < p->opt.channels; c++) {
            channel *ch = &r->channels[c];
            close_channel(ch);
            while (ch->head) {
                pool_request *req = pop_head(ch, 0);
                if (req != &r->check) answer_locally(req, 503, "the server is stopping", r->index);
            }
        }
    }
    while (p->queue_head) answer_locally(dequeue(p), 503, "the server is stopping", -1);
    /* A replica the CPU throttle stopped would not see its sockets close. */
    for (int i = 0; i < p->nreplicas; i++)
        if (p->replicas[i]->pid) kill(p->replicas[i]->pid, SIGCONT);
    /* Give them a second in all, then kill. */
    uint64_t deadline = wagi_now_ns() + 1000000000u;
    for (int i = 0; i < p->nreplicas; i++) {
        replica *r = p->replicas[i];
        if (!r->pid) continue;
        struct pollfd pfd = {.fd = r->pidfd, .events = POLLIN};
        uint64_t now = wagi_now_ns();
        int wait_ms = now < deadline ? (int)((deadline - now) / 1000000u) : 0;
        if (r->pidfd < 0 || poll(&pfd, 1, wait_ms) <= 0) kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
    }
    for (int i = 0; i < p->nreplicas; i++) replica_free_parts(p->replicas[i]);
    if (p->tick) event_free(p->tick);
    if (p->flush) event_free(p->flush);
    free(p->back_buf);
    direct_area_free(p->area);
    free(p->replicas);
    free(p);
}
