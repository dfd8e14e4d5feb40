/*
 * test_cron.c — cron expressions: what the parser accepts and how it
 * names the field it refuses; next slots in Asia/Kolkata and UTC, at
 * month ends and leap days, with either-matching day fields, steps and
 * lists; Vixie's DST rule across both changes in America/New_York and
 * Europe/London, including a start inside the repeated hour; the day a
 * slot is for when a DST jump moves it past midnight (America/Nuuk); a
 * brute-force cross-check of wildcard jobs minute by minute; errors for
 * unknown zones and impossible dates; speed and threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "cron.h"
#include "datetime.h"

#define NY "America/New_York"
#define LON "Europe/London"
#define IST "Asia/Kolkata"

/* Seconds since the epoch of the UTC time y-mo-d h:mi. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)cd_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* "YYYY-MM-DD HH:MMZ" of t, for failure messages; static buffer. */
static const char *fmt(int64_t t)
{
    static char buf[8][40];
    static int i;
    char *b = buf[i++ % 8];
    long days = (long)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
    int rem = (int)(t - (int64_t)days * 86400);
    int y, m, d;
    cd_civil_from_days(days, &y, &m, &d);
    snprintf(b, 40, "%04d-%02d-%02d %02d:%02d:%02dZ", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
    return b;
}

static cd_cron parse_ok(const char *expr)
{
    cd_cron c;
    char *err = NULL;
    if (cd_cron_parse(expr, &c, &err) != 0)
        fail_msg("'%s' refused: %s", expr, err);
    assert_null(err);
    return c;
}

/* The next slot of expr in tz after `after`; fails the test on error. */
static int64_t next_of(const char *expr, const char *tz, int64_t after)
{
    cd_cron c = parse_ok(expr);
    int64_t n = 0;
    char *err = NULL;
    if (cd_cron_next(&c, tz, after, &n, &err) != 0)
        fail_msg("'%s' in %s after %s: %s", expr, tz, fmt(after), err);
    if (n <= after)
        fail_msg("'%s' in %s after %s gave %s, not later", expr, tz, fmt(after), fmt(n));
    return n;
}

/* Asserts that the slots of expr in tz after `after` are exactly want[0..n). */
static void slots_are(const char *expr, const char *tz, int64_t after, const int64_t *want, int n)
{
    int64_t t = after;
    for (int i = 0; i < n; i++) {
        int64_t got = next_of(expr, tz, t);
        if (got != want[i])
            fail_msg("'%s' in %s, slot %d after %s: got %s, want %s", expr, tz, i, fmt(after),
                     fmt(got), fmt(want[i]));
        t = got;
    }
}

#define SLOTS(expr, tz, after, ...)                                                        \
    do {                                                                                   \
        const int64_t want_[] = {__VA_ARGS__};                                             \
        slots_are(expr, tz, after, want_, (int)(sizeof want_ / sizeof want_[0]));          \
    } while (0)

/* ---- parser -------------------------------------------------------------- */

static uint64_t bits(int lo, int hi, int step)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v += step)
        b |= UINT64_C(1) << v;
    return b;
}

static void test_parse_accepts_fields_ranges_steps_lists_names(void **state)
{
    (void)state;
    cd_cron c = parse_ok("* * * * *");
    assert_true(c.minutes == bits(0, 59, 1));
    assert_true(c.hours == bits(0, 23, 1));
    assert_true(c.mdays == bits(1, 31, 1));
    assert_true(c.months == bits(1, 12, 1));
    assert_true(c.wdays == bits(0, 6, 1));
    assert_int_equal(c.flags, CD_CRON_MIN_STAR | CD_CRON_HOUR_STAR | CD_CRON_DOM_STAR |
                                  CD_CRON_DOW_STAR);

    c = parse_ok("0 2 * * *");
    assert_true(c.minutes == 1 && c.hours == 4);
    assert_int_equal(c.flags, CD_CRON_DOM_STAR | CD_CRON_DOW_STAR);

    assert_true(parse_ok("*/15 * * * *").minutes == bits(0, 45, 15));
    assert_true(parse_ok("1-10/3 * * * *").minutes == bits(1, 10, 3));
    assert_true(parse_ok("5/20 * * * *").minutes == bits(5, 59, 20)); /* a/n = a-max/n */
    assert_true(parse_ok("0,30 9-17/4 * * *").hours == (bits(9, 17, 4)));
    assert_true(parse_ok("0 0 1,15,31 * *").mdays == ((1u << 1) | (1u << 15) | (1u << 31)));
    assert_true(parse_ok("59 23 31 12 *").minutes == UINT64_C(1) << 59);
    assert_true(parse_ok("00 05 * * *").hours == 1u << 5); /* leading zeros */
    assert_true(parse_ok("  0\t0  * *\t*  ").minutes == 1); /* any blanks */

    /* Names in any case, in ranges and lists. */
    assert_true(parse_ok("0 0 * jan-MAR,Dec *").months == (bits(1, 3, 1) | 1u << 12));
    assert_true(parse_ok("0 0 * JAN-DEC/3 *").months == bits(1, 12, 3));
    assert_true(parse_ok("0 0 * * mon-FRI").wdays == bits(1, 5, 1));
    assert_true(parse_ok("0 0 * * SUN,sat").wdays == ((1u << 0) | (1u << 6)));

    /* 7 is Sunday, alone and at the end of a range. */
    assert_true(parse_ok("0 0 * * 7").wdays == 1);
    assert_true(parse_ok("0 0 * * 5-7").wdays == ((1u << 5) | (1u << 6) | 1u));
    assert_true(parse_ok("0 0 * * 0-7").wdays == bits(0, 6, 1));
    assert_true(parse_ok("0 0 * * */2").wdays == bits(0, 6, 2));

    /* Flags look at the first character only, as Vixie cron does. */
    assert_int_equal(parse_ok("*/5 0-23 1 * mon").flags, CD_CRON_MIN_STAR);
    assert_int_equal(parse_ok("0 */2 */3 * 1").flags, CD_CRON_HOUR_STAR | CD_CRON_DOM_STAR);
}

