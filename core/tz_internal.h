/*
 * tz_internal.h — the zone handle that cron.c evaluates slots with. Not
 * part of cron.h: cron.c needs wall-time resolution, which nothing else
 * does; tz.c (on top of tzif.c) is the one file that reads zone files.
 */
#ifndef CD_TZ_INTERNAL_H
#define CD_TZ_INTERNAL_H

#include <stdint.h>

/* Instants handled here: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
 * Outside that range the "YYYY" text does not work, so callers refuse
 * such instants early. */
#define CD_TZ_MIN_INSTANT INT64_C(-62135596800)
#define CD_TZ_MAX_INSTANT INT64_C(253402300799)

/* One zone, read from its TZif file under $TZDIR (default
 * /usr/share/zoneinfo). Immutable once opened: any number of threads may
 * use one at once. Dates are proleptic Gregorian, as cd_days_from_civil. */
typedef struct cd_tzcal cd_tzcal;

/* A zone of its own for tz (an IANA name, see cd_tz_valid), read from the
 * file now. NULL with *err (malloc'd; err may be NULL) saying why: an
 * unknown zone, or a file that cannot be read or is malformed. */
cd_tzcal *cd_tzcal_open(const char *tz, char **err);
void cd_tzcal_close(cd_tzcal *c);

/* The zone tz from the process-wide cache: the file is read and parsed on
 * first use only, since the scheduler evaluates thousands of connectors in
 * a handful of zones. The zone stays valid until the process exits; never
 * close it. NULL with *err, as cd_tzcal_open. */
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
 * there, or -1 for arguments out of range or a pathological zone. */
int cd_tzcal_resolve(cd_tzcal *c, int y, int mo, int d, int h, int mi, int64_t *first,
                     int64_t *last);

#endif
