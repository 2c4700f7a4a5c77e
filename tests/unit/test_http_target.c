/*
 * test_http_target.c — request targets: normalised paths (dot segments,
 * %2E), refused ones (%00, bad escapes, raw spaces, encoded-slash dot
 * segments, fragments), absolute-form, and the query kept as sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/http_target.h"

static char out[4096];

static void expect_path(const char *target, const char *path, const char *query)
{
    const char *p = NULL, *q = NULL;
    const char *why = http_target_parse(target, strlen(target), out, &p, &q);
    if (why) fail_msg("%s refused: %s", target, why);
    if (strcmp(p, path)) fail_msg("%s: path '%s', expected '%s'", target, p, path);
    if (strcmp(q, query)) fail_msg("%s: query '%s', expected '%s'", target, q, query);
}

static void expect_refused(const char *target, const char *why_part)
{
    const char *p, *q;
    const char *why = http_target_parse(target, strlen(target), out, &p, &q);
    if (!why) fail_msg("%s accepted as '%s'", target, p);
    if (!strstr(why, why_part)) fail_msg("%s: reason '%s' lacks '%s'", target, why, why_part);
}

static void test_plain_paths(void **state)
{
    (void)state;
    expect_path("/", "/", "");
    expect_path("/a/b", "/a/b", "");
    expect_path("/a/b/", "/a/b/", "");
    expect_path("/a//b", "/a//b", "");
    expect_path("/a%20b?x=1&y=%2F", "/a%20b", "x=1&y=%2F");
    expect_path("/a?", "/a", "");
    expect_path("/a?b?c", "/a", "b?c");
}

static void test_dot_segments(void **state)
{
    (void)state;
    expect_path("/a/./b", "/a/b", "");
    expect_path("/a/../b", "/b", "");
    expect_path("/a/b/../../c", "/c", "");
    expect_path("/../../x", "/x", "");
    expect_path("/..", "/", "");
    expect_path("/.", "/", "");
    expect_path("/a/..", "/", "");
    expect_path("/a/b/..", "/a/", "");
    expect_path("/a/.", "/a/", "");
    expect_path("/a/%2e%2E/b", "/b", "");
    expect_path("/a/%2e/b", "/a/b", "");
    expect_path("/a/..b/c", "/a/..b/c", "");
    expect_path("/a/.../c", "/a/.../c", "");
    expect_path("/env/../echo/x?q=/../", "/echo/x", "q=/../");
}

static void test_absolute_form(void **state)
{
    (void)state;
    expect_path("http://example.com/a/../b?q", "/b", "q");
    expect_path("HTTP://example.com", "/", "");
    expect_path("https://h:8443?x", "/", "x");
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("/a%00b", "NUL");
    expect_refused("/a%0", "hex digits");
    expect_refused("/a%zz", "hex digits");
    expect_refused("/a%", "hex digits");
    expect_refused("/a b", "space");
    expect_refused("/a\tb", "control");
    expect_refused("/a\x7f", "control");
    expect_refused("/caf\xc3\xa9", "non-ASCII");
    expect_refused("/a#frag", "fragment");
    expect_refused("/a?x#frag", "fragment");
    expect_refused("/a?x y", "query");
    expect_refused("a/b", "start with '/'");
    expect_refused("", "start with '/'");
    expect_refused("*", "asterisk");
    expect_refused("/a%2f..%2fb", "dot segment");
    expect_refused("/a%2F.", "dot segment");
    expect_refused("/a/%2e%2e%2Fb", "dot segment");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths),
        cmocka_unit_test(test_dot_segments),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
