/*
 * tz_internal.h — the ICU calendar wrapper that cron.c evaluates slots
 * with. Not part of cron.h: it exists so that cron.c never includes ICU
 * headers and tz.c stays the one file that knows about UCalendar.
 */
#ifndef CD_TZ_INTERNAL_H
#define CD_TZ_INTERNAL_H

#include <stdint.h>

/* Instants handled here: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
 * Outside that range ICU's doubles still work, but the civil arithmetic
 * and the "YYYY" text do not, so callers refuse such instants early. */
#define CD_TZ_MIN_INSTANT INT64_C(-62135596800)
#define CD_TZ_MAX_INSTANT INT64_C(253402300799)

/* One calendar for one zone. Not thread-safe by itself: each thread opens
 * its own (or takes one from cd_tzcal_get, which hands out per-thread
 * calendars). */
typedef struct cd_tzcal cd_tzcal;

/* A calendar for zone tz (an IANA id ICU knows, see cd_tz_valid), proleptic
 * Gregorian so that it agrees with cd_days_from_civil for every year.
 * NULL with *err (malloc'd) when the zone is unknown or ICU fails. */
cd_tzcal *cd_tzcal_open(const char *tz, char **err);
void cd_tzcal_close(cd_tzcal *c);

/* A calendar for tz owned by the calling thread's small cache: opening a
 * UCalendar costs more than a whole slot evaluation, and the scheduler
 * evaluates thousands of connectors in a handful of zones. The calendar
 * stays valid until this thread's next cd_tzcal_get; never close it.
 * The cache is freed by a thread-exit destructor. NULL with *err. */
cd_tzcal *cd_tzcal_get(const char *tz, char **err);

/* UTC offset (standard + daylight) in seconds at instant t. 0 or -1. */
int cd_tzcal_offset(cd_tzcal *c, int64_t t, int *offset_s);

/* Local calendar fields at instant t. 0 or -1. */
int cd_tzcal_fields(cd_tzcal *c, int64_t t, int *year, int *month, int *day, int *hour,
                    int *minute, int *offset_s);

enum {
    CD_WALL_NORMAL = 0,   /* the wall time happens once: first == last */
    CD_WALL_SKIPPED = 1,  /* in a gap: first == last == the transition instant */
    CD_WALL_REPEATED = 2  /* in an overlap: first < last */
};

/* Resolves the local wall time y-mo-d h:mi:00 (a real calendar date) to
 * instants. Returns CD_WALL_* with *first and *last set as described
 * there, or -1 when ICU fails. */
int cd_tzcal_resolve(cd_tzcal *c, int y, int mo, int d, int h, int mi, int64_t *first,
                     int64_t *last);

#endif
