/*
 * test_money.c — exact rupee and paise parsing: every accepted form gives
 * the exact paise, every doubtful form is refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "money.h"

/* Parses s as rupees; asserts success and returns the paise. */
static int64_t rupees_ok(const char *s)
{
    int64_t p = 12345;
    const char *why = NULL;
    int rc = cd_money_parse_rupees(s, strlen(s), &p, &why);
    if (rc != 0)
        fail_msg("'%s' refused: %s", s, why);
    return p;
}

/* Asserts that s is refused as rupees with a reason containing want. */
static void rupees_bad(const char *s, const char *want)
{
    int64_t p = 777;
    const char *why = NULL;
    if (cd_money_parse_rupees(s, strlen(s), &p, &why) == 0)
        fail_msg("'%s' accepted as %lld paise", s, (long long)p);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("'%s': reason '%s' lacks '%s'", s, why, want);
    assert_int_equal(p, 777); /* output untouched on failure */
}

static void test_rupees_decimals(void **state)
{
    (void)state;
    assert_int_equal(rupees_ok("0"), 0);
    assert_int_equal(rupees_ok("10"), 1000);
    assert_int_equal(rupees_ok("10.1"), 1010);
    assert_int_equal(rupees_ok("10.10"), 1010);
    assert_int_equal(rupees_ok("10.01"), 1001);
    assert_int_equal(rupees_ok("1234.56"), 123456);
    assert_int_equal(rupees_ok("0.05"), 5);
    assert_int_equal(rupees_ok("0.00"), 0);
    /* zeros past the second decimal are notation (numeric(18,4) prints
     * 100.50 as 100.5000), not a fraction of a paisa */
    assert_int_equal(rupees_ok("100.5000"), 10050);
    assert_int_equal(rupees_ok("7.0000"), 700);
    assert_int_equal(rupees_ok("-0.050"), -5);
    assert_int_equal(rupees_ok("123.4500000000000000"), 12345);
    assert_true(rupees_ok("92233720368547758.0700") == INT64_MAX);
}

static void test_rupees_signs_and_zeros(void **state)
{
    (void)state;
    assert_int_equal(rupees_ok("-0.05"), -5);
    assert_int_equal(rupees_ok("+10"), 1000);
    assert_int_equal(rupees_ok("-1234.5"), -123450);
    assert_int_equal(rupees_ok("-0"), 0);
    assert_int_equal(rupees_ok("007.50"), 750);
    assert_int_equal(rupees_ok("000"), 0);
}

static void test_rupees_limits(void **state)
{
    (void)state;
    /* INT64_MAX paise = 92233720368547758.07 rupees. */
    assert_true(rupees_ok("92233720368547758.07") == INT64_MAX);
    assert_true(rupees_ok("-92233720368547758.08") == INT64_MIN);
    rupees_bad("92233720368547758.08", "out of range");
    rupees_bad("-92233720368547758.09", "out of range");
    rupees_bad("92233720368547759", "out of range");
    rupees_bad("99999999999999999999999", "out of range");
}

static void test_rupees_refused(void **state)
{
    (void)state;
    rupees_bad("12.345", "more than 2 decimals");
    rupees_bad("0.001", "more than 2 decimals");
    rupees_bad("12.3401", "more than 2 decimals");
    rupees_bad("12.3400001", "more than 2 decimals");
    rupees_bad("12.340a", "not a number");
    rupees_bad("12.340.0", "not a number");
    rupees_bad("92233720368547758.0800", "out of range");
    rupees_bad("", "empty");
    rupees_bad("-", "not a number");
    rupees_bad("+", "not a number");
    rupees_bad(".5", "no digit before");
    rupees_bad("5.", "no digit after");
    rupees_bad(".", "not a number");
    rupees_bad("1.2.3", "not a number");
    rupees_bad("1e3", "exponent");
    rupees_bad("1E3", "exponent");
    rupees_bad("1,000", "grouping");
    rupees_bad("1,000.00", "grouping");
    rupees_bad(" 10", "spaces");
    rupees_bad("10 ", "spaces");
    rupees_bad("1 000", "spaces");
    rupees_bad("abc", "not a number");
    rupees_bad("10abc", "not a number");
    rupees_bad("--5", "not a number");
    rupees_bad("0x10", "not a number");
    rupees_bad("Rs.10", "not a number");
    rupees_bad("NaN", "not a number");
    rupees_bad("inf", "not a number");
}

static void test_rupees_length_bounds(void **state)
{
    (void)state;
    /* The length is honoured: no reading past it, no NUL needed. */
    const char buf[] = {'1', '2', '.', '3', '4', '5'};
    int64_t p = 0;
    const char *why;
    assert_int_equal(cd_money_parse_rupees(buf, 5, &p, &why), 0);
    assert_int_equal(p, 1234);
    assert_int_equal(cd_money_parse_rupees(buf, 0, &p, &why), -1);
    assert_int_equal(cd_money_parse_rupees(NULL, 0, &p, &why), -1);
    /* A NUL inside the value is a bad character, not an end. */
    assert_int_equal(cd_money_parse_rupees("1\0" "2", 3, &p, &why), -1);
}

static void test_paise(void **state)
{
    (void)state;
    int64_t p;
    const char *why;
    assert_int_equal(cd_money_parse_paise("123456", 6, &p, &why), 0);
    assert_int_equal(p, 123456);
    assert_int_equal(cd_money_parse_paise("-50", 3, &p, &why), 0);
    assert_int_equal(p, -50);
    assert_int_equal(cd_money_parse_paise("+7", 2, &p, &why), 0);
    assert_int_equal(p, 7);
    assert_int_equal(cd_money_parse_paise("9223372036854775807", 19, &p, &why), 0);
    assert_true(p == INT64_MAX);
    assert_int_equal(cd_money_parse_paise("-9223372036854775808", 20, &p, &why), 0);
    assert_true(p == INT64_MIN);
    assert_int_equal(cd_money_parse_paise("9223372036854775808", 19, &p, &why), -1);
    assert_string_equal(why, "is out of range");
    assert_int_equal(cd_money_parse_paise("-9223372036854775809", 20, &p, &why), -1);
    assert_int_equal(cd_money_parse_paise("12.00", 5, &p, &why), -1);
    assert_string_equal(why, "is not a whole number of paise");
    assert_int_equal(cd_money_parse_paise("1,000", 5, &p, &why), -1);
    assert_int_equal(cd_money_parse_paise("1e3", 3, &p, &why), -1);
    assert_int_equal(cd_money_parse_paise("", 0, &p, &why), -1);
    assert_int_equal(cd_money_parse_paise("-", 1, &p, &why), -1);
    assert_int_equal(cd_money_parse_paise(" 1", 2, &p, &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rupees_decimals),
        cmocka_unit_test(test_rupees_signs_and_zeros),
        cmocka_unit_test(test_rupees_limits),
        cmocka_unit_test(test_rupees_refused),
        cmocka_unit_test(test_rupees_length_bounds),
        cmocka_unit_test(test_paise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
