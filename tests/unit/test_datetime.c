/*
 * test_datetime.c — strict date and timestamp checks, and the civil-date
 * arithmetic, against hand-checked calendar facts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "datetime.h"

static int date_ok(const char *s)
{
    const char *why = NULL;
    return cd_date_valid(s, strlen(s), &why) == 0;
}

/* Timestamp check: returns 1 if valid, and has_zone through *zone. */
static int ts_ok(const char *s, int *zone)
{
    const char *why = NULL;
    int z = -1;
    int ok = cd_timestamp_valid(s, strlen(s), &z, &why) == 0;
    if (!ok)
        assert_non_null(why);
    if (zone)
        *zone = z;
    return ok;
}

static void test_dates_leap(void **state)
{
    (void)state;
    assert_true(date_ok("2024-02-29"));
    assert_false(date_ok("2023-02-29"));
    assert_false(date_ok("1900-02-29"));
    assert_true(date_ok("2000-02-29"));
    assert_false(date_ok("2100-02-29"));
    assert_true(date_ok("2023-02-28"));
}

static void test_dates_month_ends(void **state)
{
    (void)state;
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char s[32];
    for (int m = 1; m <= 12; m++) {
        snprintf(s, sizeof s, "2023-%02d-%02d", m, days[m - 1]);
        assert_true(date_ok(s));
        snprintf(s, sizeof s, "2023-%02d-%02d", m, days[m - 1] + 1);
        assert_false(date_ok(s));
    }
    assert_false(date_ok("2023-00-10"));
    assert_false(date_ok("2023-13-01"));
    assert_false(date_ok("2023-01-00"));
}

static void test_dates_form(void **state)
{
    (void)state;
    assert_true(date_ok("1900-01-01"));
    assert_true(date_ok("9999-12-31"));
    assert_false(date_ok("1899-12-31"));
    assert_false(date_ok("0000-01-01"));
    assert_false(date_ok("2024-1-05"));
    assert_false(date_ok("2024/01/05"));
    assert_false(date_ok("05-01-2024"));
    assert_false(date_ok("20240105"));
    assert_false(date_ok("2024-01-05 "));
    assert_false(date_ok(" 2024-01-05"));
    assert_false(date_ok("2024-01-0x"));
    assert_false(date_ok("+024-01-05"));
    assert_false(date_ok(""));
    const char *why;
    assert_int_equal(cd_date_valid("2024-01-05", 9, &why), -1); /* length honoured */
    int y, m, d;
    assert_int_equal(cd_date_parse("2024-02-29", &y, &m, &d), 0);
    assert_int_equal(y * 10000 + m * 100 + d, 20240229);
    assert_int_equal(cd_date_parse("2023-02-29", &y, &m, &d), -1);
    assert_int_equal(cd_date_parse("2023-02-28x", &y, &m, &d), -1);
    assert_int_equal(cd_date_parse("2023-02", &y, &m, &d), -1);
}

static void test_timestamps(void **state)
{
    (void)state;
    int z;
    assert_true(ts_ok("2025-10-01", &z) && z == 0);
    assert_true(ts_ok("2025-10-01T10:11", &z) && z == 0);
    assert_true(ts_ok("2025-10-01T10:11:12", &z) && z == 0);
    assert_true(ts_ok("2025-10-01 10:11:12", &z) && z == 0);
    assert_true(ts_ok("2025-10-01T10:11:12.5", &z) && z == 0);
    assert_true(ts_ok("2025-10-01T10:11:12.123456", &z) && z == 0);
    assert_true(ts_ok("2025-10-01T10:11:12Z", &z) && z == 1);
    assert_true(ts_ok("2025-10-01T10:11:12+05:30", &z) && z == 1);
    assert_true(ts_ok("2025-10-01T10:11:12-0800", &z) && z == 1);
    assert_true(ts_ok("2025-10-01T10:11:12+05", &z) && z == 1);
    assert_true(ts_ok("2025-10-01T10:11:12.000001+14:00", &z) && z == 1);
    assert_true(ts_ok("2025-10-01T00:00:00", NULL));
    assert_true(ts_ok("2025-10-01T23:59:59", NULL));
    assert_true(ts_ok("2024-02-29T12:00:00", NULL));
}

static void test_timestamps_refused(void **state)
{
    (void)state;
    assert_false(ts_ok("2025-10-01T24:00:00", NULL));
    assert_false(ts_ok("2025-10-01T23:60:00", NULL));
    assert_false(ts_ok("2025-10-01T23:59:60", NULL));
    assert_false(ts_ok("2023-02-29T10:00:00", NULL));
    assert_false(ts_ok("2025-10-01T10", NULL));
    assert_false(ts_ok("2025-10-01T10:1", NULL));
    assert_false(ts_ok("2025-10-01T1:10:00", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12.", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12.1234567", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12+5:30", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12+16:00", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12+05:60", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12 +05:30", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12z", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12 IST", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12Asia/Kolkata", NULL));
    assert_false(ts_ok("2025-10-01t10:11:12", NULL));
    assert_false(ts_ok("2025-10-01X10:11:12", NULL));
    assert_false(ts_ok("2025-10-01T10:11:12ZZ", NULL));
    assert_false(ts_ok("1700000000", NULL));
    assert_false(ts_ok("", NULL));
    assert_false(ts_ok("now", NULL));
    assert_false(ts_ok("2025-10-01T", NULL));
}

static void test_civil_round_trip(void **state)
{
    (void)state;
    assert_int_equal(cd_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cd_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(cd_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(cd_days_from_civil(2024, 2, 29), 19782);
    /* Every day from year -4000 to 12000: consecutive and reversible. */
    long first = cd_days_from_civil(-4000, 1, 1), last = cd_days_from_civil(12000, 12, 31);
    int py = -4001, pm = 12, pd = 31;
    for (long day = first; day <= last; day++) {
        int y, m, d;
        cd_civil_from_days(day, &y, &m, &d);
        if (cd_days_from_civil(y, m, d) != day)
            fail_msg("day %ld -> %d-%d-%d does not round-trip", day, y, m, d);
        /* The next day of (py, pm, pd) is (y, m, d). */
        int same_month = y == py && m == pm && d == pd + 1;
        int next_month = d == 1 && ((y == py && m == pm + 1) || (y == py + 1 && m == 1 && pm == 12));
        if (!same_month && !next_month)
            fail_msg("day %ld: %d-%d-%d does not follow %d-%d-%d", day, y, m, d, py, pm, pd);
        py = y, pm = m, pd = d;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates_leap),
        cmocka_unit_test(test_dates_month_ends),
        cmocka_unit_test(test_dates_form),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_timestamps_refused),
        cmocka_unit_test(test_civil_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
