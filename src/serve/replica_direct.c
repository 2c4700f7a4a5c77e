/*
 * replica_direct.c — see replica_direct.h.
 */
#include "serve/replica_direct.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/answer.h"
#include "serve/apps.h"
#include "serve/log.h"

/* How often a thread looks at what the front decided (serve or not). */
#define TICK_MS 50
/* Log lines are sent in batches of at most this much. */
#define LOG_BATCH ((size_t)32 << 10)

typedef struct direct_thread {
    replica_thread *t;
    const replica_direct *d;
    direct_slot *slot;
    int number;
    struct event_base *base;
    http_server *http;
    struct event *channel_ev, *tick_ev, *flush_ev;
    struct event *accept_ev, *retry_ev;
    bool accepting;            /* accept_ev is on */
    inbox in;
    wire_buf out;
    bool serving;              /* taking connections */
    uint64_t next_id;
    unsigned pid;              /* for request ids (getpid is a system call) */
    direct_routes_copy routes;
    const char *back_path;     /* the path of the request being handed back */
    char *back_buf;            /* a message from the front */
    struct event *back_ev;
    /* Held by the thread except while a guest runs: whoever holds it may
     * use the thread's loop and server (replica_direct_watch does, while
     * the thread is in a slow request). */
    pthread_mutex_t loop_lock;
    /* The watchdog's (replica_direct_watch). */
    uint64_t moved_for;        /* the request (its start) whose thread's
                                * other connections it moved */
    pid_t tid;                 /* the thread's, for its schedstat */
    int schedstat_fd;          /* -1: not open (yet, or cannot be) */
    uint64_t sampled_for;      /* the request its run-queue wait was read for */
    uint64_t waited_at_sample; /*   that wait then (ns) */
} direct_thread;

static const replica_direct *config; /* the process's (replica_direct_begin) */

/* ------------------------------------------------------------ log lines */

/* Each thread's lines, sent after the callbacks of a turn of its loop. */
static _Thread_local struct {
    direct_thread *dt;
    char *data;
    size_t len, cap;
} logs;

static void send_logs(void)
{
    if (!logs.len) return;
    ssize_t n;
    do n = send(config->back_fd, logs.data, logs.len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    logs.len = 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    send_logs();
}

static void log_to_front(log_level level, const char *app, const char *text)
{
    size_t app_len = strlen(app), text_len = strlen(text), need = 1 + app_len + 1 + text_len + 1;
    if (1 + need > DIRECT_MSG_MAX) return;
    if (logs.len && logs.len + need > LOG_BATCH) send_logs();
    if (logs.cap < 1 + logs.len + need) {
        size_t cap = 1 + logs.len + need > LOG_BATCH ? 1 + logs.len + need : LOG_BATCH + 1;
        char *grown = realloc(logs.data, cap);
        if (!grown) return;
        logs.data = grown, logs.cap = cap;
    }
    if (!logs.len) logs.data[logs.len++] = DIRECT_MSG_LOG;
    logs.data[logs.len++] = (char)level;
    memcpy(logs.data + logs.len, app, app_len + 1);
    logs.len += app_len + 1;
    memcpy(logs.data + logs.len, text, text_len + 1);
    logs.len += text_len + 1;
    if (logs.dt) event_active(logs.dt->flush_ev, EV_TIMEOUT, 0);
    else send_logs();
}

void replica_direct_begin(const replica_direct *d)
{
    config = d;
    log_set_sink(log_to_front);
}

/* ------------------------------------------------------------ handing back */

static bool is_control(const char *path)
{
    return !strncmp(path, "/_qyvol", 7) && (path[7] == '\0' || path[7] == '/');
}

/* Whether another app's route is a longer match for path than ours. */
static bool routed_elsewhere(direct_thread *dt, const char *path)
{
    const char *mine = dt->t->app->route;
    size_t mine_len = strlen(mine);
    direct_routes_read(dt->d->routes, &dt->routes);
    for (size_t at = 0; at < dt->routes.len;) {
        const char *route = dt->routes.text + at;
        size_t n = strnlen(route, dt->routes.len - at);
        if (n > mine_len && serve_route_matches(route, path)) return true;
        at += n + 1;
    }
    return false;
}

/* Requests this replica does not answer go back to the front. */
static bool wants_back(void *ctx, const http_request *r)
{
    direct_thread *dt = ctx;
    dt->back_path = r->path;
    return !atomic_load_explicit(&dt->d->shared->serve, memory_order_relaxed) || is_control(r->path) ||
           !serve_route_matches(dt->t->app->route, r->path) || routed_elsewhere(dt, r->path);
}

static void take_back(void *ctx, int fd, const char *peer, const void *bytes, size_t len)
{
    direct_thread *dt = ctx;
    if (!direct_send_conn(dt->d->back_fd, fd, peer, dt->back_path, bytes, len)) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
        (void)w;
        close(fd);
    }
}

