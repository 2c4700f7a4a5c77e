/*
 * front.c — TLS in front of an http_server (front.h).
 *
 * Each TLS connection is an OpenSSL bufferevent on the client's socket
 * and a plain bufferevent on one end of a socket pair whose other end the
 * HTTP server reads as if it were the client. Bytes are moved between
 * the two as they come; when one side's output grows past RELAY_HIGH the
 * other side stops being read until it drains, so a slow reader holds
 * back its writer instead of filling memory.
 */
#include "tls/front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/log.h"

#define HANDSHAKE_TIMEOUT_S 10
#define RELAY_HIGH (256 * 1024)
#define IDENTITY_MAX 280

typedef struct waiting waiting;
typedef struct relay relay;

struct tls_front {
    struct event_base *base;
    http_server *http;
    tls_front_config config;
    tls_files cluster_files, public_files;
    bool has_cluster, has_public;
    char cluster_sni[128];
    char name[32];
    SSL_CTX *cluster_ctx, *public_ctx;
    int listen_fd;
    struct event *accept_ev, *reload_ev;
    waiting *waitings;
    relay *relays;
    unsigned long refused;
};

/* A connection whose first byte has not come yet. */
struct waiting {
    tls_front *f;
    int fd;
    struct event *ev;
    char peer[64];
    waiting *prev, *next;
};

/* A TLS connection: handshaking, then relayed to the HTTP server. */
struct relay {
    tls_front *f;
    struct bufferevent *tls, *plain;
    bool tls_done, plain_done; /* that side ended: nothing more comes from it */
    char peer[64];
    relay *prev, *next;
};

#define LINK(head, x) ((x)->next = (head), (x)->prev = NULL, (head) ? (void)((head)->prev = (x)) : (void)0, (head) = (x))
#define UNLINK(head, x)                                                                                               \
    ((x)->prev ? (void)((x)->prev->next = (x)->next) : (void)((head) = (x)->next),                                    \
     (x)->next ? (void)((x)->next->prev = (x)->prev) : (void)0)

/* ------------------------------------------------------------ contexts */

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    tls_front *f = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    bool internal = f->cluster_sni[0] && name && !strcmp(name, f->cluster_sni);
    if (internal && f->cluster_ctx) {
        SSL_set_SSL_CTX(ssl, f->cluster_ctx);
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(f->cluster_ctx), NULL);
        return SSL_TLSEXT_ERR_OK;
    }
    if (f->public_ctx || !f->cluster_sni[0]) return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* only the cluster identity here, and not asked for */
}

/* (Re)build the contexts whose files changed; an identity that does not
 * load keeps the context it had (and says why). */
static void reload(tls_front *f, bool first, char *why, size_t whylen, bool *ok)
{
    *ok = true;
    if (f->has_cluster && tls_files_changed(&f->cluster_files)) {
        char err[512];
        SSL_CTX *ctx = tls_ctx_server(&f->cluster_files, f->config.cluster_check, err, sizeof err);
        if (ctx) {
            SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
            SSL_CTX_set_tlsext_servername_arg(ctx, f);
            SSL_CTX_free(f->cluster_ctx);
            f->cluster_ctx = ctx;
            if (!first) log_json(LOG_INFO, "certificate reloaded", json_pack("{s:s,s:s}", "listener", f->name, "certificate", f->cluster_files.cert));
        } else {
            if (first) snprintf(why, whylen, "%s", err), *ok = false;
            else log_json(LOG_ERROR, "cannot reload the certificate", json_pack("{s:s,s:s}", "listener", f->name, "reason", err));
        }
    }
    if (f->has_public && tls_files_changed(&f->public_files)) {
        char err[512];
        bool present = access(f->public_files.cert, F_OK) == 0;
        SSL_CTX *ctx = present ? tls_ctx_server(&f->public_files, TLS_PEER_NONE, err, sizeof err) : NULL;
        if (ctx) {
            SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
            SSL_CTX_set_tlsext_servername_arg(ctx, f);
            SSL_CTX_free(f->public_ctx);
            f->public_ctx = ctx;
            log_json(LOG_INFO, "HTTPS certificate loaded", json_pack("{s:s,s:s}", "listener", f->name, "certificate", f->public_files.cert));
        } else if (present) {
            if (first) snprintf(why, whylen, "%s", err), *ok = false;
            else log_json(LOG_ERROR, "cannot load the HTTPS certificate", json_pack("{s:s,s:s}", "listener", f->name, "reason", err));
        }
    }
}

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bool ok;
    reload(arg, false, NULL, 0, &ok);
}

