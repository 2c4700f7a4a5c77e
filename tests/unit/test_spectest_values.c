/*
 * test_spectest_values.c — the spec-test runner's value handling
 * (tests/spectest/values.c): reading the scripts' bit-pattern strings,
 * NaN classes as the spec defines them, and result comparison. A mistake
 * here would make the spec tests pass or fail for the wrong reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../spectest/values.h"

static qv_val arg(const char *type, const char *value)
{
    qv_val v;
    char why[128] = "";
    if (spec_parse_arg(type, value, &v, why, sizeof why) != SPEC_PARSE_OK)
        fail_msg("%s \"%s\" should parse: %s", type, value ? value : "(none)", why);
    return v;
}

static spec_expected expected(const char *type, const char *value)
{
    spec_expected e;
    char why[128] = "";
    if (spec_parse_expected(type, value, &e, why, sizeof why) != SPEC_PARSE_OK)
        fail_msg("expected %s \"%s\" should parse: %s", type, value ? value : "(none)", why);
    return e;
}

static void parses_bit_patterns(void **state)
{
    (void)state;
    qv_val v = arg("i32", "4294967295");
    assert_int_equal(v.type, QV_I32);
    assert_int_equal(v.of.i32, -1);
    v = arg("i32", "2147483648");
    assert_int_equal(v.of.i32, INT32_MIN);
    v = arg("i64", "18446744073709551615");
    assert_int_equal(v.type, QV_I64);
    assert_true(v.of.i64 == -1);
    v = arg("f32", "2143289344");
    assert_int_equal(v.type, QV_F32);
    assert_int_equal(v.of.f32_bits, 0x7FC00000u);
    v = arg("f64", "9221120237041090560");
    assert_int_equal(v.type, QV_F64);
    assert_true(v.of.f64_bits == 0x7FF8000000000000ull);
}

static void parses_references(void **state)
{
    (void)state;
    qv_val v = arg("externref", "0");
    assert_int_equal(v.type, QV_EXTERNREF);
    assert_ptr_equal(v.of.externref, spec_externref(0));
    assert_non_null(v.of.externref); /* (ref.extern 0) is not null */
    assert_ptr_not_equal(arg("externref", "1").of.externref, v.of.externref);
    assert_null(arg("externref", "null").of.externref);
    v = arg("funcref", "null");
    assert_int_equal(v.type, QV_FUNCREF);
    assert_null(v.of.funcref);
}

static void rejects_malformed_values(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"i32", "4294967296"},           {"i32", "-1"},  {"i32", " 1"}, {"i32", "1x"}, {"i32", ""},
        {"i64", "18446744073709551616"}, {"f32", "0x1"}, {"f32", NULL}, {"i33", "1"},  {NULL, "1"},
        {"funcref", "0"}, /* a script cannot name a function of ours */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qv_val v;
        char why[128] = "";
        if (spec_parse_arg(bad[i][0], bad[i][1], &v, why, sizeof why) != SPEC_PARSE_ERROR)
            fail_msg("%s \"%s\" should be rejected", bad[i][0] ? bad[i][0] : "(no type)",
                     bad[i][1] ? bad[i][1] : "(none)");
        assert_true(why[0] != '\0'); /* the error says what is wrong */
    }
    spec_expected e;
    char why[128];
    assert_int_equal(spec_parse_expected("i32", "nan:canonical", &e, why, sizeof why), SPEC_PARSE_ERROR);
    assert_int_equal(spec_parse_expected("i64", NULL, &e, why, sizeof why), SPEC_PARSE_ERROR);
}

static void v128_is_unsupported_not_an_error(void **state)
{
    (void)state;
    qv_val v;
    spec_expected e;
    char why[128];
    assert_int_equal(spec_parse_arg("v128", "0", &v, why, sizeof why), SPEC_PARSE_UNSUPPORTED);
    assert_int_equal(spec_parse_expected("v128", "0", &e, why, sizeof why), SPEC_PARSE_UNSUPPORTED);
}

