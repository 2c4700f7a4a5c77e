/*
 * test_reader.c — LEB128 and UTF-8 decoding at their edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "engine/reader.h"

static qe_reader reader(const uint8_t *bytes, size_t n)
{
    qe_reader r;
    qe_reader_init(&r, bytes, bytes, bytes + n);
    return r;
}

#define U32(expect_ok, expect, ...)                                                         \
    do {                                                                                    \
        const uint8_t b[] = {__VA_ARGS__};                                                  \
        qe_reader r = reader(b, sizeof b);                                                  \
        uint32_t v = qe_read_u32(&r);                                                       \
        assert_int_equal(r.ok, expect_ok);                                                  \
        if (expect_ok) assert_int_equal(v, expect);                                         \
    } while (0)

static void u32_values(void **state)
{
    (void)state;
    U32(true, 0, 0x00);
    U32(true, 127, 0x7F);
    U32(true, 128, 0x80, 0x01);
    U32(true, 0xFFFFFFFFu, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F);
    U32(true, 3, 0x83, 0x80, 0x80, 0x80, 0x00);       /* padded to 5 bytes */
    U32(false, 0, 0x83, 0x80, 0x80, 0x80, 0x80, 0x00); /* 6 bytes: too long */
    U32(false, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F);       /* unused bits set */
    U32(false, 0, 0x80);                               /* truncated */
}

static void u32_errors_name_the_problem(void **state)
{
    (void)state;
    const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    qe_reader r = reader(too_long, sizeof too_long);
    qe_read_u32(&r);
    assert_string_equal(r.err, "integer representation too long");
    const uint8_t too_large[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x10};
    r = reader(too_large, sizeof too_large);
    qe_read_u32(&r);
    assert_string_equal(r.err, "integer too large");
    assert_int_equal(r.err_offset, sizeof too_large); /* after the last byte read */
}

#define S32(expect_ok, expect, ...)                                                         \
    do {                                                                                    \
        const uint8_t b[] = {__VA_ARGS__};                                                  \
        qe_reader r = reader(b, sizeof b);                                                  \
        int32_t v = qe_read_s32(&r);                                                        \
        assert_int_equal(r.ok, expect_ok);                                                  \
        if (expect_ok) assert_int_equal(v, expect);                                         \
    } while (0)

static void s32_values(void **state)
{
    (void)state;
    S32(true, -1, 0x7F);
    S32(true, 63, 0x3F);
    S32(true, -64, 0x40);
    S32(true, INT32_MIN, 0x80, 0x80, 0x80, 0x80, 0x78);
    S32(true, INT32_MAX, 0xFF, 0xFF, 0xFF, 0xFF, 0x07);
    S32(true, -1, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F);   /* padded negative */
    S32(false, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x4F);   /* sign bits disagree */
    S32(false, 0, 0x80, 0x80, 0x80, 0x80, 0x08);   /* positive overflow */
}

static void s64_and_s33(void **state)
{
    (void)state;
    const uint8_t min64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F};
    qe_reader r = reader(min64, sizeof min64);
    assert_true(qe_read_s64(&r) == INT64_MIN);
    assert_true(r.ok);
    const uint8_t bad64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x70};
    r = reader(bad64, sizeof bad64);
    qe_read_s64(&r);
    assert_false(r.ok);
    const uint8_t s33[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x0F}; /* 2^32 - 1 fits in 33 bits */
    r = reader(s33, sizeof s33);
    assert_true(qe_read_s33(&r) == 0xFFFFFFFFll);
    assert_true(r.ok);
}

static void utf8(void **state)
{
    (void)state;
    assert_true(qe_utf8_valid((const uint8_t *)"plain", 5));
    assert_true(qe_utf8_valid((const uint8_t *)"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9));
    assert_false(qe_utf8_valid((const uint8_t *)"\xC0\x80", 2));         /* overlong NUL */
    assert_false(qe_utf8_valid((const uint8_t *)"\xED\xA0\x80", 3));     /* surrogate */
    assert_false(qe_utf8_valid((const uint8_t *)"\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xE2\x82", 2));         /* truncated */
    assert_false(qe_utf8_valid((const uint8_t *)"\x80", 1));             /* stray continuation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u32_values), cmocka_unit_test(u32_errors_name_the_problem),
        cmocka_unit_test(s32_values), cmocka_unit_test(s64_and_s33), cmocka_unit_test(utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