static void test_parse_accepts_macros(void **state)
{
    (void)state;
    static const struct {
        const char *macro, *same_as;
    } table[] = {
        {"@yearly", "0 0 1 1 *"},   {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"},   {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},   {"  @DAILY\t", "0 0 * * *"}, {"@Hourly", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        cd_cron a = parse_ok(table[i].macro), b = parse_ok(table[i].same_as);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("'%s' differs from '%s'", table[i].macro, table[i].same_as);
    }
}

static void test_parse_refuses_with_the_field_named(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *want;
    } table[] = {
        {"", "empty expression"},
        {"   \t ", "empty expression"},
        {"* * * *", "expected 5 fields"},
        {"* * * *", "got 4"},
        {"* * * * * *", "got 6"},
        {"0 0 * * * /usr/bin/backup", "got 6"},
        {"60 * * * *", "minute field: 60 is out of range 0-59"},
        {"* 24 * * *", "hour field: 24 is out of range 0-23"},
        {"* * 0 * *", "day-of-month field: 0 is out of range 1-31"},
        {"* * 32 * *", "day-of-month field: 32 is out of range 1-31"},
        {"* * * 0 *", "month field: 0 is out of range 1-12"},
        {"* * * 13 *", "month field: 13 is out of range 1-12"},
        {"* * * * 8", "day-of-week field: 8 is out of range 0-7"},
        {"99999999999999999999 * * * *", "minute field: 99999999999999999999 is out of range"},
        {"*/0 * * * *", "minute field: step 0 is out of range 1-59"},
        {"* 1-5/0 * * *", "hour field: step 0"},
        {"*/100 * * * *", "minute field: step 100 is out of range 1-59"},
        {"*/ * * * *", "minute field: expected a step after '/'"},
        {"10-5 * * * *", "minute field: reversed range '10-5'"},
        {"* * * * SAT-SUN", "day-of-week field: reversed range"},
        {"* * * DEC-JAN *", "month field: reversed range"},
        {"5x * * * *", "minute field: unexpected 'x' in '5x'"},
        {"* 1-2-3 * * *", "hour field: unexpected '-'"},
        {"*/5/2 * * * *", "minute field: unexpected '/'"},
        {"** * * * *", "minute field: unexpected '*'"},
        {"1,,2 * * * *", "minute field: empty list item"},
        {"1, * * * *", "minute field: empty list item"},
        {",1 * * * *", "minute field: empty list item"},
        {"1- * * * *", "minute field: expected a number at the end"},
        {"-1 * * * *", "minute field: expected a number"},
        {"? * * * *", "minute field: expected a number in '?'"},
        {"0 0 L * *", "day-of-month field: 'L' is not a number"},
        {"0 0 * * 5#3", "day-of-week field: unexpected '#'"},
        {"MON * * * *", "minute field: 'MON' is not a number"},
        {"* * * FOO *", "month field: unknown name 'FOO' (names are JAN-DEC)"},
        {"* * * JAN-MON *", "month field: unknown name 'MON'"},
        {"* * * * MONDAY", "day-of-week field: unknown name 'MONDAY' (names are SUN-SAT)"},
        {"\xff * * * *", "minute field: expected a number in '\\xff'"},
        {"@daily foo", "@daily takes no fields, got 'foo'"},
        {"@every 5m", "unknown macro '@every'"},
        {"@", "unknown macro '@'"},
        {"@reboot", "unknown macro '@reboot'"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        cd_cron c;
        memset(&c, 0xab, sizeof c);
        cd_cron before = c;
        char *err = NULL;
        if (cd_cron_parse(table[i].expr, &c, &err) == 0)
            fail_msg("'%s' accepted", table[i].expr);
        if (!err || !strstr(err, table[i].want))
            fail_msg("'%s': error '%s' lacks '%s'", table[i].expr, err ? err : "(null)",
                     table[i].want);
        assert_memory_equal(&c, &before, sizeof c); /* output untouched */
        free(err);
    }
}

static void test_parse_survives_null_and_huge_input(void **state)
{
    (void)state;
    cd_cron c;
    char *err = NULL;
    assert_int_equal(cd_cron_parse(NULL, &c, &err), -1);
    assert_string_equal(err, "empty expression");
    free(err);
    assert_int_equal(cd_cron_parse("60 * * * *", &c, NULL), -1); /* err may be NULL */

    /* A long item is quoted back shortened, not whole. */
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, '1', n);
    memcpy(big + n - 8, " * * * *", 8);
    big[n] = '\0';
    err = NULL;
    assert_int_equal(cd_cron_parse(big, &c, &err), -1);
    assert_non_null(strstr(err, "minute field:"));
    assert_true(strlen(err) < 200);
    free(err);
    free(big);
}

