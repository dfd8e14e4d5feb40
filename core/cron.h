/*
 * cron.h — five-field cron expressions evaluated in a connector's IANA time
 * zone, with Vixie cron's rule for daylight-saving changes:
 *   - a job whose minute and hour fields are both fixed (neither starts with
 *     '*') and whose local time falls in a skipped hour runs once, right
 *     after the change (at the instant the clocks jump: "30 2 * * *" on New
 *     York's spring-forward day runs at 03:00 EDT; several fixed times in
 *     the same gap give that one slot); in a repeated hour it runs once
 *     (the first time, e.g. 01:30 EDT and not 01:30 EST);
 *   - a job with '*' in its minute or hour field ("*\/15" counts, "0-59"
 *     does not) follows the wall clock: skipped minutes do not exist,
 *     repeated ones happen twice.
 * Zones are read from the system's TZif files (the same ones PostgreSQL
 * reads), so evaluation never touches TZ and is thread-safe: every
 * function here may be called from any thread at once (a zone is parsed
 * once per process and then shared, read-only).
 */
#ifndef CD_CRON_H
#define CD_CRON_H

#include <stdint.h>

enum {
    CD_CRON_MIN_STAR = 1,   /* minute field starts with '*' */
    CD_CRON_HOUR_STAR = 2,  /* hour field starts with '*' */
    CD_CRON_DOM_STAR = 4,   /* day-of-month field starts with '*' */
    CD_CRON_DOW_STAR = 8    /* day-of-week field starts with '*' */
};

typedef struct cd_cron {
    uint64_t minutes;  /* bit n: minute n, 0..59 */
    uint32_t hours;    /* bit n: hour n, 0..23 */
    uint32_t mdays;    /* bit n: day n, 1..31 */
    uint16_t months;   /* bit n: month n, 1..12 */
    uint8_t wdays;     /* bit n: weekday n, 0..6, Sunday = 0 (7 is read as 0) */
    unsigned flags;    /* CD_CRON_* */
} cd_cron;

/* Parses "m h dom mon dow" with numbers, ranges (a-b), steps (*\/n, a-b/n,
 * a/n, where a/n means a-max/n), lists (a,b), month and weekday names
 * (JAN..DEC, SUN..SAT, any case, also in ranges), or one of @yearly
 * @annually @monthly @weekly @daily @midnight @hourly (any case, alone).
 * Day of week is 0-7 with both 0 and 7 Sunday ("5-7" is Fri, Sat, Sun).
 * Day of month and day of week: when both are restricted, either matching
 * is enough; when either starts with '*', both must match (as in Vixie
 * cron). Returns 0 with *out set, or -1 with *out untouched and *err
 * (malloc'd; err may be NULL) naming the field and the problem:
 * "hour field: 24 is out of range 0-23", "expected 5 fields (...), got 6". */
int cd_cron_parse(const char *expr, cd_cron *out, char **err);

/* The first slot strictly after `after` (seconds since the epoch, UTC;
 * need not be a whole minute), in zone tz, as seconds since the epoch.
 * Calling it again with the slot returned walks the schedule. Returns 0,
 * or -1 with *err (malloc'd; err may be NULL): an unknown zone; no slot
 * within 8 years, e.g. "0 0 30 2 *" (refused in microseconds, not by a
 * long search); `after` outside years 1..9999. Costs a few microseconds
 * per call once the process has read the zone. */
int cd_cron_next(const cd_cron *cron, const char *tz, int64_t after, int64_t *next, char **err);

/* As cd_cron_next, and when wall_days is not NULL, the local calendar day
 * (days since 1970-01-01) of the wall-clock time the slot is for: the date
 * of *next in tz, except for a fixed-time slot in a skipped hour whose jump
 * ends on the next day. America/Nuuk goes from 23:00 to 00:00: "30 23 * * *"
 * on that day runs at 00:00 of the next day, and is still that day's slot
 * (its business date is counted from that day, or one date would be run
 * twice and the one before it never). */
int cd_cron_next_slot(const cd_cron *cron, const char *tz, int64_t after, int64_t *next,
                      long *wall_days, char **err);

/* 1 if tz names a zone of the system's tz database (an IANA name like
 * "Asia/Kolkata", or a link such as "Asia/Calcutta"; case-sensitive):
 * a relative path of [A-Za-z0-9_+-.] components (no "." or "..", at most
 * 64 characters) to a valid TZif file under $TZDIR, default
 * /usr/share/zoneinfo. "localtime", "posixrules" and the leap-second
 * right/ zones are refused, as are custom offsets like "GMT+05:30" and
 * names that are no file there ("IST", "AET"). Else 0. */
int cd_tz_valid(const char *tz);

/* The local calendar date of instant t in zone tz, minus days_back days
 * counted on the local calendar (at 2026-03-01 00:30 IST = 2026-02-28
 * 19:00 UTC, 1 day back is 2026-02-28, where the UTC date would give
 * 2026-02-27; a negative days_back counts forward), as "YYYY-MM-DD" into
 * out[11]. A DST day of 23 or 25 hours is still one day. Returns 0, or
 * -1 with out untouched and *err (malloc'd; err may be NULL). */
int cd_tz_local_date(const char *tz, int64_t t, int days_back, char out[11], char **err);

/* The calendar date days_back days before the day `days` (days since
 * 1970-01-01; a negative days_back counts forward) as "YYYY-MM-DD" into
 * out[11], as cd_tz_local_date counts. Returns 0, or -1 with out untouched
 * and *err (malloc'd; err may be NULL) when days_back or the date is out
 * of range. */
int cd_tz_date_back(long days, int days_back, char out[11], char **err);

/* Local wall-clock fields of instant t in tz (for tests and the page);
 * month 1-12, offset = standard + daylight. Any output pointer may be
 * NULL. Returns 0, or -1 (unknown zone, t outside years 1..9999). */
int cd_tz_local_fields(const char *tz, int64_t t, int *year, int *month, int *day, int *hour,
                       int *minute, int *utc_offset_seconds);

#endif
