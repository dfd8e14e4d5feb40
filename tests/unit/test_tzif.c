/*
 * test_tzif.c — the TZif reader on its own: POSIX TZ footer rules in every
 * form RFC 8536 allows (Jn, n, Mm.w.d; negative and beyond-24-hour
 * transition times; southern hemisphere; permanent DST; no DST), wall-time
 * resolution at gaps and overlaps, and files that must be refused without
 * reading out of bounds: every truncation of a real zone, header counts
 * that lie, bad footers, leap-second records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datetime.h"
#include "tz_internal.h"
#include "tzif.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (int64_t)cd_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static cd_tzif *posix(const char *s)
{
    char *err = NULL;
    cd_tzif *z = cd_tzif_from_posix(s, strlen(s), &err);
    if (!z)
        fail_msg("'%s': %s", s, err);
    return z;
}

static void offset_is(const cd_tzif *z, int64_t t, int32_t want)
{
    int32_t got = cd_tzif_offset(z, t);
    if (got != want)
        fail_msg("offset at %lld: got %d, want %d", (long long)t, got, want);
}

/* Asserts that the offset changes from before to after exactly at t. */
static void change_at(const cd_tzif *z, int64_t t, int32_t before, int32_t after)
{
    offset_is(z, t - 1, before);
    offset_is(z, t, after);
}

/* ---- a TZif builder ------------------------------------------------------ */

