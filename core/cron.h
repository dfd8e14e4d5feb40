/*
 * cron.h — five-field cron expressions evaluated in a connector's IANA time
 * zone, with Vixie cron's rule for daylight-saving changes:
 *   - a job whose minute and hour fields are both fixed (neither starts with
 *     '*') and whose local time falls in a skipped hour runs once, right
 *     after the change; in a repeated hour it runs once (the first time);
 *   - a job with '*' in its minute or hour field follows the wall clock:
 *     skipped minutes do not exist, repeated ones happen twice.
 * Zones come from ICU (libicu), so evaluation never touches TZ and is
 * thread-safe.
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
 * a/n), lists (a,b), month and weekday names (JAN..DEC, SUN..SAT, any case),
 * or one of @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * Day of month and day of week: when both are restricted, either matching
 * is enough (as in Vixie cron). Returns 0, or -1 with *err (malloc'd)
 * naming the field and the problem: "hour field: 24 is out of range 0-23". */
int cd_cron_parse(const char *expr, cd_cron *out, char **err);

/* The first slot strictly after `after` (seconds since the epoch, UTC),
 * in zone tz, as seconds since the epoch. Returns 0, or -1 with *err (an
 * unknown zone; no slot within 8 years, e.g. "0 0 30 2 *"). */
int cd_cron_next(const cd_cron *cron, const char *tz, int64_t after, int64_t *next, char **err);

/* 1 if tz is a zone ICU knows (an IANA name like "Asia/Kolkata"), else 0. */
int cd_tz_valid(const char *tz);

/* The local calendar date of instant t in zone tz, minus days_back days,
 * as "YYYY-MM-DD" into out[11]. Returns 0, or -1 with *err. */
int cd_tz_local_date(const char *tz, int64_t t, int days_back, char out[11], char **err);

/* Local wall-clock fields of instant t in tz (for tests and the page). */
int cd_tz_local_fields(const char *tz, int64_t t, int *year, int *month, int *day, int *hour,
                       int *minute, int *utc_offset_seconds);

#endif