/* ---- next slots without DST ---------------------------------------------- */

static void test_kolkata_0200_is_2030_utc_the_day_before(void **state)
{
    (void)state;
    /* 02:00 IST on March 2 is 20:30Z on March 1. */
    int64_t slot = utc(2026, 3, 1, 20, 30);
    assert_true(next_of("0 2 * * *", IST, utc(2026, 3, 1, 0, 0)) == slot);   /* 05:30 IST */
    assert_true(next_of("0 2 * * *", IST, utc(2026, 3, 1, 19, 0)) == slot);  /* 00:30 IST */
    assert_true(next_of("0 2 * * *", IST, slot - 1) == slot);                /* 01:59:59 */
    assert_true(next_of("0 2 * * *", IST, slot) == slot + 86400);            /* at 02:00 */
    assert_true(next_of("0 2 * * *", IST, slot + 1) == slot + 86400);        /* just after */
    assert_true(next_of("0 2 * * *", IST, slot + 3600) == slot + 86400);
    /* The default schedule's neighbours. */
    SLOTS("30 */6 * * *", IST, utc(2026, 3, 1, 0, 0), utc(2026, 3, 1, 1, 0),
          utc(2026, 3, 1, 7, 0), utc(2026, 3, 1, 13, 0), utc(2026, 3, 1, 19, 0));
}

static void test_utc_steps_lists_and_macros(void **state)
{
    (void)state;
    SLOTS("*/15 * * * *", "UTC", utc(2026, 5, 5, 10, 7), utc(2026, 5, 5, 10, 15),
          utc(2026, 5, 5, 10, 30), utc(2026, 5, 5, 10, 45), utc(2026, 5, 5, 11, 0));
    /* Weekdays at 09, 13 and 17, on the hour and half hour. 2026-05-08 is a
     * Friday. */
    SLOTS("0,30 9-17/4 * * MON-FRI", "UTC", utc(2026, 5, 8, 16, 0), utc(2026, 5, 8, 17, 0),
          utc(2026, 5, 8, 17, 30), utc(2026, 5, 11, 9, 0));
    SLOTS("@hourly", "UTC", utc(2026, 5, 5, 10, 0), utc(2026, 5, 5, 11, 0), utc(2026, 5, 5, 12, 0));
    SLOTS("@yearly", "UTC", utc(2026, 5, 5, 10, 0), utc(2027, 1, 1, 0, 0), utc(2028, 1, 1, 0, 0));
    SLOTS("@weekly", "UTC", utc(2026, 5, 5, 10, 0), utc(2026, 5, 10, 0, 0), utc(2026, 5, 17, 0, 0));
    SLOTS("@monthly", IST, utc(2026, 5, 5, 10, 0), utc(2026, 5, 31, 18, 30));
    /* Seconds: `after` need not be on a minute. */
    assert_true(next_of("* * * * *", "UTC", utc(2026, 5, 5, 10, 0) + 59) == utc(2026, 5, 5, 10, 1));
    assert_true(next_of("* * * * *", "UTC", utc(1969, 12, 31, 23, 59) + 30) == 0);
}

