/*
 * test_tz.c — IANA zones read from the system's TZif files: which names
 * are zones, local fields and offsets across DST (with the current rules:
 * ICU's bundled 2022e data had Mexico City in DST and no Ciudad_Juarez),
 * the same offsets as glibc reading the same files, the local business
 * date "T minus n days" (taken on the local calendar, not the UTC one),
 * zones from $TZDIR (compiled with zic, or broken on purpose), and the same
 * answers from many threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "datetime.h"
#include "tz_internal.h"

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

static void test_valid_zones_are_zone_files(void **state)
{
    (void)state;
    assert_true(cd_tz_valid("Asia/Kolkata"));
    assert_true(cd_tz_valid("America/New_York"));
    assert_true(cd_tz_valid("Europe/London"));
    assert_true(cd_tz_valid("UTC"));
    assert_true(cd_tz_valid("Etc/UTC"));
    assert_true(cd_tz_valid("Asia/Calcutta")); /* backward link, still in tzdata */
    assert_true(cd_tz_valid("Australia/Lord_Howe"));
    assert_true(cd_tz_valid("America/Ciudad_Juarez")); /* new in 2022g: unknown to ICU 72 */
    assert_true(cd_tz_valid("Etc/GMT+5"));
    assert_true(cd_tz_valid("Antarctica/Troll"));
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
    /* names that would leave the zone directory or are not zones */
    assert_false(cd_tz_valid("../zoneinfo/UTC"));
    assert_false(cd_tz_valid("Europe/../UTC"));
    assert_false(cd_tz_valid("./UTC"));
    assert_false(cd_tz_valid("/usr/share/zoneinfo/UTC"));
    assert_false(cd_tz_valid("/UTC"));
    assert_false(cd_tz_valid("Europe//London"));
    assert_false(cd_tz_valid("Europe/London/"));
    assert_false(cd_tz_valid("Europe"));          /* a directory */
    assert_false(cd_tz_valid("localtime"));
    assert_false(cd_tz_valid("posixrules"));
    assert_false(cd_tz_valid("right/UTC"));       /* leap seconds */
    assert_false(cd_tz_valid("right/Europe/London"));
    assert_false(cd_tz_valid("zone.tab"));        /* a file, but not TZif */
    assert_false(cd_tz_valid("tzdata.zi"));
    assert_false(cd_tz_valid("Europe/Lon\\don"));
    assert_false(cd_tz_valid("Europe/London\n"));
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

/* Zones whose rules changed after ICU 72's bundled tz 2022e. */
static void test_rules_newer_than_2022e(void **state)
{
    (void)state;
    /* Mexico abolished DST in 2022: 02:00 in July is 08:00Z, not 07:00Z. */
    fields_are("America/Mexico_City", utc(2026, 7, 1, 8, 0), 2026, 7, 1, 2, 0, -21600);
    cd_cron c;
    assert_int_equal(cd_cron_parse("0 2 * * *", &c, NULL), 0);
    int64_t next = 0;
    assert_int_equal(cd_cron_next(&c, "America/Mexico_City", utc(2026, 7, 1, 0, 0), &next, NULL), 0);
    assert_true(next == utc(2026, 7, 1, 8, 0));
    /* Egypt brought DST back in 2023. */
    fields_are("Africa/Cairo", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 15, 0, 10800);
    fields_are("Africa/Cairo", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 14, 0, 7200);
    /* Paraguay: permanent -03 since October 2024. */
    fields_are("America/Asuncion", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 9, 0, -10800);
    fields_are("America/Asuncion", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 9, 0, -10800);
    /* Greenland: -02 with EU-style DST since 2023. */
    fields_are("America/Nuuk", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 11, 0, -3600);
    fields_are("America/Nuuk", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 10, 0, -7200);
    /* Kazakhstan: one zone, +05, since March 2024. */
    fields_are("Asia/Almaty", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 17, 0, 18000);
    /* Ciudad Juarez follows the US since November 2022. */
    fields_are("America/Ciudad_Juarez", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 6, 0, -21600);
    fields_are("America/Ciudad_Juarez", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 5, 0, -25200);
}