/* ------------------------------------------------------------ relaying */

static void relay_free(relay *r)
{
    UNLINK(r->f->relays, r);
    if (r->tls) bufferevent_free(r->tls);
    if (r->plain) bufferevent_free(r->plain);
    free(r);
}

/* Both sides ended, or one ended and what it sent has gone to the other. */
static void relay_check_end(relay *r)
{
    bool tls_flushed = !r->tls || evbuffer_get_length(bufferevent_get_output(r->tls)) == 0;
    bool plain_flushed = !r->plain || evbuffer_get_length(bufferevent_get_output(r->plain)) == 0;
    if ((r->plain_done && tls_flushed) || (r->tls_done && plain_flushed)) relay_free(r);
}

static void move(struct bufferevent *from, struct bufferevent *to)
{
    evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(from));
    if (evbuffer_get_length(bufferevent_get_output(to)) > RELAY_HIGH) bufferevent_disable(from, EV_READ);
}

static void on_tls_read(struct bufferevent *bev, void *arg)
{
    relay *r = arg;
    if (r->plain) move(bev, r->plain);
}

static void on_plain_read(struct bufferevent *bev, void *arg)
{
    relay *r = arg;
    move(bev, r->tls);
}

/* The output drained: read the other side again. */
static void on_tls_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    relay *r = arg;
    if (r->plain && !r->plain_done) bufferevent_enable(r->plain, EV_READ);
    relay_check_end(r);
}

static void on_plain_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    relay *r = arg;
    if (!r->tls_done) bufferevent_enable(r->tls, EV_READ);
    relay_check_end(r);
}

static void on_plain_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    relay *r = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        r->plain_done = true;
        relay_check_end(r);
    }
}

static void refused(relay *r, const char *reason)
{
    r->f->refused++;
    log_json(LOG_WARN, "TLS handshake refused", json_pack("{s:s,s:s,s:s}", "listener", r->f->name, "peer", r->peer,
                                                          "reason", reason));
}

/* The handshake is done: hand the connection to the HTTP server. */
static void connected(relay *r)
{
    SSL *ssl = bufferevent_openssl_get_ssl(r->tls);
    char identity[IDENTITY_MAX];
    tls_peer_identity(ssl, identity, sizeof identity);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair)) {
        relay_free(r);
        return;
    }
    if (http_server_adopt_as(r->f->http, pair[0], r->peer, identity)) {
        close(pair[1]);
        relay_free(r);
        return;
    }
    r->plain = bufferevent_socket_new(r->f->base, pair[1], BEV_OPT_CLOSE_ON_FREE);
    if (!r->plain) {
        close(pair[1]);
        relay_free(r);
        return;
    }
    bufferevent_set_timeouts(r->tls, NULL, NULL); /* the HTTP server's timeouts rule now */
    bufferevent_setcb(r->plain, on_plain_read, on_plain_written, on_plain_event, r);
    bufferevent_enable(r->plain, EV_READ | EV_WRITE);
    on_tls_read(r->tls, r);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
    relay *r = arg;
    if (what & BEV_EVENT_CONNECTED) {
        connected(r);
        return;
    }
    if (!r->plain) {
        /* Still in the handshake: say why it failed. */
        unsigned long e = bufferevent_get_openssl_error(bev);
        char reason[256] = "the client left or was too slow";
        if (e) ERR_error_string_n(e, reason, sizeof reason);
        else if (what & BEV_EVENT_ERROR) snprintf(reason, sizeof reason, "%s", strerror(EVUTIL_SOCKET_ERROR()));
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        if (verify != X509_V_OK) snprintf(reason, sizeof reason, "client certificate: %s", X509_verify_cert_error_string(verify));
        while (bufferevent_get_openssl_error(bev)) continue;
        refused(r, reason);
        relay_free(r);
        return;
    }
    while (bufferevent_get_openssl_error(bev)) continue;
    r->tls_done = true;
    relay_check_end(r);
}

static void start_tls(tls_front *f, int fd, const char *peer)
{
    SSL_CTX *ctx = f->public_ctx ? f->public_ctx : f->cluster_ctx;
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    relay *r = ssl ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        SSL_free(ssl);
        close(fd);
        if (!ctx) f->refused++;
        return;
    }
    r->f = f;
    snprintf(r->peer, sizeof r->peer, "%s", peer);
    r->tls = bufferevent_openssl_socket_new(f->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!r->tls) {
        SSL_free(ssl);
        close(fd);
        free(r);
        return;
    }
    LINK(f->relays, r);
    bufferevent_openssl_set_allow_dirty_shutdown(r->tls, 1);
    struct timeval t = {HANDSHAKE_TIMEOUT_S, 0};
    bufferevent_set_timeouts(r->tls, &t, &t);
    bufferevent_setcb(r->tls, on_tls_read, on_tls_written, on_tls_event, r);
    bufferevent_enable(r->tls, EV_READ | EV_WRITE);
}

