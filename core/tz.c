/*
 * tz.c — IANA time zones through ICU's ucal (see cron.h and tz_internal.h).
 *
 * glibc only converts local time through the process-wide TZ variable,
 * which is neither thread-safe nor per connector; ICU carries its own copy
 * of the tz database and converts in any zone through a UCalendar object,
 * so every function here is safe to call from any thread at once.
 */
#include "tz_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/utypes.h>

#include "icu_dyn.h"

#include "cron.h"
#include "datetime.h"
#include "util.h"

/* Longest zone id accepted. The longest IANA id is 32 characters
 * ("America/Argentina/ComodRivadavia"); anything longer is not a zone. */
#define TZ_ID_MAX 64

struct cd_tzcal {
    UCalendar *cal;
    char id[TZ_ID_MAX + 1];
};

/* Copies the ASCII zone id into u (NUL-terminated, at most TZ_ID_MAX
 * characters). -1 for NULL, empty, too long or non-printable-ASCII ids:
 * no IANA id has such characters, and ICU's invariant-character
 * conversion is undefined for them. */
static int zone_to_uchars(const char *tz, UChar u[TZ_ID_MAX + 1], int32_t *len)
{
    if (!tz || !*tz)
        return -1;
    size_t n = 0;
    for (; tz[n]; n++) {
        unsigned char ch = (unsigned char)tz[n];
        if (n >= TZ_ID_MAX || ch <= 0x20 || ch >= 0x7f)
            return -1;
        u[n] = (UChar)ch;
    }
    u[n] = 0;
    *len = (int32_t)n;
    return 0;
}

/* 1 if ICU knows tz as a system zone (its tz database, including the
 * backward-compatible links like "Asia/Calcutta"). Custom ids such as
 * "GMT+05:30" are refused: ucal_open would accept them, but they are not
 * IANA names and carry no DST rules, which is rarely what anyone meant. */
/* Ids ICU knows that the IANA database does not: Java's three-letter
 * compatibility ids and long-removed links. PostgreSQL (and every other
 * reader of the IANA names) does not know them, or reads them otherwise:
 * "IST" is Asia/Kolkata to ICU and Israel to PostgreSQL, so a connector in
 * "IST" got its scheduled and its manual runs on different business dates. */
static int icu_only_id(const char *tz)
{
    static const char *const ids[] = {
        "ACT", "AET", "AGT", "ART", "AST", "BET", "BST", "CAT", "CNT", "CST", "CTT",
        "EAT", "ECT", "IET", "IST", "JST", "MIT", "NET", "NST", "PLT", "PNT", "PRT",
        "PST", "SST", "VST", "Canada/East-Saskatchewan", "US/Pacific-New"};
    if (strncmp(tz, "SystemV/", 8) == 0)
        return 1;
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (strcmp(tz, ids[i]) == 0)
            return 1;
    return 0;
}

static int zone_known(const UChar *u, int32_t len)
{
    UChar canon[TZ_ID_MAX + 1];
    UBool is_system = 0;
    UErrorCode st = U_ZERO_ERROR;
    ucal_getCanonicalTimeZoneID(u, len, canon, TZ_ID_MAX, &is_system, &st);
    return U_SUCCESS(st) && is_system;
}

int cd_tz_valid(const char *tz)
{
    UChar u[TZ_ID_MAX + 1];
    int32_t len;
    return zone_to_uchars(tz, u, &len) == 0 && !icu_only_id(tz) && zone_known(u, len);
}

cd_tzcal *cd_tzcal_open(const char *tz, char **err)
{
    UChar u[TZ_ID_MAX + 1];
    int32_t len;
    /* ucal_open silently falls back to "Etc/Unknown" (UTC) for a name it
     * does not know, so the name is checked first: a typo in a
     * connector's zone must be an error, not a schedule in UTC. */
    if (zone_to_uchars(tz, u, &len) != 0 || icu_only_id(tz) || !zone_known(u, len)) {
        if (err) {
            if (tz && strlen(tz) <= TZ_ID_MAX)
                *err = cd_sprintf("unknown time zone '%s'", tz);
            else
                *err = cd_xstrdup(tz ? "unknown time zone (too long)" : "no time zone given");
        }
        return NULL;
    }
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(u, len, "en_US_POSIX", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (cal)
            ucal_close(cal);
        if (err)
            *err = cd_sprintf("time zone '%s': ICU cannot open a calendar (%s)", tz,
                              u_errorName(st));
        return NULL;
    }
    /* Proleptic Gregorian, so that wall times agree with cd_days_from_civil
     * even before 1582 (the default switches to Julian there). */
    ucal_setGregorianChange(cal, -8.64e15, &st);
    /* A wall time in a gap resolves to the transition instant, which is
     * both how gaps are detected (the fields read back differ) and when
     * Vixie cron runs a fixed-time job whose time was skipped. */
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    if (U_FAILURE(st)) {
        ucal_close(cal);
        if (err)
            *err = cd_sprintf("time zone '%s': %s", tz, u_errorName(st));
        return NULL;
    }
    cd_tzcal *c = cd_xcalloc(1, sizeof *c);
    c->cal = cal;
    memcpy(c->id, tz, (size_t)len + 1);
    return c;
}