static void test_odd_offsets_and_far_future(void **state)
{
    (void)state;
    fields_are("Asia/Kathmandu", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 17, 45, 20700);
    /* Lord Howe's DST is half an hour: +10:30 / +11 */
    fields_are("Australia/Lord_Howe", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 22, 30, 37800);
    fields_are("Australia/Lord_Howe", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 23, 0, 39600);
    /* Troll: +00, and +02 in the (northern) summer */
    fields_are("Antarctica/Troll", utc(2026, 7, 1, 12, 0), 2026, 7, 1, 14, 0, 7200);
    fields_are("Antarctica/Troll", utc(2026, 1, 1, 12, 0), 2026, 1, 1, 12, 0, 0);
    /* 2100 is past every file's table: the footer rule answers. */
    fields_are("America/New_York", utc(2100, 7, 1, 12, 0), 2100, 7, 1, 8, 0, -14400);
    fields_are("America/New_York", utc(2100, 1, 1, 12, 0), 2100, 1, 1, 7, 0, -18000);
    fields_are("America/New_York", utc(2100, 3, 14, 6, 59), 2100, 3, 14, 1, 59, -18000);
    fields_are("America/New_York", utc(2100, 3, 14, 7, 0), 2100, 3, 14, 3, 0, -14400);
    fields_are("Australia/Sydney", utc(2100, 1, 15, 0, 0), 2100, 1, 15, 11, 0, 39600);
    fields_are("Australia/Sydney", utc(2100, 7, 15, 0, 0), 2100, 7, 15, 10, 0, 36000);
    /* Sydney's DST spans the new year. */
    fields_are("Australia/Sydney", utc(2099, 12, 31, 13, 0), 2100, 1, 1, 0, 0, 39600);
    date_is("Australia/Sydney", utc(2099, 12, 31, 13, 0), 0, "2100-01-01");
    /* A skipped time in 2100 runs at the change (Vixie cron). */
    cd_cron c;
    assert_int_equal(cd_cron_parse("30 2 * * *", &c, NULL), 0);
    int64_t next = 0;
    assert_int_equal(cd_cron_next(&c, "America/New_York", utc(2100, 3, 13, 12, 0), &next, NULL), 0);
    assert_true(next == utc(2100, 3, 14, 7, 0));
}

/* glibc reads the same files: for the zones of zone1970.tab, its offsets
 * at instants from 1970 to 2100 must be ours. */
