/*
 * test_client.c — the cluster API client (src/cluster/client.h) against a
 * one-connection HTTP server on a thread here: what it sends (method,
 * path, token, body), what it keeps of the answer, streaming in pieces,
 * the "error" text of a refusal, and the why of a port where nothing
 * listens or a server that never answers; several masters' addresses,
 * failed over.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/client.h"

/* A server that reads one request and writes `answer` (then, if given,
 * `more` after a pause), or never answers when answer is NULL. */
typedef struct server {
    int listener;
    char address[64];
    const char *answer;
    const char *more;
    char request[65536];
    pthread_t thread;
} server;

static void *serve_one(void *arg)
{
    server *s = arg;
    int fd = accept(s->listener, NULL, NULL);
    if (fd < 0) return NULL;
    size_t got = 0;
    /* Read the head and, if announced, the body. */
    for (;;) {
        ssize_t n = read(fd, s->request + got, sizeof s->request - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        s->request[got] = 0;
        char *end = strstr(s->request, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strcasestr(s->request, "Content-Length:");
        size_t want = cl && cl < end ? (size_t)atol(cl + 15) : 0;
        if (got >= (size_t)(end + 4 - s->request) + want) break;
    }
    if (s->answer) {
        if (write(fd, s->answer, strlen(s->answer)) < 0) {}
        if (s->more) {
            usleep(100 * 1000);
            if (write(fd, s->more, strlen(s->more)) < 0) {}
        }
    } else {
        usleep(1500 * 1000);
    }
    close(fd);
    return NULL;
}

static void start(server *s, const char *answer, const char *more)
{
    memset(s, 0, sizeof *s);
    s->answer = answer, s->more = more;
    s->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->listener, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->listener, 4), 0);
    socklen_t len = sizeof a;
    getsockname(s->listener, (struct sockaddr *)&a, &len);
    snprintf(s->address, sizeof s->address, "127.0.0.1:%u", ntohs(a.sin_port));
    assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void stop(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listener);
}

static void test_call_sends_and_keeps(void **state)
{
    (void)state;
    server s;
    start(&s, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
              "Connection: close\r\n\r\n{\"digest\":\"ab\"}\n", NULL);
    api_reply r;
    char why[256];
    static const char body[] = "tar bytes";
    assert_true(api_call(s.address, "POST", "/v1/bundles", "s3cret", "application/x-tar", body, 9, 5000, &r, why,
                         sizeof why));
    stop(&s);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 16);
    assert_string_equal(r.body, "{\"digest\":\"ab\"}\n");
    api_reply_free(&r);
    assert_non_null(strstr(s.request, "POST /v1/bundles HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\nAuthorization: Bearer s3cret\r\n"));
    assert_non_null(strstr(s.request, "\r\nContent-Type: application/x-tar\r\n"));
    assert_null(strcasestr(s.request, "Expect:"));
    assert_non_null(strstr(s.request, "\r\n\r\ntar bytes"));
}

