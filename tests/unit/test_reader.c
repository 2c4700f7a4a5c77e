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

/* The reader named `r`, over the given bytes. */
#define READER(...)                                                                         \
    const uint8_t bytes_[] = {__VA_ARGS__};                                                 \
    qe_reader r = reader(bytes_, sizeof bytes_)

static void u64_values(void **state)
{
    (void)state;
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
        assert_true(qe_read_u64(&r) == UINT64_MAX);
        assert_true(r.ok && qe_reader_at_end(&r));
    }
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00); /* padded zero */
        assert_true(qe_read_u64(&r) == 0 && r.ok);
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02); /* bit 64 */
        qe_read_u64(&r);
        assert_string_equal(r.err, "integer too large");
    }
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
        qe_read_u64(&r);
        assert_string_equal(r.err, "integer representation too long");
        assert_int_equal(r.err_offset, 10);
    }
    {
        READER(0xFF, 0xFF);
        qe_read_u64(&r);
        assert_string_equal(r.err, "unexpected end of section or function");
    }
}

static void s33_values(void **state)
{
    (void)state;
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x70); /* -2^32 */
        assert_true(qe_read_s33(&r) == -4294967296ll && r.ok);
    }
    {
        READER(0x7F); /* -1: the one-byte form */
        assert_true(qe_read_s33(&r) == -1 && r.ok);
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0x7F); /* -1, padded */
        assert_true(qe_read_s33(&r) == -1 && r.ok);
    }
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x10); /* sign bit (bit 32) set, the bits above it clear */
        qe_read_s33(&r);
        assert_string_equal(r.err, "integer too large");
    }
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x60);
        qe_read_s33(&r);
        assert_string_equal(r.err, "integer too large");
    }
}

static void s64_values(void **state)
{
    (void)state;
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00);
        assert_true(qe_read_s64(&r) == INT64_MAX && r.ok);
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F);
        assert_true(qe_read_s64(&r) == -1 && r.ok);
    }
    {
        READER(0x40); /* -64 in one byte */
        assert_true(qe_read_s64(&r) == -64 && r.ok);
    }
    {
        READER(0xC0, 0xBB, 0x78); /* -123456 */
        assert_true(qe_read_s64(&r) == -123456 && r.ok);
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01); /* sign bits disagree */
        qe_read_s64(&r);
        assert_string_equal(r.err, "integer too large");
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F);
        qe_read_s64(&r);
        assert_string_equal(r.err, "integer representation too long");
    }
    {
        READER(0xC0);
        qe_read_s64(&r);
        assert_string_equal(r.err, "unexpected end of section or function");
    }
}

static void s32_edges(void **state)
{
    (void)state;
    S32(true, 0, 0x80, 0x80, 0x80, 0x80, 0x00);         /* padded zero */
    S32(true, -64, 0x40);
    S32(true, 64, 0xC0, 0x00);
    S32(false, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);   /* 6 bytes */
    S32(false, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x77);         /* negative overflow */
    S32(false, 0, 0xFF, 0xFF);                           /* truncated */
}

static void last_byte_checks_in_the_reference_order(void **state)
{
    (void)state;
    /* Unused bits set and a continuation bit on the last possible byte:
     * the unused bits are reported, as the reference decoder does. */
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00);
        qe_read_u32(&r);
        assert_string_equal(r.err, "integer too large");
    }
    {
        READER(0x80, 0x80, 0x80, 0x80, 0x8F, 0x00);
        qe_read_u32(&r);
        assert_string_equal(r.err, "integer representation too long");
    }
    {
        READER(0xFF, 0xFF, 0xFF, 0xFF, 0xCF, 0x00);
        qe_read_s32(&r);
        assert_string_equal(r.err, "integer too large");
    }
}

static void errors_stick(void **state)
{
    (void)state;
    /* After the first failure every read fails and returns 0, and the
     * first error is kept. */
    READER(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x05, 0x05, 0x05);
    qe_read_u32(&r);
    assert_false(r.ok);
    assert_int_equal(qe_read_u8(&r), 0);
    assert_int_equal(qe_read_u32(&r), 0);
    assert_null(qe_read_bytes(&r, 1));
    assert_false(qe_reader_fail(&r, "another"));
    assert_string_equal(r.err, "integer representation too long");
    assert_int_equal(r.err_offset, 5);
}