static void test_31st_skips_short_months(void **state)
{
    (void)state;
    SLOTS("0 0 31 * *", "UTC", utc(2026, 1, 31, 0, 0), utc(2026, 3, 31, 0, 0),
          utc(2026, 5, 31, 0, 0), utc(2026, 7, 31, 0, 0), utc(2026, 8, 31, 0, 0));
    SLOTS("0 12 30 * *", IST, utc(2026, 1, 30, 12, 0), utc(2026, 3, 30, 6, 30));
}

static void test_leap_day_waits_for_a_leap_year(void **state)
{
    (void)state;
    SLOTS("0 0 29 2 *", "UTC", utc(2025, 1, 1, 0, 0), utc(2028, 2, 29, 0, 0),
          utc(2032, 2, 29, 0, 0));
    /* 2100 is not a leap year: eight years from 2096 to 2104. */
    assert_true(next_of("0 0 29 2 *", "UTC", utc(2096, 3, 1, 0, 0)) == utc(2104, 2, 29, 0, 0));
    /* In Kolkata, 00:00 on Feb 29 is 18:30Z on Feb 28. */
    assert_true(next_of("0 0 29 2 *", IST, utc(2025, 1, 1, 0, 0)) == utc(2028, 2, 28, 18, 30));
}

static void test_day_fields_either_match_when_both_restricted(void **state)
{
    (void)state;
    /* February 2026: Fridays are the 6th, 13th, 20th, 27th. "13 or
     * Friday" takes every Friday and the 13th; with a star in either
     * field the other alone decides. */
    SLOTS("0 0 13 * 5", "UTC", utc(2026, 2, 1, 0, 0), utc(2026, 2, 6, 0, 0),
          utc(2026, 2, 13, 0, 0), utc(2026, 2, 20, 0, 0), utc(2026, 2, 27, 0, 0),
          utc(2026, 3, 6, 0, 0), utc(2026, 3, 13, 0, 0));
    SLOTS("0 0 1 * MON", "UTC", utc(2026, 5, 28, 0, 0), utc(2026, 6, 1, 0, 0),
          utc(2026, 6, 8, 0, 0));
    SLOTS("0 0 * * 5", "UTC", utc(2026, 2, 1, 0, 0), utc(2026, 2, 6, 0, 0), utc(2026, 2, 13, 0, 0));
    SLOTS("0 0 13 * *", "UTC", utc(2026, 2, 1, 0, 0), utc(2026, 2, 13, 0, 0), utc(2026, 3, 13, 0, 0));
    /* "*\/10" starts with a star, so both fields must match (Vixie):
     * days 1, 11, 21, 31 that are Fridays: in 2026 May 1, Jul 31, Aug 21,
     * Sep 11, Dec 11. */
    SLOTS("0 0 */10 * FRI", "UTC", utc(2026, 4, 1, 0, 0), utc(2026, 5, 1, 0, 0),
          utc(2026, 7, 31, 0, 0), utc(2026, 8, 21, 0, 0), utc(2026, 9, 11, 0, 0),
          utc(2026, 12, 11, 0, 0));
    /* 7 means Sunday. 2026-05-10 is a Sunday. */
    SLOTS("0 6 * * 7", "UTC", utc(2026, 5, 5, 0, 0), utc(2026, 5, 10, 6, 0), utc(2026, 5, 17, 6, 0));
}

/* ---- DST: America/New_York ----------------------------------------------- */

static void test_new_york_spring_forward_fixed_time_runs_at_the_change(void **state)
{
    (void)state;
    /* 2026-03-08 07:00Z: 02:00 EST becomes 03:00 EDT. 02:30 does not exist
     * that day: the job runs at 03:00 EDT (07:00Z), then 02:30 EDT (06:30Z)
     * the next day. The day before, 02:30 EST is 07:30Z. */
    SLOTS("30 2 * * *", NY, utc(2026, 3, 7, 0, 0), utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0),
          utc(2026, 3, 9, 6, 30));
    /* Two fixed times in the gap still run once. */
    SLOTS("0,30 2 * * *", NY, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 0));
    /* A fixed time just after the gap is not doubled. */
    SLOTS("0 3 * * *", NY, utc(2026, 3, 8, 0, 0), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 7, 0));
}

static void test_new_york_spring_forward_wildcard_skips_the_hour(void **state)
{
    (void)state;
    SLOTS("*/15 * * * *", NY, utc(2026, 3, 8, 6, 40), utc(2026, 3, 8, 6, 45),
          utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 15));
    /* The whole local day: 23 hours of quarter hours, none at 02:xx. */
    int64_t t = utc(2026, 3, 8, 5, 0) - 1; /* just before 00:00 EST */
    int count = 0;
    for (;;) {
        t = next_of("*/15 * * * *", NY, t);
        int d, h;
        assert_int_equal(cd_tz_local_fields(NY, t, NULL, NULL, &d, &h, NULL, NULL), 0);
        if (d != 8)
            break;
        if (h == 2)
            fail_msg("slot at 02:xx local: %s", fmt(t));
        count++;
    }
    assert_int_equal(count, 23 * 4);
    /* A fixed minute with a star hour is a wildcard job too: 02:15 is gone. */
    SLOTS("15 * * * *", NY, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 6, 15), utc(2026, 3, 8, 7, 15));
}

