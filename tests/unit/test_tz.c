/*
 * test_tz.c — IANA zones through ICU: which names are zones, local fields
 * and offsets across DST, the local business date "T minus n days" (taken
 * on the local calendar, not the UTC one), and the same answers from many
 * threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "cron.h"
#include "datetime.h"

/* Seconds since the epoch of the UTC time y-mo-d h:mi. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)cd_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* Asserts that tz's local date at t minus days_back is want. */
static void date_is(const char *tz, int64_t t, int days_back, const char *want)
{
    char out[11] = "";
    char *err = NULL;
    if (cd_tz_local_date(tz, t, days_back, out, &err) != 0)
        fail_msg("%s at %lld minus %d: %s", tz, (long long)t, days_back, err);
    assert_string_equal(out, want);
}

/* Asserts tz's wall clock and offset at t. */
static void fields_are(const char *tz, int64_t t, int y, int mo, int d, int h, int mi, int off)
{
    int yy, mm, dd, hh, mn, oo;
    assert_int_equal(cd_tz_local_fields(tz, t, &yy, &mm, &dd, &hh, &mn, &oo), 0);
    if (yy != y || mm != mo || dd != d || hh != h || mn != mi || oo != off)
        fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d %+d, want %04d-%02d-%02d %02d:%02d %+d",
                 tz, (long long)t, yy, mm, dd, hh, mn, oo, y, mo, d, h, mi, off);
}

static void test_valid_zones_are_icu_system_ids(void **state)
{
    (void)state;
    assert_true(cd_tz_valid("Asia/Kolkata"));
    assert_true(cd_tz_valid("America/New_York"));
    assert_true(cd_tz_valid("Europe/London"));
    assert_true(cd_tz_valid("UTC"));
    assert_true(cd_tz_valid("Etc/UTC"));
    assert_true(cd_tz_valid("Asia/Calcutta")); /* backward link, still in tzdata */
    assert_true(cd_tz_valid("Australia/Lord_Howe"));
}