typedef struct bytes {
    unsigned char data[4096];
    size_t len;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    assert_true(b->len + n <= sizeof b->data);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put32(bytes *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(b, p, 4);
}

static void put64(bytes *b, int64_t v)
{
    put32(b, (uint32_t)((uint64_t)v >> 32));
    put32(b, (uint32_t)(uint64_t)v);
}

static void header(bytes *b, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt)
{
    put(b, "TZif", 4);
    put(b, &version, 1);
    static const unsigned char zero[15];
    put(b, zero, sizeof zero);
    put32(b, 0);       /* isutcnt */
    put32(b, 0);       /* isstdcnt */
    put32(b, 0);       /* leapcnt */
    put32(b, timecnt);
    put32(b, typecnt);
    put32(b, charcnt);
}

/* A version-`version` file: transitions at[i] to type idx[i]; types with
 * offsets off[0..ntypes); footer (NULL for version 1). */
static void build(bytes *b, char version, const int64_t *at, const unsigned char *idx, int n,
                  const int32_t *off, int ntypes, const char *footer)
{
    b->len = 0;
    int wide = version != 0;
    if (wide) { /* a minimal 32-bit block for old readers, then the real one */
        header(b, version, 0, 1, 4);
        put32(b, 0);
        put(b, "\0\0", 2);
        put(b, "UTC", 4);
    }
    header(b, version, (uint32_t)n, (uint32_t)ntypes, 4);
    for (int i = 0; i < n; i++) {
        if (wide)
            put64(b, at[i]);
        else
            put32(b, (uint32_t)(int32_t)at[i]);
    }
    put(b, idx, (size_t)n);
    for (int i = 0; i < ntypes; i++) {
        put32(b, (uint32_t)off[i]);
        unsigned char flags[2] = {0, 0};
        put(b, flags, 2);
    }
    put(b, "ABC", 4);
    if (wide) {
        put(b, "\n", 1);
        put(b, footer, strlen(footer));
        put(b, "\n", 1);
    }
}

static cd_tzif *parse_ok(const bytes *b)
{
    char *err = NULL;
    cd_tzif *z = cd_tzif_parse(b->data, b->len, &err);
    if (!z)
        fail_msg("parse: %s", err);
    return z;
}

static void parse_fails(const unsigned char *p, size_t n, const char *why)
{
    char *err = NULL;
    cd_tzif *z = cd_tzif_parse(p, n, &err);
    if (z) {
        cd_tzif_free(z);
        fail_msg("parsed a bad file (%s)", why);
    }
    assert_non_null(err);
    free(err);
}

/* ---- footer rules -------------------------------------------------------- */

static void test_month_week_day_rule(void **state)
{
    (void)state;
    cd_tzif *z = posix("EST5EDT,M3.2.0,M11.1.0");
    change_at(z, utc(2026, 3, 8, 7, 0), -18000, -14400);  /* 02:00 EST */
    change_at(z, utc(2026, 11, 1, 6, 0), -14400, -18000); /* 02:00 EDT */
    /* far future: 2100-03-14 and 2100-11-07 are the Sundays */
    change_at(z, utc(2100, 3, 14, 7, 0), -18000, -14400);
    change_at(z, utc(2100, 11, 7, 6, 0), -14400, -18000);
    cd_tzif_free(z);
    /* week 5 = the last one, whether the month has four or five */
    z = posix("CET-1CEST,M3.5.0,M10.5.0/3");
    change_at(z, utc(2026, 3, 29, 1, 0), 3600, 7200);
    change_at(z, utc(2026, 10, 25, 1, 0), 7200, 3600);
    change_at(z, utc(2027, 3, 28, 1, 0), 3600, 7200);
    cd_tzif_free(z);
}

static void test_julian_rules(void **state)
{
    (void)state;
    /* Jn never counts February 29: J79 is March 20 in leap years too. */
    cd_tzif *z = posix("<+0330>-3:30<+0430>,J79/24,J263/24");
    change_at(z, utc(2020, 3, 20, 20, 30), 12600, 16200);
    change_at(z, utc(2021, 3, 20, 20, 30), 12600, 16200);
    change_at(z, utc(2020, 9, 20, 19, 30), 16200, 12600); /* J263 = Sep 20, 24:00 */
    cd_tzif_free(z);
    /* n counts from 0 with February 29: day 59 is Feb 29 in 2024, Mar 1 in 2025. */
    z = posix("AAA0BBB,59/0,300/0");
    change_at(z, utc(2024, 2, 29, 0, 0), 0, 3600);
    change_at(z, utc(2025, 3, 1, 0, 0), 0, 3600);
    change_at(z, ((int64_t)cd_days_from_civil(2024, 1, 1) + 300) * 86400 - 3600, 3600, 0);
    cd_tzif_free(z);
}

static void test_extended_times(void **state)
{
    (void)state;
    /* Nuuk since 2023: the change at -1:00 local is 23:00 the day before. */
    cd_tzif *z = posix("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    change_at(z, utc(2026, 3, 29, 1, 0), -7200, -3600);
    change_at(z, utc(2026, 10, 25, 1, 0), -3600, -7200);
    cd_tzif_free(z);
    /* 167 hours after the first Sunday of March (2026-03-01) is March 7
     * 23:00; 167 hours before the first Sunday of October (Oct 4) in DST
     * is September 27 01:00 local, 00:00Z. */
    z = posix("XXX0YYY,M3.1.0/167,M10.1.0/-167");
    change_at(z, utc(2026, 3, 7, 23, 0), 0, 3600);
    change_at(z, utc(2026, 9, 27, 0, 0), 3600, 0);
    cd_tzif_free(z);
    /* with minutes and seconds, signed offsets */
    z = posix("<-0130>+1:30<-0030>-0:30:15,M4.1.0/1:02:03,M9.1.0/-0:30");
    offset_is(z, utc(2026, 1, 15, 0, 0), -5400);
    offset_is(z, utc(2026, 6, 15, 0, 0), 1815);
    cd_tzif_free(z);
}

static void test_southern_and_permanent_dst(void **state)
{
    (void)state;
    cd_tzif *z = posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
    offset_is(z, utc(2100, 1, 15, 0, 0), 39600);
    offset_is(z, utc(2100, 7, 15, 0, 0), 36000);
    /* 2026-04-05 03:00 AEDT and 2026-10-04 02:00 AEST */
    change_at(z, utc(2026, 4, 4, 16, 0), 39600, 36000);
    change_at(z, utc(2026, 10, 3, 16, 0), 36000, 39600);
    /* across the new year the offset stays DST */
    offset_is(z, utc(2026, 12, 31, 13, 0), 39600);
    offset_is(z, utc(2026, 12, 31, 13, 30), 39600);
    int64_t first, last;
    assert_int_equal(cd_tzif_resolve(z, utc(2027, 1, 1, 0, 30), &first, &last), CD_WALL_NORMAL);
    assert_true(first == utc(2026, 12, 31, 13, 30));
    cd_tzif_free(z);

    /* DST all year (how zic writes it): no change, no gap, at any new year. */
    z = posix("EST5EDT4,0/0,J365/25");
    for (int y = 2020; y < 2030; y++) {
        offset_is(z, utc(y, 1, 1, 4, 0), -14400);
        offset_is(z, utc(y, 1, 1, 5, 0), -14400);
        offset_is(z, utc(y, 6, 1, 0, 0), -14400);
        offset_is(z, utc(y, 12, 31, 23, 59), -14400);
        assert_int_equal(cd_tzif_resolve(z, utc(y, 1, 1, 0, 30), &first, &last), CD_WALL_NORMAL);
        assert_true(first == utc(y, 1, 1, 4, 30));
    }
    cd_tzif_free(z);

    z = posix("<+0545>-5:45");
    offset_is(z, utc(2100, 1, 1, 0, 0), 20700);
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 1, 1, 0, 0), &first, &last), CD_WALL_NORMAL);
    assert_true(first == last && first == utc(2025, 12, 31, 18, 15));
    cd_tzif_free(z);
}