static void test_new_york_fall_back_fixed_time_runs_once(void **state)
{
    (void)state;
    /* 2026-11-01 06:00Z: 02:00 EDT becomes 01:00 EST. 01:30 happens at
     * 05:30Z (EDT) and 06:30Z (EST); the job runs only at the first. */
    SLOTS("30 1 * * *", NY, utc(2026, 10, 31, 12, 0), utc(2026, 11, 1, 5, 30),
          utc(2026, 11, 2, 6, 30));
    SLOTS("0 2 * * *", NY, utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0), utc(2026, 11, 2, 7, 0));
}

static void test_new_york_fall_back_wildcard_runs_both_passes(void **state)
{
    (void)state;
    SLOTS("*/30 * * * *", NY, utc(2026, 11, 1, 4, 45), utc(2026, 11, 1, 5, 0) /* 01:00 EDT */,
          utc(2026, 11, 1, 5, 30) /* 01:30 EDT */, utc(2026, 11, 1, 6, 0) /* 01:00 EST */,
          utc(2026, 11, 1, 6, 30) /* 01:30 EST */, utc(2026, 11, 1, 7, 0) /* 02:00 EST */);
    SLOTS("15 * * * *", NY, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 15),
          utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 7, 15));
}

static void test_new_york_after_inside_the_repeated_hour(void **state)
{
    (void)state;
    /* First pass (EDT), before and at a slot. */
    assert_true(next_of("*/30 * * * *", NY, utc(2026, 11, 1, 5, 10)) == utc(2026, 11, 1, 5, 30));
    assert_true(next_of("*/30 * * * *", NY, utc(2026, 11, 1, 5, 40)) == utc(2026, 11, 1, 6, 0));
    assert_true(next_of("*/30 * * * *", NY, utc(2026, 11, 1, 6, 0) - 1) == utc(2026, 11, 1, 6, 0));
    /* Second pass (EST): the first-pass instants are in the past. */
    assert_true(next_of("*/30 * * * *", NY, utc(2026, 11, 1, 6, 0)) == utc(2026, 11, 1, 6, 30));
    assert_true(next_of("*/30 * * * *", NY, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 6, 30));
    assert_true(next_of("* * * * *", NY, utc(2026, 11, 1, 5, 59) + 30) == utc(2026, 11, 1, 6, 0));
    /* The fixed-time job already ran at 01:30 EDT: from inside either pass
     * its next run is tomorrow, never 01:30 EST. */
    assert_true(next_of("30 1 * * *", NY, utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30));
    assert_true(next_of("30 1 * * *", NY, utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 2, 6, 30));
    assert_true(next_of("30 1 * * *", NY, utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30));
    /* Before the first pass's 01:30, it is still today. */
    assert_true(next_of("30 1 * * *", NY, utc(2026, 11, 1, 5, 10)) == utc(2026, 11, 1, 5, 30));
    /* 01:10 EDT, asking for 01:45: the first pass, not the second. */
    assert_true(next_of("45 1 * * *", NY, utc(2026, 11, 1, 5, 10)) == utc(2026, 11, 1, 5, 45));
}

/* ---- DST: Europe/London -------------------------------------------------- */

static void test_london_spring_forward(void **state)
{
    (void)state;
    /* 2026-03-29 01:00Z: 01:00 GMT becomes 02:00 BST. */
    SLOTS("30 1 * * *", LON, utc(2026, 3, 28, 0, 0), utc(2026, 3, 28, 1, 30),
          utc(2026, 3, 29, 1, 0) /* 02:00 BST, right after the change */,
          utc(2026, 3, 30, 0, 30) /* 01:30 BST */);
    /* Minutes of the 01:xx hour do not exist for a wildcard job. */
    SLOTS("*/20 1 * * *", LON, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 0, 0),
          utc(2026, 3, 30, 0, 20));
    SLOTS("*/30 * * * *", LON, utc(2026, 3, 29, 0, 15), utc(2026, 3, 29, 0, 30),
          utc(2026, 3, 29, 1, 0) /* 02:00 BST */, utc(2026, 3, 29, 1, 30));
}