static void classifies_f32_nans(void **state)
{
    (void)state;
    assert_int_equal(spec_classify_f32(0x7FC00000u), SPEC_NAN_CANONICAL);
    assert_int_equal(spec_classify_f32(0xFFC00000u), SPEC_NAN_CANONICAL); /* either sign */
    assert_int_equal(spec_classify_f32(0x7FC00001u), SPEC_NAN_ARITHMETIC);
    assert_int_equal(spec_classify_f32(0xFFFFFFFFu), SPEC_NAN_ARITHMETIC);
    assert_int_equal(spec_classify_f32(0x7F800001u), SPEC_NAN_SIGNALING);
    assert_int_equal(spec_classify_f32(0x7FA00000u), SPEC_NAN_SIGNALING);
    assert_int_equal(spec_classify_f32(0x7F800000u), SPEC_NOT_NAN); /* +inf */
    assert_int_equal(spec_classify_f32(0xFF800000u), SPEC_NOT_NAN); /* -inf */
    assert_int_equal(spec_classify_f32(0x3F800000u), SPEC_NOT_NAN);
    assert_int_equal(spec_classify_f32(0x00400000u), SPEC_NOT_NAN); /* a subnormal */
}

static void classifies_f64_nans(void **state)
{
    (void)state;
    assert_int_equal(spec_classify_f64(0x7FF8000000000000ull), SPEC_NAN_CANONICAL);
    assert_int_equal(spec_classify_f64(0xFFF8000000000000ull), SPEC_NAN_CANONICAL);
    assert_int_equal(spec_classify_f64(0x7FF8000000000001ull), SPEC_NAN_ARITHMETIC);
    assert_int_equal(spec_classify_f64(0x7FF0000000000001ull), SPEC_NAN_SIGNALING);
    assert_int_equal(spec_classify_f64(0x7FF4000000000000ull), SPEC_NAN_SIGNALING);
    assert_int_equal(spec_classify_f64(0x7FF0000000000000ull), SPEC_NOT_NAN);
    /* The f32 quiet bit means nothing in an f64. */
    assert_int_equal(spec_classify_f64(0x7FF0000000400000ull), SPEC_NAN_SIGNALING);
    assert_int_equal(spec_classify_f64(0x0008000000000000ull), SPEC_NOT_NAN);
}

static void matches_nan_expectations(void **state)
{
    (void)state;
    spec_expected canonical = expected("f32", "nan:canonical");
    spec_expected arithmetic = expected("f32", "nan:arithmetic");
    qv_val quiet = qv_f32_bits(0xFFC00000u), payload = qv_f32_bits(0x7FE00000u), signaling = qv_f32_bits(0x7FA00000u);
    assert_true(spec_expected_matches(&canonical, &quiet));
    assert_false(spec_expected_matches(&canonical, &payload));
    assert_false(spec_expected_matches(&canonical, &signaling));
    assert_true(spec_expected_matches(&arithmetic, &quiet));
    assert_true(spec_expected_matches(&arithmetic, &payload));
    assert_false(spec_expected_matches(&arithmetic, &signaling));
    qv_val one = qv_f32_bits(0x3F800000u);
    assert_false(spec_expected_matches(&arithmetic, &one));
    /* An f64 canonical NaN is not an f32 result. */
    qv_val f64nan = qv_f64_bits(0x7FF8000000000000ull);
    assert_false(spec_expected_matches(&canonical, &f64nan));
    spec_expected canonical64 = expected("f64", "nan:canonical");
    assert_true(spec_expected_matches(&canonical64, &f64nan));
}