void cd_tzcal_close(cd_tzcal *c)
{
    if (!c)
        return;
    ucal_close(c->cal);
    free(c);
}

/* ---- the per-thread cache ------------------------------------------------ */

/* Connectors share a few zones (Asia/Kolkata above all), so 32 calendars
 * per thread (a few kB each) make misses rare; a miss costs one ucal_open
 * (about 35 us, ten times a whole cached evaluation), as without the cache.
 * The lookup is a linear scan, which at this size is cheaper than hashing. */
#define TZ_CACHE_SLOTS 32

typedef struct tz_cache {
    cd_tzcal *slot[TZ_CACHE_SLOTS];
    unsigned next_victim;  /* round robin: simpler than LRU and as good here */
} tz_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

/* Thread-exit destructor: frees the exiting thread's calendars. */
static void cache_free(void *p)
{
    tz_cache *tc = p;
    for (int i = 0; i < TZ_CACHE_SLOTS; i++)
        cd_tzcal_close(tc->slot[i]);
    free(tc);
}

static void cache_key_create(void) { cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0; }

cd_tzcal *cd_tzcal_get(const char *tz, char **err)
{
    pthread_once(&cache_once, cache_key_create);
    if (!cache_key_ok) {
        if (err)
            *err = cd_xstrdup("time zones: cannot create the per-thread calendar cache");
        return NULL;
    }
    tz_cache *tc = pthread_getspecific(cache_key);
    if (!tc) {
        tc = cd_xcalloc(1, sizeof *tc);
        if (pthread_setspecific(cache_key, tc) != 0) {
            free(tc);
            if (err)
                *err = cd_xstrdup("time zones: cannot set the per-thread calendar cache");
            return NULL;
        }
    }
    if (tz) {
        for (int i = 0; i < TZ_CACHE_SLOTS; i++)
            if (tc->slot[i] && strcmp(tc->slot[i]->id, tz) == 0)
                return tc->slot[i];
    }
    /* Unknown zones are not cached: they fail in cd_tzcal_open each time,
     * which is cheap (no calendar is built) and keeps the cache for zones
     * that are in use. */
    cd_tzcal *c = cd_tzcal_open(tz, err);
    if (!c)
        return NULL;
    unsigned v = tc->next_victim++ % TZ_CACHE_SLOTS;
    cd_tzcal_close(tc->slot[v]);
    tc->slot[v] = c;
    return c;
}

/* ---- conversions --------------------------------------------------------- */

static int instant_ok(int64_t t) { return t >= CD_TZ_MIN_INSTANT && t <= CD_TZ_MAX_INSTANT; }

/* The calendar's current UTC offset in milliseconds, from the fields ICU
 * computes for its current time. */
static int32_t current_offset_ms(UCalendar *cal, UErrorCode *st)
{
    int32_t z = ucal_get(cal, UCAL_ZONE_OFFSET, st);
    int32_t d = ucal_get(cal, UCAL_DST_OFFSET, st);
    return z + d;
}

int cd_tzcal_offset(cd_tzcal *c, int64_t t, int *offset_s)
{
    if (!c || !instant_ok(t))
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(c->cal, (UDate)t * 1000.0, &st);
    int32_t off = current_offset_ms(c->cal, &st);
    if (U_FAILURE(st))
        return -1;
    *offset_s = off / 1000;
    return 0;
}