/* Connections the front gives this replica (its app's, taken by another
 * app's replica): whichever thread reads one serves it. */
static void on_back(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    direct_thread *dt = arg;
    if (!dt->back_buf && !(dt->back_buf = malloc(DIRECT_MSG_MAX))) return;
    int passed;
    ssize_t n = direct_recv(dt->d->back_fd, dt->back_buf, &passed);
    if (n < 0) event_del(dt->back_ev);
    direct_conn_msg conn;
    if (passed >= 0 && n > 0 && direct_parse_conn(dt->back_buf, (size_t)n, &conn)) {
        http_server_adopt_input(dt->http, passed, conn.peer, conn.bytes, conn.len);
    } else if (passed >= 0) {
        close(passed);
    }
}

/* ------------------------------------------------------------ requests */

static void on_request(void *ctx, http_exchange *x, const http_request *r)
{
    direct_thread *dt = ctx;
    const serve_app *app = dt->t->app;
    uint64_t start = wagi_now_ns();
    char id[64];
    snprintf(id, sizeof id, "%s-%x.%x.%llx", dt->d->id_prefix, dt->pid, (unsigned)dt->number,
             (unsigned long long)++dt->next_id);
    guest_request g;
    if (!guest_request_make(&g, r, dt->d->address, dt->d->port)) {
        http_respond_text(x, 503, "out of memory");
        return;
    }
    atomic_store(&dt->slot->timeout_ms, app->rc.timeout_ms);
    atomic_store(&dt->slot->busy_since_ns, start);
    wagi_result res;
    /* The guest touches nothing of the loop: while it runs, the watchdog
     * may move this thread's other connections (replica_direct_watch). */
    pthread_mutex_unlock(&dt->loop_lock);
    wagi_run(app, &g.rq, app->rc.timeout_ms, &dt->t->slot, &res);
    pthread_mutex_lock(&dt->loop_lock);
    cgi_response cgi = {0};
    char why[600];
    wire_response resp;
    answer_of_run(&res, app->rc.timeout_ms, &cgi, &resp, why, sizeof why);
    /* The request's strings go with its answer: kept for the log. */
    bool logging = log_enabled(resp.status >= 500 || *why ? LOG_WARN : LOG_INFO) || resp.err_len;
    char *path = logging ? strdup(r->path) : NULL;
    const char *method = r->method;
    /* Counted before the client has it: a client that then reads the
     * metrics finds its request there. */
    uint64_t took = wagi_now_ns() - start;
    direct_record rec = {(uint16_t)resp.status, (uint8_t)resp.trap, resp.started, (float)((double)took / 1e9),
                         (float)(resp.started ? resp.instantiate_s : 0)};
    if (!direct_push(dt->slot, &rec)) atomic_fetch_add(&dt->d->shared->lost, 1);
    size_t bytes = answer_client(x, &resp, id);
    atomic_store(&dt->slot->busy_since_ns, 0);
    atomic_store(&dt->slot->slow, took > DIRECT_SLOW_NS);
    if (path) {
        char replica[24];
        answer_format_u64(replica, (unsigned long long)dt->d->index, 10);
        answer_log l = {app->name, replica, id, method, path, start};
        answer_log_lines(&l, &resp, bytes);
        free(path);
    }
    free((void *)resp.headers);
    cgi_response_free(&cgi);
    wagi_result_free(&res);
    guest_request_free(&g);
}

/* ------------------------------------------------------------ accepting */

/* Connections spread over the app's replica threads by count: every
 * thread is woken by a connection waiting, and the first to run would
 * take it; one that holds more than another leaves it to that one,
 * unless it is stuck in a request (or takes none). A thread whose last
 * request was slow takes none (direct.h). */
#define SIBLING_STUCK_NS (1000 * 1000u)
#define RETRY_US 1000