static void test_london_fall_back(void **state)
{
    (void)state;
    /* 2026-10-25 01:00Z: 02:00 BST becomes 01:00 GMT; 01:30 happens at
     * 00:30Z (BST) and 01:30Z (GMT). */
    SLOTS("30 1 * * *", LON, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30),
          utc(2026, 10, 26, 1, 30));
    SLOTS("*/30 * * * *", LON, utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 0, 0),
          utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30),
          utc(2026, 10, 25, 2, 0));
    /* From inside the second pass. */
    assert_true(next_of("30 1 * * *", LON, utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 26, 1, 30));
    assert_true(next_of("*/30 * * * *", LON, utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 25, 1, 30));
    /* From the end of the first pass, the second pass comes next. */
    assert_true(next_of("10 * * * *", LON, utc(2026, 10, 25, 0, 50)) == utc(2026, 10, 25, 1, 10));
}

/* ---- the day a slot is for ------------------------------------------------ */

/* The next slot of expr in tz after `after`, and the date days_back before
 * the day it is the slot of. */
static int64_t slot_and_date(const char *expr, const char *tz, int64_t after, int days_back,
                             char date[11])
{
    cd_cron c = parse_ok(expr);
    int64_t n = 0;
    long day = 0;
    char *err = NULL;
    if (cd_cron_next_slot(&c, tz, after, &n, &day, &err) != 0)
        fail_msg("'%s' in %s after %s: %s", expr, tz, fmt(after), err);
    if (cd_tz_date_back(day, days_back, date, &err) != 0)
        fail_msg("'%s' in %s: day %ld: %s", expr, tz, day, err);
    return n;
}

static void test_slot_day_is_its_wall_day_across_a_jump_past_midnight(void **state)
{
    (void)state;
    char date[11];
    /* America/Nuuk, 2026-03-29 01:00Z: 23:00 -02 on 03-28 becomes 00:00 -01
     * on 03-29. The 23:30 slot of 03-28 runs at the jump, at 00:00 on
     * 03-29, and is still 03-28's slot: T-1 is 03-27, and 03-29's own
     * 23:30 slot runs 03-28. (By the instant's date, 03-28 ran twice and
     * 03-27 never.) */
    int64_t t = slot_and_date("30 23 * * *", "America/Nuuk", utc(2026, 3, 28, 12, 0), 1, date);
    assert_true(t == utc(2026, 3, 29, 1, 0));
    assert_string_equal(date, "2026-03-27");
    t = slot_and_date("30 23 * * *", "America/Nuuk", t, 1, date);
    assert_true(t == utc(2026, 3, 30, 0, 30));
    assert_string_equal(date, "2026-03-28");
    /* The day before the change, and sync_days_back 0. */
    t = slot_and_date("30 23 * * *", "America/Nuuk", utc(2026, 3, 27, 12, 0), 0, date);
    assert_true(t == utc(2026, 3, 28, 1, 30));
    assert_string_equal(date, "2026-03-27");
    /* America/Santiago skips 00:00-01:00 of 09-06: the 00:30 slot runs at
     * 01:00 on the same day, whose date it keeps. */
    t = slot_and_date("30 0 * * *", "America/Santiago", utc(2026, 9, 5, 12, 0), 1, date);
    assert_true(t == utc(2026, 9, 6, 4, 0));
    assert_string_equal(date, "2026-09-05");
    /* New York's skipped 02:30 runs at 03:00 EDT, the same day. */
    t = slot_and_date("30 2 * * *", NY, utc(2026, 3, 7, 12, 0), 1, date);
    assert_true(t == utc(2026, 3, 8, 7, 0));
    assert_string_equal(date, "2026-03-07");
    /* A repeated hour's second pass (wildcard) is the same day. */
    t = slot_and_date("*/30 * * * *", LON, utc(2026, 10, 25, 1, 10), 1, date);
    assert_true(t == utc(2026, 10, 25, 1, 30));
    assert_string_equal(date, "2026-10-24");
    /* Anywhere else it is the instant's local date: 02:00 IST on 03-10 is
     * 20:30Z on 03-09. */
    t = slot_and_date("0 2 * * *", IST, utc(2026, 3, 9, 12, 0), 1, date);
    assert_true(t == utc(2026, 3, 9, 20, 30));
    assert_string_equal(date, "2026-03-09");
    /* cd_tz_date_back counts as cd_tz_local_date and refuses what it does. */
    char *err = NULL;
    assert_int_equal(cd_tz_date_back(cd_days_from_civil(2026, 3, 1), 1, date, &err), 0);
    assert_string_equal(date, "2026-02-28");
    assert_int_equal(cd_tz_date_back(cd_days_from_civil(2026, 3, 1), -1, date, &err), 0);
    assert_string_equal(date, "2026-03-02");
    assert_int_equal(cd_tz_date_back(cd_days_from_civil(1, 1, 1), 1, date, &err), -1);
    assert_non_null(err);
    free(err);
    err = NULL;
    assert_int_equal(cd_tz_date_back(cd_days_from_civil(2026, 3, 1), 2000000, date, &err), -1);
    assert_non_null(err);
    free(err);
}