/* ------------------------------------------------------------ accepting */

static void waiting_free(waiting *w, bool close_fd)
{
    UNLINK(w->f->waitings, w);
    event_free(w->ev);
    if (close_fd) close(w->fd);
    free(w);
}

static void refuse_plain(int fd)
{
    static const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                                 "Content-Length: 38\r\n\r\nthis port speaks HTTPS (TLS 1.3) only\n";
    ssize_t n = send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL);
    (void)n;
    shutdown(fd, SHUT_WR);
}

static void on_first_byte(evutil_socket_t fd, short what, void *arg)
{
    waiting *w = arg;
    tls_front *f = w->f;
    if (what & EV_TIMEOUT) {
        waiting_free(w, true);
        return;
    }
    unsigned char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        waiting_free(w, true);
        return;
    }
    char peer[64];
    snprintf(peer, sizeof peer, "%s", w->peer);
    waiting_free(w, false);
    if (b == 0x16) { /* a TLS handshake record */
        start_tls(f, fd, peer);
    } else if (f->config.plain) {
        http_server_adopt(f->http, fd, peer);
    } else {
        f->refused++;
        refuse_plain(fd);
        close(fd);
    }
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    tls_front *f = arg;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or out of descriptors: the next readiness tries again */
        waiting *w = calloc(1, sizeof *w);
        if (!w || !(w->ev = event_new(f->base, fd, EV_READ | EV_PERSIST, on_first_byte, w))) {
            free(w);
            close(fd);
            continue;
        }
        w->f = f;
        w->fd = fd;
        http_peer_text(&ss, w->peer, sizeof w->peer);
        LINK(f->waitings, w);
        struct timeval t = {HANDSHAKE_TIMEOUT_S, 0};
        event_add(w->ev, &t);
    }
}

/* ------------------------------------------------------------ the front */

tls_front *tls_front_new(struct event_base *base, http_server *http, const tls_front_config *config, char *why,
                         size_t whylen)
{
    tls_front *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    f->base = base;
    f->http = http;
    f->config = *config;
    f->listen_fd = -1;
    snprintf(f->name, sizeof f->name, "%s", config->name ? config->name : "tls");
    if (config->cluster) f->cluster_files = *config->cluster, f->has_cluster = true;
    if (config->public_id) f->public_files = *config->public_id, f->has_public = true;
    if (config->cluster_sni) snprintf(f->cluster_sni, sizeof f->cluster_sni, "%s", config->cluster_sni);
    f->config.cluster = f->config.public_id = NULL;
    f->config.cluster_sni = f->config.name = NULL;
    bool ok;
    reload(f, true, why, whylen, &ok);
    f->reload_ev = ok ? event_new(base, -1, EV_PERSIST, on_reload, f) : NULL;
    struct timeval second = {1, 0};
    if (!ok || !f->reload_ev || event_add(f->reload_ev, &second)) {
        if (ok) snprintf(why, whylen, "out of memory");
        tls_front_free(f);
        return NULL;
    }
    return f;
}

int tls_front_listen(tls_front *f, const char *address, uint16_t port, char *why, size_t whylen)
{
    int fd = http_listen_socket(address, port, why, whylen);
    if (fd < 0) return -1;
    f->listen_fd = fd;
    f->accept_ev = event_new(f->base, fd, EV_READ | EV_PERSIST, on_accept, f);
    if (!f->accept_ev || event_add(f->accept_ev, NULL)) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

void tls_front_drain(tls_front *f)
{
    if (!f) return;
    if (f->accept_ev) event_free(f->accept_ev), f->accept_ev = NULL;
    if (f->listen_fd >= 0) close(f->listen_fd), f->listen_fd = -1;
}

unsigned long tls_front_refused(const tls_front *f) { return f ? f->refused : 0; }

void tls_front_free(tls_front *f)
{
    if (!f) return;
    tls_front_drain(f);
    while (f->waitings) waiting_free(f->waitings, true);
    while (f->relays) relay_free(f->relays);
    if (f->reload_ev) event_free(f->reload_ev);
    SSL_CTX_free(f->cluster_ctx);
    SSL_CTX_free(f->public_ctx);
    free(f);
}
