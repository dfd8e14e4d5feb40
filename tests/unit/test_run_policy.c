/*
 * test_run_policy.c — the small rules around runs that need no database:
 * the retry delay (exponential, capped, jittered, never under Retry-After),
 * durations in the configuration, and how driver text is made safe to store
 * (valid UTF-8, no NUL, bounded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "runs.h"
#include "scheduler.h"

static void retry_delay_doubles_within_jitter(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        double d1 = cd_retry_delay(1, 60, 3600, 0);
        double d2 = cd_retry_delay(2, 60, 3600, 0);
        double d4 = cd_retry_delay(4, 60, 3600, 0);
        assert_true(d1 >= 45 && d1 <= 75);
        assert_true(d2 >= 90 && d2 <= 150);
        assert_true(d4 >= 360 && d4 <= 600);
    }
}

static void retry_delay_is_capped(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        double d = cd_retry_delay(30, 60, 3600, 0);
        assert_true(d >= 2700 && d <= 4500);
    }
}

static void retry_delay_honours_retry_after(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++)
        assert_true(cd_retry_delay(1, 1, 10, 120) >= 120);
}

static void retry_delays_are_spread(void **state)
{
    (void)state;
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 500; i++) {
        double d = cd_retry_delay(3, 60, 3600, 0);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Connectors that failed together must not all come back together. */
    assert_true(hi - lo > 30);
}

static void durations_parse(void **state)
{
    (void)state;
    assert_int_equal(cd_parse_duration("48h"), 48 * 3600);
    assert_int_equal(cd_parse_duration("90"), 90);
    assert_int_equal(cd_parse_duration("30m"), 1800);
    assert_int_equal(cd_parse_duration("2d"), 172800);
    assert_int_equal(cd_parse_duration("15s"), 15);
    assert_int_equal(cd_parse_duration(""), -1);
    assert_int_equal(cd_parse_duration("h"), -1);
    assert_int_equal(cd_parse_duration("-5m"), -1);
    assert_int_equal(cd_parse_duration("5 weeks"), -1);
    assert_int_equal(cd_parse_duration("99999999999999999999d"), -1);
    assert_int_equal(cd_parse_duration(NULL), -1);
}

static void utf8_clean_keeps_valid_text(void **state)
{
    (void)state;
    const char *s = "₹ 1,00,000 — ok";
    char *c = cd_utf8_clean(s, strlen(s), 1000);
    assert_string_equal(c, s);
    free(c);
}

static void utf8_clean_replaces_bad_bytes_and_nul(void **state)
{
    (void)state;
    const char raw[] = {'a', '\xff', 'b', '\0', 'c', '\xc3', '\x28', '\xed', '\xa0', '\x80', 'd'};
    char *c = cd_utf8_clean(raw, sizeof raw, 1000);
    /* 0xff, NUL, a truncated 2-byte start, a UTF-16 surrogate (3 bytes) */
    assert_string_equal(c, "a?b?c?(???d");
    free(c);
}

static void utf8_clean_truncates_on_a_character_boundary(void **state)
{
    (void)state;
    const char *s = "ab₹cd"; /* ₹ is 3 bytes */
    char *c = cd_utf8_clean(s, strlen(s), 4);
    assert_string_equal(c, "ab");
    free(c);
    c = cd_utf8_clean(s, strlen(s), 5);
    assert_string_equal(c, "ab₹");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_delay_doubles_within_jitter),
        cmocka_unit_test(retry_delay_is_capped),
        cmocka_unit_test(retry_delay_honours_retry_after),
        cmocka_unit_test(retry_delays_are_spread),
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(utf8_clean_keeps_valid_text),
        cmocka_unit_test(utf8_clean_replaces_bad_bytes_and_nul),
        cmocka_unit_test(utf8_clean_truncates_on_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
