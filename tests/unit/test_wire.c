/*
 * test_wire.c — the front <-> replica messages: what goes in comes out,
 * and a truncated, padded or lying message is refused, never read past.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/wire.h"

static const wagi_header request_headers[] = {{"Host", "example.com"}, {"X-Empty", ""}, {"Content-Type", "a/b"}};
static const char body[] = "binary\0body\xff";

static wire_request sample_request(void)
{
    return (wire_request){
        .rq = {.method = "POST", .path = "/echo/a%20b", .query = "x=1&y", .protocol = "HTTP/1.1",
               .host = "example.com", .server_name = "example.com", .server_port = "8080",
               .remote_addr = "127.0.0.1", .headers = request_headers, .nheaders = 3, .body = body,
               .body_len = sizeof body - 1},
        .timeout_ms = 30000,
        .health = false,
        .id = "abc-1",
    };
}

static void request_round_trip(void **state)
{
    (void)state;
    wire_buf b = {0};
    wire_request in = sample_request();
    assert_true(wire_request_encode(&b, &in));
    assert_int_equal(wire_length(b.data), b.len - 4);
    wire_request out;
    assert_true(wire_request_decode(b.data + 4, b.len - 4, &out));
    assert_string_equal(out.rq.method, "POST");
    assert_string_equal(out.rq.path, "/echo/a%20b");
    assert_string_equal(out.rq.query, "x=1&y");
    assert_string_equal(out.rq.remote_addr, "127.0.0.1");
    assert_string_equal(out.id, "abc-1");
    assert_int_equal(out.timeout_ms, 30000);
    assert_false(out.health);
    assert_int_equal(out.rq.nheaders, 3);
    assert_string_equal(out.rq.headers[1].name, "X-Empty");
    assert_string_equal(out.rq.headers[1].value, "");
    assert_string_equal(out.rq.headers[2].value, "a/b");
    assert_int_equal(out.rq.body_len, sizeof body - 1);
    assert_memory_equal(out.rq.body, body, sizeof body - 1);
    free((void *)out.rq.headers);
    wire_buf_free(&b);
}

static void response_round_trip(void **state)
{
    (void)state;
    const wagi_header h[] = {{"Content-Type", "text/plain"}, {"Set-Cookie", "a=b"}};
    wire_response in = {.status = 201, .why = "", .started = true, .trap = 0, .instantiate_s = 1.5e-5,
                        .run_s = 0.25, .headers = h, .nheaders = 2, .body = "hi\n", .body_len = 3,
                        .err = "oops\n", .err_len = 5};
    wire_buf b = {0};
    assert_true(wire_response_encode(&b, &in));
    wire_response out;
    assert_true(wire_response_decode(b.data + 4, b.len - 4, &out));
    assert_int_equal(out.status, 201);
    assert_true(out.started);
    assert_true(out.instantiate_s == 1.5e-5 && out.run_s == 0.25);
    assert_int_equal(out.nheaders, 2);
    assert_string_equal(out.headers[1].name, "Set-Cookie");
    assert_int_equal(out.body_len, 3);
    assert_memory_equal(out.body, "hi\n", 3);
    assert_int_equal(out.err_len, 5);
    free((void *)out.headers);
    /* Two messages back to back in one buffer, as a socket delivers them. */
    size_t first = b.len;
    in.status = 502;
    in.why = "bad output";
    assert_true(wire_response_encode(&b, &in));
    assert_int_equal(wire_length(b.data + first), b.len - first - 4);
    assert_true(wire_response_decode(b.data + first + 4, b.len - first - 4, &out));
    assert_int_equal(out.status, 502);
    assert_string_equal(out.why, "bad output");
    free((void *)out.headers);
    wire_buf_free(&b);
}

/* Every shorter prefix and a longer message are refused; so is a
 * message whose header count or a string length lies. */
static void malformed_refused(void **state)
{
    (void)state;
    wire_buf b = {0};
    wire_request in = sample_request();
    assert_true(wire_request_encode(&b, &in));
    const uint8_t *msg = b.data + 4;
    size_t len = b.len - 4;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, msg, n);
        wire_request out;
        assert_false(wire_request_decode(copy, n, &out));
        free(copy);
    }
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, msg, len);
    wire_request out;
    assert_false(wire_request_decode(longer, len + 1, &out));
    free(longer);
    /* Corrupt each byte in turn: decoding may succeed or fail, but must
     * stay within the message (ASan) and never claim more headers than fit. */
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, msg, len);
        copy[i] ^= 0xff;
        if (wire_request_decode(copy, len, &out)) {
            assert_true(out.rq.nheaders <= len / 10);
            free((void *)out.rq.headers);
        }
    }
    free(copy);
    wire_buf_free(&b);
}

static void response_status_checked(void **state)
{
    (void)state;
    wire_response in = {.status = 42, .why = "", .body = "", .err = ""};
    wire_buf b = {0};
    assert_true(wire_response_encode(&b, &in));
    wire_response out;
    assert_false(wire_response_decode(b.data + 4, b.len - 4, &out));
    wire_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_round_trip),
        cmocka_unit_test(response_round_trip),
        cmocka_unit_test(malformed_refused),
        cmocka_unit_test(response_status_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