int cd_tzcal_fields(cd_tzcal *c, int64_t t, int *year, int *month, int *day, int *hour,
                    int *minute, int *offset_s)
{
    if (!c || !instant_ok(t))
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(c->cal, (UDate)t * 1000.0, &st);
    /* EXTENDED_YEAR rather than YEAR: the same number for AD years, and no
     * era to combine for the (refused anyway) BC ones. */
    int y = ucal_get(c->cal, UCAL_EXTENDED_YEAR, &st);
    int mo = ucal_get(c->cal, UCAL_MONTH, &st) + 1;
    int d = ucal_get(c->cal, UCAL_DATE, &st);
    int h = ucal_get(c->cal, UCAL_HOUR_OF_DAY, &st);
    int mi = ucal_get(c->cal, UCAL_MINUTE, &st);
    int32_t off = current_offset_ms(c->cal, &st);
    if (U_FAILURE(st))
        return -1;
    if (year)
        *year = y;
    if (month)
        *month = mo;
    if (day)
        *day = d;
    if (hour)
        *hour = h;
    if (minute)
        *minute = mi;
    if (offset_s)
        *offset_s = off / 1000;
    return 0;
}

/* The instant ICU gives for a wall time with the repeated-time option
 * `repeated`, in ms. */
static UDate wall_to_ms(UCalendar *cal, int y, int mo, int d, int h, int mi,
                        UCalendarWallTimeOption repeated, UErrorCode *st)
{
    ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, repeated);
    ucal_clear(cal);
    ucal_setDateTime(cal, y, mo - 1, d, h, mi, 0, st);
    return ucal_getMillis(cal, st);
}

int cd_tzcal_resolve(cd_tzcal *c, int y, int mo, int d, int h, int mi, int64_t *first,
                     int64_t *last)
{
    if (!c)
        return -1;
    UErrorCode st = U_ZERO_ERROR;
    UDate f = wall_to_ms(c->cal, y, mo, d, h, mi, UCAL_WALLTIME_FIRST, &st);
    /* Reading the offset back recomputes the fields from the instant: if
     * instant + offset is not the wall time asked for, ICU moved it forward
     * to the end of a gap (UCAL_WALLTIME_NEXT_VALID). */
    int32_t off = current_offset_ms(c->cal, &st);
    if (U_FAILURE(st))
        return -1;
    double wall_ms = ((double)cd_days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0) * 1000.0;
    int64_t fs = (int64_t)(f / 1000.0);
    *first = *last = fs;
    if (f + off != wall_ms)
        return CD_WALL_SKIPPED;
    UDate l = wall_to_ms(c->cal, y, mo, d, h, mi, UCAL_WALLTIME_LAST, &st);
    if (U_FAILURE(st))
        return -1;
    if (l == f)
        return CD_WALL_NORMAL;
    *last = (int64_t)(l / 1000.0);
    return CD_WALL_REPEATED;
}

/* ---- cron.h's public zone functions --------------------------------------- */

int cd_tz_local_fields(const char *tz, int64_t t, int *year, int *month, int *day, int *hour,
                       int *minute, int *utc_offset_seconds)
{
    cd_tzcal *c = cd_tzcal_get(tz, NULL);
    if (!c)
        return -1;
    return cd_tzcal_fields(c, t, year, month, day, hour, minute, utc_offset_seconds);
}

/* Bound on days_back: far more than any sync_days_back, small enough that
 * the day arithmetic below cannot overflow. */
#define DAYS_BACK_MAX 1000000

int cd_tz_local_date(const char *tz, int64_t t, int days_back, char out[11], char **err)
{
    if (days_back < -DAYS_BACK_MAX || days_back > DAYS_BACK_MAX) {
        if (err)
            *err = cd_sprintf("days back %d is out of range -%d..%d", days_back, DAYS_BACK_MAX,
                              DAYS_BACK_MAX);
        return -1;
    }
    if (!instant_ok(t)) {
        if (err)
            *err = cd_sprintf("instant %lld is outside years 1..9999", (long long)t);
        return -1;
    }
    cd_tzcal *c = cd_tzcal_get(tz, err);
    if (!c)
        return -1;
    int y, mo, d;
    if (cd_tzcal_fields(c, t, &y, &mo, &d, NULL, NULL, NULL) != 0) {
        if (err)
            *err = cd_sprintf("time zone '%s': ICU cannot compute the local date", tz);
        return -1;
    }
    /* Days are subtracted on the local calendar date, not on the instant:
     * "yesterday" at 00:30 IST is the previous IST date, whatever the UTC
     * date is, and a DST day of 23 or 25 hours is still one day. */
    cd_civil_from_days(cd_days_from_civil(y, mo, d) - days_back, &y, &mo, &d);
    if (y < 1 || y > 9999) {
        if (err)
            *err = cd_sprintf("date %d days before the local date is outside years 1..9999",
                              days_back);
        return -1;
    }
    /* snprintf into out[11] would need a bigger buffer to please
     * -Wformat-truncation; the digits are written directly instead. */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + mo / 10);
    out[6] = (char)('0' + mo % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return 0;
}