static void floats_and_bytes(void **state)
{
    (void)state;
    READER(0x00, 0x00, 0xC0, 0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xAA);
    assert_int_equal(qe_read_f32_bits(&r), 0x7FC00000u);
    assert_true(qe_read_f64_bits(&r) == 0x0807060504030201ull);
    assert_int_equal(qe_reader_offset(&r), 12);
    const uint8_t *p = qe_read_bytes(&r, 1);
    assert_non_null(p);
    assert_int_equal(*p, 0xAA);
    assert_true(qe_reader_at_end(&r));
    assert_null(qe_read_bytes(&r, 1));
    assert_string_equal(r.err, "unexpected end of section or function");
    {
        READER(0x00, 0x00, 0x80);
        assert_int_equal(qe_read_f32_bits(&r), 0);
        assert_false(r.ok);
        assert_int_equal(r.err_offset, 0);
    }
}

static void names(void **state)
{
    (void)state;
    uint32_t len = 99;
    {
        READER(0x03, 'a', 0x00, 'b', 0x07);
        const uint8_t *s = qe_read_name(&r, &len);
        assert_non_null(s);
        assert_int_equal(len, 3);
        assert_memory_equal(s, "a\0b", 3);
        assert_int_equal(qe_read_u8(&r), 7);
    }
    {
        READER(0x00);
        assert_non_null(qe_read_name(&r, &len));
        assert_int_equal(len, 0);
    }
    {
        /* Longer than the bytes left counted from the length field. */
        READER(0x05, 'a', 'b', 'c');
        assert_null(qe_read_name(&r, &len));
        assert_string_equal(r.err, "length out of bounds");
        assert_int_equal(r.err_offset, 0);
    }
    {
        /* Fits counted from the length field, not after it. */
        READER(0x04, 'a', 'b', 'c');
        assert_null(qe_read_name(&r, &len));
        assert_string_equal(r.err, "unexpected end of section or function");
    }
    {
        READER(0x02, 0xC3, 0x28);
        assert_null(qe_read_name(&r, &len));
        assert_string_equal(r.err, "malformed UTF-8 encoding");
        assert_int_equal(r.err_offset, 0);
    }
}

static void utf8_edges(void **state)
{
    (void)state;
    assert_true(qe_utf8_valid((const uint8_t *)"", 0));
    assert_true(qe_utf8_valid((const uint8_t *)"\x00\x7F", 2));
    assert_true(qe_utf8_valid((const uint8_t *)"\xC2\x80", 2));         /* U+0080 */
    assert_true(qe_utf8_valid((const uint8_t *)"\xDF\xBF", 2));         /* U+07FF */
    assert_true(qe_utf8_valid((const uint8_t *)"\xE0\xA0\x80", 3));     /* U+0800 */
    assert_true(qe_utf8_valid((const uint8_t *)"\xED\x9F\xBF", 3));     /* U+D7FF */
    assert_true(qe_utf8_valid((const uint8_t *)"\xEE\x80\x80", 3));     /* U+E000 */
    assert_true(qe_utf8_valid((const uint8_t *)"\xEF\xBF\xBF", 3));     /* U+FFFF */
    assert_true(qe_utf8_valid((const uint8_t *)"\xF0\x90\x80\x80", 4)); /* U+10000 */
    assert_true(qe_utf8_valid((const uint8_t *)"\xF4\x8F\xBF\xBF", 4)); /* U+10FFFF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xC1\xBF", 2));        /* overlong U+007F */
    assert_false(qe_utf8_valid((const uint8_t *)"\xE0\x9F\xBF", 3));    /* overlong U+07FF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xF0\x8F\xBF\xBF", 4)); /* overlong U+FFFF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xED\xBF\xBF", 3));    /* U+DFFF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xF5\x80\x80\x80", 4)); /* lead byte past U+10FFFF */
    assert_false(qe_utf8_valid((const uint8_t *)"\xF8\x88\x80\x80\x80", 5)); /* 5-byte form */
    assert_false(qe_utf8_valid((const uint8_t *)"\xFE", 1));
    assert_false(qe_utf8_valid((const uint8_t *)"\xC3\x28", 2));        /* missing continuation */
    assert_false(qe_utf8_valid((const uint8_t *)"\xF0\x90\x80", 3));    /* truncated at the end */
    assert_false(qe_utf8_valid((const uint8_t *)"a\xE2\x82", 3));
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
        cmocka_unit_test(u64_values), cmocka_unit_test(s33_values), cmocka_unit_test(s64_values),
        cmocka_unit_test(s32_edges), cmocka_unit_test(last_byte_checks_in_the_reference_order),
        cmocka_unit_test(errors_stick), cmocka_unit_test(floats_and_bytes), cmocka_unit_test(names),
        cmocka_unit_test(utf8_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