static void test_offsets_match_glibc(void **state)
{
    (void)state;
    FILE *tab = fopen("/usr/share/zoneinfo/zone1970.tab", "r");
    if (!tab)
        skip();
    char line[512];
    int zones = 0;
    while (fgets(line, sizeof line, tab)) {
        if (line[0] == '#')
            continue;
        /* codes TAB coordinates TAB name [TAB comment] */
        char *name = strchr(line, '\t');
        name = name ? strchr(name + 1, '\t') : NULL;
        if (!name)
            continue;
        name++;
        name[strcspn(name, "\t\n")] = '\0';
        char *tz = NULL;
        assert_true(asprintf(&tz, ":%s", name) > 0);
        setenv("TZ", tz, 1);
        tzset();
        free(tz);
        zones++;
        for (int64_t t = utc(1970, 1, 1, 0, 0); t < utc(2100, 1, 1, 0, 0); t += 86400 * 5 + 3613) {
            time_t tt = (time_t)t;
            struct tm tm;
            assert_non_null(localtime_r(&tt, &tm));
            int off = 0;
            if (cd_tz_local_fields(name, t, NULL, NULL, NULL, NULL, NULL, &off) != 0)
                fail_msg("%s: unknown", name);
            if (off != tm.tm_gmtoff)
                fail_msg("%s at %lld: %d, glibc says %ld", name, (long long)t, off, tm.tm_gmtoff);
        }
    }
    fclose(tab);
    unsetenv("TZ");
    tzset();
    assert_true(zones > 200);
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

/* ---- zones from $TZDIR ----------------------------------------------------- */

static char tzdir[64];

static void write_file(const char *rel, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tzdir, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int setup_tzdir(void **state)
{
    (void)state;
    snprintf(tzdir, sizeof tzdir, "/tmp/cd-test-tz-XXXXXX");
    if (!mkdtemp(tzdir))
        return -1;
    /* Footers zic writes for rules on a fixed date (Jn), at negative
     * times and at up to 167 hours. */
    static const char src[] =
        "Rule\tTst\t2000\tmax\t-\tMar\t20\t24:00\t1:00\tD\n"
        "Rule\tTst\t2000\tmax\t-\tSep\t22\t-1:00\t0\tS\n"
        "Zone\tTest/Julian\t3:00\tTst\t+03/+04\n"
        "Rule\tBig\t2000\tmax\t-\tMar\tSun>=1\t167:00\t1:00\tD\n"
        "Rule\tBig\t2000\tmax\t-\tOct\tlastSun\t25:00\t0\tS\n"
        "Zone\tTest/Big\t-3:00\tBig\t-03/-02\n";
    write_file("src.zi", src, sizeof src - 1);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zic -b slim -d %s %s/src.zi", tzdir, tzdir);
    if (system(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s/Broken", tzdir);
    if (mkdir(cmd, 0700) != 0)
        return -1;
    setenv("TZDIR", tzdir, 1);
    return 0;
}

static int teardown_tzdir(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tzdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_tzdir_zic_footers(void **state)
{
    (void)state;
    /* J79/24: 2026-03-21 00:00 +03 = 03-20 21:00Z, in a leap year too */
    fields_are("Test/Julian", utc(2026, 3, 20, 20, 59), 2026, 3, 20, 23, 59, 10800);
    fields_are("Test/Julian", utc(2026, 3, 20, 21, 0), 2026, 3, 21, 1, 0, 14400);
    fields_are("Test/Julian", utc(2028, 3, 20, 21, 0), 2028, 3, 21, 1, 0, 14400);
    /* J265/-1: Sep 22 at -1:00 +04 = Sep 21 23:00 +04 = 19:00Z */
    fields_are("Test/Julian", utc(2026, 9, 21, 18, 59), 2026, 9, 21, 22, 59, 14400);
    fields_are("Test/Julian", utc(2026, 9, 21, 19, 0), 2026, 9, 21, 22, 0, 10800);
    /* M3.1.0/167: March 1 2026 + 6 d 23 h, -03 = March 8 02:00Z */
    fields_are("Test/Big", utc(2026, 3, 8, 1, 59), 2026, 3, 7, 22, 59, -10800);
    fields_are("Test/Big", utc(2026, 3, 8, 2, 0), 2026, 3, 8, 0, 0, -7200);
    /* M10.5.0/25: Oct 25 2026 + 25 h = Oct 26 01:00 -02 = 03:00Z */
    fields_are("Test/Big", utc(2026, 10, 26, 2, 59), 2026, 10, 26, 0, 59, -7200);
    fields_are("Test/Big", utc(2026, 10, 26, 3, 0), 2026, 10, 26, 0, 0, -10800);
    /* the gap (23:00-00:00 on March 7) and the slot Vixie cron gives it */
    cd_cron c;
    assert_int_equal(cd_cron_parse("30 23 * * *", &c, NULL), 0);
    int64_t next = 0;
    assert_int_equal(cd_cron_next(&c, "Test/Big", utc(2026, 3, 7, 12, 0), &next, NULL), 0);
    assert_true(next == utc(2026, 3, 8, 2, 0));
    /* the zones of /usr/share/zoneinfo are not there */
    assert_false(cd_tz_valid("Europe/Paris"));
}

/* Asserts that zone `name` is refused and the message contains want. */
static void refused_with(const char *name, const char *want)
{
    char *err = NULL;
    cd_tzcal *c = cd_tzcal_get(name, &err);
    if (c)
        fail_msg("%s was accepted", name);
    if (!err || !strstr(err, want))
        fail_msg("%s: '%s' does not say '%s'", name, err ? err : "(null)", want);
    free(err);
    assert_false(cd_tz_valid(name));
}

static void test_tzdir_broken_files(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/Test/Big", tzdir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char good[8192];
    size_t n = fread(good, 1, sizeof good, f);
    fclose(f);
    assert_true(n > 100);

    write_file("Broken/Truncated", good, n / 2);
    refused_with("Broken/Truncated", "malformed");
    static unsigned char bad[8192];
    memcpy(bad, good, n);
    memset(bad + 32, 0xff, 4); /* timecnt of the first header: 4 billion */
    write_file("Broken/Counts", bad, n);
    refused_with("Broken/Counts", "counts exceed");
    memcpy(bad, good, n);
    bad[n - 3] = '!'; /* in the footer's TZ string */
    write_file("Broken/Footer", bad, n);
    refused_with("Broken/Footer", "footer");
    write_file("Broken/Text", "not a zone\n", 11);
    refused_with("Broken/Text", "malformed");
    write_file("Broken/Empty", "", 0);
    refused_with("Broken/Empty", "malformed");
    refused_with("Broken/Missing", "unknown time zone 'Broken/Missing'");
    refused_with("Broken", "unknown time zone 'Broken'");
    refused_with("../etc", "unknown time zone '../etc'");
    /* the messages name the zone */
    char *err = NULL;
    assert_null(cd_tzcal_get("Broken/Footer", &err));
    assert_non_null(strstr(err, "'Broken/Footer'"));
    free(err);
    /* a broken zone is not cached: fixed, it loads */
    write_file("Broken/Truncated", good, n);
    assert_true(cd_tz_valid("Broken/Truncated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_zones_are_zone_files),
        cmocka_unit_test(test_invalid_zones_are_refused),
        cmocka_unit_test(test_kolkata_fields_are_utc_plus_0530),
        cmocka_unit_test(test_new_york_fields_follow_dst),
        cmocka_unit_test(test_london_fields_follow_dst),
        cmocka_unit_test(test_rules_newer_than_2022e),
        cmocka_unit_test(test_odd_offsets_and_far_future),
        cmocka_unit_test(test_offsets_match_glibc),
        cmocka_unit_test(test_local_fields_refuse_unknown_zone),
        cmocka_unit_test(test_local_date_subtracts_on_local_calendar),
        cmocka_unit_test(test_local_date_across_dst_days),
        cmocka_unit_test(test_local_date_errors),
        cmocka_unit_test(test_threads_get_the_same_answers),
        cmocka_unit_test_setup_teardown(test_tzdir_zic_footers, setup_tzdir, teardown_tzdir),
        cmocka_unit_test_setup_teardown(test_tzdir_broken_files, setup_tzdir, teardown_tzdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