static void test_invalid_zones_are_refused(void **state)
{
    (void)state;
    assert_false(cd_tz_valid(NULL));
    assert_false(cd_tz_valid(""));
    assert_false(cd_tz_valid("Mars/Olympus"));
    assert_false(cd_tz_valid("asia/kolkata"));     /* ids are case-sensitive */
    assert_false(cd_tz_valid("Asia/Kolkata "));    /* no blanks */
    assert_false(cd_tz_valid("GMT+05:30"));        /* a custom id, not an IANA name */
    assert_false(cd_tz_valid("Etc/Unknown"));      /* ICU's fallback is not a zone */
    assert_false(cd_tz_valid("Asia/Kolk\xc3\xa4ta")); /* non-ASCII */
    /* ICU's own ids, unknown to IANA (and PostgreSQL): "IST" would be
     * Asia/Kolkata here and Israel in the database. */
    assert_false(cd_tz_valid("IST"));
    assert_false(cd_tz_valid("AET"));
    assert_false(cd_tz_valid("PST"));
    assert_false(cd_tz_valid("SystemV/EST5"));
    assert_false(cd_tz_valid("US/Pacific-New"));
    assert_true(cd_tz_valid("EST"));   /* these three-letter ones are IANA's */
    assert_true(cd_tz_valid("PRC"));
    assert_true(cd_tz_valid("Israel"));
    char long_id[200];
    memset(long_id, 'A', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_false(cd_tz_valid(long_id));
}

static void test_kolkata_fields_are_utc_plus_0530(void **state)
{
    (void)state;
    /* 2026-03-01 00:30 IST is still 2026-02-28 in UTC. */
    fields_are("Asia/Kolkata", utc(2026, 2, 28, 19, 0), 2026, 3, 1, 0, 30, 19800);
    fields_are("Asia/Kolkata", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 17, 30, 19800);
    fields_are("UTC", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 12, 0, 0);
}

static void test_new_york_fields_follow_dst(void **state)
{
    (void)state;
    /* Spring forward 2026-03-08 07:00Z: 01:59 EST -> 03:00 EDT. */
    fields_are("America/New_York", utc(2026, 3, 8, 6, 59), 2026, 3, 8, 1, 59, -18000);
    fields_are("America/New_York", utc(2026, 3, 8, 7, 0), 2026, 3, 8, 3, 0, -14400);
    /* Fall back 2026-11-01 06:00Z: 01:59 EDT -> 01:00 EST. */
    fields_are("America/New_York", utc(2026, 11, 1, 5, 30), 2026, 11, 1, 1, 30, -14400);
    fields_are("America/New_York", utc(2026, 11, 1, 6, 30), 2026, 11, 1, 1, 30, -18000);
}

static void test_london_fields_follow_dst(void **state)
{
    (void)state;
    fields_are("Europe/London", utc(2026, 3, 29, 0, 59), 2026, 3, 29, 0, 59, 0);
    fields_are("Europe/London", utc(2026, 3, 29, 1, 0), 2026, 3, 29, 2, 0, 3600);
    fields_are("Europe/London", utc(2026, 10, 25, 0, 30), 2026, 10, 25, 1, 30, 3600);
    fields_are("Europe/London", utc(2026, 10, 25, 1, 30), 2026, 10, 25, 1, 30, 0);
}

static void test_local_fields_refuse_unknown_zone(void **state)
{
    (void)state;
    int y = 0;
    assert_int_equal(cd_tz_local_fields("Mars/Olympus", 0, &y, NULL, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(cd_tz_local_fields(NULL, 0, &y, NULL, NULL, NULL, NULL, NULL), -1);
}

static void test_local_date_subtracts_on_local_calendar(void **state)
{
    (void)state;
    /* 00:30 IST on 2026-03-01 = 2026-02-28 19:00Z: the local T is March 1,
     * so T-1 is February 28, although the UTC date is already Feb 28. */
    int64_t t = utc(2026, 2, 28, 19, 0);
    date_is("Asia/Kolkata", t, 0, "2026-03-01");
    date_is("Asia/Kolkata", t, 1, "2026-02-28");
    date_is("Asia/Kolkata", t, 2, "2026-02-27");
    date_is("UTC", t, 1, "2026-02-27");
    /* Leap day and year boundary. */
    date_is("Asia/Kolkata", utc(2024, 2, 29, 19, 0), 1, "2024-02-29");
    date_is("Asia/Kolkata", utc(2025, 12, 31, 19, 0), 1, "2025-12-31");
    date_is("Asia/Kolkata", utc(2025, 12, 31, 19, 0), 366, "2024-12-31");
    /* Negative days_back looks forward. */
    date_is("Asia/Kolkata", t, -1, "2026-03-02");
}

static void test_local_date_across_dst_days(void **state)
{
    (void)state;
    /* The 23-hour day: 00:30 EDT on 2026-03-09 minus one day is March 8. */
    date_is("America/New_York", utc(2026, 3, 9, 4, 30), 1, "2026-03-08");
    /* 23:30 EST on the 25-hour day 2026-11-01 is 04:30Z on November 2. */
    date_is("America/New_York", utc(2026, 11, 2, 4, 30), 0, "2026-11-01");
    date_is("America/New_York", utc(2026, 11, 2, 4, 30), 1, "2026-10-31");
    date_is("Europe/London", utc(2026, 10, 24, 23, 30), 0, "2026-10-25");
}

static void test_local_date_errors(void **state)
{
    (void)state;
    char out[11] = "unchanged";
    char *err = NULL;
    assert_int_equal(cd_tz_local_date("Mars/Olympus", 0, 1, out, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, "unknown time zone 'Mars/Olympus'"));
    free(err);
    err = NULL;
    assert_int_equal(cd_tz_local_date("UTC", 0, 2000000000, out, &err), -1);
    assert_non_null(strstr(err, "out of range"));
    free(err);
    err = NULL;
    assert_int_equal(cd_tz_local_date("UTC", INT64_MAX, 0, out, &err), -1);
    assert_non_null(strstr(err, "outside years"));
    free(err);
    /* Before year 1 after subtracting. */
    err = NULL;
    assert_int_equal(cd_tz_local_date("UTC", utc(1, 1, 1, 0, 0), 1, out, &err), -1);
    free(err);
    assert_string_equal(out, "unchanged");
    /* err may be NULL. */
    assert_int_equal(cd_tz_local_date("Mars/Olympus", 0, 1, out, NULL), -1);
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 4
#define ROUNDS 3000

static const char *const ZONES[] = {"Asia/Kolkata", "America/New_York", "Europe/London",
                                    "Australia/Lord_Howe", "UTC"};

typedef struct work {
    int index;
    int mismatches;
    int want[5][ROUNDS]; /* expected offsets, computed before the threads start */
} work;

static void *offsets_worker(void *p)
{
    work *w = p;
    for (int r = 0; r < ROUNDS; r++) {
        /* Each thread walks the zones in a different order, so that they
         * really are in different zones at the same moment. */
        int z = (r + w->index) % 5;
        int64_t t = utc(2026, 1, 1, 0, 0) + (int64_t)r * 10513;
        int off = 0;
        if (cd_tz_local_fields(ZONES[z], t, NULL, NULL, NULL, NULL, NULL, &off) != 0 ||
            off != w->want[z][r])
            w->mismatches++;
    }
    return NULL;
}

static void test_threads_get_the_same_answers(void **state)
{
    (void)state;
    static work w[THREADS];
    for (int z = 0; z < 5; z++) {
        for (int r = 0; r < ROUNDS; r++) {
            int64_t t = utc(2026, 1, 1, 0, 0) + (int64_t)r * 10513;
            int off = 0;
            assert_int_equal(cd_tz_local_fields(ZONES[z], t, NULL, NULL, NULL, NULL, NULL, &off), 0);
            for (int i = 0; i < THREADS; i++)
                w[i].want[z][r] = off;
        }
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].index = i;
        w[i].mismatches = 0;
        assert_int_equal(pthread_create(&th[i], NULL, offsets_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].mismatches, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_zones_are_icu_system_ids),
        cmocka_unit_test(test_invalid_zones_are_refused),
        cmocka_unit_test(test_kolkata_fields_are_utc_plus_0530),
        cmocka_unit_test(test_new_york_fields_follow_dst),
        cmocka_unit_test(test_london_fields_follow_dst),
        cmocka_unit_test(test_local_fields_refuse_unknown_zone),
        cmocka_unit_test(test_local_date_subtracts_on_local_calendar),
        cmocka_unit_test(test_local_date_across_dst_days),
        cmocka_unit_test(test_local_date_errors),
        cmocka_unit_test(test_threads_get_the_same_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