static void test_resolve_gaps_and_overlaps(void **state)
{
    (void)state;
    cd_tzif *z = posix("EST5EDT,M3.2.0,M11.1.0");
    int64_t first, last;
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 3, 8, 2, 30), &first, &last), CD_WALL_SKIPPED);
    assert_true(first == utc(2026, 3, 8, 7, 0) && last == first);
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 3, 8, 3, 0), &first, &last), CD_WALL_NORMAL);
    assert_true(first == utc(2026, 3, 8, 7, 0) && last == first);
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 3, 8, 1, 59), &first, &last), CD_WALL_NORMAL);
    assert_true(first == utc(2026, 3, 8, 6, 59));
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 11, 1, 1, 30), &first, &last), CD_WALL_REPEATED);
    assert_true(first == utc(2026, 11, 1, 5, 30) && last == utc(2026, 11, 1, 6, 30));
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 11, 1, 2, 0), &first, &last), CD_WALL_NORMAL);
    assert_true(first == utc(2026, 11, 1, 7, 0));
    cd_tzif_free(z);
    /* Troll's two-hour DST: 01:00 UTC jumps to 03:00. */
    z = posix("<+00>0<+02>-2,M3.5.0/1,M10.5.0/3");
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 3, 29, 2, 0), &first, &last), CD_WALL_SKIPPED);
    assert_true(first == utc(2026, 3, 29, 1, 0));
    assert_int_equal(cd_tzif_resolve(z, utc(2026, 10, 25, 2, 0), &first, &last), CD_WALL_REPEATED);
    assert_true(first == utc(2026, 10, 25, 0, 0) && last == utc(2026, 10, 25, 2, 0));
    cd_tzif_free(z);
}

static void test_bad_tz_strings(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "E5", "EST", "EST5EDT", "EST5EDT,M3.2.0", "EST5EDT,M3.2.0,M11.1.0,", "EST25",
        "EST5EDT,J0,J365", "EST5EDT,366,1", "<AB>5", "<EST5", "<E$T>5", "EST5EDT,M3.6.0,M11.1.0",
        "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M0.2.0,M11.1.0",
        "EST5EDT,M3.2.0/168,M11.1.0", "EST5EDT,M3.2.0/-168,M11.1.0", "EST5:60", "EST5EDT,X,Y",
        "EST+", "EST5 ", "EST5EDT25,M3.2.0,M11.1.0", "EST5EDT,M3.2.0,M11.1.0/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *err = NULL;
        cd_tzif *z = cd_tzif_from_posix(bad[i], strlen(bad[i]), &err);
        if (z)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(err, "bad POSIX TZ string"));
        free(err);
    }
    /* The length counts, not a NUL: "EST5EDT" cut after "EST5" is a zone. */
    cd_tzif *z = cd_tzif_from_posix("EST5EDT", 4, NULL);
    assert_non_null(z);
    offset_is(z, 0, -18000);
    cd_tzif_free(z);
}

/* ---- TZif files ---------------------------------------------------------- */

static void test_table_then_footer(void **state)
{
    (void)state;
    /* +01 until 2000, then +02 until 2010, then the footer's EU-style rule. */
    static const int64_t at[] = {946684800, 1262304000};
    static const unsigned char idx[] = {1, 2};
    static const int32_t off[] = {3600, 7200, 3600};
    static bytes b;
    build(&b, '3', at, idx, 2, off, 3, "CET-1CEST,M3.5.0,M10.5.0/3");
    cd_tzif *z = parse_ok(&b);
    offset_is(z, utc(1990, 7, 1, 0, 0), 3600); /* before the first: type 0 */
    offset_is(z, utc(2005, 1, 1, 0, 0), 7200);
    offset_is(z, utc(2005, 7, 1, 0, 0), 7200);
    offset_is(z, utc(2026, 1, 1, 0, 0), 3600);
    offset_is(z, utc(2026, 7, 1, 0, 0), 7200);
    /* the table's last change (+02 to +01 at 2010-01-01 00:00Z) repeats
     * the local hour 01:00-02:00 */
    int64_t first, last;
    assert_int_equal(cd_tzif_resolve(z, utc(2010, 1, 1, 1, 30), &first, &last), CD_WALL_REPEATED);
    assert_true(first == utc(2009, 12, 31, 23, 30) && last == utc(2010, 1, 1, 0, 30));
    cd_tzif_free(z);

    /* An empty footer: the last transition's type goes on forever. */
    build(&b, '2', at, idx, 2, off, 3, "");
    z = parse_ok(&b);
    offset_is(z, utc(2026, 7, 1, 0, 0), 3600);
    offset_is(z, utc(2100, 1, 1, 0, 0), 3600);
    cd_tzif_free(z);

    /* Version 1: 32-bit times, no footer. */
    build(&b, 0, at, idx, 2, off, 3, NULL);
    z = parse_ok(&b);
    offset_is(z, utc(2005, 7, 1, 0, 0), 7200);
    offset_is(z, utc(2026, 7, 1, 0, 0), 3600);
    cd_tzif_free(z);

    /* No transitions: the footer for all time (RFC 8536, 3.2). */
    build(&b, '4', NULL, NULL, 0, off, 1, "<+0545>-5:45");
    z = parse_ok(&b);
    offset_is(z, utc(1900, 1, 1, 0, 0), 20700);
    cd_tzif_free(z);
}