static void test_delete_and_error_text(void **state)
{
    (void)state;
    server s;
    start(&s, "HTTP/1.1 404 Not Found\r\nContent-Length: 29\r\nConnection: close\r\n\r\n"
              "{\"error\":\"no app named web\"}\n", NULL);
    api_reply r;
    char why[256], text[128];
    assert_true(api_call(s.address, "DELETE", "/v1/apps/web", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    stop(&s);
    assert_non_null(strstr(s.request, "DELETE /v1/apps/web HTTP/1.1\r\n"));
    assert_null(strstr(s.request, "Authorization"));
    assert_int_equal(r.status, 404);
    assert_string_equal(api_error(&r, text, sizeof text), "no app named web");
    api_reply_free(&r);
    /* Not JSON: the first line; nothing: the status. */
    api_reply plain = {.status = 502, .body = "Bad Gateway\nmore", .len = 16};
    assert_string_equal(api_error(&plain, text, sizeof text), "Bad Gateway");
    api_reply none = {.status = 500};
    assert_string_equal(api_error(&none, text, sizeof text), "HTTP 500");
}

static bool collect(const char *data, size_t len, void *arg)
{
    strncat(arg, data, len);
    return true;
}

static void test_stream_pieces(void **state)
{
    (void)state;
    server s;
    start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              "6\r\nline1\n\r\n",
          "6\r\nline2\n\r\n0\r\n\r\n");
    char got[256] = "", why[256];
    api_reply r;
    assert_true(api_stream(s.address, "GET", "/v1/apps/web/logs?follow=1", "t", 2000, collect, got, &r, why,
                           sizeof why));
    stop(&s);
    assert_int_equal(r.status, 200);
    assert_string_equal(got, "line1\nline2\n");
    assert_int_equal(r.len, 0);
    api_reply_free(&r);
}

static void test_stream_refusal_is_kept(void **state)
{
    (void)state;
    server s;
    start(&s, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
              "{\"error\":\"wrong token\"}\n", NULL);
    char got[256] = "", why[256], text[64];
    api_reply r;
    assert_true(api_stream(s.address, "GET", "/v1/apps/web/logs", "t", 2000, collect, got, &r, why, sizeof why));
    stop(&s);
    assert_int_equal(r.status, 401);
    assert_string_equal(got, "");
    assert_string_equal(api_error(&r, text, sizeof text), "wrong token");
    api_reply_free(&r);
}

static void test_nothing_listens(void **state)
{
    (void)state;
    /* A port that was free a moment ago. */
    server s;
    start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
    api_reply r;
    char why[256];
    assert_true(api_call(s.address, "GET", "/v1/health", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    api_reply_free(&r);
    stop(&s);
    assert_false(api_call(s.address, "GET", "/v1/health", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    char want[128];
    snprintf(want, sizeof want, "no answer from %s: connection refused", s.address);
    assert_string_equal(why, want);
    assert_null(r.body);
}

static void test_timeout(void **state)
{
    (void)state;
    server s;
    start(&s, NULL, NULL);
    api_reply r;
    char why[256];
    assert_false(api_call(s.address, "GET", "/v1/health", NULL, NULL, NULL, 0, 300, &r, why, sizeof why));
    stop(&s);
    assert_non_null(strstr(why, ": no answer within 300 ms"));
}

/* Several masters: past one where nothing listens and one that answers
 * 503 (no leader yet) to the one that answers; then the one that
 * answered is asked first. */
static void test_several_masters_fail_over(void **state)
{
    (void)state;
    server dead, busy, good;
    start(&dead, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
    api_reply r;
    char why[256], list[256];
    assert_true(api_call(dead.address, "GET", "/", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    api_reply_free(&r);
    stop(&dead);
    start(&busy, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
                 "{\"error\":\"no leader\"}\n", NULL);
    start(&good, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n", NULL);
    snprintf(list, sizeof list, "%s,%s,%s", dead.address, busy.address, good.address);
    assert_true(api_call(list, "POST", "/v1/apps/web/scale", "t", "application/json", "{}", 2, 5000, &r, why,
                         sizeof why));
    stop(&busy);
    stop(&good);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    api_reply_free(&r);
    assert_non_null(strstr(busy.request, "POST /v1/apps/web/scale HTTP/1.1\r\n"));
    assert_non_null(strstr(good.request, "POST /v1/apps/web/scale HTTP/1.1\r\n"));
    /* The one that answered comes first now: nothing else is asked. */
    start(&good, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", NULL);
    snprintf(list, sizeof list, "%s,%s", dead.address, good.address);
    assert_true(api_call(list, "GET", "/v1/health", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    stop(&good);
    assert_int_equal(r.status, 204);
    api_reply_free(&r);
}

/* Every master down: the call fails once its time is up, saying why. */
static void test_several_masters_all_down(void **state)
{
    (void)state;
    server a, b;
    start(&a, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
    start(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
    api_reply r;
    char why[256], list[160];
    assert_true(api_call(a.address, "GET", "/", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    api_reply_free(&r);
    assert_true(api_call(b.address, "GET", "/", NULL, NULL, NULL, 0, 5000, &r, why, sizeof why));
    api_reply_free(&r);
    stop(&a);
    stop(&b);
    snprintf(list, sizeof list, "%s,%s", a.address, b.address);
    assert_false(api_call(list, "GET", "/v1/health", NULL, NULL, NULL, 0, 700, &r, why, sizeof why));
    assert_non_null(strstr(why, "connection refused"));
    assert_null(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_sends_and_keeps),
        cmocka_unit_test(test_delete_and_error_text),
        cmocka_unit_test(test_stream_pieces),
        cmocka_unit_test(test_stream_refusal_is_kept),
        cmocka_unit_test(test_nothing_listens),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_several_masters_fail_over),
        cmocka_unit_test(test_several_masters_all_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