static bool may_accept(const direct_thread *dt)
{
    int mine = (int)http_server_connections(dt->http);
    const direct_routes *all = dt->d->routes;
    int total = atomic_load(&all->front_conns) + atomic_load(&all->replica_conns);
    if ((unsigned)total >= dt->d->limits.max_connections || atomic_load(&dt->slot->slow)) return false;
    uint64_t now = 0;
    for (int k = 0; k < DIRECT_AREA_REPLICAS; k++) {
        const direct_shared *sh = direct_area_at(dt->d->area, k);
        if (!atomic_load_explicit(&sh->serve, memory_order_relaxed)) continue;
        for (int i = 0; i < sh->nslots; i++) {
            const direct_slot *s = &sh->slots[i];
            if (s == dt->slot || !atomic_load(&s->seen_serve) || atomic_load(&s->slow) || atomic_load(&s->conns) >= mine)
                continue;
            uint64_t since = atomic_load(&s->busy_since_ns);
            if (since && (now ? now : (now = wagi_now_ns())) - since > SIBLING_STUCK_NS) continue;
            return false;
        }
    }
    return true;
}

static void set_accepting(direct_thread *dt, bool on)
{
    if (dt->accepting == on) return;
    dt->accepting = on;
    if (on) event_add(dt->accept_ev, NULL);
    else event_del(dt->accept_ev);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    direct_thread *dt = arg;
    if (!may_accept(dt)) {
        /* Look again soon: the sibling may not take it after all. */
        set_accepting(dt, false);
        struct timeval t = {0, RETRY_US};
        evtimer_add(dt->retry_ev, &t);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
        /* Out of descriptors, or the listener was shut: wait a moment. */
        set_accepting(dt, false);
        struct timeval t = {0, 100 * 1000};
        evtimer_add(dt->retry_ev, &t);
        return;
    }
    char peer[64];
    http_peer_text(&ss, peer, sizeof peer);
    http_server_adopt(dt->http, c, peer);
}

/* The thread's connections, as the front and the other threads see them. */
static void on_count(void *ctx, size_t n)
{
    direct_thread *dt = ctx;
    int before = atomic_exchange(&dt->slot->conns, (int)n);
    atomic_fetch_add(&dt->d->routes->replica_conns, (int)n - before);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    direct_thread *dt = arg;
    if (dt->serving) set_accepting(dt, true);
}

/* ------------------------------------------------------------ the loop */

static void on_channel(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    direct_thread *dt = arg;
    if (!replica_channel_turn(dt->t, &dt->in, &dt->out)) event_base_loopbreak(dt->base);
}

/* Act on what the front decided, and tell it what this thread holds. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    direct_thread *dt = arg;
    int serve = atomic_load(&dt->d->shared->serve);
    if (serve != dt->serving) {
        dt->serving = serve;
        set_accepting(dt, serve);
    }
    /* Stopped: idle connections go back to the front, which serves them
     * on (closing them would race with a request on its way, or one
     * just accepted and not read yet). */
    dt->back_path = "";
    if (!serve) http_server_divert_idle(dt->http);
    atomic_store(&dt->slot->seen_serve, serve);
}

void *replica_direct_arg(replica_thread *t, int number, const replica_direct *d)
{
    direct_thread *dt = calloc(1, sizeof *dt);
    if (!dt) return NULL;
    dt->t = t;
    dt->d = d;
    dt->number = number;
    dt->slot = &d->shared->slots[number];
    dt->pid = (unsigned)getpid();
    dt->schedstat_fd = -1;
    if (pthread_mutex_init(&dt->loop_lock, NULL)) {
        free(dt);
        return NULL;
    }
    return dt;
}

void replica_direct_arg_free(void *arg)
{
    direct_thread *dt = arg;
    if (!dt) return;
    pthread_mutex_destroy(&dt->loop_lock);
    if (dt->schedstat_fd >= 0) close(dt->schedstat_fd);
    free(dt);
}

/* ------------------------------------------------------------ slow requests */

/* How long the thread has waited for a CPU in all (ns; 0 when unknown):
 * a request that ran long because its thread was not given a CPU (the
 * machine is busy) is not slow, and moving its connections would not
 * help them. */
static uint64_t run_queue_wait(direct_thread *dt)
{
    if (dt->schedstat_fd == -1 && dt->tid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)dt->tid);
        dt->schedstat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (dt->schedstat_fd < 0) dt->schedstat_fd = -2; /* not there: wall time only */
    }
    char text[96];
    ssize_t n = dt->schedstat_fd >= 0 ? pread(dt->schedstat_fd, text, sizeof text - 1, 0) : -1;
    if (n <= 0) return 0;
    text[n] = '\0';
    unsigned long long ran_ns, waited_ns;
    return sscanf(text, "%llu %llu", &ran_ns, &waited_ns) == 2 ? waited_ns : 0;
}