/* ---- cross-check against brute force -------------------------------------- */

/* For wildcard jobs the rule is simply "every instant whose wall clock
 * matches": check that minute by minute over each DST change, including
 * Lord Howe's half-hour shifts (2026-04-05 02:00 -> 01:30, 2026-10-04
 * 02:00 -> 02:30). */
static bool fields_match(const cd_cron *c, int mo, int d, int h, int mi, int wd)
{
    if (!((c->minutes >> mi) & 1) || !((c->hours >> h) & 1) || !((c->months >> mo) & 1))
        return false;
    bool dom = (c->mdays >> d) & 1, dow = (c->wdays >> wd) & 1;
    return (c->flags & (CD_CRON_DOM_STAR | CD_CRON_DOW_STAR)) ? dom && dow : dom || dow;
}

static void test_wildcard_jobs_match_brute_force_across_dst(void **state)
{
    (void)state;
    static const char *const exprs[] = {"*/7 * * * *", "15,45 * * * *", "* 1-2 * * *",
                                        "*/20 0-3 * * SUN"};
    static const struct {
        const char *tz;
        int64_t from;
    } windows[] = {
        {NY, 0}, {NY, 0}, {LON, 0}, {LON, 0}, {"Australia/Lord_Howe", 0},
        {"Australia/Lord_Howe", 0},
    };
    int64_t starts[] = {utc(2026, 3, 8, 3, 0),  utc(2026, 11, 1, 3, 0), utc(2026, 3, 28, 23, 0),
                        utc(2026, 10, 24, 23, 0), utc(2026, 4, 4, 13, 0), utc(2026, 10, 3, 13, 0)};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        cd_cron c = parse_ok(exprs[e]);
        for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
            const char *tz = windows[w].tz;
            int64_t from = starts[w], to = from + 6 * 3600;
            int64_t t = from;
            for (int64_t m = from + 60; m <= to; m += 60) {
                int y, mo, d, h, mi;
                assert_int_equal(cd_tz_local_fields(tz, m, &y, &mo, &d, &h, &mi, NULL), 0);
                int wd = (int)((cd_days_from_civil(y, mo, d) % 7 + 7 + 4) % 7);
                if (!fields_match(&c, mo, d, h, mi, wd))
                    continue;
                int64_t got = next_of(exprs[e], tz, t);
                if (got != m)
                    fail_msg("'%s' in %s after %s: got %s, brute force says %s", exprs[e], tz,
                             fmt(t), fmt(got), fmt(m));
                t = m;
            }
        }
    }
}

/* ---- errors -------------------------------------------------------------- */