static void test_malformed_files_are_refused(void **state)
{
    (void)state;
    static const int64_t at[] = {946684800, 1262304000};
    static const unsigned char idx[] = {1, 2};
    static const int32_t off[] = {3600, 7200, 3600};
    static bytes good, b;
    build(&good, '2', at, idx, 2, off, 3, "CET-1CEST,M3.5.0,M10.5.0/3");

    /* every truncation */
    for (size_t n = 0; n < good.len; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees overreads */
        memcpy(copy, good.data, n);
        parse_fails(copy, n, "truncated");
        free(copy);
    }
    /* counts that lie: every count field of both headers set huge */
    for (int h = 0; h < 2; h++) {
        size_t base = h == 0 ? 0 : 44 + 4 + 2 + 4; /* the second header follows the 32-bit block */
        for (int f = 0; f < 6; f++) {
            b = good;
            memset(b.data + base + 20 + f * 4, 0xff, 4);
            parse_fails(b.data, b.len, "huge count");
            b = good;
            b.data[base + 20 + f * 4 + 3] ^= 1; /* off by one */
            parse_fails(b.data, b.len, "count off by one");
        }
    }
    /* bad footers */
    build(&b, '2', at, idx, 2, off, 3, "CET-1CEST,M13.5.0,M10.5.0/3");
    parse_fails(b.data, b.len, "month 13");
    build(&b, '2', at, idx, 2, off, 3, "CET-1CEST");
    parse_fails(b.data, b.len, "DST without rule");
    b = good;
    b.data[b.len - 1] = 'x';
    parse_fails(b.data, b.len, "footer without closing newline");
    b = good;
    b.data[b.len++] = 'x';
    parse_fails(b.data, b.len, "data after the footer");
    /* unordered transitions, a missing type, a wild offset, no types */
    static const int64_t backwards[] = {1262304000, 946684800};
    build(&b, '2', backwards, idx, 2, off, 3, "");
    parse_fails(b.data, b.len, "unordered");
    static const unsigned char bad_idx[] = {1, 3};
    build(&b, '2', at, bad_idx, 2, off, 3, "");
    parse_fails(b.data, b.len, "type 3 of 3");
    static const int32_t wild[] = {3600, 200000, 3600};
    build(&b, '2', at, idx, 2, wild, 3, "");
    parse_fails(b.data, b.len, "offset beyond 26 hours");
    build(&b, '2', NULL, NULL, 0, off, 0, "");
    parse_fails(b.data, b.len, "no types");
    b = good;
    b.data[4] = '5';
    parse_fails(b.data, b.len, "version 5");
    b = good;
    b.data[0] = 'X';
    parse_fails(b.data, b.len, "magic");
    parse_fails(NULL, 0, "no data");
}

/* Leap-second zones (right/) and real files: every truncation of
 * America/New_York fails cleanly, and the whole file parses. */
static void test_system_files(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/America/New_York", "rb");
    if (!f)
        skip();
    static unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *err = NULL;
    cd_tzif *z = cd_tzif_parse(buf, n, &err);
    assert_non_null(z);
    offset_is(z, utc(2100, 7, 1, 0, 0), -14400);
    offset_is(z, utc(1950, 1, 1, 0, 0), -18000);
    cd_tzif_free(z);
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        parse_fails(copy, len, "truncated New_York");
        free(copy);
    }
    f = fopen("/usr/share/zoneinfo/right/UTC", "rb");
    if (f) {
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        err = NULL;
        assert_null(cd_tzif_parse(buf, n, &err));
        assert_non_null(strstr(err, "leap-second"));
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_month_week_day_rule),
        cmocka_unit_test(test_julian_rules),
        cmocka_unit_test(test_extended_times),
        cmocka_unit_test(test_southern_and_permanent_dst),
        cmocka_unit_test(test_resolve_gaps_and_overlaps),
        cmocka_unit_test(test_bad_tz_strings),
        cmocka_unit_test(test_table_then_footer),
        cmocka_unit_test(test_malformed_files_are_refused),
        cmocka_unit_test(test_system_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