/* A request seen running a millisecond or more (a quick one is seldom
 * seen at all): from then on, its time waiting for a CPU is left out. */
#define SAMPLE_AFTER_NS (1000 * 1000u)

void replica_direct_watch(void *arg, uint64_t now_ns)
{
    direct_thread *dt = arg;
    uint64_t since = atomic_load(&dt->slot->busy_since_ns);
    if (!since || now_ns < since + SAMPLE_AFTER_NS || since == dt->moved_for) return;
    if (dt->sampled_for != since) {
        dt->sampled_for = since;
        dt->waited_at_sample = run_queue_wait(dt);
        return;
    }
    if (now_ns < since + DIRECT_SLOW_NS) return;
    uint64_t waited = run_queue_wait(dt) - dt->waited_at_sample;
    if (waited > now_ns - since || now_ns - since - waited < DIRECT_SLOW_NS) return;
    /* Taken only while the thread runs a guest (it holds the lock
     * everywhere else): its loop and server are ours until it returns,
     * as if it moved them itself from inside the request. */
    if (pthread_mutex_trylock(&dt->loop_lock)) return;
    if (dt->http && atomic_load(&dt->slot->busy_since_ns) == since) {
        dt->moved_for = since;
        /* Connections idle or with a request waiting in the kernel go
         * back to the front, which gives them to a free thread (or
         * serves them itself): their requests do not wait behind this
         * one. The connection of the slow request stays (its answer
         * comes from here); so does one in the middle of a head. */
        dt->back_path = "";
        http_server_divert_idle(dt->http);
    }
    pthread_mutex_unlock(&dt->loop_lock);
}

void *replica_direct_thread(void *arg)
{
    direct_thread *dt = arg;
    pthread_mutex_lock(&dt->loop_lock);
    dt->tid = gettid();
    struct event_config *cfg = event_config_new();
    if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    dt->base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg) event_config_free(cfg);
    if (dt->base) dt->http = http_server_new(dt->base, &dt->d->limits, on_request, dt);
    if (dt->http) http_server_divert(dt->http, wants_back, take_back);
    if (dt->http) http_server_on_count(dt->http, on_count);
    struct timeval every = {0, TICK_MS * 1000};
    bool ok = dt->http != NULL;
    if (ok) {
        dt->channel_ev = event_new(dt->base, dt->t->fd, EV_READ | EV_PERSIST, on_channel, dt);
        dt->tick_ev = event_new(dt->base, -1, EV_PERSIST, on_tick, dt);
        dt->flush_ev = event_new(dt->base, -1, 0, on_flush, dt);
        dt->accept_ev = event_new(dt->base, dt->d->listen_fd, EV_READ | EV_PERSIST, on_accept, dt);
        dt->retry_ev = evtimer_new(dt->base, on_retry, dt);
        dt->back_ev = event_new(dt->base, dt->d->back_fd, EV_READ | EV_PERSIST, on_back, dt);
        ok = dt->channel_ev && dt->tick_ev && dt->flush_ev && dt->accept_ev && dt->retry_ev && dt->back_ev &&
             !event_add(dt->channel_ev, NULL) && !event_add(dt->tick_ev, &every) && !event_add(dt->back_ev, NULL);
    }
    if (ok) {
        logs.dt = dt;
        event_base_dispatch(dt->base);
        logs.dt = NULL;
        send_logs();
    } else {
        fprintf(stderr, "qyv replica: cannot take connections: out of memory\n");
    }
    http_server_free(dt->http); /* its connections close (counted): this replica is stopping */
    dt->http = NULL;
    atomic_store(&dt->slot->seen_serve, 0);
    if (dt->channel_ev) event_free(dt->channel_ev);
    if (dt->tick_ev) event_free(dt->tick_ev);
    if (dt->flush_ev) event_free(dt->flush_ev);
    if (dt->accept_ev) event_free(dt->accept_ev);
    if (dt->retry_ev) event_free(dt->retry_ev);
    if (dt->back_ev) event_free(dt->back_ev);
    free(dt->back_buf);
    if (dt->base) event_base_free(dt->base);
    free(dt->in.data);
    wire_buf_free(&dt->out);
    free(logs.data);
    logs.data = NULL;
    close(dt->t->fd);
    /* dt stays for the watchdog: replica_direct_arg_free, once it stopped. */
    pthread_mutex_unlock(&dt->loop_lock);
    return NULL;
}