static void test_unknown_zone_is_an_error(void **state)
{
    (void)state;
    cd_cron c = parse_ok("0 2 * * *");
    int64_t n = 12345;
    char *err = NULL;
    assert_int_equal(cd_cron_next(&c, "Mars/Olympus", 0, &n, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "unknown time zone 'Mars/Olympus'"));
    free(err);
    err = NULL;
    assert_int_equal(cd_cron_next(&c, "", 0, &n, &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(cd_cron_next(&c, NULL, 0, &n, &err), -1);
    free(err);
    assert_int_equal(cd_cron_next(&c, "Mars/Olympus", 0, &n, NULL), -1);
    assert_true(n == 12345);
}

static void test_impossible_date_is_an_error_quickly(void **state)
{
    (void)state;
    static const char *const impossible[] = {"0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"};
    for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
        cd_cron c = parse_ok(impossible[i]);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int64_t n = 0;
        char *err = NULL;
        if (cd_cron_next(&c, NY, utc(2026, 1, 1, 0, 0), &n, &err) == 0)
            fail_msg("'%s' gave a slot %s", impossible[i], fmt(n));
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_non_null(strstr(err, "no slot within 8 years"));
        free(err);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        if (ms > 100)
            fail_msg("'%s' took %.1f ms to refuse", impossible[i], ms);
    }
}

static void test_bad_arguments_are_errors(void **state)
{
    (void)state;
    cd_cron c = parse_ok("0 2 * * *");
    int64_t n = 0;
    char *err = NULL;
    assert_int_equal(cd_cron_next(&c, "UTC", INT64_MAX, &n, &err), -1);
    assert_non_null(strstr(err, "outside years"));
    free(err);
    err = NULL;
    assert_int_equal(cd_cron_next(NULL, "UTC", 0, &n, &err), -1);
    free(err);
    /* A hand-made cron that matches nothing. */
    cd_cron empty;
    memset(&empty, 0, sizeof empty);
    err = NULL;
    assert_int_equal(cd_cron_next(&empty, "UTC", 0, &n, &err), -1);
    assert_non_null(strstr(err, "matches nothing"));
    free(err);
    /* Stray bits outside the fields are ignored, not matched. */
    cd_cron stray = parse_ok("0 0 1 1 *");
    stray.minutes |= UINT64_C(1) << 62;
    stray.months |= 1;
    assert_int_equal(cd_cron_next(&stray, "UTC", utc(2026, 5, 1, 0, 0), &n, NULL), 0);
    assert_true(n == utc(2027, 1, 1, 0, 0));
}

/* ---- speed and threads --------------------------------------------------- */

static const char *const MIX_EXPR[] = {"0 2 * * *", "*/15 * * * *", "30 1 * * *", "@daily",
                                       "0 9-17 * * MON-FRI", "0 0 29 2 *"};
static const char *const MIX_TZ[] = {IST, NY, LON, "UTC", "Australia/Lord_Howe"};

/* Fills out[i] with the i-th evaluation of a fixed mix. Returns failures. */
static int evaluate_mix(int64_t *out, int n)
{
    cd_cron c[6];
    for (int i = 0; i < 6; i++)
        c[i] = parse_ok(MIX_EXPR[i]);
    int failures = 0;
    for (int i = 0; i < n; i++) {
        int64_t after = utc(2026, 1, 1, 0, 0) + (int64_t)i * 3607;
        if (cd_cron_next(&c[i % 6], MIX_TZ[i % 5], after, &out[i], NULL) != 0)
            failures++;
    }
    return failures;
}

#define SPEED_CALLS 10000

static void test_ten_thousand_evaluations_are_fast(void **state)
{
    (void)state;
    static int64_t out[SPEED_CALLS];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(evaluate_mix(out, SPEED_CALLS), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    print_message("%d cd_cron_next calls in %.3f s (%.1f us each)\n", SPEED_CALLS, s,
                  s * 1e6 / SPEED_CALLS);
    /* Only absurd slowness fails: this is a unit test, not a benchmark. */
    if (s > 10.0)
        fail_msg("%d evaluations took %.1f s", SPEED_CALLS, s);
}

#define THREAD_CALLS 3000
#define THREADS 4

typedef struct thread_work {
    int64_t out[THREAD_CALLS];
    int failures;
} thread_work;

static void *mix_worker(void *p)
{
    thread_work *w = p;
    w->failures = evaluate_mix(w->out, THREAD_CALLS);
    return NULL;
}

static void test_threads_get_the_same_slots(void **state)
{
    (void)state;
    static int64_t want[THREAD_CALLS];
    static thread_work w[THREADS];
    assert_int_equal(evaluate_mix(want, THREAD_CALLS), 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, mix_worker, &w[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        assert_memory_equal(w[i].out, want, sizeof want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_fields_ranges_steps_lists_names),
        cmocka_unit_test(test_parse_accepts_macros),
        cmocka_unit_test(test_parse_refuses_with_the_field_named),
        cmocka_unit_test(test_parse_survives_null_and_huge_input),
        cmocka_unit_test(test_kolkata_0200_is_2030_utc_the_day_before),
        cmocka_unit_test(test_utc_steps_lists_and_macros),
        cmocka_unit_test(test_31st_skips_short_months),
        cmocka_unit_test(test_leap_day_waits_for_a_leap_year),
        cmocka_unit_test(test_day_fields_either_match_when_both_restricted),
        cmocka_unit_test(test_new_york_spring_forward_fixed_time_runs_at_the_change),
        cmocka_unit_test(test_new_york_spring_forward_wildcard_skips_the_hour),
        cmocka_unit_test(test_new_york_fall_back_fixed_time_runs_once),
        cmocka_unit_test(test_new_york_fall_back_wildcard_runs_both_passes),
        cmocka_unit_test(test_new_york_after_inside_the_repeated_hour),
        cmocka_unit_test(test_london_spring_forward),
        cmocka_unit_test(test_london_fall_back),
        cmocka_unit_test(test_slot_day_is_its_wall_day_across_a_jump_past_midnight),
        cmocka_unit_test(test_wildcard_jobs_match_brute_force_across_dst),
        cmocka_unit_test(test_unknown_zone_is_an_error),
        cmocka_unit_test(test_impossible_date_is_an_error_quickly),
        cmocka_unit_test(test_bad_arguments_are_errors),
        cmocka_unit_test(test_ten_thousand_evaluations_are_fast),
        cmocka_unit_test(test_threads_get_the_same_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