static void compares_floats_by_bits(void **state)
{
    (void)state;
    spec_expected zero = expected("f32", "0");
    qv_val plus = qv_f32_bits(0), minus = qv_f32_bits(0x80000000u);
    assert_true(spec_expected_matches(&zero, &plus));
    assert_false(spec_expected_matches(&zero, &minus)); /* -0.0 == 0.0 in C, not here */
    spec_expected nan = expected("f64", "9221120237041090561");
    qv_val same = qv_f64_bits(0x7FF8000000000001ull), other = qv_f64_bits(0x7FF8000000000002ull);
    assert_true(spec_expected_matches(&nan, &same)); /* NaN != NaN in C, not here */
    assert_false(spec_expected_matches(&nan, &other));
}

static void compares_types_and_integers(void **state)
{
    (void)state;
    spec_expected minus_one = expected("i32", "4294967295");
    qv_val i32 = qv_i32(-1), i64 = qv_i64(0xFFFFFFFF), f32 = qv_f32_bits(0xFFFFFFFFu);
    assert_true(spec_expected_matches(&minus_one, &i32));
    assert_false(spec_expected_matches(&minus_one, &i64));
    assert_false(spec_expected_matches(&minus_one, &f32));
    qv_val zero = qv_i32(0);
    assert_false(spec_expected_matches(&minus_one, &zero));
}

static void compares_references(void **state)
{
    (void)state;
    qv_func *some_func = (qv_func *)(uintptr_t)0x1000;
    qv_val null_func = qv_funcref(NULL), func = qv_funcref(some_func);
    spec_expected want_null = expected("funcref", "null"), want_func = expected("funcref", "0");
    assert_true(spec_expected_matches(&want_null, &null_func));
    assert_false(spec_expected_matches(&want_null, &func));
    assert_true(spec_expected_matches(&want_func, &func));
    assert_false(spec_expected_matches(&want_func, &null_func));

    spec_expected ext1 = expected("externref", "1"), any_ext = expected("externref", NULL);
    qv_val got1 = qv_externref(spec_externref(1)), got2 = qv_externref(spec_externref(2)), null_ext = qv_externref(NULL);
    assert_true(spec_expected_matches(&ext1, &got1));
    assert_false(spec_expected_matches(&ext1, &got2));
    assert_false(spec_expected_matches(&ext1, &null_ext));
    assert_true(spec_expected_matches(&any_ext, &got2));
    assert_false(spec_expected_matches(&any_ext, &null_ext));
    /* A null externref is not a null funcref. */
    assert_false(spec_expected_matches(&want_null, &null_ext));
}

static void formats_values_for_messages(void **state)
{
    (void)state;
    char buf[128];
    qv_val v = qv_i32(-1);
    spec_format_value(&v, buf, sizeof buf);
    assert_string_equal(buf, "i32:4294967295 (-1)");
    v = qv_f32_bits(0x3F800000u);
    spec_format_value(&v, buf, sizeof buf);
    assert_string_equal(buf, "f32:1065353216 (1)");
    v = qv_f32_bits(0xFFC00001u);
    spec_format_value(&v, buf, sizeof buf);
    assert_string_equal(buf, "f32:4290772993 (-nan 0xffc00001)");
    v = qv_externref(spec_externref(7));
    spec_format_value(&v, buf, sizeof buf);
    assert_string_equal(buf, "externref:7");
    spec_expected e = expected("f64", "nan:arithmetic");
    spec_format_expected(&e, buf, sizeof buf);
    assert_string_equal(buf, "f64:nan:arithmetic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_bit_patterns),
        cmocka_unit_test(parses_references),
        cmocka_unit_test(rejects_malformed_values),
        cmocka_unit_test(v128_is_unsupported_not_an_error),
        cmocka_unit_test(classifies_f32_nans),
        cmocka_unit_test(classifies_f64_nans),
        cmocka_unit_test(matches_nan_expectations),
        cmocka_unit_test(compares_floats_by_bits),
        cmocka_unit_test(compares_types_and_integers),
        cmocka_unit_test(compares_references),
        cmocka_unit_test(formats_values_for_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
